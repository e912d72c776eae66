"""Tests for the backend shims (``rnla._backend``) and the argument checks (``rnla._validation``).

Numerical shims are compared against dense NumPy / SciPy references; random draws are checked
for reproducibility by seed, dtype and plausible moments; every argument check is checked for
the exact error type and a message that names the offending argument.
"""

import array_api_strict as xs
import numpy as np
import pytest
import scipy.linalg
import scipy.sparse as sp
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.linalg import aslinearoperator

from rnla import _backend, _validation

NP = _backend.array_namespace(np.ones(1))
FLOAT_DTYPES = [np.dtype(np.float32), np.dtype(np.float64)]

seeds = st.integers(0, 2**32 - 1)
float_dtypes = st.sampled_from(FLOAT_DTYPES)
shapes = st.one_of(
    st.tuples(st.integers(1, 30)),
    st.tuples(st.integers(1, 30), st.integers(1, 8)),
)


def _spd(n, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((n, n))
    return (B @ B.T / n + np.eye(n)).astype(dtype)


# --------------------------------------------------------------------------------------------
# sparse detection, namespaces, devices
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [sp.csr_matrix, sp.csc_matrix, sp.coo_matrix, sp.csr_array, sp.csc_array],
    ids=["csr_matrix", "csc_matrix", "coo_matrix", "csr_array", "csc_array"],
)
def test_is_sparse_true_for_scipy_sparse(make):
    A = make(np.eye(3))
    assert _backend.is_sparse(A) is True
    # Sparse SciPy inputs count as NumPy and live on no device.
    assert _backend.array_namespace(A) is NP
    assert _backend.device_of(A) is None


@pytest.mark.parametrize(
    "obj",
    [np.eye(3), xs.asarray(np.eye(3)), aslinearoperator(np.eye(3)), [[1.0]], 3.0],
    ids=["ndarray", "array_api_strict", "LinearOperator", "list", "float"],
)
def test_is_sparse_false_for_everything_else(obj):
    assert _backend.is_sparse(obj) is False


def test_array_namespace_skips_none_and_defaults_to_numpy():
    assert _backend.array_namespace(None, np.ones(2), None) is NP
    assert _backend.array_namespace() is NP
    assert _backend.array_namespace(None) is NP
    assert _backend.array_namespace(sp.eye(2, format="csr"), np.ones(2)) is NP


def test_array_namespace_of_array_api_strict_is_strict():
    xp = _backend.array_namespace(xs.asarray(np.ones(2)), None)
    out = xp.asarray([1.0, 2.0])
    assert isinstance(out, type(xs.asarray(1.0)))
    np.testing.assert_array_equal(np.asarray(xp.sum(out)), 3.0)
    assert not _backend.is_cupy_namespace(xp)
    assert not _backend.is_cupy_namespace(NP)


def test_array_namespace_rejects_mixed_namespaces():
    with pytest.raises(TypeError):
        _backend.array_namespace(np.ones(2), xs.asarray(np.ones(2)))


def test_device_of_dense_arrays():
    assert _backend.device_of(np.ones(3)) == "cpu"
    x = xs.asarray(np.ones(3))
    assert _backend.device_of(x) == x.device


# --------------------------------------------------------------------------------------------
# float_dtype
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dtypes", "expected"),
    [
        ((np.float32,), np.float32),
        ((np.float64,), np.float64),
        ((np.dtype(np.float32),), np.float32),
        ((np.float32, np.float64), np.float64),
        ((np.float32, np.float32), np.float32),
        ((np.int64,), np.float64),
        ((np.int32,), np.float64),
        ((np.int8,), np.float64),
        ((np.uint16,), np.float64),
        ((np.bool_,), np.float64),
        ((np.int64, np.float32), np.float64),
        ((None, np.float32, None), np.float32),
        ((None,), np.float64),
        ((), np.float64),
    ],
)
def test_float_dtype_numpy(dtypes, expected):
    assert np.dtype(_backend.float_dtype(NP, *dtypes)) == np.dtype(expected)


@pytest.mark.parametrize(
    ("dtypes", "expected"),
    [
        ((xs.float32,), xs.float32),
        ((xs.float64,), xs.float64),
        ((xs.float32, xs.float64), xs.float64),
        ((xs.int32,), xs.float64),
        ((xs.int64,), xs.float64),
        ((xs.bool,), xs.float64),
        ((), xs.float64),
    ],
)
def test_float_dtype_array_api_strict(dtypes, expected):
    assert _backend.float_dtype(xs, *dtypes) == expected


@pytest.mark.parametrize("xp, dtype", [(NP, np.complex128), (NP, np.complex64), (xs, xs.complex128)])
def test_float_dtype_rejects_complex(xp, dtype):
    with pytest.raises(TypeError, match=r"complex dtype .* is not supported"):
        _backend.float_dtype(xp, xp.float32, dtype)


# --------------------------------------------------------------------------------------------
# check_random_state
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 12345, 2**40, np.int64(7), np.uint32(3)])
def test_check_random_state_int_seed_matches_default_rng(seed):
    got = _backend.check_random_state(seed).standard_normal(20)
    np.testing.assert_array_equal(got, np.random.default_rng(int(seed)).standard_normal(20))


def test_check_random_state_generator_is_passed_through():
    gen = np.random.default_rng(3)
    assert _backend.check_random_state(gen) is gen


def test_check_random_state_none_gives_a_fresh_generator():
    gen = _backend.check_random_state(None)
    assert isinstance(gen, np.random.Generator)
    # A fresh, unseeded generator: two draws of 64 normals coinciding is impossible.
    assert not np.array_equal(gen.standard_normal(64), _backend.check_random_state(None).standard_normal(64))


def test_check_random_state_legacy_random_state_is_deterministic():
    a = _backend.check_random_state(np.random.RandomState(5)).standard_normal(10)
    b = _backend.check_random_state(np.random.RandomState(5)).standard_normal(10)
    seed = np.random.RandomState(5).randint(2**31)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, np.random.default_rng(seed).standard_normal(10))


@pytest.mark.parametrize("seed", [-1, -(2**40), np.int64(-3)])
def test_check_random_state_negative_int(seed):
    with pytest.raises(ValueError, match=r"random_state must be a non-negative integer, got -\d+"):
        _backend.check_random_state(seed)


@pytest.mark.parametrize(
    "bad, typename",
    [(1.5, "float"), (1.0, "float"), (True, "bool"), (False, "bool"), (np.bool_(True), "bool"),
     ("0", "str"), ([0], "list")],
)
def test_check_random_state_bad_type(bad, typename):
    msg = rf"^random_state must be None, an int or a numpy\.random\.Generator, got {typename}$"
    with pytest.raises(TypeError, match=msg):
        _backend.check_random_state(bad)


# --------------------------------------------------------------------------------------------
# random_normal / random_sign
# --------------------------------------------------------------------------------------------


@settings(max_examples=25)
@given(shape=shapes, dtype=float_dtypes, seed=seeds)
def test_random_normal_reproducible_by_seed_and_generator(shape, dtype, seed):
    a = _backend.random_normal(NP, shape, dtype=dtype, random_state=seed)
    b = _backend.random_normal(NP, shape, dtype=dtype, random_state=seed)
    c = _backend.random_normal(NP, shape, dtype=dtype, random_state=np.random.default_rng(seed))
    assert isinstance(a, np.ndarray)
    assert a.shape == shape
    assert a.dtype == dtype
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    assert np.all(np.isfinite(a))
    if a.size >= 8:
        other = _backend.random_normal(NP, shape, dtype=dtype, random_state=seed + 1)
        assert not np.array_equal(a, other)


@settings(max_examples=25)
@given(shape=shapes, dtype=float_dtypes, seed=seeds)
def test_random_sign_reproducible_and_exactly_pm_one(shape, dtype, seed):
    a = _backend.random_sign(NP, shape, dtype=dtype, random_state=seed)
    b = _backend.random_sign(NP, shape, dtype=dtype, random_state=np.random.default_rng(seed))
    assert a.shape == shape
    assert a.dtype == dtype
    assert np.all((a == 1.0) | (a == -1.0))
    np.testing.assert_array_equal(a, b)


def test_random_draws_advance_a_shared_generator():
    gen = np.random.default_rng(11)
    first = _backend.random_normal(NP, (50,), dtype=np.dtype(np.float64), random_state=gen)
    second = _backend.random_normal(NP, (50,), dtype=np.dtype(np.float64), random_state=gen)
    assert not np.array_equal(first, second)
    ref = np.random.default_rng(11)
    np.testing.assert_array_equal(
        np.concatenate([first, second]),
        np.concatenate([
            _backend.random_normal(NP, (50,), dtype=np.dtype(np.float64), random_state=ref),
            _backend.random_normal(NP, (50,), dtype=np.dtype(np.float64), random_state=ref),
        ]),
    )


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_random_normal_moments(dtype):
    n = 200_000
    x = _backend.random_normal(NP, (n,), dtype=dtype, random_state=2024).astype(np.float64)
    assert abs(x.mean()) < 5 / np.sqrt(n)
    assert abs(x.var() - 1.0) < 5 * np.sqrt(2 / n)
    assert abs(np.mean(np.abs(x) < 1.0) - 0.6826894921) < 0.005
    assert scipy.stats.kstest(x[:20_000], "norm").pvalue > 1e-3
    # Columns of a block are independent: small empirical correlation.
    B = _backend.random_normal(NP, (20_000, 2), dtype=dtype, random_state=7).astype(np.float64)
    assert abs(np.corrcoef(B.T)[0, 1]) < 5 / np.sqrt(20_000)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_random_sign_moments(dtype):
    n = 200_000
    s = _backend.random_sign(NP, (n,), dtype=dtype, random_state=99).astype(np.float64)
    assert abs(s.mean()) < 5 / np.sqrt(n)
    np.testing.assert_array_equal(s * s, np.ones(n))
    B = _backend.random_sign(NP, (20_000, 2), dtype=dtype, random_state=8).astype(np.float64)
    assert abs(np.mean(B[:, 0] * B[:, 1])) < 5 / np.sqrt(20_000)


@pytest.mark.parametrize(
    "dtype, expected",
    [
        (np.dtype(np.float32), np.float32),
        (np.dtype(np.float64), np.float64),
        ("float32", np.float32),
        (np.float32, np.float32),
        (np.float64, np.float64),
        (NP.float32, np.float32),
        (_backend.float_dtype(NP, np.int64), np.float64),
    ],
    ids=["dtype-f32", "dtype-f64", "str-f32", "np.float32", "np.float64", "compat-float32",
         "float_dtype-of-int"],
)
@pytest.mark.parametrize("fn", [_backend.random_normal, _backend.random_sign])
def test_random_accepts_every_numpy_dtype_spelling(fn, dtype, expected):
    # np.float32 is how users (and the docstrings) spell dtypes, and float_dtype returns
    # xp.float64 (== np.float64, a scalar type) for integer data: both must be accepted.
    got = fn(NP, (4, 3), dtype=dtype, random_state=0)
    ref = fn(NP, (4, 3), dtype=np.dtype(expected), random_state=0)
    assert got.dtype == np.dtype(expected)
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("np_dtype, xs_dtype", [(np.float32, xs.float32), (np.float64, xs.float64)])
@pytest.mark.parametrize("fn", [_backend.random_normal, _backend.random_sign])
def test_random_array_api_strict_matches_numpy(fn, np_dtype, xs_dtype):
    got = fn(xs, (6, 3), dtype=xs_dtype, random_state=17)
    ref = fn(NP, (6, 3), dtype=np.dtype(np_dtype), random_state=17)
    assert isinstance(got, type(xs.asarray(1.0)))
    assert got.dtype == xs_dtype
    np.testing.assert_array_equal(np.asarray(got), ref)


# --------------------------------------------------------------------------------------------
# cholesky / solve_triangular / eigh / to_float
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 4, 17])
def test_cholesky_matches_numpy(n):
    A = _spd(n, n)
    L = _backend.cholesky(NP, A)
    np.testing.assert_allclose(L, np.linalg.cholesky(A), rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(np.triu(L, 1), 0.0)
    np.testing.assert_allclose(L @ L.T, A, rtol=1e-12, atol=1e-13)


def test_cholesky_array_api_strict():
    A = _spd(6, 1)
    L = _backend.cholesky(xs, xs.asarray(A))
    assert isinstance(L, type(xs.asarray(1.0)))
    np.testing.assert_allclose(np.asarray(L), np.linalg.cholesky(A), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("xp, wrap", [(NP, np.asarray), (xs, xs.asarray)], ids=["numpy", "strict"])
def test_cholesky_raises_on_indefinite(xp, wrap):
    A = np.diag([1.0, -1.0, 2.0])
    with pytest.raises(np.linalg.LinAlgError):
        _backend.cholesky(xp, wrap(A))


@pytest.mark.parametrize("xp, wrap", [(NP, np.asarray), (xs, xs.asarray)], ids=["numpy", "strict"])
@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("k", [1, 3])
def test_solve_triangular_matches_scipy(xp, wrap, lower, k):
    rng = np.random.default_rng(k + 10 * lower)
    n = 8
    T = rng.standard_normal((n, n))
    T = np.tril(T) if lower else np.triu(T)
    T[np.diag_indices(n)] = 3.0 + rng.random(n)
    B = rng.standard_normal((n, k))
    X = _backend.solve_triangular(xp, wrap(T), wrap(B), lower=lower)
    ref = scipy.linalg.solve_triangular(T, B, lower=lower)
    np.testing.assert_allclose(np.asarray(X), ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(T @ np.asarray(X), B, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("xp, wrap", [(NP, np.asarray), (xs, xs.asarray)], ids=["numpy", "strict"])
def test_eigh_matches_numpy(xp, wrap):
    A = _spd(9, 4) - 1.5 * np.eye(9)
    w, V = _backend.eigh(xp, wrap(A))
    w, V = np.asarray(w), np.asarray(V)
    np.testing.assert_allclose(w, np.linalg.eigvalsh(A), rtol=1e-12, atol=1e-13)
    assert np.all(np.diff(w) >= 0)
    np.testing.assert_allclose(A @ V, V * w, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(V.T @ V, np.eye(9), atol=1e-13)


@pytest.mark.parametrize(
    "x, expected",
    [(np.float64(2.5), 2.5), (np.float32(0.25), 0.25), (np.asarray(-3.0), -3.0), (4, 4.0),
     (xs.asarray(1.5), 1.5)],
)
def test_to_float(x, expected):
    got = _backend.to_float(x)
    assert type(got) is float
    assert got == expected


# --------------------------------------------------------------------------------------------
# _validation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [(0, 0.0), (0.0, 0.0), (2, 2.0), (2.5, 2.5), (np.float32(1.5), 1.5), (np.int64(3), 3.0), (1e300, 1e300)],
)
def test_check_nonnegative_accepts(value, expected):
    got = _validation.check_nonnegative(value, "mu")
    assert type(got) is float
    assert got == expected


@pytest.mark.parametrize("value", [-1, -1e-300, -np.inf, np.inf, np.nan, np.float32(-0.5)])
def test_check_nonnegative_rejects_values(value):
    with pytest.raises(ValueError, match=r"^shift must be finite and >= 0, got "):
        _validation.check_nonnegative(value, "shift")


@pytest.mark.parametrize("value", [True, "1", None, [1.0], 1 + 0j, np.array([1.0])])
def test_check_nonnegative_rejects_types(value):
    with pytest.raises(TypeError, match=r"^shift must be a real number, got "):
        _validation.check_nonnegative(value, "shift")


@pytest.mark.parametrize("value", [1, 5, np.int64(3), np.uint8(2)])
def test_check_positive_int_accepts(value):
    got = _validation.check_positive_int(value, "rank")
    assert type(got) is int
    assert got == int(value)


def test_check_positive_int_upper_bound():
    assert _validation.check_positive_int(4, "rank", upper=4, upper_name="n_features") == 4
    with pytest.raises(ValueError, match=r"^rank=5 exceeds n_features \(4\)$"):
        _validation.check_positive_int(5, "rank", upper=4, upper_name="n_features")


@pytest.mark.parametrize("value", [0, -1, np.int64(-7)])
def test_check_positive_int_rejects_small(value):
    with pytest.raises(ValueError, match=rf"^rank must be >= 1, got {int(value)}$"):
        _validation.check_positive_int(value, "rank")


@pytest.mark.parametrize("value", [2.0, 1.5, True, "3", None])
def test_check_positive_int_rejects_types(value):
    with pytest.raises(TypeError, match=r"^rank must be an integer, got "):
        _validation.check_positive_int(value, "rank")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize(
    "wrap",
    [np.asarray, sp.csr_matrix, sp.csc_matrix, sp.csr_array, xs.asarray],
    ids=["numpy", "csr_matrix", "csc_matrix", "csr_array", "strict"],
)
def test_check_finite_array_rejects_nonfinite(wrap, bad):
    A = np.arange(12.0).reshape(3, 4)
    A[1, 2] = bad
    x = wrap(A)
    xp = _backend.array_namespace(x)
    with pytest.raises(ValueError, match=r"^X contains NaN or infinity$"):
        _validation.check_finite_array(xp, x, "X")


@pytest.mark.parametrize(
    "wrap",
    [np.asarray, sp.csr_matrix, sp.csc_matrix, sp.csr_array, xs.asarray],
    ids=["numpy", "csr_matrix", "csc_matrix", "csr_array", "strict"],
)
def test_check_finite_array_accepts_finite(wrap):
    A = np.array([[0.0, 1e308, -1e308], [0.0, 0.0, 5e-324]])
    x = wrap(A)
    assert _validation.check_finite_array(_backend.array_namespace(x), x, "X") is None


@pytest.mark.parametrize("xp, wrap", [(NP, np.asarray), (xs, xs.asarray)], ids=["numpy", "strict"])
def test_check_vector_accepts_vector_and_column(xp, wrap):
    b = np.arange(5.0) - 2.0
    out = _validation.check_vector(xp, wrap(b), 5, "b")
    assert tuple(out.shape) == (5,)
    np.testing.assert_array_equal(np.asarray(out), b)
    out = _validation.check_vector(xp, wrap(b[:, None]), 5, "b")
    assert tuple(out.shape) == (5,)
    np.testing.assert_array_equal(np.asarray(out), b)


@pytest.mark.parametrize(
    "shape, shown",
    [((4,), r"\(4,\)"), ((6,), r"\(6,\)"), ((5, 2), r"\(5, 2\)"), ((1, 5), r"\(1, 5\)"),
     ((5, 1, 1), r"\(5, 1, 1\)"), ((), r"\(\)")],
)
def test_check_vector_rejects_wrong_shape(shape, shown):
    with pytest.raises(ValueError, match=rf"^b must have shape \(5,\) to match the operator, got {shown}$"):
        _validation.check_vector(NP, np.zeros(shape), 5, "b")


@pytest.mark.parametrize("bad, typename", [([1.0, 2.0], "list"), (3.0, "float"), (None, "NoneType")])
def test_check_vector_rejects_non_arrays(bad, typename):
    with pytest.raises(TypeError, match=rf"^rhs must be an array, got {typename}$"):
        _validation.check_vector(NP, bad, 2, "rhs")


# --------------------------------------------------------------------------------------------
# CuPy
# --------------------------------------------------------------------------------------------


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("fn", [_backend.random_normal, _backend.random_sign])
def test_random_cupy_dtype_and_reproducible(cupy, fn, dtype):
    xp = _backend.array_namespace(cupy.ones(1))
    assert _backend.is_cupy_namespace(xp)
    a = fn(xp, (2000, 3), dtype=dtype, random_state=5)
    b = fn(xp, (2000, 3), dtype=dtype, random_state=np.random.default_rng(5))
    c = fn(xp, (2000, 3), dtype=dtype, random_state=6)
    assert isinstance(a, cupy.ndarray)
    assert a.dtype == dtype
    assert a.shape == (2000, 3)
    cupy.testing.assert_array_equal(a, b)
    assert not bool(cupy.all(a == c))
    host = cupy.asnumpy(a).astype(np.float64)
    assert abs(host.mean()) < 5 / np.sqrt(host.size)
    assert abs(host.var() - 1.0) < 0.05
    if fn is _backend.random_sign:
        assert np.all(np.abs(host) == 1.0)


@pytest.mark.gpu
def test_cupy_device_and_cholesky(cupy):
    xp = _backend.array_namespace(cupy.ones(1))
    A = _spd(7, 3)
    L = _backend.cholesky(xp, cupy.asarray(A))
    np.testing.assert_allclose(cupy.asnumpy(L), np.linalg.cholesky(A), rtol=1e-12, atol=1e-14)
    assert _backend.device_of(L) == L.device
    with pytest.raises(np.linalg.LinAlgError):
        _backend.cholesky(xp, cupy.asarray(np.diag([1.0, -1.0])))
    B = np.random.default_rng(0).standard_normal((7, 2))
    X = _backend.solve_triangular(xp, L, cupy.asarray(B), lower=True)
    np.testing.assert_allclose(cupy.asnumpy(X), scipy.linalg.solve_triangular(np.linalg.cholesky(A), B,
                                                                              lower=True), rtol=1e-12)


def test_dask_arrays_are_refused_with_a_clear_error():
    da = pytest.importorskip("dask.array")
    from rnla import GramOperator

    X = da.ones((20, 4), chunks=(10, 4))
    with pytest.raises(TypeError, match="Dask arrays are not supported"):
        GramOperator(X)


# --- issue 13: norms free of overflow and underflow; products in the data's dtype -----------

@settings(max_examples=60, deadline=None)
@given(exponent=st.integers(-300, 300), seed=st.integers(0, 2**16), shape=st.sampled_from([(5,), (4, 3)]))
def test_scaled_norm_is_exact_over_the_whole_range(exponent, seed, shape):
    x = np.random.default_rng(seed).standard_normal(shape)
    xp = _backend.array_namespace(x)
    s = 10.0 ** exponent
    np.testing.assert_allclose(_backend.scaled_norm(xp, s * x), s * np.linalg.norm(x), rtol=1e-14)


def test_scaled_norm_edge_cases():
    xp = _backend.array_namespace(np.ones(1))
    assert _backend.scaled_norm(xp, np.zeros(3)) == 0.0
    assert _backend.scaled_norm(xp, np.zeros(0)) == 0.0
    assert _backend.scaled_norm(xp, np.array([3e-310, 4e-310])) == pytest.approx(5e-310, rel=1e-9)
    assert np.isnan(_backend.scaled_norm(xp, np.array([1.0, np.nan])))
    assert _backend.scaled_norm(xp, np.array([1.0, np.inf])) == np.inf
    f32 = np.array([3e35, 4e35], dtype=np.float32)
    assert _backend.scaled_norm(xp, f32) == pytest.approx(5e35, rel=1e-6)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("k", [None, 3])
def test_transpose_matmul_computes_in_the_data_dtype(sparse, k):
    import tracemalloc

    X = np.random.default_rng(0).standard_normal((20000, 50)).astype(np.float32)
    Xin = sp.csr_matrix(X) if sparse else X
    r = np.random.default_rng(1).standard_normal(20000 if k is None else (20000, k))
    tracemalloc.start()
    try:
        out = _backend.transpose_matmul(Xin, r)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes / 4  # no float64 copy of X
    assert out.dtype == np.float64  # promoted like NumPy, computed in float32
    np.testing.assert_allclose(out, X.T.astype(np.float64) @ r, rtol=1e-3, atol=1e-2)
    assert _backend.transpose_matmul(Xin, r.astype(np.float32)).dtype == np.float32


def test_check_fits_bounds_the_entries_of_one_array():
    limit = _backend.MAX_ARRAY_ENTRIES
    assert limit == __import__("sys").maxsize // 8
    assert _backend.check_fits(limit // 4, "num_points", per=4) == limit // 4
    with pytest.raises(ValueError, match=rf"^num_probes={limit // 4 + 1} is too large: the probe "
                                         rf"block of {4 * (limit // 4 + 1)} entries"):
        _backend.check_fits(limit // 4 + 1, "num_probes", per=4, what="probe block")
    with pytest.raises(ValueError, match=r"^k=10{30} is too large"):
        _backend.check_fits(10**30, "k")
