"""scipy.signal windows with a traced parameter: finite differences, SciPy's values bit for bit,
NoRuleError for the windows without a rule, and the spectral functions that take a window tuple."""

import warnings

import numpy as np
import pytest
import scipy.signal as S

import pullback as pb
from pullback.errors import TracedConversionError
from pullback.testing import check_gradient

from .cases import rand

W = S.windows
x64, y64 = rand(64, seed=31), rand(64, seed=32)

CASES = [  # the generic checks (test_cases.py), one per rule
    (W.kaiser, lambda b: W.kaiser(11, b), (3.1,)),
    (W.kaiser_bessel_derived, lambda b: W.kaiser_bessel_derived(12, b), (3.1,)),
    (W.tukey, lambda a: W.tukey(11, a), (0.31,)),
    (W.general_cosine, lambda a: W.general_cosine(11, a), (np.array([0.5, 0.3, 0.2]),)),
    (W.general_hamming, lambda a: W.general_hamming(11, a), (0.6,)),
    (S.get_window, lambda b: S.get_window(("kaiser", b), 11), (3.1,)),
]


def _same(got, want):
    assert type(got) is type(want) and got.dtype == want.dtype and got.shape == want.shape
    assert got.tobytes() == want.tobytes()


def _check(f, *args):
    """Finite differences (both modes) and SciPy's value, bit for bit, of ``f`` traced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        want, got = f(*args), pb.pullback(f, *args)[0]
        if isinstance(want, tuple):
            for g, w in zip(got, want):
                _same(g, w)
        else:
            _same(got, want)
        check_gradient(f, *args)


WINDOWS = [
    lambda b: W.kaiser(11, b),
    lambda b: W.kaiser(12, b, sym=False),
    lambda b: W.kaiser_bessel_derived(12, b),
    lambda a: W.tukey(11, a / 10),
    lambda a: W.tukey(16, a / 5, sym=False),
    lambda a: W.general_hamming(11, a / 5),
    lambda s: W.gaussian(11, s),
    lambda s: W.general_gaussian(11, s / 2, s),
    lambda t: W.exponential(11, None, t),
    lambda c: W.exponential(11, c, 2.0, sym=False),
]


@pytest.mark.parametrize("f", WINDOWS)
def test_windows_differentiate_in_their_parameter(f):
    _check(f, 3.1)


def test_general_cosine_in_its_coefficients():
    _check(lambda a: W.general_cosine(11, a), np.array([0.5, 0.3, 0.2]))
    _check(lambda a: W.general_cosine(12, [0.4, a, 0.1], sym=False), 0.45)


GET_WINDOW = [
    lambda b: S.get_window(("kaiser", b), 11),  # periodic, SciPy's default
    lambda b: S.get_window(("ksr", b), 11, fftbins=False),
    lambda b: S.get_window(b, 11),  # a number is a Kaiser beta
    lambda b: S.get_window(("kaiser_symmetric", b), 10),
    lambda b: S.get_window(("kbd", b), 12, fftbins=False),
    lambda a: S.get_window(("tukey_periodic", a / 10), 12),
    lambda a: S.get_window(("general hamming", a / 5), 12),
    lambda a: S.get_window(("general_cosine", [a / 5, 0.3, 0.1]), 12),
    lambda s: S.get_window(("gaussian", s), 12),
    lambda s: S.get_window(("ggs", 1.5, s), 12),
    lambda t: S.get_window(("exponential", None, t), 12),
]


@pytest.mark.parametrize("f", GET_WINDOW)
def test_get_window_with_a_traced_parameter(f):
    """Regression (sweep): get_window was declared non-differentiable, so a traced window
    parameter silently had gradient 0 (kaiser's beta: 0.0 where finite differences give -0.1387)."""
    _check(f, 3.1)


def test_get_window_kaiser_matches_finite_differences():
    g = pb.gradient(lambda b: S.get_window(("kaiser", b), 11)[2], 3.0)[0]
    fd = (S.get_window(("kaiser", 3.0 + 1e-6), 11)[2] - S.get_window(("kaiser", 3.0 - 1e-6), 11)[2]) / 2e-6
    np.testing.assert_allclose(g, fd, rtol=1e-7)
    assert abs(g + 0.1387) < 1e-3


@pytest.mark.parametrize("f", [lambda p: S.get_window(("chebwin", p), 11),
                               lambda p: S.get_window(("taylor", 4, p), 11),
                               lambda p: S.get_window(("dpss", p / 20), 11),
                               lambda p: S.get_window(("dpss_periodic", p / 20), 11)])
def test_get_window_without_a_rule_for_the_parameter_raises(f):
    with pytest.raises(pb.NoRuleError, match="get_window"):
        pb.gradient(lambda p: np.sum(f(p)), 50.0)


@pytest.mark.parametrize("f", [lambda p: W.chebwin(11, p), lambda p: W.taylor(11, 4, p),
                               lambda p: W.dpss(11, p / 20)])
def test_windows_without_a_rule_refuse_a_traced_parameter(f):
    with pytest.raises(TracedConversionError):
        pb.gradient(lambda p: np.sum(f(p)), 50.0)


def test_plain_windows_are_scipys():
    from pullback.rules import signal_windows as R

    for name, args in [("kaiser", (11, 3.0)), ("tukey", (12, 0.3, False)),
                       ("general_cosine", (8, [0.5, 0.5]))]:
        _same(getattr(W, name)(*args), R.ORIGINALS[name](*args))
    _same(S.get_window(("kaiser", 3.0), 11), R.ORIGINALS["get_window"](("kaiser", 3.0), 11))
    _same(S.get_window("hann", 11), R.ORIGINALS["get_window"]("hann", 11))


def test_window_errors_are_scipys():
    with pytest.raises(ValueError, match="Invalid window name"):
        pb.gradient(lambda b: np.sum(S.get_window(("kaiserr", b), 11)), 3.0)
    with pytest.raises(ValueError, match="even number"):
        pb.gradient(lambda b: np.sum(W.kaiser_bessel_derived(11, b)), 3.0)


SPECTRAL = [
    lambda b: S.welch(x64, window=("kaiser", b), nperseg=16),
    lambda b: S.welch(x64, window=("tukey", b / 10), nperseg=16, scaling="spectrum"),
    lambda b: S.csd(x64, y64, window=("kaiser", b), nperseg=16)[1],
    lambda b: S.coherence(x64, y64, window=("kaiser", b), nperseg=16)[1],
    lambda b: S.periodogram(x64, window=("kaiser", b))[1],
    lambda b: S.stft(x64, window=("kaiser", b), nperseg=16)[2],
    lambda b: S.istft(S.stft(x64, nperseg=16)[2], window=("kaiser", b), nperseg=16)[1],
    lambda b: S.spectrogram(x64, window=("kaiser", b), nperseg=16)[2],
    lambda b: S.spectrogram(x64, window=("gaussian", b), nperseg=16, mode="magnitude")[2],
    lambda b: S.resample(x64, 50, window=("kaiser", b)),
]


@pytest.mark.parametrize("f", SPECTRAL)
def test_spectral_functions_with_a_traced_window_parameter(f):
    """Regression (sweep): a window tuple with a traced parameter was a constant in the spectral
    functions (welch: 0.0 where finite differences give 0.0252)."""
    _check(f, 3.1)


def test_welch_kaiser_beta_gradient_is_not_zero():
    rng = np.random.default_rng(0)
    sig = rng.standard_normal(256)

    def f(b):
        return S.welch(sig, window=("kaiser", b), nperseg=16)[1][3]

    g = pb.gradient(f, 3.0)[0]
    np.testing.assert_allclose(g, (f(3.0 + 1e-6) - f(3.0 - 1e-6)) / 2e-6, rtol=1e-6)
    assert g != 0.0


def test_kaiser_second_order():
    check_gradient(lambda b: pb.gradient(lambda b: np.sum(W.kaiser(11, b) ** 2), b)[0], 3.0)
