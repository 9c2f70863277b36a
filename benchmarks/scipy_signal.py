"""scipy.signal under pullback: gradient / forward time ratio at large sizes, beside JAX and PyTorch.

For each operation T the loss is L = sum(abs(T(x))**2) (real part for real outputs), and the table
gives the plain SciPy forward time, pullback's gradient time and their ratio (a reverse pass that
costs the order of its forward pass gives a small constant, independent of N). Where installed,
``jax.scipy.signal`` (fftconvolve, stft, welch; jit-compiled ``value_and_grad``) and PyTorch
(``torch.stft``, ``conv1d``) are timed on the same problem.

(Named scipy_signal.py, not signal.py: a benchmarks/signal.py would shadow the standard library's
``signal`` module for every script run from this folder.)

Run:  python benchmarks/scipy_signal.py [--quick] [--reps N] [--sizes 16,20]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench_common as C  # noqa: E402

C.ensure_pullback_importable()

import numpy as np  # noqa: E402
import scipy.signal as S  # noqa: E402

import pullback as pb  # noqa: E402


def problems(n: int) -> dict:
    """name -> (plain forward on x, loss on x): the forward is SciPy's, the loss pullback's."""
    rng = np.random.default_rng(0)
    k = rng.standard_normal(n // 8)
    b, a = S.butter(6, 0.2)
    sos = S.butter(8, 0.2, output="sos")
    nper = 256

    def sq(y):
        return np.sum(np.abs(y) ** 2)

    return {
        "fftconvolve (x, k=N/8)": (lambda x: S.fftconvolve(x, k), lambda x: sq(S.fftconvolve(x, k))),
        "stft + istft (nperseg 256)": (
            lambda x: S.istft(S.stft(x, nperseg=nper)[2], nperseg=nper)[1],
            lambda x: sq(S.istft(S.stft(x, nperseg=nper)[2], nperseg=nper)[1])),
        "welch (nperseg 256)": (lambda x: S.welch(x, nperseg=nper)[1],
                                lambda x: np.sum(S.welch(x, nperseg=nper)[1])),
        "lfilter (order 6)": (lambda x: S.lfilter(b, a, x), lambda x: sq(S.lfilter(b, a, x))),
        "sosfiltfilt (order 8)": (lambda x: S.sosfiltfilt(sos, x), lambda x: sq(S.sosfiltfilt(sos, x))),
        "czt (m = N)": (lambda x: S.czt(x), lambda x: sq(S.czt(x))),
    }


def peers(n: int) -> dict:
    """name -> (forward, gradient) callables of the peers that are installed."""
    out = {}
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n)
    k = rng.standard_normal(n // 8)
    if C.have("jax"):
        import jax
        import jax.numpy as jnp
        import jax.scipy.signal as js

        jax.config.update("jax_enable_x64", True)
        xj, kj = jnp.asarray(x), jnp.asarray(k)
        for name, fn in {
            "fftconvolve (x, k=N/8)": lambda x: jnp.sum(js.fftconvolve(x, kj) ** 2),
            "stft + istft (nperseg 256)": lambda x: jnp.sum(
                js.istft(js.stft(x, nperseg=256)[2], nperseg=256)[1] ** 2),
            "welch (nperseg 256)": lambda x: jnp.sum(js.welch(x, nperseg=256)[1]),
        }.items():
            fwd, grad = jax.jit(fn), jax.jit(jax.grad(fn))
            out.setdefault(name, {})["jax"] = (lambda f=fwd: f(xj).block_until_ready(),
                                              lambda g=grad: g(xj).block_until_ready())
    if C.have("torch"):
        import torch

        xt = torch.tensor(x)
        kt = torch.tensor(k[::-1].copy()).reshape(1, 1, -1)
        win = torch.hann_window(256, dtype=torch.float64)

        def conv(x):
            y = torch.nn.functional.conv1d(x.reshape(1, 1, -1), kt, padding=kt.shape[-1] - 1)
            return torch.sum(y ** 2)

        def stft(x):
            z = torch.stft(x, 256, hop_length=128, window=win, return_complex=True)
            return torch.sum(torch.istft(z, 256, hop_length=128, window=win, length=x.shape[0]) ** 2)

        torch_problems = {"stft + istft (nperseg 256)": stft}
        if n <= 2**16:  # conv1d is a direct convolution: O(N K) time, and an N K buffer beyond this
            torch_problems["fftconvolve (x, k=N/8)"] = conv
        for name, fn in torch_problems.items():
            def fwd(fn=fn):
                with torch.no_grad():
                    fn(xt)

            def grad(fn=fn):
                v = xt.clone().requires_grad_(True)
                fn(v).backward()

            out.setdefault(name, {})["torch"] = (fwd, grad)
    return out


def main(argv: list[str] | None = None) -> list[list]:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--sizes", default="16,20", help="log2 of the signal lengths")
    a = ap.parse_args(argv)
    sizes = [2**12] if a.quick else [2 ** int(p) for p in a.sizes.split(",")]
    rows = []
    for n in sizes:
        x = np.random.default_rng(1).standard_normal(n)
        peer = peers(n)
        for name, (fwd, loss) in problems(n).items():
            t = C.median_times({"fwd": lambda f=fwd: f(x), "grad": lambda f=loss: pb.gradient(f, x)},
                               reps=a.reps, warmup=1)
            row = [name, n, C.fmt(t["fwd"] * 1e3), C.fmt(t["grad"] * 1e3), C.fmt(t["grad"] / t["fwd"])]
            for lib in ("jax", "torch"):
                pair = peer.get(name, {}).get(lib)
                if pair is None:
                    row.append("–")
                    continue
                tp = C.median_times({"fwd": pair[0], "grad": pair[1]}, reps=a.reps, warmup=1)
                row.append(f"{C.fmt(tp['grad'] * 1e3)} ms ({C.fmt(tp['grad'] / tp['fwd'])}x)")
            rows.append(row)
            print(" | ".join(str(v) for v in row), flush=True)
    headers = ["operation", "N", "SciPy forward (ms)", "pullback gradient (ms)", "ratio",
               "jax grad (ratio)", "torch grad (ratio)"]
    print()
    print(C.machine_line())
    print(C.markdown_table(headers, rows))
    return rows


if __name__ == "__main__":
    main()
