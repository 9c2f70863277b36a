"""The engine: iterative sweep, released cotangents, structural zeros, nesting."""

import gc
import sys
import weakref

import numpy as np
import pytest

import pullback as pb
from pullback.core import Node, backward


def test_long_chain_does_not_hit_the_recursion_limit():
    n = 100_000
    assert n > sys.getrecursionlimit()

    def f(x):
        for _ in range(n):
            x = x * 1.0
        return x

    assert pb.gradient(f, 2.0) == (1.0,)


def test_cotangents_are_released_after_their_last_consumer():
    alive = []

    @pb.custom_adjoint
    def probe(x):
        def probe_back(g):
            g = g + 0.0  # a cotangent this node allocated
            alive.append(weakref.ref(g))
            gc.collect()
            # every earlier probe's cotangent has been consumed by now
            assert all(r() is None for r in alive[:-2])
            return (g,)

        return x, probe_back

    def f(x):
        for _ in range(20):
            x = np.sin(probe(x))
        return np.sum(x)

    pb.gradient(f, np.ones(1000))
    assert len(alive) == 20


def test_structural_zero_skips_branches_without_gradient():
    @pb.custom_adjoint
    def never(x):
        def never_back(g):
            raise AssertionError("a branch that does not reach the output was differentiated")

        return x * 1.0, never_back

    def f(x):
        unused = never(x) * 3  # noqa: F841
        return np.sum(x ** 2)

    np.testing.assert_allclose(pb.gradient(f, np.ones(3))[0], 2 * np.ones(3))


def test_backward_on_hand_built_tape():
    leaf = Node((), None)
    mid = Node((leaf, leaf), lambda g: (2 * g, 3 * g))
    root = Node((mid,), lambda g: (g,))
    assert backward([root], [1.0], [leaf]) == [5.0]


def test_perturbation_confusion():
    # d/dx [x * d/dy (x + y)] = 1 (Siskind & Pearlmutter)
    assert pb.gradient(lambda x: x * pb.gradient(lambda y: x + y, 2.0)[0], 3.0) == (1.0,)
    # forward over reverse and reverse over forward
    inner = lambda x: x * pb.jvp(lambda y: x + y, (2.0,), (1.0,))[1]
    assert float(pb.gradient(inner, 3.0)[0]) == 1.0
    _, t = pb.jvp(lambda x: x * pb.gradient(lambda y: x + y, 2.0)[0], (3.0,), (1.0,))
    assert float(t) == 1.0
    _, t = pb.jvp(lambda x: x * pb.jvp(lambda y: x * y, (2.0,), (1.0,))[1], (3.0,), (1.0,))
    assert float(t) == 6.0  # d/dx [x * x] at 3


def test_third_derivative():
    f = lambda x: np.sin(x) * x
    d1 = lambda x: pb.gradient(f, x)[0]
    d2 = lambda x: pb.gradient(d1, x)[0]
    d3 = lambda x: pb.gradient(d2, x)[0]
    x = 0.7
    want = -3 * np.sin(x) - x * np.cos(x)
    assert abs(d3(x) - want) < 1e-12


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hessian_of_fft_loss_matches_finite_differences(dtype):
    m = np.abs(np.fft.fft(np.linspace(0, 1, 6)))

    def loss(x):
        return np.sum((np.abs(np.fft.fft(x)) - m) ** 2)

    x = np.linspace(-1, 1, 6).astype(dtype) + 0.1
    H = pb.hessian(loss, x)
    eps = 1e-6
    x64 = x.astype(np.float64)
    fd = np.stack(
        [
            (pb.gradient(loss, x64 + eps * e)[0] - pb.gradient(loss, x64 - eps * e)[0]) / (2 * eps)
            for e in np.eye(6)
        ],
        axis=1,
    )
    np.testing.assert_allclose(H, fd, rtol=1e-3 if dtype == np.float32 else 1e-6, atol=1e-4)


def test_pullbacks_keep_only_what_they_read():
    # tanh's pullback reads its output, not its input; multiplying by a constant keeps
    # only the constant: the intermediate x * 2 must die once the forward pass is done
    refs = []

    def f(x):
        y = x * 2.0
        refs.append(weakref.ref(pb.stop_gradient(y)))
        return np.sum(np.tanh(y * 3.0))

    x = np.linspace(-1, 1, 1000)
    _, back = pb.pullback(f, x)
    gc.collect()
    assert refs[0]() is None
    np.testing.assert_allclose(back(1.0)[0], 6.0 * (1 - np.tanh(6.0 * x) ** 2))


def test_reads_analysis():
    from pullback.rules import registry

    assert registry.UFUNCS[np.tanh].uses == ((True, (False,)),)
    assert registry.UFUNCS[np.multiply].uses == ((False, (False, True)), (False, (True, False)))
    assert registry.reads(lambda g, ans, *args: g * len(args), 1) == (False, True)


# ---------------------------------------------------------------- ownership calibration


def test_calibrated_counts_tell_a_sole_cotangent_from_a_shared_one():
    from pullback.core import trace

    for probe, name in ((trace._probe_sweep, "consume"), (trace._probe_sum, "add")):
        saved = trace._OWNABLE
        trace._OWNABLE = trace._Probe
        try:
            fresh, shared = [], []
            probe(False, fresh)
            probe(True, shared)
        finally:
            trace._OWNABLE = saved
        assert name in fresh and name not in shared


@pytest.mark.parametrize("shift", [-1, 1, 2])
def test_calibration_follows_the_interpreters_counts(monkeypatch, shift):
    # CPython 3.14 may borrow references that earlier versions counted (and 3.10 counts
    # differently from 3.11). Shift every count, recalibrate every layer, and check that the
    # calibrated counts follow and that no array something else holds is ever overwritten.
    from pullback.core import trace
    from pullback.rules import buffers, registry

    native = (trace._SOLE, trace._SOLE_SUM, buffers._FREE, registry._SOLE_BASE)
    real = sys.getrefcount

    def shifted(x):
        return real(x) + shift

    for module in (trace, buffers, registry):
        monkeypatch.setattr(module, "_refcount", shifted)
    for module, names in ((trace, ("_SOLE", "_SOLE_SUM")), (buffers, ("_FREE", "CACHE_BYTES")),
                          (registry, ("_SOLE_BASE",))):
        for n in names:
            monkeypatch.setattr(module, n, getattr(module, n))
    # the wrapper's own call adds references too: measure them where the counts are taken
    monkeypatch.setattr(trace, "_refcount", real)
    trace._calibrate()
    base = trace._SOLE
    monkeypatch.setattr(trace, "_refcount", shifted)
    trace._calibrate()
    extra = trace._SOLE - base
    buffers._calibrate()
    registry._calibrate_ours()
    found = (trace._SOLE, trace._SOLE_SUM, buffers._FREE, registry._SOLE_BASE)
    assert extra - shift >= 0 and found == tuple(v + extra for v in native)
    monkeypatch.setattr(trace, "_OWN_MIN", 1)
    x = np.random.default_rng(0).standard_normal(64) + 1j
    y, back = pb.pullback(lambda x: np.exp(np.fft.fft(x * 2.0) * 3.0), x)
    ct = np.ones(64, complex)
    first = back(ct)[0]
    assert np.array_equal(back(ct)[0], first) and np.array_equal(ct, np.ones(64))
    g = pb.gradient(lambda x: np.sum(np.abs(np.fft.ifft(np.fft.fft(x) * 2.0) + x) ** 2), x)[0]
    np.testing.assert_allclose(g, 2 * (2 * x + x) * 2 + 2 * (2 * x + x), rtol=1e-12)


def test_counts_that_tell_nothing_turn_ownership_off(monkeypatch):
    from pullback.core import trace
    from pullback.rules import buffers, registry

    for module in (trace, buffers, registry):
        monkeypatch.setattr(module, "_refcount", lambda x: 7)
    for module, names in ((trace, ("_SOLE", "_SOLE_SUM")), (buffers, ("_FREE", "CACHE_BYTES")),
                          (registry, ("_SOLE_BASE",))):
        for n in names:
            monkeypatch.setattr(module, n, getattr(module, n))
    trace._calibrate()
    buffers._calibrate()
    registry._calibrate_ours()
    assert (trace._SOLE, trace._SOLE_SUM, buffers._FREE, buffers.CACHE_BYTES, registry._SOLE_BASE) == (
        -1, -1, -1, 0, -1)
    x = np.random.default_rng(1).standard_normal(32)
    g = pb.gradient(lambda x: np.sum(np.abs(np.fft.fft(x * x)) ** 2), x)[0]
    f = lambda x: np.sum(np.abs(np.fft.fft(x * x)) ** 2)  # noqa: E731
    pb.testing.check_gradient(f, x)
    assert g.shape == x.shape
