"""Tests of :func:`optim.fosi` (FOSI: Newton on the extreme Hessian eigenspace, a base optimizer on the rest).

Checked against an independent NumPy implementation of the formulas of ALGORITHMS.md (the
eigenpairs from ``numpy.linalg.eigh`` of the exact Hessian): that FOSI is exactly its base
optimizer before the first eigen-estimate (and never calls ``hvp`` then), the eigenpairs it finds on
quadratics with a chosen spectrum (both ends, ``l > 0``), the split of the gradient, the step
``s (I − VVᵀ) base(g₂) − α V|Λ|⁻¹Vᵀ v`` with ``v = βv + g₁`` over several updates and re-estimates,
the learning-rate scaling ``s = clip(λ₁/λ_k, 1, c)``, the effective condition number the base
optimizer sees (iteration counts predicted in closed form), the absolute values on indefinite
Hessians, the gain over heavy-ball and Adam on an ill-conditioned logistic regression, argument
validation, reproducibility, immutability of the state, float32, ``array_api_strict`` and CuPy.
"""

import array_api_strict as xs
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import optim
from optim import GradientTransformation, Logistic, adam, fosi, heavy_ball, run, sgd
from optim.fosi import FosiState

# ----------------------------------------------------------------------------- helpers


def spd(spectrum, seed):
    """``A = Q diag(spectrum) Qᵀ``, ``Q`` random orthogonal (column ``j``: eigenvalue ``spectrum[j]``)."""
    lam = np.asarray(spectrum, dtype=np.float64)
    n = lam.shape[0]
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    A = (Q * lam) @ Q.T
    return 0.5 * (A + A.T), Q


def quadratic(A):
    return lambda x: (0.5 * float(x @ A @ x), A @ x)


def projector(V):
    return V @ V.T


class CountingHvp:
    """``hvp(params, v) = H(params) v`` recording the points where it was called."""

    def __init__(self, hess):
        self.hess = hess
        self.points = []

    def __call__(self, params, v):
        self.points.append(np.array(params, copy=True))
        return self.hess(params) @ v

    @property
    def calls(self):
        return len(self.points)


BASES = {
    "sgd": lambda: sgd(0.01),
    "heavy_ball": lambda: heavy_ball(0.01, momentum=0.8),
    "adam": lambda: adam(0.05),
}


class NumpyBase:
    """Independent NumPy versions of the three bases (fed ``g₂`` by the reference FOSI)."""

    def __init__(self, kind, n, lr, momentum=0.8, b1=0.9, b2=0.999, eps=1e-8):
        self.kind, self.lr, self.beta, self.b1, self.b2, self.eps = kind, lr, momentum, b1, b2, eps
        self.v = np.zeros(n)
        self.m = np.zeros(n)
        self.nu = np.zeros(n)
        self.t = 0

    def __call__(self, g):
        self.t += 1
        if self.kind == "sgd":
            return -self.lr * g
        if self.kind == "heavy_ball":
            self.v = self.beta * self.v + g
            return -self.lr * self.v
        self.m = self.b1 * self.m + (1 - self.b1) * g
        self.nu = self.b2 * self.nu + (1 - self.b2) * g * g
        mhat = self.m / (1 - self.b1 ** self.t)
        nuhat = self.nu / (1 - self.b2 ** self.t)
        return -self.lr * mhat / (np.sqrt(nuhat) + self.eps)


BASE_LR = {"sgd": 0.01, "heavy_ball": 0.01, "adam": 0.05}


def extreme_pairs(H, k, l):  # noqa: E741
    """The ``l`` smallest and ``k`` largest eigenpairs of the symmetric ``H`` (ascending)."""
    w, U = np.linalg.eigh(H)
    idx = np.r_[np.arange(l), np.arange(H.shape[0] - k, H.shape[0])].astype(int)
    return w[idx], U[:, idx]


def expected_scale(lam, k, c):
    top = np.sort(lam)[-k:] if k else np.array([])
    if top.size == 0 or top[0] <= 0:
        return 1.0
    return float(np.clip(top[-1] / top[0], 1.0, c))


# ----------------------------------------------------------------------------- FOSI == base before warmup


@pytest.mark.parametrize("name", list(BASES))
def test_equals_base_before_first_estimate(name):
    """Every update before ``warmup`` is bit-for-bit the bare base's; hvp is not touched."""
    A, _ = spd(np.logspace(0, 2, 10), seed=1)
    hvp = CountingHvp(lambda p: A @ np.eye(10))
    warmup = 7
    fo = fosi(BASES[name](), hvp, k=2, every=3, warmup=warmup, random_state=0)
    base = BASES[name]()
    x = np.random.default_rng(2).standard_normal(10)
    sf, sb = fo.init(x), base.init(x)
    assert isinstance(sf, FosiState) and sf.eigvecs is None and sf.count == 0
    for t in range(warmup):
        g = A @ x
        step_f, sf = fo.update(g, sf, x)
        step_b, sb = base.update(g, sb, x)
        np.testing.assert_array_equal(step_f, step_b)
        assert hvp.calls == 0 and sf.hvps == 0
        assert sf.eigvecs is None and sf.eigvals is None and sf.scale == 1.0
        assert sf.count == t + 1
        for a, b in zip(sf.base_state, sb, strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(sf.momentum, np.zeros(10))  # the Newton part is untouched
        x = x + step_f
    # update number ``warmup`` estimates at the current params and departs from the base
    g = A @ x
    step_f, sf = fo.update(g, sf, x)
    step_b, _ = base.update(g, sb, x)
    assert hvp.calls > 0 and sf.hvps == hvp.calls
    assert all(np.array_equal(p, x) for p in hvp.points)
    assert sf.eigvecs is not None and sf.eigvecs.shape == (10, 2)
    assert not np.allclose(step_f, step_b)


@pytest.mark.parametrize("name", list(BASES))
def test_default_warmup_is_every_through_run(name):
    """warmup=None means warmup=every: ``every`` full-batch steps of ``run`` equal the base's exactly."""
    A, _ = spd(np.logspace(0, 2, 12), seed=3)
    hvp = CountingHvp(lambda p: A)
    x0 = np.linspace(-1.0, 1.0, 12)
    every = 15
    fo = run(fosi(BASES[name](), hvp, k=3, every=every, random_state=0), quadratic(A), x0, steps=every)
    ba = run(BASES[name](), quadratic(A), x0, steps=every)
    np.testing.assert_array_equal(fo.history["fun"], ba.history["fun"])
    np.testing.assert_array_equal(fo.x, ba.x)
    assert hvp.calls == 0 and fo.state.hvps == 0 and fo.state.eigvecs is None
    fo = run(fosi(BASES[name](), hvp, k=3, every=every, random_state=0), quadratic(A), x0, steps=every + 1)
    assert hvp.calls == fo.state.hvps > 0 and fo.state.eigvecs is not None


def test_estimates_happen_at_warmup_plus_multiples_of_every():
    A, _ = spd(np.logspace(0, 2, 10), seed=4)
    hvp = CountingHvp(lambda p: A)
    opt = fosi(sgd(0.005), hvp, k=2, every=4, warmup=3, random_state=0)
    x = np.ones(10)
    state = opt.init(x)
    estimated = []
    for t in range(16):
        before = hvp.calls
        step, state = opt.update(A @ x, state, x)
        if hvp.calls > before:
            estimated.append(t)
            assert state.hvps == hvp.calls
            assert hvp.calls - before <= 20 * 4 * 2  # a few Lanczos cycles of m = 4 (k + l) products
        x = x + step
    assert estimated == [3, 7, 11, 15]
    assert state.count == 16


def test_zero_hessian_leaves_the_base_alone():
    """No eigenvalue above the noise (a zero Hessian): V stays empty and FOSI steps like its base."""
    opt = fosi(heavy_ball(0.1), lambda p, v: np.zeros_like(v), k=2, every=2, warmup=0, random_state=0)
    base = heavy_ball(0.1)
    x = np.ones(6)
    so, sb = opt.init(x), base.init(x)
    for _ in range(4):
        g = x.copy()
        a, so = opt.update(g, so, x)
        b, sb = base.update(g, sb, x)
        np.testing.assert_array_equal(a, b)
        assert so.eigvecs is None and so.scale == 1.0
        x = x + a
    assert so.hvps > 0


# ----------------------------------------------------------------------------- eigenpairs


SPECTRUM = np.array([-4.0, -2.5, 0.7, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 30.0, 50.0, 100.0])


@pytest.mark.parametrize("k,l", [(3, 0), (1, 0), (2, 2), (3, 1), (0, 2)])
def test_eigenpairs_match_the_chosen_spectrum(k, l):  # noqa: E741
    """Lanczos with a full basis (4(k+l) >= n, or num_lanczos = n) is exact: projectors to 1e-10."""
    A, Q = spd(SPECTRUM, seed=5)
    n = A.shape[0]
    opt = fosi(sgd(1e-3), lambda p, v: A @ v, k=k, l=l, warmup=0, num_lanczos=n, random_state=1)
    x = np.ones(n)
    _, state = opt.update(A @ x, opt.init(x), x)
    idx = np.r_[np.arange(l), np.arange(n - k, n)].astype(int)
    V, lam = state.eigvecs, state.eigvals
    assert V.shape == (n, k + l) and lam.shape == (k + l,)
    np.testing.assert_allclose(np.sort(lam), SPECTRUM[idx], rtol=1e-10)
    np.testing.assert_allclose(V.T @ V, np.eye(k + l), atol=1e-10)
    assert np.linalg.norm(projector(V) - projector(Q[:, idx]), 2) <= 1e-10
    # V's columns pair with their eigenvalues
    np.testing.assert_allclose(A @ V, V * lam, atol=1e-9 * SPECTRUM.max())
    assert state.scale == pytest.approx(expected_scale(SPECTRUM[idx], k, 3.0))


def test_eigenpairs_with_the_default_lanczos_basis_on_a_larger_problem():
    """n = 200 with the default m = 4k = 20 vectors: the top-k space of a separated spectrum is found."""
    rng = np.random.default_rng(6)
    lam = np.r_[rng.uniform(1.0, 10.0, 195), [60.0, 120.0, 250.0, 500.0, 1000.0]]
    A, Q = spd(lam, seed=7)
    hvp = CountingHvp(lambda p: A)
    opt = fosi(sgd(1e-3), hvp, k=5, warmup=0, random_state=0)
    x = np.ones(200)
    _, state = opt.update(A @ x, opt.init(x), x)
    order = np.argsort(lam)
    top = Q[:, order[-5:]]
    assert np.linalg.norm(projector(state.eigvecs) - projector(top), 2) <= 1e-8
    np.testing.assert_allclose(np.sort(state.eigvals), np.sort(lam)[-5:], rtol=1e-8)
    assert state.hvps == hvp.calls <= 40  # observed: one cycle of m = 4k = 20 products


# ----------------------------------------------------------------------------- the step, against NumPy


def quartic(A, gamma):
    """``f = ½xᵀAx + (γ/4) Σ x⁴``: the Hessian ``A + 3γ diag(x²)`` changes between estimates."""
    def objective(x):
        return 0.5 * float(x @ A @ x) + 0.25 * gamma * float(np.sum(x**4)), A @ x + gamma * x**3

    def hess(x):
        return A + 3.0 * gamma * np.diag(x * x)

    return objective, hess


@pytest.mark.parametrize("name", list(BASES))
@pytest.mark.parametrize("k,l,clip", [(3, 0, None), (2, 2, None), (2, 1, 1.7), (3, 0, 50.0)])
def test_step_matches_numpy_reference(name, k, l, clip):  # noqa: E741
    """Twelve updates (three estimates, at changing Hessians) recomputed with NumPy to rtol 1e-10."""
    A, _ = spd(SPECTRUM, seed=8)
    n = A.shape[0]
    objective, hess = quartic(A, gamma=0.3)
    alpha, beta, warmup, every = 0.3, 0.6, 2, 4
    opt = fosi(BASES[name](), lambda p, v: hess(p) @ v, k=k, l=l, alpha=alpha, momentum=beta,
               every=every, warmup=warmup, clip=clip, num_lanczos=n, random_state=3)
    c = clip if clip is not None else (3.0 if name != "adam" else 1.0)
    ref_base = NumpyBase(name, n, BASE_LR[name])
    x = np.random.default_rng(9).uniform(-1.0, 1.0, n)
    state = opt.init(x)
    v = np.zeros(n)
    V = lam = None
    s = 1.0
    for t in range(12):
        _, g = objective(x)
        if t >= warmup and (t - warmup) % every == 0:
            lam, V = extreme_pairs(hess(x), k, l)
            s = expected_scale(lam, k, c)
        if V is None:
            expected = ref_base(g)
        else:
            P = V @ V.T
            g1 = P @ g
            g2 = g - g1
            v = beta * v + g1
            newton = V @ ((V.T @ v) / np.abs(lam))
            b = ref_base(g2)
            expected = s * (b - P @ b) - alpha * newton
        step, state = opt.update(g, state, x)
        np.testing.assert_allclose(step, expected, rtol=1e-10, atol=1e-13 * np.linalg.norm(expected))
        if V is not None:
            assert state.scale == pytest.approx(s, rel=1e-12)
            np.testing.assert_allclose(np.sort(state.eigvals), lam, rtol=1e-10)
            assert np.linalg.norm(projector(state.eigvecs) - V @ V.T) <= 1e-10
            np.testing.assert_allclose(state.momentum, v, rtol=1e-10, atol=1e-14)
            # the split: the base state saw g₂ = (I − VVᵀ) g only
            if name == "heavy_ball":
                np.testing.assert_allclose(state.base_state.velocity, ref_base.v, rtol=1e-10, atol=1e-14)
        x = x + step
    assert state.count == 12 and V is not None


def test_base_sees_only_the_orthogonal_part_of_the_gradient():
    """A recording base: after the estimate its input is g − VVᵀg, and its output is projected off V."""
    A, Q = spd(SPECTRUM, seed=10)
    n = A.shape[0]
    seen = []

    def init(params):
        return 0

    def update(grad, state, params=None, **extra):
        seen.append((np.array(grad), extra))
        return np.ones_like(grad), state + 1

    base = GradientTransformation(init, update, "recorder")
    opt = fosi(base, lambda p, v: A @ v, k=2, warmup=1, every=10, num_lanczos=n, random_state=0)
    x = np.linspace(-1.0, 1.0, n)
    state = opt.init(x)
    g = A @ x
    step0, state = opt.update(g, state, x, tag="before")
    np.testing.assert_array_equal(seen[0][0], g)
    np.testing.assert_array_equal(step0, np.ones(n))
    assert seen[0][1] == {"tag": "before"}  # extra keywords reach the base
    step1, state = opt.update(g, state, x, tag="after")
    V = Q[:, -2:]
    P = V @ V.T
    np.testing.assert_allclose(seen[1][0], g - P @ g, atol=1e-12 * np.linalg.norm(g))
    assert seen[1][1] == {"tag": "after"}
    assert state.scale == 1.0  # a base with an unknown name gets c = 1
    newton = V @ ((V.T @ (P @ g)) / SPECTRUM[-2:])
    np.testing.assert_allclose(step1, (np.ones(n) - P @ np.ones(n)) - 0.1 * newton, atol=1e-12)
    assert abs(V.T @ (step1 + 0.1 * newton)).max() <= 1e-12  # no base component in span(V)


# ----------------------------------------------------------------------------- the scaling s


@pytest.mark.parametrize("name,clip,ratio,expected", [
    ("sgd", None, 5.0, 3.0), ("heavy_ball", None, 5.0, 3.0), ("adam", None, 5.0, 1.0),
    ("sgd", None, 2.0, 2.0), ("heavy_ball", None, 2.0, 2.0), ("adam", None, 2.0, 1.0),
    ("sgd", 4.0, 5.0, 4.0), ("heavy_ball", 10.0, 5.0, 5.0), ("adam", 2.5, 5.0, 2.5),
    ("adam", 10.0, 2.0, 2.0), ("sgd", 1.0, 5.0, 1.0), ("heavy_ball", 1.0, 2.0, 1.0),
])
def test_scale_is_clipped_ratio_of_top_eigenvalues(name, clip, ratio, expected):
    spectrum = np.r_[np.linspace(1.0, 5.0, 8), [20.0, 20.0 * ratio ** 0.5, 20.0 * ratio]]
    A, _ = spd(spectrum, seed=11)
    opt = fosi(BASES[name](), lambda p, v: A @ v, k=3, warmup=0, clip=clip, num_lanczos=11, random_state=0)
    x = np.ones(11)
    _, state = opt.update(A @ x, opt.init(x), x)
    assert state.scale == pytest.approx(expected, rel=1e-10)


def test_scale_with_k_equal_one_and_only_small_pairs():
    A, _ = spd(SPECTRUM, seed=12)
    for k, l in [(1, 0), (0, 3), (1, 2)]:  # noqa: E741
        opt = fosi(sgd(1e-3), lambda p, v: A @ v, k=k, l=l, warmup=0, num_lanczos=12, random_state=0)
        x = np.ones(12)
        _, state = opt.update(A @ x, opt.init(x), x)
        assert state.scale == 1.0  # λ₁/λ_k = 1 for k = 1, no top pairs for k = 0


# ----------------------------------------------------------------------------- effective conditioning


KE = 4
LAM_E = np.r_[np.linspace(1.0, 10.0, 26), [30.0, 60.0, 120.0, 240.0]]  # λ_k = 30, λ_{k+1} = 10


def predicted_steps(eta, lam, coef, target):
    """Smallest t with Σ ½ λ c² (1 − ηλ)^{2t} <= target (gradient descent on a diagonalised quadratic)."""
    for t in range(100000):
        if np.sum(0.5 * lam * coef**2 * (1.0 - eta * lam) ** (2 * t)) <= target:
            return t
    raise AssertionError("not reached")


@pytest.fixture(scope="module")
def conditioning_problem():
    A, Q = spd(LAM_E, seed=13)
    coef = np.ones(LAM_E.shape[0])
    x0 = Q @ coef
    f0 = 0.5 * np.sum(LAM_E * coef**2)
    return A, x0, coef, 1e-10 * f0


def steps_to(opt, A, x0, target, steps=5000):
    res = run(opt, quadratic(A), x0, steps=steps, callback=lambda r: r.fun <= target)
    assert res.fun <= target, (res.message, res.fun, target)
    return res.nit


@pytest.mark.parametrize("clip", [None, 8.0])
def test_fosi_gd_rate_is_set_by_the_complement(conditioning_problem, clip):
    """FOSI-GD (lr = 1/λ₁): the base runs at s/λ₁ on eigenvalues <= λ_{k+1}, so the count of steps
    is GD's with rate 1 − sλ_min/λ₁ on the complement (exact Newton on V: α = 1, β = 0), i.e.
    ``s`` = clip(λ₁/λ_k, 1, c) times fewer steps than GD's rate 1 − λ_min/λ₁."""
    A, x0, coef, target = conditioning_problem
    L, n = LAM_E[-1], LAM_E.shape[0]
    gd = steps_to(sgd(1.0 / L), A, x0, target)
    assert gd == predicted_steps(1.0 / L, LAM_E, coef, target)
    s = expected_scale(LAM_E[-KE:], KE, clip or 3.0)
    assert s == (3.0 if clip is None else 8.0)
    newton = fosi(sgd(1.0 / L), lambda p, v: A @ v, k=KE, warmup=0, every=10**6, clip=clip, alpha=1.0,
                  momentum=0.0, num_lanczos=n, random_state=0)
    fo = steps_to(newton, A, x0, target)
    rest = slice(0, n - KE)
    assert abs(fo - max(1, predicted_steps(s / L, LAM_E[rest], coef[rest], target))) <= 1
    assert gd / fo == pytest.approx(s, rel=0.05)
    # the default Newton part (α = 0.1, β = 0.9) converges fast enough not to change the count much
    default = fosi(sgd(1.0 / L), lambda p, v: A @ v, k=KE, warmup=0, every=10**6, clip=clip, random_state=0)
    assert steps_to(default, A, x0, target) <= 1.1 * fo


def test_base_lr_limited_by_lambda_k_plus_one_not_lambda_one(conditioning_problem):
    """GD with lr = 1/λ_{k+1} diverges (λ₁ = 24 λ_{k+1}); inside FOSI (clip = 1) it converges at the
    rate 1 − λ_min/λ_{k+1}: the condition number the base sees is λ_{k+1}/λ_min."""
    A, x0, coef, target = conditioning_problem
    n = LAM_E.shape[0]
    lr = 1.0 / LAM_E[n - KE - 1]
    bare = run(sgd(lr), quadratic(A), x0, steps=200)
    assert bare.status == 2  # diverged
    opt = fosi(sgd(lr), lambda p, v: A @ v, k=KE, warmup=0, every=10**6, clip=1.0, alpha=1.0, momentum=0.0,
               num_lanczos=n, random_state=0)
    fo = steps_to(opt, A, x0, target)
    rest = slice(0, n - KE)
    assert abs(fo - max(1, predicted_steps(lr, LAM_E[rest], coef[rest], target))) <= 1
    gd = predicted_steps(1.0 / LAM_E[-1], LAM_E, coef, target)
    assert gd / fo == pytest.approx(LAM_E[-1] / LAM_E[n - KE - 1], rel=0.1)  # κ ratio 240/10


def test_indefinite_hessian_uses_absolute_eigenvalues():
    """With l > 0 on an indefinite quadratic the Newton part scales by 1/|λ| and so moves *away* from the
    saddle along negative curvature: f decreases, while 1/λ would climb towards the saddle."""
    spectrum = np.array([-8.0, -3.0, 0.5, 0.8, 1.0, 1.2, 1.5, 2.0, 40.0, 80.0])
    A, Q = spd(spectrum, seed=14)
    n = spectrum.shape[0]
    hvp = lambda p, v: A @ v  # noqa: E731
    opt = fosi(sgd(0.01), hvp, k=2, l=2, warmup=0, alpha=0.5, momentum=0.0, num_lanczos=n, random_state=0)
    x = Q @ np.ones(n)
    step, state = opt.update(A @ x, opt.init(x), x)
    np.testing.assert_allclose(np.sort(state.eigvals), spectrum[[0, 1, 8, 9]], rtol=1e-10)
    coef_step = Q.T @ step
    # along eigenvector j in V: −α (λ_j c_j)/|λ_j| = −α sign(λ_j) c_j
    np.testing.assert_allclose(coef_step[[0, 1]], [0.5, 0.5], rtol=1e-9)
    np.testing.assert_allclose(coef_step[[8, 9]], [-0.5, -0.5], rtol=1e-9)
    assert state.scale == pytest.approx(2.0)  # λ₁/λ_k = 80/40 over the top pairs only (not |λ| of the small)
    np.testing.assert_allclose(coef_step[2:8], -2.0 * 0.01 * spectrum[2:8], rtol=1e-9)
    f = quadratic(A)
    assert f(x + step)[0] < f(x)[0]
    # run on the indefinite quadratic: f keeps decreasing (unbounded below), the negative directions grow
    res = run(fosi(sgd(0.01), hvp, k=2, l=2, warmup=0, every=5, num_lanczos=n, random_state=0),
              quadratic(A), x, steps=40)
    assert np.all(np.diff(res.history["fun"]) < 0)
    assert np.all(np.abs(Q[:, :2].T @ res.x) > 1.0)


# ----------------------------------------------------------------------------- logistic regression


def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def make_logistic(power, reg, n=2000, d=50, seed=0):
    """Logistic regression with column j scaled by 1/j**power (an ill-conditioned Hessian)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) / np.arange(1, d + 1) ** power
    w = rng.standard_normal(d) * 2.0
    y = (rng.random(n) < sigmoid(X @ w + 0.5)).astype(np.float64)
    return Logistic(X, y, reg=reg), X, y


def best_base(problem, make, grid, steps):
    """The base's best full-batch loss after ``steps`` over a learning-rate grid, and that rate."""
    x0 = np.zeros(problem.dim)
    return min((run(make(lr), problem, x0, steps=steps).fun, lr) for lr in grid)


def fosi_steps(problem, base, target, steps, **kw):
    hvp = lambda w, v: problem.hvp(w, v)  # noqa: E731 (full batch)
    res = run(fosi(base, hvp, random_state=0, **kw), problem, np.zeros(problem.dim), steps=steps,
              callback=lambda r: r.fun <= target)
    return res.nit if res.fun <= target else None


HB_GRID = [1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0]
ADAM_GRID = [0.01, 0.03, 0.1, 0.2, 0.3, 0.5, 1.0]


@pytest.fixture(scope="module")
def logistic_1():
    """n = 2000, d = 50, columns / j, reg = 1e-4: κ(H) ≈ 1.2e3."""
    return make_logistic(1.0, 1e-4)


def test_logistic_problem_is_ill_conditioned_and_the_optimum_is_sklearns(logistic_1):
    problem, X, y = logistic_1
    H = problem.hvp(np.zeros(50), np.eye(50))
    ev = np.linalg.eigvalsh(0.5 * (H + H.T))
    assert ev[-1] / ev[0] > 1e3
    ref = LogisticRegression(C=1.0 / (1e-4 * 2000), solver="newton-cholesky", tol=1e-12, max_iter=1000,
                             fit_intercept=False).fit(X, y).coef_.ravel()
    hvp = lambda w, v: problem.hvp(w, v)  # noqa: E731
    res = run(fosi(heavy_ball(15.0), hvp, k=10, every=50, warmup=0, random_state=0), problem,
              np.zeros(50), steps=600, gtol=1e-10)
    assert res.success
    assert np.linalg.norm(res.x - ref) <= 1e-6 * np.linalg.norm(ref)


@pytest.mark.parametrize("N", [50, 100, 200])
def test_fosi_heavy_ball_beats_tuned_heavy_ball(logistic_1, N):
    """Target: the loss of heavy-ball with its best grid rate after N steps. FOSI-HB with the same
    rate and FOSI's defaults (α = 0.1, β = 0.9, c = 3; k = 10, an estimate every 50 steps from the
    start) gets there first: observed 40/50, 87/100, 186/200. The modest gain is heavy-ball's: with
    β = 0.9 and κ ≈ 1.2e3 (< ((1+√β)/(1−√β))² ≈ 1.4e3) tuned heavy-ball already converges at its
    best rate √β on every mode. With exact Newton on V (β = 0, α = 1, a full-batch choice):
    18/50, 67/100, 161/200."""
    problem, _, _ = logistic_1
    target, lr = best_base(problem, heavy_ball, HB_GRID, N)
    assert HB_GRID[0] < lr < HB_GRID[-1]  # the grid brackets the best rate
    steps = fosi_steps(problem, heavy_ball(lr), target, N, k=10, every=50, warmup=0)
    assert steps is not None and steps <= 0.95 * N
    steps = fosi_steps(problem, heavy_ball(lr), target, N, k=10, every=50, warmup=0, momentum=0.0, alpha=1.0)
    assert steps is not None and steps <= 0.85 * N


@pytest.mark.parametrize("N", [100, 200])
def test_fosi_heavy_ball_substantially_faster_when_worse_conditioned(N):
    """Columns / j^1.5, reg = 1e-5 (κ ≈ 2e4, beyond heavy-ball's β = 0.9 sweet spot): FOSI-HB with
    its defaults needs under half the steps (observed 38/100 and 73/200)."""
    problem, _, _ = make_logistic(1.5, 1e-5)
    grid = [*HB_GRID, 50.0, 100.0]
    target, lr = best_base(problem, heavy_ball, grid, N)
    assert grid[0] < lr < grid[-1]
    steps = fosi_steps(problem, heavy_ball(lr), target, N, k=10, every=50, warmup=0)
    assert steps is not None and steps <= 0.5 * N


@pytest.mark.parametrize("N", [50, 100, 200])
def test_fosi_adam_versus_tuned_adam(logistic_1, N):
    """FOSI-Adam with exact Newton on V (β = 0, α = 1) beats Adam at its best grid rate (observed
    29/50, 77/100, 182/200). With FOSI's defaults (α = 0.1, β = 0.9, c = 1) it does not reliably
    win on this problem (observed 40/50, 88/100 but 206/200: slower for the long run, as in the
    FOSI paper's own logistic-regression table), so only a bounded slowdown is asserted there."""
    problem, _, _ = logistic_1
    target, lr = best_base(problem, adam, ADAM_GRID, N)
    assert ADAM_GRID[0] < lr < ADAM_GRID[-1]
    steps = fosi_steps(problem, adam(lr), target, N, k=10, every=50, warmup=0, momentum=0.0, alpha=1.0)
    assert steps is not None and steps <= 0.95 * N
    default = fosi_steps(problem, adam(lr), target, 2 * N, k=10, every=50, warmup=0)
    assert default is not None and default <= 1.1 * N


# ----------------------------------------------------------------------------- validation


def _A10():
    A, _ = spd(np.logspace(0, 2, 10), seed=0)
    return A


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(k=-1), ValueError, "k must"),
    (dict(k=1.5), TypeError, "k must"),
    (dict(k=True), TypeError, "k must"),
    (dict(l=-1), ValueError, "l must"),
    (dict(l=2.0), TypeError, "l must"),
    (dict(k=0, l=0), ValueError, r"k \+ l"),
    (dict(alpha=0.0), ValueError, "alpha"),
    (dict(alpha=-0.1), ValueError, "alpha"),
    (dict(alpha=float("nan")), ValueError, "alpha"),
    (dict(alpha="0.1"), TypeError, "alpha"),
    (dict(every=0), ValueError, "every"),
    (dict(every=-3), ValueError, "every"),
    (dict(every=2.5), TypeError, "every"),
    (dict(warmup=-1), ValueError, "warmup"),
    (dict(warmup=1.5), TypeError, "warmup"),
    (dict(warmup=True), TypeError, "warmup"),
    (dict(clip=0.5), ValueError, "clip"),
    (dict(clip=0.0), ValueError, "clip"),
    (dict(clip=-2.0), ValueError, "clip"),
    (dict(clip=float("inf")), ValueError, "clip"),
    (dict(momentum=1.0), ValueError, "momentum"),
    (dict(momentum=-0.1), ValueError, "momentum"),
    (dict(momentum=1.5), ValueError, "momentum"),
    (dict(momentum="0.9"), TypeError, "momentum"),
    (dict(num_lanczos=3, k=2, l=1), ValueError, "num_lanczos"),
    (dict(num_lanczos=0), ValueError, "num_lanczos"),
    (dict(random_state="seed"), TypeError, "random_state"),
    (dict(random_state=-1), ValueError, "random_state"),
])
def test_argument_errors(kwargs, exc, match):
    A = _A10()
    with pytest.raises(exc, match=match):
        fosi(sgd(0.1), lambda p, v: A @ v, **kwargs)


def test_k_plus_l_must_be_below_the_dimension():
    A = _A10()
    for k, l in [(10, 0), (6, 4), (0, 10), (8, 5)]:  # noqa: E741
        opt = fosi(sgd(0.1), lambda p, v: A @ v, k=k, l=l)
        with pytest.raises(ValueError, match="number of parameters"):
            opt.init(np.ones(10))
    fosi(sgd(0.1), lambda p, v: A @ v, k=6, l=3).init(np.ones(10))  # k + l = 9 < 10 is fine


def test_hvp_and_base_must_be_usable():
    A = _A10()
    with pytest.raises(TypeError, match="hvp"):
        fosi(sgd(0.1), A)
    with pytest.raises(TypeError, match="hvp"):
        fosi(sgd(0.1), None)
    with pytest.raises(TypeError, match="base"):
        fosi(lambda g: g, lambda p, v: A @ v)
    with pytest.raises(TypeError, match="base"):
        fosi(object(), lambda p, v: A @ v)


@pytest.mark.parametrize("bad", [
    lambda A: (lambda p, v: np.ones(3)),
    lambda A: (lambda p, v: (A @ v)[:, None]),
    lambda A: (lambda p, v: list(A @ v)),
    lambda A: (lambda p, v: None),
    lambda A: (lambda p, v: float(v @ A @ v)),
])
def test_hvp_with_the_wrong_shape_is_named(bad):
    A = _A10()
    opt = fosi(sgd(0.1), bad(A), k=2, warmup=0)
    x = np.ones(10)
    with pytest.raises(ValueError, match=r"hvp must return an array of shape \(10,\)"):
        opt.update(A @ x, opt.init(x), x)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_hvp_returning_nan_is_named(value):
    A = _A10()
    opt = fosi(sgd(0.1), lambda p, v: np.full_like(v, value), k=2, warmup=0, random_state=0)
    x = np.ones(10)
    with pytest.raises(ValueError, match="hvp"):
        opt.update(A @ x, opt.init(x), x)


def test_update_needs_params_and_a_grad_of_the_right_shape():
    A = _A10()
    opt = fosi(sgd(0.1), lambda p, v: A @ v, k=2, warmup=0)
    x = np.ones(10)
    state = opt.init(x)
    with pytest.raises(ValueError, match="params"):
        opt.update(A @ x, state)
    with pytest.raises(ValueError, match="params"):
        opt.update(A @ x, state, None)
    with pytest.raises(ValueError, match="grad must have shape"):
        opt.update(np.ones(9), state, x)
    with pytest.raises(ValueError, match="params"):
        opt.init(np.ones((10, 1)))
    with pytest.raises(ValueError, match="floating"):
        opt.init(np.ones(10, dtype=np.int64))


# ----------------------------------------------------------------------------- reproducibility, state


def _run_fosi(seed, n=80, steps=40):
    A, _ = spd(np.logspace(0, 3, n), seed=15)
    opt = fosi(heavy_ball(1e-3), lambda p, v: A @ v, k=3, every=10, warmup=3, random_state=seed)
    return run(opt, quadratic(A), np.ones(n), steps=steps), opt, A


def test_same_random_state_same_run():
    (a, _, _), (b, _, _) = _run_fosi(7), _run_fosi(7)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.history["fun"], b.history["fun"])
    assert a.state.seed == b.state.seed and a.state.hvps == b.state.hvps
    np.testing.assert_array_equal(a.state.eigvecs, b.state.eigvecs)
    c, _, _ = _run_fosi(np.random.default_rng(7))
    assert c.state.seed == np.random.default_rng(7).integers(2**63)  # a Generator is used as given
    d, _, _ = _run_fosi(8)
    assert d.state.seed != a.state.seed
    assert not np.array_equal(d.x, a.x)  # the Lanczos start (m = 12 < n = 80) changes the estimate


def test_reinit_with_an_integer_random_state_is_reproducible():
    first, opt, A = _run_fosi(7)
    second = run(opt, quadratic(A), np.ones(80), steps=40)
    assert first.state.seed == second.state.seed
    np.testing.assert_array_equal(first.x, second.x)


def test_update_does_not_mutate_its_inputs():
    A, _ = spd(SPECTRUM, seed=16)
    opt = fosi(adam(0.05), lambda p, v: A @ v, k=2, l=1, every=2, warmup=1, num_lanczos=12, random_state=0)
    x = np.linspace(-1.0, 1.0, 12)
    state = opt.init(x)
    for _ in range(5):
        g = A @ x
        snapshot = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in state]
        base_snapshot = [np.array(a, copy=True) for a in state.base_state[1:]]
        g_copy, x_copy = g.copy(), x.copy()
        step, new = opt.update(g, state, x)
        assert new is not state and isinstance(new, FosiState)
        for before, after in zip(snapshot, state, strict=True):
            if isinstance(before, np.ndarray):
                np.testing.assert_array_equal(before, after)
            else:
                assert before == after or (before is None and after is None)
        for before, after in zip(base_snapshot, state.base_state[1:], strict=True):
            np.testing.assert_array_equal(before, after)
        np.testing.assert_array_equal(g, g_copy)
        np.testing.assert_array_equal(x, x_copy)
        assert new.count == state.count + 1
        # replaying an old state gives the same step (no hidden state in the closure)
        step_again, _ = opt.update(g, state, x)
        np.testing.assert_array_equal(step, step_again)
        state, x = new, x + step


@pytest.mark.parametrize("name", list(BASES))
def test_float32_is_kept(name):
    A, _ = spd(np.logspace(0, 2, 16), seed=17)
    A32 = A.astype(np.float32)
    x0 = np.ones(16, dtype=np.float32)
    opt = fosi(BASES[name](), lambda p, v: A32 @ v, k=3, every=5, warmup=2, random_state=0)
    res = run(opt, lambda x: (0.5 * float(x @ A32 @ x), A32 @ x), x0, steps=30)
    assert res.x.dtype == np.float32
    st = res.state
    assert st.eigvecs.dtype == st.eigvals.dtype == st.momentum.dtype == np.float32
    np.testing.assert_allclose(np.sort(st.eigvals), np.logspace(0, 2, 16)[-3:], rtol=1e-4)
    assert res.fun < res.history["fun"][0]
    step, _ = opt.update(A32 @ x0, opt.init(x0), x0)
    assert step.dtype == np.float32
    ref = run(fosi(BASES[name](), lambda p, v: A @ v, k=3, every=5, warmup=2, random_state=0),
              quadratic(A), x0.astype(np.float64), steps=30)
    np.testing.assert_allclose(res.x, ref.x, rtol=1e-3, atol=1e-4)


def test_array_api_strict_arrays():
    A, _ = spd(np.logspace(0, 2, 16), seed=18)
    Ax = xs.asarray(A)
    x0 = np.ones(16)
    kw = dict(k=3, l=1, every=6, warmup=2, random_state=0)
    ref = run(fosi(heavy_ball(5e-3), lambda p, v: A @ v, **kw), quadratic(A), x0, steps=25)
    res = run(fosi(heavy_ball(5e-3), lambda p, v: Ax @ v, **kw),
              lambda x: (xs.sum(x * (Ax @ x)) / 2, Ax @ x), xs.asarray(x0), steps=25)
    assert type(res.x) is type(xs.asarray(1.0)) and res.x.dtype == xs.float64
    assert type(res.state.eigvecs) is type(xs.asarray(1.0))
    np.testing.assert_allclose(np.asarray(res.x), ref.x, rtol=1e-10, atol=1e-12)
    assert res.state.hvps == ref.state.hvps


@pytest.mark.gpu
def test_cupy(cupy):
    cp = cupy
    A, _ = spd(np.logspace(0, 2, 16), seed=19)
    Ac = cp.asarray(A)
    # CuPy draws the Lanczos start on the device; a full basis (m = n) makes V independent of it
    kw = dict(k=3, every=6, warmup=2, num_lanczos=16, random_state=0)
    ref = run(fosi(heavy_ball(5e-3), lambda p, v: A @ v, **kw), quadratic(A), np.ones(16), steps=25)
    res = run(fosi(heavy_ball(5e-3), lambda p, v: Ac @ v, **kw), lambda x: (float(x @ Ac @ x) / 2, Ac @ x),
              cp.ones(16), steps=25)
    assert isinstance(res.x, cp.ndarray) and isinstance(res.state.eigvecs, cp.ndarray)
    np.testing.assert_allclose(cp.asnumpy(res.x), ref.x, rtol=1e-8, atol=1e-10)


def test_name_and_public_export():
    opt = fosi(heavy_ball(0.1), lambda p, v: v)
    assert opt.name == "fosi(heavy_ball)" and optim.fosi is fosi
