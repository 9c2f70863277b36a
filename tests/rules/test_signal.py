"""scipy.signal convolutions and filters: adjoint tests for the linear maps, finite differences
for the nonlinear ones (lfilter in ``a``), values against SciPy's, forward mode, second order."""

import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.signal as S

import pullback as pb
from pullback.testing import check_adjoint, check_gradient

from .cases import rand

x7, k3 = rand(7, seed=1), rand(3, seed=2)
z7, zk3 = rand(7, dtype=complex, seed=3), rand(3, dtype=complex, seed=4)
X56, K32 = rand(5, 6, seed=5), rand(3, 2, seed=6)
ZK32 = rand(3, 2, dtype=complex, seed=7)
B, A = np.array([0.2, 0.3, 0.1, 0.05]), np.array([1.3, -0.4, 0.2])
BB, AA = S.butter(3, 0.3)
SOS = S.butter(4, 0.2, output="sos")
SOS5 = np.delete(SOS, 3, axis=1)  # sos without its a0 column (SciPy requires it to be 1)
x40 = rand(40, seed=8)
X49 = rand(4, 9, seed=9)


def sos_of(s5):
    return np.concatenate([s5[:, :3], np.ones((s5.shape[0], 1)), s5[:, 3:]], axis=1)


CASES = [
    (S.fftconvolve, S.fftconvolve, (x7, k3)),
    (S.fftconvolve, lambda a, b: S.fftconvolve(a, b, "same"), (z7, k3)),
    (S.fftconvolve, lambda a, b: S.fftconvolve(a, b, "valid"), (k3, zk3)),
    (S.fftconvolve, lambda a, b: S.fftconvolve(a, b, "same", axes=1), (X56, K32[:1])),
    (S.oaconvolve, lambda a, b: S.oaconvolve(a, b, "valid"), (x7, k3)),
    (S.oaconvolve, lambda a, b: S.oaconvolve(a, b, "same", axes=0), (X56, K32[:, :1])),
    (S.convolve, lambda a, b: S.convolve(a, b, "same", "direct"), (x7, zk3)),
    (S.convolve, lambda a, b: S.convolve(a, b, "valid", "fft"), (k3, x7)),
    (S.correlate, lambda a, b: S.correlate(a, b, "full", "direct"), (z7, zk3)),
    (S.correlate, lambda a, b: S.correlate(a, b, "same", "fft"), (X56, K32)),
    (S.convolve2d, lambda a, b: S.convolve2d(a, b, "same"), (X56, ZK32)),
    (S.convolve2d, lambda a, b: S.convolve2d(a, b, "full", "wrap"), (X56, K32)),
    (S.convolve2d, lambda a, b: S.convolve2d(a, b, "same", "symm"), (X56, K32)),
    (S.convolve2d, lambda a, b: S.convolve2d(a, b, "full", "fill", 1.5), (X56, K32)),
    (S.correlate2d, lambda a, b: S.correlate2d(a, b, "same"), (X56, ZK32)),
    (S.correlate2d, lambda a, b: S.correlate2d(a, b, "same", "wrap"), (X56, K32)),
    (S.lfilter, S.lfilter, (B, A, X49)),
    (S.lfilter, lambda b, a, x: S.lfilter(b, a, x, axis=0), (B, A, X49.T.copy())),
    (S.lfilter, lambda b, a, x, zi: S.lfilter(b, a, x, -1, zi)[0], (B, A, x7, rand(3, seed=10))),
    (S.lfilter, lambda b, a, x, zi: S.lfilter(b, a, x, -1, zi)[1], (B, A, z7, rand(3, seed=10))),
    (S.lfilter, lambda b, x: S.lfilter(b, [2.0], x), (B, x7)),
    (S.lfilter_zi, S.lfilter_zi, (BB, AA)),
    (S.lfiltic, S.lfiltic, (BB, AA, rand(3, seed=11), rand(2, seed=12))),
    (S.lfiltic, S.lfiltic, (BB, AA, rand(2, seed=11))),
    (S.sosfilt, lambda s, x: S.sosfilt(sos_of(s), x), (SOS5, x40)),
    (S.sosfilt, lambda s, x, zi: S.sosfilt(sos_of(s), x, -1, zi)[1], (SOS5, x40, rand(2, 2, seed=13))),
    (S.sosfilt_zi, lambda s: S.sosfilt_zi(sos_of(s)), (SOS5,)),
    (S.filtfilt, S.filtfilt, (BB, AA, x40)),
    (S.filtfilt, lambda b, a, x: S.filtfilt(b, a, x, axis=0, padtype="even", padlen=5),
     (BB, AA, X49.T.copy())),
    (S.filtfilt, lambda b, a, x: S.filtfilt(b, a, x, padtype=None), (BB, AA, x40)),
    (S.filtfilt, lambda b, a, x: S.filtfilt(b, a, x, method="gust"), (BB, AA, x40)),
    (S.filtfilt, lambda b, a, x: S.filtfilt(b, a, x, axis=0, method="gust", irlen=10),
     (BB, AA, rand(30, 2, seed=15))),
    (S.sosfiltfilt, lambda s, x: S.sosfiltfilt(sos_of(s), x), (SOS5, x40)),
    (S.sosfiltfilt, lambda s, x: S.sosfiltfilt(sos_of(s), x, padtype="constant", padlen=4), (SOS5, x40)),
    (S.sosfilt, lambda x, zi: S.sosfilt(SOS, x, -1, zi)[0], (x40, rand(2, 2, seed=16))),
    (S.sosfilt, lambda x, zi: S.sosfilt(SOS, x, 0, zi)[1], (X49.T.copy(), rand(2, 2, 4, seed=17))),
    (S.sosfilt, lambda x: S.sosfilt(SOS, x, axis=0), (rand(9, 3, dtype=complex, seed=18),)),
    (S.sosfiltfilt, lambda x: S.sosfiltfilt(SOS, x, padtype="even"), (x40,)),
    (S.sosfiltfilt, lambda x: S.sosfiltfilt(SOS, x, axis=0, padtype=None),
     (rand(9, 2, dtype=complex, seed=19),)),
    (S.detrend, S.detrend, (X49,)),
    (S.detrend, lambda x: S.detrend(x, axis=0, type="constant"), (X49,)),
    (S.detrend, lambda x: S.detrend(x, bp=[3, 5]), (rand(9, dtype=complex, seed=14),)),
]

SHAPES = [(5, 3), (3, 5), (7, 7), (6, 2), (2, 1)]  # odd, even, prime, one-sample kernels


@pytest.mark.parametrize("f", [S.fftconvolve, S.oaconvolve, S.convolve, S.correlate],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
def test_convolution_adjoints(f, mode, dtype):
    for n1, n2 in SHAPES:
        a, b = rand(n1, dtype=dtype, seed=n1), rand(n2, dtype=dtype, seed=n2 + 10)
        check_adjoint(lambda u: f(u, b, mode), a)
        check_adjoint(lambda v: f(a, v, mode), b)


@pytest.mark.parametrize("method", ["direct", "fft"])
def test_convolve_methods_and_nd(method):
    a, b = rand(4, 5, dtype=complex, seed=1), rand(3, 2, seed=2)
    for mode in ("full", "same", "valid"):
        check_adjoint(lambda u: S.convolve(u, b, mode, method), a)
        check_adjoint(lambda v: S.correlate(a, v, mode, method), b.astype(complex))


@pytest.mark.parametrize("f", [S.convolve2d, S.correlate2d], ids=lambda f: f.__name__)
@pytest.mark.parametrize("boundary", ["fill", "wrap", "symm"])
def test_convolve2d_adjoints(f, boundary):
    for mode in ("full", "same", "valid"):
        for k in (K32, ZK32, rand(4, 4, seed=3)):
            check_adjoint(lambda u: f(u, k, mode, boundary), X56)
            check_adjoint(lambda v: f(X56, v, mode, boundary), k)


def test_fftconvolve_axes_broadcast():
    a, b = rand(3, 8, seed=1), rand(1, 5, seed=2)
    for axes in (1, [1], -1):
        check_adjoint(lambda u: S.fftconvolve(u, b, "same", axes=axes), a)
        check_adjoint(lambda v: S.fftconvolve(a, v, "full", axes=axes), b)
    check_gradient(lambda u, v: S.oaconvolve(u, v, axes=0), rand(9, 2, seed=3), rand(4, 1, seed=4))


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
def test_lfilter_is_linear_in_x_b_and_zi(dtype):
    x = rand(3, 11, dtype=dtype, seed=1)
    b, a = B.astype(np.float32) if dtype == np.float32 else B, A
    zi = rand(3, 3, dtype=dtype, seed=2)
    check_adjoint(lambda u: S.lfilter(b, a, u), x)
    check_adjoint(lambda u: S.lfilter(b, a, u, 0), rand(11, 2, dtype=dtype, seed=3))
    check_adjoint(lambda u: S.lfilter(u, a, x), b.astype(dtype))
    quiet = np.zeros_like(x)  # with no input the output is linear in zi
    check_adjoint(lambda z: S.lfilter(b, a, quiet, -1, z)[0], zi)
    check_adjoint(lambda z: S.lfilter(b, a, quiet, -1, z)[1], zi)


def test_lfilter_nonlinear_in_a_and_values():
    zi = rand(4, 3, seed=3)
    for x in (X49, X49 + 1j * rand(4, 9, seed=4)):
        check_gradient(lambda b, a, x, zi: S.lfilter(b, a, x, -1, zi)[0], B, A, x, zi)
        y, zf = pb.pullback(lambda a: S.lfilter(B, a, x, -1, zi), A)[0]
        want = S.lfilter(B, A, x, -1, zi)
        np.testing.assert_allclose(y, want[0], rtol=1e-12)
        np.testing.assert_allclose(zf, want[1], rtol=1e-12, atol=1e-14)
    # broadcast zi, a short signal (the state outlives it)
    check_gradient(lambda a, zi: S.lfilter(B, a, x7[:2], -1, zi)[1], A, rand(3, seed=5))
    check_gradient(lambda a, zi: S.lfilter(B, a, X49, -1, zi)[0], A, rand(1, 3, seed=6))


def test_filters_float32_stay_float32():
    x = x40.astype(np.float32)
    for f in (lambda x: S.sosfiltfilt(SOS.astype(np.float32), x), lambda x: S.lfilter(BB, AA, x),
              lambda x: S.fftconvolve(x, k3.astype(np.float32))):
        g = pb.gradient(lambda x: np.sum(f(x) ** 2), x)[0]
        assert g.dtype == np.float32


def test_filtfilt_gust_is_linear_in_x():
    for irlen in (None, 10):
        check_adjoint(lambda x: S.filtfilt(BB, AA, x, method="gust", irlen=irlen), x40)


def test_second_order():
    check_gradient(lambda a: pb.gradient(lambda a: np.sum(S.lfilter(B, a, x7) ** 2), a)[0], A)
    check_gradient(lambda k: pb.gradient(lambda k: np.sum(S.fftconvolve(x7, k) ** 3), k)[0], k3)
    h = pb.hessian(lambda x: np.sum(S.sosfiltfilt(SOS, x) ** 2), x40[:20])
    assert np.allclose(h, h.T)


def test_every_name_and_internal_calls_reach_the_rule():
    # convolve(method="fft") calls fftconvolve internally; the rule of convolve answers first
    g = pb.gradient(lambda k: np.sum(S.convolve(x7, k, method="fft") ** 2), k3)[0]
    y = np.convolve(x7, k3)
    np.testing.assert_allclose(g, np.correlate(2 * y, x7, "valid"), atol=1e-12)
    code = (
        "from scipy.signal import fftconvolve\n"
        "import numpy as np, pullback as pb\n"
        "x, k = np.arange(1.0, 6.0), np.array([1.0, -2.0, 0.5])\n"
        "g = pb.gradient(lambda k: np.sum(fftconvolve(x, k) ** 2), k)[0]\n"
        "want = np.correlate(2 * np.convolve(x, k), x, 'valid')\n"
        "assert np.allclose(g, want), (g, want)\n"
        "assert np.array_equal(fftconvolve(x, k), __import__('scipy.signal').signal.fftconvolve(x, k))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_plain_calls_return_scipy_values():
    from pullback.rules import signal as R

    for name, args in [("fftconvolve", (x7, k3)), ("lfilter", (B, A, x7)), ("sosfiltfilt", (SOS, x40)),
                       ("detrend", (X49,)), ("convolve2d", (X56, K32))]:
        got, want = getattr(S, name)(*args), R.ORIGINALS[name](*args)
        assert type(got) is type(want)
        np.testing.assert_array_equal(got, want)


def test_peak_positions_and_named_windows_carry_no_gradient():
    def f(x):
        peaks, _ = S.find_peaks(x)
        w = S.get_window("hann", 7)
        return np.sum(x[peaks]) + np.sum(S.fftconvolve(x, w, "same"))

    g = pb.gradient(f, x40)[0]
    conv_part = S.correlate(np.ones(40), S.get_window("hann", 7), "same")
    peaks = S.find_peaks(x40)[0]
    np.testing.assert_allclose(g - conv_part, np.isin(np.arange(40), peaks).astype(float), atol=1e-12)


def test_convolve_with_the_method_scipy_chooses():
    k = np.array([1.0, -2.0, 0.5])

    def f(x):
        return np.sum(S.convolve(x, k, method=S.choose_conv_method(x, k)) ** 2)

    g = pb.gradient(f, x40)[0]
    np.testing.assert_allclose(g, np.correlate(2 * np.convolve(x40, k), k, mode="valid"), atol=1e-10)


# ---------------------------------------------------------------- sosfilt / sosfiltfilt, constant sections

ZSOS = SOS * np.exp(0.4j * np.array([1, 1, 1, 0, 1, 1]))  # complex sections (a0 stays 1)
LENGTHS = (1, 2, 5, 8, 13)  # shorter than the state, odd, even, prime


def _sos_for(dtype):
    return SOS.astype(np.float32) if dtype == np.float32 else SOS


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
def test_sosfilt_is_linear_in_x_and_zi(dtype):
    sos = _sos_for(dtype)
    for n in LENGTHS:
        x, zi = rand(3, n, dtype=dtype, seed=n), rand(2, 3, 2, dtype=dtype, seed=n + 1)
        quiet, zero = np.zeros_like(x), np.zeros_like(zi)
        check_adjoint(lambda u: S.sosfilt(sos, u), x)
        check_adjoint(lambda u: S.sosfilt(sos, u, -1, zero)[0], x)
        check_adjoint(lambda u: S.sosfilt(sos, u, -1, zero)[1], x)
        check_adjoint(lambda z: S.sosfilt(sos, quiet, -1, z)[0], zi)
        check_adjoint(lambda z: S.sosfilt(sos, quiet, -1, z)[1], zi)
        check_adjoint(lambda u: S.sosfilt(sos, u, 0), x.T.copy())
    z = rand(7, dtype=complex, seed=3)  # complex sections
    check_adjoint(lambda u: S.sosfilt(ZSOS, u), z)
    check_adjoint(lambda u: S.sosfilt(ZSOS, u, -1, np.zeros((2, 2), complex))[1], z)
    check_adjoint(lambda q: S.sosfilt(ZSOS, np.zeros(7), -1, q)[0], rand(2, 2, dtype=complex, seed=4))


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_sosfilt_gradients_every_axis(axis):
    x = rand(4, 5, 6, seed=axis + 5)
    zshape = [2] + list(x.shape)
    zshape[axis % 3 + 1] = 2
    zi = rand(*zshape, seed=axis + 6)
    check_gradient(lambda x, zi: S.sosfilt(SOS, x, axis, zi)[0] ** 2, x, zi)
    check_gradient(lambda x, zi: S.sosfilt(SOS, x, axis, zi)[1] ** 2, x, zi)
    check_gradient(lambda x, zi: S.sosfilt(ZSOS, x, axis, zi)[1], x + 0j, zi.astype(complex))
    check_gradient(lambda x: S.sosfilt(SOS, x, axis), x.astype(np.float32))


def test_sosfilt_y_and_zf_together_and_zi_only():
    x, zi = rand(3, 11, dtype=complex, seed=1), rand(2, 3, 2, seed=2)

    def both(x, zi):
        y, zf = S.sosfilt(SOS, x, -1, zi)
        return np.sum(np.abs(y) ** 2) + np.sum(zf ** 3).real

    check_gradient(both, x, zi)
    check_gradient(lambda zi: S.sosfilt(SOS, x, -1, zi)[0], zi)
    check_gradient(lambda zi: S.sosfilt(SOS, x[:, :1], -1, zi)[1], zi)  # one sample


@pytest.mark.parametrize("padtype", ["odd", "even", "constant", None])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
def test_sosfiltfilt_is_linear(padtype, dtype):
    sos = _sos_for(dtype)
    x = rand(3, 19, dtype=dtype, seed=7)
    for padlen in (None, 0, 1, 5):
        check_adjoint(lambda u: S.sosfiltfilt(sos, u, padtype=padtype, padlen=padlen), x)
    check_adjoint(lambda u: S.sosfiltfilt(sos, u, axis=0, padtype=padtype, padlen=3), x.T.copy())
    check_adjoint(lambda u: S.sosfiltfilt(ZSOS, u, padtype=padtype), x[0].astype(complex))


@pytest.mark.parametrize("padtype", ["odd", "even", "constant", None])
def test_sosfiltfilt_in_place_and_traced_adjoints_agree(padtype, monkeypatch):
    from pullback.rules import signal as R

    g = rand(3, 4, 40, seed=8)
    for axis in (0, 2):
        gs = np.moveaxis(g, 2, axis).copy()
        want = R.sosfiltfilt_adjoint(gs, gs.shape, gs.dtype, SOS, axis, padtype, None)
        own = gs.copy()
        got = R.sosfiltfilt_adjoint_in_place(own, gs.shape, gs.dtype, SOS, axis, padtype, None)
        np.testing.assert_array_equal(got, want)
        with monkeypatch.context() as m:
            m.setattr(R, "_sosfilt_in_place", None)  # the NumPy-call form (the traced cotangent's)
            generic = R.sosfiltfilt_adjoint(gs, gs.shape, gs.dtype, SOS, axis, padtype, None)
        np.testing.assert_allclose(generic, want, rtol=1e-12, atol=1e-12)


def test_constant_sections_give_scipys_values_bit_for_bit():
    from pullback.rules import signal as R

    sosfilt, sosfiltfilt = R.ORIGINALS["sosfilt"], R.ORIGINALS["sosfiltfilt"]
    for dtype in (np.float32, np.float64, np.complex64, np.complex128):
        x = rand(3, 30, dtype=dtype, seed=9)
        for sos in (SOS, SOS.astype(np.float32), ZSOS):
            zi = rand(sos.shape[0], 3, 2, dtype=dtype, seed=10)
            for axis, xa, za in ((-1, x, zi), (0, x.T.copy(), np.swapaxes(zi, 1, 2).copy())):
                y = pb.pullback(lambda u: S.sosfilt(sos, u, axis), xa)[0]
                assert y.dtype == sosfilt(sos, xa, axis).dtype
                np.testing.assert_array_equal(y, sosfilt(sos, xa, axis))
                want = sosfilt(sos, xa, axis, za)
                got = pb.pullback(lambda u, z: S.sosfilt(sos, u, axis, z), xa, za)[0]
                for g_, w_ in zip(got, want):
                    assert g_.dtype == w_.dtype
                    np.testing.assert_array_equal(g_, w_)
                for padtype in ("odd", "even", "constant", None):
                    got = pb.pullback(lambda u: S.sosfiltfilt(sos, u, axis, padtype), xa)[0]
                    want = sosfiltfilt(sos, xa, axis, padtype)
                    assert got.dtype == want.dtype
                    np.testing.assert_array_equal(got, want)


def test_constant_sections_second_order():
    x, zi = rand(2, 12, seed=11), rand(2, 2, 2, seed=12)

    def loss(x, zi):
        y, zf = S.sosfilt(SOS, x, -1, zi)
        return np.sum(y ** 3) + np.sum(zf ** 3) + np.sum(S.sosfiltfilt(SOS, x, padtype="even", padlen=4) ** 3)

    check_gradient(lambda x, zi: pb.grad(loss, argnums=0)(x, zi), x, zi)
    check_gradient(lambda x, zi: pb.grad(loss, argnums=1)(x, zi), x, zi)
    z = rand(12, dtype=complex, seed=13)
    check_gradient(lambda z: pb.gradient(lambda z: np.sum(np.abs(S.sosfiltfilt(ZSOS, z, padlen=4)) ** 4),
                                         z)[0], z)
    h = pb.hessian(lambda x: np.sum(S.sosfilt(SOS, x) ** 3), x[0])
    np.testing.assert_allclose(h, h.T, atol=1e-12)


def test_traced_sections_keep_the_cascade():
    x, zi = rand(2, 20, seed=14), rand(2, 2, 2, seed=15)
    check_gradient(lambda s, x, zi: S.sosfilt(sos_of(s), x, -1, zi)[0], SOS5, x, zi)
    check_gradient(lambda s, x: S.sosfiltfilt(sos_of(s), x, padtype="odd"), SOS5, x)


def test_bad_sosfilt_input_raises_scipys_error():
    with pytest.raises(ValueError, match="zi must have shape"):
        pb.gradient(lambda x: np.sum(S.sosfilt(SOS, x, -1, np.zeros((2, 2)))[0]), rand(3, 10, seed=1))
    with pytest.raises(ValueError):
        pb.gradient(lambda x: np.sum(S.sosfiltfilt(SOS, x)), rand(5, seed=1))  # shorter than padlen
    with pytest.raises(ValueError):
        pb.gradient(lambda x: np.sum(S.sosfiltfilt(SOS, x, padtype="bad")), x40)


BA2 = (np.array([0.5, 0.2, 0.1]), np.array([2.0, -0.3, 0.1, 0.05]))  # a0 != 1, a longer than b


@pytest.mark.parametrize("padtype", ["odd", "even", "constant", None])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
def test_filtfilt_constant_coefficients_is_linear(padtype, dtype):
    from pullback.rules import signal as R

    x = rand(3, 21, dtype=dtype, seed=20)
    for b, a in ((BB, AA), BA2, (BA2[0] * (1 + 0.3j), BA2[1])):
        for padlen in (None, 0, 3):
            check_adjoint(lambda u: S.filtfilt(b, a, u, padtype=padtype, padlen=padlen), x)
        check_adjoint(lambda u: S.filtfilt(b, a, u, axis=0, padtype=padtype, padlen=2), x.T.copy())
        got = pb.pullback(lambda u: S.filtfilt(b, a, u, padtype=padtype), x)[0]
        want = R.ORIGINALS["filtfilt"](b, a, x, padtype=padtype)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError):  # as SciPy's (lfilter_zi of a one-tap filter)
        pb.pullback(lambda u: S.filtfilt([0.5], [2.0], u, padtype=padtype), x)


def test_filtfilt_constant_coefficients_second_order():
    check_gradient(lambda x: pb.gradient(lambda x: np.sum(S.filtfilt(*BA2, x, padtype="even") ** 3), x)[0],
                   rand(2, 20, seed=21))
    check_gradient(lambda x: S.filtfilt(BB, AA, x, axis=0), rand(20, 2, seed=22).astype(np.float32))


@pytest.mark.parametrize("f", [S.fftconvolve, S.oaconvolve], ids=lambda f: f.__name__)
def test_same_mode_crops_broadcast_axes(f):
    """Regression: with ``axes``, an operand of size 1 on an axis that is not convolved broadcasts,
    and ``"same"`` crops that axis back to ``in1``'s size (centred); the adjoints embedded the
    cotangent along the convolved axes only, so the other operand's entries were all summed in
    (a silently wrong gradient). Both rules: the spectra rule and the general one it falls back to
    (an axis of size 1 in both operands is not transformed at all)."""
    a, b = rand(3, 1, seed=1), rand(2, 4, seed=2)
    one, two = rand(1, 1, seed=3), rand(1, 2, seed=4)
    for mode in ("same", "full"):
        check_adjoint(lambda u: f(u, b, mode, axes=[0]), a)
        check_adjoint(lambda v: f(a, v, mode, axes=[0]), b)
        check_adjoint(lambda u: f(u, two, mode, axes=[0]), one)
        check_adjoint(lambda v: f(one, v, mode, axes=[0]), two)
    # second order: the general rule's adjoints, differentiated
    check_gradient(lambda u, v: pb.gradient(lambda p: np.sum(f(p, v, "same", axes=[0]) ** 2), u)[0], a, b)


@pytest.mark.parametrize("boundary", ["fill", "wrap", "symm"])
def test_valid_correlate2d_with_the_larger_second_operand(boundary):
    """Regression: SciPy's "valid" correlate2d swaps the operands when in2 is the larger and only
    reverses the result (no conjugation back, unlike correlate), so the value is conjugate-linear
    in a complex in1; the adjoints assumed the textbook correlation (a silently wrong gradient)."""
    a, b = rand(2, 3, dtype=complex, seed=1), rand(4, 5, dtype=complex, seed=2)
    for u0, v0 in ((a, b), (a.real.copy(), b), (a, b.real.copy())):
        value, _ = pb.pullback(lambda u: S.correlate2d(u, v0, "valid", boundary), u0)
        assert value.tobytes() == S.correlate2d(u0, v0, "valid", boundary).tobytes()
        check_adjoint(lambda u: S.correlate2d(u, v0, "valid", boundary), u0)
        check_adjoint(lambda v: S.correlate2d(u0, v, "valid", boundary), v0)
        check_adjoint(lambda u: S.convolve2d(u, v0, "valid", boundary), u0)
    k15 = rand(1, 5, seed=3)  # larger in one axis, smaller in the other: SciPy's error
    with pytest.raises(ValueError, match="valid"):
        pb.gradient(lambda u: np.sum(np.abs(S.correlate2d(u, k15, "valid"))), rand(3, 2, seed=4))


def _bits(value, want):
    if isinstance(want, tuple):
        assert isinstance(value, tuple) and len(value) == len(want)
        for v, w in zip(value, want):
            _bits(v, w)
        return
    assert type(value) is type(want) and value.dtype == want.dtype and value.shape == want.shape
    assert value.tobytes() == want.tobytes()


def _signal(dtype, shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    if x.dtype.kind == "c":
        x = x + (1j * rng.standard_normal(shape)).astype(dtype)
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
def test_traced_sections_and_states_are_scipys_bits(dtype):
    """Regression: sosfilt/sosfiltfilt with traced sections were a cascade of lfilter calls, and
    lfilter's final state, lfiltic and lfilter_zi (float32: a float64 result) were recomputed:
    other bits than SciPy's fused sosfilt and its own state formulas."""
    real = np.float32 if dtype in (np.float32, np.complex64) else np.float64
    sos, (b, a) = S.butter(4, 0.2, output="sos").astype(real), [c.astype(real) for c in S.butter(3, 0.3)]
    for shape, axis in (((40,), -1), ((3, 30), 1), ((30, 2), 0)):
        x = _signal(dtype, shape, 11)
        zs = list(shape)
        zs[axis] = 3
        zi = _signal(dtype, zs, 12)
        zss = [2] + list(shape)
        zss[1 + axis % len(shape)] = 2
        zis = _signal(dtype, zss, 13)
        calls = [
            (lambda s, u: S.sosfilt(s, u, axis=axis), sos, x),
            (lambda s, u, z: S.sosfilt(s, u, axis=axis, zi=z), sos, x, zis),
            (lambda s, u: S.sosfiltfilt(s, u, axis=axis), sos, x),
            (lambda s: S.sosfilt_zi(s), sos),
            (lambda b, a, u, z: S.lfilter(b, a, u, axis=axis, zi=z), b, 2 * a, x, zi),
            (lambda u, z: S.lfilter(b, a, u, axis=axis, zi=z), x, zi),
            (lambda b, a: S.lfilter_zi(b, a), b, 2 * a),
            (lambda b, a, u: S.filtfilt(b, a, u, axis=axis), b, a, x),
            (lambda b, a, y: S.lfiltic(b, a, y), b, a, x[..., :2].ravel()),
            (lambda b, a, y, u: S.lfiltic(b, a, y, u), b, 3 * a, x.ravel()[:1], x.ravel()[:5]),
        ]
        for f, *args in calls:
            _bits(pb.pullback(f, *args)[0], f(*args))
    check_gradient(lambda s5, u, z: S.sosfilt(sos_of(s5), u, zi=z)[1], SOS5, x40, rand(2, 2, seed=3))
    check_gradient(lambda b, a, u, z: S.lfilter(b, a, u, zi=z)[1], B, A, x40, rand(3, seed=4))
    check_gradient(lambda b, a, y, u: S.lfiltic(b, a, y, u), B, A, rand(3, seed=5), rand(2, seed=6))
    check_gradient(lambda b, a, y, u: S.lfiltic(b, a, y, u), B, A / A[0], rand(3, seed=5), rand(2, seed=6))


def test_traced_sections_raise_scipys_errors():
    """Regression: traced sections of the wrong shape raised another message than SciPy's."""
    for sos in (np.ones((2, 5)), np.ones((2, 2, 6)), np.ones((2, 6)) * 2):
        with pytest.raises(ValueError) as want:
            S.sosfilt(sos, x40)
        with pytest.raises(ValueError, match=re.escape(str(want.value))):
            pb.pullback(lambda s: S.sosfilt(s, x40), sos)
    with pytest.raises(ValueError, match="`a` must be 1-D"):
        pb.pullback(lambda a: S.lfiltic(B, a, x7), np.ones((2, 2)))


@pytest.mark.parametrize("mode", ["mirror", "constant", "nearest", "wrap", "interp"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
def test_savgol_filter_is_scipys_bits(mode, dtype):
    """Regression: savgol_filter summed shifted copies and fitted the edges by a matrix: other
    bits than SciPy's convolve1d and polyfit (and a complex input stayed complex, where SciPy
    takes its real part as float64)."""
    for shape, axis in (((20,), -1), ((3, 15), 1), ((12, 2), 0)):
        x = _signal(dtype, shape, 14)
        for window, order, deriv in ((7, 2, 0), (8, 2, 0), (9, 4, 2)):
            def f(u):
                return S.savgol_filter(u, window, order, deriv=deriv, axis=axis, mode=mode, cval=0.3)

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
                _bits(pb.pullback(f, x)[0], f(x))
    check_adjoint(lambda u: S.savgol_filter(u, 7, 2, mode=mode, cval=0.0), x40)


def test_gustafsson_filtfilt_with_short_irlen_differentiates_in_the_coefficients():
    """Regression: filtfilt(method="gust", irlen=...) with traced b, a raised GaugeError (its
    least-squares matrix has two mirrored blocks, a repeated singular value)."""
    b, a, u = np.array([1.9]), np.array([1.3, 0.97]), rand(38, seed=1)
    check_gradient(lambda b, a, u: S.filtfilt(b, a, u, method="gust", irlen=9), b, a, u)


def test_filter_kernels_hold_no_subnormal_numbers():
    """The cached responses of a stable filter decay through subnormal numbers, whose every product
    took the CPU's slow path (W7's gradient: 351 -> 163 ms once they are zeros); their gradients
    are unchanged to rounding."""
    from pullback.rules import signal as rules

    sos = S.butter(8, 0.1, output="sos")
    x = np.random.default_rng(0).standard_normal((2, 6000))
    g = pb.gradient(lambda u: np.sum(S.sosfiltfilt(sos, u) ** 2), x)[0]
    kernels = [v for hit in rules._KERNELS.values() for v in hit]
    assert kernels and not any(np.any((v != 0) & (np.abs(v) < np.finfo(v.dtype).tiny)) for v in kernels)
    check_gradient(lambda u: S.sosfiltfilt(sos, u), x[:, :300])
    assert np.all(np.isfinite(g))


@pytest.mark.parametrize("dtype", [np.float32, np.complex64, np.complex128])
def test_gustafsson_filtfilt_values_are_scipys(dtype):
    """Regression: filtfilt(method='gust') with traced coefficients returned float64 for float32
    data and coefficients, and complex values only to rounding; it takes SciPy's value now."""
    rng = np.random.default_rng(3)
    b, a = (c.astype(np.float32) for c in S.butter(3, 0.2))
    x = rng.standard_normal(60).astype(dtype)
    for f in (lambda bb, aa, u: S.filtfilt(bb, aa, u, method="gust"),
              lambda bb, aa, u: S.filtfilt(bb, aa, u, method="gust", irlen=9)):
        value, _ = pb.pullback(f, b, a, x)
        want = f(b, a, x)
        assert value.dtype == want.dtype and value.tobytes() == want.tobytes()


def test_conv2d_boundaries_single_precision_are_scipys():
    """Regression (sweep 3a): float32 convolve2d/correlate2d with a nonzero fill value came back
    float64 (the fill promoted the padding), and the 'wrap'/'symm' boundaries an ulp off SciPy's;
    now SciPy's dtype and bits, the padded convolution's gradient."""
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((5, 6)).astype(np.float32), rng.standard_normal((3, 2)).astype(np.float32)
    for func in (S.convolve2d, S.correlate2d):
        for mode in ("full", "same"):
            for bd, fv in (("fill", 1.5), ("wrap", 0), ("symm", 0)):
                f = lambda a, b: func(a, b, mode, bd, fv)  # noqa: B023, E731
                want, got = f(a, b), pb.pullback(f, a, b)[0]
                assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), (func, mode, bd)
    check_gradient(lambda a, b: S.convolve2d(a, b, "full", "fill", 1.5), a, b)
    check_gradient(lambda a, b: S.correlate2d(a, b, "same", "wrap"), a, b)
