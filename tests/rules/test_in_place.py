"""Cotangents the tape owns: pullbacks may work in them, and nothing observable changes.

The sweep hands a pullback its cotangent to overwrite only when nothing else can reach it
(the sweep owns it by construction, ``core.trace.set_ownable``); ``core.trace._OWN_MIN`` is lowered here so
that the small arrays of these tests qualify.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pullback as pb
from pullback.core import trace
from pullback.engines import fft as fft_engine
from pullback.rules import registry

from .cases import rand

BIG = 1 << 62


@pytest.fixture
def in_place(monkeypatch):
    monkeypatch.setattr(trace, "_OWN_MIN", 1)


def _both(f, *args):
    """The gradient with and without in-place pullbacks."""
    saved = trace._OWN_MIN
    try:
        trace._OWN_MIN = 1
        on = pb.gradient(f, *args)
        trace._OWN_MIN = BIG
        off = pb.gradient(f, *args)
    finally:
        trace._OWN_MIN = saved
    return on, off


K = rand(8, 6, dtype=float) + 0.5
W = rand(8, 4, dtype=complex)

PROGRAMS = {
    "abs fft squared": (lambda x: np.sum(np.abs(np.fft.fft(x)) ** 2), [(48,)]),
    "filtered fftn": (lambda x: np.sum(np.abs(np.fft.ifftn(np.fft.fftn(x) * K)) ** 2), [(8, 6)]),
    "rfft2 filter": (lambda x, w: np.sum(np.fft.irfft2(np.fft.rfft2(np.real(x)) * w, s=(8, 6)) ** 2),
                     [(3, 8, 6), (8, 4)]),
    "chain of elementwise": (lambda x: np.sum(np.abs(np.sin(np.exp(np.tanh(x)) * 2.0)) ** 2), [(5, 7)]),
    "fan-out": (lambda x: np.sum(np.abs(np.fft.fft(x) * np.conj(np.fft.fft(x)) + x * x - x)), [(16,)]),
    "shared factor": (lambda x: np.sum(np.abs(np.fft.fft(x * x * 3.0 - x)) ** 3), [(9,)]),
    "padding and cropping": (lambda x: np.sum(np.abs(np.fft.ifft(np.fft.fft(x, n=12), n=7)) ** 2), [(9,)]),
    "real part of a transform": (lambda x: np.sum(np.real(np.fft.fft2(x)) ** 2 * np.abs(np.exp(x))),
                                 [(4, 6)]),
}


@pytest.mark.parametrize("name", list(PROGRAMS))
@pytest.mark.parametrize("dtype", [np.float64, np.complex128, np.float32, np.complex64])
def test_in_place_pullbacks_give_the_same_gradient(name, dtype):
    f, shapes = PROGRAMS[name]
    args = [rand(*s, dtype=dtype) for s in shapes]
    copies = [a.copy() for a in args]
    on, off = _both(f, *args)
    # bitwise where no FFT runs; SciPy 1.18's multi-axis c2c rounds differently in place (4e-15)
    single = dtype in (np.float32, np.complex64)
    tol = 0 if name == "chain of elementwise" else (1e-5 if single else 1e-12)
    for a, b in zip(on, off):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * max(1.0, float(np.nanmax(np.abs(b)))))
    for a, c in zip(args, copies):  # the inputs are never touched
        assert np.array_equal(a, c)


@pytest.mark.parametrize("name", ["abs fft squared", "filtered fftn", "rfft2 filter"])
def test_the_gradients_are_right(in_place, name):
    f, shapes = PROGRAMS[name]
    args = [rand(*s, dtype=complex) if i == 0 and name != "rfft2 filter" else rand(*s, dtype=float)
            for i, s in enumerate(shapes)]
    if name == "rfft2 filter":
        args[1] = W.copy()
    pb.testing.check_gradient(f, *args)


def test_a_callers_cotangent_is_never_overwritten(in_place):
    x = rand(32, dtype=complex)
    y, back = pb.pullback(lambda x: np.fft.ifft(np.exp(np.fft.fft(x)) * 2.0), x)
    ct = rand(32, dtype=complex)
    keep = ct.copy()
    first = back(ct)[0]
    assert np.array_equal(ct, keep)
    again = back(np.array(ct))[0]  # a temporary the caller cannot see again
    assert np.array_equal(first, again) and np.array_equal(back(ct)[0], first)


def test_values_the_forward_returned_are_never_overwritten(in_place):
    def f(x):
        y = np.fft.fft(x)
        z = np.exp(y.real) * 3.0
        return np.sum(z**2), (y, z)

    x = rand(64, dtype=complex)
    (value, (y, z)), g = pb.value_and_grad(f, has_aux=True)(x)
    assert np.array_equal(y, np.fft.fft(x)) and np.array_equal(z, np.exp(np.fft.fft(x).real) * 3.0)
    assert value == np.sum(z**2)


def test_an_adjoint_that_keeps_or_returns_its_own_arrays_is_safe(in_place):
    held = []
    const = np.full(16, 2.0)

    @pb.custom_adjoint
    def keeps(x):
        return x * 1.0, lambda g: (held.append(g) or g,)  # keeps a reference to its cotangent

    @pb.custom_adjoint
    def constant_slope(x):
        return x * 2.0, lambda g: (const * 1.0 if g is None else const,)  # returns an array it holds

    x = rand(16, dtype=float)
    g = pb.gradient(lambda x: np.sum(np.exp(keeps(np.sin(x)) * 2.0)), x)[0]
    snapshot = held[0].copy()
    np.testing.assert_allclose(g, np.cos(x) * np.exp(np.sin(x) * 2.0) * 2.0, rtol=1e-12)
    assert np.array_equal(held[0], snapshot)
    pb.gradient(lambda x: np.sum(np.exp(constant_slope(x))), x)
    assert np.array_equal(const, np.full(16, 2.0))


def test_second_order_is_unaffected():
    def f(x):
        return np.sum(np.abs(np.fft.fft(np.sin(x) * x)) ** 2)

    x = rand(20, dtype=float)
    v = rand(20, dtype=float)
    saved = trace._OWN_MIN
    try:
        trace._OWN_MIN = 1
        on = pb.hvp(f, (x,), (v,))
        trace._OWN_MIN = BIG
        off = pb.hvp(f, (x,), (v,))
    finally:
        trace._OWN_MIN = saved
    np.testing.assert_allclose(on, off, rtol=1e-12, atol=1e-12)


def test_only_cotangents_the_sweep_owns_are_overwritten(in_place, monkeypatch):
    seen = []
    real_sweep = registry._OneArgPullback.sweep

    def spy(self, g, mine):
        seen.append((repr(self), mine))
        return real_sweep(self, g, mine)

    monkeypatch.setattr(registry._OneArgPullback, "sweep", spy)
    x = rand(16, dtype=float)
    pb.gradient(lambda x: np.sum(np.sin(np.exp(x) * 2.0)), x)
    assert ("<pullback exp_d_vjp>", True) in seen  # the fresh product multiply's pullback made
    assert ("<pullback sin_d_vjp>", False) in seen  # sum's broadcast view: read-only, never owned
    seen.clear()
    y, back = pb.pullback(lambda x: np.sin(x), x)
    ct = rand(16, dtype=float)
    back(ct)  # the caller's cotangent is never the sweep's
    assert seen and not any(m for _, m in seen)


@pytest.fixture(params=fft_engine.installed_engines())
def engine(request):
    previous = fft_engine.set_engine(request.param)
    yield request.param
    fft_engine.set_engine(previous)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    shape=st.sampled_from([(16,), (7, 5), (4, 3, 6), (13,), (2, 8, 9)]),
    norm=st.sampled_from([None, "ortho", "forward"]),
    forward=st.booleans(),
    single=st.booleans(),
    data=st.data(),
)
def test_scratch_c2c_equals_the_plain_transform(engine, shape, norm, forward, single, data):
    ndim = len(shape)
    axes = tuple(sorted(data.draw(st.sets(st.integers(0, ndim - 1), min_size=1))))
    s = tuple(shape[a] for a in axes)
    x = rand(*shape, dtype=np.complex64 if single else np.complex128)
    want = fft_engine.c2c(x, s, axes, norm, forward)
    scratch = x.copy()
    got = fft_engine.c2c(scratch, s, axes, norm, forward, scratch=True)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5 if single else 1e-12, atol=1e-5 if single else 1e-12)


def test_a_running_sum_of_cotangents_is_added_into_only_when_the_sweep_alone_holds_it(in_place, monkeypatch):

    sums = []
    monkeypatch.setattr(trace, "_add_into", lambda old, old_mine, ct, ct_mine: sums.append(
                        old_mine or ct_mine) or registry.add_into(old, old_mine, ct, ct_mine))
    x = rand(64)
    g = pb.gradient(lambda x: np.sum(np.sin(x) * np.cos(x) + np.exp(x) * 2.0 + x), x)[0]
    np.testing.assert_allclose(g, np.cos(2 * x) + 2 * np.exp(x) + 1, rtol=1e-12)
    assert sums and all(sums)

    def twice(x):  # the same cotangent object reaches x from both sides of x + x
        return x + x

    y, back = pb.pullback(twice, x)
    ct = rand(64)
    keep = ct.copy()
    assert np.array_equal(back(ct)[0], 2 * keep) and np.array_equal(ct, keep)
