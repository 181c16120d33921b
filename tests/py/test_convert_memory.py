#!/usr/bin/python3
"""Conversion memory (issue 11): converter_lite holds about one copy of a model's weights.

The whole converter process's peak RSS, measured with GNU time (`/usr/bin/time -f %M`, as
bench/bench_models.py does), must stay within 1.3x the ONNX file for torchvision's resnet18 and
mobilenet_v2 (weights=None, opset 13, exported as the benchmark does; issue 11 targets 1.2x).
Before: the mapped source, the rewritten weights and the flatbuffer each held a copy (about 3x).
A network of 3x3 convolutions with BatchNorm kept as nodes (training-mode export, so the converter
folds it) checks the folding path, and its training conversion (momentum: an optimizer state as
large as the weights, all zeros) the training path; those two are held net of converting LeNet-5
(the process's own size), within 1.3x too (before: 1.3x and 2.4x). Each result must still be
right: `tod run` matches PyTorch, flatc decodes the folded model against MindSpore Lite's schema,
and three training steps follow PyTorch's losses. Peak RSS is not compared under the sanitizers
(it measures their shadow memory).
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torchvision

sys.path.insert(0, os.path.dirname(__file__))
from todtest import BUILD, CONVERTER, SOURCE, TOD, check, close, finish, flatc_json, tod_run, workdir  # noqa: E402

W = workdir("convert_memory")


# A fork's peak RSS starts at its parent's (this process has imported torch): GNU time, a small
# C process, is exec'd and forks the converter; without it a small Python does the same.
MEASURE = """import os, sys
pid = os.fork()
if pid == 0:
    fd = os.open(os.devnull, os.O_WRONLY)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.execv(sys.argv[1], sys.argv[1:])
_, status, ru = os.wait4(pid, 0)
print(os.waitstatus_to_exitcode(status), ru.ru_maxrss)
"""


def peak_rss_kb(cmd):
    """Runs cmd; returns (exit status, its whole process's peak RSS in KB)."""
    if os.path.exists("/usr/bin/time"):
        with tempfile.NamedTemporaryFile("r", dir=W, suffix=".rss") as f:
            r = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", f.name, *cmd], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            return r.returncode, int(f.read().split()[-1])
    r = subprocess.run(["/usr/bin/python3", "-S", "-c", MEASURE, *cmd], capture_output=True, text=True)
    rc, kb = r.stdout.split()
    return int(rc), int(kb)


def sanitized():
    try:
        with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
            return "TOD_SANITIZE:BOOL=ON" in f.read()
    except OSError:
        return False


def converts_within(name, onnx_path, bound, extra=(), baseline_kb=0):
    """Converts onnx_path; checks the peak RSS (less baseline_kb) <= bound x the file."""
    size = os.path.getsize(onnx_path)
    out = os.path.join(W, name)
    rc, kb = peak_rss_kb([CONVERTER, "--fmk=ONNX", f"--modelFile={onnx_path}", f"--outputFile={out}", *extra])
    check(rc == 0, f"{name}: converter_lite converts it (exit {rc})")
    if sanitized():
        print(f"skip {name} peak RSS: sanitizer build")
    else:
        ratio = (kb - baseline_kb) * 1024 / size
        what = "whole process" if not baseline_kb else f"{(kb - baseline_kb) / 1024:.1f} MB above LeNet-5's"
        check(ratio <= bound, f"{name}: peak RSS {kb / 1024:.1f} MB ({what}) = {ratio:.2f}x the {size / 1e6:.1f} MB "
                              f"file (<= {bound}x)")
    return out + ".ms"


# torchvision's networks as the benchmark exports them (BatchNorm folded by the exporter).
for name, make in (("resnet18", torchvision.models.resnet18), ("mobilenet_v2", torchvision.models.mobilenet_v2)):
    torch.manual_seed(0)
    net = make(weights=None).eval()
    xi = torch.randn(1, 3, 224, 224)
    path = os.path.join(W, name + ".onnx")
    torch.onnx.export(net, xi, path, opset_version=13, input_names=["input"], output_names=["output"])
    ms = converts_within(name, path, 1.3)
    with torch.no_grad():
        ref = net(xi).numpy()
    ok, msg = close(tod_run(ms, [xi.numpy()])[0], ref)
    check(ok, f"{name}: tod run of the converted model matches PyTorch: {msg}")

torch.manual_seed(0)
layers = []
for cin, cout in ((3, 64), (64, 128), (128, 256), (256, 512), (512, 512)):
    bn = torch.nn.BatchNorm2d(cout)
    with torch.no_grad():  # statistics and affine parameters that make folding matter
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.2, 0.2)
    layers += [torch.nn.Conv2d(cin, cout, 3, padding=1), bn, torch.nn.ReLU()]
model = torch.nn.Sequential(*layers, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                            torch.nn.Linear(512, 10)).eval()
x = torch.randn(1, 3, 16, 16)
onnx_path = os.path.join(W, "convbn.onnx")
torch.onnx.export(model, x, onnx_path, opset_version=13, input_names=["input"], output_names=["logits"],
                  training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
size = os.path.getsize(onnx_path)
check(size > 14e6, f"the model holds {size / 1e6:.1f} MB of ONNX")

rc0, rss0 = peak_rss_kb([CONVERTER, "--fmk=ONNX", f"--modelFile={os.path.join(SOURCE, 'models', 'lenet5.onnx')}",
                         f"--outputFile={os.path.join(W, 'lenet5')}"])
check(rc0 == 0, "converter_lite converts LeNet-5 (the baseline)")
out = os.path.join(W, "convbn")
converts_within("convbn", onnx_path, 1.3, baseline_kb=rss0)

doc, err = flatc_json(out + ".ms")
check(doc is not None, "flatc decodes the .ms against MindSpore Lite's schema " + err.strip()[:200])
if doc is not None:
    weights = sum(len(t.get("data", [])) for t in doc["allTensors"])
    n_params = sum(p.numel() for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))
                   for p in m.parameters())
    check(weights >= 4 * n_params, f"the .ms holds {weights} weight bytes for {n_params} conv/linear parameters")
with torch.no_grad():
    ref = model(x).numpy()
y = tod_run(out + ".ms", [x.numpy()])[0]
ok, msg = close(y, ref)
check(ok, "tod run of the converted model matches PyTorch: " + msg)

# Training conversion: BatchNorm stays, and momentum adds a zero state the size of the weights
# (the .ms holds the weights twice), which is never resident before it is written.
cfg = os.path.join(W, "train.cfg")
with open(cfg, "w") as f:
    f.write("[train]\nloss=softmax_cross_entropy\noptimizer=momentum\nlearning_rate=0.01\nmomentum=0.9\n")
train_ms = converts_within("convbn_train", onnx_path, 1.3, ("--trainModel=true", f"--configFile={cfg}"), rss0)
# Still right: three momentum steps (batch 1, as exported) follow PyTorch's losses (a non-zero initial state would not).
rng = np.random.default_rng(0)
xs = rng.standard_normal((3, 1, 3, 16, 16)).astype(np.float32)
ys = rng.integers(0, 10, (3, 1)).astype(np.int64)
np.save(os.path.join(W, "x.npy"), xs.reshape(3, 3, 16, 16))
np.save(os.path.join(W, "y.npy"), ys.reshape(3))
log = os.path.join(W, "loss.npy")
r = subprocess.run([TOD, "train", train_ms, "--input", os.path.join(W, "x.npy"), "--label", os.path.join(W, "y.npy"),
                    "--batch", "1", "--steps", "3", "--no-shuffle", "--loss-log", log], capture_output=True, text=True)
check(r.returncode == 0, "tod train runs the training conversion " + r.stderr.strip()[-300:])
if r.returncode == 0:
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    ref_losses = []
    for b in range(3):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(xs[b])), torch.from_numpy(ys[b]))
        loss.backward()
        opt.step()
        ref_losses.append(loss.item())
    got = np.load(log)
    rel = np.abs(got - np.array(ref_losses)) / np.maximum(np.abs(ref_losses), 1e-6)
    check(len(got) == 3 and rel.max() <= 2e-2,
          f"three momentum steps follow PyTorch's losses (worst relative {rel.max():.2e}): tod {got.round(5)}, "
          f"torch {np.round(ref_losses, 5)}")
finish()
