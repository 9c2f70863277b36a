"""scipy.special: ufuncs by their derivatives, and the patched Python functions (logsumexp, softmax, ...)."""

import inspect

import numpy as np
import pytest
import scipy.special as sc

import pullback as pb
from pullback.intercept import original
from pullback.rules import special
from pullback.testing import check_gradient

from .cases import case_id, rand

x = rand(3, 4)
pos = rand(3, 4, positive=True)
unit = np.tanh(rand(3, 4)) * 0.9
prob = (unit + 1) / 2
z = rand(3, 4, dtype=complex)
ORIG = special.ORIGINALS

CASES = [
    (sc.expit, sc.expit, (x,)),
    (sc.logit, sc.logit, (prob,)),
    (sc.log_expit, sc.log_expit, (x,)),
    (sc.erf, sc.erf, (z,)),
    (sc.erf, sc.erf, (x,)),
    (sc.erfc, sc.erfc, (z,)),
    (sc.erfinv, sc.erfinv, (unit,)),
    (sc.erfcinv, sc.erfcinv, (unit + 1,)),
    (sc.gammaln, sc.gammaln, (pos,)),
    (sc.digamma, sc.digamma, (pos,)),
    (sc.gamma, sc.gamma, (pos,)),
    (sc.gamma, sc.gamma, (0.3 * z + 2,)),
    (sc.xlogy, sc.xlogy, (x, pos)),
    (sc.xlogy, sc.xlogy, (z, z + 3)),
    (sc.xlog1py, sc.xlog1py, (x, pos)),
    (sc.polygamma, lambda a: sc.polygamma(2, a), (pos,)),
    (sc.polygamma, lambda a: sc.polygamma(np.array([0, 1, 2, 3]), a), (pos,)),
    (sc.logsumexp, sc.logsumexp, (x,)),
    (sc.logsumexp, lambda a: sc.logsumexp(a, axis=1), (x,)),
    (sc.logsumexp, lambda a: sc.logsumexp(a, axis=(0, 1), keepdims=True), (x,)),
    (sc.logsumexp, lambda a, b: sc.logsumexp(a, axis=0, b=b), (x, pos)),
    (sc.logsumexp, lambda a, b: sc.logsumexp(a, axis=-1, b=b, keepdims=True), (rand(4), pos)),
    (sc.logsumexp, lambda a, b: sc.logsumexp(a, axis=0, b=b, return_sign=True)[0], (x, x)),
    (sc.logsumexp, lambda a: sc.logsumexp(a, axis=0), (z,)),
    (sc.softmax, sc.softmax, (x,)),
    (sc.softmax, lambda a: sc.softmax(a, axis=0), (x,)),
    (sc.log_softmax, lambda a: sc.log_softmax(a, axis=1), (x,)),
]






@pytest.mark.parametrize("case", [c for c in CASES if c[0] is not sc.polygamma], ids=case_id)
def test_float32_stays_float32(case):
    _, f, args = case
    args32 = tuple(a.astype(np.complex64 if a.dtype.kind == "c" else np.float32) for a in args)
    assert np.result_type(pb.pullback(f, *args32)[0]) == np.result_type(f(*args32))
    check_gradient(f, *args32)


def test_derivatives():
    g = pb.gradient(lambda a: np.sum(sc.expit(a)), x)[0]
    np.testing.assert_allclose(g, sc.expit(x) * (1 - sc.expit(x)))
    g = pb.gradient(lambda a: np.sum(sc.gammaln(a)), pos)[0]
    np.testing.assert_allclose(g, sc.digamma(pos))
    g = pb.gradient(lambda a: sc.logsumexp(a), x)[0]
    np.testing.assert_allclose(g, sc.softmax(x))


def test_plain_calls_are_untouched():
    assert original(sc.logsumexp) is ORIG["logsumexp"]
    assert sc.logsumexp.__name__ == "logsumexp" and sc.logsumexp.__doc__ == ORIG["logsumexp"].__doc__
    assert inspect.signature(sc.logsumexp) == inspect.signature(ORIG["logsumexp"])
    import scipy.special._logsumexp as defining

    assert defining.logsumexp is sc.logsumexp
    for name, args, kwargs in [
        ("logsumexp", (x,), {}),
        ("logsumexp", (x,), {"axis": 0, "b": x, "return_sign": True}),
        ("logsumexp", ([1.0, 2.0],), {}),
        ("softmax", (x,), {"axis": 1}),
        ("log_softmax", (x.astype(np.float32),), {}),
        ("polygamma", (1, [2.0, 3.0]), {}),
    ]:
        got, want = getattr(sc, name)(*args, **kwargs), ORIG[name](*args, **kwargs)
        assert type(got) is type(want)
        np.testing.assert_array_equal(got, want)


def test_traced_keyword_argument():
    g = pb.gradient(lambda b: sc.logsumexp(x, b=b), pos)[0]
    e = np.exp(x)
    np.testing.assert_allclose(g, e / np.sum(pos * e))
    g = pb.gradient(lambda a: np.sum(sc.polygamma(n=1, x=a)), pos)[0]
    np.testing.assert_allclose(g, sc.polygamma(2, pos))


def test_logsumexp_is_stable():
    big = np.array([1000.0, 1000.0, -np.inf])
    g = pb.gradient(lambda a: sc.logsumexp(a), big)[0]
    np.testing.assert_allclose(g, [0.5, 0.5, 0.0])


def test_second_order():
    h = pb.hessian(lambda a: np.sum(sc.gammaln(a)), pos[0])
    np.testing.assert_allclose(h, np.diag(sc.polygamma(1, pos[0])))
    check_gradient(lambda a: pb.gradient(lambda a: sc.logsumexp(a, axis=1).sum(), a)[0], x)
    check_gradient(lambda a: pb.gradient(lambda a: np.sum(sc.expit(a) * sc.erf(a)), a)[0], x)
    check_gradient(lambda a: pb.gradient(lambda a: np.sum(sc.xlogy(a, a)), a)[0], pos)
