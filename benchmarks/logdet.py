"""Benchmark: ``rnla.logdet`` and ``rnla.trace_inv`` against imate's SLQ and exact Cholesky.

Problems (seeded; ``--quick`` sizes in brackets):

- P  2-D Poisson (5-point stencil, unscaled, eigenvalues in (0, 8)) on a 256² [128²] grid, CSR,
     + μI with μ = 1e-2. Exact values from the closed-form eigenvalues.
- K  dense RBF kernel ``exp(−‖x − y‖² / 2)`` of n = 5000 [2000] points ~ N(0, I₃), + μI with
     μ = 1e-2 (a GP's noise variance). Exact values from the Cholesky factorisation.
- G  R1's Gram matrix ``XᵀX/n`` (X 20000 × 2000 [4000 × 800], eigenvalues exactly 1/i²) + μI with
     μ = 1e-4. Ours on the :class:`rnla.GramOperator` (products with X) and on the formed matrix;
     imate and Cholesky on the formed matrix (forming it is timed separately).

Every method runs three times, alternated (seeds 0, 1, 2 for the randomized ones); the table gives
the median time, the median (max) relative error against the exact value, and products with A.
``rnla`` runs with its defaults (``method='auto'``, ``rtol=1e-2``); imate with its defaults
(``method='slq'``: 10-50 Rademacher probes, 20 Lanczos steps, ``error_rtol=1e-2`` at 95 % confidence).
imate is optional: without it its rows are skipped with a note.

Usage: ``OPENBLAS_NUM_THREADS=2 python benchmarks/logdet.py [--quick] [--write-docs]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import machine, markdown_table, write_section
from problems import make_r1

import rnla

try:
    import imate
except ImportError:  # optional peer
    imate = None

KINDS = {"logdet": rnla.logdet, "trace_inv": rnla.trace_inv}
SEEDS = (0, 1, 2)


def poisson(k, mu):
    T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(k, k))
    A = (sp.kron(T, sp.eye(k)) + sp.kron(sp.eye(k), T)).tocsr()
    lam1 = 2.0 - 2.0 * np.cos(np.arange(1, k + 1) * np.pi / (k + 1))
    lam = (lam1[:, None] + lam1[None, :]).ravel() + mu
    exact = {"logdet": float(np.sum(np.log(lam))), "trace_inv": float(np.sum(1.0 / lam))}
    shifted = (A + mu * sp.eye(k * k)).tocsr()
    return {"name": f"P: 2-D Poisson {k}² (n = {k * k}, sparse) + {mu:g} I", "ours": {"": (A, mu)},
            "peer": shifted, "exact": exact, "exact_note": "closed-form eigenvalues"}


def rbf(n, mu):
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((n, 3))
    sq = np.sum(Z * Z, axis=1)
    K = np.exp(-0.5 * np.maximum(sq[:, None] + sq[None, :] - 2.0 * Z @ Z.T, 0.0))
    K = (K + K.T) / 2
    shifted = K + mu * np.eye(n)
    exact = {kind: KINDS[kind](K, mu=mu, method="exact") for kind in KINDS}
    return {"name": f"K: dense RBF kernel, n = {n}, + {mu:g} I", "ours": {"": (K, mu)}, "peer": shifted,
            "exact": exact, "exact_note": "Cholesky"}


def gram(n, d, mu):
    X, _, _ = make_r1(n, d)
    lam = 1.0 / np.arange(1, d + 1) ** 2 + mu
    exact = {"logdet": float(np.sum(np.log(lam))), "trace_inv": float(np.sum(1.0 / lam))}
    t0 = time.perf_counter()
    G = X.T @ X / n
    G = (G + G.T) / 2
    form = time.perf_counter() - t0
    return {"name": f"G: R1 Gram XᵀX/n (X {n} × {d}) + {mu:g} I", "peer": G + mu * np.eye(d),
            "ours": {" (GramOperator)": (rnla.GramOperator(X), mu), " (formed G)": (G, mu)},
            "exact": exact, "exact_note": "eigenvalues 1/i² (by construction)", "form_time": form}


def run_ours(kind, A, mu, seed, **kw):
    t0 = time.perf_counter()
    est, res = KINDS[kind](A, mu=mu, random_state=seed, full_output=True, **kw)
    return time.perf_counter() - t0, est, res


def run_imate(kind, M, seed):
    fn = imate.logdet if kind == "logdet" else imate.traceinv
    t0 = time.perf_counter()
    est, info = fn(M, method="slq", return_info=True, seed=seed, verbose=False)
    elapsed = time.perf_counter() - t0
    conv = info["convergence"]
    return elapsed, float(est), int(conv["num_samples_used"]) * int(info["solver"]["lanczos_degree"])


def bench(problem, repeats):
    rows, summary = [], []
    exact = problem["exact"]
    for kind in KINDS:
        methods = {}
        for label, (A, mu) in problem["ours"].items():
            methods[f"**rnla.{kind}**{label}"] = ("ours", A, mu, {})
            if KINDS[kind](A, mu=mu, random_state=0, full_output=True)[1].method == "exact":
                methods[f"rnla.{kind}{label}, method='slq'"] = ("ours", A, mu, {"method": "slq"})
        if imate is not None:
            methods[f"imate.{'logdet' if kind == 'logdet' else 'traceinv'}(method='slq')"] = ("imate",)
        A0, mu0 = next(iter(problem["ours"].values()))
        exact_ok = not (sp.issparse(A0) and kind == "trace_inv")  # n sparse solves: too slow here
        if exact_ok:
            source = " from X" if isinstance(A0, rnla.GramOperator) else ""
            methods[f"exact Cholesky{source} (rnla.{kind}(method='exact'))"] = ("ours", A0, mu0,
                                                                             {"method": "exact"})
        results = {m: [] for m in methods}
        for r in range(repeats):
            for m, spec in methods.items():  # alternated: one run of each per round
                if spec[0] == "imate":
                    t, est, products = run_imate(kind, problem["peer"], SEEDS[r])
                    results[m].append((t, est, products, ""))
                else:
                    _, A, mu, kw = spec
                    t, est, res = run_ours(kind, A, mu, SEEDS[r], **kw)
                    detail = (f"{res.num_probes} × {res.num_steps}" if res.method == "slq" else "exact")
                    results[m].append((t, est, res.num_matvecs, detail))
        ref = exact[kind]
        times = {}
        for m, runs in results.items():
            t = statistics.median(x[0] for x in runs)
            times[m] = t
            errs = [abs(x[1] - ref) / abs(ref) for x in runs]
            products = statistics.median(x[2] for x in runs)
            rows.append([kind, m, f"{t:.3f}", f"{statistics.median(errs):.1e} ({max(errs):.1e})",
                         f"{products:.0f}", runs[-1][3] or "20 steps"])
        ours = next(m for m in methods if m.startswith("**"))
        imate_key = next((m for m in methods if m.startswith("imate")), None)
        exact_key = next((m for m in methods if m.startswith("exact")), None)
        line = f"{kind}: rnla default {times[ours]:.3f} s"
        if imate_key:
            line += f"; time of imate's SLQ / ours = {times[imate_key] / times[ours]:.2f}"
        if exact_key:
            line += f"; time of exact Cholesky / ours = {times[exact_key] / times[ours]:.2f}"
        summary.append(line)
    return rows, summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (< 2 min)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write-docs", action="store_true",
                        help="write the 'logdet' section of docs/benchmarks.md")
    args = parser.parse_args(argv)
    if args.quick:
        builders = [lambda: poisson(128, 1e-2), lambda: rbf(2000, 1e-2), lambda: gram(4000, 800, 1e-4)]
    else:
        builders = [lambda: poisson(256, 1e-2), lambda: rbf(5000, 1e-2), lambda: gram(20000, 2000, 1e-4)]
    out = ["## Log-determinants and traces of inverses (`benchmarks/logdet.py`)", "",
           f"Machine: {machine()}." + ("" if imate is None else f" imate {imate.__version__}."), "",
           __doc__.split("\n\n")[1].strip(), ""]
    if imate is None:
        print("imate is not installed: its rows are skipped")
        out += ["*imate is not installed here: its rows are missing.*", ""]
    header = ["quantity", "method", "time [s]", "rel. error, median (max)", "products", "probes × steps"]
    for build in builders:
        problem = build()
        print(problem["name"], flush=True)
        rows, summary = bench(problem, args.repeats)
        table = markdown_table(header, rows)
        print(table, "\n" + "\n".join(summary), flush=True)
        out += [f"### {problem['name']}", "", f"Exact value: {problem['exact_note']}."
                + (f" Forming G took {problem['form_time']:.2f} s (not in the times below)."
                   if "form_time" in problem else "")
                + (" Exact trace_inv of the sparse matrix (n solves) not run." if sp.issparse(problem["peer"])
                   else ""), "", table, ""] + [f"- {s}" for s in summary] + [""]
    if args.write_docs:
        write_section("logdet", "\n".join(out))


if __name__ == "__main__":
    main()
