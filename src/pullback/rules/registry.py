"""One registry of rules, keyed by the function they differentiate.

Rules are data. Each NumPy/SciPy function that pullback understands maps to a
*handler*, one of:

- a :class:`Rule` (a primitive) built by :func:`defvjp` / :func:`deflinear`
  / :func:`defelementwise`: the forward value plus reverse and forward rules;
- a *composite*: a function with the same signature written with other NumPy
  calls, so it is differentiated through them (:func:`defcomposite`);
- a non-differentiable function whose output carries no gradient
  (:func:`defnondiff`).

The cotangent ``g`` handed to a rule and the tangent ``t`` are ordinary arrays
(or arrays traced at an outer level, which is how higher derivatives work):
rules must only use NumPy API calls on them, never ``np.asarray``.
"""

from __future__ import annotations

import dis
import inspect
import sys
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from ..core import NOT_TRACED, Primitive, Pullback, ReverseTrace, Tracer, backward, set_ownable, strip
from ..core import trace as _trace
from ..engines import buffers

FUNCTIONS: dict[Any, Callable] = {}  # numpy/scipy function -> handler
UFUNCS: dict[Any, Callable] = {}  # ufunc -> handler for ufunc(...)
OPERATORS: dict[Any, Callable] = {}  # ufunc -> handler for its Python operator, where that differs
UFUNC_METHODS: dict[tuple, Callable] = {}  # (ufunc, "reduce"|...) -> handler
KINDS: dict[Any, str] = {}  # key -> "rule" | "linear" | "composite" | "nondiff" | "user"


def ufunc_name(u: np.ufunc) -> str:
    """A ufunc's public name, for errors: ``scipy.special.jv``, not ``numpy.jv`` (looked up only then)."""
    name = u.__name__
    if getattr(np, name, None) is u:
        return f"numpy.{name}"
    special = sys.modules.get("scipy.special")
    if special is not None:
        if getattr(special, name, None) is u:
            return f"scipy.special.{name}"
        for public, obj in vars(special).items():
            if obj is u and not public.startswith("_"):
                return f"scipy.special.{public}"
    return name


def _qualname(func: Any) -> str:
    if isinstance(func, np.ufunc):
        return ufunc_name(func)
    mod = getattr(func, "__module__", None) or ""
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", repr(func))
    if mod.startswith("numpy"):
        mod = {"numpy._core.fromnumeric": "numpy", "numpy._core.numeric": "numpy"}.get(mod, mod)
    return f"{mod}.{name}" if mod else name


def register(func: Any, handler: Callable, kind: str) -> Callable:
    """Put ``handler`` in the table for ``func`` (a ufunc, a ``(ufunc, method)`` pair, or a function)."""
    if isinstance(func, np.ufunc):
        UFUNCS[func] = handler
    elif isinstance(func, tuple):
        UFUNC_METHODS[func] = handler
    else:
        FUNCTIONS[func] = handler
    KINDS[func] = kind
    return handler


# ---------------------------------------------------------------- fitting


def unbroadcast(g: Any, shape: tuple) -> Any:
    """Sum ``g`` over the axes along which a value of ``shape`` was broadcast."""
    extra = g.ndim - len(shape)
    if extra > 0:
        g = np.sum(g, axis=tuple(range(extra)))
    elif extra < 0:
        g = np.reshape(g, (1,) * -extra + g.shape)
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = np.sum(g, axis=axes, keepdims=True)
    if g.shape != shape:
        g = np.broadcast_to(g, shape)
    return g


def fit(g: Any, shape: tuple, dtype: np.dtype) -> Any:
    """Make a cotangent (or tangent) match a value's shape and dtype.

    Broadcast axes are summed away; a complex cotangent of a real value keeps
    its real part (DESIGN section 2); the dtype becomes the value's.
    """
    try:
        if g.shape == shape and g.dtype == dtype:
            return g
    except AttributeError:
        if g is None:
            return None
        g = np.asarray(g)  # a Python scalar produced by a rule, never a traced value
    if g.shape != shape:
        g = unbroadcast(g, shape)
    gd = g.dtype
    if gd != dtype:
        if gd.kind == "c" and dtype.kind != "c":
            g = g.real
        if g.dtype != dtype and dtype.kind in "fc":
            g = g.astype(dtype)
    return g


def fit_tangent(t: Any, ans: Any) -> Any:
    """Make a tangent match its primal output (broadcast, real part, dtype)."""
    if t is None:
        return None
    try:
        shape, dtype = ans.shape, ans.dtype
    except AttributeError:  # a Python scalar output (a rule applied to Python scalars)
        shape, dtype = (), np.result_type(ans)
    if not hasattr(t, "shape"):
        t = np.asarray(t)
    if t.shape != shape:
        t = np.broadcast_to(t, shape)
    if t.dtype != dtype:
        if t.dtype.kind == "c" and dtype.kind != "c":
            t = t.real
        if t.dtype != dtype and dtype.kind in "fc":
            t = t.astype(dtype)
    return t


def array_like(x: Any) -> Any:
    """A list or scalar as an ndarray; arrays of any type (traced, CuPy, Dask) untouched."""
    return x if hasattr(x, "shape") and hasattr(x, "dtype") else np.asarray(x)


def _meta(v: Any) -> tuple:
    return v.shape, v.dtype


def _inexact(v: Any) -> bool:
    dtype = getattr(v, "dtype", None)
    if dtype is None:  # a Python scalar (e.g. 1j * g with a Python-float cotangent)
        return isinstance(v, (float, complex))
    return dtype.kind in "fc"


# ---------------------------------------------------------------- what a pullback reads


def reads(f: Callable, skip: int) -> tuple[bool, Any]:
    """Which parameters after the first ``skip`` the function ``f`` reads.

    Returns ``(first, rest)``: whether it reads the first of them (a rule's
    ``ans``), and for the following ones (the rule's arguments) either a tuple of
    flags or ``True`` for all (unknown). Found from ``f``'s code, conservatively:
    any load of a name, or its capture by a nested function, counts as a read.
    A function may declare the answer itself as ``f.__pullback_reads__``.
    """
    declared = getattr(f, "__pullback_reads__", None)
    if declared is not None:
        return declared
    code = getattr(f, "__code__", None)
    if code is None:
        return True, True
    loaded = set(code.co_cellvars)
    for ins in dis.get_instructions(code):
        if ins.opname.startswith(("LOAD_", "STORE_", "DELETE_")):
            val = ins.argval
            loaded.update(val if isinstance(val, tuple) else (val,))
    names = code.co_varnames[: code.co_argcount]
    params = names[skip:]
    first = bool(params) and params[0] in loaded
    rest = tuple(p in loaded for p in params[1:])
    if code.co_flags & inspect.CO_VARARGS:
        star = code.co_varnames[code.co_argcount + code.co_kwonlyargcount]
        if star in loaded:
            return first, True
    return first, rest


def _keep(vals: list, flags) -> list:
    """The argument values a pullback reads; the others are dropped (None), so they can be freed."""
    if flags is True:
        return vals
    n = len(vals)
    if n == 2 and len(flags) >= 2:  # binary operators: the common case, without a comprehension
        a, b = flags[0], flags[1]
        return vals if a and b else [vals[0] if a else None, vals[1] if b else None]
    if len(flags) >= n and all(flags):
        return vals
    return [v if i < len(flags) and flags[i] else None for i, v in enumerate(vals)]


def _merge(uses: list) -> tuple[bool, Any]:
    first = any(u[0] for u in uses)
    if any(u[1] is True for u in uses):
        return first, True
    n = max((len(u[1]) for u in uses), default=0)
    return first, tuple(any(i < len(u[1]) and u[1][i] for u in uses) for i in range(n))


# ---------------------------------------------------------------- cotangents the sweep owns
#
# The sweep owns a cotangent when nothing but the sweep can reach it (core.trace.set_ownable),
# and then a pullback whose function carries ``f.in_place`` (same signature) runs that instead:
# it may write its result into the cotangent rather than allocate. Large buffers only: for them
# a fresh allocation costs page faults and memory traffic (W4's gradient made ~2,000 page faults
# per call); NumPy recycles small ones cheaply.
#
# Ownership is decided by construction, from what a built-in pullback is and holds, never by a
# reference count. A result of one of the pullbacks below is owned when it is a writeable
# ndarray that shares no memory with anything the pullback holds (the forward value, the
# arguments it kept, its static arguments and keyword arguments: what a user may reach) nor
# with the incoming cotangent unless the sweep owns that, nor with another result of the same
# call. What is left is memory the pullback's own NumPy calls allocated: no rule function
# returns a writeable array kept anywhere else (module caches, such as the FFT's bin weights,
# are read-only). User rules (pb.adjoint, custom_adjoint, checkpoint) have no ``sweep``
# method: nothing they return is ever owned.

#: Cotangents of at least this many elements may be owned by the sweep and overwritten by the
#: pullback that consumes them.
IN_PLACE_SIZE = 1 << 14


def _arrays(objs: Any):
    """The NumPy arrays among ``objs`` (nested in tuples, lists and dicts)."""
    for v in objs:
        if type(v) is np.ndarray:
            yield v
        elif type(v) in (tuple, list):
            yield from _arrays(v)
        elif type(v) is dict:
            yield from _arrays(v.values())


def _owned(r: Any, g: Any, mine: bool, held: tuple) -> bool:
    """Whether nothing but the sweep can reach the pullback result ``r`` (see above)."""
    if type(r) is not np.ndarray or r.size < _trace._OWN_MIN or not r.flags.writeable:
        return False
    if type(g) is np.ndarray and np.may_share_memory(r, g):
        return mine
    for v in _arrays(held):
        if np.may_share_memory(r, v):
            return False
    return True


_ONE_OWNED = (True,)
_ndarray = np.ndarray
_LARGE = buffers._CANDIDATE  # operands from which buffers.product aligns its output


def _owned_all(cts: tuple, g: Any, mine: bool, held: tuple) -> tuple:
    """:func:`_owned` of each result of one call (``()``: none); results that share memory are none
    of them owned."""
    flags = [_owned(c, g, mine, held) for c in cts]
    n = sum(flags)
    if not n:
        return ()
    if n > 1:
        for i, c in enumerate(cts):
            for j in range(i + 1, len(cts)):
                if flags[i] and flags[j] and np.may_share_memory(c, cts[j]):
                    flags[i] = flags[j] = False
    return tuple(flags)


def add_into(old: Any, old_mine: bool, ct: Any, ct_mine: bool) -> tuple[Any, bool]:
    """``old + ct`` for the sweep's running sum of a value's cotangents, and whether the sweep owns
    it: formed in an operand the sweep owns when the sum has its shape and dtype, else fresh."""
    for a, b, a_mine in ((old, ct, old_mine), (ct, old, ct_mine)):
        if a_mine and _plain(b) and np.result_type(a, b) == a.dtype:
            if np.broadcast_shapes(a.shape, np.shape(b)) == a.shape and not np.may_share_memory(a, b):
                return np.add(a, b, out=a), True  # addition commutes exactly
    s = old + ct  # a fresh array when both are plain
    return s, type(s) is np.ndarray and s.size >= _trace._OWN_MIN and (_plain(old) and _plain(ct))


set_ownable(np.ndarray, add_into, IN_PLACE_SIZE)


def _plain(v: Any) -> bool:
    return type(v) is np.ndarray or isinstance(v, (int, float, complex, np.generic))


def multiply_into(g: np.ndarray, d: Any) -> Any:
    """``g * d``, written into ``g`` when the product has ``g``'s shape and dtype."""
    if _plain(d) and np.result_type(g, d) == g.dtype and np.broadcast_shapes(g.shape, np.shape(d)) == g.shape:
        return np.multiply(g, d, out=g)
    return buffers.product(g, d)


# ---------------------------------------------------------------- rule kinds


class _OneArgPullback(Pullback):
    """``back(g)`` of a :class:`Rule` with one traced argument: its vjp function and what it reads.

    A slotted object rather than a closure, and its own tape entry (a
    :class:`~pullback.core.Pullback`): one allocation per traced operation instead of a
    function and six cells and a node (the tape builds one per operation).
    """

    __slots__ = ("f", "out", "kept", "kwargs", "shape", "dtype")

    def __init__(self, f, out, kept, kwargs, shape, dtype):
        self.f = f
        self.out = out
        self.kept = kept
        self.kwargs = kwargs
        self.shape = shape
        self.dtype = dtype

    @property
    def accepts_lazy(self) -> bool:
        """Whether the vjp function takes a lazy cotangent as it is (``f.accepts_lazy``)."""
        return getattr(self.f, "accepts_lazy", False)

    def __call__(self, g):
        kwargs = self.kwargs
        if kwargs:
            r = self.f(g, self.out, *self.kept, **kwargs)
        else:
            r = self.f(g, self.out, *self.kept)
        return (fit(r, self.shape, self.dtype),)

    def sweep(self, g, mine):
        """``self(g)`` and whether the sweep owns its result; ``mine``: it owns ``g``, which may
        then be overwritten."""
        f = self.f
        if mine:
            f = getattr(f, "in_place", None) or f
        kwargs = self.kwargs
        if kwargs:
            r = f(g, self.out, *self.kept, **kwargs)
        else:
            r = f(g, self.out, *self.kept)
        shape, dtype = self.shape, self.dtype
        if type(r) is not _ndarray or r.shape != shape or r.dtype != dtype:  # fit's own first test
            r = fit(r, shape, dtype)
        if type(r) is _ndarray and r.size >= _trace._OWN_MIN and _owned(
                r, g, mine, (self.out, self.kept, kwargs)):
            return (r,), _ONE_OWNED
        return (r,), ()

    def __repr__(self) -> str:
        return f"<pullback {getattr(self.f, '__name__', self.f)}>"


class _ManyArgPullback(Pullback):
    """``back(g)`` of a :class:`Rule` with several traced arguments: one cotangent each."""

    __slots__ = ("fns", "metas", "out", "kept", "kwargs")

    def __init__(self, fns, metas, out, kept, kwargs):
        self.fns, self.metas, self.out, self.kept, self.kwargs = fns, metas, out, kept, kwargs

    def __call__(self, g):
        out, kept, kwargs = self.out, self.kept, self.kwargs
        return tuple([fit(f(g, out, *kept, **kwargs), *m) for f, m in zip(self.fns, self.metas)])

    def sweep(self, g, mine):
        """``self(g)`` and which results the sweep owns; ``mine``: it owns ``g``. Then the last
        function that can work in ``g`` runs last, in ``g``, unless an earlier result is (a view
        of) ``g``."""
        fns = self.fns
        out, kept, kwargs = self.out, self.kept, self.kwargs
        last = None
        if mine:
            for k in range(len(fns) - 1, -1, -1):
                if getattr(fns[k], "in_place", None) is not None:
                    last = k
                    break
        if last is None:
            cts = self(g)
        else:
            cts = [None if k == last else fit(f(g, out, *kept, **kwargs), *m)
                   for k, (f, m) in enumerate(zip(fns, self.metas))]
            if any(type(c) is np.ndarray and np.may_share_memory(c, g) for c in cts):
                f = fns[last]  # overwriting g would change another argument's cotangent
            else:
                f = fns[last].in_place
            cts[last] = fit(f(g, out, *kept, **kwargs), *self.metas[last])
            cts = tuple(cts)
        return cts, _owned_all(cts, g, mine, (out, kept, kwargs))

    def __repr__(self) -> str:
        names = ", ".join(getattr(f, "__name__", repr(f)) for f in self.fns)
        return f"<pullback {names}>"


class _LinearPullback(Pullback):
    """``back(g)`` of a :class:`LinearRule`: its adjoint at the input's shape and dtype."""

    __slots__ = ("adjoint", "shape", "dtype", "static", "kwargs")

    def __init__(self, adjoint, shape, dtype, static, kwargs):
        self.adjoint = adjoint
        self.shape = shape
        self.dtype = dtype
        self.static = static
        self.kwargs = kwargs

    def __call__(self, g):
        shape, dtype = self.shape, self.dtype
        return (fit(self.adjoint(g, shape, dtype, *self.static, **self.kwargs), shape, dtype),)

    def sweep(self, g, mine):
        """``self(g)`` and whether the sweep owns its result; ``mine``: it owns ``g``, which may
        then be overwritten."""
        f = self.adjoint
        if mine:
            f = getattr(f, "in_place", None) or f
        shape, dtype = self.shape, self.dtype
        kwargs = self.kwargs
        if kwargs:
            r = f(g, shape, dtype, *self.static, **kwargs)
        else:
            r = f(g, shape, dtype, *self.static)
        if type(r) is not _ndarray or r.shape != shape or r.dtype != dtype:  # fit's own first test
            r = fit(r, shape, dtype)
        if type(r) is _ndarray and r.size >= _trace._OWN_MIN and _owned(r, g, mine, (self.static, kwargs)):
            return (r,), _ONE_OWNED
        return (r,), ()

    def __repr__(self) -> str:
        return f"<pullback {getattr(self.adjoint, '__name__', self.adjoint)}>"


class Rule(Primitive):
    """A primitive with one reverse and one forward function per argument.

    ``vjps[i](g, ans, *args, **kwargs)`` returns the cotangent of argument i;
    ``jvps[i](t, ans, *args, **kwargs)`` its contribution to the output tangent.
    Only the entries for traced arguments are called. The pullback keeps alive
    only the values its functions read (:func:`reads`): ``tanh`` keeps its
    output, multiplication by a constant keeps the constant.

    A reverse function may carry ``f.reduce_to(g, ans, *args, shape, **kwargs)``:
    its result already summed down to ``shape`` (the argument's, when it was
    broadcast), which can skip forming the full-size product.
    """

    __slots__ = ("vjps", "jvps", "uses", "reducers", "ufunc", "plans")

    def __init__(self, raw, name, vjps, jvps):
        super().__init__(raw, name)
        self.vjps = vjps
        self.jvps = jvps
        self.uses = tuple(None if f is None else reads(f, 1) for f in vjps)
        self.reducers = tuple(getattr(f, "reduce_to", None) for f in vjps)
        # an elementwise one-output ufunc (not a gufunc such as matmul): large outputs are aligned
        self.ufunc = raw if isinstance(raw, np.ufunc) and raw.nout == 1 and raw.signature is None else None
        # per argument, what vjp needs when it is the only traced one: (f, reduce_to, keep_ans,
        # flags, all_kept) with all_kept the number of leading arguments that f reads in full
        # (any number for flags True; -1 when it skips one): _keep's answer without the call
        self.plans = tuple(
            None if f is None else (f, r, *u, (1 << 62) if u[1] is True else len(u[1]) if all(u[1]) else -1)
            for f, r, u in zip(vjps, self.reducers, self.uses)
        )

    def _fn(self, table, i, mode):
        f = table[i] if i < len(table) else None
        if f is None:
            raise TypeError(
                f"pullback: argument {i} of {self.name} is not differentiable ({mode} mode); "
                "pass it as a constant, e.g. through pb.stop_gradient"
            )
        return f

    def vjp(self, argnums, vals, kwargs, nested=True):
        if kwargs and self.ufunc is not None and "where" in kwargs:
            return self._vjp_where(argnums, vals, kwargs, nested)
        if nested:
            ans = self(*vals, **kwargs)
        elif kwargs:
            ans = self.raw(*vals, **kwargs)
        elif self.ufunc is not None and (  # buffers.large(vals), its size tests inline
                (type(vals[0]) is _ndarray and vals[0].nbytes >= _LARGE)
                or (len(vals) > 1 and type(vals[1]) is _ndarray and vals[1].nbytes >= _LARGE)) \
                and buffers.ENABLED:
            ans = buffers.call(self.ufunc, vals)  # a large output aligned for huge pages
        else:
            ans = self.raw(*vals)
        if ans.dtype.kind not in "fc":
            return ans, None
        if len(argnums) == 1:  # the common case, kept lean
            i = argnums[0]
            plans = self.plans
            plan = plans[i] if i < len(plans) else None
            if plan is None:
                self._fn(self.vjps, i, "reverse")  # raises the error
            f, reduce_to, keep_ans, flags, all_kept = plan
            v = vals[i]
            shape = v.shape
            if reduce_to is not None and shape != ans.shape:
                f = partial(reduce_to, shape=shape)
            n = len(vals)
            if n <= all_kept:
                kept = vals
            elif n == 2 and len(flags) >= 2:  # _keep's binary case, inline
                kept = [vals[0] if flags[0] else None, vals[1] if flags[1] else None]
            else:
                kept = _keep(vals, flags)
            return ans, _OneArgPullback(f, ans if keep_ans else None, kept, kwargs, shape, v.dtype)
        fns = [self._fn(self.vjps, i, "reverse") for i in argnums]
        metas = [_meta(vals[i]) for i in argnums]
        for k, (i, m) in enumerate(zip(argnums, metas)):
            if self.reducers[i] is not None and m[0] != ans.shape:
                fns[k] = partial(self.reducers[i], shape=m[0])
        keep_ans, flags = _merge([self.uses[i] for i in argnums])
        return ans, _ManyArgPullback(fns, metas, ans if keep_ans else None, _keep(vals, flags), kwargs)

    def _vjp_where(self, argnums, vals, kwargs, nested):
        """:meth:`vjp` of a ufunc called with ``where=`` (and no ``out=``): NumPy leaves the
        unselected entries uninitialised, so they carry no derivative; the selected ones have the
        rule's. Each argument's cotangent is the rule's, masked (before any broadcast sum)."""
        ans = self(*vals, **kwargs) if nested else self.raw(*vals, **kwargs)
        if ans.dtype.kind not in "fc":
            return ans, None
        rest = dict(kwargs)
        where = rest.pop("where")
        fns = [where_selected(self._fn(self.vjps, i, "reverse"), where) for i in argnums]
        metas = [_meta(vals[i]) for i in argnums]
        keep_ans, flags = _merge([self.uses[i] for i in argnums])
        return ans, _ManyArgPullback(fns, metas, ans if keep_ans else None, _keep(vals, flags), rest)

    def jvp(self, argnums, vals, tangents, kwargs, nested=True):
        ans = self.evaluate(vals, kwargs, nested)
        if not _inexact(ans):
            return ans, NOT_TRACED
        where = True
        if kwargs and self.ufunc is not None and "where" in kwargs:  # see _vjp_where
            kwargs = dict(kwargs)
            where = kwargs.pop("where")
        out = None
        for i, t in zip(argnums, tangents):
            if t is None:
                continue
            ti = self._fn(self.jvps, i, "forward")(t, ans, *vals, **kwargs)
            out = ti if out is None else out + ti
        if where is not True and out is not None:
            out = np.where(where, out, 0)
        return ans, fit_tangent(out, ans)


def where_selected(f: Callable, where: Any) -> Callable:
    """The reverse function ``f`` of a ufunc rule with its result zero outside ``where``."""

    def selected_vjp(g, ans, *args, **kwargs):
        return np.where(where, f(g, ans, *args, **kwargs), 0)

    selected_vjp.__name__ = selected_vjp.__qualname__ = f"{getattr(f, '__name__', 'vjp')}_where"
    return selected_vjp


class LinearRule(Primitive):
    """A function linear in its first argument; the other arguments are static.

    One declaration gives both modes: the forward rule applies the function
    to the tangent, and ``adjoint(g, shape, dtype, *static, **kwargs)``
    returns the cotangent of the first argument given its shape and dtype.
    The pullback keeps no reference to the input (only its shape and dtype).
    """

    __slots__ = ("adjoint",)

    def __init__(self, raw, name, adjoint):
        super().__init__(raw, name)
        self.adjoint = adjoint

    def _check(self, argnums):
        if argnums != [0]:
            bad = [i for i in argnums if i != 0]
            raise TypeError(
                f"pullback: {self.name} is linear in its first argument only; "
                f"argument {bad[0]} cannot be differentiated"
            )

    def vjp(self, argnums, vals, kwargs, nested=True):
        if len(argnums) != 1 or argnums[0] != 0:
            self._check(argnums)
        if nested:
            ans = self(*vals, **kwargs)
        elif kwargs:
            ans = self.raw(*vals, **kwargs)
        else:
            ans = self.raw(*vals)
        if ans.dtype.kind not in "fc":
            return ans, None
        v = vals[0]
        return ans, _LinearPullback(self.adjoint, v.shape, v.dtype, vals[1:], kwargs)

    def jvp(self, argnums, vals, tangents, kwargs, nested=True):
        self._check(argnums)
        ans = self.evaluate(vals, kwargs, nested)
        t = tangents[0]
        if not _inexact(ans):
            return ans, NOT_TRACED
        if t is None:
            return ans, None
        return ans, fit_tangent(self(t, *vals[1:], **kwargs), ans)


class UserRule(Primitive):
    """A rule written as ``rule(*args, **kwargs) -> (value, back)``, Zygote-style.

    ``back(g)`` returns one cotangent per positional argument (None for a
    non-differentiable one). Forward mode uses ``tangent_rule`` when given;
    otherwise it transposes ``back`` (which is linear in ``g``) by one reverse
    pass over it, so a rule written only for reverse mode still works in
    forward mode, at about twice the cost.
    """

    __slots__ = ("rule", "tangent_rule")

    def __init__(self, raw, name, rule, tangent_rule=None):
        super().__init__(raw, name)
        self.rule = rule
        self.tangent_rule = tangent_rule

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs and any(isinstance(v, Tracer) for v in kwargs.values()):
            try:  # a traced keyword argument is an argument like any other: its cotangent comes back
                args, kwargs = move_traced_kwargs(self.raw, args, kwargs)
            except (TypeError, ValueError) as e:
                if "keyword-only" in str(e):
                    raise
        return super().__call__(*args, **kwargs)

    def _positional_parameters(self) -> int:
        try:
            params = inspect.signature(self.raw).parameters.values()
        except (TypeError, ValueError):
            return 0
        return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)

    def _call_back(self, back, g, n):
        cts = back(g)
        if not isinstance(cts, (tuple, list)):
            cts = (cts,) if n == 1 else cts
        if len(cts) > n and len(cts) <= self._positional_parameters():
            cts = cts[:n]  # one per parameter, some of them passed by keyword (constants here)
        if len(cts) != n:
            raise ValueError(
                f"pullback: the adjoint of {self.name} returned {len(cts)} cotangents "
                f"for {n} positional arguments"
            )
        return cts

    def _run(self, vals, kwargs):
        ans, uback = self.rule(*vals, **kwargs)
        if isinstance(ans, (float, complex, int)):
            ans = np.asarray(ans)  # a traced value is always an array
        return ans, uback

    def vjp(self, argnums, vals, kwargs, nested=True):
        ans, uback = self._run(vals, kwargs)
        metas = [_meta(vals[i]) for i in argnums]
        n = len(vals)

        def back(g):
            cts = self._call_back(uback, g, n)
            return tuple(fit(cts[i], *m) for i, m in zip(argnums, metas))

        back.__name__ = back.__qualname__ = f"{self.name}_pullback"
        return ans, back

    def jvp(self, argnums, vals, tangents, kwargs, nested=True):
        if self.tangent_rule is not None:
            ans, t = self.tangent_rule(vals, tangents_full(vals, argnums, tangents), **kwargs)
            return ans, fit_tangent(t, ans)
        ans, uback = self._run(vals, kwargs)
        pairs = [(i, t) for i, t in zip(argnums, tangents) if t is not None]
        if not pairs:
            return ans, None
        n = len(vals)

        def dot_back(g):
            cts = self._call_back(uback, g, n)
            total = 0.0
            for i, t in pairs:
                ct = cts[i]
                if ct is not None:
                    total = total + np.sum(np.real(np.conj(ct) * t))
            return total

        return ans, fit_tangent(transpose_linear(dot_back, ans), ans)


def one_like(v: Any, dtype: Any) -> Any:
    """A 0-d one of ``v``'s array type (a CuPy scalar for a CuPy value: CuPy mixes with no
    NumPy array), NumPy's for Python and NumPy scalars."""
    if hasattr(v, "__array_function__") and type(v) is not np.ndarray and not isinstance(v, np.generic):
        return np.ones_like(v, dtype=dtype, shape=())
    return np.ones((), dtype=dtype)


def transpose_linear(dot_back: Callable, like: Any) -> Any:
    """Gradient of the real, linear-in-``g`` function ``dot_back`` (used to transpose a pullback)."""
    trace = ReverseTrace()
    try:
        g = trace.new(np.zeros_like(strip(like)))
        out = dot_back(g)
    finally:
        trace.finish()
    if not (isinstance(out, Tracer) and out._trace is trace):
        return None
    return backward([out._aux], [one_like(strip(out), np.result_type(strip(out)))], [g._aux])[0]


def tangents_full(vals, argnums, tangents):
    """Tangents for every positional argument (None where untraced or zero)."""
    full = [None] * len(vals)
    for i, t in zip(argnums, tangents):
        full[i] = t
    return full


# ---------------------------------------------------------------- declarations


def _name(func: Any) -> str:
    if isinstance(func, tuple):
        return f"{_qualname(func[0])}.{func[1]}"
    return _qualname(func)


def defvjp(func, vjps, jvps, raw=None, name=None, key=True) -> Rule:
    """Declare a primitive by per-argument reverse and forward functions.

    Parameters
    ----------
    func : the function (or ufunc) whose calls on traced values the rule handles.
    vjps, jvps : sequences indexed by positional argument; None marks an
        argument that is not differentiable.
    raw : what computes the value on plain arrays (default ``func``).
    key : register under ``func`` (False: a private primitive, not registered).
    """
    rule = Rule(raw or func, name or _name(func), tuple(vjps), tuple(jvps))
    if key:
        register(func, rule, "rule")
    return rule


def deflinear(func, adjoint, raw=None, name=None, key=True) -> LinearRule:
    """Declare ``func`` linear in its first argument, with its adjoint.

    ``adjoint(g, shape, dtype, *static, **kwargs)`` must be written with NumPy
    calls (or other primitives) so that it is differentiable in turn.
    """
    rule = LinearRule(raw or func, name or _name(func), adjoint)
    if key:
        register(func, rule, "linear")
    return rule


def _conj(x):
    dt = getattr(x, "dtype", None)
    if dt is None:
        return x.conjugate() if isinstance(x, complex) else x
    return np.conj(x) if dt.kind == "c" else x


def _unit(g, dx) -> bool:
    """Whether ``g * dx`` equals the fresh array ``dx``: ``g`` a broadcast one of ``dx``'s shape."""
    return (
        type(g) is np.ndarray
        and not any(g.strides)  # false at once for an ordinary cotangent
        and type(dx) is np.ndarray
        and g.shape == dx.shape
        and g.size > 0
        and g.flat[0] == 1
        and np.result_type(g, dx) == dx.dtype
    )


def defelementwise(func, *derivs, raw=None, name=None, key=True) -> Rule:
    """Declare a holomorphic (or real) elementwise function by its partial derivatives.

    ``derivs[i](ans, *args)`` is d func / d arg_i; the reverse rule multiplies
    the cotangent by its conjugate, the forward rule the tangent by it.
    A ``None`` entry marks a non-differentiable argument. ``raw``, ``name`` and
    ``key`` are :func:`defvjp`'s.
    """

    def make_vjp(d):
        if d is None:
            return None

        def vjp(g, ans, *args, **kwargs):
            dx = d(ans, *args)
            if type(dx) is _ndarray:  # _conj, inline
                if dx.dtype.kind == "c":
                    dx = np.conj(dx)
            else:
                dx = _conj(dx)
            if type(g) is _ndarray:
                # (_unit's first tests, inline: an ordinary cotangent has no zero stride)
                if (not g.ndim or 0 in g.strides) and _unit(g, dx) and dx is not ans and all(
                        dx is not a for a in args):
                    return dx  # g is a broadcast 1 (the pullback of a sum): the product is dx itself
                if g.nbytes >= _LARGE:
                    return buffers.product(g, dx)
            if type(dx) is _ndarray and dx.nbytes >= _LARGE:
                return buffers.product(g, dx)
            return g * dx  # buffers.product's small case, without its call

        def vjp_in_place(g, ans, *args, **kwargs):
            return multiply_into(g, _conj(d(ans, *args)))

        vjp.__name__ = vjp.__qualname__ = f"{getattr(d, '__name__', 'd')}_vjp"
        vjp_in_place.__name__ = vjp_in_place.__qualname__ = f"{vjp.__name__}_in_place"
        vjp.__pullback_reads__ = reads(d, 0)  # it passes (ans, *args) straight to d
        vjp.in_place = vjp_in_place
        return vjp

    def make_jvp(d):
        if d is None:
            return None

        def jvp(t, ans, *args, **kwargs):
            return t * d(ans, *args)

        jvp.__name__ = jvp.__qualname__ = f"{getattr(d, '__name__', 'd')}_jvp"
        return jvp

    vjps = [make_vjp(d) for d in derivs]
    return defvjp(func, vjps, [make_jvp(d) for d in derivs], raw=raw, name=name, key=key)


def defcomposite(func, impl: Callable) -> Callable:
    """Handle ``func`` on traced values by ``impl``, written with other NumPy calls."""
    return register(func, impl, "composite")


def _value_of_raw(y, value):
    return value


def value_of_vjp(g, ans, y, value):
    return g


def value_of_jvp(t, ans, y, value):
    return t


#: ``value_of(y, value)``: ``value`` (the library's own result, equal to ``y``'s but for rounding),
#: differentiating as ``y``
value_of = defvjp(_value_of_raw, [value_of_vjp, None], [value_of_jvp, None],
                  name="<the library's own value>", key=False)


def _with_values(out: Any, want: Any) -> Any:
    """``out`` (a composite's result) with each traced array's value replaced by the matching one of
    ``want`` (the library's own result), where shape and dtype agree."""
    if isinstance(out, Tracer):
        w = numeric(want)
        if w.shape == out.shape and w.dtype == out.dtype:
            return value_of(out, w)
        return out
    if isinstance(out, (np.ndarray, np.generic)) and isinstance(want, (np.ndarray, np.generic)):
        if want.shape == out.shape and want.dtype == out.dtype:  # untraced: the library's own result
            return want
        return out
    if isinstance(out, tuple) and isinstance(want, tuple) and len(out) == len(want):
        parts = [_with_values(o, w) for o, w in zip(out, want)]
        return type(out)(*parts) if hasattr(out, "_fields") else type(out)(parts)
    return out


def numeric(v: Any) -> Any:
    """A library's result as it is when it is NumPy's (an array, or a NumPy scalar, which stays
    one), else as an array."""
    return v if isinstance(v, (np.ndarray, np.generic)) else np.asarray(v)


def numpy_scalar(x: Any) -> Any:
    """``x`` as NumPy's reductions return a 0-d result: a scalar (``x[()]``), not a 0-d array (what
    a composite's last ``np.where`` leaves). Anything else unchanged."""
    if getattr(x, "ndim", None) == 0 and isinstance(strip(x), np.ndarray):
        return x[()]
    return x


def library_values(original: Callable) -> Callable:
    """Make a composite return ``original``'s own values (bit for bit) with the composite's
    derivatives: for composites whose steps agree with the library's only to rounding. The library
    runs once more on the plain values (its warnings silenced: the composite gave them)."""
    import functools
    import warnings

    def wrap(composite: Callable) -> Callable:
        @functools.wraps(composite)
        def with_library_values(*args, **kwargs):
            out = composite(*args, **kwargs)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                want = original(*strip_tree(args), **strip_tree(kwargs))
            return _with_values(out, want)

        return with_library_values

    return wrap


def defnondiff(func, raw=None) -> Callable:
    """Declare that ``func``'s output carries no gradient: it runs on the plain values."""
    target = raw or func

    def nondifferentiable(*args, **kwargs):
        return target(*strip_tree(args), **strip_tree(kwargs))

    nondifferentiable.__name__ = f"nondiff_{getattr(func, '__name__', 'f')}"
    return register(func, nondifferentiable, "nondiff")


def any_traced(values: Any) -> bool:
    """Whether any value, or any value in nested tuples and lists, is traced."""
    for v in values:
        if isinstance(v, Tracer):
            return True
        if type(v) in (tuple, list) and any_traced(v):
            return True
    return False


def strip_tree(x: Any) -> Any:
    """Remove every trace level from values nested in tuples, lists and dicts."""
    if isinstance(x, Tracer):
        return strip(x)
    if type(x) is tuple:
        return tuple(strip_tree(v) for v in x)
    if type(x) is list:
        return [strip_tree(v) for v in x]
    if type(x) is dict:
        return {k: strip_tree(v) for k, v in x.items()}
    return x


def like_value(t: Any, plain: Any) -> Any:
    """The traced ``t`` in the form of the library's value ``plain``: a Python float, a NumPy scalar or
    an array of its shape; with ``plain``'s bits (``t`` has them already, up to a zero's sign)."""
    v = strip(t)
    if isinstance(plain, np.ndarray):
        if not isinstance(v, np.ndarray):  # a scalar: through one dimension, as reshape keeps scalars
            t = np.reshape(t, (1,))
        if strip(t).shape != plain.shape:
            t = np.reshape(t, plain.shape)
    elif isinstance(v, np.ndarray):
        t = np.reshape(t, ())[()]
    v = strip(t)
    if np.result_type(v) != np.result_type(plain):
        t = t.astype(np.result_type(plain))
        v = strip(t)
    if np.asarray(v).tobytes() != np.asarray(plain).tobytes():
        t = plain - (v - t)  # the same number, the library's bits (v - t is +0: -0.0 stays -0.0)
    if type(plain) is float:
        from ..dispatch import TracedArray, TracedWeak

        if type(t) is TracedArray:
            t.__class__ = TracedWeak  # the library's value is a Python float: so is the traced one
    return t


def stand_in(x: Any) -> Any:
    """A plain array of a traced ``x``'s shape and dtype (broadcast zeros: no memory), ``x`` itself
    otherwise: NumPy's own call on stand-ins raises NumPy's own error for those shapes and dtypes."""
    if isinstance(x, Tracer):
        return np.broadcast_to(np.zeros((), np.result_type(strip(x))), np.shape(x))
    return x


def all_rules() -> dict:
    """Every registered key and its kind (for the coverage test)."""
    return dict(KINDS)


# ---------------------------------------------------------------- keyword normalisation

_SIGS: dict = {}


def move_traced_kwargs(func, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """Rebind keyword arguments as positional ones, so rules see traced values positionally."""
    sig = _SIGS.get(func)
    if sig is None:
        sig = _SIGS[func] = inspect.signature(func)
    bound = sig.bind(*args, **kwargs)
    bound.apply_defaults()
    new_args, new_kwargs = [], {}
    for name, p in sig.parameters.items():
        v = bound.arguments[name]
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            new_args.append(v)
        elif p.kind == p.VAR_POSITIONAL:
            new_args.extend(v)
        elif p.kind == p.VAR_KEYWORD:
            new_kwargs.update(v)
        else:
            if isinstance(v, Tracer):
                raise TypeError(
                    f"pullback: cannot differentiate {_qualname(func)} with respect to "
                    f"keyword-only argument {name!r}"
                )
            new_kwargs[name] = v
    return tuple(new_args), new_kwargs
