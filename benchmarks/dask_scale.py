"""Dask: a gradient over more data than the cluster's memory, and its scaling from 1 to 2 workers.

The workload is ``examples/dask_out_of_core.py``'s: the loss
``sum |irfft2(rfft2(x) * w)|^2`` over a stack of 2048 x 2048 float32 images that
``dask.array.random`` generates lazily (fixed seed), its value and gradient (the
gradient's norm and its first image, checked against pullback's NumPy gradient).

Two measurements, each on a fresh ``LocalCluster`` of worker processes (1 thread each):

1. out of core: ``--gib`` (default 10) GiB held by the cluster (``persist``) on 2 workers
   of ``--memory-limit`` (default 2 GiB) each, so Dask spills to disk; wall time, bytes
   spilled, peak resident memory of each worker process;
2. scaling: the same gradient over ``--scale-gib`` (default 2) GiB, data generated inside
   the gradient's tasks (no persist), on 1 and then 2 workers.

Usage::

    python benchmarks/dask_scale.py            # both, a few minutes on 2 cores
    python benchmarks/dask_scale.py --quick    # 0.5 GiB / 0.25 GiB, 1 GiB per worker
    python benchmarks/dask_scale.py --skip-out-of-core

Timings on a shared machine are noisy; a machine with fewer cores than workers shows
no scaling at all.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def _example():
    path = HERE.parent / "examples" / "dask_out_of_core.py"
    spec = importlib.util.spec_from_file_location("dask_out_of_core", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(label: str, r: dict) -> str:
    peaks = ", ".join(f"{p:.2f}" for p in r["peak_rss_gib"])
    err = r.get("max_rel_err", float("nan"))
    return (f"| {label} | {r['workers']} | {r['data_gib']:.2f} | {r['limit_gib']:.2f} | {r['wall_s']:.1f} | "
            f"{r['gradient_s']:.1f} | {r['spilled_gib']:.2f} | {peaks} | {err:.1e} |")


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--gib", type=float, default=10.0)
    p.add_argument("--scale-gib", type=float, default=2.0)
    p.add_argument("--memory-limit", default="2GiB")
    p.add_argument("--size", type=int, default=2048)
    p.add_argument("--per-chunk", type=int, default=2)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--skip-out-of-core", action="store_true")
    a = p.parse_args(argv)
    if a.quick:
        a.gib, a.scale_gib, a.memory_limit = 0.5, 0.25, "1GiB"
    ex = _example()
    runs = []
    if not a.skip_out_of_core:
        r = ex.run(a.gib, a.size, a.per_chunk, 2, a.memory_limit, persist=True, verbose=True)
        runs.append(("out of core (persist)", r))
    for n in (1, 2):
        r = ex.run(a.scale_gib, a.size, a.per_chunk, n, a.memory_limit, persist=False, verbose=True)
        runs.append((f"scaling, {n} worker{'s' * (n > 1)}", r))
    lines = [
        f"machine: {os.cpu_count()} cores (shared with other work: timings are noisy)",
        "",
        "| run | workers | data GiB | cluster limit GiB | wall s | loss+gradient s | spilled GiB | "
        "peak RSS per worker GiB | first image vs NumPy |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
        *[_row(label, r) for label, r in runs],
    ]
    scaling = [r for label, r in runs if label.startswith("scaling")]
    if len(scaling) == 2:
        lines += ["", f"1 -> 2 workers: {scaling[0]['gradient_s'] / scaling[1]['gradient_s']:.2f}x"]
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dask_scale.md").write_text(text + "\n")
    (RESULTS / "dask_scale.json").write_text(json.dumps([{"run": label, **r} for label, r in runs], indent=1))
    return [r for _, r in runs]


if __name__ == "__main__":
    main()
