"""Fit the parameters of an ODE to noisy observations, through ``scipy.integrate.solve_ivp``.

The model is the Lotka-Volterra predator-prey system ``x' = a x - b x y``, ``y' = -c y + d x y``,
solved with SciPy's RK45 at the observation times (``t_eval``). The loss is the squared misfit
of the log populations; ``scipy.optimize.minimize(jac=True)`` gets its gradient from pullback,
which replays SciPy's accepted Runge-Kutta steps on traced values (the exact gradient of the
computed solution with respect to the rates and the initial state). The parameters are
log-rates, so they stay positive.

Run: ``python examples/ode_parameter_fit.py [n_observations iterations]``; ``main(12, 8, 6.0)``
is the quick version the tests run. The figure (``ode_parameter_fit.png``) shows the
observations, the fitted trajectories and the loss per iteration, when matplotlib is installed.
"""

from __future__ import annotations

import sys

import numpy as np
import scipy.integrate as I
import scipy.optimize as O

import pullback as pb


def rhs(t: float, z: np.ndarray, rates: np.ndarray) -> np.ndarray:
    a, b, c, d = rates[0], rates[1], rates[2], rates[3]
    x, y = z[0], z[1]
    return np.stack([a * x - b * x * y, -c * y + d * x * y])


def simulate(params: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Populations (2, len(times)) for ``params`` = log rates (4) and log initial state (2)."""
    rates, z0 = np.exp(params[:4]), np.exp(params[4:])
    sol = I.solve_ivp(rhs, (0.0, times[-1]), z0, t_eval=times, args=(rates,), rtol=1e-6, atol=1e-9)
    return sol.y


def loss(params: np.ndarray, times: np.ndarray, observed: np.ndarray) -> float:
    return np.mean((np.log(simulate(params, times)) - np.log(observed)) ** 2)


def main(n_observations: int = 40, iterations: int = 60, t_end: float = 15.0,
         plot: str | None = None) -> float:
    rng = np.random.default_rng(0)
    times = np.linspace(0.5, t_end, n_observations)
    truth = np.log(np.array([1.0, 0.4, 0.8, 0.2, 3.0, 1.5]))
    observed = simulate(truth, times) * np.exp(0.02 * rng.standard_normal((2, n_observations)))
    start = truth + np.array([0.25, -0.2, 0.2, 0.25, -0.2, 0.2])
    value_and_grad = pb.value_and_grad(loss)

    history = []

    def objective(p):
        value, g = value_and_grad(p, times, observed)
        history.append(float(value))
        return float(value), g

    first = float(loss(start, times, observed))
    result = O.minimize(objective, start, jac=True, method="L-BFGS-B", options={"maxiter": iterations})
    last = float(result.fun)
    rates = np.exp(result.x[:4])
    print(f"ode fit ({n_observations} observations): loss {first:.3e} -> {last:.3e} in {result.nit} "
          f"iterations; rates {np.round(rates, 3)} (true [1. 0.4 0.8 0.2])")
    if plot:
        _plot(plot, times, observed, simulate(result.x, times), history)
    return last / first


def _plot(path, times, observed, fitted, history):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
    for row, (name, colour) in enumerate((("prey", "C0"), ("predators", "C1"))):
        ax.plot(times, observed[row], "o", color=colour, ms=4, label=f"{name} (observed)")
        ax.plot(times, fitted[row], "-", color=colour, label=f"{name} (fitted)")
    ax.set_xlabel("t")
    ax.set_title("Lotka-Volterra fit through solve_ivp")
    ax.legend(fontsize=8)
    ax2.semilogy(history)
    ax2.set_xlabel("objective evaluation")
    ax2.set_title("loss")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]), plot="ode_parameter_fit.png")
