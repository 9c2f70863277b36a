"""scipy.interpolate: values bit for bit against SciPy's, adjoint tests of the maps linear in the
data, finite differences in the data and the query points (reverse + forward), second order,
float32, and the options that raise."""

import numpy as np
import pytest
import scipy.interpolate as S
from scipy.sparse.linalg import spsolve

import pullback as pb
from pullback.testing import check_adjoint, check_gradient

from .cases import case_id, rand

RNG = np.random.default_rng(0)
X = np.sort(RNG.uniform(0, 3, 8))
Y = rand(8, 2, seed=1)
XQ = RNG.uniform(-0.2, 3.2, 5)  # some queries extrapolate
XIN = RNG.uniform(0.2, 2.8, 5)
BC = ((1, np.array([0.3, 0.1])), (2, np.array([-0.2, 0.4])))


def _periodic(y):
    return np.concatenate([y, y[:1]])


def _value_is_scipy(f, args):
    want = f(*args)
    got, _ = pb.jvp(f, args, args)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("bc", ["not-a-knot", "natural", "clamped", BC, "periodic"])
@pytest.mark.parametrize("nu", [0, 1, 2])
def test_cubic_spline(bc, nu):
    def f(y, xq):
        y = _periodic(y) if bc == "periodic" else y
        return S.CubicSpline(X, y, bc_type=bc)(xq, nu)

    y = Y[:-1] if bc == "periodic" else Y
    _value_is_scipy(f, (y, XQ))
    check_gradient(f, y, XQ)
    if bc != BC:  # linear in y (an affine bc is checked above)
        check_adjoint(lambda y: f(y, XQ), y)


def test_cubic_spline_axis_extrapolate_float32_second_order():
    yT = Y.T.copy()

    def f(y, xq):
        return S.CubicSpline(X, y, axis=1)(xq, extrapolate=False)

    _value_is_scipy(f, (yT, XIN))
    check_gradient(f, yT, XIN)
    f32 = (Y[:, 0].astype(np.float32), XIN.astype(np.float32))
    g = pb.gradient(lambda y, xq: np.sum(S.CubicSpline(X, y)(xq) ** 2), *f32)
    assert [a.dtype for a in g] == [np.float32, np.float32]
    check_gradient(lambda y, xq: S.CubicSpline(X, y)(xq), *f32)
    check_gradient(lambda y, xq: pb.grad(lambda y, xq: np.sum(S.CubicSpline(X, y)(xq) ** 3),
                                         argnums=(0, 1))(y, xq)[1], Y[:, 0], XIN)
    h = pb.hessian(lambda xq: np.sum(S.CubicSpline(X, Y[:, 0])(xq)), XIN)
    np.testing.assert_allclose(np.diag(h), S.CubicSpline(X, Y[:, 0])(XIN, 2))


def test_plain_spline_traced_queries_and_complex():
    cs = S.CubicSpline(X, Y)
    _value_is_scipy(lambda xq: cs(xq), (XQ,))
    check_gradient(lambda xq: cs(xq, 1), XQ)
    ak = S.Akima1DInterpolator(X, Y[:, 0])  # any PPoly: queries differentiate
    check_gradient(lambda xq: ak(xq), XIN)
    z = Y[:, 0] + 1j * Y[:, 1]
    check_gradient(lambda z, xq: S.CubicSpline(X, z)(xq), z, XIN)


@pytest.mark.parametrize("k", [0, 1, 2, 3, 5])
def test_make_interp_spline(k):
    def f(y, xq):
        return S.make_interp_spline(X, y, k=k)(xq)

    _value_is_scipy(f, (Y, XQ))
    check_gradient(f, Y, XIN if k == 0 else XQ)
    check_adjoint(lambda y: f(y, XQ), Y)


def test_make_interp_spline_bc_and_nu():
    bc = ([(1, np.array([0.5, 0.2]))], [(2, np.array([0.1, 0.0]))])

    def f(y, xq):
        return S.make_interp_spline(X, y, k=3, bc_type=bc)(xq, 1)

    _value_is_scipy(f, (Y, XQ))
    check_gradient(f, Y, XQ)

    def g(y, xq):
        return S.make_interp_spline(X, _periodic(y), k=3, bc_type="periodic")(xq)

    check_gradient(g, Y[:-1], XQ)


def test_bspline():
    t = np.r_[[0] * 4, 1, 2, [3] * 4]
    c = rand(6, seed=3)

    def f(c, xq):
        return S.BSpline(t, c, 3)(xq)

    _value_is_scipy(f, (c, XIN))
    check_gradient(f, c, XIN)
    check_adjoint(lambda c: f(c, XIN), c)
    spl = S.BSpline(t, c, 3, extrapolate="periodic")
    check_gradient(lambda xq: spl(xq, 1), XQ)
    check_gradient(lambda c, xq: S.BSpline(t, c, 3, extrapolate=False)(xq, 2), c, XIN)


KINDS = ["linear", "nearest", "previous", "next", "zero", "slinear", "quadratic", "cubic"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fill", [(-1.0, 2.0), "extrapolate"])
def test_interp1d(kind, fill):
    def f(y, xq):
        return S.interp1d(X, y, kind=kind, axis=0, bounds_error=False, fill_value=fill)(xq)

    piecewise_constant = kind in ("nearest", "previous", "next", "zero")
    xq = XIN if piecewise_constant else XQ
    _value_is_scipy(f, (Y, xq))
    check_gradient(f, Y, xq)
    if fill == "extrapolate":
        check_adjoint(lambda y: f(y, xq), Y)
    if piecewise_constant:  # no gradient in the query points (zero almost everywhere)
        assert not np.any(pb.gradient(lambda xq: np.sum(f(Y, xq)), xq)[0])


def test_interp1d_unsorted_axis_and_plain_object():
    order = RNG.permutation(8)

    def f(y, xq):
        return S.interp1d(X[order], y, kind="cubic")(xq)

    yT = Y.T[:, order].copy()
    _value_is_scipy(f, (yT, XIN))
    check_gradient(f, yT, XIN)
    it = S.interp1d(X, Y[:, 0], kind="quadratic")
    check_gradient(lambda xq: it(xq), XIN)



def _polynomial(cls, **kw):
    """``cls(X, y, **kw)``; the barycentric weights drawn from a fixed generator (SciPy permutes
    the points at random when it computes them)."""
    if cls is S.BarycentricInterpolator:
        return lambda y: cls(X, y, rng=np.random.default_rng(0), **kw)
    return lambda y: cls(X, y, **kw)


@pytest.mark.parametrize("cls", [S.BarycentricInterpolator, S.KroghInterpolator])
def test_polynomial_interpolators(cls):
    """Regression: a plain Krogh or barycentric interpolant at traced query points raised
    AttributeError (the interp1d rule answered their shared ``_Interpolator1D.__call__``), and
    traced y raised on conversion. Values and derivatives (``derivative`` too), both layouts."""
    y3 = rand(3, 8, 2, seed=6)
    make, make1 = _polynomial(cls, axis=1), _polynomial(cls)
    xq = XIN[:4].reshape(2, 2)
    _value_is_scipy(lambda y, xq: make(y)(xq), (y3, xq))
    check_gradient(lambda y, xq: make(y)(xq), y3, xq)
    check_gradient(lambda y, xq: make(y).derivative(xq, 2), y3, xq)
    check_gradient(lambda y, xq: make1(y)(xq), Y[:, 0], X[2:5])  # at the nodes
    check_adjoint(lambda y: make1(y)(XIN), Y)
    plain = make1(Y)
    _value_is_scipy(lambda xq: plain(xq), (XIN,))
    check_gradient(lambda xq: plain(xq), XIN)
    check_gradient(lambda xq: plain.derivative(xq), XIN[0])
    check_gradient(lambda xq: pb.grad(lambda xq: np.sum(plain(xq) ** 3))(xq), XIN)
    assert type(make1(Y)) is cls and type(plain(XIN[0])) is np.ndarray
    with pytest.raises(pb.NoRuleError, match="traced xi"):
        pb.gradient(lambda x: np.sum(cls(x, Y)(XIN)), X)
    with pytest.raises(pb.NoRuleError, match="derivatives"):
        pb.gradient(lambda y: np.sum(make1(y).derivatives(XIN)), Y)
    with pytest.raises(pb.NoRuleError, match="'yi'"):
        pb.gradient(lambda y: np.sum(make1(y).yi), Y)

    class Other(S.BarycentricInterpolator.__mro__[2]):  # SciPy's _Interpolator1D, not one pullback knows
        def _evaluate(self, x):
            return x[:, None]

    with pytest.raises(pb.NoRuleError, match="Other"):
        pb.gradient(lambda xq: np.sum(Other(X, Y[:, 0], 0)(xq)), XIN)


def test_polynomial_interpolate_functions():
    y = Y[:, 0]
    f = lambda y, xq: S.krogh_interpolate(X, y, xq, der=1)
    _value_is_scipy(f, (y, XIN))
    check_gradient(f, y, XIN)
    g = lambda y, xq: S.barycentric_interpolate(X, y, xq, rng=np.random.default_rng(1))
    _value_is_scipy(g, (y, XIN))
    check_gradient(g, y, XIN)

G1, G2 = np.linspace(0, 1, 7), np.linspace(0, 2, 8)
V = rand(7, 8, seed=4)
V3 = rand(7, 8, 3, seed=5)
XI = np.stack([RNG.uniform(0, 1, 4), RNG.uniform(0, 2, 4)], -1)
XO = np.array([[0.55, 2.5], [1.2, 0.3], [0.2, 0.2]])  # two points outside the grid


def _rgi(method, **kw):
    if method in ("cubic", "quintic"):
        kw.setdefault("solver", spsolve)  # SciPy's default solver is iterative (gcrotmk): inexact

    def f(v, xi):
        return S.RegularGridInterpolator((G1, G2), v, method=method, **kw)(xi)

    return f


@pytest.mark.parametrize("method", ["linear", "nearest", "slinear", "cubic", "quintic"])
def test_regular_grid(method):
    f = _rgi(method)
    _value_is_scipy(f, (V, XI))
    check_gradient(f, V, XI)
    check_adjoint(lambda v: f(v, XI), V)
    for fill in (3.0, None):
        g = _rgi(method, bounds_error=False, fill_value=fill)
        _value_is_scipy(g, (V3, XO))
        check_gradient(g, V3, XO)



@pytest.mark.parametrize("method", ["linear", "nearest", "slinear", "cubic", "quintic", "pchip"])
@pytest.mark.parametrize("flip", [(0,), (1,), (0, 1)], ids=str)
def test_regular_grid_descending_axes(method, flip):
    """Regression: with a descending grid axis SciPy flips its values; the traced values were not
    flipped, so the traced value itself was wrong (and the gradient landed on the wrong rows)."""
    grid = tuple(g[::-1] if a in flip else g for a, g in enumerate((G1, G2)))
    values = np.flip(V, axis=flip)
    kw = {"solver": spsolve} if method in ("cubic", "quintic") else {}

    def f(v, xi):
        return S.RegularGridInterpolator(grid, v, method=method, **kw)(xi)

    _value_is_scipy(f, (values, XI))
    check_gradient(f, values, XI)
    if method not in ("cubic", "quintic"):  # (interpn takes no solver)
        def g(v, xi):
            return S.interpn(grid, v, xi, method=method)

        _value_is_scipy(g, (values, XI))
        check_gradient(g, values, XI)


def test_regular_grid_query_forms():
    """Regression: a list of points ``[[x, y]]`` was read as a tuple of coordinate arrays (SciPy
    reads a tuple so, a list as an array of points): a traced call raised on the shape."""
    grid = (np.arange(6.0)[::-1], np.arange(7.0))
    v = np.arange(42.0).reshape(6, 7) ** 0.5
    f = lambda v: S.RegularGridInterpolator(grid, v)([[1.3, 2.2]])[0]
    value, (grad,) = pb.value_and_gradient(f, v)
    assert value == f(v) and type(value) is type(f(v))
    np.testing.assert_array_equal(np.nonzero(grad)[0], [3, 3, 4, 4])  # rows 3-4 of the flipped grid
    check_gradient(f, v)
    for xi in ((XI[:, 0], XI[:, 1]), (XI,), list(XI), XI[0]):
        r = S.RegularGridInterpolator((G1, G2), V)
        _value_is_scipy(lambda v, xi=xi: S.RegularGridInterpolator((G1, G2), v)(xi), (V,))
        np.testing.assert_array_equal(pb.jvp(lambda q: r(q), (XI,), (XI,))[0], r(XI))

def test_regular_grid_interpn_second_order_and_plain():
    def f(v, xi):
        return S.interpn((G1, G2), v, xi, method="linear")

    _value_is_scipy(f, (V3, XI))
    check_gradient(f, V3, XI)
    r = S.RegularGridInterpolator((G1, G2), V, method="cubic", solver=spsolve)
    check_gradient(lambda xi: r(xi), XI)
    check_gradient(lambda v, xi: pb.grad(lambda v, xi: np.sum(_rgi("cubic")(v, xi) ** 2),
                                         argnums=(0, 1))(v, xi)[1], V, XI, rtol=1e-4)
    default = S.RegularGridInterpolator((G1, G2), V, method="cubic")  # iterative solver: close
    g = pb.gradient(lambda xi: np.sum(default(xi)), XI)[0]
    np.testing.assert_allclose(g, pb.gradient(lambda xi: np.sum(r(xi)), XI)[0], rtol=1e-2, atol=1e-3)


CASES = [  # (registry key, f, args): the registered rules of this family, see cases.py
    (S.make_interp_spline, lambda y, xq: S.make_interp_spline(X, y)(xq), (Y, XQ)),
    (S.interpn, lambda v, xi: S.interpn((G1, G2), v, xi, method="slinear"), (V3, XI)),
]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_cases(case):
    _, f, args = case
    check_gradient(f, *args)


def test_unsupported_raise():
    with pytest.raises(pb.NoRuleError, match="knots"):
        pb.gradient(lambda x: np.sum(S.CubicSpline(x, Y[:, 0])(XIN)), X)
    with pytest.raises(pb.NoRuleError, match="knots"):
        pb.gradient(lambda x: np.sum(S.make_interp_spline(x, Y[:, 0])(XIN)), X)
    with pytest.raises(pb.NoRuleError, match="derivative"):
        pb.gradient(lambda y: np.sum(S.CubicSpline(X, y).derivative()(XIN)), Y[:, 0])
    with pytest.raises(pb.NoRuleError, match="'c'"):
        pb.gradient(lambda y: np.sum(S.CubicSpline(X, y).c), Y[:, 0])
    with pytest.raises(pb.NoRuleError, match="grid points"):
        pb.gradient(lambda g: np.sum(S.RegularGridInterpolator((g, G2), V)(XI)), G1)
    with pytest.raises(pb.NoRuleError, match="splinef2d"):
        pb.gradient(lambda v: np.sum(S.interpn((G1, G2), v, XI, method="splinef2d")), V)


def test_plain_calls_unchanged():
    cs = S.CubicSpline(X, Y)
    assert type(cs) is S.CubicSpline
    np.testing.assert_array_equal(cs(XQ), S.CubicSpline(X, Y)(XQ))
    spl = S.make_interp_spline(X, Y)
    assert type(spl) is S.BSpline


def test_unknown_grid_method_raises_scipys_error():
    """Regression: an unknown method with traced values raised NoRuleError; SciPy's constructor
    (and interpn) raise ValueError first."""
    grid, values, pts = (np.arange(7.0), np.arange(8.0)), rand(7, 8, seed=1), np.array([[1.0, 1.0]])
    with pytest.raises(ValueError, match="^Method 'foo' is not defined$"):
        pb.pullback(lambda v: S.RegularGridInterpolator(grid, v, method="foo")(pts), values)
    with pytest.raises(ValueError, match="You provided foo"):
        pb.pullback(lambda v: S.interpn(grid, v, pts, method="foo"), values)
