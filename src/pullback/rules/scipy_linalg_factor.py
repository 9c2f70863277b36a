"""Rules: ``scipy.linalg`` factorisations (cholesky, cho_factor/cho_solve, lu_factor/lu_solve,
lu) and det, inv.

Values are SciPy's own (primitives around SciPy's original functions); the rules are
written with NumPy calls and calls of the public SciPy functions, so they differentiate again.

- ``cholesky``: :mod:`pullback.rules.linalg_decomp`'s rule (the triangle ``lower`` selects is
  the one read: an off-diagonal entry counts twice, the diagonal its real part).
- ``cho_factor``: the factor's triangle differentiates as ``cholesky``; the other triangle
  holds ``a``'s own entries (LAPACK leaves them), passed through (identity).
- ``cho_solve((c, lower), b)``: ``A = U^H U`` (``L L^H``); ``b̄ = cho_solve((c, lower), ḡ)``
  -- the adjoint solve uses the *same factors* (``A`` is Hermitian), O(n^2) per column;
  ``Ā = -b̄ x^H`` and ``Ū = triu(U (Ā + Ā^H))`` (``L̄ = tril((Ā + Ā^H) L)``).
- ``lu_factor``/``lu``: ``P A = L U`` with the permutation piecewise constant (no gradient),
  ``F = L^{-1} P dA U^{-1}``, ``dL = L tril(F, -1)``, ``dU = triu(F) U``; reverse:
  ``Ā = P^T L^{-H} (tril(L^H L̄, -1) + triu(Ū U^H)) U^{-H}``. Square matrices only.
- ``lu_solve((lu, piv), b, trans)``: ``b̄`` is ``lu_solve`` with the same factors and the
  flipped ``trans``; ``lu̅ = tril(P Ā U^H, -1) + triu(L^H P Ā)`` (``A = P^T L U``).
- ``det``, ``inv``: :mod:`pullback.rules.linalg`'s formulas; ``inv(assume_a=...)`` maps the
  cotangent onto the entries SciPy reads, as ``solve`` does.
"""

from __future__ import annotations

import numpy as np

from ..core import strip
from ..errors import NoRuleError
from .factor_cotangent import MIN_SIZE, FactorCotangent, cholesky_vjp_structured
from .linalg import _col, _drop, _mH, det_jvp, det_vjp, inv_jvp, inv_vjp
from .linalg_decomp import _pack, _right_tri_inv, _unpack, _zero, cholesky_jvp, cholesky_vjp, trisolve
from .registry import _conj, array_like, defvjp
from .scipy_linalg import (
    _STRUCTURES,
    ORIGINALS,
    _matrix_rhs,
    _nf,
    _op,
    _route,
    _structure,
    _structure_adjoint,
    _trans_code,
    _tri,
    _tri_grad_m,
)

# ---------------------------------------------------------------- cholesky, cho_factor, cho_solve


def _cholesky_raw(a, lower=False):
    return ORIGINALS["cholesky"](a, lower=lower, check_finite=False)


def sp_cholesky_vjp(g, ans, a, lower=False):
    return cholesky_vjp(g, ans, a, upper=not lower)


sp_cholesky_vjp.accepts_lazy = True  # cholesky_vjp takes a structured factor cotangent


def sp_cholesky_jvp(t, ans, a, lower=False):
    return cholesky_jvp(t, ans, a, upper=not lower)


_cholesky_p = defvjp(_cholesky_raw, [sp_cholesky_vjp], [sp_cholesky_jvp], name="scipy.linalg.cholesky",
                     key=False)


def cholesky(a, lower=False, overwrite_a=False, check_finite=True):
    a = array_like(a)
    if a.ndim < 2:
        ORIGINALS["cholesky"](strip(a), lower=lower)
    return _cholesky_p(a, lower=bool(lower))


_route("cholesky", cholesky)


def _cho_factor_raw(a, lower=False):
    return ORIGINALS["cho_factor"](a, lower=lower, check_finite=False)[0]


def cho_factor_vjp(g, ans, a, lower=False):
    """The factor's triangle as ``cholesky``; the other (``a``'s own entries) passes through.

    A structured cotangent (the factor's diagonal, ``cho_solve`` with it: zero on the other
    triangle) takes :func:`~pullback.rules.factor_cotangent.cholesky_vjp_structured`."""
    if type(g) is FactorCotangent:
        r = cholesky_vjp_structured(g, ans, not lower, packed=True)
        if r is not None:
            return r
    if hasattr(g, "materialize"):
        g = g.materialize()
    return cholesky_vjp(_tri(g, lower), _tri(ans, lower), a, upper=not lower) + _tri(g, not lower, 1)


cho_factor_vjp.accepts_lazy = True


def cho_factor_jvp(t, ans, a, lower=False):
    return cholesky_jvp(t, _tri(ans, lower), a, upper=not lower) + _tri(t, not lower, 1)


_cho_factor_p = defvjp(_cho_factor_raw, [cho_factor_vjp], [cho_factor_jvp], name="scipy.linalg.cho_factor",
                       key=False)


def cho_factor(a, lower=False, overwrite_a=False, check_finite=True):
    a = array_like(a)
    if a.ndim < 2:
        ORIGINALS["cho_factor"](strip(a), lower=lower)
    return _cho_factor_p(a, lower=bool(lower)), bool(lower)


_route("cho_factor", cho_factor)


def _cho_solve_raw(c, b, lower=False):
    return ORIGINALS["cho_solve"]((c, lower), b, check_finite=False)


def _cho(c, lower, g):
    return _nf("cho_solve")((c, lower), g)


def cho_solve_vjp_c(g, ans, c, b, lower=False):
    """``A = U^H U``: ``Ā = -b̄ x^H`` (``b̄ = A^{-1} ḡ``, same factors), ``Ū = triu(U (Ā + Ā^H))``
    formed as ``-triu((U b̄) x^H + (U x) b̄^H)``: O(n^2 k) for k right-hand sides, no n x n product."""
    gB = _matrix_rhs(b, _cho(c, lower, g))
    X = _matrix_rhs(b, ans)
    if _plain_square(c) and type(gB) is np.ndarray and type(X) is np.ndarray and gB.ndim == 2 \
            and np.result_type(gB, X) == c.dtype:
        # tri(S F), S = -(b̄ x^H + x b̄^H), kept unevaluated: a Cholesky pullback reading it cancels
        # against its own O(n^3) work; anything else materializes it (the same products as below)
        return FactorCotangent(c.shape, c.dtype, factor=c, lower=lower, p=gB, q=X)
    F = _tri(c, lower)
    if lower:  # tril((Ā + Ā^H) L) = -tril(b̄ (L^H x)^H + x (L^H b̄)^H)
        Fh = _mH(F)
        return -np.tril(np.matmul(gB, _mH(np.matmul(Fh, X))) + np.matmul(X, _mH(np.matmul(Fh, gB))))
    return -np.triu(np.matmul(np.matmul(F, gB), _mH(X)) + np.matmul(np.matmul(F, X), _mH(gB)))


def _plain_square(c) -> bool:
    return type(c) is np.ndarray and c.ndim == 2 and c.shape[0] == c.shape[1] >= MIN_SIZE


def cho_solve_vjp_b(g, ans, c, b, lower=False):
    return _cho(c, lower, g)  # A is Hermitian: the adjoint solve uses the same factors


def cho_solve_jvp_c(t, ans, c, b, lower=False):
    """``dA x`` with ``dA = dL L^H + L dL^H`` (``dU^H U + U^H dU``) as products with ``x``: O(n^2 k)."""
    F, dF = _tri(c, lower), _tri(t, lower)
    X = _matrix_rhs(b, ans)
    if lower:
        dAx = np.matmul(dF, np.matmul(_mH(F), X)) + np.matmul(F, np.matmul(_mH(dF), X))
    else:
        dAx = np.matmul(_mH(dF), np.matmul(F, X)) + np.matmul(_mH(F), np.matmul(dF, X))
    dx = _cho(c, lower, -dAx)
    return _drop(dx) if b.ndim == 1 else dx


def cho_solve_jvp_b(t, ans, c, b, lower=False):
    return _cho(c, lower, t)


_cho_solve_p = defvjp(_cho_solve_raw, [cho_solve_vjp_c, cho_solve_vjp_b], [cho_solve_jvp_c, cho_solve_jvp_b],
                      name="scipy.linalg.cho_solve", key=False)


def cho_solve(c_and_lower, b, overwrite_b=False, check_finite=True):
    c, lower = c_and_lower
    c, b = array_like(c), array_like(b)
    if c.ndim < 2 or b.ndim < 1:
        ORIGINALS["cho_solve"]((strip(c), lower), strip(b))
    return _cho_solve_p(c, b, lower=bool(lower))


_route("cho_solve", cho_solve)

# ---------------------------------------------------------------- lu_factor, lu_solve, lu


def _perm_from_piv(piv):
    """Row order ``p`` with ``(P A) = A[p]`` from LAPACK's sequential swaps (any batch)."""
    piv = np.asarray(piv)
    n = piv.shape[-1]
    flat = np.reshape(piv, (-1, n))
    out = np.empty_like(flat)
    for k, row in enumerate(flat):
        p = np.arange(n)
        for i, j in enumerate(row):
            p[i], p[j] = p[j], p[i]
        out[k] = p
    return np.reshape(out, piv.shape)


def _rows(x, p):
    """``x[..., p, :]`` for a (batched) row order ``p``."""
    return np.take_along_axis(x, p[..., :, None], axis=-2)


def _inverse(p):
    return np.argsort(p, axis=-1)


def _l_and_u(lu):
    n = lu.shape[-1]
    return np.tril(lu, -1) + np.eye(n, dtype=lu.dtype), np.triu(lu)


def _lu_back(gL, gU, L, U):
    """Cotangent of ``M = L U`` (unit lower L) from those of L (strict) and U."""
    gF = None
    if not _zero(gL):
        gF = np.tril(np.matmul(_mH(L), gL), -1)
    if not _zero(gU):
        t = np.triu(np.matmul(gU, _mH(U)))
        gF = t if gF is None else gF + t
    if gF is None:
        return np.zeros_like(L)
    y = trisolve(_mH(L), gF, lower=False)  # L^{-H} gF
    return _mH(trisolve(U, _mH(y), lower=False))  # ... U^{-H}


def _lu_tangent(dM, L, U):
    """``F = L^{-1} dM U^{-1}``; ``dL = L tril(F, -1)``, ``dU = triu(F) U``."""
    F = _right_tri_inv(trisolve(L, dM, lower=True), U, False)
    return np.matmul(L, np.tril(F, -1)), np.matmul(np.triu(F), U)


def _lu_factor_raw(a):
    lu, piv = ORIGINALS["lu_factor"](a, check_finite=False)
    return np.concatenate([lu, _col(piv.astype(lu.dtype))], axis=-1)


def _lu_split(packed):
    n = packed.shape[-2]
    return packed[..., :n], np.real(np.asarray(strip(packed[..., n]))).astype(np.int32)


def lu_factor_vjp(g, ans, a):
    lu, piv = _lu_split(ans)
    gl = g[..., : lu.shape[-1]]
    L, U = _l_and_u(lu)
    p = _perm_from_piv(piv)
    return _rows(_lu_back(np.tril(gl, -1), np.triu(gl), L, U), _inverse(p))


def lu_factor_jvp(t, ans, a):
    lu, piv = _lu_split(ans)
    L, U = _l_and_u(lu)
    dL, dU = _lu_tangent(_rows(t, _perm_from_piv(piv)), L, U)
    return np.concatenate([dL + dU, np.zeros_like(_col(piv)).astype(dL.dtype)], axis=-1)


_lu_factor_p = defvjp(_lu_factor_raw, [lu_factor_vjp], [lu_factor_jvp], name="scipy.linalg.lu_factor",
                      key=False)


def _square(a, name):
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        ORIGINALS[name](strip(a))
        raise NoRuleError(f"scipy.linalg.{name} of a non-square matrix")


def lu_factor(a, overwrite_a=False, check_finite=True):
    a = array_like(a)
    _square(a, "lu_factor")
    lu, piv = _lu_split(_lu_factor_p(a))
    return lu, piv


_route("lu_factor", lu_factor)


def _lu_solve_raw(lu, piv, b, trans=0):
    return ORIGINALS["lu_solve"]((lu, piv), b, trans=trans, check_finite=False)


def _lu_adjoint_solve(lu, piv, G, trans):
    cplx = lu.dtype.kind == "c" or G.dtype.kind == "c"
    if trans == 0:
        return _nf("lu_solve")((lu, piv), G, trans=2 if cplx else 1)
    if trans == 2 or not cplx:
        return _nf("lu_solve")((lu, piv), G, trans=0)
    return _conj(_nf("lu_solve")((lu, piv), _conj(G), trans=0))


def lu_solve_vjp_lu(g, ans, lu, piv, b, trans=0):
    """``A = P^T L U``: ``Ā`` as for a solve; ``L̄ = tril(P Ā U^H, -1)``, ``Ū = triu(L^H P Ā)``."""
    gB = _lu_adjoint_solve(lu, piv, _matrix_rhs(b, g), trans)
    PA = _rows(_tri_grad_m(gB, _matrix_rhs(b, ans), trans), _perm_from_piv(strip(piv)))
    L, U = _l_and_u(lu)
    return np.tril(np.matmul(PA, _mH(U)), -1) + np.triu(np.matmul(_mH(L), PA))


def lu_solve_vjp_b(g, ans, lu, piv, b, trans=0):
    gB = _lu_adjoint_solve(lu, piv, _matrix_rhs(b, g), trans)  # the same factors
    return _drop(gB) if b.ndim == 1 else gB


def lu_solve_jvp_lu(t, ans, lu, piv, b, trans=0):
    L, U = _l_and_u(lu)
    dM = np.matmul(np.tril(t, -1), U) + np.matmul(L, np.triu(t))
    dA = _rows(dM, _inverse(_perm_from_piv(strip(piv))))
    dx = _nf("lu_solve")((lu, piv), -np.matmul(_op(dA, trans), _matrix_rhs(b, ans)), trans=trans)
    return _drop(dx) if b.ndim == 1 else dx


def lu_solve_jvp_b(t, ans, lu, piv, b, trans=0):
    return _nf("lu_solve")((lu, piv), t, trans=trans)


_lu_solve_p = defvjp(_lu_solve_raw, [lu_solve_vjp_lu, None, lu_solve_vjp_b],
                     [lu_solve_jvp_lu, None, lu_solve_jvp_b], name="scipy.linalg.lu_solve", key=False)


def lu_solve(lu_and_piv, b, trans=0, overwrite_b=False, check_finite=True):
    lu, piv = lu_and_piv
    lu, b = array_like(lu), array_like(b)
    if lu.ndim < 2 or b.ndim < 1 or not (isinstance(trans, (int, np.integer)) and 0 <= trans <= 2):
        ORIGINALS["lu_solve"]((strip(lu), strip(piv)), strip(b), trans=trans)  # SciPy's error
    return _lu_solve_p(lu, np.asarray(strip(piv)), b, trans=_trans_code(trans))


_route("lu_solve", lu_solve)


def _lu_raw(a, permute_l=False, p_indices=False):
    out = ORIGINALS["lu"](a, permute_l=permute_l, p_indices=p_indices, check_finite=False)
    if permute_l:
        pl, u = out
        return _pack([pl, u], a.shape[:-2])
    p, lo, u = out
    return _pack([lo, u, p.astype(lo.dtype)], a.shape[:-2])


def _lu_parts(x, shape, permute_l, p_indices):
    n = shape[-1]
    shapes = [(n, n), (n, n)]
    if not permute_l:
        shapes.append((n,) if p_indices else (n, n))
    return _unpack(x, shape[:-2], shapes)


def _lu_row_order(parts, permute_l, p_indices):
    """The row order ``o`` with ``A[o] = L U``, and ``L``'s rows as stored (``P L`` or ``L``)."""
    if permute_l:  # row r of P L is row i of L: its last non-zero entry (the unit diagonal) is at i
        x = np.asarray(strip(parts[0]))
        n = x.shape[-1]
        last = n - 1 - np.argmax(np.flip(x != 0, axis=-1), axis=-1)
        return np.argsort(last, axis=-1)
    p = np.real(np.asarray(strip(parts[2])))
    if p_indices:  # A = L[p] U
        return np.argsort(p.astype(np.intp), axis=-1)
    return np.argmax(p, axis=-2)  # A = P L U


def lu_vjp(g, ans, a, permute_l=False, p_indices=False):
    parts = _lu_parts(ans, a.shape, permute_l, p_indices)
    gparts = _lu_parts(g, a.shape, permute_l, p_indices)
    o = _lu_row_order(parts, permute_l, p_indices)
    if permute_l:  # P L = L[inverse order]: L = (P L)[o]
        L, gL = _rows(parts[0], o), _rows(gparts[0], o)
    else:
        L, gL = parts[0], gparts[0]
    return _rows(_lu_back(np.tril(gL, -1), np.triu(gparts[1]), L, parts[1]), _inverse(o))


def lu_jvp(t, ans, a, permute_l=False, p_indices=False):
    parts = _lu_parts(ans, a.shape, permute_l, p_indices)
    o = _lu_row_order(parts, permute_l, p_indices)
    L = _rows(parts[0], o) if permute_l else parts[0]
    dL, dU = _lu_tangent(_rows(t, o), L, parts[1])
    if permute_l:
        return _pack([_rows(dL, _inverse(o)), dU], a.shape[:-2])
    return _pack([dL, dU, np.zeros_like(parts[2])], a.shape[:-2])


_lu_p = defvjp(_lu_raw, [lu_vjp], [lu_jvp], name="scipy.linalg.lu", key=False)


def lu(a, permute_l=False, overwrite_a=False, check_finite=True, p_indices=False):
    """``P L U`` of a square matrix (the permutation, piecewise constant, has no gradient)."""
    a = array_like(a)
    _square(a, "lu")
    permute_l, p_indices = bool(permute_l), bool(p_indices)
    parts = _lu_parts(_lu_p(a, permute_l=permute_l, p_indices=p_indices), a.shape, permute_l, p_indices)
    if permute_l:
        return parts[0], parts[1]
    p = np.real(np.asarray(strip(parts[2])))
    p = p.astype(np.int32) if p_indices else p.astype(np.finfo(p.dtype).dtype)
    return p, parts[0], parts[1]


_route("lu", lu)

# ---------------------------------------------------------------- det, inv


def _det_raw(a):
    return ORIGINALS["det"](a, check_finite=False)


def _inv_raw(a, assume=None, lower=False):
    return ORIGINALS["inv"](a, check_finite=False, assume_a=assume, lower=lower)


def sp_inv_vjp(g, ans, a, assume=None, lower=False):
    """``M̄ = -X^H ḡ X^H`` for ``X = M^{-1}``, onto the entries of ``a`` SciPy reads (as in solve)."""
    return _structure_adjoint(inv_vjp(g, ans, a), assume, lower)


def sp_inv_jvp(t, ans, a, assume=None, lower=False):
    return inv_jvp(_structure(t, assume, lower), ans, a)


_det_p = defvjp(_det_raw, [det_vjp], [det_jvp], name="scipy.linalg.det", key=False)
_inv_p = defvjp(_inv_raw, [sp_inv_vjp], [sp_inv_jvp], name="scipy.linalg.inv", key=False)


def det(a, overwrite_a=False, check_finite=True):
    a = array_like(a)
    if a.ndim < 2:
        ORIGINALS["det"](strip(a))
    return _det_p(a)


def inv(a, overwrite_a=False, check_finite=True, *, assume_a=None, lower=False):
    """``inv(M)`` for the matrix ``M`` SciPy reads under ``assume_a`` (a triangle, mirrored, ...)."""
    a = array_like(a)
    if a.ndim < 2 or assume_a not in _STRUCTURES:
        ORIGINALS["inv"](strip(a), assume_a=assume_a, lower=lower)
    return _inv_p(a, assume=assume_a, lower=bool(lower))


_route("det", det)
_route("inv", inv)
