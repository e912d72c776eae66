"""``rnla bench``: run the scripts of ``benchmarks/`` in a source checkout and write their report.

By default the report goes to ``benchmarks/results/`` of the checkout (git-ignored), so a run never
rewrites tracked files; ``--write-docs`` updates ``docs/benchmarks.md`` (``docs/benchmarks-quick.md``
with ``--quick``) and ``docs/img/`` instead. A quick run has a time budget: once it is spent, no
further part starts (nor, inside a part, a further problem: ``RNLA_BENCH_DEADLINE``), and the report
names what was skipped.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from pathlib import Path

#: (script, arguments of the full run, arguments of the quick run); the full runs reproduce every
#: table of docs/benchmarks.md (about 75 minutes on 2 cores), the quick ones about 2 minutes.
SCRIPTS = (
    ("ridge_pcg", [], ["--quick"]),
    ("spectrum", [], ["--quick"]),
    ("glm", [], ["--quick"]),
    ("second_order", [], ["--quick"]),
    ("estimators", [], ["--quick"]),
)

#: Seconds after which a quick run starts no further part (``--budget`` overrides it).
QUICK_BUDGET = 180.0

QUICK_HEADER = ("# Benchmarks (quick run)\n\nWritten by `rnla bench --quick`: small variants of the problems "
                "in [benchmarks.md](benchmarks.md), for a check in minutes. The full report (`rnla bench`) "
                "has the published numbers.\n")
FULL_HEADER = "# Benchmarks\n\nWritten by `rnla bench`.\n"

_clock = time.perf_counter  # the tests replace it to simulate a slow machine


def _locations(root: Path, quick: bool, out, out_dir, write_docs):
    """(report path, image folder, how the report links the images, whether the report is tracked)."""
    name = "benchmarks-quick.md" if quick else "benchmarks.md"
    link = "img/quick" if quick else "img"
    if write_docs:
        report = root / "docs" / name
    elif out is not None:
        report = Path(out)
    else:
        report = (Path(out_dir) if out_dir is not None else root / "benchmarks" / "results") / name
    return report, report.parent / link, link, write_docs


def _section(report: Path, key: str, markdown: str | None):
    """Replace, append or (``markdown=None``) remove the ``<!-- key:start/end -->`` block."""
    start, end = f"<!-- {key}:start -->", f"<!-- {key}:end -->"
    text = report.read_text() if report.exists() else ""
    block = "" if markdown is None else f"{start}\n{markdown.rstrip()}\n{end}\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1].lstrip("\n")
    elif block:
        text = text.rstrip("\n") + "\n\n" + block
    report.write_text(text)


def run(root: Path, quick: bool, *, error, out=None, out_dir=None, write_docs=False, budget=None,
        require_matplotlib=None) -> int:
    """Run the benchmark scripts; returns the exit status (0, also when the budget skipped parts)."""
    bench_dir = root / "benchmarks"
    if not (bench_dir / "_report.py").is_file():
        raise error(f"rnla bench: no benchmarks/ directory under {root.resolve()}; run it from a source "
                    "checkout of rnla (or pass --root)")
    if require_matplotlib is not None:
        require_matplotlib("bench", "the benchmark plots")
    if budget is None and quick:
        budget = QUICK_BUDGET
    report, img, link, tracked = _locations(root, quick, out, out_dir, write_docs)
    try:
        report.parent.mkdir(parents=True, exist_ok=True)
        if not tracked or not report.exists():
            report.write_text(QUICK_HEADER if quick else FULL_HEADER)  # a scratch report: this run only
    except OSError as exc:
        raise error(f"rnla bench: cannot write {report}: {exc.strerror or exc}") from None
    print(f"rnla bench: writing {report} (plots in {img}){'' if tracked else '; --write-docs updates docs/'}",
          flush=True)
    os.environ["RNLA_BENCH_REPORT"] = str(report.resolve())
    os.environ["RNLA_BENCH_IMG"] = str(img.resolve())
    os.environ["RNLA_BENCH_IMG_LINK"] = link
    path = str(bench_dir.resolve())
    sys.path.insert(0, path)
    for name in list(sys.modules):  # fresh imports read the report location set above
        if name in ("_report", "problems") or name in {s for s, _, _ in SCRIPTS}:
            del sys.modules[name]
    start = _clock()
    if budget is None:
        os.environ.pop("RNLA_BENCH_DEADLINE", None)
    else:  # the scripts start no further problem after it (benchmarks/_report.py: deadline_passed)
        os.environ["RNLA_BENCH_DEADLINE"] = str(time.time() + budget)
    parts, skipped = [], []
    try:
        for script, full_args, quick_args in SCRIPTS:
            elapsed = _clock() - start
            if budget is not None and parts and elapsed >= budget:
                skipped.append(script)
                continue
            t0 = _clock()
            print(f"rnla bench: {script} {' '.join(quick_args if quick else full_args)}", flush=True)
            importlib.import_module(script).main(quick_args if quick else full_args)
            parts.append((script, _clock() - t0))
            print(f"rnla bench: {script} done in {parts[-1][1]:.0f} s", flush=True)
    finally:
        sys.path.remove(path)
        os.environ.pop("RNLA_BENCH_DEADLINE", None)
    total = _clock() - start
    if skipped:
        note = (f"**Incomplete run**: the time budget ({budget:g} s) was spent after {total:.0f} s, so these "
                f"parts did not run (skipped): {', '.join(skipped)}. Run `rnla bench --quick --budget "
                "SECONDS` with more time to include them.")
        _section(report, "skipped", note)
        print(f"rnla bench: budget of {budget:g} s spent; skipped {', '.join(skipped)}", flush=True)
    else:
        _section(report, "skipped", None)
    split = ", ".join(f"{s} {t:.0f} s" for s, t in parts)
    print(f"rnla bench: total {total:.0f} s ({split}); wrote {report}")
    return 0
