"""Memory: pullback's block cache, and keeping freed memory in the process (glibc).

pullback keeps the large blocks it allocates (2 MiB-aligned, for huge pages) for
reuse, up to ``PULLBACK_CACHE_MIB`` (default 256 MiB), and its FFT engines keep
plans (MKL descriptors, FFTW plans), up to ``PULLBACK_ENGINE_CACHE_MIB`` (default
256 MiB) each: :func:`release_memory` hands back the blocks no array uses and
frees the plans. :func:`keep_freed_memory` does the same for
every allocation in the process, through glibc.

glibc returns freed buffers of a few MB and more to the kernel (``mmap``'d blocks,
and the top of the heap once it passes a threshold), and the next call that needs
them page-faults fresh, zeroed pages back in. In a VM that is expensive: W1's
gradient (2^20 complex points) took ~2,600 page faults and 75 ms per call, against
none and 61 ms with the thresholds raised; W4's 28 ms against 20.
"""

from __future__ import annotations

import ctypes
import ctypes.util

from .engines import buffers

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_freed_memory(limit: int = 1 << 30) -> bool:
    """Ask glibc to keep freed blocks of up to ``limit`` bytes in the process.

    Sets glibc's ``M_MMAP_THRESHOLD`` and ``M_TRIM_THRESHOLD`` (as the
    ``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_`` environment
    variables would at start-up), so that large arrays freed by one gradient are
    reused by the next instead of being page-faulted back in. The process then
    keeps up to its peak memory. This is process-wide and cannot be undone;
    pullback never calls it by itself.

    Returns True when the C library took the settings, False where it has no
    ``mallopt`` (not glibc).

    Examples
    --------
    >>> import pullback as pb
    >>> pb.keep_freed_memory() in (True, False)
    True
    """
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    limit = int(min(limit, 2**31 - 1))
    return bool(mallopt(_M_MMAP_THRESHOLD, limit)) and bool(mallopt(_M_TRIM_THRESHOLD, limit))


def release_memory() -> int:
    """Return the large blocks pullback keeps for reuse, and no array uses, to the system,
    and free the FFT engines' cached plans.

    pullback allocates arrays of 2 MiB or more (transform outputs, products in
    pullbacks) on huge-page boundaries and keeps the blocks, up to
    ``PULLBACK_CACHE_MIB`` (default 256 MiB) in use or free, so that the next
    gradient reuses them instead of page-faulting fresh memory in. The MKL and
    pyFFTW engines keep a plan per transform key, up to ``PULLBACK_ENGINE_CACHE_MIB``
    (default 256 MiB) of estimated plan memory each; the next transform of a freed
    key plans again; ``scipy.signal.istft`` keeps its last divisor (the summed squared
    window). Returns the bytes released (the blocks' sizes plus the plans' estimates and the
    divisor's).

    Examples
    --------
    >>> import pullback as pb
    >>> pb.release_memory() >= 0
    True
    """
    from .engines import fft as fft_engine
    from .rules import signal_spectral

    return buffers.release() + fft_engine.clear_caches() + signal_spectral.clear_caches()

