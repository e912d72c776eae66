"""Finite-sum objectives: ridge least squares, binary logistic regression, and callables.

Every objective here is an average over ``n`` samples plus an L2 penalty,

``f(w) = (1/n) Σ_i s_i ℓ(a_iᵀw; y_i) + (reg/2) ‖w_coef‖²``,

with ``a_i`` the i-th row of ``X`` (followed by a 1 when an unpenalised intercept is fitted)
and ``s_i`` sample weights rescaled to mean one. The stochastic solvers of
:mod:`optim.sketchy` see a problem only through :meth:`batch`, which returns an object with
the value, gradient, gradient difference and Hessian products of the average over a subset of
samples; :class:`LeastSquares` and :class:`Logistic` also expose the per-sample loss
derivatives that let SketchySAGA keep one scalar per sample.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from rnla import _backend
from rnla._validation import check_finite_array, check_nonnegative
from rnla.operators import Operator

__all__ = ["LeastSquares", "Logistic", "Multinomial", "Objective"]


def _check_reg(reg):
    return check_nonnegative(reg, "reg")


class _FiniteSum:
    """What the solvers need from a problem: ``n_samples``, ``dim``, ``reg``, ``batch(idx)``."""

    n_samples: int | None
    reg: float

    def batch(self, idx=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_idx(self, idx):
        if idx is None:
            return None
        if self.n_samples is None:
            raise ValueError("idx was given, but this objective is not a finite sum (n_samples is None)")
        xp = self._xp_for_idx()
        idx = xp.asarray(idx) if not hasattr(idx, "dtype") else idx
        if idx.ndim != 1 or not xp.isdtype(idx.dtype, "integral"):
            raise ValueError(f"idx must be a 1-D array of integer sample indices, got {idx!r}")
        if idx.shape[0] == 0:
            raise ValueError("idx must select at least one sample")
        lo, hi = _backend.to_float(xp.min(idx)), _backend.to_float(xp.max(idx))
        if lo < 0 or hi >= self.n_samples:
            raise ValueError(f"idx must lie in [0, {self.n_samples}), got values in [{lo:g}, {hi:g}]")
        return idx

    def _xp_for_idx(self):
        return _backend.array_namespace()

    def value(self, w, idx=None) -> float:
        """Objective value at ``w``, averaged over the samples ``idx`` (all if ``None``)."""
        return self.batch(self._check_idx(idx)).value(self._check_w(w))

    def grad(self, w, idx=None):
        """Gradient at ``w`` of the average over ``idx`` (all samples if ``None``)."""
        return self.batch(self._check_idx(idx)).grad(self._check_w(w))

    def value_and_grad(self, w, idx=None):
        """``(value, gradient)`` sharing one pass over the data."""
        return self.batch(self._check_idx(idx)).value_and_grad(self._check_w(w))

    def hvp(self, w, v, idx=None):
        """Hessian at ``w`` (average over ``idx``) times ``v`` of shape ``(dim,)`` or ``(dim, k)``."""
        w = self._check_w(w)
        v = self._check_w(v, "v", block=True)
        return self.batch(self._check_idx(idx)).hvp(w, v)

    def _check_w(self, w, name="w", block=False):  # pragma: no cover - overridden
        return w


class _GLM(_FiniteSum):
    """Shared data handling of the generalised linear models."""

    def __init__(self, X, y, reg, *, fit_intercept=False, sample_weight=None):
        if getattr(X, "ndim", None) != 2:
            raise ValueError(f"X must be a 2-D array or sparse matrix, got {type(X).__name__}")
        xp = _backend.array_namespace(X)
        if y is not None and getattr(y, "ndim", None) is None:
            y = xp.asarray(y, device=_backend.device_of(X))
        if sample_weight is not None and getattr(sample_weight, "ndim", None) is None:
            sample_weight = xp.asarray(sample_weight, device=_backend.device_of(X))
        try:
            xp = _backend.array_namespace(X, y, sample_weight)
        except TypeError as exc:
            raise TypeError(f"X, y and sample_weight must come from one array library: {exc}") from None
        n, d = X.shape
        if n < 1 or d < 1:
            raise ValueError(f"X must have at least one sample and one feature, got shape {X.shape}")
        dtype = _backend.float_dtype(xp, X.dtype)
        if _backend.is_sparse(X):
            X = X.tocsr().astype(dtype)
        elif X.dtype != dtype:
            X = xp.astype(X, dtype)
        check_finite_array(xp, X, "X")
        if getattr(y, "ndim", None) is None:
            y = xp.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = xp.reshape(y, (-1,))
        if y.ndim != 1 or y.shape[0] != n:
            raise ValueError(f"y must have shape ({n},) to match X with {n} rows, got {tuple(y.shape)}")
        if xp.isdtype(y.dtype, "real floating"):
            check_finite_array(xp, y, "y")
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
        self._set_penalty(xp, dtype)

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
    def _prepare_weights(xp, sample_weight, n, dtype):
        if sample_weight is None:
            return None
        if getattr(sample_weight, "ndim", None) is None:
            sample_weight = xp.asarray(sample_weight)
        if sample_weight.shape != (n,):
            raise ValueError(f"sample_weight must have shape ({n},), got {tuple(sample_weight.shape)}")
        sample_weight = xp.astype(sample_weight, dtype)
        check_finite_array(xp, sample_weight, "sample_weight")
        if bool(xp.any(sample_weight < 0)):
            raise ValueError("sample_weight must be non-negative")
        total = _backend.to_float(xp.sum(sample_weight))
        if total <= 0:
            raise ValueError("sample_weight must have a positive sum")
        return sample_weight * (n / total)

    def _xp_for_idx(self):
        return self.xp

    def _check_w(self, w, name="w", block=False):
        if getattr(w, "ndim", None) is None:
            raise TypeError(f"{name} must be an array of shape ({self.dim},), got {type(w).__name__}")
        if w.ndim not in ((1, 2) if block else (1,)) or w.shape[0] != self.dim:
            raise ValueError(f"{name} must have shape ({self.dim},), got {tuple(w.shape)}"
                             + (" (dim = n_features + 1 with the intercept)" if self.fit_intercept else ""))
        if w.dtype != self.dtype:
            w = self.xp.astype(w, self.dtype)
        return w

    _batch_type = None  # GLMBatch, set below

    def batch(self, idx=None):
        """The average over the samples ``idx`` (all if ``None``) as a :class:`GLMBatch`."""
        cls = self._batch_type or GLMBatch
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

    # Per-sample loss and derivatives of the margin z; subclasses define them.
    def loss(self, z, y):  # pragma: no cover - abstract
        raise NotImplementedError

    def dloss(self, z, y):  # pragma: no cover - abstract
        raise NotImplementedError

    def d2loss(self, z, y):  # pragma: no cover - abstract
        raise NotImplementedError


class GLMBatch:
    """The average of a GLM over a set of samples, with everything the solvers need.

    ``margins``/``rmatvec`` apply the batch's rows ``A_S`` (intercept column included) and their
    transpose; the loss methods combine them. Built by :meth:`LeastSquares.batch` and
    :meth:`Logistic.batch`, not directly.
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

    def margins(self, W):
        """``A_S W`` for ``W`` of shape ``(dim,)`` or ``(dim, k)``."""
        if not self._intercept:
            return self.X @ W
        return self.X @ W[: self._d, ...] + W[self._d, ...]

    def rmatvec(self, R):
        """``A_Sᵀ R`` for ``R`` of shape ``(size,)`` or ``(size, k)``."""
        xp = self._xp
        if self._sparse:
            out = self.X.T @ R
        elif R.ndim == 1:
            out = R @ self.X
        else:
            out = (R.T @ self.X).T
        if not self._intercept:
            return out
        total = xp.sum(R, axis=0)
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

    def value(self, w) -> float:
        xp = self._xp
        losses = self.weighted(self.problem.loss(self.margins(w), self.y), self.sw)
        return _backend.to_float(xp.sum(losses)) / self.size + self._penalty_value(w)

    def grad_from_margins(self, w, z):
        r = self.weighted(self.problem.dloss(z, self.y), self.sw)
        g = self.rmatvec(r) * (1.0 / self.size)
        reg = self.problem.reg
        return g + reg * self._penalty(w) if reg else g

    def grad(self, w):
        return self.grad_from_margins(w, self.margins(w))

    def value_and_grad(self, w):
        xp = self._xp
        z = self.margins(w)
        losses = self.weighted(self.problem.loss(z, self.y), self.sw)
        value = _backend.to_float(xp.sum(losses)) / self.size + self._penalty_value(w)
        return value, self.grad_from_margins(w, z)

    def grad_diff(self, w, w_ref):
        """``∇f_S(w) − ∇f_S(w_ref)`` with one pass over the batch's rows."""
        xp = self._xp
        Z = self.margins(xp.stack([w, w_ref], axis=1))
        dl = self.problem.dloss
        r = self.weighted(dl(Z[:, 0], self.y) - dl(Z[:, 1], self.y), self.sw)
        g = self.rmatvec(r) * (1.0 / self.size)
        reg = self.problem.reg
        return g + reg * self._penalty(w - w_ref) if reg else g

    def hessian_operator(self, w, include_penalty=False):
        """The data Hessian ``A_Sᵀ diag(s ℓ'') A_S / |S|`` at ``w``, plus the penalty if asked."""
        c = self.weighted(self.problem.d2loss(self.margins(w), self.y), self.sw) * (1.0 / self.size)
        reg = self.problem.reg if include_penalty else 0.0

        def matmat(V):
            Z = self.margins(V)
            out = self.rmatvec(Z * (c if Z.ndim == 1 else c[:, None]))
            return out + reg * self._penalty(V) if reg else out

        p = self.problem
        return Operator((p.dim, p.dim), matmat, matvec=matmat, dtype=p.dtype, xp=p.xp, device=p.device)

    def hvp(self, w, V):
        return self.hessian_operator(w, include_penalty=True) @ V


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

    def __init__(self, X, y, reg=0.0, *, fit_intercept=False, sample_weight=None):
        super().__init__(X, y, reg, fit_intercept=fit_intercept, sample_weight=sample_weight)

    @staticmethod
    def _prepare_targets(xp, y, dtype):
        if not xp.isdtype(y.dtype, ("real floating", "integral", "bool")):
            raise TypeError(f"y must be real, got dtype {y.dtype}")
        return xp.astype(y, dtype)

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

    def __init__(self, X, y, reg=0.0, *, fit_intercept=False, sample_weight=None):
        super().__init__(X, y, reg, fit_intercept=fit_intercept, sample_weight=sample_weight)

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


class MultinomialBatch(GLMBatch):
    """Batch view of :class:`Multinomial`: parameters are the flattened ``(d [+1], K)`` matrix."""

    def _unflatten(self, w):
        p = self.problem
        return self._xp.reshape(w, (p.n_features + int(p.fit_intercept), p.n_classes))

    def margins(self, w):
        """``A_S W`` for the flat parameter vector ``w``: the ``(size, K)`` class scores."""
        return GLMBatch.margins(self, self._unflatten(w))

    def rmatvec(self, R):
        """``A_Sᵀ R`` for ``R`` of shape ``(size, K)``, flattened like the parameters."""
        return self._xp.reshape(GLMBatch.rmatvec(self, R), (-1,))

    def grad_diff(self, w, w_ref):
        dl = self.problem.dloss
        r = self.weighted(dl(self.margins(w), self.y) - dl(self.margins(w_ref), self.y), self.sw)
        g = self.rmatvec(r) * (1.0 / self.size)
        reg = self.problem.reg
        return g + reg * self._penalty(w - w_ref) if reg else g

    def hessian_operator(self, w, include_penalty=False):
        """The data Hessian at ``w``: per sample ``s_i a_i a_iᵀ ⊗ (diag(p_i) − p_i p_iᵀ)``, averaged."""
        xp, p = self._xp, self.problem
        P = p.softmax(self.margins(w))
        scale = (self.sw if self.sw is not None else xp.ones(self.size, dtype=p.dtype, device=p.device))
        scale = scale * (1.0 / self.size)
        reg = p.reg if include_penalty else 0.0
        rows, K = p.n_features + int(p.fit_intercept), p.n_classes

        def matmat(V):
            m = 1 if V.ndim == 1 else V.shape[1]
            Z = GLMBatch.margins(self, xp.reshape(V, (rows, K * m)))       # one block product
            Z = xp.reshape(Z, (self.size, K, m))
            PZ = P[:, :, None] * Z
            R = (PZ - P[:, :, None] * xp.sum(PZ, axis=1, keepdims=True)) * scale[:, None, None]
            out = xp.reshape(GLMBatch.rmatvec(self, xp.reshape(R, (self.size, K * m))), V.shape)
            return out + reg * self._penalty(V) if reg else out

        return Operator((p.dim, p.dim), matmat, matvec=matmat, dtype=p.dtype, xp=xp, device=p.device)


class Multinomial(_GLM):
    """Multinomial (softmax) logistic regression over ``K`` classes.

    ``f(W) = (1/n) Σ s_i (logsumexp(a_iᵀW) − a_iᵀW_{:, y_i}) + (reg/2) ‖W_coef‖²_F`` with
    ``W`` of shape ``(d, K)`` (``(d + 1, K)`` with intercepts, the last row), passed to every
    method flattened in C order (``dim = (d [+1]) K``; ``W = w.reshape(-1, K)``). With unit sample
    weights, ``reg = 1/(C n)`` gives scikit-learn's multinomial ``LogisticRegression(C=C)``, whose
    ``coef_`` is ``Wᵀ``. SketchySAGA keeps ``K`` scalars per sample.

    Parameters
    ----------
    X : (n, d) array or sparse matrix
        Data (NumPy, CuPy, SciPy sparse or CuPy sparse).
    y : (n,) array
        Class labels (any values; ``classes_`` holds them sorted).
    reg : float, default 0
        L2 penalty ``>= 0`` on the coefficients (never on the intercepts).
    fit_intercept : bool, default False
        Add an unpenalised intercept per class.
    sample_weight : (n,) array, optional
        Non-negative weights, rescaled internally to mean one.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> prob = Multinomial(X, y, reg=1.0 / len(y), fit_intercept=True)
    >>> est = LogisticRegression(C=1.0, tol=1e-10, max_iter=1000).fit(X, y)
    >>> w = np.vstack([est.coef_.T, est.intercept_]).ravel()
    >>> bool(np.linalg.norm(prob.grad(w)) < 1e-6)
    True
    """

    _batch_type = MultinomialBatch

    def __init__(self, X, y, reg=0.0, *, fit_intercept=False, sample_weight=None):
        super().__init__(X, y, reg, fit_intercept=fit_intercept, sample_weight=sample_weight)
        self._set_penalty(self.xp, self.dtype, self.n_classes)

    def _prepare_targets(self, xp, y, dtype):
        host = _backend.to_numpy(y)
        if host.dtype.kind == "f" and not bool((host == host.astype(int)).all()):
            raise ValueError("y must hold class labels; found non-integer floating values")
        self.classes_, codes = np.unique(host, return_inverse=True)
        if self.classes_.shape[0] < 2:
            raise ValueError(f"y must hold at least two classes, got {self.classes_.tolist()}")
        self.n_classes = int(self.classes_.shape[0])
        onehot = np.zeros((host.shape[0], self.n_classes))
        onehot[np.arange(host.shape[0]), codes.ravel()] = 1.0
        return _backend.from_numpy(xp, onehot, dtype=dtype, device=self.device)

    def softmax(self, Z):
        xp = self.xp
        E = xp.exp(Z - xp.max(Z, axis=1, keepdims=True))
        return E / xp.sum(E, axis=1, keepdims=True)

    def loss(self, Z, Y):
        xp = self.xp
        zmax = xp.max(Z, axis=1)
        lse = zmax + xp.log(xp.sum(xp.exp(Z - zmax[:, None]), axis=1))
        return lse - xp.sum(Z * Y, axis=1)

    def dloss(self, Z, Y):
        return self.softmax(Z) - Y

    def curvature(self, w, idx=None):
        """Class probabilities ``p_i`` (``(size, K)``) of the samples ``idx``; the per-sample Hessian
        block is ``s_i (diag(p_i) − p_i p_iᵀ) ⊗ a_i a_iᵀ``."""
        b = self.batch(self._check_idx(idx))
        return self.softmax(b.margins(self._check_w(w)))

    def coef_matrix(self, w):
        """``w`` reshaped to the ``(d [+1], K)`` coefficient matrix."""
        return self.xp.reshape(self._check_w(w), (-1, self.n_classes))

    def __repr__(self):
        return (f"Multinomial(n_samples={self.n_samples}, n_features={self.n_features}, "
                f"n_classes={self.n_classes}, reg={self.reg:g}, fit_intercept={self.fit_intercept})")


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
        for name, f in (("fun", fun), ("grad", grad)):
            if not callable(f):
                raise TypeError(f"{name} must be callable, got {type(f).__name__}")
        if hvp is not None and not callable(hvp):
            raise TypeError(f"hvp must be callable or None, got {type(hvp).__name__}")
        if n_samples is not None:
            if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) or n_samples < 1:
                raise ValueError(f"n_samples must be a positive integer or None, got {n_samples!r}")
            n_samples = int(n_samples)
        self.fun, self.grad_fun, self.hvp_fun = fun, grad, hvp
        self.n_samples = n_samples
        self.reg = _check_reg(reg)
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


class CallableBatch:
    """The batch view of an :class:`Objective` (see :meth:`Objective.batch`)."""

    #: The callables define the whole objective: a sketch of the Hessian already holds ``reg``.
    sketch_includes_penalty = True

    def __init__(self, problem, idx):
        self.problem = problem
        self.idx = idx
        self.size = problem.n_samples if idx is None else int(idx.shape[0])
        self._extra = (() if problem.n_samples is None else (idx,)) + problem.args

    def value(self, w) -> float:
        out = self.problem.fun(w, *self._extra)
        try:
            return float(out)
        except (TypeError, ValueError):
            raise TypeError(f"fun must return a scalar, got {type(out).__name__}") from None

    def grad(self, w):
        g = self.problem.grad_fun(w, *self._extra)
        if getattr(g, "shape", None) != w.shape:
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
        xp = _backend.array_namespace(w)

        def matvec(v):
            return self._hvp_vector(w, v)

        def matmat(V):
            return xp.stack([matvec(V[:, j]) for j in range(V.shape[1])], axis=1)

        n = w.shape[0]
        return Operator((n, n), matmat, matvec=matvec, dtype=w.dtype, xp=xp, device=_backend.device_of(w))

    def hvp(self, w, V):
        return self.hessian_operator(w) @ V
