"""Backend shims: array namespace, device, dtype, randomness, sparse detection, linalg.

Everything the array API standard lacks (random numbers, triangular solves, sparse
matrices) goes through this module, so the numerical modules stay namespace-agnostic.
Supported: NumPy and CuPy arrays, SciPy and CuPy sparse matrices, and any namespace that
``array_api_compat`` recognises (``array_api_strict`` is used in the tests to prove that
nothing NumPy-only leaks into the dense core).
"""

from __future__ import annotations

import contextlib
import math
import numbers
import sys

import array_api_compat
import numpy as np

__all__ = [
    "array_namespace",
    "check_fits",
    "check_random_state",
    "cholesky",
    "device_of",
    "eigh",
    "float_dtype",
    "from_numpy",
    "in_data_dtype",
    "is_cupy_namespace",
    "is_sparse",
    "permutation",
    "random_normal",
    "random_sign",
    "scaled_norm",
    "set_items",
    "solve_triangular",
    "take_rows",
    "to_float",
    "to_numpy",
]


def _sparse_module_of(A):
    """Return ``"scipy"``, ``"cupy"`` or ``None`` for the sparse family of ``A``."""
    module = type(A).__module__
    if module.startswith("scipy.sparse"):
        import scipy.sparse

        return "scipy" if scipy.sparse.issparse(A) else None
    if module.startswith("cupyx.scipy.sparse"):
        import cupyx.scipy.sparse

        return "cupy" if cupyx.scipy.sparse.issparse(A) else None
    return None


def is_sparse(A) -> bool:
    """Whether ``A`` is a SciPy or CuPy sparse matrix or array.

    CuPy is never imported unless ``A`` already comes from it.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> is_sparse(sp.eye(3)), is_sparse(np.eye(3))
    (True, False)
    """
    return _sparse_module_of(A) is not None


def array_namespace(*arrays):
    """The array namespace shared by ``arrays`` (``None`` entries are skipped).

    Sparse SciPy matrices count as NumPy, sparse CuPy matrices as CuPy.

    Examples
    --------
    >>> import numpy as np
    >>> array_namespace(np.ones(2), None).__name__
    'array_api_compat.numpy'
    """
    dense = []
    for a in arrays:
        if a is None:
            continue
        family = _sparse_module_of(a)
        if family == "scipy":
            dense.append(np.empty(0))
        elif family == "cupy":
            import cupy

            dense.append(cupy.empty(0))
        else:
            dense.append(a)
    if not dense:
        return array_api_compat.array_namespace(np.empty(0))
    if any(array_api_compat.is_dask_array(a) for a in dense):
        raise TypeError("Dask arrays are not supported yet: compute them to NumPy/CuPy arrays first "
                        "(see the user guide's Dask section)")
    return array_api_compat.array_namespace(*dense)


def is_cupy_namespace(xp) -> bool:
    """Whether ``xp`` is (the compat wrapper of) CuPy."""
    return array_api_compat.is_cupy_namespace(xp)


def device_of(x):
    """The device ``x`` lives on (``None`` for sparse SciPy matrices and host arrays)."""
    family = _sparse_module_of(x)
    if family == "scipy":
        return None
    if family == "cupy":
        return x.data.device
    return array_api_compat.device(x)


def float_dtype(xp, *dtypes):
    """The real floating dtype to compute in for inputs of ``dtypes``.

    Floating inputs keep their (promoted) precision, so float32 stays float32; integer
    and boolean inputs compute in float64. Complex dtypes are rejected.

    Examples
    --------
    >>> import numpy as np
    >>> xp = array_namespace(np.ones(1))
    >>> float_dtype(xp, np.dtype("float32")) == np.float32
    True
    >>> float_dtype(xp, np.int64, np.float32) == np.float64
    True
    """
    result = None
    for dt in dtypes:
        if dt is None:
            continue
        if xp.isdtype(dt, "complex floating"):
            raise TypeError(f"complex dtype {dt} is not supported; use real data")
        if not xp.isdtype(dt, "real floating"):
            dt = xp.float64
        result = dt if result is None else xp.result_type(result, dt)
    return xp.float64 if result is None else result


def check_random_state(random_state) -> np.random.Generator:
    """Turn ``None``, an integer seed or a :class:`numpy.random.Generator` into a Generator.

    Examples
    --------
    >>> bool(check_random_state(0).integers(10) == check_random_state(0).integers(10))
    True
    """
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be a non-negative integer, got {random_state}")
        return np.random.default_rng(int(random_state))
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**31))
    raise TypeError(
        "random_state must be None, an int or a numpy.random.Generator, "
        f"got {type(random_state).__name__}"
    )


#: Most float64 entries one array can hold (NumPy's limit is ``sys.maxsize`` bytes).
MAX_ARRAY_ENTRIES = sys.maxsize // 8


def check_fits(value: int, name: str, *, per: int = 1, what: str = "array") -> int:
    """``value`` unchanged, or ``ValueError`` naming ``name`` when an array of ``value · per``
    float64 entries is larger than any array can be (:data:`MAX_ARRAY_ENTRIES`).

    For counts with no mathematical upper bound (probes, grid points) that size arrays: a
    value this large is wrong, and saying so beats NumPy's "maximum allowed dimension
    exceeded" from deep inside. Smaller values that merely exceed the memory are left to
    the allocator (``MemoryError``).

    Examples
    --------
    >>> check_fits(30, "num_probes", per=1000)
    30
    >>> check_fits(2**62, "num_points", what="grid")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: num_points=4611686018427387904 is too large: the grid of 4611686018427387904 entries ...
    """
    if value * per > MAX_ARRAY_ENTRIES:
        raise ValueError(f"{name}={value} is too large: the {what} of {value * per} entries would "
                         f"exceed the largest possible array ({MAX_ARRAY_ENTRIES} float64 entries)")
    return value


def _numpy_dtype(dtype):
    """The NumPy dtype of the same name (NumPy dtypes and scalar types pass through)."""
    try:
        return np.dtype(dtype)
    except TypeError:
        return np.dtype(str(dtype).split(".")[-1])


def _random(kind, xp, shape, dtype, device, random_state):
    rng = check_random_state(random_state)
    np_dtype = _numpy_dtype(dtype)
    if is_cupy_namespace(xp):
        # Draw on the device from a seed taken from the host generator: reproducible
        # per seed and no host-to-device copy of the whole matrix.
        import cupy

        with device if device is not None else contextlib.nullcontext():
            gen = cupy.random.default_rng(int(rng.integers(2**63)))
            if kind == "normal":
                return gen.standard_normal(shape, dtype=np_dtype)
            heads = gen.random(shape, dtype=cupy.float32) < 0.5
            return cupy.where(heads, 1, -1).astype(np_dtype)
    if kind == "normal":
        out = rng.standard_normal(shape, dtype=np_dtype)
    else:
        out = (2 * rng.integers(0, 2, size=shape, dtype=np.int8) - 1).astype(np_dtype)
    if array_api_compat.is_numpy_namespace(xp):
        return out
    return xp.asarray(out, device=device)


def random_normal(xp, shape, *, dtype, device=None, random_state=None):
    """Standard normal array of ``shape`` in namespace ``xp`` with ``dtype`` on ``device``.

    Examples
    --------
    >>> import numpy as np
    >>> xp = array_namespace(np.ones(1))
    >>> random_normal(xp, (3, 2), dtype=np.float32, random_state=0).dtype
    dtype('float32')
    """
    return _random("normal", xp, shape, dtype, device, random_state)


def random_sign(xp, shape, *, dtype, device=None, random_state=None):
    """Rademacher (+1/-1 with equal probability) array, as :func:`random_normal`.

    Examples
    --------
    >>> import numpy as np
    >>> xp = array_namespace(np.ones(1))
    >>> sorted(set(random_sign(xp, (50,), dtype=np.float64, random_state=0).tolist()))
    [-1.0, 1.0]
    """
    return _random("sign", xp, shape, dtype, device, random_state)


def cholesky(xp, A):
    """Lower Cholesky factor of the symmetric positive definite ``A``.

    Raises :class:`numpy.linalg.LinAlgError` when ``A`` is not numerically positive
    definite, on every backend (CuPy returns NaN instead of raising; this shim checks).
    """
    L = xp.linalg.cholesky(A)
    if is_cupy_namespace(xp) and not bool(xp.all(xp.isfinite(L))):
        raise np.linalg.LinAlgError("matrix is not positive definite")
    return L


def solve_triangular(xp, L, B, *, lower=True):
    """Solve ``L X = B`` for triangular ``L`` (SciPy / CuPy kernels; general solve otherwise)."""
    if array_api_compat.is_numpy_namespace(xp):
        import scipy.linalg

        return scipy.linalg.solve_triangular(L, B, lower=lower, check_finite=False)
    if is_cupy_namespace(xp):
        import cupyx.scipy.linalg

        return cupyx.scipy.linalg.solve_triangular(L, B, lower=lower)
    return xp.linalg.solve(L, B)


def eigh(xp, A):
    """Eigenvalues (ascending) and eigenvectors of the symmetric matrix ``A``."""
    w, V = xp.linalg.eigh(A)
    return w, V


def scaled_norm(xp, x) -> float:
    """Euclidean (Frobenius for 2-D) norm of the dense array ``x``, free of overflow and underflow.

    The entries are scaled by a power of two near ``1 / max|x|`` before squaring (exact,
    as LAPACK's ``nrm2`` does), so the result is right over the whole floating range of the
    dtype: ``scaled_norm(xp, s * x) == s * scaled_norm(xp, x)`` up to rounding for any ``s``
    that keeps ``s * x`` finite and normal. NaN or infinity in ``x`` give a non-finite result.

    Examples
    --------
    >>> xp = array_namespace(np.ones(1))
    >>> [float(f"{scaled_norm(xp, s * np.array([3.0, 4.0])):.12g}") for s in (1e200, 1e-200)]
    [5e+200, 5e-200]
    """
    if math.prod(x.shape) == 0:
        return 0.0
    m = to_float(xp.max(xp.abs(x)))
    if m == 0.0 or not math.isfinite(m):
        return m if not math.isnan(m) else math.nan
    exponent = math.frexp(m)[1]
    half = exponent // 2  # two exact steps: 2**-exponent alone overflows for subnormal maxima
    scaled = (x * math.ldexp(1.0, -half)) * math.ldexp(1.0, half - exponent)
    return math.ldexp(to_float(xp.linalg.vector_norm(xp.reshape(scaled, (-1,)))), exponent)


def to_float(x) -> float:
    """A 0-d array (any backend) or number as a Python float (one device sync on GPU)."""
    return float(x)


def to_numpy(x) -> np.ndarray:
    """Copy a small array of any backend to the host as a NumPy array (one transfer on GPU).

    Meant for small results (tridiagonal coefficients, projected matrices), never for data.

    Examples
    --------
    >>> to_numpy(array_namespace(np.ones(1)).ones(2))
    array([1., 1.])
    """
    if array_api_compat.is_cupy_array(x):
        return x.get()
    try:
        return np.asarray(x)
    except (TypeError, RuntimeError, ValueError):
        # An array on another device (a GPU tensor, array_api_strict's "device1"): move it to
        # the namespace's default (host) device first.
        info = array_api_compat.array_namespace(x).__array_namespace_info__()
        return np.asarray(x.to_device(info.default_device()))


def from_numpy(xp, a, *, dtype=None, device=None):
    """The host array ``a`` in namespace ``xp`` on ``device`` (one transfer on GPU).

    Examples
    --------
    >>> xp = array_namespace(np.ones(1))
    >>> from_numpy(xp, np.arange(3), dtype=np.float32)
    array([0., 1., 2.], dtype=float32)
    """
    if dtype is not None:
        a = np.asarray(a, dtype=_numpy_dtype(dtype))
    if array_api_compat.is_numpy_namespace(xp):
        return a
    return xp.asarray(a, device=device)


def permutation(xp, n, *, device=None, random_state=None):
    """A random permutation of ``0..n-1`` as an integer array of ``xp`` on ``device``.

    CuPy draws it on the device from a seed taken from the host generator (no transfer).

    Examples
    --------
    >>> xp = array_namespace(np.ones(1))
    >>> sorted(permutation(xp, 5, random_state=0).tolist())
    [0, 1, 2, 3, 4]
    """
    rng = check_random_state(random_state)
    if is_cupy_namespace(xp):
        import cupy

        with device if device is not None else contextlib.nullcontext():
            return cupy.random.default_rng(int(rng.integers(2**63))).permutation(n)
    perm = rng.permutation(n)
    if array_api_compat.is_numpy_namespace(xp):
        return perm
    return xp.asarray(perm, device=device)


def transpose_matmul(X, R):
    """``Xᵀ R`` for a dense or sparse matrix ``X`` and ``R`` of shape ``(n,)`` or ``(n, k)``.

    Dense blocks are multiplied as ``(Rᵀ X)ᵀ`` (row-major ``X`` on the right, no transposed copy).

    Examples
    --------
    >>> X = np.arange(6.0).reshape(3, 2)
    >>> transpose_matmul(X, np.ones(3)).tolist(), transpose_matmul(X, np.ones((3, 1))).ravel().tolist()
    ([6.0, 9.0], [6.0, 9.0])
    """
    R, out_dtype = in_data_dtype(X, R)
    if is_sparse(X):
        out = X.T @ R
    else:
        out = R @ X if R.ndim == 1 else (R.T @ X).T
    return out if out_dtype is None else _astype(out, out_dtype)


def in_data_dtype(X, V):
    """``(V', out_dtype)``: ``V`` cast to the floating dtype of the data ``X``, and the dtype to
    return products in (``None`` when no cast back is needed).

    Products with the data are computed in the data's dtype, so float32 ``X`` is never copied
    to float64 for a float64 vector (the small ``V`` is cast instead); the result is returned
    in the dtype the operands would promote to (float64 for float32 ``X`` and float64 ``V``),
    carrying float32 accuracy.

    Examples
    --------
    >>> X = np.ones((3, 2), dtype=np.float32)
    >>> v, out = in_data_dtype(X, np.ones(2))
    >>> v.dtype, out
    (dtype('float32'), dtype('float64'))
    """
    xdt = X.dtype
    if V.dtype == xdt:
        return V, None
    xp = array_namespace(V)
    if not xp.isdtype(xdt, "real floating"):
        return V, None
    other = V.dtype if xp.isdtype(V.dtype, "real floating") else xp.float64
    out = xp.result_type(xdt, other)
    V = _astype(V, xdt)
    return V, (None if out == xdt else out)


def _astype(x, dtype):
    if is_sparse(x):
        return x.astype(dtype)
    return array_namespace(x).astype(x, dtype)


def take_rows(xp, X, idx):
    """Rows ``idx`` of the dense or sparse matrix ``X`` (a sparse batch stays sparse CSR).

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> xp = array_namespace(np.ones(1))
    >>> take_rows(xp, np.arange(6).reshape(3, 2), np.array([2, 0])).tolist()
    [[4, 5], [0, 1]]
    >>> take_rows(xp, sp.eye(3, format="csr"), np.array([1])).toarray().tolist()
    [[0.0, 1.0, 0.0]]
    """
    if is_sparse(X):
        return X[idx]
    return xp.take(X, idx, axis=0)


def set_items(xp, a, idx, values):
    """``a[idx] = values`` for a 1-D ``a`` and integer ``idx``; returns the updated array.

    NumPy and CuPy assign in place. The array API standard has no integer-array assignment,
    so other namespaces (``array_api_strict`` in the tests) go through the host: a slow path
    meant for checking portability, not for speed.

    Examples
    --------
    >>> xp = array_namespace(np.ones(1))
    >>> set_items(xp, np.zeros(4), np.array([3, 1]), np.array([1.0, 2.0])).tolist()
    [0.0, 2.0, 0.0, 1.0]
    """
    if array_api_compat.is_numpy_namespace(xp) or is_cupy_namespace(xp):
        a[idx] = values
        return a
    host = np.array(to_numpy(a), copy=True)
    host[to_numpy(idx)] = to_numpy(values)
    return xp.asarray(host, device=device_of(a))
