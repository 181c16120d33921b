"""test_training_follows_torch: models exported by PyTorch, converted with --trainModel=true and
trained with `tod train` on the same batches (no shuffle) follow PyTorch's per-step losses from
the same initial weights: LeNet-5 with momentum SGD and with Adam for 20 steps within 2e-3
relative; resnet18 with only fc.* trainable (frozen BatchNorm in inference mode) and resnet18
fully trained (BatchNorm in training mode) within 2e-2 over 4 steps. The trained models'
eval-mode outputs (exported inference-only) match PyTorch's trained models (LeNet within 1e-3,
resnet18 within the loss tolerance, relative to max|y|)."""
import copy
import os

import numpy as np
import torch
import torch.nn as nn
import torchvision

from todtest import CONVERTER, TOD, check, close, finish, run, selected, tod_run, workdir


def lenet():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def resnet():
    torch.manual_seed(0)
    m = torchvision.models.resnet18(weights=None, num_classes=10)
    g = torch.Generator().manual_seed(1)
    # Distinct BN parameters: PyTorch's ONNX exporter merges initializers with identical values,
    # which would tie the (all-ones) BN scales of different layers into one trainable tensor.
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            with torch.no_grad():
                mod.running_mean.copy_(torch.rand(mod.num_features, generator=g) * 0.2 - 0.1)
                mod.running_var.copy_(torch.rand(mod.num_features, generator=g) * 0.5 + 0.75)
                mod.weight.copy_(torch.rand(mod.num_features, generator=g) * 0.5 + 0.75)
                mod.bias.copy_(torch.rand(mod.num_features, generator=g) * 0.2 - 0.1)
    return m


def mobile_block():
    """mobilenet_v2's pattern, small: Conv-BN-ReLU6, depthwise Conv-BN-ReLU6 (stride 1 and 2),
    1x1 projection-BN, pooling, Linear. Exercises the depthwise gradient micro-kernels and the
    BatchNorm -> ReLU6 fold of training sessions."""
    torch.manual_seed(0)
    def cbr(ci, co, k, s, g=1, act=True):
        layers = [nn.Conv2d(ci, co, k, s, k // 2, groups=g, bias=False), nn.BatchNorm2d(co)]
        return layers + ([nn.ReLU6()] if act else [])
    m = nn.Sequential(*cbr(3, 16, 3, 2), *cbr(16, 16, 3, 1, 16), *cbr(16, 40, 1, 1),
                      *cbr(40, 40, 3, 2, 40), *cbr(40, 24, 1, 1, act=False),
                      nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(24, 10))
    g = torch.Generator().manual_seed(1)
    for mod in m.modules():  # distinct values, or the exporter ties equal tensors (see resnet)
        if isinstance(mod, nn.BatchNorm2d):
            with torch.no_grad():
                mod.running_mean.copy_(torch.rand(mod.num_features, generator=g) * 0.2 - 0.1)
                mod.running_var.copy_(torch.rand(mod.num_features, generator=g) * 0.5 + 0.75)
                mod.weight.copy_(torch.rand(mod.num_features, generator=g) * 0.5 + 0.75)
                mod.bias.copy_(torch.rand(mod.num_features, generator=g) * 0.2 - 0.1)
    return m


def torch_opt(kind, params, lr):
    if kind == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr)
    return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-8)


def case(name, make, shape, n_batches, batch, opt, lr, tol, trainable=None, bn_train=True):
    if not selected([name]):  # TOD_TEST_ONLY=lenet_momentum,lenet_adam under qemu
        return
    d = workdir("train_" + name)
    model = make()
    ref = copy.deepcopy(model)
    onnx_path = os.path.join(d, "model.onnx")
    model.eval()
    torch.onnx.export(model, torch.randn(batch, *shape), onnx_path, opset_version=13, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                      training=torch.onnx.TrainingMode.PRESERVE if bn_train else torch.onnx.TrainingMode.EVAL,
                      do_constant_folding=False)
    cfg = os.path.join(d, "train.cfg")
    with open(cfg, "w") as f:
        f.write("[train]\nloss=softmax_cross_entropy\n")
        f.write(f"optimizer={opt}\nlearning_rate={lr}\nmomentum=0.9\n")
        if trainable:
            f.write(f"trainable={trainable}\n")
    out = os.path.join(d, "model_train")
    r = run([CONVERTER, "--fmk=ONNX", f"--modelFile={onnx_path}", f"--outputFile={out}", "--trainModel=true",
             f"--configFile={cfg}"])
    last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr
    check(r.returncode == 0, f"{name}: converts with --trainModel=true ({last})")
    if r.returncode != 0:
        return
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n_batches * batch, *shape)).astype(np.float32)
    y = rng.integers(0, 10, n_batches * batch).astype(np.int64)
    np.save(os.path.join(d, "x.npy"), x)
    np.save(os.path.join(d, "y.npy"), y)
    log = os.path.join(d, "loss.npy")
    trained = os.path.join(d, "trained.ms")
    r = run([TOD, "train", out + ".ms", "--input", os.path.join(d, "x.npy"), "--label", os.path.join(d, "y.npy"),
             "--batch", str(batch), "--steps", str(n_batches), "--no-shuffle", "--loss-log", log, "--save", trained,
             "--inference-only"])
    check(r.returncode == 0, f"{name}: tod train runs {r.stderr.strip()[-300:]}")
    if r.returncode != 0:
        return
    tod_losses = np.load(log)
    # PyTorch: same weights, same batches.
    params = [p for n, p in ref.named_parameters() if not trainable or n.startswith(trainable.rstrip("*"))]
    for n, p in ref.named_parameters():
        p.requires_grad_(not trainable or n.startswith(trainable.rstrip("*")))
    optim = torch_opt(opt, params, lr)
    ref.train(bn_train)
    ref_losses = []
    for b in range(n_batches):
        xb = torch.from_numpy(x[b * batch:(b + 1) * batch])
        yb = torch.from_numpy(y[b * batch:(b + 1) * batch])
        optim.zero_grad()
        loss = nn.functional.cross_entropy(ref(xb), yb)
        loss.backward()
        optim.step()
        ref_losses.append(loss.item())
    ref_losses = np.array(ref_losses)
    rel = np.abs(tod_losses - ref_losses) / np.maximum(np.abs(ref_losses), 1e-6)
    check(len(tod_losses) == n_batches and rel.max() <= tol,
          f"{name}: {n_batches} step losses follow PyTorch (worst relative {rel.max():.2e}, tol {tol}); "
          f"tod {tod_losses[:3].round(5)}... torch {ref_losses[:3].round(5)}...")
    ref.eval()
    xe = rng.standard_normal((batch, *shape)).astype(np.float32)
    with torch.no_grad():
        want = ref(torch.from_numpy(xe)).numpy()
    try:
        (got,) = tod_run(trained, [xe])
        # LeNet: 1e-3; resnet18: the loss tolerance (float32 rounding grows over the steps)
        good, detail = close(got, want, tol=min(1e-3, tol) if tol < 1e-2 else tol)
        check(good, f"{name}: trained model's eval outputs match PyTorch's, {detail}")
    except RuntimeError as e:
        check(False, f"{name}: eval run failed: {e}")


def main():
    case("lenet_momentum", lenet, (1, 32, 32), 20, 8, "momentum", 0.01, 2e-3)
    case("lenet_adam", lenet, (1, 32, 32), 20, 8, "adam", 1e-3, 2e-3)
    case("resnet18_fc_only", resnet, (3, 64, 64), 4, 4, "momentum", 0.01, 2e-2, trainable="fc.*", bn_train=False)
    case("resnet18_full", resnet, (3, 64, 64), 4, 4, "momentum", 0.002, 2e-2)
    case("mobile_block", mobile_block, (3, 32, 32), 6, 8, "momentum", 0.01, 2e-3)
    finish()


if __name__ == "__main__":
    main()
