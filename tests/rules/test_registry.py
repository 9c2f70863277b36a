"""Every registered rule is exercised by the generic checker."""

import pullback  # noqa: F401
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
