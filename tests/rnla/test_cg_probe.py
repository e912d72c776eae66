"""nystrom_pcg(rank='auto') runs plain CG first and sketches only where a sketch is predicted to
pay (rnla._cg_probe): decisions checked by counts and iterates, never by wall-clock time."""

import numpy as np
import pytest
import scipy.sparse as sp
from helpers import psd_matrix

import rnla
from rnla import GramOperator, as_operator
from rnla._backend import array_namespace
from rnla._cg_probe import MIN_CHECK, CGProbe, sketch_price
from rnla.krylov import _pcg


def poisson2d(m):
    T = sp.diags([-np.ones(m - 1), 2 * np.ones(m), -np.ones(m - 1)], [-1, 0, 1])
    return (sp.kron(T, sp.eye(m)) + sp.kron(sp.eye(m), T)).tocsr()


def random_sparse_spd(n, seed=0):
    rng = np.random.default_rng(seed)
    B = sp.random(n, n, density=5.0 / n, random_state=rng, format="csr")
    S = B + B.T
    return (S + sp.diags(np.asarray(abs(S).sum(axis=1)).ravel() + 1.0)).tocsr()


def decaying_gram(n=3000, d=300, seed=0):
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((n, d)))
    V, _ = np.linalg.qr(rng.standard_normal((d, d)))
    X = (U / np.arange(1, d + 1)) @ V.T * np.sqrt(n)
    return X, rng.standard_normal(n)


FLAT = {
    "poisson 24²": lambda: poisson2d(24),
    "poisson 48²": lambda: poisson2d(48),
    "random sparse SPD": lambda: random_sparse_spd(4000),
    "identity-like": lambda: sp.diags(1.0 + 1e-3 * np.random.default_rng(3).random(4000)).tocsr(),
}


@pytest.mark.parametrize("mu", [0.0, 1e-8, 1e-3])
@pytest.mark.parametrize("name", sorted(FLAT))
def test_flat_spectra_are_solved_by_plain_cg_exactly(name, mu):
    # Was: a 16/32-column probe sketch before every solve, 1.9-18x the time of pcg on these.
    A = FLAT[name]()
    n = A.shape[0]
    b = np.random.default_rng(1).standard_normal(n)
    A_mu = (A + mu * sp.eye(n)).tocsr()
    x_p, info_p, plain = rnla.pcg(A_mu, b, rtol=1e-6, full_output=True)
    x, info, res = rnla.nystrom_pcg(A, b, mu, rtol=1e-6, random_state=0, full_output=True)
    assert info == info_p == 0
    assert res.sketch_matvecs == 0 and res.rank == 0 and res.probe_iterations == 0
    assert res.iterations == plain.iterations and res.matvecs == plain.matvecs
    np.testing.assert_allclose(x, x_p, rtol=1e-12, atol=1e-12 * np.linalg.norm(x_p))
    assert np.linalg.norm(A_mu @ x - b) <= 1e-6 * np.linalg.norm(b)
    # The returned preconditioner is the identity, reusable as M.
    np.testing.assert_array_equal(res.preconditioner @ b, b)


@pytest.mark.parametrize("mu", [1e-6, 1e-4])
def test_decaying_spectrum_sketches_after_a_short_probe(mu):
    X, y = decaying_gram()
    n = X.shape[0]
    H = GramOperator(X)
    g = X.T @ y / n
    x, info, res = rnla.nystrom_pcg(H, g, mu, rtol=1e-10, random_state=0, full_output=True)
    assert info == 0
    assert res.rank > 0 and res.sketch_matvecs >= res.rank
    # A dense Gram operator: the sketch is cheap next to a product, so it comes at once.
    assert MIN_CHECK <= res.probe_iterations <= 2 * MIN_CHECK
    A = X.T @ X / n + mu * np.eye(X.shape[1])
    _, _, plain = rnla.pcg(A, g, rtol=1e-10, full_output=True)
    assert res.iterations - res.probe_iterations < plain.iterations / 2
    assert np.linalg.norm(A @ x - g) <= 1e-10 * np.linalg.norm(g) * (1 + 1e-6)
    assert res.matvecs == res.iterations + res.sketch_matvecs + 1  # + the convergence check
    assert len(res.residual_norms) == res.iterations + 1


def test_probe_then_sketch_counts_callback_and_maxiter():
    X, y = decaying_gram(3000, 400)
    H = GramOperator(X)
    g = X.T @ y / X.shape[0]
    seen = []
    x, info, res = rnla.nystrom_pcg(H, g, 1e-6, rtol=1e-10, random_state=0, full_output=True,
                                    callback=lambda xk: seen.append(xk.copy()))
    assert info == 0 and res.probe_iterations > 0 and 0 < res.rank < 400
    assert res.iterations > res.probe_iterations + 2
    assert len(seen) == res.iterations
    np.testing.assert_array_equal(seen[-1], x)
    # maxiter covers the probe and the preconditioned iterations together.
    cap = res.probe_iterations + 2
    _, info, capped = rnla.nystrom_pcg(H, g, 1e-6, rtol=1e-10, random_state=0, maxiter=cap,
                                       full_output=True)
    assert info == cap and capped.iterations == cap


def test_x0_starts_the_probe_and_mb_sketches_first():
    A = poisson2d(20)
    n = A.shape[0]
    b = np.random.default_rng(4).standard_normal(n)
    x_ref = sp.linalg.spsolve(A.tocsc(), b)
    _, info, res = rnla.nystrom_pcg(A, b, x0=x_ref, rtol=1e-8, full_output=True)
    assert info == 0 and res.iterations == 0 and res.sketch_matvecs == 0
    _, info, res = rnla.nystrom_pcg(A, b, x0="Mb", rtol=1e-8, random_state=0, full_output=True)
    assert info == 0 and res.sketch_matvecs > 0  # 'Mb' needs the preconditioner first


def test_arguments_are_checked_before_plain_cg_finishes():
    A = sp.eye(50).tocsr()
    b = np.ones(50)
    with pytest.raises(ValueError, match="max_rank"):
        rnla.nystrom_pcg(A, b, max_rank=0)
    with pytest.raises(ValueError, match="sketch"):
        rnla.nystrom_pcg(A, b, sketch="bogus")
    with pytest.raises(ValueError, match="rank"):
        rnla.nystrom_pcg(A, b, rank=51)
    with pytest.raises(TypeError, match="random_state"):
        rnla.nystrom_pcg(A, b, random_state="seed")


def test_ritz_values_of_the_probe_are_the_lanczos_ones():
    # CG's coefficients define the Lanczos tridiagonal: after n steps on an n × n matrix its
    # eigenvalues are A's, and the predicted remaining iterations follow CG's bound.
    eig = np.linspace(1.0, 50.0, 12)
    A = psd_matrix(eig, seed=5)
    b = np.random.default_rng(6).standard_normal(12)
    probe = CGProbe(price=1e9, build=lambda: None)
    probe.next_check = 10**9  # record only
    xp = array_namespace(b)
    _pcg(as_operator(A), b, None, xp, np.float64, 1e-14, 0.0, 12, None, None, probe=probe)
    k = len(probe.inv_alpha)
    assert k == 12
    rho = probe.rnorms
    T = np.zeros((k, k))
    for j in range(k):
        T[j, j] = probe.inv_alpha[j] + ((rho[j] / rho[j - 1]) ** 2 * probe.inv_alpha[j - 1] if j else 0)
        if j + 1 < k:
            T[j, j + 1] = T[j + 1, j] = rho[j + 1] / rho[j] * probe.inv_alpha[j]
    np.testing.assert_allclose(np.linalg.eigvalsh(T), eig, rtol=1e-8)
    probe.rnorms, probe.inv_alpha = rho[:k], probe.inv_alpha[:k]
    predicted = probe.remaining(1.0, 1e-6)
    assert predicted == pytest.approx(0.5 * np.sqrt(50.0) * np.log(2e6), rel=1e-6)


def test_sketch_price_model():
    n = 4096
    sparse = as_operator(poisson2d(64))
    dense = as_operator(np.eye(n))
    callable_op = as_operator(((n, n), lambda v: v))
    # Unknown product cost: the sketch is priced at its products alone.
    assert sketch_price(callable_op, n, 32) == 32.0
    # A cheap sparse product: the sketch's algebra costs many iterations; a dense one few.
    assert sketch_price(sparse, n, 32) > 32
    assert sketch_price(dense, n, 32) < 8
    assert sketch_price(sparse, n, 16) < sketch_price(sparse, n, 32)


def test_the_decision_is_deterministic():
    X, y = decaying_gram(2000, 200, seed=7)
    H = GramOperator(X)
    g = X.T @ y / X.shape[0]
    runs = [rnla.nystrom_pcg(H, g, 1e-6, rtol=1e-8, random_state=0, full_output=True)[2] for _ in range(2)]
    assert runs[0].probe_iterations == runs[1].probe_iterations
    assert runs[0].matvecs == runs[1].matvecs and runs[0].rank == runs[1].rank
