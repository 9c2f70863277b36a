"""The engine: trace levels, the tape, the backward sweep and forward duals.

Nothing here knows about NumPy. Values are opaque; the rule layer supplies
primitives, and ``dispatch`` supplies the array-aware tracer class.
"""

from .trace import (
    NOT_TRACED,
    ForwardTrace,
    Node,
    Primitive,
    Pullback,
    ReverseTrace,
    Trace,
    Tracer,
    backward,
    depth,
    set_ownable,
    set_tracer_class,
    strip,
    tracing,
)

__all__ = [
    "ForwardTrace",
    "NOT_TRACED",
    "Node",
    "Primitive",
    "Pullback",
    "ReverseTrace",
    "Trace",
    "Tracer",
    "backward",
    "depth",
    "set_ownable",
    "set_tracer_class",
    "strip",
    "tracing",
]
