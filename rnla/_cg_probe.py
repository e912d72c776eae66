"""Plain CG first: the probe that decides whether :func:`rnla.nystrom_pcg` sketches at all.

``nystrom_pcg(rank='auto')`` starts as plain CG. At checkpoints (``P``, ``2P``, ``4P``, … iterations)
it predicts the iterations plain CG still needs from the Lanczos tridiagonal that CG's own
coefficients define (no extra product), and compares them with the price ``S`` of the first
sketch, in CG iterations:

- the extreme Ritz values ``θ_max ≥ θ_min`` of ``T_k`` give ``κ̂ = θ_max/θ_min`` (``θ_min``
  falls toward ``λ_min`` as ``k`` grows, so ``κ̂`` is an underestimate early on), and CG's
  bound predicts ``R = ½ √κ̂ · ln(2‖r_k‖/tol)`` more iterations;
- the probe stops and the sketch is taken when ``R ≥ 3 max(S, 2S − k)``. If the sketch then
  does not pay (a flat spectrum: :func:`rnla.adaptive_nystrom` drops it), the solve has cost
  ``k + S + R`` products against plain CG's ``k + R``: at most 1.5× whenever ``R`` is not an
  overestimate by more than the factor 3 (:data:`MARGIN`: the bound is pessimistic where CG
  converges superlinearly); and ``R ≥ S`` is needed for a preconditioner to save anything.

A problem that plain CG finishes before the first decision is solved exactly as :func:`rnla.pcg`
solves it: the flat and well-conditioned spectra where a sketch costs more than it saves.

``S`` comes from a cost model in units of memory-bound multiply-adds, calibrated on a 2-core
AMD EPYC with OpenBLAS (only ratios matter): a CG iteration is one product (``Operator.flops``
multiply-adds), a few ``n``-vector passes and a fixed interpreter overhead; the sketch is
its ``ℓ`` columns of products (a dense block product at BLAS-3 speed), the test matrix and
the skinny kernels (``O(nℓ)``), the ``O(nℓ²)`` algebra and a fixed overhead. Operators of
unknown cost (callables) are taken to be expensive, so that the sketch's algebra is
negligible and ``S`` is its ``ℓ`` products.
Every input of the decision is a count or a CG coefficient: it is the same on every run.
"""

from __future__ import annotations

import math

#: Price of one multiply-add of a product with the operator (sparse entry or dense entry).
PRODUCT = 0.4
#: A block product with a dense matrix runs at BLAS-3 speed: this fraction per column.
DENSE_BLOCK = 0.1
#: One CG iteration's vector work, per entry of ``x`` (about six passes over n-vectors).
CG_VECTOR = 3.0
#: The interpreter's overhead of one CG iteration.
CG_STEP = 15_000.0
#: The sketch's algebra per ``n·ℓ²`` (Gram, Cholesky-QR, triangular solve, small SVD).
SKETCH_ALGEBRA = 0.25
#: Per entry of the ``n × ℓ`` block: drawing the Gaussian test matrix (about 10) and the
#: skinny ``n × ℓ`` kernels, which run far below BLAS-3 speed for ``ℓ <= 32`` (measured:
#: 12 ms for ``ℓ = 16``, 19 ms for ``ℓ = 32`` at ``n = 16384``).
SKETCH_COLUMN = 25.0
#: The sketch's fixed overhead (small factorizations, checks).
SKETCH_FIXED = 500_000.0
#: First checkpoint: never before this many iterations.
MIN_CHECK = 4
#: The bound ``R`` overestimates what CG needs on spectra it converges on superlinearly (a 2-D
#: Poisson matrix: 80 predicted where 36 remained), and the price model is within about 1.5× of
#: the measured sketch times (Poisson 256², 32 columns: 214 iterations modelled, 310 measured):
#: the sketch is taken only when ``R`` is at least this multiple of the price. At 2, Poisson 256²
#: with ``μ = 1e-8`` sketched (uselessly) at iteration 216 and took 1.55× the time of plain CG.
MARGIN = 3.0


def sketch_price(op, n: int, ell: int) -> float:
    """Price of an ``ℓ``-column Nyström sketch of ``op`` (``n × n``) in plain-CG iterations."""
    flops = getattr(op, "flops", None)
    if flops is None:
        return float(ell)
    column = PRODUCT * flops * (DENSE_BLOCK if getattr(op, "dense", False) else 1.0)
    sketch = ell * column + SKETCH_ALGEBRA * n * ell * ell + SKETCH_COLUMN * n * ell + SKETCH_FIXED
    iteration = PRODUCT * flops + CG_VECTOR * n + CG_STEP
    return sketch / iteration


class CGProbe:
    """Decides, at CG's checkpoints, whether to stop plain CG and sketch (see the module text).

    :func:`rnla.krylov._pcg` calls :meth:`step` after every iteration with ``1/α`` and the
    residual norm it started from, :meth:`reset` when it restarts its directions, and
    :meth:`stop` at the top of an iteration; when that is true, :meth:`switch`, which calls
    ``build()`` for the preconditioner to go on with (``None``: plain CG goes on).
    """

    def __init__(self, price: float, build):
        self.price = price
        self.build = build
        self.switched_at = None
        self.next_check = max(MIN_CHECK, math.ceil(price / 2))
        self.inv_alpha: list[float] = []
        self.rnorms: list[float] = []
        self.stopped = False
        self.predicted = None

    def reset(self):
        self.inv_alpha, self.rnorms = [], []

    def step(self, inv_alpha: float, rnorm: float):
        """Record iteration ``j``: ``1/α_j`` and ``‖r_j‖`` (the residual it started from)."""
        self.inv_alpha.append(inv_alpha)
        self.rnorms.append(rnorm)

    def stop(self, iterations: int, rnorm: float, tol: float) -> bool:
        """Whether to stop plain CG now (``rnorm``: the current residual, above ``tol``)."""
        if iterations < self.next_check:
            return False
        self.next_check *= 2
        remaining = self.remaining(rnorm, tol)
        if remaining is None:
            return False
        self.predicted = remaining
        if remaining >= MARGIN * max(self.price, 2.0 * self.price - iterations):
            self.stopped = True
        return self.stopped

    def switch(self, iterations: int):
        """The preconditioner to go on with after ``iterations`` plain ones (or ``None``)."""
        self.switched_at = iterations
        return self.build()

    def remaining(self, rnorm: float, tol: float):
        """CG's bound on the iterations still needed, from the Ritz values (``None`` if unknown)."""
        k = len(self.inv_alpha)
        if k < 2:
            return None
        rho = [*self.rnorms, rnorm]
        diag, off = [], []
        for j in range(k):
            beta_prev = (rho[j] / rho[j - 1]) ** 2 if j else 0.0
            diag.append(self.inv_alpha[j] + (beta_prev * self.inv_alpha[j - 1] if j else 0.0))
            if j + 1 < k:
                off.append((rho[j + 1] / rho[j]) * self.inv_alpha[j])
        if not all(math.isfinite(v) for v in diag + off):
            return None
        from scipy.linalg import eigvalsh_tridiagonal

        top = max(abs(v) for v in diag) or 1.0
        theta = eigvalsh_tridiagonal([v / top for v in diag], [v / top for v in off])
        low, high = float(theta[0]), float(theta[-1])
        if not (low > 0 and high > 0):
            return None
        return 0.5 * math.sqrt(high / low) * math.log(2.0 * rnorm / tol)
