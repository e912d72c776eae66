"""What the scikit-learn estimators share: input namespaces, sample weights, tolerances.

Parameter checks come from :mod:`rnla._validation`, the one validation module of the project.

scikit-learn's array-API dispatch (``sklearn.set_config(array_api_dispatch=True)``) lets CuPy (or
any array-API) inputs through; without it every input becomes NumPy. "Everything follows X":
``y`` and ``sample_weight`` move to the namespace and device of ``X``, fitted arrays live there
too, and methods refuse data from another namespace than the one the estimator was fitted on.
"""

from __future__ import annotations

import numbers

import array_api_compat
import array_api_compat.numpy as numpy_xp
import numpy as np
import sklearn

from rnla import _backend
from rnla._validation import check_array, check_nonnegative, check_nonnegative_int, is_real_dtype

__all__ = ["check_numeric_targets", "check_same_namespace", "check_sample_weight", "check_verbose",
           "effective_tol", "input_namespace", "move_to"]


def _dispatching() -> bool:
    return bool(sklearn.get_config().get("array_api_dispatch", False))


def _arrays(*arrays):
    return [a for a in arrays if a is not None and not _backend.is_sparse(a) and hasattr(a, "shape")
            and not isinstance(a, np.ndarray | list | tuple)]


def input_namespace(X):
    """``(xp, device)`` the estimator computes in for input ``X``.

    NumPy unless array-API dispatch is on and ``X`` is an array of another library (CuPy,
    array_api_strict, ...). Sparse input is always NumPy/SciPy (CuPy sparse goes through the
    functional API, not the estimators).
    """
    if _dispatching() and _arrays(X):
        xp = array_api_compat.array_namespace(X)
        return xp, array_api_compat.device(X)
    return numpy_xp, "cpu"


def _same_place(a, xp, device) -> bool:
    if isinstance(a, np.ndarray) or _backend.is_sparse(a):
        return array_api_compat.is_numpy_namespace(xp)
    try:
        return array_api_compat.array_namespace(a) is xp and array_api_compat.device(a) == device
    except TypeError:
        return False


def move_to(a, xp, device):
    """``a`` (an array of any library, a list, or None) as an array of ``xp`` on ``device``.

    Arrays of another library or device go through the host; this is meant for ``y`` and
    ``sample_weight``, once per fit, never for data inside a loop.
    """
    if a is None or _same_place(a, xp, device):
        return a
    if not hasattr(a, "shape"):  # lists, tuples, pandas objects: let the validators handle them
        return a
    host = _backend.to_numpy(a)
    if array_api_compat.is_numpy_namespace(xp):
        return host
    return xp.asarray(host, device=device)


def check_same_namespace(X, estimator, *, attribute: str, method: str) -> None:
    """Raise ``ValueError`` when ``X`` is not in the namespace/device ``estimator.attribute`` is in."""
    if not _dispatching():
        return
    fitted = getattr(estimator, attribute)
    xp_fit, dev_fit = (array_api_compat.array_namespace(fitted), array_api_compat.device(fitted))
    if _backend.is_sparse(X) or isinstance(X, list | tuple):
        xp_X, dev_X = numpy_xp, "cpu"
    else:
        xp_X, dev_X = array_api_compat.array_namespace(X), array_api_compat.device(X)
    if xp_X is not xp_fit or dev_X != dev_fit:
        raise ValueError(
            f"{type(estimator).__name__}.{method}() got X from namespace {xp_X.__name__} on device "
            f"{dev_X!r}, but the estimator was fitted on {xp_fit.__name__} on {dev_fit!r}: inputs must "
            "use the same namespace and device as the data the estimator was fitted on")


def check_sample_weight(sample_weight, n: int, xp, dtype, device):
    """``sample_weight`` as an ``(n,)`` array of ``dtype``: finite, non-negative, positive sum.

    ``None`` stays ``None`` (unit weights); a real number becomes a constant vector. Errors name
    ``sample_weight`` and follow :mod:`rnla._validation`: a complex or non-numeric scalar is a
    ``TypeError``; complex or non-numeric array content, a wrong shape, NaN or infinity, negative
    weights or an all-zero vector a ``ValueError``. Nothing complex is cast to real.
    """
    name = "sample_weight"
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Number | str | bytes):
        value = check_nonnegative(sample_weight, name)
        if value == 0:
            raise ValueError(f"{name} must contain at least one non-zero number, got {sample_weight!r}")
        return xp.full(n, value, dtype=dtype, device=device)
    if hasattr(sample_weight, "shape") and not _backend.is_sparse(sample_weight):
        sample_weight = move_to(sample_weight, xp, device)
    sample_weight = check_array(sample_weight, name, xp=xp, ndim=1, allow_empty=True)
    if sample_weight.shape[0] != n:
        raise ValueError(f"{name}.shape == {tuple(sample_weight.shape)}, expected ({n},)!")
    if sample_weight.dtype != dtype:
        sample_weight = xp.astype(sample_weight, dtype)
    if bool(xp.any(sample_weight < 0)):
        raise ValueError(f"{name} must be non-negative (there are negative weights)")
    if not bool(xp.any(sample_weight > 0)):
        raise ValueError(f"{name} must contain at least one non-zero number")
    return sample_weight


def effective_tol(tol: float, dtype) -> float:
    """``tol``, raised to a few units of ``dtype``'s rounding error so float32 fits can converge."""
    return max(tol, 8 * float(np.finfo(_backend._numpy_dtype(dtype)).eps))


def check_verbose(verbose) -> bool:
    """``verbose`` as a bool: ``True``/``False``, or an integer level ``>= 0`` as scikit-learn's
    estimators take it (0 is quiet). Anything else is a ``TypeError`` naming ``verbose``."""
    if type(verbose).__name__ in ("bool", "bool_"):
        return bool(verbose)
    if isinstance(verbose, numbers.Integral):
        return check_nonnegative_int(verbose, "verbose") > 0
    raise TypeError(f"verbose must be a bool or an integer >= 0, got {type(verbose).__name__} "
                    f"{verbose!r}"[:200])


def check_numeric_targets(y, xp):
    """``ValueError`` naming ``y`` unless the validated targets hold real numbers.

    ``validate_data(..., y_numeric=True)`` turns object arrays into floats but lets string arrays
    through, which then failed inside NumPy's cast ("could not convert string to float"). Strings
    are not numbers (:mod:`rnla._validation`'s policy), not even numeric-looking ones.
    """
    if not is_real_dtype(xp, y.dtype):
        raise ValueError(f"y must hold real numbers, got dtype {y.dtype}")
