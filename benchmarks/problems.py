"""The named benchmark problems of docs/benchmarks.md, built exactly as the issues define them."""

from __future__ import annotations

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


PROBLEMS = {"R1": make_r1, "R2": make_r2}
