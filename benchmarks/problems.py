"""The named benchmark problems of docs/benchmarks.md, built exactly as the issues define them."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from rnla.datasets import make_decaying_regression, make_random_features_regression


def make_r1():
    """R1: X (20000×2000) = U diag(1/i) Vᵀ·√n (seed 0), y = X w0 + 0.1 ε, mu = 1e-6."""
    X, y, _ = make_decaying_regression(20000, 2000, decay=1.0, noise=0.1, random_state=0)
    return X, y, 1e-6


def make_r2():
    """R2: 8000 random features of Z (20000×8, seed 1), W ~ N(0, 1/16), mu = 1e-6."""
    X, y = make_random_features_regression(20000, 8000, n_inputs=8, bandwidth=4.0, noise=0.1,
                                           random_state=1)
    return X, y, 1e-6


def make_s1(n=20000):
    """S1: sparse SPD A = BᵀB + diag(d), B = scipy.sparse.random(n, n, density=5e-4, seed 0), d ~ U(0, 1).

    B has about 10 nonzeros per row with values uniform on [0, 1); d is drawn by
    ``numpy.random.default_rng(0)``.
    """
    B = sp.random(n, n, density=5e-4, random_state=0, format="csr")
    d = np.random.default_rng(0).uniform(0.0, 1.0, n)
    return (B.T @ B + sp.diags(d)).tocsr()


PROBLEMS = {"R1": make_r1, "R2": make_r2}
