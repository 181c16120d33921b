"""Writes the small seed files of fuzz/corpus/<target>/ (run once; the files are kept in git).
Every seed is made here by numpy/onnx or by tod's own tools (TOD_BUILD), or copied from
../shared/fixtures/mindspore/; nothing is fetched. Small seeds keep libFuzzer fast (-max_len).
  /usr/bin/python3 fuzz/corpus/make_seeds.py   (needs a built TOD_BUILD, default build/)"""
import io
import json
import os
import shutil
import subprocess
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("TOD_BUILD", os.path.join(SOURCE, "build"))
SHARED = os.environ.get("TOD_SHARED", os.path.join(SOURCE, "..", "shared"))
FIX = os.path.join(SHARED, "fixtures", "mindspore")
CONV, TOD = os.path.join(BUILD, "converter_lite"), os.path.join(BUILD, "tod")


def out(target, name, data):
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def sh(*cmd):
    subprocess.run(cmd, check=True, capture_output=True)


tmp = tempfile.mkdtemp()
# ONNX: a 2-layer MLP (Gemm, Relu, Gemm) and a tiny conv net, exported by onnx.helper
rng = np.random.default_rng(0)
w1 = helper.make_tensor("w1", TensorProto.FLOAT, [3, 4], rng.standard_normal(12).astype(np.float32).tolist())
b1 = helper.make_tensor("b1", TensorProto.FLOAT, [3], [0.1, 0.2, 0.3])
w2 = helper.make_tensor("w2", TensorProto.FLOAT, [2, 3], rng.standard_normal(6).astype(np.float32).tolist())
mlp = helper.make_graph(
    [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1), helper.make_node("Relu", ["h"], ["r"]),
     helper.make_node("Gemm", ["r", "w2"], ["y"], transB=1)], "mlp",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])], [w1, b1, w2])
mlp_model = helper.make_model(mlp, opset_imports=[helper.make_opsetid("", 13)])
out("onnx", "mlp.onnx", mlp_model.SerializeToString())
cw = helper.make_tensor("cw", TensorProto.FLOAT, [2, 1, 3, 3], rng.standard_normal(18).astype(np.float32).tolist())
shp = helper.make_tensor("shp", TensorProto.INT64, [2], [1, -1])
conv = helper.make_graph(
    [helper.make_node("Conv", ["x", "cw"], ["c"], pads=[1, 1, 1, 1]),
     helper.make_node("MaxPool", ["c"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
     helper.make_node("Reshape", ["p", "shp"], ["f"]), helper.make_node("Softmax", ["f"], ["y"], axis=1)], "conv",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])], [cw, shp])
out("onnx", "conv.onnx", helper.make_model(conv, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString())
onnx.save(mlp_model, os.path.join(tmp, "mlp.onnx"))
# fuzz_passes (the converter's passes): the two ONNX seeds, and PyTorch's export of the network of
# layout-pass operators of tests/py/test_models_vs_torch.py (channel split, Shape, shuffle, means)
out("passes", "mlp.onnx", mlp_model.SerializeToString())
out("passes", "conv.onnx", helper.make_model(conv, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString())
import sys  # noqa: E402
import torch  # noqa: E402
sys.path.insert(0, os.path.join(SOURCE, "tests", "py"))
from test_models_vs_torch import LayoutOps  # noqa: E402
torch.manual_seed(0)
torch.onnx.export(LayoutOps().eval(), torch.randn(1, 4, 6, 8), os.path.join(tmp, "layout_ops.onnx"), opset_version=13,
                  input_names=["input"], output_names=["output"])
out("passes", "layout_ops.onnx", open(os.path.join(tmp, "layout_ops.onnx"), "rb").read())

# .ms: the MLP converted for inference and for training, and MindSpore's relu converted
sh(CONV, "--fmk=ONNX", f"--modelFile={tmp}/mlp.onnx", f"--outputFile={tmp}/mlp")
sh(CONV, "--fmk=ONNX", f"--modelFile={tmp}/mlp.onnx", f"--outputFile={tmp}/mlp_train", "--trainModel=true")
sh(CONV, "--fmk=MINDIR", f"--modelFile={FIX}/relu.mindir", f"--outputFile={tmp}/relu")
for n in ("mlp.ms", "mlp_train.ms", "relu.ms"):
    out("ms", n, open(os.path.join(tmp, n), "rb").read())

# MINDIR: MindSpore's relu and the MLP exported by tod (inference and training graphs)
out("mindir", "relu.mindir", open(os.path.join(FIX, "relu.mindir"), "rb").read())
sh(TOD, "export", f"{tmp}/mlp_train.ms", "--format", "MINDIR", "-o", f"{tmp}/mlp_train.mindir")
sh(TOD, "export", f"{tmp}/mlp_train.ms", "--format", "MINDIR", "--inference-only", "-o", f"{tmp}/mlp.mindir")
for n in ("mlp_train.mindir", "mlp.mindir"):
    out("mindir", n, open(os.path.join(tmp, n), "rb").read())

# .ckpt: one training step of the MLP, saved by tod train (weights, Adam/momentum state, step)
np.save(f"{tmp}/X.npy", rng.standard_normal((2, 4)).astype(np.float32))
np.save(f"{tmp}/Y.npy", np.array([0, 1], np.int32))
sh(TOD, "train", f"{tmp}/mlp_train.ms", "--input", f"{tmp}/X.npy", "--label", f"{tmp}/Y.npy", "--batch", "2",
   "--steps", "1", "--save-checkpoint-steps", "1", "--directory", f"{tmp}/ck", "--prefix", "mlp")
out("ckpt", "mlp.ckpt", open(f"{tmp}/ck/mlp-1_1.ckpt", "rb").read())

# .npy: numpy's own writer, several dtypes, ranks and header versions
for name, a in [("f32_1x4.npy", np.arange(4, dtype=np.float32).reshape(1, 4)),
                ("f32_2x3x2.npy", np.ones((2, 3, 2), np.float32)), ("f32_scalar.npy", np.float32(1.5)),
                ("f32_empty.npy", np.zeros((0, 3), np.float32)), ("i32.npy", np.array([3, 7], np.int32)),
                ("i64.npy", np.arange(6, dtype=np.int64)), ("u8.npy", np.arange(5, dtype=np.uint8)),
                ("f64.npy", np.array([[1.0, -2.0]])), ("bool.npy", np.array([True, False]))]:
    b = io.BytesIO()
    np.save(b, a)
    out("npy", name, b.getvalue())
b = io.BytesIO()
np.lib.format.write_array(b, np.arange(3, dtype=np.float32), version=(2, 0))
out("npy", "v2.npy", b.getvalue())

# converter config files: the README's [train] keys and a [common_quant_param] section
out("config", "train.cfg", open(os.path.join(SOURCE, "models", "lenet5_train.cfg")).read())
out("config", "adamw.cfg", "[train]\nloss=mse\noptimizer=adamw\nlearning_rate=0.01\nbeta1=0.9\nbeta2=0.99\n"
    "epsilon=1e-7\nweight_decay=0.1\ntrainable=*\nfrozen=conv*,layer1.*\n")
out("config", "quant.cfg", "[common_quant_param]\nquant_type=WEIGHT_QUANT\nbit_num=4\nmin_quant_weight_size=0\n"
    "min_quant_weight_channel=16\n")
out("config", "sgd.cfg", "# comment\n[train]\nloss=softmax_cross_entropy\nlabel_type=onehot\noptimizer=nesterov\n"
    "momentum=0.9\n\n[common_quant_param]\nquant_type=WEIGHT_QUANT\nbit_num=8\n")

# tod serve create-task bodies (shared/formats/service-api.md)
for name, body in [("ok.json", {"name": "t1", "description": "d", "template_id": "onnx-x86-inference", "input_dir": "in",
                                "output_dir": "out", "options": {"input_format": "NHWC", "weight_quant_bits": 8}}),
                   ("train.json", {"name": "t_2", "template_id": "onnx-arm-training", "input_dir": "in",
                                   "output_dir": "o/x", "options": {"weight_quant_bits": 4}}),
                   ("bad.json", {"name": "../x", "template_id": 3, "input_dir": "/etc", "output_dir": ".."})]:
    out("json", name, json.dumps(body))
shutil.rmtree(tmp)
for t in sorted(os.listdir(HERE)):
    if os.path.isdir(os.path.join(HERE, t)):
        print(t, sorted(os.listdir(os.path.join(HERE, t))))
