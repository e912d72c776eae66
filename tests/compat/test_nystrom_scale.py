"""Scale invariance, numerically zero and singular operators for the Nyström layer (issue 13).

Regression tests: each of these failed before the fixes in rnla/nystrom.py, rnla/operators.py
and rnla/_backend.py (scale before squaring, rounding-relative symmetry tests, the numerical
rank of the preconditioner, the mu=0 stopping rule of rank='auto', no copies of the data).
"""

import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from hypothesis import given, settings
from hypothesis import strategies as st

import rnla
from rnla import GramOperator, NystromPreconditioner, Operator, as_operator, nystrom
from rnla._backend import array_namespace
from rnla.nystrom import adaptive_nystrom
from rnla.operators import check_symmetric


def _psd(n, rank, seed, dtype=np.float64, low=0.1):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    lam = np.zeros(n)
    lam[:rank] = np.geomspace(10.0, low, rank)
    return ((Q * lam) @ Q.T).astype(dtype)


# --- 1. scale invariance over the whole floating range -------------------------------------

@settings(max_examples=40, deadline=None)
@given(exponent=st.floats(-300, 300), seed=st.integers(0, 2**16), rank=st.integers(1, 12))
def test_nystrom_eigenvalues_scale_with_A_float64(exponent, seed, rank):
    A = _psd(30, 12, seed)
    s = 10.0 ** exponent
    ref = nystrom(A, rank, random_state=seed)
    scaled = nystrom(s * A, rank, random_state=seed)
    assert scaled.rank == ref.rank == rank
    np.testing.assert_allclose(scaled.eigvals / s, ref.eigvals, rtol=1e-10)
    np.testing.assert_allclose(np.abs(scaled.U.T @ ref.U), np.eye(rank), atol=1e-7)


@settings(max_examples=30, deadline=None)
@given(exponent=st.floats(-35, 35), seed=st.integers(0, 2**16))
def test_nystrom_eigenvalues_scale_with_A_float32(exponent, seed):
    A = _psd(30, 8, seed, np.float32)
    s = np.float32(10.0 ** exponent)
    ref = nystrom(A, 6, random_state=seed)
    scaled = nystrom(s * A, 6, random_state=seed)
    assert scaled.eigvals.dtype == np.float32 and scaled.rank == 6
    np.testing.assert_allclose(scaled.eigvals / s, ref.eigvals, rtol=2e-3)


@pytest.mark.parametrize("s", [1e160, 1e-160, 1e300, 1e-300])
def test_preconditioner_scales_with_A(s):
    A = _psd(40, 40, 3)
    b = np.random.default_rng(4).standard_normal(40)
    P = NystromPreconditioner(nystrom(s * A, 10, random_state=5), mu=1e-3 * s)
    P_ref = NystromPreconditioner(nystrom(A, 10, random_state=5), mu=1e-3)
    assert P.rank == P_ref.rank == 10
    np.testing.assert_allclose(P.eigvals / s, P_ref.eigvals, rtol=1e-10)
    np.testing.assert_allclose(P @ b, P_ref @ b, rtol=1e-9)


@pytest.mark.parametrize("s", [1e-300, 1e-160, 1e160, 1e300])
def test_check_symmetric_is_scale_free(s):
    A = _psd(6, 6, 1)
    check_symmetric(s * A)
    with pytest.raises(ValueError, match=r"^A is not symmetric"):
        check_symmetric(s * np.triu(A))


# --- 2. numerically zero operators are symmetric and PSD ------------------------------------

def _centred_gram(X, sw):
    """The weighted, implicitly centred Gram operator as optim/estimators.py builds it:
    ``GramOperator(X, weights=s·n/Σs) − x̄ x̄ᵀ``, passing on the GramOperator's noise level."""
    n, d = X.shape
    total = n if sw is None else float(np.sum(sw))
    gram = GramOperator(X, weights=None if sw is None else sw * (n / total))
    x_mean = X.T @ (np.ones(n) if sw is None else sw) / total

    def apply(V):
        proj = x_mean @ V
        return gram @ V - (x_mean * proj if V.ndim == 1 else x_mean[:, None] * proj[None, :])

    return Operator((d, d), apply, matvec=apply, dtype=X.dtype, noise_level=gram.noise_level)


def _noise_cases():
    rng = np.random.default_rng(7)
    const = np.empty((40, 3))
    const[:] = [0.1, 7.3, -2.9]
    sw = np.zeros(40)
    sw[3] = 2.0
    return {"constant features": (const, None),
            "identical rows": (np.tile(rng.standard_normal(5) * [1, 10, 100, 0.1, 3], (60, 1)), None),
            "one non-zero weight": (rng.standard_normal((40, 5)), sw)}


@pytest.mark.parametrize("case", list(_noise_cases()))
def test_numerically_zero_centred_gram_is_accepted(case):
    X, sw = _noise_cases()[case]
    op = _centred_gram(X, sw)
    d = X.shape[1]
    # The products are pure rounding noise, asymmetric at their own scale.
    assert 0 < np.linalg.norm(op @ np.eye(d)) < 1e-12 * np.linalg.norm(X) ** 2
    approx = nystrom(op, min(2, d), random_state=0)
    assert np.all(approx.eigvals == 0)
    b = np.random.default_rng(1).standard_normal(d)
    for rank in ("auto", 2):
        x, info = rnla.nystrom_pcg(op, b, 0.5, rank=rank, rtol=1e-10, random_state=0)
        assert info == 0
        np.testing.assert_allclose(x, b / 0.5, rtol=1e-9)
    x, info = rnla.nystrom_pcg(op, np.zeros(d), 0.0, random_state=0)
    assert info == 0 and np.all(x == 0)


def test_mu_makes_rounding_noise_harmless_without_a_noise_level():
    # A plain operator (no noise level given): rounding noise far below mu must not be refused.
    X, _ = _noise_cases()["constant features"]
    op = _centred_gram(X, None)
    plain = Operator(op.shape, op.matmat, matvec=op.matvec, dtype=op.dtype)
    b = np.ones(3)
    x, info = rnla.nystrom_pcg(plain, b, 1e-2, rtol=1e-10, random_state=0)
    assert info == 0
    np.testing.assert_allclose(x, b / 1e-2, rtol=1e-9)


@pytest.mark.parametrize("s", [1.0, 1e-200])
def test_real_asymmetry_is_still_refused(s):
    rng = np.random.default_rng(2)
    A = np.triu(_psd(20, 20, 2)) + np.eye(20)
    X = rng.standard_normal((30, 20))
    gram = GramOperator(X)
    op = Operator((20, 20), lambda V: s * (A @ V), dtype=np.float64, noise_level=s * gram.noise_level)
    with pytest.raises(ValueError, match="not symmetric"):
        nystrom(op, 5, random_state=0)


# --- 3. consistent singular systems with mu = 0 ---------------------------------------------

def _path_laplacian(n):
    main = np.full(n, 2.0)
    main[[0, -1]] = 1.0
    return sp.diags([-np.ones(n - 1), main, -np.ones(n - 1)], [-1, 0, 1], format="csr")


def _graph_laplacian(n, seed):
    W = np.random.default_rng(seed).random((n, n))
    W = np.triu(W, 1) + np.triu(W, 1).T
    return np.diag(W.sum(1)) - W


@pytest.mark.parametrize("kind, n", [("path", 20), ("path", 200), ("graph", 50), ("graph", 100)])
@pytest.mark.parametrize("rank", ["auto", "n", "n-1"])
def test_nystrom_pcg_solves_consistent_singular_system(kind, n, rank):
    L = _path_laplacian(n) if kind == "path" else _graph_laplacian(n, n)
    Ld = L.toarray() if sp.issparse(L) else L
    b = Ld @ np.random.default_rng(n).standard_normal(n)  # in the range: consistent
    r = {"auto": "auto", "n": n, "n-1": n - 1}[rank]
    x_pcg, info_pcg = rnla.pcg(L, b, rtol=1e-8)
    x, info = rnla.nystrom_pcg(L, b, 0.0, rank=r, rtol=1e-8, random_state=1)
    assert info_pcg == 0 and info == 0
    assert np.linalg.norm(Ld @ x - b) <= 1e-8 * np.linalg.norm(b)
    # Both stay in the range of L from x0 = 0: the minimum-norm solution.
    x_min = np.linalg.lstsq(Ld, b, rcond=None)[0]
    np.testing.assert_allclose(x, x_min, atol=1e-6 * np.linalg.norm(x_min))
    np.testing.assert_allclose(x, x_pcg, atol=1e-6 * np.linalg.norm(x_min))


# --- 4. rank='auto' with mu = 0 stops where the sketch stops paying -------------------------

def _poisson2d(m):
    T = sp.diags([-np.ones(m - 1), 2 * np.ones(m), -np.ones(m - 1)], [-1, 0, 1])
    return (sp.kron(T, sp.eye(m)) + sp.kron(sp.eye(m), T)).tocsr()


def _nystrom_pcg_mu0(A, b):
    """What ``nystrom_pcg(A, b, 0.0)`` does with ``rank='auto'`` and the cost rule: the
    adaptive sketch, the preconditioner, PCG; returns ``(x, info, rank, total matvecs)``."""
    op = as_operator(A)
    approx = adaptive_nystrom(op, 0.0, xp=array_namespace(b), dtype=b.dtype, device=None,
                              random_state=0, stop="cost")
    x, info, res = rnla.pcg(A, b, M=NystromPreconditioner(approx, 0.0), full_output=True)
    return x, info, approx.rank, approx.sketch_size + res.matvecs


@pytest.mark.parametrize("m", [32, 48])
def test_auto_rank_mu0_on_poisson2d_costs_about_what_pcg_costs(m):
    A = _poisson2d(m)
    b = np.random.default_rng(m).standard_normal(m * m)
    _, info_pcg, res_pcg = rnla.pcg(A, b, full_output=True)
    x, info, rank, matvecs = _nystrom_pcg_mu0(A, b)
    assert info == info_pcg == 0
    assert rank <= 32
    assert matvecs <= 1.5 * res_pcg.matvecs
    assert np.linalg.norm(A @ x - b) <= 1e-5 * np.linalg.norm(b)
    # The rank-revealing rule (the default, for effective_dimension) grows much further.
    full = adaptive_nystrom(as_operator(A), 0.0, xp=array_namespace(b), dtype=b.dtype, device=None,
                            random_state=0, max_rank=256)
    assert full.rank == 256


def test_auto_rank_mu0_still_grows_on_fast_decay():
    # A spectrum decaying like i^-2: the sketch pays, it must grow past its first size and
    # beat plain CG by a wide margin.
    n = 600
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = (Q / np.arange(1, n + 1) ** 2) @ Q.T
    b = rng.standard_normal(n)
    _, _, res_pcg = rnla.pcg(A, b, full_output=True)
    _, info, rank, matvecs = _nystrom_pcg_mu0(A, b)
    assert info == 0
    assert 32 <= rank < n
    assert matvecs < 0.6 * res_pcg.matvecs


def test_cost_rule_stops_when_the_spectrum_is_captured():
    # Low rank (30), fast decay and mu = 0: the sketch pays until it reveals the rank, then stops.
    A = _psd(200, 30, 9, low=1e-6)
    approx = adaptive_nystrom(as_operator(A), 0.0, xp=array_namespace(A), dtype=A.dtype, device=None,
                              random_state=0, stop="cost", initial_rank=8)
    assert approx.sketch_size in (32, 64)
    assert int(np.sum(approx.eigvals > 0)) == 30
    with pytest.raises(ValueError, match=r"^stop must be one of"):
        adaptive_nystrom(as_operator(A), 0.0, xp=array_namespace(A), dtype=A.dtype, device=None, stop="x")


# --- 6, 7. products never copy the data -----------------------------------------------------

def _peak(f):
    tracemalloc.start()
    try:
        out = f()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("make", ["gram", "matrix"])
@pytest.mark.parametrize("k", [None, 4])
def test_float32_data_is_not_copied_for_float64_vectors(make, k):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20000, 50)).astype(np.float32)  # 4 MB
    if make == "gram":
        op, ref = GramOperator(X, weights=np.ones(20000)), lambda V: X.T @ (X @ V) / 20000
    else:
        op, ref = as_operator(X, square=False), lambda V: X @ V
    d = 50
    V = rng.standard_normal(d if k is None else (d, k))
    out, peak = _peak(lambda: op @ V)
    assert peak < X.nbytes / 4
    assert out.dtype == np.float64  # NumPy's promotion, computed in float32
    out32 = op @ V.astype(np.float32)
    assert out32.dtype == np.float32
    if ref is not None:
        np.testing.assert_allclose(out, ref(V.astype(np.float32)), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_gram_block_intermediate_is_bounded(fmt):
    n, d, k = 20000, 400, 256
    X = sp.random(n, d, density=0.05, format=fmt, random_state=1, dtype=np.float64)
    stored = X.data.nbytes + X.indices.nbytes
    w = np.random.default_rng(2).random(n)
    G = GramOperator(X, weights=w, mu=0.1)
    V = np.random.default_rng(3).standard_normal((d, k))
    out, peak = _peak(lambda: G @ V)
    assert peak < 2 * stored < n * k * 8 / 4
    ref = X.T @ (w[:, None] * (X @ V)) / n + 0.1 * V
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("func, args", [
    (rnla.nystrom, (3,)), (rnla.lanczos, (3,)), (rnla.trace, ()), (rnla.eigsh, (2,)),
    (rnla.slq, (np.log,)), (rnla.effective_dimension, (1.0,)), (rnla.nystrom_pcg, (np.ones(8), 1.0)),
])
@pytest.mark.parametrize("form", ["callable", "linear_operator"])
def test_complex_products_are_refused_not_cast(func, args, form):
    # Review of issue 13: a callable or LinearOperator whose products are complex was cast to real
    # with only NumPy's ComplexWarning, and the function returned a result for another operator.
    A = np.diag(np.arange(1.0, 9.0)) + 0.1j * np.eye(8)
    op = ((8, 8), lambda v: A @ v) if form == "callable" else spla.aslinearoperator(A)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"^A (returned values of dtype complex|must (be|hold) real)"):
            func(op, *args)
