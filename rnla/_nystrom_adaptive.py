"""The adaptive Nyström sketch: doubled, reusing its columns, until it is good enough.

Split from :mod:`rnla.nystrom` (which re-exports :func:`adaptive_nystrom`); the cost rule of
``stop='cost'`` is in :mod:`rnla._nystrom_cost`.
"""

from __future__ import annotations

import math

from . import _backend
from ._nystrom_cost import doubling_gains, keeps_preconditioner
from ._sketch_ops import TestMatrix, check_sketch
from ._validation import check_nonnegative, check_option, check_positive, check_positive_int
from .nystrom import (
    ADAPTIVE_TOL,
    DEFAULT_INITIAL_RANK,
    DEFAULT_MAX_RANK,
    NystromApprox,
    _count,
    _eigenpairs,
    _nystrom_factor,
    _sketch,
)

#: First sketch size with ``mu = 0`` and ``stop='cost'`` (doubling reuses columns, so
#: starting small costs nothing).
ZERO_MU_INITIAL_RANK = 16


def _doubling_pays(lam, ell: int, n: int, cost: int) -> bool:
    """With ``mu = 0``: whether growing the sketch by ``cost`` columns should save more CG
    products than it costs, predicted from the sketched spectrum ``lam`` (descending, ``> 0``).

    The decay between ``λ̂_{k/2}`` and ``λ̂_k`` gives a power law ``λ_i ∝ i^{-p}``; extrapolated
    to ``i = n`` it predicts ``κ ≈ (n/ℓ)^p`` and about ``√κ`` iterations (at most ``n − ℓ``),
    of which a doubling saves the fraction ``1 − 2^{-p/2}``.
    """
    k = lam.shape[0]
    if k < 4:
        return True
    low, high = _backend.to_float(lam[k - 1]), _backend.to_float(lam[k // 2 - 1])
    if not low > 0:
        return False
    p = math.log2(high / low) / math.log2(k / (k // 2))
    log_iters = 0.5 * p * math.log(n / ell)
    iters = (n - ell) if log_iters >= math.log(max(n - ell, 1)) else math.exp(log_iters)
    return iters * (1.0 - 2.0 ** (-0.5 * p)) > cost


def adaptive_nystrom(op, mu, *, xp, dtype, device, random_state=None, initial_rank=None,
                     max_rank=None, tol=None, stop="rank", sketch="gaussian"):
    """Nyström sketch grown by doubling until it is good enough or ``ℓ = max_rank``.

    Earlier columns of the test matrix and their products are reused: each doubling costs
    only the new columns. With ``mu > 0`` the sketch grows until ``λ̂_ℓ ≤ tol · μ`` (the
    preconditioned condition number is then about ``tol``). With ``mu = 0`` that rule can
    never hold; the sketch stops growing when the spectrum is captured:
    ``λ̂_ℓ ≤ tol · sqrt(eps) · λ̂_1``, or ``λ̂_ℓ`` is at rounding level (a low-rank or
    singular ``A``: the numerical rank is revealed). ``stop='rank'`` (the default) uses these
    rules alone, as :func:`rnla.effective_dimension` needs.

    ``stop='cost'`` is for a preconditioner (see ``rnla._nystrom_cost``), with any ``mu``:

    - a doubling must be predicted, from the decay of the sketched spectrum, to cut CG's
      iterations by 10% or more: a flat spectrum (a 2-D Poisson matrix, with a tiny ``mu``
      too) stops at the first sketch instead of growing to ``max_rank``;
    - with ``mu = 0`` also, it must save more CG products than it costs (``_doubling_pays``),
      and the first sketch has ``ZERO_MU_INITIAL_RANK`` columns unless ``initial_rank`` is given;
    - the preconditioner is dropped (rank 0 is returned, so PCG runs as plain CG) unless it
      is predicted to at least halve the iterations (``λ̂_1/λ̂_ℓ ≥ 4`` with ``μ`` added): it
      costs an ``O(nℓ)`` application in each of them.

    ``sketch`` picks the test matrix (see :func:`rnla.nystrom`).

    Returns the :class:`NystromApprox` (all ``ℓ`` columns kept, or none: see above).
    """
    n = op.shape[0]
    mu = check_nonnegative(mu, "mu")
    tol = ADAPTIVE_TOL if tol is None else check_positive(tol, "tol")
    max_rank = min(n, DEFAULT_MAX_RANK) if max_rank is None else check_positive_int(
        max_rank, "max_rank", upper=n, upper_name="the dimension of A")
    cost = check_option(stop, "stop", ("rank", "cost")) == "cost"
    sketch = check_sketch(sketch)
    if initial_rank is None:
        initial_rank = ZERO_MU_INITIAL_RANK if cost and mu == 0 else DEFAULT_INITIAL_RANK
    ell = min(check_positive_int(initial_rank, "initial_rank"), max_rank)
    rng = _backend.check_random_state(random_state)
    eps = float(xp.finfo(dtype).eps)
    noise = op.noise_level
    T = TestMatrix(sketch, n, xp=xp, dtype=dtype, device=device, rng=rng)
    Y = _sketch(op, ell, T)
    B, nu, scale = _nystrom_factor(T, Y, xp, mu=mu, noise=noise)
    lam = None
    while True:
        # Only the eigenvalues decide whether to grow; the vectors are computed once, last.
        if cost or ell < max_rank:
            _, lam = _eigenpairs(xp, B, nu, scale, vectors=False)
        if ell >= max_rank or lam.shape[0] == 0:
            break
        last = _backend.to_float(lam[-1])
        if mu > 0:
            if last <= tol * mu:
                break
        else:
            first = _backend.to_float(lam[0])
            if last <= tol * math.sqrt(eps) * first:
                break  # captured, or rounding level (numerical rank reached)
        new = min(ell, max_rank - ell)
        if cost:
            positive = _positive(xp, lam)
            if not doubling_gains(positive, mu):
                break  # flat: a bigger sketch would barely cut the iterations
            if mu == 0 and not _doubling_pays(positive, ell, n, new):
                break  # a bigger sketch would cost more products than CG would save
        Y = _sketch(op, new, T, Y)
        ell = T.ell
        B, nu, scale = _nystrom_factor(T, Y, xp, mu=mu, noise=noise)
    if cost and not keeps_preconditioner(_positive(xp, lam), mu):
        # Preconditioning would not pay: plain CG (rank 0) costs less than PCG.
        empty = xp.zeros((n, 0), dtype=dtype, device=device)
        return NystromApprox(empty, xp.zeros((0,), dtype=dtype, device=device), ell, nu * scale)
    U, lam = _eigenpairs(xp, B, nu, scale)
    return NystromApprox(U, lam, ell, nu * scale)


def _positive(xp, lam):
    """The leading positive eigenvalues (those above the rounding level)."""
    return lam[:_count(xp, lam > 0)]
