"""scipy.optimize: implicit derivatives of roots and minima, SciPy's values bit for bit."""

import numpy as np
import pytest
import scipy.optimize as O

import pullback as pb
from pullback.errors import NoRuleError

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # solvers probing far from the root


def same(a, b):
    """The same value: type and bits."""
    assert type(pb.stop_gradient(a)) is type(b) or (np.ndim(b) == 0 and type(b) is float), (type(a), type(b))
    assert np.asarray(pb.stop_gradient(a)).tobytes() == np.asarray(b).tobytes()


# ---- scalar roots: x**2 + 0.1 sin(x) = a, dx/da = 1 / (2x + 0.1 cos x)


def g(x, a):
    return x ** 2 + 0.1 * np.sin(x) - a


def exact(a):
    x = O.brentq(g, 0.0, 10.0, args=(a,), xtol=1e-15)
    d1 = 1 / (2 * x + 0.1 * np.cos(x))
    d2 = -(2 - 0.1 * np.sin(x)) * d1 ** 3  # d/da of 1/F'(x(a))
    return x, d1, d2


SCALAR_ROOTS = {
    "brentq": lambda a: O.brentq(g, 0.0, 10.0, args=(a,)),
    "brenth": lambda a: O.brenth(g, 0.0, 10.0, args=(a,)),
    "ridder": lambda a: O.ridder(g, 0.0, 10.0, args=(a,)),
    "bisect": lambda a: O.bisect(g, 0.0, 10.0, args=(a,)),
    "toms748": lambda a: O.toms748(g, 0.0, 10.0, args=(a,)),
    "newton": lambda a: O.newton(g, 1.0, args=(a,)),
    "newton-fprime": lambda a: O.newton(g, 1.0, fprime=lambda x, a: 2 * x + 0.1 * np.cos(x), args=(a,)),
    "root_scalar": lambda a: O.root_scalar(g, args=(a,), bracket=(0.0, 10.0)).root,
    "root_scalar-fprime-true": lambda a: O.root_scalar(
        lambda x, a: (g(x, a), 2 * x + 0.1 * np.cos(x)), args=(a,), x0=1.0, fprime=True).root,
    "closure": lambda a: O.brentq(lambda x: x ** 2 + 0.1 * np.sin(x) - a, 0.0, 10.0),
    "fsolve": lambda a: O.fsolve(g, [1.0], args=(a,))[0],
    "root": lambda a: O.root(g, [1.0], args=(a,)).x[0],
    "root-lm": lambda a: O.root(g, [1.0], args=(a,), method="lm").x[0],
    "broyden1": lambda a: O.broyden1(lambda x: g(x, a), [1.0], f_tol=1e-12)[0],
}


@pytest.mark.parametrize("name", sorted(SCALAR_ROOTS))
def test_scalar_roots_have_the_implicit_derivative_and_scipys_value(name):
    f = SCALAR_ROOTS[name]
    a = 3.0
    x, d1, d2 = exact(a)
    value, (grad,) = pb.value_and_gradient(f, a)
    same(value, f(a))
    assert abs(pb.stop_gradient(value) - x) < 1e-6
    # the derivative of SciPy's root: exact up to the solver's residual at it
    assert abs(grad - d1) < 1e-6 * abs(d1)
    assert abs(pb.jvp(f, (a,), (1.0,))[1] - d1) < 1e-6 * abs(d1)
    if name in ("brentq", "newton", "fsolve", "closure"):
        assert abs(pb.hessian(f, a) - d2) < 1e-5 * abs(d2)


def test_higher_orders_are_exact():
    """Newton steps on traced values: two under nested differentiation, exact to third order."""
    f = lambda a: O.brentq(lambda x: x * x - a, 0.0, 10.0, xtol=1e-14)  # noqa: E731
    a = 4.0
    d1 = pb.grad(f)
    d2 = pb.grad(d1)
    d3 = pb.grad(d2)
    assert abs(d1(a) - 0.5 * a ** -0.5) < 1e-12
    assert abs(d2(a) + 0.25 * a ** -1.5) < 1e-12
    assert abs(d3(a) - 0.375 * a ** -2.5) < 1e-12


# ---- vector problems with closed forms

rng = np.random.default_rng(0)
A = rng.standard_normal((4, 4))
A = A @ A.T + 4 * np.eye(4)
C = rng.standard_normal(4)


def quadratic(x, b):
    return 0.5 * x @ A @ x - b @ x


MINIMIZERS = {
    "minimize-bfgs": lambda b: O.minimize(quadratic, np.zeros(4), args=(b,)).x,
    "minimize-nm": lambda b: O.minimize(quadratic, np.zeros(4), args=(b,), method="Nelder-Mead",
                                        options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 20000}).x,
    "minimize-lbfgsb": lambda b: O.minimize(quadratic, np.zeros(4), args=(b,), method="L-BFGS-B").x,
    "minimize-jac-true": lambda b: O.minimize(lambda x, b: (quadratic(x, b), A @ x - b), np.zeros(4),
                                              args=(b,), jac=True).x,
    "minimize-closure": lambda b: O.minimize(lambda x: quadratic(x, b), np.zeros(4), method="CG").x,
    "fmin_bfgs": lambda b: O.fmin_bfgs(quadratic, np.zeros(4), args=(b,), disp=False),
    "fmin_cg": lambda b: O.fmin_cg(quadratic, np.zeros(4), args=(b,), disp=False),
    "fmin": lambda b: O.fmin(quadratic, np.zeros(4), args=(b,), disp=False),
    "fmin_powell": lambda b: O.fmin_powell(quadratic, np.zeros(4), args=(b,), disp=False),
    "fmin_l_bfgs_b": lambda b: O.fmin_l_bfgs_b(quadratic, np.zeros(4), args=(b,), approx_grad=True)[0],
    "fsolve-gradient": lambda b: O.fsolve(lambda x: A @ x - b, np.zeros(4)),
    "root-hybr": lambda b: O.root(lambda x: A @ x - b, np.zeros(4)).x,
    "least_squares": lambda b: O.least_squares(lambda x: np.linalg.cholesky(A).T @ x
                                               - np.linalg.solve(np.linalg.cholesky(A), b), np.zeros(4)).x,
    "leastsq": lambda b: O.leastsq(lambda x: np.linalg.cholesky(A).T @ x
                                   - np.linalg.solve(np.linalg.cholesky(A), b), np.zeros(4))[0],
}


@pytest.mark.parametrize("name", sorted(MINIMIZERS))
def test_vector_solutions_have_the_implicit_derivative(name):
    """x*(b) = A^-1 b: the gradient of C . x* is A^-1 C, whatever the solver's accuracy."""
    f = MINIMIZERS[name]
    b = rng.standard_normal(4)
    value, (grad,) = pb.value_and_gradient(lambda b: C @ f(b), b)
    assert abs(pb.stop_gradient(value) - C @ f(b)) == 0
    np.testing.assert_allclose(grad, np.linalg.solve(A, C), rtol=1e-9)
    _, t = pb.jvp(f, (b,), (C,))
    np.testing.assert_allclose(t, np.linalg.solve(A, C), rtol=1e-9)
    same(pb.value_and_gradient(lambda b: f(b)[0], b)[0], f(b)[0])


def test_fixed_point_and_vectorised_newton():
    a = np.array([2.0, 3.0, 5.0])
    # x = sqrt(a x)  ->  x = a
    J = pb.jacobian(lambda a: O.fixed_point(lambda x, a: np.sqrt(a * x), np.ones(3), args=(a,)), a)
    np.testing.assert_allclose(J, np.eye(3), rtol=1e-9, atol=1e-12)
    # elementwise newton of an array: x = sqrt(a)
    f = lambda a: O.newton(lambda x, a: x * x - a, np.ones(3), args=(a,))  # noqa: E731
    np.testing.assert_allclose(pb.jacobian(f, a), np.diag(0.5 / np.sqrt(a)), rtol=1e-12)
    value, _ = pb.pullback(f, a)
    same(value, f(a))


def test_full_output_keeps_scipys_structure():
    value, _ = pb.pullback(lambda a: O.brentq(g, 0.0, 10.0, args=(a,), full_output=True), 3.0)
    x, r = value
    assert r.root == x and r.converged and type(x) is float
    out = pb.gradient(lambda a: O.fmin_bfgs(quadratic, np.zeros(4), args=(a,), full_output=True,
                                            disp=False)[1], C)[0]
    np.testing.assert_allclose(out, -np.linalg.solve(A, C), rtol=1e-8)


def test_clear_errors_instead_of_wrong_derivatives():
    with pytest.raises(NoRuleError, match="zero at the solution"):  # a double root: x**2 = a at a = 0
        pb.gradient(lambda a: O.newton(lambda x: x * x - a * x, 0.0, fprime=lambda x: 2 * x - a), 0.0)
    with pytest.raises(NoRuleError, match="constraints"):
        pb.gradient(lambda b: O.minimize(quadratic, np.zeros(4), args=(b,), method="SLSQP",
                                         constraints={"type": "eq", "fun": lambda x: x[0]}).x[1], C)
    with pytest.raises(NoRuleError, match="global"):
        pb.gradient(lambda b: O.differential_evolution(lambda x: np.sum((x - b) ** 2), [(-1, 1)] * 2,
                                                        seed=0, maxiter=3).x[0], np.zeros(2))
    with pytest.raises(NoRuleError, match="bounds"):
        pb.gradient(lambda b: O.minimize(quadratic, np.zeros(4), args=(b,), method="Powell",
                                         bounds=[(-0.01, 0.01)] * 4).x[0], 10 * np.ones(4))
    # a minimum at the end of fminbound's interval (it stops within xtol) follows the bound
    assert pb.gradient(lambda a: O.fminbound(lambda x: (x - a) ** 2, 0.0, 1.0), 3.0)[0] == 0.0


def test_untraced_solves_are_scipys_own(monkeypatch):
    """Outside a differentiation the functions run SciPy's code directly; inside one, a function
    that touches no traced value returns SciPy's result unchanged."""
    import pullback.rules.optimize as opt

    def no_watch(f):
        raise AssertionError("routed")

    monkeypatch.setattr(opt, "Watch", no_watch)
    assert O.brentq(lambda x: x - 1, 0, 3) == 1.0
    O.minimize(quadratic, np.zeros(4), args=(C,))
    monkeypatch.undo()
    res = pb.gradient(lambda b: b * O.brentq(lambda x: x - 1, 0.0, 3.0), 2.0)[0]
    assert res == 1.0


def test_single_precision_parameters_get_single_precision_gradients():
    g = pb.gradient(lambda a: O.brentq(lambda x: x * x - a, 0.0, 10.0), np.float32(3.0))[0]
    assert g.dtype == np.float32 and abs(g - 0.5 / np.sqrt(3.0)) < 1e-6
    b = np.array([1.0, 2.0], np.float32)
    g = pb.gradient(lambda b: np.sum(O.minimize(lambda x: np.sum((x - b) ** 2), np.zeros(2)).x), b)[0]
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, [1.0, 1.0], rtol=1e-6)


def test_generic_checker_in_both_modes():
    pb.testing.check_gradient(lambda k: O.fsolve(lambda x: x ** 3 + x - k, np.ones(3), xtol=1e-14),
                              np.array([1.0, 2.0, 3.0]))
    pb.testing.check_gradient(lambda k: O.brentq(lambda x, k: np.exp(x) - k, -5.0, 5.0, args=(k,),
                                                 xtol=1e-15), 2.5)


def test_values_keep_scipys_precision_and_sign():
    """Regressions: a float32 parameter rounded the root to float32; a root of -0.0 came back as
    +0.0; fixed_point of a scalar returned a NumPy scalar where SciPy returns a 0-d array."""
    f = lambda a: O.brentq(lambda x, a: x * x - a, 0.0, 5.0, args=(a,))  # noqa: E731
    same(pb.value_and_gradient(f, np.float32(3.0))[0], f(np.float32(3.0)))
    f = lambda a: O.brentq(lambda x, a: a * x, -0.0, 1.0, args=(a,))  # noqa: E731
    same(pb.value_and_gradient(f, -2.0)[0], f(-2.0))
    assert np.signbit(pb.value_and_gradient(f, -2.0)[0])
    f = lambda a: O.fixed_point(lambda x, a: np.cos(x) * a, 0.5, args=(a,))  # noqa: E731
    same(pb.value_and_gradient(f, 1.0)[0], f(1.0))


def test_coupled_and_list_valued_functions():
    """Regressions: newton of an array assumes an elementwise function, and a coupled one got the
    Jacobian's row sums; a residual returned as a list raised."""
    J = pb.jacobian(lambda a: O.newton(lambda x: x + 0.5 * x[::-1] - a, np.zeros(2),
                                       fprime=lambda x: np.ones(2)), np.array([1.0, 2.0]))
    np.testing.assert_allclose(J, np.linalg.inv([[1, 0.5], [0.5, 1]]), rtol=1e-9)
    g = pb.gradient(lambda a: O.fsolve(lambda x: [x[0] - a, x[1] - 2 * a], np.zeros(2))[1], 1.0)
    assert abs(g[0] - 2.0) < 1e-9


def test_nearly_singular_systems_raise():
    """A rank-deficient system: the solution is not locally unique, so it has no derivative."""
    M = np.array([[1.0, 2.0], [2.0, 4.0 + 1e-15]])
    with pytest.raises(NoRuleError, match="singular"):
        pb.gradient(lambda b: O.fsolve(lambda x: M @ x - b, np.zeros(2))[0], np.array([1.0, 2.0]))
