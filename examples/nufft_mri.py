"""Radial MRI: reconstruct an image from non-Cartesian k-space samples, then correct the trajectory.

The scanner measures the image's Fourier transform at points along radial spokes (golden-angle
angles): ``y = finufft.nufft2d2(kx, ky, image)``, a type-2 non-uniform FFT. Reconstruction
minimises ``|nufft2d2(kx, ky, image) - y|^2 / M + λ |∇ image|^2`` with SciPy's L-BFGS
(``scipy.optimize.minimize(jac=True)``); pullback supplies the exact gradient: one type-1
transform (the adjoint) per evaluation.

The measured spokes are delayed (each is shifted along itself by an unknown amount, as a
gradient delay does), so the reconstruction with the nominal trajectory smears. The second
fit learns the delays too: the points are ``(r + δ_spoke) (cos θ, sin θ)`` and pullback
differentiates the NUFFT with respect to its points (two more transforms per evaluation).

Run: ``python examples/nufft_mri.py [n spokes iterations]``; writes ``nufft_mri.png`` when
matplotlib is installed. Needs finufft (``pip install finufft``).
"""

from __future__ import annotations

import sys

import finufft
import numpy as np
import scipy.optimize

import pullback as pb

EPS = 1e-7


def phantom(n: int) -> np.ndarray:
    """A Shepp-Logan-like phantom: a sum of ellipses (complex, as MR images are)."""
    y, x = np.mgrid[-1 : 1 : n * 1j, -1 : 1 : n * 1j]
    img = np.zeros((n, n))
    for a, b, x0, y0, phi, v in [(0.69, 0.92, 0, 0, 0, 1.0), (0.62, 0.87, 0, -0.02, 0, -0.6),
                                 (0.11, 0.31, 0.22, 0, -0.3, -0.3), (0.16, 0.41, -0.22, 0, 0.3, -0.3),
                                 (0.21, 0.25, 0, 0.35, 0, 0.3), (0.05, 0.05, 0, 0.1, 0, 0.4),
                                 (0.05, 0.05, 0, -0.1, 0, 0.4), (0.06, 0.03, 0.06, -0.6, 0, 0.3)]:
        c, s = np.cos(phi), np.sin(phi)
        u, w = (x - x0) * c + (y - y0) * s, -(x - x0) * s + (y - y0) * c
        img += v * ((u / a) ** 2 + (w / b) ** 2 <= 1)
    return img * np.exp(0.3j * x)


def trajectory(n: int, spokes: int, delays: np.ndarray):
    """Radial spokes at golden angles; each sample shifted along its spoke by the spoke's delay."""
    theta = np.arange(spokes) * np.pi * (np.sqrt(5) - 1) / 2
    r = np.linspace(-np.pi, np.pi, 2 * n, endpoint=False)
    radius = r[None, :] + delays[:, None]
    return np.ravel(radius * np.cos(theta)[:, None]), np.ravel(radius * np.sin(theta)[:, None])


def loss(image, delays, y, n, lam):
    """Data misfit at the trajectory with these delays, plus a smoothness penalty."""
    kx, ky = trajectory(n, delays.shape[0], delays)
    r = finufft.nufft2d2(kx, ky, image, eps=EPS, nthreads=1) - y  # small transforms: one thread
    smooth = np.sum(np.abs(np.diff(image, axis=0)) ** 2) + np.sum(np.abs(np.diff(image, axis=1)) ** 2)
    return np.sum(np.abs(r) ** 2) / y.size + lam * smooth


def _fit(fun, p0, iters):
    res = scipy.optimize.minimize(fun, p0, jac=True, method="L-BFGS-B", options={"maxiter": iters})
    return res.x


def reconstruct(y, n, delays, iters, lam, learn_delays=False):
    """L-BFGS on the image (real and imaginary parts), and on the delays when ``learn_delays``."""
    m = n * n
    grad = pb.value_and_grad(loss, argnums=(0, 1))

    def unpack(p):
        image = (p[:m] + 1j * p[m : 2 * m]).reshape(n, n)
        return image, (p[2 * m :] if learn_delays else delays)

    def fun(p):
        image, d = unpack(p)
        value, (gi, gd) = grad(image, d, y, n, lam)
        parts = [gi.real.ravel(), gi.imag.ravel()] + ([gd] if learn_delays else [])
        return float(value), np.concatenate(parts)

    p0 = np.concatenate([np.zeros(2 * m)] + ([np.zeros_like(delays)] if learn_delays else []))
    return unpack(_fit(fun, p0, iters))


def main(n: int = 64, spokes: int = 96, iters: int = 150, plot: str | None = None) -> float:
    rng = np.random.default_rng(0)
    truth = phantom(n)
    true_delays = rng.uniform(-1.0, 1.0, spokes) * 2 * np.pi / n  # up to two samples along each spoke
    kx, ky = trajectory(n, spokes, true_delays)
    y = finufft.nufft2d2(kx, ky, truth, eps=EPS)
    y = y + 0.01 * np.abs(y).mean() * (rng.standard_normal(y.shape) + 1j * rng.standard_normal(y.shape))
    lam = 1e-3
    nominal = np.zeros(spokes)
    image0, _ = reconstruct(y, n, nominal, iters, lam)
    image1, learned = reconstruct(y, n, nominal, iters, lam, learn_delays=True)

    def err(im):
        return float(np.linalg.norm(im - truth) / np.linalg.norm(truth))

    start, end = float(loss(image0, nominal, y, n, lam)), float(loss(image1, learned, y, n, lam))
    delay_err = float(np.sqrt(np.mean((learned - true_delays) ** 2)) / np.sqrt(np.mean(true_delays ** 2)))
    print(f"radial MRI {n}x{n}, {spokes} spokes: nominal trajectory loss {start:.4g} (image error "
          f"{err(image0):.3f}); learned delays loss {end:.4g} (image error {err(image1):.3f}, delay error "
          f"{delay_err:.3f})")
    if plot:
        _plot(plot, truth, image0, image1, true_delays, learned)
    return end / start


def _plot(path, truth, image0, image1, true_delays, learned):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(1, 4, figsize=(15, 4))
    for ax, im, title in zip(axes, [truth, image0, image1],
                             ["truth", "nominal trajectory", "learned trajectory"]):
        ax.imshow(np.abs(im), cmap="gray", vmin=0, vmax=np.abs(truth).max(), origin="lower")
        ax.set(title=title, xticks=[], yticks=[])
    axes[3].plot(true_delays, "o", label="true delay")
    axes[3].plot(learned, "x", label="learned")
    axes[3].set(xlabel="spoke", ylabel="delay (rad/pixel)", title="spoke delays")
    axes[3].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"wrote {path}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]), plot="nufft_mri.png")
