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
