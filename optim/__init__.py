"""optim: optimizers built on :mod:`rnla` (PROMISE family, NNCG, FOSI, estimators).

The solvers arrive with later issues; this package currently exports nothing.
"""

__all__: list[str] = []
