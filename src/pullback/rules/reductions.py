"""Rules: reductions (sum, mean, prod, max/min, var/std, cumulative sums and products, ...).

Conventions
-----------
- **Ties** in ``max``/``min``/``amax``/``amin`` (and ``np.maximum.reduce`` /
  ``np.minimum.reduce``, ``ptp``) split the gradient equally among the tied
  entries: ``d max([1, 3, 3]) = [0, 1/2, 1/2]``. A NaN maximum is attributed
  to the NaN entries. When ``initial=`` wins (no entry reaches it) no entry
  gets a gradient.
- **Zeros** in ``prod`` and ``cumprod`` are handled exactly: the derivative of
  a product with respect to one factor is the product of the *other* factors.
  Where a factor is 0 it is computed without dividing by the factor
  (exclusive cumulative products), so ``d prod([0, 2, 3]) = [6, 0, 0]``, and
  the rules stay exact when differentiated again (Hessians at zeros).
- ``var``/``std`` of complex input are NumPy's: the mean of ``|x - mean|**2``
  (real). ``ddof``/``correction``, ``where`` and ``mean=`` are honoured.
- ``sum(initial=c)`` and ``prod(initial=c)`` treat ``c`` as a constant
  offset/factor (it is differentiable when passed as a traced value to ``sum``).

``sum`` and ``cumsum`` are linear (declared once, both modes); ``mean``,
``var``, ``std``, ``average``, ``trace``, ``ptp``, ``diff`` and the nan-variants
are composites written with other NumPy calls. ``prod``, ``cumprod`` and
``max``/``min`` are primitives with explicit reverse and forward rules.
"""

from __future__ import annotations

import math

import numpy as np

from ..core import Tracer, strip
from .registry import (
    _conj,
    _with_values,
    defcomposite,
    deflinear,
    defnondiff,
    defvjp,
    library_values,
    numpy_scalar,
    register,
)
from .registry import array_like as _arr

try:  # NumPy >= 2
    from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import normalize_axis_index
    from numpy.core.numeric import normalize_axis_tuple

_NOVALUE = getattr(np, "_NoValue", None)

# ---------------------------------------------------------------- helpers


def _axes(axis, ndim):
    """Reduced axes as a tuple of non-negative ints (``None``: all)."""
    if axis is None:
        return tuple(range(ndim))
    return normalize_axis_tuple(axis, ndim)


def _expand(g, shape, axis, keepdims):
    """Re-insert the reduced axes of ``g`` as length-1 axes."""
    if keepdims:
        return g
    axes = _axes(axis, len(shape))
    return np.reshape(g, tuple(1 if i in axes else n for i, n in enumerate(shape)))


def _real_dtype(dt):
    dt = np.dtype(dt)
    return np.finfo(dt).dtype if dt.kind in "fc" else np.dtype(np.float64)


def _given(x):
    return x is not _NOVALUE


def _kd(keepdims):
    """``keepdims`` as a bool (NumPy's "no value" default is False)."""
    return bool(keepdims) if _given(keepdims) else False


def _wh(where):
    """``where`` as True (no mask) or a boolean array."""
    if where is True or not _given(where):
        return True
    return _arr(where)


def _count(shape, axis, where, keepdims):
    """Number of entries reduced into each output: a Python int, or an int array for ``where``."""
    axes = _axes(axis, len(shape))
    if where is True:
        return math.prod(shape[i] for i in axes)
    return np.sum(np.broadcast_to(where, shape), axis=axes, keepdims=keepdims)


def _divide_count(s, n):
    """``s / n`` as NumPy's ``_mean``/``_var`` divide: by an ``intp`` count, in the dtype ``s`` and
    ``intp`` promote to (complex64: complex128), cast back to ``s``'s dtype."""
    wide = np.result_type(s.dtype, np.intp)
    if wide != s.dtype and s.dtype.kind == "c":
        return (s.astype(wide) / (n if isinstance(n, (int, float)) else n.astype(np.float64))).astype(s.dtype)
    if isinstance(n, (int, float)):
        return s / n
    return s / n.astype(_real_dtype(s.dtype))


def _revcumsum(v, axis):
    """``out[i] = sum(v[i:])`` along ``axis``."""
    return np.flip(np.cumsum(np.flip(v, axis), axis), axis)


def _mask(x, where):
    return x if where is True else np.where(where, x, 0)


# ---------------------------------------------------------------- sum


def _sum_raw(a, axis=None, dtype=None, keepdims=False, where=True):
    kw = {} if where is True else {"where": where}
    return np.sum(a, axis=axis, dtype=dtype, keepdims=keepdims, **kw)


def sum_adjoint(g, in_shape, in_dtype, /, axis=None, dtype=None, keepdims=False, where=True):
    """A constant along the summed axes: a stride-0 broadcast view, never a copy."""
    full = np.broadcast_to(_expand(g, in_shape, axis, keepdims), in_shape)
    return _mask(full, where)


_sum = deflinear(_sum_raw, sum_adjoint, name="numpy.sum", key=False)


def sum_(a, axis=None, dtype=None, out=None, keepdims=False, initial=_NOVALUE, where=True):
    """``np.sum``: linear in ``a``; ``initial`` is added as an offset."""
    a = _arr(a)
    s = _sum(a, axis, dtype, _kd(keepdims), _wh(where))
    if not _given(initial):
        return s
    out = s + initial if isinstance(initial, (int, float, complex)) else s + initial.astype(s.dtype)
    # NumPy starts the accumulation at ``initial`` (a different rounding order): its own value
    kw = {} if where is True or not _given(where) else {"where": strip(where)}
    want = np.sum(strip(a), axis=axis, dtype=dtype, keepdims=_kd(keepdims), initial=strip(initial), **kw)
    return _with_values(out, want)


defcomposite(np.sum, sum_)


def mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
    """``np.mean`` = ``sum / count`` (with ``where``, the count of selected entries)."""
    a = _arr(a)
    keepdims, where = _kd(keepdims), _wh(where)
    if dtype is None and a.dtype.kind not in "fc":
        dtype = np.float64
    s = np.sum(a, axis=axis, dtype=dtype, keepdims=keepdims, where=where)
    return _divide_count(s, _count(a.shape, axis, where, keepdims))


defcomposite(np.mean, mean)

# ---------------------------------------------------------------- prod


def _prod_others(x, axes):
    """For each entry, the product of the *other* entries along ``axes`` (exact with zeros)."""
    nd = x.ndim
    keep = [i for i in range(nd) if i not in axes]
    perm = keep + list(axes)
    n = math.prod(x.shape[i] for i in axes)
    if n == 0 or x.size == 0:
        return np.ones_like(x)
    b = np.transpose(x, perm) if perm != list(range(nd)) else x
    kshape = tuple(x.shape[i] for i in keep)
    b = np.reshape(b, kshape + (n,))
    one = np.ones_like(b, shape=kshape + (1,))
    left = np.cumprod(np.concatenate([one, b[..., :-1]], axis=-1), axis=-1)
    right = _revcumprod(np.concatenate([b[..., 1:], one], axis=-1))
    o = np.reshape(left * right, tuple(x.shape[i] for i in perm))
    return np.transpose(o, np.argsort(perm)) if perm != list(range(nd)) else o


def _revcumprod(v):
    return np.flip(np.cumprod(np.flip(v, -1), axis=-1), -1)


def _prod_factor(ans, a, axis, keepdims, initial, where):
    """d prod / d a: ``prod / a`` when no factor is 0 (and the product is a normal number),
    else the product of the other factors, computed without division."""
    x = a if where is True else np.where(where, a, 1)
    if not np.any(x == 0) and np.all(np.isfinite(ans)) and not np.any(ans == 0):
        return _expand(ans, a.shape, axis, keepdims) / x
    others = _prod_others(x, _axes(axis, a.ndim))
    if _given(initial):
        others = others * initial
    return others


def _factors(a, dtype):
    """The factors NumPy multiplies: ``a``, or its real part when a complex ``a`` is cast to a real
    ``dtype=`` (NumPy drops the imaginary parts, with a ComplexWarning)."""
    if dtype is not None and a.dtype.kind == "c" and np.dtype(dtype).kind != "c":
        return np.real(a)
    return a


def prod_vjp(g, ans, a, axis=None, dtype=None, out=None, keepdims=False, initial=_NOVALUE, where=True):
    where, keepdims = _wh(where), _kd(keepdims)
    a = _factors(a, dtype)
    w = _prod_factor(ans, a, axis, keepdims, initial, where)
    return _mask(_expand(g, a.shape, axis, keepdims) * _conj(w), where)


def prod_jvp(t, ans, a, axis=None, dtype=None, out=None, keepdims=False, initial=_NOVALUE, where=True):
    where, keepdims = _wh(where), _kd(keepdims)
    a = _factors(a, dtype)  # a real output: the tangent's real part is kept at the end
    w = _prod_factor(ans, a, axis, keepdims, initial, where)
    return np.sum(_mask(t * w, where), axis=axis, keepdims=keepdims)


prod = defvjp(np.prod, [prod_vjp], [prod_jvp])

# ---------------------------------------------------------------- max / min


def _selection(a, ans, axis, keepdims, where):
    """The entries equal to the extremum of their slice, and how many tie (None: never more than one)."""
    full = _expand(ans, a.shape, axis, keepdims)
    hit = a == full
    if a.dtype.kind in "fc" and np.any(np.isnan(ans)):
        hit = hit | (np.isnan(a) & np.isnan(full))
    if where is not True:
        hit = hit & where
    count = np.sum(hit, axis=_axes(axis, a.ndim), keepdims=True)
    if np.all(count <= 1):
        return hit, None
    return hit, np.maximum(count, 1).astype(_real_dtype(a.dtype))


def extremum_vjp(g, ans, a, axis=None, out=None, keepdims=False, initial=_NOVALUE, where=True):
    where, keepdims = _wh(where), _kd(keepdims)
    hit, count = _selection(a, ans, axis, keepdims, where)
    ge = _expand(g, a.shape, axis, keepdims)
    return np.where(hit, ge if count is None else ge / count, 0)


def extremum_jvp(t, ans, a, axis=None, out=None, keepdims=False, initial=_NOVALUE, where=True):
    where, keepdims = _wh(where), _kd(keepdims)
    hit, count = _selection(a, ans, axis, keepdims, where)
    return np.sum(np.where(hit, t if count is None else t / count, 0), axis=axis, keepdims=keepdims)


for _f in (np.max, np.amax, np.min, np.amin):
    defvjp(_f, [extremum_vjp], [extremum_jvp])


def ptp(a, axis=None, out=None, keepdims=False):
    """``np.ptp`` = ``max - min``."""
    keepdims = _kd(keepdims)
    return np.max(a, axis=axis, keepdims=keepdims) - np.min(a, axis=axis, keepdims=keepdims)


defcomposite(np.ptp, ptp)

# ---------------------------------------------------------------- var / std


def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True, mean=_NOVALUE,
        correction=_NOVALUE):
    """``np.var``: the mean of ``|a - mean(a)|**2`` over ``count - ddof`` (real for complex input)."""
    if _given(correction):
        if ddof != 0:
            raise ValueError("ddof and correction can't be provided simultaneously.")
        ddof = correction
    a = _arr(a)
    keepdims, where = _kd(keepdims), _wh(where)
    if dtype is None and a.dtype.kind not in "fc":
        dtype = np.float64
    m = np.mean(a, axis=axis, dtype=dtype, keepdims=True, where=where) if not _given(mean) else mean
    d = a - m
    # NumPy's steps: complex as ``re**2 + im**2`` (not ``d * conj(d)``: rounded otherwise)
    sq = np.square(np.real(d)) + np.square(np.imag(d)) if d.dtype.kind == "c" else np.square(d)
    sdtype = None if dtype is None else _real_dtype(dtype)
    s = np.sum(sq, axis=axis, dtype=sdtype, keepdims=keepdims, where=where)
    n = _count(a.shape, axis, where, keepdims)
    n = max(n - ddof, 0) if isinstance(n, int) else np.maximum(n - ddof, 0)
    return _divide_count(s, n)


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True, mean=_NOVALUE,
        correction=_NOVALUE):
    """``np.std`` = ``sqrt(var)``, with gradient 0 where the variance is 0 (a constant slice)."""
    return _sqrt0(var(a, axis, dtype, None, ddof, keepdims, where=where, mean=mean, correction=correction))


def _sqrt0(v):
    """``sqrt(v)`` whose derivative at ``v == 0`` is 0 rather than inf (std is a norm: 0 is a subgradient)."""
    zero = v == 0
    if not np.any(zero):
        return np.sqrt(v)
    return np.where(zero, 0, np.sqrt(np.where(zero, 1, v)))


defcomposite(np.var, var)
defcomposite(np.std, std)

# ---------------------------------------------------------------- cumulative sums and products


def cumsum_adjoint(g, in_shape, in_dtype, /, axis=None, dtype=None, out=None):
    """The adjoint of a running sum is the reversed running sum."""
    if axis is None:
        return np.reshape(_revcumsum(g, 0), in_shape)
    return _revcumsum(g, axis)


cumsum = deflinear(np.cumsum, cumsum_adjoint)


def _cumprod_parts(x, axis):
    """Masks that make the cumprod derivative exact when an entry is zero.

    ``before``: positions before the first zero of their lane; ``first``: the first
    zero; ``xs``: ``x`` with zeros replaced by 1 (safe to divide by); ``x1``: ``x``
    with the first zero of each lane replaced by 1 (None when no lane has a zero).
    """
    zero = x == 0
    nz = np.cumsum(zero, axis=axis)
    before = nz == 0
    first = zero & (nz == 1)
    xs = np.where(zero, 1, x)
    x1 = np.where(first, 1, x) if np.any(first) else None
    return before, first, xs, x1


def _at_first_zero(x, first, axis):
    """The first zero of each lane, as a traced value (its value is 0, its derivative is not)."""
    return np.sum(np.where(first, x, 0), axis=axis, keepdims=True)


def _cumprod_vjp(g, y, x, axis):
    # d y_k / d x_i = prod_{j <= k, j != i} x_j. Before the first zero z of a lane it is
    # y_k / x_i; at z it is y1_k (the running product with x_z read as 1); after z every
    # such product contains x_z, so it is x_z times the same derivative of x with x_z = 1.
    before, first, xs, x1 = _cumprod_parts(x, axis)
    r = np.where(before, _revcumsum(g * _conj(y), axis) / _conj(xs), 0)
    if x1 is None:
        return r
    y1 = np.cumprod(x1, axis=axis)
    if isinstance(x, Tracer):  # differentiated again: the zeros after z have a derivative
        rest = _conj(_at_first_zero(x, first, axis)) * _cumprod_vjp(g, y1, x1, axis)
        r = np.where(before, r, rest)
    return np.where(first, _revcumsum(g * _conj(y1), axis), r)


def _cumprod_jvp(t, y, x, axis):
    before, first, xs, x1 = _cumprod_parts(x, axis)
    r = y * np.cumsum(t / xs, axis=axis)
    if x1 is None:
        return r
    y1 = np.cumprod(x1, axis=axis)
    late = np.sum(np.where(first, t, 0), axis=axis, keepdims=True) * y1
    if isinstance(x, Tracer):
        late = late + _at_first_zero(x, first, axis) * _cumprod_jvp(np.where(first, 0, t), y1, x1, axis)
    return np.where(before, r, late)


def cumprod_vjp(g, ans, a, axis=None, dtype=None, out=None):
    a = _factors(a, dtype)
    if axis is None:
        return np.reshape(_cumprod_vjp(g, ans, np.ravel(a), 0), a.shape)
    return _cumprod_vjp(g, ans, a, normalize_axis_index(axis, a.ndim))


def cumprod_jvp(t, ans, a, axis=None, dtype=None, out=None):
    a = _factors(a, dtype)
    if axis is None:
        return _cumprod_jvp(np.ravel(t), ans, np.ravel(a), 0)
    return _cumprod_jvp(t, ans, a, normalize_axis_index(axis, a.ndim))


cumprod = defvjp(np.cumprod, [cumprod_vjp], [cumprod_jvp])


if hasattr(np, "cumulative_sum"):  # NumPy >= 2.1

    def _cumulative(func, fill):
        def cumulative(x, /, *, axis=None, dtype=None, out=None, include_initial=False):
            if axis is None:
                if x.ndim != 1:
                    raise ValueError(
                        "For arrays which have more than one dimension ``axis`` argument is required."
                    )
                axis = 0
            r = func(x, axis=axis, dtype=dtype)
            if include_initial:
                ax = normalize_axis_index(axis, x.ndim)
                shape = r.shape[:ax] + (1,) + r.shape[ax + 1:]
                r = np.concatenate([np.full_like(strip(r), fill, shape=shape), r], axis=ax)
            return r

        cumulative.__name__ = f"{func.__name__}_cumulative"
        return cumulative

    defcomposite(np.cumulative_sum, _cumulative(np.cumsum, 0))
    defcomposite(np.cumulative_prod, _cumulative(np.cumprod, 1))


def diff(a, n=1, axis=-1, prepend=_NOVALUE, append=_NOVALUE):
    """``np.diff`` by slicing and subtraction (``prepend``/``append`` are concatenated first)."""
    if n == 0:
        return a
    if n < 0:
        raise ValueError("order must be non-negative but got " + repr(n))
    a = _arr(a)
    if a.ndim == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    axis = normalize_axis_index(axis, a.ndim)
    parts = []
    for extra, side in ((prepend, 0), (append, 1)):
        if _given(extra):
            extra = _arr(extra)
            if extra.ndim == 0:
                shape = list(a.shape)
                shape[axis] = 1
                extra = np.broadcast_to(extra, tuple(shape))
            parts.append((side, extra))
    if parts:
        seq = [e for s, e in parts if s == 0] + [a] + [e for s, e in parts if s == 1]
        a = np.concatenate(seq, axis)
    hi = (slice(None),) * axis + (slice(1, None),)
    lo = (slice(None),) * axis + (slice(None, -1),)
    for _ in range(n):
        a = a[hi] - a[lo]
    return a


defcomposite(np.diff, diff)

# ---------------------------------------------------------------- average, trace


def average(a, axis=None, weights=None, returned=False, *, keepdims=_NOVALUE):
    """``np.average``: ``sum(a * w) / sum(w)``; both ``a`` and ``weights`` are differentiable."""
    a = _arr(a)
    if axis is not None:
        axis = normalize_axis_tuple(axis, a.ndim, argname="axis")
    kd = {} if keepdims is _NOVALUE else {"keepdims": keepdims}
    if weights is None:
        avg = np.mean(a, axis=axis, **kd)
        scl = avg.dtype.type(a.size / max(avg.size, 1))
    else:
        w = _arr(weights)
        if a.dtype.kind in "biu":
            result_dtype = np.result_type(a.dtype, w.dtype, "f8")
        else:
            result_dtype = np.result_type(a.dtype, w.dtype)
        if a.shape != w.shape:
            if axis is None:
                raise TypeError("Axis must be specified when shapes of a and weights differ.")
            if w.shape != tuple(a.shape[ax] for ax in axis):
                raise ValueError("Shape of weights must be consistent with shape of a along specified axis.")
            w = np.transpose(w, np.argsort(axis))
            w = np.reshape(w, tuple((s if ax in axis else 1) for ax, s in enumerate(a.shape)))
        scl = np.sum(w, axis=axis, dtype=result_dtype, **kd)
        if np.any(scl == 0.0):
            raise ZeroDivisionError("Weights sum to zero, can't be normalized")
        avg = np.sum(a * w, axis=axis, dtype=result_dtype, **kd) / scl
    if returned:
        if np.shape(scl) != avg.shape:
            scl = np.broadcast_to(scl, avg.shape)
            scl = scl.copy()
        return avg, scl
    return avg


defcomposite(np.average, average)


def _gathered(a, axis):
    """``(axes, b, n)``: the reduced axes, ``a`` with them moved last and merged (length ``n``)."""
    axes = _axes(axis, a.ndim)
    keep = [i for i in range(a.ndim) if i not in axes]
    n = math.prod(a.shape[i] for i in axes)
    b = np.transpose(a, keep + list(axes)) if keep + list(axes) != list(range(a.ndim)) else a
    return axes, np.reshape(b, tuple(a.shape[i] for i in keep) + (n,)), n


def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """``np.median``: the middle of the sorted slice (the mean of the middle two for even lengths).

    The gradient goes to the middle entries (with ties, to the ones ``np.argsort`` puts there).
    """
    a = _arr(a)
    axes, b, n = _gathered(a, axis)
    if n == 0:
        med = np.mean(b, axis=-1)  # NumPy's nan and warning
    else:
        s = np.sort(b, axis=-1)
        lo, hi = (n - 1) // 2, n // 2
        med = s[..., lo] if lo == hi else (s[..., lo] + s[..., hi]) / 2
        if a.dtype.kind in "fc":
            bad = np.any(np.isnan(strip(b)), axis=-1)
            if np.any(bad):
                med = np.where(bad, np.nan, med)
    if keepdims:
        med = np.reshape(med, tuple(1 if i in axes else k for i, k in enumerate(a.shape)))
    return numpy_scalar(med)


defcomposite(np.median, median)


def _nanmedian(a, axis=None, out=None, overwrite_input=False, keepdims=_NOVALUE):
    """The median of each slice's entries that are not NaN (NaN for a slice of NaNs only)."""
    a = _arr(a)
    axes, b, n = _gathered(a, axis)
    if n == 0:
        med = np.mean(b, axis=-1)  # NumPy's nan
    else:
        s = np.sort(b, axis=-1)  # NaNs last
        count = np.sum(~np.isnan(strip(b)), axis=-1, keepdims=True)
        lo = np.maximum((count - 1) // 2, 0)
        hi = np.minimum(count // 2, n - 1)
        s_lo = np.take_along_axis(s, lo, axis=-1)[..., 0]
        s_hi = np.take_along_axis(s, hi, axis=-1)[..., 0]
        med = np.where((lo == hi)[..., 0], s_lo, (s_lo + s_hi) / 2)
        if np.any(count == 0):
            med = np.where(count[..., 0] == 0, np.nan, med)
    if _kd(keepdims):
        med = np.reshape(med, tuple(1 if i in axes else k for i, k in enumerate(a.shape)))
    return numpy_scalar(med)


@library_values(np.nanmedian)
def nanmedian(a, axis=None, out=None, overwrite_input=False, keepdims=_NOVALUE):
    """``np.nanmedian``: NumPy's values; the gradient goes to the middle non-NaN entries of each
    slice (half each for an even count), as :func:`median`'s."""
    a = _arr(a)
    if a.dtype.kind not in "fc":
        return np.median(a, axis=axis, keepdims=_kd(keepdims))
    return _nanmedian(a, axis, keepdims=keepdims)


defcomposite(np.nanmedian, nanmedian)


def trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    """``np.trace`` = the sum of ``np.diagonal``."""
    return np.sum(np.diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype)


defcomposite(np.trace, trace)

# ---------------------------------------------------------------- ufunc methods


def add_reduce(a, axis=0, dtype=None, out=None, keepdims=False, initial=_NOVALUE, where=True):
    return np.sum(a, axis=axis, dtype=dtype, keepdims=keepdims, initial=initial, where=where)


def multiply_reduce(a, axis=0, dtype=None, out=None, keepdims=False, initial=_NOVALUE, where=True):
    return np.prod(a, axis=axis, dtype=dtype, keepdims=keepdims, initial=initial, where=where)


def _extremum_reduce(func):
    def extremum_reduce(a, axis=0, dtype=None, out=None, keepdims=False, initial=_NOVALUE, where=True):
        if dtype is not None:
            a = a.astype(dtype)
        return func(a, axis=axis, keepdims=keepdims, initial=initial, where=where)

    extremum_reduce.__name__ = f"{func.__name__}_reduce"
    return extremum_reduce


def _accumulate(func, ufunc):
    def accumulate(a, axis=0, dtype=None, out=None):
        if axis is None or isinstance(axis, tuple):
            raise ValueError("accumulate does not allow multiple axes")
        return func(a, axis=axis, dtype=dtype)

    accumulate.__name__ = f"{ufunc.__name__}_accumulate"
    return accumulate


register((np.add, "reduce"), add_reduce, "composite")
register((np.multiply, "reduce"), multiply_reduce, "composite")
register((np.maximum, "reduce"), _extremum_reduce(np.max), "composite")
register((np.minimum, "reduce"), _extremum_reduce(np.min), "composite")
register((np.add, "accumulate"), _accumulate(np.cumsum, np.add), "composite")
register((np.multiply, "accumulate"), _accumulate(np.cumprod, np.multiply), "composite")

# ---------------------------------------------------------------- nan-variants


def _nan_free(a, fill):
    a = _arr(a)
    return np.where(np.isnan(a), fill, a) if a.dtype.kind in "fc" else a


def _not_nan(a, where):
    ok = ~np.isnan(a) if a.dtype.kind in "fc" else np.ones(a.shape, bool)
    where = _wh(where)
    return ok if where is True else ok & where


def nansum(a, axis=None, dtype=None, out=None, keepdims=False, initial=_NOVALUE, where=True):
    """``np.nansum``: NaNs count as zero (and get no gradient)."""
    kw = {"initial": initial} if _given(initial) else {}
    return np.sum(_nan_free(a, 0), axis=axis, dtype=dtype, keepdims=_kd(keepdims), where=_wh(where), **kw)


def nanprod(a, axis=None, dtype=None, out=None, keepdims=False, initial=_NOVALUE, where=True):
    """``np.nanprod``: NaNs count as one (and get no gradient)."""
    kw = {"initial": initial} if _given(initial) else {}
    return np.prod(_nan_free(a, 1), axis=axis, dtype=dtype, keepdims=_kd(keepdims), where=_wh(where), **kw)


def nanmean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
    """``np.nanmean``: the mean over the entries that are not NaN."""
    a = _arr(a)
    if a.dtype.kind not in "fc":
        return np.mean(a, axis=axis, dtype=dtype, keepdims=_kd(keepdims), where=_wh(where))
    # NumPy's: the sum of the NaN-free array (over ``where`` only) over the count of non-NaN entries
    keepdims, where = _kd(keepdims), _wh(where)
    tot = np.sum(_nan_free(a, 0), axis=axis, dtype=dtype, keepdims=keepdims, where=where)
    return _divide_count(tot, _count(a.shape, axis, _not_nan(a, where), keepdims))


def nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True, mean=_NOVALUE,
           correction=_NOVALUE):
    """``np.nanvar``: the variance over the entries that are not NaN; NaN (NumPy's, positive) where
    the degrees of freedom ``count - ddof`` are <= 0."""
    a = _arr(a)
    if a.dtype.kind not in "fc":
        return var(a, axis, dtype, None, ddof, keepdims, where=where, mean=mean, correction=correction)
    if _given(correction):
        if ddof != 0:
            raise ValueError("ddof and correction can't be provided simultaneously.")
        ddof = correction
    # NumPy's steps: sums over the NaN-free array (NaNs as zeros, only ``where`` masking), the count
    # of non-NaN entries, deviations zeroed at the NaNs, complex squared as ``d * conj(d)``
    kd, wh = _kd(keepdims), _wh(where)
    ok = _not_nan(a, wh)
    arr = _nan_free(a, 0)
    if _given(mean):
        avg = mean
    else:
        avg = _divide_count(np.sum(arr, axis=axis, dtype=dtype, keepdims=True, where=wh),
                            _count(a.shape, axis, ok, True))
    d = arr - avg
    if d.dtype != arr.dtype:  # NumPy subtracts in place into the array
        d = d.astype(arr.dtype)
    d = np.where(ok, d, 0)
    sq = np.real(d * np.conj(d)) if d.dtype.kind == "c" else d * d
    v = np.sum(sq, axis=axis, dtype=dtype, keepdims=kd, where=wh)
    dof = _count(a.shape, axis, ok, kd) - ddof
    with np.errstate(divide="ignore", invalid="ignore"):
        v = _divide_count(v, dof)
    if np.any(dof <= 0):
        v = np.where(dof <= 0, np.nan, v)
        if v.ndim == 0:
            v = np.positive(v)  # NumPy's scalar, as a ufunc gives for a 0-d array (same bits)
    return v


def nanstd(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True, mean=_NOVALUE,
           correction=_NOVALUE):
    """``np.nanstd`` = ``sqrt(nanvar)``."""
    return _sqrt0(nanvar(a, axis, dtype, None, ddof, keepdims, where=where, mean=mean, correction=correction))


def _nanextremum(func, fill):
    def nanextremum(a, axis=None, out=None, keepdims=False, initial=_NOVALUE, where=True):
        a = _arr(a)
        kw = {"initial": initial} if _given(initial) else {}
        keepdims, where = _kd(keepdims), _wh(where)
        r = func(_nan_free(a, fill), axis=axis, keepdims=keepdims, where=where, **kw)
        if a.dtype.kind in "fc":
            allnan = np.all(np.isnan(a) | ~np.broadcast_to(where, a.shape), axis=axis, keepdims=keepdims)
            if np.any(allnan):
                r = np.where(allnan, np.nan, r)
        return r

    nanextremum.__name__ = f"nan{func.__name__}"
    return nanextremum


def nancumsum(a, axis=None, dtype=None, out=None):
    return np.cumsum(_nan_free(a, 0), axis=axis, dtype=dtype)


def nancumprod(a, axis=None, dtype=None, out=None):
    return np.cumprod(_nan_free(a, 1), axis=axis, dtype=dtype)


for _f, _impl in [
    (np.nansum, nansum), (np.nanprod, nanprod), (np.nanmean, nanmean), (np.nanvar, nanvar),
    (np.nanstd, nanstd), (np.nanmax, _nanextremum(np.max, -np.inf)),
    (np.nanmin, _nanextremum(np.min, np.inf)), (np.nancumsum, nancumsum), (np.nancumprod, nancumprod),
]:
    defcomposite(_f, _impl)

# ---------------------------------------------------------------- no gradient

for _f in (np.any, np.all, np.count_nonzero):
    defnondiff(_f)

