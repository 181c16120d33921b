#!/usr/bin/env bash
# The main job: a model exported by PyTorch is converted with converter_lite and run on device
# with tod, and its numbers are compared with PyTorch's. (On-device training joins this script
# when `tod train` lands.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
out=build/demo
mkdir -p "$out"
/usr/bin/python3 scripts/export_lenet.py "$out"
./build/converter_lite --fmk=ONNX --modelFile="$out/lenet5.onnx" --outputFile="$out/lenet5"
./build/tod info "$out/lenet5.ms"
./build/tod run "$out/lenet5.ms" --input "$out/x.npy" --output "$out/y_tod.npy"
/usr/bin/python3 - "$out" <<'PY'
import sys, numpy as np
d = sys.argv[1]
y, ref = np.load(f"{d}/y_tod.npy"), np.load(f"{d}/y_torch.npy")
err = float(np.abs(y - ref).max())
print(f"tod vs PyTorch on a batch of {y.shape[0]}: max abs difference {err:.2e}")
sys.exit(0 if err <= 1e-4 * max(1.0, float(np.abs(ref).max())) else 1)
PY
