"""Where pullback's per-operation tape overhead goes, on W3 (benchmarks/peers.py).

W3: x float64[64], k float64[33]; 100 times ``y = sin(irfft(rfft(y) * k, n=64))``; ``L = sum(y)``:
400 traced operations and a sum. Prints min-of-N times (process time, which a shared machine
disturbs least) of NumPy's plain forward, pullback's traced forward (``pb.gradient``'s forward
pass alone, with no sweep) and the gradient, and the overhead per operation,
``(gradient - 2 x forward) / 400``; ``--profile`` adds a cProfile of the gradient.

Run:  python benchmarks/profile_overhead.py [--reps N] [--profile] [--sort tottime]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time

import numpy as np

N, STEPS = 64, 100
OPS = 4 * STEPS


def loss(x, k):
    y = x
    for _ in range(STEPS):
        y = np.sin(np.fft.irfft(np.fft.rfft(y) * k, n=N))
    return np.sum(y)


def inputs():
    rng = np.random.default_rng(1003)
    x = rng.standard_normal(N)
    k = np.exp(-((np.arange(N // 2 + 1) / (N / 8)) ** 2)) * 1.5
    return x, k


def best(fn, reps, inner=1):
    """Min over ``reps`` of the process time of ``inner`` calls, per call (seconds)."""
    out = float("inf")
    for _ in range(reps):
        t = time.process_time()
        for _ in range(inner):
            fn()
        out = min(out, (time.process_time() - t) / inner)
    return out


def traced_forward(x, k):
    """The forward pass as ``pb.gradient`` runs it, without the sweep."""
    from pullback.core import ReverseTrace

    trace = ReverseTrace()
    try:
        return loss(trace.new(x), k)
    finally:
        trace.finish()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--sort", default="tottime")
    ap.add_argument("--lines", type=int, default=35)
    a = ap.parse_args(argv)
    import pullback as pb

    x, k = inputs()
    f = lambda x: loss(x, k)  # noqa: E731
    plain = lambda: f(x)  # noqa: E731
    fwd = lambda: traced_forward(x, k)  # noqa: E731
    grad = lambda: pb.gradient(f, x)  # noqa: E731
    for fn in (plain, fwd, grad):
        fn()
    tp = best(plain, a.reps, 3)
    tf = best(fwd, a.reps, 3)
    tg = best(grad, a.reps, 3)
    print(f"numpy forward    {tp * 1e3:7.3f} ms")
    print(f"traced forward   {tf * 1e3:7.3f} ms   (+{(tf - tp) / OPS * 1e6:5.2f} us/op over NumPy)")
    print(f"gradient         {tg * 1e3:7.3f} ms   (sweep {(tg - tf) * 1e3:.3f} ms)")
    print(f"W3 overhead      {(tg - 2 * tp) / OPS * 1e6:5.2f} us/op  (gradient - 2 x numpy forward) / {OPS}")
    if a.profile:
        pr = cProfile.Profile()
        pr.enable()
        for _ in range(20):
            grad()
        pr.disable()
        pstats.Stats(pr, stream=sys.stdout).sort_stats(a.sort).print_stats(a.lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
