"""Sphinx configuration: numpydoc docstrings, the pydata (SciPy-ecosystem) theme."""
import gatedrnn

project = "gatedrnn"
author = "the gatedrnn authors"
copyright = "2026, the gatedrnn authors"
version = release = gatedrnn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
]

autosummary_generate = True
templates_path = ["_templates"]
# The signatures say what the types are; the docstrings say shapes and dtypes.
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# Fail the build on a docstring numpydoc cannot parse.
numpydoc_validation_checks = set()


html_theme = "pydata_sphinx_theme"
html_title = f"gatedrnn {release}"
html_theme_options = {"navigation_with_keys": False}
exclude_patterns = ["_build"]
default_role = "code"
