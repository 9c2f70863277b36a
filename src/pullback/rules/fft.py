"""Rules: numpy.fft — one family of linear primitives for every transform.

Three primitives carry the whole family, as in JAX's ``lax.fft``:

- ``c2c(x, s, axes, norm, forward)``: complex-to-complex (fft, ifft, fftn, ...);
- ``r2c(x, s, axes, norm)``: real-to-half-spectrum (rfft, rfftn; ihfft is its conjugate);
- ``c2r(x, s, axes, norm)``: half-spectrum-to-real (irfft, irfftn; hfft of the conjugate);

plus ``resize`` (the crop / zero-pad that ``n`` and ``s`` imply). Each is
declared linear with its adjoint, so forward mode comes from the same
declaration; each adjoint is one transform of the same size and kind, built
from these primitives, so it is differentiable in turn (any order):

- c2c(norm)^*   = c2c(opposite direction, swapped norm), then resize back;
- r2c(norm)^*   = c2r(swapped norm) of the cotangent with interior bins halved;
- c2r(norm)^*   = r2c(swapped norm) of the cotangent, interior bins doubled.

``norm="backward"`` and ``"forward"`` swap; ``"ortho"`` is its own adjoint.
No pullback keeps its input alive. A cotangent that is constant along the
transformed axes (a stride-0 view, as ``sum`` produces) transforms to a delta
at frequency 0 in O(N), without an FFT.

On NumPy arrays the transforms run through ``scipy.fft`` (pocketfft with
native float32, ``workers``, and whatever backend ``scipy.fft.set_backend``
selected); on other array types (CuPy, Dask) through their own ``numpy.fft``.
"""

from __future__ import annotations

import math
import operator
import os
import warnings

import numpy as np

from ..core import strip
from ..engines import buffers, numpy_exact
from ..engines import fft as engine
from .registry import defcomposite, deflinear, defnondiff

_NORMS = (None, "backward", "ortho", "forward")
_SWAP = {None: "forward", "backward": "forward", "forward": "backward", "ortho": "ortho"}


def swap_norm(norm):
    """The norm of the adjoint transform: backward <-> forward, ortho stays."""
    return _SWAP[norm]


def _scale(norm, forward: bool, n: int) -> float:
    """The factor a transform of ``n`` points with this norm applies."""
    if norm == "ortho":
        return 1 / math.sqrt(n)
    if (norm == "forward") == forward:
        return 1 / n
    return 1.0


def _complex_dtype(dtype):
    return np.result_type(dtype, np.complex64)


# ---------------------------------------------------------------- the engine (plain arrays)


def _constant_along(x, axes) -> bool:
    """A NumPy view that does not vary along ``axes`` (a broadcast constant, e.g. from ``sum``)."""
    if type(x) is not np.ndarray:
        return False
    strides = x.strides
    for a in axes:
        if strides[a] != 0:
            return False
    return x.size > 1


def _delta(x, axes, out_lengths, factor):
    """Transform of a constant along ``axes``: zeros, with ``factor * x`` at frequency 0."""
    shape = list(x.shape)
    for a, n in zip(axes, out_lengths):
        shape[a] = n
    out = np.zeros(shape, dtype=_complex_dtype(x.dtype))
    zero = tuple(slice(0, 1) if a in axes else slice(None) for a in range(x.ndim))
    out[zero] = x[zero] * factor
    return out


def c2c_raw(x, s, axes, norm, forward, workers=None):
    return engine.c2c(x, s, axes, norm, forward, workers)


def r2c_raw(x, s, axes, norm, workers=None):
    return engine.r2c(x, s, axes, norm, workers)


# A cotangent constant along the transformed axes (sum's pullback hands one down) transforms
# to a delta in O(N). The adjoints test for it on plain cotangents; the forward transforms
# (user data, where it is rare) do not pay for the test.


def _c2c_cotangent(g, s, axes, norm, forward, workers, scratch=False):
    if 0 in g.strides and _constant_along(g, axes) and all(g.shape[a] == n for a, n in zip(axes, s)):
        n = math.prod(s)
        return _delta(g, axes, s, n * _scale(norm, forward, n))
    return engine.c2c(g, s, axes, norm, forward, workers, scratch)


def _r2c_cotangent(g, s, axes, norm, workers, factor=1):
    if 0 in g.strides and _constant_along(g, axes) and all(g.shape[a] == n for a, n in zip(axes, s)):
        n = math.prod(s)
        half = list(s[:-1]) + [s[-1] // 2 + 1]
        return _delta(g, axes, half, n * _scale(norm, True, n) * factor)
    return engine.r2c(g, s, axes, norm, workers, factor)


def c2r_raw(x, s, axes, norm, workers=None):
    return engine.c2r(x, s, axes, norm, workers)


def resize_raw(x, axes, lengths):
    """Crop or zero-pad ``x`` at the end of each axis in ``axes`` to ``lengths``."""
    crop = [slice(None)] * x.ndim
    pad = False
    for a, n in zip(axes, lengths):
        if n < x.shape[a]:
            crop[a] = slice(0, n)
        elif n > x.shape[a]:
            pad = True
    y = x[tuple(crop)]
    if not pad:
        return y
    shape = list(y.shape)
    for a, n in zip(axes, lengths):
        shape[a] = n
    out = np.zeros_like(y, shape=tuple(shape))
    out[tuple(slice(0, m) for m in y.shape)] = y
    return out


# ---------------------------------------------------------------- adjoints


_WEIGHTS: dict = {}


def _bin_weights(g, axis, n, interior):
    """Per-bin factors along ``axis`` of a half spectrum of an ``n``-point real signal."""
    if type(g) is np.ndarray:  # the common case: the cached weights, found without strip's call
        w = _WEIGHTS.get((np.ndarray, g.dtype, g.ndim, axis, n, interior))
        if w is not None:
            return w
    plain = strip(g)
    key = (type(plain), plain.dtype, g.ndim, axis, n, interior)
    w = _WEIGHTS.get(key) if type(plain) is np.ndarray else None
    if w is None:
        m = n // 2 + 1
        w = np.ones_like(plain.real, shape=(m,))
        stop = m if n % 2 else m - 1  # bin n/2 of an even length is not interior
        w[1:stop] = interior
        shape = [1] * g.ndim
        shape[axis] = m
        w = w.reshape(shape)
        if type(plain) is np.ndarray and len(_WEIGHTS) < 256:
            w.flags.writeable = False
            _WEIGHTS[key] = w
    return w


def _resize_back(g, shape, axes):
    gshape = g.shape
    for a in axes:
        if gshape[a] != shape[a]:
            return resize(g, axes, [shape[a] for a in axes])
    return g


def c2c_adjoint(g, shape, dtype, s, axes, norm, forward, workers=None):
    transform = _c2c_cotangent if type(g) is np.ndarray else c2c  # plain: no trace to consult
    spec = transform(g, s, axes, _SWAP[norm], not forward, workers)
    return spec if spec.shape == shape else _resize_back(spec, shape, axes)


def c2c_adjoint_in_place(g, shape, dtype, s, axes, norm, forward, workers=None):
    """:func:`c2c_adjoint` of a cotangent the tape owns: the transform may run in ``g``."""
    spec = _c2c_cotangent(g, s, axes, swap_norm(norm), not forward, workers, scratch=True)
    return _resize_back(spec, shape, axes)


c2c_adjoint.in_place = c2c_adjoint_in_place


def _edges(ndim, axis, n):
    """Indices of the bins of a half spectrum along ``axis`` that are not interior (0, and n/2)."""
    index = [slice(None)] * ndim
    index[axis] = slice(0, 1) if n % 2 else slice(0, n // 2 + 1, n // 2)
    return tuple(index)


def _scale_interior(spec, axis, n, factor):
    """A copy of ``spec`` with its interior bins along ``axis`` multiplied by ``factor``.

    A scalar product and a copy of the edge planes: half the time of a product with
    broadcast per-bin weights (complex-by-real, 129 bins: 0.9-1.1 ms vs 0.4-0.6 on W2).
    """
    edges = _edges(spec.ndim, axis, n)
    out = buffers.call(np.multiply, (spec, factor))
    out[edges] = spec[edges]
    return out


#: Half spectra of at least this many elements are scaled by a scalar and their edge planes
#: fixed (a few calls, half the memory traffic); smaller ones by one product with cached weights.
SCALAR_SCALING = 1 << 13


def r2c_adjoint(g, shape, dtype, s, axes, norm, workers=None):
    if type(g) is np.ndarray:  # the half-scaled copy is a plain temporary: the engine may work in it
        if g.size >= SCALAR_SCALING:
            half = _scale_interior(g, axes[-1], s[-1], 0.5)
        else:
            half = g * _bin_weights(g, axes[-1], s[-1], 0.5)
        out = engine.c2r(half, s, axes, _SWAP[norm], workers, scratch=True)
        return out if out.shape == shape else _resize_back(out, shape, axes)
    half = g * _bin_weights(g, axes[-1], s[-1], 0.5)
    return _resize_back(c2r(half, s, axes, swap_norm(norm), workers), shape, axes)


def r2c_adjoint_in_place(g, shape, dtype, s, axes, norm, workers=None):
    """:func:`r2c_adjoint` of a cotangent the tape owns: its interior bins halved in place."""
    if g.size < SCALAR_SCALING or _constant_along(g, axes):
        return r2c_adjoint(g, shape, dtype, s, axes, norm, workers)
    edges = _edges(g.ndim, axes[-1], s[-1])
    kept = g[edges].copy()  # the edge planes (a small fraction)
    g *= 0.5
    g[edges] = kept
    return _resize_back(engine.c2r(g, s, axes, swap_norm(norm), workers, scratch=True), shape, axes)


r2c_adjoint.in_place = r2c_adjoint_in_place


def c2r_adjoint(g, shape, dtype, s, axes, norm, workers=None):
    if type(g) is not np.ndarray:  # traced (higher order): differentiable weights
        spec = r2c(g, s, axes, swap_norm(norm), workers)
        return _resize_back(spec * _bin_weights(spec, axes[-1], s[-1], 2.0), shape, axes)
    if g.size < SCALAR_SCALING:  # the engine's fresh output: ours to scale in place
        spec = _r2c_cotangent(g, s, axes, _SWAP[norm], workers)
        spec = np.multiply(spec, _bin_weights(spec, axes[-1], s[-1], 2.0), spec)
        return spec if spec.shape == shape else _resize_back(spec, shape, axes)
    spec = _r2c_cotangent(g, s, axes, swap_norm(norm), workers, factor=2)  # MKL: the 2 in its scale
    spec[_edges(spec.ndim, axes[-1], s[-1])] *= 0.5  # exact: powers of two
    return _resize_back(spec, shape, axes)


def resize_adjoint(g, shape, dtype, axes, lengths):
    return _resize_back(g, shape, axes)


c2c = deflinear("c2c", c2c_adjoint, raw=c2c_raw, name="fft.c2c", key=False)
r2c = deflinear("r2c", r2c_adjoint, raw=r2c_raw, name="fft.r2c", key=False)
c2r = deflinear("c2r", c2r_adjoint, raw=c2r_raw, name="fft.c2r", key=False)

# numpy.fft's own values. A traced np.fft.* call computes its value with NumPy's own function
# (bit for bit NumPy's, signed zeros included: NumPy transforms a real input through its real
# transform, whose imaginary parts at frequency 0 and n/2 are +0.0, where a complex transform of
# the same input gives -0.0 in places). Same adjoints: the backward pass keeps the fast engine.
# NumPy 1.x computes float32 in float64 and has no ``out``: there the engine serves both.

#: Whether traced numpy.fft calls compute NumPy's own values, bit for bit (default on NumPy 2;
#: the environment variable ``PULLBACK_NUMPY_VALUES=0`` turns it off at import). Set it False to
#: have the engine compute them too: faster (float32 stays float32 where NumPy computes unscaled
#: float32 transforms in float64, and "auto" may use ducc0 or MKL), with values that may differ
#: from NumPy's in the last bit and in the sign of zeros.
NUMPY_VALUES = (np.lib.NumpyVersion(np.__version__) >= "2.0.0"
                and os.environ.get("PULLBACK_NUMPY_VALUES", "1") != "0")


_OUT_DTYPES = {  # input dtype -> (complex output dtype, real output dtype)
    np.dtype(np.float32): (np.dtype(np.complex64), np.dtype(np.float32)),
    np.dtype(np.float64): (np.dtype(np.complex128), np.dtype(np.float64)),
    np.dtype(np.complex64): (np.dtype(np.complex64), np.dtype(np.float32)),
    np.dtype(np.complex128): (np.dtype(np.complex128), np.dtype(np.float64)),
}


def _numpy_out(x, s, axes, real):
    """An aligned output array for NumPy's transform when it is large (``real``: a real output),
    else None. Small transforms pay one multiplication per axis."""
    n = x.size
    shape = x.shape
    for a, m in zip(axes, s):
        k = shape[a]
        if not k:
            return None
        n = n // k * m
    if n * 16 < buffers.ALIGNED_SIZE:  # 16: the widest output item
        return None
    dtypes = _OUT_DTYPES.get(x.dtype)
    if dtypes is None:  # float16, longdouble: NumPy chooses
        return None
    out_shape = list(shape)
    for a, m in zip(axes, s):
        out_shape[a] = m
    dtype = dtypes[real]
    return buffers.empty(tuple(out_shape), dtype) if n * dtype.itemsize >= buffers.ALIGNED_SIZE else None


#: numpy.fft values of inputs with at least this many elements are computed by SciPy's pocketfft
#: kernels (NumPy's bits, vectorised over rows and threaded: :mod:`pullback.engines.numpy_exact`);
#: smaller ones by NumPy's own loops, whose call costs less.
EXACT_SIZE = 2048


def _numpy_call(one, many, x, s, axes, norm, out):
    if x.size >= EXACT_SIZE:
        y = numpy_exact.transform(*_KINDS[one], x, s, axes, norm, out)
        if y is not None:
            return y
    if len(axes) == 1:
        fast = _NUMPY_1D.get(one)
        if fast is not None and x.ndim and s[0] >= 1 and x.dtype in _OUT_DTYPES:
            return fast(x, s[0], axes[0], norm, out)
        return one(x, s[0], axes[0], norm, out=out)
    return many(x, s, axes, norm, out=out)


# NumPy's one-axis transforms are thin Python wrappers around gufuncs; for small transforms the
# wrapper costs several times the transform. The same gufunc calls, with the same scale factor
# computed the same way, give the same bits without it. They are used only if a check at import
# finds them equal to NumPy's public functions, bit for bit (else the public functions serve).


_FCTS: dict = {}  # (n, norm, forward, dtype) -> the factor (an immutable NumPy scalar, or 1)


def _fct(n, norm, forward, dtype):
    """NumPy's ``_raw_fft`` scale factor, computed as NumPy computes it (once per key)."""
    key = (n, norm, forward, dtype)
    f = _FCTS.get(key)
    if f is None:
        f = numpy_exact.numpy_factor(n, norm, forward, dtype)
        if len(_FCTS) < 4096:
            _FCTS[key] = f
    return f


def _gufunc_call(ufunc, x, n_out, axis, fct, out, out_dtype):
    if out is None:
        shape = x.shape[:axis] + (n_out,) + x.shape[axis + 1:]
        out = np.empty_like(x, shape=shape, dtype=out_dtype)
    return ufunc(x, fct, axes=[(axis,), (), (axis,)], out=out)


def _np_fft(x, n, axis, norm, out):
    axis = axis % x.ndim
    return _gufunc_call(_PFU.fft, x, n, axis, _fct(n, norm, True, x.dtype), out, np.result_type(x, 1j))


def _np_ifft(x, n, axis, norm, out):
    axis = axis % x.ndim
    return _gufunc_call(_PFU.ifft, x, n, axis, _fct(n, norm, False, x.dtype), out, np.result_type(x, 1j))


def _np_rfft(x, n, axis, norm, out):
    axis = axis % x.ndim
    ufunc = _PFU.rfft_n_even if n % 2 == 0 else _PFU.rfft_n_odd
    return _gufunc_call(ufunc, x, n // 2 + 1, axis, _fct(n, norm, True, x.dtype), out,
                        np.result_type(x, 1j))


def _np_irfft(x, n, axis, norm, out):
    axis = axis % x.ndim
    real = np.result_type(x.real.dtype, 1.0)
    return _gufunc_call(_PFU.irfft, x, n, axis, _fct(n, norm, False, x.dtype), out, real)


def _numpy_1d_paths() -> dict:
    """The direct gufunc paths, if they give NumPy's public functions' bits on a battery of cases."""
    global _PFU
    _PFU = getattr(np.fft, "_pocketfft_umath", None)
    if _PFU is None or not NUMPY_VALUES:
        return {}
    paths = {np.fft.fft: _np_fft, np.fft.ifft: _np_ifft, np.fft.rfft: _np_rfft, np.fft.irfft: _np_irfft}
    rng = np.random.default_rng(0)
    try:
        for dtype in (np.float32, np.float64, np.complex64, np.complex128):
            for shape, axis in (((7,), 0), ((3, 8), -1), ((6, 5), 0)):
                x = rng.standard_normal(shape).astype(dtype)
                if x.dtype.kind == "c":
                    x = x + 1j * rng.standard_normal(shape).astype(x.real.dtype)
                for public, fast in paths.items():
                    if public is np.fft.rfft and x.dtype.kind == "c":
                        continue
                    for n in (shape[axis], shape[axis] - 2, shape[axis] + 3):
                        for norm in (None, "backward", "ortho", "forward"):
                            want = public(x, n, axis, norm)
                            got = fast(x, n, axis, norm, None)
                            if got.dtype != want.dtype or got.tobytes() != want.tobytes():
                                return {}
    except Exception:  # noqa: BLE001 - another NumPy: its public functions serve
        return {}
    return paths


_PFU = None
_NUMPY_1D = _numpy_1d_paths()


_KINDS = {np.fft.fft: ("c2c", True), np.fft.ifft: ("c2c", False), np.fft.rfft: ("r2c", True),
          np.fft.irfft: ("c2r", False)}


def np_c2c_raw(x, s, axes, norm, forward, workers=None):
    if type(x) is not np.ndarray or not NUMPY_VALUES:
        return engine.c2c(x, s, axes, norm, forward, workers, fast=True)
    out = _numpy_out(x, s, axes, False)
    if forward:
        return _numpy_call(np.fft.fft, np.fft.fftn, x, s, axes, norm, out)
    return _numpy_call(np.fft.ifft, np.fft.ifftn, x, s, axes, norm, out)


def np_r2c_raw(x, s, axes, norm, workers=None):
    if type(x) is not np.ndarray or not NUMPY_VALUES:
        return engine.r2c(x, s, axes, norm, workers, fast=True)
    half = list(s)
    half[-1] = s[-1] // 2 + 1
    out = _numpy_out(x, half, axes, False)
    return _numpy_call(np.fft.rfft, np.fft.rfftn, x, s, axes, norm, out)


def np_c2r_raw(x, s, axes, norm, workers=None):
    if type(x) is not np.ndarray or not NUMPY_VALUES:
        return engine.c2r(x, s, axes, norm, workers, fast=True)
    out = _numpy_out(x, s, axes, True)
    return _numpy_call(np.fft.irfft, np.fft.irfftn, x, s, axes, norm, out)


np_c2c = deflinear("c2c", c2c_adjoint, raw=np_c2c_raw, name="numpy.fft.c2c", key=False)
np_r2c = deflinear("r2c", r2c_adjoint, raw=np_r2c_raw, name="numpy.fft.r2c", key=False)
np_c2r = deflinear("c2r", c2r_adjoint, raw=np_c2r_raw, name="numpy.fft.c2r", key=False)
resize = deflinear("resize", resize_adjoint, raw=resize_raw, name="fft.resize", key=False)

# Small one-axis numpy.fft calls (the 1-D functions' common case) get their values from a cached
# plan: the gufunc, scale factor and output dtype that NumPy's call would use (the same as
# _np_fft & co. find, validated against NumPy's public functions at import by _numpy_1d_paths),
# looked up once per (function, shape, dtype, n, axis, norm). A 64-point rfft's value then costs
# about half of what it did (about 20k instructions instead of 40k: the gufunc's own call is
# ~17k of them). Anything else (large, non-NumPy, not validated, NUMPY_VALUES off) falls back to
# np_c2c_raw & co. unchanged: the values are NumPy's either way, bit for bit.

#: One-axis transforms whose input and output have at most this many elements use the plans.
SMALL_1D = 1024
_PLANS: dict = {}  # (public function, shape, dtype, n, axis, norm) -> plan, or False: none


def _plan(public, x, n, axis, norm):
    """``(gufunc, fct, out shape, out dtype, keywords)`` of NumPy's own call of ``public`` on
    ``x`` (as :func:`_np_fft` & co. make it), or False when the plans do not serve the case."""
    if public not in _NUMPY_1D or x.dtype not in _OUT_DTYPES or not x.ndim or n < 1:
        return False
    axis = axis % x.ndim
    if public is np.fft.rfft:
        if x.dtype.kind == "c":
            return False
        ufunc, m, forward, dtype = _PFU.rfft_n_even if n % 2 == 0 else _PFU.rfft_n_odd, n // 2 + 1, True, \
            np.result_type(x, 1j)
    elif public is np.fft.irfft:
        ufunc, m, forward, dtype = _PFU.irfft, n, False, np.result_type(x.real.dtype, 1.0)
    else:
        forward = public is np.fft.fft
        ufunc, m, dtype = _PFU.fft if forward else _PFU.ifft, n, np.result_type(x, 1j)
    shape = x.shape[:axis] + (m,) + x.shape[axis + 1:]
    if x.size > SMALL_1D or math.prod(shape) > SMALL_1D:
        return False
    # the last axis is the gufunc's default: the same loop without parsing ``axes``
    keywords = {} if axis == x.ndim - 1 else {"axes": [(axis,), (), (axis,)]}
    return ufunc, _fct(n, norm, forward, x.dtype), shape, dtype, keywords


def _small(public, x, s, axes, norm):
    """NumPy's own value of the one-axis transform ``public`` of a small NumPy array, or None."""
    if type(x) is not np.ndarray or not NUMPY_VALUES:
        return None
    key = (public, x.shape, x.dtype, s[0], axes[0], norm)
    plan = _PLANS.get(key)
    if plan is None:
        plan = _plan(public, x, s[0], axes[0], norm)
        if len(_PLANS) < 4096:
            _PLANS[key] = plan
    if plan is False:
        return None
    ufunc, fct, shape, dtype, keywords = plan
    # (empty_like, as _gufunc_call: an N-d output's memory order follows the input's)
    out = np.empty(shape, dtype) if len(shape) == 1 else np.empty_like(x, shape=shape, dtype=dtype)
    return ufunc(x, fct, out=out, **keywords)


def np_c2c_1d_raw(x, s, axes, norm, forward, workers=None):
    """:func:`np_c2c_raw` of a one-axis transform (a small one from its plan)."""
    y = _small(np.fft.fft if forward else np.fft.ifft, x, s, axes, norm)
    return np_c2c_raw(x, s, axes, norm, forward, workers) if y is None else y


def np_r2c_1d_raw(x, s, axes, norm, workers=None):
    """:func:`np_r2c_raw` of a one-axis transform (a small one from its plan)."""
    y = _small(np.fft.rfft, x, s, axes, norm)
    return np_r2c_raw(x, s, axes, norm, workers) if y is None else y


def np_c2r_1d_raw(x, s, axes, norm, workers=None):
    """:func:`np_c2r_raw` of a one-axis transform (a small one from its plan)."""
    y = _small(np.fft.irfft, x, s, axes, norm)
    return np_c2r_raw(x, s, axes, norm, workers) if y is None else y


np_c2c_1d = deflinear("c2c", c2c_adjoint, raw=np_c2c_1d_raw, name="numpy.fft.c2c", key=False)
np_r2c_1d = deflinear("r2c", r2c_adjoint, raw=np_r2c_1d_raw, name="numpy.fft.r2c", key=False)
np_c2r_1d = deflinear("c2r", c2r_adjoint, raw=np_c2r_1d_raw, name="numpy.fft.c2r", key=False)

# ---------------------------------------------------------------- argument normalisation


class _Invalid(Exception):
    """Arguments NumPy would reject: NumPy is asked again, to raise its own error."""


def _axis(a, ndim):
    a = operator.index(a)
    if not -ndim <= a < ndim:
        raise _Invalid
    return a % ndim


def _cook(x, s, axes, invreal):
    """NumPy's ``_cook_nd_args``: the transform lengths and the (non-negative) axes."""
    shape = x.shape
    if axes is not None:
        axes = [_axis(a, len(shape)) for a in axes]
    if s is None:
        shapeless = True
        s = list(shape) if axes is None else [shape[a] for a in axes]
    else:
        shapeless = False
        s = list(s)
    if axes is None:
        if not shapeless:
            warnings.warn(
                "`axes` should not be `None` if `s` is not `None` (Deprecated in NumPy 2.0).",
                DeprecationWarning,
                stacklevel=4,
            )
        axes = [_axis(a, len(shape)) for a in range(-len(s), 0)]
    if len(s) != len(axes):
        raise _Invalid
    if invreal and shapeless:
        s[-1] = (shape[axes[-1]] - 1) * 2
    s = [shape[a] if n is None or n == -1 else operator.index(n) for n, a in zip(s, axes)]
    if any(n < 1 for n in s):
        raise _Invalid
    return tuple(s), tuple(axes)


def _cook_numpy(x, s, axes, invreal):
    """NumPy's rules (:func:`_cook`), with a fast path for one axis."""
    one_axis = axes is not None and len(axes) == 1 and type(axes[0]) is int
    if one_axis and (s is None or (len(s) == 1 and type(s[0]) is int)):  # 1-D
        ndim = x.ndim
        a = axes[0]
        if -ndim <= a < ndim:
            a %= ndim
            if s is None:
                n = (x.shape[a] - 1) * 2 if invreal else x.shape[a]
            else:
                n = s[0]
            if n >= 1:
                return (n,), (a,)
    return _cook(x, s, axes, invreal)  # NumPy's full rules (s=-1, errors, ...)


def _prepare(numpy_func, x, s, axes, norm, invreal, args, kwargs=None, cook=_cook_numpy):
    """``x`` as an array, the lengths ``s`` and the axes, by the library's rules (``cook``).

    Arguments the library would reject make it raise its own exception and message:
    ``numpy_func(*args, **kwargs)`` runs on the plain values (scipy.fft passes its own
    function, argument values and ``cook``).
    """
    if _has_bool(s):  # most functions reject a bool length, a few take it as 0 or 1: ask
        numpy_func(*args, **(kwargs or {}))
        s = [int(n) if isinstance(n, (bool, np.bool_)) else n for n in s]
    try:
        if norm not in _NORMS:
            raise _Invalid
        if not hasattr(x, "shape"):
            x = np.asarray(x)  # a list or a Python scalar: never traced
        return x, *cook(x, s, axes, invreal)
    except (_Invalid, TypeError, IndexError) as e:
        numpy_func(*args, **(kwargs or {}))  # raises the library's own exception and message
        if isinstance(e, _Invalid):  # the library accepts what the rule does not: say so
            raise NotImplementedError(
                f"pullback: {getattr(numpy_func, '__module__', '')}.{numpy_func.__name__} accepts "
                f"these arguments (s={s!r}, axes={axes!r}) but pullback cannot differentiate it "
                "with them"
            ) from None
        raise


def _has_bool(s) -> bool:
    if isinstance(s, (bool, np.bool_)):
        return True
    return type(s) in (tuple, list) and any(isinstance(n, (bool, np.bool_)) for n in s)


def _as_inexact(x):
    return x if x.dtype.kind in "fc" else x.astype(np.float64)


# The three calls below serve numpy.fft and scipy.fft alike: scipy.fft passes its own function
# and argument values (``kwargs``) to raise its errors with, its own ``cook``, and ``workers``.


def _c2c_call(numpy_func, x, s, axes, norm, forward, args, *, kwargs=None, cook=_cook_numpy, workers=None,
              numpy=False):
    """``numpy``: a numpy.fft function, whose value is NumPy's own (see :data:`NUMPY_VALUES`)."""
    x, s, axes = _prepare(numpy_func, x, s, axes, norm, 0, args, kwargs, cook)
    if not axes:  # NumPy transforms nothing and returns its input itself
        numpy_func(*args, **(kwargs or {}))
        return x
    x = _as_inexact(x)
    cc = np_c2c if numpy else c2c
    if len(set(axes)) == len(axes):
        return cc.first_traced(x, s, axes, norm, forward, workers)
    for n, a in reversed(list(zip(s, axes))):  # repeated axes: NumPy's own order, one by one
        x = cc(x, (n,), (a,), norm, forward, workers)
    return x


def _r2c_call(numpy_func, x, s, axes, norm, args, *, kwargs=None, cook=_cook_numpy, workers=None,
              numpy=False):
    x, s, axes = _prepare(numpy_func, x, s, axes, norm, 0, args, kwargs, cook)
    if not axes:
        numpy_func(*args, **(kwargs or {}))  # NumPy's own IndexError
        raise IndexError("list index out of range")
    if x.dtype.kind == "c":
        numpy_func(*args, **(kwargs or {}))
        raise TypeError(f"{numpy_func.__name__} needs a real input")
    x = _as_inexact(x)
    cc, rc = (np_c2c, np_r2c) if numpy else (c2c, r2c)
    if len(set(axes)) == len(axes):
        return rc.first_traced(x, s, axes, norm, workers)
    x = rc(x, s[-1:], axes[-1:], norm, workers)
    for n, a in reversed(list(zip(s[:-1], axes[:-1]))):
        x = cc(x, (n,), (a,), norm, True, workers)
    return x


def _c2r_call(numpy_func, x, s, axes, norm, args, *, kwargs=None, cook=_cook_numpy, workers=None,
              numpy=False):
    x, s, axes = _prepare(numpy_func, x, s, axes, norm, 1, args, kwargs, cook)
    x = _as_inexact(x)
    cc, cr = (np_c2c, np_c2r) if numpy else (c2c, c2r)
    if len(set(axes)) == len(axes):
        return cr.first_traced(x, s, axes, norm, workers)
    for n, a in zip(s[:-1], axes[:-1]):
        x = cc(x, (n,), (a,), norm, False, workers)
    return cr(x, s[-1:], axes[-1:], norm, workers)


def _one(n):
    """``s`` for a 1-D function's ``n``. Unlike ``s``, ``n=-1`` is no shorthand for the whole
    axis: any ``n < 1`` becomes 0, which the argument checks reject with NumPy's own error."""
    if n is None:
        return None
    return (n,) if not (type(n) is int and n < 1) else (0,)


def _simple_1d(a, n, axis, norm, kinds, inverse_real=False):
    """``((n,), (axis,))`` for a plainly valid 1-D call on an array of dtype kind in ``kinds``, else None.

    The per-operation fast path of the 1-D functions; anything unusual (invalid or
    unusual arguments, integer input) takes the general path, with NumPy's errors.
    """
    if type(axis) is not int or norm not in _NORMS:
        return None
    dtype = getattr(a, "dtype", None)
    if dtype is None or dtype.kind not in kinds:
        return None
    shape = a.shape
    nd = len(shape)
    if not -nd <= axis < nd:
        return None
    axis %= nd
    if n is None:
        n = (shape[axis] - 1) * 2 if inverse_real else shape[axis]
    elif type(n) is not int:
        return None
    return ((n,), (axis,)) if n >= 1 else None


# ---------------------------------------------------------------- numpy.fft, one line each


def fft(a, n=None, axis=-1, norm=None, out=None):
    simple = _simple_1d(a, n, axis, norm, "fc")
    if simple is not None:
        return np_c2c_1d.first_traced(a, *simple, norm, True, None)
    return _c2c_call(np.fft.fft, a, _one(n), (axis,), norm, True, (strip(a), n, axis, norm), numpy=True)


def ifft(a, n=None, axis=-1, norm=None, out=None):
    simple = _simple_1d(a, n, axis, norm, "fc")
    if simple is not None:
        return np_c2c_1d.first_traced(a, *simple, norm, False, None)
    return _c2c_call(np.fft.ifft, a, _one(n), (axis,), norm, False, (strip(a), n, axis, norm), numpy=True)


def fftn(a, s=None, axes=None, norm=None, out=None):
    return _c2c_call(np.fft.fftn, a, s, axes, norm, True, (strip(a), s, axes, norm), numpy=True)


def ifftn(a, s=None, axes=None, norm=None, out=None):
    return _c2c_call(np.fft.ifftn, a, s, axes, norm, False, (strip(a), s, axes, norm), numpy=True)


def fft2(a, s=None, axes=(-2, -1), norm=None, out=None):
    return _c2c_call(np.fft.fft2, a, s, axes, norm, True, (strip(a), s, axes, norm), numpy=True)


def ifft2(a, s=None, axes=(-2, -1), norm=None, out=None):
    return _c2c_call(np.fft.ifft2, a, s, axes, norm, False, (strip(a), s, axes, norm), numpy=True)


def rfft(a, n=None, axis=-1, norm=None, out=None):
    simple = _simple_1d(a, n, axis, norm, "f")
    if simple is not None:
        return np_r2c_1d.first_traced(a, *simple, norm, None)
    return _r2c_call(np.fft.rfft, a, _one(n), (axis,), norm, (strip(a), n, axis, norm), numpy=True)


def rfftn(a, s=None, axes=None, norm=None, out=None):
    return _r2c_call(np.fft.rfftn, a, s, axes, norm, (strip(a), s, axes, norm), numpy=True)


def rfft2(a, s=None, axes=(-2, -1), norm=None, out=None):
    return _r2c_call(np.fft.rfft2, a, s, axes, norm, (strip(a), s, axes, norm), numpy=True)


def irfft(a, n=None, axis=-1, norm=None, out=None):
    simple = _simple_1d(a, n, axis, norm, "fc", inverse_real=True)
    if simple is not None:
        return np_c2r_1d.first_traced(a, *simple, norm, None)
    s = _one(n)
    return _c2r_call(np.fft.irfft, a, s, (axis,), norm, (strip(a), n, axis, norm), numpy=True)


def irfftn(a, s=None, axes=None, norm=None, out=None):
    return _c2r_call(np.fft.irfftn, a, s, axes, norm, (strip(a), s, axes, norm), numpy=True)


def irfft2(a, s=None, axes=(-2, -1), norm=None, out=None):
    return _c2r_call(np.fft.irfft2, a, s, axes, norm, (strip(a), s, axes, norm), numpy=True)


def hfft(a, n=None, axis=-1, norm=None, out=None):
    """A Hermitian input's real spectrum: ``irfft(conj(a))`` with the norm swapped."""
    if norm not in _NORMS:
        np.fft.hfft(strip(a), n, axis, norm)
    return _c2r_call(np.fft.hfft, np.conj(a), _one(n), (axis,), swap_norm(norm), (strip(a), n, axis, norm),
                     numpy=True)


def ihfft(a, n=None, axis=-1, norm=None, out=None):
    """Inverse of hfft: ``conj(rfft(a))`` with the norm swapped."""
    if norm not in _NORMS:
        np.fft.ihfft(strip(a), n, axis, norm)
    return np.conj(_r2c_call(np.fft.ihfft, a, _one(n), (axis,), swap_norm(norm), (strip(a), n, axis, norm),
                             numpy=True))


for _f in (fft, ifft, fftn, ifftn, fft2, ifft2, rfft, rfftn, rfft2, irfft, irfftn, irfft2, hfft, ihfft):
    defcomposite(getattr(np.fft, _f.__name__), _f)

# ---------------------------------------------------------------- shifts and frequencies


def fftshift_adjoint(g, shape, dtype, axes=None):
    return np.fft.ifftshift(g, axes)


def ifftshift_adjoint(g, shape, dtype, axes=None):
    return np.fft.fftshift(g, axes)


def _shift_raw(numpy_shift):
    def shift(x, axes=None):
        return numpy_shift(x, axes)

    shift.__name__ = numpy_shift.__name__
    return shift


deflinear(np.fft.fftshift, fftshift_adjoint, raw=_shift_raw(np.fft.fftshift))
deflinear(np.fft.ifftshift, ifftshift_adjoint, raw=_shift_raw(np.fft.ifftshift))

for _f in (np.fft.fftfreq, np.fft.rfftfreq):
    if hasattr(_f, "_implementation"):
        defnondiff(_f)
