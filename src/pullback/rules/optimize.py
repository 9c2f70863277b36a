"""Rules: ``scipy.optimize`` solvers, differentiated by the implicit function theorem.

A root finder returns ``x*`` with ``F(x*, theta) = 0``; a minimiser returns ``x*`` with
``grad_x f(x*, theta) = 0``, where ``theta`` is whatever the user's function receives in
``args`` or closes over. SciPy's solver runs on plain values (the function's results stripped of
their traces, see :class:`~pullback.rules.callables.Watch`), and the solution is then attached
to ``theta`` by Newton steps taken on traced values from ``x*``::

    x_{k+1} = x_k - J(x_k, theta)^{-1} (F(x_k, theta) - F0),    F0 = F(x*, theta0) (plain)

Each step's value is ``x*`` bit for bit (the residual is exactly zero there), so the traced
solution is SciPy's own. Its derivatives are those of the solution of ``F(x, theta) = F0``: the
exact implicit derivatives ``dx/dtheta = -J^{-1} dF/dtheta`` of SciPy's root (``F0`` is the
solver's residual at ``x*``, at most its tolerance). Newton's method converges quadratically, so
``k`` steps give every derivative up to order ``2^k - 1`` exactly: one step (with ``J`` a
constant) under a single differentiation, more under nested ones (Hessians, higher orders).
Forward mode, reverse mode and any order come from the same NumPy code; what ``theta`` is never
needs to be known. This is the derivative JAX's ``custom_root`` and jaxopt give, and it does not
depend on the solver's path: differentiating through the iterations instead is wrong for
bracketing and derivative-free methods (``golden``'s iterates depend on ``theta`` only through
comparisons, so its derivative would be zero).

``J`` is the function's Jacobian (``pullback.jacobian``), dense: systems of up to
:data:`MAX_DENSE` unknowns; elementwise problems (scalar root finders, ``newton`` of an array,
checked to be elementwise) use its diagonal. This module has the root finders;
:mod:`~pullback.rules.optimize_min` the minimisers, where ``F`` is the objective's gradient and
``J`` its Hessian, with bounds.

Errors rather than a wrong derivative (:class:`~pullback.NoRuleError`): a singular or nearly
singular Jacobian (a double root of a system, a rank-deficient fit, a valley of minima: condition
number above :data:`MAX_CONDITION` once rows and columns are scaled), a scalar function whose
derivative is zero at its root, and complex unknowns. A solve that SciPy reports as not converged
is differentiated with a ``RuntimeWarning``. Near a multiple root of a scalar function, where the
true derivative grows without bound, the derivative is that at SciPy's approximate root (large,
not infinite).
"""

from __future__ import annotations

import inspect
import math
import warnings

import numpy as np
import scipy.optimize as O

from ..core import Tracer, depth, strip
from ..errors import NoRuleError
from ..intercept import intercept, original
from .callables import Watch, intercept_always
from .registry import any_traced, like_value, strip_tree

#: Largest number of unknowns for which the Jacobian is formed densely.
MAX_DENSE = 4096
#: Largest condition number (of the Jacobian with its rows and columns scaled to unit size) for
#: which the implicit derivative is computed: beyond it the solution is not locally unique.
MAX_CONDITION = 1e13

ORIGINALS: dict[str, object] = {}


def _api():
    from .. import api

    return api


# ---------------------------------------------------------------- the implicit solution


def newton_steps() -> int:
    """Newton steps that make every derivative asked for now exact: ``2^k - 1 >= depth()``."""
    d = depth()
    return 1 if d <= 1 else math.ceil(math.log2(d + 1))


def _jacobian(F, x, elementwise):
    api = _api()
    plain = strip(x)
    if elementwise:
        ones = np.ones_like(plain) if isinstance(plain, np.ndarray) else 1.0
        return api.jvp(F, (x,), (ones,))[1]
    n = np.size(plain)
    return np.reshape(api.jacobian(F, x), (-1, n))


def _scaled_condition(J):
    """The condition number of ``J`` with its rows and columns scaled to unit largest entry: a
    badly scaled but well-posed system (parameters of very different sizes) is not singular."""
    A = np.abs(J)
    rows = np.max(A, axis=1, keepdims=True)
    if np.any(rows == 0):
        return np.inf
    cols = np.max(A / rows, axis=0, keepdims=True)
    if np.any(cols == 0):
        return np.inf
    return np.linalg.cond(J / rows / cols)


def _solve(J, r, x, elementwise, what):
    Jp = strip(J)
    if elementwise:
        if np.any(Jp == 0):
            raise NoRuleError(what, "the function's derivative is zero at the solution (a multiple "
                              "root), so the solution does not depend smoothly on its parameters")
        return r / J
    if Jp.shape[0] != Jp.shape[1]:
        raise NoRuleError(what, f"the function has {Jp.shape[0]} outputs for {Jp.shape[1]} unknowns "
                                "(the implicit derivative needs as many as unknowns)")
    condition = _scaled_condition(np.asarray(Jp, dtype=float))
    if not condition <= MAX_CONDITION:
        raise NoRuleError(what, f"the Jacobian at the solution is singular or nearly so (condition "
                          f"number {condition:.1e}): the solution is not locally unique (a multiple "
                          "root, a rank-deficient fit, a valley of minima), so it has no derivative")
    step = np.linalg.solve(J, np.reshape(r, (-1,)))
    return np.reshape(step, np.shape(strip(x)))


#: Largest Newton correction from SciPy's solution, relative to ``1 + |x|``, for which it is
#: differentiated (beyond it the point is not near a solution: a solve stopped far from converging).
MAX_CORRECTION = 1e-2


def _check_determined(J, F0, x, elementwise, what):
    """Raise unless SciPy's point is a solution to within :data:`MAX_CORRECTION`: the Newton
    correction ``J^{-1} F0`` its residual ``F0`` calls for is small. (A valley of minima is not
    caught here: its gradient points across the valley, where the curvature is large.)"""
    if elementwise:
        correction = np.abs(np.asarray(F0, dtype=float) / np.asarray(J, dtype=float))
        size = 1 + np.abs(np.asarray(x, dtype=float))
    else:
        correction = np.linalg.norm(np.linalg.solve(np.asarray(J, dtype=float), np.reshape(F0, -1)))
        size = 1 + np.linalg.norm(np.asarray(x, dtype=float))
    if np.any(correction > MAX_CORRECTION * size):
        raise NoRuleError(what, "the point it returned is not near a solution: a Newton step from it "
                          f"moves it by {np.max(correction):.2g} (the solve stopped far from "
                          "converging: tighten its tolerance)")


def _arrayed(F):
    """``F`` with a list or tuple result stacked into one array (SciPy accepts both)."""
    def F_array(x):
        r = F(x)
        return np.stack(list(r)) if type(r) in (list, tuple) else r

    return F_array


def _is_elementwise(F, x):
    """Whether ``F`` acts entry by entry (its Jacobian diagonal), tried on a random direction."""
    api = _api()
    plain = np.asarray(strip(x), dtype=float)
    v = np.random.default_rng(0).uniform(0.5, 1.5, plain.shape)
    d = np.asarray(strip(api.jvp(F, (plain,), (np.ones_like(plain),))[1]))
    jv = np.asarray(strip(api.jvp(F, (plain,), (v,))[1]))
    return np.allclose(jv, d * v, rtol=1e-9, atol=1e-12 * (np.max(np.abs(d)) + 1e-300))


def implicit_root(F, x_star, *, elementwise: bool = False, what: str = "a root finder"):
    """The root ``x*`` of ``F`` (SciPy's, plain) as a function of the traced values ``F`` depends on:
    ``x*`` bit for bit, with the implicit derivatives (see the module). None when ``F`` depends on
    no traced value (the root is then a constant).

    Examples
    --------
    >>> import pullback as pb
    >>> from pullback.rules.optimize import implicit_root
    >>> def sqrt(a):  # the root of x**2 - a, found by any means, attached to a
    ...     return implicit_root(lambda x: x * x - a, 2.0, elementwise=True)
    >>> pb.gradient(sqrt, 4.0)
    (0.25,)
    """
    F = _arrayed(F)
    r0 = F(x_star)
    if not isinstance(r0, Tracer):
        return None
    F0 = strip(r0)
    if np.iscomplexobj(F0) or np.iscomplexobj(x_star):
        raise NoRuleError(what, "complex unknowns")
    if elementwise and np.size(x_star) > 1 and not _is_elementwise(F, x_star):
        elementwise = False  # SciPy assumed it (newton of an array); the function couples entries
    if not elementwise and np.size(x_star) > MAX_DENSE:
        raise NoRuleError(what, f"{np.size(x_star)} unknowns (the implicit "
                          f"derivative forms the Jacobian, up to {MAX_DENSE} unknowns)")
    dtype = np.result_type(x_star)  # the solution's precision, whatever the parameters'
    steps = newton_steps()
    x, r = x_star, r0 - F0
    for k in range(steps):
        if k:
            r = F(x) - F0
        J = _jacobian(F, x, elementwise)
        if steps == 1:
            J = strip(J)  # its derivative multiplies a zero residual
        step = _solve(J, r, x, elementwise, what)
        if k == 0:
            _check_determined(strip(J), F0, x_star, elementwise, what)
        if np.result_type(strip(step)) != dtype:
            step = step.astype(dtype)
        x = x - step
    return x


def _gradient_of(objective):
    api = _api()

    def gradient(x):
        return api.grad(objective)(x)

    return gradient


def with_derivative(plain, traced):
    """SciPy's value ``plain`` carrying the derivative of ``traced`` (the same quantity recomputed
    on traced values)."""
    if not isinstance(traced, Tracer):
        return plain
    return like_value(plain - (strip(traced) - traced), plain)  # (x - x is +0: -0.0 keeps its sign)


# ---------------------------------------------------------------- calling SciPy on plain values


def _bind(name, args, kwargs):
    raw = ORIGINALS[name]
    ba = inspect.signature(raw).bind(*args, **kwargs)
    ba.apply_defaults()
    return raw, ba


def _call(raw, ba, **replace):
    """``raw`` called with the bound arguments, some replaced, the rest stripped of traces: the
    required ones by position, the others by keyword (as SciPy's decorators expect them)."""
    arguments = dict(ba.arguments)
    arguments.update(replace)
    args, kwargs = [], {}
    for p in inspect.signature(raw).parameters.values():
        if p.name not in arguments:
            continue
        v = arguments[p.name]
        if p.name not in replace and _holds_traced(v):
            v = _plain(v)  # (untraced values are passed as they are: the same objects)
        if p.kind is p.VAR_POSITIONAL:
            args.extend(v)
        elif p.kind is p.VAR_KEYWORD:
            kwargs.update(v)
        elif p.kind is p.POSITIONAL_ONLY or (p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty):
            args.append(v)
        else:
            kwargs[p.name] = v
    return raw(*args, **kwargs)


def _holds_traced(v):
    if isinstance(v, Tracer):
        return True
    if type(v) in (tuple, list):
        return any_traced(v)
    if isinstance(v, O.Bounds):
        return isinstance(v.lb, Tracer) or isinstance(v.ub, Tracer)
    return type(v) is dict and any_traced(tuple(v.values()))


def _plain(v):
    """``v`` without its traces, for SciPy (a ``Bounds`` with traced limits: a plain copy)."""
    if isinstance(v, O.Bounds):
        return O.Bounds(strip(v.lb), strip(v.ub), v.keep_feasible)
    return strip_tree(v)


def _bounds_init(self, lb=-np.inf, ub=np.inf, keep_feasible=False):
    """``Bounds`` with traced limits: SciPy's checks on the plain values, the traced limits kept
    (the minimisers read them: a coordinate held by a traced bound follows it)."""
    def traced(b):
        b = np.stack(list(b)) if type(b) in (list, tuple) and any_traced(b) else b
        return np.atleast_1d(b)

    original(O.Bounds.__init__)(self, strip_tree(lb), strip_tree(ub), keep_feasible)
    if _holds_traced(lb):
        self.lb = traced(lb)
    if _holds_traced(ub):
        self.ub = traced(ub)


intercept(O.Bounds.__init__, _bounds_init)


def warn_unconverged(name, ok, message=""):
    """A RuntimeWarning when SciPy reports that its solve did not converge: its derivative is then
    the implicit one at the point returned, which need not be near a solution."""
    if not np.all(ok):
        why = f": {message}" if message else ""
        warnings.warn(f"pullback: scipy.optimize.{name} did not converge{why}; the derivative "
                      "taken is the implicit function theorem's at the point it returned",
                      RuntimeWarning, stacklevel=3)


def _args_tuple(args):
    return args if isinstance(args, tuple) else (args,)


def _user(f, args, arg, index=None):
    """The user's function of ``x`` alone, called as SciPy calls it (``x`` shaped like ``arg``)."""
    from .callables import shaped_like

    def F(x):
        r = f(shaped_like(x, arg), *args)
        return r if index is None else r[index]

    return _arrayed(F)


# ---------------------------------------------------------------- root finders


def _scalar_root(name):
    def rule(*a, **kw):
        raw, ba = _bind(name, a, kw)
        f = ba.arguments["f"]
        args = _args_tuple(ba.arguments["args"])
        watch = Watch(f)
        out = _call(raw, ba, f=watch)
        if not (watch.traced or any_traced(args)):
            return out
        full = bool(ba.arguments.get("full_output"))
        root = out[0] if full else out
        x = implicit_root(_user(f, args, watch.arg), root, elementwise=True,
                          what=f"scipy.optimize.{name}")
        if x is None:
            return out
        x = like_value(x, root)
        if full:
            warn_unconverged(name, out[1].converged, out[1].flag)
            out[1].root = x
            return (x, out[1])
        return x

    rule.__name__ = rule.__qualname__ = f"{name}_rule"
    return rule


def newton(*a, **kw):
    raw, ba = _bind("newton", a, kw)
    func, args = ba.arguments["func"], _args_tuple(ba.arguments["args"])
    watches = {k: Watch(ba.arguments[k]) for k in ("func", "fprime", "fprime2")
               if ba.arguments[k] is not None}
    out = _call(raw, ba, **watches)
    if not (any(w.traced for w in watches.values()) or any_traced(args)):
        return out
    full = bool(ba.arguments.get("full_output"))
    root = out[0] if full else out
    x = implicit_root(_user(func, args, watches["func"].arg), root, elementwise=True,
                      what="scipy.optimize.newton")
    if x is None:
        return out
    x = like_value(x, root)
    if not full:
        return x
    if hasattr(out[1], "root"):
        warn_unconverged("newton", out[1].converged, out[1].flag)
        out[1].root = x
        return (x, out[1])
    warn_unconverged("newton", out.converged)
    return type(out)(x, *out[1:])


def root_scalar(*a, **kw):
    raw, ba = _bind("root_scalar", a, kw)
    f, args = ba.arguments["f"], _args_tuple(ba.arguments["args"])
    watches = {k: Watch(ba.arguments[k]) for k in ("f", "fprime", "fprime2")
               if callable(ba.arguments[k])}
    out = _call(raw, ba, **watches)
    if not (any(w.traced for w in watches.values()) or any_traced(args)):
        return out
    index = 0 if ba.arguments["fprime"] is True else None  # f returns (f, f') (and f'')
    x = implicit_root(_user(f, args, watches["f"].arg, index), out.root, elementwise=True,
                      what="scipy.optimize.root_scalar")
    if x is not None:
        warn_unconverged("root_scalar", out.converged, out.flag)
        out.root = like_value(x, out.root)
    return out


def fsolve(*a, **kw):
    raw, ba = _bind("fsolve", a, kw)
    func, args = ba.arguments["func"], _args_tuple(ba.arguments["args"])
    watch = Watch(func)
    fprime = ba.arguments["fprime"]
    replace = {"func": watch}
    if callable(fprime):
        replace["fprime"] = Watch(fprime)
    out = _call(raw, ba, **replace)
    if not (watch.traced or any_traced(args)):
        return out
    full = bool(ba.arguments.get("full_output"))
    root = out[0] if full else out
    x = implicit_root(_user(func, args, watch.arg), root, what="scipy.optimize.fsolve")
    if x is None:
        return out
    x = like_value(x, root)
    return (x, *out[1:]) if full else x


def root(*a, **kw):
    raw, ba = _bind("root", a, kw)
    fun, args = ba.arguments["fun"], _args_tuple(ba.arguments["args"])
    jac = ba.arguments["jac"]
    watch = Watch(fun)
    replace = {"fun": watch}
    if callable(jac):
        replace["jac"] = Watch(jac)
    out = _call(raw, ba, **replace)
    if not (watch.traced or any_traced(args)):
        return out
    index = 0 if jac is True else None
    F = _user(fun, args, watch.arg, index)
    x = implicit_root(F, out.x, what="scipy.optimize.root")
    if x is not None:
        warn_unconverged("root", out.success, out.message)
        out.x = like_value(x, out.x)
        out.fun = with_derivative(out.fun, np.reshape(F(out.x), np.shape(out.fun)))
    return out


def fixed_point(*a, **kw):
    raw, ba = _bind("fixed_point", a, kw)
    func, args = ba.arguments["func"], _args_tuple(ba.arguments["args"])
    watch = Watch(func)
    out = _call(raw, ba, func=watch)
    if not (watch.traced or any_traced(args)):
        return out
    g = _user(func, args, watch.arg)
    x = implicit_root(lambda x: g(x) - x, out, what="scipy.optimize.fixed_point")
    return out if x is None else like_value(x, out)


def _nonlinear(name):
    def rule(*a, **kw):
        raw, ba = _bind(name, a, kw)
        F = ba.arguments["F"]
        watch = Watch(F)
        out = _call(raw, ba, F=watch)
        if not watch.traced:
            return out
        x = implicit_root(_user(F, (), watch.arg), out, what=f"scipy.optimize.{name}")
        return out if x is None else like_value(x, out)

    rule.__name__ = rule.__qualname__ = f"{name}_rule"
    return rule


_RULES = {
    **{n: _scalar_root(n) for n in ("brentq", "brenth", "ridder", "bisect", "toms748")},
    "newton": newton,
    "root_scalar": root_scalar,
    "fsolve": fsolve,
    "root": root,
    "fixed_point": fixed_point,
    **{n: _nonlinear(n) for n in ("broyden1", "broyden2", "anderson", "newton_krylov", "excitingmixing",
                                  "linearmixing", "diagbroyden")},
}

for _name, _rule in _RULES.items():
    ORIGINALS[_name] = intercept_always(getattr(O, _name), _rule)
