"""Kernel ridge regression solved by Nyström PCG on blocks of the kernel matrix."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping

import numpy as np
from scipy.linalg import LinAlgWarning
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.metrics.pairwise import PAIRWISE_KERNEL_FUNCTIONS, pairwise_kernels
from sklearn.utils.validation import check_is_fitted, validate_data

from rnla import _backend
from rnla._validation import (
    check_auto_or,
    check_nonnegative_int,
    check_option,
    check_optional_positive_int,
    check_positive,
    check_positive_int,
    check_real,
)
from rnla.krylov import SolveResult, pcg
from rnla.nystrom import NotPositiveSemidefiniteError
from rnla.operators import Operator

from ._common import Progress
from ._linear_base import check_alphas, pcg_history, pcg_problem, solve_shifted_columns, warn_not_converged
from ._sklearn_support import (
    check_numeric_targets,
    check_same_namespace,
    check_sample_weight,
    check_verbose,
    effective_tol,
    input_namespace,
    move_to,
)

__all__ = ["NystromKernelRidge"]

#: Kernel entries per block (2**24 float64 entries = 128 MiB) when ``block_size='auto'``.
BLOCK_ENTRIES = 2**24


def _check_degree(degree) -> int:
    """``degree`` as an int ``>= 0``; a float is accepted when it is a whole number (``3.0``).

    scikit-learn admits any real ``>= 0``, but a fractional power of the negative inner products
    of a polynomial kernel is NaN, so a fractional degree is refused here (``TypeError``, the
    policy's "a non-integer where an integer is needed").
    """
    if isinstance(degree, float | np.floating) and math.isfinite(degree) and float(degree).is_integer():
        degree = int(degree)
    return check_nonnegative_int(degree, "degree")


class _KernelOperator(Operator):
    """``V ↦ S½ K S½ V`` with ``K = k(X, X)`` computed ``block`` rows at a time, or held whole.

    When the whole kernel fits in one block it is computed once and reused; otherwise every
    product recomputes the row blocks, so memory stays at one ``block × n`` slab.
    """

    def __init__(self, kernel, X, sqrt_sw, block, xp, device):
        n = X.shape[0]
        self.kernel, self.X, self.sqrt_sw, self.block = kernel, X, sqrt_sw, block
        self.K = kernel(X, X) if block >= n else None
        self.blocks = 0
        super().__init__((n, n), self._apply, matvec=self._apply, dtype=X.dtype, xp=xp, device=device)

    def _apply(self, V):
        xp, s = self.xp, self.sqrt_sw
        if s is not None:
            V = V * (s if V.ndim == 1 else s[:, None])
        if self.K is not None:
            out = self.K @ V
        else:
            n = self.shape[0]
            parts = []
            for start in range(0, n, self.block):
                parts.append(self.kernel(self.X[start:min(start + self.block, n), ...], self.X) @ V)
                self.blocks += 1
            out = xp.concat(parts, axis=0)
        if s is not None:
            out = out * (s if out.ndim == 1 else s[:, None])
        return out


class NystromKernelRidge(RegressorMixin, BaseEstimator):
    """Kernel ridge regression by Nyström-preconditioned CG, never holding more than kernel blocks.

    Solves the system of :class:`sklearn.kernel_ridge.KernelRidge`,
    ``(K + alpha I) dual_coef = y`` (with sample weights ``(S½KS½ + alpha I) z = S½y``,
    ``dual_coef = S½z``), by :func:`rnla.pcg` with a randomized Nyström preconditioner of ``K``.
    ``K`` is applied ``block_size`` rows at a time, so an ``n × n`` kernel is never stored
    (unless it fits in one block, when it is computed once). Kernel spectra decay fast, so a
    preconditioner of modest rank makes CG converge in a few dozen products whatever ``alpha``.

    Parameters
    ----------
    alpha : float or array of shape (n_targets,), default 1.0
        Regularization ``>= 0``, as in ``KernelRidge``. With ``alpha=0`` the dual coefficients
        are the minimum-norm least-squares solution ``K⁺ y`` (``KernelRidge`` falls back to
        ``lstsq`` for a singular kernel): a dense solve when the kernel is held in one block,
        else CG on ``K² z = K y``.
    kernel : str or callable, default 'rbf'
        Any kernel of :func:`sklearn.metrics.pairwise.pairwise_kernels` (``'rbf'``,
        ``'laplacian'``, ``'polynomial'``, ``'linear'``, ...), ``'precomputed'`` (``X`` is the
        kernel matrix) or a callable. Note: ``KernelRidge``'s default is ``'linear'``.
    gamma, degree, coef0, kernel_params
        Kernel parameters, as in ``KernelRidge``; ``degree`` must be a whole number ``>= 0``
        (a fractional power of a polynomial kernel's negative entries is NaN) and
        ``kernel_params`` a dict or None.
    n_components : 'auto' or int, default 'auto'
        Rank of the Nyström preconditioner; ``'auto'`` grows it until the smallest sketched
        eigenvalue of ``K`` is below ``10 alpha`` (unused for targets with ``alpha=0``).
    tol : float, default 1e-6
        Relative residual at which CG stops.
    max_iter : int, optional
        CG iterations per target, ``10 n`` by default.
    block_size : 'auto' or int, default 'auto'
        Kernel rows computed at once; ``'auto'`` keeps a block under 2**24 entries.
    random_state : None, int or numpy.random.Generator
        Seed of the sketch.
    verbose : bool or int, default False
        Progress bar (tqdm) over CG iterations (an integer level as in scikit-learn: ``> 0``
        shows it).

    Attributes
    ----------
    dual_coef_ : array of shape (n_samples,) or (n_samples, n_targets)
    X_fit_ : {array, sparse matrix} of shape (n_samples, n_features)
    n_iter_ : array of shape (n_targets,)
        CG iterations per target.
    rank_ : int
        Rank of the preconditioner.
    history_ : list of dict
        Per target, ``iteration`` and ``residual_norm``.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.kernel_ridge import KernelRidge
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-3, 3, size=(400, 2))
    >>> y = np.sin(X[:, 0]) * np.cos(X[:, 1]) + 0.1 * rng.standard_normal(400)
    >>> est = NystromKernelRidge(alpha=1e-3, gamma=0.5, tol=1e-10, block_size=100,
    ...                          random_state=0).fit(X, y)
    >>> ref = KernelRidge(alpha=1e-3, kernel="rbf", gamma=0.5).fit(X, y)
    >>> bool(np.allclose(est.predict(X), ref.predict(X), atol=1e-6)), int(est.n_iter_[0]) < 60
    (True, True)
    """

    def __init__(self, alpha=1.0, *, kernel="rbf", gamma=None, degree=3, coef0=1, kernel_params=None,
                 n_components="auto", tol=1e-6, max_iter=None, block_size="auto", random_state=None,
                 verbose=False):
        self.alpha = alpha
        self.kernel = kernel
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0
        self.kernel_params = kernel_params
        self.n_components = n_components
        self.tol = tol
        self.max_iter = max_iter
        self.block_size = block_size
        self.random_state = random_state
        self.verbose = verbose

    def _kernel(self, A, B):
        if callable(self.kernel):
            params = self.kernel_params or {}
        else:
            params = {"gamma": self.gamma, "degree": self.degree, "coef0": self.coef0}
        return pairwise_kernels(A, B, metric=self.kernel, filter_params=True, **params)

    def _check_params(self):
        if not callable(self.kernel):
            check_option(self.kernel, "kernel", ("precomputed", *sorted(PAIRWISE_KERNEL_FUNCTIONS)))
        if self.gamma is not None:
            check_positive(self.gamma, "gamma")
        _check_degree(self.degree)
        check_real(self.coef0, "coef0")
        if self.kernel_params is not None and not isinstance(self.kernel_params, Mapping):
            raise TypeError(f"kernel_params must be a dict or None, got {type(self.kernel_params).__name__} "
                            f"{self.kernel_params!r}"[:200])
        check_auto_or(self.n_components, "n_components", check_positive_int)
        check_positive(self.tol, "tol")
        check_optional_positive_int(self.max_iter, "max_iter")
        check_auto_or(self.block_size, "block_size", check_positive_int)
        check_verbose(self.verbose)

    def _block(self, n):
        if self.block_size == "auto":
            return max(1, min(n, BLOCK_ENTRIES // max(n, 1)))
        return int(self.block_size)

    def fit(self, X, y, sample_weight=None):
        """Fit the kernel ridge model.

        Parameters
        ----------
        X : {array, sparse matrix} of shape (n_samples, n_features)
            Training data, or the ``(n_samples, n_samples)`` kernel for ``kernel='precomputed'``.
        y : array of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : float or array of shape (n_samples,), optional
            Non-negative weights.

        Returns
        -------
        self
        """
        self._check_params()
        xp, device = input_namespace(X)
        y = move_to(y, xp, device)
        X, y = validate_data(self, X, y, accept_sparse=("csr", "csc"), dtype=[xp.float64, xp.float32],
                             multi_output=True, y_numeric=True)
        check_numeric_targets(y, xp)
        if self.kernel == "precomputed" and X.shape[0] != X.shape[1]:
            raise ValueError(f"X must be a square kernel matrix for kernel='precomputed', got {X.shape}")
        y = xp.astype(y, X.dtype)
        n = X.shape[0]
        if self.n_components != "auto" and self.n_components > n:
            raise ValueError(f"n_components={self.n_components} exceeds the number of samples ({n}): "
                             "the Nyström preconditioner's rank is at most the kernel's size")
        sw = check_sample_weight(sample_weight, n, xp, X.dtype, device)
        sqrt_sw = None if sw is None else xp.sqrt(sw)
        Y = xp.reshape(y, (-1, 1)) if y.ndim == 1 else y
        alphas = check_alphas(self.alpha, Y.shape[1])
        kernel = (lambda A, B: A) if self.kernel == "precomputed" else self._kernel
        op = _KernelOperator(kernel, X if not _backend.is_sparse(X) else X.tocsr(), sqrt_sw, self._block(n),
                             xp, device)
        if self.kernel == "precomputed":
            op.K = X.toarray() if _backend.is_sparse(X) else X
        B = Y if sqrt_sw is None else Y * sqrt_sw[:, None]
        tol = effective_tol(self.tol, X.dtype)
        rng = _backend.check_random_state(self.random_state)
        progress = Progress("NystromKernelRidge(pcg)", None, check_verbose(self.verbose))
        callback = (lambda xk: progress.update()) if self.verbose else None
        positive = [j for j, a in enumerate(alphas) if a > 0]
        zero = [j for j, a in enumerate(alphas) if a == 0]
        parts = {}
        try:
            if positive:
                Zp, res_p, info_p = self._solve_positive(op, B, alphas, positive, tol, rng, callback)
                parts.update({j: (Zp[:, i], res_p[i], info_p[i]) for i, j in enumerate(positive)})
            for j in zero:
                parts[j] = self._solve_unregularized(op, B[:, j], tol, callback)
        finally:
            progress.close()
        Z = xp.stack([parts[j][0] for j in range(len(alphas))], axis=1)
        results = [parts[j][1] for j in range(len(alphas))]
        infos = [parts[j][2] for j in range(len(alphas))]
        if sqrt_sw is not None:
            Z = Z * sqrt_sw[:, None]
        self.dual_coef_ = Z[:, 0] if y.ndim == 1 else Z
        self.X_fit_ = X
        self.n_iter_ = xp.asarray([r.iterations for r in results], device=device)
        self.rank_ = max(int(r.rank or 0) for r in results)
        self.history_ = [pcg_history(r) for r in results]
        problems = [p for j in range(len(results))
                    if (p := pcg_problem(j, infos[j], results[j], tol, Z.dtype))]
        warn_not_converged(self, problems, "Increase max_iter or alpha, or loosen tol.")
        return self

    def _solve_positive(self, op, B, alphas, columns, tol, rng, callback):
        """Nyström PCG for the targets ``columns`` (all with ``alpha > 0``)."""
        xp = op.xp
        Bp = xp.stack([B[:, j] for j in columns], axis=1)
        mus = [alphas[j] for j in columns]
        try:
            return solve_shifted_columns(op, Bp, mus, rank=self.n_components, X0=None, rtol=tol,
                                         maxiter=self.max_iter, random_state=rng, callback=callback)
        except NotPositiveSemidefiniteError as exc:
            if op.K is None:
                raise ValueError(f"kernel={self.kernel!r} is not positive semidefinite on X ({exc}); "
                                 "Nyström PCG needs a positive semidefinite kernel") from None
            return self._dense_fallback(op, Bp, mus, exc)

    def _solve_unregularized(self, op, b, tol, callback):
        """``alpha = 0``: the minimum-norm least-squares solution ``z = K⁺ b``, as ``KernelRidge`` gives.

        ``K z = b`` is singular and in general inconsistent (``b`` outside the range of ``K``), so
        neither PCG nor a Cholesky factorization applies. A held kernel is solved densely (its
        eigendecomposition, eigenvalues below ``n·eps·λ_max`` dropped, as ``lstsq`` does); a blocked
        one by CG on the consistent normal equations ``K² z = K b`` from zero, which converge to
        ``K⁺ b``.
        """
        xp, n, s = op.xp, op.shape[0], op.sqrt_sw
        if op.K is not None:
            K = op.K if s is None else op.K * (s[:, None] * s[None, :])
            K = 0.5 * (K + xp.permute_dims(K, (1, 0)))
            evals, V = xp.linalg.eigh(K)
            cutoff = n * float(xp.finfo(K.dtype).eps) * _backend.to_float(xp.max(xp.abs(evals)))
            inv = xp.where(xp.abs(evals) > cutoff, 1.0 / xp.where(evals == 0, 1.0, evals), 0.0)
            z = V @ (inv * (xp.permute_dims(V, (1, 0)) @ b))
            return z, SolveResult(info=0, message="dense minimum-norm solve", iterations=0, matvecs=0,
                                  rank=0), 0
        normal = Operator((n, n), lambda V: op @ (op @ V), dtype=b.dtype, xp=xp, device=op.device)
        z, info, res = pcg(normal, op @ b, None, rtol=tol, maxiter=self.max_iter, callback=callback,
                           full_output=True)
        res.rank, res.sketch_matvecs = 0, 0
        return z, res, info

    @staticmethod
    def _dense_fallback(op, B, alphas, exc):
        """Direct solves when the (held) kernel matrix is indefinite, as ``KernelRidge`` would do."""
        warnings.warn(f"the kernel matrix is not positive semidefinite ({exc}), so CG does not apply: "
                      "solved by a dense factorization instead", LinAlgWarning, stacklevel=3)
        xp, n, s = op.xp, op.shape[0], op.sqrt_sw
        K = op.K if s is None else op.K * (s[:, None] * s[None, :])  # S½ K S½ from the held kernel
        eye = xp.eye(n, dtype=B.dtype, device=_backend.device_of(B))
        columns = [xp.linalg.solve(K + a * eye, B[:, j]) for j, a in enumerate(alphas)]
        results = [SolveResult(info=0, message="dense solve", iterations=0, matvecs=0, rank=0)
                   for _ in alphas]
        return xp.stack(columns, axis=1), results, [0] * len(alphas)

    def predict(self, X):
        """Predictions ``k(X, X_fit_) dual_coef_``, computed a block of rows at a time.

        Parameters
        ----------
        X : {array, sparse matrix} of shape (n_samples, n_features)
            Samples, or the ``(n_samples, n_samples_fitted)`` kernel for ``kernel='precomputed'``.

        Returns
        -------
        array of shape (n_samples,) or (n_samples, n_targets)
        """
        check_is_fitted(self)
        check_same_namespace(X, self, attribute="dual_coef_", method="predict")
        xp, _ = input_namespace(X)
        X = validate_data(self, X, reset=False, accept_sparse=("csr", "csc"), dtype=[xp.float64, xp.float32])
        if self.kernel == "precomputed":
            if X.shape[1] != self.dual_coef_.shape[0]:
                raise ValueError(f"X must have {self.dual_coef_.shape[0]} columns (one per training sample) "
                                 f"for kernel='precomputed', got {X.shape[1]}")
            return X @ self.dual_coef_
        if _backend.is_sparse(X):
            X = X.tocsr()
        block = self._block(self.X_fit_.shape[0])
        m = X.shape[0]
        parts = [self._kernel(X[s:min(s + block, m), ...], self.X_fit_) @ self.dual_coef_
                 for s in range(0, X.shape[0], block)]
        return xp.concat(parts, axis=0) if len(parts) > 1 else parts[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.pairwise = self.kernel == "precomputed"
        tags.target_tags.multi_output = True
        tags.array_api_support = True
        return tags

