"""Rules: ``scipy.stats`` univariate distributions (pdf, logpdf, cdf, ..., pmf, logpmf).

Every continuous distribution's ``pdf``, ``logpdf``, ``cdf``, ``logcdf``, ``sf``, ``logsf``,
``ppf`` and ``isf`` is one generic method of ``rv_continuous`` (and of ``rv_discrete`` for
``pmf``, ``logpmf``, ...), which converts its arguments with ``np.asarray``. Those generic
methods are intercepted (:mod:`pullback.intercept`), once: unfrozen calls
(``stats.norm.logpdf(x, loc, scale)``, positional or keyword), frozen ones
(``stats.norm(loc, scale).logpdf(x)``, which call the same methods through ``self.dist``;
freezing stores the parameters untouched, and computes the support's endpoints from their
plain values) and SciPy's internal calls all reach the rule; plain calls run SciPy's code
unchanged. A traced call dispatches on the distribution's class to a table of formulas
(norm, t, chi2, gamma, beta, lognorm, expon, laplace, cauchy, uniform, logistic, weibull_min,
vonmises, invgamma, pareto, halfnorm, halfcauchy, rayleigh, gumbel_r, gumbel_l, lomax,
invgauss, genextreme, loggamma, betaprime, maxwell, chi, powerlaw, gompertz, exponnorm,
skewnorm, genpareto, nakagami, rice, f, foldnorm, triang; poisson, binom, nbinom, geom), in
SciPy's parametrisation and support. Any other distribution's ``cdf``, ``sf``, ``logcdf``,
``logsf``, ``ppf`` and ``isf`` still differentiate in ``x`` (or ``q``), ``loc`` and ``scale``,
since those derivatives need only SciPy's own pdf (below); its ``pdf``/``logpdf`` in those, and
any shape parameter, raise :class:`pullback.NoRuleError` naming the distribution, the method
and the argument (so does a second derivative that would need the density's derivative).

**Values** are SciPy's own: each (distribution, method) is a primitive whose value is the
original method on the plain arguments. **Derivatives** are formulas in NumPy and
``scipy.special`` calls (and the public distribution methods themselves), so they are
differentiated in turn: higher orders and forward mode come free. With
``z = (x - loc) / scale`` and a distribution given by its standard log-density ``l(z; θ)``,
its ``∂l/∂z`` and ``∂l/∂θ``, and the shape derivative ``∂F/∂θ`` of its standard cdf where a
closed form exists:

- ``logpdf``: ``∂/∂x = l_z / scale``, ``∂/∂loc = -l_z / scale``,
  ``∂/∂scale = -(1 + z l_z) / scale``, ``∂/∂θ = l_θ``; ``pdf``: the same times the pdf.
- ``cdf``: ``∂/∂x = pdf``, ``∂/∂loc = -pdf``, ``∂/∂scale = -z pdf``, ``∂/∂θ = F_θ``;
  ``sf`` the negatives; ``logcdf``/``logsf`` divide by ``cdf``/``sf``
  (``pdf/cdf = exp(logpdf - logcdf)``, stable in the tails).
- ``ppf`` and ``isf`` (implicit function theorem on ``cdf(x) = q``, ``sf(x) = q``):
  ``∂x/∂q = ±1 / pdf(x)``, ``∂x/∂loc = 1``, ``∂x/∂scale = z``, ``∂x/∂θ = -F_θ / pdf(x)``.

``F_θ`` in closed form: lognorm, weibull_min, pareto, lomax, powerlaw, gompertz (elementary);
invgauss (``-2/μ² exp(2/μ) Φ(-(z/μ + 1)/√z)``: the φ terms cancel), exponnorm, foldnorm
(normal cdfs and densities), skewnorm (``∂T(h, a)/∂a`` of Owen's T), rice (``∂Q₁/∂b`` of
Marcum's Q: ``-z exp(-(z-b)²/2) i1e(zb)``), triang; genextreme and genpareto, whose shape
may cross 0 (Gumbel, exponential), through ``-log1p(-v)/v`` and
``(v/(1-v) + log1p(-v))/v²`` of ``v = ±cz``, summed as their Taylor series for ``|v| < 0.1``
(accurate at and across ``c = 0``, in every order of derivative). Where ``F_θ`` has no closed form (the cdf of
``t`` in ``df``, ``chi2`` in ``df``, ``gamma`` in ``a``, ``beta`` in ``a``, ``b``,
``vonmises`` in ``kappa``, ``invgamma`` in ``a``, ``loggamma`` in ``c``, ``betaprime`` in
``a``, ``b``, ``chi`` in ``df``, ``nakagami`` in ``nu``, ``f`` in ``dfn``, ``dfd``,
``nbinom`` in ``n``: incomplete gamma/beta functions in their shape parameter, which
``scipy.special``'s rules do not differentiate either), a traced shape parameter of ``cdf``,
``logcdf``, ``sf``, ``logsf``, ``ppf`` or ``isf`` raises :class:`pullback.NoRuleError` naming
the distribution, the method and the parameter. Outside the support (a zero density, a log
of 0) the derivatives are zero; where SciPy's value is nan (invalid parameters) they are nan.

**Discrete distributions** (poisson, binom, nbinom, geom): ``pmf``/``logpmf`` differentiate in
the continuous parameters (``∂ log pmf/∂θ = l_θ(k)``); ``cdf``, ``sf``, ``logcdf``, ``logsf``
where ``∂cdf/∂θ`` has a closed form at ``k = floor(k - loc)``: poisson ``-pmf(k; mu)``, binom
``-n pmf(k; n - 1, p)``, nbinom ``(n + k) pmf(k) / p``, geom ``k pmf(k) / p``. The integer
variable ``k``, ``loc`` and binom's integer ``n`` carry no gradient (the functions are
piecewise constant in them, as ``np.floor`` is): a traced value there is used as a constant.
``ppf`` and ``isf`` of a discrete distribution are integer-valued step functions: their
output carries no gradient. Other discrete distributions: ``k`` and ``loc`` likewise carry no
gradient; a traced shape parameter raises :class:`pullback.NoRuleError`.

A list of traced numbers (as ``x`` or a parameter) is stacked, as SciPy's ``np.asarray`` reads
it. ``support()`` is ``loc + scale * (a, b)`` (an infinite endpoint is a constant; a support that
depends on a traced shape raises :class:`pullback.NoRuleError`). A continuous distribution's
``expect`` runs SciPy's steps (three ``quad`` calls) traced, for traced parameters, limits or a
``func`` closing over traced values.

Examples
--------
>>> import numpy as np, pullback as pb, scipy.stats as st
>>> pb.gradient(lambda mu, s: np.sum(st.norm.logpdf([0.5, 1.0], mu, s)), 0.0, 1.0)
(1.5, -0.75)
>>> pb.gradient(lambda s: st.norm(0.0, s).cdf(1.0), np.array(2.0))[0]  # -z pdf(x)
array(-0.08801633)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.special as sc
from scipy.stats import _continuous_distns as C
from scipy.stats import _discrete_distns as Dd
from scipy.stats import _distn_infrastructure as D

from ..core import Tracer, strip
from ..errors import NoRuleError, TracedConversionError
from ..intercept import original, route
from .callables import intercept_always
from .elementwise import horner
from .registry import (
    any_traced,
    array_like,
    defcomposite,
    defvjp,
    like_value,
    numeric,
    strip_tree,
)

CONTINUOUS_METHODS = ("pdf", "logpdf", "cdf", "logcdf", "sf", "logsf", "ppf", "isf")
DISCRETE_METHODS = ("pmf", "logpmf", "cdf", "logcdf", "sf", "logsf")
#: (kind, method) -> the function running SciPy's own code
ORIGINALS: dict[tuple[str, str], Callable] = {}

_SQRT_2PI = float(np.sqrt(2 * np.pi))
_LOG2 = float(np.log(2))


# ---------------------------------------------------------------- helpers (differentiable)


def _where(mask, v):
    """``v`` where ``mask`` (a constant), 0 elsewhere."""
    return np.where(mask, v, 0.0)


def _safe_log(z):
    """``log z`` where ``z > 0`` and 0 elsewhere (no infinities for the masked-out entries)."""
    pos = strip(z) > 0
    return np.where(pos, np.log(np.where(pos, z, 1.0)), 0.0)


def _zeros(z):
    return np.zeros(np.shape(strip(z)))


class Spec:
    """A distribution by its formulas: ``lz(dist, z, *shapes)`` is ∂l/∂z of its standard
    log-density (log-pmf in ``k`` for a discrete one), ``lshapes[i]`` ∂l/∂θ_i, ``fshapes[i]``
    ∂F/∂θ_i of its standard cdf (None: no closed form), ``constant``: indices of shapes that
    carry no gradient (binom's n)."""

    def __init__(self, lz, lshapes=(), fshapes=(), constant=()):
        self.lz, self.lshapes, self.fshapes, self.constant = lz, tuple(lshapes), tuple(fshapes), constant


# ---------------------------------------------------------------- continuous formulas


def norm_lz(dist, z):
    return -z


def t_lz(dist, z, df):
    return -(df + 1) * z / (df + z * z)


def t_ldf(dist, z, df):
    z2 = z * z
    return 0.5 * (sc.digamma((df + 1) / 2) - sc.digamma(df / 2) - 1 / df - np.log1p(z2 / df)
                  + (df + 1) * z2 / (df * (df + z2)))


def chi2_lz(dist, z, df):
    return (df / 2 - 1) / z - 0.5


def chi2_ldf(dist, z, df):
    return 0.5 * (_safe_log(z) - _LOG2 - sc.digamma(df / 2))


def gamma_lz(dist, z, a):
    return (a - 1) / z - 1


def gamma_la(dist, z, a):
    return _safe_log(z) - sc.digamma(a)


def beta_lz(dist, z, a, b):
    return (a - 1) / z - (b - 1) / (1 - z)


def beta_la(dist, z, a, b):
    return _safe_log(z) + sc.digamma(a + b) - sc.digamma(a)


def beta_lb(dist, z, a, b):
    return _safe_log(1 - z) + sc.digamma(a + b) - sc.digamma(b)


def lognorm_lz(dist, z, s):
    return -(1 + _safe_log(z) / (s * s)) / z


def lognorm_ls(dist, z, s):
    lz = _safe_log(z)
    return -1 / s + lz * lz / (s * s * s)


def lognorm_fs(dist, z, s):
    u = _safe_log(z) / s
    return _where(strip(z) > 0, -np.exp(-u * u / 2) / _SQRT_2PI * u / s)


def expon_lz(dist, z):
    return _zeros(z) - 1.0


def laplace_lz(dist, z):
    return -np.sign(z)


def cauchy_lz(dist, z):
    return -2 * z / (1 + z * z)


def uniform_lz(dist, z):
    return _zeros(z)


def logistic_lz(dist, z):
    return -np.tanh(z / 2)


def weibull_min_lz(dist, z, c):
    return (c - 1) / z - c * z ** (c - 1)


def weibull_min_lc(dist, z, c):
    return 1 / c + (1 - z**c) * _safe_log(z)


def weibull_min_fc(dist, z, c):
    zc = np.where(strip(z) > 0, z, 1.0) ** c
    return _where(strip(z) > 0, np.exp(-zc) * zc * _safe_log(z))


def vonmises_lz(dist, z, kappa):
    return -kappa * np.sin(z)


def vonmises_lkappa(dist, z, kappa):
    return np.cos(z) - sc.i1e(kappa) / sc.i0e(kappa)


# -- distributions added in a second batch; SciPy's parametrisation and support throughout
#    (``_continuous_distns.py``): l is the standard log-density, F the standard cdf.

_LOG_SQRT_2PI = float(np.log(np.sqrt(2 * np.pi)))
_SERIES_BELOW = 0.1  # |v| below which the series of _log1p_ratio and _log1p_curv are used
_G_COEFFS = tuple(1 / n for n in range(1, 18))  # -log1p(-v)/v = sum v^(n-1)/n
_H_COEFFS = tuple((n - 1) / n for n in range(2, 19))  # (v/(1-v) + log1p(-v))/v^2


def _series_or(v, coeffs, direct):
    """``direct(v)`` away from 0, its Taylor series (``coeffs``) for ``|v| < 0.1``: smooth
    through ``v = 0``, where ``direct`` cancels, so every order of derivative is accurate."""
    small = np.abs(strip(v)) < _SERIES_BELOW
    return np.where(small, horner(coeffs, v), direct(np.where(small, 0.5, v)))


def _log1p_ratio(v):
    """``-log1p(-v) / v`` (1 at ``v = 0``)."""
    return _series_or(v, _G_COEFFS, lambda v: -np.log1p(-v) / v)


def _log1p_curv(v):
    """``(v / (1 - v) + log1p(-v)) / v**2`` (1/2 at ``v = 0``)."""
    return _series_or(v, _H_COEFFS, lambda v: (v / (1 - v) + np.log1p(-v)) / (v * v))


def _mills(w):
    """``φ(w) / Φ(w)``, in logarithms (``log_ndtr`` is accurate in both tails)."""
    return np.exp(-0.5 * w * w - _LOG_SQRT_2PI - sc.log_ndtr(w))


def _inside(z, mask):
    """``z`` where ``mask``, a harmless point (the support's) elsewhere: no nan enters a derivative."""
    return np.where(mask, z, 1.0)


def invgamma_lz(dist, z, a):
    return (1 / z - (a + 1)) / z


def invgamma_la(dist, z, a):
    return -_safe_log(z) - sc.digamma(a)


def pareto_lz(dist, z, b):
    return -(b + 1) / z


def pareto_lb(dist, z, b):
    return 1 / b - _safe_log(z)


def pareto_fb(dist, z, b):  # F = 1 - z^-b (z >= 1)
    lz = _safe_log(z)
    return _where(strip(z) > 1, np.exp(-b * lz) * lz)


def rayleigh_lz(dist, z):
    return 1 / z - z


def maxwell_lz(dist, z):
    return 2 / z - z


def gumbel_r_lz(dist, z):
    return np.expm1(-z)


def gumbel_l_lz(dist, z):
    return -np.expm1(z)


def lomax_lz(dist, z, c):
    return -(c + 1) / (1 + z)


def lomax_lc(dist, z, c):
    return 1 / c - np.log1p(_inside(z, strip(z) > 0))


def lomax_fc(dist, z, c):  # F = 1 - (1 + z)^-c
    pos = strip(z) > 0
    l1 = np.log1p(_inside(z, pos))
    return _where(pos, np.exp(-c * l1) * l1)


def invgauss_lz(dist, z, mu):
    return (0.5 / z - 1.5) / z - 0.5 / (mu * mu)


def invgauss_lmu(dist, z, mu):
    return (z - mu) / (mu * mu * mu)


def invgauss_fmu(dist, z, mu):
    # F = Φ((z/mu - 1)/√z) + exp(2/mu) Φ(-(z/mu + 1)/√z); the two φ terms of ∂F/∂mu cancel
    pos = strip(z) > 0
    zs = _inside(z, pos)
    return _where(pos, -2 / (mu * mu) * np.exp(2 / mu + sc.log_ndtr(-(zs / mu + 1) / np.sqrt(zs))))


# genextreme: l = -e^y + y - log1p(-cz) with y = log1p(-cz)/c = -z G(cz) (-z at c = 0),
# F = exp(-e^y); ∂y/∂c = -z² H(cz). G and H by series near cz = 0 (c = 0 is Gumbel's).


def _genextreme_parts(z, c):
    inside = strip(1 - c * z) > 0
    zs = np.where(inside, z, 0.0)
    w = c * zs
    return inside, zs, w, -zs * _log1p_ratio(w)


def genextreme_lz(dist, z, c):
    inside, zs, w, y = _genextreme_parts(z, c)
    return _where(inside, (np.exp(y) - 1 + c) / (1 - w))


def genextreme_lc(dist, z, c):
    inside, zs, w, y = _genextreme_parts(z, c)
    yc = -zs * zs * _log1p_curv(w)
    return _where(inside, yc * (1 - np.exp(y)) + zs / (1 - w))


def genextreme_fc(dist, z, c):
    inside, zs, w, y = _genextreme_parts(z, c)
    return _where(inside, zs * zs * _log1p_curv(w) * np.exp(y - np.exp(y)))


def loggamma_lz(dist, z, c):
    return c - np.exp(z)


def loggamma_lc(dist, z, c):
    return z - sc.digamma(c)


def betaprime_lz(dist, z, a, b):
    return (a - 1) / z - (a + b) / (1 + z)


def betaprime_la(dist, z, a, b):
    return _safe_log(z) - np.log1p(_inside(z, strip(z) > 0)) + sc.digamma(a + b) - sc.digamma(a)


def betaprime_lb(dist, z, a, b):
    return -np.log1p(_inside(z, strip(z) > 0)) + sc.digamma(a + b) - sc.digamma(b)


def chi_lz(dist, z, df):
    return (df - 1) / z - z


def chi_ldf(dist, z, df):
    return _safe_log(z) - 0.5 * (_LOG2 + sc.digamma(df / 2))


def powerlaw_lz(dist, z, a):
    return (a - 1) / z


def powerlaw_la(dist, z, a):
    return 1 / a + _safe_log(z)


def powerlaw_fa(dist, z, a):  # F = z^a on [0, 1]
    lz = _safe_log(z)
    zz = strip(z)
    return _where((zz > 0) & (zz < 1), np.exp(a * lz) * lz)


def gompertz_lz(dist, z, c):
    return 1 - c * np.exp(z)


def gompertz_lc(dist, z, c):
    return 1 / c - np.expm1(z)


def gompertz_fc(dist, z, c):  # F = 1 - exp(-c expm1(z))
    pos = strip(z) > 0
    e = np.expm1(_inside(z, pos))
    return _where(pos, e * np.exp(-c * e))


# exponnorm: l = (1/(2K) - z)/K + log Φ(z - 1/K) - log K


def exponnorm_lz(dist, z, K):
    return _mills(z - 1 / K) - 1 / K


def exponnorm_lK(dist, z, K):
    m = z - 1 / K
    return (m + _mills(m)) / (K * K) - 1 / K


def exponnorm_fK(dist, z, K):
    # F = Φ(z) - P, P = exp((1/(2K) - z)/K + log Φ(m)), m = z - 1/K; P φ(m)/Φ(m) = φ(z)
    m = z - 1 / K
    p = np.exp((0.5 / K - z) / K + sc.log_ndtr(m))
    return -(p * m + np.exp(-0.5 * z * z - _LOG_SQRT_2PI)) / (K * K)


# skewnorm: l = log 2 + log φ(z) + log Φ(az); F = Φ(z) - 2 T(z, a) (Owen's T)


def skewnorm_lz(dist, z, a):
    return a * _mills(a * z) - z


def skewnorm_la(dist, z, a):
    return z * _mills(a * z)


def skewnorm_fa(dist, z, a):
    s = 1 + a * a
    return -np.exp(-0.5 * z * z * s) / (np.pi * s)


# genpareto: l = -y - log1p(cz), y = log1p(cz)/c = z G(-cz) (z at c = 0), 1 - F = exp(-y),
# ∂y/∂c = -z² H(-cz); support z >= 0, and z <= -1/c for c < 0


def _genpareto_parts(z, c):
    zz = strip(z)
    inside = (zz >= 0) & (strip(1 + c * z) > 0)
    zs = np.where(inside, z, 0.0)
    return inside, zs, c * zs


def genpareto_lz(dist, z, c):
    inside, zs, w = _genpareto_parts(z, c)
    return _where(inside, -(1 + c) / (1 + w))


def genpareto_lc(dist, z, c):
    inside, zs, w = _genpareto_parts(z, c)
    return _where(inside, zs * zs * _log1p_curv(-w) - zs / (1 + w))


def genpareto_fc(dist, z, c):
    inside, zs, w = _genpareto_parts(z, c)
    return _where(inside, -np.exp(-zs * _log1p_ratio(-w)) * zs * zs * _log1p_curv(-w))


def nakagami_lz(dist, z, nu):
    return (2 * nu - 1) / z - 2 * nu * z


def nakagami_lnu(dist, z, nu):
    return np.log(nu) + 1 - sc.digamma(nu) + 2 * _safe_log(z) - z * z


# rice: l = log z - (z² + b²)/2 + log I0(zb); 1 - F = Marcum Q1(b, z), ∂Q1/∂b = z e^(-(z²+b²)/2) I1(zb)


def _bessel_ratio(v):
    """``I1(v) / I0(v)`` from the exponentially scaled functions (no overflow)."""
    return sc.i1e(v) / sc.i0e(v)


def rice_lz(dist, z, b):
    return 1 / z - z + b * _bessel_ratio(z * b)


def rice_lb(dist, z, b):
    return z * _bessel_ratio(z * b) - b


def rice_fb(dist, z, b):
    pos = strip(z) > 0
    zs = _inside(z, pos)
    d = zs - b
    return _where(pos, -zs * np.exp(-0.5 * d * d) * sc.i1e(zs * b))


# f: l = (m log m + n log n)/2 + (n/2 - 1) log z - (n+m)/2 log(m + nz) - B(n/2, m/2) (n = dfn, m = dfd)


def f_lz(dist, z, dfn, dfd):
    return (dfn / 2 - 1) / z - (dfn + dfd) / 2 * dfn / (dfd + dfn * z)


def _f_common(z, dfn, dfd):
    zs = _inside(z, strip(z) > 0)
    u = dfd + dfn * zs
    return zs, u, 0.5 * (sc.digamma((dfn + dfd) / 2) + 1 - np.log(u))


def f_ldfn(dist, z, dfn, dfd):
    zs, u, common = _f_common(z, dfn, dfd)
    return common + 0.5 * (np.log(dfn) + _safe_log(z) - sc.digamma(dfn / 2)) - (dfn + dfd) * zs / (2 * u)


def f_ldfd(dist, z, dfn, dfd):
    zs, u, common = _f_common(z, dfn, dfd)
    return common + 0.5 * (np.log(dfd) - sc.digamma(dfd / 2)) - (dfn + dfd) / (2 * u)


# foldnorm: pdf = φ(z - c) + φ(z + c) = φ(z - c) (1 + e^(-2cz)) on z >= 0; F = Φ(z-c) + Φ(z+c) - 1


def foldnorm_lz(dist, z, c):
    return c * np.tanh(c * z) - z


def foldnorm_lc(dist, z, c):
    return z * np.tanh(c * z) - c


def foldnorm_fc(dist, z, c):
    pos = strip(z) > 0
    zs = _inside(z, pos)
    return _where(pos, (np.exp(-0.5 * (zs + c) ** 2) - np.exp(-0.5 * (zs - c) ** 2)) / _SQRT_2PI)


# triang: pdf = 2z/c (z < c), 2(1-z)/(1-c) (z >= c) on [0, 1]; F = z²/c, 1 - (1-z)²/(1-c)


def _triang_parts(z, c):
    left = strip(z) < strip(c)
    cc = strip(c)
    return left, np.where(cc > 0, c, 1.0), np.where(cc < 1, 1 - c, 1.0)


def triang_lz(dist, z, c):
    left, cl, cr = _triang_parts(z, c)
    return np.where(left, 1 / _inside(z, left), -1 / _inside(1 - z, ~left))


def triang_lc(dist, z, c):
    left, cl, cr = _triang_parts(z, c)
    return np.where(left, -1 / cl, 1 / cr)


def triang_fc(dist, z, c):
    left, cl, cr = _triang_parts(z, c)
    zz = strip(z)
    u = np.where(left, z / cl, (1 - z) / cr)
    return _where((zz > 0) & (zz < 1), -u * u)


CONTINUOUS: dict[type, Spec] = {
    C.norm_gen: Spec(norm_lz),
    C.t_gen: Spec(t_lz, [t_ldf], [None]),
    C.chi2_gen: Spec(chi2_lz, [chi2_ldf], [None]),
    C.gamma_gen: Spec(gamma_lz, [gamma_la], [None]),
    C.beta_gen: Spec(beta_lz, [beta_la, beta_lb], [None, None]),
    C.lognorm_gen: Spec(lognorm_lz, [lognorm_ls], [lognorm_fs]),
    C.expon_gen: Spec(expon_lz),
    C.laplace_gen: Spec(laplace_lz),
    C.cauchy_gen: Spec(cauchy_lz),
    C.uniform_gen: Spec(uniform_lz),
    C.logistic_gen: Spec(logistic_lz),
    C.weibull_min_gen: Spec(weibull_min_lz, [weibull_min_lc], [weibull_min_fc]),
    C.vonmises_gen: Spec(vonmises_lz, [vonmises_lkappa], [None]),
    C.invgamma_gen: Spec(invgamma_lz, [invgamma_la], [None]),
    C.pareto_gen: Spec(pareto_lz, [pareto_lb], [pareto_fb]),
    C.halfnorm_gen: Spec(norm_lz),
    C.halfcauchy_gen: Spec(cauchy_lz),
    C.rayleigh_gen: Spec(rayleigh_lz),
    C.gumbel_r_gen: Spec(gumbel_r_lz),
    C.gumbel_l_gen: Spec(gumbel_l_lz),
    C.lomax_gen: Spec(lomax_lz, [lomax_lc], [lomax_fc]),
    C.invgauss_gen: Spec(invgauss_lz, [invgauss_lmu], [invgauss_fmu]),
    C.genextreme_gen: Spec(genextreme_lz, [genextreme_lc], [genextreme_fc]),
    C.loggamma_gen: Spec(loggamma_lz, [loggamma_lc], [None]),
    C.betaprime_gen: Spec(betaprime_lz, [betaprime_la, betaprime_lb], [None, None]),
    C.maxwell_gen: Spec(maxwell_lz),
    C.chi_gen: Spec(chi_lz, [chi_ldf], [None]),
    C.powerlaw_gen: Spec(powerlaw_lz, [powerlaw_la], [powerlaw_fa]),
    C.gompertz_gen: Spec(gompertz_lz, [gompertz_lc], [gompertz_fc]),
    C.exponnorm_gen: Spec(exponnorm_lz, [exponnorm_lK], [exponnorm_fK]),
    C.skewnorm_gen: Spec(skewnorm_lz, [skewnorm_la], [skewnorm_fa]),
    C.genpareto_gen: Spec(genpareto_lz, [genpareto_lc], [genpareto_fc]),
    C.nakagami_gen: Spec(nakagami_lz, [nakagami_lnu], [None]),
    C.rice_gen: Spec(rice_lz, [rice_lb], [rice_fb]),
    C.f_gen: Spec(f_lz, [f_ldfn, f_ldfd], [None, None]),
    C.foldnorm_gen: Spec(foldnorm_lz, [foldnorm_lc], [foldnorm_fc]),
    C.triang_gen: Spec(triang_lz, [triang_lc], [triang_fc]),
}


# ---------------------------------------------------------------- discrete formulas


def poisson_lmu(dist, k, mu):
    return k / mu - 1


def poisson_fmu(dist, k, mu):
    return -dist.pmf(k, mu)


def binom_lp(dist, k, n, p):
    return k / p - (n - k) / (1 - p)


def binom_fp(dist, k, n, p):
    return -n * dist.pmf(k, n - 1, p)


def nbinom_ln(dist, k, n, p):
    return sc.digamma(k + n) - sc.digamma(n) + np.log(p)


def nbinom_lp(dist, k, n, p):
    return n / p - k / (1 - p)


def nbinom_fp(dist, k, n, p):
    return (n + k) / p * dist.pmf(k, n, p)


def geom_lp(dist, k, p):
    return 1 / p - (k - 1) / (1 - p)


def geom_fp(dist, k, p):
    return k / p * dist.pmf(k, p)


DISCRETE: dict[type, Spec] = {
    Dd.poisson_gen: Spec(None, [poisson_lmu], [poisson_fmu]),
    Dd.binom_gen: Spec(None, [None, binom_lp], [None, binom_fp], constant=(0,)),
    Dd.nbinom_gen: Spec(None, [nbinom_ln, nbinom_lp], [None, nbinom_fp]),
    Dd.geom_gen: Spec(None, [geom_lp], [geom_fp]),
}


# ---------------------------------------------------------------- partial derivatives by method
#
# Continuous primitives take (x, loc, scale, *shapes, dist=...); ``partial(spec, i)`` returns
# d(ans, x, loc, scale, *shapes, dist) = ∂ method / ∂ argument i.


def _pdf_at(dist, x, loc, scale, shapes):
    return dist.pdf(x, *shapes, loc=loc, scale=scale)


def _logpdf_at(dist, x, loc, scale, shapes):
    return dist.logpdf(x, *shapes, loc=loc, scale=scale)


def _dlogpdf(spec, i, ans, x, loc, scale, shapes, dist):
    """∂ logpdf / ∂ argument i (x, loc, scale, shapes...)."""
    z = (x - loc) / scale
    if i >= 3:
        return spec.lshapes[i - 3](dist, z, *shapes)
    lz = spec.lz(dist, z, *shapes)
    if i == 0:
        return lz / scale
    if i == 1:
        return -lz / scale
    return -(1 + z * lz) / scale


def _dcdf(spec, i, x, loc, scale, shapes, dist):
    """∂ cdf / ∂ argument i."""
    z = (x - loc) / scale
    if i >= 3:
        return spec.fshapes[i - 3](dist, z, *shapes)
    pdf = _pdf_at(dist, x, loc, scale, shapes)
    return (pdf, -pdf, -z * pdf)[i]


def _ratio(dist, x, loc, scale, shapes, log_denominator):
    """``pdf(x) / exp(log_denominator)``, formed in logarithms."""
    return np.exp(_logpdf_at(dist, x, loc, scale, shapes) - log_denominator)


def _quantile(spec, i, ans, q, loc, scale, shapes, dist, sign):
    """∂ ppf / ∂ argument i (sign +1), or ∂ isf (sign -1): ``ans`` is the quantile x."""
    if i == 1:
        return np.ones(np.shape(strip(ans)))
    if i == 2:
        return (ans - loc) / scale
    inv_pdf = np.exp(-_logpdf_at(dist, ans, loc, scale, shapes))
    if i == 0:
        return sign * inv_pdf
    z = (ans - loc) / scale
    return -spec.fshapes[i - 3](dist, z, *shapes) * inv_pdf


def _finish(a, d, zero):
    """The derivative ``d``, 0 where ``zero`` (outside the support: a constant value there), nan
    where the value ``a`` is nan (invalid parameters)."""
    if zero is not None and np.any(zero):
        d = np.where(zero, 0.0, d)
    bad = np.isnan(a)
    if np.any(bad):
        d = np.where(bad, np.nan, d)
    return d


_LOG_METHODS = ("logpdf", "logcdf", "logsf", "logpmf")


def _outside(method, a):
    """Where the value is constant because it lies outside the support: log 0, or 0 of a density."""
    if method in _LOG_METHODS:
        return a == -np.inf
    if method in ("pdf", "pmf"):
        return a == 0
    return None


def _continuous_partial(method: str, spec: Spec, i: int) -> Callable:
    def formula(ans, x, loc, scale, shapes, dist):
        if method == "logpdf":
            return _dlogpdf(spec, i, ans, x, loc, scale, shapes, dist)
        if method == "pdf":
            return ans * _dlogpdf(spec, i, ans, x, loc, scale, shapes, dist)
        if method in ("cdf", "sf"):
            d = _dcdf(spec, i, x, loc, scale, shapes, dist)
            return d if method == "cdf" else -d
        if method in ("logcdf", "logsf"):
            sign = 1 if method == "logcdf" else -1
            if i < 3:
                r = _ratio(dist, x, loc, scale, shapes, ans)
                return sign * (r, -r, -(x - loc) / scale * r)[i]
            return sign * _dcdf(spec, i, x, loc, scale, shapes, dist) * np.exp(-ans)
        return _quantile(spec, i, ans, x, loc, scale, shapes, dist, 1 if method == "ppf" else -1)

    def partial(ans, x, loc, scale, *shapes, dist):
        with np.errstate(all="ignore"):
            a = strip(ans)
            return _finish(a, formula(ans, x, loc, scale, shapes, dist), _outside(method, a))

    arg = ("x", "loc", "scale")[i] if i < 3 else f"shape{i - 3}"
    partial.__name__ = partial.__qualname__ = f"{method}_d{arg}"
    return partial


# Discrete primitives take (k, loc, *shapes, dist=...): k and loc are constants.


def _discrete_partial(method: str, spec: Spec, i: int) -> Callable:
    j = i - 2

    def formula(ans, k, loc, shapes, dist):
        if method in ("pmf", "logpmf"):
            d = spec.lshapes[j](dist, k - loc, *shapes)
            return d if method == "logpmf" else ans * d
        d = spec.fshapes[j](dist, np.floor(k - loc), *shapes)
        if method == "sf":
            return -d
        if method == "logcdf":
            return d * np.exp(-ans)
        if method == "logsf":
            return -d * np.exp(-ans)
        return d

    def partial(ans, k, loc, *shapes, dist):
        with np.errstate(all="ignore"):
            a = strip(ans)
            return _finish(a, formula(ans, k, loc, shapes, dist), _outside(method, a))

    partial.__name__ = partial.__qualname__ = f"{method}_dshape{j}"
    return partial


# ---------------------------------------------------------------- primitives


def _vjp(d: Callable) -> Callable:
    def vjp(g, ans, *args, **kwargs):
        return g * d(ans, *args, **kwargs)

    vjp.__name__ = vjp.__qualname__ = f"{d.__name__}_vjp"
    return vjp


def _jvp(d: Callable) -> Callable:
    def jvp(t, ans, *args, **kwargs):
        return t * d(ans, *args, **kwargs)

    jvp.__name__ = jvp.__qualname__ = f"{d.__name__}_jvp"
    return jvp


_RULES: dict[tuple[type, str], Any] = {}


def _rule(cls: type, dist: Any, method: str, discrete: bool):
    """The primitive of (x, loc, scale, *shapes) (discrete: (k, loc, *shapes)) for one method of
    one distribution class: SciPy's value, the formulas' derivatives."""
    key = (cls, method)
    rule = _RULES.get(key)
    if rule is not None:
        return rule
    spec = _spec(cls, discrete)
    n = len(spec.lshapes)
    orig = ORIGINALS[("discrete" if discrete else "continuous", method)]
    if discrete:

        def raw(k, loc, *shapes, dist):
            return numeric(orig(dist, k, *shapes, loc=loc))

        derivs = [None, None] + [None if (j in spec.constant or spec.lshapes[j] is None)
                                 else _discrete_partial(method, spec, 2 + j) for j in range(n)]
    else:

        def raw(x, loc, scale, *shapes, dist):
            return numeric(orig(dist, x, *shapes, loc=loc, scale=scale))

        derivs = [_continuous_partial(method, spec, i) for i in range(3 + n)]
    name = f"scipy.stats.{dist.name}.{method}"
    raw.__name__ = raw.__qualname__ = f"{dist.name}_{method}"
    rule = defvjp(raw, [None if d is None else _vjp(d) for d in derivs],
                  [None if d is None else _jvp(d) for d in derivs], raw=raw, name=name, key=False)
    _RULES[key] = rule
    return rule


def no_rule(name: str, what: str) -> NoRuleError:
    """:class:`NoRuleError` for ``name`` whose message first says which argument has no rule."""
    err = NoRuleError(name)
    err.args = (f"pullback cannot differentiate {name} with respect to {what}. {err.args[0]}",)
    return err


def _shape_names(dist) -> list[str]:
    return [s.strip() for s in (dist.shapes or "").split(",") if s.strip()]


_NEEDS_F = ("cdf", "logcdf", "sf", "logsf", "ppf", "isf")


def _check_shapes(dist, method, spec, shapes):
    for j, s in enumerate(shapes):
        if isinstance(s, Tracer) and j not in spec.constant:
            table = spec.fshapes if method in _NEEDS_F else spec.lshapes
            if table[j] is None:
                names = _shape_names(dist)
                what = repr(names[j]) if j < len(names) else str(j)
                why = "no closed form" if type(dist) in CONTINUOUS or type(dist) in DISCRETE else \
                    "no formula for this distribution"
                raise no_rule(f"scipy.stats.{dist.name}.{method}", f"its shape parameter {what} ({why})")


_GENERIC: dict[tuple[type, bool], Spec] = {}


def _spec(cls: type, discrete: bool, nshapes: int = 0) -> Spec:
    """The formulas of a distribution class; for one without an entry, none: what follows from
    SciPy's own pdf alone (cdf, sf, their logarithms and the quantiles in x, loc and scale)."""
    spec = (DISCRETE if discrete else CONTINUOUS).get(cls)
    if spec is None:
        spec = _GENERIC.get((cls, discrete))
        if spec is None:
            spec = _GENERIC[(cls, discrete)] = Spec(None, [None] * nshapes, [None] * nshapes)
    return spec


def _stacked(v: Any) -> Any:
    """A (nested) list or tuple holding traced numbers as the array SciPy's ``np.asarray`` makes of
    it, stacked so that it stays traced; anything else unchanged."""
    if type(v) in (list, tuple) and any_traced(v):
        return np.stack([_stacked(e) if type(e) in (list, tuple) else array_like(e) for e in v])
    return v


def _listless(v: Any) -> Any:
    """A list or tuple (of traced numbers too: they carry no gradient here) as an array, which the
    derivative formulas compute with; anything else unchanged."""
    return np.asarray(strip_tree(v)) if type(v) in (list, tuple) else v


def _continuous_handler(method: str) -> Callable:
    def traced(self, x, *args, **kwds):
        shapes, loc, scale = self._parse_args(*args, **kwds)
        x, loc, scale = _stacked(x), _stacked(loc), _stacked(scale)
        shapes = tuple(_stacked(v) for v in shapes)
        spec = _spec(type(self), False, len(shapes))
        if spec.lz is None and method in ("pdf", "logpdf") and any(
                isinstance(v, Tracer) for v in (x, loc, scale)):
            raise no_rule(f"scipy.stats.{self.name}.{method}",
                          "x, loc or scale (pullback has no formula for the derivative of this "
                          "distribution's density)")
        _check_shapes(self, method, spec, shapes)
        return _rule(type(self), self, method, False)(x, loc, scale, *shapes, dist=self)

    traced.__name__ = traced.__qualname__ = f"rv_continuous_{method}"
    return traced


def _discrete_handler(method: str) -> Callable:
    def traced(self, k, *args, **kwds):
        shapes, loc, _ = self._parse_args(*args, **kwds)
        k, loc, shapes = _listless(k), _listless(loc), tuple(_stacked(v) for v in shapes)
        spec = _spec(type(self), True, len(shapes))
        _check_shapes(self, method, spec, shapes)
        shapes = tuple(strip(s) if j in spec.constant else s for j, s in enumerate(shapes))
        return _rule(type(self), self, method, True)(strip(k), strip(loc), *shapes, dist=self)

    traced.__name__ = traced.__qualname__ = f"rv_discrete_{method}"
    return traced


def _frozen_init(self, dist, *args, **kwds):
    """Freeze as SciPy does, on the plain parameters, then keep the traced ones, which the
    frozen methods pass on to the distribution's (intercepted) methods. SciPy's ``__init__``
    also computes the support's endpoints ``a``, ``b`` (kept as constants); for a support that
    depends on a shape (genpareto, genextreme) it would convert a traced shape to an array."""
    ORIGINALS[("frozen", "__init__")](self, dist, *strip_tree(args), **strip_tree(kwds))
    self.args, self.kwds = args, kwds


# ---------------------------------------------------------------- support, expect


def _endpoint(end, loc, scale, want):
    """A support endpoint ``end * scale + loc`` (SciPy's order), traced where SciPy's value ``want``
    is finite; SciPy's own (a constant: an infinite endpoint, or the bad value) elsewhere."""
    finite = np.isfinite(strip(want))
    t = np.where(finite, end, 0) * scale + loc
    return like_value(np.where(finite, t, want), want)


def support(self, *args, **kwargs):
    """``support()`` with traced parameters: ``loc + scale * (a, b)``, SciPy's values and types."""
    shapes, loc, scale = self._parse_args(*args, **kwargs)
    shapes = tuple(_stacked(v) for v in shapes)
    plain = ORIGINALS[("generic", "support")](self, *strip_tree(args), **strip_tree(kwargs))
    arrs = np.broadcast_arrays(*shapes, _stacked(loc), _stacked(scale))
    try:
        ends = self._get_support(*arrs[:-2])
    except TracedConversionError:
        raise no_rule(f"scipy.stats.{self.name}.support", "a shape parameter its support depends on "
                      "(SciPy computes it on plain arrays)") from None
    return tuple(_endpoint(e, arrs[-2], arrs[-1], w) for e, w in zip(ends, plain))


def _limit(v):
    """An integration limit: traced where finite; an infinite one is a constant (it stays infinite)."""
    return v if np.isfinite(strip(v)) else strip(v)


def continuous_expect(self, func=None, args=(), loc=0, scale=1, lb=None, ub=None, conditional=False,
                      **kwds):
    """``rv_continuous.expect`` with traced parameters, limits or a traced ``func``: SciPy's steps
    (``quad`` over three pieces split at the 5% and 95% quantiles), traced. The split points are
    constants (moving them does not change the integral), as are infinite limits, so only the
    density's formulas (and the cdf's, for ``conditional``) are differentiated. SciPy's value, a
    NumPy scalar."""
    from scipy import integrate

    if func is None and not any_traced([args, loc, scale, lb, ub]):
        return ORIGINALS[("continuous", "expect")](self, None, args, loc, scale, lb, ub, conditional,
                                                   **kwds)
    args, loc, scale = tuple(_stacked(a) for a in args), _stacked(loc), _stacked(scale)
    lockwds = {"loc": loc, "scale": scale}
    _a, _b = self._get_support(*args)

    def fun(x, *args):
        return (x if func is None else func(x)) * self.pdf(x, *args, **lockwds)

    lb = _limit(loc + _a * scale if lb is None else lb)
    ub = _limit(loc + _b * scale if ub is None else ub)
    plain = {"loc": strip(loc), "scale": strip(scale)}
    cdf_bounds = self.cdf([strip(lb), strip(ub)], *strip_tree(args), **plain)
    invfac = cdf_bounds[1] - cdf_bounds[0]
    cdf_inner_bounds = cdf_bounds[0] + invfac * np.array([0.05, 0.95])
    c, d = plain["loc"] + self._ppf(cdf_inner_bounds, *strip_tree(args)) * plain["scale"]
    kwds["args"] = args
    vals = (integrate.quad(fun, lb, c, **kwds)[0] + integrate.quad(fun, c, d, **kwds)[0]
            + integrate.quad(fun, d, ub, **kwds)[0])
    if conditional:
        traced_bounds = self.cdf([lb, ub], *args, **lockwds)
        vals = vals / (traced_bounds[1] - traced_bounds[0])
    # SciPy's np.array(vals)[()]: a NumPy scalar (a traced Python float reshaped is one)
    return np.reshape(vals, ()) if isinstance(vals, Tracer) else np.array(vals)[()]

# (ORIGINALS: taken once intercepted, so they run SciPy's code itself, never the dispatcher)
defcomposite(D.rv_frozen.__init__, _frozen_init)
route(D.rv_frozen.__init__)
ORIGINALS[("frozen", "__init__")] = original(D.rv_frozen.__init__)
defcomposite(D.rv_generic.support, support)
route(D.rv_generic.support)
ORIGINALS[("generic", "support")] = original(D.rv_generic.support)
# expect's func may close over traced values, which no argument shows: every call while differentiating
defcomposite(D.rv_continuous.expect, continuous_expect)
ORIGINALS[("continuous", "expect")] = intercept_always(D.rv_continuous.expect, continuous_expect)

for _m in CONTINUOUS_METHODS:
    _f = getattr(D.rv_continuous, _m)
    defcomposite(_f, _continuous_handler(_m))
    route(_f)
    ORIGINALS[("continuous", _m)] = original(_f)

def _discrete_quantile(method: str) -> Callable:
    """A discrete ``ppf``/``isf``: an integer ``k`` (piecewise constant in ``q`` and the shapes)
    plus ``loc``, so its derivative is ``loc``'s; SciPy's values (bit for bit, types kept)."""
    def traced(self, q, *args, **kwds):
        plain = ORIGINALS[("discrete", method)](self, strip_tree(q), *strip_tree(args), **strip_tree(kwds))
        _, loc, _ = self._parse_args(*args, **kwds)
        loc = _listless(loc)
        if not isinstance(loc, Tracer):
            return plain
        return like_value(plain - (strip(loc) - loc), plain)  # (+0 added: -0.0 and nan kept)

    traced.__name__ = traced.__qualname__ = f"rv_discrete_{method}"
    return traced


for _m in DISCRETE_METHODS + ("ppf", "isf"):
    _f = getattr(D.rv_discrete, _m)
    route(_f)
    ORIGINALS[("discrete", _m)] = original(_f)
    defcomposite(_f, (_discrete_quantile if _m in ("ppf", "isf") else _discrete_handler)(_m))
