"""pullback side by side with its peers on four FFT workloads.

Workloads (full size; ``--quick`` shrinks them):

* W1  x complex128[2^20];                     L = sum(abs(fft(x))**2)
* W2  x float32[16,256,256], W complex64[256,129];
      L = sum(irfft2(rfft2(x) * W, s=(256,256))**2)      (gradient w.r.t. x and W)
* W3  x float64[64]; 100 times y = sin(irfft(rfft(y) * k, n=64)); L = sum(y)
* W4  x complex128[64,64,64];                 L = sum(abs(ifftn(fftn(x) * k))**2)

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


LOSSES = {"W1": loss_w1, "W2": loss_w2, "W3": loss_w3, "W4": loss_w4}
#: Workloads on tiny arrays, where pullback's plain forward is interleaved with its gradient (W3's
#: overhead compares the two); on the others it is timed apart (see run_worker).
SMALL = {"W3"}

DESCRIPTIONS = {
    "W1": "L = sum(abs(fft(x))**2)",
    "W2": "L = sum(irfft2(rfft2(x) * W, s)**2), grad w.r.t. x and W",
    "W3": "repeat y = sin(irfft(rfft(y) * k, n)); L = sum(y)",
    "W4": "L = sum(abs(ifftn(fftn(x) * k))**2)",
}

#: Problem sizes per scale. "check" is the small float64 instance every library is verified on.
SIZES = {
    "full": {"W1": {"n": 2**20}, "W2": {"b": 16, "n": 256}, "W3": {"n": 64, "steps": 100}, "W4": {"n": 64}},
    "quick": {"W1": {"n": 2**14}, "W2": {"b": 2, "n": 64}, "W3": {"n": 64, "steps": 100}, "W4": {"n": 16}},
    "check": {"W1": {"n": 16}, "W2": {"b": 2, "n": 8}, "W3": {"n": 16, "steps": 10}, "W4": {"n": 4}},
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
    raise KeyError(wl)


def describe_inputs(wl: str, scale: str) -> str:
    args, _, static = make_inputs(wl, scale)
    names = {"W2": ["x", "W"]}.get(wl, ["x"])
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
    if lib.startswith("pullback"):  # which engine "auto" chose for each large transform
        from pullback.engines import fft as fft_engine

        res["engines"] = sorted(set(fft_engine._FASTEST.values()))
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
        if "check_error" not in res:
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
        note = r.get("grad_error") or r.get("check_error") or ""
        if "threads" in r:
            note = (note + f" {r['threads']} thread(s)").strip()
        if r.get("engines"):
            note = (note + " FFT: " + "+".join(r["engines"])).strip()
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
    fig, axes = plt.subplots(1, len(workloads), figsize=(4.2 * len(workloads), 4.2), squeeze=False)
    for ax, wl in zip(axes[0], workloads, strict=True):
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
        ref = fd_reference(wl)
        rounds: dict = {lib: [] for lib in libs}
        for k in range(max(1, a.rounds)):
            for lib in libs:  # alternating, so that a slow spell of the machine hits every library
                r = run_pair(lib, wl, scale, reps, warmup, timeout, ref, a.malloc_tuned)
                rounds[lib].append(r)
                g = f"{r['gradient_s'] * 1e3:.3g} ms" if "gradient_s" in r else r.get("grad_error", "")
                tag = f" (round {k + 1})" if a.rounds > 1 else ""
                print(f"  {lib:11s} gradient {g}{tag}", flush=True)
        for lib in libs:
            timed = [r for r in rounds[lib] if "gradient_s" in r]
            best = min(timed, key=lambda r: r["gradient_s"]) if timed else rounds[lib][-1]
            if a.rounds > 1:
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
