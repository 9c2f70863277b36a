"""Rules: matrix decompositions of ``numpy.linalg`` and what is built on them.

svd / svdvals, eigh / eigvalsh, eig / eigvals, cholesky, qr, and the functions
NumPy itself builds on them (pinv, lstsq, matrix_power, cond, the spectral
matrix norms, tensorsolve, tensorinv, cross).

**Several outputs, one primitive.** A decomposition is one primitive whose
value packs its outputs (``U, S, Vh``) flattened side by side along a last
axis; the public function is a composite that slices them back out. So the
decomposition runs once, an unused output's cotangent is a zero block (its
terms are skipped when the block is a plain zero), and the reverse and forward
rules see every output at once. The rules are written with NumPy calls that
have rules themselves, so higher derivatives come free.

**Complex convention** (DESIGN section 2): gradients are ``dL/dx + i dL/dy``;
the formulas are PyTorch's (``FunctionsManual.cpp``: ``svd_backward``,
``linalg_eig_backward``, ``cholesky_backward``, ``linalg_qr_backward``).

**Gauge.** Eigenvectors and singular vectors are defined up to a phase (a sign
when real) and, for a repeated eigenvalue, up to a rotation inside its
eigenspace; the extra columns of ``svd(full_matrices=True)`` and
``qr(mode="complete")`` up to a rotation of the orthogonal complement.

- A real sign is locally constant: its gradient is exact.
- A loss that depends on the phase of a complex vector (``Im diag(U^H gU)``
  not zero, for svd ``Im diag(U^H gU + V^H gV)``) has no derivative: the
  reverse rule raises :class:`GaugeError` (as PyTorch does). Forward mode
  cannot see the loss: its tangents are those of the gauge with
  ``Im diag(V^H dV) = 0`` (for svd the phase change goes to ``U``), exact for
  every gauge-invariant function of them.
- Repeated (or nearly repeated) values: a pair whose gap is below
  ``size * eps * max|value|`` (for svd, of the squared singular values) is
  treated as exactly repeated: its coupling ``1 / gap`` is set to 0, never
  infinity. That is exact for losses that see the vectors of a repeated value
  only through the projector onto its whole eigenspace (and any function of
  the values); where the loss couples vectors within such a pair (a non-zero
  numerator over a zero gap), the reverse rule raises :class:`GaugeError`.
  Spectral functions ``V f(w) V^H`` at exactly repeated eigenvalues lose the
  divided-difference term ``f'(w)`` inside the cluster (no rule through the
  decomposition can recover it; JAX behaves the same, PyTorch returns nan).
  Gaps above the threshold use the exact formula, however small.
  ``1/s`` for a zero singular value (below ``max(m, n) * eps * s_max``) is 0.
- Extra columns of complete bases (svd ``full_matrices=True``, qr
  ``"complete"``): the rule takes the gauge in which the complement basis
  ``U2`` moves least (``U2^H dU2 = 0``), exact for losses that see ``U2``
  only through ``U2 U2^H`` (or are invariant under ``U2 -> U2 Q``); a loss
  that is not (``U2^H gU2`` not Hermitian) raises :class:`GaugeError`.

**Triangles.** ``cholesky`` and ``eigh``/``eigvalsh`` read one triangle of
their input (and the real part of its diagonal). Gradients are those of
NumPy's actual function: zero on the triangle it does not read, and the
off-diagonal entries it reads count twice. For an input built Hermitian
(``B + B^H``) this gives the same gradient w.r.t. ``B`` as the symmetric
convention of other libraries.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg

from .. import lazy
from ..core import Tracer, strip
from ..errors import GaugeError, NoRuleError
from .factor_cotangent import FactorCotangent, cholesky_vjp_structured
from .linalg import _col, _mH, _mT, _numpy_errors, _real, _row
from .registry import (
    _conj,
    _with_values,
    array_like,
    defcomposite,
    defnondiff,
    defvjp,
    library_values,
    strip_tree,
    value_of,
)

# ---------------------------------------------------------------- helpers (differentiable)


def _zero(x) -> bool:
    """``x`` is a plain (untraced) all-zero block: its terms can be skipped."""
    return x is None or (not isinstance(x, Tracer) and not np.any(x))


def _diag(x):
    return np.diagonal(x, axis1=-2, axis2=-1)


def _diag_embed(v):
    n = v.shape[-1]
    return _col(v) * np.eye(n, dtype=np.real(strip(v)).dtype)


def _skew(x):
    return x - _mH(x)


def _half_triangle(n, dtype, lower=True):
    """A constant: ones on one strict triangle, 1/2 on the diagonal, 0 elsewhere."""
    m = np.tri(n, dtype=np.real(np.zeros((), dtype)).dtype)
    if not lower:
        m = m.T.copy()
    m.flat[:: n + 1] = 0.5
    return m


def _herm_lower(y, lower=True):
    """Cotangent of a triangle-read input from its Hermitian-matrix cotangent's half ``y``:
    ``tril(y + y^H, -1) + Re diag(y)`` (``triu`` when ``lower`` is false); one product."""
    return (y + _mH(y)) * _half_triangle(y.shape[-1], y.dtype, lower)


def _herm_from_triangle(t, lower=True):
    """The Hermitian matrix LAPACK sees: one triangle of ``t`` mirrored, real diagonal."""
    off = np.tril(t, -1) if lower else np.triu(t, 1)
    return off + _mH(off) + _diag_embed(_real(_diag(t)))


def _eps(dtype) -> float:
    return float(np.finfo(np.dtype(dtype)).eps)


def _near_mask(x, scale_n):
    """Plain boolean mask of pairs ``(i, j)`` whose gap ``x_j - x_i`` is above rounding."""
    p = np.asarray(strip(x))
    top = np.max(np.abs(p), axis=-1, keepdims=True) if p.shape[-1] else np.zeros(p.shape[:-1] + (1,))
    tol = 10 * scale_n * _eps(p.dtype) * top[..., None]
    gap = p[..., None, :] - p[..., :, None]
    return np.abs(gap) > tol


def _inv_gaps(x, mask):
    """``F[i, j] = 1 / (x_j - x_i)`` where ``mask``, else 0 (the diagonal included)."""
    gap = _row(x) - _col(x)
    return np.where(mask, 1 / np.where(mask, gap, 1), 0)


def _safe_inv(s, n):
    """``1/s`` for singular values, 0 where ``s`` is 0 to rounding."""
    p = np.asarray(strip(s))
    top = np.max(p, axis=-1, keepdims=True) if p.shape[-1] else p
    ok = p > n * _eps(p.dtype) * top
    return np.where(ok, 1 / np.where(ok, s, 1), 0)


def _gauge_check(viol, scale, n, what):
    """Raise :class:`GaugeError` where ``viol`` (plain or traced) is not zero to rounding."""
    v = np.abs(np.asarray(strip(viol)))
    if not v.size:
        return
    sc = float(np.max(np.abs(np.asarray(strip(scale))), initial=0.0))
    eps = _eps(np.real(v).dtype)
    if float(np.max(v)) > max(math.sqrt(eps), 10 * n * eps) * sc + np.finfo(np.float64).tiny:
        raise GaugeError(
            f"pullback: the loss depends on {what}, which numpy.linalg leaves arbitrary, "
            "so it has no gradient. Use a loss invariant to that choice (e.g. |U|**2, U diag(d) U^H, "
            "projectors onto whole eigenspaces)."
        )


def _degenerate_check(num, mask, n, what):
    """Coupling numerators over gaps treated as zero must vanish (the loss couples a repeated pair)."""
    off = ~mask & ~np.eye(mask.shape[-1], dtype=bool)
    if off.any():
        _gauge_check(np.where(off, np.asarray(strip(num)), 0), num, n, what)


def _trisolve_raw(t, b, lower=True):
    if type(t) is np.ndarray and type(b) is np.ndarray and t.size:  # SciPy: no empty batch
        return scipy.linalg.solve_triangular(t, b, lower=lower, check_finite=False)
    return np.linalg.solve(_tri(t, lower), b)  # other array types (CuPy, Dask) through NumPy's API


def _tri(x, lower):
    return np.tril(x) if lower else np.triu(x)


def trisolve_vjp_t(g, ans, t, b, lower=True):
    gb = trisolve(_mH(t), g, lower=not lower)
    return -_tri(np.matmul(gb, _mH(ans)), lower)


def trisolve_vjp_b(g, ans, t, b, lower=True):
    return trisolve(_mH(t), g, lower=not lower)


def trisolve_jvp_t(dt, ans, t, b, lower=True):
    return -trisolve(t, np.matmul(_tri(dt, lower), ans), lower=lower)


def trisolve_jvp_b(db, ans, t, b, lower=True):
    return trisolve(t, db, lower=lower)


#: ``T^{-1} B`` for a triangular ``T`` (one triangle read), batched; B a stack of matrices.
trisolve = defvjp(
    _trisolve_raw, [trisolve_vjp_t, trisolve_vjp_b], [trisolve_jvp_t, trisolve_jvp_b],
    name="pullback.linalg.solve_triangular", key=False,
)


def _right_tri_inv(z, t, lower):
    """``z @ inv(t)`` for triangular ``t`` (two transposes around one triangular solve)."""
    return _mH(trisolve(_mH(t), _mH(z), lower=not lower))


# ---------------------------------------------------------------- packing several outputs


def _pack(parts, batch):
    """The parts' core axes flattened and concatenated (the sizes explicit: an empty batch has no
    ``-1`` to infer)."""
    flat = [np.reshape(p, batch + (math.prod(np.shape(p)[len(batch):]),)) for p in parts]
    return np.concatenate(flat, axis=-1)


def _unpack(x, batch, shapes):
    out, o = [], 0
    for s in shapes:
        size = math.prod(s)
        out.append(np.reshape(x[..., o : o + size], batch + s))
        o += size
    return out


# ---------------------------------------------------------------- svd


def _svd_shapes(shape, full):
    m, n = shape[-2:]
    k = min(m, n)
    return [(m, m if full else k), (k,), (n if full else k, n)]


def svd_raw(a, full=False, shape=()):
    u, s, vh = np.linalg.svd(a, full_matrices=full)
    return _pack([u, s, vh], a.shape[:-2])


def _svd_parts(x, full, shape, real_s=True):
    u, s, vh = _unpack(x, shape[:-2], _svd_shapes(shape, full))
    return u, (_real(s) if real_s else s), vh


def svd_vjp(g, ans, a, full=False, shape=()):
    """Cotangent of ``a`` from those of ``U, S, Vh`` (PyTorch's svd_backward).

    Gauge (module docstring): raises :class:`GaugeError` when the loss depends on the joint
    phase of a complex pair ``(u_i, v_i)`` (``Im diag(U^H gU + V^H gV)`` not 0), on the
    basis of the extra columns of full ``U``/``Vh`` (``skew(U2^H gU2)`` not 0), or on the
    vectors of a repeated singular value one by one; gaps of ``s^2`` below
    ``10 k eps max(s)^2`` count as repeated (coupling 0), ``1/s`` below ``max(m,n) eps s_max`` is 0.
    """
    U, S, Vh = _svd_parts(ans, full, shape)
    gU, gS, gVh = _svd_parts(g, full, shape)
    m, n = shape[-2:]
    k = min(m, n)
    noU, noV = _zero(gU), _zero(gVh)
    if full and m > k:
        U1, U2 = U[..., :, :k], U[..., :, k:]
        if not noU:
            gU2 = gU[..., :, k:]
            _gauge_check(_skew(np.matmul(_mH(U2), gU2)), gU2, m, "the basis of the extra columns of U")
            gU = gU[..., :, :k] - np.matmul(U2, np.matmul(_mH(gU2), U1))
        U = U1
    if full and n > k:
        V1, V2 = Vh[..., :k, :], Vh[..., k:, :]
        if not noV:
            gV2 = gVh[..., k:, :]
            _gauge_check(_skew(np.matmul(V2, _mH(gV2))), gV2, n, "the basis of the extra rows of Vh")
            gVh = gVh[..., :k, :] - np.matmul(np.matmul(V1, _mH(gV2)), V2)
        Vh = V1
    if noU and noV:
        if m >= n:
            return np.matmul(U, _col(gS) * Vh)
        return np.matmul(U * _row(gS), Vh)
    cplx = U.dtype.kind == "c"
    UhgU = None if noU else _skew(np.matmul(_mH(U), gU))
    VhgV = None if noV else _skew(np.matmul(Vh, _mH(gVh)))
    if cplx:
        im = sum(np.imag(_diag(x)) for x in (UhgU, VhgV) if x is not None)
        scale = sum(np.max(np.abs(strip(x)), initial=0.0) for x in (gU, gVh) if not _zero(x))
        _gauge_check(im, scale * math.sqrt(max(m, n)), k, "the phase of complex singular vectors")
    mask = _near_mask(S * S, k)
    if noV:
        num = UhgU * _row(S)
    elif noU:
        num = _col(S) * VhgV
    else:
        num = UhgU * _row(S) + _col(S) * VhgV
    _degenerate_check(num, mask, k, "the basis of singular vectors of a repeated singular value")
    gA = num * _inv_gaps(S * S, mask)
    if not _zero(gS):
        gA = gA + _diag_embed(gS)
    Sinv = _safe_inv(S, max(m, n))
    if cplx and not noU:
        gA = gA + _diag_embed(_diag(UhgU) * Sinv / 2)
    if m > k and not noU:
        gUS = gU * _row(Sinv)
        gA = np.matmul(U, gA) + gUS - np.matmul(U, np.matmul(_mH(U), gUS))
        return np.matmul(gA, Vh)
    if n > k and not noV:
        SgVh = _col(Sinv) * gVh
        gA = np.matmul(gA, Vh) + SgVh - np.matmul(np.matmul(SgVh, _mH(Vh)), Vh)
        return np.matmul(U, gA)
    return np.matmul(U, np.matmul(gA, Vh)) if m >= n else np.matmul(np.matmul(U, gA), Vh)


def svd_jvp(t, ans, a, full=False, shape=()):
    """Tangents of ``U, S, Vh`` (the phase change of a complex pair goes to ``U``)."""
    U, S, Vh = _svd_parts(ans, full, shape)
    m, n = shape[-2:]
    k = min(m, n)
    U1, V1h = U[..., :, :k], Vh[..., :k, :]
    V1 = _mH(V1h)
    dP = np.matmul(_mH(U1), np.matmul(t, V1))  # k x k
    dS = _real(_diag(dP))
    mask = _near_mask(S * S, k)
    F = _inv_gaps(S * S, mask)
    Sr, Sc = _row(S), _col(S)
    dPH = _mH(dP)
    # U^H dU = F o (dP S + S dP^H),  V^H dV = F o (S dP + dP^H S)  (off-diagonal)
    Om_u = F * (dP * Sr + Sc * dPH)
    Om_v = F * (Sc * dP + dPH * Sr)
    Sinv = _safe_inv(S, max(m, n))
    if U.dtype.kind == "c":
        Om_u = Om_u + _diag_embed(1j * np.imag(_diag(dP)) * Sinv)
    dU = np.matmul(U1, Om_u)
    dV = np.matmul(V1, Om_v)
    if m > k:  # (I - U U^H) dA V S^{-1}
        r = np.matmul(t, V1) * _row(Sinv)
        dU = dU + r - np.matmul(U1, np.matmul(_mH(U1), r))
    if n > k:  # (I - V V^H) dA^H U S^{-1}
        r = np.matmul(_mH(t), U1) * _row(Sinv)
        dV = dV + r - np.matmul(V1, np.matmul(V1h, r))
    if full and m > k:
        U2 = U[..., :, k:]
        dU = np.concatenate([dU, -np.matmul(U1, np.matmul(_mH(dU), U2))], axis=-1)
    dVh = _mH(dV)
    if full and n > k:
        V2h = Vh[..., k:, :]
        dVh = np.concatenate([dVh, -np.matmul(np.matmul(V2h, _mH(dVh)), V1h)], axis=-2)
    return _pack([dU, dS, dVh], shape[:-2])


svd_p = defvjp(svd_raw, [svd_vjp], [svd_jvp], name="numpy.linalg.svd", key=False)


def _svd_core(a, full):
    u, s, vh = _svd_parts(svd_p(a, full=full, shape=tuple(a.shape)), full, tuple(a.shape))
    return u, s, vh


# The singular values alone: NumPy's own values-only call (LAPACK without vectors gives other last
# bits than with them), and the vectors, which the derivatives need, from the full primitive at the
# backward (or tangent) pass: differentiable in turn, so higher orders hold.


def svdvals_raw(a):
    return np.linalg.svd(a, compute_uv=False)


def svdvals_vjp(g, ans, a):
    """``U diag(g) V^H`` (``ds_i = Re(u_i^H dA v_i)``; no gauge: the values are basis-free)."""
    u, _, vh = _svd_core(a, False)
    return np.matmul(u * _row(g), vh)


def svdvals_jvp(t, ans, a):
    u, _, vh = _svd_core(a, False)
    return _real(_diag(np.matmul(_mH(u), np.matmul(t, _mH(vh)))))


svdvals_p = defvjp(svdvals_raw, [svdvals_vjp], [svdvals_jvp], name="numpy.linalg.svd", key=False)


def _singular_values(a):
    """NumPy's values-only SVD for NumPy arrays; other array types (Dask's svd computes no
    values-only form) take the values of the full primitive."""
    if type(strip(a)) is np.ndarray:
        return svdvals_p(a)
    return _svd_core(a, False)[1]


_SVDResult = type(np.linalg.svd(np.eye(1)))
_EighResult = type(np.linalg.eigh(np.eye(1)))
_EigResult = type(np.linalg.eig(np.eye(1)))
_QRResult = type(np.linalg.qr(np.eye(1)))


def _check_matrix(a, raw, *args, **kwargs):
    if a.ndim < 2:
        raw(strip(a), *args, **kwargs)  # raises NumPy's error


def svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    """``np.linalg.svd``; ``hermitian=True`` is NumPy's own composite of eigh, traced through ours."""
    _check_matrix(a, np.linalg.svd)
    if hermitian:
        if not compute_uv:
            return np.flip(np.sort(np.abs(eigvalsh(a)), axis=-1), axis=-1)
        s, u = eigh(a)
        sgn = np.sign(strip(s))
        sidx = np.flip(np.argsort(np.abs(strip(s)), axis=-1), axis=-1)
        sgn = np.take_along_axis(sgn, sidx, axis=-1)
        s = np.take_along_axis(np.abs(s), sidx, axis=-1)
        u = np.take_along_axis(u, sidx[..., None, :], axis=-1)
        vt = _conj(_mT(u * sgn[..., None, :]))
        return _SVDResult(u, s, vt)
    if not compute_uv:
        return _singular_values(a)
    return _SVDResult(*_svd_core(a, bool(full_matrices)))


defcomposite(np.linalg.svd, _numpy_errors(np.linalg.svd)(svd))

if hasattr(np.linalg, "svdvals"):

    @_numpy_errors(np.linalg.svdvals)
    def svdvals(x, /):
        _check_matrix(x, np.linalg.svdvals)
        return _singular_values(x)

    defcomposite(np.linalg.svdvals, svdvals)

# ---------------------------------------------------------------- eigh


def eigh_raw(a, lower=True):
    w, v = np.linalg.eigh(a, UPLO="L" if lower else "U")
    return _pack([w, v], a.shape[:-2])


def _eigh_parts(x, n):
    w, v = _unpack(x, x.shape[:-1], [(n,), (n, n)])
    return _real(w), v


def eigh_vjp(g, ans, a, lower=True):
    """``V (diag(gw) + skew(V^H gV) / 2 / E) V^H``, ``E[i, j] = w_j - w_i``, on the triangle read.

    Raises :class:`GaugeError` for a loss that depends on the phase of a complex eigenvector
    (``Im diag(V^H gV)`` not 0) or on the vectors of a repeated eigenvalue one by one; gaps
    below ``10 n eps max|w|`` count as repeated (coupling 0, never inf).
    """
    n = a.shape[-1]
    w, V = _eigh_parts(ans, n)
    gw, gV = _eigh_parts(g, n)
    if _zero(gV):
        G = np.matmul(V * _row(gw), _mH(V))
    else:
        VhgV = np.matmul(_mH(V), gV)
        if V.dtype.kind == "c":
            _gauge_check(np.imag(_diag(VhgV)), VhgV, n, "the phase of complex eigenvectors")
        num = (VhgV - _mH(VhgV)) / 2
        mask = _near_mask(w, n)
        _degenerate_check(num, mask, n, "the basis of eigenvectors of a repeated eigenvalue")
        inner = num * _inv_gaps(w, mask)
        if not _zero(gw):
            inner = inner + _diag_embed(gw)
        G = np.matmul(V, np.matmul(inner, _mH(V)))
    return _herm_lower(G, lower)  # G Hermitian: 2 tril(G, -1) + diag(G)


def eigh_jvp(t, ans, a, lower=True):
    n = a.shape[-1]
    w, V = _eigh_parts(ans, n)
    dH = _herm_from_triangle(t, lower)
    P = np.matmul(_mH(V), np.matmul(dH, V))
    dw = _real(_diag(P))
    dV = np.matmul(V, P * _inv_gaps(w, _near_mask(w, n)))
    return _pack([dw, dV], ans.shape[:-1])


eigh_p = defvjp(eigh_raw, [eigh_vjp], [eigh_jvp], name="numpy.linalg.eigh", key=False)


def _uplo(UPLO):
    u = UPLO.upper() if isinstance(UPLO, str) else UPLO
    if u not in ("L", "U"):
        raise ValueError("UPLO argument must be 'L' or 'U'")
    return u == "L"


@_numpy_errors(np.linalg.eigh)
def eigh(a, UPLO="L"):
    _check_matrix(a, np.linalg.eigh)
    w, v = _eigh_parts(eigh_p(a, lower=_uplo(UPLO)), a.shape[-1])
    return _EighResult(w, v)


def eigvalsh_raw(a, lower=True):
    """NumPy's values-only call (its bits; LAPACK's job 'N' rounds otherwise than with vectors)."""
    return np.linalg.eigvalsh(a, UPLO="L" if lower else "U")


def eigvalsh_vjp(g, ans, a, lower=True):
    """``V diag(g) V^H`` on the triangle read, the vectors from the full (differentiable) primitive."""
    _, V = _eigh_parts(eigh_p(a, lower=lower), a.shape[-1])
    return _herm_lower(np.matmul(V * _row(g), _mH(V)), lower)


def eigvalsh_jvp(t, ans, a, lower=True):
    _, V = _eigh_parts(eigh_p(a, lower=lower), a.shape[-1])
    return _real(_diag(np.matmul(_mH(V), np.matmul(_herm_from_triangle(t, lower), V))))


eigvalsh_p = defvjp(eigvalsh_raw, [eigvalsh_vjp], [eigvalsh_jvp], name="numpy.linalg.eigvalsh", key=False)


@_numpy_errors(np.linalg.eigvalsh)
def eigvalsh(a, UPLO="L"):
    _check_matrix(a, np.linalg.eigvalsh)
    if type(strip(a)) is not np.ndarray:  # another array type: the values of the full primitive
        return _eigh_parts(eigh_p(a, lower=_uplo(UPLO)), a.shape[-1])[0]
    return eigvalsh_p(a, lower=_uplo(UPLO))


defcomposite(np.linalg.eigh, eigh)
defcomposite(np.linalg.eigvalsh, eigvalsh)

# ---------------------------------------------------------------- eig (complex results)


def eig_raw(a):
    w, v = np.linalg.eig(a)
    ct = np.result_type(a.dtype, np.complex64)
    return _pack([w.astype(ct, copy=False), v.astype(ct, copy=False)], a.shape[:-2])


def _eig_parts(x, n):
    return _unpack(x, x.shape[:-1], [(n,), (n, n)])


def eig_vjp(g, ans, a):
    """PyTorch's linalg_eig_backward:
    ``V^{-H} (diag(gw) + off(V^H gV - V^H V Re diag(V^H gV)) / conj(E)) V^H``.

    Eigenvectors have unit norm (LAPACK's): the ``Re diag`` term is that constraint. Raises
    :class:`GaugeError` for a loss that depends on an eigenvector's phase (``Im diag(V^H gV)``
    not 0) or on the vectors of a repeated eigenvalue one by one; gaps below
    ``10 n eps max|w|`` count as repeated (coupling 0, never inf).
    """
    n = a.shape[-1]
    w, V = _eig_parts(ans, n)
    gw, gV = _eig_parts(g, n)
    VH = _mH(V)
    if _zero(gV):
        inner = _diag_embed(gw)
    else:
        VhgV = np.matmul(VH, gV)
        d = _diag(VhgV)
        _gauge_check(np.imag(d), VhgV, n, "the phase of complex eigenvectors")
        VhgV = VhgV - np.matmul(VH, V * _row(np.real(d)))
        mask = _near_mask(w, n)
        _degenerate_check(VhgV, mask, n, "the basis of eigenvectors of a repeated eigenvalue")
        inner = VhgV * _conj(_inv_gaps(w, mask))
        if not _zero(gw):
            inner = inner + _diag_embed(gw)
    return np.linalg.solve(VH, np.matmul(inner, VH))


def eig_jvp(t, ans, a):
    n = a.shape[-1]
    w, V = _eig_parts(ans, n)
    dP = np.linalg.solve(V, np.matmul(t, V))
    dw = _diag(dP)
    dV = np.matmul(V, dP * _inv_gaps(w, _near_mask(w, n)))
    dV = dV - V * _row(np.real(_diag(np.matmul(_mH(V), dV))))
    return _pack([dw, dV], ans.shape[:-1])


eig_p = defvjp(eig_raw, [eig_vjp], [eig_jvp], name="numpy.linalg.eig", key=False)


def _eig_values(a):
    w, v = _eig_parts(eig_p(a), a.shape[-1])
    if a.dtype.kind != "c" and not np.any(np.imag(strip(w))):
        return np.real(w), np.real(v)  # NumPy returns real results when every eigenvalue is real
    return w, v


@_numpy_errors(np.linalg.eig)
def eig(a):
    _check_matrix(a, np.linalg.eig)
    return _EigResult(*_eig_values(a))


@_numpy_errors(np.linalg.eigvals)
def eigvals(a):
    _check_matrix(a, np.linalg.eigvals)
    return _eig_values(a)[0]


defcomposite(np.linalg.eig, eig)
defcomposite(np.linalg.eigvals, eigvals)

# ---------------------------------------------------------------- cholesky


def cholesky_raw(a, upper=False):
    if lazy.is_dask(a):  # Dask's np.linalg.cholesky gives the upper factor, and takes no ``upper``
        import dask.array

        return dask.array.linalg.cholesky(a, lower=not upper)
    return np.linalg.cholesky(a, upper=upper)


def cholesky_vjp(g, ans, a, upper=False):
    """``L^{-H} Phi*(L^H gL) L^{-1}`` made Hermitian, on the triangle NumPy reads.

    A structured cotangent (:class:`~pullback.rules.factor_cotangent.FactorCotangent`: the
    factor's diagonal, solves with it) takes O(n^2) + ``potri``'s flops instead."""
    if type(g) is FactorCotangent:
        r = cholesky_vjp_structured(g, ans, upper)
        if r is not None:
            return r
    if hasattr(g, "materialize"):  # any lazy cotangent (accepts_lazy lets every kind through)
        g = g.materialize()
    if _blas_ok(g, ans):
        return _cholesky_vjp_blas(g, ans, upper)
    L, gL = (_mH(ans), _mH(g)) if upper else (ans, g)
    N = np.matmul(_mH(L), gL)
    P = N * _half_triangle(N.shape[-1], N.dtype)  # tril(N, -1) + diag(N) / 2
    Y = _right_tri_inv(trisolve(_mH(L), P, lower=False), L, True)
    return _herm_lower(Y, not upper)


cholesky_vjp.accepts_lazy = True

#: Plain matrices from this size on take :func:`_cholesky_vjp_blas` (below it, call overhead).
BLAS_MIN = 64


def _blas_ok(g, ans) -> bool:
    return (type(g) is np.ndarray and type(ans) is np.ndarray and ans.ndim >= 2 and ans.shape[-1] >= BLAS_MIN
            and ans.dtype.kind in "fc" and g.dtype == ans.dtype
            and g.shape == ans.shape)


def _cholesky_vjp_blas(g, ans, upper):
    """:func:`cholesky_vjp` on plain arrays through BLAS-3 on Fortran-ordered temporaries it owns:
    ``N = L^H tril(gL)`` by ``trmm`` (half a general product's flops), ``H = tril(N, -1) +
    tril(N, -1)^H + Re diag(N)`` (Hermitian), ``Z = L^{-H} H L^{-1}`` by two in-place ``trsm``;
    ``Z = Y + Y^H`` of the general formula, so the result is ``Z`` on the triangle read with its
    diagonal halved. Neither ``ans`` nor ``g`` is written. A stack runs matrix by matrix."""
    trmm, trsm = scipy.linalg.blas.get_blas_funcs(("trmm", "trsm"), (ans,))
    n = ans.shape[-1]
    cplx = ans.dtype.kind == "c"
    out = np.empty(ans.shape, dtype=ans.dtype)
    half = _half_triangle(n, ans.dtype, not upper)
    for idx in np.ndindex(ans.shape[:-2]):
        a, ga = ans[idx], g[idx]
        if upper:  # L = U^H, gL = gU^H
            a, ga = a.conj().T, ga.conj().T
        Lf = np.asfortranarray(a)  # a view when a is already Fortran-ordered (real upper, C input)
        Gf = np.asfortranarray(np.tril(ga))  # fresh
        N = trmm(1.0, Lf, Gf, side=0, lower=1, trans_a=2, overwrite_b=1)
        low = np.tril(N, -1)
        H = low + low.conj().T
        H.flat[:: n + 1] = np.real(np.diagonal(N))
        Hf = np.asfortranarray(H) if cplx else H.T  # real H is symmetric: its transpose is itself
        Z = trsm(1.0, Lf, Hf, side=0, lower=1, trans_a=2, overwrite_b=1)  # L^{-H} H
        Z = trsm(1.0, Lf, Z, side=1, lower=1, trans_a=0, overwrite_b=1)  # ... L^{-1}
        o = out[idx]
        np.multiply(Z, half, out=o)
        if cplx:  # Z is Hermitian: its diagonal is real (to rounding)
            o.flat[:: n + 1] = np.real(np.diagonal(o))
    return out


def cholesky_jvp(t, ans, a, upper=False):
    L = _mH(ans) if upper else ans
    dH = _herm_from_triangle(t, not upper)
    M = trisolve(L, _mH(trisolve(L, dH, lower=True)), lower=True)  # L^{-1} dH L^{-H}
    dL = np.matmul(L, np.tril(M, -1) + _diag_embed(_real(_diag(M)) / 2))
    return _mH(dL) if upper else dL


defvjp(np.linalg.cholesky, [cholesky_vjp], [cholesky_jvp], raw=cholesky_raw)

# ---------------------------------------------------------------- qr


def _qr_shapes(shape, complete):
    m, n = shape[-2:]
    k = min(m, n)
    return [(m, m if complete else k), (m if complete else k, n)]


def qr_raw(a, complete=False):
    q, r = np.linalg.qr(a, mode="complete") if complete else np.linalg.qr(a)  # Dask's takes no mode
    return _pack([q, r], a.shape[:-2])


def _qr_parts(x, shape, complete):
    return _unpack(x, shape[:-2], _qr_shapes(shape, complete))


def _copyltu(N):
    """``triu(N, 1) + triu(N, 1)^H + Re diag(N)``."""
    up = np.triu(N, 1)
    return up + _mH(up) + _diag_embed(_real(_diag(N)))


def _qr_square_back(gQ, gR, Q, R):
    """Cotangent of ``A`` (m >= n) from those of its reduced ``Q, R``."""
    noQ, noR = _zero(gQ), _zero(gR)
    if noQ and noR:
        return np.zeros(Q.shape[:-1] + R.shape[-1:], dtype=Q.dtype)
    if noQ:
        N = np.matmul(gR, _mH(R))
    elif noR:
        N = -np.matmul(_mH(Q), gQ)
    else:
        N = np.matmul(gR, _mH(R)) - np.matmul(_mH(Q), gQ)
    M = np.matmul(Q, _copyltu(N))
    if not noQ:
        M = M + gQ
    return _mH(trisolve(R, _mH(M), lower=False))  # M R^{-H}


def qr_vjp(g, ans, a, complete=False):
    """``[gQ + Q copyltu(gR R^H - Q^H gQ)] R^{-H}`` (m >= n); wide inputs split ``A = [X Y]``.

    LAPACK's R has a real diagonal of either sign; a sign is locally constant, so no gauge
    remains for reduced Q. The extra columns of ``mode="complete"`` Q: :class:`GaugeError`
    unless the loss sees them through their projector (``skew(Q2^H gQ2)`` = 0).
    """
    shape = a.shape
    m, n = shape[-2:]
    k = min(m, n)
    Q, R = _qr_parts(ans, shape, complete)
    gQ, gR = _qr_parts(g, shape, complete)
    if complete and m > n:
        Q1, Q2 = Q[..., :, :n], Q[..., :, n:]
        if not _zero(gQ):
            gQ2 = gQ[..., :, n:]
            _gauge_check(_skew(np.matmul(_mH(Q2), gQ2)), gQ2, m, "the basis of the extra columns of Q")
            gQ = gQ[..., :, :n] - np.matmul(Q2, np.matmul(_mH(gQ2), Q1))
        else:
            gQ = None
        Q, R, gR = Q1, R[..., :n, :], gR[..., :n, :]
    if m >= n:
        return _qr_square_back(gQ, gR, Q, R)
    # wide: A = Q [R1 R2]; R2 = Q^H Y
    R1, gR1, gR2 = R[..., :, :k], gR[..., :, :k], gR[..., :, k:]
    Y = a[..., :, k:]
    gQe = np.matmul(Y, _mH(gR2)) if _zero(gQ) else gQ + np.matmul(Y, _mH(gR2))
    gX = _qr_square_back(gQe, gR1, Q, R1)
    return np.concatenate([gX, np.matmul(Q, gR2)], axis=-1)


def _qr_square_jvp(t, Q, R):
    X = _right_tri_inv(t, R, False)  # dA R^{-1}
    C = np.matmul(_mH(Q), X)
    low = np.tril(C, -1)
    Om = low - _mH(low)
    if C.dtype.kind == "c":
        Om = Om + _diag_embed(1j * np.imag(_diag(C)))
    dR = np.matmul(C - Om, R)
    dQ = X - np.matmul(Q, C - Om)
    return dQ, dR


def qr_jvp(t, ans, a, complete=False):
    shape = a.shape
    m, n = shape[-2:]
    k = min(m, n)
    Q, R = _qr_parts(ans, shape, complete)
    if m >= n:
        Q1, R1 = Q[..., :, :n], R[..., :n, :]
        dQ, dR = _qr_square_jvp(t, Q1, R1)
        if complete and m > n:
            Q2 = Q[..., :, n:]
            dQ = np.concatenate([dQ, -np.matmul(Q1, np.matmul(_mH(dQ), Q2))], axis=-1)
            dR = np.concatenate([dR, np.zeros(shape[:-2] + (m - n, n), dtype=dR.dtype)], axis=-2)
        return _pack([dQ, dR], shape[:-2])
    dQ, dR1 = _qr_square_jvp(t[..., :, :k], Q, R[..., :, :k])
    Y = a[..., :, k:]
    dR2 = np.matmul(_mH(dQ), Y) + np.matmul(_mH(Q), t[..., :, k:])
    return _pack([dQ, np.concatenate([dR1, dR2], axis=-1)], shape[:-2])


qr_p = defvjp(qr_raw, [qr_vjp], [qr_jvp], name="numpy.linalg.qr", key=False)


@_numpy_errors(np.linalg.qr)
def qr(a, mode="reduced"):
    """``np.linalg.qr``; ``mode="raw"`` (Householder reflectors) has no rule."""
    if mode not in ("reduced", "complete", "r", "raw"):
        np.linalg.qr(strip(a), mode=mode)  # raises NumPy's error
    _check_matrix(a, np.linalg.qr)
    if mode == "raw":
        raise NoRuleError("numpy.linalg.qr with mode='raw'")
    complete = mode == "complete"
    q, r = _qr_parts(qr_p(a, complete=complete), tuple(a.shape), complete)
    return r if mode == "r" else _QRResult(q, r)


defcomposite(np.linalg.qr, qr)

# ---------------------------------------------------------------- built on the decompositions


@_numpy_errors(np.linalg.pinv)
def pinv(a, rcond=None, hermitian=False, *, rtol=np._NoValue):
    """NumPy's own algorithm (svd, cut-off, products); the cut-off is a constant (fixed rank).
    Rank-deficient: NumPy's value with :func:`truncated_pinv`'s derivatives."""
    _check_matrix(a, np.linalg.pinv)
    if rcond is None:
        if rtol is np._NoValue:
            rcond = 1e-15
        elif rtol is None:
            rcond = max(a.shape[-2:]) * np.finfo(a.dtype).eps
        else:
            rcond = rtol
    elif rtol is not np._NoValue:
        raise ValueError("`rtol` and `rcond` can't be both set.")
    rcond = np.asarray(strip(rcond))
    m, n = a.shape[-2:]
    if m == 0 or n == 0:
        return np.linalg.pinv(strip(a), rcond=rcond, hermitian=hermitian)
    u, s, vt = svd(_conj(a), full_matrices=False, hermitian=hermitian)
    sp = np.asarray(strip(s))
    large = sp > rcond[..., None] * np.max(sp, axis=-1, keepdims=True)
    if np.all(large):
        s_inv = np.where(large, 1 / np.where(large, s, 1), 0)
        return np.matmul(_mT(vt), _col(s_inv) * _mT(u))
    # rank-deficient: NumPy's value, truncated_pinv's derivatives (hermitian: of the matrix that
    # eigh reads, the lower triangle of conj(a) mirrored)
    up, vtp = np.asarray(strip(u)), np.asarray(strip(vt))
    want = np.matmul(_mT(vtp), _col(np.where(large, 1 / np.where(large, sp, 1), 0)) * _mT(up))
    if hermitian:
        a = _conj(_herm_from_triangle(_conj(a)))
    return _with_values(truncated_pinv(a, large), want)


def gram_eigh_raw(b):
    """``eigh(b^H b)`` (ascending) from the svd of ``b`` (tall or square): ``s^2`` and ``V``, as
    accurate as the svd (forming ``b^H b`` would square the condition number)."""
    _, s, vh = np.linalg.svd(b, full_matrices=False)
    return _pack([np.flip(s * s, axis=-1).astype(vh.dtype), np.flip(_mH(vh), axis=-1)], b.shape[:-2])


def gram_eigh_jvp(t, ans, b):
    """eigh's tangent at ``d(b^H b) = t^H b + b^H t``."""
    return eigh_jvp(np.matmul(_mH(t), b) + np.matmul(_mH(b), t), ans, np.zeros((b.shape[-1],) * 2))


def gram_eigh_vjp(g, ans, b):
    """``2 b G``, ``G`` eigh's (Hermitian) cotangent of ``b^H b``: ``C + C^H`` of the triangle's."""
    c = eigh_vjp(g, ans, np.zeros((b.shape[-1],) * 2))
    return np.matmul(b, c + _mH(c))


gram_eigh_p = defvjp(gram_eigh_raw, [gram_eigh_vjp], [gram_eigh_jvp], name="numpy.linalg.svd", key=False)


def truncated_pinv(a, large, B=None):
    """``pinv(a_r) B`` (``B`` the identity when None), ``a_r`` the truncation of ``a`` to its
    singular values where ``large`` (descending order, as the svd's), written through the
    eigenvectors of ``a^H a`` (tall or square: ``V_r L_r^-1 V_r^H a^H B``) or of ``a a^H`` (wide:
    ``a^H U_r L_r^-1 U_r^H B``), taken from the svd (:func:`gram_eigh_raw`). The svd's own form
    ``V_r S_r^-1 U_r^H`` is right to first order only: the svd's tangent divides by the dropped
    (near zero) singular values, which it cuts to 0, and so loses ``s_j du_j``, of order one, at
    the second order; eigh's tangents of ``a^H a`` divide only by gaps to the kept eigenvalues,
    and the perturbation of ``a^H a`` vanishes on its null space (its degenerate eigenspace)."""
    m, n = a.shape[-2:]
    b = a if m >= n else _mH(a)
    lam, v = _eigh_parts(gram_eigh_p(b), b.shape[-1])
    kept = np.flip(large, axis=-1)
    lam_inv = np.where(kept, 1 / np.where(kept, lam, 1), 0)
    p = np.matmul(v * _row(lam_inv), _mH(v))
    if m >= n:
        return np.matmul(p, _mH(a) if B is None else np.matmul(_mH(a), B))
    return np.matmul(_mH(a), p if B is None else np.matmul(p, B))


defcomposite(np.linalg.pinv, pinv)


def lstsq(a, b, rcond=None):
    """``(x, residuals, rank, s)`` as LAPACK's gelsd (fixed rank).

    Of full rank, ``x`` is the (minimum norm) solution through a reduced QR of ``a`` (or of
    ``a^H`` when wide), which is unique: ``x`` does not depend on the basis of the singular
    vectors of a repeated singular value, so the svd's gauge check has nothing to catch there.
    Rank-deficient, ``x`` goes through the svd (``pinv``'s formula)."""
    a, b = array_like(a), array_like(b)
    if _ndim(a) != 2 or _ndim(b) not in (1, 2) or a.shape[0] != b.shape[0]:
        np.linalg.lstsq(strip(a), strip(b), rcond=rcond)  # raises NumPy's error
    m, n = a.shape
    one = b.ndim == 1
    t = np.result_type(strip(a), strip(b))
    t = np.dtype(np.float64) if t.kind in "iub" else t
    real_t = np.finfo(t).dtype
    if rcond is None:
        rcond = np.finfo(t).eps * max(n, m)
    if a.dtype != t:
        a = a.astype(t)
    if b.dtype != t:
        b = b.astype(t)
    s = _singular_values(a)  # (the vectors only where the rank is deficient, or s differentiates)
    sp = np.asarray(strip(s))
    large = sp > rcond * (sp[0] if sp.size else 0)
    rank = np.intc(np.count_nonzero(large))  # NumPy's type (int32)
    B = _col(b) if one else b
    if rank == min(m, n):
        x = full_rank_lstsq(a, B)
    else:
        x = truncated_pinv(a, large, B)
    if rank == n and m > n:
        r = B - np.matmul(a, x)
        resids = np.sum(_real(r * _conj(r)), axis=0)
    else:
        resids = np.array([], real_t)
    if one:
        x = np.reshape(x, x.shape[:-1])
    return x, resids, rank, s


def full_rank_lstsq(a, B):
    """The least-squares (minimum norm when wide) solution of ``a x = B`` for ``a`` of full rank,
    through a reduced QR (unique: no basis of singular vectors enters its derivatives)."""
    if a.shape[0] >= a.shape[1]:
        q, r = np.linalg.qr(a)
        return trisolve(r, np.matmul(_mH(q), B), lower=False)
    q, r = np.linalg.qr(_mH(a))
    return np.matmul(q, trisolve(_mH(r), B, lower=True))


def _ndim(x):
    return x.ndim if hasattr(x, "ndim") else np.ndim(x)


# NumPy's values bit for bit (gelsd's own rounding; the composite's svd steps agree to rounding)
defcomposite(np.linalg.lstsq, _numpy_errors(np.linalg.lstsq)(library_values(np.linalg.lstsq)(lstsq)))


@_numpy_errors(np.linalg.matrix_power)
def matrix_power(a, n):
    """NumPy's binary powering, traced through matmul (and inv for n < 0)."""
    import operator

    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        np.linalg.matrix_power(strip(a), n)  # raises NumPy's error
    try:
        n = operator.index(n)
    except TypeError as e:
        raise TypeError("exponent must be an integer") from e
    if n == 0:
        return np.broadcast_to(np.eye(a.shape[-2], dtype=a.dtype), a.shape).copy()
    if n < 0:
        a = np.linalg.inv(a)
        n = -n
    if n == 1:
        return a
    if n == 2:
        return np.matmul(a, a)
    if n == 3:
        return np.matmul(np.matmul(a, a), a)
    z = result = None
    while n > 0:
        z = a if z is None else np.matmul(z, z)
        n, bit = divmod(n, 2)
        if bit:
            result = z if result is None else np.matmul(result, z)
    return result


defcomposite(np.linalg.matrix_power, matrix_power)


@_numpy_errors(np.linalg.cond)
def cond(x, p=None):
    """NumPy's formulas (ratio of extreme singular values, or ``norm(x) norm(inv(x))``) for the
    derivatives, and NumPy's own value (``value_of``): NumPy inverts float32 in double precision
    and turns NaN (a failed inverse, 0/0) into inf. Where NumPy's value is not finite (a singular
    matrix) the derivative is zero and the traced formula runs on the identity instead, so that
    neither a LinAlgError nor a NaN reaches the gradient."""
    if x.ndim < 2 or x.size == 0:
        return np.linalg.cond(strip(x), p)  # raises NumPy's error
    if p not in (None, 2, -2) and x.shape[-1] != x.shape[-2]:
        np.linalg.cond(strip(x), p)  # raises NumPy's error
    want = np.linalg.cond(strip(x), p)
    bad = ~np.isfinite(want)
    if np.any(bad):
        x = np.where(np.reshape(bad, bad.shape + (1, 1)), np.eye(x.shape[-2], x.shape[-1], dtype=x.dtype), x)
    if p is None or p in (2, -2):
        s = _singular_values(x)  # NumPy's values-only SVD, as NumPy's cond calls it
        with np.errstate(all="ignore"):
            r = s[..., -1] / s[..., 0] if p == -2 else s[..., 0] / s[..., -1]
    else:
        x = x.astype(np.complex128 if x.dtype.kind == "c" else np.float64)  # NumPy's 'd->d', 'D->D'
        r = np.linalg.norm(x, p, axis=(-2, -1)) * np.linalg.norm(np.linalg.inv(x), p, axis=(-2, -1))
    if np.any(bad):
        r = np.where(bad, 0, r)
    return value_of(r.astype(np.asarray(want).dtype), want)


defcomposite(np.linalg.cond, cond)


@_numpy_errors(np.linalg.tensorsolve)
def tensorsolve(a, b, axes=None):
    an = a.ndim
    if axes is not None:
        allaxes = list(range(an))
        for k in axes:
            allaxes.remove(k)
            allaxes.insert(an, k)
        a = np.transpose(a, allaxes)
    bn = _ndim(b)
    oldshape = a.shape[-(an - bn):]
    prod = math.prod(oldshape)
    if a.size != prod**2:
        np.linalg.tensorsolve(strip(a), strip(b), axes=None)  # raises NumPy's LinAlgError
    x = np.linalg.solve(np.reshape(a, (prod, prod)), np.reshape(b, (-1,)))
    return np.reshape(x, oldshape)


@_numpy_errors(np.linalg.tensorinv)
def tensorinv(a, ind=2):
    if ind <= 0:
        raise ValueError("Invalid ind argument.")
    oldshape = a.shape
    prod = math.prod(oldshape[ind:])
    invshape = oldshape[ind:] + oldshape[:ind]
    if math.prod(oldshape[:ind]) != prod:
        np.linalg.tensorinv(strip(a), ind)  # raises NumPy's error
    return np.reshape(np.linalg.inv(np.reshape(a, (prod, -1))), invshape)


defcomposite(np.linalg.tensorsolve, tensorsolve)
defcomposite(np.linalg.tensorinv, tensorinv)


# ---------------------------------------------------------------- cross and small array-API names


def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """``np.cross`` from its components (bilinear: both modes and higher order through them)."""
    if axis is not None:
        axisa, axisb, axisc = (axis,) * 3
    try:
        a2 = np.moveaxis(a, axisa, -1)
        b2 = np.moveaxis(b, axisb, -1)
        ok = a2.shape[-1] in (2, 3) and b2.shape[-1] in (2, 3)
    except Exception:
        ok = False
    if not ok or a2.shape[-1] == b2.shape[-1] == 2:  # NumPy's error, or its deprecation warning
        np.cross(*strip_tree((a, b)), axisa=axisa, axisb=axisb, axisc=axisc, axis=axis)
    a0, a1 = a2[..., 0], a2[..., 1]
    b0, b1 = b2[..., 0], b2[..., 1]
    c2 = a0 * b1 - a1 * b0
    if a2.shape[-1] == b2.shape[-1] == 2:
        return c2
    az = a2[..., 2] if a2.shape[-1] == 3 else None  # a missing third component is 0
    bz = b2[..., 2] if b2.shape[-1] == 3 else None
    c0 = _minus(_times(a1, bz), _times(az, b1))
    c1 = _minus(_times(az, b0), _times(a0, bz))
    c = np.stack(np.broadcast_arrays(c0, c1, c2), axis=-1)
    return np.moveaxis(c, -1, axisc)


defcomposite(np.cross, _numpy_errors(np.cross)(cross))

if hasattr(np.linalg, "cross"):

    @_numpy_errors(np.linalg.cross)
    def linalg_cross(x1, x2, /, *, axis=-1):
        if _shape(x1)[axis] != 3 or _shape(x2)[axis] != 3:
            np.linalg.cross(*strip_tree((x1, x2)), axis=axis)
        return cross(x1, x2, axis=axis)

    defcomposite(np.linalg.cross, linalg_cross)

if hasattr(np.linalg, "diagonal"):

    @_numpy_errors(np.linalg.diagonal)
    def linalg_diagonal(x, /, *, offset=0):
        return np.diagonal(x, offset=offset, axis1=-2, axis2=-1)

    @_numpy_errors(np.linalg.trace)
    def linalg_trace(x, /, *, offset=0, dtype=None):
        return np.trace(x, offset=offset, dtype=dtype, axis1=-2, axis2=-1)

    @_numpy_errors(np.linalg.matrix_transpose)
    def linalg_matrix_transpose(x, /):
        if _ndim(x) < 2:
            np.linalg.matrix_transpose(strip(x))
        return _mT(x)

    defcomposite(np.linalg.diagonal, linalg_diagonal)
    defcomposite(np.linalg.trace, linalg_trace)
    defcomposite(np.linalg.matrix_transpose, linalg_matrix_transpose)


def _shape(x):
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def _times(x, y):
    return None if x is None or y is None else x * y


def _minus(x, y):
    if y is None:
        return x
    return -y if x is None else x - y


defnondiff(np.linalg.matrix_rank)
