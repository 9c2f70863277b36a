"""Image registration by gradient descent through scipy.ndimage.

A moving image is aligned to a fixed one in two stages, both written with plain SciPy calls:
first a translation through ``ndimage.shift`` (the gradient w.r.t. the shift is exact: the
derivative of the cubic B-spline), then a small affine correction through
``ndimage.map_coordinates`` on a coordinate grid built with NumPy. Both images are smoothed
with ``ndimage.gaussian_filter`` inside the loss (a coarse-to-fine blur widens the basin).
Writes ``image_registration.png`` when matplotlib is installed.
Run: ``python examples/image_registration.py [n] [iterations]``.
"""

from __future__ import annotations

import sys

import numpy as np
from scipy import ndimage

import pullback as pb


def blobs(n: int, seed: int = 0) -> np.ndarray:
    """A smooth test image: a few Gaussian blobs."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:n, 0:n] / n
    img = np.zeros((n, n))
    for cy, cx, r, a in zip(rng.uniform(0.25, 0.75, 6), rng.uniform(0.25, 0.75, 6),
                            rng.uniform(0.05, 0.12, 6), rng.uniform(0.5, 1.0, 6)):
        img += a * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
    return img


def warp(img: np.ndarray, params: np.ndarray) -> np.ndarray:
    """``img`` sampled at ``(I + A) p + t`` (about the centre): params = [t0, t1, a00, a01, a10, a11]."""
    n = img.shape[0]
    grid = np.indices(img.shape, dtype=float) - (n - 1) / 2
    a = np.reshape(params[2:], (2, 2)) + np.eye(2)
    coords = np.tensordot(a, grid, axes=1) + (n - 1) / 2 + np.reshape(params[:2], (2, 1, 1))
    return ndimage.map_coordinates(img, coords, order=3, mode="nearest")


def shift_loss(s, moving, fixed, *, sigma):
    moved = ndimage.shift(moving, s, order=3, mode="nearest")
    diff = ndimage.gaussian_filter(moved - fixed, sigma)
    return np.mean(diff ** 2)


def affine_loss(params, moving, fixed):
    return np.mean((warp(moving, params) - fixed) ** 2)


def main(n: int = 64, iterations: int = 60, plot: str | None = None) -> float:
    fixed = blobs(n)
    truth = np.array([2.6, -3.1, 0.04, -0.05, 0.03, 0.02])
    affine_only = np.concatenate([[0.0, 0.0], truth[2:]])
    moving = ndimage.shift(warp(fixed, affine_only), truth[:2], order=3, mode="nearest")
    first = float(affine_loss(np.zeros(6), moving, fixed))

    # stage 1: translation, coarse to fine
    s = np.zeros(2)
    for sigma in (3.0, 1.0):
        step = 40.0 * n * n / 4096
        for _ in range(iterations // 2):
            s = s - step * pb.gradient(shift_loss, s, moving, fixed, sigma=sigma)[0]
    # stage 2: affine (inverse map: warp(moving) ~ fixed), started from the translation found
    params = np.concatenate([-s, np.zeros(4)])
    grad = pb.grad(affine_loss)
    scale = np.array([1.0, 1.0, 1e-3, 1e-3, 1e-3, 1e-3]) * 30.0
    for _ in range(iterations):
        params = params - scale * grad(params, moving, fixed)
    last = float(affine_loss(params, moving, fixed))
    print(f"image registration n={n}: shift found {np.round(-s, 2)} (true {truth[:2]}); "
          f"misfit {first:.3e} -> {last:.3e}")
    if plot:
        _plot(plot, fixed, moving, warp(moving, params))
    return last / first


def _plot(path, fixed, moving, registered) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(1, 3, figsize=(9, 3))
    for ax, img, title in zip(axes, (fixed, moving, registered), ("fixed", "moving", "registered")):
        ax.imshow(img, cmap="gray")
        ax.set_title(title)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print(f"wrote {path}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]), plot="image_registration.png")
