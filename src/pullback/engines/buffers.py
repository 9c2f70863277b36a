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
  ``PULLBACK_CACHE_MIB``), and one that no array uses any more serves the next
  request of its size, without a fault: the next gradient reuses what the last
  one freed, as PyTorch's CUDA caching allocator does. "No array uses it" is
  known by construction, not from a reference count: the cache never hands out
  the block itself, only arrays made from a small handle object that holds the
  block, and NumPy makes every view of those arrays hold the handle (a view's
  ``base`` is the first object up the chain that is not an array). The cache
  holds the handle by a weak reference; when the last array that uses the block
  goes, the handle goes, and its callback marks the block free.
  W4: 13-15 ms -> 9-11; W1 49-53 -> 43-44; W2 18 -> 14-15.
  :func:`release` (``pb.release_memory()``) hands the unused blocks back.

:func:`call` runs a ufunc into such an array when its output is large. The values
are NumPy's: the same loops run, only the output's address differs. Elsewhere
than Linux, or below :data:`ALIGNED_SIZE` bytes, these are plain NumPy calls.

Examples
--------
>>> import numpy as np
>>> from pullback.engines import buffers
>>> a = buffers.empty((1 << 20,), np.complex128)
>>> a.ctypes.data % buffers.HUGE_PAGE == 0 or not buffers.ENABLED
True
"""

from __future__ import annotations

import collections
import os
import sys
import threading
import warnings
import weakref
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
    handle = _Handle(block, start, shape, dtype)
    if CACHE_BYTES and cached(block):
        _lend(block, handle)
    return np.asarray(handle)


# ---------------------------------------------------------------- the block cache


class _Handle:
    """What the arrays made from a block hold instead of the block: while one of them (or a view
    of one) lives, so does this handle (NumPy sets a view's base to the first object up the
    chain that is not an array: this one)."""

    __slots__ = ("__array_interface__", "block", "__weakref__")

    def __init__(self, block: np.ndarray, start: int, shape: tuple, dtype: np.dtype) -> None:
        self.block = block
        self.__array_interface__ = {
            "data": (block.ctypes.data + start, False),
            "shape": tuple(shape),
            "typestr": dtype.str,
            "descr": dtype.descr,
            "version": 3,
        }


def _env_cache_mib() -> int:
    """``PULLBACK_CACHE_MIB``, or the default 256 with a warning naming the variable when bad."""
    raw = os.environ.get("PULLBACK_CACHE_MIB")
    if raw is None:
        return 256
    try:
        mib = int(raw)
        if mib < 0:
            raise ValueError
    except ValueError:
        warnings.warn(
            f"pullback: PULLBACK_CACHE_MIB={raw!r} is not a whole number of MiB >= 0; "
            "using the default, 256", RuntimeWarning, stacklevel=2)
        return 256
    return mib


#: Bytes of blocks the cache may hold, in use or free (0: no cache).
CACHE_BYTES = _env_cache_mib() << 20
_blocks: dict[int, list] = {}  # usable size -> blocks
_free: dict[int, list] = {}  # usable size -> the blocks among them that no array uses
_ids: set = set()  # id() of every cached block
_lent: dict = {}  # id() of a block in use -> the weak reference to its handle
_returned: collections.deque = collections.deque()  # (id, ref, block) whose handle went
_held = 0
_lock = threading.RLock()


def _reuse(size):
    with _lock:
        _drain()
        free = _free.get(size)
        if free:
            return free.pop()
    return None


def _drain():
    """Mark free the blocks whose last array went (called with the lock held)."""
    while _returned:
        key, ref, block = _returned.popleft()
        if _lent.get(key) is ref:
            del _lent[key]
            if key in _ids:
                _free.setdefault(block.nbytes - HUGE_PAGE, []).append(block)


def _lend(block, handle):
    """Mark ``block`` in use until ``handle`` (held by every array made from it) goes.

    The weak reference's callback only queues the block (an atomic append): it may run at
    any point, garbage collection under the lock included; :func:`_drain` takes it from there.
    """
    key = id(block)

    def returned(ref, key=key, block=block):
        _returned.append((key, ref, block))

    with _lock:
        _lent[key] = weakref.ref(handle, returned)


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
    """Whether the cache holds ``block``."""
    return id(block) in _ids


def block_of(a: Any) -> np.ndarray | None:
    """The cached block an array's memory lies in, or None."""
    base = getattr(a, "base", None)
    while isinstance(base, np.ndarray):
        base = base.base
    if type(base) is _Handle and cached(base.block):
        return base.block
    return None


def footprint(a: np.ndarray) -> int | None:
    """Bytes of the memory that ``a``'s data lies in and keeps alive (its own, its base's, or its
    block's), or None where that is unknown (a base that is neither an array nor a block)."""
    if a.flags.owndata:
        return a.nbytes
    base = a.base
    while isinstance(base, np.ndarray) and not base.flags.owndata and base.base is not None:
        base = base.base
    if isinstance(base, np.ndarray):
        return base.nbytes
    if type(base) is _Handle:
        return base.block.nbytes
    return None


def held() -> int:
    """Bytes of the blocks the cache holds (in use or free)."""
    return _held


def release() -> int:
    """Let go of the cached blocks that no array uses; returns the bytes released."""
    global _held
    freed = 0
    with _lock:
        _drain()
        for size, free in _free.items():
            for b in free:
                _ids.discard(id(b))
                freed += b.nbytes
            _blocks[size] = [b for b in _blocks.get(size, ()) if id(b) in _ids]
            free.clear()
        _held -= freed
    return freed


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
