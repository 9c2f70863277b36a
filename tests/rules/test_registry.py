"""Every registered rule is exercised by the generic checker."""

import importlib
import pkgutil

import pullback  # noqa: F401
from pullback.rules import registry

from . import __path__ as _here


def _all_cases():
    keys = []
    for mod in pkgutil.iter_modules(_here):
        if mod.name.startswith("test_") and mod.name != "test_registry":
            m = importlib.import_module(f"{__package__}.{mod.name}")
            keys.extend(c[0] for c in getattr(m, "CASES", []))
    return keys


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
