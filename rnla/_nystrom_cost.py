"""Cost model of the adaptive Nyström preconditioner (``adaptive_nystrom(..., stop='cost')``).

Two decisions, both from the sketched spectrum ``λ̂_1 ≥ … ≥ λ̂_k > 0`` alone (deterministic:
the same seed gives the same rank on every machine, backend and block size):

- growing: a doubling is refused when it is predicted to cut
  CG's iterations by less than ``MIN_GAIN``: the decay between ``λ̂_{k/2}`` and ``λ̂_k``
  gives a power law ``λ_i ∝ i^{-p}``, so ``λ̂_{2k} ≈ 2^{-p} λ̂_k`` and the iterations scale
  by ``√((λ̂_{2k} + μ)/(λ̂_k + μ))``. A flat spectrum (a 2-D Poisson matrix, ``p ≈ 0``)
  stops at the first sketch whatever ``μ``; a decaying one (ridge, ``p ≈ 2``) grows as the
  ``λ̂_ℓ ≤ tol·μ`` rule says.
- keeping the preconditioner at all: with it CG needs about
  ``r = √((λ̂_k + μ)/(λ̂_1 + μ))`` times the iterations of plain CG, each dearer by one
  ``O(nk)`` application. It is dropped (rank 0: plain CG) when ``r > MAX_RATIO``.

The algebra of the sketch (``O(nℓ²)``) is not weighed against the products: the growth rule
stops flat spectra at the first sketch, where that cost is a fixed 16- or 32-column probe.
"""

from __future__ import annotations

import math

from . import _backend

#: The preconditioner is kept only if it is predicted to cut the iterations at least by this
#: factor (``λ̂_1/λ̂_k ≥ 4``): each iteration then costs one ``O(nk)`` application more, and on
#: a flat spectrum the sketched ``λ̂_k`` falls far below ``λ_k``, so a smaller predicted gain
#: is mostly that underestimate.
MAX_RATIO = 0.5

#: A doubling must be predicted to cut the iterations by at least this fraction.
MIN_GAIN = 0.1


def keeps_preconditioner(lam, mu: float) -> bool:
    """Whether the preconditioner from ``lam`` (positive, descending) is predicted to cut CG's
    iterations at least by :data:`MAX_RATIO`: ``√((λ̂_k + μ)/(λ̂_1 + μ)) <= MAX_RATIO``."""
    k = lam.shape[0]
    if k == 0:
        return False
    first, last = _backend.to_float(lam[0]), _backend.to_float(lam[k - 1])
    return math.sqrt((last + mu) / (first + mu)) <= MAX_RATIO


def doubling_gains(lam, mu: float) -> bool:
    """Whether doubling the sketch of spectrum ``lam`` (positive, descending) is predicted to
    cut CG's iterations by at least :data:`MIN_GAIN` (``True`` with fewer than 4 values)."""
    k = lam.shape[0]
    if k < 4:
        return True
    last = _backend.to_float(lam[k - 1])
    high = _backend.to_float(lam[k // 2 - 1])
    p = math.log2(high / last) / math.log2(k / (k // 2))
    factor = math.sqrt((last * 2.0 ** (-p) + mu) / (last + mu))
    return factor <= 1.0 - MIN_GAIN
