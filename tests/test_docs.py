"""The documentation builds with warnings as errors (Sphinx, numpydoc, sphinx-gallery, MyST).

The build runs on a copy of ``docs/`` in a temporary folder (``examples/`` and ``benchmarks/`` are
linked beside it), so nothing is written into the source tree. The gallery's pages are made from
the examples' source with ``plot_gallery=0``: the examples themselves run in
``tests/test_examples.py``; the full build (``python -m sphinx -W --keep-going -b html docs
docs/_build/html``) runs them and collects their figures.

The documentation tools are installed by the ``test`` extra. Without them this test fails, so a
CI that lost them notices; set ``PULLBACK_SKIP_DOCS=1`` to skip it deliberately.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
TOOLS = ("sphinx", "pydata_sphinx_theme", "sphinx_gallery", "numpydoc", "myst_parser", "matplotlib")
GENERATED = ("_build", "_examples", "auto_examples", "generated", "sg_execution_times.rst", "__pycache__")


def _require_tools() -> None:
    missing = [m for m in TOOLS if importlib.util.find_spec(m) is None]
    if not missing:
        return
    if os.environ.get("PULLBACK_SKIP_DOCS"):
        pytest.skip(f"PULLBACK_SKIP_DOCS is set and {missing} are not installed")
    pytest.fail(
        f"the documentation tools {missing} are not installed: pip install -e '.[test]' "
        "(or '.[docs]'), or set PULLBACK_SKIP_DOCS=1 to skip this test"
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    _require_tools()
    tmp = tmp_path_factory.mktemp("docs")
    repo = tmp / "repo"
    shutil.copytree(DOCS, repo / "docs", ignore=shutil.ignore_patterns(*GENERATED))
    for name in ("examples", "benchmarks"):
        (repo / name).symlink_to(ROOT / name, target_is_directory=True)
    html = tmp / "html"
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "-D", "plot_gallery=0",
           "-d", str(tmp / "doctrees"), str(repo / "docs"), str(html)]
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    if proc.returncode != 0:
        pytest.fail(f"the docs build failed ({' '.join(cmd)}):\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}")
    return html


def test_pages(built):
    for page in ("index", "getting_started", "design", "benchmarks", "examples_guide", "concepts/complex",
                 "concepts/views", "concepts/nan_gradients", "concepts/engines", "concepts/memory",
                 "concepts/differentiable", "howto/custom_adjoints", "howto/optimisation", "howto/hessians",
                 "howto/dask", "howto/cupy", "howto/testing_rules", "reference/api", "reference/supported"):
        assert (built / f"{page}.html").is_file(), page


def test_every_example_is_in_the_gallery(built):
    examples = sorted(p.stem for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_"))
    assert examples
    gallery = (built / "auto_examples" / "index.html").read_text()
    for name in examples:
        assert (built / "auto_examples" / f"{name}.html").is_file(), name
        assert f"{name}.html" in gallery, name


def test_api_reference_covers_the_public_names(built):
    import pullback

    for name in pullback.__all__:
        if name == "testing":
            continue
        assert (built / "reference" / "generated" / f"pullback.{name}.html").is_file(), name
    for name in pullback.testing.__all__:
        assert (built / "reference" / "generated" / f"pullback.testing.{name}.html").is_file(), name


def test_supported_table_lists_the_registry(built):
    from pullback.rules.registry import all_rules

    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", (built / "reference" / "supported.html").read_text()))
    total = int(re.search(r"rules for\s+(\d+)\s+functions", text).group(1))
    assert 0.95 * len(all_rules()) <= total <= len(all_rules())
    modules = ("numpy.fft", "numpy.linalg", "scipy.fft", "scipy.signal", "scipy.special", "scipy.ndimage")
    for module in modules:
        assert f"{module} (" in text, module
    for name in ("rfft2", "dctn", "sosfiltfilt", "logsumexp", "map_coordinates", "argmax"):
        assert re.search(rf"\b{name}\b", text), name


def test_examples_follow_the_gallery_conventions():
    """What ``docs/examples_guide.rst`` asks of an example that the quick build cannot see: a
    docstring that opens with a one-line title, and no ``__file__`` (sphinx-gallery runs the
    example without one)."""
    import ast

    for path in sorted((ROOT / "examples").glob("*.py")):
        if path.name.startswith("_"):
            continue
        source = path.read_text()
        doc = ast.get_docstring(ast.parse(source))
        assert doc and doc.splitlines()[0].strip() and len(doc.splitlines()) > 1, path.name
        assert "__file__" not in source, f"{path.name}: sphinx-gallery runs examples without __file__"


def test_docs_never_point_outside_the_repository():
    for path in DOCS.rglob("*"):
        if path.is_file() and path.suffix in (".rst", ".md", ".py") and not set(path.parts) & set(GENERATED):
            assert "../shared" not in path.read_text(), path
