"""Trace levels, tape nodes, primitives and the backward sweep.

A *trace* is one differentiation in progress: ``gradient`` opens a
:class:`ReverseTrace`, ``jvp`` a :class:`ForwardTrace`. Each trace gets a level
that is higher than every trace opened before it, so nested differentiation
(a gradient of a gradient) never confuses one trace's perturbation with
another's: a :class:`Tracer` belongs to exactly one trace and wraps a value
that may itself be traced at an outer (lower) level.

A :class:`Primitive` is a function the engine knows how to differentiate.
Calling it finds the innermost trace among its positional arguments and lets
that trace record the call; the trace unwraps its own level and calls the
primitive again, so outer levels record their part in turn.
"""

from __future__ import annotations

import contextlib
import itertools
import sys
from collections.abc import Callable
from typing import Any

_next_level = itertools.count(1)

#: Returned as the tangent by a forward rule whose output carries no derivative
#: (an integer or boolean result): the value then leaves the trace.
NOT_TRACED = object()


class Tracer:
    """A value traced at one level: ``_aux`` is a :class:`Node` (reverse) or a tangent (forward)."""

    __slots__ = ("_value", "_trace", "_aux")

    def __init__(self, value: Any, trace: Trace, aux: Any) -> None:
        self._value = value
        self._trace = trace
        self._aux = aux


_TracerClass: Callable = Tracer


def set_tracer_class(factory: Callable) -> None:
    """Let the dispatch layer choose the concrete (array-aware) tracer class.

    ``factory(value, trace, aux)`` builds a tracer.
    """
    global _TracerClass
    _TracerClass = factory


def strip(x: Any) -> Any:
    """The plain value under every trace level."""
    while isinstance(x, Tracer):
        x = x._value
    return x


class Node:
    """One tape entry: the parent nodes and the pullback that maps a cotangent to theirs."""

    __slots__ = ("parents", "back")

    def __init__(self, parents: tuple, back: Callable | None) -> None:
        self.parents = parents
        self.back = back


class Trace:
    """A differentiation in progress; ``level`` orders nested traces."""

    __slots__ = ("level",)

    def __init__(self) -> None:
        self.level = next(_next_level)

    def process_first(self, prim: Primitive, x: Tracer, static: tuple) -> Any:
        """``prim(x, *static)`` where ``x`` is this level's and nothing in ``static`` is traced."""
        return self.process(prim, (x, *static), {})

    def _split(self, args: tuple):
        """Unwrap this level: the values, which arguments were traced here, their
        nodes or tangents, and whether any value is still traced at an outer level."""
        vals = list(args)
        argnums = []
        auxes = []
        nested = False
        for i, a in enumerate(args):
            if isinstance(a, Tracer):
                if a._trace is self:
                    vals[i] = v = a._value
                    argnums.append(i)
                    auxes.append(a._aux)
                    if isinstance(v, Tracer):
                        nested = True
                else:
                    nested = True
        return vals, argnums, auxes, nested


class ReverseTrace(Trace):
    """Records primitives on a tape for a later backward sweep."""

    __slots__ = ()

    def process_first(self, prim: Primitive, x: Tracer, static: tuple) -> Any:
        """:meth:`process` of ``prim(x, *static)``: ``x`` is this level's, nothing in ``static`` traced."""
        v = x._value
        ans, back = prim.vjp([0], [v, *static], {}, isinstance(v, Tracer))
        if back is None:
            return ans
        return _TracerClass(ans, self, Node((x._aux,), back))

    def new(self, value: Any) -> Tracer:
        """A leaf: a traced input whose cotangent the sweep collects."""
        return _TracerClass(value, self, Node((), None))

    constant = new  # a value with no parents receives no cotangent unless asked for

    def process(self, prim: Primitive, args: tuple, kwargs: dict) -> Any:
        if len(args) == 1:  # unary: no lists to build
            a = args[0]
            v = a._value
            ans, back = prim.vjp([0], [v], kwargs, isinstance(v, Tracer))
            if back is None:
                return ans
            return _TracerClass(ans, self, Node((a._aux,), back))
        parents = None  # set by a fast path below; else the general unwrapping runs
        a = args[0]
        if len(args) == 2:  # binary: the same unwrapping as _split, without its loop
            b = args[1]
            ta = isinstance(a, Tracer)
            tb = isinstance(b, Tracer)
            if ta and a._trace is self and not (tb and b._trace is self):
                va = a._value
                ans, back = prim.vjp([0], [va, b], kwargs, tb or isinstance(va, Tracer))
                parents = (a._aux,)
            elif tb and b._trace is self and not ta:
                vb = b._value
                ans, back = prim.vjp([1], [a, vb], kwargs, isinstance(vb, Tracer))
                parents = (b._aux,)
        elif isinstance(a, Tracer) and a._trace is self:
            for b in args[1:]:  # a linear rule's call: the traced value first, then static arguments?
                if isinstance(b, Tracer):
                    break
            else:
                vals = list(args)
                vals[0] = va = a._value
                ans, back = prim.vjp([0], vals, kwargs, isinstance(va, Tracer))
                parents = (a._aux,)
        if parents is None:
            vals, argnums, parents, nested = self._split(args)
            ans, back = prim.vjp(argnums, vals, kwargs, nested)
        if back is None:
            return ans
        return _TracerClass(ans, self, Node(parents, back))


class ForwardTrace(Trace):
    """Carries a tangent beside each value (dual numbers); ``None`` is a zero tangent."""

    __slots__ = ()

    def new(self, value: Any, tangent: Any = None) -> Tracer:
        return _TracerClass(value, self, tangent)

    def constant(self, value: Any) -> Tracer:
        return _TracerClass(value, self, None)

    def process(self, prim: Primitive, args: tuple, kwargs: dict) -> Any:
        vals, argnums, tangents, nested = self._split(args)
        ans, tangent = prim.jvp(argnums, vals, tangents, kwargs, nested)
        if tangent is NOT_TRACED:
            return ans
        return _TracerClass(ans, self, tangent)


class Primitive:
    """A differentiable function: ``raw`` computes it on untraced values.

    Subclasses supply ``vjp(argnums, vals, kwargs, nested) -> (ans, back)``
    where ``back(g)`` returns one cotangent per traced argument, and
    ``jvp(argnums, vals, tangents, kwargs, nested) -> (ans, tangent)``.
    ``nested`` says whether ``vals`` still hold values traced at outer levels
    (then :meth:`evaluate` dispatches again; otherwise it calls ``raw``).
    """

    __slots__ = ("name", "raw")

    def __init__(self, raw: Callable, name: str) -> None:
        self.raw = raw
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        top = None
        for a in args:
            if isinstance(a, Tracer):
                t = a._trace
                if top is None or t.level > top.level:
                    top = t
        if top is None:
            return self.raw(*args, **kwargs)
        return top.process(self, args, kwargs)

    def first_traced(self, x: Any, *static: Any) -> Any:
        """``self(x, *static)`` for a caller that knows no static argument is traced.

        Skips the search for the innermost trace (a rule's own calls, e.g. a
        transform's lengths and axes after its input).
        """
        if isinstance(x, Tracer):
            return x._trace.process_first(self, x, static)
        return self.raw(x, *static)

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"

    def evaluate(self, vals, kwargs, nested):
        """The primitive's value on arguments unwrapped at one level."""
        return self(*vals, **kwargs) if nested else self.raw(*vals, **kwargs)

    def vjp(self, argnums, vals, kwargs, nested):  # pragma: no cover - interface
        raise NotImplementedError

    def jvp(self, argnums, vals, tangents, kwargs, nested):  # pragma: no cover - interface
        raise NotImplementedError


#: The array type whose cotangents a pullback may overwrite when the sweep holds the only
#: reference (see :func:`set_ownable`); None: never.
_OWNABLE: type | None = None
_refcount = sys.getrefcount
#: What getrefcount reports, in the sweep, for a cotangent only the sweep's local name holds,
#: and for a running sum only the sweep's dict and local name hold. CPython <= 3.13 counts the
#: call's argument too (2 and 3); 3.14 may borrow it. Calibrated on this interpreter by
#: :func:`_calibrate` (-1: never, where no value tells the cases apart).
_SOLE = 2
_SOLE_SUM = 3
#: Cotangents smaller than this are never handed over (allocating small arrays is cheap).
_OWN_MIN = 1


def _add(old, ct):
    return old + ct


_add_into: Callable = _add


def set_ownable(array_type: type | None, add_into: Callable | None = None, min_size: int = 1) -> None:
    """Let pullbacks take over cotangents of ``array_type`` that nothing else references.

    When the sweep holds the only reference to a node's cotangent (CPython's
    reference count says so), no other code can see that array again, and the
    node's pullback may work in it instead of allocating: its ``consume(g)``
    method is called rather than ``back(g)``. The rule layer decides, inside
    ``consume``, which arrays qualify (an array that owns its memory, large
    enough to be worth it). Likewise a partial sum of cotangents (a value used
    twice) that only the sweep holds is passed to ``add_into(old, ct)``, which
    may add ``ct`` into it. Arrays of fewer than ``min_size`` elements are left
    alone (checked first, so small arrays cost one comparison).
    """
    global _OWNABLE, _add_into, _OWN_MIN
    _OWNABLE = array_type
    _add_into = add_into or _add
    _OWN_MIN = min_size


#: A cotangent type the rule layer may hand the sweep in place of an array (see :func:`set_lazy`).
_LAZY: type | None = None


def set_lazy(lazy_type: type | None) -> None:
    """Let pullbacks return cotangents of ``lazy_type``: sums the sweep may add up cheaply (its
    ``__add__`` and ``__radd__``), made into an ordinary value by ``materialize()`` before a
    pullback or the caller receives one. (An element read's cotangent is one entry: a dense array
    of zeros for each would make a loop of N reads cost O(N^2).)"""
    global _LAZY
    _LAZY = lazy_type


#: Context managers (factories) every backward sweep runs inside: the rule layer's
#: per-sweep state (the FFT engine holds its SciPy-backend check for one sweep).
SWEEP_CONTEXTS: list[Callable] = []


def backward(roots: list, seeds: list, leaves: list) -> list:
    """Sweep the tape from ``roots`` (nodes, or None) seeded with ``seeds``.

    Iterative and reference-counted: a node runs once every consumer has
    handed it its cotangent, and its cotangent is dropped as soon as it ran.
    A ``None`` cotangent is a structural zero and costs nothing. Returns the
    accumulated cotangent (or None) of each node in ``leaves``.
    """
    if SWEEP_CONTEXTS:
        with contextlib.ExitStack() as stack:
            for context in SWEEP_CONTEXTS:
                stack.enter_context(context())
            return _sweep(roots, seeds, leaves)
    return _sweep(roots, seeds, leaves)


def _accumulate(grads: dict, p: Node, ct: Any) -> None:
    """Add ``ct`` to node ``p``'s running sum of cotangents, into it when only the sweep holds it."""
    old = grads[p]
    if type(old) is _OWNABLE and old.size >= _OWN_MIN and _refcount(old) == _SOLE_SUM:
        grads[p] = _add_into(old, ct)
    else:
        grads[p] = old + ct


def _sweep(roots: list, seeds: list, leaves: list) -> list:
    counts: dict = {}
    stack = []
    for r in roots:
        if r is not None and r not in counts:
            counts[r] = 0
            stack.append(r)
    while stack:  # count each node's consumers
        for p in stack.pop().parents:
            c = counts.get(p)
            if c is None:
                counts[p] = 1
                stack.append(p)
            else:
                counts[p] = c + 1
    grads: dict = {}
    for r, s in zip(roots, seeds):
        if r is not None and s is not None:
            old = grads.get(r)
            grads[r] = s if old is None else old + s
    wanted = {leaf for leaf in leaves if leaf is not None}
    found: dict = {}
    ready = [r for r, c in counts.items() if c == 0]
    while ready:
        node = ready.pop()
        g = grads.pop(node, None)
        if type(g) is _LAZY:
            g = g.materialize()
        if node in wanted:
            found[node] = g
        back = node.back
        if back is None:
            continue
        parents = node.parents
        if len(parents) == 1:  # a chain link: one parent, one cotangent, no loops
            p = parents[0]
            if g is not None:
                if (type(g) is _OWNABLE and g.size >= _OWN_MIN and _refcount(g) == _SOLE
                        and hasattr(back, "consume")):
                    ct = back.consume(g)[0]
                else:
                    ct = back(g)[0]
                del g
                if ct is not None:
                    if p in grads:
                        _accumulate(grads, p, ct)
                    else:
                        grads[p] = ct
                del ct
            c = counts[p] - 1
            counts[p] = c
            if not c:
                ready.append(p)
            continue
        if g is not None:
            if (type(g) is _OWNABLE and g.size >= _OWN_MIN and _refcount(g) == _SOLE
                    and hasattr(back, "consume")):
                cts = back.consume(g)
            else:
                cts = back(g)
            for p, ct in zip(parents, cts):
                if ct is not None:
                    if p in grads:
                        _accumulate(grads, p, ct)
                    else:
                        grads[p] = ct
            del cts, g
        for p in parents:
            c = counts[p] - 1
            counts[p] = c
            if not c:
                ready.append(p)
    return [None if leaf is None else found.get(leaf) for leaf in leaves]


# ---------------------------------------------------------------- calibration
#
# Overwriting an array that something else still references would silently corrupt it, so the
# reference counts above are not assumed: a few sweeps over probe nodes find, on this
# interpreter, the counts that tell "only the sweep holds it" from "someone else does too",
# through the very code of _sweep. Where none does, ownership is never claimed.


class _Probe:
    """A stand-in cotangent type for the calibration sweeps."""

    size = 1 << 62

    def __add__(self, other):
        return _Probe()


class _ProbeBack:
    def __init__(self, make, log):
        self.make, self.log = make, log

    def __call__(self, g):
        self.log.append("call")
        return (self.make(),)

    def consume(self, g):
        self.log.append("consume")
        return (self.make(),)


def _probe_sweep(shared: bool, log: list) -> None:
    """root -> middle -> leaf; the root hands the middle a fresh cotangent, or one it keeps."""
    held = _Probe()
    make = (lambda: held) if shared else _Probe
    leaf = Node((), None)
    middle = Node((leaf,), _ProbeBack(_Probe, log))
    root = Node((middle,), _ProbeBack(make, []))
    _sweep([root], [_Probe()], [leaf])


def _probe_sum(shared: bool, log: list) -> None:
    """Two roots hand one node their cotangents (fresh ones, or one they keep): a running sum."""
    global _add_into
    held = _Probe()
    make = (lambda: held) if shared else _Probe
    leaf = Node((), None)
    roots = [Node((leaf,), _ProbeBack(make, [])), Node((leaf,), _ProbeBack(make, []))]

    def add(old, ct):
        log.append("add")
        return old + ct

    saved, _add_into = _add_into, add
    try:
        _sweep(roots, [_Probe(), _Probe()], [leaf])
    finally:
        _add_into = saved


def _calibrate() -> None:
    global _OWNABLE, _SOLE, _SOLE_SUM
    saved = _OWNABLE
    _OWNABLE = _Probe
    try:
        for probe, name in ((_probe_sweep, "consume"), (_probe_sum, "add")):
            found = -1
            for k in range(1, 9):  # the first that tells the cases apart is the only one
                if probe is _probe_sweep:
                    _SOLE = k
                else:
                    _SOLE_SUM = k
                fresh, shared = [], []
                probe(False, fresh)
                probe(True, shared)
                if name in fresh and name not in shared:
                    found = k
                    break
            if probe is _probe_sweep:
                _SOLE = found
            else:
                _SOLE_SUM = found
    finally:
        _OWNABLE = saved


_calibrate()
