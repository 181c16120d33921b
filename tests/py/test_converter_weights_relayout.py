#!/usr/bin/python3
"""Converter weights written straight from the ONNX file (issue 11): exact, whatever the path.

converter_lite no longer copies every weight into memory: a large float weight whose raw_data is
not 4-byte aligned is left in the mapped file by the import when only convolutions and matrix
products read it (smaller ones, and those anything else reads, are copied), and a convolution
weight still in the file (aligned or not) is relaid out KCHW -> KHWC by the .ms writer, a piece of
at most 512 KB at a time, as it writes the file (src/ir/deferred.c). 1x1 and depthwise weights and
MatMul weights are written from the file as they are. Passes that read weights read them first:
BatchNorm folding, weight quantization, and training conversions keep them as parameters.

One network covers those paths: convolutions of 13 -> 70 channels (32 KB: copied when unaligned),
70 -> 230 (3x3, 580 KB: two pieces of whole output channels, 2,520 bytes each), 230 -> 40 (5x5,
920 KB, BatchNorm after it), 40 -> 480 (1x1), a depthwise 3x3 and a 480 -> 300 Linear (Gemm,
576 KB). The same export is written twice: with every one of those weights' raw_data at an offset
that is a multiple of 4 in the file, and at one that is not (unused padding initializers placed
before them; onnx's own serializer writes both files).

Checks, per file: the inference conversion matches PyTorch (`tod run`, 1e-4); flatc decodes it
against MindSpore Lite's schema and every unfolded convolution weight is bit for bit PyTorch's
weight.permute(0, 2, 3, 1), the Linear weight PyTorch's as it is; the training conversion's weights
are PyTorch's the same way, and with c1, c2 frozen and 8-bit quantization those two are stored
quantized and the trainable ones as they are; the 8-bit weight-quantized inference conversion matches
PyTorch within 5e-2.
"""
import os
import sys

import numpy as np
import onnx
import torch

sys.path.insert(0, os.path.dirname(__file__))
from todtest import check, close, convert, finish, flatc_json, tod_run, workdir  # noqa: E402

W = workdir("converter_weights_relayout")


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(13, 70, 3, padding=1)
        self.c2 = torch.nn.Conv2d(70, 230, 3, padding=1)
        self.c3 = torch.nn.Conv2d(230, 40, 5, padding=2)
        self.bn = torch.nn.BatchNorm2d(40)
        self.c4 = torch.nn.Conv2d(40, 480, 1)
        self.dw = torch.nn.Conv2d(480, 480, 3, padding=1, groups=480)
        self.fc = torch.nn.Linear(480, 300)

    def forward(self, x):
        x = torch.relu(self.c1(x))
        x = torch.relu(self.c2(x))
        x = torch.relu(self.bn(self.c3(x)))
        x = torch.relu(self.dw(self.c4(x)))
        return self.fc(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 1), 1))


def export(model, x, path):
    # BatchNorm kept as a node (as bench/bench_models.py exports for training), so the inference
    # conversion folds it into a weight the import left in the file.
    torch.onnx.export(model, x, path, opset_version=13, input_names=["input"], output_names=["logits"],
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)


def place_weights(src, dst, names, aligned):
    """Rewrites src with an unused uint8 initializer before each named one, sized so that the named
    raw_data starts at a file offset that is (aligned) or is not a multiple of 4. Returns the offsets."""
    m = onnx.load(src)
    inits = list(m.graph.initializer)
    del m.graph.initializer[:]
    pads = {}
    for t in inits:
        if t.name in names:
            pad = onnx.helper.make_tensor("pad_" + t.name, onnx.TensorProto.UINT8, [0], b"", raw=True)
            m.graph.initializer.append(pad)
            pads[t.name] = m.graph.initializer[len(m.graph.initializer) - 1]
        m.graph.initializer.append(t)
    offsets = {}
    for t in inits:  # in file order: a pad moves its weight and the ones after it only
        if t.name not in names:
            continue
        for extra in range(1, 9):
            pads[t.name].raw_data = b"\0" * extra
            pads[t.name].dims[:] = [extra]
            blob = m.SerializeToString()
            off = blob.find(t.raw_data)
            if (off % 4 == 0) == aligned:
                break
        offsets[t.name] = off
    blob = m.SerializeToString()
    with open(dst, "wb") as f:
        f.write(blob)
    return {n: blob.find(next(t for t in inits if t.name == n).raw_data) for n in offsets}


def tensors(ms):
    fj, err = flatc_json(ms)
    check(fj is not None, f"{os.path.basename(ms)}: flatc decodes it {err.strip()}")
    return {t.get("name", ""): t for t in (fj or {}).get("allTensors", [])}


def weight_is(tens, name, ref, what):
    t = tens.get(name)
    got = np.frombuffer(bytes(t.get("data", [])), dtype="<f4") if t else np.zeros(0, np.float32)
    ok = t is not None and list(t.get("dims", [])) == list(ref.shape) and np.array_equal(got, ref.reshape(-1))
    check(ok, f"{what}: {name} {list(ref.shape)} is PyTorch's, bit for bit")


def main():
    torch.manual_seed(0)
    model = Net().eval()
    with torch.no_grad():  # BatchNorm statistics that change the result when folded
        model.bn.running_mean.uniform_(-0.5, 0.5)
        model.bn.running_var.uniform_(0.5, 2.0)
        model.bn.weight.uniform_(0.5, 1.5)
        model.bn.bias.uniform_(-0.5, 0.5)
    x = torch.randn(1, 13, 8, 8)
    with torch.no_grad():
        ref = model(x).numpy()
    base = os.path.join(W, "net.onnx")
    export(model, x, base)
    onnx_inits = {t.name: t for t in onnx.load(base).graph.initializer}
    params = dict(model.named_parameters())
    big = [n for n in ("c1.weight", "c2.weight", "c3.weight", "c4.weight", "fc.weight") if n in onnx_inits]
    check(len(big) == 5, f"the export keeps the parameter names ({sorted(onnx_inits)[:8]})")
    conv_khwc = {n: params[n].detach().numpy().transpose(0, 2, 3, 1) for n in ("c1.weight", "c2.weight", "c4.weight", "dw.weight")}
    cfg = os.path.join(W, "train.cfg")
    with open(cfg, "w") as f:
        f.write("[train]\nloss=softmax_cross_entropy\noptimizer=momentum\nlearning_rate=0.01\nmomentum=0.9\n")
    qcfg = os.path.join(W, "train_frozen_q8.cfg")
    with open(qcfg, "w") as f:
        f.write("[train]\nloss=softmax_cross_entropy\noptimizer=adam\nfrozen=c1.*,c2.*\n"
                "[common_quant_param]\nquant_type=WEIGHT_QUANT\nbit_num=8\nmin_quant_weight_channel=0\n")

    for aligned in (False, True):
        tag = "aligned" if aligned else "unaligned"
        path = os.path.join(W, f"net_{tag}.onnx")
        offs = place_weights(base, path, set(big), aligned)
        check(all((o % 4 == 0) == aligned for o in offs.values()),
              f"{tag}: raw_data offsets {sorted(offs.values())} are {'' if aligned else 'not '}multiples of 4")

        out = os.path.join(W, f"net_{tag}")
        rc, lines, err = convert(path, out)
        check(rc == 0 and lines and lines[-1] == "CONVERT RESULT SUCCESS:0", f"{tag}: converts ({err.strip()[-200:]})")
        if rc == 0:
            y, = tod_run(out + ".ms", [x.numpy()])
            ok, msg = close(y, ref)
            check(ok, f"{tag}: inference output matches PyTorch ({msg})")
            tens = tensors(out + ".ms")
            for n, w in conv_khwc.items():
                weight_is(tens, n, w, f"{tag} inference")
            weight_is(tens, "fc.weight", params["fc.weight"].detach().numpy(), f"{tag} inference")

        out = os.path.join(W, f"net_{tag}_train")
        rc, lines, err = convert(path, out, "--trainModel=true", f"--configFile={cfg}")
        check(rc == 0 and lines and lines[-1] == "CONVERT RESULT SUCCESS:0", f"{tag}: training conversion ({err.strip()[-200:]})")
        if rc == 0:
            tens = tensors(out + ".ms")
            for n in ("c1.weight", "c2.weight", "c3.weight", "c4.weight", "dw.weight"):
                weight_is(tens, n, params[n].detach().numpy().transpose(0, 2, 3, 1), f"{tag} training")
            weight_is(tens, "fc.weight", params["fc.weight"].detach().numpy(), f"{tag} training")

        # Frozen weights quantized in a training model, trainable ones kept (read after autodiff).
        out = os.path.join(W, f"net_{tag}_train_wq")
        rc, lines, err = convert(path, out, "--trainModel=true", f"--configFile={qcfg}")
        check(rc == 0 and lines and lines[-1] == "CONVERT RESULT SUCCESS:0", f"{tag}: training conversion, frozen c1, c2 quantized ({err.strip()[-200:]})")
        if rc == 0:
            tens = tensors(out + ".ms")
            kinds = {n: (tens.get(n, {}).get("dataType"), bool(tens.get(n, {}).get("quantParams"))) for n in big}
            check(kinds["c1.weight"] == (32, True) and kinds["c2.weight"] == (32, True) and
                  all(kinds[n] == (43, False) for n in ("c3.weight", "c4.weight", "fc.weight")),
                  f"{tag}: frozen weights int8 with quantParams, trainable ones float32 ({kinds})")
            weight_is(tens, "c3.weight", params["c3.weight"].detach().numpy().transpose(0, 2, 3, 1), f"{tag} training, quantized")
            weight_is(tens, "fc.weight", params["fc.weight"].detach().numpy(), f"{tag} training, quantized")

        out = os.path.join(W, f"net_{tag}_wq")
        rc, lines, err = convert(path, out, "--quantType=WeightQuant", "--bitNum=8", "--quantWeightSize=0",
                                 "--quantWeightChannel=16")
        check(rc == 0 and lines and lines[-1] == "CONVERT RESULT SUCCESS:0", f"{tag}: weight-quantized conversion ({err.strip()[-200:]})")
        if rc == 0:
            y, = tod_run(out + ".ms", [x.numpy()])
            ok, msg = close(y, ref, tol=5e-2)
            check(ok, f"{tag}: 8-bit weight-quantized output matches PyTorch within 5e-2 ({msg})")
    finish()


if __name__ == "__main__":
    main()
