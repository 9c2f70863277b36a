"""scipy.stats: univariate distributions (continuous and discrete), multivariate_normal, dirichlet,
entropy and zscore; SciPy's values, derivatives checked against finite differences."""

import numpy as np
import pytest
import scipy.special as sc
import scipy.stats as st
from hypothesis import given, settings
from hypothesis import strategies as hs
from hypothesis.extra import numpy as hnp
from scipy.stats import _distn_infrastructure as D
from scipy.stats import _entropy, _stats_py
from scipy.stats import _multivariate as M

import pullback as pb
from pullback import NoRuleError
from pullback.intercept import original
from pullback.testing import check_gradient

# ---------------------------------------------------------------- inputs

#: name -> (shape parameter values, the standardised x's range)
CONTINUOUS = {
    "norm": ((), "real"),
    "t": ((4.5,), "real"),
    "chi2": ((3.5,), "positive"),
    "gamma": ((2.5,), "positive"),
    "beta": ((2.5, 3.5), "unit"),
    "lognorm": ((0.7,), "positive"),
    "expon": ((), "positive"),
    "laplace": ((), "real"),
    "cauchy": ((), "real"),
    "uniform": ((), "unit"),
    "logistic": ((), "real"),
    "weibull_min": ((1.7,), "positive"),
    "vonmises": ((2.0,), "real"),
    "invgamma": ((2.5,), "positive"),
    "pareto": ((2.5,), "above1"),
    "halfnorm": ((), "positive"),
    "halfcauchy": ((), "positive"),
    "rayleigh": ((), "positive"),
    "gumbel_r": ((), "real"),
    "gumbel_l": ((), "real"),
    "lomax": ((1.8,), "positive"),
    "invgauss": ((0.8,), "positive"),
    "genextreme": ((0.3,), "real"),
    "loggamma": ((1.7,), "real"),
    "betaprime": ((2.5, 3.5), "positive"),
    "maxwell": ((), "positive"),
    "chi": ((2.5,), "positive"),
    "powerlaw": ((1.7,), "unit"),
    "gompertz": ((1.3,), "positive"),
    "exponnorm": ((1.5,), "real"),
    "skewnorm": ((1.5,), "real"),
    "genpareto": ((0.4,), "positive"),
    "nakagami": ((1.3,), "positive"),
    "rice": ((1.2,), "positive"),
    "f": ((4.5, 7.5), "positive"),
    "foldnorm": ((0.9,), "positive"),
    "triang": ((0.4,), "unit"),
}
#: shape parameters whose cdf derivative has no closed form
NO_CDF_RULE = {("t", 0), ("chi2", 0), ("gamma", 0), ("beta", 0), ("beta", 1), ("vonmises", 0),
               ("invgamma", 0), ("loggamma", 0), ("betaprime", 0), ("betaprime", 1), ("chi", 0),
               ("nakagami", 0), ("f", 0), ("f", 1)}
METHODS = ("pdf", "logpdf", "cdf", "logcdf", "sf", "logsf", "ppf", "isf")
CDF_LIKE = ("cdf", "logcdf", "sf", "logsf", "ppf", "isf")

Z = {
    "real": np.array([[-1.3, -0.4, 0.6], [1.1, 0.25, -0.8]]),
    "positive": np.array([[0.3, 0.7, 1.2], [2.0, 0.5, 1.6]]),
    "unit": np.array([[0.2, 0.35, 0.5], [0.65, 0.8, 0.45]]),
    "above1": np.array([[1.3, 1.7, 2.2], [3.0, 1.5, 2.6]]),  # pareto's support
}
Q = np.array([[0.1, 0.3, 0.5], [0.7, 0.9, 0.45]])
LOC = np.array([0.1, -0.2, 0.3])  # broadcast against x (2, 3) and scale (2, 1)
SCALE = np.array([[1.3], [0.8]])


def _inputs(name, method, dtype=np.float64):
    shapes, support = CONTINUOUS[name]
    first = Q if method in ("ppf", "isf") else LOC + SCALE * Z[support]
    loc, scale = LOC, SCALE
    if name == "vonmises" and method in ("ppf", "isf", "logcdf", "logsf"):  # SciPy's are slow: one point
        first, loc, scale = first[0, :1], loc[:1], scale[:1]
    return (first.astype(dtype), loc.astype(dtype), scale.astype(dtype),
            *[np.asarray(s, dtype) for s in shapes])


def _differentiable(name, method):
    n = len(CONTINUOUS[name][0])
    return [j for j in range(n) if not (method in CDF_LIKE and (name, j) in NO_CDF_RULE)]


def _unfrozen(name, method, fixed):
    """``dist.method(first, *shapes, loc, scale)`` (positional) of the traced arguments; the
    shapes in ``fixed`` (index -> value) are constants."""
    dist = getattr(st, name)

    def f(first, loc, scale, *traced):
        it = iter(traced)
        shapes = [fixed[j] if j in fixed else next(it) for j in range(len(CONTINUOUS[name][0]))]
        return getattr(dist, method)(first, *shapes, loc, scale)

    return f


def _frozen(name, method, fixed):
    dist = getattr(st, name)

    def f(first, loc, scale, *traced):
        it = iter(traced)
        shapes = [fixed[j] if j in fixed else next(it) for j in range(len(CONTINUOUS[name][0]))]
        return getattr(dist(*shapes, loc=loc, scale=scale), method)(first)

    return f


def _split(name, method, args):
    diff = _differentiable(name, method)
    first, loc, scale, *shapes = args
    fixed = {j: s for j, s in enumerate(shapes) if j not in diff}
    return fixed, (first, loc, scale, *[s for j, s in enumerate(shapes) if j in diff])


# ---------------------------------------------------------------- continuous


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", CONTINUOUS)
def test_continuous_every_argument(name, method):
    fixed, args = _split(name, method, _inputs(name, method))
    for make in (_unfrozen, _frozen):
        f = make(name, method, fixed)
        check_gradient(f, *args)
        value = pb.pullback(f, *args)[0]
        np.testing.assert_array_equal(value, f(*args))  # SciPy's own value
        assert value.dtype == np.float64


@pytest.mark.parametrize("method", ("logpdf", "cdf", "ppf"))
@pytest.mark.parametrize("name", CONTINUOUS)
def test_continuous_float32(name, method):
    fixed, args = _split(name, method, _inputs(name, method, np.float32))
    f = _unfrozen(name, method, fixed)
    check_gradient(f, *args)  # float32 gradients (dtypes checked)
    np.testing.assert_array_equal(pb.pullback(f, *args)[0], f(*args))


@pytest.mark.parametrize("name, j", sorted(NO_CDF_RULE))
@pytest.mark.parametrize("method", CDF_LIKE)
def test_shape_without_closed_form_raises(name, j, method):
    first, loc, scale, *shapes = _inputs(name, method)

    def f(s):
        sh = list(shapes)
        sh[j] = s
        return np.sum(getattr(getattr(st, name), method)(first, *sh, loc=loc, scale=scale))

    with pytest.raises(NoRuleError, match=f"scipy.stats.{name}.{method}"):
        pb.gradient(f, shapes[j])


def test_keyword_forms_and_scalars():
    x = np.array([0.3, 1.2, -0.5])
    check_gradient(lambda x, m, s: st.norm.logpdf(x=x, loc=m, scale=s), x, np.array(0.2), np.array(1.4))
    check_gradient(lambda x, df, m: st.t.logpdf(x, df=df, loc=m), x, np.array(3.0), np.array(0.1))
    check_gradient(lambda x, a: st.gamma(a=a, scale=2.0).logpdf(x), np.abs(x) + 0.1, np.array(1.7))
    g = pb.gradient(lambda m, s: np.sum(st.norm.logpdf([0.5, 1.0], m, s)), 0.0, 1.0)
    np.testing.assert_allclose(g, (1.5, -0.75))
    # a 0-d result
    value, back = pb.pullback(lambda x: st.norm.cdf(x, 0.5, 2.0), np.array(0.3))
    assert value == st.norm.cdf(0.3, 0.5, 2.0)
    np.testing.assert_allclose(back(np.array(1.0))[0], st.norm.pdf(0.3, 0.5, 2.0))


@settings(max_examples=15, deadline=None)
@given(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3),
       hs.sampled_from(["norm.logpdf", "gamma.cdf", "t.logsf", "lognorm.ppf"]))
def test_broadcasting_of_parameters_against_x(shapes, which):
    name, method = which.split(".")
    rng = np.random.default_rng(len(shapes.result_shape))
    shape_x, shape_loc, shape_scale = shapes.input_shapes
    z = rng.uniform(0.2, 0.8, shape_x) if method == "ppf" else rng.uniform(0.3, 2.0, shape_x)
    loc = rng.uniform(-0.1, 0.1, shape_loc)
    scale = rng.uniform(0.8, 1.5, shape_scale)
    first = z if method == "ppf" else loc + scale * z
    fixed, args = _split(name, method, (first, loc, scale, *[np.asarray(s) for s in CONTINUOUS[name][0]]))
    f = _unfrozen(name, method, fixed)
    check_gradient(f, *args)
    np.testing.assert_array_equal(pb.pullback(f, *args)[0], f(*args))


def test_second_order_continuous():
    x = np.array([0.4, 1.1, 2.3])
    for f, args in [
        (lambda x, m, s: st.norm.logpdf(x, m, s), (x, np.array(0.2), np.array(1.3))),
        (lambda x, df, s: st.t.logpdf(x, df, 0.1, s), (x, np.array(3.5), np.array(1.2))),
        (lambda x, s: st.gamma.cdf(x, 2.5, scale=s), (x, np.array(1.2))),
        (lambda x, a, b: st.beta.pdf(x / 3, a, b), (x, np.array(2.5), np.array(1.7))),
        (lambda q, s, sc: st.lognorm.ppf(q, s, scale=sc), (x / 3, np.array(0.8), np.array(1.5))),
        (lambda x, c: st.weibull_min.logsf(x, c), (x, np.array(1.3))),
        (lambda q, m: st.cauchy.isf(q, m), (x / 3, np.array(0.3))),
        (lambda x, k: st.vonmises.logpdf(x, k), (x - 1, np.array(1.5))),
    ]:
        _check_second_order(f, *args)


def test_second_order_added_distributions():
    x = np.array([0.4, 1.1, 2.3])
    for f, args in [
        (lambda x, c: st.genextreme.logpdf(x, c, 0.1, 1.2), (x - 1, np.array(0.0))),  # Gumbel's c
        (lambda x, c: st.genpareto.cdf(x, c, scale=1.3), (x, np.array(-0.2))),
        (lambda x, a: st.skewnorm.logpdf(x, a, -0.5), (x, np.array(2.5))),
        (lambda x, k: st.exponnorm.cdf(x, k, 0.2), (x, np.array(1.5))),
        (lambda x, b, s: st.rice.logpdf(x, b, scale=s), (x, np.array(1.2), np.array(0.9))),
        (lambda q, mu: st.invgauss.ppf(q, mu), (x / 3, np.array(0.8))),
        (lambda x, c: st.triang.cdf(x, c, scale=3), (x, np.array(0.55))),
        (lambda x, n, m: st.f.logpdf(x, n, m), (x, np.array(4.5), np.array(7.5))),
        (lambda x, c: st.foldnorm.logsf(x, c), (x, np.array(0.9))),
        (lambda x, s: st.gumbel_l.pdf(x, 0.3, s), (x - 1, np.array(1.4))),
    ]:
        _check_second_order(f, *args)


@pytest.mark.parametrize("name", ("genextreme", "genpareto"))
def test_shape_through_zero(name):
    """c = 0 (Gumbel, exponential) and either side, |cz| on both sides of the 0.1 where the
    formulas change from Taylor series to closed forms: SciPy's values, derivatives in every
    argument, continuous through c = 0."""
    x = np.array([-1.2 if name == "genextreme" else 0.15, 0.3, 0.4, 1.15, 1.25, 2.5])  # z = 0.95, 1.05
    dist = getattr(st, name)
    for method in ("logpdf", "cdf", "logsf", "ppf"):
        first = Q.ravel() if method == "ppf" else x

        def f(first, loc, scale, c):
            return getattr(dist, method)(first, c, loc, scale)

        for c in (0.0, 1e-12, -0.1, 0.1, -0.3):
            args = (first, np.array(0.1), np.array(1.1), np.array(c))
            check_gradient(f, *args)
            np.testing.assert_array_equal(pb.pullback(f, *args)[0], f(*args))
        g0, g1 = (pb.gradient(lambda c: np.sum(f(first, 0.1, 1.1, c)), np.array(c)) for c in (0.0, -1e-9))
        np.testing.assert_allclose(g0, g1, rtol=1e-7)


def test_added_distributions_in_the_tails():
    """Far from the mode, where the formulas work in logarithms (Mills ratios, scaled Bessel
    functions): finite derivatives that match finite differences."""
    for f, args in [
        (lambda x, a: st.skewnorm.logpdf(x, a), (np.array([-30.0, 30.0]), np.array(4.0))),
        (lambda x, a: st.skewnorm.logcdf(x, a), (np.array([-3.0, -1.0]), np.array(2.0))),
        (lambda x, k: st.exponnorm.logpdf(x, k), (np.array([-20.0, 30.0]), np.array(0.3))),
        (lambda x, k: st.exponnorm.logcdf(x, k), (np.array([-6.0, -3.0]), np.array(2.0))),
        (lambda x, b: st.rice.logpdf(x, b), (np.array([300.0, 280.0]), np.array(290.0))),
        (lambda x, c: st.foldnorm.logpdf(x, c), (np.array([40.0, 36.0]), np.array(38.0))),
        (lambda x, mu: st.invgauss.logsf(x, mu), (np.array([0.02, 0.03]), np.array(0.01))),
        (lambda x, c: st.genpareto.logsf(x, c), (np.array([50.0, 500.0]), np.array(0.5))),
    ]:
        check_gradient(f, *args)
        assert all(np.all(np.isfinite(g)) for g in pb.gradient(lambda *a: np.sum(f(*a)), *args))


def _check_second_order(f, *args):
    """The pullback (for a fixed cotangent) as a function of the arguments: its derivatives."""
    v = np.random.default_rng(0).standard_normal(np.shape(f(*args)))

    def vjp(*a):
        return np.concatenate([np.ravel(c) for c in pb.pullback(f, *a)[1](v)])

    check_gradient(vjp, *args, rtol=1e-4, atol=1e-6)


def test_unsupported_distribution_raises_and_plain_calls_are_scipys():
    with pytest.raises(NoRuleError, match="scipy.stats.moyal.logpdf"):
        pb.gradient(lambda x: np.sum(st.moyal.logpdf(x)), np.array([0.1, 0.2]))
    with pytest.raises(NoRuleError, match="scipy.stats.genlogistic.cdf"):
        pb.gradient(lambda c: np.sum(st.genlogistic.cdf(0.3, c)), np.array(0.2))
    # any distribution's cdf, sf, logcdf, logsf, ppf, isf in x, loc and scale: from its own pdf
    x = np.array([0.3, 1.2, -0.4])
    for method in CDF_LIKE:
        arg = Q[0] if method in ("ppf", "isf") else x
        f = lambda x, loc, s: getattr(st.genlogistic, method)(x, 0.2, loc, s)  # noqa: E731
        check_gradient(f, arg, np.array(0.1), np.array(1.3))
        np.testing.assert_array_equal(pb.pullback(f, arg, np.array(0.1), np.array(1.3))[0],
                                      f(arg, 0.1, 1.3))
    with pytest.raises(NoRuleError, match="scipy.stats.moyal.pdf"):  # a second derivative
        pb.hessian(lambda x: st.moyal.cdf(x), np.array(0.3))
    x = np.array([0.3, 1.2])
    for method in METHODS:
        func = getattr(D.rv_continuous, method)
        arg = x / 2 if method in ("ppf", "isf") else x
        np.testing.assert_array_equal(getattr(st.gamma, method)(arg, 2.0), original(func)(st.gamma, arg, 2.0))
    assert type(st.norm.logpdf(0.3)) is np.float64


# ---------------------------------------------------------------- discrete

DISCRETE = {
    # name -> (shape values (broadcast against k), differentiable shapes for pmf, for cdf)
    "poisson": ((np.array([2.5, 3.5, 1.2]),), (0,), (0,)),
    "binom": ((np.array(7.0), np.array([0.35, 0.6, 0.2])), (1,), (1,)),
    "nbinom": ((np.array([4.5, 2.0, 3.0]), np.array([0.4, 0.7, 0.3])), (0, 1), (1,)),
    "geom": ((np.array([0.3, 0.5, 0.8]),), (0,), (0,)),
}
K = np.array([[0.0, 1, 2], [3, 5, 6]])
DISCRETE_METHODS = ("pmf", "logpmf", "cdf", "logcdf", "sf", "logsf")


@pytest.mark.parametrize("method", DISCRETE_METHODS)
@pytest.mark.parametrize("name", DISCRETE)
@pytest.mark.parametrize("frozen", (False, True))
def test_discrete_continuous_parameters(name, method, frozen):
    shapes, diff_pmf, diff_cdf = DISCRETE[name]
    diff = diff_pmf if method in ("pmf", "logpmf") else diff_cdf
    k = K + 1 if name == "geom" else K
    dist = getattr(st, name)

    def f(*traced):
        it = iter(traced)
        sh = [next(it) if j in diff else s for j, s in enumerate(shapes)]
        return getattr(dist(*sh), method)(k) if frozen else getattr(dist, method)(k, *sh)

    args = [shapes[j] for j in diff]
    check_gradient(f, *args)
    np.testing.assert_array_equal(pb.pullback(f, *args)[0], f(*args))
    check_gradient(f, *[a.astype(np.float32) for a in args])


def test_discrete_integers_carry_no_gradient():
    k = np.array([0.0, 2, 4])
    g = pb.gradient(lambda k, mu: np.sum(st.poisson.logpmf(k, mu)), k, 2.5)
    np.testing.assert_array_equal(g[0], np.zeros(3))
    np.testing.assert_allclose(g[1], np.sum(k / 2.5 - 1))
    g = pb.gradient(lambda n, p: np.sum(st.binom.pmf(k, n, p)), np.array(6.0), np.array(0.3))
    np.testing.assert_array_equal(g[0], 0.0)
    assert g[1] != 0
    g = pb.gradient(lambda loc, mu: np.sum(st.poisson.cdf(k, mu, loc=loc)), np.array(1.0), np.array(2.0))
    np.testing.assert_array_equal(g[0], 0.0)
    for method in ("ppf", "isf"):  # integer-valued: SciPy's value, no gradient
        value, back = pb.pullback(lambda mu: getattr(st.poisson, method)(0.3, mu), np.array(2.5))
        assert value == getattr(st.poisson, method)(0.3, 2.5)
    with pytest.raises(NoRuleError, match="scipy.stats.nbinom.cdf"):
        pb.gradient(lambda n: st.nbinom.cdf(3, n, 0.4), np.array(2.0))
    with pytest.raises(NoRuleError, match="scipy.stats.hypergeom.pmf"):
        pb.gradient(lambda n: st.hypergeom.pmf(3, 20, 7, n), np.array(12.0))


def test_second_order_discrete():
    mu = np.array([2.5, 3.5, 1.2])
    _check_second_order(lambda mu: st.poisson.cdf(K, mu), mu)
    _check_second_order(lambda p: st.binom.logpmf(K, 7, p), np.array([0.35, 0.6, 0.2]))
    _check_second_order(lambda n, p: st.nbinom.pmf(K, n, p), mu, np.array([0.4, 0.7, 0.3]))


# ---------------------------------------------------------------- multivariate normal

RNG = np.random.default_rng(3)
_A = RNG.standard_normal((4, 4))
COV = _A @ _A.T + np.eye(4)
MEAN = RNG.standard_normal(4)
XS = RNG.standard_normal((5, 4))


@pytest.mark.parametrize("method", ("logpdf", "pdf"))
def test_mvn(method):
    for x, mean, cov in [(XS, MEAN, COV), (XS[0], MEAN, COV), (XS[:, :1], MEAN[:1], COV[:1, :1]),
                         (XS, MEAN, np.diag(COV)), (XS, MEAN, np.array(1.7)), (XS[:, 0], np.array(0.3),
                                                                               np.array(2.0))]:
        def f(x, m, c):
            return getattr(st.multivariate_normal, method)(x, m, c)

        def frozen(x, m, c):
            return getattr(st.multivariate_normal(m, c), method)(x)

        check_gradient(f, x, mean, cov)
        check_gradient(frozen, x, mean, cov)
        check_gradient(lambda x: getattr(st.multivariate_normal(mean, cov), method)(x), x)
        np.testing.assert_array_equal(pb.pullback(f, x, mean, cov)[0], f(x, mean, cov))
        np.testing.assert_array_equal(pb.pullback(frozen, x, mean, cov)[0], frozen(x, mean, cov))
    check_gradient(lambda x, m, c: getattr(st.multivariate_normal, method)(x, m, c), *(
        a.astype(np.float32) for a in (XS, MEAN, COV)))


def test_mvn_cov_gradient_is_scipys_lower_triangle():
    # SciPy reads the lower triangle: the upper gets no gradient, the symmetric convention follows
    g = pb.gradient(lambda c: np.sum(st.multivariate_normal.logpdf(XS, MEAN, c)), COV)[0]
    np.testing.assert_array_equal(np.triu(g, 1), 0)
    P = np.linalg.inv(COV)
    d = XS - MEAN
    sym = 0.5 * (P @ d.T @ d @ P - len(XS) * P)
    gb = pb.gradient(lambda b: np.sum(st.multivariate_normal.logpdf(XS, MEAN, (b + b.T) / 2)), COV)[0]
    np.testing.assert_allclose(gb, sym, rtol=1e-10)


def test_mvn_entropy_singular_and_errors():
    for f in (lambda m, c: st.multivariate_normal.entropy(m, c),
              lambda m, c: st.multivariate_normal(m, c).entropy()):
        check_gradient(f, MEAN, COV)
        np.testing.assert_array_equal(pb.pullback(f, MEAN, COV)[0], f(MEAN, COV))
    sing = np.diag([1.0, 2.0, 0.0, 0.0])
    x = np.concatenate([XS[:, :2], np.zeros((5, 2))], axis=1)
    for method in ("logpdf", "pdf"):
        def f(x2, m2):
            xx = np.concatenate([x2, np.zeros((5, 2))], axis=1)
            mm = np.concatenate([m2, np.zeros(2)])
            return getattr(st.multivariate_normal, method)(xx, mm, sing, allow_singular=True)

        check_gradient(f, XS[:, :2], MEAN[:2])
        with pytest.raises(NoRuleError, match="singular cov"):
            pb.gradient(lambda c: np.sum(getattr(st.multivariate_normal, method)(
                x, None, c, allow_singular=True)), sing)
    frozen_cdf = lambda m: st.multivariate_normal(m, COV).cdf(XS)  # noqa: E731
    with pytest.raises(NoRuleError, match="multivariate_normal_frozen.cdf"):
        pb.gradient(lambda m: np.sum(frozen_cdf(m)), MEAN)
    fr = pb.pullback(lambda m: st.multivariate_normal(m, COV).mean, MEAN)
    np.testing.assert_array_equal(fr[0], MEAN)


def test_second_order_multivariate():
    _check_second_order(lambda x, m, c: st.multivariate_normal.logpdf(x, m, c), XS, MEAN, COV)
    _check_second_order(lambda c: st.multivariate_normal.pdf(XS[:2], MEAN, c), COV)
    _check_second_order(lambda a: st.dirichlet.logpdf(DX, a), ALPHA)
    _check_second_order(lambda p, q: st.entropy(p, q), PK, QK)
    _check_second_order(lambda a: st.zscore(a, axis=1, ddof=1), PK)


# ---------------------------------------------------------------- dirichlet, entropy, zscore

ALPHA = RNG.random(4) ** 2 + 1.2
DX = st.dirichlet.rvs(ALPHA, size=3, random_state=1).T  # components on the first axis


@pytest.mark.parametrize("method", ("logpdf", "pdf"))
def test_dirichlet(method):
    def f(x, a):
        return getattr(st.dirichlet, method)(x / np.sum(x, axis=0), a)  # stays on the simplex

    def frozen(x, a):
        return getattr(st.dirichlet(a), method)(x / np.sum(x, axis=0))

    for x in (DX, DX[:, 0]):
        check_gradient(f, x, ALPHA)
        check_gradient(frozen, x, ALPHA)
        np.testing.assert_array_equal(pb.pullback(f, x, ALPHA)[0], f(x, ALPHA))
    # the last component left out (1 - sum)
    check_gradient(lambda x: getattr(st.dirichlet, method)(x, ALPHA), DX[:3, 0])
    check_gradient(f, DX.astype(np.float32), ALPHA.astype(np.float32))


PK = RNG.random((4, 3)) + 0.1
QK = RNG.random((4, 3)) + 0.1


def test_entropy():
    for f, args in [
        (lambda p: st.entropy(p), (PK,)),
        (lambda p: st.entropy(p[:, 0], base=2), (PK,)),
        (lambda p, q: st.entropy(p, q), (PK, QK)),
        (lambda p, q: st.entropy(p, q, base=3, axis=1), (PK, QK)),
        (lambda p, q: st.entropy(p, q, axis=None), (PK, QK)),
        (lambda p, q: st.entropy(p, q[:, :1], axis=0, keepdims=True), (PK, QK)),
        (lambda p, q: st.entropy(p, q, axis=-1), (PK.astype(np.float32), QK.astype(np.float32))),
    ]:
        check_gradient(f, *args)
        np.testing.assert_array_equal(pb.pullback(f, *args)[0], f(*args))
    with pytest.raises(NoRuleError, match="nan_policy"):
        pb.gradient(lambda p: st.entropy(p, nan_policy="omit"), PK[:, 0])


def test_zscore():
    for kw in ({}, {"axis": 1, "ddof": 1}, {"axis": None}, {"axis": -1}):
        def f(a):
            return st.zscore(a, **kw)

        check_gradient(f, PK)
        check_gradient(f, PK.astype(np.float32))
        np.testing.assert_array_equal(pb.pullback(f, PK)[0], f(PK))
    with pytest.raises(NoRuleError, match="nan_policy"):
        pb.gradient(lambda a: np.sum(st.zscore(a, nan_policy="omit")), PK)



def test_zscore_complex():
    """Regression: the rule assumed real data; SciPy's std of complex data is that of |a - mean|,
    so the derivative of the std projects on Re(conj(z) t)."""
    z = np.array([0.3 + 0.1j, -0.2 + 0.5j, 1 - 0.3j])
    w = np.array([0.7, -1.3, 0.4])
    g = pb.gradient(lambda z: np.sum(w * np.real(st.zscore(z))), z)[0]
    np.testing.assert_allclose(g, [1.39968875, -1.22337972 - 0.61034193j, -0.17630902 + 0.61034193j],
                               atol=1e-8)
    zk = PK + 1j * QK
    for kw in ({}, {"axis": 1, "ddof": 1}, {"axis": None}):
        def f(a):
            return st.zscore(a, **kw)

        check_gradient(f, zk)
        check_gradient(f, zk.astype(np.complex64))
        value = pb.pullback(f, zk)[0]
        assert value.dtype == f(zk).dtype and value.tobytes() == f(zk).tobytes()
    _check_second_order(lambda a: st.zscore(a, axis=1, ddof=1), zk)

# ---------------------------------------------------------------- registry coverage (test_cases runs these)

_X = LOC + SCALE * Z["positive"]


def _gamma_case(m):
    def f(x, loc, scale):
        return getattr(st.gamma, m)(x, 2.5, loc, scale)

    return getattr(D.rv_continuous, m), f, (Q if m in ("ppf", "isf") else _X, LOC, SCALE)


def _poisson_case(m):
    def f(mu):
        return getattr(st.poisson, m)(K, mu)

    return getattr(D.rv_discrete, m), f, (np.array([2.5, 3.5, 1.2]),)


MVN = st.multivariate_normal
CASES = [_gamma_case(m) for m in METHODS] + [_poisson_case(m) for m in DISCRETE_METHODS] + [
    (D.rv_frozen.__init__, lambda x, c: st.genpareto(c, scale=1.5).logpdf(x), (_X, np.array(0.4))),
    (M.multivariate_normal_gen.logpdf, lambda x, m, c: MVN.logpdf(x, m, c), (XS, MEAN, COV)),
    (M.multivariate_normal_gen.pdf, lambda x, m, c: MVN.pdf(x, m, c), (XS, MEAN, COV)),
    (M.multivariate_normal_gen.entropy, lambda c: MVN.entropy(None, c), (COV,)),
    (M.multivariate_normal_frozen.__init__, lambda x, m: MVN(m, COV).logpdf(x), (XS, MEAN)),
    (M.multivariate_normal_frozen.logpdf, lambda x: MVN(MEAN, COV).logpdf(x), (XS,)),
    (M.multivariate_normal_frozen.pdf, lambda x: MVN(MEAN, COV).pdf(x), (XS,)),
    (M.dirichlet_gen.logpdf, lambda a: st.dirichlet.logpdf(DX, a), (ALPHA,)),
    (M.dirichlet_gen.pdf, lambda a: st.dirichlet.pdf(DX, a), (ALPHA,)),
    (M.dirichlet_frozen.__init__, lambda a: st.dirichlet(a).logpdf(DX), (ALPHA,)),
    (_entropy.entropy, lambda p, q: st.entropy(p, q), (PK, QK)),
    (_stats_py.zscore, lambda a: st.zscore(a), (PK,)),
    (D.rv_generic.support, lambda loc, s: np.stack(st.uniform(loc, s).support()), (LOC, SCALE)),
    (D.rv_continuous.expect, lambda m, s: st.norm(m, s).expect(lambda x: np.cos(x)), (LOC[0], SCALE[0, 0])),
    (D.rv_discrete.ppf, lambda loc: st.binom.ppf(np.array([0.1, 0.3, 0.8]), 10, 0.4, loc=loc), (LOC[0],)),
    (D.rv_discrete.isf, lambda loc: st.poisson.isf(np.array([0.1, 0.3, 0.8]), 2.5, loc=loc), (LOC[0],)),
]


def test_discrete_quantiles_follow_loc():
    """Regression: a discrete ppf/isf (an integer plus loc) was declared non-differentiable, so a
    traced loc had a zero gradient (also in median and interval, which call ppf)."""
    for f in (lambda c: st.binom.ppf(0.3, 10, 0.4, loc=c), lambda c: st.poisson.isf(0.3, 2.5, loc=c),
              lambda c: st.binom(10, 0.4, loc=c).ppf(0.3), lambda c: st.binom.median(10, 0.4, loc=c),
              lambda c: st.binom.interval(0.9, 10, 0.4, loc=c)[1]):
        value, (g,) = pb.value_and_gradient(f, np.float64(0.37))
        assert g == 1.0 and value == f(0.37) and type(value) is type(f(0.37))


# ---------------------------------------------------------------- HIPS autograd's call forms

_R = np.random.RandomState(1).randn


def _sym_arg(fun, argnum):
    def f(*a, **kw):
        a = list(a)
        c = a[argnum]
        a[argnum] = 0.5 * (c + np.swapaxes(c, -1, -2)) if np.ndim(c) > 1 else c
        return fun(*a, **kw)

    return f


def _psd(m):
    return m.T @ m + np.eye(m.shape[0])


def _autograd_cases():
    pos, unit = _R(4) ** 2 + 1.1, np.random.RandomState(2).uniform(0.0, 1.0, 4)
    yield st.chi2.pdf, [0], (pos, 3)
    yield st.chi2.cdf, [0], (pos, 1)
    yield st.chi2.logpdf, [0], (pos, 2)
    yield st.beta.cdf, [0], (unit, pos, pos[::-1])
    yield st.beta.pdf, [0, 1, 2], (unit, pos, pos[::-1])
    yield st.beta.logpdf, [0, 1, 2], (unit, pos, pos[::-1])
    yield st.gamma.cdf, [0], (pos, pos[::-1])
    yield st.gamma.pdf, [0, 1], (pos, pos[::-1])
    yield st.gamma.logpdf, [0, 1], (pos, pos[::-1])
    for m in ("pdf", "cdf", "sf", "logpdf", "logcdf", "logsf"):
        yield getattr(st.norm, m), [0, 1, 2], (_R(4, 3), _R(1, 3), _R(4, 1) ** 2 + 1.1)
    for m in ("cdf", "logpmf", "pmf"):
        yield getattr(st.poisson, m), [1], (np.round(_R(4, 3) ** 2), _R(4, 1) ** 2 + 1.1)
    for m, argnums in (("pdf", [0, 1, 2, 3]), ("cdf", [0, 2]), ("logpdf", [0, 1, 2, 3]), ("logcdf", [0, 2])):
        yield getattr(st.t, m), argnums, (_R(4, 3), _R(1, 3) ** 2 + 2.1, _R(4, 3), _R(4, 1) ** 2 + 2.1)
    mvn = st.multivariate_normal
    yield _sym_arg(mvn.logpdf, 2), [0, 1, 2], (_R(5, 4), _R(4), _psd(_R(4, 4)))
    yield _sym_arg(mvn.pdf, 2), [0, 1, 2], (_R(4), _R(4), _psd(_R(4, 4)))
    yield _sym_arg(mvn.entropy, 1), [0, 1], (10 * _R(4), _psd(_R(4, 4)))
    alpha = np.random.RandomState(3).random_sample(4) ** 2 + 1.2
    x = st.dirichlet.rvs(alpha, size=1, random_state=4)[0, :]

    def normalized_logpdf(x, alpha):
        return st.dirichlet.logpdf(x / sum(x), alpha)  # the builtin sum of a traced array

    yield normalized_logpdf, [0, 1], (x, alpha)
    yield st.dirichlet.pdf, [1], (x, alpha)


@pytest.mark.parametrize("case", list(_autograd_cases()))
def test_autograd_call_forms(case):
    """Every scipy.stats call HIPS autograd's test_scipy.py differentiates, with its arguments."""
    fun, argnums, args = case

    def f(*traced):
        full = list(args)
        for i, v in zip(argnums, traced):
            full[i] = v
        return fun(*full)

    check_gradient(f, *[np.asarray(args[i], float) for i in argnums])


def test_scalar_results_are_numpy_scalars():
    """Regression: a 0-d result came back a 0-d array (SciPy returns np.float64)."""
    import scipy.stats as st

    for f, a in ((lambda x: st.norm.cdf(x), np.float64(0.3)), (lambda x: st.gamma(2.0).logpdf(x), 0.7),
                 (lambda m: st.poisson.logpmf(3, m), 2.5)):
        value, _ = pb.pullback(f, a)
        assert type(value) is type(f(a)) and value == f(a)


def test_multivariate_scalar_results_are_numpy_scalars():
    """Regression: multivariate_normal.logpdf/pdf of one point (frozen or not), its entropy and
    dirichlet.logpdf/pdf gave a 0-d array where SciPy returns np.float64."""
    for f, a in ((lambda x: st.multivariate_normal.logpdf(x, MEAN, COV), XS[0]),
                 (lambda m: st.multivariate_normal.pdf(XS[0], m, COV), MEAN),
                 (lambda m: st.multivariate_normal(m, COV).logpdf(XS[0]), MEAN),
                 (lambda c: st.multivariate_normal(MEAN, c).pdf(XS[0]), COV),
                 (lambda c: st.multivariate_normal(MEAN, c).entropy(), COV),
                 (lambda x: st.multivariate_normal.logpdf(x, 0.1, 2.0), 0.5),
                 (lambda a: st.dirichlet.logpdf(DX[:, 0], a), ALPHA),
                 (lambda a: st.dirichlet(a).pdf(DX[:, 0]), ALPHA),
                 (lambda x: st.dirichlet.logpdf(x, ALPHA), DX[:3, 0])):  # (the last is 1 - sum)
        value, _ = pb.pullback(f, a)
        want = f(a)
        assert type(value) is type(want) is np.float64 and value == want
        assert type(pb.jvp(f, (a,), (a,))[0]) is np.float64
        check_gradient(f, a)


# ---------------------------------------------------------------- lists of traced numbers, support, expect


def test_lists_of_traced_scalars_are_stacked():
    """Regression: a list of traced scalars (x or a parameter) reached SciPy's code still traced,
    through the intercepted method again: RecursionError. SciPy reads it as an array."""
    t = np.float64(1.3)
    for f in (lambda t: st.norm.cdf([t, 2 * t]), lambda t: st.norm.cdf(0.3, [t, 2 * t], [1.0, t]),
              lambda t: st.gamma(2.5).logpdf([t, t * t]), lambda t: st.poisson.pmf([1, 2], [t, 2.0])):
        value = pb.pullback(f, t)[0]
        want = f(t)
        assert type(value) is type(want) and value.shape == want.shape
        assert value.tobytes() == want.tobytes()
        check_gradient(f, t)
    g = pb.gradient(lambda t: np.sum(st.norm.cdf([t, 2 * t])), t)[0]
    np.testing.assert_allclose(g, st.norm.pdf(t) + 2 * st.norm.pdf(2 * t), rtol=1e-14)


def test_support():
    """Regression: support() with a traced scale raised AttributeError ('int' object has no
    attribute 'all'): it is loc + scale * (a, b), SciPy's values and types."""
    for f, args in ((lambda s: st.uniform(0.2, s).support(), (1.3,)),
                    (lambda loc, s: st.uniform.support(loc, s), (LOC, SCALE)),
                    (lambda loc, s: st.norm(loc, s).support(), (0.3, 1.3)),
                    (lambda a, s: st.gamma(a, 0.1, s).support(), (2.5, 1.3)),
                    (lambda loc: st.poisson(2.0, loc).support(), (1.5,)),
                    (lambda s: st.uniform(0.2, s).support(), (-1.0,))):  # invalid: SciPy's nan
        want = f(*args)
        got = pb.pullback(f, *args)[0]
        assert type(got) is tuple and len(got) == 2
        for g_, w_ in zip(got, want):
            assert type(g_) is type(w_) and np.asarray(g_).tobytes() == np.asarray(w_).tobytes()
    assert pb.gradient(lambda s: st.uniform(0.2, s).support()[1], 1.3) == (1.0,)
    check_gradient(lambda loc, s: np.stack(st.uniform.support(loc, s)), LOC, SCALE)
    g = pb.gradient(lambda loc, s: st.norm(loc, s).support()[0], 0.3, 1.3)
    assert g == (0.0, 0.0)  # an infinite endpoint is a constant
    with pytest.raises(NoRuleError, match="genpareto.support"):
        pb.gradient(lambda c: st.genpareto(c).support()[0], 0.5)


def test_expect():
    """Regression: norm(traced_loc, 1).expect(f) raised RecursionError (a list of traced limits),
    then TracedConversionError (SciPy's last np.array). SciPy's steps, traced; its value."""
    cases = [
        (lambda m: st.norm(m, 1).expect(lambda x: x**2), (1.3,)),
        (lambda m, s: st.norm.expect(lambda x: np.sin(x), loc=m, scale=s, lb=0.2, ub=m + 1,
                                     conditional=True), (0.3, 0.9)),
        (lambda a, s: st.gamma(a, scale=s).expect(), (2.5, 1.5)),
        (lambda a: st.gamma(a).expect(lambda x: np.log(x)), (2.5,)),
        (lambda w: st.norm(0.5, 1).expect(lambda x: np.exp(-w * x**2)), (0.8,)),  # func traced only
    ]
    for f, args in cases:
        want = f(*args)
        got = pb.pullback(f, *args)[0]
        assert type(got) is type(want) is np.float64 and got == want
        check_gradient(f, *args, rtol=1e-5, atol=1e-7)
    g = pb.gradient(lambda m, s: st.norm(m, s).expect(lambda x: x**2), 1.3, 0.7)
    np.testing.assert_allclose(g, (2.6, 1.4), rtol=1e-8)  # E x^2 = m^2 + s^2
    np.testing.assert_allclose(pb.gradient(lambda a: st.gamma(a).expect(lambda x: np.log(x)), 2.5)[0],
                               sc.polygamma(1, 2.5), rtol=1e-7)  # E log x = digamma(a)
