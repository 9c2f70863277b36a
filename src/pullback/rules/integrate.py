"""Rules: ``scipy.integrate`` (trapezoid, simpson, cumulative_trapezoid, cumulative_simpson, romb, quad,
solve_ivp, odeint).

SciPy converts its inputs with ``np.asarray``, so each function is intercepted
(:mod:`pullback.intercept`).

- **Sampled-data rules** (``trapezoid``, ``simpson``, ``cumulative_trapezoid``,
  ``cumulative_simpson``, ``romb``) are
  SciPy's own formulas written with NumPy calls (composites): the value is SciPy's, and ``y``,
  ``x`` and ``dx`` differentiate, forward mode and higher orders included.
- **quad** is differentiated under the integral sign. SciPy's ``quad`` runs on plain values
  (the integrand's output stripped of its trace); its final partition of ``[a, b]``
  (``full_output``'s ``alist``/``blist``) carries a Gauss-Kronrod 21-point rule, and on those
  fixed nodes ``F = (b - a) sum_i w_i f(a + (b - a) u_i)`` is evaluated traced. The result is
  ``value + (F - stop_gradient(F))``: SciPy's value bit for bit, with the derivatives of ``F``
  -- the same quadrature applied to ``d f / d theta`` for parameters the integrand closes over
  or receives in ``args``, and ``f(b)``, ``-f(a)`` for the limits (the change of variables makes
  them exact for the rule). The derivative is as accurate as that quadrature of ``d f``,
  typically like quad's own error estimate. Over an infinite interval the same is done on
  QUADPACK's transformed range ``(0, 1]`` with its 15-point rule (``x = a + (1 - t)/t``).
  ``weight`` and ``points`` raise :class:`~pullback.NoRuleError`. The error estimate and
  ``full_output``'s ``infodict`` are SciPy's plain values (diagnostics: not differentiated).
- **solve_ivp** with the explicit Runge-Kutta methods (``RK23``, ``RK45``, ``DOP853``): SciPy
  solves on plain values (step-size control is not differentiated), then the accepted steps
  are replayed with the same Butcher tableau as NumPy operations on traced values, calling
  the user's ``fun`` with traced ``y`` (and ``args``), and the dense-output polynomial gives
  ``t_eval``. This is the exact derivative of the computed discrete solution with respect to
  ``y0``, ``args``, everything ``fun`` closes over, and ``t_eval``; forward mode and higher
  orders come free, and the replayed value is SciPy's (the same operations in the same order).
  The steps are the ones SciPy chose for the unperturbed data: on a stiff problem at loose
  tolerances they may be unstable for perturbations the solution never contained (high
  Fourier modes of a PDE), and then so is this derivative; tighten ``rtol``/``atol`` there.
  ``dense_output=True`` gives a ``sol.sol`` whose values are SciPy's and whose derivatives are
  the replayed steps' interpolants' (w.r.t. the same inputs and the query times).
  ``events`` and traced ``t_span`` raise :class:`~pullback.NoRuleError`.
- **solve_ivp** with the implicit methods (Radau, BDF, LSODA) is a primitive in ``y0``, the
  arrays of ``args`` and ``t_eval``, by the adjoint method on SciPy's dense output of the forward
  solution (backward ``a' = -J_y^T a``, ``p' = -J_args^T a`` between output times, by solve_ivp
  with the same method and tolerances): accurate to those tolerances, first order only (a second
  derivative raises), and an RHS closing over traced values raises (pass them in ``args``).
- **odeint** (LSODA) is a primitive in ``y0``, ``t`` and the arrays of ``args``, with the
  adjoint method: between consecutive output times the augmented system
  ``y' = f``, ``a' = -J_y^T a``, ``p' = -J_args^T a`` is integrated backward by ``odeint``
  itself (Froehlich et al. 2017, sec. 2.4.2, as in HIPS autograd), with vector-Jacobian
  products of ``func`` by pullback; ``d/d t_i = g_i . f(y_i, t_i)`` and
  ``d/d t_0 = -a(t_0) . f(y_0, t_0)``. The backward pass is itself ``odeint`` calls and NumPy,
  so it differentiates in turn (second order, forward mode by transposition). Accuracy: that of
  the backward solve, governed by the same ``rtol``/``atol`` (about 1e-7 relative at SciPy's
  defaults; ``tests/rules/test_integrate.py`` measures it). An RHS that closes over traced
  values (rather than receiving them in ``args``) raises :class:`~pullback.NoRuleError`. The
  state is recomputed backward from each stored output, so very stiff problems are better
  served by ``solve_ivp`` with an implicit method (whose adjoint reads the forward solution).

``solve_ivp``, ``odeint`` and ``quad`` take a callable that may close over traced values, which
no argument shows; so their intercepts see every call (plain ones run SciPy's code with the
callable's results passed through untouched).
"""

from __future__ import annotations

import numpy as np
import scipy.integrate as I
from scipy.integrate._ivp import rk as _rk
from scipy.integrate._ivp.base import DenseOutput
from scipy.integrate._ivp.common import OdeSolution

from ..core import Tracer, strip
from ..dispatch import TracedArray, TracedWeak
from ..errors import NoRuleError
from ..intercept import intercept, original, route
from .callables import Watch, intercept_always
from .registry import UserRule, _with_values, any_traced, array_like, defcomposite, strip_tree

ORIGINALS: dict[str, object] = {}


def _traced(v) -> bool:
    return isinstance(v, Tracer)


def _route(name, handler):
    func = getattr(I, name)
    ORIGINALS[name] = original(func)
    defcomposite(func, handler)
    route(func)
    return func


def _intercept_always(name, rule):
    ORIGINALS[name] = intercept_always(getattr(I, name), rule)


# ---------------------------------------------------------------- sampled data


def _slices(nd, axis, s):
    out = [slice(None)] * nd
    out[axis] = s
    return tuple(out)


def trapezoid(y, x=None, dx=1.0, axis=-1):
    y = array_like(y)
    nd = y.ndim
    s1, s2 = _slices(nd, axis, slice(1, None)), _slices(nd, axis, slice(None, -1))
    if x is None:
        d = dx
    else:
        x = array_like(x)
        if x.ndim == 1:
            d = x[1:] - x[:-1]
            s3 = [None] * nd
            s3[axis] = slice(None)
            d = d[tuple(s3)]
        else:
            x = np.broadcast_to(x, y.shape)
            d = x[s1] - x[s2]
    dtype = np.result_type(strip(y).dtype, np.float64 if y.dtype.kind in "iub" else y.dtype)
    return np.sum(d * (y[s1] + y[s2]) / 2.0, axis=axis, dtype=dtype)


def _true_divide(a, b):
    """``np.true_divide(a, b, where=b != 0)`` with zeros elsewhere, for traced operands."""
    nz = strip(b) != 0
    return np.where(nz, a / np.where(nz, b, 1), 0)


def _basic_simpson(y, start, stop, x, dx, axis):
    nd = y.ndim
    step = 2
    s0 = _slices(nd, axis, slice(start, stop, step))
    s1 = _slices(nd, axis, slice(start + 1, stop + 1, step))
    s2 = _slices(nd, axis, slice(start + 2, stop + 2, step))
    if x is None:
        result = np.sum(y[s0] + 4.0 * y[s1] + y[s2], axis=axis)
        return result * (dx / 3.0)
    h = np.diff(x, axis=axis)
    h0 = h[_slices(nd, axis, slice(start, stop, step))].astype(float, copy=False)
    h1 = h[_slices(nd, axis, slice(start + 1, stop + 1, step))].astype(float, copy=False)
    hsum = h0 + h1
    hprod = h0 * h1
    h0divh1 = _true_divide(h0, h1)
    tmp = hsum / 6.0 * (y[s0] * (2.0 - _true_divide(1.0, h0divh1))
                        + y[s1] * (hsum * _true_divide(hsum, hprod))
                        + y[s2] * (2.0 - h0divh1))
    return np.sum(tmp, axis=axis)


def simpson(y, x=None, *, dx=1.0, axis=-1):
    y = array_like(y)
    nd = y.ndim
    N = y.shape[axis]
    last_dx = dx
    if x is not None:
        x = array_like(x)
        if x.ndim == 1:
            shapex = [1] * nd
            shapex[axis] = x.shape[0]
            x = np.reshape(x, tuple(shapex))
        elif x.ndim != nd:
            raise ValueError("If given, shape of x must be 1-D or the same as y.")
        if x.shape[axis] != N:
            raise ValueError("If given, length of x along axis must be the same as y.")
    if N % 2 == 1:
        return _basic_simpson(y, 0, N - 2, x, dx, axis)
    all_ = (slice(None),) * nd
    s1, s2, s3 = (_tupleset(all_, axis, k) for k in (-1, -2, -3))
    if N == 2:
        if x is not None:
            last_dx = x[s1] - x[s2]
        return 0.0 + 0.5 * last_dx * (y[s1] + y[s2])
    result = _basic_simpson(y, 0, N - 3, x, dx, axis)
    if x is None:
        h = np.asarray([dx, dx], dtype=np.float64)
        h0, h1 = h[0], h[1]
    else:
        diffs = np.diff(x, axis=axis).astype(np.float64)
        h0 = np.squeeze(diffs[_tupleset(all_, axis, slice(-2, -1, 1))], axis=axis)
        h1 = np.squeeze(diffs[_tupleset(all_, axis, slice(-1, None, 1))], axis=axis)
    alpha = _true_divide(2 * h1 ** 2 + 3 * h0 * h1, 6 * (h1 + h0))
    beta = _true_divide(h1 ** 2 + 3.0 * h0 * h1, 6 * h0)
    eta = _true_divide(1 * h1 ** 3, 6 * h0 * (h0 + h1))
    total = result + (alpha * y[s1] + beta * y[s2] - eta * y[s3])
    if np.ndim(result) and total.dtype != result.dtype:
        total = total.astype(result.dtype)  # SciPy adds in place into an array: its dtype stays
    return total + 0.0


def _tupleset(t, i, value):
    t = list(t)
    t[i] = value
    return tuple(t)


def cumulative_trapezoid(y, x=None, dx=1.0, axis=-1, initial=None):
    y = array_like(y)
    if y.shape[axis] == 0:
        raise ValueError("At least one point is required along `axis`.")
    if x is None:
        d = dx
    else:
        x = array_like(x)
        if x.ndim == 1:
            d = np.diff(x)
            shape = [1] * y.ndim
            shape[axis] = -1
            d = np.reshape(d, tuple(shape))
        elif x.ndim != y.ndim:
            raise ValueError("If given, shape of x must be 1-D or the same as y.")
        else:
            d = np.diff(x, axis=axis)
        if d.shape[axis] != y.shape[axis] - 1:
            raise ValueError("If given, length of x along axis must be the same as y.")
    nd = y.ndim
    s1, s2 = _slices(nd, axis, slice(1, None)), _slices(nd, axis, slice(None, -1))
    res = np.cumulative_sum(d * (y[s1] + y[s2]) / 2.0, axis=axis)
    if initial is not None:
        if _traced(initial) or initial != 0:
            raise ValueError("`initial` must be `None` or `0`.")
        if not np.isscalar(initial):
            raise ValueError("`initial` parameter should be a scalar.")
        shape = list(res.shape)
        shape[axis] = 1
        res = np.concatenate((np.full(tuple(shape), initial, dtype=res.dtype), res), axis=axis)
    return res


def romb(y, dx=1.0, axis=-1, show=False):
    y = array_like(y)
    if show:
        raise NoRuleError("scipy.integrate.romb with show=True")
    nd = y.ndim
    ninterv = y.shape[axis] - 1
    n, k = 1, 0
    while n < ninterv:
        n <<= 1
        k += 1
    if n != ninterv:
        raise ValueError("Number of samples must be one plus a non-negative power of 2.")
    R = {}
    all_ = (slice(None),) * nd
    h = ninterv * (dx.astype(np.float64) if _traced(dx) else np.asarray(dx, dtype=np.float64))
    R[(0, 0)] = (y[_tupleset(all_, axis, 0)] + y[_tupleset(all_, axis, -1)]) / 2.0 * h
    slice_r = all_
    start = stop = step = ninterv
    for i in range(1, k + 1):
        start >>= 1
        slice_r = _tupleset(slice_r, axis, slice(start, stop, step))
        step >>= 1
        R[(i, 0)] = 0.5 * (R[(i - 1, 0)] + h * np.sum(y[slice_r], axis=axis))
        for j in range(1, i + 1):
            prev = R[(i, j - 1)]
            R[(i, j)] = prev + (prev - R[(i - 1, j - 1)]) / ((1 << (2 * j)) - 1)
        h = h / 2.0
    return R[(k, k)]


def _floating(v):
    """SciPy's ``xp_promote(v, force_floating=True)``: integers and booleans to float64."""
    v = array_like(v)
    return v if v.dtype.kind in "fc" else v.astype(np.float64)


def _simpson_sums(y, dx, integrals):
    """SciPy's ``_cumulatively_sum_simpson_integrals``: the sub-integrals of each interval from the
    left (``h1``) or the right (``h2``) formula, alternately, then their running sum."""
    h1 = integrals(y, dx)
    h2 = np.flip(integrals(np.flip(y, axis=-1), np.flip(dx, axis=-1)), axis=-1)
    shape = tuple(h1.shape[:-1]) + (h1.shape[-1] + 1,)
    sub = np.zeros_like(h1, shape=shape, dtype=np.result_type(strip(y), strip(dx)))
    sub[..., :-1:2] = h1[..., ::2]
    sub[..., 1::2] = h2[..., ::2]
    sub[..., -1] = h2[..., -1]
    return np.cumulative_sum(sub, axis=-1)


def cumulative_simpson(y, *, x=None, dx=1.0, axis=-1, initial=None):
    """``scipy.integrate.cumulative_simpson``: SciPy's steps (its per-interval formulas, equal or
    unequal widths, and its running sum) on the traced arrays."""
    from scipy.integrate import _quadrature as Q

    y = _floating(y)
    original_y, original_shape = y, y.shape
    if not -y.ndim <= axis < y.ndim:
        raise ValueError(f"`axis={axis}` is not valid for `y` with `y.ndim={y.ndim}`.")
    y = np.swapaxes(y, axis, -1)
    if y.shape[-1] < 3:
        res = np.swapaxes(I.cumulative_trapezoid(original_y, x, dx=dx, axis=axis, initial=None), axis, -1)
    elif x is not None:
        x = _floating(x)
        if not (x.shape == original_shape or (x.ndim == 1 and x.shape[0] == original_shape[axis])):
            raise ValueError("If given, shape of `x` must be the same as `y` or 1-D with the same length as "
                             "`y` along `axis`.")
        x = np.broadcast_to(x, y.shape) if x.ndim == 1 else np.swapaxes(x, axis, -1)
        d = np.diff(x, axis=-1)
        if np.any(strip(d) <= 0):
            raise ValueError("Input x must be strictly increasing.")
        res = _simpson_sums(y, d, Q._cumulative_simpson_unequal_intervals)
    else:
        dx = _floating(dx)
        final_dx_shape = _tupleset(original_shape, axis, original_shape[axis] - 1)
        if not (dx.ndim == 0 or dx.shape == _tupleset(original_shape, axis, 1)):
            raise ValueError("If provided, `dx` must either be a scalar or have the same shape as `y` but "
                             "with only 1 point along `axis`.")
        d = np.swapaxes(np.broadcast_to(dx, final_dx_shape), axis, -1)
        res = _simpson_sums(y, d, Q._cumulative_simpson_equal_intervals)
    if initial is not None:
        initial = _floating(initial)
        alt_shape = _tupleset(original_shape, axis, 1)
        if not (initial.ndim == 0 or initial.shape == alt_shape):
            raise ValueError("If provided, `initial` must either be a scalar or have the same shape as `y` "
                             "but with only 1 point along `axis`.")
        initial = np.swapaxes(np.broadcast_to(initial, alt_shape), axis, -1)
        res = res + initial
        res = np.concatenate((initial, res), axis=-1)
    return np.swapaxes(res, -1, axis)


for _f in (trapezoid, simpson, cumulative_trapezoid, romb, cumulative_simpson):
    _route(_f.__name__, _f)


# ---------------------------------------------------------------- quad

# Gauss-Kronrod 21-point rule on [-1, 1] (QUADPACK's qk21): abscissae and weights.
_XGK = np.array([
    0.995657163025808080735527280689003, 0.973906528517171720077964012084452,
    0.930157491355708226001207180059508, 0.865063366688984510732096688423493,
    0.780817726586416897063717578345042, 0.679409568299024406234327365114874,
    0.562757134668604683339000099272694, 0.433395394129247190799265943165784,
    0.294392862701460198131126603103866, 0.148874338981631210884826001129720, 0.0])
_WGK = np.array([
    0.011694638867371874278064396062192, 0.032558162307964727478818972459390,
    0.054755896574351996031381300244580, 0.075039674810919952767043140916190,
    0.093125454583697605535065465083366, 0.109387158802297641899210590325805,
    0.123491976262065851077600525204489, 0.134709217311473325928054001771707,
    0.142775938577060080797094273138717, 0.147739104901338491374841515972068,
    0.149445554002916905664936468389821])
_GK_X = np.concatenate([-_XGK[:-1], _XGK[::-1]])
_GK_W = np.concatenate([_WGK[:-1], _WGK[::-1]])


def _quad_nodes(a, b, alist, blist):
    """Nodes ``u`` in [0, 1] and weights (summing to 1) of GK21 on quad's final partition."""
    lo = (np.asarray(alist) - a) / (b - a)
    hi = (np.asarray(blist) - a) / (b - a)
    mid, half = (lo + hi) / 2, np.abs(hi - lo) / 2  # QUADPACK partitions [b, a] when b < a
    u = (mid[:, None] + half[:, None] * _GK_X).ravel()
    w = (half[:, None] * _GK_W).ravel()
    return u, w


def quad(func, a, b, args=(), full_output=0, epsabs=1.49e-8, epsrel=1.49e-8, limit=50, points=None,
         weight=None, wvar=None, wopts=None, maxp1=50, limlst=50, complex_func=False):
    raw = ORIGINALS["quad"]
    plain_args = args if type(args) is tuple else (args,)
    traced_in = _traced(a) or _traced(b) or any_traced(plain_args)
    if not callable(func) or type(func).__module__ == "ctypes":  # LowLevelCallable, C functions
        return raw(func, a, b, args, full_output, epsabs, epsrel, limit, points, weight, wvar, wopts,
                   maxp1, limlst, complex_func)
    watch = Watch(func)
    pa, pb_ = strip(a), strip(b)
    out = raw(watch, pa, pb_, strip_tree(plain_args), full_output, epsabs, epsrel, limit, points,
              weight, wvar, wopts, maxp1, limlst, complex_func)
    if not (watch.traced or traced_in):
        return out
    for name, opt in (("weight", weight), ("points", points)):
        if opt is not None:
            raise NoRuleError(f"scipy.integrate.quad with {name}= and traced values")
    if complex_func:
        raise NoRuleError("scipy.integrate.quad with complex_func=True and traced values")
    info = out[2] if full_output else raw(watch, pa, pb_, strip_tree(plain_args), 1, epsabs, epsrel,
                                          limit)[2]
    last = info["last"]
    if np.isfinite(pa) and np.isfinite(pb_):
        if last and pa != pb_:
            u, w = _quad_nodes(float(pa), float(pb_), info["alist"][:last], info["blist"][:last])
        else:  # an empty interval (SciPy partitions nothing): one GK21 panel, its derivatives exact
            u, w = (1 + _GK_X) / 2, _GK_W / 2
        span = b - a
        F = span * np.sum(w * _integrand(func, a + span * u, plain_args))
    else:
        F = _quad_infinite(func, a, b, plain_args, info["alist"][:last], info["blist"][:last])
    value = out[0] + (F - strip(F))
    if type(value) is TracedArray and value.ndim == 0:
        value.__class__ = TracedWeak  # SciPy's value is a Python float: it promotes as one, and is one
    return (value, *out[1:])


def _integrand(func, xs, args):
    """``func`` at every node: one call on the array of nodes where it vectorizes, else one per node."""
    if _vectorizes(func, xs, args):
        return func(xs, *args)
    return np.stack([func(xs[i], *args) for i in range(xs.shape[0])])


# QUADPACK's 15-point Kronrod rule (qk15i), used on the transformed range of an infinite interval
_XGK15 = np.array([
    0.991455371120812639206854697526329, 0.949107912342758524526189684047851,
    0.864864423359769072789712788640926, 0.741531185599394439863864773280788,
    0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
    0.207784955007898467600689403773245, 0.0])
_WGK15 = np.array([
    0.022935322010529224963732008058970, 0.063092092629978553290700663189204,
    0.104790010322250183839876322541518, 0.140653259715525918745189590510238,
    0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
    0.204432940075298892414161999234649, 0.209482141084727828012999174891714])
_GK15_X = np.concatenate([-_XGK15[:-1], _XGK15[::-1]])
_GK15_W = np.concatenate([_WGK15[:-1], _WGK15[::-1]])


def _quad_infinite(func, a, b, args, alist, blist):
    """QUADPACK's qagi quadrature on its final partition of ``(0, 1]``, traced: ``x = bound +
    s (1 - t) / t`` (``s = -1`` towards minus infinity; both tails folded for ``(-inf, inf)``),
    ``dx = dt / t^2``; limits given as ``b < a`` flip the sign, as quad does."""
    pa, pb_ = float(strip(a)), float(strip(b))
    sign = -1.0 if pb_ < pa else 1.0
    if pb_ < pa:
        a, b, pa, pb_ = b, a, pb_, pa
    mid = (np.asarray(alist) + np.asarray(blist)) / 2
    half = np.abs(np.asarray(blist) - np.asarray(alist)) / 2
    t = (mid[:, None] + half[:, None] * _GK15_X).ravel()
    w = (half[:, None] * _GK15_W).ravel() / t ** 2
    s = (1 - t) / t
    if np.isinf(pa) and np.isinf(pb_):
        vals = _integrand(func, s, args) + _integrand(func, -s, args)
    elif np.isinf(pb_):
        vals = _integrand(func, a + s, args)
    else:
        vals = _integrand(func, b - s, args)
    return sign * np.sum(w * vals)


def _vectorizes(func, xs, args) -> bool:
    """Whether ``func`` maps an array of nodes to the array of its values at each node: tried on
    the plain nodes and compared with three scalar calls (else the rule calls it node by node)."""
    xs, args = strip(xs), strip_tree(args)
    try:
        r = np.asarray(strip(func(xs, *args)))
    except Exception:  # noqa: BLE001 - a scalar integrand may fail on arrays in any way
        return False
    if r.shape != xs.shape:
        return False
    for i in (0, xs.shape[0] // 2, xs.shape[0] - 1):
        if not np.allclose(r[i], strip(func(xs[i], *args)), rtol=1e-12, atol=0):
            return False
    return True


_intercept_always("quad", quad)


# ---------------------------------------------------------------- solve_ivp (explicit Runge-Kutta)

_RK = {"RK23": _rk.RK23, "RK45": _rk.RK45, "DOP853": _rk.DOP853}


def _rk_step(fun, t, y, f, h, A, B, C):
    """SciPy's ``rk_step`` on traced values: the stages as a list, stacked where SciPy reads ``K``."""
    K = [f]
    for s, (a, c) in enumerate(zip(A[1:], C[1:]), start=1):
        dy = np.dot(np.stack(K[:s]).T, a[:s]) * h
        K.append(fun(t + c * h, y + dy))
    y_new = y + h * np.dot(np.stack(K).T, B)
    f_new = fun(t + h, y_new)
    K.append(f_new)
    return y_new, f_new, K


def _dense(cls, fun, t_old, t, y_old, y, f, K, te):
    """The solver's dense output of one step, evaluated at the times ``te``."""
    h = t - t_old
    x = (te - t_old) / h
    if cls is _rk.DOP853:
        K = list(K)
        for s, (a, c) in enumerate(zip(cls.A_EXTRA, cls.C_EXTRA), start=cls.n_stages + 1):
            dy = np.dot(np.stack(K[:s]).T, a[:s]) * h
            K.append(fun(t_old + c * h, y_old + dy))
        f_old = K[0]
        delta_y = y - y_old
        F = [delta_y, h * f_old - delta_y, 2 * delta_y - h * (f + f_old)]
        F3 = h * np.dot(cls.D, np.stack(K))
        F = F + [F3[i] for i in range(F3.shape[0])]
        x = x[:, None]
        out = None
        for i, fi in enumerate(reversed(F)):
            out = fi + 0 * x if out is None else out + fi  # SciPy starts from zeros: 0 + f == f
            out = out * x if i % 2 == 0 else out * (1 - x)
        return (out + y_old).T
    Q = np.dot(np.stack(K).T, cls.P)
    order = Q.shape[1] - 1
    p = np.cumprod(np.tile(x, (order + 1, 1)), axis=0)
    return h * np.dot(Q, p) + y_old[:, None]


def solve_ivp(fun, t_span, y0, method="RK45", t_eval=None, dense_output=False, events=None,
              vectorized=False, args=None, **options):
    raw = ORIGINALS["solve_ivp"]
    watch = Watch(fun)
    traced_in = any_traced((y0, t_eval, t_span, args))
    plain_args = strip_tree(args)
    sol = raw(watch, strip_tree(t_span), strip(y0), method, strip(t_eval), dense_output, events,
              vectorized, plain_args, **options)
    if not (watch.traced or traced_in):
        return sol
    name = method if isinstance(method, str) else getattr(method, "__name__", str(method))
    cls = _RK.get(name) if isinstance(method, str) else (method if method in _RK.values() else None)
    for opt, bad in (("events", events is not None), ("a traced t_span", any_traced(t_span)),
                     (f"dense_output=True and method={name!r}", dense_output and cls is None)):
        if bad:
            raise NoRuleError(f"scipy.integrate.solve_ivp with {opt}")
    if cls is None:
        if name not in _IMPLICIT:
            raise NoRuleError(f"scipy.integrate.solve_ivp with method={name!r}")
        return _implicit(fun, t_span, y0, name, t_eval, vectorized, args, options, sol, watch)
    steps = sol.t if t_eval is None else raw(watch, strip_tree(t_span), strip(y0), method, None, False,
                                             None, vectorized, plain_args, **options).t
    y = array_like(y0)
    dtype = complex if y.dtype.kind == "c" else float
    if y.dtype != dtype:
        y = y.astype(dtype)
    extra = () if args is None else tuple(args)

    def f_(t, yy):
        r = fun(t, yy, *extra)
        r = array_like(r)
        return r if r.dtype == dtype else r.astype(dtype)

    A, B, C = cls.A, cls.B, cls.C
    f = f_(float(steps[0]), y)
    ys = [y]
    pieces = []
    dense = []
    te = None if t_eval is None else array_like(t_eval)
    forward = float(strip(t_span[1])) > float(strip(t_span[0]))
    if te is not None and not forward:
        te = te[::-1]
    te_plain = None if te is None else strip(te)
    i0 = 0 if forward or te is None else te.shape[0]
    for k in range(1, len(steps)):
        t_old, t_new = steps[k - 1], steps[k]
        h = t_new - t_old
        y_new, f_new, K = _rk_step(f_, t_old, y, f, h, A, B, C)
        if dense_output:
            dense.append((t_old, t_new, y, y_new, f_new, K))
        if te is None:
            ys.append(y_new)
        else:
            if forward:
                i1 = int(np.searchsorted(te_plain, t_new, side="right"))
                part = te[i0:i1]
            else:
                i1 = int(np.searchsorted(te_plain, t_new, side="left"))
                part = te[i1:i0][::-1]
            if part.shape[0]:
                pieces.append(_dense(cls, f_, t_old, t_new, y, y_new, f_new, K, part))
                i0 = i1
        y, f = y_new, f_new
    if te is None:
        sol.y = np.stack(ys, axis=1)
    elif pieces:
        sol.y = np.concatenate(pieces, axis=1)
    if dense_output:
        sol.sol = TracedOdeSolution(sol.sol, cls, f_, dense)
    return sol


def _piecewise(sol, evaluate, t):
    """``sol(t)`` of an ``OdeSolution``-like ``sol`` at traced times: each time on the segment
    SciPy's ``OdeSolution`` picks for it, ``evaluate(segment, times)`` giving (n, len(times))."""
    tp = np.asarray(strip(t), dtype=float)
    tt = np.reshape(array_like(t), -1)
    ts = sol.ts if sol.ascending else sol.ts[::-1]
    ind = np.searchsorted(ts, np.reshape(tp, -1), side="left" if sol.ascending else "right")
    segment = np.minimum(np.maximum(ind - 1, 0), sol.n_segments - 1)
    if not sol.ascending:
        segment = sol.n_segments - 1 - segment
    cols, where = [], []
    for k in np.unique(segment):
        idx = np.flatnonzero(segment == k)
        cols.append(evaluate(k, tt[idx]))
        where.append(idx)
    out = np.concatenate(cols, axis=1)[:, np.argsort(np.concatenate(where))]
    return out[:, 0] if tp.ndim == 0 else out


class TracedOdeSolution:
    """``sol.sol`` of a traced ``solve_ivp(dense_output=True)``: SciPy's ``OdeSolution`` values, bit
    for bit, with the derivatives of the replayed steps' interpolants (with respect to everything
    the solution depends on, and to ``t``)."""

    def __init__(self, plain, cls, fun, steps):
        self.plain = plain
        self.cls, self.fun, self.steps = cls, fun, steps
        self.ts, self.t_min, self.t_max = plain.ts, plain.t_min, plain.t_max
        self.n_segments, self.ascending = plain.n_segments, plain.ascending

    def _segment(self, k, t):
        t_old, t_new, y, y_new, f_new, K = self.steps[k]
        return _dense(self.cls, self.fun, t_old, t_new, y, y_new, f_new, K, t)

    def __call__(self, t):
        return _with_values(_piecewise(self, self._segment, t), self.plain(strip(t)))


def _interpolant(dense, t):
    """A step's ``DenseOutput`` at traced times ``t``: its own NumPy code, except DOP853's, which
    accumulates into a plain buffer in place (here the same steps, functionally)."""
    if not isinstance(dense, _rk.Dop853DenseOutput):
        return dense._call_impl(t)
    x = (t - dense.t_old) / dense.h
    if np.ndim(x):
        x = x[:, None]
    y = None
    for i, f in enumerate(reversed(dense.F)):
        y = f + 0 * x if y is None else y + f  # SciPy starts from zeros: 0 + f == f
        y = y * x if i % 2 == 0 else y * (1 - x)
    return (y + dense.y_old).T


def _ode_solution_call(self, t):
    """A plain ``OdeSolution`` at traced times: SciPy's interpolants (NumPy code) evaluated on
    them, so the derivative in ``t`` is the interpolant's; SciPy's values."""
    def segment(k, tt):
        return _interpolant(self.interpolants[k], tt)

    return _with_values(_piecewise(self, segment, t), original(OdeSolution.__call__)(self, strip(t)))


def _dense_output_call(self, t):
    """One step's ``DenseOutput`` at traced times (its NumPy code), with SciPy's values."""
    if np.ndim(strip(t)) > 1:
        raise ValueError("`t` must be a float or a 1-D array.")
    return _with_values(_interpolant(self, array_like(t)), original(DenseOutput.__call__)(self, strip(t)))


intercept(OdeSolution.__call__, _ode_solution_call)
intercept(DenseOutput.__call__, _dense_output_call)


_intercept_always("solve_ivp", solve_ivp)


# ---------------------------------------------------------------- solve_ivp (implicit methods: adjoint)

_IMPLICIT = ("Radau", "BDF", "LSODA")


def _implicit(fun, t_span, y0, method, t_eval, vectorized, args, options, sol, watch):
    """solve_ivp with Radau, BDF or LSODA: a primitive in ``y0``, the arrays of ``args`` and
    ``t_eval``, differentiated by the adjoint method (see :func:`_ivp_rule`)."""
    if watch.traced:
        raise NoRuleError(f"scipy.integrate.solve_ivp(method={method!r}) of a function that closes "
                          "over traced values (pass them in args, or use RK45/RK23/DOP853)")
    y = array_like(y0)
    if y.dtype.kind == "c":
        raise NoRuleError(f"scipy.integrate.solve_ivp(method={method!r}) with complex y0")
    p, unflatten = _flatten_args(() if args is None else args)
    te = array_like(t_eval) if t_eval is not None else np.asarray(sol.t)
    static = dict(fun=fun, t_span=tuple(float(strip(v)) for v in t_span), method=method,
                  given=t_eval is not None, vectorized=vectorized, unflatten=unflatten,
                  options=options)
    sol.y = _IVP(y.astype(np.float64), p, te, **static)
    return sol


def _ivp_value(y0, p, te, *, fun, t_span, method, given, vectorized, unflatten, options):
    if any_traced((y0, p, te)):
        return _IVP(y0, p, te, fun=fun, t_span=t_span, method=method, given=given,
                    vectorized=vectorized, unflatten=unflatten, options=options)
    return _ivp_raw(y0, p, te, fun=fun, t_span=t_span, method=method, given=given,
                    vectorized=vectorized, unflatten=unflatten, options=options)


def _ivp_raw(y0, p, te, *, fun, t_span, method, given, vectorized, unflatten, options):
    return ORIGINALS["solve_ivp"](fun, t_span, y0, method, te if given else None, False, None,
                                  vectorized, unflatten(p), **options).y


def _ivp_rule(y0, p, te, *, fun, t_span, method, given, vectorized, unflatten, options):
    """The adjoint method on SciPy's own dense output of the forward solution: backward from each
    output time to the previous one, ``a' = -J_y^T a``, ``p' = -J_args^T a`` by solve_ivp with the
    same method and tolerances; ``d/d t_eval[i] = g_i . f(t_i, y_i)``. The forward solution is
    plain, so a second derivative (an outer trace of ``y0``, ``args`` or ``t_eval``) raises."""
    static = dict(fun=fun, t_span=t_span, method=method, given=given, vectorized=vectorized,
                  unflatten=unflatten, options=options)
    ys = _ivp_value(y0, p, te, **static)
    n, m = y0.shape[0], p.shape[0]
    outer = any_traced((y0, p, te))

    def ivp_back(g):
        from ..api import pullback

        if outer:
            raise NoRuleError(f"second derivatives of scipy.integrate.solve_ivp(method={method!r}) "
                              "(use RK45/RK23/DOP853, which differentiate to any order)")
        args = unflatten(p)
        dense = ORIGINALS["solve_ivp"](fun, t_span, y0, method, None, True, None, vectorized, args,
                                       **options).sol
        rtol = options.get("rtol", 1e-3)
        atol = float(np.min(options.get("atol", 1e-6)))

        def augmented(t, z, pp):
            a = z[:n]

            def rhs(y_, p_):
                return array_like(fun(t, y_, *unflatten(p_)))

            _, back = pullback(rhs, dense(t), pp)
            ga, gp = back(-a)
            return np.concatenate([ga, gp]) if m else ga

        T = te.shape[0]
        a, gp = g[:, -1], np.zeros(m)
        gt = [None] * T
        for i in range(T - 1, -1, -1):
            gt[i] = np.sum(array_like(fun(te[i], ys[:, i], *args)) * g[:, i])
            t_prev = te[i - 1] if i else t_span[0]
            if float(strip(t_prev)) != float(strip(te[i])):
                z0 = np.concatenate([a, gp]) if m else a
                z = I.solve_ivp(augmented, (float(strip(te[i])), float(strip(t_prev))), z0,
                                method=method, args=(p,), rtol=rtol, atol=atol).y[:, -1]
                a, gp = z[:n], z[n:]
            if i:
                a = a + g[:, i - 1]
        return a, gp, np.stack(gt)

    return ys, ivp_back


_IVP = UserRule(_ivp_raw, "scipy.integrate.solve_ivp", _ivp_rule)


# ---------------------------------------------------------------- odeint (adjoint method)


def _flatten_args(args):
    """The differentiable arrays among ``args`` raveled into one vector, and the inverse."""
    items = list(args)
    slots = []
    parts = []
    for i, a in enumerate(items):
        v = strip(a)
        if isinstance(a, Tracer) or (np.asarray(v).dtype.kind in "fc" and not isinstance(v, (bool,))):
            arr = array_like(a)
            if arr.dtype.kind in "fc":
                slots.append((i, arr.shape, arr.size))
                parts.append(np.reshape(arr, -1).astype(np.float64))
    flat = np.concatenate(parts) if parts else np.zeros(0)

    def unflatten(vec):
        out = list(items)
        k = 0
        for i, shape, size in slots:
            piece = vec[k:k + size]
            out[i] = np.reshape(piece, shape) if shape else piece[0]
            k += size
        return tuple(out)

    return flat, unflatten


def _odeint_value(y0, t, p, *, func, unflatten, options):
    """``odeint(func, y0, t, args=unflatten(p))``; traced at outer levels when its inputs are."""
    if any_traced((y0, t, p)):
        return _ODEINT(y0, t, p, func=func, unflatten=unflatten, options=options)
    return ORIGINALS["odeint"](func, y0, t, unflatten(p), **options)


def _odeint_rule(y0, t, p, *, func, unflatten, options):
    ys = _odeint_value(y0, t, p, func=func, unflatten=unflatten, options=options)
    n = y0.shape[0]
    m = p.shape[0]

    def augmented(z, tt, pp, *rest):
        from ..api import pullback

        yy, a = z[:n], z[n:2 * n]

        def rhs(y_, p_):
            return array_like(func(y_, tt, *unflatten(p_)))

        dy, back = pullback(rhs, yy, pp)
        ga, gp = back(-a)
        parts = [dy, ga] + ([gp] if m else [])
        return np.concatenate(parts)

    def odeint_back(g):
        T = t.shape[0]
        a = g[-1]
        gp = np.zeros(m)
        gt = [None] * T
        opts = options
        for i in range(T - 1, 0, -1):
            fi = array_like(func(ys[i], t[i], *unflatten(p)))
            gt[i] = np.sum(fi * g[i])
            z0 = np.concatenate([ys[i], a] + ([gp] if m else []))
            z = I.odeint(augmented, z0, np.stack([t[i], t[i - 1]]), (p,), **opts)[1]
            a, gp = z[n:2 * n], z[2 * n:]
            if i == 1:
                f0 = array_like(func(ys[0], t[0], *unflatten(p)))
                gt[0] = -np.sum(a * f0)
            a = a + g[i - 1]
        if T == 1:
            gt[0] = np.zeros(())
        return a, np.stack(gt), (gp if m else np.zeros(0))

    return ys, odeint_back


def _odeint_raw(y0, t, p, *, func, unflatten, options):
    return ORIGINALS["odeint"](func, y0, t, unflatten(p), **options)


_ODEINT = UserRule(_odeint_raw, "scipy.integrate.odeint", _odeint_rule)


def odeint(func, y0, t, args=(), Dfun=None, col_deriv=0, full_output=0, ml=None, mu=None, rtol=None,
           atol=None, tcrit=None, h0=0.0, hmax=0.0, hmin=0.0, ixpr=0, mxstep=0, mxhnil=0, mxordn=12,
           mxords=5, printmessg=0, tfirst=False):
    raw = ORIGINALS["odeint"]
    options = dict(Dfun=Dfun, col_deriv=col_deriv, ml=ml, mu=mu, rtol=rtol, atol=atol, tcrit=tcrit,
                   h0=h0, hmax=hmax, hmin=hmin, ixpr=ixpr, mxstep=mxstep, mxhnil=mxhnil, mxordn=mxordn,
                   mxords=mxords, printmessg=printmessg)
    args = args if type(args) is tuple else (args,)
    traced_in = any_traced((y0, t)) or any_traced(args)
    watch = Watch(func)
    if not traced_in:
        out = raw(watch, y0, t, args, full_output=full_output, tfirst=tfirst, **options)
        if watch.traced:
            raise NoRuleError("scipy.integrate.odeint of a function that closes over traced values "
                              "(pass them in args, which differentiate)")
        return out
    if Dfun is not None:
        raise NoRuleError("scipy.integrate.odeint with Dfun and traced values")
    f = (lambda y_, t_, *a: func(t_, y_, *a)) if tfirst else func
    plain = raw(watch, strip(y0), strip(t), strip_tree(args), full_output=full_output, tfirst=tfirst,
                **options)
    if watch.traced:
        raise NoRuleError("scipy.integrate.odeint of a function that closes over traced values "
                          "(pass them in args, which differentiate)")
    y0a = array_like(y0)
    y0a = np.reshape(y0a, -1).astype(np.float64)
    t = array_like(t).astype(np.float64)
    p, unflatten = _flatten_args(args)
    ys = _ODEINT(y0a, t, p, func=f, unflatten=unflatten, options=options)
    return (ys, plain[1]) if full_output else ys


_intercept_always("odeint", odeint)
