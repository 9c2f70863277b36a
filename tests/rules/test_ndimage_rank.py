"""scipy.ndimage rank filters: SciPy's values bit for bit, the gradient of the entry each output
copied (through every boundary mode, footprints, origins, axes), ties to the first, NaN windows."""

import numpy as np
import pytest
import scipy.ndimage as nd

import pullback as pb
from pullback.testing import check_gradient

from .cases import rand

X = rand(5, 6, seed=1)
V = rand(9, seed=2)
FP = np.array([[1, 0, 1], [0, 1, 1]], dtype=bool)

CASES = [
    (nd.maximum_filter, lambda a: nd.maximum_filter(a, size=3), (X,)),
    (nd.minimum_filter, lambda a: nd.minimum_filter(a, footprint=FP, mode="constant", cval=0.5), (X,)),
    (nd.median_filter, lambda a: nd.median_filter(a, size=(3, 2), mode="wrap"), (X,)),
    (nd.rank_filter, lambda a: nd.rank_filter(a, 1, size=3, mode="nearest"), (X,)),
    (nd.percentile_filter, lambda a: nd.percentile_filter(a, 70, footprint=FP, mode="mirror"), (X,)),
    (nd.maximum_filter1d, lambda a: nd.maximum_filter1d(a, 3, mode="grid-wrap", origin=1), (V,)),
    (nd.minimum_filter1d, lambda a: nd.minimum_filter1d(a, 4, axis=0, mode="reflect"), (X,)),
]

MODES = ["reflect", "grid-mirror", "mirror", "nearest", "wrap", "grid-wrap", "constant", "grid-constant"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_values_are_scipys_and_gradients_select(mode, dtype):
    rng = np.random.default_rng(len(mode))
    x = rng.standard_normal((4, 5, 3)).astype(dtype)
    fp = rng.random((3, 2, 2)) < 0.7
    calls = [
        lambda u: nd.maximum_filter(u, size=(2, 3, 1), mode=mode, cval=-0.25, origin=(0, 1, 0)),
        lambda u: nd.minimum_filter(u, footprint=fp, mode=mode, cval=0.75),
        lambda u: nd.median_filter(u, size=3, mode=mode, axes=(0, 2)),
        lambda u: nd.rank_filter(u, -2, size=(3, 3), mode=mode, axes=(1, 2)),
        lambda u: nd.percentile_filter(u, 25.0, size=2, mode=mode, origin=-1),
        lambda u: nd.maximum_filter1d(u, 4, axis=1, mode=mode, cval=2.0, origin=-2),
        lambda u: nd.minimum_filter1d(u, 1, axis=0, mode=mode),
    ]
    for f in calls:
        value, _ = pb.pullback(f, x)
        want = f(x)
        assert value.dtype == want.dtype and value.tobytes() == want.tobytes()
        if dtype == np.float64:
            check_gradient(f, x, modes=("reverse", "forward"))


def test_ties_go_to_the_first_entry_and_nan_windows_have_no_gradient():
    x = np.array([1.0, 2.0, 2.0, 0.0])
    (g,) = pb.gradient(lambda u: np.sum(nd.maximum_filter(u, size=3, mode="constant", cval=-9.0)), x)
    # windows [., 1, 2], [1, 2, 2], [2, 2, 0], [2, 0, .]: the first 2 in each window's order
    np.testing.assert_array_equal(g, [0.0, 3.0, 1.0, 0.0])
    y = np.array([1.0, np.nan, 3.0, 0.5, 0.25])
    value, back = pb.pullback(lambda u: nd.maximum_filter(u, size=2), y)
    want = nd.maximum_filter(y, size=2)
    assert value.tobytes() == want.tobytes()
    assert np.all(np.isfinite(back(np.ones(5))[0]))


def test_second_order_and_errors():
    check_gradient(lambda u: pb.gradient(lambda w: np.sum(nd.median_filter(w, size=3) ** 3), u)[0], X)
    with pytest.raises(RuntimeError, match="no footprint"):  # SciPy's own error
        pb.gradient(lambda u: np.sum(nd.maximum_filter(u)), X)
    with pytest.raises(pb.NoRuleError, match="cval"):
        pb.gradient(lambda u, c: np.sum(nd.maximum_filter(u, size=2, mode="constant", cval=c)), X, 0.5)


def test_rank_filters_into_another_dtype():
    """Regression: with output=float32 for a float64 input the sources were sought among rounded
    values (none matched: the gradient was silently zero) and the dtype was float64; an integer
    output came back float64."""
    x = np.random.default_rng(0).standard_normal((5, 6))
    for f in (lambda u: nd.median_filter(u, size=3, output=np.float32),
              lambda u: nd.maximum_filter(u, 3, output=np.float32),
              lambda u: nd.rank_filter(u, 2, size=3, output=np.float32)):
        value, _ = pb.pullback(f, x)
        want = f(x)
        assert value.dtype == want.dtype and value.tobytes() == want.tobytes()
        assert pb.gradient(lambda u: np.sum(f(u)), x)[0].sum() == 30.0
    value, _ = pb.pullback(lambda u: nd.median_filter(u, size=3, output=np.int32), x)
    assert value.dtype == np.int32
