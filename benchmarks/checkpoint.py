"""Peak memory and time of the gradient of a deep spectral chain, with and without pb.checkpoint.

The chain is ``depth`` blocks of ``x -> tanh(irfft(rfft(x) * k, n))`` on float64[n]
(default: 50 blocks on 2^20 values), then ``sum(x**2)``; the filter ``k`` is a constant.
Strategies:

- ``none``: plain reverse mode; the tape keeps what every rule's pullback needs.
- ``every block``: ``pb.checkpoint`` around each block; the tape keeps each block's input
  and the backward pass recomputes one block at a time.
- ``segments of s``: ``pb.checkpoint`` around runs of ``s`` blocks (plain inside); the tape
  keeps ``depth/s`` inputs, the backward pass rebuilds one segment's tape at a time.
- ``segments of s, nested``: the same with each block inside the segment checkpointed too.

Memory is the peak of tracemalloc (NumPy reports its buffers to it) above the baseline, and the
peak resident set (VmHWM) as a cross-check; time is the median over ``--reps`` calls after one
warm-up, taken without tracemalloc. Every strategy's gradient is compared with the plain one.

Run:  python benchmarks/checkpoint.py [--quick] [--n 1048576] [--depth 50] [--segments 5,7,10]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench_common as C  # noqa: E402
import numpy as np  # noqa: E402

C.ensure_pullback_importable()
import pullback as pb  # noqa: E402


def make_block(k):
    def block(x):
        return np.tanh(np.fft.irfft(np.fft.rfft(x) * k, n=x.shape[-1]))

    return block


def make_segment(block, s):
    def segment(x):
        for _ in range(s):
            x = block(x)
        return x

    return segment


def chain_loss(steps):
    """``sum(x**2)`` after applying each callable of ``steps`` in turn."""

    def loss(x):
        for step in steps:
            x = step(x)
        return np.sum(x**2)

    return loss


def strategies(block, depth: int, segments: list[int]) -> dict:
    out = {
        "none": chain_loss([block] * depth),
        "every block": chain_loss([pb.checkpoint(block)] * depth),
    }
    for s in segments:
        if s <= 1 or depth % s:
            continue
        out[f"segments of {s}"] = chain_loss([pb.checkpoint(make_segment(block, s))] * (depth // s))
        inner = pb.checkpoint(block)
        out[f"segments of {s}, nested"] = chain_loss([pb.checkpoint(make_segment(inner, s))] * (depth // s))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="2^15 values, 20 blocks, 3 repetitions")
    ap.add_argument("--n", type=int, default=None, help="values per signal (default 2^20)")
    ap.add_argument("--depth", type=int, default=None, help="blocks (default 50; 20 with --quick)")
    ap.add_argument("--segments", default=None, help="segment lengths, e.g. 5,7,10 (default 5,10)")
    ap.add_argument("--reps", type=int, default=None, help="timed repetitions (default 5; 3 with --quick)")
    a = ap.parse_args(argv)
    n = a.n or (2**15 if a.quick else 2**20)
    depth = a.depth or (20 if a.quick else 50)
    segments = [int(s) for s in a.segments.split(",")] if a.segments else ([5, 10] if depth % 10 == 0 else [])
    reps = a.reps or (3 if a.quick else 5)

    rng = np.random.default_rng(0)
    x = rng.standard_normal(n)
    f = np.arange(n // 2 + 1) / n
    k = np.exp(-20.0 * f) * (1.0 + 0.5j * f)  # a smooth low-pass filter
    block = make_block(k)
    losses = strategies(block, depth, segments)
    signal_mib = x.nbytes / C.MIB

    fwd = C.median_times({"numpy": lambda: losses["none"](x),
                          "rules": lambda: pb.jvp(losses["none"], (x,), (None,))}, reps, warmup=1)
    forward_time = fwd["numpy"]
    ref = pb.gradient(losses["none"], x)[0]
    rows = []
    for name, loss in losses.items():

        def grad(loss=loss):
            return pb.gradient(loss, x)[0]

        g = grad()
        err = float(np.max(np.abs(g - ref)) / np.max(np.abs(ref)))
        del g
        trace_mib = C.peak_tracemalloc_mib(grad)
        rss_mib, how = C.peak_rss_mib(grad)
        t = C.median_time(grad, reps, warmup=0)
        rows.append([name, C.fmt(trace_mib), C.fmt(trace_mib / signal_mib, 3), C.fmt(rss_mib),
                     C.fmt(t), C.fmt(t / forward_time, 3), f"{err:.0e}"])
        print(f"  {name:26s} peak {trace_mib:9.1f} MiB (tracemalloc), {rss_mib:9.1f} MiB ({how}), "
              f"{t:.3g} s", flush=True)

    headers = ["checkpointing", "peak MiB (tracemalloc)", "peak / signal", f"peak MiB ({how})",
               "gradient s", "grad / fwd", "rel err"]
    table = C.markdown_table(headers, rows)
    text = (f"# Gradient of {depth} blocks of tanh(irfft(rfft(x) * k)) on float64[{n}]\n\n"
            f"{C.machine_line()}\n\nOne signal is {signal_mib:.3g} MiB. The forward pass alone takes "
            f"{forward_time:.3g} s in plain NumPy ('grad / fwd' divides by this) and {fwd['rules']:.3g} s "
            "through pullback's rules (a jvp with a zero tangent: the FFT engine pullback uses for traced "
            "values, which is what the forward pass of a checkpoint and its recomputation run). "
            f"Times are medians of {reps} after a warm-up.\n\n"
            f"{table}\n\n'peak / signal' counts how many signal-sized buffers are alive at the peak. "
            "rel err: max |g - g_plain| / max |g_plain|.\n")
    print("\n" + text)
    out = C.results_dir() / ("checkpoint_quick.md" if a.quick else "checkpoint.md")
    out.write_text(text)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
