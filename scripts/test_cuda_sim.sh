#!/usr/bin/env bash
# The CUDA tests from an optimized build: every cuda/*.cu kernel through the kernel interpreter
# against the CPU reference, in order and reversed (KILN_SIM_REVERSE=1), plus the interpreter,
# broken-kernel, coverage, runtime and training-step tests. test.sh runs the same tests in its
# build (CI: ASan + UBSan); this is the third way the CUDA issue asks for, and it is fast.
# Extra arguments go to ctest. Run after setup.sh (CI runs it after demo.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build/release
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release ${KILN_CMAKE_ARGS:-} >/dev/null
mapfile -t targets < <(ninja -C "$dir" -t targets all | sed -n 's/^\(cuda_[a-z0-9_]*_test\): phony$/\1/p' | sort -u)
if [ "${#targets[@]}" -eq 0 ]; then
  echo "test_cuda_sim: no cuda_*_test targets in $dir" >&2
  exit 1
fi
./scripts/build.sh "${targets[@]}" >/dev/null
ctest --test-dir "$dir" --output-on-failure -j "$(nproc)" -R '^cuda_' "$@"
