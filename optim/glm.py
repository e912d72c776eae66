"""Generalised linear models as finite sums: ridge least squares and binary logistic regression.

``f(w) = (1/n) Σ_i s_i ℓ(a_iᵀw; y_i) + (reg/2) ‖w_coef‖²``, with ``a_i`` the i-th row of ``X``
(followed by a 1 when an unpenalised intercept is fitted) and ``s_i`` sample weights rescaled to
mean one. :meth:`batch` returns a :class:`GLMBatch` that evaluates the average over a subset of
samples with block products only; it also exposes the per-sample loss derivatives that let
SketchySAGA keep one scalar per sample.
"""

from __future__ import annotations

import abc
import numbers

import numpy as np

from rnla import _backend
from rnla._validation import check_array, check_finite_array
from rnla.operators import Operator

from ._finite_sum import _check_reg, _FiniteSum, _is_real_dtype, check_product_input

__all__ = ["GLMBatch", "LeastSquares", "Logistic"]


def _check_same_library(X, a, name):
    """``TypeError`` naming ``name`` if the array ``a`` comes from another array library than ``X``."""
    if getattr(a, "shape", None) is None or getattr(a, "dtype", None) is None:
        return  # not an array: check_array judges it (lists are read in X's library)
    try:
        _backend.array_namespace(X, a)
    except TypeError as exc:
        raise TypeError(f"{name} must come from the same array library as X: {exc}") from None


def _check_data(X):
    """``X`` as a finite, non-empty 2-D real dense array (:func:`check_array`) or sparse matrix,
    and its namespace. A sparse matrix of complex or non-numeric entries is a ``ValueError``."""
    if not _backend.is_sparse(X):
        X = check_array(X, "X", ndim=2)
        return X, _backend.array_namespace(X)
    xp = _backend.array_namespace(X)
    if not _is_real_dtype(xp, X.dtype):
        raise ValueError(f"X must hold real numbers, got a sparse matrix of dtype {X.dtype}")
    if len(X.shape) != 2 or min(X.shape) < 1:
        raise ValueError(f"X must have at least one sample and one feature, got shape {tuple(X.shape)}")
    check_finite_array(xp, X, "X")
    return X, xp


class GLMBatch:
    """The average of a GLM over a set of samples, with everything the solvers need.

    ``margins``/``rmatvec`` apply the batch's rows ``A_S`` (intercept column included) and their
    transpose; the loss methods combine them. Built by :meth:`LeastSquares.batch` and
    :meth:`Logistic.batch`, not directly.

    Examples
    --------
    >>> import numpy as np
    >>> from optim import LeastSquares
    >>> X = np.arange(12.0).reshape(6, 2)
    >>> prob = LeastSquares(X, np.ones(6), reg=0.1)
    >>> B = prob.batch(np.array([0, 3]))
    >>> B.size, bool(np.allclose(B.grad(np.ones(2)), prob.grad(np.ones(2), idx=np.array([0, 3]))))
    (2, True)
    >>> H = B.hessian_operator(np.zeros(2))          # data Hessian X_Bᵀ X_B / 2, no penalty
    >>> (H @ np.eye(2)).tolist()
    [[18.0, 21.0], [21.0, 25.0]]
    """

    #: :meth:`hessian_operator` sketches the data Hessian only; the penalty is added to ``ρ``.
    sketch_includes_penalty = False

    def __init__(self, problem, X, y, sw, size):
        self.problem = problem
        self.X = X
        self.y = y
        self.sw = sw
        self.size = size
        self._xp = problem.xp
        self._d = problem.n_features
        self._intercept = problem.fit_intercept
        self._sparse = _backend.is_sparse(X)

    def _in_dtype(self, V):
        """``V`` in the problem's dtype: a float64 vector never turns float32 ``X`` into a float64 copy."""
        dtype = self.problem.dtype
        return V if V.dtype == dtype else self._xp.astype(V, dtype)

    def margins(self, W):
        """``A_S W`` for ``W`` of shape ``(dim,)`` or ``(dim, k)``.

        With ``x_offset`` the rows are ``x_i − x_offset`` (applied as a rank-one correction).
        """
        W = self._in_dtype(W)
        coef = W[: self._d, ...] if self._intercept else W
        Z = self.X @ coef
        offset = self.problem.x_offset
        shift = None if offset is None else -(offset @ coef)
        if self._intercept:
            shift = W[self._d, ...] if shift is None else shift + W[self._d, ...]
        return Z if shift is None else Z + shift

    def rmatvec(self, R):
        """``A_Sᵀ R`` for ``R`` of shape ``(size,)`` or ``(size, k)``."""
        xp = self._xp
        R = self._in_dtype(R)
        out = _backend.transpose_matmul(self.X, R)
        offset = self.problem.x_offset
        if offset is None and not self._intercept:
            return out
        total = xp.sum(R, axis=0)
        if offset is not None:
            out = out - (offset * total if R.ndim == 1 else offset[:, None] * total[None, :])
        if not self._intercept:
            return out
        return xp.concat([out, xp.reshape(total, (1, *total.shape))], axis=0)

    @staticmethod
    def weighted(values, sw):
        if sw is None:
            return values
        return values * (sw if values.ndim == 1 else sw[:, None])

    def _penalty(self, w):
        pen = self.problem._penalty
        return w if pen is None else w * (pen if w.ndim == 1 else pen[:, None])

    def _penalty_value(self, w):
        reg = self.problem.reg
        if not reg:
            return 0.0
        wc = w[: self.problem._n_penalised]
        return 0.5 * reg * _backend.to_float(wc @ wc)

    def residuals(self, w):
        """Per-sample loss derivatives ``s_i ℓ'(a_iᵀw)`` (what SketchySAGA stores per sample)."""
        return self.weighted(self.problem.dloss(self.margins(w), self.y), self.sw)

    def _value_from_margins(self, w, z) -> float:
        losses = self.weighted(self.problem.loss(z, self.y), self.sw)
        return _backend.to_float(self._xp.sum(losses)) / self.size + self._penalty_value(w)

    def _grad_from_residuals(self, r, w):
        """``A_Sᵀ r / |S| + reg · w_coef``: the gradient part shared by all gradient forms."""
        g = self.rmatvec(r) * (1.0 / self.size)
        reg = self.problem.reg
        return g + reg * self._penalty(self._in_dtype(w)) if reg else g

    def value(self, w) -> float:
        return self._value_from_margins(w, self.margins(w))

    def grad(self, w):
        return self._grad_from_residuals(self.residuals(w), w)

    def value_and_grad(self, w):
        return self.value_grad_margins(w)[:2]

    def value_grad_margins(self, w):
        """``(value, gradient, margins)`` at ``w``: the margins for a Hessian at the same point."""
        z = self.margins(w)
        r = self.weighted(self.problem.dloss(z, self.y), self.sw)
        return self._value_from_margins(w, z), self._grad_from_residuals(r, w), z

    def _margin_pair(self, w, w_ref):
        """Margins at ``w`` and ``w_ref`` from one block product with the batch's rows."""
        Z = self.margins(self._xp.stack([w, w_ref], axis=1))
        return Z[:, 0], Z[:, 1]

    def grad_diff(self, w, w_ref):
        """``∇f_S(w) − ∇f_S(w_ref)`` with one pass over the batch's rows."""
        z, z_ref = self._margin_pair(w, w_ref)
        dl = self.problem.dloss
        r = self.weighted(dl(z, self.y) - dl(z_ref, self.y), self.sw)
        return self._grad_from_residuals(r, w - w_ref)

    def hessian_operator(self, w, include_penalty=False, margins=None):
        """The data Hessian ``A_Sᵀ diag(s ℓ'') A_S / |S|`` at ``w``, plus the penalty if asked
        (``margins``: ``A_S w`` if already computed, from :meth:`value_grad_margins`)."""
        z = self.margins(w) if margins is None else margins
        c = self.weighted(self.problem.d2loss(z, self.y), self.sw) * (1.0 / self.size)

        def data_hessian(V):
            Z = self.margins(V)
            return self.rmatvec(Z * (c if Z.ndim == 1 else c[:, None]))

        return self._operator(data_hessian, include_penalty)

    def _operator(self, data_hessian, include_penalty):
        """``data_hessian`` (plus ``reg`` on the coefficients if asked) as an :class:`rnla.Operator`."""
        p = self.problem
        reg = p.reg if include_penalty else 0.0

        def matmat(V):
            V = self._in_dtype(V)
            out = data_hessian(V)
            return out + reg * self._penalty(V) if reg else out

        return Operator((p.dim, p.dim), matmat, matvec=matmat, dtype=p.dtype, xp=p.xp, device=p.device)

    def hvp(self, w, V):
        return self.hessian_operator(w, include_penalty=True) @ V


class _GLM(_FiniteSum):
    """Shared data handling of the generalised linear models."""

    def __init__(self, X, y, reg=0.0, *, fit_intercept=False, sample_weight=None, x_offset=None):
        X, xp = _check_data(X)
        n, d = X.shape
        dtype = _backend.float_dtype(xp, X.dtype)
        if _backend.is_sparse(X):
            X = X.tocsr().astype(dtype)
        y = self._check_targets(xp, X, y, n)
        if sample_weight is not None:
            _check_same_library(X, sample_weight, "sample_weight")
        self.reg = _check_reg(reg)
        if not isinstance(fit_intercept, (numbers.Integral, np.bool_)) or fit_intercept not in (0, 1):
            raise TypeError(f"fit_intercept must be a bool, got {fit_intercept!r}")
        self.fit_intercept = bool(fit_intercept)
        self.X = X
        self.xp = xp
        self.dtype = dtype
        self.device = _backend.device_of(X)
        self.n_samples = n
        self.n_features = d
        self.y = self._prepare_targets(xp, y, dtype)
        self.sample_weight = self._prepare_weights(xp, sample_weight, n, dtype)
        self.x_offset = self._prepare_offset(xp, x_offset, d, dtype)
        self._set_penalty(xp, dtype)

    def _prepare_offset(self, xp, x_offset, d, dtype):
        if x_offset is None:
            return None
        x_offset = check_array(x_offset, "x_offset", xp=xp, ndim=1)
        if x_offset.shape[0] != d:
            raise ValueError(f"x_offset must have shape ({d},) to match X with {d} columns, "
                             f"got {tuple(x_offset.shape)}")
        return x_offset if x_offset.dtype == dtype else xp.astype(x_offset, dtype)

    def _set_penalty(self, xp, dtype, n_outputs=1):
        """Penalty mask: ones on the coefficients, zeros on the intercept (the last row)."""
        d = self.n_features
        self.dim = (d + int(self.fit_intercept)) * n_outputs
        self._n_penalised = d * n_outputs
        if self.fit_intercept:
            self._penalty = xp.concat([xp.ones(d * n_outputs, dtype=dtype, device=self.device),
                                       xp.zeros(n_outputs, dtype=dtype, device=self.device)])
        else:
            self._penalty = None

    @staticmethod
    def _check_targets(xp, X, y, n):
        """``y`` as a finite real ``(n,)`` array of ``X``'s library (an ``(n, 1)`` column is flattened)."""
        _check_same_library(X, y, "y")
        y = check_array(y, "y", xp=xp, ndim=(1, 2))
        if y.ndim == 2 and y.shape[1] == 1:
            y = xp.reshape(y, (-1,))
        if y.ndim != 1 or y.shape[0] != n:
            raise ValueError(f"y must have shape ({n},) to match X with {n} rows, got {tuple(y.shape)}")
        return y

    @staticmethod
    def _prepare_weights(xp, sample_weight, n, dtype):
        if sample_weight is None:
            return None
        sample_weight = check_array(sample_weight, "sample_weight", xp=xp, ndim=1, allow_empty=True)
        if sample_weight.shape != (n,):
            raise ValueError(f"sample_weight must have shape ({n},), got {tuple(sample_weight.shape)}")
        if sample_weight.dtype != dtype:
            sample_weight = xp.astype(sample_weight, dtype)
        if bool(xp.any(sample_weight < 0)):
            raise ValueError("sample_weight must be non-negative")
        total = _backend.to_float(xp.sum(sample_weight))
        if total <= 0:
            raise ValueError("sample_weight must have a positive sum")
        return sample_weight * (n / total)

    def _xp_for_idx(self):
        return self.xp

    def _check_w(self, w, name="w", block=False):
        hint = " (dim = n_features + 1 with the intercept)" if self.fit_intercept else ""
        return check_product_input(self.xp, w, name, self.dim, block=block, dtype=self.dtype, hint=hint)

    _batch_type = GLMBatch

    def batch(self, idx=None):
        """The average over the samples ``idx`` (all if ``None``) as a :class:`GLMBatch`."""
        cls = self._batch_type
        if idx is None:
            return cls(self, self.X, self.y, self.sample_weight, self.n_samples)
        xp = self.xp
        sw = None if self.sample_weight is None else xp.take(self.sample_weight, idx, axis=0)
        return cls(self, _backend.take_rows(xp, self.X, idx), xp.take(self.y, idx, axis=0), sw,
                   int(idx.shape[0]))

    def curvature(self, w, idx=None):
        """Per-sample curvature weights ``s_i ℓ''(a_iᵀw)`` of the samples ``idx`` (all if ``None``).

        The data Hessian of the batch is ``A_Sᵀ diag(curvature) A_S / |S|``.
        """
        b = self.batch(self._check_idx(idx))
        return b.weighted(self.d2loss(b.margins(self._check_w(w)), b.y), b.sw)

    # Per-sample loss and its derivative in the margin z. The binary models also define d2loss,
    # the curvature weight; Multinomial's per-sample curvature is a K × K block instead.
    @abc.abstractmethod
    def loss(self, z, y):
        """Per-sample loss ``ℓ(z; y)``."""

    @abc.abstractmethod
    def dloss(self, z, y):
        """Per-sample derivative ``ℓ'(z; y)``."""


class LeastSquares(_GLM):
    """Ridge least squares ``f(w) = (1/2n) Σ s_i (a_iᵀw − y_i)² + (reg/2) ‖w_coef‖²``.

    With unit sample weights, ``reg = alpha / n`` gives the solution of scikit-learn's
    ``Ridge(alpha)`` (which minimises ``‖Xw − y‖² + alpha ‖w‖²``); with sample weights
    ``reg = alpha / Σ s_i``.

    Parameters
    ----------
    X : (n, d) array or sparse matrix
        Data (NumPy, CuPy, SciPy sparse or CuPy sparse); float32 stays float32.
    y : (n,) array
        Targets.
    reg : float, default 0
        L2 penalty ``>= 0`` on the coefficients (never on the intercept).
    fit_intercept : bool, default False
        Append an unpenalised intercept as the last entry of ``w`` (``dim = d + 1``).
    sample_weight : (n,) array, optional
        Non-negative weights, rescaled internally to mean one.
    x_offset : (n_features,) array, optional
        Subtract ``x_offset`` from every row of ``X`` (centring), implicitly: ``X`` is never
        copied and sparse ``X`` stays sparse.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.standard_normal((50, 3)), rng.standard_normal(50)
    >>> prob = LeastSquares(X, y, reg=2.0 / 50)
    >>> w = Ridge(alpha=2.0, fit_intercept=False).fit(X, y).coef_
    >>> bool(np.linalg.norm(prob.grad(w)) < 1e-12)
    True
    """

    @staticmethod
    def _prepare_targets(xp, y, dtype):
        return y if y.dtype == dtype else xp.astype(y, dtype)

    def loss(self, z, y):
        r = z - y
        return 0.5 * (r * r)

    def dloss(self, z, y):
        return z - y

    def d2loss(self, z, y):
        return self.xp.ones_like(z)

    def __repr__(self):
        return (f"LeastSquares(n_samples={self.n_samples}, n_features={self.n_features}, reg={self.reg:g}, "
                f"fit_intercept={self.fit_intercept})")


class Logistic(_GLM):
    """Binary logistic regression ``f(w) = (1/n) Σ s_i log(1 + exp(−ỹ_i a_iᵀw)) + (reg/2) ‖w_coef‖²``.

    Labels may be given as ``{0, 1}``, ``{-1, 1}`` or booleans; ``ỹ_i = ±1``. The per-sample
    curvature is ``ℓ'' = p(1 − p)`` with ``p = σ(a_iᵀw)``. With unit sample weights,
    ``reg = 1 / (C n)`` gives the solution of scikit-learn's ``LogisticRegression(C=C)``.

    Parameters
    ----------
    X : (n, d) array or sparse matrix
        Data (NumPy, CuPy, SciPy sparse or CuPy sparse); float32 stays float32.
    y : (n,) array
        Binary labels.
    reg : float, default 0
        L2 penalty ``>= 0`` on the coefficients (never on the intercept).
    fit_intercept : bool, default False
        Append an unpenalised intercept as the last entry of ``w``.
    sample_weight : (n,) array, optional
        Non-negative weights, rescaled internally to mean one.
    x_offset : (n_features,) array, optional
        Subtract ``x_offset`` from every row of ``X`` (centring), implicitly: ``X`` is never
        copied and sparse ``X`` stays sparse.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> prob = Logistic(X, np.array([0, 1, 1]), reg=0.1)
    >>> bool(np.isclose(prob.value(np.zeros(2)), np.log(2)))
    True
    >>> prob.grad(np.zeros(2)).round(4).tolist()
    [0.0, -0.3333]
    """

    @staticmethod
    def _prepare_targets(xp, y, dtype):
        if xp.isdtype(y.dtype, "bool"):
            return xp.astype(y, dtype)
        if not xp.isdtype(y.dtype, ("real floating", "integral")):
            raise ValueError(f"y must hold binary labels in {{0, 1}} or {{-1, 1}}, got dtype {y.dtype}")
        is_zero, is_one, is_minus = (y == 0), (y == 1), (y == -1)
        if not bool(xp.all(is_zero | is_one | is_minus)):
            bad = _backend.to_numpy(y[~(is_zero | is_one | is_minus)][:3]).tolist()
            raise ValueError(f"y must hold binary labels in {{0, 1}} or {{-1, 1}}; found {bad}")
        if bool(xp.any(is_zero)) and bool(xp.any(is_minus)):
            raise ValueError("y mixes the label conventions {0, 1} and {-1, 1} (it holds 0 and -1)")
        return xp.astype(is_one, dtype)  # stored as {0, 1}

    def _sigmoid(self, z):
        xp = self.xp
        e = xp.exp(-xp.abs(z))  # never overflows
        return xp.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))

    def loss(self, z, y):
        return self.xp.logaddexp(self.xp.zeros_like(z), z) - y * z

    def dloss(self, z, y):
        return self._sigmoid(z) - y

    def d2loss(self, z, y):
        p = self._sigmoid(z)
        return p * (1.0 - p)

    def __repr__(self):
        return (f"Logistic(n_samples={self.n_samples}, n_features={self.n_features}, reg={self.reg:g}, "
                f"fit_intercept={self.fit_intercept})")
