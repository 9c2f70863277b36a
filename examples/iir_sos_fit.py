"""Learn an IIR filter's second-order sections by gradient descent, through ``scipy.signal``.

The target is an 8th-order Butterworth low-pass filter. The model is a cascade of four
second-order sections whose poles are kept stable by construction (radius ``0.98 * sigmoid``,
angle free); the loss compares the model's zero-phase output ``sosfiltfilt(sos, x)`` with the
target's on a noise signal, plus the magnitudes of the frequency responses ``freqz_sos``.
Both are ordinary SciPy calls; pullback differentiates them with respect to ``sos`` (the
sections' coefficients: the IIR adjoint is the same filter run backward in time).

Run: ``python examples/iir_sos_fit.py [n_samples steps]``; writes ``iir_sos_fit.png`` when
matplotlib is installed.
"""

from __future__ import annotations

import sys

import numpy as np
import scipy.signal as S

import pullback as pb


def sections(params: np.ndarray) -> np.ndarray:
    """``sos`` (n, 6) from unconstrained parameters (n, 5): stable poles (radius below 0.98), and
    numerators relative to the section's DC gain ``(1 + a1 + a2) / 4``, so that all parameters
    are of order one."""
    radius = 0.98 / (1 + np.exp(-params[:, 3]))
    angle = params[:, 4]
    a1, a2 = -2 * radius * np.cos(angle), radius ** 2
    scale = (1 + a1 + a2) / 4
    b0, b1, b2 = scale * params[:, 0], scale * params[:, 1], scale * params[:, 2]
    ones = np.ones(params.shape[0])
    return np.stack([b0, b1, b2, ones, a1, a2], axis=1)


def initial_guess(n_sections, radius, angles):
    """Low-pass sections with unit gain at DC (zeros at z = -1) and poles at ``radius``."""
    ones = np.ones(n_sections)
    logit = np.log(radius / 0.98 / (1 - radius / 0.98))
    return np.column_stack([ones, 2 * ones, ones, logit * ones, angles])


def loss(params, x, y_target, h_target):
    sos = sections(params)
    y = S.sosfiltfilt(sos, x)
    _, h = S.freqz_sos(sos, worN=128)
    spectral = np.abs(h) - np.abs(h_target)
    return np.mean((y - y_target) ** 2) / np.mean(y_target ** 2) + np.mean(spectral ** 2)


def adam(value_and_grad, p, steps, lr=0.02):
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    history = []
    for t in range(1, steps + 1):
        value, g = value_and_grad(p)
        history.append(float(value))
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        p = p - lr * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    return p, history


def main(n: int = 2000, steps: int = 300, plot: str | None = "iir_sos_fit.png") -> float:
    rng = np.random.default_rng(0)
    target = S.butter(8, 0.15, output="sos")
    x = rng.standard_normal(n)
    y_target = S.sosfiltfilt(target, x)
    _, h_target = S.freqz_sos(target, worN=128)
    p0 = initial_guess(4, radius=0.8, angles=np.linspace(0.15, 0.6, 4))
    value_and_grad = pb.value_and_grad(lambda p: loss(p, x, y_target, h_target))
    p, history = adam(value_and_grad, p0, steps)
    start, end = history[0], float(loss(p, x, y_target, h_target))
    print(f"IIR fit through sosfiltfilt + freqz_sos: loss {start:.4f} -> {end:.5f} in {steps} steps")
    if plot:
        _plot(plot, target, sections(p0), sections(p), history)
    return end / start


def _plot(path, target, first, learned, history):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for sos, label in [(target, "target (Butterworth, order 8)"), (first, "initial"), (learned, "learned")]:
        w, h = S.freqz_sos(sos, worN=512)
        ax1.plot(w / np.pi, 20 * np.log10(np.abs(h) + 1e-12), label=label)
    ax1.set(xlabel="frequency (× π rad/sample)", ylabel="gain (dB)", ylim=(-100, 10),
            title="frequency response")
    ax1.legend()
    ax2.semilogy(history)
    ax2.set(xlabel="step", ylabel="loss", title="training")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"wrote {path}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
