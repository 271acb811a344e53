#!/usr/bin/env bash
# Configures and builds kiln. KILN_SANITIZE=1 builds with ASan + UBSan into build/asan;
# otherwise an optimized build goes into build/release. Prints the build folder on the last line.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
if [ "${KILN_SANITIZE:-0}" = "1" ]; then
  dir=build/asan
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKILN_SANITIZE=ON \
        -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" ${KILN_CMAKE_ARGS:-} >/dev/null
else
  dir=build/release
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release ${KILN_CMAKE_ARGS:-} >/dev/null
fi
cmake --build "$dir" -j "$jobs" >&2
echo "$dir"
