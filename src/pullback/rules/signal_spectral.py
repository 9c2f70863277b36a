"""Rules: ``scipy.signal`` spectral analysis (stft, istft, spectrogram, welch, csd, coherence,
periodogram), Fourier-domain tools (hilbert, hilbert2, resample, czt, zoom_fft, CZT/ZoomFFT
objects), frequency responses (freqz, freqz_sos/sosfreqz) and ``ShortTimeFFT`` (its ``stft``,
``spectrogram`` and ``stft_detrend`` through ``stft_detrend``, and ``istft``; every ``fft_mode``,
``phase_shift``, ``padding``, ``p0``/``p1``/``k_offset`` and ``k0``/``k1``).

Each is a *composite*: SciPy's own algorithm written with NumPy and ``scipy.fft`` calls on the
traced arrays, so reverse mode, forward mode and higher orders come from the FFT primitives
(O(N log N) adjoints) and two linear primitives for NumPy arrays, each the other's adjoint:
``_wframes`` cuts the (zero-extended) signal into segments and multiplies them by a constant
window, a strided view read once; ``_wola`` overlap-adds windowed segments
(``ceil(nperseg / step)`` shifted slice-adds, O(N), no scatter), crops and divides by istft's
summed squared window. Both run in blocks of segments whose temporaries stay in cache. So
``stft``'s gradient is an overlap-add and ``istft``'s a framing, each one pass. ``stft`` scales
after the FFT, as SciPy does (its value bit for bit).
The window, when passed as an array, is an argument like any other and differentiates (the
scalings that depend on it included): a traced window, a detrend, or another array type takes
the general path (frames by one integer-array index, window products and shifted sums on the
tape). A window given by name is a constant; a window tuple with a traced parameter
(``("kaiser", beta)``) is ``get_window``'s traced window (``signal_windows``), which takes the
general path. A chirp z-transform differentiates in its ``w`` and ``a`` (SciPy's ``CZT`` computes
its chirp with NumPy arithmetic, which follows them) and a zoom FFT in its band ``fn`` and ``fs``
(``ZoomFFT.__init__`` has a rule: SciPy's ``cmath.exp`` there cannot take a traced number);
``freqz`` in traced frequencies ``worN`` and ``fs``.

The values are SciPy's bit for bit: each function takes SciPy's steps in SciPy's order (``welch``,
``csd``, ``periodogram`` and ``coherence`` those of SciPy 1.17, a ``ShortTimeFFT`` spectrogram;
``stft`` and ``spectrogram`` the legacy segment loop's; ``istft`` its segment-by-segment sum).
Where SciPy detrends frame by frame (or a stack of frames in a layout a copy does not keep), the
detrended frames take the values of SciPy's own calls (``registry.value_of``) and differentiate as
the batched detrend.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.fft as sp_fft
import scipy.signal as S
import scipy.signal._arraytools as _at

from ..core import Tracer, strip
from ..engines import buffers
from ..errors import NoRuleError
from ..intercept import original, route
from .elementwise import horner
from .registry import any_traced, array_like, defcomposite, deflinear, value_of
from .signal_design import _sampling_rate

ORIGINALS: dict[str, object] = {}


def _route(name, handler, owner=S):
    func = getattr(owner, name)
    ORIGINALS[name] = original(func)
    defcomposite(func, handler)
    route(func)
    return func


def _overlap(nperseg, nfft, noverlap, default_nfft):
    """SciPy's checks and defaults for ``nfft`` and ``noverlap``: (nfft, noverlap, step)."""
    if nfft is None:
        nfft = default_nfft
    elif nfft < nperseg:
        raise ValueError("nfft must be greater than or equal to nperseg.")
    else:
        nfft = int(nfft)
    noverlap = nperseg // 2 if noverlap is None else int(noverlap)
    if noverlap >= nperseg:
        raise ValueError("noverlap must be less than nperseg.")
    return nfft, noverlap, nperseg - noverlap


def _window(window, nperseg, input_length, default_len=256, warn=True):
    """SciPy's ``_triage_segments``: a named window is a constant; an array window may be traced."""
    if isinstance(window, (str, tuple)):
        if nperseg is None:
            nperseg = default_len
        if nperseg > input_length:
            if warn:
                warnings.warn(f"nperseg = {nperseg:d} is greater than input length  = {input_length:d}, "
                              f"using nperseg = {input_length:d}", stacklevel=4)
            nperseg = input_length
        return S.get_window(window, nperseg), nperseg
    win = array_like(window)
    if win.ndim != 1:
        raise ValueError("window must be 1-D")
    if input_length < win.shape[-1]:
        raise ValueError("window is longer than input signal")
    if nperseg is None:
        nperseg = win.shape[0]
    elif nperseg != win.shape[0]:
        raise ValueError("value specified for nperseg is different from length of window")
    return win, nperseg


def _frames_gather(x, nperseg, noverlap):
    """The segments of ``x`` along its last axis, ``(..., nseg, nperseg)``, by one integer index
    (any array type; its adjoint is a scatter-add)."""
    if nperseg == 1 and noverlap == 0:
        return x[..., None]
    step = nperseg - noverlap
    starts = np.arange(0, x.shape[-1] - nperseg + 1, step)
    return x[..., starts[:, None] + np.arange(nperseg)]


# ---------------------------------------------------------------- framing and overlap-add
#
# Two linear maps, each the other's adjoint, for NumPy arrays. ``_wframes`` cuts the signal
# ``xp = zero-pad(x / norm, (lo, hi))`` into segments ``y[..., i, k] = window[k] * xp[..., i*step + k]``
# (times ``scale``; a strided view times the window: one pass, no index array); ``_wola`` places
# each segment, times ``scale`` then the window (istft's order), at ``i * step`` and sums
# (``ceil(nperseg / step)`` shifted slice-adds, O(N)), then keeps ``[start:stop]`` (zeros past the
# last segment) and divides by ``norm``. The adjoint of one is the other with the conjugate window
# and scale and the same (real) ``norm``. ``window``, ``norm`` and ``scale`` are constants (plain
# arrays, a number) or None.


def _conj_window(window):
    if window is None or window.dtype.kind != "c":
        return window
    return np.conj(window)


#: Segments (or output rows of one hop) handled per block: the block's temporaries stay in cache.
_BLOCK = 512


def _wframes_raw(x, nperseg, step, lo=0, hi=0, window=None, norm=None, scale=None):
    lead, n = tuple(x.shape[:-1]), x.shape[-1]
    total = lo + n + hi
    nseg = (total - nperseg) // step + 1 if total >= nperseg else 0
    dtype = x.dtype if norm is None else np.result_type(x.dtype, norm.dtype)
    out_dtype = dtype if window is None else np.result_type(dtype, window.dtype)
    if scale is not None:
        out_dtype = np.result_type(out_dtype, scale)
    out = buffers.empty(lead + (nseg, nperseg), out_dtype)
    if not nseg:
        return out
    swv = np.lib.stride_tricks.sliding_window_view
    off = -lo % step  # where on x the segments that lie inside it start
    whole = swv(x[..., off:], nperseg, axis=-1)[..., ::step, :] if n - off >= nperseg else None
    tmp = tmp_segments = None
    for a in range(0, nseg, _BLOCK):
        b = min(a + _BLOCK, nseg)
        p0, p1 = a * step - lo, (b - 1) * step + nperseg - lo  # the block's samples, on x
        if p0 >= 0 and p1 <= n and norm is None:  # (then p0 - off is a multiple of step)
            view = whole[..., (p0 - off) // step:(p0 - off) // step + b - a, :]
        else:  # zeros outside x, x / norm inside, in a small buffer
            if tmp is None:
                tmp = np.empty(lead + ((_BLOCK - 1) * step + nperseg,), dtype)
                tmp_segments = swv(tmp, nperseg, axis=-1)[..., ::step, :]
            src = tmp[..., :p1 - p0]
            i0, i1 = max(p0, 0), min(p1, n)
            src[..., :max(i0 - p0, 0)] = 0
            src[..., max(i1 - p0, 0):] = 0
            if i1 > i0:
                if norm is None:
                    np.copyto(src[..., i0 - p0:i1 - p0], x[..., i0:i1])
                else:
                    np.divide(x[..., i0:i1], norm[..., i0:i1], out=src[..., i0 - p0:i1 - p0])
            view = tmp_segments[..., :b - a, :]
        if window is None:
            np.copyto(out[..., a:b, :], view)
        else:
            np.multiply(view, window, out=out[..., a:b, :])
        if scale is not None:
            np.multiply(out[..., a:b, :], scale, out=out[..., a:b, :])
    return out


def _wola_raw(frames, step, start, stop, window=None, norm=None, scale=None):
    lead = tuple(frames.shape[:-2])
    nseg, nperseg = frames.shape[-2], frames.shape[-1]
    q = -(-nperseg // step)
    product = frames.dtype if scale is None else np.result_type(frames.dtype, scale)  # (segment * scale)
    product = product if window is None else np.result_type(product, window.dtype)  # (... * window)
    dtype = product if norm is None else np.result_type(product, norm.dtype)
    r0, r1 = start // step, max(-(-stop // step), start // step)  # the hop-long rows [start, stop) meets
    out = buffers.empty(lead + ((r1 - r0) * step,), dtype)
    rows = out.reshape(lead + (r1 - r0, step))
    tmp = None
    for j0 in range(r0, r1, _BLOCK):
        j1 = min(j0 + _BLOCK, r1)
        acc = rows[..., j0 - r0:j1 - r0, :]
        first = True
        for r in range(q - 1, -1, -1):  # segment by segment, as SciPy's loop adds (row j: segment j - r)
            ja, jb = max(j0, r), min(j1, nseg + r)
            if jb <= ja:
                continue
            k = r * step
            width = min(step, nperseg - k)
            src = frames[..., ja - r:jb - r, k:k + width]
            dst = acc[..., ja - j0:jb - j0, :width]
            if first:
                first = False
                if ja == j0 and jb == j1 and width == step:  # the first term fills the block
                    if scale is not None:
                        np.multiply(src, scale, out=dst)
                        src = dst
                    if window is not None:
                        np.multiply(src, window[k:k + width], out=dst)
                    elif src is not dst:
                        np.copyto(dst, src)
                    np.add(dst, 0.0, out=dst)  # SciPy's 0 + t: t, but for -0.0
                    continue
                acc[...] = 0
            if window is not None or scale is not None:
                if tmp is None:
                    tmp = np.empty(lead + (_BLOCK, step), product)
                part = tmp[..., :jb - ja, :width]
                if scale is not None:
                    np.multiply(src, scale, out=part)
                    src = part
                if window is not None:
                    np.multiply(src, window[k:k + width], out=part)
                src = part
            np.add(dst, src, out=dst)
        if first:
            acc[...] = 0
        if norm is not None:  # the block's samples inside [start, stop), divided while in cache
            s0, s1 = max(j0 * step, start), min(j1 * step, stop)
            if s1 > s0:
                seg = out[..., s0 - r0 * step:s1 - r0 * step]
                np.divide(seg, norm[..., s0 - start:s1 - start], out=seg)
    return out[..., start - r0 * step:stop - r0 * step]


def _conj_scale(scale):
    return None if scale is None else np.conj(scale)


def wframes_adjoint(g, shape, dtype, nperseg, step, lo=0, hi=0, window=None, norm=None, scale=None):
    """The overlap-add of the windowed segments, cropped back to the signal (and divided by norm)."""
    return _wola(g, step, lo, lo + shape[-1], window=_conj_window(window), norm=norm,
                 scale=_conj_scale(scale))


def wola_adjoint(g, shape, dtype, step, start, stop, window=None, norm=None, scale=None):
    """The windowed segments of the zero-padded cotangent (divided by norm first)."""
    nseg, nperseg = shape[-2], shape[-1]
    covered = nperseg + (nseg - 1) * step  # the samples any segment reaches
    if stop > covered:  # the zeros past the last segment receive nothing
        keep = max(covered - start, 0)
        g = g[..., :keep]
        norm = None if norm is None else norm[..., :keep]
        stop = start + keep
    if stop <= start:
        return np.zeros(shape, dtype=np.result_type(dtype, g.dtype))
    return _wframes(g, nperseg, step, start, covered - stop, window=_conj_window(window), norm=norm,
                    scale=_conj_scale(scale))


_wframes = deflinear(_wframes_raw, wframes_adjoint, name="scipy.signal.<windowed frames>", key=False)
_wola = deflinear(_wola_raw, wola_adjoint, name="scipy.signal.<windowed overlap-add>", key=False)


def _move_raw(x, source, destination):
    return np.moveaxis(x, source, destination)


def move_adjoint(g, shape, dtype, source, destination):
    return _move(g, destination, source)


# ``np.moveaxis`` of a traced array makes a functionalized view (views.py), whose record holds its
# base in a reference cycle: the arrays of a gradient would wait for the garbage collector (and
# their blocks of the buffer cache with them). These functions never write through the arrays
# they transpose, so their transposes are plain linear maps: NumPy views of the raw values.
_move = deflinear(_move_raw, move_adjoint, name="scipy.signal.<moveaxis>", key=False)


def _plain_ndarray(*values) -> bool:
    """Whether every value is a NumPy array under its traces (the framing primitives' domain)."""
    return all(v is None or type(strip(v)) is np.ndarray for v in values)


_EXT = {"even": _at.even_ext, "odd": _at.odd_ext, "constant": _at.const_ext, "zeros": _at.zero_ext,
        None: None}


def _zeros_like_tail(x, n):
    return np.zeros(tuple(x.shape[:-1]) + (n,), dtype=x.dtype)


def _spectral_helper(x, y, fs=1.0, window="hann", nperseg=None, noverlap=None, nfft=None,
                     detrend="constant", return_onesided=True, scaling="density", axis=-1,
                     mode="psd", boundary=None, padded=False):
    """SciPy's legacy ``_spectral_helper`` with NumPy calls on (possibly traced) arrays."""
    if mode not in ("psd", "stft"):
        raise ValueError(f"Unknown value for mode {mode}, must be one of: {{'psd', 'stft'}}")
    if boundary not in _EXT:
        raise ValueError(f"Unknown boundary option '{boundary}', must be one of: {list(_EXT)}")
    same = y is x
    axis = int(axis)
    x = array_like(x)
    if not same:
        y = array_like(y)
        outdtype = np.result_type(x.dtype, y.dtype, np.complex64)
    else:
        outdtype = np.result_type(x.dtype, np.complex64)
    given = (strip(x), None if same else strip(y))  # for SciPy's own detrended segments
    if x.ndim > 1 and axis != -1:
        x = _move(x, axis, -1)
        if not same and y.ndim > 1:
            y = _move(y, axis, -1)
    if not same and x.shape[-1] != y.shape[-1]:
        if x.shape[-1] < y.shape[-1]:
            x = np.concatenate((x, np.zeros(tuple(x.shape[:-1]) + (y.shape[-1] - x.shape[-1],))), -1)
        else:
            y = np.concatenate((y, np.zeros(tuple(y.shape[:-1]) + (x.shape[-1] - y.shape[-1],))), -1)
    if nperseg is not None:
        nperseg = int(nperseg)
        if nperseg < 1:
            raise ValueError("nperseg must be a positive integer")
    win, nperseg = _window(window, nperseg, x.shape[-1])
    nfft, noverlap, nstep = _overlap(nperseg, nfft, noverlap, nperseg)
    # zeros added at either end: folded into the framing primitive for NumPy arrays
    fast = _plain_ndarray(x, None if same else y)
    lo = hi = 0
    if boundary is not None:
        if boundary == "zeros" and fast:
            lo = hi = nperseg // 2
        else:
            x = _EXT[boundary](x, nperseg // 2, axis=-1)
            if not same:
                y = _EXT[boundary](y, nperseg // 2, axis=-1)
    if padded:
        nadd = (-(x.shape[-1] + lo + hi - nperseg) % nstep) % nperseg
        if fast:
            hi += nadd
            # SciPy's padding zeros are float64 (even none of them): single precision is promoted
            x = _promoted(x)
            if not same:
                y = _promoted(y)
        else:
            x = np.concatenate((x, np.zeros(tuple(x.shape[:-1]) + (nadd,))), axis=-1)
            if not same:
                y = np.concatenate((y, np.zeros(tuple(y.shape[:-1]) + (nadd,))), axis=-1)
    length = x.shape[-1] + lo + hi
    detrend_func = _detrend_func(detrend, axis)
    if np.result_type(win.dtype, np.complex64) != outdtype:
        win = win.astype(outdtype)
    if scaling == "density":
        scale = 1.0 / (fs * (win * win).sum())
    elif scaling == "spectrum":
        scale = 1.0 / win.sum() ** 2
    else:
        raise ValueError(f"Unknown scaling: {scaling!r}")
    if mode == "stft":
        scale = np.sqrt(scale)
    complex_in = x.dtype.kind == "c" or (not same and y.dtype.kind == "c")
    if return_onesided and complex_in:
        warnings.warn("Input data is complex, switching to return_onesided=False", stacklevel=4)
    sides = "onesided" if return_onesided and not complex_in else "twosided"
    freqs = sp_fft.fftfreq(nfft, 1 / fs) if sides == "twosided" else sp_fft.rfftfreq(nfft, 1 / fs)
    # the scale after the FFT, as SciPy applies it (folded into the window it saved one pass over
    # the spectra, but SciPy's stft values held only to rounding)
    pad = (lo, hi) if fast else None
    segments = _segments(detrend, axis, nperseg, nstep, boundary, padded)
    result = _fft_helper(x, win, detrend_func, nperseg, noverlap, nfft, sides, pad, segments(given[0]))
    if not same:
        result = np.conjugate(result) * _fft_helper(y, win, detrend_func, nperseg, noverlap, nfft, sides, pad,
                                                    segments(given[1]))
    elif mode == "psd":
        result = np.conjugate(result) * result
    result = result * scale
    if sides == "onesided" and mode == "psd":
        result = result * _onesided_weights(result.shape[-1], nfft)
    time = np.arange(nperseg / 2, length - nperseg / 2 + 1, nperseg - noverlap) / float(fs)
    if boundary is not None:
        time -= (nperseg / 2) / fs
    if result.dtype != outdtype:
        result = result.astype(outdtype)
    if same and mode != "stft":
        result = result.real
    result = _move(result, -1, axis - 1 if axis < 0 else axis)
    return freqs, time, result


def _onesided_weights(nfreq, nfft):
    w = np.full(nfreq, 2.0)
    w[0] = 1.0
    if nfft % 2 == 0:
        w[-1] = 1.0
    return w


def _detrend_func(detrend, axis):
    """The per-segment detrending, or None for none."""
    if not detrend:
        return None
    if not callable(detrend):
        return lambda d: S.detrend(d, type=detrend, axis=-1)
    if axis != -1:
        def detrend_func(d):
            return np.moveaxis(detrend(np.moveaxis(d, -1, axis)), axis, -1)
        return detrend_func
    return detrend


def _promoted(x):
    kind = np.result_type(x.dtype, np.float64)
    return x if x.dtype == kind else x.astype(kind)


def _segments(detrend, axis, nperseg, nstep, boundary, padded):
    """``given -> SciPy's own detrended segments of it`` (None where they need not be computed):
    the batched detrend of a copy of the segments rounds otherwise (a mean over another memory
    layout; a linear fit by one lstsq of other columns). Its own code on the given plain array."""
    if not isinstance(detrend, str):  # none, or a user's function (called once, on traced segments)
        return lambda given: None
    detrend_plain = original(S.detrend)

    def scipy_segments(given):
        if type(given) is not np.ndarray:
            return None
        x = np.moveaxis(given, axis, -1) if given.ndim > 1 else given
        if boundary is not None:
            x = _EXT[boundary](x, nperseg // 2, axis=-1)
        if padded:
            nadd = (-(x.shape[-1] - nperseg) % nstep) % nperseg
            x = np.concatenate((x, np.zeros(list(x.shape[:-1]) + [nadd])), axis=-1)
        if nperseg == 1 and nstep == 1:
            frames = x[..., np.newaxis]
        else:
            frames = np.lib.stride_tricks.sliding_window_view(x, nperseg, axis=-1)[..., 0::nstep, :]
        return detrend_plain(frames, type=detrend, axis=-1)

    return scipy_segments


def _fft_helper(x, win, detrend_func, nperseg, noverlap, nfft, sides, pad=None, exact=None):
    """The transforms of the windowed (detrended) segments. ``pad``: ``(lo, hi)`` zeros to add to
    ``x`` (a NumPy array) around the signal, or None (another array type: already added);
    ``exact``: SciPy's own detrended segments (their values), or None."""
    if pad is None:
        result = _frames_gather(x, nperseg, noverlap)
    else:
        step = nperseg - noverlap
        if detrend_func is None and not isinstance(win, Tracer):
            if sides == "onesided" and win.dtype.kind == "c":
                win = win.real  # (real segments: the real part of SciPy's complex product, exactly)
            return _transform(_wframes(x, nperseg, step, pad[0], pad[1], window=win), nfft, sides)
        result = _wframes(x, nperseg, step, pad[0], pad[1])
    if detrend_func is not None:
        result = detrend_func(result)
        if exact is not None and exact.shape == result.shape and exact.dtype == result.dtype:
            result = value_of(result, exact)
    return _transform(win * result, nfft, sides)


def _transform(segments, nfft, sides):
    if sides == "twosided":
        return sp_fft.fft(segments, n=nfft)
    if segments.dtype.kind == "c":
        segments = segments.real
    return sp_fft.rfft(segments, n=nfft)


# ---------------------------------------------------------------- the public spectral functions


def stft(x, fs=1.0, window="hann_periodic", nperseg=256, noverlap=None, nfft=None, detrend=False,
         return_onesided=True, boundary="zeros", padded=True, axis=-1, scaling="spectrum"):
    if scaling == "psd":
        scaling = "density"
    elif scaling != "spectrum":
        raise ValueError(f"Parameter {scaling=} not in ['spectrum', 'psd']!")
    return _spectral_helper(x, x, fs, window, nperseg, noverlap, nfft, detrend, return_onesided,
                            scaling=scaling, axis=axis, mode="stft", boundary=boundary, padded=padded)


def spectrogram(x, fs=1.0, window=("tukey_periodic", 0.25), nperseg=None, noverlap=None, nfft=None,
                detrend="constant", return_onesided=True, scaling="density", axis=-1, mode="psd"):
    modes = ["psd", "complex", "magnitude", "angle", "phase"]
    if mode not in modes:
        raise ValueError(f"unknown value for mode {mode}, must be one of {modes}")
    x = array_like(x)
    window, nperseg = _window(window, nperseg, x.shape[axis])
    if noverlap is None:
        noverlap = nperseg // 8
    freqs, time, sxx = _spectral_helper(x, x, fs, window, nperseg, noverlap, nfft, detrend,
                                        return_onesided, scaling, axis,
                                        mode="psd" if mode == "psd" else "stft")
    if mode == "magnitude":
        sxx = np.abs(sxx)
    elif mode in ("angle", "phase"):
        sxx = np.angle(sxx)
        if mode == "phase":
            plain = strip(sxx)  # unwrapping adds multiples of 2 pi: constants for the derivative
            sxx = sxx + (np.unwrap(plain, axis=axis - 1 if axis < 0 else axis) - plain)
    return freqs, time, sxx


def _median_bias(n):
    from scipy.signal._spectral_py import _median_bias as bias

    return bias(n)


def csd(x, y, fs=1.0, window="hann_periodic", nperseg=None, noverlap=None, nfft=None, detrend="constant",
        return_onesided=True, scaling="density", axis=-1, average="mean"):
    """SciPy's ``csd`` (behind ``welch``, ``periodogram`` and ``coherence``): a ``ShortTimeFFT``
    cross-spectrogram, doubled one-sided, averaged over the segments; SciPy's steps, its bits."""
    same = y is x
    axis = int(axis)
    x = array_like(x)
    if not same:
        y = array_like(y)
        x_outer, y_outer = list(x.shape), list(y.shape)
        x_outer.pop(axis)
        y_outer.pop(axis)
        try:
            outer_shape = np.broadcast_shapes(x_outer, y_outer)
        except ValueError as e:
            raise ValueError("x and y cannot be broadcast together.") from e
        if x.size == 0 or y.size == 0:
            empty = np.moveaxis(np.empty(outer_shape + (min(x.shape[axis], y.shape[axis]),)), -1, axis)
            return empty, empty
        out_dtype = np.result_type(x.dtype, y.dtype, np.complex64)
    else:
        y = x
        if x.size == 0:
            return np.empty(x.shape), np.empty(x.shape)
        out_dtype = np.result_type(x.dtype, np.complex64)
    n = x.shape[axis] if same else max(x.shape[axis], y.shape[axis])
    if isinstance(window, (str, tuple)):
        nperseg = int(nperseg) if nperseg is not None else 256
        if nperseg < 1:
            raise ValueError(f"Parameter {nperseg=} is not a positive integer!")
        if n < nperseg:
            warnings.warn(f"{nperseg=} is greater than signal length max(len(x), len(y)) = {n}, "
                          f"using nperseg = {n}", stacklevel=3)
            nperseg = n
        win = S.get_window(window, nperseg)
    else:
        win = array_like(window)
        if nperseg is None:
            nperseg = len(win)
    if nperseg != len(win):
        raise ValueError(f"{nperseg=} does not equal {len(win)=}")
    nfft = int(nfft) if nfft is not None else nperseg
    if nfft < nperseg:
        raise ValueError(f"{nfft=} must be greater than or equal to {nperseg=}!")
    noverlap = int(noverlap) if noverlap is not None else nperseg // 2
    if noverlap >= nperseg:
        raise ValueError(f"{noverlap=} must be less than {nperseg=}!")
    if x.dtype.kind == "c" and return_onesided:
        return_onesided = False
    if not same:  # SciPy's zero padding (float64 zeros) of the shorter one
        if x.shape[axis] < y.shape[axis]:
            x = _zero_pad(x, y.shape[axis] - x.shape[axis], axis)
        elif y.shape[axis] < x.shape[axis]:
            y = _zero_pad(y, x.shape[axis] - y.shape[axis], axis)
    if scaling not in (scales := {"spectrum": "magnitude", "density": "psd"}):
        raise ValueError(f"Parameter {scaling=} not in {scales}!")
    # (a traced window differentiates through SciPy's own scaling of it)
    sft = S.ShortTimeFFT(win, nperseg - noverlap, fs, fft_mode="onesided" if return_onesided else "twosided",
                         mfft=nfft, scale_to=scales[scaling], phase_shift=None)
    detr = None if detrend is False else detrend
    opts = dict(p0=0, p1=(n - noverlap) // sft.hop, k_offset=nperseg // 2, axis=axis)
    sy = sft_stft_detrend(sft, y, detr, **opts)  # (csd is X.conj() * Y: SciPy's spectrogram(y, x))
    if same:
        pxy = sy.real ** 2 + sy.imag ** 2
    else:
        sxc = sft_stft_detrend(sft, x, detr, **opts).conj()
        # NumPy computes SciPy's `Sx * Sy.conj()` in the temporary conj() when it may (its "temporary
        # elision": 256 KiB or more, the same shape), operands swapped: other bits for complex numbers.
        # (Spelled out: with a plain `sy`, the product reaches the tracer through __array_ufunc__,
        # where the operator's elision emulation cannot see that the conj() is a temporary.)
        pxy = sxc * sy if sxc.shape == sy.shape and sxc.nbytes >= 256 * 1024 else sy * sxc
    if return_onesided:  # the doubling SciPy's csd applies (not ShortTimeFFT's 'onesided2X')
        f_axis = pxy.ndim - 1 + axis if axis < 0 else axis
        pxy = np.moveaxis(np.moveaxis(pxy, f_axis, -1) * _onesided_weights(pxy.shape[f_axis], sft.mfft),
                          -1, f_axis)
    if pxy.shape[-1] > 1:
        if average == "median":
            bias = _median_bias(pxy.shape[-1])
            if pxy.dtype.kind == "c":
                pxy = np.median(np.real(pxy), axis=-1) + np.median(np.imag(pxy), axis=-1) * 1j
            else:
                pxy = np.median(pxy, axis=-1)
            pxy = pxy / bias
        elif average == "mean":
            pxy = pxy.mean(axis=-1)
        else:
            raise ValueError(f"Parameter {average=} must be 'median' or 'mean'!")
    else:
        pxy = np.reshape(pxy, pxy.shape[:-1])
    pxy = pxy.astype(out_dtype)
    if same:
        pxy = pxy.real
    return sft.f, pxy


def _zero_pad(x, count, axis):
    shape = list(x.shape)
    shape[axis] = count
    return np.concatenate((x, np.zeros(shape)), axis=axis)


def welch(x, fs=1.0, window="hann_periodic", nperseg=None, noverlap=None, nfft=None, detrend="constant",
          return_onesided=True, scaling="density", axis=-1, average="mean"):
    freqs, pxx = csd(x, x, fs=fs, window=window, nperseg=nperseg, noverlap=noverlap, nfft=nfft,
                     detrend=detrend, return_onesided=return_onesided, scaling=scaling, axis=axis,
                     average=average)
    return freqs, pxx.real


def periodogram(x, fs=1.0, window="boxcar", nfft=None, detrend="constant", return_onesided=True,
                scaling="density", axis=-1):
    x = array_like(x)
    if window is None:
        window = "boxcar"
    n = x.shape[axis]
    if nfft is None or nfft == n:
        nperseg = n if nfft is None else nfft
    elif nfft > n:
        nperseg = n
    else:
        s = [slice(None)] * x.ndim
        s[axis] = slice(None, nfft)
        x = x[tuple(s)]
        nperseg = nfft
        nfft = None
    if hasattr(window, "size") and window.size != nperseg:
        raise ValueError("the size of the window must be the same size of the input on the specified axis")
    return welch(x, fs=fs, window=window, nperseg=nperseg, noverlap=0, nfft=nfft, detrend=detrend,
                 return_onesided=return_onesided, scaling=scaling, axis=axis)


def coherence(x, y, fs=1.0, window="hann_periodic", nperseg=None, noverlap=None, nfft=None,
              detrend="constant", axis=-1):
    opts = dict(fs=fs, window=window, nperseg=nperseg, noverlap=noverlap, nfft=nfft, detrend=detrend,
                axis=axis)
    freqs, pxx = welch(x, **opts)
    _, pyy = welch(y, **opts)
    _, pxy = csd(x, y, **opts)
    return freqs, np.abs(pxy) ** 2 / pxx / pyy


def _overlap_add(frames, nstep):
    """``Σ_i frames[..., i, :]`` placed at ``i * nstep``: ``ceil(nperseg / nstep)`` shifted sums."""
    nseg, nperseg = frames.shape[-2], frames.shape[-1]
    q = -(-nperseg // nstep)
    lead = [(0, 0)] * (frames.ndim - 2)
    blocks = np.pad(frames, lead + [(0, 0), (0, q * nstep - nperseg)])
    blocks = np.reshape(blocks, tuple(frames.shape[:-2]) + (nseg, q, nstep))
    total = None
    for r in range(q - 1, -1, -1):  # segment by segment, as SciPy's loop adds (row j: segment j - r)
        part = np.pad(blocks[..., r, :], lead + [(r, q - 1 - r), (0, 0)])
        total = part + 0.0 if total is None else total + part  # (SciPy's sum starts at +0.0)
    out = np.reshape(total, tuple(frames.shape[:-2]) + ((nseg + q - 1) * nstep,))
    return out[..., : nperseg + (nseg - 1) * nstep]


def _nola_warning(boundary):
    warnings.warn("NOLA condition failed, STFT may not be invertible."
                  + (" Possibly due to missing boundary" if not boundary else ""), stacklevel=3)


_NORMS: dict = {}


def clear_caches() -> int:
    """Drop istft's kept divisor (``pb.release_memory`` calls this); returns its bytes."""
    freed = sum(norm.nbytes for norm, _ in _NORMS.values())
    _NORMS.clear()
    return freed


def _istft_norm(win, nseg, nstep, start, stop):
    """istft's divisor for a constant window: the overlap-added squared window on ``[start, stop)``,
    1 where it is tiny, read-only; and whether it is nowhere tiny (NOLA). The last one is kept:
    a loop of istft calls (a gradient's) computes it once."""
    key = (win.dtype.str, win.tobytes(), nseg, nstep, start, stop)
    hit = _NORMS.get(key)
    if hit is not None:
        return hit
    norm = _wola_raw(np.broadcast_to(win ** 2, (nseg, win.shape[0])), nstep, start, stop)
    fine = norm > 1e-10
    nola = bool(np.all(fine))
    norm = np.where(fine, norm, 1.0)
    norm.flags.writeable = False
    _NORMS.clear()
    _NORMS[key] = (norm, nola)
    return norm, nola


def istft(Zxx, fs=1.0, window="hann_periodic", nperseg=None, noverlap=None, nfft=None, input_onesided=True,
          boundary=True, time_axis=-1, freq_axis=-2, scaling="spectrum"):
    Zxx = array_like(Zxx)
    if Zxx.dtype.kind != "c":
        Zxx = Zxx + 0j
    freq_axis, time_axis = int(freq_axis), int(time_axis)
    if Zxx.ndim < 2:
        raise ValueError("Input stft must be at least 2d!")
    if freq_axis == time_axis:
        raise ValueError("Must specify differing time and frequency axes!")
    nseg = Zxx.shape[time_axis]
    n_default = 2 * (Zxx.shape[freq_axis] - 1) if input_onesided else Zxx.shape[freq_axis]
    if nperseg is None:
        nperseg = n_default
    else:
        nperseg = int(nperseg)
        if nperseg < 1:
            raise ValueError("nperseg must be a positive integer")
    default = nperseg if input_onesided and nperseg == n_default + 1 else n_default
    nfft, noverlap, nstep = _overlap(nperseg, nfft, noverlap, default)
    if time_axis != Zxx.ndim - 1 or freq_axis != Zxx.ndim - 2:
        freq_axis %= Zxx.ndim
        time_axis %= Zxx.ndim
        Zxx = _move(Zxx, [freq_axis, time_axis], [-2, -1])
    if isinstance(window, (str, tuple)):
        win = S.get_window(window, nperseg)
    else:
        win = array_like(window)
        if win.ndim != 1:
            raise ValueError("window must be 1-D")
        if win.shape[0] != nperseg:
            raise ValueError(f"window must have length of {nperseg}")
    ifunc = sp_fft.irfft if input_onesided else sp_fft.ifft
    # SciPy transforms along the frequency axis; the same 1-D transforms, written segment by
    # segment (..., nseg, nperseg), leave each segment contiguous for the overlap-add
    xsubs = ifunc(_move(Zxx, -1, -2), axis=-1, n=nfft)
    if nfft != nperseg:
        xsubs = xsubs[..., :nperseg]
    if np.result_type(win.dtype, xsubs.dtype) != xsubs.dtype:
        win = win.astype(xsubs.dtype)
    if scaling == "spectrum":
        factor = win.sum()
    elif scaling == "psd":  # (SciPy's Python sum: one term after the other)
        factor = np.sqrt(fs * np.cumsum(win ** 2)[-1])
    else:
        raise ValueError(f"Parameter {scaling=} not in ['spectrum', 'psd']!")

    length = nperseg + (nseg - 1) * nstep
    start, stop = slice(nperseg // 2, -(nperseg // 2)).indices(length)[:2] if boundary else (0, length)
    stop = max(start, stop)
    if not isinstance(win, Tracer) and _plain_ndarray(xsubs):
        # a constant window: the scale folded into it, the overlap-add, the crop and the division by
        # the summed squared window in one linear primitive
        norm, nola = _istft_norm(win, nseg, nstep, start, stop)
        if not nola:
            _nola_warning(boundary)
        # (SciPy scales the segments, then windows them)
        x = _wola(xsubs, nstep, start, stop, window=win, norm=norm, scale=factor)
    else:
        frames = xsubs * factor * win  # (..., nseg, nperseg)
        x = _overlap_add(frames, nstep)[..., start:stop]
        norm = _overlap_add(np.broadcast_to(win ** 2, (nseg, nperseg)), nstep)[..., start:stop]
        plain_norm = strip(norm)
        if np.sum(plain_norm > 1e-10) != plain_norm.shape[0]:
            _nola_warning(boundary)
        x = x / np.where(plain_norm > 1e-10, norm, 1.0)
    if input_onesided and x.dtype.kind == "c":
        x = x.real
    if x.ndim > 1 and time_axis != Zxx.ndim - 1:
        if freq_axis < time_axis:
            time_axis -= 1
        x = _move(x, -1, time_axis)
    time = np.arange(x.shape[0], dtype=np.float64)  # SciPy's arange(n) / fs: the same values, one pass
    if float(fs) != 1.0:
        time /= float(fs)
    return time, x


for _f in (stft, istft, spectrogram, welch, csd, coherence, periodogram):
    _route(_f.__name__, _f)


# ---------------------------------------------------------------- analytic signals, resampling


def hilbert(x, N=None, axis=-1):
    x = array_like(x)
    if x.dtype.kind == "c":
        raise ValueError("x must be real.")
    if N is None:
        N = x.shape[axis]
    if N <= 0:
        raise ValueError("N must be positive.")
    xf = sp_fft.fft(x, N, axis=axis)
    h = np.zeros(N, dtype=xf.real.dtype)
    if N % 2 == 0:
        h[0] = h[N // 2] = 1
        h[1:N // 2] = 2
    else:
        h[0] = 1
        h[1:(N + 1) // 2] = 2
    if x.ndim > 1:
        ind = [np.newaxis] * x.ndim
        ind[axis] = slice(None)
        h = h[tuple(ind)]
    return sp_fft.ifft(xf * h, axis=axis)


def hilbert2(x, N=None, axes=(-2, -1)):
    x = array_like(x)
    if x.ndim < 2:
        raise ValueError("x must be at least 2-D.")
    if x.dtype.kind == "c":
        raise ValueError("x must be real.")
    axes = tuple(a % x.ndim for a in axes)
    if N is None:
        N = tuple(x.shape[a] for a in axes)
    elif isinstance(N, int):
        if N <= 0:
            raise ValueError("N must be positive.")
        N = (N, N)
    xf = sp_fft.fft2(x, N, axes=axes)
    h = None
    for p, n in enumerate(N):
        hn = np.zeros(n, dtype=xf.real.dtype)  # SciPy's hilbert2 zeroes an even length's Nyquist bin
        hn[0] = 1
        hn[1:(n + 1) // 2] = 2
        shape = [1] * x.ndim
        shape[axes[p]] = n
        hn = np.reshape(hn, shape)
        h = hn if h is None else h * hn
    return sp_fft.ifft2(xf * h, axes=axes)


for _f in (hilbert, hilbert2):
    _route(_f.__name__, _f)


def _unsupported(name, option):
    return NoRuleError(f"scipy.signal.{name} with {option}")


def resample(x, num, t=None, axis=0, window=None, domain="time"):
    """SciPy's Fourier resampling with NumPy calls: ``x`` and an array ``window`` differentiate."""
    if domain not in ("time", "freq"):
        raise ValueError(f"Parameter {domain=} not in ('time', 'freq')!")
    x = array_like(x)
    if x.ndim > 1:
        x = np.moveaxis(x, axis, -1)
    n_x = x.shape[-1]
    s_fac = n_x / num
    m = min(num, n_x)
    m2 = m // 2 + 1
    if window is None:
        w = None
    elif callable(window):
        w = window(sp_fft.fftfreq(n_x))
    elif hasattr(window, "shape"):
        if window.shape != (n_x,):
            raise ValueError(f"{window.shape=} != ({n_x},), i.e., window length is not equal to number "
                             "of frequency bins!")
        w = window
    else:
        w = sp_fft.fftshift(S.get_window(window, n_x)).astype(np.float64)
    if domain == "time" and x.dtype.kind != "c":
        X = sp_fft.rfft(x)
        if w is not None:
            n_X = X.shape[-1]
            folded = (w[1:n_X] + np.flip(w[-n_X + 1:])) / 2
            # SciPy's ``X *= W``: in X's dtype (a float64 window leaves complex64 X complex64)
            X = (X * np.concatenate([w[:1], folded])).astype(X.dtype)
        X = X[..., :m2]
        if m % 2 == 0 and num != n_x:
            weights = np.ones(m2, dtype=X.real.dtype)  # SciPy's in-place ``*=``: X's dtype
            weights[m // 2] = 2 if num < n_x else 0.5
            X = X * weights
        x_r = sp_fft.irfft(X / s_fac, n=num)
    else:
        X = sp_fft.fft(x) if domain == "time" else x
        if w is not None:
            X = X * w
        lead = tuple(X.shape[:-1])
        tail = X[..., m2 - m:] if m2 < m else X[..., :0]
        middle = np.zeros(lead + (num - m2 - tail.shape[-1],), dtype=X.dtype)
        Y = np.concatenate([X[..., :m2], middle, tail], axis=-1)
        if m % 2 == 0 and num != n_x:
            if num < n_x:  # the unpaired bin collects both halves
                onehot = np.zeros(num, dtype=X.real.dtype)  # SciPy's in-place ``+=``: Y's dtype
                onehot[num - m // 2] = 1
                Y = Y + onehot * X[..., n_x - m // 2: n_x - m // 2 + 1]
            else:  # the unpaired bin splits into a pair
                half = np.ones(num, dtype=X.real.dtype)
                half[m // 2] = 0.5
                onehot = np.zeros(num, dtype=X.real.dtype)
                onehot[num - m // 2] = 0.5
                Y = Y * half + onehot * X[..., m // 2: m // 2 + 1]
        x_r = sp_fft.ifft(Y / s_fac, n=num)
    if x_r.ndim > 1:
        x_r = np.moveaxis(x_r, -1, axis)
    if t is not None:
        return x_r, t[0] + (t[1] - t[0]) * s_fac * np.arange(num)
    return x_r


_route("resample", resample)


# ---------------------------------------------------------------- chirp z-transforms


def czt_call(self, x, *, axis=-1):
    """``CZT.__call__`` (and ``ZoomFFT``'s): Bluestein's algorithm, two FFTs of the object's length."""
    x = array_like(x)
    if x.shape[axis] != self.n:
        raise ValueError(f"CZT defined for length {self.n}, not {x.shape[axis]}")
    trnsp = np.arange(x.ndim)
    trnsp[[axis, -1]] = [-1, axis]
    x = np.transpose(x, trnsp)
    y = sp_fft.ifft(self._Fwk2 * sp_fft.fft(x * self._Awk2, self._nfft))
    y = y[..., self._yidx] * self._wk2
    return np.transpose(y, trnsp)


def czt(x, m=None, w=None, a=1 + 0j, *, axis=-1):
    x = array_like(x)
    return S.CZT(x.shape[axis], m=m, w=w, a=a)(x, axis=axis)


def zoom_fft(x, fn, m=None, *, fs=2, endpoint=False, axis=-1):
    x = array_like(x)
    return S.ZoomFFT(x.shape[axis], fn, m=m, fs=fs, endpoint=endpoint)(x, axis=axis)


def zoom_fft_init(self, n, fn, m=None, *, fs=2, endpoint=False):
    """``ZoomFFT.__init__`` with a traced band ``fn`` or ``fs``: SciPy's chirp (``w``, ``a`` and the
    Bluestein kernels) from NumPy calls, each attribute valued by SciPy's own (its ``cmath.exp``)."""
    from scipy.signal._czt import _validate_sizes

    plain = S.ZoomFFT.__new__(S.ZoomFFT)  # SciPy's own object: its checks, its values
    ORIGINALS["ZoomFFT.__init__"](plain, n, _plain_band(fn), m, fs=strip(fs), endpoint=endpoint)
    m = _validate_sizes(n, m)
    k = np.arange(max(m, n), dtype=np.min_scalar_type(-max(m, n) ** 2))
    if np.size(_plain_band(fn)) == 2:
        f1, f2 = fn
    else:
        f1, f2 = 0.0, fn
    scale = ((f2 - f1) * m) / (fs * (m - 1)) if endpoint else (f2 - f1) / fs
    wk2 = np.exp(-(1j * np.pi * scale * k ** 2) / m)
    self.f1, self.f2, self.fs = f1, f2, fs
    self.w = value_of(np.exp(-2j * np.pi / m * scale), np.asarray(plain.w))[()]
    self.a = value_of(np.exp(2j * np.pi * f1 / fs), np.asarray(plain.a))[()]
    self.m, self.n = m, n
    self._Awk2 = value_of(np.exp(-2j * np.pi * f1 / fs * k[:n]) * wk2[:n], plain._Awk2)
    self._nfft = plain._nfft
    self._Fwk2 = value_of(sp_fft.fft(1 / np.concatenate((wk2[n - 1:0:-1], wk2[:m])), self._nfft), plain._Fwk2)
    self._wk2 = value_of(wk2[:m], plain._wk2)
    self._yidx = plain._yidx


def _plain_band(fn):
    """``fn`` without its traces (a list or tuple of numbers stays one)."""
    if type(fn) in (list, tuple):
        return type(fn)(strip(v) for v in fn)
    return strip(fn)


ORIGINALS["CZT.__call__"] = original(S.CZT.__call__)
defcomposite(S.CZT.__call__, czt_call)
route(S.CZT.__call__)
route(S.ZoomFFT.__init__)
ORIGINALS["ZoomFFT.__init__"] = original(S.ZoomFFT.__init__)
defcomposite(S.ZoomFFT.__init__, zoom_fft_init)
for _f in (czt, zoom_fft):
    _route(_f.__name__, _f)


# ---------------------------------------------------------------- frequency responses


def _frequencies(worN, dtype):
    """``worN`` as an array of ``dtype`` (SciPy's ``asarray(worN, dtype=...)``): a traced array, or
    a list of traced numbers stacked."""
    if type(worN) in (list, tuple) and any_traced(worN):
        worN = np.stack([array_like(v) for v in worN])
    if isinstance(worN, Tracer):
        return worN if worN.dtype == dtype else worN.astype(dtype)
    return np.asarray(worN, dtype=dtype)


def freqz(b, a=1, worN=512, whole=False, plot=None, fs=2 * np.pi, include_nyquist=False):
    """SciPy's ``freqz``: an FFT of the padded numerator (FIR case) or Horner's rule at each frequency
    (``B(e^{-iw}) / A(e^{-iw})``, in ``b``, ``a``, traced frequencies ``worN`` and ``fs``)."""
    import operator

    b, a = array_like(b), array_like(a)
    if a.dtype.kind in "iub":
        a = a.astype(np.float64)
    res_dtype = np.result_type(b.dtype, a.dtype)
    real_dtype = np.finfo(res_dtype).dtype if res_dtype.kind in "fc" else np.dtype(np.float64)
    b = np.atleast_1d(b)
    a = np.atleast_1d(a)
    fs = _sampling_rate(fs, default=None)  # (None: SciPy's error)
    if worN is None:
        worN = 512
    h = None
    if isinstance(worN, (int, np.integer)) and not isinstance(worN, bool):
        N = operator.index(worN)
        if N < 0:
            raise ValueError(f"worN must be nonnegative, got {N}")
        lastpoint = 2 * np.pi if whole else np.pi
        w = np.linspace(0, lastpoint, N, endpoint=include_nyquist and not whole, dtype=real_dtype)
        n_fft = N if whole else 2 * (N - 1) if include_nyquist else 2 * N
        if a.shape[0] == 1 and (b.ndim == 1 or b.shape[-1] == 1) and n_fft >= b.shape[0] and n_fft > 0:
            real = b.dtype.kind == "f" and a.dtype.kind == "f"
            fft_func = sp_fft.rfft if real else sp_fft.fft
            h = fft_func(b, n=n_fft, axis=0)
            h = h[: min(N, h.shape[0]), ...]
            quotient = h / a  # SciPy divides in place: the quotient in h's own dtype
            h = quotient if quotient.dtype == h.dtype else quotient.astype(h.dtype)
            if real and whole:
                stop = None if n_fft % 2 == 1 else -1
                h = np.concatenate((h, np.conj(np.flip(h[1:stop, ...], axis=0))))
            if b.ndim > 1:
                h = np.moveaxis(h[..., 0], 0, -1)
    else:
        if isinstance(worN, complex):
            worN = worN.real
        w = np.atleast_1d(_frequencies(worN, res_dtype))  # (traced frequencies differentiate)
        if w.dtype.kind in "iu":
            w = w.astype(np.float64)
        w = 2 * np.pi * w / fs
    if h is None:
        zm1 = np.exp(-1j * w)
        h = horner(b, zm1) / horner(a, zm1)
    w = w * (fs / (2 * np.pi))
    if plot is not None:
        plot(w, strip(h))
    return w, h


def freqz_sos(sos, worN=512, whole=False, fs=2 * np.pi):
    sos = array_like(sos)
    if sos.ndim != 2 or sos.shape[1] != 6:
        raise ValueError("sos array must be 2D")
    if sos.shape[0] == 0:
        raise ValueError("Cannot compute frequencies with no sections")
    h = 1.0
    for j in range(sos.shape[0]):
        w, rowh = freqz(sos[j, :3], sos[j, 3:], worN=worN, whole=whole, fs=fs)
        h = h * rowh
    return w, h


def sosfreqz(*args, **kwargs):
    return freqz_sos(*args, **kwargs)


for _f in (freqz, freqz_sos, sosfreqz):
    if hasattr(S, _f.__name__):
        _route(_f.__name__, _f)


# ---------------------------------------------------------------- ShortTimeFFT (stft, spectrogram, istft)


def sft_stft_detrend(self, x, detr, p0=None, p1=None, *, k_offset=0, padding="zeros", axis=-1):
    """``ShortTimeFFT.stft_detrend`` (behind ``stft`` and ``spectrogram``): SciPy's slices of the
    padded signal, each windowed and transformed, stacked rather than written into a buffer."""
    from functools import partial

    x = array_like(x)
    if self.onesided_fft and x.dtype.kind == "c":
        raise ValueError(f"Complex-valued `x` not allowed for {self.fft_mode=}'! "
                         "Set property `fft_mode` to 'twosided' or 'centered'.")
    kind = detr if isinstance(detr, str) else None  # SciPy's own detrend, by its type name
    if kind is not None:
        detr = partial(S.detrend, type=detr)
    elif not (detr is None or callable(detr)):
        raise ValueError(f"Parameter {detr=} is not a str, function or None!")
    n = x.shape[axis]
    m2p = self.m_num - self.m_num_mid
    if not n >= m2p:
        raise ValueError(f"x along {axis=} must be >= ceil(m_num/2) = {m2p}!")
    if x.ndim > 1:
        x = np.moveaxis(x, axis, -1)
    p0, p1 = self.p_range(n, p0, p1)
    # every frame at once (one gather, one batched FFT: the same arithmetic per frame as SciPy's
    # loop, the same bits), unless a user's detrending function must see each frame as SciPy's
    # loop passes it
    batched = detr is None or kind is not None
    frames = None
    if batched:
        x1, starts = _sft_padded(self, x, k_offset, p0, p1, padding)
        if len(starts):  # the module's framing: a strided copy (adjoint: the overlap-add), or an index
            m = self.m_num
            x1 = x1[..., :starts[-1] + m]
            frames = _wframes(x1, m, self.hop) if _plain_ndarray(x1) else _frames_gather(x1, m, m - self.hop)
    if frames is not None:  # (the same arithmetic per frame as SciPy's loop: the same bits)
        if detr is not None:
            plain = strip(x)
            exact = None
            if type(plain) is np.ndarray and not (x.ndim == 1 and kind in ("constant", "c")):
                # SciPy's detrend of a stack of frames rounds otherwise (a linear fit by one lstsq
                # of many columns; a mean over another memory layout): the values of its own loop
                exact = _sft_detrended(self, plain, kind, k_offset, p0, p1, padding)
            frames = detr(frames)
            if exact is not None:
                frames = value_of(frames, exact)
        lead = frames.shape[:-1]  # SciPy's _fft_func pads with np.hstack: a 2-d stack of frames
        spectra = self._fft_func(np.reshape(frames * self.win.conj(), (-1, self.m_num)))
        # (SciPy's result is a C-ordered buffer: its layout decides the rounding of later sums)
        out = np.moveaxis(np.reshape(spectra, lead + spectra.shape[-1:]), -1, -2).astype(complex, order="C")
    else:  # a user's detrending function, called frame by frame as SciPy calls it
        columns = []
        for x_ in _sft_slices(self, x, k_offset, p0, p1, padding):
            if detr is not None:
                x_ = detr(x_)
            columns.append(self._fft_func(x_ * self.win.conj()))
        out = np.stack(columns, axis=-1).astype(complex)
    if x.ndim > 1:
        return np.moveaxis(out, -2, axis if axis >= 0 else axis - 1)
    return out


def _sft_detrended(self, x, kind, k_off, p0, p1, padding):
    """The detrended frames of SciPy's ``stft_detrend`` loop, ``(..., p1 - p0, m_num)``: its slices
    of its padded signal (a plain array), each detrended by its own call."""
    detrend = original(S.detrend)
    frames = [detrend(x_, type=kind) for x_ in self._x_slices(x, k_off, p0, p1, padding)]
    return np.stack(frames, axis=-2)


def _sft_slices(self, x, k_off, p0, p1, padding):
    """``ShortTimeFFT._x_slices``; an odd reflection is ``2 * edge - even reflection``."""
    x1, starts = _sft_padded(self, x, k_off, p0, p1, padding)
    for k_ in starts:
        yield x1[..., k_:k_ + self.m_num]


def _sft_padded(self, x, k_off, p0, p1, padding):
    """The padded signal ``ShortTimeFFT._x_slices`` cuts, and where its slices start."""
    if padding not in ("zeros", "edge", "even", "odd"):
        raise ValueError(f"Parameter {padding=} not in ('zeros', 'edge', 'even', 'odd')!")
    n, n1 = x.shape[-1], (p1 - p0) * self.hop
    k0 = p0 * self.hop - self.m_num_mid + k_off
    k1 = k0 + n1 + self.m_num
    i0, i1 = max(k0, 0), min(k1, n)
    widths = [(0, 0)] * (x.ndim - 1) + [(-min(k0, 0), max(k1 - n, 0))]
    part = x[..., i0:i1]
    if padding == "zeros":
        x1 = np.pad(part, widths)
    elif padding == "edge":
        x1 = np.pad(part, widths, mode="edge")
    elif padding == "even":
        x1 = np.pad(part, widths, mode="reflect")
    else:
        x1 = 2 * np.pad(part, widths, mode="edge") - np.pad(part, widths, mode="reflect")
    return x1, np.arange(0, n1, self.hop)


def sft_istft(self, S_, k0=0, k1=None, *, f_axis=-2, t_axis=-1):
    """``ShortTimeFFT.istft``: the frames' inverse transforms times the dual window, overlap-added
    (shifted sums) instead of accumulated segment by segment."""
    S_ = array_like(S_)
    if f_axis == t_axis:
        raise ValueError(f"{f_axis=} may not be equal to {t_axis=}!")
    if S_.shape[f_axis] != self.f_pts:
        raise ValueError(f"{S_.shape[f_axis]=} must be equal to {self.f_pts=} ({S_.shape=})!")
    n_min = self.m_num - self.m_num_mid
    if not S_.shape[t_axis] >= (q_num := self.p_num(n_min)):
        raise ValueError(f"{S_.shape[t_axis]=} needs to have at least {q_num} slices ({S_.shape=})!")
    if t_axis != S_.ndim - 1 or f_axis != S_.ndim - 2:
        t_axis = S_.ndim + t_axis if t_axis < 0 else t_axis
        f_axis = S_.ndim + f_axis if f_axis < 0 else f_axis
        S_ = np.moveaxis(S_, (f_axis, t_axis), (-2, -1))
    q_max = S_.shape[-1] + self.p_min
    k_max = (q_max - 1) * self.hop + self.m_num - self.m_num_mid
    k1 = k_max if k1 is None else k1
    if not self.k_min <= k0 < k1 <= k_max:
        raise ValueError(f"({self.k_min=}) <= ({k0=}) < ({k1=}) <= ({k_max=}) is false!")
    if not (num_pts := k1 - k0) >= n_min:
        raise ValueError(f"({k1=}) - ({k0=}) = {num_pts} has to be at least the half the window "
                         f"length {n_min}!")
    q0 = k0 // self.hop + self.p_min if k0 >= 0 else k0 // self.hop
    q1 = min(self.p_max(k1), q_max)
    k_q0, k_q1 = self.nearest_k_p(k0), self.nearest_k_p(k1, left=False)
    n_pts = k_q1 - k_q0 + self.m_num - self.m_num_mid
    columns = np.arange(q0, q1) - self.p_min  # SciPy's S[..., q - p_min]: negative ones wrap around
    frames = self._ifft_func(np.swapaxes(S_[..., columns], -1, -2))
    frames = frames * self.dual_win
    x = _overlap_add(frames, self.hop)
    start = q0 * self.hop - self.m_num_mid - k0  # where the first frame begins on x
    if start < 0:
        x = x[..., -start:]
    elif start > 0:
        x = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(start, 0)])
    length = min(n_pts, k1 - k0)
    if x.shape[-1] < length:
        x = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, length - x.shape[-1])])
    x = x[..., :length]
    if self.onesided_fft:
        x = x.real
    if x.ndim > 1:
        x = np.moveaxis(x, -1, f_axis if f_axis < x.ndim else t_axis)
    return x


for _name, _f in (("stft_detrend", sft_stft_detrend), ("istft", sft_istft)):
    _method = getattr(S.ShortTimeFFT, _name)
    ORIGINALS[f"ShortTimeFFT.{_name}"] = original(_method)
    defcomposite(_method, _f)
    route(_method)
