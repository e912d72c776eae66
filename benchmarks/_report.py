"""Helpers shared by the benchmark scripts: timing, machine description, report sections."""

from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
#: Where the report and its plots go; ``rnla bench --quick`` points these at a separate short report.
REPORT = Path(os.environ.get("RNLA_BENCH_REPORT", DOCS / "benchmarks.md"))
IMG = Path(os.environ.get("RNLA_BENCH_IMG", DOCS / "img"))
#: How the report links its plots (relative to the report).
IMG_LINK = os.environ.get("RNLA_BENCH_IMG_LINK", "img")


class BudgetExceeded(Exception):
    """Raised from a solver callback once a peer has used its time budget."""


def budget_callback(seconds):
    """A ``callback(xk)`` for SciPy solvers that counts iterations and stops after ``seconds``."""
    state = {"iterations": 0, "x": None, "start": time.perf_counter()}

    def callback(xk):
        state["iterations"] += 1
        state["x"] = xk
        if time.perf_counter() - state["start"] > seconds:
            raise BudgetExceeded

    return callback, state


def deadline_passed():
    """True once the time budget of ``rnla bench`` is spent (``RNLA_BENCH_DEADLINE``, seconds since the
    epoch; unset outside a budgeted run): scripts then start no further problem."""
    deadline = os.environ.get("RNLA_BENCH_DEADLINE")
    return deadline is not None and time.time() >= float(deadline)


def skipped_note(skipped):
    """Report lines naming the problems the time budget left out (none when nothing was skipped)."""
    if not skipped:
        return []
    return [f"*Not run: {', '.join(skipped)} (the time budget of `rnla bench` was spent).*", ""]


#: A run longer than this many seconds is not repeated (the quick report lowers it).
NO_REPEAT_AFTER = 60.0


def timed(fn, repeats):
    """Run ``fn`` up to ``repeats`` times; returns (median seconds, runs, last output).

    A run longer than :data:`NO_REPEAT_AFTER` (60 s) is not repeated: the median is then of the runs
    made.
    """
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        if times[-1] > NO_REPEAT_AFTER:
            break
    return statistics.median(times), len(times), out


def timed_fit(est, X, y):
    """Fit a scikit-learn estimator with its ConvergenceWarning silenced; returns the seconds taken.

    The benchmarks stop solvers early on purpose (a growing ``max_iter``), so the warning is noise.
    """
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        est.fit(X, y)
        return time.perf_counter() - t0


def machine():
    """One line naming the machine: CPU, cores, BLAS, library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        m = re.search(r"Model name:\s*(.+)", out)
        cpu = m.group(1).strip() if m else cpu
    except OSError:
        pass
    blas = "unknown BLAS"
    try:
        cfg = np.show_config(mode="dicts")
        info = cfg["Build Dependencies"]["blas"]
        blas = f"{info.get('name', '?')} {info.get('version', '')}".strip()
    except Exception:
        pass
    import scipy
    import sklearn

    return (f"{cpu}, {os.cpu_count()} cores, {blas}; Python {platform.python_version()}, "
            f"NumPy {np.__version__}, SciPy {scipy.__version__}, scikit-learn {sklearn.__version__}; no GPU")


def write_section(key, markdown, path=None):
    """Replace (or append) the section delimited by ``<!-- key:start -->``/``<!-- key:end -->``."""
    path = REPORT if path is None else path
    path.parent.mkdir(parents=True, exist_ok=True)
    start, end = f"<!-- {key}:start -->", f"<!-- {key}:end -->"
    block = f"{start}\n{markdown.rstrip()}\n{end}\n"
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = head + block + tail.lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text)


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
