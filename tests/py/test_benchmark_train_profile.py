"""test_benchmark_train_profile: `benchmark_train --timeProfiling` prints MindSpore Lite's
per-node and per-operator-type tables over the timed steps, and the counts in them follow the
PyTorch model the training file came from: per step one Conv2DFusion, one filter gradient and
(past the first layer) one input gradient per nn.Conv2d, one ApplyMomentum per parameter
tensor. In a Conv-BatchNorm-ReLU6 model the ReLU6 runs inside the BatchNorm (training
sessions fold it): no Activation node is timed, while its ActivationGrad still is."""
import os
import re

import torch
import torch.nn as nn

from todtest import BENCHMARK_TRAIN, check, convert, finish, run, workdir

RESULT = re.compile(r"Model = (\S+), NumThreads = (\d+), MinStepTime = ([\d.]+) ms, .*MedianStepTime = "
                    r"([\d.]+) ms, PeakRSS = ([\d.]+) MB")
EPOCHS = 3


def op_calls(stdout):
    """opType table -> {op: calledTimes}."""
    text = stdout.split("opType", 1)[1] if "opType" in stdout else ""
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r"^(\w+)\s+[\d.]+\s+[\d.]+%\s+(\d+)\s+[\d.]+$", text, re.M)}


def profile(name, model, shape):
    d = workdir("benchmark_train_profile")
    onnx_path = os.path.join(d, name + ".onnx")
    model.eval()
    torch.onnx.export(model, torch.randn(4, *shape), onnx_path, opset_version=13, input_names=["input"],
                      output_names=["logits"], training=torch.onnx.TrainingMode.PRESERVE,
                      do_constant_folding=False)
    cfg = os.path.join(d, "train.cfg")
    with open(cfg, "w") as f:
        f.write("[train]\nloss=softmax_cross_entropy\noptimizer=momentum\nlearning_rate=0.01\nmomentum=0.9\n")
    base = os.path.join(d, name + "_train")
    rc, lines, err = convert(onnx_path, base, "--trainModel=true", f"--configFile={cfg}")
    check(rc == 0, f"{name}: converts for training ({lines[-1] if lines else err.strip()[-200:]})")
    r = run([BENCHMARK_TRAIN, f"--modelFile={base}.ms", f"--epochs={EPOCHS}", "--warmUpLoopCount=1",
             "--numThreads=2", "--timeProfiling"])
    m = RESULT.search(r.stdout)
    check(r.returncode == 0 and m is not None and m.group(2) == "2",
          f"{name}: benchmark_train result line (rc {r.returncode}) {r.stderr.strip()[-200:]}")
    check(re.search(r"^opName\s+avg\(ms\)\s+percent\s+calledTimes\s+opTotalTime", r.stdout, re.M) is not None
          and re.search(r"^opType\s+avg\(ms\)\s+percent\s+calledTimes\s+opTotalTime", r.stdout, re.M) is not None,
          f"{name}: --timeProfiling prints the per-node and per-op-type tables")
    return op_calls(r.stdout)


def main():
    torch.manual_seed(0)
    lenet = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84),
                          nn.ReLU(), nn.Linear(84, 10))
    convs = sum(isinstance(m, nn.Conv2d) for m in lenet.modules())
    params = len(list(lenet.parameters()))
    calls = profile("lenet5", lenet, (1, 28, 28))
    check(calls.get("Conv2DFusion") == convs * EPOCHS and calls.get("Conv2DBackpropFilterFusion") == convs * EPOCHS
          and calls.get("Conv2DBackpropInputFusion") == (convs - 1) * EPOCHS,
          f"lenet5: one forward, filter and input gradient per convolution and step {calls}")
    check(calls.get("ApplyMomentum") == params * EPOCHS, f"lenet5: one optimizer update per parameter and step")

    block = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU6(),
                          nn.Conv2d(8, 8, 3, 1, 1, groups=8, bias=False), nn.BatchNorm2d(8), nn.ReLU6(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))
    relu6 = sum(isinstance(m, nn.ReLU6) for m in block.modules())
    calls = profile("conv_bn_relu6", block, (3, 16, 16))
    check("Activation" not in calls and calls.get("FusedBatchNorm") == relu6 * EPOCHS
          and calls.get("ActivationGrad") == relu6 * EPOCHS,
          f"conv_bn_relu6: ReLU6 folded into the training BatchNorm, its gradient still run {calls}")
    finish()


if __name__ == "__main__":
    main()
