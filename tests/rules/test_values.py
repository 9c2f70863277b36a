"""Traced forward values are NumPy's own, bit for bit, and derivatives at awkward points are
finite (issue 22.12's sibling from issue 14)."""

import numpy as np
import pytest

import pullback as pb
from pullback.rules import fft as fft_rules

from .cases import rand


def _traced_value(f, x):
    """``f(x)`` computed under a reverse trace (the value pb.pullback returns)."""
    return pb.pullback(f, x)[0]


def _same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind == "c":
        return _same_bits(a.real, b.real) and _same_bits(a.imag, b.imag)
    return np.array_equal(a, b, equal_nan=True) and np.array_equal(np.signbit(a), np.signbit(b))


NUMPY_FFT = {
    "fft": lambda x: np.fft.fft(x),
    "ifft": lambda x: np.fft.ifft(x),
    "fft n": lambda x: np.fft.fft(x, n=x.shape[-1] + 3),
    "fft ortho": lambda x: np.fft.fft(x, norm="ortho"),
    "ifft forward": lambda x: np.fft.ifft(x, norm="forward"),
    "fft2": lambda x: np.fft.fft2(x),
    "ifft2": lambda x: np.fft.ifft2(x),
    "fftn": lambda x: np.fft.fftn(x),
    "ifftn": lambda x: np.fft.ifftn(x),
    "fftn axes": lambda x: np.fft.fftn(x, axes=(0,)),
    "rfft": lambda x: np.fft.rfft(x.real),
    "rfft2": lambda x: np.fft.rfft2(x.real),
    "rfftn": lambda x: np.fft.rfftn(x.real),
    "irfft": lambda x: np.fft.irfft(x),
    "irfft2": lambda x: np.fft.irfft2(x),
    "irfftn": lambda x: np.fft.irfftn(x),
    "hfft": lambda x: np.fft.hfft(x),
    "ihfft": lambda x: np.fft.ihfft(x.real),
}


@pytest.mark.parametrize("name", list(NUMPY_FFT))
@pytest.mark.parametrize("dtype", [np.float64, np.complex128, np.float32, np.complex64])
@pytest.mark.parametrize("shape", [(8, 6), (5, 7), (4, 16), (40, 61)])  # (40, 61): the kernels' path
def test_traced_fft_values_are_numpys_bit_for_bit(name, dtype, shape):
    if not fft_rules.NUMPY_VALUES:
        pytest.skip("NumPy 1.x computes float32 transforms in float64; the engine serves both")
    f = NUMPY_FFT[name]
    x = rand(*shape, dtype=dtype)
    x.flat[0] = -3.0  # a negative real bin 0 for some rows
    want = f(x)
    got = _traced_value(f, x)
    assert _same_bits(got, want), (name, got.dtype, want.dtype)


@pytest.mark.parametrize("name", ["fft", "ifft", "fftn", "rfft", "rfftn", "irfft", "irfftn", "hfft", "ihfft"])
@pytest.mark.parametrize("dtype", [np.float64, np.complex64])
def test_large_traced_fft_values_are_numpys_bit_for_bit(name, dtype):
    if not fft_rules.NUMPY_VALUES:
        pytest.skip("NumPy 1.x")
    f = NUMPY_FFT[name]
    x = rand(64, 8192, dtype=dtype)  # outputs of 2 MiB and more: aligned output arrays
    x[:, 0] = -3.0
    assert _same_bits(_traced_value(f, x), f(x))


def test_without_numpy_values_auto_computes_values_on_its_fastest_engine(monkeypatch):
    from pullback.engines import fft as fft_engine

    large = fft_engine.auto_engine("r2c", (1 << 16,), 1 << 16)
    if large == "pocketfft":
        pytest.skip("no faster engine installed")
    monkeypatch.setattr(fft_rules, "NUMPY_VALUES", False)
    monkeypatch.setattr(fft_engine, "_engine", "auto")
    calls = []
    real = fft_engine._KERNELS[large]["r2c"]
    monkeypatch.setitem(fft_engine._KERNELS[large], "r2c", lambda x, *a: calls.append(x.shape) or real(x, *a))
    x = rand(1 << 16)
    np.testing.assert_allclose(_traced_value(np.fft.rfft, x), np.fft.rfft(x), rtol=1e-9, atol=1e-9)
    assert calls == [x.shape]


def test_the_engine_can_compute_numpy_fft_values_instead(monkeypatch):
    monkeypatch.setattr(fft_rules, "NUMPY_VALUES", False)
    x = rand(8, 6)
    got = _traced_value(np.fft.rfft2, x)
    np.testing.assert_allclose(got, np.fft.rfft2(x), rtol=1e-12, atol=1e-12)
    g = pb.gradient(lambda x: np.sum(np.abs(np.fft.fft(x)) ** 2), x)[0]
    # (another engine's rounding: relative to the largest entry, not to entries near zero)
    np.testing.assert_allclose(g, 2 * 6 * x, rtol=1e-12, atol=1e-12 * np.max(np.abs(12 * x)))


def test_the_angle_of_a_negative_real_bin_is_numpys():
    x = np.array([-1.0, -2.0, -3.0, 0.5])
    spec = _traced_value(np.fft.fft, x)
    assert np.array_equal(np.angle(spec), np.angle(np.fft.fft(x)))
    assert np.angle(spec)[0] == np.pi


def test_the_derivative_of_x_to_the_zero_is_zero():
    assert pb.grad(lambda x: x**0.0)(0.0) == 0.0
    assert pb.grad(lambda x: x**0)(0.0) == 0.0
    x = np.array([0.0, 3.0, 4.0, 0.0])
    y = np.array([0.0, 2.0, 0.5, 3.0])
    gx, gy = pb.grad(lambda x, y: np.sum(x**y), argnums=(0, 1))(x, y)
    np.testing.assert_allclose(gx, [0.0, 6.0, 0.25, 0.0])
    np.testing.assert_allclose(gy, [0.0, 9.0 * np.log(3.0), 2.0 * np.log(4.0), 0.0])
    assert np.all(np.isfinite(pb.grad(lambda x: np.sum(np.float_power(x, 0.0)))(np.zeros(3))))
    _, t = pb.jvp(lambda x: x**0.0, (np.zeros(3),), (np.ones(3),))
    assert np.array_equal(t, np.zeros(3))
    hess = pb.hessian(lambda x: np.sum(x**3.0), np.array([1.0, 2.0]))
    np.testing.assert_allclose(hess, np.diag([6.0, 12.0]))
    pb.testing.check_gradient(lambda x, y: np.sum(x**y), np.abs(rand(5)) + 0.5, rand(5))  # x > 0: real powers


SMALL_1D = {  # the 1-D functions' plans (fft_rules._small): every case beside the general route
    "fft": (np.fft.fft, "fc", lambda x, n, a, norm: fft_rules.np_c2c_raw(x, (n,), (a,), norm, True)),
    "ifft": (np.fft.ifft, "fc", lambda x, n, a, norm: fft_rules.np_c2c_raw(x, (n,), (a,), norm, False)),
    "rfft": (np.fft.rfft, "f", lambda x, n, a, norm: fft_rules.np_r2c_raw(x, (n,), (a,), norm)),
    "irfft": (np.fft.irfft, "fc", lambda x, n, a, norm: fft_rules.np_c2r_raw(x, (n,), (a,), norm)),
}


@pytest.mark.parametrize("name", list(SMALL_1D))
@pytest.mark.parametrize("dtype", [np.float64, np.complex128, np.float32, np.complex64])
def test_small_1d_plans_give_numpys_bits_and_layout(name, dtype):
    # regression for the cached plans of small one-axis calls: NumPy's bits, the dtype and the
    # memory order (an F-ordered input's output) of the route they replace, for every norm,
    # axis and length; large inputs and NUMPY_VALUES=False take the general route
    if not fft_rules.NUMPY_VALUES:
        pytest.skip("NumPy 1.x computes float32 transforms in float64; the engine serves both")
    public, kinds, general = SMALL_1D[name]
    if np.dtype(dtype).kind not in kinds:
        pytest.skip("rfft takes real input")
    for shape, axis in (((64,), -1), ((7,), 0), ((5, 6), 0), ((5, 6), -1), ((4, 3, 5), 1)):
        for order in "CF":
            x = np.asarray(rand(*shape, dtype=dtype), order=order)
            m = shape[axis]
            for n in (None, m, m - 1, m + 3):
                for norm in (None, "backward", "ortho", "forward"):
                    want = public(x, n, axis, norm)
                    got = _traced_value(lambda x: public(x, n, axis, norm), x)
                    assert _same_bits(got, want), (name, shape, axis, n, norm)
                    length = n or ((m - 1) * 2 if name == "irfft" else m)
                    old = general(x, length, axis % x.ndim, norm)
                    assert got.strides == old.strides and got.dtype == old.dtype
    key_count = len(fft_rules._PLANS)
    big = rand(fft_rules.SMALL_1D + 1, dtype=dtype)
    assert _same_bits(_traced_value(public, big), public(big))
    assert fft_rules._PLANS.get((public, big.shape, big.dtype, big.size if name != "irfft" else
                                 2 * big.size - 2, 0, None)) in (False, None)
    assert len(fft_rules._PLANS) <= key_count + 1


def test_small_1d_plans_step_aside_when_numpy_values_is_off(monkeypatch):
    x = rand(16)
    assert fft_rules._small(np.fft.rfft, x, (16,), (0,), None) is not None or not fft_rules.NUMPY_VALUES
    monkeypatch.setattr(fft_rules, "NUMPY_VALUES", False)
    assert fft_rules._small(np.fft.rfft, x, (16,), (0,), None) is None  # the engine computes it
    np.testing.assert_allclose(_traced_value(np.fft.rfft, x), np.fft.rfft(x), rtol=1e-12, atol=1e-12)
