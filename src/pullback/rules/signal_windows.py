"""Rules: ``scipy.signal`` windows with a traced parameter (``scipy.signal.windows`` and
``get_window``).

A window's length and symmetry are integers and flags; its shape parameter (Kaiser's ``beta``,
Tukey's ``alpha``, a Gaussian's ``std``, a cosine sum's coefficients...) is a number, and the
window differentiates in it. The windows whose formulas are elementary are SciPy's own steps
written with NumPy calls on the traced parameter, valued by SciPy's own window (bit for bit):

- ``kaiser``: ``i0(beta sqrt(1 - ((n - alpha) / alpha)^2)) / i0(beta)``;
- ``kaiser_bessel_derived``: the square root of the normalised cumulative sum of a Kaiser window;
- ``tukey``: cosine tapers of ``floor(alpha (M - 1) / 2) + 1`` samples (the taper's length is
  piecewise constant in ``alpha``: its derivative is the tapers');
- ``general_cosine`` and ``general_hamming``: sums of cosines weighted by the (traced)
  coefficients.

``gaussian``, ``general_gaussian`` and ``exponential`` need no rule: SciPy's own code is NumPy
arithmetic on the parameter, which the traced scalar follows. ``chebwin``, ``taylor`` and
``dpss`` (a Chebyshev polynomial's DFT, a product formula, an eigenvector) have no rule in their
parameters (called directly, they raise pullback's conversion error).

``get_window`` is SciPy's own dispatch (its checks, its names and aliases, ``fftbins``): it calls
the intercepted window functions, so a traced parameter in a window tuple reaches the rules
above; a traced number as the window is a Kaiser ``beta``, as in SciPy; a traced parameter of
another window raises :class:`pullback.NoRuleError`. The spectral functions,
``firwin``, ``firwin2`` and ``resample_poly`` take their windows from ``get_window``: a traced
parameter in their ``window`` tuple differentiates through them.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import scipy.signal as S
import scipy.special as special
from scipy.signal.windows._windows import _WIN_FUNCS

from ..core import Tracer, strip
from ..errors import NoRuleError
from ..intercept import original, route
from .registry import any_traced, array_like, defcomposite, library_values

W = S.windows
ORIGINALS: dict[str, object] = {}


def _plain_namespace(name, xp, device):
    """SciPy's windows take another array namespace (``xp``) and ``device``: with traced
    parameters only NumPy's, on the CPU."""
    if (xp is not None and xp is not np) or device not in (None, "cpu"):
        raise NoRuleError(f"scipy.signal.windows.{name}", "a traced parameter with another xp or device")


def _route(func, rule):
    """Register ``rule`` (valued by SciPy's own window) for ``func`` and intercept it."""
    route(func)
    ORIGINALS[func.__name__] = original(func)  # (the copy running SciPy's code, once intercepted)
    defcomposite(func, library_values(ORIGINALS[func.__name__])(rule))


def _coefficients(a):
    """``a`` as a 1-d float64 array: a traced array, or a list or tuple with traced entries."""
    if type(a) in (list, tuple) and any_traced(a):
        a = np.stack([array_like(v) for v in a])
    return array_like(a).astype(np.float64)


def _ones(M):
    return np.ones(M, dtype=np.float64)


def _sample_count(M, sym):
    """SciPy's ``_extend``: a periodic window is a symmetric one a sample longer, truncated."""
    return (M, False) if sym else (M + 1, True)


def _truncated(w, needed):
    return w[:-1] if needed else w


def kaiser(M, beta, sym=True, *, xp=None, device=None):
    """``i0(beta sqrt(1 - ((n - alpha) / alpha)^2)) / i0(beta)`` (SciPy's steps)."""
    _plain_namespace("kaiser", xp, device)
    if _length_guard(M):
        return _ones(M)
    M, trunc = _sample_count(M, sym)
    n = np.arange(0, M, dtype=np.float64)
    alpha = (M - 1) / 2.0
    beta = array_like(beta).astype(np.float64)
    w = special.i0(beta * np.sqrt(1 - ((n - alpha) / alpha) ** 2.0)) / special.i0(beta)
    return _truncated(w, trunc)


def _length_guard(M):
    """SciPy's ``_len_guards``: its error for a bad length, and True for a length of 0 or 1."""
    if int(M) != M or M < 0:
        raise ValueError("Window length M must be a non-negative integer")
    return M <= 1


def kaiser_bessel_derived(M, beta, *, sym=True, xp=None, device=None):
    """The square root of the normalised cumulative sum of a Kaiser window, mirrored."""
    _plain_namespace("kaiser_bessel_derived", xp, device)
    if not sym:
        raise ValueError("Kaiser-Bessel Derived windows are only defined for symmetric shapes")
    if M < 1:
        return np.zeros(0)
    if M % 2:
        raise ValueError("Kaiser-Bessel Derived windows are only defined for even number of points")
    csum = np.cumsum(kaiser(M // 2 + 1, beta))
    half = np.sqrt(csum[:-1] / csum[-1])
    return np.concatenate((half, np.flip(half)))


def tukey(M, alpha=0.5, sym=True, *, xp=None, device=None):
    """Cosine tapers over SciPy's ``floor(alpha (M - 1) / 2) + 1`` samples at each end, ones
    between (SciPy's steps, in its order)."""
    _plain_namespace("tukey", xp, device)
    if _length_guard(M):
        return _ones(M)
    a = strip(alpha)
    if a <= 0:
        return _ones(M)
    if a >= 1.0:
        return W.hann(M, sym=sym)
    M, trunc = _sample_count(M, sym)
    n = np.arange(0, M, dtype=np.float64)
    width = int(math.floor(a * (M - 1) / 2.0))
    n1, n2, n3 = n[0:width + 1], n[width + 1:M - width - 1], n[M - width - 1:]
    w1 = 0.5 * (1 + np.cos(np.pi * (-1 + 2.0 * n1 / alpha / (M - 1))))
    w3 = 0.5 * (1 + np.cos(np.pi * (-2.0 / alpha + 1 + 2.0 * n3 / alpha / (M - 1))))
    w = np.concatenate((w1, np.ones(n2.shape), w3))
    return _truncated(w, trunc)


def _cosine_sum(M, a, sym):
    """SciPy's ``_general_cosine_impl``: ``sum_k a[k] cos(k fac)`` on ``fac = linspace(-pi, pi)``."""
    if _length_guard(M):
        return _ones(M)
    M, trunc = _sample_count(M, sym)
    fac = np.linspace(-np.pi, np.pi, M, dtype=np.float64)
    w = np.zeros(M, dtype=np.float64)
    for k in range(a.shape[0]):
        w = w + a[k] * np.cos(k * fac)
    return _truncated(w, trunc)


def general_cosine(M, a, sym=True):
    """A sum of cosines weighted by the (traced) coefficients ``a``."""
    return _cosine_sum(M, _coefficients(a), sym)


def general_hamming(M, alpha, sym=True, *, xp=None, device=None):
    """``general_cosine`` with the coefficients ``[alpha, 1 - alpha]``."""
    _plain_namespace("general_hamming", xp, device)
    alpha = array_like(alpha).astype(np.float64)
    return _cosine_sum(M, np.stack([alpha, 1.0 - alpha]), sym)


for _func, _rule in ((W.kaiser, kaiser), (W.kaiser_bessel_derived, kaiser_bessel_derived),
                     (W.tukey, tukey), (W.general_cosine, general_cosine),
                     (W.general_hamming, general_hamming)):
    _route(_func, _rule)


#: The windows whose parameters differentiate (SciPy's own code, or a rule above).
DIFFERENTIABLE = frozenset({W.kaiser, W.kaiser_bessel_derived, W.tukey, W.general_cosine, W.general_hamming,
                            W.gaussian, W.general_gaussian, W.exponential})


def _window_function(name):
    """The window function SciPy's ``get_window`` calls for ``name`` (None if it knows none)."""
    for suffix in ("_symmetric", "_periodic"):
        if name.endswith(suffix):
            name = name[:-len(suffix)]
    entry = _WIN_FUNCS.get(name)
    return None if entry is None else entry[0]


def get_window(window, Nx, fftbins=True, *, xp=None, device=None):
    """SciPy's ``get_window``: a traced number is a Kaiser ``beta``; a tuple's traced parameter
    reaches its window's rule through SciPy's own dispatch."""
    if isinstance(window, tuple) and window and isinstance(window[0], str) and any_traced(window[1:]):
        func = _window_function(window[0])
        if func is not None and func not in DIFFERENTIABLE:
            raise NoRuleError("scipy.signal.get_window", f"no rule for a traced parameter of the "
                              f"{func.__name__} window (its parameters differentiate for kaiser, "
                              "kaiser_bessel_derived, tukey, gaussian, general_gaussian, exponential, "
                              "general_cosine and general_hamming)")
    if isinstance(window, Tracer):
        if not (Nx > 0 and isinstance(Nx, numbers.Integral)):
            raise ValueError(f"Parameter {Nx=} is not a positive integer")
        if not isinstance(fftbins, bool):
            raise ValueError(f"Parameter {fftbins=} is not of type bool!")
        if window.size != 1 or window.dtype.kind not in "biuf":  # what float() takes
            raise ValueError(f"Parameter {window=} must be a tuple, a string or a float!")
        return W.kaiser(Nx, np.reshape(window, ()), not fftbins, xp=xp, device=device)
    return ORIGINALS["get_window"](window, Nx, fftbins, xp=xp, device=device)


defcomposite(S.get_window, get_window)
route(S.get_window)
ORIGINALS["get_window"] = original(S.get_window)
