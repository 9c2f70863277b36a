"""``python -m pullback demo | bench | check | info``."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import pullback as pb


def _fd_gradient(f, x, eps=1e-6):
    """Central finite differences, one real coordinate at a time (complex-aware)."""
    x = np.asarray(x, dtype=np.result_type(x, np.float64))
    g = np.zeros_like(x)
    units = [1.0, 1j] if x.dtype.kind == "c" else [1.0]
    for idx in np.ndindex(x.shape):
        for u in units:
            e = np.zeros_like(x)
            e[idx] = u * eps
            d = (f(x + e) - f(x - e)) / (2 * eps)
            g[idx] += d if u == 1.0 else 1j * d
    return g


def _show(title, x, f):
    (g,) = pb.gradient(f, x)
    fd = _fd_gradient(f, x)
    err = float(np.max(np.abs(g - fd)))
    print(f"\n{title}")
    ok = err < 1e-5 * max(1.0, float(np.max(np.abs(fd))))
    with np.printoptions(precision=5, suppress=True, linewidth=150):
        print(f"  x[:5]                  = {np.asarray(x).ravel()[:5]}")
        print(f"  pullback gradient[:5]  = {np.asarray(g).ravel()[:5]}")
        print(f"  finite differences[:5] = {np.asarray(fd).ravel()[:5]}")
    print(f"  max |difference| over all {np.size(x)} entries = {err:.1e}   {'OK' if ok else 'MISMATCH'}")
    return ok


def demo() -> int:
    """The seed problem (Zygote issue #204) and a phase-retrieval loss, with unmodified np.fft."""
    rng = np.random.default_rng(204)
    print("pullback demo: gradients of unmodified NumPy FFT code, checked against finite differences")
    ok = True
    x = rng.standard_normal(10)
    ok &= _show(
        "1. the seed problem: abs(sum(np.fft.fft(x))), x real[10]", x, lambda x: np.abs(np.sum(np.fft.fft(x)))
    )
    z = rng.standard_normal(10) + 1j * rng.standard_normal(10)
    ok &= _show(
        "   ... and abs(sum(np.fft.ifft(z))), z complex[10]", z, lambda z: np.abs(np.sum(np.fft.ifft(z)))
    )
    ok &= _show("   ... and abs(np.fft.fft(x)[1])", x, lambda x: np.abs(np.fft.fft(x)[1]))

    truth = rng.standard_normal((8, 8))
    m = np.abs(np.fft.fft2(truth))
    x0 = truth + 0.3 * rng.standard_normal((8, 8))

    def loss(x):
        return np.sum((np.abs(np.fft.fft2(x)) - m) ** 2)

    ok &= _show("2. phase retrieval: sum((abs(np.fft.fft2(x)) - m)**2), x real[8, 8]", x0, loss)

    x = x0.copy()
    first = float(loss(x))
    for _ in range(200):
        x = x - 2e-4 * pb.gradient(loss, x)[0]
    print(f"\n   200 gradient-descent steps on the phase-retrieval loss: {first:.3f} -> {float(loss(x)):.3f}")
    print("\nall gradients match finite differences" if ok else "\nSOME GRADIENTS DID NOT MATCH")
    return 0 if ok else 1


def check(only: str | None = None, verbose: bool = False) -> int:
    """Adjoint (dot-product) checks of every registered linear rule on this install's FFT engines:
    numpy.fft and scipy.fft (DCT/DST of every type, fht), shapes and indexing, reductions, linear
    filters of scipy.ndimage and scipy.signal (bilinear ones in each argument), each against the
    dense matrix built from its forward function at small sizes."""
    import pullback as pb
    from pullback import selfcheck

    print(f"FFT engine in force: {pb.get_engine()!r}")
    report = selfcheck.run(only=only, verbose=verbose)
    print(f"{report.passed} passed, {report.failed} failed; "
          f"{len(report.reached)} linear rules reached")
    if report.unchecked:
        print(f"linear rules with no case (unchecked): {', '.join(report.unchecked)}")
    return 1 if report.failed or report.unchecked else 0


def info() -> int:
    """Versions, the FFT engine in force and every installed engine, threads, cache settings, rules."""
    import scipy
    import scipy.fft

    from pullback.rules import registry

    kinds: dict = {}
    for kind in registry.all_rules().values():
        kinds[kind] = kinds.get(kind, 0) + 1
    print(f"pullback {pb.__version__}  numpy {np.__version__}  scipy {scipy.__version__}")
    print(f"scipy.fft workers: {scipy.fft.get_workers()}")
    print(engine_info())
    print("rules: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
    return 0


def engine_info() -> str:
    """The FFT engine in force, the installed ones, threads, and the plan caches' limits and sizes."""
    import os

    from pullback.engines import buffers
    from pullback.engines import fft as fft_engine

    def mib(n):
        return f"{n / 2**20:.1f} MiB"

    from pullback.engines import numpy_exact
    from pullback.rules import fft as fft_rules

    engine = fft_engine.get_engine()
    lines = [f"FFT engine: {engine}" + (
        " (forward values: pocketfft, SciPy's kernels; backward transforms of "
        f"{fft_engine.ENGINE_SIZE} elements or more: "
        f"{fft_engine.auto_engine('c2c', (fft_engine.ENGINE_SIZE,), fft_engine.ENGINE_SIZE)}, "
        "smaller: pocketfft)" if engine == "auto" else "")]
    if not fft_rules.NUMPY_VALUES:
        lines.append("numpy.fft values: the engine's (NUMPY_VALUES is off)")
    elif numpy_exact.available():
        lines.append(f"numpy.fft values: NumPy's bits, on SciPy's kernels from {fft_rules.EXACT_SIZE} "
                     "elements, else NumPy's own loops")
    else:
        lines.append("numpy.fft values: NumPy's bits, from NumPy's own functions")
    lines.append("installed engines: " + ", ".join(fft_engine.installed_engines()))
    lines.append(f"threads: {os.cpu_count()} cores; transforms of {fft_engine.PARALLEL_SIZE} elements "
                 "or more use them all unless scipy.fft.set_workers or workers= says otherwise")
    for name, c in fft_engine.cache_info().items():
        lines.append(f"{name} plan cache: {c['plans']} plans, {mib(c['bytes'])} "
                     f"of {mib(c['limit'])} (PULLBACK_ENGINE_CACHE_MIB)")
    lines.append(f"block cache: {mib(buffers.held())} of {mib(buffers.CACHE_BYTES)} (PULLBACK_CACHE_MIB)")
    return "\n".join(lines)


def bench(argv: list[str]) -> int:
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "peers.py"
    if not script.exists():
        print("the benchmarks live in the repository's benchmarks/ folder: run this from a clone")
        return 1
    import runpy

    sys.argv = [str(script), *argv]
    runpy.run_path(str(script), run_name="__main__")
    return 0


def _parser():
    import argparse

    ap = argparse.ArgumentParser(
        prog="python -m pullback",
        description="pullback: exact gradients of ordinary NumPy and SciPy code.",
    )
    sub = ap.add_subparsers(dest="command", metavar="{demo,bench,check,info}")
    sub.add_parser("demo", help="gradients of the seed problem and a phase-retrieval loss, beside finite "
                   "differences (the default)", description=demo.__doc__)
    sub.add_parser("bench", help="pullback beside autograd, JAX and PyTorch (benchmarks/peers.py; its "
                   "options follow)", description="Runs benchmarks/peers.py with the options that follow "
                   "(a repository clone is needed).", add_help=False)
    chk = sub.add_parser("check", help="adjoint (dot-product) checks of every linear rule on this install's "
                         "engines", description=check.__doc__)
    chk.add_argument("--only", metavar="TEXT", help="run the cases whose label contains TEXT")
    chk.add_argument("-v", "--verbose", action="store_true", help="print every case")
    sub.add_parser("info", help="versions, the FFT engine in force, installed engines, threads, caches",
                   description=info.__doc__)
    return ap


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "bench":
        return bench(argv[1:])  # its options are peers.py's
    args = _parser().parse_args(argv)  # --help and -h exit 0; an unknown command exits 2
    cmd = args.command or "demo"
    if cmd == "check":
        return check(args.only, args.verbose)
    return {"demo": demo, "info": info}[cmd]()


if __name__ == "__main__":
    sys.exit(main())
