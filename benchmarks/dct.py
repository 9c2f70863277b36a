"""Gradient of a DCT loss: pullback on scipy.fft.dctn against its forward pass and against JAX.

L = sum(dctn(x, norm='ortho')**2 * w) for float64 images of 512^2 and 2048^2 (DCT-II).
Since the orthonormal DCT-II D is orthogonal, the exact gradient is 2 D^T (w * D x) =
2 idctn(w * dctn(x)): the script times that hand-written adjoint too (the ideal), and
checks every library's gradient against it. JAX (jax.scipy.fft.dctn, eager and jit) runs
when installed.

Run:  python benchmarks/dct.py [--quick] [--sizes 512,2048] [--reps 7]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench_common as C  # noqa: E402
import numpy as np  # noqa: E402
import scipy.fft  # noqa: E402


def loss(x, w):
    return np.sum(scipy.fft.dctn(x, norm="ortho") ** 2 * w)


def handwritten_gradient(x, w):
    return 2 * scipy.fft.idctn(w * scipy.fft.dctn(x, norm="ortho"), norm="ortho")


def make_inputs(n: int):
    rng = np.random.default_rng(n)
    x = rng.standard_normal((n, n))
    f = np.arange(n) / n
    w = 1.0 / (1.0 + 50.0 * (f[:, None] ** 2 + f[None, :] ** 2))  # a frequency weighting
    return x, w


# ---------------------------------------------------------------- one function per library
# each returns (forward, gradient) zero-argument callables, and turns the gradient into NumPy


def scipy_fns(x, w):
    return (lambda: loss(x, w)), (lambda: handwritten_gradient(x, w))


def pullback_fns(x, w):
    import pullback as pb

    return (lambda: loss(x, w)), (lambda: pb.gradient(loss, x, w=w)[0])


def pullback_1t_fns(x, w):
    """pullback with scipy.fft held to one thread (like the hand-written adjoint)."""
    forward, gradient = pullback_fns(x, w)

    def gradient_1t():
        with scipy.fft.set_workers(1):
            return gradient()

    return forward, gradient_1t


def _jax_fns(x, w, jit: bool):
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import jax.scipy.fft as jfft

    jx, jw = jnp.asarray(x), jnp.asarray(w)
    f = lambda x, w: jnp.sum(jfft.dctn(x, type=2, norm="ortho") ** 2 * w)
    g = jax.grad(f)
    if jit:
        f, g = jax.jit(f), jax.jit(g)
    return (lambda: f(jx, jw).block_until_ready()), (lambda: g(jx, jw).block_until_ready())


def jax_fns(x, w):
    return _jax_fns(x, w, jit=False)


def jax_jit_fns(x, w):
    return _jax_fns(x, w, jit=True)


LIBS = {
    "hand-written adjoint (scipy)": ("scipy", scipy_fns),
    "pullback": ("pullback", pullback_fns),
    "pullback-1t": ("pullback", pullback_1t_fns),
    "jax": ("jax", jax_fns),
    "jax-jit": ("jax", jax_jit_fns),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="64^2 and 256^2 images, 3 repetitions")
    ap.add_argument("--sizes", default=None, help="image sides, e.g. 512,2048 (the default)")
    ap.add_argument("--reps", type=int, default=None, help="timed repetitions (default 7; 3 with --quick)")
    a = ap.parse_args(argv)
    C.ensure_pullback_importable()
    sizes = [int(s) for s in a.sizes.split(",")] if a.sizes else ([64, 256] if a.quick else [512, 2048])
    reps = a.reps or (3 if a.quick else 7)

    rows = []
    for n in sizes:
        x, w = make_inputs(n)
        ref = handwritten_gradient(x, w)
        for name, (module, make) in LIBS.items():
            if not C.have(module):
                print(f"skipping {name}: {module} is not installed")
                continue
            forward, gradient = make(x, w)
            try:
                g = np.asarray(gradient())
            except Exception as e:  # noqa: BLE001 - a missing rule is a result
                t = C.median_time(forward, reps, warmup=1)
                rows.append([f"{n}x{n}", name, C.fmt(t * 1e3), "-", "-", "-",
                             f"{type(e).__name__}: {str(e).splitlines()[0][:90]}"])
                continue
            err = float(np.max(np.abs(g - ref)) / np.max(np.abs(ref)))
            t = C.median_times({"f": forward, "g": gradient}, reps, warmup=1)
            rows.append([f"{n}x{n}", name, C.fmt(t["f"] * 1e3), C.fmt(t["g"] * 1e3),
                         C.fmt(t["g"] / t["f"], 2), f"{err:.0e}", "" if err < 1e-10 else "WRONG GRADIENT"])
            print(f"  {n}x{n} {name:28s} gradient {t['g'] * 1e3:.4g} ms", flush=True)

    headers = ["image", "library", "forward ms", "gradient ms", "grad/fwd", "rel err", "note"]
    table = C.markdown_table(headers, rows)
    text = (f"# Gradient of sum(dctn(x, norm='ortho')**2 * w), float64 (median of {reps})\n\n"
            f"{C.machine_line()}\n\n{table}\n\n'gradient' computes the loss and its gradient; the "
            "hand-written adjoint computes only the gradient, 2 idctn(w * dctn(x)). rel err is against "
            "that adjoint.\n")
    print("\n" + text)
    out = C.results_dir() / ("dct_quick.md" if a.quick else "dct.md")
    out.write_text(text)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
