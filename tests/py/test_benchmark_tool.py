"""test_benchmark_tool: the `benchmark` tool speaks MindSpore Lite's language. Its result line,
--timeProfiling's per-op tables, and --benchmarkDataFile + --accuracyThreshold against outputs
PyTorch computed (MindSpore Lite's calibration text format: `NAME NDIM DIMS...` then the values),
on a small residual network (Winograd 3x3 convolutions, a residual Add folded into its
convolution) and on every model of the inference tests (test_models_vs_torch: LeNet-5 with flatten
and with a view chain, mobilenet_v2, resnet18, squeezenet1_1, shufflenet_v2_x1_0, a layout-operator
network). A reference the outputs do not match makes it exit
non-zero."""
import os
import re

import numpy as np
import torch
import torch.nn as nn

from todtest import BUILD, check, convert, finish, run, workdir
from test_models_vs_torch import MODELS as INFERENCE_TEST_MODELS

BENCHMARK = os.path.join(BUILD, "benchmark")
RESULT = re.compile(r"Model = (\S+), NumThreads = (\d+), MinRunTime = ([\d.]+) ms, MaxRuntime = ([\d.]+) ms, "
                    r"AvgRunTime = ([\d.]+) ms")
BIAS = re.compile(r"Mean bias of all nodes/tensors: ([-\d.e+]+)%")

torch.manual_seed(0)


class ResidualNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, padding=1)
        self.c1 = nn.Conv2d(16, 16, 3, padding=1)
        self.b1 = nn.BatchNorm2d(16)
        self.c2 = nn.Conv2d(16, 16, 3, padding=1)
        self.b2 = nn.BatchNorm2d(16)
        self.head = nn.Linear(16, 10)

    def forward(self, x):
        x = torch.relu(self.stem(x))
        y = torch.relu(self.b1(self.c1(x)))
        y = torch.relu(self.b2(self.c2(y)) + x)
        return self.head(y.mean((2, 3)))


def write_calibration(path, name, y):
    with open(path, "w") as f:
        f.write(f"{name} {y.ndim} {' '.join(str(d) for d in y.shape)}\n")
        f.write(" ".join(f"{v:.9g}" for v in y.reshape(-1)) + "\n")


def main():
    d = workdir("benchmark_tool")
    models = [("residual", ResidualNet, (1, 3, 20, 20), False)] + list(INFERENCE_TEST_MODELS)
    for name, make, shape, dynamic in models:
        model = make().eval()
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
        onnx_path = os.path.join(d, name + ".onnx")
        x = torch.randn(*shape)
        torch.onnx.export(model, x, onnx_path, opset_version=13, input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "N"}, "output": {0: "N"}} if dynamic else None)
        base = os.path.join(d, name)
        rc, lines, err = convert(onnx_path, base)
        check(rc == 0, f"{name}: converts ({lines[-1] if lines else err.strip()})")
        if rc != 0:
            continue
        ms = base + ".ms"
        in_bin = base + ".input.bin"
        x.numpy().astype("<f4").tofile(in_bin)
        with torch.no_grad():
            y = model(x).numpy()
        ref = base + ".ref.out"
        write_calibration(ref, "output", y)

        r = run([BENCHMARK, f"--modelFile={ms}", f"--inDataFile={in_bin}", f"--benchmarkDataFile={ref}",
                 "--accuracyThreshold=0.5", "--loopCount=2", "--warmUpLoopCount=1", "--numThreads=2",
                 "--timeProfiling=true"])
        m = RESULT.search(r.stdout)
        check(r.returncode == 0 and m is not None and m.group(1) == ms and m.group(2) == "2",
              f"{name}: result line in MindSpore Lite's form (rc {r.returncode}) {r.stderr.strip()[-200:]}")
        check(re.search(r"^opType\s+avg\(ms\)\s+percent\s+calledTimes\s+opTotalTime", r.stdout, re.M) is not None
              and re.search(r"^Conv2DFusion\s+[\d.]+\s+[\d.]+%\s+\d+", r.stdout, re.M) is not None,
              f"{name}: --timeProfiling prints the per-op-type table")
        b = BIAS.search(r.stdout)
        check(b is not None and float(b.group(1)) <= 0.5,
              f"{name}: outputs match PyTorch's (mean bias {b.group(1) if b else '?'}%)")
        check("PeakRSS" in r.stdout, f"{name}: prints the peak RSS")
        if name in ("residual", "resnet18"):
            # resnet's residual Adds (and the small net's) run inside their convolutions' stores
            check(re.search(r"^AddFusion\s", r.stdout, re.M) is None,
                  f"{name}: residual Adds are folded into their convolutions")

        # A reference 5% off in every value is far above a 0.5% threshold: non-zero exit.
        bad = base + ".bad.out"
        write_calibration(bad, "output", y * 1.05 + 0.01)
        r = run([BENCHMARK, f"--modelFile={ms}", f"--inDataFile={in_bin}", f"--benchmarkDataFile={bad}",
                 "--accuracyThreshold=0.5", "--loopCount=1", "--warmUpLoopCount=0"])
        b = BIAS.search(r.stdout)
        check(r.returncode != 0 and b is not None and float(b.group(1)) > 0.5,
              f"{name}: a wrong reference fails (rc {r.returncode}, bias {b.group(1) if b else '?'}%)")
        # The same reference passes when the threshold allows it.
        r = run([BENCHMARK, f"--modelFile={ms}", f"--inDataFile={in_bin}", f"--benchmarkDataFile={bad}",
                 "--accuracyThreshold=1000", "--loopCount=1", "--warmUpLoopCount=0"])
        check(r.returncode == 0, f"{name}: --accuracyThreshold is honoured")

    # Malformed uses exit non-zero with a message.
    ms = os.path.join(d, "residual.ms")
    for args, what in ((["--benchmarkDataFile=" + os.path.join(d, "missing.out")], "a missing reference file"),
                       (["--noSuchFlag=1"], "an unknown flag"),
                       (["--inDataFile=" + os.path.join(d, "missing.bin")], "a missing input file")):
        r = run([BENCHMARK, f"--modelFile={ms}", "--loopCount=1", *args])
        check(r.returncode != 0 and r.stderr.strip() != "", f"rejects {what}")
    short = os.path.join(d, "short.out")
    with open(short, "w") as f:
        f.write("output 2 1 10\n1 2 3\n")
    r = run([BENCHMARK, f"--modelFile={ms}", "--loopCount=1", f"--benchmarkDataFile={short}"])
    check(r.returncode != 0, "rejects a reference with too few values")
    finish()


if __name__ == "__main__":
    main()
