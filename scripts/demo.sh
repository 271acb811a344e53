#!/usr/bin/env bash
# The README's first command: installs what is needed, builds an optimized kiln, runs its main job.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
dir=$(./scripts/build.sh kiln | tail -n 1)  # the binary only: the tests are test.sh's job
"$dir/tools/kiln" demo "$@"
