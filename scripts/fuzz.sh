#!/usr/bin/env bash
# Builds and runs one of kiln's libFuzzer targets (docs/fuzzing.md):
#   scripts/fuzz.sh safetensors|tokenizer [seconds] [libFuzzer flags...]    (default 600 seconds)
# Clang with libFuzzer + ASan + UBSan (Debian 12: clang 14, libclang-rt-14-dev for the runtimes,
# libomp-14-dev for OpenMP; installed if missing). The kiln libraries are built with
# -fsanitize=fuzzer-no-link in build/fuzz. The run reads the checked-in seeds (fuzz/corpus/<target>,
# never written) and keeps the inputs it finds in build/fuzz/corpus/<target>; a crash leaves its
# input in build/fuzz/artifacts/<target>/ and the script exits non-zero. Copy a crash input into
# fuzz/corpus/<target>/ once fixed, so ctest replays it from then on.
# KILN_FUZZ_EXCLUDE lists layers to leave out of the build (default "bench").
set -euo pipefail
cd "$(dirname "$0")/.."
usage() {
  echo "usage: scripts/fuzz.sh safetensors|tokenizer [seconds] [libFuzzer flags...]" >&2
  exit 2
}
[ $# -ge 1 ] || usage
target=$1
shift
case "$target" in safetensors | tokenizer) ;; *) usage ;; esac
secs=600
if [ $# -ge 1 ]; then
  secs=$1
  shift
fi
[[ "$secs" =~ ^[0-9]+$ ]] || usage

./scripts/setup.sh >&2
packages=(clang libclang-rt-14-dev libomp-14-dev)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "fuzz: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

dir=build/fuzz
san="-fsanitize=address,undefined -fno-sanitize-recover=all"
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link $san -fno-omit-frame-pointer -g1" \
  -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link $san -fno-omit-frame-pointer -g1" \
  -DCMAKE_EXE_LINKER_FLAGS="$san" -DKILN_FUZZ=ON \
  -DKILN_EXCLUDE="${KILN_FUZZ_EXCLUDE:-bench}" >/dev/null
cmake --build "$dir" -j "$(nproc)" --target "${target}_fuzz" >&2

mkdir -p "$dir/corpus/$target" "$dir/artifacts/$target"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
exec "$dir/tests/fuzz/${target}_fuzz" -max_total_time="$secs" -print_final_stats=1 \
  -dict="fuzz/$target.dict" -artifact_prefix="$dir/artifacts/$target/" "$@" \
  "$dir/corpus/$target" "fuzz/corpus/$target"
