"""Pluggable Nyström test matrices (``sketch=``): each kind against the exact Nyström formula
``Y (ΩᵀY)⁺ Yᵀ`` built with the same ``Ω``, error against the best rank-r error, PSD-ness,
float32, array_api_strict, the adaptive doubling, and bad ``sketch=`` values."""

import array_api_strict as xs
import numpy as np
import pytest
import scipy.sparse as sp
from helpers import psd_matrix
from hypothesis import given, settings
from hypothesis import strategies as st

from rnla import GramOperator, as_operator, nystrom
from rnla._backend import array_namespace
from rnla._sketch_ops import SPARSE_SIGN_NNZ, TestMatrix, _sparse_rows
from rnla.nystrom import adaptive_nystrom

KINDS = ["gaussian", "sparse_sign", "srtt"]


def omega_of(kind, n, sizes, seed, dtype=np.float64):
    """The test matrix nystrom/adaptive_nystrom draw for ``seed``, block sizes ``sizes``."""
    T = TestMatrix(kind, n, xp=array_namespace(np.ones(1)), dtype=dtype, device=None,
                   rng=np.random.default_rng(seed))
    for k in sizes:
        T.extend(k)
    return T


def exact_nystrom(A, Omega):
    Y = A @ Omega
    return Y @ np.linalg.pinv(Omega.T @ Y) @ Y.T


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("ell", [1, 7, 30, 64])
def test_matches_exact_formula_with_the_same_omega(kind, ell):
    n = 150
    A = psd_matrix(0.85 ** np.arange(n), seed=1)
    approx = nystrom(A, ell, oversample=0, random_state=2, sketch=kind)
    Omega = omega_of(kind, n, [ell], 2).Omega
    ref = exact_nystrom(A, Omega)
    assert approx.sketch_size == ell
    np.testing.assert_allclose(approx.to_dense(), ref, atol=1e-9 * np.linalg.norm(A, 2))


@pytest.mark.parametrize("kind", KINDS)
def test_adaptive_doubling_matches_exact_formula_on_the_grown_omega(kind):
    n = 200
    A = psd_matrix(0.9 ** np.arange(n), seed=3)
    approx = adaptive_nystrom(as_operator(A), 1e-6, xp=array_namespace(A), dtype=A.dtype, device=None,
                              random_state=4, initial_rank=8, max_rank=64, tol=10.0, sketch=kind)
    assert approx.sketch_size == 64  # λ_64 = 0.9^63 ≈ 1e-3 > 10 μ: grows to the cap
    T = omega_of(kind, n, [8, 8, 16, 32], 4)
    np.testing.assert_allclose(approx.to_dense(), exact_nystrom(A, T.Omega), atol=1e-9)
    if kind != "sparse_sign":  # Gaussian and SRTT blocks stay orthonormal across doublings
        np.testing.assert_allclose(T.Omega.T @ T.Omega, np.eye(64), atol=1e-12)
    np.testing.assert_allclose(approx.U.T @ approx.U, np.eye(64), atol=1e-10)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_error_close_to_best_rank_r_on_decaying_spectrum(kind, seed):
    # Trace-norm error: Gaussian E <= (1 + r/(ℓ-r-1)) × best; structured sketches come close
    # in practice. Allow 2× the Gaussian factor per seed (catches a wrong formula by far).
    n, r, ell = 300, 10, 30
    lam = 1.0 / np.arange(1, n + 1) ** 2
    A = psd_matrix(lam, seed=10 + seed)
    approx = nystrom(A, ell, oversample=0, random_state=seed, sketch=kind)
    gap = A - approx.to_dense()
    err = np.trace(gap)
    best = lam[r:].sum()
    assert err <= 2.0 * (1 + r / (ell - r - 1)) * best
    assert np.linalg.eigvalsh((gap + gap.T) / 2)[0] >= -10 * approx.shift - 1e-12  # Â ⪯ A


@pytest.mark.parametrize("kind", ["sparse_sign", "srtt"])
def test_error_decreases_with_rank_as_gaussian_does(kind):
    # Slow decay (0.95^i, dense eigenvectors): the spectral error of the structured sketches,
    # averaged over 4 seeds, is within 1.3× the Gaussian one at every rank (measured: ±10%).
    n = 400
    A = psd_matrix(0.95 ** np.arange(n), seed=5)

    def mean_error(sketch, r):
        return np.mean([np.linalg.norm(A - nystrom(A, r, random_state=s, sketch=sketch).to_dense(), 2)
                        for s in range(4)])

    errs = [mean_error(kind, r) for r in (10, 40, 120)]
    assert errs[0] > errs[1] > errs[2]
    for r, err in zip((10, 40, 120), errs, strict=True):
        assert err <= 1.3 * mean_error("gaussian", r)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_psd_descending_and_dtype_kept(kind, dtype):
    A = psd_matrix(1.0 / np.arange(1, 101), seed=7, dtype=dtype)
    approx = nystrom(A, 20, random_state=8, sketch=kind)
    assert approx.U.dtype == dtype and approx.eigvals.dtype == dtype
    assert np.all(approx.eigvals >= 0) and np.all(np.diff(approx.eigvals) <= 0)
    tol = 1e-3 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(approx.U.T @ approx.U, np.eye(20), atol=tol)
    # Reference: the exact formula in float64 on the same (dtype-drawn) Ω.
    Omega = omega_of(kind, 100, [30], 8, dtype=dtype).Omega.astype(np.float64)
    ref = np.linalg.eigvalsh(exact_nystrom(A.astype(np.float64), Omega))[::-1][:20]
    np.testing.assert_allclose(approx.eigvals, ref, rtol=1e-3 if dtype == np.float32 else 1e-10)


@pytest.mark.parametrize("kind", KINDS)
def test_low_rank_recovered_exactly(kind):
    rng = np.random.default_rng(9)
    G = rng.standard_normal((120, 6))
    A = G @ G.T
    approx = nystrom(A, 6, oversample=6, random_state=10, sketch=kind)
    np.testing.assert_allclose(approx.to_dense(), A, atol=1e-8 * np.linalg.norm(A))


@pytest.mark.parametrize("kind", KINDS)
def test_gram_operator_with_sparse_data(kind):
    X = sp.random(400, 60, density=0.05, random_state=11, format="csr")
    op = GramOperator(X)
    dense = (X.T @ X).toarray() / 400
    approx = nystrom(op, 60, oversample=0, random_state=12, sketch=kind)
    np.testing.assert_allclose(approx.to_dense(), dense, atol=1e-9 * np.linalg.norm(dense))


@pytest.mark.parametrize("kind", KINDS)
def test_reproducible_by_seed(kind):
    A = psd_matrix(0.9 ** np.arange(80), seed=13)
    a, b = (nystrom(A, 10, random_state=14, sketch=kind) for _ in range(2))
    np.testing.assert_array_equal(a.eigvals, b.eigvals)
    c = nystrom(A, 10, random_state=15, sketch=kind)
    assert not np.array_equal(a.eigvals, c.eigvals)


@pytest.mark.parametrize("kind", ["sparse_sign", "srtt"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_array_api_strict(kind, dtype):
    A = psd_matrix(1.0 / np.arange(1, 41) ** 2, seed=16, dtype=np.dtype(dtype))
    As = xs.asarray(A)
    approx = nystrom(As, 6, random_state=17, sketch=kind)
    ref = nystrom(A, 6, random_state=17, sketch=kind)
    assert approx.U.dtype == getattr(xs, dtype)
    rtol = 1e-10 if dtype == "float64" else 1e-4
    np.testing.assert_allclose(np.from_dlpack(approx.eigvals), ref.eigvals, rtol=rtol)


def test_user_callable():
    calls = []

    def rademacher(n, k, *, xp, dtype, device, random_state):
        calls.append((n, k))
        return xp.asarray(random_state.choice([-1.0, 1.0], size=(n, k)), dtype=dtype)

    A = psd_matrix(0.8 ** np.arange(60), seed=18)
    approx = nystrom(A, 12, oversample=0, random_state=19, sketch=rademacher)
    Omega = np.random.default_rng(19).choice([-1.0, 1.0], size=(60, 12))
    np.testing.assert_allclose(approx.to_dense(), exact_nystrom(A, Omega), atol=1e-9)
    assert calls == [(60, 12)]


def test_user_callable_bad_output():
    A = np.eye(10)
    with pytest.raises(ValueError, match="shape"):
        nystrom(A, 3, sketch=lambda n, k, **kw: np.ones((n, k + 1)))
    with pytest.raises(ValueError, match="NaN"):
        nystrom(A, 3, sketch=lambda n, k, **kw: np.full((n, k), np.nan))


@pytest.mark.parametrize(("sketch", "error"), [("gauss", ValueError), ("", ValueError), (3, TypeError),
                                                (None, TypeError)])
def test_bad_sketch_names_the_argument(sketch, error):
    with pytest.raises(error, match="sketch"):
        nystrom(np.eye(5), 2, sketch=sketch)
    with pytest.raises(error, match="sketch"):
        adaptive_nystrom(as_operator(np.eye(5)), 0.1, xp=array_namespace(np.ones(1)), dtype=np.float64,
                         device=None, sketch=sketch)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 200), k=st.integers(1, 64), seed=st.integers(0, 2**32 - 1))
def test_sparse_sign_rows_have_distinct_columns(n, k, seed):
    zeta = min(k, SPARSE_SIGN_NNZ)
    idx = _sparse_rows(np.random.default_rng(seed), n, k, zeta)
    assert idx.shape == (n, zeta)
    assert np.all((idx >= 0) & (idx < k))
    s = np.sort(idx, axis=1)
    assert not np.any(s[:, 1:] == s[:, :-1])


def test_sparse_sign_structure_and_uniform_columns():
    n, k = 20000, 64
    T = omega_of("sparse_sign", n, [k], 20)
    Omega = T.Omega
    assert np.all(np.count_nonzero(Omega, axis=1) == SPARSE_SIGN_NNZ)
    value = np.sqrt(k / (n * SPARSE_SIGN_NNZ))
    np.testing.assert_allclose(np.abs(Omega[Omega != 0]), value)
    # Each column gets n·ζ/k = 2500 entries on average (binomial sd ≈ 48): within 5 sd.
    counts = np.count_nonzero(Omega, axis=0)
    assert np.all(np.abs(counts - n * SPARSE_SIGN_NNZ / k) < 5 * 48)
    assert abs(np.mean(Omega[Omega != 0] > 0) - 0.5) < 0.01
    np.testing.assert_allclose(T.gram(), Omega.T @ Omega, atol=1e-14)
    np.testing.assert_allclose(T.project(np.ones((n, 2))), Omega.T @ np.ones((n, 2)), atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_srtt_is_signed_dct_rows(dtype):
    import scipy.fft

    n = 97
    T = omega_of("srtt", n, [10, 10, 20], 21, dtype=dtype)
    F = scipy.fft.dct(np.eye(n), type=2, norm="ortho", axis=0)  # F[r, :] is DCT-II row r
    rows = np.concatenate(T._rows)
    assert len(set(rows.tolist())) == 40
    ref = np.asarray(T._signs)[:, None] * F[rows].T
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(T.Omega, ref, atol=tol)
    Y = np.random.default_rng(22).standard_normal((n, 5)).astype(dtype)
    np.testing.assert_allclose(T.project(Y), T.Omega.T @ Y, atol=10 * tol)
    assert T.project(Y).dtype == dtype
