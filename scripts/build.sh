#!/usr/bin/env bash
# Builds tod into build/ (Release) or, with --sanitize, into build-asan/ (ASan + UBSan).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build; flags=(-DCMAKE_BUILD_TYPE=Release)
if [ "${1:-}" = "--sanitize" ]; then dir=build-asan; flags=(-DCMAKE_BUILD_TYPE=Debug -DTOD_SANITIZE=ON); fi
cmake -S . -B "$dir" "${flags[@]}" > /dev/null
cmake --build "$dir" -j"$(nproc)"
