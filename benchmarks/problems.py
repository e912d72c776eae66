"""The named benchmark problems, built exactly as the issues define them."""

from __future__ import annotations

import numpy as np


def make_r1(n=20000, d=2000, seed=0, dtype=np.float64):
    """R1: X = U diag(1/i) Vᵀ·√n with random orthonormal U, V; y = X w0 + 0.1 ε; mu = 1e-6.

    Returns ``X, y, mu``. The Gram matrix XᵀX/n has eigenvalues exactly 1/i², i = 1..d.
    """
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((n, d)))
    V, _ = np.linalg.qr(rng.standard_normal((d, d)))
    sigma = 1.0 / np.arange(1, d + 1)
    X = (U * (sigma * np.sqrt(n))) @ V.T
    w0 = rng.standard_normal(d)
    y = X @ w0 + 0.1 * rng.standard_normal(n)
    return X.astype(dtype, copy=False), y.astype(dtype, copy=False), 1e-6


def make_r2(n=20000, d=8000, k=8, seed=1, dtype=np.float64):
    """R2: random Fourier features sqrt(2/d)·cos(Z W + c) of Z ~ N(0, I_k); mu = 1e-6.

    W ~ N(0, 1/16) entrywise, c ~ U(0, 2π), y = sin(Σ_j Z_j) + 0.1 ε. Returns ``X, y, mu``.
    """
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, k))
    W = rng.standard_normal((k, d)) / 4.0
    c = rng.uniform(0.0, 2.0 * np.pi, size=d)
    X = np.sqrt(2.0 / d) * np.cos(Z @ W + c)
    y = np.sin(Z.sum(axis=1)) + 0.1 * rng.standard_normal(n)
    return X.astype(dtype, copy=False), y.astype(dtype, copy=False), 1e-6
