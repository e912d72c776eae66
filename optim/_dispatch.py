"""The cost model behind ``solver='auto'`` of :class:`~optim.SketchyRidge` and
:class:`~optim.SketchyLogisticRegression`.

Every candidate solver is priced in seconds as ``flops / rate`` with the rate of the kind of
operation that dominates it. The rates differ by an order of magnitude, which is the point: a
BLAS-3 Gram matrix ``XᵀX`` or a Cholesky factorization runs near the machine's peak, while a CG
iteration is two matrix-vector products limited by memory bandwidth (dense) or by indexed loads
(sparse). The constants below were measured in one process on the benchmark machine (2 cores,
OpenBLAS, float64: ``benchmarks/dispatch.py --calibrate`` prints them) and are fixed, not
re-measured at run time: only their ratios matter for the choice, and those are much more stable
across machines than the absolute rates.

The spectral probe is "CG first, sketch if slow": a few plain CG iterations on the system (ridge)
or on the Hessian at the starting point (logistic) estimate the linear convergence rate
``ρ = (r_k / r_{k/2})^{2/k}``; the iterations plain CG (or L-BFGS) would still need follow from
``ρ``, and the sketch is bought only when that prediction says it pays. For ridge the probe's
iterations are not lost: the chosen iterative solver warm-starts from the probe's iterate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

#: Dense BLAS-3 (Gram matrices ``XᵀDX``, ``XXᵀ``, counted as syrk's ``n d²``): the weighted,
#: centred Gram of :func:`optim._direct.centered_gram` measured 56, 73, 72, 90 and 92 GFlop/s at
#: 200000×300, 50000×400, 100000×500, 50000×2000 and 20000×4000 on 2 cores (earlier figures, 36
#: GFlop/s at 50000×400, included SciPy's OpenBLAS threads spinning against NumPy's). Modelled
#: as ``GEMM_RATE · m / (m + GEMM_HALF_DIM)`` with ``m`` the Gram's order.
GEMM_RATE = 9.5e10
GEMM_HALF_DIM = 150
#: Dense products with blocks of >= 32 columns (Nyström sketches): measured 53-62 GFlop/s.
BLOCK_RATE = 5.5e10
#: Cholesky / eigendecomposition of a dense SPD matrix (d in the thousands): ~50 GFlop/s.
FACTOR_RATE = 4.0e10
#: Dense matrix-vector products (one CG iteration = ``Xv`` and ``Xᵀu``): 9-12 GFlop/s (memory bound).
GEMV_RATE = 1.0e10
#: Sparse (CSR) matrix-vector products: ~1.5 GFlop/s; with a block of 32 columns ~6 GFlop/s.
SPMV_RATE = 1.5e9
SPMM_RATE = 6.0e9
#: Sparse-times-sparse Gram ``XᵀX`` (scattered accumulation): ~0.3 GFlop/s.
SPGEMM_RATE = 3.0e8
#: Python overhead of one iteration of an iterative solver, of one L-BFGS-B iteration (SciPy's
#: wrapper) and of one Newton-Cholesky iteration (factorization call, line search), in seconds.
ITERATION_OVERHEAD = 5e-5
LBFGS_OVERHEAD = 2e-4
#: SciPy's L-BFGS-B spends time of its own per iteration proportional to the dimension (the
#: two-loop recursion and its Cauchy-point / subspace steps): measured 0.72 s for 29 iterations
#: at dim 10001 with 39 evaluations costing 0.1 s (one BLAS thread; with two oversubscribed
#: threads 10× more), i.e. about 2 µs per coordinate per iteration.
LBFGS_OVERHEAD_PER_DIM = 2e-6
NEWTON_OVERHEAD = 5e-4
#: NNCG's per-Newton-iteration overhead (CG set-up, line search, preconditioner): measured 2.5 ms.
NNCG_OVERHEAD = 2.5e-3

#: Largest ``d × d`` (or ``n × n``) system a direct solver forms: 1 GiB in float64.
DIRECT_MAX_DIM = 11000
#: Plain CG iterations of the probe.
PROBE_ITERATIONS = 10
#: The probe's rate underestimates what plain CG still needs on ill-conditioned problems (the
#: first iterations resolve the well-separated top of the spectrum): on the wide random-features
#: ridge 5000×20000 it predicted 126 more iterations and CG took 262. Predictions are doubled.
CG_SAFETY = 2.0
#: Nyström PCG is priced at a rank-``SKETCH_RANK`` sketch and ``PCG_ITERATIONS`` iterations
#: (the adaptive sketch's typical outcome on the ill-conditioned benchmark problems R2 and the
#: wide random-features ridge: ranks 256-1024, 20-40 iterations).
SKETCH_RANK = 512
PCG_ITERATIONS = 30
#: Newton-Cholesky iterations to the default tolerance (measured: 4 on the dense Toeplitz
#: logistic 200000×300, 6 on L1; scikit-learn's newton-cholesky takes 3-8).
NEWTON_ITERATIONS = 5
#: NNCG: Newton iterations (measured 6-9 on the four benchmark problems), its rank-30 sketch
#: (refreshed every 20 iterations: once), and the preconditioned CG iterations per Newton step as
#: a fraction of plain CG's to the forcing term 1e-2 at the start (measured 0.09-0.45).
NNCG_ITERATIONS = 8
NNCG_RANK = 30
NNCG_CG_FRACTION = 0.4
#: Products per Newton step besides CG's: the warm start, the initial and the final true
#: residual of the CG solve, and the line search's value and gradient.
NNCG_STEP_PRODUCTS = 4.0
#: Plain Newton-CG (NNCG with rank 0) instead, when the probe's CG rate at the start is at most
#: this and ``d >= NEWTON_CG_MIN_DIM``: a rank-30 sketch of a high-dimensional, well-conditioned
#: Hessian barely cuts CG (sparse logistic 100000×50000: 3.1 against 4.7 iterations per step,
#: while its 30 products cost more than that saves: 0.88 s against 0.60 s).
NEWTON_CG_MAX_RATE = 0.75
NEWTON_CG_MIN_DIM = 3000
NNCG_MIN_CG = 3
#: ... and at most this many: the preconditioner takes the ill-conditioned top of the spectrum
#: away (5 per Newton step on L1, 48 in 9 steps), which plain CG's rate cannot see.
NNCG_MAX_CG = 20
#: L-BFGS takes about this many times the iterations of CG on the Hessian at the start, each
#: costing about this many value-and-gradient evaluations (line search).
LBFGS_ITERATION_FACTOR = 3.0
LBFGS_EVALS_PER_ITERATION = 1.1
#: ... and never fewer than this many (the non-quadratic part: 20-30 on well-conditioned data,
#: where CG on the starting Hessian finishes in a handful of steps).
LBFGS_MIN_ITERATIONS = 25


@dataclass
class Shape:
    """What the cost model knows about ``X``: sizes, non-zeros, sparsity, number of columns solved for."""

    n: int
    d: int
    nnz: int
    sparse: bool
    columns: int = 1

    def product(self, k=1):
        """Seconds of ``X V`` plus ``Xᵀ U`` with blocks of ``k`` columns."""
        flops = 4.0 * self.nnz * k
        if self.sparse:
            rate = SPMV_RATE if k == 1 else min(SPMM_RATE, SPMV_RATE * k)
        else:
            rate = GEMV_RATE if k == 1 else min(BLOCK_RATE, GEMV_RATE * k)
        return flops / rate


def shape_of(X, columns=1):
    n, d = X.shape
    sparse = hasattr(X, "nnz") and hasattr(X, "tocsr")
    return Shape(n, d, int(X.nnz) if sparse else n * d, sparse, columns)


@dataclass
class Decision:
    """The solver chosen and the predicted seconds of every candidate (``inf``: not applicable)."""

    solver: str
    costs: dict = field(default_factory=dict)
    reason: str = ""
    #: Options of the chosen solver (``{'rank': 0}``: NNCG without a sketch).
    options: dict = field(default_factory=dict)

    def report(self):
        parts = ", ".join(f"{k} {v:.3g} s" if math.isfinite(v) else f"{k} n/a" for k, v in self.costs.items())
        return f"solver='auto' chose {self.solver!r} ({self.reason}; predicted: {parts})"


def _gram_seconds(s: Shape, primal: bool):
    """Seconds of forming ``XᵀDX`` (primal, ``d × d``) or ``XXᵀ`` (dual, ``n × n``)."""
    if s.sparse:
        per = s.nnz / (s.n if primal else s.d)
        return 2.0 * s.nnz * per / SPGEMM_RATE
    m = s.d if primal else s.n
    rate = GEMM_RATE * m / (m + GEMM_HALF_DIM)
    return 1.0 * s.n * s.d * m / rate  # syrk: half a gemm's flops


def ridge_direct_seconds(s: Shape, n_penalties=1):
    """Cholesky on the smaller of the primal and dual systems (``inf`` past :data:`DIRECT_MAX_DIM`)."""
    m = min(s.n, s.d)
    if m > DIRECT_MAX_DIM:
        return math.inf
    return (_gram_seconds(s, s.d <= s.n) + n_penalties * m**3 / 3.0 / FACTOR_RATE
            + s.columns * s.product())


def cg_iteration_seconds(s: Shape):
    return s.product() + ITERATION_OVERHEAD


def sketch_seconds(s: Shape, rank):
    """A rank-``rank`` Nyström sketch of the Gram (``rank`` products in a block, QR and eigh)."""
    rank = min(rank, s.d)
    return s.product(rank) + 6.0 * s.d * rank**2 / BLOCK_RATE


def pcg_seconds(s: Shape, iterations):
    rank = min(SKETCH_RANK, s.d)
    per = cg_iteration_seconds(s) + 4.0 * s.d * rank / GEMV_RATE
    return sketch_seconds(s, rank) + iterations * per


def rate_of(residuals, probe=PROBE_ITERATIONS):
    """Linear convergence factor per iteration from a residual history (the last half of it)."""
    r = [x for x in residuals if x > 0]
    if len(r) < 3:
        return 0.0
    k = len(r) - 1
    h = max(1, k // 2)
    ratio = r[-1] / r[-1 - h]
    return min(max(ratio, 0.0) ** (1.0 / h), 1.0 - 1e-12)


def iterations_to(rate, reduction):
    """Iterations a method converging like ``rate`` needs to reduce the residual by ``reduction``."""
    if reduction >= 1.0:
        return 0.0
    if rate <= 0.0:
        return 1.0
    return math.log(reduction) / math.log(rate)


#: Cholesky is taken without a probe when it costs at most this many probes: the probe can only
#: save the difference (plain CG converging within it), and when it does not converge its cost
#: is lost; at 1 the worst case is 2× the better choice, and a well-conditioned problem that CG
#: solves within the probe never pays for a Gram it did not need (at 2, dense ridge 50000×400
#: took Cholesky, 0.147 s, against 0.075 s for CG).
UPFRONT_FACTOR = 1.0


def ridge_upfront(s: Shape, n_penalties=1):
    """Decide before any iteration: Cholesky when it costs at most :data:`UPFRONT_FACTOR` probes."""
    direct = ridge_direct_seconds(s, n_penalties)
    probe = s.columns * PROBE_ITERATIONS * cg_iteration_seconds(s)
    if direct <= UPFRONT_FACTOR * probe:
        return Decision("cholesky", {"cholesky": direct, "probe": probe},
                        f"the direct solve costs less than {UPFRONT_FACTOR:g}× the "
                        f"{PROBE_ITERATIONS}-iteration CG probe")
    return None


def ridge_after_probe(s: Shape, remaining, n_penalties=1, maxiter=None):
    """The cheapest finish after the probe: ``remaining`` holds, per unconverged column, the
    predicted plain-CG iterations still needed."""
    it = cg_iteration_seconds(s)
    cap = maxiter if maxiter is not None else 10 * s.d
    remaining = [CG_SAFETY * k for k in remaining]
    costs = {"cg": sum(min(k, cap) for k in remaining) * it,
             "nystrom_pcg": pcg_seconds(Shape(s.n, s.d, s.nnz, s.sparse, 1), 0)
             + len(remaining) * PCG_ITERATIONS * (it + 4.0 * s.d * min(SKETCH_RANK, s.d) / GEMV_RATE),
             "cholesky": ridge_direct_seconds(Shape(s.n, s.d, s.nnz, s.sparse, len(remaining)), n_penalties)}
    if any(k > cap for k in remaining):
        costs["cg"] = math.inf if costs["nystrom_pcg"] < math.inf else costs["cg"]
    best = min(costs, key=costs.get)
    worst = max(remaining) if remaining else 0
    return Decision(best, costs, f"the probe predicts {worst:.0f} more plain CG iterations")


def newton_cholesky_seconds(s: Shape, n_classes, pass_seconds):
    """:data:`NEWTON_ITERATIONS` Newton-Cholesky steps, each forming the ``dim × dim`` Hessian
    (``dim = (d+1)K``), factoring it and making two passes of ``pass_seconds``; ``inf`` past
    :data:`DIRECT_MAX_DIM`."""
    k = n_classes
    dim = (s.d + 1) * k
    if dim > DIRECT_MAX_DIM:
        return math.inf
    form = _gram_seconds(s, True) if k == 1 else s.product(dim) * k
    return NEWTON_ITERATIONS * (form + dim**3 / 3.0 / FACTOR_RATE + 2 * pass_seconds + NEWTON_OVERHEAD)


def logistic_costs(s: Shape, n_classes, rate, reduction, numpy_backend=True):
    """Predicted seconds of newton_cholesky, lbfgs and nncg on a logistic problem.

    ``rate`` is the probe's CG convergence factor on the Hessian at the start and ``reduction``
    the gradient reduction asked for (``tol / ‖∇f(x₀)‖``). ``n_classes`` is 1 for binary.
    """
    k = n_classes
    dim = (s.d + 1) * k
    pass_seconds = s.product(k) + ITERATION_OVERHEAD  # margins and gradient (or one Hessian product)
    newton = newton_cholesky_seconds(s, k, pass_seconds)
    # CG ends in at most dim steps in exact arithmetic; allow for rounding (10 dim).
    plain = min(iterations_to(rate, reduction), 10.0 * dim)
    lbfgs_iterations = max(LBFGS_ITERATION_FACTOR * plain, LBFGS_MIN_ITERATIONS)
    lbfgs = lbfgs_iterations * (LBFGS_EVALS_PER_ITERATION * pass_seconds + LBFGS_OVERHEAD
                                + LBFGS_OVERHEAD_PER_DIM * dim)
    plain_per_newton = iterations_to(rate, 1e-2)
    options, note = {}, ""
    if rate <= NEWTON_CG_MAX_RATE and s.d >= NEWTON_CG_MIN_DIM:
        options, note = {"rank": 0}, "; NNCG without a sketch (well-conditioned, high-dimensional)"
        cg_per_newton = min(max(NNCG_MIN_CG, plain_per_newton), NNCG_MAX_CG)
        sketch = 0.0
    else:
        cg_per_newton = min(max(NNCG_MIN_CG, NNCG_CG_FRACTION * plain_per_newton), NNCG_MAX_CG)
        sketch = s.product(NNCG_RANK * k)
    nncg = sketch + NNCG_ITERATIONS * ((cg_per_newton + NNCG_STEP_PRODUCTS) * pass_seconds + NNCG_OVERHEAD)
    costs = {"newton_cholesky": newton, "lbfgs": lbfgs if numpy_backend else math.inf, "nncg": nncg}
    best = min(costs, key=costs.get)
    return Decision(best, costs, f"the probe predicts {plain:.0f} plain CG iterations to the tolerance"
                    + (note if best == "nncg" else ""), options if best == "nncg" else {})


def logistic_upfront(s: Shape, n_classes):
    """Newton-Cholesky without a probe when its whole run costs less than the probe would."""
    k = n_classes
    newton = newton_cholesky_seconds(s, k, s.product(k))
    probe = PROBE_ITERATIONS * (s.product(k) + ITERATION_OVERHEAD)
    if math.isfinite(newton) and newton <= UPFRONT_FACTOR * probe:
        return Decision("newton_cholesky", {"newton_cholesky": newton, "probe": probe},
                        f"Newton-Cholesky costs less than {UPFRONT_FACTOR:g}× the "
                        f"{PROBE_ITERATIONS}-product probe")
    return None
