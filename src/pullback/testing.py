"""Checks for rule authors: finite differences and adjoint (dot-product) tests.

Both are complex-aware. Real and complex arrays are compared in *real
coordinates*: a complex entry contributes its real and its imaginary part.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .api import jvp, pullback
from .core import strip

__all__ = ["check_adjoint", "check_gradient", "dense_matrix", "real_dot"]


def real_dot(a: Any, b: Any) -> float:
    """``Re <a, b> = sum(Re(conj(a) * b))``, the real inner product of real coordinates."""
    return float(np.sum(np.real(np.conj(np.asarray(a)) * np.asarray(b))))


def _random_like(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    x = np.asarray(x)
    v = rng.standard_normal(x.shape)
    if x.dtype.kind == "c":
        v = v + 1j * rng.standard_normal(x.shape)
    return v.astype(x.dtype) if x.dtype.kind in "fc" else v


def _upcast(x: Any) -> Any:
    if isinstance(x, (float, complex)) or not _inexact(x):
        return x
    x = np.asarray(x)
    if x.dtype.kind == "c":
        return x.astype(np.complex128)
    if x.dtype.kind == "f":
        return x.astype(np.float64)
    return x


def _inexact(a: Any) -> bool:
    if isinstance(a, bool) or isinstance(a, (dict, list, tuple, str)) or a is None:
        return False
    try:
        return np.result_type(a).kind in "fc"
    except TypeError:
        return False


def _joined(f: Callable) -> Callable:
    """``f`` with a tuple, list or dict output (nested too) raveled and joined (its inexact leaves),
    traced or not."""
    from .tree import flatten

    def joined(*args):
        out = f(*args)
        if not isinstance(out, (tuple, list, dict)):
            return out
        parts = [np.ravel(o) for o in flatten(out)[0] if np.result_type(strip(o)).kind in "fc"]
        return np.concatenate(parts) if parts else np.zeros(0)

    return joined


def _default_tol(dtypes) -> tuple[float, float]:
    low = any(np.dtype(d) in (np.float32, np.complex64, np.float16) for d in dtypes)
    return (2e-3, 2e-3) if low else (1e-5, 1e-6)


def check_gradient(
    f: Callable,
    *args: Any,
    modes: tuple[str, ...] = ("reverse", "forward"),
    n_directions: int = 2,
    eps: float = 1e-6,
    rtol: float | None = None,
    atol: float | None = None,
    seed: int = 0,
    check_dtypes: bool = True,
) -> None:
    """Check reverse and forward derivatives of ``f`` against central finite differences.

    For random input directions ``v`` and a random output cotangent ``w``,
    checks ``Re <back(w), v> == Re <w, (f(x + h v) - f(x - h v)) / 2h>``
    (reverse mode) and ``jvp(f, x, v) == (f(x + h v) - f(x - h v)) / 2h``
    (forward mode). Finite differences run in double precision; the
    derivatives run at the arguments' own precision, and their dtypes are
    checked against the arguments'. ``f`` may return any array, real or complex, or a
    tuple, list or dict of them, nested (checked as one array: the inexact ones raveled and joined).
    Non-floating arguments (integers, strings, containers) are held fixed.

    Examples
    --------
    >>> import numpy as np, pullback as pb
    >>> pb.testing.check_gradient(lambda x: np.sin(x) * x, np.linspace(0, 1, 5))
    """
    rng = np.random.default_rng(seed)
    f = _joined(f)
    diff = [i for i, a in enumerate(args) if _inexact(a)]
    if rtol is None or atol is None:
        r, a = _default_tol([np.result_type(args[i]) for i in diff])
        rtol = r if rtol is None else rtol
        atol = a if atol is None else atol
    def call(values):  # f on copies: a function that writes into its inputs changes none of ours
        return f(*[np.array(v, copy=True) if isinstance(v, np.ndarray) else v for v in values])

    hi_args = [_upcast(a) for a in args]
    y0 = np.asarray(strip(call(hi_args)))
    out_dtype = np.result_type(strip(call(args)))

    def fd(vs):
        plus = list(hi_args)
        minus = list(hi_args)
        for i, v in zip(diff, vs):
            plus[i] = hi_args[i] + eps * _upcast(v)
            minus[i] = hi_args[i] - eps * _upcast(v)
        return (np.asarray(call(plus)) - np.asarray(call(minus))) / (2 * eps)

    for _ in range(n_directions):
        vs = [_random_like(args[i], rng) for i in diff]
        num = fd(vs)
        scale = max(1.0, float(np.max(np.abs(num))) if num.size else 1.0)
        if "reverse" in modes:
            w = _random_like(y0, rng)
            _, back = pullback(f, *args)
            cts = back(w.astype(out_dtype) if y0.dtype.kind in "fc" else w)
            got = 0.0
            for i, v in zip(diff, vs):
                ct = cts[i]
                if check_dtypes:
                    _check_dtype(ct, args[i], "reverse", i)
                got += real_dot(ct, v)
            want = real_dot(w, num)
            wscale = max(1.0, float(np.sum(np.abs(w) * np.abs(num))))
            if not np.isclose(got, want, rtol=rtol, atol=atol * wscale):
                raise AssertionError(
                    f"reverse mode: <back(w), v> = {got!r} but finite differences give {want!r}"
                )
        if "forward" in modes:
            tangents = [np.zeros_like(np.asarray(a)) if i not in diff else None for i, a in enumerate(args)]
            for i, v in zip(diff, vs):
                tangents[i] = v
            tangents = [t if t is not None else np.zeros(np.shape(a)) for t, a in zip(tangents, args)]
            _, t_out = jvp(f, args, tangents)
            t_out = np.asarray(t_out)
            if check_dtypes and y0.dtype.kind in "fc":
                want_kind = out_dtype.kind
                if t_out.dtype.kind != want_kind and not (want_kind == "f" and t_out.dtype.kind == "f"):
                    raise AssertionError(
                        f"forward mode: tangent dtype {t_out.dtype} for a {want_kind} output"
                    )
            if not np.allclose(t_out, num, rtol=rtol, atol=atol * scale):
                err = float(np.max(np.abs(t_out - num)))
                raise AssertionError(f"forward mode: jvp differs from finite differences by {err:.3g}")


def _check_dtype(ct: Any, arg: Any, mode: str, i: int) -> None:
    if isinstance(arg, (float, complex)):
        if not isinstance(ct, type(arg)):
            raise AssertionError(
                f"{mode} mode: argument {i} is {type(arg).__name__}, its gradient {type(ct)}"
            )
        return
    if np.result_type(ct) != np.result_type(arg) or np.shape(ct) != np.shape(arg):
        raise AssertionError(
            f"{mode} mode: argument {i} is {np.result_type(arg)}{np.shape(arg)} but its gradient "
            f"is {np.result_type(ct)}{np.shape(ct)}"
        )


def dense_matrix(f: Callable, x: Any) -> np.ndarray:
    """The matrix of a linear ``f`` in real coordinates, built column by column from ``f`` itself.

    Column j is ``f`` applied to the j-th real unit vector (and, for complex
    ``x``, to ``1j`` times it), flattened to real coordinates.
    """
    x = np.asarray(x)
    cols = []
    units = [1, 1j] if x.dtype.kind == "c" else [1]
    for u in units:
        for j in range(x.size):
            e = np.zeros(x.size, dtype=x.dtype)
            e[j] = u
            cols.append(_real_coords(np.asarray(f(e.reshape(x.shape)))))
    return np.stack(cols, axis=1)


def _real_coords(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y).ravel()
    if y.dtype.kind == "c":
        return np.concatenate([y.real, y.imag])
    return y.astype(np.float64)


def _from_real_coords(v: np.ndarray, like: np.ndarray) -> np.ndarray:
    like = np.asarray(like)
    if like.dtype.kind == "c":
        n = like.size
        return (v[:n] + 1j * v[n:]).reshape(like.shape)
    return v.reshape(like.shape)


def check_adjoint(
    f: Callable,
    x: Any,
    *,
    rtol: float | None = None,
    atol: float | None = None,
    seed: int = 0,
    matrix: np.ndarray | None = None,
) -> np.ndarray:
    """Check the reverse and forward rules of a linear ``f`` against its dense matrix.

    Builds ``M`` from ``f`` applied to unit vectors (plain NumPy, no
    differentiation), then checks ``back(g) == M^T g`` for a random ``g``
    (the adjoint, in real coordinates) and ``jvp(f, x, t) == M t`` for a random
    ``t``. Also checks the dot-product identity ``<M t, g> == <t, back(g)>``.
    Returns ``M``.

    Examples
    --------
    >>> import numpy as np, pullback as pb
    >>> M = pb.testing.check_adjoint(np.fft.fft, np.zeros(5, complex))
    >>> M.shape
    (10, 10)
    """
    rng = np.random.default_rng(seed)
    x = np.asarray(x)
    y = np.asarray(f(x))
    if rtol is None or atol is None:
        r, a = _default_tol([x.dtype, y.dtype])
        rtol = r if rtol is None else rtol
        atol = a if atol is None else atol
    M = (
        dense_matrix(lambda v: f(v.astype(np.complex128 if v.dtype.kind == "c" else np.float64)), x)
        if matrix is None
        else matrix
    )
    g = _random_like(y, rng)
    _, back = pullback(f, x)
    (ct,) = back(g)
    _check_dtype(ct, x, "reverse", 0)
    want = _from_real_coords(
        M.T @ _real_coords(g.astype(np.complex128 if g.dtype.kind == "c" else np.float64)), x
    )
    scale = max(1.0, float(np.max(np.abs(want))) if want.size else 1.0)
    if not np.allclose(np.asarray(ct), want, rtol=rtol, atol=atol * scale):
        err = float(np.max(np.abs(np.asarray(ct) - want)))
        raise AssertionError(f"adjoint: back(g) differs from M^T g by {err:.3g} (scale {scale:.3g})")
    t = _random_like(x, rng)
    _, tout = jvp(f, (x,), (t,))
    want_t = _from_real_coords(
        M @ _real_coords(t.astype(np.complex128 if t.dtype.kind == "c" else np.float64)), y
    )
    scale_t = max(1.0, float(np.max(np.abs(want_t))) if want_t.size else 1.0)
    if not np.allclose(np.asarray(tout), want_t, rtol=rtol, atol=atol * scale_t):
        err = float(np.max(np.abs(np.asarray(tout) - want_t)))
        raise AssertionError(f"adjoint: jvp(t) differs from M t by {err:.3g} (scale {scale_t:.3g})")
    lhs = real_dot(g, tout)
    rhs = real_dot(ct, t)
    if not np.isclose(lhs, rhs, rtol=rtol, atol=atol * max(1.0, abs(lhs))):
        raise AssertionError(f"dot-product test: <M t, g> = {lhs!r} but <t, back(g)> = {rhs!r}")
    return M
