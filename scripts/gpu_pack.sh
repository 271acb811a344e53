#!/usr/bin/env bash
# Prepares the one-call GPU check (issue 7, docs/cuda.md): builds the CUDA test binaries and the
# CUDA benchmark (bench/cuda_bench.cc) here (nvcc, sm_80;90) and copies them with the shared
# libraries they need that a bare GPU machine lacks (Abseil, PCRE2, ...) into .gpu/ (ignored by
# git through .gitignore, which also holds in a worktree; the device tool carries it).
# Then, on the GPU machine: ./scripts/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${KILN_GPU_BUILD:-build/release}
bins=(cuda_device_test cuda_runtime_device_test cuda_interp_test cuda_train_step_test cuda_bench
      train_step_bench)
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKILN_BUILD_BENCH=ON >/dev/null
cmake --build "$dir" -j "$(nproc)" $(printf -- '--target %s ' "${bins[@]}") >&2
rm -rf .gpu && mkdir -p .gpu/bin .gpu/lib
git check-ignore -q .gpu/ || { echo "gpu_pack: .gpu/ is not ignored by git (.gitignore)" >&2; exit 1; }
for b in "${bins[@]}"; do
  f=$(find "$dir/tests/cuda" "$dir/bench" -name "$b" -type f | head -n 1)
  [ -n "$f" ] || { echo "gpu_pack: $b was not built in $dir" >&2; exit 1; }
  cp "$f" .gpu/bin/
  # Every non-glibc shared library the binary loads (glibc, libstdc++ and libgcc are there), but
  # not the CUDA toolkit's own (cuBLAS/cuBLASLt/cuDNN: the GPU machine has the same CUDA 13, and
  # libcublasLt alone is ~500 MB, far over what the device tool carries).
  ldd "$f" | awk '/=> \// {print $3}' | { grep -v -E 'libc\.so|libm\.so|libstdc\+\+|libgcc_s|ld-linux|libpthread|libdl|librt' || true; } |
    { grep -v -E '^/usr/local/cuda|libcublas|libcudnn|libcudart' || true; } |
    xargs -r -I{} cp -L {} .gpu/lib/  # (a binary may need none: grep's status 1 is not an error)
done
du -sh .gpu
size=$(du -sm .gpu | cut -f1)
[ "$size" -le 60 ] || { echo "gpu_pack: .gpu is ${size} MiB, over the 64 MiB the device tool carries" >&2; exit 1; }
