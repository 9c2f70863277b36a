"""Forward mode, Jacobians, Hessians and checkpointing across the rules (issue 5).

- perturbation confusion in every nesting of forward and reverse mode, with FFTs inside;
- Hessians of FFT losses (phase retrieval, an FNO layer) against finite differences of gradients;
- third derivatives; the Jacobian of every FFT function against its dense matrix, in both modes;
- ``jvp`` against ``pullback`` through the adjoint identity on random programs (hypothesis);
- forward-over-reverse (``hvp``) on a sample of every rule family's cases;
- ``checkpoint``: same gradients, nesting, forward mode, Hessians, keywords, containers, memory.
"""

from __future__ import annotations

import importlib
import tracemalloc

import numpy as np
import pytest
import scipy.fft
import scipy.special
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import pullback as pb
from pullback.testing import dense_matrix, real_dot

RNG = np.random.default_rng(20240605)


def rand(*shape, dtype=np.float64, rng=RNG):
    x = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return np.asarray(x).astype(dtype)


def d_fwd(f, x):
    """Derivative of ``f`` at ``x`` along ones (forward mode)."""
    return pb.jvp(f, (x,), (np.ones_like(x),))[1]


def d_rev(f, x):
    """Gradient of the real scalar ``f`` at ``x`` (reverse mode)."""
    return pb.gradient(f, x)[0]


D = {"fwd": d_fwd, "rev": d_rev}
NESTINGS = [(o, i) for o in D for i in D]  # (outer, inner): fwd-fwd, fwd-rev, rev-fwd, rev-rev


def fd_gradient_jacobian(L, args, k, eps=1e-6):
    """Finite differences of ``gradient(L, *args)`` along the real coordinates of argument ``k``.

    Returns one array per argument i, shaped ``args[i].shape + args[k].shape``.
    """
    args = [np.asarray(a) for a in args]
    x = args[k]
    cols = [[] for _ in args]
    for j in range(x.size):
        e = np.zeros(x.size, dtype=x.dtype)
        e[j] = eps
        plus, minus = list(args), list(args)
        plus[k] = x + e.reshape(x.shape)
        minus[k] = x - e.reshape(x.shape)
        gp, gm = pb.gradient(L, *plus), pb.gradient(L, *minus)
        for i in range(len(args)):
            cols[i].append(((np.asarray(gp[i]) - np.asarray(gm[i])) / (2 * eps)).ravel())
    return [np.stack(c, axis=-1).reshape(a.shape + x.shape) for c, a in zip(cols, args)]


def assert_close(got, want, rtol=1e-6, atol=1e-8):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol * scale)


# ================================================================ 1. perturbation confusion


@pytest.mark.parametrize("outer,inner", NESTINGS)
def test_perturbation_confusion_scalar(outer, inner):
    # d/dx [x * d/dy (x + y)] = d/dx [x] = 1 (a confused implementation answers 2)
    got = D[outer](lambda x: x * D[inner](lambda y: x + y, 1.0), 3.0)
    assert float(got) == pytest.approx(1.0)
    # d/dx [x * d/dy (x * y)] = d/dx [x^2] = 2x
    got = D[outer](lambda x: x * D[inner](lambda y: x * y, 2.0), 3.0)
    assert float(got) == pytest.approx(6.0)


@pytest.mark.parametrize("outer,inner", NESTINGS)
def test_perturbation_confusion_fft(outer, inner):
    # inner: d/dy sum|fft(x y)|^2 = 2 y N |x|^2 (Parseval); outer: L(x) = sum(x) * 2 N |x|^2 at y = 1
    x = rand(6)
    n = x.size

    def L(x):
        s = D[inner](lambda y: np.sum(np.abs(np.fft.fft(x * y)) ** 2), 1.0)
        return np.sum(x * s)

    grad = 2 * n * (2 * x * np.sum(x) + np.sum(x**2))  # d/dx [2N |x|^2 sum(x)]
    got = D[outer](L, x)
    want = grad if outer == "rev" else np.sum(grad)
    assert_close(got, want)


@pytest.mark.parametrize("outer,inner", NESTINGS)
def test_perturbation_confusion_rfft_first_bin(outer, inner):
    # inner: d/dy Re sum(fft(x * y)) = N x[0]; d/dy sum(irfft(rfft(x*y)*k)) = k[0] sum(x) (the DC filter)
    x = rand(7)
    k = rand(4) + 2.0
    n = x.size

    def L(x):
        a = D[inner](lambda y: np.real(np.sum(np.fft.fft(x * y))), 0.5)
        b = D[inner](lambda y: np.sum(np.fft.irfft(np.fft.rfft(x * y) * k, n=n)), 0.5)
        return np.sum(x * a) + np.sum(x * b)

    grad = n * (np.sum(x) * np.eye(n)[0] + x[0]) + k[0] * 2 * np.sum(x)  # d/dx [N x0 S + k0 S^2]
    got = D[outer](L, x)
    assert_close(got, grad if outer == "rev" else np.sum(grad))


@pytest.mark.parametrize("outer", ["fwd", "rev"])
def test_perturbation_confusion_array_inner_gradient(outer):
    # G(x) = d/dy sum|fft(x*y)|^2 at y0 = 2N x^2 y0, so L(x) = sum(x * G(x)) = 2N sum(x^3 y0)
    x, y0, v = rand(5), rand(5), rand(5)
    n = x.size

    def L(x):
        return np.sum(x * pb.gradient(lambda y: np.sum(np.abs(np.fft.fft(x * y)) ** 2), y0)[0])

    grad = 6 * n * x**2 * y0
    if outer == "rev":
        assert_close(pb.gradient(L, x)[0], grad)
    else:
        assert_close(pb.jvp(L, (x,), (v,))[1], np.sum(grad * v))


def test_perturbation_confusion_three_levels():
    # d/dx [x * d/dy [y * d/dz (x + y + z)]] = d/dx [x] = 1, through all three kinds of level
    def inner(x, y):
        return y * d_fwd(lambda z: x + y + z, 1.0)

    assert float(d_rev(lambda x: x * d_fwd(lambda y: inner(x, y), 2.0), 3.0)) == pytest.approx(1.0)
    assert float(d_fwd(lambda x: x * d_rev(lambda y: inner(x, y), 2.0), 3.0)) == pytest.approx(1.0)


# ================================================================ 2. Hessians of FFT losses


def phase_retrieval(m):
    def L(x):
        return np.sum((np.abs(np.fft.fft2(x)) - m) ** 2)

    return L


def fno_layer(x, W):
    """One Fourier layer: rfft2, keep the low (k1, k2) modes, weight, irfft2 (zero-padded), tanh."""
    n1, n2 = x.shape[-2:]
    k1, k2 = W.shape
    X = np.fft.rfft2(x)
    Y = X[..., :k1, :k2] * W
    return np.tanh(np.fft.irfft2(Y, s=(n1, n2)) + 0.5 * x)


def fno_layer_setitem(x, W):
    """The same layer, padding the kept modes back by assignment into a traced buffer."""
    n1, n2 = x.shape[-2:]
    k1, k2 = W.shape
    X = np.fft.rfft2(x)
    Z = np.zeros_like(X)
    Z[..., :k1, :k2] = X[..., :k1, :k2] * W
    return np.tanh(np.fft.irfft2(Z, s=(n1, n2)) + 0.5 * x)


X_PR = rand(6, 5)
M_PR = np.abs(np.fft.fft2(rand(6, 5))) + 0.1
X_FNO = rand(2, 6, 6)
W_FNO = rand(3, 2, dtype=complex)
T_FNO = rand(2, 6, 6)


def fno_loss(x, W):
    return np.sum((fno_layer(x, W) - T_FNO) ** 2)


def test_hessian_phase_retrieval_float64():
    L = phase_retrieval(M_PR)
    H = pb.hessian(L, X_PR)
    assert H.shape == X_PR.shape * 2 and H.dtype == np.float64
    (fd,) = fd_gradient_jacobian(L, [X_PR], 0)
    assert_close(H, fd, rtol=1e-5, atol=1e-6)
    Hm = H.reshape(X_PR.size, -1)
    assert_close(Hm, Hm.T, rtol=1e-10, atol=1e-12)


def test_hessian_phase_retrieval_complex_input():
    # for complex x the Hessian is d(gradient)/d Re(x); its imaginary directions come from hvp
    z = rand(4, 3, dtype=complex)
    m = np.abs(np.fft.fft2(rand(4, 3, dtype=complex)))
    L = phase_retrieval(m)
    H = pb.hessian(L, z)
    assert H.shape == z.shape * 2 and H.dtype == np.complex128
    (fd,) = fd_gradient_jacobian(L, [z], 0)
    assert_close(H, fd, rtol=1e-5, atol=1e-6)
    v = rand(4, 3, dtype=complex)
    (hv,) = pb.hvp(L, (z,), (v,))
    eps = 1e-6
    fd_v = (pb.gradient(L, z + eps * v)[0] - pb.gradient(L, z - eps * v)[0]) / (2 * eps)
    assert_close(hv, fd_v, rtol=1e-5, atol=1e-6)


def test_hessian_phase_retrieval_float32():
    L = phase_retrieval(M_PR.astype(np.float32))
    x32 = X_PR.astype(np.float32)
    H32 = pb.hessian(L, x32)
    assert H32.dtype == np.float32
    H64 = pb.hessian(phase_retrieval(M_PR), x32.astype(np.float64))
    assert_close(H32, H64, rtol=2e-3, atol=2e-4)


@pytest.mark.parametrize("layer", [fno_layer, fno_layer_setitem], ids=["slice", "setitem"])
def test_hessian_fno_float64(layer):
    def L(x):
        return np.sum((layer(x, W_FNO) - T_FNO) ** 2)

    H = pb.hessian(L, X_FNO)
    assert H.shape == X_FNO.shape * 2
    (fd,) = fd_gradient_jacobian(L, [X_FNO], 0)
    assert_close(H, fd, rtol=1e-5, atol=1e-6)


def test_hessian_fno_float32():
    x32, W32 = X_FNO.astype(np.float32), W_FNO.astype(np.complex64)
    t32 = T_FNO.astype(np.float32)

    def L(x):
        return np.sum((fno_layer(x, W32) - t32) ** 2)

    H32 = pb.hessian(L, x32)
    assert H32.dtype == np.float32
    W_hi, t_hi = W32.astype(np.complex128), t32.astype(np.float64)
    (fd,) = fd_gradient_jacobian(
        lambda x: np.sum((fno_layer(x, W_hi) - t_hi) ** 2), [x32.astype(np.float64)], 0
    )
    assert_close(H32, fd, rtol=2e-3, atol=2e-4)


def test_hessian_two_arguments_fno():
    H = pb.hessian(fno_loss, X_FNO, W_FNO)
    assert isinstance(H, tuple) and len(H) == 2 and all(len(r) == 2 for r in H)
    shapes = [X_FNO.shape, W_FNO.shape]
    for i in range(2):
        for j in range(2):
            assert H[i][j].shape == shapes[i] + shapes[j]
    for j in range(2):
        fd = fd_gradient_jacobian(fno_loss, [X_FNO, W_FNO], j)
        for i in range(2):
            assert_close(H[i][j], fd[i], rtol=1e-5, atol=1e-6)
    # symmetry of the real-real block and of the mixed x / Re(W) blocks
    Hxx = H[0][0].reshape(X_FNO.size, -1)
    assert_close(Hxx, Hxx.T, rtol=1e-10, atol=1e-12)
    assert_close(
        H[0][1].reshape(X_FNO.size, W_FNO.size),
        np.real(H[1][0]).reshape(W_FNO.size, X_FNO.size).T,
        rtol=1e-8,
        atol=1e-10,
    )


def test_hvp_matches_hessian_times_v():
    H = pb.hessian(fno_loss, X_FNO, W_FNO)
    vx, vW = rand(*X_FNO.shape), rand(*W_FNO.shape)  # real directions for W (what H's columns mean)
    hx, hW = pb.hvp(fno_loss, (X_FNO, W_FNO), (vx, vW.astype(complex)))
    want_x = np.tensordot(H[0][0], vx, axes=vx.ndim) + np.tensordot(H[0][1], vW, axes=vW.ndim)
    want_W = np.tensordot(H[1][0], vx, axes=vx.ndim) + np.tensordot(H[1][1], vW, axes=vW.ndim)
    assert_close(hx, want_x, rtol=1e-9, atol=1e-11)
    assert_close(hW, want_W, rtol=1e-9, atol=1e-11)
    # a complex direction for W: against finite differences of the gradient
    vWc = rand(*W_FNO.shape, dtype=complex)
    hx, hW = pb.hvp(fno_loss, (X_FNO, W_FNO), (vx, vWc))
    eps = 1e-6
    gp = pb.gradient(fno_loss, X_FNO + eps * vx, W_FNO + eps * vWc)
    gm = pb.gradient(fno_loss, X_FNO - eps * vx, W_FNO - eps * vWc)
    assert_close(hx, (gp[0] - gm[0]) / (2 * eps), rtol=1e-5, atol=1e-6)
    assert_close(hW, (gp[1] - gm[1]) / (2 * eps), rtol=1e-5, atol=1e-6)


def test_hessian_python_scalar_and_dtypes():
    assert float(pb.hessian(lambda x: x**3, 2.0)) == pytest.approx(12.0)
    H = pb.hessian(lambda x: np.sum(np.sin(x) ** 2), np.ones(3, np.float32))
    assert H.dtype == np.float32 and H.shape == (3, 3)


# ================================================================ 3. third derivatives

A3 = 0.7  # f(x) = exp(a x) sin x = Im exp((a + i) x), so f^(n) = Im((a + i)^n exp((a + i) x))


def f3(x):
    return np.exp(A3 * x) * np.sin(x)


def f3_third(x):
    return float(np.imag((A3 + 1j) ** 3 * np.exp((A3 + 1j) * x)))


@pytest.mark.parametrize("route", ["rrr", "ffr", "frf", "rff", "fff", "jacobian-of-hessian"])
def test_third_derivative_scalar(route):
    x0 = 0.4
    if route == "jacobian-of-hessian":
        T = pb.jacobian(lambda x: pb.hessian(lambda y: np.sum(f3(y)), x), np.array([x0]))
        got = T[0, 0, 0]
    else:
        ops = [D["fwd" if c == "f" else "rev"] for c in route]
        g = f3
        for op in reversed(ops):
            g = (lambda h, op: lambda x: op(h, x))(g, op)
        got = g(x0)
    assert float(got) == pytest.approx(f3_third(x0), rel=1e-10)


def test_third_derivative_through_fft():
    # h(x) = Re sum(fft(exp(x c)) * k) = Re sum(exp(x c) * fft(k)) (the DFT matrix is symmetric)
    c, k = rand(8), rand(8, dtype=complex)
    x0 = 0.3

    def h(x):
        return np.real(np.sum(np.fft.fft(np.exp(x * c)) * k))

    want = float(np.real(np.sum(c**3 * np.exp(x0 * c) * np.fft.fft(k))))
    assert float(d_rev(lambda x: d_rev(lambda y: d_rev(h, y), x), x0)) == pytest.approx(want, rel=1e-9)
    assert float(d_fwd(lambda x: d_fwd(lambda y: d_rev(h, y), x), x0)) == pytest.approx(want, rel=1e-9)
    assert float(d_rev(lambda x: d_fwd(lambda y: d_fwd(h, y), x), x0)) == pytest.approx(want, rel=1e-9)

    # through a real spectral filter: s(x) = sum(irfft(rfft(sin(x c)) * kr)) is linear in sin(x c)
    kr = rand(5, dtype=complex)

    def s(x):
        return np.sum(np.fft.irfft(np.fft.rfft(np.sin(x * c)) * kr, n=8))

    want = float(np.sum(np.fft.irfft(np.fft.rfft(-(c**3) * np.cos(x0 * c)) * kr, n=8)))
    assert float(d_fwd(lambda x: d_rev(lambda y: d_rev(s, y), x), x0)) == pytest.approx(want, rel=1e-9)


def test_gradient_of_jacobian_stays_traced():
    # jacobian nested inside a derivative must not drop the outer level (it used to return zeros)
    x = rand(3)
    g = pb.gradient(lambda x: np.sum(pb.jacobian(lambda y: np.sin(y) * y, x)), x)[0]
    assert_close(g, 2 * np.cos(x) - x * np.sin(x))
    gr = pb.gradient(lambda x: np.sum(pb.jacobian(lambda y: np.sin(y) * y, x, mode="reverse")), x)[0]
    assert_close(gr, g)


# ================================================================ 4. Jacobians of FFT functions

Z6 = rand(6, dtype=complex)
Z34 = rand(3, 4, dtype=complex)
C2C = [
    (np.fft.fft, Z6),
    (np.fft.ifft, Z6),
    (np.fft.fftn, Z34),
    (np.fft.ifftn, Z34),
    (np.fft.fft2, Z34),
    (np.fft.ifft2, Z34),
    (lambda a: np.fft.fft(a, n=8, norm="ortho"), Z6),
    (lambda a: np.fft.ifft2(a, s=(2, 5), norm="forward"), Z34),
]


@pytest.mark.parametrize("mode", ["forward", "reverse"])
@pytest.mark.parametrize("case", C2C, ids=lambda c: getattr(c, "__name__", None))
def test_jacobian_of_c_linear_fft_is_its_matrix(case, mode):
    f, x = case
    y = f(x)
    cols = []
    for j in range(x.size):
        e = np.zeros(x.size, complex)
        e[j] = 1
        cols.append(np.ravel(f(e.reshape(x.shape))))
    M = np.stack(cols, axis=1).reshape(y.shape + x.shape)  # column j is f(e_j)
    J = pb.jacobian(f, x, mode=mode)
    assert J.dtype == np.complex128
    assert_close(J, M, rtol=1e-12, atol=1e-13)


X7 = rand(7)
X8 = rand(8)
H4 = rand(4, dtype=complex)
REAL_LINEAR = [
    (np.fft.rfft, X7),
    (lambda a: np.fft.rfft(a, n=10, norm="ortho"), X7),
    (np.fft.ihfft, X8),
    (np.fft.irfft, H4),
    (lambda a: np.fft.irfft(a, n=7, norm="forward"), H4),
    (np.fft.hfft, H4),
    (scipy.fft.dct, X7),
    (lambda a: scipy.fft.dct(a, type=1, norm="ortho"), X7),
    (lambda a: scipy.fft.dct(a, type=3, n=9), X7),
    (lambda a: scipy.fft.dct(a, type=4, norm="forward"), X8),
    (scipy.fft.dst, X7),
    (lambda a: scipy.fft.dst(a, type=1), X7),
    (lambda a: scipy.fft.dst(a, type=3, norm="ortho", orthogonalize=False), X8),
    (lambda a: scipy.fft.dst(a, type=4), X8),
    (lambda a: scipy.fft.dctn(a.reshape(2, 4), type=2, norm="ortho"), X8),
]


def _real_rows(J, y_shape):
    """``J`` (``y_shape + x_shape``) with outputs in real coordinates: [Re rows; Im rows] for complex y."""
    Jm = J.reshape(int(np.prod(y_shape)), -1)
    return np.concatenate([Jm.real, Jm.imag]) if np.iscomplexobj(J) else Jm


@pytest.mark.parametrize("mode", ["forward", "reverse"])
@pytest.mark.parametrize("case", REAL_LINEAR, ids=lambda c: getattr(c, "__name__", None))
def test_jacobian_of_real_linear_transform(case, mode):
    # dense_matrix(f, x) is the real-coordinate matrix M: rows [Re y; Im y], columns [Re x; Im x].
    # jacobian(f, x) is d y / d Re(x): for real x, [Re J; Im J] == M; for complex x (irfft, hfft),
    # J == M[:, :n] (real y, so J is real) and d y / d Im(x) == M[:, n:] is the Jacobian of u -> f(i u).
    f, x = case
    y = np.asarray(f(x))
    M = dense_matrix(f, x)
    J = pb.jacobian(f, x, mode=mode)
    assert J.shape == y.shape + x.shape
    assert J.dtype.kind == y.dtype.kind  # a real output gets a real Jacobian, a complex one complex
    if x.dtype.kind == "c":
        n = x.size
        assert_close(_real_rows(J, y.shape), M[:, :n], rtol=1e-12, atol=1e-13)
        Ji = pb.jacobian(lambda u: f(1j * u), np.real(x), mode=mode)
        assert_close(_real_rows(Ji, y.shape), M[:, n:], rtol=1e-12, atol=1e-13)
    else:
        assert_close(_real_rows(J, y.shape), M, rtol=1e-12, atol=1e-13)


def test_jacobian_several_arguments_and_modes_agree():
    x, w = rand(5), rand(3, dtype=complex)

    def f(x, w):
        return np.fft.rfft(np.sin(x)) * np.concatenate([w, w[:0] + 1.0])

    Jf = pb.jacobian(f, x, w, mode="forward")
    Jr = pb.jacobian(f, x, w, mode="reverse")
    assert isinstance(Jf, tuple) and len(Jf) == 2
    for a, b in zip(Jf, Jr):
        assert_close(a, b, rtol=1e-12, atol=1e-13)
    with pytest.raises(ValueError, match="mode"):
        pb.jacobian(f, x, w, mode="sideways")


# ================================================================ 5. jvp vs pullback on random programs


def _const(rng, shape, complex_):
    c = rng.standard_normal(shape)
    if complex_:
        c = c + 1j * rng.standard_normal(shape)
    return c


def _op(name, a, rng):
    """A closure for op ``name`` given the (plain) current value ``a``; None if it does not apply."""
    last = a.shape[-1] if a.ndim else 1
    if name == "sin":
        return np.sin
    if name == "exp":
        return lambda v: np.exp(0.3 * v)
    if name == "mul_const":
        c = _const(rng, a.shape, rng.random() < 0.5)
        return lambda v: v * c
    if name == "square":
        return lambda v: v * v
    if name == "fft":
        return lambda v: np.fft.fft(v, axis=-1)
    if name == "ifft":
        return lambda v: np.fft.ifft(v, axis=0, norm="ortho")
    if name == "rfft_irfft":
        k = _const(rng, last // 2 + 1, True)
        return lambda v: np.fft.irfft(np.fft.rfft(np.real(v), axis=-1) * k, n=last, axis=-1)
    if name == "sum":
        if a.ndim > 1:
            return lambda v: np.sum(v, axis=0)
        return (lambda v: np.sum(v, keepdims=True) * np.ones(3)) if a.size > 1 else None
    if name == "reshape":
        if a.ndim > 1:
            return lambda v: np.reshape(v, (-1,))
        return (lambda v: np.reshape(v, (2, -1))) if a.size % 2 == 0 else None
    if name == "slice":
        if last > 2:
            return lambda v: v[..., 1::2]
        return (lambda v: v[::-1]) if a.ndim else None
    if name == "abs2":
        return lambda v: np.abs(v) ** 2
    if name == "matmul":
        C = _const(rng, (last, 4), rng.random() < 0.5)
        return lambda v: v @ C
    if name == "dot":
        C = _const(rng, (last, 3), rng.random() < 0.5)
        return lambda v: np.dot(v, C)
    if name == "concat":
        return lambda v: np.concatenate([v, np.sin(v)], axis=-1)
    if name == "where":
        mask = rng.random(a.shape) < 0.5
        return lambda v: np.where(mask, v, 0.5 * v * v)
    if name == "where_data":
        return lambda v: np.where(np.real(v) > 0, v, np.sin(v))
    if name == "dct":
        kind = int(rng.integers(2, 5)) if last < 2 else int(rng.integers(1, 5))
        norm = [None, "ortho", "forward"][int(rng.integers(0, 3))]
        return lambda v: scipy.fft.dct(v, type=kind, norm=norm, axis=-1)
    raise AssertionError(name)


OPS = [
    "sin", "exp", "mul_const", "square", "fft", "ifft", "rfft_irfft", "sum", "reshape",
    "slice", "abs2", "matmul", "dot", "concat", "where", "where_data", "dct",
]  # fmt: skip


def _tame(a):
    return bool(np.all(np.isfinite(a))) and float(np.max(np.abs(a), initial=0.0)) < 1e6


def build_program(names, x, seed):
    """The program and whether every intermediate (and every discarded ``where`` branch) stays tame.

    An overflow in a branch that ``where`` discards gives ``0 * inf = nan`` in reverse mode but a
    finite tangent in forward mode (as in every AD system), so such programs are not compared.
    """
    rng = np.random.default_rng(seed)
    a = x
    steps = []
    tame = True
    with np.errstate(all="ignore"):
        for name in names:
            op = _op(name, a, rng)
            if op is None:
                continue
            steps.append(op)
            if name == "where_data":
                tame = tame and _tame(np.sin(a))
            a = op(a)
            tame = tame and _tame(a)

    def program(v):
        for op in steps:
            v = op(v)
        return v

    program.tame = tame
    return program


@settings(max_examples=40, deadline=None)
@given(
    names=st.lists(st.sampled_from(OPS), min_size=1, max_size=6),
    complex_input=st.booleans(),
    shape=st.sampled_from([(4, 6), (3, 5), (2, 3, 4), (7,)]),
    seed=st.integers(0, 2**16),
)
def test_jvp_agrees_with_pullback_on_random_programs(names, complex_input, shape, seed):
    rng = np.random.default_rng(seed + 1)
    x = 0.7 * _const(rng, shape, complex_input)
    program = build_program(names, x, seed)
    assume(program.tame)  # no overflow in iterated sin / exp / square
    y = np.asarray(program(x))
    t = _const(rng, x.shape, complex_input)
    value, tout = pb.jvp(program, (x,), (t,))
    np.testing.assert_allclose(np.asarray(value), y, rtol=1e-12, atol=1e-12)
    assert np.shape(tout) == y.shape
    g = _const(rng, y.shape, y.dtype.kind == "c")
    value2, back = pb.pullback(program, x)
    (ct,) = back(g)
    assert np.shape(ct) == x.shape and np.result_type(ct) == x.dtype
    lhs = real_dot(tout, g)  # Re <J t, g>
    rhs = real_dot(t, ct)  # Re <t, J^H g>
    scale = float(np.sum(np.abs(tout) * np.abs(g))) + float(np.sum(np.abs(t) * np.abs(ct))) + 1.0
    assert abs(lhs - rhs) <= 1e-9 * scale, (names, lhs, rhs)


# ================================================================ 6. forward-over-reverse on every family

FAMILIES = [
    "creation",
    "elementwise",
    "fft",
    "indexing",
    "linalg",
    "reductions",
    "scipy_fft",
    "shape",
    "special",
]
PER_FAMILY = 4  # about 30-36 cases in all, spread over each family's list


def _sample_cases():
    out = []
    for fam in FAMILIES:
        mod = importlib.import_module(f"tests.rules.test_{fam}")
        cases = list(mod.CASES)
        step = max(1, len(cases) // PER_FAMILY)
        for i, (key, f, args) in enumerate(cases[::step][:PER_FAMILY]):
            name = getattr(key, "__name__", None) or (
                f"{key[0].__name__}.{key[1]}" if isinstance(key, tuple) else str(key)
            )
            out.append(pytest.param(f, args, id=f"{fam}-{name}-{i}"))
    return out


def _hi(a):
    if isinstance(a, (float, complex, int, bool, np.bool_)) or not hasattr(a, "dtype"):
        return a
    a = np.asarray(a)
    if a.dtype.kind == "c":
        return a.astype(np.complex128)
    if a.dtype.kind == "f":
        return a.astype(np.float64)
    return a


@pytest.mark.parametrize("f,args", _sample_cases())
def test_hvp_on_rule_families(f, args):
    args = [_hi(a) for a in args]
    diff = [i for i, a in enumerate(args) if np.result_type(a).kind in "fc" and not isinstance(a, bool)]
    if not diff:
        pytest.skip("no differentiable argument")
    y = np.asarray(f(*args))
    if y.dtype.kind not in "fc":
        pytest.skip("integer output")

    def L(*a):
        y = f(*a)
        return np.sum(np.real(y * np.conj(y)))  # smooth, unlike abs(y)**2 at y == 0

    rng = np.random.default_rng(7)
    vs = []
    for i, a in enumerate(args):
        if i in diff:
            vs.append(_const(rng, np.shape(a), np.result_type(a).kind == "c"))
        else:
            vs.append(np.zeros(np.shape(a)))
    hv = pb.hvp(L, tuple(args), tuple(vs))
    eps = 1e-6

    def shifted(s):
        return [a + s * eps * v if i in diff else a for i, (a, v) in enumerate(zip(args, vs))]

    gp, gm = pb.gradient(L, *shifted(1)), pb.gradient(L, *shifted(-1))
    for i in diff:
        fd = (np.asarray(gp[i]) - np.asarray(gm[i])) / (2 * eps)
        assert np.shape(hv[i]) == np.shape(args[i])
        assert_close(hv[i], fd, rtol=1e-5, atol=1e-5)


def test_second_derivative_of_gamma_at_complex_input():
    # regression: digamma's derivative called SciPy's polygamma, which rejects complex input
    z = np.array([1.5 + 0.5j, 2.0 - 0.3j])
    v = np.array([1.0 + 0.5j, -0.2 + 1.0j])

    def L(z):
        return np.sum(np.abs(scipy.special.gamma(z)) ** 2)

    (hv,) = pb.hvp(L, (z,), (v,))
    eps = 1e-6
    fd = (pb.gradient(L, z + eps * v)[0] - pb.gradient(L, z - eps * v)[0]) / (2 * eps)
    assert_close(hv, fd, rtol=1e-5, atol=1e-6)


# ================================================================ 7. checkpoint


def spectral_block(x, k):
    return np.tanh(np.fft.irfft(np.fft.rfft(x) * k, n=x.shape[-1]))


def spectral_chain(block, depth):
    def L(x, k):
        for _ in range(depth):
            x = block(x, k)
        return np.sum(x**2)

    return L


XC = rand(32)
KC = np.exp(-np.arange(17) / 6.0) * (1 + 0.3j)


def test_checkpoint_same_gradient_as_plain():
    plain = spectral_chain(spectral_block, 6)
    ck = spectral_chain(pb.checkpoint(spectral_block), 6)
    g0 = pb.gradient(plain, XC, KC)
    g1 = pb.gradient(ck, XC, KC)
    for a, b in zip(g0, g1):
        assert type(a) is type(b) and a.dtype == b.dtype
        assert_close(b, a, rtol=1e-12, atol=1e-14)
    v0, back0 = pb.pullback(plain, XC, KC)
    v1, back1 = pb.pullback(ck, XC, KC)
    assert float(v0) == pytest.approx(float(v1))
    assert_close(back1(2.0)[0], back0(2.0)[0], rtol=1e-12)
    assert_close(back1(2.0)[0], back1(2.0)[0])  # back may be called twice


def test_checkpoint_nested():
    inner = pb.checkpoint(spectral_block)

    @pb.checkpoint
    def segment(x, k):
        for _ in range(3):
            x = inner(x, k)
        return x

    plain = spectral_chain(spectral_block, 6)
    g0 = pb.gradient(plain, XC, KC)
    g1 = pb.gradient(spectral_chain(segment, 2), XC, KC)
    for a, b in zip(g0, g1):
        assert_close(b, a, rtol=1e-12, atol=1e-14)


def test_checkpoint_forward_mode_and_hessian():
    plain = spectral_chain(spectral_block, 3)
    ck = spectral_chain(pb.checkpoint(spectral_block), 3)
    x, k = XC[:8], KC[:5]
    t = rand(8)
    v0, t0 = pb.jvp(plain, (x, k), (t, np.zeros_like(k)))
    v1, t1 = pb.jvp(ck, (x, k), (t, np.zeros_like(k)))
    assert float(v0) == pytest.approx(float(v1)) and float(t0) == pytest.approx(float(t1), rel=1e-12)
    H0 = pb.hessian(lambda x: plain(x, k), x)
    H1 = pb.hessian(lambda x: ck(x, k), x)
    assert_close(H1, H0, rtol=1e-10, atol=1e-12)
    # reverse-over-reverse and reverse-over-forward through a checkpoint
    gg0 = pb.gradient(lambda x: np.sum(pb.gradient(plain, x, k)[0] ** 2), x)[0]
    gg1 = pb.gradient(lambda x: np.sum(pb.gradient(ck, x, k)[0] ** 2), x)[0]
    assert_close(gg1, gg0, rtol=1e-10, atol=1e-12)
    rf0 = pb.gradient(lambda x: pb.jvp(lambda y: plain(y, k), (x,), (t,))[1], x)[0]
    rf1 = pb.gradient(lambda x: pb.jvp(lambda y: ck(y, k), (x,), (t,))[1], x)[0]
    assert_close(rf1, rf0, rtol=1e-10, atol=1e-12)


def test_checkpoint_keyword_arguments():
    def block(x, *, k, scale=1.0, name="unused"):
        assert isinstance(name, str)
        return spectral_block(x, k) * scale

    ck = pb.checkpoint(block)

    def L(blk, x, k, s):
        return np.sum(blk(blk(x, k=k, scale=s), k=k, name="static") ** 2)

    for s in (1.5, np.array(1.5)):
        g0 = pb.gradient(lambda x, k, s: L(block, x, k, s), XC, KC, s)
        g1 = pb.gradient(lambda x, k, s: L(ck, x, k, s), XC, KC, s)
        for a, b in zip(g0, g1):
            assert not isinstance(b, pb.core.Tracer)
            assert_close(b, a, rtol=1e-12, atol=1e-14)
        t0 = pb.jvp(lambda x, s: L(block, x, KC, s), (XC, s), (XC, 1.0))[1]
        t1 = pb.jvp(lambda x, s: L(ck, x, KC, s), (XC, s), (XC, 1.0))[1]
        assert float(t1) == pytest.approx(float(t0), rel=1e-12)


def test_checkpoint_containers_in_and_out():
    def block(params, x):
        y = spectral_block(x, params["k"])
        return y * params["a"], np.sum(y)

    ck = pb.checkpoint(block)

    def L(blk, x, k, a):
        y, s = blk({"k": k, "a": a}, x)
        return np.sum(y**2) + s**2

    a = rand(32)
    g0 = pb.gradient(lambda x, k, a: L(block, x, k, a), XC, KC, a)
    g1 = pb.gradient(lambda x, k, a: L(ck, x, k, a), XC, KC, a)
    for p, q in zip(g0, g1):
        assert_close(q, p, rtol=1e-12, atol=1e-14)
    t = rand(32)
    t0 = pb.jvp(lambda x: L(block, x, KC, a), (XC,), (t,))[1]
    t1 = pb.jvp(lambda x: L(ck, x, KC, a), (XC,), (t,))[1]
    assert float(t1) == pytest.approx(float(t0), rel=1e-12)
    # untraced call: the plain function
    y, s = ck({"k": KC, "a": a}, XC)
    np.testing.assert_array_equal(y, block({"k": KC, "a": a}, XC)[0])


def test_checkpoint_closure_over_traced_value_raises():
    def L(x, w):
        return np.sum(pb.checkpoint(lambda x: np.sin(x * w))(x))

    with pytest.raises(TypeError, match="closure"):
        pb.gradient(L, XC, XC)
    with pytest.raises(TypeError, match="closure"):
        pb.jvp(L, (XC, XC), (XC, XC))
    # a closure over a constant is fine
    w = rand(32)
    g = pb.gradient(lambda x: np.sum(pb.checkpoint(lambda x: np.sin(x * w))(x)), XC)[0]
    assert_close(g, w * np.cos(XC * w))


def _peak_bytes(fn):
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        out = fn()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    del out
    return peak


def test_checkpoint_reduces_peak_memory():
    n, depth = 2**14, 24
    x = rand(n)
    k = np.exp(-np.arange(n // 2 + 1) / n)
    plain = spectral_chain(spectral_block, depth)
    ck = spectral_chain(pb.checkpoint(spectral_block), depth)
    g0 = pb.gradient(plain, x, k)
    g1 = pb.gradient(ck, x, k)
    assert_close(g1[0], g0[0], rtol=1e-10)
    p0 = _peak_bytes(lambda: pb.gradient(plain, x, k))
    p1 = _peak_bytes(lambda: pb.gradient(ck, x, k))
    # plain: each block keeps what its pullbacks read — tanh's output, and the spectrum
    # (needed for k's gradient): two signals; checkpointed: only the block's input
    assert p1 < 0.75 * p0, (p0 / 8 / n, p1 / 8 / n)


# ================================================================ jvp / hvp on argument trees


def test_jvp_and_hvp_on_trees_and_dtypes():
    x, y = rand(3), rand(3)
    value, t = pb.jvp(lambda p: p["a"] * p["b"], ({"a": x, "b": y},), ({"a": np.ones(3), "b": None},))
    assert_close(value, x * y)
    assert_close(t, y)
    (hv,) = pb.hvp(lambda p: np.sum(p[0] ** 2 * p[1]), ((x, y),), ((np.ones(3), np.zeros(3)),))
    assert_close(hv[0], 2 * y)
    assert_close(hv[1], 2 * x)
    _, t32 = pb.jvp(np.fft.rfft, (x.astype(np.float32),), (np.ones(3),))  # float64 tangent is cast
    assert t32.dtype == np.complex64
    _, (t_int, t_const) = pb.jvp(lambda a: (np.argmax(a), 3.0), (x,), (np.ones(3),))
    assert np.all(t_int == 0) and float(t_const) == 0.0
    with pytest.raises(ValueError, match="same length"):
        pb.jvp(np.sin, (x, y), (x,))


def test_jvp_value_of_a_python_number_is_a_python_number():
    """Regression: jvp returned np.float64 where the function returns a Python float (as
    value_and_gradient already did not)."""
    value, tangent = pb.jvp(lambda a: a * 3, (2.0,), (1.0,))
    assert type(value) is float and value == 6.0 and tangent == 3.0
    value, _ = pb.jvp(np.sin, (2.0,), (1.0,))
    assert type(value) is np.float64
