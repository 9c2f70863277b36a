"""Rules: the ``*_like`` creators, copies and dtype casts.

``np.zeros_like(traced)`` returns a *traced constant*, so that the imperative
style ``y = np.zeros_like(x); y[:, :6] = x[:, :6] * w`` records its updates.
"""

from __future__ import annotations

import numpy as np

from ..core import Tracer, strip
from ..dispatch import TracedArray
from .registry import defcomposite, deflinear, defnondiff, register


def _top_trace(*args):
    top = None
    for a in args:
        if isinstance(a, Tracer) and (top is None or a._trace.level > top.level):
            top = a._trace
    return top


def _like(func):
    def like(a, *args, **kwargs):
        value = func(strip(a), *args, **kwargs)
        trace = _top_trace(a)
        if trace is None or np.result_type(value).kind not in "fc":
            return value
        return trace.constant(value)

    like.__name__ = f"{func.__name__}_traced"
    return like


for _f in (np.zeros_like, np.ones_like, np.empty_like):
    register(_f, _like(_f), "composite")


def full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None, **kwargs):
    """``np.full_like``; a traced ``fill_value`` is broadcast, so its gradient flows."""
    if isinstance(fill_value, Tracer):
        plain = strip(a)
        dt = plain.dtype if dtype is None else np.dtype(dtype)
        shp = plain.shape if shape is None else shape
        return np.broadcast_to(fill_value, shp).astype(dt) + np.zeros_like(plain, dtype=dt, shape=shp)
    return _like(np.full_like)(a, fill_value, dtype, order, subok, shape, **kwargs)


register(np.full_like, full_like, "composite")


def copy(a, order="K", subok=False):
    return a.copy(order=order) if isinstance(a, TracedArray) else np.copy(a, order=order, subok=subok)


register(np.copy, copy, "composite")


def astype_raw(x, dtype, order="K"):
    return x.astype(dtype, order=order)


def astype_adjoint(g, shape, dtype, new_dtype, order="K"):
    return g  # fit() casts the cotangent back to the input's dtype (keeping the real part)


deflinear(TracedArray.astype, astype_adjoint, raw=astype_raw, name="astype")


def astype_function(x, dtype, /, *, copy=True, device=None):
    """``np.astype`` (NumPy 2's function form of the method)."""
    if device not in (None, "cpu"):
        np.astype(np.zeros(0, strip(x).dtype), dtype, copy=copy, device=device)  # NumPy's own error
    return x.astype(dtype, copy=copy)


if hasattr(np, "astype"):
    defcomposite(np.astype, astype_function)


# dtype and shape queries: their answers carry no gradient
for _f in (np.result_type, np.can_cast, np.min_scalar_type, np.may_share_memory, np.shares_memory):
    defnondiff(_f)
