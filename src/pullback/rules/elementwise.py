"""Rules: elementwise functions (ufuncs and their function-style relatives).

Holomorphic functions are declared by their derivative alone
(:func:`defelementwise`): the reverse rule is ``g * conj(f'(x))`` and the
forward rule ``t * f'(x)``, which gives the convention of DESIGN section 2
(gradient = dL/dx + i dL/dy). Non-holomorphic functions (abs, conj, real,
imag) spell out both rules. Ties in maximum/minimum/fmax/fmin split the
gradient equally between the two arguments.
"""

from __future__ import annotations

import math
import operator

import numpy as np

from ..core import strip
from ..engines import buffers
from .registry import (
    _LARGE,
    OPERATORS,
    _conj,
    defcomposite,
    defelementwise,
    defnondiff,
    defvjp,
    multiply_into,
)

# ---------------------------------------------------------------- arithmetic


def _g(g, ans, *args):
    return g


def _neg_g(g, ans, *args):
    return -g


def _t(t, ans, *args):
    return t


def _neg_t(t, ans, *args):
    return -t


add = defvjp(np.add, [_g, _g], [_t, _t])
subtract = defvjp(np.subtract, [_g, _neg_g], [_t, _neg_t])
negative = defvjp(np.negative, [_neg_g], [_neg_t])
positive = defvjp(np.positive, [_g], [_t])


def multiply_vjp_x(g, ans, x, y):
    if type(y) is np.ndarray and type(g) is np.ndarray and y.dtype.kind != "c" and g.nbytes < _LARGE \
            and y.nbytes < _LARGE:
        return g * y  # the common case: buffers.product(g, _conj(y)) without the calls
    return buffers.product(g, _conj(y))


def multiply_vjp_y(g, ans, x, y):
    if type(x) is np.ndarray and type(g) is np.ndarray and x.dtype.kind != "c" and g.nbytes < _LARGE \
            and x.nbytes < _LARGE:
        return g * x  # (as multiply_vjp_x)
    return buffers.product(g, _conj(x))


#: Planes smaller than this are summed the plain way (the loop's per-plane calls would dominate).
PLANE_MIN = 1024


def _dot_ok(g, a) -> bool:
    """``sum(g * conj(a))`` may be one BLAS dot: plain, same shape, large, double precision (a
    single-precision dot accumulates in single precision, unlike NumPy's pairwise sum)."""
    return (type(g) is np.ndarray and type(a) is np.ndarray and a.shape == g.shape and g.size >= PLANE_MIN
            and np.result_type(g, a) in (np.float64, np.complex128))


def product_sum(g, a, shape):
    """``g * conj(a)`` summed over the leading axes along which a value of ``shape`` was broadcast.

    The cotangent of a factor shared across a batch (a filter applied to every
    image). NumPy arrays are accumulated one plane at a time, so the full-size
    product never exists: W2's 16x256x129 complex64 case takes 1.0-1.5 ms
    instead of 2.0-2.3. Any other case is the plain product (``fit`` sums it).
    """
    lead = g.ndim - len(shape)
    if shape == () and _dot_ok(g, a):
        return np.asarray(np.vdot(a, g))  # a scalar factor: sum(g * conj(a)) in one pass, no product array
    if (
        type(g) is not np.ndarray
        or type(a) is not np.ndarray
        or a.shape != g.shape
        or lead < 1
        or g.shape[lead:] != shape
        or math.prod(shape) < PLANE_MIN
    ):
        return g * _conj(a)
    planes = np.ndindex(g.shape[:lead])
    first = next(planes)
    acc = g[first] * _conj(a[first])  # fresh: accumulated in place
    tmp = np.empty_like(acc)
    conj = a.dtype.kind == "c"
    for i in planes:
        if conj:
            np.multiply(g[i], np.conjugate(a[i], out=tmp), out=tmp)
        else:
            np.multiply(g[i], a[i], out=tmp)
        acc += tmp
    return acc


def multiply_reduce_x(g, ans, x, y, shape):
    return product_sum(g, y, shape)


def multiply_reduce_y(g, ans, x, y, shape):
    return product_sum(g, x, shape)


multiply_vjp_x.reduce_to = multiply_reduce_x
multiply_vjp_y.reduce_to = multiply_reduce_y


def multiply_jvp_x(t, ans, x, y):
    return t * y


def multiply_jvp_y(t, ans, x, y):
    return x * t


def multiply_vjp_x_in_place(g, ans, x, y):
    return multiply_into(g, _conj(y))


def multiply_vjp_y_in_place(g, ans, x, y):
    return multiply_into(g, _conj(x))


multiply_vjp_x.in_place = multiply_vjp_x_in_place
multiply_vjp_y.in_place = multiply_vjp_y_in_place
multiply = defvjp(np.multiply, [multiply_vjp_x, multiply_vjp_y], [multiply_jvp_x, multiply_jvp_y])


def divide_vjp_x(g, ans, x, y):
    return g / _conj(y)


def divide_vjp_y(g, ans, x, y):
    return -g * _conj(ans / y)


def divide_reduce_y(g, ans, x, y, shape):
    """A scalar denominator's cotangent ``-sum(g * conj(ans)) / conj(y)`` in one pass."""
    if shape == () and np.ndim(y) == 0 and _dot_ok(g, ans):
        return -np.asarray(np.vdot(ans, g)) / _conj(y)
    return divide_vjp_y(g, ans, x, y)


divide_vjp_y.reduce_to = divide_reduce_y


def divide_jvp_x(t, ans, x, y):
    return t / y


def divide_jvp_y(t, ans, x, y):
    return -t * (ans / y)


divide = defvjp(np.true_divide, [divide_vjp_x, divide_vjp_y], [divide_jvp_x, divide_jvp_y])


# ``a * b`` and ``a / b`` of two NumPy scalars use NumPy's scalar arithmetic, not the ufunc loop, and
# for complex numbers the two round differently: the traced operators compute what the plain ones do.
def _numpy_scalar(r):
    """``1j * np.float64(2)`` is Python's complex (np.float64 subclasses float): the same number
    as a NumPy scalar, which has the shape and dtype a traced value needs."""
    t = type(r)
    if t is complex:
        return np.complex128(r)
    if t is float:
        return np.float64(r)
    return r


def multiply_operator(x, y):
    if type(x) is np.ndarray or type(y) is np.ndarray:
        return np.multiply(x, y)
    return _numpy_scalar(operator.mul(x, y))


def divide_operator(x, y):
    if type(x) is np.ndarray or type(y) is np.ndarray:
        return np.true_divide(x, y)
    return _numpy_scalar(operator.truediv(x, y))


for _u, _op, _rule in ((np.multiply, multiply_operator, multiply), (np.true_divide, divide_operator, divide)):
    OPERATORS[_u] = defvjp(_u, _rule.vjps, _rule.jvps, raw=_op, name=_rule.name, key=False)
    OPERATORS[_u].ufunc = _u  # large outputs still aligned, as the ufunc rule's are


def _nonzero(x):
    return np.where(x == 0, 1, x)


def _power_slope(x, y, pow):
    """``d x**y / dx = y * x**(y-1)``, and 0 where ``y == 0``: ``x**0`` is 1 everywhere, 0**0
    included, while ``y * x**(y-1)`` would be ``0 * inf`` (NaN) at ``x = 0`` (as JAX's rule)."""
    if isinstance(y, (int, float, np.number)):
        if y == 0:
            return np.zeros_like(x)
        return y * pow(x, y - 1)
    zero = y == 0
    if not np.any(zero):
        return y * pow(x, y - 1)
    y1 = np.where(zero, 1, y)  # 1 * x**0 where y == 0: finite, then replaced
    return np.where(zero, 0, y1 * pow(x, y1 - 1))


def power_dx(ans, x, y):
    if type(y) in (int, float) and y == 2:
        return buffers.product(2, x)  # the common square: no pow
    return _power_slope(x, y, operator.pow)


def power_dy(ans, x, y):
    return np.where(x == 0, 0, ans * np.log(_nonzero(x)))


def float_power_dx(ans, x, y):
    return _power_slope(x, y, np.float_power)


defelementwise(np.power, power_dx, power_dy)
# ``x ** y`` is not ``np.power(x, y)`` in NumPy: ndarray's operator squares for ``** 2`` (and takes
# sqrt, reciprocal for 0.5, -1), 4x faster than pow and exact. Traced ``**`` computes what it would.
def power_operator(x, y):
    """``x ** y`` as ndarray's operator computes it (a large square's output aligned)."""
    if type(y) in (int, float) and y == 2 and type(x) is np.ndarray and x.dtype.kind in "fc":
        if buffers.large((x,)):
            return buffers.call(np.square, (x,))  # what ndarray's ** 2 computes
    return _numpy_scalar(operator.pow(x, y))


OPERATORS[np.power] = defelementwise(np.power, power_dx, power_dy, raw=power_operator, name="power",
                                     key=False)
defelementwise(np.float_power, float_power_dx, power_dy)


def square_d(ans, x):
    return 2 * x


def sqrt_d(ans, x):
    return 0.5 / ans


def cbrt_d(ans, x):
    return 1 / (3 * ans * ans)


def reciprocal_d(ans, x):
    return -(ans * ans)


defelementwise(np.square, square_d)
defelementwise(np.sqrt, sqrt_d)
defelementwise(np.cbrt, cbrt_d)
defelementwise(np.reciprocal, reciprocal_d)


def remainder_dx(ans, x, y):
    return np.ones_like(ans)


def remainder_dy(ans, x, y):
    return -np.floor_divide(x, y)


def fmod_dy(ans, x, y):
    return -np.trunc(x / y)


defelementwise(np.remainder, remainder_dx, remainder_dy)
defelementwise(np.fmod, remainder_dx, fmod_dy)

# ---------------------------------------------------------------- exponentials and logarithms


def exp_d(ans, x):
    return ans


def exp2_d(ans, x):
    return ans * np.log(2.0)


def expm1_d(ans, x):
    return ans + 1


def log_d(ans, x):
    return 1 / x


def log2_d(ans, x):
    return 1 / (x * np.log(2.0))


def log10_d(ans, x):
    return 1 / (x * np.log(10.0))


def log1p_d(ans, x):
    return 1 / (1 + x)


def logaddexp_dx(ans, x, y):
    return np.exp(x - ans)


def logaddexp_dy(ans, x, y):
    return np.exp(y - ans)


def logaddexp2_dx(ans, x, y):
    return np.exp2(x - ans)


def logaddexp2_dy(ans, x, y):
    return np.exp2(y - ans)


for _f, _d in [
    (np.exp, exp_d), (np.exp2, exp2_d), (np.expm1, expm1_d), (np.log, log_d),
    (np.log2, log2_d), (np.log10, log10_d), (np.log1p, log1p_d),
]:
    defelementwise(_f, _d)
defelementwise(np.logaddexp, logaddexp_dx, logaddexp_dy)
defelementwise(np.logaddexp2, logaddexp2_dx, logaddexp2_dy)

# ---------------------------------------------------------------- trigonometric and hyperbolic


def sin_d(ans, x):
    return np.cos(x)


def cos_d(ans, x):
    return -np.sin(x)


def tan_d(ans, x):
    return 1 + ans * ans


def arcsin_d(ans, x):
    return 1 / np.sqrt(1 - x * x)


def arccos_d(ans, x):
    return -1 / np.sqrt(1 - x * x)


def arctan_d(ans, x):
    return 1 / (1 + x * x)


def sinh_d(ans, x):
    return np.cosh(x)


def cosh_d(ans, x):
    return np.sinh(x)


def tanh_d(ans, x):
    return 1 - ans * ans


def arcsinh_d(ans, x):
    return 1 / np.sqrt(x * x + 1)


def arccosh_d(ans, x):
    return 1 / (np.sqrt(x - 1) * np.sqrt(x + 1))


def arctanh_d(ans, x):
    return 1 / (1 - x * x)


def deg2rad_d(ans, x):
    return np.pi / 180


def rad2deg_d(ans, x):
    return 180 / np.pi


for _f, _d in [
    (np.sin, sin_d), (np.cos, cos_d), (np.tan, tan_d), (np.arcsin, arcsin_d),
    (np.arccos, arccos_d), (np.arctan, arctan_d), (np.sinh, sinh_d), (np.cosh, cosh_d),
    (np.tanh, tanh_d), (np.arcsinh, arcsinh_d), (np.arccosh, arccosh_d),
    (np.arctanh, arctanh_d), (np.deg2rad, deg2rad_d), (np.rad2deg, rad2deg_d),
    (np.radians, deg2rad_d), (np.degrees, rad2deg_d),
]:
    defelementwise(_f, _d)


def arctan2_dy(ans, y, x):
    return x / (x * x + y * y)


def arctan2_dx(ans, y, x):
    return -y / (x * x + y * y)


def hypot_dx(ans, x, y):
    return x / ans


def hypot_dy(ans, x, y):
    return y / ans


defelementwise(np.arctan2, arctan2_dy, arctan2_dx)
defelementwise(np.hypot, hypot_dx, hypot_dy)


# sinc'(x) = sum_k (-1)^k 2k pi^2k x^(2k-1) / (2k+1)!, k >= 1: the coefficients of x, x^3, ...
_SINC_D_COEFFS = tuple(
    (-1) ** k * 2 * k * np.pi ** (2 * k) / float(np.prod(np.arange(1, 2 * k + 2, dtype=float)))
    for k in range(1, 16)
)
_SINC_SERIES_BELOW = 0.5


def horner(coefs, x):
    """``sum_k coefs[k] x**k`` by Horner's rule, the coefficients in ascending order (a sequence,
    or an array along its first axis); coefficients and ``x`` may be traced."""
    acc = coefs[-1]
    for k in range(len(coefs) - 2, -1, -1):
        acc = acc * x + coefs[k]
    return acc


def sinc_d(ans, x):
    """``(cos(pi x) - sinc(x)) / x``, which cancels near 0 (all digits lost by ``|x| ~ 1e-8``):
    below ``|x| = 1/2`` the Taylor series instead (15 terms, exact to rounding there and, being a
    polynomial in the traced ``x``, at higher orders too)."""
    near = np.abs(x) < _SINC_SERIES_BELOW
    xs = np.where(near, x, 0)
    far = np.where(near, 1, x)
    return np.where(near, horner(_SINC_D_COEFFS, xs * xs) * xs, (np.cos(np.pi * far) - np.sinc(far)) / far)


defelementwise(np.sinc, sinc_d)


def copysign_dx(ans, x, y):
    """``copysign(x, y) = ±|x|`` with ``y``'s sign: +1 where ``x`` keeps its sign, -1 where it flips,
    0 at ``x = 0`` (``|x|``'s subgradient there, as for ``np.abs``)."""
    return np.where(x == 0, 0.0, np.where(np.signbit(x) == np.signbit(ans), 1.0, -1.0))


def copysign_dy(ans, x, y):
    """Piecewise constant in ``y`` (its sign only): zero."""
    return np.zeros(np.shape(ans))


defelementwise(np.copysign, copysign_dx, copysign_dy)


def ldexp_dx(ans, x, n):
    """``ldexp(x, n) = x 2^n`` (``n`` an integer exponent, no derivative): ``2^n``, exact."""
    return np.ldexp(np.ones((), dtype=ans.dtype), n)


defelementwise(np.ldexp, ldexp_dx, None)


def nextafter_dx(ans, x, y):
    """``nextafter(x, y)`` is ``x`` moved by one ulp toward ``y``: derivative 1 in ``x``."""
    return np.ones(np.shape(ans), dtype=ans.dtype)


def nextafter_dy(ans, x, y):
    """``y`` only gives the direction (piecewise constant): zero, as copysign's ``y``."""
    return np.zeros(np.shape(ans), dtype=ans.dtype)


defelementwise(np.nextafter, nextafter_dx, nextafter_dy)

# ---------------------------------------------------------------- complex parts


def _safe_ratio(g, a):
    """``g / a`` for ``a = |z|``, with 0 where ``a == 0`` (the subgradient we give |z| at 0)."""
    if type(a) is np.ndarray and type(g) in (np.ndarray, np.float64, np.float32):
        if a.size and a.min() > 0:  # the common case, no zeros (a >= 0): a plain division
            return g / a
        out = np.zeros(np.broadcast_shapes(np.shape(g), a.shape), dtype=np.result_type(g, a))
        return np.divide(g, a, out=out, where=a != 0)
    return g / _nonzero(a) * (a != 0)


def abs_vjp(g, ans, x):
    if x.dtype.kind == "c":
        return buffers.product(x, _safe_ratio(g, ans))  # complex-by-real: beats two strided products
    return g * np.sign(x)


def abs_vjp_in_place(g, ans, x):
    if x.dtype.kind != "c":
        return multiply_into(g, np.sign(x))
    if type(ans) is np.ndarray and g.dtype == ans.dtype and g.shape == ans.shape and ans.min() > 0:
        return buffers.product(x, np.divide(g, ans, out=g))  # the ratio in g: one fresh array fewer
    return abs_vjp(g, ans, x)


abs_vjp.in_place = abs_vjp_in_place


def abs_jvp(t, ans, x):
    if x.dtype.kind == "c":
        return np.real(np.conj(x) * t) / _nonzero(ans)
    return t * np.sign(x)


defvjp(np.absolute, [abs_vjp], [abs_jvp])
defvjp(np.fabs, [abs_vjp], [abs_jvp])


def conj_vjp(g, ans, x):
    return np.conj(g)


def conj_jvp(t, ans, x):
    return np.conj(t)


defvjp(np.conjugate, [conj_vjp], [conj_jvp])


def real_raw(val):
    return np.real(val)


def imag_raw(val):
    return np.imag(val)


def real_vjp(g, ans, x):
    return g  # fit() makes it complex with zero imaginary part for a complex input


def real_jvp(t, ans, x):
    return np.real(t)


def imag_vjp(g, ans, x):
    return 1j * g


def imag_jvp(t, ans, x):
    return np.imag(t)


real = defvjp(np.real, [real_vjp], [real_jvp], raw=real_raw)
imag = defvjp(np.imag, [imag_vjp], [imag_jvp], raw=imag_raw)


def angle(z, deg=False):
    """``np.angle`` as ``arctan2(imag, real)``, differentiated through those."""
    a = np.arctan2(np.imag(z), np.real(z))
    return a * (180 / np.pi) if deg else a


defcomposite(np.angle, angle)


def _complex_sign_raw(z, **kwargs):
    return np.sign(z, **kwargs)


def _sign_projection(v, ans, z):
    """``(v - s Re(conj(s) v)) / |z|`` with ``s = sign(z)``, 0 where ``z == 0``: the derivative of
    ``z / |z|`` (the circle's tangent projection over the radius), its own adjoint."""
    r = np.abs(z)
    zero = r == 0
    return np.where(zero, 0, (v - ans * np.real(np.conj(ans) * v)) / np.where(zero, 1, r))


def complex_sign_vjp(g, ans, z):
    return _sign_projection(g, ans, z)


def complex_sign_jvp(t, ans, z):
    return _sign_projection(t, ans, z)


_complex_sign = defvjp(np.sign, [complex_sign_vjp], [complex_sign_jvp], raw=_complex_sign_raw,
                       name="numpy.sign", key=False)
_complex_sign.ufunc = np.sign  # where= masks its derivative, as for every ufunc rule


def sign(x, **kwargs):
    """``np.sign``: ``z / |z|`` for complex ``z`` (NumPy 2; 0 at 0), differentiated as that (a
    non-holomorphic function, derivative 0 at 0); piecewise constant for real ``x``: no gradient."""
    if x.dtype.kind == "c":
        return _complex_sign(x, **kwargs)
    return np.sign(strip(x), **kwargs)


defcomposite(np.sign, sign)


def heaviside_dx(ans, x, h):
    """Piecewise constant in ``x``: zero."""
    return np.zeros(np.shape(ans))


def heaviside_dh(ans, x, h):
    """``h`` is the value where ``x == 0``: 1 there, 0 elsewhere."""
    return np.where(x == 0, 1.0, 0.0)


defelementwise(np.heaviside, heaviside_dx, heaviside_dh)

# ---------------------------------------------------------------- selection


def _tie_weight(ans, mine, other):
    """1 where ``mine`` was chosen, 0 where not, 1/2 on ties."""
    a = (ans == mine) * 1.0
    b = (ans == other) * 1.0
    return a / np.maximum(a + b, 1.0)


def _select_vjp(argpos):
    def select_vjp(g, ans, x, y):
        mine, other = (x, y) if argpos == 0 else (y, x)
        return g * _tie_weight(ans, mine, other)

    return select_vjp


def _select_jvp(argpos):
    def select_jvp(t, ans, x, y):
        mine, other = (x, y) if argpos == 0 else (y, x)
        return t * _tie_weight(ans, mine, other)

    return select_jvp


for _f in (np.maximum, np.minimum, np.fmax, np.fmin):
    defvjp(_f, [_select_vjp(0), _select_vjp(1)], [_select_jvp(0), _select_jvp(1)])


def _clip_masks(a, lo, hi):
    inside = np.ones(np.shape(a), dtype=bool)
    below = above = None
    if lo is not None:
        below = a < lo
        inside = inside & ~below
    if hi is not None:
        above = a > hi
        inside = inside & ~above
    return inside, below, above


def clip_vjp_a(g, ans, a, lo, hi):
    return g * _clip_masks(a, lo, hi)[0]


def clip_vjp_lo(g, ans, a, lo, hi):
    below = _clip_masks(a, lo, hi)[1]
    if hi is not None:
        below = below & ~(lo > hi)  # numpy applies the upper bound last
    return g * below


def clip_vjp_hi(g, ans, a, lo, hi):
    above = _clip_masks(a, lo, hi)[2]
    if lo is not None:
        above = above | (np.broadcast_to(lo > hi, np.shape(above)) & (a < lo))
    return g * above


def clip_jvp_a(t, ans, a, lo, hi):
    return t * _clip_masks(a, lo, hi)[0]


def clip_jvp_lo(t, ans, a, lo, hi):
    return clip_vjp_lo(t, ans, a, lo, hi)


def clip_jvp_hi(t, ans, a, lo, hi):
    return clip_vjp_hi(t, ans, a, lo, hi)


def _clip_raw(a, lo, hi):
    return np.clip(a, lo, hi)


_clip = defvjp(
    "clip", [clip_vjp_a, clip_vjp_lo, clip_vjp_hi], [clip_jvp_a, clip_jvp_lo, clip_jvp_hi],
    raw=_clip_raw, name="numpy.clip", key=False,
)

_NOVALUE = getattr(np, "_NoValue", None)


def clip(a, a_min=_NOVALUE, a_max=_NOVALUE, out=None, *, min=_NOVALUE, max=_NOVALUE, **kwargs):
    """``np.clip``: the gradient passes where ``a_min <= a <= a_max``; clipped entries feed the bound."""
    lo = min if a_min is _NOVALUE else a_min
    hi = max if a_max is _NOVALUE else a_max
    lo = None if lo is _NOVALUE else lo
    hi = None if hi is _NOVALUE else hi
    return _clip(a, lo, hi)


defcomposite(np.clip, clip)


def where_vjp_x(g, ans, cond, x, y):
    return np.where(cond, g, 0)


def where_vjp_y(g, ans, cond, x, y):
    return np.where(cond, 0, g)


_where = defvjp(
    "where", [None, where_vjp_x, where_vjp_y], [None, where_vjp_x, where_vjp_y],
    raw=np.where, name="numpy.where", key=False,
)


def where(condition, x=_NOVALUE, y=_NOVALUE):
    """``np.where``: three arguments select (and route the gradient); one argument is nonzero()."""
    if x is _NOVALUE and y is _NOVALUE:
        return np.where(strip(condition))
    return _where(strip(condition), x, y)


defcomposite(np.where, where)

# ---------------------------------------------------------------- no gradient

for _u in [
    np.floor, np.ceil, np.rint, np.trunc, np.floor_divide, np.less, np.less_equal,
    np.greater, np.greater_equal, np.equal, np.not_equal, np.isfinite, np.isnan, np.isinf,
    np.signbit, np.logical_and, np.logical_or, np.logical_not, np.logical_xor,
    np.spacing, np.bitwise_and, np.bitwise_or, np.bitwise_xor, np.invert,
]:
    defnondiff(_u)
for _f in [np.round, np.around, np.fix, np.isclose, np.allclose, np.array_equal, np.isreal,
           np.iscomplex, np.isrealobj, np.iscomplexobj, np.isneginf, np.isposinf]:
    defnondiff(_f)
