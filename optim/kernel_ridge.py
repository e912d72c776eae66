"""Kernel ridge regression: dense Cholesky, Nyström PCG or inducing points, chosen by cost."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
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
from rnla.nystrom import DEFAULT_INITIAL_RANK, NotPositiveSemidefiniteError

from ._common import Progress
from ._inducing import default_centres, fit_inducing, scatter_rows
from ._kernel_ops import (
    BLOCK_ENTRIES,
    PCG_MARGIN,
    KernelOperator,
    check_max_memory,
    dense_fallback,
    direct_cost,
    direct_solve,
    form_rows,
    pcg_cost,
    pcg_estimate,
    probe_spectrum,
    scale_symmetric,
    solve_unregularized,
)
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

_KernelOperator = KernelOperator  # the name the tests know

SOLVERS = ("auto", "direct", "pcg", "inducing")


def _check_degree(degree) -> int:
    """``degree`` as an int ``>= 0``; a float is accepted when it is a whole number (``3.0``).

    scikit-learn admits any real ``>= 0``, but a fractional power of the negative inner products
    of a polynomial kernel is NaN, so a fractional degree is refused here (``TypeError``, the
    policy's "a non-integer where an integer is needed").
    """
    if isinstance(degree, float | np.floating) and math.isfinite(degree) and float(degree).is_integer():
        degree = int(degree)
    return check_nonnegative_int(degree, "degree")


class NystromKernelRidge(RegressorMixin, BaseEstimator):
    """Kernel ridge regression, by the cheapest exact solver or, on request, inducing points.

    Solves the system of :class:`sklearn.kernel_ridge.KernelRidge`,
    ``(K + alpha I) dual_coef = y`` (with sample weights ``(S½KS½ + alpha I) z = S½y``,
    ``dual_coef = S½z``), by one of

    - ``'direct'``: the kernel is formed once and ``K + alpha I`` factored by Cholesky, as
      ``KernelRidge`` does (the same solution to rounding); an indefinite kernel falls back to
      LU (least squares if singular) with a :class:`scipy.linalg.LinAlgWarning`;
    - ``'pcg'``: :func:`rnla.pcg` with a randomized Nyström preconditioner of ``K``. ``K`` is
      held when it fits ``max_memory``, else applied ``block_size`` rows at a time and
      recomputed at every product, so an ``n × n`` kernel is never stored;
    - ``'inducing'`` (approximate, only on request): FALKON (Rudi, Carratino, Rosasco, NeurIPS
      2017) with ``n_components`` centres sampled uniformly from the training points: the
      minimizer of the same objective ``Σ w_i (y_i − f(x_i))² + alpha ‖f‖²`` over
      ``f = Σ_j β_j k(·, c_j)``, i.e. ``(K_nMᵀ W K_nM + alpha K_MM) β = K_nMᵀ W y`` (FALKON's
      ``λ n`` is this ``alpha``), by PCG preconditioned with the Cholesky factors of ``K_MM``.
      With every training point a centre it is exact kernel ridge.

    ``solver='auto'`` only ever picks an exact solver. It uses ``'pcg'`` when the kernel does not
    fit ``max_memory`` (``'direct'`` needs it whole), when ``n_components`` is an integer (the
    preconditioner's rank, a PCG setting) or when an integer ``block_size < n_samples`` asks for
    the kernel in blocks; otherwise it compares predicted costs: ``n³/3`` flops per distinct
    ``alpha`` plus two triangular solves per target for ``'direct'``, against ``2n²ℓ`` for the
    Nyström sketch and ``16 · 2n²`` per CG iteration (a matrix-vector product streams ``K`` from
    memory, about 16 times slower per flop than a factorization on the reference machine) for
    ``'pcg'``, which must come out at least twice cheaper (the prediction is rough, Cholesky
    is exact and as fast as ``KernelRidge``). The rank ``ℓ`` and the iterations are predicted
    from the kernel of a uniform subsample of 400 points, whose eigenvalues scaled by
    ``n / 400`` approximate the leading ones of ``K`` (a power law fitted to the leading
    quarter beyond it). Forming ``K`` costs both the same and is left out. The choice is in
    ``solver_``, and ``verbose`` prints why.

    Parameters
    ----------
    alpha : float or array of shape (n_targets,), default 1.0
        Regularization ``>= 0``, as in ``KernelRidge``. With ``alpha=0`` the dual coefficients
        are the minimum-norm least-squares solution ``K⁺ y`` (``KernelRidge`` falls back to
        ``lstsq`` for a singular kernel): a dense solve when the kernel is held, else CG on
        ``K² z = K y``.
    kernel : str or callable, default 'rbf'
        Any kernel of :func:`sklearn.metrics.pairwise.pairwise_kernels` (``'rbf'``,
        ``'laplacian'``, ``'polynomial'``, ``'linear'``, ...), ``'precomputed'`` (``X`` is the
        kernel matrix) or a callable. Note: ``KernelRidge``'s default is ``'linear'``.
    gamma, degree, coef0, kernel_params
        Kernel parameters, as in ``KernelRidge``; ``degree`` must be a whole number ``>= 0``
        (a fractional power of a polynomial kernel's negative entries is NaN) and
        ``kernel_params`` a dict or None.
    solver : {'auto', 'direct', 'pcg', 'inducing'}, default 'auto'
        See above. ``'direct'`` raises ``ValueError`` when the kernel does not fit
        ``max_memory``.
    n_components : 'auto' or int, default 'auto'
        ``'pcg'``: rank of the Nyström preconditioner; ``'auto'`` grows it until the smallest
        sketched eigenvalue of ``K`` is below ``10 alpha``. ``'inducing'``: number of centres;
        ``'auto'`` is ``min(n, max(256, ⌈4√n⌉))``. Unused by ``'direct'``.
    tol : float, default 1e-6
        Relative residual at which CG stops (``'pcg'``, ``'inducing'``).
    max_iter : int, optional
        CG iterations per target, ``10 n`` by default (unused by ``'direct'``).
    block_size : 'auto' or int, default 'auto'
        Kernel rows computed at once when the kernel (or ``K_nM``) is not held and in
        ``predict``; ``'auto'`` keeps a block under 2**24 entries. An integer ``< n_samples``
        also asks ``'pcg'`` not to hold the kernel.
    max_memory : float, optional
        Bytes the held kernel matrices may take (``K``, its Cholesky copy, ``K_nM``); a quarter
        of the machine's memory by default.
    random_state : None, int or numpy.random.Generator
        Seed of the sketch, the cost probe and the centres.
    verbose : bool or int, default False
        Prints the solver chosen and why, and a progress bar (tqdm) over CG iterations (an
        integer level as in scikit-learn: ``> 0`` shows it).

    Attributes
    ----------
    dual_coef_ : array of shape (n_samples,) or (n_samples, n_targets)
        For ``'inducing'``, the coefficients ``β`` of the centres (shape ``(n_components, ...)``;
        with ``kernel='precomputed'`` expanded to all samples, zero off the centres).
    X_fit_ : {array, sparse matrix} of shape (n_samples, n_features)
        The training data (for ``'inducing'``, the centres, unless ``kernel='precomputed'``).
    solver_ : str
        The solver used: ``'direct'``, ``'pcg'`` or ``'inducing'``.
    inducing_indices_ : array of shape (n_components,) or None
        Indices of the centres among the training samples (``'inducing'`` only).
    n_iter_ : array of shape (n_targets,)
        CG iterations per target (1 for a ``'direct'`` solve).
    rank_ : int
        Rank of the Nyström preconditioner (``'inducing'``: the number of centres; 0 for
        ``'direct'``).
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
    >>> ref = KernelRidge(alpha=1e-3, kernel="rbf", gamma=0.5).fit(X, y)
    >>> est = NystromKernelRidge(alpha=1e-3, gamma=0.5).fit(X, y)
    >>> err = np.linalg.norm(est.dual_coef_ - ref.dual_coef_) / np.linalg.norm(ref.dual_coef_)
    >>> est.solver_, bool(err < 1e-10)
    ('direct', True)
    >>> est = NystromKernelRidge(alpha=1e-3, gamma=0.5, solver="pcg", tol=1e-10, block_size=100,
    ...                          random_state=0).fit(X, y)
    >>> bool(np.allclose(est.predict(X), ref.predict(X), atol=1e-6)), int(est.n_iter_[0]) < 60
    (True, True)
    >>> est = NystromKernelRidge(alpha=1e-3, gamma=0.5, solver="inducing", n_components=100,
    ...                          random_state=0).fit(X, y)
    >>> est.dual_coef_.shape, bool(abs(est.score(X, y) - ref.score(X, y)) < 0.01)
    ((100,), True)
    """

    def __init__(self, alpha=1.0, *, kernel="rbf", gamma=None, degree=3, coef0=1, kernel_params=None,
                 solver="auto", n_components="auto", tol=1e-6, max_iter=None, block_size="auto",
                 max_memory=None, random_state=None, verbose=False):
        self.alpha = alpha
        self.kernel = kernel
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0
        self.kernel_params = kernel_params
        self.solver = solver
        self.n_components = n_components
        self.tol = tol
        self.max_iter = max_iter
        self.block_size = block_size
        self.max_memory = max_memory
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
        check_option(self.solver, "solver", SOLVERS)
        check_auto_or(self.n_components, "n_components", check_positive_int)
        check_positive(self.tol, "tol")
        check_optional_positive_int(self.max_iter, "max_iter")
        check_auto_or(self.block_size, "block_size", check_positive_int)
        check_verbose(self.verbose)
        return check_max_memory(self.max_memory)

    def _block(self, n):
        if self.block_size == "auto":
            return max(1, min(n, BLOCK_ENTRIES // max(n, 1)))
        return int(self.block_size)

    def _choose(self, n, X, sqrt_sw, alphas, kernel, itemsize, max_memory, tol, rng):
        """``(solver, hold, reason)``: the solver, whether ``K`` is held, and why (for ``verbose``)."""
        precomputed = self.kernel == "precomputed"
        positive = [a for a in alphas if a > 0]
        gib = n * n * itemsize / 2**30
        # 'direct' factors one n × n kernel in place; it keeps a second (for the residual and a
        # fallback without recomputing) when two fit. A precomputed kernel is the user's: copied.
        direct_fits = n * n * itemsize <= max_memory
        direct_hold = precomputed or 2 * n * n * itemsize <= max_memory
        blocks = self.block_size != "auto" and self.block_size < n
        hold = precomputed or (not blocks and n * n * itemsize <= max_memory)
        if self.solver == "direct":
            if not direct_fits:
                raise ValueError(f"solver='direct' needs the n × n kernel matrix ({gib:.3g} GiB) but "
                                 f"max_memory={max_memory} bytes: raise max_memory or use solver='pcg'")
            return "direct", direct_hold, "requested"
        if self.solver != "auto":
            return self.solver, hold, "requested"
        if self.n_components != "auto":
            return "pcg", hold, "n_components (the Nyström preconditioner's rank) is given"
        if blocks:
            return "pcg", False, f"block_size={self.block_size} < n_samples asks for the kernel in blocks"
        if not direct_fits:
            return "pcg", hold, f"the kernel ({gib:.3g} GiB) does not fit max_memory={max_memory} bytes"
        if not positive:
            return "direct", direct_hold, "alpha = 0 for every target: the minimum-norm solution K⁺y"
        d_cost = direct_cost(n, positive)
        floor = len(positive) * (math.ceil(0.5 * math.log(2.0 / tol)) + 1)
        if d_cost <= pcg_cost(n, DEFAULT_INITIAL_RANK, floor, 1):
            return "direct", direct_hold, (f"Cholesky ({d_cost:.3g} flops) is cheaper than the least "
                                           "PCG could cost")
        evals = probe_spectrum(kernel, X, sqrt_sw, n, rng, precomputed)
        estimates = [pcg_estimate(evals, a, tol) for a in positive]
        rank = max(r for r, _ in estimates)
        iterations = sum(i for _, i in estimates)
        p_cost = pcg_cost(n, rank, iterations, 1)
        why = (f"predicted flops: Cholesky {d_cost:.3g}, Nyström PCG {p_cost:.3g} (rank {rank}, "
               f"{iterations} CG iterations in all)")
        return ("pcg", hold, why) if PCG_MARGIN * p_cost < d_cost else ("direct", direct_hold, why)

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
        max_memory = self._check_params()
        xp, device = input_namespace(X)
        y = move_to(y, xp, device)
        X, y = validate_data(self, X, y, accept_sparse=("csr", "csc"), dtype=[xp.float64, xp.float32],
                             multi_output=True, y_numeric=True)
        check_numeric_targets(y, xp)
        precomputed = self.kernel == "precomputed"
        if precomputed and X.shape[0] != X.shape[1]:
            raise ValueError(f"X must be a square kernel matrix for kernel='precomputed', got {X.shape}")
        y = xp.astype(y, X.dtype)
        n = X.shape[0]
        if self.n_components != "auto" and self.n_components > n:
            raise ValueError(f"n_components={self.n_components} exceeds the number of samples ({n}): "
                             "the Nyström preconditioner's rank (or the number of centres) is at most "
                             "the kernel's size")
        if _backend.is_sparse(X):
            X = X.tocsr()
        sw = check_sample_weight(sample_weight, n, xp, X.dtype, device)
        sqrt_sw = None if sw is None else xp.sqrt(sw)
        Y = xp.reshape(y, (-1, 1)) if y.ndim == 1 else y
        alphas = check_alphas(self.alpha, Y.shape[1])
        kernel = (lambda A, B: A) if precomputed else self._kernel
        tol = effective_tol(self.tol, X.dtype)
        rng = _backend.check_random_state(self.random_state)
        itemsize = int(np.dtype(_backend._numpy_dtype(X.dtype)).itemsize)
        solver, hold, reason = self._choose(n, X, sqrt_sw, alphas, kernel, itemsize, max_memory, tol, rng)
        if self.verbose:
            print(f"NystromKernelRidge: solver={solver!r} ({reason})")
        self.solver_ = solver
        self.inducing_indices_ = None
        progress = Progress(f"NystromKernelRidge({solver})", None, check_verbose(self.verbose))
        callback = (lambda xk: progress.update()) if self.verbose else None
        try:
            if solver == "inducing":
                Z, results, infos = self._fit_inducing(X, Y, sw, alphas, kernel, tol, rng, max_memory,
                                                       xp, device, callback)
            else:
                Z, results, infos = self._fit_exact(solver, hold, X, Y, sqrt_sw, alphas, kernel, tol, rng,
                                                    xp, device, callback)
        finally:
            progress.close()
        self.dual_coef_ = Z[:, 0] if y.ndim == 1 else Z
        if solver != "inducing" or precomputed:
            self.X_fit_ = X
        self.n_iter_ = xp.asarray([r.iterations for r in results], device=device)
        self.rank_ = max(int(r.rank or 0) for r in results)
        self.history_ = [pcg_history(r) for r in results]
        problems = [p for j in range(len(results))
                    if (p := pcg_problem(j, infos[j], results[j], tol, Z.dtype))]
        warn_not_converged(self, problems, "Increase max_iter or alpha, or loosen tol.")
        return self

    def _fit_exact(self, solver, hold, X, Y, sqrt_sw, alphas, kernel, tol, rng, xp, device, callback):
        """``'direct'`` or ``'pcg'``: the columns ``z`` of ``(S½KS½ + alpha I) z = S½ y``, ``S½``-scaled."""
        n = X.shape[0]
        precomputed = self.kernel == "precomputed"
        B = Y if sqrt_sw is None else Y * sqrt_sw[:, None]
        positive = [j for j, a in enumerate(alphas) if a > 0]
        zero = [j for j, a in enumerate(alphas) if a == 0]
        block = self._block(n)
        op = KernelOperator(kernel, X, sqrt_sw, block, xp, device, hold=hold and not precomputed)
        if precomputed:
            op.K = X.toarray() if _backend.is_sparse(X) else X
        parts = {}
        if positive:
            Bp = xp.stack([B[:, j] for j in positive], axis=1)
            mus = [alphas[j] for j in positive]
            if solver == "direct":
                form = self._former(X, kernel, sqrt_sw, block, op, xp)
                Zp, res_p, info_p = direct_solve(xp, form, op, Bp, mus)
            else:
                Zp, res_p, info_p = self._solve_positive(op, Bp, mus, tol, rng, callback)
            parts.update({j: (Zp[:, i], res_p[i], info_p[i]) for i, j in enumerate(positive)})
        for j in zero:
            parts[j] = solve_unregularized(op, B[:, j], tol, self.max_iter, callback)
        Z = xp.stack([parts[j][0] for j in range(len(alphas))], axis=1)
        if sqrt_sw is not None:
            Z = Z * sqrt_sw[:, None]
        return Z, [parts[j][1] for j in range(len(alphas))], [parts[j][2] for j in range(len(alphas))]

    @staticmethod
    def _former(X, kernel, s, block, op, xp):
        """A function returning a fresh ``S½KS½`` to factor in place: a copy of the kernel ``op``
        holds (or of a precomputed one), else the kernel formed anew."""
        if op.K is not None:
            return lambda: scale_symmetric(op.K, s, copy=True)
        return lambda: scale_symmetric(form_rows(kernel, X, X, block, xp), s, copy=False)

    def _solve_positive(self, op, B, mus, tol, rng, callback):
        """Nyström PCG for the targets with ``alpha > 0``."""
        try:
            return solve_shifted_columns(op, B, mus, rank=self.n_components, X0=None, rtol=tol,
                                         maxiter=self.max_iter, random_state=rng, callback=callback)
        except NotPositiveSemidefiniteError as exc:
            if op.K is None:
                raise ValueError(f"kernel={self.kernel!r} is not positive semidefinite on X ({exc}); "
                                 "Nyström PCG needs a positive semidefinite kernel") from None
            return dense_fallback(op, B, mus, exc)

    def _fit_inducing(self, X, Y, sw, alphas, kernel, tol, rng, max_memory, xp, device, callback):
        n = X.shape[0]
        centres = default_centres(n) if self.n_components == "auto" else int(self.n_components)
        precomputed = self.kernel == "precomputed"
        idx, C, beta, results, infos, _ = fit_inducing(
            kernel, X, Y, sw, alphas, centres, precomputed=precomputed, rng=rng, rtol=tol,
            maxiter=self.max_iter, max_memory=max_memory, block=self.block_size, xp=xp, device=device,
            callback=callback)
        self.inducing_indices_ = idx
        if precomputed:
            full = xp.zeros((n, beta.shape[1]), dtype=beta.dtype, device=device)
            beta = scatter_rows(xp, full, idx, beta)
        else:
            self.X_fit_ = C
        return beta, results, infos

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


