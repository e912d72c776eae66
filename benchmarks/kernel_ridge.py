"""NystromKernelRidge's solvers against scikit-learn's KernelRidge: fit time, held-out R², agreement.

Problems: R2's 8-dimensional inputs (``estimators._r2_inputs``: ``y = sin(Zv/2) + 0.1ε``, RBF
``γ = 0.125``, ``alpha = 1e-3``) with ``n`` training points and 2000 held-out ones, and the
bundled diabetes data set (scaled, 75/25 split). Ours with ``solver='auto'`` and each named
solver against ``KernelRidge`` in the same process; times are medians of ``--repeats`` fits
(one above 60 s). "pred. diff" is ``‖p − p_KR‖ / ‖p_KR‖`` of the held-out predictions. The inducing-point mode
(``solver='inducing'``, ``tol=1e-3``) runs at n = 50000 and 200000 with M = 1000..4000 centres,
each in a child process so that its peak resident memory (``VmHWM``) is its own.

    OPENBLAS_NUM_THREADS=2 python benchmarks/kernel_ridge.py --quick   # n <= 8000, < 2 min
    OPENBLAS_NUM_THREADS=2 python benchmarks/kernel_ridge.py           # full, < 8 min
    ... --write-docs   # also writes the "kernel_ridge" section of docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _report
from _report import deadline_passed, machine, markdown_table, skipped_note, timed, write_section
from estimators import _r2_inputs
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.kernel_ridge import KernelRidge
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from optim import NystromKernelRidge

N_TEST = 2000
GAMMA, ALPHA = 0.125, 1e-3
#: FALKON's fits stop at a loose residual: the held-out R² is the same as at 1e-6 to 4 digits
#: (n = 20000, M = 1000: 0.9602 at 1e-3, 0.9600 at 1e-6) for a third of the iterations.
INDUCING_TOL = 1e-3


def r2_problem(n):
    Z, y = _r2_inputs(n + N_TEST)
    return Z[:n], y[:n], Z[n:], y[n:]


def diabetes_problem():
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    y = (y - y.mean()) / y.std()
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0)
    return X_tr, y_tr, X_te, y_te


def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


def compare(name, data, gamma, alpha, solvers, repeats):
    """Rows (estimator, time, time/KR, R², pred. diff, detail) for one problem."""
    X, y, X_te, y_te = data
    ref_t, _, ref = timed(lambda: KernelRidge(alpha=alpha, kernel="rbf", gamma=gamma).fit(X, y), repeats)
    rows = []
    for solver in solvers:
        est = NystromKernelRidge(alpha=alpha, gamma=gamma, solver=solver, random_state=0)
        t, _, est = timed(lambda est=est: _fit(est, X, y), repeats)
        ref_pred = ref.predict(X_te)
        diff = np.linalg.norm(est.predict(X_te) - ref_pred) / np.linalg.norm(ref_pred)
        detail = f"{est.solver_}, rank {est.rank_}, iterations {int(np.max(est.n_iter_))}"
        rows.append([f"ours ({solver})", f"{t:.2f}", f"{t / ref_t:.2f}", f"{est.score(X_te, y_te):.4f}",
                     f"{diff:.1e}", detail])
        print(f"{name}: {solver}: {t:.2f} s ({t / ref_t:.2f}× KernelRidge) {detail}", flush=True)
    rows.append(["KernelRidge", f"{ref_t:.2f}", "1.00", f"{ref.score(X_te, y_te):.4f}", "0", "Cholesky"])
    print(f"{name}: KernelRidge {ref_t:.2f} s", flush=True)
    return rows


def _peak_rss():
    """Peak resident bytes of this process since its exec: ``VmHWM`` (Linux). ``ru_maxrss`` is the
    fallback, but it keeps the parent's resident size from before the fork."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def inducing_one(n, m, max_memory):
    """One inducing-point fit (run in a child process): prints a JSON line."""
    X, y, X_te, y_te = r2_problem(n)
    est = NystromKernelRidge(alpha=ALPHA, gamma=GAMMA, solver="inducing", n_components=m, tol=INDUCING_TOL,
                             random_state=0, max_memory=max_memory)
    t0 = time.perf_counter()
    _fit(est, X, y)
    seconds = time.perf_counter() - t0
    peak = _peak_rss()
    print(json.dumps({"seconds": seconds, "r2": est.score(X_te, y_te), "peak": peak,
                      "iterations": int(np.max(est.n_iter_))}))


def inducing_rows(configs, max_memory):
    rows = []
    for n, m in configs:
        if deadline_passed():
            break
        cmd = [sys.executable, __file__, "--inducing-one", str(n), str(m)]
        if max_memory is not None:
            cmd += ["--max-memory", str(max_memory)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        r = json.loads(out)
        rows.append([f"{n}", f"{m}", f"{r['seconds']:.1f}", f"{r['r2']:.4f}", f"{r['peak'] / 2**30:.2f}",
                     f"{r['iterations']}"])
        print(f"inducing n={n} M={m}: {r}", flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="n <= 8000 and smaller inducing runs")
    parser.add_argument("--write-docs", action="store_true", help="write the docs/benchmarks.md section")
    parser.add_argument("--inducing-one", nargs=2, type=int, metavar=("N", "M"), help=argparse.SUPPRESS)
    parser.add_argument("--max-memory", type=float, default=None,
                        help="max_memory of the inducing fits (bytes; default: the estimator's)")
    args = parser.parse_args(argv)
    if args.inducing_one:
        inducing_one(*args.inducing_one, args.max_memory)
        return
    if args.quick:
        _report.NO_REPEAT_AFTER = 3.0
    t0 = time.perf_counter()
    sizes = [2000, 8000] if args.quick else [2000, 8000, 15000, 20000]
    parts = ["## Kernel ridge regression (`benchmarks/kernel_ridge.py`)", "",
             f"Machine: {machine()}. {__doc__.split(chr(10) + chr(10))[1]}", ""]
    skipped = []
    for n in sizes:
        if deadline_passed():
            skipped.append(f"R2 inputs n = {n}")
            continue
        # every solver at the small sizes; above, 'auto' and 'pcg' (auto is one of the named ones)
        solvers = ["auto", "direct", "pcg", "inducing"] if n <= 8000 else ["auto", "pcg"]
        rows = compare(f"R2 n={n}", r2_problem(n), GAMMA, ALPHA, solvers, args.repeats if n <= 8000 else 1)
        parts += [f"### R2 inputs, n = {n} (+{N_TEST} held out), RBF γ = {GAMMA}, alpha = {ALPHA:g}", "",
                  markdown_table(["estimator", "fit time [s]", "time / KR", "held-out R²", "pred. diff",
                                  "solver, rank, CG iterations"], rows), ""]
    rows = compare("diabetes", diabetes_problem(), 0.02, 1.0, ["auto", "direct", "pcg", "inducing"],
                   args.repeats)
    parts += ["### diabetes (442 × 10, scaled, 75/25), RBF γ = 0.02, alpha = 1", "",
              markdown_table(["estimator", "fit time [s]", "time / KR", "held-out R²", "pred. diff",
                              "solver, rank, CG iterations"], rows), ""]
    configs = ([(50000, 1000)] if args.quick
               else [(50000, 1000), (50000, 4000), (200000, 1000), (200000, 2000)])
    rows = inducing_rows(configs, args.max_memory)
    parts += [f"### Inducing points (FALKON), R2 inputs, RBF γ = {GAMMA}, alpha = {ALPHA:g}", "",
              "Peak memory is the fit's process's resident peak (data, K_nM when it fits `max_memory`, "
              "blocks otherwise).", "",
              markdown_table(["n", "M", "fit time [s]", "held-out R²", "peak memory [GiB]", "CG iterations"],
                             rows), ""]
    parts += skipped_note(skipped)
    if args.write_docs:
        write_section("kernel_ridge", "\n".join(parts))
    else:
        print("\n".join(parts))
    print(f"done in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
