#!/usr/bin/env bash
# The build a compiler without the SIMD kernels' vector builtins gets (GCC 11
# and older, say): configured with -Dsimd=disabled, which the meson probe
# treats as a failed probe. It must build, offer the BLAS path alone, and
# pass the whole test suite there (the tests of the SIMD paths skip, saying so).
#
#   tools/blas_only_build.sh
#
# Works in $GATEDRNN_BLAS_ONLY_DIR (default /tmp/gatedrnn-blas-only-<hash of
# this checkout's path>): its own venv and build directory.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
hash="$(printf %s "$repo" | sha1sum | cut -c1-10)"
work="${GATEDRNN_BLAS_ONLY_DIR:-${TMPDIR:-/tmp}/gatedrnn-blas-only-$hash}"
venv="$work/venv"
mkdir -p "$work"

echo "== BLAS-only build: configure with -Dsimd=disabled ($work)"
[ -x "$venv/bin/python" ] || "${PYTHON:-python3}" -m venv "$venv"
"$venv/bin/pip" install -q "meson-python>=0.15" "meson>=1.1" ninja "Cython>=3.0" numpy scipy
"$venv/bin/pip" install -q --no-build-isolation --force-reinstall \
    "--config-settings=build-dir=$work/build" --config-settings=setup-args=-Dsimd=disabled \
    "$repo[test]"

paths="$("$venv/bin/python" -c 'from gatedrnn import _kernels; print(_kernels.available_paths())')"
echo "kernel paths: $paths"
[ "$paths" = "['blas']" ] || { echo "blas_only_build.sh: expected the BLAS path alone" >&2; exit 1; }

echo "== BLAS-only build: the test suite"
# From the checkout's tests, against the installed package.
(cd "$repo" && "$venv/bin/python" -m pytest -q -p no:cacheprovider)
