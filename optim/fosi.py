"""FOSI: Newton on the extreme Hessian eigenspace, any first-order optimizer on the rest.

Sivan, Gabel and Schuster, "FOSI: Hybrid First and Second Order Optimization"
(arXiv:2302.08484). The formulas are those of docs/algorithms/fosi.md.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from rnla import _backend
from rnla._validation import check_callable, check_positive, check_positive_int, check_real
from rnla.eigen import EigshNoConvergence, eigsh
from rnla.operators import as_operator

from .first_order import GradientTransformation, _check_fraction, _check_nonnegative_int, _check_params

__all__ = ["FosiState", "fosi"]

#: Largest learning-rate scaling ``c`` by base: FOSI's defaults (3 for SGD and heavy-ball, 1 for Adam).
DEFAULT_CLIP = {"sgd": 3.0, "heavy_ball": 3.0}
#: Relative Ritz residual at which an eigenpair is accepted, and restart cycles allowed.
LANCZOS_TOL = 1e-2
LANCZOS_MAXITER = 5


class FosiState(NamedTuple):
    """State of :func:`fosi`.

    Attributes
    ----------
    count : int
        Updates done.
    base_state
        The base optimizer's state.
    eigvecs : array or None
        ``V``, ``(n, m)``: the extreme eigenvectors in use (None before the first estimate).
    eigvals : array or None
        Their eigenvalues ``λ`` (signed; the Newton step uses ``|λ|``).
    momentum : array
        ``v``, the heavy-ball accumulation of the gradient's component in ``span(V)``.
    scale : float
        ``s = clip(λ₁/λ_k, 1, c)``, the base optimizer's learning-rate scaling.
    seed : int
        Seed of the Lanczos start vectors (the one at update ``t`` is derived from ``(seed, t)``).
    hvps : int
        Hessian-vector products spent so far.
    """

    count: int
    base_state: Any
    eigvecs: Any
    eigvals: Any
    momentum: Any
    scale: float
    seed: int
    hvps: int


def _check_counts(k, l):  # noqa: E741 (FOSI's own name for the count of smallest pairs)
    k, l = _check_nonnegative_int(k, "k"), _check_nonnegative_int(l, "l")  # noqa: E741
    if k + l == 0:
        raise ValueError("k + l must be at least 1 (FOSI needs some eigenpairs)")
    return k, l


def fosi(base, hvp, *, k=5, l=0, alpha=0.1, every=100, warmup=None, clip=None, momentum=0.9,  # noqa: E741
         num_lanczos=None, random_state=None):
    """Wrap a first-order optimizer in FOSI: a Newton step on the extreme eigenspace of the Hessian.

    Every ``every`` updates (first after ``warmup``) Lanczos (:func:`rnla.eigsh` with
    ``which='BE'``, one run for both ends, ``num_lanczos`` vectors) finds the ``k`` largest and
    ``l`` smallest eigenpairs ``(λ, V)`` of the Hessian at the current parameters. Each update
    then splits the gradient into ``g₁ = V Vᵀ g`` and ``g₂ = g − g₁``, accumulates
    ``v ← βv + g₁``, and steps

    ``Δθ = s · (I − V Vᵀ) base(g₂) − α V |Λ|⁻¹ Vᵀ v``,  ``s = clip(λ₁/λ_k, 1, c)``.

    With ``α = 0.1`` and ``β = 0.9`` the Newton part takes the full Newton step on ``span(V)`` in
    the steady state (``α / (1 − β) = 1``), while the base optimizer only sees the better
    conditioned rest, whose top curvature ``λ_{k+1}`` allows a step ``λ₁/λ_k`` times larger.
    Before the first eigen-estimate FOSI is exactly its base optimizer.

    Parameters
    ----------
    base : GradientTransformation
        Any object with ``init(params)`` and ``update(grad, state, params, **extra)``, such as
        :func:`optim.sgd`, :func:`optim.heavy_ball` or :func:`optim.adam`.
    hvp : callable
        ``hvp(params, v)``: the Hessian at ``params`` applied to the vector ``v`` (a full or
        minibatch Hessian, as the caller chooses).
    k, l : int
        Number of largest and smallest eigenpairs (``k + l >= 1``, ``k + l < dim``).
    alpha : float, default 0.1
        Learning rate ``α`` of the Newton part.
    every : int, default 100
        Updates between eigen-estimates ``T``.
    warmup : int, optional
        Updates before the first estimate ``W``; ``every`` by default.
    clip : float, optional
        Upper limit ``c >= 1`` of the learning-rate scaling; 3 for ``sgd`` and ``heavy_ball``,
        1 (no scaling) for Adam and any other base.
    momentum : float, default 0.9
        ``β`` of the Newton part, in ``[0, 1)``.
    num_lanczos : int, optional
        Lanczos basis size ``m``, ``4 (k + l)`` by default (capped at the dimension); eigenpairs
        are accepted at a relative residual of 1e-2 within 5 restarts, and the pairs that do
        not converge are left out of ``V`` until the next estimate.
    random_state : None, int or numpy.random.Generator
        Seed of the Lanczos start vectors.

    Returns
    -------
    GradientTransformation
        ``update(grad, state, params, **extra)`` needs ``params`` (the point of the Hessian);
        ``extra`` is passed on to the base.

    Examples
    --------
    >>> import numpy as np
    >>> from optim import fosi, heavy_ball, run
    >>> A = np.diag(np.logspace(0, 3, 20))              # condition number 1000
    >>> objective = lambda x: (0.5 * x @ A @ x, A @ x)
    >>> x0 = np.ones(20)
    >>> hb = run(heavy_ball(1e-3), objective, x0, steps=300)
    >>> fo = run(fosi(heavy_ball(1e-3), lambda x, v: A @ v, k=5, every=50, warmup=10, random_state=0),
    ...          objective, x0, steps=300)
    >>> bool(fo.fun < 1e-3 * hb.fun)
    True
    """
    if not (hasattr(base, "init") and hasattr(base, "update")):
        raise TypeError("base must have init and update (an optim first-order optimizer), "
                        f"got {type(base).__name__}")
    check_callable(hvp, "hvp", optional=False)
    k, l = _check_counts(k, l)  # noqa: E741
    alpha = check_positive(alpha, "alpha")
    every = check_positive_int(every, "every")
    warmup = _check_nonnegative_int(warmup, "warmup", none_ok=True)
    if warmup is None:
        warmup = every
    if clip is None:
        clip = DEFAULT_CLIP.get(getattr(base, "name", ""), 1.0)
    clip = check_real(clip, "clip", low=1.0)
    beta = _check_fraction(momentum, "momentum")
    if num_lanczos is not None:
        num_lanczos = check_positive_int(num_lanczos, "num_lanczos")
        if num_lanczos <= k + l:
            raise ValueError(f"num_lanczos must exceed k + l = {k + l}, got {num_lanczos}")
    _backend.check_random_state(random_state)  # validated now, drawn from at each init

    def init(params):
        xp = _check_params(params)
        n = params.shape[0]
        if k + l >= n:
            raise ValueError(f"k + l = {k + l} must be smaller than the number of parameters ({n})")
        # An integer seed gives every init the same Lanczos seeds; a Generator advances.
        seed = int(_backend.check_random_state(random_state).integers(2**63))
        return FosiState(count=0, base_state=base.init(params), eigvecs=None, eigvals=None,
                         momentum=xp.zeros_like(params), scale=1.0, seed=seed, hvps=0)

    def estimate(params, state):
        """Extreme eigenpairs of the Hessian at ``params``: ``(V, λ, s, products)``."""
        xp = _backend.array_namespace(params)
        n = params.shape[0]
        products = [0]

        def matvec(v):
            out = hvp(params, v)
            if getattr(out, "shape", None) != v.shape:
                raise ValueError(f"hvp must return an array of shape {tuple(v.shape)}, got "
                                 f"{getattr(out, 'shape', None)}")
            products[0] += 1
            if not bool(xp.all(xp.isfinite(out))):
                raise ValueError("hvp returned NaN or infinity")
            return out

        op = as_operator(((n, n), matvec), name="the Hessian (hvp)")
        local = np.random.default_rng([state.seed, state.count])
        v0 = _backend.random_normal(xp, (n,), dtype=params.dtype, device=_backend.device_of(params),
                                    random_state=local)
        ncv = min(n, num_lanczos or 4 * (k + l))
        ncv = max(ncv, min(n, k + l + 1))
        try:
            w, V = eigsh(op, k + l, which="BE", num_small=l, v0=v0, ncv=ncv, tol=LANCZOS_TOL,
                         maxiter=LANCZOS_MAXITER, random_state=local)
        except EigshNoConvergence as err:
            w, V = err.eigenvalues, err.eigenvectors
        if w is None or w.shape[0] == 0:
            return None, None, 1.0, products[0]
        w_host = _backend.to_numpy(w).astype(np.float64)
        if not np.all(np.isfinite(w_host)):
            raise ValueError("hvp produced NaN or infinity: the Hessian's eigenvalues are not finite")
        top = float(np.max(np.abs(w_host)))
        keep = np.abs(w_host) > math.sqrt(float(xp.finfo(params.dtype).eps)) * top
        if not np.any(keep):
            return None, None, 1.0, products[0]
        if not np.all(keep):
            idx = _backend.from_numpy(xp, np.flatnonzero(keep), device=_backend.device_of(params))
            w, V, w_host = xp.take(w, idx), xp.take(V, idx, axis=1), w_host[keep]
        largest = w_host[w_host.shape[0] - min(k, w_host.shape[0]):] if k else w_host[:0]
        scale = 1.0
        if largest.shape[0] and largest[0] > 0:
            scale = float(np.clip(largest[-1] / largest[0], 1.0, clip))
        return V, w, scale, products[0]

    def update(grad, state, params=None, **extra):
        if params is None:
            raise ValueError("fosi's update needs params (the point where the Hessian is taken)")
        if getattr(grad, "shape", None) != state.momentum.shape:
            raise ValueError(f"grad must have shape {tuple(state.momentum.shape)}, got "
                             f"{getattr(grad, 'shape', None)}")
        V, lam, scale, hvps = state.eigvecs, state.eigvals, state.scale, state.hvps
        t = state.count
        if t >= warmup and (t - warmup) % every == 0:
            V, lam, scale, used = estimate(params, state)
            hvps += used
        if V is None:
            step, base_state = base.update(grad, state.base_state, params, **extra)
            return step, state._replace(count=t + 1, base_state=base_state, eigvecs=None, eigvals=None,
                                        scale=1.0, hvps=hvps)
        g1 = V @ (V.T @ grad)
        velocity = beta * state.momentum + g1
        newton = V @ ((V.T @ velocity) / abs(lam))
        base_step, base_state = base.update(grad - g1, state.base_state, params, **extra)
        base_step = base_step - V @ (V.T @ base_step)
        step = scale * base_step - alpha * newton
        return step, FosiState(count=t + 1, base_state=base_state, eigvecs=V, eigvals=lam, momentum=velocity,
                               scale=scale, seed=state.seed, hvps=hvps)

    return GradientTransformation(init, update, f"fosi({getattr(base, 'name', '') or 'base'})")
