"""Rules: ``scipy.linalg`` solvers, factorisations, decompositions and special matrices.

SciPy converts its inputs with ``np.asarray``, so each public function is intercepted
(:mod:`pullback.intercept`); its traced calls reach the rules below, its plain calls run
SciPy's code unchanged. Functions SciPy wraps for batching (``cholesky``, ``svd``, ...)
cannot be changed in place: their names on ``scipy.linalg`` and on the private module are
replaced (a reference taken before ``import pullback`` raises pullback's conversion error
rather than returning a wrong gradient). Matrix functions live in
:mod:`pullback.rules.scipy_linalg_matfun`.

**Values are SciPy's own.** Every rule whose value could differ in rounding from a NumPy
formula (another LAPACK driver, Levinson recursion, BLAS ``nrm2``) is a primitive whose
value is computed by SciPy's original function; its reverse and forward rules are formulas
written in NumPy calls (or calls of the public SciPy functions, intercepted in turn), so
higher derivatives come free. Where SciPy's code is itself plain NumPy (``toeplitz``,
``circulant``, ``hankel``, ``block_diag``, ``pinv``, ``null_space``, ``orth``,
``solve_circulant``), the rule is the same code on traced arrays: same operations, same bits.
A few primitives take their derivatives from an equivalent NumPy formula differentiated by
pullback itself (:func:`_exact`: ``norm``, ``lstsq``, ``expm_frechet``): the formula runs
again in the backward pass, so those cost about twice their forward.

**Solves** (``solve``, ``solve_triangular``, ``cho_solve``, ``lu_solve``, ``solve_banded``,
``solveh_banded``, ``solve_toeplitz``): with ``x = M^{-1} b`` for the matrix ``M`` SciPy's
solver actually reads (a triangle, a band, the mirrored triangle of ``assume_a="sym"``/
``"her"``/``"pos"``), ``b̄ = M^{-H} ḡ`` and ``M̄ = -b̄ x^H``, mapped back onto the entries
read (the adjoint of the structure map: off-diagonal entries of a mirrored triangle count
twice, the diagonal of a Hermitian one its real part). The adjoint solve is SciPy's own with
the transposed option where one exists (``transposed=True``, ``trans=``, swapped ``(l, u)``,
``c``/``r``), so it reuses the structure: ``cho_solve``'s and ``lu_solve``'s adjoints solve
with the *same factors* (O(n^2) per column), ``solve_toeplitz``'s is Levinson again (O(n^2))
and its ``c``/``r`` cotangents are correlations summed by FFT (no n x n matrix is formed),
``solve_banded``'s work only on the bands. ``solve`` keeps no factors (SciPy returns none):
its adjoint is one more ``solve`` with ``transposed=True``. With ``assume_a=None`` (SciPy
detects the structure) the gradient is the general one: the detected structure is exact zeros,
and a perturbation off it moves SciPy back to the general solver.

**Factorisations.** ``cho_factor``: the factor's triangle differentiates as ``cholesky``; the
other triangle holds ``a``'s own entries, passed through (identity). ``lu_factor``/``lu``:
``P A = L U`` with the permutation piecewise constant, ``F = L^{-1} P dA U^{-1}``,
``dL = L tril(F, -1)``, ``dU = triu(F) U`` (square matrices only). ``cho_solve`` and
``lu_solve`` differentiate in the factors too (``dA = dU^H U + U^H dU``, ``P^T(dL U + L dU)``).

**Decompositions** (``svd``, ``svdvals``, ``eigh``, ``eigvalsh``, ``eig``, ``eigvals``,
``qr``, ``cholesky``) use :mod:`pullback.rules.linalg_decomp`'s formulas and conventions
unchanged: :class:`GaugeError` for a loss that depends on the phase of a complex vector, on a
vector of a repeated value one by one or on the basis of the extra columns of complete
bases; pairs whose gap is below ``10 n eps max|value|`` count as repeated (coupling 0, never
inf); ``1/s`` below ``max(m, n) eps s_max`` is 0. ``eigh`` with ``b=`` (type 1, ``A v = w B
v``, ``V^H B V = I``): with ``C = V^H dA V``, ``D = V^H dB V``, ``dw = diag(C) - w diag(D)``,
``dV = V Ω``, ``Ω_ij = (C_ij - w_j D_ij) / (w_j - w_i)``, ``Ω_ii = -D_ii / 2``.
``subset_by_index`` with vectors: the reverse and forward rules need the whole eigenbasis (the
coupling to the eigenvectors not returned), so they compute it (one more ``eigh``, with the
returned vectors put in their place); values only need just the returned vectors.
Values-only functions (``svdvals``, ``eigvalsh``, ``eigvals``, ``compute_uv=False``,
``eigvals_only=True``) run SciPy's cheaper driver forward and compute the vectors in the
backward pass. ``qr(pivoting=True)``: ``A P = Q R`` with the column permutation piecewise
constant, so it is ``qr`` of ``A[:, p]``.

**Special matrices** (``toeplitz``, ``circulant``, ``hankel``, ``block_diag``) are linear
gathers: composites of indexing, their adjoints scatter-adds. (``scipy.linalg.kron`` is gone
from SciPy 1.17; ``numpy.kron`` has its rule.)

**Gauge-dependent outputs built on the svd.** ``null_space`` and ``orth`` return an
orthonormal basis of a subspace, defined up to a rotation inside it; a loss that sees it
through the projector ``Q Q^H`` (or any rotation-invariant function) has a gradient, and
the svd rule raises :class:`GaugeError` otherwise (the extra rows of a full ``Vh``, or
vectors of the repeated zero singular value one by one).

Unsupported options raise :class:`pullback.NoRuleError` naming them (``qr(mode="raw")``,
``eigh(type=2/3)``, ``subset_by_value``, ``eig(b=...)``/``left=True``/``homogeneous_eigvals``,
rectangular ``lu``/``lu_factor``, ``solve_circulant(singular="lstsq")`` with a singular
matrix, batched ``solve_toeplitz``).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import scipy.linalg as SL

from ..core import Tracer, strip
from ..errors import NoRuleError
from ..intercept import original, route
from .linalg import _col, _drop, _mH, _mT, _real
from .linalg import det_jvp, det_vjp, inv_jvp, inv_vjp
from .linalg_decomp import (
    _diag,
    _diag_embed,
    _gauge_check,
    _degenerate_check,
    _herm_from_triangle,
    _herm_lower,
    _inv_gaps,
    _near_mask,
    _pack,
    _right_tri_inv,
    _unpack,
    _zero,
    cholesky_jvp,
    cholesky_vjp,
    eig_jvp,
    eig_vjp,
    qr_jvp,
    qr_vjp,
    svd_jvp,
    svd_vjp,
    trisolve,
)
from .registry import _conj, array_like, defcomposite, defvjp, strip_tree

#: the untouched SciPy functions, by public name
ORIGINALS: dict[str, object] = {}


def _orig(name):
    return ORIGINALS[name]


def _scipy_errors(name):
    """A rule whose bad input raises what SciPy's own function raises (type and message)."""

    def decorate(impl):
        @functools.wraps(impl)
        def checked(*args, **kwargs):
            try:
                return impl(*args, **kwargs)
            except (ValueError, np.linalg.LinAlgError):
                ORIGINALS[name](*strip_tree(args), **strip_tree(kwargs))
                raise

        return checked

    return decorate


def _route(name, handler):
    """Register ``handler`` (a composite) for ``scipy.linalg.<name>`` and intercept it."""
    func = getattr(SL, name)
    ORIGINALS[name] = original(func)
    defcomposite(func, _scipy_errors(name)(handler))
    route(func)


def _plain_args(args):
    return tuple(strip_tree(a) for a in args)


def _matrix_rhs(b, x):
    """``x`` as a stack of matrices (a vector right-hand side gets a trailing axis)."""
    return _col(x) if b.ndim == 1 else x


def _tri(x, lower, k=0):
    return np.tril(x, -k) if lower else np.triu(x, k)


def _band_mask(n, lo, up, dtype):
    i = np.arange(n)
    d = i[:, None] - i[None, :]
    return ((d <= lo) & (-d <= up)).astype(np.real(np.zeros((), dtype)).dtype)


# ---------------------------------------------------------------- value from SciPy, derivatives
# from an equivalent NumPy formula differentiated by pullback (two forward evaluations)


def _exact(name, raw, formula, nargs):
    """A primitive whose value is ``raw(*args, **kw)`` and whose derivatives are those of
    ``formula(*args, ans=plain value, **kw)`` (same value to rounding), per argument."""
    from ..api import jvp as _jvp
    from ..api import pullback as _pullback

    def make_vjp(i):
        def exact_vjp(g, ans, *args, **kw):
            plain = strip(ans)

            def at(xi):
                full = list(args)
                full[i] = xi
                return formula(*full, ans=plain, **kw)

            return _pullback(at, args[i])[1](g)[0]

        exact_vjp.__name__ = exact_vjp.__qualname__ = f"{name}_vjp_{i}"
        return exact_vjp

    def make_jvp(i):
        def exact_jvp(t, ans, *args, **kw):
            plain = strip(ans)

            def at(xi):
                full = list(args)
                full[i] = xi
                return formula(*full, ans=plain, **kw)

            return _jvp(at, (args[i],), (t,))[1]

        exact_jvp.__name__ = exact_jvp.__qualname__ = f"{name}_jvp_{i}"
        return exact_jvp

    return defvjp(raw, [make_vjp(i) for i in range(nargs)], [make_jvp(i) for i in range(nargs)],
                  name=f"scipy.linalg.{name}", key=False)


# ---------------------------------------------------------------- special matrices (gathers)


def toeplitz(c, r=None):
    """SciPy's gather: ``vals = [c[::-1], r[1:]]``, ``A[..., i, j] = vals[..., m - 1 - i + j]``."""
    c = np.atleast_1d(array_like(c))
    r = _conj(c) if r is None else np.atleast_1d(array_like(r))
    if c.ndim > 1 or r.ndim > 1:
        batch = np.broadcast_shapes(c.shape[:-1], r.shape[:-1])
        c = np.broadcast_to(c, batch + c.shape[-1:])
        r = np.broadcast_to(r, batch + r.shape[-1:])
    m, n = c.shape[-1], r.shape[-1]
    vals = np.concatenate((np.flip(c, axis=-1), r[..., 1:]), axis=-1)
    idx = (m - 1) - np.arange(m)[:, None] + np.arange(n)[None, :]
    return vals[..., idx]


def circulant(c):
    """``A[..., i, j] = c[..., (i - j) mod n]``."""
    c = np.atleast_1d(array_like(c))
    n = c.shape[-1]
    idx = (np.arange(n)[:, None] - np.arange(n)[None, :]) % n
    return c[..., idx]


def hankel(c, r=None):
    """``vals = [c, r[1:]]``, ``A[i, j] = vals[i + j]`` (inputs raveled, as SciPy 1.17 does)."""
    c = array_like(c)
    r = np.zeros_like(c) if r is None else array_like(r)
    if c.ndim > 1 or r.ndim > 1:
        ORIGINALS["hankel"](*_plain_args((c, r)))  # SciPy's FutureWarning
    c, r = np.ravel(c), np.ravel(r)
    vals = np.concatenate((c, r[1:]))
    idx = np.arange(c.shape[0])[:, None] + np.arange(r.shape[0])[None, :]
    return vals[idx]


def block_diag(*arrs):
    """Blocks on the diagonal of a zero matrix (SciPy's dtype and batch broadcasting)."""
    if arrs == ():
        arrs = ([],)
    arrs = [array_like(a) for a in arrs]
    arrs = [np.reshape(a, (1,) * (2 - a.ndim) + a.shape) if a.ndim < 2 else a for a in arrs]
    batch = np.broadcast_shapes(*[a.shape[:-2] for a in arrs])
    arrs = [np.broadcast_to(a, batch + a.shape[-2:]) for a in arrs]
    dtype = np.result_type(*[strip(a) for a in arrs])
    cols = sum(a.shape[-1] for a in arrs)
    rows, c0 = [], 0
    for a in arrs:
        rr, cc = a.shape[-2:]
        left = np.zeros(batch + (rr, c0), dtype=dtype)
        right = np.zeros(batch + (rr, cols - c0 - cc), dtype=dtype)
        rows.append(np.concatenate([left, a.astype(dtype) if a.dtype != dtype else a, right], axis=-1))
        c0 += cc
    return np.concatenate(rows, axis=-2)


_route("toeplitz", toeplitz)
_route("circulant", circulant)
_route("hankel", hankel)
_route("block_diag", block_diag)

# ---------------------------------------------------------------- solve (every assume_a)

_GENERAL = (None, "gen", "general", "banded")
_SYM = ("sym", "symmetric")
_HER = ("her", "hermitian", "pos", "positive definite")
_STRUCTURES = _GENERAL + _SYM + _HER + ("diagonal", "tridiagonal", "upper triangular", "lower triangular")


def _structure(a, assume, lower):
    """The matrix SciPy's solver reads, as a differentiable function of ``a``."""
    if assume in _GENERAL:
        return a
    if assume == "diagonal":
        return _diag_embed(_diag(a))
    if assume == "tridiagonal":
        return a * _band_mask(a.shape[-1], 1, 1, a.dtype)
    if assume == "upper triangular":
        return np.triu(a)
    if assume == "lower triangular":
        return np.tril(a)
    if assume in _SYM:
        off = _tri(a, lower, 1)
        return off + _mT(off) + _diag_embed(_diag(a))
    if a.dtype.kind != "c":  # real 'her'/'pos': the symmetric matrix of one triangle
        off = _tri(a, lower, 1)
        return off + _mT(off) + _diag_embed(_diag(a))
    return _herm_from_triangle(a, lower)


def _structure_adjoint(G, assume, lower):
    """The adjoint of :func:`_structure`: a matrix cotangent onto the entries read."""
    if assume in _GENERAL:
        return G
    if assume == "diagonal":
        return _diag_embed(_diag(G))
    if assume == "tridiagonal":
        return G * _band_mask(G.shape[-1], 1, 1, G.dtype)
    if assume == "upper triangular":
        return np.triu(G)
    if assume == "lower triangular":
        return np.tril(G)
    if assume in _SYM:
        return (G + _mT(G)) * _half(G.shape[-1], G.dtype, lower)
    return _herm_lower(G, lower)


def _half(n, dtype, lower):
    m = np.tri(n, dtype=np.real(np.zeros((), dtype)).dtype)
    if not lower:
        m = m.T.copy()
    m.flat[:: n + 1] = 0.5
    return m


_FLIP_TRI = {"upper triangular": "lower triangular", "lower triangular": "upper triangular"}


def _solve_adjoint(a, G, assume, lower, transposed):
    """``M^{-H} G`` with SciPy's solver (transposed for real matrices: no copy of ``a``)."""
    if a.dtype.kind != "c":
        return SL.solve(a, G, lower=lower, assume_a=assume, transposed=not transposed)
    if assume in _HER:
        return SL.solve(a, G, lower=lower, assume_a=assume)
    if assume in _SYM:
        return SL.solve(_conj(a), G, lower=lower, assume_a=assume)
    return SL.solve(_mH(a), G, lower=not lower, assume_a=_FLIP_TRI.get(assume, assume))


def _solve_raw(a, b, assume=None, lower=False, transposed=False):
    return ORIGINALS["solve"](a, b, lower=lower, assume_a=assume, transposed=transposed,
                              check_finite=False)


def sp_solve_vjp_a(g, ans, a, b, assume=None, lower=False, transposed=False):
    X = _matrix_rhs(b, ans)
    gB = _solve_adjoint(a, _matrix_rhs(b, g), assume, lower, transposed)
    GM = -np.matmul(X, _mH(gB)) if transposed else -np.matmul(gB, _mH(X))
    return _structure_adjoint(GM, assume, lower)


def sp_solve_vjp_b(g, ans, a, b, assume=None, lower=False, transposed=False):
    gB = _solve_adjoint(a, _matrix_rhs(b, g), assume, lower, transposed)
    return _drop(gB) if b.ndim == 1 else gB


def sp_solve_jvp_a(t, ans, a, b, assume=None, lower=False, transposed=False):
    dM = _structure(t, assume, lower)
    r = -np.matmul(_mT(dM) if transposed else dM, _matrix_rhs(b, ans))
    dx = SL.solve(a, r, lower=lower, assume_a=assume, transposed=transposed)
    return _drop(dx) if b.ndim == 1 else dx


def sp_solve_jvp_b(t, ans, a, b, assume=None, lower=False, transposed=False):
    return SL.solve(a, t, lower=lower, assume_a=assume, transposed=transposed)


_solve_p = defvjp(_solve_raw, [sp_solve_vjp_a, sp_solve_vjp_b], [sp_solve_jvp_a, sp_solve_jvp_b],
                  name="scipy.linalg.solve", key=False)


def solve(a, b, lower=False, overwrite_a=False, overwrite_b=False, check_finite=True, assume_a=None,
          transposed=False):
    a, b = array_like(a), array_like(b)
    if assume_a not in _STRUCTURES or a.ndim < 2 or b.ndim < 1:
        ORIGINALS["solve"](*_plain_args((a, b)), lower=lower, assume_a=assume_a, transposed=transposed)
        raise NoRuleError("scipy.linalg.solve of a scalar or 1-d a")
    return _solve_p(a, b, assume=assume_a, lower=bool(lower), transposed=bool(transposed))


_route("solve", solve)

# ---------------------------------------------------------------- solve_triangular


def _trans_code(trans):
    code = {0: 0, 1: 1, 2: 2, "N": 0, "T": 1, "C": 2}.get(trans)
    if code is None:
        raise ValueError("incorrect trans")
    return code


def _op(m, code):
    return m if code == 0 else (_mT(m) if code == 1 else _mH(m))


def _tri_struct(a, lower, unit):
    return _tri(a, lower, 1 if unit else 0)


def _trisolve_raw(a, b, trans=0, lower=False, unit=False):
    return ORIGINALS["solve_triangular"](a, b, trans=trans, lower=lower, unit_diagonal=unit,
                                         check_finite=False)


def _tri_adjoint_solve(a, G, trans, lower, unit):
    """``op(M)^{-H} G`` with the same triangle."""
    cplx = a.dtype.kind == "c" or G.dtype.kind == "c"
    if trans == 0:
        return SL.solve_triangular(a, G, trans=2 if cplx else 1, lower=lower, unit_diagonal=unit)
    if trans == 2 or not cplx:
        return SL.solve_triangular(a, G, trans=0, lower=lower, unit_diagonal=unit)
    return _conj(SL.solve_triangular(a, _conj(G), trans=0, lower=lower, unit_diagonal=unit))


def _tri_grad_m(gB, X, trans):
    """Cotangent of ``M`` from ``b̄ = op(M)^{-H} ḡ`` and ``x`` (``x = op(M)^{-1} b``)."""
    if trans == 0:
        return -np.matmul(gB, _mH(X))
    if trans == 1:
        return -_conj(np.matmul(X, _mH(gB)))
    return -np.matmul(X, _mH(gB))


def sp_trisolve_vjp_a(g, ans, a, b, trans=0, lower=False, unit=False):
    gB = _tri_adjoint_solve(a, _matrix_rhs(b, g), trans, lower, unit)
    return _tri_struct(_tri_grad_m(gB, _matrix_rhs(b, ans), trans), lower, unit)


def sp_trisolve_vjp_b(g, ans, a, b, trans=0, lower=False, unit=False):
    gB = _tri_adjoint_solve(a, _matrix_rhs(b, g), trans, lower, unit)
    return _drop(gB) if b.ndim == 1 else gB


def sp_trisolve_jvp_a(t, ans, a, b, trans=0, lower=False, unit=False):
    dM = _op(_tri_struct(t, lower, unit), trans)
    dx = SL.solve_triangular(a, -np.matmul(dM, _matrix_rhs(b, ans)), trans=trans, lower=lower,
                             unit_diagonal=unit)
    return _drop(dx) if b.ndim == 1 else dx


def sp_trisolve_jvp_b(t, ans, a, b, trans=0, lower=False, unit=False):
    return SL.solve_triangular(a, t, trans=trans, lower=lower, unit_diagonal=unit)


_trisolve_p = defvjp(
    _trisolve_raw, [sp_trisolve_vjp_a, sp_trisolve_vjp_b], [sp_trisolve_jvp_a, sp_trisolve_jvp_b],
    name="scipy.linalg.solve_triangular", key=False,
)


def solve_triangular(a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False,
                     check_finite=True):
    a, b = array_like(a), array_like(b)
    if a.ndim < 2 or b.ndim < 1:
        ORIGINALS["solve_triangular"](*_plain_args((a, b)), trans=trans, lower=lower)
    return _trisolve_p(a, b, trans=_trans_code(trans), lower=bool(lower), unit=bool(unit_diagonal))


_route("solve_triangular", solve_triangular)

# ---------------------------------------------------------------- cholesky, cho_factor, cho_solve


def _cholesky_raw(a, lower=False):
    return ORIGINALS["cholesky"](a, lower=lower, check_finite=False)


def sp_cholesky_vjp(g, ans, a, lower=False):
    return cholesky_vjp(g, ans, a, upper=not lower)


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
    """The factor's triangle as ``cholesky``; the other (``a``'s own entries) passes through."""
    return cholesky_vjp(_tri(g, lower), _tri(ans, lower), a, upper=not lower) + _tri(g, not lower, 1)


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
    return SL.cho_solve((c, lower), g)


def cho_solve_vjp_c(g, ans, c, b, lower=False):
    """``A = U^H U``: ``Ā = -b̄ x^H`` (``b̄ = A^{-1} ḡ``, same factors), ``Ū = triu(U (Ā + Ā^H))``."""
    gB = _cho(c, lower, g)
    GA = -np.matmul(_matrix_rhs(b, gB), _mH(_matrix_rhs(b, ans)))
    S = GA + _mH(GA)
    F = _tri(c, lower)
    return _tri(np.matmul(S, F) if lower else np.matmul(F, S), lower)


def cho_solve_vjp_b(g, ans, c, b, lower=False):
    return _cho(c, lower, g)  # A is Hermitian: the adjoint solve uses the same factors


def cho_solve_jvp_c(t, ans, c, b, lower=False):
    F, dF = _tri(c, lower), _tri(t, lower)
    dA = np.matmul(dF, _mH(F)) + np.matmul(F, _mH(dF)) if lower else np.matmul(_mH(dF), F) + np.matmul(_mH(F), dF)
    dx = _cho(c, lower, -np.matmul(dA, _matrix_rhs(b, ans)))
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
        return SL.lu_solve((lu, piv), G, trans=2 if cplx else 1)
    if trans == 2 or not cplx:
        return SL.lu_solve((lu, piv), G, trans=0)
    return _conj(SL.lu_solve((lu, piv), _conj(G), trans=0))


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
    dx = SL.lu_solve((lu, piv), -np.matmul(_op(dA, trans), _matrix_rhs(b, ans)), trans=trans)
    return _drop(dx) if b.ndim == 1 else dx


def lu_solve_jvp_b(t, ans, lu, piv, b, trans=0):
    return SL.lu_solve((lu, piv), t, trans=trans)


_lu_solve_p = defvjp(_lu_solve_raw, [lu_solve_vjp_lu, None, lu_solve_vjp_b],
                     [lu_solve_jvp_lu, None, lu_solve_jvp_b], name="scipy.linalg.lu_solve", key=False)


def lu_solve(lu_and_piv, b, trans=0, overwrite_b=False, check_finite=True):
    lu, piv = lu_and_piv
    lu, b = array_like(lu), array_like(b)
    if lu.ndim < 2 or b.ndim < 1:
        ORIGINALS["lu_solve"]((strip(lu), strip(piv)), strip(b), trans=trans)
    return _lu_solve_p(lu, np.asarray(strip(piv)), b, trans=_trans_code(trans))


_route("lu_solve", lu_solve)


def _lu_raw(a, permute_l=False, p_indices=False):
    out = ORIGINALS["lu"](a, permute_l=permute_l, p_indices=p_indices, check_finite=False)
    if permute_l:
        pl, u = out
        return _pack([pl, u], a.shape[:-2])
    p, l, u = out
    return _pack([l, u, p.astype(l.dtype)], a.shape[:-2])


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


def _inv_raw(a):
    return ORIGINALS["inv"](a, check_finite=False)


_det_p = defvjp(_det_raw, [det_vjp], [det_jvp], name="scipy.linalg.det", key=False)
_inv_p = defvjp(_inv_raw, [inv_vjp], [inv_jvp], name="scipy.linalg.inv", key=False)


def det(a, overwrite_a=False, check_finite=True):
    a = array_like(a)
    if a.ndim < 2:
        ORIGINALS["det"](strip(a))
    return _det_p(a)


def inv(a, overwrite_a=False, check_finite=True, *args, **kwargs):
    a = array_like(a)
    if args or kwargs:
        raise NoRuleError(f"scipy.linalg.inv with {sorted(kwargs) or 'extra arguments'}")
    if a.ndim < 2:
        ORIGINALS["inv"](strip(a))
    return _inv_p(a)


_route("det", det)
_route("inv", inv)

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
    u, _, vh = SL.svd(a, full_matrices=False)
    return np.matmul(u * _row_of(g), vh)


def svdvals_jvp(t, ans, a, driver="gesdd"):
    u, _, vh = SL.svd(a, full_matrices=False)
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
    wf, Vf = SL.eigh(a, b, lower=lower)
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
    return w if eigvals_only else (w, v)


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
    w, V = SL.eig(a)
    VH = _mH(V)
    return np.linalg.solve(VH, _col(g) * VH)


def eigvals_jvp(t, ans, a):
    w, V = SL.eig(a)
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
        q = SL.qr(a, mode="economic")[0]
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
            dR = np.concatenate([dR, np.zeros(batch + (R.shape[-2] - k, R.shape[-1]), dtype=dR.dtype)], axis=-2)
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
    M, N = u.shape[0], vh.shape[1]
    sp = np.asarray(strip(s))
    if rcond is None:
        rcond = np.finfo(sp.dtype).eps * max(M, N)
    tol = np.amax(sp, initial=0.0) * rcond
    num = np.sum(sp > tol, dtype=int)
    return _conj(_mT(vh[num:, :]))


def orth(A, rcond=None):
    A = array_like(A)
    if A.ndim > 2:
        return np.stack([orth(A[i], rcond) for i in np.ndindex(A.shape[:-2])]).reshape(
            A.shape[:-2] + (A.shape[-2], -1))
    u, s, vh = _svd_full(A, False)
    M, N = u.shape[0], vh.shape[1]
    sp = np.asarray(strip(s))
    if rcond is None:
        rcond = np.finfo(sp.dtype).eps * max(M, N)
    tol = np.amax(sp, initial=0.0) * rcond
    num = np.sum(sp > tol, dtype=int)
    return u[:, :num]


_route("pinv", pinv)
_route("null_space", null_space)
_route("orth", orth)

# ---------------------------------------------------------------- norm, lstsq (SciPy's value; the
# derivatives of numpy.linalg's equivalent formulas)


def _norm_raw(a, ord=None, axis=None, keepdims=False):
    return np.asarray(ORIGINALS["norm"](a, ord=ord, axis=axis, keepdims=keepdims, check_finite=False))


def _norm_formula(a, ord=None, axis=None, keepdims=False, ans=None):
    return np.linalg.norm(a, ord=ord, axis=axis, keepdims=keepdims)


_norm_p = _exact("norm", _norm_raw, _norm_formula, 1)


def norm(a, ord=None, axis=None, keepdims=False, check_finite=True):
    a = array_like(a)
    return _norm_p(a, ord=ord, axis=axis, keepdims=keepdims)


_route("norm", norm)


def _lstsq_raw(a, b, cond=None, driver=None):
    x, res, rank, s = ORIGINALS["lstsq"](a, b, cond=cond, lapack_driver=driver, check_finite=False)
    dt = x.dtype
    return np.concatenate([np.ravel(x), np.ravel(res).astype(dt), np.ravel(s).astype(dt),
                           np.array([rank], dtype=dt)])


def _lstsq_formula(a, b, cond=None, driver=None, ans=None):
    """``x = V_r S_r^{-1} U_r^H b`` at SciPy's rank; residues ``|b - a x|^2``; ``s``."""
    m, n = a.shape
    k = min(m, n)
    rank = int(np.real(ans[-1]))
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    B = _col(b) if b.ndim == 1 else b
    x = np.matmul(_mH(vh[:rank]), np.matmul(_mH(u[:, :rank]), B) / _col(s[:rank]))
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

# ---------------------------------------------------------------- solve_circulant (SciPy's NumPy code)


def solve_circulant(c, b, singular="raise", tol=None, caxis=-1, baxis=0, outaxis=0):
    """SciPy's FFT solve written on traced arrays (same operations, same value): O(N log N)
    both ways. Near-singular eigenvalues with ``singular="lstsq"`` are replaced by 1 and the
    quotient by 0, as SciPy does (a fixed mask)."""
    c = np.atleast_1d(array_like(c))
    b = np.atleast_1d(array_like(b))
    nc = c.shape[caxis]
    nb = b.shape[baxis]
    if nc != nb or b.size == 0:
        return ORIGINALS["solve_circulant"](*_plain_args((c, b)), singular=singular, tol=tol, caxis=caxis,
                                            baxis=baxis, outaxis=outaxis)
    fc = np.fft.fft(np.moveaxis(c, caxis, -1), axis=-1)
    abs_fc = np.abs(strip(fc))
    if tol is None:
        tol = abs_fc.max(axis=-1) * nc * np.finfo(np.float64).eps
        tol = tol.reshape(tol.shape + (1,)) if tol.shape != () else np.atleast_1d(tol)
    near_zeros = abs_fc <= tol
    is_near_singular = np.any(near_zeros)
    if is_near_singular:
        if singular == "raise":
            raise np.linalg.LinAlgError("near singular circulant matrix.")
        fc = np.where(near_zeros, 1, fc)
    fb = np.fft.fft(np.moveaxis(b, baxis, -1), axis=-1)
    q = fb / fc
    if is_near_singular:
        mask = np.ones(strip(b).shape, dtype=bool) & near_zeros
        q = np.where(mask, 0, q)
    x = np.fft.ifft(q, axis=-1)
    if not (c.dtype.kind == "c" or b.dtype.kind == "c"):
        x = np.real(x)
    if outaxis != -1:
        x = np.moveaxis(x, -1, outaxis)
    return x


_route("solve_circulant", solve_circulant)

# ---------------------------------------------------------------- banded and Toeplitz solves


def _shift(v, s, n):
    """``w[j] = v[j + s]`` (0 outside ``0 <= j + s < n``) along the first axis."""
    if s == 0:
        return v
    z = np.zeros((abs(s),) + v.shape[1:], dtype=v.dtype)
    return np.concatenate([v[s:], z]) if s > 0 else np.concatenate([z, v[: n + s]])


def _shift_prod(Y, X, s):
    """``z[j] = Σ_k Y[j + s, k] conj(X[j, k])`` (0 where ``j + s`` is outside)."""
    n = X.shape[0]
    return np.sum(_shift(Y, s, n) * _conj(X), axis=1)


def _band_matvec(lo, up, ab, X):
    """``A X`` for ``A`` in LAPACK band storage ``ab[up + i - j, j] = A[i, j]`` (O(n (lo + up)))."""
    n = X.shape[0]
    y = None
    for r in range(lo + up + 1):
        s = r - up  # rows i = j + s
        t = _shift(_col(ab[r]) * X, -s, n)
        y = t if y is None else y + t
    return y


def _band_transpose(lo, up, ab):
    """Band storage of ``A^H`` (bandwidths ``(up, lo)``)."""
    n = ab.shape[-1]
    rows = [_shift(_conj(ab[lo + up - r]), r - lo, n) for r in range(lo + up + 1)]
    return np.stack(rows)


def _as_cols(x):
    return np.reshape(x, (x.shape[0], -1))


def _solve_banded_raw(ab, b, lo=0, up=0):
    return ORIGINALS["solve_banded"]((lo, up), ab, b, check_finite=False)


def solve_banded_vjp_ab(g, ans, ab, b, lo=0, up=0):
    """``ab̄[r, j] = Ā[j + r - up, j]`` with ``Ā = -b̄ x^H``: only the bands are formed."""
    Y = _as_cols(SL.solve_banded((up, lo), _band_transpose(lo, up, ab), g))
    X = _as_cols(ans)
    return -np.stack([_shift_prod(Y, X, r - up) for r in range(lo + up + 1)])


def solve_banded_vjp_b(g, ans, ab, b, lo=0, up=0):
    return SL.solve_banded((up, lo), _band_transpose(lo, up, ab), g)


def solve_banded_jvp_ab(t, ans, ab, b, lo=0, up=0):
    r = -_band_matvec(lo, up, t, _as_cols(ans))
    return SL.solve_banded((lo, up), ab, np.reshape(r, ans.shape))


def solve_banded_jvp_b(t, ans, ab, b, lo=0, up=0):
    return SL.solve_banded((lo, up), ab, t)


_solve_banded_p = defvjp(
    _solve_banded_raw, [solve_banded_vjp_ab, solve_banded_vjp_b], [solve_banded_jvp_ab, solve_banded_jvp_b],
    name="scipy.linalg.solve_banded", key=False,
)


def solve_banded(l_and_u, ab, b, overwrite_ab=False, overwrite_b=False, check_finite=True):
    lo, up = (int(v) for v in l_and_u)
    ab, b = array_like(ab), array_like(b)
    if ab.ndim != 2 or b.ndim not in (1, 2) or ab.shape[0] != lo + up + 1 or ab.shape[-1] < 2:
        out = ORIGINALS["solve_banded"]((lo, up), *_plain_args((ab, b)))
        raise NoRuleError(f"scipy.linalg.solve_banded with ab of shape {ab.shape} and b of shape {b.shape}"
                          f" (a result {np.shape(out)})")
    return _solve_banded_p(ab, b, lo=lo, up=up)


_route("solve_banded", solve_banded)


def _herm_band_general(ab, lower):
    """General band storage (``(w, w)``) of the Hermitian matrix whose triangle ``ab`` stores."""
    w = ab.shape[0] - 1
    n = ab.shape[-1]
    diag = ab[0] if lower else ab[w]
    diag = np.real(diag) if ab.dtype.kind == "c" else diag
    rows = []
    for r in range(2 * w + 1):
        s = r - w  # A[j + s, j]
        if s == 0:
            rows.append(diag + 0 * ab[0])
        elif lower:  # stored ab[i - j, j] for i >= j
            rows.append(ab[s] if s > 0 else _shift(_conj(ab[-s]), s, n))
        else:  # stored ab[w + i - j, j] for i <= j
            rows.append(ab[w + s] if s < 0 else _shift(_conj(ab[w - s]), s, n))
    return w, np.stack(rows)


def _solveh_banded_raw(ab, b, lower=False):
    return ORIGINALS["solveh_banded"](ab, b, lower=lower, check_finite=False)


def solveh_banded_vjp_ab(g, ans, ab, b, lower=False):
    """Stored entry ``(i, j)``: ``Ā[i, j] + conj(Ā[j, i])`` (the diagonal: ``Re Ā[i, i]``)."""
    Y = _as_cols(SL.solveh_banded(ab, g, lower=lower))  # Hermitian: the same solve
    X = _as_cols(ans)
    w = ab.shape[0] - 1
    rows = []
    for r in range(w + 1):
        s = r if lower else r - w
        v = _shift_prod(Y, X, s) + _shift_prod(X, Y, s)
        rows.append(-v / 2 if s == 0 else -v)
    return np.stack(rows)


def solveh_banded_vjp_b(g, ans, ab, b, lower=False):
    return SL.solveh_banded(ab, g, lower=lower)


def solveh_banded_jvp_ab(t, ans, ab, b, lower=False):
    w, tg = _herm_band_general(t, lower)
    r = -_band_matvec(w, w, tg, _as_cols(ans))
    return SL.solveh_banded(ab, np.reshape(r, ans.shape), lower=lower)


def solveh_banded_jvp_b(t, ans, ab, b, lower=False):
    return SL.solveh_banded(ab, t, lower=lower)


_solveh_banded_p = defvjp(
    _solveh_banded_raw, [solveh_banded_vjp_ab, solveh_banded_vjp_b], [solveh_banded_jvp_ab, solveh_banded_jvp_b],
    name="scipy.linalg.solveh_banded", key=False,
)


def solveh_banded(ab, b, overwrite_ab=False, overwrite_b=False, lower=False, check_finite=True):
    ab, b = array_like(ab), array_like(b)
    if ab.ndim != 2 or b.ndim not in (1, 2):
        ORIGINALS["solveh_banded"](*_plain_args((ab, b)), lower=lower)
        raise NoRuleError("scipy.linalg.solveh_banded of stacked matrices")
    return _solveh_banded_p(ab, b, lower=bool(lower))


_route("solveh_banded", solveh_banded)


def _toeplitz_matvec(c, r, X):
    """``T X`` for ``T = toeplitz(c, r)`` (``r[0]`` ignored) by a circulant embedding of size 2n."""
    n = c.shape[0]
    col = np.concatenate([c, np.zeros(1, dtype=c.dtype), np.flip(r[1:])])
    y = np.fft.ifft(_col(np.fft.fft(col)) * np.fft.fft(X, n=2 * n, axis=0), axis=0)[:n]
    if c.dtype.kind != "c" and r.dtype.kind != "c" and X.dtype.kind != "c":
        y = np.real(y)
    return y


def _correlate(Y, X):
    """``z[m] = Σ_{j,k} Y[j + m, k] conj(X[j, k])`` for ``-n < m < n`` (index ``m mod 2n``), by FFT."""
    n = X.shape[0]
    z = np.fft.ifft(np.sum(np.fft.fft(Y, n=2 * n, axis=0) * _conj(np.fft.fft(X, n=2 * n, axis=0)), axis=1))
    return z


def _solve_toeplitz_raw(c, r, b):
    return ORIGINALS["solve_toeplitz"]((c, r), b, check_finite=False)


def _toeplitz_adjoint(c, r, g):
    """``T^{-H} g``: ``T^H`` is the Toeplitz matrix of column ``conj([c0, r1..])``, row ``conj(c)``."""
    ch = _conj(np.concatenate([c[:1], r[1:]]))
    return SL.solve_toeplitz((ch, _conj(c)), g)


def _toeplitz_grads(g, ans, c, r):
    Y = _as_cols(_toeplitz_adjoint(c, r, g))
    X = _as_cols(ans)
    z = -_correlate(Y, X)
    if Y.dtype.kind != "c" and X.dtype.kind != "c":
        z = np.real(z)
    n = c.shape[0]
    return z[:n], np.concatenate([np.zeros(1, dtype=z.dtype), np.flip(z[n + 1 :])])


def solve_toeplitz_vjp_c(g, ans, c, r, b):
    """``T̄ = -y x^H`` summed along its diagonals (FFT correlations; no n x n matrix)."""
    return _toeplitz_grads(g, ans, c, r)[0]


def solve_toeplitz_vjp_r(g, ans, c, r, b):
    return _toeplitz_grads(g, ans, c, r)[1]


def solve_toeplitz_vjp_b(g, ans, c, r, b):
    return _toeplitz_adjoint(c, r, g)


def solve_toeplitz_jvp_c(t, ans, c, r, b):
    rhs = -_toeplitz_matvec(t, np.zeros_like(t), _as_cols(ans))
    return SL.solve_toeplitz((c, r), np.reshape(rhs, ans.shape))


def solve_toeplitz_jvp_r(t, ans, c, r, b):
    rhs = -_toeplitz_matvec(np.zeros_like(t), t, _as_cols(ans))
    return SL.solve_toeplitz((c, r), np.reshape(rhs, ans.shape))


def solve_toeplitz_jvp_b(t, ans, c, r, b):
    return SL.solve_toeplitz((c, r), t)


_solve_toeplitz_p = defvjp(
    _solve_toeplitz_raw, [solve_toeplitz_vjp_c, solve_toeplitz_vjp_r, solve_toeplitz_vjp_b],
    [solve_toeplitz_jvp_c, solve_toeplitz_jvp_r, solve_toeplitz_jvp_b], name="scipy.linalg.solve_toeplitz",
    key=False,
)


def solve_toeplitz(c_or_cr, b, check_finite=True):
    """Levinson (SciPy's value); ``r = conj(c)`` when only ``c`` is given, differentiated as such."""
    c, r = c_or_cr if isinstance(c_or_cr, tuple) else (c_or_cr, None)
    c = array_like(c)
    r = _conj(c) if r is None else array_like(r)
    b = array_like(b)
    if c.ndim != 1 or r.ndim != 1 or b.ndim not in (1, 2) or c.shape != r.shape or b.shape[0] != c.shape[0]:
        ORIGINALS["solve_toeplitz"]((strip(c), strip(r)), strip(b))
        raise NoRuleError("scipy.linalg.solve_toeplitz of stacked (batched) inputs")
    return _solve_toeplitz_p(c, r, b)


_route("solve_toeplitz", solve_toeplitz)
