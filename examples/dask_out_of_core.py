"""The gradient of a batched FFT loss over more data than the cluster's memory, with Dask.

A stack of ``size x size`` float32 images, generated lazily by ``dask.array.random``
(a fixed seed, so any chunk can be regenerated), is filtered in Fourier space:

    L(x) = sum_i || irfft2(rfft2(x_i) * w) ||^2

``pb.value_and_gradient(L, x)`` returns the loss and the gradient as lazy Dask arrays
(the gradient with ``x``'s chunks); nothing is computed until Dask is asked. Each chunk
holds whole images, so every transform runs inside one task and the gradient streams
chunk by chunk: forward transform, adjoint transforms, gradient, reduction.

By default the data are first held by the cluster (``persist``), as a data set
loaded once and used for many gradient steps would be: with more data than the
workers' memory limits, Dask spills chunks to disk and reads them back for the
gradient. ``--no-persist`` regenerates the data inside the gradient's tasks instead.

Run (prints the dashboard link, then the measurements)::

    python examples/dask_out_of_core.py                 # 10 GiB on 2 workers x 2 GiB
    python examples/dask_out_of_core.py --quick         # 0.5 GiB on 2 workers x 1 GiB, seconds
    python examples/dask_out_of_core.py --scheduler tcp://10.0.0.5:8786   # a remote cluster

The same code runs on a remote cluster: ``Client("tcp://scheduler:8786")`` instead of
a ``LocalCluster`` (workers need pullback installed, the same version as the client).
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

import pullback as pb

GIB = 1024.0**3


def lowpass(size: int) -> np.ndarray:
    """A real Gaussian low-pass filter on the rfft2 grid of a ``size x size`` image (float32)."""
    ky = np.fft.fftfreq(size)[:, None]
    kx = np.fft.rfftfreq(size)[None, :]
    return np.exp(-(kx**2 + ky**2) / (2 * 0.05**2)).astype(np.float32)


def loss(x, w):
    """sum over the stack of |irfft2(rfft2(x) * w)|^2."""
    return np.sum(image_losses(x, w))


def image_losses(x, w):
    """Each image's |irfft2(rfft2(x_i) * w)|^2 (a vector: the loss is its sum)."""
    y = np.fft.irfft2(np.fft.rfft2(x) * w, s=x.shape[-2:])
    return np.sum(y * y, axis=(-2, -1), dtype=np.float64)


def _worker_stats(dask_worker=None):
    """Peak resident memory of this worker process and the bytes its SpillBuffer wrote to disk."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    metrics = getattr(dask_worker.data, "cumulative_metrics", {}) if dask_worker is not None else {}
    spilled = sum(v for (label, unit), v in metrics.items() if label == "disk-write" and unit == "bytes")
    return {"peak_rss": peak, "spilled": spilled}


def run(gib: float = 10.0, size: int = 2048, per_chunk: int = 2, n_workers: int = 2,
        memory_limit: str = "2GiB", persist: bool = True, scheduler: str | None = None,
        check: bool = True, verbose: bool = True) -> dict:
    """Compute the loss and the gradient's norm over ``gib`` GiB of images; returns the measurements."""
    import dask
    import dask.array as da
    from distributed import Client, LocalCluster

    n = max(per_chunk, int(round(gib * GIB / (4 * size * size)) // per_chunk * per_chunk))
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                               memory_limit=memory_limit, dashboard_address=":0")
        client = Client(cluster)
    else:
        client = Client(scheduler)
    try:
        if verbose:
            print(f"dashboard: {client.dashboard_link}", flush=True)
        limit = sum(w["memory_limit"] for w in client.scheduler_info()["workers"].values())
        x = da.random.default_rng(0).standard_normal((n, size, size), dtype=np.float32,
                                                     chunks=(per_chunk, size, size))
        w = lowpass(size)
        if verbose:
            print(f"data: {n} images of {size}x{size} float32 = {x.nbytes / GIB:.2f} GiB in chunks of "
                  f"{per_chunk * size * size * 4 / 2**20:.0f} MiB; cluster memory limit "
                  f"{limit / GIB:.2f} GiB ({len(client.scheduler_info()['workers'])} workers)", flush=True)
        t0 = time.perf_counter()
        if persist:
            x = x.persist()
            from distributed import wait

            wait(x)
        t1 = time.perf_counter()
        # The gradient of loss = sum(image_losses), as pb.gradient(loss, x, w=w)[0] gives it, from the
        # pullback of the per-image losses: the loss value and the gradient's norm then come from one
        # reduction over the stack, which Dask orders chunk by chunk. (Computed together with the
        # gradient, the separate reduction of a scalar loss made Dask's ordering keep every chunk's
        # forward value in memory until the end.)
        losses, back = pb.pullback(image_losses, x, w=w)
        (g,) = back(np.ones_like(losses))
        assert isinstance(g, da.Array) and g.chunks == x.chunks  # lazy, with x's chunks
        per_image = da.stack([losses, da.sum(g.astype(np.float64) ** 2, axis=(-2, -1))])
        totals, first = dask.compute(per_image.sum(axis=1), g[:1])
        value, gnorm2 = totals
        t2 = time.perf_counter()
        stats = client.run(_worker_stats)
        result = {
            "images": n, "size": size, "data_gib": x.nbytes / GIB, "limit_gib": limit / GIB,
            "workers": len(stats), "persist_s": t1 - t0, "gradient_s": t2 - t1, "wall_s": t2 - t0,
            "loss": float(value), "grad_norm": float(np.sqrt(gnorm2)),
            "peak_rss_gib": [s["peak_rss"] / GIB for s in stats.values()],
            "spilled_gib": sum(s["spilled"] for s in stats.values()) / GIB,
        }
        if check:  # the first image's gradient against pullback's NumPy gradient
            x0 = np.asarray(x[:1])
            want = pb.gradient(loss, x0, w=w)[0]
            result["max_rel_err"] = float(np.abs(first - want).max() / np.abs(want).max())
        if verbose:
            print(f"wall {result['wall_s']:.1f} s (persist {result['persist_s']:.1f} s, loss + gradient "
                  f"{result['gradient_s']:.1f} s); spilled {result['spilled_gib']:.2f} GiB to disk; peak "
                  f"RSS per worker " + ", ".join(f"{p:.2f}" for p in result["peak_rss_gib"]) + " GiB",
                  flush=True)
            print(f"loss {result['loss']:.6e}, |gradient| {result['grad_norm']:.6e}"
                  + (f", first image vs NumPy: {result['max_rel_err']:.1e}" if check else ""), flush=True)
        return result
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--gib", type=float, default=10.0, help="data size in GiB (default 10)")
    p.add_argument("--size", type=int, default=2048, help="image side (default 2048)")
    p.add_argument("--per-chunk", type=int, default=2, help="images per chunk (default 2: 32 MiB)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--memory-limit", default="2GiB", help="per worker (default 2GiB)")
    p.add_argument("--no-persist", action="store_true", help="regenerate the data inside the gradient")
    p.add_argument("--scheduler", help="address of a running scheduler (tcp://host:8786)")
    p.add_argument("--quick", action="store_true", help="0.5 GiB, 1 GiB per worker: a smoke test")
    a = p.parse_args(argv)
    if a.quick:
        a.gib, a.memory_limit = 0.5, "1GiB"
    return run(a.gib, a.size, a.per_chunk, a.workers, a.memory_limit, not a.no_persist, a.scheduler)


if __name__ == "__main__":
    main()
