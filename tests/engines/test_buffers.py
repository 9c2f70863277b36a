"""Large arrays aligned to huge pages: NumPy's values, NumPy's dtypes, only the address differs."""

import numpy as np
import pytest

import pullback as pb
from pullback.core import trace
from pullback.engines import buffers
from pullback.rules import registry

from ..rules.cases import rand


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
    monkeypatch.setattr(trace, "_OWN_MIN", 1)
    x = rand(32, dtype=complex)
    k = rand(32, dtype=float)

    def f(x):
        return np.sum(np.abs(np.fft.ifft(np.fft.fft(x) * k)) ** 2)

    seen = []
    real_owned = registry._owned
    monkeypatch.setattr(registry, "_owned", lambda r, *a: seen.append(
        real_owned(r, *a) and buffers.block_of(r) is not None) or real_owned(r, *a))
    on = pb.gradient(f, x)[0]
    assert any(seen)  # aligned arrays (views of a cached block) are still the sweep's to reuse
    monkeypatch.setattr(buffers, "ENABLED", False)
    off = pb.gradient(f, x)[0]
    assert np.array_equal(on, off)
    pb.testing.check_gradient(f, x)


# ---------------------------------------------------------------- the block cache


@pytest.fixture
def cache(small_threshold, monkeypatch):
    monkeypatch.setattr(buffers, "CACHE_BYTES", 64 * buffers.HUGE_PAGE)
    buffers.release()
    yield
    buffers.release()


def test_a_block_no_array_uses_serves_the_next_request(cache):
    a = buffers.empty((100,), np.float64)
    address = a.ctypes.data
    b = buffers.empty((100,), np.float64)  # a is alive: another block
    assert b.ctypes.data != address
    del a
    c = buffers.empty((10, 10), np.float64)  # a's block, now free
    assert c.ctypes.data == address
    view = c[::2]
    del c
    d = buffers.empty((100,), np.float64)  # a view keeps the block in use
    assert d.ctypes.data != address and view.ctypes.data == address


def test_release_hands_back_free_blocks_only(cache):
    a = buffers.empty((100,), np.float64)
    b = buffers.empty((100,), np.float64)
    held = buffers.held()
    assert held >= 2 * buffers.HUGE_PAGE
    del a
    freed = pb.release_memory()
    assert freed > 0 and buffers.held() == held - freed
    b[:] = 1.0  # still valid
    assert buffers.block_of(b) is not None
    del b
    assert pb.release_memory() > 0 and buffers.held() == 0


def test_the_cache_is_bounded(cache, monkeypatch):
    monkeypatch.setattr(buffers, "CACHE_BYTES", 3 * buffers.HUGE_PAGE)
    live = [buffers.empty((100,), np.float64) for _ in range(5)]
    assert buffers.held() <= 3 * buffers.HUGE_PAGE
    assert all(x.ctypes.data % buffers.HUGE_PAGE == 0 for x in live)
    monkeypatch.setattr(buffers, "CACHE_BYTES", 0)  # no cache: nothing kept
    buffers.release()
    x = buffers.empty((100,), np.float64)
    assert buffers.block_of(x) is None


def test_threads_get_distinct_blocks(cache):
    from concurrent.futures import ThreadPoolExecutor

    def grab(i):
        a = buffers.empty((64,), np.float64)
        a[:] = i
        return a

    with ThreadPoolExecutor(4) as pool:
        arrays = list(pool.map(grab, range(16)))
    assert len({a.ctypes.data for a in arrays}) == 16
    assert all((a == i).all() for i, a in enumerate(arrays))


def test_returned_gradients_survive_later_gradients(cache, monkeypatch):
    monkeypatch.setattr(trace, "_OWN_MIN", 1)
    k = rand(32, dtype=float)

    def f(x):
        return np.sum(np.abs(np.fft.ifft(np.fft.fft(x) * k)) ** 2)

    x1, x2 = rand(32, dtype=complex), rand(32, dtype=complex)
    g1 = pb.gradient(f, x1)[0]
    keep = g1.copy()
    for _ in range(3):
        g2 = pb.gradient(f, x2)[0]
    assert np.array_equal(g1, keep)
    monkeypatch.setattr(buffers, "ENABLED", False)
    assert np.array_equal(g2, pb.gradient(f, x2)[0])


def test_large_bad_input_raises_numpys_own_error():
    x = rand(1 << 18)  # 2 MiB: aligned outputs
    try:
        x + np.ones(4)
    except ValueError as e:
        want = str(e)
    with pytest.raises(ValueError) as info:
        pb.gradient(lambda x: np.sum(x + np.ones(4)), x)
    assert str(info.value) == want


@pytest.mark.filterwarnings("ignore:invalid value encountered")  # the gradient of log at 0
def test_large_gufuncs_and_warnings_are_numpys():
    a, b = rand(512, 600), rand(600, 512)  # matmul is a ufunc with a signature: not elementwise
    ga, gb = pb.gradient(lambda a, b: np.sum(a @ b), a, b)
    np.testing.assert_allclose(ga, np.broadcast_to(b.sum(axis=1), (512, 600)), rtol=1e-10)
    x = rand(1 << 18)
    x[3] = 0.0
    with pytest.warns(RuntimeWarning, match="divide by zero") as record:
        pb.gradient(lambda x: np.sum(np.log(np.abs(x))), x)
    assert len([w for w in record if "divide by zero" in str(w.message)]) >= 1
    with np.errstate(divide="raise"), pytest.raises(FloatingPointError):
        pb.gradient(lambda x: np.sum(1.0 / x), x)


@pytest.mark.parametrize("value, mib", [("abc", 256), ("-4", 256), ("1.5", 256), ("64", 64), ("0", 0)])
def test_a_bad_cache_size_is_named_and_the_default_used(monkeypatch, value, mib):
    import warnings

    monkeypatch.setenv("PULLBACK_CACHE_MIB", value)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        assert buffers._env_cache_mib() == mib
    assert any("PULLBACK_CACHE_MIB" in str(w.message) for w in record) == (value not in ("64", "0"))


def test_import_survives_a_bad_cache_size():
    import os
    import subprocess
    import sys

    code = "import pullback\nfrom pullback.engines import buffers\nprint(buffers.CACHE_BYTES >> 20)"
    env = dict(os.environ, PULLBACK_CACHE_MIB="lots")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0 and done.stdout.split()[-1] == "256", done.stderr
    assert "PULLBACK_CACHE_MIB='lots'" in done.stderr
