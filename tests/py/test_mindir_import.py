"""test_mindir_import: `converter_lite --fmk=MINDIR` on (a) MindSpore's own relu.mindir (compared
with numpy), (b) a hand-assembled MindSpore 2.x LeNet inference export (compared with PyTorch),
(c) a hand-assembled TrainOneStepCell(WithLossCell(LeNet5, SoftmaxCrossEntropyWithLogits),
Momentum) export: without --trainModel it keeps the inference part (same numbers as PyTorch), with
--trainModel=true `tod train` follows PyTorch's SGD-with-momentum losses within 2e-3, (d) a
hand-assembled MindIR with MindSpore 2.x padded pooling (pad_mode PAD with a pad list, ceil
rounding, AvgPool counting its padding by default or not) matches PyTorch."""
import os

import numpy as np
import torch
import torch.nn.functional as F

import mindirlib as ML
from todtest import CONVERTER, SHARED, TOD, check, close, finish, run, tod_run, workdir

D = workdir("mindir_import")
pb2 = ML.load_pb2(D)


def conv(path, out, *extra):
    r = run([CONVERTER, "--fmk=MINDIR", f"--modelFile={path}", f"--outputFile={out}", *extra])
    return r.returncode == 0, (r.stdout + r.stderr).strip()


def relu_fixture():
    src = os.path.join(SHARED, "fixtures", "mindspore", "relu.mindir")
    ok, msg = conv(src, os.path.join(D, "relu"))
    check(ok, f"relu.mindir (MindSpore 1.5) converts {'' if ok else msg}")
    if not ok:
        return
    x = np.array([[[[-1.5, 2.0], [0.25, -0.0]]]], dtype=np.float32)
    (y,) = tod_run(os.path.join(D, "relu.ms"), [x])
    check(np.array_equal(y, np.maximum(x, 0)), "relu.mindir runs: output equals numpy relu")


def lenet_infer():
    n = 4
    w = ML.lenet_weights(1)
    b = ML.Builder(pb2)
    x = b.input("x", [n, 1, 32, 32])
    P = {k: b.param(k, v) for k, v in w.items()}
    f = ML.lenet_forward(b, x, P, n, "Default/network-LeNet5")
    b.output(f["fc3"])
    path = os.path.join(D, "lenet_infer.mindir")
    b.save(path)
    ok, text = ML.protoc_decode(path)
    check(ok and "REF::Conv2D" in text, "hand-assembled LeNet MindIR decodes with protoc")
    ok, msg = conv(path, os.path.join(D, "lenet_infer"))
    check(ok, f"LeNet inference MindIR converts {'' if ok else msg}")
    if not ok:
        return
    xs = np.random.default_rng(5).standard_normal((n, 1, 32, 32)).astype(np.float32)
    (y,) = tod_run(os.path.join(D, "lenet_infer.ms"), [xs])
    ref = ML.torch_lenet({k: torch.from_numpy(v) for k, v in w.items()}, torch.from_numpy(xs)).numpy()
    good, m = close(y, ref, 1e-4)
    check(good, f"LeNet inference MindIR matches PyTorch ({m})")


def lenet_train():
    n, lr, mom, steps = 8, 0.05, 0.9, 6
    w = ML.lenet_weights(2)
    b = ML.Builder(pb2)
    ML.lenet_train_graph(b, w, n, lr, mom)
    path = os.path.join(D, "lenet_train.mindir")
    b.save(path)
    ok, text = ML.protoc_decode(path)
    check(ok and "ApplyMomentum" in text, "hand-assembled TrainOneStepCell MindIR decodes with protoc")
    rng = np.random.default_rng(7)
    xs = rng.standard_normal((n, 1, 32, 32)).astype(np.float32)
    lab = np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)]
    ref_logits = ML.torch_lenet({k: torch.from_numpy(v) for k, v in w.items()}, torch.from_numpy(xs)).numpy()

    # inference part only
    ok, msg = conv(path, os.path.join(D, "lenet_tos_infer"))
    check(ok, f"training MindIR without --trainModel converts {'' if ok else msg}")
    if ok:
        r = run([TOD, "info", os.path.join(D, "lenet_tos_infer.ms")])
        check("ApplyMomentum" not in r.stdout and "Grad" not in r.stdout and "label" not in r.stdout,
              "without --trainModel: no optimizer, gradient or label left")
        (y,) = tod_run(os.path.join(D, "lenet_tos_infer.ms"), [xs])
        good, m = close(y, ref_logits, 1e-4)
        check(good, f"inference part of the training MindIR matches PyTorch ({m})")

    ok, msg = conv(path, os.path.join(D, "lenet_tos"), "--trainModel=true")
    check(ok, f"training MindIR converts with --trainModel=true {'' if ok else msg}")
    if not ok:
        return
    r = run([TOD, "info", os.path.join(D, "lenet_tos.ms")])
    check(r.stdout.count("ApplyMomentum") >= 1, "training .ms keeps the ApplyMomentum nodes")
    xp, yp, log = os.path.join(D, "x.npy"), os.path.join(D, "y.npy"), os.path.join(D, "loss.npy")
    np.save(xp, xs)
    np.save(yp, lab)
    r = run([TOD, "train", os.path.join(D, "lenet_tos.ms"), "--input", xp, "--label", yp, "--batch", str(n),
             "--steps", str(steps), "--no-shuffle", "--loss-log", log, "--save", os.path.join(D, "trained.ms")])
    check(r.returncode == 0, f"tod train runs the MindIR training graph {r.stderr.strip()}")
    if r.returncode != 0:
        return
    got = np.load(log).reshape(-1)
    tw = {k: torch.tensor(v, requires_grad=True) for k, v in w.items()}
    opt = torch.optim.SGD(tw.values(), lr=lr, momentum=mom)
    ref = []
    for _ in range(steps):
        opt.zero_grad()
        logits = ML.torch_lenet(tw, torch.from_numpy(xs))
        loss = -(torch.from_numpy(lab) * F.log_softmax(logits, 1)).sum(1).mean()
        loss.backward()
        opt.step()
        ref.append(float(loss))
    ref = np.array(ref)
    err = float(np.abs(got[:steps] - ref).max()) if got.size >= steps else 1e9
    check(got.size >= steps and err <= 2e-3, f"losses follow PyTorch within 2e-3 (max err {err:.2e}; tod {got[:steps]}, torch {ref})")
    check(ref[-1] < ref[0] and got[steps - 1] < got[0], "the loss decreases")


def padded_pool():
    n = 2
    b = ML.Builder(pb2)
    x = b.input("x", [n, 3, 11, 11])
    S = "Default/network-PoolNet"

    def pool(prim, src, k, st, pad, shape, label, **extra):
        attrs = {"kernel_size": (1, 1, k, k), "strides": (1, 1, st, st), "pad_mode": "PAD", "pad": pad, "format": "NCHW",
                 "input_names": ["x"], "output_names": ["output"], **extra}
        return b.op(prim, [src], f"{S}/{label}", [n, 3] + shape, attrs)

    p1 = pool("MaxPool", x, 3, 2, (1, 1, 1, 1), [6, 6], "max-MaxPool2d/MaxPool-op1")
    p2 = pool("AvgPool", p1, 3, 1, (1, 1, 1, 1), [6, 6], "avg-AvgPool2d/AvgPool-op2")  # counts padding (default)
    p3 = pool("AvgPool", p2, 3, 1, (1, 0, 1, 0), [5, 5], "avg2-AvgPool2d/AvgPool-op3", count_include_pad=False)
    p4 = pool("MaxPool", p3, 2, 2, (0, 0, 0, 0), [3, 3], "max2-MaxPool2d/MaxPool-op4", round_mode=1)
    b.output(p4)
    path = os.path.join(D, "pool.mindir")
    b.save(path)
    ok, msg = conv(path, os.path.join(D, "pool"))
    check(ok, f"padded-pooling MindIR converts {'' if ok else msg}")
    if not ok:
        return
    xs = np.random.default_rng(9).standard_normal((n, 3, 11, 11)).astype(np.float32)
    t = F.avg_pool2d(F.max_pool2d(torch.from_numpy(xs), 3, 2, padding=1), 3, 1, padding=1, count_include_pad=True)
    # asymmetric pads (top/left only) without counting them: mean over the in-input part of each window
    ones = torch.ones_like(t[:, :1])
    s_ = F.avg_pool2d(F.pad(t, (1, 0, 1, 0)), 3, 1, divisor_override=1)
    c_ = F.avg_pool2d(F.pad(ones, (1, 0, 1, 0)), 3, 1, divisor_override=1)
    ref = F.max_pool2d(s_ / c_, 2, 2, ceil_mode=True).numpy()
    (y,) = tod_run(os.path.join(D, "pool.ms"), [xs])
    good, m = close(y, ref, 1e-5)
    check(good, f"MindIR MaxPool/AvgPool with PAD pads, count_include_pad and ceil rounding match PyTorch ({m})")


relu_fixture()
lenet_infer()
padded_pool()
lenet_train()
finish()
