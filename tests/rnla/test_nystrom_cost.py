"""rank='auto' cost rule (adaptive_nystrom(..., stop='cost')): decisions by counts — the rank
chosen, the products spent — never by wall-clock assertions."""

import numpy as np
import pytest
import scipy.sparse as sp
from helpers import psd_matrix

import rnla
from rnla import as_operator
from rnla._backend import array_namespace
from rnla._dense_kernels import cholesky_qr, tall_svd
from rnla._nystrom_cost import MIN_GAIN, doubling_gains, keeps_preconditioner
from rnla.nystrom import DEFAULT_INITIAL_RANK, ZERO_MU_INITIAL_RANK, adaptive_nystrom

XP = array_namespace(np.ones(1))


def poisson2d(m):
    T = sp.diags([-np.ones(m - 1), 2 * np.ones(m), -np.ones(m - 1)], [-1, 0, 1])
    return (sp.kron(T, sp.eye(m)) + sp.kron(sp.eye(m), T)).tocsr()


def cost_sketch(A, mu, **kwargs):
    return adaptive_nystrom(as_operator(A), mu, xp=XP, dtype=np.float64, device=None, random_state=0,
                            stop="cost", **kwargs)


@pytest.mark.parametrize("mu", [0.0, 1e-8, 1e-4])
@pytest.mark.parametrize("m", [24, 40])
def test_flat_spectrum_stops_at_the_first_sketch_and_drops_the_preconditioner(m, mu):
    approx = cost_sketch(poisson2d(m), mu)
    first = ZERO_MU_INITIAL_RANK if mu == 0 else DEFAULT_INITIAL_RANK
    assert approx.sketch_size == first
    # λ̂_ℓ/λ̂_1 ≈ 0.99: P would cut the iterations by ~0.5% and cost an n×ℓ product each.
    assert approx.rank == 0
    # The old rule (stop='rank') grows to the cap with a tiny mu.
    grown = adaptive_nystrom(as_operator(poisson2d(m)), 1e-8, xp=XP, dtype=np.float64, device=None,
                             random_state=0, max_rank=256)
    assert grown.sketch_size == 256


@pytest.mark.parametrize("mu", [0.0, 1e-8])
def test_flat_spectrum_products_within_1_5x_of_plain_pcg(mu):
    m = 40
    A = poisson2d(m)
    b = np.random.default_rng(1).standard_normal(m * m)
    A_mu = A + mu * sp.eye(m * m)
    _, info_p, plain = rnla.pcg(A_mu, b, rtol=1e-5, full_output=True)
    x, info, res = rnla.nystrom_pcg(A, b, mu, rtol=1e-5, random_state=0, full_output=True)
    assert info == info_p == 0
    assert res.rank == 0
    assert res.matvecs <= 1.5 * plain.matvecs
    assert res.iterations <= plain.iterations + 2  # plain CG after the probe
    assert np.linalg.norm(A_mu @ x - b) <= 1e-5 * np.linalg.norm(b) * (1 + 1e-8)


def test_identity_like_and_random_sparse_spd_drop_the_preconditioner():
    n = 3000
    rng = np.random.default_rng(2)
    A = sp.diags(1.0 + rng.uniform(0, 1e-2, n)).tocsr()
    assert cost_sketch(A, 0.0).rank == 0
    R = sp.random(n, n, density=5.0 / n, random_state=3, format="csr")
    S = R + R.T
    S = (S + sp.diags(np.abs(S).sum(axis=1).A1 + 1.0)).tocsr()
    approx = cost_sketch(S, 1e-8)
    assert approx.sketch_size == DEFAULT_INITIAL_RANK and approx.rank == 0


@pytest.mark.parametrize("mu", [1e-6, 1e-5])
def test_decaying_spectrum_grows_and_keeps_the_preconditioner(mu):
    n = 600
    lam = 1.0 / np.arange(1, n + 1) ** 2
    A = psd_matrix(lam, seed=4)
    approx = cost_sketch(A, mu)
    assert approx.sketch_size > DEFAULT_INITIAL_RANK
    assert approx.rank == approx.sketch_size
    # Same stop as the tol·mu rule: the λ̂_ℓ <= 10 mu criterion, not the cost brake, ends it.
    ref = adaptive_nystrom(as_operator(A), mu, xp=XP, dtype=np.float64, device=None, random_state=0)
    assert approx.sketch_size == ref.sketch_size
    b = np.random.default_rng(5).standard_normal(n)
    _, _, plain = rnla.pcg(A + mu * np.eye(n), b, rtol=1e-8, full_output=True)
    _, info, res = rnla.nystrom_pcg(A, b, mu, rtol=1e-8, random_state=0, full_output=True)
    assert info == 0 and res.iterations < plain.iterations / 4


def test_doubling_gains_from_the_decay():
    flat = np.linspace(8.0, 7.9, 32)
    assert not doubling_gains(flat, 0.0) and not doubling_gains(flat, 1e-8)
    decaying = 1.0 / np.arange(1, 33) ** 2
    assert doubling_gains(decaying, 1e-6)
    # A large mu masks the decay: λ̂_32 ≈ 1e-3 << mu = 1, doubling gains nothing.
    assert not doubling_gains(decaying, 1.0)
    # The boundary: p = 2 log2(1/(1 - MIN_GAIN)) cuts the iterations by exactly MIN_GAIN.
    p = 2 * np.log2(1 / (1 - MIN_GAIN))
    just = np.arange(1, 33, dtype=float) ** (-p * 1.01)
    assert doubling_gains(just, 0.0)
    assert not doubling_gains(np.arange(1, 33, dtype=float) ** (-p * 0.99), 0.0)
    assert doubling_gains(np.array([3.0, 2.0, 1.0]), 0.0)  # too few values: grow


def test_keeps_preconditioner_needs_a_twofold_predicted_gain():
    # r = √((λ̂_k + μ)/(λ̂_1 + μ)) <= 1/2, i.e. λ̂_1 + μ >= 4 (λ̂_k + μ).
    assert keeps_preconditioner(np.array([1.0, 0.24]), 0.0)
    assert not keeps_preconditioner(np.array([1.0, 0.26]), 0.0)
    assert not keeps_preconditioner(np.array([1.0, 1e-6]), 1.0)  # mu masks the spread
    assert not keeps_preconditioner(np.zeros(0), 0.0)
    assert keeps_preconditioner(np.array([1.0, 1e-6, 1e-9]), 1e-8)


def test_cost_rule_is_deterministic_across_block_sizes_and_namespaces():
    import array_api_strict as xs

    n = 200
    A = psd_matrix(1.0 / np.arange(1, n + 1), seed=9)
    a = cost_sketch(A, 1e-3)
    b = cost_sketch(A, 1e-3)
    As = xs.asarray(A)
    s = adaptive_nystrom(as_operator(As), 1e-3, xp=array_namespace(As), dtype=xs.float64, device=None,
                         random_state=0, stop="cost")
    assert a.sketch_size == b.sketch_size == s.sketch_size and a.rank == b.rank == s.rank


def test_cost_rule_product_count_is_the_sketch():
    n = 300
    A = psd_matrix(0.9 ** np.arange(n), seed=6)
    columns = [0]

    def matmat(V):
        columns[0] += V.shape[1]
        return A @ V

    approx = adaptive_nystrom(as_operator(((n, n), lambda v: A @ v, matmat)), 1e-6, xp=XP, dtype=np.float64,
                              device=None, random_state=0, stop="cost")
    assert columns[0] == approx.sketch_size


@pytest.mark.parametrize("shape", [(200, 10), (5000, 64)])
def test_dense_kernels_against_lapack(shape):
    B = np.random.default_rng(7).standard_normal(shape) * np.logspace(0, -6, shape[1])
    Q, R = cholesky_qr(XP, B)
    np.testing.assert_allclose(Q.T @ Q, np.eye(shape[1]), atol=1e-12)
    np.testing.assert_allclose(Q @ R, B, atol=1e-12 * np.linalg.norm(B))
    U, S = tall_svd(XP, B)
    ref = np.linalg.svd(B, compute_uv=False)
    np.testing.assert_allclose(S, ref, rtol=1e-9)
    np.testing.assert_allclose(U.T @ U, np.eye(shape[1]), atol=1e-12)
    # U spans B's range with B Bᵀ = U S² Uᵀ.
    np.testing.assert_allclose(U @ (U.T @ B), B, atol=1e-10 * np.linalg.norm(B))
    np.testing.assert_allclose((U * S**2) @ U.T, B @ B.T, atol=1e-12 * ref[0] ** 2)
    _, S2 = tall_svd(XP, B, vectors=False)
    # σ² to absolute accuracy eps·σ₁² (what the Nyström eigenvalues σ² − ν need).
    np.testing.assert_allclose(S2**2, ref**2, atol=1e-13 * ref[0] ** 2)


def test_dense_kernels_fall_back_when_cholesky_fails():
    B = np.random.default_rng(8).standard_normal((100, 6))
    B[:, 5] = B[:, 4]  # rank deficient: Cholesky of BᵀB fails
    U, S = tall_svd(XP, B)
    np.testing.assert_allclose(S, np.linalg.svd(B, compute_uv=False), atol=1e-10)
    np.testing.assert_allclose(U.T @ U, np.eye(6), atol=1e-12)
    Q, R = cholesky_qr(XP, B)
    np.testing.assert_allclose(Q @ R, B, atol=1e-10)
