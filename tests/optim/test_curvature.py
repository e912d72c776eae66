"""Tests of :func:`optim.qlr` (AdamQLR's step size and damping) and :func:`optim.osgm` (online scaled
gradient).

QLR: the Levenberg-Marquardt damping rule (``_damping_update`` directly and through consecutive
updates, against a NumPy re-implementation that follows ρ, λ and τ by hand), the step size
``τ = −gᵀu / (uᵀCu + λuᵀu)`` (also with negative curvature and ascent directions), monotone
decrease on random convex quadratics with the exact Hessian (hypothesis), invariance to the
direction optimizer's learning rate, and validation.

OSGM: strictly decreasing accepted values (the state's value is the best value seen), convergence
on quadratics (``numpy.linalg.solve``) and logistic regression (scikit-learn), the probe that sets
``η = 1/L̂`` from a secant, the first step ``P = η`` on the gradient's support, AdaGrad on the
hypergradient against NumPy, restarts from the last accepted point after a rejection, the
counts, validation, immutability, float32 and ``array_api_strict``.
"""

import math

import array_api_strict as xs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

from optim import GradientTransformation, Logistic, adam, heavy_ball, osgm, qlr, run, sgd
from optim.curvature import MIN_DAMPING, PROBE, OSGMState, QLRState, _damping_update

# ----------------------------------------------------------------------------- helpers


def spd(spectrum, seed):
    lam = np.asarray(spectrum, dtype=np.float64)
    n = lam.shape[0]
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    return 0.5 * ((Q * lam) @ Q.T + ((Q * lam) @ Q.T).T), Q


def quadratic(A, b=None):
    b = np.zeros(A.shape[0]) if b is None else b
    return lambda x: (0.5 * float(x @ A @ x) - float(b @ x), A @ x - b)


def quartic(A, gamma):
    """``f = ½xᵀAx + (γ/4) Σ x⁴``, its gradient and Hessian."""
    def objective(x):
        return 0.5 * float(x @ A @ x) + 0.25 * gamma * float(np.sum(x**4)), A @ x + gamma * x**3

    return objective, lambda x: A + 3.0 * gamma * np.diag(x * x)


def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


# ============================================================================= QLR
# ----------------------------------------------------------------------------- the damping rule


@pytest.mark.parametrize("rho,expected", [
    (0.9, 0.5), (0.7500001, 0.5), (1.0, 0.5), (5.0, 0.5), (math.inf, 0.5),   # good: λ·dec
    (0.75, 1.0), (0.5, 1.0), (0.25, 1.0),                                    # in between: unchanged
    (0.2499999, 2.0), (0.0, 2.0), (-3.0, 2.0), (-math.inf, 2.0), (math.nan, 2.0),  # poor or NaN: λ·inc
])
def test_damping_update_thresholds(rho, expected):
    assert _damping_update(1.0, rho, 0.5, 2.0) == expected


@pytest.mark.parametrize("damping,rho,dec,inc,expected", [
    (3.0, 0.8, 0.1, 10.0, 0.3),
    (3.0, 0.1, 0.1, 10.0, 30.0),
    (3.0, 0.3, 0.1, 10.0, 3.0),
    (1.5e-8, 0.9, 0.5, 2.0, MIN_DAMPING),   # the floor
    (1e-8, 0.99, 0.5, 2.0, MIN_DAMPING),
    (1e-10, 0.5, 0.5, 2.0, MIN_DAMPING),    # below the floor and unchanged: raised to it
    (1e-10, 0.0, 0.5, 3.0, MIN_DAMPING),    # 3e-10 is still below it
    (4e-9, -1.0, 0.5, 3.0, 1.2e-8),
])
def test_damping_update_factors_and_floor(damping, rho, dec, inc, expected):
    assert _damping_update(damping, rho, dec, inc) == pytest.approx(expected, rel=1e-15)
    assert MIN_DAMPING == 1e-8


class ScaledHvp:
    """``c_t · A v`` with the factor ``c_t`` cycling through ``factors``: under- or over-estimated
    curvature gives controlled reduction ratios (c = 1: ρ ≈ 1, c = 0.6: ρ ≈ 1/3, c = 0.3: ρ < 0)."""

    def __init__(self, hess, factors):
        self.hess, self.factors, self.calls = hess, factors, 0

    def factor(self, t):
        return self.factors[t % len(self.factors)]

    def __call__(self, params, v):
        c = self.factor(self.calls)
        self.calls += 1
        return c * (self.hess(params) @ v)


@pytest.mark.parametrize("direction", ["sgd", "adam"])
def test_qlr_consecutive_updates_follow_the_hand_computed_rule(direction):
    """ρ, λ, τ, the predicted change and the step, recomputed in NumPy update after update."""
    A, _ = spd(np.linspace(1.0, 4.0, 6), seed=1)
    objective, hess = quartic(A, gamma=0.05)
    factors = [1.0, 0.3, 0.6, 1.0, 1.0, 0.3, 0.3, 0.6, 1.0, 2.0]
    hvp = ScaledHvp(hess, factors)
    dec, inc, lam0 = 0.5, 3.0, 0.05
    opt = qlr(sgd(0.1) if direction == "sgd" else adam(0.02), hvp, damping=lam0, dec=dec, inc=inc)
    ref_dir = (sgd(0.1) if direction == "sgd" else adam(0.02))
    x = np.linspace(-1.0, 1.0, 6) + 0.3
    state = opt.init(x)
    dstate = ref_dir.init(x)
    assert state == QLRState(count=0, direction_state=state.direction_state, damping=lam0, value=None,
                             model_change=None, rho=None)
    lam, prev_f, prev_change = lam0, None, None
    regimes = set()
    for t in range(len(factors)):
        f, g = objective(x)
        rho = None
        if prev_change is not None and prev_change < 0:
            rho = (f - prev_f) / prev_change
            new_lam = lam * dec if rho > 0.75 else (lam * inc if not rho >= 0.25 else lam)
            new_lam = max(new_lam, 1e-8)
            regimes.add("dec" if new_lam < lam else "inc" if new_lam > lam else "same")
            lam = new_lam
        u, dstate = ref_dir.update(g, dstate, x)
        Cu = factors[t % len(factors)] * (hess(x) @ u)
        denom = u @ Cu + lam * (u @ u)
        tau = -(g @ u) / denom
        change = tau * (g @ u) + 0.5 * tau**2 * (u @ Cu)
        step, state = opt.update(g, state, x, value=f)
        np.testing.assert_allclose(step, tau * u, rtol=1e-12)
        assert state.count == t + 1
        assert state.damping == pytest.approx(lam, rel=1e-12)
        assert state.value == f
        assert state.model_change == pytest.approx(change, rel=1e-10)
        assert state.model_change < 0
        if rho is None:
            assert state.rho is None
        else:
            assert state.rho == pytest.approx(rho, rel=1e-9, abs=1e-12)
        prev_f, prev_change = f, change
        x = x + step
    assert regimes == {"dec", "inc", "same"}  # every branch of the rule was exercised


def test_qlr_rho_values_on_a_quadratic_match_the_closed_form():
    """On a quadratic with C = cA, tiny damping and u = −g: τ = 1/(c a) with a = gᵀAg/gᵀg, the actual
    change is gᵀg (−1/(ca) + 1/(2c²a)) and the predicted one −gᵀg/(2ca), so ρ = 2 − 1/c:
    c = 1 → 1, c = 0.6 → 1/3, c = 0.3 → −4/3, c = 2 → 3/2."""
    A, _ = spd(np.linspace(1.0, 3.0, 5), seed=2)
    for c, rho in [(1.0, 1.0), (0.6, 1.0 / 3.0), (0.3, -4.0 / 3.0), (2.0, 1.5)]:
        opt = qlr(sgd(1.0), lambda p, v, c=c: c * (A @ v), damping=1e-12)
        f = quadratic(A)
        x = np.arange(1.0, 6.0)
        state = opt.init(x)
        for _ in range(2):
            value, g = f(x)
            step, state = opt.update(g, state, x, value=value)
            x = x + step
        assert state.rho == pytest.approx(rho, rel=1e-6)
        expected = 1e-12 * (0.5 if rho > 0.75 else 2.0 if rho < 0.25 else 1.0)
        assert state.damping == pytest.approx(max(expected, 1e-8))


def test_qlr_tau_with_negative_curvature_and_ascent_directions():
    A, _ = spd(np.linspace(1.0, 3.0, 5), seed=3)
    x = np.arange(1.0, 6.0)
    g = A @ x
    lam = 0.01
    # negative curvature along u: uᵀCu + λuᵀu <= 0 uses |uᵀCu| + λuᵀu
    opt = qlr(sgd(1.0), lambda p, v: -(A @ v), damping=lam)
    step, state = opt.update(g, opt.init(x), x, value=1.0)
    u = -g
    curv = -(u @ A @ u)
    tau = -(g @ u) / (abs(curv) + lam * (u @ u))
    assert tau > 0
    np.testing.assert_allclose(step, tau * u, rtol=1e-12)
    assert state.model_change == pytest.approx(tau * (g @ u) + 0.5 * tau**2 * curv, rel=1e-12)
    # an ascent direction u = +g: τ < 0, the same step as u = −g
    ascent = GradientTransformation(lambda p: None, lambda grad, s, p=None, **kw: (grad.copy(), s), "up")
    up = qlr(ascent, lambda p, v: A @ v, damping=lam)
    down = qlr(sgd(1.0), lambda p, v: A @ v, damping=lam)
    s_up, st_up = up.update(g, up.init(x), x, value=1.0)
    s_down, st_down = down.update(g, down.init(x), x, value=1.0)
    np.testing.assert_allclose(s_up, s_down, rtol=1e-12)
    assert (s_up @ g) < 0
    tau_up = -(g @ g) / (g @ A @ g + lam * (g @ g))
    np.testing.assert_allclose(s_up, tau_up * g, rtol=1e-12)
    assert st_up.model_change == pytest.approx(st_down.model_change, rel=1e-12) and st_up.model_change < 0
    # a zero direction: no step, no division by zero
    zero = GradientTransformation(lambda p: None, lambda grad, s, p=None, **kw: (0.0 * grad, s), "zero")
    z = qlr(zero, lambda p, v: A @ v)
    s_zero, st_zero = z.update(g, z.init(x), x, value=1.0)
    np.testing.assert_array_equal(s_zero, np.zeros(5))
    assert st_zero.model_change == 0.0


# ----------------------------------------------------------------------------- monotone decrease


@given(dim=st.integers(2, 8), seed=st.integers(0, 2**32 - 1), log_cond=st.floats(0.0, 4.0),
       direction=st.sampled_from(["sgd", "adam", "heavy_ball"]), log_damping=st.floats(-8.0, 1.0))
def test_qlr_decreases_every_convex_quadratic_with_the_exact_hessian(dim, seed, log_cond, direction,
                                                                     log_damping):
    rng = np.random.default_rng(seed)
    lam = np.exp(rng.uniform(0.0, log_cond * math.log(10.0), dim))
    lam[0], lam[-1] = 1.0, 10.0**log_cond
    A, _ = spd(lam * rng.uniform(0.1, 10.0), seed=seed)
    b = rng.standard_normal(dim)
    xstar = np.linalg.solve(A, b)
    f = quadratic(A, b)
    direction_optimizer = {"sgd": sgd(0.05), "adam": adam(0.1), "heavy_ball": heavy_ball(0.05)}[direction]
    opt = qlr(direction_optimizer, lambda p, v: A @ v, damping=10.0**log_damping)
    x = xstar + rng.standard_normal(dim) * 3.0
    state = opt.init(x)

    def gap(z):  # f(z) − f*, without the cancellation of computing both
        return 0.5 * float((z - xstar) @ A @ (z - xstar))

    gap0 = gap(x)
    normA = float(np.linalg.norm(A, 2))
    for _ in range(25):
        value, g = f(x)
        step, state = opt.update(g, state, x, value=value)
        change = state.model_change  # exact on a quadratic with the exact Hessian
        assert change <= 0
        before, after = gap(x), gap(x + step)
        # what rounding x + step can do to the computed gap
        tol = 1e-14 * normA * (np.linalg.norm(x) + np.linalg.norm(xstar) + 1.0) * (
            np.linalg.norm(x - xstar) + np.linalg.norm(step)) + 1e-300
        assert after <= before + tol  # never up
        assert after == pytest.approx(before + change, rel=1e-9, abs=tol)
        if -change > 2 * tol:
            assert after < before  # strictly down whenever the decrease is above rounding
        if state.rho is not None and -state.model_change > 1e-8 * gap0:
            assert state.rho == pytest.approx(1.0, abs=1e-5)  # the model is exact on a quadratic
        x = x + step
    assert gap(x) <= 0.99 * gap0


def test_qlr_damping_halves_on_a_quadratic_and_run_converges():
    A, _ = spd(np.logspace(0, 2, 8), seed=4)
    b = np.ones(8)
    damps = []
    res = run(qlr(adam(), lambda p, v: A @ v), quadratic(A, b), np.zeros(8), steps=400, gtol=1e-10,
              callback=lambda r: damps.append(r.state.damping))
    assert res.success
    np.testing.assert_allclose(res.x, np.linalg.solve(A, b), rtol=1e-8)
    fun = res.history["fun"]
    assert np.all(np.diff(fun) <= 1e-14 * np.abs(fun[1:]))
    # ρ = 1 at every update from the second: λ halves down to the floor
    expected = [max(1e-3 * 0.5**t, 1e-8) for t in range(len(damps))]
    np.testing.assert_allclose(damps[:12], expected[:12], rtol=1e-12)
    assert min(damps) == 1e-8


# ----------------------------------------------------------------------------- scale invariance


@pytest.mark.parametrize("make", [sgd, adam], ids=["sgd", "adam"])
def test_qlr_ignores_the_direction_learning_rate(make):
    A, _ = spd(np.logspace(0, 2, 6), seed=5)
    objective, hess = quartic(A, gamma=0.2)
    hvp = lambda p, v: hess(p) @ v  # noqa: E731
    x0 = np.linspace(-1.0, 1.5, 6)
    runs = [run(qlr(make(lr), hvp), objective, x0, steps=30) for lr in (1e-3, 1.0, 50.0)]
    for other in runs[1:]:
        np.testing.assert_allclose(other.history["fun"], runs[0].history["fun"], rtol=1e-10)
        np.testing.assert_allclose(other.x, runs[0].x, rtol=1e-9, atol=1e-12)
        assert other.state.damping == pytest.approx(runs[0].state.damping, rel=1e-9)
    assert runs[0].fun < 1e-2 * runs[0].history["fun"][0]


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(damping=0.0), ValueError, "damping"),
    (dict(damping=-1.0), ValueError, "damping"),
    (dict(damping=math.nan), ValueError, "damping"),
    (dict(damping=math.inf), ValueError, "damping"),
    (dict(damping="1"), TypeError, "damping"),
    (dict(dec=0.0), ValueError, "dec"),
    (dict(dec=1.0), ValueError, "dec"),
    (dict(dec=1.5), ValueError, "dec"),
    (dict(dec=-0.5), ValueError, "dec"),
    (dict(inc=1.0), ValueError, "inc"),
    (dict(inc=0.5), ValueError, "inc"),
    (dict(inc=-2.0), ValueError, "inc"),
    (dict(inc=math.inf), ValueError, "inc"),
])
def test_qlr_argument_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        qlr(sgd(0.1), lambda p, v: v, **kwargs)


def test_qlr_needs_value_params_callable_hvp_and_a_direction():
    A = np.diag([1.0, 2.0, 3.0])
    opt = qlr(sgd(0.1), lambda p, v: A @ v)
    x = np.ones(3)
    state = opt.init(x)
    with pytest.raises(ValueError, match="value"):
        opt.update(A @ x, state, x)
    with pytest.raises(ValueError, match="value"):
        opt.update(A @ x, state, x, value=None)
    with pytest.raises(ValueError, match="scalar"):
        opt.update(A @ x, state, x, value=np.ones(2))
    with pytest.raises(ValueError, match="params"):
        opt.update(A @ x, state, value=1.0)
    with pytest.raises(TypeError, match="hvp"):
        qlr(sgd(0.1), A)
    with pytest.raises(TypeError, match="direction_optimizer"):
        qlr(lambda g: g, lambda p, v: v)
    with pytest.raises(ValueError, match="params"):
        opt.init(np.ones((3, 1)))
    # hvp with the wrong shape, or not finite
    bad = qlr(sgd(0.1), lambda p, v: np.ones(2))
    with pytest.raises(ValueError, match=r"hvp must return an array of shape \(3,\)"):
        bad.update(A @ x, bad.init(x), x, value=1.0)
    nan = qlr(sgd(0.1), lambda p, v: np.full_like(v, np.nan))
    with pytest.raises(ValueError, match="not finite"):
        nan.update(A @ x, nan.init(x), x, value=1.0)


def test_qlr_state_is_not_mutated_and_float32_is_kept():
    A, _ = spd(np.logspace(0, 1, 5), seed=6)
    A32 = A.astype(np.float32)
    opt = qlr(adam(), lambda p, v: A32 @ v)
    x = np.ones(5, dtype=np.float32)
    state = opt.init(x)
    for _ in range(4):
        g = A32 @ x
        mu, nu = state.direction_state.mu.copy(), state.direction_state.nu.copy()
        step, new = opt.update(g, state, x, value=float(x @ A32 @ x) / 2)
        np.testing.assert_array_equal(state.direction_state.mu, mu)
        np.testing.assert_array_equal(state.direction_state.nu, nu)
        again, _ = opt.update(g, state, x, value=float(x @ A32 @ x) / 2)
        np.testing.assert_array_equal(step, again)
        assert step.dtype == np.float32
        state, x = new, x + step
    assert x.dtype == np.float32
    res = run(opt, lambda z: (0.5 * float(z @ A32 @ z), A32 @ z), np.ones(5, dtype=np.float32), steps=100)
    assert res.x.dtype == np.float32 and res.fun < 1e-3


def test_qlr_array_api_strict():
    A, _ = spd(np.logspace(0, 2, 6), seed=7)
    Ax = xs.asarray(A)
    ref = run(qlr(adam(), lambda p, v: A @ v), quadratic(A), np.ones(6), steps=20)
    res = run(qlr(adam(), lambda p, v: Ax @ v), lambda z: (xs.sum(z * (Ax @ z)) / 2, Ax @ z),
              xs.asarray(np.ones(6)), steps=20)
    assert type(res.x) is type(xs.asarray(1.0))
    np.testing.assert_allclose(np.asarray(res.x), ref.x, rtol=1e-10, atol=1e-14)


# ============================================================================= OSGM


class NumpyOSGM:
    """OSGM with a fixed η, re-implemented from the formulas (trial x − P g, AdaGrad on the
    hypergradient −∇f(x⁺) ⊙ ∇f(x)/‖∇f(x)‖², accept iff f decreases)."""

    def __init__(self, eta):
        self.eta = eta
        self.P = self.G = self.x = self.f = self.g = None
        self.accepted = self.rejected = 0

    def trial(self, params, f, grad):
        if self.x is None:
            self.x, self.f, self.g = params, f, grad
            q = -(grad * grad) / (grad @ grad)
            self.G = q * q
            self.P = np.where(q != 0, self.eta, 0.0)
        else:
            q = -(grad * self.g) / (self.g @ self.g)
            self.G = self.G + q * q
            with np.errstate(divide="ignore", invalid="ignore"):
                self.P = self.P - self.eta * np.where(self.G > 0, q / np.sqrt(self.G), 0.0)
            if f < self.f:
                self.x, self.f, self.g = params, f, grad
                self.accepted += 1
            else:
                self.rejected += 1
        return self.x - self.P * self.g


@pytest.mark.parametrize("eta", [0.005, 0.05, 0.5])
def test_osgm_matches_numpy_reference_and_restarts_from_the_accepted_point(eta):
    """η = 0.5 is far beyond 2/L = 0.02: many trials are rejected and each restarts from x_acc."""
    A, _ = spd(np.logspace(0, 2, 7), seed=8)
    b = np.arange(7.0) - 3.0
    f = quadratic(A, b)
    opt, ref = osgm(eta), NumpyOSGM(eta)
    x = np.zeros(7)
    state = opt.init(x)
    assert state == OSGMState(0, None, None, None, None, None, eta, False, 0, 0)
    for t in range(60):
        value, g = f(x)
        step, state = opt.update(g, state, x, value=value)
        expected_next = ref.trial(x, value, g)
        np.testing.assert_allclose(x + step, expected_next, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(state.scaling, ref.P, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(state.accum, ref.G, rtol=1e-12)
        assert (state.accepted, state.rejected) == (ref.accepted, ref.rejected)
        assert state.accepted + state.rejected == t and state.count == t + 1
        # the invariant: every trial starts at the last accepted point
        np.testing.assert_allclose(x + step, state.x - state.scaling * state.grad, rtol=1e-12, atol=1e-12)
        assert state.value == ref.f
        x = x + step
    if eta == 0.5:
        assert state.rejected > 5 and state.accepted > 5


def test_osgm_first_step_is_minus_eta_g_on_the_support_of_g():
    A = np.diag([1.0, 2.0, 3.0, 4.0, 5.0])
    x0 = np.array([1.0, 0.0, -2.0, 0.0, 0.5])  # g = A x0 is zero in coordinates 1 and 3
    g = A @ x0
    opt = osgm(0.07)
    step, state = opt.update(g, opt.init(x0), x0, value=0.5 * x0 @ A @ x0)
    np.testing.assert_array_equal(step, -0.07 * g)
    np.testing.assert_array_equal(state.scaling, [0.07, 0.0, 0.07, 0.0, 0.07])
    np.testing.assert_allclose(state.accum, (g * g / (g @ g)) ** 2)
    assert state.x is x0 and state.value == 0.5 * x0 @ A @ x0 and state.probe is False
    assert (state.accepted, state.rejected, state.count) == (0, 0, 1)


def test_osgm_rejected_trial_restarts_with_the_updated_scaling():
    """η = 1 on f = ½‖x‖²·diag(10): the trial x0 − g overshoots (f grows), is rejected, and the
    next trial is x0 − P₂ g0 with P₂ = η − η q/√(q₀² + q²), q = −g(trial) ⊙ g0/‖g0‖²."""
    A = np.diag([10.0, 10.0, 10.0])
    f = quadratic(A)
    x0 = np.array([1.0, -2.0, 0.5])
    opt = osgm(1.0)
    value0, g0 = f(x0)
    step, state = opt.update(g0, opt.init(x0), x0, value=value0)
    x1 = x0 + step
    value1, g1 = f(x1)
    assert value1 > value0
    step, state = opt.update(g1, state, x1, value=value1)
    assert (state.accepted, state.rejected) == (0, 1)
    q0 = -(g0 * g0) / (g0 @ g0)
    q = -(g1 * g0) / (g0 @ g0)
    P = 1.0 - q / np.sqrt(q0**2 + q**2)
    np.testing.assert_allclose(state.scaling, P, rtol=1e-14)
    np.testing.assert_allclose(x1 + step, x0 - P * g0, rtol=1e-14)
    assert state.x is x0 and state.value == value0
    # NaN at a trial is a rejection too, and so is a tie (acceptance needs a strictly lower value)
    step2, state2 = opt.update(g1, state, x1 + step, value=math.nan)
    assert (state2.accepted, state2.rejected) == (0, 2) and state2.value == value0
    _, state3 = opt.update(g1, state2, x1 + step + step2, value=value0)
    assert (state3.accepted, state3.rejected) == (0, 3) and state3.x is x0 and state3.value == value0
    _, state4 = opt.update(g1, state3, x1, value=np.nextafter(value0, -np.inf))
    assert (state4.accepted, state4.rejected) == (1, 3) and state4.x is x1


def test_osgm_accepted_values_strictly_decrease_and_equal_the_best_seen():
    A, _ = spd(np.logspace(0, 3, 12), seed=9)
    b = np.linspace(-1.0, 1.0, 12)
    f = quadratic(A, b)
    values, counts = [], []
    res = run(osgm(2.0 / 1e3 * 5), f, np.zeros(12), steps=300,
              callback=lambda r: (values.append(r.state.value), counts.append(r.state.accepted)) and None)
    hist = res.history["fun"]
    assert res.state.rejected > 0  # the setting (η = 5/L) has rejections to skip
    values, counts = np.array(values), np.array(counts)
    np.testing.assert_array_equal(values, np.minimum.accumulate(hist[:-1]))  # value = best so far
    changed = np.diff(values) != 0
    assert np.all(np.diff(values) <= 0)
    np.testing.assert_array_equal(changed, np.diff(counts) == 1)  # a new value exactly on acceptance
    assert np.all(np.diff(values)[changed] < 0)
    assert res.fun == hist.min()  # run returns the best point
    assert np.any(np.diff(hist) > 0)  # while the iterates themselves are not monotone


@pytest.mark.parametrize("lr", [None, 0.005, 0.05])
def test_osgm_converges_on_a_quadratic(lr):
    A, _ = spd(np.logspace(0, 2, 10), seed=10)
    b = np.random.default_rng(10).standard_normal(10)
    xstar = np.linalg.solve(A, b)
    res = run(osgm(lr), quadratic(A, b), np.zeros(10), steps=1500, gtol=1e-7)
    assert res.success, res.message
    assert np.linalg.norm(res.x - xstar) <= 1e-7 * np.linalg.norm(xstar)
    assert res.state.accepted > 0


@pytest.mark.parametrize("lr", [None, 1.0, 4.0])
def test_osgm_converges_on_logistic_regression(lr):
    rng = np.random.default_rng(11)
    X = rng.standard_normal((500, 10)) / np.arange(1, 11)
    y = (rng.random(500) < sigmoid(X @ (2.0 * rng.standard_normal(10)))).astype(np.float64)
    reg = 1e-3
    ref = LogisticRegression(C=1.0 / (reg * 500), solver="newton-cholesky", tol=1e-12, max_iter=1000,
                             fit_intercept=False).fit(X, y).coef_.ravel()
    res = run(osgm(lr), Logistic(X, y, reg=reg), np.zeros(10), steps=2000, gtol=1e-9)
    assert res.success, res.message
    assert np.linalg.norm(res.x - ref) <= 1e-6 * np.linalg.norm(ref)


@pytest.mark.parametrize("x0_scale", [0.3, 5.0])
def test_osgm_probe_sets_eta_from_the_secant(x0_scale):
    A, Q = spd(np.array([1.0, 2.0, 5.0, 20.0, 50.0]), seed=12)
    f = quadratic(A)
    x0 = x0_scale * np.array([1.0, -1.0, 2.0, 0.5, -0.3])
    opt = osgm()
    state = opt.init(x0)
    assert state.learning_rate is None
    v0, g0 = f(x0)
    step, state = opt.update(g0, state, x0, value=v0)
    t0 = PROBE * max(np.linalg.norm(x0), 1.0) / np.linalg.norm(g0)
    np.testing.assert_allclose(step, -t0 * g0, rtol=1e-14)
    assert state.probe and state.scaling is None and state.learning_rate is None
    x1 = x0 + step
    v1, g1 = f(x1)
    step, state = opt.update(g1, state, x1, value=v1)
    secant = np.linalg.norm(g1 - g0) / np.linalg.norm(x1 - x0)
    assert state.learning_rate == pytest.approx(1.0 / secant, rel=1e-12)
    # on a quadratic the secant along g is ‖A g‖/‖g‖: the curvature "along the gradient direction"
    assert secant == pytest.approx(np.linalg.norm(A @ g0) / np.linalg.norm(g0), rel=1e-8)
    assert not state.probe and state.accepted == 1 and state.value == v1  # the probe lowered f: kept
    np.testing.assert_allclose(state.scaling, np.full(5, 1.0 / secant))
    np.testing.assert_allclose(x1 + step, x1 - state.scaling * g1, rtol=1e-14)
    # started on the top eigenvector, the probe gives exactly η = 1/L
    top = Q[:, -1]
    opt = osgm()
    s = opt.init(top)
    _, g = f(top)
    step, s = opt.update(g, s, top, value=f(top)[0])
    step, s = opt.update(f(top + step)[1], s, top + step, value=f(top + step)[0])
    assert s.learning_rate == pytest.approx(1.0 / 50.0, rel=1e-9)


def test_osgm_probe_on_a_linear_function_falls_back():
    c = np.array([1.0, -2.0, 3.0])
    f = lambda x: (float(c @ x), c.copy())  # noqa: E731 (zero curvature)
    opt = osgm()
    x = np.zeros(3)
    step, state = opt.update(c, opt.init(x), x, value=0.0)
    step, state = opt.update(c, state, x + step, value=f(x + step)[0])
    assert state.learning_rate == pytest.approx(1.0 / PROBE)


@pytest.mark.parametrize("lr,exc,match", [
    (0.0, ValueError, "learning_rate"),
    (-1.0, ValueError, "learning_rate"),
    (math.nan, ValueError, "learning_rate"),
    (math.inf, ValueError, "learning_rate"),
    ("0.1", TypeError, "learning_rate"),
    (True, TypeError, "learning_rate"),
    (lambda count: 0.1, TypeError, "schedule"),
])
def test_osgm_argument_errors(lr, exc, match):
    with pytest.raises(exc, match=match):
        osgm(lr)


def test_osgm_needs_value_and_params():
    opt = osgm(0.1)
    x = np.ones(3)
    state = opt.init(x)
    with pytest.raises(ValueError, match="value"):
        opt.update(x, state, x)
    with pytest.raises(ValueError, match="params"):
        opt.update(x, state, value=1.0)
    with pytest.raises(ValueError, match="scalar"):
        opt.update(x, state, x, value="high")
    with pytest.raises(ValueError, match="params"):
        opt.init(np.ones((3, 2)))


def test_osgm_zero_gradient_at_x0_gives_a_zero_step():
    opt = osgm(0.1)
    x = np.zeros(3)
    step, state = opt.update(np.zeros(3), opt.init(x), x, value=0.0)
    np.testing.assert_array_equal(step, np.zeros(3))
    assert state.x is None and state.count == 1  # nothing to learn from a stationary point
    res = run(osgm(), quadratic(np.eye(3)), np.zeros(3), steps=5)
    assert res.status == 0 and res.nit == 0


@pytest.mark.parametrize("lr", [0.1, None])
def test_osgm_second_update_at_a_stationary_point(lr):
    opt = osgm(lr)
    x = np.zeros(3)
    state = opt.init(x)
    for _ in range(3):
        step, state = opt.update(np.zeros(3), state, x, value=0.0)
        np.testing.assert_array_equal(step, np.zeros(3))


def test_osgm_state_is_not_mutated_and_float32_is_kept():
    A, _ = spd(np.logspace(0, 1, 6), seed=13)
    A32 = A.astype(np.float32)
    f = lambda z: (0.5 * float(z @ A32 @ z), A32 @ z)  # noqa: E731
    opt = osgm(0.05)
    x = np.ones(6, dtype=np.float32)
    state = opt.init(x)
    for _ in range(6):
        value, g = f(x)
        snap = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in state]
        step, new = opt.update(g, state, x, value=value)
        for before, after in zip(snap, state, strict=True):
            if isinstance(before, np.ndarray):
                np.testing.assert_array_equal(before, after)
            else:
                assert before == after or (before is None and after is None)
        again, _ = opt.update(g, state, x, value=value)
        np.testing.assert_array_equal(step, again)
        assert step.dtype == np.float32
        state, x = new, x + step
    assert state.scaling.dtype == np.float32
    res = run(osgm(), f, np.ones(6, dtype=np.float32), steps=200)
    assert res.x.dtype == np.float32 and res.fun < 1e-8


def test_osgm_array_api_strict():
    A, _ = spd(np.logspace(0, 2, 6), seed=14)
    Ax = xs.asarray(A)
    ref = run(osgm(), quadratic(A), np.ones(6), steps=60)
    res = run(osgm(), lambda z: (xs.sum(z * (Ax @ z)) / 2, Ax @ z), xs.asarray(np.ones(6)), steps=60)
    assert type(res.x) is type(xs.asarray(1.0))
    np.testing.assert_allclose(np.asarray(res.x), ref.x, rtol=1e-10, atol=1e-14)
    assert (res.state.accepted, res.state.rejected) == (ref.state.accepted, ref.state.rejected)


@pytest.mark.gpu
def test_cupy(cupy):
    cp = cupy
    A, _ = spd(np.logspace(0, 2, 6), seed=15)
    Ac = cp.asarray(A)
    cfun = lambda z: (float(z @ Ac @ z) / 2, Ac @ z)  # noqa: E731
    for make in (lambda h: qlr(adam(), h), lambda h: osgm()):
        ref = run(make(lambda p, v: A @ v), quadratic(A), np.ones(6), steps=30)
        res = run(make(lambda p, v: Ac @ v), cfun, cp.ones(6), steps=30)
        assert isinstance(res.x, cp.ndarray)
        np.testing.assert_allclose(cp.asnumpy(res.x), ref.x, rtol=1e-8, atol=1e-12)


def test_validation_policy_messages_start_with_the_argument():
    hvp = lambda x, v: v  # noqa: E731
    with pytest.raises(TypeError, match=r"^learning_rate"):
        osgm(learning_rate=lambda count: 0.1)
    with pytest.raises(TypeError, match=r"^hvp"):
        qlr(adam(), hvp="hvp")
    with pytest.raises(TypeError, match=r"^dec"):
        qlr(adam(), hvp, dec="half")
    with pytest.raises(ValueError, match=r"^inc"):
        qlr(adam(), hvp, inc=1.0)
