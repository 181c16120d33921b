"""test_pointwise_dw_fold: a 1x1 convolution read only by a 3x3 depthwise convolution
(mobilenet_v2's expansion) is folded into it at load (runtime/fuse_pointwise_dw.c: the
depthwise kernel computes the expanded rows itself, the expanded tensor is never stored).
Small inverted-residual nets exported by PyTorch (eval mode, random BatchNorm statistics) run
with `tod run` to PyTorch's numbers within 1e-4 * max(1, max|y|), on 1 and 2 threads, at
batch 1 and 3 (a resize), over strides 1 and 2, padded and unpadded windows, odd sizes,
channel counts off the vector width, expansions with RELU6, RELU and no activation; the
profile of `benchmark --timeProfiling` shows the foldable 1x1 nodes gone, and still running:
an expansion that another node also reads, and one on a map under 14x14 pixels (not worth
folding)."""
import os
import re

import numpy as np
import torch
import torch.nn as nn

from todtest import BENCHMARK, check, close, convert, finish, run, tod_run, workdir

torch.manual_seed(0)


def block(cin, cexp, cout, stride, pad, act):
    return nn.Sequential(
        nn.Conv2d(cin, cexp, 1, bias=False), nn.BatchNorm2d(cexp), *([act()] if act else []),
        nn.Conv2d(cexp, cexp, 3, stride, pad, groups=cexp, bias=False), nn.BatchNorm2d(cexp),
        nn.ReLU6(),
        nn.Conv2d(cexp, cout, 1, bias=False), nn.BatchNorm2d(cout))


class Net(nn.Module):
    """Five foldable expansions, one on an 8x8 map, then one whose output a second branch also
    reads."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, 2, 1)
        self.b1 = block(16, 96, 24, 2, 1, nn.ReLU6)  # stride 2, padded, 96 = 6 vectors
        self.b2 = block(24, 20, 24, 1, 1, nn.ReLU)   # stride 1, 20 channels: a vector tail
        self.b3 = block(24, 40, 32, 2, 0, None)      # stride 2, unpadded, no activation
        self.b4 = block(32, 144, 32, 1, 1, nn.ReLU6)
        self.b5 = block(32, 64, 32, 2, 1, nn.ReLU6)
        self.b6 = block(32, 64, 32, 1, 1, nn.ReLU6)  # 8x8: left unfolded
        self.e5 = nn.Conv2d(32, 48, 1)
        self.d5 = nn.Conv2d(48, 48, 3, 1, 1, groups=48)
        self.side = nn.Conv2d(48, 48, 1)

    def forward(self, x):
        x = torch.relu(self.stem(x))
        x = self.b1(x)
        x = x + self.b2(x)
        x = self.b3(x)
        x = x + self.b4(x)
        x = self.b5(x)
        x = x + self.b6(x)
        e = torch.clamp(self.e5(x), 0, 6)
        return self.d5(e) + self.side(e)  # e has two readers: not folded


CONVS_PER_RUN = 1 + 6 * 3 + 3  # Conv nodes in the graph
FOLDED = 5
SHAPE = (3, 130, 122)  # stem 65x61, b1 33x31, b3 16x15, b5 8x8


def main():
    d = workdir("pointwise_dw_fold")
    model = Net().eval()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.3, 0.3)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.3, 0.3)
    onnx_path = os.path.join(d, "net.onnx")
    torch.onnx.export(model, torch.randn(1, *SHAPE), onnx_path, opset_version=13,
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
    base = os.path.join(d, "net")
    rc, lines, err = convert(onnx_path, base)
    check(rc == 0, f"converts ({lines[-1] if lines else err.strip()})")
    if rc != 0:
        finish()
        return
    ms = base + ".ms"
    for batch in (1, 3):
        x = torch.randn(batch, *SHAPE)
        with torch.no_grad():
            ref = model(x).numpy()
        for threads in (1, 2):
            y = tod_run(ms, [x.numpy()], threads=threads)[0]
            ok, msg = close(y, ref)
            check(ok, f"batch {batch}, {threads} thread(s): matches PyTorch ({msg})")

    in_bin = base + ".input.bin"
    torch.randn(1, *SHAPE).numpy().astype("<f4").tofile(in_bin)
    r = run([BENCHMARK, f"--modelFile={ms}", f"--inDataFile={in_bin}", "--loopCount=3",
             "--warmUpLoopCount=1", "--numThreads=2", "--timeProfiling=true"])
    m = re.search(r"^Conv2DFusion\s+[\d.]+\s+[\d.]+%\s+(\d+)", r.stdout, re.M)
    runs = 3
    want = (CONVS_PER_RUN - FOLDED) * runs
    check(r.returncode == 0 and m is not None and int(m.group(1)) == want,
          f"the {FOLDED} foldable expansions do not run as nodes: {m.group(1) if m else '?'} "
          f"convolution calls in {runs} runs, {want} expected")
    nodes = re.findall(r"^(\S+)\s+[\d.]+\s+[\d.]+%\s+\d+\s+[\d.]+$", r.stdout, re.M)
    check(any("e5" in n for n in nodes), "the expansion read by two nodes still runs as a node")
    check(any("/b6/b6.0/" in n for n in nodes), "the expansion on an 8x8 map still runs as a node")
    finish()


if __name__ == "__main__":
    main()
