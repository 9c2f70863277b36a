"""scipy.spatial.distance: SciPy's values bit for bit, derivatives of every metric."""

import numpy as np
import pytest
import scipy.spatial.distance as D

import pullback as pb
from pullback.errors import NoRuleError
from pullback.testing import check_adjoint, check_gradient

from .cases import case_id

rng = np.random.default_rng(0)
XA = rng.random((5, 3)) + 0.1
XB = rng.random((4, 3)) + 0.1
W = rng.random(3) + 0.5

METRICS = [
    ("euclidean", {}), ("sqeuclidean", {}), ("cityblock", {}), ("chebyshev", {}), ("cosine", {}),
    ("correlation", {}), ("braycurtis", {}), ("canberra", {}), ("minkowski", {"p": 3.0}),
    ("minkowski", {"p": 1.5, "w": W}), ("euclidean", {"w": W}), ("sqeuclidean", {"w": W}),
    ("cityblock", {"w": W}), ("cosine", {"w": W}), ("correlation", {"w": W}), ("chebyshev", {"w": W}),
    ("seuclidean", {}), ("seuclidean", {"V": W}), ("mahalanobis", {}), ("jensenshannon", {}),
    ("canberra", {"w": W}), ("braycurtis", {"w": W}),
]

VI = np.linalg.inv(np.cov(np.random.default_rng(1).random((8, 3)).T))

_MORE = [  # weighted and parametrised forms, added to CASES below
    (D.cdist, lambda a, b: D.cdist(a, b, "cosine"), (XA, XB)),
    (D.pdist, lambda a: D.pdist(a, "minkowski", p=3.0), (XA,)),
    (D.squareform, lambda a: D.squareform(D.pdist(a)), (XA,)),
    (D.minkowski, lambda u, v: D.minkowski(u, v, 3.0, W), (XA[0], XB[1])),
    (D.seuclidean, lambda u, v, V: D.seuclidean(u, v, V), (XA[0], XB[1], W)),
    (D.mahalanobis, lambda u, v: D.mahalanobis(u, v, VI), (XA[0], XB[1])),
    (D.jensenshannon, lambda u, v: D.jensenshannon(u, v, 2.0), (XA[0], XB[1])),
] + [(getattr(D, name), lambda u, v, w, name=name: getattr(D, name)(u, v, w), (XA[0], XB[1], W))
     for name in ("euclidean", "sqeuclidean", "cityblock", "chebyshev", "cosine", "correlation",
                  "braycurtis", "canberra")]


CASES = [  # (registry key, f, args): every registered rule of this family, see cases.py
    (D.cdist, lambda a, b: D.cdist(a, b, "euclidean"), (XA, XB)),
    (D.pdist, lambda a: D.pdist(a, "cosine"), (XA,)),
    (D.squareform, lambda v: D.squareform(v), (D.pdist(XA),)),
    *[(getattr(D, n), (lambda n: lambda u, v: getattr(D, n)(u, v))(n), (XA[0], XB[1]))
      for n in ("braycurtis", "canberra", "chebyshev", "cityblock", "correlation", "cosine", "euclidean",
                "jensenshannon", "minkowski", "sqeuclidean")],
    (D.seuclidean, lambda u, v, V: D.seuclidean(u, v, V), (XA[0], XB[1], W)),
    (D.mahalanobis, lambda u, v, VI: D.mahalanobis(u, v, VI), (XA[0], XB[1], np.diag(W) + 0.1)),
    *_MORE,
]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_cases(case):
    _, f, args = case
    value, _ = pb.pullback(f, *args)
    same(value, f(*args))
    check_gradient(f, *args)


def same(a, b):
    a = pb.stop_gradient(a)
    assert type(a) is type(b) and np.shape(a) == np.shape(b) and np.result_type(a) == np.result_type(b)
    assert np.asarray(a).tobytes() == np.asarray(b).tobytes()


@pytest.mark.parametrize("metric,kw", METRICS, ids=[f"{m}-{sorted(k)}" for m, k in METRICS])
def test_cdist_and_pdist(metric, kw):
    if metric == "mahalanobis":  # SciPy's default VI needs more points than coordinates
        XA_, XB_ = rng.random((6, 3)), rng.random((5, 3))
    else:
        XA_, XB_ = XA, XB
    value, _ = pb.pullback(lambda a, b: D.cdist(a, b, metric, **kw), XA_, XB_)
    same(value, D.cdist(XA_, XB_, metric, **kw))
    check_gradient(lambda a, b: D.cdist(a, b, metric, **kw), XA_, XB_)
    value, _ = pb.pullback(lambda a: D.pdist(a, metric, **kw), XA_)
    same(value, D.pdist(XA_, metric, **kw))
    check_gradient(lambda a: D.pdist(a, metric, **kw), XA_)


def test_weights_and_parameters_differentiate():
    check_gradient(lambda w: D.cdist(XA, XB, "euclidean", w=w), W)
    check_gradient(lambda V: D.pdist(XA, "seuclidean", V=V), W)
    VI = np.linalg.inv(np.cov(rng.random((8, 3)).T))
    check_gradient(lambda VI: D.cdist(XA, XB, "mahalanobis", VI=VI), VI)


@pytest.mark.parametrize("name,extra", [
    ("euclidean", ()), ("sqeuclidean", ()), ("cityblock", ()), ("minkowski", (3.0,)), ("chebyshev", ()),
    ("cosine", ()), ("correlation", ()), ("braycurtis", ()), ("canberra", ()), ("seuclidean", (W,)),
    ("jensenshannon", ()), ("jensenshannon", (2.0,)),
])
def test_two_vector_distances(name, extra):
    u, v = XA[0], XB[1]
    f = getattr(D, name)
    value, _ = pb.pullback(lambda u, v: f(u, v, *extra), u, v)
    same(value, f(u, v, *extra))
    check_gradient(lambda u, v: f(u, v, *extra), u, v)


def test_a_zero_distance_has_a_zero_gradient_not_nan():
    g = pb.gradient(lambda X: np.sum(D.cdist(X, X)), XA)[0]
    assert np.all(np.isfinite(g))
    # the diagonal (each point to itself) contributes nothing; the rest is twice pdist's
    np.testing.assert_allclose(g, 2 * pb.gradient(lambda X: np.sum(D.pdist(X)), XA)[0], rtol=1e-12)


def test_squareform_is_linear_both_ways():
    v = D.pdist(XA)
    value, _ = pb.pullback(D.squareform, v)
    same(value, D.squareform(v))
    check_adjoint(D.squareform, v)
    M = D.squareform(v)
    value, _ = pb.pullback(D.squareform, M)
    same(value, D.squareform(M))
    check_adjoint(lambda m: D.squareform(m, checks=False), M)
    check_gradient(lambda X: D.squareform(D.pdist(X)) @ np.ones(5), XA)


def test_callable_and_boolean_metrics():
    f = lambda u, v: np.sqrt(np.sum((u - v) ** 2))  # noqa: E731
    value, _ = pb.pullback(lambda a, b: D.cdist(a, b, f), XA, XB)
    same(value, D.cdist(XA, XB, f))
    np.testing.assert_allclose(pb.jacobian(lambda a: D.cdist(a, XB, f), XA),
                               pb.jacobian(lambda a: D.cdist(a, XB), XA), rtol=1e-12)
    check_gradient(lambda a: D.pdist(a, f), XA)
    value, _ = pb.pullback(lambda a: D.pdist(a, "hamming"), XA)  # piecewise constant
    same(value, D.pdist(XA, "hamming"))
    assert pb.gradient(lambda a: np.sum(D.pdist(a, "hamming") * a[0, 0]), XA)[0][1, 0] == 0


def test_errors_are_scipys():
    with pytest.raises(ValueError) as plain:
        D.cdist(XA, XB[:, :2])
    with pytest.raises(ValueError) as traced:
        pb.gradient(lambda a: np.sum(D.cdist(a, XB[:, :2])), XA)
    assert str(traced.value) == str(plain.value)
    with pytest.raises(NoRuleError, match="out="):
        pb.gradient(lambda a: np.sum(D.cdist(a, XB, out=np.empty((5, 4)))), XA)


def test_gaussian_process_kernel_gradient_in_the_length_scale():
    X = rng.random((30, 2))
    y = np.sin(3 * X[:, 0]) + X[:, 1]

    def nll(log_l):
        K = np.exp(-D.cdist(X, X, "sqeuclidean") / (2 * np.exp(2 * log_l))) + 1e-2 * np.eye(30)
        L = np.linalg.cholesky(K)
        a = np.linalg.solve(K, y)
        return 0.5 * y @ a + np.sum(np.log(np.diag(L)))

    check_gradient(nll, np.array(-0.5))


def test_regressions_from_a_sweep():
    """float32 two-vector distances kept float64 values; squareform of an empty vector had shape
    (0, 0), not SciPy's (1, 1); a traced minkowski p raised 'unhashable'; a list V raised."""
    u, v = XA[0].astype(np.float32), XB[1].astype(np.float32)
    for name in ("sqeuclidean", "cityblock", "chebyshev", "cosine", "correlation", "jensenshannon"):
        value, _ = pb.pullback(lambda u: getattr(D, name)(u, v), u)
        same(value, getattr(D, name)(u, v))
    value, _ = pb.pullback(D.squareform, np.zeros(0))
    same(value, D.squareform(np.zeros(0)))
    check_gradient(lambda p: D.minkowski(XA[0], XB[1], p), 1.5)
    check_gradient(lambda p: D.cdist(XA, XB, "minkowski", p=p), 2.0)
    value, _ = pb.pullback(lambda a: D.cdist(a, XB, "seuclidean", V=[1.0, 2.0, 0.5]), XA)
    same(value, D.cdist(XA, XB, "seuclidean", V=[1.0, 2.0, 0.5]))
    with pytest.raises(NoRuleError, match="p = 0"):
        pb.gradient(lambda a: np.sum(D.cdist(a, XB, "minkowski", p=0)), XA)
