"""scipy.signal filter design with traced parameters (firwin, firwin2, normalize, lp2lp, lp2hp,
lp2bp, lp2bs, bilinear):
finite differences in both modes, SciPy's values bit for bit, SciPy's errors."""

import warnings

import numpy as np
import pytest
import scipy.signal as S

import pullback as pb
from pullback.testing import check_gradient

from .cases import rand

CASES = [  # the generic checks (test_cases.py), one per rule
    (S.firwin, lambda c: S.firwin(11, c), (np.array([0.3]),)),
    (S.firwin2, lambda g: S.firwin2(15, [0, 0.3, 0.6, 1], g), (np.array([1.0, 0.8, 0.2, 0.1]),)),
    (S.normalize, lambda b, a: S.normalize(b, a)[0], (np.array([0.3, 1.0, 0.5]), np.array([2.0, 2.0, 1.0]))),
    (S.lp2lp, lambda b, a: S.lp2lp(b, a, 2.0)[1], (np.array([1.0, 0.5]), np.array([2.0, 2.0, 1.0]))),
    (S.lp2hp, lambda b, a: S.lp2hp(b, a, 2.0)[0], (np.array([1.0, 0.5]), np.array([2.0, 2.0, 1.0]))),
    (S.lp2bp, lambda b, a: S.lp2bp(b, a, 2.0, 0.5)[1], (np.array([1.0, 0.5]), np.array([2.0, 2.0, 1.0]))),
    (S.lp2bs, lambda b, a: S.lp2bs(b, a, 2.0, 0.5)[0], (np.array([1.0, 0.5]), np.array([2.0, 2.0, 1.0]))),
    (S.bilinear, lambda b, a: S.bilinear(b, a, 3.0)[0], (np.array([1.0, 0.5]), np.array([2.0, 2.0, 1.0]))),
]


def _same(got, want):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            _same(g, w)
        return
    assert type(got) is type(want) and got.dtype == want.dtype and got.shape == want.shape
    assert got.tobytes() == want.tobytes()


def _check(f, *args):
    """Finite differences (both modes) and SciPy's value, bit for bit, of ``f`` traced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _same(pb.pullback(f, *args)[0], f(*args))
        check_gradient(f, *args)


FIRWIN = [
    (lambda c: S.firwin(11, c), (0.3,)),
    (lambda fs: S.firwin(11, 30.0, fs=fs), (100.0,)),
    (lambda c: S.firwin(12, c, pass_zero=False), (np.array([0.2, 0.5]),)),
    (lambda c: S.firwin(13, [0.2, c, 0.7, 0.8], pass_zero="bandstop"), (0.4,)),
    (lambda c: S.firwin(13, c, pass_zero="highpass"), (0.4,)),
    (lambda c, fs: S.firwin(11, c, scale=False, fs=fs), (3.0, 10.0)),
    (lambda w: S.firwin(31, 0.3, width=w), (0.2,)),  # Kaiser's beta from the width
    (lambda w: S.firwin(31, 0.3, width=w, fs=10.0), (0.6,)),
    (lambda b: S.firwin(11, 0.3, window=("kaiser", b)), (3.0,)),
    (lambda c, b: S.firwin(15, c, window=("tukey", b), pass_zero="bandpass"), (np.array([0.3, 0.6]), 0.4)),
]


@pytest.mark.parametrize("f, args", FIRWIN)
def test_firwin_differentiates(f, args):
    """Regression (sweep): firwin was declared non-differentiable: a traced cutoff, fs, width or
    window parameter had gradient 0 (cutoff: 0.0 where finite differences give 0.8283)."""
    _check(f, *args)


def test_firwin_matches_the_sweeps_finite_differences():
    assert abs(pb.gradient(lambda c: S.firwin(11, c)[5], 0.3)[0] - 0.8283) < 1e-4
    assert abs(pb.gradient(lambda fs: S.firwin(11, 30.0, fs=fs)[5], 100.0)[0] + 0.0063) < 1e-4


FIRWIN2 = [
    (lambda g: S.firwin2(15, [0, 0.3, 0.6, 1], [1.0, g, 0.2, 0.0]), (0.8,)),
    (lambda f: S.firwin2(15, np.stack([0, f, 0.6, 1]), [1.0, 0.8, 0.2, 0.0]), (0.3,)),
    (lambda g: S.firwin2(15, [0, 0.5, 0.5, 1], g), (np.array([1.0, 0.8, 0.2, 0.1]),)),  # a jump
    (lambda g: S.firwin2(15, [0, 0.5, 1], np.stack([0.0, g, 0.0]), antisymmetric=True), (0.8,)),
    (lambda g: S.firwin2(16, [0, 0.5, 1], np.stack([0.0, g, 1.0]), antisymmetric=True, window=None), (0.8,)),
    (lambda a: S.firwin2(15, [0, 0.5, 1], [1.0, 0.5, 0.0], window=("tukey", a), nfreqs=65), (0.3,)),
    (lambda fs, g: S.firwin2(15, np.stack([0, fs / 5, fs / 2]), np.stack([1.0, g, 0.0]), fs=fs), (8.0, 0.7)),
]


@pytest.mark.parametrize("f, args", FIRWIN2)
def test_firwin2_differentiates(f, args):
    """Regression (sweep): firwin2 was declared non-differentiable (a traced gain: 0.0 where finite
    differences give 0.2995)."""
    _check(f, *args)


def test_firwin2_matches_the_sweeps_finite_differences():
    g = pb.gradient(lambda g: S.firwin2(15, [0, 0.3, 0.6, 1], [1.0, g, 0.2, 0.0])[7], 0.8)[0]
    assert abs(g - 0.2995) < 1e-4


def test_resample_poly_with_a_traced_kaiser_beta():
    """Regression (sweep): resample_poly's default window ('kaiser', 5.0) given with a traced beta
    designs its filter by firwin, which was a constant."""
    x = rand(40, seed=41)
    _check(lambda b: S.resample_poly(x, 3, 2, window=("kaiser", b)), 5.0)
    _check(lambda b: S.resample_poly(x, 1, 3, window=("kaiser", b), padtype="mean"), 5.0)


def test_design_errors_are_scipys():
    for f, match in [(lambda c: S.firwin(11, c / 0.1), "Invalid cutoff"),
                     (lambda c: S.firwin(10, c, pass_zero=False), "even number"),
                     (lambda c: S.firwin(11, np.stack([c, c + 0.1]), pass_zero="lowpass"), "one element"),
                     (lambda g: S.firwin2(16, [0, 0.5, 1], np.stack([1.0, g, 1.0])), "Type II"),
                     (lambda f: S.firwin2(15, np.stack([0, f, 1.5]), [1.0, 0.5, 0.0]), "fs/2")]:
        with pytest.raises(ValueError, match=match):
            pb.gradient(lambda v: np.sum(f(v)), 0.3)


B3, A3 = np.array([1.0, 0.5]), np.array([2.0, 2.0, 1.0])

TRANSFORMS = [
    (lambda w: S.lp2lp([1.0], [1.0, 2.0, 1.0], wo=w), (2.0,)),
    (lambda b, a: S.lp2lp(b, a, wo=3.0), (B3, A3)),
    (lambda b, a, w: S.lp2lp(b, a, w), (rand(4, seed=42), A3, 0.7)),
    (lambda w: S.lp2hp([1.0], [1.0, 2.0, 1.0], wo=w), (2.0,)),
    (lambda w: S.lp2hp([1.0], [1.0, 2.0, 1.0], wo=w), (1.0,)),  # SciPy's shortcut at wo = 1
    (lambda b, a, w: S.lp2hp(b, a, np.stack([w])), (rand(4, seed=43), A3, 3.0)),
    (S.normalize, (np.array([0.3, 1.0, 0.5]), A3)),
    (lambda b, a: S.normalize([b, 2 * b], a), (np.array([0.3, 1.0, 0.5]), A3)),
    (lambda a: S.normalize(B3, np.concatenate([np.zeros(2), a])), (A3,)),
    (lambda w, bw: S.lp2bp([1.0], [1.0, 2.0, 1.0], w, bw), (2.0, 3.0)),
    (lambda b, a: S.lp2bp(b, a, 2.0, 0.5), (rand(4, seed=44), A3)),
    (lambda w, bw: S.lp2bs([1.0, 3.0], [1.0, 2.0, 1.0], w, bw), (2.0, 3.0)),
    (lambda b, a: S.lp2bs(b, a, wo=2.0, bw=0.5), (rand(4, seed=45), A3)),
    (lambda fs: S.bilinear([1.0], [1.0, 2.0, 1.0], fs=fs), (2.0,)),
    (lambda fs: S.bilinear([1], [1, 2], fs), (2.0,)),
    (lambda b, a, fs: S.bilinear(b, a, fs), (rand(4, seed=46), A3, 5.0)),
    (lambda a: S.bilinear([0.0, 1.0, 0.0, 0.0], a, fs=2.0), (A3,)),  # a leading zero dropped
]


@pytest.mark.parametrize("f, args", TRANSFORMS)
def test_frequency_transforms_differentiate(f, args):
    """Regression (sweep): lp2lp and lp2hp with a traced wo raised "'TracedWeak' object is not
    subscriptable" (SciPy's float(wo), then wo[0]), bilinear with a traced fs "fs must be a single
    scalar", lp2bp/lp2bs a conversion error; b, a, wo, bw and fs now differentiate."""
    _check(f, *args)


def test_normalize_drops_leading_zeros_as_scipy_does():
    b = np.array([0.0, 1.0, 0.5])
    with pytest.warns(S.BadCoefficients):
        got = pb.pullback(lambda b: S.normalize(b, A3), b)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _same(got, S.normalize(b, A3))


def test_plain_designs_are_scipys():
    from pullback.rules import signal_design as R

    for name, args in [("firwin", (11, 0.3)), ("firwin2", (15, [0, 0.5, 1], [1, 0.5, 0])),
                       ("lp2lp", ([1.0], [1.0, 2.0, 1.0], 2.0)), ("normalize", (B3, A3))]:
        _same(getattr(S, name)(*args), R.ORIGINALS[name](*args))


def test_firwin_second_order():
    check_gradient(lambda c: pb.gradient(lambda c: np.sum(S.firwin(11, c) ** 2), c)[0], 0.3)
