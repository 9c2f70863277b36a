"""The MKL (DFTI) engine: every layout it accepts gives NumPy's values; the rest fall back."""

import multiprocessing
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pullback.engines import fft as fft_engine
from pullback.engines import mkl as fft_mkl

pytestmark = pytest.mark.skipif(fft_mkl.load() is None, reason="MKL (pip install mkl) is not installed")

NORMS = [None, "ortho", "forward"]


@pytest.fixture(autouse=True)
def mkl_engine():
    previous = fft_engine.set_engine("mkl")
    yield
    fft_engine.set_engine(previous)


def _tol(dtype):
    return 2e-5 if dtype in (np.float32, np.complex64) else 1e-12


@st.composite
def problems(draw):
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 9), min_size=ndim, max_size=ndim)))
    k = draw(st.integers(1, ndim))
    axes = tuple(draw(st.permutations(range(ndim)))[:k])
    s = tuple(draw(st.integers(1, 10)) for _ in axes) if draw(st.booleans()) else None
    norm = draw(st.sampled_from(NORMS))
    single = draw(st.booleans())
    step = draw(st.sampled_from([1, 2]))
    seed = draw(st.integers(0, 2**16))
    return shape, axes, s, norm, single, step, seed


def _data(shape, step, single, complex_, seed):
    rng = np.random.default_rng(seed)
    big = tuple(n * step for n in shape)
    x = rng.standard_normal(big) + (1j * rng.standard_normal(big) if complex_ else 0)
    x = x[tuple(slice(None, None, step) for _ in shape)]  # strided views too
    if single:
        x = x.astype(np.complex64 if complex_ else np.float32)
    return x


@settings(max_examples=60, deadline=None)
@given(problems())
def test_every_kind_matches_numpy(problem):
    shape, axes, s, norm, single, step, seed = problem
    z = _data(shape, step, single, True, seed)
    x = _data(shape, step, single, False, seed)
    ss = s or tuple(shape[a] for a in axes)
    for got, want in [
        (fft_engine.c2c(z, ss, axes, norm, True), np.fft.fftn(z, s=s, axes=axes, norm=norm)),
        (fft_engine.c2c(z, ss, axes, norm, False), np.fft.ifftn(z, s=s, axes=axes, norm=norm)),
        (fft_engine.c2c(x, ss, axes, norm, True), np.fft.fftn(x, s=s, axes=axes, norm=norm)),
        (fft_engine.r2c(x, ss, axes, norm), np.fft.rfftn(x, s=s, axes=axes, norm=norm)),
        (fft_engine.c2r(z, ss, axes, norm), np.fft.irfftn(z, s=ss, axes=axes, norm=norm)),
    ]:
        assert got.shape == want.shape
        assert got.dtype == (want.astype(np.complex64 if got.dtype.kind == "c" else np.float32).dtype
                             if single else want.dtype)
        scale = max(1.0, float(np.abs(want).max()) if want.size else 1.0)
        np.testing.assert_allclose(got, want, rtol=0, atol=_tol(got.dtype) * scale * 10)


def test_c2r_of_a_spectrum_that_is_not_conjugate_even():
    # regression: DFTI's n-d c2r assumed a conjugate-even input; NumPy's irfftn does not
    rng = np.random.default_rng(1)
    z = rng.standard_normal((6, 5)) + 1j * rng.standard_normal((6, 5))
    want = np.fft.irfftn(z, s=(6, 8), axes=(0, 1))
    np.testing.assert_allclose(fft_engine.c2r(z, (6, 8), (0, 1), None), want, atol=1e-14)


@pytest.mark.parametrize(
    "shape, axes, view",
    [
        ((6, 5), (0, 1), lambda z: z),  # one c2c over the leading axis, then the c2r
        ((3, 8, 5), (1, 2), lambda z: z),  # the c2c's batch axes (0, 2) do not collapse: per index
        ((7, 8, 5), (1, 2), lambda z: z),  # per index, shared out unevenly among threads
        ((4, 6, 5), (0, 1, 2), lambda z: z),
        ((3, 8, 5), (1, 2), lambda z: z[:, ::-1]),  # DFTI cannot take it: the conjugate-even copy
        ((8, 3, 5), (0, 2), lambda z: z[::-1]),
    ],
)
@pytest.mark.parametrize("scratch", [False, True])
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("way", ["ruled", "_c2r_columns", "_c2r_projected"])
def test_nd_c2r_of_any_spectrum_is_numpys(shape, axes, view, scratch, threads, way, monkeypatch):
    rng = np.random.default_rng(4)
    z = view(rng.standard_normal(shape) + 1j * rng.standard_normal(shape))  # not conjugate-even
    s = tuple(z.shape[a] for a in axes[:-1]) + (2 * (z.shape[axes[-1]] - 1),)
    want = np.fft.irfftn(z, s=s, axes=axes)
    keep = z.copy()
    if way != "ruled":  # every call takes this way
        monkeypatch.setattr(fft_mkl, "_c2r_way", lambda *args: getattr(fft_mkl, way))
    for _ in range(2):
        arg = z.copy() if scratch else z
        got = fft_mkl.transform("c2r", arg, s, axes, False, 2, threads, scratch=scratch)
        np.testing.assert_allclose(got, want, atol=1e-13)
        np.testing.assert_array_equal(z, keep)


@pytest.mark.parametrize(
    "shape, axes, mine, way",
    [
        ((16, 256, 129), (1, 2), False, "_c2r_projected"),  # W2: the leading c2c runs slice by slice
        ((3, 128, 49), (1, 2), True, "_c2r_projected"),
        ((256, 129), (0, 1), False, "_c2r_columns"),  # one DFTI call for the leading c2c
        ((8, 256, 129), (0, 1), False, "_c2r_columns"),  # c2c over 0, batch axes 1, 2 collapse
        ((8, 64, 64, 33), (1, 2, 3), False, "_c2r_columns"),  # 3-d: columns, slices or not
        ((64, 64, 33), (0, 1, 2), False, "_c2r_columns"),
    ],
)
def test_nd_c2r_way_is_a_fixed_rule(shape, axes, mine, way):
    # regression: the way was timed on first use, so two runs could differ in their last bits
    z = np.zeros(shape, complex)
    assert fft_mkl._c2r_way(z, axes, mine) is getattr(fft_mkl, way)
    assert fft_mkl._c2r_way(z[..., ::-1], axes, mine) is fft_mkl._c2r_projected  # DFTI cannot take it


def test_column_transforms_shared_among_threads_match_one_thread():
    rng = np.random.default_rng(5)
    z = rng.standard_normal((9, 16, 7)) + 1j * rng.standard_normal((9, 16, 7))
    want = np.fft.ifft(z, axis=1) * 16
    for threads in (1, 2, 4):
        np.testing.assert_allclose(fft_mkl._c2c_leading(z, (16,), (1,), threads, False), want, atol=1e-12)
        mine = z.copy()
        assert fft_mkl._c2c_leading(mine, (16,), (1,), threads, True) is mine
        np.testing.assert_allclose(mine, want, atol=1e-12)


def _columns_in_child():
    z = np.ones((4, 8, 3), complex)
    got = fft_mkl._c2c_leading(z, (8,), (1,), 2, False)
    os._exit(0 if np.allclose(got, np.fft.ifft(z, axis=1) * 8) else 1)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_shares_out_column_transforms():
    # a child inherits the pool object but not its threads: submitting to it would wait forever
    z = np.ones((4, 8, 3), complex)
    fft_mkl._c2c_leading(z, (8,), (1,), 2, False)  # the parent's pool exists
    assert fft_mkl._POOL is not None
    child = multiprocessing.get_context("fork").Process(target=_columns_in_child)
    child.start()
    child.join(60)
    hung = child.is_alive()
    if hung:
        child.kill()
    assert not hung and child.exitcode == 0


def test_input_is_left_alone():
    z = np.random.default_rng(2).standard_normal((8, 5)) + 0j
    before = z.copy()
    fft_engine.c2r(z, (8, 8), (0, 1), None)
    fft_engine.c2c(z, (8, 5), (0, 1), None, False)
    np.testing.assert_array_equal(z, before)


@pytest.mark.parametrize(
    "make, axes",
    [
        (lambda z: np.broadcast_to(z[:, :1], (6, 5)), (1,)),  # stride 0: not DFTI's
        (lambda z: z[::-1], (0,)),  # negative stride
        (lambda z: np.moveaxis(np.stack([z] * 3), 0, 1), (0,)),  # batch axes that do not collapse
    ],
)
def test_layouts_dfti_cannot_describe_fall_back(make, axes):
    z = make(np.random.default_rng(3).standard_normal((6, 5)) + 1j)
    s = tuple(z.shape[a] for a in axes)
    assert fft_mkl.transform("c2c", z, s, axes, True, 0, 1) is None
    assert fft_mkl.transform("c2c", z, s * 2, axes * 2, True, 0, 1) is None  # repeated axes
    np.testing.assert_allclose(fft_engine.c2c(z, s, axes, None, True), np.fft.fftn(z, axes=axes), atol=1e-12)


def test_descriptors_are_cached_and_bounded_in_bytes(monkeypatch):
    monkeypatch.setattr(fft_mkl, "_PLANS", fft_mkl.PlanCache("mkl"))
    one = fft_mkl._descriptor_bytes("c2c", (8,), fft_mkl._DOUBLE)
    monkeypatch.setattr(fft_mkl, "CACHE_LIMIT", 3 * one + 1)
    z = np.ones(8, complex)
    fft_engine.c2c(z, (8,), (0,), None, True)
    fft_engine.c2c(z, (8,), (0,), None, True)
    assert len(fft_mkl._PLANS) == 1
    first = fft_mkl._PLANS.plans()[0]
    for n in (9, 10, 12):  # smooth lengths: estimated about alike
        fft_engine.c2c(np.ones(n, complex), (n,), (0,), None, True)
        fft_engine.c2c(z, (8,), (0,), None, True)  # the length 8 stays the most recently used
    assert fft_mkl._PLANS.nbytes <= fft_mkl.CACHE_LIMIT
    assert first in fft_mkl._PLANS.plans()  # least recently used goes first, not oldest
    assert fft_mkl.cache_info()["bytes"] == fft_mkl._PLANS.nbytes
    assert fft_mkl.clear() > 0 and len(fft_mkl._PLANS) == 0 and fft_mkl._PLANS.nbytes == 0


def test_a_descriptor_over_the_limit_serves_its_calls_and_zero_keeps_none(monkeypatch):
    monkeypatch.setattr(fft_mkl, "_PLANS", fft_mkl.PlanCache("mkl"))
    monkeypatch.setattr(fft_mkl, "CACHE_LIMIT", 1)
    for n in (8, 9):
        z = np.arange(n) + 0j
        np.testing.assert_allclose(fft_engine.c2c(z, (n,), (0,), None, True), np.fft.fft(z), atol=1e-12)
    assert len(fft_mkl._PLANS) == 1  # only the last one
    monkeypatch.setattr(fft_mkl, "CACHE_LIMIT", 0)
    fft_engine.c2c(z, (n,), (0,), None, True)
    fft_engine.c2c(np.ones(5, complex), (5,), (0,), None, True)
    assert len(fft_mkl._PLANS) == 0


def test_descriptor_estimates_follow_length_precision_and_smoothness():
    est = fft_mkl._descriptor_bytes
    assert est("c2c", (1 << 20,), fft_mkl._DOUBLE) > 2 * est("c2c", (1 << 20,), fft_mkl._SINGLE) - 8192
    assert est("c2c", ((1 << 20) + 1,), fft_mkl._DOUBLE) > 3 * est("c2c", (1 << 20,), fft_mkl._DOUBLE)
    assert est("c2c", (256, 256), fft_mkl._DOUBLE) == est("c2c", (1 << 16,), fft_mkl._DOUBLE)
