"""Rules: ``scipy.spatial.distance`` (``cdist``, ``pdist``, ``squareform`` and the distances
between two vectors).

SciPy converts its inputs with ``np.asarray``, so each function is intercepted
(:mod:`pullback.intercept`). The value is SciPy's own, bit for bit (its C loops sum in their own
order); the derivatives are those of the metric's formula written with NumPy calls on the
differences of every pair (memory ``m_A x m_B x n``), so forward mode and every order follow.
Metrics: ``euclidean``, ``sqeuclidean``, ``cityblock``, ``minkowski`` (``p``), ``chebyshev``,
``cosine``, ``correlation``, ``braycurtis``, ``canberra``, ``seuclidean`` (``V``, or the
variances SciPy computes from the data, differentiated), ``mahalanobis`` (``VI``, or SciPy's
inverse covariance of the data, differentiated), ``jensenshannon``, weights ``w``, and a
callable metric (called on traced rows, pair by pair, as SciPy calls it). The boolean metrics
(``hamming``, ``jaccard``, ``dice``, ...) are piecewise constant: their derivative is zero.

At a zero distance (a point and itself) the Euclidean-type distances have no derivative; their
gradient there is zero, as PyTorch's ``cdist`` gives, rather than NaN.

Examples
--------
>>> import numpy as np, pullback as pb
>>> from scipy.spatial.distance import cdist
>>> X = np.array([[0.0, 0.0], [3.0, 4.0]])
>>> pb.gradient(lambda X: np.sum(cdist(X, X)), X)[0]
array([[-1.2, -1.6],
       [ 1.2,  1.6]])
"""

from __future__ import annotations

import numpy as np
import scipy.spatial.distance as D
from scipy.special import rel_entr

from ..core import Tracer, strip
from ..errors import NoRuleError
from ..intercept import original, route
from .registry import _with_values, array_like, defcomposite, like_value, strip_tree

_BOOLEAN = ("hamming", "jaccard", "dice", "rogerstanimoto", "russellrao", "sokalsneath", "yule",
            "kulczynski1", "sokalmichener")


def _safe_root(s, p=2.0):
    """``s ** (1/p)`` with a zero derivative where ``s`` is 0."""
    pos = s > 0
    return np.where(pos, np.where(pos, s, 1.0) ** (1.0 / p), 0.0)


def _weighted(w, x):
    return x if w is None else w * x


def _mean(x, w):
    if w is None:
        return np.mean(x, axis=-1, keepdims=True)
    return np.sum(w * x, axis=-1, keepdims=True) / np.sum(w)


def _metric(name, U, V, kw):
    """The distance of broadcast rows ``U``, ``V`` (last axis: the coordinates)."""
    kw = {k: (array_like(v) if k in ("w", "V", "VI") and v is not None else v) for k, v in kw.items()}
    w = kw.get("w")
    d = U - V
    if name == "minkowski":
        p = kw.get("p", 2.0)
        if not strip(p) > 0:
            raise NoRuleError("scipy.spatial.distance.minkowski", f"p = {strip(p)} (the distance is "
                              "infinite or undefined)")
        if not isinstance(p, Tracer):  # a traced p takes the general formula, for its derivative
            name = {1: "cityblock", 2: "euclidean", np.inf: "chebyshev"}.get(float(p), name)
    if name == "sqeuclidean":
        return np.sum(_weighted(w, d * d), axis=-1)
    if name == "euclidean":
        return _safe_root(np.sum(_weighted(w, d * d), axis=-1))
    if name == "cityblock":
        return np.sum(_weighted(w, np.abs(d)), axis=-1)
    if name == "minkowski":
        p = kw.get("p", 2.0)
        return _safe_root(np.sum(_weighted(w, np.abs(d) ** p), axis=-1), p)
    if name == "chebyshev":
        a = np.abs(d)
        if w is not None:
            a = np.where(strip(w) > 0, a, -np.inf)
        return np.max(a, axis=-1)
    if name in ("cosine", "correlation"):
        if name == "correlation" and kw.get("centered", True):
            U, V = U - _mean(U, w), V - _mean(V, w)
        uv = np.sum(_weighted(w, U * V), axis=-1)
        uu = np.sum(_weighted(w, U * U), axis=-1)
        vv = np.sum(_weighted(w, V * V), axis=-1)
        return 1.0 - uv / np.sqrt(uu * vv)
    if name == "braycurtis":
        return np.sum(_weighted(w, np.abs(d)), axis=-1) / np.sum(_weighted(w, np.abs(U + V)), axis=-1)
    if name == "canberra":
        den = np.abs(U) + np.abs(V)
        pos = den > 0
        return np.sum(_weighted(w, np.where(pos, np.abs(d) / np.where(pos, den, 1.0), 0.0)), axis=-1)
    if name == "seuclidean":
        return _safe_root(np.sum(d * d / kw["V"], axis=-1))
    if name == "mahalanobis":
        return _safe_root(np.einsum("...i,ij,...j->...", d, kw["VI"], d))
    if name == "jensenshannon":
        P = U / np.sum(U, axis=-1, keepdims=True)
        Q = V / np.sum(V, axis=-1, keepdims=True)
        M = (P + Q) / 2.0
        js = (np.sum(rel_entr(P, M), axis=-1) + np.sum(rel_entr(Q, M), axis=-1)) / 2.0
        base = kw.get("base")
        if base is not None:
            js = js / np.log(base)
        return _safe_root(js)
    raise NoRuleError(f"scipy.spatial.distance with metric={name!r}")


def _metric_name(metric):
    if callable(metric):
        return metric
    name = str(metric).lower()
    return {"cos": "cosine", "euclid": "euclidean", "eu": "euclidean", "sqe": "sqeuclidean",
            "cblock": "cityblock", "cb": "cityblock", "c": "cityblock", "cheby": "chebyshev",
            "cheb": "chebyshev", "ch": "chebyshev", "chebychev": "chebyshev", "mi": "minkowski",
            "pnorm": "minkowski", "se": "seuclidean", "mahal": "mahalanobis",
            "mah": "mahalanobis", "corr": "correlation", "co": "correlation",
            "js": "jensenshannon"}.get(name, name)


def _defaults(name, data, kw):
    """SciPy's data-derived parameters: ``V`` and ``VI`` from the stacked rows when not given."""
    kw = dict(kw)
    if name == "seuclidean" and kw.get("V") is None:
        kw["V"] = np.var(data, axis=0, ddof=1)
    if name == "mahalanobis" and kw.get("VI") is None:
        kw["VI"] = np.linalg.inv(np.cov(data.T)).T
    return kw


def _pairs(metric, U, V, kw, data):
    name = _metric_name(metric)
    if callable(name):
        rows = [[name(U[i, 0], V[0, j], **kw) for j in range(V.shape[1])] for i in range(U.shape[0])]
        return np.stack([np.stack(r) for r in rows]) if rows and rows[0] else None
    if name in _BOOLEAN:
        return None  # piecewise constant: SciPy's value, no derivative
    return _metric(name, U, V, _defaults(name, data, kw))


def _exact(func, composite):
    """Route ``func``'s traced calls to ``composite``, with SciPy's own value (and errors)."""
    raw = original(func)

    def with_scipys_value(*args, **kwargs):
        want = raw(*strip_tree(args), **strip_tree(kwargs))
        out = composite(*args, **kwargs)
        if out is None:
            return want
        if isinstance(want, np.ndarray):
            if strip(out).dtype != want.dtype:
                out = out.astype(want.dtype)
            return _with_values(out, want)
        return like_value(out, want)  # a Python float or a NumPy scalar, of SciPy's precision

    with_scipys_value.__name__ = with_scipys_value.__qualname__ = f"{func.__name__}_rule"
    defcomposite(func, with_scipys_value)
    route(func)


def cdist(XA, XB, metric="euclidean", *, out=None, **kwargs):
    if out is not None:
        raise NoRuleError("scipy.spatial.distance.cdist", "out= with traced values (use the result)")
    XA, XB = array_like(XA).astype(float, copy=False), array_like(XB).astype(float, copy=False)
    if callable(metric):
        return _pairs(metric, XA[:, None], XB[None, :], kwargs, None)
    return _pairs(metric, XA[:, None, :], XB[None, :, :], kwargs, np.concatenate([XA, XB]))


def pdist(X, metric="euclidean", *, out=None, **kwargs):
    if out is not None:
        raise NoRuleError("scipy.spatial.distance.pdist", "out= with traced values (use the result)")
    X = array_like(X).astype(float, copy=False)
    i, j = np.triu_indices(X.shape[0], 1)
    if callable(metric):
        return np.stack([metric(X[a], X[b], **kwargs) for a, b in zip(i, j)]) if i.size else None
    return _pair_rows(metric, X[i], X[j], kwargs, X)


def _pair_rows(metric, U, V, kw, data):
    """The distance of ``U[k]`` to ``V[k]`` for every ``k``."""
    name = _metric_name(metric)
    if name in _BOOLEAN:
        return None
    return _metric(name, U, V, _defaults(name, data, kw))


def squareform(X, force="no", checks=True):
    X = array_like(X)
    to_matrix = force.lower() == "tomatrix" or (force.lower() != "tovector" and X.ndim == 1)
    if to_matrix:
        n = X.shape[0]
        d = max(int(np.ceil(np.sqrt(n * 2))), 1)  # SciPy: an empty vector is the 1 x 1 zero matrix
        index = np.full((d, d), n)
        i, j = np.triu_indices(d, 1)
        index[i, j] = np.arange(n)
        index[j, i] = np.arange(n)
        return np.concatenate([X, np.zeros(1, X.dtype)])[index]
    i, j = np.triu_indices(X.shape[0], 1)
    return X[i, j]


def _floating(u):
    """``u`` in its own floating precision (SciPy computes float32 vectors' distances in float32)."""
    return u if np.result_type(strip(u)).kind in "fc" else u.astype(float)


def _two(name):
    def distance(u, v, *args, **kwargs):
        u, v = array_like(u), array_like(v)
        kw = dict(zip(_POSITIONAL[name], args))
        kw.update(kwargs)
        if name == "jensenshannon":
            axis = kw.pop("axis", 0)
            keepdims = kw.pop("keepdims", False)
            u, v = np.moveaxis(u, axis, -1), np.moveaxis(v, axis, -1)
            r = _metric(name, _floating(u), _floating(v), kw)
            return np.expand_dims(r, axis) if keepdims else r
        if name in ("seuclidean", "mahalanobis"):
            key = "V" if name == "seuclidean" else "VI"
            kw[key] = array_like(kw[key])
        return _metric(name, _floating(u), _floating(v), kw)

    distance.__name__ = distance.__qualname__ = name
    return distance


_POSITIONAL = {"euclidean": ("w",), "sqeuclidean": ("w",), "cityblock": ("w",), "minkowski": ("p", "w"),
               "chebyshev": ("w",), "cosine": ("w",), "correlation": ("w", "centered"),
               "braycurtis": ("w",), "canberra": ("w",), "seuclidean": ("V",), "mahalanobis": ("VI",),
               "jensenshannon": ("base",)}

for _f in (cdist, pdist, squareform):
    _exact(getattr(D, _f.__name__), _f)
for _name in _POSITIONAL:
    _exact(getattr(D, _name), _two(_name))
