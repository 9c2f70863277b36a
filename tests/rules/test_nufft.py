"""finufft: every type and dimension against the dense non-uniform DFT; points by finite differences."""

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

import pullback as pb
from pullback.testing import check_adjoint, check_gradient

HAVE = importlib.util.find_spec("finufft") is not None
needs_finufft = pytest.mark.skipif(not HAVE, reason="finufft is not installed")
if HAVE:
    import finufft

    from pullback.rules import nufft as R

SIMPLE = {(d, t): f"nufft{d}d{t}" for d in (1, 2, 3) for t in (1, 2, 3)}
MODES = {1: (5,), 2: (4, 3), 3: (3, 4, 2)}
M, NK = 7, 6


def _grid(n, modeord):
    k = np.arange(-(n // 2), (n - 1) // 2 + 1)
    return np.fft.ifftshift(k) if modeord else k


def dense(tp, pts, freqs, modes, isign, modeord):
    """The non-uniform DFT matrix: rows the output, columns the input (flattened C order)."""
    X = np.stack(pts, axis=1)  # (M, d)
    if tp == 3:
        return np.exp(1j * isign * np.stack(freqs, axis=1) @ X.T)  # (NK, M)
    ks = np.stack([g.ravel() for g in np.meshgrid(*[_grid(n, modeord) for n in modes], indexing="ij")], 1)
    A = np.exp(1j * isign * ks @ X.T)  # (N, M)
    return A if tp == 1 else A.T


def real_matrix(A):
    return np.block([[A.real, -A.imag], [A.imag, A.real]])


def _points(rng, dim, dtype, n=M, scale=np.pi):
    return [rng.uniform(-scale, scale, n).astype(dtype) for _ in range(dim)]


def _call(tp, dim, pts, freqs, data, **kw):
    kw.setdefault("nthreads", 1)  # tiny transforms: threads only contend on a shared machine
    f = getattr(finufft, SIMPLE[dim, tp])
    if tp == 3:
        return f(*pts, data, *freqs, **kw)
    if tp == 1:
        return f(*pts, data, MODES[dim], **kw)
    return f(*pts, data, **kw)


def _data_shape(tp, dim, n_trans=None):
    core = MODES[dim] if tp == 2 else (M,)
    return core if n_trans is None else (n_trans, *core)


def _cplx(rng, shape, dtype):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


def _cases():
    """The generic checker's cases (tests/rules/test_cases.py): every intercepted function once."""
    rng = np.random.default_rng(11)
    cases = []
    for (dim, tp), name in SIMPLE.items():
        pts, freqs = _points(rng, dim, np.float64, 5), _points(rng, dim, np.float64, 4, 2.0)
        core = MODES[dim] if tp == 2 else (5,)
        data = _cplx(rng, core, np.complex128)

        def f(data, *coords, dim=dim, tp=tp):
            return _call(tp, dim, coords[:dim], coords[dim:], data, eps=1e-13)

        cases.append((getattr(finufft, name), f, (data, *pts, *(freqs if tp == 3 else ()))))
    x, y = _points(rng, 2, np.float64, 5)
    c = _cplx(rng, (2, 5), np.complex128)

    def with_plan(c, x, y):
        plan = finufft.Plan(1, (4, 3), n_trans=2, eps=1e-13, nthreads=1)
        plan.setpts(x, y)
        f = plan.execute(c)
        return plan.execute_adjoint(f * f)

    for method in ("setpts", "execute", "execute_adjoint"):
        cases.append((getattr(finufft.Plan, method), with_plan, (c, x, y)))
    return cases


CASES = _cases() if HAVE else []


# ---------------------------------------------------------------- data: adjoint = the other type


@needs_finufft
@pytest.mark.parametrize("dim", [1, 2, 3])
@pytest.mark.parametrize("tp", [1, 2, 3])
@pytest.mark.parametrize("isign, single, modeord", [(1, False, 0), (-1, True, 1), (-1, False, 1),
                                                    (1, True, 0)])
def test_data_adjoint_against_dense(tp, dim, isign, single, modeord):
    rng = np.random.default_rng(10 * tp + dim)
    rdt, cdt = (np.float32, np.complex64) if single else (np.float64, np.complex128)
    eps = 1e-6 if single else 1e-13
    pts, freqs = _points(rng, dim, rdt), _points(rng, dim, rdt, NK, 3.0)
    up = [p.astype(float) for p in pts], [f.astype(float) for f in freqs]
    A = dense(tp, *up, MODES[dim], isign, modeord)
    x = _cplx(rng, _data_shape(tp, dim), cdt)

    def f(data):
        return _call(tp, dim, pts, freqs, data, eps=eps, isign=isign, modeord=modeord)

    check_adjoint(f, x, matrix=real_matrix(A))


@needs_finufft
@pytest.mark.parametrize("tp", [1, 2, 3])
def test_n_trans_adjoint(tp):
    rng = np.random.default_rng(3)
    dim = 2
    pts, freqs = _points(rng, dim, np.float64), _points(rng, dim, np.float64, NK, 3.0)
    A = dense(tp, pts, freqs, MODES[dim], 1, 0)
    x = _cplx(rng, _data_shape(tp, dim, 3), np.complex128)

    def f(data):
        return _call(tp, dim, pts, freqs, data, eps=1e-13, isign=1)

    check_adjoint(f, x, matrix=real_matrix(np.kron(np.eye(3), A)))


@needs_finufft
def test_value_is_finuffts_own():
    rng = np.random.default_rng(0)
    x, y = _points(rng, 2, np.float64)
    c = _cplx(rng, (M,), np.complex128)
    # one thread: with several, finufft's own sums run in a varying order (two plain calls differ)
    want = finufft.nufft2d1(x, y, c, (4, 3), eps=1e-9, nthreads=1)
    seen = []
    pb.gradient(lambda x: (seen.append(pb.stop_gradient(
        r := finufft.nufft2d1(x, y, c, (4, 3), eps=1e-9, nthreads=1))), np.sum(np.abs(r)))[1], x)
    assert np.array_equal(np.asarray(seen[0]), want)


# ---------------------------------------------------------------- points and frequencies


@needs_finufft
@pytest.mark.parametrize("dim", [1, 2, 3])
@pytest.mark.parametrize("tp", [1, 2, 3])
def test_points_and_data_by_finite_differences(tp, dim):
    rng = np.random.default_rng(5 * tp + dim)
    pts, freqs = _points(rng, dim, np.float64), _points(rng, dim, np.float64, NK, 2.0)
    data = _cplx(rng, _data_shape(tp, dim, 2), np.complex128)
    isign = -1 if tp == 2 else 1

    def f(data, *coords):
        return _call(tp, dim, coords[:dim], coords[dim:], data, eps=1e-13, isign=isign, modeord=tp % 2)

    check_gradient(f, data, *pts, *(freqs if tp == 3 else ()), rtol=1e-5, atol=1e-7)


@needs_finufft
@pytest.mark.parametrize("tp", [1, 2, 3])
def test_points_float32(tp):
    rng = np.random.default_rng(1)
    dim = 2
    pts, freqs = _points(rng, dim, np.float32), _points(rng, dim, np.float32, NK, 2.0)
    data = _cplx(rng, _data_shape(tp, dim), np.complex64)

    def f(data, *coords):  # finite differences run in double precision, with a double's tolerance
        eps = 1e-6 if data.dtype == np.complex64 else 1e-13
        return _call(tp, dim, coords[:dim], coords[dim:], data, eps=eps)

    check_gradient(f, data, *pts, *(freqs if tp == 3 else ()), rtol=5e-3, atol=5e-3)


@needs_finufft
@pytest.mark.parametrize("tp", [1, 2, 3])
def test_second_order(tp):
    rng = np.random.default_rng(2)
    dim = 2
    pts, freqs = _points(rng, dim, np.float64, 5), _points(rng, dim, np.float64, 4, 2.0)
    data = _cplx(rng, _data_shape(tp, dim)[:-1] + (5,) if tp != 2 else MODES[dim], np.complex128)
    if tp == 3:
        data = _cplx(rng, (5,), np.complex128)

    def loss(x, y, data):
        return np.sum(np.abs(_call(tp, dim, (x, y), freqs, data, eps=1e-14)) ** 2)

    check_gradient(lambda x, y, data: pb.grad(loss, argnums=(0, 1, 2))(x, y, data)[0], *pts, data,
                   rtol=1e-5, atol=1e-6)
    H = pb.hessian(lambda x: loss(x, pts[1], data), pts[0])
    assert np.allclose(H, H.T, atol=1e-8 * np.abs(H).max())


@needs_finufft
def test_points_reused_across_calls():
    """A traced set of points used by a type 2 and then a type 1 (a normal operator A^H A)."""
    rng = np.random.default_rng(4)
    x, y = _points(rng, 2, np.float64)
    f0 = _cplx(rng, (4, 3), np.complex128)

    def normal(x, y, f):
        c = finufft.nufft2d2(x, y, f, eps=1e-13, nthreads=1)
        return finufft.nufft2d1(x, y, c * np.cos(x), (4, 3), eps=1e-13, nthreads=1)

    check_gradient(normal, x, y, f0, rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- options and errors


@needs_finufft
def test_out_argument():
    rng = np.random.default_rng(0)
    x = _points(rng, 1, np.float64)[0]
    c = _cplx(rng, (M,), np.complex128)
    out = np.zeros(5, np.complex128)

    def loss(c):
        return np.sum(np.abs(finufft.nufft1d1(x, c, out=out, eps=1e-12)) ** 2)

    (g,) = pb.gradient(loss, c)
    want = finufft.nufft1d1(x, c, 5, eps=1e-12)
    assert np.allclose(out, want)
    A = dense(1, [x], None, (5,), 1, 0)
    assert np.allclose(g, 2 * A.conj().T @ want)


@needs_finufft
def test_unsupported_option_and_bad_input():
    rng = np.random.default_rng(0)
    x = _points(rng, 1, np.float64)[0]
    c = _cplx(rng, (M,), np.complex128)
    with pytest.raises(pb.NoRuleError, match="spreadinterponly"):
        pb.gradient(lambda c: np.sum(np.abs(finufft.nufft1d1(x, c, 5, spreadinterponly=1))), c)
    with pytest.raises(TypeError, match="dtype"):  # finufft's own error for complex64 data at float64 points
        pb.gradient(lambda c: np.sum(np.abs(finufft.nufft1d1(x, c.astype(np.complex64), 5))), c)
    with pytest.raises(RuntimeError, match="n_modes"):
        pb.gradient(lambda c: np.sum(np.abs(finufft.nufft1d1(x, c))), c)


@needs_finufft
def test_eps_and_upsampfac_pass_through():
    rng = np.random.default_rng(0)
    x = _points(rng, 1, np.float64, 40)[0]
    c = _cplx(rng, (40,), np.complex128)
    A = dense(1, [x], None, (16,), 1, 0)
    for eps, kw in ((1e-3, {}), (1e-9, {"upsampfac": 1.25}), (1e-9, {"nthreads": 1})):
        kw = {'nthreads': 1, **kw}
        (g,) = pb.gradient(lambda c: np.sum(np.abs(finufft.nufft1d1(x, c, 16, eps=eps, **kw)) ** 2), c)
        want = 2 * A.conj().T @ (A @ c)
        err = np.linalg.norm(g - want) / np.linalg.norm(want)
        assert err < 20 * eps


# ---------------------------------------------------------------- the Plan interface


@needs_finufft
@pytest.mark.parametrize("tp", [1, 2, 3])
def test_plan_against_simple(tp):
    rng = np.random.default_rng(6)
    dim = 2
    pts, freqs = _points(rng, dim, np.float64), _points(rng, dim, np.float64, NK, 2.0)
    data = _cplx(rng, _data_shape(tp, dim, 2), np.complex128)

    def with_plan(data, *coords):
        plan = finufft.Plan(tp, dim if tp == 3 else MODES[dim], 2, eps=1e-13, modeord=1, nthreads=1)
        kw = dict(zip("xy", coords[:2]))
        if tp == 3:
            kw.update(zip("st", coords[2:]))
        plan.setpts(**kw)
        a = plan.execute(data) + plan.execute(2 * data)  # several transforms on one plan
        return np.concatenate([a.ravel(), plan.execute_adjoint(a).ravel()])

    args = (data, *pts, *(freqs if tp == 3 else ()))
    A = dense(tp, pts, freqs, MODES[dim], -1 if tp == 2 else 1, 1)
    a = 3 * (data.reshape(2, -1) @ A.T)
    want = np.concatenate([a.ravel(), (a @ A.conj()).ravel()])
    assert np.allclose(with_plan(*args), want)
    check_gradient(with_plan, *args, rtol=1e-5, atol=1e-7)


@needs_finufft
def test_plan_points_traced_data_plain_and_cache(monkeypatch):
    rng = np.random.default_rng(7)
    x, y = _points(rng, 2, np.float64)
    c = _cplx(rng, (M,), np.complex128)
    plan = finufft.Plan(1, (4, 3), eps=1e-13, nthreads=1)
    made = []
    new_plan = R._new_plan
    monkeypatch.setattr(R, "_new_plan", lambda op, coords, unsorted=False: made.append((op, unsorted))
                        or new_plan(op, coords, unsorted))

    def loss(x, y):
        plan.setpts(x, y)
        total = 0.0
        for k in range(4):  # the same plan, the same traced points, plain data
            total = total + np.sum(np.abs(plan.execute(c * (k + 1))) ** 2)
        # another kind of transform at the same points
        z = finufft.nufft2d2(x, y, np.ones((4, 3), complex), eps=1e-13, nthreads=1)
        z2 = finufft.nufft2d2(x, y, np.ones((4, 3), complex) * 2, eps=1e-13, nthreads=1)
        return total + np.sum(np.abs(z + z2) ** 2)

    check_gradient(loss, x, y, rtol=1e-5, atol=1e-6, modes=("reverse",), n_directions=1)
    made.clear()
    pb.gradient(loss, x, y)
    # the user's plan serves its own transforms and their derivatives; the two type-2 calls made one
    # plan each (as finufft does), and their backward interpolations (the points' derivatives) share
    # one plan that leaves the points unsorted (a small grid)
    assert [(op.type, unsorted) for op, unsorted in made] == [(2, False), (2, False), (2, True)]
    want = finufft.nufft2d1(x, y, c, (4, 3), eps=1e-13)
    assert np.allclose(plan.execute(c), want)  # the differentiation returned: a plain plan again
    assert type(plan) is finufft.Plan
    plan.setpts(x, y)
    assert np.allclose(plan.execute(c), want)


@needs_finufft
@pytest.mark.parametrize("tp", [1, 2])
def test_backward_interpolations_skip_the_sort_on_small_grids(tp, monkeypatch):
    """The gradient's bits are the same with the sort and without it; the plans show which ran."""
    rng = np.random.default_rng(11)
    x, y = _points(rng, 2, np.float64, n=3000)
    data = _cplx(rng, (3000,) if tp == 1 else (32, 24), np.complex128)
    made = []
    new_plan = R._new_plan
    monkeypatch.setattr(R, "_new_plan", lambda op, coords, unsorted=False: made.append((op.type, unsorted))
                        or new_plan(op, coords, unsorted))

    def loss(data, x, y, **opts):
        if tp == 1:
            v = finufft.nufft2d1(x, y, data, (32, 24), eps=1e-9, nthreads=1, **opts)
        else:
            v = finufft.nufft2d2(x, y, data, eps=1e-9, nthreads=1, **opts)
        return np.sum(np.abs(v) ** 2)

    fast = pb.gradient(loss, data, x, y)
    assert (tp, True) in made  # type 1: the adjoints; type 2: the points' forward transforms
    made.clear()
    monkeypatch.setattr(R, "UNSORTED_GRID_BYTES", 0)
    sorted_ = pb.gradient(loss, data, x, y)
    assert all(not unsorted for _, unsorted in made)
    for a, b in zip(fast, sorted_):
        assert a.tobytes() == b.tobytes()
    monkeypatch.setattr(R, "UNSORTED_GRID_BYTES", 4 << 20)
    made.clear()
    pb.gradient(lambda *a: loss(*a, spread_sort=1), data, x, y)  # the user's choice stands
    assert all(not unsorted for _, unsorted in made)
    made.clear()
    pb.gradient(lambda *a: loss(*a, upsampfac=1.25), data, x, y)
    assert (tp, True) in made


@needs_finufft
def test_unsorted_interpolation_only_where_it_pays():
    def op(dim, modes, dtype=np.complex128, **opts):
        return R.Op(2, dim, modes, 1, 1e-6, dtype, opts, 1)

    assert R._unsorted_interp_pays(op(2, (256, 256)))  # a 512^2 complex128 fine grid: 4 MiB
    assert not R._unsorted_interp_pays(op(2, (257, 256)))
    assert R._unsorted_interp_pays(op(2, (362, 362), np.complex64))
    assert R._unsorted_interp_pays(op(1, (10**5,)))
    assert not R._unsorted_interp_pays(op(3, (16, 16, 16)))  # 3-d: sorted was faster with 2 threads
    assert not R._unsorted_interp_pays(op(2, (8, 8), spread_sort=2))
    assert not R._unsorted_interp_pays(R.Op(3, 2, (), 1, 1e-6, np.complex128, {}, 1))


@needs_finufft
def test_plan_float32_n_trans():
    rng = np.random.default_rng(8)
    x = _points(rng, 1, np.float32)[0]
    f = _cplx(rng, (3, 5), np.complex64)

    def g(f, x):
        single = f.dtype == np.complex64
        plan = finufft.Plan(2, (5,), n_trans=3, eps=1e-6 if single else 1e-13, dtype=f.dtype, nthreads=1)
        plan.setpts(x)
        return plan.execute(f)

    check_gradient(g, f, x, rtol=5e-3, atol=5e-3)
    (gf, gx) = pb.gradient(lambda f, x: np.sum(np.abs(g(f, x)) ** 2), f, x)
    assert gf.dtype == np.complex64 and gx.dtype == np.float32


def test_imports_without_finufft():
    code = "import sys; sys.modules['finufft'] = None; import pullback, numpy; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


@needs_finufft
@pytest.mark.parametrize("tp", [1, 2, 3])
def test_without_execute_adjoint(tp, monkeypatch):
    """finufft before 2.4 has no Plan.execute_adjoint: the adjoint is the other type's plan."""
    monkeypatch.setattr(R, "_original_execute_adjoint", None)
    rng = np.random.default_rng(9)
    dim = 2
    pts, freqs = _points(rng, dim, np.float64), _points(rng, dim, np.float64, NK, 2.0)
    data = _cplx(rng, _data_shape(tp, dim, 2), np.complex128)

    def f(data, *coords):
        return _call(tp, dim, coords[:dim], coords[dim:], data, eps=1e-13, modeord=1)

    check_gradient(f, data, *pts, *(freqs if tp == 3 else ()), rtol=1e-5, atol=1e-7)


@needs_finufft
def test_plain_calls_run_finuffts_code():
    from pullback.intercept import intercepted, original

    rng = np.random.default_rng(12)
    x, y = _points(rng, 2, np.float64)
    f = _cplx(rng, (4, 3), np.complex128)
    for name in SIMPLE.values():
        assert intercepted(getattr(finufft, name))
    want = original(finufft.nufft2d2)(x, y, f, eps=1e-9, nthreads=1)
    assert np.array_equal(finufft.nufft2d2(x, y, f, eps=1e-9, nthreads=1), want)
    plan = finufft.Plan(2, (4, 3), eps=1e-9, nthreads=1)
    plan.setpts(x, y)
    assert type(plan) is finufft.Plan and np.array_equal(plan.execute(f), want)
