"""scipy.signal spectral analysis, resampling, chirp z and frequency responses: adjoint tests for
the linear maps (stft, istft, hilbert, resample, upfirdn, czt, ...), finite differences for the
quadratic and nonlinear ones (welch, csd, coherence, spectrogram, freqz in a), values against SciPy's."""

import warnings

import numpy as np
import pytest
import scipy.signal as S

import pullback as pb
from pullback.testing import check_adjoint, check_gradient

from .cases import rand
from .test_signal import SOS5, sos_of

x50 = rand(50, seed=21)
X350 = rand(3, 50, seed=22)
z50 = rand(50, dtype=complex, seed=23)
WIN16 = np.hanning(16) + 0.1
BB, AA = S.butter(3, 0.3)
ZXX = S.stft(x50, nperseg=16)[2]
T9 = S.CZT(9, m=6, w=np.exp(-0.3j), a=1.1)
Z9 = S.ZoomFFT(9, [0.1, 0.6], m=7)

SFT = S.ShortTimeFFT(S.windows.hann(16, sym=False), 5, fs=1.0, mfft=20, phase_shift=3)
SFT2X = S.ShortTimeFFT(S.windows.hann(16, sym=False), 4, fs=1.0, fft_mode="onesided2X", scale_to="psd")
SFTC = S.ShortTimeFFT(S.windows.hann(15, sym=False), 4, fs=1.0, fft_mode="centered")


def _quiet(f):
    def g(*a):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return f(*a)
    return g


CASES = [
    (S.stft, lambda x: S.stft(x, nperseg=16)[2], (x50,)),
    (S.stft, lambda x: S.stft(x, nperseg=15, noverlap=5, nfft=20, boundary="even", padded=False,
                              scaling="psd", axis=0)[2], (X350.T.copy(),)),
    (S.stft, lambda x, w: S.stft(x, window=w, nperseg=16, detrend="linear", return_onesided=False)[2],
     (x50, WIN16)),
    (S.stft, _quiet(lambda x: S.stft(x, nperseg=16, boundary=None)[2]), (z50,)),
    (S.istft, lambda z: S.istft(z, nperseg=16)[1], (ZXX,)),
    (S.istft, lambda z, w: S.istft(z, window=w, scaling="psd", boundary=False)[1], (ZXX, WIN16)),
    (S.spectrogram, lambda x: S.spectrogram(x, nperseg=16)[2], (X350,)),
    (S.spectrogram, lambda x: S.spectrogram(x, nperseg=16, mode="magnitude", axis=0)[2], (X350.T.copy(),)),
    (S.spectrogram, lambda x: S.spectrogram(x, nperseg=16, mode="phase")[2], (x50,)),
    (S.spectrogram, lambda x: S.spectrogram(x, nperseg=16, mode="complex", scaling="spectrum")[2], (x50,)),
    (S.welch, lambda x: S.welch(x, nperseg=16)[1], (X350,)),
    (S.welch, lambda x, w: S.welch(x, window=w, noverlap=3, nfft=21, detrend="linear",
                                   scaling="spectrum")[1], (x50, WIN16)),
    (S.welch, lambda x: S.welch(x, nperseg=16, average="median")[1], (z50,)),
    (S.csd, lambda x, y: S.csd(x, y, nperseg=16)[1], (X350, x50)),
    (S.csd, lambda x, y: S.csd(x, y, nperseg=16, return_onesided=False, average="median")[1], (z50, x50)),
    (S.coherence, lambda x, y: S.coherence(x, y, nperseg=16)[1], (x50, x50[::-1] + 0.3 * x50)),
    (S.periodogram, lambda x: S.periodogram(x)[1], (X350,)),
    (S.periodogram, lambda x: S.periodogram(x, nfft=40, window="hann", scaling="spectrum")[1], (z50,)),
    (S.hilbert, S.hilbert, (x50,)),
    (S.hilbert, lambda x: S.hilbert(x, 20, axis=0), (X350.T.copy(),)),
    (S.hilbert2, lambda x: S.hilbert2(x, (4, 9)), (X350[:, :8],)),
    (S.resample, lambda x: S.resample(x, 23), (x50,)),
    (S.resample, lambda x, w: S.resample(x, 64, window=w, axis=1), (X350, np.hanning(50) + 0.2)),
    (S.resample, lambda x: S.resample(x, 20, window="hann", domain="freq"), (z50,)),
    (S.upfirdn, lambda h, x: S.upfirdn(h, x, 3, 2), (rand(7, seed=24), X350)),
    (S.resample_poly, lambda x: S.resample_poly(x, 3, 2), (x50,)),
    (S.resample_poly, lambda x, w: S.resample_poly(x, 2, 5, axis=1, window=w, padtype="mean"),
     (X350, np.hanning(11))),
    (S.decimate, lambda x: S.decimate(x, 3), (x50,)),
    (S.decimate, lambda x: S.decimate(x, 2, ftype="fir", zero_phase=False, axis=0), (X350.T.copy(),)),
    (S.savgol_filter, lambda x: S.savgol_filter(x, 7, 3), (x50,)),
    (S.savgol_filter, lambda x: S.savgol_filter(x, 6, 2, deriv=1, mode="mirror", axis=0), (X350.T.copy(),)),
    (S.czt, S.czt, (x50[:13],)),
    (S.czt, lambda x: S.czt(x, m=11, w=np.exp(-0.3j), a=1.1 * np.exp(0.2j), axis=0), (X350.T[:9].copy(),)),
    (S.zoom_fft, lambda x: S.zoom_fft(x, [0.1, 0.6], m=9), (z50[:12],)),
    (S.CZT.__call__, lambda x: T9(x), (x50[:9],)),
    (S.CZT.__call__, lambda x: Z9(x, axis=0), (X350.T[:9].copy(),)),
    (S.freqz, lambda b, a: S.freqz(b, a, worN=64)[1], (BB, AA)),
    (S.freqz, lambda b: S.freqz(b, worN=16, whole=True)[1], (BB,)),
    (S.freqz, lambda b, a: S.freqz(b, a, worN=np.linspace(0, 3, 7), fs=10.0)[1], (BB + 0.1j, AA)),
    (S.freqz_sos, lambda s: S.freqz_sos(sos_of(s), worN=32)[1], (SOS5,)),
    (S.ShortTimeFFT.stft_detrend, lambda x: SFT.stft(x, padding="odd", p0=1, p1=7, k_offset=2), (x50,)),
    (S.ShortTimeFFT.stft_detrend, lambda x: SFTC.stft(x), (z50,)),
    (S.ShortTimeFFT.stft_detrend, lambda x: SFT2X.spectrogram(x, detr="linear", axis=0), (X350.T.copy(),)),
    (S.ShortTimeFFT.stft_detrend, lambda x, y: SFT.spectrogram(x, y, padding="even"), (x50, z50.real.copy())),
    (S.ShortTimeFFT.istft, lambda z: SFT.istft(z), (SFT.stft(x50),)),
    (S.ShortTimeFFT.istft, lambda z: SFT2X.istft(z, 3, 45), (SFT2X.stft(x50),)),
    (S.ShortTimeFFT.istft, lambda z: SFTC.istft(z, -5, 30, f_axis=0, t_axis=2), (SFTC.stft(X350.T, axis=0),)),
    (S.sosfreqz, _quiet(lambda s: S.sosfreqz(sos_of(s), worN=32, whole=True)[1]), (SOS5,)),
    (S.ZoomFFT.__init__, lambda f: S.ZoomFFT(9, f, m=7)(x50[:9]), (np.array([0.2, 0.8]),)),
]


@pytest.mark.parametrize("n", [31, 32, 37])  # odd, even, prime
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
def test_stft_istft_adjoints(n, dtype):
    x = rand(n, dtype=dtype, seed=n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for kw in (dict(nperseg=8), dict(nperseg=7, noverlap=5, nfft=9, boundary="odd"),
                   dict(nperseg=8, boundary=None, padded=False, scaling="psd")):
            check_adjoint(lambda v: S.stft(v, **kw)[2], x)
        z = S.stft(rand(n, seed=1), nperseg=8)[2].astype(np.complex64 if dtype == np.float32 else complex)
        check_adjoint(lambda v: S.istft(v, nperseg=8)[1], z)
        check_adjoint(lambda v: S.istft(v, nperseg=8, noverlap=5, input_onesided=True)[1], z)
        z2 = S.stft(x, nperseg=8, return_onesided=False)[2]
        check_adjoint(lambda v: S.istft(v, nperseg=8, input_onesided=False)[1], z2)


@pytest.mark.parametrize("n", [12, 13])
def test_fourier_linear_maps(n):
    x, xc = rand(n, seed=n), rand(n, dtype=complex, seed=n + 1)
    for f in (lambda v: S.hilbert(v), lambda v: S.hilbert(v, n + 3), lambda v: S.resample(v, 7),
              lambda v: S.resample(v, 2 * n + 1, window="hann"), lambda v: S.czt(v, m=5),
              lambda v: S.zoom_fft(v, 0.5), lambda v: S.decimate(v, 2, ftype="fir"),
              lambda v: S.resample_poly(v, 2, 3), lambda v: S.savgol_filter(v, 5, 2, mode="interp")):
        check_adjoint(f, x)
        check_adjoint(f, x.astype(np.float32))
    for f in (lambda v: S.resample(v, 6), lambda v: S.czt(v),
              lambda v: S.upfirdn([1.0, -0.5j, 0.2], v, 2, 3)):
        check_adjoint(f, xc)
    for mode in ("mirror", "nearest", "wrap", "constant"):
        check_adjoint(lambda v: S.savgol_filter(v, 4, 2, mode=mode), x)


@pytest.mark.parametrize("mode", ["onesided", "twosided", "centered", "onesided2X"])
def test_short_time_fft_adjoints(mode):
    for phase_shift in (None, 3):
        sft = S.ShortTimeFFT(S.windows.hann(16, sym=False), 5, fs=1.0, fft_mode=mode, mfft=20,
                             phase_shift=phase_shift, scale_to="psd" if mode == "onesided2X" else None)
        x = x50 if sft.onesided_fft else z50
        for pad in ("zeros", "edge", "even", "odd"):
            check_adjoint(lambda v: sft.stft(v, padding=pad, p0=1, p1=8, k_offset=3), x)
        z = sft.stft(x)
        check_adjoint(lambda v: sft.istft(v), z)
        check_adjoint(lambda v: sft.istft(v, 2, 40), z)


def test_upfirdn_both_arguments():
    for up, down in [(1, 1), (3, 2), (2, 5), (1, 3)]:
        h, x = rand(5, dtype=complex, seed=1), rand(8, dtype=complex, seed=2)
        check_adjoint(lambda v: S.upfirdn(h, v, up, down), x)
        check_adjoint(lambda v: S.upfirdn(v, x, up, down), h)


def test_welch_is_quadratic():
    # <welch(x)> scales by 4 when x doubles, and its gradient is linear in x
    g1 = pb.gradient(lambda x: np.sum(S.welch(x, nperseg=16)[1]), x50)[0]
    g2 = pb.gradient(lambda x: np.sum(S.welch(x, nperseg=16)[1]), 2 * x50)[0]
    np.testing.assert_allclose(g2, 2 * g1, rtol=1e-10)
    check_gradient(lambda x: S.welch(x, nperseg=16, average="median")[1], X350)


def test_spectral_second_order_and_forward():
    check_gradient(lambda x: pb.gradient(lambda x: np.sum(S.welch(x, nperseg=16)[1]), x)[0], x50)
    check_gradient(lambda w: pb.gradient(lambda w: np.sum(np.abs(S.freqz(BB, w)[1]) ** 2), w)[0], AA)
    _, t = pb.jvp(lambda z: S.istft(S.stft(z, nperseg=16)[2], nperseg=16)[1], (x50,), (x50,))
    np.testing.assert_allclose(t[:50], x50, atol=1e-12)  # istft(stft(x)) is x: so is its tangent


def test_unsupported_options_are_named():
    with pytest.raises(pb.NoRuleError, match="mode='reflect'"):
        pb.gradient(lambda x: np.sum(S.upfirdn([1.0, 0.5], x, mode="reflect")), x50)
    with pytest.raises(pb.NoRuleError, match="padtype='line'"):
        pb.gradient(lambda x: np.sum(S.resample_poly(x, 2, 3, padtype="line")), x50)


def test_values_are_scipys():
    from pullback.rules import signal_spectral as R

    for name, args, kw in [("welch", (x50,), {"nperseg": 16}), ("stft", (x50,), {"nperseg": 16}),
                           ("czt", (x50[:9],), {}), ("freqz", (BB, AA), {})]:
        last = (lambda y: y) if name == "czt" else (lambda y: y[-1])
        got = pb.pullback(lambda x: last(getattr(S, name)(x, *args[1:], **kw)), args[0])[0]
        want = last(R.ORIGINALS[name](*args, **kw))
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


STFT_OPTIONS = [
    dict(nperseg=8),  # half overlap, zeros at both ends, padded
    dict(nperseg=8, noverlap=6),  # three-quarter overlap: 4 segments cover each sample
    dict(nperseg=7, noverlap=2, nfft=10),  # odd: the zero boundary is not a whole number of hops
    dict(nperseg=8, boundary=None, padded=False),
    dict(nperseg=8, boundary="even", scaling="psd"),
    dict(nperseg=8, detrend="linear"),
    dict(nperseg=8, window=np.hanning(8) + 0.1),
    dict(nperseg=8, window=("tukey", 0.3), noverlap=3, return_onesided=False),
]


@pytest.fixture
def small_blocks(monkeypatch):
    """The framing primitives in blocks of 2 segments, so that a short signal crosses block seams."""
    from pullback.rules import signal_spectral as R

    monkeypatch.setattr(R, "_BLOCK", 2)


@pytest.mark.parametrize("kw", STFT_OPTIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
def test_stft_istft_values_across_blocks(small_blocks, kw, dtype):
    from pullback.rules import signal_spectral as R

    x = rand(2, 41, dtype=dtype, seed=5)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        want = R.ORIGINALS["stft"](x, **kw)[2]
        got = pb.pullback(lambda v: S.stft(v, **kw)[2], x)[0]
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())
        ikw = {k: v for k, v in kw.items() if k in ("nperseg", "noverlap", "nfft", "window", "scaling")}
        ikw["input_onesided"] = kw.get("return_onesided", True) and dtype != np.complex128
        ikw["boundary"] = kw.get("boundary", "zeros") is not None
        want_x = R.ORIGINALS["istft"](want, **ikw)[1]
        got_x = pb.pullback(lambda z: S.istft(z, **ikw)[1], want)[0]
        assert got_x.dtype == want_x.dtype
        np.testing.assert_allclose(got_x, want_x, rtol=rtol, atol=rtol * np.abs(want_x).max())
        if dtype != np.float32:
            check_adjoint(lambda v: S.stft(v, **kw)[2], x)
            check_adjoint(lambda z: S.istft(z, **ikw)[1], want)


def test_long_signal_values_and_gradient():
    # many blocks of the default size, W5's shape at a smaller scale
    from pullback.rules import signal_spectral as R

    x = rand(20000, seed=6)
    _, _, z = R.ORIGINALS["stft"](x, nperseg=64)
    mask = np.random.default_rng(7).uniform(0, 1, z.shape)
    want = np.sum(R.ORIGINALS["istft"](z * mask, nperseg=64)[1] ** 2)

    def loss(v):
        return np.sum(S.istft(S.stft(v, nperseg=64)[2] * mask, nperseg=64)[1] ** 2)

    value, grad = pb.value_and_gradient(loss, x)
    np.testing.assert_allclose(value, want, rtol=1e-12)
    v = np.random.default_rng(8).standard_normal(x.shape)
    h = 1e-6
    fd = (loss(x + h * v) - loss(x - h * v)) / (2 * h)
    np.testing.assert_allclose(np.dot(grad[0], v), fd, rtol=1e-6)


def test_stft_istft_second_order(small_blocks):
    mask = np.linspace(0.2, 1.0, 5)[:, None]

    def loss(v):
        return np.sum(S.istft(S.stft(v, nperseg=8)[2] * mask, nperseg=8)[1] ** 2)

    check_gradient(lambda v: pb.gradient(loss, v)[0], x50[:23])
    check_gradient(lambda v: S.istft(S.stft(v, nperseg=8, noverlap=6)[2] * mask, nperseg=8, noverlap=6)[1],
                   x50[:23], modes=("forward",))


def test_istft_axes_values_and_adjoint():
    from pullback.rules import signal_spectral as R

    z = S.stft(rand(2, 3, 40, seed=9), nperseg=8)[2]  # (2, 3, 5 freqs, 11 times)
    z = np.moveaxis(z, (2, 3), (3, 0)).copy()  # (11 times, 2, 3, 5 freqs)
    kw = dict(nperseg=8, time_axis=0, freq_axis=-1)
    want = R.ORIGINALS["istft"](z, **kw)[1]
    got = pb.pullback(lambda v: S.istft(v, **kw)[1], z)[0]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    check_adjoint(lambda v: S.istft(v, **kw)[1], z)


def test_stft_traced_window_without_detrend(small_blocks):
    # the window differentiates, scale included: the general path (segments, then window * scale)
    check_gradient(lambda x, w: S.stft(x, window=w, nperseg=16)[2], x50, WIN16)
    check_gradient(lambda x, w: S.stft(x, window=w, nperseg=16, noverlap=12, scaling="psd")[2], x50, WIN16)


@pytest.mark.filterwarnings("ignore:NOLA condition failed")
@pytest.mark.parametrize("kw", STFT_OPTIONS[:4])
def test_general_path_for_other_array_types(monkeypatch, kw):
    # CuPy and Dask arrays take the general path (an index gather, products and shifted sums on
    # the tape): the same values and adjoints, checked here on NumPy arrays
    from pullback.rules import signal_spectral as R

    monkeypatch.setattr(R, "_plain_ndarray", lambda *values: False)
    x = rand(2, 41, seed=10)
    want = R.ORIGINALS["stft"](x, **kw)[2]
    np.testing.assert_allclose(pb.pullback(lambda v: S.stft(v, **kw)[2], x)[0], want, rtol=1e-12, atol=1e-14)
    check_adjoint(lambda v: S.stft(v, **kw)[2], x)
    ikw = {k: v for k, v in kw.items() if k in ("nperseg", "noverlap", "nfft")}
    ikw["boundary"] = kw.get("boundary", "zeros") is not None
    want_x = R.ORIGINALS["istft"](want, **ikw)[1]
    np.testing.assert_allclose(pb.pullback(lambda z: S.istft(z, **ikw)[1], want)[0], want_x, rtol=1e-12,
                               atol=1e-14)
    check_adjoint(lambda z: S.istft(z, **ikw)[1], want)


def test_stft_values_are_scipys_bits():
    """Regression: the STFT's scale was folded into the window (SciPy's value to rounding); it is
    applied after the FFT now, as SciPy does, so the traced value is SciPy's bit for bit."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 200))
    for kw in ({}, {"nperseg": 32, "noverlap": 24, "nfft": 40, "scaling": "psd"},
               {"window": ("tukey", 0.3), "boundary": "even", "padded": False, "detrend": "linear"},
               {"return_onesided": False, "boundary": None}):
        value, _ = pb.pullback(lambda u, kw=kw: S.stft(u, **kw)[2], x)
        assert value.tobytes() == S.stft(x, **kw)[2].tobytes()
    z = x + 1j * rng.standard_normal(x.shape)
    value, _ = pb.pullback(lambda u: S.stft(u, nperseg=16)[2], z)
    assert value.tobytes() == S.stft(z, nperseg=16)[2].tobytes()


@pytest.mark.parametrize("detr", [None, "constant", "linear"])
def test_short_time_fft_frames_at_once_keep_scipys_bits(detr):
    """ShortTimeFFT.stft_detrend traced every frame at once (one gather, one batched FFT) where the
    per-frame arithmetic is SciPy's loop's (no detrending; 'constant' on a 1-d signal), frame by
    frame otherwise: SciPy's bits either way. (Frame by frame everywhere, the gradient of a 2^20-
    sample spectrogram took 7.5 s; at once, about 0.4 s.)"""
    rng = np.random.default_rng(3)
    win = S.get_window("hann", 48)
    for mode, scale in (("onesided", "psd"), ("twosided", "magnitude"), ("centered", None)):
        sft = S.ShortTimeFFT(win, 20, 1.0, fft_mode=mode, mfft=52, scale_to=scale)
        for shape, axis in (((240,), -1), ((2, 240), -1), ((240, 2), 0)):
            x = rng.standard_normal(shape)
            for padding in ("zeros", "odd"):
                def f(u, padding=padding, axis=axis, sft=sft):
                    return sft.stft_detrend(u, detr, p0=0, p1=sft.p_max(240) - 1, k_offset=3, padding=padding,
                                            axis=axis)
                value, _ = pb.pullback(f, x)
                assert value.tobytes() == f(x).tobytes()
        check_gradient(lambda u, sft=sft: sft.spectrogram(u, detr=detr), x[..., 0] if x.ndim > 1 else x)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
def test_welch_family_values_are_scipys_bits(dtype):
    """Regression: welch/csd/periodogram/coherence ran SciPy's legacy segment loop (their values to
    rounding); they follow SciPy 1.17's ShortTimeFFT steps now (a C-ordered spectrogram, the
    doubling, the mean), and a detrend that SciPy applies frame by frame keeps its loop's values."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 300)).astype(dtype)
    y = rng.standard_normal((3, 300))
    cases = [dict(nperseg=64, noverlap=63), dict(nperseg=32, detrend="linear", axis=-1),
             dict(nperseg=33, nfft=40, detrend=False, scaling="spectrum"), dict(nperseg=16, average="median")]
    for kw in cases:
        for fn, args in ((S.welch, (x,)), (S.csd, (x, y)), (S.periodogram, (x,))):
            opts = {k: v for k, v in kw.items() if fn is not S.periodogram or k in ("detrend", "scaling")}
            value, _ = pb.pullback(lambda *a, fn=fn, opts=opts: fn(*a, **opts)[1], *args)
            want = fn(*args, **opts)[1]
            assert value.dtype == want.dtype and value.tobytes() == want.tobytes(), (fn.__name__, kw)
    xt = np.ascontiguousarray(x.real.T)  # a non-last axis
    value, _ = pb.pullback(lambda u, v: S.coherence(u, v, nperseg=32, axis=0, detrend="linear"), xt, y.T)
    assert value[1].tobytes() == S.coherence(xt, y.T, nperseg=32, axis=0, detrend="linear")[1].tobytes()


def test_csd_with_one_traced_signal_keeps_scipys_bits():
    """csd's complex product is computed in NumPy's temporary (operands swapped) whichever of the
    two signals is traced: with only x traced, a plain array meets a traced temporary, a case the
    operator's elision emulation cannot see."""
    rng = np.random.default_rng(9)
    x, y = rng.standard_normal((3, 300)), rng.standard_normal((3, 300))
    want = S.csd(x, y, nperseg=64, noverlap=63)[1]
    for f, args in ((lambda u: S.csd(u, y, nperseg=64, noverlap=63)[1], (x,)),
                    (lambda v: S.csd(x, v, nperseg=64, noverlap=63)[1], (y,))):
        value, _ = pb.pullback(f, *args)
        assert value.tobytes() == want.tobytes()


def test_welch_with_an_array_window_differentiates_it():
    """A window passed as an array is an argument like any other: csd scales it as ShortTimeFFT
    does (SciPy's bits) and its gradient flows."""
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal(200), rng.standard_normal(200)
    win = S.get_window("hann", 32) + 0.1
    for scaling in ("density", "spectrum"):
        value, _ = pb.pullback(lambda w: S.csd(x, y, window=w, scaling=scaling)[1], win)
        assert value.tobytes() == S.csd(x, y, window=win, scaling=scaling)[1].tobytes()
        check_gradient(lambda w, u: S.welch(u, window=w, scaling=scaling)[1], win, x)


def test_istft_values_are_scipys_bits():
    """Regression: istft summed the overlapping segments last-first and folded its scale into the
    window; SciPy scales, then adds segment by segment from +0.0 (its Python sum for 'psd')."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 400))
    for kw in (dict(nperseg=64, noverlap=48), dict(nperseg=32, noverlap=31, scaling="psd"),
               dict(nperseg=33, noverlap=20, nfft=40, boundary=False)):
        z = S.stft(x, **{k: v for k, v in kw.items() if k != "boundary"})[2]
        value, _ = pb.pullback(lambda u, kw=kw: S.istft(u, **kw)[1], z)
        assert value.tobytes() == S.istft(z, **kw)[1].tobytes(), kw


def test_single_precision_stft_is_promoted_as_scipys_padding_does():
    """Regression: SciPy pads with float64 zeros (padded=True, even with none to add), so a float32
    signal's STFT is computed in double precision and cast back; the traced one kept float32."""
    x = np.random.default_rng(8).standard_normal(100).astype(np.float32)
    for kw in (dict(nperseg=32, noverlap=16), dict(nperseg=16, detrend="linear", scaling="psd")):
        value, _ = pb.pullback(lambda u, kw=kw: S.stft(u, **kw)[2], x)
        want = S.stft(x, **kw)[2]
        assert value.dtype == want.dtype and value.tobytes() == want.tobytes()


def test_short_time_fft_of_a_traced_window():
    """Regression: ShortTimeFFT's constructor marks its window read-only (setflags), which a traced
    array lacked. Now the window differentiates through SciPy's own scaling, stft and istft."""
    rng = np.random.default_rng(9)
    x, w = rng.standard_normal(200), S.get_window("hann", 16)
    for kw in ({}, {"scale_to": "psd"}, {"scale_to": "magnitude", "fft_mode": "twosided"},
               {"fft_mode": "centered", "mfft": 20}):
        def f(w, x, kw=kw):
            return np.abs(S.ShortTimeFFT(w, 4, fs=2.0, **kw).stft(x)) ** 2

        value, _ = pb.pullback(f, w, x)
        assert value.tobytes() == f(w, x).tobytes()
        check_gradient(f, w, x)
    def round_trip(w, x):
        sft = S.ShortTimeFFT(w, 4, fs=1.0)
        return sft.istft(sft.stft(x), k1=200)

    check_gradient(round_trip, w, x)


def test_setflags_write_false_makes_a_traced_array_read_only():
    def f(x):
        y = x * 2
        y.setflags(write=False)
        y[0] = 1.0

    with pytest.raises(ValueError, match="assignment destination is read-only"):
        pb.gradient(f, np.ones(3))


@pytest.mark.parametrize("dt", [np.float32, np.complex64])
def test_resample_single_precision_dtype_and_bits(dt):
    """Regression (sweep 3a): float32 resample came back float64 (the unpaired-bin weights and a
    window multiplied out of place, where SciPy's ``*=`` keeps X's dtype); now SciPy's dtype and bits."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 50)).astype(dt)
    if dt == np.complex64:
        x = x + 1j * x[:, ::-1]
    w32 = (np.hanning(50) + 0.2).astype(np.float32)
    fs = [lambda x: S.resample(x, 64, axis=1), lambda x: S.resample(x, 36, axis=1),
          lambda x: S.resample(x, 64, window=w32, axis=1),
          lambda x: S.resample(x, 36, window=np.hanning(50), axis=1),
          lambda x: S.resample(x, 64, window="hann", axis=1), lambda x: S.resample(x.T, 30)]
    for f in fs:
        want, got = f(x), pb.pullback(f, x)[0]
        assert got.dtype == want.dtype and got.shape == want.shape
        assert got.tobytes() == want.tobytes()
    check_gradient(fs[0], x)


def test_czt_differentiates_in_w_and_a():
    """Regression (sweep): ``czt(x, m, a=traced)`` and ``CZT(n, m, w=traced)(x)`` raised a TypeError in
    the backward pass (SciPy's ``transpose(0)`` of a 1-d array); the chirp ``w**(k**2 / 2)`` and
    ``a**-k`` differentiate, with SciPy's values."""
    x = x50[:9]
    w0, a0 = np.exp(-0.3j) * 1.01, 1.1 * np.exp(0.2j)
    fs = [(lambda a: S.czt(x, 6, w=w0, a=a), (a0,)), (lambda a: S.czt(x, 6, a=a), (1.1,)),
          (lambda w: S.CZT(9, 6, w=w, a=1.1)(x), (w0,)), (lambda w, x: S.czt(x, 6, w=w, a=a0), (w0, x)),
          (lambda w: S.CZT(9, 6, w=w).points(), (w0,)), (lambda w: S.CZT(9, w=w)(X350.T[:9], axis=0), (w0,))]
    for f, args in fs:
        want, got = f(*args), pb.pullback(f, *args)[0]
        assert type(got) is type(want) and got.dtype == want.dtype and got.tobytes() == want.tobytes()
        check_gradient(f, *args)


W7 = np.linspace(0.1, 3, 7)
FREQZ_TRACED_FREQUENCIES = [
    (lambda w: S.freqz([0.5, 1.0], [1, 0.4], worN=w), (W7,)),
    (lambda w: S.freqz([0.5, 1.0], [1, 0.4], worN=w, fs=10.0), (W7,)),
    (lambda w: S.freqz([0.5, 1.0 + 0.3j], [1, 0.4], worN=w), (W7,)),
    (lambda w: S.freqz([0.5, 1.0], [1, 0.4], worN=[0.1, w, 2.0]), (0.7,)),
    (lambda w, b, a: S.freqz(b, a, worN=w), (W7, BB, AA)),
    (lambda fs: S.freqz(BB, AA, worN=W7, fs=fs), (10.0,)),
    (lambda fs: S.freqz(BB, AA, worN=16, fs=fs), (10.0,)),  # w = fs / 2pi times SciPy's grid
    (lambda fs: S.freqz(BB, worN=16, fs=fs, whole=True), (10.0,)),
    (lambda w: S.freqz_sos(sos_of(SOS5), worN=w), (W7,)),
    (lambda w, fs: S.sosfreqz(sos_of(SOS5), worN=w, fs=fs), (W7, 9.0)),
]


@pytest.mark.parametrize("f, args", FREQZ_TRACED_FREQUENCIES)
def test_freqz_in_traced_frequencies_and_fs(f, args):
    """Regression (sweep): freqz and freqz_sos dropped a traced worN (np.asarray of its plain
    value): H(w) and the returned w had gradient 0. Now H = B(e^{-iw}) / A(e^{-iw}) at the traced
    frequencies, w and the fs scaling differentiate, with SciPy's values."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want, got = f(*args), pb.pullback(f, *args)[0]
        for g, w in zip(got, want):
            assert type(g) is type(w) and g.dtype == w.dtype and g.tobytes() == w.tobytes()
        check_gradient(f, *args)


def test_freqz_traced_frequency_matches_the_sweeps_finite_differences():
    g = pb.gradient(lambda w: np.abs(S.freqz([0.5, 1.0], [1, 0.4], worN=np.stack([w]))[1][0]), 0.7)[0]
    assert abs(g + 0.0154) < 1e-4
    sos = sos_of(SOS5)
    f = lambda w: np.abs(S.freqz_sos(sos, worN=np.stack([w]))[1][0])
    np.testing.assert_allclose(pb.gradient(f, 0.7)[0], (f(0.7 + 1e-6) - f(0.7 - 1e-6)) / 2e-6, rtol=1e-6)


def test_freqz_single_precision_traced_frequencies():
    b32, a32 = np.array([0.5, 1.0], np.float32), np.array([1, 0.4], np.float32)
    f = lambda w: S.freqz(b32, a32, worN=w)
    want, got = f(W7.astype(np.float32)), pb.pullback(f, W7.astype(np.float32))[0]
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.tobytes() == w.tobytes()
    loss = lambda w, dt: np.sum(np.abs(S.freqz(b32.astype(dt), a32.astype(dt), worN=w)[1]) ** 2)
    g32 = pb.gradient(lambda w: loss(w, np.float32), W7.astype(np.float32))[0]
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, pb.gradient(lambda w: loss(w, np.float64), W7)[0], rtol=1e-5)


def test_zoom_fft_differentiates_in_its_band_and_fs():
    """``zoom_fft``/``ZoomFFT`` with a traced band or ``fs`` raised a conversion error (SciPy's
    ``cmath.exp``): the chirp now differentiates, with SciPy's values."""
    x = x50[:9]
    fs = [(lambda f: S.zoom_fft(x, [f, 0.8]), (0.2,)), (lambda f: S.zoom_fft(x, f, m=6), (0.7,)),
          (lambda fs: S.zoom_fft(x, [0.1, 0.8], fs=fs, endpoint=True), (2.0,)),
          (lambda f, x: S.ZoomFFT(9, f, m=7, fs=3.0)(x), (np.array([0.2, 1.1]), x)),
          (lambda f: S.ZoomFFT(9, [f, 0.8], m=7).points(), (0.2,)),
          (lambda f: S.ZoomFFT(9, [f, 0.8])(X350.T[:9], axis=0), (0.2,))]
    for f, args in fs:
        want, got = f(*args), pb.pullback(f, *args)[0]
        assert type(got) is type(want) and got.dtype == want.dtype and got.tobytes() == want.tobytes()
        check_gradient(f, *args)
    plain = S.ZoomFFT(9, [0.1, 0.6], m=7)
    np.testing.assert_array_equal(plain(x), Z9(x))
