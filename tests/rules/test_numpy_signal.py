"""NumPy's convolve, correlate, interp, unwrap and sliding_window_view."""

import numpy as np
import pytest

import pullback as pb
from pullback.testing import check_adjoint, check_gradient

from .cases import rand

swv = np.lib.stride_tricks.sliding_window_view
a6, v4, v7 = rand(6), rand(4), rand(7)
z5, zv3 = rand(5, dtype=complex), rand(3, dtype=complex)
xp = np.sort(np.random.default_rng(3).uniform(0, 10, 8))
fp = rand(8)
xq = np.random.default_rng(4).uniform(-2, 12, 15)
phase = np.cumsum(np.random.default_rng(5).uniform(0, 2, (3, 10)), axis=1) % (2 * np.pi)

CASES = [
    (np.lib.stride_tricks.as_strided,
     lambda v: np.lib.stride_tricks.as_strided(v, (4, 3), (v.strides[0], v.strides[0])), (a6,)),
    (np.convolve, np.convolve, (a6, v4)),
    (np.convolve, lambda a, v: np.convolve(a, v, "same"), (v4, v7)),
    (np.convolve, lambda a, v: np.convolve(a, v, mode="valid"), (z5, zv3)),
    (np.correlate, np.correlate, (a6, v4)),
    (np.correlate, lambda a, v: np.correlate(a, v, "same"), (v4, v7)),
    (np.correlate, lambda a, v: np.correlate(a, v, "full"), (z5, zv3)),
    (np.interp, lambda x, f: np.interp(x, xp, f), (xq, fp)),
    (np.interp, np.interp, (xq, xp, fp)),
    (np.interp, lambda x, f: np.interp(x, xp, f, left=-1.0, right=2.0), (xq, fp + 1j * fp[::-1])),
    (np.interp, lambda x, f: np.interp(x, xp[::-1] - 3.0, f, period=4.0), (xq, fp)),
    (np.unwrap, lambda p: np.unwrap(p, axis=1), (phase,)),
    (np.unwrap, lambda p: np.unwrap(p, discont=4.0, period=5.0), (phase * 0.8,)),
    (swv, lambda a: swv(a, (2, 3)), (rand(4, 5),)),
    (swv, lambda a: swv(a, 3, axis=0), (rand(5, 2, dtype=complex),)),
]


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("sizes", [(6, 4), (4, 6), (5, 5), (7, 2), (1, 3)])
@pytest.mark.parametrize("func", [np.convolve, np.correlate])
def test_convolve_correlate_both_operands(func, sizes, mode):
    m, n = sizes
    a, v = rand(m, dtype=complex), rand(n, dtype=complex)
    check_adjoint(lambda x: func(x, v, mode), a)
    check_adjoint(lambda y: func(a, y, mode), v)  # (correlate is anti-linear in v: real coordinates)
    check_gradient(lambda x, y: func(x, y, mode), a.real.astype(np.float32), v.real.astype(np.float32))
    np.testing.assert_allclose(
        pb.pullback(lambda x, y: func(x, y, mode), a, v)[0], func(a, v, mode), rtol=1e-12, atol=1e-12
    )


def test_interp_fp_is_linear_and_x_piecewise():
    check_adjoint(lambda f: np.interp(np.append(xq, xp[[0, -1]]), xp, f), fp)
    check_adjoint(lambda f: np.interp(xq, xp, f, left=0.0, right=0.0), fp)
    knots = rand(7) * 6
    check_adjoint(lambda f: np.interp(xq, knots, f, period=6.0), rand(7))
    g = pb.gradient(
        lambda x: np.sum(np.interp(x, [0.0, 1.0, 3.0], [0.0, 2.0, 3.0])), np.array([0.5, 2.0, 5.0])
    )[0]
    np.testing.assert_allclose(g, [2.0, 0.5, 0.0])
    check_gradient(lambda x, p, f: np.interp(x, p, f), xq, xp, fp)
    check_gradient(lambda x, p, f: np.interp(x, p, f, period=4.0), xq, xp[::-1] - 3.0, fp)
    check_gradient(lambda p: pb.gradient(lambda p: np.sum(np.interp(xq, p, fp) ** 3), p)[0], xp)
    with pytest.raises(TypeError):  # a traced left/right: a clear error, never a silent zero
        pb.gradient(lambda c: np.sum(np.interp(xq, xp, fp, left=c)), 1.0)


def test_sliding_window_view_overlap_add():
    check_adjoint(lambda a: swv(a, (2, 2), axis=(1, 1)), rand(3, 6))
    check_adjoint(lambda a: swv(a, 4), rand(9).astype(np.float32))
    g = pb.gradient(lambda a: np.sum(swv(a, 3)), np.zeros(5))[0]
    np.testing.assert_array_equal(g, [1, 2, 3, 2, 1])


def test_second_order():
    check_gradient(lambda a: pb.gradient(lambda a: np.sum(np.convolve(a, a, "same") ** 2), a)[0], a6)
    check_gradient(lambda f: pb.gradient(lambda f: np.sum(np.interp(xq, xp, f) ** 3), f)[0], fp)


def test_writeable_windows_raise():
    with pytest.raises(pb.NoRuleError, match="writeable"):
        pb.gradient(lambda a: np.sum(swv(a, 2, writeable=True)), a6)


def _windows(v, n=3):
    s = v.strides[0]
    return np.lib.stride_tricks.as_strided(v, (v.shape[0] - n + 1, n), (s, s))


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
def test_as_strided_windows_and_layouts(dtype):
    x = rand(7, dtype=dtype, seed=1)
    check_adjoint(_windows, x)
    np.testing.assert_array_equal(pb.pullback(_windows, x)[0], _windows(x))
    m = rand(4, 5, dtype=dtype, seed=2)
    t = lambda v: np.lib.stride_tricks.as_strided(v.T, (3, 2), (v.T.strides[0], 2 * v.T.strides[1]))  # noqa
    check_adjoint(t, m)
    np.testing.assert_array_equal(pb.pullback(t, m)[0], t(m))
    check_gradient(lambda v: np.sum(_windows(v) ** 2, axis=1), rand(6, seed=3))


def test_as_strided_outside_the_array_or_written_raises():
    x = rand(6, seed=4)
    outside = lambda v: np.lib.stride_tricks.as_strided(v, (4,), (2 * v.strides[0],))  # noqa: E731
    with pytest.raises(pb.NoRuleError, match="as_strided"):
        pb.gradient(lambda v: np.sum(outside(v)), x)

    def write(v):
        w = _windows(v)
        w[0, 0] = 1.0
        return np.sum(w)

    with pytest.raises(NotImplementedError, match="one element of memory"):  # overlapping windows
        pb.gradient(write, x)

    def write_read_only(v):
        w = np.lib.stride_tricks.as_strided(v, (2,), (v.strides[0],), writeable=False)
        w[0] = 1.0
        return np.sum(w)

    with pytest.raises(ValueError, match="read-only"):
        pb.gradient(write_read_only, x)
    assert np.lib.stride_tricks.as_strided(x, (2,), (8,)).flags.writeable  # plain calls unchanged


def test_correlate_single_precision_values_are_numpys():
    """Regression (sweep 3a): float32/complex64 np.correlate summed each lag in the reversed order
    of the convolution (an ulp off NumPy's); NumPy's own value now, the convolution's gradient."""
    rng = np.random.default_rng(11)
    for dt in (np.float32, np.complex64):
        for _ in range(10):
            a, v = (rng.standard_normal(k).astype(dt) for k in (4, 7))
            if dt == np.complex64:
                a, v = a + 1j * a[::-1], v - 0.5j * v[::-1]
            for mode in ("valid", "same", "full"):
                f = lambda a, v: np.correlate(a, v, mode)  # noqa: B023, E731
                want, got = f(a, v), pb.pullback(f, a, v)[0]
                assert got.dtype == want.dtype and got.tobytes() == want.tobytes()
        check_gradient(lambda a, v: np.correlate(a, v, "same"), a, v)
