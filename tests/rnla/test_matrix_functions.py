"""Tests of ``rnla.logdet`` and ``rnla.trace_inv`` (``matrix_functions``, ``_slq_sums``, ``_factor_sums``).

Exact Cholesky results are compared with ``numpy.linalg.slogdet`` and ``numpy.linalg.inv`` to
rounding; SLQ estimates with the exact values through their own error estimate (a seeded
statistical test of its coverage included). Also: every input form (dense, sparse, shifted,
LinearOperator, callables, GramOperator), the ``'auto'`` choice by cost, the adaptive probes and
steps (by counts), non-positive-definite input, argument errors naming the argument, scaling
properties with hypothesis, float32, array_api_strict and (marked ``gpu``) CuPy.
"""

import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from helpers import psd_matrix
from hypothesis import given, settings
from hypothesis import strategies as st

from rnla import GramOperator, NotPositiveDefiniteError, Operator, SpectralSumResult, logdet, trace_inv
from rnla.matrix_functions import _choose

FUNCS = {"logdet": logdet, "trace_inv": trace_inv}


def exact_value(kind, A, mu=0.0):
    M = np.asarray(A.toarray() if sp.issparse(A) else A, dtype=np.float64) + mu * np.eye(A.shape[0])
    if kind == "logdet":
        sign, value = np.linalg.slogdet(M)
        assert sign == 1
        return value
    return float(np.trace(np.linalg.inv(M)))


def poisson2d(k):
    """The 5-point Laplacian on a k × k grid (n = k², eigenvalues in (0, 8))."""
    T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(k, k))
    return (sp.kron(T, sp.eye(k)) + sp.kron(sp.eye(k), T)).tocsr()


@pytest.fixture(scope="module")
def spd300():
    lam = np.geomspace(0.2, 20.0, 300)  # log det = 300 log 2
    return psd_matrix(lam, seed=3), lam


# ----------------------------------------------------------------------------- exact


@pytest.mark.parametrize("kind", FUNCS)
@pytest.mark.parametrize("mu", [0.0, 0.5])
@pytest.mark.parametrize("form", ["dense", "csr", "csc", "LinearOperator", "tuple", "float32"])
def test_exact_matches_numpy(spd300, kind, mu, form):
    A, _ = spd300
    ref = exact_value(kind, A, mu)
    given_A = {"dense": A, "csr": sp.csr_matrix(A), "csc": sp.csc_array(A),
               "LinearOperator": spla.aslinearoperator(A),
               "tuple": (A.shape, lambda v: A @ v, lambda V: A @ V),
               "float32": A.astype(np.float32)}[form]
    est, res = FUNCS[kind](given_A, mu=mu, method="exact", full_output=True)
    assert isinstance(est, float) and isinstance(res, SpectralSumResult)
    assert res.method == "exact" and res.converged and res.error_estimate == 0.0
    assert res.num_matvecs == (300 if form in ("LinearOperator", "tuple") else 0)
    rtol = 1e-4 if form == "float32" else 1e-10
    assert est == pytest.approx(ref, rel=rtol)


@pytest.mark.parametrize("kind", FUNCS)
@pytest.mark.parametrize("sparse_x", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_exact_gram_operator_formed_from_its_data(kind, sparse_x, weighted):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((200, 40))
    X[rng.random(X.shape) < 0.5] = 0.0
    w = rng.uniform(0.5, 2.0, 200) if weighted else None
    G = GramOperator(sp.csr_matrix(X) if sparse_x else X, weights=w, mu=0.1)
    D = np.ones(200) if w is None else w
    M = X.T @ (D[:, None] * X) / 200 + 0.1 * np.eye(40)
    est, res = FUNCS[kind](G, mu=0.2, method="exact", full_output=True)
    assert est == pytest.approx(exact_value(kind, M, 0.2), rel=1e-10)
    assert res.num_matvecs == 0


def test_exact_sparse_poisson_against_closed_form():
    k = 20
    j = np.arange(1, k + 1)
    lam1 = 2.0 - 2.0 * np.cos(j * np.pi / (k + 1))
    lam = (lam1[:, None] + lam1[None, :]).ravel()
    A = poisson2d(k)
    assert logdet(A, method="exact") == pytest.approx(np.sum(np.log(lam)), rel=1e-11)
    assert trace_inv(A, mu=0.01, method="exact") == pytest.approx(np.sum(1 / (lam + 0.01)), rel=1e-11)


# ----------------------------------------------------------------------------- SLQ


@pytest.mark.parametrize("kind", FUNCS)
@pytest.mark.parametrize("mu", [0.0, 1.0])
@pytest.mark.parametrize("sparse", [False, True])
def test_slq_within_its_error_estimate(spd300, kind, mu, sparse):
    A, _ = spd300
    ref = exact_value(kind, A, mu)
    est, res = FUNCS[kind](sp.csr_matrix(A) if sparse else A, mu=mu, method="slq", random_state=0,
                           full_output=True)
    assert res.method == "slq" and res.converged
    assert res.num_matvecs >= res.num_probes * res.num_steps
    assert res.error_estimate <= 1e-2 * abs(res.estimate)
    assert abs(est - ref) <= 4 * res.error_estimate
    assert abs(est - ref) <= 0.03 * abs(ref)


def test_slq_sparse_poisson_with_shift():
    A = poisson2d(40)
    for kind in FUNCS:
        ref = exact_value(kind, A, 0.05)
        est, res = FUNCS[kind](A, mu=0.05, method="slq", random_state=1, full_output=True)
        assert res.converged
        assert abs(est - ref) <= 4 * res.error_estimate + 1e-12


@pytest.mark.parametrize("kind", FUNCS)
def test_error_estimate_covers_the_error_in_most_seeded_trials(kind):
    lam = np.geomspace(0.05, 20.0, 400)
    A = psd_matrix(lam, seed=11)
    ref = exact_value(kind, A)
    ratios = []
    for seed in range(40):
        est, res = FUNCS[kind](A, method="slq", num_probes=20, random_state=seed, full_output=True)
        ratios.append(abs(est - ref) / res.error_estimate)
    ratios = np.array(ratios)
    # Normal errors: |err| <= 2 se in ~95 % of trials; loose (t with 19 dof, 40 trials).
    assert np.mean(ratios <= 2.0) >= 0.8
    assert np.mean(ratios <= 1.0) >= 0.45
    # Not a vacuous estimate either: the errors are not all far inside it.
    assert np.mean(ratios <= 0.3) <= 0.5


def test_tighter_rtol_uses_more_probes_and_is_more_accurate(spd300):
    A, _ = spd300
    ref = exact_value("logdet", A, 1.0)
    loose = logdet(A, mu=1.0, method="slq", rtol=1e-2, random_state=2, full_output=True)[1]
    tight = logdet(A, mu=1.0, method="slq", rtol=4e-3, random_state=2, full_output=True)[1]
    assert loose.converged and tight.converged
    assert tight.num_probes > loose.num_probes >= 10
    assert tight.std_error <= 4e-3 * abs(tight.estimate)
    assert abs(tight.estimate - ref) <= 4 * tight.error_estimate


def test_fixed_probes_and_steps_are_respected(spd300):
    A, _ = spd300
    _, res = trace_inv(A, method="slq", num_probes=7, num_steps=12, random_state=0, full_output=True)
    assert (res.num_probes, res.num_steps, res.num_matvecs) == (7, 12, 84)


def test_ill_conditioned_needs_more_steps_and_auto_finds_them():
    # trace_inv with condition number 1e4: 30-point Gauss rules are far off.
    lam = np.geomspace(1e-4, 1.0, 600)
    A = np.diag(lam)  # diagonal: sign probes have zero variance, only the quadrature errs
    ref = np.sum(1 / lam)
    est, res = trace_inv(A, method="slq", random_state=0, full_output=True)
    assert res.num_steps > 30
    assert res.converged
    assert abs(est - ref) <= 1e-2 * ref
    short, sres = trace_inv(A, method="slq", num_steps=10, random_state=0, full_output=True)
    assert not sres.converged
    assert sres.quadrature_error > 1e-2 * abs(short)
    assert abs(short - ref) > 1e-2 * ref  # the flag was right


def test_unconverged_warns_without_full_output():
    lam = np.geomspace(1e-4, 1.0, 200)
    with pytest.warns(UserWarning, match="trace_inv: the error estimate"):
        trace_inv(np.diag(lam), method="slq", num_steps=5, random_state=0)
    # Quadrature-limited: more probes cannot help, so few are spent.
    res = trace_inv(np.diag(lam), method="slq", num_steps=5, random_state=0, full_output=True)[1]
    assert res.num_probes == 10 and not res.converged
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fixed num_probes: the flag only, no warning
        trace_inv(np.diag(lam), method="slq", num_probes=3, num_steps=5, random_state=0)


def test_quadrature_exact_when_steps_reach_n():
    lam = np.geomspace(1e-3, 1.0, 40)
    D = np.diag(lam)  # diagonal: each sign probe sees the exact spectral measure
    est, res = logdet(D, method="slq", num_probes=3, num_steps=40, random_state=0, full_output=True)
    assert est == pytest.approx(np.sum(np.log(lam)), rel=1e-10)
    assert res.quadrature_error == 0.0 and res.std_error <= 1e-10
    # Fewer steps: the estimate of the rules' bias is of the size of their actual error.
    est, res = logdet(D, method="slq", num_probes=3, num_steps=8, random_state=0, full_output=True)
    err = abs(est - np.sum(np.log(lam)))
    assert err > 1e-3
    assert 0.2 * err <= res.quadrature_error <= 20 * err


def test_reproducible_by_seed(spd300):
    A, _ = spd300
    a = logdet(A, method="slq", random_state=5)
    assert a == logdet(A, method="slq", random_state=np.random.default_rng(5))
    assert a != logdet(A, method="slq", random_state=6)


def test_float32_products_stay_float32(spd300):
    A, _ = spd300
    seen = []
    A32 = A.astype(np.float32)

    def matmat(V):
        seen.append(V.dtype)
        return A32 @ V

    op = (A.shape, lambda v: A32 @ v, matmat)
    est = logdet(op, mu=1.0, method="slq", random_state=0, like=np.ones(1, dtype=np.float32))
    assert seen and all(dt == np.float32 for dt in seen)
    assert isinstance(est, float)
    assert est == pytest.approx(exact_value("logdet", A, 1.0), rel=0.03)


# ------------------------------------------------------------------------ auto choice


def test_auto_chooses_by_cost():
    short = {"num_probes": 2, "num_steps": 3, "random_state": 0, "full_output": True}  # the choice only
    small = psd_matrix(np.linspace(1.0, 2.0, 100), seed=1)
    assert logdet(small, method="auto", full_output=True)[1].method == "exact"
    mid = np.diag(np.linspace(1.0, 2.0, 2500))
    assert logdet(mid, random_state=0, full_output=True)[1].method == "exact"
    assert trace_inv(mid, **short)[1].method == "exact"
    # Large dense matrices: the rule reads only the size (no 7000² matrix is made).
    assert _choose("logdet", np.zeros((2, 2)), Operator((5000, 5000), lambda V: V)) == "exact"
    assert _choose("logdet", np.zeros((2, 2)), Operator((7000, 7000), lambda V: V)) == "slq"
    # trace_inv: potri triples the factorisation's flops, but SLQ needs ~3× the products.
    assert _choose("trace_inv", np.zeros((2, 2)), Operator((5000, 5000), lambda V: V)) == "exact"
    assert _choose("trace_inv", np.zeros((2, 2)), Operator((7000, 7000), lambda V: V)) == "slq"
    assert _choose("trace_inv", sp.eye(3000, format="csr"), Operator((3000, 3000), lambda V: V)) == "slq"
    assert logdet(poisson2d(20), full_output=True)[1].method == "exact"
    assert logdet(poisson2d(50), mu=0.1, **short)[1].method == "slq"
    rng = np.random.default_rng(0)
    assert logdet(GramOperator(rng.standard_normal((2000, 50)), mu=0.1),
                  full_output=True)[1].method == "exact"
    # Wide data: the d × d Gram matrix costs d³/3 to factorise, products only 4 N d.
    assert logdet(GramOperator(rng.standard_normal((100, 3000)), mu=0.1), **short)[1].method == "slq"
    assert logdet(spla.aslinearoperator(small), full_output=True)[1].method == "exact"


# ---------------------------------------------------------------------- not PD, errors


@pytest.mark.parametrize("kind", FUNCS)
@pytest.mark.parametrize("method", ["exact", "slq"])
@pytest.mark.parametrize("sparse", [False, True])
def test_indefinite_raises(kind, method, sparse):
    lam = np.r_[-1.0, np.linspace(1.0, 2.0, 99)]
    A = psd_matrix(lam, seed=2)
    A = sp.csr_matrix(A) if sparse else A
    with pytest.raises(NotPositiveDefiniteError, match="not positive definite"):
        FUNCS[kind](A, method=method, num_steps=40, random_state=0)
    assert issubclass(NotPositiveDefiniteError, ValueError)
    # The shift makes it positive definite.
    assert math.isfinite(FUNCS[kind](A, mu=2.0, method=method, random_state=0))


@pytest.mark.parametrize("method", ["exact", "slq"])
def test_singular_psd_raises_without_shift(method):
    G = np.random.default_rng(0).standard_normal((100, 10))
    A = G @ G.T
    with pytest.raises(NotPositiveDefiniteError):
        logdet(A, method=method, num_steps=40, random_state=0)
    assert logdet(A, mu=1e-3, method="exact") == pytest.approx(exact_value("logdet", A, 1e-3), rel=1e-10)


@pytest.mark.parametrize("func", [logdet, trace_inv])
@pytest.mark.parametrize(("kwargs", "exc", "match"), [
    ({"mu": -1.0}, ValueError, "^mu"),
    ({"mu": "x"}, TypeError, "^mu"),
    ({"mu": math.nan}, ValueError, "^mu"),
    ({"method": "cholesky"}, ValueError, "^method"),
    ({"method": 1}, TypeError, "^method"),
    ({"rtol": -1e-3}, ValueError, "^rtol"),
    ({"atol": None}, TypeError, "^atol"),
    ({"num_probes": 0}, ValueError, "^num_probes"),
    ({"num_probes": "many"}, ValueError, "^num_probes"),
    ({"num_probes": 2.5}, TypeError, "^num_probes"),
    ({"num_steps": 0}, ValueError, "^num_steps"),
    ({"max_probes": 0}, ValueError, "^max_probes"),
    ({"full_output": 1}, TypeError, "^full_output"),
    ({"random_state": "seed"}, TypeError, "random_state"),
])
def test_invalid_arguments_name_themselves(func, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        func(np.eye(5), **kwargs)


@pytest.mark.parametrize("func", [logdet, trace_inv])
def test_invalid_operators_name_a(func):
    with pytest.raises(ValueError, match=r"^A"):
        func(np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"^A is not symmetric"):
        func(np.triu(np.ones((4, 4))) + 4 * np.eye(4))
    with pytest.raises(ValueError, match=r"^A"):
        func(np.eye(4) * (1 + 1j))
    with pytest.raises(ValueError, match=r"^A"):
        func(np.diag([1.0, np.nan, 1.0]))
    with pytest.raises(TypeError, match=r"^A"):
        func("matrix")


def test_operator_producing_nan_is_reported():
    op = ((50, 50), lambda v: v * np.nan)
    with pytest.raises(ValueError, match="NaN"):
        logdet(op, method="slq", random_state=0)
    with pytest.raises(ValueError, match="NaN"):
        logdet(op, method="exact")


# --------------------------------------------------------------------------- properties


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 30), log2s=st.integers(-20, 20), seed=st.integers(0, 2**16),
       method=st.sampled_from(["exact", "slq"]))
def test_property_scaling(n, log2s, seed, method):
    rng = np.random.default_rng(seed)
    A = psd_matrix(rng.uniform(0.5, 2.0, n), seed=seed)
    s = 2.0**log2s
    kw = {"method": method, "random_state": seed, "num_probes": 4}
    base, scaled = logdet(A, **kw), logdet(s * A, **kw)
    assert scaled == pytest.approx(base + n * math.log(s), rel=1e-9, abs=1e-9 * n * (1 + abs(math.log(s))))
    t_base, t_scaled = trace_inv(A, **kw), trace_inv(s * A, **kw)
    assert t_scaled == pytest.approx(t_base / s, rel=1e-9)
    if method == "exact":
        assert base == pytest.approx(exact_value("logdet", A), rel=1e-9, abs=1e-9)


@settings(max_examples=20, deadline=None)
@given(d=st.lists(st.floats(0.1, 10.0), min_size=1, max_size=40), mu=st.floats(0.0, 5.0),
       seed=st.integers(0, 2**16))
def test_property_slq_exact_on_diagonals(d, mu, seed):
    """Sign probes see a diagonal's exact spectral measure; n steps integrate it exactly."""
    d = np.array(d)
    A = np.diag(d)
    est = logdet(A, mu=mu, method="slq", num_steps=len(d), random_state=seed)
    assert est == pytest.approx(np.sum(np.log(d + mu)), rel=1e-8, abs=1e-8)
    est = trace_inv(A, mu=mu, method="slq", num_steps=len(d), random_state=seed)
    assert est == pytest.approx(np.sum(1 / (d + mu)), rel=1e-8)


# ----------------------------------------------------------------------------- backends


@pytest.mark.parametrize("method", ["exact", "slq"])
def test_array_api_strict(method):
    xs = pytest.importorskip("array_api_strict")
    A = psd_matrix(np.linspace(1.0, 5.0, 60), seed=16)
    for kind, func in FUNCS.items():
        ref = func(A, mu=0.5, method=method, num_probes=5, random_state=3)
        est = func(xs.asarray(A), mu=0.5, method=method, num_probes=5, random_state=3)
        assert isinstance(est, float)
        assert est == pytest.approx(ref, rel=1e-10)
        if method == "exact":
            assert est == pytest.approx(exact_value(kind, A, 0.5), rel=1e-10)


@pytest.mark.gpu
def test_cupy_agrees_with_exact(cupy, spd300):
    A, _ = spd300
    Ad = cupy.asarray(A)
    for kind, func in FUNCS.items():
        ref = exact_value(kind, A, 0.5)
        assert func(Ad, mu=0.5, method="exact") == pytest.approx(ref, rel=1e-10)
        est, res = func(Ad, mu=0.5, method="slq", random_state=0, full_output=True)
        assert abs(est - ref) <= 4 * res.error_estimate
        assert func(Ad.astype(cupy.float32), mu=0.5, method="exact") == pytest.approx(ref, rel=1e-4)


def test_no_warning_when_converged(spd300):
    A, _ = spd300
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        logdet(A, mu=1.0, method="slq", random_state=0)


def test_float32_too_ill_conditioned_is_reported_not_returned():
    """κ ≈ 1e6 in float32: Lanczos' Ritz values fall below zero by far more than float32's rounding
    level; the error says so and names the ways out (the float64 run is accurate)."""
    lam = 1.0 / np.arange(1, 2001) ** 2
    with pytest.raises(NotPositiveDefiniteError, match="float64"):
        logdet(sp.diags(lam.astype(np.float32)).tocsr(), mu=1e-6, method="slq", random_state=0)
    est = logdet(sp.diags(lam).tocsr(), mu=1e-6, method="slq", random_state=0)
    assert est == pytest.approx(np.sum(np.log(lam + 1e-6)), rel=1e-2)
