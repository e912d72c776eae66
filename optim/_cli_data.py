"""Data the ``rnla`` command reads: svmlight, CSV, .npz, .npy and Matrix Market files, or built-ins.

Every problem with a file becomes a :class:`DataError` whose message names the file and what is
wrong with it, so the command can print one line instead of a traceback.
"""

from __future__ import annotations

import csv
import io
import warnings
import zipfile
from pathlib import Path

import numpy as np

FORMATS = ("svmlight", "csv", "npz", "npy")
_SUFFIXES = {".svm": "svmlight", ".svmlight": "svmlight", ".libsvm": "svmlight", ".txt": "svmlight",
             ".csv": "csv", ".npz": "npz", ".npy": "npy"}


class DataError(Exception):
    """A data file that cannot be used; the message is meant for the user."""


def _existing(path):
    p = Path(path)
    if not p.exists():
        raise DataError(f"{path}: no such file")
    if p.is_dir():
        raise DataError(f"{path}: is a directory, not a data file")
    return p


def _format(path, fmt):
    if fmt != "auto":
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIXES:
        raise DataError(f"{path}: unknown file type {suffix or '(no extension)'!r}; use .svm/.svmlight/"
                        ".libsvm, .csv, .npz or .npy, or pass --format")
    return _SUFFIXES[suffix]


def _check_finite(path, X, y):
    values = X.data if hasattr(X, "tocsr") else X
    if not np.all(np.isfinite(values)):
        raise DataError(f"{path}: the features contain NaN or infinite values")
    if np.issubdtype(y.dtype, np.floating) and not np.all(np.isfinite(y)):
        raise DataError(f"{path}: the target contains NaN or infinite values")
    if X.shape[0] < 2 or X.shape[1] < 1:
        raise DataError(f"{path}: need at least 2 samples and 1 feature, got {X.shape[0]} × {X.shape[1]}")


def load_xy(path, fmt="auto", target=None):
    """``(X, y)`` from a data file; ``target`` names the CSV column holding ``y`` (default: last)."""
    p = _existing(path)
    fmt = _format(path, fmt)
    if target is not None and fmt != "csv":
        raise DataError(f"{path}: --target applies to CSV files only")
    loader = {"svmlight": _svmlight, "csv": _csv, "npz": _npz, "npy": _npy}[fmt]
    X, y = loader(p, target) if fmt == "csv" else loader(p)
    _check_finite(path, X, y)
    return X, y


def _svmlight(p):
    from sklearn.datasets import load_svmlight_file

    try:
        X, y = load_svmlight_file(str(p))
    except (ValueError, UnicodeDecodeError, RuntimeError) as exc:
        raise DataError(f"{p}: not a valid svmlight/LIBSVM file ({_first_line(exc)})") from None
    return X.tocsr(), y


def _first_line(exc):
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _csv(p, target):
    try:
        text = p.read_text()
    except UnicodeDecodeError:
        raise DataError(f"{p}: not a text CSV file") from None
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    if not rows:
        raise DataError(f"{p}: the file is empty")
    header = None
    if _looks_like_header(rows):
        header, rows = [c.strip() for c in rows[0]], rows[1:]
    if not rows:
        raise DataError(f"{p}: no data rows after the header")
    width = len(header) if header else len(rows[0])
    for i, r in enumerate(rows):
        if len(r) != width:
            line = i + 2 if header else i + 1
            raise DataError(f"{p}: line {line} has {len(r)} columns, expected {width}")
    if width < 2:
        raise DataError(f"{p}: need at least one feature column and a target column, found {width} column")
    col = _target_column(p, target, header, width)
    try:
        y_text = [r[col].strip() for r in rows]
        features = [[float(c) for j, c in enumerate(r) if j != col] for r in rows]
    except ValueError as exc:
        raise DataError(f"{p}: non-numeric feature value ({exc})") from None
    X = np.asarray(features, dtype=np.float64)
    y = np.asarray([float(v) for v in y_text]) if all(_is_number(v) for v in y_text) else np.asarray(y_text)
    return X, y


def _looks_like_header(rows):
    """Row 0 is a header if it has text in a column that holds numbers in the rows below (or if
    it is all text): a first sample with a string label is data, not a header."""
    first = rows[0]
    if all(not _is_number(c) for c in first):
        return True
    rest = rows[1:]
    for j, cell in enumerate(first):
        if not _is_number(cell) and rest and all(j < len(r) and _is_number(r[j]) for r in rest):
            return True
    return False


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _target_column(p, target, header, width):
    if target is None:
        return width - 1
    if header is not None and target in header:
        return header.index(target)
    try:
        col = int(target)
    except ValueError:
        names = f"; columns are {', '.join(header)}" if header else " and the file has no header"
        raise DataError(f"{p}: no column named {target!r}{names}") from None
    if not -width <= col < width:
        raise DataError(f"{p}: --target {col} is out of range for {width} columns")
    return col % width


def _npz(p):
    try:
        with _open_npz(p) as f:
            keys = set(f.files)
            if not {"X", "y"} <= keys:
                raise DataError(f"{p}: a .npz data file needs arrays named 'X' and 'y'; found "
                                f"{', '.join(sorted(keys)) or 'none'}")
            X, y = f["X"], f["y"]
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DataError(f"{p}: not a valid .npz file ({_first_line(exc)})") from None
    if X.ndim != 2:
        raise DataError(f"{p}: X must be 2-D, got shape {X.shape}")
    y = y.reshape(-1) if y.ndim == 2 and 1 in y.shape else y
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise DataError(f"{p}: y must have one entry per row of X ({X.shape[0]}), got shape {y.shape}")
    return _numeric(p, X), y


def _npy(p):
    A = _load_npy(p)
    if A.ndim != 2 or A.shape[1] < 2:
        raise DataError(f"{p}: a .npy data file must be 2-D with the target in the last column, got shape "
                        f"{A.shape}")
    A = _numeric(p, A)
    return A[:, :-1], A[:, -1]


def _load_npy(p):
    with open(p, "rb") as f:
        magic = f.read(6)
    if magic[:4] == b"PK\x03\x04":
        raise DataError(f"{p}: is a .npz archive, not a .npy array (rename it to .npz)")
    if magic != b"\x93NUMPY":
        raise DataError(f"{p}: not a .npy file (no NumPy header)")
    try:
        return np.load(p, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{p}: not a valid .npy file ({_first_line(exc)})") from None


def _open_npz(p):
    """``np.load`` of a .npz archive; a .npy array or anything else is a :class:`DataError`."""
    try:
        f = np.load(p, allow_pickle=False)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DataError(f"{p}: not a valid .npz file ({_first_line(exc)})") from None
    if not isinstance(f, np.lib.npyio.NpzFile):
        raise DataError(f"{p}: is a .npy array, not a .npz archive (rename it to .npy)")
    return f


def _numeric(p, A):
    if not (np.issubdtype(A.dtype, np.number) or A.dtype == bool) or np.iscomplexobj(A):
        raise DataError(f"{p}: the data must be real numbers, got dtype {A.dtype}")
    return A.astype(np.float64) if not np.issubdtype(A.dtype, np.floating) else A


def load_matrix(path):
    """A square matrix from .npy, .npz (a SciPy sparse matrix, or one array) or Matrix Market."""
    import scipy.io
    import scipy.sparse as sp

    p = _existing(path)
    suffix = p.suffix.lower()
    if suffix == ".npy":
        A = _load_npy(p)
    elif suffix == ".npz":
        try:
            A = sp.load_npz(p).tocsr()
        except (ValueError, KeyError, OSError, TypeError, zipfile.BadZipFile):
            try:
                with _open_npz(p) as f:
                    if len(f.files) != 1:
                        raise DataError(f"{p}: expected a SciPy sparse matrix (scipy.sparse.save_npz) or a "
                                        f"single array, found {', '.join(f.files) or 'nothing'}")
                    A = f[f.files[0]]
            except (zipfile.BadZipFile, OSError, ValueError) as exc:
                raise DataError(f"{p}: not a valid .npz file ({_first_line(exc)})") from None
    elif suffix == ".mtx":
        try:
            A = scipy.io.mmread(str(p))
        except (ValueError, OSError, IndexError) as exc:
            raise DataError(f"{p}: not a valid Matrix Market file ({_first_line(exc)})") from None
        A = A.tocsr() if sp.issparse(A) else np.asarray(A)
    else:
        raise DataError(f"{p}: unknown matrix file type {suffix or '(no extension)'!r}; "
                        "use .npy, .npz or .mtx")
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise DataError(f"{p}: the matrix must be square, got shape {A.shape}")
    A = A if sp.issparse(A) else _numeric(p, A)
    if sp.issparse(A):
        A = A.astype(np.float64) if not np.issubdtype(A.dtype, np.floating) else A
    values = A.data if sp.issparse(A) else A
    if not np.all(np.isfinite(values)):
        raise DataError(f"{p}: the matrix contains NaN or infinite values")
    return A


def load_vector(path, n):
    """A right-hand side of length ``n`` from .npy, .txt or .mtx."""
    import scipy.io

    p = _existing(path)
    suffix = p.suffix.lower()
    try:
        if suffix == ".npy":
            b = _load_npy(p)
        elif suffix == ".mtx":
            b = scipy.io.mmread(str(p))
            b = b.toarray() if hasattr(b, "toarray") else np.asarray(b)
        elif suffix in (".txt", ".csv"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "input contained no data": reported below
                b = np.loadtxt(p, delimiter="," if suffix == ".csv" else None, ndmin=1)
            if b.size == 0:
                raise DataError(f"{p}: the file is empty")
        else:
            raise DataError(f"{p}: unknown vector file type {suffix or '(no extension)'!r}; "
                            "use .npy, .txt or .mtx")
    except ValueError as exc:
        raise DataError(f"{p}: not a valid vector file ({_first_line(exc)})") from None
    b = _numeric(p, np.asarray(b))
    if b.ndim == 2 and 1 in b.shape:
        b = b.reshape(-1)
    if b.ndim != 1 or b.shape[0] != n:
        raise DataError(f"{p}: the right-hand side must have {n} entries to match the matrix, "
                        f"got shape {b.shape}")
    if not np.all(np.isfinite(b)):
        raise DataError(f"{p}: the right-hand side contains NaN or infinite values")
    return b


def builtin(loss, n_features, seed):
    """Random Fourier features of bundled scikit-learn data: breast cancer (logistic) or digits (squared)."""
    from sklearn.datasets import load_breast_cancer, load_digits
    from sklearn.kernel_approximation import RBFSampler
    from sklearn.preprocessing import StandardScaler

    if loss == "logistic":
        X0, y = load_breast_cancer(return_X_y=True)
        name = f"built-in breast cancer ({n_features} random Fourier features)"
    else:
        X0, y = load_digits(return_X_y=True)
        y = y.astype(np.float64)
        name = f"built-in digits, target = digit ({n_features} random Fourier features)"
    Z = StandardScaler().fit_transform(X0)
    features = RBFSampler(gamma=1.0 / (2.0 * X0.shape[1]), n_components=n_features, random_state=seed)
    return features.fit_transform(Z), y, name


def builtin_ridge(seed):
    """Ridge normal equations of :func:`rnla.datasets.make_decaying_regression` (Gram eigenvalues 1/i²)."""
    from rnla import GramOperator
    from rnla.datasets import make_decaying_regression

    X, y, _ = make_decaying_regression(4000, 800, random_state=seed)
    A = GramOperator(X)
    return A, X.T @ y / X.shape[0], "built-in ridge problem (4000 × 800, Gram eigenvalues 1/i²)"
