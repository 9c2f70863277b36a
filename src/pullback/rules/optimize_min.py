"""Rules: ``scipy.optimize``'s minimisers, differentiated by the implicit function theorem.

``minimize``, ``minimize_scalar``, ``golden``, ``brent``, ``fminbound``, ``fmin``, ``fmin_powell``,
``fmin_bfgs``, ``fmin_cg``, ``fmin_ncg``, ``fmin_l_bfgs_b``, ``fmin_tnc``, ``least_squares``,
``leastsq`` and ``curve_fit``. A minimum ``x*`` of ``f(x, theta)`` is a root of the gradient
``grad_x f``: :func:`implicit_minimum` hands that root to
:func:`~pullback.rules.optimize.implicit_root` (Newton steps on traced values, SciPy's value bit
for bit), with the Hessian as its Jacobian; the user's ``jac``/``hess`` are not needed. Objective
values (``fun``, ``fopt``, ``cost``, least squares' residuals and gradient) carry the derivative
of ``f(x(theta), theta)``, with SciPy's values.

**Bounds.** A coordinate on a bound stays there (its derivative is the bound's: zero unless the
bound is traced), and so does one within a small distance of a bound that the minimum pushes
against: one where a Newton step from ``x*`` (the held coordinates fixed) would cross the bound
(L-BFGS-B stops on bounds; TNC, SLSQP and Nelder-Mead a few ulps off; trust-constr, being an
interior method, a little inside). The other coordinates solve the reduced system. Where a free
coordinate's Newton step crosses a bound it is farther from (Powell and COBYLA can stop 1e-4
short of one), which bounds hold is unknown and :class:`~pullback.NoRuleError` is raised rather
than a wrong derivative. ``minimize``'s methods that ignore bounds (SciPy warns) ignore them here.

Also :class:`~pullback.NoRuleError`: general constraints (``minimize``'s ``constraints``,
``fmin_cobyla``, ``fmin_slsqp``), a callable ``loss`` of ``least_squares``, ``curve_fit``'s
``nan_policy``, and the global optimisers (``differential_evolution``, ``basinhopping``,
``dual_annealing``, ``shgo``, ``direct``, ``brute``: polish their result with ``minimize``). A
minimum SciPy reports as not converged is differentiated with a ``RuntimeWarning``.

What a solver returns beside its solution keeps SciPy's values and carries the derivative of the
quantity it estimates, at the traced solution: ``curve_fit``'s ``pcov`` and ``leastsq``'s
``cov_x`` that of ``inv(J^T J)`` (times the residual variance where SciPy scales it),
``least_squares``' ``jac`` (linear loss) that of the residuals' Jacobian, BFGS's ``hess_inv``
that of the inverse Hessian (each costs a Jacobian, formed only for a traced solve). L-BFGS-B's
``hess_inv`` (an operator) and a robust loss's rescaled ``jac`` are SciPy's plain values.
"""

from __future__ import annotations

import inspect

import numpy as np
import scipy.optimize as O

from ..core import Tracer, strip
from ..errors import NoRuleError
from .callables import Watch, intercept_always, refuse, shaped_like
from .optimize import (
    ORIGINALS,
    _api,
    _args_tuple,
    _bind,
    _call,
    _gradient_of,
    _holds_traced,
    _user,
    implicit_root,
    warn_unconverged,
    with_derivative,
)
from .registry import any_traced, like_value

#: How far (relative to ``1 + |x|``) a coordinate may stop from a bound that holds it.
NEAR_BOUND = 1e-6


# ---------------------------------------------------------------- the implicit minimum


def _scalar_valued(objective):
    """The objective with a one-element result as a scalar (SciPy accepts shape ``(1,)``)."""
    def scalar_objective(x):
        r = objective(x)
        return np.reshape(r, ()) if np.ndim(r) and np.size(strip(r)) == 1 else r

    return scalar_objective


def implicit_minimum(objective, x_star, *, active=None, held=None, what="a minimiser"):
    """The minimiser ``x*`` of ``objective`` (SciPy's, plain) with its implicit derivatives: the
    root of the gradient. Coordinates marked ``active`` (on a bound) take the values ``held``
    (traced where the bound is; ``x*``'s own by default); the others solve the reduced system.
    None when nothing traced reaches the solution."""
    grad = _gradient_of(_scalar_valued(objective))
    if active is None or not np.any(active):
        return implicit_root(grad, x_star, elementwise=np.ndim(x_star) == 0, what=what)
    flat = np.reshape(np.asarray(x_star), -1)
    free = np.flatnonzero(~np.reshape(active, -1))
    fixed = np.flatnonzero(np.reshape(active, -1))
    order = np.argsort(np.concatenate([free, fixed]))
    fixed_values = flat[fixed] if held is None else held

    def assemble(xf):
        whole = np.concatenate([xf, fixed_values])[order]
        return np.reshape(whole, np.shape(x_star)) if np.ndim(x_star) else whole[0]

    def reduced(xf):
        return np.reshape(grad(assemble(xf)), -1)[free]

    xf = implicit_root(reduced, flat[free], what=what) if free.size else None
    x = assemble(flat[free] if xf is None else xf)
    return x if isinstance(x, Tracer) else None


def _vector(b, n):
    """A bound (a number, a sequence with None for none, or an array) as a length-``n`` vector:
    traced where the user's is."""
    if type(b) in (list, tuple):
        b = np.stack(list(b)) if any_traced(b) else np.asarray(b, dtype=float)
    if not isinstance(b, Tracer):
        b = np.asarray(b, dtype=float)
    return np.broadcast_to(b, (n,))


def pair_bounds(bounds, n):
    """``minimize``'s bounds (a ``Bounds``, or ``(min, max)`` pairs, None for none) as vectors."""
    if isinstance(bounds, O.Bounds):
        return _vector(bounds.lb, n), _vector(bounds.ub, n)
    pairs = list(bounds)
    lower = [-np.inf if p[0] is None else p[0] for p in pairs]
    upper = [np.inf if p[1] is None else p[1] for p in pairs]
    return _vector(lower, n), _vector(upper, n)


def two_bounds(bounds, n):
    """``least_squares``' and ``curve_fit``'s bounds (a ``Bounds`` or a ``(lower, upper)`` pair)."""
    lower, upper = (bounds.lb, bounds.ub) if isinstance(bounds, O.Bounds) else bounds
    return _vector(lower, n), _vector(upper, n)


def active_set(what, objective, x, lower, upper, *, active=None, near=NEAR_BOUND):
    """The coordinates of a bounded minimiser ``x`` that a bound holds (see the module): on it,
    or within ``near * (1 + |x|)`` of one that a Newton step from ``x`` would cross. Raises
    :class:`~pullback.NoRuleError` where such a step crosses a bound the coordinate is farther
    from: the solver stopped short of a bound, and which ones hold is unknown."""
    lb = np.asarray(strip(lower), dtype=float)
    ub = np.asarray(strip(upper), dtype=float)
    flat = np.reshape(np.asarray(x, dtype=float), -1)
    held = (flat == lb) | (flat == ub)
    if active is not None:
        held |= np.reshape(active, -1)
    if not np.any(np.isfinite(lb[~held]) | np.isfinite(ub[~held])):
        return held
    grad = _gradient_of(_scalar_valued(objective))

    def gradient(v):
        return np.reshape(grad(np.reshape(v, np.shape(x)) if np.ndim(x) else v[0]), -1)

    g = np.asarray(strip(gradient(flat)), dtype=float)
    H = np.asarray(strip(_api().jacobian(gradient, flat)), dtype=float).reshape(flat.size, flat.size)
    tol = near * (1 + np.abs(flat))
    slack = 1e-8 * (1 + np.abs(flat))
    for _ in range(flat.size):
        free = np.flatnonzero(~held)
        if free.size == 0:
            return held
        try:
            target = flat[free] - np.linalg.solve(H[np.ix_(free, free)], g[free])
        except np.linalg.LinAlgError:
            raise NoRuleError(what, "a singular Hessian at the minimum (it is not isolated)") from None
        below = target < lb[free] - slack[free]
        above = target > ub[free] + slack[free]
        if not np.any(below | above):
            return held
        close = ((below & (flat[free] - lb[free] <= tol[free]))
                 | (above & (ub[free] - flat[free] <= tol[free])))
        if not np.any(close):
            raise NoRuleError(what, "a minimum on its bounds that the solver stopped short of, so "
                              "which bounds hold is unknown (L-BFGS-B, TNC and SLSQP stop on them)")
        held[free[close]] = True
    return held


def held_values(x, held, lower, upper):
    """The held coordinates' values: ``x``'s own, carrying the derivative of the bound each sits on
    where that bound is traced; None when no bound is traced."""
    if not (isinstance(lower, Tracer) or isinstance(upper, Tracer)):
        return None
    flat = np.reshape(np.asarray(x, dtype=float), -1)
    idx = np.flatnonzero(held)
    nearer_lower = np.abs(flat - strip(lower)) <= np.abs(flat - strip(upper))
    bound = np.where(nearer_lower[idx], lower[idx], upper[idx])
    return flat[idx] - (strip(bound) - bound)


def _bounded_minimum(what, objective, x, bounds, *, pairs=True, active=None, near=NEAR_BOUND):
    """``implicit_minimum`` with bounds (None for none) applied."""
    if bounds is None:
        return implicit_minimum(objective, x, what=what)
    lower, upper = (pair_bounds if pairs else two_bounds)(bounds, np.size(x))
    held = active_set(what, objective, x, lower, upper, active=active, near=near)
    return implicit_minimum(objective, x, active=held, held=held_values(x, held, lower, upper),
                            what=what)


def _jacobian_at(f, x):
    """The Jacobian of ``f`` (vector-valued) at the traced ``x``, traced, as a (m, n) matrix."""
    return np.reshape(_api().jacobian(f, x), (-1, np.size(strip(x))))


def _inverse_hessian(objective, x):
    """The inverse Hessian of ``objective`` at the traced ``x``: what BFGS's ``hess_inv``
    approximates, so its derivative is that of the quantity SciPy's value estimates."""
    gradient = _gradient_of(_scalar_valued(objective))
    return np.linalg.inv(_jacobian_at(lambda v: np.reshape(gradient(v), -1), x))


def _covariance(residuals, x, scaled):
    """``inv(J^T J)`` of the residuals' Jacobian at the traced ``x`` (what ``cov_x`` and ``pcov``
    are), times the residual variance ``sum(r^2) / (m - n)`` when ``scaled``."""
    J = _jacobian_at(lambda v: np.reshape(residuals(v), -1), x)
    cov = np.linalg.inv(J.T @ J)
    if scaled:
        r = np.reshape(residuals(x), -1)
        cov = cov * (np.sum(r * r) / (r.shape[0] - np.size(strip(x))))
    return cov


# ---------------------------------------------------------------- minimize, minimize_scalar

#: minimize's methods that take bounds (the others ignore them, with SciPy's warning)
_BOUNDED = ("Nelder-Mead", "Powell", "L-BFGS-B", "TNC", "SLSQP", "trust-constr", "COBYLA", "COBYQA")
_WATCHED = ("jac", "hess", "hessp", "fprime", "fhess", "fhess_p")


def _run(ba, raw, fun_key):
    """SciPy's solve on plain values: (its result, the watched objective, the traced extras)."""
    fun = ba.arguments[fun_key]
    watch = Watch(fun)
    replace = {fun_key: watch}
    for k in _WATCHED:
        if k in ba.arguments and callable(ba.arguments[k]):
            replace[k] = Watch(ba.arguments[k])
    return _call(raw, ba, **replace), watch


def _constraints_traced(constraints) -> bool:
    """Whether constraints (a dict, a constraint object, or a sequence of them) hold traced values:
    a dict's ``args``, a ``LinearConstraint``'s or ``NonlinearConstraint``'s matrix or bounds."""
    items = constraints if isinstance(constraints, (list, tuple)) else (constraints,)
    for c in items:
        values = c.values() if isinstance(c, dict) else getattr(c, "__dict__", {}).values()
        if any(_holds_traced(v) for v in values):
            return True
    return False


def minimize(*a, **kw):
    raw, ba = _bind("minimize", a, kw)
    method, bounds, constraints = ba.arguments["method"], ba.arguments["bounds"], ba.arguments["constraints"]
    name = method if isinstance(method, str) else getattr(method, "__name__", None)
    if isinstance(name, str):
        name = {m.lower(): m for m in _BOUNDED}.get(name.lower(), name)
    if name is not None and name not in _BOUNDED and callable(method) is False:
        bounds = None  # SciPy ignores them (with a warning)
    args = _args_tuple(ba.arguments["args"])
    if _constraints_traced(constraints):
        raise NoRuleError("scipy.optimize.minimize", "constraints that depend on traced values (only "
                          "bounds are differentiated)")
    out, watch = _run(ba, raw, "fun")
    if not (watch.traced or any_traced(args) or _holds_traced(bounds)):
        return out
    if constraints not in (None, ()) and (not isinstance(constraints, (list, tuple)) or len(constraints)):
        raise NoRuleError("scipy.optimize.minimize", "constraints (only bounds are differentiated)")
    what = "scipy.optimize.minimize" + ("" if name is None else f"(method={name!r})")
    objective = _user(ba.arguments["fun"], args, watch.arg, 0 if ba.arguments["jac"] is True else None)
    x = _bounded_minimum(what, objective, out.x, bounds)
    if x is not None:
        warn_unconverged("minimize", out.success, out.message)
        out.x = like_value(x, out.x)
        out.fun = with_derivative(out.fun, _scalar_valued(objective)(out.x))
        if isinstance(out.get("jac"), np.ndarray) and np.shape(out.jac) == np.shape(strip(out.x)):
            out.jac = with_derivative(out.jac, _gradient_of(_scalar_valued(objective))(out.x))
        if isinstance(out.get("hess_inv"), np.ndarray):  # BFGS's (an operator elsewhere: plain)
            out.hess_inv = with_derivative(out.hess_inv, _inverse_hessian(objective, out.x))
    return out


def minimize_scalar(*a, **kw):
    raw, ba = _bind("minimize_scalar", a, kw)
    args = _args_tuple(ba.arguments["args"])
    bounds = ba.arguments["bounds"]
    out, watch = _run(ba, raw, "fun")
    if not (watch.traced or any_traced(args) or _holds_traced(bounds)):
        return out
    objective = _user(ba.arguments["fun"], args, watch.arg)
    xatol = (ba.arguments["options"] or {}).get("xatol", 1e-5)
    x = _bounded_minimum("scipy.optimize.minimize_scalar", objective, out.x,
                         None if bounds is None else [tuple(bounds)], near=10 * xatol)
    if x is not None:
        warn_unconverged("minimize_scalar", out.success, out.message)
        out.x = like_value(x, out.x)
        out.fun = with_derivative(out.fun, objective(out.x))
    return out


# ---------------------------------------------------------------- the legacy functions

#: name -> (objective's parameter, index of fopt in full_output (None: no full_output), of gopt)
_LEGACY = {
    "golden": ("func", 1, None), "brent": ("func", 1, None), "fminbound": ("func", 1, None),
    "fmin": ("func", 1, None), "fmin_powell": ("func", 1, None), "fmin_bfgs": ("f", 1, 2),
    "fmin_cg": ("f", 1, None), "fmin_ncg": ("f", 1, None), "fmin_l_bfgs_b": ("func", 1, None),
    "fmin_tnc": ("func", None, None),
}


def _legacy(name):
    fun_key, value_index, grad_index = _LEGACY[name]

    def rule(*a, **kw):
        raw, ba = _bind(name, a, kw)
        args = _args_tuple(ba.arguments.get("args", ()))
        bounds = None
        if name in ("fmin_l_bfgs_b", "fmin_tnc"):
            full, values = True, name == "fmin_l_bfgs_b"
            with_grad = ba.arguments["fprime"] is None and not ba.arguments["approx_grad"]
            bounds = ba.arguments["bounds"]
        else:
            values = bool(ba.arguments.get("full_output"))
            full = values or bool(ba.arguments.get("retall"))
            with_grad = False
        if name == "fminbound":
            bounds = [(ba.arguments["x1"], ba.arguments["x2"])]
        out, watch = _run(ba, raw, fun_key)
        if not (watch.traced or any_traced(args) or _holds_traced(bounds)):
            return out
        objective = _user(ba.arguments[fun_key], args, watch.arg, 0 if with_grad else None)
        x_plain = out[0] if full else out
        near = 10 * ba.arguments["xtol"] if name == "fminbound" else NEAR_BOUND
        x = _bounded_minimum(f"scipy.optimize.{name}", objective, x_plain, bounds, near=near)
        if x is None:
            return out
        x = like_value(x, x_plain)
        if name == "fmin_l_bfgs_b":
            warn_unconverged(name, out[2]["warnflag"] == 0, out[2].get("task", ""))
        if not full:
            return x
        items = list(out)
        items[0] = x
        if values and value_index is not None:
            items[value_index] = with_derivative(items[value_index], _scalar_valued(objective)(x))
            if grad_index is not None and isinstance(items[grad_index], np.ndarray):
                gradient = _gradient_of(_scalar_valued(objective))(x)
                items[grad_index] = with_derivative(items[grad_index], gradient)
                items[grad_index + 1] = with_derivative(items[grad_index + 1], _inverse_hessian(objective, x))
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
    fun, args = ba.arguments["fun"], _args_tuple(ba.arguments["args"])
    fkw = ba.arguments["kwargs"] or {}
    loss, f_scale, bounds = ba.arguments["loss"], ba.arguments["f_scale"], ba.arguments["bounds"]
    out, watch = _run(ba, raw, "fun")
    if not (watch.traced or any_traced(args) or any_traced(tuple(fkw.values()))
            or any_traced((f_scale,)) or _holds_traced(bounds)):
        return out
    if not isinstance(loss, str) or loss not in _LOSSES:
        raise NoRuleError("scipy.optimize.least_squares", "a callable loss")
    rho = _LOSSES[loss]

    def residuals(x):
        return fun(shaped_like(x, watch.arg), *args, **fkw)

    def cost(x):
        r = residuals(x)
        if loss == "linear":
            return 0.5 * np.sum(r * r)
        return 0.5 * np.sum(f_scale ** 2 * rho((r / f_scale) ** 2))

    x = _bounded_minimum("scipy.optimize.least_squares", cost, out.x, bounds, pairs=False,
                         active=out.active_mask != 0)
    if x is not None:
        warn_unconverged("least_squares", out.success, out.message)
        out.x = like_value(x, out.x)
        out.cost = with_derivative(out.cost, cost(out.x))
        out.fun = with_derivative(out.fun, residuals(out.x))
        out.grad = with_derivative(out.grad, _gradient_of(cost)(out.x))
        if loss == "linear" and isinstance(out.jac, np.ndarray):  # (a robust loss's is rescaled: plain)
            out.jac = with_derivative(out.jac, _jacobian_at(lambda v: np.reshape(residuals(v), -1), out.x))
    return out


def leastsq(*a, **kw):
    raw, ba = _bind("leastsq", a, kw)
    func, args = ba.arguments["func"], _args_tuple(ba.arguments["args"])
    out, watch = _run(ba, raw, "func")
    if not (watch.traced or any_traced(args)):
        return out
    F = _user(func, args, watch.arg)
    x = implicit_minimum(lambda x: 0.5 * np.sum(F(x) ** 2), out[0], what="scipy.optimize.leastsq")
    if x is None:
        return out
    warn_unconverged("leastsq", out[-1] in (1, 2, 3, 4), "" if len(out) == 2 else out[3])
    x = like_value(x, out[0])
    if len(out) > 2:  # full_output: (x, cov_x, infodict, mesg, ier)
        out[2]["fvec"] = with_derivative(out[2]["fvec"], np.reshape(F(x), np.shape(out[2]["fvec"])))
        if out[1] is not None:
            return (x, with_derivative(out[1], _covariance(F, x, scaled=False)), *out[2:])
    return (x, *out[1:])


def curve_fit(*a, **kw):
    raw, ba = _bind("curve_fit", a, kw)
    f = ba.arguments["f"]
    xdata, ydata, sigma = ba.arguments["xdata"], ba.arguments["ydata"], ba.arguments["sigma"]
    bounds = ba.arguments["bounds"]
    out, watch = _run(ba, raw, "f")
    if not (watch.traced or any_traced((xdata, ydata, sigma)) or _holds_traced(bounds)):
        return out
    if ba.arguments["nan_policy"] not in (None, "raise"):
        raise NoRuleError("scipy.optimize.curve_fit", "nan_policy")
    popt = out[0]
    y = ydata if isinstance(ydata, Tracer) else np.asarray(ydata, dtype=float)
    xd = xdata if isinstance(xdata, Tracer) else np.asarray(xdata)

    def weighted(r):
        if sigma is None:
            return r
        if np.ndim(strip(sigma)) == 1:
            return r / sigma
        return np.linalg.solve(np.linalg.cholesky(sigma), r)  # SciPy's transform of a covariance

    def cost(p):
        model = f(xd, *[p[i] for i in range(popt.shape[0])])
        r = weighted(np.reshape(model, -1) - np.reshape(y, -1))
        return 0.5 * np.sum(r * r)

    finite = np.any(np.isfinite([np.asarray(strip(b), dtype=float) for b in two_bounds(bounds, popt.size)]))
    x = _bounded_minimum("scipy.optimize.curve_fit", cost, popt, bounds if finite else None,
                         pairs=False)
    if x is None:
        return out
    x = like_value(x, popt)
    pcov = out[1]
    if np.all(np.isfinite(pcov)):
        def residuals(p):
            model = f(xd, *[p[i] for i in range(popt.shape[0])])
            return weighted(np.reshape(model, -1) - np.reshape(y, -1))

        pcov = with_derivative(pcov, _covariance(residuals, x, scaled=not ba.arguments["absolute_sigma"]))
    return (x, pcov, *out[2:])


# ---------------------------------------------------------------- not differentiated


def _global(name):
    def rule(*a, **kw):
        raw = ORIGINALS[name]
        ba = inspect.signature(raw).bind(*a, **kw)
        key = "func" if "func" in ba.arguments else "fun"
        if any_traced(tuple(ba.arguments.values())) or key not in ba.arguments:
            raise NoRuleError(f"scipy.optimize.{name}", "traced arguments (a global search)")
        watch = Watch(ba.arguments[key])
        out = _call(raw, ba, **{key: watch})
        if watch.traced:
            raise NoRuleError(f"scipy.optimize.{name}", "a global search's result (polish it with "
                              "scipy.optimize.minimize, which differentiates)")
        return out

    rule.__name__ = rule.__qualname__ = f"{name}_rule"
    return rule


# ---------------------------------------------------------------- registration

_RULES = {
    "minimize": minimize,
    "minimize_scalar": minimize_scalar,
    **{n: _legacy(n) for n in _LEGACY},
    "least_squares": least_squares,
    "leastsq": leastsq,
    "curve_fit": curve_fit,
    **{n: _global(n) for n in ("differential_evolution", "basinhopping", "dual_annealing", "shgo",
                               "direct", "brute")},
}

for _name, _rule in _RULES.items():
    ORIGINALS[_name] = intercept_always(getattr(O, _name), _rule)
refuse(O.fmin_cobyla, "scipy.optimize.fmin_cobyla", "func")
refuse(O.fmin_slsqp, "scipy.optimize.fmin_slsqp", "func")
