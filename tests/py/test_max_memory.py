"""Resource limits (issue 10): `tod run/train --max-memory` (tod_options.max_memory) and absurd
shapes refused before any large allocation.

- LeNet-5 (models/lenet5.onnx) at batch 64: under a limit below what the session needs, `tod run`
  and `tod train` fail with RET_MEMORY_FAILED (-6) and a message naming the need and the limit;
  with a limit above it the outputs equal the unlimited run's, and both match PyTorch's LeNet
  built from the ONNX file's own weights.
- Hand-made hostile files: a .ms whose input is [2^31-1]^4 and one whose weight claims more
  elements than its data holds (both re-encoded by flatc from our .ms decoded against MindSpore
  Lite's schema), an ONNX model with [2^31-1]^4 inputs, an ONNX initializer whose dims disagree
  with its data, and .npy files whose header claims more than they hold: each is refused with a
  status code, quickly, and with a small peak RSS (no attempt to allocate what the shape says).
"""
import json
import os
import re
import subprocess
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(__file__))
from todtest import CONVERTER, SCHEMA, SOURCE, TOD, check, finish, flatc_json, run, workdir  # noqa: E402

W = workdir("max_memory")
LENET = os.path.join(SOURCE, "models", "lenet5.onnx")
BIG = 2**31 - 1


def torch_lenet(x):
    w = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in onnx.load(LENET).graph.initializer}
    with torch.no_grad():
        h = F.max_pool2d(F.relu(F.conv2d(torch.from_numpy(x), w["0.weight"], w["0.bias"], padding=2)), 2)
        h = F.max_pool2d(F.relu(F.conv2d(h, w["3.weight"], w["3.bias"])), 2).flatten(1)
        h = F.relu(F.linear(h, w["7.weight"], w["7.bias"]))
        h = F.relu(F.linear(h, w["9.weight"], w["9.bias"]))
        return F.linear(h, w["11.weight"], w["11.bias"]).numpy()


def peak_rss_run(cmd):
    """Runs cmd; returns (CompletedProcess, its peak RSS in MiB). GNU time measures it: a child
    forked by this Python process would count the interpreter's pages it shares until exec.
    Without /usr/bin/time the RSS is reported as 0 (the status and message checks remain)."""
    if not os.path.exists("/usr/bin/time"):
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60), 0.0
    r = subprocess.run(["/usr/bin/time", "-f", "TOD_MAXRSS_KB %M", *cmd], capture_output=True, text=True, timeout=60)
    m = re.search(r"TOD_MAXRSS_KB (\d+)\s*$", r.stderr)
    r.stderr = re.sub(r"Command exited with non-zero status \d+\n", "", r.stderr[:m.start()] if m else r.stderr)
    return r, int(m.group(1)) / 1024.0 if m else float("inf")


def status_of(r):
    m = re.search(r"tod: error (-\d+)", r.stderr) or re.search(r"CONVERT RESULT FAILED:(-\d+)", r.stdout)
    return int(m.group(1)) if m else None


# --- the memory limit ------------------------------------------------------------------------
r = run([CONVERTER, "--fmk=ONNX", f"--modelFile={LENET}", f"--outputFile={W}/lenet"])
check(r.returncode == 0, "converter_lite lenet5.onnx")
rng = np.random.default_rng(10)
x = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
np.save(f"{W}/x.npy", x)
r = run([TOD, "run", f"{W}/lenet.ms", "--input", f"{W}/x.npy", "--output", f"{W}/y_free.npy"])
check(r.returncode == 0, f"tod run without a limit ({r.stderr.strip()[-200:]})")
y_free = np.load(f"{W}/y_free.npy")
ref = torch_lenet(x)
err = float(np.abs(y_free - ref).max())
check(err <= 1e-4 * max(1.0, float(np.abs(ref).max())), f"unlimited run matches PyTorch (max err {err:.3g})")

r = run([TOD, "run", f"{W}/lenet.ms", "--input", f"{W}/x.npy", "--output", f"{W}/y_small.npy", "--max-memory=256KB"])
m = re.search(r"needs (\d+) bytes.*over the memory limit \(max_memory\) of (\d+) bytes", r.stderr)
check(r.returncode != 0 and status_of(r) == -6 and m is not None and int(m.group(2)) == 256 * 1024
      and int(m.group(1)) > 0, f"--max-memory=256KB refused: {r.stderr.strip()[-240:]}")
check(not os.path.exists(f"{W}/y_small.npy"), "no output written under the refused limit")
for limit in ("64MB", str(64 << 20), "1G"):
    r = run([TOD, "run", f"{W}/lenet.ms", "--input", f"{W}/x.npy", "--output", f"{W}/y_lim.npy", f"--max-memory={limit}"])
    same = r.returncode == 0 and np.array_equal(np.load(f"{W}/y_lim.npy"), y_free)
    check(same, f"--max-memory={limit}: runs and equals the unlimited output")
r = run([TOD, "run", f"{W}/lenet.ms", "--input", f"{W}/x.npy", "--output", f"{W}/y.npy", "--max-memory=lots"])
check(r.returncode != 0 and "--max-memory" in r.stderr, "a malformed --max-memory is refused")

# the need the message names is the point where the limit starts to pass
need = int(m.group(1)) if m else 0
lo, hi = 256 * 1024, 64 << 20
while hi - lo > 4096:
    mid = (lo + hi) // 2
    rr = run([TOD, "run", f"{W}/lenet.ms", "--input", f"{W}/x.npy", "--output", f"{W}/y_b.npy", f"--max-memory={mid}"])
    lo, hi = (lo, mid) if rr.returncode == 0 else (mid, hi)
check(hi < 64 << 20 and lo >= need, f"the smallest passing limit (~{hi} bytes) is above the first need named ({need})")

# training: the same limit through `tod train`
r = run([CONVERTER, "--fmk=ONNX", f"--modelFile={LENET}", f"--outputFile={W}/lenet_train", "--trainModel=true"])
check(r.returncode == 0, "converter_lite lenet5.onnx --trainModel=true")
np.save(f"{W}/X.npy", x[:32])
np.save(f"{W}/Y.npy", rng.integers(0, 10, 32).astype(np.int32))
common = ["train", f"{W}/lenet_train.ms", "--input", f"{W}/X.npy", "--label", f"{W}/Y.npy", "--batch", "32",
          "--steps", "2", "--no-shuffle", "--loss-log"]
r = run([TOD, *common, f"{W}/loss_small.npy", "--max-memory", "300K"])
check(r.returncode != 0 and status_of(r) == -6 and "max_memory" in r.stderr,
      f"tod train --max-memory 300K refused: {r.stderr.strip()[-200:]}")
r1 = run([TOD, *common, f"{W}/loss_free.npy"])
r2 = run([TOD, *common, f"{W}/loss_lim.npy", "--max-memory", "512MB"])
check(r1.returncode == 0 and r2.returncode == 0 and
      np.array_equal(np.load(f"{W}/loss_free.npy"), np.load(f"{W}/loss_lim.npy")),
      "tod train under a sufficient limit gives the unlimited run's losses")

# --- absurd shapes ---------------------------------------------------------------------------
def flatc_encode(js, name):
    p = os.path.join(W, name + ".json")
    with open(p, "w") as f:
        json.dump(js, f)
    if os.path.exists(os.path.join(W, name + ".ms")):
        os.remove(os.path.join(W, name + ".ms"))
    r = run(["flatc", "-b", "-o", W, SCHEMA, p])
    check(r.returncode == 0, f"flatc encodes {name}.ms")
    check(os.path.exists(os.path.join(W, name + ".ms")), f"flatc wrote {name}.ms (the schema's extension)")
    return os.path.join(W, name + ".ms")


def refused(cmd, what, codes=None, rss_mb=512):
    r, rss = peak_rss_run(cmd)
    st = status_of(r)
    ok = r.returncode > 0 and st is not None and (codes is None or st in codes)
    check(ok and rss < rss_mb, f"{what}: refused with {st} (peak RSS {rss:.0f} MiB): "
          f"{(r.stderr.strip() or r.stdout.strip())[-200:]}")


relu = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu",
                         [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 2])],
                         [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 2])])
onnx.save(helper.make_model(relu, opset_imports=[helper.make_opsetid("", 13)]), f"{W}/relu.onnx")
r = run([CONVERTER, "--fmk=ONNX", f"--modelFile={W}/relu.onnx", f"--outputFile={W}/relu"])
check(r.returncode == 0, "converter_lite relu.onnx")
js, e = flatc_json(f"{W}/relu.ms")
check(js is not None, f"flatc decodes relu.ms {e[-100:] if e else ''}")
for t in js["allTensors"]:
    t["dims"] = [BIG] * 4
huge_ms = flatc_encode(js, "relu_huge")
refused([TOD, "info", huge_ms], "tod info of a .ms with [2^31-1]^4 tensors", {-6})
np.save(f"{W}/x3.npy", np.ones((1, 2, 2), np.float32))
refused([TOD, "run", huge_ms, "--input", f"{W}/x3.npy", "--output", f"{W}/y3.npy"],
        "tod run of a .ms with [2^31-1]^4 tensors", {-6})

js, _ = flatc_json(f"{W}/lenet.ms")
w = next(t for t in js["allTensors"] if t.get("data") and len(t["dims"]) == 4)
w["dims"] = [w["dims"][0] * 4096] + w["dims"][1:]
refused([TOD, "info", flatc_encode(js, "lenet_short_weight")], "a weight whose dims claim 4096x its data")

big_in = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu",
                           [helper.make_tensor_value_info("x", TensorProto.FLOAT, [BIG] * 4)],
                           [helper.make_tensor_value_info("y", TensorProto.FLOAT, [BIG] * 4)])
onnx.save(helper.make_model(big_in, opset_imports=[helper.make_opsetid("", 13)]), f"{W}/big_in.onnx")
r, rss = peak_rss_run([CONVERTER, "--fmk=ONNX", f"--modelFile={W}/big_in.onnx", f"--outputFile={W}/big_in"])
if r.returncode == 0:  # the converter keeps declared shapes; the runtime must refuse them
    refused([TOD, "info", f"{W}/big_in.ms"], "tod info of a model converted from [2^31-1]^4 ONNX inputs", {-6})
else:
    check(status_of(r) is not None and rss < 512 and not os.path.exists(f"{W}/big_in.ms"),
          f"converter_lite refuses [2^31-1]^4 ONNX inputs cleanly ({r.stdout.strip()[-160:]})")

lie = onnx.TensorProto()
lie.name, lie.data_type, lie.raw_data = "w", TensorProto.FLOAT, b"\0" * 16
lie.dims.extend([BIG, BIG])
add = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "add",
                        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])],
                        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])], [lie])
with open(f"{W}/lie.onnx", "wb") as f:
    f.write(helper.make_model(add, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString())
refused([CONVERTER, "--fmk=ONNX", f"--modelFile={W}/lie.onnx", f"--outputFile={W}/lie"],
        "an ONNX initializer of dims [2^31-1, 2^31-1] holding 16 bytes")
check(not os.path.exists(f"{W}/lie.ms"), "no .ms left after the refused conversion")

hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % ", ".join([str(BIG)] * 4)
hdr = hdr + " " * (118 - len(hdr)) + "\n"
with open(f"{W}/huge.npy", "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + len(hdr).to_bytes(2, "little") + hdr.encode() + b"\0" * 64)
refused([TOD, "run", f"{W}/lenet.ms", "--input", f"{W}/huge.npy", "--output", f"{W}/y4.npy"],
        "a .npy whose header claims [2^31-1]^4 floats in 64 bytes", {-600})
np.save(f"{W}/empty.npy", np.zeros((0, 1, 28, 28), np.float32))
r = run([TOD, "run", f"{W}/lenet.ms", "--input", f"{W}/empty.npy", "--output", f"{W}/y5.npy"])
check(r.returncode == 0 and np.load(f"{W}/y5.npy").shape == torch_lenet(np.zeros((0, 1, 28, 28), np.float32)).shape,
      f"an empty batch gives PyTorch's empty output shape (0, 10) {r.stderr.strip()[-120:]}")
finish()
