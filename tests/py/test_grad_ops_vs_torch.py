#!/usr/bin/env python3
"""Every training primitive (src/runtime/kernels/grad, optim) against PyTorch autograd.

Each case runs one primitive through tests/tools/op_harness (shape inference, then the kernel
from kernel_lookup, in train mode where the primitive has one) and compares with
torch.autograd.grad of the corresponding forward op (NCHW tensors permuted to tod's NHWC/KHWC),
within 1e-4 relative to max|y|. Optimizers are run for 3 steps against MindSpore Lite's formula
(docs/training.md, ms-training.md §4) in numpy, and against torch.optim.SGD where they coincide.
Convolution backprop and BatchNormGrad are also checked against finite differences.
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
DT = {np.dtype(np.float32): "float32", np.dtype(np.int32): "int32", np.dtype(np.int64): "int64"}
NP = {v: k for k, v in DT.items()}
ACT = dict(RELU=1, SIGMOID=2, RELU6=3, ELU=4, LEAKY_RELU=5, SOFTPLUS=9, TANH=10, HSWISH=12,
           HSIGMOID=13, SWISH=18, GELU=19)
SAME, VALID, PAD = 1, 2, 0

failures = []
count = 0
tmp = tempfile.mkdtemp(prefix="tod_grad_")
rng = np.random.default_rng(1234)
torch.manual_seed(0)


class HarnessError(Exception):
    def __init__(self, status, msg):
        super().__init__(f"{status}: {msg}")
        self.status = status


def run(op, inputs, attrs=None, n_out=1, threads=1, train=0, seed=0, steps=1, setlr=None):
    """inputs: np arrays (activations) or ('const'|'param', arr). Returns (outputs, params, lr):
    params maps input index -> value after the runs (param inputs are updated in place)."""
    lines = [f"op {op}", f"outputs {n_out}", f"threads {threads}", f"train {train}",
             f"seed {seed}", f"steps {steps}"]
    if setlr is not None:
        lines.append(f"setlr {setlr!r}")
    for k, v in (attrs or {}).items():
        if isinstance(v, (bool, int, np.integer)):
            lines.append(f"attr {k} int {int(v)}")
        elif isinstance(v, float):
            lines.append(f"attr {k} float {v!r}")
        else:
            lines.append(f"attr {k} ints {len(v)} " + " ".join(str(int(x)) for x in v))
    kinds = {}
    for i, x in enumerate(inputs):
        kind = "act"
        if isinstance(x, tuple):
            kind, x = x
        x = np.ascontiguousarray(x)
        kinds[i] = (kind, x.dtype)
        path = os.path.join(tmp, f"in{i}.bin")
        x.tofile(path)
        lines.append(f"in {DT[x.dtype]} {kind} {x.ndim} " + " ".join(str(d) for d in x.shape) + f" {path}")
    prefix = os.path.join(tmp, "out")
    lines.append(f"outprefix {prefix}")
    spec = os.path.join(tmp, "spec.txt")
    with open(spec, "w") as f:
        f.write("\n".join(lines) + "\n")
    p = subprocess.run([HARNESS, spec], capture_output=True, text=True)
    outs, lr = [], None
    for line in p.stdout.splitlines():
        w = line.split()
        if w[0] == "error":
            raise HarnessError(w[1], " ".join(w[2:]))
        if w[0] == "lr":
            lr = float(w[1])
        if w[0] == "out":
            i, dt, nd = int(w[1]), w[2], int(w[3])
            shape = tuple(int(d) for d in w[4:4 + nd])
            outs.append(np.fromfile(f"{prefix}{i}.bin", dtype=NP[dt]).reshape(shape))
    if p.returncode != 0:
        raise HarnessError("CRASH", p.stderr[-2000:])
    params = {i: np.fromfile(f"{prefix}in{i}.bin", dtype=dt) for i, (k, dt) in kinds.items()
              if k == "param"}
    return outs, params, lr


def check(name, got, want, tol=1e-4, shape=True):
    global count
    count += 1
    want = np.asarray(want, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    if shape and got.shape != want.shape:
        failures.append(f"{name}: shape {got.shape} != {want.shape}")
        return
    got, want = got.reshape(-1), want.reshape(-1)
    if got.size != want.size:
        failures.append(f"{name}: size {got.size} != {want.size}")
        return
    scale = max(np.abs(want).max() if want.size else 0.0, 1e-6)
    err = np.abs(got - want).max() / scale if want.size else 0.0
    if not np.isfinite(err) or err > tol:
        failures.append(f"{name}: max rel err {err:.3g}")


def case(fn):
    try:
        fn()
    except HarnessError as e:
        failures.append(f"{fn.__name__}: harness {e}")
    except Exception as e:  # a crash in one case must not hide the others
        failures.append(f"{fn.__name__}: {type(e).__name__}: {e}")


def nhwc(t):
    return t.detach().permute(0, 2, 3, 1).contiguous().numpy()


def randn(*shape):
    return rng.standard_normal(shape).astype(np.float32)


# ---- convolution backprop ------------------------------------------------------------------

def same_pads(i, k, s, d):
    o = (i + s - 1) // s
    t = max((o - 1) * s + (k - 1) * d + 1 - i, 0)
    return t // 2, t - t // 2


def conv_case(n, cin, h, w, cout, k, stride=1, dil=1, pad=(0, 0, 0, 0), mode=PAD, groups=1,
              fmt=1, threads=1, fd=False, stride4=False):
    kh, kw = (k, k) if isinstance(k, int) else k
    name = f"conv n{n} c{cin}->{cout} {h}x{w} k{kh}x{kw} s{stride} d{dil} pad{pad} mode{mode} g{groups} fmt{fmt} t{threads}"
    x = torch.randn(n, cin, h, w, dtype=torch.float64, requires_grad=True)
    wt = torch.randn(cout, cin // groups, kh, kw, dtype=torch.float64, requires_grad=True)
    if mode == SAME:
        pt, pb = same_pads(h, kh, stride, dil)
        pl, pr = same_pads(w, kw, stride, dil)
    elif mode == VALID:
        pt = pb = pl = pr = 0
    else:
        pt, pb, pl, pr = pad
    y = F.conv2d(F.pad(x, (pl, pr, pt, pb)), wt, stride=stride, dilation=dil, groups=groups)
    dy = torch.randn_like(y)
    gx, gw = torch.autograd.grad(y, (x, wt), dy)
    st = [1, 1, stride, stride] if stride4 else [stride, stride]
    attrs = dict(kernel_size=[kh, kw], stride=st, dilation=[dil, dil], pad_mode=mode,
                 pad_list=list(pad), group=groups, format=fmt)
    dy_n = nhwc(dy).astype(np.float32)
    x_n = nhwc(x).astype(np.float32)
    w_k = wt.detach().permute(0, 2, 3, 1).contiguous().numpy().astype(np.float32)
    fs = [cout, kh, kw, cin // groups] if fmt == 1 else [cout, cin // groups, kh, kw]
    (dw,), _, _ = run("Conv2DBackpropFilterFusion",
                      [dy_n, x_n, ("const", np.array(fs, np.int32))], attrs, threads=threads)
    check("filter " + name, dw, gw.permute(0, 2, 3, 1).numpy())
    isz = [n, h, w, cin] if fmt == 1 else [n, cin, h, w]
    (dx,), _, _ = run("Conv2DBackpropInputFusion",
                      [dy_n, ("param", w_k), ("const", np.array(isz, np.int32))], attrs,
                      threads=threads)
    check("input " + name, dx, nhwc(gx))
    if fd:
        # Finite differences of L = sum(conv(x, w) * dy) in float64, against tod's float32.
        def loss(xx, ww):
            return float((F.conv2d(F.pad(xx, (pl, pr, pt, pb)), ww, stride=stride, dilation=dil,
                                   groups=groups) * dy).sum())
        eps = 1e-4
        for _ in range(4):
            idx = tuple(int(rng.integers(0, s)) for s in wt.shape)
            wp, wm = wt.detach().clone(), wt.detach().clone()
            wp[idx] += eps
            wm[idx] -= eps
            num = (loss(x.detach(), wp) - loss(x.detach(), wm)) / (2 * eps)
            got = dw[idx[0], idx[2], idx[3], idx[1]]
            check(f"fd dW {idx} " + name, [got], [num], tol=1e-3, shape=False)
            idx = tuple(int(rng.integers(0, s)) for s in x.shape)
            xp, xm = x.detach().clone(), x.detach().clone()
            xp[idx] += eps
            xm[idx] -= eps
            num = (loss(xp, wt.detach()) - loss(xm, wt.detach())) / (2 * eps)
            got = dx[idx[0], idx[2], idx[3], idx[1]]
            check(f"fd dx {idx} " + name, [got], [num], tol=1e-3, shape=False)


def test_conv_grad_matches_torch():
    conv_case(2, 3, 7, 6, 4, 3, fd=True)
    conv_case(2, 4, 9, 8, 6, 3, stride=2, pad=(1, 1, 1, 1), threads=3, fd=True)
    conv_case(1, 4, 8, 9, 4, 3, mode=SAME, stride=2, threads=2)
    conv_case(2, 3, 10, 10, 5, (3, 2), mode=VALID, dil=2)
    conv_case(2, 6, 7, 7, 6, 3, groups=3, pad=(1, 0, 2, 1), threads=2, fd=True)
    conv_case(2, 8, 6, 6, 8, 3, groups=8, pad=(1, 1, 1, 1), threads=3, fd=True)   # depthwise
    conv_case(2, 8, 9, 9, 8, 5, groups=8, mode=SAME, stride=2, dil=1, threads=2)  # depthwise
    conv_case(2, 4, 6, 6, 8, 3, groups=4, pad=(1, 1, 1, 1))                      # multiplier 2
    conv_case(3, 16, 5, 5, 24, 1, threads=2)                                     # 1x1 direct
    conv_case(2, 16, 6, 6, 8, 1, stride=2)
    # LeNet conv2 as MindSpore Lite writes it (format NCHW sizes, 4-entry stride).
    conv_case(32, 6, 14, 14, 16, 5, mode=VALID, fmt=0, threads=2, stride4=True)
    # many output pixels (several tiles per thread)
    conv_case(4, 3, 40, 40, 8, 3, pad=(1, 1, 1, 1), threads=4)
    # few output channels, x stride 1 (pixconv filter gradient): LeNet conv1, tails, one image
    conv_case(32, 1, 28, 28, 6, 5, pad=(2, 2, 2, 2), threads=2, fd=True)
    conv_case(3, 2, 9, 37, 3, (3, 4), pad=(1, 2, 0, 3), threads=3)
    conv_case(1, 1, 12, 20, 8, 3, pad=(1, 1, 1, 1), threads=2)


def test_conv_grad_rejects_bad_shapes():
    global count
    count += 1
    try:
        run("Conv2DBackpropInputFusion", [randn(1, 4, 4, 2), ("param", randn(2, 3, 3, 3)),
                                          ("const", np.array([1, 6, 6, 4], np.int32))],
            dict(kernel_size=[3, 3], format=1))
        failures.append("conv input grad with mismatched channels accepted")
    except HarnessError:
        pass


# ---- pooling -------------------------------------------------------------------------------

def pool_case(is_max, n, c, h, w, k, s, mode, threads=1):
    name = f"{'max' if is_max else 'avg'}pool n{n} c{c} {h}x{w} k{k} s{s} mode{mode}"
    x = torch.randn(n, c, h, w, dtype=torch.float64, requires_grad=True)
    if mode == SAME:
        pt, pb = same_pads(h, k, s, 1)
        pl, pr = same_pads(w, k, s, 1)
        assert pt == pb and pl == pr or (pt == pl == 0), "test uses torch-expressible pads"
        pad, ceil = (pt, pl), pt != pb or pl != pr
    else:
        pad, ceil = (0, 0), False
    if is_max:
        y = F.max_pool2d(x, k, s, padding=pad, ceil_mode=ceil)
    else:
        y = F.avg_pool2d(x, k, s, padding=pad, ceil_mode=ceil, count_include_pad=False)
    dy = torch.randn_like(y)
    (gx,) = torch.autograd.grad(y, (x,), dy)
    op = "MaxPoolGrad" if is_max else "AvgPoolGrad"
    (dx,), _, _ = run(op, [nhwc(x).astype(np.float32), nhwc(y).astype(np.float32),
                           nhwc(dy).astype(np.float32)],
                      dict(kernel_size=[k, k], strides=[s, s], pad_mode=mode, format=0),
                      threads=threads)
    check(name, dx, nhwc(gx))


def test_pool_grad_matches_torch():
    for is_max in (1, 0):
        pool_case(is_max, 2, 5, 8, 8, 2, 2, VALID)
        pool_case(is_max, 2, 70, 9, 7, 3, 2, VALID, threads=3)   # overlapping windows, 2 c-blocks
        pool_case(is_max, 1, 3, 8, 8, 3, 1, SAME)
        pool_case(is_max, 2, 4, 7, 7, 2, 2, SAME, threads=2)     # odd pad at the end
    pool_case(1, 32, 16, 10, 10, 2, 2, VALID, threads=2)         # LeNet
    # non-overlapping max windows (row kernel): LeNet's first pool, uncovered edges, gaps
    pool_case(1, 32, 6, 28, 28, 2, 2, VALID, threads=2)
    pool_case(1, 2, 6, 9, 9, 2, 2, VALID, threads=2)
    pool_case(1, 2, 17, 11, 11, 2, 3, VALID, threads=3)


# ---- activations, bias ---------------------------------------------------------------------

def test_activation_grad_matches_torch():
    x = torch.randn(3, 5, 7, dtype=torch.float64) * 4
    x[0, 0, :3] = torch.tensor([0.5, -0.5, 6.5], dtype=torch.float64)
    fwd = {
        "RELU": (F.relu, True), "RELU6": (F.relu6, True), "SIGMOID": (torch.sigmoid, True),
        "TANH": (torch.tanh, True), "HSWISH": (F.hardswish, False),
        "HSIGMOID": (F.hardsigmoid, False), "LEAKY_RELU": (lambda v: F.leaky_relu(v, 0.2), False),
        "ELU": (lambda v: F.elu(v, 0.7), False), "GELU": (F.gelu, False),
        "SWISH": (F.silu, False), "SOFTPLUS": (F.softplus, False),
    }
    for name, (f, from_out) in fwd.items():
        xx = x.clone().requires_grad_(True)
        y = f(xx)
        dy = torch.randn_like(y)
        (gx,) = torch.autograd.grad(y, (xx,), dy)
        t = (y if from_out else xx).detach().numpy().astype(np.float32)
        alpha = 0.2 if name == "LEAKY_RELU" else 0.7 if name == "ELU" else 0.0
        (dx,), _, _ = run("ActivationGrad", [dy.numpy().astype(np.float32), t],
                          dict(activation_type=ACT[name], alpha=alpha), threads=2)
        check(f"ActivationGrad {name}", dx, gx.numpy())


def test_abs_grad():
    x, dy = randn(4, 6), randn(4, 6)
    x[0, 0] = 0.0
    (dx,), _, _ = run("AbsGrad", [x, dy])
    check("AbsGrad", dx, np.sign(x) * dy)


def test_bias_ops():
    x, b = randn(2, 3, 4, 5), randn(5)
    (y,), _, _ = run("BiasAdd", [x, b])
    check("BiasAdd", y, x + b)
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    bt = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    yt = xt + bt
    dy = torch.randn_like(yt)
    (gb,) = torch.autograd.grad(yt, (bt,), dy)
    (db,), _, _ = run("BiasAddGrad", [dy.numpy().astype(np.float32)], threads=2)
    check("BiasAddGrad", db, gb.numpy())
    big = randn(64, 300)
    (db,), _, _ = run("BiasAddGrad", [big], threads=3)
    check("BiasAddGrad 2-D", db, big.astype(np.float64).sum(0))
    tall = randn(5000, 7)  # many row blocks split over the threads, channel tails
    (db,), _, _ = run("BiasAddGrad", [tall], threads=2)
    check("BiasAddGrad tall", db, tall.astype(np.float64).sum(0))
    # channel counts dividing 48 sum flat runs: LeNet's conv1 dy, row tails, 1 and 3 channels
    for shape, threads in (((32, 28, 28, 6), 2), ((37, 16), 1), ((4001, 3), 3), ((999, 1), 2)):
        g = randn(*shape)
        (db,), _, _ = run("BiasAddGrad", [g], threads=threads)
        check(f"BiasAddGrad flat {shape}", db, g.astype(np.float64).reshape(-1, shape[-1]).sum(0))


# ---- losses --------------------------------------------------------------------------------

def test_losses_match_torch():
    for ldt in (np.int32, np.int64):
        lg = torch.randn(6, 10, dtype=torch.float64, requires_grad=True)
        lab = torch.randint(0, 10, (6,))
        loss = F.cross_entropy(lg, lab)
        (g,) = torch.autograd.grad(loss, (lg,))
        ins = [lg.detach().numpy().astype(np.float32), lab.numpy().astype(ldt)]
        (l,), _, _ = run("SparseSoftmaxCrossEntropyWithLogits", ins, dict(is_grad=0))
        check(f"SparseSoftmaxCE loss {ldt.__name__}", l, [loss.item()])
        (gg,), _, _ = run("SparseSoftmaxCrossEntropyWithLogits", ins, dict(is_grad=1))
        check(f"SparseSoftmaxCE grad {ldt.__name__}", gg, g.numpy())
    global count
    for bad in (10, -1):
        count += 1
        try:
            run("SparseSoftmaxCrossEntropyWithLogits",
                [randn(2, 10), np.array([1, bad], np.int32)], dict(is_grad=0))
            failures.append(f"SparseSoftmaxCE accepted label {bad}")
        except HarnessError as e:
            if e.status != "TOD_INPUT_TENSOR_ERROR" and "INPUT_TENSOR" not in e.status:
                failures.append(f"SparseSoftmaxCE label {bad}: status {e.status}")
    lg = torch.randn(5, 7, dtype=torch.float64, requires_grad=True)
    z = torch.softmax(torch.randn(5, 7, dtype=torch.float64), 1)
    per = -(z * F.log_softmax(lg, 1)).sum(1)
    (g,) = torch.autograd.grad(per.sum(), (lg,))
    (l, gg), _, _ = run("SoftmaxCrossEntropyWithLogits",
                        [lg.detach().numpy().astype(np.float32), z.numpy().astype(np.float32)],
                        n_out=2, train=1)
    check("SoftmaxCE loss", l, per.detach().numpy())
    check("SoftmaxCE grad", gg, g.numpy())
    x = torch.randn(4, 9, dtype=torch.float64, requires_grad=True) * 3
    zz = torch.rand(4, 9, dtype=torch.float64)
    bce = F.binary_cross_entropy_with_logits(x, zz, reduction="none")
    dl = torch.randn_like(bce)
    (g,) = torch.autograd.grad(bce, (x,), dl)
    xs, zs = x.detach().numpy().astype(np.float32), zz.numpy().astype(np.float32)
    (l,), _, _ = run("SigmoidCrossEntropyWithLogits", [xs, zs])
    check("SigmoidCE", l, bce.detach().numpy())
    (gg,), _, _ = run("SigmoidCrossEntropyWithLogitsGrad", [xs, zs, dl.numpy().astype(np.float32)])
    check("SigmoidCEGrad", gg, g.numpy())
    (gg,), _, _ = run("SigmoidCrossEntropyWithLogitsGrad", [xs, zs, np.array([0.5], np.float32)])
    check("SigmoidCEGrad scalar dloss", gg, (torch.sigmoid(x).detach().numpy() - zs) * 0.5)


# ---- dropout -------------------------------------------------------------------------------

def test_dropout():
    global count
    x = randn(64, 128) + 3.0
    (y, m), _, _ = run("Dropout", [x], dict(keep_prob=0.75), n_out=2, train=1, seed=7)
    count += 1
    if not set(np.unique(m)).issubset({0.0, 1.0}) or abs(m.mean() - 0.75) > 0.02:
        failures.append(f"Dropout mask not Bernoulli(0.75): mean {m.mean()}")
    check("Dropout train", y, x * m / 0.75)
    (y2, m2), _, _ = run("Dropout", [x], dict(keep_prob=0.75), n_out=2, train=1, seed=7)
    (y3, m3), _, _ = run("Dropout", [x], dict(keep_prob=0.75), n_out=2, train=1, seed=8)
    count += 1
    if not np.array_equal(m, m2) or np.array_equal(m, m3):
        failures.append("Dropout: same seed must repeat, another seed must differ")
    (ye, _), _, _ = run("Dropout", [x], dict(keep_prob=0.75), n_out=2, train=0, seed=7)
    check("Dropout eval", ye, x)
    dy = randn(64, 128)
    (dx,), _, _ = run("DropoutGrad", [dy, m], dict(keep_prob=0.75))
    check("DropoutGrad", dx, dy * m / 0.75)


# ---- batch norm, layer norm ----------------------------------------------------------------

def test_batchnorm_train_and_grad():
    for shape, threads in (((4, 5, 6, 3), 1), ((8, 7, 9, 70), 3), ((16, 12), 2)):
        c = shape[-1]
        x = torch.tensor(randn(*shape) * 2 + 1, dtype=torch.float64, requires_grad=True)
        gam = torch.tensor(randn(c), dtype=torch.float64, requires_grad=True)
        bet = torch.tensor(randn(c), dtype=torch.float64, requires_grad=True)
        rm, rv = randn(c), np.abs(randn(c)) + 0.5
        xc = x.permute(0, 3, 1, 2) if x.dim() == 4 else x
        rmt, rvt = torch.tensor(rm, dtype=torch.float64), torch.tensor(rv, dtype=torch.float64)
        y = F.batch_norm(xc, rmt, rvt, gam, bet, training=True, momentum=0.1, eps=1e-5)
        if x.dim() == 4:
            y = y.permute(0, 2, 3, 1)
        x32 = x.detach().numpy().astype(np.float32)
        outs, params, _ = run("FusedBatchNorm",
                              [x32, ("param", gam.detach().numpy().astype(np.float32)),
                               ("param", bet.detach().numpy().astype(np.float32)),
                               ("param", rm), ("param", rv.astype(np.float32))],
                              dict(epsilon=1e-5, momentum=0.1, mode=1), n_out=5, train=1,
                              threads=threads)
        nm = f"FusedBatchNorm train {shape}"
        check(nm + " y", outs[0], y.detach().numpy())
        xs = x.detach().numpy().reshape(-1, c).astype(np.float64)
        check(nm + " batch mean", outs[3], xs.mean(0))
        check(nm + " batch var", outs[4], xs.var(0))
        if x.dim() == 4:  # torch's running update (unbiased var) equals MindSpore's for 4-D
            check(nm + " running mean", params[3], rmt.numpy())
            check(nm + " running var", params[4], rvt.numpy())
        else:  # MindSpore: biased variance for 2-D input
            check(nm + " running var 2-D", params[4], 0.9 * rv + 0.1 * xs.var(0))
        (ye, *_), _, _ = run("FusedBatchNorm",
                             [x32, ("param", gam.detach().numpy().astype(np.float32)),
                              ("param", bet.detach().numpy().astype(np.float32)),
                              ("param", rm), ("param", rv.astype(np.float32))],
                             dict(epsilon=1e-5, momentum=0.1, mode=1), n_out=5, train=0)
        want = (xs - rm) / np.sqrt(rv + 1e-5) * gam.detach().numpy() + bet.detach().numpy()
        check(nm + " eval", ye, want.reshape(shape))
        # BatchNormGrad with the saved batch statistics.
        dy = torch.randn_like(y)
        gx, gg, gb = torch.autograd.grad(y, (x, gam, bet), dy)
        (dx, dg, db), _, _ = run("BatchNormGrad",
                                 [dy.numpy().astype(np.float32), x32,
                                  gam.detach().numpy().astype(np.float32), outs[3], outs[4]],
                                 dict(epsilon=1e-5, is_training=1), n_out=3, train=1,
                                 threads=threads)
        check(f"BatchNormGrad dx {shape}", dx, gx.numpy())
        check(f"BatchNormGrad dscale {shape}", dg, gg.numpy())
        check(f"BatchNormGrad dbias {shape}", db, gb.numpy())
        if shape == (4, 5, 6, 3):  # finite differences of L = sum(bn(x) * dy)
            def loss(xx):
                xcc = xx.permute(0, 3, 1, 2)
                yy = F.batch_norm(xcc, None, None, gam.detach(), bet.detach(), training=True,
                                  eps=1e-5).permute(0, 2, 3, 1)
                return float((yy * dy).sum())
            for _ in range(5):
                idx = tuple(int(rng.integers(0, s)) for s in shape)
                xp, xm = x.detach().clone(), x.detach().clone()
                xp[idx] += 1e-5
                xm[idx] -= 1e-5
                num = (loss(xp) - loss(xm)) / 2e-5
                check(f"fd BatchNormGrad dx {idx}", [dx[idx]], [num], tol=2e-3, shape=False)


def test_training_fast_paths_match_torch():
    """The vectorised training paths: depthwise micro-kernels (channel blocks of 32 and 16
    with tails, 3x3 and other tap counts, stride 2, dilation), im2col/col2im runs with pads
    wider than the kernel, the transposed-A GEMM with row and column tails."""
    conv_case(2, 37, 9, 8, 37, 3, groups=37, pad=(1, 1, 1, 1), threads=2)          # dw 3x3, tails
    conv_case(2, 72, 8, 8, 72, 3, groups=72, pad=(1, 1, 1, 1), stride=2, threads=2)  # dw s2
    conv_case(1, 20, 9, 9, 20, 5, groups=20, pad=(4, 4, 4, 4), dil=2, threads=2)     # dw 5x5 d2
    conv_case(2, 3, 6, 5, 5, 2, pad=(3, 3, 3, 3), threads=2)                         # pad > kernel
    conv_case(2, 40, 7, 7, 13, 1, threads=2)                                         # 1x1, tails
    conv_case(3, 1, 12, 12, 6, 5, pad=(2, 2, 2, 2), threads=2)                       # LeNet conv1


def test_batchnorm_offset_data():
    """FusedBatchNorm's single-pass moments about a shift: data far from zero with a small
    spread (where E[x^2] - E[x]^2 would cancel) must still give PyTorch's statistics."""
    shape, c = (4, 6, 5, 19), 19
    x = torch.tensor(randn(*shape) * 0.05 + 100, dtype=torch.float64, requires_grad=True)
    gam = torch.tensor(randn(c), dtype=torch.float64, requires_grad=True)
    bet = torch.tensor(randn(c), dtype=torch.float64)
    y = F.batch_norm(x.permute(0, 3, 1, 2), None, None, gam, bet, training=True,
                     eps=1e-5).permute(0, 2, 3, 1)
    x32 = x.detach().numpy().astype(np.float32)
    outs, _, _ = run("FusedBatchNorm",
                     [x32, ("param", gam.detach().numpy().astype(np.float32)),
                      ("param", bet.numpy().astype(np.float32)), ("param", np.zeros(c, np.float32)),
                      ("param", np.ones(c, np.float32))],
                     dict(epsilon=1e-5, momentum=0.1, mode=1), n_out=5, train=1, threads=2)
    xs = x32.reshape(-1, c).astype(np.float64)  # the float32 data tod saw
    check("FusedBatchNorm offset batch mean", outs[3], xs.mean(0))
    check("FusedBatchNorm offset batch var", outs[4], xs.var(0), tol=1e-3)
    ref = (xs - xs.mean(0)) / np.sqrt(xs.var(0) + 1e-5) * gam.detach().numpy() + bet.numpy()
    check("FusedBatchNorm offset y", outs[0], ref.reshape(shape), tol=1e-3)
    dy = torch.randn_like(y)
    (gx,) = torch.autograd.grad(y, (x,), dy)
    (dx, _, _), _, _ = run("BatchNormGrad",
                           [dy.numpy().astype(np.float32), x32,
                            gam.detach().numpy().astype(np.float32), outs[3], outs[4]],
                           dict(epsilon=1e-5, is_training=1), n_out=3, train=1, threads=2)
    check("BatchNormGrad offset dx", dx, gx.numpy(), tol=2e-2)


def test_layernorm_and_grad():
    x = torch.randn(3, 4, 10, dtype=torch.float64, requires_grad=True)
    g = torch.randn(10, dtype=torch.float64, requires_grad=True)
    b = torch.randn(10, dtype=torch.float64, requires_grad=True)
    y = F.layer_norm(x, (10,), g, b, eps=1e-5)
    f32 = lambda t: t.detach().numpy().astype(np.float32)
    (yy, mean, var), _, _ = run("LayerNormFusion", [f32(x), f32(g), f32(b)],
                                dict(begin_norm_axis=2, begin_params_axis=2, epsilon=1e-5,
                                     elementwise_affine=1), n_out=3, threads=2)
    check("LayerNormFusion", yy, y.detach().numpy())
    check("LayerNormFusion mean", mean, x.detach().numpy().mean(-1, keepdims=True))
    check("LayerNormFusion var", var, x.detach().numpy().var(-1, keepdims=True))
    dy = torch.randn_like(y)
    gx, gg, gb = torch.autograd.grad(y, (x, g, b), dy)
    (dx, dg, db), _, _ = run("LayerNormGrad", [f32(x), f32(dy), var, mean, f32(g)],
                             dict(begin_norm_axis=2, begin_params_axis=2), n_out=3, threads=2)
    # LayerNormGrad adds MindSpore's fixed 1e-12 instead of the forward eps: var ~ 1 here.
    check("LayerNormGrad dx", dx, gx.numpy(), tol=2e-4)
    check("LayerNormGrad dgamma", dg, gg.numpy(), tol=2e-4)
    check("LayerNormGrad dbeta", db, gb.numpy())


# ---- optimizers ----------------------------------------------------------------------------

def f1(v):
    return np.array([v], np.float32)


def test_adam_matches_formula():
    for nesterov in (0, 1):
        w, g = randn(5, 7), randn(5, 7)
        m, v = randn(5, 7) * 0.1, np.abs(randn(5, 7)) * 0.1
        lr, b1, b2, eps, b1p, b2p = 0.01, 0.9, 0.999, 1e-8, 0.9, 0.999
        ins = [("param", w), ("param", m), ("param", v), ("const", f1(b1p)), ("const", f1(b2p)),
               ("const", f1(lr)), ("const", f1(b1)), ("const", f1(b2)), ("const", f1(eps)), g]
        (o,), p, got_lr = run("Adam", ins, dict(use_nesterov=nesterov), steps=3, threads=2)
        W, M, V = w.astype(np.float64), m.astype(np.float64), v.astype(np.float64)
        k = lr * np.sqrt(1 - b2p) / (1 - b1p)
        for _ in range(3):
            M += (g - M) * (1 - b1)
            V += (g * g - V) * (1 - b2)
            W -= k * ((b1 * M + (1 - b1) * g) if nesterov else M) / (np.sqrt(V) + eps)
        check(f"Adam w nesterov={nesterov}", p[0], W.reshape(-1))
        check(f"Adam m nesterov={nesterov}", p[1], M.reshape(-1))
        check(f"Adam v nesterov={nesterov}", p[2], V.reshape(-1))
        check("Adam lr cached", [got_lr], [lr])
    # setlr changes the cached value, not the tensor
    w = randn(4)
    ins = [("param", w), ("param", np.zeros(4, np.float32)), ("param", np.zeros(4, np.float32)),
           ("const", f1(0.9)), ("const", f1(0.999)), ("const", f1(0.5)), ("const", f1(0.9)),
           ("const", f1(0.999)), ("const", f1(1e-8)), np.ones(4, np.float32)]
    _, p, got_lr = run("Adam", ins, steps=1, setlr=0.001)
    check("Adam setlr", [got_lr], [0.001])
    k = 0.001 * np.sqrt(1 - 0.999) / (1 - 0.9)
    check("Adam setlr update", p[0], w - k * 0.1 / (np.sqrt(0.001) + 1e-8))


def test_adamw_matches_formula():
    w, g, m, v = randn(6), randn(6), np.zeros(6, np.float32), np.zeros(6, np.float32)
    lr, b1, b2, eps, dec = 0.01, 0.9, 0.99, 1e-6, 0.05
    ins = [("param", w), ("param", m), ("param", v), ("const", f1(lr)), ("const", f1(b1)),
           ("const", f1(b2)), ("const", f1(eps)), ("const", f1(dec)), g]
    _, p, _ = run("AdamWeightDecay", ins, steps=3)
    W, M, V = w.astype(np.float64), m.astype(np.float64), v.astype(np.float64)
    for _ in range(3):
        M += (g - M) * (1 - b1)
        V += (g * g - V) * (1 - b2)
        W -= lr * (M / (np.sqrt(V) + eps) + dec * W)
    check("AdamWeightDecay w", p[0], W)


def torch_sgd(w, g, steps, **kw):
    wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([wt], **kw)
    for _ in range(steps):
        opt.zero_grad()
        wt.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
    return wt.detach().numpy()


def test_momentum_and_sgd_match_torch():
    for nesterov in (0, 1):
        w, g, a = randn(3, 4), randn(3, 4), np.zeros((3, 4), np.float32)
        lr, mu = 0.05, 0.9
        _, p, _ = run("ApplyMomentum", [("param", w), ("param", a), ("const", f1(lr)), g,
                                        ("const", f1(mu))], dict(use_nesterov=nesterov), steps=3)
        W, A = w.astype(np.float64), a.astype(np.float64)
        for _ in range(3):
            A = A * mu + g
            W -= lr * ((A * mu + g) if nesterov else A)
        check(f"ApplyMomentum formula nesterov={nesterov}", p[0], W.reshape(-1))
        check(f"ApplyMomentum vs torch nesterov={nesterov}", p[0],
              torch_sgd(w, g, 3, lr=lr, momentum=mu, nesterov=bool(nesterov)).reshape(-1))
    for kw in (dict(momentum=0.9), dict(momentum=0.9, nesterov=True),
               dict(momentum=0.8, dampening=0.3, weight_decay=0.01), dict(momentum=0.0),
               dict(momentum=0.9, weight_decay=0.05, nesterov=True)):
        w, g = randn(10), randn(10)
        lr = 0.1
        attrs = dict(nesterov=int(kw.get("nesterov", False)), dampening=float(kw.get("dampening", 0.0)),
                     weight_decay=float(kw.get("weight_decay", 0.0)))
        _, p, _ = run("SGD", [("param", w), g, ("const", f1(lr)), ("param", np.zeros(10, np.float32)),
                              ("const", f1(kw["momentum"])), ("param", f1(1.0))], attrs, steps=3)
        check(f"SGD vs torch {kw}", p[0], torch_sgd(w, g, 3, lr=lr, **kw))
        check(f"SGD stat cleared {kw}", p[5], [0.0])


def test_assign():
    v, x = randn(2, 3), randn(6)
    (o,), p, _ = run("Assign", [("param", v), x])
    check("Assign variable", p[0], x)
    check("Assign output", o, [0.0])


for t in [test_conv_grad_matches_torch, test_conv_grad_rejects_bad_shapes,
          test_pool_grad_matches_torch, test_activation_grad_matches_torch, test_abs_grad,
          test_bias_ops, test_losses_match_torch, test_dropout, test_batchnorm_train_and_grad,
          test_layernorm_and_grad, test_adam_matches_formula, test_adamw_matches_formula,
          test_momentum_and_sgd_match_torch, test_assign, test_training_fast_paths_match_torch,
          test_batchnorm_offset_data]:
    case(t)

if failures:
    print(f"{len(failures)} of {count} checks failed:")
    for f in failures:
        print("  " + f)
    sys.exit(1)
print(f"all {count} checks passed")
