#!/usr/bin/env bash
# All tests: set-up, Release build + ctest, a bounded libFuzzer run of every parser target, then
# the whole suite again under ASan + UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
(cd build && ctest --output-on-failure -j2)

# Fuzz smoke: each target runs for a bounded time from real seed files.
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
cmake -S . -B build-fuzz -DTOD_FUZZ=ON -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug > /dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_onnx fuzz_ms fuzz_mindir > /dev/null
shared=${TOD_SHARED:-../shared}
for t in onnx ms mindir; do
  corpus=$(mktemp -d)
  case $t in
    onnx) cp models/lenet5.onnx "$corpus/" ;;
    ms) cp "$shared"/fixtures/mindspore/*.ms "$corpus/" 2>/dev/null || true ;;
    mindir) cp "$shared"/fixtures/mindspore/*.mindir "$corpus/" 2>/dev/null || true ;;
  esac
  echo "fuzz_$t: ${FUZZ_SECONDS}s"
  rc=0
  ./build-fuzz/fuzz/fuzz_$t -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="build-fuzz/" "$corpus" > "build-fuzz/fuzz_$t.log" 2>&1 || rc=$?
  grep -E "stat::number_of_executed_units|ERROR|SUMMARY" "build-fuzz/fuzz_$t.log" || true
  rm -rf "$corpus"
  [ "$rc" -eq 0 ] || { echo "fuzz_$t found a crash (input saved under build-fuzz/)"; exit 1; }
done

bash scripts/build.sh --sanitize
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -j2)
