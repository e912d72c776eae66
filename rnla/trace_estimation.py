"""Stochastic trace estimation from products: Hutchinson, Hutch++, XTrace; effective dimension."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import _backend
from ._validation import (
    check_auto_or,
    check_bool,
    check_option,
    check_positive,
    check_positive_int,
    check_real_operator,
    check_real_product,
)
from .lanczos import _safe_norm
from .nystrom import ADAPTIVE_TOL, DEFAULT_MAX_RANK, _resolve, adaptive_nystrom, nystrom
from .operators import as_operator

__all__ = ["TraceResult", "effective_dimension", "trace"]

METHODS = ("hutch++", "hutchinson", "xtrace")

#: Columns per block product, so that probe blocks never exceed about 2**25 entries.
_BLOCK_ENTRIES = 2**25


@dataclass
class TraceResult:
    """Details of a :func:`trace` estimate.

    Attributes
    ----------
    estimate : float
        The trace estimate.
    error_estimate : float
        Standard error of the estimate from the spread of its independent terms: the
        Hutchinson samples (for Hutch++ those of the residual part), or XTrace's
        leave-one-out estimates (Epperly, Tropp and Webber 2024).
    num_matvecs : int
        Products with ``A`` used.
    method : str
    """

    estimate: float
    error_estimate: float
    num_matvecs: int
    method: str


def _apply(op, V, dtype, xp):
    """``A @ V`` in blocks of columns small enough to bound memory, in ``dtype``."""
    n, k = V.shape
    step = max(1, _BLOCK_ENTRIES // n)
    if k <= step:
        out = op.matmat(V)
    else:
        out = xp.concat([op.matmat(V[:, j: j + step]) for j in range(0, k, step)], axis=1)
    if out.dtype == dtype:
        return out
    check_real_product(xp, out, "A")
    return xp.astype(out, dtype)


def _std_error(samples) -> float:
    samples = _backend.to_numpy(samples).astype(np.float64)
    if samples.size < 2:
        return math.inf
    top = float(np.max(np.abs(samples)))
    if not 0 < top < math.inf:
        return 0.0 if top == 0 else math.nan
    # Scaled first: the squares of samples near 1e+160 would overflow.
    return top * float(np.std(samples / top, ddof=1) / math.sqrt(samples.size))


def _hutchinson(op, m, xp, dtype, device, rng, Q=None):
    """Hutchinson samples ``zᵀ P A P z`` for ``m`` sign vectors, ``P = I − QQᵀ`` if ``Q`` given."""
    Z = _backend.random_sign(xp, (op.shape[0], m), dtype=dtype, device=device, random_state=rng)
    if Q is not None:
        Z = Z - xp.matmul(Q, xp.matmul(xp.matrix_transpose(Q), Z))
    return xp.sum(Z * _apply(op, Z, dtype, xp), axis=0)


def _hutchpp(op, m, xp, dtype, device, rng):
    s = m // 3
    S = _backend.random_sign(xp, (op.shape[0], s), dtype=dtype, device=device, random_state=rng)
    Q, _ = xp.linalg.qr(_apply(op, S, dtype, xp))
    top = _backend.to_float(xp.sum(Q * _apply(op, Q, dtype, xp)))
    samples = _hutchinson(op, m - 2 * s, xp, dtype, device, rng, Q)
    return top + _backend.to_float(xp.mean(samples)), _std_error(samples)


def _xtrace(op, m, xp, dtype, device, rng):
    """XTrace: Hutch++ with every probe both sketching and, left out, estimating the rest."""
    n, s = op.shape[0], m // 2
    Om = _backend.random_normal(xp, (n, s), dtype=dtype, device=device, random_state=rng)
    Om = Om * (math.sqrt(n) / xp.linalg.vector_norm(Om, axis=0))  # on the sphere of radius √n
    Y = _apply(op, Om, dtype, xp)
    Q, R = xp.linalg.qr(Y)
    H = xp.matmul(xp.matrix_transpose(Q), _apply(op, Q, dtype, xp))
    H = (H + xp.matrix_transpose(H)) / 2
    W = xp.matmul(xp.matrix_transpose(Q), Om)
    # Leaving out probe i removes the direction s_i ∝ R⁻ᵀ e_i from range(Q).
    d = xp.abs(xp.linalg.diagonal(R))
    floor = float(xp.finfo(dtype).eps) * _backend.to_float(xp.max(d))
    shift = xp.where(d > floor, xp.zeros_like(d), xp.zeros_like(d) + floor)
    R = R + xp.eye(s, dtype=dtype, device=device) * shift
    S = xp.matrix_transpose(_backend.solve_triangular(xp, R, xp.eye(s, dtype=dtype, device=device),
                                                      lower=False))
    S = S / _safe_norm(xp, S, axis=0)  # entries ~ 1/‖A‖: scaled, or 1e+160·A would underflow
    c = xp.sum(S * W, axis=0)
    U = W - S * c
    samples = (xp.linalg.trace(H) - xp.sum(S * xp.matmul(H, S), axis=0) + xp.sum(Om * Y, axis=0)
               - 2 * xp.sum(R * U, axis=0) + xp.sum(U * xp.matmul(H, U), axis=0))
    return _backend.to_float(xp.mean(samples)), _std_error(samples)


def trace(A, *, num_matvecs=100, method="hutch++", random_state=None, full_output=False, like=None):
    """Estimate ``tr(A)`` from products with ``A``.

    ``'hutchinson'`` averages ``zᵀAz`` over random sign vectors (error ``O(1/√m)``).
    ``'hutch++'`` (Meyer, Musco, Musco and Woodruff 2021) spends a third of the products on
    a range sketch ``Q = orth(AS)``, takes ``tr(QᵀAQ)`` exactly and runs Hutchinson on the
    deflated rest ``(I − QQᵀ)A(I − QQᵀ)``: error ``O(1/m)`` for positive semidefinite ``A``
    with a decaying spectrum. ``'xtrace'`` (Epperly, Tropp and Webber 2024) uses every probe
    both in the sketch and, left out of it, as a Hutchinson probe, and averages the ``m/2``
    leave-one-out estimates; it needs symmetric ``A``.

    Parameters
    ----------
    A : array, sparse matrix, LinearOperator or (shape, matvec[, matmat])
        Square operator (symmetric for ``'xtrace'``).
    num_matvecs : int, default 100
        Budget of products with ``A`` (at least 1; 3 for Hutch++, 4 for XTrace).
    method : {'hutch++', 'hutchinson', 'xtrace'}
    random_state : None, int or numpy.random.Generator
    full_output : bool, default False
        Also return a :class:`TraceResult` with the error estimate.
    like : array, optional
        For callable operators: an array whose namespace, dtype and device to use.

    Returns
    -------
    estimate : float
    result : TraceResult
        Only if ``full_output``.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.diag(1.0 / np.arange(1, 501) ** 2)
    >>> est = trace(A, num_matvecs=60, random_state=0)
    >>> bool(abs(est - np.trace(A)) < 1e-3 * np.trace(A))
    True
    """
    method = check_option(method, "method", METHODS)
    full_output = check_bool(full_output, "full_output")
    check_real_operator(A, "A")
    op = as_operator(A, symmetric=method == "xtrace")
    n = op.shape[0]
    minimum = {"hutchinson": 1, "hutch++": 3, "xtrace": 4}[method]
    m = check_positive_int(num_matvecs, "num_matvecs")
    if m < minimum:
        raise ValueError(f"method {method!r} needs num_matvecs >= {minimum}, got {m}")
    xp, dtype, device = _resolve(op, like)
    rng = _backend.check_random_state(random_state)
    if method == "hutchinson":
        samples = _hutchinson(op, m, xp, dtype, device, rng)
        est, err, used = _backend.to_float(xp.mean(samples)), _std_error(samples), m
    elif method == "hutch++":
        m = min(m, 3 * n)  # a sketch of n columns already gives the exact trace
        est, err = _hutchpp(op, m, xp, dtype, device, rng)
        used = m
    else:
        m = min(m, 2 * n)
        est, err = _xtrace(op, m, xp, dtype, device, rng)
        used = 2 * (m // 2)
    if not math.isfinite(est):
        raise FloatingPointError("the trace estimate is not finite: A produced NaN or infinity")
    if not full_output:
        return est
    return est, TraceResult(est, err, used, method)


#: Largest sketch the 'auto' method of :func:`effective_dimension` tries before SLQ.
AUTO_MAX_RANK = 128


def effective_dimension(A, mu, *, method="auto", rank="auto", num_probes=30, num_steps=60,
                        random_state=None, like=None):
    """Effective dimension ``d_eff(μ) = tr(A (A + μI)⁻¹) = Σ λ_i / (λ_i + μ)`` of a PSD operator.

    ``'nystrom'`` sums ``λ̂/(λ̂ + μ)`` over a Nyström approximation ``Â``: exact when the
    sketch captures the whole range of ``A`` (numerical rank at most the sketch size),
    otherwise a lower bound, since ``Â ⪯ A``. With ``rank='auto'`` the sketch doubles
    from 32 columns until it finds the numerical rank of ``A`` (``λ̂_ℓ`` at rounding
    level) or reaches 1024 columns. ``'slq'`` estimates ``tr f(A)``, ``f(t) = t/(t + μ)``,
    by stochastic Lanczos quadrature (:func:`rnla.slq`; unbiased up to quadrature error).
    ``'auto'`` first tries a sketch of at most 128 columns: if it reveals a numerical
    rank below that and a worst-case bound on what the missed eigenvalues could add is
    below ``1e-3·d_eff`` (in practice the Nyström value is then exact to rounding), that
    value is returned; otherwise SLQ is used.

    Parameters
    ----------
    A : array, sparse matrix, LinearOperator or (shape, matvec[, matmat])
        Symmetric positive semidefinite ``n × n`` operator.
    mu : float
        Regularization, ``μ > 0``.
    method : {'auto', 'nystrom', 'slq'}
    rank : 'auto' or int
        Nyström sketch rank (``'auto'``: adaptive, as above).
    num_probes, num_steps : int
        SLQ probes and Lanczos steps per probe.
    random_state : None, int or numpy.random.Generator
    like : array, optional
        For callable operators: an array whose namespace, dtype and device to use.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> G = rng.standard_normal((300, 20))
    >>> A = G @ G.T                                  # rank 20: Nyström is exact
    >>> lam = np.linalg.eigvalsh(A).clip(0)
    >>> d = effective_dimension(A, 1.0, random_state=0)
    >>> bool(abs(d - np.sum(lam / (lam + 1.0))) < 1e-8)
    True
    >>> lam = 1.0 / np.arange(1, 301) ** 2           # full rank: SLQ
    >>> d = effective_dimension(np.diag(lam), 1e-2, random_state=0)
    >>> bool(abs(d - np.sum(lam / (lam + 1e-2))) < 0.05 * d)
    True
    """
    mu = check_positive(mu, "mu")
    method = check_option(method, "method", ("auto", "nystrom", "slq"))
    num_probes = check_positive_int(num_probes, "num_probes")
    num_steps = check_positive_int(num_steps, "num_steps")
    check_real_operator(A, "A")
    op = as_operator(A, symmetric=True)
    n = op.shape[0]
    # Checked whatever the method, so that a call is valid or not regardless of the data.
    _backend.check_fits(num_probes, "num_probes", per=n, what=f"{n} × num_probes probe block")
    rank = check_auto_or(rank, "rank", check_positive_int, upper=n, upper_name="the dimension of A")
    rng = _backend.check_random_state(random_state)
    if method != "slq":
        xp, dtype, device = _resolve(op, like)
        if rank == "auto":
            cap = min(n, AUTO_MAX_RANK if method == "auto" else DEFAULT_MAX_RANK)
            approx = adaptive_nystrom(op, 0.0, xp=xp, dtype=dtype, device=device, random_state=rng,
                                      max_rank=cap)
            size = approx.sketch_size
        else:
            approx = nystrom(op, rank, random_state=rng, like=like)
            size = int(rank)
        lam = approx.eigvals
        value = _backend.to_float(xp.sum(lam / (lam + mu)))
        if method == "nystrom" or approx.sketch_size >= n or _tail_negligible(xp, approx, size, n, mu, value):
            return value
    from .spectrum import slq  # here, not at the top: spectrum imports this module

    return slq(op, lambda t: t / (t + mu), num_probes=num_probes, num_steps=num_steps, random_state=rng,
               like=like)


def _tail_negligible(xp, approx, size, n, mu, value) -> bool:
    """Whether the eigenvalues the Nyström sketch missed cannot change ``d_eff`` noticeably.

    The sketch must have revealed the numerical rank (its trailing eigenvalue at rounding
    level, within ``size`` columns), and ``n − ℓ`` missed eigenvalues, each a hundred times
    that trailing value plus the rounding level ``ν/√n`` of the sketch, must add less than
    ``1e-3·d_eff``: a worst-case bound, the actual error is usually far smaller.
    """
    lam = approx.eigvals
    eps = float(xp.finfo(lam.dtype).eps)
    if lam.shape[0] == 0:
        return True
    top, last = _backend.to_float(lam[0]), _backend.to_float(lam[-1])
    if lam.shape[0] >= size and last > ADAPTIVE_TOL * math.sqrt(eps) * top:
        return False
    level = 100.0 * last + float(approx.shift) / math.sqrt(n)
    return (n - approx.sketch_size) * level / mu <= 1e-3 * max(value, 1.0)
