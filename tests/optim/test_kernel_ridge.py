"""NystromKernelRidge's solvers: the cost model's choice, 'direct' and 'pcg' against KernelRidge,
the FALKON inducing-point mode, the memory budget and the parameter checks."""

import math
import warnings

import array_api_strict as xs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import LinAlgWarning
from sklearn.datasets import load_diabetes
from sklearn.kernel_ridge import KernelRidge
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.model_selection import train_test_split

import optim.kernel_ridge
from optim import NystromKernelRidge
from optim._inducing import default_centres
from optim._kernel_ops import (
    check_max_memory,
    default_max_memory,
    direct_cost,
    extrapolated,
    pcg_cost,
    pcg_estimate,
)


def sin_data(n=300, d=3, seed=0, k=None):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, d))
    f = np.sin(X @ rng.standard_normal(d if k is None else (d, k)))
    return X, f + 0.1 * rng.standard_normal(f.shape)


def rel(a, b):
    return np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(np.asarray(b))


def diabetes():
    X, y = load_diabetes(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    return X, (y - y.mean()) / y.std()


# ---------------------------------------------------------------------------------------------
# 'direct'
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kernel", ["rbf", "laplacian", "poly", "linear"])
@pytest.mark.parametrize("weighted", [False, True])
def test_direct_equals_kernel_ridge(kernel, weighted):
    X, Y = sin_data(k=2)
    sw = np.random.default_rng(3).uniform(0.2, 3.0, len(X)) if weighted else None
    for alpha, target in [(1e-3, Y[:, 0]), (np.array([1e-2, 1.0]), Y), (0.5, Y)]:
        ref = KernelRidge(alpha=alpha, kernel=kernel, gamma=0.3).fit(X, target, sample_weight=sw)
        est = NystromKernelRidge(alpha=alpha, kernel=kernel, gamma=0.3, solver="direct").fit(
            X, target, sample_weight=sw)
        assert est.solver_ == "direct" and est.dual_coef_.shape == ref.dual_coef_.shape
        assert rel(est.dual_coef_, ref.dual_coef_) < 1e-10
        assert np.all(np.asarray(est.n_iter_) == 1) and est.rank_ == 0
        # the recorded true residual is at rounding level, and a 1 % different alpha is far away
        for h in est.history_:
            assert h["residual_norm"][1] <= 1e-10 * h["residual_norm"][0]
        wrong = KernelRidge(alpha=np.asarray(alpha) * 1.01, kernel=kernel, gamma=0.3).fit(
            X, target, sample_weight=sw)
        assert rel(wrong.dual_coef_, ref.dual_coef_) > 1e-5


def test_direct_precomputed_and_unchanged_kernel():
    X, y = sin_data()
    K = pairwise_kernels(X, metric="rbf", gamma=0.5)
    K_copy = K.copy()
    sw = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    est = NystromKernelRidge(alpha=0.1, kernel="precomputed").fit(K, y, sample_weight=sw)
    np.testing.assert_array_equal(K, K_copy)
    ref = KernelRidge(alpha=0.1, kernel="precomputed").fit(K, y, sample_weight=sw)
    assert est.solver_ == "direct" and rel(est.dual_coef_, ref.dual_coef_) < 1e-10


def test_direct_float32_stays_float32():
    X, y = sin_data()
    est = NystromKernelRidge(alpha=0.1, gamma=0.5, solver="direct").fit(X.astype(np.float32),
                                                                        y.astype(np.float32))
    assert est.dual_coef_.dtype == np.float32 and est.predict(X.astype(np.float32)).dtype == np.float32
    ref = KernelRidge(alpha=0.1, kernel="rbf", gamma=0.5).fit(X, y)
    assert rel(est.dual_coef_, ref.dual_coef_) < 1e-4


def test_direct_indefinite_kernel_falls_back_like_kernel_ridge():
    rng = np.random.default_rng(4)
    M = rng.standard_normal((50, 50))
    K = (M + M.T) / 2
    y = rng.standard_normal(50)
    with pytest.warns(LinAlgWarning, match="not positive semidefinite"):
        est = NystromKernelRidge(alpha=0.3, kernel="precomputed", solver="direct").fit(K, y)
    np.testing.assert_allclose(est.dual_coef_, np.linalg.solve(K + 0.3 * np.eye(50), y), rtol=1e-9)
    assert np.all(est.n_iter_ == 0)


def test_direct_without_room_for_a_copy_recomputes_the_kernel():
    # max_memory for one n × n kernel only: factored in place, the residual by recomputed blocks.
    X, y = sin_data(n=200)
    ref = KernelRidge(alpha=1e-2, kernel="rbf", gamma=0.5).fit(X, y)
    est = NystromKernelRidge(alpha=1e-2, gamma=0.5, solver="direct", max_memory=1.5 * 200 * 200 * 8)
    est.fit(X, y)
    assert rel(est.dual_coef_, ref.dual_coef_) < 1e-10
    assert est.history_[0]["residual_norm"][1] <= 1e-10 * est.history_[0]["residual_norm"][0]


@settings(max_examples=15, deadline=None)
@given(alpha=st.floats(1e-4, 10.0), gamma=st.floats(0.05, 3.0), seed=st.integers(0, 1000))
def test_direct_property_equals_kernel_ridge(alpha, gamma, seed):
    X, y = sin_data(n=60, seed=seed)
    sw = np.random.default_rng(seed).uniform(0.1, 2.0, 60)
    ref = KernelRidge(alpha=alpha, kernel="rbf", gamma=gamma).fit(X, y, sample_weight=sw)
    est = NystromKernelRidge(alpha=alpha, gamma=gamma).fit(X, y, sample_weight=sw)
    assert est.solver_ == "direct"
    assert rel(est.dual_coef_, ref.dual_coef_) < 1e-9


# ---------------------------------------------------------------------------------------------
# 'pcg'
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("max_memory", [None, 1e3], ids=["held", "blocks"])
def test_pcg_equals_kernel_ridge_to_its_tolerance(max_memory):
    X, Y = sin_data(n=400, k=2)
    ref = KernelRidge(alpha=np.array([1e-2, 0.3]), kernel="rbf", gamma=0.5).fit(X, Y)
    est = NystromKernelRidge(alpha=np.array([1e-2, 0.3]), gamma=0.5, solver="pcg", tol=1e-10,
                             max_memory=max_memory, random_state=0).fit(X, Y)
    assert est.solver_ == "pcg" and 0 < est.rank_ <= 400 and np.all(est.n_iter_ >= 1)
    assert rel(est.dual_coef_, ref.dual_coef_) < 1e-6
    np.testing.assert_allclose(est.predict(X), ref.predict(X), atol=1e-7)


def test_pcg_blocks_equal_held(monkeypatch):
    X, y = sin_data(n=100)
    # An explicit rank: the adaptive one may depend on measured product times.
    held = NystromKernelRidge(alpha=0.05, gamma=2.0, solver="pcg", n_components=20, tol=1e-10,
                              random_state=0).fit(X, y)
    shapes = []
    real = optim.kernel_ridge.pairwise_kernels

    def spy(A, B=None, **kw):
        K = real(A, B, **kw)
        shapes.append(K.shape)
        return K

    monkeypatch.setattr(optim.kernel_ridge, "pairwise_kernels", spy)
    blocked = NystromKernelRidge(alpha=0.05, gamma=2.0, n_components=20, tol=1e-10, block_size=7,
                                 random_state=0).fit(X, y)
    monkeypatch.undo()
    assert blocked.solver_ == "pcg" and max(s[0] for s in shapes) <= 7
    assert blocked.rank_ == held.rank_
    np.testing.assert_array_equal(blocked.n_iter_, held.n_iter_)
    np.testing.assert_allclose(blocked.dual_coef_, held.dual_coef_, rtol=1e-8, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# the choice
# ---------------------------------------------------------------------------------------------

def test_auto_choices_on_small_problems():
    X, y = sin_data(n=120)
    assert NystromKernelRidge(gamma=0.5).fit(X, y).solver_ == "direct"
    assert NystromKernelRidge(gamma=0.5, n_components=10, random_state=0).fit(X, y).solver_ == "pcg"
    assert NystromKernelRidge(gamma=0.5, block_size=50, random_state=0).fit(X, y).solver_ == "pcg"
    assert NystromKernelRidge(gamma=0.5, block_size=500).fit(X, y).solver_ == "direct"
    # the kernel does not fit the memory budget: PCG on recomputed blocks, never 'direct'
    est = NystromKernelRidge(gamma=0.5, max_memory=120 * 120 * 8 - 1, random_state=0).fit(X, y)
    assert est.solver_ == "pcg"
    # 'auto' never picks the approximate solver
    for n in (50, 120):
        assert NystromKernelRidge(gamma=0.5).fit(X[:n], y[:n]).solver_ in ("direct", "pcg")


def test_auto_picks_pcg_when_the_spectrum_decays_fast():
    # Large alpha, smooth kernel: a rank-32 preconditioner and a few CG steps beat n³/3 flops.
    X, y = sin_data(n=2500, d=2, seed=5)
    est = NystromKernelRidge(alpha=30.0, gamma=0.05, random_state=0).fit(X, y)
    assert est.solver_ == "pcg"
    # (the adaptive rank may depend on measured product times: loose bounds)
    assert est.rank_ <= 256 and int(est.n_iter_[0]) < 200
    ref = KernelRidge(alpha=30.0, kernel="rbf", gamma=0.05).fit(X, y)
    assert rel(est.dual_coef_, ref.dual_coef_) < 1e-4  # tol=1e-6 on the residual
    # the same problem with a small alpha needs a high rank and many iterations: Cholesky
    est = NystromKernelRidge(alpha=1e-6, gamma=2.0, random_state=0).fit(X[:1500], y[:1500])
    assert est.solver_ == "direct"


def test_cost_model_counts():
    n = 10_000
    assert direct_cost(n, [0.1]) == pytest.approx(n**3 / 3 + 16 * 2 * n**2)
    assert direct_cost(n, [0.1, 0.1, 1.0]) == pytest.approx(2 * n**3 / 3 + 3 * 16 * 2 * n**2)
    assert pcg_cost(n, 64, 10, 2) == pytest.approx(2 * n**2 * 64 + 6 * n * 64**2 + 16 * 2 * n**2 * 20)
    # a spectrum λ_i = 1000 / (i + 1)^2: rank doubles until λ_ℓ <= 10 alpha
    evals = 1000.0 / (np.arange(400) + 1.0) ** 2
    rank, iterations = pcg_estimate(evals, 1e-2, 1e-6)
    assert rank == 128  # λ_64 = 0.237 > 0.1, λ_128 = 0.06 <= 0.1
    kappa = (1000 / 129**2 + 1e-2) / 1e-2
    assert iterations == math.ceil(0.5 * math.sqrt(kappa) * math.log(2e6)) + 1
    # beyond the resolved quarter of the probe, a power law fitted to it
    lam = extrapolated(evals)
    assert lam(50) == evals[50]
    assert lam(1000) == pytest.approx(1000.0 / 1001**2, rel=0.05)


def test_verbose_says_why(capsys):
    X, y = sin_data(n=80)
    NystromKernelRidge(gamma=0.5, verbose=1).fit(X, y)
    out = capsys.readouterr().out
    assert "solver='direct'" in out and "flops" in out


# ---------------------------------------------------------------------------------------------
# 'inducing'
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("weighted", [False, True])
def test_inducing_with_every_point_a_centre_is_exact(weighted):
    X, Y = sin_data(n=150, k=2)
    sw = np.random.default_rng(2).uniform(0.5, 2.0, 150) if weighted else None
    alpha = np.array([0.05, 1.0])
    ref = KernelRidge(alpha=alpha, kernel="rbf", gamma=0.5).fit(X, Y, sample_weight=sw)
    est = NystromKernelRidge(alpha=alpha, gamma=0.5, solver="inducing", n_components=150, tol=1e-12,
                             random_state=0).fit(X, Y, sample_weight=sw)
    assert est.solver_ == "inducing" and est.dual_coef_.shape == (150, 2)
    np.testing.assert_array_equal(est.inducing_indices_, np.arange(150))
    np.testing.assert_allclose(est.predict(X), ref.predict(X), atol=1e-6)
    X_test, _ = sin_data(n=40, seed=9)
    np.testing.assert_allclose(est.predict(X_test), ref.predict(X_test), atol=1e-6)
    if not weighted:  # the FALKON preconditioner is then exact up to the jitter
        assert np.all(est.n_iter_ <= 10)


def test_inducing_precomputed_equals_features():
    X, y = sin_data(n=200)
    K = pairwise_kernels(X, metric="rbf", gamma=0.5)
    a = NystromKernelRidge(alpha=0.1, gamma=0.5, solver="inducing", n_components=50, tol=1e-12,
                           random_state=1).fit(X, y)
    b = NystromKernelRidge(alpha=0.1, kernel="precomputed", solver="inducing", n_components=50, tol=1e-12,
                           random_state=1).fit(K, y)
    np.testing.assert_array_equal(a.inducing_indices_, b.inducing_indices_)
    assert b.dual_coef_.shape == (200,)
    np.testing.assert_allclose(b.dual_coef_[b.inducing_indices_], a.dual_coef_, rtol=1e-8, atol=1e-10)
    assert np.all(np.delete(b.dual_coef_, b.inducing_indices_) == 0)
    np.testing.assert_allclose(b.predict(K[:20]), a.predict(X[:20]), atol=1e-9)


def test_inducing_solves_the_restricted_problem():
    # β must solve (K_nMᵀ W K_nM + alpha K_MM) β = K_nMᵀ W y exactly (to tol), held or in blocks.
    X, y = sin_data(n=300)
    sw = np.random.default_rng(5).uniform(0.5, 2.0, 300)
    for max_memory in (None, 100.0):
        est = NystromKernelRidge(alpha=0.2, gamma=0.5, solver="inducing", n_components=40, tol=1e-12,
                                 max_memory=max_memory, block_size=64 if max_memory else "auto",
                                 random_state=0).fit(X, y, sample_weight=sw)
        C = X[est.inducing_indices_]
        np.testing.assert_array_equal(est.X_fit_, C)
        Knm = pairwise_kernels(X, C, metric="rbf", gamma=0.5)
        Kmm = pairwise_kernels(C, metric="rbf", gamma=0.5)
        beta = np.linalg.solve(Knm.T @ (sw[:, None] * Knm) + 0.2 * Kmm, Knm.T @ (sw * y))
        np.testing.assert_allclose(est.dual_coef_, beta, rtol=1e-6, atol=1e-8)


def test_inducing_accuracy_close_to_exact():
    X, y = diabetes()
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0)
    ref = KernelRidge(alpha=1.0, kernel="rbf", gamma=0.02).fit(X_tr, y_tr)
    est = NystromKernelRidge(alpha=1.0, gamma=0.02, solver="inducing", n_components=100,
                             random_state=0).fit(X_tr, y_tr)
    assert abs(est.score(X_te, y_te) - ref.score(X_te, y_te)) < 0.01
    X, y = sin_data(n=3000, d=2, seed=7)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0)
    ref = KernelRidge(alpha=1e-2, kernel="rbf", gamma=0.5).fit(X_tr, y_tr)
    est = NystromKernelRidge(alpha=1e-2, gamma=0.5, solver="inducing", random_state=0).fit(X_tr, y_tr)
    assert est.dual_coef_.shape == (default_centres(len(y_tr)),)
    assert ref.score(X_te, y_te) > 0.9
    assert abs(est.score(X_te, y_te) - ref.score(X_te, y_te)) < 2e-3


def test_inducing_float32_and_array_api():
    X, y = sin_data(n=200)
    est = NystromKernelRidge(alpha=0.1, gamma=0.5, solver="inducing", n_components=60, random_state=0)
    est.fit(X.astype(np.float32), y.astype(np.float32))
    assert est.dual_coef_.dtype == np.float32
    ref = NystromKernelRidge(alpha=0.1, gamma=0.5, solver="inducing", n_components=60, tol=1e-12,
                             random_state=0).fit(X, y)
    np.testing.assert_allclose(est.predict(X.astype(np.float32)), ref.predict(X), atol=2e-3)
    strict = NystromKernelRidge(alpha=0.1, gamma=0.5, solver="inducing", n_components=60, tol=1e-12,
                                random_state=0).fit(xs.asarray(X), xs.asarray(y))
    np.testing.assert_allclose(np.asarray(strict.predict(xs.asarray(X))), ref.predict(X), atol=1e-8)


def test_direct_array_api_strict():
    X, y = sin_data(n=100)
    est = NystromKernelRidge(alpha=0.1, gamma=0.5).fit(xs.asarray(X), xs.asarray(y))
    assert est.solver_ == "direct"
    ref = KernelRidge(alpha=0.1, kernel="rbf", gamma=0.5).fit(X, y)
    assert rel(np.asarray(est.dual_coef_), ref.dual_coef_) < 1e-10


# ---------------------------------------------------------------------------------------------
# parameters
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("params, error, match", [
    ({"solver": "cholesky"}, ValueError, "^solver"),
    ({"solver": None}, TypeError, "^solver"),
    ({"max_memory": 0}, ValueError, "^max_memory"),
    ({"max_memory": -1e9}, ValueError, "^max_memory"),
    ({"max_memory": "8GB"}, TypeError, "^max_memory"),
    ({"max_memory": math.nan}, ValueError, "^max_memory"),
    ({"solver": "inducing", "n_components": 0}, ValueError, "^n_components"),
    ({"solver": "inducing", "n_components": 2.5}, TypeError, "^n_components"),
    ({"solver": "inducing", "n_components": 41}, ValueError, "^n_components=41 exceeds"),
    ({"solver": "direct", "max_memory": 1000}, ValueError, "max_memory"),
])
def test_bad_parameters_name_the_argument(params, error, match):
    X, y = sin_data(n=40)
    with pytest.raises(error, match=match):
        NystromKernelRidge(**params).fit(X, y)


def test_max_memory_default_and_checks():
    assert default_max_memory() >= 2**20
    assert check_max_memory(None) == default_max_memory()
    assert check_max_memory(1e9) == 10**9
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        NystromKernelRidge(max_memory=2**33).fit(*sin_data(n=40))
