"""Hessian-vector product time over gradient time on the W2 FNO loss (goal: <= 3).

W2: x float32[16,256,256], W complex64[256,129],
``L = sum(irfft2(rfft2(x) * W, s=(256,256))**2)``. Timed, interleaved (one call of each per
repetition), median of ``--reps`` (default 7) after warm-up calls:

- ``gradient x``: ``pb.gradient(lambda x: L(x, W), x)``
- ``hvp x``: ``pb.hvp(lambda x: L(x, W), (x,), (v,))`` (forward-over-reverse)
- ``gradient x,W`` and ``hvp x,W``: the same w.r.t. both arguments jointly.

Correctness first: L is quadratic in x (L = |A x|^2, so H_xx v = 2 A^T A v is the gradient
at v), which checks ``hvp x`` exactly; the joint product is checked against finite
differences of the gradient on a small instance. With ``--profile``, cProfile shows where
the time of one hvp goes (by total time per function).

Run:  python benchmarks/hvp.py [--quick] [--reps 7] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench_common as C  # noqa: E402
import numpy as np  # noqa: E402

C.ensure_pullback_importable()
import pullback as pb  # noqa: E402


def loss(x, W):
    n1, n2 = x.shape[-2:]
    return np.sum(np.fft.irfft2(np.fft.rfft2(x) * W, s=(n1, n2)) ** 2)


def make_inputs(batch: int, n: int, dtype=np.float32, seed: int = 0):
    rng = np.random.default_rng(seed)
    cdtype = np.complex64 if dtype == np.float32 else np.complex128
    x = rng.standard_normal((batch, n, n)).astype(dtype)
    W = (rng.standard_normal((n, n // 2 + 1)) + 1j * rng.standard_normal((n, n // 2 + 1))).astype(cdtype)
    W /= np.sqrt(n)
    vx = rng.standard_normal(x.shape).astype(dtype)
    vW = (rng.standard_normal(W.shape) + 1j * rng.standard_normal(W.shape)).astype(cdtype) / np.sqrt(n)
    return x, W, vx, vW


def check() -> list[str]:
    """Correctness of both products on small float64 instances; returns lines for the report."""
    lines = []
    x, W, vx, vW = make_inputs(2, 8, np.float64, seed=1)
    (hx,) = pb.hvp(lambda x: loss(x, W), (x,), (vx,))
    want = pb.gradient(lambda x: loss(x, W), vx)[0]  # L = |A x|^2: H v = 2 A^T A v = grad L(v)
    err = float(np.max(np.abs(hx - want)) / np.max(np.abs(want)))
    lines.append(f"hvp x vs gradient at v (exact for a quadratic): rel err {err:.1e}")
    hx, hW = pb.hvp(loss, (x, W), (vx, vW))
    eps = 1e-6
    gp = pb.gradient(loss, x + eps * vx, W + eps * vW)
    gm = pb.gradient(loss, x - eps * vx, W - eps * vW)
    for name, h, p, m in [("x", hx, gp[0], gm[0]), ("W", hW, gp[1], gm[1])]:
        fd = (p - m) / (2 * eps)
        err = float(np.max(np.abs(h - fd)) / np.max(np.abs(fd)))
        lines.append(f"hvp x,W ({name} part) vs finite differences of the gradient: rel err {err:.1e}")
    return lines


def profile(fn, top: int = 18) -> str:
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out).sort_stats("tottime")
    stats.print_stats(top)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="x float32[4,64,64], 7 repetitions")
    ap.add_argument("--batch", type=int, default=None, help="batch size (default 16)")
    ap.add_argument("--n", type=int, default=None, help="image side (default 256)")
    ap.add_argument("--reps", type=int, default=7, help="timed repetitions (default 7)")
    ap.add_argument("--profile", action="store_true", help="cProfile one hvp (x, and x,W)")
    a = ap.parse_args(argv)
    batch = a.batch or (4 if a.quick else 16)
    n = a.n or (64 if a.quick else 256)

    checks = check()
    for line in checks:
        print(line)

    x, W, vx, vW = make_inputs(batch, n)
    fns = {
        "gradient x": lambda: pb.gradient(lambda x: loss(x, W), x),
        "hvp x": lambda: pb.hvp(lambda x: loss(x, W), (x,), (vx,)),
        "gradient x,W": lambda: pb.gradient(loss, x, W),
        "hvp x,W": lambda: pb.hvp(loss, (x, W), (vx, vW)),
        "forward": lambda: loss(x, W),
    }
    hx = fns["hvp x"]()[0]
    assert hx.dtype == np.float32, hx.dtype
    t = C.median_times(fns, a.reps, warmup=2)
    rows = [
        ["w.r.t. x", C.fmt(t["forward"] * 1e3), C.fmt(t["gradient x"] * 1e3), C.fmt(t["hvp x"] * 1e3),
         C.fmt(t["hvp x"] / t["gradient x"], 3), C.fmt(t["hvp x"] / t["forward"], 3)],
        ["w.r.t. (x, W)", C.fmt(t["forward"] * 1e3), C.fmt(t["gradient x,W"] * 1e3),
         C.fmt(t["hvp x,W"] * 1e3), C.fmt(t["hvp x,W"] / t["gradient x,W"], 3),
         C.fmt(t["hvp x,W"] / t["forward"], 3)],
    ]
    headers = ["product", "forward ms", "gradient ms", "hvp ms", "hvp / gradient", "hvp / forward"]
    table = C.markdown_table(headers, rows)
    text = (f"# Hessian-vector products on W2: x float32[{batch},{n},{n}], W complex64[{n},{n // 2 + 1}]\n\n"
            f"{C.machine_line()}\n\nL = sum(irfft2(rfft2(x) * W, s=({n},{n}))**2); median of {a.reps} "
            f"after 2 warm-up calls, interleaved. hvp is forward-over-reverse (pb.hvp).\n\n{table}\n\n"
            + "\n".join(f"- {line}" for line in checks) + "\n")
    if a.profile:
        for name in ("hvp x", "hvp x,W"):
            text += f"\n## cProfile of one `{name}` (by total time)\n\n```\n{profile(fns[name])}```\n"
    print("\n" + text)
    out = C.results_dir() / ("hvp_quick.md" if a.quick else "hvp.md")
    out.write_text(text)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
