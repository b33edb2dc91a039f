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
# Every documented object has a docstring (GL08), an Examples section (EX01),
# and documents its parameters (PR01, PR02); with -W these fail the build.
numpydoc_validation_checks = {"GL08", "EX01", "PR01", "PR02"}
# Not validated: properties, which are attributes with a docstring (no
# Examples); among them the book GRU's and embedding's weights, lambda
# properties whose source numpydoc's validator cannot locate (StopIteration).
numpydoc_validation_exclude = {
    r"^gatedrnn\.book\.time_layers\.\w+\.(Wx|Wh|dWx|dWh|db|W)$",
    r"^gatedrnn\.book\.time_layers\.TimeBiLSTM\.(h|c|dh|dc|stateful)$",
    r"\.(dtype|lr|vocab_size)$",
}


html_theme = "pydata_sphinx_theme"
html_title = f"gatedrnn {release}"
html_theme_options = {"navigation_with_keys": False}
exclude_patterns = ["_build"]
default_role = "code"
