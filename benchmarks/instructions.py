"""Per-operation tape overhead of W3 in CPU instructions (callgrind), which VM noise does not move.

W3 is 100 x ``y = sin(irfft(rfft(y) * k, n=64))`` on float64[64]: 400 traced operations.
Each measurement runs the workload ``--low`` and ``--high`` times under
``valgrind --tool=callgrind`` (with ``PYTHONHASHSEED=0``) and takes the difference, so
start-up and imports cancel. Reported: instructions of one plain NumPy forward, one
traced forward (``pb.pullback``) and one gradient, and the gradient's overhead per
operation above twice the plain forward, the quantity issue 6's W3 target is about.

Run:  python benchmarks/instructions.py          (needs valgrind; about 5 minutes)
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

STEPS = 100
OPS = 4 * STEPS

WORKER = f"""
import sys
import numpy as np
import pullback as pb

rng = np.random.default_rng(0)
x = rng.standard_normal(64)
k = rng.standard_normal(33)


def loss(x):
    y = x
    for _ in range({STEPS}):
        y = np.sin(np.fft.irfft(np.fft.rfft(y) * k, n=64))
    return np.sum(y)


mode, reps = sys.argv[1], int(sys.argv[2])
for _ in range(3):  # warm caches (engine choice, rule tables)
    pb.gradient(loss, x)
    loss(x)
calls = {{
    "plain": lambda: loss(x),
    "traced": lambda: pb.pullback(loss, x),
    "gradient": lambda: pb.gradient(loss, x),
}}
call = calls[mode]
for _ in range(reps):
    call()
"""


def _instructions(mode: str, reps: int) -> int:
    src = str(Path(__file__).resolve().parent.parent / "src")
    path = os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, PYTHONHASHSEED="0", PYTHONPATH=path)
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-c", WORKER]
    cmd += [mode, str(reps)]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    found = re.search(r"Collected\s*:\s*(\d+)", run.stderr)
    if not found:
        raise RuntimeError("callgrind printed no instruction count:\n" + run.stderr[-2000:])
    return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--low", type=int, default=5)
    ap.add_argument("--high", type=int, default=15)
    ap.add_argument("--modes", default="plain,traced,gradient", help="a quick A/B: --modes gradient")
    a = ap.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed; nothing measured")
        return 0
    per = {}
    for mode in a.modes.split(","):
        per[mode] = (_instructions(mode, a.high) - _instructions(mode, a.low)) / (a.high - a.low)
        print(f"{mode:9s} {per[mode] / 1e6:8.2f} M instructions per call", flush=True)
    if "gradient" in per and "plain" in per:
        overhead = (per["gradient"] - 2 * per["plain"]) / OPS
        print(f"\nW3 overhead: (gradient - 2 x plain) / {OPS} = {overhead / 1e3:.1f} k instructions per op")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
