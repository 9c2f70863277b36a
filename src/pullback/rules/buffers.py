"""Large arrays on 2 MiB boundaries, kept for reuse.

Fresh memory is expensive in a gradient: every large array pullback allocates
is page-faulted in and zeroed by the kernel, and freed again at the end of the
call, and in a VM each small page fault costs microseconds. Two measures:

- **Huge pages.** NumPy asks the kernel for transparent huge pages on
  allocations of 4 MiB or more (``madvise``), but malloc's blocks start
  anywhere, so an array's ragged ends fault in 4 KiB at a time. :func:`empty`
  returns a view, aligned to 2 MiB, into a block one huge page larger. W1's
  gradient (2^20 complex points): ~2,070 small faults and 56-63 ms per call
  before, ~67 and 48-54 ms after (the FFTs also miss the TLB less).
- **A block cache.** Blocks are kept (up to :data:`CACHE_BYTES`, default 256 MiB,
  ``PULLBACK_CACHE_MIB``), and one that no array uses any more (its only
  reference is the cache's) serves the next request of its size, without a
  fault: the next gradient reuses what the last one freed, as PyTorch's CUDA
  caching allocator does. W4: 13-15 ms -> 9-11; W1 49-53 -> 43-44; W2 18 -> 14-15.
  :func:`release` (``pb.release_memory()``) hands the unused blocks back.

:func:`call` runs a ufunc into such an array when its output is large. The values
are NumPy's: the same loops run, only the output's address differs. Elsewhere
than Linux, or below :data:`ALIGNED_SIZE` bytes, these are plain NumPy calls.

Examples
--------
>>> import numpy as np
>>> from pullback.rules import buffers
>>> a = buffers.empty((1 << 20,), np.complex128)
>>> a.ctypes.data % buffers.HUGE_PAGE == 0 or not buffers.ENABLED
True
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

import numpy as np

#: The huge page size the arrays are aligned to.
HUGE_PAGE = 1 << 21
#: Arrays of at least this many bytes are aligned (their block, a huge page larger, passes NumPy's
#: 4 MiB threshold for asking for huge pages).
ALIGNED_SIZE = HUGE_PAGE
#: Whether aligning can help: Linux, where NumPy asks for transparent huge pages.
ENABLED = sys.platform.startswith("linux")
_SCALARS = (int, float, complex, np.generic)
_GRAIN = 1 << 16
#: Operands this large may give an output of ALIGNED_SIZE (float32 in, complex128 out: 4x).
_CANDIDATE = ALIGNED_SIZE // 4


def empty(shape: tuple, dtype: Any) -> np.ndarray:
    """``np.empty(shape, dtype)``, starting on a huge-page boundary when it is large."""
    dtype = np.dtype(dtype)
    n = dtype.itemsize
    for m in shape:
        n *= m
    if n < ALIGNED_SIZE or not ENABLED:
        return np.empty(shape, dtype)
    size = -(-n // _GRAIN) * _GRAIN  # blocks of one size serve shapes of nearly the same size
    block = _reuse(size) if CACHE_BYTES else None
    if block is None:
        block = np.empty(size + HUGE_PAGE, np.uint8)
        if CACHE_BYTES:
            _keep(block, size)
    start = -block.ctypes.data % HUGE_PAGE
    return block[start : start + n].view(dtype).reshape(shape)


# ---------------------------------------------------------------- the block cache
#
# A cached block whose only reference is the cache's is free: no array views it any more.

#: Bytes of blocks the cache may hold, in use or free (0: no cache).
CACHE_BYTES = int(os.environ.get("PULLBACK_CACHE_MIB", "256")) << 20
_blocks: dict[int, list] = {}  # usable size -> blocks
_ids: set = set()  # id() of every cached block
_held = 0
_lock = threading.Lock()
_refcount = sys.getrefcount
#: What getrefcount reports in :func:`_reuse` and :func:`release` for a block only the cache
#: holds (the list's reference, the loop's name and, before CPython 3.14, the call's argument);
#: calibrated below, on this interpreter.
_FREE = 3


def _reuse(size):
    with _lock:
        for block in _blocks.get(size, ()):
            if _refcount(block) == _FREE:
                return block
    return None


def _keep(block, size):
    global _held
    if _held + block.nbytes > CACHE_BYTES:
        release()  # full: drop the free blocks first
    with _lock:
        if _held + block.nbytes <= CACHE_BYTES:
            _blocks.setdefault(size, []).append(block)
            _ids.add(id(block))
            _held += block.nbytes


def cached(block: np.ndarray) -> bool:
    """Whether the cache holds a reference to ``block``."""
    return id(block) in _ids


def held() -> int:
    """Bytes of the blocks the cache holds (in use or free)."""
    return _held


def release() -> int:
    """Let go of the cached blocks that no array uses; returns the bytes released."""
    global _held
    freed = 0
    with _lock:
        for size in list(_blocks):
            blocks = _blocks[size]
            keep = []
            for b in blocks:
                if _refcount(b) != _FREE:  # an array views it
                    keep.append(b)
                else:
                    _ids.discard(id(b))
                    freed += b.nbytes
            _blocks[size] = keep
        _held -= freed
    return freed


def _calibrate() -> None:
    """Find the count of a free block through :func:`_reuse` itself: a block a view holds
    must never be handed out, a free one should be. Where no count tells them apart the
    cache is off (CACHE_BYTES = 0)."""
    global _FREE, CACHE_BYTES
    size = -1  # a key no real block has
    _blocks[size] = [np.empty(8, np.uint8)]
    try:
        for k in range(1, 9):  # the first that tells the cases apart is the only one
            _FREE = k
            view = _blocks[size][0][1:]  # holds the block
            in_use = _reuse(size) is not None
            del view
            if _reuse(size) is not None and not in_use:
                return
        _FREE = -1
        CACHE_BYTES = 0
    finally:
        del _blocks[size]


_calibrate()


def copy(x: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of ``x`` (aligned when large)."""
    out = empty(x.shape, x.dtype)
    np.copyto(out, x)
    return out


def call(ufunc: np.ufunc, args: tuple) -> Any:
    """``ufunc(*args)``; a large output of a one-output ufunc on NumPy operands is aligned."""
    if not ENABLED or ufunc.nout != 1 or ufunc.signature is not None:  # gufuncs (matmul) do not broadcast so
        return ufunc(*args)
    nbytes = 0
    shapes = []
    for a in args:
        if type(a) is np.ndarray:
            if a.dtype.hasobject:
                return ufunc(*args)
            nbytes = max(nbytes, a.nbytes)
            shapes.append(a.shape)
        elif not isinstance(a, _SCALARS):
            return ufunc(*args)
    if nbytes < _CANDIDATE:
        return ufunc(*args)
    try:
        shape = np.broadcast_shapes(*shapes)
        # the dtype NumPy's own call gives, from one-element views (0-d arrays as they are)
        with np.errstate(all="ignore"):  # the probe's values do not matter, nor its warnings
            probe = ufunc(*[a[(slice(0, 1),) * a.ndim] if type(a) is np.ndarray and a.ndim else a
                            for a in args])
    except Exception:  # noqa: BLE001 - NumPy's own call raises its own error
        return ufunc(*args)
    if type(probe) is not np.ndarray:
        return ufunc(*args)
    return ufunc(*args, out=empty(shape, probe.dtype))


def large(args: tuple) -> bool:
    """Whether one of the first two operands is a NumPy array large enough for :func:`call` to align."""
    a = args[0]
    if type(a) is np.ndarray and a.nbytes >= _CANDIDATE:
        return ENABLED
    if len(args) > 1:
        b = args[1]
        return type(b) is np.ndarray and b.nbytes >= _CANDIDATE and ENABLED
    return False


def product(a: Any, b: Any) -> Any:
    """``a * b``, aligned when large (see :func:`call`)."""
    if type(a) is np.ndarray and a.nbytes >= _CANDIDATE:
        return call(np.multiply, (a, b))
    if type(b) is np.ndarray and b.nbytes >= _CANDIDATE:
        return call(np.multiply, (a, b))
    return a * b
