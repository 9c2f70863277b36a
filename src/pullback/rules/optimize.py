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
:data:`MAX_DENSE` unknowns; elementwise problems (scalar root finders, ``newton`` of an array)
use its diagonal. For a minimiser ``F`` is the objective's gradient and ``J`` its Hessian (the
user's ``jac``/``hess`` are not needed). Bounds: coordinates that finish exactly on a bound
(L-BFGS-B, TNC, SLSQP, Nelder-Mead; ``least_squares``' ``active_mask``) stay there and the others
solve the reduced system. Objective values (``fun``, ``fopt``, ``cost``) carry their derivative
``d f(x(theta), theta)``, with SciPy's value.

Errors rather than a wrong derivative (:class:`~pullback.NoRuleError`): a singular Jacobian (a
double root), complex unknowns, general constraints, bounds with a method that stops near but
not on them (Powell, trust-constr, COBYLA, COBYQA, a bounded scalar minimum at its interval's
end), traced bounds, and the global optimisers (``differential_evolution``, ``basinhopping``,
``dual_annealing``, ``shgo``, ``direct``, ``brute``). Approximations a solver returns alongside
``x`` (BFGS's ``hess_inv``, ``curve_fit``'s ``pcov``, ``leastsq``'s ``cov_x``) are SciPy's plain
values: their derivatives are not taken.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import scipy.optimize as O

from ..core import Tracer, depth, strip
from ..errors import NoRuleError
from .callables import Watch, intercept_always
from .registry import any_traced, like_value, strip_tree

#: Largest number of unknowns for which the Jacobian is formed densely.
MAX_DENSE = 4096

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
    try:
        step = np.linalg.solve(J, np.reshape(r, (-1,)))
    except np.linalg.LinAlgError:
        raise NoRuleError(what, "the Jacobian is singular at the solution, so the solution does "
                                "not depend smoothly on its parameters") from None
    return np.reshape(step, np.shape(strip(x)))


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
    r0 = F(x_star)
    if not (isinstance(r0, Tracer) or (type(r0) in (tuple, list) and any_traced(r0))):
        return None
    F0 = strip(r0)
    if np.iscomplexobj(F0) or np.iscomplexobj(x_star):
        raise NoRuleError(what, "complex unknowns")
    if not elementwise and np.size(x_star) > MAX_DENSE:
        raise NoRuleError(what, f"{np.size(x_star)} unknowns (the implicit "
                          f"derivative forms the Jacobian, up to {MAX_DENSE} unknowns)")
    steps = newton_steps()
    x, r = x_star, r0 - F0
    for k in range(steps):
        if k:
            r = F(x) - F0
        J = _jacobian(F, x, elementwise)
        if steps == 1:
            J = strip(J)  # its derivative multiplies a zero residual
        x = x - _solve(J, r, x, elementwise, what)
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
    return like_value(plain + (traced - strip(traced)), plain)


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
        if p.name not in replace:
            v = strip_tree(v)
        if p.kind is p.VAR_POSITIONAL:
            args.extend(v)
        elif p.kind is p.VAR_KEYWORD:
            kwargs.update(v)
        elif p.kind is p.POSITIONAL_ONLY or (p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty):
            args.append(v)
        else:
            kwargs[p.name] = v
    return raw(*args, **kwargs)


def _args_tuple(args):
    return args if isinstance(args, tuple) else (args,)


def _user(f, args, arg, index=None):
    """The user's function of ``x`` alone, called as SciPy calls it (``x`` shaped like ``arg``)."""
    from .callables import shaped_like

    def F(x):
        r = f(shaped_like(x, arg), *args)
        return r if index is None else r[index]

    return F


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
        out[1].root = x
        return (x, out[1])
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


# ---------------------------------------------------------------- minimisers


def _bounds_arrays(bounds, n):
    """Lower and upper bounds as float arrays of length ``n`` (infinite where absent)."""
    if isinstance(bounds, O.Bounds):
        lb, ub = bounds.lb, bounds.ub
    else:
        pairs = list(bounds)
        lb = [-np.inf if p[0] is None else p[0] for p in pairs]
        ub = [np.inf if p[1] is None else p[1] for p in pairs]
    lb = np.broadcast_to(np.asarray(lb, dtype=float), (n,))
    ub = np.broadcast_to(np.asarray(ub, dtype=float), (n,))
    return lb, ub


def implicit_minimum(objective, x_star, *, active=None, what="a minimiser"):
    """The minimiser ``x*`` of ``objective`` (SciPy's, plain) with its implicit derivatives: the
    root of the gradient; coordinates marked ``active`` (on a bound) stay where they are."""
    grad = _gradient_of(objective)
    x_star = np.asarray(x_star) if isinstance(x_star, np.ndarray) else x_star
    if active is None or not np.any(active):
        return implicit_root(grad, x_star, elementwise=np.ndim(x_star) == 0, what=what)
    flat = np.reshape(x_star, -1)
    free = np.flatnonzero(~np.reshape(active, -1))
    fixed = np.flatnonzero(np.reshape(active, -1))
    order = np.argsort(np.concatenate([free, fixed]))
    if free.size == 0:
        return None

    def assemble(xf):
        return np.reshape(np.concatenate([xf, flat[fixed]])[order], np.shape(x_star))

    def reduced(xf):
        return np.reshape(grad(assemble(xf)), -1)[free]

    xf = implicit_root(reduced, flat[free], what=what)
    return None if xf is None else assemble(xf)


def _objective(fun, args, arg, with_grad):
    F = _user(fun, args, arg, 0 if with_grad else None)
    return F


def _minimize_common(name, ba, raw, fun_key, x_of, jac_key=None, bounds=None):
    """Run SciPy, then attach the solution: returns (out, traced x or None, objective)."""
    fun, args = ba.arguments[fun_key], _args_tuple(ba.arguments.get("args", ()))
    watch = Watch(fun)
    replace = {fun_key: watch}
    for k in ("jac", "hess", "hessp", "fprime", "fhess", "fhess_p"):
        if k in ba.arguments and callable(ba.arguments[k]):
            replace[k] = Watch(ba.arguments[k])
    out = _call(raw, ba, **replace)
    if not (watch.traced or any_traced(args)):
        return out, None, None
    with_grad = jac_key is not None and ba.arguments.get(jac_key) is True
    objective = _objective(fun, args, watch.arg, with_grad)
    x_plain = x_of(out)
    active = None
    if bounds is not None:
        if any_traced(bounds if isinstance(bounds, (tuple, list)) else (bounds,)):
            raise NoRuleError(f"scipy.optimize.{name}", "traced bounds")
        lb, ub = _bounds_arrays(bounds, np.size(x_plain))
        active = check_bounds(f"scipy.optimize.{name}", objective, x_plain, lb, ub)
    x = implicit_minimum(objective, x_plain, active=active, what=f"scipy.optimize.{name}")
    return out, x, objective


def check_bounds(what, objective, x, lb, ub):
    """The coordinates of a bounded minimiser ``x`` that sit on a bound (they stay there), after
    checking that the others are a minimum of their own: the minimum that one Newton step from
    ``x`` predicts for them (the active ones held) lies within the bounds. A solver that stops near
    a bound rather than on it (Powell, trust-constr, COBYLA, a bounded scalar method) leaves the
    active set unknown, and the interior formula would give a wrong derivative: that raises."""
    flat = np.reshape(np.asarray(x, dtype=float), -1)
    active = (flat == lb) | (flat == ub)
    free = np.flatnonzero(~active)
    if free.size == 0 or not np.any(np.isfinite(lb[free]) | np.isfinite(ub[free])):
        return active
    api = _api()
    grad = _gradient_of(objective)

    def gradient(v):
        return np.reshape(grad(np.reshape(v, np.shape(x)) if np.ndim(x) else v[0]), -1)

    g = np.asarray(strip(gradient(flat)), dtype=float)[free]
    H = np.asarray(strip(api.jacobian(gradient, flat)), dtype=float).reshape(flat.size, flat.size)
    try:
        target = flat[free] - np.linalg.solve(H[np.ix_(free, free)], g)
    except np.linalg.LinAlgError:
        target = np.full(free.size, np.nan)
    slack = 1e-8 * (1 + np.abs(flat[free]))
    if not np.all((target >= lb[free] - slack) & (target <= ub[free] + slack)):
        raise NoRuleError(what, "a minimum on its bounds that the solver stopped near, not on, so "
                          "which bounds hold is unknown (L-BFGS-B, TNC and SLSQP stop on them)")
    return active


_METHODS = ("Nelder-Mead", "Powell", "L-BFGS-B", "TNC", "SLSQP", "trust-constr", "COBYLA",
                      "COBYQA")


def minimize(*a, **kw):
    raw, ba = _bind("minimize", a, kw)
    constraints = ba.arguments["constraints"]
    method = ba.arguments["method"]
    bounds = ba.arguments["bounds"]
    mname = method if isinstance(method, str) else getattr(method, "__name__", None)
    if isinstance(mname, str):
        mname = {m.lower(): m for m in _METHODS}.get(mname.lower(), mname)
    label = "minimize" if mname is None else f"minimize(method={mname!r})"
    out, x, objective = _minimize_common(label, ba, raw, "fun", lambda r: r.x, "jac", bounds=bounds)
    if objective is None:
        return out
    if constraints not in (None, ()) and (not isinstance(constraints, (list, tuple)) or len(constraints)):
        raise NoRuleError("scipy.optimize.minimize", "constraints (only bounds are differentiated)")
    if x is not None:
        out.x = like_value(x, out.x)
        out.fun = with_derivative(out.fun, objective(out.x))
        if isinstance(out.get("jac"), np.ndarray) and np.shape(out.jac) == np.shape(strip(out.x)):
            out.jac = with_derivative(out.jac, _gradient_of(objective)(out.x))
    return out


def minimize_scalar(*a, **kw):
    raw, ba = _bind("minimize_scalar", a, kw)
    bounds = ba.arguments["bounds"]
    out, x, objective = _minimize_common("minimize_scalar", ba, raw, "fun", lambda r: r.x,
                                         bounds=None if bounds is None else [tuple(bounds)])
    if objective is None:
        return out
    if x is not None:
        out.x = like_value(x, out.x)
        out.fun = with_derivative(out.fun, objective(out.x))
    return out


def _legacy_minimizer(name, fun_key, x0_key=None, value_index=1, grad_index=None, fprime_key=None,
                      approx_key=None):
    """fmin, fmin_bfgs, fmin_cg, fmin_powell, fmin_l_bfgs_b, golden, brent, fminbound."""

    def rule(*a, **kw):
        raw, ba = _bind(name, a, kw)
        if name == "fmin_l_bfgs_b":
            full = True
            with_grad = ba.arguments["fprime"] is None and not ba.arguments["approx_grad"]
        else:
            full = bool(ba.arguments.get("full_output"))
            with_grad = False
        fun, args = ba.arguments[fun_key], _args_tuple(ba.arguments.get("args", ()))
        watch = Watch(fun)
        replace = {fun_key: watch}
        for k in ("fprime", "fhess", "fhess_p"):
            if k in ba.arguments and callable(ba.arguments[k]):
                replace[k] = Watch(ba.arguments[k])
        out = _call(raw, ba, **replace)
        if not (watch.traced or any_traced(args)):
            return out
        objective = _user(fun, args, watch.arg, 0 if with_grad else None)
        x_plain = out[0] if full else out
        active = None
        if name == "fmin_l_bfgs_b" and ba.arguments.get("bounds") is not None:
            lb, ub = _bounds_arrays(ba.arguments["bounds"], np.size(x_plain))
            active = check_bounds(f"scipy.optimize.{name}", objective, x_plain, lb, ub)
        if name == "fminbound":
            active = check_bounds(f"scipy.optimize.{name}", objective, x_plain,
                                  *(np.array([float(strip(ba.arguments[k]))]) for k in ("x1", "x2")))
        x = implicit_minimum(objective, x_plain, active=active, what=f"scipy.optimize.{name}")
        if x is None:
            return out
        x = like_value(x, x_plain)
        if not full:
            return x
        items = list(out)
        items[0] = x
        items[value_index] = with_derivative(items[value_index], objective(x))
        if grad_index is not None and isinstance(items[grad_index], np.ndarray):
            items[grad_index] = with_derivative(items[grad_index], _gradient_of(objective)(x))
        return type(out)(items)

    rule.__name__ = rule.__qualname__ = f"{name}_rule"
    return rule


# ---------------------------------------------------------------- least squares

_LOSSES = {
    "linear": lambda z: z,
    "soft_l1": lambda z: 2 * ((1 + z) ** 0.5 - 1),
    "huber": lambda z: np.where(z <= 1, z, 2 * np.sqrt(np.where(z <= 1, 1.0, z)) - 1),
    "cauchy": lambda z: np.log1p(z),
    "arctan": lambda z: np.arctan(z),
}


def least_squares(*a, **kw):
    raw, ba = _bind("least_squares", a, kw)
    fun = ba.arguments["fun"]
    args = _args_tuple(ba.arguments["args"])
    fkw = ba.arguments["kwargs"] or {}
    loss, f_scale = ba.arguments["loss"], ba.arguments["f_scale"]
    watch = Watch(fun)
    replace = {"fun": watch}
    if callable(ba.arguments["jac"]):
        replace["jac"] = Watch(ba.arguments["jac"])
    out = _call(raw, ba, **replace)
    if not (watch.traced or any_traced(args) or any_traced(tuple(fkw.values())) or any_traced((f_scale,))):
        return out
    if not isinstance(loss, str) or loss not in _LOSSES:
        raise NoRuleError("scipy.optimize.least_squares", "a callable loss")
    if any_traced((ba.arguments["bounds"],)):
        raise NoRuleError("scipy.optimize.least_squares", "traced bounds")
    from .callables import shaped_like

    rho = _LOSSES[loss]

    def residuals(x):
        return fun(shaped_like(x, watch.arg), *args, **fkw)

    def cost(x):
        r = residuals(x)
        if loss == "linear":
            return 0.5 * np.sum(r * r)
        return 0.5 * np.sum(f_scale ** 2 * rho((r / f_scale) ** 2))

    x = implicit_minimum(cost, out.x, active=out.active_mask != 0,
                         what="scipy.optimize.least_squares")
    if x is not None:
        out.x = like_value(x, out.x)
        out.cost = with_derivative(out.cost, cost(out.x))
        out.fun = with_derivative(out.fun, residuals(out.x))
    return out


def leastsq(*a, **kw):
    raw, ba = _bind("leastsq", a, kw)
    func, args = ba.arguments["func"], _args_tuple(ba.arguments["args"])
    watch = Watch(func)
    replace = {"func": watch}
    if callable(ba.arguments["Dfun"]):
        replace["Dfun"] = Watch(ba.arguments["Dfun"])
    out = _call(raw, ba, **replace)
    if not (watch.traced or any_traced(args)):
        return out
    F = _user(func, args, watch.arg)
    x = implicit_minimum(lambda x: 0.5 * np.sum(F(x) ** 2), out[0], what="scipy.optimize.leastsq")
    if x is None:
        return out
    return (like_value(x, out[0]), *out[1:])


def curve_fit(*a, **kw):
    raw, ba = _bind("curve_fit", a, kw)
    f = ba.arguments["f"]
    xdata, ydata, sigma = ba.arguments["xdata"], ba.arguments["ydata"], ba.arguments["sigma"]
    watch = Watch(f)
    replace = {"f": watch}
    if callable(ba.arguments["jac"]):
        replace["jac"] = Watch(ba.arguments["jac"])
    out = _call(raw, ba, **replace)
    if not (watch.traced or any_traced((xdata, ydata, sigma))):
        return out
    if ba.arguments["nan_policy"] not in (None, "raise") or any_traced((ba.arguments["bounds"],)):
        raise NoRuleError("scipy.optimize.curve_fit", "nan_policy or traced bounds")
    popt = out[0]
    bounds = ba.arguments["bounds"]
    pair = (bounds.lb, bounds.ub) if isinstance(bounds, O.Bounds) else bounds
    lb, ub = (np.broadcast_to(np.asarray(b, dtype=float), popt.shape) for b in pair)
    if np.any(np.isfinite(lb) | np.isfinite(ub)):
        gap = np.minimum(np.abs(popt - lb), np.abs(ub - popt))
        if np.any(gap <= 1e-6 * (1 + np.abs(popt))):
            raise NoRuleError("scipy.optimize.curve_fit", "a fit on its bounds (the solver stops near "
                              "a bound, not on it, so which bounds hold is unknown)")
    y = ydata if isinstance(ydata, Tracer) else np.asarray(ydata, dtype=float)
    if sigma is None:
        def weighted(r):
            return r
    elif np.ndim(strip(sigma)) == 1:
        def weighted(r):
            return r / sigma
    else:
        def weighted(r):
            L = np.linalg.cholesky(sigma)
            return np.linalg.solve(L, r)
    xd = xdata if isinstance(xdata, Tracer) else np.asarray(xdata)

    def cost(p):
        r = weighted(np.reshape(f(xd, *[p[i] for i in range(popt.shape[0])]), -1) - np.reshape(y, -1))
        return 0.5 * np.sum(r * r)

    x = implicit_minimum(cost, popt, what="scipy.optimize.curve_fit")
    if x is None:
        return out
    return (like_value(x, popt), *out[1:])


# ---------------------------------------------------------------- not differentiated


def _global(name):
    def rule(*a, **kw):
        raw = ORIGINALS[name]
        ba = inspect.signature(raw).bind(*a, **kw)
        fun = ba.arguments.get("func", ba.arguments.get("fun"))
        if any_traced(tuple(ba.arguments.values())) or fun is None:
            raise NoRuleError(f"scipy.optimize.{name}", "traced arguments (a global search)")
        watch = Watch(fun)
        key = "func" if "func" in ba.arguments else "fun"
        out = _call(raw, ba, **{key: watch})
        if watch.traced:
            raise NoRuleError(f"scipy.optimize.{name}", "a global search's result (polish it with "
                              "scipy.optimize.minimize, which differentiates)")
        return out

    rule.__name__ = rule.__qualname__ = f"{name}_rule"
    return rule


# ---------------------------------------------------------------- registration

_RULES = {
    **{n: _scalar_root(n) for n in ("brentq", "brenth", "ridder", "bisect", "toms748")},
    "newton": newton,
    "root_scalar": root_scalar,
    "fsolve": fsolve,
    "root": root,
    "fixed_point": fixed_point,
    **{n: _nonlinear(n) for n in ("broyden1", "broyden2", "anderson", "newton_krylov", "excitingmixing",
                                  "linearmixing", "diagbroyden")},
    "minimize": minimize,
    "minimize_scalar": minimize_scalar,
    "golden": _legacy_minimizer("golden", "func"),
    "brent": _legacy_minimizer("brent", "func"),
    "fminbound": _legacy_minimizer("fminbound", "func"),
    "fmin": _legacy_minimizer("fmin", "func"),
    "fmin_powell": _legacy_minimizer("fmin_powell", "func"),
    "fmin_bfgs": _legacy_minimizer("fmin_bfgs", "f", grad_index=2),
    "fmin_cg": _legacy_minimizer("fmin_cg", "f"),
    "fmin_l_bfgs_b": _legacy_minimizer("fmin_l_bfgs_b", "func"),
    "least_squares": least_squares,
    "leastsq": leastsq,
    "curve_fit": curve_fit,
    **{n: _global(n) for n in ("differential_evolution", "basinhopping", "dual_annealing", "shgo",
                               "direct", "brute")},
}

for _name, _rule in _RULES.items():
    ORIGINALS[_name] = intercept_always(getattr(O, _name), _rule)
