
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pullback as pb
from pullback.testing import check_gradient

from .cases import case_id, rand

x = rand(3, 4, 5)
m = rand(4, 5)
v = rand(6)
z = rand(3, 4, dtype=complex)
pos = rand(3, 4, positive=True)
mask = rand(3, 4, 5) > -0.3
mask[:2, :, :] = mask[..., :2] = True  # at least two entries in every lane
with_zeros = rand(3, 5)
with_zeros[0, 1] = 0.0  # one zero in a lane
with_zeros[1, [1, 3]] = 0.0  # two zeros in a lane
with_nan = rand(3, 4)
with_nan[0, 1] = with_nan[2, 3] = np.nan
w4 = rand(4, positive=True)
w5 = rand(5, positive=True)

CASES = [
    (np.sum, np.sum, (x,)),
    (np.sum, lambda a: np.sum(a, axis=(0, -1)), (x,)),
    (np.sum, lambda a: np.sum(a, axis=-2, keepdims=True), (x,)),
    (np.sum, lambda a: np.sum(a, axis=1, where=mask, initial=1.5), (x,)),
    (np.sum, lambda a: np.sum(a, axis=0, dtype=np.complex128), (x,)),
    (np.sum, lambda a, c: np.sum(a, axis=1, initial=c), (x, np.array(0.7))),
    (np.sum, lambda a: a.sum(1), (z,)),
    (np.mean, np.mean, (x,)),
    (np.mean, lambda a: np.mean(a, axis=(1, 2), keepdims=True), (x,)),
    (np.mean, lambda a: np.mean(a, axis=-1, where=mask), (x,)),
    (np.mean, lambda a: a.mean(0), (z,)),
    (np.prod, lambda a: np.prod(a, axis=1), (with_zeros,)),
    (np.prod, np.prod, (pos,)),
    (np.prod, lambda a: np.prod(a, axis=(0, 2), keepdims=True), (x,)),
    (np.prod, lambda a: np.prod(a, axis=-1, where=mask, initial=2.0), (x,)),
    (np.prod, lambda a: a.prod(0), (z,)),
    (np.max, lambda a: np.max(a, axis=1), (x,)),
    (np.max, lambda a: a.max(), (x,)),
    (np.max, lambda a: np.max(a, axis=(0, 2), keepdims=True), (x,)),
    (np.max, lambda a: np.max(a, axis=-1, where=mask, initial=-10.0), (x,)),
    (np.amax, lambda a: np.amax(a, axis=0), (m,)),
    (np.min, lambda a: np.min(a, axis=-1), (x,)),
    (np.min, lambda a: a.min(), (m,)),
    (np.amin, lambda a: np.amin(a, axis=1, keepdims=True), (m,)),
    (np.ptp, lambda a: np.ptp(a, axis=1), (x,)),
    (np.ptp, np.ptp, (m,)),
    (np.var, np.var, (x,)),
    (np.var, lambda a: np.var(a, axis=1, ddof=1), (x,)),
    (np.var, lambda a: np.var(a, axis=(0, 2), keepdims=True), (x,)),
    (np.var, lambda a: np.var(a, axis=0, where=mask), (x,)),
    (np.var, lambda a: np.var(a, axis=-1, correction=1), (z,)),
    (np.var, lambda a: a.var(), (z,)),
    (np.std, lambda a: np.std(a, axis=1, ddof=1), (x,)),
    (np.std, lambda a: a.std(axis=0), (z,)),
    (np.cumsum, np.cumsum, (x,)),
    (np.cumsum, lambda a: np.cumsum(a, axis=-2), (x,)),
    (np.cumsum, lambda a: a.cumsum(axis=1), (z,)),
    (np.cumprod, lambda a: np.cumprod(a, axis=1), (with_zeros,)),
    (np.cumprod, lambda a: np.cumprod(a, axis=0), (with_zeros,)),
    (np.cumprod, np.cumprod, (pos,)),
    (np.cumprod, lambda a: a.cumprod(axis=1), (z,)),
    (np.diff, np.diff, (x,)),
    (np.diff, lambda a: np.diff(a, n=2, axis=0), (m,)),
    (np.diff, lambda a: np.diff(a, axis=1, prepend=0.5, append=m[:, :2]), (m,)),
    (np.diff, lambda a, p: np.diff(a, prepend=p), (v, np.array(0.3))),
    (np.average, np.average, (x,)),
    (np.average, lambda a, w: np.average(a, axis=1, weights=w), (m, w5)),
    (np.average, lambda a, w: np.average(a, axis=-1, weights=w), (x, w5)),
    (np.average, lambda a, w: np.average(a, axis=(0, 1), weights=w, keepdims=True), (m, rand(4, 5) + 3)),
    (np.average, lambda a, w: np.average(a, axis=0, weights=w, returned=True)[1], (m, w4)),
    (np.average, lambda a, w: np.average(a, axis=0, weights=w, returned=True)[0], (m, w4)),
    (np.median, np.median, (x,)),
    (np.median, lambda a: np.median(a, axis=1), (m,)),
    (np.median, lambda a: np.median(a, axis=(0, 2), keepdims=True), (x,)),
    (np.nanmedian, lambda a: np.nanmedian(a, axis=1), (with_nan,)),
    (np.trace, np.trace, (m,)),
    (np.trace, lambda a: np.trace(a, offset=1, axis1=2, axis2=0), (x,)),
    (np.trace, lambda a: a.trace(-1), (z,)),
    ((np.add, "reduce"), np.add.reduce, (x,)),
    ((np.add, "reduce"), lambda a: np.add.reduce(a, axis=(0, 2), keepdims=True), (x,)),
    ((np.multiply, "reduce"), np.multiply.reduce, (with_zeros,)),
    ((np.multiply, "reduce"), lambda a: np.multiply.reduce(a, axis=None), (pos,)),
    ((np.maximum, "reduce"), np.maximum.reduce, (x,)),
    ((np.maximum, "reduce"), lambda a: np.maximum.reduce(a, axis=-1, keepdims=True), (x,)),
    ((np.minimum, "reduce"), lambda a: np.minimum.reduce(a, axis=1), (x,)),
    ((np.add, "accumulate"), np.add.accumulate, (x,)),
    ((np.add, "accumulate"), lambda a: np.add.accumulate(a, axis=2), (z[..., None] * x[:, :4, :1],)),
    ((np.multiply, "accumulate"), lambda a: np.multiply.accumulate(a, axis=1), (with_zeros,)),
    (np.nansum, lambda a: np.nansum(a, axis=1), (with_nan,)),
    (np.nanprod, lambda a: np.nanprod(a, axis=0), (with_nan,)),
    (np.nanmean, lambda a: np.nanmean(a, axis=1), (with_nan,)),
    (np.nanmean, np.nanmean, (with_nan,)),
    (np.nanvar, lambda a: np.nanvar(a, axis=0, ddof=1), (with_nan,)),
    (np.nanstd, np.nanstd, (with_nan,)),
    (np.nanmax, lambda a: np.nanmax(a, axis=1), (with_nan,)),
    (np.nanmin, lambda a: np.nanmin(a, axis=0, keepdims=True), (with_nan,)),
    (np.nancumsum, lambda a: np.nancumsum(a, axis=1), (with_nan,)),
    (np.nancumprod, lambda a: np.nancumprod(a, axis=1), (with_nan,)),
]
if hasattr(np, "cumulative_sum"):
    CASES += [
        (np.cumulative_sum, lambda a: np.cumulative_sum(a, axis=1, include_initial=True), (m,)),
        (np.cumulative_sum, np.cumulative_sum, (v,)),
        (np.cumulative_prod, lambda a: np.cumulative_prod(a, axis=0, include_initial=True), (with_zeros,)),
    ]






FLOAT32 = [c for c in CASES if c[0] not in (np.nanprod, np.nancumprod) and "dtype" not in str(c)]


@pytest.mark.parametrize("case", FLOAT32[::3], ids=case_id)
def test_float32_stays_float32(case):
    _, f, args = case
    args32 = tuple(a.astype(np.complex64 if a.dtype.kind == "c" else np.float32) for a in args)
    y = pb.pullback(f, *args32)[0]
    assert np.result_type(y) in (np.float32, np.complex64)
    check_gradient(f, *args32)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_float32_values_are_numpys_bit_for_bit(case):
    """Regression (sweep 3a): single-precision values are NumPy's own bits. ``sum(initial=)``
    accumulates from ``initial``; ``mean``/``var``/``std`` of complex64 divide by the ``intp`` count in
    complex128; ``nanmean`` sums the NaN-free array without the NaN mask."""
    _, f, args = case
    args32 = tuple(a.astype(np.complex64 if a.dtype.kind == "c" else np.float32) for a in args)
    want = np.asarray(f(*[a.copy() for a in args32]))
    got = np.asarray(pb.pullback(f, *args32)[0])
    assert got.dtype == want.dtype and got.shape == want.shape and got.tobytes() == want.tobytes()


def test_max_ties_split_equally():
    a = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    for f in (np.max, np.amax, np.maximum.reduce):
        (g,) = pb.gradient(lambda a: np.sum(f(a, axis=1) * np.array([1.0, 3.0])), a)
        np.testing.assert_allclose(g, [[0, 0.5, 0.5], [1, 1, 1]])
    (g,) = pb.gradient(lambda a: np.min(a), np.array([1.0, 0.0, 0.0, 0.0]))
    np.testing.assert_allclose(g, [0, 1 / 3, 1 / 3, 1 / 3])
    # forward mode agrees: the tangent of a tie is the mean of the tied tangents
    _, t = pb.jvp(lambda a: np.max(a), (np.array([3.0, 1.0, 3.0]),), (np.array([1.0, 5.0, 2.0]),))
    np.testing.assert_allclose(t, 1.5)


def test_max_where_initial_wins_gets_no_gradient():
    a = np.array([[1.0, 2.0], [5.0, -1.0]])
    (g,) = pb.gradient(lambda a: np.sum(np.max(a, axis=1, initial=3.0)), a)
    np.testing.assert_allclose(g, [[0, 0], [1, 0]])


def test_prod_with_zeros_is_exact():
    (g,) = pb.gradient(lambda a: np.prod(a), np.array([0.0, 2.0, 3.0]))
    np.testing.assert_allclose(g, [6.0, 0.0, 0.0])
    (g,) = pb.gradient(lambda a: np.prod(a), np.array([0.0, 2.0, 0.0]))
    np.testing.assert_allclose(g, [0.0, 0.0, 0.0])
    (g,) = pb.gradient(lambda a: np.sum(np.cumprod(a)), np.array([2.0, 0.0, 3.0, 4.0]))
    # d/da0 = 1, d/da1 = 2 + 2*3 + 2*3*4, d/da2 = d/da3 = 0
    np.testing.assert_allclose(g, [1.0, 32.0, 0.0, 0.0])
    # second derivatives through the zero-safe rules
    H = pb.hessian(lambda a: np.prod(a), np.array([0.0, 2.0, 3.0]))
    np.testing.assert_allclose(H, [[0, 3, 2], [3, 0, 0], [2, 0, 0]])
    H = pb.hessian(lambda a: np.sum(np.cumprod(a)), np.array([0.0, 2.0, 3.0]))
    # f = a0 + a0 a1 + a0 a1 a2
    np.testing.assert_allclose(H, [[0, 1 + 3, 2], [4, 0, 0], [2, 0, 0]])


@pytest.mark.parametrize("axis", [0, 1, None])
def test_cumprod_second_order_at_zeros(axis):
    wgt = rand(*np.cumprod(with_zeros, axis=axis).shape, seed=3)
    tan = rand(3, 5, seed=4)
    # reverse-over-reverse and forward-over-reverse
    check_gradient(lambda a: pb.gradient(lambda b: np.sum(np.cumprod(b, axis=axis) * wgt), a)[0], with_zeros)
    # reverse-over-forward and forward-over-forward
    check_gradient(lambda a: pb.jvp(lambda b: np.cumprod(b, axis=axis), (a,), (tan,))[1], with_zeros)
    check_gradient(lambda a: pb.jvp(lambda b: np.prod(b, axis=axis), (a,), (tan,))[1], with_zeros)


def test_std_of_a_constant_slice_has_zero_gradient():
    a = np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]])
    (g,) = pb.gradient(lambda a: np.sum(np.std(a, axis=1)), a)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g[0], 0.0)


def test_higher_order_reductions():
    a = rand(4, 3)
    check_gradient(lambda a: pb.gradient(lambda b: np.sum(np.var(b, axis=0) ** 2), a)[0], a)
    check_gradient(lambda a: pb.gradient(lambda b: np.sum(np.prod(b, axis=1)), a)[0], a)
    check_gradient(lambda a: pb.gradient(lambda b: np.sum(np.cumprod(b, axis=1) ** 2), a)[0], a)
    check_gradient(lambda a: pb.gradient(lambda b: np.sum(np.max(b, axis=0) ** 3), a)[0], a)
    check_gradient(lambda a: pb.gradient(lambda b: np.sum(np.cumsum(b, axis=1) ** 3), a)[0], a)


def test_sum_gradient_is_a_broadcast_view_and_owned_by_caller():
    _, back = pb.pullback(lambda a: np.sum(a, axis=0), x)
    (g,) = back(np.ones((4, 5)))
    assert g.flags.writeable and g.shape == x.shape


def test_var_complex_is_real_and_matches_definition():
    (g,) = pb.gradient(lambda a: np.var(a), z)
    np.testing.assert_allclose(g, 2 * (z - z.mean()) / z.size)
    assert g.dtype == z.dtype


def test_median_nan_and_even_lengths():
    got = pb.pullback(lambda a: np.median(a, axis=1), with_nan)[0]
    np.testing.assert_array_equal(got, np.median(with_nan, axis=1))
    (g,) = pb.gradient(lambda a: np.median(a), np.array([4.0, 1.0, 3.0, 2.0]))
    np.testing.assert_allclose(g, [0.0, 0.0, 0.5, 0.5])


def test_var_mean_keyword():
    mu = np.mean(m, axis=1, keepdims=True)
    check_gradient(lambda a: np.var(a, axis=1, mean=mu), m)
    np.testing.assert_allclose(pb.pullback(lambda a: np.var(a, axis=1, mean=mu), m)[0], np.var(m, axis=1))


@pytest.mark.parametrize(
    "f",
    [
        lambda a: np.sum(a, axis=5),
        lambda a: np.mean(a, axis=(0, 0)),
        lambda a: np.max(a, where=a > 0),
        lambda a: np.cumsum(a, axis=3),
        lambda a: np.diff(a, n=-1),
        lambda a: np.average(a, weights=np.ones(5)),
        lambda a: np.average(a, axis=0, weights=np.zeros(3)),
        lambda a: np.var(a, ddof=1, correction=1),
        lambda a: np.add.accumulate(a, axis=None),
    ],
)
def test_errors_match_numpy(f):
    with pytest.raises(Exception) as want:
        f(x)
    with pytest.raises(type(want.value)) as got:
        pb.gradient(lambda a: np.sum(f(a)), x)
    assert str(got.value) == str(want.value)


def test_boolean_reductions_are_not_differentiable():
    def f(a):
        assert np.any(a > 0) and not np.all(a > 100) and np.count_nonzero(a > 0) > 0
        return np.sum(a)

    pb.gradient(f, x)


REDUCERS = [
    lambda a, ax, kd: np.sum(a, axis=ax, keepdims=kd),
    lambda a, ax, kd: np.mean(a, axis=ax, keepdims=kd),
    lambda a, ax, kd: np.prod(a, axis=ax, keepdims=kd),
    lambda a, ax, kd: np.var(a, axis=ax, keepdims=kd, ddof=0),
    lambda a, ax, kd: np.std(a, axis=ax, keepdims=kd),
    lambda a, ax, kd: np.max(np.real(a), axis=ax, keepdims=kd),
    lambda a, ax, kd: np.cumsum(a, axis=ax[0] if ax else None),
    lambda a, ax, kd: np.cumprod(a, axis=ax[0] if ax else None),
]


@settings(max_examples=25, deadline=None)
@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    axes=st.lists(st.integers(-3, 2), min_size=0, max_size=2, unique=True),
    all_axes=st.booleans(),
    keepdims=st.booleans(),
    dtype=st.sampled_from([np.float32, np.float64, np.complex64, np.complex128]),
    which=st.integers(0, len(REDUCERS) - 1),
)
def test_reductions_sweep(shape, axes, all_axes, keepdims, dtype, which):
    nd = len(shape)
    ax = None if all_axes else tuple(sorted({a % nd for a in axes}))
    a = rand(*shape, dtype=dtype, positive=True, seed=len(shape) + which)
    f = REDUCERS[which]
    want = f(a, ax, keepdims)
    got = pb.pullback(lambda a: f(a, ax, keepdims), a)[0]
    assert np.result_type(got) == np.result_type(want)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    check_gradient(lambda a: f(a, ax, keepdims), a)


@pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")
def test_prod_cumprod_of_complex_cast_to_a_real_dtype():
    """Regression (B3): np.prod / np.cumprod(z, dtype=float64) multiply the real parts (NumPy drops
    the imaginary ones); the gradient was the complex product's. Now that of prod(real(z))."""
    z = np.array([[0.5 - 0.3j, 1.2 + 0.4j, -0.7 + 2.0j], [0.0 + 1.0j, 2.0 - 1.0j, 0.3 + 0.3j]])
    fs = [lambda z: np.prod(z, axis=1, dtype=np.float64), lambda z: np.cumprod(z, dtype=np.float64),
          lambda z: np.cumprod(z, axis=1, dtype=np.float64),
          lambda z: np.nanprod(z, axis=0, dtype=np.float64),
          lambda z: np.multiply.reduce(z, axis=1, dtype=np.float64, keepdims=True)]
    for f in fs:
        value, _ = pb.pullback(f, z)
        assert value.dtype == np.float64 and value.tobytes() == f(z).tobytes()
        check_gradient(f, z)
        g = pb.gradient(lambda z: np.sum(f(z) ** 2), z)[0]
        np.testing.assert_allclose(g, pb.gradient(lambda x: np.sum(f(x) ** 2), z.real)[0] + 0j)
    np.testing.assert_allclose(pb.gradient(lambda z: np.sum(fs[0](z)), z[:1, :2])[0], [[1.2, 0.5]])
    check_gradient(pb.grad(lambda z: np.sum(np.cumprod(z, dtype=np.float64) ** 2)), z)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nanvar_nanstd_without_degrees_of_freedom_are_numpys_nan():
    """Regression (A6): where ``count - ddof <= 0`` NumPy's nanvar writes NaN (positive); the traced
    0/0 had its sign bit set. Every case NumPy's bits and type (a scalar for axis=None)."""
    x = np.array([[np.nan, 1.0, 2.0], [2.0, 3.0, 5.0]])
    fs = [lambda x: np.nanvar(x, axis=-1, ddof=1), lambda x: np.nanvar(x, axis=-1, ddof=2),
          lambda x: np.nanvar(x, ddof=5), lambda x: np.nanvar(x, ddof=9),
          lambda x: np.nanstd(x, axis=0, ddof=2, keepdims=True), lambda x: np.nanvar(x, axis=1, correction=2),
          lambda x: np.nanvar(x.astype(np.float32), axis=1, ddof=2),
          lambda x: np.nanvar(x * (1 - 2j), axis=1, ddof=2),
          lambda x: np.nanstd(x, axis=1, ddof=1, where=np.array([True, False, True]))]
    for f in fs:
        want = f(x)
        value, _ = pb.pullback(f, x)
        assert type(value) is type(want) and value.dtype == want.dtype and value.tobytes() == want.tobytes()
    check_gradient(lambda x: np.nanvar(x, axis=-1, ddof=1)[1:], x)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nanmedian():
    """np.nanmedian (a NoRuleError the NumPy sweep listed): NumPy's values and types for every
    axis / keepdims; the gradient goes to the middle non-NaN entries of each slice (half each for an
    even count), NaN entries and all-NaN slices get none; second order through it."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4, 5))
    a[0, 1, 2] = a[1, :, 3] = a[2, 0, 0] = np.nan
    a[:, 2, :] = np.nan
    for axis in (None, 0, 1, 2, -1, (0, 2), (1, 2), (0, 1, 2)):
        for kd in (False, True, np._NoValue):
            for arr in (a, a.astype(np.float32), a[:, :, :4], np.where(np.isnan(a), 0.5, a)):
                f = lambda u: np.nanmedian(u, axis=axis, keepdims=kd)  # noqa: B023, E731
                want, value = f(arr), pb.pullback(f, arr)[0]
                assert type(value) is type(want) and np.shape(value) == np.shape(want)
                assert np.asarray(value).dtype == want.dtype and value.tobytes() == want.tobytes()
        check_gradient(lambda u: np.nan_to_num(np.nanmedian(u, axis=axis)), a)  # noqa: B023
    g = pb.gradient(np.nanmedian, np.array([1.0, np.nan, 3.0, 2.0]))[0]
    np.testing.assert_array_equal(g, [0, 0, 0, 1])
    g = pb.gradient(np.nanmedian, np.array([1.0, np.nan, 3.0, 2.0, 7.0]))[0]
    np.testing.assert_array_equal(g, [0, 0, 0.5, 0.5, 0])
    h = pb.hessian(lambda u: np.nanmedian(u ** 2), np.array([1.0, np.nan, 3.0]))
    np.testing.assert_array_equal(h, np.diag([1.0, 0.0, 1.0]))


def test_complex64_mean_var_std_divide_like_numpy():
    """Regression (sweep 3a): NumPy divides a complex64 sum by its ``intp`` count in complex128 (then
    casts back); the traced complex64 division differed by an ulp for some data."""
    rng = np.random.default_rng(7)
    fs = [lambda a: a.mean(0), lambda a: a.var(), lambda a: a.std(axis=0), lambda a: np.mean(a, axis=1),
          lambda a: np.var(a, axis=1, where=a.real > -1)]
    for _ in range(20):
        a = (rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))).astype(np.complex64)
        for f in fs:
            want, got = np.asarray(f(a)), np.asarray(pb.pullback(f, a)[0])
            assert got.dtype == want.dtype and got.tobytes() == want.tobytes()
    check_gradient(lambda a: np.var(a, axis=0), a)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("dt", [np.float32, np.complex64, np.float64, np.complex128])
def test_nanvar_nanstd_follow_numpys_steps(dt):
    """Regression (sweep 3a): nanvar/nanstd summed with the NaN mask as ``where`` (a different
    summation order) and squared complex deviations as ``re**2 + im**2``; NumPy sums the NaN-free
    array and squares as ``d * conj(d)``. Values an ulp off, float64 too; now NumPy's bits."""
    rng = np.random.default_rng(5)
    mask = rng.random((3, 4, 5)) > 0.3
    for _ in range(8):
        a = rng.standard_normal((3, 4, 5))
        if np.dtype(dt).kind == "c":
            a = a + 1j * rng.standard_normal((3, 4, 5))
        a = a.astype(dt)
        a[a.real > 1] = np.nan
        a[2, 1, :] = np.nan
        mu = np.nanmean(a, axis=1, keepdims=True)
        fs = [lambda a: np.nanvar(a, axis=1), lambda a: np.nanvar(a, ddof=1),
              lambda a: np.nanvar(a, axis=2, where=mask), lambda a: np.nanstd(a, axis=(0, 2), keepdims=True),
              lambda a: np.nanvar(a, axis=1, mean=mu), lambda a: np.nanvar(a, axis=2, ddof=3),  # noqa: B023
              lambda a: np.nanmean(a, axis=2, where=mask), lambda a: np.nanstd(a, axis=0, correction=1)]
        for f in fs:
            want, got = np.asarray(f(a)), np.asarray(pb.pullback(f, a)[0])
            assert got.dtype == want.dtype and got.shape == want.shape and got.tobytes() == want.tobytes()
    b = rng.standard_normal((3, 4)).astype(dt)
    b[0, 1] = np.nan
    check_gradient(lambda b: np.nan_to_num(np.nanvar(b, axis=1, ddof=1)), b)
