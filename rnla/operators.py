"""One operator type for everything that only needs products.

:func:`as_operator` turns a dense array (NumPy, CuPy, any array-API array), a SciPy or CuPy
sparse matrix, a :class:`scipy.sparse.linalg.LinearOperator`, or a ``(shape, matvec[,
matmat])`` tuple of callables into an :class:`Operator` that applies to single vectors and
to blocks of vectors with one call. :class:`GramOperator` is the weighted Gram operator
``v -> Xᵀ D X v / n + mu v`` of ridge and GLM Hessians, applied without forming ``XᵀX``.
"""

from __future__ import annotations

import math
import numbers

import array_api_compat
import numpy as np

from . import _backend
from ._validation import (
    check_array,
    check_bool,
    check_callable,
    check_finite_array,
    check_nonnegative,
    check_positive_int,
    check_product_input,
    is_real_dtype,
)

__all__ = ["GramOperator", "Operator", "as_operator", "check_symmetric"]


class Operator:
    """A linear operator applied to vectors ``(n,)`` and blocks ``(n, k)``.

    Parameters
    ----------
    shape : tuple of int
        ``(m, n)``.
    matmat : callable
        Maps an ``(n, k)`` block to the ``(m, k)`` block of products.
    matvec : callable, optional
        Maps an ``(n,)`` vector to ``(m,)``; defaults to ``matmat`` on a one-column block.
    dtype : dtype, optional
        Dtype of the products, if known (``None`` for callables: taken from the data).
    xp : namespace, optional
        Array namespace of the products, if known.
    device : optional
        Device of the products, if known.
    noise_level : float, optional
        Absolute rounding level of the products per unit-norm input (see
        :attr:`noise_level`); ``None`` if unknown.
    flops : int, optional
        Multiply-adds of one product with a vector (the stored entries of a matrix), if known:
        :func:`rnla.nystrom_pcg` weighs a sketch against plain CG with it.
    dense : bool, default False
        Whether block products run at BLAS-3 speed (a dense matrix), for the same weighing.

    Examples
    --------
    >>> import numpy as np
    >>> op = Operator((2, 2), lambda V: 2.0 * V)
    >>> op @ np.ones(2)
    array([2., 2.])
    """

    def __init__(self, shape, matmat, *, matvec=None, dtype=None, xp=None, device=None,
                 noise_level=None, flops=None, dense=False):
        shape = _check_shape(shape, "shape")
        matmat = check_callable(matmat, "matmat", optional=False)
        matvec = check_callable(matvec, "matvec")
        if noise_level is not None:
            noise_level = check_nonnegative(noise_level, "noise_level", allow_inf=True)
        self.shape = shape
        self.dtype = dtype
        self.xp = xp
        self.device = device
        self._matmat = matmat
        self._matvec = matvec
        self._noise_level = noise_level
        self.flops = None if flops is None else check_positive_int(flops, "flops")
        self.dense = check_bool(dense, "dense")

    @property
    def noise_level(self):
        """Rounding level of the products, or ``None`` if unknown.

        An absolute bound, per unit-norm input vector, on the rounding error of a product
        ``A v`` (typically ``eps`` times the magnitude of the terms the product sums, times a
        modest factor). It lets the sketching routines tell rounding noise from signal: an
        operator whose products are all below it is numerically zero, hence symmetric and
        positive semidefinite, however asymmetric its rounding noise (a centred Gram operator
        of constant features). Operators that cancel large terms should give it.
        """
        return self._noise_level

    def matvec(self, v):
        """Apply to a single vector of shape ``(n,)``.

        Only ``v``'s kind, dtype and shape are checked (``O(1)``, no pass over the data):
        ``TypeError`` if it is not an array, ``ValueError`` for complex, string or object
        content or a shape other than ``(n,)``. NaN in ``v`` is the caller's concern.
        """
        v = check_product_input(v, "v", self.shape[1], lists=True)
        if self._matvec is not None:
            return self._matvec(v)
        xp = _backend.array_namespace(v)
        return xp.reshape(self._matmat(xp.reshape(v, (-1, 1))), (-1,))

    def matmat(self, V):
        """Apply to a block ``(n, k)`` in one call (``V`` checked as in :meth:`matvec`)."""
        return self._matmat(check_product_input(V, "V", self.shape[1], shape="block", lists=True))

    def __matmul__(self, V):
        return self.matvec(V) if getattr(V, "ndim", 1) == 1 else self.matmat(V)

    def __repr__(self):
        return f"<{type(self).__name__} shape={self.shape} dtype={self.dtype}>"


class GramOperator(Operator):
    """Weighted Gram operator ``v -> Xᵀ diag(weights) X v / n + mu v`` (never forms ``XᵀX``).

    The Hessian of ridge regression is ``GramOperator(X, mu=reg)``; that of an L2-regularised
    GLM at ``w`` is ``GramOperator(X, weights=loss''(X w), mu=reg)``.

    Products are computed in the floating dtype of ``X`` and ``X`` is never copied: a block or
    vector of another dtype is cast to ``X``'s dtype first (it is small), and the result is
    returned in the dtype NumPy's promotion gives (float64 for float32 ``X`` and a float64
    vector, with float32 accuracy; float32 stays float32). For sparse ``X`` a block is applied
    in column chunks, so the dense ``n × chunk`` intermediate ``X V`` stays about as large as
    ``X``'s stored entries (at least 8 columns at a time) instead of ``n × k``.

    Parameters
    ----------
    X : (n, d) dense or sparse array
        Data matrix (NumPy, CuPy, SciPy sparse or CuPy sparse).
    weights : (n,) array, optional
        Non-negative per-sample curvature weights ``D``; all ones if omitted.
    mu : float, default 0
        Shift added to the Gram operator.
    check_finite : bool, default True
        Check ``X`` for NaN and infinity (one pass over it). ``False`` skips the pass when the
        caller has validated ``X`` already, as SciPy's ``check_finite``; non-finite data then
        give non-finite products, which the solvers report.

    Attributes
    ----------
    noise_level : float
        Rounding level of the products (see :attr:`Operator.noise_level`), from the bound
        ``‖Xᵀ D X / n‖₂ <= Σ_i D_i ‖x_i‖² / n``; computed on first use (one pass over ``X``).
        Operators built from this one by cancelling terms (a centred Gram operator) should
        pass it on.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(6.0).reshape(3, 2)
    >>> G = GramOperator(X, mu=0.5)
    >>> np.allclose(G @ np.eye(2), X.T @ X / 3 + 0.5 * np.eye(2))
    True
    >>> (GramOperator(X.astype(np.float32)) @ np.ones(2, dtype=np.float32)).dtype
    dtype('float32')
    """

    #: Fewest columns of a sparse block applied at once.
    MIN_CHUNK = 8

    def __init__(self, X, weights=None, mu=0.0, check_finite=True):
        if not _backend.is_sparse(X):
            # Kind, content and ndim of dense data (lists are read as arrays, as check_array
            # does); finiteness is checked once below, after the cast.
            X = check_array(X, "X", ndim=2, allow_empty=True, finite=False)
        elif X.ndim != 2:
            raise ValueError(f"X must be a 2-D array, got a sparse array of shape {X.shape}")
        mu = check_nonnegative(mu, "mu")
        xp = _backend.array_namespace(X)
        X, dtype = _float_matrix(xp, X, "X", finite=check_bool(check_finite, "check_finite"))
        n, d = X.shape
        if weights is not None:
            if getattr(weights, "shape", None) is None:
                weights = check_array(weights, "weights", xp=xp, finite=False)
            if tuple(weights.shape) != (n,):
                raise ValueError(f"weights must have shape ({n},), got {tuple(weights.shape)}")
            weights = check_array(weights, "weights", xp=xp)
            if weights.dtype != dtype:
                weights = xp.astype(weights, dtype)
            if bool(xp.any(weights < 0)):
                raise ValueError("weights must be non-negative")
        self.X = X
        self.weights = weights
        self.mu = mu
        self.n_samples = n
        # CuPy applies CSC transposes slowly; keep a CSR copy of Xᵀ there.
        if _backend.is_sparse(X) and _backend.is_cupy_namespace(xp):
            self._XT = X.T.tocsr()
        else:
            self._XT = X.T
        if _backend.is_sparse(X):
            stored = X.data.nbytes + getattr(X, "indices", X.data).nbytes
            self._chunk = max(self.MIN_CHUNK, stored // max(1, n * X.data.itemsize))
        else:
            self._chunk = None
        sparse = _backend.is_sparse(X)
        super().__init__((d, d), self._apply, matvec=self._apply, dtype=dtype, xp=xp,
                         device=_backend.device_of(X), flops=2 * (X.nnz if sparse else n * d) + d,
                         dense=not sparse)
        self._noise_level = None

    @property
    def noise_level(self):
        if self._noise_level is None:
            self._noise_level = self._rounding_level()
        return self._noise_level

    def _rounding_level(self) -> float:
        xp, X = self.xp, self.X
        if _backend.is_sparse(X):
            sq = X.multiply(X)
            rows = xp.reshape(xp.asarray(sq.sum(axis=1)), (-1,))
        else:
            rows = xp.vecdot(X, X, axis=-1)  # no n × d temporary
        total = xp.sum(rows) if self.weights is None else xp.sum(self.weights * rows)
        bound = _backend.to_float(total) / self.n_samples
        if not math.isfinite(bound):
            return math.inf
        eps = float(xp.finfo(self.dtype).eps)
        factor = 16.0 * (math.sqrt(self.n_samples) + math.sqrt(self.shape[0]))
        return factor * eps * bound + eps * self.mu

    def _apply(self, V):
        Vd, out_dtype = _backend.in_data_dtype(self.X, V)
        if V.ndim == 2 and self._chunk is not None and V.shape[1] > self._chunk:
            xp = self.xp
            step = self._chunk
            out = xp.concat([self._gram(Vd[:, j:j + step]) for j in range(0, V.shape[1], step)], axis=1)
        else:
            out = self._gram(Vd)
        if out_dtype is not None:
            out = self.xp.astype(out, out_dtype)
        return out + self.mu * V if self.mu else out

    def _gram(self, V):
        """``Xᵀ D X V / n`` in the data's dtype (``V`` already cast to it)."""
        if V.ndim == 2 and not _backend.is_sparse(self.X):
            # Blocks in row-major form, (Vᵀ Xᵀ) then (Zᵀ D) X: the same products, but BLAS runs
            # them 15-40% faster on C-ordered X than X V and Xᵀ Z (measured with OpenBLAS).
            Zt = V.T @ self._XT
            if self.weights is not None:
                Zt = Zt * self.weights
            return (Zt @ self.X).T * (1.0 / self.n_samples)
        Z = self.X @ V
        if self.weights is not None:
            w = self.weights if V.ndim == 1 else self.weights[:, None]
            if _backend.is_sparse(self.X):
                Z *= w  # Z is a fresh dense array: weight it in place (no second n × chunk)
            else:
                Z = Z * w
        return (self._XT @ Z) * (1.0 / self.n_samples)

    def diagonal(self):
        """The diagonal ``Σ_i D_i X_ij² / n + mu`` (for Jacobi preconditioning)."""
        xp = self.xp
        if _backend.is_sparse(self.X):
            sq = self.X.multiply(self.X)
            w = self.weights if self.weights is not None else xp.ones(self.n_samples, dtype=self.dtype)
            diag = xp.asarray(sq.T @ w)
        else:
            sq = self.X * self.X
            diag = xp.sum(sq, axis=0) if self.weights is None else self.weights @ sq
        return diag * (1.0 / self.n_samples) + self.mu


def check_symmetric(A, name: str = "A", *, rtol=None, atol=0.0) -> None:
    """Raise ``ValueError`` if the dense or sparse square matrix ``A`` is clearly non-symmetric.

    "Clearly" means ``‖A − Aᵀ‖_F > rtol ‖A‖_F + atol`` with ``rtol = sqrt(eps)`` of the dtype
    by default, so rounding noise passes and real asymmetry does not. The norms are computed
    with scaling (no overflow or underflow), so the verdict does not depend on the scale of
    ``A`` anywhere in the floating range. A zero matrix is symmetric; ``atol`` (the rounding
    level of ``A``'s entries, if the caller knows it) lets a matrix that is only rounding
    noise pass too.

    Examples
    --------
    >>> import numpy as np
    >>> check_symmetric(np.eye(3))
    >>> check_symmetric(1e-300 * np.eye(3))
    >>> check_symmetric(np.triu(np.ones((3, 3))))
    Traceback (most recent call last):
    ...
    ValueError: A is not symmetric: ‖A − Aᵀ‖_F / ‖A‖_F = 1
    """
    xp = _backend.array_namespace(A)
    if rtol is None:
        rtol = math.sqrt(xp.finfo(_backend.float_dtype(xp, A.dtype)).eps)
    rtol = check_nonnegative(rtol, "rtol")
    atol = check_nonnegative(atol, "atol")
    if _backend.is_sparse(A):
        A = A.tocsr(copy=True)
        A.sum_duplicates()
        num = _backend.scaled_norm(xp, (A - A.T).data)
        den = _backend.scaled_norm(xp, A.data)
    else:
        num = _backend.scaled_norm(xp, A - A.T)
        den = _backend.scaled_norm(xp, A)
    if num > rtol * den + atol:
        raise ValueError(f"{name} is not symmetric: ‖{name} − {name}ᵀ‖_F / ‖{name}‖_F = {num / den:.2g}")


def _is_scipy_linear_operator(A) -> bool:
    from scipy.sparse.linalg import LinearOperator

    return isinstance(A, LinearOperator)


def as_operator(A, *, shape=None, name: str = "A", square: bool = True, symmetric: bool = False):
    """Adapt ``A`` to an :class:`Operator` (dense, sparse, LinearOperator or callables).

    Parameters
    ----------
    A : array, sparse matrix, LinearOperator, Operator, tuple or callable
        ``(shape, matvec)`` or ``(shape, matvec, matmat)`` tuples describe an operator by
        callables; a bare callable ``v -> A v`` needs ``shape``. Callables that only
        provide ``matvec`` are applied column by column to blocks: pass ``matmat`` for speed.
    shape : tuple, optional
        Shape of a bare callable.
    name : str
        Argument name used in error messages.
    square : bool
        Require a square operator.
    symmetric : bool
        Check dense and sparse matrices for symmetry (callables cannot be checked here).

    Returns
    -------
    Operator

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> as_operator(sp.eye(3)) @ np.ones((3, 2))
    array([[1., 1.],
           [1., 1.],
           [1., 1.]])
    >>> op = as_operator(((2, 2), lambda v: 3 * v))
    >>> op @ np.ones(2)
    array([3., 3.])
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__} {name!r}"[:200])
    square = check_bool(square, "square")
    symmetric = check_bool(symmetric, "symmetric")
    if isinstance(A, Operator):
        op = A
    elif isinstance(A, tuple):
        if len(A) not in (2, 3) or not all(callable(f) for f in A[1:]):
            raise TypeError(f"{name} given as a tuple must be (shape, matvec) or (shape, matvec, matmat)")
        matvec = A[1]
        matmat = A[2] if len(A) == 3 else None
        op = _callable_operator(A[0], matvec, matmat, name)
    elif _is_scipy_linear_operator(A):
        if A.dtype is not None and not is_real_dtype(np, np.dtype(A.dtype)):
            raise ValueError(f"{name} must be real, got a LinearOperator of dtype {A.dtype}")
        op = Operator(A.shape, A.matmat, matvec=A.matvec, dtype=A.dtype, xp=_backend.array_namespace(),
                      device=None)
    elif _backend.is_sparse(A) or array_api_compat.is_array_api_obj(A):
        op = _matrix_operator(A, name, symmetric)
    elif callable(A):
        if shape is None:
            raise TypeError(f"{name} is a bare callable: also give its shape, or pass (shape, matvec)")
        op = _callable_operator(shape, A, None, name)
    else:
        raise TypeError(
            f"{name} must be an array, a sparse matrix, a LinearOperator or (shape, matvec[, matmat]); "
            f"got {type(A).__name__}"
        )
    if square and op.shape[0] != op.shape[1]:
        raise ValueError(f"{name} must be square, got shape {op.shape}")
    return op


def _float_matrix(xp, A, name, finite=True):
    """``A`` (dense or sparse) in its floating compute dtype, checked for NaN/inf: ``(A, dtype)``.

    Complex, string or object content is a ``ValueError`` naming ``name`` (never cast).
    """
    if math.prod(A.shape) == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(A.shape)}")
    check_array(A.data if _backend.is_sparse(A) else A, name, xp=xp, allow_empty=True, finite=False)
    dtype = _backend.float_dtype(xp, A.dtype)
    if A.dtype != dtype:
        A = A.astype(dtype) if _backend.is_sparse(A) else xp.astype(A, dtype)
    if finite:
        check_finite_array(xp, A, name)
    return A, dtype


def _check_shape(shape, name):
    """``shape`` as a pair of positive Python ints.

    ``TypeError`` unless it is a tuple or list of integers (``bool`` and floats are not);
    ``ValueError`` for the wrong length or an entry below 1.
    """
    message = f"{name} must be a pair of positive integers, got {shape!r}"[:200]
    if not isinstance(shape, tuple | list):
        raise TypeError(message)
    if not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in shape):
        raise TypeError(message)
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(message)
    return int(shape[0]), int(shape[1])




def _callable_operator(shape, matvec, matmat, name):
    message = f"the shape of {name} must be a pair of integers, got {shape!r}"
    if not isinstance(shape, (tuple, list)):
        raise TypeError(message)
    if len(shape) != 2 or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in shape):
        raise ValueError(message)
    shape = (int(shape[0]), int(shape[1]))

    if matmat is None:
        def matmat(V):
            xp = _backend.array_namespace(V)
            return xp.stack([matvec(V[:, j]) for j in range(V.shape[1])], axis=1)

    return Operator(shape, matmat, matvec=matvec)


def _matrix_operator(A, name, symmetric):
    if getattr(A, "ndim", None) != 2:
        raise ValueError(f"{name} must be 2-D, got {getattr(A, 'ndim', None)} dimensions")
    xp = _backend.array_namespace(A)
    A, dtype = _float_matrix(xp, A, name)
    if symmetric and A.shape[0] == A.shape[1]:
        check_symmetric(A, name)

    def matmat(V):
        # In A's dtype: cast the (small) V, never A (see GramOperator); promote the result back.
        V, out_dtype = _backend.in_data_dtype(A, V)
        out = A @ V
        return out if out_dtype is None else xp.astype(out, out_dtype)

    sparse = _backend.is_sparse(A)
    return Operator(A.shape, matmat, matvec=matmat, dtype=dtype, xp=xp, device=_backend.device_of(A),
                    flops=max(1, A.nnz if sparse else math.prod(A.shape)), dense=not sparse)
