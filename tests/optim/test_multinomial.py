"""optim.Multinomial: softmax regression against dense formulas, finite differences and scikit-learn."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import logsumexp, softmax
from sklearn.linear_model import LogisticRegression

import optim


def _data(seed=0, n=600, d=8, K=3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) / np.arange(1, d + 1)
    y = (rng.integers(0, K, n) + (X[:, 0] > 0)) % K
    return X, y, rng


def _dense_value(X, y, W, reg, sw, intercept):
    A = np.hstack([X, np.ones((X.shape[0], 1))]) if intercept else X
    Z = A @ W
    s = np.ones(X.shape[0]) if sw is None else sw * X.shape[0] / sw.sum()
    loss = logsumexp(Z, axis=1) - Z[np.arange(len(y)), y]
    Wc = W[:-1] if intercept else W
    return np.mean(s * loss) + 0.5 * reg * np.sum(Wc * Wc)


@pytest.mark.parametrize("intercept", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_value_grad_hvp_match_dense_formulas(intercept, weighted):
    X, y, rng = _data()
    K = 3
    sw = rng.uniform(0.2, 3.0, X.shape[0]) if weighted else None
    prob = optim.Multinomial(X, y, reg=0.05, fit_intercept=intercept, sample_weight=sw)
    assert prob.dim == (X.shape[1] + intercept) * K
    w = 0.5 * rng.standard_normal(prob.dim)
    W = w.reshape(-1, K)
    assert prob.value(w) == pytest.approx(_dense_value(X, y, W, 0.05, sw, intercept), rel=1e-13)
    # Gradient from the closed form Aᵀ(s ⊙ (softmax − onehot))/n + reg W_coef.
    A = np.hstack([X, np.ones((X.shape[0], 1))]) if intercept else X
    s = np.ones(X.shape[0]) if sw is None else sw * X.shape[0] / sw.sum()
    P = softmax(A @ W, axis=1)
    Y = np.eye(K)[y]
    G = A.T @ (s[:, None] * (P - Y)) / X.shape[0]
    G[: X.shape[1]] += 0.05 * W[: X.shape[1]]
    np.testing.assert_allclose(prob.grad(w), G.ravel(), rtol=1e-12, atol=1e-14)
    # Hessian: Σ_i s_i (a_i a_iᵀ) ⊗ (diag p_i − p_i p_iᵀ) / n + reg on the coefficients.
    H = np.zeros((prob.dim, prob.dim))
    for i in range(X.shape[0]):
        B = np.diag(P[i]) - np.outer(P[i], P[i])
        H += s[i] * np.kron(np.outer(A[i], A[i]), B)
    H /= X.shape[0]
    H[np.arange(X.shape[1] * K), np.arange(X.shape[1] * K)] += 0.05
    V = rng.standard_normal((prob.dim, 4))
    np.testing.assert_allclose(prob.hvp(w, V), H @ V, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(prob.hvp(w, V[:, 2]), H @ V[:, 2], rtol=1e-11, atol=1e-13)


def test_gradient_matches_finite_differences_on_a_batch():
    X, y, rng = _data(1)
    prob = optim.Multinomial(X, y, reg=1e-3, fit_intercept=True)
    w, v = rng.standard_normal(prob.dim), rng.standard_normal(prob.dim)
    idx = np.arange(0, 600, 7)
    h = 1e-6
    fd = (prob.value(w + h * v, idx) - prob.value(w - h * v, idx)) / (2 * h)
    assert prob.grad(w, idx) @ v == pytest.approx(fd, rel=1e-7)
    fd_h = (prob.grad(w + h * v, idx) - prob.grad(w - h * v, idx)) / (2 * h)
    np.testing.assert_allclose(prob.hvp(w, v, idx), fd_h, rtol=1e-6, atol=1e-8)


def test_sparse_equals_dense():
    X, y, rng = _data(2)
    dense = optim.Multinomial(X, y, reg=0.1, fit_intercept=True)
    sparse = optim.Multinomial(sp.csr_matrix(X), y, reg=0.1, fit_intercept=True)
    w = rng.standard_normal(dense.dim)
    assert sparse.value(w) == pytest.approx(dense.value(w), rel=1e-14)
    np.testing.assert_allclose(sparse.grad(w), dense.grad(w), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(sparse.hvp(w, np.ones(dense.dim)), dense.hvp(w, np.ones(dense.dim)),
                               rtol=1e-12, atol=1e-15)


def test_labels_of_any_kind_and_classes():
    X, y, _ = _data(3)
    names = np.array(["a", "b", "c"])[y]
    p1 = optim.Multinomial(X, y, reg=0.1)
    p2 = optim.Multinomial(X, names, reg=0.1)
    assert p2.classes_.tolist() == ["a", "b", "c"]
    w = np.linspace(-1, 1, p1.dim)
    assert p1.value(w) == p2.value(w)
    with pytest.raises(ValueError, match="at least two classes"):
        optim.Multinomial(X, np.zeros(X.shape[0]), reg=0.1)
    with pytest.raises(ValueError, match="non-integer"):
        optim.Multinomial(X, y + 0.5, reg=0.1)


@pytest.mark.parametrize("solver", ["sketchy_svrg", "sketchy_saga", "sketchy_katyusha"])
def test_solvers_reach_sklearn_multinomial_optimum(solver):
    X, y, _ = _data(4, n=3000, d=10, K=4)
    n = X.shape[0]
    reg = 1e-3
    prob = optim.Multinomial(X, y, reg=reg)
    est = LogisticRegression(C=1.0 / (reg * n), tol=1e-12, max_iter=10000, fit_intercept=False).fit(X, y)
    w_ref = est.coef_.T.ravel()
    assert np.linalg.norm(prob.grad(w_ref)) < 1e-7
    res = getattr(optim, solver)(prob, tol=1e-10, epochs=300, random_state=0)
    assert res.success, res.message
    assert np.linalg.norm(res.x - w_ref) <= 1e-5 * np.linalg.norm(w_ref)
    # Predictions agree with scikit-learn's.
    pred = prob.classes_[np.argmax(X @ prob.coef_matrix(res.x), axis=1)]
    assert np.array_equal(pred, est.predict(X))


def test_saga_table_has_one_row_of_k_scalars_per_sample(monkeypatch):
    import optim.sketchy as sk

    X, y, _ = _data(5, n=500)
    prob = optim.Multinomial(X, y, reg=1e-2)
    seen = {}
    original = sk._saga_init

    def spy(ctx, w, g):
        state = original(ctx, w, g)
        seen["shape"] = state["table"].shape
        return state

    _, epoch, rule = sk._METHODS["sketchy_saga"]
    monkeypatch.setitem(sk._METHODS, "sketchy_saga", (spy, epoch, rule))
    optim.sketchy_saga(prob, epochs=2, random_state=0)
    assert seen["shape"] == (500, 3)


def test_curvature_is_class_probabilities():
    X, y, rng = _data(6)
    prob = optim.Multinomial(X, y, reg=0.1)
    w = rng.standard_normal(prob.dim)
    P = prob.curvature(w, np.arange(10))
    np.testing.assert_allclose(P, softmax(X[:10] @ w.reshape(-1, 3), axis=1), rtol=1e-13)


@pytest.mark.parametrize("sparse", [False, True])
def test_x_offset_equals_explicit_centring(sparse):
    X, y, rng = _data(n=60)
    m = rng.standard_normal(X.shape[1])
    Xs = sp.csr_matrix(np.where(np.abs(X) < 0.1, 0.0, X))
    Xd = Xs.toarray()
    implicit = optim.Multinomial(Xs if sparse else Xd, y, 0.1, fit_intercept=True, x_offset=m)
    explicit = optim.Multinomial(Xd - m, y, 0.1, fit_intercept=True)
    w, V = rng.standard_normal(implicit.dim), rng.standard_normal((implicit.dim, 2))
    np.testing.assert_allclose(implicit.value(w), explicit.value(w), rtol=1e-12)
    np.testing.assert_allclose(implicit.grad(w), explicit.grad(w), rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(implicit.hvp(w, V), explicit.hvp(w, V), rtol=1e-11, atol=1e-12)


def test_float32_X_with_float64_vectors_stays_float32():
    import tracemalloc

    X, y, _ = _data(n=3000, d=150)
    X32 = X.astype(np.float32)
    prob = optim.Multinomial(X32, y, 0.1, fit_intercept=True)
    b = prob.batch()
    w, V = np.full(prob.dim, 0.01), np.full((prob.dim, 3), 0.01)
    b.margins(w)
    tracemalloc.start()
    try:
        outs = [b.margins(w), b.grad(w), b.hessian_operator(w) @ V]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert all(o.dtype == np.float32 for o in outs)
    assert peak < X32.nbytes


# ----------------------------------------------------------------------------- the validation policy


def _strictly(exc, pattern, make):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning, no NumPy "invalid value", no sort TypeError
        with pytest.raises(exc, match=pattern):
            make()


@pytest.mark.parametrize("value", [None, "abc", "", True, 2.5, 1j])
def test_labels_that_are_not_an_array_are_a_type_error(value):
    X, _, _ = _data(5, n=30)
    _strictly(TypeError, "^y must be an array", lambda: optim.Multinomial(X, value))
    _strictly(TypeError, "^X must be an array", lambda: optim.Multinomial(value, np.arange(30) % 3))


@pytest.mark.parametrize(("labels", "pattern"), [
    (np.arange(30) % 3 + 1j, "^y must hold integer, boolean or string class labels"),
    (np.where(np.arange(30) == 4, np.nan, np.arange(30) % 3), "^y contains NaN or infinity"),
    (np.where(np.arange(30) == 4, np.inf, np.arange(30) % 3), "^y contains NaN or infinity"),
    (np.array([1.0] * 29 + ["a"], dtype=object), "^y must hold class labels of one kind"),
    (np.ones((30, 2)), r"^y must have shape \(30,\)"),
    (np.arange(31) % 3, r"^y must have shape \(30,\)"),
], ids=["complex", "nan", "inf", "object-mixed", "matrix", "long"])
def test_bad_labels_are_a_value_error(labels, pattern):
    X, _, _ = _data(5, n=30)
    _strictly(ValueError, pattern, lambda: optim.Multinomial(X, labels))


def test_object_strings_booleans_and_columns_are_labels():
    X, y, _ = _data(6, n=30)
    ref = optim.Multinomial(X, y, reg=0.1)
    w = np.linspace(-1, 1, ref.dim)
    for labels in (np.array(["a", "b", "c"], dtype=object)[y], y.reshape(-1, 1), list(y)):
        assert optim.Multinomial(X, labels, reg=0.1).value(w) == ref.value(w)
    assert optim.Multinomial(X, y == 1, reg=0.1).classes_.tolist() == [False, True]


@pytest.mark.parametrize("content", ["str", "object", "complex"])
def test_hot_path_rejects_non_real_w_and_v(content):
    X, y, _ = _data(7, n=30)
    prob = optim.Multinomial(X, y, reg=0.1)
    make = {"str": lambda s: np.full(s, "a"), "object": lambda s: np.full(s, 1.0, dtype=object),
            "complex": lambda s: np.ones(s, complex)}[content]
    w = np.zeros(prob.dim)
    _strictly(ValueError, "^w must hold real numbers", lambda: prob.value_and_grad(make(prob.dim)))
    _strictly(ValueError, "^w must hold real numbers", lambda: prob.hvp(make(prob.dim), w))
    _strictly(ValueError, "^v must hold real numbers", lambda: prob.hvp(w, make((prob.dim, 2))))
    _strictly(ValueError, r"^v must have shape", lambda: prob.hvp(w, np.ones((2, prob.dim))))
    p32 = optim.Multinomial(X.astype(np.float32), y, reg=0.1)
    assert p32.hvp(np.zeros(p32.dim, np.float32), np.ones(p32.dim)).dtype == np.float32
