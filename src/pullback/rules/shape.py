"""Rules: shape manipulation (reshape, transpose, broadcasting, joining, splitting, padding, ...).

Every function here is linear in its array argument(s). Most are declared with
:func:`deflinear` (one adjoint gives both modes; the pullback keeps only the
input's shape and dtype). Functions that are naturally a combination of others
(``ravel``, ``hstack``, ``split``, ``tile``, ``take``, ``sort``, ...) are
composites. ``concatenate`` and ``stack`` take a *sequence* of arrays, which
NumPy's protocols hand over as one argument: they go through :class:`JoinRule`,
a private primitive that takes the arrays as separate positional arguments and
is linear in all of them jointly (its adjoint slices the cotangent; its
tangent is the join of the tangents, with zeros for constant inputs).

Selections (``take``, ``take_along_axis``, ``repeat`` with per-entry counts,
``pad`` in the modes that copy entries) go through indexing or a scatter-add,
so repeated picks accumulate their cotangents (``np.add.at``). ``sort`` is a
permutation along its axis, whose adjoint is the inverse permutation.
"""

from __future__ import annotations

import math

import numpy as np

from ..core import NOT_TRACED, Primitive, Tracer, strip
from ..errors import NoRuleError
from .factor_cotangent import MIN_SIZE, FactorCotangent
from .indexing import scatter
from .registry import _with_values, defcomposite, deflinear, defnondiff, fit, fit_tangent, strip_tree
from .registry import array_like as _arr

try:  # NumPy >= 2
    from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import normalize_axis_index
    from numpy.core.numeric import normalize_axis_tuple


def _layout_order(a, order, layouts=("A", "a", "K", "k")):
    """Resolve NumPy's memory-layout orders ('A', 'K') to 'C' or 'F' from the plain value's layout.

    (A tangent or cotangent has its own layout, so the rule must fix the order once.)
    """
    if order in layouts:
        flags = getattr(strip(a), "flags", None)
        if flags is not None and flags.f_contiguous and not flags.c_contiguous:
            return "F"
        return "C"
    return order


# ---------------------------------------------------------------- reshaping


def _reshape_raw(a, shape, order="C", **kwargs):
    if order == "C":  # Dask's reshape takes no order
        return np.reshape(a, shape, **kwargs)
    return np.reshape(a, shape, order=order, **kwargs)


def reshape_adjoint(g, in_shape, in_dtype, /, shape, order="C", **kwargs):
    return np.reshape(g, in_shape) if order == "C" else np.reshape(g, in_shape, order=order)


_reshape = deflinear(_reshape_raw, reshape_adjoint, name="numpy.reshape", key=False)


def reshape(a, /, *args, **kwargs):
    """``np.reshape`` (any NumPy spelling: ``shape``/``newshape``, ``order``, ``copy``)."""
    args = list(args)
    shape = args.pop(0) if args else kwargs.pop("shape", kwargs.pop("newshape", None))
    order = args.pop(0) if args else kwargs.pop("order", "C")
    if shape is None:
        raise TypeError("reshape() missing required argument 'shape' (pos 2)")
    return _reshape(_arr(a), shape, _layout_order(a, order, ("A", "a")), **kwargs)


def ravel(a, order="C"):
    """``np.ravel`` = ``reshape(a, -1)``; ``order='K'`` of a strided value reads its axes in
    decreasing stride (each in its own direction), as NumPy does."""
    a = _arr(a)
    if order in ("K", "k"):
        value = strip(a)
        flags = getattr(value, "flags", None)
        if flags is not None and not (flags.c_contiguous or flags.f_contiguous) and value.ndim > 1:
            perm = sorted(range(value.ndim), key=lambda i: -abs(value.strides[i]))
            if perm != list(range(value.ndim)):
                return _reshape(np.transpose(a, perm), (-1,), "C")
    return _reshape(a, (-1,), _layout_order(a, order))


defcomposite(np.reshape, reshape)
defcomposite(np.ravel, ravel)


def _to_shape(g, in_shape, in_dtype, /, *args, **kwargs):
    return np.reshape(g, in_shape)


deflinear(np.expand_dims, _to_shape)
deflinear(np.squeeze, _to_shape)


def broadcast_to_adjoint(g, in_shape, in_dtype, /, shape, subok=False):
    return g  # fit() sums over the broadcast axes


deflinear(np.broadcast_to, broadcast_to_adjoint)

_BROADCAST_SEQ = type(np.broadcast_arrays(np.zeros(1), np.zeros(1)))


def broadcast_arrays(*args, subok=False):
    """``np.broadcast_arrays`` as ``broadcast_to`` of each argument."""
    arrs = [_arr(a) for a in args]
    shape = np.broadcast_shapes(*[a.shape for a in arrs])
    if all(a.shape == shape for a in arrs):
        return _BROADCAST_SEQ(arrs)
    return _BROADCAST_SEQ(np.broadcast_to(a, shape) for a in arrs)


defcomposite(np.broadcast_arrays, broadcast_arrays)

_ATLEAST_SEQ = type(np.atleast_1d(0, 0))


def _atleast(a, n):
    a = _arr(a)
    if a.ndim >= n:
        return a
    if n == 1:
        return np.reshape(a, (1,))
    if n == 2:
        return np.reshape(a, (1,) * (2 - a.ndim) + a.shape)
    if a.ndim == 0:
        return np.reshape(a, (1, 1, 1))
    if a.ndim == 1:
        return np.reshape(a, (1, a.shape[0], 1))
    return np.reshape(a, a.shape + (1,))


def _atleast_nd(n):
    def atleast(*arys):
        res = [_atleast(a, n) for a in arys]
        return res[0] if len(res) == 1 else _ATLEAST_SEQ(res)

    atleast.__name__ = f"atleast_{n}d"
    return atleast


defcomposite(np.atleast_1d, _atleast_nd(1))
defcomposite(np.atleast_2d, _atleast_nd(2))
defcomposite(np.atleast_3d, _atleast_nd(3))

# ---------------------------------------------------------------- permuting axes


def transpose_adjoint(g, in_shape, in_dtype, /, axes=None):
    """The inverse permutation. ``axes`` may be one integer (NumPy takes ``np.transpose(v, 0)``
    and ``v.transpose(k)`` of a 1-d ``v``: SciPy's ``CZT`` transposes so)."""
    if axes is None:
        return np.transpose(g)
    if np.ndim(axes) == 0:
        axes = (axes,)
    return np.transpose(g, np.argsort([a % len(in_shape) for a in axes]))


deflinear(np.transpose, transpose_adjoint)


def moveaxis_adjoint(g, in_shape, in_dtype, /, source, destination):
    return np.moveaxis(g, destination, source)


def swapaxes_adjoint(g, in_shape, in_dtype, /, axis1, axis2):
    return np.swapaxes(g, axis1, axis2)


deflinear(np.moveaxis, moveaxis_adjoint)
deflinear(np.swapaxes, swapaxes_adjoint)

if hasattr(np, "matrix_transpose"):  # NumPy >= 2.2

    def matrix_transpose(x, /):
        if x.ndim < 2:
            raise ValueError(f"Input array must be at least 2-dimensional, but it is {x.ndim}")
        return np.swapaxes(x, -1, -2)

    defcomposite(np.matrix_transpose, matrix_transpose)

# ---------------------------------------------------------------- flips and rotations


def flip_adjoint(g, in_shape, in_dtype, /, axis=None):
    return np.flip(g, axis)


def fliplr_adjoint(g, in_shape, in_dtype, /):
    return np.fliplr(g)


def flipud_adjoint(g, in_shape, in_dtype, /):
    return np.flipud(g)


def rot90_adjoint(g, in_shape, in_dtype, /, k=1, axes=(0, 1)):
    return np.rot90(g, -k, axes)


def _negate(shift):
    return tuple(-s for s in shift) if isinstance(shift, (tuple, list)) else -shift


def roll_adjoint(g, in_shape, in_dtype, /, shift, axis=None):
    return np.roll(g, _negate(shift), axis)


deflinear(np.flip, flip_adjoint)
deflinear(np.fliplr, fliplr_adjoint)
deflinear(np.flipud, flipud_adjoint)
deflinear(np.rot90, rot90_adjoint)
deflinear(np.roll, roll_adjoint)

# ---------------------------------------------------------------- diagonals and triangles


def _diag_index(shape2, offset):
    """Row and column indices of diagonal ``offset`` of a matrix of shape ``shape2``."""
    rows, cols = shape2
    n = max(0, min(rows + min(offset, 0), cols - max(offset, 0)))
    i = np.arange(n)
    return i + max(-offset, 0), i + max(offset, 0)


def diagonal_adjoint(g, in_shape, in_dtype, /, offset=0, axis1=0, axis2=1):
    nd = len(in_shape)
    if nd == 2 and offset == 0 and type(g) is np.ndarray and in_shape[0] == in_shape[1] >= MIN_SIZE:
        # diag(g) kept unevaluated: a Cholesky pullback uses it in O(n) (see factor_cotangent);
        # any other consumer materializes it (the same zeros with g on the diagonal)
        return FactorCotangent(in_shape, in_dtype, diag=g)
    a1, a2 = normalize_axis_index(axis1, nd), normalize_axis_index(axis2, nd)
    rest = [i for i in range(nd) if i not in (a1, a2)]
    mshape = tuple(in_shape[i] for i in rest) + (in_shape[a1], in_shape[a2])
    rows, cols = _diag_index(mshape[-2:], offset)
    out = scatter(g, mshape, in_dtype, (Ellipsis, rows, cols))
    return np.moveaxis(out, (-2, -1), (a1, a2))


def diag_adjoint(g, in_shape, in_dtype, /, k=0):
    if len(in_shape) == 1:
        return np.diagonal(g, k)
    return scatter(g, in_shape, in_dtype, _diag_index(in_shape, k))


def triu_adjoint(g, in_shape, in_dtype, /, k=0):
    return np.triu(g, k)


def tril_adjoint(g, in_shape, in_dtype, /, k=0):
    return np.tril(g, k)


deflinear(np.diagonal, diagonal_adjoint)
deflinear(np.diag, diag_adjoint)
deflinear(np.triu, triu_adjoint)
deflinear(np.tril, tril_adjoint)


def diagflat(v, k=0):
    """``np.diagflat`` = ``diag(ravel(v), k)``."""
    return np.diag(np.ravel(v), k)


defcomposite(np.diagflat, diagflat)

# ---------------------------------------------------------------- joining


class JoinRule(Primitive):
    """A join of arrays passed as separate positional arguments, linear in all of them jointly.

    ``raw(*arrays, **kwargs)`` computes the value; ``pieces(g, shapes, argnums,
    **kwargs)`` returns the cotangent of each argument in ``argnums`` (slices of
    ``g``). The pullback keeps only the shapes and dtypes of the inputs.
    """

    __slots__ = ("pieces",)

    def __init__(self, raw, name, pieces):
        super().__init__(raw, name)
        self.pieces = pieces

    def vjp(self, argnums, vals, kwargs, nested=True):
        ans = self.evaluate(vals, kwargs, nested)
        if ans.dtype.kind not in "fc":
            return ans, None
        shapes = [v.shape for v in vals]
        metas = [(vals[i].shape, vals[i].dtype) for i in argnums]
        pieces = self.pieces

        def join_back(g):
            cts = pieces(g, shapes, argnums, **kwargs)
            return tuple(fit(ct, *m) for ct, m in zip(cts, metas, strict=True))

        return ans, join_back

    def jvp(self, argnums, vals, tangents, kwargs, nested=True):
        ans = self.evaluate(vals, kwargs, nested)
        if ans.dtype.kind not in "fc":
            return ans, NOT_TRACED
        if all(t is None for t in tangents):
            return ans, None
        ts = [None] * len(vals)
        for i, t in zip(argnums, tangents, strict=True):
            ts[i] = t
        ts = [np.zeros_like(v) if t is None else t for v, t in zip(vals, ts, strict=True)]
        return ans, fit_tangent(self(*ts, **kwargs), ans)


def _concat_raw(*arrays, axis=0, **kwargs):
    return np.concatenate(arrays, axis=axis, **kwargs)


def concat_pieces(g, shapes, argnums, axis=0, **kwargs):
    if axis is None:
        sizes = [math.prod(s) for s in shapes]
        starts = np.cumsum([0] + sizes).tolist()
        return [np.reshape(g[starts[i]:starts[i] + sizes[i]], shapes[i]) for i in argnums]
    ax = normalize_axis_index(axis, g.ndim)
    starts = np.cumsum([0] + [s[ax] for s in shapes]).tolist()
    lead = (slice(None),) * ax
    return [g[lead + (slice(starts[i], starts[i + 1]),)] for i in argnums]


def _stack_raw(*arrays, axis=0, **kwargs):
    return np.stack(arrays, axis=axis, **kwargs)


def stack_pieces(g, shapes, argnums, axis=0, **kwargs):
    lead = (slice(None),) * normalize_axis_index(axis, g.ndim)
    return [g[lead + (i,)] for i in argnums]


_concatenate = JoinRule(_concat_raw, "numpy.concatenate", concat_pieces)
_stack = JoinRule(_stack_raw, "numpy.stack", stack_pieces)


def concatenate(arrays, axis=0, out=None, **kwargs):
    """``np.concatenate`` (``dtype``/``casting`` honoured)."""
    return _concatenate(*[_arr(a) for a in arrays], axis=axis, **kwargs)


def stack(arrays, axis=0, out=None, **kwargs):
    """``np.stack``."""
    return _stack(*[_arr(a) for a in arrays], axis=axis, **kwargs)


def hstack(tup, **kwargs):
    arrs = [_atleast(a, 1) for a in tup]
    axis = 0 if arrs and arrs[0].ndim == 1 else 1
    return _concatenate(*arrs, axis=axis, **kwargs)


def vstack(tup, **kwargs):
    return _concatenate(*[_atleast(a, 2) for a in tup], axis=0, **kwargs)


def dstack(tup):
    return _concatenate(*[_atleast(a, 3) for a in tup], axis=2)


def column_stack(tup):
    arrs = []
    for v in tup:
        v = _arr(v)
        if v.ndim < 2:
            v = np.reshape(v, (-1, 1)) if v.ndim == 1 else np.reshape(v, (1, 1))
        arrs.append(v)
    return _concatenate(*arrs, axis=1)


def append(arr, values, axis=None):
    """``np.append``: concatenation (of the flattened arrays when ``axis`` is None)."""
    arr, values = _arr(arr), _arr(values)
    if axis is None:
        arr = np.ravel(arr) if arr.ndim != 1 else arr
        values = np.ravel(values)
        axis = arr.ndim - 1
    return _concatenate(arr, values, axis=axis)


for _f, _impl in [
    (np.concatenate, concatenate), (np.stack, stack), (np.hstack, hstack), (np.vstack, vstack),
    (np.dstack, dstack), (np.column_stack, column_stack), (np.append, append),
]:
    defcomposite(_f, _impl)

# ---------------------------------------------------------------- splitting


def _slices(a, axis, bounds):
    lead = (slice(None),) * axis
    return [a[lead + (slice(lo, hi),)] for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]


def array_split(ary, indices_or_sections, axis=0):
    """``np.array_split`` by slicing (each piece is a view of the input, so gradients flow)."""
    ary = _arr(ary)
    total = ary.shape[axis]  # NumPy's own error for a bad axis
    axis = normalize_axis_index(axis, ary.ndim)
    try:
        bounds = [0] + list(indices_or_sections) + [total]
    except TypeError:
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ValueError("number sections must be larger than 0.") from None
        each, extras = divmod(total, sections)
        sizes = [0] + extras * [each + 1] + (sections - extras) * [each]
        bounds = np.cumsum(sizes).tolist()
    return _slices(ary, axis, bounds)


def split(ary, indices_or_sections, axis=0):
    """``np.split``: ``array_split`` that insists on equal sections."""
    try:
        len(indices_or_sections)
    except TypeError:
        sections = indices_or_sections
        n = _arr(ary).shape[axis]
        if n % sections:
            raise ValueError("array split does not result in an equal division") from None
    return array_split(ary, indices_or_sections, axis)


def hsplit(ary, indices_or_sections):
    ary = _arr(ary)
    if ary.ndim == 0:
        raise ValueError("hsplit only works on arrays of 1 or more dimensions")
    return split(ary, indices_or_sections, 1 if ary.ndim > 1 else 0)


def vsplit(ary, indices_or_sections):
    ary = _arr(ary)
    if ary.ndim < 2:
        raise ValueError("vsplit only works on arrays of 2 or more dimensions")
    return split(ary, indices_or_sections, 0)


def dsplit(ary, indices_or_sections):
    ary = _arr(ary)
    if ary.ndim < 3:
        raise ValueError("dsplit only works on arrays of 3 or more dimensions")
    return split(ary, indices_or_sections, 2)


for _f, _impl in [
    (np.split, split), (np.array_split, array_split), (np.hsplit, hsplit), (np.vsplit, vsplit),
    (np.dsplit, dsplit),
]:
    defcomposite(_f, _impl)

if hasattr(np, "unstack"):  # NumPy >= 2.1

    def unstack(x, /, *, axis=0):
        x = _arr(x)
        if x.ndim == 0:
            raise ValueError("Input array must be at least 1-d.")
        axis = normalize_axis_index(axis, x.ndim)
        lead = (slice(None),) * axis
        return tuple(x[lead + (i,)] for i in range(x.shape[axis]))

    defcomposite(np.unstack, unstack)

# ---------------------------------------------------------------- tiling and repeating


def tile(A, reps):
    """``np.tile`` as a broadcast of ``A`` to interleaved repeat axes, then a reshape."""
    A = _arr(A)
    reps = tuple(reps) if np.ndim(reps) else (int(reps),)
    d = max(len(reps), A.ndim)
    reps = (1,) * (d - len(reps)) + reps
    shape = (1,) * (d - A.ndim) + A.shape
    inter = tuple(v for s in shape for v in (1, s))
    target = tuple(v for r, s in zip(reps, shape, strict=True) for v in (r, s))
    out = np.broadcast_to(np.reshape(A, inter), target)
    return np.reshape(out, tuple(r * s for r, s in zip(reps, shape, strict=True)))


def repeat(a, repeats, axis=None):
    """``np.repeat``: a broadcast for one count, an indexed selection for per-entry counts."""
    a = _arr(a)
    if axis is None:
        a = np.ravel(a)
        axis = 0
    axis = normalize_axis_index(axis, a.ndim)
    r = np.asarray(repeats)
    if r.size == 1:
        k = int(r.reshape(-1)[0])
        if k < 0:
            raise ValueError("negative dimensions are not allowed")
        b = np.expand_dims(a, axis + 1)
        b = np.broadcast_to(b, a.shape[: axis + 1] + (k,) + a.shape[axis + 1:])
        return np.reshape(b, a.shape[:axis] + (a.shape[axis] * k,) + a.shape[axis + 1:])
    idx = np.repeat(np.arange(a.shape[axis]), r)
    return a[(slice(None),) * axis + (idx,)]


defcomposite(np.tile, tile)
defcomposite(np.repeat, repeat)

# ---------------------------------------------------------------- selections


def take(a, indices, axis=None, out=None, mode="raise"):
    """``np.take`` by indexing (repeated indices accumulate their cotangents)."""
    a = _arr(a)
    if axis is None:
        a = np.ravel(a)
        axis = 0
    axis = normalize_axis_index(axis, a.ndim)
    idx = _arr(indices)  # an index array stays what it is (a CuPy index stays on the GPU)
    if idx.dtype.kind not in "iu":
        idx = idx.astype(np.intp)  # NumPy casts (booleans select 0 and 1, they are not a mask)
    n = a.shape[axis]
    if mode == "wrap":
        idx = idx % n
    elif mode == "clip":
        idx = np.clip(idx, 0, n - 1)
    elif mode != "raise":
        raise ValueError(f"clipmode must be one of 'clip', 'raise', or 'wrap' (got {mode!r})")
    if idx.ndim == 0:
        idx = int(idx)
    return a[(slice(None),) * axis + (idx,)]


def _along_axis_index(arr_shape, indices, axis):
    if indices.dtype.kind not in "iu":
        raise IndexError("`indices` must be an integer array")
    if indices.ndim != len(arr_shape):
        raise ValueError("`indices` and `arr` must have the same number of dimensions")
    ones = (1,) * indices.ndim
    fancy = []
    for dim, n in enumerate(arr_shape):
        if dim == axis:
            fancy.append(indices)
        else:
            fancy.append(np.arange(n).reshape(ones[:dim] + (-1,) + ones[dim + 1:]))
    return tuple(fancy)


def take_along_axis(arr, indices, axis=-1):
    """``np.take_along_axis`` as fancy indexing."""
    arr = _arr(arr)
    indices = _arr(indices)
    if axis is None:
        if indices.ndim != 1:
            raise ValueError("when axis=None, `indices` must have a single dimension.")
        arr = np.ravel(arr)
        axis = 0
    axis = normalize_axis_index(axis, arr.ndim)
    return arr[_along_axis_index(arr.shape, indices, axis)]


def put_along_axis(arr, indices, values, axis):
    """``np.put_along_axis``: an in-place (functional) ``__setitem__`` on a traced ``arr``."""
    indices = _arr(indices)
    if axis is None:
        if indices.ndim != 1:
            raise ValueError("when axis=None, `indices` must have a single dimension.")
        flat = np.ravel(arr)
        flat[indices] = values
        arr[...] = np.reshape(flat, arr.shape)
        return None
    axis = normalize_axis_index(axis, arr.ndim)
    arr[_along_axis_index(arr.shape, indices, axis)] = values
    return None


def _permute_raw(a, perm, axis):
    return np.take_along_axis(a, perm, axis)


def permute_adjoint(g, in_shape, in_dtype, /, perm, axis):
    return _unpermute(g, perm, axis)


def _unpermute_raw(g, perm, axis):
    if type(g) is not np.ndarray:  # Dask has no put_along_axis (its fallback would write a copy)
        return np.take_along_axis(g, np.argsort(perm, axis=axis), axis)
    out = np.empty_like(g)
    np.put_along_axis(out, perm, g, axis)
    return out


def unpermute_adjoint(g, in_shape, in_dtype, /, perm, axis):
    return _permute(g, perm, axis)


# a permutation along an axis and its inverse: each other's adjoints, no scatter-add needed
_permute = deflinear(_permute_raw, permute_adjoint, name="permute_along_axis", key=False)
_unpermute = deflinear(_unpermute_raw, unpermute_adjoint, name="unpermute_along_axis", key=False)


def sort(a, axis=-1, kind=None, order=None, *, stable=None):
    """``np.sort`` as the permutation ``argsort(a)`` of ``a``: the gradient follows each entry."""
    if order is not None:
        raise ValueError("pullback: np.sort(order=...) applies to structured arrays, which have no gradient")
    a = _arr(a)
    if axis is None:
        a = np.ravel(a)
        axis = -1
    kw = {} if kind is None else {"kind": kind}
    if stable is not None:
        kw["stable"] = stable
    axis = normalize_axis_index(axis, a.ndim)
    return _permute(a, np.argsort(strip(a), axis=axis, **kw), axis)


for _f, _impl in [
    (np.take, take), (np.take_along_axis, take_along_axis), (np.put_along_axis, put_along_axis),
    (np.sort, sort),
]:
    defcomposite(_f, _impl)

# ---------------------------------------------------------------- padding

_GATHER_MODES = ("edge", "wrap", "reflect", "symmetric")
_PAD_KWARGS = {  # NumPy's table of the keywords each mode takes
    "empty": (), "edge": (), "wrap": (), "constant": ("constant_values",), "linear_ramp": ("end_values",),
    "maximum": ("stat_length",), "mean": ("stat_length",), "median": ("stat_length",),
    "minimum": ("stat_length",), "reflect": ("reflect_type",), "symmetric": ("reflect_type",),
}


def _pad_pairs(pad_width, ndim):
    """``pad_width`` normalised to ``ndim`` (before, after) pairs, as NumPy reads it."""
    if isinstance(pad_width, dict):
        pairs = [(0, 0)] * ndim
        for ax, w in pad_width.items():
            w = np.broadcast_to(np.asarray(w), (2,))
            pairs[normalize_axis_index(ax, ndim)] = (int(w[0]), int(w[1]))
        return pairs
    pw = np.broadcast_to(np.round(np.asarray(pad_width)).astype(np.intp), (ndim, 2))
    return [(int(b), int(e)) for b, e in pw]


def _pad_zero_raw(a, pad_width):
    return np.pad(a, pad_width, mode="constant")


def pad_zero_adjoint(g, in_shape, in_dtype, /, pad_width):
    """Zero padding's adjoint crops the cotangent."""
    pairs = _pad_pairs(pad_width, len(in_shape))
    return g[tuple(slice(b, b + n) for (b, _), n in zip(pairs, in_shape, strict=True))]


def _pad_gather_raw(a, pad_width, mode, **kwargs):
    return np.pad(a, pad_width, mode=mode, **kwargs)


def pad_gather_adjoint(g, in_shape, in_dtype, /, pad_width, mode, **kwargs):
    """Each output entry is a copy of one input entry: pad an index array the same way, scatter-add."""
    n = math.prod(in_shape)
    src = np.pad(np.arange(n).reshape(in_shape), pad_width, mode=mode, **kwargs)
    return np.reshape(scatter(np.ravel(g), (n,), in_dtype, np.ravel(src)), in_shape)


_pad_zero = deflinear(_pad_zero_raw, pad_zero_adjoint, name="numpy.pad", key=False)
_pad_gather = deflinear(_pad_gather_raw, pad_gather_adjoint, name="numpy.pad", key=False)


def pad(array, pad_width, mode="constant", **kwargs):
    """``np.pad`` in every named mode: 'constant' (any, even traced scalar, ``constant_values``),
    'edge', 'wrap', 'reflect'/'symmetric' (even: a gather; odd: linear), 'linear_ramp', 'mean',
    'maximum', 'minimum', 'median' (``stat_length``, ``end_values``), and 'empty' (zeros)."""
    a = _arr(array)
    if isinstance(mode, str):
        allowed = _PAD_KWARGS.get(mode)
        if allowed is None:
            raise ValueError(f"mode '{mode}' is not supported")
        unsupported = set(kwargs) - set(allowed)
        if unsupported:
            raise ValueError(f"unsupported keyword arguments for mode '{mode}': {unsupported}")
    if mode in ("constant", "empty"):
        cv = kwargs.pop("constant_values", 0)
        out = _pad_zero(a, pad_width)
        if isinstance(cv, Tracer):
            if cv.ndim != 0:
                raise NoRuleError("numpy.pad with a traced non-scalar constant_values")
            mask = np.pad(np.zeros(a.shape, dtype=bool), pad_width, constant_values=True)
            return out + np.where(mask, cv, 0)
        if mode == "constant" and np.any(np.asarray(cv) != 0):
            zeros = np.zeros_like(strip(out), shape=a.shape)
            out = out + np.pad(zeros, pad_width, mode="constant", constant_values=cv)
        return out
    if mode in _GATHER_MODES and kwargs.get("reflect_type") != "odd":  # NumPy: anything else is even
        return _pad_gather(a, pad_width, mode, **kwargs)
    if mode in ("maximum", "minimum", "median"):
        return _pad_by_axis(a, pad_width, mode, kwargs)
    if mode in ("reflect", "symmetric", "linear_ramp", "mean"):
        # the linear modes round differently from NumPy's own steps (float32): NumPy's value
        out = _pad_by_axis(a, pad_width, mode, kwargs)
        return _with_values(out, np.pad(strip(a), strip_tree(pad_width), mode, **strip_tree(kwargs)))
    raise NoRuleError("numpy.pad with a callable mode")


def _axis_pairs(value, ndim, default):
    """A per-axis keyword (``stat_length``, ``end_values``) as ``ndim`` (before, after) pairs."""
    if value is None:
        return [(default, default)] * ndim
    pairs = np.broadcast_to(np.asarray(value, dtype=object), (ndim, 2))
    return [(pairs[i, 0], pairs[i, 1]) for i in range(ndim)]


def _pad_by_axis(a, pad_width, mode, kwargs):
    """The modes that compute their border from the array, one axis at a time, as NumPy does.

    Linear ones (``mean``, ``linear_ramp`` with its end values split off as a constant, odd
    ``reflect``/``symmetric``) apply the border rows of ``np.pad`` of an identity matrix, so
    their value and adjoint come from NumPy's own definition; ``maximum``/``minimum``/``median``
    are the reductions of the stat region, broadcast across the border.
    """
    pairs = _pad_pairs(pad_width, a.ndim)
    stats = _axis_pairs(kwargs.get("stat_length"), a.ndim, None)
    ends = _axis_pairs(kwargs.get("end_values"), a.ndim, 0)
    out = a
    for ax, ((before, after), stat, end) in enumerate(zip(pairs, stats, ends, strict=True)):
        if before == 0 and after == 0:
            continue
        n = out.shape[ax]
        if mode in ("maximum", "minimum", "median"):
            out = _pad_stat_axis(out, ax, before, after, stat, mode)
            continue
        extra = {}
        if mode in ("reflect", "symmetric"):
            extra["reflect_type"] = kwargs.get("reflect_type", "even")
        elif mode == "mean":
            extra["stat_length"] = tuple(n if v is None else v for v in stat), (1, 1)
        real = np.finfo(strip(out).dtype).dtype if strip(out).dtype.kind in "fc" else np.float64
        eye = np.pad(np.eye(n), ((before, after), (0, 0)), mode=mode, **extra).astype(real)
        head = np.moveaxis(np.tensordot(eye[:before], out, axes=([1], [ax])), 0, ax)
        tail = np.moveaxis(np.tensordot(eye[before + n:], out, axes=([1], [ax])), 0, ax)
        parts = [head, out, tail]
        if mode == "linear_ramp" and (np.any(np.asarray(end[0]) != 0) or np.any(np.asarray(end[1]) != 0)):
            line = np.pad(np.zeros(n), (before, after), mode="linear_ramp", end_values=(end[0], end[1]))
            line = line.astype(real)
            shape = [1] * out.ndim
            parts[0] = parts[0] + np.reshape(line[:before], shape[:ax] + [before] + shape[ax + 1:])
            parts[2] = parts[2] + np.reshape(line[before + n:], shape[:ax] + [after] + shape[ax + 1:])
        out = np.concatenate(parts, axis=ax)
    return out


def _pad_stat_axis(a, ax, before, after, stat, mode):
    n = a.shape[ax]
    reduce = {"maximum": np.max, "minimum": np.min, "median": np.median}[mode]
    parts = []
    for width, length, side in ((before, stat[0], 0), (after, stat[1], 1)):
        if width == 0:
            parts.append(None)
            continue
        k = n if length is None else max(1, min(int(length), n))
        region = [slice(None)] * a.ndim
        region[ax] = slice(0, k) if side == 0 else slice(n - k, n)
        value = reduce(a[tuple(region)], axis=ax, keepdims=True)
        shape = list(a.shape)
        shape[ax] = width
        parts.append(np.broadcast_to(value, tuple(shape)))
    pieces = [p for p in (parts[0], a, parts[1]) if p is not None]
    return np.concatenate(pieces, axis=ax)


defcomposite(np.pad, pad)

# ---------------------------------------------------------------- no gradient

for _f in (
    np.argmax, np.argmin, np.argsort, np.argpartition, np.lexsort, np.nonzero, np.flatnonzero,
    np.argwhere, np.searchsorted, np.shape, np.ndim, np.size, np.digitize,
):
    defnondiff(_f)

__all__ = ["JoinRule"]

# ---------------------------------------------------------------- selections by NumPy's own index map
#
# insert, delete, resize, choose and block only move entries. NumPy's own function applied to
# arrays of *positions* (the flat index of every entry of every source, in place of its value) says
# where each entry of the result comes from, with NumPy's broadcasting, modes, edge cases and
# errors (the positions have the sources' shapes). The result is then one gather from the
# flattened sources, so the values are NumPy's exactly and the gradient is a scatter-add.


def _positions(sources):
    """Each source's flat positions in the concatenated sources, shaped as the source."""
    out, start = [], 0
    for s in sources:
        n = math.prod(np.shape(s))
        out.append(np.reshape(np.arange(start, start + n, dtype=np.intp), np.shape(s)))
        start += n
    return out


def _gather(sources, where, dtype):
    """``concatenate(ravel(s) as dtype for s in sources)[where]``."""
    flat = [np.ravel(s if s.dtype == dtype else s.astype(dtype)) for s in sources]
    src = flat[0] if len(flat) == 1 else _concatenate(*flat, axis=0)
    return src[where]


def _inexact(dtype):
    return np.dtype(dtype).kind in "fc"


def insert(arr, obj, values, axis=None):
    """``np.insert``: both ``arr`` and ``values`` are differentiable (values cast to arr's dtype)."""
    arr, values, obj = _arr(arr), _arr(values), strip(obj)
    if not _inexact(arr.dtype):
        return np.insert(strip(arr), obj, strip(values), axis=axis)
    pa, pv = _positions([arr, values])
    where = np.insert(pa, obj, pv, axis=axis)
    return _gather([arr, values], where, arr.dtype)


def delete(arr, obj, axis=None):
    """``np.delete``: the entries kept."""
    arr, obj = _arr(arr), strip(obj)
    if not _inexact(arr.dtype):
        return np.delete(strip(arr), obj, axis=axis)
    return _gather([arr], np.delete(_positions([arr])[0], obj, axis=axis), arr.dtype)


def resize(a, new_shape):
    """``np.resize``: ``a``'s entries repeated cyclically (an empty ``a`` gives NumPy's zeros)."""
    a = _arr(a)
    if not _inexact(a.dtype) or a.size == 0:
        return np.resize(strip(a), new_shape)
    return _gather([a], np.resize(_positions([a])[0], new_shape), a.dtype)


def choose(a, choices, out=None, mode="raise"):
    """``np.choose``: the index array ``a`` picks among the (broadcast) ``choices`` (differentiable),
    in every ``mode``."""
    a = strip(a)
    if not isinstance(choices, (list, tuple)):
        choices = _arr(choices)
        choices = [choices[k] for k in range(len(choices))]
    choices = [_arr(c) for c in choices]
    dtype = np.result_type(*[strip(c) for c in choices]) if choices else None
    if dtype is None or not _inexact(dtype):
        return np.choose(a, [strip(c) for c in choices], mode=mode)
    pos = _positions(choices)
    return _gather(choices, np.choose(a, pos, mode=mode), dtype)


def _block_leaves(arrays, leaves):
    """``arrays`` with every leaf (anything but a list) replaced by its index in ``leaves``."""
    if type(arrays) is list:
        return [_block_leaves(a, leaves) for a in arrays]
    if type(arrays) is tuple:
        raise TypeError  # NumPy's error, raised by np.block itself below
    leaves.append(_arr(arrays))
    return len(leaves) - 1


def _block_map(tree, pos):
    if type(tree) is list:
        return [_block_map(t, pos) for t in tree]
    return pos[tree]


def block(arrays):
    """``np.block``: every block differentiable (cast to the common dtype)."""
    leaves = []
    try:
        tree = _block_leaves(arrays, leaves)
    except TypeError:
        return np.block(strip_tree(arrays))
    dtype = np.result_type(*[strip(v) for v in leaves]) if leaves else None
    if dtype is None or not _inexact(dtype):
        return np.block(strip_tree(arrays))
    where = np.block(_block_map(tree, _positions(leaves)))
    return _gather(leaves, where, dtype)


def compress(condition, a, axis=None, out=None):
    """``np.compress``: ``take`` of the selected indices (a condition shorter than the axis selects
    among the first entries, as in NumPy)."""
    cond = np.asarray(strip(condition), dtype=bool)
    if cond.ndim != 1:
        raise ValueError("condition must be a 1-d array")
    a = _arr(a)
    try:
        return np.take(a, np.nonzero(cond)[0], axis=axis)
    except IndexError:
        np.compress(cond, strip(a), axis=axis)  # raises NumPy's error
        raise


def extract(condition, arr):
    """``np.extract``: the entries of ``ravel(arr)`` where ``ravel(condition)`` is true."""
    arr = _arr(arr)
    idx = np.nonzero(np.ravel(strip(condition)))[0]
    try:
        return np.take(np.ravel(arr), idx)
    except IndexError:
        np.extract(strip(condition), strip(arr))  # raises NumPy's error
        raise


def trim_zeros(filt, trim="fb", axis=None):
    """``np.trim_zeros``: a slice of ``filt`` found from its values (NumPy's steps)."""
    p = np.asarray(strip(filt))
    trim = trim.lower()
    if trim not in {"fb", "bf", "f", "b"}:
        raise ValueError(f"unexpected character(s) in `trim`: {trim!r}")
    axes = tuple(range(p.ndim)) if axis is None else normalize_axis_tuple(axis, p.ndim, argname="axis")
    if not axes:
        return filt
    nonzero = np.argwhere(p)
    if nonzero.size == 0:
        start = stop = np.zeros(p.ndim, dtype=np.intp)
    else:
        start, stop = nonzero.min(axis=0), nonzero.max(axis=0) + 1
        if "f" not in trim:
            start = (None,) * p.ndim
        if "b" not in trim:
            stop = (None,) * p.ndim
    sl = tuple(slice(start[ax], stop[ax]) if ax in axes else slice(None) for ax in range(p.ndim))
    return _arr(filt)[sl[0] if len(sl) == 1 else sl]


def sort_complex(a):
    """``np.sort_complex``: ``np.sort`` (lexicographic for complex), then NumPy's complex dtype."""
    b = np.sort(_arr(a))
    if b.dtype.kind == "c":
        return b
    target = {"b": "F", "h": "F", "B": "F", "H": "F", "g": "G"}.get(b.dtype.char, "D")
    return b.astype(target)


for _f, _impl in [
    (np.insert, insert), (np.delete, delete), (np.resize, resize), (np.choose, choose), (np.block, block),
    (np.compress, compress), (np.extract, extract), (np.trim_zeros, trim_zeros),
    (np.sort_complex, sort_complex),
]:
    defcomposite(_f, _impl)
