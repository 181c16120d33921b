"""test_models_match_torch: LeNet-5, mobilenet_v2, resnet18, squeezenet1_1, shufflenet_v2_x1_0
and a network of the operators the layout pass keeps channel-last, exported by PyTorch (random
weights, eval mode, opset 13, batch 1) convert with converter_lite, decode with flatc, and run
with `tod run` to PyTorch's numbers within 1e-4 * max(1, max|y|), at batch 1 and at batch 4
(batch 1 only where a static export bakes the batch into Reshape shapes). A model whose
value_info misstates the dims a channel shuffle was laid out for is refused."""
import os

import numpy as np
import torch
import torch.nn as nn
import torchvision

from todtest import check, close, convert, finish, flatc_json, selected, tod_run, workdir, run, TOD

torch.manual_seed(0)
np.random.seed(0)


class LeNet5(nn.Module):
    def __init__(self, flatten_with_view=False):
        super().__init__()
        self.view = flatten_with_view
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        # view(size(0), -1) exports a Shape/Gather/Concat/Reshape chain the runtime must
        # recompute when the batch changes; flatten exports a plain Flatten.
        x = x.view(x.size(0), -1) if self.view else torch.flatten(x, 1)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)


class LayoutOps(nn.Module):
    """What the layout pass keeps channel-last beyond convolutions: a channel split (Slice with
    axes, ends computed from Shape), a Concat, a channel shuffle (run on NHWC data), means over
    space and over channels; and a Reshape/Transpose/Reshape that looks like a shuffle but
    swaps the spatial dims (it must keep its NCHW meaning)."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(4, 8, 3, padding=1)
        self.c2 = nn.Conv2d(4, 4, 1)
        self.c3 = nn.Conv2d(8, 8, 1)

    def forward(self, x):
        y = torch.relu(self.c1(x))
        a, b = y.chunk(2, dim=1)
        y = torch.cat([a, self.c2(b)], 1)
        n, c, h, w = y.shape
        y = y.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)
        z = self.c3(y)
        fake = z.view(n, 2, c // 2, w, h).transpose(1, 2).reshape(n, c, w, h)
        return (fake.mean((2, 3)) + z.mean(1).flatten(1).sum(1, keepdim=True) +
                z.mean((2, 3), keepdim=True).flatten(1))


class FakeShuffle(nn.Module):
    """A view that reads [N,8,6,8] as [N,2,4,8,6]: declared as [N,8,8,6] by a lying value_info it
    would look like a channel shuffle."""

    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(4, 8, 1)

    def forward(self, x):
        z = self.c(x)
        return z.view(1, 2, 4, 8, 6).transpose(1, 2).reshape(1, 8, 8, 6).relu()


def check_lying_value_info(d):
    import onnx
    path = os.path.join(d, "fake_shuffle.onnx")
    torch.onnx.export(FakeShuffle().eval(), torch.randn(1, 4, 6, 8), path, opset_version=13,
                      input_names=["input"], output_names=["output"])
    m = onnx.load(path)
    conv = next(n for n in m.graph.node if n.op_type == "Conv")
    del m.graph.value_info[:]
    m.graph.value_info.append(onnx.helper.make_tensor_value_info(conv.output[0], onnx.TensorProto.FLOAT,
                                                                 [1, 8, 8, 6]))
    onnx.save(m, path)
    out = os.path.join(d, "fake_shuffle")
    rc, lines, err = convert(path, out)
    check(rc != 0 and lines and lines[-1].startswith("CONVERT RESULT FAILED:") and "value_info" in err + " ".join(lines)
          and not os.path.exists(out + ".ms"),
          f"a value_info that misstates a shuffle's dims is refused ({lines[-1] if lines else err.strip()})")


def randomize_batchnorm(model):
    """Non-trivial BN statistics so folding BN into convolutions is really tested."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) - 0.5)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.rand(m.num_features, generator=g) - 0.5)


# (name, constructor, export shape, dynamic batch axis). With a static export PyTorch folds
# x.size(0) into a constant, so the view variant is exported with a dynamic batch to keep the
# Shape/Gather/Concat/Reshape chain in the graph.
MODELS = [
    ("lenet5", lambda: LeNet5(), (1, 1, 32, 32), False),
    ("lenet5_view", lambda: LeNet5(flatten_with_view=True), (1, 1, 32, 32), True),
    ("mobilenet_v2", lambda: torchvision.models.mobilenet_v2(weights=None), (1, 3, 224, 224), False),
    ("resnet18", lambda: torchvision.models.resnet18(weights=None), (1, 3, 224, 224), False),
    ("squeezenet1_1", lambda: torchvision.models.squeezenet1_1(weights=None), (1, 3, 224, 224), False),
    ("shufflenet_v2_x1_0", lambda: torchvision.models.shufflenet_v2_x1_0(weights=None), (1, 3, 224, 224), False),
    ("shufflenet_v2_x1_0_dyn", lambda: torchvision.models.shufflenet_v2_x1_0(weights=None), (1, 3, 224, 224),
     True),
    ("layout_ops", LayoutOps, (1, 4, 6, 8), False),
]
# Static exports whose Reshape shapes hold the batch: batch 1 only (as in ONNX Runtime).
BATCH1_ONLY = {"shufflenet_v2_x1_0", "layout_ops"}


def main():
    d = workdir("models")
    keep = selected([m[0] for m in MODELS])  # TOD_TEST_ONLY=lenet5,mobilenet_v2 under qemu
    for name, make, shape, dynamic in (m for m in MODELS if m[0] in keep):
        model = make().eval()
        randomize_batchnorm(model)
        onnx_path = os.path.join(d, name + ".onnx")
        x1 = torch.randn(*shape)
        torch.onnx.export(model, x1, onnx_path, opset_version=13, input_names=["input"],
                          output_names=["output"], do_constant_folding=True,
                          dynamic_axes={"input": {0: "N"}, "output": {0: "N"}} if dynamic else None)
        out_base = os.path.join(d, name)
        ms_path = out_base + ".ms"
        if os.path.exists(ms_path):
            os.remove(ms_path)
        rc, lines, err = convert(onnx_path, out_base)
        ok = rc == 0 and lines and lines[-1] == "CONVERT RESULT SUCCESS:0" and os.path.exists(ms_path)
        check(ok, f"{name}: converter_lite succeeds ({lines[-1] if lines else err.strip()})")
        if not ok:
            continue
        js, msg = flatc_json(ms_path)
        check(js is not None and len(js.get("nodes", [])) > 0, f"{name}: flatc decodes the .ms {msg.strip()}")
        info = run([TOD, "info", ms_path])
        check(info.returncode == 0 and "weight bytes" in info.stdout, f"{name}: tod info")
        for batch in (1,) if name in BATCH1_ONLY else (1, 4):
            xb = torch.randn(batch, *shape[1:])
            with torch.no_grad():
                ref = model(xb).numpy()
            try:
                (y,) = tod_run(ms_path, [xb.numpy()])
            except RuntimeError as e:
                check(False, f"{name} batch {batch}: {e}")
                continue
            good, detail = close(y, ref)
            check(good, f"{name} batch {batch}: matches PyTorch, {detail}")
    if "layout_ops" in keep:
        check_lying_value_info(d)
    finish()


if __name__ == "__main__":
    main()
