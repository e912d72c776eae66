"""optim: optimizers built on :mod:`rnla`.

Finite-sum GLM objectives and objectives given by callables (:mod:`optim.problems`), the
subsampled-Hessian Nyström preconditioner (:mod:`optim.preconditioners`) and the PROMISE
family of preconditioned stochastic solvers (:mod:`optim.sketchy`).
"""

from .preconditioners import SketchyPreconditioner, hessian_preconditioner, preconditioned_smoothness
from .problems import LeastSquares, Logistic, Multinomial, Objective
from .sketchy import sketchy_katyusha, sketchy_saga, sketchy_sgd, sketchy_svrg

__all__ = [
    "LeastSquares",
    "Logistic",
    "Multinomial",
    "Objective",
    "SketchyPreconditioner",
    "hessian_preconditioner",
    "preconditioned_smoothness",
    "sketchy_katyusha",
    "sketchy_saga",
    "sketchy_sgd",
    "sketchy_svrg",
]
