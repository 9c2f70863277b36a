"""scipy.special: ufuncs by their derivatives, and the patched Python functions (logsumexp, softmax, ...)."""

import inspect

import numpy as np
import pytest
import scipy.special as sc

import pullback as pb
from pullback.intercept import original
from pullback.rules import special
from pullback.testing import check_gradient

from .cases import case_id, rand

x = rand(3, 4)
pos = rand(3, 4, positive=True)
unit = np.tanh(rand(3, 4)) * 0.9
prob = (unit + 1) / 2
z = rand(3, 4, dtype=complex)
ORIG = special.ORIGINALS


def _key(f):
    """The registry key of an intercepted SciPy function (SciPy's object, whatever its name now holds)."""
    from pullback.rules import registry

    return f if f in registry.FUNCTIONS else f.__wrapped__


SPH = {name: _key(getattr(sc, name))
       for name in ("spherical_jn", "spherical_yn", "spherical_in", "spherical_kn")}
LAMBERTW = _key(sc.lambertw)

CASES = [
    (sc.expit, sc.expit, (x,)),
    (sc.logit, sc.logit, (prob,)),
    (sc.log_expit, sc.log_expit, (x,)),
    (sc.erf, sc.erf, (z,)),
    (sc.erf, sc.erf, (x,)),
    (sc.erfc, sc.erfc, (z,)),
    (sc.erfinv, sc.erfinv, (unit,)),
    (sc.erfcinv, sc.erfcinv, (unit + 1,)),
    (sc.gammaln, sc.gammaln, (pos,)),
    (sc.digamma, sc.digamma, (pos,)),
    (sc.gamma, sc.gamma, (pos,)),
    (sc.gamma, sc.gamma, (0.3 * z + 2,)),
    (sc.xlogy, sc.xlogy, (x, pos)),
    (sc.xlogy, sc.xlogy, (z, z + 3)),
    (sc.xlog1py, sc.xlog1py, (x, pos)),
    (sc.polygamma, lambda a: sc.polygamma(2, a), (pos,)),
    (sc.polygamma, lambda a: sc.polygamma(np.array([0, 1, 2, 3]), a), (pos,)),
    (sc.logsumexp, sc.logsumexp, (x,)),
    (sc.logsumexp, lambda a: sc.logsumexp(a, axis=1), (x,)),
    (sc.logsumexp, lambda a: sc.logsumexp(a, axis=(0, 1), keepdims=True), (x,)),
    (sc.logsumexp, lambda a, b: sc.logsumexp(a, axis=0, b=b), (x, pos)),
    (sc.logsumexp, lambda a, b: sc.logsumexp(a, axis=-1, b=b, keepdims=True), (rand(4), pos)),
    (sc.logsumexp, lambda a, b: sc.logsumexp(a, axis=0, b=b, return_sign=True)[0], (x, x)),
    (sc.logsumexp, lambda a: sc.logsumexp(a, axis=0), (z,)),
    (sc.softmax, sc.softmax, (x,)),
    (sc.softmax, lambda a: sc.softmax(a, axis=0), (x,)),
    (sc.log_softmax, lambda a: sc.log_softmax(a, axis=1), (x,)),
    # error functions, normal distribution
    (sc.erfcx, sc.erfcx, (x,)),
    (sc.erfcx, sc.erfcx, (z,)),
    (sc.erfi, sc.erfi, (z,)),
    (sc.dawsn, sc.dawsn, (x,)),
    (sc.dawsn, sc.dawsn, (z,)),
    (sc.wofz, sc.wofz, (z,)),
    (sc.ndtr, sc.ndtr, (x,)),
    (sc.ndtr, sc.ndtr, (z,)),
    (sc.log_ndtr, sc.log_ndtr, (x,)),
    (sc.log_ndtr, sc.log_ndtr, (z,)),
    (sc.ndtri, sc.ndtri, (prob,)),
    (sc.exp1, sc.exp1, (pos,)),
    (sc.exp1, sc.exp1, (z + 3,)),
    (sc.expi, sc.expi, (pos,)),
    (sc.expi, sc.expi, (z,)),
    # gamma and beta families
    (sc.loggamma, sc.loggamma, (pos,)),
    (sc.loggamma, sc.loggamma, (z + 3,)),
    (sc.rgamma, sc.rgamma, (x,)),
    (sc.rgamma, sc.rgamma, (z,)),
    (sc.gammainc, lambda a: sc.gammainc(1.5, a), (pos,)),
    (sc.gammaincc, lambda a: sc.gammaincc(1.5, a), (pos,)),
    (sc.gammaincinv, lambda p: sc.gammaincinv(1.5, p), (prob,)),
    (sc.gammainccinv, lambda p: sc.gammainccinv(1.5, p), (prob,)),
    (sc.beta, sc.beta, (pos, pos[::-1])),
    (sc.betaln, sc.betaln, (pos, pos[::-1])),
    (sc.betainc, lambda p: sc.betainc(1.5, 2.5, p), (prob,)),
    (sc.betaincc, lambda p: sc.betaincc(1.5, 2.5, p), (prob,)),
    (sc.betaincinv, lambda p: sc.betaincinv(1.5, 2.5, p), (prob,)),
    (sc.betainccinv, lambda p: sc.betainccinv(1.5, 2.5, p), (prob,)),
    (sc.multigammaln, lambda a: sc.multigammaln(a + 1, 3), (pos,)),
    (sc.zeta, lambda q: sc.zeta(3.0, q), (pos,)),
    (sc.zeta, lambda q: sc.zeta(np.array([2.0, 3.5, 4.0, 5.0]), q), (pos,)),
    # information theory, robust losses
    (sc.entr, sc.entr, (pos,)),
    (sc.rel_entr, sc.rel_entr, (pos, pos[::-1])),
    (sc.kl_div, sc.kl_div, (pos, pos[::-1])),
    (sc.huber, sc.huber, (pos, 2 * x)),
    (sc.pseudo_huber, sc.pseudo_huber, (pos, x)),
    # elementary and other functions with closed-form derivatives
    (sc.exprel, sc.exprel, (x,)),
    (sc.exprel, sc.exprel, (np.array([0.0, 1e-6, -3e-5, 0.5]),)),
    (sc.cosm1, sc.cosm1, (x,)),
    (sc.cosdg, sc.cosdg, (30 * x,)),
    (sc.sindg, sc.sindg, (30 * x,)),
    (sc.tandg, sc.tandg, (20 * x,)),
    (sc.cotdg, sc.cotdg, (20 * pos,)),
    (sc.cbrt, sc.cbrt, (x,)),
    (sc.exp2, sc.exp2, (x,)),
    (sc.exp10, sc.exp10, (x,)),
    (sc.expm1, sc.expm1, (x,)),
    (sc.expm1, sc.expm1, (z,)),
    (sc.log1p, sc.log1p, (pos,)),
    (sc.log1p, sc.log1p, (z,)),
    (sc.spence, sc.spence, (pos,)),
    (sc.spence, sc.spence, (z + 2,)),
    (sc.ellipk, sc.ellipk, (unit,)),
    (sc.ellipk, sc.ellipk, (np.array([0.0, -2.0, 0.5]),)),
    (sc.ellipe, sc.ellipe, (unit,)),
    (sc.ellipe, sc.ellipe, (np.array([0.0, -2.0, 0.5]),)),
    (sc.ellipkm1, sc.ellipkm1, (prob,)),
    (sc.boxcox, sc.boxcox, (pos, x)),
    (sc.boxcox, sc.boxcox, (pos, np.zeros(4))),
    (sc.boxcox1p, sc.boxcox1p, (pos, x)),
    (sc.inv_boxcox, sc.inv_boxcox, (prob, unit)),
    (sc.inv_boxcox, sc.inv_boxcox, (x, np.zeros(4))),
    (sc.inv_boxcox1p, sc.inv_boxcox1p, (prob, unit)),
    (sc.poch, sc.poch, (pos, pos[::-1])),
    (sc.binom, sc.binom, (pos + 3, pos[::-1])),
    (sc.struve, lambda a: sc.struve(1.5, a), (pos,)),
    (sc.modstruve, lambda a: sc.modstruve(0.5, a), (pos,)),
    (sc.owens_t, sc.owens_t, (x, x[::-1])),
    (LAMBERTW, sc.lambertw, (pos,)),
    (LAMBERTW, sc.lambertw, (z,)),
    (LAMBERTW, lambda a: sc.lambertw(a, k=-1), (-prob / 3,)),
    (LAMBERTW, sc.lambertw, (np.array([0.0, 1.0, -0.2]),)),
    (sc.expn, lambda a: sc.expn(2, a), (pos,)),
    (sc.hyp0f1, lambda a: sc.hyp0f1(1.5, a), (x,)),
    (sc.hyp0f1, lambda a: sc.hyp0f1(1.5, a), (z,)),
    (sc.hyp1f1, lambda a: sc.hyp1f1(0.5, 1.5, a), (x,)),
    (sc.hyp1f1, lambda a: sc.hyp1f1(0.5, 1.5, a), (z,)),
    (sc.hyp2f1, lambda a: sc.hyp2f1(0.5, 1.5, 2.5, a), (unit,)),
    (sc.hyp2f1, lambda a: sc.hyp2f1(0.5, 1.5, 2.5, a), (0.5 * z,)),
    (sc.hyperu, lambda a: sc.hyperu(0.5, 1.5, a), (pos,)),
    (sc.powm1, sc.powm1, (pos, x)),
    (sc.wrightomega, sc.wrightomega, (x,)),
    (sc.wrightomega, sc.wrightomega, (z,)),
    # several outputs
    (sc.sici, sc.sici, (x,)),
    (sc.sici, sc.sici, (z,)),
    (sc.shichi, sc.shichi, (x,)),
    (sc.shichi, sc.shichi, (z,)),
    (sc.fresnel, sc.fresnel, (x,)),
    (sc.fresnel, sc.fresnel, (z,)),
    (sc.airy, sc.airy, (x,)),
    (sc.airy, sc.airy, (z,)),
    (sc.ellipj, lambda u: sc.ellipj(u, 0.3), (x,)),
    (sc.ellipj, lambda u: sc.ellipj(u, prob)[2], (x,)),
    # Bessel functions of fixed order
    (sc.j0, sc.j0, (x,)),
    (sc.j1, sc.j1, (x,)),
    (sc.y0, sc.y0, (pos,)),
    (sc.y1, sc.y1, (pos,)),
    (sc.i0, sc.i0, (x,)),
    (sc.i1, sc.i1, (x,)),
    (sc.i0e, sc.i0e, (x,)),
    (sc.i1e, sc.i1e, (x,)),
    (sc.k0, sc.k0, (pos,)),
    (sc.k1, sc.k1, (pos,)),
    (sc.k0e, sc.k0e, (pos,)),
    (sc.k1e, sc.k1e, (pos,)),
    # Bessel functions of any order (the order is not differentiable)
    (sc.jv, lambda a: sc.jv(1.5, a), (pos,)),
    (sc.jv, lambda a: sc.jv(2.0, a), (x,)),
    (sc.jv, lambda a: sc.jv(np.array([0.0, 0.5, 2.0, 3.0]), a), (z,)),
    (sc.yv, lambda a: sc.yv(0.7, a), (pos,)),
    (sc.yv, lambda a: sc.yv(0.7, a), (z,)),
    (sc.yn, lambda a: sc.yn(2, a), (pos,)),
    (sc.kn, lambda a: sc.kn(np.array([0, 1, 2, 3]), a), (pos,)),
    (sc.iv, lambda a: sc.iv(2.0, a), (x,)),
    (sc.iv, lambda a: sc.iv(1.5, a), (z,)),
    (sc.kv, lambda a: sc.kv(0.5, a), (pos,)),
    (sc.kv, lambda a: sc.kv(1.5, a), (z,)),
    (sc.jve, lambda a: sc.jve(1.5, a), (pos,)),
    (sc.jve, lambda a: sc.jve(1.5, a), (z,)),
    (sc.yve, lambda a: sc.yve(0.5, a), (pos,)),
    (sc.yve, lambda a: sc.yve(0.5, a), (z,)),
    (sc.ive, lambda a: sc.ive(2.0, a), (x,)),
    (sc.ive, lambda a: sc.ive(1.5, a), (z,)),
    (sc.kve, lambda a: sc.kve(0.5, a), (pos,)),
    (sc.kve, lambda a: sc.kve(1.5, a), (z,)),
    (sc.hankel1, lambda a: sc.hankel1(0.5, a), (z,)),
    (sc.hankel2, lambda a: sc.hankel2(1.5, a), (z,)),
    (sc.hankel1e, lambda a: sc.hankel1e(0.5, a), (z,)),
    (sc.hankel2e, lambda a: sc.hankel2e(1.5, a), (z,)),
    (SPH["spherical_jn"], lambda a: sc.spherical_jn(2, a), (x,)),
    (SPH["spherical_jn"], lambda a: sc.spherical_jn(1, a, derivative=True), (z,)),
    (SPH["spherical_yn"], lambda a: sc.spherical_yn(2, a), (pos,)),
    (SPH["spherical_yn"], lambda a: sc.spherical_yn(1, a, True), (pos,)),
    (SPH["spherical_in"], lambda a: sc.spherical_in(np.array([0, 1, 2, 3]), a), (x,)),
    (SPH["spherical_in"], lambda a: sc.spherical_in(2, a, True), (z,)),
    (SPH["spherical_kn"], lambda a: sc.spherical_kn(1, a), (pos,)),
    (SPH["spherical_kn"], lambda a: sc.spherical_kn(2, a, True), (pos,)),
]






@pytest.mark.parametrize("case", [c for c in CASES if c[0] is not sc.polygamma], ids=case_id)
def test_float32_stays_float32(case):
    _, f, args = case
    args32 = tuple(a.astype(np.complex64 if a.dtype.kind == "c" else np.float32) for a in args)
    got, want = pb.pullback(f, *args32)[0], f(*args32)
    if isinstance(want, tuple):  # several outputs
        got, want, f = np.stack(got), np.stack(want), lambda *a, f=f: np.stack(f(*a))
    assert np.result_type(got) == np.result_type(want)
    check_gradient(f, *args32)


def test_derivatives():
    g = pb.gradient(lambda a: np.sum(sc.expit(a)), x)[0]
    np.testing.assert_allclose(g, sc.expit(x) * (1 - sc.expit(x)))
    g = pb.gradient(lambda a: np.sum(sc.gammaln(a)), pos)[0]
    np.testing.assert_allclose(g, sc.digamma(pos))
    g = pb.gradient(lambda a: sc.logsumexp(a), x)[0]
    np.testing.assert_allclose(g, sc.softmax(x))


def test_plain_calls_are_untouched():
    assert original(sc.logsumexp) is ORIG["logsumexp"]
    assert sc.logsumexp.__name__ == "logsumexp" and sc.logsumexp.__doc__ == ORIG["logsumexp"].__doc__
    assert inspect.signature(sc.logsumexp) == inspect.signature(ORIG["logsumexp"])
    import scipy.special._logsumexp as defining

    assert defining.logsumexp is sc.logsumexp
    for name, args, kwargs in [
        ("logsumexp", (x,), {}),
        ("logsumexp", (x,), {"axis": 0, "b": x, "return_sign": True}),
        ("logsumexp", ([1.0, 2.0],), {}),
        ("softmax", (x,), {"axis": 1}),
        ("log_softmax", (x.astype(np.float32),), {}),
        ("polygamma", (1, [2.0, 3.0]), {}),
    ]:
        got, want = getattr(sc, name)(*args, **kwargs), ORIG[name](*args, **kwargs)
        assert type(got) is type(want)
        np.testing.assert_array_equal(got, want)


def test_traced_keyword_argument():
    g = pb.gradient(lambda b: sc.logsumexp(x, b=b), pos)[0]
    e = np.exp(x)
    np.testing.assert_allclose(g, e / np.sum(pos * e))
    g = pb.gradient(lambda a: np.sum(sc.polygamma(n=1, x=a)), pos)[0]
    np.testing.assert_allclose(g, sc.polygamma(2, pos))


def test_logsumexp_is_stable():
    big = np.array([1000.0, 1000.0, -np.inf])
    g = pb.gradient(lambda a: sc.logsumexp(a), big)[0]
    np.testing.assert_allclose(g, [0.5, 0.5, 0.0])


def test_second_order():
    h = pb.hessian(lambda a: np.sum(sc.gammaln(a)), pos[0])
    np.testing.assert_allclose(h, np.diag(sc.polygamma(1, pos[0])))
    check_gradient(lambda a: pb.gradient(lambda a: sc.logsumexp(a, axis=1).sum(), a)[0], x)
    check_gradient(lambda a: pb.gradient(lambda a: np.sum(sc.expit(a) * sc.erf(a)), a)[0], x)
    check_gradient(lambda a: pb.gradient(lambda a: np.sum(sc.xlogy(a, a)), a)[0], pos)


def test_order_parameters_are_not_differentiable():
    for f in (lambda v: sc.jv(v, 1.5), lambda v: sc.kve(v, 1.5), lambda a: sc.gammainc(a, 1.5),
              lambda a: sc.betainc(a, 2.0, 0.5), lambda s: sc.zeta(s, 2.0)):
        with pytest.raises(TypeError, match=r"argument 0 of scipy\.special\.\w+ is not differentiable"):
            pb.gradient(f, 2.5)
        with pytest.raises(TypeError, match="not differentiable"):
            pb.jvp(f, (2.5,), (1.0,))


def test_missing_ufunc_rules_name_scipy_special():
    with pytest.raises(pb.NoRuleError, match=r"scipy\.special\.agm\b"):
        pb.gradient(lambda a: np.sum(sc.agm(a, 2.0)), pos)
    with pytest.raises(pb.NoRuleError, match=r"scipy\.special\.agm\.reduce\b"):
        pb.gradient(lambda a: sc.agm.reduce(a), pos[0])
    with pytest.raises(pb.NoRuleError, match=r"numpy\.gcd\b"):
        pb.gradient(lambda a: np.sum(np.gcd(a, a)), pos)


def test_new_plain_calls_are_untouched():
    for name, args in [("zeta", (3.0, pos)), ("zeta", (2.0,)), ("multigammaln", (pos + 1, 3)),
                       ("spherical_jn", (2, pos)), ("spherical_kn", (1, pos, True)), ("lambertw", (pos,))]:
        got, want = getattr(sc, name)(*args), original(_key(getattr(sc, name)))(*args)
        assert type(got) is type(want)
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError):
        pb.gradient(lambda a: np.sum(sc.multigammaln(a, 3)), np.array([0.2]))  # SciPy's domain error


def test_unused_outputs_do_not_poison_the_gradient():
    g = pb.gradient(lambda a: np.sum(sc.sici(a)[0]), np.array([0.0, 1.0]))[0]
    np.testing.assert_allclose(g, [1.0, np.sin(1.0)])
    g = pb.gradient(lambda a: np.sum(sc.shichi(a)[0] + sc.airy(a)[1]), np.array([0.0]))[0]
    np.testing.assert_allclose(g, 1.0 + 0.0 * sc.airy(0.0)[0])


def test_bessel_derivatives():
    g = pb.gradient(lambda a: np.sum(sc.jv(2.5, a)), pos)[0]
    np.testing.assert_allclose(g, sc.jvp(2.5, pos), rtol=1e-12)
    g = pb.gradient(lambda a: np.sum(sc.kv(1.0, a)), pos)[0]
    np.testing.assert_allclose(g, sc.kvp(1.0, pos), rtol=1e-12)
    g = pb.gradient(lambda a: np.sum(np.abs(sc.hankel1(0.5, a)) ** 2), z)[0]
    h = sc.hankel1(0.5, z)
    np.testing.assert_allclose(g, 2 * h * np.conj(sc.h1vp(0.5, z)), rtol=1e-10)  # dL/dx + i dL/dy


def test_second_order_special():
    h = pb.hessian(lambda a: np.sum(sc.j0(a)), pos[0])
    np.testing.assert_allclose(h, np.diag(sc.jvp(0, pos[0], 2)), rtol=1e-10, atol=1e-12)
    check_gradient(lambda a: pb.gradient(lambda a: np.sum(np.real(sc.ive(1.5, a) * sc.ndtr(a))), a)[0], z)
    check_gradient(lambda a: pb.gradient(lambda a: np.sum(sc.spherical_yn(2, a, True)), a)[0], pos)
    check_gradient(lambda a: pb.gradient(lambda a: np.sum(sc.betaincinv(2.0, 3.0, a)), a)[0], prob)
    check_gradient(lambda a: pb.gradient(lambda a: np.sum(sc.huber(1.0, a) + sc.wofz(a + 1j).real), a)[0], x)


def test_gammasgn_is_piecewise_constant():
    import scipy.special as sc

    x = np.array([-2.5, -1.5, 0.5, 3.0])
    (g,) = pb.gradient(lambda v: np.sum(sc.gammasgn(v) * v), x)
    np.testing.assert_array_equal(g, sc.gammasgn(x))


def test_log_softmax_is_scipys_bit_for_bit():
    """Regression: log_softmax was ``x - logsumexp(x)``, SciPy's value to rounding; now SciPy's own
    steps (``tmp = x - max``, ``tmp - log(sum(exp(tmp)))``), so its bits."""
    rng = np.random.default_rng(3)
    for shape, axis in [((5,), None), ((3, 4), 0), ((3, 4), 1), ((2, 3, 4), (0, 2))]:
        x = rng.standard_normal(shape) * 3
        value, _ = pb.pullback(lambda u: sc.log_softmax(u, axis=axis), x)
        assert value.tobytes() == sc.log_softmax(x, axis=axis).tobytes()
        check_gradient(lambda u: sc.log_softmax(u, axis=axis), x)


def test_logsumexp_is_scipys_bit_for_bit():
    """logsumexp's value is SciPy's own (SciPy separates the largest term and adds log1p of the rest;
    the composite's max-shifted sum equals it to rounding), its derivatives the composite's."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 4)) * 3
    for kw in ({}, {"axis": 1, "keepdims": True}, {"axis": 0, "b": rng.uniform(0.5, 1.5, (3, 4))},
               {"axis": 1, "b": rng.standard_normal((3, 4)), "return_sign": True}):
        f = lambda u, kw=kw: sc.logsumexp(u, **kw)  # noqa: E731
        value, _ = pb.pullback(f, x)
        want = f(x)
        pairs = zip(value, want) if isinstance(want, tuple) else [(value, want)]
        for got, w in pairs:
            assert got.dtype == w.dtype and got.tobytes() == w.tobytes()
        first = (lambda u, f=f: f(u)[0]) if isinstance(want, tuple) else f
        check_gradient(first, x, modes=("reverse", "forward"))


def test_logsumexp_scalar_type_and_broadcast_error_are_scipys():
    """Regression: a full logsumexp returned a 0-d ndarray where SciPy returns np.float64 (its
    return_sign sign too), and a ``b`` that does not broadcast raised NumPy's message."""
    x = rand(50, seed=3)
    for f in (sc.logsumexp, lambda u: sc.logsumexp(u, b=np.ones(50)),
              lambda u: sc.logsumexp(u, return_sign=True)):
        value, want = pb.pullback(f, x)[0], f(x)
        for v, w in zip(*((value, want) if isinstance(want, tuple) else ((value,), (want,)))):
            assert type(v) is type(w) and v.tobytes() == w.tobytes()
    with pytest.raises(ValueError, match="^Array shapes are incompatible for broadcasting.$"):
        pb.pullback(lambda u: sc.logsumexp(u, b=np.ones(3)), x)


def test_removable_singularities_of_the_derivative_rules():
    """Derivative formulas that are 0/0 or 0*inf where the function is smooth: 1/Gamma at its
    zeros ``(-1)^n n!`` (second derivative too), spence at 1, E_0 = e^-x / x (SciPy has no E_{-1})."""
    grad = lambda f, x: pb.gradient(f, x)[0]  # noqa: E731
    cases = ((0.0, 1.0, 2 * np.euler_gamma), (-1.0, -1.0, 0.8455686701969343), (-3.0, -6.0, 15.0734120211816))
    for x, d1, d2 in cases:
        assert grad(sc.rgamma, x) == d1
        assert grad(lambda t: grad(sc.rgamma, t), x) == pytest.approx(d2, rel=1e-15)
    x = np.array([0.0, -1.0, -2.0, 0.3, -1.5])
    expected = np.array([1.0, -1.0, 2.0, *(-sc.rgamma(x[3:]) * sc.digamma(x[3:]))])
    np.testing.assert_allclose(pb.pullback(sc.rgamma, x)[1](np.ones(5))[0], expected, rtol=1e-15)
    np.testing.assert_allclose(pb.jvp(sc.rgamma, (x,), (np.ones(5),))[1], expected, rtol=1e-15)
    assert grad(sc.spence, 1.0) == -1.0
    assert grad(lambda t: grad(sc.spence, t), 1.0) == 0.5
    check_gradient(sc.spence, np.array([0.5, 1.0, 2.5]))
    e0 = lambda t: sc.expn(0, t)  # noqa: E731
    assert grad(e0, 1.5) == pytest.approx(-np.exp(-1.5) * 2.5 / 1.5**2, rel=1e-15)
    check_gradient(lambda t: sc.expn(np.array([0, 1, 2]), t), np.array([1.5, 0.7, 2.5]))
    check_gradient(e0, np.array([0.5, 3.0]))


def test_logsumexp_of_empty_reductions_is_scipys():
    """Regression: logsumexp over an empty axis raised (the max shift has no identity); SciPy
    returns -inf (sign -1). The gradient is as empty as the input."""
    for a, kw in [(np.array([]), {}), (np.zeros((0, 3)), dict(axis=0)), (np.zeros((2, 0, 0)), dict(axis=-1)),
                  (np.zeros((0, 3)), dict(axis=0, return_sign=True)), (np.array([]), dict(return_sign=True)),
                  (np.zeros((0, 3)), dict(axis=0, b=np.ones(3), keepdims=True))]:
        f = lambda x: sc.logsumexp(x, **kw)  # noqa: E731
        want = f(a)
        got, back = pb.pullback(f, a)
        for w, g in zip(*((want, got) if kw.get("return_sign") else ((want,), (got,))), strict=True):
            assert type(w) is type(g) and np.asarray(w).tobytes() == np.asarray(g).tobytes()
            assert np.shape(w) == np.shape(g)
        seed = tuple(np.ones_like(w) for w in want) if kw.get("return_sign") else np.ones_like(want)
        assert back(seed)[0].shape == a.shape


def _derivatives(f, order):
    """f and its first ``order`` derivatives (of an elementwise f, summed), by nested gradients."""
    fs = [f]
    for _ in range(order):
        fs.append(lambda t, g=fs[-1]: pb.gradient(lambda u: np.sum(np.real(g(u))), t)[0])
    return fs


@pytest.mark.parametrize("name", ["ellipk", "ellipe", "ellipkm1", "lambertw",
                                  "boxcox", "boxcox1p", "inv_boxcox", "inv_boxcox1p"])
def test_removable_singularities_to_higher_order(name):
    """Rules that were 0/0 at a point (K, E at m = 0, ellipkm1 at p = 1, W at 0, the box-cox
    family at lmbda = 0) and patched there with a constant: the first derivative was right but the
    second was zero (ellipkm1's first was NaN). Exact values at the point, and each of the first
    three derivatives against central differences of the one below, at and near the point."""
    xs = np.array([0.7, 2.3])
    f, x0 = {"ellipk": (sc.ellipk, 0.0), "ellipe": (sc.ellipe, 0.0), "ellipkm1": (sc.ellipkm1, 1.0),
             "lambertw": (sc.lambertw, 0.0),
             "boxcox": (lambda lm: sc.boxcox(xs, lm), 0.0),
             "boxcox1p": (lambda lm: sc.boxcox1p(xs, lm), 0.0),
             "inv_boxcox": (lambda lm: sc.inv_boxcox(xs, lm), 0.0),
             "inv_boxcox1p": (lambda lm: sc.inv_boxcox1p(xs, lm), 0.0)}[name]
    fs = _derivatives(f, 3)
    exact = {"ellipk": (np.pi / 8, 9 * np.pi / 64), "ellipe": (-np.pi / 8, -3 * np.pi / 64),
             "ellipkm1": (-np.pi / 8, 9 * np.pi / 64), "lambertw": (1.0, -2.0),
             "boxcox": (np.sum(np.log(xs) ** 2 / 2), np.sum(np.log(xs) ** 3 / 3)),
             "inv_boxcox": (np.sum(-np.exp(xs) * xs**2 / 2),
                            np.sum(np.exp(xs) * (xs**4 / 4 + 2 * xs**3 / 3)))}
    x = np.array([x0])
    if name in exact:
        d1, d2 = exact[name]
        np.testing.assert_allclose(fs[1](x), d1, rtol=1e-13)
        np.testing.assert_allclose(fs[2](x), d2, rtol=1e-13)
    h = 1e-4
    for off in (0.0, 1e-8, -1e-8, 1e-4, -1e-4, 1e-2, -1e-2, 0.05, 0.15):
        x = np.array([x0 + off])
        for k in (1, 2, 3):
            ad, fd = fs[k](x), (fs[k - 1](x + h) - fs[k - 1](x - h)) / (2 * h)
            if k == 1:
                fd = np.sum(np.real(fd))
            assert np.all(np.isfinite(ad)), (off, k)
            np.testing.assert_allclose(ad, fd, rtol=1e-6, atol=1e-6, err_msg=f"{off=} {k=}")


def test_multigammaln_sums_as_scipy_does():
    """Regression: the terms were added to the float64 constant one by one; SciPy sums the stacked
    terms in the argument's precision first (float32 values differed by a rounding)."""
    for a in (np.array([3.3, 5.1], np.float32), np.array([3.3, 5.1]), 4.2):
        for d in (1, 3, 6):
            value, _ = pb.pullback(lambda u, d=d: sc.multigammaln(u, d), a)
            want = sc.multigammaln(a, d)
            assert type(value) is type(want) and np.asarray(value).tobytes() == np.asarray(want).tobytes()
    check_gradient(lambda u: sc.multigammaln(u, 3), np.array([3.3, 5.1]))
