"""Rules: ``scipy.signal`` convolutions and linear filters.

SciPy's signal functions convert their inputs with ``np.asarray`` before NumPy's
protocols can see a traced array, so each one is intercepted
(:mod:`pullback.intercept`): its traced calls reach the rule below under every name
(``scipy.signal.x``, ``from scipy.signal import x``, the private module, SciPy's own
internal calls), and its plain calls run SciPy's code unchanged.

- **Convolutions** (``fftconvolve``, ``oaconvolve``, ``convolve``, ``correlate``,
  ``convolve2d``, ``correlate2d``) are bilinear primitives: the value is SciPy's own
  (computed by the original function), and the cotangent of either operand is the
  cotangent embedded in the full-size output (zeros outside the ``mode``'s window)
  convolved in ``"valid"`` mode with the other operand flipped and conjugated,
  by the *same* function (so an FFT convolution's adjoint is an FFT convolution,
  O(N log N), and a direct one's is direct). The adjoint calls go through the
  public functions, so with traced cotangents they are differentiated in turn.
- **lfilter** is a primitive in ``b``, ``a``, ``x`` and ``zi``. With ``A y = B x +
  a0 zi`` (truncated causal convolutions), the cotangent ``w`` of the all-pole part is
  ``g`` filtered backward in time by ``1/conj(A)`` (one ``lfilter`` of the reversed
  cotangent, O(N order)); then ``x̄ = reverse(lfilter(conj b, conj a, reverse g))``,
  ``b̄_k = Σ conj(x[n-k]) w[n]``, ``ā_k = -Σ conj(y[n-k]) w[n]`` (+ the ``zi`` term
  for ``k = 0``), ``z̄i = conj(a0) w[:K]``. Forward mode: ``lfilter(t_b, a, x) +
  lfilter(b, a, t_x) - lfilter(t_a, a, y) + ...``. The final state ``zf`` is a
  short sum over the last samples of ``x`` and ``y`` (a composite) valued by SciPy's own ``zf``
  (from the same call that gives ``y``).
- ``sosfilt`` with traced sections is the cascade of its sections' ``lfilter`` calls, valued by
  one plain call of SciPy's fused ``sosfilt`` (which rounds the sections' sums otherwise);
  ``filtfilt`` with traced ``b`` or ``a`` (or ``method="gust"``), ``sosfiltfilt`` with
  traced sections, ``lfilter_zi``, ``sosfilt_zi`` and ``lfiltic`` are SciPy's own
  algorithms written with NumPy calls (composites), so ``b``, ``a``, ``sos`` and ``x`` all
  differentiate, forward mode and higher orders included.
- **sosfilt with constant sections** (``sos`` not traced; float32/64, complex64/128):
  ``y`` and ``zf`` are affine in ``(x, zi)``, and two primitives give them, each valued by
  SciPy's own fused ``sosfilt`` (bit for bit, SciPy's checks and dtypes). Write ``T_s`` for
  section s's zero-state map (a lower-triangular Toeplitz matrix), ``R`` for time reversal
  and ``c_s = conj(sos[s])``. Then ``y = T_{S-1}...T_0 x + H^T zi`` and
  ``zf = Q x + Phi zi`` (``zi`` flattened to its 2S states), and since
  ``(T_{S-1}...T_0)^H = T_0^H...T_{S-1}^H`` with ``T_s^H = R T(c_s) R``, the cotangent of
  ``x`` from ``y`` is ``R sosfilt(c[::-1], R g)``: one fused pass of the conjugated sections
  in reverse order (exact: no sections are commuted). ``H`` (2S x n: the output's response
  to each unit initial state), ``Phi`` (2S x 2S) and ``Q`` (2S x n: the final state's
  response to each input sample) do not depend on the signal, so ``zi``'s cotangent is
  ``g @ conj(H)^T + g_zf @ conj(Phi)`` and the final
  state's share of ``x``'s is ``g_zf @ conj(Q)``: products with 2S columns, where a
  section-by-section backward cascade costs two passes per section. ``H`` and ``Phi`` come
  from one sosfilt of S silent rows started in state ``(s, 0)`` (state ``(s, 1)`` becomes
  ``(s, 0)`` after one silent sample, so its responses are the same one sample late);
  ``Q`` from the impulse responses ``u_s`` of the partial cascades (the state of section s
  after a sample is ``b1 u_s - a1 u_{s+1}`` plus ``b2 u_s - a2 u_{s+1}`` one sample
  earlier). They are cached per sections and length. Forward mode: ``sosfilt(sos, t_x)``
  plus the same products with the tangents. The final state is its own primitive; both
  take their values from one call of SciPy's sosfilt.
- **sosfiltfilt with constant sections** is linear in ``x``: SciPy's value, and the
  transpose of its steps. With the extension ``E`` (odd/even/constant), the crop ``C`` and
  a pass ``F v = T v + v[0] h`` (``h``: the response to the initial state
  ``sosfilt_zi(sos)``, so ``F^H w = R T(c) R w + e_0 <h, w>``), the value is
  ``C R F R F E x`` and the cotangent is ``E^H F^H R F^H R C^T g``: two fused passes of the
  reversed conjugated sections, two rank-one edge terms and the extension folded back.
  For a plain cotangent SciPy's fused cascade runs in place (on the cotangent itself when
  the tape owns it), so the gradient costs SciPy's forward, two passes and three copies.
  ``filtfilt(method="pad")`` with constant ``b, a`` is the same linear rule with
  ``lfilter(conj b, conj a)`` passes and ``h`` from ``lfilter_zi``; the zero padding of the
  first adjoint pass is a silent start and a short zero-input tail from its final state.
- ``detrend`` is an orthogonal projection: linear and self-adjoint.
- ``upfirdn`` is bilinear in ``h`` and ``x``; ``resample_poly`` and ``decimate``
  are SciPy's code around it and the filters. ``hilbert``, ``hilbert2`` and
  ``resample`` are FFT composites; ``savgol_filter`` is SciPy's ``ndimage.convolve1d`` with its
  coefficients, and for ``mode="interp"`` the edges are SciPy's polynomial fits (a small matrix
  each, valued by one plain ``savgol_filter``).

Options that have no rule raise :class:`pullback.NoRuleError` naming the option (upfirdn and
resample_poly boundary modes other than zeros, decimate with an ``dlti`` filter).
"""

from __future__ import annotations

import math
import operator

import numpy as np
import scipy.fft as sfft
import scipy.ndimage as nd
import scipy.signal as S
import scipy.signal._arraytools as _at
from scipy.signal._signaltools import _inputs_swap_needed

from ..core import Tracer, strip
from ..engines import buffers
from ..engines import fft as engine
from ..errors import NoRuleError
from ..intercept import original, route
from .registry import array_like, defcomposite, deflinear, defnondiff, defvjp, value_of

ORIGINALS: dict[str, object] = {}


def _route(name, handler, kind="composite"):
    """Register ``handler`` for ``scipy.signal.<name>`` and intercept the function."""
    func = getattr(S, name)
    ORIGINALS[name] = original(func)
    if kind == "composite":
        defcomposite(func, handler)
    route(func)
    return func


def _unsupported(func_name, option):
    err = NoRuleError(f"scipy.signal.{func_name} with {option}")
    return err


def _conj(v):
    return np.conj(v) if v.dtype.kind == "c" else v


def _traced(v) -> bool:
    return isinstance(v, Tracer)


# ---------------------------------------------------------------- convolutions


def _embed_full(g, shape_self, shape_other, axes, ceil=False):
    """The cotangent of the ``"full"`` output: ``g`` at the centre ``mode`` took, zeros around it
    (``correlate2d``'s ``"same"`` window starts half a sample later: ``ceil``). Along an axis that
    is not convolved the operands broadcast, and ``"same"`` crops that axis too (to ``in1``'s size,
    centred: SciPy's ``_centered``)."""
    widths = [(0, 0)] * g.ndim
    for ax in range(g.ndim):
        if ax in axes:
            full = shape_self[ax] + shape_other[ax] - 1
        else:
            full = max(shape_self[ax], shape_other[ax])
        start = (full - g.shape[ax] + ceil) // 2
        widths[ax] = (start, full - g.shape[ax] - start)
    if any(w != (0, 0) for w in widths):
        g = np.pad(g, widths)
    return g


def _flip_conj(v, axes):
    return _conj(np.flip(v, axis=tuple(axes)))


def _all_axes(a, b):
    return list(range(max(np.ndim(a), np.ndim(b))))


def _fft_axes(in1, in2, axes):
    ndim = in1.ndim
    if axes is None:
        return list(range(ndim))
    if np.isscalar(axes) or isinstance(axes, (int, np.integer)):
        axes = [axes]
    return sorted({operator.index(a) % ndim for a in axes})


def _make_conv(name, valid_call, axes_of, correlate=False):
    """A bilinear primitive for ``scipy.signal.<name>`` (value: SciPy's; adjoints: ``valid_call``)."""
    func = getattr(S, name)
    raw = original(func)

    def adjoint_first(g, self_shape, other, axes, opts):
        gf = _embed_full(g, self_shape, other.shape, axes)
        return valid_call(gf, _flip_conj(other, axes), opts)

    def vjp_in1(g, ans, in1, in2, *opts):
        axes = axes_of(in1, in2, opts)
        if correlate:  # correlate(x, y) = convolve(x, flip(conj y)): the adjoint convolves with y
            gf = _embed_full(g, in1.shape, in2.shape, axes)
            return valid_call(gf, in2, opts)
        return adjoint_first(g, in1.shape, in2, axes, opts)

    def vjp_in2(g, ans, in1, in2, *opts):
        axes = axes_of(in1, in2, opts)
        ct = adjoint_first(g, in2.shape, in1, axes, opts)
        return _flip_conj(ct, axes) if correlate else ct

    def jvp_in1(t, ans, in1, in2, *opts):
        return func(t, in2, *opts)

    def jvp_in2(t, ans, in1, in2, *opts):
        return func(in1, t, *opts)

    for f in (vjp_in1, vjp_in2, jvp_in1, jvp_in2):
        f.__name__ = f.__qualname__ = f"{name}_{f.__name__}"
    rule = defvjp(func, [vjp_in1, vjp_in2], [jvp_in1, jvp_in2], raw=raw, name=f"scipy.signal.{name}")
    ORIGINALS[name] = raw
    route(func)
    return rule


def _fft_valid(call):
    def valid(a, b, opts):
        axes = opts[1] if len(opts) > 1 else None
        return call(a, b, "valid", axes)
    return valid


def _times(u, v):
    """``u * v``, in ``u`` (a fresh spectrum) unless broadcasting along an axis that is not
    transformed makes the product larger."""
    return np.multiply(u, v, out=u if np.broadcast_shapes(u.shape, v.shape) == u.shape else None)


def _fft_valid_circular(a, b, opts):
    """``fftconvolve(a, b, "valid", axes)`` for ``a`` at least as long as ``b`` on every axis, by
    circular convolution at ``a``'s length: the entries the wrap-around touches are the first
    ``len(b) - 1``, which "valid" drops. So the adjoint's transforms are the forward's length, where
    SciPy's would pad to ``len(a) + len(b) - 1`` (twice the signal for a kernel's cotangent)."""
    axes = _fft_axes(a, b, opts[1] if len(opts) > 1 else None)
    complex_ = np.iscomplexobj(a) or np.iscomplexobj(b)
    s = [sfft.next_fast_len(a.shape[ax], not complex_) for ax in axes]
    if type(a) is np.ndarray and type(b) is np.ndarray:  # a plain cotangent: pullback's engine
        s, axes = tuple(s), tuple(axes)
        if complex_:
            ctype = np.result_type(a.dtype, b.dtype, np.complex64)
            spec = _times(engine.c2c(a.astype(ctype, copy=False), s, axes, None, True),
                          engine.c2c(b.astype(ctype, copy=False), s, axes, None, True))
            full = engine.c2c(spec, s, axes, None, False, scratch=True)
        else:
            rtype = np.result_type(a.dtype, b.dtype, np.float32)
            spec = _times(engine.r2c(a.astype(rtype, copy=False), s, axes, None),
                          engine.r2c(b.astype(rtype, copy=False), s, axes, None))
            full = engine.c2r(spec, s, axes, None, scratch=True)
    elif complex_:
        full = sfft.ifftn(sfft.fftn(a, s, axes) * sfft.fftn(b, s, axes), s, axes)
    else:
        full = sfft.irfftn(sfft.rfftn(a, s, axes) * sfft.rfftn(b, s, axes), s, axes)
    index = [slice(None)] * full.ndim
    for ax in axes:
        index[ax] = slice(b.shape[ax] - 1, a.shape[ax])
    return full[tuple(index)]


def _method_valid(call):
    def valid(a, b, opts):
        method = opts[1] if len(opts) > 1 else "auto"
        return call(a, b, "valid", method)
    return valid


fftconvolve_rule = _make_conv("fftconvolve", _fft_valid_circular,
                              lambda a, b, o: _fft_axes(a, b, o[1] if len(o) > 1 else None))
oaconvolve_rule = _make_conv("oaconvolve", _fft_valid(S.oaconvolve),
                             lambda a, b, o: _fft_axes(a, b, o[1] if len(o) > 1 else None))
convolve_rule = _make_conv("convolve", _method_valid(S.convolve), lambda a, b, o: _all_axes(a, b))
correlate_rule = _make_conv("correlate", _method_valid(S.convolve), lambda a, b, o: _all_axes(a, b),
                            correlate=True)


def _make_conv2d(name, correlate):
    func = getattr(S, name)
    raw = original(func)

    def raw_fill(in1, in2, mode):
        return raw(in1, in2, mode)

    def vjp_in1(g, ans, in1, in2, mode):
        gf = _embed_full(g, in1.shape, in2.shape, (0, 1), correlate)
        other = in2 if correlate else _flip_conj(in2, (0, 1))
        return S.convolve2d(gf, other, "valid")

    def vjp_in2(g, ans, in1, in2, mode):
        gf = _embed_full(g, in2.shape, in1.shape, (0, 1), correlate)
        ct = S.convolve2d(gf, _flip_conj(in1, (0, 1)), "valid")
        return _flip_conj(ct, (0, 1)) if correlate else ct

    def jvp_in1(t, ans, in1, in2, mode):
        return func(t, in2, mode)

    def jvp_in2(t, ans, in1, in2, mode):
        return func(in1, t, mode)

    for f in (vjp_in1, vjp_in2, jvp_in1, jvp_in2):
        f.__name__ = f.__qualname__ = f"{name}_{f.__name__}"
    prim = defvjp(func, [vjp_in1, vjp_in2], [jvp_in1, jvp_in2], raw=raw_fill,
                  name=f"scipy.signal.{name}", key=False)

    def traced(in1, in2, mode="full", boundary="fill", fillvalue=0):
        in1, in2 = array_like(in1), array_like(in2)
        if correlate and mode == "valid" and _inputs_swap_needed(mode, np.shape(in1), np.shape(in2)):
            # SciPy swaps the operands of a "valid" correlate2d whose in2 is the larger and reverses
            # the result, without conjugating it back (correlate does): the value is that, bit for bit
            return np.flip(prim(in2, in1, mode), (0, 1))
        if boundary in ("fill", "pad") and not _traced(fillvalue) and fillvalue == 0:
            return prim(in1, in2, mode)
        if boundary not in ("fill", "pad", "wrap", "circular", "symm", "symmetric"):
            raise ValueError("Acceptable boundary flags are 'fill', 'circular' (or 'wrap'), and "
                             "'symmetric' (or 'symm').")
        if mode == "valid":
            return prim(in1, in2, mode)
        kernel = _flip_conj(in2, (0, 1)) if correlate else in2  # correlate2d = convolve2d, flipped
        widths = [(n - 1, n - 1) for n in in2.shape]
        if boundary in ("fill", "pad"):
            padded = _pad_const(in1, widths, fillvalue)
        else:
            padded = np.pad(in1, widths, mode="wrap" if boundary in ("wrap", "circular") else "symmetric")
        out = S.convolve2d(padded, kernel, "valid")
        if mode != "full":
            start = [(n - 1 + correlate) // 2 for n in in2.shape]
            out = out[start[0]:start[0] + in1.shape[0], start[1]:start[1] + in1.shape[1]]
        # SciPy's dtype (the inputs', whatever the fill value's) and its own bits (float32 rounds
        # differently from the padded convolution); the gradient is the padded convolution's
        want = raw(strip(in1), strip(in2), mode, boundary, strip(fillvalue))
        if out.dtype != want.dtype:
            out = out.astype(want.dtype)
        return value_of(out, want) if out.shape == want.shape else out

    traced.__name__ = f"traced_{name}"
    defcomposite(func, traced)
    ORIGINALS[name] = raw
    route(func)
    return prim


def _pad_const(x, widths, value):
    out = np.pad(x, widths)
    mask = np.pad(np.zeros(x.shape, dtype=bool), widths, constant_values=True)
    return out + np.where(mask, value, 0)


convolve2d_prim = _make_conv2d("convolve2d", correlate=False)
correlate2d_prim = _make_conv2d("correlate2d", correlate=True)


# ---------------------------------------------------------------- lfilter and friends


def _axis_last(v, axis):
    return np.moveaxis(v, axis, -1)


def _reverse(v, axis):
    return np.flip(v, axis=axis)


def _pad_state(zi, axis, n):
    """``zi`` followed by zeros to length ``n`` along ``axis`` (or its first ``n`` entries)."""
    k = zi.shape[axis]
    if k >= n:
        return _at.axis_slice(zi, stop=n, axis=axis)
    widths = [(0, 0)] * zi.ndim
    widths[axis] = (0, n - k)
    return np.pad(zi, widths)


def _lags(u, v, axis, m):
    """``[Σ conj(u[n-k]) v[n] for k < m]``: every axis summed (the coefficients are shared)."""
    us, vs = _axis_last(u, axis), _axis_last(v, axis)
    n = vs.shape[-1]
    parts = []
    for k in range(m):
        if k < n:
            parts.append(np.sum(_conj(us[..., : n - k]) * vs[..., k:]))
        else:
            parts.append(np.sum(vs[..., :0] * 0))
    return np.stack(parts)


def _backward_allpole(g, a, axis):
    """``w``: the cotangent ``g`` pulled back through ``lfilter([1], a, .)``: run backward in time."""
    one = np.ones(1, dtype=np.result_type(a.dtype, np.float32))
    return _reverse(S.lfilter(one, _conj(a), _reverse(g, axis), axis), axis)


def _lfilter_raw(b, a, x, axis=-1, zi=None, value=None):
    """SciPy's ``y`` (``value``: already computed, with the final state, by :func:`lfilter`)."""
    if value is not None:
        return value
    f = ORIGINALS["lfilter"]
    if zi is None:
        return f(b, a, x, axis)
    return f(b, a, x, axis, zi)[0]


def lfilter_vjp_b(g, ans, b, a, x, axis=-1, zi=None, value=None):
    return _lags(x, _backward_allpole(g, a, axis), axis, b.shape[0])


def lfilter_vjp_a(g, ans, b, a, x, axis=-1, zi=None, value=None):
    w = _backward_allpole(g, a, axis)
    ct = -_lags(ans, w, axis, a.shape[0])
    if zi is not None:
        zpad = _pad_state(np.broadcast_to(zi, _zi_shape(b, a, x, axis)), axis, x.shape[axis])
        ct0 = np.sum(_conj(zpad) * w)
        ct = ct + np.concatenate([np.reshape(ct0, (1,)), np.zeros(a.shape[0] - 1, dtype=ct.dtype)])
    return ct


def lfilter_vjp_x(g, ans, b, a, x, axis=-1, zi=None, value=None):
    return _reverse(S.lfilter(_conj(b), _conj(a), _reverse(g, axis), axis), axis)


def lfilter_vjp_zi(g, ans, b, a, x, axis=-1, zi=None, value=None):
    w = _backward_allpole(g, a, axis)
    k = max(a.shape[0], b.shape[0]) - 1
    ct = _pad_state(w, axis, k) if w.shape[axis] < k else _at.axis_slice(w, stop=k, axis=axis)
    return ct * _conj(a[0])


def _zi_shape(b, a, x, axis):
    shape = list(x.shape)
    shape[axis] = max(a.shape[0], b.shape[0]) - 1
    return tuple(shape)


def lfilter_jvp_b(t, ans, b, a, x, axis=-1, zi=None, value=None):
    return S.lfilter(t, a, x, axis)


def lfilter_jvp_a(t, ans, b, a, x, axis=-1, zi=None, value=None):
    out = -S.lfilter(t, a, ans, axis)
    if zi is not None:
        zpad = _pad_state(np.broadcast_to(zi, _zi_shape(b, a, x, axis)), axis, x.shape[axis])
        out = out + t[0] * S.lfilter(np.ones(1), a, zpad, axis)
    return out


def lfilter_jvp_x(t, ans, b, a, x, axis=-1, zi=None, value=None):
    return S.lfilter(b, a, t, axis)


def lfilter_jvp_zi(t, ans, b, a, x, axis=-1, zi=None, value=None):
    tz = _pad_state(np.broadcast_to(t, _zi_shape(b, a, x, axis)), axis, x.shape[axis])
    return a[0] * S.lfilter(np.ones(1), a, tz, axis)


lfilter_y = defvjp(S.lfilter, [lfilter_vjp_b, lfilter_vjp_a, lfilter_vjp_x, None, lfilter_vjp_zi],
                   [lfilter_jvp_b, lfilter_jvp_a, lfilter_jvp_x, None, lfilter_jvp_zi],
                   raw=_lfilter_raw, name="scipy.signal.lfilter", key=False)


def _final_state(b, a, x, y, zi, axis):
    """lfilter's ``zf``: the transposed direct form II state after the last sample."""
    k = max(a.shape[0], b.shape[0]) - 1
    bn, an = b / a[0], a / a[0]
    bn = np.concatenate([bn, np.zeros(k + 1 - bn.shape[0], dtype=bn.dtype)]) if bn.shape[0] < k + 1 else bn
    an = np.concatenate([an, np.zeros(k + 1 - an.shape[0], dtype=an.dtype)]) if an.shape[0] < k + 1 else an
    xs, ys = _axis_last(x, axis), _axis_last(y, axis)
    n = xs.shape[-1]
    zs = None if zi is None else _axis_last(np.broadcast_to(zi, _zi_shape(b, a, x, axis)), axis)
    rows = []
    for i in range(k):
        total = 0
        for j in range(min(k - 1 - i, n - 1) + 1):
            total = total + bn[i + 1 + j] * xs[..., n - 1 - j] - an[i + 1 + j] * ys[..., n - 1 - j]
        if zs is not None and i + n <= k - 1:
            total = total + zs[..., i + n]
        rows.append(np.broadcast_to(total, ys.shape[:-1]) if not hasattr(total, "shape") else total)
    zf = np.stack(rows, axis=-1)
    return np.moveaxis(zf, -1, axis)


def lfilter(b, a, x, axis=-1, zi=None):
    b = np.atleast_1d(array_like(b))
    a = np.atleast_1d(array_like(a))
    x = array_like(x)
    if zi is None:
        return lfilter_y(b, a, x, axis, None)
    zi = array_like(zi)
    y0, zf0 = ORIGINALS["lfilter"](strip(b), strip(a), strip(x), axis, strip(zi))  # SciPy's checks and values
    y = lfilter_y(b, a, x, axis, zi, y0)
    zf = _final_state(b, a, x, y, zi, axis % x.ndim)
    return y, value_of(zf.astype(zf0.dtype), zf0)


_route("lfilter", lfilter)


def lfilter_zi(b, a):
    """SciPy's ``lfilter_zi``: the steady state of a step response, ``(I - A) zi = B``."""
    b = np.atleast_1d(array_like(b))
    a = np.atleast_1d(array_like(a))
    while a.shape[0] > 1 and strip(a[0]) == 0.0:
        a = a[1:]
    b = b / a[0]  # also when a[0] is 1: its derivative is not zero
    a = a / a[0]
    n = max(a.shape[0], b.shape[0])
    if a.shape[0] < n:
        a = np.concatenate([a, np.zeros(n - a.shape[0], dtype=a.dtype)])
    elif b.shape[0] < n:
        b = np.concatenate([b, np.zeros(n - b.shape[0], dtype=b.dtype)])
    if n < 2:  # SciPy's companion matrix raises
        return ORIGINALS["lfilter_zi"](strip(b), strip(a))
    dt = np.result_type(a.dtype, b.dtype)
    # SciPy's steps: I (float64) minus the transposed companion matrix of a, cast to dt
    companion = np.concatenate([np.reshape(-a[1:] / (1.0 * a[0]), (1, n - 1)), np.eye(n - 2, n - 1)])
    iminus_a = (np.eye(n - 1) - companion.T).astype(dt)
    rhs = b[1:] - a[1:] * b[0]
    return np.linalg.solve(iminus_a, rhs)


_route("lfilter_zi", lfilter_zi)


def sosfilt_zi(sos):
    sos = array_like(sos)
    if sos.ndim != 2 or sos.shape[1] != 6:
        raise ValueError("sos must be shape (n_sections, 6)")
    rows = []
    scale = 1.0
    for s in range(sos.shape[0]):
        b, a = sos[s, :3], sos[s, 3:]
        rows.append(scale * lfilter_zi(b, a))
        scale = scale * (np.sum(b) / np.sum(a))
    return np.stack(rows)


_route("sosfilt_zi", sosfilt_zi)


def _sosfilt_cascade(sos, x, axis=-1, zi=None):
    """The cascade of the sections' transposed direct form II filters (SciPy's algorithm), one
    ``lfilter`` each: for traced sections (``sos`` differentiates too). The values are SciPy's
    own (one plain ``sosfilt``, which also checks the arguments): its fused loop rounds the
    sections' sums in another order than ``lfilter``."""
    sos = array_like(sos)
    x = array_like(x)
    want = ORIGINALS["sosfilt"](strip(sos), strip(x), axis, *(() if zi is None else (strip(zi),)))
    y, zf = _sosfilt_sections(sos, x, axis, zi, (want if zi is None else want[0]).dtype)
    if zi is None:
        return value_of(y, want)
    return value_of(y, want[0]), value_of(zf, want[1])


def _sosfilt_sections(sos, x, axis, zi, dtype):
    """:func:`_sosfilt_cascade`'s ``(y, zf)`` (``zf`` None without ``zi``), rounded otherwise."""
    y = x.astype(dtype) if x.dtype != dtype else x
    sos = sos.astype(dtype) if sos.dtype != dtype else sos
    axis = axis % x.ndim
    finals = []
    for s in range(sos.shape[0]):
        if zi is None:
            y = lfilter(sos[s, :3], sos[s, 3:], y, axis)
        else:
            y, zf = lfilter(sos[s, :3], sos[s, 3:], y, axis, array_like(zi)[s])
            finals.append(zf)
    return y, (None if zi is None else np.stack(finals).astype(dtype))



# Constant sections (``sos`` not traced): y and zf are affine in (x, zi), and one fused pass of
# SciPy's sosfilt gives each linear piece (module docstring, "sosfilt with constant sections").

#: Result dtypes the constant-section primitives handle (others take the cascade of lfilters).
_SOS_DTYPES = "fdFD"
_KERNELS: dict = {}
#: The kernels kept for reuse, at most this many bytes in all (the oldest go first).
_KERNELS_BYTES = 64 << 20


def _kernel_dtype(sos):
    return np.result_type(sos.dtype, np.float32)


def _held_bytes():
    return sum(v.nbytes for entry in list(_KERNELS.values()) for v in entry)


def _flush_subnormal(v):
    """Zero a kernel's subnormal entries (in place): a stable filter's responses decay through
    them, and every product with one took the CPU's slow path (the dot products of W7's gradient:
    63-127 ms instead of 2). What they held is below the dtype's smallest normal number."""
    if v.dtype.kind in "fc" and v.size:
        v[np.abs(v) < np.finfo(v.dtype).tiny] = 0


def _cached(kind, sos, n, make, *more):
    """``make(sos, n, *more)``, remembered for the last few (coefficients, length) pairs (a tuple
    of read-only arrays; ``more``: further coefficient arrays)."""
    key = (kind, n) + tuple((c.dtype.str, c.shape, c.tobytes()) for c in (sos, *more))
    hit = _KERNELS.get(key)
    if hit is None:
        hit = make(sos, n, *more)
        for v in hit:
            _flush_subnormal(v)
            v.flags.writeable = False
        size = sum(v.nbytes for v in hit)
        if size <= _KERNELS_BYTES // 4:
            try:
                while _KERNELS and size + _held_bytes() > _KERNELS_BYTES:
                    _KERNELS.pop(next(iter(_KERNELS)), None)
            except (RuntimeError, StopIteration):  # another thread changed the cache meanwhile
                pass
            _KERNELS[key] = hit
    return hit


def _make_zi_kernels(sos, n):
    """``H`` (2S, n): the output's response to each unit initial state ``zi[s, j]``; ``Phi``
    (2S, 2S): the final state's. State ``(s, 1)`` moves to ``(s, 0)`` in one silent step, so
    its responses are those of ``(s, 0)`` one sample late: one sosfilt of S rows (and one
    sample more for the final states) gives both."""
    raw = ORIGINALS["sosfilt"]
    ns, dt = sos.shape[0], _kernel_dtype(sos)
    e0 = np.zeros((ns, ns, 2), dt)
    e0[np.arange(ns), np.arange(ns), 0] = 1
    if n == 0:
        return np.zeros((2 * ns, 0), dt), np.eye(2 * ns, dtype=dt)
    if n > 1:
        ya, za = raw(sos, np.zeros((ns, n - 1), dt), -1, e0)
    else:
        ya, za = np.zeros((ns, 0), dt), e0
    yb, zb = raw(sos, np.zeros((ns, 1), dt), -1, za)
    h = np.zeros((ns, 2, n), dt)
    h[:, 0, : n - 1] = ya
    h[:, 0, n - 1] = yb[:, 0]
    h[:, 1, 1:] = ya
    phi = np.empty((ns, 2, ns, 2), dt)  # [s', j', s, j]: final state (s', j') from zi (s, j)
    phi[:, :, :, 0] = np.transpose(zb, (0, 2, 1))
    phi[:, :, :, 1] = np.transpose(za, (0, 2, 1))
    return h.reshape(2 * ns, n), phi.reshape(2 * ns, 2 * ns)


def _make_zf_kernel(sos, n):
    """``Q`` (2S, n): the final state's response to a unit sample ``x[m]``, from the impulse
    responses ``u_s`` of the partial cascades (state ``(s, 0)`` after sample m is
    ``b1 u_s[m] + b2 u_s[m-1] - a1 u_{s+1}[m] - a2 u_{s+1}[m-1]``, state ``(s, 1)`` is
    ``b2 u_s[m] - a2 u_{s+1}[m]``), read backward in time."""
    raw = ORIGINALS["sosfilt"]
    ns, dt = sos.shape[0], _kernel_dtype(sos)
    u = [np.zeros(n, dt)]
    if n:
        u[0][0] = 1
    for s in range(ns):
        u.append(raw(sos[s: s + 1], u[-1]).astype(dt, copy=False))
    q = np.zeros((ns, 2, n), dt)
    for s in range(ns):
        b1, b2, a1, a2 = (sos[s, k].astype(dt) for k in (1, 2, 4, 5))
        cur, nxt = u[s], u[s + 1]
        q[s, 0] = b1 * cur - a1 * nxt
        q[s, 0, 1:] += b2 * cur[:-1] - a2 * nxt[:-1]
        q[s, 1] = b2 * cur - a2 * nxt
    return (np.ascontiguousarray(q.reshape(2 * ns, n)[:, ::-1]),)


def _zi_flat(z, axis):
    """A state array ``(S, ..., 2 at axis + 1, ...)`` as ``(..., 2S)`` (SciPy's own layout)."""
    v = np.moveaxis(z, (0, axis + 1), (-2, -1))
    return np.reshape(v, v.shape[:-2] + (v.shape[-2] * 2,))


def _zi_unflat(v, axis):
    """The inverse of :func:`_zi_flat`."""
    v = np.reshape(v, v.shape[:-1] + (v.shape[-1] // 2, 2))
    return np.moveaxis(v, (-2, -1), (0, axis + 1))


def _back_sections(sos):
    """The adjoint cascade's sections: conjugated, in reverse order (C-contiguous, as SciPy's
    sosfilt requires of its sections)."""
    return np.ascontiguousarray(_conj(sos[::-1]))


def _sosfilt_y_raw(x, zi, sos, axis, n, value=None):
    """SciPy's ``y``; ``value``: the one :func:`sosfilt` already computed with ``zf`` (on the
    same plain arrays), so that a call with ``zi`` runs SciPy's pass once."""
    if value is not None:
        return value
    if zi is None:
        return ORIGINALS["sosfilt"](sos, x, axis)
    return ORIGINALS["sosfilt"](sos, x, axis, zi)[0]


def _sosfilt_zf_raw(x, zi, sos, axis, n, value=None):
    if value is not None:
        return value
    return ORIGINALS["sosfilt"](sos, x, axis, zi)[1]


def sosfilt_vjp_x(g, ans, x, zi, sos, axis, n, value=None):
    """The time-reversed fused sosfilt of the reversed cotangent, conjugated sections in reverse order."""
    return _reverse(S.sosfilt(_back_sections(sos), _reverse(g, axis), axis), axis)


def sosfilt_vjp_zi(g, ans, x, zi, sos, axis, n, value=None):
    h, _ = _cached("zi", sos, n, _make_zi_kernels)
    return _zi_unflat(np.matmul(np.moveaxis(g, axis, -1), _conj(h).T), axis)


def sosfilt_jvp_x(t, ans, x, zi, sos, axis, n, value=None):
    return S.sosfilt(sos, t, axis)


def sosfilt_jvp_zi(t, ans, x, zi, sos, axis, n, value=None):
    h, _ = _cached("zi", sos, n, _make_zi_kernels)
    return np.moveaxis(np.matmul(_zi_flat(t, axis), h), -1, axis)


def sosfilt_zf_vjp_x(g, ans, x, zi, sos, axis, n, value=None):
    (q,) = _cached("zf", sos, n, _make_zf_kernel)
    return np.moveaxis(np.matmul(_zi_flat(g, axis), _conj(q)), -1, axis)


def sosfilt_zf_vjp_zi(g, ans, x, zi, sos, axis, n, value=None):
    _, phi = _cached("zi", sos, n, _make_zi_kernels)
    return _zi_unflat(np.matmul(_zi_flat(g, axis), _conj(phi)), axis)


def sosfilt_zf_jvp_x(t, ans, x, zi, sos, axis, n, value=None):
    (q,) = _cached("zf", sos, n, _make_zf_kernel)
    return _zi_unflat(np.matmul(np.moveaxis(t, axis, -1), q.T), axis)


def sosfilt_zf_jvp_zi(t, ans, x, zi, sos, axis, n, value=None):
    _, phi = _cached("zi", sos, n, _make_zi_kernels)
    return _zi_unflat(np.matmul(_zi_flat(t, axis), phi.T), axis)


sosfilt_y = defvjp(S.sosfilt, [sosfilt_vjp_x, sosfilt_vjp_zi], [sosfilt_jvp_x, sosfilt_jvp_zi],
                   raw=_sosfilt_y_raw, name="scipy.signal.sosfilt", key=False)
sosfilt_zf = defvjp(S.sosfilt, [sosfilt_zf_vjp_x, sosfilt_zf_vjp_zi], [sosfilt_zf_jvp_x, sosfilt_zf_jvp_zi],
                    raw=_sosfilt_zf_raw, name="scipy.signal.sosfilt (zf)", key=False)


def _constant_sos(sos, x, zi=None):
    """``sos`` as a plain array when the constant-section primitives apply (else None)."""
    if _traced(sos):
        return None
    sos = np.asarray(sos)
    dtypes = [sos.dtype, x.dtype] + ([] if zi is None else [zi.dtype])
    if np.result_type(*dtypes).char not in _SOS_DTYPES:
        return None
    return sos


def sosfilt(sos, x, axis=-1, zi=None):
    """Constant sections: the ``y`` (and ``zf``) primitives; traced sections: the cascade."""
    x = array_like(x)
    zi = None if zi is None else array_like(zi)
    plain = _constant_sos(sos, x, zi)
    if plain is None:
        return _sosfilt_cascade(sos, x, axis, zi)
    ax = operator.index(axis)
    if not -x.ndim <= ax < x.ndim:  # (a 0-d x too) SciPy's exception
        return ORIGINALS["sosfilt"](plain, strip(x), axis, *(() if zi is None else (strip(zi),)))
    ax %= x.ndim
    n = x.shape[ax]
    if zi is None:
        return sosfilt_y(x, zi, plain, ax, n)
    y, zf = ORIGINALS["sosfilt"](plain, strip(x), ax, strip(zi))  # one pass for both values
    return sosfilt_y(x, zi, plain, ax, n, y), sosfilt_zf(x, zi, plain, ax, n, zf)


_route("sosfilt", sosfilt)


def _make_filtfilt_kernel(b, n, a):
    """``h``: one ``filtfilt`` pass's response to its first input sample through the initial
    state ``lfilter_zi(b, a) * x[0]``."""
    dt = np.result_type(b.dtype, a.dtype, np.float32)
    zi = ORIGINALS["lfilter_zi"](b, a).astype(dt)
    return (ORIGINALS["lfilter"](b, a, np.zeros(n, dt), -1, zi)[0].astype(dt, copy=False),)


def _filtfilt_adjoint_plain(g, n, axis, edge, padtype, h, cb, ca):
    """:func:`filtfilt_adjoint` of a plain cotangent: the first pass on the cotangent itself (zero
    padding is a silent start and a zero-input tail from its final state), the second on one
    reversed copy, read back reversed into the first pass's output."""
    hc = _conj(h)
    gm = np.moveaxis(g, axis, -1)
    batch = gm.shape[:-1]
    order = max(ca.shape[0], cb.shape[0]) - 1
    alpha = _dot(gm, hc[::-1][edge: edge + n])
    # (order >= 1: SciPy's lfilter_zi rejects a one-tap filter before this runs)
    u, zf = S.lfilter(cb, ca, gm, -1, np.zeros(batch + (order,), np.result_type(cb, ca, gm)))
    tail = S.lfilter(cb, ca, np.zeros(batch + (edge,), u.dtype), -1, zf)[0]
    if edge:
        tail[..., -1] += alpha
    else:
        u[..., -1] += alpha
    beta = _dot(u, hc[edge: edge + n]) + _dot(tail, hc[edge + n:])
    win = buffers.empty(batch + (n + 2 * edge,), u.dtype)
    win[..., :edge] = tail[..., ::-1]
    win[..., edge: edge + n] = u[..., ::-1]
    win[..., edge + n:] = 0
    w = S.lfilter(cb, ca, win, -1)
    del win
    w[..., -1] += beta
    rev = w[..., ::-1]
    u[...] = rev[..., edge: edge + n]
    if edge:
        _fold_edges(u, rev[..., :edge], rev[..., edge + n:], edge, padtype)
    return np.moveaxis(u, -1, axis)


def filtfilt_adjoint(g, shape, dtype, b, a, axis, padtype, padlen):
    """``filtfilt(method="pad")`` transposed: the same two-pass adjoint as ``sosfiltfilt``'s, with
    ``lfilter(conj b, conj a)`` passes (module docstring)."""
    n = shape[axis]
    edge = 0 if padtype is None else (3 * max(a.shape[0], b.shape[0]) if padlen is None else padlen)
    (h,) = _cached("filtfilt", b, n + 2 * edge, _make_filtfilt_kernel, a)
    if type(g) is np.ndarray:
        return _filtfilt_adjoint_plain(g, n, axis, edge, padtype, h, _conj(b), _conj(a))
    return _forward_backward_adjoint(g, n, axis, edge, padtype, h, S.lfilter, (_conj(b), _conj(a)))


def _filtfilt_raw(x, b, a, axis, padtype, padlen):
    return ORIGINALS["filtfilt"](b, a, x, axis, padtype, padlen)


filtfilt_x = deflinear(S.filtfilt, filtfilt_adjoint, raw=_filtfilt_raw, name="scipy.signal.filtfilt",
                       key=False)


def filtfilt(b, a, x, axis=-1, padtype="odd", padlen=None, method="pad", irlen=None):
    """``method="pad"`` with constant ``b, a``: the linear rule (SciPy's value); otherwise
    SciPy's algorithm in NumPy calls (``b``, ``a`` differentiate; Gustafsson's method)."""
    x = array_like(x)
    if method == "pad" and not _traced(b) and not _traced(a):
        pb_, pa = np.atleast_1d(np.asarray(b)), np.atleast_1d(np.asarray(a))
        ok = np.result_type(pb_.dtype, pa.dtype, x.dtype).char in _SOS_DTYPES
        if ok and pb_.ndim == pa.ndim == 1 and -x.ndim <= operator.index(axis) < x.ndim:
            return filtfilt_x(x, pb_, pa, operator.index(axis) % x.ndim, padtype, padlen)
    b = np.atleast_1d(array_like(b))
    a = np.atleast_1d(array_like(a))
    if method not in ("pad", "gust"):
        raise ValueError("method must be 'pad' or 'gust'.")
    if method == "gust":
        # SciPy's value (its lstsq and products round otherwise), the composite's derivatives
        out = _filtfilt_gust(b, a, x, axis, irlen)
        want = ORIGINALS["filtfilt"](strip(b), strip(a), strip(x), axis=axis, method="gust", irlen=irlen)
        if out.dtype != want.dtype and np.can_cast(want.dtype, out.dtype):
            out = out.astype(want.dtype)
        return value_of(out, want) if out.shape == want.shape and out.dtype == want.dtype else out
    edge, ext = _validate_pad(padtype, padlen, x, axis, max(a.shape[0], b.shape[0]))
    zi = lfilter_zi(b, a)
    zi_shape = [1] * x.ndim
    zi_shape[axis] = zi.shape[0]
    zi = np.reshape(zi, zi_shape)
    x0 = _at.axis_slice(ext, stop=1, axis=axis)
    y, _ = lfilter(b, a, ext, axis, zi * x0)
    y0 = _at.axis_slice(y, start=-1, axis=axis)
    y, _ = lfilter(b, a, _reverse(y, axis), axis, zi * y0)
    y = _reverse(y, axis)
    if edge > 0:
        y = _at.axis_slice(y, start=edge, stop=-edge, axis=axis)
    return y


def _filtfilt_gust(b, a, x, axis=-1, irlen=None):
    """SciPy's Gustafsson filtfilt: the initial states that make forward-backward and
    backward-forward filtering agree, by least squares; every step a NumPy call."""
    order = max(b.shape[0], a.shape[0]) - 1
    if order == 0:
        return (b[0] / a[0]) ** 2 * x
    x = np.swapaxes(x, axis, -1)
    n = x.shape[-1]
    m = n if irlen is None or n <= 2 * irlen else irlen
    unit = np.zeros(order)
    unit[0] = 1
    obs0 = lfilter(b, a, np.zeros(m), -1, unit)[0]  # the response to a unit initial state
    obs = np.stack([obs0] + [np.pad(obs0[: m - k], (k, 0)) for k in range(1, order)], axis=1)
    obsr = np.flip(obs, axis=0)
    s_ = lfilter(b, a, obsr, 0)
    sr = np.flip(s_, axis=0)
    if m == n:
        mat = np.concatenate([sr - obs, obsr - s_], axis=1)
        w = np.concatenate([sr, obsr], axis=1)
    else:
        zero = np.zeros((m, order))
        mat = np.concatenate([np.concatenate([sr - obs, zero], axis=1),
                              np.concatenate([zero, obsr - s_], axis=1)], axis=0)
        w = np.concatenate([np.concatenate([sr, zero], axis=1), np.concatenate([zero, obsr], axis=1)], axis=0)
    y_fb = np.flip(lfilter(b, a, np.flip(lfilter(b, a, x), axis=-1)), axis=-1)
    y_bf = lfilter(b, a, np.flip(lfilter(b, a, np.flip(x, axis=-1)), axis=-1))
    delta = y_bf - y_fb
    if m != n:
        delta = np.concatenate([delta[..., :m], delta[..., n - m:]], axis=-1)
    rows = np.reshape(delta, (-1, delta.shape[-1]))
    ic = np.linalg.lstsq(mat, rows.T)[0].T  # least squares (M has full column rank)
    ic = np.reshape(ic, tuple(delta.shape[:-1]) + (mat.shape[-1],))
    wic = ic @ w.T
    if m == n:
        y = y_fb + wic
    else:
        zeros = np.zeros(tuple(wic.shape[:-1]) + (n - 2 * m,), dtype=wic.dtype)
        y = y_fb + np.concatenate([wic[..., :m], zeros, wic[..., m:]], axis=-1)
    return np.swapaxes(y, axis, -1)


def _validate_pad(padtype, padlen, x, axis, ntaps):
    if padtype not in ("even", "odd", "constant", None):
        raise ValueError(f"Unknown value '{padtype}' given to padtype. "
                         "padtype must be 'even', 'odd', 'constant', or None.")
    if padtype is None:
        padlen = 0
    edge = ntaps * 3 if padlen is None else padlen
    if x.shape[axis] <= edge:
        raise ValueError(f"The length of the input vector x must be greater than padlen, which is {edge}.")
    if padtype is not None and edge > 0:
        extend = {"even": _at.even_ext, "odd": _at.odd_ext, "constant": _at.const_ext}[padtype]
        ext = extend(x, edge, axis=axis)
    else:
        ext = x
    return edge, ext


_route("filtfilt", filtfilt)


def _sosfiltfilt_composite(sos, x, axis=-1, padtype="odd", padlen=None):
    sos = array_like(sos)
    x = array_like(x)
    if sos.ndim != 2 or sos.shape[1] != 6:
        raise ValueError("sos array must be 2D")
    n_sections = sos.shape[0]
    plain = strip(sos)
    ntaps = 2 * n_sections + 1 - min(int((plain[:, 2] == 0).sum()), int((plain[:, 5] == 0).sum()))
    edge, ext = _validate_pad(padtype, padlen, x, axis, ntaps)
    zi = sosfilt_zi(sos)
    zi_shape = [1] * x.ndim
    zi_shape[axis] = 2
    zi = np.reshape(zi, [n_sections] + zi_shape)
    x0 = _at.axis_slice(ext, stop=1, axis=axis)
    y, _ = sosfilt(sos, ext, axis, zi * x0)
    y0 = _at.axis_slice(y, start=-1, axis=axis)
    y, _ = sosfilt(sos, _reverse(y, axis), axis, zi * y0)
    y = _reverse(y, axis)
    if edge > 0:
        y = _at.axis_slice(y, start=edge, stop=-edge, axis=axis)
    return y



def _sos_edge(sos, padtype, padlen):
    """SciPy's extension length for ``sosfiltfilt`` (the value's call checked the arguments)."""
    ntaps = 2 * sos.shape[0] + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    if padtype is None:
        return 0
    return ntaps * 3 if padlen is None else padlen


def _make_edge_kernel(sos, n):
    """``h``: one pass's response to its first input sample through the initial state
    ``sosfilt_zi(sos) * x[0]`` (zero input otherwise), as a sosfilt of one silent row."""
    dt = _kernel_dtype(sos)
    zi = ORIGINALS["sosfilt_zi"](sos).astype(dt)
    return (ORIGINALS["sosfilt"](sos, np.zeros(n, dt), -1, zi)[0],)


def _add_last(u, v):
    """``u`` with ``v`` added to its last sample (in place when ``u`` is a fresh plain array)."""
    if type(u) is np.ndarray and not isinstance(v, Tracer) and u.flags.writeable:
        u[..., -1] += v
        return u
    return np.concatenate([u[..., :-1], np.expand_dims(u[..., -1] + v, -1)], axis=-1)


def _ext_adjoint(e, n, edge, padtype):
    """The adjoint of SciPy's ``odd_ext``/``even_ext``/``const_ext`` along the last axis: the
    middle, plus the extensions folded back onto the samples they copied."""
    if edge == 0:
        return e
    left, mid, right = e[..., :edge], e[..., edge: edge + n], e[..., edge + n:]
    zero = np.zeros(left.shape[:-1] + (1,), dtype=e.dtype)
    if padtype == "constant":
        cl = np.concatenate([np.sum(left, axis=-1, keepdims=True), np.zeros_like(left)], axis=-1)
        cr = np.concatenate([np.zeros_like(right), np.sum(right, axis=-1, keepdims=True)], axis=-1)
    elif padtype == "even":
        cl = np.concatenate([zero, np.flip(left, axis=-1)], axis=-1)
        cr = np.concatenate([np.flip(right, axis=-1), zero], axis=-1)
    else:  # odd: ext[i] = 2 x[0] - x[edge - i], ext[edge + n + i] = 2 x[n - 1] - x[n - 2 - i]
        cl = np.concatenate([2 * np.sum(left, axis=-1, keepdims=True), -np.flip(left, axis=-1)], axis=-1)
        cr = np.concatenate([-np.flip(right, axis=-1), 2 * np.sum(right, axis=-1, keepdims=True)], axis=-1)
    if type(mid) is np.ndarray and type(cl) is np.ndarray and mid.flags.writeable:
        mid[..., : edge + 1] += cl
        mid[..., n - edge - 1:] += cr
        return mid
    widths = [(0, 0)] * (mid.ndim - 1)
    return (mid + np.pad(cl, widths + [(0, n - edge - 1)])
            + np.pad(cr, widths + [(n - edge - 1, 0)]))


try:  # SciPy's fused cascade, in place on a C-contiguous (rows, n) block (what sosfilt calls)
    from scipy.signal._sosfilt import _sosfilt as _sosfilt_in_place
except ImportError:  # pragma: no cover - another SciPy layout: the public calls below serve
    _sosfilt_in_place = None


def _fold_edges(out, left, right, edge, padtype):
    """Add the extension's cotangents ``left``/``right`` (time-last, in order) onto the samples of
    ``out`` they copied: the adjoint of SciPy's ``odd_ext``/``even_ext``/``const_ext``."""
    n = out.shape[-1]
    if padtype == "constant":
        out[..., 0] += np.sum(left, axis=-1)
        out[..., n - 1] += np.sum(right, axis=-1)
    elif padtype == "even":
        out[..., 1: edge + 1] += left[..., ::-1]
        out[..., n - 1 - edge: n - 1] += right[..., ::-1]
    else:
        out[..., 0] += 2 * np.sum(left, axis=-1)
        out[..., 1: edge + 1] -= left[..., ::-1]
        out[..., n - 1] += 2 * np.sum(right, axis=-1)
        out[..., n - 1 - edge: n - 1] -= right[..., ::-1]


def _dot(u, v):
    """``u @ v`` for a plain matrix and vector, on this thread (BLAS's worker threads would go on
    spinning through the filter pass that follows, taking the core it runs on)."""
    return np.einsum("...j,j->...", u, v)


def _sosfiltfilt_adjoint_plain(g, shape, sos, axis, padtype, padlen, own):
    """:func:`sosfiltfilt_adjoint` of a plain cotangent, with SciPy's fused cascade run in place:
    the first pass on the cotangent itself (zero padding is a silent start and a zero-input
    tail), the second on one reversed copy, the result read back reversed into a fresh (or
    the owned) block: three copies of the signal and two passes in all."""
    n = shape[axis]
    edge = _sos_edge(sos, padtype, padlen)
    dt = np.result_type(sos.dtype, g.dtype)
    back = _back_sections(sos).astype(dt, copy=False)
    (h,) = _cached("edge", sos, n + 2 * edge, _make_edge_kernel)
    hc = _conj(h)
    gm = np.moveaxis(g, axis, -1)
    batch = gm.shape[:-1]
    rows = math.prod(batch)
    if own and gm.dtype == dt and gm.flags.c_contiguous and gm.flags.writeable:
        u = gm.reshape(rows, n)
    else:
        u = buffers.empty((rows, n), dt)
        np.copyto(u.reshape(batch + (n,)), gm)
    alpha = _dot(u, hc[::-1][edge: edge + n])  # <h, the reversed padded cotangent>
    zi = np.zeros((rows, sos.shape[0], 2), dt)
    _sosfilt_in_place(back, u, zi)
    tail = np.zeros((rows, edge), dt)
    if edge:
        _sosfilt_in_place(back, tail, zi)
        tail[:, -1] += alpha
    else:
        u[:, -1] += alpha
    beta = _dot(u, hc[edge: edge + n]) + _dot(tail, hc[edge + n:])
    w = buffers.empty((rows, n + 2 * edge), dt)  # the reversed first-pass output, filtered again
    w[:, :edge] = tail[:, ::-1]
    w[:, edge: edge + n] = u[:, ::-1]
    w[:, edge + n:] = 0
    zi[...] = 0
    _sosfilt_in_place(back, w, zi)
    w[:, -1] += beta
    rev = w[:, ::-1]
    out = u  # the second pass read backward in time, into the first pass's block
    out[...] = rev[:, edge: edge + n]
    if edge:
        _fold_edges(out, rev[:, :edge], rev[:, edge + n:], edge, padtype)
    return np.moveaxis(out.reshape(batch + (n,)), -1, axis)


def _forward_backward_adjoint(g, n, axis, edge, padtype, h, filt, coeffs):
    """The adjoint of SciPy's padded forward-backward filtering, in NumPy calls (module
    docstring): ``filt(*coeffs, v, -1)`` is a pass of the adjoint filter (conjugated; for
    sections, in reverse order), ``h`` a pass's response to its edge initial state."""
    hc = _conj(h)
    p = np.moveaxis(g, axis, -1)
    if edge:
        p = np.pad(p, [(0, 0)] * (p.ndim - 1) + [(edge, edge)])
    u = filt(*coeffs, p, -1)  # the second pass's x-cotangent, reversed twice
    u = _add_last(u, np.matmul(p, hc[::-1]))  # its zi term: the first sample of the reversed signal
    w = filt(*coeffs, np.flip(u, axis=-1), -1)
    w = _add_last(w, np.matmul(u, hc))
    return np.moveaxis(_ext_adjoint(np.flip(w, axis=-1), n, edge, padtype), -1, axis)


def sosfiltfilt_adjoint(g, shape, dtype, sos, axis, padtype, padlen):
    """Forward-backward filtering transposed (module docstring): two fused passes of the
    conjugated sections in reverse order, and the two edge states' rank-one terms."""
    if type(g) is np.ndarray and _sosfilt_in_place is not None \
            and np.result_type(sos.dtype, g.dtype).char in _SOS_DTYPES:
        return _sosfiltfilt_adjoint_plain(g, shape, sos, axis, padtype, padlen, False)
    n = shape[axis]
    edge = _sos_edge(sos, padtype, padlen)
    (h,) = _cached("edge", sos, n + 2 * edge, _make_edge_kernel)
    return _forward_backward_adjoint(g, n, axis, edge, padtype, h, S.sosfilt, (_back_sections(sos),))


def _sosfiltfilt_raw(x, sos, axis, padtype, padlen):
    return ORIGINALS["sosfiltfilt"](sos, x, axis, padtype, padlen)


def sosfiltfilt_adjoint_in_place(g, shape, dtype, sos, axis, padtype, padlen):
    """:func:`sosfiltfilt_adjoint` of a cotangent the tape owns: the first pass runs in it."""
    if type(g) is np.ndarray and _sosfilt_in_place is not None \
            and np.result_type(sos.dtype, g.dtype).char in _SOS_DTYPES:
        return _sosfiltfilt_adjoint_plain(g, shape, sos, axis, padtype, padlen, True)
    return sosfiltfilt_adjoint(g, shape, dtype, sos, axis, padtype, padlen)


sosfiltfilt_adjoint.in_place = sosfiltfilt_adjoint_in_place

sosfiltfilt_x = deflinear(S.sosfiltfilt, sosfiltfilt_adjoint, raw=_sosfiltfilt_raw,
                          name="scipy.signal.sosfiltfilt", key=False)


def sosfiltfilt(sos, x, axis=-1, padtype="odd", padlen=None):
    """Constant sections: the linear rule (SciPy's value); traced sections: the composite."""
    x = array_like(x)
    plain = _constant_sos(sos, x)
    if plain is None:
        return _sosfiltfilt_composite(sos, x, axis, padtype, padlen)
    if not -x.ndim <= operator.index(axis) < x.ndim:  # (a 0-d x too) SciPy's exception
        return ORIGINALS["sosfiltfilt"](plain, strip(x), axis, padtype, padlen)
    return sosfiltfilt_x(x, plain, operator.index(axis) % x.ndim, padtype, padlen)


_route("sosfiltfilt", sosfiltfilt)


def lfiltic(b, a, y, x=None):
    """SciPy's ``lfiltic`` step by step (its dtypes, float64 zero padding, sums and the division
    only where ``a[0] != 1``): the initial state from past outputs and inputs."""
    a = np.atleast_1d(array_like(a))
    b = np.atleast_1d(array_like(b))
    if a.ndim > 1:
        raise ValueError("Filter coefficients `a` must be 1-D.")
    if b.ndim > 1:
        raise ValueError("Filter coefficients `b` must be 1-D.")
    n = a.shape[0] - 1
    m = b.shape[0] - 1
    y = array_like(y)
    if n < 0:
        raise ValueError("There must be at least one `a` coefficient.")
    dt = np.result_type(b.dtype, a.dtype, y.dtype, *(() if x is None else (array_like(x).dtype,)))
    if dt.kind in "bui":
        dt = np.dtype(np.float64)
    if x is None:
        x = np.zeros(m, dtype=dt)
    else:
        x = array_like(x).astype(dt)
        if x.size < m:
            x = np.concatenate([x, np.zeros(m - x.size)])
    y = y.astype(dt)
    if y.size < n:
        y = np.concatenate([y, np.zeros(n - y.size)])
    zero = np.zeros((), dt)
    rows = []
    for k in range(max(m, n)):
        z = np.sum(b[k + 1:] * x[: m - k], axis=0).astype(dt) if k < m else zero
        if k < n:
            z = z - np.sum(a[k + 1:] * y[: n - k], axis=0)
        rows.append(z.astype(dt))
    zi = np.stack(rows) if rows else np.zeros(0, dtype=dt)
    if strip(a)[0] == 0.0:
        raise ValueError("First `a` filter coefficient must be non-zero.")
    # SciPy divides only where a[0] != 1; dividing by 1 changes no bit, and a traced a[0] = 1
    # still has its derivative
    return (zi / a[0]).astype(dt)


_route("lfiltic", lfiltic)


# ---------------------------------------------------------------- detrend (a self-adjoint projection)


def detrend_adjoint(g, shape, dtype, axis=-1, type="linear", bp=0, overwrite_data=False):
    return S.detrend(g, axis, type, bp)


def _detrend_raw(data, axis=-1, type="linear", bp=0, overwrite_data=False):
    return ORIGINALS["detrend"](data, axis, type, bp, False)


detrend_rule = deflinear(S.detrend, detrend_adjoint, raw=_detrend_raw, name="scipy.signal.detrend")
ORIGINALS["detrend"] = original(S.detrend)
route(S.detrend)


# ---------------------------------------------------------------- non-differentiable: extrema positions, the
# convolution method (window and filter designs: signal_windows, signal_design; peak measures: signal_peaks)

for _name in ("argrelmax", "argrelmin", "argrelextrema", "choose_conv_method"):
    if hasattr(S, _name):
        ORIGINALS[_name] = original(getattr(S, _name))
        defnondiff(getattr(S, _name), raw=ORIGINALS[_name])
        route(getattr(S, _name))


# ---------------------------------------------------------------- upfirdn (bilinear), resample_poly, decimate


def _upfirdn_raw(h, x, up=1, down=1, axis=-1, mode="constant", cval=0):
    return ORIGINALS["upfirdn"](h, x, up, down, axis, mode, cval)


def _zero_insert(v, factor, axis):
    """``v`` with ``factor - 1`` zeros after each sample but the last (an upfirdn with h = [1])."""
    if factor == 1:
        return v
    return S.upfirdn(np.ones(1, dtype=v.real.dtype), v, factor, 1, axis)


def _fit_length(v, axis, start, n, step=1):
    """``v[start : start + (n - 1) * step + 1 : step]`` along ``axis``, zero-padded where ``v`` ends."""
    need = start + (n - 1) * step + 1
    if v.shape[axis] < need:
        widths = [(0, 0)] * v.ndim
        widths[axis] = (0, need - v.shape[axis])
        v = np.pad(v, widths)
    return _at.axis_slice(v, start=start, stop=need, step=step, axis=axis)


def upfirdn_vjp_h(g, ans, h, x, up=1, down=1, axis=-1, mode="constant", cval=0):
    axis = axis % x.ndim
    c = _zero_insert(g, down, axis)  # the cotangent of the full convolution
    u = _zero_insert(x, up, axis)  # the upsampled signal
    corr = S.fftconvolve(c, np.flip(_conj(u), axis=axis), "full", axes=axis)
    ct = _fit_length(corr, axis, u.shape[axis] - 1, h.shape[0])
    return np.sum(np.moveaxis(ct, axis, -1), axis=tuple(range(ct.ndim - 1)))


def upfirdn_vjp_x(g, ans, h, x, up=1, down=1, axis=-1, mode="constant", cval=0):
    axis = axis % x.ndim
    full = S.upfirdn(_conj(np.flip(h)), g, down, 1, axis)
    return _fit_length(full, axis, h.shape[0] - 1, x.shape[axis], up)


def upfirdn_jvp_h(t, ans, h, x, up=1, down=1, axis=-1, mode="constant", cval=0):
    return S.upfirdn(t, x, up, down, axis)


def upfirdn_jvp_x(t, ans, h, x, up=1, down=1, axis=-1, mode="constant", cval=0):
    return S.upfirdn(h, t, up, down, axis)


ORIGINALS["upfirdn"] = original(S.upfirdn)
upfirdn_prim = defvjp(S.upfirdn, [upfirdn_vjp_h, upfirdn_vjp_x], [upfirdn_jvp_h, upfirdn_jvp_x],
                      raw=_upfirdn_raw, name="scipy.signal.upfirdn", key=False)


def upfirdn(h, x, up=1, down=1, axis=-1, mode="constant", cval=0):
    if mode != "constant" or (_traced(cval) or cval != 0):
        raise _unsupported("upfirdn", f"mode={mode!r}, cval={cval!r} (only mode='constant', cval=0)")
    h, x = array_like(h), array_like(x)
    if h.ndim != 1:
        raise ValueError("h must be 1-D with non-zero length")
    return upfirdn_prim(h, x, int(up), int(down), axis)


_route("upfirdn", upfirdn)


def resample_poly(x, up, down, axis=0, window=("kaiser", 5.0), padtype="constant", cval=None):
    """SciPy's polyphase resampling around :func:`upfirdn`: ``x`` and an array ``window`` differentiate."""
    import math

    from scipy.signal._upfirdn import _output_len

    x = array_like(x)
    if up != int(up):
        raise ValueError("up must be an integer")
    if down != int(down):
        raise ValueError("down must be an integer")
    up, down = int(up), int(down)
    if up < 1 or down < 1:
        raise ValueError("up and down must be >= 1")
    if cval is not None and padtype != "constant":
        raise ValueError("cval has no effect when padtype is ", padtype)
    g_ = math.gcd(up, down)
    up //= g_
    down //= g_
    if up == down == 1:
        return x * 1
    n_in = x.shape[axis]
    n_out = n_in * up
    n_out = n_out // down + bool(n_out % down)
    if isinstance(window, (list, np.ndarray, Tracer)):
        h = array_like(window)
        if h.ndim > 1:
            raise ValueError("window must be 1-D")
        half_len = (h.shape[0] - 1) // 2
    else:
        max_rate = max(up, down)
        half_len = 10 * max_rate
        h = S.firwin(2 * half_len + 1, 1.0 / max_rate, window=window)
        if x.dtype.kind in "fc":
            h = h.astype(x.dtype)
    h = h * up
    n_pre_pad = down - half_len % down
    n_post_pad = 0
    n_pre_remove = (half_len + n_pre_pad) // down
    while _output_len(h.shape[0] + n_pre_pad + n_post_pad, n_in, up, down) < n_out + n_pre_remove:
        n_post_pad += 1
    h = np.concatenate([np.zeros(n_pre_pad, dtype=h.dtype), h, np.zeros(n_post_pad, dtype=h.dtype)])
    funcs = {"mean": np.mean, "median": np.median, "minimum": np.min, "maximum": np.max}
    if padtype in funcs:
        background = funcs[padtype](x, axis=axis, keepdims=True)
        x = x - background
    elif padtype != "constant" or cval not in (None, 0):
        raise _unsupported("resample_poly", f"padtype={padtype!r}, cval={cval!r}")
    y = upfirdn(h, x, up, down, axis=axis)
    keep = [slice(None)] * x.ndim
    keep[axis] = slice(n_pre_remove, n_pre_remove + n_out)
    y = y[tuple(keep)]
    if padtype in funcs:
        y = y + background
    return y


_route("resample_poly", resample_poly)


def decimate(x, q, n=None, ftype="iir", axis=-1, zero_phase=True):
    x = array_like(x)
    q = operator.index(q)
    if n is not None:
        n = operator.index(n)
    result_type = x.dtype
    if not np.issubdtype(result_type, np.inexact) or result_type.type == np.float16:
        result_type = np.float64
    sl = [slice(None)] * x.ndim
    if ftype == "fir":
        if n is None:
            n = 20 * q
        b = S.firwin(n + 1, 1.0 / q, window="hamming").astype(result_type)
        if zero_phase:
            y = resample_poly(x, 1, q, axis=axis, window=b)
        else:
            n_out = x.shape[axis] // q + bool(x.shape[axis] % q)
            y = upfirdn(b, x, 1, q, axis=axis)
            sl[axis] = slice(None, n_out, None)
    elif ftype == "iir":
        sos = S.cheby1(8 if n is None else n, 0.05, 0.8 / q, output="sos").astype(result_type)
        y = sosfiltfilt(sos, x, axis=axis) if zero_phase else sosfilt(sos, x, axis=axis)
        sl[axis] = slice(None, None, q)
    else:
        raise _unsupported("decimate", f"ftype={type(ftype).__name__} (only 'iir' and 'fir')")
    return y[tuple(sl)]


_route("decimate", decimate)


# ---------------------------------------------------------------- Savitzky-Golay (linear in x)


def savgol_filter(x, window_length, polyorder, deriv=0, delta=1.0, axis=-1, mode="interp", cval=0.0):
    """SciPy's steps: ``ndimage.convolve1d`` with SciPy's coefficients (traced: SciPy's own 1-D
    filter values); ``mode="interp"`` replaces the edges by SciPy's polynomial fits, linear maps
    (a small matrix each) whose values are SciPy's own (one plain call: ``polyfit``'s least
    squares round otherwise)."""
    if mode not in ("mirror", "constant", "nearest", "interp", "wrap"):
        raise ValueError("mode must be 'mirror', 'constant', 'nearest' 'wrap' or 'interp'.")
    x = array_like(x)
    if x.dtype != np.float64 and x.dtype != np.float32:
        x = x.astype(np.float64)
    coeffs = S.savgol_coeffs(window_length, polyorder, deriv=deriv, delta=delta)
    if mode != "interp":
        return nd.convolve1d(x, coeffs, axis=axis, mode=mode, cval=cval)
    w = window_length
    if w > x.shape[axis]:
        raise ValueError("If mode is 'interp', window_length must be less than or equal to the "
                         "size of x.")
    y = nd.convolve1d(x, coeffs, axis=axis, mode="constant")
    half = w // 2
    xs, ys = np.moveaxis(x, axis, -1), np.moveaxis(y, axis, -1)
    n = xs.shape[-1]
    orig = ORIGINALS["savgol_filter"]
    edges = orig(np.eye(w), w, polyorder, deriv, delta, axis=0, mode="interp").astype(x.dtype)
    left = np.einsum("ij,...j->...i", edges[:half], xs[..., :w])
    right = np.einsum("ij,...j->...i", edges[w - half:], xs[..., n - w:])
    y = np.moveaxis(np.concatenate([left, ys[..., half: n - half], right], axis=-1), -1, axis)
    return value_of(y, orig(strip(x), w, polyorder, deriv, delta, axis, mode, cval))


_route("savgol_filter", savgol_filter)
