"""Rules: ``scipy.ndimage`` Euclidean distance transforms, differentiated in ``sampling``.

``distance_transform_edt`` and ``distance_transform_bf(metric='euclidean')`` give each point
of the (binary) input its distance ``sqrt(sum_i (sampling_i delta_i)^2)`` to the nearest
background point, ``delta`` the integer offset SciPy finds (its feature transform, what
``return_indices=True`` returns). For fixed offsets that is smooth in ``sampling``; the offsets
change only where two background points are equally near (a kink, as for any minimum). So the
traced distance is that formula on SciPy's offsets, valued by SciPy's own result; a zero distance
(a background point) has zero derivative. The output is SciPy's: distances, indices, or both, as
``return_distances``/``return_indices`` ask, indices written into ``indices=`` when given.

The input is binary (no gradient). The other metrics of ``distance_transform_bf`` and
``distance_transform_cdt`` return integer distances, which carry no gradient. Distances written
into an output array (``distances=``) cannot carry one: :class:`~pullback.NoRuleError`.
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage as nd

from ..core import strip
from ..errors import NoRuleError
from ..intercept import original, route
from .registry import any_traced, array_like, defcomposite, strip_tree, value_of


def _sampling_vector(sampling, ndim):
    """The traced ``sampling`` as SciPy normalises it: ``ndim`` float64 entries (a scalar repeated;
    a list or tuple of traced and plain scalars stacked)."""
    if type(sampling) in (list, tuple):
        sampling = np.stack([array_like(v) for v in sampling])
    s = np.broadcast_to(np.reshape(array_like(sampling), (-1,)), (ndim,))
    return s if s.dtype == np.float64 else s.astype(np.float64)


def _euclidean(ft, sampling):
    """``sqrt(sum_i (sampling_i delta_i)^2)``, ``delta = ft - indices`` the offsets of the nearest
    background points; zero, with a zero derivative, where the distance is zero."""
    delta = (ft - np.indices(ft.shape[1:], dtype=ft.dtype)).astype(np.float64)
    s = np.reshape(sampling, (-1,) + (1,) * (ft.ndim - 1))
    d2 = np.sum((s * delta) ** 2, axis=0)
    positive = d2 > 0
    return np.where(positive, np.sqrt(np.where(positive, d2, 1.0)), 0.0)


def _transform(raw, name, input, sampling, return_distances, return_indices, distances, indices,
               **metric):
    """A distance transform whose distances are traced through a traced ``sampling``."""
    ft_out = isinstance(indices, np.ndarray)
    if ft_out and not return_indices:  # SciPy's own error
        return raw(strip(input), **metric, sampling=strip_tree(sampling),
                   return_distances=return_distances, return_indices=return_indices,
                   distances=distances, indices=indices)
    if isinstance(distances, np.ndarray) and return_distances:
        raise NoRuleError(f"scipy.ndimage.{name}", "distances written into an output array "
                          "(distances=) with a traced sampling would lose their gradient; leave "
                          "distances=None and use the returned array")
    plain = strip(input)
    dt, ft = raw(plain, **metric, sampling=strip_tree(sampling), return_distances=True,
                 return_indices=True)
    if ft_out:  # SciPy writes them (distance_transform_bf maps the array's own contents through ft)
        raw(plain, **metric, sampling=strip_tree(sampling), return_distances=False,
            return_indices=True, indices=indices)
    traced = value_of(_euclidean(ft, _sampling_vector(sampling, ft.shape[0])), dt)
    return (traced, ft) if return_indices and not ft_out else traced


def distance_transform_edt(input, sampling=None, return_distances=True, return_indices=False,
                           distances=None, indices=None):
    """``scipy.ndimage.distance_transform_edt``, its distances traced in ``sampling``."""
    if not (return_distances and any_traced([sampling])):
        return _EDT(strip(input), sampling=strip_tree(sampling), return_distances=return_distances,
                    return_indices=return_indices, distances=distances, indices=indices)
    return _transform(_EDT, "distance_transform_edt", input, sampling, return_distances,
                      return_indices, distances, indices)


def distance_transform_bf(input, metric="euclidean", sampling=None, return_distances=True,
                          return_indices=False, distances=None, indices=None):
    """``scipy.ndimage.distance_transform_bf``, its Euclidean distances traced in ``sampling`` (the
    other metrics' distances are integers)."""
    euclidean = isinstance(metric, str) and metric.lower() == "euclidean"
    if not (euclidean and return_distances and any_traced([sampling])):
        return _BF(strip(input), metric, sampling=strip_tree(sampling),
                   return_distances=return_distances, return_indices=return_indices,
                   distances=distances, indices=indices)
    return _transform(_BF, "distance_transform_bf", input, sampling, return_distances,
                      return_indices, distances, indices, metric=metric)


for _f in (distance_transform_edt, distance_transform_bf):
    defcomposite(getattr(nd, _f.__name__), _f)
    route(getattr(nd, _f.__name__))
_EDT = original(nd.distance_transform_edt)  # SciPy's code (what plain calls run)
_BF = original(nd.distance_transform_bf)
