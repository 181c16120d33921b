"""test_checkpoints_follow_checkpointconfig: `tod train` writes MindSpore .ckpt files under seed 003's
CheckpointConfig rules and resumes from them.

- naming PREFIX-EPOCH_STEP.ckpt and PREFIX-graph.meta (a loadable .ms), `_N` prefixes on later runs
  (MindSpore's next-free-N rule), the step policy with keep_checkpoint_max, the time policy and
  keep_checkpoint_per_n_minutes driven by an injected clock (TOD_TEST_CKPT_CLOCK seconds per step),
  the step policy winning over the time policy, the last step saved at a normal end;
- `protoc --decode` with the schema written from ckpt.md (tests/data/checkpoint.proto) reads the
  file, re-encodes it byte for byte, and the tensors equal the source ONNX model's weights (OIHW);
- a run resumed from step k reproduces the uninterrupted run's losses from k on exactly (with and
  without shuffling), and stops where the uninterrupted run stops;
- truncated, corrupt and foreign checkpoints are refused with a status code;
- kill -9 during repeated saves never leaves a corrupt file under a final name."""
import codecs
import glob
import os
import random
import re
import shutil
import signal
import subprocess
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import numpy_helper

from todtest import CONVERTER, SHARED, SOURCE, TOD, check, finish, run, workdir

PROTO_DIR = os.path.join(SOURCE, "tests", "data")
PROTO = os.path.join(PROTO_DIR, "checkpoint.proto")
SAMPLES, BATCH = 64, 8  # 8 steps per epoch


def lenet():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def setup(d):
    onnx_path = os.path.join(d, "lenet.onnx")
    torch.onnx.export(lenet().eval(), torch.randn(BATCH, 1, 32, 32), onnx_path, opset_version=13,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    cfg = os.path.join(d, "train.cfg")
    with open(cfg, "w") as f:
        f.write("[train]\nloss=softmax_cross_entropy\noptimizer=adam\nlearning_rate=0.001\n")
    r = run([CONVERTER, "--fmk=ONNX", f"--modelFile={onnx_path}", f"--outputFile={os.path.join(d, 'lenet')}",
             "--trainModel=true", f"--configFile={cfg}"])
    check(r.returncode == 0, f"training model converts ({r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr})")
    rng = np.random.default_rng(0)
    np.save(os.path.join(d, "x.npy"), rng.standard_normal((SAMPLES, 1, 32, 32)).astype(np.float32))
    np.save(os.path.join(d, "y.npy"), rng.integers(0, 10, SAMPLES).astype(np.int64))
    return os.path.join(d, "lenet.ms"), onnx_path


def train(d, model, *extra, env=None):
    cmd = [TOD, "train", model, "--input", os.path.join(d, "x.npy"), "--label", os.path.join(d, "y.npy"),
           "--batch", str(BATCH), "--numThreads", "2", *extra]
    e = dict(os.environ)
    e.pop("TOD_TEST_CKPT_CLOCK", None)
    if env:
        e.update(env)
    return subprocess.run(cmd, capture_output=True, text=True, env=e)


def ckpts(dirname):
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(dirname, "*.ckpt")))


def name(prefix, step):
    return f"{prefix}-{(step - 1) // 8 + 1}_{(step - 1) % 8 + 1}.ckpt"


def decode(path):
    """protoc's reading of a .ckpt: {tag: (dims, type, bytes)}, or None when protoc refuses it."""
    with open(path, "rb") as f:
        r = subprocess.run(["protoc", f"--proto_path={PROTO_DIR}", "--decode=Checkpoint", PROTO], stdin=f,
                           capture_output=True)
    if r.returncode != 0:
        return None, r.stderr.decode(errors="replace")
    text = r.stdout.decode("latin1")
    out = {}
    for m in re.finditer(r'tag: "([^"]*)"\s*tensor \{((?:\s*dims: \d+)*)\s*tensor_type: "(\w+)"\s*'
                         r'tensor_content: "((?:[^"\\]|\\.)*)"', text):
        dims = [int(x) for x in re.findall(r"\d+", m.group(2))]
        out[m.group(1)] = (dims, m.group(3), codecs.escape_decode(m.group(4).encode("latin1"))[0])
    return out, text


def test_naming_and_step_policy(d, model):
    cd = os.path.join(d, "steps")
    shutil.rmtree(cd, ignore_errors=True)
    r = train(d, model, "--steps", "20", "--no-shuffle", "--directory", cd, "--prefix", "lenet",
              "--save-checkpoint-steps", "3", "--keep-checkpoint-max", "3")
    check(r.returncode == 0, f"step policy run succeeds {r.stderr.strip()}")
    want = sorted([name("lenet", 15), name("lenet", 18), name("lenet", 20)])
    check(ckpts(cd) == want, f"every 3 steps, the last step at the end, the newest 3 kept: {ckpts(cd)}")
    meta = os.path.join(cd, "lenet-graph.meta")
    check(os.path.exists(meta), "lenet-graph.meta written")
    r = run([TOD, "info", meta])
    check(r.returncode == 0 and "Adam" in r.stdout, "the .meta is the training graph as a loadable .ms")
    # Later runs with the same prefix: _1, then _2 (MindSpore's next free N).
    for n in (1, 2):
        r = train(d, model, "--steps", "4", "--no-shuffle", "--directory", cd, "--prefix", "lenet",
                  "--save-checkpoint-steps", "2")
        files = [f for f in ckpts(cd) if f.startswith(f"lenet_{n}-")]
        check(r.returncode == 0 and files == [name(f"lenet_{n}", 2), name(f"lenet_{n}", 4)] and
              os.path.exists(os.path.join(cd, f"lenet_{n}-graph.meta")), f"run {n + 1} writes lenet_{n}-*: {files}")
    # The default prefix is the model file's stem; a prefix that only starts the same ("lenetx") is
    # another prefix.
    r = train(d, model, "--steps", "2", "--no-shuffle", "--directory", cd, "--prefix", "lenetx")
    check(r.returncode == 0 and name("lenetx", 2) in ckpts(cd), "a longer prefix is not a rerun of a shorter one")
    cd2 = os.path.join(d, "default")
    shutil.rmtree(cd2, ignore_errors=True)
    r = train(d, model, "--steps", "2", "--no-shuffle", "--ckpt-dir", cd2)
    check(ckpts(cd2) == [name("lenet", 1), name("lenet", 2)], f"defaults: every step, prefix = model stem {ckpts(cd2)}")


def retention_sim(saves, seconds_per_step, keep_max, per_n_min):
    """seed 003's retention restated: delete the oldest beyond keep_max, but never the first file of
    each per_n_min window, nor the newest; with no maximum, keep only window keepers + newest."""
    files, last_window = [], None
    for s in saves:
        keeper = False
        if per_n_min:
            w = int(s * seconds_per_step // (per_n_min * 60))
            keeper = w != last_window
            if keeper:
                last_window = w
        files.append((s, keeper))
        if keep_max:
            while len(files) > keep_max:
                victims = [i for i, (_, k) in enumerate(files[:-1]) if not k]
                if not victims:
                    break
                files.pop(victims[0])
        elif per_n_min:
            files = [f for i, f in enumerate(files) if f[1] or i == len(files) - 1]
    return [s for s, _ in files]


def test_time_policies(d, model):
    clock = {"TOD_TEST_CKPT_CLOCK": "10"}  # the clock advances 10 s per step
    cases = [
        # (flags, saved steps before retention, keep_max, per_n)
        (["--save-checkpoint-steps", "0", "--save-checkpoint-seconds", "25", "--keep-checkpoint-max", "0"],
         [3, 6, 9, 12, 15, 18, 20], 0, 0, "time policy: every 25 s (3 steps of 10 s), last step at the end"),
        (["--save-checkpoint-steps", "4", "--save-checkpoint-seconds", "25", "--keep-checkpoint-max", "0"],
         [4, 8, 12, 16, 20], 0, 0, "both set: the step policy wins"),
        (["--save-checkpoint-steps", "1", "--keep-checkpoint-max", "2", "--keep-checkpoint-per-n-minutes", "1"],
         list(range(1, 21)), 2, 1, "keep_checkpoint_max 2 but one per minute kept"),
        (["--save-checkpoint-steps", "1", "--keep-checkpoint-max", "0", "--keep-checkpoint-per-n-minutes", "1"],
         list(range(1, 21)), 0, 1, "only keep_checkpoint_per_n_minutes: one per minute and the newest"),
        (["--save-checkpoint-steps", "0", "--save-checkpoint-seconds", "0", "--keep-checkpoint-max", "5"],
         [20], 5, 0, "both policies off: only the last step"),
    ]
    for i, (flags, saves, kmax, pern, what) in enumerate(cases):
        cd = os.path.join(d, f"time{i}")
        shutil.rmtree(cd, ignore_errors=True)
        r = train(d, model, "--steps", "20", "--no-shuffle", "--directory", cd, "--prefix", "t", *flags, env=clock)
        want = sorted(name("t", s) for s in retention_sim(saves, 10, kmax, pern))
        check(r.returncode == 0 and ckpts(cd) == want, f"{what}: {ckpts(cd)} (want {want}) {r.stderr.strip()}")


def test_protoc_reads_weights(d, model, onnx_path):
    cd = os.path.join(d, "proto")
    shutil.rmtree(cd, ignore_errors=True)
    # lr 0: one Adam step leaves the weights as exported (the moments move).
    r = train(d, model, "--steps", "1", "--no-shuffle", "--lr", "0", "--directory", cd, "--prefix", "p")
    path = os.path.join(cd, name("p", 1))
    check(r.returncode == 0 and os.path.exists(path), f"one step saved {r.stderr.strip()}")
    vals, text = decode(path)
    check(vals is not None and len(vals) > 0, f"protoc --decode=Checkpoint reads the file ({len(vals or {})} values)")
    if not vals:
        return
    with open(path, "rb") as f:
        raw = f.read()
    enc = subprocess.run(["protoc", f"--proto_path={PROTO_DIR}", "--encode=Checkpoint", PROTO], input=text.encode("latin1"),
                         capture_output=True)
    check(enc.returncode == 0 and enc.stdout == raw, "protoc re-encodes its decoding to the same bytes")
    src = {t.name: numpy_helper.to_array(t) for t in onnx.load(onnx_path).graph.initializer}
    weights = [k for k in src if k.endswith(".weight") or k.endswith(".bias")]
    same = [k for k in weights if k in vals and vals[k][1] == "Float32" and vals[k][0] == list(src[k].shape)
            and vals[k][2] == src[k].astype("<f4").tobytes()]
    check(len(weights) == 10 and same == weights, f"every weight's dims and bytes equal the ONNX model's ({len(same)}/{len(weights)})")
    moments = [k for k in vals if k.startswith("moment1.") or k.startswith("moment2.")]
    check(len(moments) == 20, f"Adam's moments are saved ({len(moments)})")
    gs = vals.get("global_step")
    check(gs is not None and gs[1] == "Int32" and np.frombuffer(gs[2], "<i4").tolist() == [1], "global_step = 1 (Int32)")
    check("beta1_power" in vals and "learning_rate" in vals, "beta powers and learning rate saved")


def test_resume(d, model):
    for shuffle in ([], ["--no-shuffle"]):
        tag = "no shuffle" if shuffle else "shuffled"
        cd = os.path.join(d, "resume" + ("" if shuffle else "_shuf"))
        shutil.rmtree(cd, ignore_errors=True)
        full = os.path.join(cd, "full.npy")
        os.makedirs(cd)
        r = train(d, model, "--steps", "20", *shuffle, "--directory", cd, "--prefix", "r",
                  "--keep-checkpoint-max", "0", "--loss-log", full)
        check(r.returncode == 0, f"{tag}: uninterrupted run {r.stderr.strip()}")
        ref = np.load(full)
        for k in (5, 11):
            log = os.path.join(cd, f"res{k}.npy")
            r = train(d, model, "--steps", "20", *shuffle, "--directory", cd, "--prefix", "r", "--keep-checkpoint-max",
                      "0", "--resume", os.path.join(cd, name("r", k)), "--loss-log", log)
            got = np.load(log) if r.returncode == 0 else np.zeros(0)
            check(r.returncode == 0 and got.shape == (20 - k,) and np.array_equal(got, ref[k:]),
                  f"{tag}: resumed at step {k}: losses {k + 1}..20 equal the uninterrupted run's exactly "
                  f"(max diff {np.abs(got - ref[k:]).max() if got.shape == (20 - k,) else 'n/a'}) {r.stderr.strip()}")
        later = [f for f in ckpts(cd) if f.startswith("r_")]
        check(name("r_2", 20) in later and name("r_2", 12) in later and name("r_2", 11) not in later,
              f"{tag}: resumed runs continue the step numbering under a new prefix ({later[-3:]})")


def test_bad_checkpoints(d, model):
    cd = os.path.join(d, "bad")
    shutil.rmtree(cd, ignore_errors=True)
    r = train(d, model, "--steps", "1", "--no-shuffle", "--directory", cd, "--prefix", "b")
    good = os.path.join(cd, name("b", 1))
    with open(good, "rb") as f:
        raw = f.read()
    cases = {
        "truncated": raw[: len(raw) // 2],
        "truncated by one byte": raw[:-1],
        "empty": b"",
        "garbage": bytes(random.Random(1).randrange(256) for _ in range(4096)),
    }
    for what, data in cases.items():
        p = os.path.join(cd, "bad.ckpt")
        with open(p, "wb") as f:
            f.write(data)
        r = train(d, model, "--steps", "2", "--no-shuffle", "--resume", p)
        check(r.returncode != 0 and "-200" in r.stderr and "RET_GRAPH_FILE_ERR" in r.stderr,
              f"{what} checkpoint refused with -200: {r.stderr.strip()[:160]}")
    # A checkpoint truncated exactly between two values still parses: the missing parameter is named.
    p = os.path.join(cd, "short.ckpt")
    with open(p, "wb") as f:
        f.write(_prefix_values(raw, 3))
    r = train(d, model, "--steps", "2", "--no-shuffle", "--resume", p)
    check(r.returncode != 0 and "-600" in r.stderr and "has no parameter" in r.stderr,
          f"a checkpoint missing parameters is refused with -600: {r.stderr.strip()[:160]}")
    other = os.path.join(SHARED, "fixtures", "mindspore", "lenet_tod.ms")
    if os.path.exists(other):
        r = train(d, other, "--steps", "1", "--resume", good)
        check(r.returncode != 0 and "-600" in r.stderr, f"another model's checkpoint is refused: {r.stderr.strip()[:160]}")


def _prefix_values(raw, n):
    """The first n Checkpoint.value fields of a serialized checkpoint (a whole-field truncation)."""
    pos = 0
    for _ in range(n):
        assert raw[pos] == 0x0A
        pos += 1
        length, shift = 0, 0
        while True:
            b = raw[pos]
            pos += 1
            length |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                break
        pos += length
    return raw[:pos]


def test_kill9(d, model):
    cd = os.path.join(d, "kill")
    shutil.rmtree(cd, ignore_errors=True)
    rng = random.Random(3)
    env = dict(os.environ)
    env.pop("TOD_TEST_CKPT_CLOCK", None)
    ref, _ = decode(glob.glob(os.path.join(d, "proto", "*.ckpt"))[0])
    n_values = len(ref or {})
    bad, kills, seen, loads, runs_with_files = [], 0, 0, 0, 0
    for i in range(12):
        p = subprocess.Popen([TOD, "train", model, "--input", os.path.join(d, "x.npy"), "--label",
                              os.path.join(d, "y.npy"), "--batch", str(BATCH), "--steps", "100000", "--directory", cd,
                              "--prefix", "k", "--keep-checkpoint-max", "3"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=env)
        time.sleep(0.4 + rng.random() * 1.0)
        p.send_signal(signal.SIGKILL)
        p.wait()
        kills += p.returncode == -signal.SIGKILL
        files = glob.glob(os.path.join(cd, "*.ckpt"))
        for f in files:
            seen += 1
            vals, _ = decode(f)
            if not vals or len(vals) != n_values:
                bad.append(os.path.basename(f))
        if files:
            newest = max(files, key=os.path.getmtime)
            r = run([TOD, "export", model, "--ckpt", newest, "--format", "MS", "-o", os.path.join(d, "k.ms")])
            loads += r.returncode == 0
            runs_with_files += 1
        # Start the next run on an empty directory (leftover temporaries are not final names).
        for f in glob.glob(os.path.join(cd, "*")):
            os.remove(f)
    check(kills >= 10 and seen > 0, f"{kills} runs killed with SIGKILL mid-training ({seen} final files examined)")
    check(not bad, f"no truncated or corrupt checkpoint under a final name ({bad[:3]})")
    check(loads > 0 and loads == runs_with_files, f"the newest surviving checkpoint of each run loads ({loads}/{runs_with_files})")


def main():
    d = workdir("checkpoint")
    model, onnx_path = setup(d)
    test_naming_and_step_policy(d, model)
    test_time_policies(d, model)
    test_protoc_reads_weights(d, model, onnx_path)
    test_resume(d, model)
    test_bad_checkpoints(d, model)
    test_kill9(d, model)
    finish()


if __name__ == "__main__":
    main()
