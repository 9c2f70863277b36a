"""Rules: ``scipy.interpolate``'s cubic Hermite interpolants built from traced data
(``CubicHermiteSpline``, ``PchipInterpolator``, ``Akima1DInterpolator`` in both methods, and
``pchip_interpolate``).

A cubic Hermite spline is linear in its data ``(y, dydx)`` for fixed knots: one evaluation
primitive of the ``interpolate`` family (``E(data, xq)``, SciPy's own evaluation) covers it, the
data being ``y`` and the slopes stacked along the knot axis. ``CubicHermiteSpline`` takes the
slopes given; PCHIP and Akima compute them from ``y``, nonlinearly: here with SciPy's own
formulas on the traced values (the same operations, so the same slopes bit for bit, and so
SciPy's values), written with ``np.where`` where SciPy assigns through masks, and with the
divisions that a mask discards guarded, so that no NaN of an unused branch reaches a gradient.
Derivatives in the query points and in the data come from the evaluation primitive (any order);
the slopes' own derivatives from their formulas (piecewise: at a tie of PCHIP's monotonicity
tests or of Akima's weights the derivative is one side's, as for ``np.maximum``).

Traced knots ``x`` raise :class:`~pullback.NoRuleError`, as for ``CubicSpline``, and so do the
methods without a rule (``derivative``, ``antiderivative``, ``integrate``, ``roots``) of an
interpolant built from traced data.

Examples
--------
>>> import numpy as np, pullback as pb
>>> from scipy.interpolate import PchipInterpolator
>>> x = np.arange(5.0)
>>> y = np.array([0.0, 1.0, 4.0, 9.0, 16.0])
>>> g = pb.gradient(lambda v: PchipInterpolator(x, v)(2.5), y)[0]
>>> bool(np.isclose(g.sum(), 1.0))  # adding a constant to y adds it to the interpolant
True
"""

from __future__ import annotations

import numpy as np
import scipy.interpolate as S
from scipy.interpolate._cubic import prepare_input

from ..core import strip
from .interpolate import (
    ORIGINALS,
    _become_traced,
    _hook,
    _Model1D,
    _no_rule,
    _spline_call,
    _traced,
)
from .registry import array_like, defcomposite


class HermiteModel(_Model1D):
    """``CubicHermiteSpline(x, y, dydx)`` with the data ``concatenate([y, dydx])`` (``2n`` rows)."""

    def __init__(self, x, n, extrapolate, call_extrapolate):
        self.x, self.n, self.ext, self.call_ext = x, 2 * n, extrapolate, call_extrapolate
        self.h = self

    def value(self, data, xq, nu):
        n = self.n // 2
        spline = ORIGINALS["CubicHermiteSpline"](self.x, data[:n], data[n:], axis=0, extrapolate=self.ext)
        return spline(xq, nu, self.call_ext)


def _checked(x, y, axis, dydx=None):
    """SciPy's ``prepare_input`` (its errors), on the plain values; the traced data moved as it moves
    them: ``(x, y, dydx, axis)`` with the knot axis first."""
    if _traced(x):
        raise _no_rule("a cubic Hermite interpolant with traced knots x (differentiate w.r.t. y and the "
                       "query points)")
    y = array_like(y)
    dydx = None if dydx is None else array_like(dydx)
    xs, _, _, axis, _ = prepare_input(x, strip(y), axis, None if dydx is None else strip(dydx), xp=np)
    complex_data = y.dtype.kind == "c" or (dydx is not None and dydx.dtype.kind == "c")
    dtype = np.complex128 if complex_data else np.float64
    y = np.moveaxis(y.astype(dtype), axis, 0)
    if dydx is not None:
        dydx = np.moveaxis(dydx.astype(dtype), axis, 0)
    return xs, y, dydx, axis


def _build(self, x, y, dydx, axis, extrapolate):
    """Make ``self`` SciPy's spline of the plain values, then the traced twin evaluating the data."""
    ORIGINALS["CubicHermiteSpline.__init__"](self, x, strip(y), strip(dydx), axis=0, extrapolate=extrapolate)
    self.axis = axis
    model = HermiteModel(x, y.shape[0], self.extrapolate, None)
    _become_traced(self, model, np.concatenate([y, dydx]), _spline_call)


def cubic_hermite_init(self, x, y, dydx, axis=0, extrapolate=None):
    x, y, dydx, axis = _checked(x, y, axis, dydx)
    _build(self, x, y, dydx, axis, True if extrapolate is None else extrapolate)


# ---------------------------------------------------------------- PCHIP


def _column(v, ndim):
    return np.reshape(v, (v.shape[0],) + (1,) * (ndim - 1))


def _guarded(mask, v):
    """``v`` where ``mask``, else 1 (a divisor whose quotient the mask discards)."""
    return np.where(mask, v, 1.0)


def _pchip_edge(h0, h1, m0, m1):
    """SciPy's ``PchipInterpolator._edge_case`` (its masked assignments as selections)."""
    d = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
    mask = np.sign(strip(d)) != np.sign(strip(m0))
    mask2 = (np.sign(strip(m0)) != np.sign(strip(m1))) & (np.abs(strip(d)) > 3.0 * np.abs(strip(m0)))
    mmm = ~mask & mask2
    return np.where(mask, 0.0, np.where(mmm, 3.0 * m0, d))


def pchip_slopes(x, y):
    """SciPy's ``PchipInterpolator._find_derivatives`` (``y`` with the knot axis first)."""
    x = _column(x, max(y.ndim, 2))
    shape = y.shape
    if y.ndim == 1:
        y = np.reshape(y, (-1, 1))
    hk = x[1:] - x[:-1]
    mk = (y[1:] - y[:-1]) / hk
    if y.shape[0] == 2:
        return np.reshape(np.concatenate([mk, mk]), shape)
    m = strip(mk)
    smk = np.sign(m)
    condition = (smk[1:] != smk[:-1]) | (m[1:] == 0) | (m[:-1] == 0)
    w1 = 2 * hk[1:] + hk[:-1]
    w2 = hk[1:] + 2 * hk[:-1]
    use = ~condition
    whmean = (w1 / _guarded(use, mk[:-1]) + w2 / _guarded(use, mk[1:])) / (w1 + w2)
    inner = np.where(use, 1.0 / _guarded(use, whmean), 0.0)
    first = _pchip_edge(hk[0], hk[1], mk[0], mk[1])
    last = _pchip_edge(hk[-1], hk[-2], mk[-1], mk[-2])
    return np.reshape(np.concatenate([np.expand_dims(first, 0), inner, np.expand_dims(last, 0)]), shape)


def pchip_init(self, x, y, axis=0, extrapolate=None):
    if np.result_type(strip(y)).kind == "c":
        ORIGINALS["PchipInterpolator.__init__"](self, x, strip(y), axis, extrapolate)  # SciPy's error
    x, y, _, axis = _checked(x, y, axis)
    _build(self, x, y, pchip_slopes(x, y), axis, True if extrapolate is None else extrapolate)


# ---------------------------------------------------------------- Akima


def akima_slopes(x, y, method):
    """The slopes of SciPy's ``Akima1DInterpolator`` (``y`` with the knot axis first)."""
    dx = np.diff(x)
    if y.shape[0] == 2:
        mk = (y[1:] - y[:-1]) / _column(dx, y.ndim)
        return np.concatenate([mk, mk])
    inner = np.diff(y, axis=0) / _column(dx, y.ndim)
    left1 = 2.0 * inner[0] - inner[1]
    left0 = 2.0 * left1 - inner[0]
    right1 = 2.0 * inner[-1] - inner[-2]
    right0 = 2.0 * right1 - inner[-1]
    row = np.expand_dims
    m = np.concatenate([row(left0, 0), row(left1, 0), inner, row(right1, 0), row(right0, 0)])
    t = 0.5 * (m[3:] + m[:-3])
    dm = np.abs(np.diff(m, axis=0))
    if method == "makima":
        pm = np.abs(m[1:] + m[:-1])
        f1 = dm[2:] + 0.5 * pm[2:]
        f2 = dm[:-2] + 0.5 * pm[:-2]
    else:
        f1 = dm[2:]
        f2 = dm[:-2]
    f12 = f1 + f2
    plain = strip(f12)
    mmax = np.max(plain) if plain.size > 0 else -np.inf
    defined = plain > 1.0e-9 * mmax
    weighted = m[1:-2] + (f2 / _guarded(defined, f12)) * (m[2:-1] - m[1:-2])
    return np.where(defined, weighted, t)


def akima_init(self, x, y, axis=0, *, method="akima", extrapolate=None):
    if method not in {"akima", "makima"} or np.result_type(strip(y)).kind == "c":
        ORIGINALS["Akima1DInterpolator.__init__"](self, x, strip(y), axis, method=method,
                                                  extrapolate=extrapolate)  # SciPy's error
    x, y, _, axis = _checked(x, y, axis)
    _build(self, x, y, akima_slopes(x, y, method), axis, False if extrapolate is None else extrapolate)


def pchip_interpolate(xi, yi, x, der=0, axis=0):
    """``scipy.interpolate.pchip_interpolate``: the PCHIP interpolant at ``x`` (its derivatives:
    ``derivative`` of a traced interpolant has no rule)."""
    if der != 0:
        raise _no_rule("pchip_interpolate with der != 0 of traced data (use "
                       "PchipInterpolator(xi, yi)(x, nu=der))")
    return S.PchipInterpolator(xi, yi, axis=axis)(x)


ORIGINALS["CubicHermiteSpline"] = S.CubicHermiteSpline
_hook(S.CubicHermiteSpline, "__init__", "CubicHermiteSpline.__init__", cubic_hermite_init)
_hook(S.PchipInterpolator, "__init__", "PchipInterpolator.__init__", pchip_init)
_hook(S.Akima1DInterpolator, "__init__", "Akima1DInterpolator.__init__", akima_init)
defcomposite(S.pchip_interpolate, pchip_interpolate)
_hook(S, "pchip_interpolate", "pchip_interpolate", pchip_interpolate)
