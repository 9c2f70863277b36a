"""Rules: NumPy functions outside the core families, written with other NumPy calls (composites).

nan_to_num, quantile/percentile and their nan-versions (every ``method``), gradient,
trapezoid, polyval, polyfit, polyder, polyint, vander, meshgrid, select, piecewise, partition,
apply_along_axis,
apply_over_axes, linspace/logspace/geomspace, rollaxis, real_if_close, histogram and
bincount (in their ``weights``), ediff1d, cov, corrcoef, and the evaluation functions of
``numpy.polynomial`` (polyval, chebval, legval, hermval, hermeval, lagval: Python
functions that convert their coefficients with ``np.array``, so they are intercepted).

Each is a composite: it is differentiated through the NumPy calls it makes, so forward
mode and higher orders come for free. Decisions made on values (which bin, which order
statistic, which condition holds) are taken on the plain values and carry no gradient.
"""

from __future__ import annotations

import builtins
import math
import operator
import warnings

import numpy as np
from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple

from ..core import Tracer, strip
from ..intercept import original, route
from .registry import (
    _with_values,
    any_traced,
    array_like,
    defcomposite,
    deflinear,
    like_value,
    numpy_scalar,
    strip_tree,
)

_arr = array_like
builtins_range = builtins.range  # histogram's argument ``range`` hides the builtin


def _plain(x):
    return strip(x) if isinstance(x, Tracer) else x


# ---------------------------------------------------------------- nan_to_num


def _finite_part(x, nan, posinf, neginf):
    p = strip(x)
    info = np.finfo(p.dtype)
    big = info.max if posinf is None else posinf
    small = info.min if neginf is None else neginf
    out = np.where(np.isnan(p), nan, x)
    out = np.where(np.isposinf(p), big, out)
    out = np.where(np.isneginf(p), small, out)
    return out.astype(p.dtype) if out.dtype != p.dtype else out


def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """``np.nan_to_num``: the replaced entries get no gradient, the others pass theirs through."""
    x = _arr(x)
    if x.dtype.kind not in "fc":
        return x * 1 if copy else x
    if x.dtype.kind == "c":
        re = _finite_part(np.real(x), nan, posinf, neginf)
        im = _finite_part(np.imag(x), nan, posinf, neginf)
        out = (re + 1j * im).astype(x.dtype)
    else:
        out = _finite_part(x, nan, posinf, neginf)
    if not copy and x.ndim:  # in place, as NumPy: x (and its views) now hold the result
        x[...] = out
        return x
    return out


defcomposite(np.nan_to_num, nan_to_num)


# ---------------------------------------------------------------- quantiles
#
# Every method picks two order statistics s[lo], s[lo + 1] of a slice and interpolates between them
# with a weight that depends on the slice's length and q only. NumPy's own function applied to the
# ranks 0, 1, ..., n - 1 therefore returns lo + gamma: the position of the answer among the sorted
# values, for every method, with NaNs handled as NumPy handles them. The answer is differentiated
# as that interpolation; an order statistic shared by tied entries shares its gradient among them.


def _order_stat(b, delta, sp, idx):
    """``sp[..., idx]`` (the sorted plain values) as a traced value whose gradient is split evenly
    among the entries of ``b`` equal to it. ``delta = b - strip(b)`` (zeros, traced)."""
    val = np.take_along_axis(sp, idx[..., None], axis=-1)[..., 0]
    mask = strip(b) == val[..., None]
    count = np.maximum(np.sum(mask, axis=-1), 1).astype(delta.dtype)
    return val + np.sum(np.where(mask, delta, 0), axis=-1) / count


def _quantile(func, a, q, axis, method, keepdims, weights, nan):
    if isinstance(q, Tracer):
        raise TypeError(f"pullback: {func.__name__} is not differentiable in q (only in a)")
    a = _arr(a)
    p = strip(a)
    if p.dtype.kind not in "fc":
        return func(p, q, axis=axis, method=method, keepdims=keepdims, weights=weights)
    axes = tuple(range(a.ndim)) if axis is None else normalize_axis_tuple(axis, a.ndim)
    keep = [i for i in range(a.ndim) if i not in axes]
    n = math.prod(a.shape[i] for i in axes)
    order = keep + list(axes)
    b = np.transpose(a, order) if order != list(range(a.ndim)) else a
    b = np.reshape(b, tuple(a.shape[i] for i in keep) + (n,))
    pb_ = strip(b)
    w = _plain(weights)
    if w is not None:
        w = np.asarray(w)
        if w.shape == p.shape and w.ndim:
            w = np.reshape(np.transpose(w, order), pb_.shape)
    sp = np.sort(pb_, axis=-1)
    if w is not None:  # weights follow their values into sorted order
        srt = np.argsort(pb_, axis=-1)
        w = np.take_along_axis(np.broadcast_to(w, pb_.shape), srt, axis=-1)
    ranks = np.where(np.isnan(sp), np.nan, np.arange(n, dtype=np.float64))
    kw = {} if w is None else {"weights": w}
    with np.errstate(invalid="ignore"):
        v = func(ranks, q, axis=-1, method=method, **kw)  # shape: q's + the kept axes
    v = np.asarray(v, dtype=np.float64)
    bad = np.isnan(v)
    lo = np.where(bad, 0, np.floor(np.where(bad, 0, v))).astype(np.intp)
    gamma = np.where(bad, 0, v - lo)
    hi = np.where(gamma > 0, np.minimum(lo + 1, n - 1), lo)
    qshape = v.shape[: v.ndim - (b.ndim - 1)]
    full = qshape + b.shape
    bb = np.broadcast_to(b, full) if qshape else b
    spb = np.broadcast_to(sp, full)
    delta = bb - strip(bb)
    s_lo = _order_stat(bb, delta, spb, lo)
    s_hi = _order_stat(bb, delta, spb, hi)
    rdt = np.result_type(p.dtype, np.float64) if p.dtype.kind not in "fc" else p.dtype
    out_dtype = np.result_type(func(np.zeros(1, p.dtype), q, method=method))
    gamma = gamma.astype(rdt)
    diff = s_hi - s_lo
    res = np.where(gamma >= 0.5, s_hi - diff * (1 - gamma), s_lo + diff * gamma)
    if np.any(bad):
        res = np.where(bad, np.nan, res)
    if res.dtype != out_dtype:
        res = res.astype(out_dtype)
    if keepdims:
        res = np.reshape(res, qshape + tuple(1 if i in axes else k for i, k in enumerate(a.shape)))
    # NumPy interpolates float32 in float64 in its own order: its value, the interpolation's gradient
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore")  # the composite gave them
        want = func(p, q, axis=axis, method=method, keepdims=keepdims, weights=_plain(weights))
    return numpy_scalar(_with_values(res, want))


def quantile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, *,
             weights=None):
    """``np.quantile``, differentiable in ``a`` for every ``method``."""
    return _quantile(np.quantile, a, q, axis, method, keepdims, weights, False)


def percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, *,
               weights=None):
    return _quantile(np.percentile, a, q, axis, method, keepdims, weights, False)


def nanquantile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, *,
                weights=None):
    return _quantile(np.nanquantile, a, q, axis, method, keepdims, weights, True)


def nanpercentile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, *,
                  weights=None):
    return _quantile(np.nanpercentile, a, q, axis, method, keepdims, weights, True)


for _f, _impl in [(np.quantile, quantile), (np.percentile, percentile), (np.nanquantile, nanquantile),
                  (np.nanpercentile, nanpercentile)]:
    defcomposite(_f, _impl)


# ---------------------------------------------------------------- gradient, trapezoid, ediff1d


def _along(axis, ndim, s):
    idx = [slice(None)] * ndim
    idx[axis] = s
    return tuple(idx)


def gradient(f, *varargs, axis=None, edge_order=1):
    """``np.gradient`` (NumPy's formulas), differentiable in ``f`` and in the spacings."""
    f = _arr(f)
    N = f.ndim
    axes = tuple(range(N)) if axis is None else normalize_axis_tuple(axis, N)
    len_axes = len(axes)
    n = len(varargs)
    if n == 0:
        dx = [1.0] * len_axes
    elif n == 1 and np.ndim(_plain(varargs[0])) == 0:
        dx = list(varargs) * len_axes
    elif n == len_axes:
        dx = list(varargs)
        for i, distances in enumerate(dx):
            distances = _arr(distances)
            if distances.ndim == 0:
                continue
            if distances.ndim != 1:
                raise ValueError("distances must be either scalars or 1d")
            if len(distances) != f.shape[axes[i]]:
                raise ValueError("when 1d, distances must match the length of the corresponding dimension")
            if distances.dtype.kind in "iub":
                distances = distances.astype(np.float64)
            diffx = np.diff(distances)
            pd = strip(diffx)
            if (pd == pd[0]).all():
                diffx = diffx[0]
            dx[i] = diffx
    else:
        raise TypeError("invalid number of arguments")
    if edge_order > 2:
        raise ValueError("'edge_order' greater than 2 not supported")
    otype = f.dtype
    if otype.kind in "iub":
        f = f.astype(np.float64)
        otype = np.dtype(np.float64)
    outvals = []
    for ax, ax_dx in zip(axes, dx):
        if f.shape[ax] < edge_order + 1:
            raise ValueError(
                "Shape of array too small to calculate a numerical gradient, "
                "at least (edge_order + 1) elements are required.")

        def s(sl, ax=ax):
            return f[_along(ax, N, sl)]

        uniform = np.ndim(_plain(ax_dx)) == 0
        shape = [1] * N
        shape[ax] = -1
        parts = []
        if edge_order == 1:
            d0 = ax_dx if uniform else ax_dx[0]
            parts.append((s(slice(1, 2)) - s(slice(0, 1))) / d0)
        else:
            if uniform:
                a, b, c = -1.5 / ax_dx, 2.0 / ax_dx, -0.5 / ax_dx
            else:
                dx1, dx2 = ax_dx[0], ax_dx[1]
                a = -(2.0 * dx1 + dx2) / (dx1 * (dx1 + dx2))
                b = (dx1 + dx2) / (dx1 * dx2)
                c = -dx1 / (dx2 * (dx1 + dx2))
            parts.append(a * s(slice(0, 1)) + b * s(slice(1, 2)) + c * s(slice(2, 3)))
        if f.shape[ax] > 2:
            if uniform:
                parts.append((s(slice(2, None)) - s(slice(None, -2))) / (2.0 * ax_dx))
            else:
                dx1, dx2 = ax_dx[0:-1], ax_dx[1:]
                a = np.reshape(-dx2 / (dx1 * (dx1 + dx2)), shape)
                b = np.reshape((dx2 - dx1) / (dx1 * dx2), shape)
                c = np.reshape(dx1 / (dx2 * (dx1 + dx2)), shape)
                parts.append(a * s(slice(None, -2)) + b * s(slice(1, -1)) + c * s(slice(2, None)))
        if edge_order == 1:
            dn = ax_dx if uniform else ax_dx[-1]
            parts.append((s(slice(-1, None)) - s(slice(-2, -1))) / dn)
        else:
            if uniform:
                a, b, c = 0.5 / ax_dx, -2.0 / ax_dx, 1.5 / ax_dx
            else:
                dx1, dx2 = ax_dx[-2], ax_dx[-1]
                a = dx2 / (dx1 * (dx1 + dx2))
                b = -(dx2 + dx1) / (dx1 * dx2)
                c = (2.0 * dx2 + dx1) / (dx2 * (dx1 + dx2))
            parts.append(a * s(slice(-3, -2)) + b * s(slice(-2, -1)) + c * s(slice(-1, None)))
        out = np.concatenate(parts, axis=ax)
        outvals.append(out.astype(otype) if out.dtype != otype else out)
    return outvals[0] if len_axes == 1 else tuple(outvals)


defcomposite(np.gradient, gradient)


def trapezoid(y, x=None, dx=1.0, axis=-1):
    y = _arr(y)
    nd = y.ndim
    if x is None:
        d = dx
    else:
        x = _arr(x)
        if x.ndim == 1:
            d = np.diff(x)
            shape = [1] * nd
            shape[axis] = d.shape[0]
            d = np.reshape(d, shape)
        else:
            d = np.diff(x, axis=axis)
    s1 = _along(axis, nd, slice(1, None))
    s2 = _along(axis, nd, slice(None, -1))
    return np.sum(d * (y[s1] + y[s2]) / 2.0, axis=axis)


defcomposite(np.trapezoid, trapezoid)


def _ediff_extra(extra, dtype, name):
    e = np.ravel(_arr(extra))
    if not np.can_cast(e.dtype, dtype, casting="same_kind"):
        raise TypeError(f"dtype of `{name}` must be compatible with input `ary` under the `same_kind` rule.")
    return e.astype(dtype) if e.dtype != dtype else e


def ediff1d(ary, to_end=None, to_begin=None):
    ary = np.ravel(_arr(ary))
    parts = [ary[1:] - ary[:-1]]
    if to_begin is not None:
        parts.insert(0, _ediff_extra(to_begin, ary.dtype, "to_begin"))
    if to_end is not None:
        parts.append(_ediff_extra(to_end, ary.dtype, "to_end"))
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


defcomposite(np.ediff1d, ediff1d)


# ---------------------------------------------------------------- polynomials


def polyval(p, x):
    p = _arr(p)
    x = _arr(x)
    y = np.zeros_like(x)
    for i in range(len(p)):
        y = y * x + p[i]
    return y


defcomposite(np.polyval, polyval)


def polyfit(x, y, deg, rcond=None, full=False, w=None, cov=False):
    """``np.polyfit``: NumPy's scaled least-squares problem, solved by ``np.linalg.lstsq``."""
    order = int(deg) + 1
    x = _arr(x) + 0.0
    y = _arr(y) + 0.0
    if deg < 0:
        raise ValueError("expected deg >= 0")
    if x.ndim != 1:
        raise TypeError("expected 1D vector for x")
    if x.size == 0:
        raise TypeError("expected non-empty vector for x")
    if y.ndim < 1 or y.ndim > 2:
        raise TypeError("expected 1D or 2D array for y")
    if x.shape[0] != y.shape[0]:
        raise TypeError("expected x and y to have same length")
    if rcond is None:
        rcond = len(x) * np.finfo(strip(x).dtype).eps
    lhs = np.vander(x, order)  # NumPy's (float64 running products for float32 x)
    rhs = y
    if w is not None:
        w = _arr(w) + 0.0
        if w.ndim != 1:
            raise TypeError("expected a 1-d array for weights")
        if w.shape[0] != y.shape[0]:
            raise TypeError("expected w and y to have the same length")
        # NumPy scales in place: each keeps its dtype (float32 y: the product rounded to float32)
        lhs = (lhs * w[:, None]).astype(lhs.dtype)
        rhs = (rhs * w if rhs.ndim == 1 else rhs * w[:, None]).astype(rhs.dtype)
    scale = np.sqrt(np.sum(lhs * lhs, axis=0))
    lhs = lhs / scale
    c, resids, rank, s = np.linalg.lstsq(lhs, rhs, rcond)
    c = (c.T / scale).T
    if full:
        return c, resids, rank, s, rcond
    if cov:
        vbase = np.linalg.inv(lhs.T @ lhs) / np.outer(scale, scale)
        if cov == "unscaled":
            fac = 1
        else:
            if len(x) <= order:
                raise ValueError("the number of data points must exceed order to scale the covariance matrix")
            fac = resids / (len(x) - order)
        if y.ndim == 1:
            return c, vbase * fac
        return c, vbase[:, :, None] * fac
    return c


defcomposite(np.polyfit, polyfit)


def polyder(p, m=1):
    """``np.polyder``: NumPy's recursion (each step the coefficients times their powers)."""
    m = int(m)
    if m < 0:
        raise ValueError("Order of derivative must be positive (see polyint)")
    p = _arr(p)
    if m == 0:
        return p
    n = len(p) - 1
    return polyder(p[:-1] * np.arange(n, 0, -1), m - 1)


def polyint(p, m=1, k=None):
    """``np.polyint``: NumPy's recursion (each step the coefficients over their new powers, then
    the integration constant)."""
    m = int(m)
    if m < 0:
        raise ValueError("Order of integral must be positive (see polyder)")
    if k is None:
        k = np.zeros(m, float)
    k = np.atleast_1d(_arr(k))
    if len(k) == 1 and m > 1:
        k = k[0] * np.ones(m, float)
    if len(k) < m:
        raise ValueError("k must be a scalar or a rank-1 array of length 1 or >m.")
    p = _arr(p)
    if m == 0:
        return p
    y = np.concatenate((p / np.arange(len(p), 0, -1), np.reshape(k[0], (1,))))
    return polyint(y, m - 1, k=k[1:])


def vander(x, N=None, increasing=False):
    """``np.vander``: NumPy's columns ``1, x, x*x, ...`` by a running product (its bits)."""
    x = _arr(x)
    if x.ndim != 1:
        raise ValueError("x must be a one-dimensional array or sequence.")
    n = len(x)
    N = n if N is None else N
    dtype = np.promote_types(x.dtype, int)
    cols = [np.ones((n, min(N, 1)), dtype)]
    if N > 1:  # NumPy casts x to the result dtype first (float32: the products in float64)
        xd = x if x.dtype == dtype else x.astype(dtype)
        cols.append(np.cumprod(np.broadcast_to(np.reshape(xd, (n, 1)), (n, N - 1)), axis=1))
    v = np.concatenate(cols, axis=1) if N > 1 else cols[0].reshape(n, N)
    return v if increasing else np.flip(v, axis=1)


def meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    """``np.meshgrid``: NumPy's reshapes, broadcast views and copies."""
    ndim = len(xi)
    if indexing not in ["xy", "ij"]:
        raise ValueError("Valid values for `indexing` are 'xy' and 'ij'.")
    s0 = (1,) * ndim
    output = [np.reshape(_arr(x), s0[:i] + (-1,) + s0[i + 1:]) for i, x in enumerate(xi)]
    if indexing == "xy" and ndim > 1:
        output[0] = np.reshape(output[0], (1, -1) + s0[2:])
        output[1] = np.reshape(output[1], (-1, 1) + s0[2:])
    if not sparse:
        output = np.broadcast_arrays(*output, subok=True)
    if copy:
        output = tuple(x.copy() for x in output)
    return output


for _f, _impl in ((np.polyder, polyder), (np.polyint, polyint), (np.vander, vander), (np.meshgrid, meshgrid)):
    defcomposite(_f, _impl)


def _series_val(kind):
    """``numpy.polynomial.<kind>.<kind>val(x, c, tensor=True)`` by NumPy's recurrence."""

    def val(x, c, tensor=True):
        if isinstance(c, (list, tuple)) and any(isinstance(v, Tracer) for v in c):
            c = np.stack([_arr(v) for v in c])
        c = _arr(c)
        if c.dtype.kind in "biu?":
            c = c.astype(np.float64)
        if isinstance(x, (tuple, list)):
            x = np.stack([_arr(v) for v in x]) if any(isinstance(v, Tracer) for v in x) else np.asarray(x)
        if tensor and isinstance(x, (np.ndarray, Tracer)):
            c = np.reshape(c, c.shape + (1,) * x.ndim)
        if c.ndim == 0:
            c = np.reshape(c, (1,))
        n = c.shape[0]
        if kind == "poly":
            c0 = c[-1] + x * 0
            for i in range(2, n + 1):
                c0 = c[-i] + c0 * x
            return c0
        if n == 1:
            return c[0] + x * 0
        if n == 2:
            c0, c1 = c[0], c[1]
        else:
            c0, c1 = c[-2], c[-1]
            nd = n
            for i in range(3, n + 1):
                tmp = c0
                if kind == "cheb":
                    c0, c1 = c[-i] - c1, tmp + c1 * (2 * x)
                elif kind == "leg":
                    nd = nd - 1
                    c0, c1 = c[-i] - c1 * ((nd - 1) / nd), tmp + c1 * x * ((2 * nd - 1) / nd)
                elif kind == "herm":
                    nd = nd - 1
                    c0, c1 = c[-i] - c1 * (2 * (nd - 1)), tmp + c1 * (2 * x)
                elif kind == "herme":
                    nd = nd - 1
                    c0, c1 = c[-i] - c1 * (nd - 1), tmp + c1 * x
                else:  # lag
                    nd = nd - 1
                    c0, c1 = c[-i] - (c1 * (nd - 1)) / nd, tmp + (c1 * ((2 * nd - 1) - x)) / nd
        if kind == "cheb":
            return c0 + c1 * x
        if kind == "leg":
            return c0 + c1 * x
        if kind == "herm":
            return c0 + c1 * (2 * x)
        if kind == "herme":
            return c0 + c1 * x
        return c0 + c1 * (1 - x)

    val.__name__ = val.__qualname__ = f"{kind}val"
    return val


def _polynomial_modules():
    from numpy.polynomial import chebyshev, hermite, hermite_e, laguerre, legendre
    from numpy.polynomial import polynomial as power

    return [(power.polyval, "poly"), (chebyshev.chebval, "cheb"), (legendre.legval, "leg"),
            (hermite.hermval, "herm"), (hermite_e.hermeval, "herme"), (laguerre.lagval, "lag")]


POLYNOMIAL_VAL = {}
for _f, _kind in _polynomial_modules():
    defcomposite(_f, _series_val(_kind))
    route(_f)
    POLYNOMIAL_VAL[_kind] = _f


def mapdomain(x, old, new):
    """``numpy.polynomial.polyutils.mapdomain`` (what the series classes call on their argument),
    differentiable in ``x``, ``old`` and ``new``: NumPy's own arithmetic (``mapparms``, plain
    Python, runs on traced values), the result in NumPy's type (a scalar ``x`` gives a scalar)."""
    from numpy.polynomial import polyutils

    if isinstance(x, (list, tuple)):
        x = np.stack([_arr(v) for v in x])
    off, scl = polyutils.mapparms(old, new)
    out = off + scl * x
    if isinstance(x, np.ndarray) or not isinstance(out, Tracer):
        return out
    plain = ORIGINALS["mapdomain"](*[strip_tree(a) for a in (x, old, new)])
    return out if isinstance(plain, np.ndarray) else like_value(out, plain)


def _mapdomain():
    from numpy.polynomial import polyutils

    return polyutils.mapdomain


defcomposite(_mapdomain(), mapdomain)
route(_mapdomain())
POLYNOMIAL_VAL["mapdomain"] = _mapdomain()


# ---------------------------------------------------------------- select, piecewise


def select(condlist, choicelist, default=0):
    if len(condlist) != len(choicelist):
        raise ValueError("list of cases must be same length as list of conditions")
    if len(condlist) == 0:
        raise ValueError("select with an empty condition list is not possible")
    conds = [np.asarray(_plain(c)) for c in condlist]
    for i, c in enumerate(conds):
        if c.dtype.type is not np.bool:
            raise TypeError(f"invalid entry {i} in condlist: should be boolean ndarray")
    weak = (int, float, complex)  # NumPy keeps Python scalars weak in the result dtype (NEP 50)
    dtype = np.result_type(*[c if type(c) in weak else np.asarray(_plain(c)) for c in [*choicelist, default]])
    choices = [_arr(c) for c in choicelist]
    default = _arr(default)
    shape = np.broadcast_shapes(*[np.shape(c) for c in conds], *[c.shape for c in choices], default.shape)
    result = default
    for c, v in zip(conds[::-1], choices[::-1]):
        result = np.where(c, v, result)
    result = np.broadcast_to(result, shape) if result.shape != shape else result
    return result.astype(dtype) if result.dtype != dtype else result


defcomposite(np.select, select)


def piecewise(x, condlist, funclist, *args, **kw):
    """``np.piecewise`` (NumPy's code): each function sees the selected entries only."""
    x = _arr(x)
    n2 = len(funclist)
    if isinstance(condlist, Tracer):
        condlist = strip(condlist)
    elif isinstance(condlist, (list, tuple)):
        condlist = [_plain(c) for c in condlist]
    if np.isscalar(condlist) or (not isinstance(condlist[0], (list, np.ndarray)) and x.ndim != 0):
        condlist = [condlist]
    condlist = np.asarray(condlist, dtype=bool)
    n = len(condlist)
    if n == n2 - 1:
        condelse = ~np.any(condlist, axis=0, keepdims=True)
        condlist = np.concatenate([condlist, condelse], axis=0)
        n += 1
    elif n != n2:
        raise ValueError(f"with {n} condition(s), either {n} or {n + 1} functions are expected")
    y = np.zeros_like(x)
    for cond, func in zip(condlist, funclist):
        if not callable(func):
            y = np.where(cond, func, y)
        else:
            vals = x[cond]
            if vals.size > 0:
                y[cond] = func(vals, *args, **kw)
    return y


defcomposite(np.piecewise, piecewise)


# ---------------------------------------------------------------- partition


def partition(a, kth, axis=-1, kind="introselect", order=None):
    a = _arr(a)
    if axis is None:
        a, axis = np.ravel(a), -1
    idx = np.argpartition(strip(a), kth, axis=axis, kind=kind, order=order)
    return np.take_along_axis(a, idx, axis=axis)


defcomposite(np.partition, partition)


# ---------------------------------------------------------------- apply_along_axis, apply_over_axes


def apply_along_axis(func1d, axis, arr, *args, **kwargs):
    arr = _arr(arr)
    nd = arr.ndim
    axis = normalize_axis_index(axis, nd)
    in_dims = list(range(nd))
    inarr = np.transpose(arr, in_dims[:axis] + in_dims[axis + 1:] + [axis])
    outer = inarr.shape[:-1]
    inds = list(np.ndindex(outer))
    if not inds:
        raise ValueError("Cannot apply_along_axis when any iteration dimensions are 0")
    results = [_arr(func1d(inarr[ind], *args, **kwargs)) for ind in inds]
    res0 = results[0]
    buff = np.reshape(np.stack(results), outer + res0.shape)
    bd = list(range(buff.ndim))
    perm = bd[0:axis] + bd[buff.ndim - res0.ndim:] + bd[axis:buff.ndim - res0.ndim]
    return np.transpose(buff, perm)


defcomposite(np.apply_along_axis, apply_along_axis)


def apply_over_axes(func, a, axes):
    val = _arr(a)
    N = val.ndim
    if np.ndim(axes) == 0:
        axes = (axes,)
    for axis in axes:
        if axis < 0:
            axis = N + axis
        res = _arr(func(val, axis))
        if res.ndim == val.ndim:
            val = res
        else:
            res = np.expand_dims(res, axis)
            if res.ndim == val.ndim:
                val = res
            else:
                raise ValueError("function is not returning an array of the correct shape")
    return val


defcomposite(np.apply_over_axes, apply_over_axes)


# ---------------------------------------------------------------- linspace, logspace, geomspace


def _promotion_operand(v):
    """What NumPy's type promotion sees of ``v``: a Python number stays one (weak), so does a traced
    Python number; anything else is an array."""
    from ..dispatch import TracedWeak, _python_number

    if type(v) in (int, float, complex) or type(v) is TracedWeak:
        return _python_number(v)
    return strip(_arr(v))


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *, device=None):
    num = operator.index(num)
    if num < 0:
        raise ValueError(f"Number of samples, {num}, must be non-negative.")
    div = (num - 1) if endpoint else num
    # NumPy's result type, Python numbers weak (NEP 50): linspace(0, float32) is float32
    dt = np.result_type(*[_promotion_operand(v) for v in (start, stop)], float(num))
    start, stop = _arr(start), _arr(stop)
    if dtype is None:
        dtype = dt
    start = start.astype(dt) if start.dtype != dt else start
    stop = stop.astype(dt) if stop.dtype != dt else stop
    delta = stop - start
    shape = np.broadcast_shapes(start.shape, stop.shape)
    t = np.reshape(np.arange(0, num, dtype=dt), (-1,) + (1,) * len(shape))
    if div > 0:
        step = delta / div
        if np.any(strip(step) == 0):
            y = t / div * delta
        else:
            y = t * step
    else:
        step = np.nan
        y = t * delta
    y = y + start
    if endpoint and num > 1:
        y = np.concatenate([y[:-1], np.broadcast_to(stop, (1,) + shape)], axis=0)
    if axis != 0:
        y = np.moveaxis(y, 0, axis)
    if np.dtype(dtype).kind in "iu":
        y = np.floor(y)
    y = y.astype(dtype) if y.dtype != np.dtype(dtype) else y
    if retstep:
        return y, step
    return y


def _ndmin(a, nd):
    a = _arr(a)
    return np.reshape(a, (1,) * (nd - a.ndim) + a.shape) if a.ndim < nd else a


def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    if not isinstance(base, (float, int)) and np.ndim(_plain(base)):  # NumPy's broadcasting of base
        nd = len(np.broadcast_shapes(np.shape(_plain(start)), np.shape(_plain(stop)), np.shape(_plain(base))))
        start, stop, base = (_ndmin(v, nd) for v in (start, stop, base))
        base = np.expand_dims(base, axis=axis)
    y = linspace(start, stop, num=num, endpoint=endpoint, axis=axis)
    out = np.power(base, y)
    if dtype is None:
        return out
    return out.astype(dtype)


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    start, stop = _arr(start), _arr(stop)
    if np.any(strip(start) == 0) or np.any(strip(stop) == 0):
        raise ValueError("Geometric sequence cannot include zero")
    dt = np.result_type(strip(start), strip(stop), float(num), np.zeros((), dtype))
    if dtype is None:
        dtype = dt
    else:
        dt = np.result_type(dt, dtype)
    start = start.astype(dt) if start.dtype != dt else start
    stop = stop.astype(dt) if stop.dtype != dt else stop
    sign = np.sign(strip(start))
    if dt.kind == "c":
        sign = np.where(sign == 0, 1, sign)
    shape = np.broadcast_shapes(start.shape, stop.shape)
    # NumPy's steps: 10 ** linspace(log10(start), log10(stop)) (exp/log rounded otherwise)
    ls = np.log10(start / sign)
    le = np.log10(stop / sign)
    result = np.logspace(ls, le, num=num, endpoint=endpoint, base=10.0, dtype=dt)
    if num > 0:
        parts = [np.broadcast_to(start / sign, (1,) + shape)]
        last = num - 1 if (num > 1 and endpoint) else num
        parts.append(result[1:last])
        if num > 1 and endpoint:
            parts.append(np.broadcast_to(stop / sign, (1,) + shape))
        result = np.concatenate(parts, axis=0)
    result = sign * result
    if axis != 0:
        result = np.moveaxis(result, 0, axis)
    return result.astype(dtype) if result.dtype != np.dtype(dtype) else result


for _f, _impl in [(np.linspace, linspace), (np.logspace, logspace), (np.geomspace, geomspace)]:
    defcomposite(_f, _impl)


# ---------------------------------------------------------------- rollaxis, real_if_close


def rollaxis(a, axis, start=0):
    a = _arr(a)
    n = a.ndim
    axis = normalize_axis_index(axis, n)
    if start < 0:
        start += n
    if not (0 <= start < n + 1):
        raise np.exceptions.AxisError(
            f"'start' arg requires {-n} <= start < {n + 1}, but {start} was passed in")
    if axis < start:
        start -= 1
    if axis == start:
        return a[...]
    axes = list(range(n))
    axes.remove(axis)
    axes.insert(start, axis)
    return np.transpose(a, axes)


defcomposite(np.rollaxis, rollaxis)


def real_if_close(a, tol=100):
    a = _arr(a)
    if a.dtype.kind != "c":
        return a
    if tol > 1:
        tol = np.finfo(a.dtype.type).eps * tol
    if np.all(np.absolute(np.imag(strip(a))) < tol):
        return np.real(a)
    return a


defcomposite(np.real_if_close, real_if_close)


# ---------------------------------------------------------------- histogram, bincount (in the weights)


def _bincount_raw(weights, x, minlength=0):
    return np.bincount(x, weights=weights, minlength=minlength)


def bincount_adjoint(g, shape, dtype, x, minlength=0):
    return np.take(g, x)


#: ``bincount(weights, x, minlength)``: linear in the weights
_bincount = deflinear(_bincount_raw, bincount_adjoint, name="numpy.bincount", key=False)


def bincount(x, weights=None, minlength=0):
    if isinstance(x, Tracer):
        x = strip(x)  # integer bins: no gradient
    if weights is None:
        return np.bincount(x, minlength=minlength)
    w = _arr(weights)
    xs = np.asarray(x)
    if w.dtype.kind == "c":
        raise TypeError("Cannot cast array data from dtype('complex128') to dtype('float64') "
                        "according to the rule 'safe'")
    if w.shape != xs.shape:
        raise ValueError("The weights and list don't have the same length.")
    if w.dtype != np.float64:
        w = w.astype(np.float64)
    return _bincount(w, xs, minlength)


defcomposite(np.bincount, bincount)


def _given_edges(bins):
    """Bin edges given as a traced array or a list of (traced) numbers: NumPy's ``asarray(bins)``."""
    if type(bins) in (list, tuple):
        return np.stack([array_like(b) for b in bins])
    return bins


def histogram(a, bins=10, range=None, density=None, weights=None):
    """``np.histogram``: the counts are linear in ``weights``; the edges, when NumPy computes them from
    ``a``'s range, are differentiable in ``a``, and when given (``bins``) are those, traced, which
    the density differentiates through (the widths); which bin an entry falls in carries no
    gradient."""
    pa = _plain(a)
    w = None if weights is None else _arr(weights)
    plain_bins = strip_tree(bins)
    counts, edges = np.histogram(pa, bins=plain_bins, range=range)
    if np.ndim(plain_bins) == 1 and any_traced([bins]):
        edges = _given_edges(bins)
    if w is not None:
        pa_flat = np.ravel(np.asarray(pa))
        nb = len(edges) - 1
        idx = np.searchsorted(edges, pa_flat, side="right") - 1
        idx = np.where(pa_flat == edges[-1], nb - 1, idx)
        inside = (pa_flat >= edges[0]) & (pa_flat <= edges[-1])
        wf = np.ravel(w)[inside]
        counts = bincount(idx[inside], wf, nb)
        wd = strip(w).dtype
        counts = counts.astype(wd) if counts.dtype != wd and wd.kind in "fc" else counts
    if isinstance(a, Tracer) and isinstance(bins, (int, np.integer)) and range is None and np.size(pa) \
            and edges[0] != edges[-1] and np.min(pa) < np.max(pa):
        edges = np.linspace(np.min(a), np.max(a), int(bins) + 1)
    out = (counts / _widths(edges) / np.sum(counts), edges) if density else (counts, edges)
    if w is not None:  # NumPy sums weights in its own order (cumulative sums for uneven bins): its value
        want = np.histogram(pa, bins=plain_bins, range=range, density=density, weights=strip(w))
        out = _with_values(out, want)
    return out


defcomposite(np.histogram, histogram)


def _widths(edges):
    """The bin widths as NumPy divides by them (in float64)."""
    db = np.diff(edges)
    return db if db.dtype == np.float64 else db.astype(np.float64)


def histogramdd(sample, bins=10, range=None, density=None, weights=None):
    """``np.histogramdd`` (NumPy's binning, on the plain values): linear in ``weights``; the edges
    NumPy computes from the sample's range are differentiable in the sample."""
    traced_seq = not hasattr(sample, "shape")
    plain = np.atleast_2d([_plain(s_) for s_ in sample]).T if traced_seq else _plain(sample)
    _, edges = np.histogramdd(plain, bins=strip_tree(bins), range=range)
    N, D = plain.shape
    nbin = np.array([len(e) + 1 for e in edges], np.intp)
    ncount = tuple(np.searchsorted(edges[i], plain[:, i], side="right") for i in builtins_range(D))
    for i in builtins_range(D):
        ncount[i][plain[:, i] == edges[i][-1]] -= 1
    xy = np.ravel_multi_index(ncount, nbin)
    if weights is None:
        hist = np.bincount(xy, minlength=int(nbin.prod())).astype(float)
    else:
        hist = bincount(xy, weights, int(nbin.prod()))
    hist = np.reshape(hist, tuple(nbin))[D * (slice(1, -1),)]
    try:  # NumPy's reading of bins (checked by the call above): one entry per dimension, or one for all
        len(bins)
        per_dim = bins
    except TypeError:
        per_dim = [bins] * D
    edges = list(edges)
    for i in builtins_range(D):
        col = sample[i] if traced_seq else (sample[:, i] if isinstance(sample, Tracer) else None)
        if (isinstance(col, Tracer) and np.ndim(per_dim[i]) == 0 and (range is None or range[i] is None)
                and N and np.min(plain[:, i]) < np.max(plain[:, i])):
            edges[i] = np.linspace(np.min(col), np.max(col), int(per_dim[i]) + 1)
        elif any_traced([per_dim[i]]):  # edges given, traced
            edges[i] = _given_edges(per_dim[i])
    if density:
        total = np.sum(hist)
        for i in builtins_range(D):
            shape = [1] * D
            shape[i] = nbin[i] - 2
            hist = hist / np.reshape(np.diff(edges[i]), shape)
        hist = hist / total
    return hist, edges


defcomposite(np.histogramdd, histogramdd)


def histogram2d(x, y, bins=10, range=None, density=None, weights=None):
    """``np.histogram2d``: NumPy's reading of ``bins`` (one edge array for both axes when it is
    neither one nor two items), then :func:`histogramdd`."""
    try:
        n = len(bins)
    except TypeError:
        n = 1
    if n != 1 and n != 2:
        bins = [bins, bins]
    hist, edges = np.histogramdd([x, y], bins, range, density, weights)
    return hist, edges[0], edges[1]


defcomposite(np.histogram2d, histogram2d)


# ---------------------------------------------------------------- cov, corrcoef


def cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None, *, dtype=None):
    """``np.cov`` (NumPy's code with traced values)."""
    if ddof is not None and ddof != int(ddof):
        raise ValueError("ddof must be integer")
    m = _arr(m)
    if m.ndim > 2:
        raise ValueError("m has more than 2 dimensions")
    if y is not None:
        y = _arr(y)
        if y.ndim > 2:
            raise ValueError("y has more than 2 dimensions")
    if dtype is None:
        dtype = np.result_type(strip(m), np.float64) if y is None else \
            np.result_type(strip(m), strip(y), np.float64)
    X = np.reshape(m, (1, -1)) if m.ndim < 2 else m
    X = X.astype(dtype) if X.dtype != dtype else X
    if not rowvar and m.ndim != 1:
        X = X.T
    if X.shape[0] == 0:
        return np.array([]).reshape(0, 0)
    if y is not None:
        yy = np.reshape(y, (1, -1)) if y.ndim < 2 else y
        yy = yy.astype(dtype) if yy.dtype != dtype else yy
        if not rowvar and yy.shape[0] != 1:
            yy = yy.T
        X = np.concatenate((X, yy), axis=0)
    if ddof is None:
        ddof = 1 if bias == 0 else 0
    w = None
    if fweights is not None:
        fweights = _arr(fweights).astype(float)
        pf = strip(fweights)
        if not np.all(pf == np.around(pf)):
            raise TypeError("fweights must be integer")
        if fweights.ndim > 1:
            raise RuntimeError("cannot handle multidimensional fweights")
        if fweights.shape[0] != X.shape[1]:
            raise RuntimeError("incompatible numbers of samples and fweights")
        if np.any(pf < 0):
            raise ValueError("fweights cannot be negative")
        w = fweights
    if aweights is not None:
        aweights = _arr(aweights).astype(float)
        if aweights.ndim > 1:
            raise RuntimeError("cannot handle multidimensional aweights")
        if aweights.shape[0] != X.shape[1]:
            raise RuntimeError("incompatible numbers of samples and aweights")
        if np.any(strip(aweights) < 0):
            raise ValueError("aweights cannot be negative")
        w = aweights if w is None else w * aweights
    avg, w_sum = np.average(X, axis=1, weights=w, returned=True)
    w_sum = w_sum[0]
    if w is None:
        fact = X.shape[1] - ddof
    elif ddof == 0:
        fact = w_sum
    elif aweights is None:
        fact = w_sum - ddof
    else:
        fact = w_sum - ddof * np.sum(w * aweights) / w_sum
    if _plain(fact) <= 0:
        import warnings

        warnings.warn("Degrees of freedom <= 0 for slice", RuntimeWarning, stacklevel=3)
        fact = 0.0
    X = X - avg[:, None]
    X_T = X.T if w is None else (X * w).T
    c = np.dot(X, np.conj(X_T))
    c = c * np.true_divide(1, fact)
    return np.squeeze(c)


defcomposite(np.cov, cov)


def corrcoef(x, y=None, rowvar=True, *, dtype=None):
    c = cov(x, y, rowvar, dtype=dtype)
    if c.ndim == 0:
        return c / c
    d = np.diag(c)
    stddev = np.sqrt(np.real(d))
    c = c / stddev[:, None]
    c = c / stddev[None, :]
    if c.dtype.kind == "c":
        return np.clip(np.real(c), -1, 1) + 1j * np.clip(np.imag(c), -1, 1)
    return np.clip(c, -1, 1)


defcomposite(np.corrcoef, corrcoef)

#: name -> the function running NumPy's own code, for the intercepted numpy.polynomial functions
ORIGINALS = {kind: original(f) for kind, f in POLYNOMIAL_VAL.items()}


# ---------------------------------------------------------------- np.r_, np.c_ (index tricks)
#
# ``np.r_[a, b]`` is ``AxisConcatenator.__getitem__``, which converts its items with ``np.array``.
# It only places its items' entries (concatenation, reshaping, transposition): NumPy's own code,
# run on plain stand-ins of the traced items, tells where each traced entry lands. Three runs:
# the traced items as 0 and as 1 (the entries that differ are theirs), then as their flat indices
# (in several runs of digits where the items' dtype cannot hold every index exactly: float16).


def _concatenator_getitem(self, key):
    plain = original(_CONCATENATOR)
    items = key if isinstance(key, tuple) else (key,)
    traced = [i for i, item in enumerate(items) if isinstance(item, Tracer)]
    if not traced:
        return plain(self, key)
    flat = [np.ravel(items[i]) for i in traced]
    sizes = [f.size for f in flat]
    starts = np.cumsum([0] + sizes[:-1])

    def run(stand_in):
        new = list(items)
        for k, i in enumerate(traced):
            new[i] = stand_in(k, items[i])
        return plain(self, tuple(new) if isinstance(key, tuple) else new[0])

    def zeros(k, item):
        return np.zeros(item.shape, item.dtype)

    def ones(k, item):
        return np.ones(item.shape, item.dtype)

    base, ones_run = run(zeros), run(ones)
    placed = base != ones_run
    if base.dtype.kind in "fc":  # a plain item's NaN differs from itself, and is no traced entry
        placed &= ~(np.isnan(base) & np.isnan(ones_run))
    # each entry's flat index, in digits of a base every item's dtype holds exactly (float16: 2048)
    digit = min(2 ** (np.finfo(items[i].dtype).nmant + 1) for i in traced)
    total = int(sum(sizes))
    idx = np.zeros(base.shape, np.intp)
    scale = 1
    while True:
        def positions(k, item, scale=scale):
            flat = np.arange(starts[k], starts[k] + sizes[k]) // scale % digit
            return np.reshape(flat, item.shape).astype(item.dtype)

        idx += np.where(placed, np.real(run(positions)), 0).astype(np.intp) * scale
        scale *= digit
        if scale >= total:
            break
    values = np.concatenate([f.astype(base.dtype) if f.dtype != base.dtype else f for f in flat])
    return np.where(placed, np.take(values, idx), base)


def _concatenator():
    try:  # a private module of NumPy 2 (np.r_ and np.c_ are instances of its classes)
        from numpy.lib import _index_tricks_impl

        return _index_tricks_impl.AxisConcatenator.__getitem__
    except (ImportError, AttributeError):  # pragma: no cover - another NumPy layout
        return None


_CONCATENATOR = _concatenator()
if _CONCATENATOR is not None:
    defcomposite(_CONCATENATOR, _concatenator_getitem)
    route(_CONCATENATOR)
