"""What an FFT gradient costs in pullback, against its forward pass and against a dense DFT matrix.

1. grad/forward time ratio of pullback for L = sum(abs(T(x))**2), T one of fft, rfft (1-D,
   N = 2^10 .. 2^22) and fft2, rfft2 (2-D, 256^2 .. 2048^2), in float32 and float64. The
   gradient should cost a small constant times the forward pass at every size, and keep its
   input's dtype (float32 in, float32 out).
2. pullback's gradient of sum(abs(fft(x))**2) against the seed's dense-DFT-matrix gradient
   (Zygote issue #204: build the N x N matrix exp(2 pi i jk/N) and multiply), from N = 64 up to
   the size where the dense one takes over 10 s (or its matrix would not fit in --dense-mem GiB).
3. The constant-cotangent case, the seed's own example: the gradient of abs(sum(fft(x))). The
   cotangent reaching fft is the same in every bin, so its adjoint is a delta: the backward pass
   should be O(N), with a flat time per element.

Plain NumPy is the forward baseline (single-threaded). pullback transforms through scipy.fft and by
default uses every core for large transforms, so part 1 also gives the like-for-like ratio: gradient
and a scipy.fft forward, both on one thread.

Writes a log-log PNG (time against N) to benchmarks/results/fft_ratio.png.

Run:  python benchmarks/fft_ratio.py [--quick] [--parts 1,2,3] [--dense-mem 4]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench_common as C  # noqa: E402
import numpy as np  # noqa: E402
import scipy.fft  # noqa: E402

C.ensure_pullback_importable()
import pullback as pb  # noqa: E402

TRANSFORMS = {"fft": np.fft.fft, "rfft": np.fft.rfft, "fft2": np.fft.fft2, "rfft2": np.fft.rfft2}
#: the same transforms in pullback's own engine, for a same-engine forward baseline
SCIPY_TRANSFORMS = {k: getattr(scipy.fft, k) for k in TRANSFORMS}


def make_x(kind: str, shape, real_dtype, rng):
    x = rng.standard_normal(shape).astype(real_dtype)
    if not kind.startswith("r"):  # c2c transforms get complex input
        x = x + 1j * rng.standard_normal(shape).astype(real_dtype)
    return x


# ---------------------------------------------------------------- 1. grad / forward ratio


def one_thread(fn):
    """``fn()`` with scipy.fft (pullback's transform engine) held to one thread."""
    with scipy.fft.set_workers(1):
        return fn()


def ratio_rows(sizes_1d, sizes_2d, reps) -> list[list]:
    rng = np.random.default_rng(0)
    rows = []
    cases = [(k, (n,)) for k in ("fft", "rfft") for n in sizes_1d]
    cases += [(k, (n, n)) for k in ("fft2", "rfft2") for n in sizes_2d]
    for real_dtype in (np.float32, np.float64):
        for kind, shape in cases:
            T, S = TRANSFORMS[kind], SCIPY_TRANSFORMS[kind]
            x = make_x(kind, shape, real_dtype, rng)
            loss = lambda x: np.sum(np.abs(T(x)) ** 2)
            scipy_loss = lambda: one_thread(lambda: np.sum(np.abs(S(x)) ** 2))
            try:
                (g,) = pb.gradient(loss, x)
            except Exception as e:  # noqa: BLE001 - a missing rule is a result
                rows.append([kind, "x".join(map(str, shape)), str(x.dtype), "-", "-", "-", "-", "-", "-", "-",
                             f"{type(e).__name__}: {str(e).splitlines()[0][:80]}"])
                continue
            t = C.median_times({"f": lambda: loss(x), "fs": scipy_loss, "g": lambda: pb.gradient(loss, x),
                                "g1": lambda: one_thread(lambda: pb.gradient(loss, x))}, reps, warmup=1)
            ok = "" if g.dtype == x.dtype else f"gradient dtype {g.dtype}!"
            rows.append([kind, "x".join(map(str, shape)), str(x.dtype), C.fmt(t["f"] * 1e3),
                         C.fmt(t["g"] * 1e3), C.fmt(t["g"] / t["f"], 2), C.fmt(t["fs"] * 1e3),
                         C.fmt(t["g1"] * 1e3), C.fmt(t["g1"] / t["fs"], 2), str(g.dtype), ok])
            print(f"  {kind:5s} {str(shape):14s} {str(x.dtype):10s} grad/fwd {t['g'] / t['f']:.2f}, "
                  f"same engine 1 thread {t['g1'] / t['fs']:.2f}", flush=True)
    return rows


# ---------------------------------------------------------------- 2. against the dense DFT matrix


def dense_gradient(x: np.ndarray) -> np.ndarray:
    """The seed's gradient of sum(abs(fft(x))**2): forward by FFT, adjoint by an N x N matrix.

    The cotangent of y = fft(x) is 2y; the adjoint of fft is the matrix exp(+2 pi i jk/N),
    built in full (in row blocks, so its temporaries stay small) as Zygote #204's pullback did.
    """
    y = np.fft.fft(x)
    n = x.shape[0]
    j = np.arange(n)
    omega = np.empty((n, n), dtype=np.complex128)
    step = max(1, 2**22 // n)
    for r in range(0, n, step):
        omega[r:r + step] = np.exp((2j * np.pi / n) * (np.outer(j[r:r + step], j) % n))
    return omega @ (2 * y)


def _time(fn, reps: int) -> float:
    """Median of ``reps`` calls, but a single call once one takes over a second."""
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    return first if first > 1.0 else C.median_time(fn, reps, warmup=0)


def dense_vs_fast(max_fast: int, dense_mem_gib: float, dense_limit_s: float, reps: int):
    rng = np.random.default_rng(1)
    loss = lambda x: np.sum(np.abs(np.fft.fft(x)) ** 2)
    ns, fast, dense = [], [], []
    n, dense_on = 64, True
    while n <= max_fast:
        x = rng.standard_normal(n) + 1j * rng.standard_normal(n)
        t_fast = _time(lambda: pb.gradient(loss, x), reps)
        t_dense = None
        if dense_on and 16.0 * n * n <= dense_mem_gib * 2**30:
            if n <= 4096:
                (g,) = pb.gradient(loss, x)
                err = np.max(np.abs(dense_gradient(x) - g)) / np.max(np.abs(g))
                assert err < 1e-8, f"dense and pullback gradients disagree at N={n}: {err:.1e}"
            t_dense = _time(lambda: dense_gradient(x), reps)
            dense_on = t_dense <= dense_limit_s
            if not dense_on:
                print(f"  dense: stopping after N={n}: it took over {dense_limit_s:g} s")
        elif dense_on:
            print(f"  dense: stopping before N={n}: its matrix would need {16 * n * n / 2**30:.3g} GiB "
                  f"(--dense-mem {dense_mem_gib:g})")
            dense_on = False
        ns.append(n)
        fast.append(t_fast)
        dense.append(t_dense)
        d = "-" if t_dense is None else f"{t_dense * 1e3:.4g} ms"
        print(f"  N={n:8d}  pullback {t_fast * 1e3:9.4g} ms   dense {d}", flush=True)
        n *= 2
    return ns, fast, dense


# ---------------------------------------------------------------- 3. constant cotangent


def constant_cotangent(sizes, reps):
    """Backward-pass time of abs(sum(fft(x))) (the seed's example), real and complex x.

    Per N: (N, backward alone, backward + one read of the gradient, one forward fft), in s.
    The gradient is a delta, mostly zeros: a large one may come from calloc as untouched
    zero pages, so "backward alone" can look O(1). Reading it once (np.sum) touches every
    page, which any use of the gradient does: that time is the honest O(N) figure.
    """
    rng = np.random.default_rng(2)
    loss = lambda x: np.abs(np.sum(np.fft.fft(x)))
    out = {}
    for dtype in (np.float64, np.complex128):
        ts = []
        for n in sizes:
            x = rng.standard_normal(n).astype(dtype)
            if dtype == np.complex128:
                x += 1j * rng.standard_normal(n)
            value, back = pb.pullback(loss, x)
            seed = np.ones_like(value)
            (g,) = back(seed)
            expected = np.zeros(n, dtype=dtype)
            s = np.sum(np.fft.fft(x))  # = n x[0]: the gradient is n s/|s| at index 0 (real part for real x)
            expected[0] = n * s / abs(s) if dtype == np.complex128 else (n * s / abs(s)).real
            assert np.allclose(g, expected), f"wrong gradient of abs(sum(fft(x))) at N={n}"
            t = C.median_times({"back": lambda: back(seed), "read": lambda: np.sum(back(seed)[0]),
                                "fft": lambda: np.fft.fft(x)}, reps, warmup=1)
            ts.append((n, t["back"], t["read"], t["fft"]))
        out[np.dtype(dtype).name] = ts
    return out


def _slope(ns, ts) -> float:
    """Log-log slope of time against N over the upper half of the sizes (1 = linear)."""
    h = len(ns) // 2
    return float(np.polyfit(np.log(ns[h:]), np.log(ts[h:]), 1)[0]) if len(ns) - h >= 2 else float("nan")


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, 3 repetitions")
    ap.add_argument("--parts", default="1,2,3", help="which parts to run: 1 ratio, 2 dense, 3 constant")
    ap.add_argument("--reps", type=int, default=None, help="timed repetitions (default 7; 3 with --quick)")
    ap.add_argument("--dense-mem", type=float, default=4.0, help="GiB the dense DFT matrix may take")
    ap.add_argument("--dense-limit", type=float, default=10.0, help="stop the dense curve past this many s")
    a = ap.parse_args(argv)
    reps = a.reps or (3 if a.quick else 7)
    parts = {p.strip() for p in a.parts.split(",")}
    top = 16 if a.quick else 22
    sizes_1d = [2**p for p in range(10, top + 1, 2)]
    sizes_2d = [256, 512] if a.quick else [256, 512, 1024, 2048]
    report = [f"# FFT gradients in pullback ({'quick' if a.quick else 'full'} sizes, median of {reps})",
              C.machine_line()]

    if "1" in parts:
        print("1. grad/forward ratio, L = sum(abs(T(x))**2)")
        rows = ratio_rows(sizes_1d, sizes_2d, reps)
        headers = ["transform", "shape", "x dtype", "NumPy fwd ms", "gradient ms", "grad/fwd",
                   "scipy fwd ms (1t)", "gradient ms (1t)", "grad/fwd (1t)", "grad dtype", "note"]
        report += ["## 1. grad/forward time ratio, L = sum(abs(T(x))**2)", C.markdown_table(headers, rows),
                   "NumPy fwd: the loss in plain NumPy (single-threaded), what the user's code costs "
                   "untraced. gradient: pb.gradient at its defaults (transforms of 2^16 elements or more "
                   "on every core); grad/fwd is against the NumPy forward. (1t): the same loss with "
                   "scipy.fft.* (pullback's transform engine) and the gradient, both inside "
                   "scipy.fft.set_workers(1): the like-for-like ratio."]
        print("\n" + "\n\n".join(report[-2:]) + "\n")

    curves = {}
    if "2" in parts:
        print("2. pullback vs the dense DFT-matrix gradient (sum(abs(fft(x))**2), complex128)")
        mem = min(a.dense_mem, 0.02) if a.quick else a.dense_mem
        ns, fast, dense = dense_vs_fast(2**top, mem, a.dense_limit, reps)
        curves["dense"] = (ns, fast, dense)
        rows = [[n, C.fmt(f * 1e3), C.fmt(None if d is None else d * 1e3),
                 C.fmt(None if d is None else d / f)] for n, f, d in zip(ns, fast, dense, strict=True)]
        report += ["## 2. gradient of sum(abs(fft(x))**2): pullback vs dense DFT matrix (Zygote #204)",
                   C.markdown_table(["N", "pullback ms", "dense ms", "dense / pullback"], rows),
                   f"log-log slope of pullback's time (upper half of N): {_slope(ns, fast):.2f}"]
        dn = [(n, d) for n, d in zip(ns, dense, strict=True) if d is not None]
        if len(dn) >= 4:
            report[-1] += f"; of the dense one: {_slope(*zip(*dn, strict=True)):.2f} (2 = quadratic)"
        print("\n" + "\n\n".join(report[-2:]) + "\n")

    if "3" in parts:
        print("3. constant cotangent: backward pass of abs(sum(fft(x)))")
        cc = constant_cotangent(sizes_1d, reps)
        curves["constant"] = cc
        rows = []
        for dt, ts in cc.items():
            for n, tb, tr, tf in ts:
                rows.append([dt, n, C.fmt(tb * 1e6), C.fmt(tr * 1e6), C.fmt(tr / n * 1e9, 3),
                             C.fmt(tf * 1e6), C.fmt(tr / tf, 2)])
        slopes = ", ".join(f"{dt}: {_slope([t[0] for t in ts], [t[2] for t in ts]):.2f}"
                           for dt, ts in cc.items())
        report += ["## 3. constant cotangent: backward pass of abs(sum(fft(x))) (pb.pullback, then back(1))",
                   C.markdown_table(["x dtype", "N", "backward us", "backward + read us", "ns / element",
                                     "one fft us", "(backward + read) / fft"], rows),
                   "'backward + read' is back(1) followed by np.sum of the gradient, which touches every "
                   "page of it (a large, mostly-zero gradient can come from calloc as untouched pages, so "
                   "'backward' alone can look O(1)). ns / element is of 'backward + read'. Log-log slope "
                   f"of 'backward + read' over the upper half of N (1 = O(N), below 1 while a fixed "
                   f"per-call cost dominates): {slopes}"]
        print("\n" + "\n\n".join(report[-2:]) + "\n")

    out = C.results_dir()
    stem = "fft_ratio" + ("_quick" if a.quick else "")
    if parts != {"1", "2", "3"}:  # a partial run must not overwrite the full report
        stem += "_part" + "".join(sorted(parts))
    (out / f"{stem}.md").write_text("\n\n".join(report) + "\n")
    print(f"wrote {out / (stem + '.md')}")
    if curves:
        _plot(curves, out / f"{stem}.png")
    return 0


def _plot(curves, path: Path) -> None:
    plt = C.pyplot()
    if plt is None:
        return
    fig, axes = plt.subplots(1, len(curves), figsize=(6 * len(curves), 4.5), squeeze=False)
    axes = list(axes[0])
    if "dense" in curves:
        ax = axes.pop(0)
        ns, fast, dense = curves["dense"]
        ax.loglog(ns, fast, "o-", label="pullback (O(N log N) adjoint)")
        dn = [(n, d) for n, d in zip(ns, dense, strict=True) if d is not None]
        if dn:
            ax.loglog(*zip(*dn, strict=True), "s-", label="dense DFT matrix (Zygote #204)")
        ax.set_xlabel("N")
        ax.set_ylabel("gradient time (s)")
        ax.set_title("gradient of sum(abs(fft(x))**2), complex128")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="upper left")
    if "constant" in curves:
        ax = axes.pop(0)
        for dt, ts in curves["constant"].items():
            ns = [t[0] for t in ts]
            ax.loglog(ns, [t[2] for t in ts], "o-", label=f"backward + read of the gradient, {dt}")
            ax.loglog(ns, [t[1] for t in ts], ":", alpha=0.6, label=f"backward alone, {dt}")
        ts = next(iter(curves["constant"].values()))
        ns = [t[0] for t in ts]
        ax.loglog(ns, [t[3] for t in ts], "k--", alpha=0.5, label="one forward fft (reference)")
        per_elt = float(np.median([t[2] / t[0] for t in ts[len(ts) // 2:]]))
        ax.loglog(ns, [per_elt * n for n in ns], color="gray", lw=0.8, alpha=0.6, label="slope 1 (O(N))")
        ax.set_xlabel("N")
        ax.set_ylabel("time (s)")
        ax.set_title("constant cotangent: backward pass only")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"chart: {path}")


if __name__ == "__main__":
    sys.exit(main())
