"""Rules: ``scipy.ndimage`` spline interpolation (map_coordinates, shift, zoom, rotate, affine_transform,
spline_filter, spline_filter1d).

An interpolation is two linear stages: the prefilter ``c = B^-1 x`` (``spline_filter``, for
``order > 1`` with ``prefilter=True``), then the evaluation ``y_p = sum_k w_k(p) c[idx_k(p)]`` of
the spline at the coordinates, ``(order + 1)**ndim`` B-spline weights per point, with the
boundary mode deciding which coefficient each out-of-range index reads (measured against
SciPy: 'mirror', 'constant' and 'wrap' extend the coefficients like ``np.pad``'s 'reflect',
'reflect'/'grid-mirror' like 'symmetric', 'grid-wrap' periodically, 'nearest' like 'edge',
'grid-constant' with ``cval``; 'constant' gives ``cval`` outside ``[0, n-1]``, 'wrap' folds
the coordinate with period ``n-1``).

- The evaluation's adjoint scatters the cotangent with the same weights (``np.bincount``),
  at the forward's cost. Its derivative in the coordinates is the same evaluation with the
  derivative of the B-spline basis (``beta_n' (y) = beta_{n-1}(y + 1/2) - beta_{n-1}(y - 1/2)``).
  The two primitives (:func:`spline_eval`, :func:`spline_scatter`) are each other's adjoints
  and carry a derivative multi-index, so every order of differentiation is exact.
- The prefilter's adjoint: SciPy's recursive filter is nearly symmetric (exactly so up to the
  boundary initialisation); its transpose is the filter itself plus a correction confined to
  the two ``K x K`` corner blocks (``K = 64``: the recursions decay below 1e-20 there),
  measured once per (length, order, mode) from SciPy's own filter and cached.
"""

from __future__ import annotations

import functools
from math import comb, factorial

import numpy as np
import scipy.ndimage as nd
import scipy.special as sc

from ..core import Tracer, strip
from ..errors import NoRuleError
from ..intercept import original, route
from .ndimage import _constant, _no_output_array
from .registry import defcomposite, deflinear, defvjp

try:  # NumPy >= 2
    from numpy.lib.array_utils import normalize_axis_index
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import normalize_axis_index

_MODES = ("reflect", "grid-mirror", "mirror", "nearest", "wrap", "grid-wrap", "constant", "grid-constant")
RAW = {
    name: original(getattr(nd, name))
    for name in (
        "map_coordinates",
        "shift",
        "zoom",
        "rotate",
        "affine_transform",
        "spline_filter",
        "spline_filter1d",
    )
}


# ---------------------------------------------------------------- the B-spline basis


def bspline(n: int, y: np.ndarray, k: int = 0) -> np.ndarray:
    """The ``k``-th derivative of the centred B-spline of degree ``n`` at ``y``."""
    if k > n:
        return np.zeros_like(y)
    if k:
        return sum((-1) ** j * comb(k, j) * bspline(n - k, y + k / 2 - j) for j in range(k + 1))
    if n == 0:
        return ((y >= -0.5) & (y < 0.5)).astype(np.float64)
    out = np.zeros_like(y)
    for j in range(n + 2):  # sum_j (-1)^j C(n+1, j) (y + (n+1)/2 - j)_+^n, powers by multiplication
        m = np.maximum(y + ((n + 1) / 2 - j), 0.0)
        p = m
        for _ in range(n - 1):
            p = p * m
        out += ((-1) ** j * comb(n + 1, j)) * p
    return out / factorial(n)


@functools.cache
def _tap_polynomials(n: int, k: int) -> np.ndarray:
    """Coefficients (ascending powers of the fraction ``u``) of the ``k``-th derivative of each of
    the ``n + 1`` B-spline weights a point gives its taps: row ``l`` is tap ``start + l``, whose
    offset is ``y = u + s_l``; on ``0 <= u < 1`` each is one polynomial piece of ``beta_n``."""
    from numpy.polynomial import polynomial as P

    rows = []
    for tap in range(n + 1):
        s_l = n // 2 - tap if n & 1 else n // 2 - tap - 0.5
        c = s_l + (n + 1) / 2  # an integer: the truncated powers switched on over the whole piece
        poly = np.zeros(n + 1)
        for j in range(n + 2):
            if j <= c:
                shift = c - j  # (u + shift)^n, expanded
                poly += ((-1) ** j * comb(n + 1, j) / factorial(n)) * np.array(
                    [comb(n, p) * shift ** (n - p) for p in range(n + 1)])
        rows.append(P.polyder(poly, k) if k else poly)
    return np.array(rows).reshape(n + 1, -1)


def tap_weights(n: int, k: int, u: np.ndarray) -> np.ndarray:
    """``(n + 1, P)``: the ``k``-th derivative of the B-spline weights of points at fraction ``u``
    (tap-major: each row one tap's weights for all points, contiguous)."""
    if k > n:
        return np.zeros((n + 1, u.shape[0]))
    coef = _tap_polynomials(n, k)
    out = np.empty((coef.shape[0], u.shape[0]))  # Horner, over the (n + 1, P) taps at once
    out[:] = coef[:, -1:]
    for p in range(coef.shape[1] - 2, -1, -1):
        out *= u
        out += coef[:, p : p + 1]
    return out


def _fold(x, n, mode):
    """SciPy's coordinate mapping: the folded coordinate and its derivative (+-1)."""
    one = np.ones_like(x)
    if n <= 1 and mode in ("mirror", "reflect", "grid-mirror", "wrap"):
        return np.zeros_like(x), np.zeros_like(x)
    if mode == "mirror":
        p = 2 * n - 2
        lo = x < 0
        y = np.where(lo, p * np.floor(-x / p) + x, x - p * np.floor(x / p))
        flip_lo = lo & ~(y <= 1 - n)
        y = np.where(lo, np.where(y <= 1 - n, y + p, -y), y)
        hi = ~lo & (x > n - 1) & (y >= n)
        return np.where(hi, p - y, np.where(lo | (x > n - 1), y, x)), np.where(flip_lo | hi, -one, one)
    if mode in ("reflect", "grid-mirror"):
        p = 2 * n
        lo = x < 0
        ylo = np.where(x < -p, p * np.floor(-x / p) + x, x)
        flip_lo = lo & ~(ylo < -n)
        ylo = np.where(ylo < -n, ylo + p, -ylo - 1)
        yhi = x - p * np.floor(x / p)
        hi = (x > n - 1) & (yhi >= n)
        yhi = np.where(yhi >= n, p - yhi - 1, yhi)
        y = np.where(lo, ylo, np.where(x > n - 1, yhi, x))
        return y, np.where(flip_lo | hi, -one, one)
    if mode == "wrap":
        p = n - 1
        y = np.where(x < 0, x + p * (np.floor(-x / p) + 1), np.where(x > n - 1, x - p * np.floor(x / p), x))
        return y, one
    return x, one


def _source(idx, n, mode):
    """Which coefficient an index reads (and, for 'grid-constant', whether it is in range)."""
    if idx.size and idx.min() >= 0 and idx.max() < n:
        return idx, None
    if mode in ("mirror", "constant", "wrap"):
        if n == 1:
            return np.zeros_like(idx), None
        p = 2 * n - 2
        m = np.mod(idx, p)
        return np.where(m < n, m, p - m), None
    if mode in ("reflect", "grid-mirror"):
        m = np.mod(idx, 2 * n)
        return np.where(m < n, m, 2 * n - 1 - m), None
    if mode == "grid-wrap":
        return np.mod(idx, n), None
    if mode == "nearest":
        return np.clip(idx, 0, n - 1), None
    ok = (idx >= 0) & (idx < n)
    return np.where(ok, idx, 0), ok


def _taps(shape, pts, order, mode, orders):
    """Per axis ``a``: the coefficient index each tap reads ``(T, P)``, its in-range mask (or None)
    and the weights ``(T, P)`` of each derivative order in ``orders[a]`` (tap-major: each row one
    tap for all points, contiguous, so that every step is a long vector operation); and the
    points outside the image ('constant' mode)."""
    outside = np.zeros(pts.shape[1], bool)
    taps = np.arange(order + 1)[:, None]
    per = []
    for a in range(len(shape)):
        x, sign = _fold(pts[a], shape[a], mode)
        if mode == "constant":
            outside |= (pts[a] < 0) | (pts[a] > shape[a] - 1)
        base = np.floor(x) if order & 1 else np.floor(x + 0.5)
        idx = taps + (base.astype(np.intp) - order // 2)
        u = x - base if order & 1 else x + 0.5 - base
        ws = {}
        for k in orders[a]:
            w = tap_weights(order, k, u)
            if k % 2:
                w *= sign
            ws[k] = w
        src, ok = _source(idx, shape[a], mode)
        per.append((src, ok, ws))
    return per, outside


def _flat(shape, per):
    """The flat coefficient index of each tap of the tensor product ``(F, P)``."""
    flat = per[0][0]
    for a in range(1, len(shape)):
        flat = (flat[:, None, :] * shape[a] + per[a][0][None, :, :]).reshape(-1, flat.shape[-1])
    return flat


def _weights(per, outside, mode, deriv):
    """The tensor-product weights ``(F, P)`` of the derivative ``deriv``, the weight left to ``cval``."""
    win = wall = None
    for a, (_, ok, ws) in enumerate(per):
        w = ws[deriv[a]]
        w_in = w if ok is None else w * ok
        if a == 0:
            win, wall = w_in, w
            continue
        win = (win[:, None, :] * w_in[None, :, :]).reshape(-1, win.shape[-1])
        if mode == "grid-constant":
            wall = (wall[:, None, :] * w[None, :, :]).reshape(-1, wall.shape[-1])
    const = np.sum(wall, axis=0) - np.sum(win, axis=0) if mode == "grid-constant" else None
    if outside.any():
        win = win.copy() if len(per) == 1 else win  # (one axis: win is a weight table others read)
        win[:, outside] = 0.0
        const = np.where(outside, 1.0 if not any(deriv) else 0.0, 0.0 if const is None else const)
    return win, const


def _points(shape, x):
    return np.reshape(strip(x), (len(shape), -1)).astype(np.float64, copy=False)


def plan(shape, x, order, mode, deriv):
    """Flat coefficient indices and weights, both ``(F, P)``, and the weight left to ``cval``."""
    shape, deriv = tuple(shape), tuple(deriv)
    per, outside = _taps(shape, _points(shape, x), order, mode, [(k,) for k in deriv])
    return (_flat(shape, per), *_weights(per, outside, mode, deriv))


# ---------------------------------------------------------------- evaluation and its transpose


def _eval_raw(c, x, order, mode, cval, deriv):
    """The spline with coefficients ``c`` (its ``deriv`` partial derivative) at the points ``x``."""
    if not any(deriv):
        dt = np.complex128 if c.dtype.kind == "c" else np.float64
        return RAW["map_coordinates"](c, x, dt, order, mode, cval, False)
    flat, w, const = plan(c.shape, x, order, mode, deriv)
    out = np.sum(w * np.ravel(c)[flat], axis=0)
    if const is not None and cval != 0:
        out = out + cval * const
    return np.reshape(out, np.shape(x)[1:])


def _eval_gradient_raw(c, x, order, mode, cval, deriv):
    """``[_eval_raw(c, x, ..., deriv + e_a) for each axis a]`` (the same bits), sharing the taps,
    their flat indices and the gathered coefficients between the axes."""
    shape = c.shape
    derivs = [_plus(deriv, a) for a in range(c.ndim)]
    per, outside = _taps(shape, _points(shape, x), order, mode, [sorted({k, k + 1}) for k in deriv])
    gathered = np.ravel(c)[_flat(shape, per)]
    out = []
    for dv in derivs:
        w, const = _weights(per, outside, mode, dv)
        v = np.sum(w * gathered, axis=0)
        if const is not None and cval != 0:
            v = v + cval * const
        out.append(np.reshape(v, np.shape(x)[1:]))
    return out


def _scatter_raw(g, x, order, mode, deriv, shape):
    """The transpose of the evaluation's linear part: ``g`` scattered onto ``shape`` coefficients."""
    flat, w, _ = plan(shape, x, order, mode, deriv)
    size = int(np.prod(shape))
    gw = w * np.reshape(g, (1, -1))
    if gw.dtype.kind == "c":
        out = np.bincount(flat.ravel(), gw.real.ravel(), size) + 1j * np.bincount(
            flat.ravel(), gw.imag.ravel(), size
        )
    else:
        out = np.bincount(flat.ravel(), gw.ravel(), size)
    return np.reshape(out, shape)


def _plus(deriv, a):
    return tuple(k + (i == a) for i, k in enumerate(deriv))


def eval_vjp_c(g, ans, c, x, order, mode, cval, deriv):
    return spline_scatter(g, x, order, mode, deriv, c.shape)


def eval_vjp_x(g, ans, c, x, order, mode, cval, deriv):
    if type(c) is np.ndarray and type(x) is np.ndarray and type(g) is np.ndarray:  # one pass for all axes
        grads = _eval_gradient_raw(c, x, order, mode, cval, deriv)
    else:  # traced: each partial derivative a primitive, differentiable in turn
        grads = [spline_eval(c, x, order, mode, cval, _plus(deriv, a)) for a in range(c.ndim)]
    return np.stack([np.real(np.conj(d) * g) for d in grads])


def eval_jvp_c(t, ans, c, x, order, mode, cval, deriv):
    return spline_eval(t, x, order, mode, 0.0, deriv)


def eval_jvp_x(t, ans, c, x, order, mode, cval, deriv):
    total = 0
    for a in range(c.ndim):
        total = total + spline_eval(c, x, order, mode, cval, _plus(deriv, a)) * t[a]
    return total


def scatter_vjp_g(h, ans, g, x, order, mode, deriv, shape):
    return spline_eval(h, x, order, mode, 0.0, deriv)


def scatter_vjp_x(h, ans, g, x, order, mode, deriv, shape):
    parts = [
        np.real(g * np.conj(spline_eval(h, x, order, mode, 0.0, _plus(deriv, a)))) for a in range(len(shape))
    ]
    return np.stack(parts)


def scatter_jvp_g(t, ans, g, x, order, mode, deriv, shape):
    return spline_scatter(t, x, order, mode, deriv, shape)


def scatter_jvp_x(t, ans, g, x, order, mode, deriv, shape):
    total = 0
    for a in range(len(shape)):
        total = total + spline_scatter(g * t[a], x, order, mode, _plus(deriv, a), shape)
    return total


spline_eval = defvjp(
    _eval_raw,
    [eval_vjp_c, eval_vjp_x],
    [eval_jvp_c, eval_jvp_x],
    name="scipy.ndimage.<spline evaluation>",
    key=False,
)
spline_scatter = defvjp(
    _scatter_raw,
    [scatter_vjp_g, scatter_vjp_x],
    [scatter_jvp_g, scatter_jvp_x],
    name="scipy.ndimage.<spline scatter>",
    key=False,
)


# ---------------------------------------------------------------- the prefilter and its transpose

_K = 64


@functools.lru_cache(maxsize=64)
def _filter_transpose_parts(n, order, mode):
    """For a line of ``n``: the dense transpose (short lines), or the two corner corrections."""
    sf = RAW["spline_filter1d"]
    if n <= 2 * _K:
        return np.stack([sf(e, order, -1, np.float64, mode) for e in np.eye(n)], axis=1), None, None
    cols = [
        np.stack([sf(e, order, -1, np.float64, mode) for e in np.eye(n)[list(r)]], axis=1)
        for r in (range(_K), range(n - _K, n))
    ]
    top = cols[0][:_K]
    bottom = cols[1][n - _K :]
    return None, top.T - top, bottom.T - bottom


def spline_filter1d_adjoint(g, shape, dtype, order, axis, output, mode):
    """``M^T g``: the filter itself plus its corner corrections (or the dense transpose of a short line)."""
    if order in (0, 1):
        return g
    axis = normalize_axis_index(axis, len(shape))
    n = shape[axis]
    if n <= 1:
        return g
    dense, top, bottom = _filter_transpose_parts(n, order, mode)
    moved = np.moveaxis(g, axis, -1)
    if dense is not None:
        return np.moveaxis(moved @ dense, -1, axis)
    main = nd.spline_filter1d(g, order, axis, None, mode)
    fix_top = moved[..., :_K] @ top.T
    fix_bottom = moved[..., n - _K :] @ bottom.T
    zeros = np.zeros(moved.shape[:-1] + (n - 2 * _K,), dtype=np.result_type(strip(fix_top).dtype, np.float64))
    fix = np.concatenate([fix_top, zeros, fix_bottom], axis=-1)
    return main + np.moveaxis(fix, -1, axis)


def _sf1d_raw(x, order, axis, output, mode):
    return RAW["spline_filter1d"](x, order, axis, output, mode)


_sf1d = deflinear(_sf1d_raw, spline_filter1d_adjoint, name="scipy.ndimage.spline_filter1d", key=False)


def spline_filter1d(input, order=3, axis=-1, output=np.float64, mode="mirror"):
    if order < 0 or order > 5:
        raise RuntimeError("spline order not supported")
    _no_output_array(output, "spline_filter1d")
    if output is None:
        output = input.dtype
    return _sf1d(input, order, axis, output, mode)


def spline_filter(input, order=3, output=np.float64, mode="mirror"):
    if order < 2 or order > 5:
        raise RuntimeError("spline order not supported")
    _no_output_array(output, "spline_filter")
    x = input
    for axis in range(x.ndim):
        x = nd.spline_filter1d(x, order, axis, output, mode)
    return x


# ---------------------------------------------------------------- the public functions


def _check(order, mode):
    if order < 0 or order > 5:
        raise RuntimeError("spline order not supported")
    if mode not in _MODES:
        raise RuntimeError("boundary mode not supported")


def _coefficients(x, order, mode, cval, prefilter):
    """The coefficients (prefiltered; padded for 'nearest'/'grid-constant' as SciPy does) and the pad."""
    if not (prefilter and order > 1):
        return x, 0
    npad = 0
    if mode in ("nearest", "grid-constant"):
        npad = 12
        x = (
            np.pad(x, npad, mode="edge")
            if mode == "nearest"
            else np.pad(x, npad, mode="constant", constant_values=cval)
        )
    # (complex coefficients into a complex output: a float64 one makes SciPy warn that it promotes it)
    return nd.spline_filter(x, order, np.complex128 if np.iscomplexobj(strip(x)) else np.float64, mode), npad


def _finish(out, x, output):
    dt = np.dtype(output) if output is not None else np.dtype(strip(x).dtype)
    if np.iscomplexobj(strip(x)) and dt.kind != "c":
        dt = np.promote_types(dt, np.complex64)
    return out.astype(dt) if strip(out).dtype != dt else out


def _interpolate(x, coords, output, order, mode, cval, prefilter):
    """``x`` interpolated at ``coords`` (shape ``(ndim, ...)``), SciPy's way, through the two primitives."""
    _check(order, mode)
    if isinstance(cval, Tracer):  # the result is linear in (x, cval) jointly
        if np.ndim(cval) != 0:
            raise NoRuleError("scipy.ndimage with respect to a non-scalar 'cval'")
        out = _interpolate(x, coords, output, order, mode, 0.0, prefilter)
        if mode not in ("constant", "grid-constant"):
            return out
        zeros = np.zeros(x.shape, strip(x).dtype)
        return out + cval * _interpolate(zeros, strip(coords), output, order, mode, 1.0, prefilter)
    if np.iscomplexobj(cval) and not np.iscomplexobj(strip(x)):
        raise NoRuleError("a complex cval for a real input")
    if output is not None and np.dtype(output).kind == "c" and not np.iscomplexobj(strip(x)):
        raise RuntimeError("data type not supported")  # SciPy's: no real-to-complex interpolation
    c, npad = _coefficients(x, order, mode, cval, prefilter)
    if npad:
        coords = coords + npad
    out = spline_eval(c, coords, order, mode, cval, (0,) * x.ndim)
    return _finish(out, x, output)


def map_coordinates(input, coordinates, output=None, order=3, mode="constant", cval=0.0, prefilter=True):
    _no_output_array(output, "map_coordinates")
    x = input if hasattr(input, "shape") else np.asarray(input)
    coords = coordinates if hasattr(coordinates, "shape") else _stack_coords(coordinates)
    if coords.shape[0] != x.ndim:
        raise RuntimeError("invalid shape for coordinate array")
    if np.iscomplexobj(strip(coords)):
        raise TypeError("Complex type not supported")
    return _interpolate(
        x,
        coords.astype(np.float64) if strip(coords).dtype != np.float64 else coords,
        output,
        order,
        mode,
        cval,
        prefilter,
    )


def _stack_coords(coords):
    if isinstance(coords, (list, tuple)) and any(isinstance(c, Tracer) for c in coords):
        return np.stack([c if isinstance(c, Tracer) else np.asarray(c, dtype=np.float64) for c in coords])
    return np.asarray(coords)


def _vector(v, n, name):
    """A scalar or sequence (possibly traced) as a length-n vector."""
    if isinstance(v, (list, tuple)):
        v = _stack_coords([np.asarray(e, dtype=np.float64) if not isinstance(e, Tracer) else e for e in v])
    if not hasattr(v, "shape"):
        v = np.asarray(v, dtype=np.float64)
    if v.ndim == 0:
        v = v * np.ones(n)
    return v


def _grid(shape):
    return np.indices(shape, dtype=np.float64)


def shift(input, shift, output=None, order=3, mode="constant", cval=0.0, prefilter=True):
    _no_output_array(output, "shift")
    x = input
    s = _vector(shift, x.ndim, "shift")
    coords = _grid(x.shape) - np.reshape(s, (x.ndim,) + (1,) * x.ndim)
    return _interpolate(x, coords, output, order, mode, cval, prefilter)


def zoom(input, zoom, output=None, order=3, mode="constant", cval=0.0, prefilter=True, *, grid_mode=False):
    _no_output_array(output, "zoom")
    x = input
    if np.iscomplexobj(strip(x)):
        grid_mode = False  # SciPy zooms a complex input's parts without passing grid_mode on
    z = _constant(zoom, "zoom")
    z = [float(v) for v in np.broadcast_to(np.asarray(z, dtype=np.float64), (x.ndim,))]
    out_shape = tuple(int(round(n * f)) for n, f in zip(x.shape, z))
    if all(f == 1 for f in z) and prefilter:
        return _finish(x + 0, x, output)
    axes = []
    for n_in, n_out in zip(x.shape, out_shape):
        num, den = (n_in, n_out) if grid_mode else (n_in - 1, n_out - 1)
        f = num / den if den != 0 else 1.0
        k = np.arange(n_out, dtype=np.float64)
        axes.append((k + 0.5) * f - 0.5 if grid_mode else k * f)
    coords = np.stack(np.meshgrid(*axes, indexing="ij"))
    return _interpolate(x, coords, output, order, mode, cval, prefilter)


def _affine_coords(in_shape, matrix, offset, out_shape):
    """SciPy's checks of an affine matrix (its exceptions), then the output's input coordinates."""
    ndim = len(in_shape)
    m = matrix if hasattr(matrix, "shape") else np.asarray(matrix, dtype=np.float64)
    if m.ndim not in (1, 2) or m.shape[0] < 1:
        raise RuntimeError("no proper affine matrix provided")
    if m.ndim == 2 and m.shape[1] == ndim + 1 and m.shape[0] in (ndim, ndim + 1):
        exptd = [0] * ndim + [1]
        if m.shape[0] == ndim + 1 and not np.all(np.asarray(strip(m))[ndim] == exptd):
            raise ValueError(f"Expected homogeneous transformation matrix with shape {m.shape} for image "
                             f"shape {tuple(in_shape)}, but bottom row was not equal to {exptd}")
        offset = m[:ndim, ndim]
        m = m[:ndim, :ndim]
    if m.shape[0] != ndim:
        raise RuntimeError("affine matrix has wrong number of rows")
    if m.ndim == 2 and m.shape[1] != len(out_shape):
        raise RuntimeError("affine matrix has wrong number of columns")
    off = _vector(offset, ndim, "offset")
    grid = _grid(out_shape)
    column = (ndim,) + (1,) * len(out_shape)
    if m.ndim == 1:  # SciPy's zoom_shift with zoom m and shift offset / m: (k + offset / m) * m
        return (grid + np.reshape(off / m, column)) * np.reshape(m, column)
    # SciPy's C loop, rounding for rounding (an order-0 spline picks a neighbour by it): the offset,
    # plus each output coordinate times its matrix entry, in turn
    rows = []
    for h in range(ndim):
        acc = off[h] + grid[0] * m[h, 0]
        for k in range(1, len(out_shape)):
            acc = acc + grid[k] * m[h, k]
        rows.append(acc)
    return np.stack(rows)


def affine_transform(
    input,
    matrix,
    offset=0.0,
    output_shape=None,
    output=None,
    order=3,
    mode="constant",
    cval=0.0,
    prefilter=True,
):
    _no_output_array(output, "affine_transform")
    x = input
    out_shape = tuple(x.shape) if output_shape is None else tuple(output_shape)
    coords = _affine_coords(x.shape, matrix, offset, out_shape)
    return _interpolate(x, coords, output, order, mode, cval, prefilter)


def rotate(
    input, angle, axes=(1, 0), reshape=True, output=None, order=3, mode="constant", cval=0.0, prefilter=True
):
    """SciPy's rotation matrix and offset, then ``affine_transform`` of each plane (as SciPy does)."""
    _no_output_array(output, "rotate")
    x = input
    ndim = x.ndim
    if ndim < 2:
        raise ValueError("input array should be at least 2D")
    axes = sorted(normalize_axis_index(int(a), ndim) for a in axes)
    a0 = float(strip(angle))
    c, s = sc.cosdg(a0), sc.sindg(a0)  # SciPy's values (exact at multiples of 90 degrees)
    if isinstance(angle, Tracer):  # the same values, with the derivative of cos/sin in degrees
        rad = np.deg2rad(angle - a0)
        c, s = c * np.cos(rad) - s * np.sin(rad), s * np.cos(rad) + c * np.sin(rad)
    rot = np.stack([np.stack([c, s]), np.stack([-s, c])]) if isinstance(angle, Tracer) else \
        np.array([[c, s], [-s, c]])
    r0 = strip(rot)
    img_shape = np.asarray(x.shape)
    in_plane = img_shape[axes]
    if reshape:
        iy, ix = in_plane
        bounds = r0 @ [[0, 0, iy, iy], [0, ix, 0, ix]]
        out_plane = (np.ptp(bounds, axis=1) + 0.5).astype(int)
    else:
        out_plane = in_plane
    offset = (in_plane - 1) / 2 - rot @ ((out_plane - 1) / 2)
    moved = np.moveaxis(x, axes, (-2, -1))
    batch = moved.shape[:-2]
    planes = np.reshape(moved, (-1,) + tuple(moved.shape[-2:]))
    outs = [
        affine_transform(
            planes[i], rot, offset, tuple(int(v) for v in out_plane), output, order, mode, cval, prefilter
        )
        for i in range(planes.shape[0])
    ]
    out = np.reshape(np.stack(outs), batch + tuple(int(v) for v in out_plane))
    return np.moveaxis(out, (-2, -1), axes)


for _f in (map_coordinates, shift, zoom, affine_transform, rotate, spline_filter, spline_filter1d):
    defcomposite(getattr(nd, _f.__name__), _f)
    route(getattr(nd, _f.__name__))
