"""The protocol every objective follows for the solvers: ``n_samples``, ``reg``, ``batch(idx)``."""

from __future__ import annotations

import abc

from rnla import _backend
from rnla._validation import check_nonnegative, is_real_dtype
from rnla._validation import check_product_input as _check_product_input

_is_real_dtype = is_real_dtype


def _check_reg(reg):
    return check_nonnegative(reg, "reg")


def check_product_input(xp, x, name: str, dim: int, *, block: bool = False, dtype=None, hint: str = ""):
    """:func:`rnla._validation.check_product_input` for the problems: arrays only, ``block`` allows both.

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
    return _check_product_input(x, name, dim, shape="either" if block else "vector", xp=xp, dtype=dtype,
                                hint=hint)


def _same(a, b) -> bool:
    """Whether the arrays ``a`` and ``b`` are equal (same shape, dtype and entries)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    xp = _backend.array_namespace(a)
    return bool(xp.all(a == b))


def _plain_glm_hessian(batch) -> bool:
    """Whether ``batch``'s Hessian is the binary GLM's, which takes precomputed margins."""
    from .glm import GLMBatch

    return type(batch).hessian_operator is GLMBatch.hessian_operator


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
        """``(value, gradient)`` sharing one pass over the data.

        On all the data of a binary GLM the margins ``A w`` are kept for a Hessian at the same
        ``w`` (:meth:`hvp`): a Newton step's line search computes them, and its next Hessian
        needs them (one pass over the data saved per Newton step).
        """
        w = self._check_w(w)
        idx = self._check_idx(idx)
        batch = self.batch(idx)
        if idx is None and hasattr(batch, "value_grad_margins") and _plain_glm_hessian(batch):
            f, g, z = batch.value_grad_margins(w)
            self._margins_at = (_backend.array_namespace(w).asarray(w, copy=True), z)
            return f, g
        return batch.value_and_grad(w)

    def hvp(self, w, v, idx=None):
        """Hessian at ``w`` (average over ``idx``) times ``v`` of shape ``(dim,)`` or ``(dim, k)``.

        On all the data, the Hessian's curvature weights at ``w`` (one pass over the data) are
        kept for the next call at an equal ``w``: a Newton-CG step makes dozens of products at
        one point, each of them otherwise three passes instead of two.
        """
        w = self._check_w(w)
        v = self._check_w(v, "v", block=True)
        idx = self._check_idx(idx)
        batch = None
        if idx is None:
            cached = getattr(self, "_hessian_at", None)
            if cached is not None and _same(cached[0], w):
                return cached[1] @ v
            batch = self.batch(None)
            if hasattr(batch, "hessian_operator"):
                kept = getattr(self, "_margins_at", None)
                if kept is not None and _plain_glm_hessian(batch) and _same(kept[0], w):
                    H = batch.hessian_operator(w, include_penalty=True, margins=kept[1])
                else:
                    H = batch.hessian_operator(w, include_penalty=True)
                xp = _backend.array_namespace(w)
                self._hessian_at = (xp.asarray(w, copy=True), H)
                return H @ v
        return (batch if batch is not None else self.batch(idx)).hvp(w, v)

    @abc.abstractmethod
    def _check_w(self, w, name="w", block=False):
        """``w`` validated (and cast) for this problem; ``block`` also admits ``(dim, k)``."""
