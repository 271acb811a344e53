#!/usr/bin/env bash
# Installs the Debian packages kiln needs. Safe to run twice: it installs only what is missing.
#   scripts/setup.sh           build + test dependencies
#   scripts/setup.sh --bench   also the benchmark-only yardsticks (OpenBLAS, Google Benchmark, PyTorch)
set -euo pipefail

packages=(build-essential cmake ninja-build git python3 libabsl-dev nlohmann-json3-dev
          libgtest-dev libgmock-dev)
for arg in "$@"; do
  case "$arg" in
    --bench) packages+=(libopenblas-dev libbenchmark-dev python3-torch python3-numpy) ;;
    *) echo "setup.sh: unknown option '$arg' (known: --bench)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi
echo "setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
