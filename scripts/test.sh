#!/usr/bin/env bash
# The README's test command: installs what is needed, builds, runs the whole test suite.
# KILN_SANITIZE=1 runs it under AddressSanitizer + UndefinedBehaviorSanitizer (what CI does).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
dir=$(./scripts/build.sh | tail -n 1)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$dir" --output-on-failure -j "$(nproc)" "$@"
