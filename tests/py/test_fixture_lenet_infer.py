"""test_mindspore_lenet_infer_matches_torch: `tod run` on MindSpore Lite's own
lenet_tod_infer.ms (written by MindSpore Lite 1.5.0) matches the same LeNet built in PyTorch
from the weights in the file. The weights are read with flatc and the published schema, not
with tod's reader, so the reference is independent of the code under test."""
import os

import numpy as np
import torch
import torch.nn.functional as F

from todtest import SHARED, TOD, check, close, finish, flatc_json, run, tod_run

FIX = os.path.join(SHARED, "fixtures", "mindspore")


def weights(js):
    out = {}
    for t in js["allTensors"]:
        if t.get("data") and t["dataType"] == 43:
            out[t["name"]] = np.frombuffer(bytes(t["data"]), dtype="<f4").reshape(t["dims"])
    return out


def main():
    ms = os.path.join(FIX, "lenet_tod_infer.ms")
    js, msg = flatc_json(ms)
    check(js is not None, "flatc decodes lenet_tod_infer.ms " + msg)
    w = weights(js)
    # Conv weights are KHWC [O, kh, kw, I] in the file; PyTorch wants [O, I, kh, kw].
    c1 = torch.from_numpy(w["conv1.weight"].transpose(0, 3, 1, 2).copy())
    c2 = torch.from_numpy(w["conv2.weight"].transpose(0, 3, 1, 2).copy())
    fc = [(torch.from_numpy(w[f"fc{i}.weight"].copy()), torch.from_numpy(w[f"fc{i}.bias"].copy())) for i in (1, 2, 3)]

    x_all = np.fromfile(os.path.join(FIX, "x_lenet.bin"), dtype="<f4").reshape(32, 32, 32, 1)
    for first in (0, 10, 30):
        x = x_all[first:first + 2]  # the file's Reshape constant is (2, -1): batch 2
        xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
        with torch.no_grad():
            h = F.max_pool2d(F.relu(F.conv2d(xt, c1)), 2)
            h = F.max_pool2d(F.relu(F.conv2d(h, c2)), 2)
            h = torch.flatten(h, 1)  # NCHW order: the file transposes NHWC->NCHW before its Reshape
            h = F.relu(F.linear(h, *fc[0]))
            h = F.relu(F.linear(h, *fc[1]))
            ref = F.linear(h, *fc[2]).numpy()
        try:
            (y,) = tod_run(ms, [x])
        except RuntimeError as e:
            check(False, f"images {first}..{first + 1}: {e}")
            continue
        good, detail = close(y, ref)
        check(good, f"images {first}..{first + 1}: tod matches the PyTorch LeNet, {detail}")
    info = run([TOD, "info", ms])
    check(info.returncode == 0 and "Conv2DFusion" in info.stdout and "MatMulFusion" in info.stdout,
          "tod info lists the operators of lenet_tod_infer.ms")
    finish()


if __name__ == "__main__":
    main()
