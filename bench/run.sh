#!/usr/bin/env bash
# One command for every comparison: installs the peers (PyTorch from Debian, onnxruntime-node
# from npm), builds Release, runs the benchmarks side by side and rewrites bench/RESULTS.md.
# TOD_BUILD=dir builds and measures in that directory instead of build/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -n "${TOD_BUILD:-}" ]; then
  cmake -S . -B "$TOD_BUILD" -DCMAKE_BUILD_TYPE=Release > /dev/null
  cmake --build "$TOD_BUILD" -j"$(nproc)"
else
  bash scripts/build.sh
fi
/usr/bin/python3 bench/bench_models.py "$@"
