"""Rules: ``scipy.special`` (expit, erf, gammaln, digamma, xlogy, ..., logsumexp, softmax).

Most of ``scipy.special`` are ufuncs, which NumPy hands to the traced array's
``__array_ufunc__``: they are declared by their derivatives like any NumPy
ufunc. ``logsumexp``, ``softmax``, ``log_softmax`` and ``polygamma`` are plain
Python functions that NumPy never dispatches: they are intercepted
(:mod:`pullback.intercept`), so their traced calls reach the rule under every
name, and their plain calls run SciPy's code unchanged.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.special as sc

from ..core import strip
from ..intercept import original, route
from .elementwise import horner
from .registry import defcomposite, defelementwise, defnondiff, defvjp, library_values


def _named(rule, name):
    rule.name = f"scipy.special.{name}"
    return rule


# ---------------------------------------------------------------- ufuncs, by their derivatives

_SQRT_PI = float(np.sqrt(np.pi))


def expit_d(ans, x):
    return ans * (1 - ans)


def logit_d(ans, x):
    return 1 / (x * (1 - x))


def log_expit_d(ans, x):
    return sc.expit(-x)


def erf_d(ans, x):
    return (2 / _SQRT_PI) * np.exp(-(x * x))


def erfc_d(ans, x):
    return (-2 / _SQRT_PI) * np.exp(-(x * x))


def erfinv_d(ans, x):
    return (_SQRT_PI / 2) * np.exp(ans * ans)


def erfcinv_d(ans, x):
    return (-_SQRT_PI / 2) * np.exp(ans * ans)


def gammaln_d(ans, x):
    return sc.digamma(x)


def trigamma_complex(z):
    """psi'(z) for complex ``z``, which SciPy's polygamma does not accept.

    Recurrence psi'(z) = psi'(z + 1) + 1/z^2 up to Re z >= 10, then the asymptotic
    series (error below 1e-12 there); reflection psi'(1 - z) + psi'(z) = pi^2 / sin^2(pi z)
    for Re z < 1/2. Written with NumPy calls, so it is differentiable in turn.
    """
    reflect = np.real(z) < 0.5
    w = np.where(reflect, 1 - z, z)
    total = 0
    for k in range(10):
        total = total + 1 / (w + k) ** 2
    w = w + 10
    r = 1 / w
    r2 = r * r
    series = r + r2 / 2 + r2 * r * (1 / 6 - r2 * (1 / 30 - r2 * (1 / 42 - r2 / 30)))
    value = total + series
    return np.where(reflect, (np.pi / np.sin(np.pi * z)) ** 2 - value, value)


def digamma_d(ans, x):
    if x.dtype.kind == "c":
        return trigamma_complex(x)
    return polygamma(1, x)


def gamma_d(ans, x):
    return ans * sc.digamma(x)


def xlogy_dx(ans, x, y):
    return np.log(y)


def xlogy_dy(ans, x, y):
    return x / y


def xlog1py_dx(ans, x, y):
    return np.log1p(y)


def xlog1py_dy(ans, x, y):
    return x / (1 + y)


def erfcx_d(ans, x):
    return 2 * x * ans - 2 / _SQRT_PI


def erfi_d(ans, x):
    return (2 / _SQRT_PI) * np.exp(x * x)


def dawsn_d(ans, x):
    return 1 - 2 * x * ans


def wofz_d(ans, z):
    return (2j / _SQRT_PI) - 2 * z * ans


_SQRT_2PI = float(np.sqrt(2 * np.pi))


def ndtr_d(ans, x):
    return np.exp(-(x * x) / 2) / _SQRT_2PI


def log_ndtr_d(ans, x):
    return np.exp(-(x * x) / 2 - ans) / _SQRT_2PI


def ndtri_d(ans, p):
    return _SQRT_2PI * np.exp(ans * ans / 2)


def loggamma_d(ans, x):
    return sc.digamma(x)


def rgamma_d(ans, x):
    """``-rgamma(x) digamma(x)``, which is ``0 * inf`` (NaN) at the poles of Gamma (0, -1, -2, ...),
    where 1/Gamma is smooth: there the derivative of the reflection ``Gamma(1-x) sin(pi x) / pi``,
    ``Gamma(1-x) (cos(pi x) - digamma(1-x) sin(pi x) / pi)`` (``(-1)^n n!`` at ``-n``; the sine
    and cosine taken of ``pi (x + n)`` times ``(-1)^n``, exact there), whose arguments are safe
    (``1 - x >= 1``), so that higher orders are right there too."""
    v = strip(x)
    pole = (np.imag(v) == 0) & (np.real(v) <= 0) & (np.real(v) == np.floor(np.real(v)))
    if not np.any(pole):
        return -ans * sc.digamma(x)
    xr = np.where(pole, x, 0)
    n = np.where(pole, np.real(v), 0)  # the pole; sin, cos of pi (x - n) are exact there
    f = xr - n
    sign = np.where(n % 2 == 0, 1.0, -1.0)
    reflected = sign * sc.gamma(1 - xr) * (np.cos(np.pi * f) - sc.digamma(1 - xr) * np.sin(np.pi * f) / np.pi)
    return np.where(pole, reflected, -np.where(pole, 0, ans) * sc.digamma(np.where(pole, 0.5, x)))


def _gamma_density(a, x):
    """x^(a-1) e^(-x) / Gamma(a): the derivative of the regularized lower incomplete gamma function."""
    return np.exp(sc.xlogy(a - 1, x) - x - sc.gammaln(a))


def gammainc_dx(ans, a, x):
    return _gamma_density(a, x)


def gammaincc_dx(ans, a, x):
    return -_gamma_density(a, x)


def gammaincinv_dp(ans, a, p):
    return 1 / _gamma_density(a, ans)


def gammainccinv_dp(ans, a, p):
    return -1 / _gamma_density(a, ans)


def beta_da(ans, a, b):
    return ans * (sc.digamma(a) - sc.digamma(a + b))


def beta_db(ans, a, b):
    return ans * (sc.digamma(b) - sc.digamma(a + b))


def betaln_da(ans, a, b):
    return sc.digamma(a) - sc.digamma(a + b)


def betaln_db(ans, a, b):
    return sc.digamma(b) - sc.digamma(a + b)


def _beta_density(a, b, x):
    """x^(a-1) (1-x)^(b-1) / B(a, b): the derivative of the regularized incomplete beta function."""
    return np.exp(sc.xlogy(a - 1, x) + sc.xlog1py(b - 1, -x) - sc.betaln(a, b))


def betainc_dx(ans, a, b, x):
    return _beta_density(a, b, x)


def betaincc_dx(ans, a, b, x):
    return -_beta_density(a, b, x)


def betaincinv_dy(ans, a, b, y):
    return 1 / _beta_density(a, b, ans)


def betainccinv_dy(ans, a, b, y):
    return -1 / _beta_density(a, b, ans)


def entr_d(ans, x):
    return -(np.log(x) + 1)


def rel_entr_dx(ans, x, y):
    return np.log(x / y) + 1


def rel_entr_dy(ans, x, y):
    return -x / y


def kl_div_dx(ans, x, y):
    return np.log(x / y)


def kl_div_dy(ans, x, y):
    return 1 - x / y


def huber_ddelta(ans, delta, r):
    return np.where(np.abs(r) > delta, np.abs(r) - delta, 0)


def huber_dr(ans, delta, r):
    return np.clip(r, -delta, delta)


def pseudo_huber_ddelta(ans, delta, r):
    s = np.sqrt(1 + (r / delta) ** 2)
    return 2 * ans / delta - r * r / (delta * s)


def pseudo_huber_dr(ans, delta, r):
    return r / np.sqrt(1 + (r / delta) ** 2)


def exp1_d(ans, z):
    return -np.exp(-z) / z


def expi_d(ans, z):
    return np.exp(z) / z


# ---- elementary functions in SciPy's own ufuncs (not NumPy's)

_DEG = float(np.pi / 180)


def exprel_d(ans, x):
    small = np.abs(x) < 1e-4
    safe = np.where(small, 1.0, x)
    return np.where(small, 0.5 + x / 3 + x * x / 8, (np.exp(safe) - ans) / safe)


def cosm1_d(ans, x):
    return -np.sin(x)


def cosdg_d(ans, x):
    return -_DEG * sc.sindg(x)


def sindg_d(ans, x):
    return _DEG * sc.cosdg(x)


def tandg_d(ans, x):
    return _DEG * (1 + ans * ans)


def cotdg_d(ans, x):
    return -_DEG * (1 + ans * ans)


def cbrt_d(ans, x):
    return 1 / (3 * ans * ans)


def exp2_d(ans, x):
    return ans * float(np.log(2))


def exp10_d(ans, x):
    return ans * float(np.log(10))


def expm1_d(ans, x):
    return np.exp(x)


def log1p_d(ans, x):
    return 1 / (1 + x)


def spence_d(ans, z):
    """``log z / (1 - z)``, which is 0/0 at ``z = 1``; there its Taylor polynomial
    ``-1 + u/2 - u^2/3 + u^3/4 - u^4/5`` in ``u = z - 1`` (right to the fourth order)."""
    one = strip(z) == 1
    if not np.any(one):
        return np.log(z) / (1 - z)
    u = np.where(one, z, 1) - 1
    series = -1 + u * (1 / 2 + u * (-1 / 3 + u * (1 / 4 - u / 5)))
    zs = np.where(one, 2, z)
    return np.where(one, series, np.log(zs) / (1 - zs))


# Taylor coefficients at m = 0 of K'(m) and E'(m): with c_n = (binom(2n, n) / 4^n)^2,
# K = pi/2 sum c_n m^n and E = -pi/2 sum c_n m^n / (2n - 1).
_ELLIP_N = 24
_ELLIP_C = [(math.comb(2 * n, n) / 4.0 ** n) ** 2 for n in range(_ELLIP_N + 1)]
_ELLIPK_D = [math.pi / 2 * n * _ELLIP_C[n] for n in range(1, _ELLIP_N + 1)]
_ELLIPE_D = [-math.pi / 2 * n * _ELLIP_C[n] / (2 * n - 1) for n in range(1, _ELLIP_N + 1)]
# Below this |m| the Taylor polynomials replace the closed forms, which are 0/0 at m = 0 and
# lose about eps / |m|^k in their k-th derivative near it; the polynomials' truncation error
# there stays below rounding for the first few derivatives.
_ELLIP_SMALL = 0.1


def _ellip_split(m):
    """(near, m where near else 0, m where not near else 0.5): the series variable and the
    closed form's variable, each kept away from the other's trouble."""
    near = np.abs(strip(m)) < _ELLIP_SMALL
    return near, np.where(near, m, 0.0), np.where(near, 0.5, m)


def _ellipk_dm(k, m):
    """K'(m) = (E - (1 - m) K) / (2 m (1 - m)) given k = K(m); a Taylor polynomial near m = 0."""
    near, small, safe = _ellip_split(m)
    if not np.any(near):
        return (sc.ellipe(m) - (1 - m) * k) / (2 * m * (1 - m))
    k = np.where(near, sc.ellipk(0.5), k)
    return np.where(near, horner(_ELLIPK_D, small),
                    (sc.ellipe(safe) - (1 - safe) * k) / (2 * safe * (1 - safe)))


def ellipk_d(ans, m):
    return _ellipk_dm(ans, m)


def ellipe_d(ans, m):
    """E'(m) = (E - K) / (2 m); a Taylor polynomial near m = 0."""
    near, small, safe = _ellip_split(m)
    if not np.any(near):
        return (ans - sc.ellipk(m)) / (2 * m)
    e = np.where(near, sc.ellipe(0.5), ans)
    return np.where(near, horner(_ELLIPE_D, small), (e - sc.ellipk(safe)) / (2 * safe))


def ellipkm1_d(ans, p):
    """-K'(m) at m = 1 - p; a Taylor polynomial in m near p = 1."""
    m = 1 - p
    near, small, _ = _ellip_split(m)
    if not np.any(near):
        return -(sc.ellipe(m) - p * ans) / (2 * m * p)
    ps = np.where(near, 0.5, p)
    ms = 1 - ps
    k = np.where(near, sc.ellipkm1(0.5), ans)
    return np.where(near, -horner(_ELLIPK_D, small), -(sc.ellipe(ms) - ps * k) / (2 * ms * ps))


# phi(t) = ((t - 1) e^t + 1) / t^2 = sum_j (j + 1) t^j / (j + 2)!, so that
# d/d lmbda (x^lmbda - 1) / lmbda = (log x)^2 phi(lmbda log x).
_BOXCOX_PHI = [(j + 1) / math.factorial(j + 2) for j in range(18)]
_BOXCOX_SMALL = 0.5


def _boxcox_dlmbda(lx, lmbda, y):
    """d/d lmbda of y = (x^lmbda - 1) / lmbda given lx = log x: (x^lmbda log x - y) / lmbda,
    which is 0/0 at lmbda = 0; where |lmbda log x| is small, (log x)^2 phi(lmbda log x) with
    phi's Taylor polynomial (right to every order at lmbda = 0)."""
    near = np.abs(strip(lmbda) * strip(lx)) < _BOXCOX_SMALL
    if not np.any(near):
        return (np.exp(lmbda * lx) * lx - y) / lmbda
    ls = np.where(near, lx, 0.0)
    series = ls * ls * horner(_BOXCOX_PHI, np.where(near, lmbda, 0.0) * ls)
    safe = np.where(near, 1.0, lmbda)
    lf = np.where(near, 0.0, lx)
    return np.where(near, series, (np.exp(safe * lf) * lf - np.where(near, 0.0, y)) / safe)


def boxcox_dx(ans, x, lmbda):
    return np.exp((lmbda - 1) * np.log(x))


def boxcox_dl(ans, x, lmbda):
    return _boxcox_dlmbda(np.log(x), lmbda, ans)


def boxcox1p_dx(ans, x, lmbda):
    return np.exp((lmbda - 1) * np.log1p(x))


def boxcox1p_dl(ans, x, lmbda):
    return _boxcox_dlmbda(np.log1p(x), lmbda, ans)


def inv_boxcox_dy(ans, y, lmbda):
    return np.exp((1 - lmbda) * np.log(ans))


def inv_boxcox_dl(ans, y, lmbda):
    return -_boxcox_dlmbda(np.log(ans), lmbda, y) * np.exp((1 - lmbda) * np.log(ans))


def inv_boxcox1p_dy(ans, y, lmbda):
    return np.exp((1 - lmbda) * np.log1p(ans))


def inv_boxcox1p_dl(ans, y, lmbda):
    return -_boxcox_dlmbda(np.log1p(ans), lmbda, y) * np.exp((1 - lmbda) * np.log1p(ans))


def poch_da(ans, a, m):
    return ans * (sc.digamma(a + m) - sc.digamma(a))


def poch_dm(ans, a, m):
    return ans * sc.digamma(a + m)


def binom_dn(ans, n, k):
    return ans * (sc.digamma(n + 1) - sc.digamma(n - k + 1))


def binom_dk(ans, n, k):
    return ans * (sc.digamma(n - k + 1) - sc.digamma(k + 1))


def struve_dx(ans, v, x):
    return sc.struve(v - 1, x) - v / x * ans


def modstruve_dx(ans, v, x):
    return sc.modstruve(v - 1, x) - v / x * ans


def owens_t_dh(ans, h, a):
    return -np.exp(-(h * h) / 2) / (2 * _SQRT_2PI) * sc.erf(a * h / float(np.sqrt(2)))


def owens_t_da(ans, h, a):
    q = 1 + a * a
    return np.exp(-(h * h) * q / 2) / (2 * np.pi * q)


# ---- hypergeometric and related functions: derivatives in z (the parameters have none in closed form)


def expn_d(ans, n, x):
    """``-E_{n-1}(x)``; SciPy has no ``E_{-1}`` (NaN), so for ``n = 0`` (``E_0 = e^-x / x``)
    ``-e^-x (1 + x) / x^2``."""
    zero = strip(n) == 0
    if not np.any(zero):
        return -sc.expn(n - 1, x)
    x0 = np.where(zero, x, 1)
    return np.where(zero, -np.exp(-x0) * (1 + x0) / (x0 * x0), -sc.expn(np.where(zero, 1, n) - 1, x))


def hyp0f1_d(ans, v, z):
    return sc.hyp0f1(v + 1, z) / v


def hyp1f1_d(ans, a, b, x):
    return a / b * sc.hyp1f1(a + 1, b + 1, x)


def hyp2f1_d(ans, a, b, c, z):
    return a * b / c * sc.hyp2f1(a + 1, b + 1, c + 1, z)


def hyperu_d(ans, a, b, x):
    return -a * sc.hyperu(a + 1, b + 1, x)


def powm1_dx(ans, x, y):
    return y * np.exp((y - 1) * np.log(x))


def powm1_dy(ans, x, y):
    return (ans + 1) * np.log(x)


def wrightomega_d(ans, z):
    return ans / (1 + ans)


for _name, _derivs in [
    ("expit", (expit_d,)),
    ("logit", (logit_d,)),
    ("log_expit", (log_expit_d,)),
    ("erf", (erf_d,)),
    ("erfc", (erfc_d,)),
    ("erfinv", (erfinv_d,)),
    ("erfcinv", (erfcinv_d,)),
    ("gammaln", (gammaln_d,)),
    ("psi", (digamma_d,)),  # scipy.special.digamma is the same ufunc
    ("gamma", (gamma_d,)),
    ("xlogy", (xlogy_dx, xlogy_dy)),
    ("xlog1py", (xlog1py_dx, xlog1py_dy)),
    ("erfcx", (erfcx_d,)),
    ("erfi", (erfi_d,)),
    ("dawsn", (dawsn_d,)),
    ("wofz", (wofz_d,)),
    ("ndtr", (ndtr_d,)),
    ("log_ndtr", (log_ndtr_d,)),
    ("ndtri", (ndtri_d,)),
    ("loggamma", (loggamma_d,)),
    ("rgamma", (rgamma_d,)),
    # the derivatives in the shape parameters a, b have no closed form (no such rule in JAX either)
    ("gammainc", (None, gammainc_dx)),
    ("gammaincc", (None, gammaincc_dx)),
    ("gammaincinv", (None, gammaincinv_dp)),
    ("gammainccinv", (None, gammainccinv_dp)),
    ("beta", (beta_da, beta_db)),
    ("betaln", (betaln_da, betaln_db)),
    ("betainc", (None, None, betainc_dx)),
    ("betaincc", (None, None, betaincc_dx)),
    ("betaincinv", (None, None, betaincinv_dy)),
    ("betainccinv", (None, None, betainccinv_dy)),
    ("entr", (entr_d,)),
    ("rel_entr", (rel_entr_dx, rel_entr_dy)),
    ("kl_div", (kl_div_dx, kl_div_dy)),
    ("huber", (huber_ddelta, huber_dr)),
    ("pseudo_huber", (pseudo_huber_ddelta, pseudo_huber_dr)),
    ("exp1", (exp1_d,)),
    ("expi", (expi_d,)),
    ("exprel", (exprel_d,)),
    ("cosm1", (cosm1_d,)),
    ("cosdg", (cosdg_d,)),
    ("sindg", (sindg_d,)),
    ("tandg", (tandg_d,)),
    ("cotdg", (cotdg_d,)),
    ("cbrt", (cbrt_d,)),
    ("exp2", (exp2_d,)),
    ("exp10", (exp10_d,)),
    ("expm1", (expm1_d,)),
    ("log1p", (log1p_d,)),
    ("spence", (spence_d,)),
    ("ellipk", (ellipk_d,)),
    ("ellipe", (ellipe_d,)),
    ("ellipkm1", (ellipkm1_d,)),
    ("boxcox", (boxcox_dx, boxcox_dl)),
    ("boxcox1p", (boxcox1p_dx, boxcox1p_dl)),
    ("inv_boxcox", (inv_boxcox_dy, inv_boxcox_dl)),
    ("inv_boxcox1p", (inv_boxcox1p_dy, inv_boxcox1p_dl)),
    ("poch", (poch_da, poch_dm)),
    ("binom", (binom_dn, binom_dk)),
    ("struve", (None, struve_dx)),  # no closed form in the order
    ("modstruve", (None, modstruve_dx)),
    ("owens_t", (owens_t_dh, owens_t_da)),
    ("expn", (None, expn_d)),
    ("hyp0f1", (None, hyp0f1_d)),
    ("hyp1f1", (None, None, hyp1f1_d)),
    ("hyp2f1", (None, None, None, hyp2f1_d)),
    ("hyperu", (None, None, hyperu_d)),
    ("powm1", (powm1_dx, powm1_dy)),
    ("wrightomega", (wrightomega_d,)),
]:
    if isinstance(getattr(sc, _name, None), np.ufunc):
        _named(defelementwise(getattr(sc, _name), *_derivs), _name)

# ---------------------------------------------------------------- ufuncs with several outputs
#
# One private primitive computes all the outputs, stacked on a new first axis, and its derivative is
# the stacked derivatives; the ufunc's handler returns the slices, as a tuple like SciPy's.


def _shi_x(z):
    zero = z == 0
    safe = np.where(zero, 1.0, z)
    return np.where(zero, 1.0, np.sinh(safe) / safe)


def sici_d(ans, z):
    return np.stack([np.sinc(z / np.pi), np.cos(z) / z])


def shichi_d(ans, z):
    return np.stack([_shi_x(z), np.cosh(z) / z])


def fresnel_d(ans, z):
    arg = (np.pi / 2) * (z * z)
    return np.stack([np.sin(arg), np.cos(arg)])


def airy_d(ans, z):
    return np.stack([ans[1], z * ans[0], ans[3], z * ans[2]])


def ellipj_du(ans, u, m):
    sn, cn, dn = ans[0], ans[1], ans[2]
    return np.stack([cn * dn, -sn * dn, -m * sn * cn, dn])


def _several(u, name, *derivs):
    def raw(*args):
        return np.stack(u(*args))

    raw.__name__ = raw.__qualname__ = f"{name}_stacked"

    def make(d):
        if d is None:
            return None, None

        def vjp(g, ans, *args):
            # an output the loss does not use has a zero cotangent: it must not turn into a NaN
            # where that output's derivative is infinite (Ci at 0 while only Si is used)
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.sum(np.where(g == 0, 0, g * np.conj(d(ans, *args))), axis=0)

        def jvp(t, ans, *args):
            return t * d(ans, *args)

        vjp.__name__ = vjp.__qualname__ = f"{d.__name__}_vjp"
        jvp.__name__ = jvp.__qualname__ = f"{d.__name__}_jvp"
        return vjp, jvp

    fns = [make(d) for d in derivs]
    stacked = defvjp(raw, [f[0] for f in fns], [f[1] for f in fns], name=f"scipy.special.{name}", key=False)

    def outputs(*args, **kwargs):
        st = stacked(*args, **kwargs)
        return tuple(st[k] for k in range(u.nout))

    outputs.__name__ = outputs.__qualname__ = name
    defcomposite(u, outputs)


_several(sc.sici, "sici", sici_d)
_several(sc.shichi, "shichi", shichi_d)
_several(sc.fresnel, "fresnel", fresnel_d)
_several(sc.airy, "airy", airy_d)
_several(sc.ellipj, "ellipj", ellipj_du, None)  # no closed form in the parameter m

# ---------------------------------------------------------------- polygamma (a Python function)


def polygamma_vjp_x(g, ans, n, x):
    return g * polygamma(n + 1, x)


def polygamma_jvp_x(t, ans, n, x):
    return t * polygamma(n + 1, x)


polygamma = defvjp(sc.polygamma, [None, polygamma_vjp_x], [None, polygamma_jvp_x],
                   raw=original(sc.polygamma))
_named(polygamma, "polygamma")
route(sc.polygamma)

# ---------------------------------------------------------------- zeta, multigammaln (Python functions)
#
# zeta(x, q) is Hurwitz's: d/dq zeta(x, q) = -x zeta(x + 1, q). Its derivative in the exponent x
# (a series of log(k + q) / (k + q)^x) has no closed form: x is not differentiable.


def zeta_vjp_q(g, ans, x, q=None, out=None):
    return g * np.conj(-x * zeta(x + 1, q))


def zeta_jvp_q(t, ans, x, q=None, out=None):
    return t * (-x * zeta(x + 1, q))


zeta = _named(defvjp(sc.zeta, [None, zeta_vjp_q, None], [None, zeta_jvp_q, None], raw=original(sc.zeta)),
              "zeta")
route(sc.zeta)


def multigammaln(a, d):
    """``log Gamma_d(a) = d (d - 1) / 4 log(pi) + sum_j gammaln(a - j / 2)``, with SciPy's checks."""
    original(sc.multigammaln)(strip(a), d)  # SciPy's errors for a bad d or a <= (d - 1) / 2
    res = (d * (d - 1) * 0.25) * np.log(np.pi)
    # SciPy's steps: the terms stacked and summed in the argument's precision, then added
    return res + np.sum(np.stack([sc.gammaln(a - (j - 1.0) / 2) for j in range(1, d + 1)]), axis=0)


defcomposite(sc.multigammaln, multigammaln)
route(sc.multigammaln)

# ---------------------------------------------------------------- lambertw (a Python function)


# W'(z) = sum_{n>=1} (-n)^(n-1) / (n-1)! z^(n-1) for the principal branch (radius 1/e).
_LAMBERTW_D = [float((-n) ** (n - 1) / math.factorial(n - 1)) for n in range(1, 21)]
_LAMBERTW_SMALL = 0.02


def _lambertw_d(w, z, k=0):
    """W'(z) = W / (z (1 + W)), which is 0/0 at z = 0 on the principal branch (where W = 0);
    there and near it, its Taylor polynomial (right to every order at z = 0)."""
    near = (np.abs(strip(z)) < _LAMBERTW_SMALL) & (np.asarray(strip(k)) == 0)
    if not np.any(near):
        return w / (z * (1 + w))
    safe = np.where(near, 1.0, z)
    ws = np.where(near, 1.0, w)
    return np.where(near, horner(_LAMBERTW_D, np.where(near, z, 0.0)), ws / (safe * (1 + ws)))


def lambertw_vjp_z(g, ans, z, k=0, tol=1e-8):
    return g * np.conj(_lambertw_d(ans, z, k))


def lambertw_jvp_z(t, ans, z, k=0, tol=1e-8):
    return t * _lambertw_d(ans, z, k)


_named(defvjp(sc.lambertw, [lambertw_vjp_z, None, None], [lambertw_jvp_z, None, None],
              raw=original(sc.lambertw)), "lambertw")
route(sc.lambertw)


# ---------------------------------------------------------------- logsumexp, softmax, log_softmax


def _shape(x):
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def _reduced_shape(shape, axis):
    if axis is None:
        return ()
    axes = axis if isinstance(axis, tuple) else (axis,)
    axes = {int(a) % len(shape) for a in axes}
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def _shift(a, shape, axis):
    """The max-shift: a constant (no gradient), finite where the maximum is."""
    p = strip(a)
    p = np.real(p) if np.iscomplexobj(p) else p
    m = np.max(np.broadcast_to(p, shape), axis=axis, keepdims=True)
    return np.where(np.isfinite(m), m, 0)


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """``log(sum(b * exp(a), axis))`` written with NumPy calls around a constant max-shift."""
    try:
        shape = _shape(a) if b is None else np.broadcast_shapes(_shape(a), _shape(b))
    except ValueError:
        raise ValueError("Array shapes are incompatible for broadcasting.") from None  # SciPy's
    empty = math.prod(shape) == 0  # no max to shift by: the sums are 0 (SciPy: -inf)
    m = 0 if empty else _shift(a, shape, axis)
    e = np.exp(a - m)
    if b is not None:
        e = b * e
    s = np.sum(e, axis=axis, keepdims=True)
    if empty:  # log 0: SciPy's -inf (library_values) with an (empty) gradient free of 1/0
        out, sign = s * 0 - np.inf, np.sign(strip(s))
    elif return_sign:
        ps = strip(s)
        if np.iscomplexobj(ps):
            sign = s / np.abs(s)
        else:
            sign = np.sign(ps)
        out = np.log(np.abs(s)) + m
    else:
        out = np.log(s) + m
    if not keepdims:
        red = _reduced_shape(shape, axis)
        out = np.reshape(out, red)
        if return_sign:
            sign = np.reshape(sign, red)
    return (out, sign) if return_sign else out


def softmax(x, axis=None):
    m = _shift(x, _shape(x), axis)
    e = np.exp(x - m)
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x, axis=None):
    """SciPy's steps (its bits): ``tmp = x - max``, then ``tmp - log(sum(exp(tmp)))``."""
    tmp = x - _shift(x, _shape(x), axis)
    with np.errstate(divide="ignore"):
        return tmp - np.log(np.sum(np.exp(tmp), axis=axis, keepdims=True))


# logsumexp: SciPy's value bit for bit (SciPy separates the largest term and adds log1p of the
# rest, which the composite's max-shifted sum equals to rounding)
for _f in (library_values(original(sc.logsumexp))(logsumexp), softmax, log_softmax):
    defcomposite(getattr(sc, _f.__name__), _f)
    route(getattr(sc, _f.__name__))

#: name -> the function running SciPy's own code (what plain calls run)
ORIGINALS = {name: original(getattr(sc, name))
             for name in ("polygamma", "logsumexp", "softmax", "log_softmax", "zeta", "multigammaln",
                          "lambertw")}

# ---------------------------------------------------------------- piecewise constant: no gradient

# gammasgn (the sign of Gamma) is constant between its poles; its derivative is zero
defnondiff(sc.gammasgn)
