"""Interception of functions NumPy's protocols do not see: every name reaches the rule; plain calls
run the original code with the same results."""

import inspect

import numpy as np
import pytest
import scipy.signal
import scipy.signal._signaltools as signaltools
from scipy.signal import fftconvolve as imported_before

import pullback as pb
from pullback.intercept import intercept, intercepted, original, restore, route
from pullback.rules import registry


def _sum_of_squares(x, y=None, *, scale=1.0):
    return scale * float(np.sum(np.asarray(x) ** 2))


def test_a_python_function_answers_traced_calls_with_its_rule():
    f = _sum_of_squares
    def rule(x, y=None, *, scale=1.0):
        x = np.concatenate(x) if isinstance(x, list) else x
        return scale * np.sum(x * x)

    assert intercept(f, rule)
    try:
        x = np.array([1.0, 2.0])
        assert pb.gradient(lambda x: f(x, scale=3.0), x)[0].tolist() == [6.0, 12.0]
        assert pb.gradient(lambda x: f(x=x), x)[0].tolist() == [2.0, 4.0]  # traced by keyword
        assert pb.gradient(lambda x: f([x]), x)[0].tolist() == [2.0, 4.0]  # traced inside a list
        assert f([3.0, 4.0]) == 25.0 and f([1.0], scale=2.0) == 2.0  # plain calls: the original
        assert str(inspect.signature(f)) == "(x, y=None, *, scale=1.0)"
        assert intercepted(f) and original(f) is not f
    finally:
        restore(f)
    assert not intercepted(f) and f.__kwdefaults__ == {"scale": 1.0}
    assert "__signature__" not in f.__dict__


@pytest.fixture
def own_fftconvolve():
    """Let a test put its own rule on fftconvolve; the library's rule (if any) comes back after."""
    key = scipy.signal.fftconvolve
    saved = registry.FUNCTIONS.get(key), registry.KINDS.get(key), intercepted(key)
    yield
    restore(key)
    registry.FUNCTIONS.pop(key, None)
    registry.KINDS.pop(key, None)
    if saved[0] is not None:
        registry.FUNCTIONS[key], registry.KINDS[key] = saved[0], saved[1]
    if saved[2]:
        route(key)


def test_every_name_of_a_scipy_function_reaches_the_rule(own_fftconvolve):
    def rule(in1, in2, mode="full", axes=None):
        return np.sum(in1) * np.sum(in2)

    registry.register(scipy.signal.fftconvolve, rule, "user")
    route(scipy.signal.fftconvolve)
    x = np.arange(1.0, 4.0)
    for f in (scipy.signal.fftconvolve, signaltools.fftconvolve, imported_before):
        assert pb.gradient(lambda x: f(x, x), x)[0].tolist() == [12.0, 12.0, 12.0]
    plain = scipy.signal.fftconvolve(x, x)
    np.testing.assert_array_equal(plain, original(scipy.signal.fftconvolve)(x, x))


def test_pb_adjoint_on_a_scipy_function_takes_effect_for_every_name(own_fftconvolve):
    calls = []

    @pb.adjoint(scipy.signal.fftconvolve)
    def rule(in1, in2, mode="full", axes=None):
        calls.append(mode)
        value = original(scipy.signal.fftconvolve)(pb.stop_gradient(in1), in2, mode=mode)
        return value, lambda g: (original(scipy.signal.correlate)(g, in2, mode="valid"), None)

    x, k = np.arange(1.0, 5.0), np.array([1.0, -1.0])
    g = pb.gradient(lambda x: np.sum(imported_before(x, k) ** 2), x)[0]
    y = np.convolve(x, k)
    np.testing.assert_allclose(g, np.correlate(2 * y, k, mode="valid"), atol=1e-12)
    assert calls == ["full"]


def test_what_cannot_be_changed_in_place_is_refused_clearly():
    with pytest.raises(TypeError, match="cannot intercept"):
        intercept(len, lambda x: 0)


def _decorated(func):
    """A decorator, as SciPy's axis/nan_policy one: the public function is a closure."""
    factor = 2.0

    def wrapper(x, *, scale=1.0):
        return factor * func(x) * scale

    return wrapper


@_decorated
def _closure_sum_of_squares(x):
    return float(np.sum(np.asarray(x) ** 2))


def test_a_closure_is_changed_in_place():
    f = _closure_sum_of_squares
    alias = f  # a name bound before the interception reaches the rule too

    def rule(x, *, scale=1.0):
        return 2.0 * np.sum(x * x) * scale

    assert intercept(f, rule)
    try:
        x = np.array([1.0, 2.0])
        assert pb.gradient(lambda x: alias(x, scale=3.0), x)[0].tolist() == [12.0, 24.0]
        assert f([3.0, 4.0]) == 50.0  # a plain call: the original closure, its cells intact
        assert str(inspect.signature(f)) == "(x, *, scale=1.0)"
        assert original(f)([1.0]) == 2.0
        assert intercept(f, lambda x, *, scale=1.0: np.sum(x))  # a new rule
        assert pb.gradient(lambda x: f(x), x)[0].tolist() == [1.0, 1.0]
    finally:
        restore(f)
    assert not intercepted(f) and f([3.0, 4.0]) == 50.0


def test_a_new_rule_keeps_a_function_routed_on_every_call():
    """A function intercepted for every call during a differentiation (it takes a callable whose
    closure may hold traced values: quad, minimize) stays so when a new rule replaces its own."""
    import scipy.integrate as I

    from pullback.intercept import Always, intercept

    before = I.quad.__kwdefaults__["__pb_rule__"]
    try:
        intercept(I.quad, before)  # e.g. what pb.adjoint(scipy.integrate.quad) does
        assert I.quad.__kwdefaults__["__pb_traced__"] is Always
    finally:
        intercept(I.quad, before)
