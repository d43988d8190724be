"""Sphinx configuration of the pymc_statmech documentation.

Build with ``sphinx-build -W -b html docs docs/_build/html`` after
``pip install -e ".[docs]"``.
"""

from __future__ import annotations

import importlib.metadata

project = "pymc_statmech"
author = "pymc_statmech developers"
copyright = "2024, pymc_statmech developers"
release = importlib.metadata.version("pymc_statmech")
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_nb",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]

# MyST: $...$ and $$...$$ math, amsmath environments, definition lists.
myst_enable_extensions = ["dollarmath", "amsmath", "deflist", "colon_fence"]
myst_heading_anchors = 3
# Notebooks are executed by the test suite, not by the docs build.
nb_execution_mode = "off"

# autodoc / autosummary / numpydoc
autodoc_typehints = "none"
autodoc_member_order = "bysource"
autosummary_generate = False
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_attributes_as_param_list = False

# The build runs offline (no intersphinx): cross-references to other projects stay plain text.

html_theme = "pydata_sphinx_theme"
html_title = "pymc_statmech"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_static_path: list[str] = []
