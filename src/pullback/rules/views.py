"""Rules: NumPy's views and in-place writes, made functional.

In NumPy a view shares memory with its base: after ``v = y[:3]; v[:] = 1`` both
``v`` and ``y`` have changed, and so has every other view of ``y``. A traced
program must compute exactly that, while its record stays functional (every
traced value is immutable, so every pullback sees the values it was built with).
The scheme is PyTorch's functionalization, written for NumPy's views:

- A traced array that has views gets a :class:`Base`: the version of the memory
  they all share, whose current value (a traced value of the base's shape) the
  array itself holds. The views hold the array, as NumPy's views hold their base;
  nothing holds it back, so no reference cycle keeps it past its last use.
- A view (basic indexing, ``reshape``/``ravel`` where NumPy returns a view,
  ``transpose``/``.T``/``swapaxes``/``moveaxis``, ``squeeze``/``expand_dims``,
  the flips, ``.real``/``.imag``, ``.view()``, the pieces of ``split``, rows
  met by iteration; read-only: ``diagonal``, ``broadcast_to``) is a
  :class:`TracedView` (:class:`TracedView0` for a 0-d one): it records its base and
  the view operations that make it from the base's value (:class:`ViewInfo`).
  NumPy's scalars (a reduction's result, an element) are values, never views, and
  immutable: ``s += 1`` makes a new one.
- A write through any array of the family is a functional update: the written
  array's new value is computed (``setitem``), then scattered into the base's
  value at the positions the view covers (an index map: the view operations
  applied to ``arange(base.size)``), and the base's version goes up. The array
  that owns the base is updated at once; a view whose base has a newer version
  regenerates its value, by replaying its view operations on the base's value,
  the next time anything reads it.

Gradients follow from the functional form: the overwritten elements' cotangent
is cut and the written value receives the cotangent of exactly the positions it
was written to. Code that never writes pays only for creating its views (one
small record each). Everything that writes lives here: ``__setitem__``,
augmented assignment and ``out=`` (:func:`assign`, with NumPy's casting and
shape rules), ``fill``, ``flat``, in-place ``sort``, ``.shape =``, ``.real =``,
``.imag =``, ``np.copyto``, ``np.put``, ``np.putmask``, ``np.place`` and
``ufunc.at``.
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import dispatch as _dispatch
from ..core import Primitive, Tracer, strip
from ..core.trace import Tracer as _Slots
from ..dispatch import TracedArray, TracedArray0, TracedNDArray, traced
from ..errors import NoRuleError, TracedConversionError
from . import registry as R
from .elementwise import imag as _imag_rule
from .elementwise import real as _real_rule
from .indexing import _element, copy_like, getitem, setitem
from .registry import defvjp, register, value_of
from .shape import _reshape

_get_value, _set_value = _Slots._value.__get__, _Slots._value.__set__
_get_trace, _set_trace = _Slots._trace.__get__, _Slots._trace.__set__
_get_aux, _set_aux = _Slots._aux.__get__, _Slots._aux.__set__


class Base:
    """The shared memory of an array and its views: its current traced value and a version.

    The *owner* is the traced array that NumPy would call the base: the one array whose
    ``_view`` is this object. It is kept current eagerly, its views lazily. ``value`` is
    None while the owner itself holds the memory's value; ``has_owner`` turns False once
    the owner has itself become a view of this memory (by ``.shape =``), and ``value``
    then holds it.

    The Base never refers to its owner (the owner refers to it): an owner and its Base
    form no reference cycle, so they are freed by reference counting, like NumPy's
    arrays, not at the garbage collector's next pass. Each view holds the owner instead
    (:attr:`ViewInfo.root`), as a NumPy view holds its base.
    """

    __slots__ = ("value", "has_owner", "version", "writable")

    def __init__(self, writable=True):
        self.value = None
        self.has_owner = True
        self.version = 0
        self.writable = writable


def _current(base: Base, root):
    """The memory's current traced value: ``base.value``, or the owner ``root`` itself."""
    value = base.value
    return root if value is None else value


class ViewInfo:
    """What a view is: its base, the view operations from the base's value, and a component.

    ``ops`` is a tuple of ``(primitive, args, kwargs)``, each applied as
    ``primitive(x, *args, **kwargs)`` (to traced values when replaying, to an
    index array when mapping positions). ``component`` is None, ``"real"`` or
    ``"imag"`` (it commutes with every view operation, so it is applied last).
    ``seen`` is the base's version the view's value was computed at. ``root`` is the
    base's owner (None when it has none), which the view keeps alive.
    """

    __slots__ = ("base", "root", "ops", "component", "writable", "seen", "_positions", "_overlaps")

    def __init__(self, base, root, ops, component, writable):
        self.base = base
        self.root = root if base.has_owner else None
        self.ops = ops
        self.component = component
        self.writable = writable
        self.seen = base.version
        self._positions = None
        self._overlaps = None

    def positions(self):
        """The flat positions in the base of the view's entries (an integer array of its shape)."""
        if self._positions is None:
            shape = self.value().shape
            idx = np.arange(int(np.prod(shape)), dtype=np.intp).reshape(shape)
            self._positions = _replay(idx, self.ops, None)
        return self._positions

    def overlaps(self) -> bool:
        """Whether several of the view's entries are one element of the base (found once per view)."""
        if self._overlaps is None:
            positions = self.positions()
            self._overlaps = np.unique(positions).size != positions.size
        return self._overlaps

    def value(self):
        """The base's current traced value."""
        return _current(self.base, self.root)


def _replay(value, ops, component):
    for prim, args, kwargs in ops:
        value = prim(value, *args, **kwargs)
    if component == "real":
        value = _real_rule(value)
    elif component == "imag":
        value = _imag_rule(value)
    return value


def _take_over(x, new) -> None:
    """Give the traced array ``x`` the value and record of the traced value ``new``."""
    if not isinstance(new, Tracer):
        raise TracedConversionError("an in-place update that leaves the trace")  # pragma: no cover
    _set_value(x, _get_value(new))
    _set_trace(x, _get_trace(new))
    _set_aux(x, _get_aux(new))


def _refresh(view) -> None:
    info = view._view
    _take_over(view, _replay(info.value(), info.ops, info.component))
    info.seen = info.base.version


class TracedView(TracedNDArray):
    """A traced array that is a view of another: it regenerates its value when its base changed."""

    __slots__ = ()

    def _value_of(self):
        if self._view.seen != self._view.base.version:
            _refresh(self)
        return _get_value(self)

    def _aux_of(self):
        if self._view.seen != self._view.base.version:
            _refresh(self)
        return _get_aux(self)

    _value = property(_value_of, _set_value)
    _aux = property(_aux_of, _set_aux)


class TracedView0(TracedArray0):
    """A 0-d traced array that is a view of another (``y.view()``, ``x[0, ...]``, ``reshape(())``)."""

    __slots__ = ()

    _value = property(TracedView._value_of, _set_value)
    _aux = property(TracedView._aux_of, _set_aux)


def _array(x) -> bool:
    """Whether the traced value ``x`` is an array (NumPy's scalars are values, never views)."""
    return isinstance(x, TracedArray) and not isinstance(strip(x), np.generic)


def _view_class(x) -> type:
    return TracedView if x.ndim else TracedView0


# ---------------------------------------------------------------- making views


def _info(x):
    """``x``'s :class:`ViewInfo` (a view), its :class:`Base` (an array with views), its
    :class:`Pending` write log, or None."""
    return x._view


def _base(x) -> Base:
    """The :class:`Base` of a traced array that is not a view, made on first use."""
    b = _info(x)
    if b is None:
        b = Base()  # the owner stands for the memory's value while it is not a view itself
        x._view = b
    return b


def as_view(out, parent, op, writable=True, component=None):
    """Make ``out`` (just computed from ``parent`` by ``op``) a view of ``parent``'s memory."""
    if not _array(out) or not _array(parent) or out is parent:
        return out
    info = _info(parent)
    if type(info) is ViewInfo:
        ops = info.ops if op is None else info.ops + (op,)
        new = ViewInfo(info.base, info.root, ops, info.component or component, writable and info.writable)
    else:
        base = _base(parent)
        new = ViewInfo(base, parent, () if op is None else (op,), component, writable and base.writable)
    out.__class__ = _view_class(out)
    out._view = new
    return out


def mark_read_only(x) -> None:
    """Make writes into the traced array ``x`` (an input that NumPy marks read-only) raise as NumPy's do."""
    if isinstance(x, TracedArray):
        x._view = Base(writable=False)


def _scalar_index(index, ndim) -> bool:
    """Whether basic indexing with ``index`` picks one element (NumPy returns a scalar, not a view)."""
    if type(index) is int:
        return ndim == 1
    parts = index if isinstance(index, tuple) else (index,)
    return len(parts) == ndim and all(isinstance(p, (int, np.integer)) and not isinstance(p, bool)
                                      for p in parts)


def _basic(index) -> bool:
    """NumPy's basic indexing (ints, slices, Ellipsis, None): the result is a view."""
    if type(index) is slice:
        return True
    parts = index if isinstance(index, tuple) else (index,)
    for p in parts:
        if isinstance(p, (bool, np.bool_)):
            return False
        if isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis:
            continue
        if isinstance(p, np.ndarray) and p.ndim == 0 and p.dtype.kind in "iu":
            continue
        return False
    return True


def getitem_view(x, index):
    """``x[index]``: a view for basic indexing, as in NumPy; a copy for advanced indexing."""
    if type(x) is TracedPending and _scalar_index(index, x.ndim):
        return _log_read(x, x._view, index)
    out = getitem(x, index)
    if type(out) in (TracedNDArray, TracedArray0) and _basic(index):  # (an element is a scalar: a copy)
        return as_view(out, x, (getitem, (index,), _NO_KEYWORDS))
    return out


_NO_KEYWORDS: dict = {}  # a view operation's keyword arguments, when it has none (never written)


register(TracedNDArray.__getitem__, getitem_view, "linear")  # (TracedArray0's too)


def _viewing(func, writable=True):
    """Register ``func`` (a view function whose rule is already registered) as making views."""
    prim = R.FUNCTIONS[func]

    def view_of(a, *args, **kwargs):
        return as_view(prim(a, *args, **kwargs), a, (prim, args, kwargs), writable)

    view_of.__name__ = f"{getattr(func, '__name__', 'view')}_view"
    R.FUNCTIONS[func] = view_of


for _f in (np.transpose, np.swapaxes, np.moveaxis, np.squeeze, np.expand_dims, np.flip, np.fliplr,
           np.flipud, np.rot90):
    _viewing(_f)
for _f in (np.diagonal, np.broadcast_to):
    _viewing(_f, writable=False)

_diag = R.FUNCTIONS[np.diag]


def diag_view(v, k=0):
    """``np.diag``: of a matrix, its diagonal (a read-only view, as in NumPy); of a vector, a new matrix."""
    out = _diag(v, k)
    if getattr(v, "ndim", 0) == 2:
        return as_view(out, v, (_diag, (k,), {}), writable=False)
    return out


R.FUNCTIONS[np.diag] = diag_view

_einsum_handler = R.FUNCTIONS[np.einsum]


def _einsum_of(x, subscripts, **kwargs):
    """``np.einsum(subscripts, x)`` as a view operation (``x`` first)."""
    if isinstance(x, Tracer):
        return _einsum_handler(subscripts, x, **kwargs)
    return np.einsum(subscripts, x, **kwargs)


def einsum_view(*operands, **kwargs):
    """``np.einsum``: of one operand, a transposition or diagonal is a view in NumPy (``'ii->i'``,
    ``'ij->ji'``): writes through it reach the operand."""
    out = _einsum_handler(*operands, **kwargs)
    if len(operands) == 2 and isinstance(operands[0], str) and _array(operands[1]) and _array(out) \
            and kwargs.get("out") is None and _shares(out, operands[1]):
        kw = {k: v for k, v in kwargs.items() if k != "out"}
        return as_view(out, operands[1], (_einsum_of, (operands[0],), kw))
    return out


R.FUNCTIONS[np.einsum] = einsum_view


def broadcast_arrays_view(*args, subok=False):
    """``np.broadcast_arrays``: each array of the broadcast shape itself, the others writable
    broadcast views of it (NumPy's: a write lands on every position that shares the element)."""
    arrays = [R.array_like(a) for a in args]
    shape = np.broadcast_shapes(*[a.shape for a in arrays])
    out = []
    for a in arrays:
        if a.shape == shape:
            out.append(a)
        elif isinstance(a, TracedArray):
            v = np.broadcast_to(a, shape)
            if type(_info(v)) is ViewInfo:
                _info(v).writable = _writable_memory(a)
            out.append(v)
        else:
            out.append(np.broadcast_arrays(a, np.broadcast_to(False, shape), subok=subok)[0])  # NumPy's
    return tuple(out)


def _writable_memory(a) -> bool:
    info = _info(a)
    return info is None or info.writable


R.FUNCTIONS[np.broadcast_arrays] = broadcast_arrays_view


def _flat_gather(x, positions):
    """``x.reshape(-1)[positions]`` as a view operation (``as_strided``'s elements)."""
    return np.reshape(x, -1)[positions]


def strided_view(out, x, positions, writeable):
    """Make ``out`` (``as_strided(x, ...)``, gathered at ``positions``) a view of ``x``'s memory:
    writable as NumPy's is unless ``writeable=False`` (a write to an element several positions
    share lands on all of them)."""
    if not _array(x):
        mark_read_only(out)
        return out
    return as_view(out, x, (_flat_gather, (positions,), {}), writable=bool(writeable))


def _shares(out, a) -> bool:
    """Whether NumPy's own result would view its input: the plain values tell. Dask arrays share
    no memory (asking would compute them): their reshapes are copies."""
    out, a = strip(out), strip(a)
    if type(out) is not np.ndarray and type(out).__module__.startswith("dask"):
        return False
    return np.may_share_memory(out, a)


_reshape_handler, _ravel_handler = R.FUNCTIONS[np.reshape], R.FUNCTIONS[np.ravel]


def _order(a, order) -> str:
    """NumPy's 'A' and 'K' orders resolved to 'C' or 'F' from the value's layout (as the rule does)."""
    order = (order or "C").upper()
    if order in ("A", "K"):
        flags = strip(a).flags
        return "F" if flags.f_contiguous and not flags.c_contiguous else "C"
    return order


def reshape_view(a, /, *args, **kwargs):
    """``np.reshape``: a view where NumPy returns one (the layout allows it), else a copy."""
    out = _reshape_handler(a, *args, **kwargs)
    if isinstance(a, TracedArray) and _shares(out, a):
        order = args[1] if len(args) > 1 else kwargs.get("order", "C")
        return as_view(out, a, (_reshape, (out.shape, _order(a, order)), {}))
    return out


def _ravel_is_view(a, order) -> bool:
    """Whether NumPy's ``ravel`` of the plain value returns a view: only of an array contiguous in
    the order asked (a strided or reversed 1-d array is copied, where ``reshape(-1)`` would view
    it). Dask arrays share no memory."""
    v = strip(a)
    if type(v) is not np.ndarray:
        return _shares(np.ravel(v), v)
    flags = v.flags
    order = (order or "C").upper()
    if order == "C":
        return flags.c_contiguous
    if order == "F":
        return flags.f_contiguous
    if order == "A":
        return flags.f_contiguous if not flags.c_contiguous else True
    return np.may_share_memory(np.ravel(v, order="K"), v)  # 'K': NumPy decides from the strides


def ravel_view(a, order="C"):
    """``np.ravel``: a view where NumPy returns one (the value is contiguous in that order), else a
    copy (a new, writeable array, whatever the input's flags)."""
    out = _ravel_handler(a, order)
    if isinstance(a, TracedArray) and _ravel_is_view(a, order):
        return as_view(out, a, (_reshape, (out.shape, _order(a, order)), {}))
    return out


R.FUNCTIONS[np.reshape] = reshape_view
R.FUNCTIONS[np.ravel] = ravel_view


def real_view(val):
    """``np.real``: a view of the real part (for a real array, a view of the array itself)."""
    out = _real_rule(val)
    return as_view(out, val, None, component="real") if _array(val) else out


def imag_view(val):
    """``np.imag``: a view of the imaginary part (for a real array, read-only zeros, as in NumPy)."""
    out = _imag_rule(val)
    if not _array(val):
        return out
    if val.dtype.kind != "c":  # a new array that NumPy makes read-only
        mark_read_only(out)
        return out
    return as_view(out, val, None, component="imag")


R.FUNCTIONS[np.real] = real_view
R.FUNCTIONS[np.imag] = imag_view


def view(x, *args, **kwargs):
    """``ndarray.view()``: another view of the same memory (a different dtype has no gradient rule)."""
    dtype = args[0] if args else kwargs.get("dtype")
    if isinstance(dtype, type) and issubclass(dtype, np.ndarray):
        dtype = None  # view(ndarray) keeps the data
    if dtype is not None and np.dtype(dtype) != x.dtype:
        raise NoRuleError(f"numpy.ndarray.view(dtype={np.dtype(dtype)}) of a {x.dtype} array "
                          "(a reinterpretation of its bytes)")
    return as_view(_reshape(x, x.shape, "C"), x, (_reshape, (x.shape, "C"), {}))


register(TracedArray.view, view, "composite")

# ---------------------------------------------------------------- writing


def _replace_raw(x, positions, values):
    if type(x) is np.ndarray:
        out = x.copy(order="K")
        np.put(out, positions, values)
        return out
    flat = copy_like(x).reshape(-1)  # CuPy, Dask: item assignment into a flat copy
    flat[positions.reshape(-1)] = values.reshape(-1)
    return flat.reshape(x.shape)


def replace_vjp_x(g, ans, x, positions, values):
    return replace(g, positions, np.zeros_like(strip(g), shape=positions.shape))


def replace_vjp_values(g, ans, x, positions, values):
    return np.reshape(np.reshape(g, (-1,))[positions.reshape(-1)], positions.shape)


def replace_jvp_x(t, ans, x, positions, values):
    return replace(t, positions, np.zeros_like(strip(t), shape=positions.shape))


def replace_jvp_values(t, ans, x, positions, values):
    return replace(np.zeros_like(strip(t), shape=ans.shape, dtype=ans.dtype), positions, t)


#: ``replace(x, positions, values)``: ``x`` with its entries at the flat ``positions`` (each named
#: once) replaced by ``values`` (of the positions' shape and ``x``'s dtype).
replace = defvjp(_replace_raw, [replace_vjp_x, None, replace_vjp_values],
                 [replace_jvp_x, None, replace_jvp_values], name="replace_at", key=False)


def _writable(x, what="assignment destination") -> None:
    info = _info(x)
    if info is not None and not info.writable:
        raise ValueError(f"{what} is read-only")


def _into_base(info, new):
    """The base's value with the view's entries replaced by ``new`` (the view's whole new value)."""
    current = info.value()
    if info.component is not None:
        struct = _replay(current, info.ops, None)
        if struct.dtype.kind == "c":
            if info.component == "real":
                new = new + 1j * _imag_rule(struct)
            else:
                new = _real_rule(struct) + 1j * new
            new = _cast(new, struct.dtype)
    ops = info.ops
    if not ops:
        return _cast(new, current.dtype)
    if len(ops) == 1 and ops[0][0] is getitem:
        return setitem(current, new, ops[0][1][0])
    if info.overlaps():
        raise NotImplementedError(
            "pullback: a write through a view several of whose elements are one element of memory (a "
            "broadcast_arrays array along a broadcast axis, overlapping as_strided windows) is not "
            "supported (NumPy deprecates the first); write into the array it views instead")
    return replace(current, info.positions(), _cast(new, current.dtype))


def _cast(v, dtype):
    return v if v.dtype == dtype else v.astype(dtype)


def _zero_d_raw(a):
    return np.asarray(a) if isinstance(a, np.generic) else a


def zero_d_adjoint(g, shape, dtype):
    return g


#: ``_zero_d(s)``: the NumPy scalar ``s`` as a 0-d array (the value a 0-d array holds after a write)
_zero_d = R.deflinear(_zero_d_raw, zero_d_adjoint, name="0-d array of a scalar", key=False)


def _commit(x, new) -> None:
    """``x`` (a traced array) now has the value ``new`` (traced, of its shape and dtype)."""
    if not isinstance(new, Tracer):
        new = x._trace.constant(new)  # e.g. every entry overwritten by constants
    if not new.ndim and isinstance(strip(new), np.generic) and not isinstance(strip(x), np.generic):
        new = _zero_d(new)  # a 0-d array stays an array (NumPy's 0-d results are scalars)
    info = _info(x)
    if info is None:
        _take_over(x, new)
        if new.ndim != x.ndim:  # pragma: no cover - shapes are kept
            x.__class__ = type(new)
        return
    if type(info) is Base:  # x is the owner: it holds the memory's value
        info.version += 1
        _take_over(x, new)
        return
    base = info.base
    value = _into_base(info, new)
    base.version += 1
    if base.has_owner:  # the owner holds the memory's value (and this view holds the owner)
        _take_over(info.root, value)
    else:
        base.value = value
    # the view itself regenerates from the base when next read, so that its value stays
    # a view of the base's value (its layout, and so NumPy's view-or-copy choices, kept)


def setitem_handler(x, index, value):
    """``x[index] = value``."""
    plain = strip(x)
    if isinstance(plain, np.generic):  # a NumPy scalar (the result of a reduction, an element)
        raise TypeError(f"'{type(plain).__module__}.{type(plain).__name__}' object does not support item "
                        "assignment")
    info = _info(x)
    if (info is None or type(info) is Pending) and _log_write(x, info, index, value):
        return
    _writable(x)
    _commit(x, setitem(x, value, index))


register(TracedArray.__setitem__, setitem_handler, "composite")


def _fits(shape, target) -> bool:
    """Whether a result of ``shape`` broadcasts to ``target`` (an ``out=`` array's shape)."""
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def _numpy_error(func, inputs, x) -> None:
    """Raise NumPy's own error for writing ``func(*inputs)`` into ``x`` (a shape or casting mismatch),
    by making the same call on stand-ins of the same shapes and dtypes."""
    if isinstance(func, np.ufunc):
        with np.errstate(all="ignore"):
            func(*[R.stand_in(a) for a in inputs], out=np.empty(x.shape, x.dtype))


def assign(x, result, func=None, inputs=()):
    """Write ``result`` into all of ``x``, as an in-place operator or ``out=`` does in NumPy:
    the result broadcast to ``x``'s shape (never the reverse) and cast to its dtype ('same_kind')."""
    shape = np.shape(result)
    dtype = np.result_type(strip(result))
    if shape != x.shape and not _fits(shape, x.shape) or (
            dtype != x.dtype and not np.can_cast(dtype, x.dtype, "same_kind")):
        _numpy_error(func, inputs, x)
        if not _fits(shape, x.shape):
            raise ValueError(f"non-broadcastable output operand with shape {x.shape} doesn't match "
                             f"the broadcast shape {shape}")
        raise TypeError(f"Cannot cast array data from {dtype!r} to {x.dtype!r} according to the rule "
                        "'same_kind'")
    _writable(x, "output array")
    if shape != x.shape:
        result = np.broadcast_to(result, x.shape)
    if isinstance(result, Tracer):
        result = _cast(result, x.dtype)
        if isinstance(func, np.ufunc) and not _exact_anyway(func, x.dtype, inputs):
            exact = _numpy_in_place(x, func, inputs)
            if exact is not None:
                result = value_of(result, exact)
        _commit(x, result)
    else:
        _commit(x, np.array(strip(result), dtype=x.dtype, copy=True))


#: Ufuncs whose every output entry is one correctly rounded operation on real inputs: NumPy's in-place
#: loop and its out-of-place one give the same bits, so no replay is needed.
_CORRECTLY_ROUNDED = frozenset((np.add, np.subtract, np.multiply, np.true_divide, np.negative, np.positive,
                                np.maximum, np.minimum, np.fmax, np.fmin, np.absolute, np.fabs, np.square,
                                np.sqrt, np.copysign))


def _exact_anyway(func, dtype, inputs) -> bool:
    if func not in _CORRECTLY_ROUNDED or dtype.kind == "c":
        return False
    return all(np.result_type(strip(a)).kind != "c" for a in inputs)


def _in_storage(a, base, buf):
    """Where the plain copy ``buf`` of ``base``'s memory holds the array ``a`` (None: elsewhere)."""
    info = _info(a)
    if info is base:
        return buf
    if type(info) is not ViewInfo or info.base is not base:
        return None
    return _replay(buf, info.ops, info.component)  # on plain arrays: NumPy views of the copy


def _numpy_in_place(x, func, inputs):
    """NumPy's own bits for ``func(*inputs, out=x)`` (None for other array types): the call replayed
    on a copy of ``x``'s memory,
    with every input that lives in that memory (``x`` itself, its base, other views of it) taken from
    the copy, so that NumPy chooses the same loops and the same overlap handling."""
    info = _info(x)
    base = info.base if type(info) is ViewInfo else info
    if type(strip(x)) is not np.ndarray:
        return None  # CuPy, Dask: their own loops; the rule's value stands
    if base is None:
        buf = strip(x).copy(order="K")
        target = buf
        mapped = [buf if a is x else strip(a) for a in inputs]
    else:
        buf = strip(info.value() if type(info) is ViewInfo else x).copy(order="K")
        target = _in_storage(x, base, buf)
        mapped = []
        for a in inputs:
            m = _in_storage(a, base, buf) if isinstance(a, TracedArray) else None
            mapped.append(strip(a) if m is None else m)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        func(*mapped, out=target)
    return target


register(TracedArray._assign, assign, "composite")


def fill(x, value):
    """``ndarray.fill``: every entry set to ``value``."""
    _writable(x)
    _commit(x, setitem(x, value, Ellipsis))


register(TracedArray.fill, fill, "composite")


def get_base(x):
    """``ndarray.base``: a view's owner (NumPy's base of a chain of views is its first array)."""
    info = _info(x)
    return info.root if type(info) is ViewInfo else None


register(TracedArray.base.fget, get_base, "nondiff")


def setflags(x, write=None, align=None, uic=None):
    """``ndarray.setflags``: ``write=False`` makes the array read-only (its later writes raise
    NumPy's error); ``write=True`` only where it is writable anyway. (Alignment is the value's.)"""
    if write is None:
        return
    if type(x) is TracedPending:
        _flush(x)
    info = _info(x)
    if write:
        if info is not None and not info.writable:
            raise ValueError("cannot set WRITEABLE flag to True of this array")
        return
    if info is None:
        mark_read_only(x)
    else:
        info.writable = False


register(TracedArray.setflags, setflags, "composite")


def sort(x, axis=-1, kind=None, order=None, **kwargs):
    """``ndarray.sort``, in place: the array and its views become the sorted values."""
    _writable(x)
    _commit(x, np.sort(x, axis=axis, kind=kind, order=order, **kwargs))


register(TracedArray.sort, sort, "composite")


def set_shape(x, shape) -> None:
    """``x.shape = shape``: a new view of the same memory, where NumPy can make one."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    plain = strip(x)
    try:
        reshaped = plain.reshape(shape)
    except ValueError:
        raise ValueError(f"cannot reshape array of size {plain.size} into shape {shape}") from None
    if plain.size and not np.may_share_memory(reshaped, plain):
        raise AttributeError("Incompatible shape for in-place modification. Use `.reshape()` to make a "
                             "copy with the desired shape.")
    op = (_reshape, (reshaped.shape, "C"), {})
    out = _reshape(x, *op[1])
    info = _info(x)
    if info is None:
        _take_over(x, out)
        x.__class__ = type(out)
        return
    if type(info) is Base:  # the owner of the memory becomes one of its views
        info.has_owner = False  # x, its owner, becomes a view: the memory's value moves to the Base
        info.value = traced(_get_value(x), _get_trace(x), _get_aux(x))
        new = ViewInfo(info, None, (op,), None, info.writable)
    else:
        new = ViewInfo(info.base, info.root, info.ops + (op,), info.component, info.writable)
    x.__class__ = _view_class(out)
    x._view = new
    _take_over(x, out)


register(TracedArray.shape.fset, set_shape, "composite")


def _component_setter(which):
    def set_component(x, value):
        part = np.real(x) if which == "real" else np.imag(x)
        if which == "imag" and x.dtype.kind != "c":
            raise TypeError("array does not have imaginary part to set")
        setitem_handler(part, Ellipsis, value)

    set_component.__name__ = f"set_{which}"
    return set_component


register(TracedArray.real.fset, _component_setter("real"), "composite")
register(TracedArray.imag.fset, _component_setter("imag"), "composite")

# ---------------------------------------------------------------- element writes in O(1)
#
# A loop of element writes ``y[i] = v`` would copy ``y`` at every write (a functional update),
# and its backward pass would copy the cotangent at every write: O(N) each, O(N^2) in all. So a
# traced array that no view shares, written at single elements, keeps a write log instead: its
# value at the first such write (``start``), a copy of it that the writes go into in place
# (``buf``: nothing else can reach it), and the value last written at each position. Reading an
# element answers from the log; reading the array any other way turns the log into one tape node
# (:data:`scatter_log`), whose pullback zeroes the written positions of the cotangent and picks the
# written values' cotangents, once: O(N + K) for K writes, forward and backward.


class Pending:
    """The write log of a :class:`TracedPending` array."""

    __slots__ = ("start", "buf", "written")
    writable = True

    def __init__(self, start, buf):
        self.start = start
        self.buf = buf
        self.written = {}  # flat position -> the value last written there (traced or plain)


def _flush(x) -> None:
    """Record ``x``'s write log as one tape node, and make ``x`` an ordinary traced array again."""
    info = x._view
    x._view = None
    x.__class__ = TracedNDArray
    positions = np.fromiter(info.written, dtype=np.intp, count=len(info.written))
    _take_over(x, scatter_log(info.start, *info.written.values(), positions=positions, result=info.buf))


class TracedPending(TracedNDArray):
    """A traced array with a write log (see above): read as a whole, it records the log first."""

    __slots__ = ()

    def _value_of(self):
        _flush(self)
        return _get_value(self)

    def _aux_of(self):
        _flush(self)
        return _get_aux(self)

    _value = property(_value_of, _set_value)
    _aux = property(_aux_of, _set_aux)

    # what the array is does not need its value: no flush
    shape = property(lambda self: self._view.buf.shape, TracedNDArray.shape.fset)
    dtype = property(lambda self: self._view.buf.dtype)
    ndim = property(lambda self: self._view.buf.ndim)
    size = property(lambda self: self._view.buf.size)

    def __len__(self) -> int:
        return len(self._view.buf)


_SCALARS = (int, float, complex, np.generic)


def _log_write(x, info, index, value) -> bool:
    """Do ``x[index] = value`` in ``x``'s write log if it is an element write that one can take."""
    if not _scalar_index(index, len(x.shape)):
        return False
    if isinstance(value, Tracer):
        if _get_trace(value) is not _get_trace(x) or value.ndim:
            return False
        raw = _get_value(value)
        if isinstance(raw, Tracer):
            return False
    elif isinstance(value, _SCALARS) and not isinstance(value, (bool, np.bool_)):
        raw = value
    else:
        return False
    if info is None:
        start = _get_value(x)
        if type(start) is not np.ndarray or not start.ndim:
            return False
        info = Pending(traced(start, _get_trace(x), _get_aux(x)), start.copy(order="K"))
        x._view = info
        x.__class__ = TracedPending
    info.buf[index] = raw  # NumPy's own write: its casts, its errors
    info.written[_element(index, info.buf.shape)] = value
    return True


def _log_read(x, info, index):
    """``x[index]`` of an array with a write log, from the log: the element NumPy holds there."""
    raw = info.buf[index]  # NumPy's scalar (and its IndexError)
    value = info.written.get(_element(index, info.buf.shape), _log_read)
    if value is _log_read:
        return getitem(info.start, index)
    if not isinstance(value, Tracer):
        return raw
    if value.dtype == info.buf.dtype:  # the element is the value written: a new name for it
        return traced(_get_value(value), _get_trace(value), _get_aux(value))
    return _cast(value, info.buf.dtype)  # NumPy's write cast it the same way


class _LogScatter(Primitive):
    """``scatter_log(start, *values, positions, result)``: ``start`` with ``values`` at the flat
    ``positions`` (each once); ``result`` is that value, already computed (the log's buffer)."""

    __slots__ = ()

    def vjp(self, argnums, vals, kwargs, nested=True):
        ans = self.evaluate(vals, kwargs, nested)
        metas = [(np.shape(vals[i]), np.result_type(vals[i])) for i in argnums]
        return ans, _LogPullback(argnums, kwargs["positions"], metas)

    def jvp(self, argnums, vals, tangents, kwargs, nested=True):
        ans = self.evaluate(vals, kwargs, nested)
        by_arg = dict(zip(argnums, tangents))
        start_t = by_arg.get(0)
        if all(t is None for t in tangents):
            return ans, None
        zero = np.zeros((), dtype=ans.dtype)
        parts = [by_arg.get(i) for i in range(1, len(vals))]
        parts = [zero if t is None else _cast(np.asarray(t) if not isinstance(t, Tracer) else t, ans.dtype)
                 for t in parts]
        if start_t is None:
            start_t = np.zeros_like(strip(ans))
        return ans, replace(R.fit_tangent(start_t, ans), kwargs["positions"], np.stack(parts))


def _scatter_log_raw(start, *values, positions, result=None):
    if result is not None:
        return result
    out = copy_like(start)
    np.put(out, positions, np.array(values, dtype=out.dtype))
    return out


class _LogPullback:
    """The written values' cotangents picked from ``g``, and ``g`` with their positions zeroed."""

    __slots__ = ("argnums", "positions", "metas")

    def __init__(self, argnums, positions, metas):
        self.argnums, self.positions, self.metas = argnums, positions, metas

    def __call__(self, g):
        positions = self.positions
        picked = None
        cts = []
        for i, meta in zip(self.argnums, self.metas):
            if i == 0:
                ct = replace(g, positions, np.zeros_like(strip(g), shape=positions.shape))
            else:
                if picked is None:
                    picked = np.take(g, positions)
                ct = picked[i - 1]
            cts.append(R.fit(ct, *meta))
        return tuple(cts)

    def __repr__(self) -> str:
        return "<pullback scatter_log>"


scatter_log = _LogScatter(_scatter_log_raw, "element_writes")
# known array types: the operators' fast path
_dispatch._COMMON.update((TracedView, TracedView0, TracedPending))

# ---------------------------------------------------------------- writes at flat positions


def _write_at(x, positions, values) -> None:
    """Write ``values`` (one per entry of the flat ``positions``; the last wins where a position
    repeats, as in NumPy) into ``x``."""
    positions = np.asarray(positions, dtype=np.intp).reshape(-1)
    if positions.size == 0:
        return
    _, last = np.unique(positions[::-1], return_index=True)
    keep = np.sort(positions.size - 1 - last)
    if keep.size != positions.size:
        positions = positions[keep]
        values = values[keep]
    values = _cast(values if isinstance(values, Tracer) else np.asarray(values), x.dtype)
    _commit(x, replace(x, positions, values))


def _cycled(values, n):
    """The first ``n`` entries of ``values`` repeated cyclically (NumPy's ``put``/``flat``/``place``)."""
    values = np.ravel(R.array_like(values))
    if values.size == 0:
        raise ValueError("Cannot insert from an empty array!")  # NumPy's message (np.place)
    if values.size == n:
        return values
    return np.take(values, np.arange(n) % values.size)


def _normalised(positions, size, mode):
    positions = np.asarray(positions).astype(np.intp, casting="same_kind").reshape(-1)
    if mode == "wrap":
        return positions % size if size else positions
    if mode == "clip":
        return np.clip(positions, 0, size - 1)
    bad = (positions < -size) | (positions >= size)
    if bad.any():
        raise IndexError(f"index {int(positions[bad][0])} is out of bounds for axis 0 with size {size}")
    return positions % size if size else positions


def put(a, ind, v, mode="raise"):
    """``np.put``: ``a.flat[ind] = v``, ``v`` repeated cyclically."""
    if not isinstance(a, TracedArray):
        raise TracedConversionError("np.put of a traced value into a plain array")
    _writable(a)
    positions = _normalised(strip(ind), a.size, mode)
    if positions.size and np.size(v):  # (NumPy puts nothing from no values)
        _write_at(a, positions, _cycled(v, positions.size))


def putmask(a, /, mask, values):
    """``np.putmask``: ``a.flat[n] = values[n % len(values)]`` where ``mask.flat[n]``."""
    if not isinstance(a, TracedArray):
        raise TracedConversionError("np.putmask of a traced value into a plain array")
    _writable(a)
    mask = np.asarray(strip(mask), dtype=bool)
    if mask.size != a.size:
        raise ValueError("putmask: mask and data must be the same size")
    positions = np.flatnonzero(mask)
    if positions.size:
        values = np.ravel(R.array_like(values))
        _write_at(a, positions, np.take(values, positions % values.size))


def place(arr, mask, vals):
    """``np.place``: the entries where ``mask`` is true get ``vals``, repeated cyclically."""
    if not isinstance(arr, TracedArray):
        raise TracedConversionError("np.place of a traced value into a plain array")
    _writable(arr)
    positions = np.flatnonzero(np.asarray(strip(mask), dtype=bool))
    if positions.size:
        _write_at(arr, positions, _cycled(vals, positions.size))


def copyto(dst, src, casting="same_kind", where=True):
    """``np.copyto``: ``src`` broadcast into ``dst`` where ``where`` holds."""
    if not isinstance(dst, TracedArray):
        raise TracedConversionError("np.copyto of a traced value into a plain array")
    _writable(dst)
    src = R.array_like(src)
    if not np.can_cast(np.result_type(strip(src)), dst.dtype, casting) or not _fits(src.shape, dst.shape):
        np.copyto(np.empty(dst.shape, dst.dtype), R.stand_in(src), casting=casting)  # NumPy's own error
    new = np.broadcast_to(src, dst.shape)
    if where is not True:
        new = np.where(where, new, dst)
    _commit(dst, _cast(new, dst.dtype) if isinstance(new, Tracer) else np.array(new, dtype=dst.dtype))


def fill_diagonal(a, val, wrap=False):
    """``np.fill_diagonal``: NumPy's own code, which writes through ``a.flat``."""
    if not isinstance(a, TracedArray):
        raise TracedConversionError("np.fill_diagonal of a traced value into a plain array")
    return np.fill_diagonal._implementation(a, val, wrap)


for _f, _impl in [(np.put, put), (np.putmask, putmask), (np.place, place), (np.copyto, copyto),
                  (np.fill_diagonal, fill_diagonal)]:
    register(_f, _impl, "composite")


class FlatIter:
    """``x.flat`` of a traced array: reads copy (as NumPy's do), writes go into ``x``."""

    __slots__ = ("base",)

    def __init__(self, base):
        self.base = base

    def _positions(self, index):
        return np.arange(self.base.size).reshape(-1)[index]

    def __getitem__(self, index):
        out = np.ravel(self.base)[index]
        return out.copy() if isinstance(out, TracedNDArray) else out  # NumPy's flat reads copy

    def __setitem__(self, index, value):
        _writable(self.base)
        positions = np.asarray(self._positions(index)).reshape(-1)
        if positions.size:
            _write_at(self.base, positions, _cycled(value, positions.size))

    def __len__(self):
        return self.base.size

    def __iter__(self):
        flat = np.ravel(self.base)
        return (flat[i] for i in range(self.base.size))


def get_flat(x):
    return FlatIter(x)


def set_flat(x, value):
    FlatIter(x)[...] = value


register(TracedArray.flat.fget, get_flat, "composite")
register(TracedArray.flat.fset, set_flat, "composite")

# ---------------------------------------------------------------- ufunc.at


def _at(ufunc):
    def ufunc_at(a, indices, b=None, /):
        """``ufunc.at(a, indices, b)``: unbuffered, so repeated indices apply once each, in order."""
        if not isinstance(a, TracedArray):
            raise TracedConversionError(f"numpy.{ufunc.__name__}.at of a traced value into a plain array")
        _writable(a)
        where = np.arange(a.size).reshape(a.shape)[indices]  # NumPy's own IndexError for bad indices
        shape = np.shape(where)
        positions = np.reshape(where, -1)
        if b is not None:
            b = R.array_like(b)
            try:
                b = np.broadcast_to(b, shape)
            except ValueError:
                raise ValueError("array is not broadcastable to correct shape") from None
        if ufunc in (np.add, np.subtract) and b is not None:
            b = _cast(b if isinstance(b, Tracer) else np.asarray(b), a.dtype)
            _commit(a, add_at(a, positions.reshape(shape), b, ufunc is np.subtract))
            return None
        # one round per repetition: within a round every position appears once
        n = positions.size
        order = np.argsort(positions, kind="stable")
        ordered = positions[order]
        first = np.r_[True, ordered[1:] != ordered[:-1]] if n else np.zeros(0, bool)
        start = np.maximum.accumulate(np.where(first, np.arange(n), 0)) if n else np.zeros(0, np.intp)
        rank = np.empty(n, dtype=np.intp)
        rank[order] = np.arange(n) - start  # how many times the position came before
        flat_b = None if b is None else np.reshape(b, -1)
        for k in range(int(rank.max()) + 1 if rank.size else 0):
            sel = np.flatnonzero(rank == k)
            pos = positions[sel]
            cur = np.take(np.ravel(a), pos)
            new = ufunc(cur) if flat_b is None else ufunc(cur, np.take(flat_b, sel))
            _commit(a, replace(a, pos, _cast(new, a.dtype)))
        return None

    ufunc_at.__name__ = f"{ufunc.__name__}_at"
    return ufunc_at


def _add_at_raw(a, positions, b, subtract):
    out = copy_like(a)
    (np.subtract if subtract else np.add).at(out, np.unravel_index(positions, a.shape), b)
    return out


def add_at_vjp_a(g, ans, a, positions, b, subtract):
    return g


def add_at_vjp_b(g, ans, a, positions, b, subtract):
    picked = np.take(g, positions)
    return -picked if subtract else picked


def add_at_jvp_a(t, ans, a, positions, b, subtract):
    return t


def add_at_jvp_b(t, ans, a, positions, b, subtract):
    return add_at(np.zeros_like(strip(t), shape=ans.shape, dtype=ans.dtype), positions, t, subtract)


#: ``add_at(a, positions, b, subtract)``: ``a`` after NumPy's own ``np.add.at`` (or ``subtract.at``) at
#: the flat ``positions`` (of ``b``'s shape): its value bit for bit, repeated positions accumulating.
add_at = defvjp(_add_at_raw, [add_at_vjp_a, None, add_at_vjp_b, None],
                [add_at_jvp_a, None, add_at_jvp_b, None], name="add_at", key=False)


def _float_loop(u) -> bool:
    return "d" * u.nin + "->d" in u.types


def _first_differentiable(u) -> bool:
    """Whether ``u``'s first argument (the array ``u.at`` writes into) is differentiable: not the
    order of a Bessel function, say, whose ``.at`` could never be differentiated."""
    rule = R.UFUNCS[u]
    return not isinstance(rule, R.Rule) or (bool(rule.vjps) and rule.vjps[0] is not None)


for _u in list(R.UFUNCS):
    if (_u.nout == 1 and _u.nin in (1, 2) and _u.signature is None and _float_loop(_u)
            and _first_differentiable(_u)):
        register((_u, "at"), _at(_u), "composite")
