"""Test matrices ``Ω`` of the Nyström sketch, drawn block by block (the adaptive doubling extends them).

Three kinds, plus a user callable:

- ``'gaussian'``: orthonormal Gaussian columns (thin QR; later blocks are orthogonalised
  against the earlier ones), ``ΩᵀΩ = I``.
- ``'sparse_sign'``: every row of each block holds ``ζ = min(k, 8)`` entries ``±1`` at
  distinct random columns (Tropp et al., arXiv:1902.08651, §3.3), scaled so columns have
  about unit norm. No QR; ``ΩᵀY`` is a sparse product (``nζ`` per column instead of ``n·k``).
- ``'srtt'``: random signs ``D`` and ``ℓ`` distinct rows of the orthonormal DCT-II ``F``,
  ``Ω = D Fᵀ Sᵀ``: orthonormal columns without a QR, and ``ΩᵀY = S F D Y`` is one DCT
  (``scipy.fft`` / ``cupyx.scipy.fft``) of ``Y``. Later blocks take further rows of the same
  ``D F``, so the whole ``Ω`` stays orthonormal.
- a callable ``sketch(n, k, *, xp, dtype, device, random_state) -> (n, k) array``.
"""

from __future__ import annotations

import math

import array_api_compat
import numpy as np

from . import _backend
from .sketch import orthonormal_sketch

SKETCH_KINDS = ("gaussian", "sparse_sign", "srtt")

#: Nonzeros per row of a sparse sign block (fewer when the block has fewer columns).
SPARSE_SIGN_NNZ = 8


def check_sketch(sketch):
    """``sketch`` as one of :data:`SKETCH_KINDS` or a callable (``TypeError`` / ``ValueError``)."""
    listed = ", ".join(map(repr, SKETCH_KINDS))
    if callable(sketch) and not isinstance(sketch, str):
        return sketch
    if not isinstance(sketch, str):
        raise TypeError(f"sketch must be one of {listed} or a callable, "
                        f"got {type(sketch).__name__} {sketch!r}")
    if sketch not in SKETCH_KINDS:
        raise ValueError(f"sketch must be one of {listed} or a callable, got {sketch!r}")
    return sketch


def _sparse_rows(rng, n, k, zeta):
    """``(n, zeta)`` column indices, distinct within each row and uniform over ``zeta``-subsets."""
    if zeta >= k:
        return np.broadcast_to(np.arange(k), (n, k))
    if 4 * zeta >= k:
        # Few columns: the ``zeta`` smallest of ``k`` uniforms per row (O(nk), k small).
        return np.argpartition(rng.random((n, k)), zeta - 1, axis=1)[:, :zeta]
    # Many columns: draw with replacement and redraw rows with a repeat (rejection keeps the
    # distribution uniform over subsets; each round accepts a row with prob. >= e^{-ζ²/2k}).
    idx = rng.integers(0, k, size=(n, zeta))
    bad = np.arange(n)
    while bad.size:
        s = np.sort(idx[bad], axis=1)
        bad = bad[np.any(s[:, 1:] == s[:, :-1], axis=1)]
        idx[bad] = rng.integers(0, k, size=(bad.size, zeta))
    return idx


class TestMatrix:
    """The columns of ``Ω`` drawn so far (dense ``Omega``) and fast ``ΩᵀY`` / ``ΩᵀΩ``.

    ``orthonormal`` is true for ``'gaussian'`` and ``'srtt'`` (then ``ΩᵀΩ = I`` exactly up
    to rounding and the Nyström algebra needs no Gram matrix).
    """

    __test__ = False  # not a pytest class

    def __init__(self, sketch, n, *, xp, dtype, device, rng):
        self.kind = check_sketch(sketch)
        self.n, self.xp, self.dtype, self.device, self.rng = n, xp, dtype, device, rng
        self.Omega = None
        self.orthonormal = self.kind in ("gaussian", "srtt")
        self._sparse = []  # sparse sign blocks, when the backend has sparse matrices
        self._gram = None
        if self.kind == "srtt":
            self._signs = _backend.random_sign(xp, (n,), dtype=dtype, device=device, random_state=rng)
            self._order = rng.permutation(n)
            self._rows = []

    @property
    def ell(self) -> int:
        return 0 if self.Omega is None else int(self.Omega.shape[1])

    def extend(self, k):
        """Draw ``k`` new columns; returns the new dense ``(n, k)`` block (also appended)."""
        xp = self.xp
        if self.kind == "gaussian":
            new = orthonormal_sketch(self.n, k, xp=xp, dtype=self.dtype, device=self.device,
                                     random_state=self.rng, against=self.Omega)
        elif self.kind == "sparse_sign":
            new = self._sparse_sign(k)
        elif self.kind == "srtt":
            new = self._srtt(k)
        else:
            new = self._user(k)
        self.Omega = new if self.Omega is None else xp.concat([self.Omega, new], axis=1)
        return new

    def _user(self, k):
        xp = self.xp
        new = self.kind(self.n, k, xp=xp, dtype=self.dtype, device=self.device, random_state=self.rng)
        if getattr(new, "shape", None) is None or tuple(new.shape) != (self.n, k):
            raise ValueError(f"sketch must return an array of shape ({self.n}, {k}), "
                             f"got {getattr(new, 'shape', type(new).__name__)}")
        if _backend.is_sparse(new):
            new = new.toarray()
        new = xp.asarray(new, device=self.device)
        if new.dtype != self.dtype:
            new = xp.astype(new, self.dtype)
        if not bool(xp.all(xp.isfinite(new))):
            raise ValueError("sketch returned NaN or infinity")
        return new

    def _sparse_sign(self, k):
        xp, n = self.xp, self.n
        zeta = min(k, SPARSE_SIGN_NNZ)
        cols = _sparse_rows(self.rng, n, k, zeta).reshape(-1)
        value = math.sqrt(k / (n * zeta))  # columns of about unit norm
        data = np.where(self.rng.integers(0, 2, size=n * zeta) == 1, value, -value).astype(
            _backend._numpy_dtype(self.dtype))
        indptr = np.arange(0, n * zeta + 1, zeta)
        if array_api_compat.is_numpy_namespace(xp):
            import scipy.sparse

            S = scipy.sparse.csr_array((data, cols, indptr), shape=(n, k))
            self._sparse.append(S)
            return S.toarray()
        if _backend.is_cupy_namespace(xp):
            import cupy
            import cupyx.scipy.sparse

            with self.device if self.device is not None else _null():
                parts = (cupy.asarray(data), cupy.asarray(cols), cupy.asarray(indptr))
                S = cupyx.scipy.sparse.csr_matrix(parts, shape=(n, k))
                self._sparse.append(S)
                return S.toarray()
        dense = np.zeros((n, k), dtype=data.dtype)
        dense[np.repeat(np.arange(n), zeta), cols] = data
        return xp.asarray(dense, device=self.device)

    def _srtt(self, k):
        xp, n = self.xp, self.n
        start = sum(r.shape[0] for r in self._rows)
        rows = self._order[start:start + k]
        self._rows.append(rows)
        # Ω[i, j] = d_i F[r_j, i], F[r, i] = c_r cos(π r (2i + 1) / 2n): the angle is reduced
        # modulo 2π in exact integer arithmetic (float32 cos of a large angle is inaccurate).
        i = np.arange(n, dtype=np.int64)[:, None]
        m = (rows[None, :].astype(np.int64) * (2 * i + 1)) % (4 * n)
        F = np.cos(np.pi * m / (2.0 * n)) * math.sqrt(2.0 / n)
        F[:, rows == 0] = math.sqrt(1.0 / n)
        F = F.astype(_backend._numpy_dtype(self.dtype))
        if not array_api_compat.is_numpy_namespace(xp):
            F = xp.asarray(F, device=self.device)  # one transfer per block, not per product
        return self._signs[:, None] * F

    def project(self, Y):
        """``ΩᵀY`` for the ``(n, m)`` block ``Y`` (sparse or DCT product where it pays)."""
        xp = self.xp
        if self.kind == "sparse_sign" and self._sparse:
            parts = [S.T @ Y for S in self._sparse]
            return parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)
        if self.kind == "srtt" and self.ell >= 16:
            fft = _fft_module(xp)
            if fft is not None:
                Z = fft.dct(self._signs[:, None] * Y, type=2, norm="ortho", axis=0)
                rows = np.concatenate(self._rows)
                if not array_api_compat.is_numpy_namespace(xp):
                    rows = xp.asarray(rows, device=self.device)
                out = Z[rows]
                return out if out.dtype == Y.dtype else xp.astype(out, Y.dtype)
        return self.Omega.T @ Y

    def gram(self):
        """``ΩᵀΩ`` (``None`` when it is the identity); updated blockwise as ``Ω`` grows."""
        if self.orthonormal:
            return None
        xp = self.xp
        ell = self.ell
        old = 0 if self._gram is None else int(self._gram.shape[0])
        if old == ell:
            return self._gram
        new = self.Omega[:, old:]
        if old == 0:
            G = self.project(new)
        else:
            cross = self.Omega[:, :old].T @ new
            corner = new.T @ new
            G = xp.concat([xp.concat([self._gram, cross], axis=1),
                           xp.concat([cross.T, corner], axis=1)], axis=0)
        self._gram = (G + G.T) * 0.5
        return self._gram


def _fft_module(xp):
    if array_api_compat.is_numpy_namespace(xp):
        import scipy.fft

        return scipy.fft
    if _backend.is_cupy_namespace(xp):
        try:
            import cupyx.scipy.fft as fft
        except ImportError:  # pragma: no cover - old CuPy
            return None
        return fft if hasattr(fft, "dct") else None
    return None


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False
