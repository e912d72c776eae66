"""optim: optimizers built on :mod:`rnla`.

Finite-sum GLM objectives and objectives given by callables (:mod:`optim.problems`), the
subsampled-Hessian Nyström preconditioner (:mod:`optim.preconditioners`) and the PROMISE
family of preconditioned stochastic solvers (:mod:`optim.sketchy`), Nyström Newton-CG
(:mod:`optim.newton`), first-order optimizers as init/update pairs (:mod:`optim.first_order`)
with their driver :func:`run`, FOSI (:mod:`optim.fosi`) and curvature-aware step sizes
(:mod:`optim.curvature`), and scikit-learn estimators (:mod:`optim.estimators`).
"""

from .curvature import osgm, qlr
from .driver import run
from .estimators import NystromKernelRidge, SketchyLogisticRegression, SketchyRidge
from .first_order import GradientTransformation, adam, heavy_ball, sgd
from .fosi import fosi
from .newton import nncg
from .preconditioners import SketchyPreconditioner, hessian_preconditioner, preconditioned_smoothness
from .problems import LeastSquares, Logistic, Multinomial, Objective
from .sketchy import sketchy_katyusha, sketchy_saga, sketchy_sgd, sketchy_svrg

__all__ = [
    "GradientTransformation",
    "LeastSquares",
    "Logistic",
    "Multinomial",
    "NystromKernelRidge",
    "Objective",
    "SketchyLogisticRegression",
    "SketchyPreconditioner",
    "SketchyRidge",
    "adam",
    "fosi",
    "heavy_ball",
    "hessian_preconditioner",
    "nncg",
    "osgm",
    "preconditioned_smoothness",
    "qlr",
    "run",
    "sgd",
    "sketchy_katyusha",
    "sketchy_saga",
    "sketchy_sgd",
    "sketchy_svrg",
]
