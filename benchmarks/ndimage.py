"""Gradient / forward time ratios for scipy.ndimage under pullback.

Losses: ``sum(gaussian_filter(x, sigma, mode)**2)`` for a 512^2 float64 image, and
``sum(map_coordinates(x, coords, order)**2)`` for 10^5 random points in a 512^2 image, with the
gradient taken w.r.t. the image and w.r.t. the coordinates. The forward column is SciPy's
own plain call; the ratio is ``pb.gradient`` time over it (the ideal for a linear filter is
about 2: one forward, one adjoint filter of the same size).

Run:  python benchmarks/ndimage.py [--reps 7] [--size 512] [--points 100000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench_common as C  # noqa: E402

C.ensure_pullback_importable()

import numpy as np  # noqa: E402
import scipy.ndimage as nd  # noqa: E402

import pullback as pb  # noqa: E402


def cases(n: int, points: int):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, n))
    coords = rng.uniform(0, n - 1, (2, points))
    out = []
    for mode in ("reflect", "constant"):
        def fwd(a, mode=mode):
            return np.sum(nd.gaussian_filter(a, 3.0, mode=mode) ** 2)

        out.append((f"gaussian_filter {n}² σ=3 {mode}", lambda f=fwd: f(x), lambda f=fwd: pb.gradient(f, x)))
    for order in (1, 3):
        def img(a, order=order):
            return np.sum(nd.map_coordinates(a, coords, order=order, mode="mirror") ** 2)

        def crd(c, order=order):
            return np.sum(nd.map_coordinates(x, c, order=order, mode="mirror") ** 2)

        out.append((f"map_coordinates order {order}, 10^{int(np.log10(points))} pts, w.r.t. image",
                    lambda f=img: f(x), lambda f=img: pb.gradient(f, x)))
        out.append((f"map_coordinates order {order}, 10^{int(np.log10(points))} pts, w.r.t. coords",
                    lambda f=crd: f(coords), lambda f=crd: pb.gradient(f, coords)))
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--points", type=int, default=100_000)
    args = p.parse_args(argv)
    print("| loss | forward (ms) | gradient (ms) | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for name, fwd, grad in cases(args.size, args.points):
        t = C.median_times({"f": fwd, "g": grad}, reps=args.reps)
        print(f"| {name} | {t['f'] * 1e3:.2f} | {t['g'] * 1e3:.2f} | {t['g'] / t['f']:.2f} |")


if __name__ == "__main__":
    main()
