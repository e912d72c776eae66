"""SciPy's ``optimize/tests/test_optimize.py`` (unconstrained, gradient-based cases) run on ``optim.nncg``.

Our own versions of the cases that apply to a Newton-CG method, called as
``scipy.optimize.minimize(..., method=optim.nncg)`` (SciPy's custom-method protocol) and, where
useful, as direct ``optim.nncg`` calls. Answers are compared with SciPy's ``method='Newton-CG'``
on the same problem. Where nncg differs from SciPy on purpose the test asserts nncg's behaviour
and says why.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_equal
from scipy import optimize
from scipy.optimize import OptimizeResult, OptimizeWarning, rosen, rosen_der, rosen_hess, rosen_hess_prod

import optim

SEED = 0


def run(fun, x0, **kwargs):
    """``minimize(fun, x0, method=optim.nncg, ...)`` with a seeded sketch."""
    options = dict(kwargs.pop("options", {}) or {})
    options.setdefault("random_state", SEED)
    return optimize.minimize(fun, x0, method=optim.nncg, options=options, **kwargs)


# --------------------------------------------------------------------------------------------------
# The entropy-maximisation problem of SciPy's CheckOptimize (Berger et al. 1996), with call counts.
class Entropy:
    F = np.array([[1, 1, 1], [1, 1, 0], [1, 0, 1], [1, 0, 0], [1, 0, 0]], dtype=float)
    K = np.array([1.0, 0.3, 0.5])
    x0 = np.zeros(3)
    solution = np.array([0.0, -0.524869316, 0.487525860])

    def __init__(self):
        self.nfev = self.njev = self.nhev = 0
        self.trace = []

    def _p(self, x):
        z = self.F @ x
        return np.exp(z - np.log(np.sum(np.exp(z))))

    def func(self, x):
        self.nfev += 1
        self.trace.append(np.copy(x))
        z = self.F @ x
        return np.log(np.sum(np.exp(z))) - self.K @ x

    def grad(self, x):
        self.njev += 1
        return self.F.T @ self._p(x) - self.K

    def hess(self, x):
        self.nhev += 1
        p = self._p(x)
        return self.F.T @ (np.diag(p) - np.outer(p, p)) @ self.F

    def hessp(self, x, v):
        self.nhev += 1
        p = self._p(x)
        Fv = self.F @ v
        return self.F.T @ (p * Fv - p * (p @ Fv))


@pytest.mark.parametrize("variant", ["jac", "hess", "hessp"])
def test_entropy_ncg(variant):
    """CheckOptimize.test_ncg / test_ncg_hess / test_ncg_hessp: same optimum as SciPy's Newton-CG.

    SciPy's exact call counts and trace are its algorithm's; ours must be what it reports.
    """
    prob = Entropy()
    other = Entropy()
    extra = {} if variant == "jac" else {variant: getattr(prob, variant)}
    ref_extra = {} if variant == "jac" else {variant: getattr(other, variant)}
    res = run(prob.func, prob.x0, jac=prob.grad, options={"maxiter": 1000}, **extra)
    ref = optimize.minimize(other.func, other.x0, jac=other.grad, method="Newton-CG", **ref_extra)
    assert res.success, res.message
    assert_allclose(prob.func(res.x), prob.func(prob.solution), atol=1e-6)
    assert_allclose(res.fun, ref.fun, atol=1e-9)
    prob.nfev -= 2  # the check above
    assert res.nfev == prob.nfev
    assert res.njev == prob.njev  # finite-difference products (variant 'jac') count two gradients each
    if variant == "hessp":
        assert res.nhev == prob.nhev
    elif variant == "hess":  # nhev counts Hessian-vector products; hess itself is called once a point
        assert prob.nhev == res.nit


def test_entropy_negative_maxiter():
    """test_ncg_negative_maxiter: SciPy returns status 1; nncg's policy rejects the value, naming it."""
    prob = Entropy()
    with pytest.raises(ValueError, match=r"^maxiter"):
        run(prob.func, prob.x0, jac=prob.grad, options={"maxiter": -1})


def test_maxiter_zero_returns_start():
    """maxiter=0 (SciPy's Newton-CG: status 1 at x0) is accepted: no iteration, status 1."""
    prob = Entropy()
    res = run(prob.func, prob.x0, jac=prob.grad, options={"maxiter": 0})
    ref = optimize.minimize(Entropy().func, Entropy.x0, jac=Entropy().grad, method="Newton-CG",
                            options={"maxiter": 0})
    assert (res.nit, res.status, res.success) == (ref.nit, ref.status, ref.success) == (0, 1, False)
    assert_equal(res.x, prob.x0)


def test_zero_xtol_cosine_0d_gradient():
    """test_ncg_zero_xtol: a 0-d gradient for 1-D x; minimum of cos at pi.

    ``xtol`` is a Newton-CG option nncg does not have: it warns, as SciPy does for unknown options.
    """
    with pytest.warns(OptimizeWarning, match="xtol"):
        res = run(lambda x: np.cos(x[0]), [0.1], jac=lambda x: -np.sin(x[0]), options={"xtol": 0})
    assert res.status == 0
    assert_allclose(res.x[0], np.pi, rtol=1e-7)


# --------------------------------------------------------------------------------------------------
# Rosenbrock with every way of giving derivatives (TestNewtonCg, TestOptimizeResultAttributes).
ROSEN_STARTS = {"classic": np.array([-1.2, 1.0]), "n10": 0.5 + 0.3 * np.sin(np.arange(10.0))}


@pytest.mark.parametrize("start", sorted(ROSEN_STARTS))
@pytest.mark.parametrize("derivs", ["jac", "jac+hess", "jac+hessp", "jac+hess+hessp", "jac=True",
                                    "hess=2-point", "hess=3-point", "hess=cs"])
def test_rosenbrock(start, derivs):
    x0 = ROSEN_STARTS[start]
    kwargs = {"jac": rosen_der}
    if "hessp" in derivs:
        kwargs["hessp"] = rosen_hess_prod
    if "+hess" in derivs:
        kwargs["hess"] = rosen_hess
    if derivs == "jac=True":
        kwargs["jac"] = True
        fun = lambda x: (rosen(x), rosen_der(x))  # noqa: E731
    else:
        fun = rosen
    if derivs.startswith("hess="):
        kwargs["hess"] = derivs.split("=")[1]
    res = run(fun, x0, tol=1e-8, **kwargs)
    assert res.success, res.message
    assert_allclose(res.x, np.ones_like(x0), rtol=1e-6)
    assert np.linalg.norm(res.jac) <= 1e-8
    assert_allclose(res.jac, rosen_der(res.x), rtol=1e-12, atol=0)
    assert res.fun == rosen(res.x)


def test_rosenbrock_direct_call():
    res = optim.nncg(rosen, np.array([-1.2, 1.0]), jac=rosen_der, hessp=rosen_hess_prod, gtol=1e-10,
                     random_state=SEED)
    assert res.success and res.status == 0
    assert_allclose(res.x, [1.0, 1.0], rtol=1e-8)


def test_result_fields():
    """TestOptimizeResultAttributes: every field SciPy's Newton-CG returns, consistent with the run."""
    x0 = np.array([5.0, 5.0])
    nfev = [0]

    def f(x):
        nfev[0] += 1
        return rosen(x)

    res = run(f, x0, jac=rosen_der, hessp=rosen_hess_prod)
    ref = optimize.minimize(rosen, x0, jac=rosen_der, hessp=rosen_hess_prod, method="Newton-CG")
    for field in ref:
        assert field in res, field
    assert isinstance(res.message, str)
    assert isinstance(res.success, bool) and isinstance(res.status, int)
    assert res.nfev == nfev[0]
    assert res.x.shape == (2,) and res.jac.shape == (2,)
    assert res.nit >= 1 and res.njev >= res.nit and res.nhev >= res.nit
    assert_allclose(res.x, ref.x, rtol=1e-4)


def test_sparse_hessian():
    """test_sparse_hessian: hess returning a SciPy sparse matrix."""
    import scipy.sparse as sp

    res = run(rosen, np.linspace(-0.5, 1.5, 8), jac=rosen_der,
              hess=lambda x: sp.csr_array(rosen_hess(x)), tol=1e-8)
    ref = optimize.minimize(rosen, np.linspace(-0.5, 1.5, 8), jac=rosen_der,
                            hess=lambda x: sp.csr_array(rosen_hess(x)), method="Newton-CG")
    assert res.success and ref.success
    assert_allclose(res.x, ref.x, rtol=1e-4)  # the local minimum near (-1, 1, ..., 1) SciPy finds too


def test_himmelblau():
    """TestNewtonCg.test_himmelblau: from near the local maximum to the minimum (3, 2)."""
    def f(p):
        x, y = p
        return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2

    def g(p):
        x, y = p
        return np.array([4 * x * (x**2 + y - 11) + 2 * (x + y**2 - 7),
                         2 * (x**2 + y - 11) + 4 * y * (x + y**2 - 7)])

    def h(p):
        x, y = p
        return np.array([[12 * x**2 + 4 * y - 42, 4 * x + 4 * y],
                         [4 * x + 4 * y, 4 * x + 12 * y**2 - 26]])

    res = run(f, np.array([-0.27, -0.9]), jac=g, hess=h, tol=1e-6)
    ref = optimize.minimize(f, np.array([-0.27, -0.9]), jac=g, hess=h, tol=1e-6, method="Newton-CG")
    assert res.success, res.message
    assert_allclose(res.x, [3.0, 2.0], rtol=1e-4)  # the minimum SciPy's Newton-CG reaches from here
    assert_allclose(res.x, ref.x, rtol=1e-4)
    assert_allclose(res.fun, 0.0, atol=1e-4)


def test_hessian_update_strategy_rejected():
    """TestNewtonCg.test_hessian_update_strategy: a quasi-Newton Hessian is not a Newton method's input."""
    with pytest.raises(TypeError, match=r"^hess"):
        run(rosen, np.array([-1.2, 1.0]), jac=rosen_der, hess=optimize.BFGS())


def test_finite_difference_jac_rejected():
    """test_finite_differences_jac: like SciPy's Newton-CG, nncg needs the gradient."""
    with pytest.raises(ValueError, match=r"^jac"):
        run(rosen, np.array([-1.2, 1.0]), jac="2-point")
    with pytest.raises(ValueError, match="Jacobian is required"):
        optimize.minimize(rosen, np.array([-1.2, 1.0]), method="Newton-CG")


# --------------------------------------------------------------------------------------------------
# Callbacks.
def test_callback_copies_array():
    """test_minimize_callback_copies_array: xk is a copy, never modified later, no shared memory."""
    seen = []

    def callback(x, *args, **kwargs):
        assert not isinstance(x, OptimizeResult)
        seen.append((x, np.copy(x)))

    run(rosen, np.zeros(10), jac=rosen_der, callback=callback, options={"maxiter": 5})
    assert len(seen) == 5
    assert all(np.array_equal(x, y) for x, y in seen)
    assert not any(np.may_share_memory(a[0], b[0]) for a, b in itertools.combinations(seen, 2))


def test_callback_intermediate_result():
    """The new callback style: an OptimizeResult with x, fun, jac, nit, once per iteration."""
    seen = []

    def callback(intermediate_result):
        seen.append(intermediate_result)

    res = run(rosen, np.array([-1.2, 1.0]), jac=rosen_der, hess=rosen_hess, callback=callback)
    assert len(seen) == res.nit
    assert [r.nit for r in seen] == list(range(1, res.nit + 1))
    for r in seen:
        assert isinstance(r, OptimizeResult)
        assert r.fun == rosen(r.x)
        assert_allclose(r.jac, rosen_der(r.x), rtol=1e-14)
    assert_equal(seen[-1].x, res.x)


@pytest.mark.parametrize("style", ["xk", "intermediate_result", "annotated_class"])
def test_callback_stopiteration(style):
    """test_callback_stopiteration: StopIteration at the 5th call equals maxiter=5."""
    stop_at = 5
    calls = [0]

    def f(x):
        return rosen(x)

    def tick():
        calls[0] += 1
        if calls[0] == stop_at:
            raise StopIteration

    if style == "xk":
        def callback(xk, *args):
            tick()
    elif style == "intermediate_result":
        def callback(*, intermediate_result):
            assert intermediate_result.fun == f(intermediate_result.x)
            tick()
    else:
        class Callback:
            def __call__(self, intermediate_result: OptimizeResult):
                assert intermediate_result.fun == f(intermediate_result.x)
                tick()
        callback = Callback()

    kwargs = {"jac": rosen_der, "hess": rosen_hess}
    x0 = [1.1] * 5
    res = run(f, x0, callback=callback, **kwargs)
    ref = run(f, x0, options={"maxiter": stop_at}, **kwargs)
    assert res.message.startswith("`callback` raised `StopIteration`")
    assert res.nit == ref.nit == stop_at
    assert res.fun == ref.fun
    assert_equal(res.x, ref.x)
    assert res.status == 99 and not res.success


def test_callback_stopiteration_direct_call():
    def callback(intermediate_result):
        if intermediate_result.nit == 2:
            raise StopIteration

    res = optim.nncg(rosen, np.zeros(6), jac=rosen_der, callback=callback, random_state=SEED)
    assert (res.nit, res.status, res.success) == (2, 99, False)


def test_callback_not_callable():
    with pytest.raises(TypeError, match=r"^callback"):
        optim.nncg(rosen, np.zeros(3), jac=rosen_der, callback=3)


# --------------------------------------------------------------------------------------------------
# Iteration limits, tolerances, warnings.
def test_respect_maxiter():
    """test_respect_maxiter: nit == maxiter when not converged; reported counts match real calls."""
    sf = optimize._differentiable_functions.ScalarFunction(rosen, np.zeros(10), (), rosen_der,
                                                            rosen_hess, None, None)
    res = run(sf.fun, np.zeros(10), jac=sf.grad, options={"maxiter": 4})
    assert res.nit == 4 and res.status == 1 and not res.success
    assert res.nfev >= sf.nfev - 1  # ScalarFunction evaluated once at x0 on construction
    assert res.njev >= sf.ngev - 1


@pytest.mark.parametrize("maxiter", [1, 3, 7])
def test_nit_at_most_maxiter(maxiter):
    res = run(rosen, np.full(12, -0.5), jac=rosen_der, hessp=rosen_hess_prod, options={"maxiter": maxiter})
    assert res.nit <= maxiter
    assert res.nit == maxiter or res.success


def test_maxiter_noninteger():
    """test_minimize_maxiter_noninteger (gh-23430): some SciPy methods accept 100.1; nncg's policy
    asks for an integer (TypeError naming maxiter)."""
    with pytest.raises(TypeError, match=r"^maxiter"):
        run(rosen, np.array([1.3, 0.7, 0.8]), jac=rosen_der, options={"maxiter": 100.1})


def test_tol_parameter():
    """test_minimize_tol_parameter: a smaller tol gives a better answer."""
    def func(z):
        x, y = z
        return x**2 * y**2 + x**4 + 1

    def dfunc(z):
        x, y = z
        return np.array([2 * x * y**2 + 4 * x**3, 2 * x**2 * y])

    sol1 = run(func, [2, 2], jac=dfunc, tol=1e-10)
    sol2 = run(func, [2, 2], jac=dfunc, tol=1.0)
    assert func(sol1.x) < func(sol2.x)


def test_warnings_not_print_gh1953():
    """test_minimize_warnings_gh1953: disp=True warns OptimizeWarning on failure instead of printing."""
    with pytest.warns(OptimizeWarning, match="Maximum number"):
        run(lambda x: rosen(x), [0, 0], jac=rosen_der, options={"disp": True, "maxiter": 2})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run(lambda x: rosen(x), [0, 0], jac=rosen_der, options={"disp": False, "maxiter": 2})


def test_unknown_option_warns():
    with pytest.warns(OptimizeWarning, match="Unknown solver options: bogus"):
        run(rosen, np.zeros(2), jac=rosen_der, options={"bogus": 1})


@pytest.mark.parametrize("scale", [1.0, 1e50])
def test_initial_step_scaling(scale):
    """test_initial_step_scaling: the first step is ~1 whatever the scale of f.

    nncg's gtol is absolute (like BFGS's), so, as SciPy's test does for BFGS, it is scaled with f.
    """
    x0 = [-1.0]
    first = [None]

    def f(x):
        if first[0] is None and x[0] != x0[0]:
            first[0] = abs(x[0] - x0[0])
        assert abs(x).max() <= 1e4, "stepped far away"
        return scale * (x[0] - 1) ** 2

    def g(x):
        return np.array([scale * (x[0] - 1)])

    res = run(f, x0, jac=g, options={"gtol": scale * 1e-8})
    assert res.success, res.message
    assert_allclose(res.x, [1.0])
    assert res.nit <= 3
    assert 0.5 < first[0] < 3


# --------------------------------------------------------------------------------------------------
# User functions: args, in-place modification, shapes.
def test_args_passing():
    """test_minimize_coerce_args_param: args given as a bare array (minimize makes it a tuple)."""
    c = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5], dtype=float)

    def Y(x, c):
        return np.sum((x - c) ** 2)

    def dY(x, c=None):
        return 2 * (x - c)

    def hY(x, p, c):
        return 2 * p

    x0 = np.random.default_rng(1234).standard_normal(c.size)
    res = run(Y, x0, jac=dY, args=(c), hessp=hY, tol=1e-12)
    assert res.success
    assert_allclose(res.x, c, rtol=1e-10)
    res2 = optim.nncg(Y, x0, args=(c,), jac=dY, gtol=1e-10, random_state=SEED)
    assert_allclose(res2.x, c, rtol=1e-8)


def test_x_overwritten_user_function():
    """test_x_overwritten_user_function (gh-13740): fun and jac overwrite their x argument."""
    def fquad(x):
        a = np.arange(np.size(x))
        x -= a
        x *= x
        return np.sum(x)

    def fquad_jac(x):
        a = np.arange(np.size(x))
        x *= 2
        x -= 2 * a
        return x

    def fquad_hess(x):
        x[:] = np.nan
        return np.eye(np.size(x)) * 2.0

    x0 = np.ones(5) * 1.5
    for hess in (None, fquad_hess):
        res = run(fquad, x0, jac=fquad_jac, hess=hess)
        assert_allclose(res.x, np.arange(5), atol=2e-4)
        assert res.success
    assert_equal(x0, 1.5)


def test_hessp_and_callback_overwrite_arguments():
    """hessp that scribbles on x and p, and a callback that scribbles on xk, change nothing."""
    def hessp(x, p):
        out = rosen_hess_prod(x, p)
        x[:] = 7.0
        p[:] = -3.0
        return out

    def callback(xk):
        xk[:] = 1e9

    clean = run(rosen, np.array([-1.2, 1.0, 0.3]), jac=rosen_der, hessp=rosen_hess_prod)
    dirty = run(rosen, np.array([-1.2, 1.0, 0.3]), jac=rosen_der, hessp=hessp, callback=callback)
    assert_equal(dirty.x, clean.x)
    assert dirty.nit == clean.nit


def test_result_x_shape_when_len_x_is_one():
    """test_result_x_shape_when_len_x_is_one: fun returns a size-1 array, jac a (1,) array."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # SciPy 1.17 takes a size-1 value silently; so do we
        res = run(lambda x: x * x, np.array([0.1]), jac=lambda x: 2.0 * x, hess=lambda x: np.array([[2.0]]))
        ref = optimize.minimize(lambda x: x * x, np.array([0.1]), jac=lambda x: 2.0 * x,
                                hess=lambda x: np.array([[2.0]]), method="Newton-CG")
    assert res.x.shape == ref.x.shape == (1,)
    assert res.success
    assert isinstance(res.fun, float)
    assert_allclose(res.x, 0.0, atol=1e-8)


@pytest.mark.parametrize("value", [lambda x: np.array([[x[0] ** 2]]), lambda x: [x[0] ** 2],
                                   lambda x: np.float32(x[0] ** 2)])
def test_size_one_values_accepted(value):
    res = optim.nncg(value, np.array([3.0]), jac=lambda x: 2 * x[0], random_state=SEED)
    assert res.success
    assert_allclose(res.x, 0.0, atol=1e-8)


def test_obj_func_returns_scalar():
    """test_obj_func_returns_scalar: a vector-valued fun is a ValueError."""
    with pytest.raises(ValueError, match=r"^fun must return a scalar"):
        run(lambda x: x, np.array([1.0, 1.0]), jac=lambda x: np.ones(2))
    with pytest.raises(TypeError, match=r"^fun must return a real number"):
        run(lambda x: "one", np.array([1.0, 1.0]), jac=lambda x: np.ones(2))


def test_minimize_with_scalar_x0():
    """test_minimize_with_scalar: minimize turns a scalar x0 into shape (1,)."""
    res = run(lambda x: np.sum(x**2), 17, jac=lambda x: 2 * x)
    assert res.success and res.x.shape == (1,)
    assert_allclose(res.x, [0.0], atol=1e-6)


def test_ndim_error():
    with pytest.raises(ValueError, match="x0"):
        run(lambda x: np.sum(x**2), np.ones((2, 1)), jac=lambda x: 2 * x)
    with pytest.raises(ValueError, match=r"^x0"):
        optim.nncg(lambda x: np.sum(x**2), np.ones((2, 1)), jac=lambda x: 2 * x)


def test_complex_x0_rejected():
    """Complex x0 is never cast to real silently (SciPy's Newton-CG would compute in complex)."""
    with pytest.raises(ValueError, match=r"^x0"):
        optim.nncg(lambda x: float(np.sum(x**2).real), np.array([1 + 1j, 2.0]), jac=lambda x: 2 * x)


# --------------------------------------------------------------------------------------------------
# Non-finite values.
def test_nan_values():
    """test_nan_values: NaN from fun (at once, or after two values) gives success=False."""
    rng = np.random.default_rng(123122)
    count = [0]

    def func(x):
        return np.nan

    def func2(x):
        count[0] += 1
        return np.nan if count[0] > 2 else rng.random()

    def grad(x):
        return np.array([1.0])

    def hess(x):
        return np.array([[1.0]])

    for f, h in itertools.product([func, func2], [hess, None]):
        count[0] = 0
        with np.errstate(invalid="ignore"):
            sol = run(f, np.array([1.0]), jac=grad, hess=h, options={"maxiter": 20})
            ref = optimize.minimize(f, np.array([1.0]), jac=grad, hess=h, method="Newton-CG",
                                    options={"maxiter": 20})
        assert sol.success is False
        assert ref.success is False


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_not_finite_at_x0(bad):
    """fun not finite at x0: success=False, status 3, a message saying so, x0 returned.

    SciPy's Newton-CG gives status 3 for NaN but success=True for +inf; nncg fails for both.
    """
    res = run(lambda x: bad, np.array([1.0, 2.0]), jac=lambda x: np.ones(2))
    assert res.success is False and res.status == 3
    assert "not finite at x0" in res.message
    assert_equal(res.x, [1.0, 2.0])
    assert res.nit == 0 and res.nfev == 1


def test_gradient_not_finite_at_x0():
    res = optim.nncg(lambda x: 1.0, np.zeros(2), jac=lambda x: np.array([np.nan, 0.0]))
    assert res.success is False and res.status == 3
    assert "not finite at x0" in res.message


def test_nan_in_x0_rejected():
    """NaN inside x0 is bad input (ValueError naming x0), not a failed run."""
    with pytest.raises(ValueError, match=r"^x0"):
        optim.nncg(rosen, np.array([np.nan, 1.0]), jac=rosen_der)


def test_no_increase():
    """test_no_increase: with a wrong gradient the returned point is never worse than x0."""
    def func(x):
        return (x - 1) ** 2

    def bad_grad(x):
        return 2 * (x - 1) * (-1) - 2

    x0 = np.array([2.0])
    sol = run(func, x0, jac=bad_grad, options={"maxiter": 20})
    assert_equal(func(sol.x), sol.fun)
    assert func(sol.x) <= func(x0)
    assert not sol.success


def test_duplicate_evaluations():
    """test_duplicate_evaluations: fun is never called twice in a row at the same point."""
    prob = Entropy()
    run(prob.func, prob.x0, jac=prob.grad, hess=prob.hess)
    for a, b in itertools.pairwise(prob.trace):
        assert not np.array_equal(a, b)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(n=st.integers(1, 12), seed=st.integers(0, 2**16), style=st.sampled_from(["hess", "hessp", "fd"]))
def test_property_quadratic_matches_solve_and_ignores_scribbling(n, seed, style):
    """On random SPD quadratics nncg's answer equals numpy.linalg.solve, and user functions that
    overwrite x (and p) give bit-for-bit the run of clean ones."""
    rng = np.random.default_rng(seed)
    Q = rng.standard_normal((n, n))
    A = Q @ Q.T + n * np.eye(n)
    b = rng.standard_normal(n)
    x0 = rng.standard_normal(n)

    def derivs(scribble):
        def fun(x):
            out = 0.5 * x @ A @ x - b @ x
            if scribble:
                x[:] = np.nan
            return out

        def jac(x):
            out = A @ x - b
            if scribble:
                x *= -3.0
            return out

        def hessp(x, p):
            out = A @ p
            if scribble:
                p[:] = 0.0
            return out

        kw = {"jac": jac}
        if style == "hess":
            kw["hess"] = lambda x: A
        elif style == "hessp":
            kw["hessp"] = hessp
        return fun, kw

    fun, kw = derivs(False)
    clean = run(fun, x0, tol=1e-10, **kw)
    fun, kw = derivs(True)
    dirty = run(fun, x0, tol=1e-10, **kw)
    assert clean.success
    assert_allclose(clean.x, np.linalg.solve(A, b), rtol=1e-7, atol=1e-9)
    assert_equal(dirty.x, clean.x)
    assert (dirty.nit, dirty.nfev, dirty.njev) == (clean.nit, clean.nfev, clean.njev)
