import numpy as np
import pytest

import pullback as pb
from pullback.dispatch import TracedArray

from .cases import rand

x = rand(3, 4)
z = rand(3, 4, dtype=complex)


def _fill(x, op):
    y = op(x)
    y[:, 1:3] = x[:, 1:3] ** 2
    return y


CASES = [
    (np.zeros_like, lambda x: _fill(x, np.zeros_like), (x,)),
    (np.ones_like, lambda x: _fill(x, np.ones_like) * x, (z,)),
    (np.empty_like, lambda x: _fill(x, lambda v: np.empty_like(v) * 0) + x, (x,)),
    (np.full_like, lambda x, c: np.full_like(x, c) * x, (x, np.array(1.5))),
    (np.copy, lambda x: np.copy(x) * x, (z,)),
    (np.astype, lambda x: np.astype(x, np.complex128) * x, (z,)),
    (
        TracedArray.astype,
        lambda x: x.astype(np.complex128) * 1j + x.astype(np.float64) + x.astype(complex).real,
        (x,),
    ),
]




def test_like_creators_give_traced_constants():
    def f(x):
        z = np.zeros_like(x)
        assert isinstance(z, TracedArray)
        z[0] = x[0] * 3
        return np.sum(z)

    np.testing.assert_allclose(pb.gradient(f, np.ones(3))[0], [3.0, 0.0, 0.0])


def test_integer_like_is_plain():
    def f(x):
        k = np.zeros_like(x, dtype=int)
        assert type(k) is np.ndarray
        return np.sum(x)

    pb.gradient(f, np.ones(3))


def test_copy_is_independent():
    def f(x):
        y = x.copy()
        y[0] = 0.0
        return np.sum(x) + 2 * np.sum(y)

    np.testing.assert_allclose(pb.gradient(f, np.ones(3))[0], [1.0, 3.0, 3.0])


def test_astype_round_trip_keeps_dtype():
    (g,) = pb.gradient(lambda x: np.sum(x.astype(np.float64) ** 2), np.ones(3, np.float32))
    assert g.dtype == np.float32


def test_copies_have_numpys_memory_layout():
    """Regression: a traced copy shared its array's value whatever its layout, so a transposed
    view's .copy() summed in another order than NumPy's C-ordered copy (other bits)."""
    a = np.random.default_rng(0).standard_normal((1000, 3))
    for f in (lambda u: u.T.copy().sum(axis=1), lambda u: np.copy(u.T, order="C").sum(axis=1),
              lambda u: u.T.astype(np.float64, order="C").sum(axis=1),
              lambda u: (2 * u).T.copy().sum(axis=1)):
        value, _ = pb.pullback(f, a)
        assert value.tobytes() == f(a).tobytes()


def test_astype_without_copy_is_the_array_and_casting_is_checked():
    def f(u):
        v = u.astype(np.float64, copy=False)
        v[0] = 3.0  # NumPy's astype(copy=False) returned u itself: the write reaches it
        return u

    a = np.arange(4.0)
    value, back = pb.pullback(f, a)
    assert np.array_equal(value, [3.0, 1.0, 2.0, 3.0])
    assert np.array_equal(back(np.ones(4))[0], [0.0, 1.0, 1.0, 1.0])
    with pytest.raises(TypeError, match="according to the rule 'safe'"):
        pb.gradient(lambda u: u.astype(np.float32, casting="safe").sum(), a)
