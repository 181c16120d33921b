#!/usr/bin/python3
"""Conversion memory (issue 11): converter_lite holds about one copy of a model's weights.

A PyTorch network of 3x3 convolutions with BatchNorm (exported in training mode so BatchNorm stays
a node and the converter folds it, as it does for torchvision models) and ~16 MB of weights is
converted; the converter's peak RSS, less that of converting LeNet-5 (the process's own size),
must stay within 1.5x the ONNX file's size (before: about 3x: the mapped source, the rewritten
weights and the flatbuffer each held a copy). The result must still be right: flatc decodes it
against MindSpore Lite's schema, and `tod run` matches PyTorch. Peak RSS is not compared under
the sanitizers (it measures their shadow memory).
"""
import os
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from todtest import BUILD, CONVERTER, SOURCE, check, close, finish, flatc_json, tod_run, workdir  # noqa: E402

W = workdir("convert_memory")


# A fork's peak RSS starts at its parent's (this process has imported torch): a small Python
# forks and waits for the converter, and reports the child's peak.
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
    """Runs cmd; returns (exit status, its peak RSS in KB, at least the small Python's)."""
    r = subprocess.run(["/usr/bin/python3", "-S", "-c", MEASURE, *cmd], capture_output=True, text=True)
    rc, kb = r.stdout.split()
    return int(rc), int(kb)


def sanitized():
    try:
        with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
            return "TOD_SANITIZE:BOOL=ON" in f.read()
    except OSError:
        return False


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

out = os.path.join(W, "convbn")
rc, rss = peak_rss_kb([CONVERTER, "--fmk=ONNX", f"--modelFile={onnx_path}", f"--outputFile={out}"])
check(rc == 0, f"converter_lite converts it (exit {rc})")
rc0, rss0 = peak_rss_kb([CONVERTER, "--fmk=ONNX", f"--modelFile={os.path.join(SOURCE, 'models', 'lenet5.onnx')}",
                         f"--outputFile={os.path.join(W, 'lenet5')}"])
check(rc0 == 0, "converter_lite converts LeNet-5 (the baseline)")
if sanitized():
    print("skip peak RSS: sanitizer build")
else:
    extra = (rss - rss0) * 1024
    check(extra <= 1.5 * size,
          f"peak RSS {rss / 1024:.1f} MB, {extra / 1e6:.1f} MB above the baseline's = {extra / size:.2f}x the file "
          f"(<= 1.5x)")

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
finish()
