"""Rules: reductions (sum, mean, prod, max/min, var/std, cumulative sums, ...).

Ties in max/min/amax/amin split the gradient equally among the tied entries.
"""

from __future__ import annotations

import numpy as np

from .registry import deflinear, register

_NOVALUE = getattr(np, "_NoValue", None)


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        return tuple(a % ndim for a in axis)
    return (axis % ndim,)


def _expand(g, shape, axis, keepdims):
    """Re-insert the reduced axes of ``g`` as length-1 axes."""
    if keepdims:
        return g
    axes = _axes(axis, len(shape))
    return np.reshape(g, tuple(1 if i in axes else n for i, n in enumerate(shape)))


def sum_raw(a, axis=None, dtype=None, out=None, keepdims=False, initial=_NOVALUE, where=True):
    kw = {} if initial is _NOVALUE else {"initial": initial}
    if where is not True:
        kw["where"] = where
    return np.sum(a, axis=axis, dtype=dtype, keepdims=keepdims, **kw)


def sum_adjoint(g, shape, dtype, axis=None, dtype_=None, out=None, keepdims=False, initial=_NOVALUE, where=True):
    """A constant along the summed axes: a stride-0 broadcast view, never a copy."""
    full = np.broadcast_to(_expand(g, shape, axis, keepdims), shape)
    if where is not True:
        full = np.where(where, full, 0)
    return full


sum_ = deflinear(np.sum, sum_adjoint, raw=sum_raw)
register((np.add, "reduce"), sum_, "linear")
