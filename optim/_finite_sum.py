"""The protocol every objective follows for the solvers: ``n_samples``, ``reg``, ``batch(idx)``."""

from __future__ import annotations

import abc

from rnla import _backend
from rnla._validation import check_nonnegative


def _check_reg(reg):
    return check_nonnegative(reg, "reg")


def _is_real_dtype(xp, dtype) -> bool:
    """Whether ``dtype`` is real floating, integral or boolean, in O(1)."""
    kind = getattr(dtype, "kind", None)  # NumPy and CuPy dtypes: a one-letter attribute lookup
    if isinstance(kind, str):
        return kind in "fiub"
    try:
        return bool(xp.isdtype(dtype, ("real floating", "integral", "bool")))
    except (TypeError, ValueError, AttributeError):
        return False


def check_product_input(xp, x, name: str, dim: int, *, block: bool = False, dtype=None, hint: str = ""):
    """``x`` checked for a hot-path product (a gradient, an HVP, a preconditioner), in O(1).

    Only what is free to check: ``TypeError`` if ``x`` is not an array (no ``shape``/``dtype``);
    ``ValueError`` naming ``name`` if its content is not real numbers (complex, strings, objects:
    never cast silently) or its shape is not ``(dim,)`` (or ``(dim, k)`` when ``block``). No NaN
    scan, no copy unless ``dtype`` differs (then ``x`` is cast to it), no host-device transfer.

    Examples
    --------
    >>> import numpy as np
    >>> from rnla import _backend
    >>> xp = _backend.array_namespace(np.ones(1))
    >>> check_product_input(xp, np.arange(3), "w", 3, dtype=np.float64).tolist()
    [0.0, 1.0, 2.0]
    >>> check_product_input(xp, np.ones(3) + 1j, "w", 3)
    Traceback (most recent call last):
    ...
    ValueError: w must hold real numbers, got dtype complex128
    """
    shape = getattr(x, "shape", None)
    if shape is None or getattr(x, "dtype", None) is None or getattr(x, "ndim", None) is None:
        raise TypeError(f"{name} must be an array of shape ({dim},), got {type(x).__name__}"[:200])
    if not _is_real_dtype(xp, x.dtype):
        raise ValueError(f"{name} must hold real numbers, got dtype {x.dtype}")
    if x.ndim not in ((1, 2) if block else (1,)) or shape[0] != dim:
        want = f"({dim},) or ({dim}, k)" if block else f"({dim},)"
        raise ValueError(f"{name} must have shape {want}, got {tuple(shape)}{hint}")
    if dtype is not None and x.dtype != dtype:
        x = xp.astype(x, dtype)
    return x


class _FiniteSum(abc.ABC):
    """What the solvers need from a problem: ``n_samples``, ``dim``, ``reg``, ``batch(idx)``."""

    n_samples: int | None
    reg: float

    @abc.abstractmethod
    def batch(self, idx=None):
        """The average over the samples ``idx`` (all if ``None``)."""

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

    @abc.abstractmethod
    def _check_w(self, w, name="w", block=False):
        """``w`` validated (and cast) for this problem; ``block`` also admits ``(dim, k)``."""
