r"""Rules: ``finufft`` — non-uniform FFTs differentiate as written, w.r.t. data and points.

Loaded only when ``finufft`` is installed (an optional family, see :mod:`pullback.rules`).
finufft's Python functions convert their inputs with ctypes, so each public one is
intercepted (:mod:`pullback.intercept`): ``nufft{1,2,3}d{1,2,3}`` and the ``Plan``
methods ``setpts``, ``execute`` and ``execute_adjoint``. Plain calls run finufft's own
code unchanged.

The math
--------
Every transform is a matrix ``A`` whose entries are ``exp(i σ <P_r, Q_c>)``: ``σ`` is
``isign``, the columns ``c`` index the input, the rows ``r`` the output, and ``P``,
``Q`` are the row and column coordinates in ``d`` dimensions:

=====  =================================  ======================  ========================
type   value                              input coordinates Q     output coordinates P
=====  =================================  ======================  ========================
1      ``f_k = Σ_j c_j e^{iσ k·x_j}``      points ``x, y, z``      modes ``k`` (integers)
2      ``c_j = Σ_k f_k e^{iσ k·x_j}``      modes ``k``             points ``x, y, z``
3      ``f_k = Σ_j c_j e^{iσ s_k·x_j}``    points ``x, y, z``      frequencies ``s, t, u``
=====  =================================  ======================  ========================

The modes ``k`` along axis ``d`` run from ``-N_d//2`` to ``(N_d-1)//2`` (``modeord=0``) or in
FFT order (``modeord=1``); they are constants. With pullback's complex convention (a
gradient is ``dL/dRe + i dL/dIm``; ``back(g) = A^H g`` for a C-linear map) and ``v = A u``:

- data: ``ū = A^H g``. ``A^H`` is the same plan run backwards (``Plan.execute_adjoint``):
  for type 1 it is type 2 with ``-σ`` at the same points, for type 2 type 1 with ``-σ``, for
  type 3 type 3 with points and frequencies swapped and ``-σ``. Declared linear in ``u``.
- an input coordinate ``Q^(d)`` (points of types 1 and 3):
  ``Q̄^(d) = Re(iσ Σ_batch u ⊙ conj(A^H (P^(d) ⊙ g)))`` — one adjoint transform of the
  frequency-weighted cotangent per dimension, batched with ``ū``'s;
  tangent ``iσ P^(d) ⊙ A(u ⊙ δQ^(d))``.
- an output coordinate ``P^(d)`` (points of type 2, frequencies of type 3):
  ``P̄^(d) = Re(iσ Σ_batch conj(g) ⊙ A(Q^(d) ⊙ u))`` — one forward transform of the
  coordinate-weighted input per dimension; tangent ``iσ δP^(d) ⊙ A(Q^(d) ⊙ u)``.

The adjoint ``A^H`` is a transform of the same kind (``-σ``, input and output swapped), so it
is the same primitive in the other direction, and the rules above, written with NumPy calls
and that primitive, differentiate in turn (Hessians, forward over reverse). Real points get
real cotangents. Costs: the gradient w.r.t. the data is one transform; w.r.t. the points of
a type-1 (type-3) transform ``d`` more, in the same batched adjoint call; w.r.t. type-2 points
``d`` forward transforms. All of them run on one ``finufft.Plan`` per set of points: the
user's own plan (``Plan`` interface), else one made once per backward sweep and shared by
every transform at those points (a loop that reuses its points sorts them once). The
interpolations of a backward sweep (type 1's adjoint, type 2 itself) on a small fine grid (1 or 2
dimensions, at most 4 MiB) run on a second plan that leaves the points unsorted: the same bits,
1.3-3.5 times faster (:func:`get_plan`); W9's gradient went from 348 to 265 ms.

Options
-------
``isign``, ``eps`` (the adjoint and derivative transforms use the same tolerance),
``modeord``, ``n_trans`` batching, ``upsampfac``, ``nthreads`` and every other finufft
option pass through to every transform; complex64 data with float32 points runs in single
precision end to end. ``out=`` receives the value (the returned array is traced).
``spreadinterponly`` (spreading or interpolation alone, not a Fourier transform) has no rule:
:class:`pullback.NoRuleError`.

Accuracy: the derivatives inherit finufft's relative error ``eps``. Measured relative 2-norm
error of ``pb.gradient`` of ``sum(abs(nufft2d{1,2}(...))**2)`` against ``eps=1e-12``
(M = 2000 points, 32^2 modes; ``python benchmarks/nufft.py --accuracy``):

=======  ======================  ========================
eps      w.r.t. data (t1 / t2)   w.r.t. points (t1 / t2)
=======  ======================  ========================
1e-2     8.7e-3 / 6.4e-3         1.5e-2 / 1.3e-2
1e-4     1.5e-4 / 1.0e-4         2.5e-4 / 2.1e-4
1e-6     2.0e-6 / 1.4e-6         3.4e-6 / 2.8e-6
1e-8     6.6e-9 / 4.8e-9         1.2e-8 / 1.0e-8
1e-10    8.8e-11 / 6.2e-11       1.4e-10 / 1.2e-10
=======  ======================  ========================

So about ``eps`` for the data and ``1-3 eps`` for the points; finite-difference checks need a
small ``eps`` (the tests use ``1e-13`` in double precision).

The ``Plan`` interface: ``Plan(...)`` records its ``isign``, ``eps`` and options (its
``__init__`` is wrapped), ``plan.setpts`` with traced points records them on the plan (its
class becomes :class:`TracedPlan`, a subclass, until points are set again untraced), and
``plan.execute(data)`` / ``execute_adjoint(data)`` differentiate w.r.t. data and points.

Only the CPU library is covered. cufinufft's Python interface has the same ``Plan`` methods
(``execute`` / ``execute_adjoint`` exist there too), so :func:`_run` and :class:`Op` are
the only places that would learn about device arrays.

Examples
--------
>>> import numpy as np, finufft, pullback as pb
>>> x = np.array([0.1, 1.2, -2.0]); c = np.array([1.0 + 1j, 2.0, -1j])
>>> def loss(c, x):
...     return np.sum(np.abs(finufft.nufft1d1(x, c, 8, eps=1e-12)) ** 2)
>>> gc, gx = pb.gradient(loss, c, x)
>>> gx.dtype, gc.dtype
(dtype('float64'), dtype('complex128'))
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import numbers
import threading

import finufft
import numpy as np
from finufft import _interfaces as _fi

from ..core import Primitive, Tracer, strip
from ..core.trace import SWEEP_CONTEXTS, FinishedTrace
from ..errors import NoRuleError
from ..intercept import original, route
from .registry import defcomposite, fit, fit_tangent

_POINT_NAMES = ("x", "y", "z")
_FREQ_NAMES = ("s", "t", "u")


# ---------------------------------------------------------------- the static description


class Op:
    """One transform's static description: type, dimension, modes, sign, tolerance, dtype,
    options, batch size, and (``Plan`` interface) the user's plan with the points it holds.

    ``key`` identifies everything but the plan, for the per-sweep plan cache.
    """

    __slots__ = ("type", "dim", "n_modes", "isign", "eps", "dtype", "opts", "n_trans", "plan",
                 "plan_points", "key", "_grids", "own")

    def __init__(self, type_, dim, n_modes, isign, eps, dtype, opts, n_trans, plan=None, plan_points=()):
        self.type, self.dim, self.n_modes = type_, dim, n_modes
        self.isign, self.eps, self.dtype = int(isign), eps, np.dtype(dtype)
        self.opts, self.n_trans = tuple(sorted(opts.items())), int(n_trans)
        self.plan, self.plan_points = plan, plan_points
        self.key = (self.type, dim, n_modes, self.isign, eps, self.dtype.str, self.opts, self.n_trans)
        self._grids = None
        self.own = False  # True: ``plan`` is one pullback made (not the user's)

    @property
    def real(self) -> np.dtype:
        return np.dtype(np.float32) if self.dtype == np.complex64 else np.dtype(np.float64)

    def grid(self, d: int) -> np.ndarray:
        """The integer modes along axis ``d`` (read-only), shaped to broadcast against a mode array."""
        if self._grids is None:
            modeord = dict(self.opts).get("modeord", 0)
            grids = []
            for a, n in enumerate(self.n_modes):
                k = np.arange(-(n // 2), (n - 1) // 2 + 1, dtype=self.real)
                if modeord:
                    k = np.fft.ifftshift(k)
                k = k.reshape((n,) + (1,) * (self.dim - 1 - a))
                k.flags.writeable = False
                grids.append(k)
            self._grids = grids
        return self._grids[d]

    def bound(self, plan, coords: tuple) -> Op:
        """This transform, served by ``plan`` (which holds the points ``coords``)."""
        op = Op(self.type, self.dim, self.n_modes, self.isign, self.eps, self.dtype, dict(self.opts),
                self.n_trans, plan, coords)
        op._grids = self._grids
        op.own = True
        return op

    def __repr__(self) -> str:
        return f"<finufft type {self.type} {self.dim}-d isign={self.isign} eps={self.eps}>"


def _shapes(op: Op, coords: tuple, adjoint: bool) -> tuple[tuple, tuple]:
    m = coords[0].shape[0]
    if op.type == 1:
        cin, cout = (m,), op.n_modes
    elif op.type == 2:
        cin, cout = op.n_modes, (m,)
    else:
        cin, cout = (m,), (coords[op.dim].shape[0],)
    return (cout, cin) if adjoint else (cin, cout)


def _sides(op: Op, coords: tuple, adjoint: bool):
    """For each dimension, (input coordinate, output coordinate, index in ``coords`` of the input one
    or None, of the output one or None), in this direction."""
    d = op.dim
    out = []
    for a in range(d):
        if op.type == 1:
            q, p, iq, ip = coords[a], op.grid(a), a, None
        elif op.type == 2:
            q, p, iq, ip = op.grid(a), coords[a], None, a
        else:
            q, p, iq, ip = coords[a], coords[d + a], a, d + a
        out.append((p, q, ip, iq) if adjoint else (q, p, iq, ip))
    return out


# ---------------------------------------------------------------- plans


class _Cache(threading.local):
    plans: dict | None = None
    depth: int = 0


_CACHE = _Cache()


@contextlib.contextmanager
def plan_cache():
    """Within a backward sweep (and nested sweeps), one plan per transform and set of points."""
    if _CACHE.depth == 0:
        _CACHE.plans = {}
    _CACHE.depth += 1
    try:
        yield
    finally:
        _CACHE.depth -= 1
        if _CACHE.depth == 0:
            _CACHE.plans = None


SWEEP_CONTEXTS.append(plan_cache)


def _plan_points(plan) -> tuple:
    names = ("_xj", "_yj", "_zj")[: plan.dim]
    if plan.type == 3:
        names += ("_s", "_t", "_u")[: plan.dim]
    return tuple(getattr(plan, n, None) for n in names)


#: Interpolations (type 2, and type 1's adjoint) in 1 or 2 dimensions whose fine grid has at most
#: this many bytes run on a plan that leaves the points in their order (see :func:`get_plan`).
UNSORTED_GRID_BYTES = 4 << 20


def _unsorted_interp_pays(op: Op) -> bool:
    """Whether an interpolation for ``op`` is faster with the points unsorted (the user chose no
    ``spread_sort``; 1 or 2 dimensions; a fine grid within :data:`UNSORTED_GRID_BYTES`)."""
    opts = dict(op.opts)
    if op.type == 3 or op.dim > 2 or "spread_sort" in opts:
        return False
    sigma = opts.get("upsampfac") or 2.0  # finufft's default (0: its own choice, at most 2)
    fine = op.dtype.itemsize
    for n in op.n_modes:
        fine *= max(int(sigma * n), 1)
    return fine <= UNSORTED_GRID_BYTES


def _new_plan(op: Op, coords: tuple, unsorted: bool = False):
    n = op.dim if op.type == 3 else op.n_modes
    opts = dict(op.opts)
    if unsorted:
        opts["spread_sort"] = 0
    plan = finufft.Plan(op.type, n, op.n_trans, op.eps, op.isign, op.dtype, **opts)
    d = op.dim
    kw = dict(zip(_POINT_NAMES, coords[:d]))
    if op.type == 3:
        kw.update(zip(_FREQ_NAMES, coords[d:]))
    _original_setpts(plan, **kw)
    return plan


def get_plan(op: Op, coords: tuple, interp: bool = False):
    """A plan for ``op`` at the points ``coords`` (plain arrays): the user's when it holds exactly
    them, else the one bound to ``op`` (the forward value's), else the sweep's cached one, else a
    new one.

    ``interp``: the plan will interpolate (type 2, or type 1's adjoint). finufft sorts the points
    into bins by default, which pays for spreading onto a large grid; an interpolation from a fine
    grid that stays in cache ran 1.3-3.5 times faster on the points in their own order, and with
    the same bits (each output point is its own sum). So where :func:`_unsorted_interp_pays`, the
    interpolations of a backward sweep run on a second plan that skips the sort (``spread_sort=0``;
    setting its points takes ~1 ms where sorting them took 12-26, for 10^6 points), unless the
    plan is the user's own."""
    plan = op.plan
    same = plan is not None and all(a is b for a, b in zip(_plan_points(plan), coords))
    unsorted = interp and (not same or op.own) and _unsorted_interp_pays(op)
    if same and not unsorted:
        return plan
    plans = _CACHE.plans
    if plans is None:
        return _new_plan(op, coords, unsorted)
    key = (op.key, unsorted, *map(id, coords))
    hit = plans.get(key)
    if hit is None:
        hit = plans[key] = (_new_plan(op, coords, unsorted), coords)  # coords kept: their ids stay theirs
    return hit[0]


def _flipped(op: Op, coords: tuple) -> tuple[Op, tuple]:
    """``A^H`` as a forward transform (for finufft without ``Plan.execute_adjoint``, before 2.4):
    type 1 <-> type 2 at the same points, type 3 with points and frequencies swapped; ``-isign``."""
    d = op.dim
    tp = {1: 2, 2: 1, 3: 3}[op.type]
    flipped = Op(tp, d, op.n_modes, -op.isign, op.eps, op.dtype, dict(op.opts), op.n_trans)
    return flipped, (coords[d:] + coords[:d] if op.type == 3 else coords)


def _run(op: Op, u: np.ndarray, coords: tuple, adjoint: bool, plan=None) -> np.ndarray:
    """``A u`` (or ``A^H u``) for a stack of inputs: leading axes are batches of ``n_trans``."""
    if adjoint and _original_execute_adjoint is None:
        op, coords = _flipped(op, coords)
        adjoint, plan = False, None
    cin, cout = _shapes(op, coords, adjoint)
    if plan is None:
        plan = get_plan(op, coords, interp=(op.type == 1) == adjoint)
    run = _original_execute_adjoint if adjoint else _original_execute
    lead = u.shape[: u.ndim - len(cin)]
    b = int(np.prod(lead, dtype=np.int64))
    nt = op.n_trans
    chunk = (nt,) if nt > 1 else ()
    if b == nt:
        u1 = np.ascontiguousarray(u, dtype=op.dtype)
        if len(lead) > 1 or (len(lead) == 1 and nt == 1 and b != 1):
            u1 = u1.reshape(chunk + cin)
        return run(plan, u1).reshape(lead + cout)
    u2 = np.ascontiguousarray(u, dtype=op.dtype).reshape((b // nt,) + chunk + cin)
    out = np.empty((b // nt,) + chunk + cout, dtype=op.dtype)
    for i in range(b // nt):
        run(plan, u2[i], out[i])
    return out.reshape(lead + cout)


# ---------------------------------------------------------------- the primitive


def _lead_axes(ndim_total: int, core: tuple) -> tuple:
    return tuple(range(ndim_total - len(core)))


def _stack(terms: list):
    """The terms stacked on a new first axis (one term: a view of it, no copy)."""
    return np.expand_dims(terms[0], 0) if len(terms) == 1 else np.stack(terms)


class _NufftPullback:
    """``back(g)``: the cotangents of the traced arguments (data, points) of one transform."""

    __slots__ = ("argnums", "u", "coords", "op", "adjoint", "metas")

    def __init__(self, argnums, u, coords, op, adjoint, metas):
        self.argnums, self.u, self.coords, self.op, self.adjoint = argnums, u, coords, op, adjoint
        self.metas = metas

    def __call__(self, g):
        op, adjoint, coords, u = self.op, self.adjoint, self.coords, self.u
        sign = -op.isign if adjoint else op.isign
        sides = _sides(op, coords, adjoint)
        want = set(self.argnums)
        cin, cout = _shapes(op, coords, adjoint)
        # one backward transform of [g, P^(d) g for each traced input coordinate]
        back_terms, back_who = [], []
        if 0 in want:
            back_terms.append(g)
            back_who.append(0)
        for _q, p, iq, _ip in sides:
            if iq is not None and iq + 1 in want:
                back_terms.append(g * p)
                back_who.append(iq + 1)
        # one forward transform of [Q^(d) u for each traced output coordinate]
        fwd_terms, fwd_who = [], []
        for q, _p, _iq, ip in sides:
            if ip is not None and ip + 1 in want:
                fwd_terms.append(u * q)
                fwd_who.append(ip + 1)
        cts = {}
        if back_terms:
            tb = nufft(_stack(back_terms), *coords, op=op, adjoint=not adjoint)
            for k, who in enumerate(back_who):
                if who == 0:
                    cts[0] = tb[k]
                else:
                    lead = _lead_axes(np.ndim(u), cin)
                    cts[who] = -sign * np.sum(np.imag(u * np.conj(tb[k])), axis=lead)
        if fwd_terms:
            tf = nufft(_stack(fwd_terms), *coords, op=op, adjoint=adjoint)
            lead = _lead_axes(np.ndim(g), cout)
            for k, who in enumerate(fwd_who):
                cts[who] = -sign * np.sum(np.imag(np.conj(g) * tf[k]), axis=lead)
        return tuple(fit(cts[i], *m) for i, m in zip(self.argnums, self.metas))

    def __repr__(self) -> str:
        return f"<pullback finufft type {self.op.type}{' adjoint' if self.adjoint else ''}>"


class Nufft(Primitive):
    """``nufft(u, *coords, op, adjoint)``: ``A u`` (``A^H u`` when ``adjoint``) at the points
    ``coords`` (``x[, y[, z]]``, then ``s[, t[, u]]`` for type 3), differentiable in all of them."""

    __slots__ = ()

    def _value(self, vals, kwargs, nested):
        """The value, and the transform bound to the plan that computed it: the derivative
        transforms at the same points reuse it (no second sort of the points)."""
        op, adjoint = kwargs["op"], kwargs.get("adjoint", False)
        if nested:
            return self(*vals, **kwargs), op
        coords = tuple(vals[1:])
        plan = get_plan(op, coords)
        ans = _run(op, vals[0], coords, adjoint, plan)
        return ans, (op if plan is op.plan else op.bound(plan, coords))

    def vjp(self, argnums, vals, kwargs, nested=True):
        ans, op = self._value(vals, kwargs, nested)
        u, coords = vals[0], tuple(vals[1:])
        metas = [(np.shape(vals[i]), vals[i].dtype) for i in argnums]
        needs_u = any(i > 0 for i in argnums)
        return ans, _NufftPullback(tuple(argnums), u if needs_u else None, coords, op,
                                   kwargs.get("adjoint", False), metas)

    def jvp(self, argnums, vals, tangents, kwargs, nested=True):
        ans, op = self._value(vals, kwargs, nested)
        adjoint = kwargs.get("adjoint", False)
        u, coords = vals[0], tuple(vals[1:])
        tan = dict(zip(argnums, tangents))
        sign = -op.isign if adjoint else op.isign
        terms, post = [], []  # A(terms[k]) * post[k] summed
        if tan.get(0) is not None:
            terms.append(tan[0])
            post.append(None)
        for q, p, iq, ip in _sides(op, coords, adjoint):
            if iq is not None and tan.get(iq + 1) is not None:  # i σ P ⊙ A(u ⊙ δQ)
                terms.append(u * tan[iq + 1])
                post.append(p)
            if ip is not None and tan.get(ip + 1) is not None:  # i σ δP ⊙ A(Q ⊙ u)
                terms.append(u * q)
                post.append(tan[ip + 1])
        if not terms:
            return ans, None
        t = nufft(_stack(terms), *coords, op=op, adjoint=adjoint)
        out, rest = None, None
        for k, w in enumerate(post):
            if w is None:
                out = t[k]
            else:
                rest = t[k] * w if rest is None else rest + t[k] * w
        if rest is not None:
            rest = rest * (1j * sign)
            out = rest if out is None else out + rest
        return ans, fit_tangent(out, ans)


def _nufft_raw(u, *coords, op, adjoint=False):
    return _run(op, u, coords, adjoint)


nufft = Nufft(_nufft_raw, "finufft.nufft")


# ---------------------------------------------------------------- the simple interface

_UNSUPPORTED = ("spreadinterponly",)


def _check_opts(who: str, kwargs: dict) -> None:
    for name in _UNSUPPORTED:
        if kwargs.get(name):
            raise NoRuleError(f"{who} with {name}={kwargs[name]!r} (spreading or interpolation alone, "
                              "no Fourier transform)")


def _traced(v) -> bool:
    return isinstance(v, Tracer)


def _simple_rule(dim: int, tp: int):
    name = f"nufft{dim}d{tp}"
    func = getattr(finufft, name)
    plain = original(func)
    sig = inspect.signature(plain)

    def traced_call(*args, **kwargs):
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        a = dict(bound.arguments)
        opts = a.pop("kwargs", {})
        _check_opts(f"finufft.{name}", opts)
        pts = [a[n] for n in _POINT_NAMES[:dim]]
        freqs = [a[n] for n in _FREQ_NAMES[:dim]] if tp == 3 else []
        data = a["f"] if tp == 2 else a["c"]
        out = a["out"]
        if _traced(out):
            raise NoRuleError(f"finufft.{name} with a traced out= argument")
        sx, sdata = strip(pts[0]), strip(data)
        # finufft's own checks (invoke_guru), on the plain values
        if sx.dtype == np.float64:
            dtype = np.complex128
        elif sx.dtype == np.float32:
            dtype = np.complex64
        else:
            raise RuntimeError("FINUFFT x dtype should be float64 for double precision or float32 for single "
                               "precision")
        n_modes = a.get("n_modes")
        if n_modes is not None:
            if not isinstance(n_modes, (tuple, numbers.Integral)):
                raise RuntimeError("FINUFFT input n_modes must be a tuple or an integer")
            if isinstance(n_modes, tuple):
                if len(n_modes) != dim:
                    raise RuntimeError("FINUFFT input n_modes dimension does not match problem dimension")
                if not all(isinstance(m, numbers.Integral) for m in n_modes):
                    raise RuntimeError("FINUFFT all elements of input n_modes must be integer")
            else:
                n_modes = (n_modes,) * dim
        if sdata.dtype != dtype:
            _fi._ensure_array_type(sdata, "f" if tp == 2 else "c", dtype)  # finufft's TypeError
        if tp == 1:
            n_trans = _fi.valid_ntr(sx, sdata)
            if n_modes is None and out is None:
                raise RuntimeError("FINUFFT type 1 input must supply n_modes or output vector, or both")
            if out is not None:
                n_trans, n_modes = _fi.valid_ntr_tp12(dim, out.shape, n_trans, n_modes)
        elif tp == 2:
            n_trans, n_modes = _fi.valid_ntr_tp12(dim, sdata.shape, None, None)
        else:
            n_trans = _fi.valid_ntr(sx, sdata)
        n_modes = None if tp == 3 else tuple(int(m) for m in n_modes)
        op = Op(tp, dim, n_modes, a["isign"], a["eps"], dtype, opts, n_trans)
        # finufft's remaining checks (dtypes, point shapes, data shapes) run inside the plan calls
        y = nufft(data, *pts, *freqs, op=op)
        if out is not None:  # finufft returns ``out`` itself, in its shape
            y = np.reshape(y, out.shape)
            np.copyto(out, strip(y))
        return y

    traced_call.__name__ = traced_call.__qualname__ = f"traced_{name}"
    defcomposite(func, traced_call)
    route(func)  # traced calls reach the registry's handler (a later pb.adjoint(func) takes over)
    return func


for _d in (1, 2, 3):
    for _t in (1, 2, 3):
        _simple_rule(_d, _t)


# ---------------------------------------------------------------- the Plan interface

Plan = finufft.Plan
_original_init = original(Plan.__init__)
_original_setpts = original(Plan.setpts)
_original_execute = original(Plan.execute)
_original_execute_adjoint = original(Plan.execute_adjoint) if hasattr(Plan, "execute_adjoint") else None


def _config(plan) -> dict:
    cfg = plan.__dict__.get("_pb_config")
    if cfg is None:
        raise NoRuleError("finufft.Plan.execute of a plan created before pullback was imported "
                          "(its isign, eps and options are unknown): create the plan after `import pullback`")
    return cfg


@functools.wraps(_original_init)
def _recording_init(self, nufft_type, n_modes_or_dim, n_trans=1, eps=1e-6, isign=None, dtype="complex128",
                    **kwargs):
    _original_init(self, nufft_type, n_modes_or_dim, n_trans, eps, isign, dtype, **kwargs)
    if isign is None:
        isign = -1 if nufft_type == 2 else 1
    self._pb_config = {"isign": isign, "eps": eps, "opts": kwargs}


class TracedPlan(Plan):
    """A ``finufft.Plan`` whose points are traced (set by ``setpts`` inside a differentiated
    function): every ``execute`` is recorded. ``setpts`` with untraced points makes it a plain
    ``Plan`` again. Never constructed: a plan's class becomes this one."""

    def setpts(self, x=None, y=None, z=None, s=None, t=None, u=None):
        return setpts(self, x, y, z, s, t, u)

    def execute(self, data, out=None):
        return execute(self, data, out)

    def execute_adjoint(self, data, out=None):
        return execute_adjoint(self, data, out)


def setpts(self, x=None, y=None, z=None, s=None, t=None, u=None):
    """``Plan.setpts`` with traced points: the plan gets the plain values, and records the traced ones."""
    vals = (x, y, z, s, t, u)
    _original_setpts(self, *(strip(v) for v in vals))
    if any(_traced(v) for v in vals):
        self._pb_traced_points = vals
        self.__class__ = TracedPlan
    elif type(self) is TracedPlan:
        del self._pb_traced_points
        self.__class__ = Plan


def _op_and_coords(self, who: str) -> tuple:
    cfg = _config(self)
    _check_opts(f"finufft.Plan.{who}", cfg["opts"])
    d = self.dim
    held = _plan_points(self)
    coords = held
    traced = self.__dict__.get("_pb_traced_points")
    if traced is not None:
        pts = traced[:d] + (traced[3 : 3 + d] if self.type == 3 else ())
        if all(isinstance(p._trace, FinishedTrace) for p in pts if _traced(p)):
            del self._pb_traced_points  # the differentiation that set them has returned
            self.__class__ = Plan
        else:
            coords = pts
    n_modes = None if self.type == 3 else tuple(int(m) for m in self.n_modes[::-1])
    op = Op(self.type, d, n_modes, cfg["isign"], cfg["eps"], self.dtype, cfg["opts"], self.n_trans,
            plan=self, plan_points=held)
    return op, coords


def _execute(self, data, out, adjoint):
    who = "execute_adjoint" if adjoint else "execute"
    if _traced(out):
        raise NoRuleError(f"finufft.Plan.{who} with a traced out= argument")
    op, coords = _op_and_coords(self, who)
    if not any(_traced(c) for c in coords) and not _traced(data):
        run = _original_execute_adjoint if adjoint else _original_execute
        return run(self, data, out)
    sdata = strip(data)
    if sdata.dtype != self.dtype:  # finufft's own error
        _fi._ensure_array_type(sdata, "data", self.dtype)
    y = nufft(data, *coords, op=op, adjoint=adjoint)
    if out is not None:
        y = np.reshape(y, out.shape)
        np.copyto(out, strip(y))
    return y


def execute(self, data, out=None):
    """``Plan.execute`` with traced data or points."""
    return _execute(self, data, out, False)


def execute_adjoint(self, data, out=None):
    """``Plan.execute_adjoint`` with traced data or points."""
    return _execute(self, data, out, True)


if not getattr(Plan.__init__, "_pb_recording", False):
    _recording_init._pb_recording = True
    _recording_init.__wrapped__ = _original_init
    Plan.__init__ = _recording_init
for _name, _rule in (("setpts", setpts), ("execute", execute), ("execute_adjoint", execute_adjoint)):
    _f = getattr(Plan, _name, None)
    if type(_f) is type(setpts):
        defcomposite(_f, _rule)
        route(_f)
del _d, _t, _name, _rule, _f
