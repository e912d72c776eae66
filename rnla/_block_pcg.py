"""Blocked CG for several right-hand sides (and shifts) at once: the iteration behind a 2-D ``b``
in :func:`rnla.pcg` and :func:`rnla.nystrom_pcg`.

Every column runs the recursion of :func:`rnla.krylov._pcg` with its own scalars (vectorized on
the host: one transfer of ``k`` values per reduction), its own stopping rule, true-residual check,
restart and stagnation test; the columns share one block product with ``A`` and one
preconditioner application per iteration. A column whose recursion says converged sends its
iterate ``x`` instead of its direction through that same block product (the true-residual check
costs no extra product call); finished columns leave the block (it is compacted, so the products
shrink with the columns still running).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import _backend
from ._validation import check_bool, check_finite_array, check_nonnegative, check_real_product, is_real_dtype
from .krylov import _MESSAGES, SolveResult, _check_real_dtype
from .operators import as_operator

__all__ = ["BlockSolveResult"]


@dataclass
class BlockSolveResult:
    """Details of a blocked CG solve (a 2-D ``b``), returned third with ``full_output=True``.

    Attributes
    ----------
    info : (k,) int ndarray
        Per column, as :attr:`SolveResult.info` (0 converged).
    columns : list of SolveResult
        One per column: its iterations, product count, residual history, preconditioner.
    block_products : int
        Calls of ``A``'s block product (one per iteration of the block, one for ``x0``; the
        true-residual checks ride in the iteration's product).
    matvecs : int
        Columns multiplied by ``A`` in total, the shared sketch counted once.
    rank : int or None
        Rank of the shared Nyström approximation (``None`` for :func:`rnla.pcg`).
    sketch_matvecs : int
        Products with ``A`` spent on the shared sketch.

    Examples
    --------
    >>> import numpy as np
    >>> from rnla import pcg
    >>> A = np.array([[4.0, 1.0], [1.0, 3.0]])
    >>> X, info, res = pcg(A, np.eye(2), rtol=1e-12, full_output=True)
    >>> info.tolist(), res.iterations.tolist(), bool(np.allclose(A @ X, np.eye(2)))
    ([0, 0], [2, 2], True)
    """

    info: np.ndarray
    columns: list = field(default_factory=list)
    block_products: int = 0
    matvecs: int = 0
    rank: int | None = None
    sketch_matvecs: int = 0

    @property
    def iterations(self) -> np.ndarray:
        """CG iterations of each column."""
        return np.asarray([c.iterations for c in self.columns], dtype=int)

    @property
    def residual_norms(self) -> list:
        """Residual history of each column (see :attr:`SolveResult.residual_norms`)."""
        return [c.residual_norms for c in self.columns]

    @property
    def converged(self) -> bool:
        """Whether every column converged."""
        return bool(np.all(self.info == 0))


def check_shifts(mu, k: int) -> np.ndarray:
    """``mu`` (a number, or one value per column) as a float64 host array of ``k`` values ``>= 0``."""
    if not isinstance(mu, list | tuple) and getattr(mu, "ndim", 0) == 0:
        return np.full(k, check_nonnegative(mu, "mu"))
    values = np.asarray(_backend.to_numpy(mu)) if hasattr(mu, "ndim") else np.asarray(mu, dtype=object)
    if values.ndim != 1 or values.shape[0] != k:
        raise ValueError(f"mu must be a number or have one value per column of b ({k}), "
                         f"got shape {tuple(values.shape)}")
    return np.asarray([check_nonnegative(v, "mu") for v in values.tolist()], dtype=float)


def prepare_block(A, B, x0, name_b="b"):
    """Validate a 2-D right-hand side: returns ``op, B, x0, xp, dtype`` (``x0``: array, None, 'Mb')."""
    _check_real_dtype(A, "A")
    op = as_operator(A, symmetric=True)
    n = op.shape[0]
    if isinstance(x0, str) and x0 != "Mb":
        raise ValueError(f"x0 must be an array, None or 'Mb', got {x0!r}")
    if x0 is not None and not isinstance(x0, str) and getattr(x0, "ndim", None) is None:
        raise TypeError(f"x0 must be an array, got {type(x0).__name__}")
    xp = _backend.array_namespace(B)
    if op.xp is not None and op.xp is not xp:
        raise TypeError(f"{name_b} is a {xp.__name__} array but A is a {op.xp.__name__} operator: "
                        "put both on the same backend")
    if not is_real_dtype(xp, B.dtype):
        raise ValueError(f"{name_b} must hold real numbers, got dtype {B.dtype}")
    if B.shape[0] != n:
        raise ValueError(f"{name_b} must have shape ({n},) or ({n}, k) to match A of shape {op.shape}, "
                         f"got {tuple(B.shape)}")
    k = B.shape[1]
    if k == 0:
        raise ValueError(f"{name_b} must have at least one column, got shape {tuple(B.shape)}")
    real = B.dtype if xp.isdtype(B.dtype, "real floating") else xp.float64
    dtype = _backend.float_dtype(xp, op.dtype, real)
    B = xp.astype(B, dtype)
    check_finite_array(xp, B, name_b)
    if x0 is not None and not isinstance(x0, str):
        if not is_real_dtype(xp, x0.dtype):
            raise ValueError(f"x0 must hold real numbers, got dtype {x0.dtype}")
        if tuple(x0.shape) != (n, k):
            raise ValueError(f"x0 must have shape ({n}, {k}) like {name_b}, got {tuple(x0.shape)}")
        x0 = xp.astype(xp.asarray(x0), dtype, copy=True)
        check_finite_array(xp, x0, "x0")
    return op, B, x0, xp, dtype


def _host(xp, *values):
    """Device arrays of equal shape as one float64 host array (one transfer)."""
    out = values[0][None, ...] if len(values) == 1 else xp.stack(values)
    return np.asarray(_backend.to_numpy(out), dtype=np.float64)


def _col_dots(xp, U, V, safe_min, same=False):
    """``uⱼᵀvⱼ`` for every column as ``(d, m_u, m_v)`` with ``uⱼᵀvⱼ = d·m_u·m_v`` (host arrays).

    The column-wise version of :func:`rnla.krylov._dot`: the plain sums first; the columns
    whose sum is tiny, huge or not finite are recomputed from max-scaled columns.
    """
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        (d,) = _host(xp, xp.sum(U * V, axis=0))
        ones = np.ones_like(d)
        ok = np.isfinite(d) & (np.abs(d) >= safe_min)
        if ok.all():
            return d, ones, ones
        m_u = xp.max(xp.abs(U), axis=0)
        W_u = U / xp.where(m_u > 0, m_u, xp.ones_like(m_u))
        if same:
            d2, mu_ = _host(xp, xp.sum(W_u * W_u, axis=0), m_u)
            mv_ = mu_
        else:
            m_v = xp.max(xp.abs(V), axis=0)
            W_v = V / xp.where(m_v > 0, m_v, xp.ones_like(m_v))
            d2, mu_, mv_ = _host(xp, xp.sum(W_u * W_v, axis=0), m_u, m_v)
    return np.where(ok, d, d2), np.where(ok, ones, mu_), np.where(ok, ones, mv_)


def _norms(parts):
    d, m, _ = parts
    with np.errstate(invalid="ignore", over="ignore"):
        return np.where(d >= 0, np.sqrt(np.maximum(d, 0)) * m, np.nan)


def _finite(*arrays):
    with np.errstate(invalid="ignore"):
        return np.logical_and.reduce([np.isfinite(a) for a in arrays])


def block_pcg(op, B, X0, xp, dtype, rtol, atol, maxiter, callback, *, M=None, nystrom=None, shifts=None):
    """The blocked CG iteration on validated inputs: ``(X, info, columns, block_products)``.

    ``M`` is a preconditioner operator shared by all columns; ``nystrom = (U, S)`` instead
    applies column ``j``'s Nyström preconditioner ``V + U (S[:, j] ∘ (Uᵀ V))`` (a zero column
    of ``S``: the identity). ``shifts`` (host array, one per column) adds ``shifts[j]·I`` to
    ``op`` on column ``j``. ``columns`` are :class:`SolveResult` without the sketch.
    """
    n, k = B.shape
    device = _backend.device_of(B)
    finfo = xp.finfo(dtype)
    safe_min = float(finfo.smallest_normal) / float(finfo.eps)
    shifts = np.zeros(k) if shifts is None else np.asarray(shifts, dtype=float)
    checked = {"A": False, "M": False}
    block_products = 0

    def dev(values):
        return xp.asarray(np.asarray(values), dtype=dtype, device=device)

    def index(values):
        return xp.asarray(np.asarray(values, dtype=np.int64), device=device)

    def take(V, positions, m):
        if positions.shape[0] == m and np.array_equal(positions, np.arange(m)):
            return V
        return xp.take(V, index(positions), axis=1)

    def product(name, f, V):
        out = f(V)
        if not checked[name]:
            shape = tuple(getattr(out, "shape", ()) or ())
            if getattr(out, "shape", None) is None or shape != tuple(V.shape):
                raise ValueError(f"{name} returned an array of shape {shape} for a block of shape "
                                 f"{tuple(V.shape)}: its products must keep the shape")
            check_real_product(xp, out, name)
            checked[name] = True
        if out.dtype != dtype:
            out = xp.astype(out, dtype)
        return out

    def apply(V, cols):
        nonlocal block_products
        block_products += 1
        out = product("A", op.matmat, V)
        s = shifts[cols]
        return out + V * dev(s) if np.any(s != 0) else out

    if nystrom is not None:
        U, S = nystrom
        if U.shape[1] == 0:
            nystrom = None

    def precondition(R, cols):
        if M is not None:
            return product("M", M.matmat, R)
        if nystrom is None:
            return R
        s = take(S, cols, S.shape[1])
        return R + U @ (s * (U.T @ R))

    preconditioned = M is not None or nystrom is not None

    # Per-column host state.
    bnorm = _norms(_col_dots(xp, B, B, safe_min, same=True))
    history = [[] for _ in range(k)]
    iterations = np.zeros(k, dtype=int)
    matvecs = np.zeros(k, dtype=int)
    info = np.full(k, maxiter, dtype=int)
    stagnated = np.zeros(k, dtype=bool)
    r_exact = np.ones(k, dtype=bool)
    restart = np.ones(k, dtype=bool)  # no previous direction (start, or after a failed check)
    fresh = np.zeros(k, dtype=bool)  # the norm of r is already in the history (a failed check)
    failed_check = np.full(k, math.inf)
    prev_rz = np.ones((3, k))
    prev_rnorm = np.ones(k)
    finals = [None] * k  # the finished columns' solutions (unscaled, (n,) device arrays)
    zero = xp.zeros((n,), dtype=dtype, device=device)

    exponent = np.asarray([math.frexp(v)[1] if math.isfinite(v) and v > 0 else 0 for v in bnorm])
    limit = math.frexp(float(finfo.max))[1] // 4
    sigma = np.where(np.abs(exponent) > limit, np.ldexp(1.0, exponent), 1.0)
    tol = np.maximum(atol, rtol * bnorm) / sigma
    live = np.flatnonzero(bnorm != 0.0)
    for j in np.flatnonzero(bnorm == 0.0):
        info[j] = 0
        history[j].append(0.0)
        finals[j] = zero
    if live.shape[0] == 0:
        results = _results(info, history, iterations, matvecs, stagnated, maxiter, dtype, bnorm)
        return xp.stack(finals, axis=1), info, results, block_products
    cols = live
    Bs = take(B, cols, k)
    if np.any(sigma[cols] != 1.0):
        Bs = Bs / dev(sigma[cols])
    if X0 is None:
        X = xp.zeros_like(Bs)
        R = Bs
    else:
        if isinstance(X0, str):  # 'Mb'
            X = xp.asarray(precondition(Bs, cols) if preconditioned else Bs, copy=True)
        else:
            X = take(X0, cols, k)
            if np.any(sigma[cols] != 1.0):
                X = X / dev(sigma[cols])
        R = Bs - apply(X, cols)
        matvecs[cols] += 1
    D = xp.zeros_like(Bs)

    def finish(positions, Xblock):
        for p in positions:
            j = cols[p]
            x = Xblock[:, int(p)]
            finals[j] = x if sigma[j] == 1.0 else x * float(sigma[j])

    def unscaled_all():
        parts = []
        where = {int(j): p for p, j in enumerate(cols)}
        for j in range(k):
            if j in where:
                x = X[:, where[j]]
                parts.append(x if sigma[j] == 1.0 else x * float(sigma[j]))
            else:
                parts.append(finals[j])
        return xp.stack(parts, axis=1)

    while cols.shape[0]:
        m = cols.shape[0]
        rr = _col_dots(xp, R, R, safe_min, same=True)
        rnorm = _norms(rr)
        for p in np.flatnonzero(~fresh[cols]):
            history[cols[p]].append(float(rnorm[p] * sigma[cols[p]]))
        fresh[cols] = False
        bad = ~_finite(rnorm, *rr)
        conv = (rnorm < tol[cols]) | (rnorm == 0.0)
        done_conv = ~bad & conv & r_exact[cols]
        check = ~bad & conv & ~r_exact[cols]
        out_of_its = ~bad & ~conv & (iterations[cols] >= maxiter)
        info[cols[bad]] = -3
        info[cols[done_conv]] = 0
        go = np.flatnonzero(~(bad | done_conv | check | out_of_its))
        chk = np.flatnonzero(check)
        finish(np.flatnonzero(bad | done_conv | out_of_its), X)

        # The iterating columns: preconditioned residual, CG scalars, new directions.
        if go.shape[0]:
            gcols = cols[go]
            Rg = take(R, go, m)
            if preconditioned:
                Zg = precondition(Rg, gcols)
                rz = _col_dots(xp, Rg, Zg, safe_min)
            else:
                Zg = Rg
                rz = tuple(part[go] for part in rr)
            nonfinite = ~_finite(*rz)
            indefinite = ~nonfinite & ((rz[0] <= 0) | (rz[2] == 0))
            info[gcols[nonfinite]] = -3
            info[gcols[indefinite]] = -2
            stop = nonfinite | indefinite
            if stop.any():
                finish(go[stop], X)
                keep = np.flatnonzero(~stop)
                go, gcols = go[keep], gcols[keep]
                Rg, Zg = take(Rg, keep, keep.shape[0] + int(stop.sum())), take(Zg, keep, stop.shape[0])
                rz = tuple(part[keep] for part in rz)
        if go.shape[0] == 0 and chk.shape[0] == 0:
            break
        rn_go = rnorm[go]
        if go.shape[0]:
            with np.errstate(all="ignore"):
                p_rz = prev_rz[:, gcols]
                gamma = ((rz[0] / p_rz[0]) * (rz[1] / p_rz[1]) * (rz[2] / p_rz[2])
                         * (prev_rnorm[gcols] / rn_go))
            gamma = np.where(restart[gcols], 0.0, gamma)
            Dg = Zg / dev(rn_go)
            if not restart[gcols].all():
                Dg = Dg + dev(gamma) * take(D, go, m)
        # One block product: the directions of the iterating columns, the iterates to check.
        ccols = cols[chk]
        if go.shape[0] and chk.shape[0]:
            V = xp.concat([Dg, take(X, chk, m)], axis=1)
        elif go.shape[0]:
            V = Dg
        else:
            V = take(X, chk, m)
        AV = apply(V, np.concatenate([cols[go], ccols]))
        n_go = go.shape[0]
        matvecs[cols[go]] += 1
        matvecs[ccols] += 1
        new_X, new_R, new_D, new_B, new_cols = [], [], [], [], []

        if chk.shape[0]:
            Xc = take(X, chk, m)
            Bc = take(Bs, chk, m)
            Rc = Bc - (AV[:, n_go:] if n_go else AV)
            rrc = _col_dots(xp, Rc, Rc, safe_min, same=True)
            rnc = _norms(rrc)
            for p, j in enumerate(ccols):
                history[j][-1] = float(rnc[p] * sigma[j])
            badc = ~_finite(rnc, *rrc)
            passed = ~badc & ((rnc < tol[ccols]) | (rnc == 0.0))
            stag = ~badc & ~passed & (rnc > 0.5 * failed_check[ccols])
            info[ccols[badc]] = -3
            info[ccols[passed]] = 0
            stagnated[ccols[stag]] = True
            info[ccols[stag]] = np.maximum(iterations[ccols[stag]], 1)
            finish(chk[badc | passed | stag], X)
            again = np.flatnonzero(~(badc | passed | stag))
            if again.shape[0]:
                acols = ccols[again]
                failed_check[acols] = rnc[again]
                r_exact[acols] = True
                restart[acols] = True
                fresh[acols] = True
                new_X.append(take(Xc, again, chk.shape[0]))
                new_R.append(take(Rc, again, chk.shape[0]))
                new_D.append(xp.zeros((n, again.shape[0]), dtype=dtype, device=device))
                new_B.append(take(Bc, again, chk.shape[0]))
                new_cols.append(acols)

        if n_go:
            gcols = cols[go]
            Q = AV[:, :n_go] if chk.shape[0] else AV
            dq = _col_dots(xp, Dg, Q, safe_min)
            nonfinite = ~_finite(*dq)
            indefinite = ~nonfinite & ((dq[0] <= 0) | (dq[1] == 0) | (dq[2] == 0))
            with np.errstate(all="ignore"):
                alpha = (rz[0] / dq[0]) * (rz[1] / dq[1]) * (rz[2] / dq[2]) / rn_go
            alpha_bad = ~nonfinite & ~indefinite & ~np.isfinite(alpha)
            info[gcols[nonfinite | alpha_bad]] = -3
            info[gcols[indefinite]] = -1
            stop = nonfinite | indefinite | alpha_bad
            finish(go[stop], X)
            keep = np.flatnonzero(~stop)
            if keep.shape[0]:
                kcols = gcols[keep]
                Dk = take(Dg, keep, n_go)
                a = dev(alpha[keep])
                new_X.append(take(X, go[keep], m) + a * Dk)
                new_R.append(take(Rg, keep, n_go) - a * take(Q, keep, n_go))
                new_D.append(Dk)
                new_B.append(take(Bs, go[keep], m))
                new_cols.append(kcols)
                r_exact[kcols] = False
                restart[kcols] = False
                prev_rz[:, kcols] = np.stack([part[keep] for part in rz])
                prev_rnorm[kcols] = rn_go[keep]
                iterations[kcols] += 1
        if not new_cols:
            cols = np.zeros(0, dtype=int)
            break
        # The next block: the columns restarted after a failed check, then the iterating ones.
        X, R, D, Bs = (parts[0] if len(parts) == 1 else xp.concat(parts, axis=1)
                       for parts in (new_X, new_R, new_D, new_B))
        cols = new_cols[0] if len(new_cols) == 1 else np.concatenate(new_cols)
        if callback is not None and n_go:
            callback(unscaled_all())
    return (xp.stack(finals, axis=1), info,
            _results(info, history, iterations, matvecs, stagnated, maxiter, dtype, bnorm), block_products)


def _results(info, history, iterations, matvecs, stagnated, maxiter, dtype, bnorm):
    out = []
    for j in range(info.shape[0]):
        if stagnated[j]:
            r = history[j][-1]
            message = (f"stagnated after {iterations[j]} iterations: the true residual "
                       f"{r / bnorm[j]:.2g}·‖b‖ is at the rounding level of {dtype} and cannot "
                       "reach the tolerance; loosen rtol")
        else:
            message = _MESSAGES.get(int(info[j]), f"not converged within maxiter={maxiter} iterations")
        out.append(SolveResult(int(info[j]), message, int(iterations[j]), int(matvecs[j]), history[j],
                               stagnated=bool(stagnated[j])))
    return out


def nystrom_pcg_block(A, b, mu, *, rank, x0, rtol, atol, maxiter, callback, random_state, full_output,
                      max_rank, sketch, zero_shift="nystrom"):
    """:func:`rnla.nystrom_pcg` for a 2-D ``b``: one sketch, one preconditioner per distinct shift.

    The sketch is adapted to the smallest positive shift. Columns with ``mu[j] = 0`` run plain
    CG (the identity preconditioner) when some shift is positive; when every shift is 0 they
    are all preconditioned as the 1-D solver does with ``mu = 0``, unless
    ``zero_shift='plain'`` (no sketch at all: plain CG on every column).
    """
    from .krylov import _check_tolerances, _sketch_for
    from .nystrom import NystromPreconditioner

    op, B, x0, xp, dtype = prepare_block(A, b, x0)
    k = B.shape[1]
    mus = check_shifts(mu, k)
    rtol, atol, maxiter = _check_tolerances(rtol, atol, maxiter, op.shape[0], callback)
    full_output = check_bool(full_output, "full_output")
    positive = mus[mus > 0]
    approx = None
    if positive.shape[0] or zero_shift == "nystrom":
        mu_sketch = float(positive.min()) if positive.shape[0] else 0.0
        approx = _sketch_for(op, mu_sketch, rank, max_rank, xp, dtype, B, random_state, sketch)
    preconditioners = [None] * k
    nystrom = None
    if approx is not None:
        by_mu = {}
        for j, m in enumerate(mus.tolist()):
            if m > 0 or not positive.shape[0]:
                if m not in by_mu:
                    by_mu[m] = NystromPreconditioner(approx, m)
                preconditioners[j] = by_mu[m]
        U = next(iter(by_mu.values())).U  # the same for every positive shift (mu = 0 alone truncates)
        r = U.shape[1]
        zeros = xp.zeros((r,), dtype=dtype, device=_backend.device_of(B))
        S = xp.stack([zeros if P is None else xp.astype(P._scale_minus_one, dtype) for P in preconditioners],
                     axis=1)
        nystrom = (U, S)
    X, info, columns, products = block_pcg(op, B, x0, xp, dtype, rtol, atol, maxiter, callback,
                                           nystrom=nystrom, shifts=mus)
    for c, P in zip(columns, preconditioners, strict=True):
        c.preconditioner = P
        c.rank = 0 if P is None else P.rank
        c.sketch_matvecs = 0 if P is None else approx.sketch_size
        c.matvecs += c.sketch_matvecs
    sketch_products = 0 if approx is None else approx.sketch_size
    result = BlockSolveResult(info, columns, products, sum(c.matvecs - c.sketch_matvecs for c in columns)
                              + sketch_products, rank=None if approx is None else approx.rank,
                              sketch_matvecs=sketch_products)
    return (X, info, result) if full_output else (X, info)
