"""Rules: ``scipy.signal``'s order and adaptive filters and polynomial division (``medfilt``,
``medfilt2d``, ``order_filter``, ``wiener``, ``deconvolve``).

Each is a *composite*: SciPy's own steps, in SciPy's order, on the traced arrays, so the values
are SciPy's bit for bit and reverse mode, forward mode and higher orders come from the rules of
the steps. ``medfilt`` and ``order_filter`` are SciPy's ``ndimage.rank_filter`` calls with zero
padding (their gradient goes to the element each window picks, see ``ndimage_rank``);
``medfilt2d`` is the same median (SciPy's C loop picks the same element). ``wiener`` is SciPy's
local mean and variance by ``correlate`` and its elementwise arithmetic (the noise power, when
not given, is the mean local variance: it differentiates too). ``deconvolve`` is SciPy's
``lfilter`` of an impulse and the remainder by ``convolve``.

Examples
--------
>>> import numpy as np, pullback as pb, scipy.signal as S
>>> x = np.array([3.0, 1.0, 2.0, 5.0, 4.0])
>>> pb.gradient(lambda v: np.sum(S.medfilt(v, 3) * np.arange(5.0)), x)[0]  # to each window's median
array([0., 0., 3., 0., 7.])
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import scipy.ndimage as ndi
import scipy.signal as S

from .registry import array_like
from .signal import ORIGINALS, _route


def _check_dtype(a, name):
    if not (a.dtype.kind in "iu" or a.dtype in (np.float32, np.float64)):
        raise ValueError(f"dtype={a.dtype} is not supported by {name}")


def medfilt(volume, kernel_size=None):
    """``scipy.signal.medfilt``: SciPy's ``ndimage.rank_filter`` of the middle rank, zero padded."""
    volume = array_like(volume)
    if volume.ndim == 0:
        volume = np.reshape(volume, (1,))
    _check_dtype(volume, "medfilt")
    if kernel_size is None:
        kernel_size = [3] * volume.ndim
    kernel_size = np.asarray(kernel_size)
    if kernel_size.shape == ():
        kernel_size = np.repeat(kernel_size, volume.ndim)
    for k in range(volume.ndim):
        if (kernel_size[k] % 2) != 1:
            raise ValueError("Each element of kernel_size should be odd.")
    if any(k > s for k, s in zip(kernel_size, volume.shape)):
        warnings.warn("kernel_size exceeds volume extent: the volume will be zero-padded.", stacklevel=3)
    size = math.prod(kernel_size)
    return ndi.rank_filter(volume, size // 2, size=kernel_size, mode="constant")


def medfilt2d(input, kernel_size=3):  # noqa: A002 - SciPy's parameter name
    """``scipy.signal.medfilt2d``: the zero-padded median of each window (SciPy's C loop picks the
    element ``medfilt`` picks)."""
    image = array_like(input)
    if image.dtype.type not in (np.ubyte, np.float32, np.float64):
        return medfilt(image, kernel_size)
    if kernel_size is None:
        kernel_size = [3] * 2
    kernel_size = np.asarray(kernel_size)
    if kernel_size.shape == ():
        kernel_size = np.repeat(kernel_size.item(), 2)
    for size in kernel_size:
        if (size % 2) != 1:
            raise ValueError("Each element of kernel_size should be odd.")
    if image.ndim != 2:
        return ORIGINALS["medfilt2d"](np.zeros(image.shape, image.dtype), kernel_size)  # SciPy's error
    size = math.prod(kernel_size)
    return ndi.rank_filter(image, size // 2, size=kernel_size, mode="constant")


def order_filter(a, domain, rank):
    """``scipy.signal.order_filter``: SciPy's ``ndimage.rank_filter`` over ``domain``, zero padded."""
    domain = np.asarray(domain)
    for dimsize in domain.shape:
        if (dimsize % 2) != 1:
            raise ValueError("Each dimension of domain argument should have an odd number of elements.")
    a = array_like(a)
    _check_dtype(a, "order_filter")
    return ndi.rank_filter(a, rank, footprint=domain, mode="constant")


def wiener(im, mysize=None, noise=None):
    """``scipy.signal.wiener``: SciPy's local mean and variance (``correlate`` with ones) and its
    shrinkage toward the local mean, step by step."""
    im = array_like(im)
    if mysize is None:
        mysize = [3] * im.ndim
    if np.asarray(mysize).shape == ():
        mysize = [mysize] * im.ndim
    size = math.prod(mysize)
    local_mean = S.correlate(im, np.ones(mysize), "same") / float(size)
    local_var = S.correlate(im ** 2, np.ones(mysize), "same") / float(size) - local_mean ** 2
    if noise is None:
        noise = np.mean(np.reshape(local_var, (-1,)), axis=0)
    flat = local_var < noise  # (there the local mean is the value: the shrinkage's 0/0 must not
    # reach the gradient as NaN, so it divides by 1 where its value is not used)
    res = im - local_mean
    res = res * (1 - noise / np.where(flat, 1.0, local_var))
    res = res + local_mean
    return np.where(flat, local_mean, res)


def deconvolve(signal, divisor):
    """``scipy.signal.deconvolve``: the quotient by ``lfilter`` of an impulse, the remainder by
    ``convolve``, as SciPy computes them."""
    num = array_like(signal)
    den = array_like(divisor)
    num = np.reshape(num, (1,)) if num.ndim == 0 else num
    den = np.reshape(den, (1,)) if den.ndim == 0 else den
    if not (num.ndim == 1 and num.size > 0):
        raise ValueError(f"Parameter signal must be non-empty 1d array, but its shape is {num.shape}!")
    if not (den.ndim == 1 and den.size > 0):
        raise ValueError(f"Parameter divisor must be non-empty 1d array, but its shape is {den.shape}!")
    n, d = num.shape[0], den.shape[0]
    if d > n:
        return [], num
    impulse = np.zeros(n - d + 1, dtype=np.float64)
    impulse[0] = 1
    quot = S.lfilter(num, den, impulse)
    rem = num - S.convolve(den, quot, mode="full")
    return quot, rem


for _f in (medfilt, medfilt2d, order_filter, wiener, deconvolve):
    _route(_f.__name__, _f)
