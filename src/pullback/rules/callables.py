"""Helpers for the rules of SciPy functions that take a callable (``quad``, ``solve_ivp``,
``scipy.optimize``): the callable's closure may hold traced values that no argument shows.

Such a function is intercepted with :class:`~pullback.intercept.Always`: while a
differentiation is in progress every call reaches its rule, which runs SciPy's own code on
plain values, the callable wrapped in a :class:`Watch` that strips its results and notes
whether any was traced. Outside a differentiation SciPy's function runs directly.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..core import Tracer, strip
from ..intercept import Always, intercept, original
from .registry import any_traced, strip_tree


class Watch:
    """A callable's plain twin: its results stripped of traces, noting whether any was traced
    (``traced``) and the shape and type of the first argument SciPy passed (``arg``: the value
    of its first call), so that a rule can call the user's function as SciPy does."""

    __slots__ = ("f", "traced", "arg", "__wrapped__")

    def __init__(self, f: Callable) -> None:
        self.f = self.__wrapped__ = f  # (inspect.signature sees the user's: curve_fit counts on it)
        self.traced = False
        self.arg = None

    def __call__(self, *args, **kwargs):
        if self.arg is None and args:
            self.arg = args[0]
        r = self.f(*args, **kwargs)
        if isinstance(r, Tracer):
            self.traced = True
            return strip(r)
        if type(r) in (tuple, list) and any_traced(r):
            self.traced = True
            return strip_tree(r)
        return r


def intercept_always(func: Callable, rule: Callable) -> Callable:
    """Send every call of ``func`` made during a differentiation to ``rule``; return the function
    running ``func``'s original code."""
    intercept(func, rule, traced=Always)
    return original(func)


def shaped_like(x, arg):
    """``x`` (traced) given the shape and kind of ``arg``, a value SciPy passed to the callable."""
    if isinstance(arg, np.ndarray):
        return np.reshape(x, arg.shape)
    return np.reshape(x, ()) if np.ndim(x) else x


def refuse(func: Callable, name: str, *callables: str) -> None:
    """Make ``func`` (which has no rule) raise :class:`~pullback.NoRuleError` naming it, during a
    differentiation, when an argument is traced or one of its ``callables`` returns traced values
    (closing over them), instead of failing inside SciPy's compiled code with an unrelated error.
    Its plain calls run SciPy's function."""
    import inspect

    from ..errors import NoRuleError

    signature = inspect.signature(func)

    def refused(*args, **kwargs):
        if any_traced(args) or any_traced(tuple(kwargs.values())):
            raise NoRuleError(name)
        bound = signature.bind(*args, **kwargs)
        watches = []
        for k in callables:
            if callable(bound.arguments.get(k)):
                bound.arguments[k] = w = Watch(bound.arguments[k])
                watches.append(w)
        out = raw(*bound.args, **bound.kwargs)
        if any(w.traced for w in watches):
            raise NoRuleError(name, "a function argument that depends on traced values")
        return out

    refused.__name__ = refused.__qualname__ = f"refused_{func.__name__}"
    raw = intercept_always(func, refused)
