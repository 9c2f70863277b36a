"""scipy.fft: the uarray backend, dense-matrix adjoints of every transform and option, programs."""

import gc
import weakref

import numpy as np
import pytest
import scipy.fft as sfft
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import pullback as pb
from pullback.errors import NoRuleError
from pullback.rules import registry as R
from pullback.rules import scipy_fft as S
from pullback.testing import check_adjoint, check_gradient

from .cases import rand

NORMS = [None, "backward", "ortho", "forward"]
KINDS = ["dct", "idct", "dst", "idst"]

x7 = rand(7)
x8 = rand(8)
z8 = rand(8, dtype=complex)
x45 = rand(4, 5)
z45 = rand(4, 5, dtype=complex)
z345 = rand(3, 4, 5, dtype=complex)
x345 = rand(3, 4, 5)

CASES = [
    (sfft.fft, lambda x: sfft.fft(x, n=10), (z8,)),
    (sfft.ifft, lambda x: sfft.ifft(x, n=6, norm="ortho"), (z8,)),
    (sfft.fft2, lambda x: sfft.fft2(x, s=(3, 6)), (z45,)),
    (sfft.ifft2, sfft.ifft2, (x45,)),
    (sfft.fftn, lambda x: sfft.fftn(x, axes=(2, 0), norm="forward"), (z345,)),
    (sfft.ifftn, sfft.ifftn, (z45,)),
    (sfft.rfft, lambda x: sfft.rfft(x, n=9), (x8,)),
    (sfft.irfft, lambda x: sfft.irfft(x, n=9), (z8,)),
    (sfft.rfft2, sfft.rfft2, (x45,)),
    (sfft.irfft2, lambda x: sfft.irfft2(x, s=(4, 7)), (z45,)),
    (sfft.rfftn, lambda x: sfft.rfftn(x, s=(5, 4), axes=(2, 0)), (x345,)),
    (sfft.irfftn, lambda x: sfft.irfftn(x, norm="ortho"), (z345,)),
    (sfft.hfft, sfft.hfft, (z8,)),
    (sfft.ihfft, lambda x: sfft.ihfft(x, norm="forward"), (x7,)),
    (sfft.hfft2, sfft.hfft2, (z45,)),
    (sfft.ihfft2, sfft.ihfft2, (x45,)),
    (sfft.hfftn, lambda x: sfft.hfftn(x, s=(3, 6), axes=(0, 1)), (z345,)),
    (sfft.ihfftn, lambda x: sfft.ihfftn(x, axes=(1, 2)), (x345,)),
    (sfft.dct, lambda x: sfft.dct(x, type=1, n=9), (x7,)),
    (sfft.idct, lambda x: sfft.idct(x, norm="ortho"), (x8,)),
    (sfft.dst, lambda x: sfft.dst(x, type=3, norm="forward"), (z8,)),
    (sfft.idst, lambda x: sfft.idst(x, type=4, n=5), (x8,)),
    (sfft.dctn, lambda x: sfft.dctn(x, type=3, axes=(0, 2)), (x345,)),
    (sfft.idctn, lambda x: sfft.idctn(x, type=1, s=(5, 3), norm="ortho"), (x45,)),
    (sfft.dstn, lambda x: sfft.dstn(x, type=2, orthogonalize=True), (x45,)),
    (sfft.idstn, lambda x: sfft.idstn(x, type=1, axes=1), (z45,)),
    (sfft.fht, lambda a: sfft.fht(a, 0.1, 0.5, offset=0.2, bias=0.3), (x8,)),
    (sfft.ifht, lambda a: sfft.ifht(a, 0.05, -0.5), (x45,)),
]




def test_every_dispatched_scipy_fft_function_has_a_rule():
    for name in sfft.__all__:
        f = getattr(sfft, name)
        if type(f).__name__ == "_Function":  # a uarray multimethod
            assert R.KINDS.get(f) == "composite", name


# ---------------------------------------------------------------- DCT/DST: the whole grid, dense


def _dtype(complex_input, single):
    if complex_input:
        return np.complex64 if single else np.complex128
    return np.float32 if single else np.float64


@pytest.mark.parametrize("orthogonalize", [None, True, False])
@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("type", [1, 2, 3, 4])
@pytest.mark.parametrize("kind", KINDS)
def test_r2r_adjoint_every_type_norm_orthogonalize(kind, type, norm, orthogonalize):
    func = getattr(sfft, kind)
    # odd, even and prime lengths; n crops (7 -> 4) and pads (4 -> 11); real and complex
    lengths = [(5, None, False), (8, None, True), (7, 4, False), (4, 11, True), (2, None, False)]
    for length, n, cplx in lengths:
        x = rand(length, dtype=complex if cplx else float, seed=length)
        check_adjoint(lambda v: func(v, type=type, n=n, norm=norm, orthogonalize=orthogonalize), x)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("type", [1, 2, 3, 4])
def test_orthonormal_r2r_adjoint_is_its_inverse_unscaled(kind, type):
    # norm="ortho" with orthogonalisation: an orthogonal matrix, no scale vectors at all
    assert S.adjoint_scales(kind, type, "ortho", True) == ((0, 0), (0, 0))
    M = check_adjoint(lambda v: getattr(sfft, kind)(v, type=type, norm="ortho"), rand(6))
    np.testing.assert_allclose(M.T @ M, np.eye(6), atol=1e-12)


R2R_1D = {"dct": sfft.dct, "idct": sfft.idct, "dst": sfft.dst, "idst": sfft.idst}
R2R_ND = {"dctn": sfft.dctn, "idctn": sfft.idctn, "dstn": sfft.dstn, "idstn": sfft.idstn}
SIZES = [1, 2, 3, 4, 5, 7, 8]


def _same_error(call_plain, call_traced):
    """Both calls raise the same exception and message (SciPy's own)."""
    with pytest.raises(Exception) as plain:
        call_plain()
    with pytest.raises(type(plain.value)) as traced:
        call_traced()
    assert str(traced.value) == str(plain.value)


def _check_or_same_error(f, x):
    """check_adjoint(f, x) where SciPy accepts the call, else the same error from the traced call."""
    try:
        f(x)
    except Exception:
        _same_error(lambda: f(x), lambda: pb.gradient(lambda v: np.sum(np.abs(f(v))), x))
        return
    check_adjoint(f, x)


@settings(max_examples=80, deadline=None)
@given(
    name=st.sampled_from(sorted(R2R_1D) + sorted(R2R_ND)),
    type=st.sampled_from([1, 2, 3, 4]),
    shape=st.lists(st.sampled_from(SIZES), min_size=1, max_size=3),
    data=st.data(),
    norm=st.sampled_from(NORMS),
    orthogonalize=st.sampled_from([None, True, False]),
    complex_input=st.booleans(),
    single=st.booleans(),
)
def test_r2r_adjoint_swept(name, type, shape, data, norm, orthogonalize, complex_input, single):
    ndim = len(shape)
    x = rand(*shape, dtype=_dtype(complex_input, single), seed=sum(shape))
    if name in R2R_1D:
        axis = data.draw(st.integers(-ndim, ndim - 1), "axis")
        n = data.draw(st.sampled_from([None, 1, 2, 3, 6, 7]), "n")
        func = R2R_1D[name]
        f = lambda v: func(v, type=type, n=n, axis=axis, norm=norm, orthogonalize=orthogonalize)
    else:
        axes = data.draw(st.one_of(st.none(), st.permutations(range(ndim)).flatmap(
            lambda p: st.integers(1, ndim).map(lambda k: tuple(p[:k])))), "axes")
        naxes = ndim if axes is None else len(axes)
        s = data.draw(st.one_of(st.none(), st.lists(st.sampled_from([-1] + SIZES), min_size=naxes,
                                                    max_size=naxes)), "s")
        func = R2R_ND[name]
        f = lambda v: func(v, type=type, s=s, axes=axes, norm=norm, orthogonalize=orthogonalize)
    _check_or_same_error(f, x)


def test_complex_input_follows_scipy_orthogonalize_handling():
    # SciPy transforms real and imaginary parts of a complex input separately; whatever it does
    # with an explicit `orthogonalize` there, the gradient is that of the value it returns
    z = rand(6, dtype=complex)
    for flag in (True, False):
        for norm in NORMS:
            check_adjoint(lambda v: sfft.dctn(v, type=2, norm=norm, orthogonalize=flag), z)
            check_adjoint(lambda v: sfft.idst(v, type=1, norm=norm, orthogonalize=flag), z)


# ---------------------------------------------------------------- the FFT family, dense

C2C = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn"]
R2C = ["rfft", "rfft2", "rfftn", "ihfft", "ihfft2", "ihfftn"]
C2R = ["irfft", "irfft2", "irfftn", "hfft", "hfft2", "hfftn"]


@settings(max_examples=100, deadline=None)
@given(
    name=st.sampled_from(C2C + R2C + C2R),
    shape=st.lists(st.sampled_from(SIZES), min_size=1, max_size=3),
    data=st.data(),
    norm=st.sampled_from(NORMS),
    complex_input=st.booleans(),
    single=st.booleans(),
)
def test_fft_adjoint_swept(name, shape, data, norm, complex_input, single):
    ndim = len(shape)
    complex_input = (complex_input or name in C2R) and name not in R2C
    x = rand(*shape, dtype=_dtype(complex_input, single), seed=len(shape) + sum(shape))
    func = getattr(sfft, name)
    if not name.endswith(("2", "n")):
        axis = data.draw(st.integers(-ndim, ndim - 1), "axis")
        n = data.draw(st.sampled_from([None, 1, 2, 3, 5, 8]), "n")
        workers = data.draw(st.sampled_from([None, 1, 2]), "workers")
        f = lambda v: func(v, n=n, axis=axis, norm=norm, workers=workers)
    else:
        k = 2 if name.endswith("2") else None
        axes = data.draw(st.one_of(st.none(), st.permutations(range(ndim)).flatmap(
            lambda p: st.integers(1, ndim).map(lambda j: tuple(p[:j])))), "axes")
        if k is not None:
            assume(ndim >= 2)
            axes = axes if axes is not None and len(axes) == 2 else (-2, -1)
        naxes = ndim if axes is None else len(axes)
        s = data.draw(st.one_of(st.none(), st.lists(st.sampled_from([-1] + SIZES), min_size=naxes,
                                                    max_size=naxes)), "s")
        f = lambda v: func(v, s=s, axes=axes, norm=norm)
    _check_or_same_error(f, x)


def test_hermitian_transforms_are_conjugated_real_transforms():
    z = rand(3, 5, dtype=complex)
    x = z.real.copy()
    for norm in NORMS:
        swapped = S.F.swap_norm(norm)
        np.testing.assert_allclose(sfft.hfftn(z, norm=norm), sfft.irfftn(np.conj(z), norm=swapped))
        np.testing.assert_allclose(sfft.ihfftn(x, norm=norm), np.conj(sfft.rfftn(x, norm=swapped)))
        check_adjoint(lambda v: sfft.hfft2(v, s=(4, 6), norm=norm), z)
        check_adjoint(lambda v: sfft.ihfft(v, n=7, axis=0, norm=norm), x)


# ---------------------------------------------------------------- fast Hankel transforms


@pytest.mark.parametrize("n", [7, 8])
@pytest.mark.parametrize("params", [
    dict(dln=0.1, mu=0.5),
    dict(dln=0.05, mu=-0.5, offset=0.3, bias=0.7),
    dict(dln=0.2, mu=2.0, offset=-1.0, bias=-0.4),
])
def test_fht_is_self_adjoint(n, params):
    a = rand(2, n, seed=n)
    for func in (sfft.fht, sfft.ifht):
        M = check_adjoint(lambda v: func(v, **params), a[0])
        np.testing.assert_allclose(M, M.T, atol=1e-10)
        check_adjoint(lambda v: func(v, **params), a)
    check_adjoint(lambda v: sfft.fht(v, **params), a.astype(np.float32))


def test_fht_constants_are_not_differentiable():
    with pytest.raises(TypeError, match="linear in its first argument"):
        pb.gradient(lambda a, dln: np.sum(sfft.fht(a, dln, 0.5)), x8, np.array(0.1))


# ---------------------------------------------------------------- programs, higher order


def test_gradient_of_gradient_dct_type2():
    w = rand(4, 6, seed=3)

    def loss(v):
        return np.sum(np.sin(sfft.dct(v, type=2)) * w)

    check_gradient(lambda v: pb.gradient(loss, v)[0], rand(4, 6))
    check_gradient(lambda v: pb.gradient(lambda u: np.sum(np.cos(sfft.idctn(u, type=2, norm="ortho"))), v)[0],
                   rand(3, 5))


def test_gradient_of_gradient_rfftn():
    def loss(v):
        return np.sum(np.abs(sfft.rfftn(v * v, s=(5, 8))) ** 2)

    check_gradient(lambda v: pb.gradient(loss, v)[0], rand(4, 6))
    H = pb.hessian(lambda v: np.sum(sfft.dst(v, type=1) ** 3), x7)
    D = sfft.dst(np.eye(7), type=1, axis=0)
    np.testing.assert_allclose(H, D.T @ np.diag(6 * (D @ x7)) @ D, rtol=1e-10, atol=1e-10)


def _soft(c, theta):
    return np.sign(c) * np.maximum(np.abs(c) - theta, 0.0)


def _smooth_soft(c, theta):
    return c * (1.0 - theta / np.sqrt(c ** 2 + theta ** 2))


@pytest.mark.parametrize("shrink", [_soft, _smooth_soft], ids=["soft", "smooth"])
def test_dct_shrinkage_denoising(shrink):
    clean = np.outer(np.cos(np.linspace(0, 3, 12)), np.sin(np.linspace(0, 2, 10)))
    noisy = clean + 0.1 * rand(12, 10, seed=7)

    def loss(y, theta):
        coeffs = sfft.dctn(y, norm="ortho")
        estimate = sfft.idctn(shrink(coeffs, theta), norm="ortho")
        return np.sum((estimate - clean) ** 2)

    check_gradient(loss, noisy, np.array(0.15))
    check_gradient(loss, noisy.astype(np.float32), np.array(0.15, np.float32))


def test_dst1_poisson_solve_in_a_loss():
    # -u'' = f on (0, 1), u(0) = u(1) = 0: DST-I diagonalises the second difference
    n = 15
    h = 1.0 / (n + 1)
    lam = (2 - 2 * np.cos(np.pi * np.arange(1, n + 1) / (n + 1))) / h ** 2
    target = np.sin(np.pi * np.linspace(h, 1 - h, n))

    def loss(f, kappa):
        u = sfft.idst(sfft.dst(f, type=1) / (kappa * lam), type=1)
        return np.sum((u - target) ** 2) + 1e-3 * np.sum(f ** 2)

    check_gradient(loss, rand(n, seed=11), np.array(1.3))
    # the solve itself is linear in f: its adjoint is the same solve (symmetric)
    M = check_adjoint(lambda f: sfft.idst(sfft.dst(f, type=1) / lam, type=1), rand(n))
    np.testing.assert_allclose(M, M.T, atol=1e-12)


def test_sum_cotangent_of_r2r_matches_dense_adjoint(monkeypatch):
    from pullback.engines import fft as fft_engine

    shapes = []
    real = fft_engine.r2r
    monkeypatch.setattr(fft_engine, "r2r", lambda x, *a, **k: shapes.append(x.shape) or real(x, *a, **k))
    _, back = pb.pullback(lambda v: np.sum(sfft.dctn(v, type=2)), rand(50, 60))
    shapes.clear()
    back(1.0)
    assert shapes == [(50,), (60,)]  # the sum's stride-0 cotangent: 1-D transforms only, O(N)

    x = rand(5, 6)
    for kind in ("dctn", "idctn", "dstn", "idstn"):
        for type in (1, 2, 3, 4):
            for norm in ("backward", "ortho", "forward"):
                f = lambda v: getattr(sfft, kind)(v, type=type, s=(7, 4), norm=norm)
                (g,) = pb.gradient(lambda v: np.sum(f(v)), x)  # a broadcast (stride-0) cotangent
                M = check_adjoint(f, x) if type == 2 and norm == "ortho" else None
                _, back = pb.pullback(f, x)
                np.testing.assert_allclose(g, back(np.ones((7, 4)))[0], rtol=1e-12, atol=1e-12)
                if M is not None:
                    np.testing.assert_allclose(g.ravel(), M.T @ np.ones(28), atol=1e-12)


# ---------------------------------------------------------------- memory, overwrite_x, backends


@pytest.mark.parametrize("consumer", [
    lambda y: sfft.dctn(y, type=1),
    lambda y: sfft.idst(y, type=4, n=20),
    lambda y: sfft.fft2(y),
    lambda y: sfft.rfftn(y),
    lambda y: sfft.fht(y, 0.1, 0.5),
], ids=["dctn", "idst", "fft2", "rfftn", "fht"])
def test_linear_rules_keep_no_reference_to_their_input(consumer):
    refs = []

    def f(x):
        y = sfft.idct(x)  # an intermediate that only the next rule could keep alive
        refs.append(weakref.ref(pb.stop_gradient(y)))
        out = consumer(y)
        del y
        return out

    x = rand(4, 16)
    out, back = pb.pullback(f, x)
    gc.collect()
    assert refs[0]() is None, "a linear rule kept its input alive"
    g = rand(*out.shape, dtype=out.dtype)
    g0 = g.copy()
    (ct,) = back(g)
    np.testing.assert_array_equal(g, g0)  # the cotangent was not overwritten
    np.testing.assert_allclose(back(g)[0], ct)  # and back runs twice
    check_adjoint(lambda v: consumer(sfft.idct(v)), x)


def test_overwrite_x_never_corrupts_the_gradient():
    x = rand(6, 8)
    x0 = x.copy()

    def f(v):
        y = np.sin(v)
        kept = np.sum(y ** 3)  # power keeps y for the backward pass
        a = sfft.dct(y, overwrite_x=True)
        b = sfft.fft(y, overwrite_x=True)
        c = sfft.idstn(y, type=1, overwrite_x=True)
        return kept + np.sum(a ** 2) + np.sum(np.abs(b) ** 2) + np.sum(c * y)

    def reference(v):
        y = np.sin(v)
        return (np.sum(y ** 3) + np.sum(sfft.dct(y) ** 2) + np.sum(np.abs(sfft.fft(y)) ** 2)
                + np.sum(sfft.idstn(y, type=1) * y))

    g = pb.gradient(f, x)[0]
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_allclose(g, pb.gradient(reference, x)[0], rtol=1e-12, atol=1e-12)  # (last bits: layout)
    check_gradient(reference, x)
    np.testing.assert_allclose(pb.gradient(lambda v: np.sum(sfft.dct(v, overwrite_x=True) ** 2), x)[0],
                               pb.gradient(lambda v: np.sum(sfft.dct(v) ** 2), x)[0])
    np.testing.assert_array_equal(x, x0)


class _Recorder:
    """A scipy.fft backend that records the plain-array calls it sees and passes them on."""

    __ua_domain__ = "numpy.scipy.fft"
    calls: list = []

    @staticmethod
    def __ua_function__(method, args, kwargs):
        x = args[0] if args else kwargs.get("x")
        if type(x) is np.ndarray:
            _Recorder.calls.append((method.__name__, kwargs.get("workers")))
        return NotImplemented


@pytest.mark.parametrize("f", [
    lambda v: sfft.dctn(v, type=3, norm="forward", workers=2),
    lambda v: sfft.rfftn(v, s=(5, 6), workers=2),
    lambda v: sfft.ifft(v, n=9, workers=2),
    lambda v: sfft.hfft(v, workers=2),
], ids=["dctn", "rfftn", "ifft", "hfft"])
def test_workers_and_backend_reach_forward_and_adjoint_transforms(f):
    x = rand(4, 6)
    _Recorder.calls = []
    with sfft.set_backend(_Recorder):
        out, back = pb.pullback(lambda v: f(v), x)
        back(np.ones_like(out))
        (t,) = pb.jvp(f, (x,), (x,))[1:]
    assert len(_Recorder.calls) >= 3  # forward, adjoint and tangent transforms all went through it
    assert all(w == 2 for _, w in _Recorder.calls), _Recorder.calls


def test_plain_calls_are_left_to_the_chosen_backend():
    x = rand(8)
    assert S.Backend.__ua_function__(sfft.dct, (x,), {}) is NotImplemented
    assert S.Backend.__ua_function__(sfft.fft, (), {"x": [1.0, 2.0]}) is NotImplemented
    np.testing.assert_array_equal(sfft.dct(x), sfft.dct(x))


def test_traced_values_in_keywords_and_lists():
    x = rand(5)
    check_gradient(lambda v: sfft.dctn(x=v, norm="ortho"), x)
    check_gradient(lambda v: sfft.dct([v[0], 2.0 * v[1], 1.5, v[4]], type=2), x)
    check_gradient(lambda v: sfft.fft((v[:2], v[2:4]), axis=0), x)


def test_shifts_and_frequencies():
    x = rand(6, 5, dtype=complex)

    def f(v):
        k = sfft.fftfreq(6, d=0.5)[:, None] + sfft.rfftfreq(8)[:5]
        assert type(k) is np.ndarray
        m = sfft.next_fast_len(37) - sfft.prev_fast_len(37)
        return np.abs(sfft.fftshift(sfft.fft2(v), axes=0) * k + m * sfft.ifftshift(v)) ** 2

    check_gradient(f, x)
    check_adjoint(lambda v: sfft.fftshift(v), x)
    check_adjoint(lambda v: sfft.ifftshift(v, axes=(1,)), x)


def test_invalid_arguments_raise_scipys_own_errors():
    x, z = rand(4, 6), rand(4, 6, dtype=complex)
    cases = [
        (sfft.fft, x, dict(norm="bad")), (sfft.fft, x, dict(n=0)), (sfft.fft, x, dict(n=-1)),
        (sfft.fft, x, dict(axis=5)), (sfft.fftn, x, dict(axes=(0, 0))),
        (sfft.fftn, x, dict(s=(3,), axes=(0, 1))),
        (sfft.fftn, x, dict(s=(1, 2, 3))), (sfft.rfft, z, {}), (sfft.rfftn, z, {}), (sfft.ihfft, z, {}),
        (sfft.irfft, x[:, :1], {}), (sfft.hfft, x, dict(norm="x")), (sfft.rfftn, x, dict(axes=())),
        (sfft.dct, x, dict(type=5)), (sfft.dct, x, dict(type=1, n=1)), (sfft.dctn, x, dict(axes=(1, 1))),
        (sfft.dst, x, dict(norm="bad")), (sfft.dct, x, dict(workers=0)), (sfft.fftn, x, dict(s=(2.5, 3))),
        (sfft.fft, x, dict(plan=object())), (sfft.rfft2, x, dict(plan="plan")), (sfft.hfftn, z, dict(plan=1)),
        (sfft.fht, z, dict(dln=0.1, mu=0.5)),
    ]
    for func, a, kw in cases:
        _same_error(lambda: func(a, **kw), lambda: pb.gradient(lambda v: np.sum(np.abs(func(v, **kw))), a))


def test_empty_axes_return_the_input_as_scipy_does():
    x = rand(3, 4)
    for func in (sfft.fftn, sfft.ifftn, sfft.dctn, sfft.idstn):
        assert func(x, axes=()) is x
        np.testing.assert_allclose(pb.gradient(lambda v: np.sum(func(v, axes=()) ** 2), x)[0], 2 * x)


def test_missing_rule_names_the_function(monkeypatch):
    monkeypatch.delitem(R.FUNCTIONS, sfft.dst)
    with pytest.raises(NoRuleError, match="scipy.fft.dst"):
        pb.gradient(lambda v: np.sum(sfft.dst(v)), x8)


def test_user_adjoint_overrides_a_scipy_fft_rule(monkeypatch):
    monkeypatch.setitem(R.FUNCTIONS, sfft.dst, R.FUNCTIONS[sfft.dst])
    monkeypatch.setitem(R.KINDS, sfft.dst, R.KINDS[sfft.dst])
    used = []

    @pb.adjoint(sfft.dst)
    def dst_rule(x, type=2, n=None, axis=-1, norm=None, overwrite_x=False, workers=None, orthogonalize=None):
        used.append(type)
        return sfft.dst(x, type=type), lambda g: (3.0 * g,)  # deliberately not the true adjoint

    g = pb.gradient(lambda v: np.sum(sfft.dst(v, type=4) * x7), x8[:7])[0]
    assert used == [4]
    np.testing.assert_allclose(g, 3.0 * x7)


# ---------------------------------------------------------------- pyFFTW

@pytest.fixture
def pyfftw_backend():
    return pytest.importorskip("pyfftw.interfaces.scipy_fft")


class _Spy:
    """Wraps a backend and records the calls it answered."""

    __ua_domain__ = "numpy.scipy.fft"

    def __init__(self, inner):
        self.inner = inner
        self.calls = []

    def __ua_function__(self, method, args, kwargs):
        out = self.inner.__ua_function__(method, args, kwargs)
        if out is not NotImplemented:
            self.calls.append(method.__name__)
        return out


PYFFTW_PROGRAMS = {
    "dctn": lambda v: sfft.dctn(v, type=2, norm="ortho"),
    "idst": lambda v: sfft.idst(v, type=1),
    "rfftn": lambda v: sfft.rfftn(v, s=(4, 10)),
    "fft": lambda v: sfft.fft(v, axis=0),
    "irfft": lambda v: sfft.irfft(v + 0.5j * v, n=9),
    "hfft": lambda v: sfft.hfft(v),
    "ihfft": lambda v: sfft.ihfft(v),
}


@pytest.mark.parametrize("name", sorted(PYFFTW_PROGRAMS))
def test_pyfftw_set_backend_inside_the_function(pyfftw_backend, name):
    spy = _Spy(pyfftw_backend)
    transform = PYFFTW_PROGRAMS[name]

    def loss(v):
        with sfft.set_backend(spy):  # pyFFTW is tried first; it declines the traced call
            return np.sum(np.abs(transform(v)) ** 2)

    check_gradient(loss, rand(4, 6))
    assert spy.calls  # ... and still ran the transforms on plain arrays


@pytest.mark.parametrize("name", sorted(PYFFTW_PROGRAMS))
def test_pyfftw_runs_forward_and_adjoint_transforms(pyfftw_backend, name):
    spy = _Spy(pyfftw_backend)
    transform = PYFFTW_PROGRAMS[name]
    x = rand(4, 6)
    with sfft.set_backend(spy):
        out, back = pb.pullback(transform, x)
        n_forward = len(spy.calls)
        back(rand(*out.shape, dtype=out.dtype))
        M = check_adjoint(transform, x)
    assert n_forward >= 1 and len(spy.calls) > n_forward
    M_scipy = check_adjoint(transform, x)
    np.testing.assert_allclose(M, M_scipy, atol=1e-10)


def test_pyfftw_as_global_backend(pyfftw_backend):
    sfft.set_global_backend(pyfftw_backend)
    try:
        for t in (1, 2, 3, 4):
            check_adjoint(lambda v: sfft.dct(v, type=t, norm="ortho"), rand(7))
            check_adjoint(lambda v: sfft.idstn(v, type=t, axes=(0, 1)), rand(4, 6))
        check_gradient(lambda v: np.sum(np.abs(sfft.rfft2(v)) ** 2), rand(4, 6))
    finally:
        sfft.set_global_backend("scipy", try_last=True)


def test_a_backward_sweep_reads_the_backend_state_once(monkeypatch):
    # reading uarray's state costs more than a small transform: one read serves a whole sweep
    from pullback.engines import fft as fft_engine

    reads = []
    real = fft_engine._backend_check
    monkeypatch.setattr(fft_engine, "_backend_check", lambda: reads.append(1) or real())

    def chain(v):
        for _ in range(5):
            v = np.sin(sfft.irfft(sfft.rfft(v) * 0.5, n=8))  # (numpy.fft's values are NumPy's own)
        return np.sum(v)

    out, back = pb.pullback(chain, rand(8))
    assert len(reads) == 10  # the forward pass checks every transform: user code runs in between
    reads.clear()
    back(np.ones(()))
    assert len(reads) == 1
    _Recorder.calls = []
    with sfft.set_backend(_Recorder):  # a sweep inside a backend context sends its transforms there
        back(np.ones(()))
    assert len(_Recorder.calls) == 10


def test_the_held_backend_check_is_per_thread():
    import threading

    from pullback.engines import fft as fft_engine

    seen = {}

    def worker():
        seen["outside"] = fft_engine._default_backend_in_force()  # no sweep ever ran in this thread
        with sfft.set_backend(_Recorder):
            with fft_engine.held_backend_check():
                seen["held"] = fft_engine._default_backend_in_force()

    with fft_engine.held_backend_check():  # this thread's answer does not leak into the other's
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        assert fft_engine._default_backend_in_force() is True
    assert seen == {"outside": True, "held": False}
    assert fft_engine._held.value is None


def test_ihfft_values_are_scipys_to_the_sign_of_zero():
    """Regression: ihfft was conj(rfft), whose zero and Nyquist bins have imaginary part -0.0 where
    SciPy's kernel (a backward r2c) writes +0.0; the traced value is now SciPy's own."""
    rng = np.random.default_rng(4)
    for dtype in (np.float64, np.float32):
        calls = [
            (lambda u: sfft.ihfft(u), (6,)),
            (lambda u: sfft.ihfft(u, n=8, norm="ortho"), (2, 5)),
            (lambda u: sfft.ihfft2(u), (4, 6)),
            (lambda u: sfft.ihfftn(u, axes=(0, 2), norm="forward"), (3, 4, 6)),
        ]
        for f, shape in calls:
            x = rng.standard_normal(shape).astype(dtype)
            value, _ = pb.pullback(f, x)
            want = f(x)
            assert value.dtype == want.dtype and value.tobytes() == want.tobytes()
            if dtype == np.float64:
                check_gradient(f, x, modes=("reverse", "forward"))
