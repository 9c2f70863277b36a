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
"""

from __future__ import annotations

import os

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


def _default_backend_in_force() -> bool:
    glob, local, _ = _uarray.get_state()._pickle()
    entry = glob.get(_DOMAIN)
    if entry is None or entry[0] is None or entry[0][0] is not _ScipyBackend:
        return False
    if any(b not in OWN_BACKENDS for b in entry[1]):
        return False
    loc = local.get(_DOMAIN)
    return not (loc and loc[1])


def _fast(x) -> bool:
    return (
        FAST_PATH
        and _pocketfft is not None
        and type(x) is np.ndarray
        and x.dtype in _FAST_DTYPES
        and x.dtype.isnative
        and x.flags.aligned
        and _default_backend_in_force()
    )


def workers_for(x, workers):
    """The ``workers`` to use: the caller's, else ``set_workers``'s, else all cores for large arrays."""
    if workers is not None:
        return workers
    if _pocketfft is not None and hasattr(_helper._config, "default_workers"):
        return None  # inside scipy.fft.set_workers: SciPy applies it
    return -1 if x.size >= PARALLEL_SIZE and _CPUS > 1 else None


def _nthreads(workers):
    if workers is None:
        return getattr(_helper._config, "default_workers", 1)
    return _helper._workers(workers)


def _fit(x, lengths, axes):
    """Crop or zero-pad ``x`` along ``axes`` (what ``s`` asks of a transform's input)."""
    if all(x.shape[a] == n for a, n in zip(axes, lengths)):
        return x
    crop = tuple(slice(0, min(n, x.shape[a])) if a in axes else slice(None)
                 for a, n in zip(range(x.ndim), _per_axis(x, lengths, axes)))
    y = x[crop]
    if all(y.shape[a] == n for a, n in zip(axes, lengths)):
        return y
    out = np.zeros(tuple(_per_axis(x, lengths, axes)), dtype=x.dtype)
    out[tuple(slice(0, m) for m in y.shape)] = y
    return out


def _per_axis(x, lengths, axes):
    shape = list(x.shape)
    for a, n in zip(axes, lengths):
        shape[a] = n
    return shape


def c2c(x, s, axes, norm, forward, workers=None):
    """``fftn`` (forward) or ``ifftn`` of ``x`` with lengths ``s`` along ``axes``."""
    workers = workers_for(x, workers)
    if _fast(x):
        inorm = _INORM[norm] if forward else 2 - _INORM[norm]
        return _pocketfft.c2c(_fit(x, s, axes), axes, forward, inorm, None, _nthreads(workers))
    if isinstance(x, np.ndarray):
        return (sfft.fftn if forward else sfft.ifftn)(x, s=s, axes=axes, norm=norm, workers=workers)
    return (np.fft.fftn if forward else np.fft.ifftn)(x, s=s, axes=axes, norm=norm)


def r2c(x, s, axes, norm, workers=None):
    """``rfftn`` of the real ``x``."""
    workers = workers_for(x, workers)
    if _fast(x) and x.dtype.kind == "f":
        return _pocketfft.r2c(_fit(x, s, axes), axes, True, _INORM[norm], None, _nthreads(workers))
    if isinstance(x, np.ndarray):
        return sfft.rfftn(x, s=s, axes=axes, norm=norm, workers=workers)
    return np.fft.rfftn(x, s=s, axes=axes, norm=norm)


def c2r(x, s, axes, norm, workers=None):
    """``irfftn`` of the half spectrum ``x`` to real lengths ``s``."""
    workers = workers_for(x, workers)
    if _fast(x):
        if x.dtype.kind == "f":
            x = x + np.zeros((), dtype=np.result_type(x.dtype, np.complex64))
        half = list(s[:-1]) + [s[-1] // 2 + 1]
        return _pocketfft.c2r(_fit(x, half, axes), axes, s[-1], False, 2 - _INORM[norm], None,
                              _nthreads(workers))
    if isinstance(x, np.ndarray):
        return sfft.irfftn(x, s=s, axes=axes, norm=norm, workers=workers)
    return np.fft.irfftn(x, s=s, axes=axes, norm=norm)


def r2r(x, kind, type, s, axes, norm, orthogonalize=None, workers=None):
    """SciPy's ``dctn``, ``idctn``, ``dstn`` or ``idstn`` (``kind``) of ``x``.

    ``orthogonalize=None`` is not passed on (pyFFTW's backend does not know it). The
    fast path runs SciPy's own pocketfft call for real input; complex input goes
    through ``scipy.fft``, which transforms its real and imaginary parts.
    """
    workers = workers_for(x, workers)
    if _fast(x) and x.dtype.kind == "f" and type in (1, 2, 3, 4):
        inverse = kind[0] == "i"
        inorm = 2 - _INORM[norm] if inverse else _INORM[norm]
        ptype = 5 - type if inverse and type in (2, 3) else type
        transform = _pocketfft.dct if kind.endswith("dct") else _pocketfft.dst
        return transform(_fit(x, s, axes), ptype, axes, inorm, None, _nthreads(workers), orthogonalize)
    kw = {k: v for k, v in (("workers", workers), ("orthogonalize", orthogonalize)) if v is not None}
    return getattr(sfft, kind + "n")(x, type, s=s, axes=axes, norm=norm, **kw)
