"""Tests of the PROMISE preconditioner and step-size constant (``optim.preconditioners``).

``SketchyPreconditioner`` is checked against the dense matrix ``P = U Λ Uᵀ + ρI`` and its
inverse and inverse square root from ``numpy.linalg``; ``hessian_preconditioner`` against the
dense data Hessian ``A_Sᵀ diag(s̃ ℓ'') A_S / |S|`` of the batch it sketched; and
``preconditioned_smoothness`` against the exact largest eigenvalue
``λ_max(P^{-1/2}(H_S + reg·mask)P^{-1/2})`` from ``numpy.linalg.eigvalsh``.
"""

import itertools
import math
import warnings

import array_api_strict as xs
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import expit

from optim import (
    LeastSquares,
    Logistic,
    Objective,
    SketchyPreconditioner,
    hessian_preconditioner,
    preconditioned_smoothness,
)

# ----------------------------------------------------------------------------- references


def orthonormal(d, r, seed):
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, r)))
    return Q


def dense_P(P):
    U, lam = np.asarray(P.U), np.asarray(P.eigvals)
    d = U.shape[0]
    return (U * lam) @ U.T + P.rho * np.eye(d)


def dense_power(M, power):
    """``M^power`` of the symmetric positive definite ``M`` via ``eigh``."""
    s, Q = np.linalg.eigh((M + M.T) / 2)
    return (Q * s**power) @ Q.T


def data_hessian(kind, X, y, w, *, fit_intercept=False, sample_weight=None, idx=None):
    """Dense ``A_Sᵀ diag(s̃ ℓ'') A_S / |S|`` (no penalty)."""
    X = X.toarray() if sp.issparse(X) else np.asarray(X, np.float64)
    n = X.shape[0]
    A = np.hstack([X, np.ones((n, 1))]) if fit_intercept else X
    s = np.ones(n) if sample_weight is None else sample_weight * n / np.sum(sample_weight)
    if idx is not None:
        A, s = A[idx], s[idx]
    if kind == "ls":
        c = s
    else:
        p = expit(A @ w)
        c = s * p * (1 - p)
    return (A.T * c) @ A / A.shape[0]


def penalty_diag(d, fit_intercept, reg):
    return reg * np.diag(np.r_[np.ones(d), 0.0] if fit_intercept else np.ones(d))


def lowrank_data(kind, n=60, d=20, k=4, seed=0, fit_intercept=False):
    """``X`` of rank ``k`` (so the data Hessian has rank ``k``, or ``k + 1`` with the intercept)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, k)) @ rng.standard_normal((k, d))
    if kind == "ls":
        y = rng.standard_normal(n)
    else:
        y = rng.integers(0, 2, n)
    return X, y


def decaying_data(kind, n=80, d=15, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * np.logspace(0, -2, d)
    y = rng.standard_normal(n) if kind == "ls" else rng.integers(0, 2, n)
    return X, y


def make(kind, X, y, reg, **kw):
    return (LeastSquares if kind == "ls" else Logistic)(X, y, reg, **kw)


class BatchRecorder:
    """Wraps ``problem.batch`` on the instance and records the ``idx`` it receives."""

    def __init__(self, problem):
        self.problem = problem
        self.original = problem.batch
        self.calls = []
        problem.batch = self

    def __call__(self, idx=None):
        self.calls.append(None if idx is None else np.asarray(idx).copy())
        return self.original(idx)

    def sizes(self):
        return [self.problem.n_samples if i is None else len(i) for i in self.calls]


KINDS = [pytest.param("ls", id="ls"), pytest.param("logistic", id="logistic")]
INTERCEPT = [pytest.param(False, id="no-intercept"), pytest.param(True, id="intercept")]


# ----------------------------------------------------------------------------- SketchyPreconditioner


@pytest.mark.parametrize("d, r, rho", [(12, 4, 0.3), (9, 9, 1e-3), (20, 1, 5.0)])
def test_sketchy_preconditioner_matches_dense_inverse(d, r, rho):
    U = orthonormal(d, r, seed=d + r)
    lam = np.sort(np.random.default_rng(1).uniform(0.0, 50.0, r))[::-1]
    P = SketchyPreconditioner(U, lam, rho)
    assert P.rank == r and P.rho == rho
    M = (U * lam) @ U.T + rho * np.eye(d)
    Minv = np.linalg.inv(M)
    Minv_sqrt = dense_power(M, -0.5)
    rng = np.random.default_rng(2)
    g, G = rng.standard_normal(d), rng.standard_normal((d, 5))

    # Relative to the norm, with the rounding of the O(dr) formula: the terms U(...)Uᵀg and g/ρ
    # are of size ‖g‖/ρ and cancel when U spans everything, so allow eps·(λ_max + ρ)/ρ.
    tol = 1e-13 * max(np.linalg.cond(M), (lam.max() + rho) / rho)

    def check(actual, desired):
        assert actual.shape == desired.shape
        assert np.linalg.norm(actual - desired) <= tol * np.linalg.norm(desired)

    check(P.apply_inverse(g), Minv @ g)
    check(P.apply_inverse(G), Minv @ G)
    check(P.apply_inverse_sqrt(g), Minv_sqrt @ g)
    check(P.apply_inverse_sqrt(G), Minv_sqrt @ G)
    check(P.apply_inverse_sqrt(P.apply_inverse_sqrt(g)), P.apply_inverse(g))
    check(P.apply_inverse_sqrt(P.apply_inverse_sqrt(G)), P.apply_inverse(G))
    check(M @ P.apply_inverse(G), G)
    assert P.apply_inverse(G).shape == (d, 5) and P.apply_inverse_sqrt(g).shape == (d,)


def test_sketchy_preconditioner_docstring_values():
    P = SketchyPreconditioner(np.eye(3)[:, :1], np.array([9.0]), 1.0)
    np.testing.assert_allclose(P.apply_inverse(np.ones(3)), [0.1, 1.0, 1.0], rtol=1e-14)
    np.testing.assert_allclose(P.apply_inverse_sqrt(np.ones(3)), [1 / math.sqrt(10), 1.0, 1.0], rtol=1e-14)


def test_sketchy_preconditioner_zero_eigenvalues_and_rho_scaling():
    """Zero eigenvalues leave ``P = ρI``; everything scales as ``1/ρ`` and ``1/√ρ``."""
    d = 6
    P = SketchyPreconditioner(orthonormal(d, 2, 3), np.zeros(2), 4.0)
    g = np.random.default_rng(3).standard_normal(d)
    np.testing.assert_allclose(P.apply_inverse(g), g / 4.0, rtol=1e-14)
    np.testing.assert_allclose(P.apply_inverse_sqrt(g), g / 2.0, rtol=1e-14)


def test_sketchy_preconditioner_identity():
    P = SketchyPreconditioner.identity(7, xp=np, dtype=np.float64)
    assert P.rank == 0 and P.rho == 1.0 and P.U.shape == (7, 0)
    rng = np.random.default_rng(4)
    g, G = rng.standard_normal(7), rng.standard_normal((7, 3))
    np.testing.assert_array_equal(P.apply_inverse(g), g)
    np.testing.assert_array_equal(P.apply_inverse(G), G)
    np.testing.assert_array_equal(P.apply_inverse_sqrt(g), g)
    np.testing.assert_array_equal(P.apply_inverse_sqrt(G), G)
    P32 = SketchyPreconditioner.identity(4, xp=np, dtype=np.float32)
    assert P32.U.dtype == np.float32
    assert P32.apply_inverse(np.ones(4, np.float32)).dtype == np.float32


@pytest.mark.parametrize("rho", [0.0, -1.0, np.nan, np.inf, -np.inf])
def test_sketchy_preconditioner_rejects_bad_rho(rho):
    with pytest.raises(ValueError, match=r"^rho"):
        SketchyPreconditioner(orthonormal(4, 2, 5), np.ones(2), rho)


@pytest.mark.parametrize(
    ("U", "eigvals", "exc", "pattern"),
    [
        (orthonormal(6, 2, 7), np.array([3.0, -1.0]), ValueError, "^eigvals must be >= 0"),
        (orthonormal(6, 2, 7), np.array([3.0, -1e-300]), ValueError, "^eigvals must be >= 0"),
        (orthonormal(6, 2, 7), np.array([3.0]), ValueError, "^eigvals must have one entry per column"),
        (orthonormal(6, 2, 7), np.array([3.0, 2.0, 1.0]), ValueError, "^eigvals must have one entry"),
        (orthonormal(6, 2, 7), np.array([[3.0, 2.0]]), ValueError, "^eigvals must be a 1-D"),
        (orthonormal(6, 2, 7), np.array([3.0, np.nan]), ValueError, "^eigvals contains NaN"),
        (orthonormal(6, 2, 7), np.array([np.inf, 1.0]), ValueError, "^eigvals contains NaN"),
        (orthonormal(6, 2, 7), np.array([3.0, 1j]), ValueError, "^eigvals must hold real"),
        (orthonormal(6, 2, 7), "big", TypeError, "^eigvals"),
        (2.0 * orthonormal(6, 2, 7), np.array([3.0, 1.0]), ValueError, "^U must have orthonormal"),
        (np.ones((6, 2)), np.array([3.0, 1.0]), ValueError, "^U must have orthonormal"),
        (orthonormal(6, 2, 7) + 0j, np.array([3.0, 1.0]), ValueError, "^U must hold real"),
        (np.ones(6), np.array([3.0]), ValueError, "^U must be a 2-D"),
        (np.ones((0, 1)), np.array([3.0]), ValueError, "^U must have at least one row"),
        (None, np.array([3.0]), TypeError, "^U"),
    ],
)
def test_sketchy_preconditioner_validates_its_arguments(U, eigvals, exc, pattern):
    """Negative, mismatched or non-finite eigenvalues and a non-orthonormal U used to give NaN or a
    wrong P⁻¹ silently (or numpy's broadcasting error); each is now an error naming the argument."""
    with pytest.raises(exc, match=pattern):
        SketchyPreconditioner(U, eigvals, 1.0)


def test_sketchy_preconditioner_accepts_rounding_level_orthonormality_and_integers():
    U = orthonormal(40, 5, 8)
    U32 = U.astype(np.float32)
    P = SketchyPreconditioner(U32, np.arange(5, 0, -1), 0.5)  # integer eigvals take U's dtype
    assert P.eigvals.dtype == np.float32
    dense = U @ np.diag(np.arange(5.0, 0, -1)) @ U.T + 0.5 * np.eye(40)
    g = np.random.default_rng(8).standard_normal(40)
    np.testing.assert_allclose(P.apply_inverse(g.astype(np.float32)), np.linalg.solve(dense, g), rtol=1e-4)
    with pytest.raises(TypeError, match=r"^rho"):
        SketchyPreconditioner(U, np.ones(5), "auto")


def test_sketchy_preconditioner_array_api_strict():
    U = orthonormal(8, 3, 6)
    lam = np.array([5.0, 2.0, 0.5])
    ref = SketchyPreconditioner(U, lam, 0.1)
    P = SketchyPreconditioner(xs.asarray(U), xs.asarray(lam), 0.1)
    G = np.random.default_rng(6).standard_normal((8, 2))
    np.testing.assert_allclose(np.asarray(P.apply_inverse(xs.asarray(G))), ref.apply_inverse(G), rtol=1e-13)
    np.testing.assert_allclose(np.asarray(P.apply_inverse_sqrt(xs.asarray(G[:, 0]))),
                               ref.apply_inverse_sqrt(G[:, 0]), rtol=1e-13)


@pytest.mark.parametrize("method", ["apply_inverse", "apply_inverse_sqrt"])
def test_sketchy_preconditioner_products_check_their_input_in_o1(method):
    """apply_inverse ran into NumPy's matmul errors (not naming G), accepted object arrays and
    cast complex G with a ComplexWarning; now an O(1) kind and shape check names G."""
    P = SketchyPreconditioner(np.eye(4)[:, :1], np.array([9.0]), 1.0)
    apply = getattr(P, method)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning, no NumPy error escapes
        for bad in (None, "abc", 1.5, True, [1.0] * 4, {"a": 1}):
            with pytest.raises(TypeError, match=r"^G must be an array"):
                apply(bad)
        for bad in (np.full(4, "a"), np.full(4, 1.0, dtype=object), np.ones(4) + 1j,
                    np.ones((4, 2), complex)):
            with pytest.raises(ValueError, match=r"^G must hold real numbers"):
                apply(bad)
        for bad in (np.array(1.0), np.ones(5), np.ones(0), np.ones((2, 4)), np.ones((4, 1, 1))):
            with pytest.raises(ValueError, match=r"^G must have shape \(4,\) or \(4, k\)"):
                apply(bad)
    # Integers, float32, columns and blocks are products' inputs; NaN is the caller's (no scan).
    scale = np.array([0.1, 1.0, 1.0, 1.0]) ** (0.5 if method == "apply_inverse_sqrt" else 1.0)
    np.testing.assert_allclose(apply(np.arange(4)), scale * np.arange(4), rtol=1e-12)
    assert apply(np.ones(4, np.float32)).shape == (4,)
    np.testing.assert_allclose(apply(np.ones((4, 3))), np.repeat(scale[:, None], 3, axis=1), rtol=1e-12)
    assert np.isnan(apply(np.full(4, np.nan))).all()


# ----------------------------------------------------------------------------- hessian_preconditioner


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("fit_intercept", INTERCEPT)
@pytest.mark.parametrize("kind", KINDS)
def test_full_batch_low_rank_hessian_is_reproduced(kind, fit_intercept, weighted):
    X, y = lowrank_data(kind, n=60, d=20, k=4, seed=7)
    sw = np.random.default_rng(7).uniform(0.2, 3.0, 60) if weighted else None
    prob = make(kind, X, y, 0.05, fit_intercept=fit_intercept, sample_weight=sw)
    w = 0.3 * np.random.default_rng(8).standard_normal(prob.dim)
    P = hessian_preconditioner(prob, w, rank=6, batch_size=60, random_state=0)
    H = data_hessian(kind, X, y, w, fit_intercept=fit_intercept, sample_weight=sw)
    approx = (np.asarray(P.U) * np.asarray(P.eigvals)) @ np.asarray(P.U).T
    assert np.linalg.norm(approx - H) <= 1e-8 * np.linalg.norm(H)
    np.testing.assert_allclose(np.asarray(P.U).T @ np.asarray(P.U), np.eye(P.rank), atol=1e-12)
    assert P.rank <= 6
    lam = np.asarray(P.eigvals)
    assert np.all(np.diff(lam) <= 0) and np.all(lam >= 0)
    exact = np.linalg.eigvalsh(H)[::-1][: P.rank]
    np.testing.assert_allclose(lam, exact, atol=1e-8 * exact[0])


@pytest.mark.parametrize("fit_intercept", INTERCEPT)
@pytest.mark.parametrize("kind", KINDS)
def test_rho_auto_is_reg_plus_smallest_retained_eigenvalue(kind, fit_intercept):
    X, y = decaying_data(kind, n=80, d=15, seed=9)
    reg = 0.5
    prob = make(kind, X, y, reg, fit_intercept=fit_intercept)
    w = 0.2 * np.random.default_rng(9).standard_normal(prob.dim)
    P = hessian_preconditioner(prob, w, rank=5, batch_size=80, random_state=1)
    lam = np.asarray(P.eigvals)
    assert P.rank == 5
    assert lam[-1] > 0
    assert P.rho == pytest.approx(reg + lam[-1], rel=1e-14)
    # The retained eigenvalues are the top of the exact data spectrum (fast decay: accurate).
    exact = np.linalg.eigvalsh(data_hessian(kind, X, y, w, fit_intercept=fit_intercept))[::-1]
    np.testing.assert_allclose(lam[:3], exact[:3], rtol=1e-3)
    assert np.all(lam <= exact[:5] * (1 + 1e-10))  # Nyström never overestimates
    # Unregularised: ρ is the smallest retained eigenvalue alone.
    P0 = hessian_preconditioner(make(kind, X, y, 0.0, fit_intercept=fit_intercept), w, rank=5,
                                batch_size=80, random_state=1)
    assert P0.rho == pytest.approx(np.asarray(P0.eigvals)[-1], rel=1e-14)


def test_rho_auto_floor_for_rank_deficient_unregularised_hessian():
    X, y = lowrank_data("ls", n=40, d=10, k=2, seed=10)
    prob = LeastSquares(X, y, 0.0)
    P = hessian_preconditioner(prob, np.zeros(10), rank=5, batch_size=40, random_state=0)
    lam = np.asarray(P.eigvals)
    assert P.rho > 0
    assert P.rho == pytest.approx(max(lam[-1], math.sqrt(np.finfo(np.float64).eps) * lam[0]), rel=1e-12)


def test_rho_auto_for_zero_hessian_is_one():
    prob = LeastSquares(np.zeros((9, 4)), np.ones(9), 0.0)
    P = hessian_preconditioner(prob, np.zeros(4), rank=2, random_state=0)
    assert P.rho == 1.0
    g = np.arange(4.0)
    np.testing.assert_allclose(P.apply_inverse(g), g)


@pytest.mark.parametrize("rho", [1e-3, 0.5, 7])
def test_numeric_rho_is_used_as_given(rho):
    X, y = decaying_data("logistic", seed=11)
    prob = Logistic(X, y, 0.2)
    w = np.zeros(15)
    P = hessian_preconditioner(prob, w, rank=4, rho=rho, random_state=3)
    P_auto = hessian_preconditioner(prob, w, rank=4, random_state=3)
    assert P.rho == float(rho)
    np.testing.assert_array_equal(np.asarray(P.U), np.asarray(P_auto.U))
    np.testing.assert_array_equal(np.asarray(P.eigvals), np.asarray(P_auto.eigvals))
    g = np.ones(15)
    M = dense_P(P)
    np.testing.assert_allclose(M @ P.apply_inverse(g), g, rtol=1e-10)


@pytest.mark.parametrize("n, expected", [(63, 7), (99, 9), (100, 10), (3, 1), (1, 1)])
def test_default_batch_size_is_floor_sqrt_n(n, expected):
    rng = np.random.default_rng(12)
    X, y = rng.standard_normal((n, 3)), rng.standard_normal(n)
    prob = LeastSquares(X, y, 0.1)
    rec = BatchRecorder(prob)
    hessian_preconditioner(prob, np.zeros(3), rank=2, random_state=0)
    preconditioned_smoothness(prob, np.zeros(3), random_state=0)
    assert rec.sizes() == [expected, expected]
    for idx in rec.calls:
        if idx is not None:
            assert len(np.unique(idx)) == len(idx)  # without replacement
            assert idx.min() >= 0 and idx.max() < n


def test_batches_are_uniform_subsets_without_replacement():
    n = 40
    X, y = decaying_data("ls", n=n, d=4, seed=31)
    prob = LeastSquares(X, y, 0.1)
    rec = BatchRecorder(prob)
    for seed in range(5):
        hessian_preconditioner(prob, np.zeros(4), rank=2, batch_size=n - 1, random_state=seed)
        preconditioned_smoothness(prob, np.zeros(4), batch_size=n - 1, random_state=seed)
    assert len(rec.calls) == 10
    for idx in rec.calls:
        assert len(idx) == n - 1 and len(np.unique(idx)) == n - 1
    assert len({tuple(idx) for idx in rec.calls}) > 1  # the batch depends on the seed


def test_explicit_batch_size_is_used_and_sketch_matches_that_batch():
    """The preconditioner is the Nyström approximation of the Hessian of the batch it drew."""
    X, y = decaying_data("logistic", n=50, d=8, seed=13)
    sw = np.random.default_rng(13).uniform(0.5, 2.0, 50)
    prob = Logistic(X, y, 0.1, fit_intercept=True, sample_weight=sw)
    w = 0.5 * np.random.default_rng(14).standard_normal(9)
    rec = BatchRecorder(prob)
    P = hessian_preconditioner(prob, w, rank=9, batch_size=17, random_state=5)
    (idx,) = rec.calls
    assert len(idx) == 17
    H_S = data_hessian("logistic", X, y, w, fit_intercept=True, sample_weight=sw, idx=idx)
    np.testing.assert_allclose(dense_P(P) - P.rho * np.eye(9), H_S, atol=1e-10 * np.linalg.norm(H_S))


def test_preconditioner_is_reproducible_and_seed_dependent():
    X, y = decaying_data("logistic", n=120, d=15, seed=15)
    prob = Logistic(X, y, 1e-3)
    w = np.zeros(15)
    a = hessian_preconditioner(prob, w, rank=4, random_state=42)
    b = hessian_preconditioner(prob, w, rank=4, random_state=42)
    c = hessian_preconditioner(prob, w, rank=4, random_state=np.random.default_rng(42))
    for other in (b, c):
        np.testing.assert_array_equal(np.asarray(a.U), np.asarray(other.U))
        np.testing.assert_array_equal(np.asarray(a.eigvals), np.asarray(other.eigvals))
        assert a.rho == other.rho
    d = hessian_preconditioner(prob, w, rank=4, random_state=43)
    assert not np.array_equal(np.asarray(a.eigvals), np.asarray(d.eigvals))
    s1 = preconditioned_smoothness(prob, w, a, random_state=7)
    assert s1 == preconditioned_smoothness(prob, w, a, random_state=7)


def test_preconditioner_improves_conditioning():
    X, y = decaying_data("ls", n=200, d=30, seed=16)
    X = X * np.logspace(0, -1, 30)
    reg = 1e-5
    prob = LeastSquares(X, y, reg)
    P = hessian_preconditioner(prob, np.zeros(30), rank=10, batch_size=200, random_state=0)
    H = data_hessian("ls", X, y, None) + reg * np.eye(30)
    S = dense_power(dense_P(P), -0.5)
    before = np.linalg.cond(H)
    after = np.linalg.cond(S @ H @ S)
    assert after < before / 20


def test_sparse_data_preconditioner_matches_dense():
    X, y = lowrank_data("logistic", n=40, d=12, k=3, seed=17)
    X[np.abs(X) < 0.5] = 0.0
    w = 0.1 * np.ones(13)
    for fmt in (sp.csr_matrix, sp.csc_matrix):
        Ps = hessian_preconditioner(Logistic(fmt(X), y, 0.1, fit_intercept=True), w, rank=13, batch_size=40,
                                    random_state=0)
        Pd = hessian_preconditioner(Logistic(X, y, 0.1, fit_intercept=True), w, rank=13, batch_size=40,
                                    random_state=0)
        np.testing.assert_allclose(dense_P(Ps), dense_P(Pd), atol=1e-10 * np.linalg.norm(dense_P(Pd)))


def test_objective_preconditioner_sketches_the_full_hessian():
    rng = np.random.default_rng(18)
    G = rng.standard_normal((12, 3))
    A = G @ G.T  # rank 3
    obj = Objective(lambda w: 0.5 * w @ A @ w, lambda w: A @ w, lambda w, v: A @ v)
    P = hessian_preconditioner(obj, np.zeros(12), rank=5, random_state=0)
    np.testing.assert_allclose(dense_P(P) - P.rho * np.eye(12), A, atol=1e-10 * np.linalg.norm(A))
    # Finite-difference Hessian products work too (to the differencing accuracy).
    fd = Objective(lambda w: 0.5 * w @ A @ w, lambda w: A @ w)
    Pfd = hessian_preconditioner(fd, np.ones(12), rank=5, random_state=0)
    np.testing.assert_allclose(dense_P(Pfd) - Pfd.rho * np.eye(12), A, atol=1e-6 * np.linalg.norm(A))


def test_finite_sum_objective_preconditioner_uses_a_batch():
    rng = np.random.default_rng(19)
    n, d = 49, 6
    X = rng.standard_normal((n, d))
    received = []

    def hvp(w, v, idx):
        received.append(None if idx is None else len(idx))
        i = np.arange(n) if idx is None else idx
        return X[i].T @ (X[i] @ v) / len(i)

    obj = Objective(lambda w, idx: 0.0, lambda w, idx: 0 * w, hvp, n_samples=n)
    hessian_preconditioner(obj, np.zeros(d), rank=3, random_state=0)
    assert set(received) == {7}


@pytest.mark.parametrize("dim, rank", [(6, 3), (40, 10)])
def test_indefinite_objective_raises_mentioning_convexity(dim, rank):
    A = np.diag(np.where(np.arange(dim) % 2 == 0, 1.0, -2.0))
    obj = Objective(lambda w: 0.5 * w @ A @ w, lambda w: A @ w, lambda w, v: A @ v)
    with pytest.raises(ValueError, match="convex"):
        hessian_preconditioner(obj, np.ones(dim), rank=rank, random_state=0)
    concave = Objective(lambda w: -0.5 * w @ w, lambda w: -w)
    with pytest.raises(ValueError, match="convex"):
        hessian_preconditioner(concave, np.ones(dim), rank=rank, random_state=0)


def test_hessian_preconditioner_argument_errors():
    X, y = decaying_data("ls", n=30, d=5, seed=20)
    prob = LeastSquares(X, y, 0.1)
    w = np.zeros(5)
    with pytest.raises(ValueError, match="rank"):
        hessian_preconditioner(prob, w, rank=6)
    with pytest.raises(ValueError, match="rank"):
        hessian_preconditioner(prob, w, rank=0)
    with pytest.raises(TypeError, match="rank"):
        hessian_preconditioner(prob, w, rank=2.5)
    for bad in ("bad", "AUTO", 0.0, -1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match=r"^rho"):
            hessian_preconditioner(prob, w, rank=2, rho=bad)
    for bad in (True, None, [1.0], 1j):  # the policy: a wrong kind is a TypeError
        with pytest.raises(TypeError, match=r"^rho"):
            hessian_preconditioner(prob, w, rank=2, rho=bad)
    with pytest.raises(ValueError, match="batch_size"):
        hessian_preconditioner(prob, w, rank=2, batch_size=31)
    with pytest.raises(ValueError, match="batch_size"):
        hessian_preconditioner(prob, w, rank=2, batch_size=0)
    with pytest.raises(TypeError, match="random_state"):
        hessian_preconditioner(prob, w, rank=2, random_state="seed")


def test_rank_equal_to_dim_is_allowed():
    X, y = decaying_data("ls", n=30, d=5, seed=21)
    prob = LeastSquares(X, y, 0.1)
    P = hessian_preconditioner(prob, np.zeros(5), rank=5, batch_size=30, random_state=0)
    H = data_hessian("ls", X, y, None)
    np.testing.assert_allclose(dense_P(P) - P.rho * np.eye(5), H, atol=1e-12 * np.linalg.norm(H))


def test_float32_preconditioner():
    X, y = decaying_data("logistic", n=64, d=10, seed=22)
    prob = Logistic(X.astype(np.float32), y, 0.1)
    w = np.zeros(10, np.float32)
    P = hessian_preconditioner(prob, w, rank=4, random_state=0)
    assert P.U.dtype == np.float32 and P.eigvals.dtype == np.float32
    assert P.apply_inverse(np.ones(10, np.float32)).dtype == np.float32
    L = preconditioned_smoothness(prob, w, P, random_state=0)
    assert isinstance(L, float) and L > 0


def test_array_api_strict_preconditioner_without_intercept():
    X, y = decaying_data("logistic", n=36, d=6, seed=23)
    ref = Logistic(X, y, 0.1)
    prob = Logistic(xs.asarray(X), xs.asarray(y), 0.1)
    w = 0.1 * np.ones(6)
    P = hessian_preconditioner(prob, xs.asarray(w), rank=6, batch_size=36, random_state=0)
    H = data_hessian("logistic", X, y, w)
    np.testing.assert_allclose(dense_P(P) - P.rho * np.eye(6), H, atol=1e-10 * np.linalg.norm(H))
    L = preconditioned_smoothness(prob, xs.asarray(w), P, batch_size=36, num_iters=100, random_state=0)
    assert isinstance(L, float)
    Pn = SketchyPreconditioner(np.asarray(P.U), np.asarray(P.eigvals), P.rho)
    S = dense_power(dense_P(Pn), -0.5)
    exact = np.linalg.eigvalsh(S @ (H + 0.1 * np.eye(6)) @ S)[-1]
    assert L == pytest.approx(exact, rel=1e-3)
    assert L == pytest.approx(preconditioned_smoothness(ref, w, Pn, batch_size=36, num_iters=100,
                                                        random_state=0), rel=1e-3)


def test_array_api_strict_preconditioner_with_intercept():
    X, y = decaying_data("logistic", n=36, d=6, seed=24)
    prob = Logistic(xs.asarray(X), xs.asarray(y), 0.1, fit_intercept=True)
    P = hessian_preconditioner(prob, xs.asarray(np.zeros(7)), rank=3, random_state=0)
    assert P.rank == 3


# ----------------------------------------------------------------------------- preconditioned_smoothness


def exact_LP(kind, X, y, w, reg, P, *, fit_intercept=False, sample_weight=None, idx=None):
    H = data_hessian(kind, X, y, w, fit_intercept=fit_intercept, sample_weight=sample_weight, idx=idx)
    H = H + penalty_diag(X.shape[1], fit_intercept, reg)
    if P is None:
        return np.linalg.eigvalsh(H)[-1]
    S = dense_power(dense_P(P), -0.5)
    return np.linalg.eigvalsh(S @ H @ S)[-1]


@pytest.mark.parametrize("fit_intercept", INTERCEPT)
@pytest.mark.parametrize("kind", KINDS)
def test_smoothness_matches_exact_preconditioned_eigenvalue(kind, fit_intercept):
    X, y = decaying_data(kind, n=60, d=12, seed=25)
    sw = np.random.default_rng(25).uniform(0.3, 2.0, 60)
    reg = 0.05
    prob = make(kind, X, y, reg, fit_intercept=fit_intercept, sample_weight=sw)
    w = 0.3 * np.random.default_rng(26).standard_normal(prob.dim)
    P = hessian_preconditioner(prob, w, rank=4, batch_size=60, random_state=0)
    exact = exact_LP(kind, X, y, w, reg, P, fit_intercept=fit_intercept, sample_weight=sw)
    for seed in range(3):
        L = preconditioned_smoothness(prob, w, P, batch_size=60, num_iters=200, random_state=seed)
        assert L == pytest.approx(exact, rel=1e-3)
        assert L <= exact * (1 + 1e-12)


@pytest.mark.parametrize("fit_intercept", INTERCEPT)
@pytest.mark.parametrize("kind", KINDS)
def test_smoothness_without_preconditioner_is_lambda_max(kind, fit_intercept):
    X, y = decaying_data(kind, n=50, d=10, seed=27)
    reg = 0.3
    prob = make(kind, X, y, reg, fit_intercept=fit_intercept)
    w = 0.2 * np.ones(prob.dim)
    exact = exact_LP(kind, X, y, w, reg, None, fit_intercept=fit_intercept)
    L = preconditioned_smoothness(prob, w, batch_size=50, num_iters=200, random_state=0)
    assert L == pytest.approx(exact, rel=1e-3)
    assert L <= exact * (1 + 1e-12)
    identity = SketchyPreconditioner.identity(prob.dim, xp=np, dtype=np.float64)
    assert preconditioned_smoothness(prob, w, identity, batch_size=50, num_iters=200,
                                     random_state=0) == pytest.approx(L, rel=1e-13)


def test_smoothness_reg_dominates_tiny_hessian():
    """``H + reg·I`` with a negligible data part: ``L`` is ``reg``, not ``0``."""
    X = 1e-8 * np.random.default_rng(28).standard_normal((16, 4))
    prob = LeastSquares(X, np.zeros(16), reg=2.0)
    L = preconditioned_smoothness(prob, np.zeros(4), batch_size=16, random_state=0)
    assert L == pytest.approx(2.0, rel=1e-10)
    P = SketchyPreconditioner(orthonormal(4, 1, 0), np.array([0.0]), 4.0)  # P = 4I
    assert preconditioned_smoothness(prob, np.zeros(4), P, batch_size=16, random_state=0) == pytest.approx(
        0.5, rel=1e-10)


def test_smoothness_default_iterations_within_ten_percent_on_separated_spectrum():
    rng = np.random.default_rng(29)
    n, d = 100, 20
    X = rng.standard_normal((n, d)) * np.r_[10.0, np.ones(d - 1)]
    prob = LeastSquares(X, rng.standard_normal(n), reg=0.1)
    exact = exact_LP("ls", X, None, None, 0.1, None)
    for seed in range(5):
        L = preconditioned_smoothness(prob, np.zeros(d), batch_size=n, random_state=seed)
        assert 0.9 * exact <= L <= exact * (1 + 1e-12)


def test_smoothness_docstring_example():
    X = np.diag([3.0, 1.0, 1.0, 1.0])
    prob = LeastSquares(X, np.ones(4), reg=0.0)
    assert preconditioned_smoothness(prob, np.zeros(4), batch_size=4, random_state=0) == pytest.approx(
        2.25, rel=1e-10)


@pytest.mark.parametrize("num_iters", [1, 2, 5, 20])
def test_smoothness_is_a_rayleigh_quotient_lower_bound_on_its_batch(num_iters):
    X, y = decaying_data("logistic", n=90, d=12, seed=30)
    prob = Logistic(X, y, 0.01, fit_intercept=True)
    w = 0.5 * np.random.default_rng(30).standard_normal(13)
    P = hessian_preconditioner(prob, w, rank=4, random_state=1)
    rec = BatchRecorder(prob)
    L = preconditioned_smoothness(prob, w, P, num_iters=num_iters, random_state=2)
    (idx,) = rec.calls
    assert len(idx) == 9
    exact = exact_LP("logistic", X, y, w, 0.01, P, fit_intercept=True, idx=idx)
    S = dense_power(dense_P(P), -0.5)
    H_S = data_hessian("logistic", X, y, w, fit_intercept=True, idx=idx) + penalty_diag(12, True, 0.01)
    lo = np.linalg.eigvalsh(S @ H_S @ S)[0]
    assert lo * (1 - 1e-12) <= L <= exact * (1 + 1e-12)


def test_smoothness_estimates_increase_towards_the_exact_value():
    X, y = decaying_data("ls", n=40, d=10, seed=31)
    prob = LeastSquares(X, y, 0.01)
    exact = exact_LP("ls", X, y, None, 0.01, None)
    est = [preconditioned_smoothness(prob, np.zeros(10), batch_size=40, num_iters=k, random_state=3)
           for k in (1, 3, 10, 100)]
    assert all(a <= b * (1 + 1e-12) for a, b in itertools.pairwise(est))
    assert est[-1] == pytest.approx(exact, rel=1e-6)


def test_smoothness_objective_and_errors():
    A = np.diag([5.0, 2.0, 1.0])
    obj = Objective(lambda w: 0.5 * w @ A @ w, lambda w: A @ w, lambda w, v: A @ v, reg=0.0)
    assert preconditioned_smoothness(obj, np.zeros(3), num_iters=100, random_state=0) == pytest.approx(
        5.0, rel=1e-6)
    prob = LeastSquares(np.eye(4), np.ones(4))
    with pytest.raises(ValueError, match="num_iters"):
        preconditioned_smoothness(prob, np.zeros(4), num_iters=0)
    with pytest.raises(ValueError, match="batch_size"):
        preconditioned_smoothness(prob, np.zeros(4), batch_size=5)
    bad = Objective(lambda w: 0.0, lambda w: w, lambda w, v: np.full_like(v, np.nan))
    with pytest.raises(FloatingPointError):
        preconditioned_smoothness(bad, np.ones(3), random_state=0)


# ----------------------------------------------------------------------------- GPU


@pytest.mark.gpu
@pytest.mark.parametrize("fit_intercept", INTERCEPT)
@pytest.mark.parametrize("kind", KINDS)
def test_cupy_preconditioner_and_problem_match_numpy(cupy, kind, fit_intercept):
    X, y = lowrank_data(kind, n=64, d=16, k=4, seed=32)
    sw = np.random.default_rng(32).uniform(0.5, 2.0, 64)
    reg = 0.05
    ref = make(kind, X, y, reg, fit_intercept=fit_intercept, sample_weight=sw)
    prob = make(kind, cupy.asarray(X), cupy.asarray(y), reg, fit_intercept=fit_intercept,
                sample_weight=cupy.asarray(sw))
    w = 0.2 * np.random.default_rng(33).standard_normal(ref.dim)
    V = np.random.default_rng(34).standard_normal((ref.dim, 3))
    wc = cupy.asarray(w)
    assert prob.value(wc) == pytest.approx(ref.value(w), rel=1e-12)
    np.testing.assert_allclose(prob.grad(wc).get(), ref.grad(w), rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(prob.hvp(wc, cupy.asarray(V)).get(), ref.hvp(w, V), rtol=1e-11, atol=1e-13)
    P = hessian_preconditioner(prob, wc, rank=8, batch_size=64, random_state=0)
    assert isinstance(P.U, cupy.ndarray)
    H = data_hessian(kind, X, y, w, fit_intercept=fit_intercept, sample_weight=sw)
    approx = (P.U.get() * P.eigvals.get()) @ P.U.get().T
    assert np.linalg.norm(approx - H) <= 1e-8 * np.linalg.norm(H)
    assert P.rho == pytest.approx(reg + float(P.eigvals[-1]), rel=1e-12)
    Pn = SketchyPreconditioner(P.U.get(), P.eigvals.get(), P.rho)
    G = np.random.default_rng(35).standard_normal((ref.dim, 2))
    np.testing.assert_allclose(P.apply_inverse(cupy.asarray(G)).get(), Pn.apply_inverse(G), rtol=1e-10)
    L = preconditioned_smoothness(prob, wc, P, batch_size=64, num_iters=200, random_state=0)
    exact = np.linalg.eigvalsh(dense_power(dense_P(Pn), -0.5) @ (H + penalty_diag(16, fit_intercept, reg))
                               @ dense_power(dense_P(Pn), -0.5))[-1]
    assert L == pytest.approx(exact, rel=1e-3) and L <= exact * (1 + 1e-12)


def test_problem_w_and_preconditioner_kinds_are_checked():
    """A non-problem, a malformed w or a non-preconditioner raised AttributeError or numpy's error."""
    X, y = decaying_data("ls", n=30, d=5, seed=21)
    prob = LeastSquares(X, y, 0.1)
    with pytest.raises(TypeError, match=r"^problem"):
        hessian_preconditioner("ls", np.zeros(5))
    with pytest.raises(TypeError, match=r"^problem"):
        preconditioned_smoothness(None, np.zeros(5))
    for bad, exc in (("w", TypeError), (None, TypeError), (np.zeros(4), ValueError),
                     (np.zeros(5) + 1j, ValueError), (np.zeros((5, 1)), ValueError)):
        with pytest.raises(exc, match=r"^w"):
            hessian_preconditioner(prob, bad, rank=2)
        with pytest.raises(exc, match=r"^w"):
            preconditioned_smoothness(prob, bad)
    with pytest.raises(TypeError, match=r"^preconditioner"):
        preconditioned_smoothness(prob, np.zeros(5), preconditioner=np.eye(5))


@pytest.mark.parametrize("num_iters", [1, 5, 40])
def test_smoothness_power_iteration_is_the_symmetric_one(num_iters):
    """The P⁻¹H iteration gives the Rayleigh quotient of the P^{-1/2} H P^{-1/2} iteration from the same
    start (exact reference: that iteration written out with dense matrices), and the top eigenvalue
    when run long enough."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((300, 40)) * np.logspace(0, -2, 40)
    prob = Logistic(X, (rng.random(300) < 0.5).astype(int), reg=1e-3)
    w = 0.1 * rng.standard_normal(40)
    P = hessian_preconditioner(prob, w, rank=5, random_state=0)
    est = preconditioned_smoothness(prob, w, P, batch_size=300, num_iters=num_iters, random_state=1)
    H = prob.hvp(w, np.eye(40))
    M = P.apply_inverse_sqrt(P.apply_inverse_sqrt(H).T).T
    v = np.random.default_rng(1).standard_normal(40)
    v /= np.linalg.norm(v)
    for _ in range(num_iters):
        v = M @ v
        v /= np.linalg.norm(v)
    assert est == pytest.approx(v @ M @ v, rel=1e-12)
    if num_iters == 40:
        assert est == pytest.approx(np.linalg.eigvalsh((M + M.T) / 2)[-1], rel=1e-4)


def test_hessian_preconditioner_sketch_passed_to_nystrom():
    """``sketch='gaussian'`` is the default; a kind rnla does not know is a ValueError naming sketch."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((400, 30)) * np.logspace(0, -3, 30)
    prob = LeastSquares(X, rng.standard_normal(400), reg=1e-6)
    a = hessian_preconditioner(prob, np.zeros(30), random_state=0)
    b = hessian_preconditioner(prob, np.zeros(30), random_state=0, sketch="gaussian")
    np.testing.assert_array_equal(a.U, b.U)
    np.testing.assert_array_equal(a.eigvals, b.eigvals)
    with pytest.raises(ValueError, match="sketch must be one of"):
        hessian_preconditioner(prob, np.zeros(30), random_state=0, sketch="hadamard")
    with pytest.raises(TypeError, match="sketch"):
        hessian_preconditioner(prob, np.zeros(30), random_state=0, sketch=3)
    for kind in ("sparse_sign", "srtt"):  # the other kinds, where rnla implements them
        try:
            P = hessian_preconditioner(prob, np.zeros(30), batch_size=400, random_state=0, sketch=kind)
        except NotImplementedError:
            continue
        H = X.T @ X / 400
        assert P.rank == 10
        top = np.linalg.eigvalsh(H)[-1]
        assert P.eigvals[0] == pytest.approx(top, rel=1e-2)
