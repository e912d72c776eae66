"""Tests of the randomized Nyström approximation and the Nyström preconditioner.

Everything is checked against dense NumPy linear algebra (``numpy.linalg.eigh``) on small
symmetric positive semidefinite matrices ``A = Q diag(λ) Qᵀ`` with a seeded random
orthogonal ``Q`` and chosen spectra (polynomial and exponential decay, exact low rank),
plus SciPy's ``cg`` for the preconditioner, ``array_api_strict`` for the array-API core
and ``hypothesis`` for randomized properties.
"""

import importlib

import array_api_strict as xs
import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from helpers import psd_matrix
from helpers import scipy_cg_counted as count_cg_iterations
from hypothesis import given, settings
from hypothesis import strategies as st

import rnla
from rnla import GramOperator, NystromApprox, NystromPreconditioner, as_operator, nystrom
from rnla._backend import array_namespace
from rnla.nystrom import adaptive_nystrom

# ``rnla.nystrom`` the attribute is the function; the module is needed to spy on internals.
nystrom_module = importlib.import_module("rnla.nystrom")


# ----------------------------------------------------------------------------- helpers


def spectrum(kind, n):
    """Eigenvalues (descending) of the named test spectrum."""
    i = np.arange(1, n + 1, dtype=np.float64)
    if kind == "poly":
        return 1.0 / i**2
    if kind == "exp":
        return 0.7 ** (i - 1)
    if kind == "lowrank":
        k = min(8, n)
        return np.r_[np.linspace(5.0, 1.0, k), np.zeros(n - k)]
    if kind == "step":  # a gap after 10: the hardest case for the trace-norm bound
        return np.r_[np.ones(10), 1e-2 * np.ones(n - 10)]
    raise ValueError(kind)




def dominance_tol(approx, A):
    """Allowed violation of ``Â ⪯ A``: the stabilising shift plus rounding of ``A``'s size."""
    eps = np.finfo(A.dtype).eps
    return 2.0 * approx.shift + 50.0 * eps * np.linalg.norm(np.asarray(A, np.float64), 2)


def min_eig_of_gap(A, approx):
    """Smallest eigenvalue of ``A − Â`` computed in float64."""
    gap = np.asarray(A, np.float64) - np.asarray(approx.to_dense(), np.float64)
    return np.linalg.eigvalsh((gap + gap.T) / 2)[0]




class CountingOperator(rnla.Operator):
    """Dense ``A`` as an Operator that counts the columns it is applied to."""

    def __init__(self, A):
        self.columns = 0
        self.calls = 0
        self.A = A

        def matmat(V):
            self.calls += 1
            self.columns += V.shape[1]
            return self.A @ V

        super().__init__(A.shape, matmat, dtype=A.dtype, xp=array_namespace(A))


# ------------------------------------------------------------- accuracy against eigh


@pytest.mark.parametrize("kind", ["poly", "exp", "lowrank"])
@pytest.mark.parametrize(("rank", "oversample"), [(1, 0), (5, 5), (10, 10), (30, 0), (60, 10)])
def test_approx_is_dominated_by_A(kind, rank, oversample):
    A = psd_matrix(spectrum(kind, 60), seed=1)
    approx = nystrom(A, rank, oversample=oversample, random_state=2)
    assert approx.shift > 0
    assert min_eig_of_gap(A, approx) >= -dominance_tol(approx, A)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_approx_is_dominated_by_A_float32_and_float64(dtype):
    A = psd_matrix(spectrum("poly", 80), seed=3, dtype=dtype)
    for seed in range(5):
        approx = nystrom(A, 15, random_state=seed)
        assert min_eig_of_gap(A, approx) >= -dominance_tol(approx, A)


@pytest.mark.parametrize(("dtype", "rtol"), [(np.float64, 1e-8), (np.float32, 1e-3)])
@pytest.mark.parametrize(("rank", "oversample"), [(8, 0), (8, 4), (12, 0), (5, 3), (40, 0)])
def test_exact_recovery_when_rank_fits_in_sketch(dtype, rtol, rank, oversample):
    # rank(A) = 8 <= sketch size = rank + oversample, so the range is captured exactly.
    n = 40
    lam = spectrum("lowrank", n)
    A = psd_matrix(lam, seed=4, dtype=dtype)
    approx = nystrom(A, rank, oversample=oversample, random_state=5)
    if rank >= 8:
        err = np.linalg.norm(approx.to_dense().astype(np.float64) - A.astype(np.float64))
        assert err <= rtol * np.linalg.norm(A.astype(np.float64))
        k = 8
    else:
        k = rank
    # The nonzero eigenvalues are recovered too (the rest are ~0).
    np.testing.assert_allclose(approx.eigvals[:k], lam[:k], rtol=rtol, atol=0)
    np.testing.assert_allclose(approx.eigvals[k:], 0.0, atol=rtol * lam[0])


@pytest.mark.parametrize("seed", range(3))
def test_full_sketch_recovers_eigenvalues_to_rounding(seed):
    # With ℓ = n the sketch sees all of A: the eigenvalues come back to rounding level, far
    # below the stabilising shift ν = √n·eps·‖AΩ‖_F, which must be removed again.
    n = 200
    lam = np.linspace(1.0, 0.5, n)
    A = psd_matrix(lam, seed=seed)
    approx = nystrom(A, n, oversample=0, random_state=seed)
    eps = np.finfo(np.float64).eps
    assert approx.shift > 100 * eps
    true = np.linalg.eigvalsh(A)[::-1]
    assert np.max(np.abs(approx.eigvals - true)) <= 40 * eps
    assert np.linalg.norm(approx.to_dense() - A, 2) <= 80 * eps


@pytest.mark.parametrize("kind", ["poly", "exp", "step"])
@pytest.mark.parametrize("oversample", [10, 20])
def test_trace_norm_error_within_theoretical_factor(kind, oversample):
    # Tropp et al. (2017), Thm 4.1: E‖A − [[Â]]_r‖_* <= (1 + r/(ℓ − r − 1)) ‖A − [[A]]_r‖_*.
    n, r = 200, 10
    lam = spectrum(kind, n)
    A = psd_matrix(lam, seed=6)
    best = lam[r:].sum()
    ell = r + oversample
    errors = []
    for seed in range(20):
        approx = nystrom(A, r, oversample=oversample, random_state=seed)
        assert approx.rank == r and approx.sketch_size == ell
        errors.append(np.abs(np.linalg.eigvalsh(A - approx.to_dense())).sum())
    assert np.mean(errors) <= (1 + r / (ell - r - 1)) * best
    # and never better than the best rank-r approximation (Eckart-Young).
    assert min(errors) >= best * (1 - 1e-8)


def test_eigenvalues_below_true_top_eigenvalues():
    n = 100
    lam = spectrum("exp", n)
    A = psd_matrix(lam, seed=7)
    true = np.linalg.eigh(A)[0][::-1]
    approx = nystrom(A, 10, oversample=10, random_state=8)
    # Â ⪯ A (up to the shift) implies λ̂_i <= λ_i by Weyl's inequality ...
    assert np.all(approx.eigvals <= true[:10] + dominance_tol(approx, A))
    # ... and the error is at most ‖A − Â‖_2, itself about the trace of the uncaptured tail.
    assert np.all(true[:10] - approx.eigvals <= 2 * lam[20:].sum())
    accurate = nystrom(A, 10, oversample=30, random_state=8)
    np.testing.assert_allclose(accurate.eigvals, true[:10], rtol=0, atol=2 * lam[40:].sum())


# ------------------------------------------------------------------ structure and API


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_properties_and_products(dtype):
    n, rank, oversample = 50, 7, 5
    A = psd_matrix(spectrum("poly", n), seed=9, dtype=dtype)
    approx = nystrom(A, rank, oversample=oversample, random_state=10)
    assert isinstance(approx, NystromApprox)
    assert approx.rank == rank
    assert approx.shape == (n, n)
    assert approx.sketch_size == rank + oversample
    assert approx.U.shape == (n, rank)
    assert approx.eigvals.shape == (rank,)
    assert approx.dtype == dtype
    assert approx.U.dtype == dtype and approx.eigvals.dtype == dtype
    assert "rank=7" in repr(approx) and "sketch_size=12" in repr(approx)

    eps = np.finfo(dtype).eps
    lam = approx.eigvals
    assert np.all(lam >= 0)
    assert np.all(np.diff(lam) <= 0)
    np.testing.assert_allclose(approx.U.T @ approx.U, np.eye(rank), atol=50 * eps)

    dense = approx.to_dense()
    assert dense.dtype == dtype and dense.shape == (n, n)
    np.testing.assert_allclose(dense, (approx.U * lam) @ approx.U.T, rtol=0, atol=50 * eps * lam[0])
    np.testing.assert_allclose(dense, dense.T, atol=10 * eps * lam[0])

    rng = np.random.default_rng(11)
    v = rng.standard_normal(n).astype(dtype)
    V = rng.standard_normal((n, 3)).astype(dtype)
    tol = dict(rtol=0, atol=100 * eps * lam[0] * np.sqrt(n))
    for out, ref in [(approx.matvec(v), dense @ v), (approx @ v, dense @ v),
                     (approx.matmat(V), dense @ V), (approx @ V, dense @ V)]:
        assert out.dtype == dtype
        assert out.shape == ref.shape
        np.testing.assert_allclose(out, ref, **tol)


def test_sketch_size_is_capped_at_n():
    A = psd_matrix(spectrum("exp", 20), seed=12)
    approx = nystrom(A, 15, oversample=10, random_state=0)
    assert approx.sketch_size == 20
    assert approx.rank == 15
    full = nystrom(A, 20, oversample=0, random_state=0)
    np.testing.assert_allclose(full.to_dense(), A, atol=1e-10)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda A: A, id="dense"),
        pytest.param(lambda A: sp.csr_matrix(A), id="csr"),
        pytest.param(lambda A: sp.csr_array(A), id="csr_array"),
        pytest.param(lambda A: spla.aslinearoperator(A), id="LinearOperator"),
        pytest.param(lambda A: ((A.shape, lambda v: A @ v, lambda V: A @ V)), id="tuple-matmat"),
        pytest.param(lambda A: ((A.shape, lambda v: A @ v)), id="tuple-matvec"),
        pytest.param(lambda A: as_operator(A), id="Operator"),
    ],
)
def test_input_types_agree_with_dense(make):
    A = psd_matrix(spectrum("poly", 40), seed=13)
    ref = nystrom(A, 6, random_state=14)
    approx = nystrom(make(A), 6, random_state=14)
    assert approx.U.dtype == np.float64
    np.testing.assert_allclose(approx.eigvals, ref.eigvals, rtol=1e-12)
    np.testing.assert_allclose(approx.to_dense(), ref.to_dense(), atol=1e-12)


def test_callable_with_like_sketches_in_its_dtype():
    A = psd_matrix(spectrum("poly", 30), seed=15)
    op = ((30, 30), lambda v: A @ v, lambda V: A @ V)
    approx = nystrom(op, 5, random_state=0, like=np.ones(30, dtype=np.float32))
    assert approx.dtype == np.float32
    ref = nystrom(A.astype(np.float32), 5, random_state=0)
    np.testing.assert_allclose(approx.eigvals, ref.eigvals, rtol=1e-4)


def test_integer_matrix_is_computed_in_float64():
    # Integer (and boolean) inputs compute in float64, as everywhere in rnla.
    rng = np.random.default_rng(16)
    G = rng.integers(-3, 4, size=(30, 4))
    A = G @ G.T  # int64, PSD, rank 4
    approx = nystrom(A, 4, random_state=0)
    assert approx.dtype == np.float64
    np.testing.assert_allclose(approx.to_dense(), A, atol=1e-8 * np.linalg.norm(A))


@pytest.mark.parametrize("sparse", [False, True])
def test_gram_operator_input(sparse):
    rng = np.random.default_rng(17)
    X = rng.standard_normal((60, 25)) / np.arange(1, 26)
    X[np.abs(X) < 0.3] = 0.0
    H = X.T @ X / 60
    op = GramOperator(sp.csr_matrix(X) if sparse else X)
    approx = nystrom(op, 25, oversample=0, random_state=1)
    np.testing.assert_allclose(approx.to_dense(), H, atol=1e-10 * np.linalg.norm(H))


def test_reproducible_by_seed():
    A = psd_matrix(spectrum("poly", 60), seed=18)
    a1 = nystrom(A, 8, random_state=42)
    a2 = nystrom(A, 8, random_state=42)
    np.testing.assert_array_equal(a1.U, a2.U)
    np.testing.assert_array_equal(a1.eigvals, a2.eigvals)

    g1 = nystrom(A, 8, random_state=np.random.default_rng(42))
    g2 = nystrom(A, 8, random_state=np.random.default_rng(42))
    np.testing.assert_array_equal(g1.U, g2.U)
    np.testing.assert_array_equal(g1.eigvals, g2.eigvals)

    # A different seed, or the same Generator used twice, gives a different sketch.
    b = nystrom(A, 8, random_state=43)
    assert not np.allclose(a1.eigvals, b.eigvals, rtol=1e-6, atol=0)
    gen = np.random.default_rng(42)
    c1 = nystrom(A, 8, random_state=gen)
    c2 = nystrom(A, 8, random_state=gen)
    assert not np.allclose(c1.eigvals, c2.eigvals, rtol=1e-6, atol=0)


# -------------------------------------------------------------- degenerate / float32


@pytest.mark.parametrize("rank", [3, 12, 30])
def test_float32_numerically_rank_deficient_never_nan(rank):
    n = 60
    lam = np.zeros(n)
    lam[:9] = np.logspace(0, -8, 9)  # 1, 1e-1, ..., 1e-8, then exact zeros
    A = psd_matrix(lam, seed=19, dtype=np.float32)
    for seed in range(3):
        approx = nystrom(A, rank, oversample=5, random_state=seed)
        assert approx.dtype == np.float32
        assert np.all(np.isfinite(approx.U)) and np.all(np.isfinite(approx.eigvals))
        assert np.all(approx.eigvals >= 0) and np.all(np.diff(approx.eigvals) <= 0)
        assert abs(approx.eigvals[0] - 1.0) < 1e-3
        assert min_eig_of_gap(A, approx) >= -dominance_tol(approx, A)


@pytest.mark.parametrize("rank", [30, 45, 60])
def test_float32_cholesky_failure_falls_back_without_nan(rank, monkeypatch):
    # A float32 matrix with rounding-level negative eigenvalues (as a float32 Gram matrix
    # has) makes Ωᵀ(A + νI)Ω numerically indefinite: Cholesky fails and the eigh fallback
    # must give a finite, sensible answer.
    n = 60
    lam = np.zeros(n)
    lam[:9] = np.logspace(0, -8, 9)
    lam[-5:] = -1e-6
    A = psd_matrix(lam, seed=0, dtype=np.float32)
    calls = []
    original = nystrom_module._eigh_factor

    def spy(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(nystrom_module, "_eigh_factor", spy)
    approx = nystrom(A, rank, oversample=0, random_state=1)
    assert calls, "the Cholesky fallback was not exercised"
    assert approx.dtype == np.float32
    assert 1 <= approx.rank <= rank
    assert np.all(np.isfinite(approx.U)) and np.all(np.isfinite(approx.eigvals))
    assert np.all(approx.eigvals >= 0) and np.all(np.diff(approx.eigvals) <= 0)
    assert abs(approx.eigvals[0] - 1.0) < 1e-3
    np.testing.assert_allclose(approx.U.T @ approx.U, np.eye(approx.rank), atol=1e-4)
    # The dominant part of A is captured.
    assert np.linalg.norm(approx.to_dense() - A, 2) <= 1e-3


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zero_matrix(dtype):
    A = np.zeros((20, 20), dtype=dtype)
    approx = nystrom(A, 5, random_state=0)
    assert approx.rank <= 5
    assert np.all(np.isfinite(approx.eigvals)) and np.all(approx.eigvals == 0)
    assert np.all(np.isfinite(approx.U))
    dense = approx.to_dense()
    assert dense.shape == (20, 20) and np.all(dense == 0)
    v = np.ones(20, dtype=dtype)
    out = approx @ v
    assert out.shape == (20,) and np.all(out == 0)


# ------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("rank", "exc", "match"),
    [
        (0, ValueError, "rank"),
        (-2, ValueError, "rank"),
        (31, ValueError, "rank"),
        (2.0, TypeError, "rank"),
        (2.5, TypeError, "rank"),
        ("3", TypeError, "rank"),
        (None, TypeError, "rank"),
        (True, TypeError, "rank"),
    ],
)
def test_invalid_rank(rank, exc, match):
    A = psd_matrix(spectrum("poly", 30))
    with pytest.raises(exc, match=match):
        nystrom(A, rank)


@pytest.mark.parametrize("oversample", [-1, 1.5, "2", None])
def test_invalid_oversample(oversample):
    A = psd_matrix(spectrum("poly", 30))
    with pytest.raises((ValueError, TypeError), match="oversample"):
        nystrom(A, 3, oversample=oversample)


def test_non_square_raises():
    with pytest.raises(ValueError, match="square"):
        nystrom(np.ones((5, 6)), 2)
    with pytest.raises(ValueError, match="square"):
        nystrom(((5, 6), lambda v: np.ones(5)), 2)


def test_non_symmetric_raises():
    rng = np.random.default_rng(20)
    B = rng.standard_normal((20, 20))
    A = B @ B.T + np.triu(B, 1)  # PSD part plus a clearly non-symmetric part
    with pytest.raises(ValueError, match="symmetric"):
        nystrom(A, 5, random_state=0)
    with pytest.raises(ValueError, match="symmetric"):
        nystrom(sp.csr_matrix(A), 5, random_state=0)
    # Callables cannot be inspected, but the sketch Ωᵀ A Ω reveals the asymmetry.
    op = (A.shape, lambda v: A @ v, lambda V: A @ V)
    with pytest.raises(ValueError, match="symmetric"):
        nystrom(op, 5, random_state=0, like=np.ones(20))


@pytest.mark.parametrize("seed", range(5))
def test_indefinite_raises(seed):
    A = np.diag(np.tile([1.0, -1.0], 15))
    with pytest.raises(ValueError, match="positive semidefinite"):
        nystrom(A, 5, random_state=seed)
    with pytest.raises(ValueError, match="positive semidefinite"):
        nystrom(-psd_matrix(spectrum("exp", 30), seed=seed), 5, random_state=seed)


def test_nan_or_inf_raises():
    A = psd_matrix(spectrum("poly", 10))
    A[2, 3] = A[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        nystrom(A, 3, random_state=0)
    # A callable that produces NaN is caught at the sketch.
    op = (A.shape, lambda v: A @ v, lambda V: A @ V)
    with pytest.raises(ValueError, match="NaN"), np.errstate(invalid="ignore"):
        nystrom(op, 3, random_state=0, like=np.ones(10))
    A[2, 3] = A[3, 2] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        nystrom(sp.csr_matrix(A), 3, random_state=0)


def test_invalid_random_state():
    A = psd_matrix(spectrum("poly", 10))
    with pytest.raises(TypeError, match="random_state"):
        nystrom(A, 3, random_state="seed")
    with pytest.raises(ValueError, match="random_state"):
        nystrom(A, 3, random_state=-1)


# ---------------------------------------------------------------- preconditioner


def dense_preconditioner_inverse(approx, mu):
    U, lam = approx.U.astype(np.float64), approx.eigvals.astype(np.float64)
    n = U.shape[0]
    return (lam[-1] + mu) * (U / (lam + mu)) @ U.T + (np.eye(n) - U @ U.T)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mu", [1e-3, 0.5])
def test_preconditioner_matches_dense_formula(dtype, mu):
    n = 50
    A = psd_matrix(spectrum("poly", n), seed=21, dtype=dtype)
    approx = nystrom(A, 10, random_state=22)
    P = NystromPreconditioner(approx, mu)
    assert P.rank == 10 and P.shape == (n, n) and P.mu == mu and P.dtype == dtype
    assert "rank=10" in repr(P)
    Pinv = dense_preconditioner_inverse(approx, mu)
    rng = np.random.default_rng(23)
    v = rng.standard_normal(n).astype(dtype)
    V = rng.standard_normal((n, 4)).astype(dtype)
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    scale = np.linalg.norm(Pinv, 2)
    for out, ref in [(P.matvec(v), Pinv @ v), (P @ v, Pinv @ v), (P.matmat(V), Pinv @ V),
                     (P @ V, Pinv @ V), (P.as_linear_operator() @ v, Pinv @ v),
                     (P.as_linear_operator().matmat(V), Pinv @ V), (P.as_operator() @ V, Pinv @ V)]:
        assert out.dtype == dtype and out.shape == ref.shape
        np.testing.assert_allclose(out, ref, rtol=0, atol=rtol * scale * np.sqrt(n) * 4)


def test_preconditioner_in_scipy_cg_reduces_iterations():
    n, mu = 300, 1e-5
    A = psd_matrix(spectrum("poly", n), seed=24)
    Amu = A + mu * np.eye(n)
    b = np.random.default_rng(25).standard_normal(n)
    P = NystromPreconditioner(nystrom(A, 100, random_state=26), mu)
    M = P.as_linear_operator()
    assert isinstance(M, spla.LinearOperator) and M.shape == (n, n)
    _, info_plain, it_plain = count_cg_iterations(Amu, b, rtol=1e-10, maxiter=5000)
    x_prec, info_prec, it_prec = count_cg_iterations(Amu, b, rtol=1e-10, M=M, maxiter=5000)
    assert info_plain == 0 and info_prec == 0
    x_true = np.linalg.solve(Amu, b)
    assert np.linalg.norm(x_prec - x_true) <= 1e-6 * np.linalg.norm(x_true)
    assert it_prec * 5 <= it_plain
    assert it_prec <= 45


@pytest.mark.parametrize("mu", [1e-3, 0.1, 10.0])
def test_preconditioner_exact_when_sketch_is_full(mu):
    # ℓ = n: Â = A up to the shift, so P⁻¹(A + μI) = (λ̂_n + μ) I.
    n = 40
    lam = np.linspace(2.0, 0.05, n)
    A = psd_matrix(lam, seed=27)
    approx = nystrom(A, n, oversample=0, random_state=28)
    P = NystromPreconditioner(approx, mu)
    Pinv = P @ np.eye(n)
    eig = np.linalg.eigvals(Pinv @ (A + mu * np.eye(n))).real
    np.testing.assert_allclose(eig, lam[-1] + mu, rtol=1e-8)
    np.testing.assert_allclose(approx.eigvals[-1], lam[-1], rtol=1e-8)


def test_preconditioner_mu_zero_drops_zero_eigenpairs():
    n = 30
    A = psd_matrix(np.r_[np.linspace(3, 1, 5), np.zeros(n - 5)], seed=29)
    approx = nystrom(A, 5, oversample=5, random_state=30)
    approx = NystromApprox(approx.U, np.where(approx.eigvals > 1e-8, approx.eigvals, 0.0),
                           approx.sketch_size, approx.shift)
    P = NystromPreconditioner(approx, 0.0)
    assert P.rank == 5
    np.testing.assert_allclose(P.eigvals, np.linspace(3, 1, 5), rtol=1e-10)
    v = np.random.default_rng(31).standard_normal(n)
    ref = dense_preconditioner_inverse(NystromApprox(approx.U[:, :5], approx.eigvals[:5], 10), 0.0) @ v
    np.testing.assert_allclose(P @ v, ref, atol=1e-12)
    assert np.all(np.isfinite(P @ v))


@pytest.mark.parametrize("mu", [-1.0, -1e-12, np.nan, np.inf])
def test_preconditioner_invalid_mu(mu):
    approx = nystrom(psd_matrix(spectrum("poly", 10)), 3, random_state=0)
    with pytest.raises(ValueError, match="mu"):
        NystromPreconditioner(approx, mu)


def test_preconditioner_wrong_argument_types():
    A = psd_matrix(spectrum("poly", 10))
    with pytest.raises(TypeError, match="NystromApprox"):
        NystromPreconditioner(A, 1.0)
    with pytest.raises(TypeError, match="NystromApprox"):
        NystromPreconditioner((np.eye(10), np.ones(10)), 1.0)
    with pytest.raises(TypeError, match="mu"):
        NystromPreconditioner(nystrom(A, 3, random_state=0), "1.0")


# -------------------------------------------------------------- adaptive Nyström


def run_adaptive(A, mu, **kwargs):
    op = as_operator(A)
    xp = array_namespace(A)
    return adaptive_nystrom(op, mu, xp=xp, dtype=A.dtype, device=None, **kwargs)


def doubling_schedule(initial, cap):
    sizes = [min(initial, cap)]
    while sizes[-1] < cap:
        sizes.append(min(2 * sizes[-1], cap))
    return sizes


@pytest.mark.parametrize("mu", [1e-1, 1e-2, 1e-4, 1e-8, 1e-30])
@pytest.mark.parametrize(("initial_rank", "max_rank"), [(4, 200), (5, 150), (3, 70)])
def test_adaptive_stops_at_first_doubling_below_tol(mu, initial_rank, max_rank):
    n, tol = 250, 10.0
    lam = 0.8 ** np.arange(n)
    A = psd_matrix(lam, seed=32)
    schedule = doubling_schedule(initial_rank, max_rank)
    approx = run_adaptive(A, mu, random_state=33, initial_rank=initial_rank, max_rank=max_rank, tol=tol)
    ell = approx.sketch_size
    assert ell in schedule
    assert approx.rank == ell  # all ℓ columns are kept
    assert approx.U.shape == (n, ell)
    # λ̂_ℓ of each step of the schedule: the sketch of a capped run is a prefix of the
    # uncapped one, so capping at each step reproduces the intermediate sketches.
    prefix = {}
    for cap in schedule:
        step = run_adaptive(A, mu, random_state=33, initial_rank=initial_rank, max_rank=cap, tol=tol)
        prefix[step.sketch_size] = step.eigvals[-1]
    for size in schedule:
        if size < ell:
            assert size in prefix
    eps = np.finfo(np.float64).eps
    scale = mu if mu > 0 else np.sqrt(eps) * approx.eigvals[0]
    if ell < max_rank:
        assert approx.eigvals[-1] <= tol * scale
    for size in schedule:
        if size < ell:
            assert prefix[size] > tol * scale
    # Independent upper bound from the true spectrum: λ̂_ℓ <= λ_ℓ, so the sketch stops no
    # later than the first step where the true ℓ-th eigenvalue is below tol·scale.
    first_true = next((s for s in schedule if lam[s - 1] < tol * scale * 0.99), max_rank)
    assert ell <= first_true


@pytest.mark.parametrize("stop_at", [8, 16, 32, 64])
def test_adaptive_stopping_boundary(stop_at):
    # Put tol·mu just above / just below λ̂_ℓ of one step of the schedule: the sketch must
    # stop exactly at that step / go on to the next one.
    n = 200
    A = psd_matrix(0.85 ** np.arange(n), seed=45)
    kwargs = dict(random_state=46, initial_rank=8, tol=1.0)
    # A tiny mu never stops the doubling: capping it reproduces each step of the schedule.
    lam_at = run_adaptive(A, 1e-300, max_rank=stop_at, **kwargs).eigvals[-1]
    if stop_at > 8:
        assert run_adaptive(A, 1e-300, max_rank=stop_at // 2, **kwargs).eigvals[-1] > lam_at * (1 + 1e-6)
    above = run_adaptive(A, lam_at * (1 + 1e-9), max_rank=n, **kwargs)
    assert above.sketch_size == stop_at
    below = run_adaptive(A, lam_at * (1 - 1e-9), max_rank=n, **kwargs)
    assert below.sketch_size == 2 * stop_at
    # tol scales the threshold.
    scaled = run_adaptive(A, lam_at * (1 + 1e-9) / 10, max_rank=n, random_state=46, initial_rank=8, tol=10.0)
    assert scaled.sketch_size == stop_at


def test_adaptive_pays_only_new_columns_and_is_accurate():
    n = 200
    A = psd_matrix(0.8 ** np.arange(n), seed=34)
    op = CountingOperator(A)
    xp = array_namespace(A)
    approx = adaptive_nystrom(op, 1e-8, xp=xp, dtype=A.dtype, device=None, random_state=35,
                              initial_rank=8, max_rank=n, tol=10.0)
    assert approx.sketch_size == 128
    assert op.columns == approx.sketch_size  # each doubling applies only the new columns
    assert op.calls == len(doubling_schedule(8, 128))
    np.testing.assert_allclose(approx.U.T @ approx.U, np.eye(128), atol=1e-10)
    assert min_eig_of_gap(A, approx) >= -dominance_tol(approx, A)
    assert np.linalg.norm(A - approx.to_dense(), 2) <= 1e-6


def test_adaptive_reaches_cap_on_flat_spectrum():
    n = 100
    A = psd_matrix(np.linspace(1.0, 0.5, n), seed=36)
    approx = run_adaptive(A, 1e-3, random_state=0, initial_rank=6, max_rank=70, tol=10.0)
    assert approx.sketch_size == 70
    # initial_rank above the cap is clipped to it.
    approx = run_adaptive(A, 1e-3, random_state=0, initial_rank=90, max_rank=70, tol=10.0)
    assert approx.sketch_size == 70


def test_adaptive_reproducible_by_seed():
    n = 120
    A = psd_matrix(spectrum("poly", n), seed=37)
    kwargs = dict(initial_rank=4, max_rank=n, tol=10.0)
    a1 = run_adaptive(A, 1e-4, random_state=7, **kwargs)
    a2 = run_adaptive(A, 1e-4, random_state=7, **kwargs)
    a3 = run_adaptive(A, 1e-4, random_state=np.random.default_rng(7), **kwargs)
    assert a1.sketch_size == a2.sketch_size == a3.sketch_size
    np.testing.assert_array_equal(a1.U, a2.U)
    np.testing.assert_array_equal(a1.eigvals, a2.eigvals)
    np.testing.assert_array_equal(a1.eigvals, a3.eigvals)
    b = run_adaptive(A, 1e-4, random_state=8, **kwargs)
    assert not np.allclose(a1.eigvals[: b.rank], b.eigvals[: a1.rank], rtol=1e-6, atol=0)


# --------------------------------------------------------------- array_api_strict


def to_numpy(x):
    return np.from_dlpack(x)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_array_api_strict_nystrom(dtype):
    A = psd_matrix(spectrum("poly", 40), seed=38, dtype=np.dtype(dtype))
    As = xs.asarray(A)
    approx = nystrom(As, 6, random_state=39)
    ref = nystrom(A, 6, random_state=39)
    assert isinstance(approx.U, type(As)) and isinstance(approx.eigvals, type(As))
    assert approx.U.dtype == getattr(xs, dtype) and approx.eigvals.dtype == getattr(xs, dtype)
    assert approx.rank == 6 and approx.shape == (40, 40)
    rtol = 1e-10 if dtype == "float64" else 1e-4
    np.testing.assert_allclose(to_numpy(approx.eigvals), ref.eigvals, rtol=rtol)
    np.testing.assert_allclose(to_numpy(approx.to_dense()), ref.to_dense(), atol=rtol * ref.eigvals[0])
    v = xs.asarray(np.ones(40, dtype=dtype))
    out = approx @ v
    assert isinstance(out, type(As)) and out.dtype == getattr(xs, dtype)
    np.testing.assert_allclose(to_numpy(out), ref @ np.ones(40, dtype=dtype), atol=10 * rtol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mu", [1e-3, 0.0])
def test_array_api_strict_preconditioner(dtype, mu):
    A = psd_matrix(spectrum("poly", 40), seed=40, dtype=np.dtype(dtype))
    As = xs.asarray(A)
    approx = nystrom(As, 6, random_state=41)
    P = NystromPreconditioner(approx, mu)
    Pref = NystromPreconditioner(nystrom(A, 6, random_state=41), mu)
    rng = np.random.default_rng(42)
    v = rng.standard_normal(40).astype(dtype)
    V = rng.standard_normal((40, 3)).astype(dtype)
    rtol = 1e-9 if dtype == "float64" else 1e-3
    for out, ref in [(P @ xs.asarray(v), Pref @ v), (P @ xs.asarray(V), Pref @ V)]:
        assert isinstance(out, type(As)) and out.dtype == getattr(xs, dtype)
        np.testing.assert_allclose(to_numpy(out), ref, rtol=rtol, atol=rtol)


def test_array_api_strict_cholesky_fallback():
    # The eigh fallback of the Cholesky step must also stay within the array API.
    n = 60
    lam = np.zeros(n)
    lam[:9] = np.logspace(0, -8, 9)
    lam[-5:] = -1e-6
    A = psd_matrix(lam, seed=0, dtype=np.float32)
    ref = nystrom(A, 30, oversample=0, random_state=1)
    approx = nystrom(xs.asarray(A), 30, oversample=0, random_state=1)
    assert approx.eigvals.dtype == xs.float32
    assert approx.rank == ref.rank
    eig = to_numpy(approx.eigvals)
    assert np.all(np.isfinite(eig)) and np.all(np.isfinite(to_numpy(approx.U)))
    np.testing.assert_allclose(eig, ref.eigvals, rtol=1e-3, atol=1e-5)


def test_array_api_strict_adaptive():
    A = psd_matrix(0.8 ** np.arange(100), seed=43)
    As = xs.asarray(A)
    approx = adaptive_nystrom(as_operator(As), 1e-4, xp=array_namespace(As), dtype=As.dtype, device=None,
                              random_state=44, initial_rank=4, max_rank=100, tol=10.0)
    ref = run_adaptive(A, 1e-4, random_state=44, initial_rank=4, max_rank=100, tol=10.0)
    assert approx.sketch_size == ref.sketch_size
    np.testing.assert_allclose(to_numpy(approx.eigvals), ref.eigvals, rtol=1e-8, atol=1e-14)


# ------------------------------------------------------------------- hypothesis


@settings(max_examples=30)
@given(
    n=st.integers(3, 80),
    dtype=st.sampled_from([np.float32, np.float64]),
    kind=st.sampled_from(["exp", "poly", "lowrank"]),
    rate=st.floats(0.05, 3.0),
    rank_frac=st.floats(0.0, 1.0),
    oversample=st.integers(0, 10),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_dominated_and_descending(n, dtype, kind, rate, rank_frac, oversample, seed):
    i = np.arange(n, dtype=np.float64)
    if kind == "exp":
        lam = np.exp(-rate * i)
    elif kind == "poly":
        lam = 1.0 / (1.0 + i) ** rate
    else:
        k = max(1, int(rate / 3.0 * n))
        lam = np.where(i < k, 1.0 + i[::-1] / n, 0.0)
    A = psd_matrix(lam, seed=seed, dtype=dtype)
    rank = 1 + int(rank_frac * (n - 1))
    approx = nystrom(A, rank, oversample=oversample, random_state=seed)
    assert approx.dtype == dtype
    assert approx.sketch_size == min(rank + oversample, n)
    assert approx.rank <= rank
    eig = approx.eigvals
    assert np.all(np.isfinite(eig)) and np.all(np.isfinite(approx.U))
    assert np.all(eig >= 0)
    assert np.all(np.diff(eig) <= 0)
    assert min_eig_of_gap(A, approx) >= -dominance_tol(approx, A)


# --- issue 13: argument validation of the public classes and of nystrom ----------------------

def _basis(n=10, r=3, seed=0):
    return np.linalg.qr(np.random.default_rng(seed).standard_normal((n, r)))[0]


@pytest.mark.parametrize(("eigvals", "message"), [
    (np.array([1.0, -1.0, 0.5]), r"^eigvals must be non-negative"),
    (np.array([1.0, 2.0]), r"^eigvals must have one entry per column of U \(3\), got 2"),
    (np.array([np.nan, 1.0, 1.0]), r"^eigvals contains NaN or infinity"),
    (np.array([np.inf, 1.0, 1.0]), r"^eigvals contains NaN or infinity"),
    (np.array([1.0, 2.0, 0.5]), r"^eigvals must be in descending order"),
    (np.array([1.0, 0.5, 0.1]) + 1j, r"^eigvals must hold real numbers"),
    (np.ones((3, 1)), r"^eigvals must be a 1-D array"),
])
def test_nystrom_approx_rejects_bad_eigenvalues(eigvals, message):
    with pytest.raises(ValueError, match=message):
        NystromApprox(_basis(), eigvals, 3)


@pytest.mark.parametrize(("U", "message"), [
    (np.ones(10), r"^U must be a 2-D array"),
    (np.full((10, 3), np.nan), r"^U contains NaN or infinity"),
    (np.ones((10, 3)) * 1j, r"^U must hold real numbers"),
])
def test_nystrom_approx_rejects_bad_basis(U, message):
    with pytest.raises(ValueError, match=message):
        NystromApprox(U, np.array([3.0, 2.0, 1.0]), 3)


@pytest.mark.parametrize("U", ["abc", "", True, 1 + 2j, 1.5, None])
def test_nystrom_approx_rejects_a_basis_that_is_not_an_array(U):
    # The policy: a kind that is never an array is a TypeError (was ValueError).
    with pytest.raises(TypeError, match=r"^U must be an array"):
        NystromApprox(U, np.array([3.0, 2.0, 1.0]), 3)


@pytest.mark.parametrize(("size", "error", "message"), [
    (0, ValueError, r"^sketch_size must be at least the rank \(the 3 columns of U\), got 0$"),
    (-4, ValueError, r"^sketch_size must be >= 0"),
    (2, ValueError, r"^sketch_size must be at least the rank \(the 3 columns of U\), got 2$"),
    (3.0, TypeError, r"^sketch_size must be an integer"),
    (True, TypeError, r"^sketch_size must be an integer"),
])
def test_nystrom_approx_rejects_bad_sketch_size(size, error, message):
    # Was: 0 (and sizes below the rank) accepted, though a sketch spends one product per column.
    with pytest.raises(error, match=message):
        NystromApprox(_basis(), np.array([3.0, 2.0, 1.0]), size)


def test_nystrom_approx_sketch_size_may_exceed_the_rank_or_hold_a_zero_operator():
    assert NystromApprox(_basis(), np.array([3.0, 2.0, 1.0]), np.int64(13)).sketch_size == 13
    assert NystromApprox(np.zeros((10, 0)), np.zeros(0), 5).rank == 0
    # No sketch at all (nystrom_pcg solved by plain CG first): the identity preconditioner.
    empty = NystromApprox(np.zeros((10, 0)), np.zeros(0), 0)
    v = np.arange(10.0)
    np.testing.assert_array_equal(NystromPreconditioner(empty, 1e-3) @ v, v)


def _precond():
    return NystromPreconditioner(NystromApprox(_basis(), np.array([3.0, 2.0, 1.0]), 3), 0.1)


@pytest.mark.parametrize("target", ["preconditioner", "approx"])
@pytest.mark.parametrize(("method", "x", "error", "message"), [
    ("matvec", "abc", TypeError, r"^v must be an array"),
    ("matvec", None, TypeError, r"^v must be an array"),
    ("matvec", 1.5, TypeError, r"^v must be an array"),
    ("matvec", np.ones(10) + 1j, ValueError, r"^v must hold real numbers, got dtype complex128$"),
    ("matvec", np.full(10, "a"), ValueError, r"^v must hold real numbers"),
    ("matvec", np.ones(10, dtype=object), ValueError, r"^v must hold real numbers"),
    ("matvec", np.array(1.0), ValueError, r"^v must have shape \(10,\) to match the operator, got \(\)$"),
    ("matvec", np.ones(11), ValueError, r"^v must have shape \(10,\)"),
    ("matvec", np.ones((10, 2)), ValueError, r"^v must have shape \(10,\)"),
    ("matmat", "abc", TypeError, r"^V must be an array"),
    ("matmat", np.ones((10, 2)) + 1j, ValueError, r"^V must hold real numbers"),
    ("matmat", np.full((10, 2), "a"), ValueError, r"^V must hold real numbers"),
    ("matmat", np.ones(10), ValueError, r"^V must be a 2-D block \(10, k\) with k >= 1"),
    ("matmat", np.ones((11, 2)), ValueError, r"^V must be a 2-D block"),
    ("matmat", np.ones((10, 0)), ValueError, r"^V must be a 2-D block"),
])
def test_preconditioner_products_check_their_input(target, method, x, error, message):
    # Was: NumPy's matmul errors (UFuncTypeError, "does not have enough dimensions") not
    # naming the argument, and complex input silently cast.
    obj = _precond() if target == "preconditioner" else _precond_approx()
    with pytest.raises(error, match=message):
        getattr(obj, method)(x)


def _precond_approx():
    return NystromApprox(_basis(), np.array([3.0, 2.0, 1.0]), 3)


def test_preconditioner_products_keep_float32_and_accept_lists():
    U = _basis().astype(np.float32)
    P = NystromPreconditioner(NystromApprox(U, np.array([3.0, 2.0, 1.0], np.float32), 3), 0.1)
    v = np.arange(10.0, dtype=np.float32)
    assert P.matvec(v).dtype == np.float32
    assert P.matmat(np.ones((10, 2), np.float32)).dtype == np.float32
    np.testing.assert_array_equal(P.matvec(v.tolist()), P.matvec(v.astype(np.float64)))
    np.testing.assert_array_equal((P @ v), P.matvec(v))


@pytest.mark.parametrize("mu", [-1e-3, np.nan, np.inf])
def test_preconditioner_rejects_bad_mu(mu):
    approx = NystromApprox(_basis(), np.array([3.0, 2.0, 1.0]), 3)
    with pytest.raises(ValueError, match=r"^mu must be"):
        NystromPreconditioner(approx, mu)


def test_preconditioner_from_valid_approx_matches_formula():
    U, lam, mu = _basis(), np.array([3.0, 2.0, 1.0]), 0.1
    P = NystromPreconditioner(NystromApprox(U, lam, 3), mu)
    dense = (lam[-1] + mu) * (U / (lam + mu)) @ U.T + np.eye(10) - U @ U.T
    v = np.arange(10.0)
    np.testing.assert_allclose(P @ v, dense @ v, rtol=1e-13)


def test_preconditioner_mu0_drops_rounding_level_eigenvalues():
    # A user approximation with a rounding-level trailing eigenvalue: keeping it would scale
    # U's span by 1e-20 and collapse P⁻¹ (the nystrom_pcg breakdown on singular systems).
    U = _basis()
    P = NystromPreconditioner(NystromApprox(U, np.array([3.0, 1.0, 1e-20]), 3), 0.0)
    assert P.rank == 2
    v = U[:, 0]
    np.testing.assert_allclose(P @ v, v / 3.0, rtol=1e-12)


@pytest.mark.parametrize("shape", [(0, 0), (4, 0), (0, 4)])
def test_nystrom_rejects_an_empty_matrix_naming_it(shape):
    # Was Operator's "shape must be a pair of positive integers", which does not name A.
    with pytest.raises(ValueError, match=r"^A must not be empty"):
        nystrom(np.ones(shape), 1)


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    (dict(rank=2.0), TypeError, r"^rank must be an integer"),
    (dict(rank="auto"), TypeError, r"^rank must be an integer"),
    (dict(rank=0), ValueError, r"^rank must be >= 1"),
    (dict(rank=9), ValueError, r"^rank=9 exceeds"),
    (dict(rank=2, oversample=-1), ValueError, r"^oversample must be >= 0"),
    (dict(rank=2, oversample=1.5), TypeError, r"^oversample must be an integer"),
    (dict(rank=2, oversample=True), TypeError, r"^oversample must be an integer"),
    (dict(rank=2, like=np.ones(3) * 1j), ValueError, r"^like must hold real numbers"),
    (dict(rank=2, like=np.array(["a"])), ValueError, r"^like must hold real numbers"),
])
def test_nystrom_argument_errors_name_the_argument(kwargs, error, message):
    with pytest.raises(error, match=message):
        nystrom(np.eye(8), **kwargs)


@pytest.mark.parametrize(("A", "message"), [
    (np.eye(4) * (1 + 1j), r"^A must hold real numbers"),
    (np.array([["a", "b"], ["c", "d"]]), r"^A must hold real numbers"),
])
def test_nystrom_rejects_non_real_matrices(A, message):
    with pytest.raises(ValueError, match=message):
        nystrom(A, 1)
