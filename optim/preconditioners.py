"""Subsampled-Hessian Nyström preconditioner and the automatic step size of the PROMISE methods.

The preconditioner (Frangella, Tropp, Udell; arXiv:2211.08597 and arXiv:2309.02014) is
``P = U Λ̂ Uᵀ + ρI`` from a rank-``r`` randomized Nyström approximation ``U Λ̂ Uᵀ`` of the
data Hessian on a random batch of ``b_H = ⌊√n⌋`` samples. The step size comes from the
preconditioned smoothness constant ``L_P = λ_max(P^{-1/2}(H_S' + reg·I)P^{-1/2})`` on a
second, independent batch ``S'``, estimated by power iteration.
"""

from __future__ import annotations

import math

import numpy as np

import rnla
from rnla import _backend
from rnla._sketch_ops import check_sketch
from rnla._validation import check_array, check_auto_or, check_positive, check_positive_int

from ._finite_sum import _FiniteSum, check_product_input

__all__ = ["SketchyPreconditioner", "hessian_preconditioner", "preconditioned_smoothness"]

#: Published defaults: Nyström rank 10, Hessian batch ⌊√n⌋, 10-20 power iterations.
DEFAULT_RANK = 10
DEFAULT_POWER_ITERS = 20
#: ``U`` counts as orthonormal when ``max |UᵀU − I| <= ORTHONORMAL_TOL · √eps`` (rounding of a QR).
ORTHONORMAL_TOL = 100.0


class SketchyPreconditioner:
    """``P = U diag(eigvals) Uᵀ + rho·I`` with ``P⁻¹`` and ``P^{-1/2}`` applied in ``O(dr)``.

    ``P⁻¹ g = U((Λ̂ + ρI)⁻¹ − ρ⁻¹I)Uᵀ g + g/ρ``. With no columns in ``U`` and ``rho = 1`` it is
    the identity (what the unpreconditioned solvers use).

    Parameters
    ----------
    U : (d, r) array
        Orthonormal columns (checked: ``max |UᵀU − I| <= 100·√eps``); ``r`` may be 0.
    eigvals : (r,) array
        Non-negative, finite eigenvalues of the low-rank part, one per column of ``U``.
    rho : float
        Positive, finite regularisation.

    Raises
    ------
    TypeError
        If ``U`` or ``eigvals`` is not an array or ``rho`` not a real number.
    ValueError
        Naming the argument: complex or non-finite content, ``eigvals`` of another length than
        ``U`` has columns or with a negative entry, ``U`` without orthonormal columns, ``rho <= 0``.

    Examples
    --------
    >>> import numpy as np
    >>> P = SketchyPreconditioner(np.eye(3)[:, :1], np.array([9.0]), 1.0)
    >>> P.apply_inverse(np.ones(3)).round(12).tolist()
    [0.1, 1.0, 1.0]
    >>> P.apply_inverse_sqrt(np.ones(3)).round(6).tolist()
    [0.316228, 1.0, 1.0]
    """

    def __init__(self, U, eigvals, rho):
        rho = check_positive(rho, "rho")
        U = check_array(U, "U", ndim=2, allow_empty=True)
        xp = _backend.array_namespace(U)
        d, r = U.shape
        if d == 0:
            raise ValueError(f"U must have at least one row, got shape {tuple(U.shape)}")
        eigvals = check_array(eigvals, "eigvals", xp=xp, ndim=1, allow_empty=True, dtype=U.dtype)
        if eigvals.shape[0] != r:
            raise ValueError(f"eigvals must have one entry per column of U ({r}), got shape "
                             f"{tuple(eigvals.shape)}")
        if r:
            if not bool(xp.all(eigvals >= 0)):
                raise ValueError(f"eigvals must be >= 0, got minimum {_backend.to_float(xp.min(eigvals))!r}")
            # U must have orthonormal columns, else P⁻¹ below is not the inverse of U Λ Uᵀ + ρI.
            gram = U.T @ U - xp.eye(r, dtype=U.dtype, device=_backend.device_of(U))
            defect = _backend.to_float(xp.max(xp.abs(gram)))
            tol = ORTHONORMAL_TOL * math.sqrt(float(xp.finfo(U.dtype).eps))
            if not defect <= tol:
                raise ValueError(f"U must have orthonormal columns (max |UᵀU - I| = {defect:.3g} "
                                 f"> {tol:.3g})")
        self.U = U
        self.eigvals = eigvals
        self.rho = rho
        self._xp = xp
        self._inv = 1.0 / (eigvals + rho) - 1.0 / rho
        self._inv_sqrt = 1.0 / xp.sqrt(eigvals + rho) - 1.0 / math.sqrt(rho)

    @classmethod
    def identity(cls, dim, *, xp, dtype, device=None):
        """The identity preconditioner of dimension ``dim``."""
        U = xp.zeros((dim, 0), dtype=dtype, device=device)
        return cls(U, xp.zeros(0, dtype=dtype, device=device), 1.0)

    @property
    def rank(self) -> int:
        return int(self.eigvals.shape[0])

    def _apply(self, scale, shift, G):
        out = G * shift if shift != 1.0 else G
        if self.rank == 0:
            return out
        proj = self.U.T @ G
        return out + self.U @ (proj * (scale if G.ndim == 1 else scale[:, None]))

    def _check_G(self, G):
        """O(1) checks of a product's input (it runs every iteration): an array (``TypeError``)
        of real numbers and shape ``(d,)`` or ``(d, k)`` (``ValueError``); NaN is the caller's."""
        return check_product_input(self._xp, G, "G", self.U.shape[0], block=True)

    def apply_inverse(self, G):
        """``P⁻¹ G`` for a vector ``(d,)`` or a block ``(d, k)``."""
        return self._apply(self._inv, 1.0 / self.rho, self._check_G(G))

    def apply_inverse_sqrt(self, G):
        """``P^{-1/2} G`` for a vector or a block."""
        return self._apply(self._inv_sqrt, 1.0 / math.sqrt(self.rho), self._check_G(G))

    def __repr__(self):
        return f"SketchyPreconditioner(dim={self.U.shape[0]}, rank={self.rank}, rho={self.rho:.3g})"


def _batch_size(problem, batch_size, name):
    n = problem.n_samples
    if batch_size is None:
        return max(1, math.isqrt(n))
    return check_positive_int(batch_size, name, upper=n, upper_name="n_samples")


def _random_batch(problem, w, batch_size, rng):
    """The problem averaged over a uniformly random subset of ``batch_size`` (default ``⌊√n⌋``)
    samples, drawn without replacement; the whole problem if it is not a finite sum."""
    if problem.n_samples is None:
        return problem.batch(None)
    size = _batch_size(problem, batch_size, "batch_size")
    if size >= problem.n_samples:
        return problem.batch(None)
    idx = np.sort(rng.choice(problem.n_samples, size=size, replace=False))
    xp = _backend.array_namespace(w)
    return problem.batch(_backend.from_numpy(xp, idx, device=_backend.device_of(w)))  # one transfer


def _check_point(problem, w):
    """``problem`` must be an optim objective and ``w`` a real 1-D array of its dimension."""
    if not isinstance(problem, _FiniteSum):
        raise TypeError("problem must be an optim.LeastSquares, Logistic, Multinomial or Objective, got "
                        f"{type(problem).__name__}")
    xp = getattr(problem, "xp", None)
    w = check_array(w, "w", xp=xp, ndim=1)
    dim = getattr(problem, "dim", None)
    if isinstance(dim, int) and w.shape[0] != dim:
        raise ValueError(f"w must have shape ({dim},) to match the problem, got {tuple(w.shape)}")
    return w


def _check_rho(rho):
    return check_auto_or(rho, "rho", check_positive)


def hessian_preconditioner(problem, w, *, rank=DEFAULT_RANK, batch_size=None, rho="auto", random_state=None,
                           sketch="gaussian"):
    """Nyström preconditioner of the Hessian of ``problem`` at ``w`` from a random batch.

    Sketches the data Hessian ``H_S = A_Sᵀ diag(s ℓ''_S) A_S / |S|`` of a uniformly random
    batch ``S`` (the L2 penalty is not sketched) with :func:`rnla.nystrom` and returns
    ``P = U Λ̂ Uᵀ + ρI``.

    Parameters
    ----------
    problem : LeastSquares, Logistic or Objective
        A finite-sum objective (for :class:`~optim.Objective` without ``n_samples`` the full
        Hessian is sketched).
    w : (dim,) array
        Point at which the Hessian is taken.
    rank : int, default 10
        Rank ``r`` of the Nyström approximation (``<= dim``); 10 further columns oversample it.
    batch_size : int, optional
        Hessian batch size ``b_H``; ``⌊√n⌋`` by default.
    rho : 'auto' or float, default 'auto'
        ``'auto'`` is the scale-free ``ρ = reg + λ̂_r`` (the smallest retained eigenvalue; never
        below ``√eps·λ̂_1``); a number is used as is (the PROMISE scripts use ``1e-3`` on
        row-normalised data).
    random_state : None, int or numpy.random.Generator
        Seed of the batch and the sketch.
    sketch : str or callable, default 'gaussian'
        Test matrix of the Nyström sketch, passed to :func:`rnla.nystrom` (which lists the kinds).

    Returns
    -------
    SketchyPreconditioner

    Examples
    --------
    >>> import numpy as np
    >>> from optim import LeastSquares
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((400, 30)) * np.logspace(0, -3, 30)
    >>> prob = LeastSquares(X, rng.standard_normal(400), reg=1e-6)
    >>> P = hessian_preconditioner(prob, np.zeros(30), random_state=0)
    >>> P.rank, P.rho > 1e-6
    (10, True)
    """
    w = _check_point(problem, w)
    rng = _backend.check_random_state(random_state)
    rho = _check_rho(rho)
    dim = w.shape[0]
    rank = check_positive_int(rank, "rank", upper=dim, upper_name="the number of parameters")
    sketch = check_sketch(sketch)  # before the sketch: its ValueError is not the PSD one below
    batch = _random_batch(problem, w, batch_size, rng)
    H = batch.hessian_operator(w)
    try:
        approx = rnla.nystrom(H, rank, oversample=min(10, dim - rank), random_state=rng, like=w,
                              sketch=sketch)
    except ValueError as exc:
        raise ValueError(f"the sketched Hessian at w is not positive semidefinite ({exc}); the Sketchy "
                         "methods need a convex objective") from None
    lam = approx.eigvals
    if rho == "auto":
        lam_max = _backend.to_float(lam[0]) if lam.shape[0] else 0.0
        lam_min = _backend.to_float(lam[-1]) if lam.shape[0] else 0.0
        xp = _backend.array_namespace(w)
        eps = float(xp.finfo(w.dtype).eps)
        # A GLM's sketch leaves the penalty out (add it); a callable objective's holds it already.
        base = max(lam_min, problem.reg) if batch.sketch_includes_penalty else problem.reg + lam_min
        rho = max(base, math.sqrt(eps) * lam_max)
        if rho <= 0:  # a zero Hessian batch: nothing to precondition
            rho = 1.0
    return SketchyPreconditioner(approx.U, lam, rho)


def preconditioned_smoothness(problem, w, preconditioner=None, *, batch_size=None,
                              num_iters=DEFAULT_POWER_ITERS, random_state=None) -> float:
    """Estimate ``L_P = λ_max(P^{-1/2}(H_S' + reg·I)P^{-1/2})`` on a random batch by power iteration.

    Parameters
    ----------
    problem : LeastSquares, Logistic or Objective
        The objective.
    w : (dim,) array
        Point at which the Hessian is taken.
    preconditioner : SketchyPreconditioner, optional
        ``P``; the identity if omitted (then ``L_P`` is the batch smoothness constant).
    batch_size : int, optional
        Size of the fresh Hessian batch ``S'``; ``⌊√n⌋`` by default.
    num_iters : int, default 20
        Power iterations (one Hessian-vector product each).
    random_state : None, int or numpy.random.Generator
        Seed of the batch and the start vector.

    Returns
    -------
    float
        The Rayleigh quotient after ``num_iters`` iterations, a lower bound on ``L_P`` that
        approaches it (the step-size rules carry a safety factor of 2 or 3).

    Examples
    --------
    >>> import numpy as np
    >>> from optim import LeastSquares
    >>> X = np.diag([3.0, 1.0, 1.0, 1.0])
    >>> prob = LeastSquares(X, np.ones(4), reg=0.0)
    >>> round(preconditioned_smoothness(prob, np.zeros(4), batch_size=4, random_state=0), 6)  # 3²/4
    2.25
    """
    w = _check_point(problem, w)
    if preconditioner is not None and not isinstance(preconditioner, SketchyPreconditioner):
        raise TypeError("preconditioner must be a SketchyPreconditioner or None, got "
                        f"{type(preconditioner).__name__}")
    rng = _backend.check_random_state(random_state)
    num_iters = check_positive_int(num_iters, "num_iters")
    xp = _backend.array_namespace(w)
    dim = w.shape[0]
    if preconditioner is None:
        preconditioner = SketchyPreconditioner.identity(dim, xp=xp, dtype=w.dtype,
                                                        device=_backend.device_of(w))
    batch = _random_batch(problem, w, batch_size, rng)
    H = batch.hessian_operator(w, include_penalty=True)
    P = preconditioner
    # Power iteration on P⁻¹H, similar to P^{-1/2} H P^{-1/2}: y_k = P^{-1/2} v_k up to scale, so the
    # iterates are those of the symmetric form at one P⁻¹ product per step instead of two P^{-1/2}.
    v = _backend.random_normal(xp, (dim,), dtype=w.dtype, device=_backend.device_of(w), random_state=rng)
    y = P.apply_inverse_sqrt(v / xp.linalg.vector_norm(v))
    for _ in range(num_iters):
        y = P.apply_inverse(H @ y)
        norm = xp.linalg.vector_norm(y)
        # Divide by a device scalar: no host sync inside the loop; a zero norm is caught below.
        y = y / xp.where(norm > 0, norm, xp.ones_like(norm))
    # The Rayleigh quotient vᵀ(P^{-1/2} H P^{-1/2})v of v = P^{1/2} y: yᵀHy / yᵀPy.
    Uty = P.U.T @ y
    yPy = _backend.to_float(xp.sum(P.eigvals * Uty * Uty) + P.rho * (y @ y))
    yHy = _backend.to_float(y @ (H @ y))
    if not (math.isfinite(yHy) and math.isfinite(yPy)):
        raise FloatingPointError("the Hessian-vector products gave NaN or infinity while estimating L_P")
    estimate = yHy / yPy if yPy > 0 else 0.0
    return max(estimate, 0.0)

