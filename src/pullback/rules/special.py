"""Rules: ``scipy.special`` (expit, erf, gammaln, digamma, xlogy, ..., logsumexp, softmax).

Most of ``scipy.special`` are ufuncs, which NumPy hands to the traced array's
``__array_ufunc__``: they are declared by their derivatives like any NumPy
ufunc. ``logsumexp``, ``softmax``, ``log_softmax`` and ``polygamma`` are plain
Python functions that NumPy never dispatches: they are intercepted
(:mod:`pullback.intercept`), so their traced calls reach the rule under every
name, and their plain calls run SciPy's code unchanged.
"""

from __future__ import annotations

import numpy as np
import scipy.special as sc

from ..core import strip
from ..intercept import original, route
from .registry import defcomposite, defelementwise, defvjp


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
]:
    if isinstance(getattr(sc, _name, None), np.ufunc):
        _named(defelementwise(getattr(sc, _name), *_derivs), _name)

# ---------------------------------------------------------------- polygamma (a Python function)


def polygamma_vjp_x(g, ans, n, x):
    return g * polygamma(n + 1, x)


def polygamma_jvp_x(t, ans, n, x):
    return t * polygamma(n + 1, x)


polygamma = defvjp(sc.polygamma, [None, polygamma_vjp_x], [None, polygamma_jvp_x],
                   raw=original(sc.polygamma))
_named(polygamma, "polygamma")
route(sc.polygamma)

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
    shape = _shape(a) if b is None else np.broadcast_shapes(_shape(a), _shape(b))
    m = _shift(a, shape, axis)
    e = np.exp(a - m)
    if b is not None:
        e = b * e
    s = np.sum(e, axis=axis, keepdims=True)
    if return_sign:
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
    return x - logsumexp(x, axis=axis, keepdims=True)


for _f in (logsumexp, softmax, log_softmax):
    defcomposite(getattr(sc, _f.__name__), _f)
    route(getattr(sc, _f.__name__))

#: name -> the function running SciPy's own code (what plain calls run)
ORIGINALS = {name: original(getattr(sc, name))
             for name in ("polygamma", "logsumexp", "softmax", "log_softmax")}
