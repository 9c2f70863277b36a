"""Cubic Hermite interpolants built from traced data: SciPy's values, exact gradients."""

import numpy as np
import pytest
import scipy.interpolate as S

import pullback as pb
from pullback.testing import check_gradient

X = np.array([0.0, 1.3, 2.1, 4.0, 5.5, 7.2])
Y = np.random.default_rng(0).standard_normal(6)
XQ = np.array([-0.5, 0.4, 2.5, 3.3, 5.0, 7.0, 7.9])

CASES = [  # (registry key, f, args): see cases.py
    (S.pchip_interpolate, lambda y, xq: S.pchip_interpolate(X, y, xq), (Y, XQ)),
]

BUILDERS = {
    "pchip": lambda y, axis=0, ext=None: S.PchipInterpolator(X, y, axis=axis, extrapolate=ext),
    "akima": lambda y, axis=0, ext=True: S.Akima1DInterpolator(X, y, axis=axis, extrapolate=ext),
    "makima": lambda y, axis=0, ext=True: S.Akima1DInterpolator(X, y, axis=axis, method="makima",
                                                                extrapolate=ext),
    "hermite": lambda y, axis=0, ext=None: S.CubicHermiteSpline(X, y, np.cos(np.arange(y.size)).reshape(
        y.shape),
                                                                axis=axis, extrapolate=ext),
}


@pytest.mark.parametrize("kind", list(BUILDERS))
@pytest.mark.parametrize("nu", [0, 1, 2])
@pytest.mark.parametrize("trail", [(), (3,)])
def test_values_and_gradients(kind, nu, trail):
    rng = np.random.default_rng(nu + len(trail))
    y = rng.standard_normal((6,) + trail)

    def f(v, xq):
        return BUILDERS[kind](v)(xq, nu)

    value, _ = pb.pullback(f, y, XQ)
    want = f(y, XQ)
    assert value.dtype == want.dtype and value.tobytes() == want.tobytes()
    check_gradient(f, y, XQ)


def test_the_interpolation_axis_and_no_extrapolation():
    y = np.random.default_rng(4).standard_normal((2, 6))
    for kind in ("pchip", "akima", "hermite"):
        def f(v, kind=kind):
            return BUILDERS[kind](v, axis=1, ext=False)(XQ[1:-1])

        value, _ = pb.pullback(f, y)
        assert value.tobytes() == f(y).tobytes()
        check_gradient(f, y)
    out, _ = pb.pullback(lambda v: BUILDERS["pchip"](v, ext=False)(XQ), Y)
    assert np.isnan(out[0]) and np.isnan(out[-1])


def test_flat_and_two_point_data():
    """PCHIP's zero slopes where the data are flat or turn (no NaN of the unused harmonic mean), and
    the two-point cases (linear)."""
    y = np.array([0.0, 1.0, 1.0, 3.0, 2.0, 2.0])
    g = pb.gradient(lambda v: np.sum(S.PchipInterpolator(X, v)(XQ[1:-1])), y)[0]
    assert np.all(np.isfinite(g))
    for kind in ("pchip", "akima"):
        f = (lambda v: S.PchipInterpolator(X[:2], v)(XQ[1:2])) if kind == "pchip" else (
            lambda v: S.Akima1DInterpolator(X[:2], v)(XQ[1:2]))
        value, _ = pb.pullback(f, Y[:2])
        assert value.tobytes() == f(Y[:2]).tobytes()
        check_gradient(f, Y[:2])


def test_second_order():
    f = lambda v: np.sum(S.PchipInterpolator(X, v)(XQ) ** 2)  # noqa: E731
    h = pb.hessian(f, Y)
    eps = 1e-5
    fd = np.array([(pb.gradient(f, Y + eps * e)[0] - pb.gradient(f, Y - eps * e)[0]) / (2 * eps)
                   for e in np.eye(6)])
    assert np.allclose(h, fd, rtol=1e-5, atol=1e-6)


def test_what_has_no_rule():
    with pytest.raises(pb.NoRuleError, match="traced knots"):
        pb.gradient(lambda x: np.sum(S.PchipInterpolator(x, Y)(XQ)), X)
    with pytest.raises(pb.NoRuleError, match="derivative"):
        pb.gradient(lambda v: np.sum(S.PchipInterpolator(X, v).derivative()(XQ)), Y)
    with pytest.raises(ValueError, match="only works with real values"):
        pb.gradient(lambda v: np.sum(np.abs(S.PchipInterpolator(X, v + 0j)(XQ))), Y)


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("bounds", [{}, {"bounds_error": False, "fill_value": None}, {"bounds_error": False}])
def test_grid_pchip(dims, bounds):
    """RegularGridInterpolator / interpn with method='pchip' (it raised NoRuleError with traced
    values, and crashed with traced points): SciPy's passes of PCHIPs, SciPy's bits."""
    rng = np.random.default_rng(dims)
    grid = (X, np.linspace(0.0, 3.0, 5), np.linspace(-1.0, 1.0, 4))[:dims]
    V = rng.standard_normal(tuple(len(g) for g in grid))
    xi = np.stack([rng.uniform(g[0], g[-1], 4) for g in grid], axis=-1)
    if bounds:
        xi[0, 0] = grid[0][-1] + 0.5
    for f in (lambda v, q: S.RegularGridInterpolator(grid, v, method="pchip", **bounds)(q),
              lambda v, q: S.interpn(grid, v, q, method="pchip", **bounds)):
        value, _ = pb.pullback(f, V, xi)
        want = f(V, xi)
        assert value.dtype == want.dtype and value.tobytes() == want.tobytes()
        if bounds.get("fill_value", 0.0) is None or not bounds:
            check_gradient(f, V, xi)
