"""Tests of the thick-restart Lanczos eigensolver (``rnla.eigsh``, ``rnla.EigshNoConvergence``).

Eigenpairs are checked against ``numpy.linalg.eigh`` on ``Q diag(λ) Qᵀ`` test matrices
(well separated, clustered, repeated, indefinite and low-rank spectra) for every ``which``;
against :func:`scipy.sparse.linalg.eigsh` on sparse SPD matrices, for the 'BE' split and
for the number of operator products. Also covered: ``tol``, reproducibility, argument
validation, non-convergence, dtypes, every operator form, a ``hypothesis`` property, the
``array_api_strict`` dense core and (marked ``gpu``, skipped without one) CuPy.
"""

from functools import cache

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from helpers import CountingLinearOperator, input_forms, psd_matrix
from hypothesis import given, settings
from hypothesis import strategies as st

from rnla import EigshNoConvergence, eigsh

EPS = np.finfo(np.float64).eps
WHICH = ["LA", "SA", "LM", "BE"]

# ----------------------------------------------------------------------------- helpers


def spectrum(kind, n=200):
    """Named test spectra of length ``n`` (unsorted is fine: ``psd_matrix`` rotates them)."""
    if kind == "separated":
        # six isolated eigenvalues at each end, no two of equal magnitude
        return np.r_[np.linspace(-1.0, 1.0, n - 12), -np.linspace(2.1, 3.1, 6), np.linspace(2.0, 3.0, 6)]
    if kind == "clustered":  # the wanted ends are clusters of eigenvalues 1e-6 apart
        return np.r_[-2.5 - 1e-6 * np.arange(4), np.linspace(-1.0, 1.0, n - 8), 3.0 + 1e-6 * np.arange(4)]
    if kind == "repeated":  # multiplicity 3 at both ends
        return np.r_[np.full(3, -4.0), np.linspace(-1.0, 1.0, n - 6), np.full(3, 5.0)]
    if kind == "indefinite":
        return np.random.default_rng(1).uniform(-3.0, 3.0, n)
    if kind == "lowrank":  # many zero eigenvalues
        return np.r_[np.zeros(n - 10), np.linspace(1.0, 10.0, 10)]
    raise ValueError(kind)


@cache
def rotated(kind, n=200, seed=0):
    """Cached read-only ``(A, λ)`` with ``A = Q diag(λ) Qᵀ`` (building it dominates small tests)."""
    lam = spectrum(kind, n)
    A = psd_matrix(lam, seed=seed)
    A.setflags(write=False)
    lam.setflags(write=False)
    return A, lam


def expected(lam, k, which, num_small=None):
    """The ``k`` wanted eigenvalues of the spectrum ``lam``, ascending (as SciPy returns them)."""
    lam = np.sort(np.asarray(lam, dtype=np.float64))
    n = lam.shape[0]
    if which == "LA":
        return lam[n - k :]
    if which == "SA":
        return lam[:k]
    if which == "LM":
        return np.sort(lam[np.argsort(-np.abs(lam), kind="stable")[:k]])
    low = k // 2 if num_small is None else num_small
    return np.r_[lam[:low], lam[n - (k - low) :]]


def check_pairs(A, w, V, ref, anorm, *, rtol=1e-10):
    """Ascending eigenvalues equal to ``ref``, residuals and orthonormality ``<= rtol`` (·‖A‖)."""
    A = np.asarray(A, dtype=np.float64) if not sp.issparse(A) else A
    w64, V64 = np.asarray(w, dtype=np.float64), np.asarray(V, dtype=np.float64)
    k = ref.shape[0]
    assert w.shape == (k,) and V.shape == (A.shape[0], k)
    assert np.all(np.diff(w64) >= 0), "eigenvalues must be ascending"
    np.testing.assert_allclose(w64, ref, rtol=0, atol=rtol * anorm)
    residuals = np.linalg.norm(A @ V64 - V64 * w64, axis=0)
    assert residuals.max() <= rtol * anorm, residuals
    np.testing.assert_allclose(V64.T @ V64, np.eye(k), rtol=0, atol=rtol)


def laplacian_2d(m):
    T = sp.diags([-np.ones(m - 1), 2.0 * np.ones(m), -np.ones(m - 1)], [-1, 0, 1])
    eye = sp.eye(m)
    return (sp.kron(T, eye) + sp.kron(eye, T)).tocsr()


def sparse_gram(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = sp.random(300, n, density=0.02, random_state=rng, format="csr")
    return (X.T @ X + sp.diags(rng.uniform(0.5, 1.5, n))).tocsr()


# ------------------------------------------------------------------- vs numpy.eigh


@pytest.mark.parametrize("kind", ["separated", "clustered", "repeated", "indefinite", "lowrank"])
@pytest.mark.parametrize("which", WHICH)
@pytest.mark.parametrize("k", [5, 6])
def test_matches_numpy_eigh(kind, which, k):
    A, lam = rotated(kind, seed=2)
    w, V = eigsh(A, k, which=which, random_state=3)
    assert w.dtype == V.dtype == np.float64
    check_pairs(A, w, V, expected(lam, k, which), np.abs(lam).max())


@pytest.mark.parametrize("which", WHICH)
def test_eigenvectors_match_numpy_on_separated_spectrum(which):
    A, _ = rotated("separated", seed=4)
    ref_w, ref_V = np.linalg.eigh(A)
    w, V = eigsh(A, 6, which=which, random_state=5)
    idx = [int(np.argmin(np.abs(ref_w - x))) for x in w]
    # Each vector equals the reference one up to sign.
    overlap = np.abs(np.sum(V * ref_V[:, idx], axis=0))
    np.testing.assert_allclose(overlap, 1.0, rtol=0, atol=1e-10)


@pytest.mark.parametrize("which", WHICH)
@pytest.mark.parametrize("ncv", [8, 13, 40, 199])
def test_ncv_choices(which, ncv):
    A, lam = rotated("separated", seed=6)
    w, V = eigsh(A, 6, which=which, ncv=ncv, random_state=7)
    check_pairs(A, w, V, expected(lam, 6, which), np.abs(lam).max())


@pytest.mark.parametrize("which", WHICH)
@pytest.mark.parametrize(("n", "k"), [(2, 1), (3, 2), (10, 9), (25, 1), (25, 24)])
def test_small_problems_and_full_basis(which, n, k):
    lam = np.linspace(-1.0, 2.0, n) + 0.1 * np.random.default_rng(n).uniform(size=n)
    A = psd_matrix(lam, seed=n)
    w, V = eigsh(A, k, which=which, random_state=8)
    check_pairs(A, w, V, expected(lam, k, which), np.abs(lam).max())


@pytest.mark.parametrize("scale", [1e-150, 1e-8, 1e8, 1e150])
@pytest.mark.parametrize("which", WHICH)
def test_scale_invariance(scale, which):
    A, lam = rotated("indefinite", 100, seed=9)
    w, V = eigsh(A * scale, 4, which=which, random_state=10)
    check_pairs(A, w / scale, V, expected(lam, 4, which), np.abs(lam).max())


@pytest.mark.parametrize("which", WHICH)
def test_start_vector_in_an_invariant_subspace(which):
    # v0 is an eigenvector: the Krylov space is invariant after one step and the process
    # must restart from a fresh direction to find the others.
    A, lam = rotated("separated", 60, seed=11)
    _, U = np.linalg.eigh(A)
    for col in (0, 30, 59):
        w, V = eigsh(A, 4, which=which, v0=U[:, col], random_state=12)
        check_pairs(A, w, V, expected(lam, 4, which), np.abs(lam).max())


def test_zero_matrix():
    w, V = eigsh(np.zeros((12, 12)), 3, random_state=13)
    np.testing.assert_array_equal(w, 0.0)
    np.testing.assert_allclose(V.T @ V, np.eye(3), atol=1e-14)


@pytest.mark.parametrize("which", WHICH)
@pytest.mark.parametrize("rotated_basis", [False, True])
def test_high_multiplicity_with_breakdown(which, rotated_basis):
    # Five distinct eigenvalues, each six times: the Krylov space of any start vector is
    # invariant after five steps, so every copy beyond the first must come from a restart.
    # Regression: eigsh used to stop after one cycle with [1, 1, 2, 2, 2, 2] for LA (every Ritz
    # pair of the invariant blocks has residual 0); SciPy finds the six copies of 2.
    lam = np.repeat([-2.0, -1.0, 0.0, 1.0, 2.0], 6)
    A = psd_matrix(lam, seed=1) if rotated_basis else np.diag(lam)
    for seed in range(3):
        w, V = eigsh(A, 6, which=which, random_state=seed)
        if which == "LM":  # twelve eigenvalues of magnitude 2: either sign will do
            np.testing.assert_allclose(np.abs(w), 2.0, rtol=0, atol=1e-10)
            check_pairs(A, w, V, w, 2.0)
        else:
            check_pairs(A, w, V, expected(lam, 6, which), 2.0)


# Regression: eigsh once raised EigshNoConvergence here although every wanted pair had converged
# (its residual test stalled on clusters of equal eigenvalues beyond the wanted ones).
@pytest.mark.parametrize(
    ("lam", "which"),
    [
        pytest.param(np.repeat([-2.0, -1.0, 0.0, 1.0, 2.0], [7, 6, 8, 3, 6]), "LA", id="LA"),
        pytest.param(np.repeat([-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0], [3, 4, 3, 5, 2, 4, 4]), "LM", id="LM"),
    ],
)
def test_high_multiplicity_converges_for_larger_k(lam, which):
    A = np.diag(lam)
    ref = np.sort(spla.eigsh(A, 9, which=which, v0=np.ones(lam.shape[0]), return_eigenvectors=False))
    np.testing.assert_allclose(np.abs(ref), np.abs(expected(lam, 9, which)), atol=1e-10)  # SciPy: right
    for seed in range(3):
        w, V = eigsh(A, 9, which=which, random_state=seed)
        np.testing.assert_allclose(np.abs(w), np.abs(expected(lam, 9, which)), rtol=0, atol=1e-10)
        np.testing.assert_allclose(np.linalg.norm(A @ V - V * w, axis=0), 0.0, atol=1e-10 * 3)


# Regression: when the first Krylov space became invariant exactly at the end of a cycle, eigsh
# returned too few copies of a repeated wanted eigenvalue (e.g. [1, 2] instead of [2, 2]).
@pytest.mark.parametrize(
    ("lam", "which", "ncv", "want"),
    [
        pytest.param(np.repeat([-2.0, -1.0, 0.0, 1.0, 2.0], 6), "LA", 5, [2.0, 2.0], id="5-distinct"),
        pytest.param(np.r_[np.zeros(198), 1.0, 2.0], "SA", 3, [0.0, 0.0], id="rank-2"),
    ],
)
def test_invariant_subspace_at_the_end_of_the_first_cycle(lam, which, ncv, want):
    A = psd_matrix(lam, seed=0)
    for seed in range(3):
        w = eigsh(A, 2, which=which, ncv=ncv, random_state=seed, return_eigenvectors=False)
        np.testing.assert_allclose(w, want, rtol=0, atol=1e-10)


# -------------------------------------------------------------------------- 'BE'


@pytest.mark.parametrize("k", [2, 3, 4, 5, 7, 10])
def test_both_ends_split_matches_scipy(k):
    # SciPy's convention: k // 2 from the bottom, one more from the top when k is odd.
    A, lam = rotated("indefinite", 120, seed=14)
    ref = np.sort(spla.eigsh(A, k, which="BE", v0=np.ones(120), return_eigenvectors=False))
    w, V = eigsh(A, k, which="BE", random_state=15)
    np.testing.assert_allclose(ref, expected(lam, k, "BE"), atol=1e-10)
    check_pairs(A, w, V, ref, np.abs(lam).max())
    assert np.sum(w < 0) == k // 2 and np.sum(w > 0) == k - k // 2


@pytest.mark.parametrize("num_small", [0, 1, 2, 3, 4, 5])
def test_both_ends_num_small(num_small):
    lam = np.arange(1.0, 61.0)
    A = psd_matrix(lam, seed=16)
    w, V = eigsh(A, 5, which="BE", num_small=num_small, random_state=17)
    np.testing.assert_allclose(w, np.r_[lam[:num_small], lam[60 - (5 - num_small) :]], rtol=0, atol=1e-10)
    check_pairs(A, w, V, expected(lam, 5, "BE", num_small), 60.0)


def test_both_ends_k1_is_the_top():
    lam = np.arange(1.0, 21.0)
    A = psd_matrix(lam, seed=18)
    np.testing.assert_allclose(eigsh(A, 1, which="BE", random_state=0, return_eigenvectors=False), [20.0])
    np.testing.assert_allclose(
        eigsh(A, 1, which="BE", num_small=1, random_state=0, return_eigenvectors=False), [1.0]
    )


# ----------------------------------------------------------------- vs SciPy sparse


@pytest.mark.parametrize("which", ["LA", "SA"])
@pytest.mark.parametrize("name", ["laplacian", "gram"])
@pytest.mark.parametrize("k", [1, 6])
def test_matches_scipy_on_sparse_spd(which, name, k):
    A = laplacian_2d(30) if name == "laplacian" else sparse_gram()
    n = A.shape[0]
    v0 = np.random.default_rng(19).standard_normal(n)
    ref = np.sort(spla.eigsh(A, k, which=which, v0=v0, tol=0, return_eigenvectors=False))
    w, V = eigsh(A, k, which=which, random_state=20)
    anorm = spla.norm(A, 1)
    assert isinstance(w, np.ndarray) and isinstance(V, np.ndarray)
    check_pairs(A, w, V, ref, anorm)
    if name == "laplacian":  # closed form: 4 sin²(iπ/2(m+1)) + 4 sin²(jπ/2(m+1))
        s = 4 * np.sin(np.arange(1, 31) * np.pi / 62) ** 2
        exact = np.sort((s[:, None] + s[None, :]).ravel())
        want = exact[:k] if which == "SA" else exact[n - k :]
        np.testing.assert_allclose(w, want, rtol=0, atol=1e-12 * anorm)


# ----------------------------------------------------------------- product counts


@pytest.mark.parametrize(
    ("problem", "which"), [("laplacian", "LA"), ("laplacian", "SA"), ("decaying", "LA"), ("decaying", "LM")]
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_products_no_more_than_arpack(problem, which, seed):
    A = laplacian_2d(30) if problem == "laplacian" else sp.diags(1.0 / np.arange(1.0, 1001.0) ** 0.5).tocsr()
    n = A.shape[0]
    v0 = np.random.default_rng(seed).standard_normal(n)
    op = arpack = CountingLinearOperator(A)
    ref = np.sort(spla.eigsh(op, 6, which=which, v0=v0, ncv=20, tol=0, return_eigenvectors=False))
    op = ours = CountingLinearOperator(A)
    w = eigsh(op, 6, which=which, v0=v0, ncv=20, return_eigenvectors=False)
    np.testing.assert_allclose(w, ref, rtol=0, atol=1e-10 * np.abs(ref).max())
    assert ours.count <= 1.3 * arpack.count, (ours.count, arpack.count)


def test_products_counted_once_per_lanczos_step():
    # Three isolated eigenvalues converge in the first cycle: exactly ncv products, one per
    # Lanczos step, none spent on anything else.
    lam = np.r_[np.linspace(0.0, 1.0, 97), 100.0, 1000.0, 10000.0]
    A = psd_matrix(lam, seed=21)
    op = count = CountingLinearOperator(A)
    w = eigsh(op, 3, ncv=30, random_state=22, return_eigenvectors=False)
    np.testing.assert_allclose(w, [100.0, 1000.0, 10000.0], rtol=1e-12)
    assert count.count == 30


# ---------------------------------------------------------------------------- tol


@pytest.mark.parametrize("tol", [1e-2, 1e-4, 1e-8])
def test_tolerance_gives_looser_but_correct_results(tol):
    lam = np.linspace(1.0, 100.0, 200)
    A = psd_matrix(lam, seed=23)
    v0 = np.random.default_rng(24).standard_normal(200)
    op = loose = CountingLinearOperator(A)
    w, V = eigsh(op, 6, ncv=13, tol=tol, v0=v0)
    op = tight = CountingLinearOperator(A)
    w0, V0 = eigsh(op, 6, ncv=13, v0=v0)
    check_pairs(A, w0, V0, lam[-6:], 100.0)
    assert loose.count < tight.count
    assert np.all(np.diff(w) >= 0)
    np.testing.assert_allclose(V.T @ V, np.eye(6), atol=1e-10)
    residuals = np.linalg.norm(A @ V - V * w, axis=0)
    assert np.all(residuals <= tol * np.abs(w) * (1 + 1e-6) + 1e3 * EPS * 100)
    # Each Ritz value lies within its residual of an eigenvalue, and below the exact one
    # it approximates (Cauchy interlacing for the top of the spectrum).
    dist = np.min(np.abs(w[:, None] - lam[None, :]), axis=1)
    assert np.all(dist <= residuals * (1 + 1e-8) + 1e3 * EPS * 100)
    assert np.all(w <= lam[-6:] + 1e-10)
    if tol <= 1e-4:  # small residuals: the error is at most ~ residual² / gap
        gap = 100.0 / 199
        assert np.all(np.abs(w - lam[-6:]) <= residuals**2 / gap * 1.01 + 1e-10)
    if tol <= 1e-8:
        np.testing.assert_allclose(w, lam[-6:], rtol=0, atol=1e-9 * 100)


# ------------------------------------------------------------- outputs and seeds


def test_return_eigenvectors_false_returns_only_w():
    A, _ = rotated("indefinite", seed=27)
    w = eigsh(A, 5, which="LM", return_eigenvectors=False, random_state=28)
    assert isinstance(w, np.ndarray) and w.shape == (5,)
    w2, _ = eigsh(A, 5, which="LM", random_state=28)
    np.testing.assert_array_equal(w, w2)


def test_random_state_reproducible():
    A, _ = rotated("clustered", seed=29)
    w1, V1 = eigsh(A, 6, which="BE", random_state=30)
    w2, V2 = eigsh(A, 6, which="BE", random_state=30)
    w3, V3 = eigsh(A, 6, which="BE", random_state=np.random.default_rng(30))
    np.testing.assert_array_equal(w1, w2)
    np.testing.assert_array_equal(V1, V2)
    np.testing.assert_array_equal(w1, w3)
    np.testing.assert_array_equal(V1, V3)
    # Another seed: the same eigenpairs, not the same bits (the start vector differs).
    w4, V4 = eigsh(A, 6, which="BE", random_state=31)
    np.testing.assert_allclose(w4, w1, atol=1e-12)
    assert not np.array_equal(V4, V1)


def test_v0_makes_it_deterministic():
    A, lam = rotated("separated", seed=32)
    v0 = np.random.default_rng(33).standard_normal(200)
    w1, V1 = eigsh(A, 6, which="LA", v0=v0)
    w2, V2 = eigsh(A, 6, which="LA", v0=v0)
    w3, V3 = eigsh(A, 6, which="LA", v0=3.0 * v0, random_state=34)  # the norm of v0 is irrelevant
    np.testing.assert_array_equal(w1, w2)
    np.testing.assert_array_equal(V1, V2)
    np.testing.assert_allclose(w3, w1, rtol=0, atol=1e-13)
    np.testing.assert_allclose(np.abs(np.sum(V3 * V1, axis=0)), 1.0, rtol=0, atol=1e-10)  # up to sign
    check_pairs(A, w1, V1, expected(lam, 6, "LA"), np.abs(lam).max())
    np.testing.assert_array_equal(v0, np.random.default_rng(33).standard_normal(200))  # v0 untouched


# ------------------------------------------------------------------ input forms


@pytest.mark.parametrize("make", input_forms())
@pytest.mark.parametrize("which", ["LA", "BE"])
def test_input_forms(make, which):
    A = rotated("indefinite", 120, seed=35)[0].copy()
    A[np.abs(A) < 0.01] = 0.0
    lam = np.linalg.eigvalsh(A)
    v0 = np.random.default_rng(36).standard_normal(120)
    w, V = eigsh(make(A), 5, which=which, v0=v0)
    assert isinstance(w, np.ndarray) and w.dtype == np.float64
    check_pairs(A, w, V, expected(lam, 5, which), np.abs(lam).max())
    # Without v0 too (a callable then computes in float64 NumPy).
    w, V = eigsh(make(A), 5, which=which, random_state=37)
    check_pairs(A, w, V, expected(lam, 5, which), np.abs(lam).max())


def test_integer_matrix_computes_in_float64():
    A = np.diag(np.arange(1, 21)) + np.eye(20, k=1, dtype=int) + np.eye(20, k=-1, dtype=int)
    w, V = eigsh(A, 3, random_state=38)
    assert w.dtype == np.float64
    check_pairs(A, w, V, np.linalg.eigvalsh(A.astype(float))[-3:], 22.0)


@pytest.mark.parametrize("which", WHICH)
@pytest.mark.parametrize("form", ["dense", "sparse", "LinearOperator"])
def test_float32(which, form):
    A64, lam = rotated("separated", seed=39)
    A = A64.astype(np.float32)
    Ain = {"dense": A, "sparse": sp.csr_matrix(A), "LinearOperator": spla.aslinearoperator(A)}[form]
    w, V = eigsh(Ain, 6, which=which, random_state=40)
    assert w.dtype == V.dtype == np.float32
    check_pairs(A, w, V, expected(lam, 6, which), np.abs(lam).max(), rtol=2e-5)


def test_float32_callable_takes_dtype_from_v0():
    A64, lam = rotated("separated", seed=41)
    A = A64.astype(np.float32)
    v0 = np.random.default_rng(42).standard_normal(200).astype(np.float32)
    w, V = eigsh((A.shape, lambda v: A @ v), 4, which="LA", v0=v0)
    assert w.dtype == V.dtype == np.float32
    check_pairs(A, w, V, expected(lam, 4, "LA"), np.abs(lam).max(), rtol=2e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("which", WHICH)
def test_array_api_strict(dtype, which):
    xs = pytest.importorskip("array_api_strict")
    A64, lam = rotated("clustered", 120, seed=43)
    A = A64.astype(dtype)
    As = xs.asarray(A)
    w, V = eigsh(As, 5, which=which, random_state=44)
    assert isinstance(w, type(As)) and isinstance(V, type(As))
    assert w.dtype == V.dtype == getattr(xs, dtype)
    assert tuple(w.shape) == (5,) and tuple(V.shape) == (120, 5)
    w_np, V_np = np.from_dlpack(w), np.from_dlpack(V)
    rtol = 2e-5 if dtype == "float32" else 1e-10
    check_pairs(A, w_np, V_np, expected(lam, 5, which), np.abs(lam).max(), rtol=rtol)
    # Same seed, same start vector: the NumPy run agrees.
    ref = eigsh(A, 5, which=which, random_state=44, return_eigenvectors=False)
    np.testing.assert_allclose(w_np, ref, rtol=0, atol=1e-5 if dtype == "float32" else 1e-12)
    w_only = eigsh(As, 5, which=which, v0=xs.asarray(np.ones(120, dtype=dtype)), return_eigenvectors=False)
    assert isinstance(w_only, type(As))


# ------------------------------------------------------------------ bad arguments


@pytest.fixture
def small_matrix():
    return psd_matrix(np.linspace(1.0, 2.0, 20), seed=45)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(k=0), ValueError, "^k"),
        (dict(k=-2), ValueError, "^k"),
        (dict(k=2.5), TypeError, "^k"),
        (dict(k="3"), TypeError, "^k"),
        (dict(which="XX"), ValueError, "^which"),
        (dict(which="la"), ValueError, "^which"),
        (dict(which=1), TypeError, "^which"),
        (dict(k=5, ncv=5), ValueError, "ncv"),
        (dict(k=5, ncv=3), ValueError, "ncv"),
        (dict(ncv=21), ValueError, "ncv"),
        (dict(ncv=0), ValueError, "ncv"),
        (dict(num_small=1), ValueError, "num_small"),
        (dict(which="SA", num_small=0), ValueError, "num_small"),
        (dict(which="BE", k=4, num_small=5), ValueError, "num_small"),
        (dict(which="BE", num_small=-1), ValueError, "num_small"),
        (dict(v0=np.ones((20, 1))), ValueError, "v0"),
        (dict(v0=np.ones((20, 2))), ValueError, "v0"),
        (dict(v0=np.ones(19)), ValueError, "v0"),
        (dict(v0=np.zeros(20)), ValueError, "v0"),
        (dict(v0=np.r_[np.ones(19), np.nan]), ValueError, "v0"),
        (dict(v0=np.ones(20) * (1 + 1j)), ValueError, "^v0"),
        (dict(k=20, v0=np.ones(19)), ValueError, "^v0"),
        (dict(k=20, v0=np.ones(20) * 1j), ValueError, "^v0"),
        (dict(v0=np.array(["a"] * 20)), ValueError, "^v0"),
        (dict(v0=np.zeros(0)), ValueError, "^v0"),
        (dict(v0="ones"), TypeError, "^v0"),
        (dict(tol=-1e-3), ValueError, "^tol"),
        (dict(tol=np.nan), ValueError, "^tol"),
        (dict(tol="0"), TypeError, "^tol"),
        (dict(ncv=10.0), TypeError, "^ncv"),
        (dict(which="BE", num_small=1.0), TypeError, "^num_small"),
        (dict(return_eigenvectors="yes"), TypeError, "^return_eigenvectors"),
        (dict(M=np.eye(20)), NotImplementedError, "^M"),
        (dict(sigma=0.5), NotImplementedError, "^sigma"),
        (dict(mode="cayley"), NotImplementedError, "^mode"),
        (dict(maxiter=0), ValueError, "maxiter"),
        (dict(maxiter=1.5), TypeError, "maxiter"),
        (dict(random_state="seed"), TypeError, "random_state"),
    ],
)
def test_invalid_arguments(small_matrix, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        eigsh(small_matrix, **kwargs)


def test_invalid_operators(small_matrix):
    A = small_matrix.copy()
    A[3, 4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        eigsh(A, 2)
    with pytest.raises(ValueError, match="NaN"):
        eigsh(sp.csr_matrix(A), 2)
    nonsym = small_matrix + np.triu(np.ones((20, 20)), 1)
    with pytest.raises(ValueError, match="symmetric"):
        eigsh(nonsym, 2)
    with pytest.raises(ValueError, match="symmetric"):
        eigsh(sp.csr_matrix(nonsym), 2)
    with pytest.raises(ValueError, match="square"):
        eigsh(np.ones((20, 19)), 2)
    with pytest.raises(TypeError, match="A"):
        eigsh("matrix", 2)
    with pytest.raises(ValueError, match=r"^A.*complex"):
        eigsh(np.eye(20) * (1 + 1j), 2)
    with pytest.raises(ValueError, match=r"^A.*complex"):
        eigsh(spla.aslinearoperator(np.eye(20) * (1 + 1j)), 2)


# ------------------------------------------ issue 13: defaults, k >= n, scale, NaN


def test_default_which_is_lm_as_in_scipy():
    # Regression: the default was 'LA', so leaving which out silently returned the largest
    # algebraic eigenvalues where SciPy returns the largest in magnitude.
    lam = np.r_[-7.0, -6.0, np.linspace(-1.0, 1.0, 36), 3.0, 4.0]
    A = psd_matrix(lam, seed=60)
    v0 = np.random.default_rng(61).standard_normal(40)
    w, V = eigsh(A, 3, v0=v0)
    ref = np.sort(spla.eigsh(A, 3, v0=v0, return_eigenvectors=False))
    np.testing.assert_allclose(w, ref, atol=1e-10)
    check_pairs(A, w, V, np.array([-7.0, -6.0, 4.0]), 7.0)


def test_smallest_magnitude():
    lam = np.r_[np.linspace(-3.0, -1.0, 10), [-0.02, 0.01, 0.05], np.linspace(1.0, 3.0, 10)]
    A = psd_matrix(lam, seed=62)
    w, V = eigsh(A, 3, which="SM", random_state=63)
    check_pairs(A, w, V, np.array([-0.02, 0.01, 0.05]), 3.0)


@pytest.mark.parametrize("make", input_forms())
def test_k_equal_n_solves_densely_for_every_form(make):
    # Regression: k >= n raised; SciPy falls back to a dense eigh (for dense A).
    A = psd_matrix(np.r_[-2.0, np.linspace(0.0, 1.0, 8), 5.0], seed=64)
    ref_w, ref_V = np.linalg.eigh(A)
    op = CountingLinearOperator(A)
    w, V = eigsh(make(A), 10)
    np.testing.assert_allclose(w, ref_w, rtol=0, atol=1e-13 * 5)
    np.testing.assert_allclose(np.abs(np.sum(V * ref_V, axis=0)), 1.0, atol=1e-12)
    w = eigsh(op, 10, which="SA", return_eigenvectors=False)
    np.testing.assert_allclose(w, ref_w, rtol=0, atol=1e-13 * 5)
    assert op.count == 10  # the identity, in one block product


def test_k_above_n_warns_and_returns_all_pairs():
    A = np.diag([3.0, -1.0, 2.0])
    with pytest.warns(RuntimeWarning, match=r"^k=5 exceeds"):
        w, V = eigsh(A, 5)
    np.testing.assert_array_equal(w, [-1.0, 2.0, 3.0])
    assert V.shape == (3, 3)
    np.testing.assert_array_equal(eigsh(np.ones((1, 1)), 1, return_eigenvectors=False), [1.0])


def test_k_equal_n_float32_and_array_api_strict():
    xs = pytest.importorskip("array_api_strict")
    A = psd_matrix(np.linspace(1.0, 2.0, 6), seed=65)
    w = eigsh(A.astype(np.float32), 6, return_eigenvectors=False)
    assert w.dtype == np.float32
    np.testing.assert_allclose(w, np.linspace(1.0, 2.0, 6), rtol=1e-5)
    ws, Vs = eigsh(xs.asarray(A), 6)
    assert Vs.shape == (6, 6)
    assert isinstance(ws, type(xs.asarray(A)))
    np.testing.assert_allclose(np.asarray(ws), np.linspace(1.0, 2.0, 6), rtol=1e-12)


@pytest.mark.parametrize("exponent", [-300, -160, 160, 300])
def test_k_equal_n_scale_invariant(exponent):
    A = psd_matrix(np.r_[-2.0, np.linspace(0.0, 1.0, 6), 5.0], seed=69)
    s = 10.0**exponent
    w = eigsh((A.shape, lambda v: (A * s) @ v), 8, return_eigenvectors=False)
    np.testing.assert_allclose(w / s, np.linalg.eigvalsh(A), rtol=0, atol=1e-13 * 5)


def test_k_equal_n_not_symmetric_callable():
    A = np.triu(np.ones((5, 5)))
    with pytest.raises(ValueError, match=r"^A.*symmetric"):
        eigsh((A.shape, lambda v: A @ v), 5)


@cache
def _scale_problem(n=30):
    lam = np.r_[-9.0, np.linspace(-1.0, 1.0, n - 3), 4.0, 8.0]
    return psd_matrix(lam, seed=66), np.random.default_rng(67).standard_normal(n)


# The dense symmetry check of rnla.operators.check_symmetric squares unscaled entries: above
# ~1e154 NumPy warns of the overflow (the check then passes vacuously). Reported under issue 13.
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@settings(max_examples=25, deadline=None)
@given(exponent=st.integers(-280, 280), which=st.sampled_from(["LM", "LA", "SA", "BE"]))
def test_scale_invariance_float64(exponent, which):
    # Regression: at 1e+160 the norms overflowed (wrong eigenvalues), at 1e-160 they underflowed.
    A, v0 = _scale_problem()
    s = 10.0**exponent
    w1, V1 = eigsh(A, 3, which=which, v0=v0)
    ws, Vs = eigsh(A * s, 3, which=which, v0=v0)
    np.testing.assert_allclose(ws / s, w1, rtol=0, atol=1e-12 * 9)
    np.testing.assert_allclose(np.abs(np.sum(Vs * V1, axis=0)), 1.0, atol=1e-10)
    residuals = np.linalg.norm(A @ Vs - Vs * (ws / s), axis=0)
    assert residuals.max() <= 1e-10 * 9


# The dense symmetry check of rnla.operators.check_symmetric squares unscaled entries: above
# ~1e154 NumPy warns of the overflow (the check then passes vacuously). Reported under issue 13.
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@settings(max_examples=15, deadline=None)
@given(exponent=st.integers(-28, 28))
def test_scale_invariance_float32(exponent):
    A, v0 = _scale_problem()
    A32, v32 = A.astype(np.float32), v0.astype(np.float32)
    s = np.float32(10.0**exponent)
    w1 = eigsh(A32, 3, v0=v32, return_eigenvectors=False)
    ws = eigsh(A32 * s, 3, v0=v32, return_eigenvectors=False)
    assert ws.dtype == np.float32
    np.testing.assert_allclose(ws.astype(np.float64) / float(s), w1, rtol=0, atol=1e-4 * 9)
    np.testing.assert_allclose(w1, [-9.0, 4.0, 8.0], rtol=0, atol=1e-4 * 9)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("k", [3, 12])
def test_operator_producing_nan_is_named(bad, k):
    # Regression: NaN from a product reached numpy.linalg.eigh as "Eigenvalues did not converge".
    A = psd_matrix(np.linspace(1.0, 2.0, 12), seed=68)

    def matvec(v):
        out = A @ v
        out[5] = bad
        return out

    with pytest.raises(ValueError, match=r"^A produced NaN or infinity"):
        eigsh((A.shape, matvec), k, random_state=0)


# -------------------------------------------------------------- non-convergence


def hard_problem():
    """Square-root decay: the small end is tightly clustered relative to the spread."""
    return sp.diags(1.0 / np.arange(1.0, 501.0) ** 0.5).tocsr()


@pytest.mark.parametrize("which", ["SA", "LA", "BE"])
def test_no_convergence_raises(which):
    A = hard_problem()
    with pytest.raises(EigshNoConvergence) as info:
        eigsh(A, 6, which=which, ncv=8, maxiter=1, random_state=46)
    err = info.value
    assert isinstance(err, spla.ArpackNoConvergence)
    assert "maxiter" in str(err)
    w, V = err.eigenvalues, err.eigenvectors
    assert w.shape[0] < 6 and V.shape == (500, w.shape[0])
    # SciPy code catches it too.
    with pytest.raises(spla.ArpackNoConvergence):
        eigsh(A, 6, which=which, ncv=8, maxiter=1, random_state=46)


def test_no_convergence_carries_the_converged_eigenvalues():
    # Two isolated eigenvalues converge in the first cycle, the bulk does not.
    lam = np.r_[1e3, 1e2, np.linspace(1.0, 0.0, 198)]
    A = psd_matrix(lam, seed=0)
    for maxiter in (1, 2, 3):
        with pytest.raises(EigshNoConvergence) as info:
            eigsh(A, 4, ncv=10, maxiter=maxiter, random_state=47)
        w, V = info.value.eigenvalues, info.value.eigenvectors
        np.testing.assert_allclose(w, [1e2, 1e3], rtol=1e-13)
        assert V.shape == (200, 2) and V.dtype == np.float64
        np.testing.assert_allclose(V.T @ V, np.eye(2), atol=1e-12)


# Regression: the carried eigenvectors used to be built from the Ritz coefficients of the last
# cycle and the basis already overwritten by the restart (residual ~ |λ| after one cycle).
@pytest.mark.parametrize(
    ("lam", "k", "ncv", "maxiter"),
    [
        pytest.param(np.r_[1e3, 1e2, np.linspace(1.0, 0.0, 198)], 4, 10, 1, id="one-cycle"),
        pytest.param(np.r_[np.linspace(10.0, 5.0, 4), np.linspace(1.0, 0.0, 196)], 6, 12, 2, id="two-cycles"),
    ],
)
def test_no_convergence_carries_true_eigenvectors(lam, k, ncv, maxiter):
    A = psd_matrix(lam, seed=0)
    with pytest.raises(EigshNoConvergence) as info:
        eigsh(A, k, ncv=ncv, maxiter=maxiter, random_state=0)
    w, V = info.value.eigenvalues, info.value.eigenvectors
    assert 0 < w.size < k
    # Converged means residual at rounding level (tol=0): far below 1e-12·‖A‖.
    residuals = np.linalg.norm(A @ V - V * w, axis=0)
    assert residuals.max() <= 1e-12 * lam.max()


def test_more_restarts_converge():
    A = hard_problem()
    w, V = eigsh(A, 3, which="LA", ncv=8, random_state=48)
    check_pairs(A, w, V, np.sort(1.0 / np.arange(1.0, 4.0) ** 0.5), 1.0)


# ---------------------------------------------------------------------- hypothesis


@settings(max_examples=30)
@given(
    n=st.integers(5, 30),
    k_frac=st.floats(0.0, 1.0),
    which=st.sampled_from(WHICH),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_matches_numpy(n, k_frac, which, seed):
    k = 1 + int(k_frac * (n - 2))  # 1 <= k < n
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((n, n))
    A = (B + B.T) / 2
    lam = np.linalg.eigvalsh(A)
    anorm = np.abs(lam).max()
    w, V = eigsh(A, k, which=which, random_state=seed)
    ref = expected(lam, k, which)
    assert np.all(np.diff(w) >= 0)
    if which == "LM":  # ties in |λ| may pick either sign: compare magnitudes
        np.testing.assert_allclose(np.sort(np.abs(w)), np.sort(np.abs(ref)), rtol=0, atol=1e-9 * anorm)
        assert np.all(np.min(np.abs(w[:, None] - lam[None, :]), axis=1) <= 1e-9 * anorm)
    else:
        np.testing.assert_allclose(w, ref, rtol=0, atol=1e-9 * anorm)
    assert np.linalg.norm(A @ V - V * w, axis=0).max() <= 1e-9 * anorm
    np.testing.assert_allclose(V.T @ V, np.eye(k), rtol=0, atol=1e-9)


# -------------------------------------------------------------------------- CuPy


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("which", WHICH)
def test_cupy_dense_matches_numpy(cupy, dtype, which):
    A64, lam = rotated("clustered", seed=49)
    A = A64.astype(dtype)
    Ad = cupy.asarray(A)
    w, V = eigsh(Ad, 6, which=which, random_state=50)
    assert isinstance(w, cupy.ndarray) and isinstance(V, cupy.ndarray)
    assert w.dtype == V.dtype == np.dtype(dtype)
    rtol = 2e-5 if dtype == "float32" else 1e-10
    check_pairs(A, cupy.asnumpy(w), cupy.asnumpy(V), expected(lam, 6, which), np.abs(lam).max(), rtol=rtol)
    # With the same v0 the device and host runs agree.
    v0 = np.random.default_rng(51).standard_normal(200).astype(dtype)
    wd = eigsh(Ad, 6, which=which, v0=cupy.asarray(v0), return_eigenvectors=False)
    wh = eigsh(A, 6, which=which, v0=v0, return_eigenvectors=False)
    assert isinstance(wd, cupy.ndarray)
    np.testing.assert_allclose(cupy.asnumpy(wd), wh, rtol=0, atol=rtol * 3)
    # Reproducible by seed on the device too.
    w2, V2 = eigsh(Ad, 6, which=which, random_state=50)
    cupy.testing.assert_array_equal(w, w2)
    cupy.testing.assert_array_equal(V, V2)


@pytest.mark.gpu
@pytest.mark.parametrize("which", ["LA", "SA"])
def test_cupy_sparse_matches_scipy(cupy, which):
    import cupyx.scipy.sparse as csp

    A = laplacian_2d(20)
    ref = np.sort(spla.eigsh(A, 4, which=which, v0=np.ones(400), return_eigenvectors=False))
    w, V = eigsh(csp.csr_matrix(A), 4, which=which, random_state=52)
    assert isinstance(w, cupy.ndarray) and isinstance(V, cupy.ndarray)
    check_pairs(A, cupy.asnumpy(w), cupy.asnumpy(V), ref, 8.0)


@pytest.mark.parametrize("shape", [(0, 0), (5, 0), (0, 5)])
def test_eigsh_rejects_an_empty_matrix_naming_it(shape):
    # Was Operator's "shape must be a pair of positive integers", which does not name A.
    with pytest.raises(ValueError, match=r"^A must not be empty"):
        eigsh(np.ones(shape), k=1)


def test_ncv_above_n_is_refused_on_the_dense_path_too():
    # Review of issue 13: k >= n returned before ncv was checked, so ncv > n passed silently.
    A = np.diag(np.arange(1.0, 6.0))
    with pytest.raises(ValueError, match=r"^ncv=9 exceeds the dimension of A \(5\)"):
        eigsh(A, 5, ncv=9)
