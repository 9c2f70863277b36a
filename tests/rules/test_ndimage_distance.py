"""scipy.ndimage Euclidean distance transforms in a traced ``sampling``: SciPy's values bit for bit,
SciPy's output structure (distances, indices, both, indices written in place), finite
differences, and the cases that carry no gradient or raise."""

import numpy as np
import pytest
import scipy.ndimage as nd

import pullback as pb
from pullback.testing import check_gradient

B = np.random.default_rng(0).random((7, 9)) < 0.8
B3 = np.random.default_rng(1).random((4, 5, 3)) < 0.85
S = np.array([1.3, 0.7])

CASES = [
    (nd.distance_transform_edt, lambda s: nd.distance_transform_edt(B, sampling=s), (S,)),
    (nd.distance_transform_bf, lambda s: nd.distance_transform_bf(B, sampling=s), (S,)),
]

TRANSFORMS = [nd.distance_transform_edt, nd.distance_transform_bf]


def _same(got, want):
    assert type(got) is type(want)
    if isinstance(want, tuple):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            _same(g, w)
        return
    assert got.shape == want.shape and got.dtype == want.dtype
    assert got.tobytes() == want.tobytes()


def test_single_background_point():
    """Regression: ``sampling`` was declared non-differentiable, so the gradient was 0."""
    b = np.ones((5, 6), bool)
    b[2, 3] = False
    for transform in TRANSFORMS:
        f = lambda s: transform(b, sampling=np.stack([s, 1.0]))[0, 0]
        g = pb.gradient(f, 1.3)[0]
        np.testing.assert_allclose(g, 1.3 * 4 / np.hypot(1.3 * 2, 3), rtol=1e-14)  # FD: 1.3099
        check_gradient(f, 1.3)


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_values_and_gradients(transform):
    for b, sampling in ((B, S), (B3, np.array([0.5, 1.7, 1.1])), (B, np.array(0.8))):
        f = lambda s: transform(b, sampling=s)
        _same(pb.jvp(f, (sampling,), (sampling,))[0], f(sampling))
        check_gradient(f, sampling)
    check_gradient(lambda s: transform(B, sampling=[s, 0.7]), 1.3)  # a list with a traced entry
    check_gradient(lambda s: transform(B, sampling=s), S.astype(np.float32))
    check_gradient(lambda s: pb.grad(lambda s: np.sum(transform(B, sampling=s) ** 3))(s), S)


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_output_structure_is_scipys(transform):
    for kw in ({"return_indices": True}, {"return_distances": False, "return_indices": True}):
        f = lambda s, kw=kw: transform(B, sampling=s, **kw)
        _same(pb.jvp(f, (S,), (S,))[0], f(S))
    want_ind, got_ind = np.zeros((2, 7, 9), np.int32), np.zeros((2, 7, 9), np.int32)
    want = transform(B, sampling=S, return_indices=True, indices=want_ind)
    got = pb.jvp(lambda s: transform(B, sampling=s, return_indices=True, indices=got_ind), (S,), (S,))[0]
    _same(got, want)
    np.testing.assert_array_equal(got_ind, want_ind)  # (bf maps the array's own contents)
    with pytest.raises(pb.NoRuleError, match="distances="):
        pb.gradient(lambda s: np.sum(transform(B, sampling=s, distances=np.zeros((7, 9)))), S)
    with pytest.raises(RuntimeError, match="return_indices must be True"):
        pb.gradient(lambda s: np.sum(transform(B, sampling=s, indices=got_ind)), S)


def test_integer_metrics_carry_no_gradient():
    """Taxicab and chessboard distances (and distance_transform_cdt) are integers (uint32/int32):
    SciPy's, untraced."""
    for metric in ("taxicab", "chessboard"):
        f = lambda s, metric=metric: nd.distance_transform_bf(B, metric, sampling=s)
        _same(pb.jvp(f, (S,), (S,))[0], f(S))
