"""The project's promises about itself: README commands, CI script, packaging metadata."""

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands():
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.+?)\n```", text)


def test_readme_shows_exactly_two_commands_main_job_and_tests():
    commands = _readme_commands()
    assert len(commands) == 2
    main, tests = commands
    assert "rnla" in main and "pytest" not in main
    assert "pytest" in tests and ".[test]" in tests


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert _readme_commands()[1] in ci


def test_pyproject_declares_packages_extras_markers_and_script():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = meta["project"]
    deps = " ".join(project["dependencies"])
    for dep in ("numpy", "scipy", "scikit-learn", "array-api-compat"):
        assert dep in deps
    extras = project["optional-dependencies"]
    assert {"test", "plot", "gpu", "dask"} <= set(extras)
    assert any("array-api-strict" in e for e in extras["test"])
    assert meta["tool"]["setuptools"]["packages"] == ["rnla", "optim"]
    assert project["scripts"]["rnla"] == "rnla.__main__:main"
    markers = " ".join(meta["tool"]["pytest"]["ini_options"]["markers"])
    assert "gpu:" in markers and "slow:" in markers
