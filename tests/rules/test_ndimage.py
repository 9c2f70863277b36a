"""scipy.ndimage: filters, Fourier filters and spline interpolation.

Every linear function is pinned by a dense-matrix adjoint test (``check_adjoint`` builds the
matrix from SciPy's own plain calls) over its boundary modes, orders and options; the nonlinear
parts (gradient magnitude, coordinates, fourier_shift's shift) by finite differences.
"""

import inspect
import warnings

import numpy as np
import pytest
import scipy.ndimage as nd

import pullback as pb
from pullback.errors import NoRuleError
from pullback.intercept import original
from pullback.rules import ndimage as ndr
from pullback.testing import check_adjoint, check_gradient

from .cases import rand

MODES = ["reflect", "grid-mirror", "mirror", "nearest", "wrap", "grid-wrap", "constant", "grid-constant"]

im = rand(5, 6)
imc = rand(4, 5, dtype=complex)
line = rand(7)
w3 = np.array([0.5, -1.0, 2.0])
k2 = rand(3, 2)
coords = np.stack([np.linspace(-1.65, 5.9, 9), np.linspace(6.35, -0.8, 9)])
spectrum = np.fft.fft2(rand(4, 6))

CASES = [
    (nd.correlate1d, lambda a: nd.correlate1d(a, w3, mode="mirror", origin=1), (im,)),
    (nd.correlate1d, lambda a, w: nd.correlate1d(a, w, axis=0, mode="constant", cval=0.5), (im, w3)),
    (nd.convolve1d, lambda a, w: nd.convolve1d(a, w, mode="wrap"), (imc, w3 + 1j)),
    (nd.correlate, lambda a, w: nd.correlate(a, w, mode="reflect", origin=(1, -1)), (im, k2)),
    (nd.correlate, lambda a: nd.correlate(a, k2 * 1j, mode="nearest"), (imc,)),
    (nd.convolve, lambda a, w: nd.convolve(a, w, mode="grid-constant", cval=1.5), (im, k2)),
    (nd.gaussian_filter1d, lambda a: nd.gaussian_filter1d(a, 1.3, order=1, mode="nearest"), (im,)),
    (nd.gaussian_filter1d, lambda a: nd.gaussian_filter1d(a, 0.8, axis=0, mode="constant", cval=2.0), (im,)),
    (nd.gaussian_filter, lambda a: nd.gaussian_filter(a, (0.7, 1.4), order=(0, 2), mode="mirror"), (im,)),
    (nd.gaussian_filter, lambda a: nd.gaussian_filter(a, 1.0, radius=2, axes=1), (imc,)),
    (nd.uniform_filter1d, lambda a: nd.uniform_filter1d(a, 4, mode="wrap", origin=-1), (im,)),
    (nd.uniform_filter, lambda a: nd.uniform_filter(a, (2, 3), mode="constant", cval=1.0), (im,)),
    (nd.sobel, lambda a: nd.sobel(a, 0, mode="grid-wrap"), (im,)),
    (nd.prewitt, lambda a: nd.prewitt(a, mode="reflect"), (im,)),
    (nd.laplace, lambda a: nd.laplace(a, mode=["nearest", "mirror"]), (im,)),
    (nd.gaussian_laplace, lambda a: nd.gaussian_laplace(a, 1.1, mode="reflect"), (im,)),
    (nd.gaussian_gradient_magnitude, lambda a: nd.gaussian_gradient_magnitude(a, 1.0, mode="nearest"), (im,)),
    (nd.fourier_gaussian, lambda a: nd.fourier_gaussian(a, (1.0, 0.5)), (spectrum,)),
    (nd.fourier_uniform, lambda a: nd.fourier_uniform(a, 2.0, n=10, axis=1), (spectrum[:, :4],)),
    (nd.fourier_ellipsoid, lambda a: nd.fourier_ellipsoid(a, (2.0, 3.0)), (spectrum,)),
    (nd.fourier_shift, lambda a, s: nd.fourier_shift(a, s), (spectrum, np.array([0.4, -1.3]))),
    (nd.fourier_shift, lambda a: nd.fourier_shift(a, 0.7, n=10, axis=1), (spectrum[:, :4],)),
    (nd.spline_filter1d, lambda a: nd.spline_filter1d(a, 3, axis=0, mode="reflect"), (im,)),
    (nd.spline_filter, lambda a: nd.spline_filter(a, 5, mode="grid-wrap"), (im,)),
    (nd.map_coordinates, lambda a, c: nd.map_coordinates(a, c, order=3, mode="mirror"), (im, coords)),
    (
        nd.map_coordinates,
        lambda a, c: nd.map_coordinates(a, c, order=1, mode="constant", cval=0.5),
        (im, coords),
    ),
    (
        nd.map_coordinates,
        lambda a: nd.map_coordinates(a, coords, order=4, mode="grid-constant", cval=1.0),
        (imc,),
    ),
    (nd.shift, lambda a, s: nd.shift(a, s, order=3, mode="nearest"), (im, np.array([0.3, -1.2]))),
    (nd.zoom, lambda a: nd.zoom(a, (1.4, 0.7), order=2, mode="reflect"), (im,)),
    (nd.rotate, lambda a: nd.rotate(a, 23.0, order=3, mode="nearest"), (im,)),
    (
        nd.affine_transform,
        lambda a, m: nd.affine_transform(a, m, order=3, mode="grid-mirror"),
        (im, np.array([[0.9, 0.2, 0.1], [-0.1, 1.1, 0.3]])),
    ),
]


# ---------------------------------------------------------------- dense-matrix adjoints, mode by mode


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("n", [1, 4, 7])
def test_1d_filters_every_mode(mode, n):
    a = rand(n)
    for f in (
        lambda b: nd.correlate1d(b, [1.0, 2.0, -3.0, 0.5], mode=mode, origin=1),
        lambda b: nd.convolve1d(b, [0.3, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], mode=mode, origin=-2),
        lambda b: nd.gaussian_filter1d(b, 1.7, mode=mode),
        lambda b: nd.uniform_filter1d(b, 4, mode=mode, origin=-1),
    ):
        check_adjoint(f, a)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
def test_nd_filters_every_mode(mode, dtype):
    a = rand(4, 5, dtype=dtype)
    fs = [
        lambda b: nd.correlate(b, k2, mode=mode, origin=(1, -1)),
        lambda b: nd.convolve(b, k2 + 0.5j if dtype is np.complex128 else k2, mode=mode),
        lambda b: nd.gaussian_filter(b, (0.8, 1.3), order=(1, 0), mode=mode),
        lambda b: nd.uniform_filter(b, (2, 3), mode=mode),
        lambda b: nd.laplace(b, mode=mode),
    ]
    if dtype is not np.complex128:  # SciPy's sobel/prewitt/gaussian_laplace take real input
        fs += [
            lambda b: nd.sobel(b, 0, mode=mode),
            lambda b: nd.prewitt(b, 1, mode=mode),
            lambda b: nd.gaussian_laplace(b, 1.0, mode=mode),
        ]
    for f in fs:
        check_adjoint(f, a)


@pytest.mark.parametrize("mode", MODES)
def test_weights_and_cval(mode):
    check_gradient(lambda a, w: nd.correlate(a, w, mode=mode, cval=0.5), im, k2)
    check_gradient(lambda a, w: nd.convolve1d(a, w, mode=mode, origin=-1), imc, w3 - 0.5j)
    check_gradient(lambda a: nd.gaussian_filter(a, 1.0, mode=mode, cval=2.0), im)


def test_gradient_magnitude_and_complex_weights_on_real_input():
    check_gradient(lambda a: nd.gaussian_gradient_magnitude(a, (1.0, 0.7), mode="reflect", truncate=3.0), im)
    check_gradient(lambda a, w: nd.correlate1d(a, w), im, w3 * (1 + 1j))


@pytest.mark.parametrize("n", [-1, 9])
def test_fourier_filters(n):
    x = spectrum if n < 0 else np.fft.rfft(rand(4, 9), axis=1)
    for f in (
        lambda a: nd.fourier_gaussian(a, (1.0, 0.5), n=n, axis=1),
        lambda a: nd.fourier_uniform(a, 2.0, n=n, axis=1),
        lambda a: nd.fourier_ellipsoid(a, (2.0, 1.5), n=n, axis=1),
        lambda a: nd.fourier_shift(a, (0.3, -1.2), n=n, axis=1),
    ):
        check_adjoint(f, x)
    check_gradient(lambda s: nd.fourier_shift(x, s, n=n, axis=1), np.array([0.3, -1.2]))
    check_gradient(lambda s: nd.fourier_shift(x, s, n=n, axis=1), 0.7)
    check_adjoint(lambda a: nd.fourier_gaussian(a, 1.0), rand(4, 5))  # real input, real output


# ---------------------------------------------------------------- interpolation


@pytest.mark.parametrize("mode", MODES)
def test_map_coordinates_every_mode_and_order(mode):
    pts = np.stack([np.linspace(-3.2, 7.9, 8), np.linspace(8.45, -2.35, 8)])
    for order in range(6):
        for prefilter in (True, False) if order > 1 else (True,):
            check_adjoint(
                lambda a: nd.map_coordinates(a, pts, order=order, mode=mode, prefilter=prefilter), im
            )
        check_gradient(lambda c: nd.map_coordinates(im, c, order=order, mode=mode, cval=0.5), pts)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("n", [1, 5, 6, 300])
def test_spline_filter1d_transpose(mode, n):
    a = rand(n)
    for order in (2, 3, 4, 5):
        if n < 300:
            check_adjoint(lambda b: nd.spline_filter1d(b, order, mode=mode), a)
        else:  # a long line: the corner corrections, against the dense transpose
            m = np.stack([nd.spline_filter1d(e, order, mode=mode) for e in np.eye(n)], axis=1)
            g = rand(n)
            got = pb.pullback(lambda b: nd.spline_filter1d(b, order, mode=mode), a)[1](g)[0]
            np.testing.assert_allclose(got, m.T @ g, atol=1e-12)


def test_geometric_transforms():
    check_adjoint(lambda a: nd.shift(a, (0.3, -1.2), order=3, mode="grid-wrap"), im)
    check_adjoint(lambda a: nd.shift(a, 1.5, order=1, mode="constant"), imc)
    check_adjoint(lambda a: nd.zoom(a, (1.5, 0.7), order=3, mode="mirror"), im)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check_adjoint(lambda a: nd.zoom(a, 1.3, order=2, mode="constant", grid_mode=True), im)
    check_adjoint(lambda a: nd.rotate(a, 17.0, order=3), im.astype(np.float32))
    check_adjoint(lambda a: nd.rotate(a, 30.0, axes=(0, 2), order=1, reshape=False), rand(3, 4, 2))
    check_adjoint(
        lambda a: nd.affine_transform(a, [0.9, 1.2], 0.3, output_shape=(4, 7), order=5, mode="nearest"), im
    )
    check_gradient(lambda a, s: nd.shift(a, s, order=5, mode="reflect"), im, np.array([0.3, -1.2]))
    check_gradient(
        lambda a, o: nd.affine_transform(a, np.eye(2) * 0.9, o, order=2, mode="wrap"),
        im,
        np.array([0.2, 0.7]),
    )


def test_second_order():
    check_gradient(
        lambda a: pb.gradient(lambda b: np.sum(nd.gaussian_filter(b, 1.0, mode="mirror") ** 3), a)[0], im
    )
    check_gradient(
        lambda c: pb.gradient(lambda c: np.sum(nd.map_coordinates(im, c, order=3, mode="mirror") ** 2), c)[0],
        coords,
    )
    check_gradient(
        lambda a: pb.gradient(lambda a: np.sum(nd.map_coordinates(a, coords, order=3) ** 3), a)[0], im
    )
    check_gradient(lambda w: pb.gradient(lambda w: np.sum(nd.correlate(im, w, mode="wrap") ** 3), w)[0], k2)


# ---------------------------------------------------------------- plain calls, dtypes, errors


def test_plain_calls_are_untouched():
    for name in ("gaussian_filter", "correlate1d", "map_coordinates", "fourier_shift", "spline_filter"):
        func = getattr(nd, name)
        assert inspect.signature(func) == inspect.signature(original(func))
        assert func.__doc__ == original(func).__doc__
    np.testing.assert_array_equal(nd.gaussian_filter(im, 1.0), original(nd.gaussian_filter)(im, 1.0))
    np.testing.assert_array_equal(nd.map_coordinates(im, coords), original(nd.map_coordinates)(im, coords))


def test_dtypes_follow_scipy():
    f32 = im.astype(np.float32)
    for f in (
        lambda a: nd.gaussian_filter(a, 1.0),
        lambda a: nd.map_coordinates(a, coords),
        lambda a: nd.gaussian_filter(a, 1.0, output=np.float64),
        lambda a: nd.correlate(a, k2 * 1j),
    ):
        value, back = pb.pullback(f, f32)
        assert value.dtype == f(f32).dtype
        assert back(np.ones_like(value))[0].dtype == np.float32


def test_unsupported_arguments_raise():
    with pytest.raises(NoRuleError, match="output array"):
        pb.gradient(lambda a: np.sum(nd.gaussian_filter(a, 1.0, output=np.empty_like(im))), im)
    with pytest.raises(NoRuleError, match="sigma"):
        pb.gradient(lambda s: np.sum(nd.gaussian_filter(im, s)), 1.0)
    with pytest.raises(RuntimeError, match="boundary mode"):
        pb.gradient(lambda a: np.sum(nd.correlate1d(a, w3, mode="bogus")), im)


def test_border_map_matches_scipy_extension():
    # the np.pad index map of each mode is the extension SciPy's filters use
    for mode in MODES:
        if ndr.PAD_MODES[mode] is None:
            continue
        src = ndr.border_map(4, 6, 6, mode)
        probe = np.arange(4.0)
        want = [nd.correlate1d(probe, np.eye(13)[k], mode=mode)[0] for k in range(6)]
        np.testing.assert_array_equal(src[:6], want)


def test_rotate_angle_and_magnitude_at_zero():
    check_gradient(lambda a: nd.rotate(im, a, order=3, mode="nearest"), 17.0)
    check_gradient(lambda a: nd.rotate(im, a, order=1, reshape=False), 33.0)
    # every derivative vanishes at mirror-mode corners: the magnitude's gradient there is 0, not nan
    g = pb.gradient(lambda a: np.sum(nd.gaussian_gradient_magnitude(a, 1.0, mode="mirror")), im[:4, :5])[0]
    assert np.all(np.isfinite(g))


def test_labels_and_positions_carry_no_gradient():
    def f(a):
        labels, n = nd.label(a > 0)
        pos = nd.maximum_position(a)
        return np.sum(a * (labels == 1)) + 0.0 * n + a[pos]

    g = pb.gradient(f, im)[0]
    want = (nd.label(im > 0)[0] == 1).astype(float)
    want[nd.maximum_position(im)] += 1
    np.testing.assert_array_equal(g, want)


@pytest.mark.parametrize("mode", ["constant", "grid-constant", "nearest"])
def test_traced_cval(mode):
    check_gradient(lambda a, c: nd.gaussian_filter(a, 1.0, mode=mode, cval=c), im, 0.7)
    check_gradient(lambda a, w, c: nd.correlate(a, w, mode=mode, cval=c), im, k2, 0.7)
    check_gradient(lambda a, c: nd.map_coordinates(a, coords, order=3, mode=mode, cval=c), im, 0.7)
    check_gradient(lambda a, c: nd.uniform_filter1d(a, 3, mode=mode, cval=c), im, 0.7)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("order", [0, 1, 2, 3, 5])
@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_coordinate_gradient_in_one_pass_is_the_per_axis_evaluations(mode, order, ndim):
    """The coordinates' cotangent shares the taps and gathered coefficients between the axes: the
    same bits as one spline evaluation per axis."""
    from pullback.rules import ndimage_interp as ni

    rng = np.random.default_rng(order + 10 * ndim)
    c = rng.standard_normal((7, 6, 5)[:ndim])
    x = rng.uniform(-3, 9, (ndim, 4, 5))  # in range and outside, on every side
    for deriv in [(0,) * ndim, (1,) + (0,) * (ndim - 1), (0,) * (ndim - 1) + (2,)]:
        many = ni._eval_gradient_raw(c, x, order, mode, 0.5, deriv)
        for a, got in enumerate(many):
            want = ni._eval_raw(c, x, order, mode, 0.5, ni._plus(deriv, a))
            assert got.shape == want.shape and got.tobytes() == want.tobytes()
    c32 = c.astype(np.complex128) * (1 + 0.5j)
    check_gradient(lambda p: nd.map_coordinates(c32, p, order=order, mode=mode, cval=0.5), x * 0.7 + 1.1,
                   modes=("reverse",))


def test_complex_prefiltered_interpolation_warns_no_more_than_scipy():
    """Regression: the traced prefilter asked SciPy for a float64 output of complex coefficients,
    which SciPy answers with a UserWarning that the plain call never shows."""
    c = rand(6, 5, dtype=complex, seed=3)
    pts = np.stack([np.linspace(0.2, 4.8, 4), np.linspace(3.9, 0.1, 4)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        want = nd.map_coordinates(c, pts, order=3)
        value, _ = pb.pullback(lambda a: nd.map_coordinates(a, pts, order=3), c)
        pb.gradient(lambda p: np.sum(np.abs(nd.map_coordinates(c, p, order=3)) ** 2), pts)
    assert np.allclose(value, want, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("order", [0, 1, 3])
def test_geometric_transforms_are_scipys_bits_at_ties(order):
    """Regression: the affine coordinates were a matrix product (BLAS's rounding), so where SciPy's
    C loop lands exactly between two samples (45-degree rotations, half-sample offsets) an order-0
    spline picked the other neighbour: a different value, and the gradient credited the wrong
    sample. Now the C loop's own order of operations; also the 1-d matrix (SciPy's zoom_shift)."""
    rng = np.random.default_rng(order)
    for shape in [(6, 7), (5, 8, 4)]:
        x = rng.standard_normal(shape)
        calls = [
            lambda u: nd.rotate(u, 45.0, reshape=True, order=order, mode="nearest"),
            lambda u: nd.rotate(u, 135.0, axes=(0, 1), reshape=False, order=order, mode="reflect"),
            lambda u: nd.affine_transform(u, 0.5 * np.eye(u.ndim) + 0.25, offset=0.75, order=order,
                                          mode="grid-mirror"),
            lambda u: nd.affine_transform(u, np.full(u.ndim, 1.5), offset=-0.5, order=order, mode="mirror"),
            lambda u: nd.zoom(u, 1.5, order=order, mode="nearest", grid_mode=True),
            lambda u: nd.shift(u, 0.5, order=order, mode="wrap"),
        ]
        for f in calls:
            value, _ = pb.pullback(f, x)
            assert value.tobytes() == f(x).tobytes()
            check_adjoint(f, x)


def test_complex_zoom_ignores_grid_mode_as_scipy_does():
    """SciPy zooms a complex input's real and imaginary parts without passing ``grid_mode`` on:
    the traced value is SciPy's (regression: the traced zoom honoured it, another value)."""
    x = rand(5, 6, dtype=complex, seed=2)
    for mode in ("nearest", "reflect", "grid-wrap"):
        f = lambda u, mode=mode: nd.zoom(u, 1.4, order=3, mode=mode, grid_mode=True)  # noqa: E731
        value, _ = pb.pullback(f, x)
        assert value.tobytes() == f(x).tobytes()
        check_adjoint(f, x)


def _bits(value, want):
    assert type(value) is type(want) and value.dtype == want.dtype and value.shape == want.shape
    assert value.tobytes() == want.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
def test_line_filters_are_scipys_one_dimensional_kernel(dtype):
    """Regression: correlate1d/convolve1d (and sobel, prewitt, laplace, savgol's filter) ran SciPy's
    N-d correlate, which sums in another order than its 1-D loop (symmetric kernels pair their
    taps) and, in float32, gave +0.0 where SciPy gives -0.0. Now SciPy's correlate1d itself."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((5, 6)).astype(dtype)
    if x.dtype.kind == "c":
        x = x + 1j * rng.standard_normal((5, 6))
    for mode in ("reflect", "mirror", "wrap", "constant"):
        for w in ([0.3, -1.2, 0.7], [-1.0, 0.0, 1.0], [1.0, 2.0, 1.0], [0.5, 0.25], [1.0, -2, 1, 0.5, 3]):
            for f in (
                lambda u: nd.correlate1d(u, w, axis=0, mode=mode, cval=0.5),
                lambda u: nd.convolve1d(u, w, axis=1, mode=mode, origin=-(len(w) // 2)),
                lambda u: nd.sobel(u, axis=0, mode=mode),
                lambda u: nd.laplace(u, mode=mode),
            ):
                _bits(pb.pullback(f, x)[0], f(x))
    check_gradient(lambda u, w: nd.correlate1d(u, w, axis=0, mode="mirror"), im, w3)
    check_gradient(lambda u, w: nd.convolve1d(u, w, mode="constant", cval=0.5), im, w3)
    check_gradient(lambda u: nd.sobel(u, axis=1, mode="nearest"), im)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_constant_mode_cval_is_rounded_inside_the_filter(dtype):
    """Regression: a nonzero ``cval`` was added as a separate border term (filter(x) + filter of
    zeros with cval): other bits than SciPy's, whose border samples enter the filter's sums."""
    x = np.random.default_rng(6).standard_normal((6, 7)).astype(dtype)
    for f in (
        lambda u: nd.uniform_filter1d(u, 3, axis=0, mode="constant", cval=0.3),
        lambda u: nd.uniform_filter(u, 4, mode="constant", cval=-0.7),
        lambda u: nd.gaussian_filter1d(u, 1.2, mode="constant", cval=0.3),
        lambda u: nd.gaussian_filter(u, 1.0, mode="constant", cval=0.3),
        lambda u: nd.gaussian_laplace(u, 1.1, mode="constant", cval=0.3),
    ):
        _bits(pb.pullback(f, x)[0], f(x))
    check_gradient(lambda u: nd.gaussian_filter(u, 1.0, mode="constant", cval=0.3), im)
    check_gradient(lambda u, c: nd.uniform_filter1d(u, 3, mode="constant", cval=c), im, 0.3)
    for f, arg in ((nd.uniform_filter1d, 3), (nd.gaussian_filter, 1.5), (nd.correlate1d, w3)):  # traced cval
        value = pb.pullback(lambda u, c: f(u, arg, mode="constant", cval=c), im, 0.3)[0]
        _bits(value, f(im, arg, mode="constant", cval=0.3))


def test_complex_cval_on_real_input_raises_scipys_error():
    """Regression: a complex ``cval`` with real input and real weights raised the complex path's
    ValueError; SciPy's C filter raises TypeError (complex weights: SciPy's ValueError)."""
    for w in (np.ones((2, 2)), np.ones((2, 2)) * 1j):
        with pytest.raises(Exception) as want:
            nd.correlate(im, w, mode="constant", cval=1j)
        with pytest.raises(type(want.value), match=str(want.value)):
            pb.pullback(lambda u: nd.correlate(u, w, mode="constant", cval=1j), im)
    with pytest.raises(TypeError, match="must be real number, not complex"):
        pb.pullback(lambda u: nd.correlate1d(u, w3, mode="constant", cval=1j), im)


def test_affine_matrix_checks_raise_scipys_errors():
    """Regression: a matrix of the wrong rank or shape broke inside the coordinate arithmetic
    (another exception); now SciPy's checks and messages, traced matrix or not."""
    bad = [np.ones((3, 3, 3)), np.ones((0, 2)), np.ones((3, 2)), np.ones(3), np.ones((2, 4)),
           np.array([[1.0, 0, 0], [0, 1, 0], [0, 1, 1]])]
    for m in bad:
        with pytest.raises(Exception) as want:
            nd.affine_transform(im, m)
        for f, args in ((lambda u: nd.affine_transform(u, m), (im,)), (nd.affine_transform, (im, m))):
            with pytest.raises(type(want.value)) as got:
                pb.pullback(f, *args)
            assert str(got.value) == str(want.value)


def test_real_input_into_a_complex_output_raises_scipys_error():
    x = np.ones((4, 4))
    for f in (lambda u: nd.zoom(u, 2, output=np.complex128), lambda u: nd.shift(u, 0.5, output=np.complex128),
              lambda u: nd.rotate(u, 30, output=np.complex128)):
        with pytest.raises(RuntimeError, match="data type not supported"):
            pb.pullback(f, x)


def test_functions_taking_callables_raise_a_clear_error():
    """Regression: generic_filter with a callable closing over a traced value failed with a
    SystemError inside SciPy's C code (funm's pythran loop with a TypeError); a traced input raised
    a conversion error. Both now raise NoRuleError naming the function; plain calls are SciPy's."""
    x = np.random.default_rng(0).random((6, 6))
    for f in (lambda t: nd.generic_filter(x, lambda v: np.mean(v) * t, size=3),
              lambda t: nd.geometric_transform(x, lambda c: (c[0] * t, c[1])),
              lambda t: nd.generic_filter(x * t, np.mean, size=3)):
        with pytest.raises(pb.NoRuleError, match="scipy.ndimage"):
            pb.gradient(lambda t: np.sum(f(t)), 0.9)
    g = pb.gradient(lambda t: np.sum(nd.generic_filter(x, np.mean, size=3) * t), 0.9)[0]
    assert g == np.sum(nd.generic_filter(x, np.mean, size=3))
