"""Tests of the PROMISE solvers ``sketchy_sgd``, ``sketchy_svrg``, ``sketchy_saga`` and ``sketchy_katyusha``.

The variance-reduced solvers are checked against exact or second-order references
(:class:`sklearn.linear_model.Ridge` with the Cholesky solver and
:class:`sklearn.linear_model.LogisticRegression` with Newton-Cholesky) on seeded problems whose
Hessian spectrum decays: dense and sparse, with and without an intercept and sample weights,
float64 and float32. SketchySGD is checked to reach a neighbourhood. Also covered: that the
preconditioner pays off on an ill-conditioned problem, reproducibility by seed, the contents of
the ``OptimizeResult`` and its history, the step-size rules, every stopping rule, divergence
detection, the work done per epoch (minibatch calls, SAGA's one-scalar-per-sample table, lazy
preconditioner refreshes), objectives given by callables, argument validation, the progress
bar, ``array_api_strict`` arrays and (marked ``gpu``, skipped without one) CuPy.
"""

import math
import warnings

import array_api_strict as xs
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import OptimizeResult
from sklearn.linear_model import LogisticRegression, Ridge

import optim.sketchy
from optim import (
    LeastSquares,
    Logistic,
    Objective,
    SketchyPreconditioner,
    sketchy_katyusha,
    sketchy_saga,
    sketchy_sgd,
    sketchy_svrg,
)

VR_SOLVERS = [sketchy_svrg, sketchy_saga, sketchy_katyusha]
ALL_SOLVERS = [sketchy_sgd, *VR_SOLVERS]
HISTORY_KEYS = ("epoch", "time", "fun", "grad_norm", "learning_rate")

# ----------------------------------------------------------------------------- helpers


def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def make_data(kind, seed, n=2000, d=30, power=1.0, sparse=False, dtype=np.float64, density=0.3):
    """X with N(0, 1) entries, column j scaled by 1/j**power (a decaying Hessian spectrum), and targets.

    ``kind`` is ``"ls"`` (noisy linear targets with an offset) or ``"log"`` (Bernoulli labels in
    {0, 1} from a logistic model with an offset). A sparse X keeps a random ``density`` of the
    entries, as SciPy CSR.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    if sparse:
        X = X * (rng.random((n, d)) < density)
    X = X / np.arange(1, d + 1) ** power
    w_true = rng.standard_normal(d) * 2.0
    z = X @ w_true + 0.5
    if kind == "ls":
        y = z + 0.1 * rng.standard_normal(n)
    else:
        y = (rng.random(n) < sigmoid(z)).astype(np.float64)
    X = X.astype(dtype)
    return (sp.csr_matrix(X) if sparse else X), y


def make_problem(kind, X, y, reg, fit_intercept=False, sample_weight=None):
    cls = LeastSquares if kind == "ls" else Logistic
    return cls(X, y, reg=reg, fit_intercept=fit_intercept, sample_weight=sample_weight)


def reference(kind, X, y, reg, fit_intercept=False, sample_weight=None):
    """The exact optimum from scikit-learn (float64), intercept last; reg = alpha / Σs = 1 / (C Σs)."""
    X = X.toarray() if sp.issparse(X) else np.asarray(X)
    X = X.astype(np.float64)
    total = X.shape[0] if sample_weight is None else float(np.sum(sample_weight))
    if kind == "ls":
        model = Ridge(alpha=reg * total, solver="cholesky", fit_intercept=fit_intercept)
    else:
        model = LogisticRegression(C=1.0 / (reg * total), solver="newton-cholesky", tol=1e-12, max_iter=1000,
                                   fit_intercept=fit_intercept)
    model.fit(X, y, sample_weight=sample_weight)
    coef = np.ravel(model.coef_)
    return np.r_[coef, np.ravel(model.intercept_)] if fit_intercept else coef


def rel_err(x, ref):
    return np.linalg.norm(np.asarray(x, np.float64) - ref) / np.linalg.norm(ref)


def vr_rule(L, reg, n):
    return max(1.0 / (2.0 * (reg * n + L)), 1.0 / (3.0 * L))


def katyusha_rule(L, reg, n):
    sigma = reg / L
    theta1 = min(math.sqrt(2.0 * n * sigma / 3.0), 0.5)
    eta = 0.5 / (1.5 * theta1)
    return eta / L


def step_rule(solver, L, reg, n):
    if solver is sketchy_sgd:
        return 1.0 / (2.0 * L)
    if solver is sketchy_katyusha:
        return katyusha_rule(L, reg, n)
    return vr_rule(L, reg, n)


@pytest.fixture(scope="module")
def ls_small():
    """A small least-squares problem (n = 2000, d = 30, spectrum ~ 1/j²) and its exact solution."""
    X, y = make_data("ls", 11)
    reg = 1e-3
    return make_problem("ls", X, y, reg), reference("ls", X, y, reg)


@pytest.fixture(scope="module")
def log_small():
    X, y = make_data("log", 12)
    reg = 1e-3
    return make_problem("log", X, y, reg), reference("log", X, y, reg)


# Three seeded problem shapes: (data seed, n, d, column decay power, reg).
SHAPES = [(0, 2000, 30, 1.0, 1e-3), (1, 3000, 50, 2.0, 1e-3), (2, 2500, 20, 1.0, 1e-4)]

# ----------------------------------------------------------------------------- accuracy


@pytest.mark.parametrize("solver", VR_SOLVERS, ids=lambda s: s.__name__)
@pytest.mark.parametrize("kind", ["ls", "log"])
@pytest.mark.parametrize("fit_intercept", [False, True], ids=["nointercept", "intercept"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("shape", SHAPES, ids=["shape0", "shape1", "shape2"])
def test_vr_reaches_exact_optimum_float64(solver, kind, fit_intercept, sparse, shape):
    seed, n, d, power, reg = shape
    X, y = make_data(kind, seed, n=n, d=d, power=power, sparse=sparse)
    ref = reference(kind, X, y, reg, fit_intercept)
    prob = make_problem(kind, X, y, reg, fit_intercept)
    g0 = np.linalg.norm(prob.grad(np.zeros(prob.dim)))
    assert np.linalg.norm(prob.grad(ref)) <= 1e-10 * g0  # the reference is the optimum
    res = solver(prob, epochs=400, tol=1e-10, random_state=seed)
    assert res.success and res.status == 0, res.message
    assert res.x.dtype == np.float64 and res.x.shape == (prob.dim,)
    assert rel_err(res.x, ref) <= 1e-6
    assert res.grad_norm <= 1e-10 * g0
    assert res.fun == pytest.approx(prob.value(ref), rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("solver", VR_SOLVERS, ids=lambda s: s.__name__)
@pytest.mark.parametrize("kind", ["ls", "log"])
@pytest.mark.parametrize("fit_intercept", [False, True], ids=["nointercept", "intercept"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_vr_reaches_optimum_float32(solver, kind, fit_intercept, sparse):
    X, y = make_data(kind, 3, n=3000, d=40, power=2.0, sparse=sparse, dtype=np.float32)
    assert X.dtype == np.float32
    reg = 1e-3
    ref = reference(kind, X, y, reg, fit_intercept)
    prob = make_problem(kind, X, y, reg, fit_intercept)
    res = solver(prob, epochs=100, tol=1e-5, random_state=0)
    assert res.x.dtype == np.float32
    assert res.jac.dtype == np.float32
    assert np.all(np.isfinite(res.x))
    assert rel_err(res.x, ref) <= 1e-3
    x0_given = solver(prob, np.zeros(prob.dim, dtype=np.float64), epochs=1, random_state=0)
    assert x0_given.x.dtype == np.float32  # x0 follows the problem's dtype


@pytest.mark.parametrize("kind", ["ls", "log"])
@pytest.mark.parametrize("fit_intercept", [False, True], ids=["nointercept", "intercept"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_sgd_reaches_neighbourhood(kind, fit_intercept, sparse):
    X, y = make_data(kind, 4, n=3000, d=40, power=1.0, sparse=sparse)
    reg = 1e-3
    ref = reference(kind, X, y, reg, fit_intercept)
    prob = make_problem(kind, X, y, reg, fit_intercept)
    fstar = prob.value(ref)
    res = sketchy_sgd(prob, epochs=20, tol=1e-12, random_state=4)
    fun = res.history["fun"]
    assert fun[-1] < fun[0] and res.fun < prob.value(np.zeros(prob.dim))
    assert res.fun - fstar >= -1e-12 * abs(fstar)  # fstar is the minimum
    assert (res.fun - fstar) / abs(fstar) <= 1e-2
    assert (fun[1] - fstar) < 0.5 * (fun[0] - fstar)  # most of the way in the first epoch


@pytest.mark.parametrize("solver", VR_SOLVERS, ids=lambda s: s.__name__)
@pytest.mark.parametrize("kind", ["ls", "log"])
@pytest.mark.parametrize("fit_intercept", [False, True], ids=["nointercept", "intercept"])
def test_sample_weight_matches_sklearn(solver, kind, fit_intercept):
    X, y = make_data(kind, 5, n=2000, d=30)
    sw = np.random.default_rng(50).uniform(0.0, 3.0, X.shape[0])
    sw[:100] = 0.0  # zero weights drop samples
    reg = 1e-3
    ref = reference(kind, X, y, reg, fit_intercept, sample_weight=sw)
    unweighted = reference(kind, X, y, reg, fit_intercept)
    assert rel_err(unweighted, ref) > 1e-3  # the weights matter
    prob = make_problem(kind, X, y, reg, fit_intercept, sample_weight=sw)
    res = solver(prob, epochs=400, tol=1e-10, random_state=5)
    assert res.success, res.message
    assert rel_err(res.x, ref) <= 1e-6
    # Integer weights mean repeated samples.
    if solver is sketchy_svrg and not fit_intercept:
        counts = np.random.default_rng(51).integers(1, 4, X.shape[0])
        Xr, yr = np.repeat(X, counts, axis=0), np.repeat(y, counts)
        rep = solver(make_problem(kind, Xr, yr, reg), epochs=400, tol=1e-10, random_state=5)
        wtd = solver(make_problem(kind, X, y, reg, sample_weight=counts), epochs=400, tol=1e-10,
                     random_state=5)
        assert rel_err(wtd.x, rep.x) <= 1e-6


# ----------------------------------------------------------------------------- preconditioning helps


@pytest.fixture(scope="module")
def ill_conditioned():
    """Column j scaled by 3/j as in benchmark L1 (n = 4000, d = 50), a tiny reg."""
    n, d = 4000, 50
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n, d)) * (3.0 / np.arange(1, d + 1))
    w0 = 3.0 * rng.standard_normal(d)
    y_log = (rng.random(n) < sigmoid(X @ w0)).astype(np.float64)
    y_ls = X @ w0 + 0.1 * rng.standard_normal(n)
    return {"ls": (LeastSquares(X, y_ls, reg=1e-6), 100.0), "log": (Logistic(X, y_log, reg=1e-5), 8.0)}


@pytest.mark.parametrize("solver", [sketchy_svrg, sketchy_saga], ids=lambda s: s.__name__)
@pytest.mark.parametrize("kind", ["ls", "log"])
@pytest.mark.parametrize("seed", [0, 1])
def test_preconditioning_helps(ill_conditioned, solver, kind, seed):
    prob, factor = ill_conditioned[kind]
    kw = dict(epochs=30, tol=0.0, rank=20, random_state=seed)
    pre = solver(prob, **kw)
    plain = solver(prob, precondition=False, **kw)
    assert pre.nit == plain.nit == 30
    assert plain.preconditioner.rank == 0 and pre.preconditioner.rank == 20
    assert pre.grad_norm * factor <= plain.grad_norm
    assert pre.fun <= plain.fun


# ----------------------------------------------------------------------------- reproducibility


@pytest.mark.parametrize("solver", ALL_SOLVERS, ids=lambda s: s.__name__)
def test_same_seed_bit_identical(solver, log_small):
    prob, _ = log_small
    kw = dict(epochs=4, tol=0.0, batch_size=128)
    a = solver(prob, random_state=7, **kw)
    b = solver(prob, random_state=7, **kw)
    c = solver(prob, random_state=np.random.default_rng(7), **kw)
    for other in (b, c):
        np.testing.assert_array_equal(a.x, other.x)
        assert a.fun == other.fun and a.learning_rate == other.learning_rate
        for key in HISTORY_KEYS:
            if key != "time":
                np.testing.assert_array_equal(a.history[key], other.history[key])
    d = solver(prob, random_state=8, **kw)
    assert not np.array_equal(a.x, d.x)
    assert not np.array_equal(a.history["fun"][1:], d.history["fun"][1:])


def test_sgd_different_seeds_different_iterates(ls_small):
    prob, _ = ls_small
    xs_ = [sketchy_sgd(prob, epochs=3, tol=0.0, random_state=s).x for s in range(4)]
    for i in range(4):
        for j in range(i):
            assert np.linalg.norm(xs_[i] - xs_[j]) > 1e-8 * np.linalg.norm(xs_[i])


def test_x0_is_not_modified(ls_small):
    prob, _ = ls_small
    x0 = np.full(prob.dim, 0.1)
    for solver in ALL_SOLVERS:
        solver(prob, x0, epochs=2, random_state=0)
        np.testing.assert_array_equal(x0, np.full(prob.dim, 0.1))


# ----------------------------------------------------------------------------- OptimizeResult


@pytest.mark.parametrize("solver", ALL_SOLVERS, ids=lambda s: s.__name__)
@pytest.mark.parametrize("kind", ["ls", "log"])
def test_result_contents(solver, kind, ls_small, log_small):
    prob, _ = ls_small if kind == "ls" else log_small
    x0 = np.linspace(-0.5, 0.5, prob.dim)
    res = solver(prob, x0, epochs=6, tol=0.0, random_state=3)
    assert isinstance(res, OptimizeResult)
    for key in ("x", "fun", "jac", "grad_norm", "nit", "success", "status", "message", "history",
                "learning_rate", "smoothness", "preconditioner"):
        assert key in res
    assert res.status == 1 and res.success is False and res.nit == 6
    assert "epoch" in res.message
    assert isinstance(res.fun, float) and isinstance(res.grad_norm, float)
    assert res.fun == pytest.approx(prob.value(res.x), rel=1e-13)
    np.testing.assert_allclose(res.jac, prob.grad(res.x), rtol=1e-12, atol=1e-15)
    assert res.grad_norm == pytest.approx(np.linalg.norm(res.jac), rel=1e-12)
    assert isinstance(res.preconditioner, SketchyPreconditioner)
    hist = res.history
    assert set(hist) == set(HISTORY_KEYS)
    for key in HISTORY_KEYS:
        assert isinstance(hist[key], np.ndarray) and hist[key].shape == (res.nit + 1,)
    np.testing.assert_array_equal(hist["epoch"], np.arange(res.nit + 1))
    assert hist["fun"][0] == pytest.approx(prob.value(x0), rel=1e-13)
    assert hist["grad_norm"][0] == pytest.approx(np.linalg.norm(prob.grad(x0)), rel=1e-12)
    assert hist["fun"][-1] == res.fun and hist["grad_norm"][-1] == res.grad_norm
    assert np.all(np.isfinite(hist["learning_rate"][1:]))
    assert np.all(np.diff(hist["time"]) >= 0) and hist["time"][0] >= 0
    assert res.history["learning_rate"][-1] == res.learning_rate
    # The step-size rule with L_P = res.smoothness (the last refresh's).
    n, reg = prob.n_samples, prob.reg
    assert res.smoothness > 0
    assert res.learning_rate == pytest.approx(step_rule(solver, res.smoothness, reg, n), rel=1e-12)
    if kind == "ls":  # one sketch: the step size never changes
        np.testing.assert_allclose(hist["learning_rate"][1:], res.learning_rate, rtol=1e-14)


@pytest.mark.parametrize("solver", ALL_SOLVERS, ids=lambda s: s.__name__)
def test_smoothness_estimates_preconditioned_lambda_max(solver, ls_small):
    """With b_H = n, L_P is a power-iteration estimate of λ_max(P^-1/2 (H + reg I) P^-1/2)."""
    prob, _ = ls_small
    res = solver(prob, epochs=1, tol=0.0, hessian_batch_size=prob.n_samples, random_state=2)
    P = res.preconditioner
    H = prob.X.T @ prob.X / prob.n_samples + prob.reg * np.eye(prob.dim)
    S = P.apply_inverse_sqrt(np.eye(prob.dim))
    exact = np.linalg.eigvalsh(S @ H @ S)[-1]
    assert 0.8 * exact <= res.smoothness <= exact * (1 + 1e-8)


@pytest.mark.parametrize("solver", ALL_SOLVERS, ids=lambda s: s.__name__)
def test_learning_rate_override(solver, ls_small):
    prob, _ = ls_small
    res = solver(prob, epochs=3, tol=0.0, learning_rate=0.05, random_state=0)
    assert res.status == 1
    if solver is sketchy_katyusha:  # a given learning_rate replaces 1/L_P
        assert res.smoothness == pytest.approx(1.0 / 0.05, rel=1e-14)
        assert res.learning_rate == pytest.approx(katyusha_rule(20.0, prob.reg, prob.n_samples), rel=1e-12)
    else:
        assert res.learning_rate == 0.05
        np.testing.assert_array_equal(res.history["learning_rate"][1:], 0.05)
    auto = solver(prob, epochs=3, tol=0.0, random_state=0)
    assert not np.array_equal(auto.x, res.x)


# ----------------------------------------------------------------------------- stopping


@pytest.mark.parametrize("solver", ALL_SOLVERS, ids=lambda s: s.__name__)
def test_stops_at_tol(solver, log_small):
    prob, _ = log_small
    tol = 1e-2 if solver is sketchy_sgd else 1e-6  # SGD reaches a neighbourhood only
    res = solver(prob, epochs=200, tol=tol, random_state=1)
    assert res.status == 0 and res.success is True, res.message
    assert "converged" in res.message
    assert res.grad_norm <= tol * res.history["grad_norm"][0]
    assert np.all(res.history["grad_norm"][1:-1] > tol * res.history["grad_norm"][0])  # the first time
    assert res.nit < 200


def test_tol_met_at_x0_does_no_epoch(ls_small):
    prob, _ = ls_small
    res = sketchy_svrg(prob, epochs=5, tol=1.0, random_state=0)
    assert res.status == 0 and res.success and res.nit == 0
    np.testing.assert_array_equal(res.x, np.zeros(prob.dim))


@pytest.mark.parametrize("solver", ALL_SOLVERS, ids=lambda s: s.__name__)
def test_epoch_limit(solver, ls_small):
    prob, _ = ls_small
    res = solver(prob, epochs=2, tol=1e-14, random_state=0)
    assert res.status == 1 and res.success is False and res.nit == 2
    assert res.message == optim.sketchy.STATUS_MESSAGES[1]


@pytest.mark.parametrize("solver", ALL_SOLVERS, ids=lambda s: s.__name__)
def test_ftol(solver, log_small):
    prob, _ = log_small
    ftol = 1e-4
    res = solver(prob, epochs=200, tol=0.0, ftol=ftol, random_state=2)
    assert res.status == 4 and res.success is True, res.message
    fun = res.history["fun"]
    dec = fun[:-1] - fun[1:]
    met = (dec >= 0) & (dec <= ftol * np.abs(fun[1:]))
    assert met[-1] and not met[:-1].any()


@pytest.mark.parametrize("solver", ALL_SOLVERS, ids=lambda s: s.__name__)
def test_callback_gets_result_and_stops(solver, log_small):
    prob, _ = log_small
    seen = []

    def callback(info):
        assert isinstance(info, OptimizeResult)
        seen.append(info)
        return True if info.nit == 3 else None

    res = solver(prob, epochs=10, tol=0.0, callback=callback, random_state=0)
    assert res.status == 3 and res.success is False and res.nit == 3
    assert "callback" in res.message
    assert [i.nit for i in seen] == [1, 2, 3]
    for info in seen:
        assert info.fun == res.history["fun"][info.nit]
        assert info.grad_norm == res.history["grad_norm"][info.nit]
        assert info.learning_rate == res.history["learning_rate"][info.nit]
        assert info.fun == pytest.approx(prob.value(info.x), rel=1e-13)
        np.testing.assert_allclose(info.jac, prob.grad(info.x), rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(seen[-1].x, res.x)


def test_convergence_wins_over_callback_stop(log_small):
    """A callback asking to stop in the epoch that converges leaves the run reported as converged."""
    prob, _ = log_small
    res = sketchy_svrg(prob, epochs=10, tol=0.9, callback=lambda info: True, random_state=0)
    assert res.nit == 1 and res.status == 0 and res.success


@pytest.mark.parametrize("solver", ALL_SOLVERS, ids=lambda s: s.__name__)
def test_callback_stop_iteration(solver, ls_small):
    prob, _ = ls_small
    calls = []

    def callback(info):
        calls.append(info.nit)
        if info.nit == 2:
            raise StopIteration

    res = solver(prob, epochs=10, tol=0.0, callback=callback, random_state=0)
    assert res.status == 3 and not res.success and res.nit == 2 and calls == [1, 2]


def test_callback_falsy_returns_do_not_stop(ls_small):
    prob, _ = ls_small
    res = sketchy_svrg(prob, epochs=4, tol=0.0, callback=lambda info: False, random_state=0)
    assert res.status == 1 and res.nit == 4


def test_callback_numpy_true_stops(ls_small):
    prob, _ = ls_small
    """A callback returning numpy.True_ (e.g. ``return np.linalg.norm(r.x) > 1``) stops the run too."""
    res = sketchy_svrg(prob, epochs=4, tol=0.0, callback=lambda info: np.bool_(True), random_state=0)
    assert res.status == 3 and res.nit == 1


# ----------------------------------------------------------------------------- divergence


def _record_iterates():
    xs_ = []

    def callback(info):
        xs_.append(np.array(info.x, copy=True))

    return xs_, callback


@pytest.mark.parametrize("solver", ALL_SOLVERS, ids=lambda s: s.__name__)
@pytest.mark.parametrize("kind,lr", [("ls", 1e6), ("log", 1e6), ("ls", "late"), ("log", 10.0)])
def test_divergence_detected(solver, kind, lr, ls_small, log_small):
    prob, _ = ls_small if kind == "ls" else log_small
    if lr == "late":  # just above the stable step: diverges after the first epoch
        lr = 3.0 if solver is sketchy_katyusha else 1.0
    x0 = np.full(prob.dim, 0.01)
    iterates, callback = _record_iterates()
    res = solver(prob, x0, epochs=50, tol=0.0, learning_rate=lr, callback=callback, random_state=0)
    assert res.status == 2 and res.success is False
    assert "diverged" in res.message
    assert np.all(np.isfinite(res.x)) and math.isfinite(res.fun) and math.isfinite(res.grad_norm)
    last = iterates[-1] if iterates else x0
    assert res.nit == len(iterates)
    np.testing.assert_array_equal(res.x, last)
    assert res.fun == pytest.approx(prob.value(last), rel=1e-13)
    np.testing.assert_allclose(res.jac, prob.grad(last), rtol=1e-12, atol=1e-15)
    for key in HISTORY_KEYS:
        assert res.history[key].shape == (res.nit + 1,)
    assert np.all(np.isfinite(res.history["fun"]))
    assert res.fun == res.history["fun"][-1]
    # Diverged means the objective grew by more than 1e4 (|f(x0)| + 1): no kept iterate did.
    f0 = res.history["fun"][0]
    assert np.all(res.history["fun"] - f0 <= 1e4 * (abs(f0) + 1.0))


def test_divergence_case_reaches_later_epochs(ls_small):
    """The 'late' case above really returns an iterate after the start (not only x0)."""
    prob, _ = ls_small
    res = sketchy_svrg(prob, np.full(prob.dim, 0.01), epochs=50, learning_rate=1.0, random_state=0)
    assert res.status == 2 and res.nit >= 1


@pytest.mark.parametrize("solver", ALL_SOLVERS, ids=lambda s: s.__name__)
def test_divergence_float32_overflow(solver):
    X, y = make_data("ls", 1, dtype=np.float32)
    prob = LeastSquares(X, y, reg=1e-3)
    res = solver(prob, epochs=20, learning_rate=1e6, random_state=0)
    assert res.status == 2 and not res.success and "diverged" in res.message
    assert res.x.dtype == np.float32 and np.all(np.isfinite(res.x)) and math.isfinite(res.fun)


@pytest.mark.parametrize("solver", ALL_SOLVERS, ids=lambda s: s.__name__)
def test_divergence_float32_emits_no_runtime_warning(solver):
    """Overflow in a diverging epoch is reported by status 2, not by NumPy RuntimeWarnings (which
    ``-W error`` would turn into exceptions)."""
    X, y = make_data("ls", 1, dtype=np.float32)
    prob = LeastSquares(X, y, reg=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        res = solver(prob, epochs=20, learning_rate=1e6, random_state=0)
    assert res.status == 2 and np.all(np.isfinite(res.x))


# ----------------------------------------------------------------------------- work per epoch


class _FullBatch:
    """Proxy of the full batch that logs each full-gradient evaluation ``grad`` (Katyusha's snapshots)."""

    def __init__(self, batch, log):
        self._batch, self._log = batch, log

    def grad(self, w):
        self._log.epochs[-1].append(("full_grad", None))
        return self._batch.grad(w)

    def __getattr__(self, name):
        return getattr(self._batch, name)


class BatchLog:
    """Wraps ``problem.batch`` of one instance and logs, epoch by epoch, each minibatch ``("batch", idx)``,
    each full batch built ``("full", None)`` and each full gradient taken from it ``("full_grad", None)``,
    ignoring the calls made while the preconditioner or the step size is being estimated. The callback
    closes each epoch."""

    def __init__(self, problem, monkeypatch):
        self.problem = problem
        self.epochs = [[]]
        self.muted = False
        original = problem.batch

        def batch(idx=None):
            if self.muted:
                return original(idx)
            if idx is None:
                self.epochs[-1].append(("full", None))
                return _FullBatch(original(None), self)
            self.epochs[-1].append(("batch", np.array(idx, copy=True)))
            return original(idx)

        problem.batch = batch
        for name in ("hessian_preconditioner", "preconditioned_smoothness"):
            monkeypatch.setattr(optim.sketchy, name, self._muting(getattr(optim.sketchy, name)))

    def _muting(self, fn):
        def wrapper(*args, **kwargs):
            self.muted = True
            try:
                return fn(*args, **kwargs)
            finally:
                self.muted = False

        return wrapper

    def callback(self, info):
        self.epochs.append([])

    def split(self):
        """``(events before epoch 1, [events of each epoch])``; the events before the first epoch are
        the leading full-batch ones."""
        first = self.epochs[0]
        k = 0
        while k < len(first) and first[k][0] == "full":
            k += 1
        return first[:k], [first[k:], *self.epochs[1:-1]]


def minibatches(events):
    return [idx for kind, idx in events if kind == "batch"]


def count(events, kind):
    return sum(1 for k, _ in events if k == kind)


@pytest.mark.parametrize("solver", ALL_SOLVERS, ids=lambda s: s.__name__)
@pytest.mark.parametrize("kind,sparse", [("ls", False), ("log", True)])
@pytest.mark.parametrize("batch_size", [256, 100, 5000])
def test_minibatch_calls_per_epoch(solver, kind, sparse, batch_size, monkeypatch):
    X, y = make_data(kind, 6, n=1500, d=20, sparse=sparse)
    prob = make_problem(kind, X, y, 1e-3)
    n = prob.n_samples
    log = BatchLog(prob, monkeypatch)
    epochs = 3
    res = solver(prob, epochs=epochs, tol=0.0, batch_size=batch_size, callback=log.callback, random_state=0)
    assert res.nit == epochs
    before, per_epoch = log.split()
    assert len(per_epoch) == epochs and log.epochs[-1] == []
    # The full batch, built once (plus SAGA's table, or the full batch of Katyusha's first epoch).
    assert 1 <= len(before) <= 2
    b = min(batch_size, n)
    for events in per_epoch:
        batches = minibatches(events)
        assert count(events, "full") <= 1  # at most one full batch (Katyusha's)
        assert len(batches) == math.ceil(n / b)
        assert all(1 <= idx.shape[0] <= b for idx in batches)
        # Each epoch is one pass over a permutation: every sample exactly once.
        np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(n))
        if solver is not sketchy_katyusha:
            assert count(events, "full_grad") == 0
    orders = [np.concatenate(minibatches(events)) for events in per_epoch]
    if b < n:
        assert not np.array_equal(orders[0], orders[1])  # a fresh permutation every epoch


@settings(max_examples=25)
@given(n=st.integers(1, 40), b=st.integers(1, 50), which=st.sampled_from(range(4)),
       intercept=st.booleans(), seed=st.integers(0, 2**16))
def test_minibatch_partition_property(n, b, which, intercept, seed):
    """Any n and batch size: ⌈n/b⌉ minibatches per epoch partition the samples; the run stays finite."""
    solver = ALL_SOLVERS[which]
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    prob = LeastSquares(X, rng.standard_normal(n), reg=0.1, fit_intercept=intercept)
    with pytest.MonkeyPatch.context() as mp:
        log = BatchLog(prob, mp)
        res = solver(prob, epochs=2, tol=0.0, batch_size=b, callback=log.callback, random_state=seed)
    assert res.status in (1, 2)
    assert np.all(np.isfinite(res.x)) and res.x.shape == (prob.dim,)
    _, per_epoch = log.split()
    for events in per_epoch[:res.nit]:
        batches = minibatches(events)
        assert len(batches) == math.ceil(n / min(b, n))
        np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(n))


def _katyusha_snapshot_count(n, batch_size, epochs, seed, monkeypatch):
    X, y = make_data("ls", 13, n=n, d=10)
    prob = LeastSquares(X, y, reg=1e-3)
    log = BatchLog(prob, monkeypatch)
    sketchy_katyusha(prob, epochs=epochs, tol=0.0, batch_size=batch_size, callback=log.callback,
                     random_state=seed)
    _, per_epoch = log.split()
    return sum(count(events, "full_grad") for events in per_epoch)


def test_katyusha_snapshot_probability(monkeypatch):
    """The loopless snapshot moves (one full gradient) with probability p = b/n per step."""
    n, b, epochs = 1000, 50, 25
    steps = epochs * math.ceil(n / b)
    total = _katyusha_snapshot_count(n, b, epochs, 0, monkeypatch)
    mean, sd = steps * b / n, math.sqrt(steps * b / n * (1 - b / n))
    assert abs(total - mean) <= 5 * sd  # 25 expected; 0 or 500 are bugs
    # b = n: every step is a snapshot.
    assert _katyusha_snapshot_count(200, 200, 4, 1, monkeypatch) == 4


def _dense(X):
    return X.toarray() if sp.issparse(X) else np.asarray(X, np.float64)


class ReferenceGLM:
    """Independent float64 NumPy formulas of the GLM objective (for replaying the solvers' steps)."""

    def __init__(self, kind, X, y, reg, fit_intercept, sample_weight):
        A = _dense(X)
        n = A.shape[0]
        self.A = np.hstack([A, np.ones((n, 1))]) if fit_intercept else A
        self.y = np.asarray(y, np.float64)
        self.kind, self.reg, self.n = kind, reg, n
        sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64)
        self.s = sw * n / sw.sum()
        self.mask = np.ones(self.A.shape[1])
        if fit_intercept:
            self.mask[-1] = 0.0

    def dloss(self, z, idx=slice(None)):
        """s_i ℓ'(z_i) for the samples idx."""
        d = z - self.y[idx] if self.kind == "ls" else sigmoid(z) - self.y[idx]
        return self.s[idx] * d

    def grad(self, w, idx=slice(None)):
        A = self.A[idx]
        return A.T @ self.dloss(A @ w, idx) / A.shape[0] + self.reg * self.mask * w


def replay(solver, ref, x0, per_epoch, Pinv, L):
    """The iterates after each epoch of the PROMISE recursions of ALGORITHMS.md, driven by the logged
    minibatches (and, for Katyusha, the logged snapshot moves)."""
    n, reg = ref.n, ref.reg
    w = np.array(x0, np.float64)
    out = []
    if solver is sketchy_saga:
        table = ref.dloss(ref.A @ w)
        u = ref.A.T @ table / n
    if solver is sketchy_katyusha:
        sigma = reg / L
        theta1, theta2 = min(math.sqrt(2 * n * sigma / 3), 0.5), 0.5
        eta = theta2 / ((1 + theta2) * theta1)
        y_snap, z, grad_y = w.copy(), w.copy(), ref.grad(w)
    lr = step_rule(solver, L, reg, n)
    for events in per_epoch:
        g_snap, w_snap = ref.grad(w), w.copy()
        for k, (kind, idx) in enumerate(events):
            if kind != "batch":
                continue
            if solver is sketchy_sgd:
                w = w - lr * Pinv @ ref.grad(w, idx)
            elif solver is sketchy_svrg:
                w = w - lr * Pinv @ (ref.grad(w, idx) - ref.grad(w_snap, idx) + g_snap)
            elif solver is sketchy_saga:
                new = ref.dloss(ref.A[idx] @ w, idx)
                aux = ref.A[idx].T @ (new - table[idx])
                direction = u + aux / len(idx) + reg * ref.mask * w
                u = u + aux / n
                table[idx] = new
                w = w - lr * Pinv @ direction
            else:
                x = theta1 * z + theta2 * y_snap + (1 - theta1 - theta2) * w
                gt = ref.grad(x, idx) - ref.grad(y_snap, idx) + grad_y
                z_new = (eta * sigma * x + z - (eta / L) * Pinv @ gt) / (1 + eta * sigma)
                w = x + theta1 * (z_new - z)
                z = z_new
                if k + 1 < len(events) and events[k + 1][0] == "full_grad":
                    y_snap, grad_y = w.copy(), ref.grad(w)
        out.append(w.copy())
    return out


@pytest.mark.parametrize("solver", ALL_SOLVERS, ids=lambda s: s.__name__)
@pytest.mark.parametrize("kind,fit_intercept,weighted,sparse,reg", [
    ("ls", False, False, False, 1e-3),
    ("ls", True, True, True, 1e-5),   # small reg: Katyusha's theta1 < 1/2
    ("log", False, True, False, 1e-3),
    ("log", True, False, False, 1e-5),
])
def test_steps_replay_reference_recursions(solver, kind, fit_intercept, weighted, sparse, reg, monkeypatch):
    """Each epoch equals the published recursion replayed in NumPy on the same minibatches, with P and L_P
    taken from the run (one sketch: LeastSquares, or update_freq='once')."""
    X, y = make_data(kind, 14, n=1000, d=15, sparse=sparse)
    sw = np.random.default_rng(140).uniform(0.2, 2.0, 1000) if weighted else None
    prob = make_problem(kind, X, y, reg, fit_intercept, sample_weight=sw)
    log = BatchLog(prob, monkeypatch)
    iterates = []

    def callback(info):
        iterates.append(np.array(info.x, copy=True))
        log.callback(info)

    x0 = np.linspace(-0.3, 0.3, prob.dim)
    res = solver(prob, x0, epochs=3, tol=0.0, batch_size=64, update_freq="once", callback=callback,
                 random_state=1)
    assert res.nit == 3
    P = res.preconditioner
    U, lam, rho = np.asarray(P.U), np.asarray(P.eigvals), P.rho
    Pinv = U @ np.diag(1.0 / (lam + rho)) @ U.T + (np.eye(prob.dim) - U @ U.T) / rho
    ref = ReferenceGLM(kind, X, y, reg, fit_intercept, sw)
    _, per_epoch = log.split()
    expected = replay(solver, ref, x0, per_epoch, Pinv, res.smoothness)
    for got, want in zip(iterates, expected, strict=True):
        assert rel_err(got, want) <= 1e-11
    assert not np.allclose(iterates[-1], x0)


def _capture_saga_state(monkeypatch):
    states = []
    _, epoch, rule = optim.sketchy._METHODS["sketchy_saga"]
    original = optim.sketchy._saga_init

    def capturing(ctx, w, g):
        state = original(ctx, w, g)
        states.append(state)
        return state

    monkeypatch.setattr(optim.sketchy, "_saga_init", capturing)
    monkeypatch.setitem(optim.sketchy._METHODS, "sketchy_saga", (capturing, epoch, rule))
    return states


@pytest.mark.parametrize("kind", ["ls", "log"])
@pytest.mark.parametrize("fit_intercept", [False, True], ids=["nointercept", "intercept"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_saga_table_one_scalar_per_sample(kind, fit_intercept, weighted, monkeypatch):
    X, y = make_data(kind, 7, n=1500, d=25)
    n = X.shape[0]
    sw = np.random.default_rng(70).uniform(0.5, 2.0, n) if weighted else None
    prob = make_problem(kind, X, y, 1e-3, fit_intercept, sample_weight=sw)
    states = _capture_saga_state(monkeypatch)
    # A few epochs: the invariant must hold mid-run, not only at the optimum.
    res = sketchy_saga(prob, epochs=3, tol=0.0, batch_size=64, random_state=0)
    assert len(states) == 1
    state = states[0]
    table, mean = state["table"], state["mean"]
    assert table.shape == (n,) and mean.shape == (prob.dim,)
    for value in state.values():  # O(n + d) memory: nothing of size n·d
        assert np.asarray(value).size <= max(n, prob.dim)
    # The running mean u equals (1/n) A_ᵀ α of the table at all times (u ← u + aux/n, table written).
    full = prob.batch(None)
    np.testing.assert_allclose(mean, full.rmatvec(table) / n, rtol=1e-10, atol=1e-12 * np.abs(mean).max())
    # Each entry is s_i ℓ'(a_iᵀ w) at some iterate: after a run to the optimum all match x*.
    res = sketchy_saga(prob, epochs=300, tol=1e-10, batch_size=64, random_state=0)
    assert res.success
    table = states[-1]["table"]
    expect = full.weighted(prob.dloss(full.margins(res.x), full.y), full.sw)
    np.testing.assert_allclose(table, expect, rtol=0, atol=1e-6 * np.abs(expect).max())


@pytest.mark.parametrize("solver", ALL_SOLVERS, ids=lambda s: s.__name__)
@pytest.mark.parametrize("kind,update_freq,epochs,expected", [
    ("ls", "auto", 5, [1]),
    ("ls", 1, 4, [1, 2, 3, 4]),
    ("ls", 2, 5, [1, 3, 5]),
    ("log", "auto", 4, [1, 2, 3, 4]),
    ("log", 3, 7, [1, 4, 7]),
    ("log", "once", 5, [1]),
])
def test_update_freq(solver, kind, update_freq, epochs, expected, ls_small, log_small, monkeypatch):
    prob, _ = ls_small if kind == "ls" else log_small
    calls = {"pre": [], "smooth": 0}
    original = optim.sketchy.hessian_preconditioner
    original_smooth = optim.sketchy.preconditioned_smoothness
    epoch = [1]

    def counting(problem, w, **kwargs):
        calls["pre"].append((epoch[0], np.array(w, copy=True)))
        return original(problem, w, **kwargs)

    def counting_smooth(*args, **kwargs):
        calls["smooth"] += 1
        return original_smooth(*args, **kwargs)

    iterates = {0: np.zeros(prob.dim)}

    def callback(info):
        iterates[info.nit] = np.array(info.x, copy=True)
        epoch[0] = info.nit + 1

    monkeypatch.setattr(optim.sketchy, "hessian_preconditioner", counting)
    monkeypatch.setattr(optim.sketchy, "preconditioned_smoothness", counting_smooth)
    res = solver(prob, epochs=epochs, tol=0.0, update_freq=update_freq, callback=callback, random_state=0)
    assert res.nit == epochs
    assert [e for e, _ in calls["pre"]] == expected
    assert calls["smooth"] == len(expected)
    for e, w in calls["pre"]:  # sketched at the iterate the epoch starts from
        np.testing.assert_array_equal(w, iterates[e - 1])
    if kind == "log" and len(expected) > 1:  # the step size follows the refreshed L_P
        assert len(set(res.history["learning_rate"][1:].tolist())) > 1


def test_no_sketch_without_preconditioning(ls_small, monkeypatch):
    prob, _ = ls_small

    def forbidden(*args, **kwargs):
        raise AssertionError("hessian_preconditioner called with precondition=False")

    monkeypatch.setattr(optim.sketchy, "hessian_preconditioner", forbidden)
    for solver in ALL_SOLVERS:
        res = solver(prob, epochs=2, precondition=False, random_state=0)
        assert res.preconditioner.rank == 0 and res.preconditioner.rho == 1.0


def test_learning_rate_given_skips_smoothness_estimate(ls_small, monkeypatch):
    prob, _ = ls_small

    def forbidden(*args, **kwargs):
        raise AssertionError("preconditioned_smoothness called with a learning_rate given")

    monkeypatch.setattr(optim.sketchy, "preconditioned_smoothness", forbidden)
    for solver in ALL_SOLVERS:
        solver(prob, epochs=2, learning_rate=0.01, random_state=0)


def test_rank_and_hessian_batch_size_reach_the_preconditioner(ls_small, monkeypatch):
    prob, _ = ls_small
    seen = []
    original = optim.sketchy.hessian_preconditioner

    def spy(problem, w, **kwargs):
        seen.append(kwargs)
        return original(problem, w, **kwargs)

    monkeypatch.setattr(optim.sketchy, "hessian_preconditioner", spy)
    res = sketchy_svrg(prob, epochs=1, rank=7, hessian_batch_size=123, rho=0.5, random_state=0)
    assert seen[0]["rank"] == 7 and seen[0]["batch_size"] == 123 and seen[0]["rho"] == 0.5
    assert res.preconditioner.rank == 7 and res.preconditioner.rho == 0.5
    # The default rank 10 is capped at the dimension (small problems keep working).
    X, y = make_data("ls", 8, n=300, d=4)
    small = sketchy_svrg(LeastSquares(X, y, reg=1e-3), epochs=200, tol=1e-10, random_state=0)
    assert small.preconditioner.rank == 4 and small.success


# ----------------------------------------------------------------------------- callables


def finite_sum_callables(X, y, reg):
    """Ridge least squares as callables ``fun(w, idx)``, ``grad(w, idx)``, ``hvp(w, v, idx)``."""
    seen = []

    def rows(idx):
        seen.append(None if idx is None else len(idx))
        return (X, y) if idx is None else (X[idx], y[idx])

    def fun(w, idx):
        A, b = rows(idx)
        r = A @ w - b
        return 0.5 * float(r @ r) / A.shape[0] + 0.5 * reg * float(w @ w)

    def grad(w, idx):
        A, b = rows(idx)
        return A.T @ (A @ w - b) / A.shape[0] + reg * w

    def hvp(w, v, idx):
        A, _ = rows(idx)
        return A.T @ (A @ v) / A.shape[0] + reg * v

    return fun, grad, hvp, seen


@pytest.mark.parametrize("solver", [sketchy_svrg, sketchy_katyusha], ids=lambda s: s.__name__)
def test_objective_callables_match_least_squares(solver):
    X, y = make_data("ls", 9, n=1024, d=20)
    reg = 1e-3
    ref = reference("ls", X, y, reg)
    fun, grad, hvp, seen = finite_sum_callables(X, y, reg)
    obj = Objective(fun, grad, hvp, n_samples=X.shape[0], reg=reg)
    res = solver(obj, np.zeros(20), epochs=400, tol=1e-10, batch_size=128, random_state=0)
    assert res.success, res.message
    assert rel_err(res.x, ref) <= 1e-6
    glm = solver(LeastSquares(X, y, reg=reg), epochs=400, tol=1e-10, batch_size=128, random_state=0)
    assert rel_err(res.x, glm.x) <= 1e-6
    assert 128 in seen and max(s for s in seen if s is not None) <= 128  # minibatches, not all samples
    assert res.fun == pytest.approx(fun(res.x, None), rel=1e-13)


@pytest.mark.parametrize("solver", [sketchy_svrg, sketchy_katyusha], ids=lambda s: s.__name__)
@pytest.mark.parametrize("power", [0.0, 1.0])
def test_objective_callables_without_hvp(solver, power):
    """Without hvp the sketch uses finite differences of gradients; the solvers still converge."""
    X, y = make_data("ls", 9, n=1024, d=20, power=power)
    reg = 1e-3
    fun, grad, _, _ = finite_sum_callables(X, y, reg)
    res = solver(Objective(fun, grad, n_samples=X.shape[0], reg=reg), np.zeros(20), epochs=400,
                 tol=1e-10, batch_size=128, random_state=0)
    assert res.success, res.message
    assert rel_err(res.x, reference("ls", X, y, reg)) <= 1e-6


def test_objective_callables_errors():
    X, y = make_data("ls", 9, n=200, d=5)
    fun, grad, hvp, _ = finite_sum_callables(X, y, 1e-3)
    obj = Objective(fun, grad, hvp, n_samples=200, reg=1e-3)
    with pytest.raises(TypeError, match="sketchy_saga"):
        sketchy_saga(obj, np.zeros(5))
    for solver in (sketchy_sgd, sketchy_svrg, sketchy_katyusha):
        with pytest.raises(ValueError, match="x0"):
            solver(obj)
    with pytest.raises(ValueError, match="x0"):
        sketchy_svrg(obj, np.zeros((5, 1)))
    with pytest.raises(ValueError, match="n_samples"):
        sketchy_svrg(Objective(lambda w: fun(w, None), lambda w: grad(w, None)), np.zeros(5))
    with pytest.raises(ValueError, match="reg"):
        sketchy_katyusha(Objective(fun, grad, hvp, n_samples=200), np.zeros(5))


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize("kwargs,match", [
    (dict(epochs=0), "epochs"),
    (dict(epochs=2.5), "epochs"),
    (dict(batch_size=0), "batch_size"),
    (dict(batch_size=-3), "batch_size"),
    (dict(rank=0), "rank"),
    (dict(hessian_batch_size=0), "hessian_batch_size"),
    (dict(hessian_batch_size=2001), "hessian_batch_size"),
    (dict(rho=-1.0), "rho"),
    (dict(rho=0.0), "rho"),
    (dict(rho="big"), "rho"),
    (dict(rho=float("nan")), "rho"),
    (dict(update_freq=0), "update_freq"),
    (dict(update_freq="never"), "update_freq"),
    (dict(update_freq=1.5), "update_freq"),
    (dict(learning_rate=0.0), "learning_rate"),
    (dict(learning_rate=-0.1), "learning_rate"),
    (dict(learning_rate=float("inf")), "learning_rate"),
    (dict(learning_rate=True), "learning_rate"),
    (dict(learning_rate="0.1"), "learning_rate"),
    (dict(tol=-1e-3), "tol"),
    (dict(tol=float("nan")), "tol"),
    (dict(ftol=-1.0), "ftol"),
    (dict(callback=3), "callback"),
    (dict(random_state=-1), "random_state"),
])
@pytest.mark.parametrize("solver", ALL_SOLVERS, ids=lambda s: s.__name__)
def test_bad_options_raise(solver, kwargs, match, ls_small):
    prob, _ = ls_small
    with pytest.raises((TypeError, ValueError), match=match):
        solver(prob, **kwargs)


@pytest.mark.parametrize("solver", ALL_SOLVERS, ids=lambda s: s.__name__)
def test_bad_problem_and_x0_raise(solver, ls_small):
    prob, _ = ls_small
    X = prob.X
    with pytest.raises(TypeError, match="problem"):
        solver(X)
    with pytest.raises(TypeError, match="problem"):
        solver(None)
    with pytest.raises(ValueError, match="x0"):
        solver(prob, np.zeros(prob.dim + 1))
    with pytest.raises(ValueError, match="x0"):
        solver(prob, np.zeros((prob.dim, 1)))
    bad = np.zeros(prob.dim)
    bad[3] = np.nan
    with pytest.raises(ValueError, match="x0"):
        solver(prob, bad)
    bad[3] = np.inf
    with pytest.raises(ValueError, match="x0"):
        solver(prob, bad)
    # The intercept adds one parameter.
    Xi, yi = make_data("ls", 1, n=100, d=5)
    with pytest.raises(ValueError, match="x0"):
        solver(LeastSquares(Xi, yi, reg=1e-3, fit_intercept=True), np.zeros(5))
    # A list is accepted.
    res = solver(prob, [0.0] * prob.dim, epochs=1, random_state=0)
    assert res.x.shape == (prob.dim,)


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(x0=np.zeros(30) + 1j), ValueError, r"^x0 must hold real"),   # was cast to real silently
    (dict(x0=np.array([1j] * 30)), ValueError, r"^x0 must hold real"),
    (dict(x0=np.array(["a"] * 30)), ValueError, r"^x0"),
    (dict(x0=np.zeros(0)), ValueError, r"^x0"),
    (dict(rho="big"), ValueError, r"^rho must be 'auto' or a number"),
    (dict(rho=True), TypeError, r"^rho"),
    (dict(rho=None), TypeError, r"^rho"),
    (dict(update_freq="never"), ValueError, r"^update_freq must be 'auto' or 'once' or a number"),
    (dict(update_freq=1.5), TypeError, r"^update_freq"),
    (dict(update_freq=None), TypeError, r"^update_freq"),
    (dict(learning_rate="0.1"), TypeError, r"^learning_rate"),
    (dict(learning_rate=True), TypeError, r"^learning_rate"),
    (dict(learning_rate=-0.1), ValueError, r"^learning_rate"),
    (dict(callback=3), TypeError, r"^callback"),
    (dict(verbose="yes"), TypeError, r"^verbose"),
    (dict(precondition=1), TypeError, r"^precondition"),
])
def test_validation_policy(kwargs, exc, match, ls_small):
    """The one policy (rnla._validation): TypeError for a wrong kind, ValueError for a wrong value,
    the message starting with the argument's name."""
    prob, _ = ls_small
    with pytest.raises(exc, match=match):
        sketchy_svrg(prob, epochs=1, **kwargs)


def test_update_freq_keywords_and_integers(ls_small):
    prob, _ = ls_small
    for freq in ("auto", "once", 1, np.int64(2)):
        res = sketchy_svrg(prob, epochs=2, update_freq=freq, random_state=0)
        assert res.nit == 2 or res.success


def test_katyusha_needs_reg(ls_small):
    prob, _ = ls_small
    unreg = LeastSquares(prob.X, prob.y, reg=0.0)
    with pytest.raises(ValueError, match="reg"):
        sketchy_katyusha(unreg)
    for solver in (sketchy_sgd, sketchy_svrg, sketchy_saga):  # the others accept reg = 0
        assert solver(unreg, epochs=2, random_state=0).nit == 2


def test_rank_above_dim_is_rejected(ls_small):
    """An explicit rank > dim is an error naming rank; the default adapts to tiny problems."""
    prob, _ = ls_small
    with pytest.raises(ValueError, match=r"rank=.*exceeds the number of parameters"):
        sketchy_svrg(prob, epochs=1, rank=prob.dim + 5, random_state=0)
    res = sketchy_svrg(prob, epochs=1, rank=prob.dim, random_state=0)
    assert res.preconditioner.rank == prob.dim


# ----------------------------------------------------------------------------- progress bar


@pytest.mark.parametrize("solver", ALL_SOLVERS, ids=lambda s: s.__name__)
def test_verbose_progress_bar(solver, ls_small, capsys):
    prob, _ = ls_small
    quiet = solver(prob, epochs=2, tol=0.0, random_state=0)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
    res = solver(prob, epochs=2, tol=0.0, verbose=True, random_state=0)
    captured = capsys.readouterr()
    assert solver.__name__ in captured.err
    assert "2/2" in captured.err
    np.testing.assert_array_equal(res.x, quiet.x)  # the bar does not touch the random stream


# ----------------------------------------------------------------------------- other backends


@pytest.mark.parametrize("solver", [sketchy_svrg, sketchy_saga], ids=lambda s: s.__name__)
def test_array_api_strict(solver):
    X, y = make_data("ls", 10, n=512, d=20)
    reg = 1e-3
    kw = dict(epochs=150, tol=1e-10, batch_size=64, random_state=0)
    ref = solver(LeastSquares(X, y, reg=reg), **kw)
    prob = LeastSquares(xs.asarray(X), xs.asarray(y), reg=reg)
    res = solver(prob, **kw)
    assert type(res.x) is type(xs.asarray(1.0))
    assert res.x.dtype == xs.float64
    x = np.asarray(res.x)
    assert rel_err(x, ref.x) <= 1e-8
    assert rel_err(x, reference("ls", X, y, reg)) <= 1e-6
    assert res.status == ref.status and res.nit == ref.nit


@pytest.mark.parametrize("solver", [sketchy_svrg, sketchy_saga], ids=lambda s: s.__name__)
def test_array_api_strict_ragged_last_batch(solver):
    """n not a multiple of batch_size: the last, shorter batch stays within bounds (array API slices)."""
    X, y = make_data("ls", 10, n=500, d=20)
    prob = LeastSquares(xs.asarray(X), xs.asarray(y), reg=1e-3)
    res = solver(prob, epochs=2, tol=0.0, batch_size=64, random_state=0)
    ref = solver(LeastSquares(X, y, reg=1e-3), epochs=2, tol=0.0, batch_size=64, random_state=0)
    assert rel_err(np.asarray(res.x), ref.x) <= 1e-8


@pytest.mark.gpu
@pytest.mark.parametrize("solver", [sketchy_svrg, sketchy_saga], ids=lambda s: s.__name__)
@pytest.mark.parametrize("kind", ["ls", "log"])
def test_cupy(cupy, solver, kind):
    cp = cupy
    X, y = make_data(kind, 11, n=2000, d=30)
    reg = 1e-3
    ref = solver(make_problem(kind, X, y, reg), epochs=300, tol=1e-10, random_state=0)
    prob = make_problem(kind, cp.asarray(X), cp.asarray(y), reg)
    res = solver(prob, epochs=300, tol=1e-10, random_state=0)
    assert isinstance(res.x, cp.ndarray) and isinstance(res.jac, cp.ndarray)
    assert res.x.dtype == cp.float64
    assert res.success, res.message
    assert rel_err(cp.asnumpy(res.x), ref.x) <= 1e-7
    assert rel_err(cp.asnumpy(res.x), reference(kind, X, y, reg)) <= 1e-6


@pytest.mark.parametrize("solver", ALL_SOLVERS, ids=lambda s: s.__name__)
def test_history_learning_rate_has_no_nan_and_callback_gets_copies(solver, ls_small):
    """history['learning_rate'][0] was NaN; it is now the rate chosen at x0 (that of epoch 1).
    The callback's x and jac are copies: overwriting them leaves the run unchanged."""
    prob, _ = ls_small

    def scribble(info):
        info.x[:] = 1e9
        info.jac[:] = np.nan

    ref = solver(prob, epochs=3, tol=0.0, random_state=0)
    res = solver(prob, epochs=3, tol=0.0, random_state=0, callback=scribble)
    lr = res.history["learning_rate"]
    assert np.all(np.isfinite(lr)) and lr[0] == lr[1] > 0
    np.testing.assert_array_equal(res.x, ref.x)


def test_objective_args_must_be_a_tuple():
    with pytest.raises(TypeError, match=r"^args"):
        Objective(lambda w, idx: 0.0, lambda w, idx: w, n_samples=3, args=1)
