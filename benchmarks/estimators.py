"""Estimators against scikit-learn: fit time, held-out score and coefficient agreement.

Each problem is split 75/25 (seed 0); our estimator and its scikit-learn peers fit the same
training set with default tolerances, in the same process; times are medians of ``--repeats``
fits. "coef. diff" is ``‖coef − coef_ref‖ / ‖coef_ref‖`` against the first peer, which is
solved directly or to a tight tolerance. Writes the "estimators" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _report
from _report import deadline_passed, machine, markdown_table, skipped_note, timed_fit, write_section
from problems import make_l2, make_r2
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from optim import NystromKernelRidge, SketchyLogisticRegression, SketchyRidge


def _scaled(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _r2_inputs(n):
    """The 8-dimensional inputs Z of R2 (same seed), for kernel ridge on them."""
    rng = np.random.default_rng(1)
    Z = rng.standard_normal((n, 8))
    y = np.sin(Z @ rng.standard_normal(8) / 2) + 0.1 * rng.standard_normal(n)
    return Z, y


def problems(quick):
    """(key, description, X, y, ours, [(peer name, peer)], coefficient attribute)."""
    out = []
    X, y = _scaled(load_diabetes)
    out.append(("diabetes ridge", "diabetes (442×10, scaled), alpha = 1", X, y, SketchyRidge(alpha=1.0),
                [("Ridge (cholesky)", Ridge(alpha=1.0)),
                 ("Ridge (sparse_cg)", Ridge(alpha=1.0, solver="sparse_cg"))],
                "coef_"))
    X, y = _scaled(load_breast_cancer)
    out.append(("breast cancer logistic", "breast cancer (569×30, scaled), C = 1", X, y,
                SketchyLogisticRegression(C=1.0),
                [("LogisticRegression (lbfgs)", LogisticRegression(C=1.0, tol=1e-10, max_iter=10000)),
                 ("LogisticRegression (newton-cholesky)",
                  LogisticRegression(C=1.0, solver="newton-cholesky"))],
                "coef_"))
    X, y = _scaled(load_digits)
    out.append(("digits multinomial", "digits (1797×64, scaled), 10 classes, C = 0.1", X, y,
                SketchyLogisticRegression(C=0.1),
                [("LogisticRegression (lbfgs)", LogisticRegression(C=0.1, tol=1e-10, max_iter=10000)),
                 ("LogisticRegression (newton-cholesky)",
                  LogisticRegression(C=0.1, solver="newton-cholesky"))],
                "coef_"))
    X, y = _scaled(load_diabetes)
    out.append(("diabetes kernel ridge", "diabetes, RBF kernel γ = 0.1, alpha = 0.1", X, y,
                NystromKernelRidge(alpha=0.1, gamma=0.1),
                [("KernelRidge", KernelRidge(alpha=0.1, kernel="rbf", gamma=0.1))], "dual_coef_"))
    n_r2, d_r2 = (5000, 2000) if quick else (20000, 8000)
    X, y, _ = make_r2(n_r2, d_r2)
    alpha = 1e-6 * 0.75 * n_r2  # R2's mu = 1e-6 on the mean-form objective of the training split
    out.append(("R2 ridge", f"R2{' (5000×2000 variant)' if quick else ''}: {n_r2}×{d_r2} random features, "
                f"alpha = {alpha:g} (mu = 1e-6)", X, y, SketchyRidge(alpha=alpha, fit_intercept=False),
                [("Ridge (cholesky)", Ridge(alpha=alpha, fit_intercept=False)),
                 ("Ridge (sparse_cg)", Ridge(alpha=alpha, fit_intercept=False, solver="sparse_cg")),
                 ("Ridge (lsqr)", Ridge(alpha=alpha, fit_intercept=False, solver="lsqr"))], "coef_"))
    n_l2, d_l2 = (10000, 500) if quick else (50000, 2000)
    X, y, reg = make_l2(n_l2, 10, d_l2)
    C = 1.0 / (reg * 0.75 * n_l2)
    out.append(("L2 logistic", f"L2{' (10000×500 variant)' if quick else ''}: {n_l2}×{d_l2} random features, "
                f"reg = 1e-5 (C = {C:.3g}), no intercept", X, y,
                SketchyLogisticRegression(C=C, fit_intercept=False),
                [("LogisticRegression (newton-cholesky)",
                  LogisticRegression(C=C, fit_intercept=False, solver="newton-cholesky", tol=1e-8)),
                 ("LogisticRegression (lbfgs)", LogisticRegression(C=C, fit_intercept=False, max_iter=1000))],
                "coef_"))
    n_k = 2000 if quick else 8000
    Z, yz = _r2_inputs(n_k)
    out.append(("kernel ridge on R2's inputs", f"Z ({n_k}×8) of R2, y = sin(Zv/2) + 0.1ε, RBF γ = 0.125, "
                "alpha = 1e-3", Z, yz, NystromKernelRidge(alpha=1e-3, gamma=0.125),
                [("KernelRidge", KernelRidge(alpha=1e-3, kernel="rbf", gamma=0.125))], "dual_coef_"))
    return out


def run(key, description, X, y, ours, peers, attr, repeats):
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0)
    ours.set_params(random_state=0)
    rows, fitted = [], []
    for name, est in [("ours: " + type(ours).__name__, ours), *peers]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            times = []
            for _ in range(repeats):
                times.append(timed_fit(est, X_tr, y_tr))
                if times[-1] > _report.NO_REPEAT_AFTER:
                    break
        fitted.append(est)
        rows.append([name, float(np.median(times)), est.score(X_te, y_te),
                     int(np.max(np.asarray(getattr(est, "n_iter_", [0]) or [0])))])
    ref = np.asarray(getattr(fitted[1], attr))
    table = []
    for (name, seconds, score, _), est in zip(rows, fitted, strict=True):
        diff = np.linalg.norm(np.asarray(getattr(est, attr)) - ref) / np.linalg.norm(ref)
        table.append([name, f"{seconds:.3f}", f"{seconds / rows[0][1]:.2f}", f"{score:.4f}", f"{diff:.1e}"])
    print(f"{key}: " + "; ".join(f"{r[0]} {r[1]} s score {r[3]}" for r in table), flush=True)
    return {"key": key, "description": description, "table": table}


def report(results, repeats, quick, skipped=()):
    parts = ["## Estimators against scikit-learn (`benchmarks/estimators.py`)", "",
             f"Machine: {machine()}. Each problem is split 75/25 (seed 0); fit times are medians of "
             f"{repeats} fit{'s' if repeats > 1 else ''} (a fit longer than {_report.NO_REPEAT_AFTER:g} s is "
             "not repeated) on the training part, scores on the held-out part "
             "(R² for regression, accuracy for classification); defaults everywhere except where the "
             "description says otherwise. 'time / ours' > 1 means the peer is slower. 'coef. diff' is the "
             "relative difference of `coef_` (or `dual_coef_`) to the first scikit-learn peer's."
             + (" Quick run: smaller variants of R2/L2." if quick else ""), ""]
    for r in results:
        parts += [f"### {r['key']}", "", r["description"], "",
                  markdown_table(["estimator", "fit time [s]", "time / ours", "held-out score", "coef. diff"],
                                 r["table"]), ""]
    write_section("estimators", "\n".join([*parts, *skipped_note(skipped)]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smaller R2/L2/kernel problems")
    args = parser.parse_args(argv)
    repeats = args.repeats
    if args.quick:
        _report.NO_REPEAT_AFTER = 3.0  # a fit slower than that runs once
    t0 = time.perf_counter()
    results, skipped = [], []
    for p in problems(args.quick):
        if results and deadline_passed():
            skipped.append(p[0])
            continue
        results.append(run(*p, repeats))
    report(results, repeats, args.quick, skipped)
    print(f"done in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
