import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pullback as pb
from pullback.dispatch import TracedNDArray
from pullback.errors import TracedConversionError
from pullback.testing import check_gradient

from .cases import case_id, rand

GET = TracedNDArray.__getitem__
SET = TracedNDArray.__setitem__

x = rand(4, 5, 3)
m = rand(4, 8)
v = rand(5)
w = rand(6)
z = rand(4, 5, dtype=complex)
row_mask = np.array([True, False, True, True])
mask = rand(4, 8) > 0


def _set(index):
    """``f(a, val)``: a copy of ``a`` with ``[index] = val``."""

    def f(a, val):
        y = a * 1.0
        y[index] = val
        return y

    return f


def zeros_like_pattern(a, wgt):
    y = np.zeros_like(a)
    y[:, :6] = a[:, :6] * wgt
    return y


def setitem_chain(a, b):
    y = a * 1.0
    y[0] = b[:8]
    y[1:3, ::2] *= 2.0
    y[:, 0] += b[:4]
    y[[3, 3, 1], [7, 7, 2]] = b[[0, 1, 2]] ** 2
    y[y > 1.0] = 0.5 * y[y > 1.0]
    return y


def accumulate_update(a, b):
    y = a * 1.0
    y[[0, 0, 2]] += b  # NumPy's buffered update: a repeated index is updated once (the last write)
    return y


CASES = [
    # basic indexing
    (GET, lambda a: a[1], (x,)),
    (GET, lambda a: a[:, 1:4], (x,)),
    (GET, lambda a: a[..., None, ::-2], (x,)),
    (GET, lambda a: a[-1, ..., 2], (x,)),
    (GET, lambda a: a[1, 2, 0], (x,)),
    (GET, lambda a: a[2:0:-1, None], (z,)),
    # advanced indexing (repeated indices accumulate)
    (GET, lambda a: a[[0, 0, 2, 0]], (x,)),
    (GET, lambda a: a[[0, 1, 1], [2, 2, 4]], (x,)),
    (GET, lambda a: a[:, [1, 1, 3], 0], (x,)),
    (GET, lambda a: a[np.array([[3, 3], [0, 3]])], (m,)),
    (GET, lambda a: a[[1, 3], :, [0, 0]], (x,)),
    (GET, lambda a: a[..., [2, 2]], (z,)),
    # boolean masks
    (GET, lambda a: a[mask], (m,)),
    (GET, lambda a: a[row_mask], (x,)),
    (GET, lambda a: a[:, row_mask[:1].repeat(5) | (np.arange(5) > 2)], (x,)),
    (GET, lambda a: a[a > 0], (m,)),
    (GET, lambda a: a[np.abs(a) > 1], (z,)),
    # setitem: basic, broadcasting values, advanced with repeats, masks
    (SET, _set(1), (x, rand(5, 3))),
    (SET, _set((slice(None), 2)), (x, rand(3))),
    (SET, _set((Ellipsis, 0)), (x, rand(1, 5))),
    (SET, _set(0), (m, rand(1, 8))),
    (SET, _set((slice(1, 3), slice(None, None, 2))), (m, np.array(0.7))),
    (SET, _set([0, 2, 0]), (m, rand(3, 8))),
    (SET, _set(([1, 1, 3], [0, 0, 5])), (m, rand(3))),
    (SET, _set(mask), (m, rand(int(mask.sum())))),
    (SET, _set(mask), (m, np.array(-1.5))),
    (SET, _set(row_mask), (x, rand(1, 3))),
    (SET, _set((slice(None), [4, 0])), (z, rand(4, 2, dtype=complex))),
    (SET, zeros_like_pattern, (m, w)),
    (SET, setitem_chain, (m, rand(8))),
    (SET, accumulate_update, (m, rand(3, 8))),
]






@pytest.mark.parametrize("case", CASES[::3], ids=case_id)
def test_float32_stays_float32(case):
    _, f, args = case
    args32 = tuple(a.astype(np.complex64 if a.dtype.kind == "c" else np.float32) for a in args)
    check_gradient(f, *args32)


def test_repeated_indices_accumulate():
    (g,) = pb.gradient(lambda a: np.sum(a[[0, 0, 2, 0]] * np.array([1.0, 2.0, 3.0, 4.0])), np.zeros(3))
    np.testing.assert_array_equal(g, [7.0, 0.0, 3.0])
    (g,) = pb.gradient(lambda a: np.sum(a[[[1, 1], [1, 0]], [0, 0]]), np.zeros((2, 2)))
    np.testing.assert_array_equal(g, [[1.0, 0.0], [3.0, 0.0]])


def test_repeated_setitem_last_write_wins():
    def f(a, b):
        y = a * 1.0
        y[[1, 1]] = b
        return np.sum(y * np.array([1.0, 10.0, 100.0]))

    ga, gb = pb.gradient(f, np.ones(3), np.array([2.0, 3.0]))
    np.testing.assert_array_equal(ga, [1.0, 0.0, 100.0])
    np.testing.assert_array_equal(gb, [0.0, 10.0])  # the first write is overwritten


def test_setitem_through_a_view_writes_the_base():
    def f(a):
        y = a[1:]  # a view, as in NumPy: writing it writes a
        y[0] = 0.0
        return np.sum(a) + np.sum(y)

    x = np.ones(4)
    value, (g,) = pb.value_and_gradient(f, x)
    assert value == f(x.copy())
    np.testing.assert_array_equal(g, [1.0, 0.0, 2.0, 2.0])
    np.testing.assert_array_equal(x, np.ones(4))  # the caller's array is not written


def test_second_order_through_indexing():
    def f(a):
        y = np.zeros_like(a)
        y[:, 1:] = a[:, :-1] ** 2
        y[[0, 0, 3]] += a[[1, 2, 2]] * a[[3, 3, 0]]
        return np.sum(y * np.sin(a[mask].sum()))

    check_gradient(lambda a: pb.gradient(f, a)[0], m)


def test_assigning_a_traced_value_into_a_plain_array_raises():
    def f(a):
        out = np.zeros((4, 8))
        out[0] = a[0]
        return np.sum(out)

    with pytest.raises(TracedConversionError):
        pb.gradient(f, m)


def test_index_errors_match_numpy():
    for index in [(5,), (slice(None), 9), ([0, 4],), (np.ones(3, bool),)]:
        with pytest.raises(IndexError) as want:
            m[index]
        with pytest.raises(IndexError) as got:
            pb.gradient(lambda a: np.sum(a[index]), m)
        assert str(got.value) == str(want.value)


def _index_strategy(shape):
    """A random index into an array of ``shape``: ints, slices, None, Ellipsis, int arrays, masks."""
    parts = []
    for n in shape:
        parts.append(
            st.one_of(
                st.integers(-n, n - 1),
                st.builds(slice, st.integers(-n, n) | st.none(), st.integers(-n, n) | st.none(),
                          st.sampled_from([None, 1, 2, -1])),
                st.lists(st.integers(-n, n - 1), min_size=1, max_size=4).map(np.array),
            )
        )
    return st.tuples(*parts)


@settings(max_examples=25, deadline=None)
@given(
    data=st.data(),
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
    dtype=st.sampled_from([np.float32, np.float64, np.complex64, np.complex128]),
    use_mask=st.booleans(),
)
def test_indexing_sweep(data, shape, dtype, use_mask):
    a = rand(*shape, dtype=dtype, seed=len(shape))
    if use_mask:
        index = a.real > 0
    else:
        index = data.draw(_index_strategy(shape))
        arrays = [p for p in index if isinstance(p, np.ndarray)]
        if arrays:  # advanced indices broadcast together: give them one length
            k = min(len(p) for p in arrays)
            index = tuple(p[:k] if isinstance(p, np.ndarray) else p for p in index)
    sub = a[index]
    want = a.copy()
    val = rand(*sub.shape, dtype=dtype, seed=7)
    want[index] = val

    def get(a):
        return a[index]

    def put(a, val):
        y = a * 1
        y[index] = val
        return y

    np.testing.assert_array_equal(pb.pullback(get, a)[0], sub)
    np.testing.assert_array_equal(pb.pullback(put, a, val)[0], want)
    check_gradient(get, a)
    check_gradient(put, a, val)


def test_element_reads_sum_sparse_cotangents():
    # each x[i] pulls back one entry, summed without a dense array per read; mixed with dense ones
    def f(x):
        total = x[0] * 0.0
        for i in range(len(x)):
            total = total + x[i] * x[-1 - i]
        return total + np.sum(x) * x[1, ...].sum() + x[2] ** 2

    x = rand(7, seed=31)
    _, back = pb.pullback(f, x)
    g1, g2 = back(1.0)[0], back(1.0)[0]
    want = 2 * x[::-1] + np.sum(x) * (np.arange(7) == 1) + x[1] + 2 * x[2] * (np.arange(7) == 2)
    np.testing.assert_allclose(g1, want)
    assert g1 is not g2 and np.array_equal(g1, g2)
    check_gradient(f, x)
    check_gradient(lambda x: pb.gradient(f, x)[0], x)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128, np.complex64])
def test_many_picks_accumulate_as_add_at(dtype):
    """The bincount path for large gathers' adjoints (overlapping frames, repeats, slices mixed
    with arrays, negative indices) equals np.add.at."""
    from pullback.rules.indexing import BINCOUNT_MIN, scatter_raw

    rng = np.random.default_rng(0)
    frames = np.arange(60)[:, None] * 32 + np.arange(96)[None, :]
    cases = [((2048,), frames), ((40, 30), (slice(None), np.arange(150) % 30 - 30)),
             ((50, 50), (rng.integers(0, 50, 5000), rng.integers(0, 50, 5000)))]
    for shape, index in cases:
        picked = np.zeros(shape)[index].shape
        g = rng.standard_normal(picked).astype(dtype)
        if np.dtype(dtype).kind == "c":
            g = g + 1j * rng.standard_normal(picked).astype(g.real.dtype)
        assert g.size >= BINCOUNT_MIN
        want = np.zeros(shape, np.result_type(dtype, np.float64))  # exact sums to compare with
        np.add.at(want, index, g.astype(want.dtype))
        got = scatter_raw(g, shape, dtype, index)
        assert got.dtype == dtype
        single = np.dtype(dtype).itemsize * (1 + (np.dtype(dtype).kind != "c")) == 8
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 if single else 1e-13)
