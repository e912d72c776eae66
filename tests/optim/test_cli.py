"""End-to-end tests of the ``rnla`` command (:mod:`optim.cli`, ``optim/_cli_data.py``,
``optim/_cli_bench.py``).

A handful of tests run ``python -m optim ...`` in a subprocess (the real entry point, exit status
and stderr of a process); the many variations of ``fit``/``solve``/``spectrum`` and the error cases
call :func:`optim.cli.main` in-process, which is the same code without the interpreter start-up.

* ``rnla fit`` on svmlight, CSV (with and without header, ``--target`` by name and by index,
  string class labels), ``.npz`` and ``.npy`` files, squared and logistic (binary, multiclass)
  loss, every ``--solver``, ``--alpha``, ``--test-size`` (also 0), ``--no-intercept``: the saved
  ``--out`` coefficients equal a direct fit of ``SketchyRidge`` /
  ``SketchyLogisticRegression(C=1/alpha)`` on the same ``train_test_split``, the printed objective
  equals the mean-form objective recomputed here from the saved coefficients, the printed held-out
  score equals the score recomputed here, and a PNG convergence plot is written.
* ``rnla fit`` on the built-in data (both losses).
* ``rnla solve`` on ``.npy``/``.npz``/``.mtx`` matrices with ``.npy``/``.txt``/``.mtx``
  right-hand sides: ``--out`` solves ``(A + mu I) x = b``; the built-in demo (marked slow).
* ``rnla spectrum`` writes a PNG; ``rnla bench`` outside a source checkout fails cleanly.
* Every malformed input or wrong option: exit status 2, exactly one non-empty line on stderr naming
  the file or option, no traceback, no stray warning.
* ``--help`` of the command and of each subcommand.

"""

import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp
from scipy.special import logsumexp
from sklearn.datasets import dump_svmlight_file, load_svmlight_file
from sklearn.model_selection import train_test_split

from optim import SketchyLogisticRegression, SketchyRidge
from optim.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# ----------------------------------------------------------------------------- helpers


def run_rnla(cwd, *args, timeout=300):
    """``python -m optim ARGS`` in ``cwd``: the ``rnla`` console script, as a separate process."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    return subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-m", "optim", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env)


# Warnings Python does not show by default (so they add no line to the command's stderr); NumPy leaves
# a file open when a .npz is not a zip archive, which is a ResourceWarning of its own.
_HIDDEN = (ResourceWarning, DeprecationWarning, PendingDeprecationWarning, ImportWarning)


def cli(capsys, *args):
    """``main(ARGS)`` in-process: ``(exit status, stdout, stderr, escaped warnings the command would
    show)``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    shown = [f"{w.category.__name__}: {w.message}" for w in caught if not issubclass(w.category, _HIDDEN)]
    return rc, out, err, shown


def number(pattern, text):
    m = re.search(pattern, text)
    assert m, f"{pattern!r} not found in output:\n{text}"
    return float(m.group(1))


def parse_fit_report(out):
    """The numbers ``rnla fit`` prints."""
    report = {
        "objective": number(r"objective\s+(\S+)\s+\(mean-form training objective\)", out),
        "fit_time": number(r"fit time\s+([0-9.]+) s", out),
        "iterations": number(r"iterations\s+(\d+)", out),
        "train": number(r"train (?:R²|accuracy)\s*(-?[0-9.]+)", out),
    }
    m = re.search(r"held-out (?:R²|accuracy)\s*(-?[0-9.]+)\s+\((\d+) samples\)", out)
    report["heldout"] = float(m.group(1)) if m else None
    report["n_test"] = int(m.group(2)) if m else 0
    return report


def assert_png(path):
    assert path.is_file(), f"{path} was not written"
    assert path.read_bytes()[:8] == PNG_MAGIC


def assert_one_line_error(rc, err, *needles):
    """Exit status 2 and exactly one non-empty line on stderr, mentioning every needle."""
    assert rc == 2, f"exit status {rc}, stderr:\n{err}"
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{err}"
    line = lines[0].strip()
    assert line.startswith("rnla"), line
    for needle in needles:
        assert needle in line, f"{needle!r} not in {line!r}"
    return line


# ------------------------------------------------------------------------ objectives and data


def squared_objective(X, y, coef, intercept, alpha):
    """``(1/2n) ‖X w + b − y‖² + alpha/(2n) ‖w‖²``."""
    n = X.shape[0]
    r = np.asarray(X @ coef).ravel() + intercept - y
    return (r @ r) / (2 * n) + alpha / (2 * n) * (coef @ coef)


def logistic_objective(X, y, classes, coef, intercept, alpha):
    """Binary: ``(1/n) Σ log(1 + exp(−ỹ z)) + alpha/(2n) ‖w‖²`` with ``ỹ = ±1`` (``+1`` for
    ``classes[1]``); multiclass: ``(1/n) Σ (logsumexp(z_i) − z_{i, y_i}) + alpha/(2n) ‖W‖²_F``."""
    n = X.shape[0]
    coef, intercept = np.atleast_2d(coef), np.atleast_1d(intercept)
    Z = np.asarray(X @ coef.T) + intercept
    penalty = alpha / (2 * n) * np.sum(coef**2)
    if len(classes) == 2:
        sign = np.where(y == classes[1], 1.0, -1.0)
        return np.mean(np.logaddexp(0.0, -sign * Z[:, 0])) + penalty
    idx = np.searchsorted(classes, y)
    return np.mean(logsumexp(Z, axis=1) - Z[np.arange(n), idx]) + penalty


def predict_scores(X, y, loss, classes, coef, intercept):
    """R² (squared) or accuracy (logistic) of the saved coefficients on ``(X, y)``."""
    coef, intercept = np.atleast_2d(coef), np.atleast_1d(intercept)
    Z = np.asarray(X @ coef.T) + intercept
    if loss == "squared":
        pred = Z[:, 0]
        return 1.0 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2)
    pred = classes[(Z[:, 0] > 0).astype(int)] if len(classes) == 2 else classes[np.argmax(Z, axis=1)]
    return np.mean(pred == y)


def regression_data(n=80, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d) + 3.0 + 0.3 * rng.normal(size=n)
    return X, y


def classification_data(n=90, d=5, n_classes=2, seed=0):
    """Balanced classes around random centres, overlapping (the fit is not separable)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    rng.shuffle(y)
    centres = rng.normal(size=(n_classes, d))
    X = rng.normal(size=(n, d)) + 1.2 * centres[y]
    return X, y


def write_csv(path, columns, header=None):
    """Columns (numbers or strings) to a CSV file; floats are written exactly (``repr``)."""
    def cell(v):
        return str(v) if isinstance(v, str) else repr(float(v))

    lines = [",".join(header)] if header is not None else []
    lines += [",".join(cell(v) for v in row) for row in zip(*columns, strict=True)]
    path.write_text("\n".join(lines) + "\n")


def check_fit(out, model_path, X, y, *, loss, alpha=1.0, test_size=0.25, seed=0, solver="auto",
              fit_intercept=True):
    """The saved model equals a direct fit on the same split; printed numbers are right."""
    report = parse_fit_report(out)
    stratify = y if loss == "logistic" and test_size > 0 else None
    if test_size > 0:
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=test_size, random_state=seed,
                                                  stratify=stratify)
    else:
        X_tr, y_tr, X_te, y_te = X, y, None, None
    common = dict(fit_intercept=fit_intercept, solver=solver, random_state=seed)
    if loss == "squared":
        est = SketchyRidge(alpha=alpha, **common)
    else:
        est = SketchyLogisticRegression(C=1.0 / alpha, **common)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a PROMISE solver may stop at max_iter: the CLI only warns
        est.fit(X_tr, y_tr)

    model = np.load(model_path)
    coef, intercept = model["coef"], model["intercept"]
    scale = max(1.0, float(np.abs(est.coef_).max()))
    np.testing.assert_allclose(coef, est.coef_, rtol=1e-8, atol=1e-8 * scale)
    np.testing.assert_allclose(intercept, np.atleast_1d(est.intercept_), rtol=1e-8, atol=1e-8 * scale)
    if not fit_intercept:
        assert np.all(intercept == 0)
    assert str(model["loss"]) == loss and float(model["alpha"]) == alpha and str(model["solver"]) == solver
    assert int(np.max(model["n_iter"])) == report["iterations"]
    classes = model["classes"] if loss == "logistic" else None
    if loss == "logistic":
        np.testing.assert_array_equal(classes, np.unique(y))

    # the printed objective is the mean-form objective, recomputed here from the saved coefficients
    if loss == "squared":
        f = squared_objective(X_tr, y_tr, coef, intercept[0], alpha)
    else:
        f = logistic_objective(X_tr, y_tr, classes, coef, intercept, alpha)
    assert report["objective"] == pytest.approx(f, rel=1e-8)
    assert float(model["objective"]) == pytest.approx(f, rel=1e-10)
    assert report["fit_time"] >= 0 and float(model["fit_time"]) >= 0

    assert report["train"] == pytest.approx(predict_scores(X_tr, y_tr, loss, classes, coef, intercept),
                                            abs=6e-5)
    if test_size > 0:
        assert report["n_test"] == X_te.shape[0]
        held = predict_scores(X_te, y_te, loss, classes, coef, intercept)
        assert report["heldout"] == pytest.approx(held, abs=6e-5)
        assert report["heldout"] == pytest.approx(est.score(X_te, y_te), abs=6e-5)
    else:
        assert report["heldout"] is None and "held-out" not in out
    assert_png(model_path.with_suffix(".png"))
    return report


# --------------------------------------------------------------------------- fit: file formats


def _case_svmlight_squared(tmp_path):
    X, y = regression_data(seed=1)
    X[np.abs(X) < 0.6] = 0.0
    path = tmp_path / "train.svmlight"
    dump_svmlight_file(sp.csr_matrix(X), y, str(path))
    X, y = load_svmlight_file(str(path))  # the values as the file holds them
    return [path, "--loss", "squared", "--alpha", "0.5"], X.tocsr(), y, dict(loss="squared", alpha=0.5)


def _case_svmlight_logistic(tmp_path):
    X, y = classification_data(seed=2)
    X[np.abs(X) < 0.3] = 0.0
    y = np.where(y == 1, 1.0, -1.0)
    path = tmp_path / "train.libsvm"
    dump_svmlight_file(sp.csr_matrix(X), y, str(path))
    X, y = load_svmlight_file(str(path))
    return [path, "--loss", "logistic", "--seed", "3"], X.tocsr(), y, dict(loss="logistic", seed=3)


def _case_csv_header_target_name(tmp_path):
    X, y = regression_data(seed=3)
    path = tmp_path / "header.csv"
    write_csv(path, [X[:, 0], y, *X[:, 1:].T], header=["a", "price", "b", "c", "d", "e"])
    return ([path, "--loss", "squared", "--target", "price", "--alpha", "2"], X, y,
            dict(loss="squared", alpha=2.0))


def _case_csv_no_header_target_index(tmp_path):
    X, y = regression_data(seed=4)
    path = tmp_path / "plain.csv"
    write_csv(path, [y, *X.T])
    return ([path, "--loss", "squared", "--target", "0", "--test-size", "0.3", "--seed", "7"], X, y,
            dict(loss="squared", test_size=0.3, seed=7))


def _case_csv_string_labels_multiclass(tmp_path):
    X, codes = classification_data(n_classes=3, seed=5)
    y = np.array(["setosa", "versicolor", "virginica"])[codes]
    path = tmp_path / "iris_like.csv"
    write_csv(path, [*X.T, y], header=["f0", "f1", "f2", "f3", "f4", "species"])
    return [path, "--loss", "logistic", "--alpha", "0.5"], X, y, dict(loss="logistic", alpha=0.5)


def _case_csv_string_labels_binary_target_index(tmp_path):
    X, codes = classification_data(seed=6)
    y = np.array(["no", "yes"])[codes]
    path = tmp_path / "binary.csv"
    write_csv(path, [y, *X.T], header=["label", "f0", "f1", "f2", "f3", "f4"])
    return [path, "--target", "0"], X, y, dict(loss="logistic")


def _case_npz_multiclass(tmp_path):
    X, y = classification_data(n=120, n_classes=4, seed=7)
    path = tmp_path / "multi.npz"
    np.savez(path, X=X, y=y)
    return [path, "--loss", "logistic", "--alpha", "3"], X, y, dict(loss="logistic", alpha=3.0)


def _case_npz_binary_no_holdout(tmp_path):
    X, y = classification_data(seed=8)
    path = tmp_path / "binary.npz"
    np.savez(path, X=X, y=y[:, None])  # a column vector y is accepted
    return [path, "--test-size", "0"], X, y, dict(loss="logistic", test_size=0.0)


def _case_npy_squared(tmp_path):
    X, y = regression_data(seed=9)
    path = tmp_path / "last_column.npy"
    np.save(path, np.column_stack([X, y]))
    return [path, "--loss", "squared"], X, y, dict(loss="squared")


def _case_npy_logistic_no_intercept(tmp_path):
    X, y = classification_data(seed=10)
    path = tmp_path / "binary.npy"
    np.save(path, np.column_stack([X, y]))
    return ([path, "--no-intercept", "--alpha", "0.25"], X, y.astype(float),
            dict(loss="logistic", alpha=0.25, fit_intercept=False))


FIT_CASES = {
    "svmlight-squared-sparse": _case_svmlight_squared,
    "libsvm-logistic-pm1": _case_svmlight_logistic,
    "csv-header-target-by-name": _case_csv_header_target_name,
    "csv-no-header-target-by-index": _case_csv_no_header_target_index,
    "csv-string-labels-multiclass": _case_csv_string_labels_multiclass,
    "csv-string-labels-binary-target-index": _case_csv_string_labels_binary_target_index,
    "npz-multiclass": _case_npz_multiclass,
    "npz-binary-test-size-0": _case_npz_binary_no_holdout,
    "npy-squared": _case_npy_squared,
    "npy-logistic-no-intercept": _case_npy_logistic_no_intercept,
}


@pytest.mark.parametrize("case", list(FIT_CASES))
def test_fit_file_formats(case, tmp_path, capsys):
    args, X, y, expect = FIT_CASES[case](tmp_path)
    model = tmp_path / "model.npz"
    rc, out, err, escaped = cli(capsys, "fit", *args, "--quiet", "--out", model)
    assert rc == 0, err
    assert not escaped
    assert f"{X.shape[0]} samples × {X.shape[1]} features" in out
    assert ("(sparse" in out) == sp.issparse(X)
    check_fit(out, model, X, y, **expect)


@pytest.mark.parametrize("loss, solver", [
    ("squared", "auto"), ("squared", "nystrom_pcg"), ("squared", "sketchy_svrg"),
    ("squared", "sketchy_saga"), ("squared", "sketchy_katyusha"),
    ("logistic", "auto"), ("logistic", "nncg"), ("logistic", "sketchy_svrg"),
    ("logistic", "sketchy_saga"), ("logistic", "sketchy_katyusha"),
])
def test_fit_solvers(loss, solver, tmp_path, capsys):
    if loss == "squared":
        X, y = regression_data(n=70, seed=11)
    else:
        X, y = classification_data(n=72, n_classes=3 if solver == "sketchy_saga" else 2, seed=12)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    model = tmp_path / "m.npz"
    rc, out, err, _ = cli(capsys, "fit", tmp_path / "d.npz", "--loss", loss, "--solver", solver,
                          "--alpha", "2", "--test-size", "0.2", "--seed", "1", "--quiet", "--out", model)
    assert rc == 0, err
    assert f"solver={solver}" in out
    check_fit(out, model, X, y, loss=loss, alpha=2.0, test_size=0.2, seed=1, solver=solver)


def test_fit_out_without_npz_suffix_adds_it(tmp_path, capsys):
    X, y = classification_data(seed=13)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    rc, _out, err, _ = cli(capsys, "fit", tmp_path / "d.npz", "--quiet", "--out", tmp_path / "model")
    assert rc == 0, err
    assert (tmp_path / "model.npz").is_file()
    assert_png(tmp_path / "model.png")


def test_fit_subprocess_svmlight_with_progress_bar(tmp_path):
    """The real process, with the progress bar, relative paths and the plot next to the model."""
    X, y = classification_data(n=100, seed=14)
    X[np.abs(X) < 0.4] = 0.0
    dump_svmlight_file(sp.csr_matrix(X), y, str(tmp_path / "data.svm"))
    X, y = load_svmlight_file(str(tmp_path / "data.svm"))
    proc = run_rnla(tmp_path, "fit", "data.svm", "--alpha", "0.5", "--out", "model.npz")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "saved           model.npz" in proc.stdout and "plot            model.png" in proc.stdout
    check_fit(proc.stdout, tmp_path / "model.npz", X.tocsr(), y, loss="logistic", alpha=0.5)


def test_fit_subprocess_csv_squared(tmp_path):
    X, y = regression_data(n=90, seed=15)
    write_csv(tmp_path / "houses.csv", [*X.T, y], header=["x0", "x1", "x2", "x3", "x4", "value"])
    proc = run_rnla(tmp_path, "fit", "houses.csv", "--loss", "squared", "--target", "value",
                    "--alpha", "0.1", "--quiet", "--out", "model.npz")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    check_fit(proc.stdout, tmp_path / "model.npz", X, y, loss="squared", alpha=0.1)


@pytest.mark.parametrize("loss", ["logistic", "squared"])
def test_fit_builtin_data(loss, tmp_path):
    proc = run_rnla(tmp_path, "fit", "--loss", loss, "--n-features", "200", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "built-in" in proc.stdout and "200 features" in proc.stdout
    report = parse_fit_report(proc.stdout)
    assert np.isfinite(report["objective"]) and report["objective"] > 0
    if loss == "logistic":
        assert "breast cancer" in proc.stdout
        assert report["heldout"] > 0.9
    else:
        assert "digits" in proc.stdout
        assert 0.0 < report["heldout"] <= 1.0
    assert list(tmp_path.iterdir()) == []  # no --out: nothing written


# ------------------------------------------------------------------------ solve and spectrum


@pytest.fixture(scope="module")
def linear_system(tmp_path_factory):
    """A dense SPD matrix with eigenvalues 1/i², a sparse SPD tridiagonal one, and a right-hand side,
    in every format ``rnla solve`` reads."""
    d = tmp_path_factory.mktemp("solve")
    rng = np.random.default_rng(16)
    n = 40
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    A = (Q * (1.0 / np.arange(1, n + 1) ** 2)) @ Q.T
    A = (A + A.T) / 2
    S = sp.diags([-np.ones(n - 1), 2.5 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1], format="csr")
    b = rng.normal(size=n)
    np.save(d / "dense.npy", A)
    sp.save_npz(d / "sparse.npz", S)
    scipy.io.mmwrite(str(d / "sparse.mtx"), S)
    scipy.io.mmwrite(str(d / "dense.mtx"), A)
    np.save(d / "b.npy", b)
    np.savetxt(d / "b.txt", b)
    scipy.io.mmwrite(str(d / "b.mtx"), b[:, None])
    return d, {"dense.npy": A, "sparse.npz": S, "sparse.mtx": S, "dense.mtx": A}, b


@pytest.mark.parametrize("matrix", ["dense.npy", "sparse.npz", "sparse.mtx", "dense.mtx"])
@pytest.mark.parametrize("rhs", ["b.npy", "b.txt", "b.mtx"])
def test_solve_files(matrix, rhs, linear_system, tmp_path, capsys):
    d, mats, b = linear_system
    A, mu = mats[matrix], 1e-3
    rc, out, err, escaped = cli(capsys, "solve", d / matrix, d / rhs, "--mu", mu, "--rtol", "1e-10",
                                "--out", tmp_path / "x.npy")
    assert rc == 0, err
    assert not escaped and err == ""
    assert "converged" in out and "not converged" not in out
    x = np.load(tmp_path / "x.npy")
    assert x.shape == b.shape
    assert np.linalg.norm(A @ x + mu * x - b) <= 1e-8 * np.linalg.norm(b)


def test_solve_default_mu_is_zero(linear_system, tmp_path, capsys):
    d, mats, b = linear_system
    rc, out, err, _ = cli(capsys, "solve", d / "sparse.npz", d / "b.npy", "--out", tmp_path / "x.npy")
    assert rc == 0, err
    assert "mu = 0," in out
    x = np.load(tmp_path / "x.npy")
    assert np.linalg.norm(mats["sparse.npz"] @ x - b) <= 1e-8 * np.linalg.norm(b)


def test_solve_not_converged_exits_1(linear_system, capsys):
    d, _, _ = linear_system
    rc, out, _err, _ = cli(capsys, "solve", d / "dense.npy", d / "b.npy", "--mu", "1e-6", "--rank", "2",
                          "--maxiter", "1", "--rtol", "1e-12")
    assert rc == 1
    assert "not converged" in out


def test_solve_subprocess_mtx(linear_system, tmp_path):
    d, mats, b = linear_system
    proc = run_rnla(tmp_path, "solve", d / "sparse.mtx", d / "b.mtx", "--mu", "0.5", "--out", "x.npy")
    assert proc.returncode == 0, proc.stderr
    x = np.load(tmp_path / "x.npy")
    assert np.linalg.norm(mats["sparse.mtx"] @ x + 0.5 * x - b) <= 1e-8 * np.linalg.norm(b)


@pytest.mark.slow
def test_solve_builtin_demo(tmp_path):
    """``rnla solve`` without arguments: the built-in 4000 × 800 ridge problem, PCG vs plain CG."""
    proc = run_rnla(tmp_path, "solve", "--rtol", "1e-6")
    assert proc.returncode == 0, proc.stderr
    assert "built-in ridge problem" in proc.stdout
    assert re.search(r"Nyström PCG\s+converged", proc.stdout)
    assert re.search(r"plain CG\s+converged", proc.stdout)


def test_spectrum_default_out(linear_system, tmp_path, capsys, monkeypatch):
    d, _, _ = linear_system
    monkeypatch.chdir(tmp_path)
    rc, out, err, _ = cli(capsys, "spectrum", d / "dense.npy", "--probes", "5", "--steps", "20")
    assert rc == 0, err
    assert "spectrum within" in out
    assert_png(tmp_path / "density.png")


@pytest.mark.parametrize("matrix", ["sparse.npz", "dense.mtx"])
def test_spectrum_out(matrix, linear_system, tmp_path, capsys):
    d, _, _ = linear_system
    rc, _out, err, _ = cli(capsys, "spectrum", d / matrix, "--out", tmp_path / "density.png", "--probes", "4",
                          "--steps", "15", "--xscale", "log")
    assert rc == 0, err
    assert_png(tmp_path / "density.png")


# ------------------------------------------------------------------------------------- bench


@pytest.mark.parametrize("quick", [False, True])
def test_bench_outside_a_checkout(quick, tmp_path, capsys):
    rc, _out, err, _ = cli(capsys, "bench", "--root", tmp_path, *(["--quick"] if quick else []))
    assert_one_line_error(rc, err, "benchmarks/", str(tmp_path.resolve()))
    assert list(tmp_path.iterdir()) == []  # nothing written (no docs/ created)


# ----------------------------------------------------------------------------- error handling


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    """A directory of malformed (and a few good) input files."""
    d = tmp_path_factory.mktemp("bad")
    rng = np.random.default_rng(17)
    X, y = classification_data(n=40, d=3, seed=18)
    np.savez(d / "clf.npz", X=X, y=y)
    np.save(d / "arr.npy", np.column_stack([X, y]))
    (d / "folder.csv").mkdir()
    (d / "data.xyz").write_text("1,2,3\n")
    (d / "noext").write_text("1,2,3\n")
    (d / "garbage.svm").write_text("this is not svmlight\n1 2:3 4:x\n")
    (d / "binary.libsvm").write_bytes(bytes(range(256)) * 4)
    (d / "ragged.csv").write_text("a,b,y\n1,2,0\n3,4\n5,6,1\n")
    (d / "nonnum.csv").write_text("a,b,y\n1,2,0\n3,abc,1\n5,6,1\n")
    (d / "header.csv").write_text("a,b,y\n1,2,0\n3,4,1\n5,6,1\n7,8,0\n")
    (d / "noheader.csv").write_text("1,2,0\n3,4,1\n5,6,1\n7,8,0\n")
    (d / "empty.csv").write_text("")
    (d / "blank.csv").write_text("\n  \n,,\n")
    (d / "header_only.csv").write_text("a,b,y\n")
    (d / "one_column.csv").write_text("y\n1\n2\n")
    (d / "latin1.csv").write_bytes(b"a,b,y\n1,2,caf\xe9\n")
    (d / "nan.csv").write_text("a,b,y\n1,nan,0\n3,4,1\n5,6,1\n")
    (d / "labels.csv").write_text("a,b,y\n1,2,cat\n3,4,dog\n5,6,cat\n7,8,dog\n")
    np.savez(d / "noxy.npz", A=np.ones((3, 2)), b=np.ones(3))
    np.savez(d / "mismatch.npz", X=np.ones((5, 2)), y=np.ones(4))
    np.savez(d / "x1d.npz", X=np.ones(5), y=np.ones(5))
    np.savez(d / "strings.npz", X=np.array([["a", "b"], ["c", "d"]]), y=np.ones(2))
    np.save(d / "one_d.npy", np.ones(5))
    np.save(d / "one_col.npy", np.ones((5, 1)))
    full = d / "full.npy"
    np.save(full, rng.normal(size=(20, 3)))
    (d / "truncated.npy").write_bytes(full.read_bytes()[:150])
    (d / "badversion.npy").write_bytes(b"\x93NUMPY garbage bytes here")
    raw = (d / "clf.npz").read_bytes()
    (d / "truncated.npz").write_bytes(raw[: len(raw) // 2])
    (d / "badcrc.npz").write_bytes(raw[:200] + bytes(50) + raw[250:])
    (d / "notzip.npz").write_bytes(b"definitely not a zip archive")
    Xn = X.copy()
    Xn[3, 1] = np.nan
    np.savez(d / "nan.npz", X=Xn, y=y)
    np.savez(d / "inf_target.npz", X=X, y=np.where(np.arange(40) == 5, np.inf, 1.0 * y))
    np.savez(d / "oneclass.npz", X=X, y=np.ones(40))
    np.savez(d / "tiny.npz", X=np.ones((1, 2)), y=np.ones(1))
    A = rng.normal(size=(5, 5))
    np.save(d / "A.npy", A @ A.T + np.eye(5))
    np.save(d / "b5.npy", np.ones(5))
    np.save(d / "b4.npy", np.ones(4))
    np.save(d / "rect.npy", np.ones((3, 4)))
    scipy.io.mmwrite(str(d / "rect.mtx"), sp.csr_matrix(np.ones((3, 4))))
    (d / "garbage.mtx").write_text("hello world\n1 2 3\n")
    (d / "bad.txt").write_text("1 2 x\n")
    An = np.eye(5)
    An[0, 0] = np.nan
    np.save(d / "nan_matrix.npy", An)
    np.savez(d / "two_arrays.npz", A=np.eye(5), B=np.eye(5))
    # content and extension that disagree: a .npz archive named .npy, and a .npy array named .npz
    (d / "zip_named.npy").write_bytes(raw)
    (d / "npy_named.npz").write_bytes((d / "A.npy").read_bytes())
    return d




# (argv, substrings the one stderr line must contain)
ERROR_CASES = {
    # --- files
    "missing-file": (["fit", "nope.csv"], ["nope.csv", "no such file"]),
    "missing-matrix": (["solve", "nope.npy", "b5.npy"], ["nope.npy", "no such file"]),
    "missing-rhs": (["solve", "A.npy", "nope.npy"], ["nope.npy", "no such file"]),
    "missing-spectrum-matrix": (["spectrum", "nope.mtx"], ["nope.mtx", "no such file"]),
    "directory": (["fit", "folder.csv"], ["folder.csv", "directory"]),
    "unknown-extension": (["fit", "data.xyz"], ["data.xyz", "'.xyz'", "--format"]),
    "no-extension": (["fit", "noext"], ["noext", "no extension"]),
    "unknown-matrix-extension": (["spectrum", "header.csv"], ["header.csv", "'.csv'", ".mtx"]),
    "unknown-rhs-extension": (["solve", "A.npy", "clf.npz"], ["clf.npz", "'.npz'"]),
    "garbage-svmlight": (["fit", "garbage.svm"], ["garbage.svm", "svmlight"]),
    "binary-svmlight": (["fit", "binary.libsvm"], ["binary.libsvm", "svmlight"]),
    "csv-ragged-rows": (["fit", "ragged.csv"], ["ragged.csv", "line 3", "2 columns", "expected 3"]),
    "csv-non-numeric-feature": (["fit", "nonnum.csv"], ["nonnum.csv", "non-numeric", "'abc'"]),
    "csv-target-missing-column": (["fit", "header.csv", "--target", "zz"],
                                  ["header.csv", "'zz'", "a, b, y"]),
    "csv-target-name-without-header": (["fit", "noheader.csv", "--target", "zz"],
                                       ["noheader.csv", "'zz'", "no header"]),
    "csv-target-index-out-of-range": (["fit", "header.csv", "--target", "7"],
                                      ["header.csv", "--target 7", "out of range", "3 columns"]),
    "csv-target-negative-index-out-of-range": (["fit", "header.csv", "--target", "-4"],
                                               ["header.csv", "out of range"]),
    "csv-empty": (["fit", "empty.csv"], ["empty.csv", "empty"]),
    "csv-blank-lines-only": (["fit", "blank.csv"], ["blank.csv", "empty"]),
    "csv-header-only": (["fit", "header_only.csv"], ["header_only.csv", "no data rows"]),
    "csv-one-column": (["fit", "one_column.csv"], ["one_column.csv", "feature column"]),
    "csv-not-utf8": (["fit", "latin1.csv"], ["latin1.csv", "text"]),
    "csv-nan-feature": (["fit", "nan.csv"], ["nan.csv", "NaN"]),
    "target-on-non-csv": (["fit", "clf.npz", "--target", "1"], ["clf.npz", "--target", "CSV"]),
    "npz-without-X-y": (["fit", "noxy.npz"], ["noxy.npz", "'X'", "'y'", "A, b"]),
    "npz-length-mismatch": (["fit", "mismatch.npz"], ["mismatch.npz", "(5)", "(4,)"]),
    "npz-X-1d": (["fit", "x1d.npz"], ["x1d.npz", "2-D"]),
    "npz-string-features": (["fit", "strings.npz"], ["strings.npz", "real numbers"]),
    "npy-1d": (["fit", "one_d.npy"], ["one_d.npy", "2-D", "(5,)"]),
    "npy-one-column": (["fit", "one_col.npy"], ["one_col.npy", "last column", "(5, 1)"]),
    "npy-truncated": (["fit", "truncated.npy"], ["truncated.npy", "not a valid .npy"]),
    "npy-bad-header": (["fit", "badversion.npy"], ["badversion.npy", "not a valid .npy"]),
    "npz-truncated": (["fit", "truncated.npz"], ["truncated.npz", "not a valid .npz"]),
    "npz-bad-crc": (["fit", "badcrc.npz"], ["badcrc.npz", "not a valid .npz"]),
    "npz-not-zip": (["fit", "notzip.npz"], ["notzip.npz", "not a valid .npz"]),
    "matrix-npy-truncated": (["solve", "truncated.npy", "b5.npy"], ["truncated.npy", "not a valid .npy"]),
    "matrix-npz-not-zip": (["spectrum", "notzip.npz"], ["notzip.npz", "not a valid .npz"]),
    "matrix-npz-two-arrays": (["solve", "two_arrays.npz", "b5.npy"], ["two_arrays.npz", "A, B"]),
    "matrix-mtx-garbage": (["solve", "garbage.mtx", "b5.npy"], ["garbage.mtx", "Matrix Market"]),
    "rhs-mtx-garbage": (["solve", "A.npy", "garbage.mtx"], ["garbage.mtx", "not a valid vector"]),
    "rhs-txt-garbage": (["solve", "A.npy", "bad.txt"], ["bad.txt", "not a valid vector"]),
    "matrix-nan": (["solve", "nan_matrix.npy", "b5.npy"], ["nan_matrix.npy", "NaN"]),
    "nan-in-features": (["fit", "nan.npz"], ["nan.npz", "features", "NaN"]),
    "inf-in-target": (["fit", "inf_target.npz", "--loss", "squared"], ["inf_target.npz", "target"]),
    "one-sample": (["fit", "tiny.npz"], ["tiny.npz", "at least 2 samples"]),
    "single-class-logistic": (["fit", "oneclass.npz"], ["oneclass.npz", "single class", "logistic"]),
    "non-numeric-target-squared": (["fit", "labels.csv", "--loss", "squared"],
                                   ["labels.csv", "not numeric", "squared"]),
    "hold-out-too-small-to-stratify": (["fit", "header.csv"], ["cannot hold out", "4 samples"]),
    # --- options
    "alpha-negative": (["fit", "clf.npz", "--alpha", "-1"], ["--alpha", "> 0", "-1"]),
    "alpha-zero": (["fit", "clf.npz", "--alpha", "0"], ["--alpha", "> 0"]),
    "alpha-not-a-number": (["fit", "clf.npz", "--alpha", "abc"], ["--alpha", "'abc'"]),
    "test-size-1.5": (["fit", "clf.npz", "--test-size", "1.5"], ["--test-size", "< 1", "1.5"]),
    "test-size-1": (["fit", "clf.npz", "--test-size", "1"], ["--test-size", "< 1"]),
    "test-size-negative": (["fit", "clf.npz", "--test-size", "-0.1"], ["--test-size", ">= 0", "-0.1"]),
    "test-size-not-a-number": (["fit", "clf.npz", "--test-size", "half"], ["--test-size", "'half'"]),
    "max-iter-zero": (["fit", "clf.npz", "--max-iter", "0"], ["--max-iter", ">= 1"]),
    "rank-not-int": (["fit", "clf.npz", "--rank", "big"], ["--rank", "'big'"]),
    "n-features-zero": (["fit", "--n-features", "0"], ["--n-features", ">= 1"]),
    "unknown-loss": (["fit", "clf.npz", "--loss", "hinge"], ["--loss", "'hinge'"]),
    "unknown-format": (["fit", "clf.npz", "--format", "xml"], ["--format", "'xml'"]),
    "unknown-solver": (["fit", "clf.npz", "--solver", "bogus", "--quiet"], ["solver", "'bogus'", "nncg"]),
    "nncg-with-squared": (["fit", "clf.npz", "--solver", "nncg", "--loss", "squared"],
                          ["--solver nncg", "--loss logistic"]),
    "nystrom-pcg-with-logistic": (["fit", "clf.npz", "--solver", "nystrom_pcg"],
                                  ["--solver nystrom_pcg", "--loss squared"]),
    "unknown-option": (["fit", "clf.npz", "--frobnicate"], ["--frobnicate"]),
    "unknown-subcommand": (["frobnicate"], ["'frobnicate'", "fit"]),
    "no-subcommand": ([], ["required", "fit"]),
    "spectrum-without-matrix": (["spectrum"], ["matrix", "required"]),
    "solve-only-matrix": (["solve", "A.npy"], ["MATRIX", "RHS"]),
    "solve-non-square": (["solve", "rect.npy", "b5.npy"], ["rect.npy", "square", "(3, 4)"]),
    "solve-non-square-mtx": (["solve", "rect.mtx", "b5.npy"], ["rect.mtx", "square"]),
    "spectrum-non-square": (["spectrum", "rect.npy"], ["rect.npy", "square"]),
    "solve-rhs-length-mismatch": (["solve", "A.npy", "b4.npy"], ["b4.npy", "5 entries", "(4,)"]),
    "solve-negative-mu": (["solve", "A.npy", "b5.npy", "--mu", "-1"], ["--mu", ">= 0", "-1"]),
    "solve-nan-mu": (["solve", "A.npy", "b5.npy", "--mu", "nan"], ["--mu", "nan"]),
    "solve-inf-mu": (["solve", "A.npy", "b5.npy", "--mu", "inf"], ["mu", "finite"]),
    "solve-mu-not-a-number": (["solve", "A.npy", "b5.npy", "--mu", "abc"], ["--mu", "'abc'"]),
    "solve-rtol-zero": (["solve", "A.npy", "b5.npy", "--rtol", "0"], ["--rtol", "> 0"]),
    "solve-out-missing-dir": (["solve", "A.npy", "b5.npy", "--out", "no/such/dir/x.npy"],
                              ["no/such/dir/x.npy", "No such file or directory"]),
    "fit-out-missing-dir": (["fit", "clf.npz", "--quiet", "--out", "no/such/dir/model.npz"],
                            ["no/such/dir/model.npz", "No such file or directory"]),
    "spectrum-out-missing-dir": (["spectrum", "A.npy", "--steps", "5", "--out", "no/such/dir/d.png"],
                                 ["no/such/dir/d.png", "No such file or directory"]),
    "spectrum-bad-xscale": (["spectrum", "A.npy", "--xscale", "cubic"], ["--xscale", "'cubic'"]),
    # --- bugs: content and extension disagree; stray warning lines on stderr
    "fit-npz-archive-named-npy": pytest.param(["fit", "zip_named.npy"], ["zip_named.npy"]),
    "fit-format-npy-on-npz": pytest.param(["fit", "clf.npz", "--format", "npy"], ["clf.npz"]),
    "fit-format-npz-on-npy": pytest.param(["fit", "arr.npy", "--format", "npz"], ["arr.npy"]),
    "solve-npz-archive-named-npy": pytest.param(["solve", "zip_named.npy", "b5.npy"], ["zip_named.npy"]),
    "solve-npy-array-named-npz": pytest.param(["solve", "npy_named.npz", "b5.npy"], ["npy_named.npz"]),
    "spectrum-npy-array-named-npz": pytest.param(["spectrum", "npy_named.npz"], ["npy_named.npz"]),
}


def _error_params():
    for name, case in ERROR_CASES.items():
        if hasattr(case, "marks"):  # already a pytest.param (an xfail)
            yield pytest.param(*case.values, id=name, marks=case.marks)
        else:
            yield pytest.param(*case, id=name)


@pytest.mark.parametrize("argv, needles", list(_error_params()))
def test_error_is_one_line_exit_2(argv, needles, bad_files, capsys, monkeypatch):
    monkeypatch.chdir(bad_files)
    rc, _out, err, escaped = cli(capsys, *argv)
    assert_one_line_error(rc, err, *needles)
    assert not escaped, f"warnings escaped (they print extra stderr lines): {escaped}"
    assert not (bad_files / "no").exists()


def test_empty_txt_rhs_is_one_line(bad_files, tmp_path):
    (tmp_path / "empty.txt").write_text("")
    proc = run_rnla(tmp_path, "solve", bad_files / "A.npy", "empty.txt")
    assert_one_line_error(proc.returncode, proc.stderr, "empty.txt")


def test_subprocess_usage_errors(tmp_path):
    """The process itself exits with status 2 and one line, for argparse and for data errors."""
    proc = run_rnla(tmp_path)
    assert proc.stdout == ""
    assert_one_line_error(proc.returncode, proc.stderr, "required")
    (tmp_path / "bad.csv").write_text("a,b,y\n1,2,0\n3,4\n")
    proc = run_rnla(tmp_path, "fit", "bad.csv", "--quiet")
    assert_one_line_error(proc.returncode, proc.stderr, "bad.csv", "line 3")


# --------------------------------------------------------------------- bugs outside the error list


def test_csv_without_header_with_string_labels_keeps_first_row(tmp_path, capsys):
    X, codes = classification_data(n=60, seed=19)
    y = np.array(["cat", "dog"])[codes]
    write_csv(tmp_path / "pets.csv", [*X.T, y])
    rc, out, err, _ = cli(capsys, "fit", tmp_path / "pets.csv", "--quiet", "--test-size", "0")
    assert rc == 0, err
    assert "60 samples × 5 features" in out


def test_heldout_accuracy_line_is_separated(tmp_path, capsys):
    X, y = classification_data(seed=20)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    rc, out, err, _ = cli(capsys, "fit", tmp_path / "d.npz", "--quiet")
    assert rc == 0, err
    assert re.search(r"held-out accuracy\s+\d", out), out


def test_single_class_message_shows_plain_label(bad_files, capsys, monkeypatch):
    monkeypatch.chdir(bad_files)
    rc, _out, err, _ = cli(capsys, "fit", "oneclass.npz")
    line = assert_one_line_error(rc, err, "oneclass.npz")
    assert "np.float64" not in line and "1.0" in line


# -------------------------------------------------------------------------------------- help


@pytest.mark.parametrize("argv", [["--help"], ["-h"], ["fit", "--help"], ["solve", "--help"],
                                  ["spectrum", "--help"], ["bench", "--help"]])
def test_help_exits_0(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    out, err = capsys.readouterr()
    assert out.startswith("usage: rnla") and err == ""
    if len(argv) == 2:
        assert f"rnla {argv[0]}" in out


def test_help_subprocess(tmp_path):
    proc = run_rnla(tmp_path, "--help")
    assert proc.returncode == 0 and proc.stderr == ""
    for command in ("fit", "solve", "spectrum", "bench"):
        assert command in proc.stdout


def test_console_script_is_main():
    """The installed ``rnla`` script calls the same ``main`` that ``python -m optim`` runs."""
    from importlib.metadata import entry_points

    (script,) = [ep for ep in entry_points(group="console_scripts") if ep.name == "rnla"]
    assert script.load() is main


# ------------------------------------------------------------------ issue 13: the command line

@pytest.fixture
def no_matplotlib(monkeypatch):
    """``import matplotlib`` raises ImportError, as on an install without the ``plot`` extra."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)


def test_version(capsys):
    from importlib.metadata import version

    import rnla

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    out, err = capsys.readouterr()
    assert out.strip() == f"rnla {rnla.__version__}" and err == ""
    assert rnla.__version__ == version("rnla")


def _forbid(monkeypatch, target, what):
    """Make ``target`` (a 'module.attribute' path) fail the test if it is called."""
    def fail(*args, **kwargs):
        raise AssertionError(f"{what} ran although the command should have stopped first")

    monkeypatch.setattr(target, fail)


def test_fit_out_without_matplotlib_fails_before_fitting(no_matplotlib, tmp_path, capsys, monkeypatch):
    X, y = classification_data(seed=30)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    _forbid(monkeypatch, "optim.estimators.SketchyLogisticRegression.fit", "the fit")
    rc, out, err, _ = cli(capsys, "fit", tmp_path / "d.npz", "--quiet", "--out", tmp_path / "model.npz")
    assert_one_line_error(rc, err, "matplotlib", 'pip install "rnla[plot]"', "--no-plot")
    assert out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.npz"]


def test_fit_out_no_plot_without_matplotlib(no_matplotlib, tmp_path, capsys):
    """``--no-plot`` saves the coefficients without needing matplotlib."""
    X, y = classification_data(seed=31)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    rc, out, err, _ = cli(capsys, "fit", tmp_path / "d.npz", "--quiet", "--no-plot", "--out",
                          tmp_path / "model.npz")
    assert rc == 0, err
    assert "saved" in out and not re.search(r"^\s+plot\s", out, re.MULTILINE)
    assert (tmp_path / "model.npz").is_file() and not (tmp_path / "model.png").exists()


def test_fit_without_out_does_not_need_matplotlib(no_matplotlib, tmp_path, capsys):
    X, y = classification_data(seed=32)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    rc, _out, err, _ = cli(capsys, "fit", tmp_path / "d.npz", "--quiet")
    assert rc == 0, err


def test_spectrum_without_matplotlib_fails_before_computing(no_matplotlib, linear_system, tmp_path, capsys,
                                                           monkeypatch):
    d, _, _ = linear_system
    _forbid(monkeypatch, "rnla.spectral_density", "spectral_density")
    rc, out, err, _ = cli(capsys, "spectrum", d / "dense.npy", "--out", tmp_path / "density.png")
    assert_one_line_error(rc, err, "matplotlib", 'pip install "rnla[plot]"')
    assert out == "" and list(tmp_path.iterdir()) == []


def test_matplotlib_check_subprocess(tmp_path):
    """The real process, with matplotlib unimportable (a fake package that raises ImportError)."""
    fake = tmp_path / "fake" / "matplotlib"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named matplotlib (test)')\n")
    np.save(tmp_path / "A.npy", np.diag(np.arange(1.0, 21.0)))
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "fake"))
    proc = subprocess.run([sys.executable, "-m", "optim", "spectrum", "A.npy"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=300, env=env)
    assert_one_line_error(proc.returncode, proc.stderr, "matplotlib", 'pip install "rnla[plot]"')
    assert proc.stdout == "" and not (tmp_path / "density.png").exists()


# --- the --out location is checked before the work


@pytest.mark.parametrize("command", ["fit", "solve", "spectrum"])
@pytest.mark.parametrize("where, needle", [
    ("missing-dir", "No such file or directory"),
    ("is-a-dir", "is a directory"),
    ("long-name", "File name too long"),
    ("unwritable", "/proc"),
])
def test_out_checked_before_work(command, where, needle, linear_system, tmp_path, capsys, monkeypatch):
    d, _, _ = linear_system
    suffix = {"fit": ".npz", "solve": ".npy", "spectrum": ".png"}[command]
    out_path = {"missing-dir": tmp_path / "no" / "such" / f"x{suffix}",
                "is-a-dir": tmp_path / f"folder{suffix}",
                "long-name": tmp_path / ("x" * 300 + suffix),
                "unwritable": f"/proc/rnla-cannot-write{suffix}"}[where]
    if where == "is-a-dir":
        out_path.mkdir()
    X, y = classification_data(seed=33)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    _forbid(monkeypatch, "optim.estimators.SketchyLogisticRegression.fit", "the fit")
    _forbid(monkeypatch, "rnla.nystrom_pcg", "nystrom_pcg")
    _forbid(monkeypatch, "rnla.spectral_density", "spectral_density")
    argv = {"fit": ["fit", tmp_path / "d.npz", "--quiet"], "solve": ["solve", d / "dense.npy", d / "b.npy"],
            "spectrum": ["spectrum", d / "dense.npy"]}[command]
    rc, out, err, _ = cli(capsys, *argv, "--out", out_path)
    assert_one_line_error(rc, err, "--out", needle)
    assert out == ""


def test_fit_out_checks_the_plot_name_too(tmp_path, capsys, monkeypatch):
    """``--out model.npz`` also writes model.png: a directory of that name is refused up front."""
    X, y = classification_data(seed=34)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    (tmp_path / "model.png").mkdir()
    _forbid(monkeypatch, "optim.estimators.SketchyLogisticRegression.fit", "the fit")
    rc, out, err, _ = cli(capsys, "fit", tmp_path / "d.npz", "--quiet", "--out", tmp_path / "model.npz")
    assert_one_line_error(rc, err, "model.png", "is a directory")
    assert out == ""
    assert not (tmp_path / "model.npz").exists()


def test_out_check_leaves_an_existing_file_alone(tmp_path, capsys, linear_system):
    d, _, b = linear_system
    target = tmp_path / "x.npy"
    target.write_bytes(b"old")
    rc, _out, err, _ = cli(capsys, "solve", d / "dense.npy", d / "b.npy", "--mu", "1e-2", "--out", target)
    assert rc == 0, err
    assert np.load(target).shape == b.shape


# --- a singular system with --mu 0


@pytest.fixture(scope="module")
def singular_system(tmp_path_factory):
    """A singular PSD matrix (rank 30 of 40) and a right-hand side outside its range."""
    d = tmp_path_factory.mktemp("singular")
    rng = np.random.default_rng(35)
    Q, _ = np.linalg.qr(rng.normal(size=(40, 40)))
    lam = np.r_[np.linspace(1.0, 2.0, 30), np.zeros(10)]
    A = (Q * lam) @ Q.T
    np.save(d / "A.npy", (A + A.T) / 2)
    np.save(d / "b.npy", rng.normal(size=40))
    return d


def test_singular_system_with_mu_0_says_mu_is_needed(singular_system, tmp_path, capsys):
    d = singular_system
    rc, out, err, _ = cli(capsys, "solve", d / "A.npy", d / "b.npy", "--mu", "0", "--out", tmp_path / "x.npy")
    assert rc in (1, 3), (rc, err)
    assert "info" not in out
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnla solve:"), err
    assert "--mu" in lines[0] and "singular" in lines[0]
    if rc == 3:  # a breakdown: the iterate is no solution and is not saved
        assert not (tmp_path / "x.npy").exists()


def test_singular_system_with_mu_solves(singular_system, tmp_path, capsys):
    """The advice works: with a positive --mu the same system is solved."""
    d = singular_system
    A, b = np.load(d / "A.npy"), np.load(d / "b.npy")
    rc, _out, err, _ = cli(capsys, "solve", d / "A.npy", d / "b.npy", "--mu", "1e-3", "--rtol", "1e-10",
                           "--out", tmp_path / "x.npy")
    assert rc == 0, err
    x = np.load(tmp_path / "x.npy")
    np.testing.assert_allclose(x, np.linalg.solve(A + 1e-3 * np.eye(40), b), rtol=1e-7, atol=1e-9)


def test_solve_help_documents_exit_status(capsys):
    with pytest.raises(SystemExit):
        main(["solve", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for code in ("0", "1", "2", "3"):
        assert re.search(rf"\b{code}\b", out)
    assert "exit status" in out


# --- validation policy for options


@pytest.mark.parametrize("argv, needles", [
    (["fit", "clf.npz", "--rank", "0"], ["--rank", ">= 1", "0"]),
    (["fit", "clf.npz", "--rank", "2.5"], ["--rank", "'2.5'"]),
    (["fit", "clf.npz", "--rank", "Auto"], ["--rank", "'auto'", "'Auto'"]),
    (["solve", "A.npy", "b5.npy", "--rank", "-3"], ["--rank", ">= 1", "-3"]),
    (["fit", "clf.npz", "--tol", "nan"], ["--tol", "finite"]),
    (["fit", "clf.npz", "--alpha", "inf"], ["--alpha", "finite"]),
    (["fit", "clf.npz", "--seed", "-1"], ["--seed", ">= 0"]),
    (["fit", "clf.npz", "--seed", "1.5"], ["--seed", "'1.5'"]),
    (["spectrum", "A.npy", "--sigma", "nan"], ["--sigma", "finite"]),
    (["spectrum", "A.npy", "--probes", "1e3"], ["--probes", "'1e3'"]),
    (["solve", "A.npy", "b5.npy", "--maxiter", "0"], ["--maxiter", ">= 1"]),
    (["bench", "--budget", "-5"], ["--budget", "> 0"]),
])
def test_option_validation(argv, needles, bad_files, capsys, monkeypatch):
    monkeypatch.chdir(bad_files)
    rc, _out, err, escaped = cli(capsys, *argv)
    line = assert_one_line_error(rc, err, *needles)
    assert not escaped
    assert line.count("--") >= 1 and "argument" in line


def test_rank_accepts_auto_and_integers():
    from optim.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["fit", "--rank", "auto"]).rank == "auto"
    assert parser.parse_args(["fit", "--rank", "12"]).rank == 12
    assert isinstance(parser.parse_args(["solve", "--rank", "7"]).rank, int)


# --- rnla bench: output location, budget, elapsed time


_FAKE_SCRIPT = '''
import os
from pathlib import Path

def main(argv):
    report = Path(os.environ["RNLA_BENCH_REPORT"])
    img = Path(os.environ["RNLA_BENCH_IMG"])
    img.mkdir(parents=True, exist_ok=True)
    (img / "{name}.png").write_bytes(b"png")
    text = report.read_text() if report.exists() else ""
    report.write_text(text + "section {name} " + " ".join(argv) + "\\n")
'''


@pytest.fixture
def fake_checkout(tmp_path, monkeypatch):
    """A source checkout whose benchmarks are two tiny scripts, with tracked docs to protect."""
    bench = tmp_path / "benchmarks"
    bench.mkdir()
    (bench / "_report.py").write_text("")
    for name in ("fake_one", "fake_two"):
        (bench / f"{name}.py").write_text(_FAKE_SCRIPT.replace("{name}", name))
    docs = tmp_path / "docs"
    (docs / "img" / "quick").mkdir(parents=True)
    (docs / "benchmarks.md").write_text("tracked full report\n")
    (docs / "benchmarks-quick.md").write_text("tracked quick report\n")
    (docs / "img" / "quick" / "old.png").write_bytes(b"old")
    import optim._cli_bench as cli_bench

    monkeypatch.setattr(cli_bench, "SCRIPTS", (("fake_one", [], ["--quick"]), ("fake_two", [], ["--quick"])))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _docs_snapshot(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted((root / "docs").rglob("*")) if p.is_file()}


@pytest.mark.parametrize("quick", [True, False])
def test_bench_default_does_not_touch_docs(quick, fake_checkout, capsys):
    before = _docs_snapshot(fake_checkout)
    rc, out, err, _ = cli(capsys, "bench", *(["--quick"] if quick else []))
    assert rc == 0, err
    assert _docs_snapshot(fake_checkout) == before
    results = fake_checkout / "benchmarks" / "results"
    report = results / ("benchmarks-quick.md" if quick else "benchmarks.md")
    text = report.read_text()
    assert "section fake_one" in text and "section fake_two" in text
    assert str(report) in out or str(report.relative_to(fake_checkout)) in out
    assert re.search(r"total\s+\d", out)  # the total elapsed time is printed
    assert any(p.suffix == ".png" for p in results.rglob("*"))


def test_bench_write_docs_writes_docs(fake_checkout, capsys):
    rc, _out, err, _ = cli(capsys, "bench", "--quick", "--write-docs")
    assert rc == 0, err
    text = (fake_checkout / "docs" / "benchmarks-quick.md").read_text()
    assert text.startswith("tracked quick report") and "section fake_two --quick" in text
    assert (fake_checkout / "docs" / "img" / "quick" / "fake_one.png").is_file()
    assert not (fake_checkout / "benchmarks" / "results").exists()


def test_bench_out_dir(fake_checkout, tmp_path, capsys):
    rc, out, err, _ = cli(capsys, "bench", "--quick", "--out-dir", tmp_path / "elsewhere")
    assert rc == 0, err
    assert str(tmp_path / "elsewhere" / "benchmarks-quick.md") in out
    assert "section fake_one" in (tmp_path / "elsewhere" / "benchmarks-quick.md").read_text()
    assert (tmp_path / "elsewhere" / "img" / "quick" / "fake_two.png").is_file()


def test_bench_write_docs_and_out_dir_conflict(fake_checkout, tmp_path, capsys):
    rc, _out, err, _ = cli(capsys, "bench", "--write-docs", "--out-dir", tmp_path / "x")
    assert_one_line_error(rc, err, "--write-docs", "--out-dir")


def test_bench_budget_skips_the_remaining_parts(fake_checkout, capsys, monkeypatch):
    """Once the time budget is spent no further part starts; the skipped parts are named."""
    import optim._cli_bench as cli_bench

    clock = iter(float(t) for t in range(0, 10000, 50))  # every reading of the clock: 50 s later
    monkeypatch.setattr(cli_bench, "_clock", lambda: next(clock))
    rc, out, err, _ = cli(capsys, "bench", "--quick", "--budget", "60")
    assert rc == 0, err
    text = (fake_checkout / "benchmarks" / "results" / "benchmarks-quick.md").read_text()
    assert "section fake_one" in text and "section fake_two" not in text
    assert "skipped" in out and "fake_two" in out
    assert "fake_two" in text and "skipped" in text  # the report says what is missing


def test_bench_deadline_reaches_the_scripts(fake_checkout, capsys, monkeypatch):
    """The scripts see the budget's deadline (seconds since the epoch) while they run, and only then."""
    import time

    script = fake_checkout / "benchmarks" / "fake_one.py"
    script.write_text(script.read_text() + "\nimport os\nDEADLINE = []\n"
                      "_main = main\ndef main(argv):\n"
                      "    DEADLINE.append(os.environ.get('RNLA_BENCH_DEADLINE'))\n    _main(argv)\n")
    before = time.time()
    rc, _out, err, _ = cli(capsys, "bench", "--quick", "--budget", "100")
    assert rc == 0, err
    (seen,) = sys.modules["fake_one"].DEADLINE
    assert before + 100 <= float(seen) <= time.time() + 100
    assert "RNLA_BENCH_DEADLINE" not in os.environ
    cli(capsys, "bench")  # the full run has no budget
    assert sys.modules["fake_one"].DEADLINE == [None]


def test_bench_without_matplotlib_fails_first(no_matplotlib, fake_checkout, capsys):
    rc, out, err, _ = cli(capsys, "bench", "--quick")
    assert_one_line_error(rc, err, "matplotlib", 'pip install "rnla[plot]"')
    assert out == ""
    assert not (fake_checkout / "benchmarks" / "results").exists()


def test_bench_quick_parts_are_the_quick_variants():
    """Every quick part passes --quick to its script (the full problems stay the full ones)."""
    from optim._cli_bench import SCRIPTS

    assert [s for s, _, _ in SCRIPTS] == ["ridge_pcg", "spectrum", "glm", "second_order", "estimators"]
    for _script, full, quick in SCRIPTS:
        assert "--quick" in quick and "--quick" not in full
