"""numpy.fft: dense-matrix adjoint tests, JVP tests, the seed's cases, and FFT programs."""

import gc
import re
import weakref

import numpy as np
import pytest
import scipy.fft
from hypothesis import given, settings
from hypothesis import strategies as st

import pullback as pb
from pullback.core import Tracer
from pullback.engines import fft as fft_engine
from pullback.testing import check_adjoint, check_gradient

from .cases import rand

NORMS = [None, "backward", "ortho", "forward"]
LENGTHS = [1, 2, 3, 4, 5, 7, 8, 11, 12, 13]

x8 = rand(8)
z8 = rand(8, dtype=complex)
x45 = rand(4, 5)
z45 = rand(4, 5, dtype=complex)
h5 = rand(5, dtype=complex)

CASES = [
    (np.fft.fft, lambda x: np.fft.fft(x, n=10), (z8,)),
    (np.fft.ifft, lambda x: np.fft.ifft(x, n=6, norm="ortho"), (z8,)),
    (np.fft.fft2, np.fft.fft2, (z45,)),
    (np.fft.ifft2, lambda x: np.fft.ifft2(x, s=(3, 6)), (z45,)),
    (np.fft.fftn, lambda x: np.fft.fftn(x, axes=(1,)), (x45,)),
    (np.fft.ifftn, np.fft.ifftn, (z45,)),
    (np.fft.rfft, np.fft.rfft, (x8,)),
    (np.fft.irfft, lambda x: np.fft.irfft(x, n=9), (h5,)),
    (np.fft.rfft2, np.fft.rfft2, (x45,)),
    (np.fft.irfft2, np.fft.irfft2, (z45,)),
    (np.fft.rfftn, lambda x: np.fft.rfftn(x, s=(5, 4), axes=(1, 0)), (x45,)),
    (np.fft.irfftn, lambda x: np.fft.irfftn(x, norm="forward"), (z45,)),
    (np.fft.hfft, np.fft.hfft, (h5,)),
    (np.fft.ihfft, np.fft.ihfft, (x8,)),
    (np.fft.fftshift, np.fft.fftshift, (z45,)),
    (np.fft.ifftshift, lambda x: np.fft.ifftshift(x, axes=0), (x45,)),
]




# ---------------------------------------------------------------- dense-matrix adjoints, swept


def _dtype(complex_input, single):
    if complex_input:
        return np.complex64 if single else np.complex128
    return np.float32 if single else np.float64


ONE_D = {
    "fft": (np.fft.fft, True),
    "ifft": (np.fft.ifft, True),
    "rfft": (np.fft.rfft, False),
    "irfft": (np.fft.irfft, True),
    "hfft": (np.fft.hfft, True),
    "ihfft": (np.fft.ihfft, False),
}


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(sorted(ONE_D)),
    length=st.sampled_from(LENGTHS),
    n=st.sampled_from([None, 1, 2, 3, 6, 7, 9, 16]),
    norm=st.sampled_from(NORMS),
    axis=st.sampled_from([0, 1, -1, -2]),
    complex_input=st.booleans(),
    single=st.booleans(),
)
def test_1d_adjoint_matches_dense_matrix(name, length, n, norm, axis, complex_input, single):
    func, accepts_complex = ONE_D[name]
    complex_input = complex_input and accepts_complex
    shape = [2, 2]
    shape[axis] = length
    x = rand(*shape, dtype=_dtype(complex_input, single), seed=length)
    if name in ("irfft", "hfft") and n is None and length == 1:
        n = 2  # the default n = 2 (m - 1) is 0 for one bin: NumPy rejects it
    check_adjoint(lambda v: func(v, n=n, axis=axis, norm=norm), x)


ND = {
    "fftn": (np.fft.fftn, True),
    "ifftn": (np.fft.ifftn, True),
    "rfftn": (np.fft.rfftn, False),
    "irfftn": (np.fft.irfftn, True),
    "fft2": (np.fft.fft2, True),
    "ifft2": (np.fft.ifft2, True),
    "rfft2": (np.fft.rfft2, False),
    "irfft2": (np.fft.irfft2, True),
}


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(sorted(ND)),
    shape=st.lists(st.sampled_from([1, 2, 3, 4, 5]), min_size=2, max_size=3),
    axes=st.sampled_from([None, (0,), (-1,), (0, 1), (1, 0), (-1, 0), (0, -1)]),
    pad=st.sampled_from([None, "crop", "pad", "mixed"]),
    norm=st.sampled_from(NORMS),
    complex_input=st.booleans(),
    single=st.booleans(),
)
def test_nd_adjoint_matches_dense_matrix(name, shape, axes, pad, norm, complex_input, single):
    func, accepts_complex = ND[name]
    if name.endswith("2"):
        axes = (-2, -1) if axes is None or len(axes) != 2 else axes
    complex_input = complex_input and accepts_complex
    x = rand(*shape, dtype=_dtype(complex_input, single), seed=sum(shape))
    ax = list(range(len(shape))) if axes is None else [a % len(shape) for a in axes]
    s = None
    if pad is not None:
        deltas = {"crop": -1, "pad": 2, "mixed": None}[pad]
        s = [max(1, shape[a] + (deltas if deltas is not None else (-1) ** k * 2)) for k, a in enumerate(ax)]
        if axes is None:
            axes = tuple(ax)
    if name.startswith("irfft") and s is None and shape[ax[-1]] == 1:
        s = [shape[a] for a in ax[:-1]] + [2]
        axes = tuple(ax)
    check_adjoint(lambda v: func(v, s=s, axes=axes, norm=norm), x)


def test_repeated_axes_follow_numpy():
    x = rand(4, 3, dtype=complex)
    check_adjoint(lambda v: np.fft.fftn(v, s=(3, 5), axes=(0, 0)), x)
    check_adjoint(lambda v: np.fft.rfftn(v, axes=(1, 0, 1)), x.real.copy())
    check_adjoint(lambda v: np.fft.irfftn(v, axes=(0, 1, 1)), x)


@pytest.mark.parametrize("axes", [None, 0, 1, (0, 1), (1, 0)])
def test_shift_adjoints(axes):
    x = rand(5, 4, dtype=complex)
    check_adjoint(lambda v: np.fft.fftshift(v, axes), x)
    check_adjoint(lambda v: np.fft.ifftshift(v, axes), x)


def test_frequencies_are_constants():
    def f(x):
        k = np.fft.fftfreq(x.shape[0], d=0.5)
        kr = np.fft.rfftfreq(x.shape[0])
        assert type(k) is np.ndarray and type(kr) is np.ndarray
        return np.sum(np.abs(np.fft.fft(x) * k) ** 2)

    check_gradient(f, x8)


# ---------------------------------------------------------------- values, dtypes, cost


def test_values_match_numpy_to_rounding():
    seen = {}

    def f(x):
        seen["fft"] = pb.stop_gradient(np.fft.fft(x, n=12))
        seen["rfftn"] = pb.stop_gradient(np.fft.rfftn(x.reshape(2, 4)))
        seen["hfft"] = pb.stop_gradient(np.fft.hfft(x))
        return np.sum(x)

    pb.gradient(f, x8)
    np.testing.assert_allclose(seen["fft"], np.fft.fft(x8, n=12), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(seen["rfftn"], np.fft.rfftn(x8.reshape(2, 4)), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(seen["hfft"], np.fft.hfft(x8), rtol=1e-13, atol=1e-13)


def test_float32_stays_float32_end_to_end():
    x = rand(16, dtype=np.float32)
    dtypes = []

    def f(x):
        X = np.fft.rfft(x)
        dtypes.append(X.dtype)
        y = np.fft.irfft(X * 2, n=16)
        dtypes.append(y.dtype)
        return np.sum(y ** 2)

    (g,) = pb.gradient(f, x)
    assert g.dtype == np.float32
    assert dtypes == [np.complex64, np.float32]
    np.testing.assert_allclose(g, 8 * x, rtol=1e-4)


def test_linear_rules_keep_no_reference_to_their_input():
    refs = []

    def f(x):
        y = np.fft.ifft(x)  # an intermediate that only the next rule could keep alive
        refs.append(weakref.ref(pb.stop_gradient(y)))
        out = np.fft.fft(y, n=20)
        del y
        return out

    z = rand(16, dtype=complex)
    previous = fft_engine.set_engine("pocketfft")  # one engine for the check, whichever is installed
    try:
        _, back = pb.pullback(f, z)
    finally:
        fft_engine.set_engine(previous)
    gc.collect()
    assert refs[0]() is None, "the fft rule kept its input alive"
    check_adjoint(lambda v: np.fft.fft(np.fft.ifft(v), n=20), z)


def test_constant_cotangent_needs_no_transform(monkeypatch):
    calls = []
    for name in ("c2c", "r2c", "c2r"):
        real = getattr(fft_engine, name)

        def counting(*args, _real=real, _name=name, **kwargs):
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(fft_engine, name, counting)
    x = rand(64, dtype=complex)
    _, back = pb.pullback(lambda x: np.sum(np.fft.fft(x)), x)
    calls.clear()
    (g,) = back(np.array(1.0 + 0.5j))
    assert calls == []  # a delta at frequency 0, O(N)
    expected = np.zeros(64, complex)
    expected[0] = 64 * (1.0 + 0.5j)
    np.testing.assert_allclose(g, expected)
    for norm in NORMS:
        for f in (np.fft.fft, np.fft.ifft, np.fft.fft2, np.fft.irfft):
            xs = rand(6, 4, dtype=complex)
            check_adjoint(lambda v: np.sum(f(v, norm=norm), axis=-1), xs)
    check_adjoint(lambda v: np.sum(np.fft.irfft2(v), axis=(0, 1)), rand(3, 4, 3, dtype=complex))


# ---------------------------------------------------------------- the seed (Zygote issue #204)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128, np.float32, np.complex64])
@pytest.mark.parametrize(
    "f",
    [
        lambda x: np.abs(np.sum(np.fft.fft(x))),
        lambda x: np.abs(np.sum(np.fft.ifft(x))),
        lambda x: np.abs(np.fft.fft(x)[1]),
    ],
    ids=["abs_sum_fft", "abs_sum_ifft", "abs_fft_1"],
)
def test_seed_examples(f, dtype):
    x = rand(10, dtype=dtype, seed=204)
    (g,) = pb.gradient(f, x)
    assert g.dtype == dtype
    check_gradient(f, x)


def test_seed_abs_fft_1_value():
    # Zygote's thread printed the gradient of abs(fft(x)[1]) at [1, 2, 3]; check ours by hand:
    x = np.array([1.0, 2.0, 3.0])
    w = np.exp(-2j * np.pi * np.arange(3) / 3)
    X1 = np.sum(x * w)
    expected = np.real(np.conj(w) * X1) / np.abs(X1)
    got = pb.gradient(lambda x: np.abs(np.fft.fft(x)[1]), x)[0]
    np.testing.assert_allclose(got, expected, atol=1e-14)


def test_seed_user_written_adjoint_with_the_n_scaling():
    @pb.custom_adjoint
    def my_fft(x):
        def my_fft_back(g):
            # g is the gradient of sum: a broadcast view every NumPy function accepts
            assert isinstance(g, np.ndarray)
            return (len(g) * np.fft.ifft(g),)

        return np.fft.fft(x), my_fft_back

    x = rand(10, dtype=complex, seed=204)
    ours = pb.gradient(lambda x: np.abs(np.sum(my_fft(x))), x)[0]
    builtin = pb.gradient(lambda x: np.abs(np.sum(np.fft.fft(x))), x)[0]
    np.testing.assert_allclose(ours, builtin, atol=1e-13)
    check_gradient(lambda x: np.abs(np.sum(my_fft(x))), x, modes=("reverse",))


# ---------------------------------------------------------------- programs


def phase_retrieval_loss(x, m):
    return np.sum((np.abs(np.fft.fft2(x)) - m) ** 2)


def test_phase_retrieval():
    x = rand(6, 6)
    m = np.abs(np.fft.fft2(rand(6, 6, seed=5)))
    check_gradient(phase_retrieval_loss, x, m)


def heat_equation_loss(u0, nu):
    n = u0.shape[0]
    k = 2 * np.pi * np.fft.rfftfreq(n, d=1.0 / n)
    u = u0
    for _ in range(20):
        u = np.fft.irfft(np.fft.rfft(u) * np.exp(-nu * k ** 2 * 1e-3), n=n)
        u = u + 0.01 * np.sin(u)
    return np.sum(u ** 2)


def test_heat_equation_solver():
    check_gradient(heat_equation_loss, rand(16), np.array(0.3))


def fno_layer(x, w_re, w_im, modes=3):
    X = np.fft.rfft2(x)
    W = w_re + 1j * w_im
    Y = np.zeros_like(X)
    Y[:, :modes, :modes] = X[:, :modes, :modes] * W
    y = np.fft.irfft2(Y, s=x.shape[-2:])
    return np.sum(np.tanh(y + x) ** 2)


def test_fno_layer():
    x = rand(2, 8, 8)
    check_gradient(fno_layer, x, rand(3, 3), rand(3, 3))
    w32 = [rand(3, 3, dtype=np.float32) for _ in range(2)]
    check_gradient(fno_layer, x.astype(np.float32), *w32)


def test_second_order_through_fft():
    def inner(x, y):
        return np.sum(np.fft.irfft(np.fft.rfft(x) * np.fft.rfft(y), n=8) ** 2)

    check_gradient(lambda x: pb.gradient(inner, x, x8)[1], rand(8))
    check_gradient(lambda z: pb.gradient(lambda w: np.sum(np.abs(np.fft.fft(w * z)) ** 2), z8)[0], z8)


# ---------------------------------------------------------------- engine, errors


def test_set_backend_runs_forward_and_adjoint_transforms():
    calls = []

    class Counting:
        __ua_domain__ = "numpy.scipy.fft"

        @staticmethod
        def __ua_function__(method, args, kwargs):
            if any(isinstance(a, Tracer) for a in args):
                return NotImplemented
            calls.append(method.__name__)
            with scipy.fft.skip_backend(Counting):
                return method(*args, **kwargs)

    with scipy.fft.set_backend(Counting):
        g = pb.gradient(lambda x: np.sum(np.abs(scipy.fft.rfft(x)) ** 2), x8)[0]
    assert "rfftn" in calls and "irfftn" in calls
    expected = pb.gradient(lambda x: np.sum(np.abs(np.fft.rfft(x)) ** 2), x8)[0]
    np.testing.assert_allclose(g, expected)
    calls.clear()
    with scipy.fft.set_backend(Counting):  # numpy.fft's values are NumPy's own; adjoints use the engine
        pb.gradient(lambda x: np.sum(np.abs(np.fft.rfft(x)) ** 2), x8)
    assert calls == ["irfftn"]


def test_set_workers_is_honoured():
    x = rand(64, 64)
    with scipy.fft.set_workers(2):
        g = pb.gradient(lambda x: np.sum(np.abs(np.fft.fft2(x)) ** 2), x)[0]
    np.testing.assert_allclose(g, 2 * 64 * 64 * x)


def _numpy_error(call):
    try:
        call()
    except Exception as e:  # noqa: BLE001
        return type(e), str(e)
    return None


@pytest.mark.parametrize(
    "call",
    [
        lambda x: np.fft.fft(x, n=0),
        lambda x: np.fft.fft(x, axis=3),
        lambda x: np.fft.fft(x, norm="bad"),
        lambda x: np.fft.fftn(x, s=(3, 3), axes=(0,)),
        lambda x: np.fft.rfft(x + 1j),
        lambda x: np.fft.irfft(x, n=-2),
        lambda x: np.fft.fft2(x.reshape(-1)),
    ],
)
def test_bad_input_raises_numpys_own_error(call):
    x = rand(4, 3)
    want = _numpy_error(lambda: call(x))
    assert want is not None
    with pytest.raises(want[0]) as info:
        pb.gradient(lambda x: np.sum(np.abs(call(x))), x)
    assert str(info.value) == want[1]


def test_out_argument_under_tracing_is_a_clear_error():
    buf = np.empty(8, complex)
    with pytest.raises(pb.TracedConversionError):
        pb.gradient(lambda x: np.sum(np.abs(np.fft.fft(x, out=buf))), x8)


def test_minus_one_length_means_the_whole_axis():
    # regression: the one-axis fast path rejected s=(-1,), which NumPy's n-d functions accept
    x = rand(5, 3)
    np.testing.assert_allclose(
        pb.gradient(lambda x: np.sum(np.abs(np.fft.fftn(x, s=(-1,), axes=(0,))) ** 2), x)[0], 2 * 5 * x
    )
    want = _numpy_error(lambda: np.fft.fft(x, n=-1))
    with pytest.raises(want[0], match=re.escape(want[1])):
        pb.gradient(lambda x: np.sum(np.abs(np.fft.fft(x, n=-1))), x)


@pytest.fixture(params=fft_engine.installed_engines())
def engine(request):
    previous = fft_engine.set_engine(request.param)
    yield request.param
    fft_engine.set_engine(previous)


def test_every_installed_engine_gives_exact_adjoints(engine):
    z = rand(6, 5, dtype=complex, seed=3)
    x = z.real.copy()
    for norm in NORMS:
        check_adjoint(lambda v: np.fft.fftn(v, s=(7, 4), axes=(0, 1), norm=norm), z)
        check_adjoint(lambda v: np.fft.ifft(v, n=4, axis=0, norm=norm), z)
        check_adjoint(lambda v: np.fft.rfftn(v, s=(5, 6), axes=(0, 1), norm=norm), x)
        check_adjoint(lambda v: np.fft.irfftn(v, s=(4, 7), axes=(0, 1), norm=norm), z)
        check_adjoint(lambda v: np.fft.hfft(v, n=9, norm=norm), z)
    check_adjoint(lambda v: np.fft.rfft2(v), x.astype(np.float32))
    check_adjoint(lambda v: np.fft.irfft2(v, s=(7, 5)), z.astype(np.complex64))
    check_adjoint(lambda v: np.fft.fftn(v[::2, 1:], axes=(1, 0)), rand(11, 13, dtype=complex, seed=4))
    check_gradient(fno_layer, rand(2, 8, 8), rand(3, 3), rand(3, 3))


def test_pullbacks_leave_the_cotangent_alone(engine):
    # the adjoint of rfftn lets the engine overwrite its scratch copy, never the caller's cotangent
    for shape, axes in [((3, 6, 10), (1, 2)), ((5, 9), (0, 1)), ((300, 256), (0, 1))]:
        x = rand(*shape)
        y, back = pb.pullback(lambda x: np.fft.rfftn(x, axes=axes), x)
        g = rand(*y.shape, dtype=complex, seed=5)
        kept = g.copy()
        (first,) = back(g)
        np.testing.assert_array_equal(g, kept)
        np.testing.assert_allclose(back(g)[0], first)
        check_adjoint(lambda v: np.fft.rfftn(v, axes=axes), x[..., :4, :5])


def test_a_scaled_real_transform_equals_the_scaled_result(engine):
    # c2r's adjoint asks the engine for 2 * rfftn (MKL folds the 2 into its scale)
    from pullback.rules.fft import _r2c_cotangent

    for x, s, axes in [
        (rand(4, 6, 10), (6, 10), (1, 2)),
        (rand(300, 256).astype(np.float32), (300, 256), (0, 1)),
        (rand(5, 7, 3), (7,), (1,)),  # batch axes that do not collapse (MKL falls back)
        (np.broadcast_to(rand(4, 1), (4, 9)), (9,), (1,)),  # constant along the axis: a delta
    ]:
        for norm in NORMS:
            want = 2 * np.fft.rfftn(x, s=s, axes=axes, norm=norm)
            got = _r2c_cotangent(x, s, axes, norm, None, factor=2)
            tol = 1e-5 if x.dtype == np.float32 else 1e-12
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())
            assert got.dtype == np.result_type(x.dtype, np.complex64)


@pytest.mark.parametrize("installed", [(), ("ducc0",), ("pyfftw",), ("ducc0", "pyfftw"), ("mkl", "ducc0")])
def test_auto_engine_follows_a_fixed_rule_without_timing(monkeypatch, installed):
    # regression: "auto" timed every engine on first use, so two runs could differ in engine,
    # memory and last bits. Now: pocketfft below ENGINE_SIZE, else MKL, then ducc0 (not for
    # prime lengths), then pocketfft; pyFFTW never.
    for name in fft_engine._IMPORTS:
        if name not in installed:
            monkeypatch.setitem(fft_engine._modules, name, None)  # as if not installed
        elif fft_engine._module(name) is None:
            pytest.skip(f"{name} is not installed")
    monkeypatch.setattr(fft_engine, "_AUTO", [])
    big = fft_engine.ENGINE_SIZE
    large = "mkl" if "mkl" in installed else "ducc0" if "ducc0" in installed else "pocketfft"
    assert fft_engine.auto_engine("c2c", (64,), 64) == "pocketfft"
    assert fft_engine.auto_engine("c2c", (big,), big) == large
    assert fft_engine.auto_engine("r2c", (16, 256, 256), 16 * 256 * 256) == large
    prime = 65537
    assert fft_engine.auto_engine("c2c", (prime,), prime) == ("pocketfft" if large == "ducc0" else large)
    assert fft_engine.auto_engine("c2c", (2**20 + 1,), 2**20 + 1) == large  # composite: ducc0's fine

    calls = []
    for name in ("pocketfft", *installed):
        real = fft_engine._KERNELS[name]["c2c"]

        def spy(x, *args, _real=real, _name=name):
            calls.append((_name, x.shape))
            return _real(x, *args)

        monkeypatch.setitem(fft_engine._KERNELS[name], "c2c", spy)
    monkeypatch.setattr(fft_engine, "_engine", "auto")
    x = rand(big, dtype=complex)
    g = pb.gradient(lambda x: np.sum(np.abs(np.fft.fft(x)) ** 2), x)[0]
    np.testing.assert_allclose(g, 2 * x.size * x, rtol=1e-10)
    # the adjoint (and the fft itself, unless its value is NumPy's own), once each, untimed
    once = [large] if pb.rules.fft.NUMPY_VALUES else [large, large]
    assert [name for name, shape in calls if shape == x.shape] == once
    calls.clear()
    pb.gradient(lambda x: np.sum(np.abs(np.fft.fft(x[:64])) ** 2), x)
    assert {name for name, _ in calls} == {"pocketfft"}  # small transforms stay on pocketfft


def test_auto_computes_values_on_scipys_kernels_and_gradients_on_the_fastest(monkeypatch):
    # "auto" with ducc0 (a dependency) or MKL installed: the forward value of a large traced
    # scipy.fft call is SciPy's own, bit for bit; only the backward sweep's transforms (whose
    # results are gradients) run on the faster engine.
    import scipy.fft as sfft

    large = fft_engine.auto_engine("c2c", (fft_engine.ENGINE_SIZE,), fft_engine.ENGINE_SIZE)
    if large == "pocketfft":
        pytest.skip("no faster engine installed")
    monkeypatch.setattr(fft_engine, "_engine", "auto")
    calls = []
    for name in {"pocketfft", large}:
        for kind in ("c2c", "r2c", "c2r"):
            real = fft_engine._KERNELS[name][kind]

            def spy(x, *args, _real=real, _name=name, _kind=kind):
                calls.append((_name, _kind))
                return _real(x, *args)

            monkeypatch.setitem(fft_engine._KERNELS[name], kind, spy)
    x = rand(64, 1024)
    for f in (lambda x: sfft.rfft(x), lambda x: sfft.fft2(x), lambda x: sfft.irfft(sfft.rfft(x) * 1j)):
        calls.clear()
        value, back = pb.pullback(f, x)
        assert value.tobytes() == f(x).tobytes()
        assert {name for name, _ in calls} == {"pocketfft"}
        calls.clear()
        back(np.ones_like(value))
        assert {name for name, _ in calls} == {large}


def test_unknown_or_missing_engine_is_a_clear_error(monkeypatch):
    with pytest.raises(ValueError, match="unknown FFT engine 'fftpack'"):
        fft_engine.set_engine("fftpack")
    monkeypatch.setitem(fft_engine._modules, "ducc0", None)  # as if not installed
    with pytest.raises(ImportError, match="pip install ducc0"):
        fft_engine.set_engine("ducc0")
    assert "ducc0" not in fft_engine.installed_engines()


def test_non_native_byte_order_takes_the_general_path():
    x = np.arange(8.0)
    f = lambda x: np.sum(np.abs(np.fft.rfft(x)) ** 2)
    np.testing.assert_allclose(pb.gradient(f, x.astype(">f8"))[0], pb.gradient(f, x)[0])


@pytest.mark.parametrize(
    "name", ["pocketfft", "fftpack"] + [e for e in fft_engine.installed_engines() if e in fft_engine._IMPORTS]
)
def test_engine_chosen_by_environment_variable(name):
    # regression: PULLBACK_FFT_ENGINE=mkl (or ducc0) set the engine without loading it
    import os
    import subprocess
    import sys

    code = (
        "import numpy as np, pullback as pb\n"
        "from pullback.engines import fft as fft_engine\n"
        "x = np.random.default_rng(0).standard_normal(40000)\n"
        "g = pb.gradient(lambda x: np.sum(np.abs(np.fft.fft(x)) ** 2), x)[0]\n"
        "assert np.allclose(g, 2 * x.size * x, rtol=1e-9, atol=1e-9 * x.size), 'wrong gradient'\n"
        "print(fft_engine.get_engine())\n"
    )
    env = dict(os.environ, PULLBACK_FFT_ENGINE=name)
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if name == "fftpack":
        assert run.returncode != 0 and "PULLBACK_FFT_ENGINE='fftpack': unknown FFT engine" in run.stderr
    else:
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == name


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 8])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_interior_scaling_equals_the_bin_weights(n, axis):
    from pullback.rules.fft import _bin_weights, _scale_interior

    shape = [3, 2, 4]
    shape[axis] = n // 2 + 1
    real, imag = np.random.default_rng(n).standard_normal((2, *shape))
    x = (real + 1j * imag).astype(np.complex64)
    for factor in (0.5, 2.0):
        want = x * _bin_weights(x, axis, n, factor)
        np.testing.assert_array_equal(_scale_interior(x, axis, n, factor), want)


@settings(max_examples=40, deadline=None)
@given(
    shape=st.lists(st.integers(1, 6), min_size=1, max_size=3),
    data=st.data(),
)
def test_hermitian_edges_leave_numpys_irfftn_unchanged(shape, data):
    # the projection sent to libraries whose c2r assumes a Hermitian input (cuFFT, CuPy)
    from pullback.engines.fft import _half, fit_any, hermitian_edges

    ndim = len(shape)
    axes = tuple(data.draw(st.permutations(range(ndim)))[: data.draw(st.integers(1, ndim))])
    s = tuple(data.draw(st.integers(1, 9)) for _ in axes)
    rng = np.random.default_rng(len(shape) + sum(s))
    x = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)  # not Hermitian anywhere
    y = hermitian_edges(fit_any(x, _half(s), axes), s, axes)
    np.testing.assert_allclose(np.fft.irfftn(y, s=s, axes=axes), np.fft.irfftn(x, s=s, axes=axes), atol=1e-12)
    np.testing.assert_allclose(hermitian_edges(y, s, axes), y, atol=1e-15)  # a projection


# ---------------------------------------------------------------- NumPy's errors and values (issue 22.12)


@pytest.mark.parametrize("name", ["fftn", "ifftn", "fft2", "ifft2", "rfftn", "rfft2", "irfftn", "irfft2"])
@pytest.mark.parametrize("kw", [{"axes": ()}, {"s": (True,), "axes": (0,)}, {"s": (np.True_,), "axes": (0,)},
                                {"s": (False,), "axes": (0,)}])
def test_empty_axes_and_bool_lengths_behave_as_in_numpy(name, kw):
    f = getattr(np.fft, name)
    x = np.arange(6.0).reshape(2, 3)
    try:
        want = f(x, **kw)
    except Exception as e:  # noqa: BLE001 - the very exception NumPy raises
        with pytest.raises(type(e)) as info:
            pb.jvp(lambda x: f(x, **kw), (x,), (x,))
        assert str(info.value) == str(e)
        return
    got, tangent = pb.jvp(lambda x: f(x, **kw), (x,), (x,))
    assert got.dtype == want.dtype and np.array_equal(got, want)
    np.testing.assert_allclose(tangent, want)  # linear: the tangent along x is the value


@pytest.mark.parametrize("name", ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft"])
@pytest.mark.parametrize("n", [True, False, np.True_, np.False_])
def test_a_bool_n_is_what_numpy_makes_of_it(name, n):
    f = getattr(np.fft, name)
    x = np.arange(4.0)
    try:
        want = f(x, n=n)
    except Exception as e:  # noqa: BLE001
        with pytest.raises(type(e)) as info:
            pb.gradient(lambda x: np.sum(np.abs(f(x, n=n))), x)
        assert str(info.value) == str(e)
        return
    got = pb.jvp(lambda x: f(x, n=n), (x,), (x,))[0]
    assert np.array_equal(got, want)


def test_numpy_values_through_the_gufuncs_are_numpys_bits():
    from pullback.rules import fft as F

    if not F.NUMPY_VALUES:
        pytest.skip("NumPy 1.x: the engine computes the values")
    assert F._NUMPY_1D, "the direct gufunc paths failed their check against NumPy"
    rng = np.random.default_rng(3)
    for dtype in (np.float32, np.float64, np.complex64, np.complex128):
        x = rng.standard_normal((5, 12)).astype(dtype)
        for f in (np.fft.fft, np.fft.ifft, np.fft.rfft, np.fft.irfft, np.fft.hfft, np.fft.ihfft):
            if f in (np.fft.rfft, np.fft.ihfft) and x.dtype.kind == "c":
                continue
            for kw in ({}, {"n": 7}, {"n": 16, "axis": 0}, {"norm": "ortho"}, {"norm": "forward", "axis": 0}):
                want = f(x, **kw)
                got = pb.pullback(lambda v: f(v, **kw), x)[0]
                assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), (f.__name__, dtype, kw)
