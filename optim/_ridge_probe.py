"""One target of :class:`~optim.SketchyRidge` with ``solver='auto'``: the probe and its finish in
one CG run.

The probe is :data:`optim._dispatch.PROBE_ITERATIONS` plain CG iterations; the cost model then
picks the finish from their convergence rate. Plain CG and Nyström PCG go on in the same
iteration (through the probe hook of :func:`rnla.krylov._pcg`, as ``rnla.nystrom_pcg`` does):
no restart, so no product to recompute the residual and no Krylov information lost. Before,
the probe stopped and the finish started again from its iterate (sparse tall ridge 200000×20000:
13 iterations and 15 products for 12 and 13). Cholesky leaves the iteration.
"""

from __future__ import annotations

from rnla.krylov import _check_tolerances, _pcg, _prepare, _sketch_for
from rnla.nystrom import NystromPreconditioner

from . import _dispatch


class UseCholesky(Exception):
    """Raised out of the CG run when the cost model's finish is the direct solve."""

    def __init__(self, decision):
        super().__init__(decision.reason)
        self.decision = decision


class _Hook:
    """The probe protocol of :func:`rnla.krylov._pcg`: stop at the probe's end, then ``switch``."""

    def __init__(self, choose):
        self.choose = choose
        self.rnorms = []
        self.switched_at = None

    def reset(self):
        self.rnorms = []

    def step(self, inv_alpha, rnorm):
        self.rnorms.append(rnorm)

    def stop(self, iterations, rnorm, tol):
        if iterations < _dispatch.PROBE_ITERATIONS:
            return False
        self.rnorms.append(rnorm)
        self.tol = tol
        return True

    def switch(self, iterations):
        self.switched_at = iterations
        return self.choose(self.rnorms, self.tol)


def probe_and_finish(H, b, mu, x0, tol, maxiter, callback, *, shape, n_penalties, rank, rng):
    """Solve ``(H + mu I) x = b`` by the probe and the cost model's finish.

    Returns ``(x, info, result, decision)``, ``decision.solver`` one of ``'cg'`` (also when CG
    converged within the probe) or ``'nystrom_pcg'``; raises :class:`UseCholesky` for the direct
    solve.
    """
    op, b, x0, xp, dtype = _prepare(H, b, x0)
    rtol, atol, maxiter = _check_tolerances(tol, 0.0, maxiter, op.shape[0], callback)
    chosen = {}

    def choose(rnorms, tol_scaled):
        rate = _dispatch.rate_of(rnorms)
        remaining = _dispatch.iterations_to(rate, tol_scaled / rnorms[-1]) if rnorms[-1] > 0 else 0.0
        left = maxiter - _dispatch.PROBE_ITERATIONS
        decision = _dispatch.ridge_after_probe(shape, [remaining], n_penalties, max(1, left))
        chosen["decision"] = decision
        if decision.solver == "cholesky":
            raise UseCholesky(decision)
        if decision.solver != "nystrom_pcg" or mu == 0:
            # mu = 0: plain CG from the probe's iterate keeps to the minimum-norm solution of a
            # singular consistent system, which a preconditioner would spoil.
            decision.solver = "cg"
            return None
        approx = _sketch_for(op, mu, rank, None, xp, dtype, b, rng, "gaussian")
        chosen["approx"] = approx
        P = NystromPreconditioner(approx, mu)
        chosen["preconditioner"] = P
        return P.as_operator() if approx.rank > 0 else None

    hook = _Hook(choose)
    x, info, result = _pcg(op, b, x0, xp, dtype, rtol, atol, maxiter, None, callback, shift=mu, probe=hook)
    result.rank, result.sketch_matvecs = 0, 0
    decision = chosen.get("decision")
    if decision is None:
        decision = _dispatch.Decision("cg", {}, f"plain CG converged within the "
                                      f"{_dispatch.PROBE_ITERATIONS}-iteration probe")
    if "approx" in chosen:
        approx = chosen["approx"]
        result.rank, result.sketch_matvecs = approx.rank, approx.sketch_size
        result.matvecs += approx.sketch_size
        result.preconditioner = chosen["preconditioner"]
        result.probe_iterations = hook.switched_at
        if approx.rank == 0:
            decision.reason += "; the sketch found a flat spectrum: plain CG went on"
    return x, int(info), result, decision
