#!/usr/bin/env bash
# Configures and builds kiln. KILN_SANITIZE=1 builds with ASan + UBSan into build/asan;
# otherwise an optimized build goes into build/release. Arguments name targets to build (default:
# everything). Prints the build folder on the last line.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
if [ "${KILN_SANITIZE:-0}" = "1" ]; then
  dir=build/asan
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKILN_SANITIZE=ON \
        -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" ${KILN_CMAKE_ARGS:-} >/dev/null
else
  dir=build/release
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release ${KILN_CMAKE_ARGS:-} >/dev/null
fi
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build "$dir" -j "$jobs" "${targets[@]}" >&2
echo "$dir"
