"""Rules: indexing (basic, advanced, boolean) and functional ``__setitem__``."""

from __future__ import annotations

import numpy as np

from ..dispatch import TracedNDArray
from .registry import deflinear, defvjp


def getitem_raw(x, index):
    return x[index]


def _basic(index) -> bool:
    """Basic indexing (ints, slices, Ellipsis, None) never repeats an element."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis for p in parts)


def scatter_raw(g, shape, dtype, index):
    """Zeros of ``shape`` with ``g`` added at ``index`` (repeated indices accumulate)."""
    out = np.zeros_like(g, shape=shape, dtype=np.result_type(g.dtype, dtype))
    if _basic(index):
        out[index] = g
    else:
        np.add.at(out, index, g)
    return out


def getitem_adjoint(g, shape, dtype, index):
    return scatter(g, shape, dtype, index)


def scatter_adjoint(g, shape, dtype, out_shape, out_dtype, index):
    return getitem(g, index)


getitem = deflinear(TracedNDArray.__getitem__, getitem_adjoint, raw=getitem_raw, name="getitem")
scatter = deflinear(scatter_raw, scatter_adjoint, name="scatter_add", key=False)


def setitem_raw(x, value, index):
    out = x.copy()
    out[index] = value
    return out


def setitem_vjp_x(g, ans, x, value, index):
    return setitem(g, np.zeros((), dtype=g.dtype), index)


def setitem_vjp_value(g, ans, x, value, index):
    return getitem(g, index)  # the rule's fit() sums over any broadcasting of the value


def setitem_jvp_x(t, ans, x, value, index):
    return setitem(t, np.zeros((), dtype=t.dtype), index)


def setitem_jvp_value(t, ans, x, value, index):
    return setitem(np.zeros_like(t, shape=ans.shape, dtype=ans.dtype), t, index)


setitem = defvjp(
    TracedNDArray.__setitem__,
    [setitem_vjp_x, setitem_vjp_value, None],
    [setitem_jvp_x, setitem_jvp_value, None],
    raw=setitem_raw,
    name="setitem",
)
