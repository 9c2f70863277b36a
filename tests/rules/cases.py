"""Shared helpers for rule tests.

Every rule family's test module defines ``CASES``: a list of
``(key, f, args)`` triples, where ``key`` is the registry key the case
exercises (the NumPy function, ufunc, or ``(ufunc, method)`` pair) and
``f(*args)`` calls it. ``test_registry.py`` fails if a registered key has no
case, and each family module runs its cases through
``pullback.testing.check_gradient`` in reverse and forward mode.
"""

from __future__ import annotations

import importlib
import pkgutil

import numpy as np

RNG = np.random.default_rng(1234)


def rand(*shape, dtype=np.float64, positive=False, seed=None):
    """A random array of ``shape`` and ``dtype`` (complex dtypes get random imaginary parts)."""
    rng = RNG if seed is None else np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    if positive:
        x = np.abs(x) + 0.5
    return np.asarray(x).astype(dtype)


def single(a):
    """``a`` in single precision (complex64 for complex, float32 otherwise)."""
    return a.astype(np.complex64 if a.dtype.kind == "c" else np.float32)


def check_float32(case, **tolerances) -> None:
    """A case run in single precision: float32 in, float32 value and gradients out, checked."""
    import pullback as pb
    from pullback.testing import check_gradient

    _, f, args = case
    args32 = tuple(single(a) for a in args)
    want = f(*args32)
    assert np.result_type(want) in (np.float32, np.complex64)
    assert np.result_type(pb.pullback(f, *args32)[0]) == np.result_type(want)
    check_gradient(f, *args32, **tolerances)


def case_id(case) -> str:
    key = case[0]
    if isinstance(key, tuple):
        return f"{key[0].__name__}.{key[1]}"
    return getattr(key, "__name__", str(key))


def all_cases() -> list:
    """Every family module's CASES, each as ``(module_name, key, f, args)``."""
    from . import __path__ as here

    found = []
    for mod in pkgutil.iter_modules(here):
        if mod.name.startswith("test_"):
            m = importlib.import_module(f"{__package__}.{mod.name}")
            found.extend((mod.name[5:], *c) for c in getattr(m, "CASES", []))
    return found
