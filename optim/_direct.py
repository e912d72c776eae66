"""Direct and quasi-Newton solvers of the linear estimators: Cholesky ridge, Newton-Cholesky, L-BFGS.

These are the solvers a user would otherwise get from :class:`sklearn.linear_model.Ridge`
(``solver='cholesky'``) and :class:`sklearn.linear_model.LogisticRegression`
(``'newton-cholesky'``, ``'lbfgs'``), run on exactly the objectives the sketched solvers
minimise, so that :mod:`optim._dispatch` can pick whichever is cheapest.

- :func:`ridge_direct`: the ``d × d`` normal equations ``(X_cᵀ S X_c / Σs + μ I) w = X_cᵀ S r / Σs``
  (``X_c`` the weighted-centred data, centred exactly block by block for dense ``X``), or the
  ``n × n`` dual ``(X̃ X̃ᵀ + alpha I) a = S^{1/2} r``, ``w = X̃ᵀ a`` with ``X̃ = S^{1/2} X_c`` when
  ``d > n``. Cholesky; ``mu = 0`` (or a matrix Cholesky rejects) gives the minimum-norm
  solution from a symmetric eigendecomposition (eigenvalues below ``dim · eps · λ_max`` dropped).
- :func:`newton_cholesky`: Newton's method with the exact Hessian ``AᵀDA/n + reg`` formed each
  iteration and factorised by Cholesky, Armijo backtracking (as scikit-learn's newton-cholesky).
- :func:`lbfgs`: :func:`scipy.optimize.minimize` with ``method='L-BFGS-B'`` on the objective's
  value and gradient (NumPy only: SciPy's optimiser runs on the host).
"""

from __future__ import annotations

import math
import time

import array_api_compat
import numpy as np
import scipy.linalg
import scipy.optimize
from scipy.optimize import OptimizeResult

from rnla import _backend

__all__ = ["lbfgs", "newton_cholesky", "ridge_direct"]

#: Dense rows are centred and multiplied in blocks of at most this many entries (32 MiB in
#: float64) and a sixteenth of the rows.
BLOCK_ENTRIES = 2**22
#: Armijo constant and backtracking of Newton-Cholesky (scikit-learn uses the same 1e-4 / halving).
ARMIJO_C = 1e-4
MAX_BACKTRACKS = 40


def _is_numpy(xp) -> bool:
    return array_api_compat.is_numpy_namespace(xp)


def centered_gram(X, weights, offset, xp):
    """``(X − 1 offᵀ)ᵀ diag(weights) (X − 1 offᵀ)`` (``offset=None``: no centring), dense ``(d, d)``.

    Dense ``X`` is centred exactly, a block of rows at a time (no full copy); sparse ``X`` uses
    the uncentred sparse product less the rank-one terms (the sparse data stays sparse).
    ``weights=None`` means unit weights.
    """
    n, d = X.shape
    if _backend.is_sparse(X):
        WX = X if weights is None else X.multiply(_backend.to_numpy(weights)[:, None]).tocsr()
        G = (X.T @ WX).toarray()
        G = xp.asarray(G, dtype=X.dtype)
        if offset is not None:
            q = _backend.transpose_matmul(X, weights if weights is not None
                                          else xp.ones(n, dtype=X.dtype))
            total = xp.sum(weights) if weights is not None else float(n)
            G = G - offset[:, None] * q[None, :] - q[:, None] * offset[None, :] \
                + total * (offset[:, None] * offset[None, :])
        return G
    # Blocks of at most BLOCK_ENTRIES entries and a sixteenth of the rows: the two working
    # copies of a block stay below an eighth of X (the fit never copies X).
    block = max(1, min(BLOCK_ENTRIES // max(d, 1), max(64, -(-n // 16))))
    G = None
    for start in range(0, n, block):
        stop = min(start + block, n)
        Xb = X[start:stop, ...]
        if offset is not None:
            Xb = Xb - offset[None, :]
        # Weights are >= 0 (sample weights, curvatures): scaling by their square roots makes the
        # product Zᵀ Z of one array, which NumPy hands to BLAS syrk (half the flops of a gemm).
        Z = Xb if weights is None else Xb * xp.sqrt(weights[start:stop])[:, None]
        part = xp.permute_dims(Z, (1, 0)) @ Z
        if G is None:
            G = part
        else:
            G += part  # in place: no third d × d array
    return G


#: Up to this order a NumPy system is solved in NumPy's own LAPACK (:func:`_numpy_spd_solve`).
NUMPY_SOLVE_MAX_DIM = 2000


def _numpy_spd_solve(A, B):
    """``A⁻¹ B`` for SPD NumPy ``A`` by NumPy's Cholesky, the factor's inverse and one step of
    iterative refinement (``LinAlgError`` if ``A`` is not positive definite).

    SciPy's ``cho_factor``/``cho_solve`` run on SciPy's OpenBLAS, whose threads then spin
    against NumPy's: measured 50 ms lost per call after a NumPy Gram of 200000×300 (a 301-square
    solve takes 0.3 ms alone), once per Newton-Cholesky iteration. The inverse costs another
    ``d³/3`` flops, which is why this stops at :data:`NUMPY_SOLVE_MAX_DIM`.
    """
    Linv = np.linalg.inv(np.linalg.cholesky(A))
    X = Linv.T @ (Linv @ B)
    return X + Linv.T @ (Linv @ (B - A @ X))


def _sym_solve(A, B, xp, *, singular_ok):
    """Solve ``A X = B`` for symmetric PSD ``A``: Cholesky, or the minimum-norm solution.

    ``singular_ok`` (no regularization) goes straight to the eigendecomposition, which drops the
    eigenvalues below ``dim · eps · λ_max`` (the least-squares minimum-norm solution, as
    ``lstsq``'s default cutoff); a regularized matrix that Cholesky rejects (rounding made it
    indefinite) takes the same route. Returns ``(X, how)``.
    """
    if not singular_ok:
        try:
            if _is_numpy(xp) and A.shape[0] <= NUMPY_SOLVE_MAX_DIM:
                X = _numpy_spd_solve(A, B)
            elif _is_numpy(xp):
                c = scipy.linalg.cho_factor(A, lower=True, check_finite=False)
                X = scipy.linalg.cho_solve(c, B, check_finite=False)
            else:
                L = _backend.cholesky(xp, A)
                X = _backend.solve_triangular(xp, xp.permute_dims(L, (1, 0)),
                                              _backend.solve_triangular(xp, L, B, lower=True),
                                              lower=False)
            if bool(xp.all(xp.isfinite(X))):
                return X, "cholesky"
        except np.linalg.LinAlgError:
            pass
    w, V = _backend.eigh(xp, A)
    eps = float(np.finfo(_backend._numpy_dtype(A.dtype)).eps)
    top = _backend.to_float(xp.max(xp.abs(w))) if w.shape[0] else 0.0
    keep = w > A.shape[0] * eps * top
    inv = xp.where(keep, 1.0 / xp.where(keep, w, xp.ones_like(w)), xp.zeros_like(w))
    coeffs = xp.permute_dims(V, (1, 0)) @ B
    return V @ (inv * coeffs if B.ndim == 1 else inv[:, None] * coeffs), "eigh"


def ridge_flops(n, d, nnz, sparse, n_targets):
    """Floating-point operations of :func:`ridge_direct`: ``(formation, factorization)``, primal or dual."""
    # A sparse Gram costs two flops per pair of entries in a row (XᵀX) or column (XXᵀ).
    if d <= n:
        form = 2.0 * nnz * (nnz / n) if sparse else 1.0 * n * d * d  # syrk: n d² flops
        return form + 2.0 * nnz * n_targets, d**3 / 3.0
    form = 2.0 * nnz * (nnz / d) if sparse else 1.0 * n * n * d
    return form + 4.0 * nnz * n_targets, n**3 / 3.0


def ridge_direct(X, R, sw, total, alphas, x_mean, mask, xp):
    """The ridge coefficients by a direct factorization: ``(W, how)`` with ``W`` of shape ``(d, k)``.

    ``R`` holds the centred targets (``y − ȳ``, or ``y`` without intercept) as columns, ``alphas``
    the penalty per column (``mu = alpha / total``), ``x_mean`` the weighted column means (None:
    no centring) and ``mask`` zeros the features that are constant on the weighted samples.
    ``how`` is ``'cholesky'``, ``'cholesky (dual)'`` or ``'eigh'`` (minimum norm), for ``solver_``
    and the verbose report.
    """
    n, d = X.shape
    dual = d > n
    uniq = sorted(set(alphas))
    W = xp.zeros((d, R.shape[1]), dtype=X.dtype, device=_backend.device_of(R))
    hows = set()
    if not dual:
        G = centered_gram(X, sw, x_mean, xp) * (1.0 / total)
        B = _backend.transpose_matmul(X, R * sw[:, None] if sw is not None else R) * (1.0 / total)
        if mask is not None:
            G = G * mask[:, None] * mask[None, :]
            B = B * mask[:, None]
        eye = xp.eye(d, dtype=X.dtype, device=_backend.device_of(R))
        for a in uniq:
            cols = [j for j, aj in enumerate(alphas) if aj == a]
            Wa, how = _sym_solve(G + (a / total) * eye, _columns(xp, B, cols), xp, singular_ok=a == 0)
            hows.add(how)
            W = _set_columns(xp, W, cols, Wa)
        return (W if mask is None else W * mask[:, None]), "eigh" if "eigh" in hows else "cholesky"
    # Dual: X̃ = S^{1/2} X_c, K = X̃ X̃ᵀ = S^{1/2} (X Xᵀ − X m 1ᵀ − 1 (X m)ᵀ + mᵀm) S^{1/2}.
    Xm = X if mask is None or _backend.is_sparse(X) else X * mask[None, :]
    K = Xm @ (Xm.T if _backend.is_sparse(Xm) else xp.permute_dims(Xm, (1, 0)))
    K = xp.asarray(K.toarray(), dtype=X.dtype) if _backend.is_sparse(K) else K
    if x_mean is not None:
        m = x_mean if mask is None else x_mean * mask
        u = Xm @ m
        K = K - u[:, None] - u[None, :] + (m @ m)
    root = None if sw is None else xp.sqrt(sw)
    if root is not None:
        K = K * root[:, None] * root[None, :]
    Rs = R if root is None else R * root[:, None]
    eye = xp.eye(n, dtype=X.dtype, device=_backend.device_of(R))
    for a in uniq:
        cols = [j for j, aj in enumerate(alphas) if aj == a]
        A, how = _sym_solve(K + a * eye, _columns(xp, Rs, cols), xp, singular_ok=a == 0)
        hows.add(how)
        As = A if root is None else A * root[:, None]
        Wa = _backend.transpose_matmul(X, As)
        if x_mean is not None:
            Wa = Wa - x_mean[:, None] * xp.sum(As, axis=0)[None, :]
        W = _set_columns(xp, W, cols, Wa)
    return (W if mask is None else W * mask[:, None]), "eigh (dual)" if "eigh" in hows else "cholesky (dual)"


def _set_columns(xp, W, cols, values):
    """``W`` with columns ``cols`` replaced by the columns of ``values`` (no item assignment:
    the array API's strict namespaces have none for index lists)."""
    if len(cols) == W.shape[1]:
        return xp.asarray(values, dtype=W.dtype)
    parts = [W[:, j:j + 1] for j in range(W.shape[1])]
    for i, j in enumerate(cols):
        parts[j] = values[:, i:i + 1]
    return xp.concat(parts, axis=1)


def _columns(xp, A, cols):
    return xp.take(A, xp.asarray(cols, device=_backend.device_of(A)), axis=1)


def logistic_hessian(problem, w):
    """The full Hessian ``∇²f(w)`` (penalty included) of a :class:`optim.Logistic` or
    :class:`optim.Multinomial` problem, as a dense ``(dim, dim)`` array.

    Binary: ``AᵀDA / n`` with ``D`` the curvature weights and ``A = [X − 1 x_offsetᵀ, 1]``, one
    weighted Gram (:func:`centered_gram`). Multinomial: the Hessian operator applied to blocks of
    the identity (``dim²·K·n``-flop BLAS-3 products, in column blocks of bounded memory).
    """
    xp = problem.xp
    dim, d = problem.dim, problem.n_features
    device = problem.device
    if hasattr(problem, "d2loss"):
        c = problem.curvature(w)
        n = problem.n_samples
        G = centered_gram(problem.X, c, problem.x_offset, xp)
        G *= 1.0 / n
        if problem.fit_intercept:
            q = _backend.transpose_matmul(problem.X, c)
            sc = xp.sum(c)
            if problem.x_offset is not None:
                q = q - sc * problem.x_offset
            q, sc = q * (1.0 / n), sc * (1.0 / n)
            if _is_numpy(xp):  # one (d+1)-square array, filled in place
                H = np.empty((d + 1, d + 1), dtype=G.dtype)
                H[:d, :d], H[:d, d], H[d, :d], H[d, d] = G, q, q, sc
            else:
                top = xp.concat([G, q[:, None]], axis=1)
                bottom = xp.reshape(xp.concat([q, xp.reshape(sc, (1,))]), (1, d + 1))
                H = xp.concat([top, bottom], axis=0)
            del G
        else:
            H = G
    else:
        op = problem.batch().hessian_operator(w, include_penalty=False)
        n = problem.n_samples
        K = problem.n_classes
        block = max(1, BLOCK_ENTRIES // max(1, n * K))
        eye = xp.eye(dim, dtype=problem.dtype, device=device)
        H = xp.concat([op @ eye[:, s:min(s + block, dim)] for s in range(0, dim, block)], axis=1)
        H = 0.5 * (H + xp.permute_dims(H, (1, 0)))
        if problem.fit_intercept:
            # The softmax ignores a common shift of the intercepts: u (ones on them) spans the
            # Hessian's null space, and the gradient is orthogonal to it. Adding s u uᵀ makes the
            # matrix positive definite without changing the Newton step (uᵀp = 0 either way).
            u = xp.concat([xp.zeros(d * K, dtype=problem.dtype, device=device),
                           xp.ones(K, dtype=problem.dtype, device=device)]) / math.sqrt(K)
            scale = xp.sum(xp.linalg.diagonal(H)) / dim
            H = H + scale * (u[:, None] * u[None, :])
    if problem.reg:
        pen = problem._penalty if problem._penalty is not None else xp.ones(dim, dtype=problem.dtype,
                                                                            device=device)
        if _is_numpy(xp):
            H.flat[:: dim + 1] += problem.reg * pen  # the diagonal, in place
        else:
            H = H + problem.reg * (xp.eye(dim, dtype=problem.dtype, device=device) * pen[None, :])
    return H


def newton_flops(n, d, nnz, sparse, n_classes):
    """Floating-point operations of one Newton-Cholesky iteration: ``(Hessian formation, factorization)``."""
    dim = (d + 1) * n_classes
    if n_classes == 1:
        form = 2.0 * nnz * (nnz / n) if sparse else 1.0 * n * d * d
    else:
        form = 4.0 * nnz * n_classes * dim
    return form, dim**3 / 3.0


def newton_cholesky(problem, x0, *, gtol, maxiter, callback=None):
    """Newton's method with the exact Hessian and Cholesky: ``OptimizeResult`` as :func:`optim.nncg`'s.

    Stops when ``‖∇f‖₂ <= gtol``. Each step solves ``∇²f(x) p = −∇f(x)`` (minimum norm when the
    Hessian is singular, e.g. ``C = inf`` on separable data) and backtracks from ``t = 1`` until
    ``f(x + t p) <= f(x) + 1e-4 t pᵀ∇f``. ``history`` holds ``fun``, ``grad_norm`` and ``time``.
    """
    xp = problem.xp
    x = x0
    t0 = time.perf_counter()
    f, g = problem.value_and_grad(x)
    gnorm = _backend.to_float(xp.linalg.vector_norm(g))
    hist = {"fun": [f], "grad_norm": [gnorm], "time": [0.0]}
    status, nit = 1, 0
    for nit in range(1, maxiter + 1):
        if not math.isfinite(gnorm):
            status = 3
            break
        if gnorm <= gtol:
            nit -= 1
            status = 0
            break
        H = logistic_hessian(problem, x)
        p, _ = _sym_solve(H, -g, xp, singular_ok=False)
        slope = _backend.to_float(p @ g)
        if not slope < 0:
            p, slope = -g, -gnorm**2
        step, accepted = 1.0, False
        noise = 100 * float(np.finfo(_backend._numpy_dtype(problem.dtype)).eps) * max(1.0, abs(f))
        for _ in range(MAX_BACKTRACKS):
            x_new = x + step * p
            f_new, g_new = problem.value_and_grad(x_new)
            if math.isfinite(f_new) and f_new <= f + ARMIJO_C * step * slope + noise:
                accepted = True
                break
            step *= 0.5
        if not accepted:
            status = 2
            break
        x, f, g = x_new, f_new, g_new
        gnorm = _backend.to_float(xp.linalg.vector_norm(g))
        hist["fun"].append(f)
        hist["grad_norm"].append(gnorm)
        hist["time"].append(time.perf_counter() - t0)
        if callback is not None:
            callback(OptimizeResult(x=x, fun=f))
    else:
        status = 0 if gnorm <= gtol else 1
    messages = {0: "Optimization terminated successfully: gradient norm below gtol.",
                1: "Maximum number of iterations has been exceeded.",
                2: "The line search could not decrease the objective (precision loss).",
                3: "NaN or infinity encountered in the gradient."}
    return OptimizeResult(x=x, fun=f, nit=nit, success=status == 0, status=status, message=messages[status],
                          grad_norm=gnorm, history={k: np.asarray(v) for k, v in hist.items()})


def lbfgs(problem, x0, *, gtol, maxiter, callback=None):
    """L-BFGS-B (SciPy) until ``‖∇f‖₂ <= gtol``: an ``OptimizeResult`` as :func:`newton_cholesky`'s.

    SciPy's own test is on the largest gradient entry, so it is given ``gtol / √dim`` (which
    implies the 2-norm test) and ``ftol = 0``; success is the 2-norm test on the
    returned point. Computes in float64 on the host, so NumPy input only (``ValueError`` else);
    the result has the problem's dtype.
    """
    xp = problem.xp
    if not _is_numpy(xp):
        raise ValueError("solver='lbfgs' runs SciPy's L-BFGS-B on the host: it needs NumPy input, got "
                         f"{xp.__name__}")
    dtype = _backend._numpy_dtype(problem.dtype)
    t0 = time.perf_counter()
    hist = {"fun": [], "grad_norm": [], "time": []}
    last = {}

    def fun(w):
        f, g = problem.value_and_grad(np.asarray(w, dtype=dtype))
        g = np.asarray(g, dtype=np.float64)
        last["f"], last["g"] = f, float(np.linalg.norm(g))
        return f, g

    def record(intermediate_result=None):
        hist["fun"].append(last["f"])
        hist["grad_norm"].append(last["g"])
        hist["time"].append(time.perf_counter() - t0)
        if callback is not None:
            callback(OptimizeResult(x=None, fun=last["f"]))

    fun(np.asarray(x0, dtype=np.float64))
    record()
    res = scipy.optimize.minimize(fun, np.asarray(x0, dtype=np.float64), jac=True, method="L-BFGS-B",
                                  callback=lambda xk: record(),
                                  options={"gtol": gtol / math.sqrt(problem.dim), "ftol": 0.0,
                                           "maxiter": maxiter, "maxcor": 10})
    x = np.asarray(res.x, dtype=dtype)
    f, g = problem.value_and_grad(x)
    gnorm = float(np.linalg.norm(g))
    ok = gnorm <= gtol
    message = "Optimization terminated successfully: gradient norm below gtol." if ok else \
        f"L-BFGS-B stopped: {res.message}"
    return OptimizeResult(x=x, fun=f, nit=int(res.nit), success=ok, status=0 if ok else 1, message=message,
                          grad_norm=gnorm, history={k: np.asarray(v) for k, v in hist.items()})
