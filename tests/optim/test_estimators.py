import warnings
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.exceptions import ConvergenceWarning
from optim import SketchyRidge, SketchyLogisticRegression, NystromKernelRidge

ests = [SketchyRidge(), SketchyLogisticRegression(), NystromKernelRidge(), NystromKernelRidge(kernel="precomputed")]
for s in ["sketchy_svrg", "sketchy_saga", "sketchy_katyusha"]:
    ests += [SketchyRidge(solver=s, tol=1e-10, max_iter=1000), SketchyLogisticRegression(solver=s, tol=1e-10, max_iter=1000)]

@parametrize_with_checks(ests)
def test_sk(estimator, check):
    check(estimator)
