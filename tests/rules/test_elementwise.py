from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pullback as pb
from pullback.core import strip
from pullback.testing import check_gradient

from .cases import case_id, rand

x3 = rand(3, 4)
y3 = rand(4)
pos = rand(3, 4, positive=True)
unit = np.tanh(rand(3, 4)) * 0.9
z = rand(3, 4, dtype=complex)
zw = rand(4, dtype=complex)

CASES = [
    (np.add, lambda a, b: np.add(a, b), (x3, y3)),
    (np.subtract, lambda a, b: a - b, (x3, y3)),
    (np.multiply, lambda a, b: a * b, (z, zw)),
    (np.true_divide, lambda a, b: a / b, (z, zw)),
    (np.negative, lambda a: -a, (z,)),
    (np.positive, lambda a: +a, (x3,)),
    (np.power, lambda a, b: a ** b, (pos, y3)),
    (np.float_power, np.float_power, (pos, y3)),
    (np.square, np.square, (z,)),
    (np.sqrt, np.sqrt, (pos,)),
    (np.cbrt, np.cbrt, (pos,)),
    (np.reciprocal, np.reciprocal, (z,)),
    (np.remainder, np.remainder, (pos * 3, rand(4, positive=True))),
    (np.fmod, np.fmod, (pos * 3, rand(4, positive=True))),
    (np.exp, np.exp, (z,)),
    (np.exp2, np.exp2, (x3,)),
    (np.expm1, np.expm1, (x3,)),
    (np.log, np.log, (z,)),
    (np.log2, np.log2, (pos,)),
    (np.log10, np.log10, (pos,)),
    (np.log1p, np.log1p, (pos,)),
    (np.logaddexp, np.logaddexp, (x3, y3)),
    (np.logaddexp2, np.logaddexp2, (x3, y3)),
    (np.sin, np.sin, (z,)),
    (np.cos, np.cos, (z,)),
    (np.tan, np.tan, (unit,)),
    (np.arcsin, np.arcsin, (unit,)),
    (np.arccos, np.arccos, (unit,)),
    (np.arctan, np.arctan, (x3,)),
    (np.sinh, np.sinh, (z,)),
    (np.cosh, np.cosh, (z,)),
    (np.tanh, np.tanh, (z,)),
    (np.arcsinh, np.arcsinh, (x3,)),
    (np.arccosh, np.arccosh, (pos + 1,)),
    (np.arctanh, np.arctanh, (unit,)),
    (np.deg2rad, np.deg2rad, (x3,)),
    (np.rad2deg, np.rad2deg, (x3,)),
    (np.radians, np.radians, (x3,)),
    (np.degrees, np.degrees, (x3,)),
    (np.arctan2, np.arctan2, (x3, pos)),
    (np.hypot, np.hypot, (x3, y3)),
    (np.sinc, np.sinc, (x3,)),
    (np.copysign, np.copysign, (x3, y3)),
    (np.i0, np.i0, (x3,)),
    (np.ldexp, lambda a: np.ldexp(a, np.array([1, -2, 0, 3])), (x3,)),
    (np.nextafter, lambda a: np.nextafter(a, y3 * 10), (x3,)),
    (np.sign, np.sign, (z,)),
    (np.heaviside, lambda a, b: np.heaviside(np.where(x3 > 0, 0.0, x3), b) * a, (x3, y3)),
    (np.absolute, np.abs, (z,)),
    (np.fabs, np.fabs, (x3,)),
    (np.conjugate, np.conj, (z,)),
    (np.real, np.real, (z,)),
    (np.imag, np.imag, (z,)),
    (np.angle, np.angle, (z,)),
    (np.maximum, np.maximum, (x3, y3)),
    (np.minimum, np.minimum, (x3, y3)),
    (np.fmax, np.fmax, (x3, y3)),
    (np.fmin, np.fmin, (x3, y3)),
    (np.clip, lambda a: np.clip(a, -0.5, 0.5), (x3,)),
    (np.where, lambda a, b: np.where(x3 > 0, a, b), (x3, y3)),
]




@pytest.mark.parametrize("case", CASES[:12], ids=case_id)
def test_float32_stays_float32(case):
    _, f, args = case
    args32 = tuple(a.astype(np.complex64 if a.dtype.kind == "c" else np.float32) for a in args)
    check_gradient(f, *args32)


def test_complex_convention():
    # DESIGN section 2: gradient = dL/dx + i dL/dy, so d/dz sum |z|^2 = 2 z
    g = pb.gradient(lambda z: np.sum(np.abs(z) ** 2), z)[0]
    np.testing.assert_allclose(g, 2 * z)
    # a C-linear map y = A x pulls back with A^H
    a = 2 - 3j
    _, back = pb.pullback(lambda x: a * x, zw)
    np.testing.assert_allclose(back(np.ones(4, complex))[0], np.conj(a) * np.ones(4))
    # a real input to a complex function gets a real gradient
    g = pb.gradient(lambda x: np.sum(np.abs(x * (1 + 1j)) ** 2), y3)[0]
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, 4 * y3)


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_complex_abs_at_zero_has_subgradient_zero(dtype):
    # both branches of the pullback: no zero in |z| (plain division) and some zeros (masked)
    z = np.array([3 + 4j, 0, -1j, 0], dtype=dtype)
    g = pb.gradient(lambda z: np.sum(np.abs(z)), z)[0]
    assert g.dtype == dtype
    np.testing.assert_allclose(g, [0.6 + 0.8j, 0, -1j, 0], rtol=1e-6)
    g = pb.gradient(lambda z: np.sum(np.abs(z)), z[[0, 2]])[0]
    np.testing.assert_allclose(g, [0.6 + 0.8j, -1j], rtol=1e-6)


def test_clip_bounds_receive_gradient():
    lo = np.array(-0.5)
    check_gradient(lambda a, lo: np.clip(a, lo, 0.5), x3, lo)
    check_gradient(lambda a, hi: np.clip(a, a_min=None, a_max=hi), x3, np.array(0.2))


def test_ties_split_equally():
    g = pb.gradient(lambda a, b: np.sum(np.maximum(a, b)), np.ones(3), np.ones(3))
    np.testing.assert_allclose(g[0], 0.5)
    np.testing.assert_allclose(g[1], 0.5)


def test_nondifferentiable_return_plain_arrays():
    def f(x):
        s = np.sign(x)
        assert type(s) is np.ndarray
        assert type(x > 0) is np.ndarray
        assert type(np.floor(x)) is np.ndarray
        assert type(np.isfinite(x)) is np.ndarray
        return np.sum(s * x)

    np.testing.assert_allclose(pb.gradient(f, x3)[0], np.sign(x3))


def test_power_with_zero_base():
    g = pb.gradient(lambda x, y: np.sum(x ** y), np.array([0.0, 2.0]), np.array([2.0, 3.0]))
    assert np.all(np.isfinite(g[1]))
    np.testing.assert_allclose(g[0], [0.0, 12.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
@pytest.mark.parametrize("exponent", [2, 2.0, 0.5, -1, 1, 0, 3, -0.5])
def test_power_operator_matches_numpy_operator(exponent, dtype):
    # NumPy's ``a ** 2`` squares (and ``** 0.5`` takes sqrt), unlike np.power: the traced
    # operator computes exactly what the plain one does, and np.power what np.power does.
    a = rand(3, 4, dtype=dtype, positive=True)
    seen = {}

    def f(a):
        seen["op"], seen["power"] = strip(a ** exponent), strip(np.power(a, exponent))
        b = a.copy()
        b **= exponent
        seen["inplace"] = strip(b)
        return np.sum(np.abs(a ** exponent + b) ** 2)

    pb.gradient(f, a)
    np.testing.assert_array_equal(seen["op"], a ** exponent)
    np.testing.assert_array_equal(seen["inplace"], a ** exponent)
    np.testing.assert_array_equal(seen["power"], np.power(a, exponent))
    assert seen["op"].dtype == (a ** exponent).dtype
    if dtype in (np.float64, np.complex128):
        check_gradient(f, a)
    check_gradient(lambda a: np.sum(np.abs(2.0 ** a) ** 2), a.real.astype(np.float64))


@settings(max_examples=25, deadline=None)
@given(
    shape_a=st.lists(st.integers(1, 3), min_size=0, max_size=3),
    drop=st.integers(0, 3),
    dtype=st.sampled_from([np.float32, np.float64, np.complex64, np.complex128]),
    op=st.sampled_from([np.add, np.subtract, np.multiply, np.true_divide]),
)
def test_broadcasting_binary_ops(shape_a, drop, dtype, op):
    shape_b = [1 if i % 2 else n for i, n in enumerate(shape_a[drop:])]
    a = rand(*shape_a, dtype=dtype, positive=True, seed=len(shape_a))
    b = rand(*shape_b, dtype=dtype, positive=True, seed=drop)
    check_gradient(lambda a, b: np.sum(np.abs(op(a, b)) ** 2), a, b)


@settings(max_examples=40, deadline=None)
@given(
    lead=st.lists(st.integers(1, 3), min_size=1, max_size=2),
    plane=st.lists(st.integers(1, 4), min_size=0, max_size=2),
    dtypes=st.sampled_from([(np.float32, np.complex64), (np.complex64, np.complex64),
                            (np.float64, np.float32), (np.complex128, np.float64)]),
    view=st.booleans(),
)
def test_product_sum_equals_the_summed_product(lead, plane, dtypes, view):
    from pullback.rules import elementwise

    shape = tuple(lead) + tuple(plane)
    g = rand(*shape, dtype=dtypes[0], seed=1)
    a = rand(*shape, dtype=dtypes[1], seed=2)
    if view:  # strided planes
        g = np.stack([g, g], axis=-1)[..., 0]
    want = np.sum(g * np.conj(a), axis=tuple(range(len(lead))))
    with mock.patch.object(elementwise, "PLANE_MIN", 1):  # every plane takes the plane-by-plane path
        got = elementwise.product_sum(g, a, tuple(plane))
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_gradient_of_a_factor_shared_across_a_batch(dtype, monkeypatch_plane_min):
    # W2's pattern: a filter multiplies every image; its cotangent is summed plane by plane
    x = rand(3, 4, 5, dtype=complex)
    w = rand(4, 5, dtype=dtype)
    check_gradient(lambda x, w: np.sum(np.abs(x * w) ** 2), x, w)
    check_gradient(lambda x, w: np.sum(np.abs(w * x) ** 2), x, w)
    check_gradient(lambda w: np.sum(np.abs(x * w) ** 2), w)
    g = pb.gradient(lambda w: np.sum(np.abs(w * x) ** 2), w)[0]
    want = np.sum(2 * np.abs(x) ** 2, axis=0) * w
    np.testing.assert_allclose(g, want.real if dtype is np.float64 else want)


@pytest.fixture
def monkeypatch_plane_min(monkeypatch):
    """Every plane takes the plane-by-plane path, however small."""
    from pullback.rules import elementwise

    monkeypatch.setattr(elementwise, "PLANE_MIN", 1)


@pytest.mark.parametrize("op", [np.add, np.multiply, np.subtract, np.true_divide, np.power, np.sin, np.exp])
def test_ufunc_loop_options_are_honoured(op):
    # regression: dtype= reached the reverse functions (TypeError: unexpected keyword 'dtype')
    a, b = rand(3, 4, positive=True), rand(4, positive=True, seed=2)
    args = (a, b) if op.nin == 2 else (a,)
    seen = {}

    def f(*v):
        y = op(*v, dtype=np.float32, casting="same_kind", order="C", subok=True)
        seen["value"] = strip(y)
        return np.sum(y * y)

    g = pb.gradient(f, *args)
    np.testing.assert_array_equal(seen["value"], op(*args, dtype=np.float32))
    assert seen["value"].dtype == np.float32 and all(gi.dtype == np.float64 for gi in g)
    check_gradient(lambda *v: np.sum(op(*v, dtype=np.float64) ** 2), *args)


def test_scalar_operators_are_numpys_scalar_arithmetic():
    # NumPy scalars multiply and divide with their own arithmetic, whose complex results can differ in
    # the last bit from the ufunc loop's; traced scalars must give NumPy's bits
    x = rand(64, dtype=np.complex128, seed=21)

    def f(x):
        return np.stack([x[i] * x[i + 1] / x[i + 2] for i in range(len(x) - 2)])

    assert np.array_equal(pb.pullback(f, x)[0], f(x))


def test_python_complex_times_numpy_scalar_stays_traceable():
    """Regression: ``1j * np.float64(x)`` is a Python complex (np.float64 subclasses float); the
    traced value had no shape, so a second-order derivative through np.imag / np.angle failed."""
    f = lambda x, v: pb.pullback(np.angle, x)[1](v)[0]  # noqa: E731
    check_gradient(f, 1 + 2j, 0.3)
    for op in (lambda x: 1j * x, lambda x: 1j / x, lambda x: 1j ** x):
        value, tangent = pb.jvp(op, (np.float64(0.3),), (0.5,))
        assert value == op(np.float64(0.3)) and np.ndim(value) == 0
        check_gradient(lambda x: np.real(op(x)) + np.imag(op(x)), np.float64(0.3))


@pytest.mark.parametrize("dtype", [np.float64, np.complex128, np.float32])
def test_scalar_factor_and_denominator_reduce_in_one_pass(dtype):
    """A broadcast 0-d factor or denominator of a large array: its cotangent is one dot product."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((40, 40)).astype(dtype)
    w = rng.standard_normal((40, 40))
    s = np.asarray(1.3 if np.dtype(dtype).kind != "c" else 1.3 - 0.4j, dtype=dtype)

    def f(s):
        return np.sum(w * np.abs(a / s + a * s) ** 2)

    check_gradient(f, s, rtol=1e-3 if dtype == np.float32 else None)
    check_gradient(pb.grad(f), s, rtol=1e-3 if dtype == np.float32 else 1e-5)


def test_copysign_and_i0():
    """np.copysign (d/dx: +-1 as x keeps or flips its sign, 0 at x = 0; zero in y) and np.i0 (I1),
    both missing rules found by a random sweep; values NumPy's bit for bit, float32 kept."""
    x = np.array([0.3, -1.2, 2.5, -0.7, 0.0])
    y = np.array([-1.0, 2.0, -0.0, 0.5, -3.0])
    check_gradient(lambda u: np.copysign(u, y[:4]), x[:4])
    check_gradient(lambda u, v: np.copysign(u, v) * v, x[:4], y[:4] + 0.25)
    np.testing.assert_array_equal(pb.gradient(lambda u: np.sum(np.copysign(u, y)), x)[0], [-1, -1, -1, -1, 0])
    check_gradient(np.i0, x)
    check_gradient(lambda u: np.i0(u) ** 2, x, modes=("reverse", "forward"))
    for f in (np.i0, lambda u: np.copysign(u, y)):
        value, _ = pb.pullback(f, x)
        assert value.tobytes() == f(x).tobytes()
    x32 = x.astype(np.float32)
    assert pb.gradient(lambda u: np.sum(np.copysign(u, y.astype(np.float32))), x32)[0].dtype == np.float32


def test_ldexp():
    """np.ldexp(x, n) = x 2^n: the derivative 2^n exactly, float32 kept; n is an integer (no gradient)."""
    x = np.array([0.3, -1.2, 2.5])
    n = np.array([2, -1, 0])
    np.testing.assert_array_equal(pb.gradient(lambda u: np.sum(np.ldexp(u, n)), x)[0], [4.0, 0.5, 1.0])
    value, _ = pb.pullback(lambda u: np.ldexp(u, n), x)
    assert value.tobytes() == np.ldexp(x, n).tobytes()
    g32 = pb.gradient(lambda u: np.sum(np.ldexp(u, n)), x.astype(np.float32))[0]
    assert g32.dtype == np.float32
    check_gradient(lambda u: np.ldexp(u, 3) ** 2, x, modes=("reverse", "forward"))


@pytest.mark.filterwarnings("ignore")  # NumPy warns of the uninitialised entries
@pytest.mark.parametrize("op", [np.add, np.subtract, np.multiply, np.true_divide, np.maximum, np.arctan2,
                                np.hypot, np.sin, np.exp])
def test_ufunc_where_without_out(op):
    """Regression (D2): ``np.subtract(x, y, where=m)`` without ``out=`` crashed in the gradient
    (``_g() got an unexpected keyword argument 'where'``). NumPy leaves the unselected entries
    uninitialised: they carry no derivative; the selected ones have the rule's, in both modes."""
    a, b = rand(3, 4, positive=True), rand(4, positive=True, seed=2)
    args = (a, b) if op.nin == 2 else (a,)
    m = np.array([True, False, True, True])

    def f(*v):
        return np.where(m, op(*v, where=m), 0.0)

    value = strip(pb.pullback(f, *args)[0])
    np.testing.assert_array_equal(value, f(*args))
    check_gradient(f, *args)
    check_gradient(lambda *v: np.sum(op(*v, where=True) ** 2), *args)
    g = pb.gradient(lambda *v: np.sum(np.where(m, op(*v, where=m), 0.0)), *args)
    full = pb.gradient(lambda *v: np.sum(op(*v)[:, m]), *args)
    for gi, fi in zip(g, full):
        np.testing.assert_allclose(gi, fi)
    g = pb.gradient(lambda *v: np.sum(op(*v, where=m)), *args)  # the unselected entries: no derivative
    for gi, fi in zip(g, full):
        np.testing.assert_allclose(gi, fi)
    _, t = pb.jvp(lambda *v: op(*v, where=m), args, tuple(np.ones_like(v) for v in args))
    assert np.all(t[:, ~m] == 0)


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_complex_sign(dtype):
    """Regression (B1): np.sign of complex z is z / |z| in NumPy 2 (0 at 0); its gradient was
    silently zero. Now the derivative of z / |z| (0 at z = 0), both modes, any order; NumPy's bits."""
    z = np.array([1 + 2j, -0.5 + 0.3j, 0.7 - 1.1j], dtype=dtype)
    value, _ = pb.pullback(np.sign, z)
    assert value.dtype == dtype and value.tobytes() == np.sign(z).tobytes()
    tol = {"rtol": 1e-3, "atol": 1e-3} if dtype == np.complex64 else {}
    check_gradient(np.sign, z, **tol)
    check_gradient(lambda z: np.sign(z) * z, z, **tol)
    if dtype == np.complex128:
        check_gradient(pb.grad(lambda z: np.sum(np.real(np.sign(z) ** 3) * np.abs(z))), z)
    # d Re(z/|z|) at z = x + iy: (y^2, -xy) / |z|^3, as dL/dx + i dL/dy
    g = pb.gradient(lambda z: np.sum(np.real(np.sign(z))), np.array([1 + 2j, 0j]))[0]
    np.testing.assert_allclose(g, [(4 - 2j) / 5 ** 1.5, 0])
    x = np.array([0.5, -2.0, 0.0])  # real: piecewise constant, still no gradient
    np.testing.assert_array_equal(pb.gradient(lambda x: np.sum(np.sign(x) * x), x)[0], np.sign(x))


def test_heaviside():
    """Regression (B2): np.heaviside(x, h)'s gradient in h was silently zero; it is 1 where x == 0
    (h is the value there), 0 elsewhere; x's derivative is 0."""
    x = np.array([0.0, 1.0, -2.0, 0.0, np.nan])
    h = np.array([0.3, 0.7, 0.9, -1.5, 2.0])
    value, _ = pb.pullback(lambda h: np.heaviside(x, h), h)
    assert value.tobytes() == np.heaviside(x, h).tobytes()
    gx, gh = pb.gradient(lambda x, h: np.sum(np.heaviside(x, h)), x, h)
    np.testing.assert_array_equal(gh, [1, 0, 0, 1, 0])
    np.testing.assert_array_equal(gx, 0)
    check_gradient(lambda h: np.heaviside(x[:4], h), h[:4])
    check_gradient(lambda x, h: np.heaviside(x, h) * x, x[1:3], h[1:3])


def test_nextafter():
    """np.nextafter(x, y) (a NoRuleError the sweep listed): x moved one ulp toward y, derivative 1 in
    x; y is a direction only (piecewise constant: zero). NumPy's bits, float32 kept."""
    x = np.array([1.0, -2.0, 0.0, 3.5])
    y = np.array([2.0, -3.0, -1.0, 3.5])
    value, _ = pb.pullback(lambda u: np.nextafter(u, y), x)
    assert value.tobytes() == np.nextafter(x, y).tobytes()
    np.testing.assert_array_equal(pb.gradient(lambda u: np.sum(np.nextafter(u, y)), x)[0], 1.0)
    check_gradient(lambda u: np.nextafter(u, y) * u, x)
    g32 = pb.gradient(lambda u: np.sum(np.nextafter(u, np.float32(5))), x.astype(np.float32))[0]
    assert g32.dtype == np.float32
    np.testing.assert_array_equal(pb.gradient(lambda v: np.sum(np.nextafter(x, v)), y)[0], 0.0)
    check_gradient(lambda u, v: np.nextafter(u, v + 10.0) * v, x, y)


def test_sinc_derivative_is_accurate_near_zero():
    """``(cos(pi x) - sinc(x)) / x`` cancels near 0; the series there is exact to rounding, at
    first and second order (reference: the series' first three terms)."""
    d1 = lambda x: pb.gradient(np.sinc, x)[0]  # noqa: E731
    d2 = lambda x: pb.gradient(d1, x)[0]  # noqa: E731
    p2, p4, p6 = np.pi**2, np.pi**4, np.pi**6
    for x in (1e-9, 1e-8, -1e-5, 1e-3):
        assert d1(x) == pytest.approx(-p2 * x / 3 + p4 * x**3 / 30 - p6 * x**5 / 840, rel=1e-15)
        assert d2(x) == pytest.approx(-p2 / 3 + p4 * x**2 / 10 - p6 * x**4 / 168, rel=1e-15)
    assert d1(0.0) == 0 and d2(0.0) == pytest.approx(-p2 / 3, rel=1e-15)
    assert d1(0.5) == pytest.approx(-4 / np.pi, rel=1e-15)  # the series' edge
    assert d1(1.0) == pytest.approx(-1.0, rel=1e-15)
    for x in (np.linspace(-0.9, 0.9, 7), np.array([1e-7, 0.49, 0.51, 2.3])):
        check_gradient(np.sinc, x)
