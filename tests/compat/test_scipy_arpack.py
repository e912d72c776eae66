"""SciPy's ARPACK test cases for real symmetric problems, run against :func:`rnla.eigsh`.

Our own versions of the real symmetric cases of SciPy's
``scipy/sparse/linalg/_eigen/arpack/tests/test_arpack.py``: the standard symmetric problem in
float32 and float64 for every ``which`` and operator form, start vectors with ``k`` up to
``n − 1``, ``maxiter`` without convergence, ``k >= n``, thread safety, re-entrance, argument
errors, the nested-``k`` property and ARPACK-ng's bug 1315. Tolerances are SciPy's
(``2000 eps`` in float64, ``3000 eps`` in float32, five times that for float32 operators).

Intended differences (asserted here as our behaviour):

- generalized (``M=``) and shift-invert (``sigma=``, ``mode=``, ``Minv=``, ``OPinv=``)
  problems raise ``NotImplementedError`` naming the argument;
- ``k >= n`` solves densely for every operator form (SciPy raises ``TypeError`` for sparse
  matrices and LinearOperators) and warns only when ``k > n``;
- complex (Hermitian) matrices raise ``ValueError`` (SciPy hands them to ``eigs``).
"""

import threading
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.sparse.linalg import ArpackNoConvergence

from rnla import EigshNoConvergence, eigsh

N = 6
WHICH = ["LM", "SM", "LA", "SA", "BE"]
FORMS = {"csr": sp.csr_array, "LinearOperator": spla.aslinearoperator, "dense": np.asarray}


def _spd(rng, n):
    """``G Gᵀ`` for ``G`` uniform on [0, 1): SciPy's real "hermitian positive definite" matrix."""
    G = rng.random((n, n))
    return G @ G.T


def _problem():
    """SciPy's 6 × 6 standard problem, rounded through float32 so both precisions share eigenvalues."""
    rng = np.random.RandomState(2300)
    A = _spd(rng, N).astype(np.float32).astype(np.float64)
    B = _spd(rng, N).astype(np.float32).astype(np.float64)  # SciPy's mass matrix M
    return A, B


A6, B6 = _problem()
EXACT6 = np.linalg.eigvalsh(A6)


def _tolerances(dtype, form):
    """``(tol, rtol, atol)`` as SciPy chooses them for these cases."""
    eps = np.finfo(dtype).eps
    rtol = (3000 if dtype == np.float32 else 2000) * eps
    tol = 0.0
    if dtype == np.float32 and form == "LinearOperator":
        tol, rtol = 30 * eps, 5 * rtol
    if dtype == np.float32 and form == "csr":
        rtol *= 5
    return tol, rtol, rtol


def _wanted(values, k, which, digits):
    """The ``k`` wanted values of ``values``, chosen as SciPy's tests choose them (rounded first)."""
    key = np.round(values, digits)
    order = np.argsort(np.abs(key) if which in ("LM", "SM") else key, kind="stable")
    if which in ("LM", "LA"):
        return np.sort(values[order[-k:]])
    if which in ("SM", "SA"):
        return np.sort(values[order[:k]])
    return np.sort(np.r_[values[order[: k // 2]], values[order[k // 2 - k:]]])


def _check(A, k, which, dtype, form, v0=None, seed=0):
    tol, rtol, atol = _tolerances(dtype, form)
    a = A.astype(dtype)
    w, V = eigsh(FORMS[form](a), k, which=which, v0=v0, tol=tol, random_state=seed)
    assert w.dtype == V.dtype == dtype
    assert w.shape == (k,) and V.shape == (A.shape[0], k)
    exact = _wanted(np.linalg.eigvalsh(A), k, which, 3 if dtype == np.float32 else 11)
    np.testing.assert_allclose(w, exact, rtol=rtol, atol=atol)
    np.testing.assert_allclose(a @ V, V * w, rtol=rtol, atol=atol)
    np.testing.assert_allclose(V.T @ V, np.eye(k), atol=100 * np.finfo(dtype).eps * k)


# ------------------------------------------------------------------ standard problems


@pytest.mark.parametrize("form", list(FORMS))
@pytest.mark.parametrize("which", WHICH)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_symmetric_modes(dtype, which, form):
    _check(A6, 2, which, dtype, form, seed=1749)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_symmetric_starting_vector(k, dtype):
    v0 = np.random.default_rng(17495).uniform(size=N).astype(dtype)
    _check(A6, k, "LM", dtype, "dense", v0=v0)


def test_default_which_is_largest_magnitude():
    # SciPy's default is which='LM': an indefinite matrix whose most negative eigenvalue
    # is the largest in magnitude must return it when which is left out.
    lam = np.r_[-10.0, np.linspace(0.0, 1.0, 18), 5.0]
    Q, _ = np.linalg.qr(np.random.default_rng(3).standard_normal((20, 20)))
    A = (Q * lam) @ Q.T
    w = eigsh(A, 2, return_eigenvectors=False, random_state=0)
    ref = spla.eigsh(A, 2, return_eigenvectors=False, v0=np.ones(20))
    np.testing.assert_allclose(w, np.sort(ref), atol=1e-10)
    np.testing.assert_allclose(w, [-10.0, 5.0], atol=1e-10)


@pytest.mark.parametrize("which", WHICH)
def test_return_eigenvectors_false(which):
    w = eigsh(A6, 3, which=which, return_eigenvectors=False, random_state=2)
    w2, _ = eigsh(A6, 3, which=which, random_state=2)
    assert isinstance(w, np.ndarray) and w.shape == (3,)
    np.testing.assert_array_equal(w, w2)


@pytest.mark.parametrize("ncv", [3, 4, 6])
def test_ncv(ncv):
    w = eigsh(A6, 2, which="LA", ncv=ncv, return_eigenvectors=False, random_state=4)
    np.testing.assert_allclose(w, EXACT6[-2:], rtol=2000 * np.finfo(float).eps)


def test_symmetric_no_convergence():
    m = _spd(np.random.RandomState(1234), 30)
    tol, rtol, atol = _tolerances(np.float64, "dense")
    with pytest.raises(ArpackNoConvergence) as info:
        eigsh(m, 4, which="LM", v0=m[:, 0], maxiter=5, tol=tol, ncv=9)
    err = info.value
    assert isinstance(err, EigshNoConvergence)
    w, V = err.eigenvalues, err.eigenvectors
    assert 0 < w.shape[0] < 4 and V.shape == (30, w.shape[0])
    np.testing.assert_allclose(m @ V, V * w, rtol=rtol, atol=atol)
    top = np.linalg.eigvalsh(m)[::-1][:4]
    assert np.all(np.min(np.abs(w[:, None] - top[None, :]), axis=1) <= 1e-9 * top[0])


# ----------------------------------------------------------------------- k near n


def _laplacian_like(n, seed):
    """A random symmetric sparse matrix with entries in [-2, 2), as SciPy's k-subset test builds."""
    rng = np.random.default_rng(seed)
    R = sp.random_array((n, n), density=0.5, rng=rng)
    R.data = 2 * R.data - 1
    return (R + R.T).tocsr()


@pytest.mark.parametrize("which", ["LM", "SM", "LA", "SA"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_k_subset(which, dtype):
    # Every k up to n - 1 gives eigenpairs, and those for k are among those for k + 1.
    S = _laplacian_like(10, 2).astype(dtype)
    eps = np.finfo(dtype).eps
    v0 = np.ones(10, dtype=dtype)
    prev = np.zeros(0)
    for k in range(1, 10):
        w, Z = eigsh(S, k, which=which, v0=v0)
        assert w.shape == (k,)
        np.testing.assert_allclose(np.linalg.norm(S @ Z - Z * w), 0, atol=np.sqrt(eps))
        if prev.size:
            dist = np.min(np.abs(prev[:, None] - w[None, :]), axis=1)
            np.testing.assert_allclose(dist, 0, atol=np.sqrt(eps))
        prev = w


@pytest.mark.parametrize("form", list(FORMS))
@pytest.mark.parametrize("k", [4, 5])
def test_k_at_least_n_solves_densely(form, k):
    # SciPy falls back to scipy.linalg.eigh for dense A (and refuses sparse and
    # LinearOperator A); we do it for every form and return all n eigenpairs.
    A = A6[:4, :4].copy()
    ref_w, ref_V = np.linalg.eigh(A)
    ctx = pytest.warns(RuntimeWarning, match=r"^k=5") if k > 4 else warnings.catch_warnings()
    with ctx:
        if k == 4:
            warnings.simplefilter("error")
        w, V = eigsh(FORMS[form](A), k)
        w_only = eigsh(FORMS[form](A), k, return_eigenvectors=False) if k == 4 else w
    np.testing.assert_allclose(w, ref_w, rtol=1e-13)
    np.testing.assert_allclose(w_only, ref_w, rtol=1e-13)
    np.testing.assert_allclose(np.abs(np.sum(V * ref_V, axis=0)), 1.0, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_regression_arpackng_1315(dtype):
    w0 = np.arange(1, 1001).astype(dtype)
    A = sp.diags_array([w0], offsets=[0], shape=(1000, 1000))
    v0 = np.random.RandomState(1234).rand(1000).astype(dtype)
    w = eigsh(A, 9, ncv=19, which="LM", v0=v0, return_eigenvectors=False)
    np.testing.assert_allclose(w, w0[-9:], rtol=1e-4)


# --------------------------------------------------------- threads and re-entrance


def test_parallel_threads():
    v0 = np.random.default_rng(1234).random(50)
    T = sp.diags_array([1.0, -2.0, 1.0], offsets=[-1, 0, 1], shape=(50, 50))
    results = []

    def worker():
        results.append(eigsh(T, k=3, v0=v0)[0])

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    worker()
    exact = np.sort(np.linalg.eigvalsh(T.toarray()))[:3]  # the three of largest magnitude
    for r in results:
        np.testing.assert_array_equal(r, results[-1])
    np.testing.assert_allclose(results[-1], exact, atol=1e-12)


def test_reentering():
    # An operator whose product itself calls eigsh.
    T = sp.diags_array([1.0, -2.0, 1.0], offsets=[-1, 0, 1], shape=(30, 30)).tocsr()
    v0 = np.random.default_rng(5).random(30)  # not ones: T's odd modes are orthogonal to them
    calls = []

    def matvec(x):
        w = eigsh(T, k=1, which="LA", v0=v0, ncv=30, return_eigenvectors=False)
        calls.append(1)
        return T @ x / abs(w[0])

    op = spla.LinearOperator((30, 30), matvec=matvec, dtype=float)
    w = eigsh(op, k=1, v0=v0, ncv=12, return_eigenvectors=False)
    lam = np.linalg.eigvalsh(T.toarray())
    np.testing.assert_allclose(w, lam[:1] / abs(lam[-1]), rtol=1e-10)
    assert len(calls) > 0


# ------------------------------------------------------------------ argument errors


def test_bad_shapes():
    with pytest.raises(ValueError, match=r"^A"):
        eigsh(sp.csc_array(np.zeros((2, 3))))


def test_bad_which():
    with pytest.raises(ValueError, match=r"^which"):
        eigsh(sp.csc_array(np.eye(8)), which="XX")


@pytest.mark.parametrize("form", list(FORMS))
def test_generalized_problem_not_supported(form):
    with pytest.raises(NotImplementedError, match=r"^M"):
        eigsh(A6, 2, FORMS[form](B6))
    with pytest.raises(NotImplementedError, match=r"^M"):
        eigsh(A6, 5, M=FORMS[form](B6))  # also on the dense path, k >= n - 1


@pytest.mark.parametrize("mode", ["normal", "buckling", "cayley"])
def test_shift_invert_not_supported(mode):
    with pytest.raises(NotImplementedError, match=r"^sigma"):
        eigsh(A6, 2, sigma=0.5, mode=mode)
    if mode != "normal":
        with pytest.raises(NotImplementedError, match=r"^mode"):
            eigsh(A6, 2, mode=mode)


@pytest.mark.parametrize("name", ["Minv", "OPinv"])
def test_inverse_operators_not_supported(name):
    with pytest.raises(NotImplementedError, match=rf"^{name}"):
        eigsh(A6, 2, **{name: np.eye(N)})


def test_hermitian_complex_refused():
    H = A6 + 1j * (np.triu(A6, 1) - np.tril(A6, -1))
    with pytest.raises(ValueError, match=r"^A"):
        eigsh(H, 2)
