"""The FFT engines under threads, fork() and memory pressure (issue 22, items 6-8).

Every wait here has a time limit, so a deadlock fails the test instead of blocking the run.
Tests that need an optional engine (MKL, ducc0, pyFFTW) skip when it is not installed.
"""

import multiprocessing
import os
import signal
import sys
import threading
import time

import numpy as np
import pytest
import scipy.fft

import pullback as pb
from pullback.engines import fft as fft_engine
from pullback.engines import mkl as fft_mkl

ENGINES = fft_engine.installed_engines()  # every engine that can run here, "auto" and "scipy" too
needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
# Python 3.12+ warns on fork() in a process with threads: here that is the point
fork_warning = pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")


def _needs(name):
    return pytest.mark.skipif(name not in ENGINES, reason=f"{name} is not installed")


@pytest.fixture(autouse=True)
def _restore_engine():
    previous = fft_engine.get_engine()
    yield
    fft_engine.set_engine(previous)


# ---------------------------------------------------------------- the gradients every test computes

def _power(x, workers=None):
    return np.sum(np.abs(np.fft.fft2(x)) ** 2)


def _filtered(x, workers=None):  # rfft2, then irfft2: the adjoint runs an n-d c2r (MKL: column slices)
    k = np.linspace(0.5, 1.5, x.shape[-1] // 2 + 1)
    y = scipy.fft.rfft2(x, workers=workers) * k
    return np.sum(scipy.fft.irfft2(y, s=x.shape[-2:], workers=workers) ** 2)


def _line(x, workers=None):  # 1-D rfft / irfft of a length above ENGINE_SIZE
    y = scipy.fft.irfft(scipy.fft.rfft(x, workers=workers) * 0.5, n=x.shape[-1], workers=workers)
    return np.sum(y**2) + np.sum(np.abs(np.fft.fft(x)) ** 2)


def _workloads():
    rng = np.random.default_rng(22)
    return [
        (_power, rng.standard_normal((256, 256))),  # 2^16 elements: threads, and "auto"'s large engine
        (_power, rng.standard_normal((24, 40))),  # small: pocketfft under "auto"
        (_filtered, rng.standard_normal((3, 128, 96))),  # batch axis 0 does not collapse: MKL's pool
        (_line, rng.standard_normal(40000)),
    ]


WORKLOADS = _workloads()


def _gradient(case, workers=None):
    f, x = WORKLOADS[case]
    return pb.gradient(lambda v: f(v, workers), x)[0]


def _reference():
    """Every case's gradient on pocketfft, one thread.

    Computed in a thread of its own: leaving ``scipy.fft.set_workers`` leaves its thread's
    workers at 1 (SciPy restores the default by setting it), and the tests that follow
    must run pullback's default, every core, in this one.
    """
    out = []

    def run():
        previous = fft_engine.set_engine("pocketfft")
        try:
            with scipy.fft.set_workers(1):
                out.extend(_gradient(i) for i in range(len(WORKLOADS)))
        finally:
            fft_engine.set_engine(previous)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    _join_all([t], time.monotonic() + 60)
    assert len(out) == len(WORKLOADS)
    return out


def _close(got, want):
    return got.shape == want.shape and np.allclose(got, want, rtol=1e-10, atol=1e-10 * np.abs(want).max())


def _join_all(threads, deadline):
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    hung = [t.name for t in threads if t.is_alive()]
    assert not hung, f"threads still running after the time limit (deadlock?): {hung}"


# ---------------------------------------------------------------- item 6: threads

@_needs("mkl")
def test_threads_growing_mkls_pool_while_others_submit(monkeypatch):
    # regression: one thread replaced (and shut down) the column-slice pool between another's
    # lookup and submit: RuntimeError('cannot schedule new futures after shutdown')
    z = np.random.default_rng(6).standard_normal((9, 16, 7)) + 0j
    want = np.fft.ifft(z, axis=1) * 16
    errors, stop = [], threading.Event()

    def work(threads):
        try:
            for _ in range(60):
                got = fft_mkl._c2c_leading(z, (16,), (1,), threads, False)
                if not np.allclose(got, want, atol=1e-12):
                    errors.append("wrong values")
        except Exception as e:  # noqa: BLE001 - recorded, asserted below
            errors.append(repr(e))

    def regrow():  # forces a replacement as often as possible, as new `workers` values would
        while not stop.is_set():
            with fft_mkl._lock:
                fft_mkl._POOL_SIZE = 0
            time.sleep(0)

    grower = threading.Thread(target=regrow, daemon=True)
    grower.start()
    threads = [threading.Thread(target=work, args=(2 + i % 4,), daemon=True) for i in range(8)]
    for t in threads:
        t.start()
    _join_all(threads, time.monotonic() + 60)
    stop.set()
    grower.join(10)
    assert errors == []


@_needs("mkl")
def test_concurrent_gradients_on_mkl_with_different_workers(monkeypatch):
    # the reproducer: gradients in threads, each with its own `workers`, on MKL
    monkeypatch.setattr(fft_mkl, "_c2r_way", lambda *args: fft_mkl._c2r_columns)  # the pool's path
    want = _reference()
    fft_engine.set_engine("mkl")
    errors = []

    def work(i):
        try:
            for r in range(6):
                got = _gradient(2, workers=1 + (i + r) % 8)
                if not _close(got, want[2]):
                    errors.append(f"thread {i}: wrong gradient")
        except Exception as e:  # noqa: BLE001
            errors.append(f"thread {i}: {e!r}")

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(8)]
    for t in threads:
        t.start()
    _join_all(threads, time.monotonic() + 60)
    assert errors == []


def test_stress_threads_engines_shapes_and_workers(record_property):
    """8 threads, each gradient on a random installed engine, case and threading setting, all
    compared with one-thread pocketfft gradients; threads switch the (global) engine as they go."""
    want = _reference()
    n_threads, rounds = 8, 20
    errors, counts = [], {"gradients": 0}
    count_lock = threading.Lock()

    def work(i):
        rng = np.random.default_rng(i)
        try:
            for _ in range(rounds):
                engine = ENGINES[rng.integers(len(ENGINES))]
                case = int(rng.integers(len(WORKLOADS)))
                mode = int(rng.integers(3))
                fft_engine.set_engine(engine)
                if mode == 0:
                    got = _gradient(case)  # pullback's default: all cores for large transforms
                elif mode == 1:
                    with scipy.fft.set_workers(int(rng.integers(1, 5))):
                        got = _gradient(case)
                else:
                    got = _gradient(case, workers=int(rng.integers(1, 9)))
                if not _close(got, want[case]):
                    errors.append(f"thread {i}: engine {engine}, case {case}, mode {mode}: wrong gradient")
                with count_lock:
                    counts["gradients"] += 1
        except Exception as e:  # noqa: BLE001
            errors.append(f"thread {i}: {e!r}")

    t0 = time.monotonic()
    threads = [threading.Thread(target=work, args=(i,), daemon=True, name=f"stress-{i}")
               for i in range(n_threads)]
    for t in threads:
        t.start()
    _join_all(threads, t0 + 120)
    seconds = time.monotonic() - t0
    summary = f"{counts['gradients']} gradients, {n_threads} threads, engines {ENGINES}, {seconds:.1f} s"
    record_property("stress", summary)
    print(f"\nstress: {summary}")
    assert errors == []
    assert counts["gradients"] == n_threads * rounds


# ---------------------------------------------------------------- item 7: fork()

def _child_checks(engines, want):
    """In a child: every case on every engine; 0 when all match ``want``."""
    for engine in engines:
        fft_engine.set_engine(engine)
        for case in range(len(WORKLOADS)):
            if not _close(_gradient(case), want[case]):
                return 1
    return 0


def _fork_and_wait(engines, want, timeout=60):
    """os.fork(); the child runs :func:`_child_checks`; its exit status, or "hung" after ``timeout`` s."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 2
        try:
            code = _child_checks(engines, want)
        finally:
            os._exit(code)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return "hung"


@needs_fork
@fork_warning
@pytest.mark.parametrize("engine", [e for e in ENGINES if e != "scipy"])
def test_a_child_forked_after_large_gradients_computes_gradients(engine):
    # regression (pyFFTW): FFTW's threads do not survive fork, and the child's first threaded
    # transform waited forever for them
    want = _reference()
    fft_engine.set_engine(engine)
    for case in (*range(len(WORKLOADS)), 0):  # the parent plans (threaded, for the large cases) first
        assert _close(_gradient(case), want[case])
    assert _fork_and_wait([engine], want) == 0  # at once: FFTW's OpenMP threads are still spinning
    assert _close(_gradient(0), want[0])  # and the parent goes on


@needs_fork
@fork_warning
def test_children_forked_during_gradients_in_other_threads():
    # regression (MKL): a child forked while another thread was inside a transform inherited
    # that descriptor's lock, held, and waited forever on its first transform of that key
    want = _reference()
    engines = [e for e in ENGINES if e != "scipy"]
    stop, errors = threading.Event(), []

    def busy(engine, case):
        try:
            while not stop.is_set():
                fft_engine.set_engine(engine)
                if not _close(_gradient(case), want[case]):
                    errors.append(f"{engine} case {case}: wrong gradient in the parent")
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=busy, args=(e, i % len(WORKLOADS)), daemon=True)
               for i, e in enumerate(engines * 2)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.2)
        codes = [_fork_and_wait(engines, want) for _ in range(4)]
    finally:
        stop.set()
        _join_all(threads, time.monotonic() + 60)
    assert codes == [0] * 4
    assert errors == []


def _pool_task(args):
    engine, case = args
    fft_engine.set_engine(engine)
    return _gradient(case)


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
@pytest.mark.parametrize("during", [False, True], ids=["after", "during"])
@fork_warning
def test_multiprocessing_pools_after_and_during_gradients(method, during):
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} start method here")
    want = _reference()
    engines = [e for e in ENGINES if e != "scipy"]
    # the parent has used every engine, threads and all, pyFFTW last (the old code's fork
    # children then hung in FFTW's OpenMP threads)
    for e in sorted(engines, key=lambda e: e == "pyfftw"):
        fft_engine.set_engine(e)
        _gradient(0)
    stop, errors = threading.Event(), []

    def busy(engine):
        while not stop.is_set():
            fft_engine.set_engine(engine)
            if not _close(_gradient(0), want[0]):
                errors.append(engine)
            time.sleep(0.01)  # leave the children some of the cores

    busiest = [e for e in ("mkl", "pyfftw", "ducc0", "pocketfft") if e in engines][:2]  # threads, locks
    threads = [threading.Thread(target=busy, args=(e,), daemon=True) for e in busiest] if during else []
    for t in threads:
        t.start()
    tasks = [(e, c) for i, e in enumerate(engines) for c in (2, (0, 3)[i % 2])]
    if method != "fork":  # a fresh interpreter: only its start-up is new, so fewer tasks
        tasks = tasks[::2]
    try:
        with multiprocessing.get_context(method).Pool(2 if method == "fork" else 1) as pool:
            results = pool.map_async(_pool_task, tasks).get(timeout=120)  # a hang raises TimeoutError
    finally:
        stop.set()
        _join_all(threads, time.monotonic() + 60)
    assert len(results) == len(tasks)
    for (engine, case), got in zip(tasks, results):
        assert _close(got, want[case]), (engine, case)
    assert errors == []


# ---------------------------------------------------------------- item 8: memory

@_needs("mkl")
def test_mkl_descriptors_stay_under_the_byte_limit_and_release_memory_frees_them(monkeypatch):
    monkeypatch.setattr(fft_mkl, "_PLANS", fft_mkl.PlanCache("mkl"))
    monkeypatch.setattr(fft_mkl, "CACHE_LIMIT", 4 << 20)
    fft_engine.set_engine("mkl")
    for n in range(4096, 4096 + 40):  # 40 lengths, several of them Bluestein lengths
        x = np.random.default_rng(n).standard_normal(n)
        got = pb.gradient(lambda v: np.sum(np.abs(np.fft.fft(v)) ** 2), x)[0]
        np.testing.assert_allclose(got, 2 * n * x, rtol=1e-10, atol=1e-12 * n * np.abs(x).max())
        assert fft_mkl._PLANS.nbytes <= fft_mkl.CACHE_LIMIT
    assert len(fft_mkl._PLANS) > 0
    held = fft_engine.cache_info()["mkl"]["bytes"]
    assert held > 0
    assert pb.release_memory() >= held
    assert fft_engine.cache_info()["mkl"] == {"plans": 0, "bytes": 0, "limit": 4 << 20}


@_needs("pyfftw")
def test_pyfftw_plans_stay_under_the_byte_limit_and_keep_no_caller_array(monkeypatch):
    import gc
    import weakref

    monkeypatch.setattr(fft_engine, "_FFTW_PLANS", fft_mkl.PlanCache("pyfftw"))
    monkeypatch.setattr(fft_mkl, "CACHE_LIMIT", 2 << 20)
    fft_engine.set_engine("pyfftw")
    for n in range(2048, 2048 + 30):
        x = np.random.default_rng(n).standard_normal(n) + 0j
        got = pb.gradient(lambda v: np.sum(np.abs(np.fft.fft(v)) ** 2), x)[0]
        np.testing.assert_allclose(got, 2 * n * x, rtol=1e-10, atol=1e-12 * n * np.abs(x).max())
        assert fft_engine._FFTW_PLANS.nbytes <= fft_mkl.CACHE_LIMIT
    x = np.ones(3000, complex)
    ref = weakref.ref(x)
    y = fft_engine.c2c(x, (3000,), (0,), None, True)
    del x, y
    gc.collect()
    assert ref() is None, "a cached FFTW plan kept the caller's input alive"
    held = fft_engine.cache_info()["pyfftw"]["bytes"]
    assert held > 0 and pb.release_memory() >= held
    assert fft_engine.cache_info()["pyfftw"]["plans"] == 0


def test_auto_picks_the_same_engines_in_two_processes():
    # regression: "auto" timed the engines on first use, so two runs could differ
    import subprocess

    code = (
        "import numpy as np, pullback as pb\n"
        "from pullback.engines import fft as fft_engine\n"
        "x = np.random.default_rng(0).standard_normal((3, 128, 96))\n"
        "g = pb.gradient(lambda v: np.sum(np.fft.irfft2(np.fft.rfft2(v) * 0.5, s=(128, 96)) ** 2), x)[0]\n"
        "print([fft_engine.auto_engine(k, s, n) for k, s, n in "
        "[('c2c', (1 << 20,), 1 << 20), ('r2c', (128, 96), 36864), ('c2c', (65537,), 65537)]])\n"
        "print(g.tobytes().hex()[:4000])\n"
    )
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
            for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), [r.stderr for r in runs]
    assert runs[0].stdout == runs[1].stdout  # same engines, same bits


def test_engine_info_reports_engine_threads_and_caches():
    from pullback.__main__ import engine_info

    text = engine_info()
    assert f"FFT engine: {fft_engine.get_engine()}" in text
    assert "installed engines: " + ", ".join(ENGINES) in text
    assert "mkl plan cache:" in text and "pyfftw plan cache:" in text and "PULLBACK_ENGINE_CACHE_MIB" in text
    assert f"{os.cpu_count()} cores" in text
