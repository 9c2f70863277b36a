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
import threading
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


class Pullback:
    """A pullback that is its own tape entry: a :class:`Node` without a second object.

    A primitive's ``vjp`` may return an instance of a subclass as its ``back``: it must
    be a fresh object, made for that one call (the trace sets its ``parents`` and then
    records it on the tape as it is). Subclasses define ``__call__(g)`` and may define
    ``sweep(g, mine)`` (see :func:`set_ownable`). One allocation per traced operation
    instead of two: the tape of a chain of small operations is mostly such objects.
    """

    __slots__ = ("parents",)


#: This thread's number of differentiations in progress (traces made and not yet finished).
_ACTIVE = threading.local()


def tracing() -> bool:
    """Whether this thread has a differentiation in progress: only then can a traced value be
    alive here (one that escaped a finished one raises when used)."""
    return getattr(_ACTIVE, "depth", 0) > 0


def depth() -> int:
    """How many differentiations this thread has in progress (nested ones included): the highest
    order of derivative that values computed now can be asked for."""
    return getattr(_ACTIVE, "depth", 0)


class Trace:
    """A differentiation in progress; ``level`` orders nested traces."""

    __slots__ = ("level",)

    def __init__(self) -> None:
        self.level = next(_next_level)
        _ACTIVE.depth = getattr(_ACTIVE, "depth", 0) + 1

    def process_first(self, prim: Primitive, x: Tracer, static: tuple) -> Any:
        """``prim(x, *static)`` where ``x`` is this level's and nothing in ``static`` is traced."""
        return self.process(prim, (x, *static), {})

    def finish(self) -> None:
        """End this differentiation: from now on, a use of one of its tracers raises
        :class:`~pullback.errors.UnexpectedTracerError` (it escaped the function). Costs nothing
        on the way: the trace becomes a :class:`FinishedTrace`, whose methods raise."""
        kind = "reverse-mode" if isinstance(self, ReverseTrace) else "forward-mode"
        self.__class__ = _FINISHED[kind]
        _ACTIVE.depth = max(getattr(_ACTIVE, "depth", 1) - 1, 0)

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
        if isinstance(back, Pullback):
            back.parents = (x._aux,)
            return _TracerClass(ans, self, back)
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
            if isinstance(back, Pullback):
                back.parents = (a._aux,)
                return _TracerClass(ans, self, back)
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
        if isinstance(back, Pullback):  # its own tape entry
            back.parents = parents
            return _TracerClass(ans, self, back)
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


class FinishedTrace(Trace):
    """A trace whose differentiation has returned (see :meth:`Trace.finish`)."""

    __slots__ = ()
    kind = "finished"

    def _escaped(self, *args: Any, **kwargs: Any) -> Any:
        from ..errors import UnexpectedTracerError

        raise UnexpectedTracerError(self.kind)

    process = process_first = new = constant = _escaped


class _FinishedReverse(FinishedTrace):
    __slots__ = ()
    kind = "reverse-mode"


class _FinishedForward(FinishedTrace):
    __slots__ = ()
    kind = "forward-mode"


_FINISHED = {"reverse-mode": _FinishedReverse, "forward-mode": _FinishedForward}


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


#: The array type of cotangents the sweep may own (see :func:`set_ownable`); None: never.
_OWNABLE: type | None = None
#: Cotangents smaller than this are never owned (allocating small arrays is cheap).
_OWN_MIN = 1


def _add(old: Any, old_mine: bool, ct: Any, ct_mine: bool) -> tuple[Any, bool]:
    return old + ct, False


_add_into: Callable = _add


def set_ownable(array_type: type | None, add_into: Callable | None = None, min_size: int = 1) -> None:
    """Let the sweep own cotangents of ``array_type``, and pullbacks work in the ones it owns.

    Ownership is established by construction, never by a reference count: the
    sweep owns a cotangent when the pullback that returned it says that nothing
    but the sweep can reach it (an array the pullback allocated, or the owned
    cotangent it was handed, worked in place). A seed passed by the caller, a
    value from the forward pass, or the result of a pullback that says nothing
    is never owned. A pullback object says so through an optional method
    ``back.sweep(g, mine) -> (cotangents, owned)``: ``mine`` tells it whether the
    sweep owns ``g`` (so it may overwrite it), ``owned`` holds one flag per
    cotangent, or nothing (``()``) when none is owned. Without that method the
    sweep calls ``back(g)`` and owns nothing it returns. A running sum of
    cotangents (a value used twice) is formed by
    ``add_into(old, old_mine, ct, ct_mine) -> (sum, sum_mine)``, which may add
    into an owned operand. Arrays of fewer than ``min_size`` elements are
    never owned. Nothing here depends on reference counts, a tracer or the GIL:
    each sweep owns only arrays it alone came to hold, so concurrent calls of
    one ``back`` (or a free-threaded build) are safe as they are.
    """
    global _OWNABLE, _add_into, _OWN_MIN
    _OWNABLE = array_type
    _add_into = add_into or _add
    _OWN_MIN = min_size


#: The cotangent types the rule layer may hand the sweep in place of an array (see :func:`set_lazy`).
_LAZY: tuple = ()


def set_lazy(lazy_type: type | None) -> None:
    """Let pullbacks return cotangents of ``lazy_type``: sums the sweep may add up cheaply (its
    ``__add__`` and ``__radd__``), made into an ordinary value by ``materialize()`` before a
    pullback or the caller receives one. (An element read's cotangent is one entry: a dense array
    of zeros for each would make a loop of N reads cost O(N^2).) A pullback object whose
    ``accepts_lazy`` is true receives the lazy value itself (it may use its structure, and
    materializes it where it cannot). Several types may be registered; None clears them."""
    global _LAZY
    _LAZY = () if lazy_type is None else _LAZY + ((lazy_type,) if lazy_type not in _LAZY else ())


#: Context managers (factories) every backward sweep runs inside: the rule layer's
#: per-sweep state (the FFT engine holds its SciPy-backend check for one sweep).
SWEEP_CONTEXTS: list[Callable] = []


def backward(roots: list, seeds: list, leaves: list, owned: list | None = None) -> list:
    """Sweep the tape from ``roots`` (nodes, or None) seeded with ``seeds``.

    Iterative and reference-counted: a node runs once every consumer has
    handed it its cotangent, and its cotangent is dropped as soon as it ran.
    A ``None`` cotangent is a structural zero and costs nothing. Returns the
    accumulated cotangent (or None) of each node in ``leaves``; a list passed
    as ``owned`` receives, for each, whether the sweep owned it (nothing else
    could reach it: not a seed, nor any array the forward pass or a user's rule
    may hold).
    """
    if SWEEP_CONTEXTS:
        with contextlib.ExitStack() as stack:
            for context in SWEEP_CONTEXTS:
                stack.enter_context(context())
            return _sweep(roots, seeds, leaves, owned)
    return _sweep(roots, seeds, leaves, owned)


def _give(grads: dict, mine: set, p: Node, ct: Any, owned: bool) -> None:
    """Add ``ct`` (owned by the sweep or not) to node ``p``'s running sum of cotangents."""
    if p in grads:
        old = grads[p]
        if _OWNABLE is None:
            grads[p] = old + ct
            return
        grads[p], owned = _add_into(old, p in mine, ct, owned)
    else:
        grads[p] = ct
    if owned:
        mine.add(p)
    else:
        mine.discard(p)


def _sweep(roots: list, seeds: list, leaves: list, owned_leaves: list | None = None) -> list:
    counts: dict = {}
    stack = []
    for r in roots:
        if r is not None and r not in counts:
            counts[r] = 0
            stack.append(r)
    pop, push = stack.pop, stack.append
    while stack:  # count each node's consumers
        for p in pop().parents:
            if p in counts:
                counts[p] += 1
            else:
                counts[p] = 1
                push(p)
    grads: dict = {}
    for r, s in zip(roots, seeds):
        if r is not None and s is not None:
            old = grads.get(r)
            grads[r] = s if old is None else old + s
    mine: set = set()  # the nodes whose cotangent nothing but this sweep can reach (never a seed)
    wanted = {leaf for leaf in leaves if leaf is not None}
    found: dict = {}
    found_mine: set = set()
    ready = [r for r, c in counts.items() if c == 0]
    ready_pop, ready_push = ready.pop, ready.append
    take = grads.pop
    ownable = _OWNABLE is not None
    lazy = _LAZY
    while ready:
        node = ready_pop()
        g = take(node, None)
        while node is not None:  # node, then along a chain (see below)
            if type(g) in lazy and (node in wanted or not getattr(
                    node.back if type(node) is Node else node, "accepts_lazy", False)):
                g = g.materialize()
            own = False
            if mine and node in mine:
                own = True
                mine.discard(node)
            if node in wanted:
                found[node] = g
                if own:
                    found_mine.add(node)
            if type(node) is Node:
                back = node.back
                if back is None:
                    break
            else:  # a Pullback: its own tape entry
                back = node
            parents = node.parents
            node = None
            if g is not None:
                # back.sweep(g, own) -> (cotangents, owned flags; () when none is owned)
                sweep = getattr(back, "sweep", None) if ownable else None
                if sweep is None:
                    cts, owned = back(g), ()
                else:
                    cts, owned = sweep(g, own)
                del g
                if owned:
                    for p, ct, o in zip(parents, cts, owned):
                        if ct is not None:
                            _give(grads, mine, p, ct, o)
                elif len(parents) == 1:  # the common case: one parent, no loops
                    p = parents[0]
                    g = cts[0]
                    del cts
                    c = counts[p] - 1
                    counts[p] = c
                    if not c and p not in grads:
                        # this was p's last consumer and the only one with a cotangent: p runs
                        # next (as it would from the stack's top), with g, which the sweep does
                        # not own, without the round trip through grads and ready
                        node = p
                        continue
                    if g is not None:
                        if p in grads:
                            _give(grads, mine, p, g, False)
                        else:  # (a node in mine has an entry in grads)
                            grads[p] = g
                        del g
                    if not c:
                        ready_push(p)
                    break
                else:
                    for p, ct in zip(parents, cts):
                        if ct is not None:
                            if p in grads:
                                _give(grads, mine, p, ct, False)
                            else:
                                grads[p] = ct
                del cts
            for p in parents:
                c = counts[p] - 1
                counts[p] = c
                if not c:
                    ready_push(p)
    if owned_leaves is not None:
        owned_leaves[:] = [leaf in found_mine for leaf in leaves]
    return [None if leaf is None else found.get(leaf) for leaf in leaves]
