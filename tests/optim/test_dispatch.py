"""solver='auto' of SketchyRidge / SketchyLogisticRegression: the cost model's choices (by the rule,
never by wall time) and every solver's agreement with scikit-learn."""

from __future__ import annotations

import math
import warnings

import array_api_strict as xs
import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from sklearn.linear_model import LogisticRegression, Ridge

import optim.estimators
from optim import SketchyLogisticRegression, SketchyRidge, _dispatch
from optim._direct import lbfgs, logistic_hessian, newton_cholesky, ridge_direct
from optim.glm import Logistic
from optim.multinomial import Multinomial
from rnla.datasets import make_random_features_regression

RIDGE_SOLVERS = ["auto", "cholesky", "cg", "nystrom_pcg"]
LOGISTIC_SOLVERS = ["auto", "newton_cholesky", "lbfgs", "nncg"]


def tall(seed=0, n=400, d=12, targets=None):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * rng.uniform(0.5, 3.0, d) + rng.standard_normal(d) * 4
    shape = (n,) if targets is None else (n, targets)
    return X, X @ rng.standard_normal(d) if targets is None else \
        X @ rng.standard_normal((d, targets)) + rng.standard_normal(shape)


def rel(a, b):
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / max(np.linalg.norm(np.asarray(b)), 1e-300))


# -------------------------------------------------------------------------------- the choices
def test_dense_tall_small_d_picks_cholesky_without_a_probe():
    X, y = tall(n=3000, d=30)
    est = SketchyRidge(alpha=1.0).fit(X, y)
    assert est.solver_ == "cholesky"
    assert "costs less than" in est.decision_.reason  # decided up front, no probe
    assert int(est.n_iter_[0]) == 1


def test_wide_dense_small_n_picks_the_dual_cholesky():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((60, 500)), rng.standard_normal(60)
    est = SketchyRidge(alpha=0.5).fit(X, y)
    assert est.solver_ == "cholesky" and "dual" in est.decision_.reason
    ref = Ridge(alpha=0.5).fit(X, y)
    assert rel(est.coef_, ref.coef_) < 1e-10


def test_sparse_well_conditioned_picks_plain_cg_within_the_probe():
    X = sp.random(20000, 3000, density=1e-3, format="csr", random_state=np.random.default_rng(2))
    y = X @ np.ones(3000)
    est = SketchyRidge(alpha=10.0).fit(X, y)
    assert est.solver_ == "cg"
    assert int(est.n_iter_[0]) <= _dispatch.PROBE_ITERATIONS
    assert "probe" in est.decision_.reason


def test_ill_conditioned_large_d_picks_nystrom_pcg(monkeypatch):
    # A direct solve is ruled out by size (as for d > DIRECT_MAX_DIM; lowered here to keep the
    # problem small), plain CG would need far more iterations than the sketch costs.
    monkeypatch.setattr(_dispatch, "DIRECT_MAX_DIM", 100)
    X, y = make_random_features_regression(2000, 600, random_state=3)
    est = SketchyRidge(alpha=2000 * 1e-7, tol=1e-8, random_state=0).fit(X, y)
    assert est.solver_ == "nystrom_pcg"
    assert est.decision_.costs["cg"] > est.decision_.costs["nystrom_pcg"]
    ref = Ridge(alpha=2000 * 1e-7).fit(X, y)
    assert rel(est.coef_, ref.coef_) < 1e-4


def test_ill_conditioned_moderate_d_prefers_cholesky_over_the_sketch():
    X, y = make_random_features_regression(2000, 600, random_state=3)
    est = SketchyRidge(alpha=2000 * 1e-7).fit(X, y)
    assert est.solver_ == "cholesky"


def test_cost_model_rules_on_the_issue_sizes():
    S = _dispatch.Shape
    # dense ridge 50000×400: the Gram (0.22 s measured) costs 3-4 ten-iteration probes (0.06 s), and
    # a well-conditioned problem converges within the probe: probe first ...
    assert _dispatch.ridge_upfront(S(50000, 400, 50000 * 400, False)) is None
    # ... but at d = 50 the Gram is the cheaper start
    assert _dispatch.ridge_upfront(S(50000, 50, 50000 * 50, False)).solver == "cholesky"
    # sparse tall 200000×20000 (2e6 nnz): no direct solve (20000² too large), probe first
    assert _dispatch.ridge_upfront(S(200000, 20000, 2_000_000, True)) is None
    # wide random features 5000×20000, CG predicted to need thousands of iterations: the sketch
    s = S(5000, 20000, 5000 * 20000, False)
    assert _dispatch.ridge_after_probe(s, [5000.0]).solver == "nystrom_pcg"
    # ... but a handful more iterations: plain CG
    assert _dispatch.ridge_after_probe(s, [5.0]).solver == "cg"
    # dense n >> d logistic, ill-conditioned: Newton-Cholesky; sparse large-d, well-conditioned: L-BFGS
    slow = 0.99
    assert _dispatch.logistic_costs(S(200000, 300, 6e7, False), 1, slow, 1e-6).solver == "newton_cholesky"
    # sparse, very tall, moderate d, well-conditioned: NNCG with its minimum 3 CG steps per Newton
    # step, not L-BFGS (which takes ~3× plain CG's iterations: 233 and 298 on the dense Toeplitz
    # and L1 problems; on sparse logistic 100000×50000 Newton-CG 0.75 s, L-BFGS 2.04 s)
    decision = _dispatch.logistic_costs(S(10**6, 2000, 2e7, True), 1, 0.5, 1e-6)
    assert decision.solver == "nncg" and decision.costs["lbfgs"] > decision.costs["nncg"]
    # ... and at d >= NEWTON_CG_MIN_DIM, well-conditioned: NNCG without a sketch
    wide = _dispatch.logistic_costs(S(100000, 50000, 5e6, True), 1, 0.6, 1e-6)
    assert wide.solver == "nncg" and wide.options == {"rank": 0}
    assert _dispatch.logistic_costs(S(100000, 50000, 5e6, True), 1, 0.9, 1e-6).options == {}
    # sparse large d: NNCG, well- or ill-conditioned (L-BFGS-B's own O(dim) work per iteration
    # outweighs its few evaluations; no Hessian can be formed)
    assert _dispatch.logistic_costs(S(100000, 50000, 5e6, True), 1, 0.5, 1e-6).solver == "nncg"
    assert _dispatch.logistic_costs(S(100000, 50000, 5e6, True), 1, 0.999, 1e-6).solver == "nncg"
    # no L-BFGS off NumPy
    assert math.isinf(_dispatch.logistic_costs(S(1000, 50000, 5e6, True), 1, 0.5, 1e-6,
                                               numpy_backend=False).costs["lbfgs"])


def test_rate_and_iteration_prediction():
    r = [0.5**k for k in range(11)]
    assert _dispatch.rate_of(r) == pytest.approx(0.5)
    assert _dispatch.iterations_to(0.5, 2.0**-10) == pytest.approx(10)
    assert _dispatch.iterations_to(0.5, 2.0) == 0.0


def test_logistic_small_dense_picks_newton_cholesky():
    X, y = tall(seed=4, n=2000, d=10)
    est = SketchyLogisticRegression().fit(X, y > np.median(y))
    assert est.solver_ == "newton_cholesky"


def test_logistic_sparse_large_d_probes_and_skips_the_hessian(monkeypatch):
    monkeypatch.setattr(_dispatch, "DIRECT_MAX_DIM", 50)
    X = sp.random(3000, 400, density=0.02, format="csr", random_state=np.random.default_rng(5))
    y = (X @ np.random.default_rng(5).standard_normal(400)) > 0
    est = SketchyLogisticRegression(C=0.1).fit(X, y)
    assert est.solver_ in ("lbfgs", "nncg", "lbfgs+nncg")
    assert math.isinf(est.decision_.costs["newton_cholesky"])


def test_verbose_prints_the_decision(capsys):
    X, y = tall(n=500, d=5)
    SketchyRidge(verbose=True).fit(X, y)
    SketchyLogisticRegression(verbose=1).fit(X, y > 0)
    out = capsys.readouterr().out
    assert out.count("solver='auto' chose") == 2 and "predicted" in out


@pytest.mark.parametrize("est", [SketchyRidge(solver="lu"),
                                 SketchyLogisticRegression(solver="newton-cholesky")])
def test_unknown_solver_is_an_error_naming_it(est):
    X, y = tall(n=50, d=3)
    with pytest.raises(ValueError, match="solver"):
        est.fit(X, y > 0 if isinstance(est, SketchyLogisticRegression) else y)


def test_lbfgs_needs_numpy():
    X, y = tall(n=60, d=3)
    with sklearn.config_context(array_api_dispatch=True):
        with pytest.raises(ValueError, match="NumPy"):
            SketchyLogisticRegression(solver="lbfgs").fit(xs.asarray(X), y > 0)


def test_array_api_strict_auto_ridge_matches_numpy():
    X, y = tall(n=200, d=6)
    ref = SketchyRidge(alpha=0.3).fit(X, y)
    with sklearn.config_context(array_api_dispatch=True):
        est = SketchyRidge(alpha=0.3).fit(xs.asarray(X), xs.asarray(y))
    assert est.solver_ == ref.solver_ == "cholesky"
    np.testing.assert_allclose(np.asarray(est.coef_), ref.coef_, rtol=1e-10)


# -------------------------------------------------------------------------------- agreement: ridge
@pytest.mark.parametrize("solver", RIDGE_SOLVERS)
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_ridge_solvers_match_sklearn_weighted_multitarget(solver, sparse):
    X, Y = tall(seed=6, n=300, d=15, targets=3)
    if sparse:
        X = sp.csr_matrix(np.where(np.abs(X) > 3, X, 0.0))
    sw = np.random.default_rng(6).uniform(0.0, 2.0, 300)
    alphas = np.array([1e-3, 1.0, 10.0])
    ref = Ridge(alpha=alphas, solver="sparse_cg" if sparse else "cholesky", tol=1e-14, max_iter=100000
                ).fit(X, Y, sample_weight=sw)
    est = SketchyRidge(alpha=alphas, solver=solver, tol=1e-12, random_state=0).fit(X, Y, sample_weight=sw)
    assert est.solver_ in (solver, "cg", "cholesky", "nystrom_pcg")
    assert rel(est.coef_, ref.coef_) < 1e-8
    np.testing.assert_allclose(est.intercept_, ref.intercept_, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_ridge_cg_runs_all_targets_as_one_block(sparse, monkeypatch):
    # Three targets, two penalties: one blocked CG solve with one shift per column, no 1-D solve.
    X, Y = tall(seed=8, n=300, d=15, targets=3)
    if sparse:
        X = sp.csr_matrix(np.where(np.abs(X) > 3, X, 0.0))
    alphas = np.array([1.0, 10.0, 1.0])
    calls = []
    real_block, real_pcg = optim.estimators.block_pcg, optim.estimators.pcg

    def spy_block(op, B, *args, **kw):
        calls.append(("block", B.shape, tuple(kw["shifts"])))
        return real_block(op, B, *args, **kw)

    def spy_pcg(A, b, *args, **kw):
        calls.append(("pcg", b.shape))
        return real_pcg(A, b, *args, **kw)

    monkeypatch.setattr(optim.estimators, "block_pcg", spy_block)
    monkeypatch.setattr(optim.estimators, "pcg", spy_pcg)
    est = SketchyRidge(alpha=alphas, solver="cg", tol=1e-12).fit(X, Y)
    assert calls == [("block", (15, 3), (1.0 / 300, 10.0 / 300, 1.0 / 300))]
    ref = Ridge(alpha=alphas, solver="sparse_cg" if sparse else "cholesky", tol=1e-14,
                max_iter=100000).fit(X, Y)
    assert rel(est.coef_, ref.coef_) < 1e-8
    assert est.n_iter_.shape == (3,) and all(est.n_iter_ > 0)


@pytest.mark.parametrize("solver", RIDGE_SOLVERS)
def test_ridge_float32_stays_float32_and_matches(solver):
    X, y = tall(seed=7, n=500, d=8)
    ref = Ridge(alpha=0.1).fit(X, y)
    est = SketchyRidge(alpha=0.1, solver=solver, random_state=0).fit(X.astype(np.float32),
                                                                    y.astype(np.float32))
    assert est.coef_.dtype == np.float32
    assert rel(est.coef_, ref.coef_) < 2e-3


@pytest.mark.parametrize("solver", RIDGE_SOLVERS)
def test_ridge_alpha_zero_is_least_squares(solver):
    X, y = tall(seed=8, n=200, d=6)
    y = y + np.random.default_rng(8).standard_normal(200)
    Xc, yc = X - X.mean(0), y - y.mean()
    coef = np.linalg.lstsq(Xc, yc, rcond=None)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = SketchyRidge(alpha=0.0, solver=solver, tol=1e-13, random_state=0).fit(X, y)
    assert rel(est.coef_, coef) < 1e-7


def test_ridge_alpha_zero_rank_deficient_is_minimum_norm():
    rng = np.random.default_rng(9)
    B = rng.standard_normal((100, 3))
    X = B @ rng.standard_normal((3, 8))  # rank 3
    y = rng.standard_normal(100)
    Xc, yc = X - X.mean(0), y - y.mean()
    coef = np.linalg.pinv(Xc) @ yc
    est = SketchyRidge(alpha=0.0, solver="cholesky").fit(X, y)
    assert rel(est.coef_, coef) < 1e-7


def test_ridge_constant_feature_gets_zero_coefficient():
    X, y = tall(seed=10, n=100, d=4)
    X[:, 2] = 7.25
    est = SketchyRidge(alpha=1e-6, solver="cholesky").fit(X, y)
    assert est.coef_[2] == 0.0
    ref = Ridge(alpha=1e-6).fit(X, y)
    assert rel(est.predict(X), ref.predict(X)) < 1e-9


def test_ridge_direct_function_primal_and_dual_agree():
    rng = np.random.default_rng(11)
    import array_api_compat.numpy as xp

    for n, d in [(40, 10), (10, 40)]:
        X = rng.standard_normal((n, d)) + 2
        R = rng.standard_normal((n, 2))
        sw = rng.uniform(0.5, 1.5, n)
        m = (sw @ X) / sw.sum()
        R = R - (sw @ R) / sw.sum()
        W, how = ridge_direct(X, R, sw, float(sw.sum()), [0.5, 0.5], m, None, xp)
        Xc = X - m
        ref = np.linalg.solve(Xc.T @ (sw[:, None] * Xc) + 0.5 * np.eye(d), Xc.T @ (sw[:, None] * R))
        np.testing.assert_allclose(W, ref, rtol=1e-9, atol=1e-12)
        assert ("dual" in how) == (d > n)


# -------------------------------------------------------------------------------- agreement: logistic
def _logistic_data(seed, n_classes, n=300, d=6):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) + rng.standard_normal(d)
    y = np.argmax(X @ rng.standard_normal((d, n_classes)) + rng.gumbel(size=(n, n_classes)), axis=1)
    return X, y


@pytest.mark.parametrize("solver", LOGISTIC_SOLVERS)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_logistic_solvers_match_sklearn(solver, n_classes):
    X, y = _logistic_data(12, n_classes)
    sw = np.random.default_rng(12).uniform(0.0, 2.0, X.shape[0])
    ref = LogisticRegression(C=0.7, tol=1e-12, max_iter=10000).fit(X, y, sample_weight=sw)
    est = SketchyLogisticRegression(C=0.7, solver=solver, tol=1e-9, random_state=0).fit(
        X, y, sample_weight=sw)
    assert rel(est.coef_, ref.coef_) < 1e-6
    np.testing.assert_allclose(est.intercept_, ref.intercept_, atol=1e-6)


@pytest.mark.parametrize("solver", ["newton_cholesky", "lbfgs"])
def test_logistic_sparse_no_intercept_and_float32(solver):
    X, y = _logistic_data(13, 2, n=400, d=8)
    Xs = sp.csr_matrix(np.where(np.abs(X) > 0.7, X, 0.0))
    ref = LogisticRegression(C=2.0, fit_intercept=False, tol=1e-12, max_iter=10000).fit(Xs, y)
    est = SketchyLogisticRegression(C=2.0, fit_intercept=False, solver=solver, tol=1e-9).fit(Xs, y)
    assert rel(est.coef_, ref.coef_) < 1e-6
    # float32 gradients of 400 samples round at a few 1e-6: L-BFGS-B stops there ("relative
    # reduction of f"), short of the default tol, so it is asked for 1e-5.
    tol32 = 1e-5 if solver == "lbfgs" else 1e-6
    est32 = SketchyLogisticRegression(C=2.0, solver=solver, tol=tol32).fit(X.astype(np.float32), y)
    ref32 = LogisticRegression(C=2.0, tol=1e-12, max_iter=10000).fit(X, y)
    assert est32.coef_.dtype == np.float32
    assert rel(est32.coef_, ref32.coef_) < 1e-4


def test_logistic_hessian_matches_hessian_products():
    rng = np.random.default_rng(14)
    X = rng.standard_normal((80, 5)) + 1.5
    off = X.mean(0)
    for problem in (Logistic(X, rng.integers(0, 2, 80), 0.1, fit_intercept=True, x_offset=off,
                             sample_weight=rng.uniform(0.5, 2, 80)),
                    Multinomial(X, rng.integers(0, 3, 80), 0.1, fit_intercept=False)):
        w = 0.1 * rng.standard_normal(problem.dim)
        E = np.eye(problem.dim)
        dense = np.column_stack([problem.hvp(w, E[:, i]) for i in range(problem.dim)])
        H = logistic_hessian(problem, w)
        np.testing.assert_allclose(H, dense, rtol=1e-10, atol=1e-13)


def test_newton_cholesky_and_lbfgs_meet_gtol_and_report_failure():
    X, y = _logistic_data(15, 2)
    problem = Logistic(X, y, 1e-3, fit_intercept=True)
    x0 = np.zeros(problem.dim)
    for method in (newton_cholesky, lbfgs):
        res = method(problem, x0, gtol=1e-9, maxiter=500)
        assert res.success and np.linalg.norm(problem.grad(res.x)) <= 1e-9
        short = method(problem, x0, gtol=1e-12, maxiter=1)
        assert not short.success and short.status == 1
    assert newton_cholesky(problem, x0, gtol=1e-9, maxiter=50).nit <= 10  # quadratic convergence


def test_named_solvers_record_themselves_and_no_decision():
    X, y = tall(n=300, d=5)
    for solver in ("cholesky", "cg", "nystrom_pcg", "sketchy_svrg"):
        est = SketchyRidge(solver=solver, max_iter=5 if solver == "sketchy_svrg" else None,
                           random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, y)
        assert est.solver_ == solver and est.decision_ is None
    est = SketchyLogisticRegression(solver="nncg", random_state=0).fit(X, y > 0)
    assert est.solver_ == "nncg" and est.decision_ is None


def test_newton_cholesky_does_not_copy_X():
    # Newton-Cholesky holds a few (d+1)-square matrices (here 0.15 X.nbytes each) and blocks of
    # a sixteenth of the rows, never a centred copy of X.
    import tracemalloc

    rng = np.random.default_rng(0)
    X = rng.standard_normal((4000, 300)) + 5.0
    y = rng.integers(0, 2, 4000)
    SketchyLogisticRegression(solver="newton_cholesky").fit(X[:50], y[:50])
    tracemalloc.start()
    try:
        SketchyLogisticRegression(solver="newton_cholesky").fit(X, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes / 2


def test_logistic_sparse_high_dimensional_well_conditioned_runs_nncg_without_a_sketch():
    rng = np.random.default_rng(0)
    X = sp.random(20000, 4000, density=2e-3, format="csr", random_state=rng)
    X.data = rng.standard_normal(X.nnz)
    y = (X @ rng.standard_normal(4000) + rng.standard_normal(20000) > 0).astype(int)
    est = SketchyLogisticRegression(tol=1e-8).fit(X, y)
    assert est.solver_ == "nncg" and est.decision_.options == {"rank": 0}
    ref = LogisticRegression(tol=1e-12, max_iter=10000).fit(X, y)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=0, atol=1e-5 * np.abs(ref.coef_).max())
    np.testing.assert_allclose(est.intercept_, ref.intercept_, rtol=0, atol=1e-5)
    # An explicit rank is used as given: the same answer.
    est8 = SketchyLogisticRegression(tol=1e-8, rank=8).fit(X, y)
    np.testing.assert_allclose(est8.coef_, ref.coef_, rtol=0, atol=1e-5 * np.abs(ref.coef_).max())


def test_single_target_probe_goes_on_without_a_restart():
    from optim._ridge_probe import probe_and_finish
    from rnla import GramOperator

    rng = np.random.default_rng(5)
    n, d = 12000, 11500  # past DIRECT_MAX_DIM both ways: no Cholesky
    X = sp.random(n, d, density=5e-4, format="csr", random_state=rng)
    b = X.T @ rng.standard_normal(n) / n
    # Well conditioned: plain CG goes on after the probe, in the same iteration (no product to
    # recompute the residual): exactly the iterates of one uninterrupted CG run.
    mu = 1e-5
    x, info, res, decision = probe_and_finish(GramOperator(X), b, mu, None, 1e-10, None, None,
                                              shape=_dispatch.shape_of(X), n_penalties=1, rank="auto", rng=0)
    from rnla import pcg
    A = (X.T @ X / n + mu * sp.eye(d)).tocsr()
    x_ref, info_ref, ref = pcg(A, b, rtol=1e-10, full_output=True)
    assert info == info_ref == 0 and decision.solver == "cg"
    assert res.iterations == ref.iterations > _dispatch.PROBE_ITERATIONS
    assert res.matvecs == ref.matvecs
    np.testing.assert_allclose(x, x_ref, rtol=0, atol=1e-7 * np.abs(x_ref).max())  # A formed vs Gram products
    # Ill conditioned (columns scaled by 1/j): the sketch after the probe, PCG from its iterate.
    Xd = (X @ sp.diags(1.0 / np.arange(1, d + 1))).tocsr()
    bd = Xd.T @ rng.standard_normal(n) / n
    x, info, res, decision = probe_and_finish(GramOperator(Xd), bd, 1e-9, None, 1e-8, None, None,
                                              shape=_dispatch.shape_of(Xd), n_penalties=1, rank="auto",
                                              rng=0)
    Ad = (Xd.T @ Xd / n + 1e-9 * sp.eye(d)).tocsr()
    assert info == 0 and decision.solver == "nystrom_pcg" and res.rank > 0
    assert res.probe_iterations == _dispatch.PROBE_ITERATIONS
    assert res.matvecs == res.iterations + res.sketch_matvecs + 1
    assert np.linalg.norm(Ad @ x - bd) <= 1e-8 * np.linalg.norm(bd) * (1 + 1e-6)
