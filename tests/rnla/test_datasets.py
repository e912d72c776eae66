"""Synthetic problems: exact spectra, shapes, reproducibility."""

import numpy as np
import pytest

from rnla.datasets import make_decaying_regression, make_random_features_regression


@pytest.mark.parametrize("decay", [0.5, 1.0, 2.0])
def test_decaying_regression_has_the_stated_gram_spectrum(decay):
    X, y, lam = make_decaying_regression(300, 40, decay=decay, random_state=3)
    np.testing.assert_allclose(np.linalg.eigvalsh(X.T @ X / 300)[::-1], lam, rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(lam, np.arange(1, 41.0) ** (-2 * decay))
    assert y.shape == (300,)


def test_decaying_regression_reproducible_and_validated():
    a = make_decaying_regression(100, 10, random_state=1)
    b = make_decaying_regression(100, 10, random_state=1)
    np.testing.assert_array_equal(a[0], b[0])
    with pytest.raises(ValueError, match="n_samples"):
        make_decaying_regression(5, 10)


def test_random_features_are_bounded_cosines_and_reproducible():
    X, y = make_random_features_regression(200, 50, random_state=0)
    assert X.shape == (200, 50) and y.shape == (200,)
    assert np.all(np.abs(X) <= np.sqrt(2 / 50) + 1e-15)
    X2, _ = make_random_features_regression(200, 50, random_state=0)
    np.testing.assert_array_equal(X, X2)
