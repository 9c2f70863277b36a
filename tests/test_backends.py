"""Other array types through the same protocols: Dask (lazy graphs) and CuPy (GPU), when installed."""

import numpy as np
import pytest

import pullback as pb


def _losses(xp=np):
    k = xp.asarray(np.exp(-np.arange(33) / 8.0))  # constants live where the data lives (CuPy mixes no NumPy)
    return {
        "elementwise": lambda x: np.sum(np.sin(x) * x),
        "fft": lambda x: np.sum(np.abs(np.fft.fft(x)) ** 2),
        "rfft filter": lambda x: np.sum(np.fft.irfft(np.fft.rfft(x) * k, n=64) ** 2),
        "reductions": lambda x: np.mean(x ** 2) + np.max(x),
        "indexing": lambda x: np.sum(x[2:10] * x[:8]),
    }


def _gpu_losses(xp):
    """FFT programs of every kind on arrays of the library ``xp`` (their constants too)."""
    rng = np.random.default_rng(1)
    w = xp.asarray(rng.standard_normal((8, 5)) + 1j * rng.standard_normal((8, 5)))
    re, im = rng.standard_normal((2, 256, 129))
    w256 = xp.asarray((re + 1j * im).astype(np.complex64))
    k = xp.asarray(np.exp(-np.arange(8.0)))
    return {  # name: (loss, input shape, input dtype)
        "complex fftn, padded": (lambda z: np.sum(np.abs(np.fft.fftn(z, s=(9, 8), axes=(0, 1))) ** 2), (6, 8),
                                 complex),
        # a spectrum that is not Hermitian, at a size where cuFFT's c2r departs from NumPy's irfftn
        "W2 at 256, float32": (lambda x: np.sum(np.fft.irfft2(np.fft.rfft2(x) * w256) ** 2), (2, 256, 256),
                               np.float32),
        "rfft2 * W, irfft2 (W2)": (lambda x: np.sum(np.fft.irfft2(np.fft.rfft2(x) * w, s=(8, 8)) ** 2),
                                   (3, 8, 8), np.float64),
        "float32 rfft, ortho": (lambda x: np.sum(np.abs(np.fft.rfft(x, norm="ortho")) ** 2), (4, 16),
                                np.float32),
        "ifftn(fftn * k) (W4)": (lambda z: np.sum(np.abs(np.fft.ifftn(np.fft.fftn(z) * k)) ** 2),
                                 (4, 6, 8), complex),
        "hfft, cropped": (lambda z: np.sum(np.fft.hfft(z, n=10, axis=0) ** 2), (7, 3), complex),
        "shifts": (lambda z: np.sum(np.abs(np.fft.fftshift(np.fft.ifft(z, axis=0), axes=0)[1:]) ** 2),
                   (5, 4), complex),
    }


def _dask_losses():
    import scipy.fft

    dct = lambda x: np.sum(scipy.fft.dct(x) ** 2 * x) + np.sum(scipy.fft.idst(x, 3) ** 3)
    return {**_losses(), "dct, idst": dct}


@pytest.mark.parametrize("chunks", [64, 16])
@pytest.mark.parametrize("name", sorted(_dask_losses()))
def test_dask_arrays_stay_lazy_and_agree(name, chunks):
    """One chunk, and four (the transforms rechunk; the gradient has the input's chunks)."""
    da = pytest.importorskip("dask.array")
    f = _dask_losses()[name]
    x = np.random.default_rng(0).standard_normal(64)
    want = pb.gradient(f, x)[0]
    d = da.from_array(x, chunks=chunks)
    g = pb.gradient(f, d)[0]
    assert isinstance(g, da.Array) and g.chunks == d.chunks  # a task graph, computed only on demand
    np.testing.assert_allclose(g.compute(scheduler="threads"), want, rtol=1e-10, atol=1e-12)


@pytest.fixture
def cp():
    """CuPy, where it is installed and a GPU is present."""
    cupy = pytest.importorskip("cupy")
    try:
        cupy.cuda.runtime.getDeviceCount()
    except Exception:  # noqa: BLE001
        pytest.skip("no GPU")
    return cupy


@pytest.mark.parametrize("name", sorted(_losses()))
def test_cupy_arrays_stay_on_the_gpu(name, cp):
    x = np.random.default_rng(0).standard_normal(64)
    want = pb.gradient(_losses()[name], x)[0]
    g = pb.gradient(_losses(cp)[name], cp.asarray(x))[0]
    assert isinstance(g, cp.ndarray)
    np.testing.assert_allclose(cp.asnumpy(g), want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(_gpu_losses(np)))
def test_cupy_fft_programs_match_numpy(name, cp):
    f, shape, dtype = _gpu_losses(np)[name]
    f_gpu = _gpu_losses(cp)[name][0]
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape) + (1j * rng.standard_normal(shape) if dtype is complex else 0)
    x = x.astype(dtype)
    want = pb.gradient(f, x)[0]
    g = pb.gradient(f_gpu, cp.asarray(x))[0]
    assert isinstance(g, cp.ndarray) and g.dtype == want.dtype
    tol = 1e-4 if dtype is np.float32 else 1e-10
    np.testing.assert_allclose(cp.asnumpy(g), want, rtol=tol, atol=tol * float(np.abs(want).max()))


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_cupy_jacobians_and_hessians_stay_on_the_gpu(mode, cp):
    rng = np.random.default_rng(3)
    z = rng.standard_normal(6) + 1j * rng.standard_normal(6)
    x = rng.standard_normal(5)
    linear = lambda v: np.fft.rfft(v, n=8) * 2.0
    J = pb.jacobian(linear, cp.asarray(x), mode=mode)
    assert isinstance(J, cp.ndarray)
    np.testing.assert_allclose(cp.asnumpy(J), pb.jacobian(linear, x, mode=mode), atol=1e-12)
    loss = lambda v: np.sum(np.abs(np.fft.fft(v * v)) ** 2)
    H = pb.hessian(loss, cp.asarray(z))
    assert isinstance(H, cp.ndarray)
    np.testing.assert_allclose(cp.asnumpy(H), pb.hessian(loss, z), rtol=1e-10, atol=1e-10)


def test_dask_writes_through_views():
    da = pytest.importorskip("dask.array")

    def f(x):
        y = x * 2.0
        y[0, 1] = x[1, 2]
        v = y.T
        v *= 3.0
        y[1] += 1.0
        return np.sum(y**2)

    xn = np.arange(1.0, 7.0).reshape(2, 3)
    value, (g,) = pb.value_and_gradient(f, da.from_array(xn, chunks=-1))
    assert type(g).__module__.startswith("dask")
    assert float(value) == f(xn.copy())
    np.testing.assert_allclose(np.asarray(g), pb.gradient(f, xn)[0])
