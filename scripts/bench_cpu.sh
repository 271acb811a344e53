#!/usr/bin/env bash
# The CPU speed figures in one run (docs/lm_bench.md, docs/gemm.md): builds the benchmarks, then
#   1. gemm_bench: kiln/OpenBLAS per shape, thread count and path (OpenBLAS as Debian picks it,
#      and forced to its AVX-512 SkylakeX kernels);
#   2. lm_compare.py: training and sampling of model (a) and GPT-2 124M against PyTorch, 2 threads,
#      with A/B variants of the same binary (pre-packed weights off, fusion off, allocator cache
#      off) interleaved;
#   3. KILN_PROFILE=1 breakdowns of one timed training step of each model and of decoding.
# Writes everything to out/bench/cpu-<date>/ (and prints it). Run it on a quiet machine: every
# figure is a ratio measured in the same run, but a busy machine still skews 2-thread results.
#   scripts/bench_cpu.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
quick=()
[ "${1:-}" = "--quick" ] && quick=(--quick)
./scripts/setup.sh --bench >/dev/null
dir=build/bench
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKILN_BUILD_BENCH=ON \
      ${KILN_CMAKE_ARGS:-} >/dev/null
cmake --build "$dir" -j "$(nproc)" --target gemm_bench lm_bench >&2
out=out/bench/cpu-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
echo "bench_cpu: writing to $out (load average: $(cut -d' ' -f1-3 /proc/loadavg))"

"$dir/bench/gemm_bench" "${quick[@]}" 2>&1 | tee "$out/gemm_openblas_default.txt"
"$dir/bench/gemm_bench" "${quick[@]}" --isa=avx512 --openblas-core=SkylakeX 2>&1 |
  tee "$out/gemm_openblas_skylakex.txt"

python3 bench/lm_compare.py --kiln "$dir/bench/lm_bench" --threads 2 --repeat 3 "${quick[@]}" \
  --variants 'no-prepack@sample=KILN_PACK_WEIGHTS=0;unfused@train=KILN_UNFUSE=all;no-alloc-cache@train=KILN_ALLOC_CACHE_MB=0' \
  2>&1 | tee "$out/lm_compare.txt"

for m in small gpt2; do
  if [ "$m" = small ]; then args=(--batch 8 --seq 256); else args=(--batch 4 --seq 64); fi
  KILN_PROFILE=1 "$dir/bench/lm_bench" --model "$m" --mode train "${args[@]}" --steps 1 \
    --threads 2 2>&1 | tee "$out/profile_train_$m.txt"
done
for b in 1 16; do
  KILN_PROFILE=1 "$dir/bench/lm_bench" --model small --mode sample --batch "$b" --threads 2 2>&1 |
    tee "$out/profile_sample_small_b$b.txt"
done
echo "bench_cpu: done ($out; load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
