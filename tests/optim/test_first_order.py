"""Tests of the optax-style first-order optimizers ``sgd``, ``heavy_ball`` and ``adam``.

Every optimizer is checked step by step against a plain NumPy reference recursion written out
here (SGD ``−η g``; heavy ball ``v ← βv + g``, ``−η v``; Adam with optax's bias correction), with
constant learning rates and with schedules (called with the update count, 0 first), over many
steps and on a closed optax-style loop ``p ← p + step``. Also covered: float32 is kept in the step
and the state, states are immutable and ``update`` is pure, hypothesis properties (Adam's first
step is ``−η sign(g)`` up to ``ε``, Adam is invariant to the gradient's scale with ``ε = 0``,
heavy ball with ``β = 0`` is SGD, SGD is linear in the gradient, heavy ball's closed form for a
constant gradient), argument validation naming the argument, ``array_api_strict`` arrays and
(marked ``gpu``, skipped without one) CuPy.
"""

import math

import array_api_strict as xs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from optim import GradientTransformation, adam, heavy_ball, sgd
from optim.first_order import AdamState, HeavyBallState, SGDState

RTOL = 1e-12

# ----------------------------------------------------------------------------- references


def as_schedule(learning_rate):
    return learning_rate if callable(learning_rate) else (lambda count: learning_rate)


def ref_sgd(grads, learning_rate):
    lr = as_schedule(learning_rate)
    return [-lr(t) * g for t, g in enumerate(grads)]


def ref_heavy_ball(grads, learning_rate, beta):
    lr = as_schedule(learning_rate)
    v = np.zeros_like(grads[0])
    steps = []
    for t, g in enumerate(grads):
        v = beta * v + g
        steps.append(-lr(t) * v)
    return steps


def ref_adam(grads, learning_rate, b1=0.9, b2=0.999, eps=1e-8):
    """optax.adam: bias-corrected moments; the schedule sees the count before the update."""
    lr = as_schedule(learning_rate)
    m = np.zeros_like(grads[0])
    v = np.zeros_like(grads[0])
    steps = []
    for t, g in enumerate(grads):
        m = b1 * m + (1.0 - b1) * g
        v = b2 * v + (1.0 - b2) * g * g
        mhat = m / (1.0 - b1 ** (t + 1))
        vhat = v / (1.0 - b2 ** (t + 1))
        steps.append(-lr(t) * mhat / (np.sqrt(vhat) + eps))
    return steps


def run_updates(opt, grads, params=None):
    """Apply ``opt.update`` to ``grads`` in turn; the steps and the states after each update."""
    p = np.zeros_like(grads[0]) if params is None else params
    state = opt.init(p)
    steps, states = [], [state]
    for g in grads:
        step, state = opt.update(g, state, p)
        steps.append(step)
        states.append(state)
    return steps, states


def random_grads(seed, n_steps=60, dim=7, dtype=np.float64):
    rng = np.random.default_rng(seed)
    scales = np.logspace(-3, 2, dim)  # coordinates of very different sizes
    return [(rng.standard_normal(dim) * scales).astype(dtype) for _ in range(n_steps)]


def assert_steps_equal(got, expected, rtol=RTOL):
    assert len(got) == len(expected)
    for t, (a, b) in enumerate(zip(got, expected, strict=True)):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=0, err_msg=f"update {t}")


def schedule_decay(count):
    return 0.3 / (1.0 + 0.1 * count)


def schedule_warmup(count):
    # warmup from exactly 0 at count 0, then cosine decay: catches a schedule read at count + 1
    return 0.2 * min(count, 5) / 5 * (0.5 * (1 + math.cos(math.pi * min(count, 40) / 40)) + 0.1)


LEARNING_RATES = [0.05, 1.7, schedule_decay, schedule_warmup]
LR_IDS = ["const_small", "const_large", "decay", "warmup"]

# ----------------------------------------------------------------------------- step-by-step references


@pytest.mark.parametrize("learning_rate", LEARNING_RATES, ids=LR_IDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_sgd_matches_reference(learning_rate, seed):
    grads = random_grads(seed)
    steps, states = run_updates(sgd(learning_rate), grads)
    assert_steps_equal(steps, ref_sgd(grads, learning_rate))
    assert [s.count for s in states] == list(range(len(grads) + 1))
    assert all(isinstance(s, SGDState) for s in states)


@pytest.mark.parametrize("learning_rate", LEARNING_RATES, ids=LR_IDS)
@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9, 0.99])
def test_heavy_ball_matches_reference(learning_rate, momentum):
    grads = random_grads(2)
    steps, states = run_updates(heavy_ball(learning_rate, momentum=momentum), grads)
    assert_steps_equal(steps, ref_heavy_ball(grads, learning_rate, momentum))
    assert [s.count for s in states] == list(range(len(grads) + 1))
    # the state's velocity is the reference's v
    v = np.zeros_like(grads[0])
    for g, s in zip(grads, states[1:], strict=True):
        v = momentum * v + g
        assert isinstance(s, HeavyBallState)
        np.testing.assert_allclose(s.velocity, v, rtol=RTOL, atol=0)


def test_heavy_ball_default_momentum_is_0_9():
    grads = random_grads(3, n_steps=20)
    steps, _ = run_updates(heavy_ball(0.1), grads)
    assert_steps_equal(steps, ref_heavy_ball(grads, 0.1, 0.9))


def test_heavy_ball_docstring_two_steps():
    opt = heavy_ball(0.1, momentum=0.5)
    state = opt.init(np.zeros(1))
    step, state = opt.update(np.array([1.0]), state)
    assert step.tolist() == [-0.1]
    step, state = opt.update(np.array([1.0]), state)
    np.testing.assert_allclose(step, [-0.15], rtol=1e-15)
    np.testing.assert_allclose(state.velocity, [1.5], rtol=1e-15)


@pytest.mark.parametrize("learning_rate", [1e-3, 0.05, schedule_decay, schedule_warmup],
                         ids=["default_lr", "const", "decay", "warmup"])
@pytest.mark.parametrize(("b1", "b2", "eps"), [(0.9, 0.999, 1e-8), (0.5, 0.9, 1e-3), (0.0, 0.0, 0.0),
                                               (0.99, 0.5, 1e-6)])
def test_adam_matches_reference(learning_rate, b1, b2, eps):
    grads = random_grads(4)
    steps, states = run_updates(adam(learning_rate, b1=b1, b2=b2, eps=eps), grads)
    assert_steps_equal(steps, ref_adam(grads, learning_rate, b1, b2, eps))
    m = np.zeros_like(grads[0])
    v = np.zeros_like(grads[0])
    for t, (g, s) in enumerate(zip(grads, states[1:], strict=True)):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        assert isinstance(s, AdamState)
        assert s.count == t + 1
        np.testing.assert_allclose(s.mu, m, rtol=RTOL, atol=0)  # raw (uncorrected) moments are stored
        np.testing.assert_allclose(s.nu, v, rtol=RTOL, atol=0)


def test_adam_defaults_are_optax_defaults():
    grads = random_grads(5, n_steps=30)
    steps, _ = run_updates(adam(), grads)
    assert_steps_equal(steps, ref_adam(grads, 1e-3, 0.9, 0.999, 1e-8))


def test_adam_bias_correction_on_constant_gradient():
    """With bias correction, a constant gradient gives the step −η g/(|g| + ε) at every update."""
    g = np.array([2.0, -0.5, 1e-2])
    opt = adam(0.1, b1=0.9, b2=0.999, eps=1e-8)
    state = opt.init(np.zeros(3))
    for _ in range(25):
        step, state = opt.update(g, state)
        np.testing.assert_allclose(step, -0.1 * g / (np.abs(g) + 1e-8), rtol=1e-12)


@pytest.mark.parametrize("make", [lambda lr: sgd(lr), lambda lr: heavy_ball(lr, momentum=0.7),
                                  lambda lr: adam(lr, b1=0.8, b2=0.95)],
                         ids=["sgd", "heavy_ball", "adam"])
def test_schedule_is_called_with_the_count_starting_at_zero(make):
    calls = []

    def schedule(count):
        calls.append(count)
        return 0.01 * (count + 1)

    opt = make(schedule)
    assert calls == []  # building the optimizer does not call the schedule
    state = opt.init(np.zeros(3))
    assert calls == []
    g = np.array([1.0, -2.0, 3.0])
    for _ in range(6):
        _, state = opt.update(g, state)
    assert calls == [0, 1, 2, 3, 4, 5]
    assert isinstance(calls[0], int)


def test_schedule_may_return_zero_and_numpy_scalars():
    opt = sgd(lambda count: np.float64(0.0) if count == 0 else np.float32(0.5))
    state = opt.init(np.zeros(2))
    step, state = opt.update(np.array([1.0, 2.0]), state)
    assert np.all(step == 0.0)
    step, state = opt.update(np.array([1.0, 2.0]), state)
    np.testing.assert_allclose(step, [-0.5, -1.0], rtol=1e-15)
    assert type(step) is np.ndarray


# ----------------------------------------------------------------------------- optax-style loops


def quadratic(seed, dim=6):
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((dim, dim))
    A = M @ M.T / dim + np.diag(np.linspace(0.5, 3.0, dim))
    b = rng.standard_normal(dim)
    return A, b


@pytest.mark.parametrize("name", ["sgd", "heavy_ball", "adam"])
def test_optax_style_loop_matches_reference_trajectory(name):
    """``state = opt.init(p); step, state = opt.update(g, state, p); p = p + step`` on a quadratic."""
    A, b = quadratic(7)
    L = np.linalg.eigvalsh(A)[-1]
    lr = 0.5 / L if name != "adam" else schedule_decay
    opt = {"sgd": lambda: sgd(lr), "heavy_ball": lambda: heavy_ball(lr, momentum=0.6),
           "adam": lambda: adam(lr, b1=0.8, b2=0.99)}[name]()
    assert isinstance(opt, GradientTransformation)
    assert opt.name == name

    p = np.ones(6)
    state = opt.init(p)
    # the reference, written out inline
    q, v, m, s = np.ones(6), np.zeros(6), np.zeros(6), np.zeros(6)
    for t in range(600):
        g = A @ p - b
        step, state = opt.update(g, state, p)
        p = p + step
        gq = A @ q - b
        if name == "sgd":
            q = q - lr * gq
        elif name == "heavy_ball":
            v = 0.6 * v + gq
            q = q - lr * v
        else:
            m = 0.8 * m + 0.2 * gq
            s = 0.99 * s + 0.01 * gq * gq
            q = q - lr(t) * (m / (1 - 0.8 ** (t + 1))) / (np.sqrt(s / (1 - 0.99 ** (t + 1))) + 1e-8)
        np.testing.assert_allclose(p, q, rtol=1e-10, atol=1e-13, err_msg=f"step {t}")
    assert state.count == 600
    if name != "adam":  # the deterministic methods converge on the quadratic
        np.testing.assert_allclose(p, np.linalg.solve(A, b), rtol=1e-8)


# ----------------------------------------------------------------------------- dtype and immutability


@pytest.mark.parametrize("make", [lambda lr: sgd(lr), lambda lr: heavy_ball(lr, momentum=0.9),
                                  lambda lr: heavy_ball(lr, momentum=0.0), lambda lr: adam(lr)],
                         ids=["sgd", "heavy_ball", "heavy_ball_beta0", "adam"])
@pytest.mark.parametrize("learning_rate", [0.1, np.float64(0.1), lambda c: np.float64(0.1) / (c + 1)],
                         ids=["float", "np_float64", "np_float64_schedule"])
def test_float32_is_preserved(make, learning_rate):
    grads = random_grads(8, n_steps=10, dtype=np.float32)
    opt = make(learning_rate)
    p = np.zeros(7, dtype=np.float32)
    state = opt.init(p)
    for field in state[1:]:
        assert field.dtype == np.float32
    for g in grads:
        step, state = opt.update(g, state, p)
        assert step.dtype == np.float32
        for field in state[1:]:
            assert field.dtype == np.float32
        p = p + step
    assert p.dtype == np.float32
    # and it stays close to the float64 computation
    steps64, _ = run_updates(make(learning_rate), [g.astype(np.float64) for g in grads])
    steps32, _ = run_updates(make(learning_rate), grads)
    for a, b in zip(steps32, steps64, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("make", [lambda: sgd(0.1), lambda: heavy_ball(0.1, momentum=0.9),
                                  lambda: heavy_ball(0.1, momentum=0.0), lambda: adam(0.1)],
                         ids=["sgd", "heavy_ball", "heavy_ball_beta0", "adam"])
def test_update_is_pure_and_states_are_immutable(make):
    grads = random_grads(9, n_steps=8)
    opt = make()
    p = np.linspace(-1.0, 1.0, 7)
    p_copy = p.copy()
    state = opt.init(p)
    for g in grads[:3]:
        _, state = opt.update(g, state, p)
    frozen = [np.array(f, copy=True) if isinstance(f, np.ndarray) else f for f in state]
    g = grads[3]
    g_copy = g.copy()

    step1, new1 = opt.update(g, state, p)
    step2, new2 = opt.update(g, state, p)  # the same inputs give the same outputs
    for old, now in zip(frozen, state, strict=True):  # the input state is unchanged
        np.testing.assert_array_equal(now, old)
    np.testing.assert_array_equal(g, g_copy)
    np.testing.assert_array_equal(p, p_copy)
    np.testing.assert_array_equal(step1, step2)
    for a, b in zip(new1, new2, strict=True):
        np.testing.assert_array_equal(a, b)
    assert new1.count == state.count + 1
    for old, new in zip(state[1:], new1[1:], strict=True):  # new arrays, not the old ones updated in place
        assert new is not old
        assert not np.shares_memory(new, old)
    assert step1 is not g and not np.shares_memory(step1, g)
    with pytest.raises(AttributeError):
        state.count = 0  # named tuples: fields cannot be rebound


def test_init_state_is_zero_and_shaped_like_params():
    p = np.arange(5.0)
    assert sgd(0.1).init(p) == SGDState(count=0)
    hb = heavy_ball(0.1).init(p)
    assert hb.count == 0 and hb.velocity.shape == (5,) and np.all(hb.velocity == 0)
    ad = adam().init(p)
    assert ad.count == 0
    for f in (ad.mu, ad.nu):
        assert f.shape == (5,) and np.all(f == 0)
        assert not np.shares_memory(f, p)
    assert not np.shares_memory(ad.mu, ad.nu)


def test_update_without_params():
    g = np.array([1.0, -2.0])
    for opt in (sgd(0.1), heavy_ball(0.1), adam(0.1)):
        state = opt.init(np.zeros(2))
        step, state = opt.update(g, state)
        assert step.shape == (2,) and state.count == 1


# ----------------------------------------------------------------------------- properties

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)
nonzero = st.floats(min_value=1e-3, max_value=1e3).flatmap(lambda a: st.sampled_from([a, -a]))
vectors = st.lists(nonzero, min_size=1, max_size=8).map(np.array)
lrs = st.floats(min_value=1e-6, max_value=10.0)
fractions = st.floats(min_value=0.0, max_value=0.999)


@given(g=vectors, lr=lrs, b1=fractions, b2=fractions, eps=st.sampled_from([0.0, 1e-12, 1e-8]))
def test_adam_first_step_is_minus_lr_sign(g, lr, b1, b2, eps):
    opt = adam(lr, b1=b1, b2=b2, eps=eps)
    step, state = opt.update(g, opt.init(np.zeros_like(g)))
    np.testing.assert_allclose(step, -lr * g / (np.abs(g) + eps), rtol=1e-12)
    np.testing.assert_allclose(step, -lr * np.sign(g), rtol=1e-4)  # |g| >= 1e-3 >> eps
    assert state.count == 1


@given(seed=st.integers(0, 2**32 - 1), c=st.floats(min_value=1e-3, max_value=1e3), lr=lrs,
       b1=fractions, b2=fractions)
def test_adam_without_eps_is_scale_invariant(seed, c, lr, b1, b2):
    grads = random_grads(seed, n_steps=12, dim=4)
    steps, _ = run_updates(adam(lr, b1=b1, b2=b2, eps=0.0), grads)
    scaled, _ = run_updates(adam(lr, b1=b1, b2=b2, eps=0.0), [c * g for g in grads])
    assert_steps_equal(scaled, steps, rtol=1e-10)


@given(seed=st.integers(0, 2**32 - 1), lr=lrs, n=st.integers(1, 15))
def test_heavy_ball_without_momentum_is_sgd(seed, lr, n):
    grads = random_grads(seed, n_steps=n, dim=5)
    for schedule in (lr, lambda c: lr / (1 + c)):
        hb, hb_states = run_updates(heavy_ball(schedule, momentum=0.0), grads)
        sg, _ = run_updates(sgd(schedule), grads)
        for a, b in zip(hb, sg, strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(hb_states[-1].velocity, grads[-1])


@given(g1=st.lists(finite, min_size=3, max_size=3).map(np.array),
       g2=st.lists(finite, min_size=3, max_size=3).map(np.array),
       a=finite, b=finite, lr=lrs, count=st.integers(0, 20))
def test_sgd_is_linear_in_the_gradient(g1, g2, a, b, lr, count):
    opt = sgd(lambda c: lr / (1 + c))
    state = SGDState(count=count)
    s1, _ = opt.update(g1, state)
    s2, _ = opt.update(g2, state)
    s12, new = opt.update(a * g1 + b * g2, state)
    np.testing.assert_allclose(s12, a * s1 + b * s2, rtol=1e-9, atol=1e-9 * lr * (abs(a) + abs(b)) * 1e3)
    np.testing.assert_allclose(s1, -lr / (1 + count) * g1, rtol=1e-15)
    assert new.count == count + 1


@given(beta=fractions, lr=lrs, n=st.integers(1, 30), g=vectors)
def test_heavy_ball_constant_gradient_closed_form(beta, lr, n, g):
    """For a constant gradient, ``v_t = g (1 − βᵗ)/(1 − β)``."""
    opt = heavy_ball(lr, momentum=beta)
    state = opt.init(np.zeros_like(g))
    for _ in range(n):
        step, state = opt.update(g, state)
    factor = (1 - beta**n) / (1 - beta)
    np.testing.assert_allclose(state.velocity, g * factor, rtol=1e-9)
    np.testing.assert_allclose(step, -lr * g * factor, rtol=1e-9)


# ----------------------------------------------------------------------------- validation

BAD_LEARNING_RATES = [
    (0.0, ValueError), (-0.1, ValueError), (float("nan"), ValueError), (float("inf"), ValueError),
    (True, TypeError), ("0.1", TypeError), (None, TypeError), (1 + 1j, TypeError),
]
FACTORIES = {
    "sgd": lambda **kw: sgd(**kw),
    "heavy_ball": lambda **kw: heavy_ball(**kw),
    "adam": lambda **kw: adam(**kw),
}


@pytest.mark.parametrize("name", list(FACTORIES))
@pytest.mark.parametrize(("value", "error"), BAD_LEARNING_RATES, ids=lambda v: repr(v))
def test_bad_learning_rate(name, value, error):
    with pytest.raises(error, match="learning_rate"):
        FACTORIES[name](learning_rate=value)


@pytest.mark.parametrize("value", [1, np.float32(0.5), np.int64(2), 1e-300])
def test_good_learning_rates(value):
    for make in FACTORIES.values():
        assert isinstance(make(learning_rate=value), GradientTransformation)


@pytest.mark.parametrize(("value", "error"), [(1.0, ValueError), (-0.1, ValueError), (1.5, ValueError),
                                              (float("nan"), ValueError), (True, TypeError),
                                              ("0.9", TypeError), (None, TypeError)],
                         ids=lambda v: repr(v))
def test_bad_momentum(value, error):
    with pytest.raises(error, match="momentum"):
        heavy_ball(0.1, momentum=value)


@pytest.mark.parametrize("arg", ["b1", "b2"])
@pytest.mark.parametrize(("value", "error"), [(1.0, ValueError), (-1e-9, ValueError), (2.0, ValueError),
                                              (float("nan"), ValueError), (False, TypeError),
                                              ("0.9", TypeError)],
                         ids=lambda v: repr(v))
def test_bad_adam_decay(arg, value, error):
    with pytest.raises(error, match=arg):
        adam(0.1, **{arg: value})


@pytest.mark.parametrize("value", [-1e-8, float("nan"), float("inf"), True, "1e-8", None])
def test_bad_adam_eps(value):
    with pytest.raises((ValueError, TypeError), match="eps"):
        adam(0.1, eps=value)


def test_boundary_hyperparameters_are_accepted():
    heavy_ball(0.1, momentum=0.0)
    heavy_ball(0.1, momentum=np.nextafter(1.0, 0.0))
    adam(0.1, b1=0.0, b2=0.0, eps=0.0)
    adam(0.1, b1=0.999999, b2=0.999999, eps=np.float32(1e-7))


@pytest.mark.parametrize("name", list(FACTORIES))
def test_grad_of_wrong_shape(name):
    opt = FACTORIES[name](learning_rate=0.1)
    p = np.zeros(4)
    state = opt.init(p)
    for g in (np.zeros(3), np.zeros((4, 1)), np.zeros(5)):
        with pytest.raises(ValueError, match=r"grad must have shape \(4,\)"):
            opt.update(g, state, p)
    with pytest.raises(ValueError, match="grad"):
        opt.update([0.0, 0.0, 0.0, 0.0], state, p)  # not an array at all
    if name != "sgd":  # the state's vectors fix the shape even without params
        with pytest.raises(ValueError, match="grad"):
            opt.update(np.zeros(3), state)


@pytest.mark.parametrize("name", list(FACTORIES))
def test_init_rejects_bad_params(name):
    opt = FACTORIES[name](learning_rate=0.1)
    with pytest.raises(ValueError, match="params must be a 1-D array"):
        opt.init(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="params must be a 1-D array"):
        opt.init(np.float64(1.0))
    with pytest.raises(TypeError, match="params must be an array"):  # the policy: a list is a wrong kind
        opt.init([1.0, 2.0])
    with pytest.raises(ValueError, match="params must have a real floating dtype"):
        opt.init(np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="params must have a real floating dtype"):
        opt.init(np.zeros(3, dtype=np.complex128))


@pytest.mark.parametrize("name", list(FACTORIES))
@pytest.mark.parametrize(("value", "error", "pattern"), [
    (float("nan"), ValueError, "schedule returned nan at count 1"),
    (float("inf"), ValueError, "schedule returned inf at count 1"),
    (-0.5, ValueError, "schedule returned -0.5 at count 1"),
    (None, TypeError, "schedule returned None at count 1, not a number"),
    ("fast", TypeError, "schedule returned 'fast' at count 1, not a number"),
    ([0.1, 0.2], TypeError, "not a number"),
    (np.array([0.1, 0.2]), TypeError, "not a number"),
], ids=["nan", "inf", "negative", "None", "str", "list", "array"])
def test_bad_schedule_values(name, value, error, pattern):
    opt = FACTORIES[name](learning_rate=lambda count: 0.1 if count == 0 else value)
    state = opt.init(np.zeros(2))
    _, state = opt.update(np.ones(2), state)  # count 0 is fine
    with pytest.raises(error, match=pattern):
        opt.update(np.ones(2), state)


@pytest.mark.parametrize("field", ["init", "update"])
@pytest.mark.parametrize("value", ["abc", 1, None, [print], np.ones(2), True])
def test_gradient_transformation_rejects_non_callables(field, value):
    opt = sgd(0.1)
    parts = {"init": opt.init, "update": opt.update, field: value}
    with pytest.raises(TypeError, match=rf"^{field} must be callable"):
        GradientTransformation(**parts)
    with pytest.raises(TypeError, match=rf"^{field} must be callable"):  # positionally too
        GradientTransformation(parts["init"], parts["update"])


@pytest.mark.parametrize("name", [1, ["a"], {"a": 1}, None, b"sgd"])
def test_gradient_transformation_rejects_a_non_string_name(name):
    opt = sgd(0.1)
    with pytest.raises(TypeError, match=r"^name must be a string"):
        GradientTransformation(opt.init, opt.update, name)


def test_gradient_transformation_is_still_a_named_tuple():
    opt = sgd(0.1)
    init, update, name = opt
    assert (init, update, name) == (opt.init, opt.update, "sgd")
    renamed = opt._replace(name="plain")
    assert isinstance(renamed, GradientTransformation) and renamed.name == "plain"
    assert GradientTransformation(init, update).name == ""
    assert repr(opt).startswith("GradientTransformation(init=")


def test_schedule_returning_numeric_string_is_rejected():
    opt = sgd(lambda count: "0.1")
    state = opt.init(np.zeros(2))
    with pytest.raises(TypeError, match="not a number"):
        opt.update(np.ones(2), state)


# ----------------------------------------------------------------------------- backends


@pytest.mark.parametrize("make", [lambda: sgd(schedule_decay), lambda: heavy_ball(0.1, momentum=0.8),
                                  lambda: adam(0.05, b1=0.8, b2=0.9)],
                         ids=["sgd", "heavy_ball", "adam"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_array_api_strict(make, dtype):
    grads = random_grads(10, n_steps=15, dim=4, dtype=np.dtype(dtype))
    expected, _ = run_updates(make(), grads)
    xdtype = getattr(xs, dtype)
    opt = make()
    p = xs.zeros(4, dtype=xdtype)
    state = opt.init(p)
    for field in state[1:]:
        assert field.__array_namespace__() is xs and field.dtype == xdtype
    for g, ref in zip(grads, expected, strict=True):
        step, state = opt.update(xs.asarray(g), state, p)
        assert step.__array_namespace__() is xs
        assert step.dtype == xdtype
        for field in state[1:]:
            assert field.__array_namespace__() is xs and field.dtype == xdtype
        np.testing.assert_allclose(np.asarray(step), ref, rtol=1e-6 if dtype == "float32" else 1e-14)
        p = p + step
    assert p.__array_namespace__() is xs


@pytest.mark.gpu
@pytest.mark.parametrize("make", [lambda: sgd(schedule_decay), lambda: heavy_ball(0.1, momentum=0.8),
                                  lambda: adam(0.05, b1=0.8, b2=0.9)],
                         ids=["sgd", "heavy_ball", "adam"])
def test_cupy(cupy, make):
    grads = random_grads(11, n_steps=15, dim=4)
    expected, _ = run_updates(make(), grads)
    opt = make()
    p = cupy.zeros(4, dtype=cupy.float32)
    state = opt.init(p)
    for g, ref in zip(grads, expected, strict=True):
        step, state = opt.update(cupy.asarray(g, dtype=cupy.float32), state, p)
        assert isinstance(step, cupy.ndarray) and step.dtype == cupy.float32
        for field in state[1:]:
            assert isinstance(field, cupy.ndarray) and field.dtype == cupy.float32
        np.testing.assert_allclose(cupy.asnumpy(step), ref, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(("kwargs", "exc"), [
    ({"eps": "tiny"}, TypeError), ({"eps": True}, TypeError), ({"eps": -1e-8}, ValueError),
    ({"eps": float("nan")}, ValueError), ({"b1": "0.9"}, TypeError), ({"b1": 1.0}, ValueError),
    ({"learning_rate": "1e-3"}, TypeError), ({"learning_rate": 0.0}, ValueError),
])
def test_adam_validation_policy(kwargs, exc):
    """The policy: TypeError for a wrong kind (before: ValueError for eps='tiny'), ValueError for a
    wrong value, the message starting with the argument's name."""
    with pytest.raises(exc, match=rf"^{next(iter(kwargs))}"):
        adam(**kwargs)
