"""Rules: linear algebra (matmul, dot, einsum, tensordot, solve, inv, det, slogdet, norm, ...).

Products are multilinear, so each operand's cotangent is the same product
with the cotangent in its place and the other operands conjugated
(``C = A @ B``: ``grad_A = g @ B^H``, ``grad_B = A^H @ g``; DESIGN section 2).
Every rule is written with NumPy calls that themselves have rules, so
Hessians come for free. ``dot``, ``inner``, ``outer``, ``vdot``, ``kron`` and
``norm`` are composites of the primitives ``matmul``, ``tensordot`` and
``einsum``; ``einsum`` normalises its subscripts (implicit output, ``...``,
the interleaved form) and hands them to one primitive whose reverse rule is
another ``einsum``.
"""

from __future__ import annotations

import functools
import math
import string

import numpy as np

from ..core import Tracer, strip
from ..errors import NoRuleError
from .registry import _conj, array_like, defcomposite, defvjp, library_values, numpy_scalar, strip_tree

try:  # NumPy >= 2
    from numpy.lib.array_utils import normalize_axis_tuple
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.numeric import normalize_axis_tuple

# ---------------------------------------------------------------- helpers (all differentiable)


def _ndim(x) -> int:
    """``np.ndim`` without dispatch (a traced value knows its ``ndim``)."""
    return x.ndim if hasattr(x, "ndim") else np.ndim(x)


def _shape(x) -> tuple:
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def _mT(x):
    """Swap the last two axes (``np.transpose`` has a rule; ``swapaxes`` may not)."""
    perm = list(range(x.ndim))
    perm[-2], perm[-1] = perm[-1], perm[-2]
    return np.transpose(x, perm)


def _mH(x):
    return _conj(_mT(x))


def _col(x):
    """``x[..., None]``."""
    return np.reshape(x, x.shape + (1,))


def _row(x):
    """``x[..., None, :]``."""
    return np.reshape(x, x.shape[:-1] + (1, x.shape[-1]))


def _drop(x):
    """``x[..., 0]`` for a trailing axis of length 1."""
    return np.reshape(x, x.shape[:-1])


def _col2(x):
    """``x[..., None, None]``."""
    return np.reshape(x, _shape(x) + (1, 1))


def _real(x):
    return np.real(x) if x.dtype.kind == "c" else x


def _no_core_kwargs(name, kwargs):
    bad = [k for k in ("axes", "axis", "keepdims") if k in kwargs]
    if bad:
        raise NoRuleError(f"numpy.{name} with {bad[0]}=")


# ---------------------------------------------------------------- matmul (a ufunc, used by @)


def matmul_vjp_a(g, ans, a, b, **kwargs):
    _no_core_kwargs("matmul", kwargs)
    if b.ndim == 1:
        if a.ndim == 1:
            return g * _conj(b)
        return _col(g) * _conj(b)  # (..., n, 1) * (k,)
    if a.ndim == 1:
        return _drop(np.matmul(_conj(b), _col(g)))  # (..., k); fit() sums the batch axes
    return np.matmul(g, _mH(b))


def matmul_vjp_b(g, ans, a, b, **kwargs):
    _no_core_kwargs("matmul", kwargs)
    if a.ndim == 1:
        if b.ndim == 1:
            return _conj(a) * g
        return _col(_conj(a)) * _row(g)  # (k, 1) * (..., 1, m)
    if b.ndim == 1:
        return _drop(np.matmul(_mH(a), _col(g)))
    return np.matmul(_mH(a), g)


def matmul_jvp_a(t, ans, a, b, **kwargs):
    _no_core_kwargs("matmul", kwargs)
    return np.matmul(t, b)


def matmul_jvp_b(t, ans, a, b, **kwargs):
    _no_core_kwargs("matmul", kwargs)
    return np.matmul(a, t)


matmul = defvjp(np.matmul, [matmul_vjp_a, matmul_vjp_b], [matmul_jvp_a, matmul_jvp_b])

# ---------------------------------------------------------------- tensordot


def _tensordot_axes(axes, na, nb):
    try:
        axes_a, axes_b = axes
    except TypeError:
        n = int(axes)
        return list(range(na - n, na)), list(range(n))
    axes_a = [axes_a] if isinstance(axes_a, (int, np.integer)) else list(axes_a)
    axes_b = [axes_b] if isinstance(axes_b, (int, np.integer)) else list(axes_b)
    return [int(i) % na for i in axes_a], [int(j) % nb for j in axes_b]


def tensordot_vjp_a(g, ans, a, b, axes=2):
    aa, bb = _tensordot_axes(axes, a.ndim, b.ndim)
    a_free = [i for i in range(a.ndim) if i not in aa]
    b_free = [j for j in range(b.ndim) if j not in bb]
    nf = len(a_free)
    r = np.tensordot(g, _conj(b), axes=(list(range(nf, g.ndim)), b_free))
    # r's axes: a's free axes, then b's contracted axes in b's order (each paired with one of a's)
    src = a_free + [aa[bb.index(j)] for j in sorted(bb)]
    return np.transpose(r, [int(i) for i in np.argsort(src)])


def tensordot_vjp_b(g, ans, a, b, axes=2):
    aa, bb = _tensordot_axes(axes, a.ndim, b.ndim)
    a_free = [i for i in range(a.ndim) if i not in aa]
    b_free = [j for j in range(b.ndim) if j not in bb]
    r = np.tensordot(_conj(a), g, axes=(a_free, list(range(len(a_free)))))
    src = [bb[aa.index(i)] for i in sorted(aa)] + b_free
    return np.transpose(r, [int(i) for i in np.argsort(src)])


def tensordot_jvp_a(t, ans, a, b, axes=2):
    return np.tensordot(t, b, axes=axes)


def tensordot_jvp_b(t, ans, a, b, axes=2):
    return np.tensordot(a, t, axes=axes)


tensordot = defvjp(np.tensordot, [tensordot_vjp_a, tensordot_vjp_b], [tensordot_jvp_a, tensordot_jvp_b])

# ---------------------------------------------------------------- einsum

_LETTERS = string.ascii_letters


def _sublist(sub) -> str:
    return "".join("..." if s is Ellipsis else _LETTERS[int(s)] for s in sub)


def _parse_einsum(args):
    """``(inputs, output, operands)``: explicit subscripts, ``...`` replaced by fresh letters."""
    if isinstance(args[0], str):
        subs, ops = args[0].replace(" ", ""), list(args[1:])
    else:  # interleaved: op0, sub0, op1, sub1, ..., [out]
        n = len(args) // 2
        ops = list(args[0 : 2 * n : 2])
        subs = ",".join(_sublist(s) for s in args[1 : 2 * n : 2])
        if len(args) % 2:
            subs += "->" + _sublist(args[-1])
    lhs, arrow, out = subs.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(ops):
        raise ValueError("operand count")
    used = set(subs) - set(".,->")
    fresh = [c for c in _LETTERS if c not in used]
    ell_nd = []
    for s, op in zip(ins, ops, strict=True):
        nd = _ndim(op)
        if "..." in s:
            k = nd - (len(s) - 3)
            if k < 0 or s.count(".") != 3:
                raise ValueError("ellipsis")
            ell_nd.append(k)
        elif len(s) != nd or "." in s:
            raise ValueError("rank")
        else:
            ell_nd.append(0)
    ell = "".join(fresh[: max(ell_nd, default=0)])
    new_ins = [s.replace("...", ell[len(ell) - k :] if k else "") for s, k in zip(ins, ell_nd, strict=True)]
    if not arrow:
        letters = lhs.replace(".", "").replace(",", "")
        out = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    else:
        if out.count(".") not in (0, 3) or (ell and "..." not in out):
            raise ValueError("output")
        out = out.replace("...", ell)
    return new_ins, out, ops


def einsum_raw(subscripts, *operands, **kwargs):
    return np.einsum(subscripts, *operands, **kwargs)


def _split_subscripts(subscripts):
    lhs, _, out = subscripts.partition("->")
    return lhs.split(","), out


def _letter_sizes(ins, ops):
    sizes = {}
    for s, op in zip(ins, ops, strict=False):
        for c, n in zip(s, _shape(op), strict=False):
            sizes[c] = max(sizes.get(c, 1), n)
    return sizes


def _einsum_vjp(k):
    def einsum_vjp(g, ans, subscripts, *ops, optimize=False, **kwargs):
        ins, out = _split_subscripts(subscripts)
        s = ins[k]
        sizes = _letter_sizes(ins, ops)
        others = [j for j in range(len(ops)) if j != k]
        avail = set(out).union(*[ins[j] for j in others])
        fresh = iter(c for c in _LETTERS if c not in set(subscripts))
        dtype = g.dtype if g.dtype.kind in "fc" else np.dtype(float)
        like = strip(g)  # constants of g's array type (NumPy, CuPy, ...)
        like = like if hasattr(like, "__array_function__") else None
        target, extra_subs, extra_ops, seen = [], [], [], set()
        for c in s:
            if c in seen:  # a repeated index (a diagonal): the cotangent lives on the diagonal
                nc = next(fresh)
                extra_subs.append(c + nc)
                extra_ops.append(np.eye(sizes[c], dtype=dtype, like=like))
                target.append(nc)
            else:
                seen.add(c)
                target.append(c)
                if c not in avail:  # summed within this operand only: the cotangent is constant along it
                    extra_subs.append(c)
                    extra_ops.append(np.ones(sizes[c], dtype=dtype, like=like))
        subs = ",".join([out] + [ins[j] for j in others] + extra_subs) + "->" + "".join(target)
        if not isinstance(optimize, (bool, str)):
            optimize = True  # an explicit path belongs to the forward contraction, not this one
        return np.einsum(subs, g, *[_conj(ops[j]) for j in others], *extra_ops, optimize=optimize)

    einsum_vjp.__name__ = einsum_vjp.__qualname__ = f"einsum_vjp_{k}"
    return einsum_vjp


def _einsum_jvp(k):
    def einsum_jvp(t, ans, subscripts, *ops, **kwargs):
        ops = list(ops)
        ops[k] = t
        return np.einsum(subscripts, *ops, **kwargs)

    einsum_jvp.__name__ = einsum_jvp.__qualname__ = f"einsum_jvp_{k}"
    return einsum_jvp


_MAX_OPERANDS = 64
einsum_p = defvjp(
    einsum_raw,
    [None] + [_einsum_vjp(k) for k in range(_MAX_OPERANDS)],
    [None] + [_einsum_jvp(k) for k in range(_MAX_OPERANDS)],
    name="numpy.einsum",
    key=False,
)


def einsum(*args, out=None, **kwargs):
    """``np.einsum`` on traced operands: subscripts made explicit, then one primitive."""
    try:
        ins, outs, ops = _parse_einsum(args)
    except Exception:
        np.einsum(*strip_tree(args), **kwargs)  # raises NumPy's own error
        raise
    return einsum_p(",".join(ins) + "->" + outs, *ops, **kwargs)


defcomposite(np.einsum, einsum)

# ---------------------------------------------------------------- products built on the primitives


def _numpy_errors(raw):
    """A composite whose bad input raises what NumPy's ``raw`` raises for it (same type and message)."""

    def decorate(impl):
        @functools.wraps(impl)
        def checked(*args, **kwargs):
            try:
                return impl(*args, **kwargs)
            except ValueError:
                raw(*strip_tree(args), **strip_tree(kwargs))
                raise

        return checked

    return decorate



@_numpy_errors(np.dot)
def dot(a, b, out=None):
    if _ndim(a) == 0 or _ndim(b) == 0:
        return np.multiply(a, b)
    if a.ndim <= 2 and b.ndim <= 2 and a.dtype.kind != "c" and b.dtype.kind != "c":
        return np.matmul(a, b)
    return dot_nd(a, b)  # complex: NumPy's dot and matmul round differently


@library_values(np.dot)
def dot_nd(a, b):
    """``np.dot`` with an operand of more than two axes: NumPy forms each output entry with its own
    dot loop, not one matrix product, so the values are NumPy's own; the derivatives matmul's or
    tensordot's."""
    if a.ndim == 1 or b.ndim <= 2:
        return np.matmul(a, b)
    return np.tensordot(a, b, axes=([a.ndim - 1], [b.ndim - 2]))


@_numpy_errors(np.inner)
def inner(a, b):
    if _ndim(a) == 0 or _ndim(b) == 0:
        return np.multiply(a, b)
    if a.ndim == 1 and b.ndim == 1:
        return np.matmul(a, b)
    return inner_nd(a, b)


@library_values(np.inner)
def inner_nd(a, b):
    """``np.inner`` of N-d operands: NumPy's own values (its loop rounds otherwise than
    tensordot's, for complex and float32 data), with tensordot's derivatives."""
    return np.tensordot(a, b, axes=([a.ndim - 1], [b.ndim - 1]))


@_numpy_errors(np.outer)
def outer(a, b, out=None):
    return np.multiply(np.reshape(a, (-1, 1)), np.reshape(b, (1, -1)))


@_numpy_errors(np.vdot)
def vdot(a, b):
    return np.matmul(_conj(np.reshape(a, (-1,))), np.reshape(b, (-1,)))


@_numpy_errors(np.kron)
def kron(a, b):
    na, nb = _ndim(a), _ndim(b)
    nd = max(na, nb)
    if nd == 0:
        return np.multiply(a, b)
    sa = (1,) * (nd - na) + tuple(_shape(a))
    sb = (1,) * (nd - nb) + tuple(_shape(b))
    ar = np.reshape(a, tuple(x for n in sa for x in (n, 1)))
    br = np.reshape(b, tuple(x for n in sb for x in (1, n)))
    return np.reshape(ar * br, tuple(p * q for p, q in zip(sa, sb, strict=True)))


defcomposite(np.dot, dot)
defcomposite(np.inner, inner)
defcomposite(np.outer, outer)
defcomposite(np.vdot, vdot)
defcomposite(np.kron, kron)


def _chain_order(shapes):
    """NumPy's optimal split points of a matrix chain (``numpy.linalg``'s
    ``_multi_dot_matrix_chain_order``, Cormen 15.2: the first best split wins ties)."""
    n = len(shapes)
    p = [s[0] for s in shapes] + [shapes[-1][1]]
    cost = [[0.0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = math.inf
            for k in range(i, j):
                q = cost[i][k] + cost[k + 1][j] + p[i] * p[k + 1] * p[j + 1]
                if q < cost[i][j]:
                    cost[i][j] = q
                    split[i][j] = k
    return split


def _chain(arrays, split, i, j):
    if i == j:
        return arrays[i]
    k = split[i][j]
    return np.dot(_chain(arrays, split, i, k), _chain(arrays, split, k + 1, j))


@_numpy_errors(np.linalg.multi_dot)
def multi_dot(arrays, *, out=None):
    """``np.linalg.multi_dot`` in NumPy's order: 1-d ends as a row and a column, three matrices by
    the cheaper of ``(AB)C`` and ``A(BC)``, more by the optimal chain order; each product ``np.dot``."""
    n = len(arrays)
    if n < 2:
        np.linalg.multi_dot(strip_tree(list(arrays)))  # raises NumPy's error
    if n == 2:
        return np.dot(arrays[0], arrays[1])
    arrays = [array_like(a) for a in arrays]
    first, last = arrays[0].ndim, arrays[-1].ndim
    if first == 1:
        arrays[0] = np.reshape(arrays[0], (1, -1))
    if last == 1:
        arrays[-1] = np.transpose(np.reshape(arrays[-1], (1, -1)))  # NumPy's atleast_2d(c).T
    if any(a.ndim != 2 for a in arrays):
        np.linalg.multi_dot(strip_tree(arrays))  # raises NumPy's error
    if n == 3:
        a, b, c = arrays
        (a0, a1b0), (b1c0, c1) = a.shape, c.shape
        if a0 * b1c0 * (a1b0 + c1) < a1b0 * c1 * (a0 + b1c0):
            result = np.dot(np.dot(a, b), c)
        else:
            result = np.dot(a, np.dot(b, c))
    else:
        result = _chain(arrays, _chain_order([a.shape for a in arrays]), 0, n - 1)
    if first == 1 and last == 1:
        return result[0, 0]
    if first == 1 or last == 1:
        return np.ravel(result)
    return result


defcomposite(np.linalg.multi_dot, multi_dot)

# ---------------------------------------------------------------- NumPy 2 gufuncs and array-API names

if isinstance(getattr(np, "vecdot", None), np.ufunc):

    def _vecdot_axis(x, kwargs):
        """Negative position of the core axis of ``x`` (only ``axis=`` is supported)."""
        if "axes" in kwargs or "keepdims" in kwargs:
            raise NoRuleError("numpy.vecdot with axes=/keepdims=")
        ax = kwargs.get("axis", -1)
        return ax - x.ndim if ax >= 0 else ax

    def _vecdot_expand(g, a, b, kwargs):
        """The cotangent with the core axis re-inserted, and that axis' negative position."""
        pa, pb = _vecdot_axis(a, kwargs), _vecdot_axis(b, kwargs)
        if pa != pb:
            raise NoRuleError("numpy.vecdot with a non-negative axis= and operands of different ranks")
        i = g.ndim + 1 + pa
        return np.reshape(g, g.shape[:i] + (1,) + g.shape[i:])

    def vecdot_vjp_a(g, ans, a, b, **kwargs):
        return b * _conj(_vecdot_expand(g, a, b, kwargs))

    def vecdot_vjp_b(g, ans, a, b, **kwargs):
        return a * _vecdot_expand(g, a, b, kwargs)

    def vecdot_jvp_a(t, ans, a, b, **kwargs):
        return np.vecdot(t, b, **kwargs)

    def vecdot_jvp_b(t, ans, a, b, **kwargs):
        return np.vecdot(a, t, **kwargs)

    defvjp(np.vecdot, [vecdot_vjp_a, vecdot_vjp_b], [vecdot_jvp_a, vecdot_jvp_b])

    @_numpy_errors(np.linalg.vecdot)
    def linalg_vecdot(x1, x2, /, *, axis=-1):
        return np.vecdot(x1, x2, axis=axis)

    defcomposite(np.linalg.vecdot, linalg_vecdot)

if isinstance(getattr(np, "matvec", None), np.ufunc):

    def matvec_vjp_a(g, ans, a, x, **kwargs):
        _no_core_kwargs("matvec", kwargs)
        return _col(g) * _row(_conj(x))

    def matvec_vjp_x(g, ans, a, x, **kwargs):
        _no_core_kwargs("matvec", kwargs)
        return np.matvec(_mH(a), g)

    def matvec_jvp_a(t, ans, a, x, **kwargs):
        return np.matvec(t, x)

    def matvec_jvp_x(t, ans, a, x, **kwargs):
        return np.matvec(a, t)

    defvjp(np.matvec, [matvec_vjp_a, matvec_vjp_x], [matvec_jvp_a, matvec_jvp_x])

    # vecmat(x, a)[..., n] = sum_m conj(x[..., m]) a[..., m, n]: conjugate-linear in x
    def vecmat_vjp_x(g, ans, x, a, **kwargs):
        _no_core_kwargs("vecmat", kwargs)
        return np.matvec(a, _conj(g))

    def vecmat_vjp_a(g, ans, x, a, **kwargs):
        _no_core_kwargs("vecmat", kwargs)
        return _col(x) * _row(g)

    def vecmat_jvp_x(t, ans, x, a, **kwargs):
        return np.vecmat(t, a)

    def vecmat_jvp_a(t, ans, x, a, **kwargs):
        return np.vecmat(x, t)

    defvjp(np.vecmat, [vecmat_vjp_x, vecmat_vjp_a], [vecmat_jvp_x, vecmat_jvp_a])

if getattr(np.linalg, "matmul", np.matmul) is not np.matmul:

    @_numpy_errors(np.linalg.matmul)
    def linalg_matmul(x1, x2, /):
        return np.matmul(x1, x2)

    defcomposite(np.linalg.matmul, linalg_matmul)

if getattr(np.linalg, "outer", np.outer) is not np.outer:

    def linalg_outer(x1, x2, /):
        if _ndim(x1) != 1 or _ndim(x2) != 1:
            np.linalg.outer(strip(x1), strip(x2))  # raises NumPy's error
        return outer(x1, x2)

    defcomposite(np.linalg.outer, linalg_outer)

if getattr(np.linalg, "tensordot", np.tensordot) is not np.tensordot:

    @_numpy_errors(np.linalg.tensordot)
    def linalg_tensordot(x1, x2, /, *, axes=2):
        return np.tensordot(x1, x2, axes=axes)

    defcomposite(np.linalg.tensordot, linalg_tensordot)

# ---------------------------------------------------------------- solve, inv, det, slogdet


def _vector_rhs(b):
    return b.ndim == 1  # NumPy 2: b is a vector only when 1-D; otherwise a stack of matrices


def _solve_adjoint(g, a, b):
    if _vector_rhs(b):
        return _drop(np.linalg.solve(_mH(a), _col(g)))
    return np.linalg.solve(_mH(a), g)


def solve_vjp_a(g, ans, a, b):
    gb = _solve_adjoint(g, a, b)
    if _vector_rhs(b):
        return -(_col(gb) * _row(_conj(ans)))
    return -np.matmul(gb, _mH(ans))


def solve_vjp_b(g, ans, a, b):
    return _solve_adjoint(g, a, b)


def solve_jvp_a(t, ans, a, b):
    if _vector_rhs(b):
        return -_drop(np.linalg.solve(a, np.matmul(t, _col(ans))))
    return -np.linalg.solve(a, np.matmul(t, ans))


def solve_jvp_b(t, ans, a, b):
    return np.linalg.solve(a, t)


solve_general = defvjp(
    np.linalg.solve, [solve_vjp_a, solve_vjp_b], [solve_jvp_a, solve_jvp_b], key=False
)

# The common case keeps LU factors: the value packs ``x`` (NumPy's own solve: SciPy's getrf +
# getrs, from another OpenBLAS build, gave other last bits for many sizes), the factors and the
# pivots (``scipy.linalg.lu_factor``), and every adjoint solve ``a^H y = g`` reuses them, O(n^2)
# per column instead of a fresh O(n^3) factorisation (a Jacobian's rows, a Hessian's). Under an
# outer trace (higher derivatives) the rule solves with
# ``np.linalg.solve`` again, which is differentiable; the packed factors are then never read.
# (NumPy solves single precision in double precision, so only double precision takes this path.)
_LU_TYPES = (np.dtype(np.float64), np.dtype(np.complex128))


def _lu_raw(a, b, k=1):
    import warnings

    import scipy.linalg

    x = np.linalg.solve(a, b)  # NumPy's value, and its error for a singular matrix
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lu, piv = scipy.linalg.lu_factor(a, check_finite=False)
    batch = a.shape[:-2]
    return np.concatenate(
        [np.reshape(x, batch + (-1,)), np.reshape(lu, batch + (-1,)), piv.astype(lu.dtype)], axis=-1
    )


def _lu_parts(ans, m, k, vec):
    batch = ans.shape[:-1]
    x = ans[..., : m * k]
    x = np.reshape(x, batch + ((m,) if vec else (m, k)))
    return x, ans[..., m * k :]


def _lu_adjoint(g, ans, a, vec, k):
    m = a.shape[-1]
    x, rest = _lu_parts(ans, m, k, vec)
    g = _lu_parts(g, m, k, vec)[0]  # the packed factors' cotangent is never used
    if isinstance(ans, Tracer) or isinstance(g, Tracer) or isinstance(a, Tracer):
        return x, (_drop(np.linalg.solve(_mH(a), _col(g))) if vec else np.linalg.solve(_mH(a), g))
    import scipy.linalg

    lu = np.reshape(rest[..., : m * m], ans.shape[:-1] + (m, m))
    piv = np.real(rest[..., m * m :]).astype(np.int32)
    return x, scipy.linalg.lu_solve((lu, piv), g, trans=2, check_finite=False)


def lu_solve_vjp_a(g, ans, a, b, k=1):
    vec = _vector_rhs(b)
    x, gb = _lu_adjoint(g, ans, a, vec, k)
    if vec:
        return -(_col(gb) * _row(_conj(x)))
    return -np.matmul(gb, _mH(x))


def lu_solve_vjp_b(g, ans, a, b, k=1):
    return _lu_adjoint(g, ans, a, _vector_rhs(b), k)[1]


def _lu_tangent(dx, ans, a, b, k):
    m = a.shape[-1]
    rest = ans[..., m * k :]
    return np.concatenate([np.reshape(dx, ans.shape[:-1] + (-1,)), np.zeros_like(rest)], axis=-1)


def lu_solve_jvp_a(t, ans, a, b, k=1):
    x = _lu_parts(ans, a.shape[-1], k, _vector_rhs(b))[0]
    if _vector_rhs(b):
        dx = -_drop(np.linalg.solve(a, np.matmul(t, _col(x))))
    else:
        dx = -np.linalg.solve(a, np.matmul(t, x))
    return _lu_tangent(dx, ans, a, b, k)


def lu_solve_jvp_b(t, ans, a, b, k=1):
    return _lu_tangent(np.linalg.solve(a, t), ans, a, b, k)


solve_lu = defvjp(
    _lu_raw, [lu_solve_vjp_a, lu_solve_vjp_b], [lu_solve_jvp_a, lu_solve_jvp_b],
    name="numpy.linalg.solve", key=False,
)


def solve(a, b):
    """``np.linalg.solve``: through its kept LU factors when ``a`` and ``b`` share dtype and batch."""
    a, b = array_like(a), array_like(b)
    a_nd, b_nd = _ndim(a), _ndim(b)
    fast = (
        a_nd >= 2 and b_nd >= 1
        and type(strip(a)) is np.ndarray and type(strip(b)) is np.ndarray  # SciPy's LU: NumPy arrays
        and a.dtype == b.dtype and a.dtype in _LU_TYPES
        and a.shape[-1] == a.shape[-2] and a.shape[-1] > 0 and a.size > 0  # SciPy: no empty batch
        and ((a_nd == 2 and b_nd in (1, 2)) or (b_nd == a_nd and a.shape[:-2] == b.shape[:-2]))
        and b.shape[-1 if b_nd == 1 else -2] == a.shape[-1]
    )
    if not fast:
        return solve_general(a, b)
    vec = b_nd == 1
    k = 1 if vec else b.shape[-1]
    if k == 0:
        return solve_general(a, b)
    return _lu_parts(solve_lu(a, b, k=k), a.shape[-1], k, vec)[0]


defcomposite(np.linalg.solve, solve)


def inv_vjp(g, ans, a):
    ah = _mH(ans)
    return -np.matmul(ah, np.matmul(g, ah))


def inv_jvp(t, ans, a):
    return -np.matmul(ans, np.matmul(t, ans))


defvjp(np.linalg.inv, [inv_vjp], [inv_jvp])


def _adjugate(a, d, singular):
    """``adj(a) = det(a) inv(a)`` (``d`` the determinant), which is finite and smooth where ``a`` is
    singular (batch entries ``singular``): there by the SVD ``a = U S V^H``,
    ``adj(a) = det(U) det(V^H) V adj(S) U^H`` with ``adj(S)_ii`` the product of the other singular
    values; ``inv`` runs only on the other entries (the singular ones replaced by the identity, the
    regular ones by ``diag(1, ..., n)``, whose singular values are distinct)."""
    n = a.shape[-1]
    if not np.any(singular):
        return _col2(d) * np.linalg.inv(a)
    mask = np.reshape(singular, np.shape(singular) + (1, 1))
    eye = np.eye(n, dtype=a.dtype)
    regular = _col2(d) * np.linalg.inv(np.where(mask, eye, a))
    u, s, vh = np.linalg.svd(np.where(mask, a, np.diag(np.arange(1, n + 1)).astype(a.dtype)))
    others = np.prod(np.where(np.eye(n, dtype=bool), 1, _row(s)), axis=-1)  # prod_{j != i} s_j
    scale = _col2(np.linalg.det(u) * np.linalg.det(vh))
    return np.where(mask, scale * np.matmul(_mH(vh) * _row(others.astype(a.dtype)), _mH(u)), regular)


def _singular(d):
    """The batch entries whose determinant ``d`` is 0 (LAPACK's LU met a zero pivot: no inverse)."""
    return strip(d) == 0


def det_vjp(g, ans, a):
    return _col2(g) * _mH(_adjugate(a, ans, _singular(ans)))


def det_jvp(t, ans, a):
    return np.sum(_mT(_adjugate(a, ans, _singular(ans))) * t, axis=(-2, -1))


def _inv_or_inf(a, singular):
    """``inv(a)``, and ``adj(a) / 0`` (inf, or NaN where the adjugate is 0) where ``a`` is singular:
    the derivative of ``log|det a|`` there, without LinAlgError."""
    if not np.any(singular):
        return np.linalg.inv(a)
    one = np.ones(np.shape(singular), dtype=a.dtype)
    with np.errstate(all="ignore"):
        return _adjugate(a, one, singular) / _col2(np.where(singular, 0, one))


defvjp(np.linalg.det, [det_vjp], [det_jvp])


def logabsdet_raw(a):
    return np.linalg.slogdet(a)[1]


def logabsdet_vjp(g, ans, a):
    return _col2(g) * _mH(_inv_or_inf(a, strip(ans) == -np.inf))


def logabsdet_jvp(t, ans, a):
    with np.errstate(all="ignore"):
        return _real(np.sum(_mT(_inv_or_inf(a, strip(ans) == -np.inf)) * t, axis=(-2, -1)))


def slogdet_sign_raw(a):
    return np.linalg.slogdet(a)[0]


# sign = exp(i theta) with d theta = Im tr(inv(a) da): d sign = i sign Im tr(inv(a) da)
def slogdet_sign_vjp(g, ans, a):
    with np.errstate(all="ignore"):
        return -1j * _col2(np.imag(_conj(g) * ans)) * _mH(_inv_or_inf(a, strip(ans) == 0))


def slogdet_sign_jvp(t, ans, a):
    with np.errstate(all="ignore"):
        return 1j * ans * np.imag(np.sum(_mT(_inv_or_inf(a, strip(ans) == 0)) * t, axis=(-2, -1)))


logabsdet = defvjp(
    logabsdet_raw, [logabsdet_vjp], [logabsdet_jvp], name="numpy.linalg.slogdet.logabsdet", key=False
)
slogdet_sign = defvjp(
    slogdet_sign_raw, [slogdet_sign_vjp], [slogdet_sign_jvp], name="numpy.linalg.slogdet.sign", key=False
)
_SlogdetResult = type(np.linalg.slogdet(np.eye(1)))


def slogdet(a):
    """``(sign, logabsdet)``; a real matrix's sign is piecewise constant (no gradient)."""
    if a.dtype.kind == "c":
        sign = slogdet_sign(a)
    else:
        sign = np.linalg.slogdet(strip(a))[0]
    return _SlogdetResult(sign, logabsdet(a))


defcomposite(np.linalg.slogdet, slogdet)

# ---------------------------------------------------------------- norms


def _abs2(x):
    return np.real(x * np.conj(x)) if x.dtype.kind == "c" else x * x


def _extreme(a, axes, pick):
    """``pick`` (np.max or np.min) of ``a`` over ``axes`` (keepdims); ties share the gradient equally."""
    p = strip(a)
    m = pick(p, axis=axes, keepdims=True)
    mask = p == m
    count = np.sum(mask, axis=axes, keepdims=True).astype(p.dtype)
    # the value is exactly m; the gradient is mask / count
    return m + np.sum(np.where(mask, a - m, 0), axis=axes, keepdims=True) / count


def _vector_norm(x, ord, axis, keepdims=False):
    """The vector norm along ``axis`` by NumPy's steps (``np.linalg.norm``'s one-axis branch), so
    its values are NumPy's bits and type (a NumPy scalar for a full reduction); None for a string
    ``ord`` (NumPy's error). Ties of the inf-norms share the gradient equally."""
    if isinstance(ord, str):
        return None
    if ord == np.inf:
        return np.max(np.abs(x), axis=axis, keepdims=keepdims, initial=0)
    if ord == -np.inf:
        return np.min(np.abs(x), axis=axis, keepdims=keepdims)
    if ord == 0:
        p = strip(x)
        return np.sum((p != 0).astype(np.real(p).dtype), axis=axis, keepdims=keepdims)
    if ord == 1:
        return np.sum(np.abs(x), axis=axis, keepdims=keepdims)
    if ord is None or ord == 2:
        return np.sqrt(np.sum(_abs2(x), axis=axis, keepdims=keepdims))
    r = np.sum(np.abs(x) ** ord, axis=axis, keepdims=keepdims)
    return r ** np.reciprocal(ord, dtype=r.dtype)


def _matrix_norm(x, ord, axes):
    r, c = axes
    if ord is None or ord in ("fro", "f"):
        return np.sqrt(np.sum(_abs2(x), axis=axes, keepdims=True))
    if ord in (1, -1, np.inf, -np.inf) and not isinstance(ord, str):
        summed, over = (r, c) if ord in (1, -1) else (c, r)
        s = np.sum(np.abs(x), axis=summed, keepdims=True)
        return _extreme(s, over, np.max if ord > 0 else np.min)
    if ord in (2, -2, "nuc"):  # from the singular values (pullback.rules.linalg_decomp)
        s = np.linalg.svd(np.moveaxis(x, (r, c), (-2, -1)), compute_uv=False)
        if ord == "nuc":
            v = np.sum(s, axis=-1)
        else:
            v = _drop(_extreme(s, (-1,), np.max if ord == 2 else np.min))
        return np.expand_dims(v, tuple(sorted((r, c))))
    return None


def _norm_error(x, ord, axis, keepdims):
    np.linalg.norm(strip(x), ord=ord, axis=axis, keepdims=keepdims)  # raises NumPy's error if invalid
    raise NoRuleError(f"numpy.linalg.norm with ord={ord!r} over {'two axes' if axis else 'a matrix'}")


def _finish_norm(r, x, axes, keepdims):
    """The matrix norm ``r`` (kept axes) reshaped as NumPy returns it: a NumPy scalar, not a 0-d
    array, when no axis is left."""
    if r is None or keepdims:
        return r
    return numpy_scalar(np.reshape(r, tuple(n for i, n in enumerate(x.shape) if i not in axes)))


def norm(x, ord=None, axis=None, keepdims=False):
    if isinstance(ord, Tracer):
        raise NoRuleError("numpy.linalg.norm", "a traced ord (the order of the norm)")
    nd = x.ndim
    if axis is None:
        if ord is None or (nd == 2 and ord in ("fro", "f")) or (nd == 1 and ord == 2):
            axes = tuple(range(nd))  # NumPy's fast path: the dot products of the flattened parts
            v = np.ravel(x, order="K")
            sq = np.dot(v, v) if v.dtype.kind != "c" else np.dot(np.real(v), np.real(v)) + np.dot(
                np.imag(v), np.imag(v))
            r = np.sqrt(sq)
            return np.reshape(r, (1,) * nd) if keepdims else r
        if nd not in (1, 2):
            _norm_error(x, ord, axis, keepdims)
        axes = tuple(range(nd))
    else:
        axes = axis if isinstance(axis, tuple) else (axis,)
        if not all(isinstance(i, (int, np.integer)) and -nd <= i < nd for i in axes):
            _norm_error(x, ord, axis, keepdims)
        axes = tuple(int(i) % nd for i in axes)
        if len(set(axes)) != len(axes) or len(axes) > 2:
            _norm_error(x, ord, axis, keepdims)
    if len(axes) == 1:
        r = _vector_norm(x, ord, axes, keepdims)
        if r is None:
            _norm_error(x, ord, axis, keepdims)
        return r
    r = _matrix_norm(x, ord, axes)
    if r is None:
        _norm_error(x, ord, axis, keepdims)
    return _finish_norm(r, x, axes, keepdims)


defcomposite(np.linalg.norm, norm)

if hasattr(np.linalg, "vector_norm"):

    def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
        """``np.linalg.vector_norm`` by NumPy's steps: the reduced axes moved to the front and
        flattened into one (all of them: ``ravel``), then one axis reduced, so the sums round as
        NumPy's do."""
        shape = x.shape
        try:
            if axis is None:
                y, along = np.ravel(x), 0
            elif isinstance(axis, tuple):
                axes = normalize_axis_tuple(axis, x.ndim)
                rest = tuple(i for i in range(x.ndim) if i not in axes)
                y = np.reshape(np.transpose(x, axis + rest),
                               (math.prod(shape[i] for i in axis), *[shape[i] for i in rest]))
                along = 0
            else:
                y, along = x, axis
            r = _vector_norm(y, ord, along)
        except (ValueError, TypeError, IndexError):
            r = None
        if r is None:
            np.linalg.vector_norm(strip(x), axis=axis, keepdims=keepdims, ord=ord)
            raise NoRuleError(f"numpy.linalg.vector_norm with ord={ord!r}")
        if keepdims:
            kept = normalize_axis_tuple(range(len(shape)) if axis is None else axis, len(shape))
            r = np.reshape(r, tuple(1 if i in kept else n for i, n in enumerate(shape)))
        return r

    def matrix_norm(x, /, *, keepdims=False, ord="fro"):
        r = _matrix_norm(x, ord, (x.ndim - 2, x.ndim - 1)) if x.ndim >= 2 else None
        if r is None:
            np.linalg.matrix_norm(strip(x), keepdims=keepdims, ord=ord)
            raise NoRuleError(f"numpy.linalg.matrix_norm with ord={ord!r}")
        return _finish_norm(r, x, (x.ndim - 2, x.ndim - 1), keepdims)

    defcomposite(np.linalg.vector_norm, vector_norm)
    defcomposite(np.linalg.matrix_norm, matrix_norm)
