"""What interception costs a plain call: a tiny SciPy call with pullback's dispatcher in front of it
(the function's code replaced, ``pullback.intercept``) and with SciPy's own code restored.

The dispatcher scans the positional and keyword arguments for a traced value and otherwise calls the
original; the difference of the two timings is that cost (goal: under 1 µs per call).

Run:  python benchmarks/intercept.py [--number N]
"""

from __future__ import annotations

import argparse
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench_common as C  # noqa: E402

C.ensure_pullback_importable()

import numpy as np  # noqa: E402
import scipy.signal as S  # noqa: E402

import pullback  # noqa: E402, F401
from pullback import intercept  # noqa: E402

X8, K3 = np.arange(8.0), np.array([1.0, -2.0, 0.5])
B, A = np.array([0.2, 0.3]), np.array([1.0, -0.5])
CALLS = {
    "fftconvolve(x8, k3)": (S.fftconvolve, lambda f: f(X8, K3)),
    "convolve(x8, k3, method='direct')": (S.convolve, lambda f: f(X8, K3, method="direct")),
    "lfilter(b, a, x8)": (S.lfilter, lambda f: f(B, A, X8)),
    "detrend(x8)": (S.detrend, lambda f: f(X8)),
    "upfirdn(k3, x8, 2, 3)": (S.upfirdn, lambda f: f(K3, X8, 2, 3)),
}


def _tiny(a, b, mode="full"):
    return a


def interleaved(func, call, number, rounds):
    """Best time per call with the dispatcher and without, measured in alternation (a noisy,
    shared machine slows both alike)."""
    with_dispatch, without = [], []
    for _ in range(rounds):
        with_dispatch.append(timeit.timeit(lambda: call(func), number=number) / number)
        intercept.restore(func)
        try:
            without.append(timeit.timeit(lambda: call(func), number=number) / number)
        finally:
            intercept.route(func)
    return min(with_dispatch), min(without)


def main(number: int = 2000, rounds: int = 15) -> list[tuple[str, float, float]]:
    rows = []
    # the dispatcher alone, in front of a Python function that does nothing
    from pullback.rules import registry

    registry.register(_tiny, lambda *a, **k: None, "user")
    intercept.route(_tiny)
    rows.append(("a no-op Python function (the dispatcher alone)",
                 *interleaved(_tiny, lambda f: f(X8, K3, mode="same"), number * 20, rounds)))
    intercept.restore(_tiny)
    for name, (func, call) in CALLS.items():
        assert intercept.intercepted(func), name
        rows.append((name, *interleaved(func, call, number, rounds)))
    print("| plain call | with pullback (µs) | SciPy alone (µs) | added (µs) |")
    print("| --- | ---: | ---: | ---: |")
    for name, w, wo in rows:
        print(f"| `{name}` | {w * 1e6:.2f} | {wo * 1e6:.2f} | {(w - wo) * 1e6:+.2f} |")
    return rows


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--number", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=15)
    args = p.parse_args()
    main(args.number, args.rounds)
