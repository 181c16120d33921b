"""onnx_import against the onnx package's own reading of the same files.

Models come from torch.onnx.export (LeNet-5, resnet18, mobilenet_v2 at opset 13) and from
onnx.helper (one small model per operator family, opsets 9..13). tests/tools/onnx_dump prints
the imported IR as JSON and writes constant tensor bytes; every check compares that with
onnx/numpy: names, input shapes, initializer bytes (numpy_helper.to_array), op mapping and
attribute conversion. Truncated, bit-flipped and random files must fail cleanly.
"""
import json
import os
import random
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

BUILD = os.environ.get("TOD_BUILD", "")
WORK = os.environ.get("TOD_WORK") or tempfile.mkdtemp(prefix="tod_onnx_")
DUMP = os.environ.get("TOD_ONNX_DUMP") or os.path.join(BUILD, "tests", "onnx_dump")

GRAPH_FILE_ERR, NOT_SUPPORT = -200, -7
IR_DT = {TensorProto.FLOAT: 43, TensorProto.UINT8: 37, TensorProto.INT8: 32,
         TensorProto.UINT16: 38, TensorProto.INT16: 33, TensorProto.INT32: 34,
         TensorProto.INT64: 35, TensorProto.BOOL: 30, TensorProto.FLOAT16: 42,
         TensorProto.DOUBLE: 44, TensorProto.UINT32: 39, TensorProto.UINT64: 40}
# ONNX op -> primitive of the IR node that carries the ONNX node's name.
PRIMARY = {"Conv": "Conv2DFusion", "Gemm": "MatMulFusion", "MatMul": "MatMulFusion",
           "Relu": "Activation", "Clip": "Activation", "Add": "AddFusion", "Mul": "MulFusion",
           "MaxPool": "MaxPoolFusion", "AveragePool": "AvgPoolFusion",
           "GlobalAveragePool": "AvgPoolFusion", "Flatten": "Flatten", "Reshape": "Reshape",
           "BatchNormalization": "FusedBatchNorm", "Shape": "Shape", "Gather": "Gather",
           "Unsqueeze": "Unsqueeze", "Concat": "Concat", "Transpose": "Transpose",
           "Softmax": "Softmax", "Sigmoid": "Activation", "HardSigmoid": "Activation",
           "HardSwish": "Activation", "ReduceMean": "ReduceFusion", "Slice": "StridedSlice",
           "Split": "Split", "Squeeze": "Squeeze", "Pad": "PadFusion", "Cast": "Cast",
           "Resize": "Resize", "Sub": "SubFusion", "Div": "DivFusion", "Pow": "PowFusion",
           "Tanh": "Activation", "LeakyRelu": "Activation", "Exp": "ExpFusion",
           "Sqrt": "Sqrt", "Erf": "Erf", "Where": "Where", "Equal": "Equal",
           "ConstantOfShape": "ConstantOfShape", "Expand": "BroadcastTo", "Range": "Range",
           "Not": "LogicalNot", "Max": "Maximum", "Min": "Minimum", "Sum": "AddFusion"}

failures = []
checks = [0]


def check(cond, msg):
    checks[0] += 1
    if not cond:
        failures.append(msg)
        print("FAIL:", msg)


def dump(path, data_dir=None):
    args = [DUMP, path] + ([data_dir] if data_dir else [])
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"onnx_dump {path} exited {p.returncode}: {p.stderr[-2000:]}")
    return json.loads(p.stdout)


def save(model, name):
    path = os.path.join(WORK, name + ".onnx")
    onnx.save(model, path)
    return path


def compare(path, label):
    """Structural comparison of the import of path with onnx's view; returns the IR graph."""
    model = onnx.load(path)
    data_dir = os.path.join(WORK, label + "_data")
    os.makedirs(data_dir, exist_ok=True)
    res = dump(path, data_dir)
    check(res["status"] == 0, f"{label}: import failed: {res['error']}")
    if res["status"] != 0:
        return None
    g = res["graph"]
    T = g["tensors"]
    by_name = {t["name"]: i for i, t in enumerate(T)}
    check(g["fmk_type"] == 2, f"{label}: fmk_type {g['fmk_type']}")
    inits = {i.name: i for i in model.graph.initializer}
    # Initializers: same name, dtype, dims and bytes as numpy_helper.to_array.
    for name, init in inits.items():
        if name not in by_name:
            continue  # unused initializers may be absent only if nothing refers to them
        t = T[by_name[name]]
        arr = numpy_helper.to_array(init)
        check(t["kind"] == 2, f"{label}: initializer {name} is not constant")
        check(t["dtype"] == IR_DT[init.data_type], f"{label}: {name} dtype {t['dtype']}")
        check(t["dims"] == list(arr.shape), f"{label}: {name} dims {t['dims']} vs {arr.shape}")
        with open(os.path.join(data_dir, f"{by_name[name]}.bin"), "rb") as f:
            check(f.read() == arr.tobytes(), f"{label}: {name} bytes differ")
    # Graph inputs (initializers excluded) with shapes; dim_param -> -1.
    want_inputs = [i for i in model.graph.input if i.name not in inits]
    check(len(g["inputs"]) == len(want_inputs), f"{label}: {len(g['inputs'])} inputs")
    for idx, vi in zip(g["inputs"], want_inputs):
        t = T[idx]
        dims = [d.dim_value if d.HasField("dim_value") else -1
                for d in vi.type.tensor_type.shape.dim]
        check(t["name"] == vi.name and t["kind"] == 1, f"{label}: input {t['name']}")
        check(t["dims"] == dims, f"{label}: input {vi.name} dims {t['dims']} vs {dims}")
        check(t["dtype"] == IR_DT[vi.type.tensor_type.elem_type], f"{label}: input dtype")
    check([T[i]["name"] for i in g["outputs"]] == [o.name for o in model.graph.output],
          f"{label}: outputs {[T[i]['name'] for i in g['outputs']]}")
    # Every translated ONNX node appears once under its name with the expected primitive, and
    # reads its data input under the ONNX name.
    nodes = {n["name"]: n for n in g["nodes"]}
    skipped = ("Constant", "Identity", "Dropout")
    alias = {}
    for n in model.graph.node:
        if n.op_type in ("Identity", "Dropout"):
            alias[n.output[0]] = alias.get(n.input[0], n.input[0])
    out_names = {o.name for o in model.graph.output}
    for k, n in enumerate(model.graph.node):
        if n.op_type in skipped:
            continue
        name = n.name or f"{n.op_type}_{k}"
        check(name in nodes, f"{label}: node {name} missing")
        if name not in nodes:
            continue
        ir = nodes[name]
        if n.op_type in PRIMARY and not (n.op_type == "Clip" and ir["op"] == "Clip"):
            check(ir["op"] == PRIMARY[n.op_type], f"{label}: {name} {n.op_type} -> {ir['op']}")
        if n.op_type not in ("AveragePool", "Max", "Min", "Sum") and n.input:
            got = T[ir["in"][0]]["name"] if ir["in"][0] >= 0 else ""
            want = alias.get(n.input[0], n.input[0])
            check(got == want or got in out_names, f"{label}: {name} reads {got}, not {want}")
        if n.op_type == "Conv":
            check_conv(label, n, ir, T)
    return g


def attr(n, key, default=None):
    for a in n.attribute:
        if a.name == key:
            return helper.get_attribute_value(a)
    return default


def check_conv(label, n, ir, T):
    a = ir["attrs"]
    w = T[ir["in"][1]]
    ks = attr(n, "kernel_shape", w["dims"][2:])
    pads = attr(n, "pads", [0, 0, 0, 0])
    check(a["kernel_size"] == list(ks), f"{label}: {n.name} kernel_size")
    check(a["stride"] == list(attr(n, "strides", [1, 1])), f"{label}: {n.name} stride")
    check(a["pad_list"] == [pads[0], pads[2], pads[1], pads[3]], f"{label}: {n.name} pad_list")
    check(a["group"] == attr(n, "group", 1), f"{label}: {n.name} group")
    check(a["out_channel"] == w["dims"][0], f"{label}: {n.name} out_channel")
    check(a["in_channel"] == w["dims"][1] * attr(n, "group", 1), f"{label}: {n.name} in_channel")


def count_ops(g):
    out = {}
    for n in g["nodes"]:
        out[n["op"]] = out.get(n["op"], 0) + 1
    return out


# --- PyTorch exports -----------------------------------------------------------------------

def torch_models():
    import torch
    import torch.nn as nn
    import torchvision

    torch.manual_seed(0)

    class LeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.c2 = nn.Conv2d(1, 6, 5, padding=2), nn.Conv2d(6, 16, 5)
            self.f1, self.f2, self.f3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)

        def forward(self, x):
            x = torch.nn.functional.avg_pool2d(torch.relu(self.c1(x)), 2)
            x = torch.max_pool2d(torch.relu(self.c2(x)), 2)
            x = x.reshape(x.shape[0], -1)
            return self.f3(torch.relu(self.f2(torch.relu(self.f1(x)))))

    out = {}
    for name, m, shape in (("lenet", LeNet(), (1, 1, 28, 28)),
                           ("resnet18", torchvision.models.resnet18(), (1, 3, 224, 224)),
                           ("mobilenet_v2", torchvision.models.mobilenet_v2(), (1, 3, 224, 224))):
        m.eval()
        path = os.path.join(WORK, name + ".onnx")
        # Training-mode export keeps BatchNormalization nodes, so the BN path is exercised too.
        kw = {"training": torch.onnx.TrainingMode.PRESERVE} if name == "resnet18" else {}
        torch.onnx.export(m, torch.randn(*shape), path, opset_version=13,
                          input_names=["x"], output_names=["y"], **kw)
        out[name] = path
    return out


def test_torch_models():
    paths = torch_models()
    g = compare(paths["lenet"], "lenet")
    if g:
        ops = count_ops(g)
        check(ops.get("Conv2DFusion") == 2 and ops.get("MatMulFusion") == 3,
              f"lenet ops {ops}")
        # LeNet's Reshape(x.shape[0], -1) goes through Shape -> Cast(int64).
        shapes = [n for n in g["nodes"] if n["op"] == "Shape"]
        for s in shapes:
            cast = [n for n in g["nodes"] if n["op"] == "Cast" and s["out"][0] in n["in"]]
            check(len(cast) == 1 and g["tensors"][cast[0]["out"][0]]["dtype"] == 35,
                  "lenet: Shape not followed by a Cast to int64")
    g = compare(paths["resnet18"], "resnet18")
    if g:
        ops = count_ops(g)
        check(ops.get("Conv2DFusion") == 20 and ops.get("AvgPoolFusion") == 1 and
              ops.get("MaxPoolFusion") == 1 and ops.get("AddFusion") == 8, f"resnet18 ops {ops}")
        check(any(t["borrowed"] for t in g["tensors"]), "resnet18: no weight borrowed zero-copy")
        gp = [n for n in g["nodes"] if n["op"] == "AvgPoolFusion"][0]
        check(gp["attrs"]["global"] == 1, "resnet18: GlobalAveragePool not global")
    g = compare(paths["mobilenet_v2"], "mobilenet_v2")
    if g:
        relu6 = [n for n in g["nodes"] if n["op"] == "Activation" and n["attrs"]["activation_type"] == 3]
        check(len(relu6) == 35, f"mobilenet_v2: {len(relu6)} RELU6")
        dw = [n for n in g["nodes"] if n["op"] == "Conv2DFusion" and n["attrs"]["group"] > 1]
        check(len(dw) == 17, f"mobilenet_v2: {len(dw)} depthwise convs")
    return paths


# --- onnx.helper models ----------------------------------------------------------------------

def make(nodes, inputs, outputs, inits=(), opset=13, name="m"):
    g = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def vi(name, shape, t=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, t, shape)


def run(model, label):
    return dump(save(model, label))


def node_named(g, name):
    return [n for n in g["nodes"] if n["name"] == name][0]


def test_helper_models():
    x = vi("x", [1, 3, 8, 8])
    y = vi("y", None)
    rng = np.random.default_rng(0)

    # Typed (non-raw) initializers of many dtypes, plus a graph input that is an initializer.
    arrays = {"f": rng.standard_normal((2, 3)).astype(np.float32),
              "d": rng.standard_normal(4).astype(np.float64),
              "i64": np.array([-5, 7, 2**40], dtype=np.int64),
              "i32": np.array([-1, 2, 3], dtype=np.int32),
              "i8": np.array([-128, 5], dtype=np.int8),
              "u8": np.array([255, 0], dtype=np.uint8),
              "h": np.array([1.5, -2.0], dtype=np.float16),
              "b": np.array([True, False, True]),
              "u64": np.array([2**63 + 5], dtype=np.uint64),
              "empty": np.zeros((0, 3), dtype=np.float32)}
    inits = []
    for k, a in arrays.items():
        t = helper.make_tensor(k, onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[a.dtype], a.shape,
                               a.flatten().tolist())
        inits.append(t)
    inits.append(numpy_helper.from_array(arrays["f"] * 2, "raw_f"))
    outs = [vi(k, None, onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[a.dtype]) for k, a in arrays.items()]
    m = make([helper.make_node("Relu", ["x"], ["y"], name="r")], [x, vi("f", [2, 3])],
             [y] + outs + [vi("raw_f", [2, 3])], inits)
    compare(save(m, "typed_inits"), "typed_inits")

    # Identity/Dropout removal, Constant nodes, an Identity feeding a graph output.
    c = helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(
        np.array([1.0, 2.0, 3.0], dtype=np.float32).reshape(1, 3, 1, 1)))
    cf = helper.make_node("Constant", [], ["cf"], value_float=0.5)
    nodes = [c, cf,
             helper.make_node("Identity", ["x"], ["xi"]),
             helper.make_node("Add", ["xi", "c"], ["a"], name="add"),
             helper.make_node("Dropout", ["a"], ["ad"]),
             helper.make_node("Mul", ["ad", "cf"], ["m"], name="mul"),
             helper.make_node("Identity", ["m"], ["y"])]
    m = make(nodes, [x], [y])
    g = compare(save(m, "identity"), "identity")
    if g:
        T = g["tensors"]
        check(len(g["nodes"]) == 2, f"identity: {len(g['nodes'])} nodes")
        add, mul = node_named(g, "add"), node_named(g, "mul")
        check(T[add["in"][0]]["name"] == "x", "identity: Add does not read x")
        check(mul["in"][0] == add["out"][0], "identity: Dropout not removed")
        check(T[mul["out"][0]]["name"] == "y" and g["outputs"] == mul["out"],
              "identity: output not renamed to y")
        check(T[add["in"][1]]["kind"] == 2 and T[add["in"][1]]["dims"] == [1, 3, 1, 1],
              "identity: Constant not a const tensor")
        check(T[mul["in"][1]]["dims"] == [], "identity: value_float not a scalar")

    # Gemm: alpha/beta folded into constants, transB, a [M,N] bias -> AddFusion.
    B = rng.standard_normal((4, 5)).astype(np.float32)
    C = rng.standard_normal(4).astype(np.float32)
    C2 = rng.standard_normal((2, 4)).astype(np.float32)
    m = make([helper.make_node("Gemm", ["a", "B", "C"], ["y"], name="g", alpha=2.0, beta=0.5,
                               transB=1),
              helper.make_node("Gemm", ["a", "B", "C2"], ["y2"], name="g2", transB=1)],
             [vi("a", [2, 5])], [y, vi("y2", None)],
             [numpy_helper.from_array(B, "B"), numpy_helper.from_array(C, "C"),
              numpy_helper.from_array(C2, "C2")])
    res = run(m, "gemm")
    check(res["status"] == 0, f"gemm: {res['error']}")
    if res["status"] == 0:
        g = res["graph"]
        mm = node_named(g, "g")
        check(mm["op"] == "MatMulFusion" and mm["attrs"]["transpose_b"] == 1, "gemm: attrs")
        g2 = node_named(g, "g2")
        check(g2["op"] == "AddFusion" and len(g["nodes"]) == 3, "gemm: [M,N] bias not an Add")
    d = os.path.join(WORK, "gemm_data")
    os.makedirs(d, exist_ok=True)
    res = dump(save(m, "gemm2"), d)
    if res["status"] == 0:
        mm = node_named(res["graph"], "g")
        bs = np.fromfile(os.path.join(d, f"{mm['in'][1]}.bin"), dtype=np.float32)
        cs = np.fromfile(os.path.join(d, f"{mm['in'][2]}.bin"), dtype=np.float32)
        check(np.array_equal(bs, (B * 2).flatten()) and np.array_equal(cs, C * 0.5),
              "gemm: alpha/beta not folded")

    # Clip: opset 11 inputs and opset 9 attributes; Relu6 vs general clip.
    z = numpy_helper.from_array(np.array(0, dtype=np.float32), "lo")
    six = numpy_helper.from_array(np.array(6, dtype=np.float32), "hi")
    m = make([helper.make_node("Clip", ["x", "lo", "hi"], ["y"], name="c")], [x], [y], [z, six])
    g = run(m, "clip11")["graph"]
    check(node_named(g, "c")["attrs"]["activation_type"] == 3, "clip11: not RELU6")
    m = make([helper.make_node("Clip", ["x"], ["y"], name="c", min=-1.0, max=2.0)], [x], [y], opset=9)
    g = run(m, "clip9")["graph"]
    cn = node_named(g, "c")
    check(cn["op"] == "Clip" and cn["attrs"]["min"] == -1 and cn["attrs"]["max"] == 2, "clip9")

    # Pooling: pads reorder, ceil_mode, count_include_pad -> PadFusion, dilations refused.
    m = make([helper.make_node("AveragePool", ["x"], ["y"], name="p", kernel_shape=[3, 3],
                               pads=[1, 2, 3, 4], strides=[2, 2], ceil_mode=1,
                               count_include_pad=1)], [x], [y])
    g = run(m, "avgpool")["graph"]
    p = node_named(g, "p")
    pad = [n for n in g["nodes"] if n["op"] == "PadFusion"]
    check(len(pad) == 1 and p["attrs"]["pad"] == [0, 0, 0, 0] and p["attrs"]["round_mode"] == 1,
          f"avgpool: {g['nodes']}")
    m = make([helper.make_node("MaxPool", ["x"], ["y"], name="p", kernel_shape=[3, 3],
                               pads=[1, 2, 3, 4])], [x], [y])
    check(node_named(run(m, "maxpool")["graph"], "p")["attrs"]["pad"] == [1, 3, 2, 4], "maxpool pads")
    m = make([helper.make_node("MaxPool", ["x"], ["y"], name="mp", kernel_shape=[3, 3],
                               dilations=[2, 2])], [x], [y])
    r = run(m, "maxpool_dil")
    check(r["status"] == NOT_SUPPORT and "mp" in r["error"] and "dilations" in r["error"],
          f"maxpool dilations: {r}")

    # Shape manipulation with constants as inputs.
    sh = numpy_helper.from_array(np.array([1, -1], dtype=np.int64), "shape")
    st = numpy_helper.from_array(np.array([1, 2], dtype=np.int64), "starts")
    en = numpy_helper.from_array(np.array([3, 100], dtype=np.int64), "ends")
    ax = numpy_helper.from_array(np.array([1, -1], dtype=np.int64), "axes")
    sq = numpy_helper.from_array(np.array([0], dtype=np.int64), "sqa")
    sp = numpy_helper.from_array(np.array([1, 2], dtype=np.int64), "split")
    nodes = [helper.make_node("Transpose", ["x"], ["t"], name="tr", perm=[0, 2, 3, 1]),
             helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["s"], name="sl"),
             helper.make_node("Squeeze", ["x", "sqa"], ["q"], name="sq"),
             helper.make_node("Unsqueeze", ["q", "sqa"], ["u"], name="us"),
             helper.make_node("Split", ["x", "split"], ["s1", "s2"], name="spl", axis=1),
             helper.make_node("Reshape", ["x", "shape"], ["r"], name="rs"),
             helper.make_node("Concat", ["s1", "s2"], ["cc"], name="cat", axis=1),
             helper.make_node("Gather", ["x", "starts"], ["ga"], name="ga", axis=1),
             helper.make_node("Shape", ["x"], ["shp"], name="shp"),
             helper.make_node("Cast", ["shp"], ["shf"], name="cast", to=TensorProto.FLOAT),
             helper.make_node("ReduceMean", ["x"], ["rm"], name="rm", axes=[2, 3], keepdims=0),
             helper.make_node("ReduceSum", ["x", "axes"], ["rsum"], name="rsum"),
             helper.make_node("Softmax", ["x"], ["sm"], name="sm", axis=1),
             helper.make_node("Pad", ["x", "pads"], ["pd"], name="pd", mode="reflect")]
    pads = numpy_helper.from_array(np.array([0, 0, 1, 2, 0, 0, 3, 4], dtype=np.int64), "pads")
    outs = ["t", "s", "u", "r", "cc", "ga", "shf", "rm", "rsum", "sm", "pd"]
    m = make(nodes, [x], [vi(o, None) for o in outs], [sh, st, en, ax, sq, sp, pads])
    d = os.path.join(WORK, "shapes_data")
    os.makedirs(d, exist_ok=True)
    res = dump(save(m, "shapes"), d)
    check(res["status"] == 0, f"shapes: {res['error']}")
    if res["status"] == 0:
        g = res["graph"]
        T = g["tensors"]

        def const(i, dt=np.int32):
            return np.fromfile(os.path.join(d, f"{i}.bin"), dtype=dt).tolist()

        check(const(node_named(g, "tr")["in"][1]) == [0, 2, 3, 1], "transpose perm")
        sl = node_named(g, "sl")
        check(sl["op"] == "StridedSlice" and const(sl["in"][1]) == [0, 1, 0, 2] and
              const(sl["in"][2]) == [2**31 - 1, 3, 2**31 - 1, 100] and
              const(sl["in"][3]) == [1, 1, 1, 1], f"slice consts")
        check(node_named(g, "sq")["attrs"]["axis"] == [0], "squeeze axis")
        spl = node_named(g, "spl")
        check(spl["attrs"]["size_splits"] == [1, 2] and spl["attrs"]["output_num"] == 2 and
              len(spl["out"]) == 2, "split attrs")
        ga = node_named(g, "ga")
        check(T[ga["in"][2]]["dims"] == [] and const(ga["in"][2]) == [1], "gather axis")
        shp = node_named(g, "shp")
        to64 = [n for n in g["nodes"] if n["op"] == "Cast" and n["in"][0] == shp["out"][0]]
        check(shp["op"] == "Shape" and T[shp["out"][0]]["dtype"] == 34 and len(to64) == 1 and
              const(to64[0]["in"][1]) == [35] and T[to64[0]["out"][0]]["name"] == "shp" and
              T[to64[0]["out"][0]]["dtype"] == 35, "Shape is not Shape(int32) + Cast(int64)")
        cast = node_named(g, "cast")
        check(const(cast["in"][1]) == [43] and T[cast["out"][0]]["dtype"] == 43, "cast to")
        rm = node_named(g, "rm")
        check(const(rm["in"][1]) == [2, 3] and rm["attrs"]["keep_dims"] == 0 and
              rm["attrs"]["mode"] == 0, "reducemean")
        rsum = node_named(g, "rsum")
        check(const(rsum["in"][1]) == [1, -1] and rsum["attrs"]["mode"] == 4, "reducesum")
        check(node_named(g, "sm")["attrs"]["axis"] == [1], "softmax axis")
        pd = node_named(g, "pd")
        check(const(pd["in"][1]) == [0, 0, 0, 0, 1, 3, 2, 4] and T[pd["in"][1]]["dims"] == [4, 2]
              and pd["attrs"]["padding_mode"] == 1, "pad paddings")

    # Softmax before opset 13 on an input of unknown rank: refused, naming the node.
    m = make([helper.make_node("Relu", ["x"], ["r"]),
              helper.make_node("Softmax", ["r"], ["y"], name="smx", axis=1)], [vi("x", None)], [y],
             opset=11)
    r = run(m, "softmax11")
    check(r["status"] == NOT_SUPPORT and "smx" in r["error"], f"softmax11: {r}")

    # Resize with constant scales (opset 13) and Upsample (opset 9).
    roi = numpy_helper.from_array(np.array([], dtype=np.float32), "roi")
    sc = numpy_helper.from_array(np.array([1, 1, 2, 2], dtype=np.float32), "scales")
    m = make([helper.make_node("Resize", ["x", "roi", "scales"], ["y"], name="rz", mode="linear",
                               coordinate_transformation_mode="align_corners")], [x], [y], [roi, sc])
    rz = node_named(run(m, "resize")["graph"], "rz")
    check(rz["attrs"]["method"] == 0 and rz["attrs"]["coordinate_transform_mode"] == 1, "resize")
    m = make([helper.make_node("Upsample", ["x", "scales"], ["y"], name="up")], [x], [y], [sc],
             opset=9)
    up = node_named(run(m, "upsample")["graph"], "up")
    check(up["attrs"]["method"] == 1 and up["attrs"]["nearest_mode"] == 3, "upsample")

    # Unknown op: NOT_SUPPORT naming node and op.
    m = make([helper.make_node("Bernoulli", ["x"], ["y"], name="weird")], [x], [y])
    r = run(m, "unknown")
    check(r["status"] == NOT_SUPPORT and "weird" in r["error"] and "Bernoulli" in r["error"], f"{r}")
    # Opset out of range.
    r = run(make([helper.make_node("Relu", ["x"], ["y"])], [x], [y], opset=18), "opset18")
    check(r["status"] == NOT_SUPPORT, f"opset18: {r}")
    # A node reading an undefined value is a broken file.
    r = run(make([helper.make_node("Relu", ["nope"], ["y"])], [x], [y]), "undef")
    check(r["status"] == GRAPH_FILE_ERR, f"undef: {r}")


def test_external_data():
    w = np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2)
    d = os.path.join(WORK, "ext")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "w.bin"), "wb") as f:
        f.write(b"\0" * 16 + w.tobytes())

    def model(location, offset="16", length=str(w.nbytes)):
        t = TensorProto()
        t.name, t.data_type = "w", TensorProto.FLOAT
        t.dims.extend(w.shape)
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", location), ("offset", offset), ("length", length)):
            e = t.external_data.add()
            e.key, e.value = k, v
        m = make([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")],
                 [vi("x", [1, 3, 4, 4])], [vi("y", None)], [t])
        path = os.path.join(d, "m.onnx")
        with open(path, "wb") as f:
            f.write(m.SerializeToString())
        return path

    path = model("w.bin")
    os.makedirs(os.path.join(d, "data"), exist_ok=True)
    res = dump(path, os.path.join(d, "data"))
    check(res["status"] == 0, f"external: {res['error']}")
    if res["status"] == 0:
        i = [k for k, t in enumerate(res["graph"]["tensors"]) if t["name"] == "w"][0]
        with open(os.path.join(d, "data", f"{i}.bin"), "rb") as f:
            check(f.read() == w.tobytes(), "external: bytes differ")
    for bad in ("../w.bin", "/etc/passwd", "sub/../../w.bin"):
        r = dump(model(bad))
        check(r["status"] == GRAPH_FILE_ERR, f"external {bad}: {r}")
    r = dump(model("w.bin", length="999"))
    check(r["status"] == GRAPH_FILE_ERR, f"external bad length: {r}")
    r = dump(model("w.bin", offset="100000"))
    check(r["status"] == GRAPH_FILE_ERR, f"external bad offset: {r}")


def test_broken_files(paths):
    with open(paths["lenet"], "rb") as f:
        data = f.read()
    path = os.path.join(WORK, "broken.onnx")
    cuts = sorted(set(list(range(0, 64)) + list(range(0, len(data), max(1, len(data) // 300)))))
    for cut in cuts:
        if cut >= len(data):
            continue
        with open(path, "wb") as f:
            f.write(data[:cut])
        r = dump(path)
        if r["status"] != GRAPH_FILE_ERR:
            check(False, f"truncated at {cut}: status {r['status']} {r['error']}")
            break
    rnd = random.Random(1)
    for k in range(100):
        with open(path, "wb") as f:
            f.write(bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 2000))))
        r = dump(path)
        if r["status"] != GRAPH_FILE_ERR:
            check(False, f"garbage {k}: status {r['status']} {r['error']}")
            break
    # Bit flips: any outcome but a crash (dump raises on a signal exit).
    for k in range(150):
        b = bytearray(data)
        for _ in range(rnd.randrange(1, 8)):
            b[rnd.randrange(len(b))] ^= 1 << rnd.randrange(8)
        with open(path, "wb") as f:
            f.write(b)
        r = dump(path)
        check(r["status"] in (0, GRAPH_FILE_ERR, NOT_SUPPORT), f"bitflip {k}: {r['status']}")


def main():
    if not os.path.exists(DUMP):
        print(f"onnx_dump not found at {DUMP}")
        return 1
    os.makedirs(WORK, exist_ok=True)
    paths = test_torch_models()
    test_helper_models()
    test_external_data()
    test_broken_files(paths)
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print(f"test_onnx_import: all {checks[0]} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
