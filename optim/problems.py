"""Finite-sum objectives: ridge least squares, binary and multinomial logistic regression, callables.

Every objective here is an average over ``n`` samples plus an L2 penalty,

``f(w) = (1/n) Σ_i s_i ℓ(a_iᵀw; y_i) + (reg/2) ‖w_coef‖²``,

with ``a_i`` the i-th row of ``X`` (followed by a 1 when an unpenalised intercept is fitted)
and ``s_i`` sample weights rescaled to mean one. The stochastic solvers of
:mod:`optim.sketchy` see a problem only through :meth:`batch`, which returns an object with
the value, gradient, gradient difference and Hessian products of the average over a subset of
samples; :class:`LeastSquares` and :class:`Logistic` also expose the per-sample loss
derivatives that let SketchySAGA keep one scalar per sample.
"""

from .glm import GLMBatch, LeastSquares, Logistic
from .multinomial import Multinomial, MultinomialBatch
from .objective import CallableBatch, Objective

__all__ = ["CallableBatch", "GLMBatch", "LeastSquares", "Logistic", "Multinomial", "MultinomialBatch",
           "Objective"]
