"""Reconstruct a signal from its spectrogram magnitude by gradient descent, through ``scipy.signal``.

Only ``|stft(x)|`` of a chirp is known (its phase is lost). The unknown is a complex STFT ``Z``;
the signal is ``istft(Z)`` and the loss ``sum((|stft(istft(Z))| - M)**2)`` compares its spectrogram
magnitude with the known one (the Griffin-Lim objective). ``stft`` and ``istft`` are SciPy's own
functions; pullback differentiates through both (their adjoints are a windowed overlap-add and
a framing, with FFTs of the segment length).

Run: ``python examples/spectrogram_inversion.py [n_samples steps]``; writes
``spectrogram_inversion.png`` when matplotlib is installed.
"""

from __future__ import annotations

import sys

import numpy as np
import scipy.signal as S

import pullback as pb

NPERSEG = 128


def signal_of(z):
    return S.istft(z, nperseg=NPERSEG)[1]


def loss(z, magnitudes, n):
    x = signal_of(z)[:n]
    return np.sum((np.abs(S.stft(x, nperseg=NPERSEG)[2]) - magnitudes) ** 2)


def main(n: int = 8000, steps: int = 200, plot: str | None = "spectrogram_inversion.png") -> float:
    rng = np.random.default_rng(0)
    t = np.arange(n) / n
    truth = S.chirp(t, f0=0.02 * n, f1=0.3 * n, t1=1.0) * np.hanning(n) ** 0.25
    magnitudes = np.abs(S.stft(truth, nperseg=NPERSEG)[2])
    # start from the known magnitudes with random phases
    z = magnitudes * np.exp(2j * np.pi * rng.random(magnitudes.shape))
    value_and_grad = pb.value_and_grad(lambda z: loss(z, magnitudes, n))
    history = []
    lr = 0.5
    for _ in range(steps):
        value, g = value_and_grad(z)
        history.append(float(value))
        z = z - lr * g
    end = float(loss(z, magnitudes, n))
    print(f"spectrogram inversion, {n} samples: loss {history[0]:.3f} -> {end:.4f} in {steps} steps")
    if plot:
        _plot(plot, truth, signal_of(z)[:n], magnitudes, history)
    return end / history[0]


def _plot(path, truth, found, magnitudes, history):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    axes[0].imshow(np.log(magnitudes + 1e-6), origin="lower", aspect="auto")
    axes[0].set(title="known |stft|", xlabel="segment", ylabel="frequency bin")
    found_mag = np.abs(S.stft(found, nperseg=NPERSEG)[2])
    axes[1].imshow(np.log(found_mag + 1e-6), origin="lower", aspect="auto")
    axes[1].set(title="|stft| of the reconstruction", xlabel="segment")
    axes[2].semilogy(history)
    axes[2].set(title="loss", xlabel="step")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"wrote {path}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
