"""finufft gradients: pullback beside the forward transform, jax-finufft and pytorch-finufft.

For M non-uniform points and 256^2 (2-D) or 64^3 (3-D) modes, type 1 (points to modes) and
type 2 (modes to points), the loss is ``sum(abs(nufft(...))**2)``; the script times

- ``forward``: one plain finufft call (the unit of the ratios),
- ``grad data``: the gradient w.r.t. the strengths / coefficients,
- ``grad points``: the gradient w.r.t. the points x, y[, z] (data held fixed),

for pullback (unmodified ``finufft.nufft2d1`` etc. under ``pb.gradient``), jax-finufft
(``jax.jit(jax.grad(...))``) and pytorch-finufft (``torch.autograd``), when installed. All run
in double precision, interleaved (one call of each per repetition), with ``eps`` as given.
It also measures the gradient's error against a reference at ``eps=1e-12`` (relative,
2-norm) for a range of ``eps`` (``--accuracy``, small sizes).

finufft runs with ``nthreads=1`` unless ``--threads`` says otherwise: on a small shared machine
OpenMP threads that wait for each other make every library several times slower.

Run:  python benchmarks/nufft.py [--quick] [--points 1000000] [--reps 5] [--eps 1e-6] [--threads 1]
      python benchmarks/nufft.py --accuracy
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench_common as C  # noqa: E402
import numpy as np  # noqa: E402

C.ensure_pullback_importable()
import pullback as pb  # noqa: E402


def _inputs(dim, tp, m, n, rng):
    pts = [rng.uniform(-np.pi, np.pi, m) for _ in range(dim)]
    shape = (m,) if tp == 1 else (n,) * dim
    data = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    return pts, data


def pullback_fns(dim, tp, n, pts, data, eps, threads):
    import finufft

    f = getattr(finufft, f"nufft{dim}d{tp}")
    modes = (n,) * dim

    def call(data, *pts):
        if tp == 1:
            return f(*pts, data, modes, eps=eps, nthreads=threads)
        return f(*pts, data, eps=eps, nthreads=threads)

    def loss(data, *pts):
        return np.sum(np.abs(call(data, *pts)) ** 2)

    grad_data = pb.grad(loss, argnums=0)
    grad_pts = pb.grad(loss, argnums=tuple(range(1, dim + 1)))
    return {
        "forward": lambda: call(data, *pts),
        "grad data": lambda: grad_data(data, *pts),
        "grad points": lambda: grad_pts(data, *pts),
    }


def jax_fns(dim, tp, n, pts, data, eps, threads):
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jax_finufft import nufft1, nufft2
    from jax_finufft.options import Opts

    opts = Opts(nthreads=threads)

    jp = [jnp.asarray(p) for p in pts]
    jd = jnp.asarray(data)

    def call(d, *p):
        if tp == 1:
            return nufft1((n,) * dim, d, *p, eps=eps, iflag=1, opts=opts)
        return nufft2(d, *p, eps=eps, iflag=-1, opts=opts)

    def loss(d, *p):
        return jnp.sum(jnp.abs(call(d, *p)) ** 2)

    fwd = jax.jit(call)
    gd = jax.jit(jax.grad(loss, argnums=0))
    gp = jax.jit(jax.grad(loss, argnums=tuple(range(1, dim + 1))))
    return {
        "forward": lambda: fwd(jd, *jp).block_until_ready(),
        "grad data": lambda: gd(jd, *jp).block_until_ready(),
        "grad points": lambda: jax.block_until_ready(gp(jd, *jp)),
    }


def torch_fns(dim, tp, n, pts, data, eps, threads):
    import pytorch_finufft.functional as PF
    import torch

    tp_pts = torch.tensor(np.stack(pts))
    td = torch.tensor(data)

    def call(d, p):
        if tp == 1:
            return PF.finufft_type1(p, d, (n,) * dim, eps=eps, isign=1, modeord=0, nthreads=threads)
        return PF.finufft_type2(p, d, eps=eps, isign=-1, modeord=0, nthreads=threads)

    def grad(which):
        d = td.clone().requires_grad_(which == "data")
        p = tp_pts.clone().requires_grad_(which == "points")
        loss = torch.sum(torch.abs(call(d, p)) ** 2)
        loss.backward()
        return d.grad if which == "data" else p.grad

    return {
        "forward": lambda: call(td, tp_pts),
        "grad data": lambda: grad("data"),
        "grad points": lambda: grad("points"),
    }


LIBS = {"pullback": (None, pullback_fns), "jax-finufft": ("jax_finufft", jax_fns),
        "pytorch-finufft": ("pytorch_finufft", torch_fns)}


def accuracy(m: int = 2000, n: int = 32) -> list[list[object]]:
    """Relative 2-norm error of the gradients w.r.t. data and points against eps=1e-12, 2-D types 1 and 2."""
    import finufft

    rng = np.random.default_rng(0)
    rows = []
    for tp in (1, 2):
        pts, data = _inputs(2, tp, m, n, rng)
        f = getattr(finufft, f"nufft2d{tp}")

        def loss(data, x, y, eps, f=f, tp=tp):
            kw = {"eps": eps, "nthreads": 1}
            out = f(x, y, data, (n, n), **kw) if tp == 1 else f(x, y, data, **kw)
            return np.sum(np.abs(out) ** 2)

        ref = pb.gradient(loss, data, *pts, eps=1e-12)
        for eps in (1e-2, 1e-4, 1e-6, 1e-8, 1e-10):
            g = pb.gradient(loss, data, *pts, eps=eps)
            err = [np.linalg.norm(a - b) / np.linalg.norm(b) for a, b in zip(g, ref)]
            val = abs(loss(data, *pts, eps=eps) / loss(data, *pts, eps=1e-12) - 1)
            rows.append([f"type {tp}", f"{eps:.0e}", f"{val:.1e}", f"{err[0]:.1e}", f"{max(err[1:]):.1e}"])
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--eps", type=float, default=1e-6)
    ap.add_argument("--threads", type=int, default=1, help="finufft's nthreads for every library (0: all)")
    ap.add_argument("--cases", default="", help="e.g. 0,2: only these of 2-d t1, 2-d t2, 3-d t1, 3-d t2")
    ap.add_argument("--accuracy", action="store_true")
    args = ap.parse_args(argv)
    if args.accuracy:
        print("gradient error vs eps (relative 2-norm against eps=1e-12; M=2000, 32^2 modes):\n")
        print(C.markdown_table(["transform", "eps", "loss error", "grad data error", "grad points error"],
                               accuracy()))
        return
    m = 20_000 if args.quick else args.points
    reps = 2 if args.quick else args.reps
    cases = [(2, 1, 64 if args.quick else 256), (2, 2, 64 if args.quick else 256),
             (3, 1, 16 if args.quick else 64), (3, 2, 16 if args.quick else 64)]
    libs = {k: v for k, v in LIBS.items() if v[0] is None or C.have(v[0])}
    for k in LIBS:
        if k not in libs:
            print(f"({k} not installed: skipped)")
    if args.cases:
        cases = [cases[int(i)] for i in args.cases.split(",")]
    rows = []
    for dim, tp, n in cases:
        rng = np.random.default_rng(dim * 10 + tp)
        pts, data = _inputs(dim, tp, m, n, rng)
        fns = {}
        for lib, (_, make) in libs.items():
            for what, fn in make(dim, tp, n, pts, data, args.eps, args.threads).items():
                fns[(lib, what)] = fn
        times = C.median_times(fns, reps=reps, warmup=1)
        base = times[("pullback", "forward")]
        for lib in libs:
            t = [times[(lib, w)] for w in ("forward", "grad data", "grad points")]
            rows.append([f"{dim}-d type {tp}, {n}^{dim} modes", lib] + [f"{v * 1e3:.0f}" for v in t]
                        + [f"{t[1] / t[0]:.2f}", f"{t[2] / t[0]:.2f}", f"{t[2] / base:.2f}"])
            print(" | ".join(rows[-1]), flush=True)  # progress; the table follows at the end
    print(f"M = {m} points, eps = {args.eps}, nthreads = {args.threads}, medians of {reps} (ms); ratios to "
          "the library's own forward and, last column, to finufft's forward\n")
    headers = ["case", "library", "forward", "grad data", "grad points", "data/fwd", "points/fwd",
               "points/finufft fwd"]
    print(C.markdown_table(headers, rows))


if __name__ == "__main__":
    main()
