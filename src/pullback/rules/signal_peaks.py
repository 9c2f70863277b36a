"""Rules: ``scipy.signal`` peak measures (``find_peaks``, ``peak_prominences``, ``peak_widths``).

Which samples are peaks, and where their bases and crossings lie, are integers: piecewise
constant in the signal, taken from SciPy's own call on the plain values. The measures are
numbers read off the signal at those positions, so each is written with NumPy calls on the
traced signal there and valued by SciPy's own result (bit for bit):

- a peak's height is ``x[peak]``; its thresholds ``x[peak] - x[peak - 1]`` and
  ``x[peak] - x[peak + 1]``;
- its prominence is ``x[peak] - max(x[left_base], x[right_base])`` (the bases: the lowest samples
  SciPy found on each side);
- at the height ``h = x[peak] - prominence * rel_height`` SciPy walks from the peak to the first
  sample ``i`` at or below ``h`` on each side and interpolates linearly between it and its
  neighbour towards the peak: ``left_ip = i + (h - x[i]) / (x[i + 1] - x[i])``,
  ``right_ip = i - (h - x[i]) / (x[i - 1] - x[i])`` (``i`` itself where the sample is at ``h``
  or the neighbour equals it); the width is ``right_ip - left_ip``. ``rel_height`` and
  given (traced) prominences differentiate too.

Peak indices, bases, edges and plateau sizes are integers and carry no derivative; the
conditions of ``find_peaks`` select peaks (piecewise constant too).
"""

from __future__ import annotations

import numpy as np
import scipy.signal as S
from scipy.signal._peak_finding import _arg_peaks_as_expected

from ..core import Tracer, strip
from ..intercept import original, route
from .registry import any_traced, array_like, defcomposite, strip_tree, value_of

ORIGINALS: dict[str, object] = {}


def _signal(x):
    """SciPy's ``_arg_x_as_expected``: ``x`` as a float64 array (a list of traced numbers
    stacked)."""
    if type(x) in (list, tuple) and any_traced(x):
        x = np.stack([array_like(v) for v in x])
    x = array_like(x)
    return x if x.dtype == np.float64 else x.astype(np.float64)


def _valued(traced, plain):
    """``traced`` with SciPy's ``plain`` value (a plain ``traced``: SciPy's value itself)."""
    return value_of(traced, plain) if isinstance(traced, Tracer) else plain


def _prominences(x, peaks, left_bases, right_bases):
    """``x[peak] - max(x[left_base], x[right_base])``."""
    return x[peaks] - np.maximum(x[left_bases], x[right_bases])


def _walk(x, starts, limits, heights, step):
    """SciPy's walk from each start by ``step`` (-1 or +1) while the sample is above its height,
    stopping before the limit (the base): the first index at or below the height, or the limit.
    All peaks at once, in windows of doubling width: the work is that of SciPy's walks."""
    out = np.array(limits, dtype=np.intp)
    todo = np.arange(starts.shape[0])
    offset, width = 0, 8
    while todo.size:
        idx = starts[todo, None] + step * (offset + np.arange(width))
        inside = (limits[todo, None] - idx) * step > 0
        stop = inside & ~(heights[todo, None] < x[np.clip(idx, 0, x.shape[0] - 1)])
        hit = stop.any(axis=1)
        out[todo[hit]] = idx[hit, stop[hit].argmax(axis=1)]
        todo = todo[~hit & inside[:, -1]]  # still above the height, the base not reached
        offset, width = offset + width, 2 * width
    return out


def _crossings(x, peaks, heights, left_bases, right_bases):
    """The samples where SciPy's walks from each peak stop (the first at or below its height
    on each side, or the base), on the plain signal."""
    left = _walk(x, peaks, np.asarray(left_bases, dtype=np.intp), heights, -1)
    right = _walk(x, peaks, np.asarray(right_bases, dtype=np.intp), heights, 1)
    return left, right


def _widths(x, peaks, rel_height, prominences, left_bases, right_bases, plain_heights):
    """``(widths, width_heights, left_ips, right_ips)``: SciPy's linear interpolation at its
    crossings (module docstring), on the traced signal."""
    xp = strip(x)
    last = xp.shape[0] - 1
    heights = x[peaks] - prominences * rel_height
    il, ir = _crossings(xp, peaks, plain_heights, left_bases, right_bases)
    nl, nr = np.minimum(il + 1, last), np.maximum(ir - 1, 0)  # the neighbours towards the peak
    on_l = (xp[il] < plain_heights) & (xp[nl] != xp[il])
    on_r = (xp[ir] < plain_heights) & (xp[nr] != xp[ir])
    step_l = (heights - x[il]) / np.where(on_l, x[nl] - x[il], 1.0)
    step_r = (heights - x[ir]) / np.where(on_r, x[nr] - x[ir], 1.0)
    left_ips = il + np.where(on_l, step_l, 0.0)
    right_ips = ir - np.where(on_r, step_r, 0.0)
    return right_ips - left_ips, heights, left_ips, right_ips


def peak_prominences(x, peaks, wlen=None):
    """SciPy's prominences, with the derivatives of ``x[peak] - max(x[bases])``."""
    x = _signal(x)
    plain = ORIGINALS["peak_prominences"](strip(x), strip_tree(peaks), strip(wlen))
    peaks = _arg_peaks_as_expected(strip_tree(peaks))
    prominences = _prominences(x, peaks, plain[1], plain[2])
    return _valued(prominences, plain[0]), plain[1], plain[2]


def peak_widths(x, peaks, rel_height=0.5, prominence_data=None, wlen=None):
    """SciPy's widths, with the derivatives of its interpolation (module docstring)."""
    x = _signal(x)
    plain_peaks = _arg_peaks_as_expected(strip_tree(peaks))
    if prominence_data is None:
        prominence_data = peak_prominences(x, plain_peaks, wlen)
    prominences, left_bases, right_bases = prominence_data
    plain = ORIGINALS["peak_widths"](strip(x), plain_peaks, strip(rel_height),
                                     strip_tree(tuple(prominence_data)), strip(wlen))
    traced = _widths(x, plain_peaks, rel_height, _signal(prominences), np.asarray(strip(left_bases)),
                     np.asarray(strip(right_bases)), plain[1])
    return tuple(_valued(t, p) for t, p in zip(traced, plain))


def find_peaks(x, height=None, threshold=None, distance=None, prominence=None, width=None, wlen=None,
               rel_height=0.5, plateau_size=None):
    """SciPy's peaks and their properties; the measures carry the derivatives of their formulas
    (module docstring), the conditions select as SciPy's."""
    x = _signal(x)
    peaks, plain = ORIGINALS["find_peaks"](
        strip(x), *strip_tree((height, threshold, distance, prominence, width, wlen)),
        rel_height=strip(rel_height), plateau_size=strip_tree(plateau_size))
    traced = {}
    if "peak_heights" in plain:
        traced["peak_heights"] = x[peaks]
    if "left_thresholds" in plain:
        traced["left_thresholds"] = x[peaks] - x[peaks - 1]
        traced["right_thresholds"] = x[peaks] - x[peaks + 1]
    if "prominences" in plain:
        traced["prominences"] = _prominences(x, peaks, plain["left_bases"], plain["right_bases"])
    if "widths" in plain:
        names = ("widths", "width_heights", "left_ips", "right_ips")
        values = _widths(x, peaks, rel_height, traced["prominences"], plain["left_bases"],
                         plain["right_bases"], plain["width_heights"])
        traced.update(zip(names, values))
    return peaks, {k: _valued(traced[k], v) if k in traced else v for k, v in plain.items()}


for _func, _rule in ((S.peak_prominences, peak_prominences), (S.peak_widths, peak_widths),
                     (S.find_peaks, find_peaks)):
    route(_func)
    ORIGINALS[_func.__name__] = original(_func)  # (the copy running SciPy's code, once intercepted)
    defcomposite(_func, _rule)
