"""scikit-learn's ``tests/test_kernel_ridge.py``, the cases that apply, against NystromKernelRidge.

Our own versions of the peer's cases (not its code). Note our default kernel is ``'rbf'``
(KernelRidge's is ``'linear'``), so every case names its kernel.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge
from sklearn.metrics.pairwise import pairwise_kernels

from optim import NystromKernelRidge


def data(n=40, d=6, k=None, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.sin(X @ rng.standard_normal((d,) if k is None else (d, k))) + 0.1 * rng.standard_normal(
        (n,) if k is None else (n, k))
    return X, y


def est(**kw):
    kw.setdefault("tol", 1e-12)
    kw.setdefault("random_state", 0)
    return NystromKernelRidge(**kw)


def close(a, b, rtol=1e-7):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * max(1.0, np.abs(b).max()))


@pytest.mark.parametrize("fmt", ["dense", "csr", "csc"])
def test_kernel_ridge_linear_equals_ridge(fmt):
    X, y = data()
    Xf = {"dense": X, "csr": sp.csr_matrix(X), "csc": sp.csc_matrix(X)}[fmt]
    pred = est(alpha=1.0, kernel="linear").fit(Xf, y).predict(Xf)
    close(pred, Ridge(alpha=1.0, fit_intercept=False).fit(X, y).predict(X))


@pytest.mark.parametrize("shape", [(40, 6), (6, 40)], ids=["long", "wide"])
def test_kernel_ridge_singular_kernel(shape):
    # alpha=0 with a singular linear kernel (n > d): KernelRidge falls back to least squares.
    X, y = data(*shape)
    ref = KernelRidge(alpha=0.0, kernel="linear")
    with pytest.warns(UserWarning) if shape[0] > shape[1] else _nothing():
        ref.fit(X, y)
    ours = est(alpha=0.0, kernel="linear").fit(X, y)
    close(ours.predict(X), ref.predict(X), rtol=1e-6)
    lsqr = Ridge(alpha=0.0, fit_intercept=False, solver="lsqr", tol=1e-14).fit(X, y)
    close(ours.predict(X), lsqr.predict(X), rtol=1e-6)
    # The minimum-norm dual coefficients, as np.linalg.lstsq gives them.
    close(ours.dual_coef_, np.linalg.lstsq(X @ X.T, y, rcond=None)[0], rtol=1e-6)


def test_kernel_ridge_singular_kernel_in_blocks():
    # A kernel too large for one block: alpha=0 by CG on K² z = K y, still the minimum-norm dual.
    X, y = data(40, 5)
    ours = est(alpha=0.0, kernel="linear", block_size=16).fit(X, y)
    assert ours.n_iter_[0] > 0
    close(ours.dual_coef_, np.linalg.lstsq(X @ X.T, y, rcond=None)[0], rtol=1e-5)
    close(ours.predict(X), X @ np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-6)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("kernel", ["linear", "rbf", "poly", "cosine"])
def test_kernel_ridge_precomputed(kernel):
    X, y = data()
    K = pairwise_kernels(X, X, metric=kernel)
    direct = est(alpha=0.5, kernel=kernel).fit(X, y).predict(X)
    pre = est(alpha=0.5, kernel="precomputed").fit(K, y).predict(K)
    close(pre, direct)
    close(pre, KernelRidge(alpha=0.5, kernel=kernel).fit(X, y).predict(X))


def test_kernel_ridge_precomputed_kernel_unchanged():
    X, y = data()
    K = X @ X.T
    K_copy = K.copy()
    est(alpha=1.0, kernel="precomputed").fit(K, y, sample_weight=np.full(len(y), 2.0))
    np.testing.assert_array_equal(K, K_copy)


@pytest.mark.parametrize("kernel", ["linear", "precomputed", "rbf"])
def test_kernel_ridge_sample_weights(kernel):
    X, y = data()
    sw = np.random.default_rng(1).uniform(0.1, 2.0, len(y))
    Xf = X @ X.T if kernel == "precomputed" else X
    ours = est(alpha=1.0, kernel=kernel).fit(Xf, y, sample_weight=sw)
    ref = KernelRidge(alpha=1.0, kernel=kernel).fit(Xf, y, sample_weight=sw)
    close(ours.predict(Xf), ref.predict(Xf))
    if kernel != "rbf":
        close(ours.predict(Xf), Ridge(alpha=1.0, fit_intercept=False).fit(X, y, sample_weight=sw).predict(X))


def test_kernel_ridge_zero_weights_drop_rows():
    X, y = data()
    sw = np.ones(len(y))
    sw[::3] = 0.0
    ours = est(alpha=1.0, kernel="rbf").fit(X, y, sample_weight=sw)
    dropped = est(alpha=1.0, kernel="rbf").fit(X[sw > 0], y[sw > 0])
    close(ours.predict(X), dropped.predict(X))


@pytest.mark.parametrize("target", ["1d", "n1", "n2"])
def test_kernel_ridge_multi_output_shapes(target):
    X, y = data(k=2)
    Y = {"1d": y[:, 0], "n1": y[:, :1], "n2": y}[target]
    ours = est(alpha=1.0, kernel="rbf").fit(X, Y)
    ref = KernelRidge(alpha=1.0, kernel="rbf").fit(X, Y)
    assert ours.dual_coef_.shape == ref.dual_coef_.shape
    assert ours.predict(X).shape == ref.predict(X).shape
    close(ours.predict(X), ref.predict(X))


def test_kernel_ridge_multi_output_columns_independent():
    X, Y = data(k=3)
    both = est(alpha=np.array([0.1, 1.0, 10.0]), kernel="rbf").fit(X, Y).predict(X)
    ref = KernelRidge(alpha=np.array([0.1, 1.0, 10.0]), kernel="rbf").fit(X, Y).predict(X)
    close(both, ref)
    for j, a in enumerate([0.1, 1.0, 10.0]):
        close(both[:, j], est(alpha=a, kernel="rbf").fit(X, Y[:, j]).predict(X))


def test_kernel_ridge_float32():
    X, y = data()
    ours = est(alpha=1.0, kernel="rbf").fit(X.astype(np.float32), y.astype(np.float32))
    assert ours.dual_coef_.dtype == np.float32
    close(ours.predict(X.astype(np.float32)), KernelRidge(alpha=1.0, kernel="rbf").fit(X, y).predict(X),
          rtol=1e-4)


def test_kernel_ridge_pairwise_tag():
    assert est(kernel="precomputed").__sklearn_tags__().input_tags.pairwise
    assert not est(kernel="rbf").__sklearn_tags__().input_tags.pairwise
