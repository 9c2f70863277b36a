"""A Fourier neural operator layer, trained by gradient descent with pullback.

``layer`` is written as in a typical FNO: ``rfft2``, multiplication of the lowest
modes by complex weights (mode truncation by slicing, zero-padding back with
``np.pad``), ``irfft2``, a pointwise linear path and a nonlinearity. We fit it to
the solution operator of a 2-D heat equation. Run: ``python examples/fno_layer.py
[n modes steps]``; writes ``fno_layer.png`` (the training curve) when matplotlib is installed.

(The data ``x`` is not traced, so ``np.zeros_like(np.fft.rfft2(x))`` would be a
plain array, and assigning traced weights into a plain array is an error;
building the spectrum with ``np.pad`` keeps everything traced.)
"""

from __future__ import annotations

import sys

import numpy as np

import pullback as pb


def layer(x, w_re, w_im, bias, modes):
    X = np.fft.rfft2(x)                       # (batch, n, n//2 + 1)
    low = X[:, :modes, :modes] * (w_re + 1j * w_im)
    Y = np.pad(low, ((0, 0), (0, X.shape[1] - modes), (0, X.shape[2] - modes)))
    return np.tanh(np.fft.irfft2(Y, s=x.shape[-2:]) + bias * x)


def heat_operator(x, t=0.01):
    n = x.shape[-1]
    k = 2 * np.pi * np.fft.fftfreq(n, d=1.0 / n)
    k2 = k[:, None] ** 2 + k[None, : n // 2 + 1] ** 2
    return np.tanh(np.fft.irfft2(np.fft.rfft2(x) * np.exp(-k2 * t), s=x.shape[-2:]))


def loss(params, x, y, modes):
    w_re, w_im, bias = params
    return np.mean((layer(x, w_re, w_im, bias, modes) - y) ** 2)


def main(n: int = 32, modes: int = 8, steps: int = 150, plot: str | None = None) -> float:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, n, n)).astype(np.float32)
    y = heat_operator(x)
    params = (np.zeros((modes, modes), np.float32), np.zeros((modes, modes), np.float32), np.float32(0.0))
    value_and_grad = pb.value_and_grad(loss)
    first = float(loss(params, x, y, modes))
    velocity = [np.zeros_like(p) for p in params]
    history = []
    for _ in range(steps):
        value, g = value_and_grad(params, x, y, modes)
        history.append(float(value))
        velocity = [0.9 * v + gi for v, gi in zip(velocity, g)]
        params = tuple(p - 0.5 * v for p, v in zip(params, velocity))
    last = float(loss(params, x, y, modes))
    assert params[0].dtype == np.float32  # float32 end to end
    print(f"FNO layer {n}x{n}, {modes} modes: loss {first:.4f} -> {last:.5f} in {steps} steps (float32)")
    if plot:
        _plot(plot, history)
    return last / first


def _plot(path, history):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.semilogy(history)
    ax.set(xlabel="step", ylabel="mean squared error", title="FNO layer: training curve (float32)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print(f"wrote {path}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]), plot="fno_layer.png")
