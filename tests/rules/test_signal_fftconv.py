"""fftconvolve's rule from its own spectra: SciPy's value bit for bit (modes, axes, broadcasting,
swapped ``valid`` operands, dtypes), cotangents equal to the adjoint of the dense forward map,
the two-thread spectra, the general rule's fallbacks, and no user array overwritten."""

import numpy as np
import pytest
import scipy.fft as sfft
import scipy.signal as S
from hypothesis import given, settings
from hypothesis import strategies as st

import pullback as pb
from pullback.rules import signal_fftconv
from pullback.rules.registry import fit
from pullback.testing import check_adjoint, check_gradient

from .cases import rand

DTYPES = [np.float32, np.float64, np.complex64, np.complex128]


def _traced_value_and_cotangents(f, a, b, seed=0):
    value, back = pb.pullback(f, a, b)
    g = rand(*np.shape(value), dtype=value.dtype, seed=seed)
    return value, g, back(g)


@st.composite
def problems(draw):
    ndim = draw(st.integers(1, 2))
    s1 = [draw(st.integers(1, 9)) for _ in range(ndim)]
    s2 = [draw(st.sampled_from([1, n, draw(st.integers(1, 7))])) for n in s1]
    if draw(st.booleans()):
        s1, s2 = s2, s1
    mode = draw(st.sampled_from(["full", "same", "valid"]))
    axes = draw(st.sampled_from([None, -1, [0], [ndim - 1, 0]][: 2 + ndim]))
    d1, d2 = draw(st.sampled_from(DTYPES)), draw(st.sampled_from(DTYPES))
    return s1, s2, mode, axes, d1, d2, draw(st.integers(0, 999))


def _valid_ok(s1, s2, mode, axes):
    try:
        S.fftconvolve(np.ones(s1), np.ones(s2), mode, axes)
    except ValueError:
        return False
    return True


@settings(max_examples=150, deadline=None)
@given(problems())
def test_value_is_scipys_and_cotangents_are_the_adjoints(p):
    s1, s2, mode, axes, d1, d2, seed = p
    if not _valid_ok(s1, s2, mode, axes):
        return
    a, b = rand(*s1, dtype=d1, seed=seed), rand(*s2, dtype=d2, seed=seed + 1)
    a0, b0 = a.copy(), b.copy()
    conv = lambda u, v: S.fftconvolve(u, v, mode, axes)  # noqa: E731
    value, g, (ga, gb) = _traced_value_and_cotangents(conv, a, b, seed)
    want = S.fftconvolve(a, b, mode, axes)
    assert value.dtype == want.dtype and value.shape == want.shape
    assert value.tobytes() == want.tobytes()
    assert np.array_equal(a, a0) and np.array_equal(b, b0)  # nothing the user holds is overwritten
    assert ga.dtype == a.dtype and ga.shape == a.shape and gb.dtype == b.dtype and gb.shape == b.shape
    # against the general rule's adjoints (FFT convolutions in "valid" mode)
    general = signal_fftconv._general
    tol = 2e-4 if np.float32 in (np.dtype(d1).type, np.dtype(d2).type) or d1 == np.complex64 \
        or d2 == np.complex64 else 1e-10
    for i, got in enumerate((ga, gb)):
        ref = general.vjps[i](g, None, a, b, mode, axes)
        ref = fit(ref, got.shape, got.dtype)
        scale = max(1.0, float(np.max(np.abs(ref))))
        assert np.max(np.abs(got - ref)) <= tol * scale


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_adjoints_against_the_dense_map(mode, dtype):
    for n1, n2 in [(5, 3), (3, 5), (7, 7), (6, 2), (13, 4)]:
        a, b = rand(n1, dtype=dtype, seed=n1), rand(n2, dtype=dtype, seed=n2 + 10)
        if mode == "valid" and n1 < n2:
            a, b = b, a
        check_adjoint(lambda u: S.fftconvolve(u, b, mode), a)
        check_adjoint(lambda v: S.fftconvolve(a, v, mode), b)
    check_gradient(lambda u, v: S.fftconvolve(u, v, mode), rand(8, 3, seed=1), rand(3, 2, seed=2))


def test_large_signals_take_two_threads_and_keep_scipys_bits(monkeypatch):
    x, h = rand(70001, seed=1), rand(301, seed=2)
    started = []
    real_thread = signal_fftconv.threading.Thread

    def spy(*args, **kwargs):
        started.append(kwargs.get("name"))
        return real_thread(*args, **kwargs)

    monkeypatch.setattr(signal_fftconv.threading, "Thread", spy)
    monkeypatch.setattr(signal_fftconv, "_CPUS", 2)
    for mode in ("full", "same", "valid"):
        value, g, (gx, gh) = _traced_value_and_cotangents(lambda u, v: S.fftconvolve(u, v, mode), x, h)
        assert value.tobytes() == S.fftconvolve(x, h, mode).tobytes()
        general = signal_fftconv._general
        assert np.allclose(gx, general.vjps[0](g, None, x, h, mode), rtol=1e-9, atol=1e-9)
        assert np.allclose(gh, general.vjps[1](g, None, x, h, mode), rtol=1e-9, atol=1e-9)
    assert started == ["pullback-fftconvolve"] * 3
    started.clear()
    with sfft.set_workers(2):  # the caller's workers: SciPy's own sequence, one thread
        value, _, _ = _traced_value_and_cotangents(lambda u, v: S.fftconvolve(u, v, "same"), x, h)
    assert started == [] and value.tobytes() == S.fftconvolve(x, h, "same").tobytes()


def test_an_error_in_the_second_thread_reaches_the_caller(monkeypatch):
    monkeypatch.setattr(signal_fftconv, "_CPUS", 2)
    monkeypatch.setattr(signal_fftconv, "CONCURRENT_SIZE", 1)

    class Boom(Exception):
        pass

    def fail(*args, **kwargs):
        raise Boom

    monkeypatch.setattr(signal_fftconv._ScipyBackend, "__ua_function__", staticmethod(fail))
    with pytest.raises(Boom):
        pb.gradient(lambda u, v: np.sum(S.fftconvolve(u, v)), rand(9, seed=1), rand(4, seed=2))


def test_errors_and_other_inputs_take_the_general_rule():
    a = rand(6, seed=1)
    with pytest.raises(ValueError, match="mode"):
        pb.gradient(lambda u: np.sum(S.fftconvolve(u, a, "middle")), a)
    with pytest.raises(ValueError):
        pb.gradient(lambda u: np.sum(S.fftconvolve(u, a[None])), a)
    # an integer operand, a scalar: SciPy's values, correct gradients
    k = np.array([1, 2, 3])
    check_gradient(lambda u: S.fftconvolve(u, k, "same"), a)
    check_gradient(lambda u: S.fftconvolve(u, np.ones(1)), a)


def test_higher_orders_and_traced_cotangents():
    x, h = rand(9, seed=1), rand(4, seed=2)

    def loss(u, v):
        return np.sum(S.fftconvolve(u, v, "same") ** 3)

    check_gradient(lambda u, v: pb.gradient(loss, u, v)[0], x, h)
    # a traced cotangent with constant operands: the cotangent map itself differentiated
    _, back = pb.pullback(lambda u: S.fftconvolve(u, h, "same"), x)

    def through_back(c):
        return back(c)[0]

    check_adjoint(through_back, rand(9, seed=3))
