"""Tests of stochastic Lanczos quadrature: ``rnla.slq``, ``rnla.SLQResult``, ``rnla.spectral_density``
and ``rnla.plot_spectral_density``.

Traces of matrix functions are checked against dense NumPy (``numpy.linalg.slogdet`` and
``eigh``) on matrices ``A = Q diag(λ) Qᵀ`` with known spectra, and the quadrature itself
against its defining exactness: a ``m``-point Gauss rule integrates polynomials of degree
``2m − 1`` exactly, so ``slq(A, t**k)`` equals the Hutchinson estimate of ``tr(A^k)`` on
the same seeded sign probes. Spectral densities are compared with the exact eigenvalue
distribution through the Wasserstein-1 distance between cumulative distribution functions,
and on diagonal matrices (where sign probes see the exact spectral measure) with the closed
form. Also covered: every accepted input form, argument validation, plotting to PNG,
``hypothesis`` properties and (marked ``gpu``, skipped without one) CuPy.
"""

import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from helpers import CountingLinearOperator, input_forms, psd_matrix
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import cumulative_trapezoid, trapezoid
from scipy.stats import wasserstein_distance

from rnla import SLQResult, plot_spectral_density, slq, spectral_density, trace

# ----------------------------------------------------------------------------- helpers


def decaying(n, power=2.0):
    return 1.0 / np.arange(1, n + 1, dtype=np.float64) ** power


def mass(grid, density):
    return float(trapezoid(density, grid))


def cdf_w1(grid, density, eigvals):
    """``∫|F_est − F_exact| dt`` over the grid, ``F_est`` the cumulative integral of the density."""
    F_est = cumulative_trapezoid(density, grid, initial=0.0)
    F_exact = np.searchsorted(np.sort(eigvals), grid, side="right") / eigvals.size
    return float(trapezoid(np.abs(F_est - F_exact), grid))


def gaussian(t, center, width):
    return np.exp(-0.5 * ((t - center) / width) ** 2) / (width * math.sqrt(2 * math.pi))


@pytest.fixture(scope="module")
def spd400():
    """``n = 400``, eigenvalues geometrically spaced over ``[1, 1e3]`` (condition number 1e3)."""
    lam = np.geomspace(1.0, 1e3, 400)
    return psd_matrix(lam, seed=5), lam


@pytest.fixture(scope="module")
def known_spectra():
    """``n = 1000`` matrices with known spectra: uniform on [0, 1] plus a cluster at 2; λ_i = i^-2."""
    r = np.random.default_rng(7)
    mixed = np.r_[np.linspace(0.0, 1.0, 800), 2.0 + 0.01 * r.standard_normal(200)]
    poly = decaying(1000)
    return {"mixed": (psd_matrix(mixed, seed=8), mixed), "poly": (psd_matrix(poly, seed=9), poly)}


@pytest.fixture
def plt():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


# ------------------------------------------------------------------ slq accuracy


def test_slq_logdet_against_slogdet(spd400):
    # log-determinant of an SPD matrix (n = 400, condition number 1e3): within 1% of
    # numpy.linalg.slogdet for each seed, and within 4 reported standard errors.
    A, _ = spd400
    sign, logdet = np.linalg.slogdet(A)
    assert sign == 1
    for seed in range(3):
        est, res = slq(A, np.log, num_probes=100, num_steps=40, random_state=seed, full_output=True)
        assert abs(est - logdet) <= 0.01 * abs(logdet), (seed, est, logdet)
        assert abs(est - logdet) <= 4 * res.error_estimate, (seed, est, logdet, res.error_estimate)


def test_slq_docstring_example():
    lam = np.linspace(1.0, 10.0, 300)
    est = slq(np.diag(lam), np.log, num_probes=40, num_steps=30, random_state=0)
    assert abs(est - np.sum(np.log(lam))) < 0.02 * np.sum(np.log(lam))


@pytest.mark.parametrize("seed", range(3))
def test_slq_identity_is_hutchinson_on_the_same_probes(seed):
    # Σ_k τ_k θ_k = e₁ᵀ T e₁ = qᵀAq for the unit probe q = z/√n: SLQ with f(t) = t is
    # exactly Hutchinson's estimate on the same Rademacher probes.
    A = psd_matrix(np.linspace(0.5, 3.0, 200), seed=6)
    for p in (1, 7):
        s = slq(A, lambda t: t, num_probes=p, num_steps=15, random_state=seed)
        h = trace(A, num_matvecs=p, method="hutchinson", random_state=seed)
        assert s == pytest.approx(h, rel=1e-12)


@pytest.mark.parametrize("num_steps", [2, 3, 5])
def test_slq_gauss_rule_exact_for_polynomials_up_to_degree_2m_minus_1(num_steps):
    # An m-node Gauss rule integrates t^k exactly for k <= 2m − 1: SLQ equals the
    # Hutchinson estimate of tr(A^k) on the same probes; for k = 2m it falls short
    # (the error of Gauss quadrature of t^{2m} on a positive spectrum is positive).
    A = psd_matrix(np.linspace(0.5, 3.0, 150), seed=7)
    p, seed = 6, 11
    for k in range(1, 2 * num_steps + 1):
        s = slq(A, lambda t, k=k: t**k, num_probes=p, num_steps=num_steps, random_state=seed)
        h = trace(np.linalg.matrix_power(A, k), num_matvecs=p, method="hutchinson", random_state=seed)
        if k <= 2 * num_steps - 1:
            assert s == pytest.approx(h, rel=1e-10), k
        else:
            assert s < h * (1 - 1e-6), (k, s, h)


@pytest.mark.parametrize(
    ("name", "f"),
    [("sqrt", np.sqrt), ("exp-scaled", lambda t: np.exp(t / 3.0)), ("log", np.log)],
)
def test_slq_many_probes_approach_trace_of_f(name, f):
    lam = np.linspace(0.5, 3.0, 400)
    A = psd_matrix(lam, seed=6)
    exact = float(np.sum(f(lam)))
    est, res = slq(A, f, num_probes=200, num_steps=30, random_state=0, full_output=True)
    assert abs(est - exact) <= 4 * res.error_estimate + 1e-6 * abs(exact)
    assert abs(est - exact) <= 5e-3 * abs(exact)


def test_slq_exact_on_diagonal_with_few_distinct_eigenvalues():
    # Sign probes see the exact spectral measure of a diagonal matrix (weights count/n),
    # and the Lanczos process breaks down after as many steps as there are distinct
    # eigenvalues: the quadrature is then exact for any f.
    values = np.array([0.5, 1.0, 2.0, 7.0])
    d = np.repeat(values, [30, 50, 15, 25])
    np.random.default_rng(1).shuffle(d)
    D = np.diag(d)
    for f in (np.log, np.sqrt, lambda t: np.exp(-t), lambda t: 1.0 / t):
        for seed in range(2):
            est, res = slq(D, f, num_probes=5, num_steps=20, random_state=seed, full_output=True)
            assert est == pytest.approx(float(np.sum(f(d))), rel=1e-10)
            assert res.nodes.shape == res.weights.shape == (5, 20)
            np.testing.assert_allclose(res.weights.sum(axis=1), 1.0, rtol=1e-12)
            assert np.all(res.weights >= 0)
            # every weighted node is one of the eigenvalues, carrying weight count/n in all
            heavy = res.weights > 1e-12
            nearest = np.abs(res.nodes[..., None] - values).argmin(axis=-1)
            np.testing.assert_allclose(res.nodes[heavy], values[nearest[heavy]], rtol=1e-10)
            for j, v in enumerate(values):
                np.testing.assert_allclose(np.sum(res.weights * (nearest == j), axis=1),
                                           np.sum(d == v) / d.size, rtol=1e-10)
            assert res.error_estimate == pytest.approx(0.0, abs=1e-10 * abs(est) + 1e-12)


@given(
    values=st.lists(st.floats(0.1, 100.0, allow_nan=False), min_size=1, max_size=5, unique=True),
    counts=st.lists(st.integers(1, 8), min_size=5, max_size=5),
    seed=st.integers(0, 2**16),
)
def test_property_slq_logdet_exact_on_small_diagonals(values, counts, seed):
    d = np.repeat(values, counts[: len(values)])
    est = slq(np.diag(d), np.log, num_probes=3, num_steps=len(values) + 2, random_state=seed)
    assert est == pytest.approx(float(np.sum(np.log(d))), rel=1e-9, abs=1e-9)


# ------------------------------------------------------------------ SLQResult


@pytest.mark.parametrize(("num_probes", "num_steps", "n"), [(4, 10, 50), (3, 80, 50), (1, 5, 20)])
def test_slq_full_output(num_probes, num_steps, n):
    A = psd_matrix(np.linspace(1.0, 4.0, n), seed=12)
    op = CountingLinearOperator(A)
    est, res = slq(op, np.log, num_probes=num_probes, num_steps=num_steps, random_state=3, full_output=True)
    m = min(num_steps, n)
    assert isinstance(res, SLQResult)
    assert isinstance(est, float) and est == res.estimate
    assert est == slq(A, np.log, num_probes=num_probes, num_steps=num_steps, random_state=3)
    assert isinstance(res.nodes, np.ndarray) and isinstance(res.weights, np.ndarray)
    assert res.nodes.shape == res.weights.shape == (num_probes, m)
    np.testing.assert_allclose(res.weights.sum(axis=1), 1.0, rtol=1e-10)
    assert np.all(res.weights >= 0)
    assert res.num_matvecs == num_probes * m == op.count
    # Ritz values lie in the spectrum (up to rounding)
    active = res.weights > 0
    assert np.all(res.nodes[active] >= 1.0 - 1e-8) and np.all(res.nodes[active] <= 4.0 + 1e-8)
    # the estimate is the quadrature it reports
    assert est == pytest.approx(n * np.mean(np.sum(res.weights * np.log(np.where(active, res.nodes, 1.0)),
                                                   axis=1)), rel=1e-12)
    if num_probes == 1:
        assert res.error_estimate == math.inf
    else:
        assert 0 < res.error_estimate < math.inf


def test_slq_error_estimate_consistent_with_spread_over_seeds():
    A = psd_matrix(np.geomspace(0.1, 10.0, 200), seed=13)
    out = [slq(A, np.log, num_probes=10, num_steps=20, random_state=s, full_output=True) for s in range(60)]
    est = np.array([o[0] for o in out])
    err = np.array([o[1].error_estimate for o in out])
    assert np.all(err > 0)
    assert 1 / 1.5 <= err.mean() / est.std(ddof=1) <= 1.5


# -------------------------------------------------------------- slq input forms


@pytest.mark.parametrize("make", input_forms())
def test_slq_input_forms_agree_with_dense(make):
    A = psd_matrix(np.linspace(1.0, 5.0, 60), seed=14)
    ref = slq(A, np.log, num_probes=4, num_steps=12, random_state=2)
    assert slq(make(A), np.log, num_probes=4, num_steps=12, random_state=2) == pytest.approx(ref, rel=1e-10)


def test_slq_float32_and_callable_like():
    lam = np.linspace(1.0, 5.0, 100)
    A = psd_matrix(lam, seed=15)
    exact = float(np.sum(np.log(lam)))
    ref = slq(A, np.log, num_probes=20, num_steps=15, random_state=4)
    e32 = slq(A.astype(np.float32), np.log, num_probes=20, num_steps=15, random_state=4)
    assert isinstance(e32, float)
    assert e32 == pytest.approx(ref, rel=1e-4)
    seen = []

    def matmat(V):
        seen.append(V.dtype)
        return A.astype(np.float32) @ V

    op = (A.shape, lambda v: matmat(v[:, None])[:, 0], matmat)
    e_like = slq(op, np.log, num_probes=20, num_steps=15, random_state=4, like=np.ones(1, dtype=np.float32))
    assert seen and all(dt == np.float32 for dt in seen)
    assert e_like == pytest.approx(e32, rel=1e-5)
    assert abs(ref - exact) <= 0.02 * exact


def test_slq_array_api_strict():
    xs = pytest.importorskip("array_api_strict")
    A = psd_matrix(np.linspace(1.0, 5.0, 60), seed=16)
    ref, rref = slq(A, np.sqrt, num_probes=5, num_steps=10, random_state=5, full_output=True)
    est, res = slq(xs.asarray(A), np.sqrt, num_probes=5, num_steps=10, random_state=5, full_output=True)
    assert isinstance(est, float)
    assert est == pytest.approx(ref, rel=1e-12)
    assert isinstance(res.nodes, np.ndarray)
    np.testing.assert_allclose(res.nodes, rref.nodes, rtol=1e-12)
    np.testing.assert_allclose(res.weights, rref.weights, rtol=1e-10, atol=1e-15)


def test_slq_reproducible_by_seed():
    A = psd_matrix(np.linspace(1.0, 5.0, 80), seed=17)
    a = slq(A, np.log, num_probes=4, num_steps=10, random_state=8)
    assert a == slq(A, np.log, num_probes=4, num_steps=10, random_state=8)
    assert a == slq(A, np.log, num_probes=4, num_steps=10, random_state=np.random.default_rng(8))
    assert a != slq(A, np.log, num_probes=4, num_steps=10, random_state=9)
    gen = np.random.default_rng(8)
    assert slq(A, np.log, num_probes=4, num_steps=10, random_state=gen) != slq(
        A, np.log, num_probes=4, num_steps=10, random_state=gen)


# -------------------------------------------------------------------- slq errors


@pytest.mark.parametrize("lam", [np.linspace(-1.0, 2.0, 50), np.r_[np.zeros(25), np.ones(25)]],
                         ids=["indefinite", "singular"])
def test_slq_log_outside_domain_raises(lam):
    # log of an indefinite matrix is NaN at negative Ritz values (of a singular one, −inf
    # at the zero eigenvalue, which the Lanczos process finds exactly on a diagonal).
    A = np.diag(lam) if lam.min() == 0 else psd_matrix(lam, seed=18)
    with pytest.raises(ValueError, match="f is NaN or infinite"):
        slq(A, np.log, num_probes=4, num_steps=20, random_state=0)


@pytest.mark.parametrize("f", [lambda t: float(np.sum(t)), lambda t: t[:1], lambda t: np.stack([t, t]),
                               lambda t: t.reshape(1, -1)],
                         ids=["scalar", "shorter", "stacked", "reshaped"])
def test_slq_f_changing_shape_raises(f):
    with pytest.raises(ValueError, match="same shape"):
        slq(np.diag(np.linspace(1.0, 2.0, 20)), f, num_probes=2, num_steps=5, random_state=0)


@pytest.mark.parametrize("f", [None, 1.0, "log", np.ones(3)])
def test_slq_non_callable_f_raises(f):
    with pytest.raises(TypeError, match="callable"):
        slq(np.eye(5), f)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"num_probes": 0}, ValueError, "num_probes"),
        ({"num_probes": -2}, ValueError, "num_probes"),
        ({"num_probes": 2.0}, TypeError, "num_probes"),
        ({"num_steps": 0}, ValueError, "num_steps"),
        ({"num_steps": 1.5}, TypeError, "num_steps"),
        ({"random_state": "0"}, TypeError, "random_state"),
    ],
)
def test_slq_invalid_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        slq(np.eye(5), np.log, **kwargs)


def test_slq_invalid_operators():
    B = np.random.default_rng(19).standard_normal((20, 20))
    with pytest.raises(ValueError, match="symmetric"):
        slq(B, np.exp)
    with pytest.raises(ValueError, match="square"):
        slq(np.ones((4, 5)), np.exp)
    A = np.eye(5)
    A[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        slq(A, np.exp)


# ---------------------------------------------------------- spectral density: accuracy


@pytest.mark.parametrize("name", ["mixed", "poly"])
@pytest.mark.parametrize("seed", [0, 1])
def test_density_cdf_wasserstein_to_exact_spectrum(known_spectra, name, seed):
    # W1 = ∫|F_est − F_exact| dt, F_est the cumulative integral of the density: smoothing
    # alone costs about 0.8·sigma·range (0.8% here), sampling and quadrature a little more.
    A, lam = known_spectra[name]
    span = lam.max() - lam.min()
    grid, density, res = spectral_density(A, random_state=seed, full_output=True)
    assert cdf_w1(grid, density, lam) <= 0.02 * span
    # the discrete quadrature measure (nodes, weights / num_probes) is closer still
    w = res.weights.ravel() / res.weights.shape[0]
    assert wasserstein_distance(res.nodes.ravel(), lam, u_weights=w) <= 0.015 * span
    # a narrower kernel tracks the spectrum more closely on the spread-out spectrum
    if name == "mixed":
        g2, d2 = spectral_density(A, random_state=seed, sigma=0.002)
        assert cdf_w1(g2, d2, lam) <= 0.012 * span


@pytest.mark.parametrize(
    ("values", "counts"), [((0.0, 1.0), (100, 100)), ((-2.0, 0.5, 3.0), (40, 100, 60))]
)
@pytest.mark.parametrize("sigma", [0.01, 0.05])
def test_density_closed_form_on_diagonal(values, counts, sigma):
    # On a diagonal matrix sign probes give weight count/n to each distinct eigenvalue and
    # the Lanczos process finds them exactly: φ is a mixture of Gaussians of standard
    # deviation sigma·(λ_max − λ_min) with those weights, on every grid point.
    d = np.repeat(values, counts).astype(float)
    np.random.default_rng(2).shuffle(d)
    grid, density = spectral_density(np.diag(d), num_probes=3, num_steps=10, sigma=sigma, random_state=0)
    width = sigma * (max(values) - min(values))
    expected = sum(c / d.size * gaussian(grid, v, width) for v, c in zip(values, counts, strict=True))
    np.testing.assert_allclose(density, expected, rtol=1e-9, atol=1e-12 * expected.max())
    assert grid[0] == pytest.approx(min(values) - 4 * width, rel=1e-10, abs=1e-10)
    assert grid[-1] == pytest.approx(max(values) + 4 * width, rel=1e-10, abs=1e-10)
    assert grid.size == 1000


def test_density_docstring_example():
    lam = np.r_[np.zeros(100), np.ones(100)]
    t, phi = spectral_density(np.diag(lam), num_probes=10, num_steps=20, random_state=0)
    assert round(mass(t, phi), 3) == 1.0
    peak = t[np.argmax(phi)]
    assert abs(peak) < 0.02 or abs(peak - 1) < 0.02


# ---------------------------------------------------------- spectral density: properties


@pytest.mark.parametrize("sigma", [0.005, 0.01, 0.1])
@pytest.mark.parametrize("num_points", [200, 1000])
def test_density_mass_one_and_nonnegative(known_spectra, sigma, num_points):
    A, _ = known_spectra["mixed"]
    grid, density = spectral_density(A, num_probes=5, num_steps=40, sigma=sigma, num_points=num_points,
                                     random_state=3)
    assert grid.shape == density.shape == (num_points,)
    assert np.all(np.diff(grid) > 0)
    assert np.all(density >= 0)
    assert abs(mass(grid, density) - 1.0) <= 1e-3


@given(
    entries=st.lists(st.floats(-10.0, 10.0, allow_nan=False, allow_subnormal=False), min_size=1,
                     max_size=144),
    num_steps=st.integers(1, 15),
    seed=st.integers(0, 2**16),
)
def test_property_density_mass_one_for_small_symmetric_matrices(entries, num_steps, seed):
    k = math.isqrt(len(entries))
    B = np.asarray(entries[: k * k]).reshape(k, k)
    A = (B + B.T) / 2
    grid, density = spectral_density(A, num_probes=3, num_steps=num_steps, random_state=seed)
    assert np.all(np.isfinite(density)) and np.all(density >= 0)
    assert abs(mass(grid, density) - 1.0) <= 1e-3


def test_density_custom_grid_respected():
    A = psd_matrix(np.linspace(0.0, 1.0, 200), seed=20)
    g0, d0 = spectral_density(A, num_probes=4, num_steps=20, random_state=1)
    sub = g0[::7]
    g1, d1 = spectral_density(A, num_probes=4, num_steps=20, random_state=1, grid=sub)
    assert g1.dtype == np.float64
    np.testing.assert_array_equal(g1, sub)
    np.testing.assert_allclose(d1, d0[::7], rtol=1e-12, atol=1e-300)
    # any 1-D array-like (ints, a list, unsorted, a single point) works
    pts = [2, -1, 0]
    g2, d2 = spectral_density(A, num_probes=4, num_steps=20, random_state=1, grid=pts)
    np.testing.assert_array_equal(g2, [2.0, -1.0, 0.0])
    assert d2.shape == (3,) and d2[0] < 1e-10 and d2[1] < 1e-10 and d2[2] > 0
    g3, d3 = spectral_density(A, num_probes=4, num_steps=20, random_state=1, grid=np.array([0.5]))
    assert g3.shape == d3.shape == (1,)


@pytest.mark.parametrize(("c", "rtol"), [(4.0, 1e-12), (1 / 1024, 1e-12), (3.0, 1e-6), (1e-3, 1e-6)])
def test_density_sigma_relative_to_range(c, rtol):
    # Scaling A by c > 0 scales the Ritz values, hence the default grid and the Gaussian
    # width, by c: grid(cA) = c·grid(A), φ_cA(c t) = φ_A(t) / c.
    A = psd_matrix(np.r_[np.linspace(0.0, 1.0, 150), np.full(50, 3.0)], seed=21)
    g, d = spectral_density(A, num_probes=4, num_steps=25, random_state=2)
    gc, dc = spectral_density(c * A, num_probes=4, num_steps=25, random_state=2)
    np.testing.assert_allclose(gc, c * g, rtol=rtol, atol=rtol * c * np.abs(g).max())
    np.testing.assert_allclose(dc, d / c, rtol=rtol, atol=rtol * d.max() / c)
    # ... also on an explicit grid
    gc2, dc2 = spectral_density(c * A, num_probes=4, num_steps=25, random_state=2, grid=c * g[::10])
    np.testing.assert_array_equal(gc2, c * g[::10])
    np.testing.assert_allclose(dc2, d[::10] / c, rtol=rtol, atol=rtol * d.max() / c)


def test_density_full_output():
    A = psd_matrix(np.linspace(0.0, 2.0, 90), seed=22)
    op = CountingLinearOperator(A)
    grid, density, res = spectral_density(op, num_probes=6, num_steps=30, random_state=3, full_output=True)
    assert isinstance(res, SLQResult)
    assert res.estimate == 90.0
    assert res.nodes.shape == res.weights.shape == (6, 30)
    np.testing.assert_allclose(res.weights.sum(axis=1), 1.0, rtol=1e-10)
    assert res.num_matvecs == 6 * 30 == op.count
    g2, d2 = spectral_density(A, num_probes=6, num_steps=30, random_state=3)
    np.testing.assert_array_equal(grid, g2)
    np.testing.assert_allclose(density, d2, rtol=1e-12)
    # the density is the weighted Gaussian mixture over the reported nodes
    width = 0.01 * (res.nodes.max() - res.nodes.min())
    expected = gaussian(grid[:, None], res.nodes.ravel()[None, :], width) @ (res.weights.ravel() / 6)
    np.testing.assert_allclose(density, expected, rtol=1e-10, atol=1e-14 * expected.max())


def test_density_reproducible_by_seed():
    A = psd_matrix(np.linspace(0.0, 1.0, 100), seed=23)
    g1, d1 = spectral_density(A, num_probes=3, num_steps=15, random_state=5)
    g2, d2 = spectral_density(A, num_probes=3, num_steps=15, random_state=5)
    np.testing.assert_array_equal(g1, g2)
    np.testing.assert_array_equal(d1, d2)
    g3, d3 = spectral_density(A, num_probes=3, num_steps=15, random_state=np.random.default_rng(5))
    np.testing.assert_array_equal(g1, g3)
    np.testing.assert_array_equal(d1, d3)
    _, d4 = spectral_density(A, num_probes=3, num_steps=15, random_state=6, grid=g1)
    assert not np.allclose(d1, d4)


@pytest.mark.parametrize(
    ("make", "float64"),
    [
        pytest.param(lambda A: A.astype(np.float32), False, id="float32"),
        pytest.param(sp.csr_matrix, True, id="csr_matrix"),
        pytest.param(sp.csr_array, True, id="csr_array"),
        pytest.param(lambda A: (A.shape, lambda v: A @ v, lambda V: A @ V), True, id="tuple"),
        pytest.param("strict", True, id="array_api_strict"),
        pytest.param("strict", False, id="array_api_strict-float32"),
    ],
)
def test_density_input_forms(known_spectra, make, float64):
    A, lam = known_spectra["mixed"]
    if make == "strict":
        xs = pytest.importorskip("array_api_strict")
        X = xs.asarray(A if float64 else A.astype(np.float32))
    else:
        X = make(A)
    grid, density = spectral_density(X, num_probes=6, num_steps=40, random_state=4)
    assert isinstance(grid, np.ndarray) and isinstance(density, np.ndarray)
    assert grid.dtype == density.dtype == np.float64
    assert abs(mass(grid, density) - 1.0) <= 1e-3
    assert cdf_w1(grid, density, lam) <= 0.03 * (lam.max() - lam.min())
    if float64:  # the same computation as on the dense float64 array
        ref_g, ref_d = spectral_density(A, num_probes=6, num_steps=40, random_state=4)
        np.testing.assert_allclose(grid, ref_g, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(density, ref_d, rtol=1e-7, atol=1e-9 * ref_d.max())


# ---------------------------------------------------------- spectral density: errors


@pytest.mark.parametrize(
    ("sigma", "exc"),
    [(0, ValueError), (0.0, ValueError), (-0.01, ValueError), (np.nan, ValueError), (np.inf, ValueError),
     (True, TypeError), (False, TypeError), ("0.01", TypeError), (None, TypeError), ([0.01], TypeError),
     (0.01 + 0j, TypeError)],
)
def test_density_invalid_sigma(sigma, exc):
    # The validation policy: a wrong kind is a TypeError, a wrong value a ValueError.
    with pytest.raises(exc, match=r"^sigma"):
        spectral_density(np.eye(5), sigma=sigma)


def test_density_accepts_numpy_scalar_sigma():
    # Regression: NumPy scalars other than float64 used to be rejected as "not a number > 0".
    A = np.diag(np.linspace(1.0, 2.0, 50))
    _, d_ref = spectral_density(A, sigma=0.05, random_state=0)
    for sigma in (np.float32(0.05), np.float64(0.05)):
        _, d = spectral_density(A, sigma=sigma, random_state=0)
        np.testing.assert_allclose(d, d_ref, rtol=1e-6)


@pytest.mark.parametrize(
    "grid",
    [np.zeros((3, 2)), np.array([0.0, np.nan]), np.array([np.inf, 1.0]), np.array([]), [[0.0, 1.0]]],
    ids=["2-D", "nan", "inf", "empty", "nested-list"],
)
def test_density_invalid_grid(grid):
    with pytest.raises(ValueError, match="grid"):
        spectral_density(np.eye(5), grid=grid)


@pytest.mark.parametrize(("num_points", "exc"), [(0, ValueError), (-5, ValueError), (10.0, TypeError)])
def test_density_invalid_num_points(num_points, exc):
    with pytest.raises(exc, match="num_points"):
        spectral_density(np.eye(5), num_points=num_points)


def test_density_invalid_operator():
    with pytest.raises(ValueError, match="symmetric"):
        spectral_density(np.triu(np.ones((6, 6))))
    with pytest.raises(ValueError, match="num_probes"):
        spectral_density(np.eye(5), num_probes=0)


# ------------------------------------------------------------------------ plotting


def _is_png(path):
    data = path.read_bytes()
    return len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("xscale", ["linear", "log", "symlog"])
@pytest.mark.parametrize("overlay", [False, True])
def test_plot_writes_png(plt, tmp_path, xscale, overlay):
    from matplotlib.axes import Axes

    lam = decaying(300)
    A = psd_matrix(lam, seed=24)
    grid, density = spectral_density(A, num_probes=4, num_steps=30, random_state=0)
    path = tmp_path / f"density_{xscale}_{overlay}.png"
    ax = plot_spectral_density(grid, density, path, eigenvalues=lam if overlay else None, xscale=xscale,
                               yscale="log", title="test")
    assert isinstance(ax, Axes)
    assert _is_png(path)
    assert ax.get_xscale() == xscale and ax.get_yscale() == "log"
    assert ax.get_title() == "test"
    assert len(ax.lines) == 1
    assert (len(ax.patches) > 0) == overlay  # histogram bars of the exact eigenvalues
    x, y = ax.lines[0].get_data()
    if xscale == "log":
        assert np.all(x > 0)
    assert np.all(y > 0)  # clipped at floor·max on the log axis


def test_plot_linear_yscale_and_indefinite_symlog(plt, tmp_path):
    lam = np.linspace(-3.0, 5.0, 200)
    A = psd_matrix(lam, seed=25)
    grid, density = spectral_density(A, num_probes=4, num_steps=30, random_state=0)
    path = tmp_path / "lin.png"
    ax = plot_spectral_density(grid, density, str(path), eigenvalues=lam, xscale="symlog", yscale="linear")
    assert _is_png(path)
    assert ax.get_yscale() == "linear"
    np.testing.assert_allclose(ax.lines[0].get_ydata(), density)


def test_plot_into_given_axes(plt, tmp_path):
    grid, density = spectral_density(np.diag(np.linspace(0.0, 1.0, 50)), num_probes=4, num_steps=10,
                                     random_state=0)
    _, (ax1, ax2) = plt.subplots(1, 2)
    out = plot_spectral_density(grid, density, ax=ax2, label="mine")
    assert out is ax2
    assert len(ax1.lines) == 0 and len(ax2.lines) == 1
    assert ax2.get_legend_handles_labels()[1] == ["mine"]
    path = tmp_path / "given.png"
    plot_spectral_density(grid, density, path, ax=ax1)
    assert _is_png(path)


def test_plot_without_path_writes_nothing(plt, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    grid, density = spectral_density(np.diag(np.linspace(0.0, 1.0, 50)), num_probes=2, num_steps=5,
                                     random_state=0)
    ax = plot_spectral_density(grid, density)
    assert len(ax.lines) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"xscale": "logit"}, "xscale"), ({"xscale": "LOG"}, "xscale"), ({"yscale": "symlog"}, "yscale")],
)
def test_plot_invalid_scales(plt, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_spectral_density(np.linspace(0, 1, 5), np.ones(5), **kwargs)


def test_plot_scale_of_wrong_kind(plt):
    with pytest.raises(TypeError, match=r"^yscale"):
        plot_spectral_density(np.linspace(0, 1, 5), np.ones(5), yscale=None)


@pytest.mark.parametrize(
    ("grid", "density"),
    [(np.linspace(0, 1, 5), np.ones(4)), (np.ones((2, 3)), np.ones((2, 3))), (np.ones(3), np.ones((3, 1)))],
)
def test_plot_mismatched_shapes(plt, grid, density):
    with pytest.raises(ValueError, match="1-D of equal length"):
        plot_spectral_density(grid, density)


def test_plot_log_xscale_with_single_eigenvalue(plt, tmp_path):
    # Regression: geomspace(min, max) histogram edges collapsed when all positive eigenvalues
    # are equal, and NumPy divided by zero bin widths (RuntimeWarning, NaN histogram).
    grid, density = spectral_density(2.0 * np.eye(30), num_probes=3, num_steps=5, random_state=0)
    path = tmp_path / "identity.png"
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        plot_spectral_density(grid, density, path, eigenvalues=np.full(30, 2.0), xscale="log")
    assert _is_png(path)


# ---------------------------------------------------------------------------- CuPy


@pytest.mark.gpu
def test_cupy_slq_agrees_with_numpy(cupy, spd400):
    A, _ = spd400
    logdet = np.linalg.slogdet(A)[1]
    Ad = cupy.asarray(A)
    e_np, r_np = slq(A, np.log, num_probes=60, num_steps=40, random_state=0, full_output=True)
    e_cp, r_cp = slq(Ad, np.log, num_probes=60, num_steps=40, random_state=0, full_output=True)
    assert isinstance(e_cp, float)
    assert isinstance(r_cp.nodes, np.ndarray) and r_cp.nodes.shape == (60, 40)
    np.testing.assert_allclose(r_cp.weights.sum(axis=1), 1.0, rtol=1e-10)
    assert r_cp.num_matvecs == r_np.num_matvecs
    # Device generators differ from the host's: agreement within the statistical error.
    assert abs(e_cp - logdet) <= 4 * r_cp.error_estimate + 1e-3 * abs(logdet)
    assert abs(e_cp - e_np) <= 5 * math.hypot(r_np.error_estimate, r_cp.error_estimate)
    assert slq(Ad, np.log, num_probes=60, num_steps=40, random_state=0) == pytest.approx(e_cp, rel=1e-12)
    op = (A.shape, lambda v: Ad @ v, lambda V: Ad @ V)
    e_like = slq(op, np.log, num_probes=60, num_steps=40, random_state=0, like=cupy.ones(1))
    assert e_like == pytest.approx(e_cp, rel=1e-10)


@pytest.mark.gpu
def test_cupy_spectral_density(cupy, known_spectra):
    A, lam = known_spectra["mixed"]
    grid, density = spectral_density(cupy.asarray(A), random_state=0)
    assert isinstance(grid, np.ndarray) and isinstance(density, np.ndarray)
    assert abs(mass(grid, density) - 1.0) <= 1e-3
    assert cdf_w1(grid, density, lam) <= 0.02 * (lam.max() - lam.min())


# ------------------------------------------------- issue 13: NaN, scale, validation


def _nan_operator(bad, n=20):
    A = np.diag(np.linspace(1.0, 2.0, n))
    calls = []

    def matmat(V):
        calls.append(1)
        out = A @ V
        if len(calls) == 2:
            out[3, ...] = bad
        return out

    return ((n, n), matmat, matmat)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_slq_operator_producing_nan_is_named(bad):
    # Regression: reported as numpy's "Eigenvalues did not converge" (or a NaN estimate).
    with pytest.raises(ValueError, match=r"^A produced NaN or infinity"):
        slq(_nan_operator(bad), np.log, num_probes=3, num_steps=6, random_state=0)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_density_operator_producing_nan_is_named(bad):
    with pytest.raises(ValueError, match=r"^A produced NaN or infinity"):
        spectral_density(_nan_operator(bad), num_probes=3, num_steps=6, random_state=0)


@settings(max_examples=15, deadline=None)
@given(exponent=st.integers(-280, 280))
def test_slq_and_density_scale_invariant(exponent):
    # Regression: the Lanczos norms overflowed above ~1e154 and underflowed below ~1e-154.
    lam = np.linspace(1.0, 3.0, 40)
    A = psd_matrix(lam, seed=80)
    s = 10.0**exponent
    As = (A.shape, lambda v: (A * s) @ v, lambda V: (A * s) @ V)
    ref = slq(A, np.log, num_probes=4, num_steps=10, random_state=1)
    est = slq(As, lambda t: np.log(t / s), num_probes=4, num_steps=10, random_state=1)
    np.testing.assert_allclose(est, ref, rtol=1e-9)
    t, phi = spectral_density(A, num_probes=4, num_steps=10, num_points=50, random_state=1)
    ts, phis = spectral_density(As, num_probes=4, num_steps=10, num_points=50, random_state=1)
    np.testing.assert_allclose(ts / s, t, rtol=1e-9)
    np.testing.assert_allclose(phis * s, phi, rtol=1e-7, atol=1e-9 * phi.max())


def test_density_of_a_multiple_of_the_identity_scales():
    # A single eigenvalue: the width is relative to it, so 1e-3·I is 1·I rescaled.
    t1, phi1 = spectral_density(np.eye(10), num_probes=2, num_steps=3, num_points=21, random_state=0)
    t2, phi2 = spectral_density(1e-3 * np.eye(10), num_probes=2, num_steps=3, num_points=21, random_state=0)
    np.testing.assert_allclose(t2, 1e-3 * t1, rtol=1e-12)
    np.testing.assert_allclose(phi2, 1e3 * phi1, rtol=1e-9)


@pytest.mark.parametrize(
    ("func", "kwargs", "exc", "match"),
    [
        (slq, {"full_output": "yes"}, TypeError, r"^full_output"),
        (spectral_density, {"full_output": 1}, TypeError, r"^full_output"),
        (spectral_density, {"grid": "0:1"}, TypeError, r"^grid"),
        (spectral_density, {"grid": np.array([0.0, 1j])}, ValueError, r"^grid"),
        (spectral_density, {"num_steps": 0}, ValueError, r"^num_steps"),
    ],
)
def test_validation_policy(func, kwargs, exc, match):
    args = (np.log,) if func is slq else ()
    with pytest.raises(exc, match=match):
        func(np.eye(5), *args, **kwargs)


@pytest.mark.parametrize("func", [slq, spectral_density])
def test_complex_operator_is_a_value_error_naming_a(func):
    args = (np.log,) if func is slq else ()
    with pytest.raises(ValueError, match=r"^A.*complex"):
        func(np.eye(5) * (1 + 1j), *args)


@pytest.mark.parametrize("shape", [(0, 0), (5, 0), (0, 5)])
@pytest.mark.parametrize("func", ["slq", "spectral_density"])
def test_rejects_an_empty_matrix_naming_it(func, shape):
    # Was Operator's "shape must be a pair of positive integers", which does not name A.
    call = {"slq": lambda A: slq(A, np.log), "spectral_density": lambda A: spectral_density(A)}
    with pytest.raises(ValueError, match=r"^A must not be empty"):
        call[func](np.ones(shape))


@pytest.mark.parametrize("num_probes", [10**30, np.int64(2**62)])
@pytest.mark.parametrize("func", ["slq", "spectral_density"])
def test_rejects_an_impossible_number_of_probes(func, num_probes):
    # Was NumPy's "Maximum allowed dimension exceeded" from inside its random generator.
    call = {"slq": lambda p: slq(np.eye(8), np.log, num_probes=p),
            "spectral_density": lambda p: spectral_density(np.eye(8), num_probes=p)}
    with pytest.raises(ValueError, match=r"^num_probes=\d+ is too large: the 8 × num_probes probe block"):
        call[func](num_probes)


@pytest.mark.parametrize("num_points", [10**30, np.int64(2**62)])
def test_spectral_density_rejects_an_impossible_grid(num_points):
    # Was NumPy's "Maximum allowed size exceeded" / "array is too big" from inside linspace.
    with pytest.raises(ValueError, match=r"^num_points=\d+ is too large: the grid"):
        spectral_density(np.eye(8), num_probes=2, num_steps=3, num_points=num_points)
