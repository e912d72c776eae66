"""Tests of trace estimation (``rnla.trace``, ``rnla.TraceResult``) and ``rnla.effective_dimension``.

Estimates are checked against exact traces of small matrices ``A = Q diag(λ) Qᵀ`` with a
seeded random orthogonal ``Q`` and chosen spectra: unbiasedness over seeds (the mean of
seeded estimates within a few standard errors of ``tr(A)``, with the standard error taken
from the spread of the estimates), the variance reduction of Hutch++ and XTrace over
Hutchinson on a decaying spectrum, exactness where the theory gives it (Hutch++ with a
full sketch, both on matrices of low rank), calibration of the reported error estimates,
the product count through a counting ``LinearOperator``, every accepted input form
(float32, ``array_api_strict``, sparse, callables with ``like=``), argument validation,
``hypothesis`` properties and (marked ``gpu``, skipped without one) CuPy.
"""

import math

import numpy as np
import pytest
import scipy.sparse as sp
from helpers import CountingLinearOperator, input_forms, psd_matrix
from hypothesis import given
from hypothesis import strategies as st

import rnla
from rnla import TraceResult, effective_dimension, trace

METHODS = ("hutchinson", "hutch++", "xtrace")

# ----------------------------------------------------------------------------- helpers


def decaying(n, power=2.0):
    """``λ_i = i^-power``, descending."""
    return 1.0 / np.arange(1, n + 1, dtype=np.float64) ** power


def low_rank(n, r, seed=0):
    """A PSD ``G Gᵀ`` of rank ``r`` and its exact trace."""
    G = np.random.default_rng(seed).standard_normal((n, r))
    A = G @ G.T
    return (A + A.T) / 2


def nonsymmetric(n=100, seed=3):
    """A clearly non-symmetric square matrix with a trace well away from zero."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, n)) + np.diag(np.linspace(0.0, 5.0, n))


def estimates(A, method, num_matvecs, seeds):
    return np.array([trace(A, num_matvecs=num_matvecs, method=method, random_state=s) for s in seeds])


def exact_deff(lam, mu):
    lam = np.clip(lam, 0.0, None)
    return float(np.sum(lam / (lam + mu)))


@pytest.fixture(scope="module")
def poly500():
    """``n = 500``, ``λ_i = i^-2``: the spectrum on which Hutch++ and XTrace shine."""
    lam = decaying(500)
    return psd_matrix(lam, seed=1), float(lam.sum())


# --------------------------------------------------------------------- unbiasedness


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("matrix", ["psd_decaying", "symmetric_indefinite", "nonsymmetric"])
def test_unbiased_over_seeds(method, matrix):
    # E[estimate] = tr(A) for every method: over N seeded estimates the mean is within
    # 4 standard errors (std/√N, from the spread of the estimates themselves) of tr(A).
    if matrix == "psd_decaying":
        A = psd_matrix(decaying(200, 1.0), seed=2)
    elif matrix == "symmetric_indefinite":
        A = psd_matrix(np.linspace(-1.0, 2.0, 150), seed=5)
    else:
        if method == "xtrace":
            pytest.skip("XTrace needs a symmetric matrix")
        A = nonsymmetric()
    exact = np.trace(A)
    N = 200
    est = estimates(A, method, 12, range(N))
    sem = est.std(ddof=1) / math.sqrt(N)
    assert sem > 0
    assert abs(est.mean() - exact) <= 4 * sem, (est.mean(), exact, sem)


# ------------------------------------------------------------- variance reduction


@pytest.mark.parametrize("num_matvecs", [60, 99])
def test_hutchpp_and_xtrace_beat_hutchinson_on_decaying_spectrum(poly500, num_matvecs):
    # Hutchinson's error is O(1/√m), that of Hutch++ and XTrace O(1/m) on a decaying
    # spectrum: at equal products their median relative error is far smaller.
    A, exact = poly500
    seeds = range(30)
    med = {m: np.median(np.abs(estimates(A, m, num_matvecs, seeds) - exact)) / exact for m in METHODS}
    assert med["hutch++"] * 5 <= med["hutchinson"], med
    assert med["xtrace"] <= med["hutch++"], med
    assert med["hutch++"] < 5e-3, med


def test_trace_docstring_claim_hutchpp_accuracy(poly500):
    A, exact = poly500
    for seed in range(5):
        assert abs(trace(A, num_matvecs=60, random_state=seed) - exact) < 5e-3 * exact


# --------------------------------------------------------------------------- exactness


@pytest.mark.parametrize("extra", [0, 1, 2, 50])
def test_hutchpp_exact_with_full_sketch(extra):
    # num_matvecs >= 3n: the sketch has n columns, QᵀAQ holds all of A, the rest is zero.
    n = 40
    for A in (psd_matrix(decaying(n), seed=6), nonsymmetric(n, seed=7) + 10 * np.eye(n)):
        exact = np.trace(A)
        for seed in range(3):
            est, res = trace(A, num_matvecs=3 * n + extra, random_state=seed, full_output=True)
            assert abs(est - exact) <= 1e-10 * abs(exact)
            assert res.num_matvecs == 3 * n


@pytest.mark.parametrize("method", ["hutch++", "xtrace"])
@pytest.mark.parametrize(("dtype", "rtol"), [(np.float64, 1e-10), (np.float32, 1e-5)])
def test_exact_on_low_rank(method, dtype, rtol):
    # rank 10 << sketch (20 columns for Hutch++, 30 for XTrace at 60 products): the
    # sketch captures range(A) and the deflated remainder is zero.
    A = low_rank(300, 10, seed=8)
    exact = np.trace(A)
    for seed in range(4):
        est = trace(A.astype(dtype), num_matvecs=60, method=method, random_state=seed)
        assert abs(est - exact) <= rtol * exact, (seed, est, exact)


@pytest.mark.parametrize("num_matvecs", [1, 5, 17])
def test_hutchinson_exact_on_diagonal(num_matvecs):
    # Rademacher probes: zᵀDz = Σ d_i z_i² = tr(D) for every sign vector.
    d = np.random.default_rng(9).uniform(-1.0, 3.0, 50)
    est = trace(np.diag(d), num_matvecs=num_matvecs, method="hutchinson", random_state=0)
    assert abs(est - d.sum()) <= 1e-12 * np.abs(d).sum()


@given(
    d=st.lists(st.floats(0.0, 1e3, allow_nan=False, allow_subnormal=False), min_size=1, max_size=25),
    extra=st.integers(0, 5),
    seed=st.integers(0, 2**16),
)
def test_property_hutchpp_exact_on_nonnegative_diagonal(d, extra, seed):
    d = np.asarray(d)
    n = d.size
    est, res = trace(np.diag(d), num_matvecs=3 * n + extra, random_state=seed, full_output=True)
    assert abs(est - d.sum()) <= 1e-10 * d.sum() + 1e-300
    assert res.num_matvecs == 3 * n


@given(
    d=st.lists(st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False), min_size=1, max_size=40),
    m=st.integers(1, 30),
    seed=st.integers(0, 2**16),
)
def test_property_hutchinson_exact_on_diagonal(d, m, seed):
    d = np.asarray(d)
    est = trace(np.diag(d), num_matvecs=m, method="hutchinson", random_state=seed)
    assert abs(est - d.sum()) <= 1e-12 * np.abs(d).sum() + 1e-300


# ---------------------------------------------------------------- error estimates


def test_hutchinson_error_estimate_matches_true_standard_deviation():
    # The reported standard error, averaged over seeds, is within a factor 1.5 of the
    # observed spread of the estimates, and of the exact Rademacher value
    # √(2 (‖A‖_F² − Σ a_ii²) / m).
    A = psd_matrix(decaying(200, 1.0), seed=10)
    m = 20
    out = [trace(A, num_matvecs=m, method="hutchinson", random_state=s, full_output=True)
           for s in range(200)]
    est = np.array([o[0] for o in out])
    err = np.array([o[1].error_estimate for o in out])
    observed = est.std(ddof=1)
    exact_std = math.sqrt(2 * (np.sum(A**2) - np.sum(np.diag(A) ** 2)) / m)
    assert 1 / 1.5 <= observed / exact_std <= 1.5
    assert 1 / 1.5 <= err.mean() / observed <= 1.5
    assert 1 / 1.5 <= err.mean() / exact_std <= 1.5


@pytest.mark.parametrize("method", ["xtrace", "hutch++"])
def test_error_estimate_covers_true_error(method):
    # |estimate − tr(A)| <= 3·error_estimate in at least 85 of 100 seeds.
    A = psd_matrix(decaying(300), seed=11)
    exact = np.trace(A)
    covered = 0
    for seed in range(100):
        est, res = trace(A, num_matvecs=40, method=method, random_state=seed, full_output=True)
        assert res.error_estimate > 0 and math.isfinite(res.error_estimate)
        covered += abs(est - exact) <= 3 * res.error_estimate
    assert covered >= 85, covered


def test_error_estimate_scales_with_A():
    A = psd_matrix(decaying(100, 1.0), seed=12)
    for method in METHODS:
        e1, r1 = trace(A, num_matvecs=30, method=method, random_state=0, full_output=True)
        e2, r2 = trace(4.0 * A, num_matvecs=30, method=method, random_state=0, full_output=True)
        assert e2 == pytest.approx(4 * e1, rel=1e-10)
        assert r2.error_estimate == pytest.approx(4 * r1.error_estimate, rel=1e-8)


# --------------------------------------------------------------- product accounting


@pytest.mark.parametrize(
    ("method", "budget", "expected"),
    [
        ("hutchinson", 1, 1), ("hutchinson", 7, 7), ("hutchinson", 50, 50), ("hutchinson", 200, 200),
        ("hutch++", 3, 3), ("hutch++", 4, 4), ("hutch++", 5, 5), ("hutch++", 50, 50),
        ("hutch++", 120, 120), ("hutch++", 1000, 120),  # capped at 3n
        ("xtrace", 4, 4), ("xtrace", 5, 4), ("xtrace", 51, 50),  # probes come in pairs
        ("xtrace", 80, 80), ("xtrace", 1000, 80),  # capped at 2n
    ],
)
def test_num_matvecs_counted(method, budget, expected):
    A = psd_matrix(decaying(40, 1.0), seed=13)
    op = CountingLinearOperator(A)
    est, res = trace(op, num_matvecs=budget, method=method, random_state=0, full_output=True)
    assert op.count == res.num_matvecs == expected
    assert res.num_matvecs <= budget
    assert est == pytest.approx(trace(A, num_matvecs=budget, method=method, random_state=0), rel=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_num_matvecs_counted_for_callable(method):
    A = psd_matrix(decaying(60), seed=14)
    count = [0]

    def matmat(V):
        count[0] += V.shape[1]
        return A @ V

    def matvec(v):
        count[0] += 1
        return A @ v

    _, res = trace((A.shape, matvec, matmat), num_matvecs=33, method=method, random_state=1,
                   full_output=True, like=np.ones(1))
    assert count[0] == res.num_matvecs <= 33


# ------------------------------------------------------------------ result and API


@pytest.mark.parametrize("method", METHODS)
def test_trace_result_fields(method):
    A = psd_matrix(decaying(80), seed=15)
    plain = trace(A, num_matvecs=24, method=method, random_state=3)
    est, res = trace(A, num_matvecs=24, method=method, random_state=3, full_output=True)
    assert isinstance(plain, float) and isinstance(est, float)
    assert isinstance(res, TraceResult)
    assert est == plain == res.estimate
    assert res.method == method
    assert isinstance(res.num_matvecs, int) and res.num_matvecs == 24
    assert isinstance(res.error_estimate, float) and 0 < res.error_estimate < math.inf


def test_default_method_is_hutchpp():
    A = psd_matrix(decaying(80), seed=16)
    assert trace(A, random_state=4) == trace(A, method="hutch++", num_matvecs=100, random_state=4)


@pytest.mark.parametrize("method", METHODS)
def test_reproducible_by_seed(method):
    A = psd_matrix(decaying(100, 1.0), seed=17)
    a = trace(A, num_matvecs=20, method=method, random_state=42, full_output=True)
    b = trace(A, num_matvecs=20, method=method, random_state=42, full_output=True)
    assert a == b
    g1 = trace(A, num_matvecs=20, method=method, random_state=np.random.default_rng(42))
    g2 = trace(A, num_matvecs=20, method=method, random_state=np.random.default_rng(42))
    assert g1 == g2
    assert trace(A, num_matvecs=20, method=method, random_state=43) != a[0]
    gen = np.random.default_rng(42)
    assert trace(A, num_matvecs=20, method=method, random_state=gen) != trace(
        A, num_matvecs=20, method=method, random_state=gen)


@pytest.mark.parametrize("method", METHODS)
def test_float32_input(method):
    # Hutchinson and Hutch++ draw the same sign probes in either precision: they agree
    # with float64 to float32 rounding. XTrace's Gaussian probes differ by precision, so
    # its float32 estimate is checked statistically.
    A = psd_matrix(decaying(200), seed=18)
    exact = np.trace(A)
    for seed in range(3):
        e64 = trace(A, num_matvecs=30, method=method, random_state=seed)
        e32, res = trace(A.astype(np.float32), num_matvecs=30, method=method, random_state=seed,
                         full_output=True)
        assert isinstance(e32, float) and math.isfinite(res.error_estimate)
        if method == "xtrace":
            assert abs(e32 - exact) <= max(5 * res.error_estimate, 1e-5 * exact)
            assert abs(e32 - exact) <= 0.02 * exact
        else:
            assert e32 == pytest.approx(e64, rel=1e-5)


@pytest.mark.parametrize("method", METHODS)
def test_array_api_strict_input(method):
    xs = pytest.importorskip("array_api_strict")
    A = psd_matrix(decaying(60), seed=19)
    ref, rref = trace(A, num_matvecs=21, method=method, random_state=5, full_output=True)
    est, res = trace(xs.asarray(A), num_matvecs=21, method=method, random_state=5, full_output=True)
    assert isinstance(est, float)
    assert est == pytest.approx(ref, rel=1e-12)
    assert res.error_estimate == pytest.approx(rref.error_estimate, rel=1e-8)
    assert res.num_matvecs == rref.num_matvecs
    # float32 in the strict namespace too
    e32 = trace(xs.asarray(A.astype(np.float32)), num_matvecs=21, method=method, random_state=5)
    ref32 = trace(A.astype(np.float32), num_matvecs=21, method=method, random_state=5)
    assert e32 == pytest.approx(ref32, rel=1e-5)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("make", input_forms())
def test_input_forms_agree_with_dense(method, make):
    rng = np.random.default_rng(20)
    A = psd_matrix(decaying(50), seed=20)
    A[rng.random(A.shape) < 0.5] = 0.0
    A = (A + A.T) / 2  # sparse-ish, symmetric
    ref = trace(A, num_matvecs=18, method=method, random_state=6)
    est = trace(make(A), num_matvecs=18, method=method, random_state=6)
    assert est == pytest.approx(ref, rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("method", METHODS)
def test_callable_with_like_uses_its_dtype(method):
    A = psd_matrix(decaying(70), seed=21)
    op = (A.shape, lambda v: A @ v, lambda V: A @ V)
    e64 = trace(op, num_matvecs=24, method=method, random_state=7, like=np.ones(3))
    assert e64 == trace(A, num_matvecs=24, method=method, random_state=7)
    seen = []

    def matmat(V):
        seen.append(V.dtype)
        return A.astype(np.float32) @ V

    e32 = trace((A.shape, lambda v: matmat(v[:, None])[:, 0], matmat), num_matvecs=24, method=method,
                random_state=7, like=np.ones(3, dtype=np.float32))
    assert seen and all(dt == np.float32 for dt in seen)
    assert e32 == pytest.approx(trace(A.astype(np.float32), num_matvecs=24, method=method, random_state=7),
                                rel=1e-6)


def test_integer_matrix_is_computed_in_float64():
    G = np.random.default_rng(22).integers(-3, 4, size=(30, 4))
    A = G @ G.T  # int64, rank 4
    est = trace(A, num_matvecs=30, method="hutch++", random_state=0)
    assert abs(est - np.trace(A)) <= 1e-10 * np.trace(A)


# ------------------------------------------------------------------------- errors


@pytest.mark.parametrize("method", ["Hutch++", "hutch", "", "slq"])
def test_unknown_method_raises(method):
    with pytest.raises(ValueError, match=r"^method"):
        trace(np.eye(5), method=method)


@pytest.mark.parametrize("method", [None, 1, ["hutch++"]])
def test_method_of_wrong_kind_raises_type_error(method):
    with pytest.raises(TypeError, match=r"^method"):
        trace(np.eye(5), method=method)


@pytest.mark.parametrize(
    ("method", "num_matvecs", "exc"),
    [
        ("hutchinson", 0, ValueError), ("hutchinson", -3, ValueError),
        ("hutch++", 0, ValueError), ("hutch++", 1, ValueError), ("hutch++", 2, ValueError),
        ("xtrace", 0, ValueError), ("xtrace", 1, ValueError), ("xtrace", 3, ValueError),
        ("hutch++", 10.0, TypeError), ("hutch++", 2.5, TypeError), ("hutch++", "10", TypeError),
        ("hutch++", None, TypeError), ("hutchinson", True, TypeError),
    ],
)
def test_invalid_num_matvecs(method, num_matvecs, exc):
    A = psd_matrix(decaying(10), seed=0)
    with pytest.raises(exc, match="num_matvecs"):
        trace(A, num_matvecs=num_matvecs, method=method)


@pytest.mark.parametrize("method", METHODS)
def test_non_square_raises(method):
    with pytest.raises(ValueError, match="square"):
        trace(np.ones((5, 6)), method=method, num_matvecs=10)
    with pytest.raises(ValueError, match="square"):
        trace(((5, 6), lambda v: np.ones(5)), method=method, num_matvecs=10)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_matrix_raises(method, bad):
    A = np.eye(6)
    A[2, 2] = bad
    with pytest.raises(ValueError, match="NaN"):
        trace(A, method=method, num_matvecs=10)
    with pytest.raises(ValueError, match="NaN"):
        trace(sp.csr_matrix(A), method=method, num_matvecs=10)


@pytest.mark.parametrize("method", METHODS)
def test_callable_producing_nan_raises(method):
    op = ((6, 6), lambda v: v * np.nan, lambda V: V * np.nan)
    with pytest.raises((ValueError, FloatingPointError)):
        trace(op, method=method, num_matvecs=10, random_state=0)


def test_xtrace_rejects_non_symmetric_matrix():
    A = nonsymmetric(30)
    with pytest.raises(ValueError, match="symmetric"):
        trace(A, method="xtrace", num_matvecs=20)
    with pytest.raises(ValueError, match="symmetric"):
        trace(sp.csr_matrix(A), method="xtrace", num_matvecs=20)
    # ... while Hutchinson and Hutch++ accept it.
    for method in ("hutchinson", "hutch++"):
        assert math.isfinite(trace(A, method=method, num_matvecs=20, random_state=0))


@pytest.mark.parametrize(
    ("A", "exc"),
    [("abc", TypeError), (np.ones(5), ValueError), (np.eye(4, dtype=complex), ValueError)],
    ids=["string", "1-D", "complex"],
)
def test_invalid_operator(A, exc):
    with pytest.raises(exc):
        trace(A, num_matvecs=10)


@pytest.mark.parametrize("random_state", [-1, 1.5, "0", True])
def test_invalid_random_state(random_state):
    with pytest.raises((TypeError, ValueError), match="random_state"):
        trace(np.eye(5), num_matvecs=6, random_state=random_state)


# ------------------------------------------------------------- effective dimension


@pytest.fixture(scope="module")
def lowrank300():
    A = low_rank(300, 20, seed=23)
    return A, np.linalg.eigvalsh(A)


@pytest.fixture(scope="module")
def poly300():
    lam = decaying(300)
    A = psd_matrix(lam, seed=4)
    w, V = np.linalg.eigh(A)
    return A, lam, w, V


@pytest.mark.parametrize("method", ["auto", "nystrom"])
@pytest.mark.parametrize("mu", [1e-3, 1.0, 100.0])
def test_effective_dimension_exact_on_low_rank(lowrank300, method, mu):
    A, lam = lowrank300
    exact = exact_deff(lam, mu)
    for seed in range(2):
        d = effective_dimension(A, mu, method=method, random_state=seed)
        assert isinstance(d, float)
        assert abs(d - exact) <= 1e-8 * exact


def test_effective_dimension_nystrom_integer_rank_exact_on_low_rank(lowrank300):
    A, lam = lowrank300
    exact = exact_deff(lam, 0.5)
    assert effective_dimension(A, 0.5, method="nystrom", rank=20, random_state=0) == pytest.approx(
        exact, rel=1e-8)


@pytest.mark.parametrize("method", ["slq", "auto"])
@pytest.mark.parametrize("mu", [1e-4, 1e-3])
def test_effective_dimension_full_rank_within_a_few_percent(poly300, method, mu):
    # λ_i = i^-2, n = 300: numerically full rank, so 'auto' falls back on SLQ. The SLQ
    # value is unbiased up to quadrature error; its spread is Hutchinson's for f(A), with
    # exact standard deviation σ = √(2 (‖f(A)‖_F² − Σ f(A)_ii²) / p).
    A, lam, w, V = poly300
    exact = exact_deff(lam, mu)
    F = (V * (w / (w + mu))) @ V.T
    p = 60
    sigma = math.sqrt(2 * (np.sum(F**2) - np.sum(np.diag(F) ** 2)) / p)
    values = np.array([effective_dimension(A, mu, method=method, num_probes=p, random_state=s)
                       for s in range(4)])
    assert np.all(np.abs(values - exact) <= 4 * sigma + 0.005 * exact), (values, exact, sigma)
    assert np.all(np.abs(values - exact) <= 0.05 * exact), (values, exact)
    assert abs(values.mean() - exact) <= 0.02 * exact


@pytest.mark.parametrize("rank", [5, 10, 20])
@pytest.mark.parametrize("mu", [1e-4, 1e-2])
def test_effective_dimension_nystrom_small_rank_is_lower_bound(poly300, rank, mu):
    # Â ⪯ A, so Σ λ̂/(λ̂ + μ) <= Σ λ/(λ + μ); and it is the value of rnla.nystrom's sketch.
    A, lam, _, _ = poly300
    exact = exact_deff(lam, mu)
    for seed in range(3):
        d = effective_dimension(A, mu, method="nystrom", rank=rank, random_state=seed)
        assert 0 < d <= exact * (1 + 1e-10)
        approx = rnla.nystrom(A, rank, random_state=seed)
        assert d == pytest.approx(float(np.sum(approx.eigvals / (approx.eigvals + mu))), rel=1e-12)
        assert d <= rank


def test_effective_dimension_nystrom_auto_rank_grows_to_n(poly300):
    # rank='auto' doubles the sketch until λ̂ reaches rounding level or n: here it reaches
    # n = 300 (λ_300 ≈ 1e-5 is far above rounding), and then the value is exact.
    A, lam, _, _ = poly300
    for mu in (1e-4, 1e-2):
        d = effective_dimension(A, mu, method="nystrom", random_state=0)
        assert d == pytest.approx(exact_deff(lam, mu), rel=1e-8)


def test_effective_dimension_callable_and_like(lowrank300):
    A, lam = lowrank300
    op = (A.shape, lambda v: A @ v, lambda V: A @ V)
    exact = exact_deff(lam, 1.0)
    assert effective_dimension(op, 1.0, random_state=0) == pytest.approx(exact, rel=1e-8)
    d32 = effective_dimension(op, 1.0, random_state=0, like=np.ones(1, dtype=np.float32))
    assert d32 == pytest.approx(exact, rel=1e-4)
    d = effective_dimension(sp.csr_matrix(A), 1.0, random_state=0)
    assert d == pytest.approx(exact, rel=1e-8)


def test_effective_dimension_array_api_strict(poly300):
    xs = pytest.importorskip("array_api_strict")
    A = poly300[0]
    for method in ("auto", "slq", "nystrom"):
        ref = effective_dimension(A, 1e-3, method=method, random_state=1)
        got = effective_dimension(xs.asarray(A), 1e-3, method=method, random_state=1)
        assert isinstance(got, float)
        assert got == pytest.approx(ref, rel=1e-10)


def test_effective_dimension_reproducible_by_seed(poly300):
    A = poly300[0]
    for method in ("auto", "slq", "nystrom"):
        a = effective_dimension(A, 1e-3, method=method, random_state=9)
        assert a == effective_dimension(A, 1e-3, method=method, random_state=9)


@pytest.mark.parametrize("case", ["float32-poly", "float64-tail"])
def test_effective_dimension_auto_accounts_for_tail_above_mu(case):
    # Regression: 'auto' used to stop at the "numerical rank" λ̂_ℓ <= 10·sqrt(eps)·λ̂_1 whatever
    # mu, and return the Nyström value as exact, dropping a tail of eigenvalues above mu
    # (10.6 instead of 14.9 in float32; 30 instead of 274 for a float64 tail at 1e-9).
    n = 300
    if case == "float32-poly":
        lam, mu = decaying(n), 1e-2
        A = psd_matrix(lam, seed=4, dtype=np.float32)
    else:
        lam, mu = np.r_[np.ones(10), np.full(n - 10, 1e-9)], 1e-10
        A = psd_matrix(lam, seed=4)
    exact = exact_deff(lam, mu)
    # SLQ gets it right ...
    slq_value = effective_dimension(A, mu, method="slq", num_probes=60, random_state=0)
    assert abs(slq_value - exact) <= 0.1 * exact
    # ... and 'auto' should too.
    assert abs(effective_dimension(A, mu, random_state=0) - exact) <= 0.1 * exact


@pytest.mark.parametrize(("mu", "exc"), [(0, ValueError), (0.0, ValueError), (-1.0, ValueError),
                                         (np.nan, ValueError), (np.inf, ValueError),
                                         (True, TypeError), ("1", TypeError), (None, TypeError)])
def test_effective_dimension_invalid_mu(mu, exc):
    with pytest.raises(exc, match="mu"):
        effective_dimension(np.eye(5), mu)


@pytest.mark.parametrize("method", ["exact", "Nystrom", ""])
def test_effective_dimension_unknown_method(method):
    with pytest.raises(ValueError, match=r"^method"):
        effective_dimension(np.eye(5), 1.0, method=method)


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        ({"method": None}, TypeError),
        ({"rank": "full"}, ValueError),
        ({"rank": "Auto"}, ValueError),
        ({"rank": 2.5}, TypeError),
        ({"rank": None}, TypeError),
        ({"rank": 0}, ValueError),
        ({"rank": 6}, ValueError),
        ({"rank": True}, TypeError),
        ({"method": "nystrom", "num_probes": 0}, ValueError),
        ({"method": "nystrom", "num_steps": 1.5}, TypeError),
    ],
)
def test_effective_dimension_validation_policy(kwargs, exc):
    # "'auto' or an int" is parsed by check_auto_or; every message starts with the name.
    name = next(k for k in kwargs if k != "method" or len(kwargs) == 1)
    with pytest.raises(exc, match=rf"^{name}"):
        effective_dimension(np.eye(5), 1.0, **kwargs)


def test_trace_full_output_must_be_bool():
    with pytest.raises(TypeError, match=r"^full_output"):
        trace(np.eye(5), full_output="yes")


@pytest.mark.parametrize("exponent", [-280, -160, 160, 280])
def test_xtrace_scale_invariant(exponent):
    # Regression: XTrace normalised vectors with entries ~1/‖A‖ by an unscaled norm, which
    # underflowed for 1e+160·A (a 1e-2 relative error) and gave NaN at 1e+280.
    A = psd_matrix(decaying(40), seed=81)
    s = 10.0**exponent
    ref = trace(A, method="xtrace", num_matvecs=30, random_state=0)
    est = trace((A.shape, lambda v: (A * s) @ v, lambda V: (A * s) @ V), method="xtrace",
                num_matvecs=30, random_state=0)
    np.testing.assert_allclose(est / s, ref, rtol=1e-10)


def test_effective_dimension_rejects_non_symmetric():
    with pytest.raises(ValueError, match="symmetric"):
        effective_dimension(nonsymmetric(30), 1.0)


# ---------------------------------------------------------------------------- CuPy


@pytest.mark.gpu
@pytest.mark.parametrize("method", METHODS)
def test_cupy_trace_agrees_with_numpy(cupy, method):
    A = psd_matrix(decaying(300, 1.5), seed=24)
    exact = np.trace(A)
    Ad = cupy.asarray(A)
    e_np, r_np = trace(A, num_matvecs=60, method=method, random_state=0, full_output=True)
    e_cp, r_cp = trace(Ad, num_matvecs=60, method=method, random_state=0, full_output=True)
    assert isinstance(e_cp, float) and isinstance(r_cp.error_estimate, float)
    assert r_cp.num_matvecs == r_np.num_matvecs
    # Different generators on the device: agreement within the statistical error.
    assert abs(e_cp - exact) <= 5 * r_cp.error_estimate + 1e-12 * exact
    assert abs(e_cp - e_np) <= 5 * math.hypot(r_np.error_estimate, r_cp.error_estimate) + 1e-12 * exact
    # Same seed on the device: reproducible, and callables with like= draw the same probes.
    assert trace(Ad, num_matvecs=60, method=method, random_state=0) == pytest.approx(e_cp, rel=1e-12)
    op = (A.shape, lambda v: Ad @ v, lambda V: Ad @ V)
    e_like = trace(op, num_matvecs=60, method=method, random_state=0, like=cupy.ones(1))
    assert e_like == pytest.approx(e_cp, rel=1e-10)


@pytest.mark.gpu
def test_cupy_effective_dimension(cupy):
    A = low_rank(200, 15, seed=25)
    exact = exact_deff(np.linalg.eigvalsh(A), 1.0)
    assert effective_dimension(cupy.asarray(A), 1.0, random_state=0) == pytest.approx(exact, rel=1e-8)


@pytest.mark.parametrize("shape", [(0, 0), (5, 0), (0, 5)])
@pytest.mark.parametrize("func", ["trace", "effective_dimension"])
def test_rejects_an_empty_matrix_naming_it(func, shape):
    # Was Operator's "shape must be a pair of positive integers", which does not name A.
    call = {"trace": lambda A: trace(A), "effective_dimension": lambda A: effective_dimension(A, 1.0)}
    with pytest.raises(ValueError, match=r"^A must not be empty"):
        call[func](np.ones(shape))


@pytest.mark.parametrize("method", ["auto", "nystrom", "slq"])
@pytest.mark.parametrize("num_probes", [10**30, np.int64(2**62)])
def test_effective_dimension_rejects_an_impossible_number_of_probes(method, num_probes):
    # Was: accepted when the Nyström route made the probes unneeded, NumPy's "maximum allowed
    # dimension exceeded" otherwise. The call is valid or not whatever route the data takes.
    with pytest.raises(ValueError, match=r"^num_probes=\d+ is too large: the 8 × num_probes probe block"):
        effective_dimension(np.eye(8), 1.0, method=method, num_probes=num_probes)
