"""Every registered rule is exercised by the generic checker."""

import numpy as np

import pullback as pb
from pullback.rules import registry

from .cases import all_cases


def _all_cases():
    return [c[1] for c in all_cases()]


def test_every_rule_has_a_generic_check():
    covered = set()
    for k in _all_cases():
        covered.add(k)
    missing = [
        registry._name(k) if not isinstance(k, str) else k
        for k, kind in registry.all_rules().items()
        if kind != "nondiff" and k not in covered
        and not str(getattr(k, "__module__", "")).startswith("tests")  # registered by a test
    ]
    assert not missing, f"rules without a generic check: {sorted(missing)}"


def test_every_rule_has_a_forward_form():
    seen = set()
    missing = []
    for table in (registry.FUNCTIONS, registry.UFUNCS, registry.UFUNC_METHODS):
        for key, handler in table.items():
            if id(handler) in seen or not isinstance(handler, registry.Rule):
                continue  # linear rules get theirs from the same declaration; composites from their parts
            seen.add(id(handler))
            for i, v in enumerate(handler.vjps):
                if v is not None and (i >= len(handler.jvps) or handler.jvps[i] is None):
                    missing.append(f"{handler.name} argument {i}")
    assert not missing, f"rules with a reverse but no forward form: {missing}"


def test_registered_handlers_are_named():
    for table in (registry.FUNCTIONS, registry.UFUNCS, registry.UFUNC_METHODS):
        for handler in table.values():
            fns = []
            if isinstance(handler, registry.Rule):
                fns = [f for f in handler.vjps + handler.jvps if f is not None]
            elif isinstance(handler, registry.LinearRule):
                fns = [handler.adjoint]
            for f in fns:
                assert f.__name__ != "<lambda>", f"{handler.name} uses an anonymous rule function"


def test_unit_cotangent_skips_the_product_without_aliasing():
    # after a sum the cotangent is a broadcast 1: an elementwise pullback returns its fresh
    # derivative, but never an array the forward pass made (exp's derivative is its value)
    import numpy as np

    import pullback as pb

    x = np.linspace(-1, 1, 7)
    g, aux = pb.grad(lambda x: (np.sum(np.exp(x)), np.exp(x)), has_aux=True)(x)
    np.testing.assert_allclose(g, np.exp(x))
    assert not np.shares_memory(g, aux)
    np.testing.assert_allclose(pb.gradient(lambda x: np.sum(x**2), x)[0], 2 * x)
    np.testing.assert_allclose(pb.gradient(lambda x: np.sum(np.sin(x) * 3), x)[0], 3 * np.cos(x))
    value, back = pb.pullback(lambda x: np.exp(x), x)
    (ct,) = back(np.broadcast_to(np.ones(()), x.shape))
    assert not np.shares_memory(ct, value)
    np.testing.assert_allclose(ct, value)
    ct32 = back(np.broadcast_to(np.ones((), np.float32), x.shape))[0]
    assert ct32.dtype == np.float64  # the float64 derivative keeps its precision


def test_library_values_keep_the_librarys_bits_and_the_composites_derivatives():
    import warnings

    def composite(x):  # the same function, its steps rounding otherwise
        return np.exp(np.log(x) * 2.0)

    def library(x):
        warnings.warn("from the library")
        return x * x

    f = registry.library_values(library)(composite)
    x = np.array([0.3, 1.7, 2.9])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the library's second run is silent
        value, back = pb.pullback(f, x)
    assert value.tobytes() == (x * x).tobytes()
    np.testing.assert_allclose(back(np.ones(3))[0], 2 * x)
    _, t = pb.jvp(f, (x,), (np.ones(3),))
    np.testing.assert_allclose(t, 2 * x)
    # a result whose shape or dtype differs from the library's keeps the composite's value
    g = registry.library_values(lambda x: (x * x).astype(np.float32))(composite)
    assert pb.pullback(g, x)[0].dtype == np.float64
