"""Tests of the blocked (multi-right-hand-side, multi-shift) CG behind a 2-D ``b`` in
``rnla.pcg`` and ``rnla.nystrom_pcg``.

Every column is checked against ``numpy.linalg.solve`` (and ``pinv`` for a zero shift on a
singular consistent system); per-column iteration counts against the 1-D solver on the same
column with the same sketch; the number of block products against the iteration count (a
counting operator); float32, ``array_api_strict``, bad shapes and a ``hypothesis`` property.
"""

import array_api_strict as xs
import numpy as np
import pytest
from helpers import psd_matrix
from hypothesis import given, settings
from hypothesis import strategies as st

from rnla import GramOperator, NystromPreconditioner, nystrom, nystrom_pcg, pcg
from rnla.krylov import BlockSolveResult


def decaying_problem(n=120, k=3, power=2.0, seed=0, dtype=np.float64):
    A = psd_matrix(1.0 / np.arange(1, n + 1) ** power, seed=seed, dtype=dtype)
    B = np.random.default_rng(seed + 1).standard_normal((n, k)).astype(dtype)
    return A, B


def solve_each(A, B, mus):
    n = A.shape[0]
    return np.stack([np.linalg.solve(A.astype(np.float64) + mu * np.eye(n), B[:, j].astype(np.float64))
                     for j, mu in enumerate(mus)], axis=1)


def rel_errs(X, ref):
    X = np.asarray(X, np.float64)
    return np.linalg.norm(X - ref, axis=0) / np.linalg.norm(ref, axis=0)


class CountingOperator:
    """``(shape, matvec, matmat)`` for ``A`` recording the number of columns of every call."""

    def __init__(self, A):
        self.A = A
        self.calls = []  # columns per call; 1-D calls recorded as 0

    def matvec(self, v):
        self.calls.append(0)
        return self.A @ v

    def matmat(self, V):
        self.calls.append(V.shape[1])
        return self.A @ V

    def as_tuple(self):
        return (self.A.shape, self.matvec, self.matmat)


# ------------------------------------------------------------------------- correctness

@pytest.mark.parametrize("k", [1, 3, 17])
@pytest.mark.parametrize("shifts", ["equal", "distinct"])
def test_nystrom_pcg_block_matches_solve(k, shifts):
    A, B = decaying_problem(k=k, seed=k)
    mus = np.full(k, 1e-3) if shifts == "equal" else np.geomspace(1e-1, 1e-5, k)
    mu = 1e-3 if shifts == "equal" or k == 1 else mus
    mus = np.full(k, 1e-3) if k == 1 else mus
    X, info, res = nystrom_pcg(A, B, mu, rtol=1e-10, random_state=0, full_output=True)
    assert X.shape == ((120,) if k == 1 else (120, k))  # (n, 1) is a vector, as in SciPy
    if k == 1:
        X, info = X[:, None], np.atleast_1d(info)
    else:
        assert isinstance(res, BlockSolveResult) and info.dtype.kind == "i" and info.shape == (k,)
        for j in range(k):
            r = res.columns[j]
            assert np.linalg.norm(B[:, j] - A @ X[:, j] - mus[j] * X[:, j]) < 1e-10 * np.linalg.norm(B[:, j])
            assert r.residual_norms[-1] < 1e-10 * np.linalg.norm(B[:, j])
            assert r.rank == res.rank and r.sketch_matvecs == res.sketch_matvecs
            assert r.preconditioner.mu == mus[j]
        assert res.converged
    np.testing.assert_array_equal(info, 0)
    assert np.all(rel_errs(X, solve_each(A, B, mus)) < 1e-7)


def test_pcg_block_matches_solve_and_scipy_rule():
    A = psd_matrix(np.geomspace(100.0, 1.0, 60), seed=3)
    B = np.random.default_rng(4).standard_normal((60, 4))
    B[:, 2] *= 1e-3
    X, info, res = pcg(A, B, rtol=1e-9, full_output=True)
    np.testing.assert_array_equal(info, 0)
    assert np.all(rel_errs(X, solve_each(A, B, [0.0] * 4)) < 1e-7)
    for j in range(4):  # SciPy's rule, relative to each column's own norm
        assert np.linalg.norm(B[:, j] - A @ X[:, j]) < 1e-9 * np.linalg.norm(B[:, j])
    assert res.matvecs == sum(c.matvecs for c in res.columns)


def test_shared_preconditioner_block():
    A, B = decaying_problem(n=100, k=5, seed=5)
    mu = 1e-4
    P = NystromPreconditioner(nystrom(A, 30, oversample=0, random_state=0), mu)
    Amu = A + mu * np.eye(100)
    X, info, res = pcg(Amu, B, rtol=1e-10, M=P, full_output=True)
    np.testing.assert_array_equal(info, 0)
    assert np.all(rel_errs(X, solve_each(A, B, [mu] * 5)) < 1e-7)
    for j in range(5):
        _, _, one = pcg(Amu, B[:, j], rtol=1e-10, M=P, full_output=True)
        assert abs(one.iterations - res.columns[j].iterations) <= 1


def test_iterations_match_one_column_solves():
    A, B = decaying_problem(n=150, k=6, seed=7)
    mus = np.array([1e-2, 1e-3, 1e-4, 1e-3, 1e-5, 1e-1])
    X, info, res = nystrom_pcg(A, B, mus, rank=40, rtol=1e-10, random_state=1, full_output=True)
    np.testing.assert_array_equal(info, 0)
    for j in range(6):
        x, i1, one = nystrom_pcg(A, B[:, j], mus[j], rank=40, rtol=1e-10, random_state=1, full_output=True)
        assert i1 == 0
        assert abs(one.iterations - res.columns[j].iterations) <= 1
        assert one.rank == res.columns[j].rank
        np.testing.assert_allclose(X[:, j], x, rtol=1e-7, atol=1e-9 * np.linalg.norm(x))
    assert res.rank == 40 and res.sketch_matvecs == 40
    assert res.columns[0].matvecs == res.columns[0].iterations + 1 + 40  # one check, sketch shared
    assert res.matvecs == 40 + sum(c.matvecs - 40 for c in res.columns)


def test_rank_auto_adapts_to_smallest_positive_shift():
    A, B = decaying_problem(n=300, k=3, power=1.0, seed=8)
    mus = np.array([1e-1, 1e-3, 1e-2])
    _, _, res = nystrom_pcg(A, B, mus, rtol=1e-8, random_state=0, full_output=True)
    _, _, small = nystrom_pcg(A, B[:, 1], 1e-3, rtol=1e-8, random_state=0, full_output=True)
    # The shared sketch is the one the 1-D solver takes for the smallest shift (same seed).
    assert res.rank == small.rank and res.sketch_matvecs == small.sketch_matvecs
    np.testing.assert_array_equal(res.columns[0].preconditioner.eigvals, small.preconditioner.eigvals)
    distinct = {id(c.preconditioner) for c in res.columns}
    assert len(distinct) == 3 and all(c.preconditioner.U is res.columns[0].preconditioner.U
                                      for c in res.columns)


def test_zero_shift_column_is_plain_cg_min_norm():
    # A singular PSD matrix (rank 40 of 80) and consistent right-hand sides.
    n, r = 80, 40
    A = psd_matrix(np.r_[np.geomspace(1.0, 1e-2, r), np.zeros(n - r)], seed=9)
    rng = np.random.default_rng(10)
    B = A @ rng.standard_normal((n, 3))
    mus = np.array([1e-3, 0.0, 1e-2])
    X, info, res = nystrom_pcg(A, B, mus, rank=20, rtol=1e-10, random_state=0, full_output=True)
    np.testing.assert_array_equal(info, 0)
    min_norm = np.linalg.pinv(A, rcond=1e-10) @ B[:, 1]
    np.testing.assert_allclose(X[:, 1], min_norm, rtol=0, atol=1e-7 * np.linalg.norm(min_norm))
    np.testing.assert_allclose(X[:, 1], np.linalg.lstsq(A, B[:, 1], rcond=1e-10)[0], atol=1e-7)
    zero = res.columns[1]
    assert zero.preconditioner is None and zero.rank == 0 and zero.sketch_matvecs == 0
    _, _, plain = pcg(A, B[:, 1], rtol=1e-10, full_output=True)
    assert abs(plain.iterations - zero.iterations) <= 1
    assert np.all(rel_errs(X[:, [0, 2]], solve_each(A, B[:, [0, 2]], mus[[0, 2]])) < 1e-7)


def test_all_zero_shifts_precondition_as_1d():
    A, B = decaying_problem(n=100, k=3, power=1.0, seed=11)
    A = A + 1e-3 * np.eye(100)
    X, info, res = nystrom_pcg(A, B, 0.0, rank=30, rtol=1e-10, random_state=0, full_output=True)
    np.testing.assert_array_equal(info, 0)
    for j in range(3):
        _, _, one = nystrom_pcg(A, B[:, j], 0.0, rank=30, rtol=1e-10, random_state=0, full_output=True)
        assert res.columns[j].preconditioner is not None
        assert abs(one.iterations - res.columns[j].iterations) <= 1
    assert np.all(rel_errs(X, solve_each(A, B, [0.0] * 3)) < 1e-7)


# ----------------------------------------------------------------------- block products

def test_one_block_product_per_iteration():
    A, B = decaying_problem(n=100, k=8, seed=12)
    mus = np.geomspace(1e-1, 1e-4, 8)
    counter = CountingOperator(A)
    _, info, res = nystrom_pcg(counter.as_tuple(), B, mus, rank=20, rtol=1e-10, random_state=0,
                               full_output=True)
    np.testing.assert_array_equal(info, 0)
    calls = counter.calls
    assert 0 not in calls  # no vector products
    assert calls[0] == 20  # the sketch: one block of 20 columns
    solve_calls = calls[1:]
    its = res.iterations
    # Every iteration one product call; the true-residual checks ride in it, so only the final
    # check of the slowest column adds one.
    assert len(solve_calls) == res.block_products == its.max() + 1
    # The block shrinks as columns finish: each column is multiplied once per iteration and once
    # for its convergence check, never after.
    assert sum(solve_calls) == sum(c.matvecs - 20 for c in res.columns) == its.sum() + 8
    assert solve_calls[0] == 8 and solve_calls[-1] == int(np.sum(its == its.max()))


def test_x0_product_counted_once():
    A, B = decaying_problem(n=60, k=3, seed=13)
    counter = CountingOperator(A + 1e-2 * np.eye(60))
    X0 = np.linalg.solve(A + 1e-2 * np.eye(60), B) * (1 + 1e-3)
    _, info, res = pcg(counter.as_tuple(), B, X0, rtol=1e-10, full_output=True)
    np.testing.assert_array_equal(info, 0)
    assert counter.calls[0] == 3 and len(counter.calls) == res.block_products
    _, _, cold = pcg(A + 1e-2 * np.eye(60), B, rtol=1e-10, full_output=True)
    assert np.all(res.iterations < cold.iterations)


def test_callback_gets_block_iterates():
    A, B = decaying_problem(n=60, k=3, seed=14)
    seen = []
    X, info = nystrom_pcg(A, B, [1e-2, 1e-3, 1e-4], rank=10, rtol=1e-10, random_state=0,
                          callback=lambda Xk: seen.append(np.array(Xk)))
    np.testing.assert_array_equal(info, 0)
    assert all(s.shape == (60, 3) for s in seen) and len(seen) >= 1
    np.testing.assert_allclose(seen[-1], X, rtol=1e-6, atol=1e-9)


# ---------------------------------------------------------------------- dtypes, backends

def test_float32_kept():
    A, B = decaying_problem(n=100, k=4, seed=15, dtype=np.float32)
    mus = [1e-1, 1e-2, 1e-3, 0.0]
    X, info, res = nystrom_pcg(A, B, mus, rank=20, rtol=1e-4, random_state=0, full_output=True)
    assert X.dtype == np.float32
    assert res.columns[0].preconditioner.U.dtype == np.float32
    np.testing.assert_array_equal(info[:3], 0)
    assert np.all(rel_errs(X[:, :3], solve_each(A, B[:, :3], mus[:3])) < 1e-2)
    X, info = pcg(A + np.float32(0.1) * np.eye(100, dtype=np.float32), B, rtol=1e-4)
    assert X.dtype == np.float32 and np.all(info == 0)


def test_gram_operator_regularization_path():
    rng = np.random.default_rng(16)
    Xd = rng.standard_normal((400, 80)) / np.arange(1, 81)
    Y = rng.standard_normal((400, 5))
    H = GramOperator(Xd)
    alphas = np.geomspace(1e-1, 1e-5, 5)
    W, info = nystrom_pcg(H, Xd.T @ Y / 400, alphas, rtol=1e-10, random_state=0)
    np.testing.assert_array_equal(info, 0)
    G = Xd.T @ Xd / 400
    assert np.all(rel_errs(W, solve_each(G, Xd.T @ Y / 400, alphas)) < 1e-7)


@pytest.mark.parametrize("dtype", [xs.float64, xs.float32])
def test_array_api_strict_block(dtype):
    A, B = decaying_problem(n=50, k=3, seed=17)
    As, Bs = xs.asarray(A, dtype=dtype), xs.asarray(B, dtype=dtype)
    rtol = 1e-9 if dtype == xs.float64 else 1e-4
    X, info = nystrom_pcg(As, Bs, [1e-2, 0.0, 1e-3], rank=10, rtol=rtol, random_state=0)
    assert X.dtype == dtype and X.shape == (50, 3)
    assert np.all(info[[0, 2]] == 0)
    ref = solve_each(A, B[:, [0, 2]], [1e-2, 1e-3])
    assert np.all(rel_errs(np.asarray(X)[:, [0, 2]], ref) < (1e-6 if dtype == xs.float64 else 1e-2))
    X, info = pcg(As + xs.asarray(0.1, dtype=dtype) * xs.eye(50, dtype=dtype), Bs, rtol=rtol, x0="Mb")
    assert X.dtype == dtype and np.all(info == 0)


# ------------------------------------------------------------------- edge cases, errors

def test_zero_and_scaled_columns():
    A, B = decaying_problem(n=60, k=4, seed=18)
    B[:, 1] = 0.0
    B[:, 2] = B[:, 0] * 1e-300
    B[:, 3] = B[:, 0] * 1e300
    X, info, res = nystrom_pcg(A, B, 1e-3, rank=10, rtol=1e-10, random_state=0, full_output=True)
    np.testing.assert_array_equal(info, 0)
    assert np.all(X[:, 1] == 0) and res.columns[1].iterations == 0
    ref = solve_each(A, B[:, [0]], [1e-3])[:, 0]
    assert rel_errs(X[:, [0]], ref[:, None])[0] < 1e-7
    np.testing.assert_allclose(X[:, 2] * 1e300, ref, rtol=1e-6, atol=1e-6 * np.abs(ref).max())
    np.testing.assert_allclose(X[:, 3] / 1e300, ref, rtol=1e-6, atol=1e-6 * np.abs(ref).max())
    assert res.columns[2].iterations == res.columns[3].iterations == res.columns[0].iterations


def test_maxiter_and_stagnation_per_column():
    A = psd_matrix(np.geomspace(1e6, 1.0, 80), seed=19)
    B = np.random.default_rng(20).standard_normal((80, 2))
    B[:, 0] = A @ np.ones(80)  # same difficulty; column 1 gets an easy shift
    X, info, res = nystrom_pcg(A, B, [0.0, 1e7], rank=5, rtol=1e-10, maxiter=15, random_state=0,
                               full_output=True)
    assert info[0] == 15 and res.columns[0].iterations == 15 and not res.converged
    assert info[1] == 0 and res.columns[1].iterations < 15
    assert np.linalg.norm(B[:, 1] - A @ X[:, 1] - 1e7 * X[:, 1]) < 1e-10 * np.linalg.norm(B[:, 1])
    assert "maxiter=15" in res.columns[0].message
    _, info32 = pcg(A.astype(np.float32), B.astype(np.float32), rtol=1e-12)
    assert np.all(info32 > 0)  # beyond float32's accuracy: stagnation or maxiter, never 0


def test_indefinite_column_reported():
    A = np.diag(np.r_[np.ones(10), -np.ones(10)])
    B = np.zeros((20, 2))
    B[:5, 0] = 1.0
    B[12, 1] = 1.0
    X, info = pcg(A, B, rtol=1e-10)
    np.testing.assert_allclose(X[:, 0], B[:, 0], atol=1e-9)
    assert info[0] == 0 and info[1] == -1
    assert np.all(np.isfinite(X))


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(mu=[1e-3, 1e-3]), ValueError, "^mu"),
        (dict(mu=np.ones((3, 1))), ValueError, "^mu"),
        (dict(mu=[1e-3, -1.0, 1e-3]), ValueError, "^mu"),
        (dict(mu=[1e-3, np.nan, 1e-3]), ValueError, "^mu"),
        (dict(mu=["a", 1.0, 1.0]), TypeError, "^mu"),
        (dict(x0=np.ones((20, 2))), ValueError, "^x0"),
        (dict(x0=np.ones(20)), ValueError, "^x0"),
        (dict(x0=np.full((20, 3), np.nan)), ValueError, "^x0"),
        (dict(x0="Ma"), ValueError, "^x0"),
        (dict(rank=21), ValueError, "^rank"),
        (dict(rtol=-1.0), ValueError, "^rtol"),
    ],
)
def test_block_invalid_arguments(kwargs, exc, match):
    A, B = decaying_problem(n=20, k=3, seed=21)
    kwargs = {"mu": 1e-3, **kwargs}
    with pytest.raises(exc, match=match):
        nystrom_pcg(A, B, **kwargs)


@pytest.mark.parametrize(
    ("bad_b", "match"),
    [(np.ones((19, 3)), "^b"), (np.ones((20, 0)), "^b"), (np.full((20, 3), np.inf), r"^b contains"),
     (np.ones((20, 3), complex), "^b must hold real")],
)
@pytest.mark.parametrize("solver", ["pcg", "nystrom_pcg"])
def test_block_invalid_rhs(bad_b, match, solver):
    A, _ = decaying_problem(n=20, k=3, seed=22)
    with pytest.raises(ValueError, match=match):
        pcg(A, bad_b) if solver == "pcg" else nystrom_pcg(A, bad_b, 1e-3)


def test_block_product_of_wrong_shape_names_A():
    A, B = decaying_problem(n=20, k=3, seed=23)
    op = ((20, 20), lambda v: A @ v, lambda V: (A @ V)[:, :1])
    with pytest.raises(ValueError, match=r"^A returned"):
        pcg(op, B)


# ---------------------------------------------------------------------------- property

@settings(max_examples=25, deadline=None)
@given(n=st.integers(5, 40), k=st.integers(2, 6), seed=st.integers(0, 2**16),
       log_mus=st.lists(st.floats(-6, 0), min_size=6, max_size=6), rank=st.integers(1, 5))
def test_property_random_spd_and_shifts(n, k, seed, log_mus, rank):
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((n, n))
    A = G @ G.T / n
    B = rng.standard_normal((n, k))
    mus = 10.0 ** np.asarray(log_mus[:k])
    X, info, res = nystrom_pcg(A, B, mus, rank=min(rank, n), rtol=1e-8, random_state=seed, full_output=True)
    for j in range(k):
        r = np.linalg.norm(B[:, j] - A @ X[:, j] - mus[j] * X[:, j])
        if info[j] == 0:
            assert r < 1e-8 * np.linalg.norm(B[:, j])
        else:  # only the rounding level may stop a column early
            assert res.columns[j].stagnated
            assert r < 1e-6 * np.linalg.norm(B[:, j])
    assert res.block_products <= res.iterations.max() + 1
