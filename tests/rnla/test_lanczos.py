"""Tests of the Lanczos process (``rnla.lanczos``) and ``LanczosResult``.

The tridiagonal ``T`` is checked against ``QᵀAQ`` built from the returned basis, the
three-term relation ``A Q_m = Q_m T_m + β_m q_{m+1} e_mᵀ`` and ``numpy.linalg.eigvalsh``;
a block of start vectors against separate single-vector runs; breakdown (few distinct
eigenvalues, eigenvector starts) per probe; ``quadrature`` against Gauss quadrature
exactness for polynomials of degree ``< 2m``. Also covered: argument validation, dtypes,
every operator form, ``array_api_strict`` and (marked ``gpu``, skipped without one) CuPy.
"""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from helpers import input_forms, psd_matrix
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.polynomial import chebyshev

from rnla import LanczosResult, lanczos

# ----------------------------------------------------------------------------- helpers


def spectrum(kind, n):
    """Named test spectra: all eigenvalues distinct, so no breakdown before step ``n``."""
    if kind == "uniform":
        return np.linspace(-1.0, 2.0, n)
    if kind == "geometric":  # wide dynamic range: orthogonality is lost fast without reorth
        return np.geomspace(1e-6, 1.0, n)
    if kind == "outliers":  # a few isolated large eigenvalues converge early
        return np.r_[np.linspace(0.0, 1.0, max(n - 3, 0)), [10.0, 100.0, 1000.0][: min(n, 3)]]
    raise ValueError(kind)


def start_vectors(n, p=None, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(n) if p is None else rng.standard_normal((n, p))


def unit(v):
    return v / np.linalg.norm(v, axis=0)


def tridiag_eigenbasis(lam, seed):
    """``(A, U)`` with ``A = U diag(lam) Uᵀ`` for a seeded random orthogonal ``U``."""
    n = lam.shape[0]
    U, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    A = (U * lam) @ U.T
    return (A + A.T) / 2, U


# ------------------------------------------------------- T = QᵀAQ, QᵀQ = I, relation


@pytest.mark.parametrize("kind", ["uniform", "geometric", "outliers"])
@pytest.mark.parametrize(("n", "m"), [(40, 1), (40, 12), (60, 60), (120, 45)])
def test_tridiagonal_is_projection_onto_orthonormal_basis(kind, n, m):
    lam = spectrum(kind, n)
    A = psd_matrix(lam, seed=n + m)
    v0 = start_vectors(n, seed=m)
    res = lanczos(A, m, v0=v0, reorthogonalize=True, return_basis=True)
    assert isinstance(res, LanczosResult)
    Q, T = res.basis, res.tridiagonal()
    assert Q.shape == (n, m) and T.shape == (m, m)
    assert res.alpha.shape == res.beta.shape == (m,)
    assert res.num_steps == m and isinstance(res.num_steps, int)
    anorm = np.abs(lam).max()
    np.testing.assert_allclose(Q[:, 0], unit(v0), rtol=0, atol=1e-15)
    np.testing.assert_allclose(Q.T @ Q, np.eye(m), rtol=0, atol=20 * m * np.finfo(float).eps)
    np.testing.assert_allclose(Q.T @ A @ Q, T, rtol=0, atol=50 * np.sqrt(m) * np.finfo(float).eps * anorm)
    # T is symmetric tridiagonal with alpha on the diagonal and beta[:m-1] beside it.
    np.testing.assert_array_equal(np.diag(T), res.alpha)
    np.testing.assert_array_equal(np.diag(T, 1), res.beta[: m - 1])
    np.testing.assert_array_equal(np.diag(T, -1), res.beta[: m - 1])
    np.testing.assert_array_equal(np.triu(T, 2), 0.0)
    np.testing.assert_array_equal(np.tril(T, -2), 0.0)
    assert np.all(res.beta[: m - 1] > 0)
    # alpha_j = q_jᵀ A q_j, beta_j = ‖r_j‖ by definition.
    np.testing.assert_allclose(res.alpha, np.einsum("ij,ij->j", Q, A @ Q), rtol=0, atol=1e-13 * anorm)


@pytest.mark.parametrize("reorthogonalize", [True, False])
@pytest.mark.parametrize(("kind", "m"), [("uniform", 10), ("outliers", 25), ("geometric", 30)])
def test_three_term_relation(reorthogonalize, kind, m):
    n = 80
    lam = spectrum(kind, n)
    A = psd_matrix(lam, seed=3)
    v0 = start_vectors(n, seed=4)
    res = lanczos(A, m, v0=v0, reorthogonalize=reorthogonalize, return_basis=True)
    nxt = lanczos(A, m + 1, v0=v0, reorthogonalize=reorthogonalize, return_basis=True)
    # The first m steps do not depend on how many follow.
    np.testing.assert_allclose(nxt.alpha[:m], res.alpha, rtol=1e-14, atol=0)
    np.testing.assert_allclose(nxt.beta[:m], res.beta, rtol=1e-14, atol=0)
    np.testing.assert_allclose(nxt.basis[:, :m], res.basis, rtol=0, atol=1e-15)
    Q, T, q_next = res.basis, res.tridiagonal(), nxt.basis[:, m]
    assert abs(np.linalg.norm(q_next) - 1.0) <= 1e-14
    # A Q_m − Q_m T_m = β_m q_{m+1} e_mᵀ: zero except the last column.
    R = A @ Q - Q @ T
    anorm = np.abs(lam).max()
    atol = 20 * np.sqrt(n) * np.finfo(float).eps * anorm
    np.testing.assert_allclose(R[:, : m - 1], 0.0, rtol=0, atol=atol)
    np.testing.assert_allclose(R[:, m - 1], res.beta[m - 1] * q_next, rtol=0, atol=atol)
    if reorthogonalize:
        np.testing.assert_allclose(Q.T @ q_next, 0.0, rtol=0, atol=1e-14)


@pytest.mark.parametrize("kind", ["uniform", "geometric", "outliers"])
@pytest.mark.parametrize("n", [2, 7, 50, 100])
def test_full_run_reproduces_the_spectrum(kind, n):
    lam = spectrum(kind, n)
    A = psd_matrix(lam, seed=n)
    res = lanczos(A, n, reorthogonalize=True, random_state=n)
    theta = np.linalg.eigvalsh(res.tridiagonal())
    atol = 100 * np.finfo(float).eps * np.abs(lam).max()
    np.testing.assert_allclose(theta, np.linalg.eigvalsh(A), rtol=0, atol=atol)
    # The final residual of a complete run is at rounding level.
    assert res.beta[-1] <= 100 * np.sqrt(n) * np.finfo(float).eps * np.abs(lam).max()


def test_without_reorthogonalization_orthogonality_is_lost_but_quadrature_is_not():
    # Loss of orthogonality is what makes reorthogonalize=True matter: with many converged
    # Ritz values the plain three-term recurrence produces ghost copies.
    n, m = 100, 80
    lam = spectrum("outliers", n)
    A = psd_matrix(lam, seed=5)
    v0 = start_vectors(n, seed=6)
    plain = lanczos(A, m, v0=v0, reorthogonalize=False, return_basis=True)
    full = lanczos(A, m, v0=v0, reorthogonalize=True, return_basis=True)
    assert np.abs(plain.basis.T @ plain.basis - np.eye(m)).max() > 1e-3
    assert np.abs(full.basis.T @ full.basis - np.eye(m)).max() < 1e-13
    # Moments q0ᵀ A^j q0 for small j agree all the same.
    q = unit(v0)
    for res in (plain, full):
        nodes, weights = res.quadrature()
        for j in range(4):
            ref = q @ np.linalg.matrix_power(A, j) @ q
            assert abs(weights @ nodes**j - ref) <= 1e-10 * max(1.0, abs(ref))


# --------------------------------------------------------------- blocks of probes


@pytest.mark.parametrize("reorthogonalize", [True, False])
@pytest.mark.parametrize(("n", "m", "p"), [(50, 12, 4), (30, 20, 3), (80, 5, 1)])
def test_block_matches_separate_single_runs(reorthogonalize, n, m, p):
    A = psd_matrix(spectrum("uniform", n), seed=7)
    V = start_vectors(n, p, seed=8) * np.geomspace(1e-3, 1e3, p)  # scaling must not matter
    res = lanczos(A, m, v0=V, reorthogonalize=reorthogonalize, return_basis=True)
    assert res.alpha.shape == res.beta.shape == (p, m)
    assert res.basis.shape == (p, n, m)
    assert isinstance(res.num_steps, np.ndarray) and res.num_steps.shape == (p,)
    np.testing.assert_array_equal(res.num_steps, m)
    assert res.tridiagonal().shape == (p, m, m)
    nodes, weights = res.quadrature()
    assert nodes.shape == weights.shape == (p, m)
    for i in range(p):
        one = lanczos(A, m, v0=V[:, i], reorthogonalize=reorthogonalize, return_basis=True)
        np.testing.assert_allclose(res.alpha[i], one.alpha, rtol=0, atol=1e-10)
        np.testing.assert_allclose(res.beta[i], one.beta, rtol=0, atol=1e-10)
        np.testing.assert_allclose(res.basis[i], one.basis, rtol=0, atol=1e-10)
        np.testing.assert_allclose(res.tridiagonal()[i], one.tridiagonal(), rtol=0, atol=1e-10)
        n_i, w_i = one.quadrature()
        np.testing.assert_allclose(nodes[i], n_i, rtol=0, atol=1e-10)
        np.testing.assert_allclose(weights[i], w_i, rtol=0, atol=1e-10)


def test_single_column_block_keeps_probe_axis():
    A = psd_matrix(spectrum("uniform", 20), seed=9)
    v = start_vectors(20, seed=10)
    col = lanczos(A, 6, v0=v[:, None], return_basis=True)
    vec = lanczos(A, 6, v0=v, return_basis=True)
    assert col.alpha.shape == (1, 6) and col.basis.shape == (1, 20, 6) and col.num_steps.shape == (1,)
    assert vec.alpha.shape == (6,) and vec.basis.shape == (20, 6) and isinstance(vec.num_steps, int)
    np.testing.assert_allclose(col.alpha[0], vec.alpha, rtol=1e-14)
    np.testing.assert_allclose(col.beta[0], vec.beta, rtol=1e-14)


def test_no_basis_without_reorthogonalization():
    A = psd_matrix(spectrum("uniform", 20), seed=11)
    assert lanczos(A, 5, reorthogonalize=False, random_state=0).basis is None
    assert lanczos(A, 5, v0=start_vectors(20, 3), reorthogonalize=False).basis is None


# Regression: with reorthogonalize=True the basis used to come back even without return_basis.
def test_basis_only_when_requested_with_reorthogonalization():
    A = psd_matrix(spectrum("uniform", 20), seed=11)
    assert lanczos(A, 5, reorthogonalize=True, random_state=0).basis is None
    assert lanczos(A, 5, v0=start_vectors(20, 3), reorthogonalize=True).basis is None


def test_random_state_reproducible():
    A = psd_matrix(spectrum("uniform", 40), seed=12)
    a = lanczos(A, 10, random_state=3, return_basis=True)
    b = lanczos(A, 10, random_state=np.random.default_rng(3), return_basis=True)
    c = lanczos(A, 10, random_state=4)
    np.testing.assert_array_equal(a.alpha, b.alpha)
    np.testing.assert_array_equal(a.beta, b.beta)
    np.testing.assert_array_equal(a.basis, b.basis)
    assert not np.allclose(a.alpha, c.alpha)
    # The default start vector is a Gaussian draw from that generator.
    g = np.random.default_rng(3).standard_normal(40)
    np.testing.assert_allclose(a.basis[:, 0], unit(g), rtol=0, atol=1e-15)


# ---------------------------------------------------------------------- breakdown


@pytest.mark.parametrize("reorthogonalize", [True, False])
@pytest.mark.parametrize("rotated", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_breakdown_on_three_distinct_eigenvalues(reorthogonalize, rotated, dtype):
    lam = np.repeat([1.0, 2.0, 5.0], 10)
    A = psd_matrix(lam, seed=13, dtype=dtype) if rotated else np.diag(lam).astype(dtype)
    m = 8
    res = lanczos(A, m, reorthogonalize=reorthogonalize, return_basis=True, random_state=14)
    assert res.num_steps == 3
    assert res.alpha.dtype == res.beta.dtype == dtype
    for arr in (res.alpha, res.beta, res.basis):
        assert np.all(np.isfinite(arr))
    assert np.all(res.beta[:2] > 0.1)
    np.testing.assert_array_equal(res.alpha[3:], 0.0)
    np.testing.assert_array_equal(res.beta[2:], 0.0)
    np.testing.assert_array_equal(res.basis[:, 3:], 0.0)
    # The three Ritz values are the three eigenvalues.
    T = res.tridiagonal()
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(np.linalg.eigvalsh(T[:3, :3]), [1.0, 2.0, 5.0], rtol=0, atol=tol * 5)
    nodes, weights = res.quadrature()
    assert abs(weights.sum() - 1.0) <= 10 * np.finfo(dtype).eps
    np.testing.assert_array_equal(weights[np.abs(nodes) < 0.5], 0.0)  # padding carries no weight
    live = weights > 0
    assert live.sum() == 3
    np.testing.assert_allclose(np.sort(nodes[live]), [1.0, 2.0, 5.0], rtol=0, atol=tol * 5)


def test_per_probe_breakdown_in_a_block():
    lam = np.repeat([1.0, 2.0, 5.0], 10)
    A, U = tridiag_eigenbasis(lam, seed=15)
    n, m = lam.shape[0], 6
    V = np.empty((n, 4))
    V[:, 0] = U[:, 12]  # an eigenvector (λ = 2): breaks down after one step
    V[:, 1] = U[:, 0] + 3.0 * U[:, 25]  # two eigenvalues: two steps
    V[:, 2] = start_vectors(n, seed=16)  # generic: all three eigenvalues, three steps
    V[:, 3] = U[:, :10].sum(axis=1)  # all in one eigenspace (λ = 1): one step
    for reorth in (True, False):
        res = lanczos(A, m, v0=V, reorthogonalize=reorth, return_basis=True)
        np.testing.assert_array_equal(res.num_steps, [1, 2, 3, 1])
        assert np.all(np.isfinite(res.alpha)) and np.all(np.isfinite(res.beta))
        assert np.all(np.isfinite(res.basis))
        for i, s in enumerate(res.num_steps):
            np.testing.assert_array_equal(res.alpha[i, s:], 0.0)
            np.testing.assert_array_equal(res.beta[i, s - 1 :], 0.0)
            assert np.all(res.beta[i, : s - 1] > 0.1)
            np.testing.assert_array_equal(res.basis[i, :, s:], 0.0)
        np.testing.assert_allclose(res.alpha[0, 0], 2.0, rtol=1e-13)
        np.testing.assert_allclose(res.alpha[3, 0], 1.0, rtol=1e-13)
        nodes, weights = res.quadrature()
        np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=0, atol=1e-13)
        # Eigenvector probe: one node at its eigenvalue with all the weight.
        np.testing.assert_allclose(weights[0][np.argmax(weights[0])], 1.0, rtol=0, atol=1e-13)
        np.testing.assert_allclose(nodes[0][np.argmax(weights[0])], 2.0, rtol=0, atol=1e-13)
        # Two-eigenvalue probe: weights are the squared components 1/10 and 9/10.
        live = weights[1] > 0
        np.testing.assert_allclose(nodes[1][live], [1.0, 5.0], rtol=0, atol=1e-12)
        np.testing.assert_allclose(weights[1][live], [0.1, 0.9], rtol=0, atol=1e-12)
        # The breakdown of one probe leaves the others untouched.
        single = lanczos(A, m, v0=V[:, 2], reorthogonalize=reorth)
        np.testing.assert_allclose(res.alpha[2], single.alpha, rtol=0, atol=1e-12)
        np.testing.assert_allclose(res.beta[2], single.beta, rtol=0, atol=1e-12)


def test_zero_operator_breaks_down_immediately():
    res = lanczos(np.zeros((10, 10)), 4, random_state=0, return_basis=True)
    assert res.num_steps == 1
    np.testing.assert_array_equal(res.alpha, 0.0)
    np.testing.assert_array_equal(res.beta, 0.0)
    nodes, weights = res.quadrature()
    np.testing.assert_allclose(weights.sum(), 1.0, rtol=1e-15)
    assert np.all(np.isfinite(nodes))


def test_no_false_breakdown_on_tight_clusters():
    # Eigenvalues 1e-9 apart are still distinct at double precision: 3 clusters of 4
    # eigenvalues each give 12 steps, not 3.
    lam = np.concatenate([c + 1e-9 * np.arange(4) for c in (1.0, 2.0, 5.0)])
    D = np.diag(lam)
    res = lanczos(D, 12, v0=np.ones(12))
    assert res.num_steps == 12
    np.testing.assert_allclose(np.linalg.eigvalsh(res.tridiagonal()), lam, rtol=0, atol=1e-13)


# --------------------------------------------------------------------- quadrature


@pytest.mark.parametrize("reorthogonalize", [True, False])
@pytest.mark.parametrize("m", [1, 3, 6, 10])
def test_quadrature_weights_and_nodes(reorthogonalize, m):
    n, p = 60, 5
    lam = np.linspace(-2.0, 3.0, n)
    A = psd_matrix(lam, seed=17)
    res = lanczos(A, m, v0=start_vectors(n, p, seed=18), reorthogonalize=reorthogonalize)
    nodes, weights = res.quadrature()
    assert nodes.shape == weights.shape == (p, m)
    assert nodes.dtype == weights.dtype == np.float64
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=0, atol=1e-13)
    assert np.all(weights >= 0)
    assert np.all(nodes >= lam.min() - 1e-12) and np.all(nodes <= lam.max() + 1e-12)
    assert np.all(np.diff(nodes, axis=1) > 0)  # Gauss nodes are distinct
    # Nodes are the Ritz values and weights the squared first components.
    theta, S = np.linalg.eigh(res.tridiagonal())
    np.testing.assert_allclose(nodes, theta, rtol=0, atol=1e-14)
    np.testing.assert_allclose(weights, S[:, 0, :] ** 2, rtol=0, atol=1e-14)


@pytest.mark.parametrize("reorthogonalize", [True, False])
@pytest.mark.parametrize("m", [2, 4, 7])
def test_gauss_quadrature_is_exact_below_degree_2m(reorthogonalize, m):
    n, p = 80, 3
    lam = np.sort(np.random.default_rng(19).uniform(-1.0, 1.0, n))
    A, U = tridiag_eigenbasis(lam, seed=20)
    V = start_vectors(n, p, seed=21)
    res = lanczos(A, m, v0=V, reorthogonalize=reorthogonalize)
    nodes, weights = res.quadrature()
    mu = (U.T @ unit(V)) ** 2  # spectral measure of each unit start vector: q0ᵀ f(A) q0 = Σ μ f(λ)
    rng = np.random.default_rng(22)
    for degree in range(2 * m):
        c = rng.standard_normal(degree + 1)
        exact = mu.T @ chebyshev.chebval(lam, c)
        approx = np.sum(weights * chebyshev.chebval(nodes, c), axis=1)
        np.testing.assert_allclose(approx, exact, rtol=0, atol=1e-11 * np.abs(c).sum())
    # ... and not exact at degree 2m: the test above is not vacuous.
    f = np.zeros(2 * m + 1)
    f[-1] = 1.0
    exact = mu.T @ chebyshev.chebval(lam, f)
    approx = np.sum(weights * chebyshev.chebval(nodes, f), axis=1)
    assert np.all(np.abs(approx - exact) > 1e-8)


def test_quadrature_of_a_matrix_function():
    # SLQ ingredient: q0ᵀ exp(A) q0 from a handful of steps, to near machine precision.
    n, m = 200, 12
    lam = np.linspace(-1.0, 1.0, n)
    A, U = tridiag_eigenbasis(lam, seed=23)
    v = start_vectors(n, seed=24)
    q = unit(v)
    exact = np.sum((U.T @ q) ** 2 * np.exp(lam))
    nodes, weights = lanczos(A, m, v0=v, reorthogonalize=False).quadrature()
    assert abs(weights @ np.exp(nodes) - exact) <= 1e-13


# ------------------------------------------------------------------ bad arguments


@pytest.fixture
def small_matrix():
    return psd_matrix(np.linspace(1.0, 2.0, 10), seed=25)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(num_steps=11), ValueError, "num_steps"),
        (dict(num_steps=0), ValueError, "num_steps"),
        (dict(num_steps=-3), ValueError, "num_steps"),
        (dict(num_steps=2.0), TypeError, "num_steps"),
        (dict(num_steps=True), TypeError, "num_steps"),
        (dict(v0=np.ones(9)), ValueError, "v0"),
        (dict(v0=np.ones((11, 2))), ValueError, "v0"),
        (dict(v0=np.ones((10, 2, 1))), ValueError, "v0"),
        (dict(v0=np.zeros(10)), ValueError, "zero column"),
        (dict(v0=np.c_[np.ones(10), np.zeros(10), np.ones(10)]), ValueError, "zero column"),
        (dict(v0=np.r_[np.ones(9), np.nan]), ValueError, "v0"),
        (dict(v0=np.r_[np.ones(9), np.inf]), ValueError, "v0"),
        (dict(v0=np.ones(10) * 1j), ValueError, "^v0"),
        (dict(v0=np.array(["x"] * 10)), ValueError, "^v0"),
        (dict(v0="ones"), TypeError, "^v0"),
        (dict(reorthogonalize="no"), TypeError, "^reorthogonalize"),
        (dict(return_basis=1), TypeError, "^return_basis"),
        (dict(random_state="seed"), TypeError, "random_state"),
        (dict(random_state=-1), ValueError, "random_state"),
    ],
)
def test_invalid_arguments(small_matrix, kwargs, exc, match):
    kwargs = {"num_steps": 4, **kwargs}
    with pytest.raises(exc, match=match):
        lanczos(small_matrix, **kwargs)


def test_invalid_operators(small_matrix):
    A = small_matrix.copy()
    A[2, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        lanczos(A, 3, random_state=0)
    A = small_matrix.copy()
    A[0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        lanczos(A, 3, random_state=0)
    with pytest.raises(ValueError, match="NaN"):
        lanczos(sp.csr_matrix(np.where(small_matrix > 0.1, np.nan, small_matrix)), 3, random_state=0)
    nonsym = small_matrix + np.triu(np.ones((10, 10)), 1)
    with pytest.raises(ValueError, match="symmetric"):
        lanczos(nonsym, 3, random_state=0)
    with pytest.raises(ValueError, match="symmetric"):
        lanczos(sp.csr_matrix(nonsym), 3, random_state=0)
    with pytest.raises(ValueError, match="square"):
        lanczos(np.ones((10, 9)), 3, random_state=0)
    with pytest.raises(ValueError, match="square"):
        lanczos(sp.csr_matrix(np.ones((9, 10))), 3, random_state=0)
    with pytest.raises(ValueError, match="square"):
        lanczos(((10, 9), lambda v: v[:9]), 3, v0=np.ones(9))
    with pytest.raises(ValueError):
        lanczos(np.ones(10), 3, random_state=0)
    with pytest.raises(TypeError, match="A"):
        lanczos("matrix", 3)
    with pytest.raises(ValueError, match=r"^A.*complex"):
        lanczos(np.eye(10) * (1 + 1j), 3, random_state=0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("block", [False, True])
@pytest.mark.parametrize("reorthogonalize", [True, False])
def test_operator_producing_nan_raises(small_matrix, bad, block, reorthogonalize):
    # Regression: NaN from the operator's products came back silently as NaN coefficients.
    calls = []

    def matmat(V):
        out = small_matrix @ V
        calls.append(1)
        if len(calls) == 3:  # a good first few steps, then a bad product
            out[4, ...] = bad
        return out

    v0 = start_vectors(10, 3 if block else None, seed=3)
    with pytest.raises(ValueError, match=r"^A produced NaN or infinity"):
        lanczos((small_matrix.shape, matmat, matmat), 6, v0=v0, reorthogonalize=reorthogonalize)


@settings(max_examples=20, deadline=None)
@given(exponent=st.integers(-290, 290), reorthogonalize=st.booleans())
def test_scale_invariance(exponent, reorthogonalize):
    # Regression: at 1e+160 the norm of A q overflowed (breakdown after one step), at 1e-280
    # it underflowed; the coefficients of s·A must be s times those of A.
    lam = np.linspace(1.0, 10.0, 30)
    A = psd_matrix(lam, seed=70)
    v0 = start_vectors(30, 2, seed=71)
    s = 10.0**exponent
    ref = lanczos(A, 12, v0=v0, reorthogonalize=reorthogonalize)
    res = lanczos((A.shape, lambda v: (A * s) @ v, lambda V: (A * s) @ V), 12, v0=v0,
                  reorthogonalize=reorthogonalize)
    np.testing.assert_array_equal(res.num_steps, ref.num_steps)
    np.testing.assert_allclose(res.alpha / s, ref.alpha, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(res.beta / s, ref.beta, rtol=1e-10, atol=1e-12)


@settings(max_examples=10, deadline=None)
@given(exponent=st.integers(-30, 30))
def test_scale_invariance_float32(exponent):
    A = psd_matrix(np.linspace(1.0, 10.0, 20), seed=72).astype(np.float32)
    v0 = start_vectors(20, seed=73).astype(np.float32)
    s = np.float32(10.0**exponent)
    ref = lanczos(A, 8, v0=v0)
    As = A * s
    res = lanczos((As.shape, lambda v: As @ v), 8, v0=v0)
    assert res.alpha.dtype == np.float32
    np.testing.assert_allclose(res.alpha / s, ref.alpha, rtol=1e-4)
    np.testing.assert_allclose(res.beta / s, ref.beta, rtol=1e-4)


# ------------------------------------------------------------ dtypes and backends


@pytest.mark.parametrize("make", input_forms())
@pytest.mark.parametrize("block", [False, True])
def test_input_forms_agree(make, block):
    n, m = 50, 15
    A = psd_matrix(spectrum("uniform", n), seed=26)
    A[np.abs(A) < 0.05] = 0.0  # some sparsity, still symmetric
    v0 = start_vectors(n, 3 if block else None, seed=27)
    ref = lanczos(A, m, v0=v0, return_basis=True)
    res = lanczos(make(A), m, v0=v0, return_basis=True)
    assert res.alpha.dtype == np.float64 and res.alpha.shape == ref.alpha.shape
    np.testing.assert_allclose(res.alpha, ref.alpha, rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.beta, ref.beta, rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.basis, ref.basis, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(res.num_steps, ref.num_steps)


def test_linear_operator_without_v0_uses_random_state():
    A = psd_matrix(spectrum("uniform", 30), seed=28)
    res = lanczos(spla.aslinearoperator(A), 30, random_state=29)
    ref = lanczos(A, 30, random_state=29)
    np.testing.assert_allclose(res.alpha, ref.alpha, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.linalg.eigvalsh(res.tridiagonal()), np.linalg.eigvalsh(A), atol=1e-12)


@pytest.mark.parametrize("block", [False, True])
def test_float32_stays_float32(block):
    n, m = 60, 20
    lam = spectrum("uniform", n)
    A = psd_matrix(lam, seed=30, dtype=np.float32)
    v0 = start_vectors(n, 2 if block else None, seed=31).astype(np.float32)
    for reorth in (True, False):
        res = lanczos(A, m, v0=v0, reorthogonalize=reorth, return_basis=True)
        assert res.alpha.dtype == res.beta.dtype == res.basis.dtype == np.float32
        ref = lanczos(A.astype(np.float64), m, v0=v0.astype(np.float64), reorthogonalize=reorth)
        np.testing.assert_allclose(res.alpha, ref.alpha, rtol=0, atol=1e-4)
        np.testing.assert_allclose(res.beta, ref.beta, rtol=0, atol=1e-4)
    res = lanczos(A, m, v0=v0, return_basis=True)
    Q = (res.basis if block else res.basis[None]).astype(np.float64)
    T = res.tridiagonal() if block else res.tridiagonal()[None]
    for Qi, Ti in zip(Q, T, strict=True):
        np.testing.assert_allclose(Qi.T @ Qi, np.eye(m), rtol=0, atol=1e-5)
        np.testing.assert_allclose(Qi.T @ A.astype(np.float64) @ Qi, Ti, rtol=0, atol=1e-5)
    # The quadrature comes back in float64 either way.
    assert res.quadrature()[0].dtype == np.float64


def test_float32_operator_forms():
    A = psd_matrix(spectrum("uniform", 40), seed=32, dtype=np.float32)
    assert lanczos(A, 5, random_state=0).alpha.dtype == np.float32
    assert lanczos(sp.csr_matrix(A), 5, random_state=0).alpha.dtype == np.float32
    assert lanczos(spla.aslinearoperator(A), 5, random_state=0).alpha.dtype == np.float32
    # A callable's dtype comes from v0.
    v0 = start_vectors(40, seed=33).astype(np.float32)
    assert lanczos((A.shape, lambda v: A @ v), 5, v0=v0).alpha.dtype == np.float32


def test_integer_and_mixed_inputs_compute_in_float64():
    A = np.array([[4, 1, 0], [1, 3, 1], [0, 1, 2]])
    res = lanczos(A, 3, v0=np.array([1, 0, 0]))
    assert res.alpha.dtype == np.float64
    np.testing.assert_allclose(np.linalg.eigvalsh(res.tridiagonal()), np.linalg.eigvalsh(A), atol=1e-13)
    res = lanczos(A.astype(np.float32), 3, v0=np.ones(3))  # float32 A, float64 v0
    assert res.alpha.dtype == np.float64


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("block", [False, True])
def test_array_api_strict(dtype, block):
    xs = pytest.importorskip("array_api_strict")
    n, m = 40, 12
    A = psd_matrix(spectrum("uniform", n), seed=34, dtype=np.dtype(dtype))
    v0 = start_vectors(n, 3 if block else None, seed=35).astype(dtype)
    As = xs.asarray(A)
    tol = 1e-5 if dtype == "float32" else 1e-12
    res = lanczos(As, m, v0=xs.asarray(v0), return_basis=True)
    ref = lanczos(A, m, v0=v0, return_basis=True)
    for got, want in ((res.alpha, ref.alpha), (res.beta, ref.beta), (res.basis, ref.basis)):
        assert isinstance(got, type(As)) and got.dtype == getattr(xs, dtype)
        assert tuple(got.shape) == want.shape
        np.testing.assert_allclose(np.from_dlpack(got), want, rtol=0, atol=tol)
    np.testing.assert_array_equal(res.num_steps, ref.num_steps)
    np.testing.assert_allclose(res.tridiagonal(), ref.tridiagonal(), rtol=0, atol=tol)
    nodes, weights = res.quadrature()
    assert isinstance(nodes, np.ndarray)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-6)
    # Without v0 the Gaussian start vector matches NumPy's draw for the same seed.
    res = lanczos(As, m, random_state=36)
    ref = lanczos(A, m, random_state=36)
    assert isinstance(res.alpha, type(As))
    np.testing.assert_allclose(np.from_dlpack(res.alpha), ref.alpha, rtol=0, atol=tol)


def test_array_api_strict_breakdown():
    xs = pytest.importorskip("array_api_strict")
    D = xs.asarray(np.diag(np.repeat([1.0, 2.0, 5.0], 10)))
    res = lanczos(D, 8, random_state=37, return_basis=True)
    assert res.num_steps == 3
    alpha = np.from_dlpack(res.alpha)
    assert np.all(np.isfinite(alpha))
    np.testing.assert_array_equal(alpha[3:], 0.0)
    np.testing.assert_array_equal(np.from_dlpack(res.beta)[2:], 0.0)


@pytest.mark.filterwarnings("ignore:You are comparing:UserWarning")
def test_backend_mismatch_is_an_error():
    xs = pytest.importorskip("array_api_strict")
    A = psd_matrix(spectrum("uniform", 10), seed=38)
    with pytest.raises(TypeError):
        lanczos(A, 3, v0=xs.asarray(np.ones(10)))
    with pytest.raises(TypeError):
        lanczos(xs.asarray(A), 3, v0=np.ones(10))


# -------------------------------------------------------------------------- CuPy


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reorthogonalize", [True, False])
def test_cupy_matches_numpy(cupy, dtype, reorthogonalize):
    n, m, p = 80, 20, 4
    A = psd_matrix(spectrum("uniform", n), seed=39, dtype=np.dtype(dtype))
    V = start_vectors(n, p, seed=40).astype(dtype)
    res = lanczos(cupy.asarray(A), m, v0=cupy.asarray(V), reorthogonalize=reorthogonalize, return_basis=True)
    ref = lanczos(A, m, v0=V, reorthogonalize=reorthogonalize, return_basis=True)
    tol = 1e-4 if dtype == "float32" else 1e-10
    for got, want in ((res.alpha, ref.alpha), (res.beta, ref.beta), (res.basis, ref.basis)):
        assert isinstance(got, cupy.ndarray) and got.dtype == np.dtype(dtype) and got.shape == want.shape
        np.testing.assert_allclose(cupy.asnumpy(got), want, rtol=0, atol=tol)
    np.testing.assert_array_equal(res.num_steps, ref.num_steps)
    nodes, weights = res.quadrature()
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(nodes, ref.quadrature()[0], atol=tol)


@pytest.mark.gpu
def test_cupy_breakdown_and_sparse(cupy):
    import cupyx.scipy.sparse as csp

    lam = np.repeat([1.0, 2.0, 5.0], 10)
    res = lanczos(cupy.asarray(np.diag(lam)), 8, random_state=41)
    assert res.num_steps == 3 and isinstance(res.alpha, cupy.ndarray)
    assert bool(cupy.all(res.alpha[3:] == 0)) and bool(cupy.all(res.beta[2:] == 0))
    A = psd_matrix(spectrum("uniform", 30), seed=42)
    A[np.abs(A) < 0.05] = 0.0
    v0 = start_vectors(30, seed=43)
    res = lanczos(csp.csr_matrix(sp.csr_matrix(A)), 10, v0=cupy.asarray(v0))
    ref = lanczos(A, 10, v0=v0)
    assert isinstance(res.alpha, cupy.ndarray)
    np.testing.assert_allclose(cupy.asnumpy(res.alpha), ref.alpha, atol=1e-10)
    np.testing.assert_allclose(cupy.asnumpy(res.beta), ref.beta, atol=1e-10)


@pytest.mark.parametrize("shape", [(0, 0), (5, 0), (0, 5)])
def test_lanczos_rejects_an_empty_matrix_naming_it(shape):
    # Was Operator's "shape must be a pair of positive integers", which does not name A.
    with pytest.raises(ValueError, match=r"^A must not be empty"):
        lanczos(np.ones(shape), 1)


def test_lanczos_takes_many_start_vectors_as_the_columns_of_v0():
    # v0 of shape (n, p) is p start vectors (documented), even with equal columns: the
    # validation fuzz's "matrix" value is a legal v0 here.
    A = np.diag(np.arange(1.0, 9.0))
    one = lanczos(A, 4, v0=np.ones(8))
    many = lanczos(A, 4, v0=np.ones((8, 2)))
    for j in range(2):
        np.testing.assert_allclose(many.alpha[j], one.alpha, rtol=1e-13)
        np.testing.assert_allclose(many.beta[j], one.beta, rtol=1e-13)
