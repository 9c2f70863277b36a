"""A spectral PDE inverse problem: recover the initial temperature from a later snapshot.

The forward model is a pseudo-spectral solver of u_t = nu u_xx + a sin(u) on a
periodic grid (rfft / irfft each step); the inverse problem fits u0 by gradient
descent on the misfit of the final state, with a smoothness penalty.
Run: ``python examples/heat_inverse.py [n iterations]``; writes ``heat_inverse.png`` when
matplotlib is installed.
"""

from __future__ import annotations

import sys

import numpy as np

import pullback as pb


def solve(u0: np.ndarray, nu: float = 0.05, steps: int = 40, dt: float = 2e-3) -> np.ndarray:
    n = u0.shape[-1]
    k = 2 * np.pi * np.fft.rfftfreq(n, d=1.0 / n)
    decay = np.exp(-nu * k ** 2 * dt)
    u = u0
    for _ in range(steps):
        u = np.fft.irfft(np.fft.rfft(u) * decay, n=n)
        u = u + dt * 0.5 * np.sin(u)
    return u


def misfit(u0: np.ndarray, observed: np.ndarray) -> float:
    smooth = np.sum(np.diff(u0) ** 2)
    return np.sum((solve(u0) - observed) ** 2) + 1e-4 * smooth


def main(n: int = 128, iterations: int = 200, plot: str | None = None) -> float:
    x = np.linspace(0, 1, n, endpoint=False)
    truth = np.exp(-((x - 0.3) ** 2) / 0.005) + 0.5 * np.exp(-((x - 0.7) ** 2) / 0.01)
    observed = solve(truth)
    u0 = np.zeros(n)
    grad = pb.grad(misfit)
    first = misfit(u0, observed)
    history = [float(first)]
    for _ in range(iterations):
        u0 = u0 - 0.5 * grad(u0, observed)
        if plot:
            history.append(float(misfit(u0, observed)))
    last = float(misfit(u0, observed))
    error = float(np.linalg.norm(u0 - truth) / np.linalg.norm(truth))
    print(f"heat inverse n={n}: misfit {float(first):.3e} -> {last:.3e}; relative error of u0 {error:.3f}")
    if plot:
        _plot(plot, x, truth, observed, u0, history)
    return last / float(first)


def _plot(path, x, truth, observed, found, history):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
    ax1.plot(x, truth, label="true initial state")
    ax1.plot(x, observed, label="observed final state")
    ax1.plot(x, found, "--", label="recovered initial state")
    ax1.set(xlabel="x", title="spectral heat equation, inverted")
    ax1.legend()
    ax2.semilogy(history)
    ax2.set(xlabel="iteration", title="misfit")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print(f"wrote {path}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]), plot="heat_inverse.png")
