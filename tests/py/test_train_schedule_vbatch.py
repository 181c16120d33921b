"""test_virtual_batch_and_lr_schedules_follow_torch: gradient accumulation over n micro-batches
(`--virtual-batch`) trains like PyTorch on the n-times larger batch, and step, exponential and
cosine learning-rate schedules (`--lr-schedule`, per epoch) follow torch.optim.lr_scheduler's
StepLR, ExponentialLR and CosineAnnealingLR: same losses per step and same trained outputs."""
import math
import os

import numpy as np
import torch
import torch.nn as nn

from todtest import CONVERTER, TOD, check, close, finish, run, tod_run, workdir


def lenet():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def convert(d, opt, lr):
    model = lenet().eval()
    onnx_path = os.path.join(d, "lenet.onnx")
    torch.onnx.export(model, torch.randn(8, 1, 32, 32), onnx_path, opset_version=13, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    cfg = os.path.join(d, "train.cfg")
    with open(cfg, "w") as f:
        f.write(f"[train]\nloss=softmax_cross_entropy\noptimizer={opt}\nlearning_rate={lr}\nmomentum=0.9\n")
    out = os.path.join(d, "lenet_train")
    r = run([CONVERTER, "--fmk=ONNX", f"--modelFile={onnx_path}", f"--outputFile={out}", "--trainModel=true",
             f"--configFile={cfg}"])
    check(r.returncode == 0, f"{os.path.basename(d)}: converts")
    return out + ".ms"


def data(d, n):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((n, 1, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, n).astype(np.int64)
    np.save(os.path.join(d, "x.npy"), x)
    np.save(os.path.join(d, "y.npy"), y)
    return x, y


def virtual_batch():
    d = workdir("train_vbatch")
    ms = convert(d, "sgd", 0.05)
    x, y = data(d, 64)
    trained = os.path.join(d, "trained.ms")
    r = run([TOD, "train", ms, "--input", os.path.join(d, "x.npy"), "--label", os.path.join(d, "y.npy"), "--batch", "4",
             "--virtual-batch", "2", "--epochs", "1", "--no-shuffle", "--save", trained, "--inference-only"])
    check(r.returncode == 0, f"virtual batch: tod train runs {r.stderr.strip()[-200:]}")
    ref = lenet()
    opt = torch.optim.SGD(ref.parameters(), lr=0.05)
    for b in range(8):  # 8 updates of batch 8 = 16 micro-batches of 4
        opt.zero_grad()
        nn.functional.cross_entropy(ref(torch.from_numpy(x[b * 8:(b + 1) * 8])), torch.from_numpy(y[b * 8:(b + 1) * 8])).backward()
        opt.step()
    ref.eval()
    xe = x[:8]
    with torch.no_grad():
        want = ref(torch.from_numpy(xe)).numpy()
    (got,) = tod_run(trained, [xe])
    good, detail = close(got, want, tol=1e-4)
    check(good, f"virtual batch 2 x 4 trains like PyTorch's batch 8: {detail}")


def schedules():
    for spec, make in (("step:1:0.5", lambda o: torch.optim.lr_scheduler.StepLR(o, 1, 0.5)),
                       ("exp:0.7", lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.7)),
                       ("cos:0.001", lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 3, eta_min=0.001))):
        d = workdir("train_sched_" + spec.split(":")[0])
        ms = convert(d, "momentum", 0.02)
        x, y = data(d, 48)
        log = os.path.join(d, "loss.npy")
        r = run([TOD, "train", ms, "--input", os.path.join(d, "x.npy"), "--label", os.path.join(d, "y.npy"), "--batch",
                 "8", "--epochs", "3", "--no-shuffle", "--lr-schedule", spec, "--loss-log", log])
        check(r.returncode == 0, f"schedule {spec}: tod train runs {r.stderr.strip()[-200:]}")
        if r.returncode != 0:
            continue
        ref = lenet()
        opt = torch.optim.SGD(ref.parameters(), lr=0.02, momentum=0.9)
        sched = make(opt)
        losses = []
        for e in range(3):
            for b in range(6):
                opt.zero_grad()
                loss = nn.functional.cross_entropy(ref(torch.from_numpy(x[b * 8:(b + 1) * 8])),
                                                   torch.from_numpy(y[b * 8:(b + 1) * 8]))
                loss.backward()
                opt.step()
                losses.append(loss.item())
            sched.step()
        got = np.load(log)
        rel = float(np.max(np.abs(got - losses) / np.maximum(np.abs(losses), 1e-6)))
        check(len(got) == 18 and rel <= 2e-3, f"schedule {spec}: 18 step losses follow PyTorch (worst relative {rel:.2e})")


def main():
    virtual_batch()
    schedules()
    finish()


if __name__ == "__main__":
    main()
