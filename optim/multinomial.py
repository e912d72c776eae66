"""Multinomial (softmax) logistic regression, on the same batch interface as the binary GLMs."""

from __future__ import annotations

import numbers

import numpy as np

from rnla import _backend

from .glm import _GLM, GLMBatch, _check_same_library

__all__ = ["Multinomial", "MultinomialBatch"]


class MultinomialBatch(GLMBatch):
    """Batch view of :class:`Multinomial`: parameters are the flattened ``(d [+1], K)`` matrix.

    Examples
    --------
    >>> import numpy as np
    >>> prob = Multinomial(np.eye(3), np.array([0, 1, 2]), reg=0.0)
    >>> B = prob.batch(np.array([0, 1]))
    >>> B.margins(np.arange(9.0)).tolist()             # class scores of samples 0 and 1
    [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    """

    def _unflatten(self, w):
        p = self.problem
        return self._xp.reshape(w, (p.n_features + int(p.fit_intercept), p.n_classes))

    def margins(self, w):
        """``A_S W`` for the flat parameter vector ``w``: the ``(size, K)`` class scores."""
        return GLMBatch.margins(self, self._unflatten(w))

    def rmatvec(self, R):
        """``A_Sᵀ R`` for ``R`` of shape ``(size, K)``, flattened like the parameters."""
        return self._xp.reshape(GLMBatch.rmatvec(self, R), (-1,))

    def _margin_pair(self, w, w_ref):
        return self.margins(w), self.margins(w_ref)

    def hessian_operator(self, w, include_penalty=False):
        """The data Hessian at ``w``: per sample ``s_i a_i a_iᵀ ⊗ (diag(p_i) − p_i p_iᵀ)``, averaged."""
        xp, p = self._xp, self.problem
        P = p.softmax(self.margins(w))
        scale = (self.sw if self.sw is not None else xp.ones(self.size, dtype=p.dtype, device=p.device))
        scale = scale * (1.0 / self.size)
        rows, K = p.n_features + int(p.fit_intercept), p.n_classes

        def data_hessian(V):
            m = 1 if V.ndim == 1 else V.shape[1]
            Z = GLMBatch.margins(self, xp.reshape(V, (rows, K * m)))       # one block product
            Z = xp.reshape(Z, (self.size, K, m))
            PZ = P[:, :, None] * Z
            R = (PZ - P[:, :, None] * xp.sum(PZ, axis=1, keepdims=True)) * scale[:, None, None]
            return xp.reshape(GLMBatch.rmatvec(self, xp.reshape(R, (self.size, K * m))), V.shape)

        return self._operator(data_hessian, include_penalty)


class Multinomial(_GLM):
    """Multinomial (softmax) logistic regression over ``K`` classes.

    ``f(W) = (1/n) Σ s_i (logsumexp(a_iᵀW) − a_iᵀW_{:, y_i}) + (reg/2) ‖W_coef‖²_F`` with
    ``W`` of shape ``(d, K)`` (``(d + 1, K)`` with intercepts, the last row), passed to every
    method flattened in C order (``dim = (d [+1]) K``; ``W = w.reshape(-1, K)``). With unit sample
    weights, ``reg = 1/(C n)`` gives scikit-learn's multinomial ``LogisticRegression(C=C)``, whose
    ``coef_`` is ``Wᵀ``. SketchySAGA keeps ``K`` scalars per sample.

    Parameters
    ----------
    X : (n, d) array or sparse matrix
        Data (NumPy, CuPy, SciPy sparse or CuPy sparse).
    y : (n,) array
        Class labels: integers, integral floats, booleans or strings (``classes_`` holds them
        sorted). Complex, NaN or mixed-kind labels are a ``ValueError``.
    reg : float, default 0
        L2 penalty ``>= 0`` on the coefficients (never on the intercepts).
    fit_intercept : bool, default False
        Add an unpenalised intercept per class.
    sample_weight : (n,) array, optional
        Non-negative weights, rescaled internally to mean one.
    x_offset : (n_features,) array, optional
        Subtract ``x_offset`` from every row of ``X`` (centring), implicitly: ``X`` is never
        copied and sparse ``X`` stays sparse.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> prob = Multinomial(X, y, reg=1.0 / len(y), fit_intercept=True)
    >>> est = LogisticRegression(C=1.0, tol=1e-10, max_iter=1000).fit(X, y)
    >>> w = np.vstack([est.coef_.T, est.intercept_]).ravel()
    >>> bool(np.linalg.norm(prob.grad(w)) < 1e-6)
    True
    """

    _batch_type = MultinomialBatch

    def __init__(self, X, y, reg=0.0, *, fit_intercept=False, sample_weight=None, x_offset=None):
        super().__init__(X, y, reg, fit_intercept=fit_intercept, sample_weight=sample_weight,
                         x_offset=x_offset)
        self._set_penalty(self.xp, self.dtype, self.n_classes)

    @staticmethod
    def _check_targets(xp, X, y, n):
        """``y`` as an ``(n,)`` NumPy array of class labels (read once to the host).

        Labels are integers, integral floats, booleans or strings (as in scikit-learn); ``None``,
        a string or a number is a ``TypeError``; complex, NaN, infinite, non-integral or
        unorderable (mixed object) labels and a wrong shape are ``ValueError``.
        """
        if y is None or isinstance(y, str | bytes | numbers.Number):
            raise TypeError(f"y must be an array of class labels, got {type(y).__name__} {y!r}"[:200])
        _check_same_library(X, y, "y")
        try:
            host = _backend.to_numpy(y) if getattr(y, "dtype", None) is not None else np.asarray(y)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"y could not be read as an array of class labels: {exc}") from None
        if host.ndim == 2 and host.shape[1] == 1:
            host = host.reshape(-1)
        if host.ndim != 1 or host.shape[0] != n:
            raise ValueError(f"y must have shape ({n},) to match X with {n} rows, got {host.shape}")
        kind = host.dtype.kind
        if kind not in "biufUSO":
            raise ValueError(f"y must hold integer, boolean or string class labels, got dtype {host.dtype}")
        if kind == "f":
            if not bool(np.isfinite(host).all()):
                raise ValueError("y contains NaN or infinity")
            if not bool((host == np.round(host)).all()):
                raise ValueError("y must hold class labels; found non-integer floating values")
        if kind == "O":
            try:
                np.unique(host)
            except TypeError:
                raise ValueError("y must hold class labels of one kind (numbers or strings), "
                                 "got an object array that mixes them") from None
        return host

    def _prepare_targets(self, xp, y, dtype):
        host = y
        self.classes_, codes = np.unique(host, return_inverse=True)
        if self.classes_.shape[0] < 2:
            raise ValueError(f"y must hold at least two classes, got {self.classes_.tolist()}")
        self.n_classes = int(self.classes_.shape[0])
        onehot = np.zeros((host.shape[0], self.n_classes))
        onehot[np.arange(host.shape[0]), codes.ravel()] = 1.0
        return _backend.from_numpy(xp, onehot, dtype=dtype, device=self.device)

    def softmax(self, Z):
        xp = self.xp
        E = xp.exp(Z - xp.max(Z, axis=1, keepdims=True))
        return E / xp.sum(E, axis=1, keepdims=True)

    def loss(self, Z, Y):
        xp = self.xp
        zmax = xp.max(Z, axis=1)
        lse = zmax + xp.log(xp.sum(xp.exp(Z - zmax[:, None]), axis=1))
        return lse - xp.sum(Z * Y, axis=1)

    def dloss(self, Z, Y):
        return self.softmax(Z) - Y

    def curvature(self, w, idx=None):
        """Class probabilities ``p_i`` (``(size, K)``) of the samples ``idx``; the per-sample Hessian
        block is ``s_i (diag(p_i) − p_i p_iᵀ) ⊗ a_i a_iᵀ``."""
        b = self.batch(self._check_idx(idx))
        return self.softmax(b.margins(self._check_w(w)))

    def coef_matrix(self, w):
        """``w`` reshaped to the ``(d [+1], K)`` coefficient matrix."""
        return self.xp.reshape(self._check_w(w), (-1, self.n_classes))

    def __repr__(self):
        return (f"Multinomial(n_samples={self.n_samples}, n_features={self.n_features}, "
                f"n_classes={self.n_classes}, reg={self.reg:g}, fit_intercept={self.fit_intercept})")
