"""``python -m rnla`` / ``rnla``: a Nyström PCG ridge solve on built-in data, compared with plain CG.

Until the full command line lands, this is the main job: it builds a least-squares
problem with a decaying spectrum (:func:`rnla.datasets.make_decaying_regression`), solves
the ridge normal equations with :func:`rnla.nystrom_pcg` and with unpreconditioned
:func:`rnla.pcg`, and prints iterations, products with the operator, time and error
against a direct solve.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from .datasets import make_decaying_regression
from .krylov import nystrom_pcg, pcg
from .operators import GramOperator


def _parser():
    p = argparse.ArgumentParser(
        prog="rnla",
        description="Solve a ridge regression (XᵀX/n + mu I) w = Xᵀy/n by Nyström PCG and by plain CG "
                    "on built-in data whose Gram eigenvalues are 1/i².",
    )
    p.add_argument("--n-samples", type=int, default=8000, help="rows of X (default 8000)")
    p.add_argument("--n-features", type=int, default=1500, help="columns of X (default 1500)")
    p.add_argument("--mu", type=float, default=1e-6, help="ridge parameter mu (default 1e-6)")
    p.add_argument("--rtol", type=float, default=1e-8, help="relative residual tolerance (default 1e-8)")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    p.add_argument("--seed", type=int, default=0, help="random seed for data and sketch (default 0)")
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.n_features < 2 or args.n_samples < args.n_features:
        print("rnla: need n_samples >= n_features >= 2", file=sys.stderr)
        return 2
    if args.mu <= 0 or args.rtol <= 0:
        print("rnla: --mu and --rtol must be positive", file=sys.stderr)
        return 2
    X, y, _ = make_decaying_regression(args.n_samples, args.n_features, random_state=args.seed)
    X, y = X.astype(args.dtype), y.astype(args.dtype)
    n, d = X.shape
    H = GramOperator(X)
    b = X.T @ y / n
    w_direct = np.linalg.solve(X.T @ X / n + args.mu * np.eye(d, dtype=X.dtype), b)

    print("rnla: ridge normal equations (XᵀX/n + mu I) w = Xᵀy/n")
    print(f"  X {n} × {d} ({args.dtype}), Gram eigenvalues 1/i², mu = {args.mu:g}, rtol = {args.rtol:g}")
    print(f"  {'solver':<24}{'info':>5}{'iterations':>12}{'matvecs':>9}{'time [s]':>10}{'rel. error':>12}")
    times = {}
    for label, solve in [
        ("Nyström PCG", lambda: nystrom_pcg(H, b, args.mu, rtol=args.rtol, random_state=args.seed,
                                            full_output=True)),
        ("CG, no preconditioner", lambda: pcg(GramOperator(X, mu=args.mu), b, rtol=args.rtol,
                                              full_output=True)),
    ]:
        t0 = time.perf_counter()
        w, info, res = solve()
        times[label] = time.perf_counter() - t0
        err = np.linalg.norm(w - w_direct) / np.linalg.norm(w_direct)
        shown = label if res.rank is None else f"{label} (rank {res.rank})"
        print(f"  {shown:<24}{info:>5}{res.iterations:>12}{res.matvecs:>9}{times[label]:>10.2f}{err:>12.1e}")
    ratio = times["CG, no preconditioner"] / times["Nyström PCG"]
    print(f"  time of plain CG / time of Nyström PCG: {ratio:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
