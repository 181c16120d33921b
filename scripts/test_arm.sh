#!/usr/bin/env bash
# Arm device builds (issue 12): cross-builds libtod, tod, benchmark, benchmark_train, the C unit
# tests and the device libraries (tod_rt, tod_min) for aarch64 and 32-bit armhf, then runs a
# selection of tests under qemu-user: the C unit tests, inference parity (LeNet-5, mobilenet_v2),
# MindSpore Lite's own fixtures, LeNet training (against PyTorch and against the x86 build), and
# the minimal library; finally the size report. The .ms files come from the x86 converter in
# $TOD_BUILD (default build/, made by scripts/build.sh): the file is the contract between the
# server and the device.
#   bash scripts/test_arm.sh [aarch64] [armhf]     (default: both)
# Build directories: ${TOD_ARM_PREFIX:-build}-aarch64 and ${TOD_ARM_PREFIX:-build}-armhf.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
host_build=$(realpath "${TOD_BUILD:-build}")
shared=$(realpath "${TOD_SHARED:-../shared}")
prefix=${TOD_ARM_PREFIX:-build}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(aarch64 armhf)
[ -x "$host_build/converter_lite" ] || { echo "test_arm: no x86 build in $host_build (run scripts/build.sh)"; exit 1; }

start=$SECONDS
for t in "${targets[@]}"; do
  case $t in
    aarch64) toolchain=aarch64-linux-gnu; wrapper="qemu-aarch64 -L /usr/aarch64-linux-gnu" ;;
    armhf) toolchain=arm-linux-gnueabihf; wrapper="qemu-arm -L /usr/arm-linux-gnueabihf" ;;
    *) echo "test_arm: unknown target $t (aarch64, armhf)"; exit 2 ;;
  esac
  dir=$root/$prefix-$t
  echo "== $t: cross build in $dir"
  t0=$SECONDS
  cmake --no-warn-unused-cli -S . -B "$dir" -DCMAKE_TOOLCHAIN_FILE="cmake/toolchains/$toolchain.cmake" -DCMAKE_BUILD_TYPE=Release \
    -DTOD_MINIMAL=ON -DTOD_SHARED_DIR="$shared" > /dev/null
  cmake --build "$dir" -j"$(nproc)" > "$dir.build.log" 2>&1 || { tail -30 "$dir.build.log"; exit 1; }
  echo "   built in $((SECONDS - t0)) s"

  echo "== $t: C unit tests under ${wrapper%% *}"
  (cd "$dir" && ctest --output-on-failure --timeout 600 -j"$(nproc)")

  echo "== $t: end-to-end tests under ${wrapper%% *}"
  export TOD_BUILD=$host_build TOD_RUNTIME_BUILD=$dir TOD_EXEC_WRAPPER=$wrapper TOD_SHARED=$shared \
    TOD_SOURCE=$root TOD_WORK=$dir/testwork
  run_py() { # name, script, [TOD_TEST_ONLY]
    local t1=$SECONDS
    # A bound per suite, so a hang fails with its log instead of running out CI's clock.
    local rc=0
    TOD_TEST_ONLY=${3:-} timeout -k 10 "${TOD_ARM_SUITE_TIMEOUT:-900}" /usr/bin/python3 "$2" > "$dir/$1.log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
      cat "$dir/$1.log"; echo "FAIL $t $1 (exit status $rc; 124 = timed out)"; exit 1
    fi
    echo "   ok $1 ($(grep -c '^ok ' "$dir/$1.log") checks, $((SECONDS - t1)) s)"
  }
  run_py models_vs_torch tests/py/test_models_vs_torch.py lenet5,lenet5_view,mobilenet_v2
  run_py fixture_lenet_infer tests/py/test_fixture_lenet_infer.py
  run_py train_vs_torch tests/py/test_train_vs_torch.py lenet_momentum,lenet_adam
  run_py train_mindspore_fixtures tests/py/test_train_mindspore_fixtures.py
  run_py train_parity_with_x86 tests/arm/train_parity.py
  run_py infer_parity_with_x86 tests/arm/infer_parity.py
  run_py min_runtime tests/arm/min_runtime.py
  unset TOD_RUNTIME_BUILD TOD_EXEC_WRAPPER
done

echo "== device library sizes"
for t in "${targets[@]}"; do bash scripts/size_report.sh "$root/$prefix-$t"; done
echo "test_arm: all passed in $((SECONDS - start)) s"
