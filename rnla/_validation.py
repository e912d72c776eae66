"""Argument checks shared by the public functions; every error names the argument."""

from __future__ import annotations

import math
import numbers

from . import _backend

__all__ = ["check_finite_array", "check_nonnegative", "check_positive_int", "check_vector"]


def check_nonnegative(value, name: str) -> float:
    """``value`` as a finite float >= 0, else ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {value}")
    return value


def check_positive_int(value, name: str, *, upper: int | None = None, upper_name: str = "") -> int:
    """``value`` as an int in ``[1, upper]``, else ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    if upper is not None and value > upper:
        raise ValueError(f"{name}={value} exceeds {upper_name} ({upper})")
    return value


def check_finite_array(xp, x, name: str) -> None:
    """Raise ``ValueError`` naming ``name`` if the dense or sparse ``x`` holds NaN or inf."""
    values = x.data if _backend.is_sparse(x) else x
    if not bool(xp.all(xp.isfinite(values))):
        raise ValueError(f"{name} contains NaN or infinity")


def check_vector(xp, b, n: int, name: str):
    """``b`` as a 1-D array of length ``n`` (an ``(n, 1)`` column is flattened)."""
    if getattr(b, "ndim", None) is None:
        raise TypeError(f"{name} must be an array, got {type(b).__name__}")
    if b.ndim == 2 and b.shape[1] == 1:
        b = xp.reshape(b, (b.shape[0],))
    if b.ndim != 1 or b.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) to match the operator, got {tuple(b.shape)}")
    return b
