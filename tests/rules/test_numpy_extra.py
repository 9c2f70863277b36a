"""NumPy functions outside the core families: quantiles, gradient, polynomials, spacing, histograms, cov."""

import warnings

import numpy as np
import pytest

import pullback as pb
from pullback.rules import numpy_extra
from pullback.testing import check_gradient

from .cases import case_id, rand

x = rand(3, 4, seed=21)
v = rand(7, seed=22)
pos = rand(3, 4, positive=True, seed=23)
z = rand(3, 4, dtype=complex, seed=24)
with_nan = x.copy()
with_nan[0, 1] = with_nan[2, 3] = np.nan
inf_nan = np.array([1.0, np.nan, np.inf, -np.inf, -2.0, 0.5])
SAMPLE = rand(20, 2, seed=26)
SW = rand(20, positive=True, seed=27)
coords = np.cumsum(rand(4, positive=True, seed=25))
P = numpy_extra.POLYNOMIAL_VAL
R_ = numpy_extra._CONCATENATOR
METHODS = ["inverted_cdf", "averaged_inverted_cdf", "closest_observation", "interpolated_inverted_cdf",
           "hazen", "weibull", "linear", "median_unbiased", "normal_unbiased", "lower", "higher",
           "midpoint", "nearest"]

_P = np.array([1.5, 2.0, -0.7, 0.3])

CASES = [
    (np.polyder, lambda p: np.polyder(p, 2), (_P,)),
    (np.polyint, lambda p: np.polyint(p, 2, k=[1.0, 2.0]), (_P,)),
    (np.vander, lambda x: np.vander(x, 5, increasing=True), (_P,)),
    (np.meshgrid, lambda x: np.stack(np.meshgrid(x, x[:2], indexing="ij")), (_P,)),
    (np.nan_to_num, np.nan_to_num, (inf_nan,)),
    (np.nan_to_num, lambda a: np.nan_to_num(a, nan=1.5, posinf=9.0), (inf_nan,)),
    (np.nan_to_num, lambda a: np.nan_to_num(a * (1 + 1j)), (inf_nan,)),
    (np.nan_to_num, lambda a: (lambda y: (np.nan_to_num(y[1:], copy=False), y)[1])(a * 2), (inf_nan,)),
    *[(np.quantile, lambda a, m=m: np.quantile(a, [0.1, 0.35, 0.9], axis=1, method=m), (x,))
      for m in METHODS],
    (np.quantile, lambda a: np.quantile(a, 0.3), (x,)),
    (np.quantile, lambda a: np.quantile(a, 0.3, axis=(0, 1), keepdims=True), (x,)),
    (np.quantile, lambda a: np.quantile(a, [[0.2], [0.7]], axis=0, keepdims=True), (x,)),
    (np.quantile, lambda a: np.quantile(a, 0.35, axis=1, method="inverted_cdf", weights=pos), (x,)),
    (np.percentile, lambda a: np.percentile(a, [10, 55], axis=0), (x,)),
    (np.percentile, lambda a: np.percentile(a, 40, method="hazen"), (x,)),
    (np.nanquantile, lambda a: np.nanquantile(a, [0.25, 0.6], axis=1), (with_nan,)),
    (np.nanquantile, lambda a: np.nanquantile(a, 0.6, method="nearest"), (with_nan,)),
    (np.nanpercentile, lambda a: np.nanpercentile(a, 30, axis=0, keepdims=True), (with_nan,)),
    (np.gradient, np.gradient, (v,)),
    (np.gradient, lambda a: np.gradient(a, 0.5, edge_order=2), (v,)),
    (np.gradient, lambda a: np.gradient(a, 2.0, coords), (x,)),
    (np.gradient, lambda a: np.gradient(a, coords, axis=1, edge_order=2), (x,)),
    (np.gradient, lambda a, c: np.gradient(a, c, axis=1, edge_order=2), (x, coords)),
    (np.gradient, lambda a, h: np.gradient(a, h, axis=0), (x, np.float64(0.7))),
    (np.trapezoid, np.trapezoid, (v,)),
    (np.trapezoid, lambda a: np.trapezoid(a, dx=0.3, axis=0), (x,)),
    (np.trapezoid, lambda a, c: np.trapezoid(a, c), (x, coords)),
    (np.ediff1d, np.ediff1d, (x,)),
    (np.ediff1d, lambda a: np.ediff1d(a, to_begin=a[0, :2], to_end=[7.0]), (x,)),
    (np.polyval, lambda p, t: np.polyval(p, t), (v, x)),
    (np.polyval, lambda p, t: np.polyval(p, t), (v, z)),
    (np.polyfit, lambda a: np.polyfit(np.linspace(0, 1, 7), a, 2), (v,)),
    (np.polyfit, lambda a: np.polyfit(np.linspace(0, 1, 4), a, 1, w=np.arange(1.0, 5.0)), (x.T,)),
    (np.polyfit, lambda a, w: np.polyfit(a, np.sin(a), 2, w=w, cov=True)[1], (v, v * v + 1)),
    *[(f, lambda t, c, f=f: f(t, c), (x, v[:4])) for k, f in P.items() if k != "mapdomain"],
    (P["mapdomain"], lambda t: P["mapdomain"](t, [-1, 1], [0.5, 3.0]), (x,)),
    (P["cheb"], lambda t, c: P["cheb"](t, c, tensor=True), (v[:3], x)),
    (P["leg"], lambda t, c: P["leg"](t, c, tensor=False), (x, x)),
    (P["poly"], lambda t: P["poly"](t, [1.0, 2.0, 3.0]), (z,)),
    (np.select, lambda a: np.select([a > 0.5, a < 0], [a * 2, np.sin(a)], 3.0), (x,)),
    (np.select, lambda a, d: np.select([a > 0], [a], d), (x, x[0])),
    (np.piecewise, lambda a: np.piecewise(a, [a < 0, a > 1], [np.sin, lambda t: t * t, 0.5]), (x,)),
    (np.partition, lambda a: np.partition(a, 2, axis=1), (x,)),
    (np.partition, lambda a: np.partition(a, (1, 5), axis=None), (x,)),
    (np.apply_along_axis, lambda a: np.apply_along_axis(lambda r: r * np.sum(r), 1, a), (x,)),
    (np.apply_along_axis, lambda a: np.apply_along_axis(lambda r: np.outer(r, r), 0, a), (x,)),
    (np.apply_over_axes, lambda a: np.apply_over_axes(np.sum, a, [0, 1]), (x,)),
    (np.linspace, lambda s, e: np.linspace(s, e, 5), (v[0], v[1])),
    (np.linspace, lambda s, e: np.linspace(s, e, 4, endpoint=False, axis=1), (v[:3], x[:, 0])),
    (np.linspace, lambda s, e: np.linspace(s, e, 6, retstep=True)[1], (v[0], v[1])),
    (np.logspace, lambda s, e: np.logspace(s, e, 5, base=3.0), (v[0], v[1])),
    (np.logspace, lambda s, e, b: np.logspace(s, e, 4, base=b), (v[0], v[1], pos[0])),
    (np.geomspace, lambda s, e: np.geomspace(s, e, 5), (pos[0, 0], pos[0, 1])),
    (np.geomspace, lambda s, e: np.geomspace(-s, -e, 4, endpoint=False), (pos[0, :2], pos[1, :2])),
    (np.rollaxis, lambda a: np.rollaxis(a, 1), (x,)),
    (np.rollaxis, lambda a: np.rollaxis(a[None], 0, 3), (x,)),
    (np.real_if_close, lambda a: np.real_if_close(a + 0j), (x,)),
    (np.real_if_close, np.real_if_close, (z,)),
    (np.bincount, lambda w: np.bincount(np.array([0, 2, 2, 5, 1, 0, 2]), weights=w, minlength=8), (v,)),
    (np.histogram, lambda w: np.histogram(v, bins=3, weights=w)[0], (v,)),
    (np.histogram, lambda w: np.histogram(v, bins=[-1, 0, 0.5, 2], weights=w, density=True)[0], (v,)),
    (np.histogram, lambda a: np.histogram(a, bins=4)[1], (v,)),
    (np.histogram, lambda a: np.histogram(a, bins=3, weights=a * a)[0], (v,)),
    (R_, lambda a: np.r_[a, 2.0, a[:2], 0:3], (v,)),
    (R_, lambda a: np.c_[a, a * 2], (v,)),
    (R_, lambda a: np.r_["0,2", a, a[::-1]], (v,)),
    (R_, lambda a: np.c_[a[:3, :1], x, a[:, 2:]], (x,)),
    (R_, lambda a: np.r_[a * 1j, 1j, a[0]], (v,)),
    (np.histogramdd, lambda w: np.histogramdd(SAMPLE, bins=3, weights=w)[0], (SW,)),
    (np.histogramdd, lambda w: np.histogramdd(SAMPLE, bins=(2, [-3, 0, 1, 3]), weights=w, density=True)[0],
     (SW,)),
    (np.histogramdd, lambda s: np.histogramdd(s, bins=3)[1][1], (SAMPLE,)),
    (np.histogram2d, lambda w: np.histogram2d(SAMPLE[:, 0], SAMPLE[:, 1], bins=4, weights=w)[0], (SW,)),
    (np.histogram2d, lambda a, b: np.histogram2d(a, b, bins=[2, 3], weights=a * b)[2], (SW, SAMPLE[:, 1])),
    (np.cov, np.cov, (x,)),
    (np.cov, lambda a: np.cov(a, rowvar=False, bias=True), (x,)),
    (np.cov, lambda a, b: np.cov(a, b, aweights=np.arange(1.0, 5.0), fweights=[1, 2, 1, 3]), (x[0], x[1])),
    (np.cov, lambda a: np.cov(a, ddof=2, aweights=np.arange(1.0, 5.0)), (z,)),
    (np.cov, lambda a, w: np.cov(a, aweights=w), (x, pos[0])),
    (np.corrcoef, np.corrcoef, (x,)),
    (np.corrcoef, lambda a: np.corrcoef(a + 1j * a[::-1]), (x,)),
    (np.corrcoef, lambda a, b: np.corrcoef(a, b), (x[0], x[2])),
]


def test_cases_cover_every_rule_of_the_module():
    keys = {id(c[0]) for c in CASES}
    from pullback.rules import registry

    module = numpy_extra.__name__
    for key, handler in registry.FUNCTIONS.items():
        if getattr(handler, "__module__", None) == module:
            assert id(key) in keys, key


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_float32_stays_float32(case):
    _, f, args = case
    args32 = tuple(a.astype(np.complex64 if a.dtype.kind == "c" else np.float32) for a in args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = f(*args32)
        got = pb.pullback(f, *args32)[0]
    want = want[0] if isinstance(want, tuple) else want
    got = got[0] if isinstance(got, tuple) else got
    assert np.result_type(got) == np.result_type(want)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    check_gradient(lambda *a: np.stack(f(*a)) if isinstance(f(*a), tuple) else f(*a), *args32)


def test_quantile_ties_share_the_gradient():
    g = pb.gradient(lambda a: np.quantile(a, 0.5), np.array([1.0, 2.0, 2.0, 2.0, 3.0]))[0]
    np.testing.assert_allclose(g, [0, 1 / 3, 1 / 3, 1 / 3, 0])
    g = pb.gradient(lambda a: np.percentile(a, 25), np.array([4.0, 1.0, 3.0, 2.0, 5.0]))[0]
    np.testing.assert_allclose(g, [0, 0, 0, 1, 0])  # linear: position 1 of the sorted values exactly
    g = pb.gradient(lambda a: np.nanquantile(a, 0.5), np.array([np.nan, 1.0, 3.0, 2.0, 4.0]))[0]
    np.testing.assert_allclose(g, [0, 0, 0.5, 0.5, 0])


def test_quantile_is_not_differentiable_in_q():
    with pytest.raises(TypeError, match="not differentiable in q"):
        pb.gradient(lambda q: np.quantile(x, q), 0.3)


def test_nan_to_num_gradient():
    g = pb.gradient(lambda a: np.sum(np.nan_to_num(a) * 2), inf_nan)[0]
    np.testing.assert_array_equal(g, [2, 0, 0, 0, 2, 2])


def test_np_gradient_is_numpys():
    for args, kw in [((), {}), ((0.5,), {"edge_order": 2}), ((2.0, coords), {}), ((coords,), {"axis": 1})]:
        got = pb.pullback(lambda a: np.gradient(a, *args, **kw), x)[0]
        want = np.gradient(x, *args, **kw)
        got, want = (got, want) if isinstance(want, tuple) else ((got,), (want,))
        for g_, w_ in zip(got, want):
            np.testing.assert_allclose(g_, w_, rtol=1e-13)
    with pytest.raises(ValueError, match="too small"):
        pb.gradient(lambda a: np.sum(np.gradient(a, edge_order=2)), np.ones(2))


def test_polynomial_plain_calls_are_untouched():
    for kind, f in P.items():
        if kind == "mapdomain":
            continue
        np.testing.assert_array_equal(f(x, v[:4]), numpy_extra.ORIGINALS[kind](x, v[:4]))
    series = np.polynomial.Chebyshev([1.0, 2.0, 0.5])
    g = pb.gradient(lambda t: np.sum(series(t)), x)[0]
    np.testing.assert_allclose(g, series.deriv()(x), rtol=1e-12)


def test_mapdomain_old_and_new_differentiate():
    """Regression: ``old`` and ``new`` were stripped (their gradient was 0)."""
    mapdomain = P["mapdomain"]
    xq = np.linspace(-1.0, 1.2, 7)
    g = pb.gradient(lambda o: np.sum(mapdomain(xq, np.stack([o, 1.2]), [0, 3])), -1.0)[0]
    np.testing.assert_allclose(g, np.sum(3 * (xq - 1.2) / 2.2**2), rtol=1e-13)
    check_gradient(lambda o: mapdomain(xq, [o, 1.2], [0, 3]), -1.0)
    check_gradient(lambda x, o, n: mapdomain(x, o, n), xq, np.array([-1.0, 1.2]), np.array([0.5, 3.0]))
    check_gradient(lambda o, n: mapdomain(0.3, o, n), np.array([-1.0, 1.2]) + 0.5j, np.array([0.5j, 3.0]))
    for args in [(0.3, np.array([-1.0, 1.2]), [0, 3]), (xq, np.array([-1.0, 1.2]), [0.5, 3.0]),
                 (0.3, [-1.0, 1.2], [0.0, 3.0])]:
        want = mapdomain(*args)
        for i in (0, 1):
            if isinstance(args[i], list):
                continue
            got = pb.pullback(lambda t, i=i, args=args: mapdomain(*args[:i], t, *args[i + 1:]), args[i])[0]
            assert type(got) is type(want) and np.asarray(got).tobytes() == np.asarray(want).tobytes()

def _same_tree(got, want):
    assert type(got) is type(want)
    if isinstance(want, (tuple, list)):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            _same_tree(g, w)
    else:
        assert got.shape == want.shape and got.dtype == want.dtype and got.tobytes() == want.tobytes()


def test_histogram_traced_bins():
    """Regression: with traced edges (``bins``) the returned edges and the density carried no
    gradient (the edges were stripped); histogram2d/histogramdd raised RecursionError."""
    d = np.array([0.1, 0.35, 0.4, 0.8, 0.55, 0.9, 0.2])
    e = np.array([0.0, 0.3, 0.6, 1.0])
    np.testing.assert_array_equal(pb.gradient(lambda e: np.histogram(d, bins=e)[1][1], e)[0], [0, 1, 0, 0])
    g = pb.gradient(lambda e: np.histogram(d, bins=e, density=True)[0][0], e)[0]
    np.testing.assert_allclose(g, [2 / 7 / 0.3**2, -2 / 7 / 0.3**2, 0, 0], rtol=1e-12)
    s2 = np.stack([d, d[::-1]], axis=1)
    e2 = np.array([0.05, 0.5, 0.7, 0.95])
    calls = [
        lambda e: np.histogram(d, bins=e),
        lambda e: np.histogram(d, bins=e, density=True),
        lambda e: np.histogram(d, bins=e, weights=d, density=True),
        lambda e: np.histogram2d(d, d[::-1], bins=e),
        lambda e: np.histogram2d(d, d[::-1], bins=e, density=True),
        lambda e: np.histogram2d(d, d[::-1], bins=[e, 3], density=True),
        lambda e: np.histogramdd(s2, bins=[e, e2], density=True),
        lambda e: np.histogramdd(s2, bins=np.stack([e, e2])),
    ]
    for f in calls:
        _same_tree(pb.pullback(f, e)[0], f(e))
        check_gradient(lambda e: _float_parts(f(e)), e)
    d32, e32 = d.astype(np.float32), e.astype(np.float32)
    check_gradient(lambda e: np.histogram(d32, bins=e, density=True)[0], e32)
    with pytest.raises(pb.TracedConversionError):  # NumPy's dispatch does not look into a list of edges
        pb.gradient(lambda e: np.sum(np.histogram(d, bins=[0.0, e[1], 0.6, 1])[1]), e)


def _float_parts(tree):
    """The floating arrays of a histogram's result (integer counts left out), raveled and joined."""
    if isinstance(tree, (tuple, list)):
        return np.concatenate([_float_parts(t) for t in tree])
    return np.ravel(tree) if tree.dtype.kind == "f" else np.zeros(0)

def test_list_conversion_says_what_to_use():
    for f in (lambda a: np.array([a[0], a[1]]), lambda a: np.asarray((a, a)), lambda a: np.r_[[a[0], a[1]]]):
        with pytest.raises(pb.TracedConversionError, match=r"np\.stack"):
            pb.gradient(lambda a: np.sum(f(a)), v)
    g = pb.gradient(lambda a: np.sum(np.stack([a[0], a[1]]) ** 2), v)[0]
    np.testing.assert_allclose(g[:2], 2 * v[:2])


def test_index_tricks_plain_calls_are_untouched():
    assert np.array_equal(np.r_[1:4, [5.0], 7], [1.0, 2.0, 3.0, 5.0, 7.0])
    assert np.array_equal(np.c_[[1, 2], [3, 4]], [[1, 3], [2, 4]])
    assert np.r_[1:4, [5]].dtype == np.arange(1).dtype
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # np.matrix
        assert type(np.r_["r", [1, 2]]) is np.matrix


def test_where_with_a_nan_branch_poisons_the_gradient_like_jax():
    # np.where's pullback multiplies the unselected branch's cotangent by zero, and
    # 0 * (the derivative of sqrt at x < 0, which is nan) is nan: the same trap as in JAX.
    a = np.array([4.0, -1.0, 0.25])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        g = pb.gradient(lambda t: np.sum(np.where(t > 0, np.sqrt(t), 0.0)), a)[0]
    assert g[0] == 0.25 and np.isnan(g[1]) and g[2] == 1.0
    # the fix (as in JAX): make the unselected branch safe before the function is applied
    g = pb.gradient(lambda t: np.sum(np.where(t > 0, np.sqrt(np.where(t > 0, t, 1.0)), 0.0)), a)[0]
    np.testing.assert_array_equal(g, [0.25, 0.0, 1.0])


def test_second_order_numpy_extra():
    check_gradient(lambda a: pb.gradient(lambda a: np.sum(np.quantile(a, [0.3, 0.8], axis=1) ** 2), a)[0], x)
    check_gradient(lambda a: pb.gradient(lambda a: np.sum(np.gradient(a, coords, axis=1) ** 2), a)[0], x)
    check_gradient(lambda a: pb.gradient(lambda a: np.sum(np.cov(a) ** 2), a)[0], x)
    check_gradient(lambda c: pb.gradient(lambda c: np.sum(np.sin(P["cheb"](x, c))), c)[0], v[:4])
    h = pb.hessian(lambda s: np.sum(np.linspace(s[0], s[1], 5) ** 2), v[:2])
    t = np.linspace(0, 1, 5)
    want = 2 * np.array([[np.sum((1 - t) ** 2), np.sum(t * (1 - t))], [np.sum(t * (1 - t)), np.sum(t * t)]])
    np.testing.assert_allclose(h, want, rtol=1e-12)


def test_zero_d_results_are_numpy_scalars():
    """Regression: percentile, quantile (and the nan-versions), median of data with a NaN and
    scipy.stats.entropy returned a 0-d array where NumPy and SciPy return a scalar."""
    import scipy.stats as st

    x = np.array([1.0, 3.0, 2.0, 5.0])
    xn = np.array([1.0, np.nan, 2.0, 5.0])
    for f in (lambda u: np.percentile(u, 30), lambda u: np.quantile(u, 0.3), lambda u: np.median(xn * u),
              lambda u: np.nanpercentile(xn * u, 30), lambda u: np.nanmedian(xn * u),
              lambda u: st.entropy(u)):
        value, _ = pb.pullback(f, x)
        want = f(x)
        assert type(value) is type(want) and np.asarray(value).tobytes() == np.asarray(want).tobytes()


def test_linspace_and_freqz_keep_single_precision():
    """Regression: linspace(0, float32) promoted the Python 0 as an int64 array (float64 result, NumPy
    keeps float32), and freqz of float32 taps divided out of place (complex128; SciPy's in-place
    division keeps complex64)."""
    import scipy.signal as S

    x = np.array([2.0, 3.0], np.float32)
    for f in (lambda u: np.linspace(0, u[0], 3), lambda u: np.logspace(0, u[0], 3),
              lambda u: S.freqz(u, [1])[1], lambda u: S.freqz(u, [1], whole=True)[1]):
        value, _ = pb.pullback(f, x)
        want = f(x)
        assert value.dtype == want.dtype and value.tobytes() == want.tobytes()


_SINGLE = (np.quantile, np.percentile, np.nanquantile, np.nanpercentile, np.vander, np.polyfit, np.histogram)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("case", [c for c in CASES if c[0] in _SINGLE], ids=case_id)
def test_float32_values_are_numpys_bit_for_bit(case):
    """Regression (sweep 3a): float32 input, NumPy's own bits: quantiles (NumPy interpolates in
    float64), vander (NumPy casts x to float64 before its running product), polyfit (NumPy's vander;
    its in-place weighting keeps float32 y float32), weighted histogram (NumPy's summation order)."""
    _, f, args = case
    args32 = tuple(a.astype(np.complex64 if a.dtype.kind == "c" else np.float32) for a in args)
    want = np.asarray(f(*[a.copy() for a in args32]))
    got = np.asarray(pb.pullback(f, *args32)[0])
    assert got.dtype == want.dtype and got.shape == want.shape and got.tobytes() == want.tobytes()
    check_gradient(f, *args32)


def test_vander_polyfit_float32():
    rng = np.random.default_rng(5)
    for _ in range(10):
        x = rng.standard_normal(6).astype(np.float32)
        y = rng.standard_normal((6, 2)).astype(np.float32)
        for f in (lambda x, y: np.vander(x, 5, increasing=True), lambda x, y: np.polyfit(x, y, 3),
                  lambda x, y: np.polyfit(x, y, 2, w=np.arange(1.0, 7.0))):
            want, got = f(x, y), pb.pullback(f, x, y)[0]
            assert got.dtype == want.dtype and got.tobytes() == want.tobytes()


def test_geomspace_values_are_numpys():
    """Regression (sweep 3a): geomspace went through exp(linspace(log)) where NumPy takes
    10 ** linspace(log10) (logspace): an ulp off for most inputs, float64 too."""
    rng = np.random.default_rng(1)
    for dt in (np.float64, np.float32, np.complex64):
        for _ in range(10):
            sg = rng.choice([-1, 1])
            s, e = ((rng.random(3) + 0.1).astype(dt) * sg for _ in range(2))
            for kw in ({"num": 5}, {"num": 4, "endpoint": False}, {"num": 6, "axis": 1}):
                f = lambda s, e: np.geomspace(s, e, **kw)  # noqa: B023, E731
                want, got = f(s, e), pb.pullback(f, s, e)[0]
                assert got.dtype == want.dtype and got.tobytes() == want.tobytes()
    check_gradient(lambda s, e: np.geomspace(s, e, 5), s, e)


def test_r_with_a_plain_nan_and_with_more_float16_entries_than_float16_counts():
    """Regressions: a plain NaN item differs from itself, so np.r_ took it for a traced entry
    (IndexError); and the entries' positions were counted in float16, which holds integers
    exactly only up to 2048, so later entries landed in the wrong places."""
    x = np.arange(3.0)
    value, _ = pb.pullback(lambda x: np.r_[x, np.nan, 2.0], x)
    np.testing.assert_array_equal(pb.stop_gradient(value), np.r_[x, np.nan, 2.0])
    np.testing.assert_array_equal(pb.gradient(lambda x: np.nansum(np.r_[x, np.nan] * 2), x)[0], [2, 2, 2])
    x16 = (np.arange(5000) % 7).astype(np.float16) + np.float16(0.5)

    def f(x):
        return np.r_[x, np.ones(3), x[:10]]

    value, _ = pb.pullback(f, x16)
    np.testing.assert_array_equal(pb.stop_gradient(value), f(x16))
    w = np.random.default_rng(0).random(5013)
    want = w[:5000].copy()
    want[:10] += w[5003:]
    np.testing.assert_allclose(pb.gradient(lambda x: np.sum(f(x) * w), x16)[0], want, rtol=2e-3)
