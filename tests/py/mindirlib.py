"""Hand-assembled MindIR files for tod's tests, following ../shared/formats/mindir.md exactly as
MindSpore 2.x writes them: `REF::<prim key>` nodes with their attributes in ModelProto.primitives
(typed 2.x encoding, C++ attribute names, enum strings), `Constant` value nodes, node names
`<graph>:<label>:<counter>` equal to their single output, scopes in NodeProto.domain, a `shape`
abstract as attribute 0, weights `<graph>:<param>` in GraphProto.parameter with raw_data, and
side effects (UMonad, Load, UpdateState, Depend) around optimizer updates.

The schema is compiled with protoc (python_out) into the test's work directory."""
import os
import subprocess
import sys

import numpy as np

from todtest import SHARED

PROTO_DIR = os.path.join(SHARED, "formats")
PROTO = os.path.join(PROTO_DIR, "mind_ir.proto")


def load_pb2(workdir):
    out = os.path.join(workdir, "pb")
    os.makedirs(out, exist_ok=True)
    subprocess.run(["protoc", f"--python_out={out}", f"-I{PROTO_DIR}", PROTO], check=True)
    if out not in sys.path:
        sys.path.insert(0, out)
    import mind_ir_pb2  # noqa: E402
    return mind_ir_pb2


def protoc_decode(path):
    """`protoc --decode` with mind_ir.proto: (ok, text)."""
    with open(path, "rb") as f:
        r = subprocess.run(["protoc", f"--decode=mind_ir.ModelProto", f"-I{PROTO_DIR}", PROTO], stdin=f,
                           capture_output=True)
    return r.returncode == 0, r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")


DT = {np.dtype("float32"): 1, np.dtype("int32"): 6, np.dtype("int64"): 7, np.dtype("bool"): 9}


class Builder:
    def __init__(self, pb2, graph_name="9_8_construct_wrapper.21"):
        self.pb = pb2
        A = pb2.AttributeProto
        self.A = A
        self.m = pb2.ModelProto(ir_version="0.1.1", producer_name="MindSpore", model_version="2.2.14",
                                little_endian=True, mind_ir_version=1)
        self.g = self.m.graph
        self.g.name = graph_name
        self.gn = graph_name
        self.k = 100
        self.prim_k = 0

    # --- attribute values (2.x typed encoding) ---
    def value(self, a, v):
        A = self.A
        if isinstance(v, bool):
            a.type = A.BOOL
            a.i = int(v)
        elif isinstance(v, int):
            a.type = A.INT64
            a.i = v
        elif isinstance(v, float):
            a.type = A.FLOAT
            a.f = v
        elif isinstance(v, str):
            a.type = A.STRING
            a.s = v.encode()
        elif isinstance(v, (tuple, list)):
            a.type = A.TUPLE if isinstance(v, tuple) else A.LIST
            for e in v:
                x = a.values.add()
                if isinstance(e, (tuple, list)):
                    self.value(x, e)
                elif isinstance(e, bool):
                    x.type = A.BOOL
                    x.ints.append(int(e))
                elif isinstance(e, int):
                    x.type = A.INT64
                    x.ints.append(e)
                elif isinstance(e, float):
                    x.type = A.FLOAT
                    x.floats.append(e)
                elif isinstance(e, str):
                    x.type = A.STRING
                    x.strings.append(e.encode())
        elif isinstance(v, np.ndarray):
            a.type = A.TENSORS
            t = a.tensors.add()
            t.name = "value0"
            t.dims.extend(v.shape)
            t.data_type = DT[v.dtype]
            t.raw_data = np.ascontiguousarray(v).tobytes()
        elif v == "UMonad":
            a.type = A.UMONAD
        else:
            raise ValueError(v)

    def prim(self, op, attrs):
        self.prim_k += 1
        key = f"{op}:{self.prim_k}"
        p = self.m.primitives.add()
        p.name = key
        p.op_type = op
        p.instance_name = f"{op.lower()}{self.prim_k}"
        p.prim_type = 1
        allattrs = dict(attrs)
        for k, v in allattrs.items():
            a = p.attribute.add()
            a.name = k
            self.value(a, v)
        return key

    def _abstract(self, n, shape):
        A = self.A
        a = n.attribute.add()
        a.name = "shape"
        if shape == "UMonad":
            a.type = A.UMONAD
            return
        if isinstance(shape, list) and shape and isinstance(shape[0], list):  # tuple of tensors
            a.type = A.TUPLE
            for s in shape:
                e = a.values.add()
                e.type = A.TENSORS
                t = e.tensors.add()
                t.dims.extend(s)
                t.data_type = 1
            return
        a.type = A.TENSORS
        t = a.tensors.add()
        t.dims.extend(shape)
        t.data_type = 1

    def _name(self, label):
        self.k += 1
        return f"{self.gn}:{label}:{self.k}"

    def input(self, name, shape, dtype=1):
        vi = self.g.input.add()
        vi.name = f"{self.gn}:{name}"
        t = vi.tensor.add()
        t.dims.extend(shape)
        t.data_type = dtype
        return vi.name

    def param(self, name, arr):
        t = self.g.parameter.add()
        t.name = f"{self.gn}:{name}"
        t.dims.extend(arr.shape)
        t.data_type = DT[arr.dtype]
        t.raw_data = np.ascontiguousarray(arr).tobytes()
        t.ref_key = name
        return t.name

    def const(self, v):
        n = self.g.node.add()
        out = self._name("Constant")
        n.output.append(out)
        n.name = out
        n.op_type = "Constant"
        a = n.attribute.add()
        a.name = "value"
        self.value(a, v)
        return out

    def op(self, prim, inputs, scope, shape=None, attrs=None, label=None):
        key = self.prim(prim, dict(attrs or {}))
        n = self.g.node.add()
        out = self._name(label or str(self.k + 1))
        n.input.extend(inputs)
        n.output.append(out)
        n.name = out
        n.op_type = f"REF::{key}"
        n.domain = scope
        if shape is not None:
            self._abstract(n, shape)
        return out

    def plumb(self, prim, inputs, scope=""):
        """MakeTuple / TupleGetItem / Depend / UpdateState / Load: primitives without attributes."""
        return self.op(prim, inputs, scope)

    def output(self, name):
        vi = self.g.output.add()
        vi.name = name

    def save(self, path):
        with open(path, "wb") as f:
            f.write(self.m.SerializeToString())


def conv_attrs(out_channel, k, pad_mode="valid"):
    return {"kernel_size": (k, k), "mode": 1, "out_channel": out_channel, "pad_mode": pad_mode, "pad": (0, 0, 0, 0),
            "stride": (1, 1, 1, 1), "dilation": (1, 1, 1, 1), "group": 1, "groups": 1, "format": "NCHW",
            "pad_list": (0, 0, 0, 0), "input_names": ["x", "w"], "output_names": ["output"]}


POOL = {"kernel_size": (1, 1, 2, 2), "strides": (1, 1, 2, 2), "pad_mode": "VALID", "format": "NCHW",
        "input_names": ["x"], "output_names": ["output"]}


def lenet_weights(seed=0):
    rng = np.random.default_rng(seed)

    def u(*shape, fan):
        b = 1.0 / np.sqrt(fan)
        return rng.uniform(-b, b, size=shape).astype(np.float32)

    return {
        "conv1.weight": u(6, 1, 5, 5, fan=25), "conv1.bias": u(6, fan=25),
        "conv2.weight": u(16, 6, 5, 5, fan=150),
        "fc1.weight": u(120, 400, fan=400), "fc1.bias": u(120, fan=400),
        "fc2.weight": u(84, 120, fan=120), "fc2.bias": u(84, fan=120),
        "fc3.weight": u(10, 84, fan=84), "fc3.bias": u(10, fan=84),
    }


def lenet_forward(b, x, w, n, scope, load=None):
    """LeNet5 (conv1 with bias) in MindSpore primitives; returns a dict of intermediate names."""
    S = scope
    P = (lambda name: load(name)) if load else (lambda name: w[name])
    r = {}
    r["c1"] = b.op("Conv2D", [x, P("conv1.weight")], f"{S}/conv1-Conv2d/Conv2D-op1", [n, 6, 28, 28], conv_attrs(6, 5))
    r["c1b"] = b.op("BiasAdd", [r["c1"], P("conv1.bias")], f"{S}/conv1-Conv2d/BiasAdd-op2", [n, 6, 28, 28],
                    {"format": "NCHW", "input_names": ["x", "b"], "output_names": ["output"]})
    r["r1"] = b.op("ReLU", [r["c1b"]], f"{S}/relu-ReLU/ReLU-op3", [n, 6, 28, 28], {"input_names": ["x"], "output_names": ["output"]})
    r["p1"] = b.op("MaxPool", [r["r1"]], f"{S}/max_pool2d-MaxPool2d/MaxPool-op4", [n, 6, 14, 14], POOL)
    r["c2"] = b.op("Conv2D", [r["p1"], P("conv2.weight")], f"{S}/conv2-Conv2d/Conv2D-op5", [n, 16, 10, 10], conv_attrs(16, 5))
    r["r2"] = b.op("ReLU", [r["c2"]], f"{S}/relu-ReLU/ReLU-op6", [n, 16, 10, 10], {"input_names": ["x"], "output_names": ["output"]})
    r["p2"] = b.op("MaxPool", [r["r2"]], f"{S}/max_pool2d-MaxPool2d/MaxPool-op7", [n, 16, 5, 5], POOL)
    shp = b.const((n, -1))
    r["flat"] = b.op("Reshape", [r["p2"], shp], f"{S}/flatten-Flatten/Reshape-op8", [n, 400],
                     {"input_names": ["tensor", "shape"], "output_names": ["output"]})
    h = r["flat"]
    for i, (fi, fo) in enumerate([(400, 120), (120, 84), (84, 10)], start=1):
        mm = b.op("MatMul", [h, P(f"fc{i}.weight")], f"{S}/fc{i}-Dense/MatMul-op{10 * i}", [n, fo],
                  {"transpose_a": False, "transpose_b": True, "input_names": ["x1", "x2"], "output_names": ["output"]})
        ba = b.op("BiasAdd", [mm, P(f"fc{i}.bias")], f"{S}/fc{i}-Dense/BiasAdd-op{10 * i + 1}", [n, fo],
                  {"format": "NCHW", "input_names": ["x", "b"], "output_names": ["output"]})
        r[f"fc{i}_in"] = h
        r[f"fc{i}"] = ba
        if i < 3:
            h = b.op("ReLU", [ba], f"{S}/relu-ReLU/ReLU-op{10 * i + 2}", [n, fo], {"input_names": ["x"], "output_names": ["output"]})
            r[f"h{i}"] = h
    return r


def torch_lenet(w, x):
    import torch.nn.functional as F
    h = F.max_pool2d(F.relu(F.conv2d(x, w["conv1.weight"], w["conv1.bias"])), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, w["conv2.weight"])), 2)
    h = h.flatten(1)
    h = F.relu(F.linear(h, w["fc1.weight"], w["fc1.bias"]))
    h = F.relu(F.linear(h, w["fc2.weight"], w["fc2.bias"]))
    return F.linear(h, w["fc3.weight"], w["fc3.bias"])


def lenet_train_graph(b, w, n, lr, mom):
    """TrainOneStepCell(WithLossCell(LeNet5, SoftmaxCrossEntropyWithLogits(reduction='mean')),
    Momentum) as MindSpore exports it: forward reading parameters through Load, the loss, MindSpore's
    gradient nodes (written by hand here, as its bprops produce them), one ApplyMomentum per
    parameter with the UMonad chain, output Depend(loss, updates)."""
    x = b.input("x", [n, 1, 32, 32])
    label = b.input("label", [n, 10])
    names = list(w)
    P = {k: b.param(k, w[k]) for k in names}
    M = {k: b.param("moments." + k, np.zeros_like(w[k])) for k in names}
    LR = b.param("learning_rate", np.array(lr, dtype=np.float32))
    MOM = b.param("momentum", np.array(mom, dtype=np.float32))
    u = b.const("UMonad")
    NET = "Default/network-WithLossCell/_backbone-LeNet5"
    loads = {}

    def load(k):
        if k not in loads:
            loads[k] = b.plumb("Load", [P[k], u], "Default/network-WithLossCell/_backbone-LeNet5/Load")
        return loads[k]

    f = lenet_forward(b, x, P, n, NET, load=load)
    LS = "Default/network-WithLossCell/_loss_fn-SoftmaxCrossEntropyWithLogits"
    sce = b.op("SoftmaxCrossEntropyWithLogits", [f["fc3"], label], f"{LS}/SoftmaxCrossEntropyWithLogits-op40",
               [[n], [n, 10]], {"input_names": ["features", "labels"], "output_names": ["loss", "backprop"]})
    lvec = b.plumb("TupleGetItem", [sce, b.const(0)], f"{LS}/TupleGetItem-op41")
    loss = b.op("ReduceMean", [lvec, b.const(())], f"{LS}/ReduceMean-op42", [], {"keep_dims": False,
                "input_names": ["input_x", "axis"], "output_names": ["y"]})
    G = "Gradients/Default/network-WithLossCell"
    sens = b.const(np.array(1.0, dtype=np.float32))
    # ReduceMean bprop: tile the sensitivity to [n] and divide by n
    s1 = b.op("Reshape", [sens, b.const((1,))], f"{G}/_loss_fn-SoftmaxCrossEntropyWithLogits/gradReduceMean/Reshape-op50", [1], {})
    s2 = b.op("Tile", [s1, b.const((n,))], f"{G}/_loss_fn-SoftmaxCrossEntropyWithLogits/gradReduceMean/Tile-op51", [n], {})
    dvec = b.op("RealDiv", [s2, b.const(np.array(float(n), dtype=np.float32))],
                f"{G}/_loss_fn-SoftmaxCrossEntropyWithLogits/gradReduceMean/RealDiv-op52", [n], {})
    # SoftmaxCrossEntropyWithLogits bprop: backprop output times the reshaped dout
    bp = b.plumb("TupleGetItem", [sce, b.const(1)], f"{G}/_loss_fn-SoftmaxCrossEntropyWithLogits/gradSoftmaxCrossEntropyWithLogits/TupleGetItem-op53")
    d1 = b.op("Reshape", [dvec, b.const((-1, 1))], f"{G}/_loss_fn-SoftmaxCrossEntropyWithLogits/gradSoftmaxCrossEntropyWithLogits/Reshape-op54", [n, 1], {})
    dout = b.op("Mul", [bp, d1], f"{G}/_loss_fn-SoftmaxCrossEntropyWithLogits/gradSoftmaxCrossEntropyWithLogits/Mul-op55", [n, 10], {})
    GB = f"{G}/_backbone-LeNet5"
    grads = {}
    dims = {1: (400, 120), 2: (120, 84), 3: (84, 10)}
    for i in (3, 2, 1):
        fi, fo = dims[i]
        grads[f"fc{i}.bias"] = b.op("BiasAddGrad", [dout], f"{GB}/fc{i}-Dense/gradBiasAdd/BiasAddGrad-op6{i}", [fo], {"format": "NCHW"})
        grads[f"fc{i}.weight"] = b.op("MatMul", [dout, f[f"fc{i}_in"]], f"{GB}/fc{i}-Dense/gradMatMul/MatMul-op7{i}", [fo, fi],
                                      {"transpose_a": True, "transpose_b": False})
        dh = b.op("MatMul", [dout, load(f"fc{i}.weight")], f"{GB}/fc{i}-Dense/gradMatMul/MatMul-op8{i}", [n, fi],
                  {"transpose_a": False, "transpose_b": False})
        if i > 1:
            dout = b.op("ReluGrad", [dh, f[f"h{i - 1}"]], f"{GB}/relu-ReLU/gradReLU/ReluGrad-op9{i}", [n, fi], {})
        else:
            dout = dh
    dp2 = b.op("Reshape", [dout, b.const((n, 16, 5, 5))], f"{GB}/flatten-Flatten/gradReshape/Reshape-op100", [n, 16, 5, 5], {})
    dr2 = b.op("MaxPoolGrad", [f["r2"], f["p2"], dp2], f"{GB}/max_pool2d-MaxPool2d/gradMaxPool/MaxPoolGrad-op101", [n, 16, 10, 10], POOL)
    dc2 = b.op("ReluGrad", [dr2, f["r2"]], f"{GB}/relu-ReLU/gradReLU/ReluGrad-op102", [n, 16, 10, 10], {})
    ca2 = conv_attrs(16, 5)
    grads["conv2.weight"] = b.op("Conv2DBackpropFilter", [dc2, f["p1"], b.const((16, 6, 5, 5))],
                                 f"{GB}/conv2-Conv2d/gradConv2D/Conv2DBackpropFilter-op103", [16, 6, 5, 5], ca2)
    dp1 = b.op("Conv2DBackpropInput", [dc2, load("conv2.weight"), b.const((n, 6, 14, 14))],
               f"{GB}/conv2-Conv2d/gradConv2D/Conv2DBackpropInput-op104", [n, 6, 14, 14], ca2)
    dr1 = b.op("MaxPoolGrad", [f["r1"], f["p1"], dp1], f"{GB}/max_pool2d-MaxPool2d/gradMaxPool/MaxPoolGrad-op105", [n, 6, 28, 28], POOL)
    dc1 = b.op("ReluGrad", [dr1, f["r1"]], f"{GB}/relu-ReLU/gradReLU/ReluGrad-op106", [n, 6, 28, 28], {})
    grads["conv1.bias"] = b.op("BiasAddGrad", [dc1], f"{GB}/conv1-Conv2d/gradBiasAdd/BiasAddGrad-op107", [6], {"format": "NCHW"})
    grads["conv1.weight"] = b.op("Conv2DBackpropFilter", [dc1, x, b.const((6, 1, 5, 5))],
                                 f"{GB}/conv1-Conv2d/gradConv2D/Conv2DBackpropFilter-op108", [6, 1, 5, 5], conv_attrs(6, 5))
    # Momentum: one ApplyMomentum per parameter, ordered by the U chain
    OPT = "Default/optimizer-Momentum"
    lr_l = b.plumb("Load", [LR, u], f"{OPT}/Load")
    mom_l = b.plumb("Load", [MOM, u], f"{OPT}/Load")
    outs = []
    for i, k in enumerate(names):
        o = b.op("ApplyMomentum", [P[k], M[k], lr_l, grads[k], mom_l, u], f"{OPT}/ApplyMomentum-op{200 + i}", list(w[k].shape),
                 {"use_nesterov": False, "use_locking": False, "gradient_scale": 1.0, "side_effect_mem": True})
        u = b.plumb("UpdateState", [u, o], f"{OPT}/UpdateState")
        outs.append(o)
    tup = b.plumb("MakeTuple", outs, OPT)
    dep = b.plumb("Depend", [tup, u], OPT)
    res = b.plumb("Depend", [loss, dep], "Default")
    b.output(res)
    return names
