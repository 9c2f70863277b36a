"""numpy.fft values on SciPy's pocketfft kernels: NumPy's bits, for every length, dtype, norm,
axis, batch and ``n`` (the module turns itself off where it cannot promise them)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pullback.engines import numpy_exact

pytestmark = pytest.mark.skipif(not numpy_exact.available(),
                                reason="SciPy's kernels do not give NumPy's bits here")

DTYPES = (np.float32, np.float64, np.complex64, np.complex128)
NORMS = (None, "backward", "ortho", "forward")
PUBLIC_1D = {("c2c", True): np.fft.fft, ("c2c", False): np.fft.ifft, ("r2c", True): np.fft.rfft,
             ("c2r", False): np.fft.irfft}
PUBLIC_ND = {("c2c", True): np.fft.fftn, ("c2c", False): np.fft.ifftn, ("r2c", True): np.fft.rfftn,
             ("c2r", False): np.fft.irfftn}


def _sample(rng, shape, dtype):
    x = rng.standard_normal(shape).astype(dtype)
    if x.dtype.kind == "c":
        x = x + 1j * rng.standard_normal(shape).astype(x.real.dtype)
    return x


def _assert_bits(got, want):
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.tobytes() == want.tobytes()


@settings(max_examples=250, deadline=None)
@given(
    # 262 = 2 x 131: a regression (SciPy's kernels scale it differently when asked to scale)
    n=st.integers(1, 700) | st.sampled_from([1024, 2048, 4096, 3**7, 5**5, 2310, 4099, 8191, 262]),
    dn=st.integers(-5, 5),
    rows=st.integers(1, 9),
    dtype=st.sampled_from(DTYPES),
    norm=st.sampled_from(NORMS),
    kind=st.sampled_from(sorted(PUBLIC_1D)),
    transpose=st.booleans(),
    seed=st.integers(0, 2 ** 16),
)
def test_one_axis_transforms_have_numpys_bits(n, dn, rows, dtype, norm, kind, transpose, seed):
    rng = np.random.default_rng(seed)
    x = _sample(rng, (rows, n), dtype)
    if kind == ("r2c", True) and x.dtype.kind == "c":
        x = x.real.copy()
    axis = 1
    if transpose:
        x, axis = x.T, 0
    m = max(1, n + dn)
    want = PUBLIC_1D[kind](x, m, axis, norm)
    _assert_bits(numpy_exact.transform(*kind, x, (m,), (axis,), norm), want)


@settings(max_examples=120, deadline=None)
@given(
    shape=st.lists(st.integers(1, 12), min_size=1, max_size=4),
    dtype=st.sampled_from(DTYPES),
    norm=st.sampled_from(NORMS),
    kind=st.sampled_from(sorted(PUBLIC_ND)),
    data=st.data(),
)
def test_n_dimensional_transforms_have_numpys_bits(shape, dtype, norm, kind, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16)))
    x = _sample(rng, tuple(shape), dtype)
    if kind == ("r2c", True) and x.dtype.kind == "c":
        x = x.real.copy()
    ndim = len(shape)
    axes = tuple(data.draw(st.permutations(range(ndim)))[: data.draw(st.integers(1, ndim))])
    s = tuple(max(1, shape[a] + data.draw(st.integers(-2, 3))) for a in axes)
    want = PUBLIC_ND[kind](x, s, axes, norm)
    _assert_bits(numpy_exact.transform(*kind, x, s, axes, norm), want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_large_batched_transforms_run_threaded_and_keep_the_bits(dtype):
    # above PARALLEL_SIZE elements the kernels split the rows over threads
    rng = np.random.default_rng(0)
    x = _sample(rng, (64, 1 << 11), dtype)
    for kind, public in PUBLIC_1D.items():
        a = x.real.copy() if kind == ("r2c", True) and x.dtype.kind == "c" else x
        n = a.shape[1]
        _assert_bits(numpy_exact.transform(*kind, a, (n,), (1,), None), public(a, n))
    y = _sample(rng, (8, 96, 96), dtype)
    _assert_bits(numpy_exact.transform("c2c", True, y, (96, 96), (1, 2), None), np.fft.fft2(y))


def test_out_receives_the_value():
    x = np.random.default_rng(1).standard_normal((4, 300)).astype(np.float32)
    out = np.empty((4, 151), np.complex64)
    got = numpy_exact.transform("r2c", True, x, (300,), (1,), None, out)
    assert got is out
    _assert_bits(out, np.fft.rfft(x))


def test_declines_what_it_cannot_promise():
    assert numpy_exact.transform("c2c", True, np.zeros((0, 4), complex), (4,), (1,), None) is None
    assert numpy_exact.transform("c2c", True, np.ones(4, np.float16), (4,), (0,), None) is None
    assert numpy_exact.transform("r2c", True, np.ones(4, complex), (4,), (0,), None) is None
    big_endian = np.ones(8, dtype=">f8")
    assert numpy_exact.transform("c2c", True, big_endian, (8,), (0,), None) is None


def test_input_is_never_written():
    x = np.random.default_rng(2).standard_normal((3, 64)) + 0j
    before = x.copy()
    for kind in PUBLIC_1D:
        a = x.real.copy() if kind == ("r2c", True) else x
        keep = a.copy()
        numpy_exact.transform(*kind, a, (64,), (1,), "ortho")
        np.testing.assert_array_equal(a, keep)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm", [None, "ortho", "forward"])
def test_large_n_dimensional_transforms_in_aligned_blocks_keep_the_bits(dtype, norm):
    # steps after the first run in place in this module's own blocks; scaling by the kernels
    # only where they give NumPy's bits
    rng = np.random.default_rng(3)
    x = _sample(rng, (40, 48, 64), dtype)
    for kind, public in PUBLIC_ND.items():
        a = x.real.copy() if kind == ("r2c", True) and x.dtype.kind == "c" else x
        keep = a.copy()
        for s in ((40, 48, 64), (40, 50, 62)):
            _assert_bits(numpy_exact.transform(*kind, a, s, (0, 1, 2), norm), public(a, s, (0, 1, 2), norm))
        np.testing.assert_array_equal(a, keep)
