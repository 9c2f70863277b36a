"""NumPy's own FFT values, computed faster: ``numpy.fft`` on SciPy's pocketfft kernels.

NumPy 2 and SciPy both transform with pocketfft (the same C++ code: the same plans,
the same twiddle factors, the same order of operations). NumPy runs it one row at a
time behind a generalized ufunc; SciPy's kernels run the same code over several rows
at once (one SIMD lane per row, each lane doing the scalar code's arithmetic) and, for
batches, on several threads. So the kernels give NumPy's bits, faster: a 2^20-point
complex transform took 36 ms here against NumPy's 46, a batch of 16 256x256 float32
images 12 ms (two threads) against 19.

Reproducing NumPy's value takes its exact recipe, step by step:

- the scale factor ``fct`` is NumPy's (``1``, or ``1/n`` / ``1/sqrt(n)`` computed in
  the input's real precision), applied to each real component after the transform, as
  NumPy's pocketfft applies it; SciPy's kernels scale themselves (no extra pass) only where
  a trial on random rows, once per length, dtype and norm, gives those bits (they compute
  their own factor and, for some lengths, apply it elsewhere: 262 = 2 x 131 differed);
- the *loop* NumPy's ufunc runs: with ``fct = 1`` (a Python ``int``) a float32 or
  complex64 input resolves to the double-precision loop, so NumPy computes those
  unscaled transforms in double precision and rounds the result to single; the loop
  is asked of the ufunc itself (``resolve_dtypes``), never assumed;
- lengths: the input is cropped or zero-padded to ``n`` first, as NumPy's loop copies it;
- the N-dimensional functions are NumPy's sequences of one-axis transforms (``fftn``:
  the axes from last to first; ``rfftn``: ``rfft`` of the last axis, then ``fft`` of
  the others from last to first; ``irfftn``: ``ifft`` of all but the last axis, first to
  last, then ``irfft``), each step rounded to NumPy's output dtype.

Whether all this gives NumPy's bits on the NumPy and SciPy at hand is checked once, on
first use, against NumPy's public functions over a battery of lengths (powers of two,
mixed radices, generic radices, Bluestein primes), dtypes, norms, axes and batch sizes;
any difference, or a SciPy whose kernels are not pocketfft's (SciPy 1.18 moved to
ducc0), turns this module off and NumPy's own functions compute the values.

Examples
--------
>>> import numpy as np
>>> from pullback.engines import numpy_exact
>>> x = np.random.default_rng(0).standard_normal((4, 100)).astype(np.float32)
>>> y = numpy_exact.transform("r2c", True, x, (100,), (1,), None)
>>> y is None or np.array_equal(y, np.fft.rfft(x))
True
"""

from __future__ import annotations

import os
import threading

import numpy as np

from . import buffers, workers

try:
    from scipy.fft._pocketfft import helper as _helper
    from scipy.fft._pocketfft import pypocketfft as _pp
except ImportError:  # pragma: no cover - SciPy without pocketfft (1.18 uses ducc0's kernels)
    _pp = _helper = None

_PFU = getattr(np.fft, "_pocketfft_umath", None)  # NumPy >= 2
_DTYPES = frozenset(map(np.dtype, ("float32", "float64", "complex64", "complex128")))
_CPUS = os.cpu_count() or 1
#: Transforms of at least this many elements use every core (as pullback's engine does).
PARALLEL_SIZE = 1 << 16

_lock = threading.Lock()
_state: list = []  # [True] once the battery passed, [False] when it failed
_SWAPPED = {"forward": "backward", "backward": "forward", None: "forward", "ortho": "ortho"}
_loops: dict = {}  # (ufunc name, input dtype, fct key) -> (loop input dtype, loop output dtype)


def numpy_factor(n: int, norm, forward: bool, dtype: np.dtype):
    """NumPy's ``_raw_fft`` scale factor, computed as NumPy computes it (``1``, a Python int,
    when unscaled: that makes NumPy's ufunc choose its float64 loop for float32 inputs)."""
    if not forward:
        norm = _SWAPPED[norm]
    if norm is None or norm == "backward":
        return 1
    real = np.result_type(dtype.type(0).real.dtype, 1.0)
    if norm == "ortho":
        return np.reciprocal(np.sqrt(n, dtype=real))
    return np.reciprocal(n, dtype=real)


def _ufunc(kind: str, forward: bool, n: int):
    if kind == "c2c":
        return _PFU.fft if forward else _PFU.ifft
    if kind == "r2c":
        return _PFU.rfft_n_even if n % 2 == 0 else _PFU.rfft_n_odd
    return _PFU.irfft


def _loop(ufunc, dtype: np.dtype, fct) -> tuple:
    """The dtypes of the loop NumPy's ufunc runs for ``dtype`` and ``fct``: (input, output)."""
    fkey = int if type(fct) is int else fct.dtype
    key = (ufunc.__name__, dtype, fkey)
    got = _loops.get(key)
    if got is None:
        resolved = ufunc.resolve_dtypes((dtype, fkey, None))
        got = _loops[key] = (resolved[0], resolved[2])
    return got


def _fit(x: np.ndarray, n: int, axis: int) -> np.ndarray:
    """``x`` cropped or zero-padded to ``n`` along ``axis`` (what NumPy's loop copies)."""
    m = x.shape[axis]
    if m == n:
        return x
    if m > n:
        return x[(slice(None),) * axis + (slice(0, n),)]
    shape = list(x.shape)
    shape[axis] = n
    out = np.zeros(shape, dtype=x.dtype)
    out[(slice(None),) * axis + (slice(0, m),)] = x
    return out


def _threads(size: int) -> int:
    chosen = workers.chosen()
    if chosen is not None:  # inside scipy.fft.set_workers
        return max(1, _helper._workers(chosen))
    return _CPUS if size >= PARALLEL_SIZE else 1


def _one(kind: str, forward: bool, x: np.ndarray, n: int, axis: int, norm, out_dtype: np.dtype,
         out: np.ndarray | None, owned: bool = False) -> np.ndarray:
    """One NumPy one-axis transform (``fft``/``ifft``/``rfft``/``irfft``) of ``x`` along ``axis``.

    ``owned``: ``x`` is this module's own temporary (a complex-to-complex step may then run in
    its memory). Large results go to 2 MiB-aligned blocks of the block cache (no page faults)."""
    fct = numpy_factor(n, norm, forward, x.dtype)
    loop_in, loop_out = _loop(_ufunc(kind, forward, n), x.dtype, fct)
    a = _fit(x, n // 2 + 1 if kind == "c2r" else n, axis)
    mine = owned or (a is not x and a.base is None)  # zero-padded: a fresh array
    if a.dtype != loop_in:
        a, mine = a.astype(loop_in), True
    inorm = 0
    if type(fct) is not int:
        inorm = _INORM[norm if forward else _SWAPPED[norm]]
        if not _scales_alike(kind, forward, n, loop_in, inorm, fct):
            inorm = 0
    shape = list(a.shape)
    shape[axis] = n // 2 + 1 if kind == "r2c" else n
    if out is not None and out.dtype == loop_out:
        dest = out
    elif kind == "c2c" and mine and a.dtype == loop_out and a.flags.writeable:
        dest = a  # in place: pocketfft copies each line out before transforming it
    else:
        dest = _empty(tuple(shape), loop_out)
    threads = _threads(a.size)
    if kind == "c2c":
        y = _pp.c2c(a, (axis,), forward, inorm, dest, threads)
    elif kind == "r2c":
        y = _pp.r2c(a, (axis,), True, inorm, dest, threads)
    else:
        y = _pp.c2r(a, (axis,), n, False, inorm, dest, threads)
    if type(fct) is not int and inorm == 0:  # as NumPy's pocketfft scales: each real component times fct
        _times(y, fct)
    if y.dtype == out_dtype:
        return y
    cast = out if out is not None else _empty(y.shape, out_dtype)
    if cast is None:
        return y.astype(out_dtype)
    np.copyto(cast, y, casting="same_kind")
    return cast


_INORM = {"ortho": 1, "forward": 2}
_alike: dict = {}  # (kind, forward, n, loop dtype, inorm, fct dtype) -> bool


def _times(y: np.ndarray, fct) -> np.ndarray:
    """``y`` with each real component multiplied by ``fct`` (in ``y``'s precision), in place."""
    if y.dtype.kind == "c":
        f = y.real.dtype.type(fct)
        np.multiply(y.real, f, out=y.real)
        np.multiply(y.imag, f, out=y.imag)
    else:
        np.multiply(y, y.dtype.type(fct), out=y)
    return y


def _empty(shape: tuple, dtype: np.dtype):
    """An aligned block for a large result, else None (pocketfft allocates it)."""
    size = dtype.itemsize
    for m in shape:
        size *= m
    return buffers.empty(shape, dtype) if size >= buffers.ALIGNED_SIZE else None


def _scales_alike(kind: str, forward: bool, n: int, loop_in: np.dtype, inorm: int, fct) -> bool:
    """Whether pocketfft's own scaling (``inorm``) gives the bits of NumPy's ``fct`` applied last.

    SciPy's kernels compute their factor themselves and, for some lengths, apply it inside
    the transform (262 = 2 x 131 differed): so each (length, dtype, scaling) is tried once
    on random rows, against the unscaled transform times NumPy's factor."""
    key = (kind, forward, n, loop_in, inorm, np.asarray(fct).dtype)
    ok = _alike.get(key)
    if ok is None:
        rng = np.random.default_rng(n)
        m = n // 2 + 1 if kind == "c2r" else n
        probe = rng.standard_normal((5, m)).astype(loop_in)
        if probe.dtype.kind == "c":
            probe = probe + 1j * rng.standard_normal((5, m)).astype(probe.real.dtype)
        if kind == "c2c":
            run = lambda k: _pp.c2c(probe, (1,), forward, k, None, 1)  # noqa: E731
        elif kind == "r2c":
            run = lambda k: _pp.r2c(probe, (1,), True, k, None, 1)  # noqa: E731
        else:
            run = lambda k: _pp.c2r(probe, (1,), n, False, k, None, 1)  # noqa: E731
        want = _times(run(0), fct)
        ok = run(inorm).tobytes() == want.tobytes()
        if len(_alike) < 4096:
            _alike[key] = ok
    return ok


def _out_dtype(kind: str, x: np.ndarray) -> np.dtype:
    if kind == "c2r":
        return np.result_type(x.real.dtype, 1.0)
    return np.result_type(x.dtype, 1j)


def transform(kind: str, forward: bool, x, s: tuple, axes: tuple, norm, out=None):
    """NumPy's value of a ``numpy.fft`` transform: ``kind`` ``"c2c"`` (``fftn``/``ifftn``,
    one axis or several), ``"r2c"`` (``rfftn``) or ``"c2r"`` (``irfftn``); lengths ``s``
    along ``axes`` (normalised: non-negative axes, lengths >= 1). ``out``: an array for the
    result (NumPy's dtype and shape), or None.

    None when this module cannot promise NumPy's bits (not a plain array of a supported
    dtype, NumPy 1.x, SciPy's kernels not pocketfft's, or the battery failed): the caller
    then runs NumPy's own function.
    """
    if (type(x) is not np.ndarray or x.dtype not in _DTYPES or not x.flags.aligned or not x.size
            or (kind == "r2c" and x.dtype.kind != "f") or not available()):
        return None
    return _transform(kind, forward, x, s, axes, norm, out)


def _transform(kind, forward, x, s, axes, norm, out=None):
    last = len(axes) - 1
    if kind == "c2c":
        order = range(last, -1, -1)
    elif kind == "r2c":
        order = [last, *range(last - 1, -1, -1)]
    else:
        order = range(last + 1)
    y = x
    for step, i in enumerate(order):
        own = kind == "c2c" or (kind == "r2c" and step == 0) or (kind == "c2r" and i == last)
        step_kind = kind if own else "c2c"
        step_forward = forward if kind == "c2c" else kind == "r2c"
        final = step == len(axes) - 1
        y = _one(step_kind, step_forward, y, s[i], axes[i], norm, _out_dtype(step_kind, y),
                 out if final else None, owned=step > 0)
    return y


def available() -> bool:
    """Whether this module gives NumPy's bits here (the battery runs once, on first call)."""
    if _state:
        return _state[0]
    with _lock:
        if not _state:
            _state.append(_battery())
    return _state[0]


def _battery() -> bool:
    if _pp is None or _PFU is None or np.lib.NumpyVersion(np.__version__) < "2.0.0":
        return False
    rng = np.random.default_rng(1234)
    # every pocketfft code path: radix 2/3/4/5/7/11 passes, a generic radix (13, 17), Bluestein
    # (1031, 4099: large primes), length 1, odd and even real lengths
    lengths = (1, 2, 7, 8, 30, 97, 243, 256, 221, 262, 1000, 1031, 4099)
    norms = (None, "ortho", "forward")
    i = 0
    try:
        for dtype in (np.float32, np.float64, np.complex64, np.complex128):
            kinds = [("c2c", True, np.fft.fft), ("c2c", False, np.fft.ifft), ("c2r", False, np.fft.irfft)]
            if np.dtype(dtype).kind == "f":
                kinds.append(("r2c", True, np.fft.rfft))
            for n in lengths:
                x = _sample(rng, (3, n), dtype)
                for kind, forward, public in kinds:
                    for norm in norms:
                        i += 1
                        m = (n, n + 3, max(1, n - 1))[i % 3]
                        axis, a = ((1, x), (0, x.T))[i % 2]
                        want = public(a, m, axis, norm)
                        if not _same(_transform(kind, forward, a, (m,), (axis,), norm), want):
                            return False
            x = _sample(rng, (6, 10, 9), dtype)
            nd = [("c2c", True, np.fft.fftn), ("c2c", False, np.fft.ifftn), ("c2r", False, np.fft.irfftn)]
            if np.dtype(dtype).kind == "f":
                nd.append(("r2c", True, np.fft.rfftn))
            for kind, forward, public in nd:
                plans = (((10, 9), (1, 2)), ((6, 12, 8), (0, 1, 2)), ((5, 9), (2, 0)))
                for norm, (s, axes) in zip(norms, plans):
                    if not _same(_transform(kind, forward, x, s, axes, norm), public(x, s, axes, norm)):
                        return False
    except Exception:  # noqa: BLE001 - another NumPy or SciPy: NumPy's own functions serve
        return False
    return True


def _sample(rng, shape, dtype) -> np.ndarray:
    x = rng.standard_normal(shape).astype(dtype)
    if x.dtype.kind == "c":
        x = x + 1j * rng.standard_normal(shape).astype(x.real.dtype)
    return x


def _same(got, want) -> bool:
    return got.dtype == want.dtype and got.shape == want.shape and got.tobytes() == want.tobytes()
