"""test_mindspore_training_files_train_like_torch: MindSpore Lite's own training graphs
(lenet_tod.ms: sparse softmax cross-entropy + Adam; lenet_train.ms: L1 loss + Adam) train under
`tod train`. After each of 5 steps the loss and every updated weight match PyTorch running the
same LeNet with the weights, hyper-parameters and data taken from the file (read with flatc, not
with tod's reader), with MindSpore Lite's Adam (ms-training.md §4: beta powers are the constant
products stored in the graph; epsilon is added to sqrt(v) unscaled)."""
import os

import numpy as np
import torch
import torch.nn.functional as F

from todtest import SHARED, TOD, WORK, check, finish, flatc_json, run, workdir

FIX = os.path.join(SHARED, "fixtures", "mindspore")
WEIGHTS = ["conv1.weight", "conv2.weight", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"]


def tensors(js):
    out = {}
    for t in js["allTensors"]:
        if t.get("data"):
            dt = {43: "<f4", 34: "<i4"}.get(t["dataType"])
            if dt:
                out[t["name"]] = np.frombuffer(bytes(t["data"]), dtype=dt).reshape(t.get("dims", []) or [])
    return out


def adam_hyper(js, tens):
    """lr, beta1, beta2, eps, beta1_power, beta2_power as the file's Adam nodes read them."""
    T = js["allTensors"]
    byidx = {i: t for i, t in enumerate(T)}
    nodes = js["nodes"]
    prod = {}
    for n in nodes:
        for o in n["outputIndex"]:
            prod[o] = n

    def value(i):
        t = byidx[i]
        if t.get("data"):
            return float(np.frombuffer(bytes(t["data"]), dtype="<f4")[0])
        n = prod[i]  # beta powers: MulFusion of two constants
        assert n["primitive"]["value_type"] == "MulFusion"
        a, b = n["inputIndex"]
        return value(a) * value(b)

    adam = [n for n in nodes if n["primitive"]["value_type"] == "Adam"][0]
    ii = adam["inputIndex"]
    return dict(b1p=value(ii[3]), b2p=value(ii[4]), lr=value(ii[5]), beta1=value(ii[6]), beta2=value(ii[7]),
                eps=value(ii[8]))


def forward(w, x_nhwc):
    x = torch.from_numpy(x_nhwc.transpose(0, 3, 1, 2).copy())
    h = F.max_pool2d(F.relu(F.conv2d(x, w["conv1.weight"])), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, w["conv2.weight"])), 2)
    h = torch.flatten(h, 1)
    h = F.relu(F.linear(h, w["fc1.weight"], w["fc1.bias"]))
    h = F.relu(F.linear(h, w["fc2.weight"], w["fc2.bias"]))
    return F.linear(h, w["fc3.weight"], w["fc3.bias"])


def to_torch(tens):
    """Weights as PyTorch wants them: conv KHWC -> OIHW."""
    w = {}
    for k in WEIGHTS:
        a = tens[k]
        if k.startswith("conv"):
            a = a.transpose(0, 3, 1, 2)
        w[k] = torch.tensor(a.copy(), dtype=torch.float64, requires_grad=True)
    return w


def case(name, loss_kind, x, y, steps=5):
    d = workdir("train_ms_" + name)
    src = os.path.join(FIX, name + ".ms")
    js, msg = flatc_json(src)
    check(js is not None, f"{name}: flatc decodes the file {msg}")
    tens = tensors(js)
    hp = adam_hyper(js, tens)
    w = to_torch(tens)
    m = {k: torch.zeros_like(v) for k, v in w.items()}
    v2 = {k: torch.zeros_like(v) for k, v in w.items()}
    k_lr = hp["lr"] * np.sqrt(1 - hp["b2p"]) / (1 - hp["b1p"])
    xp, yp = os.path.join(d, "x.npy"), os.path.join(d, "y.npy")
    np.save(xp, x)
    np.save(yp, y)
    model = src
    for step in range(1, steps + 1):
        # reference step (float64), MindSpore Lite's formulas
        logits = forward(w, x.astype(np.float64))
        if loss_kind == "sparse_ce":
            loss = F.cross_entropy(logits, torch.from_numpy(y.astype(np.int64)))
        else:  # L1: mean |logits - labels|
            loss = (logits - torch.from_numpy(y.astype(np.float64))).abs().mean()
        grads = torch.autograd.grad(loss, [w[k] for k in WEIGHTS])
        with torch.no_grad():
            for k, g in zip(WEIGHTS, grads):
                m[k] += (g - m[k]) * (1 - hp["beta1"])
                v2[k] += (g * g - v2[k]) * (1 - hp["beta2"])
                w[k] -= k_lr * m[k] / (v2[k].sqrt() + hp["eps"])
        # tod: one step from the previous step's saved training model
        out = os.path.join(d, f"step{step}.ms")
        log = os.path.join(d, f"loss{step}.npy")
        r = run([TOD, "train", model, "--input", xp, "--label", yp, "--batch", str(x.shape[0]), "--steps", "1",
                 "--no-shuffle", "--save", out, "--loss-log", log])
        if r.returncode != 0:
            check(False, f"{name} step {step}: tod train failed: {r.stderr.strip()}")
            return
        tl = float(np.load(log)[0])
        rl = float(loss)
        check(abs(tl - rl) <= 1e-4 * max(1.0, abs(rl)), f"{name} step {step}: loss {tl:.6f} vs torch {rl:.6f}")
        js2, _ = flatc_json(out)
        t2 = tensors(js2)
        worst = 0.0
        for k in WEIGHTS:
            got = t2[k]
            if k.startswith("conv"):
                got = got.transpose(0, 3, 1, 2)
            ref = w[k].detach().numpy()
            worst = max(worst, float(np.abs(got - ref).max() / max(1e-3, np.abs(ref).max())))
        check(worst <= 1e-4, f"{name} step {step}: every updated weight matches (worst relative error {worst:.2e})")
        model = out


def main():
    x = np.fromfile(os.path.join(FIX, "x_lenet.bin"), dtype="<f4").reshape(32, 32, 32, 1)
    y = np.fromfile(os.path.join(FIX, "y_lenet.bin"), dtype="<f4").reshape(32, 10)
    case("lenet_tod", "sparse_ce", x, y.argmax(1).astype(np.int32))
    case("lenet_train", "l1", x[:2].copy(), y[:2].copy())
    finish()


if __name__ == "__main__":
    main()
