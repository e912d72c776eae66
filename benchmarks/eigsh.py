"""Benchmark "eigsh": extreme eigenpairs of a sparse kNN graph Laplacian, rnla vs ARPACK, PRIMME, LOBPCG.

Problems (k = 10 eigenpairs each):

- the bottom 10 (``which='SA'``) and the top 10 (``which='LA'``) of ``L = D − W``, the Laplacian of
  the symmetrized 10-nearest-neighbour graph of 100000 uniform points in the unit cube (20000 with
  ``--quick``), built once with ``sklearn.neighbors.kneighbors_graph`` and cached in /tmp;
- the top 10 of S1 (benchmarks/spectrum.py's E1 problem, 20000×20000 sparse SPD; 5000 with ``--quick``).

Accuracy: every returned pair must have ``‖Av − λv‖ ≤ tol·‖A‖`` with ``tol = 1e-8`` (and, in the full
run, machine precision, ``tol = 0``). Each solver gets the tolerance that guarantees it: rnla and ARPACK
``tol`` (their test ``‖r‖ ≤ tol·|λ|`` is stricter, since ``|λ| ≤ ‖A‖``), PRIMME ``tol`` (its test is
``‖r‖ ≤ tol·‖A‖``), LOBPCG ``tol·‖A‖`` (an absolute residual). The table reports the residual reached.
All solvers see the same counting ``LinearOperator`` (products = columns multiplied) and start from the
same random vector (LOBPCG: a random block). Times are medians of 3 runs, solvers alternated.

Usage: ``python benchmarks/eigsh.py [--quick] [--repeats 3] [--write-docs]``. PRIMME is optional
(``pip install primme``); a missing peer is skipped with a note.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import machine, markdown_table, write_section
from problems import make_s1

import rnla

K = 10
CACHE = Path(os.environ.get("RNLA_BENCH_CACHE", "/tmp"))
LOBPCG_MAXITER = 1000
#: A solver whose run takes longer than this is not repeated.
NO_REPEAT_AFTER = 60.0


def knn_laplacian(n, neighbours=10, seed=0):
    """``D − W`` of the symmetrized ``neighbours``-NN graph of ``n`` uniform points in [0, 1)³ (cached)."""
    path = CACHE / f"rnla_knn_laplacian_{n}_{neighbours}_{seed}.npz"
    if path.exists():
        return sp.load_npz(path).tocsr()
    from sklearn.neighbors import kneighbors_graph

    X = np.random.default_rng(seed).random((n, 3))
    W = kneighbors_graph(X, neighbours, mode="connectivity", include_self=False)
    W = W.maximum(W.T).tocsr()
    L = (sp.diags(np.asarray(W.sum(axis=1)).ravel()) - W).tocsr()
    sp.save_npz(path, L)
    return L


def counted(A):
    """A LinearOperator applying ``A`` that counts products (each column of a block counts one)."""
    count = {"n": 0}

    def matmat(V):
        count["n"] += 1 if V.ndim == 1 else V.shape[1]
        return A @ V

    return spla.LinearOperator(A.shape, matvec=matmat, matmat=matmat, dtype=A.dtype), count


def solvers(tol, anorm, which):
    """(label, run(op, v0, X0) -> (w, V, status)) for every available solver at tolerance ``tol``."""
    def ours(op, v0, X0):
        return (*rnla.eigsh(op, k=K, which=which, tol=tol, v0=v0), "converged")

    def arpack(op, v0, X0):
        return (*spla.eigsh(op, k=K, which=which, tol=tol, v0=v0), "converged")

    out = [("**rnla.eigsh**", ours), ("scipy eigsh (ARPACK)", arpack)]
    try:
        import primme
    except ImportError:
        print("note: primme is not installed (pip install primme); skipping it", flush=True)
    else:
        def run_primme(op, v0, X0):
            w, V = primme.eigsh(op, k=K, which=which, tol=tol, v0=v0[:, None])
            return w, V, "converged"

        out.append(("primme.eigsh", run_primme))
    if tol > 0:  # LOBPCG cannot reach machine precision
        def run_lobpcg(op, v0, X0):
            w, V, hist = spla.lobpcg(op, X0, tol=tol * anorm, largest=which == "LA", maxiter=LOBPCG_MAXITER,
                                     retResidualNormsHistory=True)
            status = "converged" if len(hist) < LOBPCG_MAXITER else f"stopped at maxiter={LOBPCG_MAXITER}"
            return w, V, status

        out.append(("scipy lobpcg (block 10)", run_lobpcg))
    return out


def run_problem(name, A, which, tol, repeats):
    n = A.shape[0]
    anorm = float(spla.norm(A, 1))  # ‖A‖₁ ≥ ‖A‖₂, what "‖A‖" means in the residuals below
    rng = np.random.default_rng(0)
    v0, X0 = rng.standard_normal(n), rng.standard_normal((n, K))
    methods = solvers(tol, anorm, which)
    times = {label: [] for label, _ in methods}
    result = {}
    for rep in range(repeats):
        for label, fn in methods:
            if rep and times[label][-1] > NO_REPEAT_AFTER:
                continue
            op, count = counted(A)
            t0 = time.perf_counter()
            w, V, status = fn(op, v0, X0)
            times[label].append(time.perf_counter() - t0)
            residual = float(np.max(np.linalg.norm(A @ V - V * w, axis=0)) / anorm)
            result[label] = dict(products=count["n"], residual=residual, status=status,
                                 values=np.sort(np.asarray(w)))
    rows = []
    ours = statistics.median(times["**rnla.eigsh**"])
    for label, _ in methods:
        t = statistics.median(times[label])
        r = result[label]
        ok = r["residual"] <= max(tol, 1e3 * np.finfo(float).eps)
        rows.append(dict(problem=name, which=which, tol=tol, method=label, time=t, runs=len(times[label]),
                         products=r["products"], residual=r["residual"], accurate=ok, status=r["status"],
                         ratio=t / ours))
        print(f"{name} {which} tol={tol:g} {label}: {t:.2f} s, {r['products']} products, "
              f"residual {r['residual']:.1e}·‖A‖, {r['status']}", flush=True)
    return rows


def section(rows, argv, quick, sizes):
    table = []
    for r in rows:
        tol = "0 (machine precision)" if r["tol"] == 0 else f"{r['tol']:g}"
        status = r["status"] if r["accurate"] else f"{r['status']}, residual above tol·‖A‖"
        table.append([r["problem"], r["which"], tol, r["method"], f"{r['time']:.2f}", r["products"],
                      f"{r['residual']:.1e}", f"{r['ratio']:.2f}", status])
    targets = []
    for problem, which, tol in dict.fromkeys((r["problem"], r["which"], r["tol"]) for r in rows):
        by = {r["method"]: r for r in rows if (r["problem"], r["which"], r["tol"]) == (problem, which, tol)}
        if "primme.eigsh" in by:
            ratio = by["**rnla.eigsh**"]["time"] / by["primme.eigsh"]["time"]
            targets.append(f"- {problem} '{which}', tol {tol:g}: rnla.eigsh takes {ratio:.2f}× PRIMME's time "
                           f"(target ≤ 1.2×: {'met' if ratio <= 1.2 else 'missed'}).")
    n_lap, n_s1 = sizes
    return "\n".join([
        "## Eigenpairs of a kNN graph Laplacian (`benchmarks/eigsh.py`)",
        "",
        f"Machine: {machine()}.",
        f"Command: `{' '.join(['python benchmarks/eigsh.py', *argv])}`"
        + (" (quick run: smaller problems)." if quick else "."),
        "",
        f"**kNN Laplacian**: L = D − W of the symmetrized 10-nearest-neighbour graph of {n_lap} uniform "
        "points in [0, 1)³ (`kneighbors_graph`, connectivity weights); 'SA' is the bottom 10 (a clustered "
        f"end, λ₁ = 0), 'LA' the top 10. **S1**: spectrum.py's E1 matrix, n = {n_s1}. Accuracy: every pair "
        "must have ‖Av − λv‖ ≤ tol·‖A‖₁; rnla and ARPACK get `tol` (their test, ‖r‖ ≤ tol·|λ|, is "
        "stricter), PRIMME `tol` (its test is relative to ‖A‖), LOBPCG `tol·‖A‖₁` (absolute). *residual* is "
        "the largest ‖Av − λv‖/‖A‖₁ reached; *ratio* is the time over rnla's. Times are medians of 3 "
        "(solvers alternated; a run over 60 s is not repeated), all from one random start vector (LOBPCG: "
        "a random n×10 block), products counted by one counting LinearOperator.",
        "",
        markdown_table(["problem", "which", "tol", "method", "time [s]", "products", "residual / ‖A‖",
                        "ratio", "status"], table),
        "",
        "Targets:",
        "",
        *targets,
        "",
    ])


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="20000-node Laplacian, S1 at n = 5000, tol 1e-8 only")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--write-docs", action="store_true",
                   help='write the "eigsh" section of docs/benchmarks.md')
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    n_lap, n_s1 = (20000, 5000) if args.quick else (100000, 20000)
    L = knn_laplacian(n_lap)
    S1 = make_s1(n_s1, 2e-3) if args.quick else make_s1()
    tols = (1e-8,) if args.quick else (1e-8, 0.0)
    rows = []
    for tol in tols:
        rows += run_problem("kNN Laplacian", L, "SA", tol, args.repeats)
        rows += run_problem("kNN Laplacian", L, "LA", tol, args.repeats)
        rows += run_problem("S1", S1, "LA", tol, args.repeats)
    text = section(rows, argv, args.quick, (n_lap, n_s1))
    print(text)
    if args.write_docs:
        write_section("eigsh", text)
    print(f"done in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
