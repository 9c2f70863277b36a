"""Rules: ``scipy.linalg`` matrix functions and matrix equations.

Values are SciPy's own (each is a primitive around SciPy's original function); the rules are
written with calls of the public SciPy functions, intercepted in turn, so they differentiate
again (higher orders).

- ``expm``: the derivative is the Fréchet derivative ``L(A, E)``, and its adjoint is the
  Fréchet derivative at ``A^H``: ``Ā = L(A^H, ḡ)`` (``expm_frechet``; for stacks of matrices,
  the upper-right block of ``expm([[A^H, ḡ], [0, A^H]])``).
- ``expm_frechet(A, E)``: SciPy's value; its derivatives are those of the block formula
  ``expm([[A, E], [0, A]])`` (expm and its Fréchet derivative at once), through ``expm``'s
  rule: a ``2n`` matrix exponential per derivative.
- ``logm``: ``L_log(A, E)`` is the upper-right block of ``logm([[A, E], [0, A]])`` and its
  adjoint is ``L_log(A^H, ·)``: one ``2n`` logarithm per derivative.
- ``sqrtm``: ``X dX + dX X = dA`` is a Sylvester equation: ``dX = solve_sylvester(X, X, dA)``
  and ``Ā = solve_sylvester(X^H, X^H, ḡ)``.
- ``solve_sylvester(A, B, Q)`` (``A X + X B = Q``): ``Y = solve_sylvester(A^H, B^H, ḡ)``,
  ``Q̄ = Y``, ``Ā = -Y X^H``, ``B̄ = -X^H Y``; tangent ``solve_sylvester(A, B, dQ - dA X - X dB)``.
- ``solve_continuous_lyapunov(A, Q)`` (``A X + X A^H = Q``): ``Y`` solves
  ``A^H Y + Y A = ḡ`` (``solve_continuous_lyapunov(A^H, ḡ)``), ``Q̄ = Y``,
  ``Ā = -(Y X^H + Y^H X)``.

- ``cosm``, ``sinm``, ``tanm``, ``coshm``, ``sinhm``, ``tanhm``: SciPy's expressions in ``expm``
  (and ``solve``), written the same way on the traced matrix.

A real matrix whose square root or logarithm is complex gets the real part of the complex
cotangent (DESIGN section 2).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as SL

from ..core import strip
from .callables import refuse
from .linalg import _mH
from .registry import array_like, defvjp
from .scipy_linalg import ORIGINALS, _exact, _nf, _route


def _block(a, e):
    """``[[a, e], [0, a]]`` (stacks of matrices)."""
    z = np.zeros(np.broadcast_shapes(a.shape, e.shape), dtype=np.result_type(strip(a), strip(e)))
    top = np.concatenate([a + z, e + z], axis=-1)
    return np.concatenate([top, np.concatenate([z, a + z], axis=-1)], axis=-2)


def _corner(x, n):
    return x[..., :n, n:]


# ---------------------------------------------------------------- expm, expm_frechet


def _expm_raw(a):
    return ORIGINALS["expm"](a)


def _frechet_exp(a, e):
    """``L_exp(a, e)``."""
    if a.ndim == 2 and e.ndim == 2:
        return _nf("expm_frechet")(a, e, compute_expm=False)
    return _corner(SL.expm(_block(a, e)), a.shape[-1])


def expm_vjp(g, ans, a):
    """``L(A^H, ḡ)``: the adjoint of the Fréchet derivative is the Fréchet derivative at ``A^H``."""
    return _frechet_exp(_mH(a), g)


def expm_jvp(t, ans, a):
    return _frechet_exp(a, t)


_expm_p = defvjp(_expm_raw, [expm_vjp], [expm_jvp], name="scipy.linalg.expm", key=False)


def expm(A):
    A = array_like(A)
    if A.ndim < 2 or A.shape[-1] != A.shape[-2] or A.size == 0:
        return ORIGINALS["expm"](strip(A))
    return _expm_p(A)


_route("expm", expm)


def _expm_frechet_raw(A, E, method=None, compute_expm=True):
    out = ORIGINALS["expm_frechet"](A, E, method=method, compute_expm=compute_expm, check_finite=False)
    return np.stack(out) if compute_expm else out


def _expm_frechet_formula(A, E, method=None, compute_expm=True, ans=None):
    n = A.shape[-1]
    X = SL.expm(_block(A, E))
    if compute_expm:
        return np.stack([X[:n, :n], X[:n, n:]])
    return X[:n, n:]


_expm_frechet_p = _exact("expm_frechet", _expm_frechet_raw, _expm_frechet_formula, 2)


def expm_frechet(A, E, method=None, compute_expm=True, check_finite=True):
    """``(expm(A), L(A, E))`` or ``L(A, E)``: SciPy's values, the block formula's derivatives."""
    A, E = array_like(A), array_like(E)
    if A.ndim != 2 or A.shape != E.shape or A.shape[0] != A.shape[1]:
        ORIGINALS["expm_frechet"](strip(A), strip(E), method=method)
    out = _expm_frechet_p(A, E, method=method, compute_expm=bool(compute_expm))
    return (out[0], out[1]) if compute_expm else out


_route("expm_frechet", expm_frechet)

# ---------------------------------------------------------------- logm


def _logm_raw(A):
    return ORIGINALS["logm"](A)


def logm_vjp(g, ans, A):
    """``L_log(A^H, ḡ)``, the upper-right block of ``logm([[A^H, ḡ], [0, A^H]])``."""
    return _corner(SL.logm(_block(_mH(A), g)), A.shape[-1])


def logm_jvp(t, ans, A):
    return _corner(SL.logm(_block(A, t)), A.shape[-1])


_logm_p = defvjp(_logm_raw, [logm_vjp], [logm_jvp], name="scipy.linalg.logm", key=False)


def logm(A, disp=None):
    A = array_like(A)
    if disp is not None:
        # SciPy's deprecated keyword: disp=False returns (logm, errest); errest has no gradient
        out = ORIGINALS["logm"](strip(A), disp=disp)
        if disp is False:
            return _logm_p(A), out[1]
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        ORIGINALS["logm"](strip(A))
    return _logm_p(A)


_route("logm", logm)

# ---------------------------------------------------------------- sqrtm


def _sqrtm_raw(A, blocksize=None):
    if blocksize is None:
        return ORIGINALS["sqrtm"](A)
    return ORIGINALS["sqrtm"](A, blocksize=blocksize)


def sqrtm_vjp(g, ans, A, blocksize=None):
    """``X Y + Y X = ḡ`` with ``X^H`` in place of ``X``: ``solve_sylvester(X^H, X^H, ḡ)``."""
    xh = _mH(ans)
    return SL.solve_sylvester(xh, xh, g)


def sqrtm_jvp(t, ans, A, blocksize=None):
    return SL.solve_sylvester(ans, ans, t)


_sqrtm_p = defvjp(_sqrtm_raw, [sqrtm_vjp], [sqrtm_jvp], name="scipy.linalg.sqrtm", key=False)


def sqrtm(A, disp=None, blocksize=None):
    A = array_like(A)
    if disp is not None:
        # SciPy's deprecated keyword: disp=False returns (sqrtm, errest); errest has no gradient
        out = ORIGINALS["sqrtm"](strip(A), disp=disp)
        if disp is False:
            return _sqrtm_p(A, blocksize=blocksize), out[1]
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        ORIGINALS["sqrtm"](strip(A))
    return _sqrtm_p(A, blocksize=blocksize)


_route("sqrtm", sqrtm)

# ---------------------------------------------------------------- Sylvester and Lyapunov equations


def _sylvester_raw(a, b, q):
    return ORIGINALS["solve_sylvester"](a, b, q)


def _sylvester_adjoint(g, a, b):
    return SL.solve_sylvester(_mH(a), _mH(b), g)


def sylvester_vjp_a(g, ans, a, b, q):
    return -np.matmul(_sylvester_adjoint(g, a, b), _mH(ans))


def sylvester_vjp_b(g, ans, a, b, q):
    return -np.matmul(_mH(ans), _sylvester_adjoint(g, a, b))


def sylvester_vjp_q(g, ans, a, b, q):
    return _sylvester_adjoint(g, a, b)


def sylvester_jvp_a(t, ans, a, b, q):
    return SL.solve_sylvester(a, b, -np.matmul(t, ans))


def sylvester_jvp_b(t, ans, a, b, q):
    return SL.solve_sylvester(a, b, -np.matmul(ans, t))


def sylvester_jvp_q(t, ans, a, b, q):
    return SL.solve_sylvester(a, b, t)


_sylvester_p = defvjp(
    _sylvester_raw, [sylvester_vjp_a, sylvester_vjp_b, sylvester_vjp_q],
    [sylvester_jvp_a, sylvester_jvp_b, sylvester_jvp_q], name="scipy.linalg.solve_sylvester", key=False,
)


def solve_sylvester(a, b, q):
    a, b, q = array_like(a), array_like(b), array_like(q)
    if a.ndim < 2 or b.ndim < 2 or q.ndim < 2:
        ORIGINALS["solve_sylvester"](strip(a), strip(b), strip(q))
    return _sylvester_p(a, b, q)


_route("solve_sylvester", solve_sylvester)


def _lyapunov_raw(a, q):
    return ORIGINALS["solve_continuous_lyapunov"](a, q)


def lyapunov_vjp_a(g, ans, a, q):
    y = SL.solve_continuous_lyapunov(_mH(a), g)
    return -(np.matmul(y, _mH(ans)) + np.matmul(_mH(y), ans))


def lyapunov_vjp_q(g, ans, a, q):
    return SL.solve_continuous_lyapunov(_mH(a), g)


def lyapunov_jvp_a(t, ans, a, q):
    return SL.solve_continuous_lyapunov(a, -(np.matmul(t, ans) + np.matmul(ans, _mH(t))))


def lyapunov_jvp_q(t, ans, a, q):
    return SL.solve_continuous_lyapunov(a, t)


_lyapunov_p = defvjp(_lyapunov_raw, [lyapunov_vjp_a, lyapunov_vjp_q], [lyapunov_jvp_a, lyapunov_jvp_q],
                     name="scipy.linalg.solve_continuous_lyapunov", key=False)


def solve_continuous_lyapunov(a, q):
    a, q = array_like(a), array_like(q)
    if a.ndim < 2 or q.ndim < 2:
        ORIGINALS["solve_continuous_lyapunov"](strip(a), strip(q))
    return _lyapunov_p(a, q)


_route("solve_continuous_lyapunov", solve_continuous_lyapunov)


# ---------------------------------------------------------------- trigonometric and hyperbolic
#
# SciPy's cosm, sinm, tanm, coshm, sinhm and tanhm are expressions in expm (and solve): written the
# same way on the traced matrix, their values are SciPy's and they differentiate through expm's rule.


def _square(A):
    A = array_like(A)
    if len(A.shape) != 2 or A.shape[0] != A.shape[1]:
        raise ValueError("expected square array_like input")
    return A


def _maybe_real(A, B):
    """SciPy's ``_maybe_real``: a real matrix's result without its negligible imaginary part."""
    from scipy.linalg._matfuncs import _array_precision, eps, feps

    if A.dtype.kind != "c" and B.dtype.kind == "c":
        tol = {0: feps * 1e3, 1: eps * 1e6}[_array_precision[B.dtype.char]]
        if np.allclose(strip(B).imag, 0.0, atol=tol):
            B = np.real(B)
    return B


def cosm(A):
    A = _square(A)
    if A.dtype.kind == "c":
        return 0.5 * (SL.expm(1j * A) + SL.expm(-1j * A))
    return np.real(SL.expm(1j * A))


def sinm(A):
    A = _square(A)
    if A.dtype.kind == "c":
        return -0.5j * (SL.expm(1j * A) - SL.expm(-1j * A))
    return np.imag(SL.expm(1j * A))


def tanm(A):
    A = _square(A)
    return _maybe_real(A, SL.solve(cosm(A), sinm(A)))


def coshm(A):
    A = _square(A)
    return _maybe_real(A, 0.5 * (SL.expm(A) + SL.expm(-A)))


def sinhm(A):
    A = _square(A)
    return _maybe_real(A, 0.5 * (SL.expm(A) - SL.expm(-A)))


def tanhm(A):
    A = _square(A)
    return _maybe_real(A, SL.solve(coshm(A), sinhm(A)))


for _f in (cosm, sinm, tanm, coshm, sinhm, tanhm):
    _route(_f.__name__, _f)

# funm(A, func): no rule; a clear error (SciPy's pythran loop rejected the traced values func returns)
refuse(SL.funm, "scipy.linalg.funm", "func")
