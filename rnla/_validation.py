"""Argument checks for the whole public API of ``rnla`` and ``optim``; every error names the argument.

The policy, one rule for every public function:

- ``TypeError`` when the argument is of a kind that is never accepted: a string, list, ``None`` or
  complex number where a real number is needed, a non-integer where an integer is needed (``bool``
  counts as neither), something without a shape where an array is needed, a non-callable where a
  callable is needed, a non-string where an option keyword is needed.
- ``ValueError`` when the kind is right and the value is not: out of range, NaN or infinity, an
  unknown option keyword, an array of the wrong shape, an empty array, or an array whose *content*
  is not real numbers (complex, strings, objects). The last follows scikit-learn's ``check_array``,
  which raises ``ValueError`` for complex and string data; the estimators must keep passing its checks.
- Every message starts with the argument's name, so ``pytest.raises(..., match="^rank")`` works.
- "``'auto'`` or a number" is parsed in one place, :func:`check_auto_or`.
- Nothing is silently cast from complex to real; integer and boolean arrays become floating.
"""

from __future__ import annotations

import math
import numbers

import array_api_compat
import numpy as np

from . import _backend

__all__ = [
    "check_array",
    "check_auto_or",
    "check_bool",
    "check_callable",
    "check_finite_array",
    "check_nonnegative",
    "check_nonnegative_int",
    "check_option",
    "check_optional_positive_int",
    "check_positive",
    "check_positive_int",
    "check_product_input",
    "check_real",
    "check_real_operator",
    "check_real_product",
    "check_vector",
    "is_real_dtype",
]


def _zero_dim_kind(value):
    """``'int'``, ``'float'`` or ``'bool'`` for a 0-d real array of any namespace, else ``None``."""
    shape = getattr(value, "shape", None)
    if shape is None or tuple(shape) != () or getattr(value, "dtype", None) is None:
        return None
    try:
        xp = _backend.array_namespace(value)
        if xp.isdtype(value.dtype, "bool"):
            return "bool"
        if xp.isdtype(value.dtype, "integral"):
            return "int"
        if xp.isdtype(value.dtype, "real floating"):
            return "float"
    except (TypeError, ValueError, AttributeError):
        return None
    return None


def _to_float(value) -> float:
    try:
        return float(value)
    except OverflowError:  # a Python int or Fraction beyond the float range
        return math.inf if value > 0 else -math.inf


def _as_python_real(value, name: str) -> float:
    """``value`` (a Python/NumPy real or a 0-d real array) as a float, else ``TypeError``."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a real number, got bool {value!r}")
    if isinstance(value, numbers.Real):
        return _to_float(value)
    if _zero_dim_kind(value) in ("int", "float"):
        return float(value)
    kind = "complex number" if isinstance(value, numbers.Complex) else type(value).__name__
    raise TypeError(f"{name} must be a real number, got {kind} {value!r}"[:300])


def check_real(value, name: str, *, low: float | None = None, high: float | None = None,
               low_open: bool = False, high_open: bool = False, allow_inf: bool = False) -> float:
    """``value`` as a float in the interval given by ``low``/``high``.

    ``TypeError`` for anything that is not a real number; ``ValueError`` for NaN, infinity
    (unless ``allow_inf``) or a value outside the interval (``low_open``/``high_open`` exclude the
    end points).
    """
    value = _as_python_real(value, name)
    parts = [] if allow_inf else ["finite"]
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    bad = (math.isnan(value) or (math.isinf(value) and not allow_inf)
           or (low is not None and (value < low or (low_open and value == low)))
           or (high is not None and (value > high or (high_open and value == high))))
    if bad:
        raise ValueError(f"{name} must be {' and '.join(parts) or 'a number'}, got {value!r}")
    return value


def check_nonnegative(value, name: str, *, allow_inf: bool = False) -> float:
    """``value`` as a finite float ``>= 0`` (``allow_inf`` admits ``+inf``)."""
    return check_real(value, name, low=0.0, allow_inf=allow_inf)


def check_positive(value, name: str) -> float:
    """``value`` as a finite float ``> 0``."""
    return check_real(value, name, low=0.0, low_open=True)


def _check_int(value, name: str, low: int) -> int:
    if _zero_dim_kind(value) == "int":
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}"[:300])
    value = int(value)
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    return value


def check_positive_int(value, name: str, *, upper: int | None = None, upper_name: str = "") -> int:
    """``value`` as an int in ``[1, upper]``; ``TypeError`` for a non-integer (``bool`` included)."""
    value = _check_int(value, name, 1)
    if upper is not None and value > upper:
        raise ValueError(f"{name}={value} exceeds {upper_name} ({upper})")
    return value


def check_nonnegative_int(value, name: str) -> int:
    """``value`` as an int ``>= 0``; ``TypeError`` for a non-integer (``bool`` included)."""
    return _check_int(value, name, 0)


def check_optional_positive_int(value, name: str, **bounds) -> int | None:
    """``None``, or :func:`check_positive_int` of ``value``."""
    return None if value is None else check_positive_int(value, name, **bounds)


def check_option(value, name: str, options) -> str:
    """``value`` as one of the keywords ``options``: ``TypeError`` if not a string, else ``ValueError``."""
    listed = ", ".join(map(repr, options))
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {listed}, got {type(value).__name__} {value!r}")
    if value not in options:
        raise ValueError(f"{name} must be one of {listed}, got {value!r}")
    return value


def check_auto_or(value, name: str, check, *, keywords=("auto",), **kwargs):
    """``value`` if it is one of ``keywords`` (default ``'auto'``), else ``check(value, name, **kwargs)``.

    The one parser of "``'auto'`` or a number": a string that is not a keyword is a ``ValueError``
    (the kind is accepted, the value is not); any other kind is judged by ``check``.
    """
    if isinstance(value, str):
        if value in keywords:
            return value
        listed = " or ".join(map(repr, keywords))
        raise ValueError(f"{name} must be {listed} or a number, got {value!r}")
    return check(value, name, **kwargs)


def check_bool(value, name: str) -> bool:
    """``value`` as a bool (Python or NumPy), else ``TypeError``."""
    if type(value).__name__ not in ("bool", "bool_"):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def check_callable(value, name: str, *, optional: bool = True):
    """``value`` if callable (or ``None`` when ``optional``), else ``TypeError``."""
    if value is None and optional:
        return None
    if not callable(value):
        raise TypeError(f"{name} must be callable{' or None' if optional else ''}, "
                        f"got {type(value).__name__}")
    return value


def is_real_dtype(xp, dtype) -> bool:
    """Whether ``dtype`` is real floating, integral or boolean, in O(1) (no data is read)."""
    kind = getattr(dtype, "kind", None)  # NumPy and CuPy dtypes: a one-letter attribute lookup
    if isinstance(kind, str):
        return kind in "fiub"
    try:
        return bool(xp.isdtype(dtype, ("real floating", "integral", "bool")))
    except (TypeError, ValueError, AttributeError):
        return False



def check_real_operator(A, name: str) -> None:
    """``ValueError`` naming ``name`` if the matrix or operator ``A`` declares a non-real dtype.

    Complex matrices and LinearOperators are refused up front, never cast to real (rnla solves
    real symmetric problems only); an operator without a dtype is judged by its first product
    (:func:`check_real_product`).
    """
    dtype = getattr(A, "dtype", None)
    if dtype is None:
        return
    try:
        real = np.dtype(dtype).kind in "fiub"
    except TypeError:  # an array-API library's own dtype object
        real = not str(dtype).rsplit(".", 1)[-1].startswith("complex")
    if not real:
        raise ValueError(f"{name} must hold real numbers, got dtype {dtype}: complex (Hermitian) "
                         "problems are not supported")


def check_real_product(xp, out, name: str) -> None:
    """``ValueError`` naming the operator ``name`` if its product ``out`` is not real (never cast)."""
    if not is_real_dtype(xp, out.dtype):
        raise ValueError(f"{name} returned values of dtype {out.dtype}: its products must be real")


def check_product_input(x, name: str, n: int, *, shape: str = "vector", xp=None, dtype=None,
                        lists: bool = False, hint: str = ""):
    """``x`` checked as the input of a product on the hot path (every iteration), in O(1).

    Only the kind, the dtype and the shape are looked at, never the data: no scan for NaN, no
    copy unless ``dtype`` is given and differs (then ``x`` is cast to it), no host-device sync.
    ``shape`` is ``'vector'`` (``(n,)``), ``'block'`` (``(n, k)``, ``k >= 1``) or ``'either'``.

    - ``TypeError`` if ``x`` is not an array; with ``lists=True`` a list is read once as one
      (as :func:`check_array` does), as SciPy's ``LinearOperator`` reads it.
    - ``ValueError`` naming ``name`` for complex, string or object content or the wrong shape.
    """
    if getattr(x, "shape", None) is None or getattr(x, "dtype", None) is None:
        if not (lists and isinstance(x, list | tuple)):
            raise TypeError(f"{name} must be an array of shape ({n},{'' if shape == 'vector' else ' k'}), "
                            f"got {type(x).__name__}"[:200])
        x = check_array(x, name, xp=xp, allow_empty=True, finite=False)
    if xp is None:
        xp = _backend.array_namespace(x)
    if not is_real_dtype(xp, x.dtype):
        raise ValueError(f"{name} must hold real numbers, got dtype {x.dtype}")
    got = tuple(x.shape)
    vector_ok = shape in ("vector", "either") and got == (n,)
    block_ok = shape in ("block", "either") and len(got) == 2 and got[0] == n and got[1] >= 1
    if not (vector_ok or block_ok):
        if shape == "block":
            raise ValueError(f"{name} must be a 2-D block ({n}, k) with k >= 1 to match the operator, "
                             f"got shape {got}{hint}")
        want = f"({n},)" if shape == "vector" else f"({n},) or ({n}, k)"
        raise ValueError(f"{name} must have shape {want} to match the operator, got {got}{hint}")
    if dtype is not None and x.dtype != dtype:
        x = xp.astype(x, dtype)
    return x


def check_array(x, name: str, *, xp=None, ndim: int | tuple[int, ...] | None = None,
                allow_empty: bool = False, finite: bool = True, dtype=None):
    """``x`` as a real floating dense array of namespace ``xp`` (NumPy for lists).

    - ``TypeError`` if ``x`` is ``None``, a string, or a scalar where an array is needed;
    - ``ValueError`` if its content is not real numbers (complex, strings, objects: never cast
      silently), if ``ndim`` is given and differs, if it is empty and ``allow_empty`` is false, or
      if ``finite`` and it holds NaN or infinity.

    Integer and boolean arrays become ``dtype`` (default: the namespace's default float, float64);
    real floating arrays keep their dtype unless ``dtype`` is given.
    """
    if x is None or isinstance(x, str | bytes) or isinstance(x, numbers.Number):
        raise TypeError(f"{name} must be an array, got {type(x).__name__} {x!r}"[:200])
    if _backend.is_sparse(x):
        raise TypeError(f"{name} must be a dense array, got a sparse matrix ({type(x).__name__})")
    if getattr(x, "shape", None) is None or getattr(x, "dtype", None) is None:
        try:
            x = np.asarray(x)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} could not be read as an array of numbers: {exc}") from None
    if xp is not None and not array_api_compat.is_numpy_namespace(xp) and isinstance(x, np.ndarray):
        x = xp.asarray(x)
    if xp is None:
        xp = _backend.array_namespace(x)
    if not is_real_dtype(xp, x.dtype):
        raise ValueError(f"{name} must hold real numbers, got dtype {x.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name} must be a {want} array, got shape {tuple(x.shape)}")
    if not allow_empty and math.prod(x.shape) == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(x.shape)}")
    if dtype is not None:
        if x.dtype != dtype:
            x = xp.astype(x, dtype)
    elif not xp.isdtype(x.dtype, "real floating"):
        x = xp.astype(x, xp.float64)
    if finite and not all_finite(xp, x):
        raise ValueError(f"{name} contains NaN or infinity")
    return x


def all_finite(xp, x) -> bool:
    """Whether the dense array ``x`` holds no NaN or infinity.

    A finite sum proves it in one pass with no temporary (NaN and ±inf propagate through a sum);
    only a non-finite sum, which finite entries can also give by overflow, needs the elementwise
    test.

    Examples
    --------
    >>> import numpy as np
    >>> all_finite(np, np.array([1.0, 2.0])), all_finite(np, np.array([1.0, np.nan]))
    (True, False)
    >>> all_finite(np, np.array([1e308, 1e308]))  # the sum overflows; the entries are finite
    True
    """
    if math.prod(x.shape) == 0:
        return True
    with np.errstate(over="ignore", invalid="ignore"):  # an overflowing sum is expected here
        total = xp.sum(x)
    if bool(xp.isfinite(total)):
        return True
    return bool(xp.all(xp.isfinite(x)))


def check_finite_array(xp, x, name: str) -> None:
    """Raise ``ValueError`` naming ``name`` if the dense or sparse ``x`` holds NaN or inf."""
    values = x.data if _backend.is_sparse(x) else x
    if not all_finite(xp, values):
        raise ValueError(f"{name} contains NaN or infinity")


def check_vector(xp, b, n: int, name: str):
    """``b`` as a 1-D real array of length ``n`` (an ``(n, 1)`` column is flattened).

    ``TypeError`` if ``b`` is not an array; ``ValueError`` for complex or non-numeric content or a
    wrong length. A real floating dtype is kept, integers and booleans become float64;
    finiteness is the caller's check.
    """
    if getattr(b, "ndim", None) is None:
        raise TypeError(f"{name} must be an array, got {type(b).__name__}")
    if not is_real_dtype(xp, b.dtype):
        raise ValueError(f"{name} must hold real numbers, got dtype {b.dtype}")
    if b.ndim == 2 and b.shape[1] == 1:
        b = xp.reshape(b, (b.shape[0],))
    if b.ndim != 1 or b.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) to match the operator, got {tuple(b.shape)}")
    if not xp.isdtype(b.dtype, "real floating"):
        b = xp.astype(b, xp.float64)
    return b
