"""Rules: ``scipy.interpolate`` (CubicSpline, PPoly, make_interp_spline, BSpline, interp1d,
KroghInterpolator, BarycentricInterpolator, RegularGridInterpolator, interpn).

Every interpolant here is *linear in its data* (the values ``y``, the B-spline coefficients
``c``, the grid ``values``) for fixed knots, up to an affine part (boundary-condition values,
``fill_value``), and smooth (piecewise) in the query points. One primitive,
``E(data, xq; model, nu)``, evaluates the ``nu``-th derivative of the interpolant ``model``
builds from ``data``, by SciPy itself (so the value is SciPy's own, bit for bit):

- cotangent of the data: ``J(xq)^T g``, where the rows of ``J`` are the interpolant of each
  unit vector of the data axis evaluated at ``xq`` -- ``E(I, xq)`` of the homogeneous model
  (affine parts zeroed), one SciPy call on the identity as data, then a ``tensordot``:
  O(n m) for n data points and m queries. For ``RegularGridInterpolator`` the methods are
  tensor products of 1-D interpolation, so ``J`` factorises into one 1-D matrix per axis
  (``einsum``), never an ``N x N`` identity over the whole grid;
- derivative in the query points: ``E(data, xq; nu + 1)`` (per axis for grids); zero for
  piecewise-constant kinds (``nearest``, ``previous``, ``next``, ``zero``), and zero where a
  ``fill_value`` replaces the interpolant;
- forward mode: ``E(t, xq)`` of the homogeneous model, and ``E(data, xq; nu + 1) t``.

All of them are again calls of ``E``, so every order of differentiation is exact.

SciPy's constructors convert the data with ``np.asarray``, so they are intercepted: built from
traced data, an object is SciPy's own, built from the plain values, and then becomes a subclass
(``isinstance`` still holds) that keeps the traced data and answers ``__call__`` through ``E``.
Its attributes holding derived arrays (``c``) raise rather than hand out values that would lose
the gradient, as do methods without a rule (``derivative``, ``antiderivative``, ``integrate``,
``roots``...): :class:`~pullback.NoRuleError`. Traced knots (``x`` of CubicSpline and
interp1d, ``t`` of BSpline, the grid ``points``), traced boundary-condition values and traced
fill values also raise :class:`~pullback.NoRuleError`. ``RegularGridInterpolator``'s ``pchip``
method (not linear in the values) runs SciPy's own passes of 1-d PCHIPs, each a traced
``PchipInterpolator`` (``interpolate_hermite``). The grid's spline methods (``cubic``, ``quintic``)
solve for their coefficients with SciPy's default *iterative* solver (``gcrotmk``), so SciPy's
value is the exact interpolant only up to that solver's tolerance (measured: 1e-5 relative for
cubic, a few percent for quintic on an 8x7 grid); the gradient in the values is the exact
interpolant's (per-axis direct solves). Pass ``solver=scipy.sparse.linalg.spsolve`` for values
and gradients that agree to rounding. A periodic spline's data has
``y[0] == y[-1]``; its gradient is given to ``y[0]`` (``y[-1]`` gets zero), and tangents of
``y[-1]`` are ignored likewise. ``np.interp`` has its own rule (``numpy_signal``).
"""

from __future__ import annotations

import copy

import numpy as np
import scipy.interpolate as S

from ..core import Tracer, strip
from ..errors import NoRuleError
from ..intercept import intercept, original
from .registry import any_traced, array_like, defcomposite, defvjp

ORIGINALS: dict[str, object] = {}


def _traced(v) -> bool:
    return isinstance(v, Tracer)


def _no_rule(what: str) -> NoRuleError:
    return NoRuleError(f"scipy.interpolate: {what}")


# ---------------------------------------------------------------- the evaluation primitive


def _eval_raw(data, xq, model, nu):
    return model.value(data, xq, nu)


def eval_vjp_data(g, ans, data, xq, model, nu):
    return model.adjoint(g, xq, nu)


def eval_vjp_xq(g, ans, data, xq, model, nu):
    return model.xq_vjp(g, data, xq, nu)


def eval_jvp_data(t, ans, data, xq, model, nu):
    return evaluate(model.tangent(t), xq, model.h, nu)


def eval_jvp_xq(t, ans, data, xq, model, nu):
    return model.xq_jvp(t, data, xq, nu)


evaluate = defvjp(_eval_raw, [eval_vjp_data, eval_vjp_xq], [eval_jvp_data, eval_jvp_xq],
                  name="scipy.interpolate.<interpolant evaluation>", key=False)


def _dot_real(d, g):
    """``Re(conj(d) g)`` (the cotangent of a real variable scaling ``d``)."""
    if d.dtype.kind == "c" or g.dtype.kind == "c":
        return np.real(np.conj(d) * g)
    return d * g


class _Model1D:
    """An interpolant along one axis, in the layout ``data (n, *trail)``, output ``xq.shape + trail``.

    Subclasses give ``value(data, xq, nu)`` (SciPy's evaluation, plain arrays), ``h`` (the
    homogeneous model) and may override ``basis``/``expand``/``tangent`` (periodic data).
    """

    n: int
    h: _Model1D

    def basis(self):
        return np.eye(self.n)

    def expand(self, r):
        return r

    def tangent(self, t):
        return t

    def adjoint(self, g, xq, nu):
        J = evaluate(self.basis(), xq, self.h, nu)  # xq.shape + (N,)
        k = np.ndim(xq)
        r = np.tensordot(J, g, axes=(list(range(k)), list(range(k))))
        return self.expand(r)

    def xq_vjp(self, g, data, xq, nu):
        d = evaluate(data, xq, self, nu + 1)
        p = _dot_real(d, g)
        k = np.ndim(xq)
        return np.sum(p, axis=tuple(range(k, p.ndim))) if p.ndim > k else p

    def xq_jvp(self, t, data, xq, nu):
        d = evaluate(data, xq, self, nu + 1)
        return d * np.reshape(t, np.shape(t) + (1,) * (d.ndim - np.ndim(t)))


def _periodic_basis(n):
    b = np.eye(n)[:, : n - 1]
    b[-1, 0] = 1.0
    return b


def _zeros_bc(bc, trail, style):
    """``bc`` with every prescribed derivative value replaced by zeros of shape ``trail``."""
    if isinstance(bc, str) or bc is None:
        return bc
    if style == "cubic":
        return tuple(b if isinstance(b, str) else (b[0], np.zeros(trail)) for b in bc)
    return tuple(None if side is None else [(o, np.zeros(trail)) for o, _ in side] for side in bc)


def _bc_traced(bc) -> bool:
    if bc is None or isinstance(bc, str):
        return False
    return any_traced([v for b in bc if not isinstance(b, str) and b is not None for v in
                        (b if isinstance(b, tuple) else [x for pair in b for x in pair])])


def _periodic(bc) -> bool:
    return isinstance(bc, str) and bc == "periodic"


class CubicSplineModel(_Model1D):
    def __init__(self, x, n, bc, extrapolate, call_extrapolate, homogeneous=False):
        self.x, self.n, self.bc, self.ext, self.call_ext = x, n, bc, extrapolate, call_extrapolate
        self.homogeneous = homogeneous
        self.h = self if homogeneous or isinstance(bc, str) else CubicSplineModel(
            x, n, bc, extrapolate, call_extrapolate, True)
        self.per = _periodic(bc)

    def value(self, data, xq, nu):
        bc = _zeros_bc(self.bc, data.shape[1:], "cubic") if self.homogeneous else self.bc
        return ORIGINALS["CubicSpline"](self.x, data, 0, bc, self.ext)(xq, nu, self.call_ext)

    def basis(self):
        return _periodic_basis(self.n) if self.per else np.eye(self.n)

    def expand(self, r):
        return np.concatenate([r, np.zeros_like(r[:1])]) if self.per else r

    def tangent(self, t):
        return np.concatenate([t[:-1], t[:1]]) if self.per else t


class MakeInterpModel(_Model1D):
    def __init__(self, x, n, k, t, bc, call_extrapolate, homogeneous=False):
        self.x, self.n, self.k, self.t, self.bc, self.call_ext = x, n, k, t, bc, call_extrapolate
        self.homogeneous = homogeneous
        self.h = self if homogeneous or bc is None or isinstance(bc, str) else MakeInterpModel(
            x, n, k, t, bc, call_extrapolate, True)
        self.per = _periodic(bc)

    def value(self, data, xq, nu):
        bc = _zeros_bc(self.bc, data.shape[1:], "bspline") if self.homogeneous else self.bc
        spl = ORIGINALS["make_interp_spline"](self.x, data, k=self.k, t=self.t, bc_type=bc, axis=0)
        return spl(xq, nu, self.call_ext)

    basis = CubicSplineModel.basis
    expand = CubicSplineModel.expand
    tangent = CubicSplineModel.tangent


class BSplineModel(_Model1D):
    def __init__(self, t, n, k, extrapolate, call_extrapolate):
        self.t, self.n, self.k, self.ext, self.call_ext = t, n, k, extrapolate, call_extrapolate
        self.h = self

    def value(self, data, xq, nu):
        return S.BSpline.construct_fast(self.t, data, self.k, self.ext, 0)(xq, nu, self.call_ext)


class PPolyModel(_Model1D):
    """A piecewise polynomial's coefficients ``c (k, m, *trail)`` as data (only ``xq`` traced)."""

    def __init__(self, cls, x, extrapolate, call_extrapolate):
        self.cls, self.x, self.ext, self.call_ext = cls, x, extrapolate, call_extrapolate
        self.h = self

    def value(self, data, xq, nu):
        return self.cls.construct_fast(data, self.x, self.ext, 0)(xq, nu, self.call_ext)

    def adjoint(self, g, xq, nu):
        raise _no_rule("the coefficients of a PPoly built from traced arrays")


class Interp1dModel(_Model1D):
    def __init__(self, x, n, kind, bounds_error, below, above, extrapolate, homogeneous=False):
        self.x, self.n, self.kind, self.bounds_error = x, n, kind, bounds_error
        self.below, self.above, self.extrapolate = below, above, extrapolate
        self.homogeneous = homogeneous
        self.h = self if homogeneous or extrapolate else Interp1dModel(
            x, n, kind, bounds_error, below, above, extrapolate, True)

    def _fill(self, trail):
        if self.extrapolate:
            return "extrapolate"
        if self.homogeneous:
            return 0.0
        return tuple(np.broadcast_to(np.squeeze(v) if np.size(v) == 1 else v, trail)
                     for v in (self.below, self.above))

    def value(self, data, xq, nu):
        fill = self._fill(data.shape[1:])
        if nu == 0:
            f = ORIGINALS["interp1d"](self.x, data, kind=self.kind, axis=0, copy=False,
                                      bounds_error=self.bounds_error, fill_value=fill,
                                      assume_sorted=True)
            return f(xq)
        xq = np.asarray(xq)
        shape = xq.shape + data.shape[1:]
        if self.kind in ("nearest", "nearest-up", "previous", "next", "zero") or (
                self.kind == "linear" and nu > 1):
            return np.zeros(shape, dtype=np.result_type(data.dtype, np.float64))
        k = {"linear": 1, "slinear": 1, "quadratic": 2, "cubic": 3}.get(self.kind, self.kind)
        spl = ORIGINALS["make_interp_spline"](self.x, data, k=k, axis=0)
        out = spl(xq, nu, True)
        if not self.extrapolate:
            inside = (xq >= self.x[0]) & (xq <= self.x[-1])
            out = np.where(np.reshape(inside, inside.shape + (1,) * (out.ndim - xq.ndim)), out, 0)
        return out


class GridModel:
    """``RegularGridInterpolator``: data ``values (n_1, ..., n_d, *trail)``, query ``xi (..., d)``,
    ``nu`` a tuple of derivative orders per axis."""

    def __init__(self, grid, method, bounds_error, fill_value, solver, solver_args, homogeneous=False,
                 obj=None):
        self.obj = obj  # a plain interpolant whose own values are the data (only xi is traced)
        self.grid, self.method, self.bounds_error = grid, method, bounds_error
        self.fill_value, self.solver, self.solver_args = fill_value, solver, solver_args
        self.homogeneous = homogeneous
        self.d = len(grid)
        self.h = self if homogeneous or fill_value is None else GridModel(
            grid, method, bounds_error, fill_value, solver, solver_args, True)

    def _make(self, data, method):
        if self.obj is not None and method == self.obj.method:
            return self.obj
        fill = 0.0 if (self.homogeneous and self.fill_value is not None) else self.fill_value
        kw = {}
        if self.solver is not None:
            kw["solver"] = self.solver
        if self.solver_args is not None:
            kw["solver_args"] = self.solver_args
        return ORIGINALS["RegularGridInterpolator"](self.grid, data, method=method,
                                                    bounds_error=self.bounds_error, fill_value=fill,
                                                    **kw)

    def value(self, data, xi, nu):
        if not any(nu):
            return self._make(data, self.method)(xi)
        xi = np.asarray(xi)
        shape = xi.shape[:-1] + data.shape[self.d:]
        if self.method == "nearest" or (self.method == "linear" and max(nu) > 1):
            return np.zeros(shape, dtype=np.result_type(data.dtype, np.float64))
        method = "slinear" if self.method == "linear" else self.method
        out = self._make(data, method)(xi, nu=nu)
        if self.fill_value is not None:
            inside = np.ones(xi.shape[:-1], dtype=bool)
            for a, g in enumerate(self.grid):
                inside &= (xi[..., a] >= g[0]) & (xi[..., a] <= g[-1])
            out = np.where(np.reshape(inside, inside.shape + (1,) * (out.ndim - inside.ndim)), out, 0)
        return out

    def tangent(self, t):
        return t

    def axis_model(self, a):
        # the exact 1-D spline (a direct solve), whatever solver the N-d interpolant was given
        spline = self.method not in ("linear", "nearest")
        return GridModel((self.grid[a],), self.method, False, self.fill_value,
                         _spsolve() if spline else None, None, True)

    def adjoint(self, g, xi, nu):
        letters = "abcdefghijklmnop"
        mats = []
        for a in range(self.d):
            n = self.grid[a].shape[0]
            mats.append(evaluate(np.eye(n), xi[..., a:a + 1], self.axis_model(a), (nu[a],)))
        k = np.ndim(xi) - 1
        q = "".join(letters[self.d + i] for i in range(k))
        trail = "".join(letters[self.d + k + i] for i in range(np.ndim(g) - k))
        subs = ",".join(q + letters[a] for a in range(self.d)) + f",{q}{trail}->"
        return np.einsum(subs + letters[: self.d] + trail, *mats, g)

    def _nu(self, nu, a):
        return tuple(v + (i == a) for i, v in enumerate(nu))

    def xq_vjp(self, g, data, xi, nu):
        parts = []
        k = np.ndim(xi) - 1
        for a in range(self.d):
            p = _dot_real(evaluate(data, xi, self, self._nu(nu, a)), g)
            parts.append(np.sum(p, axis=tuple(range(k, p.ndim))) if p.ndim > k else p)
        return np.stack(parts, axis=-1)

    def xq_jvp(self, t, data, xi, nu):
        total = 0
        for a in range(self.d):
            d = evaluate(data, xi, self, self._nu(nu, a))
            ta = t[..., a]
            total = total + d * np.reshape(ta, np.shape(ta) + (1,) * (d.ndim - np.ndim(ta)))
        return total


def _spsolve():
    from scipy.sparse.linalg import spsolve

    return spsolve


# ---------------------------------------------------------------- layouts


def _ppoly_layout(out, x_ndim, axis):
    """PPoly/BSpline's placement of the query dimensions at ``axis`` (from axis-0 layout)."""
    if axis == 0:
        return out
    ax = list(range(out.ndim))
    return np.transpose(out, ax[x_ndim:x_ndim + axis] + ax[:x_ndim] + ax[x_ndim + axis:])


# ---------------------------------------------------------------- traced objects

_TRACED_CLASSES: dict[type, type] = {}


def _refuse(name):
    def refused(self, *args, **kwargs):
        raise _no_rule(f"{type(self).__mro__[1].__name__}.{name} of an interpolant built from "
                       "traced data")

    refused.__name__ = name
    return refused


def _refused_attribute(name):
    def get(self):
        raise _no_rule(f"the attribute {name!r} of an interpolant built from traced data (its "
                       "gradient would be lost)")

    return property(get)


def _traced_class(cls, call, methods=None, refused=()):
    """The traced twin class of ``cls``: ``__call__`` is ``call``, ``methods`` (name -> function)
    are answered too, every other method and attribute that reads the data refuses."""
    sub = _TRACED_CLASSES.get(cls)
    if sub is None:
        attrs = {"__call__": call, "__module__": __name__, "__doc__": cls.__doc__}
        for name in ("derivative", "derivatives", "antiderivative", "integrate", "roots", "solve",
                     "extend", "insert_design_matrix", "design_matrix", "set_yi", "add_xi",
                     "__reduce__"):
            if hasattr(cls, name):
                attrs[name] = _refuse(name)
        for name in ("c", "y", "_y", "values", "_values", "_spline") + tuple(refused):
            attrs[name] = _refused_attribute(name)
        attrs.update(methods or {})
        sub = type(cls.__name__, (cls,), attrs)
        _TRACED_CLASSES[cls] = sub
    return sub


def _become_traced(obj, model, data, call, methods=None, refused=()):
    """Turn the (plain) SciPy object ``obj`` into its traced twin holding ``data`` and ``model``
    (``methods``, ``refused``: :func:`_traced_class`'s)."""
    twin = copy.copy(obj)
    obj.__class__ = _traced_class(type(obj), call, methods, refused)
    obj.__dict__["_pb_model"] = model
    obj.__dict__["_pb_data"] = data
    obj.__dict__["_pb_plain"] = twin
    return obj


# ---------------------------------------------------------------- CubicSpline and PPoly


def cubic_spline_init(self, x, y, axis=0, bc_type="not-a-knot", extrapolate=None):
    if _traced(x):
        raise _no_rule("CubicSpline with traced knots x (differentiate w.r.t. y and the query points)")
    if _bc_traced(bc_type):
        raise _no_rule("CubicSpline with traced boundary-condition values")
    y = array_like(y)
    ORIGINALS["CubicSpline.__init__"](self, x, strip(y), axis, bc_type, extrapolate)
    axis = axis % y.ndim if y.ndim else axis
    data = np.moveaxis(y, axis, 0) if axis else y
    model = CubicSplineModel(np.asarray(x), y.shape[axis], bc_type, self.extrapolate, None)
    _become_traced(self, model, data, _spline_call)


def _with_call_ext(model, ext):
    """``model`` (and its homogeneous part) evaluated with the call's ``extrapolate``."""
    m = copy.copy(model)
    m.call_ext = ext
    if model.h is model:
        m.h = m
    else:
        m.h = copy.copy(model.h)
        m.h.call_ext = ext
        m.h.h = m.h
    return m


def _spline_call(self, x, nu=0, extrapolate=None):
    """``__call__`` of a spline built from traced data: the evaluation primitive."""
    d = self.__dict__
    if extrapolate is None:
        extrapolate = d["_pb_plain"].extrapolate
    model = _with_call_ext(d["_pb_model"], extrapolate)
    x = array_like(x)
    out = evaluate(d["_pb_data"], x, model, nu)
    return _ppoly_layout(out, x.ndim, d["_pb_plain"].axis)


def ppoly_call(self, x, nu=0, extrapolate=None):
    """``PPoly.__call__`` (CubicSpline, Akima, PCHIP ...) with traced query points."""
    if extrapolate is None:
        extrapolate = self.extrapolate
    x = array_like(x)
    model = PPolyModel(type(self), self.x, self.extrapolate, extrapolate)
    return _ppoly_layout(evaluate(self.c, x, model, nu), x.ndim, self.axis)


def bspline_call(self, x, nu=0, extrapolate=None):
    """``BSpline.__call__`` with traced query points."""
    if extrapolate is None:
        extrapolate = self.extrapolate
    x = array_like(x)
    model = BSplineModel(self.t, self.c.shape[0], self.k, self.extrapolate, extrapolate)
    return _ppoly_layout(evaluate(self.c, x, model, nu), x.ndim, self.axis)


# ---------------------------------------------------------------- BSpline, make_interp_spline


def bspline_init(self, t, c, k, extrapolate=True, axis=0):
    if _traced(t):
        raise _no_rule("BSpline with traced knots t (differentiate w.r.t. c and the query points)")
    c = array_like(c)
    ORIGINALS["BSpline.__init__"](self, t, strip(c), k, extrapolate, axis)
    axis = axis % c.ndim if c.ndim else axis
    data = np.moveaxis(c, axis, 0) if axis else c
    model = BSplineModel(self.t, data.shape[0], self.k, self.extrapolate, None)
    _become_traced(self, model, data, _spline_call)


def make_interp_spline(x, y, k=3, t=None, bc_type=None, axis=0, check_finite=True):
    if _traced(x) or _traced(t):
        raise _no_rule("make_interp_spline with traced knots (differentiate w.r.t. y and the query "
                       "points)")
    if _bc_traced(bc_type):
        raise _no_rule("make_interp_spline with traced boundary-condition values")
    y = array_like(y)
    spl = ORIGINALS["make_interp_spline"](x, strip(y), k, t, bc_type, axis, check_finite)
    axis = axis % y.ndim if y.ndim else axis
    data = np.moveaxis(y, axis, 0) if axis else y
    model = MakeInterpModel(np.asarray(x), y.shape[axis], k, t, bc_type, None)
    return _become_traced(spl, model, data, _spline_call)


# ---------------------------------------------------------------- interp1d


def interp1d_init(self, x, y, kind="linear", axis=-1, copy=True, bounds_error=None,
                  fill_value=np.nan, assume_sorted=False):
    if _traced(x):
        raise _no_rule("interp1d with traced x (differentiate w.r.t. y and the query points)")
    if any_traced([fill_value]):
        raise _no_rule("interp1d with a traced fill_value")
    y = array_like(y)
    ORIGINALS["interp1d.__init__"](self, x, strip(y), kind, axis, copy, bounds_error, fill_value,
                                   assume_sorted)
    ax = self.axis
    data = np.moveaxis(y, ax, 0) if ax else y
    if not assume_sorted:
        order = np.argsort(np.asarray(x), kind="mergesort")
        data = data[order]
    _become_traced(self, _interp1d_model(self, data.shape[0]), data, _interp1d_call)


def _interp1d_model(obj, n):
    return Interp1dModel(obj.x, n, _interp1d_kind(obj), obj.bounds_error,
                         getattr(obj, "_fill_value_below", None), getattr(obj, "_fill_value_above", None),
                         obj._extrapolate)


def _interp1d_kind(obj):
    kind = obj._kind
    if kind in ("linear", "nearest", "nearest-up", "previous", "next"):
        return kind
    return {0: "zero", 1: "slinear", 2: "quadratic", 3: "cubic"}.get(obj._spline.k, obj._spline.k)


def _query_at_axis(out, xn, axis):
    """``out`` (the ``xn`` query dimensions first) with them at ``axis`` of the data's shape, as
    SciPy's 1-D interpolators place them (``_finish_y``)."""
    if axis == 0 or xn == 0:
        return out
    ax = list(range(out.ndim))
    return np.transpose(out, ax[xn:xn + axis] + ax[:xn] + ax[xn + axis:])


def _interp1d_out(self, out, x):
    return _query_at_axis(out, np.ndim(x), self.axis)


def _interp1d_call(self, x):
    d = self.__dict__
    x = array_like(x)
    out = evaluate(d["_pb_data"], x, d["_pb_model"], 0)
    return _interp1d_out(d["_pb_plain"], out, x)


def interp1d_call(self, x):
    """``interp1d.__call__`` with traced query points (plain data). The method is SciPy's
    ``_Interpolator1D.__call__``, which Krogh's and the barycentric interpolator share."""
    if isinstance(self, (S.KroghInterpolator, S.BarycentricInterpolator)):
        return poly_call(self, x)
    if not isinstance(self, S.interp1d):
        raise _no_rule(f"{type(self).__name__} (a 1-D interpolator pullback has no rule for) at traced "
                       "query points")
    x = array_like(x)
    data = np.moveaxis(self.y, self.axis, 0) if self.axis else self.y
    out = evaluate(data, x, _interp1d_model(self, data.shape[0]), 0)
    return _interp1d_out(self, out, x)


# ---------------------------------------------------------------- KroghInterpolator, BarycentricInterpolator


class PolyModel(_Model1D):
    """``KroghInterpolator`` / ``BarycentricInterpolator``: the polynomial through ``(xi, data)``
    (Krogh's repeated ``xi`` take derivative values), linear in the data, a polynomial (a rational
    formula, for the barycentric form) in the query points.

    ``obj`` is a plain interpolant of the data ``own`` (the very array): evaluated for it, so the
    value is SciPy's own; other data (the basis, tangents) get an interpolant of the same ``xi``
    (and barycentric weights: SciPy draws them with a random permutation).
    """

    def __init__(self, obj, own):
        self.obj, self.own, self.n = obj, own, len(obj.xi)
        self.h = self

    def _interpolant(self, data):
        obj = self.obj
        if data is self.own:
            return obj
        if isinstance(obj, S.BarycentricInterpolator):
            return type(obj)(obj.xi, data, axis=0, wi=obj.wi)
        return type(obj)(obj.xi, data, axis=0)

    def value(self, data, xq, nu):
        p = self._interpolant(data)
        out = p(xq) if nu == 0 else p.derivative(xq, nu)
        return _query_first(out, np.ndim(xq), p._y_axis)


def _query_first(out, xn, axis):
    """Undo SciPy's placement of the ``xn`` query dimensions at ``axis`` (``_finish_y``)."""
    if axis == 0 or xn == 0:
        return out
    ax = list(range(out.ndim))
    return np.transpose(out, ax[axis:axis + xn] + ax[:axis] + ax[axis + xn:])


def _poly_eval(obj, data, model, x, nu):
    x = array_like(x)
    return _query_at_axis(evaluate(data, x, model, int(nu)), x.ndim, obj._y_axis)


def _poly_plain(obj):
    """The model and data of a plain Krogh or barycentric interpolant (traced query points)."""
    data = np.reshape(obj.yi, (obj.yi.shape[0],) + tuple(obj._y_extra_shape))
    return PolyModel(obj, data), data


def poly_call(self, x):
    """``__call__`` of a plain ``KroghInterpolator`` / ``BarycentricInterpolator`` at traced
    query points."""
    if getattr(self, "yi", None) is None:  # SciPy's own error (no y values yet)
        return ORIGINALS["interp1d.__call__"](self, strip(x))
    model, data = _poly_plain(self)
    return _poly_eval(self, data, model, x, 0)


def poly_derivative(self, x, der=1):
    """``derivative`` of a plain ``KroghInterpolator`` / ``BarycentricInterpolator`` at traced
    query points."""
    model, data = _poly_plain(self)
    return _poly_eval(self, data, model, x, der)


def _poly_traced_call(self, x):
    d = self.__dict__
    return _poly_eval(d["_pb_plain"], d["_pb_data"], d["_pb_model"], x, 0)


def _poly_traced_derivative(self, x, der=1):
    d = self.__dict__
    return _poly_eval(d["_pb_plain"], d["_pb_data"], d["_pb_model"], x, der)


def _poly_become_traced(obj, yi):
    data = np.moveaxis(yi, obj._y_axis, 0) if obj._y_axis else yi
    _become_traced(obj, None, data, _poly_traced_call, {"derivative": _poly_traced_derivative},
                   ("yi", "_diff_baryint"))
    obj.__dict__["_pb_model"] = PolyModel(obj.__dict__["_pb_plain"], strip(data))


def krogh_init(self, xi, yi, axis=0):
    if _traced(xi):
        raise _no_rule("KroghInterpolator with traced xi (differentiate w.r.t. yi and the query "
                       "points)")
    yi = array_like(yi)
    ORIGINALS["KroghInterpolator.__init__"](self, xi, strip(yi), axis)
    _poly_become_traced(self, yi)


def barycentric_init(self, xi, yi=None, axis=0, *, wi=None, rng=None):
    if _traced(xi) or _traced(wi):
        raise _no_rule("BarycentricInterpolator with traced xi or weights (differentiate w.r.t. yi "
                       "and the query points)")
    yi = array_like(yi)
    ORIGINALS["BarycentricInterpolator.__init__"](self, xi, strip(yi), axis, wi=wi, rng=rng)
    _poly_become_traced(self, yi)

# ---------------------------------------------------------------- RegularGridInterpolator, interpn

_LINEAR_METHODS = ("linear", "nearest", "slinear", "cubic", "quintic")


def rgi_init(self, points, values, method="linear", bounds_error=True, fill_value=np.nan, *,
             solver=None, solver_args=None):
    if any_traced(points):
        raise _no_rule("RegularGridInterpolator with traced grid points (differentiate w.r.t. "
                       "values and the query points)")
    if _traced(fill_value):
        raise _no_rule("RegularGridInterpolator with a traced fill_value")
    values = array_like(values)
    if method not in S.RegularGridInterpolator._ALL_METHODS:  # SciPy's constructor raises
        raise ValueError(f"Method '{method}' is not defined")
    if _traced(values) and method not in _LINEAR_METHODS + ("pchip",):
        raise _no_rule(f"RegularGridInterpolator(method={method!r}) with traced values (not linear "
                       "in them)")
    kw = {}
    if solver is not None:
        kw["solver"] = solver
    if solver_args is not None:
        kw["solver_args"] = solver_args
    ORIGINALS["RegularGridInterpolator.__init__"](self, points, strip(values), method, bounds_error,
                                                  fill_value, **kw)
    self.__dict__["_pb_solver"] = (solver, solver_args)
    _become_traced(self, None, _ascending(values, getattr(self, "_descending_dimensions", ())), _rgi_call)


def _ascending(values, descending):
    """The grid ``values`` in the order of SciPy's (ascending) grid: flipped along the axes whose
    points were given descending, as SciPy flips its own copy."""
    return np.flip(values, axis=descending) if descending else values


def _rgi_model(obj, method, solver=None, solver_args=None, own=False):
    return GridModel(obj.grid, method, obj.bounds_error, obj.fill_value, solver, solver_args,
                     obj=obj if own else None)


def _rgi_xi(xi, d):
    """The query points as SciPy reads them (``_ndim_coords_from_arrays``): a tuple holds one array
    per coordinate, anything else (a list too) is an array of points, a 1-d one reshaped to rows of
    ``d``."""
    if type(xi) is tuple and len(xi) == 1:
        xi = xi[0]
    if type(xi) is tuple:
        return np.stack(np.broadcast_arrays(*[array_like(v) for v in xi]), axis=-1)
    xi = array_like(xi)
    if xi.ndim == 1:
        xi = np.reshape(xi, (-1, d))
    return xi


def _rgi_pchip(plain, values, xi):
    """``RegularGridInterpolator(method='pchip')`` of traced values: SciPy's own passes (a PCHIP
    along the last axis for every point, then along each earlier axis point by point), each a
    traced ``PchipInterpolator`` (its slopes are SciPy's formulas: the same bits), the points
    out of bounds and the NaNs then as SciPy sets them."""
    _, xi_shape, n, nans, out_of_bounds = plain._prepare_xi(np.asarray(strip(xi), dtype=float))
    xi = np.reshape(xi, (-1, xi_shape[-1]))
    if xi.dtype != np.float64:
        xi = xi.astype(np.float64)
    axes = tuple(range(values.ndim))
    values = np.transpose(values, axes[:n][::-1] + axes[n:])
    grid = plain.grid
    first = S.PchipInterpolator(grid[n - 1], values, axis=0)(xi[:, n - 1])
    rows = []
    for j in range(xi.shape[0]):
        folded = first[j, ...]
        for i in range(n - 2, -1, -1):
            folded = S.PchipInterpolator(grid[i], folded, axis=0)(xi[j, i])
        rows.append(folded)
    result = np.stack(rows)
    if result.dtype != values.dtype:  # (SciPy writes the points into a buffer of the values' dtype)
        result = result.astype(values.dtype)
    if not plain.bounds_error and plain.fill_value is not None and np.any(out_of_bounds):
        mask = np.reshape(out_of_bounds, out_of_bounds.shape + (1,) * (result.ndim - 1))
        result = np.where(mask, np.asarray(plain.fill_value, dtype=result.dtype), result)
    if np.any(nans):
        result = np.where(np.reshape(nans, nans.shape + (1,) * (result.ndim - 1)), np.nan, result)
    return np.reshape(result, tuple(xi_shape[:-1]) + tuple(values.shape[n:]))


def _rgi_eval(obj, plain, values, xi, method, nu, own=False):
    method = plain.method if method is None else method
    if method == "pchip":  # (traced values or points: SciPy's passes of traced PCHIPs)
        if nu is not None:
            raise ValueError(f"Can only compute derivatives for methods "
                             f"{S.RegularGridInterpolator._SPLINE_METHODS_ndbspl}, got {method =}.")
        return _rgi_pchip(plain, values, _rgi_xi(xi, len(plain.grid)))
    if _traced(values) and method not in _LINEAR_METHODS:
        raise _no_rule(f"RegularGridInterpolator with method={method!r} and traced values")
    d = len(plain.grid)
    xi = _rgi_xi(xi, d)
    nu = (0,) * d if nu is None else tuple(int(v) for v in nu)
    solver, solver_args = obj.__dict__.get("_pb_solver", (None, None))
    return evaluate(values, xi, _rgi_model(plain, method, solver, solver_args, own), nu)


def _rgi_call(self, xi, method=None, *, nu=None):
    d = self.__dict__
    return _rgi_eval(self, d["_pb_plain"], d["_pb_data"], xi, method, nu)


def rgi_call(self, xi, method=None, *, nu=None):
    """``RegularGridInterpolator.__call__`` with traced query points (plain values)."""
    return _rgi_eval(self, self, self.values, xi, method, nu, own=True)


#: The methods SciPy's interpn accepts (others raise its ValueError)
_INTERPN_METHODS = ("linear", "nearest", "cubic", "quintic", "pchip", "splinef2d", "slinear",
                    "slinear_legacy", "cubic_legacy", "quintic_legacy")


def interpn(points, values, xi, method="linear", bounds_error=True, fill_value=np.nan):
    if method not in _INTERPN_METHODS:
        raise ValueError("interpn only understands the methods 'linear', 'nearest', 'slinear', 'cubic', "
                         f"'quintic', 'pchip', and 'splinef2d'. You provided {method}.")
    if method not in _LINEAR_METHODS + ("pchip",):
        raise _no_rule(f"interpn with method={method!r} and traced values")
    return S.RegularGridInterpolator(points, values, method=method, bounds_error=bounds_error,
                                     fill_value=fill_value)(xi)


# ---------------------------------------------------------------- interception


def _hook(owner, attr, key, rule):
    """Send traced calls of ``owner.attr`` to ``rule``. A method whose code cannot be swapped (it
    uses ``super()``, a closure cell) is replaced on its class by a dispatcher, which
    ``ORIGINALS[key]`` undoes."""
    func = owner.__dict__.get(attr, getattr(owner, attr))
    if isinstance(owner, type) and getattr(func, "__code__", None) is not None and func.__code__.co_freevars:
        ORIGINALS[key] = func

        def dispatch(*args, **kwargs):
            if any_traced(args) or any_traced(kwargs.values()):
                return rule(*args, **kwargs)
            return func(*args, **kwargs)

        dispatch.__name__, dispatch.__qualname__ = func.__name__, func.__qualname__
        dispatch.__doc__, dispatch.__wrapped__ = func.__doc__, func
        setattr(owner, attr, dispatch)
        return
    intercept(func, rule)
    ORIGINALS[key] = original(func)


ORIGINALS["CubicSpline"] = S.CubicSpline
ORIGINALS["RegularGridInterpolator"] = S.RegularGridInterpolator
ORIGINALS["interp1d"] = S.interp1d
_hook(S.CubicSpline, "__init__", "CubicSpline.__init__", cubic_spline_init)
_hook(S.BSpline, "__init__", "BSpline.__init__", bspline_init)
_hook(S.interp1d, "__init__", "interp1d.__init__", interp1d_init)
_hook(S.RegularGridInterpolator, "__init__", "RegularGridInterpolator.__init__", rgi_init)
_hook(S.PPoly, "__call__", "PPoly.__call__", ppoly_call)
_hook(S.BSpline, "__call__", "BSpline.__call__", bspline_call)
_hook(S.interp1d, "__call__", "interp1d.__call__", interp1d_call)  # (_Interpolator1D's, shared)
_hook(S.KroghInterpolator, "__init__", "KroghInterpolator.__init__", krogh_init)
_hook(S.BarycentricInterpolator, "__init__", "BarycentricInterpolator.__init__", barycentric_init)
_hook(S.KroghInterpolator, "derivative", "KroghInterpolator.derivative", poly_derivative)
_hook(S.BarycentricInterpolator, "derivative", "BarycentricInterpolator.derivative", poly_derivative)
_hook(S.RegularGridInterpolator, "__call__", "RegularGridInterpolator.__call__", rgi_call)
for _name, _f in (("make_interp_spline", make_interp_spline), ("interpn", interpn)):
    _func = getattr(S, _name)
    defcomposite(_func, _f)
    _hook(S, _name, _name, _f)
