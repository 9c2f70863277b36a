"""pullback side by side with its peers on FFT, signal-processing and linear-algebra workloads.

Workloads (full size; ``--quick`` shrinks them):

* W1  x complex128[2^20];                     L = sum(abs(fft(x))**2)
* W2  x float32[16,256,256], W complex64[256,129];
      L = sum(irfft2(rfft2(x) * W, s=(256,256))**2)      (gradient w.r.t. x and W)
* W3  x float64[64]; 100 times y = sin(irfft(rfft(y) * k, n=64)); L = sum(y)
* W4  x complex128[64,64,64];                 L = sum(abs(ifftn(fftn(x) * k))**2)
* W5  x float64[2^20]; L = sum(istft(stft(x) * mask)**2) (scipy.signal's defaults, nperseg 256)
* W6  x float64[2^20], h float64[4096];       L = sum(fftconvolve(x, h, 'same')**2)  (grad x and h)
* W7  x float64[64,2^16], sos = butter(8, 0.1, output='sos'); L = sum(sosfiltfilt(sos, x)**2)
      (gradient w.r.t. x; pullback only: no peer has sosfiltfilt)
* W8  x float32[4096,256], k complex64[129];  L = sum(irfft(rfft(x) * k, n=256)**2)
* W10 Gaussian-process negative log-likelihood, n = 2000: K = exp(-d^2/l^2) + s2 I,
      L = 0.5 y^T K^-1 y + sum(log(diag(cholesky(K))))  (gradient w.r.t. theta = [l, s2])
* W9  finufft type 1, M points to n x n modes: c complex128[M], points x, y float64[M] (constant);
      L = sum(abs(nufft2d1(x, y, c, (n, n)))**2)  (gradient w.r.t. c; M = 10^6, n = 256; eps 1e-6
      and nthreads=1 in every library; benchmarks/nufft.py also times the gradient w.r.t. the
      points, and types 1 and 2 in 2-D and 3-D)

W1-W4 and W8 are written once against an array namespace. W5-W7, W9 and W10 call each library's
own version of the SciPy function (pullback: scipy.signal / numpy.linalg / finufft, JAX: jax.scipy
/ jax-finufft, PyTorch: torch.stft / torch.linalg / pytorch-finufft, set up to compute the same
function); a library without
one is reported as n/a with the reason, never timed on a different function.

Libraries (each only when installed): pullback at its default threads and with its
transforms held to one thread, HIPS autograd, PyTorch eager at its default thread count
and at one thread, JAX eager and ``jax.jit``.

Every (library, workload) pair runs in a fresh subprocess, so memory high-water
marks and thread pools never interfere. Each subprocess builds the same seeded
inputs, checks its gradient on a small float64 instance against central finite
differences, then times the forward pass and the gradient (interleaved, median
of ``--reps`` after warm-up; for pullback its gradient and its own traced forward
are interleaved, and NumPy's plain forward with them on W3 but timed apart on the
large workloads) and measures the memory the gradient adds.

Run:  python benchmarks/peers.py [--quick] [--only W1,W3] [--libs pullback,torch]
  or  python -m pullback bench [same options]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench_common as C  # noqa: E402
import numpy as np  # noqa: E402

# ---------------------------------------------------------------- workloads
#
# Each loss is written once against an array namespace ``xp``: numpy (traced by
# pullback), autograd.numpy, torch and jax.numpy all spell these calls alike.


def loss_w1(xp, x):
    return xp.sum(xp.abs(xp.fft.fft(x)) ** 2)


def loss_w2(xp, x, W, s):
    return xp.sum(xp.fft.irfft2(xp.fft.rfft2(x) * W, s=s) ** 2)


def loss_w3(xp, x, k, n, steps):
    y = x
    for _ in range(steps):
        y = xp.sin(xp.fft.irfft(xp.fft.rfft(y) * k, n=n))
    return xp.sum(y)


def loss_w4(xp, x, k):
    return xp.sum(xp.abs(xp.fft.ifftn(xp.fft.fftn(x) * k)) ** 2)


class Unsupported(Exception):
    """A library has no version of a workload's function: the pair is reported as n/a, with why."""


def _flavor(xp) -> str:
    """Which library an array namespace belongs to: numpy (pullback), torch, jax or autograd."""
    if xp is np:
        return "numpy"
    name = getattr(xp, "__name__", "")
    for flavor in ("torch", "jax", "autograd"):
        if name.startswith(flavor):
            return flavor
    return "numpy"  # another NumPy-compatible namespace (CuPy through pullback)


def loss_w5(xp, x, mask, nperseg):
    """Spectrogram loss with scipy.signal.stft/istft at their defaults (Hann window, 50% overlap,
    zero boundary, padded, 'spectrum' scaling); every library's version computes this function."""
    fl = _flavor(xp)
    if fl == "numpy":
        import scipy.signal

        _, _, Z = scipy.signal.stft(x, nperseg=nperseg)
        _, y = scipy.signal.istft(Z * mask, nperseg=nperseg)
    elif fl == "jax":
        import jax.scipy.signal as jss

        _, _, Z = jss.stft(x, nperseg=nperseg)
        _, y = jss.istft(Z * mask, nperseg=nperseg)
    elif fl == "torch":
        # torch.stft/istft with SciPy's conventions: periodic Hann (scipy's get_window('hann')),
        # hop nperseg/2, center=True with zero padding (= boundary='zeros'; len(x) is a multiple of
        # the hop, so SciPy's padded=True adds nothing), SciPy's 1/sum(window) 'spectrum' scaling;
        # istft's overlap-add divides by the summed squared window, as SciPy's does.
        import torch

        win = torch.hann_window(nperseg, periodic=True, dtype=x.dtype)
        hop = nperseg // 2
        Z = torch.stft(x, nperseg, hop_length=hop, window=win, center=True, pad_mode="constant",
                       onesided=True, return_complex=True) / win.sum()
        y = torch.istft(Z * mask * win.sum(), nperseg, hop_length=hop, window=win, center=True,
                        onesided=True, length=x.shape[-1])
    else:
        raise Unsupported("autograd has no stft/istft")
    return xp.sum(y**2)


def loss_w6(xp, x, h, nfft):
    """sum(fftconvolve(x, h, 'same')**2); torch and autograd have no fftconvolve, so they run the
    same convolution through rfft/irfft (zero-padded to ``nfft`` >= len(x)+len(h)-1, central part)."""
    fl = _flavor(xp)
    if fl == "numpy":
        import scipy.signal

        y = scipy.signal.fftconvolve(x, h, "same")
    elif fl == "jax":
        import jax.scipy.signal as jss

        y = jss.fftconvolve(x, h, mode="same")
    else:
        n, m = x.shape[-1], h.shape[-1]
        start = (m - 1) // 2  # SciPy's 'same': the centre of the full (n + m - 1) convolution
        if fl == "autograd":  # autograd's rfft(x, n) gradient is wrong when n pads x: pad by hand
            x = xp.concatenate([x, xp.zeros(nfft - n)])
            h = xp.concatenate([h, xp.zeros(nfft - m)])
        full = xp.fft.irfft(xp.fft.rfft(x, n=nfft) * xp.fft.rfft(h, n=nfft), n=nfft)
        y = full[start:start + n]
    return xp.sum(y**2)


def loss_w7(xp, x, sos):
    """sum(sosfiltfilt(sos, x)**2) along the last axis, differentiated w.r.t. x (sos a constant:
    pullback differentiates sos too, but its coefficient gradients cost about 2.3 times the x
    gradient here: per-lag correlations over the whole signal, 3 per lfilter call)."""
    if _flavor(xp) != "numpy":
        raise Unsupported("no sosfiltfilt (torchaudio is not installed; JAX has none)")
    import scipy.signal

    return np.sum(scipy.signal.sosfiltfilt(sos, x) ** 2)


def loss_w8(xp, x, k, n):
    return xp.sum(xp.fft.irfft(xp.fft.rfft(x) * k, n=n) ** 2)


def loss_w9(xp, c, x, y, n, eps):
    """sum(abs(f)**2) for f the type-1 NUFFT of strengths c at points (x, y) to n x n modes
    (isign +1, CMCL mode order, nthreads=1): finufft.nufft2d1 (pullback), jax_finufft.nufft1
    (JAX), pytorch_finufft.functional.finufft_type1 (PyTorch)."""
    fl = _flavor(xp)
    if fl == "numpy":
        import finufft

        f = finufft.nufft2d1(x, y, c, (n, n), eps=eps, isign=1, nthreads=1)
    elif fl == "jax":
        from jax_finufft import nufft1
        from jax_finufft.options import Opts

        f = nufft1((n, n), c, x, y, eps=eps, iflag=1, opts=Opts(nthreads=1))
    elif fl == "torch":
        import pytorch_finufft.functional as PF

        f = PF.finufft_type1(xp.stack([x, y]), c, (n, n), eps=eps, isign=1, modeord=0, nthreads=1)
    else:
        raise Unsupported("autograd has no NUFFT")
    return xp.sum(xp.abs(f) ** 2)


def _w10_pullback_solver() -> str:
    """How the NumPy version solves K alpha = y: scipy.linalg.cho_solve when pullback routes it
    (its scipy.linalg rules), else np.linalg.solve (an LU of K: twice the flops of cho_solve)."""
    try:
        import scipy.linalg

        from pullback.intercept import intercepted

        return "cho_solve" if intercepted(scipy.linalg.cho_solve) else "solve"
    except ImportError:
        return "solve"


def loss_w10(xp, theta, d2, y):
    """Gaussian-process negative log-likelihood (up to n/2 log 2 pi) in theta = [l, s2]:
    K = exp(-d2 / l^2) + s2 I, L = 0.5 y^T K^-1 y + sum(log(diag(cholesky(K))))."""
    fl = _flavor(xp)
    n = d2.shape[0]
    K = xp.exp(-d2 / theta[0] ** 2) + theta[1] * xp.eye(n, dtype=d2.dtype)
    if fl == "torch":
        import torch

        Lc = torch.linalg.cholesky(K)
        alpha = torch.cholesky_solve(y[:, None], Lc)[:, 0]
        logdet_half = torch.sum(torch.log(torch.diagonal(Lc)))
    elif fl == "jax":
        import jax.scipy.linalg as jsl

        c = jsl.cho_factor(K, lower=True)
        alpha = jsl.cho_solve(c, y)
        logdet_half = xp.sum(xp.log(xp.diagonal(c[0])))
    else:  # pullback (NumPy) and autograd
        Lc = xp.linalg.cholesky(K)
        if fl == "numpy" and _w10_pullback_solver() == "cho_solve":
            import scipy.linalg

            alpha = scipy.linalg.cho_solve((Lc, True), y)
        else:
            alpha = xp.linalg.solve(K, y)
        # autograd's diagonal has no gradient for a matrix; it reads the diagonal by indexing
        diag = Lc[np.arange(n), np.arange(n)] if fl == "autograd" else xp.diagonal(Lc)
        logdet_half = xp.sum(xp.log(diag))
    return 0.5 * xp.sum(y * alpha) + logdet_half


LOSSES = {"W1": loss_w1, "W2": loss_w2, "W3": loss_w3, "W4": loss_w4, "W5": loss_w5, "W6": loss_w6,
          "W7": loss_w7, "W8": loss_w8, "W9": loss_w9, "W10": loss_w10}

#: What each library runs where it is not the namespace-generic loss (shown in the table's notes).
IMPL_NOTES = {
    ("W5", "numpy"): "scipy.signal.stft/istft",
    ("W5", "jax"): "jax.scipy.signal.stft/istft",
    ("W5", "torch"): "torch.stft/istft with SciPy's window, padding and scaling",
    ("W6", "numpy"): "scipy.signal.fftconvolve",
    ("W6", "jax"): "jax.scipy.signal.fftconvolve",
    ("W6", "torch"): "rfft/irfft equivalent (no fftconvolve)",
    ("W6", "autograd"): "rfft/irfft equivalent (no fftconvolve), zero padding by concatenate",
    ("W7", "numpy"): "scipy.signal.sosfiltfilt",
    ("W9", "numpy"): "finufft.nufft2d1",
    ("W9", "jax"): "jax_finufft.nufft1",
    ("W9", "torch"): "pytorch_finufft finufft_type1",
    ("W10", "torch"): "torch.linalg.cholesky + cholesky_solve",
    ("W10", "jax"): "jax.scipy.linalg.cho_factor + cho_solve",
    ("W10", "autograd"): "cholesky + np.linalg.solve",
}


def impl_note(wl: str, lib: str) -> str:
    fl = FLAVOR.get(lib, "numpy")
    if (wl, fl) == ("W10", "numpy"):
        return ("cholesky + scipy.linalg.cho_solve" if _w10_pullback_solver() == "cho_solve"
                else "cholesky + np.linalg.solve (no cho_solve rule)")
    return IMPL_NOTES.get((wl, fl), "")

#: Workloads on tiny arrays, where pullback's plain forward is interleaved with its gradient (W3's
#: overhead compares the two); on the others it is timed apart (see run_worker).
SMALL = {"W3"}
#: Workloads without FFTs (the table leaves out pullback's FFT engine there).
NO_FFT = {"W7", "W9", "W10"}
#: Workloads where a library raises Unsupported (checked in the parent, no subprocess spent on it).
UNSUPPORTED = {("W5", "autograd"): "autograd has no stft/istft", ("W7", "autograd"): "no sosfiltfilt",
               ("W7", "torch"): "no sosfiltfilt (torchaudio not installed)",
               ("W7", "jax"): "JAX has no sosfiltfilt", ("W9", "autograd"): "autograd has no NUFFT"}
#: Workloads that need a package beyond the library itself: (workload, flavor) -> module.
NEEDS = {("W9", "numpy"): "finufft", ("W9", "jax"): "jax_finufft", ("W9", "torch"): "pytorch_finufft"}

DESCRIPTIONS = {
    "W1": "L = sum(abs(fft(x))**2)",
    "W2": "L = sum(irfft2(rfft2(x) * W, s)**2), grad w.r.t. x and W",
    "W3": "repeat y = sin(irfft(rfft(y) * k, n)); L = sum(y)",
    "W4": "L = sum(abs(ifftn(fftn(x) * k))**2)",
    "W5": "L = sum(istft(stft(x) * mask)**2)",
    "W6": "L = sum(fftconvolve(x, h, 'same')**2), grad w.r.t. x and h",
    "W7": "L = sum(sosfiltfilt(sos, x)**2), sos = butter(8, 0.1)",
    "W8": "L = sum(irfft(rfft(x) * k, n)**2)",
    "W9": "L = sum(abs(nufft2d1(x, y, c, (n, n)))**2), grad w.r.t. c",
    "W10": "GP: 0.5 y'K^-1 y + sum(log diag chol K), grad w.r.t. [l, s2]",
}

#: Problem sizes per scale. "check" is the small float64 instance every library is verified on.
SIZES = {
    "full": {"W1": {"n": 2**20}, "W2": {"b": 16, "n": 256}, "W3": {"n": 64, "steps": 100}, "W4": {"n": 64},
             "W5": {"n": 2**20, "nperseg": 256}, "W6": {"n": 2**20, "m": 4096},
             "W7": {"b": 64, "n": 2**16}, "W8": {"b": 4096, "n": 256}, "W9": {"m": 10**6, "n": 256},
             "W10": {"n": 2000}},
    "quick": {"W1": {"n": 2**14}, "W2": {"b": 2, "n": 64}, "W3": {"n": 64, "steps": 100}, "W4": {"n": 16},
              "W5": {"n": 2**14, "nperseg": 256}, "W6": {"n": 2**14, "m": 256},
              "W7": {"b": 4, "n": 2**12}, "W8": {"b": 256, "n": 256}, "W9": {"m": 20000, "n": 64},
              "W10": {"n": 200}},
    "check": {"W1": {"n": 16}, "W2": {"b": 2, "n": 8}, "W3": {"n": 16, "steps": 10}, "W4": {"n": 4},
              "W5": {"n": 128, "nperseg": 16}, "W6": {"n": 48, "m": 8},
              "W7": {"b": 2, "n": 64}, "W8": {"b": 4, "n": 16}, "W9": {"m": 30, "n": 8},
              "W10": {"n": 24}},
}


def _crandn(rng, shape, dtype):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


def make_inputs(wl: str, scale: str) -> tuple[tuple, dict, dict]:
    """Seeded inputs: (differentiated args, array constants, static parameters).

    Every library builds its inputs from these same NumPy arrays.
    """
    p = SIZES[scale][wl]
    rng = np.random.default_rng(1000 + int(wl[1:]))
    n = p["n"]
    if wl == "W1":
        return (_crandn(rng, n, np.complex128),), {}, {}
    if wl == "W2":
        real, cplx = (np.float64, np.complex128) if scale == "check" else (np.float32, np.complex64)
        x = rng.standard_normal((p["b"], n, n)).astype(real)
        W = (_crandn(rng, (n, n // 2 + 1), cplx) / np.sqrt(2)).astype(cplx)
        return (x, W), {}, {"s": (n, n)}
    if wl == "W3":
        x = rng.standard_normal(n)
        k = np.exp(-((np.arange(n // 2 + 1) / (n / 8)) ** 2)) * 1.5  # a smoothing filter
        return (x,), {"k": k}, {"n": n, "steps": p["steps"]}
    if wl == "W4":
        x = _crandn(rng, (n, n, n), np.complex128)
        f = np.fft.fftfreq(n)
        k = np.exp(-(f[:, None, None] ** 2 + f[None, :, None] ** 2 + f[None, None, :] ** 2) * 8.0)
        return (x,), {"k": k}, {}
    if wl == "W5":
        nperseg = p["nperseg"]
        x = rng.standard_normal(n)
        frames = n // (nperseg // 2) + 1  # boundary='zeros' adds nperseg/2 on each side
        mask = rng.uniform(0.0, 1.0, (nperseg // 2 + 1, frames))
        return (x,), {"mask": mask}, {"nperseg": nperseg}
    if wl == "W6":
        import scipy.fft

        x, h = rng.standard_normal(n), rng.standard_normal(p["m"]) / np.sqrt(p["m"])
        nfft = scipy.fft.next_fast_len(n + p["m"] - 1, real=True)
        while nfft % 2:  # an even length: autograd's real-FFT gradient refuses odd ones
            nfft = scipy.fft.next_fast_len(nfft + 1, real=True)
        return (x, h), {}, {"nfft": nfft}
    if wl == "W7":
        import scipy.signal

        x = rng.standard_normal((p["b"], n))
        return (x,), {"sos": scipy.signal.butter(8, 0.1, output="sos")}, {}
    if wl == "W8":
        real, cplx = (np.float64, np.complex128) if scale == "check" else (np.float32, np.complex64)
        x = rng.standard_normal((p["b"], n)).astype(real)
        f = np.arange(n // 2 + 1) / n
        k = (np.exp(-((f / 0.15) ** 2)) * np.exp(-2j * np.pi * f * 3)).astype(cplx)  # smooth, delayed
        return (x,), {"k": k}, {"n": n}
    if wl == "W9":
        m = p["m"]
        c = _crandn(rng, m, np.complex128) / np.sqrt(2)
        x, y = rng.uniform(-np.pi, np.pi, m), rng.uniform(-np.pi, np.pi, m)
        return (c,), {"x": x, "y": y}, {"n": n, "eps": 1e-12 if scale == "check" else 1e-6}
    if wl == "W10":
        pts = np.sort(rng.uniform(0.0, 10.0 * n / 2000, n))  # 200 points per unit length at every size
        d2 = (pts[:, None] - pts[None, :]) ** 2
        theta = np.array([0.7, 0.1])  # length-scale l and noise variance s2
        K = np.exp(-d2 / theta[0] ** 2) + theta[1] * np.eye(n)
        y = np.linalg.cholesky(K) @ rng.standard_normal(n)  # a draw from the GP itself
        return (theta,), {"d2": d2, "y": y}, {}
    raise KeyError(wl)


def describe_inputs(wl: str, scale: str) -> str:
    args, _, static = make_inputs(wl, scale)
    names = {"W2": ["x", "W"], "W6": ["x", "h"], "W9": ["c"], "W10": ["theta"]}.get(wl, ["x"])
    parts = [f"{nm} {a.dtype}[{','.join(map(str, a.shape))}]" for nm, a in zip(names, args, strict=True)]
    parts += [f"{k}={v}" for k, v in static.items()]
    return ", ".join(parts)


def fd_reference(wl: str) -> tuple:
    """Central finite-difference gradient (dL/dx + i dL/dy) on the float64 check instance."""
    args, consts, static = make_inputs(wl, "check")
    loss = LOSSES[wl]
    f = lambda *a: float(loss(np, *a, **consts, **static))
    h = 1e-5
    grads = []
    for i, a in enumerate(args):
        g = np.zeros(a.shape, dtype=a.dtype)
        units = [1.0, 1j] if a.dtype.kind == "c" else [1.0]
        for idx in np.ndindex(a.shape):
            for u in units:
                plus = [b.copy() for b in args]
                minus = [b.copy() for b in args]
                plus[i][idx] += u * h
                minus[i][idx] -= u * h
                g[idx] += u * (f(*plus) - f(*minus)) / (2 * h)
        grads.append(g)
    return tuple(grads)


# ---------------------------------------------------------------- libraries
#
# prepare(loss, args, consts, static) -> (forward, gradient, to_numpy):
# forward() and gradient() are zero-argument callables that finish their work
# before returning; to_numpy(gradient()) gives a tuple of NumPy arrays.


def prepare_pullback(loss, args, consts, static):
    import pullback as pb

    f = lambda *a: loss(np, *a, **consts, **static)
    forward = lambda: f(*args)
    gradient = lambda: pb.gradient(f, *args)
    # pullback's own forward: the traced pass (its engine, its tape) that a gradient starts with
    gradient.own_forward = lambda: pb.pullback(f, *args)[0]
    gradient.release_memory = pb.release_memory
    return forward, gradient, lambda g: tuple(np.asarray(t) for t in g)


def prepare_pullback_1t(loss, args, consts, static):
    """pullback with its transforms held to one thread (by default it uses every core for large FFTs)."""
    import scipy.fft

    forward, gradient, to_numpy = prepare_pullback(loss, args, consts, static)

    def gradient_1t():
        with scipy.fft.set_workers(1):
            return gradient()

    def own_forward_1t():
        with scipy.fft.set_workers(1):
            return gradient.own_forward()

    gradient_1t.own_forward = own_forward_1t
    gradient_1t.release_memory = gradient.release_memory
    return forward, gradient_1t, to_numpy


def prepare_autograd(loss, args, consts, static):
    import autograd
    import autograd.numpy as anp

    f = lambda a: loss(anp, *a, **consts, **static)
    g = autograd.grad(f)
    forward = lambda: f(args)
    gradient = lambda: g(args)
    return forward, gradient, lambda g: tuple(np.asarray(t) for t in g)


def _prepare_torch(loss, args, consts, static, threads: int | None):
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    targs = [torch.from_numpy(a).requires_grad_(True) for a in args]
    tconsts = {k: torch.from_numpy(v) for k, v in consts.items()}

    def forward():
        with torch.no_grad():
            return loss(torch, *targs, **tconsts, **static)

    def gradient():
        return torch.autograd.grad(loss(torch, *targs, **tconsts, **static), targs)

    return forward, gradient, lambda g: tuple(t.detach().numpy() for t in g)


def prepare_torch(loss, args, consts, static):
    return _prepare_torch(loss, args, consts, static, threads=None)


def prepare_torch_1t(loss, args, consts, static):
    return _prepare_torch(loss, args, consts, static, threads=1)


def _prepare_jax(loss, args, consts, static, jit: bool):
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    jargs = tuple(jnp.asarray(a) for a in args)
    jconsts = {k: jnp.asarray(v) for k, v in consts.items()}
    f = lambda a, c: loss(jnp, *a, **c, **static)
    g = jax.grad(f)  # w.r.t. the tuple of args: a tuple of gradients
    if jit:
        f, g = jax.jit(f), jax.jit(g)
    forward = lambda: jax.block_until_ready(f(jargs, jconsts))
    gradient = lambda: jax.block_until_ready(g(jargs, jconsts))
    return forward, gradient, lambda g: tuple(np.asarray(t) for t in g)


def prepare_jax(loss, args, consts, static):
    return _prepare_jax(loss, args, consts, static, jit=False)


def prepare_jax_jit(loss, args, consts, static):
    return _prepare_jax(loss, args, consts, static, jit=True)


#: name -> (module that must be installed, prepare, gives the conjugate gradient, memory method)
LIBS: dict[str, tuple[str, Callable, bool, str]] = {
    "pullback": ("pullback", prepare_pullback, False, "tracemalloc"),
    "pullback-1t": ("pullback", prepare_pullback_1t, False, "tracemalloc"),
    "autograd": ("autograd", prepare_autograd, True, "tracemalloc"),
    "torch": ("torch", prepare_torch, False, "rss"),
    "torch-1t": ("torch", prepare_torch_1t, False, "rss"),
    "jax": ("jax", prepare_jax, True, "rss"),
    "jax-jit": ("jax", prepare_jax_jit, True, "rss"),
}
#: library -> the namespace flavour its losses see (see _flavor)
FLAVOR = {"pullback": "numpy", "pullback-1t": "numpy", "autograd": "autograd", "torch": "torch",
          "torch-1t": "torch", "jax": "jax", "jax-jit": "jax"}


# ---------------------------------------------------------------- the worker (one subprocess)


def _error(e: BaseException) -> str:
    msg = str(e).split("\n")[0]
    return f"{type(e).__name__}: {msg[:90]}"


def run_worker(lib: str, wl: str, scale: str, reps: int, warmup: int, check_path: str) -> dict:
    """Check, time and measure one library on one workload; returns a JSON-able dict."""
    C.ensure_pullback_importable()
    _, prepare, _, mem_method = LIBS[lib]
    loss = LOSSES[wl]
    res: dict = {"lib": lib, "workload": wl}

    # 1. gradient on the small float64 instance, saved for the parent to compare
    try:
        args, consts, static = make_inputs(wl, "check")
        _, gradient, to_numpy = prepare(loss, args, consts, static)
        np.savez(check_path, *to_numpy(gradient()))
    except Unsupported as e:
        res["unsupported"] = str(e)
        return res
    except Exception as e:  # noqa: BLE001 - a peer's failure is a result, not a crash
        res["check_error"] = _error(e)

    # 2. timings at the benchmark size, forward and gradient interleaved
    args, consts, static = make_inputs(wl, scale)
    forward, gradient, _ = prepare(loss, args, consts, static)
    try:
        gradient()
    except Exception as e:  # noqa: BLE001
        res["grad_error"] = _error(e)
        res["forward_s"] = C.median_time(forward, reps, warmup)
        return res
    if hasattr(gradient, "own_forward") and wl not in SMALL:
        # pullback: its gradient interleaved with its own (traced) forward, as every peer's is
        # with its forward. NumPy's plain forward is timed on its own: interleaved, its larger
        # temporaries made glibc trim the heap, and each following gradient page-faulted its
        # buffers back in (~1500 faults, W2 27 ms instead of 21).
        t = C.median_times({"gradient": gradient, "own_forward": gradient.own_forward}, reps, warmup)
        res["own_forward_s"] = t["own_forward"]
        t["forward"] = C.median_time(forward, reps, warmup)
    elif hasattr(gradient, "own_forward"):  # tiny arrays: all three interleaved, as noise-proof as it gets
        t = C.median_times({"forward": forward, "gradient": gradient, "own_forward": gradient.own_forward},
                           reps, warmup)
        res["own_forward_s"] = t["own_forward"]
    else:
        t = C.median_times({"forward": forward, "gradient": gradient}, reps, warmup)
    res["forward_s"], res["gradient_s"] = t["forward"], t["gradient"]

    # 3. memory the gradient adds (RSS first: tracemalloc's own bookkeeping would count there).
    # pullback starts each measurement from an empty block cache, so its gradient allocates anew.
    release = getattr(gradient, "release_memory", lambda: None)
    release()
    res["rss_mib"], res["rss_method"] = C.peak_rss_mib(gradient)
    if mem_method == "tracemalloc":
        release()
        res["tracemalloc_mib"] = C.peak_tracemalloc_mib(gradient)
    if lib.startswith("torch"):
        import torch

        res["threads"] = torch.get_num_threads()
    if lib.startswith("pullback"):  # the engine its large transforms ran on
        from pullback.engines import fft as fft_engine

        name = fft_engine.get_engine()  # "auto": a fixed rule, pocketfft below ENGINE_SIZE elements
        res["engines"] = [fft_engine.auto_engine("c2c", (1 << 20,), 1 << 20) if name == "auto" else name]
    return res


# ---------------------------------------------------------------- the parent


def _rel_err(got: tuple, ref: tuple, conjugate: bool) -> float:
    if len(got) != len(ref):
        return float("inf")
    err = 0.0
    for g, r in zip(got, ref, strict=True):
        g = np.conj(g) if conjugate else g
        err = max(err, float(np.max(np.abs(g - r)) / max(np.max(np.abs(r)), 1e-300)))
    return err


#: glibc settings for --malloc-tuned: keep freed memory in the heap (no trimming, no per-array
#: mmap), so large buffers are not returned to the kernel and page-faulted back in on the next call.
MALLOC_TUNED = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}


def run_pair(lib: str, wl: str, scale: str, reps: int, warmup: int, timeout: float, ref: tuple,
             malloc_tuned: bool = False) -> dict:
    """One (library, workload) pair in a fresh interpreter (``malloc_tuned``: with MALLOC_TUNED)."""
    env = dict(os.environ, **MALLOC_TUNED) if malloc_tuned else None
    with tempfile.TemporaryDirectory() as tmp:
        out, check = os.path.join(tmp, "result.json"), os.path.join(tmp, "check.npz")
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", lib, "--only", wl,
               "--scale", scale, "--reps", str(reps), "--warmup", str(warmup), "--out", out, "--check", check]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            return {"lib": lib, "workload": wl, "grad_error": f"timed out after {timeout:.0f} s"}
        if proc.returncode != 0 or not os.path.exists(out):
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            return {"lib": lib, "workload": wl, "grad_error": f"worker failed: {tail[0][:200]}"}
        with open(out) as fh:
            res = json.load(fh)
        if "check_error" not in res and "unsupported" not in res:
            with np.load(check) as z:
                got = tuple(z[f"arr_{i}"] for i in range(len(z.files)))
            res["check_rel_err"] = _rel_err(got, ref, conjugate=LIBS[lib][2])
    return res


def _engines_line() -> str:
    C.ensure_pullback_importable()
    from pullback.engines import fft as fft_engine

    return (f"pullback's FFT engine: {fft_engine.get_engine()!r}, over the installed engines "
            f"{', '.join(e for e in fft_engine.installed_engines() if e not in ('auto', 'scipy'))}.")


def _table(results: list[dict], tol: float) -> str:
    headers = ["workload", "library", "forward ms", "gradient ms", "grad/fwd", "traced fwd ms",
               "grad/traced fwd", "peak MiB (tracemalloc)", "peak MiB (RSS)", "check vs FD", "note"]
    rows = []
    for r in results:
        if "unsupported" in r:
            rows.append([r["workload"], r["lib"]] + ["-"] * 7 + ["n/a", f"n/a: {r['unsupported']}"])
            continue
        note = "; ".join(t for t in (impl_note(r["workload"], r["lib"]), r.get("grad_error"),
                                     r.get("check_error")) if t)
        if "threads" in r:
            note = (note + f" {r['threads']} thread(s)").strip()
        if r.get("engines") and r["workload"] not in NO_FFT:
            note = (note + " large FFTs: " + "+".join(r["engines"])).strip()
        err = r.get("check_rel_err")
        check = "-" if err is None else (f"ok {err:.0e}" if err < tol else f"WRONG {err:.1e}")
        ratio = r["gradient_s"] / r["forward_s"] if "gradient_s" in r else None
        own = r.get("own_forward_s")
        own_ratio = r["gradient_s"] / own if own and "gradient_s" in r else None
        rows.append([
            r["workload"], r["lib"],
            C.fmt(r.get("forward_s", 0) * 1e3 if "forward_s" in r else None),
            C.fmt(r["gradient_s"] * 1e3 if "gradient_s" in r else None),
            C.fmt(ratio, 2), C.fmt(own * 1e3 if own else None), C.fmt(own_ratio, 2),
            C.fmt(r.get("tracemalloc_mib")), C.fmt(r.get("rss_mib")), check, note,
        ])
    return C.markdown_table(headers, rows)


def _chart(results: list[dict], workloads: list[str], path: Path) -> None:
    plt = C.pyplot()
    if plt is None:
        return
    cols = min(len(workloads), 5)
    nrows = -(-len(workloads) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 4.2 * nrows), squeeze=False)
    for ax in axes.flat[len(workloads):]:
        ax.set_visible(False)
    for ax, wl in zip(axes.flat, workloads, strict=False):
        rs = [r for r in results if r["workload"] == wl and "forward_s" in r]
        names = [r["lib"] for r in rs]
        xs = np.arange(len(rs))
        fwd = [r["forward_s"] * 1e3 for r in rs]
        grad = [r.get("gradient_s", np.nan) * 1e3 for r in rs]
        ax.bar(xs - 0.2, fwd, 0.4, label="forward", color="#9ecae1")
        ax.bar(xs + 0.2, grad, 0.4, label="gradient", color="#08519c")
        for x, f, g in zip(xs, fwd, grad, strict=True):
            if np.isfinite(g):
                ax.annotate(f"{g / f:.1f}x", (x + 0.2, g), ha="center", va="bottom", fontsize=7)
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(plt.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(plt.NullFormatter())
        ax.set_xticks(xs, names, rotation=35, ha="right", fontsize=8)
        ax.set_title(f"{wl}: {DESCRIPTIONS[wl]}", fontsize=8)
        ax.set_ylabel("ms (median)")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"chart: {path}")


def main(argv: list[str] | None = None) -> int:
    """Run the suite; ``python -m pullback bench`` calls this with its remaining arguments."""
    ap = argparse.ArgumentParser(prog="peers.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes and 3 repetitions (a smoke test)")
    ap.add_argument("--only", default=",".join(LOSSES), help="workloads, e.g. W1,W3")
    ap.add_argument("--libs", default=",".join(LIBS), help=f"libraries among {', '.join(LIBS)}")
    ap.add_argument("--reps", type=int, default=None, help="timed repetitions (default 7; 3 with --quick)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed calls first (default 2; 1 --quick)")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per (library, workload) subprocess")
    ap.add_argument("--tol", type=float, default=1e-5, help="relative error allowed vs finite differences")
    ap.add_argument("--no-chart", action="store_true")
    ap.add_argument("--rounds", type=int, default=1,
                    help="run every library this many times, alternating, and keep each one's best round "
                         "(the median of its reps); the machine's speed drifts between runs")
    ap.add_argument("--malloc-tuned", action="store_true",
                    help="every library's process keeps freed memory (glibc: MALLOC_MMAP/TRIM_THRESHOLD_)")
    # internal: the per-pair subprocess
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--scale", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--check", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)

    scale = a.scale or ("quick" if a.quick else "full")
    reps = a.reps or (3 if scale == "quick" else 7)
    warmup = a.warmup if a.warmup is not None else (1 if scale == "quick" else 2)
    workloads = [w.strip().upper() for w in a.only.split(",") if w.strip()]
    bad = [w for w in workloads if w not in LOSSES]
    if bad:
        ap.error(f"unknown workload(s) {bad}; choose from {list(LOSSES)}")

    if a.worker:
        try:
            res = run_worker(a.worker, workloads[0], scale, reps, warmup, a.check)
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            res = {"lib": a.worker, "workload": workloads[0], "grad_error": _error(e)}
        with open(a.out, "w") as fh:
            json.dump(res, fh)
        return 0

    libs = [s.strip() for s in a.libs.split(",") if s.strip()]
    unknown = [s for s in libs if s not in LIBS]
    if unknown:
        ap.error(f"unknown librar(y/ies) {unknown}; choose from {list(LIBS)}")
    missing = [s for s in libs if not C.have(LIBS[s][0])]
    for s in missing:
        print(f"skipping {s}: module {LIBS[s][0]!r} is not installed")
    libs = [s for s in libs if s not in missing]
    timeout = a.timeout or (300.0 if scale == "quick" else 1800.0)

    print(f"# pullback vs peers ({scale} sizes, median of {reps} after {warmup} warm-up)\n")
    print(C.machine_line() + "\n")
    results = []
    for wl in workloads:
        print(f"{wl}: {DESCRIPTIONS[wl]}; {describe_inputs(wl, scale)}", flush=True)
        if NEEDS.get((wl, "numpy")) and not C.have(NEEDS[(wl, "numpy")]):  # the reference needs it
            print(f"  skipped: {NEEDS[(wl, 'numpy')]} is not installed", flush=True)
            continue
        ref = fd_reference(wl)
        rounds: dict = {lib: [] for lib in libs}
        for k in range(max(1, a.rounds)):
            for lib in libs:  # alternating, so that a slow spell of the machine hits every library
                why = UNSUPPORTED.get((wl, FLAVOR[lib]))
                need = NEEDS.get((wl, FLAVOR[lib]))
                if why is None and need is not None and not C.have(need):
                    why = f"{need} is not installed"
                if why is not None:
                    if k == 0:
                        rounds[lib].append({"lib": lib, "workload": wl, "unsupported": why})
                        print(f"  {lib:11s} n/a: {why}", flush=True)
                    continue
                r = run_pair(lib, wl, scale, reps, warmup, timeout, ref, a.malloc_tuned)
                rounds[lib].append(r)
                g = f"{r['gradient_s'] * 1e3:.3g} ms" if "gradient_s" in r else r.get("grad_error", "")
                tag = f" (round {k + 1})" if a.rounds > 1 else ""
                print(f"  {lib:11s} gradient {g}{tag}", flush=True)
        for lib in libs:
            timed = [r for r in rounds[lib] if "gradient_s" in r]
            best = min(timed, key=lambda r: r["gradient_s"]) if timed else rounds[lib][-1]
            if a.rounds > 1 and timed:
                best["rounds_gradient_ms"] = [round(r["gradient_s"] * 1e3, 3) for r in timed]
            results.append(best)

    table = _table(results, a.tol)
    notes = [
        "Times are medians (ms); forward and gradient calls are interleaved (pullback: its gradient "
        "and traced forward; NumPy's plain forward too on W3, apart on the others, since its "
        "temporaries made glibc trim the heap and the next gradient page-fault). 'gradient' computes the "
        "loss and its gradient. Peak memory is what one gradient call adds: tracemalloc (NumPy-based "
        "libraries) and the kernel's RSS high-water mark (every library), in MiB. pullback keeps up to "
        "256 MiB of freed large blocks for the next call (pb.release_memory() returns them); its memory "
        "is measured from an empty cache.",
        "'check vs FD' is the max relative error of the gradient on a small float64 instance against "
        "central finite differences (dL/dx + i dL/dy). pullback and torch return dL/dx + i dL/dy; "
        "JAX and autograd return its conjugate, which is conjugated before comparing.",
        "Threads: pullback transforms through scipy.fft and by default uses every core for transforms "
        "of 2^16 elements or more (pullback-1t: scipy.fft.set_workers(1)); its forward column is plain "
        "NumPy, single-threaded. autograd is single-threaded NumPy; torch and JAX use their own pools "
        "(torch-1t: torch.set_num_threads(1)).",
        "'traced fwd' is pullback's own forward pass (its FFT engine and its tape: the first half of a "
        "gradient); 'grad/traced fwd' is the gradient's cost relative to it. " + _engines_line(),
    ]
    if a.rounds > 1:
        every = "; ".join(f"{r['workload']} {r['lib']} " + "/".join(f"{v:.3g}" for v in r.get(
            "rounds_gradient_ms", [])) for r in results)
        notes.append(f"--rounds {a.rounds}: each library ran {a.rounds} times, alternating with the others; "
                     f"the table shows each one's best round. Gradient medians of every round (ms): {every}.")
    if a.malloc_tuned:
        notes.append("--malloc-tuned: every library's process ran with " + ", ".join(
            f"{k}={v}" for k, v in MALLOC_TUNED.items()) + " (glibc keeps freed memory instead of "
            "returning it to the kernel and page-faulting it back in).")
    sizes = "\n".join(f"- {wl}: {DESCRIPTIONS[wl]}; {describe_inputs(wl, scale)}" for wl in workloads)
    report = (f"# pullback vs peers ({scale} sizes)\n\n{C.machine_line()}\n\n{sizes}\n\n{table}\n\n"
              + "\n\n".join(notes) + "\n")
    print("\n" + table + "\n\n" + "\n\n".join(notes))

    out = C.results_dir()
    stem = ("peers" if scale == "full" else f"peers_{scale}") + ("_malloc_tuned" if a.malloc_tuned else "")
    (out / f"{stem}.md").write_text(report)
    (out / f"{stem}.json").write_text(json.dumps(results, indent=1))
    print(f"\nwrote {out / (stem + '.md')} and {stem}.json")
    if not a.no_chart:
        _chart(results, workloads, out / f"{stem}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
