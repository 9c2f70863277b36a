"""Rules: ``scipy.stats`` multivariate_normal, dirichlet, ``entropy`` and ``zscore``.

Intercepted like the univariate distributions (:mod:`pullback.rules.stats`): the methods of
``multivariate_normal_gen`` and ``dirichlet_gen`` (unfrozen calls), and the frozen objects
(``multivariate_normal(mean, cov)``, ``dirichlet(alpha)``), whose constructors convert their
parameters with ``np.asarray``. Each function is a primitive whose value is SciPy's own and
whose derivatives are formulas in NumPy calls with rules (``np.linalg.inv`` and friends,
``scipy.special.digamma``), so they differentiate in turn (higher orders, forward mode).

**multivariate_normal** ``logpdf``/``pdf`` in ``x``, ``mean`` and ``cov``, and ``entropy`` in
``cov`` (its derivative in ``mean`` is zero). With ``d = x - mean``, ``P = Σ^{-1}``:
``∂/∂x = -P d``, ``∂/∂mean = P d``, ``∂/∂Σ = (P d dᵀ P - P) / 2`` per point; ``pdf`` multiplies
by the pdf; ``entropy``: ``∂/∂Σ = P / 2``. SciPy's ``Σ`` is built from ``cov`` as a scalar
times the identity, a diagonal, or a matrix of which SciPy's ``eigh`` reads the lower triangle
(and the diagonal): the gradient is that of SciPy's actual function, i.e. the symmetric
gradient folded onto the lower triangle (off-diagonal entries count twice, the upper
triangle gets zero), as for ``np.linalg.eigh`` (:mod:`pullback.rules.linalg_decomp`). For a
symmetric ``cov = (B + Bᵀ) / 2`` this gives the usual symmetric gradient with respect to ``B``.
With ``allow_singular=True`` and a rank-deficient ``cov`` (SciPy's pseudo-inverse and
pseudo-determinant), ``x`` and ``mean`` differentiate (``P`` is SciPy's pseudo-inverse); a
traced ``cov`` raises :class:`pullback.NoRuleError` (the pseudo-determinant is not
differentiable where the rank changes).

**dirichlet** ``logpdf``/``pdf`` in ``x`` (components on the first axis; a last component
left out is ``1 - sum``) and ``alpha``: ``∂/∂x_i = (alpha_i - 1) / x_i``,
``∂/∂alpha_i = log x_i + ψ(Σ alpha) - ψ(alpha_i)``.

**entropy** ``(pk, qk=None, base=None, axis=0)``: with ``p = pk / Σpk``, ``q = qk / Σqk`` and
the value ``S`` in nats: ``∂S/∂pk = -(log p + S) / Σpk`` (Shannon), ``∂D/∂pk =
(log(p/q) - D) / Σpk`` and ``∂D/∂qk = (1 - p/q) / Σqk`` (relative); ``base`` divides by
``log(base)``. ``nan_policy`` other than ``'propagate'`` raises :class:`pullback.NoRuleError`.

**zscore** ``(a, axis=0, ddof=0, nan_policy='propagate')``: ``z = (a - mean) / std``, whose
Jacobian is symmetric: ``J t = (t - mean(t)) / std - z Σ(z t) / ((n - ddof) std)`` along
``axis``, used for both modes; for complex data (whose std is that of ``|a - mean|``) ``Σ(z t)``
is ``Re Σ(conj(z) t)``.

Examples
--------
>>> import numpy as np, pullback as pb, scipy.stats as st
>>> cov = np.array([[2.0, 0.5], [0.5, 1.0]])
>>> g_mean, = pb.gradient(lambda m: st.multivariate_normal(m, cov).logpdf([1.0, 0.0]), np.zeros(2))
>>> np.allclose(g_mean, np.linalg.solve(cov, [1.0, 0.0]))
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.special as sc
from scipy.stats import _entropy, _stats_py
from scipy.stats import _multivariate as M

from ..core import Tracer, strip
from ..intercept import original, route
from .registry import defcomposite, defvjp, numeric
from .stats import no_rule

ORIGINALS: dict[str, Callable] = {}


def _traced(*vals) -> bool:
    return any(isinstance(v, Tracer) for v in vals)


def _named(f: Callable, name: str) -> Callable:
    f.__name__ = f.__qualname__ = name
    return f


# ---------------------------------------------------------------- multivariate normal


class MVNContext:
    """What the formulas need beyond the arguments: the dimension, the shape of ``x`` as SciPy
    reads it, and SciPy's pseudo-inverse when ``cov`` is rank-deficient (else None)."""

    __slots__ = ("dim", "xshape", "pinv")

    def __init__(self, dim, xshape, pinv):
        self.dim, self.xshape, self.pinv = dim, xshape, pinv

    def __repr__(self) -> str:
        return f"MVNContext(dim={self.dim})"


def _quantile_shape(xshape: tuple, dim: int) -> tuple:
    """The shape ``(..., dim)`` SciPy's ``_process_quantiles`` gives ``x``."""
    if len(xshape) == 0:
        return (1,)
    if len(xshape) == 1:
        return (xshape[0], 1) if dim == 1 else (1, xshape[0])
    return xshape


def _sym(cov, dim):
    """The symmetric matrix SciPy's eigh sees, from ``cov`` (linear, differentiable)."""
    if dim == 1:
        return np.reshape(cov, (1, 1))
    nd = np.ndim(cov)
    if nd == 0:
        return cov * np.eye(dim)
    if nd == 1:
        return cov * np.eye(dim)  # np.diag(cov)
    low = np.tril(cov, -1)
    return low + np.swapaxes(low, -1, -2) + np.diagonal(cov) * np.eye(dim)


def _fold(G, cov, dim):
    """The adjoint of :func:`_sym`: a cotangent of ``Σ`` as one of ``cov``."""
    if dim == 1:
        return np.reshape(G, np.shape(cov))
    nd = np.ndim(cov)
    if nd == 0:
        return np.trace(G)
    if nd == 1:
        return np.diagonal(G)
    half = np.tril(np.ones((dim, dim)), -1) + 0.5 * np.eye(dim)
    return (G + np.swapaxes(G, -1, -2)) * half


def _mvn_parts(x, mean, cov, ctx):
    """``(P, P d)`` with ``d = x - mean`` of shape ``(..., dim)``."""
    X = np.reshape(x, _quantile_shape(ctx.xshape, ctx.dim))
    dev = X if mean is None else X - np.reshape(mean, (ctx.dim,))
    P = ctx.pinv if ctx.pinv is not None else np.linalg.inv(_sym(cov, ctx.dim))
    return P, np.matmul(dev, P)


def _batch(v, ctx):
    """A per-point array (``ans``'s shape) in the unsqueezed shape ``(...)`` of the points."""
    return np.reshape(v, _quantile_shape(ctx.xshape, ctx.dim)[:-1])


def _weight(g, ans, pdf):
    return g * ans if pdf else g


def _mvn_vjp(i: int, pdf: bool) -> Callable:
    def vjp(g, ans, x, mean, cov, *, how, ctx):
        w = _batch(_weight(g, ans, pdf), ctx)
        P, Pd = _mvn_parts(x, mean, cov, ctx)
        wPd = w[..., None] * Pd
        if i == 0:
            return np.reshape(-wPd, np.shape(x))
        if i == 1:
            return np.reshape(np.sum(np.reshape(wPd, (-1, ctx.dim)), axis=0), np.shape(mean))
        flat = np.reshape(Pd, (-1, ctx.dim))
        G = 0.5 * (np.matmul(np.swapaxes(np.reshape(wPd, (-1, ctx.dim)), 0, 1), flat) - np.sum(w) * P)
        return _fold(G, cov, ctx.dim)

    return _named(vjp, f"multivariate_normal_{'pdf' if pdf else 'logpdf'}_vjp_{('x', 'mean', 'cov')[i]}")


def _mvn_jvp(i: int, pdf: bool) -> Callable:
    def jvp(t, ans, x, mean, cov, *, how, ctx):
        P, Pd = _mvn_parts(x, mean, cov, ctx)
        if i == 0:
            out = -np.sum(Pd * np.reshape(t, Pd.shape), axis=-1)
        elif i == 1:
            out = np.sum(Pd * np.reshape(t, (ctx.dim,)), axis=-1)
        else:
            tS = _sym(t, ctx.dim)
            out = 0.5 * (np.sum(np.matmul(Pd, tS) * Pd, axis=-1) - np.sum(P * tS))
        out = np.reshape(out, np.shape(ans))
        return ans * out if pdf else out

    return _named(jvp, f"multivariate_normal_{'pdf' if pdf else 'logpdf'}_jvp_{('x', 'mean', 'cov')[i]}")


def _mvn_raw(x, mean, cov, *, how, ctx):
    return numeric(how(x, mean, cov))  # (a NumPy scalar for one point, as SciPy returns)


_MVN = {pdf: defvjp(_mvn_raw, [_mvn_vjp(i, pdf) for i in range(3)], [_mvn_jvp(i, pdf) for i in range(3)],
                    raw=_mvn_raw, name=f"scipy.stats.multivariate_normal.{'pdf' if pdf else 'logpdf'}",
                    key=False)
        for pdf in (False, True)}


def _mvn_context(dist, x, mean, cov, allow_singular, method):
    dim, _, cov_object = dist._process_parameters(strip(mean), strip(cov), allow_singular)
    pinv = None
    if np.any(cov_object.rank < dim):
        if isinstance(cov, Tracer):
            raise no_rule(f"scipy.stats.multivariate_normal.{method}", "a singular cov")
        pinv = cov_object._psd.pinv
    return MVNContext(dim, np.shape(x), pinv)


def _check_cov(cov, method):
    if isinstance(strip(cov), M._covariance.Covariance):
        raise no_rule(f"scipy.stats.multivariate_normal.{method}", "a Covariance object")


def _mvn_method(method: str) -> Callable:
    orig = original(getattr(M.multivariate_normal_gen, method))

    def traced(self, x, mean=None, cov=1, allow_singular=False):
        _check_cov(cov, method)
        ctx = _mvn_context(self, x, mean, cov, allow_singular, method)

        def how(x, mean, cov):
            return orig(self, x, mean, cov, allow_singular)

        return _MVN[method == "pdf"](x, mean, cov, how=how, ctx=ctx)

    return _named(traced, f"multivariate_normal_{method}")


def mvn_entropy_vjp_cov(g, ans, mean, cov, *, ctx, how):
    return _fold(0.5 * g * np.linalg.inv(_sym(cov, ctx.dim)), cov, ctx.dim)


def mvn_entropy_jvp_cov(t, ans, mean, cov, *, ctx, how):
    return 0.5 * np.sum(np.linalg.inv(_sym(cov, ctx.dim)) * _sym(t, ctx.dim))


def mvn_entropy_vjp_mean(g, ans, mean, cov, *, ctx, how):
    return np.zeros(np.shape(strip(mean)))


def mvn_entropy_jvp_mean(t, ans, mean, cov, *, ctx, how):
    return np.zeros(())


def _mvn_entropy_raw(mean, cov, *, ctx, how):
    return numeric(how(mean, cov))


_MVN_ENTROPY = defvjp(_mvn_entropy_raw, [mvn_entropy_vjp_mean, mvn_entropy_vjp_cov],
                      [mvn_entropy_jvp_mean, mvn_entropy_jvp_cov], raw=_mvn_entropy_raw,
                      name="scipy.stats.multivariate_normal.entropy", key=False)


def _mvn_entropy_context(dist, mean, cov):
    dim, _, cov_object = dist._process_parameters(strip(mean), strip(cov))
    if np.any(cov_object.rank < dim) and isinstance(cov, Tracer):
        raise no_rule("scipy.stats.multivariate_normal.entropy", "a singular cov")
    return MVNContext(dim, (), None)


def mvn_entropy(self: Any, mean: Any = None, cov: Any = 1) -> Any:
    _check_cov(cov, "entropy")
    ctx = _mvn_entropy_context(self, mean, cov)
    orig = ORIGINALS["multivariate_normal.entropy"]

    def how(mean, cov):
        return orig(self, mean, cov)

    return _MVN_ENTROPY(mean, cov, ctx=ctx, how=how)


class TracedMultivariateNormalFrozen(M.multivariate_normal_frozen):
    """A frozen multivariate normal whose ``mean`` or ``cov`` is traced.

    SciPy's own state (the plain parameters) computes the values; ``logpdf``, ``pdf`` and
    ``entropy`` differentiate in the traced parameters; ``cdf``, ``logcdf``, ``rvs`` and
    ``marginal`` have no rule and raise :class:`pullback.NoRuleError`.
    """

    @property
    def mean(self):
        m = self._pb_params[0]
        return np.reshape(m, (self.dim,)) if isinstance(m, Tracer) else self.__dict__["mean"]

    @property
    def cov(self):
        """SciPy's processed ``cov`` (a scalar times the identity, a diagonal, or the matrix)."""
        cov, dim = self._pb_params[1], self.dim
        nd = np.ndim(cov)
        if dim == 1:
            return np.reshape(cov, (1, 1))
        return cov * np.eye(dim) if nd < 2 else cov

    def _frozen(self, method, x):
        mean, cov = self._pb_params
        ctx = _mvn_context(self._dist, x, mean, cov, self.allow_singular, method)
        orig = ORIGINALS[f"multivariate_normal_frozen.{method}"]

        def how(x, mean, cov):
            return orig(self._pb_plain, x)

        return _MVN[method == "pdf"](x, mean, cov, how=how, ctx=ctx)

    def logpdf(self, x):
        return self._frozen("logpdf", x)

    def pdf(self, x):
        return self._frozen("pdf", x)

    def entropy(self):
        mean, cov = self._pb_params
        ctx = _mvn_entropy_context(self._dist, mean, cov)
        orig = ORIGINALS["multivariate_normal_frozen.entropy"]

        def how(mean, cov):
            return orig(self._pb_plain)

        return _MVN_ENTROPY(mean, cov, ctx=ctx, how=how)

    def _no_rule(self, method):
        raise no_rule(f"scipy.stats.multivariate_normal_frozen.{method}", "a traced mean or cov")

    def cdf(self, x):
        self._no_rule("cdf")

    def logcdf(self, x):
        self._no_rule("logcdf")

    def rvs(self, size=1, random_state=None):
        self._no_rule("rvs")

    def marginal(self, dimensions):
        self._no_rule("marginal")


def mvn_frozen_init(self: Any, mean: Any = None, cov: Any = 1, allow_singular: bool = False, seed: Any = None,
                    maxpts: Any = None, abseps: float = 1e-5, releps: float = 1e-5) -> None:
    """Freeze with SciPy's plain state, keep the traced parameters, and become a
    :class:`TracedMultivariateNormalFrozen`."""
    _check_cov(cov, "__init__")
    plain = object.__new__(M.multivariate_normal_frozen)  # SciPy's frozen object, which computes values
    ORIGINALS["multivariate_normal_frozen.__init__"](plain, strip(mean), strip(cov), allow_singular, seed,
                                                     maxpts, abseps, releps)
    self.__dict__.update(plain.__dict__)
    self._pb_plain = plain
    self._pb_params = (mean, cov)
    self.__class__ = TracedMultivariateNormalFrozen


def mvn_frozen_method(method: str) -> Callable:
    def traced(self, x):
        mean = self.__dict__["mean"]
        cov = self.cov_object.covariance
        ctx = _mvn_context(self._dist, x, mean, cov, self.allow_singular, method)
        orig = ORIGINALS[f"multivariate_normal_frozen.{method}"]

        def how(x, mean, cov):
            return orig(self, x)

        return _MVN[method == "pdf"](x, mean, cov, how=how, ctx=ctx)

    return _named(traced, f"multivariate_normal_frozen_{method}")


# ---------------------------------------------------------------- dirichlet


def _dirichlet_full(x, K):
    """``x`` with its left-out last component ``1 - sum`` appended (as SciPy does)."""
    if np.shape(x)[0] == K:
        return x
    return np.concatenate([x, 1 - np.sum(x, axis=0, keepdims=True)], axis=0)


def _dirichlet_dx(x, alpha):
    """∂ logpdf / ∂ x for the full ``x`` (xlogy's convention: 0 where ``alpha == 1``)."""
    A = np.reshape(alpha, (-1,) + (1,) * (np.ndim(x) - 1))
    return np.where(strip(A) == 1, 0.0, (A - 1) / x)


def _dirichlet_dalpha(x, alpha):
    A = np.reshape(alpha, (-1,) + (1,) * (np.ndim(x) - 1))
    return np.log(x) + sc.digamma(np.sum(alpha)) - sc.digamma(A)


def _dirichlet_vjp(i: int, pdf: bool) -> Callable:
    def vjp(g, ans, x, alpha, *, how):
        K = np.shape(alpha)[0]
        X = _dirichlet_full(x, K)
        w = np.reshape(_weight(g, ans, pdf), np.shape(X)[1:])
        if i == 0:
            G = w * _dirichlet_dx(X, alpha)
            if np.shape(x)[0] != K:
                G = G[:-1] - G[-1:]
            return G
        d = w * _dirichlet_dalpha(X, alpha)
        return np.sum(np.reshape(d, (K, -1)), axis=1)

    return _named(vjp, f"dirichlet_{'pdf' if pdf else 'logpdf'}_vjp_{('x', 'alpha')[i]}")


def _dirichlet_jvp(i: int, pdf: bool) -> Callable:
    def jvp(t, ans, x, alpha, *, how):
        K = np.shape(alpha)[0]
        X = _dirichlet_full(x, K)
        if i == 0:
            T = t if np.shape(x)[0] == K else np.concatenate([t, -np.sum(t, axis=0, keepdims=True)], axis=0)
            out = np.sum(_dirichlet_dx(X, alpha) * T, axis=0)
        else:
            T = np.reshape(t, (-1,) + (1,) * (np.ndim(X) - 1))
            out = np.sum(_dirichlet_dalpha(X, alpha) * T, axis=0)
        out = np.reshape(out, np.shape(ans))
        return ans * out if pdf else out

    return _named(jvp, f"dirichlet_{'pdf' if pdf else 'logpdf'}_jvp_{('x', 'alpha')[i]}")


def _dirichlet_raw(x, alpha, *, how):
    return numeric(how(x, alpha))


_DIRICHLET = {pdf: defvjp(_dirichlet_raw, [_dirichlet_vjp(i, pdf) for i in range(2)],
                          [_dirichlet_jvp(i, pdf) for i in range(2)], raw=_dirichlet_raw,
                          name=f"scipy.stats.dirichlet.{'pdf' if pdf else 'logpdf'}", key=False)
              for pdf in (False, True)}


def _dirichlet_method(method: str) -> Callable:
    orig = original(getattr(M.dirichlet_gen, method))

    def traced(self, x, alpha):
        def how(x, alpha):
            return orig(self, x, alpha)

        return _DIRICHLET[method == "pdf"](x, alpha, how=how)

    return _named(traced, f"dirichlet_{method}")


def dirichlet_frozen_init(self: Any, alpha: Any, seed: Any = None) -> None:
    """Freeze with SciPy's checks on the plain ``alpha``, then keep the traced one: the frozen
    methods call the (intercepted) unfrozen ones with it."""
    ORIGINALS["dirichlet_frozen.__init__"](self, strip(alpha), seed)
    self.alpha = alpha


# ---------------------------------------------------------------- entropy


def _entropy_expand(ans, axis, keepdims):
    if keepdims or axis is None:
        return ans
    return np.expand_dims(ans, axis)


def entropy_vjp_pk(g, ans, pk, qk, *, base, axis, keepdims, how):
    return _entropy_d(0, g, ans, pk, qk, base, axis, keepdims)


def entropy_vjp_qk(g, ans, pk, qk, *, base, axis, keepdims, how):
    return _entropy_d(1, g, ans, pk, qk, base, axis, keepdims)


def entropy_jvp_pk(t, ans, pk, qk, *, base, axis, keepdims, how):
    return np.sum(t * _entropy_d(0, 1.0, ans, pk, qk, base, axis, keepdims), axis=axis, keepdims=keepdims)


def entropy_jvp_qk(t, ans, pk, qk, *, base, axis, keepdims, how):
    return np.sum(t * _entropy_d(1, 1.0, ans, pk, qk, base, axis, keepdims), axis=axis, keepdims=keepdims)


def _entropy_d(i, g, ans, pk, qk, base, axis, keepdims):
    """``g`` (broadcast along ``axis``) times ∂S/∂pk (i = 0) or ∂S/∂qk (i = 1)."""
    with np.errstate(all="ignore"):
        L = 1.0 if base is None else float(np.log(base))
        if qk is not None:
            shape = np.broadcast_shapes(np.shape(strip(pk)), np.shape(strip(qk)))
            pk, qk = np.broadcast_to(pk, shape), np.broadcast_to(qk, shape)
        S = _entropy_expand(ans, axis, keepdims) * L
        w = _entropy_expand(g, axis, keepdims) / L if np.ndim(g) else g / L
        sp = np.sum(pk, axis=axis, keepdims=True)
        p = pk / sp
        if qk is None:
            return -w * (np.log(p) + S) / sp
        sq = np.sum(qk, axis=axis, keepdims=True)
        q = qk / sq
        if i == 0:
            return w * (np.log(p / q) - S) / sp
        return w * (1 - p / q) / sq


def _entropy_raw(pk, qk, *, base, axis, keepdims, how):
    return numeric(how(pk, qk))


_ENTROPY = defvjp(_entropy_raw, [entropy_vjp_pk, entropy_vjp_qk], [entropy_jvp_pk, entropy_jvp_qk],
                  raw=_entropy_raw, name="scipy.stats.entropy", key=False)


def entropy(pk: Any, qk: Any = None, base: float | None = None, axis: int | None = 0, *,
            nan_policy: str = "propagate", keepdims: bool = False) -> Any:
    """The traced ``scipy.stats.entropy``: SciPy's value, the formulas' derivatives."""
    if isinstance(base, Tracer):
        raise no_rule("scipy.stats.entropy", "base")
    if nan_policy != "propagate":
        raise no_rule("scipy.stats.entropy", f"nan_policy={nan_policy!r}")
    orig = ORIGINALS["entropy"]

    def how(pk, qk):
        return orig(pk, qk, base=base, axis=axis, keepdims=keepdims)

    return _ENTROPY(pk, qk, base=base, axis=axis, keepdims=keepdims, how=how)


# ---------------------------------------------------------------- zscore


def _zscore_j(t, ans, a, axis, ddof):
    """The Jacobian of zscore applied to ``t``; self-adjoint, complex data included (as a map of
    real and imaginary parts: the std is that of ``|a - mean|``, so its derivative projects on
    ``Re(conj(z) t)``)."""
    sd = np.std(a, axis=axis, ddof=ddof, keepdims=True)
    n = np.size(strip(a)) if axis is None else np.shape(strip(a))[axis]
    if np.iscomplexobj(strip(ans)):
        along = np.real(np.sum(np.conj(ans) * t, axis=axis, keepdims=True))
    else:
        along = np.sum(ans * t, axis=axis, keepdims=True)
    return (t - np.mean(t, axis=axis, keepdims=True)) / sd - ans * along / ((n - ddof) * sd)


def zscore_vjp(g, ans, a, *, axis, ddof, how):
    return _zscore_j(g, ans, a, axis, ddof)


def zscore_jvp(t, ans, a, *, axis, ddof, how):
    return _zscore_j(np.broadcast_to(t, np.shape(strip(ans))), ans, a, axis, ddof)


def _zscore_raw(a, *, axis, ddof, how):
    return np.asarray(how(a))


_ZSCORE = defvjp(_zscore_raw, [zscore_vjp], [zscore_jvp], raw=_zscore_raw, name="scipy.stats.zscore",
                 key=False)


def zscore(a: Any, axis: int | None = 0, ddof: int = 0, nan_policy: str = "propagate") -> Any:
    """The traced ``scipy.stats.zscore``: SciPy's value, the formulas' derivatives."""
    if nan_policy != "propagate":
        raise no_rule("scipy.stats.zscore", f"nan_policy={nan_policy!r}")
    orig = ORIGINALS["zscore"]

    def how(a):
        return orig(a, axis=axis, ddof=ddof, nan_policy=nan_policy)

    return _ZSCORE(a, axis=axis, ddof=ddof, how=how)


# ---------------------------------------------------------------- interception


def _route(name: str, func: Callable, handler: Callable) -> None:
    ORIGINALS[name] = original(func)
    defcomposite(func, handler)
    route(func)


for _m in ("logpdf", "pdf"):
    _route(f"multivariate_normal.{_m}", getattr(M.multivariate_normal_gen, _m), _mvn_method(_m))
    _route(f"multivariate_normal_frozen.{_m}", getattr(M.multivariate_normal_frozen, _m),
           mvn_frozen_method(_m))
    _route(f"dirichlet.{_m}", getattr(M.dirichlet_gen, _m), _dirichlet_method(_m))
_route("multivariate_normal.entropy", M.multivariate_normal_gen.entropy, mvn_entropy)
ORIGINALS["multivariate_normal_frozen.entropy"] = M.multivariate_normal_frozen.entropy
_route("multivariate_normal_frozen.__init__", M.multivariate_normal_frozen.__init__, mvn_frozen_init)
_route("dirichlet_frozen.__init__", M.dirichlet_frozen.__init__, dirichlet_frozen_init)
_route("zscore", _stats_py.zscore, zscore)
_route("entropy", _entropy.entropy, entropy)  # a closure (SciPy's axis/nan_policy decorator)
