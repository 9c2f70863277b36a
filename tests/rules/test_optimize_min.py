"""scipy.optimize's minimisers: implicit derivatives of minima, bounds, SciPy's values bit for bit."""

import numpy as np
import pytest
import scipy.optimize as O

import pullback as pb
from pullback.errors import NoRuleError

from .test_optimize import A, quadratic, rng, same

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # solvers probing far from the minimum


def test_golden_gradient_is_not_zero():
    """Regression: differentiating through golden's iterations gave 0 (its iterates depend on the
    parameter only through comparisons)."""
    obj = lambda x, a: (x - a) ** 2 * (1 + 0.3 * x ** 2)  # noqa: E731
    for name in ("golden", "brent"):
        fn = getattr(O, name)
        a = 1.0
        x = fn(obj, args=(a,))
        h = obj  # noqa: F841
        # implicit: d/da of argmin = -f_xa / f_xx
        fxx = pb.hessian(lambda u: obj(u, a), x)
        fxa = pb.grad(lambda b: pb.grad(lambda u: obj(u, b))(x))(a)
        want = -fxa / fxx
        got = pb.gradient(lambda a: fn(obj, args=(a,)), a)[0]
        assert abs(got - want) < 1e-9 * abs(want)
        same(pb.value_and_gradient(lambda a: fn(obj, args=(a,)), a)[0], x)


def test_objective_value_carries_the_envelope_derivative():
    """d/db min_x f(x, b) = f_b(x*, b) = -x*."""
    b = rng.standard_normal(4)
    res = O.minimize(quadratic, np.zeros(4), args=(b,))
    value, (grad,) = pb.value_and_gradient(lambda b: O.minimize(quadratic, np.zeros(4), args=(b,)).fun, b)
    same(value, res.fun)
    np.testing.assert_allclose(grad, -np.linalg.solve(A, b), rtol=1e-9)


def test_active_bounds_hold_and_free_coordinates_move():
    b = np.array([10.0, 0.1, -0.2, 0.3])
    bounds = [(-1, 1)] * 4

    def f(b):
        return O.minimize(quadratic, np.zeros(4), args=(b,), method="L-BFGS-B", bounds=bounds).x

    x = f(b)
    assert x[0] == 1.0
    J = pb.jacobian(f, b)
    free = [1, 2, 3]
    np.testing.assert_allclose(J[0], 0.0)
    np.testing.assert_allclose(J[np.ix_(free, free)], np.linalg.inv(A[np.ix_(free, free)]), rtol=1e-9)


def test_least_squares_losses_match_finite_differences():
    t = np.linspace(0, 3, 20)
    y = 2.0 * np.exp(-0.7 * t) + 0.05 * np.sin(7 * t)

    for loss in ("linear", "soft_l1", "cauchy", "arctan", "huber"):
        def fit(y, loss=loss, tol=1e-15):  # the derivative at a solution accurate to tol
            return O.least_squares(lambda p: p[0] * np.exp(-p[1] * t) - y, np.array([1.0, 1.0]),
                                   loss=loss, f_scale=0.1, xtol=tol, ftol=tol, gtol=tol).x

        d = np.cos(np.arange(20.0))
        _, tangent = pb.jvp(fit, (y,), (d,))
        h = 1e-4  # least_squares' solutions are noisy at 1e-12: a wider step
        fd = (fit(y + h * d) - fit(y - h * d)) / (2 * h)
        np.testing.assert_allclose(tangent, fd, rtol=1e-4, atol=1e-8, err_msg=loss)


def test_curve_fit_gradient_in_ydata_and_sigma():
    t = np.linspace(0, 1, 12)
    X = np.stack([np.ones_like(t), t, t ** 2], axis=1)
    y = 1 + 2 * t - t ** 2 + 0.01 * np.cos(9 * t)
    sigma = 1 + t

    def fit(y, sigma):
        return O.curve_fit(lambda t, a, b, c: a + b * t + c * t * t, t, y, p0=[0, 0, 0], sigma=sigma)[0]

    W = np.diag(1 / sigma ** 2)
    K = np.linalg.solve(X.T @ W @ X, X.T @ W)  # popt = K y
    J = pb.jacobian(fit, y, sigma)
    np.testing.assert_allclose(J[0], K, rtol=1e-8, atol=1e-10)
    same(pb.value_and_gradient(lambda y: fit(y, sigma)[1], y)[0], fit(y, sigma)[1])


def test_second_derivatives_through_a_minimiser_match_finite_differences():
    def inner(t, tol=None):
        return O.minimize(lambda x: np.sum((x - t) ** 4 + x ** 2 + 0.1 * x[0] * x[1]), np.zeros(2),
                          tol=tol, method="BFGS").x

    t = np.array([0.7, 1.3])
    H = pb.hessian(lambda t: np.sum(inner(t) ** 3), t)

    def grad(t):  # of a tightly converged solve, so that the differences are clean
        return pb.gradient(lambda u: np.sum(inner(u, tol=1e-14) ** 3), t)[0]

    h = 1e-5
    fd = np.stack([(grad(t + h * e) - grad(t - h * e)) / (2 * h) for e in np.eye(2)])
    np.testing.assert_allclose(H, fd, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(H, H.T, rtol=1e-10)


# ---- regressions from an adversarial sweep


def test_a_traced_bound_moves_a_minimum_held_by_it():
    """Regression: with an objective that depends on nothing traced, a traced bound that holds the
    minimum was ignored (derivative 0, not 1)."""
    f = lambda x: np.sum((x - 5.0) ** 2)  # noqa: E731
    cases = {
        "minimize": lambda u: O.minimize(f, np.zeros(1), method="L-BFGS-B", bounds=[(-1.0, u)]).x[0],
        "minimize_scalar": lambda u: O.minimize_scalar(f, bounds=(-1.0, u), method="bounded").x,
        "fminbound": lambda u: O.fminbound(f, -1.0, u),
        "fmin_l_bfgs_b": lambda u: O.fmin_l_bfgs_b(f, np.zeros(1), approx_grad=True,
                                                   bounds=[(-1.0, u)])[0][0],
        "least_squares": lambda u: O.least_squares(lambda x: x - 5.0, np.zeros(1), bounds=(-1.0, u)).x[0],
        "curve_fit": lambda u: O.curve_fit(lambda t, p: p * t, np.arange(1.0, 4.0), 5 * np.arange(1.0, 4.0),
                                           p0=[0.0], bounds=(-1.0, u))[0][0],
    }
    for name, g in cases.items():
        assert abs(pb.gradient(g, 1.0)[0] - 1.0) < 1e-12, name


def test_bounds_a_solver_stops_near_hold_and_methods_without_bounds_ignore_them():
    """Regression: TNC, SLSQP and Nelder-Mead stop a few ulps off an active bound and raised;
    least_squares' trf stops 1e-7 inside one with active_mask 0 and got the interior derivative;
    BFGS ignores bounds (SciPy warns) and raised."""
    for method, x0 in (("TNC", 0.0), ("SLSQP", 0.05), ("Nelder-Mead", 0.0), ("L-BFGS-B", 0.0)):
        g = pb.gradient(lambda a: O.minimize(lambda x, a: np.sum((x - a) ** 2), np.full(1, x0), args=(a,),
                                             method=method, bounds=[(-1.0, 0.3)]).x[0], 2.0)[0]
        assert g == 0.0, method
    g = pb.gradient(lambda a: O.least_squares(lambda x: x - a, np.array([0.5]), bounds=(0.0, 1.0)).x[0],
                    -0.01)
    assert g[0] == 0.0
    g = pb.gradient(lambda a: O.minimize(lambda x: np.sum((x - a) ** 2), np.zeros(1), method="BFGS",
                                         bounds=[(-1.0, 0.3)]).x[0], 2.0)
    assert abs(g[0] - 1.0) < 1e-9


def test_legacy_options_and_functions():
    """Regressions: retall=True without full_output raised; fmin_tnc and fmin_ncg were not
    intercepted (SciPy's misleading scalar error), fmin_cobyla and fmin_slsqp now say they are not
    differentiated; an objective returning shape (1,) raised; curve_fit without p0 raised (the
    wrapped model hid its signature)."""
    f = lambda x, a: np.sum((x - a) ** 2 * (1 + x ** 2))  # noqa: E731
    x, allvecs = O.fmin(f, np.zeros(1), args=(1.0,), retall=True, disp=False)
    value, _ = pb.pullback(lambda a: O.fmin(f, np.zeros(1), args=(a,), retall=True, disp=False), 1.0)
    np.testing.assert_array_equal(pb.stop_gradient(value[0]), x)
    assert abs(pb.gradient(lambda a: O.fmin_tnc(f, np.zeros(1), args=(a,), approx_grad=True, disp=0)[0][0],
                           1.0)[0] - 1.0) < 1e-6
    grad = pb.grad(lambda x, a: f(x, a))
    assert abs(pb.gradient(lambda a: O.fmin_ncg(f, np.zeros(1), grad, args=(a,), disp=False)[0], 1.0)[0]
               - 1.0) < 1e-6
    for legacy in (O.fmin_cobyla, O.fmin_slsqp):
        extra = ((lambda x: 1.0),) if legacy is O.fmin_cobyla else ()
        with pytest.raises(NoRuleError, match=legacy.__name__):
            pb.gradient(lambda a: legacy(lambda x: np.sum((x - a) ** 2), np.zeros(1), *extra, disp=0)[0], 1.0)
    g = pb.gradient(lambda a: O.minimize(lambda x: np.sum((x - a) ** 2, keepdims=True), np.zeros(2)).x[0],
                    np.array([1.0, 2.0]))[0]
    np.testing.assert_allclose(g, [1.0, 0.0], atol=1e-9)
    t = np.linspace(0, 1, 6)
    J = pb.jacobian(lambda y: O.curve_fit(lambda x, a, b: a + b * x, t, y)[0], 1 + 2 * t)
    X = np.stack([np.ones(6), t], axis=1)
    np.testing.assert_allclose(J, np.linalg.pinv(X), atol=1e-9)


def test_extra_outputs_carry_their_derivatives():
    """Regression: leastsq's infodict['fvec'] and least_squares' grad had derivative 0."""
    t = np.linspace(0, 2, 8)
    y = 2 * np.exp(-0.7 * t) + 0.05 * np.sin(5 * t)
    d = np.cos(np.arange(8.0))

    def fvec(y):
        return O.leastsq(lambda p: p[0] * np.exp(-p[1] * t) - y, [1.0, 1.0], full_output=True, xtol=1e-14,
                         ftol=1e-14)[2]["fvec"]

    def grad(y):  # with p[1] held on its bound, where the gradient is not zero
        return O.least_squares(lambda p: p[0] * np.exp(-p[1] * t) - y, [1.0, 1.0], bounds=([0, 0.8], np.inf),
                               xtol=1e-15, ftol=1e-15, gtol=1e-15).grad

    for f in (fvec, grad):
        h = 1e-5
        fd = (f(y + h * d) - f(y - h * d)) / (2 * h)
        np.testing.assert_allclose(pb.jvp(f, (y,), (d,))[1], fd, rtol=1e-3, atol=1e-4)


def test_an_unconverged_minimum_warns():
    with pytest.warns(RuntimeWarning, match="did not converge"):
        pb.gradient(lambda a: O.minimize(lambda x: np.sum((x - a) ** 2 * (1 + x ** 2)), np.zeros(1),
                                         options={"maxiter": 1}).x[0], 1.0)


def test_a_custom_method_receives_the_users_bounds():
    """Regression: the rule passed copies of untraced arguments (SciPy's test_gh10771)."""
    bounds = [(-1.0, 1.0)]
    seen = []

    def method(fun, x0, args=(), bounds=None, **kw):
        seen.append(bounds)
        return O.minimize(fun, x0, args=args, method="L-BFGS-B", bounds=bounds)

    g = pb.gradient(lambda a: O.minimize(lambda x: np.sum((x - a) ** 2), np.zeros(1), method=method,
                                         bounds=bounds).x[0], 0.5)
    assert seen[0] is bounds and abs(g[0] - 1.0) < 1e-9


def test_a_bounds_object_with_traced_limits():
    """Regression: Bounds(traced, ...) raised a conversion error in its constructor; its traced
    limits are now kept, and a coordinate one holds follows it."""
    f = lambda x: np.sum((x - 5.0) ** 2)  # noqa: E731
    for method in ("L-BFGS-B", "TNC", "SLSQP"):
        g = pb.gradient(lambda u: O.minimize(f, np.zeros(2), method=method,
                                             bounds=O.Bounds([-1.0, -1.0], [u, 10.0])).x[0], 1.0)
        assert abs(g[0] - 1.0) < 1e-12, method
    g = pb.gradient(lambda u: O.least_squares(lambda x: x - 5.0, np.zeros(1),
                                              bounds=O.Bounds(-1.0, u)).x[0], 1.0)
    assert abs(g[0] - 1.0) < 1e-12
    b = O.Bounds([0, 1], [2, 3])  # plain: SciPy's own
    assert type(b.lb) is np.ndarray and b.lb.tolist() == [0, 1]


def test_covariances_jacobians_and_inverse_hessians_differentiate():
    """Regression: curve_fit's pcov, leastsq's cov_x, least_squares' jac and BFGS's hess_inv were
    SciPy's plain values (a silent zero gradient). Their values stay SciPy's; their derivatives
    are those of inv(J^T J) (times the residual variance), of the residuals' Jacobian and of the
    inverse Hessian, at the traced solution."""
    def model(x, a, b):
        return a * np.exp(-b * x)

    xd = np.linspace(0, 1, 8)
    yd = 2 * np.exp(-1.3 * xd) + 0.05 * np.sin(7 * xd)
    tol = {"ftol": 1e-15, "xtol": 1e-15, "gtol": 1e-15}
    cases = [
        (lambda c: O.curve_fit(model, xd, yd + c * xd ** 2, p0=[2, 1.3], **tol)[1][1, 1], 0.1),
        (lambda c: O.curve_fit(model, xd * c, yd, p0=[2, 1.3], method="trf", **tol)[1][0, 1], 1.0),
        (lambda c: O.curve_fit(model, xd, yd, p0=[2, 1.3], sigma=1 + c * xd, absolute_sigma=True,
                               **tol)[1][1, 1], 0.5),
        (lambda c: O.leastsq(lambda p: model(xd, *p) - yd * c, [2, 1.3], full_output=True, ftol=1e-15,
                             xtol=1e-15)[1][1, 1], 1.0),
        (lambda c: O.least_squares(lambda p: model(xd, *p) - yd - c * xd ** 2, [2, 1.3],
                                   **tol).jac[3, 0], 0.1),
    ]
    for f, c in cases:
        value, (g,) = pb.value_and_gradient(f, c)
        assert value == f(c)
        h = 1e-5
        assert abs(g - (f(c + h) - f(c - h)) / (2 * h)) < 2e-3 * abs(g) + 1e-6
    # hess_inv approximates inv(H) = inv(c H1): its derivative is -inv(H) / c
    def hess_inv(c):
        return O.minimize(lambda x: c * np.sum((x - 1) ** 2 * (1 + 0.1 * x ** 2)), [0.5, 0.5],
                          method="BFGS", options={"gtol": 1e-12}).hess_inv[0, 0]

    value, (g,) = pb.value_and_gradient(hess_inv, 1.0)
    assert value == hess_inv(1.0)
    assert abs(g + 1 / 2.2) < 1e-6  # d/dc of 1 / (c * 2.2): the Hessian's (0, 0) entry at x = 1 is 2.2 c


def test_constraints_holding_traced_values_raise():
    """Regression: a constraint dict's traced args were stripped and the minimum returned as a
    constant when the objective itself depended on nothing traced (gradient 0, not 0.5)."""
    for wrap in (lambda c: c, lambda c: [c]):
        with pytest.raises(NoRuleError, match="constraints"):
            pb.gradient(lambda k: O.minimize(lambda x: np.sum(x ** 2), [1.0, 1.0], constraints=wrap(
                {"type": "eq", "fun": lambda x, k: x[0] + x[1] - k, "args": (k,)})).x[0], 1.0)
