"""The named benchmark problems of docs/benchmarks.md, built exactly as the issues define them."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from rnla.datasets import make_decaying_regression, make_random_features_regression


def make_r1(n=20000, d=2000):
    """R1: X (20000×2000) = U diag(1/i) Vᵀ·√n (seed 0), y = X w0 + 0.1 ε, mu = 1e-6."""
    X, y, _ = make_decaying_regression(n, d, decay=1.0, noise=0.1, random_state=0)
    return X, y, 1e-6


def make_r2(n=20000, d=8000):
    """R2: 8000 random features of Z (20000×8, seed 1), W ~ N(0, 1/16), mu = 1e-6."""
    X, y = make_random_features_regression(n, d, n_inputs=8, bandwidth=4.0, noise=0.1,
                                           random_state=1)
    return X, y, 1e-6


def make_s1(n=20000, density=5e-4):
    """S1: sparse SPD A = BᵀB + diag(d), B = scipy.sparse.random(n, n, density=5e-4, seed 0), d ~ U(0, 1).

    B has about 10 nonzeros per row with values uniform on [0, 1); d is drawn by
    ``numpy.random.default_rng(0)``. The quick report's variant is ``make_s1(5000, 2e-3)`` (the same
    10 nonzeros per row).
    """
    B = sp.random(n, n, density=density, random_state=0, format="csr")
    d = np.random.default_rng(0).uniform(0.0, 1.0, n)
    return (B.T @ B + sp.diags(d)).tocsr()


PROBLEMS = {"R1": make_r1, "R2": make_r2,
            # The quick report's small variants (rnla bench --quick): same construction, smaller sizes.
            "R1s": lambda: make_r1(4000, 800), "R2s": lambda: make_r2(4000, 1600)}


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def make_l1(n=100000, d=500):
    """L1: X (100000×500) N(0, 1) with column j scaled by 3/j (seed 1), labels Bernoulli(σ(X w0)),
    w0 ~ 3·N(0, 1); reg = 1e-4 on the mean log-loss; labels in {0, 1}, no intercept."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n, d)) * (3.0 / np.arange(1, d + 1))
    w0 = 3.0 * rng.standard_normal(d)
    y = (rng.random(n) < _sigmoid(X @ w0)).astype(np.float64)
    return X, y, 1e-4


def make_l2(n=50000, n_inputs=10, d=2000):
    """L2: random features sqrt(2/2000)·cos(Z W + c) of Z (50000×10) N(0, 1) (seed 2), W ~ N(0, 1/16),
    c ~ U(0, 2π); labels sign(sin(Σ_j Z_j) + 0.3 ε) in {-1, 1}; reg = 1e-5; no intercept."""
    rng = np.random.default_rng(2)
    Z = rng.standard_normal((n, n_inputs))
    W = 0.25 * rng.standard_normal((n_inputs, d))
    c = rng.uniform(0.0, 2.0 * np.pi, size=d)
    X = np.sqrt(2.0 / d) * np.cos(Z @ W + c)
    y = np.where(np.sin(Z.sum(axis=1)) + 0.3 * rng.standard_normal(n) >= 0, 1.0, -1.0)
    return X, y, 1e-5
