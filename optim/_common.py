"""Pieces every optimizer loop shares: the divergence test and callbacks that may stop a run."""

from __future__ import annotations

import inspect

from rnla import _backend
from rnla._validation import check_array

#: An objective that grows by more than this factor of ``|f(x0)| + 1`` counts as diverged.
DIVERGENCE_FACTOR = 1e4


def diverged(f0: float, f: float) -> bool:
    """Whether ``f`` has grown past the divergence threshold relative to ``f0``."""
    return f - f0 > DIVERGENCE_FACTOR * (abs(f0) + 1.0)


def copy_array(a):
    """A copy of the array ``a`` (any backend) that a user function may overwrite freely."""
    copy = getattr(a, "copy", None)
    if callable(copy):
        return copy()
    return _backend.array_namespace(a).asarray(a, copy=True)


def callback_stops(callback, info) -> bool:
    """Call ``callback(info)``; ``True`` (or anything truthy) or ``StopIteration`` asks to stop.

    A callback of SciPy's ``minimize`` (which carries ``stop_iteration``) is honoured too.
    """
    if callback is None:
        return False
    try:
        stop = callback(info)
    except StopIteration:
        return True
    return bool(stop is not None and stop) or bool(getattr(callback, "stop_iteration", False))


def accepts_keyword(func, name: str) -> bool:
    """Whether ``func`` takes a keyword argument ``name`` (or ``**kwargs``)."""
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def scipy_callback(callback):
    """``callback`` called the way SciPy's minimizers call it, given an intermediate result.

    SciPy passes the ``OptimizeResult`` only to a callback whose one parameter is named
    ``intermediate_result`` and a copy of ``x`` to any other; ``minimize`` leaves custom
    methods to do this themselves. The result handed over holds copies, so a callback that
    overwrites ``x`` or ``jac`` cannot change the run. A ``StopIteration`` is re-raised after
    setting ``stop_iteration = True`` on ``callback`` (when it allows attributes), which is how
    ``scipy.optimize.minimize`` learns that its wrapped callback stopped a custom method.
    """
    if callback is None:
        return None
    try:
        names = set(inspect.signature(callback).parameters)
    except (TypeError, ValueError):
        names = set()
    if names == {"intermediate_result"}:
        def forward(info):
            copied = type(info)(info)
            for key in ("x", "jac"):
                if getattr(copied.get(key), "shape", None) is not None:
                    copied[key] = copy_array(copied[key])
            return callback(intermediate_result=copied)
    else:
        def forward(info):
            return callback(copy_array(info.x))

    def call(info):
        try:
            return forward(info)
        except StopIteration:
            try:
                callback.stop_iteration = True
            except (AttributeError, TypeError):
                pass
            raise

    call.stop_iteration = False
    return call


def check_start(x0, name="x0"):
    """``(x, xp)``: the starting point as a 1-D real floating array (integers become float64).

    Anything without ``ndim`` (a list) goes through NumPy. Complex or non-numeric content, a
    wrong number of dimensions, an empty array, NaN or infinity raise ``ValueError`` naming
    ``name``; nothing is cast from complex to real.
    """
    x0 = check_array(x0, name, ndim=1)
    return x0, _backend.array_namespace(x0)


class Progress:
    """A tqdm bar over iterations when ``enabled`` (one printed line per update without tqdm)."""

    def __init__(self, name, total, enabled, *, unit="it"):
        self.bar = None
        self.enabled = bool(enabled)
        self.name = name
        self.count = 0
        if self.enabled:
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=total, desc=name, unit=unit)
            except ImportError:  # pragma: no cover - tqdm is an optional extra
                self.bar = None

    def update(self, **postfix):
        """Advance by one step, showing ``postfix`` (numbers, formatted compactly)."""
        if not self.enabled:
            return
        self.count += 1
        shown = {k: f"{v:.6g}" for k, v in postfix.items()}
        if self.bar is not None:
            self.bar.set_postfix(shown, refresh=False)
            self.bar.update(1)
        else:  # pragma: no cover
            print(f"{self.name} {self.count}: " + " ".join(f"{k}={v}" for k, v in shown.items()))

    def close(self):
        if self.bar is not None:
            self.bar.close()
