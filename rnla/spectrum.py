"""Stochastic Lanczos quadrature: traces of matrix functions and spectral densities.

Each probe ``z`` (a random unit vector) gives, through ``m`` Lanczos steps, a Gauss
quadrature rule for its spectral measure: ``zᵀ f(A) z ≈ Σ_k τ_k f(θ_k)`` with Ritz values
``θ_k`` and weights ``τ_k`` (squared first components of the eigenvectors of ``T_m``).
Averaging over probes estimates ``tr f(A) / n`` and the spectral density of ``A`` (Ubaru,
Chen and Saad 2017; Lin, Saad and Yang 2016). All probes run as one block Lanczos process
without reorthogonalisation, which quadrature does not need.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import _backend
from ._validation import (
    check_array,
    check_bool,
    check_callable,
    check_option,
    check_positive,
    check_positive_int,
    check_real_operator,
)
from .lanczos import lanczos
from .nystrom import _resolve
from .operators import as_operator
from .trace_estimation import _std_error

__all__ = ["SLQResult", "plot_spectral_density", "slq", "spectral_density"]


@dataclass
class SLQResult:
    """Quadrature behind an SLQ estimate.

    Attributes
    ----------
    estimate : float
        The estimate of ``tr f(A)``.
    error_estimate : float
        Standard error over probes (quadrature bias not included).
    nodes, weights : ndarray, shape ``(num_probes, num_steps)``
        Ritz values and weights of each probe; each row of weights sums to one.
    num_matvecs : int
    """

    estimate: float
    error_estimate: float
    nodes: np.ndarray
    weights: np.ndarray
    num_matvecs: int


def _quadrature(A, num_probes, num_steps, random_state, like):
    """Nodes and weights (host arrays ``(p, m)``) of ``num_probes`` Rademacher probes."""
    check_real_operator(A, "A")
    op = as_operator(A, symmetric=True)
    n = op.shape[0]
    p = _backend.check_fits(check_positive_int(num_probes, "num_probes"), "num_probes", per=n,
                            what=f"{n} × num_probes probe block")
    m = min(check_positive_int(num_steps, "num_steps"), n)  # n steps are already exact
    xp, dtype, device = _resolve(op, like)
    rng = _backend.check_random_state(random_state)
    Z = _backend.random_sign(xp, (n, p), dtype=dtype, device=device, random_state=rng)
    result = lanczos(op, m, v0=Z, reorthogonalize=False)
    nodes, weights = result.quadrature()
    return n, nodes, weights, p * m


def slq(A, f, *, num_probes=30, num_steps=50, random_state=None, full_output=False, like=None):
    """Estimate ``tr f(A)`` for symmetric ``A`` by stochastic Lanczos quadrature.

    ``tr f(A) ≈ (n / n_v) Σ_l Σ_k τ_lk f(θ_lk)`` over ``n_v`` Rademacher probes with
    ``m`` Lanczos steps each (``n_v·m`` products, as ``m`` block products). The flagship
    use is the log-determinant of a positive definite matrix, ``f = numpy.log``.

    Parameters
    ----------
    A : array, sparse matrix, LinearOperator or (shape, matvec[, matmat])
        Symmetric ``n × n`` operator.
    f : callable
        Vectorised scalar function, applied to a NumPy array of Ritz values.
    num_probes : int, default 30
    num_steps : int, default 50
        Lanczos steps per probe (at most ``n`` are taken).
    random_state : None, int or numpy.random.Generator
    full_output : bool, default False
        Also return the :class:`SLQResult`.
    like : array, optional
        For callable operators: an array whose namespace, dtype and device to use.

    Returns
    -------
    estimate : float
    result : SLQResult
        Only if ``full_output``.

    Raises
    ------
    ValueError
        If ``f`` gives NaN or infinity on the Ritz values (for example ``log`` of an
        operator that is not positive definite) or changes the shape of its input, or if
        the operator ``A`` produces NaN or infinity.

    Examples
    --------
    >>> import numpy as np
    >>> lam = np.linspace(1.0, 10.0, 300)
    >>> est = slq(np.diag(lam), np.log, num_probes=40, num_steps=30, random_state=0)
    >>> bool(abs(est - np.sum(np.log(lam))) < 0.02 * np.sum(np.log(lam)))
    True
    """
    check_callable(f, "f", optional=False)
    full_output = check_bool(full_output, "full_output")
    n, nodes, weights, matvecs = _quadrature(A, num_probes, num_steps, random_state, like)
    active = weights > 0
    with np.errstate(all="ignore"):
        values = np.asarray(f(nodes[active]), dtype=np.float64)
    if values.shape != nodes[active].shape:
        raise ValueError(f"f must map an array of shape {nodes[active].shape} to the same shape, "
                         f"got {values.shape}")
    if not np.all(np.isfinite(values)):
        bad = nodes[active][~np.isfinite(values)]
        raise ValueError(f"f is NaN or infinite at Ritz values in [{bad.min():.3g}, {bad.max():.3g}] "
                         "(is A in the domain of f, e.g. positive definite for log?)")
    terms = np.zeros_like(nodes)
    terms[active] = weights[active] * values
    per_probe = n * terms.sum(axis=1)
    estimate = float(per_probe.mean())
    if not full_output:
        return estimate
    return estimate, SLQResult(estimate, _std_error(per_probe), nodes, weights, matvecs)


def spectral_density(A, *, num_probes=20, num_steps=100, grid=None, num_points=1000, sigma=0.01,
                     random_state=None, full_output=False, like=None):
    """Smoothed spectral density of a symmetric operator by stochastic Lanczos quadrature.

    ``φ(t) = (1/n_v) Σ_l Σ_k τ_lk g_σ(t − θ_lk)`` with a Gaussian ``g_σ`` whose standard
    deviation is ``σ = sigma · (θ_max − θ_min)``: ``sigma`` is *relative to the spectral
    range* estimated by the extreme Ritz values, so the same value suits any scaling of
    ``A``. ``φ`` integrates to one over the real line (each probe's weights sum to one).
    Smoothing trades resolution for noise: the Wasserstein-1 distance of ``φ``'s CDF to the
    true spectral CDF grows by about ``0.8 σ``.

    Parameters
    ----------
    A : array, sparse matrix, LinearOperator or (shape, matvec[, matmat])
        Symmetric ``n × n`` operator.
    num_probes : int, default 20
    num_steps : int, default 100
        Lanczos steps per probe (at most ``n``): ``num_probes · num_steps`` products.
    grid : array_like, optional
        Points at which to evaluate the density; default ``num_points`` equispaced points
        from ``θ_min − 4σ`` to ``θ_max + 4σ``, which carry all but ~1e-4 of the mass.
    num_points : int, default 1000
    sigma : float, default 0.01
        Gaussian width relative to the spectral range, ``> 0``.
    random_state : None, int or numpy.random.Generator
    full_output : bool, default False
        Also return the :class:`SLQResult` (nodes and weights; ``estimate`` is ``n``).
    like : array, optional
        For callable operators: an array whose namespace, dtype and device to use.

    Returns
    -------
    grid, density : ndarray
        NumPy arrays (small, for plotting), whatever the backend of ``A``.
    result : SLQResult
        Only if ``full_output``.

    Examples
    --------
    >>> import numpy as np
    >>> lam = np.r_[np.zeros(100), np.ones(100)]
    >>> t, phi = spectral_density(np.diag(lam), num_probes=10, num_steps=20, random_state=0)
    >>> mass = float(np.sum((phi[1:] + phi[:-1]) / 2 * np.diff(t)))
    >>> round(mass, 3)
    1.0
    >>> bool(abs(t[np.argmax(phi)]) < 0.02 or abs(t[np.argmax(phi)] - 1) < 0.02)
    True
    """
    sigma = check_positive(sigma, "sigma")
    full_output = check_bool(full_output, "full_output")
    if grid is None:
        num_points = _backend.check_fits(check_positive_int(num_points, "num_points"), "num_points",
                                         what="grid")
    else:
        grid = np.asarray(_backend.to_numpy(check_array(grid, "grid", ndim=1)), dtype=np.float64)
    n, nodes, weights, matvecs = _quadrature(A, num_probes, num_steps, random_state, like)
    active = weights > 0
    lo, hi = float(nodes[active].min()), float(nodes[active].max())
    # A single eigenvalue: a width relative to its size (1 for zero), so that the density
    # of s·A is the density of A rescaled, for any s.
    span = hi - lo if hi > lo else (abs(hi) if hi != 0 else 1.0)
    width = sigma * span
    if grid is None:
        grid = np.linspace(lo - 4 * width, hi + 4 * width, max(num_points, 2))
    theta = nodes[active]
    tau = weights[active] / nodes.shape[0]
    density = np.zeros_like(grid)
    step = max(1, 2**22 // max(theta.size, 1))  # bound the (points × nodes) temporary
    for i in range(0, grid.size, step):
        diff = (grid[i: i + step, None] - theta[None, :]) / width
        density[i: i + step] = np.exp(-0.5 * diff**2) @ tau
    density /= width * math.sqrt(2 * math.pi)
    if not full_output:
        return grid, density
    return grid, density, SLQResult(float(n), 0.0, nodes, weights, matvecs)


def plot_spectral_density(grid, density, path=None, *, eigenvalues=None, xscale="linear", yscale="log",
                          ax=None, label="SLQ estimate", title=None, floor=1e-10):
    """Plot a spectral density (optionally against exact eigenvalues) and write a PNG.

    Needs matplotlib (``pip install rnla[plot]``). Spectra of Hessians and kernel matrices
    span many orders of magnitude: ``yscale='log'`` (default) shows the density's tails,
    ``xscale='log'`` (positive part only) or ``'symlog'`` (indefinite spectra, such as
    physics-informed network Hessians) spreads out eigenvalues across decades.

    Parameters
    ----------
    grid, density : array_like
        As returned by :func:`spectral_density`.
    path : str or path-like, optional
        Where to save the figure (PNG); nothing is written if omitted.
    eigenvalues : array_like, optional
        Exact eigenvalues, drawn as a normalised histogram for comparison.
    xscale : {'linear', 'log', 'symlog'}
    yscale : {'log', 'linear'}
    ax : matplotlib Axes, optional
        Draw into this axes instead of a new figure.
    label, title : str, optional
    floor : float, default 1e-10
        On a log y-axis, densities below ``floor · max(density)`` are clipped to it.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np
    >>> t, phi = spectral_density(np.diag(np.linspace(0, 1, 50)), num_probes=4, num_steps=10,
    ...                           random_state=0)
    >>> ax = plot_spectral_density(t, phi)   # doctest: +SKIP
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plot_spectral_density needs matplotlib: pip install 'rnla[plot]'") from exc
    xscale = check_option(xscale, "xscale", ("linear", "log", "symlog"))
    yscale = check_option(yscale, "yscale", ("linear", "log"))
    grid = np.asarray(grid, dtype=np.float64)
    density = np.asarray(density, dtype=np.float64)
    if grid.shape != density.shape or grid.ndim != 1:
        raise ValueError(f"grid and density must be 1-D of equal length, got {grid.shape} and "
                         f"{density.shape}")
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
    shown = density
    if yscale == "log":
        shown = np.maximum(density, floor * max(float(density.max()), np.finfo(float).tiny))
    keep = grid > 0 if xscale == "log" else np.ones(grid.shape, dtype=bool)
    if eigenvalues is not None:
        eig = np.asarray(eigenvalues, dtype=np.float64).ravel()
        eig = eig[eig > 0] if xscale == "log" else eig
        lo, hi = (eig.min(), eig.max()) if eig.size else (1.0, 1.0)
        if xscale == "log":
            edges = np.geomspace(lo / 1.05, hi * 1.05, 60) if hi <= 1.05**2 * lo else np.geomspace(lo, hi, 60)
        else:
            edges = np.linspace(min(grid.min(), lo), max(grid.max(), hi), 80)
        ax.hist(eig, bins=edges, density=True, alpha=0.35, color="tab:gray", label="exact eigenvalues")
    ax.plot(grid[keep], shown[keep], color="tab:blue", label=label)
    ax.set_xscale(xscale)
    ax.set_yscale(yscale)
    ax.set_xlabel("eigenvalue")
    ax.set_ylabel("density")
    if title:
        ax.set_title(title)
    ax.legend()
    if path is not None:
        (fig or ax.figure).savefig(path, dpi=120, bbox_inches="tight")
    if fig is not None and path is not None:
        plt.close(fig)
    return ax
