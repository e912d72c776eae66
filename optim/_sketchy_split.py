"""The sparse fast path of SketchySGD, SketchySVRG and SketchySAGA: one epoch on a split, lazy iterate.

With ``P⁻¹ = I/ρ + U D Uᵀ``, a step ``w ← w − η P⁻¹(u + a + reg·w)`` (``u`` the dense part of the
direction: SVRG's snapshot gradient or SAGA's table mean; ``a = A_Bᵀδ/b`` the batch's part) splits
``w = v + U c`` into ``v ← (1 − ηreg/ρ) v − (η/ρ)(u + a)`` and ``c ← (1 − ηreg/ρ) c − η D Uᵀ(dir)``,
where ``Uᵀ(dir)`` comes from r-vectors kept up to date (``Uᵀv``, ``Uᵀu``, and ``Uᵀa = (A_B U)ᵀδ/b``).

The dense part is kept lazily, so that a step costs O(stored entries of the batch + rank · batch)
and never O(dim)::

    v_coef = s·v̂ + α·û + γ·x_offset        v_last = s·v̂_last + α·û_last    (intercept)
    u_coef = û + β·x_offset                 u_last = û_last

The L2 decay multiplies the scalars ``s, α, γ``; ``−(η/ρ)u`` moves ``α`` and ``γ``; the batch's part
``a`` is a scatter-add onto the batch's columns of ``v̂`` (its ``x_offset`` part moves ``γ``); SAGA's
table mean moves by ``a·b/n``, a scatter-add onto ``û`` whose effect on ``v`` is taken back out of
``v̂`` in the same scatter. ``s`` is folded into ``v̂`` when it falls below :data:`RESCALE_BELOW`
(as scikit-learn's SAG does). The margins ``A_B w`` come from one sparse-times-dense product
``X_B [U_d | v̂ | û | x_offset]`` and the scalars ``x_offsetᵀv̂``, ``x_offsetᵀû`` (kept up to date from
the same product). The iterates are those of the plain steps up to rounding.
"""

from __future__ import annotations

import array_api_compat
import numpy as np

from rnla import _backend

from .glm import _GLM, GLMBatch

__all__ = ["split_epoch", "uses_split"]

#: Batches gathered per sparse row-gather: the permuted rows of ``CHUNK_BATCHES`` batches are
#: copied at once (few gathers, memory bounded by the chunk, not by the data).
CHUNK_BATCHES = 32

#: The lazy scale ``s`` of ``v̂`` is folded into ``v̂`` when it drops below this.
RESCALE_BELOW = 1e-9


def uses_split(problem, xp, batch_size):
    """Whether the split epoch applies: a binary GLM on sparse data (NumPy/SciPy or CuPy) whose
    minibatches hold fewer stored entries than the problem has parameters."""
    binary_glm = isinstance(problem, _GLM) and type(problem)._batch_type is GLMBatch
    if not (binary_glm and _backend.is_sparse(problem.X)):
        return False
    if not (array_api_compat.is_numpy_namespace(xp) or _backend.is_cupy_namespace(xp)):
        return False
    return batch_size * problem.X.nnz <= problem.dim * problem.n_samples  # entries per batch <= dim


def _scatter_add(xp, target, indices, values):
    """``target[indices] += values`` with repeated indices accumulated, in place."""
    if _backend.is_cupy_namespace(xp):
        import cupyx

        cupyx.scatter_add(target, indices, values)
    else:
        np.add.at(target, indices, values)


def _batches(problem, xp, perm, batch_size):
    """The epoch's batches in the order of ``perm``: ``(idx, X_B, row of each stored entry, y_B, sw_B)``.

    The rows of :data:`CHUNK_BATCHES` batches are gathered by one sparse row-gather; each batch is
    then a contiguous block of it (a CSR matrix on slices, no copy).
    """
    X, y, sw = problem.X, problem.y, problem.sample_weight
    d, n = problem.n_features, perm.shape[0]
    step = CHUNK_BATCHES * batch_size
    for c0 in range(0, n, step):
        cidx = perm[c0: c0 + step]
        Xc = _backend.take_rows(xp, X, cidx)
        indptr = Xc.indptr
        bounds = _backend.to_numpy(indptr)  # host offsets of the rows, once per chunk
        rows = _entry_rows(xp, indptr, bounds)
        yc = xp.take(y, cidx, axis=0)
        swc = None if sw is None else xp.take(sw, cidx, axis=0)
        m = int(cidx.shape[0])
        for s in range(0, m, batch_size):
            e = min(s + batch_size, m)
            p0, p1 = int(bounds[s]), int(bounds[e])
            Xb = type(Xc)((Xc.data[p0:p1], Xc.indices[p0:p1], indptr[s: e + 1] - p0), shape=(e - s, d))
            yield (cidx[s:e], Xb, rows[p0:p1] - s, yc[s:e], None if swc is None else swc[s:e])


def _entry_rows(xp, indptr, bounds):
    """The row of each stored entry of a CSR matrix with row offsets ``indptr`` (``bounds`` on the host)."""
    if array_api_compat.is_numpy_namespace(xp):
        return np.repeat(np.arange(bounds.shape[0] - 1, dtype=indptr.dtype), np.diff(bounds))
    entries = xp.arange(int(bounds[-1]), dtype=indptr.dtype, device=_backend.device_of(indptr))
    return xp.searchsorted(indptr, entries, side="right") - 1


def split_epoch(ctx, w, u=None, table=None, r_ref=None):
    """One epoch of SGD (``u`` None), SVRG (``u`` fixed, ``r_ref`` the snapshot's per-sample
    residuals) or SAGA (``u`` the table mean, updated in place, and ``table``); returns
    ``(w, table)``."""
    problem, xp, P = ctx.problem, ctx.xp, ctx.precond
    lr, reg, rho, inv_n = ctx.lr, problem.reg, P.rho, 1.0 / ctx.n
    U, D = P.U, P._inv
    intercept, d, xo = problem.fit_intercept, problem.n_features, problem.x_offset
    dtype, device = w.dtype, _backend.device_of(w)
    saga = table is not None
    r = U.shape[1]
    Ud = U[:d, :] if intercept else U
    shift = U[d, :] if intercept else None  # A U = X U_d − 1 (x_offsetᵀ U_d) + 1 U_last
    if xo is not None:
        shift = -(xo @ Ud) if shift is None else shift - xo @ Ud
    # The columns of M: U_d, v̂, then û (SVRG, SAGA) and x_offset (centring) where they are used.
    iv = r
    iu = r + 1 if u is not None else None
    io = r + 1 + (u is not None) if xo is not None else None
    M = xp.empty((d, r + 1 + (u is not None) + (xo is not None)), dtype=dtype, device=device)
    M[:, :r] = Ud
    M[:, iv] = w[:d]
    if iu is not None:
        M[:, iu] = u[:d]
    if io is not None:
        M[:, io] = xo
    theta = xp.zeros(M.shape[1], dtype=dtype, device=device)  # the margins are (X_B M) θ + const
    s, alpha, gamma, beta = 1.0, 0.0, 0.0, 0.0
    v_last = w[d] if intercept else None  # v̂_last (0-d)
    u_last = u[d] if intercept and u is not None else None
    q_o = xo @ xo if xo is not None else None  # x_offsetᵀ x_offset, x_offsetᵀ v̂, x_offsetᵀ û
    q_v = xo @ M[:, iv] if xo is not None else None
    q_u = xo @ M[:, iu] if xo is not None and iu is not None else None
    decay, k = 1.0 - lr * reg / rho, lr / rho
    c = xp.zeros_like(D)
    Utv = U.T @ w
    Utu = None if u is None else U.T @ u
    perm = _backend.permutation(xp, ctx.n, device=ctx.device, random_state=ctx.rng)
    for idx, Xb, rows, yb, swb in _batches(problem, xp, perm, ctx.batch_size):
        Z = Xb @ M
        theta[:r] = c
        theta[iv] = s
        if iu is not None:
            theta[iu] = alpha
        if io is not None:
            theta[io] = gamma
        z = Z @ theta
        if shift is not None:
            z = z + shift @ c
        if xo is not None:  # − x_offsetᵀ v_coef
            z = z - (s * q_v + gamma * q_o + (alpha * q_u if q_u is not None else 0.0))
        w_last = None
        if intercept:
            vl = s * v_last + alpha * u_last if u_last is not None else s * v_last
            z = z + vl
            w_last = vl + U[-1, :] @ c
        res = GLMBatch.weighted(problem.dloss(z, yb), swb)
        if saga:
            delta = res - xp.take(table, idx, axis=0)
            table = _backend.set_items(xp, table, idx, res)
        else:
            delta = res if r_ref is None else res - xp.take(r_ref, idx, axis=0)
        inv_b = 1.0 / int(idx.shape[0])
        Zt_delta = Z.T @ delta
        sum_delta = xp.sum(delta) if (intercept or xo is not None) else None
        Ut_aux = Zt_delta[:r] if shift is None else Zt_delta[:r] + shift * sum_delta
        Ut_step = Ut_aux * inv_b if Utu is None else Utu + Ut_aux * inv_b  # Uᵀ(u + a)
        Ut_dir = Ut_step + reg * (Utv + c) if reg else Ut_step
        if intercept and reg:  # the intercept is not penalised: take reg·w_last off the direction
            Ut_dir = Ut_dir - (reg * w_last) * U[-1, :]
        c = decay * c - lr * (D * Ut_dir)
        Utv = decay * Utv - k * Ut_step
        # v ← decay·v − k·u − (k/b)·aux, with aux = (X_Bᵀδ − x_offset·Σδ, Σδ), lazily.
        s, alpha, gamma = decay * s, decay * alpha, decay * gamma
        if u is not None:
            alpha -= k
            if saga and xo is not None:
                gamma = gamma - k * beta
        coef = -k * inv_b
        if saga:  # u moves by aux/n below; take its effect on v (α·Δû) back out of v̂ here
            coef -= alpha * inv_n
        values = Xb.data * xp.take(delta, rows, axis=0)  # X_Bᵀδ entry by entry
        _scatter_add(xp, M[:, iv], Xb.indices, values * (coef / s))
        if xo is not None:
            xo_aux = Zt_delta[io]  # x_offsetᵀ X_Bᵀδ
            q_v = q_v + (coef / s) * xo_aux
            gamma = gamma + (k * inv_b) * sum_delta
        if intercept:
            v_last = v_last + (coef / s) * sum_delta
            if reg:
                v_last = v_last + (k * reg / s) * w_last
                Utv = Utv + (k * reg * w_last) * U[-1, :]
        if saga:  # the table mean moves by aux/n
            _scatter_add(xp, M[:, iu], Xb.indices, values * inv_n)
            if xo is not None:
                q_u = q_u + inv_n * xo_aux
                beta = beta - inv_n * sum_delta
            if intercept:
                u_last = u_last + inv_n * sum_delta
            Utu = Utu + Ut_aux * inv_n
        if s < RESCALE_BELOW:
            s = _rescale(M, iv, s)
            v_last = v_last * s if intercept else None
            q_v = q_v * s if xo is not None else None
            s = 1.0
    return _assemble(xp, M, U, c, (s, alpha, gamma, beta), (iv, iu, io), xo, v_last, u_last, u, saga), table


def _rescale(M, iv, s):
    """Fold the scale ``s`` into ``v̂`` (``M[:, iv]``); returns ``s``, the factor the scalars tied
    to ``v̂`` are multiplied by."""
    M[:, iv] *= s
    return s


def _assemble(xp, M, U, c, scalars, columns, xo, v_last, u_last, u, saga):
    """``w = v + U c`` from the lazy form; SAGA's mean ``u`` is written back in place."""
    s, alpha, gamma, beta = scalars
    iv, iu, io = columns
    v = s * M[:, iv]
    if iu is not None:
        v = v + alpha * M[:, iu]
    if io is not None:
        v = v + gamma * M[:, io]
    if v_last is not None:
        vl = s * v_last + alpha * u_last if u_last is not None else s * v_last
        v = xp.concat([v, xp.reshape(vl, (1,))])
    if saga:
        d = M.shape[0]
        u[:d] = M[:, iu] + beta * M[:, io] if io is not None else M[:, iu]
        if u_last is not None:
            u[d] = u_last
    return v + U @ c
