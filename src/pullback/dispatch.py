"""The traced array and NumPy's protocol hooks.

:class:`TracedArray` stands in for an array inside a differentiated function.
NumPy hands every ufunc call on it to ``__array_ufunc__`` and every other
NumPy function to ``__array_function__``; both answer from the rule registry.
Python operators call the ufunc rules directly (the lean path).
"""

from __future__ import annotations

import numbers
import operator
import sys
from typing import Any

import numpy as np

from .core import Tracer, set_tracer_class, strip
from .errors import NoRuleError, TracedArrayConversionError, TracedConversionError
from .rules import registry as R

_KNOWN: dict[type, bool] = {}


def _known(t: type) -> bool:
    """Array types we answer for; anything else gets NotImplemented."""
    ok = _KNOWN.get(t)
    if ok is None:
        root = (getattr(t, "__module__", "") or "").split(".")[0]
        ok = issubclass(t, (Tracer, np.ndarray, np.generic, numbers.Number)) or root in (
            "numpy",
            "cupy",
            "cupyx",
            "dask",
        )
        _KNOWN[t] = ok
    return ok


_COMMON: set = {np.ndarray, float, int, complex, np.float64, np.float32, np.complex128, np.complex64}


def _ufunc(u: np.ufunc):
    h = R.UFUNCS.get(u)
    if h is None:
        raise NoRuleError(ufunc_name(u))
    return h


ufunc_name = R.ufunc_name  # (defined beside the registry, which names its rules with it)


def _operator(u: np.ufunc):
    """The rule Python's operator for ``u`` uses: NumPy's ``**`` squares rather than calls pow."""
    h = R.OPERATORS.get(u)
    return _ufunc(u) if h is None else h


def _fast(o: Any) -> bool:
    t = type(o)
    if t in _COMMON:
        return True
    if isinstance(o, np.ndarray):
        _refuse(t)
        return True
    return isinstance(o, (Tracer, np.generic, float, int, complex)) or _known(t)


#: ndarray subclasses whose operations mean something else than ndarray's: type -> what they are
_REFUSED: dict[type, str | None] = {}


def _refuse(t: type) -> None:
    """Raise for an ndarray subclass whose semantics pullback does not implement (np.matrix's
    ``*`` is a matrix product, a masked array's results depend on its mask)."""
    what = _REFUSED.get(t, 0)
    if what == 0:
        what = None
        if issubclass(t, np.matrix):
            what = "numpy.matrix (its * and ** are matrix products); use a 2-d ndarray and @"
        elif issubclass(t, np.ma.MaskedArray):
            what = ("numpy.ma masked arrays (their values depend on the mask); use x.filled(...) or "
                    "np.where(mask, ..., ...) on plain arrays")
        _REFUSED[t] = what
    if what is not None:
        raise TypeError(f"pullback does not differentiate {what}")


def refuse_subclasses(values) -> None:
    """Raise for any refused ndarray subclass among ``values`` (and one level inside lists and tuples)."""
    for v in values:
        t = type(v)
        if t is list or t is tuple:
            for w in v:
                if isinstance(w, np.ndarray) and type(w) is not np.ndarray:
                    _refuse(type(w))
        elif t is not np.ndarray and isinstance(v, np.ndarray):
            _refuse(t)


# ---- Python numbers as arguments: NEP 50's weak scalars
#
# A Python float or complex given as a differentiated argument is traced as a NumPy scalar, but it
# keeps what NumPy's promotion rules give a Python number (NEP 50): it takes the precision of the
# arrays it meets (float32 data times a traced 0.5 is float32), and Python arithmetic among such
# numbers stays weak (``c ** 2 * 0.1``). NumPy functions of them alone give NumPy scalars, as
# ``np.sin(0.5)`` does.

_PY_NUMBERS = (bool, int, float, complex)
#: NumPy functions (not ufuncs) whose operands promote together as a ufunc's do.
_PROMOTING = frozenset((np.where, np.clip))


def _weak(x) -> bool:
    return type(x) is TracedWeak or type(x) in _PY_NUMBERS


def _python_number(x):
    """The Python number a weak operand stands for (NumPy's promotion weighs it as one)."""
    if type(x) in _PY_NUMBERS:
        return x
    v = strip(x)
    return complex(v) if np.iscomplexobj(v) else float(v)


def unweaken(inputs: tuple) -> tuple:
    """``inputs`` with each traced weak scalar cast to the dtype NumPy would give it beside the
    others (unchanged where no other operand has a dtype of its own)."""
    strong = [strip(x) for x in inputs if not _weak(x) and isinstance(x, (Tracer, np.ndarray, np.generic))]
    if not strong:
        return inputs
    target = np.result_type(*strong, *[_python_number(x) for x in inputs if _weak(x)])
    return tuple(x.astype(target) if type(x) is TracedWeak and x.dtype != target else x for x in inputs)


def _weak_operator(h, a, b, swap=False):
    """``h(a, b)`` for an operator with a weak operand: weak again if both are (a Python number when
    the result is plain), else the weak one at the other's precision (``swap``: computed as
    ``h(b, a)``, NumPy's temporary elision)."""
    if _weak(a) and _weak(b):
        out = h(a, b)
        if type(out) is TracedArray:
            out.__class__ = TracedWeak
        elif isinstance(out, np.generic):
            out = out.item()  # Python arithmetic on Python numbers gives a Python number
        return out
    a, b = unweaken((a, b))
    return h(b, a) if swap else h(a, b)


def _binary(u: np.ufunc, reflected: bool = False, rule=_ufunc):
    # the rule is looked up at each call (a later registration replaces it), inline: the
    # operators are the commonest operations of all
    operators = R.OPERATORS if rule is _operator else {}
    ufuncs = R.UFUNCS
    if reflected:

        def op(self, other):
            if type(other) not in _COMMON and not _fast(other):
                return NotImplemented
            h = operators.get(u) or ufuncs.get(u)
            if type(self) is TracedWeak or type(other) is TracedWeak:
                return _weak_operator(h or rule(u), other, self)
            return (h or rule(u))(other, self)
    else:

        def op(self, other):
            if type(other) not in _COMMON and not _fast(other):
                return NotImplemented
            h = operators.get(u) or ufuncs.get(u)
            if type(self) is TracedWeak or type(other) is TracedWeak:
                return _weak_operator(h or rule(u), self, other)
            return (h or rule(u))(self, other)

    op.__name__ = f"__{'r' if reflected else ''}{u.__name__}__"
    return op


# ---- NumPy's temporary elision, where it changes bits
#
# For ``a * b`` NumPy computes into the operand it may overwrite: a temporary (only its evaluation
# stack refers to it) array that owns its data, of 256 KiB or more, of the result's shape and dtype
# (``temp_elide.c``). The left one first; else, the operation being commutative, the right one,
# as ``b * a``. A complex product rounds differently with its operands swapped (fused multiply-
# adds), so a traced ``a * b`` computes ``b * a`` where NumPy would. What a temporary is: the
# reference count an operator method sees for one, measured once here (and compared with a named
# operand's, so that no named operand passes for one).

_ELIDE_BYTES = 256 * 1024


def _operand_refs() -> tuple[int, int]:
    class Probe:
        def __mul__(self, other):
            return sys.getrefcount(other)

    named = Probe()
    return Probe() * Probe(), Probe() * named


_TEMPORARY, _NAMED = _operand_refs()
_ELIDES = _TEMPORARY < _NAMED


def _overwritable(x, refs: int, other) -> bool:
    """Whether NumPy could compute ``x * other`` in ``x``'s memory (``x`` a temporary array)."""
    if refs != _TEMPORARY:
        return False
    v = strip(x)
    if type(v) is not np.ndarray or v.nbytes < _ELIDE_BYTES:
        return False
    if isinstance(x, Tracer):
        if getattr(x, "_view", None) is not None and not _is_array_root(x):
            return False  # a view of another array's memory
    elif not v.flags.owndata or not v.flags.writeable:
        return False
    w = strip(other)
    shape = np.shape(w)
    if shape and shape != v.shape:
        return False
    return np.can_cast(w if isinstance(w, np.ndarray) else np.asarray(w), v.dtype, "safe")


def _is_array_root(x) -> bool:
    return type(x._view).__name__ == "Base"  # an array with views owns its memory


def _swapped(a, b, a_refs: int, b_refs: int) -> bool:
    """Whether NumPy computes the complex product ``a * b`` as ``b * a`` (see above)."""
    vb = strip(b)
    if type(vb) is not np.ndarray or vb.dtype.kind != "c" or vb.nbytes < _ELIDE_BYTES:
        return False
    if isinstance(strip(a), np.generic) and type(a) is not TracedWeak:
        return False  # a NumPy scalar multiplies through its own number protocol: no elision
    if np.result_type(strip(a)).kind != "c":
        return False  # a real operand: the same products either way
    return not _overwritable(a, a_refs, b) and _overwritable(b, b_refs, a)


def _multiply_operator(reflected: bool):
    ufuncs, operators = R.UFUNCS, R.OPERATORS

    if reflected:  # other * self, other not an array NumPy could overwrite (a Python number)

        def __rmul__(self, other):
            refs = sys.getrefcount(self)
            if type(other) not in _COMMON and not _fast(other):
                return NotImplemented
            h = operators.get(np.multiply) or ufuncs.get(np.multiply) or _operator(np.multiply)
            swap = _ELIDES and _swapped(other, self, _NAMED, refs)
            if type(self) is TracedWeak:
                return _weak_operator(h, other, self, swap)
            return h(self, other) if swap else h(other, self)

        return __rmul__

    def __mul__(self, other):
        refs, other_refs = sys.getrefcount(self), sys.getrefcount(other)
        if type(other) not in _COMMON and not _fast(other):
            return NotImplemented
        h = operators.get(np.multiply) or ufuncs.get(np.multiply) or _operator(np.multiply)
        swap = _ELIDES and _swapped(self, other, refs, other_refs)
        if type(self) is TracedWeak or type(other) is TracedWeak:
            return _weak_operator(h, self, other, swap)
        return h(other, self) if swap else h(self, other)

    return __mul__


def _inplace(u: np.ufunc, rule=_ufunc):
    # NumPy's ``**=`` squares or takes square roots for some exponents (as ``**`` does), so it is
    # not ``np.power(a, b, out=a)``: its result is the operator rule's, not a replay of the ufunc
    func = None if u is np.power else u

    def op(self, other):
        if not _fast(other):
            return NotImplemented
        if isinstance(strip(self), np.generic):  # a NumPy scalar is immutable: ``s += 1`` makes a new one
            h = R.OPERATORS.get(u) or R.UFUNCS.get(u) or rule(u)
            return _weak_operator(h, self, other) if type(self) is TracedWeak else h(self, other)
        if type(other) is TracedWeak:
            other = unweaken((self, other))[1]  # NumPy's in-place loop takes it at the array's precision
        self._assign(rule(u)(self, other), func, (self, other))
        return self

    op.__name__ = f"__i{u.__name__}__"
    return op


def _hooked(name: str):
    """A method answered by the rule table under its own key (the rule layer fills it: views and
    in-place writes live in :mod:`pullback.rules.views`)."""

    def method(self, *args, **kwargs):
        return R.FUNCTIONS[method](self, *args, **kwargs)

    method.__name__ = method.__qualname__ = name
    return method


def _method(func, name: str):
    def method(self, *args, **kwargs):
        return func(self, *args, **kwargs)

    method.__name__ = name
    return method


class _Flags:
    """A traced array's ``flags``: its value's, to read (``x.flags.c_contiguous``,
    ``x.flags["WRITEABLE"]``); setting one raises instead of changing the value's array."""

    __slots__ = ("_flags", "_writeable")

    def __init__(self, flags, writeable: bool = True) -> None:
        object.__setattr__(self, "_flags", flags)
        object.__setattr__(self, "_writeable", writeable)  # the traced array's, not its value's

    def __getattr__(self, name: str):
        if name == "writeable":
            return self._writeable
        return getattr(self._flags, name)

    def __getitem__(self, key):
        if str(key).upper() in ("W", "WRITEABLE"):
            return self._writeable
        return self._flags[key]

    def __setattr__(self, name: str, value) -> None:
        raise TypeError(f"pullback: setting flags.{name} of a traced array is not supported "
                        "(set it on the plain array before differentiating)")

    def __setitem__(self, key, value) -> None:
        self.__setattr__(str(key).lower(), value)

    def __repr__(self) -> str:
        return repr(self._flags)


class TracedArray(Tracer):
    """An array value traced at one differentiation level.

    It behaves like the ndarray it wraps: NumPy functions, operators,
    indexing, ``.real``/``.imag``/``.T`` and the common methods all work and
    are recorded. Converting it to a plain array raises
    :class:`~pullback.errors.TracedConversionError` instead of losing the gradient.
    """

    # ``_view``: set only on arrays that alias others (see rules/views.py): a view's record of
    # its base and view operations, or the shared state of a base that has views.
    __slots__ = ("_view",)
    __array_priority__ = 1000.0

    def __init__(self, value: Any, trace: Any, aux: Any) -> None:
        self._value = value
        self._trace = trace
        self._aux = aux
        self._view = None

    # ---- what it is (read by C getters: the rules read shape and dtype on every operation)
    shape = property(operator.attrgetter("_value.shape"), _hooked("_set_shape"), doc="The value's shape.")
    dtype = property(operator.attrgetter("_value.dtype"), doc="The value's dtype.")
    ndim = property(operator.attrgetter("_value.ndim"), doc="The value's number of dimensions.")
    size = property(operator.attrgetter("_value.size"), doc="The value's number of elements.")
    itemsize = property(operator.attrgetter("_value.itemsize"), doc="The value's item size in bytes.")
    nbytes = property(operator.attrgetter("_value.nbytes"), doc="The value's size in bytes.")

    @property
    def flags(self) -> _Flags:
        """The value's flags, as NumPy reports them for it (``c_contiguous``, ``writeable``, ...),
        read-only: setting one raises (it would change the value's array, perhaps the caller's)."""
        return _Flags(self._value.flags, getattr(self._view, "writable", True))

    @property
    def strides(self) -> tuple:
        """The value's strides (for ``as_strided``, which has a rule; the memory stays private)."""
        return self._value.strides

    def __repr__(self) -> str:
        kind = type(self._trace).__name__.replace("Trace", "").lower()
        return f"TracedArray({strip(self)!r}, {kind} level {self._trace.level})"

    # ---- conversions: never silently lose the gradient
    def __array__(self, dtype=None, copy=None):
        if dtype is not None and np.dtype(dtype).kind in "biu":
            # np.int64(x), np.asarray(x, dtype=int): an integer or boolean result is piecewise
            # constant, so its derivative is exactly zero and no gradient is dropped
            return np.asarray(strip(self), dtype=dtype)
        caller = _converting_function()
        where = f"{caller}, which has no differentiation rule, converting it" if caller else "converting it"
        what = (f"{where} to a plain array (np.asarray / np.array; to build an array from a list or "
                "tuple of traced values, use np.stack(values) or np.concatenate)")
        if not _in_uarray_backend():
            raise TracedConversionError(what)
        only = _exclusive_fft_backend()
        if only is None:  # a scipy.fft backend declines: uarray tries the next one, pullback's
            raise TracedArrayConversionError(what)
        raise TracedConversionError(what, advice=(
            f"scipy.fft.set_backend({only}, only=True) (or set_global_backend(..., only=True)) is in "
            "force: uarray then tries no other backend, so pullback's never sees the traced call. "
            "Drop only=True: pullback's backend takes traced calls only, so every plain transform, "
            f"pullback's own included, still goes to {only}."))

    def __float__(self):
        raise TracedConversionError(
            "float() of it (also what np.array([a, b]) of traced scalars does: use np.stack([a, b]))")

    def __complex__(self):
        raise TracedConversionError("complex() of it")

    def item(self, *args):
        raise TracedConversionError(".item() of it")

    def tolist(self):
        raise TracedConversionError(".tolist() of it")

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        """A copy on the same trace (as ``np.copy``): its gradient flows to the original."""
        return self.copy()

    def __reduce_ex__(self, protocol):
        raise TracedConversionError("pickling it")

    def __int__(self) -> int:  # piecewise constant: carries no gradient anyway
        return int(strip(self))

    def __bool__(self) -> bool:
        return bool(strip(self))

    #: ``self._assign(result, ufunc, inputs)``: write an in-place operation's (or ``out=``'s)
    #: result into this array, as NumPy would (its shape and dtype kept, views updated).
    _assign = _hooked("_assign")

    # ---- protocols
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if not kwargs and method == "__call__":  # the common case: a plain call on common types
            for x in inputs:
                if type(x) not in _COMMON:
                    break
            else:
                handler = _UFUNCS.get(ufunc)
                if handler is None:
                    raise NoRuleError(ufunc_name(ufunc))
                if len(inputs) == 1 and type(handler) is _Rule:  # its one tracer's trace records it
                    return inputs[0]._trace.process(handler, inputs, {})
                return handler(*inputs)
        for x in inputs:
            t = type(x)
            if t not in _COMMON:
                if isinstance(x, np.ndarray):
                    _refuse(t)
                if hasattr(t, "__array_ufunc__") and not _known(t):
                    return NotImplemented
        out = kwargs.pop("out", None)
        if method == "__call__":
            inputs = unweaken(inputs) if any(type(x) is TracedWeak for x in inputs) else inputs
            if kwargs:
                inputs = _loop_options(ufunc, inputs, kwargs, out)
            handler = R.UFUNCS.get(ufunc)
        else:
            handler = R.UFUNC_METHODS.get((ufunc, method))
        if handler is None:
            raise NoRuleError(ufunc_name(ufunc) + ("" if method == "__call__" else f".{method}"))
        where = kwargs.pop("where", True) if out is not None and method == "__call__" else True
        if out is None:
            return handler(*inputs, **kwargs)
        try:
            result = handler(*inputs, **kwargs)
        except ValueError:
            if method == "__call__":  # NumPy's message names the output's shape too
                _numpy_ufunc_error(ufunc, inputs, out)
            raise
        return _write_out(out, result, ufunc, inputs, where)

    def __array_function__(self, func, types, args, kwargs):
        for t in types:
            if t not in _COMMON and not _known(t):
                return NotImplemented
        for v in args:  # refuse_subclasses(args), without its call in the common case
            t = type(v)
            if t is list or t is tuple or (t is not _ndarray and isinstance(v, _ndarray)):
                refuse_subclasses(args)
                break
        handler = _FUNCTIONS.get(func)
        if handler is None:
            raise NoRuleError(R._qualname(func))
        if func in _PROMOTING and any(type(v) is TracedWeak for v in args):
            args = unweaken(args)  # (these promote their operands as ufuncs do)
        if kwargs:
            out = kwargs.pop("out", None)
            for v in kwargs.values():
                if isinstance(v, Tracer):
                    args, kwargs = R.move_traced_kwargs(func, args, kwargs)
                    break
            if out is not None:
                result = handler(*args, **kwargs)
                if not isinstance(out, tuple) and np.shape(result) != np.shape(out):
                    _numpy_out_error(func, args, kwargs, out)
                return _write_out(out, result, func, args)
        return handler(*args, **kwargs)

    # ---- operators (the lean path: straight to the ufunc rule)
    __add__ = _binary(np.add)
    __radd__ = _binary(np.add, True)
    __sub__ = _binary(np.subtract)
    __rsub__ = _binary(np.subtract, True)
    __mul__ = _multiply_operator(False)
    __rmul__ = _multiply_operator(True)
    __truediv__ = _binary(np.true_divide, rule=_operator)
    __rtruediv__ = _binary(np.true_divide, True, rule=_operator)
    __floordiv__ = _binary(np.floor_divide)
    __rfloordiv__ = _binary(np.floor_divide, True)
    __mod__ = _binary(np.remainder)
    __rmod__ = _binary(np.remainder, True)
    __pow__ = _binary(np.power, rule=_operator)
    __rpow__ = _binary(np.power, True, rule=_operator)
    __matmul__ = _binary(np.matmul)
    __rmatmul__ = _binary(np.matmul, True)
    __lt__ = _binary(np.less)
    __le__ = _binary(np.less_equal)
    __gt__ = _binary(np.greater)
    __ge__ = _binary(np.greater_equal)
    __eq__ = _binary(np.equal)
    __ne__ = _binary(np.not_equal)
    __and__ = _binary(np.logical_and)
    __or__ = _binary(np.logical_or)
    __iadd__ = _inplace(np.add)
    __isub__ = _inplace(np.subtract)
    __imul__ = _inplace(np.multiply, rule=_operator)
    __itruediv__ = _inplace(np.true_divide, rule=_operator)
    __ipow__ = _inplace(np.power, rule=_operator)
    __imatmul__ = _inplace(np.matmul)
    __ifloordiv__ = _inplace(np.floor_divide)
    __imod__ = _inplace(np.remainder)
    __hash__ = None  # like ndarray

    def __neg__(self):
        return _stays_weak(self, _ufunc(np.negative)(self))

    def __pos__(self):
        return _stays_weak(self, _ufunc(np.positive)(self))

    def __abs__(self):
        return _stays_weak(self, _ufunc(np.absolute)(self))

    # ---- attributes and methods
    def _get_real(self):
        return np.real(self)

    def _get_imag(self):
        return np.imag(self)

    real = property(_get_real, _hooked("_set_real"))
    imag = property(_get_imag, _hooked("_set_imag"))
    flat = property(_hooked("_get_flat"), _hooked("_set_flat"))
    #: ``x.base``: the traced array whose memory a view shares (None for an array that owns its own)
    base = property(_hooked("_get_base"))

    @property
    def T(self):
        return _function(np.transpose, self)

    @property
    def mT(self):
        return np.swapaxes(self, -1, -2)

    def conj(self):
        return _ufunc(np.conjugate)(self)

    conjugate = conj

    def astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
        dtype = np.dtype(dtype)
        if dtype.kind in "OSUV" and (casting == "unsafe" or np.can_cast(self.dtype, dtype, casting)):
            name = "object" if dtype.kind == "O" else dtype
            raise TracedConversionError(f"astype({name}) (Python objects or text)")
        if not copy and dtype == self.dtype and (order == "K" or _has_layout(self._value, order)):
            return self  # NumPy's astype(copy=False) returns the array itself: writes reach it
        if casting != "unsafe" and not np.can_cast(self.dtype, dtype, casting):
            raise TypeError(f"Cannot cast array data from {self.dtype!r} to {dtype!r} according to the rule "
                            f"{casting!r}")
        return R.FUNCTIONS[TracedArray.astype](self, dtype, order)

    def copy(self, order="C"):
        # a new identity, same record; the value is shared where its memory layout is the copy's
        # (a reduction's rounding follows the layout), else NumPy's copy of it
        value = self._value
        if not _has_layout(value, order):
            value = value.copy(order=order)
        return traced(value, self._trace, self._aux)

    def reshape(self, *shape, order="C"):
        if len(shape) == 1 and not isinstance(shape[0], int):
            shape = shape[0]
        if order == "C":
            return _function(np.reshape, self, shape)
        return _function(np.reshape, self, shape, order=order)

    def transpose(self, *axes):
        if len(axes) == 1 and not isinstance(axes[0], int):
            axes = axes[0]
        return _function(np.transpose, self, axes or None)

    def flatten(self, order="C"):
        return np.ravel(self, order=order).copy()  # a copy, never a view

    def dot(self, other):
        return np.dot(self, other)

    #: ``x[index] = value`` (a 0-d array too, as ``x[...] = value``): see rules/views.py.
    __setitem__ = _hooked("__setitem__")
    #: In place, like ``ndarray.sort``: the array (and its views) become its sorted self.
    sort = _hooked("sort")
    fill = _hooked("fill")
    view = _hooked("view")
    #: ``x.setflags(write=False)``: writes into ``x`` then raise, as NumPy's do.
    setflags = _hooked("setflags")

    def __round__(self, ndigits=0):
        return np.round(self, ndigits)


for _name, _func in [
    ("sum", np.sum), ("mean", np.mean), ("prod", np.prod), ("max", np.max), ("min", np.min),
    ("var", np.var), ("std", np.std), ("cumsum", np.cumsum), ("cumprod", np.cumprod),
    ("ravel", np.ravel), ("squeeze", np.squeeze), ("swapaxes", np.swapaxes),
    ("diagonal", np.diagonal), ("trace", np.trace), ("clip", np.clip), ("round", np.round),
    ("argmax", np.argmax), ("argmin", np.argmin), ("argsort", np.argsort), ("nonzero", np.nonzero),
    ("any", np.any), ("all", np.all), ("repeat", np.repeat), ("take", np.take),
    ("ptp", np.ptp),
]:
    setattr(TracedArray, _name, _method(_func, _name))


class TracedNDArray(TracedArray):
    """A traced array of one or more dimensions: it also indexes, iterates and has a length.

    (A 0-d traced value has no sequence protocol, so that NumPy converts it with
    ``float()`` when it is assigned into a plain array, and the error is ours.)
    """

    __slots__ = ()

    def __len__(self) -> int:
        return len(self._value)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, index):
        return R.FUNCTIONS[TracedNDArray.__getitem__](self, index)


class TracedArray0(TracedArray):
    """A traced 0-d *array* (not a NumPy scalar): it also indexes (``y[()]``, ``y[...]``, ``y[None]``).

    (NumPy's scalars, the commoner 0-d values, keep no sequence protocol: see TracedNDArray. So
    ``plain[i] = y`` of a 0-d traced array raises NumPy's "setting an array element with a
    sequence" where a scalar's raises pullback's conversion error.)
    """

    __slots__ = ()

    __getitem__ = TracedNDArray.__getitem__


class TracedWeak(TracedArray):
    """A traced Python float or complex: a NumPy scalar that promotes as NEP 50's weak Python
    numbers do (see :func:`unweaken`); what Python gives of a number (its ``real``, ``imag``,
    ``conjugate()``, ``round``) is weak too."""

    __slots__ = ()

    real = property(lambda self: _stays_weak(self, np.real(self)))
    imag = property(lambda self: _stays_weak(self, np.imag(self)))

    def conjugate(self):
        return _stays_weak(self, np.conjugate(self))

    conj = conjugate

    def __round__(self, ndigits=None):
        if ndigits is None:  # Python's round of a number to an int: piecewise constant
            return round(strip(self).item())
        out = np.round(self, ndigits)
        return out.item() if isinstance(out, np.generic) else _stays_weak(self, out)

    def __divmod__(self, other):
        return self // other, self % other

    def __rdivmod__(self, other):
        return other // self, other % self


def _stays_weak(x, out):
    if type(x) is TracedWeak and type(out) is TracedArray:
        out.__class__ = TracedWeak
    return out


def _converting_function() -> str | None:
    """The library function (outside pullback) whose code converts a traced array, named as its
    caller called it: the outermost frame of a library module before the caller's own code (e.g.
    ``scipy.signal._spectral_py.welch``). None when the conversion is in the caller's own code."""
    import sys

    frame = sys._getframe(2)
    found = None
    while frame is not None:
        module = frame.f_globals.get("__name__", "") or ""
        top = module.split(".")[0]
        if top == "pullback":
            frame = frame.f_back
            continue
        if top in _LIBRARIES:
            found = _frame_function(frame, module)
            frame = frame.f_back
            continue
        break
    return found


def _frame_function(frame, module: str) -> str:
    """A library frame's function, by its real name: a decorator's inner wrapper (a closure, as
    SciPy's ``_apply_over_batch`` puts around ``scipy.linalg.polar``) by the function it wraps."""
    code = frame.f_code
    name = getattr(code, "co_qualname", code.co_name)
    if "<locals>" in name:
        for var in code.co_freevars:
            wrapped = frame.f_locals.get(var)
            named = getattr(wrapped, "__qualname__", None) and getattr(wrapped, "__module__", None)
            if callable(wrapped) and named:
                wrapped = getattr(wrapped, "__wrapped__", wrapped)
                return f"{wrapped.__module__}.{wrapped.__qualname__}"
    return f"{module}.{name}"


def _in_uarray_backend() -> bool:
    """Whether a uarray backend's ``__ua_function__`` (a ``scipy.fft`` backend) is converting."""
    import sys

    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_name == "__ua_function__":
            return True
        frame = frame.f_back
    return False


def _exclusive_fft_backend() -> str | None:
    """The ``scipy.fft`` backend set with ``only=True`` (so no other is tried), if one is."""
    try:
        from scipy._lib._uarray import _uarray
    except ImportError:  # pragma: no cover - a SciPy without uarray
        return None
    glob, local, _ = _uarray.get_state()._pickle()
    for backend, _coerce, only in reversed((local.get("numpy.scipy.fft") or ((), ()))[1]):
        if only:
            return _backend_name(backend)
    entry = glob.get("numpy.scipy.fft")
    if entry and entry[0] and entry[0][2]:
        return _backend_name(entry[0][0])
    return None


def _backend_name(backend: Any) -> str:
    if getattr(backend, "__name__", "") == "_ScipyBackend":
        return "'scipy'"
    return getattr(backend, "__qualname__", None) or type(backend).__name__


#: Packages whose functions convert their inputs (named in conversion errors).
_LIBRARIES = frozenset(("numpy", "scipy", "sklearn", "skimage", "pandas", "numba", "cupy", "dask"))


def _has_layout(value: Any, order: str) -> bool:
    """Whether ``value``'s memory layout is that of NumPy's copy of it in ``order``."""
    flags = getattr(value, "flags", None)
    if flags is None:
        return True
    if order == "C":
        return flags.c_contiguous
    if order == "F":
        return flags.f_contiguous
    return flags.c_contiguous or flags.f_contiguous  # 'A', 'K': either contiguous layout is kept


def traced(value: Any, trace: Any, aux: Any) -> TracedArray:
    """A tracer of the right class for ``value``'s number of dimensions."""
    if type(value) is _ndarray:
        return TracedNDArray(value, trace, aux) if value.ndim else TracedArray0(value, trace, aux)
    if getattr(value, "ndim", 0):
        return TracedNDArray(value, trace, aux)
    if isinstance(value, Tracer) and type(strip(value)) is _ndarray:  # (nested: a 0-d array inside)
        return TracedArray0(value, trace, aux)
    return TracedArray(value, trace, aux)


def _placeholder(x):
    return np.zeros(0, np.result_type(strip(x))) if isinstance(x, (Tracer, np.ndarray)) else x


def _loop_options(ufunc, inputs: tuple, kwargs: dict, out=None) -> tuple:
    """A ufunc call's ``dtype=`` as casts of its array inputs (what NumPy's loop does);
    ``casting``, ``order`` and ``subok`` are dropped (the value is the same), once NumPy's type
    resolution has accepted them (the same call on empty placeholders: its errors, its messages).
    ``kwargs`` is updated in place; the inputs are returned."""
    if "dtype" in kwargs or "casting" in kwargs or "signature" in kwargs:
        options = {k: kwargs[k] for k in ("dtype", "casting", "signature") if k in kwargs}
        if out is not None:
            outs = out if isinstance(out, tuple) else (out,)
            options["out"] = tuple(_placeholder(o) if o is not None else None for o in outs)
        with np.errstate(all="ignore"):
            ufunc(*[_placeholder(x) for x in inputs], **options)
    for key in ("casting", "order", "subok"):
        kwargs.pop(key, None)
    dtype = kwargs.pop("dtype", None)
    if dtype is None:
        return inputs
    dtype = np.dtype(dtype)
    return tuple(x.astype(dtype) if isinstance(x, (Tracer, np.ndarray)) else x for x in inputs)


def _numpy_ufunc_error(ufunc, inputs, out) -> None:
    """Raise NumPy's own error for ``ufunc(*inputs, out=out)`` (shapes that do not broadcast), by the
    same call on stand-ins of the same shapes and dtypes."""
    outs = out if isinstance(out, tuple) else (out,)
    with np.errstate(all="ignore"):
        ufunc(*[R.stand_in(a) for a in inputs],
              out=tuple(np.zeros(np.shape(o), np.result_type(strip(o))) for o in outs))


def _numpy_out_error(func, args, kwargs, out) -> None:
    """Raise NumPy's own error for ``func(*args, **kwargs, out=out)`` whose result does not have
    ``out``'s shape (a reduction's ``out=`` never broadcasts), by the same call on stand-ins."""
    with np.errstate(all="ignore"):
        func(*[R.stand_in(a) for a in args], **{k: R.stand_in(v) for k, v in kwargs.items()},
             out=np.zeros(np.shape(out), np.result_type(strip(out))))


def _write_out(out, result, func, inputs, where=True):
    """Write a call's ``result`` into its ``out=`` array(s), as NumPy does, and return them."""
    if isinstance(out, tuple):
        if len(out) == 1:
            out = out[0]
        else:  # a ufunc with several outputs: one result each
            return tuple(_write_out(o, r, func, inputs, where) for o, r in zip(out, result))
    if out is None:
        return result
    if isinstance(out, TracedArray):
        if isinstance(strip(out), np.generic):
            raise TypeError("return arrays must be of ArrayType")
        if where is not True:
            result = np.where(where, result, out)
            func = None  # the replay of NumPy's in-place loop (views.assign) knows no where=
        out._assign(result, func, inputs)
        return out
    if isinstance(result, Tracer) or isinstance(where, Tracer):
        raise TracedConversionError(f"writing the result of {R._qualname(func)} into a plain `out=` array")
    np.copyto(out, result, where=where)
    return out


_COMMON.update((TracedArray, TracedNDArray, TracedArray0))
_ndarray = np.ndarray
_UFUNCS = R.UFUNCS
_FUNCTIONS = R.FUNCTIONS


def _function(func, *args, **kwargs):
    """``func(*args, **kwargs)`` for a method of a traced array whose only array is the array
    itself: the registered handler, as :meth:`TracedArray.__array_function__` would call it,
    without NumPy's dispatch (a view method is a tape operation of its own: ~1 µs of 6)."""
    handler = _FUNCTIONS.get(func)
    if handler is None:
        raise NoRuleError(R._qualname(func))
    return handler(*args, **kwargs)
_Rule = R.Rule
set_tracer_class(traced)
