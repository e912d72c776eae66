"""The ``rnla`` command: ``fit``, ``solve``, ``spectrum`` and ``bench``.

``rnla fit [DATA]`` fits a ridge or logistic regression with the library's estimators and
reports the objective, a held-out score and the time; ``rnla solve [MATRIX RHS]`` runs Nyström
PCG; ``rnla spectrum MATRIX`` plots a spectral density; ``rnla bench`` runs the benchmarks of a
source checkout and writes their report to ``benchmarks/results/`` (``--write-docs``: to
``docs/``). Every failure the user can cause (a missing or malformed file, a wrong option, an
``--out`` path that cannot be written, a missing matplotlib) ends in one line on stderr and exit
status 2, never a traceback, and is found before any long computation starts. Exit status:
0 success; 1 ``solve`` did not converge within ``--maxiter``; 2 bad input or option; 3 ``solve``
broke down (a singular matrix with ``--mu 0``, or one that is not positive semidefinite);
130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from rnla import __version__
from rnla._validation import (
    check_auto_or,
    check_nonnegative,
    check_nonnegative_int,
    check_positive,
    check_positive_int,
    check_real,
)

from . import _cli_data as data

#: What ``pip`` installs to get the plots.
PLOT_EXTRA = 'pip install "rnla[plot]"'

EXIT_STATUS = ("exit status: 0 success; 1 not converged within --maxiter; 2 bad input or option (one "
               "line on stderr); 3 the solver broke down (a singular matrix with --mu 0, or one that is "
               "not positive semidefinite); 130 interrupted.")


class CommandError(Exception):
    """A problem to report in one line on stderr (exit status 2)."""


def _message(exc, name):
    """A validation message without its leading argument name (argparse prefixes ``argument NAME:``)."""
    text = str(exc)
    return text[len(name):].lstrip() if text.startswith(name) else text


def _option(check, name, kind=float, **bounds):
    """An argparse ``type`` that converts the text to ``kind`` and applies a check of
    :mod:`rnla._validation` (its ``TypeError``/``ValueError`` become argparse's one-line error)."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            what = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        try:
            return check(value, name, **bounds)
        except (TypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(_message(exc, name)) from None

    parse.__name__ = name.lstrip("-").replace("-", "_")
    return parse


def _rank(text, name="--rank"):
    """``'auto'`` or an integer >= 1, parsed by :func:`rnla._validation.check_auto_or`."""
    try:
        value = int(text)
    except ValueError:
        try:
            float(text)
        except ValueError:
            value = text  # a string: 'auto', or an error naming the keyword
        else:
            raise argparse.ArgumentTypeError(f"must be 'auto' or an integer, got {text!r}") from None
    try:
        return check_auto_or(value, name, check_positive_int)
    except (TypeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(_message(exc, name)) from None


def _positive(kind, name):
    return _option(check_positive_int if kind is int else check_positive, name, kind)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit status 2, as argparse does but without the usage block
        raise CommandError(f"{self.prog}: {message}")


def build_parser():
    parser = _Parser(prog="rnla", description="Randomized linear algebra and second-order optimizers.",
                     epilog=EXIT_STATUS)
    parser.add_argument("--version", action="version", version=f"rnla {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{fit,solve,spectrum,bench}", parser_class=_Parser)
    sub.required = True

    fit = sub.add_parser("fit", help="fit a ridge or logistic regression",
                         description="Fit ridge (--loss squared) or logistic (--loss logistic) regression. "
                                     "Without DATA: random features of scikit-learn's bundled breast-cancer "
                                     "(logistic) or digits (squared) data.")
    fit.add_argument("data", nargs="?", help="svmlight/LIBSVM (.svm, .svmlight, .libsvm, .txt), .csv, .npz "
                                              "(arrays X and y) or .npy (last column is y)")
    fit.add_argument("--loss", choices=["squared", "logistic"], default="logistic")
    fit.add_argument("--solver", default="auto",
                     help="auto | nystrom_pcg (squared) | nncg (logistic) | sketchy_svrg | sketchy_saga | "
                          "sketchy_katyusha")
    fit.add_argument("--alpha", type=_positive(float, "--alpha"), default=1.0,
                     help="L2 strength: Ridge's alpha; for logistic loss C = 1/alpha (default 1)")
    fraction = _option(check_real, "--test-size", low=0.0, high=1.0, high_open=True)
    fit.add_argument("--test-size", type=fraction, default=0.25,
                     help="held-out fraction in [0, 1) (default 0.25)")
    fit.add_argument("--tol", type=_positive(float, "--tol"), default=None, help="solver tolerance")
    fit.add_argument("--max-iter", type=_positive(int, "--max-iter"), default=None)
    fit.add_argument("--rank", type=_rank, default="auto", help="Nyström sketch size: auto or an integer "
                                                             ">= 1 (default auto)")
    fit.add_argument("--no-intercept", action="store_true", help="fit no intercept")
    fit.add_argument("--format", choices=["auto", *data.FORMATS], default="auto")
    fit.add_argument("--target", default=None, help="CSV target column: name or 0-based index (default last)")
    fit.add_argument("--n-features", type=_positive(int, "--n-features"), default=1000,
                     help="random features of the built-in data (default 1000)")
    fit.add_argument("--out", default=None, help="save coefficients to this .npz and a convergence plot "
                                                  "next to it (.png, needs matplotlib); checked before "
                                                  "the fit")
    fit.add_argument("--no-plot", action="store_true", help="with --out: no convergence plot (no "
                                                            "matplotlib needed)")
    fit.add_argument("--seed", type=_option(check_nonnegative_int, "--seed", int), default=0)
    fit.add_argument("--quiet", action="store_true", help="no progress bar")

    solve = sub.add_parser("solve", help="solve (A + mu I) x = b by Nyström PCG",
                           description="Nyström PCG on a symmetric positive semidefinite MATRIX (.npy, .npz, "
                                       ".mtx). Without MATRIX and RHS: a built-in ridge problem, compared "
                                       "with plain CG. A singular MATRIX needs a positive --mu.",
                           epilog=EXIT_STATUS)
    solve.add_argument("matrix", nargs="?")
    solve.add_argument("rhs", nargs="?", help=".npy, .txt or .mtx vector")
    solve.add_argument("--mu", type=_option(check_nonnegative, "--mu"), default=None,
                       help="regularization mu >= 0 (default 1e-6 for the built-in problem, else 0); a "
                            "singular MATRIX needs mu > 0")
    solve.add_argument("--rank", type=_rank, default="auto", help="auto or an integer >= 1 (default auto)")
    solve.add_argument("--rtol", type=_positive(float, "--rtol"), default=1e-8)
    solve.add_argument("--maxiter", type=_positive(int, "--maxiter"), default=None)
    solve.add_argument("--out", default=None, help="save x to this .npy (checked before the solve)")
    solve.add_argument("--seed", type=_option(check_nonnegative_int, "--seed", int), default=0)

    spec = sub.add_parser("spectrum", help="plot a spectral density (stochastic Lanczos quadrature)",
                          description="Plot the SLQ spectral density of a symmetric MATRIX (.npy, .npz, "
                                      ".mtx); needs matplotlib (pip install \"rnla[plot]\").")
    spec.add_argument("matrix")
    spec.add_argument("--out", default="density.png", help="image path, .png or another matplotlib format "
                                                           "(default density.png); checked first")
    spec.add_argument("--probes", type=_positive(int, "--probes"), default=20)
    spec.add_argument("--steps", type=_positive(int, "--steps"), default=100)
    spec.add_argument("--sigma", type=_positive(float, "--sigma"), default=0.01,
                      help="smoothing, relative to the range")
    spec.add_argument("--xscale", choices=["linear", "log", "symlog"], default="linear")
    spec.add_argument("--seed", type=_option(check_nonnegative_int, "--seed", int), default=0)

    bench = sub.add_parser("bench", help="run the benchmark suite and write its report",
                           description="Run benchmarks/ of a source checkout (needs matplotlib) and write "
                                       "benchmarks.md (--quick: benchmarks-quick.md) with its plots under "
                                       "img/ to benchmarks/results/ of the checkout (git-ignored), or to "
                                       "docs/ with --write-docs. The full run reproduces every table of "
                                       "docs/benchmarks.md (about 75 minutes on 2 cores). --quick: small "
                                       "variants of the same problems, medians of 3 short runs, about 2 "
                                       "minutes on an idle 2-core machine; once its --budget (180 s) is "
                                       "spent no further part, nor problem within a part, starts, and the "
                                       "report names what was left out. Prints the time of each part and "
                                       "the total.")
    bench.add_argument("--quick", action="store_true", help="small problems, a few minutes")
    bench.add_argument("--root", default=".", help="the source checkout (default: current directory)")
    where = bench.add_mutually_exclusive_group()
    where.add_argument("--out-dir", default=None, help="folder for the report and its img/ (default "
                                                      "ROOT/benchmarks/results)")
    where.add_argument("--write-docs", action="store_true", help="update the tracked report in ROOT/docs "
                                                                "(docs/benchmarks.md or "
                                                                "docs/benchmarks-quick.md, docs/img/)")
    where.add_argument("--out", default=None, help="report file (its plots go to img/ next to it)")
    bench.add_argument("--budget", type=_positive(float, "--budget"), default=None,
                       help="seconds after which no further part or problem starts (default 180 with "
                            "--quick, none for the full run)")
    return parser


# ------------------------------------------------------------------------- checks before the work

def require_matplotlib(command, why, alternative=""):
    """Import matplotlib (Agg backend) or stop with one line naming the extra to install."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot
    except ImportError:
        raise CommandError(f"rnla {command}: {why} needs matplotlib, which is not installed: "
                           f"{PLOT_EXTRA}{alternative}") from None


def check_writable(command, path, option="--out"):
    """Stop with one line unless ``path`` can be written: its folder exists and takes files, it is not
    a folder, and the name is valid there. Creates nothing that stays."""
    path = Path(path)
    prefix = f"rnla {command}: cannot write {option} {path}"
    try:
        if path.is_dir():
            raise CommandError(f"{prefix}: is a directory")
        if path.exists():
            if not os.access(path, os.W_OK):
                raise CommandError(f"{prefix}: Permission denied")
            return
        parent = path.parent
        if not parent.is_dir():
            reason = "not a directory" if parent.exists() else "No such file or directory"
            raise CommandError(f"{prefix}: {reason} ({parent})")
        with open(path, "xb"):
            pass
    except OSError as exc:  # a name too long, a read-only file system, no permission, ...
        raise CommandError(f"{prefix}: {exc.strerror or exc}") from None
    try:
        path.unlink()
    except OSError:
        pass


def _check_image_format(command, path):
    """The plot's file name must end in a format matplotlib writes (after :func:`require_matplotlib`)."""
    from matplotlib.backend_bases import FigureCanvasBase

    suffix = Path(path).suffix.lower().lstrip(".")
    formats = FigureCanvasBase.get_supported_filetypes()
    if suffix and suffix not in formats:
        raise CommandError(f"rnla {command}: cannot write --out {path}: matplotlib does not write "
                           f"{suffix!r} images; use one of {', '.join(sorted(formats))}")


def _model_paths(out):
    out = Path(out)
    npz = out if out.suffix == ".npz" else out.with_suffix(".npz")
    return npz, npz.with_suffix(".png")


def _npy_path(out):
    """Where ``np.save(out, x)`` writes: it appends ``.npy`` to any other name."""
    return Path(out if str(out).endswith(".npy") else f"{out}.npy")


# --------------------------------------------------------------------------------------------- fit

def _estimator(args, n_classes):
    from .estimators import SketchyLogisticRegression, SketchyRidge

    common = dict(fit_intercept=not args.no_intercept, solver=args.solver, rank=args.rank,
                  random_state=args.seed, verbose=not args.quiet)
    if args.tol is not None:
        common["tol"] = args.tol
    if args.max_iter is not None:
        common["max_iter"] = args.max_iter
    if args.loss == "squared":
        return SketchyRidge(alpha=args.alpha, **common)
    return SketchyLogisticRegression(C=1.0 / args.alpha, **common)


def _objective(est, args, X, y):
    """The mean-form objective the solver minimised, at the fitted coefficients."""
    from .glm import LeastSquares, Logistic
    from .multinomial import Multinomial

    n = X.shape[0]
    intercept = not args.no_intercept
    coef = np.atleast_2d(np.asarray(est.coef_))
    b = np.atleast_1d(np.asarray(est.intercept_, dtype=float))
    if args.loss == "squared":
        prob = LeastSquares(X, y, reg=args.alpha / n, fit_intercept=intercept)
        w = np.concatenate([coef[0], b[:1]]) if intercept else coef[0]
    else:
        codes = np.searchsorted(est.classes_, y)
        if len(est.classes_) == 2:
            prob = Logistic(X, codes, reg=args.alpha / n, fit_intercept=intercept)
            w = np.concatenate([coef[0], b[:1]]) if intercept else coef[0]
        else:
            prob = Multinomial(X, codes, reg=args.alpha / n, fit_intercept=intercept)
            W = np.vstack([coef.T, b[None, :]]) if intercept else coef.T
            w = W.ravel()
    return prob.value(w.astype(prob.dtype))


def cmd_fit(args):
    from sklearn.model_selection import train_test_split

    if args.loss == "squared" and args.solver == "nncg":
        raise CommandError("rnla fit: --solver nncg is for --loss logistic; use nystrom_pcg for squared loss")
    if args.loss == "logistic" and args.solver == "nystrom_pcg":
        raise CommandError("rnla fit: --solver nystrom_pcg is for --loss squared; use nncg for logistic loss")
    if args.out:
        npz, png = _model_paths(args.out)
        check_writable("fit", npz)
        if not args.no_plot:
            require_matplotlib("fit", f"the convergence plot of --out ({png.name})",
                               " (or pass --no-plot to save the coefficients only)")
            check_writable("fit", png, option="--out (plot)")
    if args.data is None:
        X, y, name = data.builtin(args.loss, args.n_features, args.seed)
    else:
        X, y = data.load_xy(args.data, args.format, args.target)
        name = args.data
    if args.loss == "logistic":
        classes = np.unique(y)
        if classes.shape[0] < 2:
            raise CommandError(f"rnla fit: {name}: the target has a single class ({classes[0].item()!r}); "
                               "logistic loss needs two or more")
    else:
        if not np.issubdtype(np.asarray(y).dtype, np.number):
            raise CommandError(f"rnla fit: {name}: the target is not numeric; squared loss needs numbers")
    stratify = y if args.loss == "logistic" and args.test_size > 0 else None
    if args.test_size > 0:
        try:
            X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=args.test_size, random_state=args.seed,
                                                      stratify=stratify)
        except ValueError as exc:
            raise CommandError(f"rnla fit: cannot hold out {args.test_size:g} of {X.shape[0]} samples: "
                               f"{exc}") from None
    else:
        X_tr, y_tr, X_te, y_te = X, y, None, None
    est = _estimator(args, None)
    kind = "sparse" if hasattr(X, "tocsr") else "dense"
    print(f"rnla fit: {name}: {X.shape[0]} samples × {X.shape[1]} features ({kind}, {X.dtype}), "
          f"loss={args.loss}, alpha={args.alpha:g}, solver={args.solver}")
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            est.fit(X_tr, y_tr)
        except (ValueError, TypeError) as exc:
            raise CommandError(f"rnla fit: {exc}") from None
    seconds = time.perf_counter() - t0
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    f = _objective(est, args, X_tr, y_tr)
    iters = int(np.asarray(est.n_iter_).max())
    print(f"  iterations      {iters}")
    print(f"  objective       {f:.10g}  (mean-form training objective)")
    print(f"  fit time        {seconds:.3f} s")
    metric = "R²" if args.loss == "squared" else "accuracy"
    print(f"  {'train ' + metric:<16}{est.score(X_tr, y_tr):.4f}")
    if X_te is not None:
        print(f"  {'held-out ' + metric:<17} {est.score(X_te, y_te):.4f}  ({X_te.shape[0]} samples)")
    if args.out:
        _save_model(est, args, Path(args.out), seconds, f)
    return 0


def _save_model(est, args, out, seconds, f):
    out, plot = _model_paths(out)
    arrays = {"coef": np.asarray(est.coef_), "intercept": np.atleast_1d(np.asarray(est.intercept_)),
              "loss": np.array(args.loss), "alpha": np.array(args.alpha), "solver": np.array(args.solver),
              "objective": np.array(f), "fit_time": np.array(seconds), "n_iter": np.asarray(est.n_iter_)}
    if hasattr(est, "classes_"):
        arrays["classes"] = est.classes_
    history = est.history_[0]
    for key, values in history.items():
        arrays[f"history_{key}"] = np.asarray(values)
    try:
        np.savez(out, **arrays)
    except OSError as exc:
        raise CommandError(f"rnla fit: cannot write {out}: {exc.strerror or exc}") from None
    print(f"  saved           {out}")
    if not args.no_plot:
        _plot_history(history, plot, f"rnla fit: {args.loss} loss, solver {args.solver}")
        print(f"  plot            {plot}")


def _plot_history(history, path, title):
    import matplotlib.pyplot as plt  # checked by require_matplotlib before the fit

    key = "grad_norm" if "grad_norm" in history else "residual_norm"
    label = "gradient norm ‖∇f‖" if key == "grad_norm" else "CG residual norm ‖b − A w‖"
    fig, ax = plt.subplots(figsize=(6, 4))
    values = np.asarray(history[key], dtype=float)
    ax.semilogy(np.asarray(history["iteration"]), np.maximum(values, np.finfo(float).tiny), marker="o", ms=3)
    ax.set_xlabel("iteration")
    ax.set_ylabel(label)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=100)
    except OSError as exc:
        raise CommandError(f"rnla: cannot write {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)


# ---------------------------------------------------------------------------------- solve / spectrum

def cmd_solve(args):
    from rnla import GramOperator, nystrom_pcg, pcg

    if (args.matrix is None) != (args.rhs is None):
        raise CommandError("rnla solve: give both MATRIX and RHS, or neither for the built-in problem")
    out = _npy_path(args.out) if args.out else None
    if out is not None:
        check_writable("solve", out)
    builtin = args.matrix is None
    if builtin:
        A, b, name = data.builtin_ridge(args.seed)
        mu = 1e-6 if args.mu is None else args.mu
    else:
        A = data.load_matrix(args.matrix)
        b = data.load_vector(args.rhs, A.shape[0])
        mu, name = (args.mu or 0.0), args.matrix
    print(f"rnla solve: {name}: n = {A.shape[0]}, mu = {mu:g}, rtol = {args.rtol:g}")
    t0 = time.perf_counter()
    try:
        x, info, res = nystrom_pcg(A, b, mu, rank=args.rank, rtol=args.rtol, maxiter=args.maxiter,
                                   random_state=args.seed, full_output=True)
    except ValueError as exc:
        raise CommandError(f"rnla solve: {exc}") from None
    seconds = time.perf_counter() - t0
    resid = np.linalg.norm(b - (A @ x + mu * x)) / max(np.linalg.norm(b), np.finfo(float).tiny)
    if info == 0:
        status = "converged"
    elif info > 0:
        status = "not converged within --maxiter"
    else:
        status = "broke down"
    print(f"  Nyström PCG     {status}: rank {res.rank}, {res.iterations} iterations, {res.matvecs} "
          f"products, {seconds:.3f} s, relative residual {resid:.2e}")
    if builtin:
        op = GramOperator(A.X, mu=mu)
        t0 = time.perf_counter()
        _, info_cg, res_cg = pcg(op, b, rtol=args.rtol, maxiter=args.maxiter, full_output=True)
        cg_seconds = time.perf_counter() - t0
        cg_status = "converged" if info_cg == 0 else "not converged"
        print(f"  plain CG        {cg_status}: {res_cg.iterations} iterations, {res_cg.matvecs} products, "
              f"{cg_seconds:.3f} s  (×{cg_seconds / seconds:.1f} the time of Nyström PCG)")
    if out is not None and info >= 0:
        try:
            np.save(out, x)
        except OSError as exc:
            raise CommandError(f"rnla solve: cannot write --out {out}: {exc.strerror or exc}") from None
        print(f"  saved           {out}")
    if info != 0:
        print(_solve_advice(A, name, mu, info, res, out), file=sys.stderr)
    return 0 if info == 0 else (1 if info > 0 else 3)


def _solve_advice(A, name, mu, info, res, out):
    """The one stderr line after a solve that did not converge (exit 1) or broke down (exit 3)."""
    reason = getattr(res, "message", "") or ""
    if mu == 0:
        try:  # a scale for the suggested mu: the largest absolute row sum bounds the top eigenvalue
            scale = float(np.max(abs(A).sum(axis=1))) if hasattr(A, "shape") and hasattr(A, "sum") else 1.0
        except (TypeError, ValueError):
            scale = 1.0
        suggestion = f"{1e-8 * scale:.0e}" if scale > 0 else "1e-8"
        what = ("broke down" + (f" ({reason})" if reason else "") if info < 0 else
                f"did not converge in {res.iterations} iterations")
        advice = (f"rnla solve: Nyström PCG {what} with --mu 0: {name} looks singular (or not positive "
                  f"definite); a singular matrix needs a positive regularization --mu, e.g. --mu "
                  f"{suggestion}, to solve (A + mu I) x = b")
    elif info < 0:
        advice = (f"rnla solve: Nyström PCG broke down{f' ({reason})' if reason else ''}: is {name} "
                  "symmetric positive semidefinite?")
    else:
        advice = (f"rnla solve: not converged in {res.iterations} iterations: raise --maxiter or --rank, "
                  "or loosen --rtol")
    if info < 0 and out is not None:
        advice += f"; {out} not written"
    return advice


def cmd_spectrum(args):
    from rnla import plot_spectral_density, spectral_density

    require_matplotlib("spectrum", "the density plot")
    check_writable("spectrum", args.out)
    _check_image_format("spectrum", args.out)
    A = data.load_matrix(args.matrix)
    t0 = time.perf_counter()
    try:
        grid, density = spectral_density(A, num_probes=args.probes, num_steps=min(args.steps, A.shape[0]),
                                         sigma=args.sigma, random_state=args.seed)
    except ValueError as exc:
        raise CommandError(f"rnla spectrum: {exc}") from None
    seconds = time.perf_counter() - t0
    print(f"rnla spectrum: {args.matrix}: n = {A.shape[0]}, {args.probes} probes × {args.steps} Lanczos "
          f"steps, {seconds:.2f} s; spectrum within [{grid[0]:.4g}, {grid[-1]:.4g}]")
    try:
        plot_spectral_density(grid, density, args.out, xscale=args.xscale,
                              title=f"spectral density of {args.matrix}")
    except OSError as exc:
        raise CommandError(f"rnla spectrum: cannot write --out {args.out}: {exc.strerror or exc}") from None
    import matplotlib.pyplot as plt

    plt.close("all")
    print(f"  plot            {args.out}")
    return 0


def cmd_bench(args):
    from . import _cli_bench

    return _cli_bench.run(Path(args.root), args.quick, error=CommandError, out=args.out,
                          out_dir=args.out_dir, write_docs=args.write_docs, budget=args.budget,
                          require_matplotlib=require_matplotlib)


def main(argv=None) -> int:
    """Entry point of the ``rnla`` console script; returns the exit status.

    Examples
    --------
    >>> main(["solve", "--rtol", "1e-6"])  # doctest: +ELLIPSIS
    rnla solve: built-in ridge problem ...
    0
    """
    try:
        args = build_parser().parse_args(argv)
        commands = {"fit": cmd_fit, "solve": cmd_solve, "spectrum": cmd_spectrum, "bench": cmd_bench}
        return commands[args.command](args)
    except CommandError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except data.DataError as exc:
        print(f"rnla: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnla: interrupted", file=sys.stderr)
        return 130
