"""SciPy's CG tests, ported: ``rnla.pcg`` and ``rnla.nystrom_pcg`` (``mu = 0``) as ``scipy.sparse.linalg.cg``.

Our own versions of the CG part of SciPy's ``scipy/sparse/linalg/_isolve/tests/test_iterative.py``
(SciPy 1.17): the symmetric positive definite case registry (1-D and 2-D Poisson, a random SPD
matrix, each also in float32), ``maxiter``/``info``/callback counts, convergence, the identity and
the exact-inverse preconditioner, the ``rtol`` × ``atol`` grid (with ``0``, huge values and
``inf``) under badly scaled preconditioners, zero right-hand sides, the ``x0`` variants (``None``,
zeros, a random guess, ``'Mb'``, the exact solution), argument errors; plus agreement with the
answer of ``scipy.sparse.linalg.cg`` itself. ``nystrom_pcg`` with ``mu = 0`` solves the same
``A x = b`` with its own preconditioner, so it takes every case that does not pass ``M``.

Where we differ from SciPy on purpose the test asserts our behaviour (see the module's ``DIFF``
comments): complex operators are refused (``pcg`` is real-only), and a tolerance of the wrong kind
(``None``, a string) is a ``TypeError`` (the project's validation policy), not a ``ValueError``.
"""

import functools

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from rnla import nystrom_pcg, pcg

# ------------------------------------------------------------------------ the case registry


def _poisson1d(n=40):
    return sp.diags([-np.ones(n - 1), 2 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1], format="csr")


def _rand_spd():
    # SciPy builds it from the legacy global seed 1234; we use a RandomState of the same seed.
    G = np.random.RandomState(1234).rand(9, 9)
    return G @ G.T


def _cases():
    P1 = _poisson1d()
    P2 = sp.kronsum(P1, P1, format="csr")
    R = _rand_spd()
    return {
        "poisson1d": P1,
        "poisson1d-F": P1.astype(np.float32),
        "poisson2d": P2,
        "poisson2d-F": P2.astype(np.float32),
        "rand-sym-pd": R,
        "rand-sym-pd-F": R.astype(np.float32),
    }


CASES = _cases()
CASE_NAMES = list(CASES)


def case(name):
    """``(A, b)`` with SciPy's right-hand side ``b = arange(n)`` in ``A``'s dtype."""
    A = CASES[name]
    return A, np.arange(A.shape[0], dtype=A.dtype)


@functools.cache
def extreme_eigenvalues(name):
    """Smallest and largest eigenvalue of the case's matrix (float32 cases: of the float64 one)."""
    w = np.linalg.eigvalsh(dense64(CASES[name.removesuffix("-F")]))
    return w[0], w[-1]


def dense64(A):
    return (A.toarray() if sp.issparse(A) else np.asarray(A)).astype(np.float64)


def run(solver, A, b, **kwargs):
    """Call ``pcg`` or ``nystrom_pcg(mu=0)`` with SciPy's keywords."""
    if solver == "pcg":
        return pcg(A, b, **kwargs)
    kwargs.setdefault("random_state", 0)
    return nystrom_pcg(A, b, 0.0, **kwargs)


SOLVERS = ["pcg", "nystrom_pcg"]


def residual(A, x, b):
    """``‖b − A x‖`` in float64."""
    return np.linalg.norm(np.asarray(b, np.float64) - dense64(A) @ np.asarray(x, np.float64))


def assert_success(A, x, b, rtol, atol=0.0, less_equal=False):
    """SciPy's check: ``‖A x − b‖ < atol + rtol‖b‖`` (``<=`` if ``less_equal``)."""
    err = residual(A, x, b)
    limit = atol + rtol * np.linalg.norm(np.asarray(b, np.float64))
    assert err <= limit if less_equal else err < limit, (err, limit)


def rtol_for(dtype, f64=1e-8, f32=1e-2):
    return f64 if np.dtype(dtype) == np.float64 else f32


# ----------------------------------------------------------------- maxiter, info, callbacks


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("name", CASE_NAMES)
def test_maxiter(name, solver):
    A, b = case(name)
    residuals = []
    _, info = run(solver, A, b, x0=0 * b, rtol=1e-12, maxiter=1,
                  callback=lambda xk: residuals.append(residual(A, xk, b)))
    assert len(residuals) == 1
    if solver == "pcg":
        assert info == 1
    else:
        # DIFF: the Nyström preconditioner may be (nearly) exact, so one iteration can converge;
        # info is 0 only if the residual really is below the tolerance.
        assert info == 1 or (info == 0 and residuals[0] < 1e-12 * np.linalg.norm(b))


@pytest.mark.parametrize("maxiter", [2, 5])
@pytest.mark.parametrize("name", ["poisson1d", "poisson2d"])
def test_maxiter_callback_count_matches_scipy(name, maxiter):
    # info is the number of iterations done, and the callback ran once per iteration, as SciPy.
    A, b = case(name)
    seen, seen_sp = [], []
    x, info = pcg(A, b, rtol=1e-12, maxiter=maxiter, callback=lambda xk: seen.append(xk.copy()))
    x_sp, info_sp = spla.cg(A, b, rtol=1e-12, maxiter=maxiter, callback=lambda xk: seen_sp.append(xk.copy()))
    assert info == info_sp == maxiter == len(seen) == len(seen_sp)
    np.testing.assert_allclose(x, x_sp, rtol=1e-10, atol=1e-12 * np.linalg.norm(x_sp))
    np.testing.assert_array_equal(seen[-1], x)


# -------------------------------------------------------------------------- convergence


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("name", CASE_NAMES)
def test_convergence(name, solver):
    A, b = case(name)
    rtol = rtol_for(A.dtype)
    x0 = 0 * b
    x, info = run(solver, A, b, x0=x0, rtol=rtol)
    np.testing.assert_array_equal(x0, 0 * b)  # x0 is not overwritten
    assert info == 0
    assert x.dtype == A.dtype
    assert_success(A, x, b, rtol)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("name", CASE_NAMES)
def test_agrees_with_scipy_cg(name, solver):
    # Both meet ‖b − A x‖ < rtol‖b‖, so ‖x − x_scipy‖ <= 2 rtol‖b‖ / λ_min(A) (plus rounding).
    A, b = case(name)
    rtol = rtol_for(A.dtype, 1e-10, 1e-3)
    count, count_sp = [0], [0]
    x, info = run(solver, A, b, rtol=rtol, callback=lambda xk: count.__setitem__(0, count[0] + 1))
    x_sp, info_sp = spla.cg(A, b, rtol=rtol, callback=lambda xk: count_sp.__setitem__(0, count_sp[0] + 1))
    assert info == info_sp == 0
    lam_min, lam_max = extreme_eigenvalues(name)
    bound = 2 * rtol * np.linalg.norm(b.astype(np.float64)) / lam_min
    slack = 1e3 * np.finfo(A.dtype).eps * np.linalg.norm(x_sp) * lam_max / lam_min
    assert np.linalg.norm(x.astype(np.float64) - x_sp) <= bound + slack
    if solver == "pcg":
        # The same iteration in exact arithmetic: the same count, up to rounding.
        assert abs(count[0] - count_sp[0]) <= 1
        # And against the exact answer.
        x_ref = np.linalg.solve(dense64(A), b.astype(np.float64))
        assert np.linalg.norm(x - x_ref) <= bound / 2 + slack


# ----------------------------------------------------------------------- preconditioners


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("name", CASE_NAMES)
def test_precond_dummy(name, solver):
    A, b = case(name)
    rtol = rtol_for(A.dtype, 1e-8, 1.4e-3)
    x0 = 0 * b
    if solver == "pcg":
        identity = spla.LinearOperator(A.shape, matvec=lambda v: v, dtype=A.dtype)
        x, info = pcg(A, b, M=identity, x0=x0, rtol=rtol)
        assert info == 0
        assert_success(A, x, b, rtol)
    x, info = run(solver, spla.aslinearoperator(A), b, x0=x0, rtol=rtol)
    assert info == 0
    assert_success(A, x, b, rtol)


@pytest.mark.parametrize("name", ["poisson1d", "poisson2d"])
def test_precond_inverse(name):
    A, b = case(name)
    Ad = dense64(A)
    rtol = 1e-8
    matvecs = [0]

    def matvec(v):
        matvecs[0] += 1
        return A @ v

    op = spla.LinearOperator(A.shape, matvec=matvec, dtype=A.dtype)
    M = spla.LinearOperator(A.shape, matvec=lambda v: np.linalg.solve(Ad, v), dtype=A.dtype)
    x, info = pcg(op, b, M=M, x0=0 * b, rtol=rtol)
    assert info == 0
    assert_success(A, x, b, rtol)
    assert matvecs[0] <= 3  # the exact inverse: nearly instant


@pytest.mark.parametrize("name", ["poisson1d", "rand-sym-pd"])
def test_nystrom_full_rank_is_an_exact_preconditioner(name):
    # nystrom_pcg's counterpart of the exact-inverse preconditioner: a sketch of rank n.
    A, b = case(name)
    n = A.shape[0]
    x, info, res = nystrom_pcg(A, b, 0.0, rank=n, rtol=1e-8, random_state=0, full_output=True)
    assert info == 0
    assert_success(A, x, b, 1e-8)
    assert res.iterations <= 3


# -------------------------------------------------------------------- the tolerance grid

TOLS = [0.0, *np.logspace(-9, 2, 7).tolist(), np.inf]


def _atol_problem():
    rng = np.random.default_rng(20260101)
    A = rng.uniform(size=(10, 10))
    A = A @ A.T + 10 * np.eye(10)
    b = 1e3 * rng.uniform(size=10)
    M0 = rng.standard_normal((10, 10))
    return A, b, M0 @ M0.T


@pytest.mark.parametrize("rtol", TOLS, ids=[f"rtol={t:g}" for t in TOLS])
@pytest.mark.parametrize(
    ("solver", "M"),
    # nystrom_pcg builds its own preconditioner: no M.
    [("pcg", None), ("pcg", 1e-6), ("pcg", 1e6), ("nystrom_pcg", None)],
    ids=["pcg-M=None", "pcg-M=1e-6*M0", "pcg-M=1e6*M0", "nystrom_pcg"],
)
def test_atol(solver, M, rtol):
    A, b, M0 = _atol_problem()
    for atol in TOLS:
        if rtol == 0 and atol == 0:
            continue
        kwargs = {} if M is None else {"M": M * M0}
        x, info = run(solver, A, b, rtol=rtol, atol=atol, **kwargs)
        assert info == 0, (rtol, atol)
        assert np.all(np.isfinite(x))
        assert_success(A, x, b, rtol, atol)


# ------------------------------------------------------------------ zero right-hand side


@pytest.mark.parametrize("solver", SOLVERS)
def test_zero_rhs(solver):
    rng = np.random.default_rng(20260102)
    A = rng.random((10, 10))
    A = A @ A.T + 10 * np.eye(10)
    b = np.zeros(10)
    for tol in np.logspace(-10, 2, 7):
        x, info = run(solver, A, b, rtol=tol)
        assert info == 0
        np.testing.assert_allclose(x, 0.0, atol=1e-15)

        x, info = run(solver, A, b, rtol=tol, x0=np.ones(10))
        assert info == 0
        np.testing.assert_allclose(x, 0.0, atol=tol)

        x, info = run(solver, A, b, rtol=tol, atol=0.0, x0=np.ones(10))
        assert info == 0
        np.testing.assert_allclose(x, 0.0, atol=1e-300)

        for atol in (tol, 0.0):
            x, info = run(solver, A, b, rtol=tol, atol=atol)
            assert info == 0
            np.testing.assert_allclose(x, 0.0, atol=1e-300)


# ------------------------------------------------------------------------- x0 variants


def _random_system():
    rng = np.random.default_rng(20260103)
    A = rng.random((10, 10))
    A = A @ A.T
    return A, rng.random(10), rng.random(10)


@pytest.mark.parametrize("solver", SOLVERS)
def test_x0_working(solver):
    A, b, x0 = _random_system()
    x, info = run(solver, A, b, atol=0.0, rtol=1e-6)
    assert info == 0
    assert_success(A, x, b, 1e-6)
    x, info = run(solver, A, b, x0=x0, atol=0.0, rtol=1e-6)
    assert info == 0
    assert_success(A, x, b, 1e-5)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("name", CASE_NAMES)
def test_x0_equals_Mb(name, solver):
    A, b = case(name)
    x0 = "Mb"
    rtol = rtol_for(A.dtype, 1e-8, 1.5e-3)
    x, info = run(solver, A, b, x0=x0, rtol=rtol)
    assert x0 == "Mb"
    assert info == 0
    assert_success(A, x, b, rtol)


def test_x0_Mb_starts_from_M_times_b():
    # 'Mb' means x0 = M @ b (b itself without M): with M the exact inverse, no iteration is needed.
    A, b = case("rand-sym-pd")
    Ainv = np.linalg.inv(A)
    x, info, res = pcg(A, b, x0="Mb", M=Ainv, rtol=1e-8, full_output=True)
    assert info == 0 and res.iterations == 0
    np.testing.assert_array_equal(x, Ainv @ b)
    x, info, res = pcg(np.eye(9), b, x0="Mb", rtol=1e-8, full_output=True)
    assert info == 0 and res.iterations == 0
    np.testing.assert_array_equal(x, b)


@pytest.mark.parametrize("solver", SOLVERS)
def test_x0_solves_problem_exactly(solver):
    mat = np.eye(2)
    rhs = np.array([-1.0, -1.0])
    sol, info = run(solver, mat, rhs, x0=rhs)
    np.testing.assert_allclose(sol, rhs)
    assert info == 0


# ------------------------------------------------------------------------ argument errors


@pytest.mark.parametrize("solver", SOLVERS)
def test_positional_error(solver):
    A, b, x0 = _random_system()
    with pytest.raises(TypeError):
        run(solver, A, b, x0, 1e-5)  # rtol and the rest are keyword-only


@pytest.mark.parametrize(
    ("atol", "exc"),
    # DIFF: SciPy raises ValueError for all three; our policy is TypeError for the wrong kind.
    [("legacy", TypeError), (None, TypeError), (-1, ValueError)],
    ids=["legacy", "None", "-1"],
)
@pytest.mark.parametrize("solver", SOLVERS)
def test_invalid_atol(solver, atol, exc):
    A, b, _ = _random_system()
    with pytest.raises(exc, match=r"^atol"):
        run(solver, A, b, atol=atol)


@pytest.mark.parametrize("solver", SOLVERS)
def test_nD(solver):
    # A 3-D operator is refused cleanly.
    with pytest.raises(ValueError, match="shape"):
        run(solver, ((2, 2, 2), lambda v: v), np.ones((2, 2)))


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64],
                         ids=["rand-cmplx-sym-pd", "rand-cmplx-sym-pd-F"])
@pytest.mark.parametrize("solver", SOLVERS)
def test_complex_cases_are_refused(solver, dtype):
    # DIFF: SciPy's CG also solves Hermitian positive definite complex systems; ours is real-only
    # and says so instead of casting (the project's validation policy).
    rng = np.random.RandomState(1234)
    G = rng.rand(9, 9) + 1j * rng.rand(9, 9)
    A = (G.conj() @ G.T).astype(dtype)
    b = np.arange(9, dtype=dtype)
    with pytest.raises(ValueError, match=r"^A"):
        run(solver, A, b.real.copy())
    with pytest.raises(ValueError, match=r"^b"):
        run(solver, A.real.copy(), b)
