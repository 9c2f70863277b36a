"""Rules: Bessel functions of ``scipy.special`` (j0 ... kve, hankel1/2(e), spherical_jn/yn/in/kn).

Each derivative is a recurrence in the same family, written with ``scipy.special``
calls, so it is differentiable in turn (Hessians need no more rules):
``J_v' = (J_{v-1} - J_{v+1}) / 2``, ``I_v' = (I_{v-1} + I_{v+1}) / 2``,
``K_v' = -(K_{v-1} + K_{v+1}) / 2``. No closed form is known for the derivative in
the order ``v`` (nor does ``n`` vary continuously): that argument is declared not
differentiable, so tracing it raises an error that says so.

The exponentially scaled versions multiply by ``exp(-|Im z|)`` (``jve``, ``yve``),
``exp(-|Re z|)`` (``ive``, ``i0e``, ``i1e``), ``exp(z)`` (``kve``, ``k0e``, ``k1e``),
``exp(-+i z)`` (``hankel1e``, ``hankel2e``). The factors with ``|.|`` are not holomorphic
for complex ``z``: those rules add the derivative in the real or imaginary direction
(DESIGN section 2: gradient = dL/dx + i dL/dy).

The spherical Bessel functions are Python functions taking ``derivative=``: they are
intercepted; their derivative is SciPy's own ``derivative=True``, and the derivative of
that follows from the spherical Bessel equation.
"""

from __future__ import annotations

import numpy as np
import scipy.special as sc

from ..intercept import original, route
from .registry import defelementwise, defvjp


def _named(rule, name):
    rule.name = f"scipy.special.{name}"
    return rule


# ---------------------------------------------------------------- fixed order (real only)


def j0_d(ans, x):
    return -sc.j1(x)


def j1_d(ans, x):
    return (sc.j0(x) - sc.jv(2, x)) / 2


def y0_d(ans, x):
    return -sc.y1(x)


def y1_d(ans, x):
    return (sc.y0(x) - sc.yn(2, x)) / 2


def i0_d(ans, x):
    return sc.i1(x)


def i1_d(ans, x):
    return (sc.i0(x) + sc.iv(2, x)) / 2


def k0_d(ans, x):
    return -sc.k1(x)


def k1_d(ans, x):
    return -(sc.k0(x) + sc.kv(2, x)) / 2


def i0e_d(ans, x):
    return sc.i1e(x) - np.sign(x) * ans


def i1e_d(ans, x):
    return (sc.i0e(x) + sc.ive(2, x)) / 2 - np.sign(x) * ans


def k0e_d(ans, x):
    return ans - sc.k1e(x)


def k1e_d(ans, x):
    return ans - (sc.k0e(x) + sc.kve(2, x)) / 2


# ---------------------------------------------------------------- any order (holomorphic in z)


def jv_d(ans, v, z):
    return (sc.jv(v - 1, z) - sc.jv(v + 1, z)) / 2


def yv_d(ans, v, z):
    return (sc.yv(v - 1, z) - sc.yv(v + 1, z)) / 2


def yn_d(ans, n, x):
    return (sc.yn(n - 1, x) - sc.yn(n + 1, x)) / 2


def kn_d(ans, n, x):
    return -(sc.kn(n - 1, x) + sc.kn(n + 1, x)) / 2


def iv_d(ans, v, z):
    return (sc.iv(v - 1, z) + sc.iv(v + 1, z)) / 2


def kv_d(ans, v, z):
    return -(sc.kv(v - 1, z) + sc.kv(v + 1, z)) / 2


def kve_d(ans, v, z):
    return ans - (sc.kve(v - 1, z) + sc.kve(v + 1, z)) / 2


def hankel1_d(ans, v, z):
    return (sc.hankel1(v - 1, z) - sc.hankel1(v + 1, z)) / 2


def hankel2_d(ans, v, z):
    return (sc.hankel2(v - 1, z) - sc.hankel2(v + 1, z)) / 2


def hankel1e_d(ans, v, z):
    return (sc.hankel1e(v - 1, z) - sc.hankel1e(v + 1, z)) / 2 - 1j * ans


def hankel2e_d(ans, v, z):
    return (sc.hankel2e(v - 1, z) - sc.hankel2e(v + 1, z)) / 2 + 1j * ans


for _name, _derivs in [
    ("j0", (j0_d,)), ("j1", (j1_d,)), ("y0", (y0_d,)), ("y1", (y1_d,)),
    ("i0", (i0_d,)), ("i1", (i1_d,)), ("k0", (k0_d,)), ("k1", (k1_d,)),
    ("i0e", (i0e_d,)), ("i1e", (i1e_d,)), ("k0e", (k0e_d,)), ("k1e", (k1e_d,)),
    ("jv", (None, jv_d)), ("yv", (None, yv_d)), ("yn", (None, yn_d)), ("kn", (None, kn_d)),
    ("iv", (None, iv_d)), ("kv", (None, kv_d)), ("kve", (None, kve_d)),
    ("hankel1", (None, hankel1_d)), ("hankel2", (None, hankel2_d)),
    ("hankel1e", (None, hankel1e_d)), ("hankel2e", (None, hankel2e_d)),
]:
    _named(defelementwise(getattr(sc, _name), *_derivs), _name)

# numpy.i0 (NumPy's own evaluation of I0, a function, not a ufunc): the same derivative, I1
defelementwise(np.i0, i0_d)


# ---------------------------------------------------------------- scaled by exp(-|Im z|) or exp(-|Re z|)
#
# f(v, z) = h(v, z) * exp(-|part(z)|): df = A dz + B d(part z) with A = h'(v, z) exp(-|part z|)
# (the same recurrence in the scaled function) and B = -sign(part z) f.


def _jve_a(ans, v, z):
    return (sc.jve(v - 1, z) - sc.jve(v + 1, z)) / 2


def _yve_a(ans, v, z):
    return (sc.yve(v - 1, z) - sc.yve(v + 1, z)) / 2


def _ive_a(ans, v, z):
    return (sc.ive(v - 1, z) + sc.ive(v + 1, z)) / 2


def _scaled(func, name, holo, imag):
    part = np.imag if imag else np.real
    unit = 1j if imag else 1

    def extra(ans, z):
        return -np.sign(part(z)) * ans

    def vjp_z(g, ans, v, z):
        ct = g * np.conj(holo(ans, v, z))
        if imag and z.dtype.kind != "c":
            return ct  # a real z has no imaginary direction
        return ct + unit * np.real(np.conj(g) * extra(ans, z))

    def jvp_z(t, ans, v, z):
        out = t * holo(ans, v, z)
        if imag and z.dtype.kind != "c":
            return out
        return out + extra(ans, z) * part(t)

    for f in (vjp_z, jvp_z):
        f.__name__ = f.__qualname__ = f"{name}_{f.__name__}"
    _named(defvjp(func, [None, vjp_z], [None, jvp_z]), name)


_scaled(sc.jve, "jve", _jve_a, True)
_scaled(sc.yve, "yve", _yve_a, True)
_scaled(sc.ive, "ive", _ive_a, False)


# ---------------------------------------------------------------- spherical Bessel functions (Python)
#
# z^2 f'' + 2 z f' + (z^2 - n(n+1)) f = 0 for jn, yn; z^2 f'' + 2 z f' - (z^2 + n(n+1)) f = 0 for in, kn.


def _spherical(func, sign):
    name = func.__name__
    plain = original(func)

    def d(n, z, derivative):
        public = getattr(sc, name)  # the intercepted name, also when func itself could not be changed
        if not derivative:
            return public(n, z, True)
        f, fp = public(n, z), public(n, z, True)
        return (n * (n + 1) / (z * z) + sign) * f - 2 * fp / z

    def vjp_z(g, ans, n, z, derivative=False):
        return g * np.conj(d(n, z, derivative))

    def jvp_z(t, ans, n, z, derivative=False):
        return t * d(n, z, derivative)

    for f in (vjp_z, jvp_z):
        f.__name__ = f.__qualname__ = f"{name}_{f.__name__}"
    rule = _named(defvjp(func, [None, vjp_z, None], [None, jvp_z, None], raw=plain), name)
    route(func)
    return rule


for _f, _sign in [(sc.spherical_jn, -1), (sc.spherical_yn, -1), (sc.spherical_in, 1), (sc.spherical_kn, 1)]:
    _spherical(_f, _sign)
