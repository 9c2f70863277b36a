"""Whether a ``scipy.fft.set_workers`` context is open: the caller's choice of threads.

pullback's engines use every core for large transforms unless the caller chose a number of
workers. SciPy keeps that choice in a thread-local attribute which ``set_workers`` sets on entry
and, on exit, sets back to the value it read before (``1`` when nothing had been chosen): the
attribute outlives the context, and its value ``1`` then looks like an explicit ``set_workers(1)``.
So ``scipy.fft.set_workers`` is wrapped (on import of this module, in ``scipy.fft`` and in the
module that defines it) to count the contexts open in each thread: the same context manager,
which also counts. A value of ``1`` with no context open is SciPy's default, not a choice.

A ``set_workers`` imported before pullback was (``from scipy.fft import set_workers``) is not
counted: its ``set_workers(1)`` then reads as the default (transforms may use every core), while
any other number it sets is still honoured.

Examples
--------
>>> import scipy.fft
>>> from pullback.engines import workers
>>> workers.chosen() is None
True
>>> with scipy.fft.set_workers(3):
...     workers.chosen()
3
>>> with scipy.fft.set_workers(1):
...     workers.chosen()
1
>>> workers.chosen() is None  # the context's trace (SciPy's default, 1) is not a choice
True
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading

import scipy.fft as sfft


def _helper_module():
    for name in ("scipy.fft._pocketfft.helper", "scipy.fft._duccfft.helper"):
        try:
            __import__(name)
            return sys.modules[name]
        except ImportError:
            continue
    return None  # pragma: no cover - another SciPy layout


_helper = _helper_module()


class _Open(threading.local):
    depth = 0


_open = _Open()


def chosen() -> int | None:
    """The workers of the innermost ``scipy.fft.set_workers`` context open in this thread, or None."""
    if _helper is None:
        return None
    value = _helper._config.__dict__.get("default_workers")
    if value is None or (value == 1 and _open.depth == 0):
        return None
    return value


def _wrap() -> None:
    original = sfft.set_workers
    if getattr(original, "_pullback_counts", False):
        return

    @functools.wraps(original)
    @contextlib.contextmanager
    def set_workers(workers):
        _open.depth += 1
        try:
            with original(workers):
                yield
        finally:
            _open.depth -= 1

    set_workers._pullback_counts = True
    for module in (sfft, _helper):
        if module is not None and getattr(module, "set_workers", None) is original:
            module.set_workers = set_workers


_wrap()
