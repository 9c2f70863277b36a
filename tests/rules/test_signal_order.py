"""scipy.signal's order and adaptive filters and polynomial division: SciPy's bits, exact gradients."""

import warnings

import numpy as np
import pytest
import scipy.signal as S

import pullback as pb
from pullback.testing import check_gradient

CASES = {
    "medfilt": lambda v: S.medfilt(v, 3),
    "medfilt k5": lambda v: S.medfilt(v, 5),
    "order_filter": lambda v: S.order_filter(v, np.ones([3] * v.ndim), 1),
    "wiener": lambda v: S.wiener(v, 3),
    "wiener noise": lambda v: S.wiener(v, 5, noise=0.5),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("shape", [(17,), (6, 9)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_values_are_scipys_and_gradients_exact(name, shape, dtype):
    f = CASES[name]
    x = np.random.default_rng(len(name) + len(shape)).standard_normal(shape).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value, _ = pb.pullback(f, x)
        want = f(x)
    assert value.dtype == want.dtype and value.tobytes() == want.tobytes()
    if dtype == np.float64:
        check_gradient(f, x)


def test_medfilt2d():
    x = np.random.default_rng(1).standard_normal((7, 8))
    value, _ = pb.pullback(lambda v: S.medfilt2d(v, 3), x)
    assert value.tobytes() == S.medfilt2d(x, 3).tobytes()
    check_gradient(lambda v: S.medfilt2d(v, (3, 5)), x)


def test_wiener_where_the_variance_vanishes_has_no_nan_gradient():
    """Where the local variance is below the noise the value is the local mean: its gradient, not
    the NaN of the unused 0/0 shrinkage."""
    x = np.random.default_rng(2).standard_normal(12)
    g = pb.gradient(lambda v: np.sum(S.wiener(v, 1, noise=0.5)), x)[0]
    assert np.array_equal(g, np.ones(12))


def test_deconvolve():
    rng = np.random.default_rng(3)
    sig, div = rng.standard_normal(9), np.array([1.5, 0.3, -0.2])
    for part in (0, 1):
        value, _ = pb.pullback(lambda s, d, part=part: S.deconvolve(s, d)[part], sig, div)
        assert value.tobytes() == S.deconvolve(sig, div)[part].tobytes()
        check_gradient(lambda s, d, part=part: S.deconvolve(s, d)[part], sig, div)
