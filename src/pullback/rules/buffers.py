"""Large arrays on 2 MiB boundaries, where Linux backs them with huge pages.

NumPy asks the kernel for transparent huge pages on every allocation of 4 MiB
or more (``madvise``), but malloc's blocks start anywhere: only the 2 MiB-aligned
middle of a block can get huge pages, and its ragged ends fault in 4 KiB at a
time. A gradient allocates several large arrays per call, and in a VM each small
page fault costs microseconds: W1's gradient (2^20 complex points) took ~1,000
small faults per call and ran 59 ms; with its arrays aligned, ~30 faults and
43-50 ms (the FFTs also run faster with fewer TLB misses).

:func:`empty` returns a view, aligned to 2 MiB, into a slightly larger block;
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

import sys
from typing import Any

import numpy as np

#: The huge page size the arrays are aligned to.
HUGE_PAGE = 1 << 21
#: Arrays of at least this many bytes are aligned (NumPy's own threshold for asking for huge pages).
ALIGNED_SIZE = HUGE_PAGE
#: Whether aligning can help: Linux, where NumPy asks for transparent huge pages.
ENABLED = sys.platform.startswith("linux")
_SCALARS = (int, float, complex, np.generic)
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
    block = np.empty(n + HUGE_PAGE, np.uint8)
    start = -block.ctypes.data % HUGE_PAGE
    return block[start : start + n].view(dtype).reshape(shape)


def copy(x: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of ``x`` (aligned when large)."""
    out = empty(x.shape, x.dtype)
    np.copyto(out, x)
    return out


def call(ufunc: np.ufunc, args: tuple) -> Any:
    """``ufunc(*args)``; a large output of a one-output ufunc on NumPy operands is aligned."""
    if not ENABLED or ufunc.nout != 1:
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
    shape = np.broadcast_shapes(*shapes)
    # the dtype NumPy's own call gives, from one-element views (0-d arrays as they are)
    probe = ufunc(*[a[(slice(0, 1),) * a.ndim] if type(a) is np.ndarray and a.ndim else a for a in args])
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
