"""A structured (lazy) cotangent of a triangular factor, and the O(n^2) + BLAS-3 Cholesky pullback
it allows.

A Cholesky factor ``L`` (``A = L L^H``; or ``U = L^H``) is typically read twice: by a solve with
it (``scipy.linalg.cho_solve``) and by its diagonal (``log det A = 2 sum log diag L``). Their
cotangents have structure that a dense ``n x n`` array hides:

- ``np.diagonal(L)``'s cotangent is ``diag(d)``;
- ``cho_solve((L, True), b)``'s cotangent of the factor is ``tril(S L)`` (``triu(U S)`` for an
  upper factor) with ``S = -(b̄ x^H + x b̄^H)`` Hermitian of rank ``<= 2k`` for ``k``
  right-hand sides (``b̄ = A^{-1} ḡ``, ``x = A^{-1} b``).

:class:`FactorCotangent` carries ``dense + diag(d) + tri(S F)`` unevaluated; the sweep adds such
terms in O(n) each, and materializes the sum (O(n^2 k)) before any pullback that does not take
it as it is. The Cholesky pullback does (``accepts_lazy``). Its formula is
``Ā = Φ_h(L^{-H} H L^{-1})`` with ``H = tril(N, -1) + tril(N, -1)^H + Re diag(N)``,
``N = L^H L̄`` (``Φ_h``: the triangle NumPy reads, diagonal halved). For the two terms above:

- ``L̄ = tril(S L)``: ``N = L^H S L - L^H triu(S L, 1)``; the second product is strictly upper
  triangular, so ``H = L^H S L`` and ``L^{-H} H L^{-1} = S``: no O(n^3) work at all (the
  solve's and the factorisation's pullbacks cancel to ``Ā = -b̄ x^H`` symmetrised).
- ``L̄ = diag(d)``: ``N = L^H diag(d)`` is upper triangular, ``H = diag(h)``,
  ``h_i = L_ii Re d_i``, and ``L^{-H} diag(h) L^{-1} = W^H diag(h) W`` with ``W = L^{-1}``:
  LAPACK's ``trtri`` (``n^3/3`` flops) and ``lauum`` (``W'^H W'`` for the row-scaled
  ``W' = diag(sqrt h) W``, ``n^3/3``; twice when ``h`` changes sign): the flops of ``potri``,
  which computes ``A^{-1}`` (the cotangent of ``log det A``) the same way.

The sum is formed on the triangle alone: ``S`` enters the ``lauum`` result as one rank-2k
update (``syr2k``/``her2k``) in place. Everything runs on Fortran-ordered transposes of C arrays
(no layout copies) and on arrays this module allocated: the factor and the cotangents are
never written.

Only plain 2-D NumPy arrays take this path (the factor being the very array the Cholesky
primitive returned, or ``cho_factor``'s packed array for its pullback); anything else (traced
cotangents in nested differentiation, batches, other array types, a dense part, a factor used
transposed) goes through the general formula, which the sweep gets by ``materialize()``.
Matrices under :data:`MIN_SIZE` keep dense cotangents.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg.blas as blas
import scipy.linalg.lapack as lapack

from ..core.trace import set_lazy

#: Matrices below this size keep dense cotangents (the structure saves nothing there).
MIN_SIZE = 64


def _real_dtype(dtype):
    return np.finfo(dtype).dtype


def _cast(v, dtype):
    """``v`` as the factor's dtype (a complex cotangent of a real value keeps its real part)."""
    if v.dtype.kind == "c" and np.dtype(dtype).kind != "c":
        v = v.real
    return v.astype(dtype, copy=False)


class FactorCotangent:
    """``dense + diag(d) + sum_k tri(S_k F)`` for a square triangular factor ``F``: ``tril(S F)``
    when ``lower``, else ``triu(F S)``; ``S_k = -(P_k Q_k^H + Q_k P_k^H)`` (``n x k`` blocks).

    Made by the pullbacks of ``np.diagonal`` (``diag(d)``, no factor yet) and of ``cho_solve``
    (the ``S`` terms, with the factor ``F`` it read). Only the sweep holds one; a sum extends it
    in place, a dense array added to it is kept by reference, never written.
    """

    __slots__ = ("shape", "dtype", "factor", "lower", "diag", "ps", "qs", "dense")
    __array_ufunc__ = None  # ndarray + FactorCotangent comes to __radd__

    def __init__(self, shape, dtype, diag=None, factor=None, lower=True, p=None, q=None):
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self.diag = None if diag is None else _cast(diag, self.dtype)
        self.factor, self.lower = factor, bool(lower)
        self.ps = [] if p is None else [p]
        self.qs = [] if q is None else [q]
        self.dense = None

    def __add__(self, other):
        if type(other) is FactorCotangent and (
            other.factor is None or self.factor is None
            or (other.factor is self.factor and other.lower == self.lower)
        ):
            if self.factor is None:
                self.factor, self.lower = other.factor, other.lower
            if other.diag is not None:
                self.diag = other.diag if self.diag is None else self.diag + other.diag
            self.ps = self.ps + other.ps
            self.qs = self.qs + other.qs
            other = other.dense
            if other is None:
                return self
        elif hasattr(other, "materialize"):  # another lazy kind, or a factor cotangent of another factor
            other = other.materialize()
        self.dense = other if self.dense is None else self.dense + other
        return self

    __radd__ = __add__

    def structured(self) -> bool:
        """No dense part: the value is ``diag(d) + tri(S F)`` alone."""
        return self.dense is None

    def _s_term(self):
        """``tri(S F)`` (``None`` when there is no ``S``), formed as ``n x k`` products: O(n^2 k)."""
        if not self.ps:
            return None
        P, Q = np.concatenate(self.ps, axis=-1), np.concatenate(self.qs, axis=-1)
        F = np.tril(self.factor) if self.lower else np.triu(self.factor)
        if self.lower:  # tril(S L) = -tril(P (L^H Q)^H + Q (L^H P)^H)
            Fh = F.conj().T
            return -np.tril(P @ (Fh @ Q).conj().T + Q @ (Fh @ P).conj().T)
        return -np.triu((F @ P) @ Q.conj().T + (F @ Q) @ P.conj().T)

    def materialize(self):
        out = self._s_term()
        if out is None:
            out = np.zeros(self.shape, dtype=self.dtype)
        else:
            out = _cast(out, self.dtype)
        if self.diag is not None:
            n = self.shape[-1]
            out.flat[:: n + 1] += self.diag
        return out if self.dense is None else out + self.dense  # (a dense part may be traced)


set_lazy(FactorCotangent)


def _inverse_gram(ans: np.ndarray, h: np.ndarray, upper: bool) -> np.ndarray | None:
    """``L^{-H} diag(h) L^{-1}`` (``L = ans``, or ``ans^H`` when ``upper``) on the triangle the
    factor occupies (the other one zero): ``trtri`` then ``lauum`` of the row-scaled inverse, twice
    when ``h`` changes sign. LAPACK works on the transposes (Fortran order, no layout copies):
    ``ans.T`` is read, never written (``trtri`` returns a new array), then worked in place. The
    other triangle is ``ans``'s own (copied by ``trtri``, kept by ``lauum``)."""
    real = _real_dtype(ans.dtype)
    trtri, lauum = lapack.get_lapack_funcs(("trtri", "lauum"), (ans,))
    lo = int(upper)  # the triangle of ans.T
    Vt, info = trtri(ans.T, lower=lo)  # (L^{-1})^T (or (U^{-1})^T): a new array
    if info != 0:
        return None
    parts = [(1, np.maximum(h, 0)), (-1, np.minimum(h, 0))]
    parts = [(sg, pt) for sg, pt in parts if np.any(pt)]
    out = None
    for k, (sign, part) in enumerate(parts):
        r = np.sqrt(np.abs(part)).astype(real, copy=False)
        r = r[:, None] if upper else r[None, :]
        Z = np.multiply(Vt, r, out=Vt) if k == len(parts) - 1 else Vt * r  # the last one in place
        R, info = lauum(Z, lower=lo, overwrite_c=1)
        if info != 0:
            return None
        M = R.T  # the Gram matrix's triangle, C order
        if out is None:
            out = M if sign > 0 else np.negative(M, out=M)
        elif sign > 0:
            out += M
        else:
            out -= M
    return out


def cholesky_vjp_structured(g: FactorCotangent, ans: np.ndarray, upper: bool,
                            packed: bool = False) -> np.ndarray | None:
    """The Cholesky pullback of a structured cotangent (module docstring), or None where it does
    not apply (then the caller materializes ``g``). Result: ``Φ_h(S + L^{-H} diag(h) L^{-1})``,
    zero on the other triangle. ``packed``: ``ans`` is ``cho_factor``'s array, whose other
    triangle holds ``a``'s entries (read by nobody here; the result's other triangle is zeroed)."""
    if not g.structured() or type(ans) is not np.ndarray or ans.ndim != 2 or ans.dtype.kind not in "fc":
        return None
    if g.ps and (g.factor is not ans or g.lower == upper):
        return None
    n = ans.shape[-1]
    dtype = ans.dtype
    out = None
    if g.diag is not None:
        h = np.real(np.diagonal(ans)) * np.real(g.diag)  # h_i = L_ii Re d_i (L_ii real, > 0)
        if np.any(h):
            out = _inverse_gram(ans, h, upper)
            if out is None:
                return None
            if packed:  # trtri and lauum kept the copied other triangle (a's entries, finite)
                np.copyto(out, 0, where=~np.tri(n, dtype=bool) if not upper else ~np.tri(n, dtype=bool).T)
    if out is None:
        out = np.zeros((n, n), dtype=dtype)
    if g.ps:
        # out += S = -(P Q^H + Q P^H) on its triangle: one rank-2k update (syr2k / her2k) of out's
        # Fortran-ordered transpose R, whose triangle holds conj(S)'s: R -= A B^H + B A^H with
        # A = conj(P), B = conj(Q); the other triangle stays zero
        P, Q = np.concatenate(g.ps, axis=-1), np.concatenate(g.qs, axis=-1)
        cplx = dtype.kind == "c"
        r2k = blas.get_blas_funcs("her2k" if cplx else "syr2k", (out,))
        R = out.T if out.flags.c_contiguous else np.asfortranarray(out.T)
        R = r2k(-1.0, P.conj() if cplx else P, Q.conj() if cplx else Q, beta=1.0, c=R,
                lower=int(upper), overwrite_c=1)
        out = R.T
    d = out.flat[:: n + 1]  # a copy
    out.flat[:: n + 1] = np.real(d) * 0.5
    return out
