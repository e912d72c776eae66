"""Reference constructions shared by the rnla test modules."""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from rnla import as_operator


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


class CountingLinearOperator(spla.LinearOperator):
    """``A`` (dense or sparse) as a SciPy ``LinearOperator`` that counts its products; each
    column of a block product counts as one."""

    def __init__(self, A):
        super().__init__(dtype=A.dtype, shape=A.shape)
        self.A = A
        self.count = 0

    def _matvec(self, x):
        self.count += 1
        return self.A @ x

    def _matmat(self, X):
        self.count += X.shape[1]
        return self.A @ X


def input_forms():
    """``pytest.param``s of functions turning a dense matrix into each accepted operator form."""
    return [
        pytest.param(lambda A: A, id="dense"),
        pytest.param(sp.csr_matrix, id="csr_matrix"),
        pytest.param(sp.csc_matrix, id="csc_matrix"),
        pytest.param(sp.coo_matrix, id="coo_matrix"),
        pytest.param(sp.csr_array, id="csr_array"),
        pytest.param(spla.aslinearoperator, id="LinearOperator"),
        pytest.param(lambda A: (A.shape, lambda v: A @ v), id="tuple-matvec"),
        pytest.param(lambda A: (A.shape, lambda v: A @ v, lambda V: A @ V), id="tuple-matmat"),
        pytest.param(as_operator, id="Operator"),
    ]
