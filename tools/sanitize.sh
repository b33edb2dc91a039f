#!/usr/bin/env bash
# Sanitizer and memcheck runs of gatedrnn, as the tree is now (whatever the
# kernels are). Both must come out clean; any report fails the script.
#
#   tools/sanitize.sh            ASan + UBSan, then memcheck
#   tools/sanitize.sh asan       AddressSanitizer + UndefinedBehaviorSanitizer:
#                                the extension built with both, the whole test
#                                suite run under them
#   tools/sanitize.sh memcheck   valgrind --tool=memcheck over a small forward
#                                and backward of every kind (tools/memcheck_layers.py)
#
# Needs gcc (with libasan and libubsan) and valgrind. Everything lives in its own
# directory, $GATEDRNN_SANITIZE_DIR (default /tmp/gatedrnn-sanitize-<hash of this
# checkout's path>): its own venvs and build directories, so the normal install
# and other checkouts are untouched. A second run reuses the venvs and rebuilds
# incrementally.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
hash="$(printf %s "$repo" | sha1sum | cut -c1-10)"
work="${GATEDRNN_SANITIZE_DIR:-${TMPDIR:-/tmp}/gatedrnn-sanitize-$hash}"
python="${PYTHON:-python3}"
what="${1:-all}"
# The build requirements, runtime dependencies and test extra of pyproject.toml,
# less matplotlib: its own extensions abort under ASan, and the one test that
# draws a curve then skips here (it runs in the plain test suite).
deps=(numpy scipy "meson-python>=0.15" "meson>=1.1" ninja "Cython>=3.0"
      tqdm pytest hypothesis threadpoolctl)
mkdir -p "$work"

say() { printf '\n== %s\n' "$*"; }
fail() { printf 'sanitize.sh: FAILED: %s\n' "$*" >&2; exit 1; }

venv_for() {  # venv_for NAME [PYTHON]: create (once) a venv with the dependencies
    local venv="$work/venv-$1"
    if [ ! -x "$venv/bin/python" ]; then
        "${2:-$python}" -m venv "$venv"
    fi
    "$venv/bin/pip" install -q "${deps[@]}" >&2
    printf %s "$venv"
}

install_into() {  # install_into VENV BUILD_DIR [meson setup args...]
    local venv="$1" build="$2"
    shift 2
    local args=()
    for a in "$@"; do args+=("--config-settings=setup-args=$a"); done
    "$venv/bin/pip" install -q --no-build-isolation --no-deps --force-reinstall \
        "--config-settings=build-dir=$build" "${args[@]}" "$repo" >&2
}

run_asan() {
    say "ASan + UBSan: build ($work/build-asan)"
    local venv extra so libasan
    venv="$(venv_for asan)"
    # UBSan findings must stop the run, not just print: -fno-sanitize-recover.
    extra="-fno-sanitize-recover=all -fsanitize=float-cast-overflow,float-divide-by-zero"
    extra+=" -fno-omit-frame-pointer"
    install_into "$venv" "$work/build-asan" -Db_sanitize=address,undefined \
        -Dbuildtype=debugoptimized "-Dc_args=$extra"
    so="$(ls "$venv"/lib/python3*/site-packages/gatedrnn/_kernels*.so)"
    local symbols
    symbols="$(nm -D "$so")"
    grep -q __asan_report <<< "$symbols" || fail "$so has no AddressSanitizer instrumentation"
    grep -q '__ubsan_handle_.*_abort' <<< "$symbols" \
        || fail "$so has no fatal UndefinedBehaviorSanitizer checks"
    echo "instrumented: $so"

    libasan="$(gcc -print-file-name=libasan.so)"
    [ -f "$libasan" ] || fail "libasan.so not found (gcc -print-file-name=libasan.so)"
    # CPython is not built with ASan: preload the runtime; its leaks at exit are
    # not ours (detect_leaks=0). PYTHONMALLOC=malloc lets ASan see every object.
    # Subprocesses of the tests inherit all of this.
    local env=(env "LD_PRELOAD=$libasan" PYTHONMALLOC=malloc
               "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1:strict_string_checks=1"
               "UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1")

    say "ASan + UBSan: canaries (a finding must fail the run)"
    local canary="$work/canary"
    mkdir -p "$canary"
    cat > "$canary/canary.c" <<'EOF'
#include <stdlib.h>
int canary_signed_overflow(int x) { return x + 1; }
int canary_heap_overflow(int n) { int *a = malloc(n * sizeof *a); a[0] = 1; int v = a[n]; free(a); return v; }
EOF
    # shellcheck disable=SC2086
    gcc -shared -fPIC -O1 -fsanitize=address,undefined $extra "$canary/canary.c" \
        -o "$canary/canary.so"
    local probe
    for probe in "canary_signed_overflow 2147483647 runtime error: signed integer overflow" \
                 "canary_heap_overflow 4 ERROR: AddressSanitizer: heap-buffer-overflow"; do
        set -- $probe
        local fn="$1" arg="$2" expect="${probe#* * }"
        # (the braces keep the shell's own "Aborted" notice off the terminal)
        if { "${env[@]}" "$venv/bin/python" -c \
            "import ctypes, sys; ctypes.CDLL(sys.argv[1]).$fn($arg)" "$canary/canary.so" \
            > "$canary/$fn.log" 2>&1; } 2> /dev/null; then
            fail "the $fn canary ran to completion: sanitizer findings would not fail the run"
        fi
        grep -q "$expect" "$canary/$fn.log" || { cat "$canary/$fn.log"; fail "no report from $fn"; }
        echo "ok: $fn is reported ('$expect') and stops the process"
    done

    say "ASan + UBSan: the test suite"
    local log="$work/asan-pytest.log" status=0
    (cd "$repo" && "${env[@]}" "$venv/bin/python" -c \
        "import gatedrnn, sys; assert gatedrnn.__file__.startswith(sys.prefix), gatedrnn.__file__" \
        && "${env[@]}" GATEDRNN_HYPOTHESIS_PROFILE="${GATEDRNN_HYPOTHESIS_PROFILE:-quick}" \
            "$venv/bin/python" -m pytest tests -q -p no:cacheprovider) > "$log" 2>&1 || status=$?
    tail -n 3 "$log"
    if grep -nE "ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer" "$log"; then
        fail "sanitizer reports in $log"
    fi
    [ "$status" -eq 0 ] || fail "the test suite failed under ASan + UBSan (exit $status; $log)"
    echo "ASan + UBSan: 0 reports ($log)"
}

memcheck() {  # memcheck LOG PYTHON ARGS...: valgrind memcheck, 0 errors or exit 1
    local log="$1"
    shift
    # PYTHONMALLOC=malloc: pymalloc's arenas confuse memcheck. One BLAS thread
    # keeps the run short and deterministic.
    PYTHONMALLOC=malloc OPENBLAS_NUM_THREADS=1 valgrind --tool=memcheck --error-exitcode=1 \
        --leak-check=no --track-origins=yes --num-callers=30 \
        "--suppressions=$repo/tools/valgrind.supp" "$@" > "$log" 2>&1
}

run_memcheck() {
    command -v valgrind > /dev/null || fail "valgrind is not installed"
    say "memcheck: an interpreter that is clean under memcheck by itself"
    # Some Python builds (e.g. this machine's pyenv 3.11.7) report hundreds of
    # uninitialised values inside CPython itself; Debian's python3 reports none.
    local interpreter="" candidate
    for candidate in ${MEMCHECK_PYTHON:-} "$python" /usr/bin/python3; do
        # The interpreter itself, not a wrapper such as a pyenv shim.
        candidate="$("$candidate" -c 'import sys; print(sys.executable)' 2> /dev/null)" || continue
        if memcheck "$work/memcheck-baseline.log" "$candidate" -c \
            "import ctypes, json, decimal; int.from_bytes(b'abc', 'little'); sorted(range(99))"
        then
            interpreter="$candidate"
            break
        fi
        echo "skipping $candidate: $(grep -m1 'ERROR SUMMARY' "$work/memcheck-baseline.log")"
    done
    [ -n "$interpreter" ] || fail "no interpreter runs clean under memcheck (set MEMCHECK_PYTHON)"
    echo "using $interpreter ($("$interpreter" -V))"

    local name venv
    name="memcheck-$(printf %s "$interpreter" | sha1sum | cut -c1-8)"
    say "memcheck: build ($work/build-$name)"
    venv="$(venv_for "$name" "$interpreter")"
    install_into "$venv" "$work/build-$name" -Dbuildtype=debugoptimized

    say "memcheck: valgrind over tools/memcheck_layers.py"
    local log="$work/memcheck.log" status=0
    (cd "$work" && memcheck "$log" "$venv/bin/python" "$repo/tools/memcheck_layers.py") || status=$?
    grep -E "memcheck workload|ERROR SUMMARY" "$log"
    [ "$status" -eq 0 ] || fail "memcheck found errors or the workload failed (exit $status; $log)"
    grep -q "ERROR SUMMARY: 0 errors from 0 contexts" "$log" || fail "memcheck errors ($log)"
}

case "$what" in
    all) run_asan; run_memcheck ;;
    asan) run_asan ;;
    memcheck) run_memcheck ;;
    *) echo "usage: $0 [all|asan|memcheck]" >&2; exit 2 ;;
esac
say "sanitize.sh: clean"
