"""Tests for ``rnla.sketch``: Gaussian, sign and orthonormal sketch matrices.

Sketches are checked for reproducibility by seed (int and Generator), dtype, exact ±1 signs,
plausible moments, orthonormality of the columns, orthogonality to ``against``, and that the
orthonormal sketch spans exactly the (projected) Gaussian sketch drawn from the same seed,
against dense NumPy references; array_api_strict and CuPy results must agree with NumPy.
"""

import array_api_strict as xs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnla import _backend
from rnla.sketch import gaussian_sketch, orthonormal_sketch, sign_sketch

NP = _backend.array_namespace(np.ones(1))
F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
TOL = {F32: 1e-5, F64: 1e-12}
STRICT_ARRAY = type(xs.asarray(1.0))

seeds = st.integers(0, 2**32 - 1)
float_dtypes = st.sampled_from([F32, F64])
# (n, k) with k <= n, and (n, j, k) with j + k <= n.
n_and_k = st.integers(1, 40).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, min(n, 10))))
n_j_k = st.integers(2, 40).flatmap(
    lambda n: st.integers(1, min(n - 1, 10)).flatmap(
        lambda j: st.tuples(st.just(n), st.just(j), st.integers(1, min(n - j, 10)))
    )
)


def _orthonormal_basis(n, j, seed, dtype):
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, j)))
    return Q.astype(dtype)


def _same_column_space(Q, B, tol):
    """The orthogonal projectors onto range(Q) (orthonormal) and range(B) agree."""
    Qb, _ = np.linalg.qr(np.asarray(B, dtype=np.float64))
    Q = np.asarray(Q, dtype=np.float64)
    np.testing.assert_allclose(Q @ Q.T, Qb @ Qb.T, atol=tol)


# --------------------------------------------------------------------------------------------
# gaussian_sketch / sign_sketch
# --------------------------------------------------------------------------------------------


@settings(max_examples=25)
@given(n=st.integers(1, 40), k=st.integers(1, 8), dtype=float_dtypes, seed=seeds)
def test_gaussian_sketch_reproducible_and_equal_to_random_normal(n, k, dtype, seed):
    S = gaussian_sketch(n, k, xp=NP, dtype=dtype, random_state=seed)
    assert isinstance(S, np.ndarray)
    assert S.shape == (n, k)
    assert S.dtype == dtype
    np.testing.assert_array_equal(S, gaussian_sketch(n, k, xp=NP, dtype=dtype, random_state=seed))
    np.testing.assert_array_equal(
        S, gaussian_sketch(n, k, xp=NP, dtype=dtype, random_state=np.random.default_rng(seed))
    )
    np.testing.assert_array_equal(S, _backend.random_normal(NP, (n, k), dtype=dtype, random_state=seed))
    if n * k >= 8:
        assert not np.array_equal(S, gaussian_sketch(n, k, xp=NP, dtype=dtype, random_state=seed + 1))


@settings(max_examples=25)
@given(n=st.integers(1, 40), k=st.integers(1, 8), dtype=float_dtypes, seed=seeds)
def test_sign_sketch_exact_signs_and_reproducible(n, k, dtype, seed):
    S = sign_sketch(n, k, xp=NP, dtype=dtype, random_state=seed)
    assert S.shape == (n, k)
    assert S.dtype == dtype
    assert np.all((S == 1.0) | (S == -1.0))
    np.testing.assert_array_equal(
        S, sign_sketch(n, k, xp=NP, dtype=dtype, random_state=np.random.default_rng(seed))
    )
    np.testing.assert_array_equal(S, _backend.random_sign(NP, (n, k), dtype=dtype, random_state=seed))


@pytest.mark.parametrize("dtype", [F32, F64])
def test_sketch_moments(dtype):
    n, k = 50_000, 4
    G = gaussian_sketch(n, k, xp=NP, dtype=dtype, random_state=31).astype(np.float64)
    # E[G] = 0, E[GᵀG / n] = I: a JL sketch preserves norms in expectation.
    assert np.max(np.abs(G.mean(axis=0))) < 5 / np.sqrt(n)
    np.testing.assert_allclose(G.T @ G / n, np.eye(k), atol=6 / np.sqrt(n))
    S = sign_sketch(n, k, xp=NP, dtype=dtype, random_state=32).astype(np.float64)
    assert np.max(np.abs(S.mean(axis=0))) < 5 / np.sqrt(n)
    np.testing.assert_allclose(S.T @ S / n, np.eye(k), atol=6 / np.sqrt(n))
    np.testing.assert_array_equal(np.diag(S.T @ S), n)  # exactly n: every entry squared is 1


@pytest.mark.parametrize("sketch", [gaussian_sketch, sign_sketch, orthonormal_sketch])
@pytest.mark.parametrize("dtype, expected", [(np.float32, F32), (np.float64, F64)],
                         ids=["np.float32", "np.float64"])
def test_sketches_accept_numpy_scalar_types_as_dtype(sketch, dtype, expected):
    # The docstrings (and users) pass dtype=np.float64: it must work like np.dtype("float64").
    S = sketch(6, 2, xp=NP, dtype=dtype, random_state=0)
    assert S.dtype == expected
    np.testing.assert_array_equal(S, sketch(6, 2, xp=NP, dtype=expected, random_state=0))


# --------------------------------------------------------------------------------------------
# orthonormal_sketch
# --------------------------------------------------------------------------------------------


@settings(max_examples=40)
@given(nk=n_and_k, dtype=float_dtypes, seed=seeds)
def test_orthonormal_sketch_is_qr_of_gaussian_sketch(nk, dtype, seed):
    n, k = nk
    Q = orthonormal_sketch(n, k, xp=NP, dtype=dtype, random_state=seed)
    assert Q.shape == (n, k)
    assert Q.dtype == dtype
    tol = TOL[dtype]
    np.testing.assert_allclose(Q.T.astype(np.float64) @ Q, np.eye(k), atol=10 * tol)
    G = gaussian_sketch(n, k, xp=NP, dtype=dtype, random_state=seed)
    # Same column space as the Gaussian sketch of the same seed, and G = Q R with R upper
    # triangular (QR in column order).
    _same_column_space(Q, G, 100 * tol)
    R = Q.T.astype(np.float64) @ G.astype(np.float64)
    np.testing.assert_allclose(np.tril(R, -1), 0.0, atol=100 * tol * np.abs(R).max())
    np.testing.assert_allclose(Q.astype(np.float64) @ R, G, atol=100 * tol * np.abs(G).max())
    np.testing.assert_array_equal(Q, orthonormal_sketch(n, k, xp=NP, dtype=dtype,
                                                        random_state=np.random.default_rng(seed)))


@settings(max_examples=40)
@given(njk=n_j_k, dtype=float_dtypes, seed=seeds)
def test_orthonormal_sketch_against(njk, dtype, seed):
    n, j, k = njk
    P = _orthonormal_basis(n, j, seed + 1, dtype)
    Q = orthonormal_sketch(n, k, xp=NP, dtype=dtype, random_state=seed, against=P)
    assert Q.shape == (n, k)
    assert Q.dtype == dtype
    tol = TOL[dtype]
    Q64, P64 = Q.astype(np.float64), P.astype(np.float64)
    np.testing.assert_allclose(Q64.T @ Q64, np.eye(k), atol=10 * tol)
    np.testing.assert_allclose(P64.T @ Q64, 0.0, atol=10 * tol)
    W = np.hstack([P64, Q64])
    np.testing.assert_allclose(W.T @ W, np.eye(j + k), atol=10 * tol)
    # range(Q) = range((I - P Pᵀ) G) for the Gaussian sketch G of the same seed.
    G = gaussian_sketch(n, k, xp=NP, dtype=dtype, random_state=seed).astype(np.float64)
    _same_column_space(Q64, G - P64 @ (P64.T @ G), 1e3 * tol)


def test_orthonormal_sketch_extends_a_sketch():
    n = 30
    Q1 = orthonormal_sketch(n, 4, xp=NP, dtype=F64, random_state=0)
    Q2 = orthonormal_sketch(n, 5, xp=NP, dtype=F64, random_state=1, against=Q1)
    Q3 = orthonormal_sketch(n, 6, xp=NP, dtype=F64, random_state=2, against=np.hstack([Q1, Q2]))
    Q = np.hstack([Q1, Q2, Q3])
    np.testing.assert_allclose(Q.T @ Q, np.eye(15), atol=1e-13)
    # Completing to the full space: the last block spans the orthogonal complement exactly.
    Q4 = orthonormal_sketch(n, n - 15, xp=NP, dtype=F64, random_state=3, against=Q)
    W = np.hstack([Q, Q4])
    np.testing.assert_allclose(W @ W.T, np.eye(n), atol=1e-12)


def test_orthonormal_sketch_against_nearly_contained_subspace_twice_is_enough():
    # The Gaussian block is projected twice; even in float32 with n = k + j (a full basis) the
    # result is orthogonal to ``against`` at rounding level.
    n, j = 64, 48
    P = _orthonormal_basis(n, j, 7, F32)
    Q = orthonormal_sketch(n, n - j, xp=NP, dtype=F32, random_state=8, against=P)
    P64, Q64 = P.astype(np.float64), Q.astype(np.float64)
    assert np.max(np.abs(P64.T @ Q64)) < 1e-5
    np.testing.assert_allclose(Q64.T @ Q64, np.eye(n - j), atol=1e-5)


@pytest.mark.parametrize("with_against", [False, True])
@pytest.mark.parametrize("np_dtype, xs_dtype", [(np.float32, xs.float32), (np.float64, xs.float64)])
def test_sketches_array_api_strict_match_numpy(with_against, np_dtype, xs_dtype):
    n, k = 12, 3
    P = _orthonormal_basis(n, 4, 0, np_dtype) if with_against else None
    Q = orthonormal_sketch(n, k, xp=xs, dtype=xs_dtype, random_state=5,
                           against=None if P is None else xs.asarray(P))
    ref = orthonormal_sketch(n, k, xp=NP, dtype=np.dtype(np_dtype), random_state=5, against=P)
    assert isinstance(Q, STRICT_ARRAY)
    assert Q.dtype == xs_dtype
    np.testing.assert_allclose(np.asarray(Q), ref, atol=TOL[np.dtype(np_dtype)])
    Qn = np.asarray(Q).astype(np.float64)
    np.testing.assert_allclose(Qn.T @ Qn, np.eye(k), atol=10 * TOL[np.dtype(np_dtype)])
    for sketch in (gaussian_sketch, sign_sketch):
        S = sketch(n, k, xp=xs, dtype=xs_dtype, random_state=6)
        assert isinstance(S, STRICT_ARRAY)
        assert S.dtype == xs_dtype
        np.testing.assert_array_equal(np.asarray(S), sketch(n, k, xp=NP, dtype=np.dtype(np_dtype),
                                                            random_state=6))


# --------------------------------------------------------------------------------------------
# CuPy
# --------------------------------------------------------------------------------------------


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [F32, F64])
def test_sketches_cupy(cupy, dtype):
    xp = _backend.array_namespace(cupy.ones(1))
    n, k = 500, 6
    G = gaussian_sketch(n, k, xp=xp, dtype=dtype, random_state=3)
    assert isinstance(G, cupy.ndarray)
    assert G.dtype == dtype
    cupy.testing.assert_array_equal(G, gaussian_sketch(n, k, xp=xp, dtype=dtype,
                                                       random_state=np.random.default_rng(3)))
    S = sign_sketch(n, k, xp=xp, dtype=dtype, random_state=3)
    assert S.dtype == dtype
    assert bool(cupy.all(cupy.abs(S) == 1))
    tol = TOL[dtype]
    P = cupy.asarray(_orthonormal_basis(n, 4, 1, dtype))
    Q = orthonormal_sketch(n, k, xp=xp, dtype=dtype, random_state=4, against=P)
    assert isinstance(Q, cupy.ndarray)
    assert Q.dtype == dtype
    Qh, Ph = cupy.asnumpy(Q).astype(np.float64), cupy.asnumpy(P).astype(np.float64)
    np.testing.assert_allclose(Qh.T @ Qh, np.eye(k), atol=10 * tol)
    np.testing.assert_allclose(Ph.T @ Qh, 0.0, atol=10 * tol)
    Gh = cupy.asnumpy(gaussian_sketch(n, k, xp=xp, dtype=dtype, random_state=4)).astype(np.float64)
    _same_column_space(Qh, Gh - Ph @ (Ph.T @ Gh), 1e3 * tol)
