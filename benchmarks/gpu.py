"""pullback on CuPy (GPU) arrays beside PyTorch on CUDA, on peers.py's workloads.

The same seeded inputs as ``peers.py`` (moved to the GPU), the same losses. For
each library: its gradient checked against pullback's on NumPy (relative error),
then the forward pass and the gradient timed interleaved (median of ``--reps``
after warm-up, each call ending with a device synchronisation). Libraries run
only when installed and a GPU is present; nothing here runs in the test suite.

Run:  python benchmarks/gpu.py [--only W1,W2] [--reps 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench_common as C  # noqa: E402
import numpy as np  # noqa: E402
import peers  # noqa: E402

C.ensure_pullback_importable()
import pullback as pb  # noqa: E402


def _median_times(fns: dict, sync, reps: int, warmup: int) -> dict:
    for _ in range(warmup):
        for fn in fns.values():
            fn()
            sync()
    samples: dict = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            sync()
            samples[name].append(time.perf_counter() - t0)
    return {name: statistics.median(s) for name, s in samples.items()}


def _rel(got, want) -> float:
    return max(float(np.max(np.abs(g - w)) / max(np.max(np.abs(w)), 1e-300)) for g, w in zip(got, want))


def run_cupy(wl, args, consts, static, want, reps, warmup):
    import cupy as cp

    loss = peers.LOSSES[wl]
    a = [cp.asarray(v) for v in args]
    c = {k: cp.asarray(v) for k, v in consts.items()}
    f = lambda *v: loss(np, *v, **c, **static)
    got = [cp.asnumpy(g) for g in pb.gradient(f, *a)]
    t = _median_times({"forward": lambda: f(*a), "gradient": lambda: pb.gradient(f, *a)},
                      cp.cuda.Device().synchronize, reps, warmup)
    return t, _rel(got, want)


def run_torch(wl, args, consts, static, want, reps, warmup):
    import torch

    loss = peers.LOSSES[wl]
    dev = "cuda"
    a = [torch.tensor(v, device=dev) for v in args]
    c = {k: torch.tensor(v, device=dev) for k, v in consts.items()}
    f = lambda *v: loss(torch, *v, **c, **static)

    def gradient():
        leaves = [v.detach().requires_grad_() for v in a]
        return torch.autograd.grad(f(*leaves), leaves)

    got = [g.cpu().numpy() for g in gradient()]
    t = _median_times({"forward": lambda: f(*a), "gradient": gradient}, torch.cuda.synchronize, reps, warmup)
    return t, _rel(got, want)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="W1,W2,W4")
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args(argv)
    libs = {"pullback+cupy": ("cupy", run_cupy), "torch cuda": ("torch", run_torch)}
    rows = []
    for wl in [w.strip().upper() for w in a.only.split(",") if w.strip()]:
        args, consts, static = peers.make_inputs(wl, "full")
        on_cpu = lambda *v, wl=wl: peers.LOSSES[wl](np, *v, **consts, **static)
        want = [np.asarray(g) for g in pb.gradient(on_cpu, *args)]
        for name, (module, run) in libs.items():
            if not C.have(module):
                continue
            try:
                t, err = run(wl, args, consts, static, want, a.reps, a.warmup)
            except Exception as e:  # noqa: BLE001 - a library that cannot run here is a result
                rows.append([wl, name, "-", "-", "-", f"{type(e).__name__}: {str(e)[:60]}"])
                continue
            rows.append([wl, name, C.fmt(t["forward"] * 1e3), C.fmt(t["gradient"] * 1e3),
                         C.fmt(t["gradient"] / t["forward"], 2), f"{err:.1e}"])
            print(f"{wl} {name}: gradient {t['gradient'] * 1e3:.3g} ms", flush=True)
    print()
    headers = ["workload", "library", "forward ms", "gradient ms", "grad/fwd", "rel. err vs NumPy"]
    print(C.markdown_table(headers, rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
