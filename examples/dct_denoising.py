"""Denoising by sparsity in the DCT domain, through ``scipy.fft.dctn``.

A smooth image with a few edges is corrupted by white noise. Natural images are nearly sparse in
the discrete cosine transform, so the estimate minimises the misfit to the noisy image plus a
smoothed L1 norm of its orthonormal 2-D DCT coefficients (``scipy.fft.dctn(x, norm="ortho")``).
Plain gradient descent with ``pb.grad``; the adjoint of the orthonormal DCT-II is the
orthonormal DCT-III, one transform of the same size.

Run: ``python examples/dct_denoising.py [n steps]``; writes ``dct_denoising.png`` when
matplotlib is installed.
"""

from __future__ import annotations

import sys

import numpy as np
import scipy.fft

import pullback as pb


def test_image(n: int) -> np.ndarray:
    yy, xx = np.mgrid[0:n, 0:n] / n
    smooth = np.sin(2 * np.pi * xx) * np.cos(3 * np.pi * yy)
    return 0.5 * smooth + (xx + 0.5 * yy > 0.8)


def objective(x, noisy, weight, eps=0.02):
    coeffs = scipy.fft.dctn(x, norm="ortho")
    return 0.5 * np.sum((x - noisy) ** 2) + weight * np.sum(np.sqrt(coeffs**2 + eps**2))


def main(n: int = 96, steps: int = 60, plot: str | None = None) -> float:
    rng = np.random.default_rng(0)
    truth = test_image(n)
    noisy = truth + 0.2 * rng.standard_normal((n, n))
    grad = pb.grad(objective)
    x = noisy.copy()
    history = [float(objective(x, noisy, 0.15))]
    lr = 0.1  # below 2 / L, L = 1 + weight / eps: the curvature of the misfit plus the smoothed L1 norm
    for _ in range(steps):
        x = x - lr * grad(x, noisy, 0.15)
        history.append(float(objective(x, noisy, 0.15)))
    before = float(np.linalg.norm(noisy - truth) / np.linalg.norm(truth))
    after = float(np.linalg.norm(x - truth) / np.linalg.norm(truth))
    print(f"DCT denoising {n}x{n}: objective {history[0]:.2f} -> {history[-1]:.2f} in {steps} steps; "
          f"relative error {before:.3f} (noisy) -> {after:.3f} (denoised)")
    if plot:
        _plot(plot, truth, noisy, x, history)
    return history[-1] / history[0]


def _plot(path, truth, noisy, denoised, history):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.5))
    for ax, img, title in zip(axes, (truth, noisy, denoised), ("truth", "noisy", "denoised")):
        ax.imshow(img, cmap="gray", vmin=-0.6, vmax=1.6)
        ax.set_title(title)
        ax.axis("off")
    axes[3].plot(history)
    axes[3].set(title="objective", xlabel="step")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print(f"wrote {path}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]), plot="dct_denoising.png")
