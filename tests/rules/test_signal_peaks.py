"""scipy.signal peak measures (find_peaks, peak_prominences, peak_widths): the float outputs carry
the derivatives of their formulas at SciPy's positions (finite differences in both modes), with
SciPy's values bit for bit; indices stay plain integers."""

import warnings

import numpy as np
import pytest
import scipy.signal as S

import pullback as pb
from pullback.testing import check_gradient

X5 = np.array([0.0, 1.0, 0.3, 2.0, 0.1])
_T = np.linspace(0, 6, 80)
SIG = np.sin(3 * _T) + 0.3 * np.sin(7.3 * _T) + 0.05 * np.random.default_rng(1).standard_normal(80)
PEAKS = S.find_peaks(SIG)[0]

CASES = [  # the generic checks (test_cases.py), one per rule
    (S.find_peaks, lambda x: S.find_peaks(x, width=0)[1]["widths"], (SIG,)),
    (S.peak_prominences, lambda x: S.peak_prominences(x, PEAKS)[0], (SIG,)),
    (S.peak_widths, lambda x: S.peak_widths(x, PEAKS)[3], (SIG,)),
]


def _floats(out):
    """The float outputs of a peak function (a tuple, or find_peaks' properties)."""
    if isinstance(out, tuple) and isinstance(out[1], dict):
        return {k: v for k, v in out[1].items() if v.dtype.kind == "f"}
    return tuple(v for v in out if v.dtype.kind == "f")


def _same(got, want):
    assert type(got) is type(want) and got.dtype == want.dtype and got.shape == want.shape
    assert got.tobytes() == want.tobytes()


def _check(f, *args):
    """SciPy's outputs bit for bit (all of them, integers too), and finite differences."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want, got = f(*args), pb.pullback(f, *args)[0]
        if isinstance(want[1], dict):
            _same(got[0], want[0])
            assert list(got[1]) == list(want[1])
            want, got = list(want[1].values()), list(got[1].values())
        for g, w in zip(got, want):
            _same(g, w)
        check_gradient(lambda *a: _floats(f(*a)), *args)


def test_the_sweeps_cases():
    """Regression (sweep): the peak functions were declared non-differentiable: their float
    outputs had gradient zero."""
    g = pb.gradient(lambda x: S.peak_prominences(x, [1, 3])[0][0], X5)[0]
    np.testing.assert_array_equal(g, [0, 1, -1, 0, 0])
    g = pb.gradient(lambda x: S.peak_widths(x, [1, 3])[0][1], X5)[0]
    np.testing.assert_allclose(g, [0, 0, 0.32871972, -0.03460208, -0.29411765], atol=1e-8)
    g = pb.gradient(lambda x: S.find_peaks(x, height=0)[1]["peak_heights"][1], X5)[0]
    np.testing.assert_array_equal(g, [0, 0, 0, 1, 0])


MEASURES = [
    (lambda x: S.peak_prominences(x, PEAKS), (SIG,)),
    (lambda x: S.peak_prominences(x, PEAKS, wlen=7), (SIG,)),
    (lambda x: S.peak_widths(x, PEAKS), (SIG,)),
    (lambda x: S.peak_widths(x, PEAKS, rel_height=1.0), (SIG,)),  # down to the bases
    (lambda x: S.peak_widths(x, list(PEAKS), wlen=9), (SIG,)),
    (lambda r: S.peak_widths(SIG, PEAKS, rel_height=r), (0.7,)),
    (lambda x, p: S.peak_widths(x, PEAKS, prominence_data=(p,) + S.peak_prominences(SIG, PEAKS)[1:]),
     (SIG, S.peak_prominences(SIG, PEAKS)[0])),
    (lambda x: S.find_peaks(x, height=-5, threshold=0, prominence=0, width=0, plateau_size=1), (SIG,)),
    (lambda x: S.find_peaks(x, distance=5, width=1, rel_height=0.8), (SIG,)),
    (lambda x: S.find_peaks(x, prominence=(0.1, None), wlen=11), (SIG,)),
    (lambda r: S.find_peaks(SIG, width=1, rel_height=r), (0.8,)),
    (lambda x: S.find_peaks(x, height=0, threshold=0), (SIG.astype(np.float32),)),  # float64 outputs
]


@pytest.mark.parametrize("f, args", MEASURES)
def test_peak_measures_differentiate(f, args):
    _check(f, *args)


def test_widths_at_a_sample_and_on_a_plateau():
    """A crossing exactly at a sample (SciPy does not interpolate: the width has a kink there, and
    its derivative is that of SciPy's branch) and a peak on a plateau: SciPy's values."""
    x = np.array([0.0, 1.0, 2.0, 4.0, 2.0, 1.0, 0.0, 3.0, 3.0, 3.0, 0.5, 0.0])
    want, got = S.peak_widths(x, [3, 8]), pb.pullback(lambda x: S.peak_widths(x, [3, 8]), x)[0]
    for g, w in zip(got, want):
        _same(g, w)
    f = lambda x: S.find_peaks(x, width=0, threshold=(None, 5), plateau_size=1)
    want, got = f(x)[1], pb.pullback(f, x)[0][1]
    assert list(got) == list(want) and want["plateau_sizes"][1] == 3
    for k in want:
        _same(got[k], want[k])
    g = pb.gradient(lambda x: S.peak_widths(x, [3, 8])[0][0], x)[0]
    np.testing.assert_array_equal(g, np.zeros(12))  # the crossings are samples 2 and 4


def test_no_peaks():
    _check(lambda x: S.find_peaks(x, height=0, width=0), np.arange(5.0))
    _check(lambda x: S.peak_widths(x, []), np.arange(5.0))


def test_peak_errors_are_scipys():
    with pytest.raises(ValueError, match="not a valid index"):
        pb.gradient(lambda x: np.sum(S.peak_prominences(x, [7])[0]), X5)
    with pytest.raises(ValueError, match="1-D"):
        pb.gradient(lambda x: np.sum(S.find_peaks(x)[0] * x[0]), np.ones((2, 3)))


def test_peak_widths_second_order():
    check_gradient(lambda x: pb.gradient(lambda x: np.sum(S.peak_widths(x, PEAKS)[0] ** 2), x)[0], SIG)


@pytest.mark.parametrize("rel_height", [0.1, 0.5, 1.0])
def test_crossings_are_scipys_own(rel_height):
    """The walks to the crossings (all peaks at once, in doubling windows) stop where SciPy's do: the
    interpolation formula alone, without SciPy's values, gives its bits. On a rising signal every
    left base lies far away (a scan of each peak's whole base interval was quadratic there)."""
    from pullback.rules import signal_peaks as R

    rng = np.random.default_rng(5)
    x = np.linspace(0, 50, 20000) + 0.3 * rng.standard_normal(20000)
    peaks = S.find_peaks(x)[0]
    _, left_bases, right_bases = S.peak_prominences(x, peaks)
    want = S.peak_widths(x, peaks, rel_height=rel_height)
    got = R._widths(x, peaks, rel_height, R._prominences(x, peaks, left_bases, right_bases), left_bases,
                    right_bases, want[1])
    for g, w in zip(got, want):
        _same(g, w)


def test_plain_calls_are_scipys():
    from pullback.rules import signal_peaks as R

    for name, args, kw in [("find_peaks", (SIG,), {"width": 0, "height": 0}),
                           ("peak_prominences", (SIG, PEAKS), {}),
                           ("peak_widths", (SIG, PEAKS), {"rel_height": 0.7})]:
        got, want = getattr(S, name)(*args, **kw), R.ORIGINALS[name](*args, **kw)
        if isinstance(want[1], dict):
            _same(got[0], want[0])
            got, want = list(got[1].values()), list(want[1].values())
        for g, w in zip(got, want):
            _same(g, w)
