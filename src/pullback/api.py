"""The user-facing API: gradients, pullbacks, forward mode and extension hooks."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .core import ForwardTrace, ReverseTrace, Tracer, backward, strip
from .rules import registry as R
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
    return np.dtype(dt).kind in "fc"


def _as_value(x: Any) -> Any:
    return np.asarray(x) if isinstance(x, (float, complex)) else x


def _finish(g: Any, x: Any) -> Any:
    """Give a leaf's cotangent the leaf's own type (Python float in, float out)."""
    if g is None:
        g = np.zeros_like(strip(_as_value(x)))
    if isinstance(g, Tracer):
        return g
    if isinstance(x, (float, complex)):
        return type(x)(g)
    if isinstance(x, np.generic):
        return x.dtype.type(g)
    if isinstance(g, np.ndarray) and not g.flags.writeable:
        g = g.copy()  # a broadcast view (the gradient of sum): hand back an array the caller owns
    elif isinstance(g, np.generic) and isinstance(x, np.ndarray):
        g = np.asarray(g)
    return g


class _Inputs:
    """The traced leaves of the differentiated positional arguments."""

    def __init__(self, trace, args: Sequence, argnums: Sequence[int], tangents=None):
        self.args = list(args)
        self.parts = []
        for k, i in enumerate(argnums):
            leaves, rebuild = flatten(args[i])
            tleaves = flatten(tangents[k])[0] if tangents is not None else None
            boxed, keys = [], []
            for j, x in enumerate(leaves):
                if _differentiable(x):
                    if tleaves is None:
                        b = trace.new(_as_value(x))
                    else:
                        b = trace.new(_as_value(x), _tangent_value(tleaves[j], x))
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
    return R.fit(t, np.shape(x), np.result_type(x)) if hasattr(t, "shape") else t


def _unwrap(o: Any, trace) -> Any:
    return o._value if isinstance(o, Tracer) and o._trace is trace else o


# ---------------------------------------------------------------- reverse mode


def _pullback(f: Callable, args: tuple, kwargs: dict, argnums: Sequence[int], has_aux=False):
    trace = ReverseTrace()
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

    def back(cotangent: Any) -> tuple:
        seeds = flatten(cotangent)[0]
        if len(seeds) != len(out_leaves):
            raise ValueError(
                f"pullback: the cotangent has {len(seeds)} leaves, the output {len(out_leaves)}"
            )
        seeds = [None if s is None else _as_value(s) for s in seeds]
        grads = iter(backward(roots, seeds, keys))
        result = []
        for leaves, ks, rebuild in inputs.parts:
            gs = [next(grads) for _ in ks]
            result.append(
                rebuild([_finish(g, x) if k is not None else None for g, x, k in zip(gs, leaves, ks)])
            )
        return tuple(result)

    return value, back, aux


def _scalar_seed(value: Any, who: str):
    v = strip(value)
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
        dt = np.dtype(float)
    return np.ones((), dtype=dt)


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
    if isinstance(argnums, int):
        return (argnums,), True
    return tuple(argnums), False


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """Transform ``f`` into a function returning ``(value, gradient)`` (JAX-style).

    With ``has_aux=True``, ``f`` returns ``(loss, aux)`` and the transformed
    function returns ``((loss, aux), gradient)``.

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
        value, back, aux = _pullback(f, args, kwargs, nums, has_aux)
        grads = back(_scalar_seed(value, "grad"))
        grads = grads[0] if single else grads
        return ((value, aux) if has_aux else value), grads

    return value_and_grad_f


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


def _transpose_linear(dot_back: Callable, like: Any) -> Any:
    """Gradient of the real, linear-in-``g`` function ``dot_back`` (used to transpose a pullback)."""
    trace = ReverseTrace()
    g = trace.new(np.zeros_like(strip(like)))
    out = dot_back(g)
    if not (isinstance(out, Tracer) and out._trace is trace):
        return None
    return backward([out._aux], [np.ones((), dtype=np.result_type(strip(out)))], [g._aux])[0]


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
    inputs = _Inputs(trace, primals, range(len(primals)), tangents)
    out = f(*inputs.args)
    leaves, rebuild = flatten(out)
    values, touts = [], []
    for o in leaves:
        if isinstance(o, Tracer) and o._trace is trace:
            values.append(o._value)
            t = o._aux
            touts.append(np.zeros_like(strip(o._value)) if t is None else t)
        else:
            values.append(o)
            touts.append(np.zeros_like(strip(_as_value(o))))
    return rebuild(values), rebuild(touts)


def _real_basis(x: np.ndarray):
    """Unit directions of the real coordinates of ``x`` (and i times them if complex)."""
    x = np.asarray(x)
    flat = np.zeros(x.size, dtype=x.dtype)
    units = [1.0, 1j] if x.dtype.kind == "c" else [1.0]
    for u in units:
        for j in range(x.size):
            flat[:] = 0
            flat[j] = u
            yield flat.reshape(x.shape).copy()


def jacobian(f: Callable, *args: Any, mode: str | None = None) -> Any:
    """Dense Jacobian of ``f`` with respect to each positional argument.

    ``J[out_index + in_index] = d f[out_index] / d Re(x[in_index])``: the
    derivative along the real direction of each input entry. For a
    holomorphic or C-linear ``f`` this is the complex derivative (for a
    C-linear FFT it is the transform's matrix). Forward mode is used when the
    inputs have fewer real coordinates than the outputs, reverse otherwise;
    ``mode="forward"`` or ``"reverse"`` forces one.

    Returns an array for one argument, else a tuple with one per argument.

    Examples
    --------
    >>> import numpy as np, pullback as pb
    >>> pb.jacobian(lambda x: x ** 2, np.array([1.0, 3.0]))
    array([[2., 0.],
           [0., 6.]])
    """
    xs = [np.asarray(_as_value(strip(a))) for a in args]
    y0 = f(*args)
    y = np.asarray(strip(y0))
    n_in = sum(x.size for x in xs)
    n_out = y.size * (2 if y.dtype.kind == "c" else 1)
    if mode is None:
        mode = "forward" if n_in <= n_out else "reverse"
    out_dtype = np.result_type(y.dtype, *[x.dtype for x in xs])
    jacs = []
    for k, x in enumerate(xs):
        J = np.zeros(y.shape + x.shape, dtype=out_dtype)
        Jf = J.reshape(y.size, x.size)
        if mode == "forward":
            for j in range(x.size):
                e = np.zeros(x.size, dtype=x.dtype)
                e[j] = 1
                tangents = [np.zeros_like(a) for a in xs]
                tangents[k] = e.reshape(x.shape)
                Jf[:, j] = np.asarray(strip(jvp(f, args, tangents)[1])).ravel()
        else:
            _, back = pullback(f, *args)
            for i in range(y.size):
                e = np.zeros(y.size, dtype=y.dtype)
                e[i] = 1
                row = np.real(np.asarray(back(e.reshape(y.shape))[k])).ravel()
                if y.dtype.kind == "c":
                    e[i] = 1j
                    row = row + 1j * np.real(np.asarray(back(e.reshape(y.shape))[k])).ravel()
                Jf[i, :] = row
        jacs.append(J)
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
    return jvp(lambda *a: gradient(f, *a), primals, tangents)[1]


def hessian(f: Callable, *args: Any) -> Any:
    """Dense Hessian of the real scalar ``f``, computed forward-over-reverse.

    For one argument of shape S the result has shape S + S; for several it is
    a tuple of tuples ``H[i][j]``.

    Examples
    --------
    >>> import numpy as np, pullback as pb
    >>> pb.hessian(lambda x: x[0] ** 2 * x[1], np.array([1.0, 2.0]))
    array([[4., 2.],
           [2., 0.]])
    """
    if len(args) == 1:
        return jacobian(lambda *a: gradient(f, *a)[0], *args, mode="forward")
    return tuple(
        jacobian(lambda *a, i=i: gradient(f, *a)[i], *args, mode="forward") for i in range(len(args))
    )


# ---------------------------------------------------------------- checkpointing


def checkpoint(f: Callable) -> Callable:
    """Wrap ``f`` so reverse mode stores only its inputs and recomputes the rest.

    The forward pass runs ``f`` untraced (no intermediates kept); the backward
    pass runs it again under a pullback. Forward mode is unaffected.

    Examples
    --------
    >>> import numpy as np, pullback as pb
    >>> block = pb.checkpoint(lambda x: np.tanh(np.fft.irfft(np.fft.rfft(x))))
    >>> pb.gradient(lambda x: np.sum(block(x)), np.zeros(4))[0]
    array([1., 1., 1., 1.])
    """

    def rule(*args, **kwargs):
        value = f(*args, **kwargs)

        def checkpoint_back(g):
            _, back = pullback(f, *args, **kwargs)
            return back(g)

        return value, checkpoint_back

    def tangent_rule(vals, tangents, **kwargs):
        ts = [np.zeros_like(strip(v)) if t is None else t for v, t in zip(vals, tangents)]
        return jvp(lambda *a: f(*a, **kwargs), vals, ts)

    prim = R.UserRule(f, f"checkpoint({getattr(f, '__name__', 'f')})", rule, tangent_rule)

    @functools.wraps(f)
    def checkpointed(*args, **kwargs):
        return prim(*args, **kwargs)

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
    rule automatically. A plain Python function of another library cannot be
    intercepted by NumPy's protocols: its attribute on its module is replaced
    by a version that uses the rule, so call it through its module
    (``lib.func(x)``), not through a name imported before registration.

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
            _patch_module_attribute(func, prim)
        return rule

    return register


def _dispatched(func: Any) -> bool:
    """Whether NumPy (or our scipy.fft backend) routes calls of ``func`` on traced values to us."""
    mod = getattr(func, "__module__", "") or ""
    return isinstance(func, np.ufunc) or hasattr(func, "_implementation") or mod.startswith("scipy.fft")


def _patch_module_attribute(func: Any, prim: Any) -> None:
    """A plain Python function is not dispatched by NumPy: route its module attribute through the rule."""
    import sys

    mod = sys.modules.get(getattr(func, "__module__", None) or "")
    name = getattr(func, "__name__", None)
    if mod is None or name is None or getattr(mod, name, None) is not func:
        return

    @functools.wraps(func)
    def with_rule(*args, **kwargs):
        return prim(*args, **kwargs)

    with_rule.__pullback_original__ = func
    R.FUNCTIONS[with_rule] = prim
    setattr(mod, name, with_rule)


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
    >>> import numpy as np, pullback as pb
    >>> _ = pb.nondifferentiable(np.round)
    """
    R.defnondiff(func)
    return func
