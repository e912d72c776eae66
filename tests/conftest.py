"""Shared fixtures: seeded generators, backends and the hypothesis profile."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, deadline=None, max_examples=40,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _cupy_or_none():
    try:
        import cupy

        cupy.cuda.runtime.getDeviceCount()
        return cupy
    except Exception:
        return None


@pytest.fixture
def cupy():
    """The CuPy module, or skip the test when CuPy or a GPU is missing."""
    cp = _cupy_or_none()
    if cp is None:
        pytest.skip("CuPy with a CUDA GPU is not available")
    return cp


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(autouse=True, scope="session")
def _serial_blas():
    """One BLAS thread for the whole suite: the test matrices are small, and NumPy and SciPy each
    bundle an OpenBLAS whose thread pools, oversubscribing two cores, slow small factorizations
    several-fold. Benchmarks, not tests, measure threaded speed."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
