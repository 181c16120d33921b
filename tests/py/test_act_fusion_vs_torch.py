"""test_act_fusion_vs_torch: EfficientNet / MobileNetV3 activations. The converter writes
x * Sigmoid(x) (SiLU as ONNX exports it) as one Activation SWISH and x * HardSigmoid(x) as
HSWISH (src/ir/fuse_act.c), leaves convolutions' activation_type at NONE / RELU / RELU6 (all
MindSpore Lite's convolutions apply; flatc decodes the file), and the runtime folds each
parameterless Activation into the convolution that alone produces its input
(runtime/fuse_residual.c), and an expansion's through into the depthwise convolution
(runtime/fuse_pointwise_dw.c), and an SE block's channel-scale Mul into the 1x1 projection
that reads it (runtime/fuse_channel_scale.c, batch 1): the profile shows only the Activations
and Muls that cannot fold. A
small SE/SiLU/hard-swish net (opset 13 and 14, where HardSwish is one node) runs with `tod run`
to PyTorch's numbers within 1e-5 * max(1, max|y|), on 1 and 2 threads, at batch 1 and 2, at
every ISA level (TOD_ISA=scalar, avx2, and the machine's); the vectorised sigmoid, swish,
hard-sigmoid and hard-swish hold to PyTorch's elementwise within 1e-6 relative (1e-30
absolute) over [-30, 30] and extremes; efficientnet_b0 and mobilenet_v3_small (torchvision,
random weights and BatchNorm statistics) within 1e-4 * max(1, max|y|)."""
import os
import re

import numpy as np
import torch
import torch.nn as nn
import torchvision

from todtest import BENCHMARK, check, close, convert, finish, flatc_json, run, selected, tod_run, workdir
from test_models_vs_torch import randomize_batchnorm

torch.manual_seed(0)
np.random.seed(0)


def cbn(cin, cout, k, s=1, g=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, k // 2, groups=g, bias=False), nn.BatchNorm2d(cout))


class SE(nn.Module):
    def __init__(self, c, r, act, gate):
        super().__init__()
        self.fc1, self.fc2, self.act, self.gate = nn.Conv2d(c, r, 1), nn.Conv2d(r, c, 1), act(), gate()

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)
        return x * self.gate(self.fc2(self.act(self.fc1(s))))


class Net(nn.Module):
    """EfficientNet's MBConv (1x1 + SiLU -> 3x3 depthwise + SiLU -> SE(SiLU, Sigmoid) -> 1x1),
    MobileNetV3's (hard-swish, SE(ReLU, Hardsigmoid)), and gates that must not fuse: a
    sigmoid with a second reader, x * sigmoid(z) of another tensor; a SiLU after an Add (no
    convolution to fold into)."""

    def __init__(self):
        super().__init__()
        self.stem = cbn(3, 16, 3, 2)                         # + SiLU: folds into the stem
        self.e1, self.d1 = cbn(16, 40, 1), cbn(40, 40, 3, 1, 40)  # SiLU, SiLU: expansion folds into d1
        self.se1, self.p1 = SE(40, 8, nn.SiLU, nn.Sigmoid), cbn(40, 16, 1)
        self.e2, self.d2 = cbn(16, 36, 1), cbn(36, 36, 3, 2, 36)  # hard-swish
        self.se2, self.p2 = SE(36, 12, nn.ReLU, nn.Hardsigmoid), cbn(36, 24, 1)
        self.c3, self.c4 = nn.Conv2d(24, 24, 1), nn.Conv2d(24, 24, 1)

    def forward(self, x):
        silu, hsw = nn.functional.silu, nn.functional.hardswish
        x = silu(self.stem(x))
        x = x + self.p1(self.se1(silu(self.d1(silu(self.e1(x))))))
        x = self.p2(self.se2(hsw(self.d2(hsw(self.e2(x))))))
        y = self.c3(x)
        s = torch.sigmoid(y)
        y = y * s + s                      # the sigmoid has two readers: stays
        z = self.c4(x)
        y = y * torch.sigmoid(z)           # gate of another tensor: stays
        return silu(y + x)                 # SiLU after an Add: a SWISH node of its own


# Activations that still run as nodes: sigmoid(y) (c3's output has two readers) and the SiLU
# after the Add. The SE gates and sigmoid(z) follow a convolution read by nothing else: folded.
UNFOLDED_ACTIVATIONS = 2
SWISH_NODES = 5   # stem, e1, d1, se1's SiLU, the final one
HSWISH_NODES = 2  # e2, d2
SHAPE = (3, 62, 58)


def act_counts(js):
    counts = {}
    bad_conv = []
    for n in js["nodes"]:
        prim = n.get("primitive", {})
        v = prim.get("value", {})
        if prim.get("value_type") == "Activation":
            counts[v.get("activation_type")] = counts.get(v.get("activation_type"), 0) + 1
        if prim.get("value_type") == "Conv2DFusion" and v.get("activation_type") not in ("NO_ACTIVATION", "RELU", "RELU6"):
            bad_conv.append(n.get("name"))
    muls = sum(1 for n in js["nodes"] if n.get("primitive", {}).get("value_type") == "MulFusion")
    return counts, bad_conv, muls


def check_small_net(d, opset):
    model = Net().eval()
    randomize_batchnorm(model)
    onnx_path = os.path.join(d, f"net{opset}.onnx")
    torch.onnx.export(model, torch.randn(1, *SHAPE), onnx_path, opset_version=opset,
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
    base = os.path.join(d, f"net{opset}")
    rc, lines, err = convert(onnx_path, base)
    check(rc == 0, f"opset {opset}: converts ({lines[-1] if lines else err.strip()})")
    if rc != 0:
        return
    ms = base + ".ms"
    js, msg = flatc_json(ms)
    check(js is not None, f"opset {opset}: flatc decodes the .ms {msg.strip()}")
    if js is not None:
        counts, bad_conv, muls = act_counts(js)
        check(counts.get("SWISH") == SWISH_NODES and counts.get("HSWISH") == HSWISH_NODES,
              f"opset {opset}: SiLU and hard-swish are single Activation nodes ({counts})")
        check(counts.get("SIGMOID") == 3 and counts.get("HSIGMOID") == 1,
              f"opset {opset}: the SE gates and the unfusable sigmoids stay ({counts})")
        check(not bad_conv, f"opset {opset}: convolutions carry only NONE/RELU/RELU6 ({bad_conv})")
        check(muls == 4, f"opset {opset}: MulFusion nodes: 2 SE, y * s, y * sigmoid(z) ({muls})")
    for isa in ("scalar", "avx2", None):
        if isa:
            os.environ["TOD_ISA"] = isa
        else:
            os.environ.pop("TOD_ISA", None)
        for batch in (1, 2):
            x = torch.randn(batch, *SHAPE)
            with torch.no_grad():
                ref = model(x).numpy()
            for threads in (1, 2):
                y = tod_run(ms, [x.numpy()], threads=threads)[0]
                ok, msg = close(y, ref, 1e-5)
                check(ok, f"opset {opset}, ISA {isa or 'default'}, batch {batch}, {threads} thread(s): "
                          f"matches PyTorch ({msg})")
    os.environ.pop("TOD_ISA", None)
    if opset != 13:
        return
    in_bin = base + ".input.bin"
    torch.randn(1, *SHAPE).numpy().astype("<f4").tofile(in_bin)
    r = run([BENCHMARK, f"--modelFile={ms}", f"--inDataFile={in_bin}", "--loopCount=2",
             "--warmUpLoopCount=1", "--numThreads=2", "--timeProfiling=true"])
    m = re.search(r"^Activation\s+[\d.]+\s+[\d.]+%\s+(\d+)", r.stdout, re.M)
    got = int(m.group(1)) if m else 0
    check(r.returncode == 0 and got == 2 * UNFOLDED_ACTIVATIONS,
          f"Activations after a lone convolution run inside it: {got} Activation calls in 2 runs, "
          f"{2 * UNFOLDED_ACTIVATIONS} expected")
    nodes = re.findall(r"^(\S+)\s+[\d.]+\s+[\d.]+%\s+\d+\s+[\d.]+$", r.stdout, re.M)
    check(not any("/e1/" in n for n in nodes), "the SiLU expansion folds into the depthwise convolution")
    m = re.search(r"^MulFusion\s+[\d.]+\s+[\d.]+%\s+(\d+)", r.stdout, re.M)
    got = int(m.group(1)) if m else 0
    check(got == 2 * 2 and not any("/se1/" in n and "Mul" in n for n in nodes),
          f"the SE blocks' Muls run inside the projections: {got} MulFusion calls in 2 runs, 4 expected")


class Elementwise(nn.Module):
    def forward(self, x):
        return (torch.sigmoid(x), nn.functional.silu(x), nn.functional.hardsigmoid(x),
                nn.functional.hardswish(x))


def check_elementwise(d):
    path = os.path.join(d, "elementwise.onnx")
    x = np.concatenate([np.linspace(-30, 30, 60001, dtype=np.float32),
                        np.array([0, -0.0, 1e-30, -1e-30, 87.5, -87.5, 88.5, -88.5, 100, -100, 1e4,
                                  -1e4, 1e30, -1e30, 2.9999998, -2.9999998, 3, -3], np.float32)])
    x = np.pad(x, (0, 16 * 41 * 93 - x.size)).reshape(1, 16, 41, 93)  # odd tails, > 1 chunk
    torch.onnx.export(Elementwise().eval(), torch.from_numpy(x), path, opset_version=13,
                      input_names=["x"], output_names=["sig", "silu", "hsig", "hswish"])
    base = os.path.join(d, "elementwise")
    rc, lines, err = convert(path, base)
    check(rc == 0, f"elementwise: converts ({lines[-1] if lines else err.strip()})")
    if rc != 0:
        return
    with torch.no_grad():
        refs = [t.numpy() for t in Elementwise()(torch.from_numpy(x))]
    names = ["sigmoid", "silu", "hardsigmoid", "hardswish"]
    for isa in ("scalar", "avx2", None):
        if isa:
            os.environ["TOD_ISA"] = isa
        else:
            os.environ.pop("TOD_ISA", None)
        ys = tod_run(base + ".ms", [x], n_outputs=4, threads=2)
        for name, y, ref in zip(names, ys, refs):
            err = np.abs(y.astype(np.float64) - ref) - (1e-6 * np.abs(ref.astype(np.float64)) + 1e-30)
            worst = int(np.argmax(err))
            check(y.shape == ref.shape and err.max() <= 0,
                  f"elementwise {name}, ISA {isa or 'default'}: within 1e-6 relative of PyTorch "
                  f"(worst at x={x.flat[worst]:.6g}: {y.flat[worst]:.9g} vs {ref.flat[worst]:.9g})")
    os.environ.pop("TOD_ISA", None)


def check_zoo(d):
    for name in selected(["efficientnet_b0", "mobilenet_v3_small"]):
        model = getattr(torchvision.models, name)(weights=None).eval()
        randomize_batchnorm(model)
        path = os.path.join(d, name + ".onnx")
        x = torch.randn(1, 3, 224, 224)
        torch.onnx.export(model, x, path, opset_version=13, input_names=["input"], output_names=["output"])
        rc, lines, err = convert(path, os.path.join(d, name))
        check(rc == 0, f"{name}: converts ({lines[-1] if lines else err.strip()})")
        if rc != 0:
            continue
        with torch.no_grad():
            ref = model(x).numpy()
        y = tod_run(os.path.join(d, name + ".ms"), [x.numpy()], threads=2)[0]
        ok, msg = close(y, ref)
        check(ok, f"{name}: matches PyTorch ({msg})")


def main():
    d = workdir("act_fusion")
    check_elementwise(d)
    check_small_net(d, 13)
    check_small_net(d, 14)
    check_zoo(d)
    finish()


if __name__ == "__main__":
    main()
