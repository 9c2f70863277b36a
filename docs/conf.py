"""Sphinx configuration of pullback's documentation.

Build it (from the repository root, after ``pip install -e ".[docs]"``)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

That build runs every example in ``examples/`` (sphinx-gallery) and puts its figures in the
gallery. ``-D plot_gallery=0`` builds the gallery pages without running the examples (what
``tests/test_docs.py`` does; ``tests/test_examples.py`` runs the examples).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import pullback  # noqa: E402

ROOT = HERE.parent  # the repository: examples/ and benchmarks/ are read from there
EXAMPLES = ROOT / "examples"

from pullback_docs import stage_examples  # noqa: E402

# sphinx-gallery reads the examples from a staged copy (docs/_examples, ignored by git) in which
# each docstring's first line is underlined as the page title, so that examples stay ordinary
# scripts whose docstring starts with a one-line summary.
STAGED = stage_examples(EXAMPLES, HERE / "_examples")

project = "pullback"
author = "the pullback developers"
copyright = "the pullback developers, BSD-3-Clause"
release = version = pullback.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",  # benchmarks.md includes benchmarks/README.md
    "sphinx_gallery.gen_gallery",
    "pullback_docs",  # _ext/pullback_docs.py: the table of supported functions
]

templates_path = ["_templates"]
exclude_patterns = [
    "_build", "_examples", "**.ipynb_checkpoints", "auto_examples/*.ipynb", "auto_examples/*.py",
]
default_role = "code"
nitpicky = False
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
myst_heading_anchors = 3
suppress_warnings = ["myst.xref_missing"]  # README links to scripts beside it, not to pages

# ---------------------------------------------------------------- API reference
autosummary_generate = True
autodoc_typehints = "none"  # the signatures are in the numpydoc sections and the signature line
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

intersphinx_mapping: dict = {}  # the build needs no network

# ---------------------------------------------------------------- gallery


sphinx_gallery_conf = {
    "examples_dirs": os.path.relpath(STAGED, HERE),
    "gallery_dirs": "auto_examples",
    # run every example (not only plot_*.py) but the out-of-core Dask one: it needs a cluster and
    # ten minutes over 10 GiB of data (its page shows the code and the measured results)
    "filename_pattern": r"/(?!dask_out_of_core)[^/]*\.py$",
    "ignore_pattern": r"(__init__|/_[^/]*)\.py$",  # helpers: _name.py
    # examples save their figures as PNG files and close them: collect those (and any figure left open)
    "image_scrapers": ("matplotlib", "pullback_docs.png_scraper"),
    "reset_modules": ("matplotlib", "pullback_docs.reset_clock"),
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "show_memory": False,
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
}

# ---------------------------------------------------------------- HTML
html_theme = "pydata_sphinx_theme"
html_title = f"pullback {release}"
html_static_path: list[str] = []
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "navigation_with_keys": False,
}
html_show_sourcelink = False
