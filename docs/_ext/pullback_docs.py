"""Sphinx helpers of pullback's documentation.

- ``.. pullback-rule-table::`` renders every function in pullback's rule registry
  (:func:`pullback.rules.registry.all_rules`), grouped by the public module that exports it, with
  its kind and the modes of differentiation it supports. It is computed when the docs are built,
  so it cannot fall behind the code.
- ``png_scraper`` / ``reset_clock``: sphinx-gallery hooks that collect the PNG files an example
  saves (examples close their figures; see ``docs/examples_guide.rst``).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

# ---------------------------------------------------------------- the rule table

KIND_TEXT = {
    "linear": "linear",
    "rule": "rule",
    "composite": "composite",
    "nondiff": "non-differentiable",
    "user": "user rule",
}

# reverse, forward, higher order
MODES = {
    "linear": ("yes", "yes", "yes"),
    "rule": ("yes", "yes", "yes"),
    "composite": ("yes", "yes", "yes"),
    "nondiff": ("—", "—", "—"),
    "user": ("yes", "yes (transposed)", "if its pullback is written in NumPy"),
}

# the traced array's own methods and attributes, registered under pullback's functions
TRACED_ARRAY = {
    "astype": "ndarray.astype",
    "__getitem__": "x[index]",
    "__setitem__": "x[index] = value",
    "_assign": "x += y, ufunc(..., out=x)",
    "view": "ndarray.view",
    "fill": "ndarray.fill",
    "sort": "ndarray.sort (in place)",
    "_set_shape": "x.shape = ...",
    "_set_real": "x.real = ...",
    "_set_imag": "x.imag = ...",
    "_get_flat": "x.flat[...]",
    "_set_flat": "x.flat[...] = value",
}

ARRAY_SECTION = "ndarray methods and attributes"
UFUNC_METHODS = "ufunc methods"


def _public_module(obj: Any, module: str, qualname: str) -> str:
    """The shortest public module, on the path of ``module``, from which ``qualname`` reaches ``obj``."""
    parts = [p for p in module.split(".") if not p.startswith("_")]
    for end in range(1, len(parts) + 1):
        name = ".".join(parts[:end])
        try:
            target: Any = importlib.import_module(name)
        except ImportError:
            continue
        for attr in qualname.split("."):
            target = getattr(target, attr, None)
            if target is None:
                break
        if target is obj:
            return name
    return ".".join(parts) or module


def locate(key: Any) -> tuple[str, str]:
    """``(section, name)`` of a registry key: the public module and the name within it."""
    from pullback.rules.registry import ufunc_name

    if isinstance(key, tuple):
        return UFUNC_METHODS, f"numpy.{key[0].__name__}.{key[1]}"
    if isinstance(key, np.ufunc):
        full = ufunc_name(key)
        module, _, name = full.rpartition(".")
        return module or "numpy", name
    module = getattr(key, "__module__", None) or ""
    qualname = getattr(key, "__qualname__", None) or getattr(key, "__name__", repr(key))
    if module.startswith("pullback"):
        return ARRAY_SECTION, TRACED_ARRAY.get(key.__name__, f"ndarray.{key.__name__}")
    if qualname == "AxisConcatenator.__getitem__":
        return "numpy", "r_, c_"
    return _public_module(key, module, qualname), qualname


def _arguments(key: Any, handler: Any, kind: str) -> str:
    """The arguments a primitive differentiates in ("" where it is not a primitive)."""
    from pullback.rules.registry import Rule

    if kind == "linear":
        return "first argument"
    if kind != "rule" or not isinstance(handler, Rule):
        return ""
    names: list[str] = []
    try:
        params = list(inspect.signature(key).parameters)
    except (TypeError, ValueError):
        params = []
    if isinstance(key, np.ufunc):
        params = ["x"] if key.nin == 1 else [f"x{i + 1}" for i in range(key.nin)]
    for i, vjp in enumerate(handler.vjps):
        if vjp is not None:
            names.append(params[i] if i < len(params) else f"argument {i}")
    return ", ".join(names)


def rule_rows() -> dict[str, list[tuple[str, ...]]]:
    """Every registered function as a table row, by section (sorted)."""
    from pullback.rules import registry as R

    sections: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for key, kind in R.all_rules().items():
        section, name = locate(key)
        if isinstance(key, tuple):
            handler = R.UFUNC_METHODS.get(key)
        elif isinstance(key, np.ufunc):
            handler = R.UFUNCS.get(key)
        else:
            handler = R.FUNCTIONS.get(key)
        rev, fwd, high = MODES.get(kind, ("?", "?", "?"))
        sections[section].append(
            (f"``{name}``", KIND_TEXT.get(kind, kind), rev, fwd, high, _arguments(key, handler, kind))
        )
    return {s: sorted(set(rows), key=lambda r: r[0].strip("`").lower()) for s, rows in sections.items()}


def _order(section: str) -> tuple:
    first = ["numpy", "numpy.linalg", "numpy.fft", ARRAY_SECTION, UFUNC_METHODS]
    if section in first:
        return (0, first.index(section), section)
    return (1 if section.startswith("numpy") else 2, 0, section)


def rule_table_rst() -> list[str]:
    """The table as reStructuredText: a summary line, then one section per module."""
    rows = rule_rows()
    total = sum(len(r) for r in rows.values())
    lines = [
        f"pullback has rules for **{total}** functions, methods and operators in "
        f"**{len(rows)}** groups.",
        "",
    ]
    for section in sorted(rows, key=_order):
        title = f"``{section}``" if section not in (ARRAY_SECTION, UFUNC_METHODS) else section.capitalize()
        title = f"{title} ({len(rows[section])})"
        lines += [title, "-" * len(title), ""]
        lines += [
            ".. list-table::",
            "   :header-rows: 1",
            "   :widths: 34 16 8 12 12 18",
            "",
            "   * - function",
            "     - kind",
            "     - reverse",
            "     - forward",
            "     - higher order",
            "     - differentiates in",
        ]
        for row in rows[section]:
            lines.append(f"   * - {row[0]}")
            lines += [f"     - {cell}" if cell else "     -" for cell in row[1:]]
        lines.append("")
    return lines


class RuleTable(SphinxDirective):
    """``.. pullback-rule-table::``: the table of supported functions, from the registry."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        container = nodes.section()
        container.document = self.state.document
        text = StringList(rule_table_rst(), source="<pullback rule registry>")
        self.state.nested_parse(text, self.content_offset, container, match_titles=True)
        return container.children


class BenchmarkPlots(SphinxDirective):
    """``pullback-benchmark-plots``: the PNG charts in ``benchmarks/results/`` (written by the
    benchmark scripts, ignored by git), or a sentence saying how to make them."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        results = Path(self.env.srcdir).parent / "benchmarks" / "results"
        pngs = sorted(results.glob("*.png")) if results.is_dir() else []
        here = Path(self.env.doc2path(self.env.docname)).parent
        lines: list[str] = []
        for png in pngs:
            self.env.note_dependency(str(png))
            rel = os.path.relpath(png, here).replace(os.sep, "/")
            lines += [f"``{png.name}``", "", f".. image:: {rel}", "   :width: 100%", ""]
        if not lines:
            lines = [
                "No charts: ``benchmarks/results/`` holds none on the machine that built these pages. "
                "Run ``python -m pullback bench`` (or any script above) and build the docs again to "
                "show them here.",
            ]
        container = nodes.section()
        container.document = self.state.document
        text = StringList(lines, source="<benchmarks/results>")
        self.state.nested_parse(text, self.content_offset, container)
        return container.children


# ---------------------------------------------------------------- sphinx-gallery hooks


def titled(source: str) -> str:
    """``source`` with its module docstring's first line underlined as a reST title (unless it
    already is one): sphinx-gallery takes the page title from there."""
    tree = ast.parse(source)
    doc = tree.body[0] if tree.body else None
    value = getattr(doc, "value", None)
    if not (isinstance(doc, ast.Expr) and isinstance(value, ast.Constant) and isinstance(value.value, str)):
        raise ValueError("an example needs a module docstring whose first line is its title")
    lines = source.splitlines(keepends=True)
    start = doc.lineno - 1
    first = lines[start]
    quote = first.lstrip()[:3] if first.lstrip()[:3] in ('"""', "'''") else first.lstrip()[:1]
    prefix, title = first.split(quote, 1)
    title = title.rstrip("\n").strip()
    following = lines[start + 1].strip() if start + 1 < len(lines) else ""
    if title and following and set(following) <= set("=-~^*+#"):
        return source  # already a title
    if not title or title.endswith(quote):
        raise ValueError("an example's docstring must start with its title on the first line, "
                         "followed by more lines")
    underline = "=" * len(title)
    lines[start] = f"{prefix}{quote}{title}\n{underline}\n"
    if following:
        lines[start] += "\n"
    return "".join(lines)


def stage_examples(source: Path, target: Path) -> Path:
    """Copy ``source`` (examples/) to ``target``, the examples' docstrings titled (:func:`titled`).

    A file is rewritten only when its content changes, so sphinx-gallery (which compares checksums)
    re-runs only the examples that changed; files no longer in ``source`` are removed."""
    target.mkdir(parents=True, exist_ok=True)
    wanted = set()
    for path in sorted(source.iterdir()):
        if path.name.startswith(".") or not path.is_file() or path.suffix in (".png", ".pyc"):
            continue
        data = path.read_bytes()
        if path.suffix == ".py" and not path.name.startswith("_"):
            try:
                data = titled(data.decode()).encode()
            except ValueError as e:
                raise ValueError(f"{path}: {e}") from None
        out = target / path.name
        wanted.add(out.name)
        if not out.exists() or out.read_bytes() != data:
            out.write_bytes(data)
    for old in target.iterdir():
        if old.is_file() and old.name not in wanted and old.suffix != ".png":
            old.unlink()
    return target

_clock = {"started": time.time()}


def reset_clock(gallery_conf: dict, fname: str, when: str) -> None:
    """sphinx-gallery's ``reset_modules`` hook: before an example, PNG files older than now are
    not its figures; also keep matplotlib off any display."""
    if when == "before":
        _clock["started"] = time.time() - 1.0
        os.environ.setdefault("MPLBACKEND", "Agg")


def png_scraper(block: Any, block_vars: dict, gallery_conf: dict) -> str:
    """Collect the PNG files the running example wrote into its own folder (its working directory)
    since it started, and move them into the gallery's image folder."""
    from sphinx_gallery.scrapers import figure_rst

    folder = Path(block_vars["src_file"]).parent
    names = []
    for png in sorted(folder.glob("*.png")):
        if png.stat().st_mtime >= _clock["started"]:
            target = next(block_vars["image_path_iterator"])
            os.replace(png, target)
            names.append(str(target))
    return figure_rst(names, gallery_conf["src_dir"])


def setup(app) -> dict:
    app.add_directive("pullback-rule-table", RuleTable)
    app.add_directive("pullback-benchmark-plots", BenchmarkPlots)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
