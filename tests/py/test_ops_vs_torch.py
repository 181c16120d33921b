#!/usr/bin/env python3
"""Every reference kernel (src/runtime/kernels/*) against PyTorch / numpy.

Each case runs one operator through tests/tools/op_harness (shape inference, then the kernel
found by kernel_lookup) and compares shape, dtype and values with an independent reference.
Floats must agree to 1e-5 relative to max|y|; integers and bools exactly. Error cases check
that bad values (out-of-range indices, impossible shapes) are refused with the right status.
Layout follows docs/ops.md: channel-last activations.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

BUILD = os.environ.get("TOD_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
HARNESS = os.path.join(BUILD, "tests", "op_harness")

DT = {np.dtype(np.float32): "float32", np.dtype(np.float16): "float16",
      np.dtype(np.float64): "float64", np.dtype(np.int8): "int8", np.dtype(np.uint8): "uint8",
      np.dtype(np.int16): "int16", np.dtype(np.int32): "int32", np.dtype(np.int64): "int64",
      np.dtype(np.bool_): "bool"}
NP = {v: k for k, v in DT.items()}
TYPEID = {"bool": 30, "int8": 32, "int16": 33, "int32": 34, "int64": 35, "uint8": 37,
          "float16": 42, "float32": 43, "float64": 44}

ACT = dict(NONE=0, RELU=1, SIGMOID=2, RELU6=3, ELU=4, LEAKY_RELU=5, ABS=6, RELU1=7, SOFTSIGN=8,
           SOFTPLUS=9, TANH=10, SELU=11, HSWISH=12, HSIGMOID=13, THRESHOLDRELU=14, LINEAR=15,
           HARD_TANH=16, SIGN=17, SWISH=18, GELU=19, FAST_GELU=20)

failures = []
count = 0
tmp = tempfile.mkdtemp(prefix="tod_ops_")


class HarnessError(Exception):
    def __init__(self, status, msg):
        super().__init__(f"{status}: {msg}")
        self.status = status


def run(op, inputs, attrs=None, n_out=1, threads=1):
    """inputs: list of np arrays (activations), ('const', arr) for graph constants, or None."""
    lines = [f"op {op}"]
    for k, v in (attrs or {}).items():
        if isinstance(v, bool) or isinstance(v, (int, np.integer)):
            lines.append(f"attr {k} int {int(v)}")
        elif isinstance(v, float):
            lines.append(f"attr {k} float {v!r}")
        elif isinstance(v, tuple) and v and v[0] == "floats":
            lines.append(f"attr {k} floats {len(v[1])} " + " ".join(repr(float(x)) for x in v[1]))
        elif isinstance(v, np.ndarray) and v.ndim == 2:
            lines.append(f"attr {k} ints2d {v.shape[0]} {v.shape[1]} " + " ".join(str(int(x)) for x in v.flat))
        else:
            lines.append(f"attr {k} ints {len(v)} " + " ".join(str(int(x)) for x in v))
    for i, x in enumerate(inputs):
        if x is None:
            lines.append("in none")
            continue
        kind = "act"
        if isinstance(x, tuple):
            kind, x = x
        x = np.array(x, order="C", copy=True)  # ascontiguousarray would make 0-d arrays 1-d
        path = os.path.join(tmp, f"in{i}.bin")
        x.tofile(path)
        lines.append(f"in {DT[x.dtype]} {kind} {x.ndim} " + " ".join(str(d) for d in x.shape) + f" {path}")
    lines.append(f"outputs {n_out}")
    lines.append(f"threads {threads}")
    prefix = os.path.join(tmp, "out")
    lines.append(f"outprefix {prefix}")
    spec = os.path.join(tmp, "spec.txt")
    with open(spec, "w") as f:
        f.write("\n".join(lines) + "\n")
    p = subprocess.run([HARNESS, spec], capture_output=True, text=True)
    outs = []
    for line in p.stdout.splitlines():
        w = line.split()
        if w[0] == "error":
            raise HarnessError(w[1], " ".join(w[2:]))
        if w[0] == "out":
            i, dt, nd = int(w[1]), w[2], int(w[3])
            shape = tuple(int(d) for d in w[4:4 + nd])
            outs.append(np.fromfile(f"{prefix}{i}.bin", dtype=NP[dt]).reshape(shape))
    if p.returncode != 0 or len(outs) != n_out:
        raise HarnessError("CRASH", f"rc={p.returncode} stderr={p.stderr[-2000:]}")
    return outs


def close(name, got, ref):
    ref = np.asarray(ref)
    if got.shape != ref.shape:
        return f"{name}: shape {got.shape} != {ref.shape}"
    if got.dtype != ref.dtype:
        return f"{name}: dtype {got.dtype} != {ref.dtype}"
    if got.dtype.kind == "f":
        if got.size == 0:
            return None
        g, r = got.astype(np.float64), ref.astype(np.float64)
        if not np.array_equal(np.isnan(g), np.isnan(r)):
            return f"{name}: NaN positions differ"
        m = ~np.isnan(r)
        fin = m & np.isfinite(r)
        if not np.array_equal(g[m & ~fin], r[m & ~fin]):
            return f"{name}: infinities differ"
        scale = np.abs(r[fin]).max() if fin.any() else 0.0
        err = np.abs(g[fin] - r[fin]).max() if fin.any() else 0.0
        if err > 1e-5 * max(scale, 1e-6):
            return f"{name}: max err {err:.3g} vs max|y| {scale:.3g}"
        return None
    if not np.array_equal(got, ref):
        return f"{name}: values differ\n got {got.ravel()[:16]}\n ref {ref.ravel()[:16]}"
    return None


def check(name, op, inputs, refs, attrs=None, threads=1):
    global count
    count += 1
    if not isinstance(refs, (list, tuple)):
        refs = [refs]
    try:
        outs = run(op, inputs, attrs, n_out=len(refs), threads=threads)
    except HarnessError as e:
        failures.append(f"{name}: {e}")
        return
    for i, (g, r) in enumerate(zip(outs, refs)):
        msg = close(f"{name}[{i}]", g, r)
        if msg:
            failures.append(msg)


def check_error(name, op, inputs, statuses, attrs=None, n_out=1):
    global count
    count += 1
    try:
        run(op, inputs, attrs, n_out=n_out)
    except HarnessError as e:
        if e.status not in statuses:
            failures.append(f"{name}: expected {statuses}, got {e}")
        return
    failures.append(f"{name}: expected an error {statuses}, got success")


rng = np.random.default_rng(1234)


def rnd(*shape, lo=-3.0, hi=3.0):
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


def t(x):
    return torch.from_numpy(np.ascontiguousarray(x))


def f32(x):
    return x.numpy().astype(np.float32) if isinstance(x, torch.Tensor) else np.asarray(x, np.float32)


# --- Activation ------------------------------------------------------------------------------
x = rnd(2, 5, 7, 3, lo=-8, hi=8)
act_refs = {
    "RELU": F.relu(t(x)), "SIGMOID": torch.sigmoid(t(x)), "RELU6": F.relu6(t(x)),
    "ELU": F.elu(t(x), alpha=0.7), "LEAKY_RELU": F.leaky_relu(t(x), 0.2), "ABS": t(x).abs(),
    "RELU1": t(x).clamp(0, 1), "SOFTSIGN": F.softsign(t(x)), "SOFTPLUS": F.softplus(t(x)),
    "TANH": torch.tanh(t(x)), "SELU": F.selu(t(x)), "HSWISH": F.hardswish(t(x)),
    "HSIGMOID": F.hardsigmoid(t(x)), "THRESHOLDRELU": torch.where(t(x) > 0.7, t(x), torch.zeros(1)),
    "LINEAR": t(x), "HARD_TANH": F.hardtanh(t(x), -2.0, 1.5), "SIGN": torch.sign(t(x)),
    "SWISH": F.silu(t(x)), "GELU": F.gelu(t(x)),
    "FAST_GELU": t(x) * torch.sigmoid(1.702 * t(x)),
}
for name, ref in act_refs.items():
    attrs = {"activation_type": ACT[name], "alpha": 0.7 if name in ("ELU", "THRESHOLDRELU") else 0.2,
             "min_val": -2.0, "max_val": 1.5}
    check(f"Activation {name}", "Activation", [x], f32(ref), attrs)
check("Activation GELU tanh", "Activation", [x], f32(F.gelu(t(x), approximate="tanh")),
      {"activation_type": ACT["GELU"], "approximate": 1})
big = rnd(64, 33, 17, 8)
check("Activation SIGMOID threads", "Activation", [big], f32(torch.sigmoid(t(big))),
      {"activation_type": ACT["SIGMOID"]}, threads=3)

# --- Binary arithmetic -------------------------------------------------------------------------
pairs = [((2, 3, 4, 5), (2, 3, 4, 5)), ((2, 3, 4, 5), ()), ((), (2, 3, 4, 5)), ((2, 3, 4, 5), (5,)),
         ((1, 1, 5), (2, 3, 4, 5)), ((2, 1, 4, 1), (3, 1, 6)), ((4, 1), (1, 4, 3)), ((7,), (1,))]
bin_ops = {
    "AddFusion": torch.add, "SubFusion": torch.sub, "MulFusion": torch.mul, "DivFusion": torch.div,
    "RealDiv": torch.div, "Maximum": torch.maximum, "Minimum": torch.minimum,
    "SquaredDifference": lambda a, b: (a - b) ** 2,
    "FloorDiv": lambda a, b: torch.div(a, b, rounding_mode="floor"), "FloorMod": torch.remainder,
}
for op, fn in bin_ops.items():
    for sa, sb in pairs:
        a = rnd(*sa)
        b = rnd(*sb, lo=0.5, hi=3.0) if op in ("DivFusion", "RealDiv", "FloorDiv", "FloorMod") else rnd(*sb)
        if op in ("DivFusion", "RealDiv", "FloorDiv", "FloorMod"):
            b = b * np.where(rng.random(b.shape) < 0.5, -1, 1).astype(np.float32)
        check(f"{op} {sa}x{sb}", op, [a, b], f32(fn(t(a), t(b))))
a, b = rnd(3, 4, 5, 6), rnd(6)
check("AddFusion relu", "AddFusion", [a, b], f32(F.relu(t(a) + t(b))), {"activation_type": 1})
check("MulFusion relu6 const", "MulFusion", [a, ("const", b)], f32(F.relu6(t(a) * t(b))),
      {"activation_type": 3})
a, b = rnd(8, 64, 64, 16), rnd(8, 64, 64, 16)
check("AddFusion threads", "AddFusion", [a, b], a + b, threads=4)
check("AddFusion threads general", "AddFusion", [a, b[:, :1, :, :]], a + b[:, :1], threads=4)
pa, pb = rnd(3, 4, lo=0.1, hi=3), rnd(3, 4, lo=-2, hi=2)
check("PowFusion", "PowFusion", [pa, pb], f32(torch.pow(t(pa), t(pb))))
check("PowFusion scalar", "PowFusion", [pa, np.array(2.0, np.float32)], pa ** 2)
check("PowFusion scale/shift", "PowFusion", [pa, pb], f32(torch.pow(2 * t(pa) + 1, t(pb))),
      {"scale": 2.0, "shift": 1.0})
for dt in (np.int32, np.int64):
    ia = rng.integers(-100, 100, (3, 4, 5)).astype(dt)
    ib = rng.integers(1, 9, (4, 1)).astype(dt) * np.where(rng.random((4, 1)) < 0.5, -1, 1).astype(dt)
    check(f"AddFusion {dt.__name__}", "AddFusion", [ia, ib], ia + ib)
    check(f"SubFusion {dt.__name__}", "SubFusion", [ia, ib], ia - ib)
    check(f"MulFusion {dt.__name__}", "MulFusion", [ia, ib], ia * ib)
    check(f"DivFusion {dt.__name__} trunc", "DivFusion", [ia, ib],
          torch.div(t(ia), t(ib), rounding_mode="trunc").numpy())
    check(f"FloorDiv {dt.__name__}", "FloorDiv", [ia, ib], ia // ib)
    check(f"FloorMod {dt.__name__}", "FloorMod", [ia, ib], ia % ib)
    check(f"Maximum {dt.__name__}", "Maximum", [ia, ib], np.maximum(ia, ib))
    check(f"Minimum {dt.__name__}", "Minimum", [ia, ib], np.minimum(ia, ib))
    check_error(f"DivFusion {dt.__name__} by zero", "DivFusion", [ia, np.zeros((1,), dt)],
                ["RET_OP_EXECUTE_FAILURE"])
big32 = np.array([2**31 - 1, -2**31], np.int32)
check("AddFusion int32 wraps", "AddFusion", [big32, np.array([1, -1], np.int32)],
      np.array([-2**31, 2**31 - 1], np.int32))
check_error("AddFusion bad broadcast", "AddFusion", [rnd(2, 3), rnd(4)], ["RET_INFER_ERR"])
check_error("AddFusion dtype mix", "AddFusion", [rnd(2, 3), np.ones(3, np.int32)], ["RET_INFER_ERR"])

# --- Comparisons and logic ---------------------------------------------------------------------
cmp_ops = {"Equal": np.equal, "NotEqual": np.not_equal, "Less": np.less, "LessEqual": np.less_equal,
           "Greater": np.greater, "GreaterEqual": np.greater_equal}
for op, fn in cmp_ops.items():
    for dt in (np.float32, np.int32, np.int64):
        a = rng.integers(-3, 3, (2, 3, 4)).astype(dt)
        b = rng.integers(-3, 3, (3, 1)).astype(dt)
        check(f"{op} {np.dtype(dt).name}", op, [a, b], fn(a, b))
ba, bb = rng.random((3, 4)) < 0.5, rng.random((4,)) < 0.5
check("LogicalAnd", "LogicalAnd", [ba, bb], ba & bb)
check("LogicalOr", "LogicalOr", [ba, bb], ba | bb)
check("LogicalNot", "LogicalNot", [ba], ~ba)
check("Equal bool", "Equal", [ba, bb], ba == bb)

# --- Unary ------------------------------------------------------------------------------------
u = rnd(3, 4, 5, lo=-4, hi=4)
pos = rnd(3, 4, 5, lo=0.05, hi=9)
una = {
    "Sqrt": (pos, torch.sqrt), "Rsqrt": (pos, torch.rsqrt), "ExpFusion": (u, torch.exp),
    "Log": (pos, torch.log), "Neg": (u, torch.neg), "Abs": (u, torch.abs), "Floor": (u, torch.floor),
    "Ceil": (u, torch.ceil), "Erf": (u, torch.erf), "Sin": (u, torch.sin), "Cos": (u, torch.cos),
    "Reciprocal": (pos, torch.reciprocal), "Square": (u, torch.square),
}
for op, (xx, fn) in una.items():
    check(op, op, [xx], f32(fn(t(xx))))
halfs = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49, -3.7], np.float32)
check("Round half-even", "Round", [halfs], f32(torch.round(t(halfs))))
check("ExpFusion base/scale/shift", "ExpFusion", [u], f32(2.0 ** (0.5 * t(u) + 1.0)),
      {"base": 2.0, "scale": 0.5, "shift": 1.0})
for dt in (np.int32, np.int64):
    iu = rng.integers(-50, 50, (4, 5)).astype(dt)
    check(f"Neg {np.dtype(dt).name}", "Neg", [iu], -iu)
    check(f"Abs {np.dtype(dt).name}", "Abs", [iu], np.abs(iu))
    check(f"Square {np.dtype(dt).name}", "Square", [iu], iu * iu)
    check(f"Clip {np.dtype(dt).name}", "Clip", [iu, ("const", np.array(-7, dt)), ("const", np.array(9, dt))],
          np.clip(iu, -7, 9))

# --- Clip --------------------------------------------------------------------------------------
check("Clip attrs", "Clip", [u], np.clip(u, -1.0, 2.0), {"min": -1.0, "max": 2.0})
check("Clip inputs", "Clip", [u, ("const", np.array(-0.5, np.float32)), ("const", np.array(0.5, np.float32))],
      np.clip(u, -0.5, 0.5))
check("Clip min only", "Clip", [u, ("const", np.array(0.0, np.float32))], np.maximum(u, 0))
check("Clip max only", "Clip", [u, None, ("const", np.array(6.0, np.float32))], np.minimum(u, 6))
check("Clip no bounds", "Clip", [u], u)

# --- FusedBatchNorm ---------------------------------------------------------------------------
xb = rnd(2, 6, 5, 7)
sc, bi, mu, var = rnd(7), rnd(7), rnd(7), rnd(7, lo=0.1, hi=2)
ref = F.batch_norm(t(xb).permute(0, 3, 1, 2), t(mu), t(var), t(sc), t(bi), False, 0.1, 1e-5).permute(0, 2, 3, 1)
check("FusedBatchNorm const", "FusedBatchNorm",
      [xb, ("const", sc), ("const", bi), ("const", mu), ("const", var)], f32(ref), {"epsilon": 1e-5})
check("FusedBatchNorm act params", "FusedBatchNorm", [xb, sc, bi, mu, var], f32(ref), {"epsilon": 1e-5})
x2 = rnd(4, 7)
check("FusedBatchNorm 2d", "FusedBatchNorm", [x2, ("const", sc), ("const", bi), ("const", mu), ("const", var)],
      f32(F.batch_norm(t(x2), t(mu), t(var), t(sc), t(bi), False, 0.1, 1e-3)), {"epsilon": 1e-3})
check_error("FusedBatchNorm channel mismatch", "FusedBatchNorm", [rnd(2, 3, 4, 5), sc, bi, mu, var],
            ["RET_INFER_ERR"])

# --- Softmax ----------------------------------------------------------------------------------
xs = rnd(2, 3, 4, 10, lo=-20, hi=20)
for ax in (-1, 0, 1, 2, 3):
    check(f"Softmax axis {ax}", "Softmax", [xs], f32(torch.softmax(t(xs), ax)), {"axis": [ax]})
    check(f"LogSoftmax axis {ax}", "LogSoftmax", [xs], f32(torch.log_softmax(t(xs), ax)), {"axis": ax})
check("Softmax default axis", "Softmax", [xs], f32(torch.softmax(t(xs), -1)))
check_error("Softmax bad axis", "Softmax", [xs], ["RET_INFER_ERR"], {"axis": [4]})

# --- Reshape family -----------------------------------------------------------------------------
xr = rnd(2, 3, 4, 5)
for shp in ([0, -1], [-1, 5], [2, 0, 20], [120], [0, 0, 0, 0], [5, 4, 3, 2]):
    ref = xr.reshape([xr.shape[i] if v == 0 else v for i, v in enumerate(shp)])
    check(f"Reshape {shp}", "Reshape", [xr, ("const", np.array(shp, np.int64))], ref)
check("Reshape int32 shape", "Reshape", [xr, ("const", np.array([6, -1], np.int32))], xr.reshape(6, -1))
check_error("Reshape two -1", "Reshape", [xr, ("const", np.array([-1, -1], np.int64))], ["RET_INFER_ERR"])
check_error("Reshape bad count", "Reshape", [xr, ("const", np.array([7, -1], np.int64))], ["RET_INFER_ERR"])
check_error("Reshape unknown shape", "Reshape", [xr, np.array([6, -1], np.int64)], ["RET_INFER_INVALID"])
for ax in (0, 1, 2, 4, -1):
    check(f"Flatten axis {ax}", "Flatten", [xr], f32(torch.flatten(t(xr), 0, ax - 1 if ax > 0 else 3 + ax).reshape(
        int(np.prod(xr.shape[:ax])), -1)) if ax != 0 else xr.reshape(1, -1), {"axis": ax})
xq = rnd(1, 3, 1, 4)
check("Squeeze all", "Squeeze", [xq], xq.squeeze())
check("Squeeze axis", "Squeeze", [xq], xq.squeeze(2), {"axis": [-2]})
check_error("Squeeze non-1", "Squeeze", [xq], ["RET_INFER_ERR"], {"axis": [1]})
check("Unsqueeze", "Unsqueeze", [xq], xq.reshape(1, 1, 3, 1, 1, 4), {"axis": [0, 4]})
check("Unsqueeze neg", "Unsqueeze", [xq], xq.reshape(1, 3, 1, 4, 1), {"axis": [-1]})
check("ExpandDims", "ExpandDims", [xq, ("const", np.array(1, np.int32))], xq.reshape(1, 1, 3, 1, 4))
check("Reshape int64 data", "Reshape", [np.arange(6, dtype=np.int64), ("const", np.array([2, 3], np.int64))],
      np.arange(6, dtype=np.int64).reshape(2, 3))

# --- Transpose ----------------------------------------------------------------------------------
xt = rnd(2, 3, 4, 5)
for perm in ([0, 2, 3, 1], [0, 3, 1, 2], [3, 2, 1, 0], [0, 1, 2, 3], [1, 0, 2, 3], [0, 1, 3, 2]):
    check(f"Transpose {perm}", "Transpose", [xt, ("const", np.array(perm, np.int32))], xt.transpose(perm))
check("Transpose default", "Transpose", [xt], xt.transpose())
# Input-sized NCHW -> NHWC and back on 2 threads: 16-row blocks crossing image boundaries.
xt_big = rnd(2, 3, 37, 41)
for perm in ([0, 2, 3, 1], [0, 3, 1, 2]):
    check(f"Transpose big {perm}", "Transpose", [xt_big, ("const", np.array(perm, np.int32))],
          xt_big.transpose(perm), threads=2)
check("Transpose int64 data", "Transpose", [np.arange(24, dtype=np.int64).reshape(2, 3, 4), ("const", np.array([2, 0, 1], np.int64))],
      np.arange(24, dtype=np.int64).reshape(2, 3, 4).transpose(2, 0, 1))
check("Transpose uint8 data", "Transpose", [np.arange(24, dtype=np.uint8).reshape(4, 6), ("const", np.array([1, 0], np.int64))],
      np.arange(24, dtype=np.uint8).reshape(4, 6).T)
check_error("Transpose not a perm", "Transpose", [xt, ("const", np.array([0, 0, 1, 2], np.int64))], ["RET_INFER_ERR"])
check_error("Transpose perm out of range", "Transpose", [xt, ("const", np.array([0, 1, 2, 9], np.int64))], ["RET_INFER_ERR"])

# --- Concat / Split -----------------------------------------------------------------------------
c1, c2, c3 = rnd(2, 3, 4), rnd(2, 5, 4), rnd(2, 1, 4)
check("Concat axis 1", "Concat", [c1, c2, c3], np.concatenate([c1, c2, c3], 1), {"axis": 1})
check("Concat axis -1", "Concat", [c1, c1], np.concatenate([c1, c1], -1), {"axis": -1})
i1, i2 = np.array([1, 2], np.int64), np.array([3], np.int64)
check("Concat int64 shapes", "Concat", [("const", i1), ("const", i2)], np.concatenate([i1, i2]), {"axis": 0})
check_error("Concat mismatch", "Concat", [c1, rnd(3, 3, 4)], ["RET_INFER_ERR"], {"axis": 1})
xsp = rnd(2, 9, 4)
check("Split sizes", "Split", [xsp], np.split(xsp, [2, 7], 1), {"axis": 1, "size_splits": [2, 5, 2], "output_num": 3})
check("Split equal", "Split", [xsp], np.split(xsp, 3, 1), {"axis": 1, "output_num": 3})
xu = rnd(10, 2)
check("Split uneven ceil", "Split", [xu], [xu[0:4], xu[4:8], xu[8:10]], {"axis": 0, "output_num": 3})
check("Split -1", "Split", [xsp], np.split(xsp, [1], -1), {"axis": -1, "size_splits": [1, -1]})

# --- Gather ------------------------------------------------------------------------------------
xg = rnd(5, 6, 7)
for ax in (0, 1, 2, -1):
    for dt in (np.int32, np.int64):
        idx = rng.integers(-xg.shape[ax], xg.shape[ax], (3, 2)).astype(dt)
        check(f"Gather axis {ax} {np.dtype(dt).name}", "Gather", [xg, idx, ("const", np.array(ax, np.int64))],
              np.take(xg, idx, axis=ax))
check("Gather scalar index", "Gather", [xg, np.array(-1, np.int64), ("const", np.array(1, np.int32))], xg[:, -1])
shp = np.array([1, 3, 224, 224], np.int32)
check("Gather int32 shape", "Gather", [("const", shp), ("const", np.array(0, np.int64)), ("const", np.array(0, np.int64))],
      shp[0])
check("Gather no axis input", "Gather", [xg, np.array([4, 0], np.int64)], xg[[4, 0]])
check_error("Gather index too large", "Gather", [xg, np.array([5], np.int64), ("const", np.array(0, np.int64))],
            ["RET_OP_EXECUTE_FAILURE"])
check_error("Gather index too small", "Gather", [xg, np.array([-6], np.int64), ("const", np.array(0, np.int64))],
            ["RET_OP_EXECUTE_FAILURE"])
check_error("Gather bad axis", "Gather", [xg, np.array([0], np.int64), ("const", np.array(3, np.int64))],
            ["RET_INFER_ERR"])

# --- Shape / Cast -------------------------------------------------------------------------------
check("Shape", "Shape", [xg], np.array(xg.shape, np.int32))
check("Shape scalar", "Shape", [np.array(1.0, np.float32)], np.zeros((0,), np.int32))
cast_src = {
    "float32": np.array([0.0, -1.5, 2.7, 1e3, -7.9, 0.25, 100.4, 3.0], np.float32),
    "float64": np.array([0.0, -1.5, 2.7, 1e3, -7.9, 0.25, 100.4, 3.0], np.float64),
    "float16": np.array([0.0, -1.5, 2.75, 1e3, -7.9, 0.25, 100.4, 3.0], np.float16),
    "int32": np.array([0, -1, 2, 1000, -7, 1, 100, 3], np.int32),
    "int64": np.array([0, -1, 2, 1000, -7, 1, 100, 3], np.int64),
    "int8": np.array([0, -1, 2, 100, -7, 1, 100, 3], np.int8),
    "uint8": np.array([0, 1, 2, 200, 7, 1, 100, 3], np.uint8),
    "bool": np.array([0, 1, 1, 0, 1, 0, 0, 1], np.bool_),
}
for src, arr in cast_src.items():
    for dst in cast_src:
        tgt = NP[dst]
        if np.dtype(tgt).kind in "iub" and arr.dtype.kind == "f" and dst != "bool":
            # in-range values only: out-of-range float->int is implementation defined in numpy
            info = np.iinfo(tgt)
            a2 = arr[(arr >= info.min) & (arr <= info.max)]
        else:
            a2 = arr
        if dst in ("int8", "uint8") and arr.dtype.kind in "iu":
            a2 = a2[(a2 >= np.iinfo(tgt).min) & (a2 <= np.iinfo(tgt).max)]
        ref = a2.astype(tgt)
        check(f"Cast {src}->{dst}", "Cast", [a2, ("const", np.array(TYPEID[dst], np.int32))], ref)
halfvals = rng.uniform(-70000, 70000, 1000).astype(np.float32)
halfvals = np.concatenate([halfvals, np.array([1e-8, 6e-8, 3e-5, -2e-7, 65504, 65519, 65520, np.inf, -np.inf], np.float32)])
np.seterr(over="ignore")
check("Cast float32->float16 rounding", "Cast", [halfvals, ("const", np.array(42, np.int32))], halfvals.astype(np.float16))
check("Cast float32->int32 saturates", "Cast", [np.array([3e9, -3e9, np.nan, 2.9, -2.9], np.float32),
                                               ("const", np.array(34, np.int32))],
      np.array([2**31 - 1, -2**31, 0, 2, -2], np.int32))
check_error("Cast unknown type", "Cast", [rnd(3), ("const", np.array(99, np.int32))], ["RET_INFER_ERR"])
check_error("Cast unknown target value", "Cast", [rnd(3), np.array(43, np.int32)], ["RET_INFER_INVALID"])

# --- StridedSlice / SliceFusion -----------------------------------------------------------------
xx = rnd(4, 5, 6)
I = lambda *v: ("const", np.array(v, np.int64))
ss_cases = [
    ((0, 1, 2), (4, 5, 6), (1, 1, 1), {}, xx[0:4, 1:5, 2:6]),
    ((0, 0, 0), (4, 5, 6), (2, 2, 3), {}, xx[::2, ::2, ::3]),
    ((-1, -1, -1), (-5, -6, -7), (-1, -2, -3), {}, xx[::-1, ::-2, ::-3]),
    ((3, 4, 5), (0, 0, 0), (-1, -1, -2), {}, xx[3:0:-1, 4:0:-1, 5:0:-2]),
    ((1, -3, 0), (2**62, 2**62, -2**62), (1, 1, 1), {}, xx[1:, -3:, 0:0]),
    ((0, 0, 0), (0, 0, 0), (1, 1, 1), {"begin_mask": 7, "end_mask": 7}, xx),
    ((2, 1, 0), (3, 4, 6), (1, 1, 1), {"shrink_axis_mask": 1}, xx[2, 1:4, :]),
    ((1, 2), (3, 4), (1, 1), {}, xx[1:3, 2:4]),
]
for i, (bb, ee, st, at, ref) in enumerate(ss_cases):
    check(f"StridedSlice {i}", "StridedSlice", [xx, I(*bb), I(*ee), I(*st)], ref, at)
check("StridedSlice int32 values", "StridedSlice", [np.arange(10, dtype=np.int32), ("const", np.array([2], np.int32)),
                                                   ("const", np.array([8], np.int32)), ("const", np.array([3], np.int32))],
      np.arange(10, dtype=np.int32)[2:8:3])
check_error("StridedSlice zero step", "StridedSlice", [xx, I(0, 0, 0), I(1, 1, 1), I(1, 0, 1)], ["RET_INFER_ERR"])
check("SliceFusion", "SliceFusion", [xx, I(1, 0, 2), I(2, -1, 3)], xx[1:3, 0:, 2:5])
check("SliceFusion axes", "SliceFusion", [xx, I(1), I(2)], xx[:, :, 1:3], {"axes": [2]})
check_error("SliceFusion too long", "SliceFusion", [xx, I(3, 0, 0), I(2, 1, 1)], ["RET_INFER_ERR"])

# --- PadFusion ------------------------------------------------------------------------------
xp = rnd(2, 4, 5, 3)
pads = np.array([[0, 0], [1, 2], [2, 1], [0, 0]], np.int64)
np_pads = [tuple(p) for p in pads]
check("Pad constant", "PadFusion", [xp, ("const", pads)], np.pad(xp, np_pads, constant_values=1.5),
      {"padding_mode": 0, "constant_value": 1.5})
check("Pad reflect", "PadFusion", [xp, ("const", pads)], np.pad(xp, np_pads, mode="reflect"), {"padding_mode": 1})
check("Pad symmetric", "PadFusion", [xp, ("const", pads)], np.pad(xp, np_pads, mode="symmetric"), {"padding_mode": 2})
pads2 = np.array([[1, 0], [0, 0], [3, 3], [1, 1]], np.int64)
check("Pad attr all axes", "PadFusion", [xp], np.pad(xp, [tuple(p) for p in pads2]), {"paddings": pads2})
check("Pad symmetric full", "PadFusion", [xp, ("const", np.array([[0, 0], [4, 4], [5, 5], [0, 0]], np.int64))],
      np.pad(xp, [(0, 0), (4, 4), (5, 5), (0, 0)], mode="symmetric"), {"padding_mode": 2})
check("Pad negative crop", "PadFusion", [xp, ("const", np.array([[0, 0], [-1, 2], [1, -2], [0, 0]], np.int64))],
      np.pad(xp[:, 1:, :3, :], [(0, 0), (0, 2), (1, 0), (0, 0)]))
check("Pad int64", "PadFusion", [np.arange(6, dtype=np.int64).reshape(2, 3), ("const", np.array([[1, 1], [0, 2]], np.int64))],
      np.pad(np.arange(6, dtype=np.int64).reshape(2, 3), [(1, 1), (0, 2)]))
check_error("Pad reflect too big", "PadFusion", [xp, ("const", np.array([[0, 0], [4, 0], [0, 0], [0, 0]], np.int64))],
            ["RET_INFER_ERR"], {"padding_mode": 1})

# --- ReduceFusion -------------------------------------------------------------------------------
xd = rnd(3, 4, 5, 6)
modes = {0: np.mean, 1: np.max, 2: np.min, 3: np.prod, 4: np.sum, 5: lambda a, axis, keepdims: np.sum(a * a, axis=axis, keepdims=keepdims),
         6: lambda a, axis, keepdims: np.sum(np.abs(a), axis=axis, keepdims=keepdims),
         8: lambda a, axis, keepdims: np.sqrt(np.sum(a * a, axis=axis, keepdims=keepdims))}
for mode, fn in modes.items():
    for axes in ([1, 2], [-1], [0, 3], []):
        for keep in (0, 1):
            ax = tuple(axes) if axes else None
            ref = np.asarray(fn(xd.astype(np.float64), axis=ax, keepdims=bool(keep))).astype(np.float32)
            check(f"Reduce mode {mode} axes {axes} keep {keep}", "ReduceFusion",
                  [xd, ("const", np.array(axes, np.int64))], ref, {"mode": mode, "keep_dims": keep})
check("Reduce to end", "ReduceFusion", [xd, ("const", np.array([1], np.int64))], xd.sum(axis=(1, 2, 3)),
      {"mode": 4, "reduce_to_end": 1})
check("Reduce no axes input", "ReduceFusion", [xd], np.asarray(xd.max(), np.float32).reshape(()), {"mode": 1})
xi = rng.integers(1, 4, (2, 3)).astype(np.int64)
check("ReduceProd int64", "ReduceFusion", [xi, ("const", np.array([1], np.int64))], xi.prod(axis=1), {"mode": 3})
bl = rng.random((3, 4)) < 0.7
check("ReduceAll bool", "ReduceFusion", [bl, ("const", np.array([1], np.int64))], bl.all(axis=1), {"mode": 7})

# --- Resize -----------------------------------------------------------------------------------
xz = rnd(2, 5, 7, 3)
tz = t(xz).permute(0, 3, 1, 2)
nhwc = lambda y: f32(y.permute(0, 2, 3, 1))
check("Resize nearest x2", "Resize", [xz], nhwc(F.interpolate(tz, scale_factor=2, mode="nearest")),
      {"method": 1, "new_height": 10, "new_width": 14, "coordinate_transform_mode": 0, "nearest_mode": 3})
check("Resize nearest sizes", "Resize", [xz, ("const", np.array([2, 8, 3, 3], np.int64))],
      nhwc(F.interpolate(tz, size=(8, 3), mode="nearest")),
      {"method": 1, "coordinate_transform_mode": 0, "nearest_mode": 3})
check("Resize nearest scales", "Resize", [xz, ("const", np.array([1, 3, 2, 1], np.float32))],
      nhwc(F.interpolate(tz, scale_factor=(3, 2), mode="nearest")),
      {"method": 1, "coordinate_transform_mode": 0, "nearest_mode": 3})
check("Resize bilinear half_pixel", "Resize", [xz], nhwc(F.interpolate(tz, size=(11, 4), mode="bilinear", align_corners=False)),
      {"method": 0, "new_height": 11, "new_width": 4, "coordinate_transform_mode": 2})
check("Resize bilinear align_corners", "Resize", [xz], nhwc(F.interpolate(tz, size=(9, 13), mode="bilinear", align_corners=True)),
      {"method": 0, "new_height": 9, "new_width": 13, "coordinate_transform_mode": 1})
check("Resize bilinear x2 scales", "Resize", [xz, ("const", np.array([2, 2], np.float32))],
      nhwc(F.interpolate(tz, scale_factor=2, mode="bilinear", align_corners=False)),
      {"method": 0, "coordinate_transform_mode": 2})
check_error("Resize cubic", "Resize", [xz], ["RET_NOT_SUPPORT"], {"method": 2, "new_height": 4, "new_width": 4})

# --- Fill / ConstantOfShape / Range / BroadcastTo / Tile / Where ---------------------------------
check("Fill", "Fill", [np.array(2.5, np.float32), ("const", np.array([2, 3], np.int64))], np.full((2, 3), 2.5, np.float32))
check("ConstantOfShape int64", "ConstantOfShape", [("const", np.array([3, 2], np.int64))], np.full((3, 2), 7, np.int64),
      {"data_type": 35, "value": ("floats", [7.0])})
check("ConstantOfShape default", "ConstantOfShape", [("const", np.array([4], np.int64))], np.zeros(4, np.float32))
check("Range int64", "Range", [("const", np.array(2, np.int64)), ("const", np.array(11, np.int64)), ("const", np.array(3, np.int64))],
      np.arange(2, 11, 3, dtype=np.int64))
check("Range float", "Range", [("const", np.array(1.0, np.float32)), ("const", np.array(-2.0, np.float32)), ("const", np.array(-0.5, np.float32))],
      np.arange(1.0, -2.0, -0.5, dtype=np.float32))
check("Range attrs", "Range", [], np.arange(0, 5, 2, dtype=np.int32), {"start": 0, "limit": 5, "delta": 2, "d_type": 34})
xe = rnd(3, 1)
check("BroadcastTo", "BroadcastTo", [xe, ("const", np.array([2, 3, 4], np.int64))], np.broadcast_to(xe, (2, 3, 4)))
check("BroadcastTo bidirectional", "BroadcastTo", [xe, ("const", np.array([1, 5], np.int64))], np.broadcast_to(xe, (3, 5)))
check_error("BroadcastTo bad", "BroadcastTo", [xe, ("const", np.array([2, 4], np.int64))], ["RET_INFER_ERR"])
xtl = rnd(2, 3, 4)
check("TileFusion", "TileFusion", [xtl, ("const", np.array([2, 1, 3], np.int64))], np.tile(xtl, (2, 1, 3)))
check("TileFusion int64", "TileFusion", [np.arange(3, dtype=np.int64), ("const", np.array([3], np.int64))],
      np.tile(np.arange(3, dtype=np.int64), 3))
cond = rng.random((2, 1, 4)) < 0.5
wa, wb = rnd(3, 4), rnd(2, 3, 1)
check("Where", "Where", [cond, wa, wb], np.where(cond, wa, wb))
ia, ib = np.array([1, 2, 3], np.int64), np.array([-1], np.int64)
check("Where int64", "Where", [np.array([True, False, True]), ia, ib], np.where([True, False, True], ia, ib))

print(f"{count} cases, {len(failures)} failures")
for f in failures:
    print("FAIL", f)
sys.exit(1 if failures else 0)
