"""Rules: scipy.fft — unmodified SciPy code differentiates, every DCT and DST included.

SciPy dispatches ``scipy.fft`` through uarray, not through NumPy's protocols, so
pullback registers a uarray backend (:class:`Backend`, domain ``numpy.scipy.fft``).
It answers only calls whose arguments hold a traced value, by the handler that the
registry holds for the SciPy function; every other call gets ``NotImplemented`` and
goes on to the backend the user chose (SciPy's pocketfft, pyFFTW, CuPy's...).

Registered backends are tried after ``set_backend``'s and ``set_global_backend``'s. A
backend tried before ours that converts its input (pyFFTW's) hits the traced array's
``__array__``, whose error is also uarray's ``BackendNotImplementedError``
(:class:`~pullback.errors.TracedArrayConversionError`): uarray treats that as "not
mine" and moves on to us. The transforms themselves, forward and adjoint, run on
plain arrays through the public ``scipy.fft`` functions, so they use the user's
backend, ``workers`` and ``set_workers``.

The FFTs reuse the numpy.fft primitives (``c2c``, ``r2c``, ``c2r``, ``resize``) and
argument handling of :mod:`pullback.rules.fft`, with SciPy's rules for ``s``/``axes``
and SciPy's own exceptions. ``hfftn(x) = irfftn(conj x)`` and ``ihfftn(x) =
conj(rfftn x)``, each with the norm swapped.

Every DCT and DST is one linear primitive, ``r2r(x, kind, type, s, axes, norm,
orthogonalize)``. Along each axis SciPy computes ``y = c * po * K(pi * x)``: ``K`` the
unnormalised kernel of pocketfft's type (``idct`` of type 2 runs type 3, and the
reverse), ``c`` the norm's scalar, ``pi``/``po`` the orthogonalisation factors, which
differ from 1 only at the first and last bin. The kernels transpose to each other up
to end-bin factors (``K^T = l * K'(r * .)``), so the adjoint of any call is the
inverse-kind call of the same type with the norm swapped (the same ``c``), between
two end-bin scale vectors; with ``norm="ortho"`` and orthogonalisation both vectors
are 1 (the transform is orthogonal). See :data:`_ORTHO` and :data:`_TRANSPOSE`.

``fht`` and ``ifht`` are self-adjoint: each is ``post * J * R(pre * a)`` with ``R`` a
real circulant (an ``rfft``, a product, an ``irfft``), ``J`` the flip (so ``J R`` is a
symmetric Hankel matrix) and ``post`` a scalar multiple of ``pre``.

Examples
--------
>>> import numpy as np, scipy.fft, pullback as pb
>>> x = np.array([1.0, 2.0, 3.0, 4.0])
>>> (g,) = pb.gradient(lambda x: np.sum(scipy.fft.dct(x, norm="ortho") ** 2), x)
>>> np.allclose(g, 2 * x)  # an orthogonal transform keeps the norm
True
"""

from __future__ import annotations

import functools
import numbers
import operator

import numpy as np
import scipy.fft as sfft

from .. import lazy
from ..core import Tracer, strip
from ..engines import fft as engine
from ..errors import NoRuleError
from . import fft as F
from .registry import FUNCTIONS, defcomposite, deflinear, move_traced_kwargs, value_of

# ---------------------------------------------------------------- SciPy's argument rules


class _NoAxes(Exception):
    """No axis to transform: SciPy returns the input itself (fftn, dctn) or raises (rfftn, irfftn)."""


def _ints(v):
    if isinstance(v, numbers.Number):
        v = (v,)
    return [operator.index(a) for a in v]


def _cook(x, s, axes, invreal):
    """SciPy's ``_init_nd_shape_and_axes`` (and irfftn's default last length)."""
    shape, ndim = x.shape, x.ndim
    if axes is not None:
        axes = [a + ndim if a < 0 else a for a in _ints(axes)]
        if any(a >= ndim or a < 0 for a in axes) or len(set(axes)) != len(axes):
            raise F._Invalid
    noshape = s is None
    if not noshape:
        s = _ints(s)
        if axes and len(axes) != len(s):
            raise F._Invalid
        if axes is None:
            if len(s) > ndim:
                raise F._Invalid
            axes = list(range(ndim - len(s), ndim))
        s = [shape[a] if n == -1 else n for n, a in zip(s, axes, strict=False)]  # SciPy's zip
    elif axes is None:
        s, axes = list(shape), list(range(ndim))
    else:
        s = [shape[a] for a in axes]
    if invreal and noshape and axes:
        # pocketfft reads a last length of 0 (one bin) as 2 * 1 - 1: SciPy's irfftn gives 1 point
        s[-1] = (shape[axes[-1]] - 1) * 2 or 1
    if any(n < 1 for n in s):
        raise F._Invalid
    if not axes:
        raise _NoAxes
    return tuple(s), tuple(axes)


def _cook1(x, s, axes, invreal):
    """The 1-D functions' rules: one axis, ``n`` positive (``-1`` is no default here)."""
    (a,) = axes
    ndim = x.ndim
    a = operator.index(a)
    if not -ndim <= a < ndim:
        raise F._Invalid
    a %= ndim
    if s is None:
        n = (x.shape[a] - 1) * 2 if invreal else x.shape[a]
    else:
        n = operator.index(s[0])
    if n < 1:
        raise F._Invalid
    return (n,), (a,)


def _one(n):
    return None if n is None else (n,)


def _traced(v) -> bool:
    if isinstance(v, Tracer):
        return True
    if type(v) in (list, tuple):
        return any(map(_traced, v))
    return False


def _array(x):
    """A list or tuple holding traced values, stacked into one traced array."""
    if type(x) in (list, tuple) and _traced(x):
        return np.stack([_array(v) for v in x])
    return x


def _kw(**kwargs):
    """Keyword arguments for a call of the real function: ``None`` values left out (pyFFTW
    knows neither ``plan`` nor ``orthogonalize``)."""
    return {k: v for k, v in kwargs.items() if v is not None}


def _check_plan(func, args, kw, plan):
    if plan is not None:
        func(*args, **kw)  # SciPy's pocketfft raises NotImplementedError; a backend may accept it


# ---------------------------------------------------------------- the FFTs, on numpy.fft's primitives


def _c2c(func, x, s, axes, norm, forward, workers, plan, rest, cook=_cook):
    x = _array(x)
    args, kw = (strip(x), *rest), _kw(workers=workers, plan=plan)
    _check_plan(func, args, kw, plan)
    try:
        return F._c2c_call(func, x, s, axes, norm, forward, args, kwargs=kw, cook=cook, workers=workers)
    except _NoAxes:
        return x  # SciPy returns the input itself


def _no_axes(func, args, kw):
    func(*args, **kw)  # SciPy: "at least 1 axis must be transformed"
    raise ValueError("at least 1 axis must be transformed")


def _r2c(func, x, s, axes, norm, workers, plan, rest, cook=_cook, hermitian=False):
    x = _array(x)
    args, kw = (strip(x), *rest), _kw(workers=workers, plan=plan)
    _check_plan(func, args, kw, plan)
    if hermitian and norm not in F._NORMS:
        func(*args, **kw)
    try:
        if hermitian:  # ihfft: conj(rfft) with the norm swapped
            y = F._r2c_call(func, x, s, axes, F.swap_norm(norm), args, kwargs=kw, cook=cook, workers=workers)
            # SciPy's kernel runs the backward r2c and sets the imaginary parts of the zero and
            # Nyquist bins to +0.0, where conj gives -0.0: the value is SciPy's own call's
            return value_of(np.conj(y), func(*args, **kw))
        return F._r2c_call(func, x, s, axes, norm, args, kwargs=kw, cook=cook, workers=workers)
    except _NoAxes:
        _no_axes(func, args, kw)


def _c2r(func, x, s, axes, norm, workers, plan, rest, cook=_cook, hermitian=False):
    x = _array(x)
    args, kw = (strip(x), *rest), _kw(workers=workers, plan=plan)
    _check_plan(func, args, kw, plan)
    if hermitian:  # hfft: irfft of the conjugate with the norm swapped
        if norm not in F._NORMS:
            func(*args, **kw)
        x, norm = np.conj(x), F.swap_norm(norm)
    try:
        return F._c2r_call(func, x, s, axes, norm, args, kwargs=kw, cook=cook, workers=workers)
    except _NoAxes:
        _no_axes(func, args, kw)


def fft(x, n=None, axis=-1, norm=None, overwrite_x=False, workers=None, *, plan=None):
    """``scipy.fft.fft`` on a traced array (``overwrite_x`` is a permission pullback never uses)."""
    return _c2c(sfft.fft, x, _one(n), (axis,), norm, True, workers, plan, (n, axis, norm), _cook1)


def ifft(x, n=None, axis=-1, norm=None, overwrite_x=False, workers=None, *, plan=None):
    """``scipy.fft.ifft`` on a traced array."""
    return _c2c(sfft.ifft, x, _one(n), (axis,), norm, False, workers, plan, (n, axis, norm), _cook1)


def fft2(x, s=None, axes=(-2, -1), norm=None, overwrite_x=False, workers=None, *, plan=None):
    """``scipy.fft.fft2`` on a traced array."""
    return _c2c(sfft.fft2, x, s, axes, norm, True, workers, plan, (s, axes, norm))


def ifft2(x, s=None, axes=(-2, -1), norm=None, overwrite_x=False, workers=None, *, plan=None):
    """``scipy.fft.ifft2`` on a traced array."""
    return _c2c(sfft.ifft2, x, s, axes, norm, False, workers, plan, (s, axes, norm))


def fftn(x, s=None, axes=None, norm=None, overwrite_x=False, workers=None, *, plan=None):
    """``scipy.fft.fftn`` on a traced array."""
    return _c2c(sfft.fftn, x, s, axes, norm, True, workers, plan, (s, axes, norm))


def ifftn(x, s=None, axes=None, norm=None, overwrite_x=False, workers=None, *, plan=None):
    """``scipy.fft.ifftn`` on a traced array."""
    return _c2c(sfft.ifftn, x, s, axes, norm, False, workers, plan, (s, axes, norm))


def rfft(x, n=None, axis=-1, norm=None, overwrite_x=False, workers=None, *, plan=None):
    """``scipy.fft.rfft`` on a traced array."""
    return _r2c(sfft.rfft, x, _one(n), (axis,), norm, workers, plan, (n, axis, norm), _cook1)


def rfft2(x, s=None, axes=(-2, -1), norm=None, overwrite_x=False, workers=None, *, plan=None):
    """``scipy.fft.rfft2`` on a traced array."""
    return _r2c(sfft.rfft2, x, s, axes, norm, workers, plan, (s, axes, norm))


def rfftn(x, s=None, axes=None, norm=None, overwrite_x=False, workers=None, *, plan=None):
    """``scipy.fft.rfftn`` on a traced array."""
    return _r2c(sfft.rfftn, x, s, axes, norm, workers, plan, (s, axes, norm))


def irfft(x, n=None, axis=-1, norm=None, overwrite_x=False, workers=None, *, plan=None):
    """``scipy.fft.irfft`` on a traced array."""
    return _c2r(sfft.irfft, x, _one(n), (axis,), norm, workers, plan, (n, axis, norm), _cook1)


def irfft2(x, s=None, axes=(-2, -1), norm=None, overwrite_x=False, workers=None, *, plan=None):
    """``scipy.fft.irfft2`` on a traced array."""
    return _c2r(sfft.irfft2, x, s, axes, norm, workers, plan, (s, axes, norm))


def irfftn(x, s=None, axes=None, norm=None, overwrite_x=False, workers=None, *, plan=None):
    """``scipy.fft.irfftn`` on a traced array."""
    return _c2r(sfft.irfftn, x, s, axes, norm, workers, plan, (s, axes, norm))


def hfft(x, n=None, axis=-1, norm=None, overwrite_x=False, workers=None, *, plan=None):
    """``scipy.fft.hfft``: ``irfft(conj(x))`` with the norm swapped."""
    return _c2r(sfft.hfft, x, _one(n), (axis,), norm, workers, plan, (n, axis, norm), _cook1, True)


def hfft2(x, s=None, axes=(-2, -1), norm=None, overwrite_x=False, workers=None, *, plan=None):
    """``scipy.fft.hfft2``: ``irfft2(conj(x))`` with the norm swapped."""
    return _c2r(sfft.hfft2, x, s, axes, norm, workers, plan, (s, axes, norm), _cook, True)


def hfftn(x, s=None, axes=None, norm=None, overwrite_x=False, workers=None, *, plan=None):
    """``scipy.fft.hfftn``: ``irfftn(conj(x))`` with the norm swapped."""
    return _c2r(sfft.hfftn, x, s, axes, norm, workers, plan, (s, axes, norm), _cook, True)


def ihfft(x, n=None, axis=-1, norm=None, overwrite_x=False, workers=None, *, plan=None):
    """``scipy.fft.ihfft``: ``conj(rfft(x))`` with the norm swapped."""
    return _r2c(sfft.ihfft, x, _one(n), (axis,), norm, workers, plan, (n, axis, norm), _cook1, True)


def ihfft2(x, s=None, axes=(-2, -1), norm=None, overwrite_x=False, workers=None, *, plan=None):
    """``scipy.fft.ihfft2``: ``conj(rfft2(x))`` with the norm swapped."""
    return _r2c(sfft.ihfft2, x, s, axes, norm, workers, plan, (s, axes, norm), _cook, True)


def ihfftn(x, s=None, axes=None, norm=None, overwrite_x=False, workers=None, *, plan=None):
    """``scipy.fft.ihfftn``: ``conj(rfftn(x))`` with the norm swapped."""
    return _r2c(sfft.ihfftn, x, s, axes, norm, workers, plan, (s, axes, norm), _cook, True)


# ---------------------------------------------------------------- DCT and DST: one primitive

_INVERSE = {"dct": "idct", "idct": "dct", "dst": "idst", "idst": "dst"}

# Scale vectors are 1 except at the first and last bin; they are written as the exponents
# (first, last) of sqrt(2) there, so products and quotients stay exact.
_ONE = (0, 0)

#: pocketfft's orthogonalisation (SciPy's docs for dct/dst, ``orthogonalize=True``):
#: (family, pocketfft type) -> (pi, po), the factors on the input and on the output.
#: DCT-I: x[0], x[N-1] times sqrt(2), y[0], y[N-1] divided by sqrt(2); DCT-II: y[0]
#: divided by sqrt(2); DCT-III: x[0] times sqrt(2); DST-II/III: the same at bin N-1.
#: DST-I and both type IVs have none.
_ORTHO = {
    ("dct", 1): ((1, 1), (-1, -1)),
    ("dct", 2): (_ONE, (-1, 0)),
    ("dct", 3): ((1, 0), _ONE),
    ("dst", 2): (_ONE, (0, -1)),
    ("dst", 3): ((0, 1), _ONE),
}

#: The unnormalised kernels' transposes: (family, type) -> (l, r) with K^T = l * K'(r * .),
#: K' the kernel of the paired type (2 <-> 3; 1 and 4 pair with themselves). From SciPy's
#: formulas: DCT-I weighs x[0] and x[N-1] by 1 and the rest by 2, so K1^T = K1 with the
#: ends of the input doubled and of the output halved; DCT-III weighs x[0] by 1, the rest
#: by 2, so K2^T = K3(r * .) with r doubling bin 0 and K3^T = l * K2 with l halving bin 0;
#: DST-III weighs x[N-1] by 1 (the same at the last bin); DST-I and type IV are symmetric.
_TRANSPOSE = {
    ("dct", 1): ((-2, -2), (2, 2)),
    ("dct", 2): (_ONE, (2, 0)),
    ("dct", 3): ((-2, 0), _ONE),
    ("dst", 2): (_ONE, (0, 2)),
    ("dst", 3): ((0, -2), _ONE),
}


def _pocket(kind, type):
    """The family and pocketfft type that SciPy's ``kind`` of ``type`` runs."""
    if kind[0] == "i" and type in (2, 3):
        type = 5 - type
    return kind.lstrip("i"), type


@functools.cache
def _complex_keeps_default_ortho() -> bool:
    """Whether SciPy ignores ``orthogonalize`` for complex input (1.17 does: it transforms the
    real and imaginary parts without passing it on, so the norm's default applies)."""
    x = np.array([1.0, 0.0])
    with sfft.set_backend("scipy", only=True):
        a = sfft.dct(x + 0j, norm="ortho", orthogonalize=False)
        b = sfft.dct(x, norm="ortho", orthogonalize=False)
    return not np.allclose(a.real, b)


def _effective_ortho(orthogonalize, norm, dtype) -> bool:
    """Whether the transform of an input of ``dtype`` is orthogonalised."""
    default = norm == "ortho"
    if orthogonalize is None or bool(orthogonalize) == default:
        return default
    if np.dtype(dtype).kind == "c" and _complex_keeps_default_ortho():
        return default
    return bool(orthogonalize)


@functools.cache
def adjoint_scales(kind, type, norm, ortho) -> tuple:
    """``(pre, post)``: ``r2r(kind, type, norm)^T = post * r2r(inverse kind, type, swapped norm)(pre * .)``.

    Exponents of sqrt(2) at the (first, last) bin. The call is ``c * po * K(pi * .)``, so
    its transpose is ``c * pi * l * K'(r * po * .)``; the inverse-kind call with the norm
    swapped is ``c * po' * K'(pi' * .)`` with the same ``c`` and ``K'``, orthogonalised
    exactly when ``norm == "ortho"``. Hence ``pre = r + po - pi'``, ``post = pi + l - po'``.
    """
    here = _pocket(kind, type)
    pi, po = _ORTHO.get(here, (_ONE, _ONE)) if ortho else (_ONE, _ONE)
    left, right = _TRANSPOSE.get(here, (_ONE, _ONE))
    there = _pocket(_INVERSE[kind], type)
    pi2, po2 = _ORTHO.get(there, (_ONE, _ONE)) if norm == "ortho" else (_ONE, _ONE)
    pre = tuple(a + b - c for a, b, c in zip(right, po, pi2, strict=True))
    post = tuple(a + b - c for a, b, c in zip(pi, left, po2, strict=True))
    return pre, post


def _ends(n, exps, dtype):
    """The scale vector of length ``n``: sqrt(2) ** exps at the first and last bin, 1 elsewhere."""
    v = np.ones(n, dtype=dtype)
    v[0] *= 2.0 ** (exps[0] / 2)
    v[-1] *= 2.0 ** (exps[1] / 2)
    return v


def _real_dtype(x):
    return strip(x).real.dtype


def _scale_ends(y, axes, exps):
    """``y`` times the end-bin scale vector along each of ``axes`` (no-op when it is 1)."""
    if exps == _ONE:
        return y
    dtype = _real_dtype(y)
    for a in axes:
        shape = [1] * y.ndim
        shape[a] = y.shape[a]
        y = y * _ends(y.shape[a], exps, dtype).reshape(shape)
    return y


def r2r_raw(x, kind, type, s, axes, norm, orthogonalize, workers=None):
    """SciPy's ``dctn``/``idctn``/``dstn``/``idstn`` on a plain array (the user's backend)."""
    return engine.r2r(x, kind, type, s, axes, norm, orthogonalize, workers)


def r2r_adjoint(g, shape, dtype, kind, type, s, axes, norm, orthogonalize, workers=None):
    """The inverse-kind transform of the same type, swapped norm, between end-bin scales."""
    pre, post = adjoint_scales(kind, type, norm, _effective_ortho(orthogonalize, norm, dtype))
    inverse, swapped = _INVERSE[kind], F.swap_norm(norm)
    if F._constant_along(g, axes):
        # a broadcast constant (the cotangent of sum): the transform of an outer product
        # of 1-D vectors is the outer product of their 1-D transforms, O(N) in all
        out = g[tuple(slice(0, 1) if a in axes else slice(None) for a in range(g.ndim))]
        for a, n in zip(axes, s, strict=True):
            e = _ends(n, pre, g.real.dtype)
            col = r2r_raw(e, inverse, type, (n,), (0,), swapped, None, workers) * _ends(n, post, g.real.dtype)
            out = out * col.reshape([n if b == a else 1 for b in range(g.ndim)])
        return F._resize_back(out, shape, axes)
    y = r2r(_scale_ends(g, axes, pre), inverse, type, s, axes, swapped, None, workers=workers)
    return F._resize_back(_scale_ends(y, axes, post), shape, axes)


r2r = deflinear("r2r", r2r_adjoint, raw=r2r_raw, name="scipy.fft.r2r", key=False)


def _r2r(func, kind, x, type, s, axes, norm, workers, orthogonalize, rest, cook=_cook):
    x = _array(x)
    args, kw = (strip(x), *rest), _kw(workers=workers, orthogonalize=orthogonalize)
    try:
        x, s, axes = F._prepare(func, x, s, axes, norm, 0, args, kw, cook)
    except _NoAxes:
        return x  # SciPy returns the input itself
    if type not in (1, 2, 3, 4):
        func(*args, **kw)  # SciPy's own error
        raise ValueError(f"invalid transform type {type!r}")
    return r2r(F._as_inexact(x), kind, type, s, axes, norm, orthogonalize, workers=workers)


def dct(x, type=2, n=None, axis=-1, norm=None, overwrite_x=False, workers=None, orthogonalize=None):
    """``scipy.fft.dct`` on a traced array."""
    return _r2r(sfft.dct, "dct", x, type, _one(n), (axis,), norm, workers, orthogonalize,
                (type, n, axis, norm), _cook1)


def idct(x, type=2, n=None, axis=-1, norm=None, overwrite_x=False, workers=None, orthogonalize=None):
    """``scipy.fft.idct`` on a traced array."""
    return _r2r(sfft.idct, "idct", x, type, _one(n), (axis,), norm, workers, orthogonalize,
                (type, n, axis, norm), _cook1)


def dst(x, type=2, n=None, axis=-1, norm=None, overwrite_x=False, workers=None, orthogonalize=None):
    """``scipy.fft.dst`` on a traced array."""
    return _r2r(sfft.dst, "dst", x, type, _one(n), (axis,), norm, workers, orthogonalize,
                (type, n, axis, norm), _cook1)


def idst(x, type=2, n=None, axis=-1, norm=None, overwrite_x=False, workers=None, orthogonalize=None):
    """``scipy.fft.idst`` on a traced array."""
    return _r2r(sfft.idst, "idst", x, type, _one(n), (axis,), norm, workers, orthogonalize,
                (type, n, axis, norm), _cook1)


def dctn(x, type=2, s=None, axes=None, norm=None, overwrite_x=False, workers=None, *, orthogonalize=None):
    """``scipy.fft.dctn`` on a traced array: one N-d call, per-axis scale vectors."""
    return _r2r(sfft.dctn, "dct", x, type, s, axes, norm, workers, orthogonalize, (type, s, axes, norm))


def idctn(x, type=2, s=None, axes=None, norm=None, overwrite_x=False, workers=None, *, orthogonalize=None):
    """``scipy.fft.idctn`` on a traced array."""
    return _r2r(sfft.idctn, "idct", x, type, s, axes, norm, workers, orthogonalize, (type, s, axes, norm))


def dstn(x, type=2, s=None, axes=None, norm=None, overwrite_x=False, workers=None, orthogonalize=None):
    """``scipy.fft.dstn`` on a traced array."""
    return _r2r(sfft.dstn, "dst", x, type, s, axes, norm, workers, orthogonalize, (type, s, axes, norm))


def idstn(x, type=2, s=None, axes=None, norm=None, overwrite_x=False, workers=None, *, orthogonalize=None):
    """``scipy.fft.idstn`` on a traced array."""
    return _r2r(sfft.idstn, "idst", x, type, s, axes, norm, workers, orthogonalize, (type, s, axes, norm))


# ---------------------------------------------------------------- fast Hankel transforms


def fht_raw(a, dln, mu, offset=0.0, bias=0.0):
    if lazy.is_dask(a):
        return lazy.fht(a, False, dln, mu, offset, bias)
    return sfft.fht(a, dln, mu, offset=offset, bias=bias)


def ifht_raw(A, dln, mu, offset=0.0, bias=0.0):
    if lazy.is_dask(A):
        return lazy.fht(A, True, dln, mu, offset, bias)
    return sfft.ifht(A, dln, mu, offset=offset, bias=bias)


def fht_adjoint(g, shape, dtype, dln, mu, offset=0.0, bias=0.0):
    """``fht`` is self-adjoint (see the module docstring)."""
    return _fht(g, dln, mu, offset, bias)


def ifht_adjoint(g, shape, dtype, dln, mu, offset=0.0, bias=0.0):
    """``ifht`` is self-adjoint."""
    return _ifht(g, dln, mu, offset, bias)


_fht = deflinear("fht", fht_adjoint, raw=fht_raw, name="scipy.fft.fht", key=False)
_ifht = deflinear("ifht", ifht_adjoint, raw=ifht_raw, name="scipy.fft.ifht", key=False)


def fht(a, dln, mu, offset=0.0, bias=0.0):
    """``scipy.fft.fht`` on a traced array (linear in ``a``; the other arguments are constants)."""
    return _fht(_array(a), dln, mu, offset, bias)


def ifht(A, dln, mu, offset=0.0, bias=0.0):
    """``scipy.fft.ifht`` on a traced array."""
    return _ifht(_array(A), dln, mu, offset, bias)


for _f in (
    fft, ifft, fft2, ifft2, fftn, ifftn, rfft, irfft, rfft2, irfft2, rfftn, irfftn,
    hfft, ihfft, hfft2, ihfft2, hfftn, ihfftn,
    dct, idct, dst, idst, dctn, idctn, dstn, idstn, fht, ifht,
):
    defcomposite(getattr(sfft, _f.__name__), _f)

# fftshift/ifftshift run numpy.fft's (whose rules apply); fftfreq, rfftfreq,
# next_fast_len and prev_fast_len take no arrays: none is dispatched by uarray.

# ---------------------------------------------------------------- the uarray backend


class Backend:
    """pullback's ``scipy.fft`` backend: traced calls only, by the registry's handlers."""

    __ua_domain__ = "numpy.scipy.fft"

    @staticmethod
    def __ua_function__(method, args, kwargs):
        if not (any(map(_traced, args)) or any(map(_traced, kwargs.values()))):
            return NotImplemented  # plain arrays: the user's backend
        handler = FUNCTIONS.get(method)
        if handler is None:
            raise NoRuleError(f"scipy.fft.{method.__name__}")
        if any(isinstance(v, Tracer) for v in kwargs.values()):
            args, kwargs = move_traced_kwargs(method, args, kwargs)
        return handler(*args, **kwargs)


sfft.register_backend(Backend)
engine.OWN_BACKENDS.add(Backend)  # it takes traced values only: the engine's fast path stays on
