"""Rules: ``scipy.linalg`` decompositions (svd, svdvals, eigh, eigvalsh, eig, eigvals, qr) and
what is built on them (pinv, null_space, orth, lstsq), and norm.

Values are SciPy's own: each decomposition is a primitive around SciPy's original function
whose outputs are packed side by side (as in :mod:`pullback.rules.linalg_decomp`), and the
reverse and forward rules are that module's formulas, with its conventions unchanged:
:class:`GaugeError` for a loss that depends on the phase of a complex vector, on a vector of a
repeated value one by one, or on the basis of the extra columns of complete bases
(``svd(full_matrices=True)``, ``qr(mode="full")``); pairs whose gap is below
``10 n eps max|value|`` count as repeated (coupling 0, never inf); ``1/s`` below
``max(m, n) eps s_max`` is 0.

- ``eigh`` with ``b=`` (type 1: ``A v = w B v``, ``V^H B V = I``): with ``C = V^H dA V``,
  ``D = V^H dB V``: ``dw = diag(C) - w diag(D)``, ``dV = V Ω``,
  ``Ω_ij = (C_ij - w_j D_ij) / (w_j - w_i)``, and ``Ω_ij = -D_ij / 2`` on the diagonal and
  for pairs treated as repeated (the gauge without rotation inside an eigenspace).
  ``subset_by_index`` with vectors: the rules need the coupling to the eigenvectors not
  returned, so they compute the whole eigenbasis (one more ``eigh``, the returned vectors
  put in their place); the values alone need only the returned vectors.
- Values-only functions (``svdvals``, ``svd(compute_uv=False)``, ``eigvalsh``,
  ``eigh(eigvals_only=True)``, ``eigvals``) run SciPy's cheaper driver forward and compute
  the vectors in the backward (and forward-mode) rule: ``U diag(ḡ) V^H``, ``V diag(ḡ) V^H``,
  ``V^{-H} diag(ḡ) V^H``.
- ``qr``: modes "full", "economic", "r" (``mode="r"``'s rule computes Q: one more economic
  qr); ``pivoting=True``: ``A P = Q R`` with the column permutation piecewise constant, so
  it differentiates as ``qr(A[:, p])``.
- ``eig``: ``w`` is complex, ``v`` real when ``a`` is real and every eigenvalue is
  (SciPy's types); PyTorch's formula (``linalg_decomp.eig_vjp``).
- ``pinv``, ``null_space``, ``orth``: SciPy's own steps on the traced svd (same operations,
  same value); the rank is piecewise constant. ``null_space`` and ``orth`` return an
  orthonormal basis of a subspace, defined only up to a rotation inside it: a loss that
  sees it through the projector ``Q Q^H`` (or any rotation-invariant function) has a
  gradient, and the svd rule raises :class:`GaugeError` otherwise.
- ``norm`` and ``lstsq``: SciPy's values (BLAS ``nrm2``/LAPACK ``lange``, ``gelsd``); the
  derivatives are those of ``numpy.linalg.norm`` and of the svd formula at SciPy's rank
  (``x = V_r S_r^{-1} U_r^H b``, residues ``|b - a x|^2``), run in the backward pass.

Unsupported options raise :class:`pullback.NoRuleError` naming them (``qr(mode="raw")``,
``eigh(type=2/3)``, ``subset_by_value``, ``eig(b=...)``, ``left=True``,
``homogeneous_eigvals``).
"""

from __future__ import annotations

import math

import numpy as np

from ..core import Tracer, strip
from ..dispatch import TracedArray, TracedWeak
from ..errors import NoRuleError
from .linalg import _col, _mH, _mT, _real
from .linalg_decomp import (
    _degenerate_check,
    _diag,
    _diag_embed,
    _gauge_check,
    _herm_from_triangle,
    _herm_lower,
    _inv_gaps,
    _near_mask,
    _pack,
    _unpack,
    _zero,
    eig_jvp,
    eig_vjp,
    full_rank_lstsq,
    qr_jvp,
    qr_vjp,
    svd_jvp,
    svd_vjp,
    truncated_pinv,
)
from .registry import _conj, _with_values, array_like, defvjp, value_of
from .scipy_linalg import ORIGINALS, _exact, _nf, _plain_args, _route

# ---------------------------------------------------------------- svd, svdvals


def _svd_raw(a, full=False, shape=(), driver="gesdd"):
    u, s, vh = ORIGINALS["svd"](a, full_matrices=full, lapack_driver=driver, check_finite=False)
    return _pack([u, s, vh], a.shape[:-2])


def sp_svd_vjp(g, ans, a, full=False, shape=(), driver="gesdd"):
    return svd_vjp(g, ans, a, full, shape)


def sp_svd_jvp(t, ans, a, full=False, shape=(), driver="gesdd"):
    return svd_jvp(t, ans, a, full, shape)


_svd_p = defvjp(_svd_raw, [sp_svd_vjp], [sp_svd_jvp], name="scipy.linalg.svd", key=False)


def _svd_shapes(shape, full):
    m, n = shape[-2:]
    k = min(m, n)
    return [(m, m if full else k), (k,), (n if full else k, n)]


def _svd_full(a, full, driver="gesdd"):
    shape = tuple(a.shape)
    u, s, vh = _unpack(_svd_p(a, full=full, shape=shape, driver=driver), shape[:-2], _svd_shapes(shape, full))
    return u, _real(s), vh


def _svdvals_raw(a, driver="gesdd"):
    return ORIGINALS["svd"](a, compute_uv=False, lapack_driver=driver, check_finite=False)


def svdvals_vjp(g, ans, a, driver="gesdd"):
    """``U diag(ḡ) V^H`` (the vectors from one more svd: the forward computed none)."""
    u, _, vh = _nf("svd")(a, full_matrices=False)
    return np.matmul(u * _row_of(g), vh)


def svdvals_jvp(t, ans, a, driver="gesdd"):
    u, _, vh = _nf("svd")(a, full_matrices=False)
    return _real(_diag(np.matmul(_mH(u), np.matmul(t, _mH(vh)))))


def _row_of(v):
    return np.reshape(v, v.shape[:-1] + (1, v.shape[-1]))


_svdvals_p = defvjp(_svdvals_raw, [svdvals_vjp], [svdvals_jvp], name="scipy.linalg.svdvals", key=False)


def svd(a, full_matrices=True, compute_uv=True, overwrite_a=False, check_finite=True, lapack_driver="gesdd"):
    a = array_like(a)
    if a.ndim < 2 or lapack_driver not in ("gesdd", "gesvd"):
        ORIGINALS["svd"](strip(a), lapack_driver=lapack_driver)
    if not compute_uv:
        return _svdvals_p(a, driver=lapack_driver)
    return _svd_full(a, bool(full_matrices), lapack_driver)


def svdvals(a, overwrite_a=False, check_finite=True):
    a = array_like(a)
    if a.ndim < 2:
        ORIGINALS["svdvals"](strip(a))
    return _svdvals_p(a)


_route("svd", svd)
_route("svdvals", svdvals)

# ---------------------------------------------------------------- eigh, eigvalsh (standard and A v = w B v)


def _eigh_back(w, V, gw, gV, has_b):
    """Hermitian-matrix cotangents ``(Ā, B̄)`` of ``A v = w B v`` (``B = I`` when not ``has_b``).

    ``M = V^H ḡV``, ``F_ij = 1 / (w_j - w_i)``: ``Ā = V (diag(ḡw) + F∘M) V^H``,
    ``B̄ = -V ((diag(ḡw) + F∘M) diag(w) + M∘R / 2) V^H`` with ``R`` the pairs treated as
    repeated (the diagonal included: the normalisation ``V^H B V = I``).
    """
    n = w.shape[-1]
    gwd = None if _zero(gw) else _diag_embed(gw)
    inner, M, FM = gwd, None, None
    mask = _near_mask(w, n)
    if not _zero(gV):
        M = np.matmul(_mH(V), gV)
        if V.dtype.kind == "c":
            _gauge_check(np.imag(_diag(M)), M, n, "the phase of complex eigenvectors")
        num = (M - _mH(M)) / 2
        _degenerate_check(num, mask, n, "the basis of eigenvectors of a repeated eigenvalue")
        F = _inv_gaps(w, mask)
        FM = M * F
        inner = num * F if inner is None else inner + num * F
    if inner is None:
        inner = np.zeros(V.shape[:-2] + (n, n), dtype=V.dtype)
    GA = np.matmul(V, np.matmul(inner, _mH(V)))
    if not has_b:
        return GA, None
    gD = None
    if gwd is not None:
        gD = -(gwd * _row_of(w))
    if M is not None:
        t = -(FM * _row_of(w)) - np.where(mask, 0, M) / 2
        gD = t if gD is None else gD + t
    if gD is None:
        gD = np.zeros(V.shape[:-2] + (n, n), dtype=V.dtype)
    return GA, np.matmul(V, np.matmul(gD, _mH(V)))


def _eigh_tangent(w, V, dA, dB):
    n = w.shape[-1]
    mask = _near_mask(w, n)
    C = np.matmul(_mH(V), np.matmul(dA, V))
    if dB is None:
        return _real(_diag(C)), np.matmul(V, C * _inv_gaps(w, mask))
    D = np.matmul(_mH(V), np.matmul(dB, V))
    dw = _real(_diag(C)) - w * _real(_diag(D))
    Om = (C - D * _row_of(w)) * _inv_gaps(w, mask) - np.where(mask, 0, D) / 2
    return dw, np.matmul(V, Om)


def _eigh_raw(a, b=None, lower=True, values_only=False, subset=None, driver=None):
    out = ORIGINALS["eigh"](a, b, lower=lower, eigvals_only=values_only, subset_by_index=subset,
                            driver=driver, check_finite=False)
    if values_only:
        return out
    w, v = out
    return _pack([w.astype(v.dtype), v], a.shape[:-2])


def _eigh_split(ans, n, values_only):
    if values_only:
        return _real(ans), None
    k = ans.shape[-1] // (n + 1)
    w, v = _unpack(ans, ans.shape[:-1], [(k,), (n, k)])
    return _real(w), v


def _eigh_whole(a, b, lower, ans, n, values_only, subset):
    """``(w, V)`` over the whole spectrum, with the forward's own vectors (and values) in the
    subset's place; ``None`` slices when the forward's are the whole spectrum."""
    w, V = _eigh_split(ans, n, values_only)
    if not values_only and subset is None:
        return w, V, None
    wf, Vf = _nf("eigh")(a, b, lower=lower)
    lo, hi = (0, n - 1) if subset is None else subset
    if values_only:  # the values' derivatives need only the vectors of the subset
        return w, Vf[..., :, lo : hi + 1], None
    wf = np.concatenate([wf[..., :lo], w, wf[..., hi + 1 :]], axis=-1)
    Vf = np.concatenate([Vf[..., :, :lo], V, Vf[..., :, hi + 1 :]], axis=-1)
    return wf, Vf, (lo, hi)


def _pad_subset(x, sl_, n, axis_len_first):
    lo, hi = sl_
    if axis_len_first:  # values (..., k)
        z1 = np.zeros(x.shape[:-1] + (lo,), dtype=x.dtype)
        z2 = np.zeros(x.shape[:-1] + (n - hi - 1,), dtype=x.dtype)
    else:  # vectors (..., n, k)
        z1 = np.zeros(x.shape[:-1] + (lo,), dtype=x.dtype)
        z2 = np.zeros(x.shape[:-1] + (n - hi - 1,), dtype=x.dtype)
    return np.concatenate([z1, x, z2], axis=-1)


def _eigh_cotangents(g, ans, a, b, lower, values_only, subset):
    n = a.shape[-1]
    w, V, sl_ = _eigh_whole(a, b, lower, ans, n, values_only, subset)
    gw, gV = _eigh_split(g, n, values_only)
    if sl_ is not None:
        gw = _pad_subset(gw, sl_, n, True)
        gV = None if _zero(gV) else _pad_subset(gV, sl_, n, False)
    return _eigh_back(w, V, gw, gV, b is not None)


def sp_eigh_vjp_a(g, ans, a, b=None, lower=True, values_only=False, subset=None, driver=None):
    """Reverse rule (module docstring); the triangle read gets the cotangent."""
    return _herm_lower(_eigh_cotangents(g, ans, a, b, lower, values_only, subset)[0], lower)


def sp_eigh_vjp_b(g, ans, a, b=None, lower=True, values_only=False, subset=None, driver=None):
    return _herm_lower(_eigh_cotangents(g, ans, a, b, lower, values_only, subset)[1], lower)


def _eigh_jvp(ta, tb, ans, a, b, lower, values_only, subset):
    n = a.shape[-1]
    w, V, sl_ = _eigh_whole(a, b, lower, ans, n, values_only, subset)
    dA = _herm_from_triangle(ta, lower) if ta is not None else 0 * _herm_from_triangle(tb, lower)
    dB = None if tb is None else _herm_from_triangle(tb, lower)
    dw, dV = _eigh_tangent(w, V, dA, dB)
    if sl_ is not None:
        lo, hi = sl_
        dw, dV = dw[..., lo : hi + 1], dV[..., :, lo : hi + 1]
    if values_only:
        return dw
    return _pack([dw.astype(dV.dtype), dV], a.shape[:-2])


def sp_eigh_jvp_a(t, ans, a, b=None, lower=True, values_only=False, subset=None, driver=None):
    return _eigh_jvp(t, None, ans, a, b, lower, values_only, subset)


def sp_eigh_jvp_b(t, ans, a, b=None, lower=True, values_only=False, subset=None, driver=None):
    return _eigh_jvp(None, t, ans, a, b, lower, values_only, subset)


_eigh_p = defvjp(_eigh_raw, [sp_eigh_vjp_a, sp_eigh_vjp_b], [sp_eigh_jvp_a, sp_eigh_jvp_b],
                 name="scipy.linalg.eigh", key=False)


def eigh(a, b=None, *, lower=True, eigvals_only=False, overwrite_a=False, overwrite_b=False, type=1,
         check_finite=True, subset_by_index=None, subset_by_value=None, driver=None):
    a = array_like(a)
    b = None if b is None else array_like(b)
    if type != 1:
        raise NoRuleError(f"scipy.linalg.eigh with type={type}")
    if subset_by_value is not None:
        raise NoRuleError("scipy.linalg.eigh with subset_by_value")
    if a.ndim < 2:
        ORIGINALS["eigh"](strip(a))
    subset = None
    if subset_by_index is not None:
        lo, hi = (int(i) for i in subset_by_index)
        subset = (lo, hi)
    n = a.shape[-1]
    ans = _eigh_p(a, b, lower=bool(lower), values_only=bool(eigvals_only), subset=subset, driver=driver)
    w, v = _eigh_split(ans, n, bool(eigvals_only))
    if eigvals_only:
        return w
    # SciPy's layout: each matrix of vectors column-major (LAPACK's). The packed primitive's are
    # row-major, and a later matmul then rounds differently from the same call on SciPy's (float32)
    plain = strip(v)
    return w, value_of(v, np.swapaxes(np.ascontiguousarray(np.swapaxes(plain, -1, -2)), -1, -2))


def eigvalsh(a, b=None, *, lower=True, overwrite_a=False, overwrite_b=False, type=1, check_finite=True,
             subset_by_index=None, subset_by_value=None, driver=None):
    return eigh(a, b, lower=lower, eigvals_only=True, type=type, subset_by_index=subset_by_index,
                subset_by_value=subset_by_value, driver=driver)


_route("eigh", eigh)
_route("eigvalsh", eigvalsh)

# ---------------------------------------------------------------- eig, eigvals (standard problem)


def _eig_raw(a):
    w, v = ORIGINALS["eig"](a, check_finite=False)
    ct = w.dtype
    return _pack([w, v.astype(ct, copy=False)], a.shape[:-2])


_eig_p = defvjp(_eig_raw, [eig_vjp], [eig_jvp], name="scipy.linalg.eig", key=False)


def _eigvals_raw(a):
    return ORIGINALS["eigvals"](a, check_finite=False)


def eigvals_vjp(g, ans, a):
    """``V^{-H} diag(ḡ) V^H`` (the vectors from one more eig: the forward computed none)."""
    w, V = _nf("eig")(a)
    VH = _mH(V)
    return np.linalg.solve(VH, _col(g) * VH)


def eigvals_jvp(t, ans, a):
    w, V = _nf("eig")(a)
    return _diag(np.linalg.solve(V, np.matmul(t, V)))


_eigvals_p = defvjp(_eigvals_raw, [eigvals_vjp], [eigvals_jvp], name="scipy.linalg.eigvals", key=False)


def _eig_options(name, b, left, right, homogeneous_eigvals):
    if b is not None:
        raise NoRuleError(f"scipy.linalg.{name} with b= (the generalized problem)")
    if left:
        raise NoRuleError(f"scipy.linalg.{name} with left=True")
    if homogeneous_eigvals:
        raise NoRuleError(f"scipy.linalg.{name} with homogeneous_eigvals=True")


def eig(a, b=None, left=False, right=True, overwrite_a=False, overwrite_b=False, check_finite=True,
        homogeneous_eigvals=False):
    """``w`` complex; ``v`` real when ``a`` is real and every eigenvalue is (SciPy's types)."""
    a = array_like(a)
    _eig_options("eig", b, left, right, homogeneous_eigvals)
    if a.ndim < 2:
        ORIGINALS["eig"](strip(a))
    n = a.shape[-1]
    w, v = _unpack(_eig_p(a), a.shape[:-2], [(n,), (n, n)])
    if a.dtype.kind != "c" and not np.any(np.imag(strip(w))):
        v = np.real(v)
    return (w, v) if right else w


def eigvals(a, b=None, overwrite_a=False, check_finite=True, homogeneous_eigvals=False):
    a = array_like(a)
    _eig_options("eigvals", b, False, True, homogeneous_eigvals)
    if a.ndim < 2:
        ORIGINALS["eigvals"](strip(a))
    return _eigvals_p(a)


_route("eig", eig)
_route("eigvals", eigvals)

# ---------------------------------------------------------------- qr


def _qr_shapes(shape, complete, r_only, pivot):
    m, n = shape[-2:]
    k = min(m, n)
    shapes = [(m, n)] if r_only else [(m, m if complete else k), (m if complete else k, n)]
    if pivot:
        shapes.append((n,))
    return shapes


def _qr_raw(a, complete=False, r_only=False, pivot=False):
    mode = "r" if r_only else ("full" if complete else "economic")
    out = ORIGINALS["qr"](a, mode=mode, pivoting=pivot, check_finite=False)
    out = list(out)
    if pivot:
        out[-1] = out[-1].astype(out[0].dtype)
    return _pack(out, a.shape[:-2])


def _qr_core(ans, a, complete, r_only, pivot):
    """``(Q, R, p, a[:, p])``; for ``mode="r"`` Q comes from one more (economic) qr."""
    parts = _unpack(ans, a.shape[:-2], _qr_shapes(a.shape, complete, r_only, pivot))
    p = None
    if pivot:
        p = np.real(np.asarray(strip(parts[-1]))).astype(np.intp)
        a = np.take_along_axis(a, p[..., None, :], axis=-1)
    if r_only:
        q = _nf("qr")(a, mode="economic")[0]
        return q, parts[0], p, a
    return parts[0], parts[1], p, a


def sp_qr_vjp(g, ans, a, complete=False, r_only=False, pivot=False):
    Q, R, p, ap = _qr_core(ans, a, complete, r_only, pivot)
    shapes = _qr_shapes(a.shape, complete, r_only, pivot)
    gparts = _unpack(g, a.shape[:-2], shapes)
    if r_only:
        k = min(a.shape[-2:])
        gR = gparts[0][..., :k, :]
        Rk = R[..., :k, :]
        z = np.zeros(Q.shape, dtype=Q.dtype)
        gap = qr_vjp(_pack([z, gR], a.shape[:-2]), _pack([Q, Rk], a.shape[:-2]), ap, complete=False)
    else:
        gap = qr_vjp(_pack(gparts[:2], a.shape[:-2]), _pack([Q, R], a.shape[:-2]), ap, complete=complete)
    if pivot:
        gap = np.take_along_axis(gap, np.argsort(p, axis=-1)[..., None, :], axis=-1)
    return gap


def sp_qr_jvp(t, ans, a, complete=False, r_only=False, pivot=False):
    Q, R, p, ap = _qr_core(ans, a, complete, r_only, pivot)
    if pivot:
        t = np.take_along_axis(t, p[..., None, :], axis=-1)
    batch = a.shape[:-2]
    if r_only:
        k = min(a.shape[-2:])
        dQ, dR = _unpack(qr_jvp(t, _pack([Q, R[..., :k, :]], batch), ap, complete=False), batch,
                         _qr_shapes(a.shape, False, False, False))
        if R.shape[-2] > k:
            pad = np.zeros(batch + (R.shape[-2] - k, R.shape[-1]), dtype=dR.dtype)
            dR = np.concatenate([dR, pad], axis=-2)
        parts = [dR]
    else:
        parts = _unpack(qr_jvp(t, _pack([Q, R], batch), ap, complete=complete), batch,
                        _qr_shapes(a.shape, complete, False, False))
    if pivot:
        parts.append(np.zeros(batch + (a.shape[-1],), dtype=parts[0].dtype))
    return _pack(parts, batch)


_qr_p = defvjp(_qr_raw, [sp_qr_vjp], [sp_qr_jvp], name="scipy.linalg.qr", key=False)


def qr(a, overwrite_a=False, lwork=None, mode="full", pivoting=False, check_finite=True):
    """``mode`` "full", "economic", "r" (SciPy's tuple ``(r,)``); ``pivoting``: ``A P = Q R``."""
    a = array_like(a)
    if mode not in ("full", "r", "economic", "raw") or a.ndim < 2:
        ORIGINALS["qr"](strip(a), mode=mode, pivoting=pivoting)
    if mode == "raw":
        raise NoRuleError("scipy.linalg.qr with mode='raw'")
    complete, r_only, pivot = mode == "full", mode == "r", bool(pivoting)
    parts = _unpack(_qr_p(a, complete=complete, r_only=r_only, pivot=pivot), a.shape[:-2],
                    _qr_shapes(a.shape, complete, r_only, pivot))
    if pivot:
        parts[-1] = np.real(np.asarray(strip(parts[-1]))).astype(np.int32)
    return tuple(parts)


_route("qr", qr)

# ---------------------------------------------------------------- built on the svd: pinv, null_space, orth


def pinv(a, *, atol=None, rtol=None, return_rank=False, check_finite=True):
    """SciPy's own steps on the traced svd (same operations, same value); the rank is fixed."""
    a = array_like(a)
    if a.ndim > 2:
        out = [pinv(a[i], atol=atol, rtol=rtol, return_rank=return_rank) for i in np.ndindex(a.shape[:-2])]
        if return_rank:
            B = np.stack([o[0] for o in out]).reshape(a.shape[:-2] + out[0][0].shape)
            return B, np.reshape(np.array([o[1] for o in out]), a.shape[:-2])
        return np.stack(out).reshape(a.shape[:-2] + out[0].shape)
    u, s, vh = _svd_full(a, False)
    t = strip(u).dtype.char.lower()
    sp = np.asarray(strip(s))
    maxS = np.max(sp, initial=0.0)
    atol = 0.0 if atol is None else atol
    rtol = max(a.shape) * np.finfo(t).eps if (rtol is None) else rtol
    if (atol < 0.0) or (rtol < 0.0):
        raise ValueError("atol and rtol values must be positive.")
    val = atol + maxS * rtol
    rank = np.sum(sp > val)
    if rank < min(a.shape):  # rank-deficient: SciPy's value, truncated_pinv's derivatives
        up, vhp = np.asarray(strip(u))[:, :rank], np.asarray(strip(vh))[:rank]
        want = _conj(_mT(np.matmul(up / sp[:rank], vhp)))
        B = _with_values(truncated_pinv(a, np.arange(sp.size) < rank), want)
        return (B, rank) if return_rank else B
    u = u[:, :rank]
    u = u / s[:rank]
    B = _conj(_mT(np.matmul(u, vh[:rank])))
    return (B, rank) if return_rank else B


def null_space(A, rcond=None, *, overwrite_a=False, check_finite=True, lapack_driver="gesdd"):
    """SciPy's steps on the traced full svd; the basis is gauge-dependent (module docstring)."""
    A = array_like(A)
    if A.ndim > 2:
        return np.stack([null_space(A[i], rcond, lapack_driver=lapack_driver)
                         for i in np.ndindex(A.shape[:-2])]).reshape(A.shape[:-2] + (A.shape[-1], -1))
    u, s, vh = _svd_full(A, True, lapack_driver)
    num = _rank(s, u.shape[0], vh.shape[1], rcond)
    return _conj(_mT(vh[num:, :]))


def _rank(s, M, N, rcond):
    """SciPy's numerical rank for null_space/orth: singular values above ``max(s) * rcond``."""
    sp = np.asarray(strip(s))
    if rcond is None:
        rcond = np.finfo(sp.dtype).eps * max(M, N)
    return np.sum(sp > np.amax(sp, initial=0.0) * rcond, dtype=int)


def orth(A, rcond=None):
    A = array_like(A)
    if A.ndim > 2:
        return np.stack([orth(A[i], rcond) for i in np.ndindex(A.shape[:-2])]).reshape(
            A.shape[:-2] + (A.shape[-2], -1))
    u, s, vh = _svd_full(A, False)
    num = _rank(s, u.shape[0], vh.shape[1], rcond)
    return u[:, :num]


def polar(a, side="right"):
    """SciPy's own steps on the traced svd: ``u = W Vh`` and ``p = V S Vh`` ('right') or
    ``W S W^H`` ('left'); a stack of matrices one by one, as SciPy's batch decorator runs it."""
    if side not in ("right", "left"):
        raise ValueError("`side` must be either 'right' or 'left'")
    a = array_like(a)
    if a.ndim > 2:
        out = [polar(a[i], side) for i in np.ndindex(a.shape[:-2])]
        return tuple(np.stack([o[k] for o in out]).reshape(a.shape[:-2] + out[0][k].shape) for k in (0, 1))
    if a.ndim != 2:
        raise ValueError("`a` must be a 2-D array.")
    w, s, vh = _svd_full(a, False)
    u = np.matmul(w, vh)
    if side == "right":
        p = np.matmul(_conj(_mT(vh)) * s, vh)
    else:
        p = np.matmul(w * s, _conj(_mT(w)))
    return u, p


_route("pinv", pinv)
_route("null_space", null_space)
_route("orth", orth)
_route("polar", polar)

# ---------------------------------------------------------------- norm, lstsq (SciPy's value; the
# derivatives of numpy.linalg's equivalent formulas)


def _norm_raw(a, ord=None, axis=None, keepdims=False):
    out = ORIGINALS["norm"](a, ord=ord, axis=axis, keepdims=keepdims, check_finite=False)
    return np.float64(out) if type(out) is float else out  # a NumPy scalar (a float too) for a traced value


def _norm_formula(a, ord=None, axis=None, keepdims=False, ans=None):
    return np.linalg.norm(a, ord=ord, axis=axis, keepdims=keepdims)


_norm_p = _exact("norm", _norm_raw, _norm_formula, 1)


def _python_float(v, ord, axis, keepdims) -> bool:
    """Whether SciPy's norm of the plain ``v`` is a Python float (its BLAS nrm2 and LAPACK lange
    paths) rather than NumPy's scalar."""
    if not (v.size and v.dtype.char in "fdFD" and axis is None and not keepdims):
        return False
    if ord in (None, 2) and v.ndim == 1:
        return True
    return v.ndim == 2 and (ord == 1 or ord == np.inf) and (np.isfortran(v) or np.isfortran(v.T))


def norm(a, ord=None, axis=None, keepdims=False, check_finite=True):
    if isinstance(ord, Tracer):
        raise NoRuleError("scipy.linalg.norm", "a traced ord (the order of the norm)")
    a = array_like(a)
    out = _norm_p(a, ord=ord, axis=axis, keepdims=keepdims)
    if type(out) is TracedArray and _python_float(np.asarray(strip(a)), ord, axis, keepdims):
        out.__class__ = TracedWeak  # SciPy's value is a Python float: so is the traced one
    return out


_route("norm", norm)


def _lstsq_raw(a, b, cond=None, driver=None):
    x, res, rank, s = ORIGINALS["lstsq"](a, b, cond=cond, lapack_driver=driver, check_finite=False)
    dt = x.dtype
    return np.concatenate([np.ravel(x), np.ravel(res).astype(dt), np.ravel(s).astype(dt),
                           np.array([rank], dtype=dt)])


def _lstsq_formula(a, b, cond=None, driver=None, ans=None):
    """``x = pinv(a_r) b`` at SciPy's rank (:func:`truncated_pinv`; of full rank: through a reduced
    QR, which is unique); residues ``|b - a x|^2``; ``s``."""
    m, n = a.shape
    k = min(m, n)
    rank = int(np.real(ans[-1]))
    B = _col(b) if b.ndim == 1 else b
    s = np.linalg.svd(a, compute_uv=False)
    if rank == k:  # full rank: no singular vectors (their basis is arbitrary where s repeats)
        x = full_rank_lstsq(a, B)
    else:
        x = truncated_pinv(a, np.arange(k) < rank, B)
    nres = ans.size - 1 - k - x.size
    parts = [np.ravel(x)]
    if nres:
        r = B - np.matmul(a, x)
        parts.append(np.ravel(np.sum(_real(r * _conj(r)), axis=0)).astype(x.dtype))
    parts += [s.astype(x.dtype), np.zeros(1, dtype=x.dtype)]
    return np.concatenate(parts)


_lstsq_p = _exact("lstsq", _lstsq_raw, _lstsq_formula, 2)


def lstsq(a, b, cond=None, overwrite_a=False, overwrite_b=False, check_finite=True, lapack_driver=None):
    """``(x, residues, rank, s)``: SciPy's values; the derivatives of the svd formula at SciPy's rank."""
    a, b = array_like(a), array_like(b)
    if a.ndim != 2 or b.ndim not in (1, 2) or a.shape[0] != b.shape[0] or 0 in a.shape:
        ORIGINALS["lstsq"](*_plain_args((a, b)), cond=cond, lapack_driver=lapack_driver)
        raise NoRuleError("scipy.linalg.lstsq of an empty matrix")
    ans = _lstsq_p(a, b, cond=cond, driver=lapack_driver)
    m, n = a.shape
    k = min(m, n)
    xs = (n,) + b.shape[1:]
    nx = math.prod(xs)
    rank = int(np.real(strip(ans)[-1]))
    nres = ans.shape[0] - 1 - k - nx
    x = np.reshape(ans[:nx], xs)
    res = ans[nx : nx + nres]
    s = _real(ans[nx + nres : nx + nres + k])
    res = _real(res)
    if b.ndim == 1 and nres == 1:
        res = np.reshape(res, ())  # SciPy's scalar for a vector right-hand side
    return x, res, rank, s


_route("lstsq", lstsq)
