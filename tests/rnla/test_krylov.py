"""Tests of preconditioned CG (``rnla.pcg``), Nyström PCG (``rnla.nystrom_pcg``) and ``SolveResult``.

Solutions are checked against ``numpy.linalg.solve``; the stopping rule, ``info`` codes,
callbacks and iteration counts against :func:`scipy.sparse.linalg.cg`; ridge solutions
against :class:`sklearn.linear_model.Ridge`. Also covered: every accepted operator form,
float32/float64, warm starts, argument validation, ``hypothesis`` properties, the
``array_api_strict`` dense core and (marked ``gpu``, skipped without one) CuPy.
"""

import array_api_strict as xs
import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from helpers import input_forms, psd_matrix
from helpers import scipy_cg_counted as scipy_cg
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import Ridge

from rnla import GramOperator, NystromPreconditioner, SolveResult, nystrom, nystrom_pcg, pcg

# ----------------------------------------------------------------------------- helpers




def decaying(n, power=2.0):
    return 1.0 / np.arange(1, n + 1, dtype=np.float64) ** power


def spd_problem(n=80, cond=100.0, seed=0, dtype=np.float64):
    """A well-conditioned SPD matrix (eigenvalues spread over [1, cond]) and a right-hand side."""
    A = psd_matrix(np.geomspace(cond, 1.0, n), seed=seed, dtype=dtype)
    b = np.random.default_rng(seed + 1).standard_normal(n).astype(dtype)
    return A, b


def badly_scaled_spd(n=60, seed=0):
    """SPD matrix with a wildly varying diagonal: Jacobi preconditioning matters."""
    rng = np.random.default_rng(seed)
    B = psd_matrix(np.geomspace(10.0, 1.0, n), seed=seed)
    d = np.geomspace(1.0, 1e3, n)[rng.permutation(n)]
    A = np.sqrt(d)[:, None] * B * np.sqrt(d)[None, :]
    return (A + A.T) / 2, rng.standard_normal(n)


def true_residual(A, x, b, mu=0.0):
    A = np.asarray(A, np.float64)
    x = np.asarray(x, np.float64)
    return np.linalg.norm(np.asarray(b, np.float64) - A @ x - mu * x)


def residual_slack(A, x, dtype=np.float64):
    """Allowed gap between the recursive and the true residual (rounding, CG's drift)."""
    return 100 * np.finfo(dtype).eps * np.linalg.norm(np.asarray(A, np.float64), 2) * np.linalg.norm(x)




def rel_err(x, ref):
    x = np.asarray(x, np.float64)
    return np.linalg.norm(x - ref) / np.linalg.norm(ref)


def counting_matvec(A, nan_after=None):
    """A matvec callable counting its calls; from call ``nan_after`` on it returns NaN."""
    calls = [0]

    def matvec(v):
        calls[0] += 1
        if nan_after is not None and calls[0] > nan_after:
            return np.full(A.shape[0], np.nan)
        return A @ v

    return matvec, calls


# ------------------------------------------------------------------ accuracy


@pytest.mark.parametrize("n", [1, 2, 10, 80])
def test_pcg_matches_numpy_solve(n):
    A, b = spd_problem(n, cond=100.0, seed=n)
    x, info = pcg(A, b, rtol=1e-10)
    assert info == 0
    assert x.shape == (n,) and x.dtype == np.float64
    assert rel_err(x, np.linalg.solve(A, b)) <= 1e-7


@pytest.mark.parametrize("mu", [1e-4, 1e-2, 1.0])
@pytest.mark.parametrize("rank", ["auto", 20, 60])
def test_nystrom_pcg_matches_numpy_solve(mu, rank):
    n = 120
    A = psd_matrix(decaying(n), seed=2)
    b = np.random.default_rng(3).standard_normal(n)
    x, info = nystrom_pcg(A, b, mu, rank=rank, rtol=1e-10, random_state=4)
    assert info == 0
    ref = np.linalg.solve(A + mu * np.eye(n), b)
    assert rel_err(x, ref) <= 1e-7


@pytest.mark.parametrize(
    ("rtol", "atol"), [(1e-6, 0.0), (1e-3, 0.0), (0.0, 1e-5), (1e-8, 1e-4), (1e-4, 1e-12)]
)
def test_residual_bound_scipy_rule(rtol, atol):
    A, b = spd_problem(100, cond=1e3, seed=5)
    b = 10.0 * b  # ‖b‖ ≠ 1, so rtol and atol scale differently
    tol = max(rtol * np.linalg.norm(b), atol)
    x, info, res = pcg(A, b, rtol=rtol, atol=atol, full_output=True)
    assert info == 0
    assert true_residual(A, x, b) <= tol + residual_slack(A, x)
    assert res.residual_norms[-1] < tol
    # It stops at the first iterate that meets the rule, not later.
    assert all(r >= tol for r in res.residual_norms[:-1])
    assert len(res.residual_norms) == res.iterations + 1


@pytest.mark.parametrize(("rtol", "atol"), [(1e-6, 0.0), (1e-9, 0.0), (0.0, 1e-3), (1e-2, 1e-8)])
def test_nystrom_pcg_residual_bound(rtol, atol):
    n, mu = 150, 1e-3
    A = psd_matrix(decaying(n), seed=6)
    b = 3.0 * np.random.default_rng(7).standard_normal(n)
    tol = max(rtol * np.linalg.norm(b), atol)
    x, info, res = nystrom_pcg(A, b, mu, rtol=rtol, atol=atol, random_state=8, full_output=True)
    assert info == 0
    assert true_residual(A, x, b, mu) <= tol + residual_slack(A + mu * np.eye(n), x)
    assert res.residual_norms[-1] < tol
    assert all(r >= tol for r in res.residual_norms[:-1])


# ----------------------------------------------------------- agreement with SciPy


@pytest.mark.parametrize("rtol", [1e-4, 1e-8])
@pytest.mark.parametrize("warm", [False, True])
def test_agrees_with_scipy_cg_unpreconditioned(rtol, warm):
    # Good conditioning: CG converges in far fewer than n steps (no loss of orthogonality), so
    # rounding differences between the two implementations cannot change the iteration count.
    A, b = spd_problem(200, cond=10.0, seed=9)
    x0 = np.random.default_rng(10).standard_normal(200) if warm else None
    x_sp, info_sp, it_sp = scipy_cg(A, b, x0=None if x0 is None else x0.copy(), rtol=rtol)
    iterates = []
    x, info, res = pcg(A, b, x0=x0, rtol=rtol, callback=iterates.append, full_output=True)
    assert info == info_sp == 0
    assert len(iterates) == res.iterations == it_sp
    # One product per iteration, one for x0, one for the true-residual check at convergence.
    assert res.matvecs == it_sp + 1 + (1 if warm else 0)
    np.testing.assert_allclose(x, x_sp, rtol=0, atol=1e-9 * np.linalg.norm(x_sp))


@pytest.mark.parametrize("form", ["sparse", "dense", "LinearOperator", "tuple"])
def test_agrees_with_scipy_cg_jacobi(form):
    A, b = badly_scaled_spd(60, seed=11)
    d = np.diag(A)
    M_sp = spla.LinearOperator(A.shape, matvec=lambda r: r / d, dtype=np.float64)
    M = {
        "sparse": sp.diags(1.0 / d).tocsr(),
        "dense": np.diag(1.0 / d),
        "LinearOperator": M_sp,
        "tuple": (A.shape, lambda r: r / d),
    }[form]
    x_sp, info_sp, it_sp = scipy_cg(A, b, rtol=1e-8, M=M_sp)
    _, _, it_plain = scipy_cg(A, b, rtol=1e-8, maxiter=10_000)
    count = [0]
    x, info = pcg(A, b, rtol=1e-8, M=M, callback=lambda xk: count.__setitem__(0, count[0] + 1))
    assert info == info_sp == 0
    assert count[0] == it_sp
    assert it_sp < it_plain  # Jacobi really helps on this problem
    np.testing.assert_allclose(x, x_sp, rtol=0, atol=1e-9 * np.linalg.norm(x_sp))
    assert rel_err(x, np.linalg.solve(A, b)) <= 1e-5


def test_maxiter_agrees_with_scipy():
    A, b = spd_problem(60, cond=1e4, seed=12)
    x_sp, info_sp = spla.cg(A, b, rtol=1e-12, maxiter=7)
    x, info, res = pcg(A, b, rtol=1e-12, maxiter=7, full_output=True)
    assert info == info_sp == 7 == res.iterations
    np.testing.assert_allclose(x, x_sp, rtol=0, atol=1e-10 * np.linalg.norm(x_sp))


# -------------------------------------------------------------------- info codes


@pytest.mark.parametrize("maxiter", [1, 3, 10])
def test_info_is_maxiter_when_not_converged(maxiter):
    A, b = spd_problem(80, cond=1e4, seed=13)
    iterates = []
    x, info, res = pcg(A, b, rtol=1e-12, maxiter=maxiter, callback=iterates.append, full_output=True)
    assert info == maxiter == res.info == res.iterations == len(iterates)
    assert not res.converged
    assert "maxiter" in res.message
    assert len(res.residual_norms) == maxiter + 1
    assert res.residual_norms[-1] >= 1e-12 * np.linalg.norm(b)
    assert np.all(np.isfinite(x))
    np.testing.assert_array_equal(x, iterates[-1])


def test_nystrom_pcg_maxiter():
    n = 100
    A = psd_matrix(decaying(n, 1.0), seed=14)
    b = np.random.default_rng(15).standard_normal(n)
    x, info, res = nystrom_pcg(A, b, 1e-8, rank=5, rtol=1e-14, maxiter=2, random_state=0, full_output=True)
    assert info == 2 == res.iterations
    assert np.all(np.isfinite(x))
    assert res.matvecs == 5 + 2


@pytest.mark.parametrize("last", [-0.5, -5.0, -100.0])
def test_info_minus_one_for_indefinite_operator(last):
    n = 20
    A = np.diag(np.r_[np.linspace(1.0, 2.0, n - 1), last])
    b = np.ones(n)
    iterates = []
    x, info, res = pcg(A, b, rtol=1e-12, callback=iterates.append, full_output=True)
    assert info == -1 == res.info
    assert "positive definite" in res.message
    assert np.all(np.isfinite(x))
    # x is the last iterate reached before the breakdown.
    np.testing.assert_array_equal(x, iterates[-1] if iterates else np.zeros(n))


def test_info_minus_one_nystrom_pcg_indefinite_callable():
    # A callable cannot be checked for definiteness up front; CG must report it.
    n = 30
    lam = np.r_[np.linspace(1.0, 2.0, n - 1), -50.0]
    A = psd_matrix(lam, seed=16)
    op = ((n, n), lambda v: A @ v)
    b = np.random.default_rng(17).standard_normal(n)
    with pytest.raises(ValueError, match="positive semidefinite"):
        nystrom_pcg(op, b, 1e-3, rank=n, random_state=0)
    x, info = pcg(op, b, rtol=1e-12)
    assert info == -1
    assert np.all(np.isfinite(x))


@pytest.mark.parametrize(
    "M",
    [
        pytest.param(-np.eye(20), id="negative-definite"),
        pytest.param(np.diag(np.r_[np.ones(19), -0.5]), id="one-negative"),
    ],
)
@pytest.mark.parametrize("scale", [1.0, 1e-4])
def test_info_minus_two_for_indefinite_preconditioner(M, scale):
    A = np.eye(20) + np.diag(np.arange(20.0))
    b = scale * np.ones(20)
    x, info, res = pcg(A, b, rtol=1e-12, M=scale * M, full_output=True)
    assert info == -2 == res.info
    assert "preconditioner" in res.message
    assert np.all(np.isfinite(x))


@pytest.mark.parametrize("nan_after", [0, 1, 4])
def test_info_minus_three_for_nan_operator(nan_after):
    A, b = spd_problem(30, cond=100.0, seed=18)
    matvec, calls = counting_matvec(A, nan_after=nan_after)
    iterates = []
    x, info, res = pcg((A.shape, matvec), b, rtol=1e-12, callback=iterates.append, full_output=True)
    assert info == -3 == res.info
    assert "NaN" in res.message
    assert np.all(np.isfinite(x))
    assert res.iterations == len(iterates) == nan_after
    assert calls[0] == nan_after + 1  # it stops at the first NaN product
    np.testing.assert_array_equal(x, iterates[-1] if iterates else np.zeros(30))


def test_info_minus_three_with_x0_keeps_x0():
    A, b = spd_problem(30, cond=100.0, seed=19)
    matvec, _ = counting_matvec(A, nan_after=0)
    x0 = np.full(30, 0.5)
    x, info = pcg((A.shape, matvec), b, x0=x0, rtol=1e-12)
    assert info == -3
    np.testing.assert_array_equal(x, x0)


def test_info_minus_three_for_nan_preconditioner():
    A, b = spd_problem(30, cond=100.0, seed=20)
    x, info = pcg(A, b, rtol=1e-12, M=((30, 30), lambda r: np.full(30, np.nan)))
    assert info == -3
    assert np.all(np.isfinite(x))


def test_info_minus_three_nystrom_pcg_nan_after_sketch():
    # The sketch succeeds; NaN appears in a CG product later.
    n = 40
    A = psd_matrix(decaying(n), seed=21)
    b = np.random.default_rng(22).standard_normal(n)
    good = [True]

    def matvec(v):
        return A @ v if good[0] else np.full(n, np.nan)

    def matmat(V):
        return A @ V

    def callback(xk):
        good[0] = False

    x, info = nystrom_pcg(((n, n), matvec, matmat), b, 1e-6, rank=5, rtol=1e-14, callback=callback,
                          random_state=0)
    assert info == -3
    assert np.all(np.isfinite(x))


# ----------------------------------------------------------- b = 0, x0, callback


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zero_rhs_returns_zeros(dtype):
    A, _ = spd_problem(20, seed=23, dtype=dtype)
    b = np.zeros(20, dtype=dtype)
    for x0 in (None, np.ones(20, dtype=dtype)):
        x, info, res = pcg(A, b, x0=x0, full_output=True)
        assert info == 0 and res.iterations == 0
        assert x.dtype == dtype and x.shape == (20,)
        np.testing.assert_array_equal(x, 0.0)
        x, info, res = nystrom_pcg(A, b, 1e-3, x0=x0, random_state=0, full_output=True)
        assert info == 0 and res.iterations == 0
        assert x.dtype == dtype
        np.testing.assert_array_equal(x, 0.0)


def test_warm_start_from_exact_solution_takes_zero_iterations():
    A, b = spd_problem(50, cond=100.0, seed=24)
    x_true = np.linalg.solve(A, b)
    x0 = x_true.copy()
    x, info, res = pcg(A, b, x0=x0, rtol=1e-8, full_output=True)
    assert info == 0
    assert res.iterations == 0 and res.matvecs == 1
    np.testing.assert_array_equal(x, x_true)
    np.testing.assert_array_equal(x0, x_true)
    x[:] = 0.0  # the result does not alias the caller's x0
    np.testing.assert_array_equal(x0, x_true)

    n, mu = 60, 1e-3
    A = psd_matrix(decaying(n), seed=25)
    x_true = np.random.default_rng(25).standard_normal(n)
    rhs = A @ x_true + mu * x_true
    x, info, res = nystrom_pcg(A, rhs, mu, x0=x_true, rank=10, rtol=1e-8, random_state=0, full_output=True)
    assert info == 0 and res.iterations == 0 and res.matvecs == 10 + 1


def test_warm_start_near_solution_needs_fewer_iterations():
    A, b = spd_problem(80, cond=1e4, seed=26)
    x_true = np.linalg.solve(A, b)
    x0 = x_true + 1e-6 * np.random.default_rng(27).standard_normal(80)
    x0_copy = x0.copy()
    _, info_cold, cold = pcg(A, b, rtol=1e-10, full_output=True)
    x, info_warm, warm = pcg(A, b, x0=x0, rtol=1e-10, full_output=True)
    assert info_cold == info_warm == 0
    assert warm.iterations < cold.iterations
    assert warm.matvecs == warm.iterations + 2 and cold.matvecs == cold.iterations + 1
    np.testing.assert_array_equal(x0, x0_copy)  # not modified in place
    assert rel_err(x, x_true) <= 1e-7

    n, mu = 120, 1e-4
    A = psd_matrix(decaying(n), seed=28)
    b = np.random.default_rng(29).standard_normal(n)
    x_true = np.linalg.solve(A + mu * np.eye(n), b)
    x0 = x_true * (1 + 1e-6)
    x0_copy = x0.copy()
    _, _, cold = nystrom_pcg(A, b, mu, rank=30, rtol=1e-12, random_state=0, full_output=True)
    _, _, warm = nystrom_pcg(A, b, mu, rank=30, x0=x0, rtol=1e-12, random_state=0, full_output=True)
    assert warm.iterations < cold.iterations
    np.testing.assert_array_equal(x0, x0_copy)


def test_x0_column_vector_accepted():
    A, b = spd_problem(20, seed=30)
    x0 = np.ones((20, 1))
    x, info = pcg(A, b[:, None], x0=x0, rtol=1e-10)
    assert info == 0 and x.shape == (20,)
    np.testing.assert_array_equal(x0, 1.0)
    assert rel_err(x, np.linalg.solve(A, b)) <= 1e-7


def test_callback_once_per_iteration_with_current_iterate():
    A, b = spd_problem(60, cond=1e3, seed=31)
    iterates = []
    x, info, res = pcg(A, b, rtol=1e-10, callback=lambda xk: iterates.append(np.array(xk, copy=True)),
                       full_output=True)
    assert info == 0
    assert len(iterates) == res.iterations > 5
    np.testing.assert_array_equal(iterates[-1], x)
    # Iterate k has the k-th (recursively updated) residual norm.
    for k, xk in enumerate(iterates, start=1):
        np.testing.assert_allclose(true_residual(A, xk, b), res.residual_norms[k], rtol=1e-6,
                                   atol=1e-10 * np.linalg.norm(b))
    # Iterates are distinct (x is not one buffer mutated in place under the callback's feet).
    kept = []
    pcg(A, b, rtol=1e-10, callback=kept.append)
    assert not np.array_equal(kept[0], kept[-1])

    iterates = []
    x, info, res = nystrom_pcg(A, b, 1e-2, rank=10, rtol=1e-10, callback=iterates.append, random_state=0,
                               full_output=True)
    assert len(iterates) == res.iterations
    np.testing.assert_array_equal(iterates[-1], x)


# ------------------------------------------------------------- iteration counts


def test_nystrom_pcg_iterations_far_below_plain_cg():
    n, mu = 400, 1e-6
    A = psd_matrix(decaying(n), seed=32)
    b = np.random.default_rng(33).standard_normal(n)
    Amu = A + mu * np.eye(n)
    _, info_plain, plain = pcg(Amu, b, rtol=1e-8, full_output=True)
    x, info, res = nystrom_pcg(A, b, mu, rank="auto", rtol=1e-8, random_state=34, full_output=True)
    assert info == 0 and info_plain == 0
    assert res.iterations * 5 <= plain.iterations
    ref = np.linalg.solve(Amu, b)
    assert rel_err(x, ref) <= 1e-5
    # Fixed-rank variants also help a lot.
    _, info, res = nystrom_pcg(A, b, mu, rank=200, rtol=1e-8, random_state=34, full_output=True)
    assert info == 0 and res.iterations * 5 <= plain.iterations


def test_nystrom_preconditioner_gives_constant_iterations_on_ridge():
    rng = np.random.default_rng(35)
    X = rng.standard_normal((600, 150)) / np.arange(1, 151) ** 1.5
    y = rng.standard_normal(600)
    H = GramOperator(X)
    mu = 1e-5
    rhs = X.T @ y / 600
    _, _, plain = pcg(GramOperator(X, mu=mu), rhs, rtol=1e-10, full_output=True)
    _, info, res = nystrom_pcg(H, rhs, mu, rtol=1e-10, random_state=36, full_output=True)
    assert info == 0
    assert res.iterations <= 40
    assert res.iterations * 3 <= plain.iterations


# ------------------------------------------------------------------ full_output


def test_solve_result_fields_pcg():
    A, b = spd_problem(40, seed=37)
    x, info, res = pcg(A, b, rtol=1e-8, full_output=True)
    assert isinstance(res, SolveResult)
    assert res.info == info == 0 and res.converged
    assert res.message == "converged"
    assert res.matvecs == res.iterations + 1  # the true-residual check
    assert len(res.residual_norms) == res.iterations + 1
    np.testing.assert_allclose(res.residual_norms[0], np.linalg.norm(b))
    assert res.rank is None and res.sketch_matvecs == 0 and res.preconditioner is None
    # Without full_output, exactly two values.
    out = pcg(A, b, rtol=1e-8)
    assert isinstance(out, tuple) and len(out) == 2
    np.testing.assert_array_equal(out[0], x)


@pytest.mark.parametrize("warm", [False, True])
def test_solve_result_fields_nystrom_pcg(warm):
    n, mu = 100, 1e-3
    A = psd_matrix(decaying(n), seed=38)
    b = np.random.default_rng(39).standard_normal(n)
    x0 = np.full(n, 0.1) if warm else None
    x, info, res = nystrom_pcg(A, b, mu, rank=25, x0=x0, rtol=1e-10, random_state=40, full_output=True)
    assert info == 0 == res.info and res.converged and res.message == "converged"
    assert rel_err(x, np.linalg.solve(A + mu * np.eye(n), b)) <= 1e-7
    assert res.rank == 25 and res.sketch_matvecs == 25
    assert res.matvecs == res.sketch_matvecs + res.iterations + 1 + (1 if warm else 0)
    assert len(res.residual_norms) == res.iterations + 1
    assert res.residual_norms[-1] < 1e-10 * np.linalg.norm(b)
    P = res.preconditioner
    assert isinstance(P, NystromPreconditioner)
    assert P.mu == mu and P.rank == 25 and P.shape == (n, n)
    out = nystrom_pcg(A, b, mu, rank=25, x0=x0, rtol=1e-10, random_state=40)
    assert len(out) == 2

    # The preconditioner is reusable for another right-hand side with rnla.pcg ...
    b2 = np.random.default_rng(41).standard_normal(n)
    Amu = A + mu * np.eye(n)
    x2, info2, res2 = pcg(Amu, b2, rtol=1e-10, M=P, full_output=True)
    assert info2 == 0
    assert rel_err(x2, np.linalg.solve(Amu, b2)) <= 1e-7
    _, _, res_plain = pcg(Amu, b2, rtol=1e-10, full_output=True)
    assert res2.iterations < res_plain.iterations
    # ... and with SciPy, giving the same iteration count as nystrom_pcg on the same problem.
    _, info_sp, it_sp = scipy_cg(Amu, b, rtol=1e-10, M=P.as_linear_operator(),
                                 x0=None if x0 is None else x0.copy())
    assert info_sp == 0 and it_sp == res.iterations
    # ... and in rnla.pcg as an Operator or LinearOperator too.
    for M in (P.as_operator(), P.as_linear_operator()):
        x3, info3 = pcg(Amu, b2, rtol=1e-10, M=M)
        assert info3 == 0
        np.testing.assert_allclose(x3, x2, rtol=0, atol=1e-12 * np.linalg.norm(x2))


# ------------------------------------------------------------------ rank options


@pytest.mark.parametrize("rank", [1, 7, 40, 90])
def test_integer_rank_is_the_sketch_size(rank):
    n = 90
    A = psd_matrix(decaying(n), seed=42)
    b = np.random.default_rng(43).standard_normal(n)
    matvec, _ = counting_matvec(A)
    columns = [0]

    def matmat(V):
        columns[0] += V.shape[1]
        return A @ V

    x, info, res = nystrom_pcg(((n, n), matvec, matmat), b, 1e-3, rank=rank, rtol=1e-10,
                               random_state=0, full_output=True)
    assert info == 0
    assert res.sketch_matvecs == rank == columns[0]
    assert res.rank <= rank
    assert res.preconditioner.rank == res.rank
    assert rel_err(x, np.linalg.solve(A + 1e-3 * np.eye(n), b)) <= 1e-7


@pytest.mark.parametrize("max_rank", [1, 10, 33, 50])
def test_auto_rank_respects_max_rank(max_rank):
    n = 200
    A = psd_matrix(decaying(n), seed=44)
    b = np.random.default_rng(45).standard_normal(n)
    columns = [0]

    def matmat(V):
        columns[0] += V.shape[1]
        return A @ V

    x, info, res = nystrom_pcg(((n, n), lambda v: A @ v, matmat), b, 1e-8, rank="auto", max_rank=max_rank,
                               rtol=1e-10, random_state=0, full_output=True)
    assert info == 0
    assert res.sketch_matvecs == max_rank == columns[0]  # 1e-8 is never reached before the cap
    assert res.rank <= max_rank
    assert rel_err(x, np.linalg.solve(A + 1e-8 * np.eye(n), b)) <= 1e-4


def test_auto_rank_default_cap_is_n_for_small_problems():
    n = 50
    A = psd_matrix(decaying(n, 4.0), seed=46)
    b = np.random.default_rng(47).standard_normal(n)
    _, info, res = nystrom_pcg(A, b, 1e-14, rtol=1e-8, random_state=0, full_output=True)
    assert info == 0
    assert res.sketch_matvecs == n


def test_auto_rank_stops_early_with_large_mu():
    n = 300
    A = psd_matrix(decaying(n), seed=48)
    b = np.random.default_rng(49).standard_normal(n)
    # λ_32 ≈ 1e-3 <= 10 μ: the first block of 32 columns suffices.
    _, info, res = nystrom_pcg(A, b, 1e-3, rtol=1e-8, random_state=0, full_output=True)
    assert info == 0
    assert res.sketch_matvecs == 32
    # Smaller μ needs a larger sketch, from the doubling schedule.
    _, info, res = nystrom_pcg(A, b, 1e-5, rtol=1e-8, random_state=0, full_output=True)
    assert info == 0
    assert res.sketch_matvecs in (64, 128, 256, 300)
    assert res.sketch_matvecs >= 64


def test_nystrom_pcg_reproducible_by_seed():
    n = 100
    A = psd_matrix(decaying(n), seed=50)
    b = np.random.default_rng(51).standard_normal(n)
    kw = dict(rank=10, rtol=1e-6, full_output=True)
    x1, _, r1 = nystrom_pcg(A, b, 1e-4, random_state=5, **kw)
    x2, _, r2 = nystrom_pcg(A, b, 1e-4, random_state=5, **kw)
    x3, _, r3 = nystrom_pcg(A, b, 1e-4, random_state=np.random.default_rng(5), **kw)
    x4, _, _ = nystrom_pcg(A, b, 1e-4, random_state=6, **kw)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(x1, x3)
    assert r1.iterations == r2.iterations == r3.iterations
    assert not np.array_equal(x1, x4)


# ------------------------------------------------------------------------- errors


@pytest.fixture
def small_problem():
    A = psd_matrix(decaying(10), seed=52)
    b = np.random.default_rng(53).standard_normal(10)
    return A, b


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(rank="foo"), ValueError, "rank"),
        (dict(rank="AUTO"), ValueError, "rank"),
        (dict(rank=0), ValueError, "rank"),
        (dict(rank=-3), ValueError, "rank"),
        (dict(rank=11), ValueError, "rank"),
        (dict(rank=2.5), TypeError, "rank"),
        (dict(rank=None), TypeError, "rank"),
        (dict(mu=-1e-3), ValueError, "mu"),
        (dict(mu=np.nan), ValueError, "mu"),
        (dict(mu="1"), TypeError, "mu"),
        (dict(rtol=-1e-6), ValueError, "rtol"),
        (dict(rtol=np.nan), ValueError, "rtol"),
        (dict(atol=-1.0), ValueError, "atol"),
        (dict(maxiter=0), ValueError, "maxiter"),
        (dict(maxiter=2.5), TypeError, "maxiter"),
        (dict(max_rank=0), ValueError, "max_rank"),
        (dict(max_rank=11), ValueError, "max_rank"),
        (dict(random_state="seed"), TypeError, "random_state"),
        (dict(x0=np.ones(9)), ValueError, "x0"),
        (dict(x0=np.full(10, np.nan)), ValueError, "x0"),
        (dict(x0=np.r_[np.ones(9), np.inf]), ValueError, "x0"),
    ],
)
def test_nystrom_pcg_invalid_arguments(small_problem, kwargs, exc, match):
    A, b = small_problem
    kwargs = {"mu": 1e-3, **kwargs}
    with pytest.raises(exc, match=match):
        nystrom_pcg(A, b, **kwargs)


@pytest.mark.parametrize(
    ("bad_b", "exc", "match"),
    [
        (np.ones(9), ValueError, "b"),
        (np.ones((9, 2)), ValueError, "b"),  # (n, k) blocks are valid (tests/rnla/test_krylov_block.py)
        (np.ones((10, 2, 1)), ValueError, "b"),
        (np.ones((10, 0)), ValueError, "b"),
        (np.ones((2, 5)), ValueError, "b"),
        (np.r_[np.ones(9), np.nan], ValueError, "b contains NaN"),
        (np.r_[np.ones(9), np.inf], ValueError, "b contains NaN or inf"),
        ([1.0] * 10, TypeError, "b"),
    ],
)
@pytest.mark.parametrize("solver", ["pcg", "nystrom_pcg"])
def test_invalid_rhs(small_problem, bad_b, exc, match, solver):
    A, _ = small_problem
    with pytest.raises(exc, match=match):
        if solver == "pcg":
            pcg(A, bad_b)
        else:
            nystrom_pcg(A, bad_b, 1e-3)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(rtol=-1.0), ValueError, "rtol"),
        (dict(atol=-1.0), ValueError, "atol"),
        (dict(maxiter=0), ValueError, "maxiter"),
        (dict(x0=np.ones(3)), ValueError, "x0"),
        (dict(x0=np.full(10, np.nan)), ValueError, "x0"),
        (dict(M=np.eye(9)), ValueError, "M"),
        (dict(M="jacobi"), TypeError, "M"),
    ],
)
def test_pcg_invalid_arguments(small_problem, kwargs, exc, match):
    A, b = small_problem
    with pytest.raises(exc, match=match):
        pcg(A, b, **kwargs)


def test_invalid_operators(small_problem):
    _, b = small_problem
    with pytest.raises(ValueError, match="square"):
        pcg(np.ones((10, 9)), b)
    with pytest.raises(ValueError, match="symmetric"):
        pcg(np.triu(np.ones((10, 10))), b)
    with pytest.raises(ValueError, match="symmetric"):
        nystrom_pcg(sp.csr_matrix(np.triu(np.ones((10, 10)))), b, 1e-3)
    A = np.eye(10)
    A[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        nystrom_pcg(A, b, 1e-3)
    with pytest.raises(TypeError, match="A"):
        pcg("matrix", b)
    with pytest.raises(TypeError):
        pcg(((10, 10), "not callable"), b)
    with pytest.raises(ValueError, match=r"^A must hold real numbers"):
        pcg(np.eye(10) * (1 + 1j), b)


# ------------------------------------------------------------------ input types


@pytest.mark.parametrize("make", input_forms())
def test_input_forms_pcg(make):
    A, b = spd_problem(50, cond=100.0, seed=54)
    A[np.abs(A) < 0.5] = 0.0  # some sparsity, still symmetric
    A += 10 * np.eye(50)  # and comfortably SPD
    x, info = pcg(make(A), b, rtol=1e-10)
    assert info == 0 and x.dtype == np.float64 and x.shape == (50,)
    assert rel_err(x, np.linalg.solve(A, b)) <= 1e-7


@pytest.mark.parametrize("make", input_forms())
@pytest.mark.parametrize("rank", ["auto", 15])
def test_input_forms_nystrom_pcg(make, rank):
    n, mu = 80, 1e-3
    A = psd_matrix(decaying(n), seed=55)
    b = np.random.default_rng(56).standard_normal(n)
    x, info, res = nystrom_pcg(make(A), b, mu, rank=rank, rtol=1e-10, random_state=57, full_output=True)
    assert info == 0 and x.dtype == np.float64
    assert rel_err(x, np.linalg.solve(A + mu * np.eye(n), b)) <= 1e-7
    # Same sketch, hence the same preconditioner and iterations (up to rounding), whatever
    # the input form.
    _, _, ref = nystrom_pcg(A, b, mu, rank=rank, rtol=1e-10, random_state=57, full_output=True)
    assert res.sketch_matvecs == ref.sketch_matvecs
    assert abs(res.iterations - ref.iterations) <= 1
    np.testing.assert_allclose(res.preconditioner.eigvals, ref.preconditioner.eigvals, rtol=1e-8)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("mu", [1e-4, 1e-2])
def test_ridge_matches_sklearn(sparse, mu):
    rng = np.random.default_rng(58)
    n, d = 300, 60
    X = rng.standard_normal((n, d)) * (1.0 / np.arange(1, d + 1))
    X[rng.random((n, d)) < 0.6] = 0.0
    y = X @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)
    Xin = sp.csr_matrix(X) if sparse else X
    H = GramOperator(Xin)
    rhs = np.asarray(Xin.T @ y) / n
    w, info = nystrom_pcg(H, rhs, mu, rtol=1e-12, random_state=59)
    assert info == 0
    coef = Ridge(alpha=n * mu, fit_intercept=False, solver="cholesky").fit(Xin, y).coef_
    assert rel_err(w, coef) <= 1e-8
    # Plain PCG on the shifted Gram operator gives the same answer.
    w2, info = pcg(GramOperator(Xin, mu=mu), rhs, rtol=1e-12)
    assert info == 0 and rel_err(w2, coef) <= 1e-8


def test_integer_inputs_compute_in_float64():
    A = np.array([[4, 1, 0], [1, 3, 1], [0, 1, 2]])
    b = np.array([1, 2, 3])
    ref = np.linalg.solve(A, b)
    x, info = pcg(A, b, rtol=1e-12)
    assert info == 0 and x.dtype == np.float64 and rel_err(x, ref) <= 1e-10
    x, info = nystrom_pcg(A, b, 0.0, rank=3, rtol=1e-12, random_state=0)
    assert info == 0 and x.dtype == np.float64 and rel_err(x, ref) <= 1e-10
    x, info = nystrom_pcg(((3, 3), lambda v: A @ v), b, 0.0, rtol=1e-12, random_state=0)
    assert info == 0 and x.dtype == np.float64 and rel_err(x, ref) <= 1e-10


# ------------------------------------------------------------------------ dtypes


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("solver", ["pcg", "nystrom_pcg"])
def test_dtype_is_preserved(dtype, solver):
    n, mu = 60, 1e-2
    A = psd_matrix(decaying(n), seed=60, dtype=dtype)
    b = np.random.default_rng(61).standard_normal(n).astype(dtype)
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    if solver == "pcg":
        x, info = pcg(A + dtype(mu) * np.eye(n, dtype=dtype), b, rtol=rtol)
    else:
        x, info = nystrom_pcg(A, b, mu, rtol=rtol, random_state=0)
    assert info == 0
    assert x.dtype == dtype
    Amu = A.astype(np.float64) + mu * np.eye(n)
    assert true_residual(Amu, x, b) <= rtol * np.linalg.norm(b.astype(np.float64)) * 1.5
    assert rel_err(x, np.linalg.solve(Amu, b.astype(np.float64))) <= (1e-2 if dtype == np.float32 else 1e-7)


@pytest.mark.parametrize("make", input_forms())
def test_float32_input_forms(make):
    n, mu = 60, 1e-2
    A = psd_matrix(decaying(n), seed=62, dtype=np.float32)
    b = np.random.default_rng(63).standard_normal(n).astype(np.float32)
    x, info = nystrom_pcg(make(A), b, mu, rank=20, rtol=1e-4, random_state=0)
    assert info == 0 and x.dtype == np.float32
    Amu = A.astype(np.float64) + mu * np.eye(n)
    assert true_residual(Amu, x, b) <= 1.5e-4 * np.linalg.norm(b)


def test_float32_gram_operator():
    rng = np.random.default_rng(64)
    X = (rng.standard_normal((200, 40)) / np.arange(1, 41)).astype(np.float32)
    y = rng.standard_normal(200).astype(np.float32)
    rhs = X.T @ y / np.float32(200)
    for Xin in (X, sp.csr_matrix(X)):
        w, info = nystrom_pcg(GramOperator(Xin), rhs, 1e-3, rtol=1e-4, random_state=0)
        assert info == 0 and w.dtype == np.float32
        H = X.astype(np.float64).T @ X.astype(np.float64) / 200 + 1e-3 * np.eye(40)
        assert true_residual(H, w, rhs) <= 1.5e-4 * np.linalg.norm(rhs)


def test_mixed_precision_promotes():
    A, b = spd_problem(30, seed=65)
    # If float32 A computes its products with float32 accuracy, a true residual of 1e-10 is out
    # of reach, and info says so instead of trusting the drifting recursive residual.
    x, info = pcg(A.astype(np.float32), b, rtol=1e-10, maxiter=100)
    assert x.dtype == np.float64
    A32 = A.astype(np.float32)
    assert (0 < info <= 100 and true_residual(A32, x, b) > 1e-10 * np.linalg.norm(b)) or (
        info == 0 and true_residual(A32, x, b) < 1e-10 * np.linalg.norm(b))
    x, info = pcg(A.astype(np.float32), b, rtol=1e-5)
    assert info == 0 and x.dtype == np.float64
    assert true_residual(A.astype(np.float32), x, b) < 1e-5 * np.linalg.norm(b)
    x, info = nystrom_pcg(A, b.astype(np.float32), 1e-3, rtol=1e-10, random_state=0)
    assert info == 0 and x.dtype == np.float64


# -------------------------------------------------------------------- hypothesis


@settings(max_examples=25)
@given(
    n=st.integers(2, 80),
    dtype=st.sampled_from([np.float32, np.float64]),
    power=st.floats(0.5, 3.0),
    rank=st.one_of(st.just("auto"), st.integers(1, 80)),
    log_mu=st.floats(-4.0, 0.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_nystrom_pcg_solves(n, dtype, power, rank, log_mu, seed):
    mu = 10.0**log_mu
    A = psd_matrix(decaying(n, power), seed=seed, dtype=dtype)
    b = np.random.default_rng(seed).standard_normal(n).astype(dtype)
    if rank != "auto":
        rank = min(rank, n)
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    x, info, res = nystrom_pcg(A, b, mu, rank=rank, rtol=rtol, random_state=seed, full_output=True)
    assert info == 0
    assert x.dtype == dtype
    assert np.all(np.isfinite(x))
    assert res.residual_norms[-1] < rtol * np.linalg.norm(b)
    Amu = A.astype(np.float64) + mu * np.eye(n)
    bnorm = np.linalg.norm(b.astype(np.float64))
    assert true_residual(Amu, x, b) <= rtol * bnorm + residual_slack(Amu, x, dtype) + rtol * bnorm * 0.5
    ref = np.linalg.solve(Amu, b.astype(np.float64))
    cond = np.linalg.cond(Amu)
    assert rel_err(x, ref) <= 2 * cond * rtol + 1e3 * cond * np.finfo(dtype).eps


# -------------------------------------------------------------- array_api_strict


def to_numpy(x):
    return np.from_dlpack(x)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_array_api_strict_pcg(dtype):
    A, b = spd_problem(40, cond=50.0, seed=66, dtype=np.dtype(dtype))
    As, bs = xs.asarray(A), xs.asarray(b)
    rtol = 1e-5 if dtype == "float32" else 1e-10
    x, info, res = pcg(As, bs, rtol=rtol, full_output=True)
    x_np, info_np, res_np = pcg(A, b, rtol=rtol, full_output=True)
    assert info == info_np == 0
    assert isinstance(x, type(bs)) and x.dtype == getattr(xs, dtype)
    assert res.iterations == res_np.iterations
    np.testing.assert_allclose(to_numpy(x), x_np, rtol=0, atol=100 * rtol * np.linalg.norm(x_np))
    # with a preconditioner in the same namespace
    x, info = pcg(As, bs, rtol=rtol, M=xs.asarray(np.diag(1.0 / np.diag(A)).astype(dtype)))
    assert info == 0 and isinstance(x, type(bs)) and x.dtype == getattr(xs, dtype)
    assert true_residual(A, to_numpy(x), b) <= 2 * rtol * np.linalg.norm(b)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("mu", "rank"), [(1e-3, "auto"), (1e-3, 12), (0.0, 12), (0.0, "auto")])
def test_array_api_strict_nystrom_pcg(dtype, mu, rank):
    n = 60
    A = psd_matrix(decaying(n) + 1e-3, seed=67, dtype=np.dtype(dtype))
    b = np.random.default_rng(68).standard_normal(n).astype(dtype)
    As, bs = xs.asarray(A), xs.asarray(b)
    rtol = 1e-5 if dtype == "float32" else 1e-10
    x, info, res = nystrom_pcg(As, bs, mu, rank=rank, rtol=rtol, random_state=69, full_output=True)
    x_np, info_np, res_np = nystrom_pcg(A, b, mu, rank=rank, rtol=rtol, random_state=69, full_output=True)
    assert info == info_np == 0
    assert isinstance(x, type(bs)) and x.dtype == getattr(xs, dtype)
    assert res.sketch_matvecs == res_np.sketch_matvecs
    assert abs(res.iterations - res_np.iterations) <= 1
    np.testing.assert_allclose(to_numpy(x), x_np, rtol=0, atol=100 * rtol * np.linalg.norm(x_np))
    Amu = A.astype(np.float64) + mu * np.eye(n)
    assert true_residual(Amu, to_numpy(x), b) <= 2 * rtol * np.linalg.norm(b)
    # The returned preconditioner lives in the same namespace and is reusable.
    P = res.preconditioner
    assert isinstance(P @ bs, type(bs))
    x2, info2 = pcg(xs.asarray(Amu.astype(dtype)), bs, rtol=rtol, M=P)
    assert info2 == 0 and isinstance(x2, type(bs))


def test_array_api_strict_nystrom_approx_feeds_preconditioner():
    n, mu = 50, 1e-3
    A = psd_matrix(decaying(n), seed=70)
    As = xs.asarray(A)
    P = NystromPreconditioner(nystrom(As, 10, random_state=0), mu)
    b = np.random.default_rng(71).standard_normal(n)
    Amu = A + mu * np.eye(n)
    x, info = pcg(xs.asarray(Amu), xs.asarray(b), rtol=1e-10, M=P)
    assert info == 0 and isinstance(x, type(As))
    assert rel_err(to_numpy(x), np.linalg.solve(Amu, b)) <= 1e-7


# -------------------------------------------------------------------------- CuPy


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rank", ["auto", 20])
def test_cupy_dense_nystrom_pcg(cupy, dtype, rank):
    n, mu = 120, 1e-3
    A = psd_matrix(decaying(n), seed=72, dtype=np.dtype(dtype))
    b = np.random.default_rng(73).standard_normal(n).astype(dtype)
    rtol = 1e-4 if dtype == "float32" else 1e-10
    Ad, bd = cupy.asarray(A), cupy.asarray(b)
    x, info, res = nystrom_pcg(Ad, bd, mu, rank=rank, rtol=rtol, random_state=74, full_output=True)
    assert info == 0
    assert isinstance(res.preconditioner.U, cupy.ndarray)
    if rank != "auto":
        assert res.sketch_matvecs == rank
    assert isinstance(x, cupy.ndarray) and x.dtype == np.dtype(dtype) and x.shape == (n,)
    xh = cupy.asnumpy(x)
    Amu = A.astype(np.float64) + mu * np.eye(n)
    assert true_residual(Amu, xh, b) <= 1.5 * rtol * np.linalg.norm(b.astype(np.float64))
    ref = np.linalg.solve(Amu, b.astype(np.float64))
    assert rel_err(xh, ref) <= (1e-2 if dtype == "float32" else 1e-7)
    # Reproducible by seed, on the device too.
    x2, _ = nystrom_pcg(Ad, bd, mu, rank=rank, rtol=rtol, random_state=74)
    cupy.testing.assert_array_equal(x, x2)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cupy_sparse_nystrom_pcg(cupy, dtype):
    import cupyx.scipy.sparse as csp

    n, mu = 150, 1e-3
    rng = np.random.default_rng(75)
    X = rng.standard_normal((400, n)) / np.arange(1, n + 1)
    X[rng.random(X.shape) < 0.7] = 0.0
    X = X.astype(dtype)
    y = rng.standard_normal(400).astype(dtype)
    Xs = csp.csr_matrix(sp.csr_matrix(X))
    rhs_h = (X.astype(np.float64).T @ y.astype(np.float64) / 400).astype(dtype)
    rhs = cupy.asarray(rhs_h)
    rtol = 1e-4 if dtype == "float32" else 1e-10
    w, info = nystrom_pcg(GramOperator(Xs), rhs, mu, rtol=rtol, random_state=76)
    assert info == 0
    assert isinstance(w, cupy.ndarray) and w.dtype == np.dtype(dtype)
    H = X.astype(np.float64).T @ X.astype(np.float64) / 400 + mu * np.eye(n)
    ref = np.linalg.solve(H, rhs_h.astype(np.float64))
    assert rel_err(cupy.asnumpy(w), ref) <= (1e-2 if dtype == "float32" else 1e-7)
    # A symmetric cupyx sparse matrix as the operator itself.
    S = sp.csr_matrix(H.astype(dtype))
    x, info = nystrom_pcg(csp.csr_matrix(S), rhs, 0.0, rank=30, rtol=rtol, random_state=77)
    assert info == 0 and isinstance(x, cupy.ndarray) and x.dtype == np.dtype(dtype)
    assert rel_err(cupy.asnumpy(x), ref) <= (1e-2 if dtype == "float32" else 1e-7)
    x2, _ = nystrom_pcg(csp.csr_matrix(S), rhs, 0.0, rank=30, rtol=rtol, random_state=77)
    cupy.testing.assert_array_equal(x, x2)


# ------------------------------------------- issue 13: info == 0 means the TRUE residual is small


def clustered_ill_conditioned(n, cond, seed=0):
    """Half the eigenvalues in [1, 2], half in [1, 2] / cond: CG converges fast in exact arithmetic,
    and in floating point its recursive residual drifts far below the true one."""
    lam = np.r_[np.linspace(1.0, 2.0, n // 2), np.linspace(1.0, 2.0, n - n // 2) / cond]
    A = psd_matrix(lam, seed=seed)
    b = np.random.default_rng(seed + 1).standard_normal(n)
    return A, b


@pytest.mark.parametrize(("n", "cond", "rtol"), [(20, 1e8, 1e-8), (20, 1e10, 1e-10), (60, 1e10, 1e-8),
                                                 (20, 1e12, 1e-12), (60, 1e12, 1e-10)])
def test_info_zero_means_true_residual_below_tolerance(n, cond, rtol):
    # SciPy's cg (and pcg before the fix) return info=0 on these with ‖b − A x‖ up to 1e8 × the target.
    A, b = clustered_ill_conditioned(n, cond)
    tol = rtol * np.linalg.norm(b)
    x, info, res = pcg(A, b, rtol=rtol, full_output=True)
    assert np.all(np.isfinite(x))
    if info == 0:
        assert true_residual(A, x, b) <= tol
        assert res.residual_norms[-1] < tol
        np.testing.assert_allclose(res.residual_norms[-1], true_residual(A, x, b), rtol=1e-6)
    else:  # reported, not hidden: maxiter ran out, or the true residual stagnated
        assert info == res.iterations > 0
        assert true_residual(A, x, b) > tol
        if res.stagnated:
            assert "stagnated" in res.message and res.iterations < 10 * n
        else:
            assert info == 10 * n and "maxiter" in res.message


def test_stagnation_at_the_rounding_level_stops_before_maxiter():
    # rtol=1e-10 at κ=1e12 is below what float64 CG can attain: the second failed true-residual
    # check that does not halve it ends the solve, instead of running to maxiter=600.
    A, b = clustered_ill_conditioned(60, 1e12)
    x, info, res = pcg(A, b, rtol=1e-10, full_output=True)
    assert res.stagnated and 0 < info == res.iterations < 600
    assert "stagnated" in res.message and "rounding level" in res.message
    assert true_residual(A, x, b) > 1e-10 * np.linalg.norm(b)


def test_true_residual_restart_reaches_a_reachable_tolerance():
    # The recursive residual meets rtol early while the true one does not: restarting from the
    # true residual converges for real, within maxiter, and each check costs one product.
    A, b = clustered_ill_conditioned(20, 1e8)
    rtol = 1e-8
    x, info, res = pcg(A, b, rtol=rtol, full_output=True)
    assert info == 0
    assert true_residual(A, x, b) <= rtol * np.linalg.norm(b)
    assert res.matvecs > res.iterations + 1  # at least one failed check and restart happened


def test_true_residual_check_uses_the_shift():
    # nystrom_pcg solves (A + mu I) x = b: its convergence check must use the shifted residual
    # (here ‖mu x‖ ~ 1e-4 ‖b‖ dwarfs the tolerance). Before: info=0 with 3x the tolerance.
    n, mu, rtol = 40, 1e-10, 1e-10
    A, _ = clustered_ill_conditioned(n, 1e6, seed=3)
    b = np.random.default_rng(4).standard_normal(n)
    x, info, res = nystrom_pcg(A, b, mu, rank=5, rtol=rtol, random_state=0, full_output=True)
    assert info == 0
    assert true_residual(A, x, b, mu) <= rtol * np.linalg.norm(b)
    np.testing.assert_allclose(res.residual_norms[-1], true_residual(A, x, b, mu), rtol=1e-3)


# ------------------------------------------------- issue 13: scale invariance over the float range


@settings(max_examples=30)
@given(log_s=st.floats(-300.0, 300.0), dtype=st.sampled_from([np.float64, np.float32]),
       precond=st.booleans(), warm=st.booleans())
def test_property_scale_invariance(log_s, dtype, precond, warm):
    if dtype == np.float32:
        log_s = log_s * 35.0 / 300.0
    s = 10.0**log_s
    # Fast convergence (far fewer than n steps), so the rounding of s·b cannot move the count.
    A, b = spd_problem(120, cond=10.0, seed=80, dtype=dtype)
    M = np.diag(1.0 / np.diag(A)).astype(dtype) if precond else None
    x0 = (0.1 * np.ones(120)).astype(dtype) if warm else None
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    x1, info1, res1 = pcg(A, b, x0=x0, rtol=rtol, M=M, full_output=True)
    sb = (s * b.astype(np.float64)).astype(dtype)
    sx0 = None if x0 is None else (s * x0.astype(np.float64)).astype(dtype)
    xs, infos, ress = pcg(A, sb, x0=sx0, rtol=rtol, M=M, full_output=True)
    assert info1 == infos == 0
    assert res1.iterations == ress.iterations
    assert xs.dtype == dtype and np.all(np.isfinite(xs))
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(xs.astype(np.float64) / s, x1, rtol=0, atol=1e3 * eps * np.linalg.norm(x1))
    np.testing.assert_allclose(np.array(ress.residual_norms) / s, res1.residual_norms, rtol=1e2 * eps,
                               atol=1e2 * eps * res1.residual_norms[0])


@pytest.mark.parametrize("s", [1e-300, 1e-200, 1e-160, 1e160, 1e200, 1e300])
@pytest.mark.parametrize("solver", ["pcg", "nystrom_pcg"])
def test_tiny_and_huge_rhs(s, solver):
    # Before: squared norms underflowed (x = 0, info = 0) or overflowed (info = -3).
    A, b = spd_problem(40, cond=100.0, seed=81)
    if solver == "pcg":
        x_ref, _ = pcg(A, b, rtol=1e-10)
        x, info, res = pcg(A, s * b, rtol=1e-10, full_output=True)
    else:
        x_ref, _ = nystrom_pcg(A, b, 1e-3, rank=10, rtol=1e-10, random_state=0)
        x, info, res = nystrom_pcg(A, s * b, 1e-3, rank=10, rtol=1e-10, random_state=0, full_output=True)
    assert info == 0 and res.iterations > 0
    np.testing.assert_allclose(x / s, x_ref, rtol=1e-9)


@pytest.mark.parametrize("s", [1e-35, 1e-30, 1e30, 1e35])
def test_tiny_and_huge_rhs_float32(s):
    A, b = spd_problem(40, cond=100.0, seed=82, dtype=np.float32)
    x_ref, info_ref = pcg(A, b, rtol=1e-4)
    x, info = pcg(A, (s * b.astype(np.float64)).astype(np.float32), rtol=1e-4)
    assert info == info_ref == 0 and x.dtype == np.float32
    np.testing.assert_allclose(x.astype(np.float64) / s, x_ref, rtol=1e-3, atol=1e-3 * np.abs(x_ref).max())


def test_huge_operator_scale():
    # Scaling A instead of b: pᵀAp and rᵀz must not overflow or underflow either.
    A, b = spd_problem(120, cond=10.0, seed=83)
    x_ref, _, ref = pcg(A, b, rtol=1e-10, full_output=True)
    for s in (1e-300, 1e300):
        sA = s * A
        x, info, res = pcg(((120, 120), lambda v, sA=sA: sA @ v), b, rtol=1e-10, full_output=True)
        assert info == 0 and res.iterations == ref.iterations
        np.testing.assert_allclose(x * s, x_ref, rtol=0, atol=1e-12 * np.linalg.norm(x_ref))
    M = np.diag(1.0 / np.diag(A))
    for s in (1e-300, 1e300):
        x, info = pcg(A, b, rtol=1e-10, M=s * M)
        assert info == 0
        np.testing.assert_allclose(x, x_ref, rtol=0, atol=1e-9 * np.linalg.norm(x_ref))


# ------------------------------------------------ issue 13: products of the wrong shape or kind


@pytest.mark.parametrize("bad", ["column", "row", "complex", "scalar"])
@pytest.mark.parametrize("which", ["A", "M"])
def test_product_of_wrong_shape_or_kind_is_refused(which, bad):
    # Before: an (n, 1) product broadcast the iterate to (n, n), (n, n, n), ... (maxiter=3 keeps the
    # memory finite here; unbounded it ran out of memory).
    A, b = spd_problem(20, seed=84)
    wrong = {
        "column": lambda v: (A @ v)[:, None],
        "row": lambda v: (A @ v)[None, :],
        "complex": lambda v: (A @ v) * (1 + 0j),
        "scalar": lambda v: np.float64(v @ v),
    }[bad]
    kwargs = {"A": A, "M": None}
    kwargs[which] = ((20, 20), wrong)
    with pytest.raises(ValueError, match=rf"^{which}\b"):
        pcg(kwargs["A"], b, M=kwargs["M"], rtol=1e-12, maxiter=3)


def test_product_of_wrong_shape_refused_by_nystrom_pcg():
    A, b = spd_problem(20, seed=85)
    op = ((20, 20), lambda v: (A @ v)[:, None], lambda V: A @ V)  # the sketch (matmat) is fine
    with pytest.raises(ValueError, match=r"^A\b"):
        nystrom_pcg(op, b, 1e-3, rank=5, maxiter=3, random_state=0)


@pytest.mark.parametrize("where", ["x0", "M", "check"])
def test_nan_product_is_reported_not_returned(where):
    A, b = spd_problem(20, seed=86)
    calls = [0]

    def nan_on(call):
        def matvec(v):
            calls[0] += 1
            return np.full(20, np.nan) if calls[0] == call else A @ v
        return matvec

    if where == "x0":
        x, info, res = pcg(((20, 20), nan_on(1)), b, x0=np.ones(20), full_output=True)
    elif where == "M":
        x, info, res = pcg(A, b, M=((20, 20), nan_on(3)), full_output=True)
    else:
        # The product of the true-residual check (the call after the last CG step) is NaN.
        _, _, ref = pcg(A, b, rtol=1e-8, full_output=True)
        x, info, res = pcg(((20, 20), nan_on(ref.iterations + 1)), b, rtol=1e-8, full_output=True)
    assert info == -3 == res.info and "NaN" in res.message
    assert np.all(np.isfinite(x))


# ------------------------------------------------------ issue 13: the validation policy in krylov


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(x0=np.ones(10) * (1 + 1j)), ValueError, r"^x0"),
        (dict(x0=np.array(["a"] * 10)), ValueError, r"^x0"),
        (dict(x0="Ma"), ValueError, r"^x0"),
        (dict(x0=[0.0] * 10), TypeError, r"^x0"),
        (dict(callback=3), TypeError, r"^callback"),
        (dict(rtol="1e-5"), TypeError, r"^rtol"),
        (dict(rtol=1j), TypeError, r"^rtol"),
        (dict(rtol=np.nan), ValueError, r"^rtol"),
        (dict(atol=None), TypeError, r"^atol"),
        (dict(atol=-np.inf), ValueError, r"^atol"),
        (dict(maxiter=2.0), TypeError, r"^maxiter"),
        (dict(full_output="yes"), TypeError, r"^full_output"),
    ],
)
@pytest.mark.parametrize("solver", ["pcg", "nystrom_pcg"])
def test_validation_policy(small_problem, solver, kwargs, exc, match):
    A, b = small_problem
    with pytest.raises(exc, match=match):
        if solver == "pcg":
            pcg(A, b, **kwargs)
        else:
            nystrom_pcg(A, b, 1e-3, **kwargs)


@pytest.mark.parametrize("solver", ["pcg", "nystrom_pcg"])
def test_complex_or_string_data_refused(small_problem, solver):
    A, b = small_problem

    def call(A_, b_):
        return pcg(A_, b_) if solver == "pcg" else nystrom_pcg(A_, b_, 1e-3)

    with pytest.raises(ValueError, match=r"^b"):
        call(A, b * (1 + 1j))
    with pytest.raises(ValueError, match=r"^b"):
        call(A, b.astype(str))
    with pytest.raises(ValueError, match=r"^A"):
        call(A * (1 + 0j), b)
    with pytest.raises(ValueError, match=r"^A"):
        call(spla.aslinearoperator(A.astype(np.complex128)), b)


@pytest.mark.parametrize("rank", ["auto", 5])
def test_rank_parsing(small_problem, rank):
    A, b = small_problem
    _, info, res = nystrom_pcg(A, b, 1e-3, rank=rank, rtol=1e-8, random_state=0, full_output=True)
    assert info == 0
    if rank == 5:
        assert res.rank <= 5 and res.sketch_matvecs == 5
    with pytest.raises(ValueError, match=r"^rank"):
        nystrom_pcg(A, b, 1e-3, rank="full")
    with pytest.raises(TypeError, match=r"^rank"):
        nystrom_pcg(A, b, 1e-3, rank=np.ones(2))


@pytest.mark.parametrize("solver", ["pcg", "nystrom_pcg"])
def test_infinite_tolerances_accepted(small_problem, solver):
    # As SciPy: atol=inf or rtol=inf means "already converged" at x0.
    A, b = small_problem
    x0 = np.full(10, 0.5)
    for kw in (dict(atol=np.inf), dict(rtol=np.inf), dict(rtol=1e300)):
        if solver == "pcg":
            x, info, res = pcg(A, b, x0=x0, full_output=True, **kw)
        else:
            x, info, res = nystrom_pcg(A, b, 1e-3, x0=x0, random_state=0, full_output=True, **kw)
        assert info == 0 and res.iterations == 0
        np.testing.assert_array_equal(x, x0)


@pytest.mark.parametrize("solver", ["pcg", "nystrom_pcg"])
def test_malformed_operator_or_rhs_names_the_argument(small_problem, solver):
    A, b = small_problem

    def call(A_, b_, **kw):
        return pcg(A_, b_, **kw) if solver == "pcg" else nystrom_pcg(A_, b_, 1e-3, **kw)

    with pytest.raises(ValueError, match=r"^A must not be empty"):
        call(np.zeros((0, 0)), b)
    with pytest.raises(ValueError, match=r"^b must have shape \(9,\) to match A"):
        call(A[:9, :9], b)
    with pytest.raises(ValueError, match=r"^x0 must have shape \(10,\) to match A"):
        call(A, b, x0=np.ones(4))
    with pytest.raises(TypeError, match=r"^b must be an array"):
        call(A, "abc")
    if solver == "pcg":
        with pytest.raises(ValueError, match=r"^M must not be empty"):
            pcg(A, b, M=np.zeros((0, 0)))


def test_auto_rank_with_mu0_on_a_flat_spectrum_costs_about_what_pcg_costs():
    # Issue 13: rank='auto' with mu=0 used to grow the sketch to 1024 columns on a 2-D Poisson
    # matrix (1025 sketch products against pcg's ~80 in total).
    m = 32
    T = sp.diags([-np.ones(m - 1), 2 * np.ones(m), -np.ones(m - 1)], [-1, 0, 1])
    A = (sp.kron(T, sp.eye(m)) + sp.kron(sp.eye(m), T)).tocsr()
    b = np.random.default_rng(0).standard_normal(m * m)
    _, info_cg, res_cg = pcg(A, b, rtol=1e-8, full_output=True)
    x, info, res = nystrom_pcg(A, b, 0.0, rtol=1e-8, random_state=0, full_output=True)
    assert info == info_cg == 0
    assert res.rank <= 32
    assert res.matvecs <= 1.5 * res_cg.matvecs
    assert np.linalg.norm(A @ x - b) <= 1e-8 * np.linalg.norm(b)
