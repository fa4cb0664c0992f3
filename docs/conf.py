"""Sphinx configuration of the simkit documentation.

Build (warnings are errors)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Study pages (``docs/studies/``) are generated from the registered :class:`simkit.study.Study`
objects by ``docs/_ext/simkit_docs.py``; the API pages (``docs/api/generated/``) by autosummary.
Both folders are git-ignored.  Tutorials are MyST notebooks executed by myst-nb, their outputs
cached in ``docs/_build/.jupyter_cache``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
os.environ.setdefault("MPLBACKEND", "Agg")

import simkit  # noqa: E402

project = "simkit"
author = "the simkit developers"
copyright = "the simkit developers, MIT licence"
release = simkit.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
    "sphinx_design",
    "simkit_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints", "gallery"]
templates_path = ["_templates"]
html_static_path = ["_static"]
html_css_files = ["simkit.css"]

# --- MathJax, shipped in docs/_static/mathjax/ so that formulas render offline ---------------
# MathJax 3.2.2 (Apache-2.0, from the npm package "mathjax", es5/): the combined component
# tex-chtml-full.js (TeX input with every TeX extension built in, so none is fetched at run time,
# CommonHTML output) and the CHTML fonts it loads from output/chtml/fonts/woff-v2/.  A relative
# mathjax_path is relative to _static/; MathJax finds its fonts relative to the script.
mathjax_path = "mathjax/tex-chtml-full.js"

# --- MyST / myst-nb -------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = os.environ.get("SIMKIT_DOCS_EXECUTE", "cache")
nb_execution_cache_path = str(HERE / "_build" / ".jupyter_cache")
nb_execution_timeout = 180
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
# stderr of the tutorials is library noise (tqdm, Dask start-up); errors still fail the build
nb_output_stderr = "remove"

# --- autodoc / autosummary / numpydoc -------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autosummary_ignore_module_all = False
autodoc_typehints = "none"
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_attributes_as_param_list = False


# --- HTML -----------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"simkit {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_sidebars = {"index": []}
html_show_sourcelink = False
