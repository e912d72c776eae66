"""What the scikit-learn estimators share: input namespaces, sample weights, parameter checks.

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

__all__ = ["check_same_namespace", "check_sample_weight", "input_namespace", "move_to"]


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

    ``None`` stays ``None`` (unit weights); a number becomes a constant vector.
    """
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Number):
        return xp.full(n, float(sample_weight), dtype=dtype, device=device)
    if not hasattr(sample_weight, "shape"):
        sample_weight = np.asarray(sample_weight)
    sample_weight = move_to(sample_weight, xp, device)
    if sample_weight.ndim != 1 or sample_weight.shape[0] != n:
        raise ValueError(f"sample_weight.shape == {tuple(sample_weight.shape)}, expected ({n},)!")
    if not (xp.isdtype(sample_weight.dtype, ("real floating", "integral"))
            or sample_weight.dtype == xp.bool):
        raise ValueError(f"sample_weight must be real numbers, got dtype {sample_weight.dtype}")
    sample_weight = xp.astype(sample_weight, dtype)
    if not bool(xp.all(xp.isfinite(sample_weight))):
        raise ValueError("sample_weight contains NaN or infinity")
    if bool(xp.any(sample_weight < 0)):
        raise ValueError("sample_weight must be non-negative (there are negative weights)")
    if not bool(xp.any(sample_weight > 0)):
        raise ValueError("sample_weight must contain at least one non-zero number")
    return sample_weight


def check_choice(value, name: str, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_bool(value, name: str) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_optional_int(value, name: str):
    """``None`` or an integer >= 1."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be None or an integer >= 1, got {value!r}")
    return int(value)


def check_rank(rank, name: str = "rank"):
    """``'auto'`` or an integer >= 1 (bounded by the problem later)."""
    if isinstance(rank, str):
        if rank != "auto":
            raise ValueError(f"{name} must be 'auto' or an integer >= 1, got {rank!r}")
        return rank
    if isinstance(rank, bool) or not isinstance(rank, numbers.Integral) or rank < 1:
        raise ValueError(f"{name} must be 'auto' or an integer >= 1, got {rank!r}")
    return int(rank)


def effective_tol(tol: float, dtype) -> float:
    """``tol``, raised to a few units of ``dtype``'s rounding error so float32 fits can converge."""
    return max(tol, 8 * float(np.finfo(_backend._numpy_dtype(dtype)).eps))
