import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pullback as pb
from pullback.errors import NoRuleError
from pullback.testing import check_adjoint, check_gradient

from .cases import case_id, rand

x = rand(3, 4, 5)
m = rand(4, 6)
sq = rand(4, 4)
v = rand(6)
v4 = rand(4)
s0 = np.array(1.7)
z = rand(3, 4, dtype=complex)
zv = rand(4, dtype=complex)
f32 = rand(3, 4, dtype=np.float32)
idx = np.array([[0, 2, 2], [1, 0, 3], [3, 3, 3]])

def put_along(a, vals, axis=1):
    out = a * 1.0
    where = np.argsort(a, axis=axis)[:, :2] if axis == 1 else np.array([3, 0])
    np.put_along_axis(out, where, vals, axis=axis)
    return out


CASES = [
    # reshaping
    (np.reshape, lambda a: np.reshape(a, (5, -1)), (x,)),
    (np.reshape, lambda a: np.reshape(a, (12, 5), order="F"), (x,)),
    (np.reshape, lambda a: a.reshape(4, 3, 5), (x,)),
    (np.reshape, lambda a: np.reshape(a, shape=(2, 12)), (m,)),
    (np.reshape, lambda a: np.reshape(a.T, -1, order="A"), (m,)),
    (np.ravel, np.ravel, (x,)),
    (np.ravel, lambda a: np.ravel(a, order="F"), (z,)),
    (np.ravel, lambda a: np.ravel(np.transpose(a), order="K"), (m,)),
    (np.ravel, lambda a: a.flatten(), (m,)),
    (np.expand_dims, lambda a: np.expand_dims(a, (0, -1)), (m,)),
    (np.squeeze, np.squeeze, (x[:, :1, None],)),
    (np.squeeze, lambda a: np.squeeze(a, axis=1), (x[:, :1],)),
    (np.broadcast_to, lambda a: np.broadcast_to(a, (3, 4, 6)), (v,)),
    (np.broadcast_to, lambda a: np.broadcast_to(a, shape=(2, 4, 6)), (m[:1],)),
    (np.broadcast_arrays, lambda a, b: np.broadcast_arrays(a, b)[0] * np.broadcast_arrays(a, b)[1], (m, v)),
    (np.broadcast_arrays, lambda a: np.stack(np.broadcast_arrays(a, np.ones((2, 1, 1)))), (m,)),
    (np.atleast_1d, np.atleast_1d, (s0,)),
    (np.atleast_1d, lambda a, b: np.atleast_1d(a, b)[0] + np.atleast_1d(a, b)[1], (s0, v)),
    (np.atleast_2d, np.atleast_2d, (v,)),
    (np.atleast_2d, lambda a: np.atleast_2d(a) * 2, (s0,)),
    (np.atleast_3d, np.atleast_3d, (v,)),
    (np.atleast_3d, np.atleast_3d, (m,)),
    (np.atleast_3d, np.atleast_3d, (x,)),
    # permuting axes
    (np.transpose, np.transpose, (x,)),
    (np.transpose, lambda a: np.transpose(a, (2, -3, 1)), (x,)),
    (np.transpose, lambda a: a.T, (z,)),
    (np.moveaxis, lambda a: np.moveaxis(a, 0, -1), (x,)),
    (np.moveaxis, lambda a: np.moveaxis(a, (0, 1), (2, 0)), (x,)),
    (np.swapaxes, lambda a: np.swapaxes(a, 0, 2), (x,)),
    (np.swapaxes, lambda a: a.mT, (z,)),
    # flips and rotations
    (np.flip, np.flip, (x,)),
    (np.flip, lambda a: np.flip(a, (0, 2)), (x,)),
    (np.fliplr, np.fliplr, (m,)),
    (np.flipud, np.flipud, (z,)),
    (np.rot90, np.rot90, (m,)),
    (np.rot90, lambda a: np.rot90(a, 3, axes=(2, 0)), (x,)),
    (np.rot90, lambda a: np.rot90(a, -2), (z,)),
    (np.roll, lambda a: np.roll(a, 2), (x,)),
    (np.roll, lambda a: np.roll(a, (1, -2), axis=(0, 2)), (x,)),
    (np.roll, lambda a: np.roll(a, -7, axis=1), (z,)),
    # diagonals and triangles
    (np.diagonal, np.diagonal, (m,)),
    (np.diagonal, lambda a: np.diagonal(a, 1, 2, 0), (x,)),
    (np.diagonal, lambda a: np.diagonal(a, -2, axis1=-1, axis2=-2), (x,)),
    (np.diagonal, lambda a: a.diagonal(), (z,)),
    (np.diag, np.diag, (v,)),
    (np.diag, lambda a: np.diag(a, -2), (v,)),
    (np.diag, lambda a: np.diag(a, 1), (m,)),
    (np.diag, lambda a: np.diag(a, -1), (m,)),
    (np.diagflat, lambda a: np.diagflat(a, 1), (m[:2, :3],)),
    (np.triu, np.triu, (m,)),
    (np.triu, lambda a: np.triu(a, -1), (x,)),
    (np.triu, lambda a: np.triu(a, 1), (v,)),
    (np.tril, lambda a: np.tril(a, 2), (m,)),
    (np.tril, np.tril, (z,)),
    # joining
    (np.concatenate, lambda a, b: np.concatenate([a, b, a], 1), (m, sq)),
    (np.concatenate, lambda a, b: np.concatenate((a, b.T), axis=-1), (m, sq)),
    (np.concatenate, lambda a, b: np.concatenate((a, b), axis=None), (x, m)),
    (np.concatenate, lambda a: np.concatenate((a, m), axis=1), (sq,)),
    (np.concatenate, lambda a, b: np.concatenate([a, b]), (v4, zv)),
    (np.concatenate, lambda a, b: np.concatenate([a, b], dtype=np.complex128), (v4, v)),
    (np.concatenate, lambda a: np.concatenate(a), (m,)),
    (np.stack, lambda a, b: np.stack([a, b, a]), (m, m[::-1])),
    (np.stack, lambda a, b: np.stack((a, b), axis=-1), (z, z[::-1])),
    (np.stack, lambda a: np.stack([a, np.ones(6)], axis=1), (v,)),
    (np.hstack, lambda a, b: np.hstack([a, b]), (v, v4)),
    (np.hstack, lambda a, b: np.hstack([a, b]), (m, sq)),
    (np.hstack, lambda a, b: np.hstack([a, b]), (s0, v)),
    (np.vstack, lambda a, b: np.vstack([a, b]), (m, v)),
    (np.vstack, lambda a, b: np.vstack((a, b)), (s0, np.array([0.5]))),
    (np.dstack, lambda a, b: np.dstack([a, b]), (m, m * 2)),
    (np.dstack, lambda a, b: np.dstack([a, b]), (v, v)),
    (np.column_stack, lambda a, b: np.column_stack([a, b]), (v4, sq)),
    (np.column_stack, lambda a, b: np.column_stack((a, b)), (v, v)),
    (np.append, lambda a, b: np.append(a, b), (m, v)),
    (np.append, lambda a, b: np.append(a, b, axis=0), (m, v[None, :])),
    # splitting
    (np.split, lambda a: np.split(a, 3, axis=1)[1] * 2 + np.split(a, 3, axis=1)[2], (m,)),
    (np.split, lambda a: np.concatenate(np.split(a, [1, 3, 8], axis=-1)[::-1], -1), (x,)),
    (np.array_split, lambda a: np.array_split(a, 4)[3] * np.array_split(a, 4)[1][:1], (v,)),
    (np.array_split, lambda a: np.hstack(np.array_split(a, 4, axis=1)[::-1]), (m,)),
    (np.hsplit, lambda a: np.hsplit(a, 2)[1], (m,)),
    (np.hsplit, lambda a: np.hsplit(a, [2])[0], (v,)),
    (np.vsplit, lambda a: np.vsplit(a, [1, 3])[1], (m,)),
    (np.dsplit, lambda a: np.dsplit(a, [2])[1], (x,)),
    # tiling and repeating
    (np.tile, lambda a: np.tile(a, 3), (v,)),
    (np.tile, lambda a: np.tile(a, (2, 1, 2)), (m,)),
    (np.tile, lambda a: np.tile(a, (2,)), (x,)),
    (np.tile, lambda a: np.tile(a, (2, 3)), (s0,)),
    (np.repeat, lambda a: np.repeat(a, 3), (m,)),
    (np.repeat, lambda a: np.repeat(a, 2, axis=-1), (x,)),
    (np.repeat, lambda a: np.repeat(a, [1, 0, 3, 2], axis=0), (m,)),
    (np.repeat, lambda a: a.repeat([2, 1, 1], axis=0), (z[:, :2],)),
    # selections
    (np.take, lambda a: np.take(a, [3, 3, 0, -1]), (x,)),
    (np.take, lambda a: np.take(a, idx, axis=1), (x,)),
    (np.take, lambda a: np.take(a, 2, axis=-1), (x,)),
    (np.take, lambda a: np.take(a, [7, -8, 5], axis=1, mode="wrap"), (m,)),
    (np.take, lambda a: np.take(a, [9, -1, 2], mode="clip"), (v,)),
    (np.take, lambda a: a.take([1, 1]), (z,)),
    (np.take_along_axis, lambda a: np.take_along_axis(a, np.argsort(a, axis=0), axis=0), (m,)),
    (np.take_along_axis, lambda a: np.take_along_axis(a, idx[:, :2], axis=-1), (sq[:3],)),
    (np.take_along_axis, lambda a: np.take_along_axis(a, np.array([5, 0, 5]), axis=None), (m,)),
    (np.put_along_axis, put_along, (m, rand(4, 2))),
    (np.put_along_axis, lambda a, b: put_along(a, b, axis=None), (m, rand(2))),
    (np.sort, np.sort, (x,)),
    (np.sort, lambda a: np.sort(a, axis=0, kind="stable"), (m,)),
    (np.sort, lambda a: np.sort(a, axis=None), (m,)),
    (np.sort, np.sort, (z,)),
    # padding
    (np.pad, lambda a: np.pad(a, 2), (m,)),
    (np.pad, lambda a: np.pad(a, ((1, 0), (0, 3)), constant_values=((1.5, 2.0), (3.0, -1.0))), (m,)),
    (np.pad, lambda a, c: np.pad(a, (1, 2), constant_values=c), (m, s0)),
    (np.pad, lambda a: np.pad(a, ((1, 2), (3, 0), (0, 1)), mode="edge"), (x,)),
    (np.pad, lambda a: np.pad(a, (7, 9), mode="wrap"), (v,)),
    (np.pad, lambda a: np.pad(a, ((2, 3), (5, 1)), mode="reflect"), (m,)),
    (np.pad, lambda a: np.pad(a, ((3, 5), (6, 1)), mode="symmetric"), (m,)),
    (np.pad, lambda a: np.pad(a, 2, mode="symmetric"), (z,)),
    (np.pad, lambda a: np.pad(a, ((2, 3), (1, 7)), mode="reflect", reflect_type="odd"), (m,)),
    (np.pad, lambda a: np.pad(a, 4, mode="symmetric", reflect_type="odd"), (z,)),
    (np.pad, lambda a: np.pad(a, ((2, 3), (1, 4)), mode="linear_ramp"), (m,)),
    (np.pad, lambda a: np.pad(a, ((2, 3), (1, 4)), "linear_ramp", end_values=((1.0, 2.0), (-1, 3))), (m,)),
    (np.pad, lambda a: np.pad(a, ((2, 3), (1, 4)), mode="mean"), (m,)),
    (np.pad, lambda a: np.pad(a, 3, mode="mean", stat_length=2), (z,)),
    (np.pad, lambda a: np.pad(a, ((2, 3), (1, 4)), mode="maximum", stat_length=((1, 2), (3, 1))), (m,)),
    (np.pad, lambda a: np.pad(a, (2, 5), mode="minimum"), (v,)),
    (np.pad, lambda a: np.pad(a, ((2, 3), (0, 4)), mode="median"), (m,)),
    (np.pad, lambda a: np.pad(a, 2, mode="median", stat_length=3), (v,)),
    (np.insert, lambda a, b: np.insert(a, [0, 2, 2], b[:3], axis=1), (m, v4)),
    (np.delete, lambda a: np.delete(a, [0, 2], axis=1), (z,)),
    (np.resize, lambda a: np.resize(a, (5, 7)), (m,)),
    (np.choose, lambda a, b: np.choose(idx, [a[:3, :3], b[:3], 2 * a[:3, :1], b[:3, None]]), (m, v)),
    (np.block, lambda a, b: np.block([[a, a[:, :1]], [b[None, :], b[:1, None]]]), (m, v)),
    (np.compress, lambda a: np.compress([True, False, True], a, axis=1), (x,)),
    (np.extract, lambda a: np.extract(np.arange(24).reshape(4, 6) % 3 == 0, a), (m,)),
    (np.trim_zeros, lambda a: np.trim_zeros(np.concatenate([np.zeros(2), a, np.zeros(3)])), (v,)),
    (np.sort_complex, np.sort_complex, (z,)),
]
if np.lib.NumpyVersion(np.__version__) >= "2.3.0":  # pad_width as a dict {axis: widths}
    CASES.append((np.pad, lambda a: np.pad(a, {1: (2, 1)}, mode="edge"), (m,)))
if hasattr(np, "matrix_transpose"):
    CASES.append((np.matrix_transpose, np.matrix_transpose, (x,)))
if hasattr(np, "unstack"):
    CASES.append((np.unstack, lambda a: np.unstack(a, axis=1)[2] * np.unstack(a, axis=1)[0], (x,)))


def _as_array(y):
    return np.stack(y) if isinstance(y, (list, tuple)) else y






@pytest.mark.parametrize(
    "case", [c for c in CASES if len(c[2]) == 1 and c[2][0].ndim >= 1][::4], ids=case_id
)
def test_float32_stays_float32(case):
    _, f, args = case
    args32 = tuple(a.astype(np.complex64 if a.dtype.kind == "c" else np.float32) for a in args)
    y = _as_array(pb.pullback(f, *args32)[0])
    assert np.result_type(y) == np.result_type(_as_array(f(*args32)))
    check_gradient(lambda *a: _as_array(f(*a)), *args32)


@pytest.mark.parametrize(
    "f",
    [
        lambda a: np.reshape(a, (6, 4), order="F"),
        lambda a: np.transpose(a, (1, 0)),
        lambda a: np.rot90(a, 1),
        lambda a: np.roll(a, (1, 2), axis=(0, 1)),
        lambda a: np.pad(a, ((1, 2), (0, 3)), mode="reflect"),
        lambda a: np.pad(a, ((4, 2), (5, 3)), mode="wrap"),
        lambda a: np.diagonal(a, 1),
        lambda a: np.diag(a, -1),
        lambda a: np.tril(a, 1),
        lambda a: np.tile(a, (2, 1)),
        lambda a: np.repeat(a, [0, 2, 1, 3], axis=0),
        lambda a: np.concatenate([a, a[::-1]], axis=None),
        lambda a: np.stack([a, 2 * a], axis=1),
    ],
)
def test_adjoint_against_dense_matrix(f):
    check_adjoint(f, m)
    check_adjoint(f, rand(4, 6, dtype=complex))


def test_concatenate_many_arrays_forward_and_reverse():
    parts = [rand(2, 3, seed=i) for i in range(30)]

    def f(*ps):
        return np.concatenate([np.sin(p) for p in ps], axis=1)

    check_gradient(f, *parts[:5])
    y, back = pb.pullback(f, *parts)
    grads = back(np.ones(y.shape))
    for p, g in zip(parts, grads, strict=True):
        np.testing.assert_allclose(g, np.cos(p))


def test_concatenate_mixed_dtypes_give_each_its_own_dtype():
    a, b = rand(3, dtype=np.float32), rand(2, dtype=np.complex128)
    ga, gb = pb.gradient(lambda a, b: np.sum(np.abs(np.concatenate([a, b])) ** 2), a, b)
    assert ga.dtype == np.float32 and gb.dtype == np.complex128
    np.testing.assert_allclose(ga, 2 * a, rtol=1e-6)
    np.testing.assert_allclose(gb, 2 * b)


def test_join_keeps_no_reference_to_its_inputs():
    import gc
    import weakref

    from pullback.core import strip

    refs = []

    def f(a):
        b = np.flip(a)  # linear: its pullback keeps no values either
        refs.append(weakref.ref(strip(b)))
        return np.concatenate([b, 2 * a, b])

    _, back = pb.pullback(f, v)
    gc.collect()
    assert refs[0]() is None
    np.testing.assert_allclose(back(np.ones(18))[0], 4.0)


def test_second_order_through_shape_ops():
    def f(a):
        b = np.concatenate([np.pad(a, 1, mode="reflect"), np.tile(a, (2, 1))[:6]], axis=1)
        return np.sum(np.sort(b, axis=1) ** 3 * np.arange(b.shape[1]))

    check_gradient(lambda a: pb.gradient(f, a)[0], m)
    tan = rand(4, 6, seed=5)

    def g(a):  # nonlinear in a, so that a jvp of it is differentiable again
        c = np.concatenate([a, a[:, ::-1]], axis=1)[..., :6, None]
        b = np.stack([a, np.roll(a, 1, axis=0)], axis=-1) * c
        return np.diagonal(np.pad(b, ((1, 0), (0, 1), (0, 0)), mode="wrap"), 0, 0, 1) ** 2

    check_gradient(lambda a: pb.jvp(g, (a,), (tan,))[1], m)


def test_sort_gradient_follows_each_entry():
    a = np.array([3.0, 1.0, 2.0])
    (g,) = pb.gradient(lambda a: np.sum(np.sort(a) * np.array([1.0, 10.0, 100.0])), a)
    np.testing.assert_allclose(g, [100.0, 1.0, 10.0])


def test_put_along_axis_on_a_traced_array():
    def f(a, vals):
        out = a * 1.0
        np.put_along_axis(out, np.argmax(a, axis=1, keepdims=True), vals, axis=1)
        return out

    check_gradient(f, m, rand(4, 1))
    want = m.copy()
    np.put_along_axis(want, np.argmax(m, axis=1, keepdims=True), 0.5, axis=1)
    np.testing.assert_array_equal(pb.pullback(lambda a: f(a, np.full((4, 1), 0.5)), m)[0], want)


def test_nondifferentiable_queries_return_plain_values():
    def f(a):
        assert np.shape(a) == (4, 6) and np.ndim(a) == 2 and np.size(a) == 24
        for r in (
            np.argmax(a), np.argmin(a, axis=0), np.argsort(a), np.nonzero(a > 0), np.flatnonzero(a > 0),
            np.argwhere(a > 0), np.searchsorted(np.sort(a[0]), a[1]), np.digitize(a, [0.0, 1.0]),
            np.argpartition(a, 2), np.lexsort(a),
        ):
            for leaf in r if isinstance(r, tuple) else (r,):
                assert isinstance(leaf, (np.ndarray, np.integer)), type(leaf)
        return np.sum(a)

    pb.gradient(f, m)


@pytest.mark.parametrize(
    "f",
    [
        lambda a: np.reshape(a, (5, 5)),
        lambda a: np.moveaxis(a, 0, 3),
        lambda a: np.concatenate([a, a[:, :2].T]),
        lambda a: np.stack([a, a[:, :2]]),
        lambda a: np.split(a, 4, axis=1),
        lambda a: np.vsplit(a[0], 2),
        lambda a: np.take(a, [30]),
        lambda a: np.take_along_axis(a, np.array([1]), axis=0),
        lambda a: np.repeat(a, [1, 2], axis=0),
        lambda a: np.squeeze(a, axis=0),
        lambda a: np.diagonal(a, 0, 1, 1),
        lambda a: np.fliplr(a[0]),
        lambda a: np.pad(a, 1, mode="empty", constant_values=1.0),
        lambda a: np.pad(a, 1, end_values=1.0),
        lambda a: np.pad(a, 1, mode="bogus"),
    ],
)
def test_errors_match_numpy(f):
    with pytest.raises(Exception) as want:
        f(m)
    with pytest.raises(type(want.value)) as got:
        pb.gradient(lambda a: np.sum(_as_array(f(a))), m)
    assert str(got.value) == str(want.value)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": "reflect", "reflect_type": "odd"},
        {"mode": "symmetric", "reflect_type": "odd"},
        {"mode": "linear_ramp", "end_values": 2.0},
        {"mode": "mean", "stat_length": 3},
        {"mode": "mean"},
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
def test_linear_pad_modes_against_dense_matrix(kwargs, dtype):
    a = rand(5, 4, dtype=dtype)
    if "end_values" in kwargs:  # affine: its linear part is the same pad with zero end values
        kwargs = {**kwargs, "end_values": 0.0}
    check_adjoint(lambda b: np.pad(b, ((3, 2), (1, 6)), **kwargs), a)


def test_callable_pad_mode_raises():
    def fill(vector, width, axis, kwargs):
        vector[: width[0]] = 1.0

    with pytest.raises(NoRuleError, match="numpy.pad with a callable mode"):
        pb.gradient(lambda a: np.sum(np.pad(a, 1, mode=fill)), m)


@settings(max_examples=25, deadline=None)
@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    axis=st.integers(-3, 2),
    dtype=st.sampled_from([np.float32, np.float64, np.complex64, np.complex128]),
    op=st.sampled_from(
        ["flip", "roll", "concatenate", "stack", "split", "moveaxis", "repeat", "pad", "sort"]
    ),
    k=st.integers(1, 3),
)
def test_shape_ops_sweep(shape, axis, dtype, op, k):
    nd = len(shape)
    ax = axis % nd
    axis = ax - nd if axis < 0 else ax  # a valid axis, negative or not
    a = rand(*shape, dtype=dtype, seed=nd + k)
    mode = ["edge", "wrap", "reflect", "symmetric", "constant"][k + nd - 2]
    f = {
        "flip": lambda a: np.flip(a, ax),
        "roll": lambda a: np.roll(a, k, axis=axis),
        "concatenate": lambda a: np.concatenate([a, 2 * a, a[::-1]], axis=axis),
        "stack": lambda a: np.stack([a] * k, axis=axis % (nd + 1)),
        "split": lambda a: np.array_split(a, k, axis=axis)[-1],
        "moveaxis": lambda a: np.moveaxis(a, axis, 0),
        "repeat": lambda a: np.repeat(a, k, axis=axis),
        "pad": lambda a: np.pad(a, [(k, 1)] * nd, mode=mode) if mode != "reflect" or min(shape) > 1 else a,
        "sort": lambda a: np.sort(a, axis=axis),
    }[op]
    want = f(a)
    got = pb.pullback(f, a)[0]
    assert np.result_type(got) == np.result_type(want)
    np.testing.assert_array_equal(got, want)
    check_gradient(f, a)


def _same(want, got):
    return (type(want) is type(got) and np.asarray(want).dtype == np.asarray(got).dtype
            and np.shape(want) == np.shape(got) and np.asarray(want).tobytes() == np.asarray(got).tobytes())


def _numpys_error(f, *args):
    try:
        f(*args)
    except Exception as ex:  # noqa: BLE001 - any exception NumPy raises
        want = (type(ex), str(ex))
    else:
        raise AssertionError("NumPy raised nothing")
    with pytest.raises(want[0]) as info:
        pb.pullback(f, *args)
    assert str(info.value) == want[1]


_A = rand(3, 4, seed=7)
_V = rand(4, seed=8)
_Z = _A * (1 + 0.5j)
_W = np.array([0.0, 0.0, 1.5, -2.0, 0.0, 3.0, 0.0])
_M = np.zeros((4, 5))
_M[1:3, 2:4] = _A[:2, :2]
_IDX = np.array([[0, 1, 2, 1], [2, 0, 1, 1], [1, 1, 0, 2]])

# (f, args, linear): NumPy's values bit for bit, gradients checked, the linear ones' adjoints too
SELECTIONS = [
    (lambda a: np.insert(a, 1, 0.0), (_A,), True),
    (lambda a: np.insert(a, [1, 3], _V[:2], axis=None), (_A,), False),
    (lambda a, b: np.insert(a, 2, b, axis=1), (_A, _V[:3]), False),
    (lambda a, b: np.insert(a, slice(0, 3), b[:1], axis=1), (_A, _V), False),
    (lambda a, b: np.insert(a, 1, b, axis=0), (_A, _V), False),
    (lambda a: np.insert(a, 1, np.array([1, 2, 3, 4]), axis=0), (_Z,), False),
    (lambda b: np.insert(_A, 1, b, axis=0), (_V * 1j + 1,), False),  # complex values cast to float
    (lambda a: np.delete(a, 1), (_A,), True),
    (lambda a: np.delete(a, slice(None, None, 2), axis=0), (_Z,), True),
    (lambda a: np.delete(a, np.array([True, False, True]), axis=0), (_A,), True),
    (lambda a: np.resize(a, (5, 3)), (_A,), True),
    (lambda a: np.resize(a, 7), (_V,), True),
    (lambda a, b: np.choose(_IDX, [a, b, 2 * a]), (_A, _V), False),
    (lambda a, b: np.choose(_IDX + 3, [a, b, 2 * a], mode="wrap"), (_A, _V), False),
    (lambda a, b: np.choose(_IDX + 3, [a, b, 2 * a], mode="clip"), (_A, _V), False),
    (lambda c: np.choose(_IDX[0], c), (rand(3, 4, seed=9),), True),
    (lambda b: np.choose(_IDX, [_A, b, 0.5]), (_V,), False),
    (lambda a: np.block([[a], [a]]), (_Z,), True),
    (lambda a: np.block([[1.0, a[0]], [a[1], 2.0]]), (_V,), False),
    (lambda a, b: np.block([a, b]), (_V, _V.astype(np.float32)), False),
    (lambda a: np.compress([False, True], a), (_A,), True),
    (lambda a: np.compress(np.array([1, 0, 1, 1]), a, axis=1), (_Z,), True),
    (lambda a: np.extract(a > 0, a), (_A,), False),
    # (the zeros stay zeros under the finite differences' perturbations)
    (lambda a: np.trim_zeros(a * (_W != 0)), (_W,), False),
    (lambda a: np.trim_zeros(a * (_W != 0), "f"), (_W,), False),
    (lambda a: np.trim_zeros(a * (_W != 0), "B"), (_W,), False),
    (lambda a: np.trim_zeros(a * (_M != 0), axis=0), (_M,), False),
    (lambda a: np.trim_zeros(a * (_M != 0)), (_M,), False),
    (np.sort_complex, (_V,), False),
    (np.sort_complex, (_V.astype(np.float32),), False),
]


@pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")  # NumPy's, for complex values
@pytest.mark.parametrize("k", range(len(SELECTIONS)))
def test_selections_by_numpys_index_map(k):
    """np.insert, delete, resize, choose (every mode), block, compress, extract, trim_zeros and
    sort_complex (NoRuleErrors the NumPy sweep listed): NumPy's values, types and dtypes; the
    gradients (a scatter-add of the cotangent); the maps that are linear in their argument checked
    against their matrix."""
    f, args, linear = SELECTIONS[k]
    assert _same(f(*args), pb.pullback(f, *args)[0])
    check_gradient(f, *args)
    if linear:
        check_adjoint(f, args[0])


@pytest.mark.parametrize("f, args", [
    (lambda a: np.insert(a, 9, 1.0, axis=0), (_A,)),
    (lambda a: np.insert(a, 1, np.ones(3), axis=0), (_A,)),
    (lambda a: np.delete(a, 9, axis=0), (_A,)),
    (lambda a: np.choose(_IDX + 1, [a, a, a]), (_A,)),
    (lambda a: np.choose(_IDX, [a, a[:2]]), (_A,)),
    (lambda a: np.block((a, a)), (_V,)),
    (lambda a: np.block([[a], [_V[:3]]]), (_A,)),
    (lambda a: np.block([[a], []]), (_A,)),
    (lambda a: np.compress([True] * 5, a, axis=0), (_A,)),
    (lambda a: np.compress([[True]], a, axis=0), (_A,)),
    (lambda a: np.extract(np.ones(20, bool), a), (_A,)),
    (lambda a: np.trim_zeros(a, "x"), (_W,)),
    (lambda a: np.resize(a, -1), (_W,)),
])
def test_selections_raise_numpys_errors(f, args):
    _numpys_error(f, *args)


def test_insert_and_choose_second_order():
    h = pb.hessian(lambda a: np.sum(np.insert(a, 1, a[::-1] ** 2) ** 2), _V)
    want = pb.hessian(lambda a: np.sum(np.concatenate([a[:1], a[::-1] ** 2, a[1:]]) ** 2), _V)
    np.testing.assert_allclose(h, want)
    h = pb.hessian(lambda a: np.sum(np.choose(_IDX[0], [a, a ** 2, np.sin(a)]) ** 2), _V)
    want = pb.hessian(lambda a: np.sum(np.stack([a, a ** 2, np.sin(a)])[_IDX[0], np.arange(4)] ** 2), _V)
    np.testing.assert_allclose(h, want)


def test_pad_linear_modes_float32_values_are_numpys():
    """Regression (sweep 3a): float32 'reflect'/'symmetric' (odd), 'linear_ramp' and 'mean' pads
    differed from NumPy's by an ulp (a matrix product's rounding): NumPy's own value now, and the
    composite's gradient."""
    rng = np.random.default_rng(3)
    fs = [lambda a: np.pad(a, ((2, 3), (1, 7)), mode="reflect", reflect_type="odd"),
          lambda a: np.pad(a, ((2, 3), (1, 4)), mode="symmetric", reflect_type="odd"),
          lambda a: np.pad(a, ((2, 3), (1, 4)), mode="linear_ramp"),
          lambda a: np.pad(a, ((2, 3), (1, 4)), "linear_ramp", end_values=((1.0, 2.0), (-1, 3))),
          lambda a: np.pad(a, ((2, 3), (1, 4)), mode="mean")]
    for dt in (np.float32, np.complex64):
        a = rng.standard_normal((4, 6)).astype(dt)
        for f in fs:
            want, got = f(a), pb.pullback(f, a)[0]
            assert got.dtype == want.dtype and got.tobytes() == want.tobytes()
        check_gradient(fs[0], a)
        check_gradient(fs[3], a)


def test_transpose_by_one_integer_axis():
    """Regression (sweep, via SciPy's CZT): ``v.transpose(k)`` and ``np.transpose(v, k)`` of a 1-d
    array take one integer axis, and its adjoint iterated over it (TypeError in the backward pass)."""
    w = np.arange(3.0)
    for f in (lambda a: a.transpose(np.int64(0)), lambda a: np.transpose(a, 0), lambda a: a.transpose(-1)):
        assert pb.pullback(f, v4[:3])[0].tobytes() == f(v4[:3]).tobytes()
        np.testing.assert_array_equal(pb.gradient(lambda a: np.sum(f(a) * w), v4[:3])[0], w)
        check_gradient(f, v4[:3])
