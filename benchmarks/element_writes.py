"""The gradient of a loop of N single-element writes costs O(N) in all, not O(N^2).

The program is a linear recurrence written the way NumPy code often is, an element at a time:

    y = np.zeros_like(x); y[0] = x[0]
    for i in range(1, N): y[i] = 0.5 * y[i - 1] + x[i]
    loss = sum(y ** 2)

For N from 10^3 to 10^5 it times the plain NumPy loop and pullback's gradient (best of
``--reps``), and fits the slope of log(time) against log(N): 1 is linear, 2 quadratic.
A functional update that copied ``y`` at each write (pullback before its write log)
would show a slope near 2 as soon as the copies dominate.

Run:  python benchmarks/element_writes.py [--reps 3] [--sizes 1000,3000,10000,30000,100000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench_common as C  # noqa: E402
import numpy as np  # noqa: E402


def loss(x):
    y = np.zeros_like(x)
    y[0] = x[0]
    for i in range(1, len(x)):
        y[i] = 0.5 * y[i - 1] + x[i]
    return np.sum(y**2)


def best(fn, reps):
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def slope(sizes, times):
    """Least-squares slope of log(time) against log(size)."""
    return float(np.polyfit(np.log(sizes), np.log(times), 1)[0])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--sizes", default="1000,3000,10000,30000,100000")
    a = ap.parse_args(argv)
    C.ensure_pullback_importable()
    import pullback as pb

    sizes = [int(s) for s in a.sizes.split(",")]
    rows, plain, grads = [], [], []
    for n in sizes:
        x = np.random.default_rng(n).standard_normal(n)
        tp = best(lambda: loss(x), a.reps)
        tg = best(lambda: pb.gradient(loss, x), a.reps)
        plain.append(tp)
        grads.append(tg)
        rows.append([f"{n:,}", C.fmt(tp * 1e3), C.fmt(tg * 1e3), C.fmt(tg / tp, 2), C.fmt(tg / n * 1e6, 2)])
    print(f"# a loop of N element writes: gradient time, best of {a.reps}\n")
    print(C.machine_line() + "\n")
    print(C.markdown_table(["N", "NumPy loop ms", "gradient ms", "gradient / loop", "gradient us per write"],
                           rows))
    print(f"\nlog-log slope: NumPy loop {slope(sizes, plain):.2f}, gradient {slope(sizes, grads):.2f} "
          "(1 = linear, 2 = quadratic)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
