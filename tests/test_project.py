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
    assert project["scripts"]["rnla"] == "optim.cli:main"
    markers = " ".join(meta["tool"]["pytest"]["ini_options"]["markers"])
    assert "gpu:" in markers and "slow:" in markers


@pytest.mark.parametrize("package", ["rnla", "optim"])
def test_api_reference_documents_every_public_name(package):
    """docs/api/<package>.md holds a mkdocstrings directive for each name in ``__all__``."""
    module = __import__(package)
    page = (ROOT / "docs" / "api" / f"{package}.md").read_text()
    documented = set(re.findall(rf"^::: {package}\.(\w+)$", page, flags=re.M))
    assert documented == set(module.__all__)


def test_algorithm_pages_are_all_in_the_docs_navigation():
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = sorted(p.name for p in (ROOT / "docs" / "algorithms").glob("*.md"))
    assert pages and all(f"algorithms/{p}" in nav for p in pages)
    index = (ROOT / "docs" / "algorithms.md").read_text()
    assert all(f"algorithms/{p}" in index for p in pages)


@pytest.mark.slow
def test_docs_build_strictly(tmp_path):
    """The documentation site, API reference included, builds without a warning."""
    pytest.importorskip("mkdocstrings")
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "SketchyRidge" in (tmp_path / "site" / "api" / "optim" / "index.html").read_text()
