"""Benchmark of the Nyström test matrices (``sketch=``) and of the cost-aware ``rank='auto'``.

Part 1: time and error of ``rnla.nystrom`` per sketch kind on (a) a dense 4000×4000 PSD
matrix with eigenvalues ``1/i²``, (b) the Gram operator of a sparse tall X, (c) R1's Gram
operator. Part 2: ``nystrom_pcg(rank='auto')`` vs plain ``rnla.pcg`` vs SciPy's ``cg`` to the
same rtol on flat spectra (2-D Poisson, a random sparse SPD matrix, an identity-like one) and
on R1. Part 3: BLAS threads 1 vs 2 vs default for the sketch's dense kernels (threadpoolctl).

Times are medians of 3 alternated runs in one process. Usage:
``python benchmarks/sketches.py [--quick] [--write-docs]`` (``--quick`` < 2 min, full < 8 min).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import machine, markdown_table, write_section
from problems import make_r1

import rnla

KINDS = ("gaussian", "sparse_sign", "srtt")
RTOL = 1e-5


def median_times(fns, repeats=3):
    """Alternate the callables ``repeats`` times; median seconds and last output of each."""
    times = [[] for _ in fns]
    outs = [None] * len(fns)
    for _ in range(repeats):
        for i, f in enumerate(fns):
            t0 = time.perf_counter()
            outs[i] = f()
            times[i].append(time.perf_counter() - t0)
    return [float(np.median(t)) for t in times], outs


def poisson2d(m):
    T = sp.diags([-np.ones(m - 1), 2 * np.ones(m), -np.ones(m - 1)], [-1, 0, 1])
    return (sp.kron(T, sp.eye(m)) + sp.kron(sp.eye(m), T)).tocsr()


def random_sparse_spd(n, seed=0):
    """Symmetric sparse matrix, about 10 nonzeros per row, made SPD by diagonal dominance (flat)."""
    R = sp.random(n, n, density=5.0 / n, random_state=np.random.default_rng(seed), format="csr")
    S = R + R.T
    return (S + sp.diags(np.abs(S).sum(axis=1).A1 + 1.0)).tocsr()


def identity_like(n, seed=0):
    return sp.diags(1.0 + np.random.default_rng(seed).uniform(0.0, 1e-2, n)).tocsr()


# ------------------------------------------------------------------------- part 1


def sketch_rows(name, A, rank, exact_top, repeats):
    """One row per sketch kind: time, relative error of the top eigenvalues, spectral error."""
    fns = [lambda k=k: rnla.nystrom(A, rank, random_state=0, sketch=k) for k in KINDS]
    times, outs = median_times(fns, repeats)
    rows = []
    base = times[0]
    for kind, t, approx in zip(KINDS, times, outs, strict=True):
        top = np.asarray(approx.eigvals[: exact_top.shape[0]])
        err = float(np.max(np.abs(top - exact_top) / exact_top))
        rows.append([name, kind, f"{t:.3f}", f"{t / base:.2f}", f"{err:.1e}"])
    return rows


def part1(quick, repeats):
    rows = []
    n = 1000 if quick else 4000
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    lam = 1.0 / np.arange(1, n + 1) ** 2
    A = (Q * lam) @ Q.T
    A = (A + A.T) / 2
    rows += sketch_rows(f"dense {n}² PSD, λ_i = 1/i²", A, 100, lam[:10], repeats)
    m, d = (40000, 4000) if quick else (200000, 20000)
    # a Generator: with an int seed SciPy samples the indices through a permutation of all m·d
    X = sp.random(m, d, density=5e-4, random_state=np.random.default_rng(1), format="csr")
    G = rnla.GramOperator(X)
    ref = rnla.nystrom(G, 100, oversample=100, random_state=9).eigvals[:10]
    rows += sketch_rows(f"Gram of sparse X {m}×{d} (density 5e-4)", G, 100, np.asarray(ref), repeats)
    if not quick:
        X1, _, _ = make_r1()
        G1 = rnla.GramOperator(X1)
        s = np.linalg.svd(X1, compute_uv=False) ** 2 / X1.shape[0]
        rows += sketch_rows("R1 Gram (20000×2000, dense)", G1, 256, s[:10], repeats)
    header = ["operator", "sketch", "time [s]", "time / gaussian", "max rel. error λ̂_1..10"]
    return markdown_table(header, rows)


# ------------------------------------------------------------------------- part 2


def solve_rows(name, A, b, mu, repeats, rtol=RTOL):
    n = b.shape[0]
    op = A if mu == 0 else (A + mu * sp.eye(n, format="csr") if sp.issparse(A) else None)

    def ours():
        return rnla.nystrom_pcg(A, b, mu, rtol=rtol, random_state=0, full_output=True)

    def plain():
        return rnla.pcg(op if op is not None else A, b, rtol=rtol, full_output=True)

    def scipy_cg():
        count = [0]
        M = op if op is not None else A
        def callback(xk):
            count[0] += 1

        x, info = spla.cg(M, b, rtol=rtol, maxiter=10 * n, callback=callback)
        return x, info, count[0]

    (t_ours, t_plain, t_scipy), (o, p, s) = median_times([ours, plain, scipy_cg], repeats)
    res = o[2]
    return [name, f"{mu:g}", f"{t_ours * 1e3:.1f}", f"{t_plain * 1e3:.1f}", f"{t_scipy * 1e3:.1f}",
            f"{t_ours / t_plain:.2f}", str(res.rank), f"{res.probe_iterations} / {res.sketch_matvecs}",
            str(res.matvecs), str(p[2].matvecs), str(s[2]), "yes" if o[1] == 0 else f"info {o[1]}"]


def part2(quick, repeats):
    rows = []
    sizes = (32, 64) if quick else (32, 64, 128, 256)
    for m in sizes:
        A = poisson2d(m)
        b = np.random.default_rng(m).standard_normal(m * m)
        for mu in (0.0, 1e-8):
            rows.append(solve_rows(f"Poisson {m}²", A, b, mu, repeats))
    n = 5000 if quick else 20000
    A = random_sparse_spd(n)
    b = np.random.default_rng(1).standard_normal(n)
    for mu in (0.0, 1e-8):
        rows.append(solve_rows(f"random sparse SPD n={n}", A, b, mu, repeats))
    A = identity_like(n)
    rows.append(solve_rows(f"identity-like n={n}", A, b, 0.0, repeats))
    if not quick:
        X, y, mu = make_r1()
        H = rnla.GramOperator(X)
        rhs = X.T @ y / X.shape[0]
        Hmu = rnla.GramOperator(X, mu=mu)

        def ours():
            return rnla.nystrom_pcg(H, rhs, mu, rtol=1e-8, random_state=0, full_output=True)

        def plain():
            return rnla.pcg(Hmu, rhs, rtol=1e-8, full_output=True)

        (t_o, t_p), (o, p) = median_times([ours, plain], 1)
        rows.append(["R1 (rtol 1e-8)", f"{mu:g}", f"{t_o * 1e3:.0f}", f"{t_p * 1e3:.0f}", "-",
                     f"{t_o / t_p:.2f}", str(o[2].rank), f"{o[2].probe_iterations} / {o[2].sketch_matvecs}",
                     str(o[2].matvecs), str(p[2].matvecs), "-",
                     f"{o[2].iterations} iterations"])
    header = ["problem", "mu", "nystrom_pcg [ms]", "pcg [ms]", "scipy cg [ms]", "ours / pcg", "rank",
              "probe iterations / sketch products", "matvecs (ours)", "matvecs (pcg)", "scipy iterations",
              "converged"]
    return markdown_table(header, rows)


# ------------------------------------------------------------------------- part 3


def part3(quick):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return "threadpoolctl is not installed: thread measurements skipped."
    from rnla._backend import array_namespace
    from rnla._dense_kernels import tall_svd

    rng = np.random.default_rng(0)
    rows = []
    shapes = [(16384, 32), (4000, 256)]
    for n, ell in shapes:
        B = rng.standard_normal((n, ell))
        xp = array_namespace(B)
        for threads in (1, 2, None):
            def kernels(B=B, xp=xp):
                out = []
                for f in (lambda: np.linalg.qr(B), lambda: np.linalg.svd(B, full_matrices=False),
                          lambda: tall_svd(xp, B)):
                    ts = []
                    for _ in range(3):
                        t0 = time.perf_counter()
                        f()
                        ts.append(time.perf_counter() - t0)
                    out.append(float(np.median(ts)))
                return out

            if threads is None:
                t = kernels()
            else:
                with threadpool_limits(threads):
                    t = kernels()
            rows.append([f"{n}×{ell}", "default" if threads is None else str(threads),
                         *(f"{x * 1e3:.1f}" for x in t)])
    return markdown_table(["block", "BLAS threads", "Householder QR [ms]", "LAPACK SVD [ms]",
                           "CholeskyQR2 + small SVD [ms]"], rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller problems (< 2 min)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write-docs", action="store_true",
                        help="write the 'sketches' section of docs/benchmarks.md")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    parts = []
    t1 = part1(args.quick, args.repeats)
    print(t1, flush=True)
    t2 = part2(args.quick, args.repeats)
    print(t2, flush=True)
    t3 = part3(args.quick)
    print(t3, flush=True)
    parts.append("## Sketch kinds and cost-aware rank='auto'\n")
    command = "python benchmarks/sketches.py" + (" --quick" if args.quick else "")
    parts.append(f"Machine: {machine()}. Command: `{command}`; medians of {args.repeats} alternated runs "
                 "in one process.\n")
    parts.append("### Nyström approximation per test matrix (`rnla.nystrom(A, rank, sketch=...)`)\n")
    parts.append(t1 + "\n")
    parts.append(f"### `nystrom_pcg(rank='auto')` vs plain `pcg` and SciPy `cg` (rtol {RTOL:g})\n")
    parts.append("`rank='auto'` runs plain CG first and sketches only when CG's own Ritz values predict "
                 "at least three times the sketch's price still to go (`rnla._cg_probe`); 0 / 0 in the probe "
                 "column: solved by plain CG without a sketch. rank 0 after a sketch: the cost rule "
                 "dropped the preconditioner and plain CG went on.\n")
    parts.append(t2 + "\n")
    parts.append("### Dense kernels of the sketch vs BLAS threads (threadpoolctl)\n")
    parts.append(t3 + "\n")
    markdown = "\n".join(parts)
    if args.write_docs:
        write_section("sketches", markdown)
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
