"""scipy.integrate: values against SciPy's (bit for bit where the rule replays SciPy's operations),
finite differences (reverse + forward), second order, a spectral PDE through solve_ivp, and the
accuracy of odeint's adjoint solve."""

import numpy as np
import pytest
import scipy.integrate as I

import pullback as pb
from pullback.testing import check_gradient

from .cases import case_id, rand

Y9, X9 = rand(9, seed=1), np.sort(rand(9, seed=2))
Y8, X8 = Y9[:8], X9[:8]
Y34 = rand(3, 4, seed=3)

SAMPLED = [
    (lambda y, x: I.trapezoid(y, x), (Y9, X9)),
    (lambda y, x: I.trapezoid(y, dx=x[0]), (Y34, X9)),
    (lambda y, x: I.simpson(y, x=x), (Y9, X9)),
    (lambda y, x: I.simpson(y, x=x), (Y8, X8)),
    (lambda y, x: I.simpson(y, dx=0.3), (Y8, X8)),
    (lambda y, x: I.simpson(y, dx=0.3), (Y34, X8)),
    (lambda y, x: I.simpson(y[:2], x=x[:2]), (Y9, X9)),
    (lambda y, x: I.cumulative_trapezoid(y, x), (Y9, X9)),
    (lambda y, x: I.cumulative_trapezoid(y, x, initial=0), (Y9, X9)),
    (lambda y, x: I.cumulative_trapezoid(y, dx=0.2, axis=0), (Y34, X9)),
    (lambda y, x: I.romb(y, dx=x[0] ** 2), (Y9, X9)),
    (lambda y, x: I.romb(y[:, :3], dx=0.5), (Y34, X9)),
]


CASES = [  # (registry key, f, args): every registered rule of this family, see cases.py
    (I.trapezoid, SAMPLED[0][0], SAMPLED[0][1]),
    (I.simpson, SAMPLED[2][0], SAMPLED[2][1]),
    (I.cumulative_trapezoid, SAMPLED[8][0], SAMPLED[8][1]),
    (I.romb, SAMPLED[10][0], SAMPLED[10][1]),
    (I.cumulative_simpson, lambda y: I.cumulative_simpson(y, dx=0.3, initial=1.5),
     (np.linspace(0.2, 2.0, 9) ** 2,)),
    (I.cumulative_simpson, lambda y, x: I.cumulative_simpson(y, x=x, axis=0),
     (np.random.default_rng(8).standard_normal((7, 2)), np.cumsum(np.linspace(0.2, 1.0, 7)))),
]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_cases(case):
    _, f, args = case
    check_gradient(f, *args)


def _plain(f, args):
    return f(*args)


@pytest.mark.parametrize("f, args", SAMPLED)
def test_sampled_values_and_gradients(f, args):
    want = _plain(f, args)
    got, _ = pb.jvp(f, args, args)
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.asarray(want).dtype
    check_gradient(f, *args)


@pytest.mark.parametrize("f, args", SAMPLED[:4] + SAMPLED[7:9])
def test_sampled_float32_and_second_order(f, args):
    a32 = tuple(a.astype(np.float32) for a in args)
    np.testing.assert_array_equal(pb.jvp(f, a32, a32)[0], f(*a32))
    check_gradient(f, *a32)

    def grad_y(y, x):
        return pb.grad(lambda y, x: np.sum(np.sin(f(y, x))), argnums=(0, 1))(y, x)[1]

    check_gradient(grad_y, *args)


# ---------------------------------------------------------------- quad


def _quad_closure(th, a, b):
    return I.quad(lambda x: np.exp(-th[0] * x ** 2) * np.cos(th[1] * x), a, b)[0]


def test_quad_value_and_gradients():
    th = np.array([1.3, 0.4])
    want = I.quad(lambda x: np.exp(-1.3 * x ** 2) * np.cos(0.4 * x), 0.2, 1.5)[0]
    assert pb.jvp(_quad_closure, (th, 0.2, 1.5), (th, 1.0, 1.0))[0] == want
    check_gradient(_quad_closure, th, 0.2, 1.5)
    g = pb.gradient(_quad_closure, th, 0.2, 1.5)
    assert np.isclose(g[2], np.exp(-1.3 * 1.5 ** 2) * np.cos(0.4 * 1.5))  # f(b)
    assert np.isclose(g[1], -np.exp(-1.3 * 0.2 ** 2) * np.cos(0.4 * 0.2))  # -f(a)
    check_gradient(lambda th, a, b: pb.grad(_quad_closure, argnums=(0, 1, 2))(th, a, b)[0], th, 0.2, 1.5)
    check_gradient(_quad_closure, th, 1.5, 0.2)  # reversed limits


def test_quad_args_and_full_output():
    def f(c):
        return I.quad(lambda x, c: np.exp(-c * x) * x, 0.0, 2.0, args=(c,))[0]

    check_gradient(f, 0.7)
    exact = pb.gradient(f, 0.7)[0]
    c = 0.7
    want = -(2 - np.exp(-2 * c) * (2 * (2 * c) ** 2 / 2 + 2 * (2 * c) + 2) / 1) / c ** 3  # -int x^2 e^{-cx}
    assert np.isclose(exact, want, rtol=1e-9)
    out = pb.jvp(lambda c: I.quad(lambda x: np.sin(c * x), 0, 1, full_output=1)[0], (1.0,), (1.0,))
    assert np.isclose(out[1], np.sin(1.0) + np.cos(1.0) - 1)  # d/dc int sin(cx) = int x cos(cx)


def test_quad_unsupported_raises_and_plain_is_unchanged():
    with pytest.raises(pb.NoRuleError, match="weight"):
        pb.gradient(lambda c: I.quad(lambda x: np.exp(-c * x), 0, 1, weight="cos", wvar=2.0)[0], 1.0)
    assert I.quad(np.cos, 0, 1) == I.quad(np.cos, 0, 1)  # plain calls: SciPy's answer


def test_quad_over_infinite_intervals():
    """QUADPACK's transformed range (0, 1] and its 15-point rule, traced: every kind of infinite
    interval, limits reversed, the finite limit traced, second order; SciPy's value."""
    def gauss(s):  # sqrt(pi / s)
        return I.quad(lambda x: np.exp(-s * x * x), -np.inf, np.inf)[0]

    s = 1.7
    value, _ = pb.pullback(gauss, s)
    assert value == gauss(s) and type(value) is float
    assert np.isclose(pb.gradient(gauss, s)[0], -0.5 * np.sqrt(np.pi) * s ** -1.5, rtol=1e-10)
    assert np.isclose(pb.hessian(gauss, s), 0.75 * np.sqrt(np.pi) * s ** -2.5, rtol=1e-8)

    def tail(a, c):  # exp(-c a) / c
        return I.quad(lambda x, c: np.exp(-c * x), a, np.inf, args=(c,))[0]

    g = pb.gradient(tail, 0.3, 2.0)
    np.testing.assert_allclose(g, [-np.exp(-0.6), -np.exp(-0.6) * (0.3 / 2 + 1 / 4)], rtol=1e-10)
    check_gradient(lambda b, c: I.quad(lambda x: np.exp(c * x), -np.inf, b)[0], 0.5, 2.0)
    check_gradient(lambda b, c: I.quad(lambda x: np.exp(c * x), np.inf, b)[0], 0.5, -2.0)
    check_gradient(lambda a, c: I.quad(lambda x: np.exp(-c * x * x) * np.cos(x), a, -np.inf)[0], 0.2, 1.3)


# ---------------------------------------------------------------- solve_ivp


def _rhs(t, y, k):
    return -k * y + np.sin(t) * y[::-1]


Y0, K = np.array([1.0, 0.5]), np.array([0.7, 1.3])
TE = np.linspace(0.1, 1.9, 7)


@pytest.mark.parametrize("method", ["RK45", "RK23", "DOP853"])
@pytest.mark.parametrize("span, t_eval", [((0, 2), None), ((0, 2), TE), ((2, 0), TE[::-1])])
def test_solve_ivp_replay_is_scipy(method, span, t_eval):
    def f(y0, k):
        return I.solve_ivp(_rhs, span, y0, method=method, args=(k,), t_eval=t_eval).y

    want = I.solve_ivp(_rhs, span, Y0, method=method, args=(K,), t_eval=t_eval).y
    got, _ = pb.jvp(f, (Y0, K), (Y0, K))
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("method", ["RK45", "RK23", "DOP853"])
def test_solve_ivp_gradients(method):
    tol = 1e-7 if method == "RK23" else 1e-10  # RK23 is third order: keep its step count small

    def f(y0, k, te):
        return I.solve_ivp(_rhs, (0, 2), y0, method=method, args=(k,), t_eval=te, rtol=tol,
                           atol=tol / 100).y

    check_gradient(f, Y0, K, TE, eps=1e-4, rtol=1e-4, atol=1e-6, n_directions=1)


def test_solve_ivp_closure_second_order_float32_and_complex():
    def f(y0, k):
        return I.solve_ivp(lambda t, y: -k * y ** 2, (0, 1), y0, rtol=1e-10, atol=1e-12).y[:, -1]

    check_gradient(f, Y0, 0.8, rtol=1e-4, atol=1e-6)
    h = pb.hessian(lambda k: np.sum(f(Y0, k)), 0.8)
    exact = np.sum(2 * Y0 ** 3 / (1 + 0.8 * Y0) ** 3)  # y(1) = y0 / (1 + k y0)
    assert np.isclose(h, exact, rtol=1e-6)
    y32 = Y0.astype(np.float32)
    g = pb.gradient(lambda y: np.sum(f(y, 0.8)), y32)[0]
    assert g.dtype == np.float32
    z0 = np.array([1 + 0.5j, 0.3 - 1j])

    def rotate(z):
        return I.solve_ivp(lambda t, y: 1j * y * 0.7, (0, 1), z, rtol=1e-10, atol=1e-12).y[:, -1]

    check_gradient(rotate, z0, rtol=1e-4, atol=1e-6)


def test_solve_ivp_unsupported_raise():
    for kw in ({"dense_output": True, "method": "Radau"}, {"events": lambda t, y, k: y[0]}):
        with pytest.raises(pb.NoRuleError):
            pb.gradient(lambda y0: np.sum(I.solve_ivp(_rhs, (0, 1), y0, args=(K,), **kw).y), Y0)


@pytest.mark.parametrize("method", ["RK45", "RK23", "DOP853"])
@pytest.mark.parametrize("span", [(0.0, 2.0), (2.0, 0.0)])
def test_solve_ivp_dense_output(method, span):
    """sol.sol(t): SciPy's values bit for bit (scalar and array t, on step boundaries and between
    them), differentiable w.r.t. y0, args, closed-over values and t."""
    T = np.array([0.3, 1.7, 0.05, 2.0, 0.0, 1.0])

    def dense(y0, k, t):
        sol = I.solve_ivp(lambda t, y: -k * y + np.sin(t), span, y0, method=method, rtol=1e-8,
                          dense_output=True)
        return sol.sol(t)

    plain = I.solve_ivp(lambda t, y: -0.7 * y + np.sin(t), span, Y0, method=method, rtol=1e-8,
                        dense_output=True).sol
    for t in (T, 1.3, plain.ts[3]):
        value, _ = pb.pullback(dense, Y0, 0.7, t)
        np.testing.assert_array_equal(pb.stop_gradient(value), plain(t))
        assert np.shape(value) == np.shape(plain(t))
    check_gradient(dense, Y0, 0.7, T, eps=1e-5, rtol=1e-4, atol=1e-7)
    check_gradient(lambda k: dense(Y0, k, 1.3), 0.7, eps=1e-5, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("method", ["Radau", "BDF", "LSODA"])
def test_solve_ivp_implicit_adjoint(method):
    """The adjoint solve against the exact derivative of y' = -K y (stiff: K = 1 and 200),
    y(t) = exp(-K t) y0, at rtol 1e-6: measured errors 1e-12..4e-7 relative (Radau, BDF, LSODA)."""
    k, y0, te = np.array([1.0, 200.0]), np.array([1.0, 2.0]), np.array([0.05, 1.0])
    w = np.array([[1.0, 0.5], [0.3, 1.0]])

    def f(y0, k, te):
        sol = I.solve_ivp(lambda t, y, k: -k * y, (0, 1), y0, method=method, t_eval=te, args=(k,),
                          rtol=1e-6, atol=1e-9)
        return np.sum(w * sol.y)

    plain = I.solve_ivp(lambda t, y, k: -k * y, (0, 1), y0, method=method, t_eval=te, args=(k,),
                        rtol=1e-6, atol=1e-9).y
    assert f(y0, k, te) == np.sum(w * plain)
    g = pb.gradient(f, y0, k, te)
    E = np.exp(-np.outer(k, te))
    Y = E * y0[:, None]
    want = (np.sum(w * E, 1), np.sum(w * -te * Y, 1), np.sum(w * -k[:, None] * Y, 0))
    for got, exact in zip(g, want):
        np.testing.assert_allclose(got, exact, rtol=2e-5, atol=1e-7)
    if method == "LSODA":
        with pytest.raises(pb.NoRuleError, match="args"):
            pb.gradient(lambda c: np.sum(I.solve_ivp(lambda t, y: -c * y, (0, 1), y0, method=method).y),
                        1.0)
        with pytest.raises(pb.NoRuleError, match="second"):
            pb.hessian(lambda y0: f(y0, k, te), y0)


def test_solve_ivp_plain_unchanged():
    a = I.solve_ivp(_rhs, (0, 2), Y0, args=(K,))
    b = I.solve_ivp(_rhs, (0, 2), Y0, args=(K,))
    np.testing.assert_array_equal(a.y, b.y)
    assert a.nfev == b.nfev


# A spectral PDE: viscous Burgers u_t = D u_xx - (u^2/2)_x with rfft/irfft derivatives, unmodified.
N = 16
KX = np.fft.rfftfreq(N, 1 / N)
U0 = np.sin(np.linspace(0, 2 * np.pi, N, endpoint=False)) + 0.2


def _burgers(t, u, D):
    return np.fft.irfft(-D * KX ** 2 * np.fft.rfft(u), N) - np.fft.irfft(1j * KX * np.fft.rfft(u * u / 2), N)


def test_spectral_pde_through_solve_ivp():
    def f(u0, D):
        return I.solve_ivp(_burgers, (0, 0.3), u0, args=(D,), t_eval=[0.3], rtol=1e-10, atol=1e-12).y

    want = I.solve_ivp(_burgers, (0, 0.3), U0, args=(0.2,), t_eval=[0.3], rtol=1e-10, atol=1e-12).y
    np.testing.assert_array_equal(pb.jvp(f, (U0, 0.2), (U0, 1.0))[0], want)
    check_gradient(f, U0, 0.2, eps=1e-4, rtol=1e-5, atol=1e-7)

    def heat(u0, D):  # the closure form: D is seen by no argument of solve_ivp
        return I.solve_ivp(lambda t, u: np.fft.irfft(-D * KX ** 2 * np.fft.rfft(u), N), (0, 0.5), u0,
                           method="DOP853", rtol=1e-10, atol=1e-12).y[:, -1]

    u, (gu, gD) = pb.value_and_gradient(lambda u0, D: np.sum(heat(u0, D) * U0), U0, 0.2)
    decay = np.exp(-0.2 * KX ** 2 * 0.5)  # exact: each mode decays by exp(-D k^2 t)
    uh = np.fft.rfft(U0)
    want_D = np.sum(np.fft.irfft(-KX ** 2 * 0.5 * decay * uh, N) * U0)
    assert np.isclose(gD, want_D, rtol=1e-7)


# ---------------------------------------------------------------- odeint


def _func(y, t, arg1, arg2):
    return -np.sqrt(t) - y + arg1 - np.mean((y + arg2) ** 2)


R3a, R3b, R3c = rand(3, seed=4), rand(3, seed=5), rand(3, seed=6)
T4 = np.linspace(0.1, 0.2, 4)


def _ode(y0, t, a1, a2):
    return I.odeint(_func, y0, t, (a1, a2))


def test_odeint_value_gradients_and_second_order():
    want = I.odeint(_func, R3a, T4, (R3b, R3c))
    np.testing.assert_array_equal(pb.jvp(_ode, (R3a, T4, R3b, R3c), (R3a, T4, R3b, R3c))[0], want)
    check_gradient(_ode, R3a, T4, R3b, R3c, rtol=1e-5, atol=1e-6)
    w = rand(4, 3, seed=7)

    def grads(y0, t, a1, a2):
        gs = pb.grad(lambda *z: np.sum(w * _ode(*z)), argnums=(0, 1, 2, 3))(y0, t, a1, a2)
        return np.concatenate([np.ravel(g) for g in gs])

    check_gradient(grads, R3a, T4, R3b, R3c, modes=("reverse",), rtol=1e-4, atol=1e-5, n_directions=1)


def test_odeint_adjoint_accuracy():
    """The adjoint solve at SciPy's default tolerances: its error against the exact derivative
    of a linear ODE y' = -k y (y(t) = y0 exp(-k t)) stays near the tolerance (1.49e-8)."""

    def f(y0, k):
        return I.odeint(lambda y, t, k: -k * y, y0, np.array([0.0, 1.0, 2.0]), (k,))

    y0, k = np.array([1.0, 2.0]), 0.7
    gy, gk = pb.gradient(lambda y0, k: np.sum(f(y0, k)[-1]), y0, k)
    np.testing.assert_allclose(gy, np.exp(-2 * k), rtol=1e-6)
    np.testing.assert_allclose(gk, -2 * np.exp(-2 * k) * np.sum(y0), rtol=1e-6)


def test_odeint_tfirst_full_output_and_errors():
    def f(y0):
        ys, info = I.odeint(lambda t, y: -y * t, y0, [0.0, 1.0], tfirst=True, full_output=1)
        assert "nst" in info
        return ys

    check_gradient(f, np.array([1.0, 3.0]), rtol=1e-5, atol=1e-6)
    with pytest.raises(pb.NoRuleError, match="args"):
        pb.gradient(lambda k: np.sum(I.odeint(lambda y, t: -k * y, np.ones(2), [0.0, 1.0])), 1.0)


def test_plain_calls_outside_a_differentiation_run_scipys_function(monkeypatch):
    """No traced value can be alive outside a differentiation: quad, solve_ivp and odeint then
    run SciPy's own function directly (no wrapper around the callable)."""
    import pullback.rules.integrate as integrate_rules

    def no_watch(f):
        raise AssertionError("a plain call outside a differentiation was routed")

    monkeypatch.setattr(integrate_rules, "Watch", no_watch)
    assert abs(I.quad(lambda t: t * t, 0.0, 3.0)[0] - 9.0) < 1e-12
    I.solve_ivp(lambda t, y: -y, (0.0, 1.0), [1.0])
    I.odeint(lambda y, t: -y, [1.0], [0.0, 1.0])
    with pytest.raises(AssertionError, match="routed"):  # inside one, every call is routed
        pb.gradient(lambda k: I.quad(lambda t: k * t, 0.0, 1.0)[0], 2.0)


def test_simpson_of_an_even_count_keeps_single_precision_in_n_d():
    """Regression: SciPy adds the last interval's correction in place into its (float32) array;
    the traced result was float64."""
    y = np.arange(8, dtype=np.float32).reshape(2, 4) ** 1.5
    for kw in ({}, {"dx": 0.3}):
        value, _ = pb.pullback(lambda u, kw=kw: I.simpson(u, axis=-1, **kw), y)
        want = I.simpson(y, axis=-1, **kw)
        assert value.dtype == want.dtype and value.tobytes() == want.tobytes()


def test_quad_value_is_a_python_float():
    """SciPy's quad returns a Python float: the traced one is one too (and promotes as one)."""
    f = lambda p: I.quad(lambda t: np.exp(-p * t), 0.0, 1.0)[0]  # noqa: E731
    value, _ = pb.pullback(f, 0.5)
    assert type(value) is float and value == f(0.5)
    x = np.ones(3, np.float32)
    assert pb.pullback(lambda p: f(p) * x, np.float64(0.5))[0].dtype == np.float32


def test_quad_over_an_empty_interval():
    """Regression: quad(f, a, b) with traced limits and a == b raised IndexError (SciPy partitions
    nothing); d/db = f(b), d/da = -f(a), and the second derivative f'(b), exactly."""
    def f(a, b):
        return I.quad(lambda x: np.sin(x), a, b)[0]

    value, _ = pb.pullback(f, 1.0, 1.0)
    assert value == 0.0 and type(value) is float
    np.testing.assert_allclose(pb.gradient(f, 1.0, 1.0), [-np.sin(1.0), np.sin(1.0)], rtol=1e-14)
    assert np.isclose(pb.hessian(lambda b: f(1.0, b), 1.0), np.cos(1.0), rtol=1e-14)


@pytest.mark.parametrize("method", ["RK45", "RK23", "DOP853", "Radau", "BDF", "LSODA"])
def test_a_plain_solution_at_traced_times(method):
    """Regression: sol.sol(t) of an untraced solve raised a conversion error for a traced t; the
    derivative in t is the interpolant's own (SciPy's NumPy code), the value SciPy's. A step's
    DenseOutput likewise (DOP853's accumulates in place into a plain buffer: done functionally)."""
    sol = I.solve_ivp(lambda t, y: -0.7 * y, (0, 2), [1.0, 2.0], dense_output=True, method=method,
                      rtol=1e-9, atol=1e-12)
    T = np.array([0.3, 1.9, 0.0, 2.0, 1.0])
    for t in (T, 0.3):
        value, _ = pb.pullback(lambda t: sol.sol(t), t)
        np.testing.assert_array_equal(pb.stop_gradient(value), sol.sol(t))
    J = pb.jacobian(lambda t: sol.sol(t)[1], T)
    np.testing.assert_allclose(np.diag(J), -1.4 * np.exp(-0.7 * T), rtol=1e-4)
    check_gradient(lambda t: sol.sol(t), T, eps=1e-6)
    step = sol.sol.interpolants[0]
    t0 = float(sol.t[0] + 1e-3)
    value, _ = pb.pullback(lambda t: step(t), t0)
    np.testing.assert_array_equal(pb.stop_gradient(value), step(t0))
    check_gradient(lambda t: step(t), t0, eps=1e-7)
