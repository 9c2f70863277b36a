"""The transform engine behind every FFT rule.

NumPy arrays are transformed by ``scipy.fft``, so ``scipy.fft.set_workers`` and
``scipy.fft.set_backend`` (pyFFTW, mkl_fft, ...) apply to forward and adjoint
transforms alike. Other array types (CuPy, Dask) use their own implementation
of ``numpy.fft`` through NumPy's protocols.

When SciPy's own pocketfft backend is the one in force (no ``set_backend``
context, no other registered backend), the engine calls pocketfft's kernels
directly, below ``scipy.fft``'s argument-checking wrappers: our arguments are
already normalised, and for small transforms the wrappers cost several times
the transform. The result is the same computation SciPy would run.

Large transforms use every core by default (``workers=-1`` above
:data:`PARALLEL_SIZE` elements) unless ``scipy.fft.set_workers`` or an explicit
``workers=`` says otherwise.

Engines (:func:`set_engine`, or the ``PULLBACK_FFT_ENGINE`` environment variable):

- ``"auto"`` (default): the values of the forward pass, which the user sees, are
  SciPy's own: pocketfft's kernels (SciPy's), whatever else is installed. The
  transforms of the backward pass (adjoints, whose results are gradients) follow a
  fixed rule, so that two runs of one program use the same engines (and get the same
  last bits): pocketfft's kernels below :data:`ENGINE_SIZE` elements; for larger ones
  the first installed engine of :data:`AUTO_ORDER` (MKL, then ducc0, a dependency of
  pullback), except that ducc0 gives way to pocketfft for prime lengths above
  :data:`DUCC0_MAX_PRIME` (there ducc0 took 1.2-1.7x pocketfft's time). pyFFTW is
  never chosen by "auto": it was not the fastest in our measurements often enough to
  pay for its plans' memory (each holds an input and an output array) and its
  threads, which a forked child cannot use. See :func:`auto_engine` for the
  measurements behind the rule;
- ``"pocketfft"``: pocketfft's kernels (SciPy's own) for every size;
- ``"ducc0"``: ducc0's kernels (pocketfft's successor, better vectorised) for every size,
  forward values included (they then differ from SciPy's in the last bits);
- ``"pyfftw"``: pyFFTW's FFTW plans, kept in pullback's plan cache, for every size;
- ``"mkl"``: Intel oneMKL's DFTI (see :mod:`pullback.engines.mkl`) for every size;
- ``"scipy"``: always the public ``scipy.fft`` functions.

Engine memory: MKL descriptors and FFTW plans are cached by transform key, each
cache bounded by ``PULLBACK_ENGINE_CACHE_MIB`` (default 256) MiB of estimated plan
memory, least recently used out first (0 keeps none). ``pullback.release_memory()``
frees them (:func:`clear_caches`); ``python -m pullback info`` shows their sizes
(:func:`cache_info`).

Threads and ``fork()``: gradients may run in any number of threads at once, each on
any engine and ``workers``. Before a fork pullback takes its engines' locks, so that
no MKL transform is under way; the child starts with fresh locks and empty caches.
FFTW's threads do not survive a fork, so in a child forked after pyFFTW was loaded,
the ``"pyfftw"`` engine runs pocketfft's kernels instead (the results agree to
rounding). ``multiprocessing``'s ``fork``, ``forkserver`` and ``spawn`` contexts all work.

Only the default backend situation is affected: inside ``scipy.fft.set_backend``
(or with another registered backend) every transform goes to ``scipy.fft`` and so
to the user's backend. DCT/DST always use pocketfft's kernels or ``scipy.fft``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading

import numpy as np
import scipy.fft as sfft

from .. import lazy
from ..core.trace import SWEEP_CONTEXTS
from . import buffers
from . import mkl as fft_mkl
from . import workers as _workers


def _scipy_kernels():
    """SciPy's own kernel module and its helper: pocketfft's, or (SciPy >= 1.18) ducc's, with
    the same functions and signatures. (None, None) for other layouts: every call then goes
    through the public scipy.fft functions."""
    try:
        from scipy.fft._pocketfft import helper, pypocketfft

        return pypocketfft, helper
    except ImportError:
        pass
    try:  # SciPy 1.18 replaced its pocketfft with ducc0's FFT under the same interface
        from scipy.fft._duccfft import helper, pyduccfft

        return pyduccfft, helper
    except ImportError:  # pragma: no cover - other SciPy layouts
        return None, None


try:  # SciPy internals for the fast path
    from scipy._lib._uarray import _uarray
    from scipy.fft._backend import _ScipyBackend

    _pocketfft, _helper = _scipy_kernels()
except ImportError:  # pragma: no cover - other SciPy layouts
    _pocketfft = _helper = None

_DOMAIN = "numpy.scipy.fft"
_INORM = {None: 0, "backward": 0, "ortho": 1, "forward": 2}
_FAST_DTYPES = frozenset(map(np.dtype, ("float32", "float64", "complex64", "complex128")))
_F8, _C16 = np.dtype(np.float64), np.dtype(np.complex128)  # (the commonest: identity tests first)

#: Transforms of at least this many elements use all cores unless the user chose ``workers``.
PARALLEL_SIZE = 1 << 16
#: Backends that pullback registered itself (they only take traced values).
OWN_BACKENDS: set = set()
#: Set to False to always go through the public ``scipy.fft`` functions.
FAST_PATH = True
_CPUS = os.cpu_count() or 1

ENGINES = ("auto", "pocketfft", "ducc0", "pyfftw", "mkl", "scipy")
#: Transforms of at least this many elements may use an accelerated engine under "auto".
ENGINE_SIZE = 1 << 15
#: The engines "auto" prefers for large transforms, the first installed one first.
AUTO_ORDER = ("mkl", "ducc0", "pocketfft")
#: Under "auto", pocketfft instead of ducc0 runs prime lengths above this.
DUCC0_MAX_PRIME = 64
#: pyFFTW's planner effort ("FFTW_ESTIMATE" plans in milliseconds; "FFTW_MEASURE" plans
#: for seconds on large sizes and then runs faster; plans are cached either way).
FFTW_PLANNER = os.environ.get("PULLBACK_FFTW_PLANNER", "FFTW_ESTIMATE")
_engine = "auto"  # PULLBACK_FFT_ENGINE is applied through set_engine at the end of this module
_modules: dict = {}  # "ducc0" / "pyfftw" / "mkl" -> the imported module, or None when not installed


def set_engine(name: str) -> str:
    """Choose the transform engine for NumPy arrays; returns the previous one.

    Examples
    --------
    >>> from pullback.engines import fft as fft_engine
    >>> previous = fft_engine.set_engine("pocketfft")
    >>> _ = fft_engine.set_engine(previous)
    """
    global _engine
    if name not in ENGINES:
        raise ValueError(f"unknown FFT engine {name!r}; choose one of {ENGINES}")
    if name in _IMPORTS and _module(name) is None:
        raise ImportError(f"the {name} engine needs {name}: pip install {name}")
    previous, _engine = _engine, name
    return previous


def get_engine() -> str:
    """The engine in use (see :func:`set_engine`)."""
    return _engine


def installed_engines() -> list[str]:
    """The engines that can run here: the built-in ones and the optional ones installed."""
    return [e for e in ENGINES if e not in _IMPORTS or _module(e) is not None]


def _import_fftw():
    import pyfftw
    import pyfftw.builders  # noqa: F401 - pyfftw.builders.fftn etc.

    return pyfftw


def _import_ducc0():
    import ducc0.fft

    return ducc0.fft


def _import_mkl():
    from . import mkl as fft_mkl

    if fft_mkl.load() is None:
        raise ImportError("MKL's runtime library (libmkl_rt) was not found")
    return fft_mkl


_IMPORTS = {"ducc0": _import_ducc0, "pyfftw": _import_fftw, "mkl": _import_mkl}


def _module(name):
    if name not in _modules:
        try:
            _modules[name] = _IMPORTS[name]()
        except ImportError:
            _modules[name] = None
    return _modules[name]


# ---------------------------------------------------------------- kernels
#
# One function per (engine, kind), all with the signature
# ``(x, s, axes, forward, inorm, threads, scratch=False)``: ``s`` the transform lengths (for
# c2r the real output's), ``inorm`` pocketfft's normalisation code (0: none, 1: 1/sqrt(N),
# 2: 1/N); ``scratch=True`` lets an engine that can use it overwrite ``x`` (a c2r's input;
# a complex c2c's input, which then receives the output).


def _half(s):
    return (*s[:-1], s[-1] // 2 + 1)


def _c2c_out(x, fitted, scratch):
    """The output array for a c2c of ``fitted``: itself when the caller gave ``x`` as scratch,
    else an aligned one when it is large (see buffers), else None (the kernel allocates)."""
    if scratch and fitted is x and x.dtype.kind == "c" and x.flags.writeable:
        return fitted
    if fitted.nbytes < _OUT_MIN or fitted.dtype.kind != "c":
        return None
    return buffers.empty(fitted.shape, fitted.dtype)


#: Inputs from this many bytes may give outputs that buffers aligns (a real input's complex
#: half spectrum has about as many bytes; a c2r's real output about as many as its input).
_OUT_MIN = buffers.ALIGNED_SIZE // 2


def _r2c_out(x, axes):
    """An aligned output for a large r2c of ``x``, else None."""
    if x.nbytes < _OUT_MIN:
        return None
    shape = list(x.shape)
    shape[axes[-1]] = shape[axes[-1]] // 2 + 1
    return buffers.empty(shape, np.result_type(x.dtype, np.complex64))


def _c2r_out(x, axes, n):
    """An aligned output for a large c2r of ``x`` to length ``n``, else None."""
    if x.nbytes < _OUT_MIN:
        return None
    shape = list(x.shape)
    shape[axes[-1]] = n
    return buffers.empty(shape, x.real.dtype)


def _pocket_c2c(x, s, axes, forward, inorm, threads, scratch=False):
    fitted = x
    if len(axes) != 1 or x.shape[axes[0]] != s[0]:  # (_fit's own first test, without its call)
        fitted = _fit(x, s, axes)
    return _pocketfft.c2c(fitted, axes, forward, inorm, _c2c_out(x, fitted, scratch), threads)


def _pocket_r2c(x, s, axes, forward, inorm, threads, scratch=False):
    if len(axes) != 1 or x.shape[axes[0]] != s[0]:
        x = _fit(x, s, axes)
    return _pocketfft.r2c(x, axes, forward, inorm, _r2c_out(x, axes), threads)


def _pocket_c2r(x, s, axes, forward, inorm, threads, scratch=False):
    if len(axes) != 1 or x.shape[axes[0]] != s[0] // 2 + 1:
        x = _fit(x, _half(s), axes)
    return _pocketfft.c2r(x, axes, s[-1], forward, inorm, _c2r_out(x, axes, s[-1]), threads)


def _ducc_c2c(x, s, axes, forward, inorm, threads, scratch=False):
    fitted = _fit(x, s, axes)
    return _modules["ducc0"].c2c(fitted, axes, forward, inorm, _c2c_out(x, fitted, scratch), threads)


def _ducc_r2c(x, s, axes, forward, inorm, threads, scratch=False):
    fitted = _fit(x, s, axes)
    return _modules["ducc0"].r2c(fitted, axes, forward, inorm, _r2c_out(fitted, axes), threads)


def _ducc_c2r(x, s, axes, forward, inorm, threads, scratch=False):
    fitted = _fit(x, _half(s), axes)
    out = _c2r_out(fitted, axes, s[-1])
    return _modules["ducc0"].c2r(fitted, axes, s[-1], forward, inorm, out, threads, scratch)


def _fftw_norm(forward, inorm):
    return ("backward", "ortho", "forward")[inorm if forward else 2 - inorm]


#: pyFFTW plans, by transform key (see fft_mkl.PlanCache: bounded in bytes, LRU).
_FFTW_PLANS = fft_mkl.PlanCache("pyfftw")
_fftw_forked = False  # True in a child forked after pyFFTW was loaded: FFTW's threads are gone


class _FftwPlan:
    """One pyFFTW plan (an ``FFTW`` object planned on its own arrays), for one thread at a time.

    After each call the plan points back at its own arrays, so that it keeps no
    caller's array alive (pyFFTW's interfaces' cache kept each plan's last input).
    """

    def __init__(self, kind, x, s, axes, forward, threads):
        pyfftw = _modules["pyfftw"]
        build = {"c2c": pyfftw.builders.fftn if forward else pyfftw.builders.ifftn,
                 "r2c": pyfftw.builders.rfftn, "c2r": pyfftw.builders.irfftn}[kind]
        scratch = pyfftw.empty_aligned(x.shape, x.dtype)  # planning may overwrite its input
        self.fftw = build(scratch, s=s, axes=axes, planner_effort=FFTW_PLANNER, threads=threads,
                          auto_align_input=True, auto_contiguous=True)
        self.input, self.output = self.fftw.input_array, self.fftw.output_array
        self.lock = threading.Lock()
        n = 1
        for m in s:
            n *= m
        unit = 8 if x.dtype in (np.float32, np.complex64) else 16  # one complex element
        self.nbytes = self.input.nbytes + self.output.nbytes + 2 * n * unit  # arrays and FFTW's tables

    def __call__(self, x, forward, inorm, copy):
        if copy or not x.flags.writeable:  # a c2r overwrites its input; FFTW takes no read-only one
            x = buffers.copy(x)
        shape, dtype = self.output.shape, self.output.dtype
        if self.output.nbytes >= buffers.ALIGNED_SIZE and buffers.ENABLED:
            out = buffers.empty(shape, dtype)  # 2 MiB-aligned, which FFTW accepts
        else:
            out = _modules["pyfftw"].empty_aligned(shape, dtype, n=self.fftw.output_alignment)
        norm = _fftw_norm(forward, inorm)
        with self.lock:
            try:
                self.fftw(x, out, normalise_idft=norm == "backward", ortho=norm == "ortho")
            finally:
                self.fftw.update_arrays(self.input, self.output)
        return out


def _fftw(kind):
    pocket = {"c2c": _pocket_c2c, "r2c": _pocket_r2c, "c2r": _pocket_c2r}[kind]

    def kernel(x, s, axes, forward, inorm, threads, scratch=False):
        if _fftw_forked:
            return pocket(x, s, axes, forward, inorm, threads, scratch)
        x = _fit(x, _half(s) if kind == "c2r" else s, axes)
        key = (kind, x.shape, x.dtype, x.strides, s, axes, forward, threads)
        plan = _FFTW_PLANS.get(key)
        if plan is None:
            plan = _FftwPlan(kind, x, s, axes, forward, threads)
            _FFTW_PLANS.put(key, plan, plan.nbytes)
        return plan(x, forward, inorm, kind == "c2r" and not scratch)

    kernel.__name__ = kernel.__qualname__ = f"_fftw_{kind}"
    return kernel


_fftw_c2c, _fftw_r2c, _fftw_c2r = _fftw("c2c"), _fftw("r2c"), _fftw("c2r")


def _mkl(kind, fallback):
    def kernel(x, s, axes, forward, inorm, threads, scratch=False, factor=1):
        fitted = _fit(x, _half(s) if kind == "c2r" else s, axes)
        out = _modules["mkl"].transform(kind, fitted, s, axes, forward, inorm, threads, scratch, factor)
        if out is None:
            return _times(fallback(fitted, s, axes, forward, inorm, threads), factor)
        return out

    kernel.__name__ = kernel.__qualname__ = f"_mkl_{kind}"
    return kernel


_KERNELS = {
    "pocketfft": {"c2c": _pocket_c2c, "r2c": _pocket_r2c, "c2r": _pocket_c2r},
    "ducc0": {"c2c": _ducc_c2c, "r2c": _ducc_r2c, "c2r": _ducc_c2r},
    "pyfftw": {"c2c": _fftw_c2c, "r2c": _fftw_r2c, "c2r": _fftw_c2r},
    # layouts DFTI cannot describe (see fft_mkl) go to pocketfft
    "mkl": {kind: _mkl(kind, pocket) for kind, pocket in (("c2c", _pocket_c2c), ("r2c", _pocket_r2c),
                                                           ("c2r", _pocket_c2r))},
}
_KERNELS["auto"] = _KERNELS["pocketfft"]
# "scipy" never reaches the kernels (_fast_threads sends it through scipy.fft), except when
# another thread chose it between that check and the kernel's lookup: SciPy's own computation
_KERNELS["scipy"] = _KERNELS["pocketfft"]
#: Kernels that take a ``factor`` argument (folded into the transform's scale).
_SCALING = frozenset(_KERNELS["mkl"].values())


def _times(out, factor):
    """The engine's fresh output ``out``, multiplied by ``factor`` in place."""
    return out if factor == 1 else np.multiply(out, factor, out=out)


_AUTO: list = []  # the first installed engine of AUTO_ORDER, once looked up


def auto_engine(kind: str, s: tuple, size: int) -> str:
    """The engine "auto" runs a ``kind`` transform of lengths ``s`` on ``size`` elements with
    in a backward sweep (forward values always run on pocketfft, SciPy's kernels).

    A fixed rule (no timing), so two runs of one program use the same engines:
    pocketfft below :data:`ENGINE_SIZE` elements (its call costs least); above, the
    first installed engine of :data:`AUTO_ORDER`, except that ducc0 leaves prime
    lengths above :data:`DUCC0_MAX_PRIME` to pocketfft.

    Measured (best of 7, engines interleaved, 2-core Xeon VM shared with other work;
    time relative to pocketfft's, one thread / two threads)::

        transform                        ducc0       pyfftw       mkl
        c2c 2^20 complex128              0.59/0.70   1.15/1.74    0.57/1.02
        c2c 2^15 complex128              0.62/0.62   0.77/20      0.71/1.21
        c2c 1000003 (prime) complex128   1.54/1.85   0.88/1.19    0.58/0.67
        c2c 64^3 complex128              0.72/0.92   0.62/2.55    0.66/1.87
        c2c 512x512 complex64            0.71/0.78   4.24/10.9    0.96/0.93
        r2c 16x256x256 float32 (1, 2)    0.82/0.62   0.93/0.81    0.65/0.71
        c2r 16x256x129 complex64 (1, 2)  0.83/0.86   0.72/0.98    0.67/1.22
        r2c 2^20 float64                 0.94/0.65   0.76/0.48    0.57/0.70
        c2r 524289 (3 x 174763) c128     0.72/0.71   0.61/0.62    0.50/0.64
        r2c 60060 float64                0.81/1.07   0.60/0.63    0.70/0.81
        c2c 256x1024 complex128 axis 1   0.58/0.61   0.92/0.93    0.95/1.64

    and ducc0 against pocketfft, one thread: c2c 2^20+1 (17 x 61681) 0.35, 524289 1.00,
    65542 (2 x 32771) 1.08; prime lengths 40009 1.17, 65537 1.44 (r2c 1.59), 1000003
    1.74 (r2c 1.55). So: ducc0 wherever it is installed and MKL is not, but not for prime
    lengths. MKL stays first, as before this rule: alone it won or tied on most
    transforms, and inside gradients it was the fastest or tied everywhere measured
    (its two-thread losses above came with other work on the machine; gradients on
    that loaded machine, best of 9, pocketfft / ducc0 / MKL: W1 177 / 99 / 100 ms, W2
    53 / 39 / 37 ms, W4 42 / 33 / 55 ms: MKL's OpenMP threads suffer most from
    contention, so measure on your machine before reordering :data:`AUTO_ORDER`). pyFFTW
    (FFTW_ESTIMATE) ranged from 0.5x to 20x: too uneven to choose without timing.

    Examples
    --------
    >>> from pullback.engines import fft as fft_engine
    >>> fft_engine.auto_engine("c2c", (64,), 64)
    'pocketfft'
    """
    if size < ENGINE_SIZE:
        return "pocketfft"
    if not _AUTO:
        _AUTO.append(next(e for e in AUTO_ORDER if e not in _IMPORTS or _module(e) is not None))
    name = _AUTO[0]
    if name == "ducc0" and any(_large_prime(n) for n in s):
        return "pocketfft"
    return name


@functools.lru_cache(maxsize=1024)
def _large_prime(n):
    return n > DUCC0_MAX_PRIME and fft_mkl._largest_prime_factor(n) == n


def clear_caches() -> int:
    """Free every engine's cached plans (MKL descriptors, FFTW plans); returns their estimated bytes."""
    return fft_mkl.clear() + _FFTW_PLANS.clear()


def cache_info() -> dict:
    """Each plan cache's ``{"plans": count, "bytes": estimate, "limit": bytes}``, by engine."""
    return {
        "mkl": fft_mkl.cache_info(),
        "pyfftw": {"plans": len(_FFTW_PLANS), "bytes": _FFTW_PLANS.nbytes, "limit": fft_mkl.CACHE_LIMIT},
    }


class _ForkGate:
    """Any number of multithreaded transforms at once, or one ``fork()``, never both.

    pocketfft's and ducc0's thread pools shut down just before a fork (their
    ``pthread_atfork`` handlers) and restart after it: a transform that submitted
    work to them meanwhile, in another thread, raised "Work item submitted after
    shutdown". A fork now waits until no multithreaded transform is under way, and
    those that would start wait until the fork is done (microseconds). Transforms on
    one thread use no pool and do not wait.
    """

    def __init__(self):
        self._cond = threading.Condition(threading.Lock())
        self._running = 0
        self._forking = False
        self._fork_lock = threading.Lock()  # one fork at a time
        self._inside = threading.local()  # a transform inside a transform (a backend's) never waits

    def __enter__(self):
        depth = getattr(self._inside, "depth", 0)
        self._inside.depth = depth + 1
        with self._cond:
            while self._forking and not depth:
                self._cond.wait()
            self._running += 1

    def __exit__(self, *exc):
        self._inside.depth -= 1
        with self._cond:
            self._running -= 1
            if not self._running:
                self._cond.notify_all()

    def before_fork(self):
        self._fork_lock.acquire()
        with self._cond:
            self._forking = True
            while self._running:
                self._cond.wait()

    def after_fork_in_parent(self):
        with self._cond:
            self._forking = False
            self._cond.notify_all()
        self._fork_lock.release()


_gate = _ForkGate()


def _run(kind, x, s, axes, forward, inorm, threads, scratch=False, factor=1, fast=False):
    """Transform ``x`` with the engine in force (``threads`` from :func:`_fast_threads`),
    its result multiplied by ``factor`` (by the transform itself where the engine can)."""
    if threads > 1:
        with _gate:
            return _run_kernel(kind, x, s, axes, forward, inorm, threads, scratch, factor, fast)
    return _run_kernel(kind, x, s, axes, forward, inorm, threads, scratch, factor, fast)


def _run_kernel(kind, x, s, axes, forward, inorm, threads, scratch, factor, fast=False):
    if _engine == "auto" and x.size >= ENGINE_SIZE and (fast or _held.sweep):
        kernel = _KERNELS[auto_engine(kind, s, x.size)][kind]
    elif _engine == "auto":  # a value the user sees: SciPy's own kernels, SciPy's bits
        kernel = _KERNELS["pocketfft"][kind]
    else:
        kernel = _KERNELS[_engine][kind]
    if factor == 1:
        return kernel(x, s, axes, forward, inorm, threads, scratch)
    if kernel in _SCALING:
        return kernel(x, s, axes, forward, inorm, threads, scratch, factor)
    return _times(kernel(x, s, axes, forward, inorm, threads, scratch), factor)


_EXPECTED: list = []  # the global state when only SciPy's backend and ours are in force


class _Held(threading.local):
    value = None  # the check's answer, held for one backward sweep (a default: no AttributeError)
    sweep = False  # whether this thread is in a backward sweep (its transforms make gradients)


_held = _Held()


@contextlib.contextmanager
def held_backend_check():
    """Answer the backend check once for a whole backward sweep (this thread's).

    Reading uarray's state costs ~1.8 µs, several times a small transform. Between
    the pullbacks of one sweep no ``set_backend`` context can open or close around
    pullback's own transforms, so the answer at the sweep's start holds throughout.
    """
    previous, sweeping = _held.value, _held.sweep
    _held.value = _backend_check() if _pocketfft is not None else False
    _held.sweep = True
    try:
        yield
    finally:
        _held.value, _held.sweep = previous, sweeping


def _default_backend_in_force() -> bool:
    held = _held.value
    return _backend_check() if held is None else held


def _backend_check() -> bool:
    glob, local, _ = _uarray.get_state()._pickle()
    entry = glob.get(_DOMAIN)
    if _EXPECTED and entry == _EXPECTED[0]:  # the common case: one comparison
        loc = local.get(_DOMAIN) if local else None
        return not (loc and loc[1])
    if entry is None or entry[0] is None or entry[0][0] is not _ScipyBackend:
        return False
    if any(b not in OWN_BACKENDS for b in entry[1]):
        return False
    _EXPECTED[:] = [entry]
    loc = local.get(_DOMAIN)
    return not (loc and loc[1])


def _fast_threads(x, workers):
    """Threads for a direct pocketfft call on ``x``, or 0 when the call must go through scipy.fft."""
    if type(x) is not np.ndarray:
        return 0
    dtype = x.dtype
    if (
        (dtype is not _F8 and dtype is not _C16 and dtype not in _FAST_DTYPES)  # native byte order only
        or not FAST_PATH
        or _engine == "scipy"
        or _pocketfft is None
        or not x.flags.aligned
    ):
        return 0
    held = _held.value  # _default_backend_in_force, inline: this runs once per transform
    if not (_backend_check() if held is None else held):
        return 0
    if workers is not None:
        return _helper._workers(workers)
    chosen = _workers.chosen()  # inside scipy.fft.set_workers
    if chosen is not None:
        return chosen
    return _CPUS if x.size >= PARALLEL_SIZE else 1


def workers_for(x, workers):
    """The ``workers`` to use: the caller's, else ``set_workers``'s, else all cores for large arrays."""
    if workers is not None:
        return workers
    if _workers.chosen() is not None:
        return None  # inside scipy.fft.set_workers: SciPy applies it
    return -1 if x.size >= PARALLEL_SIZE and _CPUS > 1 else None


def _fit(x, lengths, axes):
    """Crop or zero-pad ``x`` along ``axes`` (what ``s`` asks of a transform's input)."""
    shape = x.shape
    if len(axes) == 1:
        if shape[axes[0]] == lengths[0]:
            return x
    elif all(shape[a] == n for a, n in zip(axes, lengths)):
        return x
    target = list(shape)
    for a, n in zip(axes, lengths):
        target[a] = n
    y = x[tuple(slice(0, min(n, m)) for n, m in zip(target, shape))]
    if y.shape == tuple(target):
        return y
    out = np.zeros(target, dtype=x.dtype)
    out[tuple(slice(0, m) for m in y.shape)] = y
    return out


def c2c(x, s, axes, norm, forward, workers=None, scratch=False, fast=False):
    """``fftn`` (forward) or ``ifftn`` of ``x`` with lengths ``s`` along ``axes``.

    ``scratch=True`` says ``x`` is a temporary the caller will not read again: the
    engines that can then write the result into it (MKL, pocketfft, ducc0) do.
    ``fast=True`` lets "auto" choose a faster engine than SciPy's kernels outside a backward
    sweep too (for values that need not be SciPy's bits).
    """
    threads = _fast_threads(x, workers)
    if threads:
        inorm = _INORM[norm] if forward else 2 - _INORM[norm]
        if threads == 1 and x.size < ENGINE_SIZE:  # what _run/_run_kernel choose (pocketfft under
            # "auto": its small transforms never go elsewhere, fast or not), without their calls
            return _KERNELS[_engine]["c2c"](x, s, axes, forward, inorm, 1, scratch)
        return _run("c2c", x, s, axes, forward, inorm, threads, scratch, fast=fast)
    workers = workers_for(x, workers)
    if isinstance(x, np.ndarray):
        with _gate:
            return (sfft.fftn if forward else sfft.ifftn)(x, s=s, axes=axes, norm=norm, workers=workers)
    if lazy.is_dask(x):  # Dask transforms whole axes only: rechunk (see pullback.lazy)
        x = lazy.whole_along(x, axes)
    return (np.fft.fftn if forward else np.fft.ifftn)(x, s=s, axes=axes, norm=norm)


def r2c(x, s, axes, norm, workers=None, factor=1, fast=False):
    """``rfftn`` of the real ``x``, times ``factor`` (MKL folds it into the transform)."""
    threads = _fast_threads(x, workers)
    if threads and x.dtype.kind == "f":
        if threads == 1 and factor == 1 and x.size < ENGINE_SIZE:  # (as in c2c)
            return _KERNELS[_engine]["r2c"](x, s, axes, True, _INORM[norm], 1)
        return _run("r2c", x, s, axes, True, _INORM[norm], threads, factor=factor, fast=fast)
    workers = workers_for(x, workers)
    if isinstance(x, np.ndarray):
        with _gate:
            y = sfft.rfftn(x, s=s, axes=axes, norm=norm, workers=workers)
    else:
        y = np.fft.rfftn(lazy.whole_along(x, axes) if lazy.is_dask(x) else x, s=s, axes=axes, norm=norm)
    return y if factor == 1 else y * factor


def c2r(x, s, axes, norm, workers=None, scratch=False, fast=False):
    """``irfftn`` of the half spectrum ``x`` to real lengths ``s``.

    ``scratch=True`` says ``x`` is a temporary the caller will not read again, which
    the MKL and ducc0 engines may then overwrite instead of copying.
    """
    threads = _fast_threads(x, workers)
    if threads:
        if x.dtype.kind == "f":
            x = x + np.zeros((), dtype=np.result_type(x.dtype, np.complex64))
        if threads == 1 and x.size < ENGINE_SIZE:  # (as in c2c)
            return _KERNELS[_engine]["c2r"](x, s, axes, False, 2 - _INORM[norm], 1, scratch)
        return _run("c2r", x, s, axes, False, 2 - _INORM[norm], threads, scratch, fast=fast)
    workers = workers_for(x, workers)
    if isinstance(x, np.ndarray):
        with _gate:
            return sfft.irfftn(x, s=s, axes=axes, norm=norm, workers=workers)
    if not type(x).__module__.startswith("dask"):  # Dask runs NumPy's irfftn on each (whole) block
        x = hermitian_edges(fit_any(x, _half(s), axes), s, axes)
    else:
        x = lazy.whole_along(x, axes)
    return np.fft.irfftn(x, s=s, axes=axes, norm=norm)


def fit_any(x, lengths, axes):
    """:func:`_fit` for any array type (CuPy, Dask): slicing and ``np.pad``, no item assignment."""
    if all(x.shape[a] == n for a, n in zip(axes, lengths)):
        return x
    index = [slice(None)] * x.ndim
    pad = [(0, 0)] * x.ndim
    for a, n in zip(axes, lengths):
        index[a] = slice(0, min(n, x.shape[a]))
        pad[a] = (0, max(0, n - x.shape[a]))
    return np.pad(x[tuple(index)], pad)


def hermitian_edges(x, s, axes):
    """The half spectrum ``x`` (already of length ``s[-1] // 2 + 1``) with its first (and
    Nyquist) planes replaced by their conjugate-even parts.

    NumPy's irfftn is defined for any input: an inverse c2c over the leading axes, then
    irfft, which drops the imaginary parts of its first and Nyquist bins; that equals the
    c2r of this projection. cuFFT (CuPy) assumes the input is already Hermitian: on W2's
    float32 16x256x129 spectra its irfft2 differed from NumPy's by 5%, and so would the
    gradient that assumes NumPy's. Built from slices and concatenation, for any array type.
    """
    last = axes[-1]
    m = x.shape[last]

    def part(start, stop):
        index = [slice(None)] * x.ndim
        index[last] = slice(start, stop)
        return x[tuple(index)]

    def conjugate_even(plane):
        mirror = plane  # mirror[k] = plane[-k mod n] along every leading axis
        for a in axes[:-1]:
            mirror = np.roll(np.flip(mirror, axis=a), 1, axis=a)
        return (plane + np.conj(mirror)) * 0.5

    if s[-1] % 2 == 0 and m > 1:
        parts = [conjugate_even(part(0, 1)), part(1, m - 1), conjugate_even(part(m - 1, m))]
    else:
        parts = [conjugate_even(part(0, 1)), part(1, m)]
    return np.concatenate(parts, axis=last)


def r2r(x, kind, type, s, axes, norm, orthogonalize=None, workers=None):
    """SciPy's ``dctn``, ``idctn``, ``dstn`` or ``idstn`` (``kind``) of ``x``.

    ``orthogonalize=None`` is not passed on (pyFFTW's backend does not know it). The
    fast path runs SciPy's own pocketfft call for real input; complex input goes
    through ``scipy.fft``, which transforms its real and imaginary parts.
    """
    threads = _fast_threads(x, workers)
    if threads and x.dtype.kind == "f" and type in (1, 2, 3, 4):
        inverse = kind[0] == "i"
        inorm = 2 - _INORM[norm] if inverse else _INORM[norm]
        ptype = 5 - type if inverse and type in (2, 3) else type
        transform = _pocketfft.dct if kind.endswith("dct") else _pocketfft.dst
        if threads == 1:
            return transform(_fit(x, s, axes), ptype, axes, inorm, None, threads, orthogonalize)
        with _gate:
            return transform(_fit(x, s, axes), ptype, axes, inorm, None, threads, orthogonalize)
    if lazy.is_dask(x):  # SciPy would convert it to NumPy: SciPy's function over its blocks instead
        return lazy.r2r(fit_any(x, s, axes), kind, type, axes, norm, orthogonalize)
    workers = workers_for(x, workers)
    kw = {k: v for k, v in (("workers", workers), ("orthogonalize", orthogonalize)) if v is not None}
    with _gate:
        return getattr(sfft, kind + "n")(x, type, s=s, axes=axes, norm=norm, **kw)


def _engine_from_environment():
    name = os.environ.get("PULLBACK_FFT_ENGINE", "auto")
    try:
        set_engine(name)
    except (ValueError, ImportError) as e:
        raise type(e)(f"PULLBACK_FFT_ENGINE={name!r}: {e}") from None


def _before_fork():
    _gate.before_fork()  # first: a transform under way may still need the block cache's lock
    buffers._lock.acquire()  # no thread is inside the block cache while the process forks


def _after_fork_in_parent():
    buffers._lock.release()
    _gate.after_fork_in_parent()


def _after_fork_in_child():
    global _fftw_forked, _gate
    buffers._lock.release()  # this thread took it before the fork
    _gate = _ForkGate()
    if _modules.get("pyfftw") is not None:  # FFTW's threads stayed in the parent
        _fftw_forked = True
    _FFTW_PLANS._after_fork_in_child(free=False)  # never run, nor destroyed, here


if hasattr(os, "register_at_fork"):
    # fft_mkl registered its own handlers when this module imported it: its "before" runs
    # after this one (Python calls them in reverse order), once no transform is under way
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                        after_in_child=_after_fork_in_child)

_engine_from_environment()
SWEEP_CONTEXTS.append(held_backend_check)
