"""The user-facing API: gradients, pullbacks, forward mode and extension hooks."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .core import ForwardTrace, ReverseTrace, Tracer, backward, strip
from .dispatch import TracedArray, TracedWeak, refuse_subclasses
from .engines import buffers
from .intercept import intercept
from .lazy import is_dask, match_chunks
from .rules import registry as R
from .rules.views import mark_read_only
from .tree import flatten

__all__ = [
    "adjoint",
    "checkpoint",
    "custom_adjoint",
    "grad",
    "gradient",
    "hessian",
    "hvp",
    "jacobian",
    "jvp",
    "nondifferentiable",
    "pullback",
    "stop_gradient",
    "value_and_grad",
    "value_and_gradient",
]


# ---------------------------------------------------------------- leaves


def _differentiable(x: Any) -> bool:
    if isinstance(x, (bool, int, np.bool_, np.integer)):
        return False
    if isinstance(x, (float, complex)):
        return True
    dt = getattr(x, "dtype", None)
    if dt is None or not hasattr(x, "shape"):
        return False
    kind = np.dtype(dt).kind
    if kind == "O":
        raise TypeError("pullback cannot differentiate an object-dtype array: convert it to a float or "
                        "complex array first (x.astype(float))")
    return kind in "fc"


def _weak_number(x: Any) -> bool:
    return (isinstance(x, (float, complex)) and not isinstance(x, np.generic)) or type(x) is TracedWeak


def _as_value(x: Any) -> Any:
    """A Python number as the NumPy scalar it stands for (traced as a weak one: see dispatch)."""
    if isinstance(x, (float, complex)) and not isinstance(x, np.generic):
        return np.complex128(x) if isinstance(x, complex) else np.float64(x)
    return x


def _finish(g: Any, x: Any, owned: bool = False) -> Any:
    """Give a leaf's cotangent the leaf's own type (Python float in, float out), as an array the
    caller alone holds.

    ``owned``: the sweep owned it (nothing but the sweep could reach it). Any other array may be
    the caller's cotangent or a view of it (the pullback of ``x``, ``x + 0``, ``reshape``,
    ``concatenate``), the gradient of another argument (the two sides of an add), a value of the
    forward pass or an array a user's rule holds: it is copied. So is a view that keeps a larger
    buffer alive (``.real`` of a complex cotangent, a crop of a padded one, a cached block much
    larger than the gradient), so a held gradient costs its own size.
    """
    if g is None:
        g = np.zeros_like(strip(_as_value(x)))  # a fresh zero, of the leaf's type below
    if isinstance(g, Tracer):
        return g
    if is_dask(x):
        return match_chunks(g, x)  # Dask's gradients: lazy, with the argument's chunks
    if isinstance(x, (float, complex)):
        return type(x)(g)
    if isinstance(x, np.generic):
        return x.dtype.type(g)
    if isinstance(g, np.ndarray):
        if not (owned and g.flags.writeable and _compact(g)):
            g = g.copy(order="K")
    elif isinstance(g, np.generic) and isinstance(x, np.ndarray):
        g = np.asarray(g)
    return g


def _compact(g: np.ndarray) -> bool:
    """Whether ``g`` owns its memory or is a contiguous view of a buffer of about its own size."""
    if g.flags.owndata:
        return True
    if not (g.flags.c_contiguous or g.flags.f_contiguous):
        return False
    size = buffers.footprint(g)
    return size is not None and size <= g.nbytes + g.nbytes // 8


def _check_cotangent(ct: Any, out: Any, i: int) -> Any:
    """The cotangent ``ct`` of output ``i`` (``out``) as a value, after checking that it fits.

    Its shape must be the output's (a Python or NumPy scalar for a 0-d output). A real
    cotangent of a complex output is fine (its imaginary part is zero); a complex one of a real
    output is refused, as PyTorch does: a real output has no imaginary direction to pull back.
    """
    if ct is None:
        return None
    if not hasattr(ct, "shape") or not hasattr(ct, "dtype"):
        ct = np.asarray(ct)
    v = strip(out)
    shape = np.shape(v)
    if ct.shape != shape:
        raise ValueError(
            f"pullback: the cotangent of output {i} has shape {ct.shape}, but the output has shape "
            f"{shape}; pass a cotangent of the output's shape"
        )
    out_dtype = np.result_type(v)
    ct_dtype = np.dtype(strip(ct).dtype)
    if ct_dtype.kind == "c" and out_dtype.kind != "c":
        raise ValueError(
            f"pullback: the cotangent of output {i} is complex ({ct_dtype}), but the output is real "
            f"({out_dtype}); pass a real cotangent"
        )
    if ct_dtype.kind not in "biufc":
        raise ValueError(
            f"pullback: the cotangent of output {i} has dtype {ct_dtype}; it must be numeric"
        )
    return ct


class _Inputs:
    """The traced leaves of the differentiated positional arguments."""

    def __init__(self, trace, args: Sequence, argnums: Sequence[int], tangents=None):
        self.args = list(args)
        self.parts = []
        for k, i in enumerate(argnums):
            leaves, rebuild = flatten(args[i])
            refuse_subclasses(leaves)
            tleaves = flatten(tangents[k])[0] if tangents is not None else None
            boxed, keys = [], []
            for j, x in enumerate(leaves):
                if _differentiable(x):
                    if tleaves is None:
                        b = trace.new(_as_value(x))
                    else:
                        b = trace.new(_as_value(x), _tangent_value(tleaves[j], x))
                    if isinstance(x, np.ndarray) and not x.flags.writeable:
                        mark_read_only(b)  # NumPy refuses writes into it; so do we
                    elif _weak_number(x) and type(b) is TracedArray:
                        b.__class__ = TracedWeak  # NumPy promotes it as a Python number
                    boxed.append(b)
                    keys.append(b._aux)
                else:
                    boxed.append(x)
                    keys.append(None)
            self.args[i] = rebuild(boxed)
            self.parts.append((leaves, keys, rebuild))


def _tangent_value(t: Any, x: Any) -> Any:
    if t is None:
        return None
    t = _as_value(t)
    if np.iscomplexobj(t) and not np.iscomplexobj(x):
        raise TypeError("jvp: a complex tangent for a real primal (its imaginary part would be dropped); "
                        "make the primal complex, or pass the tangent's real part")
    return R.fit(t, np.shape(x), np.result_type(x)) if hasattr(t, "shape") else t


def _unwrap(o: Any, trace) -> Any:
    if not (isinstance(o, Tracer) and o._trace is trace):
        return o
    v = o._value
    return v.item() if type(o) is TracedWeak and isinstance(v, np.generic) else v  # a Python number


# ---------------------------------------------------------------- reverse mode


def _pullback(f: Callable, args: tuple, kwargs: dict, argnums: Sequence[int], has_aux=False):
    trace = ReverseTrace()
    try:
        inputs = _Inputs(trace, args, argnums)
        out = f(*inputs.args, **kwargs)
        aux = None
        if has_aux:
            out, aux = out
            aux = R.strip_tree(aux) if not isinstance(aux, Tracer) else _unwrap(aux, trace)
        out_leaves, out_rebuild = flatten(out)
        roots = [o._aux if isinstance(o, Tracer) and o._trace is trace else None for o in out_leaves]
        value = out_rebuild([_unwrap(o, trace) for o in out_leaves])
        keys = [k for _, ks, _ in inputs.parts for k in ks]
    finally:  # back() needs only the tape; a tracer that escaped f now raises when used
        trace.finish()  # (an error ends the differentiation too)

    def back(cotangent: Any) -> tuple:
        seeds = flatten(cotangent)[0]
        if len(seeds) != len(out_leaves):
            raise ValueError(
                f"pullback: the cotangent has {len(seeds)} leaves, the output {len(out_leaves)}"
            )
        seeds = [_check_cotangent(s, o, i) for i, (s, o) in enumerate(zip(seeds, out_leaves))]
        owned: list = []
        grads = iter(zip(backward(roots, seeds, keys, owned), owned))
        result = []
        for leaves, ks, rebuild in inputs.parts:
            gs = [next(grads) for _ in ks]
            result.append(rebuild([_finish(g, x, o) if k is not None else None
                                   for (g, o), x, k in zip(gs, leaves, ks)]))
        return tuple(result)

    return value, back, aux


def _scalar_seed(value: Any, who: str):
    if value is None:
        raise TypeError(f"{who}: the function returned None (a missing `return`?); a gradient needs a "
                        "real scalar loss")
    if isinstance(value, (tuple, list)):
        raise TypeError(f"{who}: the function returned a {type(value).__name__} of {len(value)}; a gradient "
                        "needs one real scalar loss. To return (loss, aux), use "
                        "pullback.grad(f, has_aux=True) or pullback.value_and_grad(f, has_aux=True)")
    v = strip(value)
    if not hasattr(v, "dtype") and not isinstance(v, (float, int, complex)):
        raise TypeError(f"{who}: the function returned a {type(value).__name__}, not a real scalar")
    if np.ndim(v) != 0:
        raise TypeError(
            f"{who}: the function must return a real scalar, got an array of shape "
            f"{np.shape(v)}; use pullback.pullback or pullback.jacobian for array outputs"
        )
    dt = np.result_type(v)
    if dt.kind == "c":
        raise TypeError(
            f"{who}: the function returned a complex value; a gradient needs a real loss "
            "(take abs(), .real or abs()**2 of it)"
        )
    if dt.kind not in "f":
        raise TypeError(f"{who}: the function returned a {dt} value, which carries no gradient; a "
                        "gradient needs a real floating-point loss")
    return R.one_like(v, dt)


def value_and_gradient(f: Callable, *args: Any, **kwargs: Any) -> tuple[Any, tuple]:
    """Value of the real scalar ``f(*args, **kwargs)`` and its gradient w.r.t. every positional argument.

    Examples
    --------
    >>> import numpy as np, pullback as pb
    >>> v, (g,) = pb.value_and_gradient(lambda x: np.sum(x ** 2), np.array([1.0, 2.0]))
    >>> float(v), g
    (5.0, array([2., 4.]))
    """
    value, back, _ = _pullback(f, args, kwargs, range(len(args)))
    return value, back(_scalar_seed(value, "gradient"))


def gradient(f: Callable, *args: Any, **kwargs: Any) -> tuple:
    """Gradient of the real scalar ``f`` w.r.t. each positional argument (Zygote-style).

    Keyword arguments pass through undifferentiated. Each gradient has its
    argument's structure and dtype; non-differentiable arguments (integer or
    bool arrays, strings, None) get ``None``. For complex ``z = x + iy`` the
    gradient is ``dL/dx + i dL/dy``.

    Examples
    --------
    >>> import numpy as np, pullback as pb
    >>> x = np.array([1.0, 2.0, 3.0])
    >>> pb.gradient(lambda x: abs(np.sum(np.fft.fft(x))), x)[0]  # sum(fft(x)) = 3 * x[0]
    array([3., 0., 0.])
    """
    return value_and_gradient(f, *args, **kwargs)[1]


def pullback(f: Callable, *args: Any, **kwargs: Any) -> tuple[Any, Callable]:
    """Value of ``f(*args, **kwargs)`` and ``back``, mapping an output cotangent to input cotangents.

    ``back(cotangent)`` returns a tuple with one entry per positional
    argument and may be called any number of times. For a C-linear
    ``f(x) = A x``, ``back(g) == A^H g``.

    Examples
    --------
    >>> import numpy as np, pullback as pb
    >>> y, back = pb.pullback(lambda x: 3.0 * x, np.ones(2))
    >>> back(np.array([1.0, 2.0]))
    (array([3., 6.]),)
    """
    value, back, _ = _pullback(f, args, kwargs, range(len(args)))
    return value, back


def _argnums(argnums) -> tuple[tuple, bool]:
    if isinstance(argnums, (int, np.integer)) and not isinstance(argnums, bool):
        return (int(argnums),), True
    try:
        nums = tuple(argnums)
    except TypeError:
        nums = None
    if nums is None or not all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in nums):
        raise TypeError(f"argnums must be an int or a sequence of ints, got {argnums!r}")
    return tuple(int(i) for i in nums), False


def _resolve_argnums(nums: tuple, n: int) -> tuple:
    """``nums`` with negative entries counted from the end (as in JAX), checked against the ``n``
    positional arguments of the call."""
    out = []
    for i in nums:
        if not -n <= i < n:
            raise TypeError(
                f"differentiating with respect to argnums={nums if len(nums) > 1 else nums[0]} "
                f"requires at least {i + 1 if i >= 0 else -i} positional arguments to be passed "
                f"by the caller, but got only {n} positional arguments"
            )
        out.append(i % n)
    return tuple(out)


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """Transform ``f`` into a function returning ``(value, gradient)`` (JAX-style).

    With ``has_aux=True``, ``f`` returns ``(loss, aux)`` and the transformed
    function returns ``((loss, aux), gradient)``. As in JAX, a negative entry of
    ``argnums`` counts from the end of the positional arguments, one beyond them
    raises a TypeError, and an argument named twice gets its gradient twice (two
    separate arrays).

    Examples
    --------
    >>> import numpy as np, pullback as pb
    >>> value, g = pb.value_and_grad(lambda x, y: x * y, argnums=1)(2.0, 3.0)
    >>> float(value), g
    (6.0, 2.0)
    """
    nums, single = _argnums(argnums)

    @functools.wraps(f)
    def value_and_grad_f(*args, **kwargs):
        wanted = _resolve_argnums(nums, len(args))
        distinct = tuple(dict.fromkeys(wanted))  # an argument named twice is differentiated once
        value, back, aux = _pullback(f, args, kwargs, distinct, has_aux)
        grads = back(_scalar_seed(value, "grad"))
        if single:
            grads = grads[0]
        elif distinct != wanted:  # as JAX: its gradient in each place asked, each a copy of its own
            first = dict(zip(distinct, grads))
            grads = tuple(first.pop(i) if i in first else _copy_tree(grads[distinct.index(i)])
                          for i in wanted)
        return ((value, aux) if has_aux else value), grads

    return value_and_grad_f


def _copy_tree(g: Any) -> Any:
    leaves, rebuild = flatten(g)
    return rebuild([x.copy() if isinstance(x, np.ndarray) else x for x in leaves])


def grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """Transform ``f`` into a function returning its gradient (JAX/autograd-style).

    Examples
    --------
    >>> import numpy as np, pullback as pb
    >>> df = pb.grad(lambda x: np.sum(np.sin(x)))
    >>> df(np.zeros(2))
    array([1., 1.])
    """
    vg = value_and_grad(f, argnums, has_aux)

    @functools.wraps(f)
    def grad_f(*args, **kwargs):
        (value, grads) = vg(*args, **kwargs)
        return (grads, value[1]) if has_aux else grads

    return grad_f


def stop_gradient(x: Any) -> Any:
    """``x`` as a constant: no gradient flows through it, at any nesting level.

    Examples
    --------
    >>> import numpy as np, pullback as pb
    >>> pb.gradient(lambda x: x * pb.stop_gradient(x), 3.0)
    (3.0,)
    """
    return R.strip_tree(x)


# ---------------------------------------------------------------- forward mode


def jvp(f: Callable, primals: Sequence, tangents: Sequence) -> tuple[Any, Any]:
    """Value and directional derivative (Jacobian-vector product) of ``f`` at ``primals``.

    ``tangents`` has the structure of ``primals``. Uses forward mode (dual
    numbers); nests with reverse mode in either order.

    Examples
    --------
    >>> import numpy as np, pullback as pb
    >>> value, tangent = pb.jvp(np.sin, (0.0,), (2.0,))
    >>> float(value), float(tangent)
    (0.0, 2.0)
    """
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError("jvp: primals and tangents must have the same length")
    trace = ForwardTrace()
    try:
        inputs = _Inputs(trace, primals, range(len(primals)), tangents)
        out = f(*inputs.args)
        leaves, rebuild = flatten(out)
        values, touts = [], []
        for o in leaves:
            if isinstance(o, Tracer) and o._trace is trace:
                values.append(_unwrap(o, trace))  # a weak number's value is a Python number
                t = o._aux
                touts.append(np.zeros_like(strip(o._value)) if t is None else match_chunks(t, o._value))
            else:
                values.append(o)
                touts.append(np.zeros_like(strip(_as_value(o))))
    finally:
        trace.finish()  # (an error ends the differentiation too)
    return rebuild(values), rebuild(touts)


def _host(x: Any) -> Any:
    """``x`` as a NumPy array where it converts (lists, scalars, Dask), else as it is (CuPy,
    which refuses implicit conversion: its Jacobians and Hessians stay on the GPU)."""
    try:
        return np.asarray(x)
    except TypeError:
        return x


def _unit_tangents(xs: list, k: int):
    """Tangents for every argument: zero except one real unit entry of argument ``k``, in turn."""
    x = xs[k]
    for j in range(x.size):
        e = np.zeros_like(x, shape=(x.size,))  # of x's array type
        e[j] = 1
        tangents = [np.zeros_like(a) for a in xs]
        tangents[k] = e.reshape(x.shape)
        yield tangents


def _flat(v: Any) -> Any:
    """``v`` raveled, keeping any outer trace (so a Jacobian nested in a derivative stays traced)."""
    return np.reshape(_as_value(v), (-1,))


def _assemble(cols: list, out_shape: tuple, in_shape: tuple, dtype) -> Any:
    """Stack flat columns (or, with ``in_shape`` first, rows) into ``out_shape + in_shape``."""
    if not cols:
        return np.zeros(out_shape + in_shape, dtype=dtype)
    return np.reshape(np.stack(cols, axis=-1), out_shape + in_shape)


def jacobian(f: Callable, *args: Any, mode: str | None = None) -> Any:
    """Dense Jacobian of ``f`` with respect to each positional argument.

    ``J[out_index + in_index] = d f[out_index] / d Re(x[in_index])``: the
    derivative along the real direction of each input entry. For a
    holomorphic or C-linear ``f`` this is the complex derivative (for a
    C-linear FFT it is the transform's matrix); for a real ``f`` of a complex
    input it is real. Forward mode is used when the inputs have fewer real
    coordinates than the outputs, reverse otherwise; ``mode="forward"`` or
    ``"reverse"`` forces one. Nested inside another derivative (``jacobian``
    of a ``jacobian``, a gradient of a Hessian) the result stays traced.

    Returns an array for one argument, else a tuple with one per argument; for a function that
    returns a tuple or list, one such result per output.

    Examples
    --------
    >>> import numpy as np, pullback as pb
    >>> pb.jacobian(lambda x: x ** 2, np.array([1.0, 3.0]))
    array([[2., 0.],
           [0., 6.]])
    """
    if mode not in (None, "forward", "reverse"):
        raise ValueError(f"jacobian: mode must be None, 'forward' or 'reverse', got {mode!r}")
    xs = [_host(_as_value(strip(a))) for a in args]
    if mode == "reverse":
        value, back = pullback(f, *args)
    else:
        value, back = f(*args), None
    if isinstance(value, (tuple, list)):  # one Jacobian per output, as JAX's (its structure kept)
        return type(value)(jacobian(lambda *a, i=i: f(*a)[i], *args, mode=mode) for i in range(len(value)))
    y = _host(strip(value))
    if mode is None:
        n_in = sum(x.size * (2 if x.dtype.kind == "c" else 1) for x in xs)
        n_out = y.size * (2 if y.dtype.kind == "c" else 1)
        mode = "forward" if n_in <= n_out else "reverse"
        if mode == "reverse":
            value, back = pullback(f, *args)
    real_in = [np.zeros((), x.dtype).real.dtype for x in xs]
    dtype = np.result_type(y.dtype, *real_in) if y.dtype.kind in "fc" else np.result_type(*real_in)
    jacs = []
    if mode == "forward":
        for k, x in enumerate(xs):
            cols = [_flat(jvp(f, args, ts)[1]) for ts in _unit_tangents(xs, k)]
            jacs.append(_assemble(cols, y.shape, x.shape, dtype))
    else:
        rows: list[list] = [[] for _ in xs]
        for i in range(y.size):
            e = np.zeros_like(y, shape=(y.size,), dtype=y.dtype if y.dtype.kind in "fc" else dtype)
            e[i] = 1
            cts = back(e.reshape(y.shape))
            if y.dtype.kind == "c":
                e[i] = 1j
                cts_i = back(e.reshape(y.shape))
            for k in range(len(xs)):
                row = np.real(_flat(cts[k]))
                if y.dtype.kind == "c":
                    row = row + 1j * np.real(_flat(cts_i[k]))
                rows[k].append(row)
        for k, x in enumerate(xs):
            J = _assemble(rows[k], x.shape, y.shape, dtype)  # J^T: in_shape + out_shape
            jacs.append(np.transpose(J, tuple(range(x.ndim, J.ndim)) + tuple(range(x.ndim))))
    return jacs[0] if len(args) == 1 else tuple(jacs)


def hvp(f: Callable, primals: Sequence, tangents: Sequence) -> tuple:
    """Hessian-vector product of the real scalar ``f``, forward-over-reverse.

    Returns one entry per positional argument: ``H @ v`` for the tangents ``v``.

    Examples
    --------
    >>> import numpy as np, pullback as pb
    >>> pb.hvp(lambda x: np.sum(x ** 3), (np.array([1.0, 2.0]),), (np.array([1.0, 0.0]),))
    (array([6., 0.]),)
    """
    hv = jvp(lambda *a: gradient(f, *a), primals, tangents)[1]
    return tuple(match_chunks(h, p) for h, p in zip(hv, primals))


def hessian(f: Callable, *args: Any) -> Any:
    """Dense Hessian of the real scalar ``f``, computed forward-over-reverse.

    For one argument of shape S the result has shape S + S; for several it is
    a tuple of tuples ``H[i][j]`` of shape ``S_i + S_j`` (the derivative of the
    gradient w.r.t. argument i along the real coordinates of argument j).
    One forward pass over the gradient per input coordinate gives a column of
    every block at once.

    Examples
    --------
    >>> import numpy as np, pullback as pb
    >>> pb.hessian(lambda x: x[0] ** 2 * x[1], np.array([1.0, 2.0]))
    array([[4., 2.],
           [2., 0.]])
    """
    xs = [_host(_as_value(strip(a))) for a in args]
    diff = [_differentiable(x) for x in xs]  # (an integer argument's blocks are None, as its gradient)

    def grad_f(*a):
        return gradient(f, *a)

    blocks = [[None] * len(xs) for _ in xs]
    for j, x in enumerate(xs):
        if not diff[j]:
            continue
        cols: list[list] = [[] for _ in xs]
        for ts in _unit_tangents(xs, j):
            touts = jvp(grad_f, args, ts)[1]
            for i in range(len(xs)):
                if diff[i]:
                    cols[i].append(_flat(touts[i]))
        for i, xi in enumerate(xs):
            if diff[i]:
                blocks[i][j] = _assemble(cols[i], xi.shape, x.shape, xi.dtype)
    if len(args) == 1:
        return blocks[0][0]
    return tuple(tuple(row) for row in blocks)


# ---------------------------------------------------------------- checkpointing


def _top_level(leaves: list) -> int | None:
    levels = [v._trace.level for v in leaves if isinstance(v, Tracer)]
    return max(levels) if levels else None


class _CheckpointCall:
    """One call of a checkpointed function: how to rebuild its arguments and its output.

    The primitive sees only flat leaves (positional and keyword arguments,
    nested containers included), so every traced value is a positional input
    of the primitive, and a single (packed) array as output.
    """

    __slots__ = ("f", "rebuild_in", "level", "out")

    def __init__(self, f: Callable, rebuild_in: Callable, level: int) -> None:
        self.f = f
        self.rebuild_in = rebuild_in
        self.level = level
        self.out = None  # (rebuild, [(shape, dtype) or ("const", value)]) when the output is not one array

    def run(self, *leaves: Any) -> Any:
        args, kwargs = self.rebuild_in(list(leaves))
        out = self.f(*args, **kwargs)
        out_leaves, rebuild = flatten(out)
        if len(out_leaves) == 1 and out_leaves[0] is out and hasattr(out, "dtype"):
            return out
        # several outputs (or a Python scalar): pack the inexact ones into one flat array
        specs, parts = [], []
        for o in out_leaves:
            if _differentiable(o):
                o = _as_value(o)
                specs.append((o.shape, o.dtype))
                parts.append(o)
            else:
                specs.append(("const", o))
        self.out = (rebuild, specs)
        if not parts:
            return np.zeros(0)
        dtype = np.result_type(*[p.dtype for p in parts])
        return np.concatenate([np.reshape(p, (-1,)).astype(dtype) for p in parts])

    def value(self, *leaves: Any) -> Any:
        """``f``'s (packed) value, computed by the same rules, and so the same transform engine, as
        the recomputation in the backward pass, under a forward trace with zero tangents: every
        traced value is dropped as soon as it is used, so nothing is kept."""
        trace = ForwardTrace()
        try:
            out = self.run(*[trace.new(_as_value(v)) if _differentiable(v) else v for v in leaves])
            return _unwrap(out, trace)
        finally:
            trace.finish()

    def check(self, value: Any) -> Any:
        """``value`` (computed at this level) must not be traced at this level or above."""
        if isinstance(value, Tracer) and value._trace.level >= self.level:
            raise TypeError(
                f"pullback.checkpoint({getattr(self.f, '__name__', 'f')}): the function uses a "
                "value being differentiated that is not one of its arguments (a closure over a "
                "traced variable), so its gradient would be lost; pass that value as an argument"
            )
        return value

    def unpack(self, packed: Any) -> Any:
        if self.out is None:
            return packed
        rebuild, specs = self.out
        values, start = [], 0
        for spec in specs:
            if spec[0] == "const":
                values.append(spec[1])
                continue
            shape, dtype = spec
            n = int(np.prod(shape))
            piece = np.reshape(packed[start : start + n], shape)
            start += n
            if piece.dtype.kind == "c" and dtype.kind != "c":
                piece = np.real(piece)
            if piece.dtype != dtype:
                piece = piece.astype(dtype)
            values.append(piece)
        return rebuild(values)


def _checkpoint_rule(*leaves: Any, _call: _CheckpointCall):
    value = _call.check(_call.value(*leaves))

    def checkpoint_back(g):
        _, back = pullback(_call.run, *leaves)
        return back(g)

    return value, checkpoint_back


def _checkpoint_tangent(vals: list, tangents: list, _call: _CheckpointCall):
    value, tangent = jvp(_call.run, vals, tangents)  # a None tangent is a structural zero
    return _call.check(value), tangent


def _checkpoint_raw(*leaves: Any, _call: _CheckpointCall):
    return _call.run(*leaves)


def checkpoint(f: Callable) -> Callable:
    """Wrap ``f`` so reverse mode stores only its inputs and recomputes the rest.

    The forward pass runs ``f`` keeping no intermediates (through pullback's
    rules, so with the same FFT engine as the recomputation); the backward
    pass runs it again under a pullback. Forward mode is unaffected. Traced
    values may be passed positionally, by keyword or inside containers, and
    ``f`` may return a container of arrays; a value being differentiated must
    reach ``f`` as an argument, not through a closure (that raises a TypeError).

    Examples
    --------
    >>> import numpy as np, pullback as pb
    >>> block = pb.checkpoint(lambda x: np.tanh(np.fft.irfft(np.fft.rfft(x))))
    >>> pb.gradient(lambda x: np.sum(block(x)), np.zeros(4))[0]
    array([1., 1., 1., 1.])
    """
    prim = R.UserRule(
        _checkpoint_raw, f"checkpoint({getattr(f, '__name__', 'f')})", _checkpoint_rule, _checkpoint_tangent
    )

    @functools.wraps(f)
    def checkpointed(*args, **kwargs):
        leaves, rebuild_in = flatten((args, kwargs))
        level = _top_level(leaves)
        if level is None:
            return f(*args, **kwargs)
        call = _CheckpointCall(f, rebuild_in, level)
        return call.unpack(prim(*leaves, _call=call))

    return checkpointed


# ---------------------------------------------------------------- extension


def adjoint(func: Any, tangent: Callable | None = None) -> Callable:
    """Register a reverse rule for an existing function (NumPy, SciPy or any library's).

    The decorated rule has ``func``'s signature and returns ``(value, back)``;
    ``back(g)`` returns one cotangent per positional argument (``None`` for a
    non-differentiable one). ``g`` is an ordinary array. Forward mode uses
    ``tangent(primals, tangents, **kwargs) -> (value, tangent_out)`` if given,
    otherwise it is derived by transposing ``back``.

    A NumPy function, ufunc or ``scipy.fft`` function is dispatched to the
    rule by NumPy's protocols. Any other Python function (most of SciPy, or
    another library's) is intercepted (:mod:`pullback.intercept`): its calls
    with a traced argument go to the rule, under every name that reaches it
    (``from lib import func`` included, before or after registering), and its
    plain calls are unchanged.

    Examples
    --------
    >>> import numpy as np, pullback as pb
    >>> import scipy.special
    >>> @pb.adjoint(np.i0)
    ... def i0_rule(x):
    ...     return np.i0(x), lambda g: (g * scipy.special.i1(x),)
    >>> pb.gradient(lambda x: np.sum(np.i0(x)), np.array([0.0, 1.0]))[0]
    array([0.       , 0.5651591])
    """

    def register(rule: Callable) -> Callable:
        name = R._name(func)
        prim = R.UserRule(func, name, rule, tangent)
        R.register(func, prim, "user")
        if not _dispatched(func):
            intercept(func, prim)
        return rule

    return register


def _dispatched(func: Any) -> bool:
    """Whether NumPy (or our scipy.fft backend) routes calls of ``func`` on traced values to us."""
    mod = getattr(func, "__module__", "") or ""
    return isinstance(func, np.ufunc) or hasattr(func, "_implementation") or mod.startswith("scipy.fft")


def custom_adjoint(f: Callable) -> Callable:
    """Give your own function its adjoint, Zygote-style.

    ``f`` returns ``(value, back)``. Calling the decorated function returns
    just the value, and records ``back`` when an argument is traced.

    Examples
    --------
    >>> import numpy as np, pullback as pb
    >>> @pb.custom_adjoint
    ... def my_fft(x):
    ...     return np.fft.fft(x), lambda g: (len(g) * np.fft.ifft(g),)
    >>> pb.gradient(lambda x: abs(np.sum(my_fft(x))), np.array([1.0, 2.0, 3.0]))[0]
    array([3., 0., 0.])
    """
    prim = R.UserRule(lambda *a, **k: f(*a, **k)[0], getattr(f, "__name__", "custom"), f)

    @functools.wraps(f)
    def custom(*args, **kwargs):
        return prim(*args, **kwargs)

    custom.primitive = prim
    return custom


def nondifferentiable(func: Any) -> Any:
    """Declare that ``func``'s output carries no gradient (shape queries, argmax, ...).

    Examples
    --------
    It can decorate your own function too: traced calls then run it on the plain values.

    >>> import numpy as np, pullback as pb
    >>> _ = pb.nondifferentiable(np.round)
    >>> @pb.nondifferentiable
    ... def count_peaks(x):
    ...     return int(np.sum(np.diff(np.sign(np.diff(np.asarray(x)))) < 0))
    >>> pb.gradient(lambda x: count_peaks(x) * np.sum(x), np.array([0.0, 1.0, 0.0]))[0]
    array([1., 1., 1.])
    """
    R.defnondiff(func)
    if not _dispatched(func):
        intercept(func, R.FUNCTIONS[func])
    return func
