"""Image deconvolution: undo a known blur with a total-variation prior, through ``scipy.signal``.

A piecewise-constant image is blurred by a Gaussian point-spread function with
``scipy.signal.fftconvolve`` and corrupted by noise. The restored image minimises the data
misfit plus a smoothed total variation, ``sum(sqrt(dx**2 + dy**2 + eps))``, by L-BFGS in
``scipy.optimize.minimize``: ``pb.value_and_grad`` supplies the value and the exact gradient
(``jac=True``); the adjoint of the FFT convolution is an FFT correlation of the same size.

Run: ``python examples/deconvolution.py [n iterations]``; writes ``deconvolution.png`` when
matplotlib is installed.
"""

from __future__ import annotations

import sys

import numpy as np
import scipy.optimize
import scipy.signal as S

import pullback as pb


def phantom(n: int) -> np.ndarray:
    """A piecewise-constant test image: a square, a disc and a bar."""
    yy, xx = np.mgrid[0:n, 0:n] / n
    img = np.zeros((n, n))
    img[(0.15 < yy) & (yy < 0.45) & (0.15 < xx) & (xx < 0.45)] = 1.0
    img[(yy - 0.65) ** 2 + (xx - 0.65) ** 2 < 0.04] = 0.6
    img[(0.7 < yy) & (yy < 0.8) & (0.1 < xx) & (xx < 0.5)] = 0.8
    return img


def gaussian_psf(size: int, sigma: float) -> np.ndarray:
    r = np.arange(size) - (size - 1) / 2
    k = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma**2))
    return k / k.sum()


def objective(x, data, psf, weight=2e-3, eps=1e-4):
    """Data misfit of the blurred estimate plus a smoothed total variation."""
    misfit = S.fftconvolve(x, psf, mode="same") - data
    dx = np.diff(x, axis=1)[:-1, :]
    dy = np.diff(x, axis=0)[:, :-1]
    return 0.5 * np.sum(misfit**2) + weight * np.sum(np.sqrt(dx**2 + dy**2 + eps))


def main(n: int = 64, iterations: int = 150, plot: str | None = None) -> float:
    rng = np.random.default_rng(0)
    truth = phantom(n)
    psf = gaussian_psf(15, 2.0)
    data = S.fftconvolve(truth, psf, mode="same") + 0.01 * rng.standard_normal((n, n))
    value_and_grad = pb.value_and_grad(objective)
    history = []

    def fun(v):
        value, g = value_and_grad(v.reshape(n, n), data, psf)
        history.append(float(value))
        return float(value), g.ravel()

    result = scipy.optimize.minimize(fun, data.ravel(), jac=True, method="L-BFGS-B",
                                     options={"maxiter": iterations})
    restored = result.x.reshape(n, n)
    before = float(np.linalg.norm(data - truth) / np.linalg.norm(truth))
    after = float(np.linalg.norm(restored - truth) / np.linalg.norm(truth))
    print(f"deconvolution {n}x{n}: objective {history[0]:.4f} -> {history[-1]:.4f} in {result.nit} "
          f"L-BFGS iterations; relative error {before:.3f} (blurred) -> {after:.3f} (restored)")
    if plot:
        _plot(plot, truth, data, restored, history)
    return history[-1] / history[0]


def _plot(path, truth, data, restored, history):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.5))
    for ax, img, title in zip(axes, (truth, data, restored), ("truth", "blurred + noise", "restored")):
        ax.imshow(img, cmap="gray", vmin=-0.1, vmax=1.1)
        ax.set_title(title)
        ax.axis("off")
    axes[3].semilogy(history)
    axes[3].set(title="objective", xlabel="evaluation")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print(f"wrote {path}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]), plot="deconvolution.png")
