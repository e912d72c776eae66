"""Inducing-point (FALKON) kernel ridge: PCG on the ``M × M`` system of ``M`` centres.

Rudi, Carratino and Rosasco, "FALKON: An Optimal Large Scale Kernel Method", NeurIPS 2017.
With ``f = Σ_j β_j k(·, c_j)`` over ``M`` centres ``c_j`` (training points sampled uniformly),
``KernelRidge``'s objective ``Σ_i w_i (y_i − f(x_i))² + alpha ‖f‖²`` becomes

    (K_nMᵀ W K_nM + alpha K_MM) β = K_nMᵀ W y,

FALKON's ``λ n`` being ``alpha`` here. It is solved by :func:`rnla.pcg` preconditioned by
``H ≈ (n_w / M) K_MM² + alpha K_MM = L_T (n_w/M · L_Tᵀ L_T + alpha I) L_Tᵀ``, inverted through the
Cholesky factors ``L_T`` of ``K_MM`` and ``L_A`` of ``n_w/M · L_Tᵀ L_T + alpha I`` (``n_w`` the
total weight). ``K_nM`` is applied in row blocks, held only when it fits the memory budget.
"""

from __future__ import annotations

import numpy as np

from rnla import _backend
from rnla.krylov import pcg
from rnla.operators import Operator

from ._kernel_ops import BLOCK_ENTRIES, form_rows

#: Cholesky jitter of ``K_MM``, in units of ``M · eps · max diag K_MM`` (FALKON's ``eps · M``),
#: grown tenfold up to ``JITTER_TRIES`` times when the factorization fails.
JITTER_TRIES = 4


def default_centres(n: int) -> int:
    """Centres for ``n_components='auto'``: ``min(n, max(256, ⌈4 √n⌉))`` (FALKON needs about ``√n``).

    Examples
    --------
    >>> default_centres(100), default_centres(200000)
    (100, 1789)
    """
    return min(n, max(256, int(np.ceil(4 * np.sqrt(n)))))


class _CrossProducts:
    """``K_nMᵀ W K_nM V`` and ``K_nMᵀ W B`` by row blocks of ``K_nM = k(X, C)`` (held when it fits)."""

    def __init__(self, kernel, X, C, w, xp, *, hold, block, columns=None):
        self.kernel, self.X, self.C, self.w, self.xp, self.block = kernel, X, C, w, xp, block
        self.columns = columns  # precomputed kernel: K_nM = X[:, columns]
        self.K = None
        if hold:
            if columns is None:
                self.K = form_rows(kernel, X, C, block, xp)
            else:
                self.K = self._rows(slice(0, X.shape[0]))
        self.passes = 0

    def _rows(self, rows):
        A = self.X[rows.start:rows.stop, ...]
        if self.columns is not None:
            A = A.toarray() if _backend.is_sparse(A) else A
            return self.xp.take(A, self.columns, axis=1)
        return self.kernel(A, self.C)

    def _blocks(self):
        n = self.X.shape[0]
        if self.K is not None:
            yield slice(0, n), self.K
            return
        self.passes += 1
        for start in range(0, n, self.block):
            rows = slice(start, min(start + self.block, n))
            yield rows, self._rows(rows)

    def gram(self, V):
        out = None
        for rows, Kb in self._blocks():
            T = Kb @ V
            if self.w is not None:
                T = T * (self.w[rows] if T.ndim == 1 else self.w[rows][:, None])
            part = _backend.transpose_matmul(Kb, T)
            out = part if out is None else out + part
        return out

    def rhs(self, B):
        out = None
        for rows, Kb in self._blocks():
            Bb = B[rows, ...]
            if self.w is not None:
                Bb = Bb * self.w[rows][:, None]
            part = _backend.transpose_matmul(Kb, Bb)
            out = part if out is None else out + part
        return out


def _jittered_cholesky(xp, Kmm):
    m = Kmm.shape[0]
    eps = float(xp.finfo(Kmm.dtype).eps)
    scale = max(_backend.to_float(xp.max(xp.abs(xp.linalg.diagonal(Kmm)))), float(xp.finfo(Kmm.dtype).tiny))
    eye = xp.eye(m, dtype=Kmm.dtype, device=_backend.device_of(Kmm))
    jitter = m * eps * scale
    for _ in range(JITTER_TRIES):
        try:
            return _backend.cholesky(xp, Kmm + jitter * eye)
        except np.linalg.LinAlgError:
            jitter *= 10.0
    raise ValueError("the kernel matrix of the centres is not positive semidefinite (its Cholesky "
                     "factorization fails even with a jitter of "
                     f"{jitter / 10:.2g}): the inducing-point solver needs a positive semidefinite kernel")


def _preconditioner(xp, L_T, alpha, n_weight, device):
    """``v ↦ L_T⁻ᵀ L_A⁻ᵀ L_A⁻¹ L_T⁻¹ v``, the inverse of FALKON's approximation of the system."""
    m = L_T.shape[0]
    Lt = xp.permute_dims(L_T, (1, 0))
    eye = xp.eye(m, dtype=L_T.dtype, device=device)
    L_A = _backend.cholesky(xp, (n_weight / m) * (Lt @ L_T) + alpha * eye)

    # W = L_A⁻¹ L_T⁻¹ once (two triangular solves with m right-hand sides), so that a CG
    # iteration applies Wᵀ W v with two products in the array library's BLAS: four triangular
    # solves per iteration ran on SciPy's OpenBLAS with NumPy data, whose threads then spin
    # against NumPy's kernel products.
    W = _backend.solve_triangular(xp, L_A, _backend.solve_triangular(xp, L_T, eye, lower=True), lower=True)
    Wt = xp.permute_dims(W, (1, 0))

    def apply(v):
        return Wt @ (W @ v)

    return Operator((m, m), apply, matvec=apply, dtype=L_T.dtype, xp=xp, device=device)


def fit_inducing(kernel, X, B, sw, alphas, centres, *, precomputed, rng, rtol, maxiter, max_memory,
                 block, xp, device, callback):
    """Solve the FALKON system for every column of ``B``; returns ``(idx, beta, results, infos)``.

    ``idx`` are the (sorted) indices of the ``centres`` training points sampled uniformly,
    ``beta`` the ``M × n_targets`` coefficients of ``k(·, X[idx])``. ``block`` rows of ``K_nM``
    are computed at once when it is not held (``block='auto'``: ``BLOCK_ENTRIES`` entries).
    """
    n = X.shape[0]
    idx_host = np.sort(rng.choice(n, centres, replace=False))
    idx = _backend.from_numpy(xp, idx_host, device=device)
    itemsize = int(np.dtype(_backend._numpy_dtype(X.dtype)).itemsize)
    hold = n * centres * itemsize <= max_memory
    block = max(1, min(n, BLOCK_ENTRIES // centres)) if block == "auto" else block
    if precomputed:
        rows = _backend.take_rows(xp, X, idx)
        rows = xp.asarray(rows.toarray()) if _backend.is_sparse(rows) else rows
        Kmm = xp.take(rows, idx, axis=1)
        C = None
        products = _CrossProducts(None, X, None, sw, xp, hold=hold, block=block, columns=idx)
    else:
        C = _backend.take_rows(xp, X, idx)
        Kmm = kernel(C, C)
        products = _CrossProducts(kernel, X, C, sw, xp, hold=hold, block=block)
    Kmm = 0.5 * (Kmm + xp.permute_dims(Kmm, (1, 0)))
    L_T = _jittered_cholesky(xp, Kmm)
    n_weight = float(n) if sw is None else _backend.to_float(xp.sum(sw))
    R = products.rhs(B)
    columns, results, infos = [], [], []
    for j, alpha in enumerate(alphas):
        H = Operator((centres, centres), lambda v, a=alpha: products.gram(v) + a * (Kmm @ v),
                     dtype=Kmm.dtype, xp=xp, device=device)
        P = _preconditioner(xp, L_T, alpha, max(n_weight, float(xp.finfo(Kmm.dtype).tiny)), device)
        beta, info, res = pcg(H, R[:, j], None, rtol=rtol, maxiter=maxiter, M=P, callback=callback,
                              full_output=True)
        res.rank, res.sketch_matvecs = centres, 0
        columns.append(beta)
        results.append(res)
        infos.append(info)
    return idx, C, xp.stack(columns, axis=1), results, infos, hold


def scatter_rows(xp, full, idx, rows):
    """``full`` with ``full[idx] = rows`` (NumPy/CuPy in place; other namespaces via the host)."""
    if isinstance(full, np.ndarray) or _backend.is_cupy_namespace(xp):
        full[idx, ...] = rows
        return full
    host = _backend.to_numpy(full).copy()
    host[_backend.to_numpy(idx)] = _backend.to_numpy(rows)
    return _backend.from_numpy(xp, host, device=_backend.device_of(full))
