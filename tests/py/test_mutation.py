"""Mutation test (issue 10): hostile variants of real files through the tools.

Real inputs: models/lenet5.onnx, MindSpore's relu.mindir and .ms fixtures, .ms files our converter
writes, and a .ckpt and .npy written by `tod train` / numpy in this test. Mutators: bit flips,
overwritten 32-bit words (0, -1, INT_MAX, INT_MIN), truncations, insertions, deletions and splices
(deterministic: input i is a function of TOD_MUTATION_SEED and i alone). Each mutant goes through
the tool that reads its format: converter_lite (.onnx, .mindir), `tod info` and `tod run` (.ms),
`tod run` (.npy), `tod train --resume` (.ckpt).

Checks for every input: no exit by signal, no hang (20 s), no sanitizer report; a non-zero exit
prints a status code (converter: `CONVERT RESULT FAILED:<code>`, tod: `tod: error <code>`); a failed
conversion leaves no file in its output directory, a successful one writes a .ms `tod info` accepts.

Inputs: TOD_MUTATION_N (default 20,000 in a sanitizer build, 3,000 otherwise), 2 processes at a time.
"""
import collections
import concurrent.futures
import os
import random
import re
import shutil
import struct
import threading
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from todtest import BUILD, CONVERTER, SHARED, SOURCE, TOD, check, finish, workdir  # noqa: E402

TIMEOUT = 20
SANITIZER = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer", "ERROR: UndefinedBehaviorSanitizer")


def sanitized_build():
    try:
        with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
            return "TOD_SANITIZE:BOOL=ON" in f.read()
    except OSError:
        return False


SAN = sanitized_build()
N = int(os.environ.get("TOD_MUTATION_N", "20000" if SAN else "3000"))
SEED = int(os.environ.get("TOD_MUTATION_SEED", "20261124"))
WORKERS = 2

W = workdir("mutation")
shutil.rmtree(W, ignore_errors=True)
os.makedirs(W)


def sh(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout, r.stderr)
        raise SystemExit(f"setup failed: {' '.join(cmd)}")
    return r


# --- real inputs ------------------------------------------------------------------------------
LENET_ONNX = os.path.join(SOURCE, "models", "lenet5.onnx")
FIX = os.path.join(SHARED, "fixtures", "mindspore")
RELU_MINDIR = os.path.join(FIX, "relu.mindir")
sh([CONVERTER, "--fmk=ONNX", f"--modelFile={LENET_ONNX}", f"--outputFile={W}/lenet"])
sh([CONVERTER, "--fmk=ONNX", f"--modelFile={LENET_ONNX}", f"--outputFile={W}/lenet_train", "--trainModel=true"])
sh([CONVERTER, "--fmk=MINDIR", f"--modelFile={RELU_MINDIR}", f"--outputFile={W}/relu"])
rng0 = np.random.default_rng(SEED)
np.save(f"{W}/x.npy", rng0.standard_normal((1, 1, 28, 28)).astype(np.float32))
np.save(f"{W}/x_relu.npy", rng0.standard_normal((1, 1, 2, 2)).astype(np.float32))
np.save(f"{W}/x_fix.npy", np.fromfile(os.path.join(FIX, "x_lenet.bin"), np.float32)[:2 * 32 * 32].reshape(2, 32, 32, 1))
np.save(f"{W}/X.npy", rng0.standard_normal((2, 1, 28, 28)).astype(np.float32))
np.save(f"{W}/Y.npy", np.array([3, 7], dtype=np.int32))
sh([TOD, "train", f"{W}/lenet_train.ms", "--input", f"{W}/X.npy", "--label", f"{W}/Y.npy", "--batch", "2",
    "--steps", "1", "--save-checkpoint-steps", "1", "--directory", f"{W}/ck", "--prefix", "lenet"])
CKPT = f"{W}/ck/lenet-1_1.ckpt"
# the unmutated inputs must pass, or the test proves nothing
sh([TOD, "train", f"{W}/lenet_train.ms", "--input", f"{W}/X.npy", "--label", f"{W}/Y.npy", "--batch", "2",
    "--steps", "2", "--resume", CKPT])
sh([TOD, "run", f"{W}/lenet.ms", "--input", f"{W}/x.npy", "--output", f"{W}/y.npy"])
sh([TOD, "run", os.path.join(FIX, "lenet_tod_infer.ms"), "--input", f"{W}/x_fix.npy", "--output", f"{W}/y.npy"])
sh([TOD, "run", f"{W}/relu.ms", "--input", f"{W}/x_relu.npy", "--output", f"{W}/y.npy"])


def read(p):
    with open(p, "rb") as f:
        return f.read()


# (kind, source name, bytes, weight): the weight sets each kind's share of the N inputs.
SOURCES = {
    "onnx": [("lenet5.onnx", read(LENET_ONNX))],
    "mindir": [("relu.mindir", read(RELU_MINDIR))],
    "ms": [("lenet.ms", read(f"{W}/lenet.ms")), ("relu.ms", read(f"{W}/relu.ms")),
           ("lenet_train.ms", read(f"{W}/lenet_train.ms")),
           ("fixture lenet_tod_infer.ms", read(os.path.join(FIX, "lenet_tod_infer.ms")))],
    "npy": [("x.npy", read(f"{W}/x.npy")), ("Y.npy", read(f"{W}/Y.npy"))],
    "ckpt": [("lenet-1_1.ckpt", read(CKPT))],
}
# tool per kind: (name, share of the inputs)
PLAN = [("converter onnx", "onnx", 0.13), ("converter mindir", "mindir", 0.15), ("tod info", "ms", 0.25),
        ("tod run ms", "ms", 0.17), ("tod run npy", "npy", 0.15), ("tod train --resume", "ckpt", 0.15)]

WORDS = [0, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000]


def position(r, n):
    """Offsets biased to both ends, where headers, flatbuffer tables and protobuf framing live."""
    if n == 0:
        return 0
    k = r.random()
    if k < 0.35:
        return r.randrange(min(n, 2048))
    if k < 0.55:
        return n - 1 - r.randrange(min(n, 2048))
    return r.randrange(n)


def mutate(r, data, kind):
    b = bytearray(data)
    n = len(b)
    m = r.choice(["bitflip", "word", "truncate", "insert", "delete", "splice"])
    if m == "bitflip":
        for _ in range(r.choice([1, 1, 2, 4, 8])):
            p = position(r, n)
            b[p] ^= 1 << r.randrange(8)
    elif m == "word":
        for _ in range(r.choice([1, 1, 2, 3])):
            p = position(r, n)
            if r.random() < 0.6:
                p &= ~3
            p = min(p, max(n - 4, 0))
            b[p:p + 4] = struct.pack("<I", r.choice(WORDS))[:max(0, min(4, n - p))]
    elif m == "truncate":
        b = b[:r.randrange(n)] if r.random() < 0.5 else b[:n - 1 - r.randrange(min(n, 4096))]
    elif m == "insert":
        p = position(r, n)
        ins = bytes(r.randrange(256) for _ in range(r.choice([1, 4, 8, 64])))
        b = b[:p] + ins + b[p:]
    elif m == "delete":
        p = position(r, n)
        b = b[:p] + b[p + r.choice([1, 4, 8, 64, 512]):]
    else:  # splice: the head of one real file of the kind on the tail of another (or itself)
        other = r.choice(SOURCES[kind])[1]
        p, q = position(r, n), position(r, len(other))
        b = b[:p] + other[q:]
    return m, bytes(b)


CODE_CONV = re.compile(r"CONVERT RESULT FAILED:(-\d+)")
CODE_TOD = re.compile(r"tod: error (-\d+)")


def run_one(i):
    """Mutant i: returns (tool, source, mutator, outcome, problem or None)."""
    r = random.Random(SEED * 1000003 + i)
    u, acc = r.random(), 0.0
    tool, kind = PLAN[-1][0], PLAN[-1][1]
    for t, k, share in PLAN:
        acc += share
        if u < acc:
            tool, kind = t, k
            break
    src, data = r.choice(SOURCES[kind])
    if tool == "tod run ms" and src == "lenet_train.ms":
        src, data = "lenet.ms", SOURCES["ms"][0][1]
    mut, mdata = mutate(r, data, kind)
    d = os.path.join(W, f"w{threading.get_ident()}")  # one directory per worker thread
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "out"))
    ext = {"onnx": ".onnx", "mindir": ".mindir", "ms": ".ms", "npy": ".npy", "ckpt": ".ckpt"}[kind]
    inp = os.path.join(d, "in" + ext)
    with open(inp, "wb") as f:
        f.write(mdata)
    if tool.startswith("converter"):
        cmd = [CONVERTER, f"--fmk={'ONNX' if kind == 'onnx' else 'MINDIR'}", f"--modelFile={inp}",
               f"--outputFile={d}/out/m"]
    elif tool == "tod info":
        cmd = [TOD, "info", inp]
    elif tool == "tod run ms":
        x = {"relu.ms": "x_relu.npy", "lenet.ms": "x.npy"}.get(src, "x_fix.npy")
        x = os.path.join(W, x)
        cmd = [TOD, "run", inp, "--input", x, "--output", f"{d}/out/y.npy"]
    elif tool == "tod run npy":  # Y.npy's int32 labels as the model's input: a dtype mismatch at least
        cmd = [TOD, "run", f"{W}/lenet.ms", "--input", inp, "--output", f"{d}/out/y.npy"]
    else:
        cmd = [TOD, "train", f"{W}/lenet_train.ms", "--input", f"{W}/X.npy", "--label", f"{W}/Y.npy",
               "--batch", "2", "--steps", "2", "--resume", inp]
    problem = None
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=TIMEOUT, cwd=d)
    except subprocess.TimeoutExpired:
        return tool, src, mut, "hang", f"no exit within {TIMEOUT} s", mdata, cmd
    out = p.stdout + p.stderr
    if p.returncode < 0:
        problem = f"killed by signal {-p.returncode}"
    elif any(s in out for s in SANITIZER):
        problem = "sanitizer report"
    outcome = "accepted"
    if not problem and p.returncode != 0:
        m = (CODE_CONV if tool.startswith("converter") else CODE_TOD).search(out)
        if not m:
            problem = f"exit {p.returncode} without a status code"
        else:
            outcome = m.group(1)
        if tool.startswith("converter") and os.listdir(os.path.join(d, "out")):
            problem = f"failed conversion left {os.listdir(os.path.join(d, 'out'))}"
    if not problem and p.returncode == 0 and tool.startswith("converter"):
        ms = os.path.join(d, "out", "m.ms")
        if not os.path.exists(ms):
            problem = "successful conversion wrote no .ms"
        else:
            q = subprocess.run([TOD, "info", ms], capture_output=True, text=True, errors="replace",
                               timeout=TIMEOUT)
            if q.returncode != 0 or any(s in q.stdout + q.stderr for s in SANITIZER):
                problem = f"converted .ms refused by tod info: {(q.stdout + q.stderr)[-300:]}"
    if problem:
        problem += "\n" + out[-2000:]
    return tool, src, mut, outcome, problem, mdata if problem else None, cmd


t0 = time.time()
stats = collections.defaultdict(collections.Counter)
problems = []
with concurrent.futures.ThreadPoolExecutor(WORKERS) as ex:
    for i, res in enumerate(ex.map(run_one, range(N), chunksize=1)):
        tool, src, mut, outcome, problem, mdata, cmd = res
        stats[(tool, src)][outcome] += 1
        stats[(tool, "mutator " + mut)]["n"] += 1
        if problem:
            keep = os.path.join(W, "failures")
            os.makedirs(keep, exist_ok=True)
            with open(os.path.join(keep, f"{i}_{src.split()[-1]}"), "wb") as f:
                f.write(mdata)
            problems.append((i, tool, src, mut, problem))
            print(f"PROBLEM input {i}: {tool} on {mut} of {src}: {problem[:1500]}", flush=True)
elapsed = time.time() - t0

print(f"mutation test: {N} inputs in {elapsed:.0f} s ({'sanitizer' if SAN else 'release'} build, "
      f"seed {SEED}, {WORKERS} workers)")
for (tool, src), c in sorted(stats.items()):
    if src.startswith("mutator"):
        continue
    total = sum(c.values())
    codes = ", ".join(f"{k}: {v}" for k, v in sorted(c.items()) if k not in ("accepted", "hang"))
    print(f"  {tool:20s} {src:28s} {total:6d} inputs, accepted {c['accepted']:5d}, rejected {{{codes}}}")
muts = collections.Counter()
for (tool, src), c in stats.items():
    if src.startswith("mutator"):
        muts[src[8:]] += c["n"]
print("  mutators: " + ", ".join(f"{k} {v}" for k, v in sorted(muts.items())))
check(sum(sum(c.values()) for k, c in stats.items() if not k[1].startswith("mutator")) == N, f"{N} inputs ran")
check(all(muts[m] > 0 for m in ("bitflip", "word", "truncate", "insert", "delete", "splice")), "every mutator used")
check(not problems, f"no crash, hang, sanitizer report, code-less failure or leftover output "
      f"({len(problems)} problems)")
finish()
