"""The main job (``python -m rnla`` / ``rnla``) on small built-in data."""

import re
import subprocess
import sys

import pytest

from rnla.__main__ import main


def test_main_solves_and_compares_with_cg(capsys):
    assert main(["--n-samples", "600", "--n-features", "120", "--rtol", "1e-10"]) == 0
    out = capsys.readouterr().out
    rows = {m.group(1): m for m in re.finditer(
        r"^\s+(Nyström PCG|CG, no preconditioner)\S*(?: \(rank (\d+)\))?\s+(-?\d+)\s+(\d+)\s+(\d+)\s+"
        r"([\d.]+)\s+([\d.e+-]+)$", out, flags=re.M)}
    assert set(rows) == {"Nyström PCG", "CG, no preconditioner"}
    for m in rows.values():
        assert m.group(3) == "0"                      # info: converged
        assert float(m.group(7)) < 1e-3              # relative error against the direct solve
    assert int(rows["Nyström PCG"].group(4)) < int(rows["CG, no preconditioner"].group(4))


def test_main_float32(capsys):
    assert main(["--n-samples", "400", "--n-features", "80", "--dtype", "float32", "--rtol", "1e-4"]) == 0
    assert "float32" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["--mu", "-1"], ["--n-samples", "10", "--n-features", "20"]])
def test_main_rejects_bad_options(argv, capsys):
    assert main(argv) == 2
    assert "rnla:" in capsys.readouterr().err


def test_python_dash_m_runs():
    proc = subprocess.run([sys.executable, "-m", "rnla", "--n-samples", "300", "--n-features", "60"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Nyström PCG" in proc.stdout
