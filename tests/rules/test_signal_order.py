"""scipy.signal's order and adaptive filters and polynomial division: SciPy's bits, exact gradients."""

import warnings

import numpy as np
import pytest
import scipy.signal as S

import pullback as pb
from pullback.testing import check_gradient

_X = np.random.default_rng(0).standard_normal(17)
_M = np.random.default_rng(1).standard_normal((6, 9))
_D = np.array([1.5, 0.3, -0.2])

CASES = [  # (function, program, arguments): run by test_cases (values against SciPy's, gradients)
    (S.medfilt, lambda v: S.medfilt(v, 3), (_X,)),
    (S.medfilt, lambda v: S.medfilt(v, (3, 5)), (_M,)),
    (S.medfilt2d, lambda v: S.medfilt2d(v, 3), (_M,)),
    (S.order_filter, lambda v: S.order_filter(v, np.ones((3, 3)), 1), (_M,)),
    (S.wiener, lambda v: S.wiener(v, 3), (_M,)),
    (S.wiener, lambda v: S.wiener(v, 5, noise=0.5), (_X,)),
    (S.deconvolve, lambda s, d: S.deconvolve(s, d)[0], (_X[:9], _D)),
    (S.deconvolve, lambda s, d: S.deconvolve(s, d)[1], (_X[:9], _D)),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_single_precision_values_are_scipys(case):
    _, f, args = CASES[case]
    args = tuple(a.astype(np.float32) for a in args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value, _ = pb.pullback(f, *args)
        want = f(*args)
    assert value.dtype == want.dtype and value.tobytes() == want.tobytes()


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
