"""test_minimal_runtime_infers_like_torch: the minimal device library (tod_min: inference only,
no threads, no stdio), through tests/tools/min_run under qemu-user, runs LeNet-5 (exported by
PyTorch, converted by the x86 converter_lite) and MindSpore Lite's own lenet_tod_infer.ms from a
buffer placed at byte offsets 0 and 1 (so every weight is misaligned), and matches PyTorch within
1e-4 * max(1, max|y|). A training model is refused at load with RET_NOT_SUPPORT (-7), not run
half-way, and a LayerNorm model (the one forward kernel tod_min leaves out) with RET_NOT_FIND_OP.

Run by scripts/test_arm.sh with TOD_BUILD, TOD_RUNTIME_BUILD and TOD_EXEC_WRAPPER."""
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "py"))
from todtest import (CONVERTER, EXEC_WRAPPER, RUNTIME_BUILD, SHARED, check, close, finish,  # noqa: E402
                     flatc_json, workdir)

FIX = os.path.join(SHARED, "fixtures", "mindspore")
MIN_RUN = os.path.join(RUNTIME_BUILD, "min_run")


def min_run(ms, x, d, offset):
    xin, yout = os.path.join(d, "x.bin"), os.path.join(d, "y.bin")
    np.ascontiguousarray(x, dtype="<f4").tofile(xin)
    r = subprocess.run([*EXEC_WRAPPER, MIN_RUN, ms, xin, yout, str(offset)], capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stderr.strip()
    dims = [int(v) for v in r.stdout.split()]
    return np.fromfile(yout, dtype="<f4").reshape(dims), r.stderr.strip()


def main():
    check(os.path.exists(MIN_RUN), f"min_run is built ({MIN_RUN}; configure with -DTOD_MINIMAL=ON)")
    d = workdir("arm_min_" + os.path.basename(RUNTIME_BUILD.rstrip("/")))
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10)).eval()
    x = torch.randn(1, 1, 32, 32)
    onnx_path = os.path.join(d, "lenet.onnx")
    torch.onnx.export(model, x, onnx_path, opset_version=13, input_names=["input"], output_names=["y"])
    base = os.path.join(d, "lenet")
    r = subprocess.run([CONVERTER, "--fmk=ONNX", f"--modelFile={onnx_path}", f"--outputFile={base}"],
                       capture_output=True, text=True)
    check(r.returncode == 0, "x86 converter_lite writes lenet.ms")
    with torch.no_grad():
        ref = model(x).numpy()
    for offset in (0, 1):
        y, msg = min_run(base + ".ms", x.numpy(), d, offset)
        ok, detail = close(y, ref) if y is not None else (False, msg)
        check(ok, f"LeNet-5 through tod_min, model at offset {offset}: matches PyTorch, {detail} ({msg})")

    # MindSpore Lite's own inference file; the reference reads its weights with flatc.
    ms = os.path.join(FIX, "lenet_tod_infer.ms")
    js, _ = flatc_json(ms)
    w = {t["name"]: np.frombuffer(bytes(t["data"]), dtype="<f4").reshape(t["dims"])
         for t in js["allTensors"] if t.get("data") and t["dataType"] == 43}
    xs = np.fromfile(os.path.join(FIX, "x_lenet.bin"), dtype="<f4").reshape(32, 32, 32, 1)[6:8]
    xt = torch.from_numpy(xs.transpose(0, 3, 1, 2).copy())
    with torch.no_grad():
        h = F.max_pool2d(F.relu(F.conv2d(xt, torch.from_numpy(w["conv1.weight"].transpose(0, 3, 1, 2).copy()))), 2)
        h = F.max_pool2d(F.relu(F.conv2d(h, torch.from_numpy(w["conv2.weight"].transpose(0, 3, 1, 2).copy()))), 2)
        h = torch.flatten(h, 1)
        for i in (1, 2, 3):
            h = F.linear(h, torch.from_numpy(w[f"fc{i}.weight"].copy()), torch.from_numpy(w[f"fc{i}.bias"].copy()))
            h = F.relu(h) if i < 3 else h
        ref2 = h.numpy()
    y, msg = min_run(ms, xs, d, 1)
    ok, detail = close(y, ref2) if y is not None else (False, msg)
    check(ok, f"lenet_tod_infer.ms (MindSpore Lite 1.5) through tod_min at offset 1: matches PyTorch, {detail}")
    check("threads 1" in msg, f"tod_min runs single-threaded ({msg})")

    # LayerNormFusion's kernel is left out of tod_min (README): a clean "no kernel", no crash.
    ln = nn.LayerNorm(8).eval()
    ln_onnx = os.path.join(d, "ln.onnx")
    torch.onnx.export(ln, torch.randn(2, 8), ln_onnx, opset_version=17, input_names=["x"], output_names=["y"])
    r = subprocess.run([CONVERTER, "--fmk=ONNX", f"--modelFile={ln_onnx}", f"--outputFile={os.path.join(d, 'ln')}"],
                       capture_output=True, text=True)
    y, msg = min_run(os.path.join(d, "ln.ms"), np.zeros((2, 8), np.float32), d, 0)
    check(r.returncode == 0 and y is None and "load failed (-300)" in msg and "LayerNormFusion" in msg,
          f"a LayerNorm model is refused with RET_NOT_FIND_OP ({msg})")

    y, msg = min_run(os.path.join(FIX, "lenet_tod.ms"), xs, d, 0)
    check(y is None and "load failed (-7)" in msg and "inference-only" in msg,
          f"a training model is refused with RET_NOT_SUPPORT ({msg})")
    finish()


if __name__ == "__main__":
    main()
