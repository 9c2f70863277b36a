"""Intel oneMKL's DFT interface (DFTI) as a transform engine, called through ctypes.

``pip install pullback[mkl]`` installs Intel's ``mkl`` wheel, whose ``libmkl_rt``
this module finds and drives; nothing is compiled. MKL's multi-dimensional
real and complex transforms are the fastest we measured on x86 (the engine
PyTorch's CPU FFT uses): W2's 16x256x256 float32 ``rfft2`` 1.5 ms with two threads,
against 2.4-4 ms for ducc0 and 3.4-7 ms for pocketfft.

One committed descriptor per transform key (kind, precision, lengths, strides,
batch, normalisation, threads; and the worker, for slices shared among threads)
is cached, least recently used first out, up to ``PULLBACK_ENGINE_CACHE_MIB``
(default 256) MiB of estimated descriptor memory (see :class:`PlanCache`;
``pullback.release_memory()`` frees them all). An n-d c2r runs one of two exact
ways, chosen by a fixed rule from its layout (see :func:`_c2r_nd`). A layout
DFTI cannot describe (repeated axes, negative or unaligned strides, batch axes that do not collapse into one)
makes :func:`transform` return ``None``, and the caller uses another engine.

Threads and ``fork()``: any number of threads may transform at once (a descriptor
serves one of them at a time). Before a fork, pullback takes every lock here, so
no transform is under way in the parent when the child is made; the child starts
with fresh locks, no thread pool and no descriptors (its parent's are freed).
"""

from __future__ import annotations

import collections
import concurrent.futures
import ctypes
import glob
import os
import sys
import threading
import weakref

import numpy as np

from . import buffers

# DFTI configuration parameters and values (mkl_dfti.h).
_FORWARD_SCALE, _BACKWARD_SCALE = 4, 5
_NUMBER_OF_TRANSFORMS = 7
_CONJUGATE_EVEN_STORAGE = 10
_PLACEMENT = 11
_INPUT_STRIDES, _OUTPUT_STRIDES = 12, 13
_INPUT_DISTANCE, _OUTPUT_DISTANCE = 14, 15
_THREAD_LIMIT = 27
_DESTROY_INPUT, _ALLOW = 28, 51
_COMPLEX, _REAL = 32, 33
_SINGLE, _DOUBLE = 35, 36
_COMPLEX_COMPLEX = 39
_INPLACE, _NOT_INPLACE = 43, 44

_Long = ctypes.c_long
_lib = None  # the loaded libmkl_rt, False when it cannot be found
_lock = threading.Lock()  # guards the thread pool


def _limit_from_environment():
    text = os.environ.get("PULLBACK_ENGINE_CACHE_MIB", "256")
    try:
        mib = float(text)
    except ValueError:
        raise ValueError(f"PULLBACK_ENGINE_CACHE_MIB={text!r}: a number of MiB expected") from None
    return max(0, int(mib * (1 << 20)))


#: Bytes of plans each engine's cache keeps (``PULLBACK_ENGINE_CACHE_MIB``, default 256 MiB;
#: 0 keeps none). Read on every insertion, so it may be changed at run time.
CACHE_LIMIT = _limit_from_environment()


class PlanCache:
    """Plans (MKL descriptors, FFTW plans) by key, bounded in estimated bytes.

    The least recently used plan goes first once the total passes :data:`CACHE_LIMIT`;
    the plan just added always stays (a plan larger than the limit still serves the
    calls that follow it). A plan evicted while a thread uses it lives until that
    call ends (its caller holds a reference). Every method is thread-safe.
    """

    def __init__(self, name):
        self.name = name
        self.lock = threading.Lock()
        self._items = collections.OrderedDict()  # key -> (plan, bytes)
        self.nbytes = 0

    def get(self, key):
        with self.lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key, plan, nbytes):
        """Keep ``plan`` (of about ``nbytes``) under ``key``, evicting the oldest beyond the limit."""
        evicted = []  # freed after the lock is released
        with self.lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.nbytes -= old[1]
                evicted.append(old)
            if CACHE_LIMIT > 0:
                self._items[key] = (plan, nbytes)
                self.nbytes += nbytes
            while self.nbytes > CACHE_LIMIT and self._items and next(iter(self._items)) != key:
                _, item = self._items.popitem(last=False)
                self.nbytes -= item[1]
                evicted.append(item)
        del evicted

    def clear(self) -> int:
        """Drop every plan; returns the estimated bytes they held."""
        with self.lock:
            items, self._items = self._items, collections.OrderedDict()
            freed, self.nbytes = self.nbytes, 0
        del items
        return freed

    def plans(self) -> list:
        with self.lock:
            return [plan for plan, _ in self._items.values()]

    def __len__(self):
        return len(self._items)

    def _after_fork_in_child(self, free=True):
        """A forked child's cache: a fresh lock, and no plans (freed, or left alone when not ``free``)."""
        self.lock = threading.Lock()
        items, self._items, self.nbytes = self._items, collections.OrderedDict(), 0
        if not free:
            _INHERITED.append(items)  # never destroyed here: see engines.fft's pyFFTW notes


_INHERITED: list = []  # plans a forked child must not free
_LIVE = weakref.WeakSet()  # every descriptor not yet freed, cached or evicted
#: The committed descriptors, by key.
_PLANS = PlanCache("mkl")


def _descriptor_bytes(kind, lengths, precision):
    """An estimate of one descriptor's memory (MKL's tables and buffers).

    Measured with MKL 2026.2 (RSS added by committing one descriptor, 1-D, in MB per
    million points): c2c double 2^20 40, 2^20+1 (= 17 x 61681) 202, 1000003 (prime) 82;
    single precision about half; r2c and c2r about the c2c's of that length. Lengths
    with a prime factor above 64 take MKL's Bluestein path and several times the memory.
    """
    n = 1
    for m in lengths:
        n *= m
    unit = 16 if precision == _DOUBLE else 8  # one complex element
    smooth = all(_largest_prime_factor(m) <= 64 for m in lengths)
    return (3 if smooth else 12) * n * unit + 4096


def _largest_prime_factor(n):
    largest, p = 1, 2
    while p * p <= n:
        while n % p == 0:
            largest, n = p, n // p
        p += 1
    return max(largest, n)


def _candidates():
    names = ("libmkl_rt.so*", "libmkl_rt*.dylib", "mkl_rt*.dll")
    folders = [os.path.join(sys.prefix, "lib"), os.path.join(sys.prefix, "Library", "bin")]
    folders += [f for f in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep) if f]
    for folder in folders:
        for name in names:
            yield from sorted(glob.glob(os.path.join(folder, name)))
    yield "libmkl_rt.so.2"
    yield "libmkl_rt.so"


def load() -> ctypes.CDLL | None:
    """The MKL runtime library, or ``None`` when it is not installed.

    Examples
    --------
    >>> from pullback.engines import mkl as fft_mkl
    >>> lib = fft_mkl.load()  # None without ``pip install mkl``
    """
    global _lib
    if _lib is None:
        _lib = False
        for path in _candidates():
            try:
                lib = ctypes.CDLL(path)
                lib.DftiCreateDescriptor  # noqa: B018 - the symbol must be there
            except (OSError, AttributeError):
                continue
            lib.DftiErrorMessage.restype = ctypes.c_char_p
            lib.DftiErrorMessage.argtypes = [_Long]
            _lib = lib
            break
    return _lib or None


def _check(status):
    if status:
        raise RuntimeError("MKL DFTI: " + _lib.DftiErrorMessage(status).decode())


class _Plan:
    """A committed DFTI descriptor."""

    def __init__(self, precision, domain, lengths, in_strides, out_strides, batch, scale, forward, threads,
                 destroy, inplace=False):
        lib = _lib
        self.handle = handle = ctypes.c_void_p()
        # one dimension: the length itself; more: a pointer to the lengths
        dims = _Long(lengths[0]) if len(lengths) == 1 else (_Long * len(lengths))(*lengths)
        _check(lib.DftiCreateDescriptor(ctypes.byref(handle), ctypes.c_int(precision), ctypes.c_int(domain),
                                        _Long(len(lengths)), dims))
        setv = lib.DftiSetValue
        _check(setv(handle, ctypes.c_int(_PLACEMENT), ctypes.c_int(_INPLACE if inplace else _NOT_INPLACE)))
        _check(setv(handle, ctypes.c_int(_CONJUGATE_EVEN_STORAGE), ctypes.c_int(_COMPLEX_COMPLEX)))
        _check(setv(handle, ctypes.c_int(_INPUT_STRIDES), (_Long * len(in_strides))(*in_strides)))
        _check(setv(handle, ctypes.c_int(_OUTPUT_STRIDES), (_Long * len(out_strides))(*out_strides)))
        count, in_dist, out_dist = batch
        if count > 1:
            _check(setv(handle, ctypes.c_int(_NUMBER_OF_TRANSFORMS), _Long(count)))
            _check(setv(handle, ctypes.c_int(_INPUT_DISTANCE), _Long(in_dist)))
            _check(setv(handle, ctypes.c_int(_OUTPUT_DISTANCE), _Long(out_dist)))
        if scale != 1.0:
            which = _FORWARD_SCALE if forward else _BACKWARD_SCALE
            _check(setv(handle, ctypes.c_int(which), ctypes.c_double(scale)))
        _check(setv(handle, ctypes.c_int(_THREAD_LIMIT), ctypes.c_int(threads)))
        if destroy:  # the input is a scratch copy: DFTI may work in it
            _check(setv(handle, ctypes.c_int(_DESTROY_INPUT), ctypes.c_int(_ALLOW)))
        _check(lib.DftiCommitDescriptor(handle))
        self.compute = lib.DftiComputeForward if forward else lib.DftiComputeBackward
        self.inplace = inplace
        self.lock = threading.Lock()  # a descriptor serves one thread at a time
        with _PLANS.lock:  # so that a fork waits for its transforms, cached or not
            _LIVE.add(self)

    def __call__(self, x, out):
        src = ctypes.c_void_p(x.ctypes.data)
        with self.lock:
            if self.inplace:  # out is x
                status = self.compute(self.handle, src)
            else:
                status = self.compute(self.handle, src, ctypes.c_void_p(out.ctypes.data))
        _check(status)
        return out

    def __del__(self):
        if _lib and self.handle:
            _lib.DftiFreeDescriptor(ctypes.byref(self.handle))


def _elements(shape, strides, itemsize):
    """Strides in elements, or None for layouts DFTI cannot take (negative, unaligned, broadcast)."""
    if any(s % itemsize or s < 0 or (s == 0 and n > 1) for n, s in zip(shape, strides)):
        return None
    return [s // itemsize for s in strides]


def _batch(shape, in_strides, out_strides, axes):
    """(count, input distance, output distance) of the non-transformed axes, or None."""
    rest = [a for a in range(len(shape)) if a not in axes and shape[a] != 1]
    if not rest:
        return 1, 0, 0
    for first, second in zip(rest, rest[1:]):  # collapse into one batch dimension
        for st in (in_strides, out_strides):
            if st[first] != st[second] * shape[second]:
                return None
    count = 1
    for a in rest:
        count *= shape[a]
    return count, in_strides[rest[-1]], out_strides[rest[-1]]


_DOMAIN = {"c2c": _COMPLEX, "r2c": _REAL, "c2r": _REAL}


def transform(
    kind: str, x: np.ndarray, s: tuple, axes: tuple, forward: bool, inorm: int, threads: int,
    scratch: bool = False, factor: float = 1,
) -> np.ndarray | None:
    """``kind`` ("c2c", "r2c", "c2r") of ``x`` (already cropped or padded to ``s``), or None.

    ``s`` are the transform lengths (for c2r, of the real output), ``inorm``
    pocketfft's normalisation code, ``factor`` a further scale; ``scratch=True``
    allows overwriting ``x`` (a complex c2c then transforms in place and returns
    ``x``). ``None`` means DFTI cannot describe this layout.
    """
    if len(set(axes)) != len(axes) or x.size == 0 or not x.flags.aligned:
        return None
    n = 1
    for m in s:
        n *= m
    scale = (1.0, n**-0.5, 1.0 / n)[inorm] * factor
    if kind != "r2c" and x.dtype.kind == "f":  # a complex transform of real data
        x = x.astype(np.result_type(x.dtype, np.complex64))
    if kind == "c2r" and len(axes) > 1:
        return _c2r_nd(x, s, axes, scale, threads, scratch and x.flags.writeable)
    inplace = scratch and kind == "c2c" and x.flags.writeable  # x is ours (a cast made a copy anyway)
    return _compute(kind, x, s, axes, forward, scale, threads, inplace=inplace)


def _c2r_nd(x, s, axes, scale, threads, mine):
    """NumPy's irfftn of ``x`` (overwriting it when ``mine``), or None.

    DFTI's n-d c2r takes a conjugate-even input, which a cotangent need not be.
    NumPy's irfftn is ifftn over the leading axes, then irfft, which drops the
    imaginary parts of its first and Nyquist bins. Either way computes exactly
    that: :func:`_c2r_columns` literally (as PyTorch does on MKL), or
    :func:`_c2r_projected`, one n-d c2r of the input with those edge planes
    replaced by their conjugate-even parts. :func:`_c2r_way` picks one by a fixed
    rule (it was timed on first use, so two runs could differ in their last bits).
    """
    return _c2r_way(x, axes, mine)(x, s, axes, scale, threads, mine)


def _c2r_way(x, axes, mine):
    """:func:`_c2r_projected` for a 2-d c2r whose leading c2c cannot run as one DFTI call
    (its batch axes do not collapse, so it runs slice by slice), else :func:`_c2r_columns`.

    Measured (MKL 2026.2, 2-core Xeon VM, best of 25, one and two threads): projected
    was faster on 16x256x129 complex64 over axes (1, 2) (W2: 7.0 against 8.2 ms with two
    threads, 8.1 against 9.6 with one) and 3x128x49 (0.23 against 0.28 ms); columns
    on 8x64x64x33 over (1, 2, 3) (17.5 against 36 ms), 256x129 (0.50 against 0.68 ms)
    and 64x64x33 (2.1 against 10.8 ms).
    """
    in_strides = _elements(x.shape, x.strides, x.itemsize)
    if in_strides is None:  # the columns' c2c cannot take it either
        return _c2r_projected
    if len(axes) != 2:
        return _c2r_columns
    if mine:
        out_strides = in_strides
    else:  # a fresh C-contiguous intermediate
        out_strides, step = [0] * x.ndim, 1
        for a in reversed(range(x.ndim)):
            out_strides[a], step = step, step * x.shape[a]
    return _c2r_columns if _batch(x.shape, in_strides, out_strides, axes[:-1]) else _c2r_projected


def _c2r_columns(x, s, axes, scale, threads, mine):
    """The inverse c2c over the leading axes (into a fresh array, or in ``x`` when
    ``mine``), then a 1-D c2r that may overwrite that intermediate."""
    mid = _c2c_leading(x, s[:-1], axes[:-1], threads, mine)
    if mid is None:  # a layout the c2c cannot take
        return _c2r_projected(x, s, axes, scale, threads, mine)
    return _compute("c2r", mid, s[-1:], axes[-1:], False, scale, threads, True)


def _c2r_projected(x, s, axes, scale, threads, mine):
    """One n-d c2r of ``x`` (or of a copy when not ``mine``) with its edge planes made
    conjugate-even."""
    y = _conjugate_even_edges(x if mine else buffers.copy(x), s, axes)
    return _compute("c2r", y, s, axes, False, scale, threads, True)


def _c2c_leading(x, s, axes, threads, in_place):
    """The unnormalised inverse c2c of ``x`` along ``axes`` (in ``x`` when ``in_place``), or None.

    When the other axes do not collapse into one batch, one call per index of the
    outermost of them.
    """
    out = x if in_place else buffers.empty(x.shape, x.dtype)
    if _compute("c2c", x, s, axes, False, 1.0, threads, inplace=in_place, out=out) is not None:
        return out
    rest = [a for a in range(x.ndim) if a not in axes]
    if not rest or rest[0] != 0:
        return None
    inner = tuple(a - 1 for a in axes)
    count = x.shape[0]

    def slices(worker, start, stop):  # x[i] share one layout: if the first call can run (it
        # returns None before touching anything when it cannot), every one can
        for i in range(start, stop):
            done = _compute("c2c", x[i], s, inner, False, 1.0, 1, inplace=in_place, out=out[i], slot=worker)
            if done is None:
                return False
        return True

    workers = min(threads, count)
    if workers < 2:
        return out if slices(0, 0, count) else None
    # MKL does not spread one strided slice over threads with any gain, so the slices are
    # shared out among Python threads instead (ctypes releases the GIL during each call),
    # each with its own single-threaded descriptors
    if not slices(0, 0, 1):
        return None
    bounds = [1 + (count - 1) * w // workers for w in range(workers + 1)]
    jobs = _submit(workers - 1, [(slices, w, bounds[w], bounds[w + 1]) for w in range(1, workers)])
    slices(0, bounds[0], bounds[1])
    for job in jobs:
        job.result()
    return out


_POOL = None
_POOL_SIZE = 0


def _submit(size, calls):
    """Futures of ``calls`` (each ``(function, *args)``) on a kept pool of at least ``size`` threads.

    The pool is found (grown: replaced by a larger one) and the calls submitted under
    one lock: another thread that replaces the pool, and shuts the old one down, does
    so before or after these submissions, never between (which raised "cannot
    schedule new futures after shutdown"). A shut-down pool still runs the calls
    already submitted to it, then its threads end.
    """
    global _POOL, _POOL_SIZE
    with _lock:
        if _POOL_SIZE < size:
            if _POOL is not None:
                _POOL.shutdown(wait=False)
            _POOL = concurrent.futures.ThreadPoolExecutor(size, thread_name_prefix="pullback-mkl")
            _POOL_SIZE = size
        return [_POOL.submit(*call) for call in calls]


def _forget_pool():  # a forked child has the pool's object but not its threads
    global _POOL, _POOL_SIZE
    _POOL, _POOL_SIZE = None, 0


def clear() -> int:
    """Free every cached descriptor; returns the estimated bytes freed."""
    return _PLANS.clear()


def cache_info() -> dict:
    """The descriptor cache's size: ``{"plans": count, "bytes": estimate, "limit": bytes}``."""
    return {"plans": len(_PLANS), "bytes": _PLANS.nbytes, "limit": CACHE_LIMIT}


_held_at_fork: list = []


def _before_fork():
    """Take every lock, so that no transform or pool change is under way while the process forks.

    The cache's lock first (no descriptor is added or evicted meanwhile), then the
    pool's, then each cached descriptor's: a thread inside a transform holds only
    its descriptor's lock, which it releases when the transform ends.
    """
    _PLANS.lock.acquire()
    _lock.acquire()
    held = [plan.lock for plan in list(_LIVE)]
    for lock in held:
        lock.acquire()
    _held_at_fork[:] = held


def _after_fork_in_parent():
    for lock in _held_at_fork:
        lock.release()
    _held_at_fork.clear()
    _lock.release()
    _PLANS.lock.release()


def _after_fork_in_child():
    global _lock, _LIVE
    _held_at_fork.clear()
    _LIVE = weakref.WeakSet()
    _lock = threading.Lock()
    _forget_pool()
    _PLANS._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                        after_in_child=_after_fork_in_child)


def _conjugate_even_edges(y, s, axes):
    """The half spectrum ``y``, its first (and Nyquist) planes made conjugate-even in place."""
    last = axes[-1]
    lead = [a - (a > last) for a in axes[:-1]]  # the leading axes' positions within a plane
    edges = (0, s[-1] // 2) if s[-1] % 2 == 0 else (0,)
    for e in edges:
        index = [slice(None)] * y.ndim
        index[last] = e
        plane = y[tuple(index)]
        mirror = plane
        for a in lead:  # mirror[k] = plane[-k mod n] along every leading axis
            n = plane.shape[a]
            mirror = np.take(mirror, (-np.arange(n)) % n, axis=a)
        plane[...] = 0.5 * (plane + np.conj(mirror))
    return y


def _compute(kind, x, s, axes, forward, scale, threads, destroy=False, inplace=False, out=None, slot=0):
    if kind == "r2c":
        out_dtype = np.result_type(x.dtype, np.complex64)
        out_shape = list(x.shape)
        out_shape[axes[-1]] = s[-1] // 2 + 1
    elif kind == "c2r":
        out_dtype = x.real.dtype
        out_shape = list(x.shape)
        out_shape[axes[-1]] = s[-1]
    else:
        out_dtype, out_shape = x.dtype, list(x.shape)
    in_strides = _elements(x.shape, x.strides, x.itemsize)
    if in_strides is None:  # a layout DFTI cannot take: nothing allocated
        return None
    if inplace:  # c2c: the output takes the input's place and layout
        out, out_strides = x, in_strides
    else:
        if out is None:
            out = buffers.empty(out_shape, out_dtype)  # C-contiguous, so its strides always qualify
        out_strides = _elements(out.shape, out.strides, out.itemsize)
    key = (kind, x.dtype, tuple(x.shape), tuple(in_strides), tuple(out_strides), axes, s, forward, scale,
           threads, destroy, inplace, slot)
    plan = _PLANS.get(key)
    if plan is None:
        batch = _batch(x.shape, in_strides, out_strides, axes)
        if batch is None:
            return None
        precision = _SINGLE if x.dtype in (np.float32, np.complex64) else _DOUBLE
        plan = _Plan(
            precision,
            _DOMAIN[kind],
            list(s),
            [0] + [in_strides[a] for a in axes],
            [0] + [out_strides[a] for a in axes],
            batch,
            scale,
            forward if kind == "c2c" else kind == "r2c",
            threads,
            destroy,
            inplace,
        )
        _PLANS.put(key, plan, _descriptor_bytes(kind, s, precision))
    return plan(x, out)
