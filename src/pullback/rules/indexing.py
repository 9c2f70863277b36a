"""Rules: indexing (basic, advanced, boolean) and functional ``__setitem__``."""

from __future__ import annotations

import math

import numpy as np

from ..core.trace import set_lazy
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
    elif type(out) is np.ndarray:
        _add_at(out, index, g)
    else:  # Dask, CuPy: no ufunc.at
        return _scatter_by_gathers(g, shape, out.dtype, index)
    return out


#: Below this many picks ``np.add.at`` is as fast as anything (and needs no index grid).
BINCOUNT_MIN = 4096


def _add_at(out, index, g):
    """``np.add.at(out, index, g)`` into the zeros ``out``. Many picks (an STFT's overlapping
    frames, a gather's adjoint) accumulate by ``np.bincount`` over their flat positions, about 5x
    faster than ``ufunc.at``, in the same order (float64 bit for bit; float32 sums in float64)."""
    picks = g.size
    if picks < BINCOUNT_MIN or 4 * picks < out.size or out.dtype.kind not in "fc":
        np.add.at(out, index, g)
        return
    positions = np.arange(out.size, dtype=np.intp).reshape(out.shape)[index]
    if positions.shape != g.shape:
        g = np.broadcast_to(g, positions.shape)
    positions = positions.reshape(-1)
    g = g.reshape(-1)
    flat = out.reshape(-1)
    if out.dtype.kind == "c":
        flat.real = np.bincount(positions, weights=g.real, minlength=out.size)
        flat.imag = np.bincount(positions, weights=g.imag, minlength=out.size)
    else:
        flat[...] = np.bincount(positions, weights=g, minlength=out.size)


def _scatter_by_gathers(g, shape, dtype, index):
    """``np.add.at(zeros(shape), index, g)`` by gathers, for array types without ``ufunc.at``.

    The flat positions that ``index`` picks are found on a NumPy index grid; the k-th pick
    of each position forms layer k (no repeats within a layer), and each layer is one gather
    from ``g`` (with a zero appended for the positions it does not write). Cost: one gather
    of the whole output per layer (the largest number of times one element is picked).
    """
    positions = np.arange(math.prod(shape)).reshape(shape)[index].reshape(-1)
    order = np.argsort(positions, kind="stable")
    sorted_pos = positions[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_pos)) + 1]
    rank = np.arange(sorted_pos.size) - np.repeat(starts, np.diff(np.r_[starts, sorted_pos.size]))
    flat = np.concatenate([np.reshape(g, (-1,)).astype(dtype), np.zeros_like(g, shape=(1,), dtype=dtype)])
    out = None
    for k in range(int(rank.max()) + 1 if rank.size else 0):
        source = np.full(math.prod(shape), positions.size, dtype=np.intp)  # the appended zero
        layer = rank == k
        source[sorted_pos[layer]] = order[layer]
        picked = flat[source]
        out = picked if out is None else out + picked
    if out is None:
        return np.zeros_like(g, shape=shape, dtype=dtype)
    return np.reshape(out, shape)


class SparseCotangent:
    """The cotangent of element reads ``x[i, j]``: entries at flat positions (plus, once a dense
    cotangent has been added to it, that array), summed when made dense.

    A dense zero array per read would make a loop of N element reads cost O(N^2) in the backward
    pass; the sweep adds these up in O(1) each and makes one array at the end (``materialize``).
    Only the sweep ever holds one (it is never a user's or a pullback's value), so a sum extends
    it in place; a dense array added to it is kept by reference, never written.
    """

    __slots__ = ("shape", "dtype", "positions", "values", "dense")
    __array_ufunc__ = None  # ndarray + SparseCotangent comes to __radd__

    def __init__(self, shape, dtype, position, value):
        self.shape, self.dtype = shape, dtype
        self.positions, self.values = [position], [value]
        self.dense = None

    def __add__(self, other):
        if type(other) is SparseCotangent:
            self.positions.extend(other.positions)
            self.values.extend(other.values)
            other = other.dense
            if other is None:
                return self
        elif hasattr(other, "materialize"):  # another lazy kind (e.g. a Cholesky factor's cotangent)
            other = other.materialize()
        self.dense = other if self.dense is None else self.dense + other
        return self

    __radd__ = __add__

    def materialize(self):
        values = np.array(self.values)
        if values.dtype.kind == "c" and self.dtype.kind != "c":
            values = values.real
        out = np.zeros(self.shape, dtype=np.result_type(self.dtype, values.dtype))
        np.add.at(out.reshape(-1), np.array(self.positions, dtype=np.intp), values)
        return out if self.dense is None else out + self.dense  # (a dense part may be traced)


set_lazy(SparseCotangent)


def _element(index, shape):
    """The flat position that an all-integer index names, or None for any other index."""
    parts = index if isinstance(index, tuple) else (index,)
    if len(parts) != len(shape):
        return None
    pos = 0
    for i, n in zip(parts, shape):
        if not isinstance(i, (int, np.integer)) or isinstance(i, (bool, np.bool_)):
            return None
        pos = pos * n + int(i) % n
    return pos


def getitem_adjoint(g, shape, dtype, index):
    if type(g) is not np.ndarray and isinstance(g, np.generic) or type(g) is np.ndarray and not g.ndim:
        pos = _element(index, shape)
        if pos is not None:
            return SparseCotangent(shape, dtype, pos, g)
    return scatter(g, shape, dtype, index)


def scatter_adjoint(g, shape, dtype, out_shape, out_dtype, index):
    return getitem(g, index)


getitem = deflinear(TracedNDArray.__getitem__, getitem_adjoint, raw=getitem_raw, name="getitem")
scatter = deflinear(scatter_raw, scatter_adjoint, name="scatter_add", key=False)


def copy_like(x):
    """A copy of ``x`` with its memory layout (NumPy's writes keep an array's layout, and so must
    its new value: later view-or-copy choices depend on it); other array types' own copy."""
    return x.copy(order="K") if type(x) is np.ndarray else x.copy()


def setitem_raw(x, value, index):
    if isinstance(x, np.generic):  # a 0-d value held as a NumPy scalar
        x = np.asarray(x)
    out = copy_like(x)
    out[index] = value
    return out


def setitem_vjp_x(g, ans, x, value, index):
    return setitem(g, np.zeros((), dtype=g.dtype), index)


def _may_repeat(index) -> bool:
    """Whether an index can name an entry twice (only integer arrays can)."""
    parts = index if isinstance(index, tuple) else (index,)
    for p in parts:
        if isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis:
            continue
        if getattr(p, "dtype", None) == np.bool_ or isinstance(p, (bool, np.bool_)):
            continue
        return True
    return False


def _winners(shape, target_shape, index):
    """Which entries of ``x[index]`` keep their assigned value in ``x[index] = value``.

    With repeated advanced indices NumPy's assignment keeps one of the values
    written to an entry (the last); the others are overwritten and get no
    gradient. Found by assigning position ids the same way.
    """
    ids = np.arange(math.prod(target_shape)).reshape(target_shape)
    slot = np.full(shape, -1, dtype=ids.dtype)
    slot[index] = ids
    return slot[index] == ids


def setitem_vjp_value(g, ans, x, value, index):
    gv = getitem(g, index)  # the rule's fit() sums over any broadcasting of the value
    if _may_repeat(index):
        gv = gv * _winners(x.shape, gv.shape, index)
    extra = value.ndim - gv.ndim
    if extra > 0:  # NumPy drops leading length-1 axes of the value: put them back before fit()
        gv = np.reshape(gv, (1,) * extra + gv.shape)
    return gv


def setitem_jvp_x(t, ans, x, value, index):
    return setitem(t, np.zeros((), dtype=t.dtype), index)


def setitem_jvp_value(t, ans, x, value, index):
    return setitem(np.zeros_like(t, shape=ans.shape, dtype=ans.dtype), t, index)


#: ``setitem(x, value, index)``: ``x`` with ``x[index] = value`` done (the write itself, with views,
#: is in :mod:`.views`).
setitem = defvjp(
    setitem_raw,
    [setitem_vjp_x, setitem_vjp_value, None],
    [setitem_jvp_x, setitem_jvp_value, None],
    name="setitem",
    key=False,
)
