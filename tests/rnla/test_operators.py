"""Tests for ``rnla.operators``: Operator, GramOperator, as_operator and check_symmetric.

Every product is compared against the dense NumPy reference with a forward-error bound of
the form ``|A| |V| * tol`` (``tol`` 1e-12 in float64, 1e-5 in float32), for dense, SciPy
sparse, LinearOperator, callable and array_api_strict inputs; every bad input is checked for
the error type and a message naming the argument.
"""

import array_api_strict as xs
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.linalg import LinearOperator, aslinearoperator

from rnla import _backend
from rnla.operators import GramOperator, Operator, as_operator, check_symmetric

TOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}
STRICT_ARRAY = type(xs.asarray(1.0))

seeds = st.integers(0, 2**32 - 1)
float_dtypes = st.sampled_from([np.dtype(np.float32), np.dtype(np.float64)])
SPARSE_FORMATS = {"csr_matrix": sp.csr_matrix, "csc_matrix": sp.csc_matrix, "csr_array": sp.csr_array}
X_FORMATS = ["dense", *SPARSE_FORMATS]


def assert_product_close(actual, expected, bound, dtype):
    """``|actual - expected| <= TOL[dtype] * bound`` entrywise (bound = |A| |V| style)."""
    actual = np.asarray(actual, dtype=np.float64)
    assert actual.shape == expected.shape
    err = np.abs(actual - expected)
    limit = TOL[np.dtype(dtype)] * (bound + np.finfo(np.float64).tiny)
    assert np.all(err <= limit), f"max excess {np.max(err - limit):.3g}"


def random_matrix(rng, shape, density=1.0):
    A = rng.standard_normal(shape)
    if density < 1.0:
        A[rng.random(shape) >= density] = 0.0
    return A


def make_X(fmt, X):
    return X if fmt == "dense" else SPARSE_FORMATS[fmt](X)


# --------------------------------------------------------------------------------------------
# Operator
# --------------------------------------------------------------------------------------------


def test_operator_matvec_defaults_to_matmat_on_one_column():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 3))
    calls = []

    def matmat(V):
        calls.append(V.shape)
        return A @ V

    op = Operator((4, 3), matmat)
    v = rng.standard_normal(3)
    out = op @ v
    assert out.shape == (4,)
    np.testing.assert_allclose(out, A @ v, rtol=1e-12)
    assert calls == [(3, 1)]
    V = rng.standard_normal((3, 5))
    np.testing.assert_allclose(op @ V, A @ V, rtol=1e-12)
    assert calls == [(3, 1), (3, 5)]
    assert op.shape == (4, 3)
    assert op.dtype is None
    assert repr(op) == "<Operator shape=(4, 3) dtype=None>"


def test_operator_dispatches_on_ndim():
    A = np.arange(6.0).reshape(2, 3)
    op = Operator((2, 3), lambda V: A @ V, matvec=lambda v: -(A @ v))
    np.testing.assert_array_equal(op @ np.ones(3), -(A @ np.ones(3)))
    np.testing.assert_array_equal(op @ np.ones((3, 1)), A @ np.ones((3, 1)))
    np.testing.assert_array_equal(op.matvec(np.ones(3)), -(A @ np.ones(3)))
    np.testing.assert_array_equal(op.matmat(np.ones((3, 2))), A @ np.ones((3, 2)))


@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (-1, 2), (2, 2, 2), (3,)])
def test_operator_rejects_bad_shape(shape):
    with pytest.raises(ValueError, match=r"^shape must be a pair of positive integers"):
        Operator(shape, lambda V: V)


@pytest.mark.parametrize("shape", ["abc", None, 8, {"a": 1}, (8.5, 8), (8j, 8), (True, 2),
                                   np.array([2, 2])],
                         ids=["str", "None", "int", "dict", "float", "complex", "bool", "ndarray"])
def test_operator_rejects_shape_of_the_wrong_kind(shape):
    # Was: int()'s own ValueError, "'NoneType' object is not iterable", or (8.5, 8) accepted.
    with pytest.raises(TypeError, match=r"^shape must be a pair of positive integers"):
        Operator(shape, lambda V: V)


def test_operator_accepts_numpy_integer_shapes():
    op = Operator([np.int64(2), np.int32(3)], lambda V: np.ones((2, V.shape[1])))
    assert op.shape == (2, 3) and all(type(s) is int for s in op.shape)


@pytest.mark.parametrize("bad", ["abc", 1, [print], np.ones(2), None])
def test_operator_rejects_non_callable_products(bad):
    # Was: accepted, then "'str' object is not callable" at the first product.
    with pytest.raises(TypeError, match=r"^matmat must be callable, got"):
        Operator((2, 2), bad)
    if bad is not None:
        with pytest.raises(TypeError, match=r"^matvec must be callable or None, got"):
            Operator((2, 2), lambda V: V, matvec=bad)


def _square_ops():
    A = np.arange(9.0).reshape(3, 3)
    return {"dense": as_operator(A), "callable": Operator((3, 3), lambda V: A @ V),
            "gram": GramOperator(np.ones((4, 3)))}


@pytest.mark.parametrize("kind", ["dense", "callable", "gram"])
@pytest.mark.parametrize(("v", "error", "message"), [
    ("abc", TypeError, r"^v must be an array"),
    (None, TypeError, r"^v must be an array"),
    (1.5, TypeError, r"^v must be an array"),
    (np.ones(3, complex), ValueError, r"^v must hold real numbers, got dtype complex128$"),
    (np.full(3, "a"), ValueError, r"^v must hold real numbers, got dtype <U1$"),
    (np.ones(3, dtype=object), ValueError, r"^v must hold real numbers, got dtype object$"),
    (["a", "b", "c"], ValueError, r"^v must hold real numbers"),
    (np.array(1.0), ValueError, r"^v must have shape \(3,\) to match the operator, got \(\)$"),
    (np.ones(4), ValueError, r"^v must have shape \(3,\) to match the operator, got \(4,\)$"),
    (np.ones((3, 1)), ValueError, r"^v must have shape \(3,\)"),
    (np.ones(0), ValueError, r"^v must have shape \(3,\)"),
])
def test_operator_matvec_checks_kind_dtype_and_shape(kind, v, error, message):
    # Was: AttributeError from the backend, NumPy's matmul errors, or a silent complex cast.
    with pytest.raises(error, match=message):
        _square_ops()[kind].matvec(v)


@pytest.mark.parametrize("kind", ["dense", "callable", "gram"])
@pytest.mark.parametrize(("V", "error", "message"), [
    ("abc", TypeError, r"^V must be an array"),
    (True, TypeError, r"^V must be an array"),
    (np.ones((3, 2)) + 1j, ValueError, r"^V must hold real numbers, got dtype complex128$"),
    (np.full((3, 2), "a"), ValueError, r"^V must hold real numbers"),
    (np.array(1.0), ValueError, r"^V must be a 2-D block \(3, k\) with k >= 1"),
    (np.ones(3), ValueError, r"^V must be a 2-D block \(3, k\) with k >= 1.*got shape \(3,\)$"),
    (np.ones((3, 2, 1)), ValueError, r"^V must be a 2-D block"),
    (np.ones((4, 2)), ValueError, r"^V must be a 2-D block.*got shape \(4, 2\)$"),
    (np.ones((3, 0)), ValueError, r"^V must be a 2-D block \(3, k\) with k >= 1.*got shape \(3, 0\)$"),
])
def test_operator_matmat_checks_kind_dtype_and_shape(kind, V, error, message):
    with pytest.raises(error, match=message):
        _square_ops()[kind].matmat(V)


@pytest.mark.parametrize("kind", ["dense", "callable", "gram"])
def test_operator_products_accept_lists_integers_and_keep_float32(kind):
    op = _square_ops()[kind]
    ref = op.matvec(np.ones(3))
    np.testing.assert_array_equal(op.matvec([1.0, 1.0, 1.0]), ref)
    np.testing.assert_array_equal(op.matvec(np.ones(3, dtype=np.int64)), ref)
    np.testing.assert_array_equal(op.matmat(np.ones((3, 1), dtype=bool))[:, 0], ref)


@pytest.mark.parametrize("kind", ["dense", "gram"])
def test_operator_product_checks_keep_float32(kind):
    A = np.arange(9.0, dtype=np.float32).reshape(3, 3)
    op = as_operator(A) if kind == "dense" else GramOperator(A)
    assert op.matvec(np.ones(3, np.float32)).dtype == np.float32
    assert op.matmat(np.ones((3, 2), np.float32)).dtype == np.float32


def test_operator_product_checks_never_copy_or_scan():
    # The hot path: the array reaches the callable as it came (no copy, no cast), NaN included.
    seen = []
    op = Operator((3, 3), lambda V: seen.append(V) or V, matvec=lambda v: seen.append(v) or v)
    v = np.array([1.0, np.nan, 2.0], dtype=np.float32)
    V = np.ones((3, 2), dtype=np.float32)
    assert op.matvec(v) is v and op.matmat(V) is V
    assert seen[0] is v and seen[1] is V


def test_operator_product_checks_array_api_strict():
    op = as_operator(xs.asarray(np.eye(3)))
    assert op.matvec(xs.ones(3)).shape == (3,)
    with pytest.raises(ValueError, match=r"^v must hold real numbers"):
        op.matvec(xs.ones(3, dtype=xs.complex128))
    with pytest.raises(ValueError, match=r"^V must be a 2-D block"):
        op.matmat(xs.ones(3))


# --------------------------------------------------------------------------------------------
# as_operator: products agree with the dense matrix
# --------------------------------------------------------------------------------------------


class _SubclassedLinearOperator(LinearOperator):
    """The way most users write a LinearOperator: a subclass with ``_matvec``."""

    def __init__(self, A):
        self.A = A
        super().__init__(dtype=A.dtype, shape=A.shape)

    def _matvec(self, v):
        return self.A @ v

    def _rmatvec(self, v):
        return self.A.T @ v


def _form(kind, A):
    """``A`` wrapped in one of the input kinds accepted by :func:`as_operator`, and the shape kwarg."""
    if kind == "dense":
        return A, None
    if kind in SPARSE_FORMATS:
        return SPARSE_FORMATS[kind](A), None
    if kind == "aslinearoperator":
        return aslinearoperator(A), None
    if kind == "LinearOperator":
        return LinearOperator(A.shape, matvec=lambda v: A @ v, matmat=lambda V: A @ V, dtype=A.dtype), None
    if kind == "tuple2":
        return (A.shape, lambda v: A @ v), None
    if kind == "tuple3":
        return (A.shape, lambda v: A @ v, lambda V: A @ V), None
    if kind == "callable":
        return (lambda v: A @ v), A.shape
    raise AssertionError(kind)


FORMS = ["dense", *SPARSE_FORMATS, "aslinearoperator", "LinearOperator", "tuple2", "tuple3", "callable"]


@settings(max_examples=60)
@given(
    kind=st.sampled_from(FORMS),
    m=st.integers(1, 12),
    n=st.integers(1, 12),
    square=st.booleans(),
    k=st.one_of(st.none(), st.integers(1, 4)),
    dtype=float_dtypes,
    density=st.sampled_from([1.0, 0.4]),
    seed=seeds,
)
def test_as_operator_products_match_dense(kind, m, n, square, k, dtype, density, seed):
    rng = np.random.default_rng(seed)
    if square:
        n = m
    A = random_matrix(rng, (m, n), density).astype(dtype)
    V = (rng.standard_normal(n) if k is None else rng.standard_normal((n, k))).astype(dtype)
    obj, shape = _form(kind, A)
    op = as_operator(obj, shape=shape, square=square)
    assert op.shape == (m, n)
    out = op @ V
    assert out.shape == ((m,) if k is None else (m, k))
    A64, V64 = A.astype(np.float64), V.astype(np.float64)
    assert_product_close(out, A64 @ V64, np.abs(A64) @ np.abs(V64), dtype)
    if kind in ("dense", *SPARSE_FORMATS, "aslinearoperator", "LinearOperator"):
        assert np.dtype(op.dtype) == dtype
        assert out.dtype == dtype
    # matvec and matmat agree column by column.
    if k is not None:
        for j in range(k):
            assert_product_close(op.matvec(V[:, j]), A64 @ V64[:, j], np.abs(A64) @ np.abs(V64[:, j]), dtype)


def test_as_operator_returns_operators_unchanged():
    op = as_operator(np.eye(3))
    assert as_operator(op) is op
    G = GramOperator(np.ones((4, 2)))
    assert as_operator(G) is G


def test_as_operator_subclassed_linear_operator():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((5, 5))
    op = as_operator(_SubclassedLinearOperator(A))
    V = rng.standard_normal((5, 3))
    np.testing.assert_allclose(op @ V, A @ V, rtol=1e-12)
    np.testing.assert_allclose(op @ V[:, 0], A @ V[:, 0], rtol=1e-12)


@pytest.mark.parametrize("kind", ["dense", *SPARSE_FORMATS])
@pytest.mark.parametrize("int_dtype", [np.int32, np.int64, np.bool_])
def test_as_operator_integer_matrix_computes_in_float64(kind, int_dtype):
    rng = np.random.default_rng(2)
    A = rng.integers(-3, 4, size=(6, 6)).astype(int_dtype)
    op = as_operator(_form(kind, A)[0])
    assert np.dtype(op.dtype) == np.float64
    V = np.arange(12).reshape(6, 2)  # integer block: still a float64 product
    out = op @ V
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, A.astype(np.float64) @ V.astype(np.float64))
    v = 0.5 * np.arange(6.0)
    np.testing.assert_allclose(op @ v, A.astype(np.float64) @ v, rtol=1e-15)


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
@pytest.mark.parametrize("kind", ["dense", "csr_matrix"])
def test_as_operator_rejects_complex(kind, dtype):
    A = (np.eye(3) + 1j * np.ones((3, 3))).astype(dtype)
    with pytest.raises(ValueError, match=r"^A must hold real numbers"):
        as_operator(_form(kind, A)[0])


@pytest.mark.parametrize("k", [None, 3])
@pytest.mark.parametrize("np_dtype, xs_dtype", [(np.float32, xs.float32), (np.float64, xs.float64)])
def test_as_operator_array_api_strict(k, np_dtype, xs_dtype):
    rng = np.random.default_rng(3)
    A = rng.standard_normal((7, 7)).astype(np_dtype)
    V = (rng.standard_normal(7) if k is None else rng.standard_normal((7, k))).astype(np_dtype)
    op = as_operator(xs.asarray(A))
    assert op.dtype == xs_dtype
    out = op @ xs.asarray(V)
    assert isinstance(out, STRICT_ARRAY)
    assert out.dtype == xs_dtype
    ref = as_operator(A) @ V
    A64, V64 = A.astype(np.float64), V.astype(np.float64)
    assert_product_close(np.asarray(out), A64 @ V64, np.abs(A64) @ np.abs(V64), np_dtype)
    np.testing.assert_allclose(np.asarray(out), ref, rtol=TOL[np.dtype(np_dtype)])


def test_as_operator_array_api_strict_integer_and_callable():
    A = np.arange(16).reshape(4, 4) % 5
    op = as_operator(xs.asarray(A))
    assert op.dtype == xs.float64
    out = op @ xs.asarray(np.ones((4, 2)))
    np.testing.assert_array_equal(np.asarray(out), A @ np.ones((4, 2)))
    # (shape, matvec) with array_api_strict blocks: columns stacked in the strict namespace.
    Ax = xs.asarray(A.astype(np.float64))
    op = as_operator(((4, 4), lambda v: Ax @ v))
    out = op @ xs.asarray(np.eye(4))
    assert isinstance(out, STRICT_ARRAY)
    np.testing.assert_array_equal(np.asarray(out), A.astype(np.float64))


# --------------------------------------------------------------------------------------------
# as_operator: bad input
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["dense", *SPARSE_FORMATS, "aslinearoperator", "tuple2", "callable"])
def test_as_operator_rejects_non_square(kind):
    A = np.ones((3, 4))
    obj, shape = _form(kind, A)
    with pytest.raises(ValueError, match=r"^H must be square, got shape \(3, 4\)$"):
        as_operator(obj, shape=shape, name="H")
    assert as_operator(obj, shape=shape, name="H", square=False).shape == (3, 4)


@pytest.mark.parametrize("shape", [(2, 2, 2), (4,), ()])
def test_as_operator_rejects_non_2d_arrays(shape):
    with pytest.raises(ValueError, match=rf"^M must be 2-D, got {len(shape)} dimensions$"):
        as_operator(np.ones(shape), name="M")
    with pytest.raises(ValueError, match=rf"^M must be 2-D, got {len(shape)} dimensions$"):
        as_operator(xs.asarray(np.ones(shape)), name="M")


@pytest.mark.parametrize("kind", ["dense", *SPARSE_FORMATS, "strict"])
@pytest.mark.parametrize("shape", [(0, 0), (3, 0), (0, 3)])
def test_as_operator_rejects_empty_matrices_naming_them(kind, shape):
    # Was Operator's "shape must be a pair of positive integers", which does not name A.
    A = np.ones(shape)
    A = xs.asarray(A) if kind == "strict" else make_X(kind, A)
    with pytest.raises(ValueError, match=rf"^M must not be empty, got shape \({shape[0]}, {shape[1]}\)$"):
        as_operator(A, name="M", square=False)


@pytest.mark.parametrize("name", [1, ["A"], {"a": 1}, None])
def test_as_operator_name_must_be_a_string(name):
    # Was: accepted (and then used in messages).
    with pytest.raises(TypeError, match=r"^name must be a string"):
        as_operator(np.eye(2), name=name)


@pytest.mark.parametrize("flag", ["square", "symmetric"])
@pytest.mark.parametrize("bad", ["abc", "True", None, 1, 0.5, np.array([True, False])])
def test_as_operator_flags_must_be_bools(flag, bad):
    # Was: any truthy value accepted; a 2-entry array raised NumPy's "truth value is ambiguous".
    with pytest.raises(TypeError, match=rf"^{flag} must be True or False"):
        as_operator(np.eye(2), **{flag: bad})
    assert as_operator(np.eye(2), **{flag: np.bool_(True)}).shape == (2, 2)


@pytest.mark.parametrize(
    "bad",
    [((2, 2),), ((2, 2), "matvec"), ((2, 2), lambda v: v, None),
     ((2, 2), lambda v: v, lambda V: V, lambda V: V), ()],
    ids=["no-callable", "string-matvec", "none-matmat", "four-entries", "empty"],
)
def test_as_operator_rejects_bad_tuples(bad):
    msg = r"^A given as a tuple must be \(shape, matvec\) or \(shape, matvec, matmat\)$"
    with pytest.raises(TypeError, match=msg):
        as_operator(bad)


def test_as_operator_rejects_bad_tuple_shapes():
    with pytest.raises(TypeError, match=r"^the shape of A must be a pair of integers, got 3$"):
        as_operator((3, lambda v: v))
    with pytest.raises(ValueError, match=r"^the shape of A must be a pair of integers, got \(3, 3, 3\)$"):
        as_operator(((3, 3, 3), lambda v: v))
    with pytest.raises(ValueError, match="shape must be a pair of positive integers"):
        as_operator(((0, 0), lambda v: v))


def test_as_operator_non_numeric_tuple_shape_names_the_argument():
    with pytest.raises((TypeError, ValueError), match=r"the shape of A must be a pair of integers"):
        as_operator((("a", 2), lambda v: v))


def test_as_operator_bare_callable_needs_shape():
    msg = r"^K is a bare callable: also give its shape, or pass \(shape, matvec\)$"
    with pytest.raises(TypeError, match=msg):
        as_operator(lambda v: v, name="K")


@pytest.mark.parametrize(
    "bad, typename", [("abc", "str"), ([[1.0, 0.0], [0.0, 1.0]], "list"), (None, "NoneType"), (3.0, "float")]
)
def test_as_operator_rejects_unsupported_types(bad, typename):
    with pytest.raises(TypeError, match=rf"^A must be an array, a sparse matrix, .*; got {typename}$"):
        as_operator(bad)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("kind", ["dense", *SPARSE_FORMATS])
def test_as_operator_rejects_nonfinite(kind, bad):
    A = np.eye(4)
    A[0, 3] = bad
    with pytest.raises(ValueError, match=r"^H contains NaN or infinity$"):
        as_operator(_form(kind, A)[0], name="H")


@pytest.mark.parametrize("kind", ["dense", *SPARSE_FORMATS])
def test_as_operator_symmetric_check(kind):
    rng = np.random.default_rng(4)
    B = rng.standard_normal((5, 5))
    S = B + B.T
    op = as_operator(_form(kind, S)[0], symmetric=True)
    np.testing.assert_allclose(op @ np.eye(5), S, rtol=1e-14)
    with pytest.raises(ValueError, match=r"^H is not symmetric: "):
        as_operator(_form(kind, B)[0], symmetric=True, name="H")
    # Without symmetric=True the non-symmetric matrix is accepted as is.
    np.testing.assert_allclose(as_operator(_form(kind, B)[0]) @ np.eye(5), B, rtol=1e-14)


def test_as_operator_symmetric_check_array_api_strict():
    B = np.triu(np.ones((4, 4)))
    with pytest.raises(ValueError, match=r"^A is not symmetric: "):
        as_operator(xs.asarray(B), symmetric=True)
    as_operator(xs.asarray(B + B.T), symmetric=True)


# --------------------------------------------------------------------------------------------
# check_symmetric
# --------------------------------------------------------------------------------------------


def _symmetric_with_noise(n, seed, rel, dtype=np.float64):
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((n, n))
    S = B + B.T
    E = rng.standard_normal((n, n))
    E *= rel * np.linalg.norm(S) / np.linalg.norm(E)
    return S, (S + E).astype(dtype)


@pytest.mark.parametrize("wrap", [np.asarray, *SPARSE_FORMATS.values(), xs.asarray],
                         ids=["dense", *SPARSE_FORMATS, "strict"])
def test_check_symmetric_passes_with_rounding_noise(wrap):
    _, A = _symmetric_with_noise(8, 0, 1e-14)
    assert check_symmetric(wrap(A)) is None
    _, A32 = _symmetric_with_noise(8, 1, 1e-6, np.float32)
    assert check_symmetric(wrap(A32)) is None


@pytest.mark.parametrize("wrap", [np.asarray, *SPARSE_FORMATS.values(), xs.asarray],
                         ids=["dense", *SPARSE_FORMATS, "strict"])
def test_check_symmetric_raises_with_ratio(wrap):
    # ‖A − Aᵀ‖_F / ‖A‖_F = sqrt(6) / sqrt(6) = 1 for the 3x3 upper triangle of ones.
    with pytest.raises(ValueError, match=r"^A is not symmetric: ‖A − Aᵀ‖_F / ‖A‖_F = 1$"):
        check_symmetric(wrap(np.triu(np.ones((3, 3)))))
    # One off-diagonal entry 0.5 in the identity: ratio 0.5 sqrt2 / sqrt(3.25) = 0.39.
    A = np.eye(3)
    A[0, 2] = 0.5
    with pytest.raises(ValueError, match=r"^Hess is not symmetric: ‖Hess − Hessᵀ‖_F / ‖Hess‖_F = 0.39$"):
        check_symmetric(wrap(A), "Hess")


@pytest.mark.parametrize("wrap", [np.asarray, sp.csr_matrix], ids=["dense", "csr"])
def test_check_symmetric_threshold_is_sqrt_eps(wrap):
    S, _ = _symmetric_with_noise(6, 2, 0.0)
    rng = np.random.default_rng(3)
    K = rng.standard_normal((6, 6))
    K = K - K.T  # purely antisymmetric: ‖A − Aᵀ‖ = 2 ‖K‖
    sqrt_eps = np.sqrt(np.finfo(np.float64).eps)
    below = S + K * (0.4 * sqrt_eps * np.linalg.norm(S) / np.linalg.norm(K))
    above = S + K * (0.6 * sqrt_eps * np.linalg.norm(S) / np.linalg.norm(K))
    check_symmetric(wrap(below))
    with pytest.raises(ValueError, match="A is not symmetric"):
        check_symmetric(wrap(above))
    # An explicit rtol overrides the default.
    check_symmetric(wrap(above), rtol=1e-6)
    with pytest.raises(ValueError, match="A is not symmetric"):
        check_symmetric(wrap(below), rtol=1e-12)


def test_check_symmetric_float32_threshold():
    S, _ = _symmetric_with_noise(6, 5, 0.0)
    A = S.copy()
    A[0, 1] += 1e-2 * np.linalg.norm(S)  # relative asymmetry ~1e-2 >> sqrt(eps32) = 3.5e-4
    with pytest.raises(ValueError, match="A is not symmetric"):
        check_symmetric(A.astype(np.float32))
    A = S.copy()
    A[0, 1] += 1e-5 * np.linalg.norm(S)  # ~1.4e-5 < 3.5e-4: rounding-level for float32
    check_symmetric(A.astype(np.float32))
    with pytest.raises(ValueError, match="A is not symmetric"):
        check_symmetric(A)  # the same asymmetry is real in float64


def test_check_symmetric_zero_and_integer_matrices():
    check_symmetric(np.zeros((3, 3)))
    check_symmetric(sp.csr_matrix((3, 3)))
    check_symmetric(np.array([[2, 1], [1, 3]]))
    with pytest.raises(ValueError, match="A is not symmetric"):
        check_symmetric(np.array([[2, 1], [0, 3]]))
    with pytest.raises(ValueError, match="A is not symmetric"):
        check_symmetric(sp.csr_matrix(np.array([[2, 1], [0, 3]])))


def test_check_symmetric_sparse_with_duplicate_entries():
    # COO matrices as assembled in finite elements carry duplicate (i, j) entries that sum.
    # Here A = [[0, 1], [0, 1]] (clearly non-symmetric): the two stored values at (0, 1)
    # cancel down to 1 and must not inflate ‖A‖_F.
    rows, cols = np.array([0, 0, 1]), np.array([1, 1, 1])
    A = sp.coo_matrix((np.array([1e10, 1.0 - 1e10, 1.0]), (rows, cols)), shape=(2, 2))
    np.testing.assert_array_equal(A.toarray(), [[0.0, 1.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="A is not symmetric"):
        check_symmetric(A)
    # Symmetric after summing duplicates: passes.
    B = sp.coo_matrix((np.array([1.0, 2.0, 3.0, 4.0]), (np.array([0, 0, 1, 0]), np.array([1, 1, 0, 0]))),
                      shape=(2, 2))
    check_symmetric(B)


# --------------------------------------------------------------------------------------------
# GramOperator
# --------------------------------------------------------------------------------------------


def _gram_reference(X, w, mu):
    """Dense float64 ``Xᵀ diag(w) X / n + mu I`` and its entrywise-absolute counterpart."""
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    w = np.ones(n) if w is None else np.asarray(w, dtype=np.float64)
    G = X.T @ np.diag(w) @ X / n + mu * np.eye(d)
    absG = np.abs(X).T @ np.diag(np.abs(w)) @ np.abs(X) / n + mu * np.eye(d)
    return G, absG


@settings(max_examples=60)
@given(
    fmt=st.sampled_from(X_FORMATS),
    n=st.integers(1, 25),
    d=st.integers(1, 8),
    k=st.one_of(st.none(), st.integers(1, 4)),
    weighted=st.booleans(),
    mu=st.sampled_from([0.0, 1e-3, 0.5, 3.0]),
    dtype=float_dtypes,
    density=st.sampled_from([1.0, 0.3]),
    seed=seeds,
)
def test_gram_operator_matches_dense(fmt, n, d, k, weighted, mu, dtype, density, seed):
    rng = np.random.default_rng(seed)
    X = random_matrix(rng, (n, d), density).astype(dtype)
    w = rng.random(n).astype(dtype) * 2.0 if weighted else None
    if weighted and n > 1:
        w[0] = 0.0  # zero curvature weights are allowed
    V = (rng.standard_normal(d) if k is None else rng.standard_normal((d, k))).astype(dtype)
    G = GramOperator(make_X(fmt, X), weights=w, mu=mu)
    assert G.shape == (d, d)
    assert G.n_samples == n
    assert G.mu == mu
    assert np.dtype(G.dtype) == dtype
    out = G @ V
    assert out.dtype == dtype
    ref, absref = _gram_reference(X, w, mu)
    V64 = V.astype(np.float64)
    assert_product_close(out, ref @ V64, absref @ np.abs(V64), dtype)
    if k is not None:
        assert_product_close(G.matmat(V), ref @ V64, absref @ np.abs(V64), dtype)
        assert_product_close(G.matvec(V[:, 0]), ref @ V64[:, 0], absref @ np.abs(V64[:, 0]), dtype)


@settings(max_examples=40)
@given(
    fmt=st.sampled_from([*X_FORMATS, "coo_matrix"]),
    n=st.integers(1, 25),
    d=st.integers(1, 8),
    weighted=st.booleans(),
    mu=st.sampled_from([0.0, 0.25]),
    dtype=float_dtypes,
    density=st.sampled_from([1.0, 0.3]),
    seed=seeds,
)
def test_gram_operator_diagonal_matches_dense(fmt, n, d, weighted, mu, dtype, density, seed):
    rng = np.random.default_rng(seed)
    X = random_matrix(rng, (n, d), density).astype(dtype)
    w = rng.random(n).astype(dtype) if weighted else None
    Xin = sp.coo_matrix(X) if fmt == "coo_matrix" else make_X(fmt, X)
    diag = GramOperator(Xin, weights=w, mu=mu).diagonal()
    ref, absref = _gram_reference(X, w, mu)
    diag = np.asarray(diag)
    assert diag.shape == (d,)
    assert diag.dtype == dtype
    assert_product_close(diag, np.diag(ref), np.diag(absref), dtype)


@pytest.mark.parametrize("fmt", X_FORMATS)
def test_gram_operator_integer_data_computes_in_float64(fmt):
    rng = np.random.default_rng(5)
    X = rng.integers(-4, 5, size=(9, 4))
    w = rng.integers(0, 3, size=9)
    G = GramOperator(make_X(fmt, X), weights=w, mu=1)
    assert np.dtype(G.dtype) == np.float64
    out = G @ np.eye(4)
    assert out.dtype == np.float64
    ref, _ = _gram_reference(X, w, 1.0)
    np.testing.assert_allclose(out, ref, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(G.diagonal(), np.diag(ref), rtol=1e-14)


@pytest.mark.parametrize("fmt", X_FORMATS)
def test_gram_operator_float32_data_float64_weights_stay_float32(fmt):
    rng = np.random.default_rng(6)
    X = rng.standard_normal((10, 3)).astype(np.float32)
    w = rng.random(10)  # float64 weights must not promote the operator
    G = GramOperator(make_X(fmt, X), weights=w, mu=0.1)
    assert np.dtype(G.dtype) == np.float32
    V = rng.standard_normal((3, 2)).astype(np.float32)
    out = G @ V
    assert out.dtype == np.float32
    ref, absref = _gram_reference(X, w.astype(np.float32), 0.1)
    assert_product_close(out, ref @ V, absref @ np.abs(V), np.float32)


def test_gram_operator_rejects_complex():
    with pytest.raises(ValueError, match=r"^X must hold real numbers"):
        GramOperator(np.ones((3, 2), dtype=np.complex128))


@pytest.mark.parametrize("k", [None, 2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("np_dtype, xs_dtype", [(np.float32, xs.float32), (np.float64, xs.float64)])
def test_gram_operator_array_api_strict(k, weighted, np_dtype, xs_dtype):
    rng = np.random.default_rng(7)
    X = rng.standard_normal((11, 4)).astype(np_dtype)
    w = rng.random(11).astype(np_dtype) if weighted else None
    V = (rng.standard_normal(4) if k is None else rng.standard_normal((4, k))).astype(np_dtype)
    G = GramOperator(xs.asarray(X), weights=None if w is None else xs.asarray(w), mu=0.3)
    assert G.dtype == xs_dtype
    out = G @ xs.asarray(V)
    assert isinstance(out, STRICT_ARRAY)
    assert out.dtype == xs_dtype
    ref, absref = _gram_reference(X, w, 0.3)
    V64 = V.astype(np.float64)
    assert_product_close(np.asarray(out), ref @ V64, absref @ np.abs(V64), np_dtype)
    np.testing.assert_allclose(np.asarray(out), GramOperator(X, w, mu=0.3) @ V, rtol=TOL[np.dtype(np_dtype)])
    diag = G.diagonal()
    assert isinstance(diag, STRICT_ARRAY)
    assert diag.dtype == xs_dtype
    assert_product_close(np.asarray(diag), np.diag(ref), np.diag(absref), np_dtype)


def test_gram_operator_array_api_strict_integer_data():
    X = (np.arange(24).reshape(8, 3) % 7) - 3
    G = GramOperator(xs.asarray(X), mu=2)
    assert G.dtype == xs.float64
    out = G @ xs.asarray(np.eye(3))
    ref, _ = _gram_reference(X, None, 2.0)
    np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-14, atol=1e-14)


def test_gram_operator_through_as_operator_with_symmetry_check():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((6, 3))
    G = as_operator(GramOperator(X, mu=1.0), symmetric=True)
    ref, _ = _gram_reference(X, None, 1.0)
    np.testing.assert_allclose(G @ np.eye(3), ref, rtol=1e-13)
    check_symmetric(G @ np.eye(3))


# --------------------------------------------------------------------------------------------
# GramOperator: bad input
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "X",
    [np.ones(5), np.ones((2, 2, 2)), np.array(1.0), [1.0, 2.0], xs.asarray(np.ones(3))],
    ids=["1-D", "3-D", "0-D", "1-D-list", "strict-1-D"],
)
def test_gram_operator_rejects_non_2d_X(X):
    with pytest.raises(ValueError, match=r"^X must be a 2-D array"):
        GramOperator(X)


@pytest.mark.parametrize("X", ["abc", None, 1.5, True, 1 + 2j, np.float64(1.0)],
                         ids=["str", "None", "float", "bool", "complex", "np-scalar"])
def test_gram_operator_rejects_non_arrays_with_type_error(X):
    # The policy: a value of a kind that is never an array is a TypeError (was ValueError).
    with pytest.raises(TypeError, match=r"^X must be an array"):
        GramOperator(X)


@pytest.mark.parametrize("fmt", X_FORMATS)
@pytest.mark.parametrize("shape", [(0, 3), (5, 0), (0, 0)])
def test_gram_operator_rejects_empty_X_naming_it(fmt, shape):
    # Was "weights must have shape (0,)" or Operator's "shape must be a pair of positive integers".
    with pytest.raises(ValueError, match=rf"^X must not be empty, got shape \({shape[0]}, {shape[1]}\)$"):
        GramOperator(make_X(fmt, np.ones(shape)), weights=np.ones(5))


@pytest.mark.parametrize(("X", "message"), [
    (np.full((5, 2), "a"), r"^X must hold real numbers"),
    (np.ones((5, 2), dtype=object), r"^X must hold real numbers"),
    ([["a", "b"]] * 5, r"^X must hold real numbers"),
])
def test_gram_operator_rejects_non_numeric_content(X, message):
    with pytest.raises(ValueError, match=message):
        GramOperator(X)


def test_gram_operator_reads_a_nested_list_like_an_array():
    X = [[1.0, 2.0], [3.0, 4.0], [0.5, -1.0]]
    np.testing.assert_allclose(GramOperator(X, mu=0.1) @ np.eye(2),
                               GramOperator(np.array(X), mu=0.1) @ np.eye(2), rtol=1e-15)


@pytest.mark.parametrize("fmt", X_FORMATS)
@pytest.mark.parametrize(
    "w, shown",
    [(np.ones(4), r"\(4,\)"), (np.ones(6), r"\(6,\)"), (np.ones((5, 1)), r"\(5, 1\)"),
     (np.float64(1.0), r"\(\)")],
    ids=["short", "long", "column", "scalar"],
)
def test_gram_operator_rejects_wrong_weights_shape(fmt, w, shown):
    with pytest.raises(ValueError, match=rf"^weights must have shape \(5,\), got {shown}$"):
        GramOperator(make_X(fmt, np.ones((5, 2))), weights=w)


@pytest.mark.parametrize("fmt", ["dense", "csr_matrix"])
def test_gram_operator_reads_list_weights_like_an_array(fmt):
    # The validation policy reads array-likes as arrays (as scikit-learn does); bad content
    # is a ValueError naming the argument.
    X = make_X(fmt, np.arange(10.0).reshape(5, 2))
    w = [1.0, 2.0, 0.5, 0.0, 3.0]
    np.testing.assert_allclose(GramOperator(X, weights=w) @ np.eye(2),
                               GramOperator(X, weights=np.array(w)) @ np.eye(2), rtol=1e-15)
    with pytest.raises(ValueError, match=r"^weights"):
        GramOperator(X, weights=["a"] * 5)
    with pytest.raises(ValueError, match=r"^weights must hold real numbers"):
        GramOperator(X, weights=np.ones(5) + 1j)


@pytest.mark.parametrize("fmt", X_FORMATS)
def test_gram_operator_rejects_negative_weights(fmt):
    w = np.ones(5)
    w[3] = -1e-12
    with pytest.raises(ValueError, match=r"^weights must be non-negative$"):
        GramOperator(make_X(fmt, np.ones((5, 2))), weights=w)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_gram_operator_rejects_nonfinite_weights(bad):
    w = np.ones(5)
    w[0] = bad
    with pytest.raises(ValueError, match=r"^weights contains NaN or infinity$"):
        GramOperator(np.ones((5, 2)), weights=w)


@pytest.mark.parametrize("mu", [-1e-9, -1.0, np.nan, np.inf])
def test_gram_operator_rejects_bad_mu(mu):
    with pytest.raises(ValueError, match=r"^mu must be finite and >= 0"):
        GramOperator(np.ones((3, 2)), mu=mu)


@pytest.mark.parametrize("mu", [True, "0.1", None, np.ones(1)])
def test_gram_operator_rejects_mu_type(mu):
    with pytest.raises(TypeError, match=r"^mu must be a real number"):
        GramOperator(np.ones((3, 2)), mu=mu)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("fmt", X_FORMATS)
def test_gram_operator_rejects_nonfinite_X(fmt, bad):
    X = np.ones((5, 3))
    X[2, 1] = bad
    with pytest.raises(ValueError, match=r"^X contains NaN or infinity$"):
        GramOperator(make_X(fmt, X))


def test_gram_operator_rejects_nan_in_strict_X():
    X = np.ones((5, 3))
    X[4, 0] = np.nan
    with pytest.raises(ValueError, match=r"^X contains NaN or infinity$"):
        GramOperator(xs.asarray(X))


# --------------------------------------------------------------------------------------------
# CuPy
# --------------------------------------------------------------------------------------------


@pytest.mark.gpu
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gram_operator_cupy_matches_numpy(cupy, sparse, weighted, dtype):
    import cupyx.scipy.sparse as csp

    rng = np.random.default_rng(9)
    X = random_matrix(rng, (40, 6), 0.5).astype(dtype)
    w = rng.random(40).astype(dtype) if weighted else None
    V = rng.standard_normal((6, 3)).astype(dtype)
    Xd = csp.csr_matrix(cupy.asarray(X)) if sparse else cupy.asarray(X)
    G = GramOperator(Xd, weights=None if w is None else cupy.asarray(w), mu=0.2)
    assert _backend.is_cupy_namespace(G.xp)
    assert np.dtype(G.dtype) == np.dtype(dtype)
    ref, absref = _gram_reference(X, w, 0.2)
    out = G @ cupy.asarray(V)
    assert isinstance(out, cupy.ndarray)
    assert out.dtype == dtype
    V64 = V.astype(np.float64)
    assert_product_close(cupy.asnumpy(out), ref @ V64, absref @ np.abs(V64), dtype)
    out1 = G @ cupy.asarray(V[:, 0])
    assert out1.shape == (6,)
    assert_product_close(cupy.asnumpy(out1), ref @ V64[:, 0], absref @ np.abs(V64[:, 0]), dtype)
    diag = G.diagonal()
    assert isinstance(diag, cupy.ndarray)
    assert diag.dtype == dtype
    assert_product_close(cupy.asnumpy(diag), np.diag(ref), np.diag(absref), dtype)


@pytest.mark.gpu
def test_as_operator_and_check_symmetric_cupy(cupy):
    import cupyx.scipy.sparse as csp

    rng = np.random.default_rng(10)
    B = rng.standard_normal((5, 5))
    S = B + B.T
    V = rng.standard_normal((5, 2))
    for A in (cupy.asarray(S), csp.csr_matrix(cupy.asarray(S))):
        op = as_operator(A, symmetric=True)
        out = op @ cupy.asarray(V)
        np.testing.assert_allclose(cupy.asnumpy(out), S @ V, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="A is not symmetric"):
        check_symmetric(cupy.asarray(B))
    with pytest.raises(ValueError, match="A is not symmetric"):
        check_symmetric(csp.csr_matrix(cupy.asarray(B)))
    Bn = B.copy()
    Bn[1, 1] = np.nan
    with pytest.raises(ValueError, match="A contains NaN or infinity"):
        as_operator(cupy.asarray(Bn))


# --- issue 13: noise level, dtype policy, scale-free symmetry check --------------------------

@pytest.mark.parametrize("fmt", ["dense", "csr_matrix"])
def test_gram_noise_level_separates_rounding_noise_from_signal(fmt):
    rng = np.random.default_rng(0)
    X = np.tile(rng.standard_normal(6) * 10, (500, 1))  # identical rows: centring cancels all
    G = GramOperator(make_X(fmt, X))
    x_mean = X.mean(axis=0)
    V = np.linalg.qr(rng.standard_normal((6, 6)))[0]
    centred = G @ V - np.outer(x_mean, x_mean @ V)
    assert np.linalg.norm(centred, axis=0).max() <= G.noise_level
    # A genuine operator is far above it; the level scales with the data.
    assert np.linalg.norm(G @ V, axis=0).min() > 1e6 * G.noise_level
    assert GramOperator(make_X(fmt, 1e-100 * X)).noise_level == pytest.approx(1e-200 * G.noise_level)
    assert Operator((2, 2), lambda V: V).noise_level is None
    with pytest.raises(ValueError, match=r"^noise_level must be >= 0"):
        Operator((2, 2), lambda V: V, noise_level=-1.0)


@pytest.mark.parametrize("fmt", ["dense", "csr_matrix"])
def test_gram_float32_data_float64_block_is_computed_in_float32(fmt):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 5)).astype(np.float32)
    G = GramOperator(make_X(fmt, X), weights=rng.random(40), mu=0.25)
    V = rng.standard_normal((5, 3))
    out = G @ V
    assert out.dtype == np.float64
    V32 = V.astype(np.float32)
    np.testing.assert_allclose(out, (G @ V32).astype(np.float64) + 0.25 * (V - V32), rtol=1e-6)
    assert (G @ V32).dtype == np.float32


def test_sparse_gram_chunks_give_the_same_product():
    rng = np.random.default_rng(2)
    X = sp.random(300, 40, density=0.02, format="csr", random_state=3)
    G = GramOperator(X, weights=rng.random(300), mu=0.5)
    assert G._chunk < 100  # the block below is applied in several chunks
    V = rng.standard_normal((40, 100))
    ref = X.T @ (G.weights[:, None] * (X @ V)) / 300 + 0.5 * V
    np.testing.assert_allclose(G @ V, ref, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("s", [1e-300, 1e300])
def test_check_symmetric_atol_and_scale(s):
    noise = 1e-17 * np.random.default_rng(0).standard_normal((4, 4))
    with pytest.raises(ValueError, match=r"^A is not symmetric"):
        check_symmetric(noise)
    check_symmetric(noise, atol=1e-15)
    with pytest.raises(ValueError, match=r"^A is not symmetric"):
        check_symmetric(s * np.triu(np.ones((4, 4))))
