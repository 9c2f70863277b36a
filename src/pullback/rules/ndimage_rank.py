"""Rules: ``scipy.ndimage`` rank filters (``maximum_filter``, ``minimum_filter``, ``median_filter``,
``rank_filter``, ``percentile_filter`` and the 1-d ``maximum_filter1d``, ``minimum_filter1d``).

Each output of a rank filter is a copy of one entry of its window (or ``cval`` beyond a
'constant' border). The rule computes SciPy's own value, then finds, on the plain values, which
input entry each output copied: the window's entries in the footprint's C order, the first equal
to the output (ties go to the first: a subgradient, as a max-pool's), through the boundary
extension of the mode (``np.pad``'s equivalent, an index array extended alike). The traced
result is that gather, ``take(ravel(x), source)``, with SciPy's value where the output is
``cval`` or matches nothing (a NaN window): the same bits as SciPy's, and the derivatives of a
gather (scatter-add back, in forward mode the tangent gathered alike, higher orders zero).

Examples
--------
>>> import numpy as np, scipy.ndimage as nd, pullback as pb
>>> x = np.array([0.0, 3.0, 1.0, 2.0])
>>> pb.gradient(lambda x: np.sum(nd.maximum_filter(x, size=2)), x)[0]
array([1., 2., 0., 1.])
"""

from __future__ import annotations

import inspect

import numpy as np
import scipy.ndimage as nd
from scipy.ndimage import _ni_support

from ..core import Tracer, strip
from ..errors import NoRuleError
from ..intercept import original, route
from .ndimage import PAD_MODES, _check_mode, _no_output_array
from .registry import defcomposite, value_of

_NAMES = ("maximum_filter", "minimum_filter", "median_filter", "rank_filter", "percentile_filter",
          "maximum_filter1d", "minimum_filter1d")


def _layout(x, size, footprint, origin, mode, axes):
    """SciPy's footprint (over all axes), each axis's window centre and boundary mode."""
    axes = _ni_support._check_axes(axes, x.ndim)
    if footprint is None:  # (SciPy's own call, run first, raised if size is None too)
        footprint = np.ones(_ni_support._normalize_sequence(size, len(axes)), dtype=bool)
    else:
        footprint = np.asarray(footprint, dtype=bool)
    origins = _ni_support._normalize_sequence(origin, len(axes))
    modes = _ni_support._normalize_sequence(mode, len(axes))
    fp_axes = [1] * x.ndim
    centers, all_modes = [0] * x.ndim, ["constant"] * x.ndim
    for k, ax in enumerate(axes):
        fp_axes[ax] = footprint.shape[k]
        centers[ax] = footprint.shape[k] // 2 + int(origins[k])
        all_modes[ax] = modes[k]
    return np.reshape(footprint, fp_axes), centers, [_check_mode(m) for m in all_modes]


def _sources(x, y, fp, centers, modes, cval):
    """The flat index of the entry of ``x`` that each output ``y`` copied; -1 for ``cval`` or none."""
    xe = x
    ie = np.arange(x.size).reshape(x.shape)
    for ax in range(x.ndim):
        widths = [(0, 0)] * x.ndim
        widths[ax] = (centers[ax], fp.shape[ax] - 1 - centers[ax])
        if widths[ax] == (0, 0):
            continue
        pad = PAD_MODES[modes[ax]]
        if pad is None:
            xe = np.pad(xe, widths, constant_values=cval)
            ie = np.pad(ie, widths, constant_values=-1)
        else:
            xe = np.pad(xe, widths, mode=pad)
            ie = np.pad(ie, widths, mode=pad)
    source = np.full(x.shape, -1)
    open_ = np.ones(x.shape, dtype=bool)
    for offset in np.argwhere(fp):
        window = tuple(slice(o, o + n) for o, n in zip(offset, x.shape))
        hit = open_ & (xe[window] == y)
        source[hit] = ie[window][hit]
        open_ &= ~hit
        if not open_.any():
            break
    return source


def _rank_rule(name):
    func = getattr(nd, name)
    raw = original(func)
    signature = inspect.signature(raw)
    one_d = name.endswith("1d")

    def rank_filter_rule(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        a = bound.arguments
        x = a["input"]
        _no_output_array(a.get("output"), name)
        if isinstance(a.get("cval"), Tracer):
            raise NoRuleError(f"scipy.ndimage.{name} with respect to 'cval'")
        plain = {k: strip(v) for k, v in a.items()}
        y = raw(**plain)  # SciPy's value (and its errors)
        xv = strip(x)
        if not isinstance(x, Tracer) or xv.dtype.kind != "f" or y.dtype.kind != "f":
            return y  # (an integer output carries no gradient)
        if y.dtype != xv.dtype:  # the sources are found in the input's precision, then cast as SciPy does
            return value_of(rank_filter_rule(**{**a, "output": None}).astype(y.dtype), y)
        if one_d:
            axis = int(a["axis"]) % xv.ndim
            fp, centers, modes = _layout(xv, a["size"], None, a["origin"], a["mode"], (axis,))
        else:
            fp, centers, modes = _layout(xv, a["size"], a["footprint"], a["origin"], a["mode"],
                                         a.get("axes"))
        source = _sources(xv, y, fp, centers, modes, xv.dtype.type(a["cval"]))
        found = source >= 0
        picked = np.take(np.reshape(x, (-1,)), np.where(found, source, 0))
        return np.where(found, picked, y)

    rank_filter_rule.__name__ = rank_filter_rule.__qualname__ = f"{name}_rule"
    defcomposite(func, rank_filter_rule)
    route(func)
    return rank_filter_rule


RULES = {name: _rank_rule(name) for name in _NAMES}
