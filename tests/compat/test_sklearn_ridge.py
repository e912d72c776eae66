"""scikit-learn's ``linear_model/tests/test_ridge.py``, the cases that apply, against SketchyRidge.

Our own versions of the peer's cases (not its code). The reference is ``Ridge`` with a direct
solver (``'cholesky'``; ``'lsqr'`` where ``alpha=0`` needs the minimum-norm solution, which is
what the iterative solvers of Ridge return and ``'cholesky'``/``'svd'`` do not on singular
systems) or a closed form from NumPy. ``tol=1e-12`` makes the answers comparable to ~1e-10.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge

from optim import SketchyRidge

FORMATS = {"dense": np.asarray, "csr": sp.csr_matrix, "csc": sp.csc_matrix, "coo": sp.coo_matrix}
TOL = 1e-12


def data(n=30, d=8, k=None, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) + rng.uniform(-2, 2, d)  # uncentred features
    w = rng.standard_normal((d,) if k is None else (d, k))
    y = X @ w + 0.3 * rng.standard_normal((n,) if k is None else (n, k)) + 1.5
    return X, y


def est(**kw):
    kw.setdefault("tol", TOL)
    kw.setdefault("random_state", 0)
    return SketchyRidge(**kw)


def close(a, b, rtol=1e-8):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * max(1.0, np.abs(b).max()))


def min_norm(X, y, fit_intercept, sw=None):
    """The minimum-norm minimiser of ``Σ s_i (y_i − x_iᵀw − b)²``: ``(w, b)``."""
    sw = np.ones(X.shape[0]) if sw is None else sw
    if fit_intercept:
        xm, ym = sw @ X / sw.sum(), sw @ y / sw.sum()
    else:
        xm, ym = np.zeros(X.shape[1]), np.zeros(y.shape[1:]) if y.ndim > 1 else 0.0
    s = np.sqrt(sw)
    w = np.linalg.lstsq(s[:, None] * (X - xm), (s if y.ndim == 1 else s[:, None]) * (y - ym), rcond=None)[0]
    return w.T, ym - xm @ w


# --- test_ridge_regression: agreement with Ridge, long and wide X, every input format --------

@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("shape", [(30, 8), (8, 30)], ids=["long", "wide"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha", [0.1, 1.0])
def test_ridge_regression(alpha, fit_intercept, shape, fmt):
    X, y = data(*shape)
    ref = Ridge(alpha=alpha, fit_intercept=fit_intercept, solver="cholesky").fit(X, y)
    ours = est(alpha=alpha, fit_intercept=fit_intercept).fit(FORMATS[fmt](X), y)
    close(ours.coef_, ref.coef_)
    close(ours.intercept_, ref.intercept_)
    close(ours.predict(FORMATS[fmt](X)), ref.predict(X))
    assert ours.score(X, y) == pytest.approx(ref.score(X, y), rel=1e-8)


# --- test_ridge_regression_unpenalized (and hstacked / vstacked X): minimum-norm solutions --

@pytest.mark.parametrize("fmt", ["dense", "csr"])
@pytest.mark.parametrize("shape", [(30, 8), (8, 30)], ids=["long", "wide"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_regression_unpenalized(fit_intercept, shape, fmt):
    X, y = data(*shape)
    ours = est(alpha=0.0, fit_intercept=fit_intercept).fit(FORMATS[fmt](X), y)
    w, b = min_norm(X, y, fit_intercept)
    close(ours.coef_, w, rtol=1e-7)
    close(ours.intercept_, b, rtol=1e-7)
    ref = Ridge(alpha=0.0, fit_intercept=fit_intercept, solver="lsqr", tol=1e-14).fit(X, y)
    close(ours.predict(X), ref.predict(X), rtol=1e-7)


@pytest.mark.parametrize("fmt", ["dense", "csr"])
@pytest.mark.parametrize("alpha", [0.0, 1.0])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_regression_hstacked_X(fit_intercept, alpha, fmt):
    # Duplicated columns: the (minimum-norm) solution splits each coefficient in half.
    X, y = data(20, 5)
    single = est(alpha=alpha / 2, fit_intercept=fit_intercept).fit(X, y)  # ‖w/2‖² twice = ‖w‖²/2
    if alpha == 0:
        close(single.coef_, min_norm(X, y, fit_intercept)[0], rtol=1e-7)
    double = est(alpha=alpha, fit_intercept=fit_intercept).fit(FORMATS[fmt](np.hstack([X, X])), y)
    close(double.coef_, np.hstack([single.coef_, single.coef_]) / 2, rtol=1e-7)
    close(double.intercept_, single.intercept_, rtol=1e-7)


@pytest.mark.parametrize("alpha", [0.0, 1.0])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_regression_vstacked_X(fit_intercept, alpha):
    # Every row twice: the same minimiser as once with alpha halved.
    X, y = data(8, 20)
    once = est(alpha=alpha / 2, fit_intercept=fit_intercept).fit(X, y)
    twice = est(alpha=alpha, fit_intercept=fit_intercept).fit(np.vstack([X, X]), np.hstack([y, y]))
    close(twice.coef_, once.coef_, rtol=1e-7)
    close(twice.intercept_, once.intercept_, rtol=1e-7)
    if alpha == 0:
        close(once.coef_, min_norm(X, y, fit_intercept)[0], rtol=1e-7)


def test_ridge_vs_lstsq():
    X, y = data(30, 5)
    ours = est(alpha=0.0, fit_intercept=False).fit(X, y)
    close(ours.coef_, np.linalg.lstsq(X, y, rcond=None)[0])


# --- sample weights ---------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_ridge_regression_sample_weights(alpha, fit_intercept, fmt):
    X, y = data(12, 6)
    sw = np.random.default_rng(1).uniform(0.1, 3.0, 12)
    ours = est(alpha=alpha, fit_intercept=fit_intercept).fit(FORMATS[fmt](X), y, sample_weight=sw)
    if alpha == 0:
        w, b = min_norm(X, y, fit_intercept, sw)
    else:
        ref = Ridge(alpha=alpha, fit_intercept=fit_intercept, solver="cholesky").fit(X, y, sample_weight=sw)
        w, b = ref.coef_, ref.intercept_
    close(ours.coef_, w, rtol=1e-7)
    close(ours.intercept_, b, rtol=1e-7)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_sample_weights_repeated_rows(fit_intercept):
    X, y = data(15, 4)
    reps = np.random.default_rng(2).integers(1, 4, 15)
    weighted = est(alpha=0.5, fit_intercept=fit_intercept).fit(X, y, sample_weight=reps.astype(float))
    repeated = est(alpha=0.5, fit_intercept=fit_intercept).fit(np.repeat(X, reps, axis=0), np.repeat(y, reps))
    close(weighted.coef_, repeated.coef_)
    close(weighted.intercept_, repeated.intercept_)


@pytest.mark.parametrize("fmt", ["dense", "csr"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_zero_weights_drop_rows(fit_intercept, fmt):
    X, y = data(20, 4)
    sw = np.ones(20)
    sw[::3] = 0.0
    weighted = est(alpha=0.5, fit_intercept=fit_intercept).fit(FORMATS[fmt](X), y, sample_weight=sw)
    dropped = est(alpha=0.5, fit_intercept=fit_intercept).fit(X[sw > 0], y[sw > 0])
    close(weighted.coef_, dropped.coef_)
    close(weighted.intercept_, dropped.intercept_)


def test_ridge_sample_weight_ones_equals_none_and_scalar():
    X, y = data(20, 4)
    base = est().fit(X, y)
    close(est().fit(X, y, sample_weight=np.ones(20)).coef_, base.coef_)
    # A scalar weight c scales the loss: the same as alpha / c.
    close(est(alpha=1.0).fit(X, y, sample_weight=2.0).coef_, est(alpha=0.5).fit(X, y).coef_)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_design_with_sample_weights(fmt):
    X, y = data(20, 5)
    sw = np.random.default_rng(3).uniform(0.5, 2.0, 20)
    dense = est(alpha=0.3).fit(X, y, sample_weight=sw)
    sparse = est(alpha=0.3).fit(FORMATS[fmt](X), y, sample_weight=sw)
    close(sparse.coef_, dense.coef_)
    close(sparse.intercept_, dense.intercept_)


# --- shapes and types ----------------------------------------------------------------------------

@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("target", ["1d", "n1", "n2"])
def test_ridge_shapes_type(target, fit_intercept):
    X, y = data(20, 4)
    Y = {"1d": y, "n1": y[:, None], "n2": np.c_[y, 2 * y]}[target]
    ref = Ridge(fit_intercept=fit_intercept).fit(X, Y)
    ours = est(fit_intercept=fit_intercept).fit(X, Y)
    assert ours.coef_.shape == ref.coef_.shape
    assert np.shape(ours.intercept_) == np.shape(ref.intercept_)
    assert isinstance(ours.intercept_, float | np.ndarray | np.floating)
    if fit_intercept:
        assert type(ours.intercept_) is type(ref.intercept_)  # np.float64 or ndarray, never float
    assert ours.predict(X).shape == ref.predict(X).shape
    assert ours.n_iter_.shape == (1 if target != "n2" else 2,)
    close(ours.coef_, ref.coef_, rtol=1e-6)


def test_ridge_intercept_multi_target():
    X, y = data(20, 4)
    Y = np.c_[y, y + 1.0]
    ours = est().fit(X, Y)
    close(ours.intercept_[1], ours.intercept_[0] + 1.0)
    close(ours.coef_[0], ours.coef_[1])


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_individual_penalties(fit_intercept):
    X, Y = data(20, 6, k=3)
    alphas = np.array([0.01, 1.0, 100.0])
    ours = est(alpha=alphas, fit_intercept=fit_intercept).fit(X, Y)
    ref = Ridge(alpha=alphas, fit_intercept=fit_intercept, solver="cholesky").fit(X, Y)
    close(ours.coef_, ref.coef_)
    close(ours.intercept_, ref.intercept_)
    for j, a in enumerate(alphas):
        close(ours.coef_[j], est(alpha=a, fit_intercept=fit_intercept).fit(X, Y[:, j]).coef_)


def test_ridge_individual_penalties_wrong_length():
    X, Y = data(20, 6, k=3)
    with pytest.raises(ValueError, match="alpha"):
        est(alpha=np.array([1.0, 2.0])).fit(X, Y)
    with pytest.raises(ValueError, match="alpha"):
        est(alpha=np.array([1.0, -2.0, 1.0])).fit(X, Y)


@pytest.mark.parametrize("alpha", [-1.0, np.nan, np.inf])
def test_ridge_bad_alpha(alpha):
    X, y = data(10, 3)
    with pytest.raises(ValueError, match="alpha"):
        est(alpha=alpha).fit(X, y)


# --- dtypes, memory layout, sparse with intercept ----------------------------------------------

@pytest.mark.parametrize("fmt", ["dense", "csr"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_dtype_match(fit_intercept, fmt):
    X, y = data(30, 5)
    m64 = est(alpha=0.5, fit_intercept=fit_intercept).fit(FORMATS[fmt](X), y)
    m32 = est(alpha=0.5, fit_intercept=fit_intercept).fit(FORMATS[fmt](X.astype(np.float32)),
                                                          y.astype(np.float32))
    assert m32.coef_.dtype == np.float32 and m64.coef_.dtype == np.float64
    assert m32.predict(X.astype(np.float32)).dtype == np.float32
    close(m32.coef_, m64.coef_, rtol=2e-4)


def test_ridge_fortran_ordered_X():
    X, y = data(20, 5)
    close(est().fit(np.asfortranarray(X), y).coef_, est().fit(X, y).coef_)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_ridge_fit_intercept_sparse(fmt):
    X, y = data(25, 6)
    X[X < 0.5] = 0.0
    ref = Ridge(alpha=1.0, solver="cholesky").fit(X, y)
    ours = est(alpha=1.0).fit(FORMATS[fmt](X), y)
    close(ours.coef_, ref.coef_)
    close(ours.intercept_, ref.intercept_)


# --- degenerate data that Ridge fits (spurious "not symmetric" from the sketch) ----------------

@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_ridge_all_constant_features(fmt):
    X = np.full((10, 3), 2.5)
    y = np.arange(10.0)
    ours = est().fit(FORMATS[fmt](X), y)
    ref = Ridge().fit(X, y)
    close(ours.coef_, ref.coef_)
    close(ours.intercept_, ref.intercept_)


@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_ridge_some_constant_features(fmt):
    X, y = data(20, 5)
    X[:, 1] = 3.0
    X[:, 3] = 0.0
    ours = est(alpha=0.1).fit(FORMATS[fmt](X), y)
    ref = Ridge(alpha=0.1, solver="cholesky").fit(X, y)
    close(ours.coef_, ref.coef_)
    close(ours.intercept_, ref.intercept_)
    assert np.abs(ours.coef_[[1, 3]]).max() < 1e-12 * np.abs(ours.coef_).max()


@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_ridge_identical_rows(fmt):
    X = np.tile(np.array([[1.0, -2.0, 3.0]]), (8, 1))
    y = np.linspace(0, 1, 8)
    close(est().fit(FORMATS[fmt](X), y).predict(X), Ridge().fit(X, y).predict(X))


@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_ridge_single_nonzero_weight(fmt):
    X, y = data(10, 3)
    sw = np.zeros(10)
    sw[4] = 1.0
    ours = est().fit(FORMATS[fmt](X), y, sample_weight=sw)
    ref = Ridge().fit(X, y, sample_weight=sw)
    close(ours.coef_, ref.coef_)
    close(ours.intercept_, ref.intercept_)


@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_ridge_feature_constant_on_weighted_rows(fmt):
    # Column 0 varies only on rows of zero weight: on the data that counts it is constant.
    X, y = data(30, 4)
    sw = np.ones(30)
    sw[:5] = 0.0
    X[5:, 0] = 1.25
    ours = est(alpha=0.3).fit(FORMATS[fmt](X), y, sample_weight=sw)
    ref = Ridge(alpha=0.3, solver="cholesky").fit(X, y, sample_weight=sw)
    close(ours.coef_, ref.coef_)
    close(ours.intercept_, ref.intercept_)


def test_ridge_per_target_alpha_with_zero():
    X, Y = data(20, 6, k=2)
    X = np.hstack([X, X[:, :2]])  # rank deficient: alpha=0 needs the minimum-norm solution
    ours = est(alpha=np.array([0.0, 2.0])).fit(X, Y)
    close(ours.coef_[0], min_norm(X, Y[:, 0], True)[0], rtol=1e-7)
    close(ours.coef_[1], Ridge(alpha=2.0, solver="cholesky").fit(X, Y[:, 1]).coef_)


def test_ridge_warm_start_same_answer():
    X, y = data(30, 6)
    model = est(warm_start=True).fit(X, y)
    first = model.coef_.copy()
    model.fit(X, y)
    close(model.coef_, first)
    assert model.n_iter_[0] <= 1


# --- toy data, singular X, convergence, bad weights ------------------------------------------

def test_toy_ridge_object():
    X = np.array([[1.0], [2.0]])
    y = np.array([1.0, 2.0])
    ours = est(alpha=1.0, fit_intercept=False).fit(X, y)
    close(ours.predict(np.array([[1.0], [2.0]])), Ridge(alpha=1.0, fit_intercept=False).fit(X, y).predict(X))
    assert ours.predict(X).shape == (2,)
    assert est().fit(X, np.c_[y, y]).predict(X).shape == (2, 2)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_singular(fit_intercept):
    # A rank-deficient X with alpha > 0: the system is regular, any solver must agree.
    rng = np.random.default_rng(7)
    X = rng.standard_normal((6, 2)) @ rng.standard_normal((2, 10))
    y = rng.standard_normal(6)
    ref = Ridge(alpha=0.5, fit_intercept=fit_intercept, solver="cholesky").fit(X, y)
    close(est(alpha=0.5, fit_intercept=fit_intercept).fit(X, y).coef_, ref.coef_)


def test_ridge_sample_weight_scale_invariance():
    # Scaling the weights by c is the same problem as dividing alpha by c.
    X, y = data(20, 4)
    sw = np.random.default_rng(8).uniform(0.5, 2.0, 20)
    a = est(alpha=3.0).fit(X, y, sample_weight=10.0 * sw)
    b = est(alpha=0.3).fit(X, y, sample_weight=sw)
    close(a.coef_, b.coef_)
    close(a.intercept_, b.intercept_)


def test_ridge_convergence_fail():
    X, y = data(30, 8)
    with pytest.warns(ConvergenceWarning, match="SketchyRidge"):
        est(alpha=1e-8, solver="nystrom_pcg", max_iter=1, rank=1).fit(X, y)


def test_ridge_no_warning_when_converged():
    X, y = data(30, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est(alpha=0.0).fit(X, y)


@pytest.mark.parametrize("sw", [np.ones((20, 1)), np.ones((20, 2)), np.ones(19)], ids=["n1", "n2", "short"])
def test_sample_weights_wrong_shape_raise(sw):
    X, y = data(20, 4)
    with pytest.raises(ValueError, match="sample_weight"):
        est().fit(X, y, sample_weight=sw)
