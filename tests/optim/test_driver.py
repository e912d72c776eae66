"""Tests of :func:`optim.run`, the loop around the init/update optimizers.

Full batch, the driver is checked against the same loop written out in NumPy: the iterates,
``fun``/``jac``/``grad_norm``, the history, the exact step at which ``gtol`` stops the run, the
exact step at which the divergence rule (``f − f0 > 1e4 (|f0| + 1)``) fires, and that the returned
``x`` is the best iterate seen. Also covered: callbacks (``True`` and ``StopIteration``), NaN/inf
and shape errors, the ``value=`` keyword passed only to updates that take it, minibatches on
``LeastSquares`` and ``Logistic`` (history, recomputed final value, every sample once per epoch,
reproducibility by seed, closeness to scikit-learn's solution, divergence restoring the previous
iterate), argument validation, ``array_api_strict`` arrays and (marked ``gpu``) CuPy.
"""

import math

import array_api_strict as xs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import OptimizeResult
from sklearn.linear_model import LogisticRegression, Ridge

from optim import GradientTransformation, LeastSquares, Logistic, adam, heavy_ball, run, sgd
from optim.first_order import SGDState

HISTORY_KEYS = ("fun", "grad_norm", "time")
MINIBATCH_HISTORY_KEYS = ("batch_fun", "batch_grad_norm", "time")

# ----------------------------------------------------------------------------- helpers


def make_quadratic(seed=0, dim=5):
    """``f(x) = ½ xᵀAx − bᵀx`` with SPD ``A``; returns the objective, A, b and L = λ_max(A)."""
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((dim, dim))
    A = M @ M.T / dim + np.diag(np.linspace(0.2, 2.0, dim))
    b = rng.standard_normal(dim)

    def objective(x):
        Ax = A @ x
        return 0.5 * x @ Ax - b @ x, Ax - b

    return objective, A, b, np.linalg.eigvalsh(A)[-1]


def manual_gd(objective, x0, lr, steps):
    """Plain gradient descent written out: iterates, values and gradient norms (entry 0 at x0)."""
    xs_, fs, gns = [x0], [], []
    x = x0
    f, g = objective(x)
    fs.append(f)
    gns.append(np.linalg.norm(g))
    for _ in range(steps):
        x = x - lr * g
        f, g = objective(x)
        xs_.append(x)
        fs.append(f)
        gns.append(np.linalg.norm(g))
    return xs_, np.array(fs), np.array(gns)


def make_data(kind, seed=0, n=200, d=5):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d)
    if kind == "ls":
        y = X @ w + 0.1 * rng.standard_normal(n)
    else:
        y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(X @ w)))).astype(np.float64)
    return X, y


def make_problem(kind, reg=1e-2, seed=0, n=200, d=5):
    X, y = make_data(kind, seed, n, d)
    return (LeastSquares if kind == "ls" else Logistic)(X, y, reg=reg), X, y


def sklearn_solution(kind, X, y, reg):
    n = X.shape[0]
    if kind == "ls":
        return Ridge(alpha=reg * n, fit_intercept=False, solver="cholesky").fit(X, y).coef_
    model = LogisticRegression(C=1.0 / (reg * n), fit_intercept=False, solver="newton-cholesky", tol=1e-12,
                               max_iter=1000)
    return model.fit(X, y).coef_.ravel()


def custom(update, init=None, name="custom"):
    """A GradientTransformation from an update function (state: an SGDState counter)."""
    return GradientTransformation(init or (lambda params: SGDState(count=0)), update, name)


def assert_history(res, minibatch=False):
    keys = MINIBATCH_HISTORY_KEYS if minibatch else HISTORY_KEYS
    assert set(res.history) == set(keys)
    for key in keys:
        h = res.history[key]
        assert isinstance(h, np.ndarray) and h.dtype == np.float64 and h.ndim == 1
    lengths = {len(res.history[k]) for k in keys}
    assert len(lengths) == 1
    t = res.history["time"]
    assert np.all(t >= 0) and np.all(np.diff(t) >= 0)
    return lengths.pop()


# ----------------------------------------------------------------------------- full batch


def test_full_batch_solves_quadratic():
    objective, A, b, L = make_quadratic(1)
    x0 = np.ones(5)
    res = run(heavy_ball(1.0 / L, momentum=0.5), objective, x0, steps=5000, gtol=1e-11)
    assert isinstance(res, OptimizeResult)
    assert res.status == 0 and res.success is True
    assert res.message == "converged: gradient norm below gtol"
    xstar = np.linalg.solve(A, b)
    np.testing.assert_allclose(res.x, xstar, rtol=1e-7)
    assert res.history["grad_norm"][-1] <= 1e-11  # the run stopped at an iterate meeting gtol
    assert np.all(res.history["grad_norm"][:-1] > 1e-11)
    assert 0 < res.nit < 5000
    assert res.state.count == res.nit
    np.testing.assert_array_equal(x0, np.ones(5))  # x0 is not modified
    f, g = objective(res.x)
    assert res.fun == f
    np.testing.assert_array_equal(res.jac, g)
    assert res.grad_norm == pytest.approx(np.linalg.norm(g), rel=1e-14)


def test_converged_result_meets_gtol():
    """Full batch returns the lowest-value iterate, except that the point meeting gtol wins: rounding
    in f near the optimum must not hand back an earlier point with a larger gradient."""
    objective, _A, _b, L = make_quadratic(1)
    res = run(heavy_ball(1.0 / L, momentum=0.5), objective, np.ones(5), steps=5000, gtol=1e-11)
    assert res.status == 0 and res.success
    assert res.grad_norm <= 1e-11


@pytest.mark.parametrize("make", [lambda L: sgd(1.0 / L), lambda L: heavy_ball(0.5 / L, momentum=0.7),
                                  lambda L: adam(lambda c: 0.5 / (1 + c / 50), b1=0.5, b2=0.9)],
                         ids=["sgd", "heavy_ball", "adam"])
def test_full_batch_reaches_solution(make):
    objective, A, b, L = make_quadratic(2)
    res = run(make(L), objective, np.zeros(5), steps=3000, gtol=1e-8)
    np.testing.assert_allclose(res.x, np.linalg.solve(A, b), rtol=1e-6, atol=1e-8)


def test_full_batch_matches_manual_loop_exactly():
    """A monotone run (GD with η = 1/L) reproduces the written-out loop bit for bit."""
    objective, _A, _b, L = make_quadratic(3)
    x0 = np.linspace(-1.0, 2.0, 5)
    steps = 37
    xs_, fs, gns = manual_gd(objective, x0, 1.0 / L, steps)
    res = run(sgd(1.0 / L), objective, x0, steps=steps)
    assert res.status == 1 and res.success is False
    assert res.message == "maximum number of steps reached"
    assert res.nit == steps and res.state.count == steps
    assert np.all(np.diff(fs) < 0)  # monotone, so the best iterate is the last one
    np.testing.assert_array_equal(res.x, xs_[-1])
    assert res.fun == fs[-1]
    assert res.grad_norm == pytest.approx(gns[-1], rel=1e-14)
    np.testing.assert_array_equal(res.jac, objective(xs_[-1])[1])
    assert assert_history(res) == steps + 1
    np.testing.assert_array_equal(res.history["fun"], fs)
    np.testing.assert_allclose(res.history["grad_norm"], gns, rtol=1e-14)


@pytest.mark.parametrize("gtol_index", [5, 17, 40])
def test_gtol_stops_at_the_first_iterate_below_it(gtol_index):
    objective, _A, _b, L = make_quadratic(4)
    x0 = np.ones(5)
    _, fs, gns = manual_gd(objective, x0, 1.0 / L, 200)
    gtol = 0.5 * (gns[gtol_index] + gns[gtol_index - 1])  # strictly between two consecutive norms
    first = int(np.argmax(gns <= gtol))
    assert gns[first - 1] > gtol >= gns[first]
    res = run(sgd(1.0 / L), objective, x0, steps=200, gtol=gtol)
    assert res.status == 0 and res.success
    assert res.nit == first
    assert res.grad_norm <= gtol
    assert assert_history(res) == first + 1
    np.testing.assert_array_equal(res.history["fun"], fs[:first + 1])
    # a gtol exactly equal to a gradient norm counts (<=)
    res_eq = run(sgd(1.0 / L), objective, x0, steps=200, gtol=float(gns[gtol_index]))
    assert res_eq.status == 0 and res_eq.nit == int(np.argmax(gns <= gns[gtol_index]))


def test_gtol_met_at_x0_takes_no_step():
    objective, _A, _b, L = make_quadratic(5)
    calls = []

    def cb(info):
        calls.append(info)

    res = run(sgd(1.0 / L), objective, np.ones(5), steps=10, gtol=1e6, callback=cb)
    assert res.status == 0 and res.success and res.nit == 0
    assert calls == []
    np.testing.assert_array_equal(res.x, np.ones(5))
    assert assert_history(res) == 1
    assert res.state.count == 0


def test_gtol_zero_means_run_all_steps():
    objective, _A, _b, L = make_quadratic(6)
    res = run(sgd(1.0 / L), objective, np.ones(5), steps=25)
    assert res.status == 1 and res.nit == 25 and not res.success


def test_zero_gradient_at_x0_converges_with_default_gtol():
    A = np.diag([1.0, 2.0])
    res = run(sgd(0.1), lambda x: (0.5 * x @ A @ x, A @ x), np.zeros(2), steps=10)
    assert res.status == 0 and res.success and res.nit == 0


@pytest.mark.parametrize("stop", ["true", "truthy", "stopiteration", "scipy"])
def test_callback_stops(stop):
    objective, _A, _b, L = make_quadratic(7)
    seen = []

    def cb(info):
        assert isinstance(info, OptimizeResult)
        seen.append(info)
        if info.nit == 4:
            if stop == "true":
                return True
            if stop == "truthy":
                return 1
            if stop == "stopiteration":
                raise StopIteration
            cb.stop_iteration = True
        return None

    res = run(sgd(0.5 / L), objective, np.ones(5), steps=100, callback=cb)
    assert res.status == 3 and res.success is False
    assert res.message == "stopped by the callback"
    assert res.nit == 4 and len(seen) == 4
    assert assert_history(res) == 5
    assert [info.nit for info in seen] == [1, 2, 3, 4]
    for info in seen:  # full batch: the info describes its own iterate
        assert set(info) >= {"x", "fun", "jac", "grad_norm", "nit", "state"}
        f, g = objective(info.x)
        assert info.fun == f
        np.testing.assert_array_equal(info.jac, g)
        assert info.grad_norm == pytest.approx(np.linalg.norm(g), rel=1e-14)
        assert info.state.count == info.nit
    np.testing.assert_array_equal(res.x, seen[-1].x)


def test_callback_returning_false_or_none_does_not_stop():
    objective, _A, _b, L = make_quadratic(8)
    answers = iter([None, False, 0, None, False] * 4)
    res = run(sgd(0.5 / L), objective, np.ones(5), steps=20, callback=lambda info: next(answers))
    assert res.status == 1 and res.nit == 20


def test_gtol_wins_over_callback_on_the_same_step():
    objective, _A, _b, L = make_quadratic(9)
    _, _, gns = manual_gd(objective, np.ones(5), 1.0 / L, 50)
    gtol = 0.5 * (gns[9] + gns[10])
    res = run(sgd(1.0 / L), objective, np.ones(5), steps=50, gtol=gtol, callback=lambda info: info.nit >= 10)
    assert res.nit == 10 and res.status == 0 and res.success


def test_divergence_by_growth_is_detected_at_the_exact_step():
    """η = 2.5/L grows the top eigencomponent by 1.5 per step; values stay finite for hundreds of
    steps, so only the growth rule ``f − f0 > 1e4 (|f0| + 1)`` can stop the run early."""
    objective, _A, _b, L = make_quadratic(10)
    x0 = np.ones(5)
    lr = 2.5 / L
    _, fs, _ = manual_gd(objective, x0, lr, 200)
    assert np.all(np.isfinite(fs))
    over = fs - fs[0] > 1e4 * (abs(fs[0]) + 1.0)
    k = int(np.argmax(over))
    assert over[k] and k < 100
    res = run(sgd(lr), objective, x0, steps=200)
    assert res.status == 2 and res.success is False
    assert "diverged" in res.message and f"step {k}" in res.message
    assert res.nit == k
    assert np.all(np.isfinite(res.x))
    assert res.fun == np.min(fs[:k])  # the best iterate before the divergence
    assert res.fun == np.min(res.history["fun"])
    assert assert_history(res) == k  # x0 .. x_{k-1}; the diverged iterate is not recorded
    np.testing.assert_array_equal(res.history["fun"], fs[:k])
    f, g = objective(res.x)
    assert res.fun == f
    np.testing.assert_array_equal(res.jac, g)


def test_divergence_to_inf_and_nan():
    """Very large steps overflow; the run returns a finite iterate with status 2."""
    objective, _A, _b, L = make_quadratic(11)
    with np.errstate(over="ignore", invalid="ignore"):
        res = run(sgd(1e200), objective, np.ones(5), steps=50)
    assert res.status == 2 and "diverged" in res.message
    assert np.all(np.isfinite(res.x)) and math.isfinite(res.fun)
    np.testing.assert_array_equal(res.x, np.ones(5))
    assert res.nit == 1

    def nan_after_3(x, calls=[0]):  # noqa: B006 - a call counter
        calls[0] += 1
        f, g = objective(x)
        return (float("nan"), g) if calls[0] > 3 else (f, g)

    res = run(sgd(0.1 / L), nan_after_3, np.ones(5), steps=50)
    assert res.status == 2 and res.nit == 3 and np.all(np.isfinite(res.x))

    def inf_grad_after_3(x, calls=[0]):  # noqa: B006
        calls[0] += 1
        f, g = objective(x)
        return (f, g * np.inf) if calls[0] > 3 else (f, g)

    with np.errstate(invalid="ignore"):
        res = run(sgd(0.1 / L), inf_grad_after_3, np.ones(5), steps=50)
    assert res.status == 2 and res.nit == 3 and np.all(np.isfinite(res.x)) and np.isfinite(res.grad_norm)


def test_x_is_the_best_iterate_for_non_monotone_runs():
    """An update that overshoots on some steps: x, fun, jac are those of the lowest value seen."""
    objective, _A, _b, L = make_quadratic(12)

    def update(grad, state, params=None):
        lr = 6.0 / L if state.count in (4, 8) else 0.5 / L  # steps 5 and 9 overshoot
        return -lr * grad, SGDState(count=state.count + 1)

    xs_seen = []
    res = run(custom(update), objective, np.ones(5), steps=9, callback=lambda info: xs_seen.append(info.x))
    fun = res.history["fun"]
    assert res.status == 1 and res.nit == 9 and len(fun) == 10
    assert fun[-1] > fun.min()  # the last iterate is not the best
    best = int(np.argmin(fun))
    assert 0 < best < 9
    assert res.fun == fun.min()
    np.testing.assert_array_equal(res.x, xs_seen[best - 1])
    f, g = objective(res.x)
    assert res.fun == f
    np.testing.assert_array_equal(res.jac, g)
    assert res.grad_norm == pytest.approx(np.linalg.norm(g), rel=1e-14)
    assert res.state.count == 9  # the state is the final one


def test_ties_keep_the_later_iterate():
    """A flat objective: every iterate has the same value; the last one is returned."""
    def flat(x):
        return 1.0, np.full_like(x, 1e-3)

    res = run(sgd(1.0), flat, np.zeros(3), steps=4)
    np.testing.assert_allclose(res.x, np.full(3, -4e-3), rtol=1e-14)


# ----------------------------------------------------------------------------- value=


def test_value_is_passed_to_updates_that_accept_it():
    objective, _A, _b, L = make_quadratic(13)
    received = []

    def update(grad, state, params=None, value=None):
        received.append(value)
        return -0.5 / L * grad, SGDState(count=state.count + 1)

    res = run(custom(update), objective, np.ones(5), steps=12)
    assert len(received) == 12
    assert all(isinstance(v, float) for v in received)
    np.testing.assert_array_equal(received, res.history["fun"][:-1])  # f at the iterate being updated
    _, fs, _ = manual_gd(objective, np.ones(5), 0.5 / L, 12)
    np.testing.assert_array_equal(received, fs[:-1])


def test_value_is_passed_through_var_keyword():
    objective, _A, _b, L = make_quadratic(14)
    extras = []

    def update(grad, state, params=None, **extra):
        extras.append(extra)
        return -0.5 / L * grad, SGDState(count=state.count + 1)

    run(custom(update), objective, np.ones(5), steps=3)
    assert [set(e) for e in extras] == [{"value"}] * 3
    assert extras[0]["value"] == objective(np.ones(5))[0]


def test_value_is_not_passed_to_updates_without_it():
    objective, _A, _b, L = make_quadratic(15)
    calls = []

    def update(grad, state, params):  # would raise TypeError if value= were passed
        calls.append(params.copy())
        return -0.5 / L * grad, SGDState(count=state.count + 1)

    res = run(custom(update), objective, np.ones(5), steps=5)
    assert res.nit == 5 and len(calls) == 5
    np.testing.assert_array_equal(calls[0], np.ones(5))  # params is the current iterate

    # the builtin optimizers take **extra: they accept (and ignore) value
    for opt in (sgd(0.1), heavy_ball(0.1), adam(0.1)):
        res = run(opt, objective, np.ones(5), steps=3)
        assert res.nit == 3


def test_value_under_minibatches_is_the_minibatch_value():
    prob, X, y = make_problem("ls", n=60)
    batches_seen = []

    class Recording(LeastSquares):
        def batch(self, idx=None):
            if idx is not None:
                batches_seen.append(np.asarray(idx).copy())
            return super().batch(idx)

    rec = Recording(X, y, reg=prob.reg)
    received, params_seen = [], []

    def update(grad, state, params=None, value=None):
        received.append(value)
        params_seen.append(params.copy())
        return -0.05 * grad, SGDState(count=state.count + 1)

    res = run(custom(update), rec, np.zeros(5), steps=7, batches=16, random_state=3)
    assert len(received) == 7 == len(batches_seen)
    for v, p, idx in zip(received, params_seen, batches_seen, strict=True):
        assert v == pytest.approx(prob.value(p, idx=idx), rel=1e-13)
    np.testing.assert_array_equal(received, res.history["batch_fun"])


# ----------------------------------------------------------------------------- errors


def test_non_finite_at_x0_raises():
    def nan_value(x):
        return float("nan"), x

    def inf_grad(x):
        return 1.0, np.full_like(x, np.inf)

    def inf_value(x):
        return np.inf, x

    for objective in (nan_value, inf_grad, inf_value):
        with pytest.raises(ValueError, match="not finite at x0"):
            run(sgd(0.1), objective, np.ones(3), steps=5)


def test_gradient_of_wrong_shape_raises():
    with pytest.raises(ValueError, match=r"gradient has shape \(2,\) at x0; expected \(3,\)"):
        run(sgd(0.1), lambda x: (1.0, np.zeros(2)), np.ones(3), steps=5)
    with pytest.raises(ValueError, match=r"gradient has shape \(3, 1\)"):
        run(sgd(0.1), lambda x: (1.0, np.zeros((3, 1))), np.ones(3), steps=5)
    with pytest.raises(ValueError, match="gradient has shape None"):
        run(sgd(0.1), lambda x: (1.0, [0.0, 0.0, 0.0]), np.ones(3), steps=5)

    def later(x, calls=[0]):  # noqa: B006
        calls[0] += 1
        return float(x @ x), (2 * x if calls[0] < 3 else np.zeros(4))

    with pytest.raises(ValueError, match=r"gradient has shape \(4,\) at step 2"):
        run(sgd(0.1), later, np.ones(3), steps=5)


def test_objective_must_return_a_pair():
    for bad in (lambda x: float(x @ x), lambda x: (1.0, x, x), lambda x: [1.0, x], lambda x: (1.0,)):
        with pytest.raises(ValueError, match=r"\(value, gradient\) pair"):
            run(sgd(0.1), bad, np.ones(3), steps=5)
    with pytest.raises(ValueError, match=r"must return a scalar.*at x0"):
        run(sgd(0.1), lambda x: (x, x), np.ones(3), steps=5)
    with pytest.raises(TypeError, match="objective"):
        run(sgd(0.1), 3.0, np.ones(3), steps=5)


def test_step_of_wrong_shape_raises():
    opt = custom(lambda g, s, p=None: (np.zeros(2), s))
    with pytest.raises(ValueError, match=r"step of shape \(2,\); expected \(3,\)"):
        run(opt, lambda x: (float(x @ x), 2 * x), np.ones(3), steps=5)


@pytest.mark.parametrize(("kwargs", "error", "pattern"), [
    ({"steps": 0}, ValueError, "steps"),
    ({"steps": -3}, ValueError, "steps"),
    ({"steps": 2.5}, TypeError, "steps"),
    ({"steps": True}, TypeError, "steps"),
    ({"steps": None}, TypeError, "steps"),
    ({"gtol": -1.0}, ValueError, "gtol"),
    ({"gtol": float("nan")}, ValueError, "gtol"),
    ({"gtol": "1e-3"}, TypeError, "gtol"),
    ({"callback": 3}, TypeError, "callback"),
    ({"batches": 10}, ValueError, "batches"),  # a callable objective is not a finite sum
])
def test_bad_run_arguments(kwargs, error, pattern):
    kwargs = {"steps": 5, **kwargs}
    with pytest.raises(error, match=pattern):
        run(sgd(0.1), lambda x: (float(x @ x), 2 * x), np.ones(3), **kwargs)


def test_bad_optimizer_x0_and_batches():
    objective = lambda x: (float(x @ x), 2 * x)  # noqa: E731
    with pytest.raises(TypeError, match="optimizer"):
        run(object(), objective, np.ones(3), steps=5)
    with pytest.raises(ValueError, match="x0 must be a 1-D array"):
        run(sgd(0.1), objective, np.ones((3, 1)), steps=5)
    with pytest.raises(ValueError, match="x0 contains NaN"):
        run(sgd(0.1), objective, np.array([1.0, np.nan]), steps=5)
    res = run(sgd(0.1), objective, [1, 2], steps=5)  # a list of ints, as SciPy accepts
    assert isinstance(res.x, np.ndarray) and res.x.dtype == np.float64
    prob, _, _ = make_problem("ls")
    for bad, error in ((0, ValueError), (-1, ValueError), (2.0, TypeError), (True, TypeError)):
        with pytest.raises(error, match="batches"):
            run(sgd(0.1), prob, np.zeros(5), steps=5, batches=bad)


def test_x0_dtype_handling():
    A = np.diag([1.0, 3.0, 2.0]).astype(np.float32)

    def f32(x):
        Ax = A @ x
        return float(0.5 * x @ Ax), Ax

    res = run(heavy_ball(0.2), f32, np.ones(3, dtype=np.float32), steps=20)
    assert res.x.dtype == np.float32 and res.jac.dtype == np.float32
    assert res.state.velocity.dtype == np.float32
    res = run(sgd(0.2), lambda x: (float(0.5 * x @ x), x), np.array([1, 2, 3]), steps=3)
    assert res.x.dtype == np.float64  # integer x0 is promoted
    np.testing.assert_allclose(res.x, 0.8**3 * np.array([1.0, 2.0, 3.0]), rtol=1e-14)


@given(lr=st.floats(min_value=1e-3, max_value=1.9), steps=st.integers(1, 40), seed=st.integers(0, 1000))
def test_gd_on_quadratic_property(lr, steps, seed):
    """For η < 2/L plain GD matches the closed form x_k = x* + (I − ηA)^k (x0 − x*), and
    the returned value never exceeds f(x0)."""
    objective, A, b, L = make_quadratic(seed % 7, dim=3)
    eta = lr / L
    x0 = np.random.default_rng(seed).standard_normal(3)
    res = run(sgd(eta), objective, x0, steps=steps)
    xstar = np.linalg.solve(A, b)
    xk = xstar + np.linalg.matrix_power(np.eye(3) - eta * A, steps) @ (x0 - xstar)
    fun = res.history["fun"]
    assert res.fun <= fun[0]
    assert res.fun == fun.min()
    assert len(fun) == res.nit + 1
    if res.status == 1 and np.all(np.diff(fun) <= 0):
        np.testing.assert_allclose(res.x, xk, rtol=1e-8, atol=1e-10)


# ----------------------------------------------------------------------------- minibatches


@pytest.mark.parametrize("kind", ["ls", "log"])
def test_minibatch_result_and_history(kind):
    prob, _X, _y = make_problem(kind)
    x0 = np.zeros(5)
    steps = 23
    infos = []
    res = run(sgd(0.1), prob, x0, steps=steps, batches=32, random_state=0, callback=infos.append)
    assert res.status == 1 and res.nit == steps and res.state.count == steps
    assert assert_history(res, minibatch=True) == steps  # one entry per step, at its start point
    # the final value, gradient and norm are recomputed on all samples
    assert res.fun == pytest.approx(prob.value(res.x), rel=1e-14)
    np.testing.assert_allclose(res.jac, prob.grad(res.x), rtol=1e-13, atol=1e-16)
    assert res.grad_norm == pytest.approx(np.linalg.norm(prob.grad(res.x)), rel=1e-13)
    np.testing.assert_array_equal(res.x, infos[-1].x)  # minibatch: x is the last iterate
    assert [i.nit for i in infos] == list(range(1, steps + 1))


def test_minibatch_each_epoch_visits_every_sample_once():
    prob, X, y = make_problem("ls", n=50)
    seen = []

    class Recording(LeastSquares):
        def batch(self, idx=None):
            if idx is not None:
                seen.append(np.asarray(idx).copy())
            return super().batch(idx)

    rec = Recording(X, y, reg=prob.reg)
    run(sgd(0.05), rec, np.zeros(5), steps=3 * 4 + 2, batches=15, random_state=1)
    assert [len(i) for i in seen] == [15, 15, 15, 5] * 3 + [15, 15]
    epochs = [np.concatenate(seen[4 * e:4 * e + 4]) for e in range(3)]
    for e in epochs:
        np.testing.assert_array_equal(np.sort(e), np.arange(50))
    assert not np.array_equal(epochs[0], epochs[1])  # a fresh order each epoch
    assert not np.array_equal(epochs[0], np.arange(50))  # shuffled


def test_batches_larger_than_n_use_all_samples():
    prob, _X, _y = make_problem("ls", n=40)
    res_big = run(sgd(0.1), prob, np.zeros(5), steps=5, batches=1000, random_state=0)
    res_n = run(sgd(0.1), prob, np.zeros(5), steps=5, batches=40, random_state=0)
    np.testing.assert_array_equal(res_big.x, res_n.x)
    # one batch of all samples is full-batch gradient descent (up to summation order)
    xs_, _, _ = manual_gd(prob.value_and_grad, np.zeros(5), 0.1, 5)
    np.testing.assert_allclose(res_n.x, xs_[-1], rtol=1e-12)


@pytest.mark.parametrize("kind", ["ls", "log"])
def test_minibatch_reproducible_by_seed(kind):
    prob, _, _ = make_problem(kind)
    opt = lambda: heavy_ball(0.05, momentum=0.5)  # noqa: E731
    a = run(opt(), prob, np.zeros(5), steps=30, batches=20, random_state=7)
    b = run(opt(), prob, np.zeros(5), steps=30, batches=20, random_state=7)
    c = run(opt(), prob, np.zeros(5), steps=30, batches=20, random_state=np.random.default_rng(7))
    d = run(opt(), prob, np.zeros(5), steps=30, batches=20, random_state=8)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.history["batch_fun"], b.history["batch_fun"])
    np.testing.assert_array_equal(a.x, c.x)
    assert not np.allclose(a.x, d.x, rtol=1e-6)
    assert not np.allclose(a.history["batch_fun"][1:], d.history["batch_fun"][1:], rtol=1e-6)


def test_minibatch_ignores_gtol():
    prob, _, _ = make_problem("ls")
    res = run(sgd(0.05), prob, np.zeros(5), steps=15, batches=20, gtol=1e6, random_state=0)
    assert res.status == 1 and res.nit == 15


@pytest.mark.parametrize(("kind", "lr", "tol"), [("ls", 0.02, 1e-3), ("log", 0.2, 2e-2)])
def test_minibatch_sgd_approaches_sklearn(kind, lr, tol):
    reg = 1e-2
    prob, X, y = make_problem(kind, reg=reg)
    ref = sklearn_solution(kind, X, y, reg)
    assert np.linalg.norm(prob.grad(ref)) <= 1e-8  # the reference is the optimum
    res = run(sgd(lr), prob, np.zeros(5), steps=2000, batches=20, random_state=0)
    assert res.status == 1
    rel = np.linalg.norm(res.x - ref) / np.linalg.norm(ref)
    assert rel <= tol
    fstar = prob.value(ref)
    assert 0 <= res.fun - fstar <= 5e-4 * abs(fstar)
    # and it really moved: x0 = 0 is far away
    assert prob.value(np.zeros(5)) - fstar > 100 * (res.fun - fstar)


def test_minibatch_divergence_returns_the_previous_iterate():
    prob, _, _ = make_problem("ls")
    xs_seen = []
    with np.errstate(over="ignore", invalid="ignore"):
        res = run(sgd(50.0), prob, np.zeros(5), steps=200, batches=20, random_state=0,
                  callback=lambda info: xs_seen.append(info.x))
    assert res.status == 2 and res.success is False
    assert "diverged" in res.message and f"step {res.nit}" in res.message
    assert 0 < res.nit < 200
    assert len(xs_seen) == res.nit
    assert np.all(np.isfinite(res.x)) and math.isfinite(res.fun)
    previous = xs_seen[-2] if res.nit >= 2 else np.zeros(5)
    np.testing.assert_array_equal(res.x, previous)
    f0 = prob.value(np.zeros(5))
    assert prob.value(xs_seen[-1]) - f0 > 1e4 * (abs(f0) + 1)  # the rejected iterate had diverged
    assert res.fun == pytest.approx(prob.value(res.x), rel=1e-14)
    assert assert_history(res, minibatch=True) == res.nit


def test_minibatch_divergence_on_the_last_step_is_detected():
    prob, _, _ = make_problem("ls")
    with np.errstate(over="ignore", invalid="ignore"):
        res = run(sgd(1e6), prob, np.zeros(5), steps=1, batches=20, random_state=0)
    assert res.status == 2 and "diverged" in res.message
    np.testing.assert_array_equal(res.x, np.zeros(5))
    assert res.fun == pytest.approx(prob.value(np.zeros(5)), rel=1e-14)


def test_minibatch_callback_value_belongs_to_the_step_start():
    """Under minibatches the callback gets the new x and the batch value of the point the step left."""
    prob, _, _ = make_problem("ls", n=40)
    infos = []
    res = run(sgd(0.5), prob, np.zeros(5), steps=3, batches=40, random_state=0, callback=infos.append)
    previous = [np.zeros(5)] + [info.x for info in infos[:-1]]
    for info, start in zip(infos, previous, strict=True):  # one batch holds every sample
        assert "fun" not in info and "jac" not in info
        assert info.batch_fun == pytest.approx(prob.value(start), rel=1e-10)
        assert info.batch_grad_norm == pytest.approx(np.linalg.norm(prob.grad(start)), rel=1e-10)
    np.testing.assert_allclose(res.history["batch_fun"], [prob.value(p) for p in previous], rtol=1e-10)


# ----------------------------------------------------------------------------- backends


def test_array_api_strict_callable_objective():
    A = xs.asarray([[3.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 1.0]])
    b = xs.asarray([1.0, -1.0, 2.0])

    def objective(x):
        Ax = A @ x
        return 0.5 * xs.vecdot(x, Ax) - xs.vecdot(b, x), Ax - b

    xstar = np.linalg.solve(np.asarray(A), np.asarray(b))
    for opt, tol in ((sgd(0.2), 1e-8), (heavy_ball(0.1, momentum=0.5), 1e-8),
                     (adam(lambda c: 0.1 / (1 + c / 20)), 1e-3)):
        res = run(opt, objective, xs.zeros(3, dtype=xs.float64), steps=800, gtol=1e-10)
        assert res.x.__array_namespace__() is xs and res.jac.__array_namespace__() is xs
        assert isinstance(res.fun, float)
        for field in res.state[1:]:
            assert field.__array_namespace__() is xs
        np.testing.assert_allclose(np.asarray(res.x), xstar, rtol=tol)
        assert assert_history(res) == res.nit + 1


@pytest.mark.parametrize("kind", ["ls", "log"])
def test_array_api_strict_problem_minibatch(kind):
    prob, X, y = make_problem(kind, n=80)
    prob_x = (LeastSquares if kind == "ls" else Logistic)(xs.asarray(X), xs.asarray(y), reg=prob.reg)
    res = run(adam(0.05), prob_x, xs.zeros(5, dtype=xs.float64), steps=12, batches=16, random_state=2)
    ref = run(adam(0.05), prob, np.zeros(5), steps=12, batches=16, random_state=2)
    assert res.x.__array_namespace__() is xs and res.jac.__array_namespace__() is xs
    np.testing.assert_allclose(np.asarray(res.x), ref.x, rtol=1e-12, atol=1e-14)
    assert res.fun == pytest.approx(prob.value(np.asarray(res.x)), rel=1e-12)


@pytest.mark.gpu
@pytest.mark.parametrize("kind", ["ls", "log"])
def test_cupy_problem(cupy, kind):
    prob, X, y = make_problem(kind)
    prob_g = (LeastSquares if kind == "ls" else Logistic)(cupy.asarray(X), cupy.asarray(y), reg=prob.reg)
    res = run(heavy_ball(0.05, momentum=0.5), prob_g, cupy.zeros(5), steps=50, batches=20, random_state=0)
    assert isinstance(res.x, cupy.ndarray) and isinstance(res.state.velocity, cupy.ndarray)
    assert res.fun == pytest.approx(prob.value(cupy.asnumpy(res.x)), rel=1e-10)
    full = run(sgd(0.1), prob_g, cupy.zeros(5), steps=30)
    ref = run(sgd(0.1), prob, np.zeros(5), steps=30)
    np.testing.assert_allclose(cupy.asnumpy(full.x), ref.x, rtol=1e-10)


def test_objective_and_callback_may_overwrite_their_arguments():
    """As SciPy (gh-13740): the callable gets a copy of x and the callback copies of x and jac, so
    overwriting them changes nothing (before, the iterate itself was handed out and corrupted)."""
    A = np.diag([1.0, 3.0, 2.0])

    def clean(x):
        return float(0.5 * x @ A @ x), A @ x

    def scribbling(x):
        out = clean(x)
        x[:] = 1e6
        return out

    def callback(info):
        info.x[:] = -5.0
        info.jac[:] = 0.0

    ref = run(heavy_ball(0.2), clean, np.ones(3), steps=15)
    res = run(heavy_ball(0.2), scribbling, np.ones(3), steps=15, callback=callback)
    np.testing.assert_array_equal(res.x, ref.x)
    assert res.fun == ref.fun and res.nit == ref.nit


def test_size_one_value_accepted_and_validation_policy():
    res = run(sgd(0.25), lambda x: (np.array([x @ x]), 2 * x), np.ones(2), steps=3)
    np.testing.assert_allclose(res.x, 0.5**3)
    assert isinstance(res.fun, float)
    with pytest.raises(ValueError, match=r"^objective must return a scalar"):
        run(sgd(0.1), lambda x: (x, 2 * x), np.ones(2), steps=3)
    with pytest.raises(ValueError, match=r"^x0 must hold real"):
        run(sgd(0.1), lambda x: (float(x @ x), 2 * x), np.ones(2) + 0j, steps=3)
    with pytest.raises(TypeError, match=r"^callback"):
        run(sgd(0.1), lambda x: (float(x @ x), 2 * x), np.ones(2), steps=3, callback="print")


def test_x0_length_checked_against_a_problem():
    prob, _, _ = make_problem("ls")
    with pytest.raises(ValueError, match=r"^x0 must have shape \(5,\)"):
        run(sgd(0.1), prob, np.zeros(4), steps=3)
