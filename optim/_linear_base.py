"""The machinery :class:`~optim.SketchyRidge` and :class:`~optim.SketchyLogisticRegression` share.

Input validation (scikit-learn's ``validate_data``, array-API namespaces, sample weights), the
linear prediction ``X coef_ᵀ + intercept_``, warm starts, progress bars and the convergence
warning.
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, validate_data

from rnla import _backend
from rnla._block_pcg import nystrom_pcg_block
from rnla._validation import (
    check_array,
    check_auto_or,
    check_bool,
    check_nonnegative,
    check_optional_positive_int,
    check_positive,
    check_positive_int,
)

from . import sketchy
from ._common import Progress
from ._sklearn_support import check_same_namespace, check_sample_weight, check_verbose, input_namespace

SKETCHY_SOLVERS = {
    "sketchy_svrg": sketchy.sketchy_svrg,
    "sketchy_saga": sketchy.sketchy_saga,
    "sketchy_katyusha": sketchy.sketchy_katyusha,
}

DEFAULT_EPOCHS = 100
#: The estimators sketch the Hessian and estimate the step size on ``max(√n, 1024)`` samples
#: (all of them when ``n <= 1024``), not the solvers' ``√n``: on small data sets a handful of
#: samples gives a step size orders of magnitude too small.
MIN_HESSIAN_BATCH = 1024


class LinearEstimatorBase(BaseEstimator):
    """Parameter checks, validation and prediction of the linear estimators."""

    def _check_common_params(self):
        check_verbose(self.verbose)
        check_bool(self.fit_intercept, "fit_intercept")
        check_bool(self.warm_start, "warm_start")
        check_positive(self.tol, "tol")
        check_optional_positive_int(self.max_iter, "max_iter")
        check_auto_or(self.rank, "rank", check_positive_int)

    def _validate_X(self, X, xp, *, reset, **extra):
        return validate_data(self, X, reset=reset, accept_sparse="csr", dtype=[xp.float64, xp.float32],
                             **extra)

    def _weights(self, sample_weight, X, xp, device):
        sw = check_sample_weight(sample_weight, X.shape[0], xp, X.dtype, device)
        total = float(X.shape[0]) if sw is None else _backend.to_float(xp.sum(sw))
        return sw, total

    def _linear(self, X, method):
        """``X coef_ᵀ + intercept_`` in the namespace the estimator was fitted in."""
        check_is_fitted(self)
        check_same_namespace(X, self, attribute="coef_", method=method)
        xp, _ = input_namespace(X)
        X = self._validate_X(X, xp, reset=False)
        coef = self.coef_
        if _backend.is_sparse(X):
            scores = X @ (coef.T if coef.ndim == 2 else coef)
        else:
            scores = X @ (xp.permute_dims(coef, (1, 0)) if coef.ndim == 2 else coef)
        return scores + self.intercept_

    def _warm_start_point(self, n_features, n_columns, xp, dtype):
        """The previous solution as a ``(n_features [+1], n_columns)`` matrix, or None."""
        if not self.warm_start or not hasattr(self, "coef_"):
            return None
        coef = self.coef_
        coef2 = coef[None, :] if coef.ndim == 1 else coef  # (columns, features)
        if coef2.shape != (n_columns, n_features):
            return None
        try:
            W = xp.permute_dims(xp.asarray(coef2, dtype=dtype), (1, 0))
        except (TypeError, ValueError):  # fitted in another namespace: start afresh
            return None
        if self.fit_intercept:
            b = xp.reshape(xp.asarray(self.intercept_, dtype=dtype), (1, -1))
            W = xp.concat([W, xp.broadcast_to(b, (1, n_columns))], axis=0)
        return W

    def _progress(self, name, total, unit="it"):
        return Progress(f"{type(self).__name__}({name})", total, check_verbose(self.verbose), unit=unit)

    def _warn_if_not_converged(self, problems):
        warn_not_converged(self, problems, "Increase max_iter, loosen tol, or try another solver.")

    def _run_sketchy(self, solver, problem, x0, tol, rng):
        """One PROMISE solve with the estimator's settings (see :data:`MIN_HESSIAN_BATCH`)."""
        n = problem.n_samples
        return SKETCHY_SOLVERS[solver](
            problem, x0, epochs=self.max_iter or DEFAULT_EPOCHS, tol=tol,
            rank=None if self.rank == "auto" else self.rank, random_state=rng,
            verbose=check_verbose(self.verbose),
            hessian_batch_size=min(n, max(math.isqrt(n), MIN_HESSIAN_BATCH)))

    def _solve_to_gradient(self, problem, x0, gtol, solver, rng, gnorm0=None):
        """A PROMISE solve from ``x0`` until ``‖∇f‖ <= gtol``: ``(x, epochs, history, problem or None)``.

        The solvers' tolerance is relative to ``‖∇f(x0)‖``; it is converted here, and a start
        that already meets ``gtol`` (a warm start on the same data) returns at once. ``gnorm0``,
        if the caller has it, is ``‖∇f(x0)‖``.
        """
        if gnorm0 is None:
            gnorm0 = _backend.to_float(problem.xp.linalg.vector_norm(problem.grad(x0)))
        if gnorm0 <= gtol:
            return x0, 0, {"iteration": np.zeros(1, int), "fun": np.asarray([problem.value(x0)]),
                           "grad_norm": np.asarray([gnorm0]), "time": np.zeros(1)}, None
        res = self._run_sketchy(solver, problem, x0, gtol / gnorm0, rng)
        msg = None if res.success else f"{solver}: {res.message} (gradient norm {res.grad_norm:.3g})"
        return res.x, int(res.nit), self._sketchy_history(res), msg

    @staticmethod
    def _sketchy_history(res):
        h = res.history
        return {"iteration": np.asarray(h["epoch"]), "fun": np.asarray(h["fun"]),
                "grad_norm": np.asarray(h["grad_norm"]), "time": np.asarray(h["time"])}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.array_api_support = True
        return tags


def check_alphas(alpha, n_targets: int) -> list[float]:
    """``alpha`` (a number, or an array of one per target) as a list of ``n_targets`` floats ``>= 0``.

    A number applies to every target; an array must have ``n_targets`` entries (or one). Errors
    name ``alpha`` (:mod:`rnla._validation`'s policy).
    """
    if isinstance(alpha, numbers.Number | str | bytes) or alpha is None:
        return [check_nonnegative(alpha, "alpha")] * n_targets
    values = _backend.to_numpy(check_array(alpha, "alpha", ndim=(0, 1))) if hasattr(alpha, "shape") \
        else check_array(alpha, "alpha", ndim=(0, 1))
    values = np.reshape(np.asarray(values, dtype=float), (-1,))
    if values.shape[0] == 1:
        values = np.repeat(values, n_targets)
    if values.shape[0] != n_targets:
        raise ValueError(f"alpha has {values.shape[0]} values but y has {n_targets} targets: the number "
                         "of penalties must be one or the number of targets")
    return [check_nonnegative(float(a), "alpha") for a in values]


def warn_not_converged(estimator, problems, advice):
    """One :class:`ConvergenceWarning` listing the solves that did not converge (none: no warning)."""
    if problems:
        warnings.warn(f"{type(estimator).__name__} did not converge: " + "; ".join(problems) + ". " + advice,
                      ConvergenceWarning, stacklevel=4)


def solve_shifted_columns(op, B, mus, *, rank, X0, rtol, maxiter, random_state, callback):
    """Solve ``(op + mus[j] I) x_j = B[:, j]`` for every column by PCG with one Nyström sketch.

    One blocked :func:`rnla.nystrom_pcg` iteration: the sketch of ``op`` (adaptive to the
    smallest positive shift when ``rank='auto'``) is taken once and turned into a
    :class:`rnla.NystromPreconditioner` per shift, and every iteration applies ``op`` to the
    block of the columns still running (one product call). A column with ``mus[j] == 0`` (no
    regularization: ``op`` may be singular) runs plain CG instead, in the same block: from
    ``0`` (or a start in the range of ``op``) on a consistent system, CG stays in the range of
    ``op`` and converges to the minimum-norm solution, which a preconditioner would spoil; with
    every shift 0 nothing is sketched. ``callback(Xk)`` is called after each block iteration.
    Returns the solutions as columns, and per column the :class:`rnla.SolveResult` (its
    ``matvecs`` include the shared sketch when it was preconditioned) and ``info``.
    """
    X, info, res = nystrom_pcg_block(op, B, np.asarray(mus, dtype=float), rank=rank, x0=X0, rtol=rtol,
                                     atol=0.0, maxiter=maxiter, callback=callback,
                                     random_state=random_state, full_output=True, max_rank=None,
                                     sketch="gaussian", zero_shift="plain")
    return X, res.columns, [int(i) for i in info]


def pcg_problem(j, info, res, rtol, dtype=None):
    """A line for the convergence warning about column ``j``, or None if it converged.

    ``rnla.pcg`` reports ``info > 0`` with ``res.stagnated`` when the true residual stops
    decreasing at the rounding level of the data (about ``κ·eps``): the tolerance asked for more
    than the dtype can give, and the solution is as accurate as a backward-stable direct solver in
    that dtype would be. Such a column counts as converged when the level is at most
    ``max(sqrt(eps), min(10 κ̂ eps, 10 sqrt(eps)))`` of ``dtype`` (float32: 3.5e-4 to 3.5e-3),
    with ``κ̂ = (λ̂₁ + μ)/μ``
    the condition number the Nyström preconditioner saw (when there is one); above it the
    column is reported.
    """
    if info == 0:
        return None
    r = res.residual_norms
    if info > 0 and res.stagnated and dtype is not None and len(r) > 1 and r[0] > 0:
        eps = float(np.finfo(_backend._numpy_dtype(dtype)).eps)
        bound = math.sqrt(eps)
        P = getattr(res, "preconditioner", None)
        if P is not None and P.rank and P.mu > 0:
            kappa = (_backend.to_float(P.eigvals[0]) + P.mu) / P.mu
            bound = max(bound, min(10 * eps * kappa, 10 * bound))  # never more than 10 sqrt(eps)
        if r[-1] / r[0] <= bound:
            return None
    rel = f"{r[-1] / r[0]:.2g}" if len(r) > 1 and r[0] > 0 else "n/a"
    what = "stopped after" if info > 0 else "broke down at"
    return f"target {j}: CG {what} {res.iterations} iterations (relative residual {rel}, tol={rtol:g})"


def pcg_history(res):
    return {"iteration": np.arange(len(res.residual_norms)),
            "residual_norm": np.asarray(res.residual_norms, dtype=float)}
