"""Rules: ``scipy.signal`` filter design with traced parameters (``firwin``, ``firwin2``,
``normalize``, ``lp2lp``, ``lp2hp``, ``lp2bp``, ``lp2bs``, ``bilinear``).

Each is a *composite*: SciPy's own formula written with NumPy calls on the traced values, valued
by SciPy's own result (``registry.library_values``: bit for bit, its dtype), so reverse mode,
forward mode and higher orders come from the steps' rules. SciPy's checks run on the plain
values; the choices they make (which band is scaled, which samples taper, which leading
coefficients are zero) are piecewise constant.

- ``firwin``: the windowed sum over the pass bands of ``right sinc(right m) - left sinc(left m)``
  (``m``: the taps' offsets from the centre), divided by its response at the first band's
  centre when ``scale``. ``cutoff``, ``fs``, ``width`` (Kaiser's ``beta`` by SciPy's
  ``kaiser_atten`` and ``kaiser_beta``) and a traced window parameter all differentiate.
- ``firwin2``: the gains interpolated (``np.interp``, in ``freq`` and ``gain``) on SciPy's uniform
  mesh, phase-shifted, an ``irfft``, the first ``numtaps`` samples windowed. Repeated
  frequencies are moved apart by SciPy's ``eps`` (a constant shift).
- ``normalize``: leading zeros of the denominator dropped, both divided by its first coefficient.
- ``lp2lp`` and ``lp2hp``: the coefficients scaled by powers of ``wo`` (all of ``b``, ``a`` and
  ``wo`` differentiate), then ``normalize``; ``lp2bp`` and ``lp2bs``: SciPy's sums of binomial
  terms in ``wo`` and ``bw``; ``bilinear``: the polynomials in ``(z + 1) / sqrt(2 fs)`` and
  ``(z - 1) sqrt(2 fs)`` by convolutions (``b``, ``a`` and ``fs``).
"""

from __future__ import annotations

import warnings
from math import ceil, log

import numpy as np
import scipy.fft as sp_fft
import scipy.signal as S
import scipy.special as special
from scipy.signal._arraytools import _validate_fs

from ..core import Tracer, strip
from ..intercept import original, route
from .registry import any_traced, array_like, defcomposite, library_values, value_of

ORIGINALS: dict[str, object] = {}


def _route(func, rule):
    """Register ``rule`` (valued by SciPy's own result) for ``func`` and intercept it."""
    route(func)
    ORIGINALS[func.__name__] = original(func)  # (the copy running SciPy's code, once intercepted)
    defcomposite(func, library_values(ORIGINALS[func.__name__])(rule))


def _array(v, dtype=None):
    """``v`` as an array (a list or tuple of traced numbers stacked), cast to ``dtype`` if given."""
    if type(v) in (list, tuple) and any_traced(v):
        v = np.stack([array_like(e) for e in v])
    v = array_like(v)
    return v if dtype is None or v.dtype == dtype else v.astype(dtype)


def _number(v):
    """A traced number as it is, a plain one as SciPy's ``float(v)``."""
    return v if isinstance(v, Tracer) else float(v)


def _sampling_rate(fs, default=2):
    """SciPy's ``_validate_fs`` (a traced scalar kept); ``default`` for None (None: SciPy's error)."""
    if fs is None:
        return _validate_fs(fs, allow_none=False) if default is None else default
    if isinstance(fs, Tracer):
        if fs.ndim != 0:
            raise ValueError("Sampling frequency fs must be a single scalar.")
        return fs
    return _validate_fs(fs, allow_none=True)


# ---------------------------------------------------------------- firwin


def _pass_zero(pass_zero, size):
    """SciPy's ``pass_zero`` as a flag, with its checks of the number of cutoffs."""
    if pass_zero in ("lowpass", "highpass") and size != 1:
        raise ValueError(f'cutoff must have one element if pass_zero=="{pass_zero}", got {(size,)}')
    if pass_zero in ("bandstop", "bandpass") and size <= 1:
        raise ValueError(f'cutoff must have at least two elements if pass_zero=="{pass_zero}", '
                         f"got {(size,)}")
    if pass_zero in ("bandstop", "lowpass"):
        return True
    if pass_zero in ("bandpass", "highpass"):
        return False
    if pass_zero is True or pass_zero is False:
        return pass_zero
    raise ValueError(f"Parameter {pass_zero=} not in (True, False, 'bandpass', 'lowpass', 'highpass', "
                     "'bandstop')")


def _check_cutoff(c):
    """SciPy's checks of the normalised cutoffs (plain values)."""
    if c.ndim > 1:
        raise ValueError("The cutoff argument must be at most one-dimensional.")
    if c.size == 0:
        raise ValueError("At least one cutoff frequency must be given.")
    if c.min() <= 0 or c.max() >= 1:
        raise ValueError("Invalid cutoff frequency: frequencies must be greater than 0 and less than fs/2.")
    if np.any(c[1:] - c[:-1] <= 0):
        raise ValueError("Invalid cutoff frequencies: the frequencies must be strictly increasing.")


def firwin(numtaps, cutoff, *, width=None, window="hamming", pass_zero=True, scale=True, fs=None):
    """SciPy's window method: the windowed sum of the pass bands' sincs, scaled (module
    docstring)."""
    nyq = 0.5 * _sampling_rate(fs)
    cutoff = np.atleast_1d(_array(cutoff, np.float64)) / _number(nyq)
    _check_cutoff(strip(cutoff))
    if width is not None:  # a Kaiser window of the width's attenuation (overrides `window`)
        window = ("kaiser", S.kaiser_beta(S.kaiser_atten(numtaps, _number(width) / nyq)))
    pass_zero = _pass_zero(pass_zero, cutoff.size)
    pass_nyquist = (cutoff.size % 2 == 0) == pass_zero
    if pass_nyquist and numtaps % 2 == 0:
        raise ValueError("A filter with an even number of coefficients must have zero response at the "
                         "Nyquist frequency.")
    edges = np.concatenate((np.zeros(int(pass_zero)), cutoff, np.ones(int(pass_nyquist))))
    bands = np.reshape(edges, (-1, 2))
    m = np.arange(0, numtaps, dtype=edges.dtype) - 0.5 * (numtaps - 1)
    h = 0
    for j in range(bands.shape[0]):
        left, right = bands[j, 0], bands[j, 1]
        h = h + right * np.sinc(right * m)
        h = h - left * np.sinc(left * m)
    h = h * S.get_window(window, numtaps, fftbins=False)
    if scale:
        h = h / np.sum(h * np.cos(np.pi * m * _scale_frequency(bands[0, 0], bands[0, 1])))
    return h


def _scale_frequency(left, right):
    """Where SciPy scales the response to 1: 0 for a low-pass first band, 1 (Nyquist) for a band
    that reaches it, the band's centre otherwise."""
    if strip(left) == 0:
        return 0.0
    if strip(right) == 1:
        return 1.0
    return 0.5 * (left + right)


_route(S.firwin, firwin)


# ---------------------------------------------------------------- firwin2


def _filter_type(numtaps, antisymmetric, gain):
    """SciPy's filter type (I to IV) and its checks of the gains at 0 and Nyquist (plain)."""
    ftype = (3 if numtaps % 2 else 4) if antisymmetric else (1 if numtaps % 2 else 2)
    if ftype == 2 and gain[-1] != 0.0:
        raise ValueError("A Type II filter must have zero gain at the Nyquist frequency.")
    if ftype == 3 and (gain[0] != 0.0 or gain[-1] != 0.0):
        raise ValueError("A Type III filter must have zero gain at zero and Nyquist frequencies.")
    if ftype == 4 and gain[0] != 0.0:
        raise ValueError("A Type IV filter must have zero gain at zero frequency.")
    return ftype


def _check_freq(freq, nyq):
    """SciPy's checks of the frequencies (plain values)."""
    if freq[0] != 0 or freq[-1] != nyq:
        raise ValueError("freq must start with 0 and end with fs/2.")
    d = freq[1:] - freq[:-1]
    if np.any(d < 0):
        raise ValueError("The values in freq must be nondecreasing.")
    if np.any(d[:-1] + d[1:] == 0):
        raise ValueError("A value in freq must not occur more than twice.")
    if freq[1] == 0:
        raise ValueError("Value 0 must not be repeated in freq")
    if freq[-2] == nyq:
        raise ValueError("Value fs/2 must not be repeated in freq")


def _separated(freq, nyq):
    """SciPy's frequencies with each repeated pair moved ``eps * nyq`` apart (a constant shift:
    the derivative is the given frequencies')."""
    plain = np.array(strip(freq), copy=True)
    if not np.any(plain[1:] == plain[:-1]):
        return freq
    eps = np.finfo(np.float64).eps * strip(nyq)
    for k in range(plain.shape[0] - 1):
        if plain[k] == plain[k + 1]:
            plain[k] = plain[k] - eps
            plain[k + 1] = plain[k + 1] + eps
    if np.any(plain[1:] - plain[:-1] <= 0):
        raise ValueError("freq cannot contain numbers that are too close (within eps * (fs/2): "
                         f"{eps}) to a repeated value")
    return value_of(freq, plain) if isinstance(freq, Tracer) else plain


def firwin2(numtaps, freq, gain, *, nfreqs=None, window="hamming", antisymmetric=False, fs=None):
    """SciPy's frequency sampling: the gains interpolated on a uniform mesh, phase-shifted, an
    inverse real FFT, the first ``numtaps`` samples windowed (module docstring)."""
    freq, gain = _array(freq), _array(gain)
    nyq = 0.5 * _sampling_rate(fs)
    if freq.shape[0] != gain.shape[0]:
        raise ValueError("freq and gain must be of same length.")
    if nfreqs is not None and numtaps >= nfreqs:
        raise ValueError(f"ntaps must be less than nfreqs, but firwin2 was called with ntaps={numtaps} "
                         f"and nfreqs={nfreqs}")
    _check_freq(strip(freq), strip(nyq))
    ftype = _filter_type(numtaps, antisymmetric, strip(gain))
    if nfreqs is None:
        nfreqs = 1 + 2 ** int(ceil(log(numtaps, 2)))
    freq = _separated(freq, nyq)
    x = np.linspace(0.0, nyq, nfreqs)
    fx = np.interp(x, freq, gain)
    shift = np.exp(-(numtaps - 1) / 2. * 1j * np.pi * x / nyq)
    if ftype > 2:
        shift = shift * 1j
    out = sp_fft.irfft(fx * shift)[:numtaps]
    if window is not None:
        out = out * S.get_window(window, numtaps, fftbins=False)
    if ftype == 3:
        out = np.where(np.arange(numtaps) == numtaps // 2, 0.0, out)
    return out


_route(S.firwin2, firwin2)


# ---------------------------------------------------------------- normalize, lp2lp, lp2hp


def _numerators(b):
    """SciPy's ``_align_nums``, at least 2-d: one numerator, or a list of them zero-padded on the
    left to one length."""
    if type(b) in (list, tuple) and b:
        if all(np.ndim(v) == 0 for v in b):  # one numerator, its coefficients listed
            return np.atleast_2d(_array(b))
        rows = [np.atleast_1d(_array(v)) for v in b]
        width = max(r.shape[0] for r in rows)
        return np.stack([np.concatenate((np.zeros(width - r.shape[0]), r)) for r in rows])
    return np.atleast_2d(array_like(b))


def _leading_zeros(v):
    """How many leading entries of the plain 1-d ``v`` are zero (SciPy's ``_trim_zeros(v, 'f')``)."""
    first = 0
    for e in v:
        if e != 0.0:
            break
        first += 1
    return first


def normalize(b, a):
    """``(b / a0, a / a0)`` with ``a0`` the denominator's first non-zero coefficient; the
    numerator's leading (near) zero columns dropped, as SciPy does (with its warning)."""
    den = np.atleast_1d(_array(a))
    num = _numerators(b)
    if den.ndim != 1:
        raise ValueError("Denominator polynomial must be rank-1 array.")
    if num.ndim > 2:
        raise ValueError("Numerator polynomial must be rank-1 or rank-2 array.")
    if np.all(strip(den) == 0):
        raise ValueError("Denominator must have at least on nonzero element.")
    den = den[_leading_zeros(strip(den)):]
    num, den = num / den[0], den / den[0]
    plain = strip(num)
    zeros = 0
    while zeros < plain.shape[-1] and np.all(np.abs(plain[:, zeros]) <= 1e-14):
        zeros += 1
    if zeros > 0:
        warnings.warn("Badly conditioned filter coefficients (numerator): the results may be "
                      "meaningless", S.BadCoefficients, stacklevel=2)
        num = num[:, min(zeros, num.shape[1] - 1):]
    if num.shape[0] == 1:
        num = num[0, :]
    return num, den


def _promoted(b, a):
    """SciPy's ``xp_promote(a, b, force_floating=True)`` of the coefficients, at least 1-d."""
    a, b = np.atleast_1d(_array(a)), np.atleast_1d(_array(b))
    dtype = np.result_type(a.dtype, b.dtype)
    if dtype.kind not in "fc":
        dtype = np.dtype(np.float64)
    return b.astype(dtype), a.astype(dtype)


def _frequency(wo):
    """SciPy's ``float(wo)`` (or of ``wo[0]``), a traced ``wo`` kept."""
    if isinstance(wo, Tracer):
        return wo if wo.ndim == 0 else np.reshape(wo, (-1,))[0]
    try:
        return float(wo)
    except TypeError:
        return _number(wo[0])


def lp2lp(b, a, wo=1.0):
    """``b(s / wo)`` and ``a(s / wo)``: the coefficients scaled by powers of ``wo``, normalised."""
    b, a = _promoted(b, a)
    wo = _frequency(wo)
    d, n = a.shape[0], b.shape[0]
    pwo = wo ** np.arange(max(d, n) - 1, -1, -1, dtype=np.float64)
    start1, start2 = max(n - d, 0), max(d - n, 0)
    b = b * pwo[start1] / pwo[start2:]
    a = a * pwo[start1] / pwo[start1:]
    return S.normalize(b, a)


def lp2hp(b, a, wo=1.0):
    """``b(wo / s)`` and ``a(wo / s)``: the reversed coefficients scaled by powers of ``wo``, the
    shorter one zero-padded, normalised. (SciPy skips the powers when ``wo`` is 1; they are ones
    then, and a traced ``wo`` keeps their derivative.)"""
    b, a = _promoted(b, a)
    wo = _frequency(wo)
    d, n = a.shape[0], b.shape[0]
    if isinstance(wo, Tracer) or wo != 1:
        pwo = wo ** np.arange(max(d, n), dtype=b.dtype)
    else:
        pwo = np.ones(max(d, n), dtype=b.dtype)
    if d >= n:
        outa = np.flip(a) * pwo
        outb = np.concatenate((np.flip(b) * pwo[:n], np.zeros(d - n, dtype=b.dtype)))
    else:
        outb = np.flip(b) * pwo
        outa = np.concatenate((np.flip(a) * pwo[:d], np.zeros(n - d, dtype=a.dtype)))
    return S.normalize(outb, outa)


def _stacked(values, dtype):
    """SciPy's coefficients assigned one by one into an array of ``dtype``: stacked, then cast."""
    return np.stack([array_like(v) for v in values]).astype(dtype)


def _band_sum(coefs, count, terms):
    """``[sum of terms(i, k) * coefs[-1 - i] over the (i, k) pairs of degree j]`` for the degrees
    ``count - 1 .. 0`` (SciPy's loops of ``lp2bp`` and ``lp2bs``: one ``val += ...`` per term, in its
    order, ``val`` starting at 0.0). ``terms(j)`` lists the pairs with their factors."""
    out = []
    for j in range(count):
        val = 0.0
        for i, factor in terms(j):
            val = val + factor * coefs[coefs.shape[0] - 1 - i]
        out.append(val)
    return out[::-1]


def lp2bp(b, a, wo=1.0, bw=1.0):
    """SciPy's low-pass to band-pass substitution ``s -> (s^2 + wo^2) / (bw s)``: each coefficient
    a sum of ``comb(i, k) c[N - i] wo^(2(i - k)) / bw^i`` (SciPy's loops), then ``normalize``."""
    b, a = _promoted(b, a)
    D, N = a.shape[0] - 1, b.shape[0] - 1
    ma = max(N, D)
    wosq = wo * wo

    def terms(n):
        def of_degree(j):
            return [(i, special.comb(i, k) * wosq ** (i - k) / bw ** i)
                    for i in range(n + 1) for k in range(i + 1) if ma - i + 2 * k == j]
        return of_degree

    bprime = _stacked(_band_sum(b, N + ma + 1, terms(N)), b.dtype)
    aprime = _stacked(_band_sum(a, D + ma + 1, terms(D)), a.dtype)
    return S.normalize(bprime, aprime)


def lp2bs(b, a, wo=1.0, bw=1.0):
    """SciPy's low-pass to band-stop substitution ``s -> bw s / (s^2 + wo^2)``: each coefficient a
    sum of ``comb(M - i, k) c[N - i] wo^(2(M - i - k)) bw^i`` (SciPy's loops), then ``normalize``."""
    b, a = _promoted(b, a)
    D, N = a.shape[0] - 1, b.shape[0] - 1
    M = max(N, D)
    wosq = wo * wo

    def terms(n):
        def of_degree(j):
            return [(i, special.comb(M - i, k) * wosq ** (M - i - k) * bw ** i)
                    for i in range(n + 1) for k in range(M - i + 1) if i + 2 * k == j]
        return of_degree

    bprime = _stacked(_band_sum(b, 2 * M + 1, terms(N)), b.dtype)
    aprime = _stacked(_band_sum(a, 2 * M + 1, terms(D)), a.dtype)
    return S.normalize(bprime, aprime)


def _power(p, n):
    """The polynomial ``p ** n`` (ascending coefficients) by repeated convolution."""
    out = np.ones(1)
    for _ in range(n):
        out = np.convolve(out, p)
    return out


def _substituted(coefs, zp1, zm1, n):
    """``sum_q c_q zp1^(n - q) zm1^q`` (``c`` ascending), SciPy's polynomial sum; ascending
    coefficients, its trailing exact zeros trimmed (NumPy's ``Polynomial`` arithmetic trims them)."""
    total = 0
    for q in range(coefs.shape[0]):
        total = total + coefs[q] * np.convolve(_power(zp1, n - q), _power(zm1, q))
    keep = np.flatnonzero(strip(total))
    return total[:keep[-1] + 1] if keep.size else total[:1]


def bilinear(b, a, fs=1.0):
    """The bilinear transform ``s -> 2 fs (z - 1) / (z + 1)``, as SciPy computes it (the factor
    ``sqrt(2 fs)`` split between ``(z + 1)`` and ``(z - 1)``), then ``normalize``: ``b``, ``a`` and
    ``fs`` differentiate."""
    b, a = np.atleast_1d(_array(b)), np.atleast_1d(_array(a))
    if a.ndim != 1:
        raise ValueError(f"Parameter a is not a 1d array since {a.shape=}")
    if b.ndim != 1:
        raise ValueError(f"Parameter b is not a 1d array since {b.shape=}")
    b, a = b[_leading_zeros(strip(b)):], a[_leading_zeros(strip(a)):]
    fs = _sampling_rate(fs, default=None)
    fac = np.sqrt(fs * 2)
    zp1 = np.stack([array_like(1.0 / fac), array_like(1.0 / fac)])
    zm1 = np.stack([array_like(-1 * fac), array_like(1 * fac)])
    n = max(a.shape[0], b.shape[0]) - 1
    numerator = _substituted(np.flip(b), zp1, zm1, n)
    denominator = _substituted(np.flip(a), zp1, zm1, n)
    return S.normalize(np.flip(numerator), np.flip(denominator))


for _func, _rule in ((S.normalize, normalize), (S.lp2lp, lp2lp), (S.lp2hp, lp2hp), (S.lp2bp, lp2bp),
                     (S.lp2bs, lp2bs), (S.bilinear, bilinear)):
    _route(_func, _rule)
