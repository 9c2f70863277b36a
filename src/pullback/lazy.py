"""Dask arrays: what the rules need beyond NumPy's protocols to keep a gradient a lazy task graph.

Rules call the NumPy API on raw values, so a Dask array builds a Dask graph for the
forward pass and for every pullback, with no pullback code inside the graph except
the three block functions below (module-level, so a graph pickles to worker processes).
Three things need help:

- **Transforms along a split axis.** ``dask.array.fft`` transforms an axis only when it
  is one chunk. :func:`whole_along` rechunks the transformed axes to one chunk each
  and splits the other axes instead, so that no block grows beyond the larger of the
  input's largest block and Dask's ``array.chunk-size``. *Cost*: a rechunk is an
  all-to-all exchange: every element moves once (and, on a cluster, crosses the
  network once) for the forward transform and once more for its adjoint, and the
  gradient is rechunked back to its argument's chunks (:func:`match_chunks`), one more
  exchange. A stack of images chunked along the stack axis, transformed over the image
  axes, moves nothing.
- **DCT, DST and Hankel transforms**, which Dask does not implement: ``scipy.fft`` of a
  Dask array would convert it to NumPy (eager, all in memory). :func:`r2r` and
  :func:`fht` map SciPy's own function over the blocks, after :func:`whole_along`.
- **Chunks of gradients.** ``pb.gradient``, ``pb.pullback`` and ``pb.hvp`` give each
  Dask argument a gradient with the argument's own chunks; ``pb.jvp`` gives the output
  tangent the output's chunks.

pullback's reuse tricks for NumPy arrays (the block cache of :mod:`pullback.engines.buffers`,
cotangents overwritten in place, multithreaded transforms) test ``type(x) is np.ndarray``
and so never apply to a Dask graph; inside the graph, blocks are transformed by NumPy's
and SciPy's public functions on one thread per task (Dask's workers supply the parallelism).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def is_dask(x: Any) -> bool:
    """Whether ``x`` is a Dask array (without importing Dask)."""
    return type(x).__module__.startswith("dask.") and hasattr(x, "chunks")


def whole_along(x: Any, axes) -> Any:
    """``x`` rechunked so that each axis of ``axes`` is one chunk (itself when it already is).

    The other axes take Dask's automatic chunking, with blocks no larger than the larger of
    ``x``'s largest block and Dask's ``array.chunk-size``.
    """
    axes = [a % x.ndim for a in axes]
    if all(len(x.chunks[a]) == 1 for a in axes):
        return x
    import dask

    block = x.dtype.itemsize * math.prod(max(c) if c else 0 for c in x.chunks)
    limit = max(block, dask.utils.parse_bytes(dask.config.get("array.chunk-size")))
    spec = {a: (-1 if a in axes else "auto") for a in range(x.ndim)}
    return x.rechunk(spec, block_size_limit=limit)


def match_chunks(g: Any, x: Any) -> Any:
    """The Dask array ``g`` with the chunks of the Dask array ``x`` of the same shape."""
    if is_dask(g) and is_dask(x) and g.shape == x.shape and g.chunks != x.chunks:
        return g.rechunk(x.chunks)
    return g


def _r2r_block(block, kind, type, axes, norm, orthogonalize):
    """SciPy's ``{kind}n`` of one block (every transformed axis whole in it)."""
    import scipy.fft

    kw = {} if orthogonalize is None else {"orthogonalize": orthogonalize}
    return getattr(scipy.fft, kind + "n")(block, type, axes=axes, norm=norm, **kw)


def r2r(x: Any, kind: str, type: int, axes, norm, orthogonalize) -> Any:
    """``scipy.fft.{kind}n`` of the Dask array ``x`` (already of the transform's lengths), lazily."""
    x = whole_along(x, axes)
    dtype = np.result_type(x.dtype, np.float32)
    return x.map_blocks(_r2r_block, kind, type, tuple(axes), norm, orthogonalize, dtype=dtype,
                        meta=np.empty((0,) * x.ndim, dtype))


def _fht_block(block, inverse, dln, mu, offset, bias):
    import scipy.fft

    return (scipy.fft.ifht if inverse else scipy.fft.fht)(block, dln, mu, offset=offset, bias=bias)


def fht(x: Any, inverse: bool, dln, mu, offset, bias) -> Any:
    """``scipy.fft.fht`` (or ``ifht``) along the last axis of the Dask array ``x``, lazily."""
    x = whole_along(x, (-1,))
    dtype = np.result_type(x.dtype, np.float32)
    return x.map_blocks(_fht_block, inverse, dln, mu, offset, bias, dtype=dtype,
                        meta=np.empty((0,) * x.ndim, dtype))
