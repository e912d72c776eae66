"""Tests of the finite-sum objectives ``optim.LeastSquares``, ``optim.Logistic`` and ``optim.Objective``.

Every value, gradient, Hessian product and curvature is checked against dense NumPy formulas
written out here,

``f(w) = (1/|S|) Σ_{i∈S} s̃_i ℓ(a_iᵀw; y_i) + (reg/2) ‖w_coef‖²``,  ``s̃ = s · n / Σ s``,

with ``a_i`` the i-th row of ``X`` followed by a 1 when an (unpenalised) intercept is fitted,
``ℓ(z; y) = ½(z − y)²`` for least squares and ``ℓ(z; ỹ) = log(1 + exp(−ỹ z))`` (``ỹ = ±1``) for
logistic regression; against central finite differences; against scikit-learn's loss
definitions and solutions (``log_loss``, ``Ridge``, ``LogisticRegression``); on SciPy sparse,
float32 and ``array_api_strict`` inputs; and with ``hypothesis`` for randomized properties.
"""

import warnings

import array_api_strict as xs
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import expit
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import log_loss

from optim import LeastSquares, Logistic, Objective
from optim.problems import CallableBatch, GLMBatch

# ----------------------------------------------------------------------------- references


def make_data(kind, n=40, d=5, seed=0, scale=1.0):
    """Seeded ``(X, y)``: Gaussian features, real targets or {0, 1} labels from a noisy model."""
    rng = np.random.default_rng(seed)
    X = scale * rng.standard_normal((n, d))
    if kind == "ls":
        y = X @ rng.standard_normal(d) + 0.3 * rng.standard_normal(n)
    else:
        y = (rng.random(n) < expit(X @ rng.standard_normal(d))).astype(np.int64)
    return X, y


def make_problem(kind, X, y, reg=0.0, **kw):
    return (LeastSquares if kind == "ls" else Logistic)(X, y, reg, **kw)


def design(X, fit_intercept):
    X = np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float64)
    return np.hstack([X, np.ones((X.shape[0], 1))]) if fit_intercept else X


def penalty_mask(d, fit_intercept):
    return np.r_[np.ones(d), 0.0] if fit_intercept else np.ones(d)


def ref_weights(n, sample_weight):
    if sample_weight is None:
        return np.ones(n)
    sw = np.asarray(sample_weight, dtype=np.float64)
    return sw * n / sw.sum()


def ref_parts(X, y, sample_weight, fit_intercept, idx):
    """``(A_S, y_S, s̃_S, mask)`` of the batch ``idx`` (all samples if ``None``)."""
    A = design(X, fit_intercept)
    y = np.asarray(y, dtype=np.float64)
    s = ref_weights(A.shape[0], sample_weight)
    if idx is not None:
        A, y, s = A[idx], y[idx], s[idx]
    return A, y, s, penalty_mask(X.shape[1], fit_intercept)


def ref_loss(kind, z, y):
    if kind == "ls":
        return 0.5 * (z - y) ** 2
    ypm = np.where(y > 0, 1.0, -1.0)
    return np.logaddexp(0.0, -ypm * z)


def ref_dloss(kind, z, y):
    if kind == "ls":
        return z - y
    ypm = np.where(y > 0, 1.0, -1.0)
    return -ypm * expit(-ypm * z)


def ref_d2loss(kind, z, y):
    if kind == "ls":
        return np.ones_like(z)
    p = expit(z)
    return p * (1.0 - p)


def ref_value(kind, X, y, w, reg, *, fit_intercept=False, sample_weight=None, idx=None):
    A, y, s, mask = ref_parts(X, y, sample_weight, fit_intercept, idx)
    wc = w * mask
    return np.mean(s * ref_loss(kind, A @ w, y)) + 0.5 * reg * (wc @ wc)


def ref_grad(kind, X, y, w, reg, *, fit_intercept=False, sample_weight=None, idx=None):
    A, y, s, mask = ref_parts(X, y, sample_weight, fit_intercept, idx)
    return A.T @ (s * ref_dloss(kind, A @ w, y)) / A.shape[0] + reg * mask * w


def ref_curvature(kind, X, y, w, *, fit_intercept=False, sample_weight=None, idx=None):
    A, y, s, _ = ref_parts(X, y, sample_weight, fit_intercept, idx)
    return s * ref_d2loss(kind, A @ w, y)


def ref_hessian(kind, X, y, w, reg, *, fit_intercept=False, sample_weight=None, idx=None):
    A, y, s, mask = ref_parts(X, y, sample_weight, fit_intercept, idx)
    c = s * ref_d2loss(kind, A @ w, y)
    return (A.T * c) @ A / A.shape[0] + reg * np.diag(mask)


def close(actual, desired, rtol=1e-11, atol=1e-13):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(desired), rtol=rtol, atol=atol)


KINDS = [pytest.param("ls", id="ls"), pytest.param("logistic", id="logistic")]
INTERCEPT = [pytest.param(False, id="no-intercept"), pytest.param(True, id="intercept")]
WEIGHTED = [pytest.param(False, id="unweighted"), pytest.param(True, id="weighted")]
IDX = [pytest.param(None, id="all"), pytest.param("subset", id="subset")]


def setup_case(kind, fit_intercept, weighted, idx_kind, n=40, d=5, reg=0.3, seed=0):
    X, y = make_data(kind, n, d, seed)
    rng = np.random.default_rng(seed + 100)
    sw = rng.uniform(0.1, 3.0, n) if weighted else None
    idx = None if idx_kind is None else rng.choice(n, 13, replace=False)
    prob = make_problem(kind, X, y, reg, fit_intercept=fit_intercept, sample_weight=sw)
    w = rng.standard_normal(prob.dim)
    kw = dict(fit_intercept=fit_intercept, sample_weight=sw, idx=idx)
    return prob, X, y, w, idx, kw


# ----------------------------------------------------------------------------- dense formulas


@pytest.mark.parametrize("idx_kind", IDX)
@pytest.mark.parametrize("weighted", WEIGHTED)
@pytest.mark.parametrize("fit_intercept", INTERCEPT)
@pytest.mark.parametrize("kind", KINDS)
def test_value_grad_hvp_match_dense_formulas(kind, fit_intercept, weighted, idx_kind):
    prob, X, y, w, idx, kw = setup_case(kind, fit_intercept, weighted, idx_kind)
    reg = prob.reg
    assert prob.dim == X.shape[1] + int(fit_intercept)
    close(prob.value(w, idx), ref_value(kind, X, y, w, reg, **kw))
    close(prob.grad(w, idx), ref_grad(kind, X, y, w, reg, **kw))
    value, grad = prob.value_and_grad(w, idx)
    close(value, ref_value(kind, X, y, w, reg, **kw))
    close(grad, ref_grad(kind, X, y, w, reg, **kw))
    H = ref_hessian(kind, X, y, w, reg, **kw)
    rng = np.random.default_rng(7)
    v = rng.standard_normal(prob.dim)
    V = rng.standard_normal((prob.dim, 3))
    hv = prob.hvp(w, v, idx)
    assert hv.shape == (prob.dim,)
    close(hv, H @ v)
    HV = prob.hvp(w, V, idx)
    assert HV.shape == (prob.dim, 3)
    close(HV, H @ V)
    close(prob.hvp(w, np.eye(prob.dim), idx), H)


@pytest.mark.parametrize("kind", KINDS)
def test_intercept_is_not_penalised(kind):
    X, y = make_data(kind, 30, 3, seed=1)
    prob = make_problem(kind, X, y, reg=5.0, fit_intercept=True)
    w = np.array([0.1, -0.2, 0.3, 4.0])
    w0 = w.copy()
    w0[-1] = 0.0
    data = make_problem(kind, X, y, reg=0.0, fit_intercept=True)
    # The penalty depends only on the coefficients.
    close(prob.value(w) - data.value(w), 0.5 * 5.0 * (w0 @ w0))
    close(prob.grad(w) - data.grad(w), 5.0 * w0)
    close(prob.hvp(w, np.eye(4)) - data.hvp(w, np.eye(4)), 5.0 * np.diag([1.0, 1.0, 1.0, 0.0]), atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_sample_weights_are_rescaled_to_mean_one(kind):
    """Scaling all weights leaves the problem unchanged; integer weights repeat samples."""
    X, y = make_data(kind, 12, 3, seed=2)
    counts = np.array([1, 2, 3, 1, 1, 2, 1, 4, 1, 1, 2, 1])
    w = np.array([0.5, -1.0, 0.25])
    weighted = make_problem(kind, X, y, 0.2, sample_weight=counts)
    scaled = make_problem(kind, X, y, 0.2, sample_weight=7.5 * counts)
    repeated = make_problem(kind, np.repeat(X, counts, axis=0), np.repeat(y, counts), 0.2)
    for other in (scaled, repeated):
        close(weighted.value(w), other.value(w))
        close(weighted.grad(w), other.grad(w))
        close(weighted.hvp(w, np.eye(3)), other.hvp(w, np.eye(3)))


@pytest.mark.parametrize("kind", KINDS)
def test_zero_weight_samples_do_not_count(kind):
    X, y = make_data(kind, 10, 3, seed=3)
    sw = np.r_[np.ones(6), np.zeros(4)]
    w = np.array([0.3, 0.1, -0.7])
    prob = make_problem(kind, X, y, 0.1, sample_weight=sw)
    sub = make_problem(kind, X[:6], y[:6], 0.1)
    close(prob.value(w), sub.value(w))
    close(prob.grad(w), sub.grad(w))


@pytest.mark.parametrize("kind", KINDS)
def test_least_squares_and_logistic_closed_forms(kind):
    """Two hand-checkable values at w = 0."""
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    w = np.zeros(2)
    if kind == "ls":
        prob = LeastSquares(X, np.array([1.0, 2.0, 3.0]), reg=1.0)
        assert prob.value(w) == pytest.approx((1 + 4 + 9) / 6)
        close(prob.grad(w), -np.array([1 + 3, 2 + 3]) / 3)
    else:
        prob = Logistic(X, np.array([0, 1, 1]), reg=0.1)
        assert prob.value(w) == pytest.approx(np.log(2))
        # σ(0) − y = [0.5, −0.5, −0.5]; Xᵀ of it over n = 3, plus 0.1·w = 0.
        close(prob.grad(w), np.array([0.0, -1.0]) / 3)


# ----------------------------------------------------------------------------- finite differences


@pytest.mark.parametrize("fit_intercept", INTERCEPT)
@pytest.mark.parametrize("kind", KINDS)
def test_grad_and_hvp_match_central_differences(kind, fit_intercept):
    prob, _, _, w, idx, _ = setup_case(kind, fit_intercept, True, "subset", n=30, d=4, reg=0.2, seed=4)
    h = 1e-5
    for i in (None, idx):
        E = np.eye(prob.dim)
        g_fd = np.array([(prob.value(w + h * e, i) - prob.value(w - h * e, i)) / (2 * h) for e in E])
        close(prob.grad(w, i), g_fd, rtol=1e-7, atol=1e-8)
        H_fd = np.column_stack([(prob.grad(w + h * e, i) - prob.grad(w - h * e, i)) / (2 * h) for e in E])
        close(prob.hvp(w, E, i), H_fd, rtol=1e-7, atol=1e-8)
        v = np.random.default_rng(5).standard_normal(prob.dim)
        close(prob.hvp(w, v, i), (prob.grad(w + h * v, i) - prob.grad(w - h * v, i)) / (2 * h),
              rtol=1e-7, atol=1e-8)


# ----------------------------------------------------------------------------- scikit-learn


@pytest.mark.parametrize("weighted", WEIGHTED)
def test_logistic_value_is_sklearn_log_loss(weighted):
    X, y = make_data("logistic", 50, 4, seed=6)
    rng = np.random.default_rng(6)
    w = rng.standard_normal(4)
    sw = rng.uniform(0.2, 2.0, 50) if weighted else None
    prob = Logistic(X, y, reg=0.0, sample_weight=sw)
    expected = log_loss(y, expit(X @ w), sample_weight=sw)
    assert prob.value(w) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("fit_intercept", INTERCEPT)
def test_logistic_label_conventions_agree(fit_intercept):
    X, y01 = make_data("logistic", 30, 3, seed=7)
    w = np.random.default_rng(7).standard_normal(3 + int(fit_intercept))
    forms = [y01, 2 * y01 - 1, y01.astype(bool), y01.astype(np.float32), (2 * y01 - 1).astype(np.float64),
             y01.reshape(-1, 1)]
    probs = [Logistic(X, yy, reg=0.1, fit_intercept=fit_intercept) for yy in forms]
    for prob in probs[1:]:
        assert prob.value(w) == probs[0].value(w)
        np.testing.assert_array_equal(prob.grad(w), probs[0].grad(w))
        np.testing.assert_array_equal(prob.hvp(w, np.eye(prob.dim)), probs[0].hvp(w, np.eye(prob.dim)))


def _newton_minimiser(prob):
    """Exact minimiser of a quadratic problem: one Newton step from 0."""
    w0 = np.zeros(prob.dim)
    return -np.linalg.solve(prob.hvp(w0, np.eye(prob.dim)), prob.grad(w0))


@pytest.mark.parametrize("weighted", WEIGHTED)
@pytest.mark.parametrize("fit_intercept", INTERCEPT)
def test_least_squares_minimiser_is_sklearn_ridge(fit_intercept, weighted):
    X, y = make_data("ls", 60, 6, seed=8)
    y = y + 3.0  # a real intercept
    rng = np.random.default_rng(8)
    sw = rng.uniform(0.1, 4.0, 60) if weighted else None
    alpha = 3.0
    ridge = Ridge(alpha=alpha, fit_intercept=fit_intercept).fit(X, y, sample_weight=sw)
    total = 60 if sw is None else sw.sum()
    prob = LeastSquares(X, y, reg=alpha / total, fit_intercept=fit_intercept, sample_weight=sw)
    w_sk = np.r_[ridge.coef_, ridge.intercept_] if fit_intercept else ridge.coef_
    assert np.linalg.norm(prob.grad(w_sk)) < 1e-10 * max(1.0, np.linalg.norm(y))
    close(_newton_minimiser(prob), w_sk, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("weighted", WEIGHTED)
@pytest.mark.parametrize("fit_intercept", INTERCEPT)
def test_logistic_gradient_vanishes_at_sklearn_solution(fit_intercept, weighted):
    X, y = make_data("logistic", 80, 4, seed=9)
    rng = np.random.default_rng(9)
    sw = rng.uniform(0.1, 3.0, 80) if weighted else None
    C = 0.7
    clf = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, fit_intercept=fit_intercept,
                             max_iter=200).fit(X, y, sample_weight=sw)
    total = 80 if sw is None else sw.sum()
    prob = Logistic(X, y, reg=1.0 / (C * total), fit_intercept=fit_intercept, sample_weight=sw)
    w_sk = np.r_[clf.coef_.ravel(), clf.intercept_] if fit_intercept else clf.coef_.ravel()
    assert np.linalg.norm(prob.grad(w_sk)) < 1e-8
    # A wrong penalty (e.g. an intercept that is penalised) would leave a gradient this large.
    assert np.linalg.norm(Logistic(X, y, reg=2.0 / (C * total), fit_intercept=fit_intercept,
                                   sample_weight=sw).grad(w_sk)) > 1e-4


# ----------------------------------------------------------------------------- batch objects


@pytest.mark.parametrize("weighted", WEIGHTED)
@pytest.mark.parametrize("fit_intercept", INTERCEPT)
@pytest.mark.parametrize("kind", KINDS)
def test_curvature_and_hessian_operator(kind, fit_intercept, weighted):
    prob, X, y, w, idx, kw = setup_case(kind, fit_intercept, weighted, "subset", seed=10)
    for i in (None, idx):
        kw["idx"] = i
        c = prob.curvature(w, i)
        close(c, ref_curvature(kind, X, y, w, **kw))
        A, _, _, mask = ref_parts(X, y, kw["sample_weight"], fit_intercept, i)
        if kind == "ls" and not weighted:
            np.testing.assert_array_equal(c, np.ones(A.shape[0]))
        batch = prob.batch(i)
        assert isinstance(batch, GLMBatch)
        assert batch.size == A.shape[0]
        V = np.random.default_rng(11).standard_normal((prob.dim, 4))
        H_data = (A.T * c) @ A / A.shape[0]
        op = batch.hessian_operator(w)
        assert op.shape == (prob.dim, prob.dim)
        close(op @ V, H_data @ V)
        close(op @ V[:, 0], H_data @ V[:, 0])
        close(batch.hessian_operator(w, include_penalty=True) @ V, (H_data + prob.reg * np.diag(mask)) @ V)
        close(batch.hvp(w, V), (H_data + prob.reg * np.diag(mask)) @ V)
        close(batch.value(w), ref_value(kind, X, y, w, prob.reg, **kw))
        close(batch.grad(w), ref_grad(kind, X, y, w, prob.reg, **kw))


@pytest.mark.parametrize("fit_intercept", INTERCEPT)
@pytest.mark.parametrize("kind", KINDS)
def test_grad_diff(kind, fit_intercept):
    prob, _, _, w, idx, _ = setup_case(kind, fit_intercept, True, "subset", seed=12)
    w_ref = np.random.default_rng(12).standard_normal(prob.dim)
    for i in (None, idx):
        close(prob.batch(i).grad_diff(w, w_ref), prob.grad(w, i) - prob.grad(w_ref, i))


def test_batch_with_repeated_indices_averages_the_multiset():
    X, y = make_data("logistic", 10, 3, seed=13)
    prob = Logistic(X, y, 0.1)
    w = np.array([0.2, -0.4, 1.0])
    idx = np.array([1, 1, 4])
    close(prob.value(w, idx), ref_value("logistic", X, y, w, 0.1, idx=idx))
    close(prob.grad(w, idx), ref_grad("logistic", X, y, w, 0.1, idx=idx))


# ----------------------------------------------------------------------------- input forms


@pytest.mark.parametrize("fmt", [sp.csr_matrix, sp.csc_matrix, sp.csr_array], ids=["csr", "csc", "csr_array"])
@pytest.mark.parametrize("fit_intercept", INTERCEPT)
@pytest.mark.parametrize("kind", KINDS)
def test_sparse_matches_dense(kind, fit_intercept, fmt):
    X, y = make_data(kind, 40, 6, seed=14)
    X[np.random.default_rng(14).random(X.shape) < 0.6] = 0.0
    sw = np.random.default_rng(15).uniform(0.5, 2.0, 40)
    dense = make_problem(kind, X, y, 0.2, fit_intercept=fit_intercept, sample_weight=sw)
    sparse = make_problem(kind, fmt(X), y, 0.2, fit_intercept=fit_intercept, sample_weight=sw)
    rng = np.random.default_rng(16)
    w = rng.standard_normal(dense.dim)
    V = rng.standard_normal((dense.dim, 3))
    idx = rng.choice(40, 9, replace=False)
    w_ref = rng.standard_normal(dense.dim)
    for i in (None, idx):
        close(sparse.value(w, i), dense.value(w, i))
        close(sparse.grad(w, i), dense.grad(w, i))
        close(sparse.hvp(w, V, i), dense.hvp(w, V, i))
        close(sparse.hvp(w, V[:, 0], i), dense.hvp(w, V[:, 0], i))
        close(sparse.curvature(w, i), dense.curvature(w, i))
        close(sparse.batch(i).grad_diff(w, w_ref), dense.batch(i).grad_diff(w, w_ref))
        assert isinstance(sparse.grad(w, i), np.ndarray)


@pytest.mark.parametrize("fit_intercept", INTERCEPT)
@pytest.mark.parametrize("kind", KINDS)
def test_float32_stays_float32(kind, fit_intercept):
    X, y = make_data(kind, 50, 5, seed=17)
    sw = np.random.default_rng(17).uniform(0.5, 2.0, 50)
    p64 = make_problem(kind, X, y, 0.1, fit_intercept=fit_intercept, sample_weight=sw)
    p32 = make_problem(kind, X.astype(np.float32), y, 0.1, fit_intercept=fit_intercept, sample_weight=sw)
    assert p32.dtype == np.float32
    rng = np.random.default_rng(18)
    w = rng.standard_normal(p64.dim)
    V = rng.standard_normal((p64.dim, 2))
    idx = np.arange(0, 50, 3)
    for i in (None, idx):
        g32, hv32, HV32 = p32.grad(w, i), p32.hvp(w, V[:, 0], i), p32.hvp(w, V, i)
        assert g32.dtype == np.float32 and hv32.dtype == np.float32 and HV32.dtype == np.float32
        assert p32.grad(w.astype(np.float32), i).dtype == np.float32
        assert p32.curvature(w, i).dtype == np.float32
        assert isinstance(p32.value(w, i), float)
        assert p32.value(w, i) == pytest.approx(p64.value(w, i), rel=1e-5)
        tol = 1e-5 * np.linalg.norm(p64.grad(w, i))
        assert np.linalg.norm(g32 - p64.grad(w, i)) <= tol
        assert np.linalg.norm(HV32 - p64.hvp(w, V, i)) <= 1e-5 * np.linalg.norm(p64.hvp(w, V, i))


@pytest.mark.parametrize("fit_intercept", INTERCEPT)
@pytest.mark.parametrize("kind", KINDS)
def test_array_api_strict_value_grad_hvp(kind, fit_intercept):
    X, y = make_data(kind, 30, 4, seed=19)
    sw = np.random.default_rng(19).uniform(0.5, 2.0, 30)
    ref = make_problem(kind, X, y, 0.3, fit_intercept=fit_intercept, sample_weight=sw)
    prob = make_problem(kind, xs.asarray(X), xs.asarray(y), 0.3, fit_intercept=fit_intercept,
                        sample_weight=xs.asarray(sw))
    w = np.random.default_rng(20).standard_normal(ref.dim)
    v = np.random.default_rng(21).standard_normal(ref.dim)
    wx, vx = xs.asarray(w), xs.asarray(v)
    idx = np.array([0, 3, 5, 11, 29])
    for i, ix in ((None, None), (idx, xs.asarray(idx))):
        assert prob.value(wx, ix) == pytest.approx(ref.value(w, i), rel=1e-12)
        g = prob.grad(wx, ix)
        assert type(g) is type(wx)
        close(np.asarray(g), ref.grad(w, i))
        hv = prob.hvp(wx, vx, ix)
        assert type(hv) is type(wx)
        close(np.asarray(hv), ref.hvp(w, v, i))
        close(np.asarray(prob.curvature(wx, ix)), ref.curvature(w, i))


@pytest.mark.parametrize("kind", KINDS)
def test_array_api_strict_block_hvp_without_intercept(kind):
    X, y = make_data(kind, 30, 4, seed=22)
    ref = make_problem(kind, X, y, 0.3)
    prob = make_problem(kind, xs.asarray(X), xs.asarray(y), 0.3)
    w = np.random.default_rng(22).standard_normal(4)
    V = np.random.default_rng(23).standard_normal((4, 3))
    close(np.asarray(prob.hvp(xs.asarray(w), xs.asarray(V))), ref.hvp(w, V))
    close(np.asarray(prob.batch(None).grad_diff(xs.asarray(w), xs.asarray(2 * w))),
          ref.batch(None).grad_diff(w, 2 * w))


@pytest.mark.parametrize("kind", KINDS)
def test_array_api_strict_block_hvp_with_intercept(kind):
    X, y = make_data(kind, 30, 4, seed=24)
    ref = make_problem(kind, X, y, 0.3, fit_intercept=True)
    prob = make_problem(kind, xs.asarray(X), xs.asarray(y), 0.3, fit_intercept=True)
    w = np.random.default_rng(24).standard_normal(5)
    V = np.random.default_rng(25).standard_normal((5, 3))
    close(np.asarray(prob.hvp(xs.asarray(w), xs.asarray(V))), ref.hvp(w, V))
    close(np.asarray(prob.batch(None).grad_diff(xs.asarray(w), xs.asarray(2 * w))),
          ref.batch(None).grad_diff(w, 2 * w))


@pytest.mark.parametrize("fit_intercept", INTERCEPT)
def test_extreme_margins_stay_finite_without_warnings(fit_intercept):
    rng = np.random.default_rng(26)
    X = 1e3 * rng.choice([-1.0, 1.0], size=(20, 3))
    y = rng.integers(0, 2, 20)
    w = np.array([1.0, -0.5, 0.8, 2.0][: 3 + int(fit_intercept)])
    prob = Logistic(X, y, reg=0.01, fit_intercept=fit_intercept)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        value = prob.value(w)
        g = prob.grad(w)
        H = prob.hvp(w, np.eye(prob.dim))
        c = prob.curvature(w)
    kw = dict(fit_intercept=fit_intercept)
    assert np.isfinite(value) and np.all(np.isfinite(g)) and np.all(np.isfinite(H))
    assert value == pytest.approx(ref_value("logistic", X, y, w, 0.01, **kw), rel=1e-12)
    close(g, ref_grad("logistic", X, y, w, 0.01, **kw))
    assert np.all(c >= 0) and np.all(c <= 0.25)
    assert np.abs(prob.batch(None).margins(w)).min() > 100  # really extreme
    # Huge margins in both directions: the losses are |z| for the wrong side, 0 for the right side.
    z = design(X, fit_intercept) @ w
    ypm = 2 * y - 1
    assert value == pytest.approx(np.mean(np.maximum(-ypm * z, 0.0)) + 0.005 * np.sum(w[:3] ** 2), rel=1e-12)


# ----------------------------------------------------------------------------- bad input


def _ok_data():
    X, y = make_data("logistic", 6, 2, seed=27)
    y[:2] = [0, 1]
    return X, y


@pytest.mark.parametrize("cls", [LeastSquares, Logistic])
@pytest.mark.parametrize("case, match", [
    pytest.param(lambda X, y: dict(X=X[:, 0], y=y), "X", id="X-1d"),
    pytest.param(lambda X, y: dict(X=X[None], y=y), "X", id="X-3d"),
    pytest.param(lambda X, y: dict(X=X, y=y[:-1]), "y", id="y-short"),
    pytest.param(lambda X, y: dict(X=X, y=np.c_[y, y]), "y", id="y-2cols"),
    pytest.param(lambda X, y: dict(X=np.where(np.arange(6)[:, None] == 2, np.nan, X), y=y), "X",
                 id="X-nan"),
    pytest.param(lambda X, y: dict(X=np.where(np.arange(6)[:, None] == 2, np.inf, X), y=y), "X",
                 id="X-inf"),
    pytest.param(lambda X, y: dict(X=sp.csr_matrix(np.where(X > 0, np.nan, X)), y=y), "X",
                 id="X-sparse-nan"),
    pytest.param(lambda X, y: dict(X=X, y=np.where(np.arange(6) == 3, np.nan, y)), "y", id="y-nan"),
    pytest.param(lambda X, y: dict(X=X, y=y, reg=-1.0), "reg", id="reg-negative"),
    pytest.param(lambda X, y: dict(X=X, y=y, reg="big"), "reg", id="reg-str"),
    pytest.param(lambda X, y: dict(X=X, y=y, reg=None), "reg", id="reg-None"),
    pytest.param(lambda X, y: dict(X=X, y=y, reg=np.nan), "reg", id="reg-nan"),
    pytest.param(lambda X, y: dict(X=X, y=y, sample_weight=np.ones(5)), "sample_weight", id="sw-shape"),
    pytest.param(lambda X, y: dict(X=X, y=y, sample_weight=np.ones((6, 1))), "sample_weight",
                 id="sw-2d"),
    pytest.param(lambda X, y: dict(X=X, y=y, sample_weight=np.r_[-1.0, np.ones(5)]), "sample_weight",
                 id="sw-negative"),
    pytest.param(lambda X, y: dict(X=X, y=y, sample_weight=np.zeros(6)), "sample_weight", id="sw-zero"),
    pytest.param(lambda X, y: dict(X=X, y=y, sample_weight=np.r_[np.nan, np.ones(5)]), "sample_weight",
                 id="sw-nan"),
    pytest.param(lambda X, y: dict(X=X, y=y, fit_intercept="yes"), "fit_intercept", id="fi-str"),
    pytest.param(lambda X, y: dict(X=X, y=y, fit_intercept=None), "fit_intercept", id="fi-None"),
    pytest.param(lambda X, y: dict(X=X, y=y, fit_intercept=2), "fit_intercept", id="fi-2"),
])
def test_bad_constructor_input_names_the_argument(cls, case, match):
    X, y = _ok_data()
    kwargs = case(X, y.astype(np.float64))
    X_, y_ = kwargs.pop("X"), kwargs.pop("y")
    with pytest.raises((ValueError, TypeError), match=match):
        cls(X_, y_, **kwargs)


@pytest.mark.parametrize("labels, match", [
    pytest.param([0, 1, 2], "binary", id="012"),
    pytest.param([0.5], "binary", id="half"),
    pytest.param([0, 1, 0.5], "binary", id="01-half"),
    pytest.param([-1, 1, 2], "binary", id="-1-1-2"),
    pytest.param([0, 1, -1], "mixes", id="mixed-conventions"),
    pytest.param([0, -1], "mixes", id="0-and-minus1"),
])
def test_logistic_rejects_non_binary_labels(labels, match):
    X = np.random.default_rng(28).standard_normal((6, 2))
    y = np.resize(np.array(labels, dtype=np.float64), 6)
    with pytest.raises(ValueError, match=match):
        Logistic(X, y)
    if np.all(y == np.round(y)):
        with pytest.raises(ValueError, match=match):
            Logistic(X, y.astype(np.int64))


def test_string_and_complex_targets_are_rejected():
    # The policy: complex or string *content* is a ValueError (scikit-learn's check_array rule).
    X = np.random.default_rng(29).standard_normal((3, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's ComplexWarning would mean a silent cast
        for cls in (LeastSquares, Logistic):
            for y in (np.array(["a", "b", "a"]), np.array([1j, 0, 1]), np.array([1.0, "a", 2.0], object)):
                with pytest.raises(ValueError, match=r"^y must hold real numbers"):
                    cls(X, y)


@pytest.mark.parametrize("fit_intercept", INTERCEPT)
@pytest.mark.parametrize("kind", KINDS)
def test_bad_w_idx_and_v_are_rejected(kind, fit_intercept):
    X, y = _ok_data()
    prob = make_problem(kind, X, y, 0.1, fit_intercept=fit_intercept)
    w = np.zeros(prob.dim)
    d = prob.dim
    for bad in (np.zeros(d + 1), np.zeros(d - 1), np.zeros((d, 1)), np.zeros((1, d))):
        for call in (prob.value, prob.grad, prob.value_and_grad, prob.curvature):
            with pytest.raises(ValueError, match="w must"):
                call(bad)
    with pytest.raises(TypeError, match="w must"):
        prob.grad(list(w))
    with pytest.raises(ValueError, match="v must"):
        prob.hvp(w, np.zeros(prob.dim + 1))
    with pytest.raises(ValueError, match="v must"):
        prob.hvp(w, np.zeros((prob.dim + 1, 2)))
    with pytest.raises(ValueError, match="v must"):
        prob.hvp(w, np.zeros((prob.dim, 2, 1)))
    for idx in (np.array([0, 6]), np.array([-1, 2]), np.array([], dtype=np.int64), np.array([0.0, 1.0]),
                np.array([[0, 1]]), np.array([True, False, True, False, True, False])):
        for call in (lambda i: prob.value(w, i), lambda i: prob.grad(w, i), lambda i: prob.hvp(w, w, i),
                     lambda i: prob.curvature(w, i)):
            with pytest.raises(ValueError, match="idx"):
                call(idx)


def test_zero_dimensional_w_names_the_argument():
    X, y = _ok_data()
    with pytest.raises(ValueError, match="w must"):
        Logistic(X, y).grad(np.float64(0.0) * np.ones(()))


def test_list_targets_and_weights_are_accepted():
    X, y = _ok_data()
    ref = Logistic(X, y, 0.1, sample_weight=np.arange(1.0, 7.0))
    prob = Logistic(X, y.tolist(), 0.1, sample_weight=list(range(1, 7)))
    close(prob.grad(np.ones(2)), ref.grad(np.ones(2)))


def test_fit_intercept_accepts_python_and_int_bools():
    X, y = _ok_data()
    assert Logistic(X, y, fit_intercept=1).dim == 3
    assert Logistic(X, y, fit_intercept=0).dim == 2
    assert LeastSquares(X, y, fit_intercept=True).fit_intercept is True


def test_fit_intercept_accepts_numpy_bool():
    X, y = _ok_data()
    assert Logistic(X, y, fit_intercept=np.True_).dim == 3


# ----------------------------------------------------------------------------- Objective


def quadratic(seed=30, d=5):
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((d, d))
    A = G @ G.T + d * np.eye(d)
    b = rng.standard_normal(d)
    return A, b


def test_objective_with_given_hvp():
    A, b = quadratic()
    calls = []

    def hvp(w, v):
        calls.append(v.shape)
        return A @ v

    obj = Objective(lambda w: 0.5 * w @ A @ w - b @ w, lambda w: A @ w - b, hvp)
    w = np.random.default_rng(31).standard_normal(5)
    V = np.random.default_rng(32).standard_normal((5, 3))
    assert obj.value(w) == pytest.approx(0.5 * w @ A @ w - b @ w, rel=1e-14)
    close(obj.grad(w), A @ w - b)
    value, g = obj.value_and_grad(w)
    assert value == pytest.approx(obj.value(w)) and np.array_equal(g, obj.grad(w))
    close(obj.hvp(w, V[:, 0]), A @ V[:, 0])
    close(obj.hvp(w, V), A @ V)
    assert calls[0] == (5,) and all(c == (5,) for c in calls)  # hvp gets vectors only
    batch = obj.batch()
    assert isinstance(batch, CallableBatch)
    close(batch.grad_diff(w, 2 * w), -(A @ w))
    close(batch.hessian_operator(w) @ V, A @ V)
    assert obj.n_samples is None and obj.reg == 0.0


def test_objective_finite_difference_fallback_on_quadratic():
    A, b = quadratic(33, 6)
    obj = Objective(lambda w: 0.5 * w @ A @ w - b @ w, lambda w: A @ w - b)
    rng = np.random.default_rng(33)
    for w in (np.zeros(6), rng.standard_normal(6), 100 * rng.standard_normal(6)):
        V = rng.standard_normal((6, 4))
        assert np.linalg.norm(obj.hvp(w, V) - A @ V) <= 1e-6 * np.linalg.norm(A @ V)
        v = 1e-3 * V[:, 0]  # the step scales with 1/‖v‖
        assert np.linalg.norm(obj.hvp(w, v) - A @ v) <= 1e-6 * np.linalg.norm(A @ v)
    np.testing.assert_array_equal(obj.hvp(np.ones(6), np.zeros(6)), np.zeros(6))


def test_objective_finite_difference_fallback_on_log_sum_exp():
    rng = np.random.default_rng(34)
    B = rng.standard_normal((8, 5))

    def fun(w):
        return np.logaddexp.reduce(B @ w)

    def softmax(w):
        z = B @ w
        e = np.exp(z - z.max())
        return e / e.sum()

    def grad(w):
        return B.T @ softmax(w)

    obj = Objective(fun, grad)
    for w in (0.3 * rng.standard_normal(5), 2.0 * rng.standard_normal(5)):
        p = softmax(w)
        H = B.T @ (np.diag(p) - np.outer(p, p)) @ B
        V = rng.standard_normal((5, 3))
        got = obj.hvp(w, V)
        assert got.shape == (5, 3)
        for j in range(3):
            assert np.linalg.norm(got[:, j] - H @ V[:, j]) <= 1e-6 * np.linalg.norm(H @ V[:, j])
        # Not a quadratic: a wrong step (e.g. forgetting to divide by it) would not pass the above.
        g_fd = np.array([(fun(w + 1e-6 * e) - fun(w - 1e-6 * e)) / 2e-6 for e in np.eye(5)])
        close(obj.grad(w), g_fd, rtol=1e-7, atol=1e-9)


def test_objective_finite_sum_with_args():
    rng = np.random.default_rng(35)
    n, d = 12, 3
    X, y = rng.standard_normal((n, d)), rng.standard_normal(n)
    seen = []

    def rows(idx):
        return np.arange(n) if idx is None else idx

    def fun(w, idx, Xa, ya, scale):
        seen.append(("fun", None if idx is None else idx.tolist(), scale))
        i = rows(idx)
        return scale * 0.5 * np.mean((Xa[i] @ w - ya[i]) ** 2)

    def grad(w, idx, Xa, ya, scale):
        i = rows(idx)
        return scale * Xa[i].T @ (Xa[i] @ w - ya[i]) / len(i)

    def hvp(w, v, idx, Xa, ya, scale):
        i = rows(idx)
        return scale * Xa[i].T @ (Xa[i] @ v) / len(i)

    obj = Objective(fun, grad, hvp, n_samples=n, args=(X, y, 2.0))
    ls = LeastSquares(X, y)
    w = rng.standard_normal(d)
    idx = np.array([1, 5, 7, 11])
    for i in (None, idx):
        assert obj.value(w, i) == pytest.approx(2.0 * ls.value(w, i), rel=1e-13)
        close(obj.grad(w, i), 2.0 * ls.grad(w, i))
        close(obj.hvp(w, np.eye(d), i), 2.0 * ls.hvp(w, np.eye(d), i))
        assert obj.batch(i).size == (n if i is None else 4)
    assert seen[0] == ("fun", None, 2.0) and seen[1] == ("fun", [1, 5, 7, 11], 2.0)
    close(obj.batch(idx).grad_diff(w, 0 * w), 2.0 * (ls.grad(w, idx) - ls.grad(0 * w, idx)))
    # Finite-difference fallback in the finite-sum form.
    fd = Objective(fun, grad, n_samples=n, args=(X, y, 2.0))
    H = 2.0 * ls.hvp(w, np.eye(d), idx)
    assert np.linalg.norm(fd.hvp(w, np.eye(d), idx) - H) <= 1e-6 * np.linalg.norm(H)
    with pytest.raises(ValueError, match="idx"):
        obj.value(w, np.array([12]))
    with pytest.raises(ValueError, match="idx"):
        obj.grad(w, np.array([], dtype=int))


def test_objective_plain_form_passes_args():
    A, b = quadratic(36, 3)
    obj = Objective(lambda w, M, c: 0.5 * w @ M @ w - c @ w, lambda w, M, c: M @ w - c, args=(A, b), reg=0.5)
    w = np.ones(3)
    assert obj.value(w) == pytest.approx(0.5 * w @ A @ w - b @ w)
    assert obj.reg == 0.5
    assert np.linalg.norm(obj.hvp(w, np.eye(3)) - A) <= 1e-6 * np.linalg.norm(A)


@pytest.mark.parametrize("make, exc, match", [
    pytest.param(lambda: Objective(1.0, lambda w: w), TypeError, "fun", id="fun"),
    pytest.param(lambda: Objective(lambda w: 0.0, "grad"), TypeError, "grad", id="grad"),
    pytest.param(lambda: Objective(lambda w: 0.0, lambda w: w, hvp=np.eye(2)), TypeError, "hvp", id="hvp"),
    pytest.param(lambda: Objective(lambda w: 0.0, lambda w: w, n_samples=0), ValueError, "n_samples",
                 id="n0"),
    pytest.param(lambda: Objective(lambda w: 0.0, lambda w: w, n_samples=-3), ValueError, "n_samples",
                 id="n-neg"),
    pytest.param(lambda: Objective(lambda w: 0.0, lambda w: w, n_samples=2.5), TypeError, "n_samples",
                 id="n-float"),
    pytest.param(lambda: Objective(lambda w: 0.0, lambda w: w, n_samples=True), TypeError, "n_samples",
                 id="n-bool"),
    pytest.param(lambda: Objective(lambda w: 0.0, lambda w: w, n_samples="10"), TypeError, "n_samples",
                 id="n-str"),
    pytest.param(lambda: Objective(lambda w: 0.0, lambda w: w, reg=-1.0), ValueError, "reg", id="reg"),
])
def test_objective_constructor_errors(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_objective_call_errors():
    w = np.ones(3)
    plain = Objective(lambda w: 0.5 * w @ w, lambda w: w)
    with pytest.raises(ValueError, match="n_samples"):
        plain.value(w, np.array([0]))
    with pytest.raises(ValueError, match="n_samples"):
        plain.batch(np.array([0]))
    with pytest.raises(ValueError, match="grad"):
        Objective(lambda w: 0.0, lambda w: w[:2]).grad(w)
    with pytest.raises(ValueError, match="grad"):
        Objective(lambda w: 0.0, lambda w: w[:, None]).value_and_grad(w)
    with pytest.raises(ValueError, match="hvp"):
        Objective(lambda w: 0.0, lambda w: w, lambda w, v: v[:2]).hvp(w, w)
    with pytest.raises(ValueError, match="hvp"):
        Objective(lambda w: 0.0, lambda w: w, lambda w, v: np.ones((3, 3))).hvp(w, np.eye(3))
    with pytest.raises(ValueError, match="fun"):  # an array of the wrong size: a wrong value
        Objective(lambda w: w, lambda w: w).value(w)
    with pytest.raises(TypeError, match="fun"):
        Objective(lambda w: "x", lambda w: w).value(w)
    with pytest.raises(ValueError, match="w must"):
        plain.grad(np.ones((3, 1)))
    with pytest.raises(ValueError, match="v must"):
        plain.hvp(w, np.ones((3, 1, 1)))


# ----------------------------------------------------------------------------- hypothesis


@st.composite
def glm_cases(draw, weighted=True):
    n = draw(st.integers(1, 12))
    d = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**32 - 1))
    reg = draw(st.sampled_from([0.0, 1e-3, 0.5, 10.0]))
    scale = draw(st.sampled_from([1e-2, 1.0, 30.0]))
    rng = np.random.default_rng(seed)
    X = scale * rng.standard_normal((n, d))
    y = rng.integers(0, 2, n)
    sw = rng.uniform(0.05, 5.0, n) if weighted and draw(st.booleans()) else None
    w = rng.standard_normal(d) * draw(st.sampled_from([0.0, 1.0, 10.0]))
    return X, y, sw, reg, w, rng


@given(glm_cases())
def test_logistic_hessian_is_symmetric_psd_above_reg(case):
    X, y, sw, reg, w, _ = case
    prob = Logistic(X, y, reg, sample_weight=sw)
    H = prob.hvp(w, np.eye(prob.dim))
    scale = max(1.0, np.linalg.norm(H, 2))
    assert np.linalg.norm(H - H.T) <= 1e-13 * scale
    assert np.linalg.eigvalsh((H + H.T) / 2)[0] >= reg - 1e-12 * scale
    close(H, ref_hessian("logistic", X, y, w, reg, sample_weight=sw), rtol=1e-10, atol=1e-12 * scale)


@given(glm_cases(), st.booleans())
def test_least_squares_hessian_is_weighted_gram_plus_reg(case, fit_intercept):
    X, y, sw, reg, w, _ = case
    prob = LeastSquares(X, y.astype(np.float64), reg, fit_intercept=fit_intercept, sample_weight=sw)
    A = design(X, fit_intercept)
    s = ref_weights(X.shape[0], sw)
    expected = (A.T * s) @ A / X.shape[0] + reg * np.diag(penalty_mask(X.shape[1], fit_intercept))
    w = np.r_[w, 1.5] if fit_intercept else w
    H = prob.hvp(w, np.eye(prob.dim))
    close(H, expected, rtol=1e-12, atol=1e-14 * max(1.0, np.abs(expected).max()))
    # The Hessian of least squares does not depend on w.
    close(prob.hvp(np.zeros(prob.dim), np.eye(prob.dim)), H, rtol=0, atol=0)


@given(glm_cases(), st.booleans(), st.booleans())
def test_value_is_invariant_to_permuting_samples(case, fit_intercept, logistic):
    X, y, sw, reg, w, rng = case
    perm = rng.permutation(X.shape[0])
    cls = Logistic if logistic else LeastSquares
    yy = y if logistic else y * 2.5 - 1.0
    w = np.r_[w, -0.7] if fit_intercept else w
    a = cls(X, yy, reg, fit_intercept=fit_intercept, sample_weight=sw)
    b = cls(X[perm], yy[perm], reg, fit_intercept=fit_intercept,
            sample_weight=None if sw is None else sw[perm])
    assert b.value(w) == pytest.approx(a.value(w), rel=1e-12, abs=1e-300)
    close(b.grad(w), a.grad(w), rtol=1e-10, atol=1e-12 * max(1.0, np.abs(a.grad(w)).max()))
    # A subset in permuted order is the same subset.
    idx = rng.choice(X.shape[0], max(1, X.shape[0] // 2), replace=False)
    inv = np.argsort(perm)
    assert b.value(w, inv[idx]) == pytest.approx(a.value(w, idx), rel=1e-12, abs=1e-300)


@given(glm_cases(weighted=False), st.booleans())
def test_logistic_value_and_grad_are_consistent_with_value_and_grad(case, fit_intercept):
    X, y, _, reg, w, _ = case
    prob = Logistic(X, y, reg, fit_intercept=fit_intercept)
    w = np.r_[w, 0.3] if fit_intercept else w
    value, g = prob.value_and_grad(w)
    assert value == prob.value(w)
    np.testing.assert_array_equal(g, prob.grad(w))
    assert value == pytest.approx(ref_value("logistic", X, y, w, reg, fit_intercept=fit_intercept), rel=1e-11)


# ----------------------------------------------------------------------------- GPU


@pytest.mark.gpu
@pytest.mark.parametrize("fit_intercept", INTERCEPT)
@pytest.mark.parametrize("kind", KINDS)
def test_cupy_matches_numpy(cupy, kind, fit_intercept):
    X, y = make_data(kind, 60, 5, seed=37)
    sw = np.random.default_rng(37).uniform(0.5, 2.0, 60)
    ref = make_problem(kind, X, y, 0.2, fit_intercept=fit_intercept, sample_weight=sw)
    prob = make_problem(kind, cupy.asarray(X), cupy.asarray(y), 0.2, fit_intercept=fit_intercept,
                        sample_weight=cupy.asarray(sw))
    rng = np.random.default_rng(38)
    w, V = rng.standard_normal(ref.dim), rng.standard_normal((ref.dim, 3))
    idx = np.arange(0, 60, 4)
    for i, ic in ((None, None), (idx, cupy.asarray(idx))):
        assert prob.value(cupy.asarray(w), ic) == pytest.approx(ref.value(w, i), rel=1e-12)
        g = prob.grad(cupy.asarray(w), ic)
        assert isinstance(g, cupy.ndarray)
        close(g.get(), ref.grad(w, i))
        close(prob.hvp(cupy.asarray(w), cupy.asarray(V), ic).get(), ref.hvp(w, V, i))
        close(prob.hvp(cupy.asarray(w), cupy.asarray(V[:, 0]), ic).get(), ref.hvp(w, V[:, 0], i))


# ----------------------------------------------------------------------------- issue 13


@pytest.mark.parametrize("fmt", ["dense", "csr"])
@pytest.mark.parametrize("model", ["ls", "logistic"])
def test_float32_X_with_float64_vectors_makes_no_float64_copy(model, fmt):
    # A float64 w (or block V) must not turn float32 X into a float64 copy per product: the
    # products run in X's dtype (a copy would alone take 2 · X.nbytes of float64 data).
    import tracemalloc

    X, y = make_data(model, n=3000, d=200, seed=4)
    X32 = X.astype(np.float32)
    X32 = sp.csr_matrix(X32) if fmt == "csr" else X32
    size = X32.data.nbytes if fmt == "csr" else X32.nbytes
    prob = (LeastSquares if model == "ls" else Logistic)(X32, y, reg=0.1, fit_intercept=True)
    b = prob.batch()
    w, V = np.full(prob.dim, 0.01), np.full((prob.dim, 4), 0.01)
    r = np.ones(3000)
    b.margins(w)  # warm up
    tracemalloc.start()
    try:
        outs = [b.margins(w), b.margins(V), b.rmatvec(r), b.hessian_operator(w) @ V, b.grad(w)]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert all(o.dtype == np.float32 for o in outs)
    assert peak < size
    np.testing.assert_allclose(outs[0], X @ w[:-1] + w[-1], rtol=1e-4, atol=1e-7 * np.abs(X).sum(1).max())


@given(seed=st.integers(0, 2**16), intercept=st.booleans(), sparse=st.booleans(),
       model=st.sampled_from(["ls", "logistic"]))
def test_x_offset_equals_explicit_centring(seed, intercept, sparse, model):
    # x_offset subtracts a vector from every row implicitly: the same problem as on X − x_offset.
    X, y = make_data(model, n=30, d=4, seed=seed)
    X[np.abs(X) < 0.6] = 0.0
    rng = np.random.default_rng(seed)
    dim = 4 + intercept
    m, w, V = rng.standard_normal(4), rng.standard_normal(dim), rng.standard_normal((dim, 3))
    sw = rng.uniform(0.5, 2.0, 30)
    cls = LeastSquares if model == "ls" else Logistic
    implicit = cls(sp.csr_matrix(X) if sparse else X, y, 0.1, fit_intercept=intercept, sample_weight=sw,
                   x_offset=m)
    explicit = cls(X - m, y, 0.1, fit_intercept=intercept, sample_weight=sw)
    np.testing.assert_allclose(implicit.value(w), explicit.value(w), rtol=1e-12)
    np.testing.assert_allclose(implicit.grad(w), explicit.grad(w), rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(implicit.hvp(w, V), explicit.hvp(w, V), rtol=1e-11, atol=1e-12)
    idx = np.array([3, 7, 7, 20])
    np.testing.assert_allclose(implicit.grad(w, idx), explicit.grad(w, idx), rtol=1e-11, atol=1e-12)


def test_x_offset_is_checked():
    X, y = make_data("ls", n=10, d=3)
    with pytest.raises(ValueError, match=r"^x_offset"):
        LeastSquares(X, y, x_offset=np.ones(4))
    with pytest.raises(ValueError, match=r"^x_offset"):
        LeastSquares(X, y, x_offset=np.ones(3) * 1j)
    with pytest.raises(ValueError, match=r"^x_offset"):
        LeastSquares(X, y, x_offset=np.array([1.0, np.nan, 0.0]))


@pytest.mark.parametrize("model", ["ls", "logistic"])
def test_complex_sample_weight_is_an_error_not_a_cast(model):
    X, y = make_data(model, n=10, d=3)
    cls = LeastSquares if model == "ls" else Logistic
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's ComplexWarning would mean a silent cast
        with pytest.raises(ValueError, match=r"^sample_weight"):
            cls(X, y, sample_weight=np.ones(10) + 0j)
        with pytest.raises(ValueError, match=r"^sample_weight"):
            cls(X, y, sample_weight=np.array(["a"] * 10))


# ----------------------------------------------------------------------------- the validation policy
# (rnla._validation): a wrong kind is a TypeError, a wrong value (complex, string or object
# content, an empty array, a wrong shape, NaN) a ValueError, and every message starts with the
# argument's name. None of these may surface as NumPy's own error or as a silent complex cast.

_NOT_ARRAYS = [None, "abc", "", True, 1.5, 1 + 2j]
_BAD_CONTENT = {
    "str": lambda shape: np.full(shape, "a"),
    "object-numbers": lambda shape: np.full(shape, 1.0, dtype=object),
    "object-mixed": lambda shape: np.array([1.0] * (int(np.prod(shape)) - 1) + ["a"],
                                           dtype=object).reshape(shape),
    "complex": lambda shape: np.ones(shape, complex),
}


def _raises_strictly(exc, pattern, make):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a ComplexWarning or "invalid value" would escape NumPy
        with pytest.raises(exc, match=pattern):
            make()


@pytest.mark.parametrize("cls", [LeastSquares, Logistic])
@pytest.mark.parametrize("value", _NOT_ARRAYS, ids=repr)
def test_non_array_data_is_a_type_error(cls, value):
    X, y = _ok_data()
    _raises_strictly(TypeError, "^X must be an array", lambda: cls(value, y))
    _raises_strictly(TypeError, "^y must be an array", lambda: cls(X, value))
    if value is not None:  # None is the default: no weights
        _raises_strictly(TypeError, "^sample_weight must be an array",
                         lambda: cls(X, y, sample_weight=value))


@pytest.mark.parametrize("cls", [LeastSquares, Logistic])
@pytest.mark.parametrize("content", list(_BAD_CONTENT))
def test_non_real_array_content_is_a_value_error(cls, content):
    X, y = _ok_data()
    make = _BAD_CONTENT[content]
    _raises_strictly(ValueError, "^X must hold real numbers", lambda: cls(make(X.shape), y))
    if content != "object-numbers":  # floats in an object array are real numbers (check_array)
        _raises_strictly(ValueError, "^y must hold real numbers", lambda: cls(X, make(y.shape)))
        _raises_strictly(ValueError, "^sample_weight must hold real numbers",
                         lambda: cls(X, y, sample_weight=make(y.shape)))


@pytest.mark.parametrize("cls", [LeastSquares, Logistic])
def test_empty_and_sparse_complex_data_name_x(cls):
    X, y = _ok_data()
    for bad in (np.ones((0, 2)), np.ones((6, 0)), np.ones((0, 0))):
        _raises_strictly(ValueError, "^X must not be empty", lambda b=bad: cls(b, y))
    _raises_strictly(ValueError, "^X must hold real numbers",
                     lambda: cls(sp.csr_matrix(np.eye(6, 2, dtype=complex)), y))
    _raises_strictly(ValueError, "^X must have at least one", lambda: cls(sp.csr_matrix((0, 2)), y[:0]))
    _raises_strictly(ValueError, "^y must not be empty", lambda: cls(X, np.ones(0)))


def test_a_list_of_numbers_is_still_data():
    X, y = _ok_data()
    prob = Logistic(X.tolist(), y.tolist(), 0.1)
    np.testing.assert_array_equal(prob.grad(np.ones(2)), Logistic(X, y, 0.1).grad(np.ones(2)))


@pytest.mark.parametrize("fit_intercept", INTERCEPT)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("content", ["str", "object-numbers", "object-mixed", "complex"])
def test_hot_path_rejects_non_real_w_and_v(kind, fit_intercept, content):
    X, y = _ok_data()
    prob = make_problem(kind, X, y, 0.1, fit_intercept=fit_intercept)
    bad, w = _BAD_CONTENT[content]((prob.dim,)), np.zeros(prob.dim)
    for call in (prob.value, prob.grad, prob.value_and_grad, prob.curvature, lambda b: prob.hvp(b, w)):
        _raises_strictly(ValueError, "^w must hold real numbers", lambda c=call: c(bad))
    _raises_strictly(ValueError, "^v must hold real numbers", lambda: prob.hvp(w, bad))
    block = _BAD_CONTENT[content]((prob.dim, 2))
    _raises_strictly(ValueError, "^v must hold real numbers", lambda: prob.hvp(w, block))
    _raises_strictly(TypeError, "^v must be an array", lambda: prob.hvp(w, 1.0))


@pytest.mark.parametrize("kind", KINDS)
def test_hot_path_casts_integers_keeps_float32_and_does_not_scan_for_nan(kind):
    X, y = _ok_data()
    prob = make_problem(kind, X, y, 0.1)
    w = np.zeros(prob.dim)
    assert prob._check_w(w) is w  # the right dtype: no copy
    eye = np.eye(prob.dim)
    np.testing.assert_array_equal(prob.hvp(w, eye.astype(np.int64)), prob.hvp(w, eye))
    p32 = make_problem(kind, X.astype(np.float32), y, 0.1)
    assert p32.value_and_grad(np.zeros(p32.dim))[1].dtype == np.float32
    assert p32.hvp(np.zeros(p32.dim), np.ones(p32.dim)).dtype == np.float32
    # NaN in a product's input is the caller's (no O(n) scan per call): it propagates.
    with np.errstate(invalid="ignore"):
        value, grad = prob.value_and_grad(np.full(prob.dim, np.nan))
    assert np.isnan(value) and np.isnan(grad).all()
