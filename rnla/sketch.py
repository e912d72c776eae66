"""Random test matrices for sketching, drawn in the caller's namespace, dtype and device."""

from __future__ import annotations

from . import _backend
from ._dense_kernels import cholesky_qr

__all__ = ["gaussian_sketch", "orthonormal_sketch", "sign_sketch"]


def gaussian_sketch(n, k, *, xp, dtype, device=None, random_state=None):
    """An ``(n, k)`` matrix of independent standard normal entries.

    Examples
    --------
    >>> import numpy as np
    >>> from rnla._backend import array_namespace
    >>> gaussian_sketch(5, 2, xp=array_namespace(np.ones(1)), dtype=np.float64, random_state=0).shape
    (5, 2)
    """
    return _backend.random_normal(xp, (n, k), dtype=dtype, device=device, random_state=random_state)


def sign_sketch(n, k, *, xp, dtype, device=None, random_state=None):
    """An ``(n, k)`` Rademacher (random ±1) matrix.

    Examples
    --------
    >>> import numpy as np
    >>> from rnla._backend import array_namespace
    >>> S = sign_sketch(4, 3, xp=array_namespace(np.ones(1)), dtype=np.float32, random_state=0)
    >>> bool(np.all(np.abs(S) == 1)), S.dtype
    (True, dtype('float32'))
    """
    return _backend.random_sign(xp, (n, k), dtype=dtype, device=device, random_state=random_state)


def orthonormal_sketch(n, k, *, xp, dtype, device=None, random_state=None, against=None):
    """An ``(n, k)`` Gaussian matrix with orthonormal columns (thin QR, by CholeskyQR2).

    With ``against`` (an ``(n, j)`` matrix with orthonormal columns, ``j + k <= n``) the new
    columns are also orthogonal to those of ``against``: block Gram-Schmidt, run twice
    ("twice is enough"), then QR. This extends a sketch without redrawing its earlier columns.

    Examples
    --------
    >>> import numpy as np
    >>> from rnla._backend import array_namespace
    >>> xp = array_namespace(np.ones(1))
    >>> Q1 = orthonormal_sketch(6, 2, xp=xp, dtype=np.float64, random_state=0)
    >>> Q2 = orthonormal_sketch(6, 3, xp=xp, dtype=np.float64, random_state=1, against=Q1)
    >>> Q = np.hstack([Q1, Q2])
    >>> np.allclose(Q.T @ Q, np.eye(5))
    True
    """
    G = gaussian_sketch(n, k, xp=xp, dtype=dtype, device=device, random_state=random_state)
    if against is not None:
        for _ in range(2):
            G = G - against @ (against.T @ G)
    # A Gaussian block is well conditioned: CholeskyQR2 (BLAS-3) is exact to rounding here.
    Q, _ = cholesky_qr(xp, G)
    if against is not None:
        Q = Q - against @ (against.T @ Q)
        Q, _ = cholesky_qr(xp, Q)
    return Q
