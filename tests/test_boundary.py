"""What crosses the API boundary: returned gradients are the caller's alone, compact, and a
cotangent passed to ``back`` must fit its output (issue 22, items 2, 5 and 10)."""

import gc
import tracemalloc

import numpy as np
import pytest

import pullback as pb
from pullback.engines import buffers

from .rules.cases import rand

IDENTITY_LIKE = {
    "x": lambda x: x,
    "x + 0": lambda x: x + 0,
    "x.copy()": lambda x: x.copy(),
    "reshape": lambda x: np.reshape(x, (2, 3)),
    ".T": lambda x: np.reshape(x, (2, 3)).T,
    ".real": lambda x: (x + 0j).real,
    "astype": lambda x: x.astype(np.float64),
    "concatenate": lambda x: np.concatenate([x]),
}


@pytest.mark.parametrize("name", list(IDENTITY_LIKE))
def test_back_never_returns_the_callers_cotangent(name):
    f = IDENTITY_LIKE[name]
    x = rand(6)
    y, back = pb.pullback(f, x)
    ct = np.zeros(np.shape(y))
    rows = []
    for i in range(ct.size):  # Jacobian rows built with one reused cotangent buffer
        ct.flat[i] = 1.0
        g = back(ct)[0]
        assert not np.shares_memory(g, ct) and not np.shares_memory(g, x)
        rows.append(g)
        ct.flat[i] = 0.0
    J = np.array(rows).reshape(ct.size, x.size)
    assert np.array_equal(J, pb.jacobian(lambda x: np.reshape(f(x), (-1,)), x))
    assert np.array_equal(np.abs(J).sum(axis=1), np.ones(ct.size))  # a permutation: not zeros


COMPLEX_OUT = {
    "add": lambda x: x + 1j * np.ones(4),
    "reshape": lambda x: np.reshape(x + 0j, (2, 2)),
    "identity": lambda x: x,
    "concatenate": lambda x: np.concatenate([x, x]),
}


@pytest.mark.parametrize("name", list(COMPLEX_OUT))
def test_jacobian_of_a_complex_output_is_not_zero(name):
    f = COMPLEX_OUT[name]
    x = rand(4, dtype=complex) if name == "identity" else rand(4)
    rev = pb.jacobian(f, x, mode="reverse")
    fwd = pb.jacobian(f, x, mode="forward")
    assert np.any(rev != 0)
    np.testing.assert_array_equal(rev, fwd)


def test_the_two_sides_of_an_add_get_distinct_gradients():
    p = {"w": rand(5), "b": rand(5)}
    g = pb.gradient(lambda p: np.sum((p["w"] + p["b"]) ** 2), p)[0]
    assert g["w"] is not g["b"] and not np.shares_memory(g["w"], g["b"])
    want = 2 * (p["w"] + p["b"])
    g["w"] -= 0.1 * g["w"]  # an in-place optimiser step on one
    np.testing.assert_array_equal(g["b"], want)


@pytest.mark.parametrize("n", [8, 1 << 15, 1 << 19])
def test_returned_gradients_share_memory_with_nothing_the_caller_holds(n):
    x, y = rand(n), rand(n)

    def f(x, y):
        z = x + y  # both sides receive the same cotangent
        return np.sum(z * z), (z, x)

    (value, (z, xs)), (gx, gy) = pb.value_and_grad(f, argnums=(0, 1), has_aux=True)(x, y)
    arrays = [x, y, z, xs]
    for g in (gx, gy):
        assert all(not np.shares_memory(g, a) for a in arrays)
    assert not np.shares_memory(gx, gy)
    yv, back = pb.pullback(lambda x, y: (x, x * y), x, y)
    ct = (rand(n), rand(n))
    gx, gy = back(ct)
    for g in (gx, gy):
        assert not any(np.shares_memory(g, a) for a in (x, y, *ct, *yv))


# ---------------------------------------------------------------- cotangents that do not fit


def test_a_cotangent_of_the_wrong_shape_is_refused():
    y, back = pb.pullback(lambda x: np.sin(x), rand(4))
    with pytest.raises(ValueError, match=r"shape \(4, 1\).*output has shape \(4,\)"):
        back(np.ones((4, 1)))
    with pytest.raises(ValueError, match=r"shape \(\).*output has shape \(4,\)"):
        back(1.0)
    y, back = pb.pullback(lambda x: np.fft.fft(x), rand(8))
    with pytest.raises(ValueError, match=r"shape \(6,\).*output has shape \(8,\)"):
        back(np.ones(6, complex))
    y, back = pb.pullback(lambda x: (x, np.fft.rfft(x)), rand(8))
    with pytest.raises(ValueError, match=r"output 1 has shape \(4,\).*output has shape \(5,\)"):
        back((np.ones(8), np.ones(4, complex)))


def test_cotangent_dtypes_follow_pytorch():
    x = rand(4)
    y, back = pb.pullback(lambda x: np.fft.fft(x), x)
    np.testing.assert_allclose(back(np.ones(4))[0], back(np.ones(4, complex))[0])  # real for complex: fine
    y, back = pb.pullback(lambda x: np.sin(x), x)
    with pytest.raises(ValueError, match=r"complex \(complex128\).*output is real \(float64\)"):
        back(np.ones(4, complex))
    np.testing.assert_allclose(back(np.ones(4, np.float32))[0], np.cos(x), rtol=1e-6)
    y, back = pb.pullback(lambda x: np.sum(x**2), x)
    assert np.array_equal(back(1.0)[0], 2 * x) and np.array_equal(back(np.float32(1))[0], 2 * x)
    assert np.array_equal(back(np.array(2.0))[0], 4 * x)


# ---------------------------------------------------------------- compact gradients


@pytest.mark.parametrize("n", [1 << 10, 1 << 18])
def test_the_gradient_through_a_complex_intermediate_is_compact(n):
    x = rand(n)
    g = pb.gradient(lambda x: np.sum(np.abs(np.fft.fft(x)) ** 2), x)[0]
    assert g.dtype == np.float64 and g.flags.c_contiguous
    assert g.flags.owndata or buffers.footprint(g) <= g.nbytes * 1.125  # not .real of a complex array
    np.testing.assert_allclose(g, 2 * n * x, rtol=1e-10, atol=1e-10 * np.max(np.abs(g)))


def test_held_gradients_cost_their_own_size():
    x = rand(1 << 18)  # 2 MiB gradients
    f = lambda x: np.sum(np.abs(np.fft.fft(x)) ** 2)  # noqa: E731
    pb.gradient(f, x)
    pb.release_memory()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        held = [pb.gradient(f, x)[0] for _ in range(20)]
        pb.release_memory()  # the cache's free blocks are not the gradients'
        gc.collect()
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert used < 1.25 * sum(g.nbytes for g in held), used / 2**20
