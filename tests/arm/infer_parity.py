"""test_device_inference_matches_x86: LeNet-5 and a small net that reaches every NEON forward
kernel (GEMM through im2col, 1x1 and Linear; Winograd 3x3; depthwise 3x3 at strides 1 and 2;
max and average pooling; channel counts that leave vector tails), exported by PyTorch and
converted by the build machine's converter_lite, then run by the x86 `tod run` and by the
device's `tod run` under qemu-user, from the same .ms and the same inputs, at batch 1 and 3. The
device build runs its NEON kernels (`tod info` says "kernels: neon") and, with TOD_ISA=scalar,
the portable ones: both agree with the x86 build within 1e-5 of max|y| and with PyTorch within
1e-4, so neither build is the other's only reference.

Run by scripts/test_arm.sh with TOD_BUILD (x86 build), TOD_RUNTIME_BUILD (the Arm build) and
TOD_EXEC_WRAPPER (e.g. "qemu-aarch64 -L /usr/aarch64-linux-gnu"); it fails without them."""
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "py"))
from todtest import BUILD, CONVERTER, EXEC_WRAPPER, RUNTIME_BUILD, check, finish, workdir  # noqa: E402


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def kernel_mix():
    return nn.Sequential(
        nn.Conv2d(3, 19, 3, padding=1), nn.ReLU(),                          # im2col GEMM
        nn.Conv2d(19, 21, 3, padding=1), nn.ReLU6(),                        # Winograd F(4x4,3x3)
        nn.Conv2d(21, 21, 3, padding=1, groups=21), nn.ReLU(),              # depthwise, stride 1
        nn.Conv2d(21, 21, 3, stride=2, padding=1, groups=21), nn.ReLU6(),   # depthwise, stride 2
        nn.Conv2d(21, 37, 1),                                               # 1x1 GEMM
        nn.MaxPool2d(3, 2, padding=1), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(37 * 4 * 4, 10))


MODELS = [("lenet5", lenet, (1, 32, 32)), ("kernel_mix", kernel_mix, (3, 32, 32))]


def tod_run(prefix, tod, ms, x, d, tag, env=None):
    xi, yo = os.path.join(d, f"x_{tag}.npy"), os.path.join(d, f"y_{tag}.npy")
    np.save(xi, x)
    r = subprocess.run([*prefix, tod, "run", ms, "--input", xi, "--output", yo], capture_output=True,
                       text=True, env=env)
    check(r.returncode == 0, f"{tag}: tod run {r.stderr.strip()[-300:]}")
    return np.load(yo) if r.returncode == 0 else None


def main():
    device_tod = os.path.join(RUNTIME_BUILD, "tod")
    check(bool(EXEC_WRAPPER) and RUNTIME_BUILD != BUILD and os.path.exists(device_tod),
          f"a device build and an emulator are given (TOD_RUNTIME_BUILD={RUNTIME_BUILD}, "
          f"TOD_EXEC_WRAPPER={' '.join(EXEC_WRAPPER)})")
    d = workdir("arm_infer_parity_" + os.path.basename(RUNTIME_BUILD.rstrip("/")))
    torch.manual_seed(0)
    for name, make, shape in MODELS:
        model = make().eval()
        onnx_path = os.path.join(d, name + ".onnx")
        torch.onnx.export(model, torch.randn(1, *shape), onnx_path, opset_version=13, input_names=["input"],
                          output_names=["output"], dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
        base = os.path.join(d, name)
        r = subprocess.run([CONVERTER, "--fmk=ONNX", f"--modelFile={onnx_path}", f"--outputFile={base}"],
                           capture_output=True, text=True)
        check(r.returncode == 0, f"{name}: x86 converter_lite writes the .ms")
        if r.returncode != 0:
            continue
        ms = base + ".ms"
        for isa in ("neon", "scalar"):
            env = dict(os.environ, TOD_ISA=isa)
            info = subprocess.run([*EXEC_WRAPPER, device_tod, "info", ms], capture_output=True, text=True, env=env)
            check(f"kernels: {isa}" in info.stdout, f"{name}: the device runs its {isa} kernels with TOD_ISA={isa}")
        for batch in (1, 3):
            x = torch.randn(batch, *shape)
            with torch.no_grad():
                ref = model(x).numpy()
            host = tod_run([], os.path.join(BUILD, "tod"), ms, x.numpy(), d, f"{name}_b{batch}_x86")
            if host is None:
                continue
            scale = float(np.abs(ref).max())
            check(np.abs(host - ref).max() <= 1e-4 * scale,
                  f"{name} batch {batch}: x86 matches PyTorch within 1e-4 (worst {np.abs(host - ref).max() / scale:.2e})")
            for isa in ("neon", "scalar"):
                dev = tod_run(EXEC_WRAPPER, device_tod, ms, x.numpy(), d, f"{name}_b{batch}_{isa}",
                              dict(os.environ, TOD_ISA=isa))
                if dev is None:
                    continue
                worst = float(np.abs(dev - host).max()) / float(np.abs(host).max())
                check(dev.shape == host.shape and worst <= 1e-5,
                      f"{name} batch {batch}: device ({isa}) matches x86 within 1e-5 (worst {worst:.2e})")
                worst_t = float(np.abs(dev - ref).max()) / scale
                check(worst_t <= 1e-4, f"{name} batch {batch}: device ({isa}) matches PyTorch within 1e-4 "
                      f"(worst {worst_t:.2e})")
    finish()


if __name__ == "__main__":
    main()
