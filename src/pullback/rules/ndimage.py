"""Rules: ``scipy.ndimage`` filters and Fourier filters.

SciPy's ndimage functions convert their inputs with ``np.asarray``, so they are
intercepted (:mod:`pullback.intercept`): traced calls reach the rules below
under every name, plain calls run SciPy's code unchanged.

One mechanism serves every correlation-type filter. A filter with boundary
mode ``m`` is ``y = V(P(x))``: ``P`` extends ``x`` along each axis by the
mode (a gather: ndimage's 'reflect' is ``np.pad``'s 'symmetric', 'mirror' is
'reflect', 'nearest' is 'edge', 'wrap' is 'wrap'; the constant modes pad with
zeros and add ``cval``'s contribution as a constant), and ``V`` is a 'valid'
correlation (valued by SciPy's own filter: ``correlate1d`` for a 1-D kernel, whose loop rounds
unlike the N-d one, and with a nonzero ``cval`` the whole filter, whose border samples round
inside its sums). The exact transpose is ``P^T(V^T(g))``: ``V^T`` is one SciPy
correlation of the zero-padded cotangent with the flipped (conjugated)
kernel, ``P^T`` folds the border entries back onto the entries they copied
(:func:`_fold`). So the adjoint costs one filter of the same kernel, and each
1-D SciPy filter (``correlate1d``, ``gaussian_filter1d``, ``uniform_filter1d``)
is declared linear once; the N-d filters (``gaussian_filter``, ``sobel``,
``laplace``, ...) are composites that follow SciPy's own Python code through
the 1-D ones. ``correlate``/``convolve`` (and their 1-D forms) are bilinear
in the input and the weights.

The Fourier filters multiply by a real factor (self-adjoint) or, for
``fourier_shift``, by ``exp(-2 pi i k s / n)`` (adjoint: the opposite shift).
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage as nd
from scipy.ndimage import _filters as _sf

from ..core import Tracer, strip
from ..errors import NoRuleError
from ..intercept import original, route
from .callables import refuse
from .registry import defcomposite, deflinear, defnondiff, defvjp, value_of

try:  # NumPy >= 2
    from numpy.lib.array_utils import normalize_axis_index
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import normalize_axis_index

#: ndimage boundary mode -> the np.pad mode that extends an array the same way (None: zeros + cval)
PAD_MODES = {
    "reflect": "symmetric",
    "grid-mirror": "symmetric",
    "mirror": "reflect",
    "nearest": "edge",
    "wrap": "wrap",
    "grid-wrap": "wrap",
    "constant": None,
    "grid-constant": None,
}
_CONSTANT = ("constant", "grid-constant")

RAW = {}  # name -> SciPy's original function (what plain calls run)


def _raw(name):
    if name not in RAW:
        RAW[name] = original(getattr(nd, name))
    return RAW[name]


def _named(rule, name):
    rule.name = f"scipy.ndimage.{name}"
    return rule


def _check_mode(mode):
    if mode not in PAD_MODES:
        raise RuntimeError("boundary mode not supported")
    return mode


def _no_output_array(output, name):
    if output is not None and not isinstance(output, (type, np.dtype, str)):
        raise NoRuleError(f"scipy.ndimage.{name} with an output array (pass a dtype or None as output)")


def _constant(x, name):
    if isinstance(x, Tracer) or (isinstance(x, (tuple, list)) and any(isinstance(v, Tracer) for v in x)):
        raise NoRuleError(f"scipy.ndimage with respect to {name!r} (it is a constant parameter)")
    return x


def _out_dtype(output, x, complex_output=False):
    """The dtype SciPy's ``_get_output`` gives the result."""
    if output is None:
        dt = np.dtype(x.dtype)
        return np.promote_types(dt, np.complex64) if complex_output else dt
    dt = np.dtype(output)
    return np.promote_types(dt, np.complex64) if complex_output and dt.kind != "c" else dt


# ---------------------------------------------------------------- the boundary fold (P^T)


def border_map(n, before, after, mode):
    """Indices into a line of ``n`` entries that the mode's extension copies (None for zeros)."""
    pad_mode = PAD_MODES[_check_mode(mode)]
    if pad_mode is None:
        return None
    return np.pad(np.arange(n), (before, after), mode=pad_mode)


def _fold_raw(y, src, before, n, axis):
    """Sum the extended line ``y`` (``src`` its source indices) back onto ``n`` entries."""
    ym = np.moveaxis(y, axis, 0)
    out = ym[before : before + n].copy()
    if src is not None:
        for p in (*range(before), *range(before + n, len(src))):
            out[src[p]] += ym[p]
    return np.moveaxis(out, 0, axis)


def fold_adjoint(g, shape, dtype, src, before, n, axis):
    """The fold's adjoint extends ``g`` again (a gather, or zero padding)."""
    if src is None:
        widths = [(0, 0)] * g.ndim
        widths[axis] = (before, shape[axis] - before - n)
        return np.pad(g, widths)
    return np.take(g, src, axis=axis)


_fold = deflinear(_fold_raw, fold_adjoint, name="scipy.ndimage.<boundary fold>", key=False)


def fold(y, n, axis, before, after, mode):
    """``P^T`` for one axis: the adjoint of extending ``n`` entries by ``(before, after)`` in ``mode``."""
    return _fold(y, border_map(n, before, after, mode), before, n, axis)


# ---------------------------------------------------------------- correlation and its transpose


def correlate_transpose(g, weights, centers, modes, shape):
    """The adjoint of ``y[i] = sum_k weights[k] * ext(x)[i + k - centers]`` (per axis, ``modes``).

    ``weights`` has ``g``'s number of dimensions. One SciPy correlation of the zero-padded
    cotangent with the flipped kernel (``V^T``), then each axis's border folded back (``P^T``).
    A 1-D kernel skips the padding: one same-size correlation with the flipped kernel and a
    shifted origin gives the interior, and only the ``K - 1`` border entries are folded.
    """
    kshape = weights.shape
    flipped = weights[(slice(None, None, -1),) * weights.ndim]
    long = [i for i, k in enumerate(kshape) if k > 1]
    if len(long) == 1:
        ax = long[0]
        return _line_transpose(g, np.reshape(flipped, (kshape[ax],)), centers[ax], modes[ax], shape, ax)
    gz = np.pad(g, [(k - 1 - k // 2, k // 2) for k in kshape])
    if not long:
        w = np.reshape(flipped, ())
        full = gz * (np.conj(w) if np.iscomplexobj(w) else w)
    else:
        full = nd.correlate(gz, flipped, None, "constant")
    for ax, (k, c, m) in enumerate(zip(kshape, centers, modes)):
        if k > 1 or m not in _CONSTANT:
            full = fold(full, shape[ax], ax, c, k - 1 - c, m)
    return full


def _line_transpose(g, flipped, c, mode, shape, ax):
    """``correlate_transpose`` for a kernel of length ``K`` along ``ax`` (``flipped`` reversed)."""
    k, n = flipped.shape[0], shape[ax]
    # x_bar[i] = sum_j conj(w[j]) g[i + c - j]: SciPy's correlate1d (which conjugates) with a shifted origin
    out = nd.correlate1d(g, flipped, ax, None, "constant", 0.0, k - 1 - k // 2 - c)
    if mode in _CONSTANT or k == 1:
        return out

    # the border entries of the extended line, m in [0, c) and [c + n, n + k - 1), from the edges of g
    def full(piece):
        return nd.correlate1d(
            np.pad(piece, _widths(g.ndim, ax, (k - 1 - k // 2, k // 2))), flipped, ax, None, "constant"
        )

    lo = full(_slice(g, ax, 0, min(c, n)))
    s = max(0, n - (k - 1 - c))
    hi = full(_slice(g, ax, s, n))
    border = np.concatenate([_slice(lo, ax, 0, c), _slice(hi, ax, c + n - s, n + k - 1 - s)], axis=ax)
    src = border_map(n, c, k - 1 - c, mode)
    return _add_border(out, border, np.concatenate([src[:c], src[c + n :]]), ax)


def _widths(ndim, ax, pair):
    widths = [(0, 0)] * ndim
    widths[ax] = pair
    return widths


def _slice(a, ax, start, stop):
    index = [slice(None)] * a.ndim
    index[ax] = slice(start, stop)
    return a[tuple(index)]


def _add_border_raw(out, border, src, axis):
    res = np.array(out, dtype=np.result_type(out, border), copy=True)
    moved, b = np.moveaxis(res, axis, 0), np.moveaxis(border, axis, 0)
    for p, i in enumerate(src):
        moved[i] += b[p]
    return res


def add_border_vjp_out(g, ans, out, border, src, axis):
    return g


def add_border_vjp_border(g, ans, out, border, src, axis):
    return np.take(g, src, axis=axis)


def add_border_jvp_out(t, ans, out, border, src, axis):
    return t


def add_border_jvp_border(t, ans, out, border, src, axis):
    shape = list(t.shape)
    shape[axis] = ans.shape[axis]
    return _add_border(np.zeros(shape, dtype=strip(t).dtype), t, src, axis)


_add_border = defvjp(
    _add_border_raw,
    [add_border_vjp_out, add_border_vjp_border],
    [add_border_jvp_out, add_border_jvp_border],
    name="scipy.ndimage.<border fold>",
    key=False,
)


def correlate_weights_vjp(g, x, kshape, centers, modes, cval):
    """``wbar[k] = sum_i g[i] conj(ext(x)[i + k])``: the cotangent of a correlation's weights."""
    xp = x
    for ax, (k, c, m) in enumerate(zip(kshape, centers, modes)):
        widths = [(0, 0)] * x.ndim
        widths[ax] = (c, k - 1 - c)
        pm = PAD_MODES[m]
        xp = (
            np.pad(xp, widths, mode="constant", constant_values=cval)
            if pm is None
            else np.pad(xp, widths, mode=pm)
        )
    xp = np.conj(xp) if np.iscomplexobj(strip(xp)) else xp
    n = g.shape
    terms = [np.sum(g * xp[tuple(slice(j, j + s) for j, s in zip(idx, n))]) for idx in np.ndindex(*kshape)]
    return np.reshape(np.stack(terms), kshape)


def _corr_raw(x, w, centers, mode, cval, output, line=None):
    """``sum_k w[k] ext(x)[i + k - c]``, by SciPy (whose correlations conjugate complex weights):
    its ``correlate1d`` along axis ``line`` for a 1-D filter (whose kernel rounds as SciPy's
    1-D loop does, not as the N-d one), else its ``correlate``."""
    w = np.conj(w) if w.dtype.kind == "c" else w
    origins = [c - k // 2 for k, c in zip(w.shape, centers)]
    if line is not None:
        flat = np.reshape(w, (w.shape[line],))
        return _raw("correlate1d")(x, flat, line, output, mode, cval, origins[line])
    return _raw("correlate")(x, w, output, mode, cval, origins)


def corr_vjp_x(g, ans, x, w, centers, mode, cval, output, line=None):
    return correlate_transpose(g, w, centers, [mode] * g.ndim, x.shape)


def corr_vjp_w(g, ans, x, w, centers, mode, cval, output, line=None):
    return correlate_weights_vjp(g, x, w.shape, centers, [mode] * x.ndim, cval)


def corr_jvp_x(t, ans, x, w, centers, mode, cval, output, line=None):
    return _corr(t, w, centers, mode, 0.0, output, line)


def corr_jvp_w(t, ans, x, w, centers, mode, cval, output, line=None):
    return _corr(x, t, centers, mode, cval, output, line)


_corr = defvjp(
    _corr_raw, [corr_vjp_x, corr_vjp_w], [corr_jvp_x, corr_jvp_w], name="scipy.ndimage.correlate", key=False
)


def _as_kernel(weights, ndim, axes=None):
    w = weights if hasattr(weights, "shape") else np.asarray(weights)
    if axes is not None and w.ndim < ndim:
        w = np.expand_dims(w, tuple(ax for ax in range(ndim) if ax not in axes))
    return w


def _correlate_any(input, weights, output, mode, cval, origins, convolution, name, line=None):
    """correlate/convolve (N-d, or 1-D kernels reshaped along their axis ``line``) through ``_corr``."""
    _no_output_array(output, name)
    if not isinstance(mode, str):
        raise RuntimeError("A sequence of modes is not supported")
    _check_mode(mode)
    x = input if hasattr(input, "shape") else np.asarray(input)
    w = weights
    if convolution:
        w = w[(slice(None, None, -1),) * w.ndim]
        origins = [-o - (0 if k & 1 else 1) for o, k in zip(origins, w.shape)]
    elif np.iscomplexobj(strip(w)):
        w = np.conj(w)  # what SciPy correlates with
    for o, k in zip(origins, w.shape):
        if _sf._invalid_origin(o, k):
            raise ValueError(
                "Invalid origin; origin must satisfy -(weights.shape[k] // 2) <= origin[k] "
                "<= (weights.shape[k]-1) // 2"
            )
    centers = tuple(k // 2 + o for k, o in zip(w.shape, origins))
    complex_out = np.iscomplexobj(strip(x)) or np.iscomplexobj(strip(w))
    if np.iscomplexobj(cval) and not np.iscomplexobj(strip(x)):
        if not complex_out:  # SciPy's C filter reads cval as a real number
            raise TypeError("must be real number, not complex")
        raise ValueError("Cannot provide a complex-valued cval when the input is real.")
    dt = _out_dtype(output, x, complex_out)
    if isinstance(cval, Tracer):  # linear in cval: the border term of a zero input with cval 1
        if np.ndim(cval) != 0:
            raise NoRuleError("scipy.ndimage with respect to a non-scalar 'cval'")
        out = _corr(x, w, centers, mode, 0.0, dt, line)
        if mode not in _CONSTANT:
            return out
        out = out + cval * _corr(np.zeros(x.shape, strip(x).dtype), w, centers, mode, 1.0, dt, line)
        return value_of(out, _corr_raw(strip(x), strip(w), centers, mode, strip(cval), dt, line))
    return _corr(x, w, centers, mode, cval, dt, line)


def correlate1d(input, weights, axis=-1, output=None, mode="reflect", cval=0.0, origin=0):
    return _line(input, weights, axis, output, mode, cval, origin, False, "correlate1d")


def convolve1d(input, weights, axis=-1, output=None, mode="reflect", cval=0.0, origin=0):
    return _line(input, weights, axis, output, mode, cval, origin, True, "convolve1d")


def _line(input, weights, axis, output, mode, cval, origin, convolution, name):
    x = input if hasattr(input, "shape") else np.asarray(input)
    w = weights if hasattr(weights, "shape") else np.asarray(weights)
    if w.ndim != 1 or w.shape[0] < 1:
        raise RuntimeError("no filter weights given")
    axis = normalize_axis_index(axis, x.ndim)
    shape = [1] * x.ndim
    shape[axis] = w.shape[0]
    origins = [0] * x.ndim
    origins[axis] = origin
    if _sf._invalid_origin(origin, w.shape[0]):
        raise ValueError(
            "Invalid origin; origin must satisfy -(len(weights) // 2) <= origin <= (len(weights)-1) // 2"
        )
    return _correlate_any(x, np.reshape(w, shape), output, mode, cval, origins, convolution, name, axis)


def _nd(input, weights, output, mode, cval, origin, axes, convolution, name):
    x = input if hasattr(input, "shape") else np.asarray(input)
    axes = tuple(range(x.ndim)) if axes is None else _sf._ni_support._check_axes(axes, x.ndim)
    w = _as_kernel(weights, x.ndim, axes)
    if w.ndim != x.ndim:
        raise RuntimeError(f"weights.ndim ({w.ndim}) must match len(axes) ({len(axes)})")
    origins = list(_sf._expand_origin(x.ndim, axes, origin))
    return _correlate_any(x, w, output, mode, cval, origins, convolution, name)


def correlate(input, weights, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None):
    return _nd(input, weights, output, mode, cval, origin, axes, False, "correlate")


def convolve(input, weights, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None):
    return _nd(input, weights, output, mode, cval, origin, axes, True, "convolve")


# ---------------------------------------------------------------- 1-D filters with a fixed kernel


def _gaussian_spec(sigma, axis, order, output, mode, cval, truncate, radius=None):
    lw = int(truncate * float(sigma) + 0.5) if radius is None else radius
    return _sf._gaussian_kernel1d(sigma, order, lw)[::-1], lw


def _uniform_spec(size, axis, output, mode, cval, origin):
    return np.full(int(size), 1.0 / int(size)), int(size) // 2 + origin


def _line_adjoint(spec):
    def adjoint(g, shape, dtype, p, axis, *rest, **kwargs):
        we, c = spec(p, axis, *rest, **kwargs)
        mode = rest[-3]  # the same place in both layouts (see below)
        ax = normalize_axis_index(axis, len(shape))
        kshape = [1] * len(shape)
        kshape[ax] = len(we)
        centers = [0] * len(shape)
        centers[ax] = c
        modes = ["constant"] * len(shape)
        modes[ax] = mode
        return correlate_transpose(g, np.reshape(we, kshape), centers, modes, shape)

    adjoint.__name__ = adjoint.__qualname__ = f"{spec.__name__[1:-5]}_filter1d_adjoint"
    return adjoint


# positional layout after route(): gaussian (x, sigma, axis, order, output, mode, cval, truncate) + radius
# uniform (x, size, axis, output, mode, cval, origin); rest[-3] is mode in both
_gauss1d = deflinear(
    nd.gaussian_filter1d,
    _line_adjoint(_gaussian_spec),
    raw=_raw("gaussian_filter1d"),
    name="scipy.ndimage.gaussian_filter1d",
    key=False,
)
_unif1d = deflinear(
    nd.uniform_filter1d,
    _line_adjoint(_uniform_spec),
    raw=_raw("uniform_filter1d"),
    name="scipy.ndimage.uniform_filter1d",
    key=False,
)


def _affine(prim, x, args, cval_at, mode, cval, kwargs):
    """``prim(x, *args)`` with ``cval`` split off: the linear part, plus (constant modes) a constant.

    The value is SciPy's own filter of ``x`` with ``cval`` (its border terms round inside the
    filter's sums): the linear part differentiates, a constant ``cval`` adds nothing to the
    derivatives, a traced one adds its border response."""
    traced = isinstance(cval, Tracer)
    if traced and np.ndim(cval) != 0:
        raise NoRuleError("scipy.ndimage with respect to a non-scalar 'cval'")
    if mode in _CONSTANT and (traced or np.any(cval != 0)):
        lin, unit, plain = list(args), list(args), list(args)
        lin[cval_at], unit[cval_at], plain[cval_at] = 0.0, 1.0, strip(cval)
        out = prim(x, *lin, **kwargs)
        if traced:  # the border's contribution is linear in cval
            out = out + cval * prim.raw(np.zeros(x.shape, strip(x).dtype), *unit, **kwargs)
        return value_of(out, prim.raw(strip(x), *plain, **kwargs))
    if traced:
        args = list(args)
        args[cval_at] = 0.0  # unused outside the constant modes
    return prim(x, *args, **kwargs)


def gaussian_filter1d(
    input, sigma, axis=-1, order=0, output=None, mode="reflect", cval=0.0, truncate=4.0, *, radius=None
):
    _no_output_array(output, "gaussian_filter1d")
    _constant(sigma, "sigma")
    _check_mode(mode)
    kwargs = {} if radius is None else {"radius": radius}
    return _affine(_gauss1d, input, (sigma, axis, order, output, mode, cval, truncate), 5, mode, cval, kwargs)


def uniform_filter1d(input, size, axis=-1, output=None, mode="reflect", cval=0.0, origin=0):
    _no_output_array(output, "uniform_filter1d")
    _check_mode(mode)
    return _affine(_unif1d, input, (size, axis, output, mode, cval, origin), 4, mode, cval, {})


# ---------------------------------------------------------------- N-d filters: SciPy's Python, via 1-D ones


def _seq(v, n):
    return _sf._ni_support._normalize_sequence(v, n)


def gaussian_filter(
    input, sigma, order=0, output=None, mode="reflect", cval=0.0, truncate=4.0, *, radius=None, axes=None
):
    _no_output_array(output, "gaussian_filter")
    _constant(sigma, "sigma")
    x = input
    dt = _out_dtype(output, x)
    axes = _sf._ni_support._check_axes(axes, x.ndim)
    n = len(axes)
    todo = [
        (axes[i], s, o, m, r)
        for i, (s, o, m, r) in enumerate(zip(_seq(sigma, n), _seq(order, n), _seq(mode, n), _seq(radius, n)))
        if s > 1e-15
    ]
    if not todo:
        return x.astype(dt) if x.dtype != dt else x + 0
    for axis, s, o, m, r in todo:
        x = nd.gaussian_filter1d(x, s, axis, o, dt, m, cval, truncate, radius=r)
    return x


def uniform_filter(input, size=3, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None):
    _no_output_array(output, "uniform_filter")
    x = input
    dt = _out_dtype(output, x, x.dtype.kind == "c")
    axes = _sf._ni_support._check_axes(axes, x.ndim)
    n = len(axes)
    todo = [
        (axes[i], s, o, m)
        for i, (s, o, m) in enumerate(zip(_seq(size, n), _seq(origin, n), _seq(mode, n)))
        if s > 1
    ]
    if not todo:
        return x.astype(dt) if x.dtype != dt else x + 0
    for axis, s, o, m in todo:
        x = nd.uniform_filter1d(x, int(s), axis, dt, m, cval, o)
    return x


def _edge_filter(input, axis, output, mode, cval, smooth, name):
    _no_output_array(output, name)
    x = input
    dt = _out_dtype(output, x)
    axis = normalize_axis_index(axis, x.ndim)
    modes = _seq(mode, x.ndim)
    y = nd.correlate1d(x, [-1, 0, 1], axis, dt, modes[axis], cval, 0)
    for ii in [ii for ii in range(x.ndim) if ii != axis]:
        y = nd.correlate1d(y, smooth, ii, dt, modes[ii], cval, 0)
    return y


def sobel(input, axis=-1, output=None, mode="reflect", cval=0.0):
    return _edge_filter(input, axis, output, mode, cval, [1, 2, 1], "sobel")


def prewitt(input, axis=-1, output=None, mode="reflect", cval=0.0):
    return _edge_filter(input, axis, output, mode, cval, [1, 1, 1], "prewitt")


def _laplace_sum(x, output, mode, cval, axes, derivative2, name):
    _no_output_array(output, name)
    dt = _out_dtype(output, x)
    axes = _sf._ni_support._check_axes(axes, x.ndim)
    if not axes:
        return x.astype(dt) if x.dtype != dt else x + 0
    modes = _seq(mode, len(axes))
    out = derivative2(x, axes[0], dt, modes[0], cval)
    for ii in range(1, len(axes)):
        out = out + derivative2(x, axes[ii], dt, modes[ii], cval)
    return out.astype(dt) if out.dtype != dt else out


def laplace(input, output=None, mode="reflect", cval=0.0, *, axes=None):
    def derivative2(x, axis, output, mode, cval):
        return nd.correlate1d(x, [1, -2, 1], axis, output, mode, cval, 0)

    return _laplace_sum(input, output, mode, cval, axes, derivative2, "laplace")


def _full_sigma(x, sigma, axes):
    axes = _sf._ni_support._check_axes(axes, x.ndim)
    sigma = _seq(_constant(sigma, "sigma"), len(axes))
    if len(axes) < x.ndim:
        full = [0] * x.ndim
        for s, ax in zip(sigma, axes):
            full[ax] = s
        sigma = full
    return sigma, axes


def gaussian_laplace(input, sigma, output=None, mode="reflect", cval=0.0, *, axes=None, **kwargs):
    sigma, axes = _full_sigma(input, sigma, axes)

    def derivative2(x, axis, output, mode, cval):
        order = [0] * x.ndim
        order[axis] = 2
        return nd.gaussian_filter(x, sigma, order, output, mode, cval, **kwargs)

    return _laplace_sum(input, output, mode, cval, axes, derivative2, "gaussian_laplace")


def gaussian_gradient_magnitude(input, sigma, output=None, mode="reflect", cval=0.0, *, axes=None, **kwargs):
    """``sqrt(sum_axis gaussian_filter(order=1 on axis)**2)``, as SciPy computes it (nonlinear)."""
    _no_output_array(output, "gaussian_gradient_magnitude")
    x = input
    sigma, axes = _full_sigma(x, sigma, axes)
    dt = _out_dtype(output, x)
    if not axes:
        return x.astype(dt) if x.dtype != dt else x + 0
    modes = _seq(mode, len(axes))
    total = 0
    for ax, m in zip(axes, modes):
        order = [0] * x.ndim
        order[ax] = 1
        d = nd.gaussian_filter(x, sigma, order, dt, m, cval, **kwargs)
        total = total + d * d
    # sqrt's derivative is infinite at 0 (where every derivative vanishes, e.g. the corners in
    # 'mirror' mode): the magnitude's subgradient 0 there instead of 0 * inf = nan
    positive = strip(total) > 0
    out = np.where(positive, np.sqrt(np.where(positive, total, 1.0)), 0.0)
    return out.astype(dt) if out.dtype != dt else out


# ---------------------------------------------------------------- Fourier filters


def _fourier_out(output):
    if output is not None and not isinstance(output, type):
        raise NoRuleError("scipy.ndimage Fourier filters with an output array (pass a dtype or None)")


def fourier_self_adjoint(g, shape, dtype, p, n, axis, output, /, name):
    """Real multipliers are self-adjoint: the adjoint is the same filter of the cotangent."""
    return getattr(nd, name)(g, p, n, axis)


def fourier_shift_adjoint(g, shape, dtype, shift, n, axis, output):
    """``exp(-2 pi i k s / n)`` is unitary: the adjoint shifts back (a traced shift stays traced)."""
    return nd.fourier_shift(
        g, -shift if hasattr(shift, "shape") else -np.asarray(shift, dtype=float), n, axis
    )


def _fourier_linear(name):
    def adjoint(g, shape, dtype, p, n, axis, output):
        return fourier_self_adjoint(g, shape, dtype, p, n, axis, output, name=name)

    adjoint.__name__ = adjoint.__qualname__ = f"{name}_adjoint"
    return deflinear(getattr(nd, name), adjoint, raw=_raw(name), name=f"scipy.ndimage.{name}", key=False)


def fourier_frequencies(shape, n, axis):
    """Per axis, SciPy's ``k / n`` of ``fourier_shift``: an rfft axis (``n > 0``) counts 0, 1, ...;
    a full axis wraps at the middle."""
    out = []
    for ax, m in enumerate(shape):
        if ax == axis and n > 0:
            out.append(np.arange(m) / n)
        else:
            out.append(np.fft.fftfreq(m))
    return out


def _shift_factor_grads(ans, shape, n, axis):
    freqs = fourier_frequencies(shape, n, normalize_axis_index(axis, len(shape)))
    return [
        np.reshape(-2j * np.pi * f, [-1 if a == k else 1 for a in range(len(shape))])
        for k, f in enumerate(freqs)
    ]


def fshift_vjp_x(g, ans, x, shift, n, axis, output):
    return fourier_shift_adjoint(g, x.shape, x.dtype, shift, n, axis, output)


def fshift_vjp_s(g, ans, x, shift, n, axis, output):
    """d out / d s_a = -2 pi i (k_a / n_a) out; the gradient is Re <that, g>, one number per axis."""
    parts = [np.real(np.sum(np.conj(d * ans) * g)) for d in _shift_factor_grads(ans, x.shape, n, axis)]
    total = np.stack(parts)
    return total if np.ndim(shift) else np.sum(total)


def fshift_jvp_x(t, ans, x, shift, n, axis, output):
    return _fshift(t, strip(shift) if isinstance(shift, Tracer) else shift, n, axis, output)


def fshift_jvp_s(t, ans, x, shift, n, axis, output):
    ts = np.broadcast_to(t, (x.ndim,)) if np.ndim(t) == 0 else t
    total = 0
    for a, d in enumerate(_shift_factor_grads(ans, x.shape, n, axis)):
        total = total + d * ts[a]
    return total * ans


def _fshift_raw(x, shift, n, axis, output):
    return _raw("fourier_shift")(x, shift, n, axis, output)


_fshift = defvjp(
    _fshift_raw,
    [fshift_vjp_x, fshift_vjp_s],
    [fshift_jvp_x, fshift_jvp_s],
    name="scipy.ndimage.fourier_shift",
    key=False,
)


def fourier_shift(input, shift, n=-1, axis=-1, output=None):
    _fourier_out(output)
    if isinstance(shift, (tuple, list)) and any(isinstance(s, Tracer) for s in shift):
        shift = np.stack([s if isinstance(s, Tracer) else np.asarray(s, dtype=float) for s in shift])
    if not hasattr(shift, "shape"):
        shift = np.asarray(shift, dtype=float)
    return _fshift(input, shift, n, axis, output)


_FOURIER = {
    name: _fourier_linear(name) for name in ("fourier_gaussian", "fourier_uniform", "fourier_ellipsoid")
}


def _fourier_composite(name):
    prim = _FOURIER[name]

    def handler(input, p, n=-1, axis=-1, output=None):
        _fourier_out(output)
        return prim(input, _constant(p, "sigma" if name == "fourier_gaussian" else "size"), n, axis, output)

    handler.__name__ = handler.__qualname__ = name
    return handler


# ---------------------------------------------------------------- registration

for _f in (
    correlate1d,
    convolve1d,
    correlate,
    convolve,
    gaussian_filter1d,
    uniform_filter1d,
    gaussian_filter,
    uniform_filter,
    sobel,
    prewitt,
    laplace,
    gaussian_laplace,
    gaussian_gradient_magnitude,
    fourier_shift,
):
    _raw(_f.__name__)
    defcomposite(getattr(nd, _f.__name__), _f)
    route(getattr(nd, _f.__name__))
for _name in _FOURIER:
    defcomposite(getattr(nd, _name), _fourier_composite(_name))
    route(getattr(nd, _name))

# ---------------------------------------------------------------- no gradient: labels, positions, masks

for _name in (
    "label", "find_objects", "maximum_position", "minimum_position", "value_indices", "watershed_ift",
    "binary_erosion", "binary_dilation", "binary_opening", "binary_closing", "binary_fill_holes",
    "binary_hit_or_miss", "binary_propagation", "distance_transform_cdt",
):  # (distance_transform_edt/_bf: ndimage_distance)
    _f = getattr(nd, _name, None)
    if _f is not None:
        defnondiff(_f, raw=original(_f))
        route(_f)

# Functions taking a Python callable, without a rule: a clear error rather than SciPy's compiled
# code failing on the callable's traced values (a SystemError) or a conversion error
for _name, _callables in (("generic_filter", ("function",)), ("generic_filter1d", ("function",)),
                          ("geometric_transform", ("mapping",)),
                          ("generic_gradient_magnitude", ("derivative",)),
                          ("generic_laplace", ("derivative2",))):
    refuse(getattr(nd, _name), f"scipy.ndimage.{_name}", *_callables)
