#!/usr/bin/env bash
# Build the documentation site (docs/ -> docs/_build/html) with every Sphinx and
# numpydoc warning an error, then run the Examples of the docstrings as doctests
# against the installed package. Needs the docs and test extras:
#   pip install '.[docs,test]' && bash tools/build_docs.sh
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== Sphinx: docs/ -> docs/_build/html (warnings are errors)"
rm -rf docs/_build docs/api/generated
python -m sphinx -W --keep-going -b html docs docs/_build/html

echo "== The docstrings' examples (doctests)"
# --pyargs imports gatedrnn as installed; the package's modules hold the examples.
python -m pytest --doctest-modules --pyargs gatedrnn -p no:cacheprovider -q \
    --doctest-continue-on-failure -o addopts="" -o testpaths="" \
    -o doctest_optionflags="ELLIPSIS"
# The compiled module's docstrings (set_num_threads, ...): pytest collects .py files only.
python -c 'import doctest, sys, gatedrnn._kernels as m
r = doctest.testmod(m)
print(f"gatedrnn._kernels: {r.attempted} examples, {r.failed} failed")
sys.exit(r.failed > 0)'
