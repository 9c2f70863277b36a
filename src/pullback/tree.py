"""Flatten and rebuild argument structures: tuples, lists, dicts, namedtuples, dataclasses."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def flatten(tree: Any) -> tuple[list, Callable[[list], Any]]:
    """Return the leaves of ``tree`` (depth first) and a function that rebuilds it.

    Examples
    --------
    >>> leaves, rebuild = flatten({"a": (1.0, 2.0), "b": [3.0]})
    >>> leaves
    [1.0, 2.0, 3.0]
    >>> rebuild([x * 10 for x in leaves])
    {'a': (10.0, 20.0), 'b': [30.0]}
    """
    leaves: list = []
    spec = _build(tree, leaves)
    return leaves, lambda new: _rebuild(spec, iter(new))


def _build(x: Any, leaves: list):
    if _is_namedtuple(x):
        return ("namedtuple", type(x), [_build(v, leaves) for v in x])
    if type(x) in (tuple, list):
        return (type(x).__name__, None, [_build(v, leaves) for v in x])
    if isinstance(x, dict):
        return ("dict", (type(x), list(x.keys())), [_build(v, leaves) for v in x.values()])
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        fields = [f.name for f in dataclasses.fields(x) if f.init]
        return ("dataclass", (x, fields), [_build(getattr(x, n), leaves) for n in fields])
    leaves.append(x)
    return None


def _rebuild(spec, it):
    if spec is None:
        return next(it)
    kind, info, children = spec
    values = [_rebuild(c, it) for c in children]
    if kind == "tuple":
        return tuple(values)
    if kind == "list":
        return values
    if kind == "namedtuple":
        return info(*values)
    if kind == "dict":
        cls, keys = info
        out = dict(zip(keys, values))
        if cls is dict:
            return out
        try:
            return cls(out)
        except TypeError:  # a dict subclass whose constructor takes other arguments (RootResults)
            rebuilt = cls.__new__(cls)
            dict.update(rebuilt, out)
            return rebuilt
    obj, fields = info
    return dataclasses.replace(obj, **dict(zip(fields, values)))
