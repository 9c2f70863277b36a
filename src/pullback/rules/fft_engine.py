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

- ``"auto"`` (default): for transforms of at least :data:`FFTW_SIZE` elements,
  when pyFFTW is installed (``pip install pullback[pyfftw]``), the first transform
  of each kind, shape, dtype and axes is timed on both pyFFTW (with its plan
  cache) and pocketfft, and the faster one runs it from then on (neither wins
  everywhere: pyFFTW is faster for 1-D and 3-D complex transforms here, pocketfft
  for large 2-D real ones); pocketfft's kernels below that size;
- ``"pocketfft"``: pocketfft's kernels for every size;
- ``"pyfftw"``: pyFFTW for every size it supports;
- ``"scipy"``: always the public ``scipy.fft`` functions.

Only the default backend situation is affected: inside ``scipy.fft.set_backend``
(or with another registered backend) every transform goes to ``scipy.fft`` and so
to the user's backend. DCT/DST always use pocketfft's kernels or ``scipy.fft``.
"""

from __future__ import annotations

import os
import time

import numpy as np
import scipy.fft as sfft

try:  # SciPy internals for the fast path; without them every call goes through scipy.fft
    from scipy._lib._uarray import _uarray
    from scipy.fft._backend import _ScipyBackend
    from scipy.fft._pocketfft import helper as _helper
    from scipy.fft._pocketfft import pypocketfft as _pocketfft
except ImportError:  # pragma: no cover - other SciPy layouts
    _pocketfft = None

_DOMAIN = "numpy.scipy.fft"
_INORM = {None: 0, "backward": 0, "ortho": 1, "forward": 2}
_FAST_DTYPES = frozenset(map(np.dtype, ("float32", "float64", "complex64", "complex128")))

#: Transforms of at least this many elements use all cores unless the user chose ``workers``.
PARALLEL_SIZE = 1 << 16
#: Backends that pullback registered itself (they only take traced values).
OWN_BACKENDS: set = set()
#: Set to False to always go through the public ``scipy.fft`` functions.
FAST_PATH = True
_CPUS = os.cpu_count() or 1

ENGINES = ("auto", "pocketfft", "pyfftw", "scipy")
#: Transforms of at least this many elements use pyFFTW under the "auto" engine.
FFTW_SIZE = 1 << 15
#: pyFFTW's planner effort ("FFTW_ESTIMATE" plans in milliseconds; "FFTW_MEASURE" plans
#: for seconds on large sizes and then runs faster; plans are cached either way).
FFTW_PLANNER = os.environ.get("PULLBACK_FFTW_PLANNER", "FFTW_ESTIMATE")
_engine = os.environ.get("PULLBACK_FFT_ENGINE", "auto")
_fftw = None  # pyfftw.interfaces.scipy_fft once imported; False when not installed


def set_engine(name: str) -> str:
    """Choose the transform engine for NumPy arrays; returns the previous one.

    Examples
    --------
    >>> from pullback.rules import fft_engine
    >>> previous = fft_engine.set_engine("pocketfft")
    >>> _ = fft_engine.set_engine(previous)
    """
    global _engine
    if name not in ENGINES:
        raise ValueError(f"unknown FFT engine {name!r}; choose one of {ENGINES}")
    if name == "pyfftw" and _fftw_module() is None:
        raise ImportError("the pyfftw engine needs pyFFTW: pip install pyfftw")
    previous, _engine = _engine, name
    return previous


def get_engine() -> str:
    """The engine in use (see :func:`set_engine`)."""
    return _engine


def _fftw_module():
    global _fftw
    if _fftw is None:
        try:
            import pyfftw
            import pyfftw.interfaces.scipy_fft as fftw_scipy
        except ImportError:
            _fftw = False
        else:
            pyfftw.interfaces.cache.enable()
            pyfftw.interfaces.cache.set_keepalive_time(300)
            _fftw = fftw_scipy
    return _fftw or None


_FASTER: dict = {}  # (kind, shape, dtype, axes, s, threads) -> True when pyFFTW won the timing


def _fftw_for(x, key, fftw_call, pocket_call):
    """pyFFTW's scipy-style interface when it should run this transform of ``x``, else None.

    Under "auto", the first call with a given ``key`` times ``fftw_call`` (after one
    untimed call that lets pyFFTW plan) against ``pocket_call`` and keeps the faster.
    """
    if _engine == "pyfftw":
        return _fftw_module()
    if _engine != "auto" or x.size < FFTW_SIZE:
        return None
    fftw = _fftw_module()
    if fftw is None:
        return None
    faster = _FASTER.get(key)
    if faster is None:
        fftw_call(fftw)  # plans (cached by pyFFTW)
        t0 = time.perf_counter()
        fftw_call(fftw)
        t1 = time.perf_counter()
        pocket_call()
        t2 = time.perf_counter()
        faster = _FASTER[key] = (t1 - t0) < (t2 - t1)
    return fftw if faster else None


_EXPECTED: list = []  # the global state when only SciPy's backend and ours are in force


def _default_backend_in_force() -> bool:
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
    if (
        not FAST_PATH
        or _engine == "scipy"
        or _pocketfft is None
        or type(x) is not np.ndarray
        or x.dtype not in _FAST_DTYPES
        or not x.dtype.isnative
        or not x.flags.aligned
        or not _default_backend_in_force()
    ):
        return 0
    if workers is not None:
        return _helper._workers(workers)
    chosen = _helper._config.__dict__.get("default_workers")  # inside scipy.fft.set_workers
    if chosen is not None:
        return chosen
    return _CPUS if x.size >= PARALLEL_SIZE else 1


def workers_for(x, workers):
    """The ``workers`` to use: the caller's, else ``set_workers``'s, else all cores for large arrays."""
    if workers is not None:
        return workers
    if _pocketfft is not None and "default_workers" in _helper._config.__dict__:
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


def c2c(x, s, axes, norm, forward, workers=None):
    """``fftn`` (forward) or ``ifftn`` of ``x`` with lengths ``s`` along ``axes``."""
    threads = _fast_threads(x, workers)
    if threads:
        inorm = _INORM[norm] if forward else 2 - _INORM[norm]
        if x.size < FFTW_SIZE and _engine != "pyfftw":  # small: straight to pocketfft
            return _pocketfft.c2c(_fit(x, s, axes), axes, forward, inorm, None, threads)

        def pocket():
            return _pocketfft.c2c(_fit(x, s, axes), axes, forward, inorm, None, threads)

        def fftw_call(fftw):
            transform = fftw.fftn if forward else fftw.ifftn
            return transform(x, s=s, axes=axes, norm=norm, workers=threads, planner_effort=FFTW_PLANNER)

        fftw = _fftw_for(x, ("c2c", x.shape, x.dtype, axes, s, threads), fftw_call, pocket)
        return pocket() if fftw is None else fftw_call(fftw)
    workers = workers_for(x, workers)
    if isinstance(x, np.ndarray):
        return (sfft.fftn if forward else sfft.ifftn)(x, s=s, axes=axes, norm=norm, workers=workers)
    return (np.fft.fftn if forward else np.fft.ifftn)(x, s=s, axes=axes, norm=norm)


def r2c(x, s, axes, norm, workers=None):
    """``rfftn`` of the real ``x``."""
    threads = _fast_threads(x, workers)
    if threads and x.dtype.kind == "f":
        if x.size < FFTW_SIZE and _engine != "pyfftw":  # small: straight to pocketfft
            return _pocketfft.r2c(_fit(x, s, axes), axes, True, _INORM[norm], None, threads)

        def pocket():
            return _pocketfft.r2c(_fit(x, s, axes), axes, True, _INORM[norm], None, threads)

        def fftw_call(fftw):
            return fftw.rfftn(x, s=s, axes=axes, norm=norm, workers=threads, planner_effort=FFTW_PLANNER)

        fftw = _fftw_for(x, ("r2c", x.shape, x.dtype, axes, s, threads), fftw_call, pocket)
        return pocket() if fftw is None else fftw_call(fftw)
    workers = workers_for(x, workers)
    if isinstance(x, np.ndarray):
        return sfft.rfftn(x, s=s, axes=axes, norm=norm, workers=workers)
    return np.fft.rfftn(x, s=s, axes=axes, norm=norm)


def c2r(x, s, axes, norm, workers=None):
    """``irfftn`` of the half spectrum ``x`` to real lengths ``s``."""
    threads = _fast_threads(x, workers)
    if threads:
        if x.dtype.kind == "f":
            x = x + np.zeros((), dtype=np.result_type(x.dtype, np.complex64))
        half = (*s[:-1], s[-1] // 2 + 1)
        if x.size < FFTW_SIZE and _engine != "pyfftw":  # small: straight to pocketfft
            return _pocketfft.c2r(_fit(x, half, axes), axes, s[-1], False, 2 - _INORM[norm], None, threads)

        def pocket():
            return _pocketfft.c2r(_fit(x, half, axes), axes, s[-1], False, 2 - _INORM[norm], None, threads)

        def fftw_call(fftw):
            return fftw.irfftn(x, s=s, axes=axes, norm=norm, workers=threads, planner_effort=FFTW_PLANNER)

        fftw = _fftw_for(x, ("c2r", x.shape, x.dtype, axes, s, threads), fftw_call, pocket)
        return pocket() if fftw is None else fftw_call(fftw)
    workers = workers_for(x, workers)
    if isinstance(x, np.ndarray):
        return sfft.irfftn(x, s=s, axes=axes, norm=norm, workers=workers)
    return np.fft.irfftn(x, s=s, axes=axes, norm=norm)


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
        return transform(_fit(x, s, axes), ptype, axes, inorm, None, threads, orthogonalize)
    workers = workers_for(x, workers)
    kw = {k: v for k, v in (("workers", workers), ("orthogonalize", orthogonalize)) if v is not None}
    return getattr(sfft, kind + "n")(x, type, s=s, axes=axes, norm=norm, **kw)
