"""Other array types through the same protocols: Dask (lazy graphs) and CuPy (GPU), when installed."""

import numpy as np
import pytest

import pullback as pb


def _losses():
    k = np.exp(-np.arange(33) / 8.0)
    return {
        "elementwise": lambda x: np.sum(np.sin(x) * x),
        "fft": lambda x: np.sum(np.abs(np.fft.fft(x)) ** 2),
        "rfft filter": lambda x: np.sum(np.fft.irfft(np.fft.rfft(x) * k, n=64) ** 2),
        "reductions": lambda x: np.mean(x ** 2) + np.max(x),
        "indexing": lambda x: np.sum(x[2:10] * x[:8]),
    }


@pytest.mark.parametrize("name", sorted(_losses()))
def test_dask_arrays_stay_lazy_and_agree(name):
    da = pytest.importorskip("dask.array")
    f = _losses()[name]
    x = np.random.default_rng(0).standard_normal(64)
    want = pb.gradient(f, x)[0]
    g = pb.gradient(f, da.from_array(x, chunks=64))[0]
    assert isinstance(g, da.Array)  # a task graph, computed only on demand
    np.testing.assert_allclose(g.compute(), want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(_losses()))
def test_cupy_arrays_stay_on_the_gpu(name):
    cp = pytest.importorskip("cupy")
    try:
        cp.cuda.runtime.getDeviceCount()
    except Exception:  # noqa: BLE001
        pytest.skip("no GPU")
    f = _losses()[name]
    x = np.random.default_rng(0).standard_normal(64)
    want = pb.gradient(f, x)[0]
    g = pb.gradient(f, cp.asarray(x))[0]
    assert isinstance(g, cp.ndarray)
    np.testing.assert_allclose(cp.asnumpy(g), want, rtol=1e-10, atol=1e-12)
