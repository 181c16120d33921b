#!/usr/bin/python3
"""Benchmarks tod against its peers in one run on one machine, and reports ratios.

- Conversion: converter_lite on an ONNX file against `cp` of the same file.
- Inference latency at batch 1, 2 threads: tod (benchmark tool) against PyTorch (no_grad) and
  ONNX Runtime (onnxruntime-node, CPU).

Usage: bench/bench_models.py [--loops N] [--out bench/RESULTS.md]
The machine is noisy: only ratios measured in the same run mean anything.
"""
import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
import torchvision

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.environ.get("TOD_BUILD", os.path.join(ROOT, "build"))
WORK = os.path.join(BUILD, "bench")
THREADS = 2


def timed(cmd, repeat=5):
    """Median wall time (ms) of cmd over `repeat` runs, and the largest peak RSS (MB) of one run."""
    ts, rss = [], 0.0
    for _ in range(repeat):
        # Start from a clean page cache state: a command that fsyncs (converter_lite does, cp
        # does not) would otherwise also pay for flushing what earlier steps left dirty (the
        # ONNX export, the previous runs' outputs) under ext4's ordered journal.
        os.sync()
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        ts.append((time.perf_counter() - t0) * 1e3)
        # The peak RSS from GNU time, a small C process (a child forked from this Python would start
        # from this process's peak); timed apart from the wall time so time's own start-up is not in it.
        r = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], check=True, capture_output=True, text=True)
        rss = max(rss, int(r.stderr.strip().splitlines()[-1]) * 1024 / 1e6)  # MB as the file size
    return statistics.median(ts), rss


def accuracy(ms, model, shape):
    """benchmark --benchmarkDataFile against PyTorch's output for one fixed input: the mean bias (%)."""
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        y = model(x).numpy()
    in_bin, ref = ms + ".in.bin", ms + ".ref.out"
    x.numpy().astype("<f4").tofile(in_bin)
    with open(ref, "w") as f:
        f.write(f"output {y.ndim} {' '.join(str(d) for d in y.shape)}\n")
        f.write(" ".join(f"{v:.9g}" for v in y.reshape(-1)) + "\n")
    r = subprocess.run([os.path.join(BUILD, "benchmark"), f"--modelFile={ms}", f"--inDataFile={in_bin}",
                        f"--benchmarkDataFile={ref}", "--accuracyThreshold=0.5", "--loopCount=1",
                        "--warmUpLoopCount=0"], capture_output=True, text=True)
    m = re.search(r"Mean bias of all nodes/tensors: ([-\d.e+]+)%", r.stdout)
    return (float(m.group(1)) if m else None), r.returncode == 0


def torch_latency(model, shape, loops, warmup=5):
    torch.set_num_threads(THREADS)
    x = torch.randn(*shape)
    with torch.no_grad():
        for _ in range(warmup):
            model(x)
        ts = []
        for _ in range(loops):
            t0 = time.perf_counter()
            model(x)
            ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts)


def tod_latency(ms, loops, warmup=5):
    r = subprocess.run([os.path.join(BUILD, "benchmark"), f"--modelFile={ms}", f"--loopCount={loops}",
                        f"--warmUpLoopCount={warmup}", f"--numThreads={THREADS}"],
                       check=True, capture_output=True, text=True)
    med = float(re.search(r"MedianRunTime = ([\d.]+) ms", r.stdout).group(1))
    rss = float(re.search(r"PeakRSS = ([\d.]+) MB", r.stdout).group(1))
    return med, rss


def ort_latency(onnx_path, shape, loops, warmup=5):
    r = subprocess.run(["node", os.path.join(ROOT, "bench", "ort_bench.js"), onnx_path,
                        "x".join(map(str, shape)), str(THREADS), str(warmup), str(loops)],
                       capture_output=True, text=True, cwd=ROOT)
    if r.returncode != 0:
        return None, None
    j = json.loads(r.stdout.strip().splitlines()[-1])
    return j["median_ms"], j["rss_mb"]


def chain_model(units, path):
    """An ONNX graph of `units` Conv -> BatchNormalization -> Relu blocks (3 nodes each, 4 channels, 4x4):
    tiny weights, so converting it measures the passes' cost per node, not data movement."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(0)
    nodes, inits, prev = [], [], "x"
    for i in range(units):
        for name, v in ((f"w{i}", rng.standard_normal((4, 4, 1, 1))), (f"s{i}", rng.uniform(0.5, 1.5, 4)),
                        (f"b{i}", rng.uniform(-0.5, 0.5, 4)), (f"m{i}", rng.uniform(-0.5, 0.5, 4)),
                        (f"v{i}", rng.uniform(0.5, 1.5, 4))):
            inits.append(numpy_helper.from_array(v.astype(np.float32), name))
        nodes += [helper.make_node("Conv", [prev, f"w{i}"], [f"c{i}"]),
                  helper.make_node("BatchNormalization", [f"c{i}", f"s{i}", f"b{i}", f"m{i}", f"v{i}"], [f"n{i}"]),
                  helper.make_node("Relu", [f"n{i}"], [f"r{i}"])]
        prev = f"r{i}"
    g = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 4, 4])],
                          [helper.make_tensor_value_info(prev, TensorProto.FLOAT, [1, 4, 4, 4])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


def conversion_scaling():
    """converter_lite's time on chains of 3,000 and 12,000 nodes: a linear pipeline takes about 4x as long
    for 4x the nodes, a quadratic pass 16x."""
    out = []
    for units in (1000, 4000):
        path = os.path.join(WORK, f"chain{units}.onnx")
        chain_model(units, path)
        t, _ = timed([os.path.join(BUILD, "converter_lite"), "--fmk=ONNX", f"--modelFile={path}",
                      f"--outputFile={os.path.join(WORK, f'chain{units}')}"], repeat=3)
        out.append((3 * units, t))
    return out


def machine_peak():
    """The FMA peak of one core and our one-thread SGEMM 1024^3 (bench_kernels --peak)."""
    r = subprocess.run([os.path.join(BUILD, "tests", "bench_kernels"), "--peak", "1.0"], capture_output=True,
                       text=True)
    if r.returncode != 0:
        return None
    vals = dict(l.split(" ", 1) for l in r.stdout.strip().splitlines() if " " in l)
    return float(vals["fma_peak_gflops"]), float(vals["sgemm1024_gflops"]), vals.get("kernel", "?")


def foreign_sections(path, ours):
    """The `## ` sections of an existing results file that this script does not write (other
    benchmarks append theirs, e.g. test_weight_quant.py): kept, after ours."""
    try:
        text = open(path).read().splitlines()
    except OSError:
        return []
    kept, cur = [], None
    for line in text:
        if line.startswith("## "):
            title = line[3:]
            cur = None if any(title.split(" (")[0] == o.split(" (")[0] for o in ours) else []
            if cur is not None:
                kept.append(cur)
        if cur is not None:
            cur.append(line)
    out = []
    for sec in kept:
        while sec and not sec[-1].strip():
            sec.pop()
        out += [""] + sec
    return out


def commit():
    """The commit measured, marked when the working tree differs from it."""
    try:
        h = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                           check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)bench/RESULTS.md"], capture_output=True, text=True).stdout.strip()
        return h + (" + uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loops", type=int, default=30)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "RESULTS.md"))
    a = ap.parse_args()
    os.makedirs(WORK, exist_ok=True)
    torch.manual_seed(0)
    rows_conv, rows_lat = [], []
    # Every torchvision classification model of the inference tests (test_models_vs_torch.py,
    # test_act_fusion_vs_torch.py);
    # conversion is timed on the two the issue names.
    for name in ("resnet18", "mobilenet_v2", "squeezenet1_1", "shufflenet_v2_x1_0", "efficientnet_b0",
                 "mobilenet_v3_small"):
        model = getattr(torchvision.models, name)(weights=None).eval()
        shape = (1, 3, 224, 224)
        onnx_path = os.path.join(WORK, name + ".onnx")
        torch.onnx.export(model, torch.randn(*shape), onnx_path, opset_version=13,
                          input_names=["input"], output_names=["output"])
        out = os.path.join(WORK, name)
        conv_cmd = [os.path.join(BUILD, "converter_lite"), "--fmk=ONNX", f"--modelFile={onnx_path}",
                    f"--outputFile={out}"]
        t_conv = t_cp = None
        if name in ("resnet18", "mobilenet_v2"):
            t_conv, rss_conv = timed(conv_cmd)
            t_cp, _ = timed(["cp", onnx_path, out + ".copy.onnx"])
            rows_conv.append((name, os.path.getsize(onnx_path) / 1e6, t_conv, t_cp, rss_conv))
        else:
            subprocess.run(conv_cmd, check=True, capture_output=True)
        t_tod, rss_tod = tod_latency(out + ".ms", a.loops)
        t_torch = torch_latency(model, shape, a.loops)
        t_ort, rss_ort = ort_latency(onnx_path, shape, a.loops)
        bias, bias_ok = accuracy(out + ".ms", model, shape)
        rows_lat.append((name, t_tod, t_torch, t_ort, rss_tod, rss_ort, bias, bias_ok))
        conv_note = f"convert {t_conv:.1f} ms (cp {t_cp:.1f} ms); " if t_conv is not None else ""
        print(name, f"{conv_note}tod {t_tod:.2f} ms, torch {t_torch:.2f} ms, "
              f"ort {t_ort if t_ort is None else round(t_ort, 2)} ms", flush=True)
    # Training steps: tod (benchmark_train on a --trainModel=true conversion) against PyTorch.
    rows_train = []
    for name, batch, shape in (("lenet5", 32, (1, 28, 28)), ("mobilenet_v2", 8, (3, 224, 224))):
        steps = a.loops if name == "lenet5" else max(5, a.loops // 4)
        onnx_path = os.path.join(WORK, name + "_train.onnx")
        if name == "lenet5":
            torch.manual_seed(0)
            m = torch.nn.Sequential(
                torch.nn.Conv2d(1, 6, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                torch.nn.Linear(400, 120), torch.nn.ReLU(), torch.nn.Linear(120, 84), torch.nn.ReLU(),
                torch.nn.Linear(84, 10)).eval()
            torch.onnx.export(m, torch.randn(batch, *shape), onnx_path, opset_version=13, input_names=["input"],
                              output_names=["logits"])
        else:
            m = torchvision.models.mobilenet_v2(weights=None).eval()
            torch.onnx.export(m, torch.randn(batch, *shape), onnx_path, opset_version=13, input_names=["input"],
                              output_names=["logits"], training=torch.onnx.TrainingMode.PRESERVE,
                              do_constant_folding=False)
        cfg = os.path.join(WORK, "train.cfg")
        with open(cfg, "w") as f:
            f.write("[train]\nloss=softmax_cross_entropy\noptimizer=momentum\nlearning_rate=0.01\nmomentum=0.9\n")
        out = os.path.join(WORK, name + "_train")
        subprocess.run([os.path.join(BUILD, "converter_lite"), "--fmk=ONNX", f"--modelFile={onnx_path}",
                        f"--outputFile={out}", "--trainModel=true", f"--configFile={cfg}"], check=True,
                       capture_output=True)
        # benchmark_train runs the stored shapes: the exports above are at this batch
        r = subprocess.run([os.path.join(BUILD, "benchmark_train"), f"--modelFile={out}.ms", f"--epochs={steps}",
                            "--warmUpLoopCount=2", f"--numThreads={THREADS}"], check=True, capture_output=True, text=True)
        t_tod = float(re.search(r"MedianStepTime = ([\d.]+) ms", r.stdout).group(1))
        rss_tod = float(re.search(r"PeakRSS = ([\d.]+) MB", r.stdout).group(1))
        r = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "bench", "torch_train_step.py"), name, str(batch),
                            str(steps), str(THREADS)], check=True, capture_output=True, text=True)
        j = json.loads(r.stdout.strip().splitlines()[-1])
        rows_train.append((name, batch, t_tod, j["median_ms"], rss_tod, j["rss_mb"]))
        print(name, f"train step tod {t_tod:.1f} ms, torch {j['median_ms']:.1f} ms", flush=True)
    scaling = conversion_scaling()
    print("conversion scaling", scaling, flush=True)
    peak = machine_peak()
    cpu = ""
    try:
        cpu = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")][0]
    except (OSError, IndexError):
        pass
    def met(ok):
        return "met" if ok else "**not met**"

    gm = None
    ort_ratios = [r[1] / r[3] for r in rows_lat if r[3]]
    if ort_ratios:
        gm = 1.0
        for q in ort_ratios:
            gm *= q
        gm **= 1.0 / len(ort_ratios)
    summary = []
    for n, tt, _, to, rt, ro, _, _ in rows_lat:
        if to:
            summary.append((f"inference {n}: tod / ORT latency", f"{tt / to:.2f}x", "<= 1.0x", tt / to <= 1.0))
            summary.append((f"inference {n}: tod / ORT peak RSS", f"{rt / ro:.2f}x", "<= 0.7x", rt / ro <= 0.7))
    if gm is not None:
        summary.append(("inference: geometric mean of tod / ORT latency", f"{gm:.2f}x", "<= 0.9x", gm <= 0.9))
    for n, b, tt, tp, rt, rp in rows_train:
        limit = 0.3 if n == "lenet5" else 0.8
        summary.append((f"training step {n} batch {b}: tod / PyTorch", f"{tt / tp:.2f}x", f"<= {limit}x",
                        tt / tp <= limit))
        if n != "lenet5":
            summary.append((f"training step {n} batch {b}: tod / PyTorch peak RSS", f"{rt / rp:.2f}x", "<= 0.5x",
                            rt / rp <= 0.5))
    for n, mb, tc, tp, rc in rows_conv:
        summary.append((f"conversion {n}: converter_lite / cp wall time", f"{tc / tp:.1f}x", "<= 3x", tc / tp <= 3))
        summary.append((f"conversion {n}: converter_lite peak RSS / ONNX file (whole process)", f"{rc / mb:.2f}x",
                        "<= 1.5x", rc / mb <= 1.5))
    if peak:
        share = peak[1] / peak[0]
        summary.append(("SGEMM 1024^3, one thread: share of the FMA peak", f"{100 * share:.0f}%", ">= 75%",
                        share >= 0.75))
    for n, *_rest, bias, ok in rows_lat:
        summary.append((f"`benchmark --benchmarkDataFile` {n} vs PyTorch (mean bias)",
                        f"{bias}%" if bias is not None else "n/a", "<= 0.5%", ok))

    lines = ["# Benchmark results", "",
             f"Measured {time.strftime('%Y-%m-%d')} by `bench/bench_models.py` (`bash bench/run.sh`) on "
             f"{cpu or platform.machine()}, {os.cpu_count()} cores; {THREADS} threads for every runtime; batch 1 for "
             f"inference; median of {a.loops} runs after 5 warm-up runs; commit {commit()}. Only the ratios within "
             "one run mean anything on this noisy machine. Ratios are ours / peer: below 1 means tod is faster "
             "or smaller.", "",
             "## Issue 11 targets", "",
             "| what | measured | target | |", "| --- | ---: | ---: | --- |"]
    lines += [f"| {w} | {m} | {t} | {met(ok)} |" for w, m, t, ok in summary]
    lines.append("")
    if peak:
        lines += ["## Machine peak and GEMM", "",
                  f"FMA peak of one core: {peak[0]:.1f} GFLOP/s; SGEMM 1024x1024x1024 on one thread "
                  f"({peak[2]}): {peak[1]:.1f} GFLOP/s = {100 * peak[1] / peak[0]:.0f}% of it.", ""]
    lines += ["## Conversion (converter_lite against `cp` of the same ONNX file)", "",
              "| model | ONNX MB | converter_lite ms | cp ms | time ratio | converter peak RSS MB | RSS / file |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for n, mb, tc, tp, rc in rows_conv:
        lines.append(f"| {n} | {mb:.1f} | {tc:.1f} | {tp:.1f} | {tc / tp:.1f}x | {rc:.1f} | {rc / mb:.2f}x |")
    (n1, t1), (n2, t2) = scaling
    lines += ["", f"Graph size: converting a chain of {n2:,} nodes (Conv, BatchNormalization, Relu) took {t2:.0f} ms, "
              f"{t2 / t1:.1f}x the {t1:.0f} ms of a {n1:,}-node chain ({n2 // n1}x the nodes: linear would be "
              f"{n2 // n1}x, a quadratic pass {(n2 // n1) ** 2}x)."]
    lines += ["", "## Inference latency (batch 1; lower is better)", "",
              "| model | tod ms | ONNX Runtime ms | PyTorch ms | tod / ORT | tod / PyTorch | tod peak RSS MB | "
              "ORT peak RSS MB | RSS tod / ORT | mean bias vs PyTorch |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for n, tt, tp, to, rt, ro, bias, _ in rows_lat:
        lines.append(f"| {n} | {tt:.2f} | {f'{to:.2f}' if to else 'n/a'} | {tp:.2f} | "
                     f"{f'{tt / to:.2f}' if to else 'n/a'} | {tt / tp:.2f} | {rt:.0f} | {f'{ro:.0f}' if ro else 'n/a'} | "
                     f"{f'{rt / ro:.2f}' if ro else 'n/a'} | {f'{bias:.4f}%' if bias is not None else 'n/a'} |")
    if gm is not None:
        lines += ["", f"Geometric mean of tod / ORT latency: {gm:.2f}x."]
    lines += ["", "## Training step (SGD momentum, cross-entropy; lower is better)", "",
              "| model | batch | tod ms | PyTorch ms | tod / PyTorch | tod peak RSS MB | PyTorch peak RSS MB | RSS ratio |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for n, b, tt, tp, rt, rp in rows_train:
        lines.append(f"| {n} | {b} | {tt:.1f} | {tp:.1f} | {tt / tp:.2f} | {rt:.0f} | {rp:.0f} | {rt / rp:.2f} |")
    lines += ["", "PyTorch's peak RSS includes its own runtime (~300 MB for `import torch`), which is part of what a",
              "device pays for it. ORT's peak RSS is that of its Node.js process."]
    lines += foreign_sections(a.out, [l[3:] for l in lines if l.startswith("## ")])
    with open(a.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    sys.exit(main())
