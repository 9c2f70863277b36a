"""Large arrays aligned to huge pages: NumPy's values, NumPy's dtypes, only the address differs."""

import numpy as np
import pytest

import pullback as pb
from pullback.rules import buffers, registry

from .cases import rand


@pytest.fixture
def small_threshold(monkeypatch):
    monkeypatch.setattr(buffers, "ALIGNED_SIZE", 16)
    monkeypatch.setattr(buffers, "_CANDIDATE", 4)
    monkeypatch.setattr(buffers, "ENABLED", True)


@pytest.mark.parametrize("shape", [(8,), (3, 5), (2, 3, 7)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
def test_empty_is_aligned_and_writable(small_threshold, shape, dtype):
    a = buffers.empty(shape, dtype)
    assert a.shape == shape and a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable
    assert a.ctypes.data % buffers.HUGE_PAGE == 0
    a[...] = 1
    c = buffers.copy(rand(*shape, dtype=dtype).T)
    assert c.flags.c_contiguous and c.ctypes.data % buffers.HUGE_PAGE == 0


UNARY = ["sin", "exp", "log1p", "sqrt", "absolute", "square", "tanh", "conjugate", "negative", "reciprocal"]
BINARY = ["multiply", "add", "subtract", "true_divide", "power", "maximum", "arctan2", "hypot"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
def test_calls_give_numpys_values_and_dtypes(small_threshold, dtype):
    x = rand(4, 9, dtype=dtype)
    y = rand(9, dtype=np.float64)
    with np.errstate(all="ignore"):
        for name in UNARY:
            u = getattr(np, name)
            want, got = u(x), buffers.call(u, (x,))
            assert got.dtype == want.dtype and np.array_equal(got, want, equal_nan=True), name
        for name in BINARY:
            u = getattr(np, name)
            for args in ((x, y), (y, x), (x, 2.0), (3, x), (x, np.float32(1.5)), (x, np.array(2.0))):
                try:
                    want = u(*args)
                except TypeError:
                    continue
                got = buffers.call(u, args)
                assert got.dtype == want.dtype and np.array_equal(got, want, equal_nan=True), name
                assert got.ctypes.data % buffers.HUGE_PAGE == 0
    p = buffers.product(x, y)
    assert np.array_equal(p, x * y) and p.dtype == (x * y).dtype


def test_non_numpy_operands_are_left_to_numpy(small_threshold):
    assert buffers.call(np.add, ([1.0, 2.0], 1.0)).tolist() == [2.0, 3.0]
    assert buffers.call(np.divmod, (rand(8), 2.0))[0].shape == (8,)


def test_gradients_unchanged_and_aligned_cotangents_are_consumed(small_threshold, monkeypatch):
    monkeypatch.setattr(registry, "IN_PLACE_SIZE", 1)
    x = rand(32, dtype=complex)
    k = rand(32, dtype=float)

    def f(x):
        return np.sum(np.abs(np.fft.ifft(np.fft.fft(x) * k)) ** 2)

    seen = []
    real_ours = registry.ours
    monkeypatch.setattr(registry, "ours", lambda g: seen.append(real_ours(g)) or seen[-1])
    on = pb.gradient(f, x)[0]
    assert any(seen)  # aligned arrays (views of a larger block) are still the tape's to reuse
    monkeypatch.setattr(buffers, "ENABLED", False)
    off = pb.gradient(f, x)[0]
    assert np.array_equal(on, off)
    pb.testing.check_gradient(f, x)
