"""Interception of Python functions that NumPy's protocols never see (most of SciPy).

``scipy.signal.fftconvolve``, ``scipy.ndimage.gaussian_filter``, ``scipy.linalg.expm``
and most of SciPy convert their inputs with ``np.asarray`` before any protocol
could hand a traced array to pullback. :func:`intercept` makes such a function
answer traced calls with a rule, however the caller reached it: ``scipy.signal.x``,
``from scipy.signal import x`` (before or after ``import pullback``), the private
module it is defined in, and SciPy's own internal calls, because it changes the
function object itself rather than a module attribute: its code becomes a short
dispatcher, and the original code lives on in a copy of the function.

The dispatcher looks at the positional and keyword arguments (and one level
into tuples and lists of them): if none is traced, it calls the original with
the same arguments, so plain calls return exactly what they returned before, at
the cost of one more Python call (about 0.1 µs; ``benchmarks/intercept.py``).
``inspect.signature``, ``__doc__``, ``__name__`` and ``__wrapped__`` are unchanged.
:func:`restore` undoes it for one function, :func:`restore_all` for all.

A closure (a decorated function, e.g. SciPy's ``axis``/``nan_policy`` wrappers) gets
a dispatcher with the same free variables, which forwards each call to the same check
(one more Python call). Functions that are not plain Python functions (builtins, Cython
functions, classes) cannot be changed this way; :func:`intercept` then replaces the name on
the function's own module and on its public module, and says so by returning False.

Examples
--------
>>> import numpy as np, pullback as pb
>>> from pullback.intercept import intercept, restore
>>> def norm2(x):                        # a function NumPy's protocols do not see
...     return float(np.sum(np.asarray(x) ** 2))
>>> intercept(norm2, lambda x: np.sum(x ** 2))   # its traced calls: a rule written in NumPy
True
>>> pb.gradient(norm2, np.array([1.0, 2.0]))[0]
array([2., 4.])
>>> norm2([3.0, 4.0])                   # plain calls run the original code
25.0
>>> restore(norm2)
"""

from __future__ import annotations

import inspect
import sys
import types
from collections.abc import Callable
from typing import Any

from .core import Tracer, tracing

#: intercepted function -> (its saved code, kwdefaults, the copy running the original code)
_SAVED: dict[Any, tuple] = {}


def _dispatcher(*args, __pb_original__=None, __pb_rule__=None, __pb_traced__=None, **kwargs):
    # This code replaces an intercepted function's own (see intercept): it may use only its
    # arguments and builtins, since it runs with the intercepted function's globals.
    for a in args:
        if isinstance(a, __pb_traced__):
            return __pb_rule__(*args, **kwargs)
        if type(a) is tuple or type(a) is list:
            for b in a:
                if isinstance(b, __pb_traced__):
                    return __pb_rule__(*args, **kwargs)
    if kwargs:
        for a in kwargs.values():
            if isinstance(a, __pb_traced__):
                return __pb_rule__(*args, **kwargs)
            if type(a) is tuple or type(a) is list:
                for b in a:
                    if isinstance(b, __pb_traced__):
                        return __pb_rule__(*args, **kwargs)
    return __pb_original__(*args, **kwargs)


_CLOSURE_CODES: dict[tuple, Any] = {}


def _closure_dispatcher_code(freevars: tuple) -> Any:
    """Code for a closure with these free variables that hands every call to its ``__pb_call__``
    keyword default (:func:`_closure_call`). A function's code can only be replaced by code with
    the same free variables, so they are named in a nested function that never runs. None if the
    compiler orders them differently from the closure."""
    code = _CLOSURE_CODES.get(freevars)
    if code is None:
        src = ("def _outer():\n" + "".join(f"    {n} = None\n" for n in freevars)
               + "    def _dispatcher(*args, __pb_call__=None, **kwargs):\n"
               + "        if __pb_call__ is None:\n"
               + f"            return lambda: ({', '.join(freevars)},)\n"
               + "        return __pb_call__(*args, **kwargs)\n"
               + "    return _dispatcher\n")
        namespace: dict = {}
        exec(compile(src, "<pullback.intercept closure dispatcher>", "exec"), namespace)
        code = namespace["_outer"]().__code__
        if code.co_freevars != freevars:
            return None
        _CLOSURE_CODES[freevars] = code
    return code


def _closure_call(original: Callable, rule: Callable, traced: type = Tracer) -> Callable:
    """What an intercepted closure's code calls: the dispatcher, with the original and the rule."""

    def closure_dispatch(*args, **kwargs):
        return _dispatcher(*args, __pb_original__=original, __pb_rule__=rule, __pb_traced__=traced, **kwargs)

    closure_dispatch.traced = traced
    return closure_dispatch


def _copy(func: types.FunctionType) -> types.FunctionType:
    """A new function object running ``func``'s current code (the original, kept)."""
    copy = types.FunctionType(func.__code__, func.__globals__, func.__name__, func.__defaults__,
                              func.__closure__)
    copy.__kwdefaults__ = func.__kwdefaults__
    copy.__qualname__ = func.__qualname__
    copy.__module__ = func.__module__
    copy.__doc__ = func.__doc__
    copy.__dict__.update(func.__dict__)
    return copy


def intercept(func: Callable, rule: Callable, traced: type | None = None) -> bool:
    """Make calls of ``func`` with a traced argument go to ``rule`` (same signature); others are unchanged.

    ``traced`` is what counts as a traced argument (an ``isinstance`` target; ``Tracer`` by
    default, and unchanged when a new rule replaces an intercepted function's): :class:`Always`
    sends every call made during a differentiation to the rule, for a function taking a callable
    whose closure may hold traced values.

    Returns True when ``func`` itself was changed (every name reaches the rule), False when only
    module attributes could be replaced (a function that is not plain Python).
    """
    if func in _SAVED:  # a new rule for an intercepted function: only the rule changes
        if func.__code__.co_freevars:
            before = func.__kwdefaults__["__pb_call__"].traced
            func.__kwdefaults__ = {"__pb_call__": _closure_call(_SAVED[func][2], rule, traced or before)}
        else:
            traced = traced or func.__kwdefaults__["__pb_traced__"]
            func.__kwdefaults__ = {**func.__kwdefaults__, "__pb_rule__": rule, "__pb_traced__": traced}
        return True
    traced = traced or Tracer
    if type(func) is not types.FunctionType:
        return _replace_names(func, rule)
    code = _dispatcher.__code__
    if func.__code__.co_freevars:  # a closure (e.g. a decorated function): its code keeps its cells
        code = _closure_dispatcher_code(func.__code__.co_freevars)
        if code is None:
            return _replace_names(func, rule)
    signature = inspect.signature(func)
    original = _copy(func)
    _SAVED[func] = (func.__code__, func.__kwdefaults__, original)
    func.__code__ = code
    if code is _dispatcher.__code__:
        func.__kwdefaults__ = {"__pb_original__": original, "__pb_rule__": rule, "__pb_traced__": traced}
    else:
        func.__kwdefaults__ = {"__pb_call__": _closure_call(original, rule, traced)}
    if "__signature__" not in func.__dict__:
        func.__signature__ = signature
        func.__dict__["__pb_signature_added__"] = True
    return True


class _AlwaysMeta(type):
    def __instancecheck__(cls, obj):
        return tracing()


class Always(metaclass=_AlwaysMeta):
    """An ``isinstance`` target that every object matches while a differentiation is in progress
    in this thread (``intercept(func, rule, traced=Always)``): every call of a function taking a
    callable, whose closure may hold traced values that no argument shows, then goes to its rule.
    Outside a differentiation no traced value can be alive, so plain calls run the function
    directly, at its own speed."""


def route(func: Callable) -> bool:
    """Intercept ``func`` so that its traced calls go to its rule in the registry (looked up at each
    call, so a later ``pb.adjoint(func)`` takes over). A rule that is a primitive sees traced keyword
    arguments positionally, as NumPy-dispatched rules do."""
    from .core import Primitive
    from .rules import registry as R

    plain = original(func)

    def traced_call(*args, **kwargs):
        rule = R.FUNCTIONS[func]
        if kwargs and isinstance(rule, Primitive):
            args, kwargs = R.move_traced_kwargs(plain, args, kwargs)
        return rule(*args, **kwargs)

    traced_call.__name__ = traced_call.__qualname__ = f"traced_{getattr(func, '__name__', 'call')}"
    return intercept(func, traced_call)


def original(func: Callable) -> Callable:
    """The function that runs ``func``'s original code (``func`` itself when it is not intercepted)."""
    saved = _SAVED.get(func)
    return func if saved is None else saved[2]


def intercepted(func: Callable) -> bool:
    """Whether ``func``'s code has been replaced by the dispatcher."""
    return func in _SAVED


def restore(func: Callable) -> None:
    """Give ``func`` its own code back."""
    saved = _SAVED.pop(func, None)
    if saved is None:
        return
    func.__code__, func.__kwdefaults__, _ = saved
    if func.__dict__.pop("__pb_signature_added__", False):
        func.__dict__.pop("__signature__", None)


def restore_all() -> None:
    """Give every intercepted function its own code back."""
    for func in list(_SAVED):
        restore(func)


def _replace_names(func: Callable, rule: Callable) -> bool:
    """For what cannot be changed in place: replace ``func`` on its module and its public module."""
    name = getattr(func, "__name__", None)
    if (getattr(func, "__module__", None) or "builtins") == "builtins":
        raise TypeError(f"pullback cannot intercept the builtin {name!r}")
    modules = {getattr(func, "__module__", None) or ""}
    modules.add(".".join(next(iter(modules)).split(".")[:2]))  # scipy.signal._x -> scipy.signal
    replaced = False
    for mod_name in modules:
        mod = sys.modules.get(mod_name)
        if mod is not None and name and getattr(mod, name, None) is func:

            def with_rule(*args, __func=func, **kwargs):
                for a in (*args, *kwargs.values()):
                    if isinstance(a, Tracer):
                        return rule(*args, **kwargs)
                return __func(*args, **kwargs)

            with_rule.__name__, with_rule.__qualname__ = name, getattr(func, "__qualname__", name)
            with_rule.__dict__.update(getattr(func, "__dict__", {}))  # e.g. lstsq.default_lapack_driver
            with_rule.__doc__, with_rule.__wrapped__ = getattr(func, "__doc__", None), func
            setattr(mod, name, with_rule)
            replaced = True
    if not replaced:
        raise TypeError(f"pullback cannot intercept {name!r}: it is not a Python function, and no "
                        "module attribute names it")
    return False
