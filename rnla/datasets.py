"""Synthetic regression problems with known spectra, for demos, tests and benchmarks."""

from __future__ import annotations

import numpy as np

from ._backend import check_random_state

__all__ = ["make_decaying_regression", "make_random_features_regression"]


def make_decaying_regression(n_samples=20000, n_features=2000, *, decay=1.0, noise=0.1, random_state=0):
    """Least-squares data whose Gram matrix has eigenvalues exactly ``i^(-2·decay)``.

    ``X = U diag(σ) Vᵀ·√n`` with random orthonormal ``U`` (n × d), ``V`` (d × d) and
    ``σ_i = i^(-decay)``, so ``XᵀX/n = V diag(σ²) Vᵀ``; ``y = X w0 + noise·ε`` with
    ``w0, ε`` standard normal. With the defaults this is the benchmark problem R1.

    Returns
    -------
    X : (n_samples, n_features) ndarray
    y : (n_samples,) ndarray
    eigvals : (n_features,) ndarray
        The exact eigenvalues ``σ²`` of ``XᵀX/n``, descending.

    Examples
    --------
    >>> import numpy as np
    >>> X, y, lam = make_decaying_regression(200, 20, random_state=0)
    >>> bool(np.allclose(np.linalg.eigvalsh(X.T @ X / 200)[::-1], lam))
    True
    """
    if n_samples < n_features:
        raise ValueError(f"n_samples ({n_samples}) must be >= n_features ({n_features})")
    rng = check_random_state(random_state)
    U, _ = np.linalg.qr(rng.standard_normal((n_samples, n_features)))
    V, _ = np.linalg.qr(rng.standard_normal((n_features, n_features)))
    sigma = np.arange(1, n_features + 1, dtype=np.float64) ** (-float(decay))
    X = (U * (sigma * np.sqrt(n_samples))) @ V.T
    w0 = rng.standard_normal(n_features)
    y = X @ w0 + noise * rng.standard_normal(n_samples)
    return X, y, sigma**2


def make_random_features_regression(n_samples=20000, n_features=8000, *, n_inputs=8, bandwidth=4.0,
                                    noise=0.1, random_state=1):
    """Random Fourier features ``sqrt(2/d)·cos(Z W + c)`` of Gaussian inputs, smooth target.

    ``Z ~ N(0, I)`` (n × n_inputs), ``W ~ N(0, 1/bandwidth²)`` entrywise, ``c ~ U(0, 2π)``,
    ``y = sin(Σ_j Z_j) + noise·ε``: the features approximate an RBF kernel, so the Gram
    spectrum decays fast. With the defaults this is the benchmark problem R2.

    Returns
    -------
    X : (n_samples, n_features) ndarray
    y : (n_samples,) ndarray

    Examples
    --------
    >>> X, y = make_random_features_regression(100, 50, random_state=0)
    >>> X.shape, y.shape
    ((100, 50), (100,))
    """
    rng = check_random_state(random_state)
    Z = rng.standard_normal((n_samples, n_inputs))
    W = rng.standard_normal((n_inputs, n_features)) / bandwidth
    c = rng.uniform(0.0, 2.0 * np.pi, size=n_features)
    X = np.sqrt(2.0 / n_features) * np.cos(Z @ W + c)
    y = np.sin(Z.sum(axis=1)) + noise * rng.standard_normal(n_samples)
    return X, y
