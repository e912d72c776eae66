"""Adaptive stochastic Lanczos quadrature for :func:`rnla.logdet` and :func:`rnla.trace_inv`.

Batches of Rademacher probes run as block Lanczos processes (:func:`rnla.lanczos`, no
reorthogonalisation). Each probe gives Gauss rules of ``m``, ``m − k`` and ``m − 2k`` points from
the same run; their mean differences, extrapolated geometrically, estimate the quadrature bias,
and the spread over probes the standard error. The first batch is rerun with more steps while
the bias is too large, later batches are sized from the standard error.
"""

from __future__ import annotations

import math

import numpy as np

from . import _backend
from .lanczos import lanczos
from .matrix_functions import (
    _KINDS,
    FIRST_STEPS,
    MAX_STEPS,
    MIN_PROBES,
    NotPositiveDefiniteError,
    SpectralSumResult,
)
from .nystrom import _resolve


def _rules(kind, alpha, beta, broken, steps, mu, n, tol, dtype_name):
    """Per-probe values ``n Σ τ f(θ + μ)`` of the Gauss rules of ``steps`` points.

    The ``s``-point rule of a probe comes from the leading ``s × s`` block of its tridiagonal
    matrix (LAPACK ``stemr`` through :func:`scipy.linalg.eigh_tridiagonal`, one small host
    problem per probe: a batched dense ``eigh`` is slower, with BLAS threads, on these sizes).
    A probe whose process broke down after ``b`` steps uses its exact ``b``-point rule.
    """
    from scipy.linalg import eigh_tridiagonal

    f = _KINDS[kind]
    out = np.empty((len(steps), alpha.shape[0]))
    for i in range(alpha.shape[0]):
        for j, s in enumerate(steps):
            s = min(s, int(broken[i]))
            nodes, S = eigh_tridiagonal(alpha[i, :s], beta[i, : s - 1], check_finite=False)
            shifted = nodes + mu
            if shifted[0] <= tol:
                raise NotPositiveDefiniteError(
                    f"A + mu I is not positive definite: it has a Ritz value {float(shifted[0]):.3g} "
                    f"at or below the rounding level {tol:.3g} (mu={mu:g}); if A is positive definite "
                    f"but ill-conditioned for {dtype_name}, use float64, a larger mu or method='exact'")
            out[j, i] = n * float(np.dot(S[0, :] ** 2, f(shifted)))
    return list(out)


def _batch(kind, op, p, m, mu, xp, dtype, device, rng):
    """Lanczos on ``p`` sign probes: per-probe values of the ``m``, ``m − k``, ``m − 2k`` rules."""
    n = op.shape[0]
    Z = _backend.random_sign(xp, (n, p), dtype=dtype, device=device, random_state=rng)
    # n steps span the whole space: with reorthogonalisation (p n² memory, small n only) the
    # rule is exact to rounding, without it only up to the loss of orthogonality.
    full = m >= n and p * n * n <= 2**24
    res = lanczos(op, m, v0=Z, reorthogonalize=full)
    alpha = _backend.to_numpy(res.alpha).astype(np.float64)
    beta = _backend.to_numpy(res.beta).astype(np.float64)
    top = float(np.max(np.abs(alpha)) + 2 * np.max(beta))
    # Ritz values of A + μI at or below this are rounding noise: not positive definite.
    tol = 2.0 * float(xp.finfo(dtype).eps) * (top + mu)
    if full:
        return _rules(kind, alpha, beta, res.num_steps, [m], mu, n, tol, str(dtype))
    k = max(1, m // 6)
    steps = [s for s in (m, m - k, m - 2 * k) if s >= 1]
    return _rules(kind, alpha, beta, res.num_steps, steps, mu, n, tol, str(dtype))


def _rate(samples, m):
    """``(error of the m-point rule, contraction per step)``, extrapolated geometrically.

    From the mean differences ``d1 = Q_m − Q_{m−k}`` and ``d2 = Q_{m−k} − Q_{m−2k}``: the error
    contracts by ``r = d1/d2`` per ``k`` steps, so ``e_m ≈ d1 · r / (1 − r)``; ``r`` is capped at
    0.9 (no contraction seen yet: a conservative ``9 d1``).
    """
    means = [float(np.mean(s)) for s in samples]
    if len(means) < 2:
        return 0.0, 0.0  # only the n-point rule, exact (see _batch)
    k = max(1, m // 6)
    d1 = abs(means[0] - means[1])
    if d1 == 0.0:
        return 0.0, 0.0
    if len(means) < 3:
        return d1, 0.9 ** (1 / k)
    d2 = abs(means[1] - means[2])
    ratio = min(d1 / d2 if d2 > 0 else 0.9, 0.9)
    return d1 * ratio / (1.0 - ratio), ratio ** (1 / k)


def _more_steps(m, error, rate, goal, max_m):
    """Steps for which the extrapolated error meets ``goal`` (25 % margin; at most ×4)."""
    if rate <= 0 or error <= goal:
        return m
    extra = math.log(goal / error) / math.log(rate)
    return int(min(max(math.ceil(m + 1.25 * extra), m + 1), 4 * m, max_m))


def _std_error(samples):
    if samples.size < 2:
        return math.inf
    return float(np.std(samples, ddof=1) / math.sqrt(samples.size))


def adaptive_slq(kind, op, mu, rtol, atol, num_probes, num_steps, max_probes, rng, like):
    """The ``'slq'`` method: a :class:`SpectralSumResult` (probes and steps as documented in ``logdet``)."""
    n = op.shape[0]
    xp, dtype, device = _resolve(op, like)
    adaptive_p, adaptive_m = num_probes == "auto", num_steps == "auto"
    p = min(MIN_PROBES, max_probes) if adaptive_p else num_probes
    m = min(FIRST_STEPS if adaptive_m else num_steps, n)
    max_m = min(MAX_STEPS, n)
    used = 0
    samples = None
    while True:
        first = samples is None
        new = _batch(kind, op, p, m, mu, xp, dtype, device, rng)
        used += p * m
        samples = new if first else [np.concatenate([a, b]) for a, b in zip(samples, new, strict=True)]
        est = float(np.mean(samples[0]))
        se = _std_error(samples[0])
        qe, rate = _rate(samples, m)
        target = max(rtol * abs(est), atol)
        if first and adaptive_m and qe > target / 4 and m < max_m:
            # Longer rules on a fresh first batch (earlier rules of other lengths are not mixed in).
            m = _more_steps(m, qe, rate, target / 4, max_m)
            samples = None
            continue
        total = samples[0].size
        room = target - qe
        if not adaptive_p or se + qe <= target or total >= max_probes or room <= 0:
            break  # (room <= 0: the rules' bias alone exceeds the target; probes cannot help)
        need = total * (se / room) ** 2
        p = int(min(max(math.ceil(1.2 * need) - total, 1), total, max_probes - total))
    if not math.isfinite(est):
        raise FloatingPointError(f"the {kind} estimate is not finite: A produced NaN or infinity")
    err = se + qe if total >= 2 else math.inf
    return SpectralSumResult(est, err, se, qe, used, int(total), int(m), "slq", bool(err <= target))
