"""Tests of ``optim.nncg``, Nyström-preconditioned Newton-CG (SciPy custom-method protocol).

Covered: strictly convex quadratics (against ``np.linalg.solve``, with iteration and CG bounds and
the exact damped-Newton first step for a fixed and the 'auto' damping), the extended Rosenbrock
function of Moré, Garbow and Hillstrom and SciPy's chained ``rosen`` (against SciPy's Newton-CG),
a non-convex nonlinear least-squares fit (against SciPy's Newton-CG and ``least_squares``, with
exact and finite-difference Hessian products), saddle points and the non-descent fallback, the
SciPy protocol (``minimize(method=nncg)`` with options, ``tol``, ``jac=True``, ``hess``, no
``hessp``, ``args``, both callback styles, warnings and errors), the result fields and the
evaluation counts, every option and its validation, numerical trouble (NaN and wrong shapes from
each callable, a wrong gradient), float32, ``array_api_strict`` and block Hessian products,
hypothesis properties (random SPD quadratics; invariance to scaling ``f``), and (marked ``gpu``,
skipped without one) CuPy. ``test_regression_*`` pin bugs the first version of these tests found.
"""

import math

import array_api_strict as xs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import (
    OptimizeResult,
    OptimizeWarning,
    least_squares,
    minimize,
    rosen,
    rosen_der,
    rosen_hess_prod,
)

import optim.newton as newton_module
from optim import nncg
from rnla.krylov import pcg as real_pcg
from rnla.nystrom import nystrom as real_nystrom

RESULT_FIELDS = ("x", "fun", "jac", "nit", "nfev", "njev", "nhev", "status", "success", "message",
                 "cg_iterations", "preconditioner", "history")
HISTORY_KEYS = ("fun", "grad_norm", "time", "nhev")

# ----------------------------------------------------------------------------- helpers


def rel_err(x, ref):
    return float(np.linalg.norm(np.asarray(x) - ref) / max(np.linalg.norm(ref), 1e-300))


def spd(rng, n, kappa):
    """A random SPD matrix with eigenvalues log-spaced in [1, kappa]."""
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = (Q * np.logspace(0.0, np.log10(kappa), n)) @ Q.T
    return (A + A.T) / 2


def decaying_spd(rng, n):
    """SPD with a few large eigenvalues and a flat tail: 1e4/i² + 1 (κ = 1e4, tail κ ≈ 10 past rank 30)."""
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = (Q * (1e4 / np.arange(1, n + 1) ** 2 + 1.0)) @ Q.T
    return (A + A.T) / 2


def quadratic(A, b):
    """f = ½xᵀAx − bᵀx with its gradient and Hessian-vector product."""

    def f(x):
        return float(0.5 * x @ (A @ x) - b @ x)

    def g(x):
        return A @ x - b

    def hp(x, p):
        return A @ p

    return f, g, hp


class Counted:
    """A callable that counts its calls."""

    def __init__(self, func):
        self.func = func
        self.calls = 0

    def __call__(self, *a, **k):
        self.calls += 1
        return self.func(*a, **k)


def monotone(fun_history, rel=1e-13):
    """f never increases by more than rounding of f."""
    fh = np.asarray(fun_history)
    return bool(np.all(np.diff(fh) <= rel * np.maximum(1.0, np.abs(fh[:-1]))))


# Extended Rosenbrock (Moré, Garbow and Hillstrom 1981, problem 21):
# f = Σ_i 100 (x_{2i} − x_{2i−1}²)² + (1 − x_{2i−1})², start (−1.2, 1) repeated.


def ext_rosen(x):
    a, b = x[0::2], x[1::2]
    return float(np.sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2))


def ext_rosen_grad(x):
    a, b = x[0::2], x[1::2]
    out = np.empty_like(x)
    out[0::2] = -400.0 * a * (b - a * a) - 2.0 * (1.0 - a)
    out[1::2] = 200.0 * (b - a * a)
    return out


def ext_rosen_hessp(x, p):
    a, b = x[0::2], x[1::2]
    haa = 1200.0 * a * a - 400.0 * b + 2.0
    hab = -400.0 * a
    out = np.empty_like(p)
    out[0::2] = haa * p[0::2] + hab * p[1::2]
    out[1::2] = hab * p[0::2] + 200.0 * p[1::2]
    return out


def ext_rosen_x0(d):
    return np.tile([-1.2, 1.0], d // 2)


# A double-well saddle problem: f = Σ (x_i⁴ − 2x_i²) + Σ y_j² (+ C). The origin is a saddle
# (Hessian −4 on x, 2 on y); the minimisers have |x_i| = 1, y = 0 and f = −m.
SADDLE_M = 20


def saddle_f(z, offset=0.0):
    x, y = z[:SADDLE_M], z[SADDLE_M:]
    return float(offset + np.sum(x**4 - 2.0 * x**2) + np.sum(y**2))


def saddle_g(z, offset=0.0):
    x, y = z[:SADDLE_M], z[SADDLE_M:]
    return np.concatenate([4.0 * x**3 - 4.0 * x, 2.0 * y])


def saddle_hp(z, p, offset=0.0):
    x = z[:SADDLE_M]
    return np.concatenate([(12.0 * x**2 - 4.0) * p[:SADDLE_M], 2.0 * p[SADDLE_M:]])


def saddle_x0(seed, x_scale=1e-3, y_scale=0.0):
    rng = np.random.default_rng(seed)
    return np.concatenate([x_scale * rng.standard_normal(SADDLE_M), y_scale * rng.standard_normal(SADDLE_M)])


def at_saddle_minimiser(z, tol=1e-8):
    return bool(np.all(np.abs(np.abs(z[:SADDLE_M]) - 1.0) <= tol) and np.all(np.abs(z[SADDLE_M:]) <= tol))


# Nonlinear least squares: fit a·exp(−b t) + c·sin(w t) (non-convex in (b, w)).
NLS_T = np.linspace(0.0, 4.0, 60)
NLS_TRUE = np.array([2.0, 1.3, 0.5, 3.0])
NLS_P0 = np.array([1.0, 0.5, 1.0, 2.6])


def nls_model(p):
    a, b, c, w = p
    return a * np.exp(-b * NLS_T) + c * np.sin(w * NLS_T)


NLS_Y = nls_model(NLS_TRUE) + 0.02 * np.random.default_rng(3).standard_normal(NLS_T.size)


def nls_res(p):
    return nls_model(p) - NLS_Y


def nls_jac(p):
    a, b, c, w = p
    e = np.exp(-b * NLS_T)
    return np.stack([e, -a * NLS_T * e, np.sin(w * NLS_T), c * NLS_T * np.cos(w * NLS_T)], axis=1)


def nls_f(p):
    r = nls_res(p)
    return 0.5 * float(r @ r)


def nls_g(p):
    return nls_jac(p).T @ nls_res(p)


def nls_hess(p):
    """Exact Hessian JᵀJ + Σ r_i ∇²r_i (no Gauss-Newton approximation)."""
    a, b, c, w = p
    t = NLS_T
    e = np.exp(-b * t)
    r = nls_res(p)
    J = nls_jac(p)
    S = np.zeros((4, 4))
    S[0, 1] = S[1, 0] = np.sum(r * (-t * e))
    S[1, 1] = np.sum(r * (a * t * t * e))
    S[2, 3] = S[3, 2] = np.sum(r * (t * np.cos(w * t)))
    S[3, 3] = np.sum(r * (-c * t * t * np.sin(w * t)))
    return J.T @ J + S


def nls_hessp(p, v):
    return nls_hess(p) @ v


@pytest.fixture(scope="module")
def quad50():
    """A 50-dimensional SPD quadratic (κ = 1e3) and its solution."""
    rng = np.random.default_rng(7)
    A = spd(rng, 50, 1e3)
    b = rng.standard_normal(50)
    return A, b, np.linalg.solve(A, b)


# ----------------------------------------------------------------------------- convex quadratics


@pytest.mark.parametrize(("n", "kappa", "seed"), [(100, 1e2, 0), (200, 1e3, 1), (300, 1e4, 2)])
def test_quadratic_converges_in_a_handful_of_iterations(n, kappa, seed):
    rng = np.random.default_rng(seed)
    A = spd(rng, n, kappa)
    b = rng.standard_normal(n)
    f, g, hp = quadratic(A, b)
    res = nncg(f, np.zeros(n), jac=g, hessp=hp, gtol=1e-10, random_state=0)
    assert res.status == 0 and res.success, res.message
    assert res.nit <= 15
    assert rel_err(res.x, np.linalg.solve(A, b)) <= 1e-10
    assert np.linalg.norm(res.jac) <= 1e-10
    assert monotone(res.history["fun"])


def test_quadratic_preconditioner_pays_off():
    """A spectrum with 30 dominant eigenvalues: the rank-30 Nyström preconditioner collapses the
    CG work (plain CG, rank 1, needs several times as many iterations)."""
    rng = np.random.default_rng(11)
    n = 200
    A = decaying_spd(rng, n)
    b = rng.standard_normal(n)
    f, g, hp = quadratic(A, b)
    res = nncg(f, np.zeros(n), jac=g, hessp=hp, gtol=1e-9, random_state=0)
    weak = nncg(f, np.zeros(n), jac=g, hessp=hp, gtol=1e-9, rank=1, random_state=0)
    assert res.success and weak.success
    assert rel_err(res.x, np.linalg.solve(A, b)) <= 1e-10
    assert res.nit <= 15
    assert res.cg_iterations <= 100  # 67 on this seed
    assert res.nhev <= 160  # 123: one rank-30 sketch, CG products and warm starts
    assert weak.cg_iterations >= 2.5 * res.cg_iterations
    assert isinstance(res.preconditioner, newton_module.NystromPreconditioner)
    assert res.preconditioner.rank == 30


@pytest.mark.parametrize("mu", [5.0, 0.0, "auto"])
def test_first_step_is_the_damped_newton_step(mu):
    """With a tight CG tolerance, one iteration from 0 on ½xᵀAx − bᵀx lands on (A + μI)⁻¹b (Armijo
    accepts t = 1); 'auto' is μ₀ = 1e-3·λ̂₁ with the exact λ̂₁ = λ_max when rank = n."""
    rng = np.random.default_rng(3)
    n = 40
    A = spd(rng, n, 1e2)
    b = rng.standard_normal(n)
    f, g, hp = quadratic(A, b)
    res = nncg(f, np.zeros(n), jac=g, hessp=hp, mu=mu, rank=n, cg_rtol=1e-13, maxiter=1, gtol=0.0,
               random_state=0)
    mu0 = 1e-3 * np.linalg.eigvalsh(A)[-1] if mu == "auto" else mu
    assert res.nit == 1 and res.status == 1
    # (μ = 0 is floored at ~1.5e-11·λ̂₁, a relative change of ~1e-9 here)
    assert rel_err(res.x, np.linalg.solve(A + mu0 * np.eye(n), b)) <= 1e-8


def test_auto_mu_vanishes_near_the_minimum(quad50):
    """The 'auto' damping shrinks with the gradient: Newton's fast local rate. A fixed damping of
    the same initial size converges only linearly and needs far more iterations."""
    A, b, xstar = quad50
    f, g, hp = quadratic(A, b)
    auto = nncg(f, np.zeros(50), jac=g, hessp=hp, gtol=1e-10, random_state=0)
    fixed = nncg(f, np.zeros(50), jac=g, hessp=hp, gtol=1e-10, mu=1e-3 * np.linalg.eigvalsh(A)[-1],
                 random_state=0)
    assert auto.success and fixed.success
    assert rel_err(auto.x, xstar) <= 1e-10 and rel_err(fixed.x, xstar) <= 1e-9
    assert auto.nit <= 10
    assert fixed.nit >= auto.nit + 3


def test_large_fixed_mu_behaves_like_gradient_descent(quad50):
    A, b, _ = quad50
    f, g, hp = quadratic(A, b)
    res = nncg(f, np.zeros(50), jac=g, hessp=hp, mu=1e4, maxiter=20, random_state=0)
    assert res.status == 1
    assert np.linalg.norm(res.jac) > 0.5 * np.linalg.norm(b)  # barely moved: steps of size ‖g‖/1e4


@settings(max_examples=40)
@given(n=st.integers(2, 12), log_kappa=st.floats(0.0, 4.0), seed=st.integers(0, 2**31 - 1))
def test_property_random_spd_quadratic_matches_solve(n, log_kappa, seed):
    rng = np.random.default_rng(seed)
    A = spd(rng, n, 10.0**log_kappa)
    b = rng.standard_normal(n)
    f, g, hp = quadratic(A, b)
    x0 = rng.standard_normal(n)
    res = nncg(f, x0, jac=g, hessp=hp, gtol=1e-11, random_state=seed)
    xstar = np.linalg.solve(A, b)
    assert res.status == 0, res.message
    assert res.nit <= 15
    assert np.linalg.norm(res.x - xstar) <= 1e-9 * (1.0 + np.linalg.norm(xstar))
    assert monotone(res.history["fun"])


@settings(max_examples=15)
@given(k=st.integers(-10, 10), seed=st.integers(0, 2**31 - 1))
def test_property_minimiser_invariant_to_scaling_f(k, seed):
    """Scaling f (and gtol) by 4^k leaves the iterates unchanged: the damping, the forcing term
    and the line search are all relative."""
    c = 4.0**k
    rng = np.random.default_rng(seed)
    x0 = rng.uniform(-2.0, 2.0, 8)
    ref = nncg(rosen, x0, jac=rosen_der, hessp=rosen_hess_prod, gtol=1e-9, random_state=1)
    res = nncg(lambda x: c * rosen(x), x0, jac=lambda x: c * rosen_der(x),
               hessp=lambda x, p: c * rosen_hess_prod(x, p), gtol=1e-9 * c, random_state=1)
    assert ref.status == 0 and res.status == 0
    assert abs(res.nit - ref.nit) <= 1
    assert np.allclose(res.x, ref.x, rtol=0, atol=1e-8)


# ----------------------------------------------------------------------------- Rosenbrock


def test_extended_rosenbrock_d1000_matches_scipy_newton_cg():
    d = 1000
    x0 = ext_rosen_x0(d)
    res = nncg(ext_rosen, x0, jac=ext_rosen_grad, hessp=ext_rosen_hessp, gtol=1e-8, random_state=0)
    assert res.status == 0, res.message
    assert np.linalg.norm(res.jac) <= 1e-8
    assert np.linalg.norm(ext_rosen_grad(res.x)) <= 1e-8
    assert np.max(np.abs(res.x - 1.0)) <= 1e-8
    assert res.fun <= 1e-16
    assert res.nit <= 60
    assert res.nhev <= 600
    assert monotone(res.history["fun"])
    ref = minimize(ext_rosen, x0, jac=ext_rosen_grad, hessp=ext_rosen_hessp, method="Newton-CG",
                   options={"xtol": 1e-12})
    assert ref.success
    assert np.max(np.abs(res.x - ref.x)) <= 1e-7


def test_scipy_rosen_d1000_through_minimize():
    res = minimize(rosen, np.full(1000, 0.5), jac=rosen_der, hessp=rosen_hess_prod, method=nncg,
                   options={"gtol": 1e-8, "random_state": 0})
    assert res.status == 0 and res.success, res.message
    assert np.linalg.norm(rosen_der(res.x)) <= 1e-8
    assert np.max(np.abs(res.x - 1.0)) <= 1e-8
    assert res.nit <= 80
    assert res.nhev <= 1000
    assert monotone(res.history["fun"])


def test_rosenbrock_with_preconditioner_refresh_counts(monkeypatch):
    """The sketch is redrawn at iterations 0, F, 2F, ...: ⌈nit/F⌉ sketches of `rank` products each."""
    calls = []

    def spy(H, rank, **kwargs):
        calls.append(rank)
        return real_nystrom(H, rank, **kwargs)

    monkeypatch.setattr(newton_module, "nystrom", spy)
    x0 = ext_rosen_x0(100)
    for every in (1, 3, 20, 1000):
        calls.clear()
        res = nncg(ext_rosen, x0, jac=ext_rosen_grad, hessp=ext_rosen_hessp, gtol=1e-8, rank=7,
                   precond_every=every, random_state=0)
        assert res.status == 0, res.message
        assert len(calls) == math.ceil(res.nit / every)
        assert set(calls) == {7}
        assert res.nhev >= 7 * len(calls) + res.cg_iterations


# ----------------------------------------------------------------------------- nonlinear least squares


@pytest.mark.parametrize("hessp", [nls_hessp, None], ids=["exact-hessp", "finite-difference"])
def test_nonlinear_least_squares_matches_references(hessp):
    res = nncg(nls_f, NLS_P0, jac=nls_g, hessp=hessp, gtol=1e-8, random_state=0)
    assert res.status == 0, res.message
    assert np.linalg.norm(nls_g(res.x)) <= 1e-8
    assert res.nit <= 20
    assert monotone(res.history["fun"])
    ref = minimize(nls_f, NLS_P0, jac=nls_g, hessp=nls_hessp, method="Newton-CG", options={"xtol": 1e-14})
    ls = least_squares(nls_res, NLS_P0, jac=nls_jac, xtol=1e-15, ftol=1e-15, gtol=1e-15)
    assert np.allclose(res.x, ref.x, rtol=0, atol=1e-7)
    assert np.allclose(res.x, ls.x, rtol=0, atol=1e-7)
    assert abs(res.fun - ls.cost) <= 1e-12  # least_squares cost is ½‖r‖², our f
    # The exact Hessian at the solution is positive definite: a strict local minimum.
    assert np.linalg.eigvalsh(nls_hess(res.x))[0] > 0


def test_nonlinear_least_squares_dense_hess_matches_hessp():
    a = nncg(nls_f, NLS_P0, jac=nls_g, hessp=nls_hessp, gtol=1e-8, random_state=0)
    b = nncg(nls_f, NLS_P0, jac=nls_g, hess=nls_hess, gtol=1e-8, random_state=0)
    assert a.success and b.success
    assert np.allclose(a.x, b.x, rtol=0, atol=1e-10)
    assert a.nit == b.nit


def test_nls_hessian_is_indefinite_somewhere_on_the_path():
    """Sanity of the problem: it is genuinely non-convex (indefinite exact Hessian at some points)."""
    assert np.linalg.eigvalsh(nls_hess(np.array([2.0, 1.3, 3.0, 6.0])))[0] < 0
    # and our analytic Hessian product agrees with a central difference of the gradient
    rng = np.random.default_rng(0)
    p, v = rng.standard_normal(4), rng.standard_normal(4)
    h = 1e-6
    fd = (nls_g(p + h * v) - nls_g(p - h * v)) / (2 * h)
    assert np.allclose(fd, nls_hessp(p, v), rtol=1e-6, atol=1e-6)


# ----------------------------------------------------------------------------- non-convex behaviour


def test_escapes_saddle_through_the_gradient_fallback(monkeypatch):
    """Started next to the saddle at 0 (Hessian indefinite), CG meets negative curvature at once,
    the direction built so far is 0 (no descent) and the scaled gradient replaces it; NNCG decreases
    f monotonically and converges to a minimiser, not the saddle."""
    solves = []

    def spy(A, b, **kwargs):
        out = real_pcg(A, b, **kwargs)
        solves.append((out[1], float(out[0] @ b)))
        return out

    monkeypatch.setattr(newton_module, "pcg", spy)
    z0 = saddle_x0(0)
    H0 = np.stack([saddle_hp(z0, e) for e in np.eye(2 * SADDLE_M)])
    assert np.linalg.eigvalsh(H0)[0] < 0 < np.linalg.eigvalsh(H0)[-1]
    iterates = []
    res = nncg(saddle_f, z0, jac=saddle_g, hessp=saddle_hp, gtol=1e-10, random_state=0,
               callback=lambda xk: iterates.append(xk))
    assert res.status == 0, res.message
    assert at_saddle_minimiser(res.x)
    assert res.fun == pytest.approx(-SADDLE_M, abs=1e-12)
    assert monotone(res.history["fun"])
    assert res.history["fun"][1] < res.history["fun"][0]
    assert res.nit <= 40
    # The fallback path ran: CG broke down on negative curvature with no descent direction.
    assert solves[0][0] == -1 and solves[0][1] <= 0.0
    # ... and the step is the gradient scaled by 1/(λ̂₁ + μ), λ̂₁ ~ ‖H‖ in [2, 4] here: it moves
    # along −∇f by between ‖∇f‖/4 and ‖∇f‖/2, not by the whole gradient.
    g0 = saddle_g(z0)
    step = z0 - iterates[0]
    assert np.allclose(step / np.linalg.norm(step), g0 / np.linalg.norm(g0), rtol=0, atol=1e-12)
    assert 0.2 * np.linalg.norm(g0) <= np.linalg.norm(step) <= 0.55 * np.linalg.norm(g0)
    assert res.nhev <= 1000


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_saddle_start_from_other_seeds(seed):
    res = nncg(saddle_f, saddle_x0(seed), jac=saddle_g, hessp=saddle_hp, gtol=1e-10, random_state=0)
    assert res.status == 0, res.message
    assert at_saddle_minimiser(res.x)
    assert monotone(res.history["fun"])


def test_rosenbrock_from_indefinite_region_meets_negative_curvature(monkeypatch):
    """From (−0.5, 1) repeated the Hessian is indefinite (1200a² − 400b + 2 < 0): CG stops on negative
    curvature along the way, yet f decreases monotonically to the minimiser at 1."""
    infos = []

    def spy(A, b, **kwargs):
        out = real_pcg(A, b, **kwargs)
        infos.append(out[1])
        return out

    monkeypatch.setattr(newton_module, "pcg", spy)
    x0 = np.tile([-0.5, 1.0], 50)
    a, b = x0[0], x0[1]
    assert 1200 * a * a - 400 * b + 2 < 0
    res = nncg(ext_rosen, x0, jac=ext_rosen_grad, hessp=ext_rosen_hessp, gtol=1e-8, random_state=0)
    assert res.status == 0, res.message
    assert np.max(np.abs(res.x - 1.0)) <= 1e-8
    assert monotone(res.history["fun"])
    assert -1 in infos


def test_indefinite_sketch_drops_preconditioner_and_warm_start(monkeypatch):
    """A Hessian that the sketch shows to be indefinite gets no preconditioner (not the stale one of
    the previous refresh), and the previous direction, along which it now curves down, is not used
    as a warm start (which would start CG worse than zero)."""
    n = 20
    A = np.diag(np.arange(1.0, n + 1))
    b = np.ones(n)
    b[0] = 10.0
    f, g, _ = quadratic(A, b)
    B = A.copy()
    B[0, 0] = -1000.0  # the "Hessian" away from x0: strongly indefinite along the first step

    def hp(x, p):
        return A @ p if np.all(x == 0) else B @ p

    starts = []
    real_start = newton_module._warm_start

    def spy(A_, d, g, xp):
        out = real_start(A_, d, g, xp)
        if d is not None:  # the Newton model's value at the start (0 at zero)
            starts.append(None if out is None else 0.5 * out[0] @ out[1] - g @ out[0])
        return out

    monkeypatch.setattr(newton_module, "_warm_start", spy)
    res = nncg(f, np.zeros(n), jac=g, hessp=hp, precond_every=1, rank=n, maxiter=2, random_state=0)
    assert res.nit == 2 and res.status == 1
    assert res.preconditioner is None
    assert len(starts) == 1 and starts[0] is None
    # with the true (PD) Hessian the warm start is used and never worse than starting from zero
    starts.clear()
    res = nncg(f, np.zeros(n), jac=g, hessp=lambda x, p: A @ p, rank=5, gtol=1e-10, random_state=0)
    assert res.success and isinstance(res.preconditioner, newton_module.NystromPreconditioner)
    assert any(q is not None for q in starts)
    assert all(q is None or q <= 0 for q in starts)


def test_regression_saddle_with_warm_start_stalls():
    z0 = saddle_x0(0, x_scale=1e-3, y_scale=0.1)
    res = nncg(saddle_f, z0, jac=saddle_g, hessp=saddle_hp, gtol=1e-10, random_state=0)
    assert res.status == 0, res.message
    assert at_saddle_minimiser(res.x)


def test_regression_constant_offset_breaks_saddle_escape():
    z0 = saddle_x0(0)
    ref = nncg(saddle_f, z0, jac=saddle_g, hessp=saddle_hp, gtol=1e-8, random_state=0)
    assert ref.status == 0 and at_saddle_minimiser(ref.x)
    res = nncg(saddle_f, z0, args=(1e9,), jac=saddle_g, hessp=saddle_hp, gtol=1e-8, random_state=0)
    assert res.status == 0, res.message
    assert at_saddle_minimiser(res.x)


def test_nan_outside_domain_is_backtracked_without_warnings():
    """f = Σ (x − log x) is NaN for x <= 0; the full Newton step from x = 3 overshoots into x < 0 and
    the line search backs off (no RuntimeWarning escapes: pytest turns them into errors)."""

    def f(x):
        return float(np.sum(x - np.log(x)))

    def g(x):
        return 1.0 - 1.0 / x

    def hp(x, p):
        return p / x**2

    res = nncg(f, np.full(5, 3.0), jac=g, hessp=hp, gtol=1e-12, random_state=0)
    assert res.status == 0, res.message
    assert np.allclose(res.x, 1.0, rtol=0, atol=1e-12)
    assert res.nfev > res.nit + 1  # some backtracking happened
    assert monotone(res.history["fun"])


# ----------------------------------------------------------------------------- SciPy protocol


def test_minimize_result_fields_and_exact_counts(quad50):
    A, b, xstar = quad50
    f, g, hp = quadratic(A, b)
    cf, cg, ch = Counted(f), Counted(g), Counted(hp)
    res = minimize(cf, np.zeros(50), jac=cg, hessp=ch, method=nncg,
                   options={"gtol": 1e-10, "random_state": 0})
    assert isinstance(res, OptimizeResult)
    for key in RESULT_FIELDS:
        assert key in res, key
    assert res.success is True and res.status == 0
    assert res.message == newton_module.STATUS_MESSAGES[0]
    assert rel_err(res.x, xstar) <= 1e-10
    assert res.fun == pytest.approx(f(res.x), rel=1e-14)
    assert np.array_equal(res.jac, g(res.x))
    assert (res.nfev, res.njev, res.nhev) == (cf.calls, cg.calls, ch.calls)
    assert res.nhev >= res.cg_iterations > 0
    assert set(res.history) >= set(HISTORY_KEYS)
    for key in HISTORY_KEYS:
        assert len(res.history[key]) == res.nit + 1
    h = res.history
    assert h["fun"][0] == pytest.approx(f(np.zeros(50))) and h["fun"][-1] == res.fun
    assert h["grad_norm"][-1] == pytest.approx(np.linalg.norm(res.jac))
    assert h["grad_norm"][0] == pytest.approx(np.linalg.norm(b))
    assert h["nhev"][0] == 0 and h["nhev"][-1] == res.nhev and np.all(np.diff(h["nhev"]) > 0)
    assert np.all(np.diff(h["time"]) >= 0)


def test_direct_call_counts_match_calls_on_rosenbrock():
    cf, cg, ch = Counted(rosen), Counted(rosen_der), Counted(rosen_hess_prod)
    res = nncg(cf, np.zeros(40), jac=cg, hessp=ch, random_state=0)
    assert res.success
    assert (res.nfev, res.njev, res.nhev) == (cf.calls, cg.calls, ch.calls)
    # One gradient per accepted point, plus one per backtrack judged by the gradient (rounding).
    assert res.nit + 1 <= res.njev <= 2 * (res.nit + 1)
    assert res.nfev >= res.nit + 1


def test_options_reach_the_solver():
    x0 = np.zeros(30)
    res = minimize(rosen, x0, jac=rosen_der, hessp=rosen_hess_prod, method=nncg,
                   options={"maxiter": 3, "rank": 5, "random_state": 0})
    assert res.nit == 3 and res.status == 1 and not res.success
    assert res.preconditioner.rank <= 5


@pytest.mark.parametrize("via_minimize", [True, False])
def test_tol_sets_gtol(via_minimize):
    x0 = np.zeros(30)
    kw = {"jac": rosen_der, "hessp": rosen_hess_prod}
    if via_minimize:
        loose = minimize(rosen, x0, method=nncg, tol=1e-2, options={"random_state": 0}, **kw)
        tight = minimize(rosen, x0, method=nncg, tol=1e-11, options={"random_state": 0}, **kw)
    else:
        loose = nncg(rosen, x0, tol=1e-2, random_state=0, **kw)
        tight = nncg(rosen, x0, tol=1e-11, random_state=0, **kw)
    assert loose.success and tight.success
    assert 1e-11 < np.linalg.norm(loose.jac) <= 1e-2
    assert np.linalg.norm(tight.jac) <= 1e-11
    assert loose.nit < tight.nit


def test_gtol_option():
    x0 = np.zeros(30)
    runs = [nncg(rosen, x0, jac=rosen_der, hessp=rosen_hess_prod, gtol=gtol, random_state=0)
            for gtol in (1e-1, 1e-5, 1e-12)]
    for res, gtol in zip(runs, (1e-1, 1e-5, 1e-12), strict=True):
        assert res.success and np.linalg.norm(res.jac) <= gtol
        assert res.history["grad_norm"][-2] > gtol  # stopped at the first iterate below gtol
    assert runs[0].nit < runs[1].nit < runs[2].nit


def test_gtol_met_at_x0_does_no_work():
    ch = Counted(rosen_hess_prod)
    res = nncg(rosen, np.ones(10), jac=rosen_der, hessp=ch, random_state=0)
    assert res.status == 0 and res.nit == 0 and ch.calls == 0 and res.nhev == 0
    assert np.array_equal(res.x, np.ones(10))


def test_jac_true_with_finite_difference_products(quad50):
    """jac=True and no hessp: the central differences must see the gradient at the shifted points
    (not the cached one), so the run is the same as with a separate jac."""
    A, b, xstar = quad50
    f, g, _ = quadratic(A, b)
    res = nncg(lambda x: (f(x), g(x)), np.zeros(50), jac=True, gtol=1e-9, random_state=0)
    ref = nncg(f, np.zeros(50), jac=g, gtol=1e-9, random_state=0)
    assert res.success and ref.success
    assert rel_err(res.x, xstar) <= 1e-9
    assert res.nit == ref.nit and res.nhev == ref.nhev
    assert np.allclose(res.x, ref.x, rtol=0, atol=1e-12)


@pytest.mark.parametrize("via_minimize", [True, False])
def test_jac_true(via_minimize, quad50):
    A, b, xstar = quad50
    f, g, hp = quadratic(A, b)
    cfg = Counted(lambda x: (f(x), g(x)))
    if via_minimize:
        res = minimize(cfg, np.zeros(50), jac=True, hessp=hp, method=nncg, options={"random_state": 0},
                       tol=1e-10)
    else:
        res = nncg(cfg, np.zeros(50), jac=True, hessp=hp, random_state=0, gtol=1e-10)
    ref = nncg(f, np.zeros(50), jac=g, hessp=hp, random_state=0, gtol=1e-10)
    assert res.success
    assert rel_err(res.x, xstar) <= 1e-10
    assert np.allclose(res.x, ref.x, rtol=0, atol=1e-12) and res.nit == ref.nit
    assert cfg.calls == ref.nfev  # the value call's gradient is reused, not recomputed


def test_dense_hess_is_evaluated_once_per_iteration(quad50):
    A, b, xstar = quad50
    f, g, _ = quadratic(A, b)
    hess = Counted(lambda x: A)
    res = minimize(f, np.zeros(50), jac=g, hess=hess, method=nncg, options={"gtol": 1e-10, "random_state": 0})
    assert res.success and rel_err(res.x, xstar) <= 1e-10
    assert hess.calls == res.nit
    assert res.nhev > 0


def test_dense_hess_wrong_shape_raises(quad50):
    A, b, _ = quad50
    f, g, _ = quadratic(A, b)
    with pytest.raises(ValueError, match=r"hess.*\(50, 50\)"):
        nncg(f, np.zeros(50), jac=g, hess=lambda x: A[:-1])


@pytest.mark.parametrize("via_minimize", [True, False])
def test_finite_difference_hessp(via_minimize):
    cg = Counted(rosen_der)
    x0 = np.zeros(20)
    if via_minimize:
        res = minimize(rosen, x0, jac=cg, method=nncg, options={"gtol": 1e-8, "random_state": 0})
    else:
        res = nncg(rosen, x0, jac=cg, gtol=1e-8, random_state=0)
    ref = nncg(rosen, x0, jac=rosen_der, hessp=rosen_hess_prod, gtol=1e-8, random_state=0)
    assert res.success and ref.success
    assert np.max(np.abs(res.x - 1.0)) <= 1e-8
    assert res.nhev > 0
    # central differences: two gradients per product, all counted in njev
    assert cg.calls == res.njev
    assert cg.calls - 2 * res.nhev >= res.nit + 1
    # Finite-difference products differ from exact ones at ~1e-8: on Rosenbrock the trajectory
    # moves with rounding-level changes of the preconditioner (64 or 67 against 62 iterations).
    assert abs(res.nit - ref.nit) <= 0.1 * ref.nit


def test_regression_njev_counts_every_jac_call_with_finite_differences():
    cg = Counted(rosen_der)
    res = minimize(rosen, np.zeros(4), jac=cg, method=nncg, options={"random_state": 0})
    assert res.njev == cg.calls


def test_args_reach_every_callable():
    A = np.diag(np.arange(1.0, 11.0))
    b = np.ones(10)
    seen = set()

    def f(x, A_, b_):
        assert A_ is A and b_ is b
        seen.add("fun")
        return float(0.5 * x @ A_ @ x - b_ @ x)

    def g(x, A_, b_):
        assert A_ is A and b_ is b
        seen.add("jac")
        return A_ @ x - b_

    def hp(x, p, A_, b_):
        assert A_ is A and b_ is b
        seen.add("hessp")
        return A_ @ p

    def hess(x, A_, b_):
        assert A_ is A and b_ is b
        seen.add("hess")
        return A_

    def fg(x, A_, b_):
        seen.add("fg")
        return f(x, A_, b_), g(x, A_, b_)

    xstar = b / np.arange(1.0, 11.0)
    for kw in ({"jac": g, "hessp": hp}, {"jac": g, "hess": hess}, {"jac": g}, {"jac": True}):
        fun = fg if kw["jac"] is True else f
        res = minimize(fun, np.zeros(10), args=(A, b), method=nncg,
                       options={"gtol": 1e-10, "random_state": 0}, **kw)
        assert res.success and np.allclose(res.x, xstar, rtol=0, atol=1e-10)
        res = nncg(fun, np.zeros(10), args=(A, b), gtol=1e-10, random_state=0, **kw)
        assert res.success and np.allclose(res.x, xstar, rtol=0, atol=1e-10)
    assert seen == {"fun", "jac", "hessp", "hess", "fg"}


def test_callback_scipy_x_style_is_called_and_can_stop():
    seen = []
    res = minimize(rosen, np.zeros(10), jac=rosen_der, hessp=rosen_hess_prod, method=nncg,
                   callback=lambda xk: seen.append(xk), options={"random_state": 0})
    assert res.success
    assert res.nit - 1 <= len(seen) <= res.nit


def test_regression_callback_scipy_x_style_gets_the_iterate():
    seen = []
    res = minimize(rosen, np.zeros(10), jac=rosen_der, hessp=rosen_hess_prod, method=nncg,
                   callback=lambda xk: seen.append(xk), options={"random_state": 0})
    assert res.success and seen
    assert all(isinstance(x, np.ndarray) and x.shape == (10,) for x in seen)
    assert np.allclose([rosen(x) for x in seen], res.history["fun"][1:len(seen) + 1], rtol=1e-14)


def test_callback_scipy_intermediate_result_style():
    seen = []

    def cb(intermediate_result):
        seen.append(intermediate_result)

    res = minimize(rosen, np.zeros(10), jac=rosen_der, hessp=rosen_hess_prod, method=nncg, callback=cb,
                   options={"random_state": 0})
    assert res.success
    assert res.nit - 1 <= len(seen) <= res.nit
    assert all(isinstance(r, OptimizeResult) for r in seen)
    assert [r.nit for r in seen] == list(range(1, len(seen) + 1))
    assert all(r.fun == pytest.approx(rosen(r.x), rel=1e-14) for r in seen)
    assert all(np.allclose(r.jac, rosen_der(r.x)) for r in seen)


@pytest.mark.parametrize("style", ["x", "intermediate_result", "direct-true", "direct-stopiteration"])
def test_callback_stops_the_run(style):
    stop_at = 3
    count = [0]

    def tick():
        count[0] += 1
        return count[0] >= stop_at

    x0 = np.zeros(20)
    kw = {"jac": rosen_der, "hessp": rosen_hess_prod}
    if style == "x":
        def cb(xk):
            if tick():
                raise StopIteration

        res = minimize(rosen, x0, method=nncg, callback=cb, options={"random_state": 0}, **kw)
    elif style == "intermediate_result":
        def cb(intermediate_result):
            if tick():
                raise StopIteration

        res = minimize(rosen, x0, method=nncg, callback=cb, options={"random_state": 0}, **kw)
    elif style == "direct-true":
        res = nncg(rosen, x0, callback=lambda r: tick(), random_state=0, **kw)
    else:
        def cb(r):
            if tick():
                raise StopIteration

        res = nncg(rosen, x0, callback=cb, random_state=0, **kw)
    assert res.status == 99 and not res.success
    assert res.nit == stop_at
    assert len(res.history["fun"]) == stop_at + 1
    assert np.isfinite(res.x).all()


def test_regression_callback_called_after_every_iteration():
    seen = []
    res = minimize(rosen, np.zeros(4), jac=rosen_der, hessp=rosen_hess_prod, method=nncg,
                   callback=lambda xk: seen.append(xk), options={"random_state": 0})
    assert res.success
    assert len(seen) == res.nit


def test_unknown_option_warns():
    with pytest.warns(OptimizeWarning, match="foo"):
        res = minimize(rosen, np.zeros(5), jac=rosen_der, hessp=rosen_hess_prod, method=nncg,
                       options={"foo": 1, "random_state": 0})
    assert res.success
    with pytest.warns(OptimizeWarning, match="bar"):
        nncg(rosen, np.zeros(5), jac=rosen_der, bar=2, maxiter=1)


def test_bounds_and_constraints_raise():
    kw = {"jac": rosen_der, "hessp": rosen_hess_prod, "method": nncg}
    with pytest.raises(ValueError, match="bounds"):
        minimize(rosen, np.zeros(5), bounds=[(0, 1)] * 5, **kw)
    with pytest.raises(ValueError, match="constraints"):
        minimize(rosen, np.zeros(5), constraints={"type": "eq", "fun": lambda x: x[0]}, **kw)
    with pytest.raises(ValueError, match="bounds"):
        nncg(rosen, np.zeros(5), jac=rosen_der, bounds=[(0, 1)] * 5)


def test_missing_jac_raises():
    with pytest.raises(ValueError, match="jac"):
        minimize(rosen, np.zeros(5), hessp=rosen_hess_prod, method=nncg)
    with pytest.raises(ValueError, match="jac"):
        nncg(rosen, np.zeros(5), jac=None)
    with pytest.raises(TypeError, match="fun"):
        nncg(3.0, np.zeros(5), jac=rosen_der)
    with pytest.raises(TypeError, match="hessp"):
        nncg(rosen, np.zeros(5), jac=rosen_der, hessp="no")
    with pytest.raises(TypeError, match="callback"):
        nncg(rosen, np.zeros(5), jac=rosen_der, callback=1)


def test_disp_prints_summary(capsys):
    nncg(rosen, np.zeros(5), jac=rosen_der, hessp=rosen_hess_prod, disp=True, random_state=0)
    out = capsys.readouterr().out
    assert "Optimization terminated successfully" in out and "Hessian-vector products" in out


def test_same_seed_same_run_and_x0_untouched():
    x0 = np.zeros(50)
    a = nncg(rosen, x0, jac=rosen_der, hessp=rosen_hess_prod, rank=5, random_state=42)
    b = nncg(rosen, x0, jac=rosen_der, hessp=rosen_hess_prod, rank=5, random_state=np.random.default_rng(42))
    assert np.array_equal(a.x, b.x) and a.nit == b.nit and a.nhev == b.nhev
    assert np.array_equal(x0, np.zeros(50))


def test_x0_list_and_integer_dtype():
    res = nncg(rosen, [0, 0, 0], jac=rosen_der, hessp=rosen_hess_prod, random_state=0)
    assert res.success and res.x.dtype == np.float64
    with pytest.raises(ValueError, match="x0"):
        nncg(rosen, np.zeros((2, 2)), jac=rosen_der)


# ----------------------------------------------------------------------------- options


def test_maxiter_status_and_message():
    res = nncg(ext_rosen, ext_rosen_x0(100), jac=ext_rosen_grad, hessp=ext_rosen_hessp, maxiter=4,
               random_state=0)
    assert res.status == 1 and not res.success
    assert res.nit == 4
    assert "Maximum number of iterations" in res.message
    assert len(res.history["fun"]) == 5
    assert res.fun == res.history["fun"][-1] < res.history["fun"][0]


def test_cg_rtol_fixed_vs_auto(quad50):
    """Undamped: a loose fixed CG tolerance makes Newton linear (more iterations, fewer CG steps
    each); a tight one makes every step exact (one or two iterations on a quadratic)."""
    A, b, xstar = quad50
    f, g, hp = quadratic(A, b)
    runs = {rt: nncg(f, np.zeros(50), jac=g, hessp=hp, cg_rtol=rt, mu=0.0, gtol=1e-10, random_state=0)
            for rt in (0.9, "auto", 1e-12)}
    for res in runs.values():
        assert res.success and rel_err(res.x, xstar) <= 1e-9
    assert runs[1e-12].nit <= 2
    assert runs[0.9].nit > runs["auto"].nit > runs[1e-12].nit
    assert runs[0.9].cg_iterations / runs[0.9].nit < runs[1e-12].cg_iterations / runs[1e-12].nit


def test_cg_maxiter_caps_each_solve(monkeypatch):
    its = []

    def spy(A, b, **kwargs):
        its.append(kwargs["maxiter"])
        return real_pcg(A, b, **kwargs)

    monkeypatch.setattr(newton_module, "pcg", spy)
    x0 = ext_rosen_x0(40)
    res = nncg(ext_rosen, x0, jac=ext_rosen_grad, hessp=ext_rosen_hessp, cg_maxiter=2, cg_rtol=1e-12,
               gtol=1e-8, random_state=0)
    assert res.success
    assert set(its) == {2}
    assert res.cg_iterations <= 2 * len(its)
    its.clear()
    nncg(ext_rosen, x0, jac=ext_rosen_grad, hessp=ext_rosen_hessp, maxiter=3, random_state=0)
    assert set(its) == {40}  # default min(n, 200)


def test_rank_option():
    x0 = ext_rosen_x0(60)
    for rank in (1, 10, 60):
        res = nncg(ext_rosen, x0, jac=ext_rosen_grad, hessp=ext_rosen_hessp, rank=rank, gtol=1e-8,
                   random_state=0)
        assert res.success and np.max(np.abs(res.x - 1.0)) <= 1e-8
        assert res.preconditioner is None or res.preconditioner.rank <= rank
    res = nncg(ext_rosen, ext_rosen_x0(10), jac=ext_rosen_grad, hessp=ext_rosen_hessp, maxiter=1,
               random_state=0)
    assert res.history["nhev"][1] >= 10  # default rank min(30, n) = n here


@pytest.mark.parametrize(
    ("options", "exc", "pattern"),
    [
        ({"rank": 51}, ValueError, "rank"),
        ({"rank": -1}, ValueError, "rank"),
        ({"rank": 2.5}, TypeError, "rank"),
        ({"mu": -1.0}, ValueError, "mu"),
        ({"mu": "foo"}, ValueError, "mu"),
        ({"mu": float("nan")}, ValueError, "mu"),
        ({"cg_rtol": 0.0}, ValueError, "cg_rtol"),
        ({"cg_rtol": 1.0}, ValueError, "cg_rtol"),
        ({"cg_rtol": 1.5}, ValueError, "cg_rtol"),
        ({"cg_rtol": -0.1}, ValueError, "cg_rtol"),
        ({"cg_rtol": "tight"}, ValueError, "cg_rtol"),
        ({"precond_every": 0}, ValueError, "precond_every"),
        ({"cg_maxiter": 0}, ValueError, "cg_maxiter"),
        ({"maxiter": -1}, ValueError, "maxiter"),
            ({"maxiter": 2.0}, TypeError, "maxiter"),
        ({"gtol": -1.0}, ValueError, "gtol"),
        ({"tol": -1.0}, ValueError, "tol"),
        ({"hessp_blocks": True, "hessp": None}, ValueError, "hessp_blocks"),
    ],
)
def test_bad_options_raise_naming_the_option(quad50, options, exc, pattern):
    A, b, _ = quad50
    f, g, hp = quadratic(A, b)
    options = dict(options)
    hessp = options.pop("hessp", hp)
    with pytest.raises(exc, match=pattern):
        nncg(f, np.zeros(50), jac=g, hessp=hessp, **options)
    with pytest.raises(exc, match=pattern):
        minimize(f, np.zeros(50), method=nncg, jac=g, hessp=hessp, options=options)


def test_hessp_blocks_with_hess_raises(quad50):
    A, b, _ = quad50
    f, g, _ = quadratic(A, b)
    with pytest.raises(ValueError, match="hessp_blocks"):
        nncg(f, np.zeros(50), jac=g, hess=lambda x: A, hessp_blocks=True)


# ----------------------------------------------------------------------------- numerical trouble


def test_not_finite_at_x0_is_a_failed_run(quad50):
    """As SciPy's Newton-CG: a NaN/inf value or gradient at x0 is success=False (status 3), no raise."""
    A, b, _ = quad50
    _, g, hp = quadratic(A, b)
    calls = [0]

    def jac(x):
        calls[0] += 1
        return np.full(50, np.inf)

    for fun, jac_, which in [(lambda x: float("nan"), g, "objective"), (lambda x: 0.0, jac, "gradient")]:
        res = nncg(fun, np.zeros(50), jac=jac_, hessp=hp)
        assert (res.success, res.status, res.nit, res.nfev, res.njev) == (False, 3, 0, 1, 1)
        assert res.message.startswith(f"The {which} is not finite at x0")
        np.testing.assert_array_equal(res.x, 0.0)
    assert calls[0] == 1


def test_jac_wrong_shape_raises(quad50):
    A, b, _ = quad50
    f, g, hp = quadratic(A, b)
    with pytest.raises(ValueError, match=r"\(50,\).*\(49,\)"):
        nncg(f, np.zeros(50), jac=lambda x: g(x)[:-1], hessp=hp)
    with pytest.raises(ValueError, match=r"\(50,\)"):
        minimize(f, np.zeros(50), jac=lambda x: g(x)[:, None], hessp=hp, method=nncg)


@pytest.mark.parametrize("when", ["x0", "later"])
def test_hessp_nan_gives_status_3_and_finite_x(quad50, when):
    A, b, _ = quad50
    f, g, _ = quadratic(A, b)
    x0 = np.zeros(50)

    def bad(x, p):
        if when == "x0" or np.any(x != 0):
            return np.full_like(p, np.nan)
        return A @ p

    res = nncg(f, x0, jac=g, hessp=bad, random_state=0)
    assert res.status == 3 and not res.success
    assert np.isfinite(res.x).all() and np.isfinite(res.fun) and np.isfinite(res.jac).all()
    assert "NaN" in res.message
    assert res.nit == (0 if when == "x0" else 1)
    if when == "later":
        assert res.fun < f(x0)


def test_jac_nan_at_accepted_point_returns_previous_iterate(quad50):
    A, b, _ = quad50
    f, g, hp = quadratic(A, b)
    cg = Counted(lambda x: g(x) if cg.calls <= 3 else np.full(50, np.nan))
    res = nncg(f, np.zeros(50), jac=cg, hessp=hp, random_state=0)
    assert res.status == 3 and not res.success
    assert np.isfinite(res.x).all() and np.isfinite(res.jac).all()
    assert res.nit == 2
    assert np.array_equal(res.jac, g(res.x))
    assert res.fun == pytest.approx(f(res.x))


@pytest.mark.parametrize("blocks", [False, True])
def test_regression_hessp_wrong_shape_raises(quad50, blocks):
    A, b, _ = quad50
    f, g, _ = quadratic(A, b)
    with pytest.raises(ValueError, match="shape"):
        nncg(f, np.zeros(50), jac=g, hessp=lambda x, p: (A @ p)[:-1], hessp_blocks=blocks, random_state=0)


def test_hessp_wrong_shape_after_a_refresh_raises(quad50):
    """Past the sketch (precond_every > nit) the shape error surfaces from CG as a ValueError."""
    A, b, _ = quad50
    f, g, _ = quadratic(A, b)

    def hp(x, p):
        return A @ p if np.all(x == 0) else (A @ p)[:-1]

    with pytest.raises(ValueError, match="shape"):
        nncg(f, np.zeros(50), jac=g, hessp=hp, random_state=0)


def test_wrong_gradient_gives_line_search_failure(quad50):
    A, b, _ = quad50
    f, g, hp = quadratic(A, b)
    x0 = np.ones(50)
    res = nncg(f, x0, jac=lambda x: -g(x), hessp=hp, random_state=0)
    assert res.status == 2 and not res.success
    assert "line search" in res.message
    assert np.isfinite(res.x).all() and np.array_equal(res.x, x0)
    assert res.nit == 0
    assert res.nfev == 1 + newton_module.MAX_BACKTRACKS


# ----------------------------------------------------------------------------- backends and dtypes


def test_float32_keeps_float32(quad50):
    A, b, xstar = quad50
    A32, b32 = A.astype(np.float32), b.astype(np.float32)
    f, g, hp = quadratic(A32, b32)
    res = nncg(f, np.zeros(50, np.float32), jac=g, hessp=hp, gtol=1e-3, random_state=0)
    assert res.success, res.message
    assert res.x.dtype == np.float32 and res.jac.dtype == np.float32
    assert rel_err(res.x, xstar) <= 1e-3
    res = nncg(rosen, np.zeros(10, np.float32), jac=rosen_der, gtol=1e-3, random_state=0)  # FD products
    assert res.success and res.x.dtype == np.float32
    assert np.max(np.abs(res.x - 1.0)) <= 1e-4


@pytest.mark.parametrize("hessian", ["hessp", "fd", "jac-true"])
def test_array_api_strict(hessian):
    rng = np.random.default_rng(5)
    n = 30
    A = spd(rng, n, 1e2)
    b = rng.standard_normal(n)
    Ax, bx = xs.asarray(A), xs.asarray(b)

    def f(x):
        return float(0.5 * xs.vecdot(x, Ax @ x) - xs.vecdot(bx, x))

    def g(x):
        return Ax @ x - bx

    def hp(x, p):
        return Ax @ p

    x0 = xs.zeros(n, dtype=xs.float64)
    if hessian == "hessp":
        res = nncg(f, x0, jac=g, hessp=hp, gtol=1e-10, random_state=0)
    elif hessian == "fd":
        res = nncg(f, x0, jac=g, gtol=1e-9, random_state=0)
    else:
        res = nncg(lambda x: (f(x), g(x)), x0, jac=True, hessp=hp, gtol=1e-10, random_state=0)
    assert res.success, res.message
    assert isinstance(res.x, type(x0)) and res.x.dtype == xs.float64
    assert rel_err(np.asarray(res.x), np.linalg.solve(A, b)) <= 1e-8
    fn, gn, hpn = quadratic(A, b)
    ref = nncg(fn, np.zeros(n), jac=gn, hessp=hpn, gtol=1e-10, random_state=0)
    if hessian == "hessp":
        assert res.nit == ref.nit


def test_hessp_blocks_same_answer_and_same_count():
    d = 100
    x0 = ext_rosen_x0(d)
    shapes = []

    def hp_block(x, P):
        shapes.append(P.shape)
        if P.ndim == 1:
            return ext_rosen_hessp(x, P)
        return np.stack([ext_rosen_hessp(x, P[:, j]) for j in range(P.shape[1])], axis=1)

    blk = nncg(ext_rosen, x0, jac=ext_rosen_grad, hessp=hp_block, hessp_blocks=True, gtol=1e-8, rank=12,
               random_state=0)
    n_block_calls = len(shapes)
    shapes.clear()
    vec = nncg(ext_rosen, x0, jac=ext_rosen_grad, hessp=hp_block, hessp_blocks=False, gtol=1e-8, rank=12,
               random_state=0)
    assert blk.success and vec.success
    assert np.allclose(blk.x, vec.x, rtol=0, atol=1e-12)
    assert blk.nit == vec.nit and blk.nhev == vec.nhev
    assert all(s == (d,) for s in shapes) and len(shapes) == vec.nhev
    assert n_block_calls < vec.nhev  # sketches were single block calls
    assert np.array_equal(blk.history["nhev"], vec.history["nhev"])


@pytest.mark.gpu
def test_cupy(cupy):
    cp = cupy
    rng = np.random.default_rng(9)
    A = spd(rng, 100, 1e3)
    b = rng.standard_normal(100)
    Ac, bc = cp.asarray(A), cp.asarray(b)
    res = nncg(lambda x: float(0.5 * x @ (Ac @ x) - bc @ x), cp.zeros(100), jac=lambda x: Ac @ x - bc,
               hessp=lambda x, p: Ac @ p, gtol=1e-10, random_state=0)
    assert res.success, res.message
    assert isinstance(res.x, cp.ndarray) and res.x.dtype == cp.float64
    assert rel_err(cp.asnumpy(res.x), np.linalg.solve(A, b)) <= 1e-9



def test_rank_zero_is_damped_newton_cg_without_a_sketch():
    # rank=0: no preconditioner (what pays on well-conditioned Hessians); the same minimiser.
    rng = np.random.default_rng(11)
    X = rng.standard_normal((400, 30))
    y = (X @ rng.standard_normal(30) + rng.standard_normal(400) > 0).astype(float)
    from optim import Logistic
    problem = Logistic(X, y, reg=1e-3)
    res0 = nncg(problem.value_and_grad, np.zeros(30), jac=True, hessp=problem.hvp, rank=0, gtol=1e-10,
                random_state=0)
    res = nncg(problem.value_and_grad, np.zeros(30), jac=True, hessp=problem.hvp, gtol=1e-10, random_state=0)
    assert res0.success and res.success
    assert res0.preconditioner is None
    np.testing.assert_allclose(res0.x, res.x, rtol=1e-7, atol=1e-9)
    # Products: CG's, the warm starts and checks, and one scale estimate per refresh; no sketch.
    assert res0.nhev < res.nhev


def test_glm_hessian_reuses_the_margins_and_weights_at_the_same_point(monkeypatch):
    # value_and_grad at w keeps the margins for the Hessian at w, and the Hessian's weights are
    # kept for the next product at w: one margin pass for value, gradient and all the products.
    from optim import Logistic
    from optim.glm import GLMBatch

    rng = np.random.default_rng(12)
    X = rng.standard_normal((300, 8))
    y = (X @ rng.standard_normal(8) > 0).astype(float)
    problem = Logistic(X, y, reg=1e-2, fit_intercept=True)
    w = rng.standard_normal(9)
    V = rng.standard_normal((9, 3))
    fresh = Logistic(X, y, reg=1e-2, fit_intercept=True)
    expected = [fresh.batch().hessian_operator(w, include_penalty=True) @ V[:, j] for j in range(3)]
    calls = []
    real = GLMBatch.margins
    monkeypatch.setattr(GLMBatch, "margins", lambda self, W: calls.append(np.ndim(W)) or real(self, W))
    problem.value_and_grad(w)
    got = [problem.hvp(w.copy(), V[:, j]) for j in range(3)]
    # one margin pass at w (value, gradient and the Hessian's weights) and one per product (A v)
    assert calls.count(1) == 1 + 3
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    # A different point: computed afresh, not taken from the cache.
    w2 = w + 1.0
    np.testing.assert_allclose(problem.hvp(w2, V[:, 0]),
                               fresh.batch().hessian_operator(w2, include_penalty=True) @ V[:, 0], rtol=1e-13)
