"""Phase retrieval: recover an image from the magnitudes of its Fourier transform.

The loss is ordinary NumPy; pullback supplies the exact gradient, whose cost is
two FFTs of the image size. Run: ``python examples/phase_retrieval.py [n steps]``; writes
``phase_retrieval.png`` when matplotlib is installed.
"""

from __future__ import annotations

import sys

import numpy as np

import pullback as pb


def loss(x: np.ndarray, magnitudes: np.ndarray, support: np.ndarray) -> float:
    """Fourier-magnitude misfit plus a penalty for mass outside the support."""
    misfit = np.abs(np.fft.fft2(x)) - magnitudes
    return np.sum(misfit ** 2) / x.size + 10.0 * np.sum((x * ~support) ** 2)


def main(n: int = 32, steps: int = 300, plot: str | None = None) -> float:
    rng = np.random.default_rng(0)
    support = np.zeros((n, n), bool)
    support[n // 4 : 3 * n // 4, n // 4 : 3 * n // 4] = True
    truth = rng.random((n, n)) * support
    magnitudes = np.abs(np.fft.fft2(truth))
    x = truth + 0.2 * rng.standard_normal((n, n)) * support
    x_start = x
    start = loss(x, magnitudes, support)
    history = []
    value_and_grad = pb.value_and_grad(loss)
    lr = 0.04
    for _ in range(steps):
        value, g = value_and_grad(x, magnitudes, support)
        history.append(float(value))
        x = x - lr * g
    end = float(loss(x, magnitudes, support))
    print(f"phase retrieval {n}x{n}: loss {float(start):.4f} -> {end:.6f} in {steps} steps")
    if plot:
        _plot(plot, truth, x_start, x, history)
    return end / float(start)


def _plot(path, truth, start, found, history):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.5))
    for ax, img, title in zip(axes, (truth, start, found), ("truth", "start", "recovered")):
        ax.imshow(img, cmap="gray", vmin=0.0, vmax=1.0)
        ax.set_title(title)
        ax.axis("off")
    axes[3].semilogy(history)
    axes[3].set(title="loss", xlabel="step")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print(f"wrote {path}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]), plot="phase_retrieval.png")
