"""scikit-learn's ``linear_model/tests/test_logistic.py``, the cases that apply, against
SketchyLogisticRegression.

Our own versions of the peer's cases (not its code). The reference is ``LogisticRegression``
with ``solver='newton-cholesky'`` and ``tol=1e-12`` (an exact Newton method, so both sides are
solved to ~1e-10); the L2 penalty only (the only one we have).
"""

import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import scale

from optim import SketchyLogisticRegression

FORMATS = {"dense": np.asarray, "csr": sp.csr_matrix, "csc": sp.csc_matrix, "coo": sp.coo_matrix}


def binary(n=60, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) + rng.uniform(-1, 1, d)
    y = (X @ rng.standard_normal(d) + 0.8 * rng.standard_normal(n) > 0.3).astype(int)
    return X, y


def iris(n_classes=3):
    """Scaled iris; ``n_classes=2`` keeps the features and labels class 1 against the rest."""
    X, y = load_iris(return_X_y=True)
    return scale(X), (y if n_classes == 3 else (y == 1).astype(int))


def est(**kw):
    kw.setdefault("tol", 1e-10)
    kw.setdefault("random_state", 0)
    return SketchyLogisticRegression(**kw)


def ref(**kw):
    kw.setdefault("tol", 1e-12)
    kw.setdefault("max_iter", 1000)
    kw.setdefault("solver", "newton-cholesky")
    return LogisticRegression(**kw)


def close(a, b, rtol=1e-6):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * max(1.0, np.abs(b).max()))


def same_fit(a, b, rtol=1e-6):
    """Two fitted models agree in ``coef_`` and ``intercept_`` to ``rtol`` (see :func:`close`)."""
    close(a.coef_, b.coef_, rtol=rtol)
    close(a.intercept_, b.intercept_, rtol=rtol)


# --- test_predict_2_classes / test_predict_3_classes / test_predict_iris -----------------------

@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("C", [0.1, 10.0])
def test_predict_2_classes(C, fit_intercept, fmt):
    X, y = binary()
    r = ref(C=C, fit_intercept=fit_intercept).fit(X, y)
    o = est(C=C, fit_intercept=fit_intercept).fit(FORMATS[fmt](X), y)
    same_fit(o, r)
    np.testing.assert_array_equal(o.predict(FORMATS[fmt](X)), r.predict(X))
    close(o.predict_proba(X), r.predict_proba(X))


@pytest.mark.parametrize("fmt", ["dense", "csr"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("C", [0.1, 10.0])
def test_predict_iris_multinomial(C, fit_intercept, fmt):
    X, y = iris()
    r = ref(C=C, fit_intercept=fit_intercept).fit(X, y)
    o = est(C=C, fit_intercept=fit_intercept).fit(FORMATS[fmt](X), y)
    assert o.coef_.shape == r.coef_.shape == (3, 4)
    same_fit(o, r, rtol=1e-5)
    proba = o.predict_proba(X)
    close(proba.sum(axis=1), np.ones(len(y)), rtol=1e-12)
    np.testing.assert_array_equal(proba.argmax(axis=1), o.predict(X))
    close(proba, r.predict_proba(X), rtol=1e-5)


def test_multinomial_intercepts_are_centred():
    X, y = load_iris(return_X_y=True)  # unscaled, as in the issue
    o = est().fit(X, y)
    r = ref().fit(X, y)
    assert abs(float(np.sum(o.intercept_))) < 1e-10 * np.abs(o.intercept_).max()
    close(o.intercept_, r.intercept_, rtol=1e-5)


def test_multinomial_intercepts_centred_at_default_tol():
    X, y = load_iris(return_X_y=True)
    o = SketchyLogisticRegression(random_state=0).fit(X, y)
    assert abs(float(np.sum(o.intercept_))) < 1e-10 * np.abs(o.intercept_).max()


def test_predict_proba_is_softmax_of_decision_function():
    X, y = iris()
    o = est().fit(X, y)
    z = o.decision_function(X)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    close(o.predict_proba(X), p / p.sum(axis=1, keepdims=True), rtol=1e-12)
    close(o.predict_log_proba(X), np.log(o.predict_proba(X)), rtol=1e-10)


def test_multinomial_binary_shapes():
    X, y = iris()
    yb = (y == 1).astype(int)
    o, r = est().fit(X, yb), ref().fit(X, yb)
    assert o.coef_.shape == r.coef_.shape == (1, 4)
    assert o.intercept_.shape == r.intercept_.shape == (1,)
    assert o.decision_function(X).shape == r.decision_function(X).shape == (150,)
    assert o.predict_proba(X).shape == (150, 2)
    assert o.n_iter_.shape == r.n_iter_.shape == (1,)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_fit_intercept_false_shapes(n_classes):
    X, y = iris()
    y = y if n_classes == 3 else (y == 2).astype(int)
    o, r = est(fit_intercept=False).fit(X, y), ref(fit_intercept=False).fit(X, y)
    assert o.intercept_.shape == r.intercept_.shape
    assert isinstance(o.intercept_, np.ndarray)
    np.testing.assert_array_equal(o.intercept_, 0.0)
    close(o.coef_, r.coef_, rtol=1e-5)


def test_string_labels():
    X, y = iris()
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    o = est().fit(X, names)
    np.testing.assert_array_equal(o.classes_, ["setosa", "versicolor", "virginica"])
    np.testing.assert_array_equal(o.predict(X), o.classes_[est().fit(X, y).predict(X)])


# --- sparse input -----------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_sparse_equals_dense(n_classes, fmt):
    X, y = iris(n_classes)
    X = np.where(np.abs(X) < 0.5, 0.0, X)
    dense, sparse = est().fit(X, y), est().fit(FORMATS[fmt](X), y)
    same_fit(sparse, dense, rtol=1e-6)


# --- sample weights -------------------------------------------------------------------------

@pytest.mark.parametrize("n_classes", [2, 3])
def test_sample_weight_matches_sklearn(n_classes):
    X, y = iris(n_classes)
    sw = np.random.default_rng(0).uniform(0.2, 3.0, len(y))
    o, r = est().fit(X, y, sample_weight=sw), ref().fit(X, y, sample_weight=sw)
    same_fit(o, r, rtol=1e-5)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_sample_weight_repeated_rows(n_classes):
    X, y = iris(n_classes)
    reps = np.random.default_rng(1).integers(1, 4, len(y))
    w = est().fit(X, y, sample_weight=reps.astype(float))
    rep = est().fit(np.repeat(X, reps, axis=0), np.repeat(y, reps))
    same_fit(w, rep, rtol=1e-6)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_zero_sample_weights_drop_rows(n_classes):
    X, y = iris(n_classes)
    sw = np.ones(len(y))
    sw[::4] = 0.0
    w = est().fit(X, y, sample_weight=sw)
    dropped = est().fit(X[sw > 0], y[sw > 0])
    same_fit(w, dropped, rtol=1e-6)


def test_sample_weight_ones_equals_none():
    X, y = binary()
    close(est().fit(X, y, sample_weight=np.ones(len(y))).coef_, est().fit(X, y).coef_, rtol=1e-10)


# --- no penalty, float32, warm start, n_iter -------------------------------------------------

def test_penalty_none_binary():
    X, y = binary(n=80, seed=3)
    o = est(C=np.inf).fit(X, y)
    r = ref(C=np.inf).fit(X, y)
    same_fit(o, r, rtol=1e-5)


def test_penalty_none_multinomial_probabilities():
    # Without a penalty the softmax coefficients are defined up to a common shift: compare the
    # model itself (probabilities), not the parametrisation.
    X, y = iris()
    X = X[:, :2]  # not separable
    o = est(C=np.inf).fit(X, y)
    r = ref(C=np.inf).fit(X, y)
    close(o.predict_proba(X), r.predict_proba(X), rtol=1e-5)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_dtype_match(n_classes):
    X, y = iris(n_classes)
    m32 = est().fit(X.astype(np.float32), y)
    m64 = est().fit(X, y)
    assert m32.coef_.dtype == np.float32 and m64.coef_.dtype == np.float64
    assert m32.decision_function(X.astype(np.float32)).dtype == np.float32
    close(m32.coef_, m64.coef_, rtol=1e-3)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_warm_start(n_classes):
    X, y = iris(n_classes)
    o = est(warm_start=True)
    o.fit(X, y)
    first, n1 = o.coef_.copy(), int(o.n_iter_[0])
    o.fit(X, y)
    assert int(o.n_iter_[0]) <= 1 < n1
    close(o.coef_, first, rtol=1e-8)
    cold = est(warm_start=False)
    cold.fit(X, y)
    cold.fit(X, y)
    assert int(cold.n_iter_[0]) == n1


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("case", ["constant-features", "identical-rows", "two-weighted-rows"])
def test_degenerate_data_that_sklearn_fits(case, n_classes):
    rng = np.random.default_rng(5)
    y = rng.integers(0, n_classes, 20)
    y[:n_classes] = np.arange(n_classes)
    sw = None
    if case == "constant-features":
        X = np.full((20, 3), 2.5)
    elif case == "identical-rows":
        X = np.tile([[1.0, -2.0, 3.0]], (20, 1))
    else:
        X = rng.standard_normal((20, 3))
        sw = np.zeros(20)
        sw[:n_classes] = 1.0
    o, r = est().fit(X, y, sample_weight=sw), ref().fit(X, y, sample_weight=sw)
    same_fit(o, r, rtol=1e-6)


def test_convergence_warning_and_max_iter():
    X, y = iris()
    with pytest.warns(ConvergenceWarning, match="SketchyLogisticRegression"):
        o = est(max_iter=1).fit(X, y)
    assert int(o.n_iter_[0]) == 1


@pytest.mark.parametrize("n_classes", [2, 3])
def test_n_iter_bounded_by_max_iter(n_classes):
    X, y = iris(n_classes)
    for max_iter in (2, 5):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            assert 1 <= int(est(max_iter=max_iter).fit(X, y).n_iter_[0]) <= max_iter


# --- errors ------------------------------------------------------------------------------------

def test_inconsistent_input():
    X, y = binary()
    with pytest.raises(ValueError):
        est().fit(X, y[:-1])
    o = est().fit(X, y)
    with pytest.raises(ValueError, match="features"):
        o.predict(X[:, :-1])


def test_one_class_raises():
    X, _ = binary()
    with pytest.raises(ValueError, match="class"):
        est().fit(X, np.zeros(len(X)))


def test_nan_raises():
    X, y = binary()
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est().fit(X, y)


@pytest.mark.parametrize("params", [{"solver": "liblinear"}, {"C": -1.0}, {"C": 0.0}, {"tol": -1.0},
                                    {"max_iter": 0}])
def test_check_solver_and_parameters(params):
    X, y = binary()
    with pytest.raises(ValueError, match=next(iter(params))):
        SketchyLogisticRegression(**params).fit(X, y)


# --- implicit centring: no copy of X (issue defect) ---------------------------------------

@pytest.mark.parametrize("n_classes", [2, 3])
def test_fit_does_not_copy_X(n_classes):
    # A centred copy of X would alone take X.nbytes; the working blocks (n × classes × rank)
    # are a fraction of it.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 300)) + 5.0
    y = rng.integers(0, n_classes, 2000)
    kw = {"solver": "nncg", "max_iter": 2, "tol": 1e-3, "rank": 5}  # the blocks named above are NNCG's
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est(**kw).fit(X[:50], y[:50])  # warm up imports and caches
        tracemalloc.start()
        try:
            est(**kw).fit(X, y)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < X.nbytes / 2
