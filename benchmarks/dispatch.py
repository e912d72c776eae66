"""``solver='auto'`` against the solvers a user would pick, on the problems of issue 14.

Every fit runs in this process, side by side, with ``OPENBLAS_NUM_THREADS`` as set by the caller.
Times are medians of ``--repeats`` fits (a fit longer than 20 s is not repeated) to the SAME
accuracy:

- ridge: the relative residual of the centred normal equations,
  ``‖X_cᵀ(X_c w − y_c) + alpha w‖ / ‖X_cᵀ y_c‖ <= 1e-6`` (our default ``tol``);
- logistic: the relative suboptimality ``(f(w) − f*) / f* <= 1e-6`` of scikit-learn's objective
  ``f = Σ log(1 + exp(−ỹ zᵢ)) + ‖w‖² / (2C)``, with ``f*`` the best value any solver reached with
  a tight tolerance.

Iterative peers are refitted with ``tol`` = 1e-4, 1e-6, 1e-8, 1e-10 until they reach the
accuracy (their time is that of the first tolerance that does); ours runs with default settings.
Writes the "dispatch" section of docs/benchmarks.md with ``--write-docs``.

    OPENBLAS_NUM_THREADS=2 python benchmarks/dispatch.py --quick
    OPENBLAS_NUM_THREADS=2 python benchmarks/dispatch.py --write-docs
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import machine, markdown_table, write_section
from problems import make_l1, make_l2, make_r2
from sklearn.linear_model import LogisticRegression, Ridge

from optim import SketchyLogisticRegression, SketchyRidge
from rnla.datasets import make_random_features_regression

RIDGE_TARGET = 1e-6
LOGISTIC_TARGET = 1e-6
TOLS = (1e-4, 1e-6, 1e-8, 1e-10)
NO_REPEAT_AFTER = 20.0


# ------------------------------------------------------------------------------------- problems
def ridge_problems(quick):
    s = 5 if quick else 1
    rng = np.random.default_rng(0)
    out = []
    n, d = 50000 // s, 400
    X = rng.standard_normal((n, d)) + rng.standard_normal(d)
    y = X @ rng.standard_normal(d) + rng.standard_normal(n)
    out.append((f"dense ridge {n}×{d}", X, y, 1.0, True))
    n, d = 200000 // s, 20000 // s
    X = sp.random(n, d, density=5e-4 * s, format="csr", random_state=np.random.default_rng(1))
    y = X @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)
    out.append((f"sparse tall ridge {n}×{d}, {X.nnz} nnz, mu 1e-5", X, y, 1e-5 * n, True))
    n, d = 5000 // s, 20000 // s
    X, y = make_random_features_regression(n, d, n_inputs=8, bandwidth=4.0, noise=0.1, random_state=3)
    out.append((f"wide random-features ridge {n}×{d}, mu 1e-6", X, y, 1e-6 * n, True))
    n, d = (20000, 8000) if not quick else (6000, 2400)
    X, y, mu = make_r2(n, d)
    out.append((f"R2 ridge {n}×{d}, mu 1e-6", X, y, mu * n, False))
    return out


def _toeplitz_features(n, d, rho, rng):
    """Rows ~ N(0, T) with T_ij = rho^|i−j| (an AR(1) recursion over the columns)."""
    X = np.empty((n, d))
    X[:, 0] = rng.standard_normal(n)
    c = np.sqrt(1 - rho**2)
    for j in range(1, d):
        X[:, j] = rho * X[:, j - 1] + c * rng.standard_normal(n)
    return X


def logistic_problems(quick):
    s = 5 if quick else 1
    rng = np.random.default_rng(2)
    out = []
    n, d = 100000 // s, 50000 // s
    X = sp.random(n, d, density=1e-3 * s, format="csr", random_state=np.random.default_rng(3))
    z = X @ (3 * rng.standard_normal(d))
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    out.append((f"sparse logistic {n}×{d}, {X.nnz} nnz, C 1", X, y, 1.0, True))
    n, d = 200000 // s, 300
    X = _toeplitz_features(n, d, 0.95, rng)
    z = X @ (rng.standard_normal(d) / np.sqrt(d))
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    out.append((f"dense Toeplitz(0.95) logistic {n}×{d}, C 1", X, y, 1.0, True))
    X, y, reg = make_l1(100000 // s, 500)
    out.append((f"L1 logistic {X.shape[0]}×{X.shape[1]}, reg 1e-4", X, (y > 0).astype(int),
                1 / (reg * X.shape[0]), False))
    X, y, reg = make_l2(50000 // s, 10, 2000 // (2 if quick else 1))
    out.append((f"L2 logistic {X.shape[0]}×{X.shape[1]}, reg 1e-5", X, (y > 0).astype(int),
                1 / (reg * X.shape[0]), False))
    return out


# ------------------------------------------------------------------------------------- accuracy
def ridge_residual(X, y, alpha, coef, fit_intercept):
    coef = np.ravel(coef)
    m = np.asarray(X.mean(axis=0)).ravel() if fit_intercept else np.zeros(X.shape[1])
    yc = y - y.mean() if fit_intercept else y

    def xc(w):
        return X @ w - m @ w

    def xct(v):
        return X.T @ v - m * v.sum()

    rhs = xct(yc)
    g = xct(xc(coef) - yc) + alpha * coef
    return float(np.linalg.norm(g) / np.linalg.norm(rhs))


def logistic_objective(X, y, C, coef, intercept):
    z = X @ np.ravel(coef) + float(np.ravel(intercept)[0] if np.size(intercept) else 0.0)
    s = np.where(y == 1, 1.0, -1.0)
    return float(np.sum(np.logaddexp(0.0, -s * z)) + 0.5 * np.dot(np.ravel(coef), np.ravel(coef)) / C)


# ------------------------------------------------------------------------------------- timing
def timed(fit, repeats):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fit()
        times.append(time.perf_counter() - t0)
        if times[-1] > NO_REPEAT_AFTER:
            break
    return statistics.median(times), out


def quiet(fn):
    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()
    return run


#: A peer's tolerance sweep stops after a fit longer than this (seconds; --quick: a fifth).
BUDGET = 40.0


def to_accuracy(make, error, target, repeats, tols=TOLS):
    """(median seconds, error, tol) of the first tolerance whose fit reaches ``target`` (else the last
    one tried: the sweep stops after a fit longer than :data:`BUDGET`)."""
    for tol in tols:
        est = make(tol)
        t, est = timed(quiet(lambda est=est: est.fit(*est._data)), 1)
        err = error(est)
        print(f"    tol={tol}: {t:.2f} s, error {err:.1e}", file=sys.stderr, flush=True)
        if err <= target or tol == tols[-1] or t > BUDGET:
            times = [t]
            if t <= NO_REPEAT_AFTER:
                for _ in range(repeats - 1):
                    times.append(timed(quiet(lambda est=est: est.fit(*est._data)), 1)[0])
            return statistics.median(times), err, tol
    return None


def _with_data(est, X, y):
    est._data = (X, y)
    return est


def ridge_peers(X, y, alpha, fit_intercept):
    sparse = sp.issparse(X)
    peers = []
    if not (sparse and fit_intercept):  # scikit-learn's cholesky has no intercept on sparse data
        peers.append(("Ridge(cholesky)", lambda tol: Ridge(alpha=alpha, solver="cholesky",
                                                           fit_intercept=fit_intercept), False))
    if not sparse and min(X.shape) <= 3000:
        peers.append(("Ridge(svd)", lambda tol: Ridge(alpha=alpha, solver="svd", fit_intercept=fit_intercept),
                      False))
    for s in ("lsqr", "sparse_cg"):
        peers.append((f"Ridge({s})", lambda tol, s=s: Ridge(alpha=alpha, solver=s, tol=tol, max_iter=100000,
                                                             fit_intercept=fit_intercept), True))
    return peers


def logistic_peers(C, fit_intercept, d, quick):
    # newton-cholesky forms a dense d × d Hessian: not applicable past a few thousand features
    solvers = ("lbfgs", "newton-cholesky", "newton-cg") if d <= 3000 else ("lbfgs", "newton-cg")
    peers = [(f"LogisticRegression({s})", lambda tol, s=s: LogisticRegression(
        C=C, solver=s, tol=tol, max_iter=20000, fit_intercept=fit_intercept), True)
        for s in solvers]
    if not quick:
        peers.append(("LogisticRegression(saga)", lambda tol: LogisticRegression(
            C=C, solver="saga", tol=tol, max_iter=300, fit_intercept=fit_intercept), True))
    return peers


def optional_peers(C, fit_intercept, n, d, sparse):
    out, skipped = [], []
    try:
        sklearnex = importlib.import_module("sklearnex.linear_model")
        out.append(("sklearnex LogisticRegression", lambda tol: sklearnex.LogisticRegression(
            C=C, tol=tol, max_iter=100000, fit_intercept=fit_intercept), True))
    except ImportError:
        skipped.append("sklearnex")
    try:
        glum = importlib.import_module("glum")
        if d > 3000:  # IRLS with a dense d × d Hessian: not applicable past a few thousand features
            raise LookupError
        out.append(("glum (irls-cd)", lambda tol: glum.GeneralizedLinearRegressor(
            family="binomial", alpha=1.0 / (C * n), l1_ratio=0.0, gradient_tol=tol, max_iter=10000,
            fit_intercept=fit_intercept), True))
    except LookupError:
        pass
    except ImportError:
        skipped.append("glum")
    try:
        skglm = importlib.import_module("skglm")
        if sparse:  # coordinate descent for sparse data and L1 penalties: minutes on dense data
            out.append(("skglm SparseLogisticRegression(l1_ratio=0)",
                        lambda tol: skglm.SparseLogisticRegression(
                            alpha=1.0 / (C * n), l1_ratio=0.0, tol=tol, max_iter=1000,
                            fit_intercept=fit_intercept), True))
    except ImportError:
        skipped.append("skglm")
    return out, skipped


# ------------------------------------------------------------------------------------- runs
def run_ridge(quick, repeats):
    rows = []
    for name, X, y, alpha, fi in ridge_problems(quick):
        def err(est, X=X, y=y, alpha=alpha, fi=fi):
            return ridge_residual(X, y, alpha, est.coef_, fi)
        print(name, file=sys.stderr, flush=True)
        ours_t, ours = timed(quiet(lambda X=X, y=y, a=alpha, fi=fi: SketchyRidge(
            alpha=a, fit_intercept=fi).fit(X, y)), repeats)
        print(f"  ours {ours_t:.2f} s, {ours.solver_}; {ours.decision_.report() if ours.decision_ else ''}",
              file=sys.stderr, flush=True)
        results = []
        for pname, make, iterative in ridge_peers(X, y, alpha, fi):
            print(f"  {pname}", file=sys.stderr, flush=True)
            got = to_accuracy(lambda tol, make=make, X=X, y=y: _with_data(make(tol), X, y), err, RIDGE_TARGET,
                              repeats,
                              TOLS if iterative else (None,))
            if got is not None:
                results.append((pname, *got))
        rows.append(_row(name, ours_t, ours.solver_, err(ours), results, RIDGE_TARGET))
        print(rows[-1], flush=True)
    return rows


def run_logistic(quick, repeats):
    rows, skipped_all = [], set()
    for name, X, y, C, fi in logistic_problems(quick):
        n = X.shape[0]
        print(name, file=sys.stderr, flush=True)
        ours_t, ours = timed(quiet(lambda X=X, y=y, C=C, fi=fi: SketchyLogisticRegression(
            C=C, fit_intercept=fi).fit(X, y)), repeats)
        print(f"  ours {ours_t:.2f} s, {ours.solver_}; {ours.decision_.report() if ours.decision_ else ''}",
              file=sys.stderr, flush=True)
        tight = quiet(lambda X=X, y=y, C=C, fi=fi: SketchyLogisticRegression(
            C=C, fit_intercept=fi, tol=1e-11, solver="newton_cholesky" if X.shape[1] <= 3000 else "nncg"
        ).fit(X, y))()
        fstar = logistic_objective(X, y, C, tight.coef_, tight.intercept_)

        def err(est, X=X, y=y, C=C, fstar=fstar):
            coef = est.coef_
            b = getattr(est, "intercept_", 0.0)
            return (logistic_objective(X, y, C, coef, b) - fstar) / abs(fstar)

        peers = logistic_peers(C, fi, X.shape[1], quick)
        extra, skipped = optional_peers(C, fi, n, X.shape[1], sp.issparse(X))
        skipped_all.update(skipped)
        results = []
        for pname, make, _ in peers + extra:
            if make is None:
                continue
            print(f"  {pname}", file=sys.stderr, flush=True)
            try:
                got = to_accuracy(lambda tol, make=make, X=X, y=y: _with_data(make(tol), X, y), err,
                                  LOGISTIC_TARGET, repeats)
            except Exception as exc:  # an optional peer that rejects the input
                print(f"{pname}: {type(exc).__name__}: {exc}"[:200])
                continue
            if got is not None:
                results.append((pname, *got))
        rows.append(_row(name, ours_t, ours.solver_, max(err(ours), 0.0), results, LOGISTIC_TARGET))
        print(rows[-1], flush=True)
    return rows, skipped_all


def _row(name, ours_t, solver, ours_err, results, target):
    reached = [r for r in results if r[2] <= target]
    sk = [r for r in reached if r[0].startswith(("Ridge", "LogisticRegression"))]
    best = min(reached, key=lambda r: r[1]) if reached else None
    best_sk = min(sk, key=lambda r: r[1]) if sk else None
    others = "; ".join(f"{p} {t:.2f} s ({e:.0e}{'' if e <= target else ' ✗'})" for p, t, e, _ in results)
    ratio = f"{ours_t / best_sk[1]:.2f}" if best_sk else "—"
    ratio_all = f"{ours_t / best[1]:.2f}" if best else "—"
    return [name, f"{ours_t:.2f}", solver, f"{ours_err:.0e}",
            f"{best_sk[0]} {best_sk[1]:.2f}" if best_sk else "none reached", ratio, ratio_all, others]


HEADER = ["problem", "ours (s)", "solver_", "ours' error", "fastest scikit-learn solver (s)",
          "ours / sklearn", "ours / any peer", "all peers (time, error)"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (< 2 min)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=("ridge", "logistic"), default=None)
    parser.add_argument("--write-docs", action="store_true", help="write the 'dispatch' section")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    global BUDGET
    BUDGET = BUDGET / 5 if args.quick else BUDGET
    rows, skipped = [], set()
    if args.only != "logistic":
        rows += run_ridge(args.quick, repeats)
    if args.only != "ridge":
        lrows, skipped = run_logistic(args.quick, repeats)
        rows += lrows
    md = ["### solver='auto' against the solver a user would pick" + (" (quick sizes)" if args.quick else ""),
          "", f"Machine: {machine()}.", "",
          "Time to the same accuracy: ridge relative normal-equations residual <= "
          f"{RIDGE_TARGET:g}, logistic relative suboptimality <= {LOGISTIC_TARGET:g} (vs the best value "
          "reached with a tight "
          "tolerance). Ours: default settings. Iterative peers: the first of tol = 1e-4 … 1e-10 that reaches "
          f"the accuracy (✗: none did). Medians of {repeats}.", "",
          markdown_table(HEADER, rows)]
    if skipped:
        md += ["", "Optional peers not installed: " + ", ".join(sorted(skipped)) + "."]
    text = "\n".join(md)
    print(text)
    if args.write_docs:
        write_section("dispatch", text)


if __name__ == "__main__":
    main()
