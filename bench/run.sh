#!/usr/bin/env bash
# One command for every comparison: installs the peers (PyTorch from Debian, onnxruntime-node
# from npm), builds Release, runs the benchmarks side by side and rewrites bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
/usr/bin/python3 bench/bench_models.py "$@"
