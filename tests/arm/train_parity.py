"""test_lenet_trains_on_arm_like_x86: LeNet-5 (PyTorch, exported to ONNX) converted to a training
.ms by the build machine's converter_lite, then trained for 20 steps (momentum SGD, batch 8, no
shuffle) by the x86 `tod train` and by the device's `tod train` under qemu-user, from the same
.ms file and the same data. The two per-step loss sequences agree within 1e-4 (relative), and
each follows PyTorch training the same weights on the same batches within 2e-3 (the tolerance
of test_train_vs_torch), so neither build is the other's only reference.

Run by scripts/test_arm.sh with TOD_BUILD (x86 build), TOD_RUNTIME_BUILD (the Arm build) and
TOD_EXEC_WRAPPER (e.g. "qemu-aarch64 -L /usr/aarch64-linux-gnu"); it fails without them."""
import copy
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "py"))
from todtest import BUILD, CONVERTER, EXEC_WRAPPER, RUNTIME_BUILD, check, finish, workdir  # noqa: E402

STEPS, BATCH, LR = 20, 8, 0.01


def lenet():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def train(cmd_prefix, tod, ms, d, tag):
    log = os.path.join(d, f"loss_{tag}.npy")
    r = subprocess.run([*cmd_prefix, tod, "train", ms, "--input", os.path.join(d, "x.npy"), "--label",
                        os.path.join(d, "y.npy"), "--batch", str(BATCH), "--steps", str(STEPS), "--no-shuffle",
                        "--loss-log", log], capture_output=True, text=True)
    check(r.returncode == 0, f"{tag}: tod train runs {r.stderr.strip()[-300:]}")
    return np.load(log) if r.returncode == 0 else None


def main():
    device_tod = os.path.join(RUNTIME_BUILD, "tod")
    check(bool(EXEC_WRAPPER) and RUNTIME_BUILD != BUILD and os.path.exists(device_tod),
          f"a device build and an emulator are given (TOD_RUNTIME_BUILD={RUNTIME_BUILD}, "
          f"TOD_EXEC_WRAPPER={' '.join(EXEC_WRAPPER)})")
    d = workdir("arm_train_parity_" + os.path.basename(RUNTIME_BUILD.rstrip("/")))
    model = lenet()
    ref = copy.deepcopy(model)
    onnx_path = os.path.join(d, "lenet.onnx")
    model.eval()
    torch.onnx.export(model, torch.randn(BATCH, 1, 32, 32), onnx_path, opset_version=13, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                      do_constant_folding=False)
    with open(os.path.join(d, "train.cfg"), "w") as f:
        f.write(f"[train]\nloss=softmax_cross_entropy\noptimizer=momentum\nlearning_rate={LR}\nmomentum=0.9\n")
    out = os.path.join(d, "lenet_train")
    r = subprocess.run([CONVERTER, "--fmk=ONNX", f"--modelFile={onnx_path}", f"--outputFile={out}",
                        "--trainModel=true", f"--configFile={os.path.join(d, 'train.cfg')}"],
                       capture_output=True, text=True)
    check(r.returncode == 0, "x86 converter_lite writes the training .ms")
    if r.returncode != 0:
        finish()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((STEPS * BATCH, 1, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, STEPS * BATCH).astype(np.int64)
    np.save(os.path.join(d, "x.npy"), x)
    np.save(os.path.join(d, "y.npy"), y)
    host = train([], os.path.join(BUILD, "tod"), out + ".ms", d, "x86")
    dev = train(EXEC_WRAPPER, device_tod, out + ".ms", d, "device")

    optim = torch.optim.SGD(ref.parameters(), lr=LR, momentum=0.9)
    ref.train()
    want = []
    for b in range(STEPS):
        optim.zero_grad()
        loss = nn.functional.cross_entropy(ref(torch.from_numpy(x[b * BATCH:(b + 1) * BATCH])),
                                           torch.from_numpy(y[b * BATCH:(b + 1) * BATCH]))
        loss.backward()
        optim.step()
        want.append(loss.item())
    want = np.array(want)
    if host is None or dev is None:
        finish()
    check(len(host) == STEPS and len(dev) == STEPS, f"{STEPS} losses from each build")
    rel = np.abs(dev - host) / np.maximum(np.abs(host), 1e-6)
    check(rel.max() <= 1e-4, f"device losses follow x86 within 1e-4 (worst relative {rel.max():.2e}); "
          f"x86 {host[:3].round(6)}... device {dev[:3].round(6)}... last {host[-1]:.6f} / {dev[-1]:.6f}")
    for tag, got in (("x86", host), ("device", dev)):
        rt = np.abs(got - want) / np.maximum(np.abs(want), 1e-6)
        check(rt.max() <= 2e-3, f"{tag} losses follow PyTorch within 2e-3 (worst relative {rt.max():.2e})")
    finish()


if __name__ == "__main__":
    main()
