"""NumPy's view semantics under tracing: writes through views, in place and into ``out=``.

The battery runs every view kind x every write kind, with views taken before and
after the write, in float32/float64/complex64/complex128: the traced value must be
NumPy's bit for bit, and the gradient must match finite differences in reverse and
forward mode. Hypothesis adds random shapes and chains of basic indices.
"""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pullback as pb
from pullback.rules import registry
from pullback.testing import check_gradient

from .cases import rand

DTYPES = [np.float64, np.complex128, np.float32, np.complex64]

# ---------------------------------------------------------------- the battery

# each view kind maps y (4 x 6) to a view of it, as NumPy defines one
VIEWS = {
    "slice": lambda y: y[1:3],
    "row then slice": lambda y: y[1][2:],
    "step": lambda y: y[::2],
    "reversed": lambda y: y[::-1],
    "column": lambda y: y[:, 2],
    "ellipsis and newaxis": lambda y: y[..., None, 1:4],
    ".T": lambda y: y.T,
    "transpose": lambda y: np.transpose(y),
    "swapaxes": lambda y: np.swapaxes(y, 0, 1),
    "moveaxis": lambda y: np.moveaxis(y, 0, -1),
    "reshape": lambda y: y.reshape(2, 12),
    "ravel": lambda y: y.ravel(),
    "np.reshape of a row": lambda y: np.reshape(y[2], (3, 2)),
    "squeeze": lambda y: np.squeeze(y[None]),
    "expand_dims": lambda y: np.expand_dims(y, 1),
    "iteration": lambda y: next(iter(y[1:])),
    "unpacking": lambda y: (lambda a, b, c, d: c)(*y),
    "split": lambda y: np.split(y, 2)[1],
    "array_split": lambda y: np.array_split(y, 4, axis=1)[3],
    "flip": lambda y: np.flip(y, 1),
    ".view()": lambda y: y.view(),
    "T then slice": lambda y: y.T[1:4, ::2],
    "step of step": lambda y: y[::2][1],
    ".real": lambda y: y.real,
    ".imag": lambda y: y.imag,
    "real of a slice": lambda y: np.real(y[1:, ::3]),
}


def _values(v, x, shape):
    """A value of ``shape`` for writing into ``v``, computed from the input ``x``."""
    n = int(np.prod(shape))
    flat = np.ravel(np.sin(x))
    vals = np.resize(flat, (n,)) if n > flat.size else flat[:n]
    vals = np.reshape(vals, shape)
    if v.dtype.kind != "c" and vals.dtype.kind == "c":
        vals = np.real(vals) - np.imag(vals)
    return vals


def _scalar(v, x):
    s = x[0, 1] * 0.5 + 1.0
    return s if v.dtype.kind == "c" or s.dtype.kind != "c" else np.real(s) + np.imag(s)


def _mask(v):
    return np.real(v) > 0


WRITES = {
    "setitem index": lambda v, x: v.__setitem__(0, _scalar(v, x)),
    "setitem slice": lambda v, x: v.__setitem__(slice(1, None), _values(v, x, v[1:].shape)),
    "setitem ellipsis": lambda v, x: v.__setitem__(Ellipsis, _values(v, x, v.shape)),
    "setitem mask": lambda v, x: v.__setitem__(_mask(v), _scalar(v, x)),
    "setitem fancy": lambda v, x: v.__setitem__([0, -1], _values(v, x, v[[0, -1]].shape)),
    "+=": lambda v, x: v.__iadd__(_values(v, x, v.shape)),
    "*=": lambda v, x: v.__imul__(_scalar(v, x)),
    "-= itself shifted": lambda v, x: v.__isub__(v[::-1] * 0.5),
    "fill": lambda v, x: v.fill(_scalar(v, x)),
    "out=": lambda v, x: np.multiply(v, _scalar(v, x), out=v),
    "copyto": lambda v, x: np.copyto(v, _values(v, x, v.shape)),
    "copyto where": lambda v, x: np.copyto(v, _values(v, x, v.shape), where=_mask(v)),
    "put": lambda v, x: np.put(v, [0, 2, 0], _values(v, x, (3,))),
    "putmask": lambda v, x: np.putmask(v, _mask(v), _values(v, x, (2,))),
    "flat": lambda v, x: v.flat.__setitem__(slice(1, 3), _scalar(v, x)),
    "add.at": lambda v, x: np.add.at(v, (np.array([0, 0, -1]),), _scalar(v, x)),
    "sort": lambda v, x: v.sort(),
}


def _program(view, write, when):
    """y = 2x (a fresh array); take views, write through one, read everything."""

    def f(x):
        y = x * 2.0
        before = y[::-1]
        v = VIEWS[view](y)
        if when == "read first":
            read = v * 1.0
        WRITES[write](v, x)
        after = np.transpose(y)[1]
        parts = [y, v, before, after] + ([read] if when == "read first" else [])
        return np.concatenate([np.ravel(p) for p in parts])

    return f


def _applies(view, dtype) -> bool:
    return not (view == ".imag" and np.dtype(dtype).kind != "c")


BATTERY = [(v, w, when) for v in VIEWS for w in WRITES for when in ("read first", "write first")]


@pytest.mark.parametrize("dtype", DTYPES)
def test_battery_values_are_numpys_bit_for_bit(dtype):
    x = rand(4, 6, dtype=dtype, seed=3)
    count = 0
    for view, write, when in BATTERY:
        if not _applies(view, dtype):
            continue
        f = _program(view, write, when)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
            want = f(x.copy())
            got, _ = pb.pullback(f, x)
            tangent_value, _ = pb.jvp(f, (x,), (np.ones_like(x),))
        for value in (got, tangent_value):
            assert value.dtype == want.dtype, (view, write, when)
            assert np.array_equal(value, want) and np.array_equal(np.signbit(value.real),
                                                                  np.signbit(want.real)), (view, write, when)
        count += 1
    assert count >= 800


@pytest.mark.parametrize("dtype", [np.float64, np.complex128, np.float32])
def test_battery_gradients_match_finite_differences(dtype):
    x = rand(4, 6, dtype=dtype, seed=4)
    for view, write, when in BATTERY:
        if not _applies(view, dtype) or (write == "sort" and dtype == np.float32):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
            try:
                check_gradient(_program(view, write, when), x, n_directions=1)
            except AssertionError as e:
                raise AssertionError(f"{view} / {write} / {when}: {e}") from None


# ---------------------------------------------------------------- hypothesis: chains of basic indices


def _basic_index(draw, shape):
    parts = []
    for n in shape:
        kind = draw(st.sampled_from(["all", "int", "slice"]))
        if kind == "int" and n:
            parts.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            start = draw(st.none() | st.integers(-n - 1, n))
            stop = draw(st.none() | st.integers(-n - 1, n))
            step = draw(st.sampled_from([None, 1, 2, -1, -2]))
            parts.append(slice(start, stop, step))
        else:
            parts.append(slice(None))
    return tuple(parts)


@st.composite
def _chains(draw):
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    first = _basic_index(draw, shape)
    mid = np.empty(shape)[first].shape
    second = _basic_index(draw, mid) if mid and draw(st.booleans()) else None
    write = draw(st.sampled_from(["set", "iadd", "imul"]))
    return shape, first, second, write


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_chains(), st.sampled_from([np.float64, np.complex128]))
def test_chains_of_basic_indices(chain, dtype):
    shape, first, second, write = chain

    def f(x):
        y = x * 3.0
        v = y[first]
        if second is not None:
            v = v[second]
        if np.ndim(v) == 0:
            y[first if second is None else first] = x.ravel()[0]  # a scalar: NumPy's copy, write direct
            return y
        val = np.reshape(np.cos(np.ravel(x))[: v.size], v.shape) if v.size <= x.size else 2.0
        if write == "set":
            v[...] = val
        elif write == "iadd":
            v += val
        else:
            v *= val
        return np.concatenate([np.ravel(y), np.ravel(v)])

    x = rand(*shape, dtype=dtype, seed=5)
    want = f(x.copy())
    got = pb.pullback(f, x)[0]
    assert np.array_equal(got, want)
    check_gradient(f, x, n_directions=1)


# ---------------------------------------------------------------- the issue's programs


def test_chained_indexing_writes_the_base():
    def f(x):
        y = np.zeros((2, 3)) * x[0]
        y[0][1:] = x[1:]
        return np.sum(y**2)

    x = np.array([1.0, 2.0, 3.0])
    value, (g,) = pb.value_and_gradient(f, x)
    assert value == 13.0
    np.testing.assert_array_equal(g, [0.0, 4.0, 6.0])


PROGRAMS = {
    "v[:] = 1": lambda y, x: y[:3].__setitem__(slice(None), x[0]),
    "t *= 3": lambda y, x: y[::-1].__imul__(3.0),
    "y.T[0] =": lambda y, x: y.T.__setitem__(0, x[1]),
    "ravel()[:2] =": lambda y, x: y.ravel().__setitem__(slice(0, 2), x[2]),
    "for row in y: row *= 2": lambda y, x: [row.__imul__(2.0 + x[0]) for row in y],
    "a, b = y; a += b": lambda y, x: (lambda a, b, *rest: a.__iadd__(b))(*y),
    "split(y)[1][:] =": lambda y, x: np.split(y, 2)[1].__setitem__(slice(None), x[3]),
    "y[::2][1] =": lambda y, x: y[::2].__setitem__(1, x[0] * x[1] / x[2]),
    "squeeze(y)[1] =": lambda y, x: np.squeeze(y[None])[1].__setitem__(0, x[2]),
    "swapaxes(y)[2, 1] =": lambda y, x: np.swapaxes(y, 0, 1).__setitem__((2, 1), x[3]),
    "multiply(out=y[:3])": lambda y, x: np.multiply(y[:3], x[:3, None], out=y[:3]),
    "y[1:] += y[:-1]": lambda y, x: y[1:].__iadd__(y[:-1]),
    "y[2] = then read y[1:3]": lambda y, x: y.__setitem__(2, x[0]),
    "z.real += ": lambda y, x: y.real.__iadd__(x[:, None].real),
    "w.imag[:] = 0": lambda y, x: y.imag.__setitem__(slice(None), 0.0),
    "y.flat[3] =": lambda y, x: y.flat.__setitem__(3, x[1]),
    "y.shape =": lambda y, x: setattr(y, "shape", (y.size,)),
    "np.place": lambda y, x: np.place(y, np.real(y) > 0, x[:2]),
    "np.subtract.at": lambda y, x: np.subtract.at(y, ([0, 0, 1], [1, 1, 2]), x[0]),
    "np.maximum.at": lambda y, x: np.maximum.at(y, ([0, 0, 1], [1, 1, 2]), x[:3]),
    "y.sort(axis=0)": lambda y, x: y.sort(axis=0),
    "y[1:3].fill": lambda y, x: y[1:3].fill(x[3]),
    "y.view()[0] =": lambda y, x: y.view().__setitem__(0, x[1]),
    "y.real = ": lambda y, x: setattr(y, "real", x[:, None].real * 2),
    "y.imag = ": lambda y, x: setattr(y, "imag", x[:, None].real + 1),
    "copyto(y[:, 1], x)": lambda y, x: np.copyto(y[:, 1], x),
    "np.put wrap": lambda y, x: np.put(y, [-1, 25], x[:2], mode="wrap"),
    "np.fill_diagonal": lambda y, x: np.fill_diagonal(y, x[1:3]),
    "np.sum(out=y[0])": lambda y, x: np.sum(y[1:] * x[1:, None], axis=0, out=y[0]),
    "np.clip(out=y.T)": lambda y, x: np.clip(y.T, -0.5, 0.5, out=y.T),
    "np.cumsum(out=y[:, 1])": lambda y, x: np.cumsum(y[:, 0] * x, out=y[:, 1]),
    "np.matmul(out=y[:3])": lambda y, x: np.matmul(y[:3], np.eye(3) * x[0], out=y[:3]),
    "np.add(where=, out=)": lambda y, x: np.add(y, x[:, None], out=y, where=np.real(y) > 0),
    "diagonal read after write": lambda y, x: (np.diagonal(y), y.__setitem__((1, 1), x[2]))[0],
}


@pytest.mark.parametrize("dtype", [np.float64, np.complex128, np.float32])
@pytest.mark.parametrize("name", list(PROGRAMS))
def test_the_issues_programs(name, dtype):
    if dtype != np.complex128 and name in ("w.imag[:] = 0", "y.imag = "):
        return

    def f(x):
        y = np.outer(x, np.arange(1.0, 4.0)).astype(x.dtype) + x[0]
        out = PROGRAMS[name](y, x)
        extra = [np.ravel(out)] if name == "diagonal read after write" else []
        return np.concatenate([np.ravel(y), np.ravel(y[1:3])] + extra)

    x = rand(4, dtype=dtype, seed=6)
    want = f(x.copy())
    got = pb.pullback(f, x)[0]
    assert got.dtype == want.dtype
    assert np.array_equal(got, want), name
    if dtype != np.float32:
        check_gradient(f, x, n_directions=2)


def test_second_order_through_view_writes():
    def f(x):
        y = x * x
        y[1:][::2] = np.sin(x[:2])
        v = y.T
        v *= x
        return np.sum(y**3)

    x = rand(5, seed=7)
    check_gradient(lambda x: pb.gradient(f, x)[0], x)


# ---------------------------------------------------------------- NumPy's errors


def _same_error(f, x):
    with pytest.raises(Exception) as numpy_error:
        f(x.copy())
    with pytest.raises(type(numpy_error.value)) as ours:
        pb.gradient(lambda x: np.sum(f(x)), x)
    assert str(ours.value) == str(numpy_error.value)


def _iadd(a, b):
    a += b
    return a


ERRORS = {
    "into broadcast_to": lambda x: np.broadcast_to(x, (2, 4)).__setitem__(0, 1.0),
    "into diagonal": lambda x: np.diagonal(np.outer(x, x)).__setitem__(0, 1.0),
    "into a real array's .imag": lambda x: (x * 1.0).imag.__setitem__(0, 1.0),
    "+= a broader shape": lambda x: _iadd(x * 1.0, np.ones((2, 4))),
    "+= complex into real": lambda x: _iadd(x * 1.0, 1j),
    "out= of the wrong dtype": lambda x: np.add(x, 1j, out=x * 1.0),
    "bad shape assignment": lambda x: setattr((x * 1.0), "shape", (3,)),
    "copyto complex into real": lambda x: np.copyto(x * 1.0, x * 1j),
    "setitem shape mismatch": lambda x: (x * 1.0).__setitem__(slice(0, 2), np.ones(3)),
    "put out of range": lambda x: np.put(x * 1.0, [7], 1.0),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_are_numpys(name):
    _same_error(ERRORS[name], rand(4, seed=8))


def test_a_read_only_input_cannot_be_written():
    x = rand(4, seed=9)
    x.flags.writeable = False

    def f(x):
        x[0] = 1.0
        return np.sum(x)

    with pytest.raises(ValueError, match="assignment destination is read-only"):
        pb.gradient(f, x)


def test_the_callers_array_is_never_written():
    x = rand(4, 3, seed=10)
    keep = x.copy()

    def f(x):
        x[0] = 5.0
        x.T[1] *= 2.0
        np.add(x, 1.0, out=x)
        return np.sum(x**2)

    value, (g,) = pb.value_and_gradient(f, x)
    np.testing.assert_array_equal(x, keep)
    assert value == f(keep.copy())


def test_a_plain_out_array_cannot_take_a_traced_result():
    def f(x):
        buf = np.zeros(3)
        np.multiply(x, 2.0, out=buf)
        return np.sum(buf)

    with pytest.raises(pb.TracedConversionError, match="numpy.multiply"):
        pb.gradient(f, np.ones(3))


def test_views_that_numpy_copies_are_copies():
    def f(x):
        y = x * 1.0
        c = y.T.reshape(-1)  # not contiguous: NumPy copies
        c[0] = 100.0
        d = y[[0, 1]]  # advanced indexing copies
        d[0] = 100.0
        e = y.flatten()
        e[0] = 100.0
        f_ = y.flat[0:2]
        f_[0] = 100.0
        return np.concatenate([y.ravel(), c, d.ravel(), e])

    x = rand(2, 3, seed=11)
    assert np.array_equal(pb.pullback(f, x)[0], f(x.copy()))
    check_gradient(f, x)


# ---------------------------------------------------------------- coverage of the registry's keys

X = rand(3, 4, seed=12)


def _at_case(u):
    def f(a):
        y = a * 1.0
        if u.nin == 1:  # unrepeated: a second application could leave the domain
            u.at(y, ([0, 2], [1, 3]))
        else:
            u.at(y, ([0, 0, 2], [1, 1, 3]), a[1, :3])
        return y

    return f


def _at_input(u):
    name = u.__name__
    if name in ("arccos", "arcsin", "arctanh", "logit", "erfinv", "erfcinv", "ndtri", "ellipk",
                "ellipe"):
        return np.full((3, 4), 0.3) + 0.1 * np.abs(X)
    if name == "rel_entr":  # x log(x / y) stays positive when applied twice
        return np.array([[3.0], [1.2], [3.0]]) + 0.1 * np.abs(X)
    return 1.2 + 0.1 * np.abs(X)


CASES = [
    (key, _at_case(key[0]), (_at_input(key[0]),))
    for key in registry.UFUNC_METHODS if key[1] == "at"
] + [
    (np.copyto, lambda a: (lambda y: (np.copyto(y, a[0] * 2), y)[1])(a * 1.0), (X,)),
    (np.put, lambda a: (lambda y: (np.put(y, [1, 5], a[0, :2]), y)[1])(a * 1.0), (X,)),
    (np.putmask, lambda a: (lambda y: (np.putmask(y, a > 0, a[1]), y)[1])(a * 1.0), (X,)),
    (np.place, lambda a: (lambda y: (np.place(y, a > 0, a[2]), y)[1])(a * 1.0), (X,)),
    (np.fill_diagonal, lambda a: (lambda y: (np.fill_diagonal(y, a[2, :3]), y)[1])(a * 1.0), (X,)),
    (pb._dispatch.TracedArray._assign, lambda a: (lambda y: (y.__iadd__(a), y)[1])(a * 2.0), (X,)),
    (pb._dispatch.TracedArray.fill, lambda a: (lambda y: (y.fill(a[0, 0]), y)[1])(a * 1.0), (X,)),
    (pb._dispatch.TracedArray.sort, lambda a: (lambda y: (y.sort(), y)[1])(a * 1.0), (X,)),
    (pb._dispatch.TracedArray.setflags, lambda a: (lambda y: (y.setflags(write=False), y * a)[1])(a * 1.0),
     (X,)),
    (pb._dispatch.TracedArray.view, lambda a: (lambda y: (y.view().__setitem__(0, a[1]), y)[1])(a * 1.0),
     (X,)),
    (pb._dispatch.TracedArray.shape.fset, lambda a: (lambda y: (setattr(y, "shape", (12,)), y)[1])(a * 1.0),
     (X,)),
    (pb._dispatch.TracedArray.real.fset,
     lambda a: (lambda y: (setattr(y, "real", a.real), y)[1])(a * (1 + 1j)), (X,)),
    (pb._dispatch.TracedArray.imag.fset,
     lambda a: (lambda y: (setattr(y, "imag", a.real * 2), y)[1])(a * (1 + 1j)), (X,)),
    (pb._dispatch.TracedArray.flat.fget, lambda a: a.flat[2:5] * a.flat[7], (X,)),
    (pb._dispatch.TracedArray.flat.fset, lambda a: (lambda y: (setattr(y, "flat", a[0]), y)[1])(a * 1.0),
     (X,)),
]


# ---------------------------------------------------------------- element writes (the write log)

LOOPS = {
    "recurrence": lambda y, x: [y.__setitem__(i, y[i - 1] * 0.5 + x[i]) for i in range(1, len(x))],
    "overwrite twice": lambda y, x: [(y.__setitem__(i % 3, x[i] * x[0]), y.__setitem__(i % 3, y[i % 3] + 1.0))
                                     for i in range(len(x))],
    "constants": lambda y, x: [y.__setitem__(i, 2.0) for i in range(0, len(x), 2)],
    "negative indices": lambda y, x: [y.__setitem__(-i, x[i - 1] ** 2) for i in range(1, len(x))],
    "then a slice": lambda y, x: (y.__setitem__(1, x[0]), y[1:3].__imul__(x[2]), y.__setitem__(2, y[1])),
    "then a view": lambda y, x: (y.__setitem__(0, x[3]), y[::-1].__setitem__(0, y[0]),
                                 y.__setitem__(4, x[1])),
    "then whole-array math": lambda y, x: (y.__setitem__(2, x[1]), y.__iadd__(np.sin(y)),
                                           y.__setitem__(3, y[2] * y[1])),
    "complex value into a real array": lambda y, x: y.__setitem__(1, x[2] * (1 + 1j)),
    "python scalar": lambda y, x: y.__setitem__(0, 3.5),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
@pytest.mark.parametrize("name", list(LOOPS))
def test_element_write_loops(name, dtype):
    def f(x):
        y = np.zeros_like(x) + x[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
            LOOPS[name](y, x)
        return np.concatenate([y, y[:2] * 2.0])

    x = rand(6, dtype=dtype, seed=13)
    want = f(x.copy())
    got = pb.pullback(f, x)[0]
    assert got.dtype == want.dtype and np.array_equal(got, want)
    assert np.array_equal(pb.jvp(f, (x,), (np.ones_like(x),))[0], want)
    if dtype != np.float32:
        check_gradient(f, x)


def test_element_writes_at_second_order():
    def f(x):
        y = np.zeros_like(x)
        for i in range(len(x)):
            y[i] = x[i] * x[i - 1]
        return np.sum(y**3)

    x = rand(5, seed=14)
    check_gradient(lambda x: pb.gradient(f, x)[0], x)
    h = pb.hessian(f, x)
    np.testing.assert_allclose(h, h.T, rtol=1e-12, atol=1e-12)


def test_element_writes_keep_numpys_errors_and_shape_queries():
    def f(x):
        y = x * 1.0
        y[0] = x[1]
        assert len(y) == 4 and y.shape == (4,) and y.dtype == x.dtype and y.size == 4
        y[7] = 1.0
        return np.sum(y)

    with pytest.raises(IndexError, match="index 7 is out of bounds for axis 0 with size 4"):
        pb.gradient(f, rand(4, seed=15))


def test_element_writes_do_not_change_earlier_values():
    def f(x):
        y = x * 1.0
        before = y * 2.0  # keeps y's value for its record
        for i in range(len(x)):
            y[i] = 0.0
        return np.sum(before * x) + np.sum(y)

    x = rand(5, seed=16)
    value, (g,) = pb.value_and_gradient(f, x)
    assert value == f(x.copy())
    np.testing.assert_allclose(g, 4 * x)


def test_a_zero_d_array_is_written_as_in_numpy():
    def f(x):
        s = (x[1:2] * 1.0).reshape(())  # a 0-d array (np.sum would give a NumPy scalar)
        s[...] = s * 3
        s += x[0]
        return s

    x = np.array([1.0, 2.0, 3.0])
    value, (g,) = pb.value_and_gradient(f, x)
    assert value == f(x.copy()) == 7.0
    np.testing.assert_array_equal(g, [1.0, 3.0, 0.0])


@pytest.mark.parametrize("program", [
    lambda x: np.sum(np.sin(x)[:, 0] * 2),
    lambda x: np.sum(np.transpose(np.sin(x)) ** 2),
    lambda x: np.sum(np.moveaxis(np.sin(x), 0, 1)[1:] ** 2),
])
def test_views_make_no_reference_cycles(program):
    # regression: an array with views and its Base referred to each other, so every traced array
    # that had a view taken (a slice, a transpose) waited for the garbage collector, and large ones
    # kept their blocks from the block cache (W5: ~1000 page faults per gradient)
    import gc

    x = np.random.default_rng(0).random((16, 8))
    pb.gradient(program, x)
    gc.collect()
    gc.disable()
    try:
        pb.gradient(program, x)
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_ravel_copies_where_numpy_copies():
    """Regression: the traced ``np.ravel`` was a view whenever ``reshape(-1)`` could view the input,
    but NumPy's ravel views only an array contiguous in the order asked: of a reversed, strided or
    transposed array it returns a new, writeable copy. Writes through the copy reached the base (a
    wrong value), and the copy of a read-only view (``np.diagonal``) refused writes."""
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])

    def program(x, pick, order):
        base = x * 1.0
        grid = base.reshape(2, 3)
        views = [base[::-1], base[::2], grid.T, np.diagonal(grid), grid, grid.T.T]
        r = np.ravel(views[pick], order=order)
        r[0] = 100.0 * r[-1]  # NumPy: reaches base only when r is a view
        base[1] = -7.0  # NumPy: reaches r only when r is a view
        return np.sum(base * np.arange(6.0)) + np.sum(r * np.arange(r.size))

    for pick in range(6):
        for order in ("C", "F", "A", "K"):
            if pick == 3 and order != "C":
                continue
            f = lambda x, pick=pick, order=order: program(x, pick, order)  # noqa: E731
            value, _ = pb.pullback(f, x)
            assert value == f(x), (pick, order)
            check_gradient(f, x)
    # the method spelling and a 2-d read-only view's copy
    m = np.arange(9.0).reshape(3, 3)

    def writes_into_copy(m):
        r = np.diagonal(m * 1.0).ravel()
        r[1] = 0.0
        return np.sum(r)

    assert pb.pullback(writes_into_copy, m)[0] == writes_into_copy(m)


def _same_as_numpy(f, *args):
    want = f(*[np.array(a, copy=True) for a in args])
    got, _ = pb.pullback(f, *[np.array(a, copy=True) for a in args])
    want, got = (want, got) if isinstance(want, tuple) else ((want,), (got,))
    for w, g in zip(want, got):
        assert type(g) is type(w) and np.asarray(g).tobytes() == np.asarray(w).tobytes(), (w, g)


def test_zero_d_views_share_memory_with_their_base():
    """Regression: a 0-d view (y.view(), y.T, x[0, ...], reshape(()), squeeze()) was a copy, so
    writes through it did not reach its base, nor the base's writes it."""
    def through_view(y):
        v = y.view()
        v += 1.0
        return y

    def base_write(y):
        v = y.T
        y *= 3.0
        return v

    def element_view(x):
        v = x[0, ...]
        v += 10.0
        return x

    def squeezed(x):
        v = x.squeeze()
        v[...] = 7.0
        return x

    def reshaped(x):
        s = x[0:1].reshape(())
        s += x[1]
        return x, s

    def input_written(y):
        y += y  # (NumPy's y + y of a 0-d array is a scalar; y stays an array)
        v = y.reshape(1, 1)
        v *= 3
        return y, v

    _same_as_numpy(through_view, np.array(2.0))
    _same_as_numpy(base_write, np.array(2.0))
    _same_as_numpy(element_view, np.array([1.0, 2.0]))
    _same_as_numpy(squeezed, np.array([1.0]))
    _same_as_numpy(reshaped, np.array([1.0, 2.0]))
    _same_as_numpy(input_written, np.array(2.0))
    check_gradient(lambda x: reshaped(x)[0] * x, np.array([1.5, 2.5]))


def test_numpy_scalars_are_immutable():
    """Regression: ``s -= 1`` on a traced NumPy scalar (a reduction's result, an element) changed
    it in place, so every other name for it (a list of losses) changed too."""
    def history(x):
        loss, seen = 0.0, []
        for i in range(3):
            loss += np.sum(x * i)
            seen.append(loss)
        return seen[0] + 10 * seen[1] + 100 * seen[2]

    def renamed(x):
        s = x.max()
        t = s
        s -= 1.0
        return t, s

    _same_as_numpy(history, np.arange(3.0))
    _same_as_numpy(renamed, np.arange(3.0))
    assert np.array_equal(pb.gradient(history, np.arange(3.0))[0], [310.0] * 3)
    with pytest.raises(TypeError, match="'numpy.float64' object does not support item assignment"):
        pb.gradient(lambda x: x.sum().__setitem__(Ellipsis, 5.0), np.ones(2))
    with pytest.raises(TypeError, match="return arrays must be of ArrayType"):
        pb.gradient(lambda x: np.sin(x, out=x.sum() * 1.0), np.ones(2))


@pytest.mark.parametrize("index", [(), Ellipsis, None, (Ellipsis, None)])
def test_zero_d_arrays_index(index):
    _same_as_numpy(lambda y: y[index] * 2, np.array(0.46))
    check_gradient(lambda y: y[index] * y, np.array(0.46))


def test_einsum_broadcast_arrays_and_as_strided_views_alias():
    """Regression: np.einsum of one operand ('ii->i', 'ij->ji'), the arrays np.broadcast_arrays
    returns and as_strided are views in NumPy; writes through them were dropped (or refused)."""
    A = np.arange(9.0).reshape(3, 3) + 1

    def diagonal(a):
        b = a * 1.0
        np.einsum("ii->i", b)[:] *= a[0, 1]
        return b

    def transposed(a):
        b = a * 1.0
        v = np.einsum("ij->ji", b)
        v[1, 2] = -1.0
        return b

    def broadcast(a):
        b = a * 1.0
        full, row = np.broadcast_arrays(b, b[0])
        full[0, 0] = 50.0  # the array of the broadcast shape is returned itself
        return b + row

    def strided(a):
        b = a * 1.0
        w = np.lib.stride_tricks.as_strided(b, (2, 2), b.strides)
        w[1, 1] *= a[0, 0]
        return b

    for f in (diagonal, transposed, broadcast, strided):
        _same_as_numpy(f, A)
        check_gradient(f, A)

    def overlapping(a):
        r = a[0] * 1.0
        _, row = np.broadcast_arrays(a, r)
        row[1, 1] = 7.0
        return r

    with pytest.raises(NotImplementedError, match="one element of memory"):
        pb.gradient(lambda a: np.sum(overlapping(a)), A)


def test_ravel_k_astype_without_copy_strided_values_and_base():
    """Regression (second sweep): ravel/flatten('K') of a strided view read C order (NumPy reads
    the axes by decreasing stride); astype(copy=False) of a strided view copied it (writes were
    lost); an as_strided view's value was a contiguous copy (a matmul of it rounded otherwise);
    traced arrays had no .base."""
    u = np.arange(24.0).reshape(2, 3, 4)
    for sel in (lambda v: v[::2].T, lambda v: v[:, ::-1].T, lambda v: v[:, 1:, ::2].transpose(2, 0, 1)):
        _same_as_numpy(lambda v, sel=sel: sel(v).ravel("K"), u)
        _same_as_numpy(lambda v, sel=sel: sel(v).flatten("K"), u)

    def no_copy(x):
        z = x.copy()
        y = z[::2].astype(z.dtype, copy=False)
        y *= 3
        return z

    _same_as_numpy(no_copy, np.arange(6.0).reshape(3, 2))
    x = np.random.default_rng(0).normal(size=5)
    weights = np.array([1.0, 2.0, 3.0])
    _same_as_numpy(lambda u: np.lib.stride_tricks.as_strided(u, (3, 3), (8, 8)) @ weights, x)

    def bases(x):
        z = x.copy()
        v = z[1:]
        assert v.base is z and v[1:].base is z and z.base is None
        return v

    pb.pullback(bases, x)


def test_flags_report_the_traced_arrays_writability():
    def f(x):
        y = x * 1.0
        a = np.lib.stride_tricks.as_strided(y, (2,), (8,), writeable=False)
        _, row = np.broadcast_arrays(y, y[:1])
        assert y.flags.writeable and not a.flags.writeable and row.flags.writeable
        assert not np.diagonal(np.outer(y, y)).flags["WRITEABLE"]
        return y

    pb.pullback(f, np.arange(3.0))
