"""The sparse fast path of SketchySGD/SVRG/SAGA (the iterate kept as ``v + U c``) against the plain path."""

import numpy as np
import pytest
import scipy.sparse as sp

import optim
from optim import _sketchy_split, sketchy

BATCH = sketchy.DEFAULT_BATCH_SIZE
SOLVERS = ("sketchy_sgd", "sketchy_svrg", "sketchy_saga")


def _data(n=1500, d=900, density=2e-3, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, format="csr", random_state=rng, dtype=dtype)
    X.data = rng.standard_normal(X.nnz).astype(dtype)
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ rng.standard_normal(d))))).astype(dtype)
    return X, y, rng


def _uses_split(prob, batch_size=sketchy.DEFAULT_BATCH_SIZE):
    ctx = sketchy._Context(prob, prob.xp, None, np.random.default_rng(0), batch_size)
    return ctx.split


def test_split_chosen_for_sparse_batches_only():
    X, y, _ = _data()
    assert _uses_split(optim.Logistic(X, y))
    assert _uses_split(optim.LeastSquares(X, y))
    assert not _uses_split(optim.Logistic(X.toarray(), y))  # dense data keeps the plain path
    assert not _uses_split(optim.Logistic(X, y), batch_size=1500)  # a batch denser than dim
    assert not _uses_split(optim.Multinomial(X, (y > 0).astype(int) + (np.arange(1500) % 2)))


@pytest.mark.parametrize("name", SOLVERS)
@pytest.mark.parametrize("precondition", [True, False])
@pytest.mark.parametrize("fit_intercept,offset,reg", [(False, False, 1e-3), (False, False, 0.0),
                                                      (True, False, 1e-3), (True, True, 1e-3),
                                                      (False, True, 0.0)])
def test_sparse_matches_dense(name, precondition, fit_intercept, offset, reg):
    """Same data, same seed: the split iterate on sparse X follows the plain path on dense X."""
    X, y, rng = _data()
    x_offset = 0.01 * rng.standard_normal(X.shape[1]) if offset else None
    sw = rng.uniform(0.5, 2.0, X.shape[0])
    kw = dict(reg=reg, fit_intercept=fit_intercept, x_offset=x_offset, sample_weight=sw)
    sparse, dense = optim.Logistic(X, y, **kw), optim.Logistic(X.toarray(), y, **kw)
    assert _uses_split(sparse) and not _uses_split(dense)
    a = getattr(optim, name)(sparse, epochs=4, tol=0, random_state=3, precondition=precondition)
    b = getattr(optim, name)(dense, epochs=4, tol=0, random_state=3, precondition=precondition)
    assert a.nit == b.nit == 4
    np.testing.assert_allclose(a.x, b.x, rtol=0, atol=1e-11 * np.abs(b.x).max())
    np.testing.assert_allclose(a.history["fun"], b.history["fun"], rtol=1e-12)
    np.testing.assert_allclose(a.history["learning_rate"], b.history["learning_rate"], rtol=1e-12)


@pytest.mark.parametrize("name", SOLVERS)
def test_least_squares_sparse_matches_dense(name):
    X, y, _ = _data(seed=1)
    a = getattr(optim, name)(optim.LeastSquares(X, y, reg=1e-2), epochs=3, tol=0, random_state=0)
    b = getattr(optim, name)(optim.LeastSquares(X.toarray(), y, reg=1e-2), epochs=3, tol=0, random_state=0)
    np.testing.assert_allclose(a.x, b.x, rtol=0, atol=1e-11 * np.abs(b.x).max())


@pytest.mark.parametrize("name", SOLVERS)
def test_float32_kept(name):
    X, y, _ = _data(dtype=np.float32)
    res = getattr(optim, name)(optim.Logistic(X, y, reg=1e-3), epochs=3, tol=0, random_state=0)
    ref = getattr(optim, name)(optim.Logistic(X.toarray(), y, reg=1e-3), epochs=3, tol=0, random_state=0)
    assert res.x.dtype == np.float32 and res.jac.dtype == np.float32
    np.testing.assert_allclose(res.x, ref.x, rtol=0, atol=2e-4 * np.abs(ref.x).max())


@pytest.mark.parametrize("name", SOLVERS)
def test_samples_per_epoch_unchanged(name, monkeypatch):
    """Both paths evaluate the loss derivative on the same batches: ⌈n/b⌉ per epoch, n samples in all
    (plus full passes). The plain SVRG step evaluates it at the iterate and at the snapshot; the
    split epoch takes the snapshot's values from one full pass at the epoch's start."""
    X, y, _ = _data()
    counts = {}
    for label, data in (("sparse", X), ("dense", X.toarray())):
        prob = optim.Logistic(data, y, reg=1e-3)
        sizes = []
        dloss = prob.dloss

        def counting(z, y, _dloss=dloss, _sizes=sizes):
            # gradient batches only (full passes, Hessian and step-size batches have other sizes)
            if int(z.shape[0]) in (BATCH, 1500 % BATCH):
                _sizes.append(int(z.shape[0]))
            return _dloss(z, y)

        monkeypatch.setattr(prob, "dloss", counting)
        res = getattr(optim, name)(prob, epochs=2, tol=0, random_state=0, update_freq="once")
        assert res.nit == 2
        counts[label] = sizes
    expected = [BATCH] * 5 + [1500 % BATCH]
    assert counts["sparse"] == 2 * expected
    per_batch = 2 if name == "sketchy_svrg" else 1  # plain SVRG: at the iterate and at the snapshot
    assert counts["dense"] == 2 * [size for size in expected for _ in range(per_batch)]


def test_saga_converges_on_sparse_data():
    """The fast path reaches the optimum scikit-learn finds (a correctness check, not just agreement)."""
    from sklearn.linear_model import LogisticRegression

    X, y, _ = _data(n=1200, d=2000, density=2e-3, seed=4)
    assert _uses_split(optim.Logistic(X, y))
    reg = 1e-2
    res = optim.sketchy_saga(optim.Logistic(X, y, reg=reg), tol=1e-9, epochs=300, random_state=0)
    ref = LogisticRegression(C=1 / (reg * 1200), fit_intercept=False, tol=1e-12, max_iter=1000).fit(X, y)
    assert res.success
    np.testing.assert_allclose(res.x, ref.coef_.ravel(), rtol=0, atol=1e-6)


def _count_rescales(monkeypatch):
    calls = []
    rescale = _sketchy_split._rescale

    def counting(M, iv, s):
        calls.append(s)
        return rescale(M, iv, s)

    monkeypatch.setattr(_sketchy_split, "_rescale", counting)
    return calls


@pytest.mark.parametrize("name", SOLVERS)
@pytest.mark.parametrize("fit_intercept,offset", [(False, False), (True, True)])
def test_lazy_scale_renormalised_under_strong_decay(name, fit_intercept, offset, monkeypatch):
    """A decay factor of 1/2 per step (η = 1/2, reg = 1, P = I) drives the lazy scale below
    RESCALE_BELOW every ~30 steps; the iterates still follow the plain steps on dense X."""
    X, y, rng = _data()
    x_offset = 0.01 * rng.standard_normal(X.shape[1]) if offset else None
    kw = dict(reg=1.0, fit_intercept=fit_intercept, x_offset=x_offset)
    sparse, dense = optim.Logistic(X, y, **kw), optim.Logistic(X.toarray(), y, **kw)
    opts = dict(epochs=2, tol=0, random_state=5, precondition=False, learning_rate=0.5, batch_size=16)
    assert _uses_split(sparse, batch_size=16)
    calls = _count_rescales(monkeypatch)
    a = getattr(optim, name)(sparse, **opts)
    b = getattr(optim, name)(dense, **opts)
    steps = 2 * -(-1500 // 16)
    assert steps // 35 <= len(calls) <= steps // 25  # 0.5**30 ≈ 9.3e-10 < 1e-9 < 0.5**29
    assert all(s < _sketchy_split.RESCALE_BELOW for s in calls)
    assert np.abs(b.x).max() > 1e-3  # not a trivial iterate
    np.testing.assert_allclose(a.x, b.x, rtol=1e-10, atol=1e-12 * np.abs(b.x).max())


@pytest.mark.parametrize("name", SOLVERS)
def test_rescale_every_step_changes_nothing(name, monkeypatch):
    """Folding the scale into v̂ at every step (threshold above 1) gives the same iterates, on the
    default preconditioned path with several chunks of batches."""
    X, y, rng = _data()
    kw = dict(reg=1e-2, fit_intercept=True, x_offset=0.01 * rng.standard_normal(X.shape[1]))
    prob = optim.Logistic(X, y, **kw)
    opts = dict(epochs=2, tol=0, random_state=2, batch_size=8)
    assert -(-1500 // 8) > 2 * _sketchy_split.CHUNK_BATCHES  # three chunks of batches per epoch
    ref = getattr(optim, name)(prob, **opts)
    calls = _count_rescales(monkeypatch)
    monkeypatch.setattr(_sketchy_split, "RESCALE_BELOW", 2.0)
    res = getattr(optim, name)(prob, **opts)
    assert len(calls) == 2 * -(-1500 // 8)
    dense = getattr(optim, name)(optim.Logistic(X.toarray(), y, **kw), **opts)
    np.testing.assert_allclose(res.x, ref.x, rtol=1e-10, atol=1e-12 * np.abs(ref.x).max())
    np.testing.assert_allclose(ref.x, dense.x, rtol=1e-10, atol=1e-12 * np.abs(ref.x).max())
