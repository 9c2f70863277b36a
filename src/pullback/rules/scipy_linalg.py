"""Rules: ``scipy.linalg`` solves and special matrices; the shared machinery of the family.

SciPy converts its inputs with ``np.asarray``, so each public function is intercepted
(:mod:`pullback.intercept`); its traced calls reach the rules, its plain calls run SciPy's
code unchanged. Functions SciPy wraps for batching (``cholesky``, ``svd``, ...) cannot be
changed in place: their names on ``scipy.linalg`` and on the private module are replaced (a
reference taken before ``import pullback`` raises pullback's conversion error rather than
returning a wrong gradient). The family's other modules: factorisations
(:mod:`~pullback.rules.scipy_linalg_factor`), decompositions
(:mod:`~pullback.rules.scipy_linalg_decomp`), matrix functions and equations
(:mod:`~pullback.rules.scipy_linalg_matfun`).

**Values are SciPy's own.** Every rule whose value could differ in rounding from a NumPy
formula (another LAPACK driver, Levinson recursion, BLAS ``nrm2``) is a primitive whose
value is computed by SciPy's original function; its reverse and forward rules are formulas
written in NumPy calls or calls of the public SciPy functions (intercepted in turn), so
higher derivatives come free. Where SciPy's code is itself plain NumPy (``toeplitz``,
``circulant``, ``hankel``, ``block_diag``, ``pinv``, ``null_space``, ``orth``,
``solve_circulant``), the rule is the same code on traced arrays: same operations, same bits.
A few primitives take their derivatives from an equivalent NumPy formula differentiated by
pullback itself (:func:`_exact`: ``norm``, ``lstsq``, ``expm_frechet``): the formula runs
again in the backward pass, so those cost about twice their forward.

**Solves** (``solve``, ``solve_triangular``, ``solve_banded``, ``solveh_banded``,
``solve_toeplitz``; ``cho_solve`` and ``lu_solve`` in the factor module): with
``x = M^{-1} b`` for the matrix ``M`` SciPy's solver actually reads (a triangle, a band, the
mirrored triangle of ``assume_a="sym"``/``"her"``/``"pos"``, the diagonal, the three
diagonals of ``"tridiagonal"``), ``b̄ = M^{-H} ḡ`` and ``M̄ = -b̄ x^H``, mapped back onto the
entries read (the adjoint of the structure map: an off-diagonal entry of a mirrored triangle
counts twice, the diagonal of a Hermitian one its real part). The adjoint solve is SciPy's
own with the transposed option where one exists (``transposed=True``, ``trans=``, swapped
``(l, u)``, ``c``/``r``), so it keeps the structure: ``solve_toeplitz``'s adjoint is
Levinson again (O(n^2)) and its ``c``/``r`` cotangents are correlations summed by FFT (no
n x n matrix is formed), ``solve_banded``'s and ``solveh_banded``'s work only on the bands.
``solve`` keeps no factors (SciPy returns none): its adjoint is one more ``solve`` with
``transposed=True`` (complex: with ``a^H``). With ``assume_a=None`` (SciPy detects the
structure) the gradient is the general one: the detected structure is exact zeros, and a
perturbation off it moves SciPy back to the general solver. ``solve_circulant`` is SciPy's
FFT code on traced arrays: O(N log N) both ways.

**Special matrices** (``toeplitz``, ``circulant``, ``hankel``, ``block_diag``) are linear
gathers: composites of indexing, their adjoints scatter-adds. (``scipy.linalg.kron`` is gone
from SciPy 1.17; ``numpy.kron`` has its rule.)

Unsupported options raise :class:`pullback.NoRuleError` naming them (a 0-d or 1-d ``a`` in
``solve``, stacked ``solve_banded``/``solveh_banded``/``solve_toeplitz`` inputs).
"""
from __future__ import annotations

import functools
import inspect

import numpy as np
import scipy.linalg as SL

from ..core import strip
from ..errors import NoRuleError
from ..intercept import original, route
from .linalg import _col, _drop, _mH, _mT
from .linalg_decomp import _diag, _diag_embed, _herm_from_triangle, _herm_lower
from .registry import _conj, array_like, defcomposite, defvjp, strip_tree

#: the untouched SciPy functions, by public name
ORIGINALS: dict[str, object] = {}


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


def _check_finite(sig, handler):
    """SciPy's ``check_finite=True`` (its default) on traced calls: the same ValueError for inf/nan."""

    @functools.wraps(handler)
    def checked(*args, **kwargs):
        bound = sig.bind(*args, **kwargs)
        if bound.arguments.get("check_finite", True):
            for v in bound.arguments.values():
                for x in v if type(v) in (tuple, list) else (v,):
                    x = strip(x)
                    if isinstance(x, np.ndarray) and x.dtype.kind in "fc" and not np.isfinite(x).all():
                        raise ValueError("array must not contain infs or NaNs")
        return handler(*args, **kwargs)

    return checked


def _route(name, handler):
    """Register ``handler`` (a composite) for ``scipy.linalg.<name>`` and intercept it."""
    func = getattr(SL, name)
    ORIGINALS[name] = original(func)
    handler = _scipy_errors(name)(handler)
    sig = inspect.signature(ORIGINALS[name])
    if "check_finite" in sig.parameters:
        handler = _check_finite(sig, handler)
    defcomposite(func, handler)
    route(func)


def _nf(name):
    """``scipy.linalg.<name>`` (looked up now) with ``check_finite=False``, for the rules' own
    calls: a cotangent or value with inf/nan flows through as in NumPy's rules."""
    return functools.partial(getattr(SL, name), check_finite=False)


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
    """``M^{-H} G`` (``op(M)^{-H} G`` when ``transposed``) with SciPy's solver, no copy of a real ``a``."""
    if transposed:  # real a only (SciPy): (M^T)^{-H} = M^{-1}
        return _nf("solve")(a, G, lower=lower, assume_a=assume)
    if assume in _HER:
        return _nf("solve")(a, G, lower=lower, assume_a=assume)
    if assume in _SYM:
        return _nf("solve")(_conj(a), G, lower=lower, assume_a=assume)
    if a.dtype.kind != "c" and G.dtype.kind != "c":
        return _nf("solve")(a, G, lower=lower, assume_a=assume, transposed=True)
    return _nf("solve")(_mH(a), G, lower=not lower, assume_a=_FLIP_TRI.get(assume, assume))


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
    dx = _nf("solve")(a, r, lower=lower, assume_a=assume, transposed=transposed)
    return _drop(dx) if b.ndim == 1 else dx


def sp_solve_jvp_b(t, ans, a, b, assume=None, lower=False, transposed=False):
    return _nf("solve")(a, t, lower=lower, assume_a=assume, transposed=transposed)


_solve_p = defvjp(_solve_raw, [sp_solve_vjp_a, sp_solve_vjp_b], [sp_solve_jvp_a, sp_solve_jvp_b],
                  name="scipy.linalg.solve", key=False)


def solve(a, b, lower=False, overwrite_a=False, overwrite_b=False, check_finite=True, assume_a=None,
          transposed=False):
    a, b = array_like(a), array_like(b)
    if assume_a not in _STRUCTURES or a.ndim < 2 or b.ndim < 1:
        ORIGINALS["solve"](*_plain_args((a, b)), lower=lower, assume_a=assume_a, transposed=transposed)
        raise NoRuleError("scipy.linalg.solve of a scalar or 1-d a")
    if a.size == 1:  # SciPy computes b / a for a single 1x1 matrix, whatever assume_a says
        assume_a, lower = None, False
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
        return _nf("solve_triangular")(a, G, trans=2 if cplx else 1, lower=lower, unit_diagonal=unit)
    if trans == 2 or not cplx:
        return _nf("solve_triangular")(a, G, trans=0, lower=lower, unit_diagonal=unit)
    return _conj(_nf("solve_triangular")(a, _conj(G), trans=0, lower=lower, unit_diagonal=unit))


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
    dx = _nf("solve_triangular")(a, -np.matmul(dM, _matrix_rhs(b, ans)), trans=trans, lower=lower,
                             unit_diagonal=unit)
    return _drop(dx) if b.ndim == 1 else dx


def sp_trisolve_jvp_b(t, ans, a, b, trans=0, lower=False, unit=False):
    return _nf("solve_triangular")(a, t, trans=trans, lower=lower, unit_diagonal=unit)


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
    Y = _as_cols(_nf("solve_banded")((up, lo), _band_transpose(lo, up, ab), g))
    X = _as_cols(ans)
    return -np.stack([_shift_prod(Y, X, r - up) for r in range(lo + up + 1)])


def solve_banded_vjp_b(g, ans, ab, b, lo=0, up=0):
    return _nf("solve_banded")((up, lo), _band_transpose(lo, up, ab), g)


def solve_banded_jvp_ab(t, ans, ab, b, lo=0, up=0):
    r = -_band_matvec(lo, up, t, _as_cols(ans))
    return _nf("solve_banded")((lo, up), ab, np.reshape(r, ans.shape))


def solve_banded_jvp_b(t, ans, ab, b, lo=0, up=0):
    return _nf("solve_banded")((lo, up), ab, t)


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
    Y = _as_cols(_nf("solveh_banded")(ab, g, lower=lower))  # Hermitian: the same solve
    X = _as_cols(ans)
    w = ab.shape[0] - 1
    rows = []
    for r in range(w + 1):
        s = r if lower else r - w
        v = _shift_prod(Y, X, s) + _shift_prod(X, Y, s)
        rows.append(-v / 2 if s == 0 else -v)
    return np.stack(rows)


def solveh_banded_vjp_b(g, ans, ab, b, lower=False):
    return _nf("solveh_banded")(ab, g, lower=lower)


def solveh_banded_jvp_ab(t, ans, ab, b, lower=False):
    w, tg = _herm_band_general(t, lower)
    r = -_band_matvec(w, w, tg, _as_cols(ans))
    return _nf("solveh_banded")(ab, np.reshape(r, ans.shape), lower=lower)


def solveh_banded_jvp_b(t, ans, ab, b, lower=False):
    return _nf("solveh_banded")(ab, t, lower=lower)


_solveh_banded_p = defvjp(
    _solveh_banded_raw, [solveh_banded_vjp_ab, solveh_banded_vjp_b],
    [solveh_banded_jvp_ab, solveh_banded_jvp_b],
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
    return _nf("solve_toeplitz")((ch, _conj(c)), g)


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
    return _nf("solve_toeplitz")((c, r), np.reshape(rhs, ans.shape))


def solve_toeplitz_jvp_r(t, ans, c, r, b):
    rhs = -_toeplitz_matvec(np.zeros_like(t), t, _as_cols(ans))
    return _nf("solve_toeplitz")((c, r), np.reshape(rhs, ans.shape))


def solve_toeplitz_jvp_b(t, ans, c, r, b):
    return _nf("solve_toeplitz")((c, r), t)


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
