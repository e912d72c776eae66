"""Unit tests of :mod:`rnla._validation` against its own docstrings: the TypeError/ValueError split
(wrong kind versus wrong value), messages that start with the argument's name, ``bool`` is not a
number, 0-d arrays and NumPy scalars, infinity, ``check_auto_or``, the array rules of
``check_array``/``check_vector``/``check_finite_array``, and no silent complex-to-real cast."""

import fractions
import math

import array_api_strict as xps
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from rnla import _validation as v

# Values of a kind that is never a real number (TypeError); each with an id for the test name.
NOT_REAL = {
    "None": None, "str": "abc", "empty-str": "", "bytes": b"1", "complex": 1 + 2j,
    "np.complex128": np.complex128(1.0), "list": [1.0], "tuple": (1.0,), "dict": {"a": 1},
    "1-D array": np.ones(1), "0-d complex": np.array(1 + 1j), "0-d bool": np.array(True),
    "0-d object": np.array(1.0, dtype=object), "0-d str": np.array("1"), "object": object(),
}
BOOLS = {"True": True, "False": False, "np.True_": np.True_, "np.False_": np.False_}
REAL_SCALARS = {
    "int": 3, "float": 3.0, "np.int64": np.int64(3), "np.uint8": np.uint8(3),
    "np.float32": np.float32(3.0), "np.float16": np.float16(3.0), "fraction": fractions.Fraction(3),
    "0-d float": np.array(3.0), "0-d int": np.array(3), "0-d float32": np.array(3.0, np.float32),
}


def _starts_with(name):
    return f"^{name}\\b"


# -- check_real and its two shorthands ---------------------------------------------------------

@pytest.mark.parametrize("value", REAL_SCALARS.values(), ids=REAL_SCALARS.keys())
def test_check_real_accepts_real_scalars_numpy_scalars_and_0d_arrays(value):
    out = v.check_real(value, "tol")
    assert type(out) is float and out == 3.0


@pytest.mark.parametrize("value", list(NOT_REAL.values()) + list(BOOLS.values()),
                         ids=list(NOT_REAL) + list(BOOLS))
@pytest.mark.parametrize("check", [v.check_real, v.check_nonnegative, v.check_positive])
def test_wrong_kind_for_a_real_is_type_error_naming_the_argument(check, value):
    with pytest.raises(TypeError, match=_starts_with("tol")):
        check(value, "tol")


def test_complex_with_zero_imaginary_part_is_still_not_real():
    for value in (1 + 0j, np.complex64(2.0), np.array(2 + 0j)):
        with pytest.raises(TypeError, match=r"^mu"):
            v.check_real(value, "mu")


@pytest.mark.parametrize("value", [math.nan, -math.nan, np.float32("nan"), np.array(np.nan)])
@pytest.mark.parametrize("allow_inf", [False, True])
def test_nan_is_value_error_even_when_inf_is_allowed(value, allow_inf):
    with pytest.raises(ValueError, match=r"^rtol"):
        v.check_real(value, "rtol", allow_inf=allow_inf)


@pytest.mark.parametrize("value", [math.inf, -math.inf, np.float64("inf"), np.array(-np.inf)])
def test_infinity_is_value_error_unless_allowed(value):
    with pytest.raises(ValueError, match=r"^atol"):
        v.check_real(value, "atol")
    assert v.check_real(value, "atol", allow_inf=True) == float(value)


def test_allow_inf_does_not_lift_the_interval():
    assert v.check_nonnegative(math.inf, "atol", allow_inf=True) == math.inf
    with pytest.raises(ValueError, match=r"^atol"):
        v.check_nonnegative(-math.inf, "atol", allow_inf=True)
    with pytest.raises(ValueError, match=r"^atol"):
        v.check_nonnegative(math.inf, "atol")
    with pytest.raises(ValueError, match=r"^x"):
        v.check_real(math.inf, "x", high=1.0, allow_inf=True)


@pytest.mark.parametrize("big", [10**400, -(10**400), fractions.Fraction(10**400, 3)],
                         ids=["huge-int", "huge-negative-int", "huge-fraction"])
def test_huge_python_numbers_are_value_errors_not_overflow(big):
    # A Python int beyond float range is a real number of the right kind with a value out of
    # range: ValueError naming the argument, not float()'s OverflowError.
    with pytest.raises(ValueError, match=r"^reg"):
        v.check_real(big, "reg")


def test_0d_array_of_another_namespace_is_a_real_number():
    # The docstring accepts "a 0-d real array"; array-API arrays have no ``dtype.kind``.
    assert v.check_real(xps.asarray(2.5), "alpha") == 2.5
    with pytest.raises(TypeError, match=r"^alpha"):
        v.check_real(xps.asarray(True), "alpha")


@given(st.floats(allow_nan=False, allow_infinity=False),
       st.floats(-1e6, 1e6), st.floats(0, 1e6), st.booleans(), st.booleans())
def test_check_real_interval_matches_its_definition(x, low, width, low_open, high_open):
    high = low + width
    inside = ((low < x or (x == low and not low_open))
              and (x < high or (x == high and not high_open)))
    if inside:
        assert v.check_real(x, "x", low=low, high=high, low_open=low_open, high_open=high_open) == x
    else:
        with pytest.raises(ValueError, match=r"^x"):
            v.check_real(x, "x", low=low, high=high, low_open=low_open, high_open=high_open)


def test_nonnegative_and_positive_end_points():
    assert v.check_nonnegative(0, "reg") == 0.0
    assert v.check_nonnegative(np.float32(0.5), "reg") == 0.5
    with pytest.raises(ValueError, match=r"^reg"):
        v.check_nonnegative(-1e-300, "reg")
    with pytest.raises(ValueError, match=r"^sigma"):
        v.check_positive(0.0, "sigma")
    with pytest.raises(ValueError, match=r"^sigma"):
        v.check_positive(-0.0, "sigma")
    assert v.check_positive(5e-324, "sigma") == 5e-324


# -- integers ----------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [1, 7, np.int64(7), np.uint16(7), np.int8(1), 10**30])
def test_positive_int_accepts_python_and_numpy_integers(value):
    out = v.check_positive_int(value, "rank")
    assert type(out) is int and out == int(value)


@pytest.mark.parametrize("value", [2.0, np.float64(2.0), 2.5, "2", None, 2 + 0j, [2], np.ones(1),
                                   True, False, np.True_, math.nan, math.inf],
                         ids=["float", "np.float64", "2.5", "str", "None", "complex", "list",
                              "array", "True", "False", "np.True_", "nan", "inf"])
@pytest.mark.parametrize("check", [v.check_positive_int, v.check_optional_positive_int])
def test_non_integer_kind_is_type_error(check, value):
    if value is None and check is v.check_optional_positive_int:
        assert check(value, "rank") is None
        return
    with pytest.raises(TypeError, match=r"^rank"):
        check(value, "rank")


@pytest.mark.parametrize("value", [0, -1, np.int64(-3), -(10**30)])
def test_non_positive_integer_is_value_error(value):
    with pytest.raises(ValueError, match=r"^maxiter"):
        v.check_positive_int(value, "maxiter")


@pytest.mark.parametrize("value", [0, 5, np.int32(5), np.array(5), 10**30])
def test_nonnegative_int_accepts_zero_and_integers(value):
    out = v.check_nonnegative_int(value, "oversample")
    assert type(out) is int and out == int(value)


def test_nonnegative_int_split():
    for bad in (None, 1.0, 0.0, "1", True, np.True_, np.array(True), 1j, [1], math.nan, math.inf):
        with pytest.raises(TypeError, match=r"^oversample"):
            v.check_nonnegative_int(bad, "oversample")
    for bad in (-1, np.int64(-1), -(10**30), np.array(-2)):
        with pytest.raises(ValueError, match=r"^oversample"):
            v.check_nonnegative_int(bad, "oversample")


def test_positive_int_upper_bound_names_both_sides():
    assert v.check_positive_int(5, "rank", upper=5, upper_name="n") == 5
    with pytest.raises(ValueError, match=r"^rank\b.*\bn\b.*5"):
        v.check_positive_int(6, "rank", upper=5, upper_name="n")
    with pytest.raises(ValueError, match=r"^rank"):
        v.check_optional_positive_int(6, "rank", upper=5, upper_name="n")


def test_positive_int_and_real_agree_on_0d_arrays():
    # check_real accepts a 0-d real array as a number; a 0-d integer array is an integer in the
    # same sense (NumPy's operator.index accepts it), so check_positive_int should accept it too.
    assert v.check_real(np.array(3), "k") == 3.0
    assert v.check_positive_int(np.array(3), "k") == 3


# -- options, 'auto'-or-number, bools, callables -----------------------------------------------

def test_check_option():
    assert v.check_option("LM", "which", ("LM", "SM")) == "LM"
    assert v.check_option(np.str_("SM"), "which", ("LM", "SM")) == "SM"
    for bad in ("lm", "", "LM "):
        with pytest.raises(ValueError, match=r"^which.*'LM'"):
            v.check_option(bad, "which", ("LM", "SM"))
    for bad in (None, 1, b"LM", ["LM"], {"LM": 1}, 1j, True):
        with pytest.raises(TypeError, match=r"^which"):
            v.check_option(bad, "which", ("LM", "SM"))


def test_check_auto_or():
    assert v.check_auto_or("auto", "rho", v.check_positive) == "auto"
    assert v.check_auto_or(2, "rho", v.check_positive) == 2.0
    assert v.check_auto_or("none", "rank", v.check_positive_int, keywords=("auto", "none")) == "none"
    assert v.check_auto_or(4, "rank", v.check_positive_int, upper=5, upper_name="n") == 4
    # A string that is not a keyword: the kind is accepted, the value is not.
    for bad in ("AUTO", "", "abc", "1.0"):
        with pytest.raises(ValueError, match=r"^rho.*'auto'"):
            v.check_auto_or(bad, "rho", v.check_positive)
    # Any other kind is judged by the given check, with its own split.
    for bad in (None, 1j, True, [1.0], b"auto"):
        with pytest.raises(TypeError, match=r"^rho"):
            v.check_auto_or(bad, "rho", v.check_positive)
    for bad in (0.0, -1, math.nan, math.inf):
        with pytest.raises(ValueError, match=r"^rho"):
            v.check_auto_or(bad, "rho", v.check_positive)
    with pytest.raises(TypeError, match=r"^rank"):
        v.check_auto_or(2.5, "rank", v.check_positive_int)
    with pytest.raises(ValueError, match=r"^rank"):
        v.check_auto_or(6, "rank", v.check_positive_int, upper=5, upper_name="n")


def test_check_bool():
    for value, want in BOOLS.items():
        assert v.check_bool(want, "full_output") is bool(want), value
    for bad in (0, 1, 1.0, None, "True", "", [True], np.array([True]), np.array(True), 1j):
        with pytest.raises(TypeError, match=r"^full_output"):
            v.check_bool(bad, "full_output")


def test_check_callable():
    assert v.check_callable(None, "callback") is None
    assert v.check_callable(print, "callback") is print
    with pytest.raises(TypeError, match=r"^callback"):
        v.check_callable(None, "callback", optional=False)
    for bad in ("print", 1, [print], {}, np.ones(2)):
        with pytest.raises(TypeError, match=r"^callback"):
            v.check_callable(bad, "callback")


# -- arrays ------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [None, "abc", "", b"12", 1.0, 3, 1j, True, np.float64(1.0),
                                 np.complex128(1j)],
                         ids=["None", "str", "empty-str", "bytes", "float", "int", "complex",
                              "bool", "np.float64", "np.complex128"])
def test_check_array_wrong_kind_is_type_error(bad):
    with pytest.raises(TypeError, match=r"^X"):
        v.check_array(bad, "X")


@pytest.mark.parametrize("bad", [
    np.array([1 + 2j, 3]), np.array([1.0, 2.0], dtype=complex), [1j, 2.0], np.array(["a", "b"]),
    ["a", "b"], np.array([1.0, None], dtype=object), np.array([1.0, 2.0], dtype=object),
    [[1.0], [1.0, 2.0]], {"a": 1}, np.array([1, 2], dtype="m8[s]"),
    xps.asarray([1 + 2j]),
], ids=["complex", "complex-zero-imag", "complex-list", "str-array", "str-list", "object-None",
        "object-floats", "ragged", "dict", "timedelta", "strict-complex"])
def test_check_array_non_real_content_is_value_error_and_never_cast(bad):
    with pytest.raises(ValueError, match=r"^X"):
        v.check_array(bad, "X")


@pytest.mark.parametrize("bad", [np.array([1.0, np.nan]), np.array([[np.inf]]), [1.0, -np.inf],
                                 np.array([np.nan], np.float32), xps.asarray([np.nan])])
def test_check_array_nan_and_inf_are_value_errors_unless_not_finite(bad):
    with pytest.raises(ValueError, match=r"^b"):
        v.check_array(bad, "b")
    out = v.check_array(bad, "b", finite=False)
    assert out.shape == np.asarray(bad).shape


@pytest.mark.parametrize("shape", [(0,), (0, 3), (3, 0), (2, 0, 2)])
def test_check_array_empty(shape):
    with pytest.raises(ValueError, match=r"^X"):
        v.check_array(np.ones(shape), "X")
    assert v.check_array(np.ones(shape), "X", allow_empty=True).shape == shape
    with pytest.raises(ValueError, match=r"^X"):
        v.check_array([], "X")


def test_check_array_ndim():
    with pytest.raises(ValueError, match=r"^X.*2-D"):
        v.check_array(np.ones(3), "X", ndim=2)
    with pytest.raises(ValueError, match=r"^X.*1-D or 2-D"):
        v.check_array(np.ones((1, 1, 1)), "X", ndim=(1, 2))
    with pytest.raises(ValueError, match=r"^X"):
        v.check_array(np.array(1.0), "X", ndim=1)
    assert v.check_array(np.ones((2, 3)), "X", ndim=(1, 2)).shape == (2, 3)
    # A 0-d array is an array (not a scalar) when no ndim is asked for.
    assert v.check_array(np.array(2.0), "X").shape == ()


def test_check_array_dtypes():
    assert v.check_array([1, 2], "X").dtype == np.float64
    assert v.check_array(np.array([True, False]), "X").dtype == np.float64
    assert v.check_array(np.ones(2, np.float32), "X").dtype == np.float32
    assert v.check_array(np.ones(2, np.int8), "X", dtype=np.float32).dtype == np.float32
    assert v.check_array(np.ones(2), "X", dtype=np.float32).dtype == np.float32
    x = np.ones(3)
    assert v.check_array(x, "X") is x       # no copy of a valid float array
    strict = v.check_array(xps.asarray([1, 2]), "X")
    assert strict.dtype == xps.float64
    assert v.check_array([1.0, 2.0], "X", xp=xps).dtype == xps.float64


def test_check_array_moves_a_numpy_array_to_the_namespace_asked_for():
    # A NumPy array (like a list) handed in with ``xp`` of another namespace holds real numbers:
    # it is read into that namespace, not refused.
    out = v.check_array(np.ones(2), "X", xp=xps)
    assert out.dtype == xps.float64 and out.shape == (2,)
    assert type(out).__module__.startswith("array_api_strict")


def test_check_array_of_a_sparse_matrix_names_the_argument():
    # check_array is for dense arrays; a sparse matrix must give an error naming the argument,
    # not NumPy's "ufunc 'isfinite' not supported" from deep inside the NaN test.
    with pytest.raises((TypeError, ValueError), match=r"^X"):
        v.check_array(sp.eye(3, format="csr"), "X")


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32), min_size=1, max_size=6))
def test_check_array_keeps_finite_real_values(values):
    out = v.check_array(values, "x", ndim=1)
    np.testing.assert_array_equal(out, np.asarray(values, dtype=np.float64))


def test_check_finite_array_dense_and_sparse():
    v.check_finite_array(np, np.ones(3), "A")
    v.check_finite_array(np, sp.eye(3, format="csr"), "A")
    v.check_finite_array(np, np.arange(3), "A")
    for bad in (np.array([1.0, np.nan]), np.array([[np.inf]]),
                sp.csr_matrix(np.array([[np.nan, 0.0], [0.0, 1.0]])),
                sp.coo_matrix(np.array([[0.0, -np.inf]]))):
        with pytest.raises(ValueError, match=r"^A"):
            v.check_finite_array(np, bad, "A")
    v.check_finite_array(xps, xps.ones(2), "A")
    with pytest.raises(ValueError, match=r"^A"):
        v.check_finite_array(xps, xps.asarray([np.nan]), "A")


def test_check_vector():
    b = np.arange(3.0)
    assert v.check_vector(np, b, 3, "b") is b
    assert v.check_vector(np, b[:, None], 3, "b").shape == (3,)
    assert v.check_vector(np, np.ones(3, np.float32), 3, "b").dtype == np.float32
    for bad in (None, [1.0, 2.0, 3.0], "abc", 1.0, {"a": 1}):
        with pytest.raises(TypeError, match=r"^b"):
            v.check_vector(np, bad, 3, "b")
    for bad in (np.ones(3, complex), np.array(["a", "b", "c"]), np.ones(3, object)):
        with pytest.raises(ValueError, match=r"^b"):
            v.check_vector(np, bad, 3, "b")
    for bad in (np.ones(2), np.ones((1, 3)), np.ones((3, 2)), np.array(1.0), np.ones(0),
                np.ones((3, 1, 1))):
        with pytest.raises(ValueError, match=r"^b.*\(3,\)"):
            v.check_vector(np, bad, 3, "b")
    # finiteness is the caller's check (documented)
    assert np.isnan(v.check_vector(np, np.full(3, np.nan), 3, "b")).all()


def test_check_vector_integers_become_float64():
    # "The dtype is kept (integers become float64)".
    assert v.check_vector(np, np.arange(3), 3, "b").dtype == np.float64
    assert v.check_vector(np, np.array([True, False, True]), 3, "b").dtype == np.float64


@pytest.mark.parametrize("func,args", [
    (v.check_real, (None,)), (v.check_positive_int, (0,)), (v.check_option, (1, ("a",))),
    (v.check_bool, (1,)), (v.check_callable, (1,)), (v.check_array, ("x",)),
    (v.check_auto_or, ("x", v.check_positive)),
])
@pytest.mark.parametrize("name", ["x0", "sample_weight", "A", "M"])
def test_every_message_starts_with_the_name(func, args, name):
    with pytest.raises((TypeError, ValueError)) as info:
        func(args[0], name, *args[1:])
    assert str(info.value).startswith(name + " ") or str(info.value).startswith(name + "=")


@pytest.mark.parametrize("values, expected", [
    ([1.0, 2.0], True), ([1.0, np.nan], False), ([np.inf, 1.0], False), ([np.inf, -np.inf], False),
    ([1e308, 1e308], True), ([1e308, 1e308, np.nan], False), ([], True),
])
def test_all_finite_is_the_elementwise_test(values, expected):
    from rnla._validation import all_finite

    for dtype in (np.float64, np.float32):
        x = np.asarray(values, dtype=np.float64)
        if dtype is np.float32:
            x = np.where(np.abs(x) == 1e308, 3e38, x).astype(np.float32)  # float32 sums overflow too
        assert all_finite(np, x) == bool(np.all(np.isfinite(x))) == expected
