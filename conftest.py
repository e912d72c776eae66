"""Loaded by pytest before anything imports SciPy: scikit-learn's array-API dispatch (used by the
estimator checks with array_api_strict, and by CuPy runs) needs SciPy's own array-API support,
which SciPy reads from ``SCIPY_ARRAY_API`` once, at import."""

import os

os.environ.setdefault("SCIPY_ARRAY_API", "1")
