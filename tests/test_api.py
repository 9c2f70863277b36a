"""The user-facing API (DESIGN section 1) and its contract (section 2)."""

import dataclasses
from collections import namedtuple

import numpy as np
import pytest

import pullback as pb

from . import _thirdparty

x3 = np.array([0.5, -1.0, 2.0])


def test_gradient_value_and_gradient():
    f = lambda x, y: np.sum(x * y) + np.sum(np.sin(x))
    y = np.array([1.0, 2.0, 3.0])
    gx, gy = pb.gradient(f, x3, y)
    np.testing.assert_allclose(gx, y + np.cos(x3))
    np.testing.assert_allclose(gy, x3)
    v, (gx2, _) = pb.value_and_gradient(f, x3, y)
    assert v == pytest.approx(f(x3, y))
    np.testing.assert_allclose(gx2, gx)


def test_keyword_arguments_pass_through():
    f = lambda x, scale=1.0: scale * np.sum(x**2)
    (g,) = pb.gradient(f, x3, scale=3.0)
    np.testing.assert_allclose(g, 6 * x3)


def test_pullback_back_can_be_called_twice():
    y, back = pb.pullback(lambda x: np.sin(x) * 2, x3)
    np.testing.assert_allclose(y, 2 * np.sin(x3))
    g1 = back(np.ones(3))[0]
    g2 = back(np.ones(3))[0]
    np.testing.assert_allclose(g1, 2 * np.cos(x3))
    np.testing.assert_allclose(g2, g1)
    np.testing.assert_allclose(back(2 * np.ones(3))[0], 2 * g1)


def test_pullback_of_several_outputs():
    out, back = pb.pullback(lambda x: (x * 2, {"s": np.sum(x)}), x3)
    (g,) = back((np.ones(3), {"s": 1.0}))
    np.testing.assert_allclose(g, 3 * np.ones(3))


def test_grad_argnums_has_aux():
    f = lambda x, y: (np.sum(x * y), "aux")
    gx, aux = pb.grad(f, has_aux=True)(x3, 2.0)
    np.testing.assert_allclose(gx, 2 * np.ones(3))
    assert aux == "aux"
    gs = pb.grad(lambda x, y: np.sum(x * y), argnums=(0, 1))(x3, 2.0)
    np.testing.assert_allclose(gs[0], 2 * np.ones(3))
    assert gs[1] == pytest.approx(np.sum(x3))
    (v, aux), g = pb.value_and_grad(f, argnums=1, has_aux=True)(x3, 2.0)
    assert v == pytest.approx(2 * np.sum(x3)) and aux == "aux"
    assert g == pytest.approx(np.sum(x3))


def test_argnums_as_jax_does():
    f = lambda x, y: np.sum(x * y)  # noqa: E731
    y = np.array([1.0, -2.0, 4.0])
    g0, g0b = pb.grad(f, argnums=(0, 0))(x3, y)
    assert np.array_equal(g0, y) and np.array_equal(g0b, y) and not np.shares_memory(g0, g0b)
    gx, gy, gx2 = pb.grad(f, argnums=(0, 1, 0))(x3, y)
    assert np.array_equal(gx, y) and np.array_equal(gy, x3) and np.array_equal(gx2, y)
    assert np.array_equal(pb.grad(f, argnums=-1)(x3, y), x3)
    assert np.array_equal(pb.grad(f, argnums=(-2, 1))(x3, y)[0], y)
    with pytest.raises(TypeError, match=r"argnums=2 requires at least 3 positional arguments.*got only 2"):
        pb.grad(f, argnums=2)(x3, y)
    with pytest.raises(TypeError, match=r"argnums=\(0, -3\) requires at least 3 .*got only 2"):
        pb.value_and_grad(f, argnums=(0, -3))(x3, y)
    with pytest.raises(TypeError, match="argnums must be an int or a sequence of ints"):
        pb.grad(f, argnums="0")


Point = namedtuple("Point", "x y")


@dataclasses.dataclass
class Params:
    w: np.ndarray
    b: float


def test_argument_trees():
    def f(t, lst, d, p, params):
        return np.sum(t[0] * t[1]) + lst[0] ** 2 + np.sum(d["a"]) + p.x * p.y + np.sum(params.w) * params.b

    args = ((x3, x3), [3.0], {"a": x3}, Point(2.0, 5.0), Params(np.ones(2), 4.0))
    gt, gl, gd, gp, gparams = pb.gradient(f, *args)
    assert isinstance(gt, tuple) and isinstance(gl, list) and isinstance(gp, Point)
    np.testing.assert_allclose(gt[0], x3)
    assert gl == [6.0]
    np.testing.assert_allclose(gd["a"], np.ones(3))
    assert gp == Point(5.0, 2.0)
    assert isinstance(gparams, Params)
    np.testing.assert_allclose(gparams.w, 4 * np.ones(2))
    assert gparams.b == 2.0


def test_scalars_and_non_differentiable_arguments():
    g = pb.gradient(
        lambda x, n, mask, name, none: x**n * np.sum(mask), 3.0, 2, np.array([True, True]), "s", None
    )
    assert g == (12.0, None, None, None, None)
    assert isinstance(g[0], float)
    (gi,) = pb.gradient(lambda k: np.sum(k * 2.0), np.arange(3))
    assert gi is None
    (g32,) = pb.gradient(lambda x: x * x, np.float32(3.0))
    assert isinstance(g32, np.float32) and g32 == 6.0


def test_dtype_is_preserved():
    for dtype in (np.float32, np.float64, np.complex64, np.complex128):
        x = np.ones(4, dtype=dtype)
        (g,) = pb.gradient(lambda x: np.sum(np.abs(x * 2.0) ** 2), x)
        assert g.dtype == dtype


def test_gradient_of_a_constant_is_zero():
    (g,) = pb.gradient(lambda x: 3.0, x3)
    np.testing.assert_array_equal(g, np.zeros(3))


def test_gradient_needs_a_real_scalar():
    with pytest.raises(TypeError, match="real scalar"):
        pb.gradient(lambda x: x * 2, x3)
    with pytest.raises(TypeError, match="complex"):
        pb.gradient(lambda x: np.sum(x * 1j), x3)


def test_sum_pullback_is_a_broadcast_view_every_function_accepts():
    seen = {}

    @pb.custom_adjoint
    def spy(x):
        def spy_back(g):
            seen["g"] = g
            return (np.fft.ifft(g) * len(g),)

        return x * 1.0, spy_back

    pb.gradient(lambda x: np.abs(np.sum(spy(x))), x3 + 0j)
    g = seen["g"]
    assert isinstance(g, np.ndarray) and g.strides == (0,)


def test_stop_gradient():
    (g,) = pb.gradient(lambda x: np.sum(x * pb.stop_gradient(x)), x3)
    np.testing.assert_allclose(g, x3)


def test_imperative_updates():
    def f(X, W):
        Y = np.zeros_like(X)
        Y[:, :2] = X[:, :2] * W
        Y[:, 2] += X[:, 2] ** 2
        Y *= 2.0
        return np.sum(Y**2)

    X = np.arange(6.0).reshape(2, 3) + 1
    W = np.array([1.0, 2.0])
    pb.testing.check_gradient(f, X, W)


def test_value_dependent_control_flow():
    def f(x):
        total = 0.0
        for xi in x:  # iteration
            if xi > 0:  # __bool__ of a comparison
                total = total + xi**2
            else:
                total = total - xi
        return total if len(x) == 3 and x.shape == (3,) and x.ndim == 1 else 0.0

    np.testing.assert_allclose(pb.gradient(f, x3)[0], [1.0, -1.0, 4.0])


def test_attributes_and_methods():
    z = np.array([[1 + 2j, 3 - 1j], [0.5j, 2.0]])

    def f(z):
        a = z.real.sum() + z.imag.mean() + z.T.conj()[0, 1].real
        b = z.reshape(4).astype(np.complex128).sum().real + np.abs(z).max()
        return a + b + z.size + np.real(z.copy()).min()

    pb.testing.check_gradient(f, z)


def test_custom_adjoint_records_only_when_traced():
    calls = []

    @pb.custom_adjoint
    def double(x):
        def double_back(g):
            calls.append(1)
            return (2 * g,)

        return 2 * x, double_back

    np.testing.assert_allclose(double(x3), 2 * x3)
    (g,) = pb.gradient(lambda x: np.sum(double(x) ** 2), x3)
    np.testing.assert_allclose(g, 8 * x3)
    assert calls == [1]
    # forward mode by transposing the pullback
    _, t = pb.jvp(double, (x3,), (np.ones(3),))
    np.testing.assert_allclose(t, 2 * np.ones(3))


def test_adjoint_for_another_librarys_function():
    x = np.array([0.3, -0.2])
    with pytest.raises(pb.TracedConversionError):
        pb.gradient(lambda x: np.sum(_thirdparty.softplus(x)), x)

    original = _thirdparty.softplus

    @pb.adjoint(_thirdparty.softplus)
    def softplus_rule(x):
        y = original(x) if not isinstance(x, pb.core.Tracer) else np.log1p(np.exp(x))
        return y, lambda g: (g / (1 + np.exp(-x)),)

    try:
        (g,) = pb.gradient(lambda x: np.sum(_thirdparty.softplus(x)), x)
        np.testing.assert_allclose(g, 1 / (1 + np.exp(-x)))
        np.testing.assert_allclose(_thirdparty.softplus(x), original(x))
    finally:
        _thirdparty.softplus = original


def test_adjoint_overrides_a_numpy_rule():
    from pullback.rules import registry

    saved = registry.UFUNCS[np.cbrt], registry.KINDS[np.cbrt]

    @pb.adjoint(np.cbrt)
    def cbrt_rule(x):
        return np.cbrt(x), lambda g: (g * 0 + 42.0,)

    try:
        (g,) = pb.gradient(lambda x: np.sum(np.cbrt(x)), x3)
        np.testing.assert_allclose(g, 42.0)
    finally:
        registry.UFUNCS[np.cbrt], registry.KINDS[np.cbrt] = saved


def test_nondifferentiable_declaration():
    def bucket(x):
        return np.floor(x)

    def f(x):
        return np.sum(np.frexp(x)[0] * 0) + np.sum(x)  # (np.unwrap and np.i0, used before, have rules)

    with pytest.raises(pb.NoRuleError, match="numpy.frexp"):
        pb.gradient(f, x3)


def test_unknown_function_error_names_it_and_says_how_to_register():
    with pytest.raises(pb.NoRuleError) as info:
        pb.gradient(lambda x: np.sum(np.frexp(x)[0]), x3)
    msg = str(info.value)
    assert "numpy.frexp" in msg and "pullback.adjoint" in msg and "nondifferentiable" in msg


def test_bad_input_raises_numpys_own_error():
    for call in (lambda x: np.reshape(x, (7,)), lambda x: x + np.ones(4), lambda x: np.sum(x, axis=3)):
        try:
            call(x3)
        except Exception as e:  # noqa: BLE001
            want = (type(e), str(e))
        with pytest.raises(want[0]) as info:
            pb.gradient(lambda x: np.sum(call(x)), x3)
        assert str(info.value) == want[1]


def test_converting_a_traced_value_is_a_clear_error():
    plain = np.zeros(3)

    def assign(x):
        plain[0] = x[0]
        return np.sum(x)

    for f in (
        lambda x: np.sum(np.asarray(x)),
        lambda x: float(np.sum(x)),
        assign,
        lambda x: np.array(x).sum(),
    ):
        with pytest.raises(pb.TracedConversionError, match="drop the gradient"):
            pb.gradient(f, x3)


def test_checkpoint_gives_the_same_gradient():
    k = np.exp(-np.arange(33) / 8.0)
    block = lambda x: np.tanh(np.fft.irfft(np.fft.rfft(x) * k, n=64))

    def deep(x, blk):
        for _ in range(5):
            x = blk(x)
        return np.sum(x**2)

    x = np.linspace(-1, 1, 64)
    g_plain = pb.gradient(deep, x, block)[0]
    g_ckpt = pb.gradient(deep, x, pb.checkpoint(block))[0]
    np.testing.assert_allclose(g_ckpt, g_plain, rtol=1e-12, atol=1e-14)
    v = np.random.default_rng(0).standard_normal(64)
    _, t = pb.jvp(lambda x: deep(x, pb.checkpoint(block)), (x,), (v,))
    np.testing.assert_allclose(t, np.dot(g_plain, v), rtol=1e-10)


def test_jacobian_forward_and_reverse_agree():
    f = lambda z: np.fft.fft(z) * z[0]
    z = np.array([1 + 1j, 2.0, -1j])
    Jf = pb.jacobian(f, z, mode="forward")
    Jr = pb.jacobian(f, z, mode="reverse")
    np.testing.assert_allclose(Jf, Jr, atol=1e-12)
    J = pb.jacobian(np.fft.fft, z)
    np.testing.assert_allclose(J, np.fft.fft(np.eye(3), axis=0), atol=1e-12)


def test_hvp_matches_hessian():
    f = lambda x: np.sum(np.sin(x) * x**2)
    v = np.array([1.0, 0.5, -2.0])
    (hv,) = pb.hvp(f, (x3,), (v,))
    np.testing.assert_allclose(hv, pb.hessian(f, x3) @ v)


def test_sort_method_sorts_in_place():
    # regression: TracedArray.sort() returned a sorted copy and left the array unsorted
    def f(x):
        y = x * 1.0
        assert y.sort() is None
        return y[0] * 10 + y[-1]

    np.testing.assert_allclose(pb.gradient(f, x3)[0], [0.0, 10.0, 1.0])


def test_cotangent_with_fewer_dimensions_than_the_value():
    # regression: unbroadcast summed the wrong axis when g had fewer dimensions
    from pullback.rules.registry import unbroadcast

    g = np.arange(8.0)
    np.testing.assert_array_equal(unbroadcast(g, (1, 8)), g.reshape(1, 8))
    np.testing.assert_array_equal(unbroadcast(np.ones((2, 3)), (1, 1, 3)), 2 * np.ones((1, 1, 3)))


def test_custom_adjoint_returning_a_python_float_in_both_modes():
    # regression: forward mode wrapped the rule's Python float without making it an array
    @pb.custom_adjoint
    def total(x):
        return float(np.sum(pb.stop_gradient(x))), lambda g: (g * np.ones(3),)

    assert pb.gradient(lambda x: total(x) * 2.0, x3)[0].tolist() == [2.0, 2.0, 2.0]
    _, t = pb.jvp(total, (x3,), (np.ones(3),))
    assert float(t) == 3.0


def test_deepcopy_and_copy_of_a_traced_array_keep_the_gradient():
    import copy

    def f(x):
        y = copy.deepcopy(x * 2.0)
        z = copy.copy(y)
        z[0] = 0.0  # a copy: y is unchanged
        return np.sum(y * z) + np.sum(y)

    x = np.array([1.0, 2.0, 3.0])
    value, (g,) = pb.value_and_gradient(f, x)
    assert value == f(x.copy()) and type(value) is not pb._dispatch.TracedArray
    np.testing.assert_allclose(g, [2.0, 16.0 + 2.0, 24.0 + 2.0])


def test_pickling_a_traced_array_raises():
    import pickle

    with pytest.raises(pb.TracedConversionError, match="pickling"):
        pb.gradient(lambda x: np.sum(pickle.loads(pickle.dumps(x))), np.ones(3))


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
@pytest.mark.parametrize("make", [lambda a: np.matrix(a), lambda a: np.ma.masked_array(a, mask=a > 2)])
def test_matrix_and_masked_arrays_are_refused(make):
    a = np.arange(1.0, 5.0).reshape(2, 2)
    with pytest.raises(TypeError, match="does not differentiate numpy"):
        pb.gradient(lambda x: np.sum(x * x), make(a))
    with pytest.raises(TypeError, match="does not differentiate numpy"):
        pb.gradient(lambda x: np.sum(x * make(a)), a)
    with pytest.raises(TypeError, match="does not differentiate numpy"):
        pb.gradient(lambda x: np.sum(np.multiply(x, make(a))), a)
    with pytest.raises(TypeError, match="does not differentiate numpy"):
        pb.gradient(lambda x: np.sum(np.concatenate([x, make(a)])), a)


def test_memmap_and_other_plain_subclasses_still_work(tmp_path):
    m = np.memmap(tmp_path / "m.dat", dtype=np.float64, mode="w+", shape=(3,))
    m[:] = [1.0, 2.0, 3.0]
    np.testing.assert_allclose(pb.gradient(lambda x: np.sum(x * m), np.ones(3))[0], [1.0, 2.0, 3.0])


@pytest.mark.parametrize("argv", [["--help"], ["-h"], ["info", "--help"], ["check", "-h"], ["demo", "-h"]])
def test_cli_help_exits_zero(argv, capsys):
    from pullback.__main__ import main

    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 0
    assert "usage: python -m pullback" in capsys.readouterr().out


def test_cli_info_and_unknown_commands(capsys):
    from pullback.__main__ import main

    assert main(["info"]) == 0
    assert "FFT engine" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:
        main(["nope"])
    assert stop.value.code == 2


def test_an_escaped_tracer_raises_when_used():
    leaked = []

    def f(x):
        leaked.append(x * 2.0)
        return np.sum(x**2)

    g = pb.gradient(f, x3)[0]
    np.testing.assert_allclose(g, 2 * x3)
    escaped = leaked[0]
    with pytest.raises(pb.UnexpectedTracerError, match="escaped the function"):
        pb.gradient(lambda y: np.sum(y * escaped), x3)  # JAX raises; it used to give a traced gradient
    with pytest.raises(pb.UnexpectedTracerError):
        np.sin(escaped)
    with pytest.raises(pb.UnexpectedTracerError):
        np.fft.fft(escaped)
    with pytest.raises(pb.UnexpectedTracerError):
        np.zeros_like(escaped) + 1.0
    leaked.clear()
    pb.jvp(lambda x: leaked.append(np.sin(x)) or np.cos(x), (x3,), (np.ones(3),))
    with pytest.raises(pb.UnexpectedTracerError, match="forward-mode"):
        leaked[0] + 1.0


def test_back_checkpoint_and_nesting_still_work_after_the_function_returned():
    y, back = pb.pullback(lambda x: np.fft.fft(np.sin(x) * x), x3)
    first = back(np.ones(3, complex))[0]
    np.testing.assert_array_equal(back(np.ones(3, complex))[0], first)  # twice
    block = pb.checkpoint(lambda x: np.tanh(np.fft.irfft(np.fft.rfft(x), n=3)))
    g = pb.gradient(lambda x: np.sum(block(x) ** 2), x3)[0]
    np.testing.assert_allclose(g, pb.gradient(lambda x: np.sum(np.tanh(x) ** 2), x3)[0], rtol=1e-10)
    np.testing.assert_allclose(pb.hessian(lambda x: np.sum(x**3), x3), np.diag(6 * x3))


@pytest.mark.parametrize("f, match", [
    (lambda x: None, "returned None"),
    (lambda x: (np.sum(x), 1.0), "has_aux=True"),
    (lambda x: 3, "carries no gradient"),
    (lambda x: np.sum(x) > 0, "carries no gradient"),
    (lambda x: "loss", "not a real scalar"),
])
def test_a_loss_that_is_not_a_real_scalar_raises(f, match):
    with pytest.raises(TypeError, match=match):
        pb.gradient(f, np.ones(3))


def test_a_constant_float_loss_has_a_zero_gradient():
    np.testing.assert_array_equal(pb.gradient(lambda x: 3.0, np.ones(2))[0], [0.0, 0.0])


def test_object_arrays_and_complex_tangents_of_real_primals_raise():
    with pytest.raises(TypeError, match="object-dtype"):
        pb.gradient(lambda x: np.sum(x), np.array([1.0, 2.0], dtype=object))
    with pytest.raises(TypeError, match="complex tangent for a real primal"):
        pb.jvp(lambda x: x * 2, (np.ones(2),), (np.ones(2) * 1j,))


def test_nondifferentiable_decorates_a_users_function():
    @pb.nondifferentiable
    def peaks(x):
        a = np.asarray(x)  # a plain NumPy computation: runs on the plain values
        return float(np.sum(a > 0.5))

    x = np.array([0.2, 0.9, 0.7])
    assert peaks(x) == 2.0
    np.testing.assert_array_equal(pb.gradient(lambda x: peaks(x) * np.sum(x), x)[0], [2.0, 2.0, 2.0])


def test_the_conversion_error_names_the_library_function_that_converts():
    import scipy.interpolate as si

    with pytest.raises(pb.TracedConversionError, match=r"scipy\.interpolate\..*UnivariateSpline"):
        pb.gradient(lambda y: np.sum(si.UnivariateSpline(np.arange(5.0), y)(1.5)), np.ones(5))
    with pytest.raises(pb.TracedConversionError) as own:
        pb.gradient(lambda x: np.sum(np.asarray(x)), np.ones(4))
    assert "which has no differentiation rule" not in str(own.value)  # the caller's own code


def test_the_conversion_error_names_a_decorated_function_not_its_wrapper():
    """Regression: SciPy wraps some functions (scipy.linalg.schur, ...) in a decorator's closure;
    the error named ``scipy._lib._util._apply_over_batch.<locals>.decorator.<locals>.wrapper``."""
    import scipy.linalg as sl

    with pytest.raises(pb.TracedConversionError, match=r"scipy\.linalg\.[\w.]*schur, which has no") as err:
        pb.gradient(lambda a: np.sum(sl.schur(a)[0]), np.eye(3) + 0.1)
    assert "<locals>" not in str(err.value)


def test_the_fft_engine_is_chosen_at_top_level():
    previous = pb.set_engine("pocketfft")
    try:
        assert pb.get_engine() == "pocketfft"
    finally:
        pb.set_engine(previous)
    assert pb.get_engine() == previous


def test_set_backend_only_true_says_why():
    """uarray's generic "No selected backends had an implementation" became an exact reason."""
    import scipy.fft as sfft

    x = np.ones(8)
    with sfft.set_backend("scipy", only=True):
        why = r"set_backend\('scipy', only=True\).*Drop only=True"
        with pytest.raises(pb.TracedConversionError, match=why):
            pb.gradient(lambda v: np.sum(np.abs(sfft.fft(v)) ** 2), x)
    with sfft.set_backend("scipy"):  # without only=True pullback's backend takes the traced call
        (g,) = pb.gradient(lambda v: np.sum(np.abs(sfft.fft(v)) ** 2), x)
    np.testing.assert_allclose(g, 2 * 8 * x)


def test_conversion_error_is_not_a_not_implemented_error_outside_uarray():
    with pytest.raises(pb.TracedConversionError) as info:
        pb.gradient(lambda v: np.asarray(v).sum(), np.ones(3))
    assert not isinstance(info.value, NotImplementedError)


def test_integer_conversion_of_a_traced_array_is_a_constant():
    """np.int64(x) / np.asarray(x, dtype=int) carry no gradient (piecewise constant): allowed, as
    JAX's astype(int); a float conversion still raises."""

    def f(w):
        idx = np.int64(w[:, -1])
        assert type(idx) is np.ndarray and idx.dtype == np.int64
        return np.sum(w[:, :-1][idx]) + np.sum(np.asarray(w > 0, dtype=bool))

    w = np.array([[1.0, 2.0, 1.0], [3.0, 4.0, 0.0]])
    (g,) = pb.gradient(f, w)
    np.testing.assert_array_equal(g, [[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]])
    with pytest.raises(pb.TracedConversionError):
        pb.gradient(lambda v: np.sum(np.asarray(v, dtype=float)), w)


def test_an_error_ends_the_differentiation():
    """A function that raises still finishes its trace: nothing stays 'in progress' in the thread
    (plain SciPy calls that take callables then run SciPy's function directly)."""
    from pullback.core.trace import tracing

    def boom(x):
        raise RuntimeError("boom")

    for call in (lambda: pb.gradient(boom, 1.0), lambda: pb.jvp(boom, (1.0,), (1.0,)),
                 lambda: pb.grad(lambda x: (x, x), has_aux=True)(np.ones(2)),
                 lambda: pb.hessian(boom, np.ones(2))):
        with pytest.raises((RuntimeError, TypeError, ValueError)):
            call()
        assert not tracing()
    assert not tracing()
    pb.gradient(lambda x: x * x, 1.0)
    assert not tracing()


def test_hessian_blocks_of_integer_arguments_are_none():
    """Regression: a Python int argument got zero and object-dtype blocks, an integer array crashed
    the assembly; like the gradient's, their blocks are None."""
    w = np.array([0.2, 0.1])
    H = pb.hessian(lambda w, n: np.sum(w ** n), w, 3)
    assert np.allclose(H[0][0], np.diag(6 * w)) and H[0][1] is None and H[1][0] is None and H[1][1] is None
    H = pb.hessian(lambda w, y: np.sum(w ** 2 * np.sum(y)), w, np.array([1, 2, 3]))
    assert np.allclose(H[0][0], 12 * np.eye(2)) and H[1][1] is None


def test_check_gradient_takes_tuple_outputs_and_container_arguments():
    import scipy.special as sp

    pb.testing.check_gradient(lambda x: sp.logsumexp(x, return_sign=True), np.array([0.3, -1.2, 2.0]))
    pb.testing.check_gradient(np.linalg.slogdet, np.eye(3) + 0.2)
    pb.testing.check_gradient(lambda x, d: x * d["k"], np.ones(3), {"k": 2.0})  # held fixed
    pb.testing.check_gradient(lambda x: (x.sum(), [x[0], x[1]], {"a": x * 2}), np.arange(3.0))


def test_adjoint_rules_take_traced_keyword_arguments():
    """Regression: a user rule called with a traced keyword argument raised a misleading 'escaped'
    error (forward mode: a cotangent count mismatch); the keyword is rebound as the positional
    parameter it is, and a constant keyword's cotangent is dropped."""
    def scaled(x, a=2.0):
        return x * a

    @pb.adjoint(scaled)
    def _scaled(x, a=2.0):
        return x * a, lambda g: (g * a, np.sum(g * x))

    x = np.array([0.3, 1.0])
    gx, ga = pb.gradient(lambda x, a: np.sum(scaled(x, a=a) ** 2), x, 1.5)
    assert np.allclose(gx, 2 * x * 1.5 ** 2) and np.isclose(ga, np.sum(2 * x ** 2 * 1.5))
    _, t = pb.jvp(lambda x, a: np.sum(scaled(x, a=a) ** 2), (x, 1.5), (np.zeros(2), 1.0))
    assert np.isclose(t, np.sum(2 * x ** 2 * 1.5))
    (g,) = pb.gradient(lambda x: np.sum(scaled(x, a=1.5) ** 2), x)
    assert np.allclose(g, 2 * x * 1.5 ** 2)


def test_jacobian_of_a_function_returning_a_tuple():
    x = np.array([1.0, 2.0])
    J = pb.jacobian(lambda x: (x ** 2, np.sum(x)), x)
    assert isinstance(J, tuple) and np.allclose(J[0], np.diag(2 * x)) and np.allclose(J[1], [1.0, 1.0])


def test_a_dict_subclass_with_its_own_constructor_is_rebuilt():
    """Regression: pullback rebuilt a returned dict subclass by calling ``cls(dict)``, which fails
    for one whose constructor takes other arguments (scipy.optimize's RootResults)."""

    class Result(dict):
        def __init__(self, root, flag):
            super().__init__(root=root, flag=flag)

    value, back = pb.pullback(lambda x: Result(x * 2.0, "ok"), np.array([1.0, 2.0]))
    assert type(value) is Result and value["flag"] == "ok"
    np.testing.assert_array_equal(value["root"], [2.0, 4.0])
