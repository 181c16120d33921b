"""test_mindir_export: ONNX -> .ms (--trainModel=true) -> `tod train` -> MINDIR export (mindir_export,
through `tod export --format MINDIR` when the CLI has it, else a small driver over the C API) ->
`converter_lite --fmk=MINDIR` -> .ms gives the trained model's outputs; `protoc --decode` with
mind_ir.proto reads every MINDIR written, and the file follows MindSpore's conventions
(producer MindSpore, REF:: primitives, `<graph>:<param>` weights, NCHW/KCHW).

Training round trip (SGD with momentum and Adam): ONNX LeNet-5 -> .ms (--trainModel=true) ->
`tod train` 20 steps -> save; then (a) the saved .ms trains 10 more steps, (b) its whole training
graph exported to MINDIR (TrainOneStepCell style) -> `converter_lite --fmk=MINDIR --trainModel=true`
trains the same 10 steps: the loss sequences are bit-identical, and both follow PyTorch's losses for
steps 21..30 of the same run within 2e-3 relative.

Batch > 1: a LeNet whose Flatten is `x.view(x.size(0), -1)` (a Shape chain) and one whose Reshape
constant baked batch 1, exported at batch 4 (`tod export --batch 4`) or at batch 1, convert back
and give PyTorch's outputs at batch 4. Padded pooling: MaxPool2d(3, 2, padding=1), AvgPool2d(3, 1,
padding=1, count_include_pad=False), a ceil-mode MaxPool2d and an AvgPool2d counting its padding
go ONNX -> .ms -> MINDIR -> .ms and give PyTorch's outputs. MindSpore Lite's own training files
(lenet_tod.ms, lenet_train.ms) export as training MINDIR and train back with their own losses, bit
for bit; its inference LeNet converts back to its outputs."""
import copy
import os

import numpy as np
import torch
import torch.nn as nn

import mindirlib as ML
from todtest import BUILD, CONVERTER, SHARED, SOURCE, TOD, WORK, check, close, finish, run, tod_run, workdir

D = workdir("mindir_export")
pb2 = ML.load_pb2(D)


def driver():
    exe = os.path.join(D, "mindir_export_tool")
    src = os.path.join(SOURCE, "tests", "tools", "mindir_export_tool.c")
    lib = os.path.join(BUILD, "libtod.a")
    r = run(["cc", "-std=c11", "-D_POSIX_C_SOURCE=200809L", f"-I{SOURCE}/src", f"-I{SOURCE}/include", src, lib, "-lm",
             "-lpthread", "-o", exe])
    if r.returncode != 0:  # a sanitizer build's library needs the sanitizer runtime
        r = run(["cc", "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-fsanitize=address,undefined", f"-I{SOURCE}/src",
                 f"-I{SOURCE}/include", src, lib, "-lm", "-lpthread", "-o", exe])
    return exe if r.returncode == 0 else None


def export(ms, out, exe):
    r = run([TOD, "export", ms, "--format", "MINDIR", "-o", out])
    if r.returncode == 0 and os.path.exists(out):
        return True, "tod export"
    if exe is None:
        return False, r.stderr
    r2 = run([exe, ms, out])
    return r2.returncode == 0, "C API driver" + (": " + r2.stderr.strip() if r2.returncode else "")


def lenet():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def prims_of(m):
    """op_type of every node, REF:: keys resolved through ModelProto.primitives."""
    by_key = {p.name: p.op_type for p in m.primitives}
    out = []
    for n in m.graph.node:
        t = n.op_type[5:] if n.op_type.startswith("REF::") else n.op_type
        out.append(by_key.get(t, t))
    return out


def train_roundtrip(opt, exe):
    d = workdir(f"mindir_train_{opt}")
    steps, more, batch = 20, 10, 8
    model = lenet()
    ref = lenet()
    onnx_path = os.path.join(d, "lenet.onnx")
    torch.onnx.export(model.eval(), torch.randn(batch, 1, 32, 32), onnx_path, opset_version=13, input_names=["input"],
                      output_names=["logits"], do_constant_folding=False)
    cfg = os.path.join(d, "train.cfg")
    lr = 0.01 if opt == "momentum" else 1e-3
    with open(cfg, "w") as f:
        f.write(f"[train]\nloss=softmax_cross_entropy\noptimizer={opt}\nlearning_rate={lr}\nmomentum=0.9\n")
    base = os.path.join(d, "lenet_train")
    r = run([CONVERTER, "--fmk=ONNX", f"--modelFile={onnx_path}", f"--outputFile={base}", "--trainModel=true",
             f"--configFile={cfg}"])
    check(r.returncode == 0, f"{opt}: ONNX LeNet converts with --trainModel=true {r.stderr.strip()}")
    rng = np.random.default_rng(1)
    x = rng.standard_normal(((steps + more) * batch, 1, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, (steps + more) * batch).astype(np.int64)
    cut = steps * batch
    paths = {}
    for k, v in {"x1": x[:cut], "y1": y[:cut], "x2": x[cut:], "y2": y[cut:]}.items():
        paths[k] = os.path.join(d, k + ".npy")
        np.save(paths[k], v)
    trained = os.path.join(d, "trained.ms")
    r = run([TOD, "train", base + ".ms", "--input", paths["x1"], "--label", paths["y1"], "--batch", str(batch),
             "--steps", str(steps), "--no-shuffle", "--save", trained])
    check(r.returncode == 0, f"{opt}: tod train runs {steps} steps and saves {r.stderr.strip()[-300:]}")
    if r.returncode != 0:
        return

    def cont(ms, log):
        r = run([TOD, "train", ms, "--input", paths["x2"], "--label", paths["y2"], "--batch", str(batch), "--steps",
                 str(more), "--no-shuffle", "--loss-log", log])
        return np.load(log).reshape(-1) if r.returncode == 0 else None, r.stderr.strip()[-300:]

    la, msg = cont(trained, os.path.join(d, "loss_ms.npy"))
    check(la is not None and la.size == more, f"{opt}: (a) the saved .ms continues training {msg}")
    mindir = os.path.join(d, "trained.mindir")
    ok, how = export(trained, mindir, exe)
    check(ok, f"{opt}: the training model exports to MINDIR as a training graph ({how})")
    if not ok or la is None:
        return
    ok, text = ML.protoc_decode(mindir)
    check(ok, f"{opt}: protoc --decode reads the exported training MINDIR")
    m = load_mindir(mindir)
    gn = m.graph.name
    params = {p.name.split(":", 1)[1]: p for p in m.graph.parameter}
    prims = prims_of(m)
    optim = "ApplyMomentum" if opt == "momentum" else "Adam"
    state = ["moments.0.weight"] if opt == "momentum" else ["moment1.0.weight", "moment2.0.weight", "beta1_power", "beta2_power"]
    check([i.name for i in m.graph.input] == [f"{gn}:input", f"{gn}:label"], f"{opt}: graph inputs are data then label")
    check(all(k in params for k in ["0.weight", "learning_rate", "global_step"] + state),
          f"{opt}: parameters hold weights, optimizer state, learning_rate and global_step ({sorted(params)[:8]}...)")
    need = {optim, "Load", "UpdateState", "Depend", "MakeTuple", "SparseSoftmaxCrossEntropyWithLogits",
            "Conv2DBackpropFilter", "Conv2DBackpropInput", "MaxPoolGrad", "ReluGrad", "BiasAddGrad", "AssignAdd"}
    check(need <= set(prims) and prims.count(optim) == 10, f"{opt}: MindSpore's gradient and optimizer primitives "
          f"({prims.count(optim)} {optim}, missing {sorted(need - set(prims))})")
    nodes = {n.output[0]: (p, n) for p, n in zip(prims, m.graph.node)}
    res = nodes.get(m.graph.output[0].name)
    check(res is not None and res[0] == "Depend" and "_loss_fn" in nodes[res[1].input[0]][1].domain,
          f"{opt}: the graph returns Depend(loss, updates) as TrainOneStepCell does")
    upd_ok = all(nodes.get(n.input[-1], ("",))[0] in ("UpdateState", "Constant") and n.input[0] == f"{gn}:{n.domain.split('-', 2)[-1]}"
                 for p, n in zip(prims, m.graph.node) if p == optim)
    check(upd_ok, f"{opt}: each {optim} updates its Parameter itself and takes the U monad last")
    if opt == "adam":
        b1 = np.frombuffer(params["beta1_power"].raw_data, np.float32)
        want_b1 = np.float32(1)
        for _ in range(steps):
            want_b1 = np.float32(want_b1 * np.float32(0.9))
        check(b1.size == 1 and abs(b1[0] - want_b1) <= 1e-6 * want_b1, f"adam: beta1_power carries 0.9^{steps} ({b1}, {want_b1})")
    back = os.path.join(d, "back")
    r = run([CONVERTER, "--fmk=MINDIR", f"--modelFile={mindir}", f"--outputFile={back}", "--trainModel=true"])
    check(r.returncode == 0, f"{opt}: converter_lite --fmk=MINDIR --trainModel=true reads it {r.stdout.strip()[-200:]}")
    if r.returncode != 0:
        return
    lb, msg = cont(back + ".ms", os.path.join(d, "loss_mindir.npy"))
    check(lb is not None and np.array_equal(la, lb),
          f"{opt}: (b) MINDIR round trip continues with bit-identical losses ({la} vs {lb}) {msg}")
    # PyTorch: the same network from the same weights, steps 1..30 on the same batches
    params_t = list(ref.parameters())
    topt = torch.optim.SGD(params_t, lr=lr, momentum=0.9) if opt == "momentum" else torch.optim.Adam(params_t, lr=lr)
    ref.train()
    tl = []
    for b in range(steps + more):
        topt.zero_grad()
        loss = nn.functional.cross_entropy(ref(torch.from_numpy(x[b * batch:(b + 1) * batch])),
                                           torch.from_numpy(y[b * batch:(b + 1) * batch]))
        loss.backward()
        topt.step()
        tl.append(loss.item())
    tl = np.array(tl[steps:])
    rel = np.abs(la - tl) / np.abs(tl)
    check(rel.max() <= 2e-3, f"{opt}: both follow PyTorch continuing from the same state (worst relative {rel.max():.2e}; "
          f"torch {tl[:3].round(5)}...)")


class ViewNet(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.c1, self.c2 = nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5)
        self.f1, self.f2 = nn.Linear(400, 120), nn.Linear(120, 10)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.c1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.c2(x)), 2)
        return self.f2(torch.relu(self.f1(x.view(x.size(0), -1))))


def load_mindir(path):
    m = pb2.ModelProto()
    with open(path, "rb") as f:
        m.ParseFromString(f.read())
    return m


def round_trip(label, mindir, back, x, ref, how=""):
    """converter_lite reads the exported MINDIR back; `tod run` of the result on x matches PyTorch's ref."""
    r = run([CONVERTER, "--fmk=MINDIR", f"--modelFile={mindir}", f"--outputFile={back}"])
    check(r.returncode == 0, f"{label}: converts back {r.stdout.strip()[-200:]}")
    if r.returncode != 0:
        return
    try:
        (got,) = tod_run(back + ".ms", [x])
        good, msg = close(got, ref, 1e-4)
    except RuntimeError as e:
        good, msg = False, str(e)[-300:]
    check(good, f"{label}: MINDIR round trip {how}matches PyTorch ({msg})")


def batch_export():
    d = workdir("mindir_batch")
    net = ViewNet().eval()
    x4 = np.random.default_rng(4).standard_normal((4, 1, 32, 32)).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x4)).numpy()
    cases = [("dynamic", {"input": {0: "N"}, "y": {0: "N"}}, ["--batch", "4"]), ("baked", None, [])]
    for name, axes, extra in cases:
        onnx_path = os.path.join(d, name + ".onnx")
        torch.onnx.export(net, torch.randn(1, 1, 32, 32), onnx_path, opset_version=13, input_names=["input"],
                          output_names=["y"], dynamic_axes=axes)
        base, mindir, back = (os.path.join(d, name + s) for s in ("", ".mindir", "_back"))
        r = run([CONVERTER, "--fmk=ONNX", f"--modelFile={onnx_path}", f"--outputFile={base}"])
        r2 = run([TOD, "export", base + ".ms", *extra, "--format", "MINDIR", "-o", mindir]) if r.returncode == 0 else r
        check(r2.returncode == 0, f"batch {name}: exports to MINDIR {' '.join(extra)} {r2.stderr.strip()[-200:]}")
        if r2.returncode != 0:
            continue
        m = load_mindir(mindir)
        check(list(m.graph.input[0].tensor[0].dims) == ([4, 1, 32, 32] if extra else [1, 1, 32, 32]),
              f"batch {name}: the exported input has the model's batch ({list(m.graph.input[0].tensor[0].dims)})")
        round_trip(f"batch {name}", mindir, back, x4, ref, "at batch 4 ")


class SwishNet(nn.Module):
    """SiLU and hard-swish, which the converter writes as single Activation SWISH / HSWISH nodes."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(5)
        self.c1, self.c2, self.fc = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 1), nn.Linear(8, 4)

    def forward(self, x):
        x = nn.functional.hardswish(self.c2(nn.functional.silu(self.c1(x))))
        return self.fc(x.mean((2, 3)))


def swish_export():
    d = workdir("mindir_swish")
    net = SwishNet().eval()
    x = np.random.default_rng(5).standard_normal((1, 3, 10, 10)).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    onnx_path, base, mindir, back = (os.path.join(d, "swish" + s) for s in (".onnx", "", ".mindir", "_back"))
    torch.onnx.export(net, torch.from_numpy(x), onnx_path, opset_version=13, input_names=["input"], output_names=["y"])
    r = run([CONVERTER, "--fmk=ONNX", f"--modelFile={onnx_path}", f"--outputFile={base}"])
    r2 = run([TOD, "export", base + ".ms", "--format", "MINDIR", "-o", mindir]) if r.returncode == 0 else r
    check(r2.returncode == 0, f"swish: SiLU/hard-swish model exports to MINDIR {r2.stderr.strip()[-200:]}")
    if r2.returncode != 0:
        return
    prims = prims_of(load_mindir(mindir))
    check("SiLU" in prims and "HSwish" in prims, f"swish: MindSpore's SiLU and HSwish primitives ({sorted(set(prims))})")
    round_trip("swish", mindir, back, x, ref)


def padded_pooling():
    d = workdir("mindir_pool")
    torch.manual_seed(5)
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.MaxPool2d(3, 2, padding=1),
                        nn.AvgPool2d(3, 1, padding=1, count_include_pad=False), nn.MaxPool2d(2, 2, ceil_mode=True),
                        nn.AvgPool2d(3, 1, padding=1)).eval()
    x = np.random.default_rng(6).standard_normal((2, 3, 17, 17)).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    onnx_path, base, mindir, back = (os.path.join(d, s) for s in ("pool.onnx", "pool", "pool.mindir", "pool_back"))
    torch.onnx.export(net, torch.from_numpy(x), onnx_path, opset_version=13, input_names=["x"], output_names=["y"])
    r = run([CONVERTER, "--fmk=ONNX", f"--modelFile={onnx_path}", f"--outputFile={base}"])
    r2 = run([TOD, "export", base + ".ms", "--format", "MINDIR", "-o", mindir]) if r.returncode == 0 else r
    check(r2.returncode == 0, f"padded pooling exports to MINDIR {r2.stderr.strip()[-200:]}")
    if r2.returncode != 0:
        return
    m = load_mindir(mindir)
    modes = [a.s.decode() for p in m.primitives if p.op_type in ("MaxPool", "AvgPool") for a in p.attribute if a.name == "pad_mode"]
    # the last AvgPool counts its padding: explicit zeros (Pad) in front of an unpadded pool
    check(modes == ["PAD", "PAD", "PAD", "VALID"] and "Pad" in prims_of(m),
          f"pools carry pad_mode PAD with their pad list, a counting AvgPool a Pad ({modes})")
    r = run([CONVERTER, "--fmk=MINDIR", f"--modelFile={mindir}", f"--outputFile={back}"])
    check(r.returncode == 0, f"padded pooling MINDIR converts back {r.stdout.strip()[-200:]}")
    if r.returncode == 0:
        (got,) = tod_run(back + ".ms", [x])
        good, msg = close(got, ref, 1e-5)
        check(good, f"ONNX -> .ms -> MINDIR -> .ms with padded pooling matches PyTorch ({msg})")


def fixtures_roundtrip():
    """MindSpore Lite's own training files (Adam with constant beta powers; L1 loss with AbsGrad)
    export as training MINDIR, convert back and train with the fixture's losses, bit for bit."""
    d = workdir("mindir_fixtures")
    fx = os.path.join(SHARED, "fixtures", "mindspore")
    x = np.fromfile(os.path.join(fx, "x_lenet.bin"), np.float32).reshape(32, 32, 32, 1)
    y = np.fromfile(os.path.join(fx, "y_lenet.bin"), np.float32).reshape(32, 10)
    for name, xs, ys, batch in [("lenet_tod", x, y.argmax(1).astype(np.int32), 32), ("lenet_train", x[:8], y[:8], 2)]:
        xp, yp = os.path.join(d, name + "_x.npy"), os.path.join(d, name + "_y.npy")
        np.save(xp, xs)
        np.save(yp, ys)
        mindir, back = os.path.join(d, name + ".mindir"), os.path.join(d, name + "_back")
        r = run([TOD, "export", os.path.join(fx, name + ".ms"), "--format", "MINDIR", "-o", mindir])
        ok = r.returncode == 0 and ML.protoc_decode(mindir)[0]
        if ok:
            r = run([CONVERTER, "--fmk=MINDIR", f"--modelFile={mindir}", f"--outputFile={back}", "--trainModel=true"])
            ok = r.returncode == 0
        check(ok, f"{name}.ms (MindSpore Lite) exports as a training MINDIR that protoc reads and converts back "
                  f"{(r.stdout + r.stderr).strip()[-200:]}")
        if not ok:
            continue
        logs = []
        for ms in (os.path.join(fx, name + ".ms"), back + ".ms"):
            log = os.path.join(d, os.path.basename(ms) + ".loss.npy")
            rr = run([TOD, "train", ms, "--input", xp, "--label", yp, "--batch", str(batch), "--steps", "4", "--no-shuffle",
                      "--loss-log", log])
            logs.append(np.load(log).reshape(-1) if rr.returncode == 0 else None)
        check(all(v is not None for v in logs) and np.array_equal(logs[0], logs[1]) and logs[0][-1] < logs[0][0],
              f"{name}: the round trip trains with the fixture's losses ({logs})")
    # MindSpore Lite's inference LeNet (channel-last convolutions whose `format` attribute says NCHW)
    mindir, back = os.path.join(d, "infer.mindir"), os.path.join(d, "infer_back")
    r = run([TOD, "export", os.path.join(fx, "lenet_tod_infer.ms"), "--format", "MINDIR", "-o", mindir])
    if r.returncode == 0:
        r = run([CONVERTER, "--fmk=MINDIR", f"--modelFile={mindir}", f"--outputFile={back}"])
    ok, msg = r.returncode == 0, (r.stdout + r.stderr).strip()[-200:]
    if ok:
        (a,) = tod_run(os.path.join(fx, "lenet_tod_infer.ms"), [x[:2]])
        (b,) = tod_run(back + ".ms", [x[:2]])
        ok, msg = close(b, a, 1e-5)
    check(ok, f"lenet_tod_infer.ms exports to MINDIR and converts back to its outputs ({msg})")


def unsupported_training_op():
    """A training graph with an operator the exporter has no MindSpore primitive for (LeakyReLU's
    gradient) fails with -7 naming it and writes no file; its inference part still exports."""
    d = workdir("mindir_train_unsupported")
    torch.manual_seed(7)
    net = nn.Sequential(nn.Linear(16, 32), nn.LeakyReLU(0.1), nn.Linear(32, 10)).eval()
    onnx_path, base, out = (os.path.join(d, s) for s in ("lk.onnx", "lk_train", "lk.mindir"))
    torch.onnx.export(net, torch.randn(4, 16), onnx_path, opset_version=13, input_names=["input"],
                      output_names=["logits"], do_constant_folding=False)
    r = run([CONVERTER, "--fmk=ONNX", f"--modelFile={onnx_path}", f"--outputFile={base}", "--trainModel=true"])
    check(r.returncode == 0, f"LeakyReLU net converts for training {r.stderr.strip()[-200:]}")
    if os.path.exists(out):
        os.remove(out)
    r = run([TOD, "export", base + ".ms", "--format", "MINDIR", "-o", out])
    check(r.returncode != 0 and "-7" in r.stderr and "ActivationGrad" in r.stderr and not os.path.exists(out),
          f"training export with LeakyReLU's gradient fails with -7 naming it ({r.stderr.strip()[-160:]})")
    r = run([TOD, "export", base + ".ms", "--format", "MINDIR", "--inference-only", "-o", out + ".infer"])
    check(r.returncode == 0, f"its inference part still exports {r.stderr.strip()[-160:]}")


def batchnorm_roundtrip():
    """BatchNorm in training mode (batch statistics, running statistics updated in place):
    BatchNorm/BatchNormGrad in the MINDIR; the round trip continues with bit-identical losses and
    eval outputs, and follows PyTorch's losses."""
    d = workdir("mindir_train_bn")
    steps, more, batch, lr = 10, 10, 4, 0.01
    torch.manual_seed(7)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(4 * 3 * 3, 10))
    gen = torch.Generator().manual_seed(1)
    bn = net[1]
    with torch.no_grad():  # distinct values: the ONNX exporter would merge identical initializers
        bn.running_mean.copy_(torch.rand(4, generator=gen) * 0.2 - 0.1)
        bn.running_var.copy_(torch.rand(4, generator=gen) * 0.5 + 0.75)
        bn.weight.copy_(torch.rand(4, generator=gen) * 0.5 + 0.75)
        bn.bias.copy_(torch.rand(4, generator=gen) * 0.2 - 0.1)
    ref = copy.deepcopy(net)
    onnx_path, base = os.path.join(d, "bn.onnx"), os.path.join(d, "bn_train")
    torch.onnx.export(net.eval(), torch.randn(batch, 1, 8, 8), onnx_path, opset_version=13, input_names=["input"],
                      output_names=["logits"], training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    cfg = os.path.join(d, "train.cfg")
    with open(cfg, "w") as f:
        f.write(f"[train]\nloss=softmax_cross_entropy\noptimizer=momentum\nlearning_rate={lr}\nmomentum=0.9\n")
    r = run([CONVERTER, "--fmk=ONNX", f"--modelFile={onnx_path}", f"--outputFile={base}", "--trainModel=true",
             f"--configFile={cfg}"])
    check(r.returncode == 0, f"bn: converts for training {r.stderr.strip()[-200:]}")
    rng = np.random.default_rng(2)
    x = rng.standard_normal(((steps + more) * batch, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 10, (steps + more) * batch).astype(np.int64)
    cut = steps * batch
    P = {k: os.path.join(d, k + ".npy") for k in ("x1", "y1", "x2", "y2", "xe")}
    for k, v in {"x1": x[:cut], "y1": y[:cut], "x2": x[cut:], "y2": y[cut:], "xe": x[:batch]}.items():
        np.save(P[k], v)
    trained, mindir, back = (os.path.join(d, s) for s in ("trained.ms", "trained.mindir", "back"))
    r = run([TOD, "train", base + ".ms", "--input", P["x1"], "--label", P["y1"], "--batch", str(batch), "--steps",
             str(steps), "--no-shuffle", "--save", trained])
    r2 = run([TOD, "export", trained, "--format", "MINDIR", "-o", mindir]) if r.returncode == 0 else r
    check(r2.returncode == 0, f"bn: trains and exports as a training MINDIR {r2.stderr.strip()[-200:]}")
    if r2.returncode != 0:
        return
    m = load_mindir(mindir)
    prims = prims_of(m)
    check({"BatchNorm", "BatchNormGrad"} <= set(prims), "bn: the MINDIR holds BatchNorm (training) and BatchNormGrad")
    r = run([CONVERTER, "--fmk=MINDIR", f"--modelFile={mindir}", f"--outputFile={back}", "--trainModel=true"])
    check(r.returncode == 0, f"bn: converts back for training {r.stdout.strip()[-200:]}")
    if r.returncode != 0:
        return
    logs, evals = [], []
    for ms in (trained, back + ".ms"):
        log, after, infer = ms + ".loss.npy", ms + ".after.ms", ms + ".infer.ms"
        rr = run([TOD, "train", ms, "--input", P["x2"], "--label", P["y2"], "--batch", str(batch), "--steps", str(more),
                  "--no-shuffle", "--loss-log", log, "--save", after])
        logs.append(np.load(log).reshape(-1) if rr.returncode == 0 else None)
        rr = run([TOD, "export", after, "--format", "MS", "--inference-only", "-o", infer])
        evals.append(tod_run(infer, [x[:batch]])[0] if rr.returncode == 0 else None)
    check(logs[0] is not None and logs[1] is not None and np.array_equal(logs[0], logs[1]),
          f"bn: the round trip continues with bit-identical losses ({logs})")
    check(evals[0] is not None and evals[1] is not None and np.array_equal(evals[0], evals[1]),
          "bn: and the same eval outputs (running statistics carried and updated alike)")
    opt = torch.optim.SGD(ref.parameters(), lr=lr, momentum=0.9)
    ref.train()
    tl = []
    for b in range(steps + more):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(ref(torch.from_numpy(x[b * batch:(b + 1) * batch])),
                                           torch.from_numpy(y[b * batch:(b + 1) * batch]))
        loss.backward()
        opt.step()
        tl.append(loss.item())
    tl = np.array(tl[steps:])
    rel = np.abs(logs[0] - tl) / np.abs(tl) if logs[0] is not None else np.array([1.0])
    check(rel.max() <= 2e-3, f"bn: follows PyTorch continuing from the same state (worst relative {rel.max():.2e})")


def main(exe):
    batch = 8
    model = lenet().eval()
    onnx_path = os.path.join(D, "lenet.onnx")
    torch.onnx.export(model, torch.randn(batch, 1, 32, 32), onnx_path, opset_version=13, input_names=["input"],
                      output_names=["logits"], do_constant_folding=False)
    cfg = os.path.join(D, "train.cfg")
    with open(cfg, "w") as f:
        f.write("[train]\nloss=softmax_cross_entropy\noptimizer=momentum\nlearning_rate=0.05\nmomentum=0.9\n")
    base = os.path.join(D, "lenet_train")
    r = run([CONVERTER, "--fmk=ONNX", f"--modelFile={onnx_path}", f"--outputFile={base}", "--trainModel=true",
             f"--configFile={cfg}"])
    check(r.returncode == 0, f"ONNX LeNet converts with --trainModel=true {r.stderr.strip()}")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch * 3, 1, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, batch * 3).astype(np.int64)
    xp, yp = os.path.join(D, "x.npy"), os.path.join(D, "y.npy")
    np.save(xp, x)
    np.save(yp, y)
    trained = os.path.join(D, "trained.ms")
    r = run([TOD, "train", base + ".ms", "--input", xp, "--label", yp, "--batch", str(batch), "--steps", "3",
             "--no-shuffle", "--save", trained])
    check(r.returncode == 0, f"tod train runs {r.stderr.strip()[-300:]}")
    if r.returncode != 0:
        return
    mindir = os.path.join(D, "trained.mindir")
    ok, how = export(trained, mindir, exe)
    check(ok, f"the trained model exports to MINDIR ({how})")
    if not ok:
        return
    ok, text = ML.protoc_decode(mindir)
    check(ok, "protoc --decode reads the exported MINDIR")
    m = load_mindir(mindir)
    gname = m.graph.name
    names = [p.name for p in m.graph.parameter]
    convw = [p for p in m.graph.parameter if len(p.dims) == 4]
    check(m.producer_name == "MindSpore" and all(n.startswith(gname + ":") for n in names) and names,
          f"MindSpore naming: producer and <graph>:<param> weights ({names[:3]})")
    check(all(n.op_type.startswith("REF::") or n.op_type == "Constant" for n in m.graph.node)
          and all(n.name == n.output[0] for n in m.graph.node), "nodes are REF:: primitives or Constants, name = output")
    convd = {p.name.split(":", 1)[1]: list(p.dims) for p in convw}
    check(convd.get("0.weight") == [6, 1, 5, 5] and convd.get("3.weight") == [16, 6, 5, 5]
          and convd.get("moments.0.weight") == [6, 1, 5, 5], f"conv weights and their moments are KCHW ({convd})")
    back = os.path.join(D, "back")
    r = run([CONVERTER, "--fmk=MINDIR", f"--modelFile={mindir}", f"--outputFile={back}"])
    check(r.returncode == 0, f"converter_lite --fmk=MINDIR reads the export back {(r.stdout + r.stderr).strip()[-300:]}")
    if r.returncode != 0:
        return
    xt = rng.standard_normal((batch, 1, 32, 32)).astype(np.float32)
    # the trained model's inference outputs: an inference-only export of the trained model
    infer = os.path.join(D, "trained_infer.ms")
    r = run([TOD, "export", trained, "--format", "MS", "--inference-only", "-o", infer])
    if r.returncode != 0:
        infer = trained
    (ref,) = tod_run(infer, [xt])
    (got,) = tod_run(back + ".ms", [xt])
    good, msg = close(got, ref, 1e-5)
    check(good, f"ONNX -> .ms -> train -> MINDIR -> .ms gives the trained model's outputs ({msg})")
    # the hand-assembled training graph's inference part exports and re-imports too
    b = ML.Builder(pb2)
    w = ML.lenet_weights(3)
    ML.lenet_train_graph(b, w, 4, 0.01, 0.9)
    tsrc = os.path.join(D, "tos.mindir")
    b.save(tsrc)
    r = run([CONVERTER, "--fmk=MINDIR", f"--modelFile={tsrc}", f"--outputFile={os.path.join(D, 'tos')}", "--trainModel=true"])
    check(r.returncode == 0, "TrainOneStepCell MindIR converts")
    ok, how = export(os.path.join(D, "tos.ms"), os.path.join(D, "tos_back.mindir"), exe)
    check(ok and ML.protoc_decode(os.path.join(D, "tos_back.mindir"))[0], f"its training .ms exports to MINDIR ({how})")
    r = run([CONVERTER, "--fmk=MINDIR", f"--modelFile={os.path.join(D, 'tos_back.mindir')}", f"--outputFile={os.path.join(D, 'tos_back')}"])
    check(r.returncode == 0, f"and converts back {r.stdout.strip()[-200:]}")
    if r.returncode == 0:
        xs = rng.standard_normal((4, 1, 32, 32)).astype(np.float32)
        (a,) = tod_run(os.path.join(D, "tos_back.ms"), [xs])
        ref = ML.torch_lenet({k: torch.from_numpy(v) for k, v in w.items()}, torch.from_numpy(xs)).numpy()
        good, msg = close(a, ref, 1e-4)
        check(good, f"round trip of the MindIR training graph's inference part matches PyTorch ({msg})")
        # and as a training graph (one-hot SoftmaxCrossEntropyWithLogits, ReduceMean's Tile/RealDiv bprop)
        r = run([CONVERTER, "--fmk=MINDIR", f"--modelFile={os.path.join(D, 'tos_back.mindir')}",
                 f"--outputFile={os.path.join(D, 'tos_back_train')}", "--trainModel=true"])
        xp, lp = os.path.join(D, "tos_x.npy"), os.path.join(D, "tos_y.npy")
        np.save(xp, rng.standard_normal((12, 1, 32, 32)).astype(np.float32))
        np.save(lp, np.eye(10, dtype=np.float32)[rng.integers(0, 10, 12)])
        logs = []
        for ms in ("tos.ms", "tos_back_train.ms"):
            log = os.path.join(D, ms + ".loss.npy")
            rr = run([TOD, "train", os.path.join(D, ms), "--input", xp, "--label", lp, "--batch", "4", "--steps", "3",
                      "--no-shuffle", "--loss-log", log])
            logs.append(np.load(log).reshape(-1) if rr.returncode == 0 else None)
        check(r.returncode == 0 and logs[1] is not None and logs[0] is not None and np.array_equal(logs[0], logs[1]),
              f"its training graph round-trips too: the same losses ({logs})")


EXE = driver()
main(EXE)
batch_export()
swish_export()
padded_pooling()
unsupported_training_op()
batchnorm_roundtrip()
fixtures_roundtrip()
train_roundtrip("momentum", EXE)
train_roundtrip("adam", EXE)
finish()
