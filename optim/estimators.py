"""scikit-learn estimators: ridge and logistic regression by the cheapest solver for the problem.

``solver='auto'`` chooses from a cost model (:mod:`optim._dispatch`) among direct solvers
(Cholesky, Newton-Cholesky: :mod:`optim._direct`), plain CG / L-BFGS and the sketched solvers
(Nyström PCG, NNCG); every solver, the PROMISE ones included, can also be named.

:class:`SketchyRidge` and :class:`SketchyLogisticRegression` mean by ``alpha`` and ``C`` exactly
what :class:`sklearn.linear_model.Ridge` and :class:`sklearn.linear_model.LogisticRegression`
mean, so their coefficients are comparable one for one; :class:`~optim.NystromKernelRidge` (in
:mod:`optim.kernel_ridge`) matches :class:`sklearn.kernel_ridge.KernelRidge`. All accept dense or
sparse ``X``, ``sample_weight`` and float32 (kept float32), and run on CuPy arrays under
``sklearn.set_config(array_api_dispatch=True)``.
"""

from __future__ import annotations

import math

import array_api_compat
import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils import assert_all_finite
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, column_or_1d, validate_data

from rnla import _backend
from rnla._block_pcg import block_pcg, prepare_block
from rnla._validation import check_option, check_real
from rnla.krylov import pcg
from rnla.operators import GramOperator, Operator

from . import _dispatch
from ._direct import lbfgs, newton_cholesky, ridge_direct
from ._linear_base import (
    SKETCHY_SOLVERS,
    LinearEstimatorBase,
    check_alphas,
    pcg_history,
    pcg_problem,
    solve_shifted_columns,
)
from ._ridge_probe import UseCholesky, probe_and_finish
from ._sklearn_support import check_numeric_targets, check_verbose, effective_tol, input_namespace, move_to
from .glm import LeastSquares, Logistic
from .kernel_ridge import NystromKernelRidge
from .multinomial import Multinomial
from .newton import nncg

__all__ = ["NystromKernelRidge", "SketchyLogisticRegression", "SketchyRidge"]

RIDGE_SOLVERS = ("auto", "cholesky", "cg", "nystrom_pcg", *SKETCHY_SOLVERS)
LOGISTIC_SOLVERS = ("auto", "newton_cholesky", "lbfgs", "nncg", *SKETCHY_SOLVERS)


def _weighted_mean(X, sw, total, xp, device):
    """Column means of ``X`` weighted by ``sw`` (unit weights if None), ``Σ_i s_i x_i / Σs``."""
    w = sw if sw is not None else xp.ones(X.shape[0], dtype=X.dtype, device=device)
    return _backend.transpose_matmul(X, w) * (1.0 / total)


def _centered_gram(X, sw, total, x_mean, xp, device, mask=None):
    """``V ↦ Xᵀ S X V / Σs − x̄ x̄ᵀ V``: the weighted Gram matrix of the centred data, never formed.

    A :class:`rnla.GramOperator` with the weights rescaled by ``n / Σs``, less the rank-one
    centring term, so sparse ``X`` stays sparse. ``x_mean=None`` skips the centring. ``mask``
    (0/1 per feature) zeroes the rows and columns of the features that are constant on the
    weighted samples: their centred variance is exactly zero, and computing it as the difference
    of two equal terms would leave only rounding noise (which no sketch can tell from a
    non-symmetric operator).
    """
    # X was validated by the estimator (finite): no second finiteness pass.
    gram = GramOperator(X, weights=None if sw is None else sw * (X.shape[0] / total), check_finite=False)
    if x_mean is None:
        return gram

    def apply(V):
        if mask is not None:
            V = V * (mask if V.ndim == 1 else mask[:, None])
        proj = x_mean @ V
        out = gram @ V - (x_mean * proj if V.ndim == 1 else x_mean[:, None] * proj[None, :])
        if mask is not None:
            out = out * (mask if out.ndim == 1 else mask[:, None])
        return out

    return _CentredGram(gram, apply, xp, device)


class _CentredGram(Operator):
    """The centred Gram operator; its rounding level is the uncentred Gram's, computed on demand.

    Centring cancels: products of a (nearly) constant feature are rounding noise of the size of
    the uncentred Gram's, which the sketch's symmetry/PSD tests must know. That costs a pass over
    ``X``, so it is taken only when a sketch asks (plain CG and the direct solvers never do).
    """

    def __init__(self, gram, apply, xp, device):
        d = gram.shape[0]
        super().__init__((d, d), apply, matvec=apply, dtype=gram.dtype, xp=xp, device=device)
        self._gram = gram

    @property
    def noise_level(self):
        return self._gram.noise_level


#: Entries of ``X`` per block when :func:`_constant_columns` scans rows with zero weights out.
_SCAN_ENTRIES = 2**20


def _column_range(X, xp):
    """``(min, max)`` of every column of the dense or CSR block ``X`` (implicit zeros included)."""
    if not _backend.is_sparse(X):
        return xp.min(X, axis=0), xp.max(X, axis=0)
    # SciPy's sparse min/max include the implicit zeros and sum duplicate entries first.
    return tuple(np.ravel(m.toarray() if _backend.is_sparse(m) else np.asarray(m))
                 for m in (X.min(axis=0), X.max(axis=0)))


def _constant_columns(X, sw, xp):
    """Boolean ``(d,)``: the features constant on the samples of positive weight (all if ``sw`` is None).

    Reductions over ``X`` only (no copy); with zero weights, blocks of the weighted rows.
    """
    n, d = X.shape
    if sw is None or bool(xp.all(sw > 0)):
        if _backend.is_sparse(X) and isinstance(X.data, np.ndarray):
            return _sparse_constant_columns(X)
        if not _backend.is_sparse(X):
            return _dense_constant_columns(X, xp)
        lo, hi = _column_range(X, xp)
        return xp.asarray(lo == hi)
    block = max(1, _SCAN_ENTRIES // max(d, 1))
    lo = hi = None
    for start in range(0, n, block):
        stop = min(start + block, n)
        keep = xp.nonzero(sw[start:stop] > 0)[0]
        if keep.shape[0] == 0:
            continue
        rows = X[start:stop] if _backend.is_sparse(X) else X[start:stop, ...]
        blo, bhi = _column_range(_backend.take_rows(xp, rows, keep), xp)
        lo, hi = (blo, bhi) if lo is None else (xp.minimum(lo, blo), xp.maximum(hi, bhi))
    return xp.asarray(lo == hi)


#: Rows compared first by :func:`_dense_constant_columns`.
_SAMPLE_ROWS = 16


def _dense_constant_columns(X, xp):
    """:func:`_constant_columns` of dense ``X`` (all weights positive), without a pass over ``X``
    unless some feature is equal on a sample of rows.

    A constant feature is equal on any rows: the candidates are the features equal on
    :data:`_SAMPLE_ROWS` rows spread over ``X`` (``O(d)``), and only their columns are scanned.
    Real features are rarely equal on 16 rows, so this usually costs nothing; the column
    minimum and maximum of all of ``X`` took two passes (40 ms at 50000×400, a third of a
    ridge fit by CG).
    """
    n, d = X.shape
    step = max(1, n // _SAMPLE_ROWS)
    rows = X[0:n:step, ...]
    candidate = xp.all(rows == rows[0:1, ...], axis=0)
    idx = xp.nonzero(candidate)[0]
    if idx.shape[0] == 0:
        return candidate
    lo, hi = _column_range(xp.take(X, idx, axis=1), xp)
    same = xp.asarray(lo == hi)
    constant = xp.zeros(d, dtype=xp.bool, device=_backend.device_of(X))
    return _backend.set_items(xp, constant, idx, same)


def _sparse_constant_columns(X):
    """:func:`_constant_columns` of a SciPy CSR matrix in one pass over its indices.

    A column is constant when it holds no non-zero (all zeros), or when all its ``n`` entries are
    stored non-zeros of one value; a column with a zero and a non-zero is not. SciPy's column
    ``min``/``max`` convert to CSC and sort, several times the cost of the CG iterations on
    sparse tall problems.
    """
    n, d = X.shape
    if not X.has_canonical_format:  # duplicates sum: count them once
        X = X.copy()
        X.sum_duplicates()
    nonzero = X.data != 0
    cols = X.indices[nonzero]
    count = np.bincount(cols, minlength=d)
    constant = count == 0
    full = count == n
    if full.any():  # rare in sparse data: compare min and max of the full columns' values
        on_full = full[cols]
        vals, where = X.data[nonzero][on_full], cols[on_full]
        lo = np.full(d, np.inf)
        hi = np.full(d, -np.inf)
        np.minimum.at(lo, where, vals)
        np.maximum.at(hi, where, vals)
        constant |= full & (lo == hi)
    return constant


def _direct_history(H, B, W, mus, xp):
    """Per target ``{iteration: [0, 1], residual_norm: [‖b‖, ‖b − (H + μ) w‖]}`` (one Gram product)."""
    resid = B - (H @ W + W * xp.asarray(mus, dtype=W.dtype, device=_backend.device_of(W))[None, :])
    r0, r1 = (_backend.to_numpy(xp.linalg.vector_norm(M, axis=0)) for M in (B, resid))
    return [{"iteration": np.arange(2), "residual_norm": np.asarray([r0[j], r1[j]], dtype=float)}
            for j in range(B.shape[1])]


def _plain_cg(H, B, mus, X0, tol, maxiter, callback, xp, device):
    """Plain CG on ``(H + mus[j] I) x = B[:, j]`` per column: ``(X, results, infos)``.

    Several columns run as one blocked CG iteration with one shift per column (one block
    product per step, whatever the penalties); one column runs the 1-D :func:`rnla.pcg`.
    From ``0`` (or a start in the range of ``H``) CG on a consistent singular system (``mu = 0``)
    converges to the minimum-norm solution.
    """
    d, k = B.shape
    if k == 1:
        op = H if mus[0] == 0 else Operator((d, d), lambda V: H @ V + mus[0] * V, dtype=B.dtype, xp=xp,
                                            device=device)
        x, info, res = pcg(op, B[:, 0], None if X0 is None else X0[:, 0], rtol=tol, maxiter=maxiter,
                           callback=callback, full_output=True)
        X, results, infos = xp.reshape(x, (d, 1)), [res], [int(info)]
    else:
        op, B, X0, xp, dtype = prepare_block(H, B, X0)
        maxiter = 10 * d if maxiter is None else maxiter
        X, info, results, _ = block_pcg(op, B, X0, xp, dtype, tol, 0.0, maxiter, callback, shifts=mus)
        infos = [int(i) for i in info]
    for res in results:
        res.rank, res.sketch_matvecs = 0, 0
    return X, results, infos


class SketchyRidge(RegressorMixin, LinearEstimatorBase):
    """Ridge regression by the cheapest of Cholesky, CG and Nyström PCG (or a PROMISE solver).

    Minimises ``Σ_i s_i (y_i − x_iᵀw − b)² + alpha ‖w‖²`` exactly like
    :class:`sklearn.linear_model.Ridge`. The iterative solvers form neither ``XᵀX`` nor a centred
    copy of ``X``: they run on ``v ↦ X_cᵀ S X_c v / Σs`` with ``μ = alpha / Σs`` (``X_c`` the
    centred data, applied implicitly, so sparse ``X`` stays sparse). The intercept is recovered
    from the means. ``solver='auto'`` (the default) prices the candidates with a cost model
    (:mod:`optim._dispatch`) from ``n``, ``d``, the non-zeros, the number of targets and a
    10-iteration plain-CG probe, and records its choice in ``solver_``.

    Parameters
    ----------
    alpha : float or array of shape (n_targets,), default 1.0
        Regularization strength ``>= 0``, one per target if an array, as in ``Ridge``.
        ``alpha=0`` gives the minimum-norm least-squares solution, as
        ``Ridge(alpha=0, solver='lsqr')`` does, also when ``X`` is rank deficient (plain CG
        without a preconditioner, or an eigendecomposition for the direct solver).
    fit_intercept : bool, default True
        Fit an unpenalised intercept.
    solver : {'auto', 'cholesky', 'cg', 'nystrom_pcg', 'sketchy_svrg', 'sketchy_saga', 'sketchy_katyusha'}
        - ``'auto'``: Cholesky when it costs less than two CG probes (dense data with small
          ``min(n, d)``); otherwise 10 plain CG iterations whose convergence rate predicts what
          plain CG still needs, then the cheapest finish: plain CG (well-conditioned, e.g. sparse
          data with a moderate ``alpha``), Nyström PCG warm-started from the probe
          (ill-conditioned, large ``d``), or Cholesky. The PROMISE solvers are never chosen.
        - ``'cholesky'``: the ``d × d`` normal equations of the centred data (dense ``X`` centred
          exactly in row blocks), or the ``n × n`` dual when ``d > n``, by Cholesky
          (an eigendecomposition for ``alpha = 0`` or a matrix Cholesky rejects).
        - ``'cg'``: plain conjugate gradients on the normal equations.
        - ``'nystrom_pcg'``: :func:`rnla.nystrom_pcg`, with a preconditioner sized to the
          effective dimension; a few dozen products with ``X`` whatever the conditioning.
        - ``'sketchy_svrg'``, ``'sketchy_saga'``, ``'sketchy_katyusha'``: the PROMISE solvers
          (:func:`optim.sketchy_svrg`, ...) take minibatch steps on :class:`optim.LeastSquares`;
          they pay off when even a few passes over ``X`` per CG iteration are too many (``n`` in
          the millions). ``'sketchy_katyusha'`` needs ``alpha > 0``.
    rank : 'auto' or int, default 'auto'
        Nyström sketch size. ``'auto'``: for PCG, grown by doubling until the smallest sketched
        eigenvalue is below ``10 μ``; for the PROMISE solvers, their default (10). Unused for
        targets with ``alpha=0`` (plain CG).
    tol : float, default 1e-6
        Relative tolerance: stop when ``‖∇f(w)‖ <= tol ‖∇f(w₀)‖`` for the mean-scaled objective,
        which for PCG (``w₀ = 0``) is the relative residual of the normal equations, as with
        ``Ridge(solver='sparse_cg')``. Raised to ``8 eps`` of float32 for float32 data.
    max_iter : int, optional
        CG iterations per target (``10 d`` by default) or epochs of a PROMISE solver (100).
        Unused by ``'cholesky'``.
    random_state : None, int or numpy.random.Generator
        Seed of the sketches and minibatches.
    warm_start : bool, default False
        Start from the previous ``coef_``/``intercept_`` when refitting with the same shapes
        (the iterative solvers; a direct solve does not need it).
    verbose : bool or int, default False
        Show a progress bar (tqdm) during the fit and print ``solver='auto'``'s choice with its
        predicted costs (an integer level as in scikit-learn: ``> 0`` shows them).

    Attributes
    ----------
    coef_ : array of shape (n_features,) or (n_targets, n_features)
        ``(n_features,)`` for ``y`` of shape ``(n,)`` or ``(n, 1)``, as in ``Ridge``.
    intercept_ : NumPy scalar, array of shape (n_targets,), or 0.0
        A scalar for 1-D ``y``, an array for 2-D ``y`` (also of one column), ``0.0`` with
        ``fit_intercept=False``, as in ``Ridge``.
    n_iter_ : array of shape (n_targets,)
        CG iterations (probe included) or epochs per target; 1 for a direct solve.
    history_ : list of dict
        Per target: ``iteration`` and ``residual_norm`` (CG, PCG; a direct solve has two
        entries, the start and the solution) or ``fun``, ``grad_norm`` and ``time`` (PROMISE
        solvers) per iteration, for convergence plots.
    solver_ : str
        The solver used: ``'cholesky'``, ``'cg'``, ``'nystrom_pcg'`` or the PROMISE solver asked for.
    decision_ : optim._dispatch.Decision or None
        With ``solver='auto'``: the predicted seconds of every candidate and the reason for the
        choice (printed with ``verbose``); None when a solver was named.
    n_features_in_ : int
    feature_names_in_ : array of str
        Only when ``X`` had string column names.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.linear_model import Ridge
    >>> X, y = load_diabetes(return_X_y=True)
    >>> est = SketchyRidge(alpha=0.1, tol=1e-12, random_state=0).fit(X, y)
    >>> ref = Ridge(alpha=0.1).fit(X, y)
    >>> bool(np.allclose(est.coef_, ref.coef_, rtol=1e-8)), round(est.score(X, y), 4)
    (True, 0.5126)
    """

    def __init__(self, alpha=1.0, *, fit_intercept=True, solver="auto", rank="auto", tol=1e-6, max_iter=None,
                 random_state=None, warm_start=False, verbose=False):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.rank = rank
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose

    def fit(self, X, y, sample_weight=None):
        """Fit the ridge model.

        Parameters
        ----------
        X : {array, sparse matrix} of shape (n_samples, n_features)
        y : array of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : float or array of shape (n_samples,), optional
            Non-negative weights; ``alpha`` is not rescaled (as in ``Ridge``).

        Returns
        -------
        self
        """
        self._check_common_params()
        solver = check_option(self.solver, "solver", RIDGE_SOLVERS)
        xp, device = input_namespace(X)
        y = move_to(y, xp, device)
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=[xp.float64, xp.float32],
                             multi_output=True, y_numeric=True)
        check_numeric_targets(y, xp)
        y = xp.astype(y, X.dtype)
        Y = xp.reshape(y, (-1, 1)) if y.ndim == 1 else y
        n_targets = Y.shape[1]
        alphas = check_alphas(self.alpha, n_targets)
        if solver == "sketchy_katyusha" and min(alphas) == 0:
            raise ValueError("solver='sketchy_katyusha' needs a strongly convex problem: alpha must be > 0")
        if self.rank != "auto" and self.rank > X.shape[1] and solver not in SKETCHY_SOLVERS:
            raise ValueError(f"rank={self.rank} exceeds the dimension of the system ({X.shape[1]})")
        sw, total = self._weights(sample_weight, X, xp, device)
        W0 = self._warm_start_point(X.shape[1], n_targets, xp, X.dtype)
        rng = _backend.check_random_state(self.random_state)
        tol = effective_tol(self.tol, X.dtype)
        if solver in SKETCHY_SOLVERS:
            W, n_iter, self.history_, problems = self._fit_sketchy(X, Y, sw, total, alphas, W0, tol, rng,
                                                                   solver)
            self.solver_, self.decision_ = solver, None
        else:
            W, n_iter, self.history_, problems = self._fit_linear(X, Y, sw, total, alphas, W0, tol, rng, xp,
                                                                  device, solver)
        d = X.shape[1]
        coef = xp.permute_dims(W[:d, :], (1, 0))
        # Shapes and types as Ridge's: y of shape (n,) or (n, 1) gives coef_ of shape (d,); the
        # intercept is a NumPy scalar for 1-D y, an array of n_targets otherwise, and 0.0 when
        # no intercept is fitted.
        self.coef_ = coef[0, :] if n_targets == 1 else coef
        if not self.fit_intercept:
            self.intercept_ = 0.0
        elif y.ndim == 1:
            self.intercept_ = W[d, 0]
        else:
            self.intercept_ = W[d, :]
        self.n_iter_ = xp.asarray(n_iter, device=device)
        self._warn_if_not_converged(problems)
        return self

    def _ridge_system(self, X, Y, sw, total, xp, device):
        """The centred normal equations' pieces: ``(H, B, R, x_mean, y_mean, mask)``."""
        mask = None
        if self.fit_intercept:
            y_mean = (sw @ Y if sw is not None else xp.sum(Y, axis=0)) * (1.0 / total)
            R = Y - y_mean[None, :]
            # One pass over X for the weighted column means and Xᵀ S (y − ȳ): Xᵀ S [1, R].
            ones = sw if sw is not None else xp.ones(X.shape[0], dtype=R.dtype, device=device)
            SR = R * sw[:, None] if sw is not None else R
            both = _backend.transpose_matmul(X, xp.concat([ones[:, None], SR], axis=1)) * (1.0 / total)
            x_mean, B = both[:, 0], both[:, 1:]
            constant = _constant_columns(X, sw, xp)
            if bool(xp.any(constant)):
                mask = xp.astype(~constant, X.dtype)
        else:
            x_mean, y_mean, R = None, None, Y
            B = _backend.transpose_matmul(X, R * sw[:, None] if sw is not None else R) * (1.0 / total)
        H = _centered_gram(X, sw, total, x_mean, xp, device, mask)
        if mask is not None:  # Xᵀ S (y − ȳ) = X_cᵀ S (y − ȳ): no centring term is needed
            B = B * mask[:, None]
        return H, B, R, x_mean, y_mean, mask

    def _fit_linear(self, X, Y, sw, total, alphas, W0, tol, rng, xp, device, solver):
        """Cholesky, plain CG, Nyström PCG, or the cost model's choice among them (``'auto'``)."""
        d, n_targets = X.shape[1], Y.shape[1]
        H, B, R, x_mean, y_mean, mask = self._ridge_system(X, Y, sw, total, xp, device)
        mus = [a / total for a in alphas]
        X0 = None if W0 is None else W0[:d, :]
        shape = _dispatch.shape_of(X, n_targets)
        n_penalties = len(set(alphas))
        decision = None
        if solver == "auto":
            decision = _dispatch.ridge_upfront(shape, n_penalties)
            solver = decision.solver if decision is not None else "probe"
        if solver == "cholesky":
            W, how = ridge_direct(X, R, sw, total, alphas, x_mean, mask, xp)
            self.solver_ = "cholesky"
            results = None
            if decision is not None:
                decision.reason += f" [{how}]"
        else:
            W, results, infos, decision = self._fit_iterative(H, B, mus, X0, tol, rng, xp, device, solver,
                                                              shape, n_penalties, decision, X, R, sw, total,
                                                              alphas, x_mean, mask)
        if results is None:  # a direct solve: one "iteration", history from 0 to the solution
            n_iter = [1] * n_targets  # (scikit-learn's checks want n_iter_ >= 1)
            history, problems = _direct_history(H, B, W, mus, xp), []
        else:
            problems = [p for j in range(n_targets)
                        if (p := pcg_problem(j, infos[j], results[j], tol, B.dtype))]
            n_iter = [r.iterations for r in results]
            history = [pcg_history(r) for r in results]
        if decision is not None and check_verbose(self.verbose):
            print(f"{type(self).__name__}: {decision.report()}")
        self.decision_ = decision
        if self.fit_intercept:
            W = xp.concat([W, xp.reshape(y_mean - x_mean @ W, (1, n_targets))], axis=0)
        return W, n_iter, history, problems

    def _fit_iterative(self, H, B, mus, X0, tol, rng, xp, device, solver, shape, n_penalties, decision,
                       X, R, sw, total, alphas, x_mean, mask):
        """Plain CG, Nyström PCG, or (``solver='probe'``) CG first and the cost model's finish."""
        n_targets = B.shape[1]
        progress = self._progress(solver, None)
        callback = (lambda xk: progress.update()) if self.verbose else None
        try:
            if solver == "nystrom_pcg":
                W, results, infos = solve_shifted_columns(
                    H, B, mus, rank=self.rank, X0=X0, rtol=tol, maxiter=self.max_iter, random_state=rng,
                    callback=callback)
                self.solver_ = "nystrom_pcg"
                return W, results, infos, decision
            probe = solver == "probe"
            if probe and n_targets == 1:
                try:
                    w, info, res, decision = probe_and_finish(
                        H, B[:, 0], mus[0], None if X0 is None else X0[:, 0], tol, self.max_iter, callback,
                        shape=shape, n_penalties=n_penalties, rank=self.rank, rng=rng)
                except UseCholesky as switch:
                    decision = switch.decision
                    Wd, how = ridge_direct(X, R, sw, total, alphas, x_mean, mask, xp)
                    self.solver_ = "cholesky"
                    decision.reason += f" [{how}]"
                    return Wd, None, None, decision
                self.solver_ = decision.solver
                return xp.reshape(w, (-1, 1)), [res], [info], decision
            W, results, infos = _plain_cg(H, B, mus, X0, tol,
                                          _dispatch.PROBE_ITERATIONS if probe else self.max_iter,
                                          callback, xp, device)
            self.solver_ = "cg"
            open_ = [j for j in range(n_targets) if infos[j] != 0]
            if not probe or not open_:
                if probe:
                    decision = _dispatch.Decision("cg", {}, f"plain CG converged within the "
                                                  f"{_dispatch.PROBE_ITERATIONS}-iteration probe")
                return W, results, infos, decision
            remaining = []
            for j in open_:
                r = results[j].residual_norms
                rate = _dispatch.rate_of(r)
                target = tol * _backend.to_float(xp.linalg.vector_norm(B[:, j]))
                remaining.append(_dispatch.iterations_to(rate, target / r[-1]) if r[-1] > 0 else 0.0)
            used = max(results[j].iterations for j in open_)
            maxiter = None if self.max_iter is None else max(1, self.max_iter - used)
            decision = _dispatch.ridge_after_probe(shape, remaining, n_penalties, maxiter)
            if decision.solver == "cholesky":
                Wd, how = ridge_direct(X, R, sw, total, alphas, x_mean, mask, xp)
                self.solver_ = "cholesky"
                decision.reason += f" [{how}]"
                return Wd, None, None, decision
            sub_B = xp.take(B, xp.asarray(open_, device=device), axis=1)
            sub_X0 = xp.take(W, xp.asarray(open_, device=device), axis=1)
            sub_mus = [mus[j] for j in open_]
            if decision.solver == "cg":
                Ws, sub_results, sub_infos = _plain_cg(H, sub_B, sub_mus, sub_X0, tol, maxiter, callback, xp,
                                                       device)
            else:
                Ws, sub_results, sub_infos = solve_shifted_columns(
                    H, sub_B, sub_mus, rank=self.rank, X0=sub_X0, rtol=tol, maxiter=maxiter, random_state=rng,
                    callback=callback)
                self.solver_ = "nystrom_pcg"
            columns = [W[:, j] for j in range(n_targets)]
            for i, j in enumerate(open_):
                columns[j] = Ws[:, i]
                prev = results[j]
                sub_results[i].iterations += prev.iterations
                sub_results[i].matvecs += prev.matvecs
                sub_results[i].residual_norms = (list(prev.residual_norms[:-1])
                                                 + list(sub_results[i].residual_norms))
                results[j], infos[j] = sub_results[i], sub_infos[i]
            return xp.stack(columns, axis=1), results, infos, decision
        finally:
            progress.close()

    def _fit_sketchy(self, X, Y, sw, total, alphas, W0, tol, rng, solver):
        xp = _backend.array_namespace(Y)
        columns, n_iter, history, problems = [], [], [], []
        for j in range(Y.shape[1]):
            problem = LeastSquares(X, Y[:, j], reg=alphas[j] / total, fit_intercept=self.fit_intercept,
                                   sample_weight=sw)
            # tol is relative to the gradient at zero (the relative residual, as for PCG), also
            # when a warm start begins elsewhere.
            zero = xp.zeros(problem.dim, dtype=problem.dtype, device=_backend.device_of(Y))
            gnorm_zero = _backend.to_float(xp.linalg.vector_norm(problem.grad(zero)))
            x0 = zero if W0 is None else W0[:, j]
            x, nit, hist, problem_msg = self._solve_to_gradient(
                problem, x0, tol * gnorm_zero, solver, rng, gnorm0=gnorm_zero if W0 is None else None)
            if problem_msg:
                problems.append(f"target {j}: {problem_msg}")
            columns.append(x)
            n_iter.append(nit)
            history.append(hist)
        return xp.stack(columns, axis=1), n_iter, history, problems

    def predict(self, X):
        """Predicted targets ``X coef_ᵀ + intercept_``.

        Parameters
        ----------
        X : {array, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        array of shape (n_samples,) or (n_samples, n_targets)
        """
        return self._linear(X, "predict")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


class SketchyLogisticRegression(ClassifierMixin, LinearEstimatorBase):
    """L2-regularised logistic regression by Newton-Cholesky, L-BFGS, Nyström Newton-CG or PROMISE.

    Minimises ``C Σ_i s_i log(1 + exp(−ỹ_i (x_iᵀw + b))) + ½ ‖w‖²`` exactly like
    :class:`sklearn.linear_model.LogisticRegression` (``C = inf``: no penalty), the multinomial
    (softmax) loss for more than two classes, as scikit-learn does by default. Internally the
    objective is divided by ``Σ s_i`` (the mean-form :class:`optim.Logistic` /
    :class:`optim.Multinomial` with ``reg = 1 / (C Σs)``), which moves no minimiser.
    ``solver='auto'`` (the default) prices the candidates with a cost model
    (:mod:`optim._dispatch`) and records its choice in ``solver_``.

    Parameters
    ----------
    C : float, default 1.0
        Inverse regularization strength ``> 0`` (``numpy.inf`` for none), as in
        ``LogisticRegression``.
    fit_intercept : bool, default True
        Fit an unpenalised intercept (one per class for more than two classes).
    solver : {'auto', 'newton_cholesky', 'lbfgs', 'nncg', 'sketchy_svrg', 'sketchy_saga', \
'sketchy_katyusha'}
        - ``'auto'``: Newton-Cholesky when its whole run costs less than two probes (small
          ``d·K``); otherwise a 10-product CG probe on the Hessian at the start predicts the
          iterations L-BFGS and NNCG need, and the cheapest of Newton-Cholesky (if the
          ``(d+1)K``-square Hessian fits), L-BFGS (NumPy only) and NNCG is run. If L-BFGS stalls
          before the tolerance (``f`` stops decreasing in floating point), NNCG finishes from its
          point (``solver_ = 'lbfgs+nncg'``). The PROMISE solvers are never chosen: their
          stopping test needs full gradients and they reach ``tol`` only in expectation, so a
          default that must reach it reliably does not use them (pick them by name for very
          large ``n``).
        - ``'newton_cholesky'``: Newton's method with the exact Hessian ``AᵀDA/n + reg`` formed
          each iteration (a weighted Gram for two classes, the ``(d+1)K``-square block Hessian
          for ``K`` classes) and Cholesky, with Armijo backtracking, as scikit-learn's
          ``'newton-cholesky'``.
        - ``'lbfgs'``: :func:`scipy.optimize.minimize` (``'L-BFGS-B'``) on the objective's value
          and gradient, until ``‖∇f‖₂ <= tol``. NumPy input only.
        - ``'nncg'``: :func:`optim.nncg`, full-batch Newton-CG with a Nyström preconditioner,
          converging quadratically; deterministic for a fixed ``random_state``.
        - ``'sketchy_svrg'``, ``'sketchy_saga'``, ``'sketchy_katyusha'``: preconditioned minibatch
          steps, which pay off for very large ``n``. ``'sketchy_katyusha'`` needs a finite ``C``.
    rank : 'auto' or int, default 'auto'
        Nyström sketch size; ``'auto'`` is the solver's default (30 for NNCG, 10 for PROMISE),
        capped at the number of parameters.
    tol : float, default 1e-6
        Stop when the gradient of the mean-form objective has ``‖∇f‖₂ <= tol``. Raised to
        ``8 eps`` of float32 for float32 data.
    max_iter : int, optional
        Newton iterations (100 by default), L-BFGS iterations (1000) or epochs of a PROMISE
        solver (100).
    random_state : None, int or numpy.random.Generator
        Seed of the sketches and minibatches.
    warm_start : bool, default False
        Start from the previous solution when refitting with the same classes and features.
    verbose : bool or int, default False
        Show a progress bar (tqdm) during the fit and print ``solver='auto'``'s choice with its
        predicted costs (an integer level as in scikit-learn: ``> 0`` shows them).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : array of shape (1, n_features) or (n_classes, n_features)
    intercept_ : array of shape (1,) or (n_classes,)
    n_iter_ : array of shape (1,)
        Newton or L-BFGS iterations, or epochs.
    history_ : list of one dict
        ``iteration``, ``fun``, ``grad_norm`` and ``time`` per iteration.
    solver_ : str
        The solver used (``'lbfgs+nncg'`` when NNCG finished an L-BFGS run, see ``solver``).
    decision_ : optim._dispatch.Decision or None
        With ``solver='auto'``: the predicted seconds of every candidate and the reason for the
        choice (printed with ``verbose``); None when a solver was named.
    n_features_in_ : int
    feature_names_in_ : array of str
        Only when ``X`` had string column names.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import scale
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = scale(X)
    >>> est = SketchyLogisticRegression(C=0.5, tol=1e-10, random_state=0).fit(X, y)
    >>> ref = LogisticRegression(C=0.5, tol=1e-10).fit(X, y)
    >>> bool(np.allclose(est.coef_, ref.coef_, atol=1e-6)), est.classes_.tolist()
    (True, [0, 1])
    >>> est.predict_proba(X[:2]).round(3).tolist()
    [[1.0, 0.0], [1.0, 0.0]]
    """

    def __init__(self, C=1.0, *, fit_intercept=True, solver="auto", rank="auto", tol=1e-6, max_iter=None,
                 random_state=None, warm_start=False, verbose=False):
        self.C = C
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.rank = rank
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose

    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : {array, sparse matrix} of shape (n_samples, n_features)
        y : array of shape (n_samples,)
            Class labels (numbers, strings or booleans).
        sample_weight : float or array of shape (n_samples,), optional
            Non-negative weights (``C`` is not rescaled, as in ``LogisticRegression``).

        Returns
        -------
        self
        """
        self._check_common_params()
        C = check_real(self.C, "C", low=0.0, low_open=True, allow_inf=True)  # > 0, or inf: no penalty
        solver = check_option(self.solver, "solver", LOGISTIC_SOLVERS)
        if solver == "sketchy_katyusha" and math.isinf(C):
            raise ValueError("solver='sketchy_katyusha' needs a strongly convex problem: C must be finite")
        xp, device = input_namespace(X)
        X = self._validate_X(X, xp, reset=True)
        y = column_or_1d(_labels_on_host(y), warn=True)
        if y.dtype.kind == "f":
            assert_all_finite(y, input_name="y")
        check_consistent_length(X, y)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        n_classes = self.classes_.shape[0]
        if n_classes < 2:
            raise ValueError("SketchyLogisticRegression needs samples of at least 2 classes in the data, but "
                             f"the data contains only one class: {self.classes_[0]!r}")
        sw, total = self._weights(sample_weight, X, xp, device)
        reg = 0.0 if math.isinf(C) else 1.0 / (C * total)
        codes = xp.asarray(codes.reshape(-1), device=device)
        # The data is centred (weighted means) when an intercept is fitted, implicitly (x_offset:
        # X is never copied, sparse X stays sparse): the minimiser's coefficients do not change,
        # the intercept shifts by x̄ᵀw, and the Hessian loses the large eigenvalue that uncentred
        # features put on the intercept direction.
        x_mean = _weighted_mean(X, sw, total, xp, device) if self.fit_intercept else None
        model = Logistic if n_classes == 2 else Multinomial
        problem = model(X, codes, reg, fit_intercept=self.fit_intercept, sample_weight=sw, x_offset=x_mean)
        columns = 1 if n_classes == 2 else n_classes
        W0 = self._warm_start_point(X.shape[1], columns, xp, X.dtype)
        if W0 is not None and x_mean is not None:  # intercepts of the centred model
            W0 = xp.concat([W0[:-1, :], W0[-1:, :] + x_mean[None, :] @ W0[:-1, :]], axis=0)
        x0 = xp.zeros(problem.dim, dtype=X.dtype, device=device) if W0 is None else xp.reshape(W0, (-1,))
        tol = effective_tol(self.tol, X.dtype)
        rng = _backend.check_random_state(self.random_state)
        decision = None
        if solver == "auto":
            decision = self._choose(problem, X, x0, tol, columns, xp)
            solver = decision.solver
            if check_verbose(self.verbose):
                print(f"{type(self).__name__}: {decision.report()}")
        self.decision_ = decision
        self.solver_ = solver
        fit = {"nncg": self._fit_nncg, "newton_cholesky": self._fit_second_order,
               "lbfgs": self._fit_second_order}.get(solver, self._fit_sketchy)
        x, nit, history, problems = fit(problem, x0, tol, rng, solver)
        d = X.shape[1]
        W = xp.reshape(x, (-1, columns))
        self.coef_ = xp.permute_dims(W[:d, :], (1, 0))
        if not self.fit_intercept:
            self.intercept_ = xp.zeros(columns, dtype=X.dtype, device=device)
        else:
            intercept = W[d, :] - x_mean @ W[:d, :]
            if columns > 1:
                # The softmax is invariant to a common shift of the intercepts, so the objective
                # does not fix their mean; scikit-learn's are centred, and so are these.
                intercept = intercept - xp.mean(intercept)
            self.intercept_ = intercept
        self.n_iter_ = xp.asarray([nit], device=device)
        self.history_ = [history]
        self._warn_if_not_converged(problems)
        return self

    def _fit_nncg(self, problem, x0, tol, rng, solver):
        progress = self._progress("nncg", self.max_iter or 100)
        rank = None if self.rank == "auto" else self.rank
        if rank is None and self.decision_ is not None:
            rank = self.decision_.options.get("rank")  # the cost model's (0: no sketch)

        def callback(intermediate_result):
            progress.update(fun=intermediate_result.fun)

        try:
            res = nncg(problem.value_and_grad, x0, jac=True, hessp=problem.hvp, hessp_blocks=True, gtol=tol,
                       maxiter=self.max_iter or 100, rank=rank,
                       random_state=rng, callback=callback if self.verbose else None)
        finally:
            progress.close()
        h = res.history
        history = {"iteration": np.arange(len(h["fun"])), "fun": h["fun"], "grad_norm": h["grad_norm"],
                   "time": h["time"]}
        problems = [] if res.success else [f"nncg: {res.message} (gradient norm {h['grad_norm'][-1]:.3g})"]
        return res.x, int(res.nit), history, problems

    def _choose(self, problem, X, x0, tol, columns, xp):
        """The cost model's solver for this problem (see :mod:`optim._dispatch`)."""
        shape = _dispatch.shape_of(X)
        upfront = _dispatch.logistic_upfront(shape, columns)
        if upfront is not None:
            return upfront
        # The probe: plain CG on the Hessian at the start, right-hand side the gradient there.
        g0 = problem.grad(x0)
        gnorm = _backend.to_float(xp.linalg.vector_norm(g0))
        if gnorm <= tol:
            return _dispatch.Decision("newton_cholesky" if (X.shape[1] + 1) * columns
                                      <= _dispatch.DIRECT_MAX_DIM else "nncg", {}, "the start is optimal")
        hess = problem.batch().hessian_operator(x0, include_penalty=True)
        _, _, res = pcg(hess, g0, rtol=1e-12, maxiter=_dispatch.PROBE_ITERATIONS, full_output=True)
        rate = _dispatch.rate_of(res.residual_norms)
        return _dispatch.logistic_costs(shape, columns, rate, tol / gnorm,
                                        numpy_backend=array_api_compat.is_numpy_namespace(xp))

    def _fit_second_order(self, problem, x0, tol, rng, solver):
        """Newton-Cholesky (exact Hessian) or L-BFGS-B, to ``‖∇f‖ <= tol``."""
        progress = self._progress(solver, self.max_iter or (100 if solver == "newton_cholesky" else 1000))

        def callback(intermediate_result):
            progress.update(fun=intermediate_result.fun)

        method = newton_cholesky if solver == "newton_cholesky" else lbfgs
        try:
            res = method(problem, x0, gtol=tol, maxiter=self.max_iter or (100 if solver == "newton_cholesky"
                                                                             else 1000),
                         callback=callback if self.verbose else None)
        finally:
            progress.close()
        if not res.success and solver == "lbfgs" and self.decision_ is not None:
            # Chosen by 'auto': L-BFGS stalls when f stops decreasing in floating point before the
            # gradient meets tol; Newton steps (NNCG) from its point finish the job.
            x, nit, history, problems = self._fit_nncg(problem, res.x, tol, rng, "nncg")
            self.solver_ = "lbfgs+nncg"
            self.decision_.reason += f"; L-BFGS stopped after {res.nit} iterations, NNCG finished"
            return x, nit + int(res.nit), history, problems
        h = res.history
        history = {"iteration": np.arange(len(h["fun"])), "fun": h["fun"], "grad_norm": h["grad_norm"],
                   "time": h["time"]}
        problems = [] if res.success else [f"{solver}: {res.message} (gradient norm {res.grad_norm:.3g})"]
        return res.x, int(res.nit), history, problems

    def _fit_sketchy(self, problem, x0, tol, rng, solver):
        x, nit, history, msg = self._solve_to_gradient(problem, x0, tol, solver, rng)
        return x, nit, history, [msg] if msg else []

    def decision_function(self, X):
        """Signed distances to the decision boundary, ``X coef_ᵀ + intercept_``.

        Parameters
        ----------
        X : {array, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        array of shape (n_samples,) for two classes, else (n_samples, n_classes)
        """
        scores = self._linear(X, "decision_function")
        if scores.shape[1] == 1:
            xp = _backend.array_namespace(scores)
            return xp.reshape(scores, (-1,))
        return scores

    def predict(self, X):
        """Class labels (from ``classes_``) of the highest score.

        Parameters
        ----------
        X : {array, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        array of shape (n_samples,)
        """
        scores = self._linear(X, "predict")
        xp = _backend.array_namespace(scores)
        idx = xp.astype(scores[:, 0] > 0, xp.int64) if scores.shape[1] == 1 else xp.argmax(scores, axis=1)
        if self.classes_.dtype.kind in "biuf" and not isinstance(scores, np.ndarray):
            return xp.take(xp.asarray(self.classes_, device=_backend.device_of(scores)), idx, axis=0)
        return self.classes_[_backend.to_numpy(idx)]

    def predict_proba(self, X):
        """Class probabilities (sigmoid for two classes, softmax otherwise).

        Parameters
        ----------
        X : {array, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        array of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        return _exp(self._log_proba(X, "predict_proba"))

    def predict_log_proba(self, X):
        """Logarithms of :meth:`predict_proba`, computed without overflow.

        Parameters
        ----------
        X : {array, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        array of shape (n_samples, n_classes)
        """
        return self._log_proba(X, "predict_log_proba")

    def _log_proba(self, X, method):
        scores = self._linear(X, method)
        xp = _backend.array_namespace(scores)
        if scores.shape[1] == 1:  # log σ(−z), log σ(z)
            zero = xp.zeros_like(scores)
            return xp.concat([-xp.logaddexp(zero, scores), -xp.logaddexp(zero, -scores)], axis=1)
        zmax = xp.max(scores, axis=1, keepdims=True)
        shifted = scores - zmax
        return shifted - xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))


def _exp(a):
    return _backend.array_namespace(a).exp(a)


def _labels_on_host(y):
    """Class labels as a NumPy array (labels may be strings, which no GPU array can hold)."""
    if y is None:
        raise ValueError("SketchyLogisticRegression requires y to be passed, but the target y is None")
    if hasattr(y, "shape") and not isinstance(y, np.ndarray) and not hasattr(y, "iloc"):
        return _backend.to_numpy(y)
    return np.asarray(y) if not hasattr(y, "iloc") else y.to_numpy()
