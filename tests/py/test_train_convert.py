"""test_train_convert: `converter_lite --trainModel=true` on ONNX models exported from PyTorch writes a
MindSpore Lite style training graph (docs/training.md). Decoded with flatc (the independent reader),
each file is checked for structure: the loss is graph output 0, the `label` input follows the data,
one optimizer node (of the configured kind) per trainable weight and none for frozen ones, no gradient
node upstream of a frozen backbone, BatchNorm in training mode only where its parameters train,
trainable weights stored with data under their ONNX initializer names, optimizer state initialised
(moments 0, beta powers 1) and Adam's beta powers advanced by MulFusion + Assign.
One forward + backward pass of the converted graph, run node by node through the kernels
(tests/tools/train_step), gives the loss and every weight's gradient of torch.autograd. Numeric parity
of whole training runs is tested with the train session."""
import os

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

from todtest import BUILD, check, close, convert, finish, flatc_json, run, workdir

TRAIN_STEP = os.path.join(BUILD, "tests", "train_step")


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class ConvBN(nn.Module):
    """A resnet-like block: conv+BN+relu, padded max pool, a residual add, global pool, fc."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        x = F.relu(x + self.bn2(self.conv2(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def export_for_training(model, x, path):
    """PyTorch's eval-mode export folds BatchNorm into the convolution; training-mode export keeps
    it (with running-statistics outputs, which an inference graph does not use: dropped here)."""
    model.train()
    torch.onnx.export(model, x, path, training=torch.onnx.TrainingMode.TRAINING,
                      do_constant_folding=False, opset_version=13)
    m = onnx.load(path)
    for n in m.graph.node:
        if n.op_type == "BatchNormalization":
            del n.output[1:]
    onnx.save(m, path)
    return {i.name: onnx.numpy_helper.to_array(i) for i in m.graph.initializer}


def tensor_data(t):
    return np.array(t.get("data") or [], dtype=np.uint8)


def f32(t):
    return tensor_data(t).view(np.float32)


class Graph:
    def __init__(self, js):
        self.js = js
        self.T = js["allTensors"]
        self.nodes = js["nodes"]
        self.producer = {}
        for n in self.nodes:
            for o in n["outputIndex"]:
                self.producer[o] = n

    def op(self, n):
        return n["primitive"]["value_type"]

    def attrs(self, n):
        return n["primitive"].get("value") or {}

    def by_op(self, op):
        return [n for n in self.nodes if self.op(n) == op]

    def tname(self, i):
        return self.T[i]["name"]


OPTIMIZER_OP = {"sgd": "SGD", "momentum": "ApplyMomentum", "nesterov": "ApplyMomentum", "adam": "Adam",
                "adamw": "Adam"}


def check_common(g, what, init, trainable, optimizer, label_dtype, label_rank, batch):
    T = g.T
    # Roles by name.
    out0 = g.producer.get(g.js["outputIndex"][0])
    check(out0 is not None and "_loss_fn" in out0["name"] and "Gradients" not in out0["name"],
          f"{what}: graph output 0 is the loss ({out0['name'] if out0 else None})")
    ins = [T[i] for i in g.js["inputIndex"]]
    check(len(ins) == 2 and ins[1]["name"] == "label" and ins[1]["dataType"] == label_dtype
          and len(ins[1]["dims"]) == label_rank and ins[1]["dims"][0] == batch and not ins[1].get("data"),
          f"{what}: inputs are data then label ({[(t['name'], t['dataType'], t['dims']) for t in ins]})")
    opt_op = OPTIMIZER_OP[optimizer]
    opts = [n for n in g.nodes if g.op(n) in ("Adam", "SGD", "ApplyMomentum")]
    names = [g.tname(n["inputIndex"][0]) for n in opts]
    check(all(g.op(n) == opt_op for n in opts), f"{what}: optimizer nodes are {opt_op}")
    check(sorted(names) == sorted(trainable) and len(set(names)) == len(names),
          f"{what}: one optimizer per trainable weight ({len(names)} for {len(trainable)})")
    check(all(n["name"].startswith("Default/optimizer-") for n in opts), f"{what}: optimizer node names")
    outs = [g.producer.get(i) for i in g.js["outputIndex"][1:]]
    check(all(o is not None and g.op(o) in ("Adam", "SGD", "ApplyMomentum", "Assign") for o in outs)
          and sum(1 for o in outs if g.op(o) == opt_op) == len(trainable),
          f"{what}: optimizer outputs follow the loss")
    # Weights: ONNX names, stored with the ONNX values (conv weights KHWC), nodeType 0.
    ok = True
    for n in opts:
        w = T[n["inputIndex"][0]]
        src = init[w["name"]]
        ref = src.transpose(0, 2, 3, 1) if src.ndim == 4 else src
        ok &= w["nodeType"] == 0 and list(w["dims"]) == list(ref.shape) and np.array_equal(f32(w), ref.ravel())
    check(ok, f"{what}: trainable weights keep their ONNX names and values")
    # Optimizer state.
    ok = True
    for n in opts:
        w = T[n["inputIndex"][0]]
        numel = int(np.prod(w["dims"]))
        state = [1, 2] if opt_op == "Adam" else [1] if opt_op == "ApplyMomentum" else [3]
        for k in state:
            s = T[n["inputIndex"][k]]
            ok &= s["nodeType"] == 0 and f32(s).size == numel and not f32(s).any()
            ok &= s["name"].split(".", 1)[0] in ("moment1", "moment2", "accum")
    check(ok, f"{what}: optimizer state initialised to zero, named after the weight")
    lr_idx = {"Adam": 5, "SGD": 2, "ApplyMomentum": 2}[opt_op]
    grad_idx = {"Adam": 9, "SGD": 1, "ApplyMomentum": 3}[opt_op]
    lrs = {n["inputIndex"][lr_idx] for n in opts}
    check(len(lrs) == 1 and T[next(iter(lrs))]["name"] == "learning_rate", f"{what}: one shared learning_rate")
    ok = True
    for n in opts:
        gi = n["inputIndex"][grad_idx]
        gp = g.producer.get(gi)
        w = T[n["inputIndex"][0]]
        ok &= gp is not None and T[gi]["dims"] == w["dims"]
    check(ok, f"{what}: each optimizer gets a gradient shaped like its weight")
    grads = [n for n in g.nodes if "Gradients" in n["name"]]
    check(all(n["name"].startswith("Gradients/") for n in grads) and grads, f"{what}: gradient node names")
    if opt_op == "Adam":
        assigns = g.by_op("Assign")
        powers = [T[a["inputIndex"][0]]["name"] for a in assigns]
        check("beta1_power" in powers and "beta2_power" in powers, f"{what}: Assign advances the beta powers")
        ok = True
        for p in ("beta1_power", "beta2_power"):
            t = next(t for t in T if t["name"] == p)
            ok &= f32(t).tolist() == [1.0]
        check(ok, f"{what}: beta powers start at 1.0")
        ok = True
        for n in opts:
            for k in (3, 4):
                m = g.producer.get(n["inputIndex"][k])
                ok &= m is not None and g.op(m) == "MulFusion"
        check(ok, f"{what}: Adam reads beta^t from the MulFusion that advances it")
    return opts


def main():
    d = workdir("train_convert")
    torch.manual_seed(0)
    lenet = os.path.join(d, "lenet.onnx")
    init_l = export_for_training(LeNet5(), torch.randn(4, 1, 32, 32), lenet)
    convbn = os.path.join(d, "convbn.onnx")
    init_c = export_for_training(ConvBN(), torch.randn(2, 3, 16, 16), convbn)
    lenet_w = [k for k in init_l]
    convbn_w = [k for k in init_c if "running" not in k and "num_batches" not in k]

    def run_case(model, init, cfg_lines, tag):
        cfg = os.path.join(d, f"{tag}.cfg")
        with open(cfg, "w") as f:
            f.write("[train]\n" + "".join(l + "\n" for l in cfg_lines))
        out = os.path.join(d, tag)
        rc, lines, err = convert(model, out, "--trainModel=true", f"--configFile={cfg}")
        ok = rc == 0 and lines and lines[-1] == "CONVERT RESULT SUCCESS:0"
        check(ok, f"{tag}: converts ({lines[-1] if lines else err.strip()})")
        if not ok:
            return None
        js, e = flatc_json(out + ".ms")
        check(js is not None, f"{tag}: flatc decodes the file {e}")
        return Graph(js) if js else None

    # LeNet-5 with each optimizer.
    for opt in ("adam", "sgd", "momentum", "nesterov", "adamw"):
        extra = ["weight_decay=0.01"] if opt == "adamw" else []
        g = run_case(lenet, init_l, [f"optimizer={opt}", "learning_rate=0.01"] + extra, f"lenet_{opt}")
        if not g:
            continue
        opts = check_common(g, f"lenet_{opt}", init_l, lenet_w, opt, 34, 1, 4)
        lr = next(t for t in g.T if t["name"] == "learning_rate")
        check(abs(float(f32(lr)[0]) - 0.01) < 1e-9, f"lenet_{opt}: learning_rate 0.01 stored")
        for op in ("Conv2DBackpropFilterFusion", "MaxPoolGrad", "ActivationGrad", "BiasAddGrad"):
            check(len(g.by_op(op)) > 0, f"lenet_{opt}: has {op}")
        # conv1 reads the data input: no input gradient is computed for it.
        check(len(g.by_op("Conv2DBackpropInputFusion")) == 1, f"lenet_{opt}: one Conv2DBackpropInput (conv2)")
        if opt == "nesterov":
            check(all(g.attrs(n).get("use_nesterov") for n in opts), "lenet_nesterov: use_nesterov set")
        if opt == "adamw":
            decays = [n for n in g.by_op("Assign") if "decay" in n["name"]]
            check(len(decays) == len(lenet_w), f"lenet_adamw: one decoupled decay Assign per weight ({len(decays)})")
        if opt == "adam":
            loss = [n for n in g.nodes if "_loss_fn" in n["name"]]
            check(sorted(g.op(n) for n in loss) == ["SparseSoftmaxCrossEntropyWithLogits"] * 2
                  and sorted(bool(g.attrs(n).get("is_grad")) for n in loss) == [False, True],
                  "lenet_adam: SparseSoftmaxCrossEntropyWithLogits loss + is_grad twin (as lenet_tod.ms)")
            print(f"     lenet_adam: {len(g.nodes)} nodes")

    # Losses.
    g = run_case(lenet, init_l, ["loss=mse", "optimizer=sgd"], "lenet_mse")
    if g:
        check_common(g, "lenet_mse", init_l, lenet_w, "sgd", 43, 2, 4)
    g = run_case(lenet, init_l, ["loss=binary_cross_entropy"], "lenet_bce")
    if g:
        check_common(g, "lenet_bce", init_l, lenet_w, "adam", 43, 2, 4)
        check(len(g.by_op("SigmoidCrossEntropyWithLogits")) == 1 and len(g.by_op("SigmoidCrossEntropyWithLogitsGrad")) == 1,
              "lenet_bce: SigmoidCrossEntropyWithLogits + Grad")
    g = run_case(lenet, init_l, ["label_type=onehot"], "lenet_onehot")
    if g:
        check_common(g, "lenet_onehot", init_l, lenet_w, "adam", 43, 2, 4)
        check(len(g.by_op("SoftmaxCrossEntropyWithLogits")) == 1, "lenet_onehot: SoftmaxCrossEntropyWithLogits")
    # Frozen by glob: only the classifier trains, no gradient through the convolutions.
    g = run_case(lenet, init_l, ["frozen=conv*"], "lenet_frozen_conv")
    if g:
        check_common(g, "lenet_frozen_conv", init_l, [w for w in lenet_w if not w.startswith("conv")], "adam", 34, 1, 4)
        check(not g.by_op("Conv2DBackpropFilterFusion") and not g.by_op("Conv2DBackpropInputFusion")
              and not g.by_op("MaxPoolGrad"), "lenet_frozen_conv: no gradient node for the frozen convolutions")

    # Conv + BatchNorm, fully trained: BN in training mode, running stats updated in place.
    g = run_case(convbn, init_c, ["optimizer=momentum"], "convbn_full")
    if g:
        check_common(g, "convbn_full", init_c, convbn_w, "momentum", 34, 1, 2)
        bns = g.by_op("FusedBatchNorm")
        check(len(bns) == 2 and all(g.attrs(n).get("mode") == 1 and len(n["outputIndex"]) == 5
                                    and abs(g.attrs(n).get("momentum") - 0.1) < 1e-7 for n in bns),
              "convbn_full: BatchNorm in training mode (mode 1, 5 outputs, momentum 0.1)")
        check(len(g.by_op("BatchNormGrad")) == 2, "convbn_full: BatchNormGrad per BatchNorm")
        ok = all(g.T[n["inputIndex"][k]]["name"] in init_c and f32(g.T[n["inputIndex"][k]]).size == 8
                 for n in bns for k in (3, 4))
        check(ok, "convbn_full: running statistics stored with data under their ONNX names")
        pads = g.by_op("PadFusion")
        check(len(pads) == 1 and abs(g.attrs(pads[0]).get("constant_value") + 3.4028234663852886e38) < 1e30,
              "convbn_full: padded max pool gets an explicit -FLT_MAX PadFusion")
        check(any(g.op(n) == "AddFusion" and "Gradients" in n["name"] for n in g.nodes),
              "convbn_full: fan-out gradients summed by AddFusion")
    # Transfer learning: only fc trains; frozen BN runs in inference mode; forward only backbone.
    g = run_case(convbn, init_c, ["optimizer=sgd", "trainable=fc.*"], "convbn_fc")
    if g:
        check_common(g, "convbn_fc", init_c, ["fc.weight", "fc.bias"], "sgd", 34, 1, 2)
        bns = g.by_op("FusedBatchNorm")
        check(all(g.attrs(n).get("mode", 0) == 0 and len(n["outputIndex"]) == 1 for n in bns),
              "convbn_fc: frozen BatchNorm stays in inference mode")
        grads = [g.op(n) for n in g.nodes if "Gradients" in n["name"] and "_loss_fn" not in n["name"]]
        check(sorted(grads) == ["BiasAddGrad", "MatMulFusion"],
              f"convbn_fc: gradients only for the classifier ({grads})")
    # Frozen BN under trainable convolutions: dx passes through the inference BatchNorm.
    g = run_case(convbn, init_c, ["frozen=bn*"], "convbn_frozen_bn")
    if g:
        check_common(g, "convbn_frozen_bn", init_c, [w for w in convbn_w if not w.startswith("bn")], "adam", 34, 1, 2)
        check(not g.by_op("BatchNormGrad") and all(g.attrs(n).get("mode", 0) == 0 for n in g.by_op("FusedBatchNorm")),
              "convbn_frozen_bn: no BatchNormGrad, BatchNorm in inference mode")
        check(len(g.by_op("Conv2DBackpropFilterFusion")) == 2, "convbn_frozen_bn: both convolutions get dW")
    gradient_checks(d)
    finish()


def gradient_checks(d):
    """Loss and per-parameter gradients of one step against torch.autograd (same weights, batch)."""
    if not os.path.exists(TRAIN_STEP):
        check(False, f"train_step tool built ({TRAIN_STEP})")
        return
    cases = [
        ("lenet_ce", LeNet5, (4, 1, 32, 32), 10, [], "ce", None),
        ("lenet_mse", LeNet5, (4, 1, 32, 32), 10, ["loss=mse"], "mse", None),
        ("lenet_onehot", LeNet5, (4, 1, 32, 32), 10, ["label_type=onehot"], "onehot", None),
        ("convbn_ce", ConvBN, (2, 3, 16, 16), 4, [], "ce", None),
        ("convbn_frozen_bn", ConvBN, (2, 3, 16, 16), 4, ["frozen=bn*"], "ce", "bn"),
        ("convbn_fc", ConvBN, (2, 3, 16, 16), 4, ["trainable=fc.*"], "ce", "all"),
    ]
    for tag, M, shape, ncls, cfg_lines, loss_kind, frozen in cases:
        torch.manual_seed(1)
        m = M()
        onnx_path = os.path.join(d, f"g_{tag}.onnx")
        export_for_training(m, torch.randn(*shape), onnx_path)
        cfg = os.path.join(d, f"g_{tag}.cfg")
        with open(cfg, "w") as f:
            f.write("[train]\n" + "".join(l + "\n" for l in cfg_lines))
        out = os.path.join(d, f"g_{tag}")
        rc, lines, err = convert(onnx_path, out, "--trainModel=true", f"--configFile={cfg}")
        if rc != 0:
            check(False, f"grad {tag}: converts ({lines[-1] if lines else err})")
            continue
        x = torch.randn(*shape)
        y = torch.randint(0, ncls, (shape[0],))
        if loss_kind == "ce":
            lab = y.numpy().astype(np.int32)
        else:
            lab = F.one_hot(y, ncls).float().numpy() if loss_kind == "onehot" else torch.randn(shape[0], ncls).numpy()
        gdir = os.path.join(d, f"g_{tag}_out")
        os.makedirs(gdir, exist_ok=True)
        np.save(os.path.join(gdir, "x.npy"), x.numpy())
        np.save(os.path.join(gdir, "y.npy"), lab)
        r = run([TRAIN_STEP, out + ".ms", os.path.join(gdir, "x.npy"), os.path.join(gdir, "y.npy"), gdir])
        if r.returncode != 0:
            check(False, f"grad {tag}: train_step runs ({r.stderr.strip()})")
            continue
        m.train()
        if frozen == "bn":
            m.bn1.eval()
            m.bn2.eval()
        elif frozen == "all":
            m.eval()
        m.zero_grad()
        logits = m(x)
        if loss_kind == "ce":
            loss = F.cross_entropy(logits, y)
        elif loss_kind == "onehot":
            loss = F.cross_entropy(logits, torch.from_numpy(lab))
        else:
            loss = F.mse_loss(logits, torch.from_numpy(lab))
        loss.backward()
        got = float(np.load(os.path.join(gdir, "loss.npy")).ravel()[0])
        check(abs(got - float(loss)) <= 1e-5 * max(1.0, abs(float(loss))), f"grad {tag}: loss {got:.6f} vs torch {float(loss):.6f}")
        for k, prm in m.named_parameters():
            path = os.path.join(gdir, f"{k}.npy")
            trains = os.path.exists(path)
            expect = (frozen is None) or (frozen == "bn" and not k.startswith("bn")) or (frozen == "all" and k.startswith("fc"))
            if not expect:
                check(not trains, f"grad {tag}: no gradient for frozen {k}")
                continue
            if not trains:
                check(False, f"grad {tag}: gradient for {k} written")
                continue
            ref = prm.grad.numpy()
            if ref.ndim == 4:
                ref = ref.transpose(0, 2, 3, 1)
            ok, msg = close(np.load(path), ref, 1e-4)
            check(ok, f"grad {tag}: d loss / d {k} vs torch.autograd, {msg}")


if __name__ == "__main__":
    main()
