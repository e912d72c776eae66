"""What the issue-13 safety checks cost: rnla against SciPy on the problems they touch.

Run from the repository root: ``python benchmarks/trust.py [--label NAME]``. It prints one
markdown table (medians of 5 runs after one warm-up, ratios to SciPy in the same process). Run it
on two checkouts (before and after a change) to compare; ``docs/benchmarks.md`` holds the figures.

Problems (seeded):

- P1 ``pcg`` vs ``scipy.sparse.linalg.cg``, 2-D Poisson 200 × 200 (n = 40 000, CSR), rtol 1e-8.
- P2 the same, dense SPD n = 2000 with eigenvalues 1..1e4 (log-spaced), rtol 1e-8.
- P3 ``nystrom_pcg(A, b, 0.0)`` with ``rank='auto'`` on P1's matrix (no shift).
- P4 a float32 GramOperator (X 200 000 × 200) applied to a float64 block of 8 columns, against
  NumPy's ``X.T @ (X @ V)`` (which upcasts X).
- P5 ``eigsh(k=6)`` with the default ``which`` vs SciPy's: sparse n = 20 000, eigenvalues about
  1/k (a permuted diagonal) plus a symmetric sparse perturbation of size 1e-3.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import rnla


def median_time(fn, repeats=5, warmup=True):
    if warmup:
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def poisson2d(m):
    T = sp.diags([-np.ones(m - 1), 2 * np.ones(m), -np.ones(m - 1)], [-1, 0, 1])
    eye = sp.eye(m)
    return (sp.kron(T, eye) + sp.kron(eye, T)).tocsr()


def counted_cg(A, b, rtol):
    count = [0]

    def cb(_):
        count[0] += 1

    x, info = spla.cg(A, b, rtol=rtol, atol=0.0, maxiter=10 * A.shape[0], callback=cb)
    return x, info, count[0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--label", default="this checkout")
    label = parser.parse_args().label
    rng = np.random.default_rng(0)
    print(f"| problem ({label}) | rnla (s) | peer (s) | ratio | notes |")
    print("|---|---|---|---|---|", flush=True)

    def row(name, ours, peer, notes):
        print(f"| {name} | {ours:.3f} | {peer:.3f} | {ours / peer:.2f} | {notes} |", flush=True)

    A = poisson2d(200)
    b = rng.standard_normal(A.shape[0])
    t_ours, (x, info, res) = median_time(lambda: rnla.pcg(A, b, rtol=1e-8, full_output=True))
    t_sp, (_, _, its) = median_time(lambda: counted_cg(A, b, 1e-8))
    rel = np.linalg.norm(b - A @ x) / np.linalg.norm(b)
    row("P1 pcg, Poisson 200²", t_ours, t_sp, f"{res.iterations} its, {res.matvecs} products, "
                 f"true rel. residual {rel:.1e} (SciPy {its} its)")

    n = 2000
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    D = (Q * np.logspace(0, 4, n)) @ Q.T
    D = (D + D.T) / 2
    bd = rng.standard_normal(n)
    t_ours, (x, info, res) = median_time(lambda: rnla.pcg(D, bd, rtol=1e-8, full_output=True))
    t_sp, (_, info_s, its) = median_time(lambda: counted_cg(D, bd, 1e-8))
    rel = np.linalg.norm(bd - D @ x) / np.linalg.norm(bd)
    row("P2 pcg, dense SPD 2000, κ=1e4", t_ours, t_sp, f"{res.iterations} its, info {info}, "
                 f"true rel. residual {rel:.1e} (SciPy {its} its, info {info_s})")

    small = poisson2d(64)
    bs = rng.standard_normal(small.shape[0])
    t_ours, (x, info, res) = median_time(
        lambda: rnla.nystrom_pcg(small, bs, 0.0, rtol=1e-8, random_state=0, full_output=True),
        repeats=1, warmup=False)
    t_sp, _ = median_time(lambda: counted_cg(small, bs, 1e-8))
    row("P3 nystrom_pcg mu=0, Poisson 64²", t_ours, t_sp,
                 f"rank {res.rank}, {res.matvecs} products, info {info}")

    X = rng.standard_normal((200_000, 200)).astype(np.float32)
    V = rng.standard_normal((200, 8))
    G = rnla.GramOperator(X)
    t_ours, out = median_time(lambda: G @ V)
    t_np, ref = median_time(lambda: X.T @ (X @ V) / X.shape[0])
    err = np.abs(out - ref).max() / np.abs(ref).max()
    row("P4 float32 Gram × float64 block", t_ours, t_np,
                 f"result {out.dtype}, max rel. diff {err:.1e} (peer: NumPy, upcasts X)")

    m = 20_000
    noise = sp.random(m, m, density=2e-4, random_state=1)
    L = (sp.diags(1.0 / rng.permutation(np.arange(1, m + 1))) + 1e-3 * (noise + noise.T)).tocsr()
    v0 = np.ones(m)
    t_ours, w = median_time(lambda: rnla.eigsh(L, 6, v0=v0, return_eigenvectors=False), repeats=3)
    t_sp, ws = median_time(lambda: spla.eigsh(L, 6, v0=v0, return_eigenvectors=False), repeats=3)
    agree = np.allclose(np.sort(w), np.sort(ws), rtol=1e-8)
    row("P5 eigsh k=6 default which, sparse n=20000", t_ours, t_sp,
                 f"same eigenvalues as SciPy: {agree}")


if __name__ == "__main__":
    main()
