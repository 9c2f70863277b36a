"""The structured cotangent of a Cholesky factor (its diagonal, solves with it) and the Cholesky
pullback that uses it: the same gradients as the dense formula, in every mode and order."""

import numpy as np
import pytest
import scipy.linalg as SL

import pullback as pb
from pullback.core import strip
from pullback.rules import factor_cotangent as fc
from pullback.rules import linalg_decomp, scipy_linalg_factor, shape
from pullback.testing import check_gradient

from .test_scipy_linalg import spd

N = fc.MIN_SIZE + 6  # large enough for the structured path


def _y(n, dtype=float, k=None, seed=0):
    rng = np.random.default_rng(seed)
    sh = (n,) if k is None else (n, k)
    y = rng.standard_normal(sh)
    if np.dtype(dtype).kind == "c":
        y = y + 1j * rng.standard_normal(sh)
    return y.astype(dtype)


def gp_loss(y, upper=False, how="numpy", w=None):
    """``Re <y, A^{-1} y> / 2 + sum(w * log diag L)``: the GP likelihood's two reads of the factor."""

    def f(a):
        if how == "scipy":
            c = SL.cholesky(a, lower=not upper)
        elif how == "cho_factor":
            c = SL.cho_factor(a, lower=not upper)[0]  # the other triangle holds a's entries
        else:
            c = np.linalg.cholesky(a, upper=upper)
        alpha = SL.cho_solve((c, not upper), y)
        d = np.real(np.diagonal(c))
        ld = np.log(d) if w is None else w * np.log(d)
        return 0.5 * np.real(np.sum(np.conj(y) * alpha)) + np.sum(ld)

    return f


@pytest.fixture
def taken(monkeypatch):
    """Counts the Cholesky pullbacks that took the structured path."""
    hits = []
    real = linalg_decomp.cholesky_vjp_structured

    def spy(g, ans, upper, **kwargs):
        r = real(g, ans, upper, **kwargs)
        hits.append(r is not None)
        return r

    monkeypatch.setattr(linalg_decomp, "cholesky_vjp_structured", spy)
    monkeypatch.setattr(scipy_linalg_factor, "cholesky_vjp_structured", spy)
    return hits


def _dense_only(monkeypatch):
    monkeypatch.setattr(shape, "MIN_SIZE", 10**9)
    monkeypatch.setattr(scipy_linalg_factor, "MIN_SIZE", 10**9)


@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("how", ["numpy", "scipy", "cho_factor"])
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_gp_loss_gradient(upper, how, dtype, taken):
    a = spd(N, dtype=dtype, seed=1)
    f = gp_loss(_y(N, dtype), upper=upper, how=how)
    check_gradient(f, a, n_directions=1)
    assert taken and all(taken)


@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
@pytest.mark.parametrize("how", ["numpy", "cho_factor"])
def test_matches_dense_formula(upper, dtype, how, monkeypatch):
    """Matrix right-hand side, log weights of both signs (two Gram products)."""
    a = spd(N, dtype=dtype, seed=2)
    w = np.where(np.arange(N) % 3 == 0, -1.5, 0.7)
    f = gp_loss(_y(N, dtype, k=3), upper=upper, w=w, how=how)
    fast = pb.gradient(f, a)[0]
    _dense_only(monkeypatch)
    slow = pb.gradient(f, a)[0]
    np.testing.assert_allclose(fast, slow, rtol=1e-10, atol=1e-12 * np.max(np.abs(slow)))


@pytest.mark.parametrize("which", ["diag", "solve"])
def test_one_read(which, taken):
    a = spd(N, seed=3)
    y = _y(N)

    def f(a):
        c = np.linalg.cholesky(a)
        if which == "diag":
            return np.sum(np.diagonal(c) ** 2)  # h = 2 L_ii^2
        return np.sum(y * SL.cho_solve((c, True), y))

    check_gradient(f, a, n_directions=1)
    assert taken == [True]


def test_float32(taken):
    a = spd(N, seed=4).astype(np.float32)
    f = gp_loss(_y(N, np.float32))
    g = pb.gradient(f, a)[0]
    assert g.dtype == np.float32
    ref = pb.gradient(gp_loss(_y(N)), a.astype(np.float64))[0]
    np.testing.assert_allclose(g, ref, rtol=2e-3, atol=2e-4 * np.max(np.abs(ref)))
    assert taken and all(taken)


def _theta_loss(n):
    rng = np.random.default_rng(5)
    pts = np.sort(rng.uniform(0, 3, n))
    d2 = (pts[:, None] - pts[None, :]) ** 2
    y = rng.standard_normal(n)

    def f(theta):
        K = np.exp(-d2 / theta[0] ** 2) + theta[1] * np.eye(n)
        L = np.linalg.cholesky(K)
        alpha = SL.cho_solve((L, True), y)
        return 0.5 * np.sum(y * alpha) + np.sum(np.log(np.diagonal(L)))

    return f


def test_w10_shape_first_and_second_order(taken):
    f = _theta_loss(N)
    theta = np.array([0.7, 0.3])
    check_gradient(f, theta)
    assert taken and all(taken)
    check_gradient(pb.grad(f), theta, rtol=1e-5)  # nested: traced cotangents take the dense path
    h = pb.hessian(f, theta)
    np.testing.assert_allclose(h, h.T, rtol=1e-8)


def test_batched_takes_dense_path(taken):
    a = spd(2, N, seed=6)
    y = _y(N)

    def f(a):
        c = np.linalg.cholesky(a)
        return np.sum(np.log(np.diagonal(c, axis1=-2, axis2=-1))) + np.sum(np.linalg.solve(a, y[:, None]))

    check_gradient(f, a, n_directions=1)
    assert not any(taken)


def test_other_consumers_materialize():
    """The diagonal's lazy cotangent added to dense ones, to an element read's sparse one, and
    consumed by a pullback that does not take it."""
    a = spd(N, seed=7)

    def f(a):
        c = np.linalg.cholesky(a)
        reads = c[3, 1] * c[5, 5] + np.sum(np.tanh(c))
        return np.sum(np.log(np.diagonal(c))) + reads + np.sum(np.diagonal(a) ** 2)

    check_gradient(f, a, n_directions=1)
    g = pb.gradient(lambda a: np.sum(np.diagonal(a) ** 3), a)[0]  # a leaf: the caller gets an array
    assert type(g) is np.ndarray
    np.testing.assert_allclose(g, np.diag(3 * np.diagonal(a) ** 2))


def test_factor_passed_elsewhere(taken):
    """cho_solve with a transposed factor (materialized: dense), and with cho_factor's packed one."""
    a = spd(N, seed=8)
    y = _y(N)

    def f(a):
        L = np.linalg.cholesky(a)
        return np.sum(y * SL.cho_solve((L.T, False), y)) + np.sum(np.log(np.diagonal(L)))

    check_gradient(f, a, n_directions=1)

    def g(a):
        c = SL.cho_factor(a, lower=True)
        return np.sum(y * SL.cho_solve(c, y)) + np.sum(np.log(np.diagonal(c[0])))

    check_gradient(g, a, n_directions=1)


def test_user_arrays_never_written():
    a = spd(N, seed=9)
    a0 = a.copy()
    y = _y(N)
    y0 = y.copy()
    seen = []

    def f(a):
        c = np.linalg.cholesky(a)
        seen.append((strip(c), strip(c).copy()))
        return np.sum(y * SL.cho_solve((c, True), y)) + np.sum(np.log(np.diagonal(c)))

    for upper in (False, True):
        pb.gradient(f, a)[0]
        pb.gradient(gp_loss(y, upper=upper), a)
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(y, y0)
    for c, c0 in seen:
        np.testing.assert_array_equal(c, c0)


@pytest.mark.parametrize("first", [True, False])
def test_lazy_meets_traced_cotangent(first):
    """Second order: a plain diagonal cotangent (lazy) and a traced one reach the same value."""
    a = np.random.default_rng(10).standard_normal((N, N))

    def f(a):
        d, c = 2 * np.sum(np.diagonal(a)), np.sum(a**3)
        return d + c if first else c + d

    check_gradient(pb.grad(f), a, n_directions=1)
