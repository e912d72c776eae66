"""``rnla bench``: run the scripts of ``benchmarks/`` in a source checkout and write the report."""

from __future__ import annotations

import importlib
import os
import sys
import time
from pathlib import Path

#: (script, arguments of the full run, arguments of the quick run); the full runs reproduce every
#: table of docs/benchmarks.md (about 75 minutes on 2 cores), the quick ones take under 5.
SCRIPTS = (
    ("ridge_pcg", [], ["--quick"]),
    ("spectrum", [], ["--quick"]),
    ("glm", [], ["--quick"]),
    ("second_order", [], ["--quick"]),
    ("estimators", [], ["--quick"]),
)


def run(root: Path, quick: bool, out, error) -> int:
    bench_dir = root / "benchmarks"
    if not (bench_dir / "_report.py").is_file():
        raise error(f"rnla bench: no benchmarks/ directory under {root.resolve()}; run it from a source "
                    "checkout of rnla (or pass --root)")
    docs = root / "docs"
    report = Path(out) if out else docs / ("benchmarks-quick.md" if quick else "benchmarks.md")
    img = report.parent / ("img/quick" if quick else "img")
    os.environ["RNLA_BENCH_REPORT"] = str(report.resolve())
    os.environ["RNLA_BENCH_IMG"] = str(img.resolve())
    os.environ["RNLA_BENCH_IMG_LINK"] = "img/quick" if quick else "img"
    if quick and not report.exists():
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text("# Benchmarks (quick run)\n\nWritten by `rnla bench --quick`: small variants of "
                          "the "
                          "problems in [benchmarks.md](benchmarks.md), one run each, for a check in minutes. "
                          "The full report (`rnla bench`) has the published numbers.\n")
    sys.path.insert(0, str(bench_dir.resolve()))
    for name in list(sys.modules):  # fresh imports read the report location set above
        if name in ("_report", "problems") or name in {s for s, _, _ in SCRIPTS}:
            del sys.modules[name]
    start = time.perf_counter()
    try:
        for script, full_args, quick_args in SCRIPTS:
            t0 = time.perf_counter()
            print(f"rnla bench: {script} {' '.join(quick_args if quick else full_args)}", flush=True)
            importlib.import_module(script).main(quick_args if quick else full_args)
            print(f"rnla bench: {script} done in {time.perf_counter() - t0:.0f} s", flush=True)
    finally:
        sys.path.remove(str(bench_dir.resolve()))
    print(f"rnla bench: wrote {report} in {time.perf_counter() - start:.0f} s")
    return 0
