#!/usr/bin/env bash
# Prepares the one-call GPU check (issue 7, docs/cuda.md): builds the CUDA test binaries here
# (nvcc, sm_80;90) and copies them with the shared libraries they need that a bare GPU machine
# lacks (Abseil, PCRE2, ...) into .gpu/ (ignored by git; the device tool carries it).
# Then, on the GPU machine: ./scripts/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${KILN_GPU_BUILD:-build/release}
bins=(cuda_device_test cuda_interp_test)
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$dir" -j "$(nproc)" $(printf -- '--target %s ' "${bins[@]}") >&2
rm -rf .gpu && mkdir -p .gpu/bin .gpu/lib
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
for b in "${bins[@]}"; do
  f=$(find "$dir/tests/cuda" -name "$b" -type f | head -n 1)
  cp "$f" .gpu/bin/
  # Every non-glibc shared library the binary loads (glibc, libstdc++ and libgcc are there).
  ldd "$f" | awk '/=> \// {print $3}' | grep -v -E 'libc\.so|libm\.so|libstdc\+\+|libgcc_s|ld-linux|libpthread|libdl|librt' |
    xargs -r -I{} cp -L {} .gpu/lib/
done
du -sh .gpu
