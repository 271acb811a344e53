#!/usr/bin/env bash
# Runs on a lent GPU machine, from the repository root, over what scripts/gpu_pack.sh put in .gpu/:
# the nvcc-built kernels against the interpreter (cuda_device_test), compute-sanitizer memcheck on
# them under a timeout (goes on if it is refused), the runtime's GPU-only tests (the cuBLAS GEMM
# switch, the allocator's red zones: cuda_runtime_device_test), the tiny training step on the GPU
# with each GEMM and with the V2 kernels, the interpreter tests for comparison, and the
# kernel benchmarks (bench/cuda_bench.cc: times, TFLOP/s or GB/s, ratios to cuBLAS, winners, and
# the kernel versions V1 vs V2 with the KILN_CUDA_KERNELS value that selects the winners) and
# the GPT-2 124M training step of kiln (bench/train_step_bench.cc) against PyTorch.
# Logs go to $OUT (the device tool's folder) or /tmp/gpu_out.
# Order: the checks and figures first, the slow sanitizer runs and variants last, so that a run cut
# short by the device budget still brings back the figures.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/gpu_out}
mkdir -p "$out"
# cuBLAS / cuDNN come from the machine's own CUDA 13 (gpu_pack.sh does not carry them).
export LD_LIBRARY_PATH="$PWD/.gpu/lib:/usr/local/cuda/lib64:/usr/local/cuda/lib:${LD_LIBRARY_PATH:-}"
export PATH="$PATH:/usr/local/cuda/bin"
{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  nvcc --version | tail -n 2; } 2>&1 | tee "$out/machine.txt"
echo "== cuda_device_test"
timeout 120 .gpu/bin/cuda_device_test 2>&1 | tee "$out/device_test.log"
echo "== cuda_runtime_device_test (cuBLAS / cuBLASLt Matmul and Linear vs the tiled GEMM; red zones)"
timeout 180 .gpu/bin/cuda_runtime_device_test 2>&1 | tee "$out/runtime_device_test.log"
echo "== cuda_train_step_test on the GPU (the runtime: tiny GPT step vs the CPU, KILN_TEST_DEVICE=cuda)"
KILN_TEST_DEVICE=cuda timeout 120 .gpu/bin/cuda_train_step_test 2>&1 | tail -n 30 |
  tee "$out/train_step_test.log"
echo "== cuda_bench (timeout 300 s; figures also in cuda_bench.log)"
timeout 300 .gpu/bin/cuda_bench 2>&1 | tee "$out/cuda_bench.log"
echo "cuda_bench exit ${PIPESTATUS[0]}"
echo "== kernel versions (cuda_bench's versions group: the winner per op, the setting for all)"
grep -E "winner: v|BITS DIFFER|KILN_CUDA_KERNELS=" "$out/cuda_bench.log" | tee "$out/kernel_versions.txt"
echo "== GPT-2 124M training step, B 8, T 1024: kiln f32 and bf16 (train_step_bench) vs PyTorch f32 and bf16"
for p in f32 bf16; do
  timeout 150 .gpu/bin/train_step_bench --device cuda --model gpt2 --batch 8 --seq 1024 --steps 5 \
    --precision $p 2>&1 | tee -a "$out/train_step_kiln.log"
done
echo "== the same kiln f32 step with cuBLASLt GEMMs (--cuda-gemm cublaslt: FP32, TF32 off)"
timeout 150 .gpu/bin/train_step_bench --device cuda --model gpt2 --batch 8 --seq 1024 --steps 5 \
  --cuda-gemm cublaslt 2>&1 | tee -a "$out/train_step_kiln.log"
for flag in "" --bf16; do
  timeout 120 python3 bench/torch_lm.py --device cuda --model gpt2 --mode train --batch 8 \
    --seq 1024 --steps 5 $flag 2>&1 | tee -a "$out/train_step_torch.log"
done
echo "== the same with every op's V2 kernel (KILN_CUDA_KERNELS=attention=v2,matmul=v2)"
KILN_CUDA_KERNELS=attention=v2,matmul=v2 KILN_TEST_DEVICE=cuda timeout 120 \
  .gpu/bin/cuda_train_step_test 2>&1 | tail -n 30 | tee "$out/train_step_test_v2.log"
echo "== the same training step with cuBLAS / cuBLASLt GEMMs (KILN_CUDA_GEMM; within 1e-5 of the CPU)"
for g in cublas cublaslt; do
  KILN_TEST_DEVICE=cuda KILN_CUDA_GEMM=$g timeout 120 .gpu/bin/cuda_train_step_test \
    --gtest_filter='*CudaSimMatchesCpu*' 2>&1 | tail -n 8 | tee -a "$out/train_step_cublas.log"
done
echo "== compute-sanitizer memcheck (timeout 180 s)"
if command -v compute-sanitizer >/dev/null; then
  timeout 180 compute-sanitizer --tool memcheck --error-exitcode 3 .gpu/bin/cuda_device_test \
    > "$out/memcheck.log" 2>&1
  echo "memcheck exit $?"; tail -n 15 "$out/memcheck.log"
else
  echo "compute-sanitizer not found; skipped" | tee "$out/memcheck.log"
fi
echo "== compute-sanitizer memcheck of the cuBLAS GEMM tests (timeout 120 s)"
if command -v compute-sanitizer >/dev/null; then
  timeout 120 compute-sanitizer --tool memcheck --error-exitcode 3 .gpu/bin/cuda_runtime_device_test \
    --gtest_filter='CudaRuntime.*Cublas*' > "$out/memcheck_runtime.log" 2>&1
  echo "memcheck exit $?"; tail -n 5 "$out/memcheck_runtime.log"
fi
echo "== cuda_interp_test (CPU interpreter, for comparison)"
.gpu/bin/cuda_interp_test --gtest_brief=1 2>&1 | tail -n 5 | tee "$out/interp_test.log"
