#!/usr/bin/env bash
# All tests: set-up, Release build + ctest, the Arm device builds under qemu-user
# (scripts/test_arm.sh), a bounded libFuzzer run of every parser target, then the whole suite
# again under ASan + UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
(cd build && ctest --output-on-failure --timeout 1200 -j2)

# Arm devices: aarch64 and armhf cross builds, selected tests under qemu-user, library sizes.
bash scripts/test_arm.sh

# Fuzz smoke: every fuzz/fuzz_*.c target runs for a bounded time (FUZZ_SECONDS each, 8 targets)
# from its seeds (fuzz/corpus/<target>/, small files) and every input that once crashed it
# (tests/regress/<target>/); -max_len keeps inputs near the seeds' size so the rate stays high.
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
cmake -S . -B build-fuzz -DTOD_FUZZ=ON -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug > /dev/null
targets=$(cd fuzz && ls fuzz_*.c | sed 's/\.c$//')
cmake --build build-fuzz -j"$(nproc)" --target $targets > /dev/null
for name in $targets; do
  t=${name#fuzz_}
  corpus=$(mktemp -d)
  cp fuzz/corpus/"$t"/* "$corpus/" 2>/dev/null || true
  cp tests/regress/"$t"/* "$corpus/" 2>/dev/null || true
  case $t in ms|passes) max_len=8192 ;; onnx|mindir|ckpt) max_len=4096 ;; *) max_len=1024 ;; esac
  echo "$name: ${FUZZ_SECONDS}s"
  rc=0
  ./build-fuzz/fuzz/"$name" -max_total_time="$FUZZ_SECONDS" -max_len=$max_len -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="build-fuzz/$name-" "$corpus" > "build-fuzz/$name.log" 2>&1 || rc=$?
  grep -E "stat::number_of_executed_units|ERROR|SUMMARY" "build-fuzz/$name.log" || true
  rm -rf "$corpus"
  [ "$rc" -eq 0 ] || { echo "$name found a crash (input saved under build-fuzz/)"; exit 1; }
done

bash scripts/build.sh --sanitize
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure --timeout 1200 -j2)
