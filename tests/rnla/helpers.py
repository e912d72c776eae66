"""Reference constructions shared by the rnla test modules."""

import numpy as np
import scipy.sparse.linalg as spla


def psd_matrix(eigvals, seed=0, dtype=np.float64):
    """``Q diag(eigvals) Qᵀ`` with a seeded random orthogonal ``Q`` (symmetrized)."""
    eigvals = np.asarray(eigvals, dtype=np.float64)
    n = eigvals.shape[0]
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = (Q * eigvals) @ Q.T
    return ((A + A.T) / 2).astype(dtype)


def scipy_cg_counted(A, b, **kwargs):
    """``scipy.sparse.linalg.cg`` returning ``(x, info, iterations)`` (counted by callback)."""
    count = [0]

    def callback(xk):
        count[0] += 1

    x, info = spla.cg(A, b, callback=callback, **kwargs)
    return x, info, count[0]
