"""Objectives given by callables: value, gradient and (optionally) Hessian-vector products."""

from __future__ import annotations

import math
import numbers

import numpy as np

from rnla import _backend
from rnla._validation import check_callable, check_optional_positive_int, is_real_dtype
from rnla.operators import as_operator

from ._finite_sum import _check_reg, _FiniteSum

__all__ = ["CallableBatch", "Objective"]


class Objective(_FiniteSum):
    """An objective given by callables: value, gradient and (optionally) Hessian-vector products.

    Without ``n_samples`` the callables take ``(w, *args)``. With ``n_samples`` the objective is a
    finite sum and each callable takes ``(w, idx, *args)``, where ``idx`` is an integer array of
    sample indices (or ``None`` for all samples) and the result is the average over them; the
    stochastic solvers then work on it. A missing ``hvp`` is replaced by a central difference of
    gradients, ``(∇f(w + hv) − ∇f(w − hv)) / 2h`` with ``h = eps^(1/3) · max(1, ‖w‖) / ‖v‖`` (two
    gradients per vector, relative error about ``eps^(2/3)``).

    Parameters
    ----------
    fun : callable
        ``fun(w[, idx], *args) -> float``.
    grad : callable
        ``grad(w[, idx], *args) -> array`` of the shape of ``w``.
    hvp : callable, optional
        ``hvp(w, v[, idx], *args) -> array``, the Hessian at ``w`` applied to the vector ``v``.
    n_samples : int, optional
        Number of samples of a finite sum.
    reg : float, default 0
        The part ``reg/2 ‖w‖²`` of the objective that is an L2 penalty, if known: it sets the
        floor of the preconditioner's regularisation (the callables must include it themselves).
    args : tuple
        Extra arguments passed to every callable.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.diag([1.0, 10.0])
    >>> obj = Objective(lambda w: 0.5 * w @ A @ w, lambda w: A @ w)
    >>> obj.hvp(np.ones(2), np.array([0.0, 1.0])).round(5).tolist()    # finite difference
    [0.0, 10.0]
    """

    def __init__(self, fun, grad, hvp=None, *, n_samples=None, reg=0.0, args=()):
        check_callable(fun, "fun", optional=False)
        check_callable(grad, "grad", optional=False)
        check_callable(hvp, "hvp")
        n_samples = check_optional_positive_int(n_samples, "n_samples")
        self.fun, self.grad_fun, self.hvp_fun = fun, grad, hvp
        self.n_samples = n_samples
        self.reg = _check_reg(reg)
        if not isinstance(args, tuple | list):
            raise TypeError(f"args must be a tuple of extra arguments, got {type(args).__name__}")
        self.args = tuple(args)
        self.fit_intercept = False

    def _check_w(self, w, name="w", block=False):
        if getattr(w, "ndim", None) not in ((1, 2) if block else (1,)):
            raise ValueError(f"{name} must be a 1-D array, got {type(w).__name__} "
                             f"with shape {getattr(w, 'shape', None)}")
        return w

    def batch(self, idx=None):
        """The objective restricted to the samples ``idx`` (all if ``None``)."""
        if idx is not None and self.n_samples is None:
            raise ValueError("idx was given, but this objective is not a finite sum (n_samples is None)")
        return CallableBatch(self, idx)

    def __repr__(self):
        return f"Objective(fun={getattr(self.fun, '__name__', self.fun)!r}, n_samples={self.n_samples})"


def _as_scalar(out, name: str) -> float:
    """The value ``out`` of a user function as a float: a number, 0-d array or size-1 array.

    Like SciPy's minimizers, a size-1 array (``np.array([1.3])``, ``[[1.3]]``, a one-element
    list) is accepted silently. Anything else without a single real number is an error naming
    ``name``: ``ValueError`` for an array of another size or with complex content, ``TypeError``
    for something that is not a number at all (``None``, a string).
    """
    if isinstance(out, numbers.Real) and not isinstance(out, bool):
        return float(out)
    if isinstance(out, list | tuple):
        out = np.asarray(out)
    shape = getattr(out, "shape", None)
    if shape is None or getattr(out, "dtype", None) is None or isinstance(out, str | bytes):
        raise TypeError(f"{name} must return a real number, got {type(out).__name__}")
    if math.prod(shape) != 1:
        raise ValueError(f"{name} must return a scalar, got an array of shape {tuple(shape)}")
    if not is_real_dtype(_backend.array_namespace(out), out.dtype):
        raise ValueError(f"{name} must return a real number, got dtype {out.dtype}")
    if shape != ():
        out = _backend.array_namespace(out).reshape(out, ())
    return float(out)


class CallableBatch:
    """The batch view of an :class:`Objective` (see :meth:`Objective.batch`).

    Examples
    --------
    >>> import numpy as np
    >>> obj = Objective(lambda w, idx: float(w @ w), lambda w, idx: 2 * w, n_samples=10)
    >>> B = obj.batch(np.arange(3))
    >>> B.size, B.grad(np.ones(2)).tolist(), B.hvp(np.ones(2), np.array([1.0, 0.0])).round(6).tolist()
    (3, [2.0, 2.0], [2.0, 0.0])
    """

    #: The callables define the whole objective: a sketch of the Hessian already holds ``reg``.
    sketch_includes_penalty = True

    def __init__(self, problem, idx):
        self.problem = problem
        self.idx = idx
        self.size = problem.n_samples if idx is None else int(idx.shape[0])
        self._extra = (() if problem.n_samples is None else (idx,)) + problem.args

    def value(self, w) -> float:
        return _as_scalar(self.problem.fun(w, *self._extra), "fun")

    def grad(self, w):
        g = self.problem.grad_fun(w, *self._extra)
        shape = getattr(g, "shape", None)
        if shape == () and w.shape == (1,):  # a 0-d gradient of a function of one variable
            g = _backend.array_namespace(g).reshape(g, (1,))
        elif shape != w.shape:
            raise ValueError(f"grad must return an array of shape {tuple(w.shape)}, got "
                             f"{getattr(g, 'shape', type(g).__name__)}")
        return g

    def value_and_grad(self, w):
        return self.value(w), self.grad(w)

    def grad_diff(self, w, w_ref):
        return self.grad(w) - self.grad(w_ref)

    def _hvp_vector(self, w, v):
        if self.problem.hvp_fun is not None:
            out = self.problem.hvp_fun(w, v, *self._extra)
            if getattr(out, "shape", None) != v.shape:
                raise ValueError(f"hvp must return an array of shape {tuple(v.shape)}, got "
                                 f"{getattr(out, 'shape', type(out).__name__)}")
            return out
        xp = _backend.array_namespace(w)
        vnorm = _backend.to_float(xp.linalg.vector_norm(v))
        if vnorm == 0:
            return xp.zeros_like(v)
        eps = xp.finfo(w.dtype).eps if xp.isdtype(w.dtype, "real floating") else 2.0**-52
        wnorm = _backend.to_float(xp.linalg.vector_norm(w))
        # Central difference: error O(eps^(2/3)), so the sketched Hessian is symmetric well
        # within rnla.nystrom's sqrt(eps) check (a forward difference is not).
        h = eps ** (1.0 / 3.0) * max(1.0, wnorm) / vnorm
        return (self.grad(w + h * v) - self.grad(w - h * v)) * (0.5 / h)

    def hessian_operator(self, w, include_penalty=True):
        """The batch Hessian at ``w`` as an operator (one callable call per column).

        The callables define the whole objective, so the penalty is always included.
        """
        n = w.shape[0]
        return as_operator(((n, n), lambda v: self._hvp_vector(w, v)), name="the Hessian")

    def hvp(self, w, V):
        return self.hessian_operator(w) @ V
