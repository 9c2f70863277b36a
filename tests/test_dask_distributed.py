"""Gradients of Dask programs on a distributed cluster of worker processes.

One small ``LocalCluster`` (2 processes, 1 thread each) serves the whole module. Every
rule family runs on arrays split into several chunks along every axis: the gradient is a
lazy Dask array with its argument's chunks, its graph pickles (worker processes need
that), and computed on the cluster it equals the NumPy gradient.
"""

import pickle
import threading

import numpy as np
import pytest
import scipy.fft as sfft

import pullback as pb

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

RNG = np.random.default_rng(0)
X = RNG.standard_normal((6, 8))
Z = X + 1j * RNG.standard_normal((6, 8))
A = RNG.standard_normal((6, 6)) + 6 * np.eye(6)
W = RNG.standard_normal((8, 5))
K = np.exp(-np.arange(5) / 2.0)  # a filter for 8-point half spectra


def _writes(x):
    y = x * 2.0
    y[0:2, 1:3] = x[3:5, 4:6]
    v = y.T
    v *= 3.0
    y[1] += 1.0
    return np.sum(y**2)


#: name -> (loss, argument, chunks): every family of rules, on arrays split along every axis
CASES = {
    # elementwise, reductions
    "elementwise": (
        lambda x: np.sum(np.sin(x) * np.exp(x) / (1 + x**2) + np.abs(x + 1j * x[::-1])),
        X,
        (3, 4),
    ),
    "reductions": (lambda x: np.mean(x**2) + np.max(x) + np.sum(np.std(x, axis=0)) + np.var(x), X, (3, 4)),
    "cumulative": (
        lambda x: np.sum(np.cumsum(x, axis=1) ** 2) + np.sum(np.cumprod(x[:, :3], axis=1)),
        X,
        (3, 4),
    ),
    # shapes and indexing
    "shapes": (
        lambda x: (
            np.sum(np.stack([x, np.roll(x, 2, axis=1)]) ** 2)
            + np.sum(np.pad(np.flip(x, 0), 1) * np.arange(10.0))
            + np.sum(x.reshape(2, 3, 8)[1] ** 3)
            + np.sum(np.ravel(x)[::5])
        ),
        X,
        (3, 4),
    ),
    "indexing": (
        lambda x: (
            np.sum(x[2:5, ::2] * x[:3, 1::2])
            + np.sum(x[[0, 2, 2, 5]] ** 2)
            + np.sum(np.take(x, [1, 3, 3], axis=1))
        ),
        X,
        (3, 4),
    ),
    "where, clip, diff": (
        lambda x: (
            np.sum(np.where(x > 0, x, 2 * x) ** 2)
            + np.sum(np.clip(x, -0.5, 0.5))
            + np.sum(np.diff(x, axis=1) ** 2)
        ),
        X,
        (3, 4),
    ),
    "writes through views": (_writes, X, (3, 4)),
    # linear algebra that dask.array has
    "matmul, einsum, tensordot": (
        lambda x: (
            np.sum((x @ W) ** 2)
            + np.sum(np.einsum("ij,jk->ik", x, W))
            + np.sum(np.tensordot(x, x, axes=([1], [1])))
        ),
        X,
        (3, 4),
    ),
    "solve, inv, norm": (
        lambda a: (
            np.sum(np.linalg.solve(a, np.arange(6.0)) ** 2) + np.sum(np.linalg.inv(a)) + np.linalg.norm(a)
        ),
        A,
        (3, 3),
    ),
    "qr": (  # a loss that Dask's signs (which may differ from NumPy's) do not change
        lambda a: np.sum(np.linalg.qr(a)[1] ** 2) + np.sum(np.linalg.qr(a)[0][:, 1] ** 2 * np.arange(6.0)),
        A[:, :4],
        (3, 4),
    ),
    "cholesky": (lambda a: np.sum(np.linalg.cholesky(a @ a.T + np.eye(6)) * np.arange(6.0)), A, (3, 3)),
    "svd values": (lambda a: np.sum(np.linalg.svd(a, compute_uv=False)), A[:, :4], (3, 4)),
    # numpy.fft, every function, transforms along split axes
    "np fft, ifft": (
        lambda z: np.sum(np.abs(np.fft.fft(z, axis=0)) ** 2) + np.sum(np.abs(np.fft.ifft(z, n=5)) ** 3),
        Z,
        (3, 4),
    ),
    "np fft2, ifftn (s)": (
        lambda z: (
            np.sum(np.abs(np.fft.fft2(z, s=(7, 10))) ** 2)
            + np.sum(np.abs(np.fft.ifftn(z, norm="ortho")) ** 3)
        ),
        Z,
        (3, 4),
    ),
    "np rfft * k, irfft": (lambda x: np.sum(np.fft.irfft(np.fft.rfft(x) * K, n=8) ** 3), X, (3, 4)),
    "np rfft2, irfft2": (
        lambda x: np.sum(np.fft.irfft2(np.fft.rfft2(x) * 0.5, s=(6, 8)) ** 2 * x),
        X,
        (3, 4),
    ),
    "np rfftn, irfftn": (
        lambda x: np.sum(np.fft.irfftn(np.fft.rfftn(x, norm="forward"), s=(6, 8), norm="forward") ** 3),
        X,
        (3, 4),
    ),
    "np hfft, ihfft": (
        lambda z: np.sum(np.fft.hfft(z, n=10) ** 2) + np.sum(np.abs(np.fft.ihfft(z.real, axis=0)) ** 2),
        Z,
        (3, 4),
    ),
    "np fftshift": (
        lambda z: (
            np.sum(np.abs(np.fft.fftshift(np.fft.ifft(z, axis=0), axes=0)[1:]) ** 2)
            + np.sum(np.abs(np.fft.ifftshift(z) * z))
        ),
        Z,
        (3, 4),
    ),
    # scipy.fft, every function
    "scipy fft, ifft, fftn": (
        lambda z: (
            np.sum(np.abs(sfft.fftn(z, norm="ortho")) ** 2 * np.arange(8))
            + np.sum(np.abs(sfft.ifft(sfft.fft(z, axis=0), n=9)) ** 3)
        ),
        Z,
        (3, 4),
    ),
    "scipy fft2, ifft2": (lambda z: np.sum(np.abs(sfft.ifft2(sfft.fft2(z) * np.arange(8))) ** 3), Z, (3, 4)),
    "scipy rfft, irfft": (lambda x: np.sum(sfft.irfft(sfft.rfft(x, axis=0), n=7, axis=0) ** 3), X, (3, 4)),
    "scipy rfft2, irfftn": (lambda x: np.sum(sfft.irfftn(sfft.rfft2(x) * 2, s=(6, 8)) ** 3), X, (3, 4)),
    "scipy hfft, ihfft": (
        lambda z: np.sum(sfft.hfft(z) ** 2) + np.sum(np.abs(sfft.ihfft(z.real)) ** 3),
        Z,
        (3, 4),
    ),
    "scipy hfft2, ihfftn": (
        lambda z: np.sum(sfft.hfft2(z) ** 2) + np.sum(np.abs(sfft.ihfftn(z.real)) ** 3),
        Z,
        (3, 4),
    ),
    "dct, idct (types 1-4)": (
        lambda x: sum(
            np.sum(sfft.dct(x, type=t, axis=0) ** 2 * x) + np.sum(sfft.idct(x, type=t, norm="ortho") ** 3)
            for t in (1, 2, 3, 4)
        ),
        X,
        (3, 4),
    ),
    "dst, idst (types 1-4, n)": (
        lambda x: sum(
            np.sum(sfft.dst(x, type=t, n=10) ** 2) + np.sum(sfft.idst(x, type=t, axis=0, norm="forward") ** 3)
            for t in (1, 2, 3, 4)
        ),
        X,
        (3, 4),
    ),
    "dctn, idctn, dstn, idstn": (
        lambda x: (
            np.sum(sfft.dctn(x, type=1) * x)
            + np.sum(sfft.idctn(x, s=(7, 9)) ** 2)
            + np.sum(sfft.dstn(x, norm="ortho", orthogonalize=False) ** 3)
            + np.sum(sfft.idstn(x, type=3, norm="ortho") ** 3)
        ),
        X,
        (3, 4),
    ),
    "fht, ifht": (
        lambda x: np.sum(sfft.fht(x, 0.1, 0.5) ** 2) + np.sum(sfft.ifht(x, 0.1, 0.5, offset=0.2) ** 3),
        X,
        (3, 4),
    ),
}


@pytest.fixture(scope="module")
def client():
    """One cluster of 2 worker processes (1 thread each) for the module: graphs must pickle."""
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, memory_limit="1GiB", dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


#: Seconds a cluster computation may take before the test fails (a hung cluster must not hang CI).
TIME_LIMIT = 240


def _on_cluster(client, arrays):
    futures = client.compute(arrays)
    distributed.wait(futures, timeout=TIME_LIMIT)
    return client.gather(futures)


def _dask(x, chunks):
    return da.from_array(x, chunks=chunks)


def _close(got, want):
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * max(1.0, float(np.abs(want).max())))


@pytest.fixture(scope="module")
def gradients():
    """Every case's NumPy gradient and Dask gradient (built once, computed by the tests)."""
    out = {}
    for name, (f, x, chunks) in CASES.items():
        out[name] = pb.gradient(f, x)[0], pb.gradient(f, _dask(x, chunks))[0]
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_gradient_is_lazy_with_the_arguments_chunks_and_pickles(name, gradients):
    want, g = gradients[name]
    x = _dask(CASES[name][1], CASES[name][2])
    assert isinstance(g, da.Array)
    assert g.chunks == x.chunks and g.dtype == x.dtype
    g = pickle.loads(pickle.dumps(g))  # plain pickle (no cloudpickle): what worker processes receive
    _close(g.compute(scheduler="threads"), want)


#: Every case runs on the cluster of processes too (a task costs ~15 ms there on a loaded 2-core
#: machine; the whole list computes in one client.compute).
CLUSTER = list(CASES)


def test_gradients_equal_numpys_on_a_cluster_of_processes(client, gradients):
    results = _on_cluster(client, [gradients[n][1] for n in CLUSTER])
    for name, got in zip(CLUSTER, results):
        _close(got, gradients[name][0])


def test_pullback_jvp_hvp_on_the_cluster(client):
    f = lambda x: np.fft.irfft2(np.fft.rfft2(x) * np.cos(np.arange(5.0))) * sfft.dct(x, axis=0)
    loss = lambda x: np.sum(f(x) ** 2)
    ct, t = RNG.standard_normal((2, 6, 8))
    dx, dct_, dt = (_dask(v, (3, 4)) for v in (X, ct, t))
    value, back = pb.pullback(f, dx)
    (g,) = back(dct_)
    jv, jt = pb.jvp(f, (dx,), (dt,))
    (h,) = pb.hvp(loss, (dx,), (dt,))
    assert all(isinstance(r, da.Array) for r in (value, g, jv, jt, h))
    assert g.chunks == h.chunks == dx.chunks  # gradients: the argument's chunks
    assert jt.chunks == jv.chunks  # a tangent: its value's chunks (here whole along the transformed axes)
    got = _on_cluster(client, [value, g, jv, jt, h])
    want_value, want_back = pb.pullback(f, X)
    want = [want_value, want_back(ct)[0], *pb.jvp(f, (X,), (t,)), pb.hvp(loss, (X,), (t,))[0]]
    for a, b in zip(got, want):
        _close(a, b)


def test_transforms_of_split_axes_rechunk_and_come_back():
    x = _dask(X, (2, 3))  # the transform spans 3 chunks along each axis
    g = pb.gradient(lambda x: np.sum(np.abs(np.fft.fft2(x)) ** 2), x)[0]
    assert g.chunks == x.chunks
    _close(g.compute(scheduler="sync"), 2 * X.size * X)


def test_dct_of_a_dask_array_stays_lazy():
    x = _dask(X, (3, 4))
    value, tangent = pb.jvp(lambda x: sfft.dct(x, axis=0), (x,), (x,))
    assert isinstance(value, da.Array) and isinstance(tangent, da.Array)
    assert tangent.chunks == value.chunks
    _close(tangent.compute(scheduler="sync"), sfft.dct(X, axis=0))


def _block_gradient(block):
    """The NumPy path inside a Dask task: block cache, in-place cotangents, threaded FFTs."""
    k = np.cos(np.arange(block.shape[-1] // 2 + 1))
    f = lambda x: np.sum(np.fft.irfft2(np.fft.rfft2(x) * k, s=x.shape[-2:]) ** 2) + np.sum(sfft.dctn(x) ** 2)
    return pb.gradient(f, block)[0]


def test_many_concurrent_tasks_agree_with_a_serial_run():
    """pullback's reuse tricks under Dask's multithreaded scheduler: 32 tasks, 8 threads.

    Inside a Dask graph of pullback's own making no reuse trick runs (they test for NumPy
    arrays); a user's task that calls pb.gradient on its NumPy block uses all of them,
    concurrently with the other threads' tasks. Blocks of 2 MiB exercise the block cache.
    """
    x = np.random.default_rng(5).standard_normal((32, 256, 256)).astype(np.float32)
    want = np.concatenate([_block_gradient(x[i : i + 1]) for i in range(32)])
    d = da.from_array(x, chunks=(1, 256, 256))
    for _ in range(2):
        got = d.map_blocks(_block_gradient, dtype=np.float32).compute(scheduler="threads", num_workers=8)
        np.testing.assert_array_equal(got, want)
    # and gradients of pullback's own Dask graphs, built and computed from several threads at once
    f = CASES["np rfft2, irfft2"][0]
    want_g = pb.gradient(f, X)[0]
    errors = []

    def work():
        try:
            for _ in range(3):
                g = pb.gradient(f, _dask(X, (3, 4)))[0]
                _close(g.compute(scheduler="threads", num_workers=4), want_g)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
