"""Shared helpers for the benchmark scripts: timing, memory, tables, plots.

The scripts import this module by path (``sys.path`` gets this folder), so
``python benchmarks/peers.py`` and ``python -m pullback bench`` both work.
"""

from __future__ import annotations

import ctypes
import gc
import importlib.util
import os
import statistics
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
MIB = 1024.0 * 1024.0


def ensure_pullback_importable() -> None:
    """Fall back to ``src/`` when pullback is not installed in this interpreter."""
    if importlib.util.find_spec("pullback") is None:
        sys.path.insert(0, str(REPO / "src"))


def have(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def results_dir() -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    return RESULTS


# ---------------------------------------------------------------- timing


def median_times(fns: dict[str, Callable[[], object]], reps: int = 7, warmup: int = 2) -> dict[str, float]:
    """Median wall time (s) of each zero-argument callable.

    The callables run interleaved (one call of each per repetition), so a
    slow patch of a shared, noisy machine hurts all of them alike and
    ratios between them stay meaningful. Each callable must finish its own
    work before returning (JAX: ``block_until_ready``).
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t0)
    return {name: statistics.median(s) for name, s in samples.items()}


def median_time(fn: Callable[[], object], reps: int = 7, warmup: int = 2) -> float:
    """Median wall time (s) of ``fn()`` over ``reps`` calls after ``warmup`` calls."""
    return median_times({"fn": fn}, reps, warmup)["fn"]


# ---------------------------------------------------------------- memory


def _malloc_trim() -> None:
    """Give freed heap pages back to the OS so the RSS baseline counts live data only."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _reset_hwm() -> bool:
    """Reset the kernel's peak-RSS counter (VmHWM); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


class _RSSSampler(threading.Thread):
    """Fallback when VmHWM cannot be reset: sample /proc/self/statm in a thread."""

    def __init__(self, interval: float = 2e-4) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.peak = 0
        self.stop = threading.Event()

    def rss(self) -> int:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * self.page

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(self.interval)


def peak_rss_mib(fn: Callable[[], object]) -> tuple[float, str]:
    """Peak resident memory added while ``fn()`` runs, in MiB, and how it was measured.

    Uses the kernel's high-water mark (reset through ``/proc/self/clear_refs``);
    where that is not allowed, a thread samples ``/proc/self/statm``. Works
    for any library (its allocations need not be visible to tracemalloc).
    """
    gc.collect()
    _malloc_trim()
    if _reset_hwm():
        base = _status_kib("VmRSS")
        out = fn()
        peak = _status_kib("VmHWM")
        del out
        return max(peak - base, 0) / 1024.0, "VmHWM"
    sampler = _RSSSampler()
    base = sampler.rss()
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    sampler.start()
    try:
        out = fn()
        sampler.peak = max(sampler.peak, sampler.rss())
    finally:
        sampler.stop.set()
        sampler.join()
        sys.setswitchinterval(old)
    del out
    return max(sampler.peak - base, 0) / MIB, "statm sampling"


def peak_tracemalloc_mib(fn: Callable[[], object]) -> float:
    """Peak Python + NumPy heap allocated while ``fn()`` runs, in MiB (NumPy reports to tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        out = fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del out
    return max(peak - base, 0) / MIB


# ---------------------------------------------------------------- output


def markdown_table(headers: list[str], rows: list[list[object]]) -> str:
    """A GitHub-flavoured markdown table; numbers right-aligned."""
    cells = [[str(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    numeric = [any(r[i].strip() not in ("", "-") for r in cells) and all(_looks_numeric(r[i]) for r in cells)
               for i in range(len(headers))]

    def line(items):
        out = []
        for i, s in enumerate(items):
            out.append(s.rjust(widths[i]) if numeric[i] else s.ljust(widths[i]))
        return "| " + " | ".join(out) + " |"

    sep = "|" + "|".join(("-" * (w + 1) + ":") if numeric[i] else "-" * (w + 2) for i, w in enumerate(widths))
    return "\n".join([line(headers), sep + "|"] + [line(r) for r in cells])


def _looks_numeric(s: str) -> bool:
    s = s.strip().rstrip("x%")
    if s in ("", "-", "n/a"):
        return True
    try:
        float(s.replace(",", ""))
        return True
    except ValueError:
        return False


def fmt(v: float | None, digits: int = 3) -> str:
    """A number to ``digits`` significant figures, '-' for None."""
    if v is None:
        return "-"
    if v == 0:
        return "0"
    if abs(v) >= 10 ** digits:
        return f"{v:,.0f}"
    return f"{v:.{digits}g}"


def machine_line() -> str:
    """One line describing the machine and library versions, for the report header."""
    import platform

    import numpy as np

    bits = [f"{platform.processor() or platform.machine()}", f"{os.cpu_count()} CPUs",
            f"Python {platform.python_version()}", f"NumPy {np.__version__}"]
    try:
        load = os.getloadavg()[0]
        bits.append(f"load avg {load:.1f}")
    except OSError:
        pass
    return ", ".join(bits)


def pyplot():
    """matplotlib.pyplot with a file-only backend, or None (with a message) when not installed."""
    if not have("matplotlib"):
        print("matplotlib is not installed: skipping the chart (pip install matplotlib)")
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
