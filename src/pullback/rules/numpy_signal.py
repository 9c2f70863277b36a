"""Rules: NumPy's signal-like functions (convolve, correlate, interp, unwrap, sliding_window_view).

These have ``__array_function__``, so NumPy hands traced calls to the registry directly.

- ``convolve``/``correlate`` are slices of one bilinear primitive, the full convolution,
  whose cotangents are 'valid' correlations (``np.correlate`` conjugates its second
  argument, which is exactly the adjoint's conjugation): each costs the forward's O(M N).
- ``interp`` is linear in ``fp`` (two weights per point) and piecewise linear in ``x`` and ``xp``.
- ``unwrap`` adds piecewise-constant multiples of the period: the gradient passes through.
- ``sliding_window_view`` is a read-only view; its adjoint is the overlap-add of the windows.
- ``as_strided`` (no ``__array_function__``: intercepted) is a gather: the strides are mapped
  to the input elements they land on, and the result is ``ravel(x)[positions]`` (the adjoint
  scatter-adds, so overlapping windows sum). Strides that land between or outside the input's
  elements read memory the input does not own: :class:`~pullback.NoRuleError`. The traced
  result is read-only (NumPy's is writeable, but a write through it would alias the input).
"""

from __future__ import annotations

import numpy as np

from ..core import Tracer, strip
from ..errors import NoRuleError
from ..intercept import route
from .indexing import scatter
from .registry import _with_values, defcomposite, deflinear, defvjp, value_of
from .registry import array_like as _arr

_swv = np.lib.stride_tricks.sliding_window_view

# ---------------------------------------------------------------- convolve / correlate


def _conv_full_raw(a, v):
    return np.convolve(a, v, "full")


def conv_vjp_a(g, ans, a, v):
    return np.correlate(g, v, "valid")


def conv_vjp_v(g, ans, a, v):
    return np.correlate(g, a, "valid")


def conv_jvp_a(t, ans, a, v):
    return conv_full(t, v)


def conv_jvp_v(t, ans, a, v):
    return conv_full(a, t)


conv_full = defvjp(
    _conv_full_raw, [conv_vjp_a, conv_vjp_v], [conv_jvp_a, conv_jvp_v], name="numpy.convolve", key=False
)


def _check_1d(a, v):
    if a.ndim != 1 or v.ndim != 1:
        raise ValueError("object too deep for desired array")
    if a.shape[0] == 0:
        raise ValueError("a cannot be empty")
    if v.shape[0] == 0:
        raise ValueError("v cannot be empty")


def _mode(mode):
    m = {0: "valid", 1: "same", 2: "full", "v": "valid", "s": "same", "f": "full"}.get(mode, mode)
    if m not in ("valid", "same", "full"):
        raise ValueError(f"mode must be one of 'valid', 'same', or 'full' (got {mode!r})")
    return m


def convolve(a, v, mode="full"):
    a, v = _arr(a), _arr(v)
    _check_1d(a, v)
    m, n = a.shape[0], v.shape[0]
    full = conv_full(a, v)
    mode = _mode(mode)
    if mode == "full":
        return full
    if mode == "same":
        k = (min(m, n) - 1) // 2
        return full[k : k + max(m, n)]
    k = min(m, n) - 1
    return full[k : k + max(m, n) - min(m, n) + 1]


def correlate(a, v, mode="valid"):
    """``np.correlate(a, v)[k] = sum_n a[n + k] conj(v[n])``: the full convolution with ``conj(v)[::-1]``."""
    a, v = _arr(a), _arr(v)
    _check_1d(a, v)
    m, n = a.shape[0], v.shape[0]
    w = v[::-1]
    if np.iscomplexobj(strip(w)):
        w = np.conj(w)
    full = conv_full(a, w)
    mode = _mode(mode)
    if mode == "full":
        out = full
    elif mode == "same":
        k = (n - 1) // 2 if m >= n else m // 2
        out = full[k : k + max(m, n)]
    else:
        k = min(m, n) - 1
        out = full[k : k + max(m, n) - min(m, n) + 1]
    # NumPy sums each lag in the other order (float32 rounds differently): its value, this gradient
    return _with_values(out, np.correlate(strip(a), strip(v), mode))


# ---------------------------------------------------------------- interp


def _interp_layout(x, xp, left, right, period):
    """Plain ``(j, j1, src, xpe, keep, lo, hi, period)``: the segment ``xpe[j], xpe[j1]`` of each point,
    the fp entry ``src`` each extended knot reads, and where fp is read at all (``keep``)."""
    x, xp = np.asarray(strip(x), dtype=np.float64), np.asarray(strip(xp), dtype=np.float64)
    src = np.arange(xp.shape[0])
    if period is not None:
        if period == 0:
            raise ValueError("period must be a non-zero value")
        period = abs(period)
        x = x % period
        xpm = xp % period
        order = np.argsort(xpm, kind="stable")
        xp = np.concatenate([xpm[order][-1:] - period, xpm[order], xpm[order][:1] + period])
        src = order[np.concatenate([[-1], np.arange(order.shape[0]), [0]])]
    n = xp.shape[0]
    j = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, max(n - 2, 0))
    j1 = np.minimum(j + 1, n - 1)
    lo, hi = x < xp[0], x > xp[-1]
    keep = (
        ~((lo & (left is not None)) | (hi & (right is not None)))
        if period is None
        else np.ones(x.shape, bool)
    )
    return j, j1, src, xp, keep, lo, hi, period


def _knots(xp, src, period):
    """The extended knots, traced in ``xp``: ``xp`` itself, or its residues sorted and wrapped."""
    if period is None:
        return xp
    off = np.zeros(src.shape[0])
    off[0], off[-1] = -period, period
    return (xp % period)[src] + off


def _interp_parts(x, xp, fp, left, right, period):
    """Per point: the segment's indices, the weight ``t`` of its right end and its slope (traced)."""
    j, j1, src, _, keep, lo, hi, per = _interp_layout(x, xp, left, right, period)
    xpe = _knots(xp, src, per)
    xq = x if per is None else x % per
    x0, x1 = xpe[j], xpe[j1]
    ok = strip(x1) > strip(x0)
    width = np.where(ok, x1 - x0, 1.0)
    t = np.where(lo | ~ok, 0.0, np.where(hi, 1.0, (xq - x0) / width))
    fpe = fp[src]
    slope = np.where(lo | hi | ~ok, 0.0, (fpe[j1] - fpe[j]) / width)
    return j, j1, src, keep, t, slope


def _interp_raw(x, xp, fp, left, right, period):
    return np.interp(x, xp, fp, left, right, period)


def interp_vjp_fp(g, ans, x, xp, fp, left, right, period):
    j, j1, src, keep, t, _ = _interp_parts(x, xp, fp, left, right, period)
    kept = np.where(keep, 1.0, 0.0)
    t = np.ravel(t * kept)
    g = np.ravel(g)
    n = (fp.shape[0],)
    left_end = scatter(g * (np.ravel(kept) - t), n, fp.dtype, src[np.ravel(j)])
    return left_end + scatter(g * t, n, fp.dtype, src[np.ravel(j1)])


def interp_vjp_x(g, ans, x, xp, fp, left, right, period):
    slope = _interp_parts(x, xp, fp, left, right, period)[5]
    return np.real(np.conj(slope) * g)


def interp_vjp_xp(g, ans, x, xp, fp, left, right, period):
    """Moving the segment's left knot changes y by ``slope (t - 1)``, its right knot by ``-slope t``."""
    j, j1, src, keep, t, slope = _interp_parts(x, xp, fp, left, right, period)
    n = (xp.shape[0],)
    d0 = np.ravel(np.real(np.conj(slope * (t - 1)) * g))
    d1 = np.ravel(np.real(np.conj(-slope * t) * g))
    return scatter(d0, n, xp.dtype, src[np.ravel(j)]) + scatter(d1, n, xp.dtype, src[np.ravel(j1)])


def interp_jvp_x(t, ans, x, xp, fp, left, right, period):
    return _interp_parts(x, xp, fp, left, right, period)[5] * t


def interp_jvp_xp(t_xp, ans, x, xp, fp, left, right, period):
    j, j1, src, keep, t, slope = _interp_parts(x, xp, fp, left, right, period)
    te = t_xp[src]
    return slope * ((t - 1) * te[j] - t * te[j1])


def interp_jvp_fp(t, ans, x, xp, fp, left, right, period):
    lt = None if left is None else 0.0
    rt = None if right is None else 0.0
    if np.iscomplexobj(strip(t)) and period is None:
        lt = None if left is None else 0j
        rt = None if right is None else 0j
    return interp(x, xp, t, lt, rt, period)


_interp = defvjp(
    _interp_raw,
    [interp_vjp_x, interp_vjp_xp, interp_vjp_fp],
    [interp_jvp_x, interp_jvp_xp, interp_jvp_fp],
    name="numpy.interp",
    key=False,
)


def interp(x, xp, fp, left=None, right=None, period=None):
    """``np.interp``: differentiable in ``x``, ``xp`` and ``fp`` (``left``/``right`` are constants)."""
    from ..core import Tracer

    if isinstance(left, Tracer) or isinstance(right, Tracer):
        raise NoRuleError("numpy.interp with respect to left or right")
    return _interp(_arr(x), _arr(xp), _arr(fp), left, right, period)


# ---------------------------------------------------------------- unwrap


def unwrap(p, discont=None, axis=-1, *, period=2 * np.pi):
    """The unwrapped phase is ``p`` plus piecewise-constant multiples of the period: gradient 1."""
    plain = strip(p)
    offsets = np.unwrap(plain, discont, axis, period=period) - plain
    return p + offsets


# ---------------------------------------------------------------- sliding_window_view


def _window_layout(shape, window_shape, axis):
    ws = (window_shape,) if np.ndim(window_shape) == 0 else tuple(window_shape)
    if axis is None:
        axes = tuple(range(len(shape)))
    else:
        axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
        axes = tuple(a % len(shape) for a in axes)
    return tuple(int(w) for w in ws), axes


def sliding_window_view_adjoint(g, shape, dtype, window_shape, axis=None, *, subok=False):
    """Overlap-add: each window entry's cotangent goes back to the input entry it viewed."""
    ws, axes = _window_layout(shape, window_shape, axis)
    out_shape = list(shape)
    for w, a in zip(ws, axes):
        out_shape[a] -= w - 1
    total = None
    nd = len(shape)
    for k in np.ndindex(*ws):
        offs = [0] * nd
        for kk, a in zip(k, axes):
            offs[a] += kk
        piece = g[(Ellipsis,) + k] if ws else g
        widths = [(o, n - o - m) for o, n, m in zip(offs, shape, out_shape)]
        term = np.pad(piece, widths)
        total = term if total is None else total + term
    return total


_windows = deflinear(_swv, sliding_window_view_adjoint, name="numpy.lib.stride_tricks.sliding_window_view",
                     key=False)


def sliding_window_view(x, window_shape, axis=None, *, subok=False, writeable=False):
    """A read-only view of the windows (a writeable one would alias its input: no rule)."""
    if writeable:
        raise NoRuleError("numpy.lib.stride_tricks.sliding_window_view with writeable=True")
    return _windows(x, window_shape, axis, subok=subok)


defcomposite(_swv, sliding_window_view)


# ---------------------------------------------------------------- as_strided

_as_strided = np.lib.stride_tricks.as_strided


def _offsets(shape, strides, item):
    """Memory offsets, in items, of every index of ``shape`` with byte ``strides``."""
    offs = np.zeros(shape, np.intp)
    for ax, (n, s) in enumerate(zip(shape, strides)):
        offs += (np.arange(n, dtype=np.intp) * (s // item)).reshape([-1 if k == ax else 1 for k in
                                                                      range(len(shape))])
    return offs


def strided_positions(value, shape, strides):
    """C-order positions in ``value`` of the elements ``as_strided(value, shape, strides)`` reads,
    or None when a read lands on memory that is not one of ``value``'s elements."""
    item = value.itemsize
    if any(s % item for s in strides) or any(s % item for s in value.strides):
        return None
    own = _offsets(value.shape, value.strides, item).ravel()
    read = _offsets(shape, strides, item)
    if read.size == 0:
        return read
    if own.size == 0:
        return None
    lo, hi = int(own.min()), int(own.max())
    if read.min() < lo or read.max() > hi:
        return None
    table = np.full(hi - lo + 1, -1, np.intp)
    table[own - lo] = np.arange(own.size, dtype=np.intp)
    pos = table[read - lo]
    return None if (pos < 0).any() else pos


def as_strided(x, shape=None, strides=None, subok=False, writeable=True):
    """``as_strided`` of a traced array: a gather of the elements its strides read, a view of its
    memory (writable unless ``writeable=False``, as NumPy's)."""
    from .views import strided_view

    value = strip(x)
    if not isinstance(value, np.ndarray):
        value = np.asarray(value)
    shape = value.shape if shape is None else tuple(shape)
    strides = value.strides if strides is None else tuple(strides)
    if len(strides) != len(shape):
        _as_strided(value, shape, strides)  # NumPy's own error
    pos = strided_positions(value, shape, strides)
    if pos is None:
        raise NoRuleError("numpy.lib.stride_tricks.as_strided with strides that read memory outside "
                          "the array's elements")
    out = np.reshape(x, -1)[pos]
    if type(value) is np.ndarray and not isinstance(getattr(x, "_value", None), Tracer):
        # NumPy's own strided view as the value (read-only: traced values never change), so what
        # reads it (a matmul, a sum) sees NumPy's layout and rounds as NumPy does
        out = value_of(out, _as_strided(value, shape, strides, writeable=False))
    return strided_view(out, x, pos, writeable)


defcomposite(_as_strided, as_strided)
route(_as_strided)

for _f, _impl in [
    (np.convolve, convolve),
    (np.correlate, correlate),
    (np.interp, interp),
    (np.unwrap, unwrap),
]:
    defcomposite(_f, _impl)
