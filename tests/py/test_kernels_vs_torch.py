"""Conv2DFusion, MatMulFusion, MaxPoolFusion and AvgPoolFusion against PyTorch.

Drives tests/tools/kernel_harness (the kernels through kernel_ops on a real thread pool) with
random data for every ISA the machine has (TOD_ISA=scalar|avx2|avx512), and compares with
torch.nn.functional within 1e-4 relative to max |y|. torch is NCHW / OIHW: inputs are permuted
to NHWC and weights to KHWC [O, kh, kw, I/group] before they are written.
"""
import os
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F

BUILD = os.environ.get("TOD_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
HARNESS = os.path.join(BUILD, "tests", "kernel_harness")
ISAS = ["scalar", "avx2", "avx512"]
TOL = 1e-4

failures = []
work = tempfile.mkdtemp(prefix="tod_kernels_")
counter = [0]


def cpu_isas():
    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        pass
    out = ["scalar"]
    if " avx2" in flags and " fma" in flags:
        out.append("avx2")
    if all(" " + x in flags for x in ("avx512f", "avx512bw", "avx512dq", "avx512vl")):
        out.append("avx512")
    return out


def write(t):
    counter[0] += 1
    path = os.path.join(work, "t%d.bin" % counter[0])
    t.detach().contiguous().to(torch.float32).numpy().tofile(path)
    return path


def io_line(kind, t):
    return "%s %s %d %s" % (kind, write(t), t.dim(), " ".join(str(d) for d in t.shape))


def run(name, op, attrs, inputs, out_shape, want, threads=2):
    """inputs: list of (kind, tensor) with kind 'input'/'const', or None for absent."""
    for isa in ISAS_HERE:
        lines = ["op " + op, "threads %d" % threads]
        for key, val in attrs.items():
            if isinstance(val, (list, tuple)):
                lines.append("ints %s %s" % (key, " ".join(str(int(v)) for v in val)))
            else:
                lines.append("int %s %d" % (key, int(val)))
        for item in inputs:
            lines.append("absent" if item is None else io_line(item[0], item[1]))
        out_path = os.path.join(work, "out.bin")
        lines.append("output %s %d %s" % (out_path, len(out_shape), " ".join(str(d) for d in out_shape)))
        spec = os.path.join(work, "spec.txt")
        with open(spec, "w") as f:
            f.write("\n".join(lines) + "\n")
        env = dict(os.environ, TOD_ISA=isa)
        r = subprocess.run([HARNESS, spec], env=env, capture_output=True, text=True)
        if r.returncode != 0:
            failures.append("%s [%s]: harness failed: %s" % (name, isa, r.stderr.strip()))
            continue
        got = torch.from_file(out_path, size=want.numel(), dtype=torch.float32).reshape(want.shape)
        scale = max(want.abs().max().item(), 1e-6)
        err = (got - want).abs().max().item() / scale
        if not err <= TOL:
            failures.append("%s [%s]: max rel err %.3g" % (name, isa, err))


ACT = {0: lambda y: y, 1: F.relu, 3: lambda y: F.hardtanh(y, 0.0, 6.0), 2: torch.sigmoid}


def conv_case(name, n, cin, h, w, cout, k, stride=1, pad=0, dil=1, groups=1, bias=True, act=0,
              pad_mode=0, threads=2):
    kh, kw = (k, k) if isinstance(k, int) else k
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    dh, dw = (dil, dil) if isinstance(dil, int) else dil
    pt, pb, pl, pr = (pad,) * 4 if isinstance(pad, int) else pad
    x = torch.randn(n, cin, h, w)
    wt = torch.randn(cout, cin // groups, kh, kw)
    b = torch.randn(cout) if bias else None
    if pad_mode == 1:  # SAME_UPPER
        oh, ow = -(-h // sh), -(-w // sw)
        th = max((oh - 1) * sh + (kh - 1) * dh + 1 - h, 0)
        tw = max((ow - 1) * sw + (kw - 1) * dw + 1 - w, 0)
        pt, pb, pl, pr = th // 2, th - th // 2, tw // 2, tw - tw // 2
    elif pad_mode == 2:
        pt = pb = pl = pr = 0
    xp = F.pad(x, (pl, pr, pt, pb))
    y = ACT[act](F.conv2d(xp, wt, b, stride=(sh, sw), dilation=(dh, dw), groups=groups))
    want = y.permute(0, 2, 3, 1).contiguous()
    inputs = [("input", x.permute(0, 2, 3, 1)), ("const", wt.permute(0, 2, 3, 1))]
    if bias:
        inputs.append(("const", b))
    attrs = {"kernel_size": [kh, kw], "stride": [sh, sw], "dilation": [dh, dw],
             "pad_list": [pt, pb, pl, pr] if pad_mode == 0 else [1, 1, 1, 1],  # ignored unless explicit
             "pad_mode": pad_mode, "group": groups, "activation_type": act,
             "in_channel": cin, "out_channel": cout}
    run(name, "Conv2DFusion", attrs, inputs, list(want.shape), want, threads)


def matmul_case(name, ashape, bshape, ta=False, tb=False, bias=False, act=0, b_const=True):
    a = torch.randn(*ashape)
    b = torch.randn(*bshape)
    am = a.transpose(-1, -2) if ta and a.dim() > 1 else a
    bm = b.transpose(-1, -2) if tb and b.dim() > 1 else b
    y = torch.matmul(am, bm)
    bias_t = torch.randn(y.shape[-1] if bm.dim() > 1 else 1) if bias else None
    if bias:
        y = y + bias_t
    want = ACT[act](y)
    inputs = [("input", a), ("const" if b_const else "input", b)]
    if bias:
        inputs.append(("const" if b_const else "input", bias_t))
    attrs = {"transpose_a": int(ta), "transpose_b": int(tb), "activation_type": act}
    run(name, "MatMulFusion", attrs, inputs, list(want.shape), want)


def pool_case(name, is_max, n, c, h, w, k, stride, pad=0, ceil=False, glob=False, act=0):
    kh, kw = (k, k) if isinstance(k, int) else k
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    x = torch.randn(n, c, h, w)
    if glob:
        y = x.amax(dim=(2, 3), keepdim=True) if is_max else x.mean(dim=(2, 3), keepdim=True)
    elif is_max:
        y = F.max_pool2d(x, (kh, kw), (sh, sw), pad, ceil_mode=ceil)
    else:
        y = F.avg_pool2d(x, (kh, kw), (sh, sw), pad, ceil_mode=ceil, count_include_pad=False)
    want = ACT[act](y).permute(0, 2, 3, 1).contiguous()
    attrs = {"kernel_size": [kh, kw], "strides": [sh, sw], "pad": [pad] * 4, "pad_mode": 0,
             "round_mode": int(ceil), "global": int(glob), "activation_type": act}
    run(name, "MaxPoolFusion" if is_max else "AvgPoolFusion", attrs,
        [("input", x.permute(0, 2, 3, 1))], list(want.shape), want)


def main():
    global ISAS_HERE
    if not os.path.exists(HARNESS):
        print("kernel_harness not built at %s" % HARNESS)
        return 1
    ISAS_HERE = cpu_isas()
    print("ISAs:", ISAS_HERE)
    torch.manual_seed(0)
    # convolution
    conv_case("conv3x3", 1, 16, 14, 14, 32, 3, pad=1, act=1)
    conv_case("conv3x3 batch odd", 2, 5, 9, 11, 7, 3, pad=1)
    conv_case("conv stem 7x7 s2", 1, 3, 32, 32, 64, 7, stride=2, pad=3, act=1)
    conv_case("conv1x1", 2, 24, 10, 10, 144, 1, act=3)
    conv_case("conv1x1 s2", 1, 64, 15, 15, 128, 1, stride=2, bias=False)
    conv_case("conv dilation", 1, 8, 17, 13, 12, 3, pad=2, dil=2)
    conv_case("conv dilation+stride asym", 1, 6, 16, 15, 10, (3, 5), stride=(2, 1), pad=(1, 2, 0, 3), dil=(1, 2))
    conv_case("conv groups", 1, 12, 10, 10, 18, 3, pad=1, groups=3, act=2)
    conv_case("conv groups 1x1", 1, 16, 6, 6, 32, 1, groups=4)
    conv_case("depthwise", 1, 32, 14, 14, 32, 3, pad=1, groups=32, act=3)
    conv_case("depthwise s2", 2, 96, 15, 15, 96, 3, stride=2, pad=1, groups=96, act=3)
    conv_case("depthwise 5x5 odd", 1, 37, 11, 9, 37, 5, pad=2, groups=37)
    conv_case("SAME_UPPER", 1, 4, 9, 8, 6, 3, stride=2, pad_mode=1)
    conv_case("VALID", 1, 4, 9, 8, 6, 3, stride=2, pad_mode=2)
    conv_case("deep K", 1, 256, 7, 7, 64, 3, pad=1, threads=3)
    conv_case("1 thread", 1, 16, 8, 8, 16, 3, pad=1, threads=1)
    # matmul / linear
    matmul_case("linear", (4, 512), (1000, 512), tb=True, bias=True)
    matmul_case("matmul 2d", (33, 65), (65, 17), bias=True, act=1)
    matmul_case("matmul transposes", (65, 33), (17, 65), ta=True, tb=True)
    matmul_case("batched broadcast", (2, 3, 9, 20), (3, 20, 11))
    matmul_case("batched runtime B", (2, 4, 7, 16), (2, 4, 16, 5), b_const=False, bias=True)
    matmul_case("vector", (20,), (3, 20, 11))
    # pooling
    pool_case("maxpool resnet", True, 1, 64, 16, 16, 3, 2, pad=1)
    pool_case("maxpool ceil", True, 2, 19, 8, 9, 3, 2, ceil=True)
    pool_case("maxpool ceil pad", True, 1, 70, 9, 9, 3, 2, pad=1, ceil=True)
    pool_case("avgpool exclude pad", False, 1, 33, 10, 10, 3, 2, pad=1)
    pool_case("avgpool ceil pad", False, 2, 17, 9, 8, 3, 2, pad=1, ceil=True)
    pool_case("avgpool 2x2", False, 1, 40, 8, 8, 2, 2)
    pool_case("global avg", False, 2, 130, 7, 7, 7, 1, glob=True)
    pool_case("global max", True, 1, 20, 5, 6, 1, 1, glob=True)
    for f in failures:
        print("FAIL", f)
    print("%d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
