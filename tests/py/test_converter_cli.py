"""test_converter_fails_cleanly: bad input never yields an .ms file. A truncated or garbage model,
a missing file, a bad flag value, a space after '=', unknown flags and not-yet-supported options
print `CONVERT RESULT FAILED:<code> <message>` as the last line, exit non-zero and leave no
output (nor temporary) file. Codes are MindSpore Lite's (errors.md)."""
import os
import re

import torch
import torch.nn as nn

from todtest import CONVERTER, check, finish, run, workdir

RET_PARAM_INVALID = -3
RET_NOT_SUPPORT = -7
RET_GRAPH_FILE_ERR = -200


def small_onnx(d):
    p = os.path.join(d, "small.onnx")
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5)).eval()
    torch.onnx.export(m, torch.randn(1, 3, 8, 8), p, opset_version=13)
    return p


def expect_failure(d, args, code, what):
    for f in os.listdir(d):
        if f.startswith("out"):
            os.remove(os.path.join(d, f))
    r = run([CONVERTER, *args])
    lines = [l for l in r.stdout.splitlines() if l.strip()]
    last = lines[-1] if lines else ""
    m = re.match(r"^CONVERT RESULT FAILED:(-?\d+) (.+)$", last)
    got = int(m.group(1)) if m else None
    leftovers = [f for f in os.listdir(d) if f.startswith("out")]
    check(r.returncode != 0 and m is not None and (code is None or got == code) and not leftovers,
          f"{what}: exit {r.returncode}, last line {last!r}, leftovers {leftovers}")
    return last


def expect_success(d, args, what):
    for f in os.listdir(d):
        if f.startswith("out"):
            os.remove(os.path.join(d, f))
    r = run([CONVERTER, *args])
    lines = [l for l in r.stdout.splitlines() if l.strip()]
    last = lines[-1] if lines else ""
    made = [f for f in os.listdir(d) if f.startswith("out") and f.endswith(".ms")]
    check(r.returncode == 0 and last == "CONVERT RESULT SUCCESS:0" and made,
          f"{what}: exit {r.returncode}, last line {last!r}, files {made}")


def main():
    d = workdir("cli")
    good = small_onnx(d)
    out = os.path.join(d, "out")
    data = open(good, "rb").read()

    r = run([CONVERTER, "--fmk=ONNX", f"--modelFile={good}", f"--outputFile={out}"])
    lines = r.stdout.splitlines()
    check(r.returncode == 0 and lines[-1] == "CONVERT RESULT SUCCESS:0" and os.path.exists(out + ".ms"),
          "a good model converts and '.ms' is appended to --outputFile")
    r = run([CONVERTER, "--fmk=ONNX", f"--modelFile={good}", f"--outputFile={out}2.ms"])
    check(r.returncode == 0 and os.path.exists(out + "2.ms") and not os.path.exists(out + "2.ms.ms"),
          "an --outputFile ending in .ms is kept as it is")
    r = run([CONVERTER, "--help"])
    check(r.returncode == 0 and "--fmk" in r.stdout and "--inputDataFormat" in r.stdout, "--help prints every flag")

    trunc = os.path.join(d, "trunc.onnx")
    for cut in (len(data) // 2, len(data) - 7, 17, 3):
        open(trunc, "wb").write(data[:cut])
        expect_failure(d, ["--fmk=ONNX", f"--modelFile={trunc}", f"--outputFile={out}"], RET_GRAPH_FILE_ERR,
                       f"model truncated at {cut} bytes")
    garbage = os.path.join(d, "garbage.onnx")
    open(garbage, "wb").write(os.urandom(4096))
    expect_failure(d, ["--fmk=ONNX", f"--modelFile={garbage}", f"--outputFile={out}"], RET_GRAPH_FILE_ERR,
                   "random bytes")
    empty = os.path.join(d, "empty.onnx")
    open(empty, "wb").close()
    expect_failure(d, ["--fmk=ONNX", f"--modelFile={empty}", f"--outputFile={out}"], RET_GRAPH_FILE_ERR,
                   "empty file")
    expect_failure(d, ["--fmk=ONNX", f"--modelFile={d}/missing.onnx", f"--outputFile={out}"], RET_PARAM_INVALID,
                   "missing model file")
    expect_failure(d, ["--fmk=ONNX", "--modelFile=", good, f"--outputFile={out}"], RET_PARAM_INVALID,
                   "space after '='")
    expect_failure(d, ["--fmk=ONNX", f"--modelFile={good}", "--outputFile", out], RET_PARAM_INVALID,
                   "flag without '='")
    expect_failure(d, ["--fmk=CAFFEINE", f"--modelFile={good}", f"--outputFile={out}"], RET_PARAM_INVALID,
                   "bad --fmk value")
    expect_failure(d, ["--fmk=ONNX", f"--modelFile={good}", f"--outputFile={out}", "--trainModel=maybe"],
                   RET_PARAM_INVALID, "bad --trainModel value")
    expect_failure(d, ["--fmk=ONNX", f"--modelFile={good}", f"--outputFile={out}", "--quantType=WeightQuant",
                       "--bitNum=17"], RET_PARAM_INVALID, "--bitNum out of range")
    expect_failure(d, ["--fmk=ONNX", f"--modelFile={good}", f"--outputFile={out}", "--quantType=WeightQuant",
                       "--bitNum=0"], RET_PARAM_INVALID, "--bitNum 0")
    expect_failure(d, ["--fmk=ONNX", f"--modelFile={good}", f"--outputFile={out}", "--quantWeightSize=-1"],
                   RET_PARAM_INVALID, "negative --quantWeightSize")
    expect_failure(d, ["--fmk=ONNX", f"--modelFile={good}", f"--outputFile={out}", "--inputDataFormat=NDHWC"],
                   RET_PARAM_INVALID, "bad --inputDataFormat")
    expect_failure(d, ["--fmk=ONNX", f"--modelFile={good}", f"--outputFile={out}", "--colour=blue"],
                   RET_PARAM_INVALID, "unknown flag")
    expect_failure(d, [f"--modelFile={good}", f"--outputFile={out}"], RET_PARAM_INVALID, "missing --fmk")
    expect_failure(d, ["--fmk=ONNX", f"--outputFile={out}"], RET_PARAM_INVALID, "missing --modelFile")
    expect_failure(d, ["--fmk=MINDIR", f"--modelFile={good}", f"--outputFile={out}"], RET_GRAPH_FILE_ERR,
                   "an ONNX file given as MINDIR is refused as malformed")
    expect_success(d, ["--fmk=ONNX", f"--modelFile={good}", f"--outputFile={out}", "--trainModel=true"],
                   "--trainModel=true converts (default training config)")
    expect_success(d, ["--fmk=ONNX", f"--modelFile={good}", f"--outputFile={out}", "--quantType=WeightQuant"],
                   "--quantType=WeightQuant converts (issue 5; details in test_weight_quant.py)")
    cfg = os.path.join(d, "train.cfg")
    open(cfg, "w").write("[train]\nloss=mse\n")
    expect_success(d, ["--fmk=ONNX", f"--modelFile={good}", f"--outputFile={out}", f"--configFile={cfg}",
                       "--trainModel=true"], "--configFile with [train] converts")
    bad_configs = [
        ("[train]\nloss=hinge\n", "unknown loss value", "loss"),
        ("[train]\noptimizer=rmsprop\n", "unknown optimizer", "optimizer"),
        ("[train]\nlearning_rate=fast\n", "non-numeric learning_rate", "learning_rate"),
        ("[train]\nbeta2=1.5\n", "beta2 out of range", "beta2"),
        ("[train]\nbatch_norm=off\n", "unknown key", "batch_norm"),
        ("[quantum]\nx=1\n", "unknown section", "quantum"),
        ("loss=mse\n", "key outside a section", "loss"),
        ("[train]\ntrainable=\n", "empty value", "trainable"),
        ("[train]\nfrozen=*\n", "everything frozen", None),
    ]
    for text, what, key in bad_configs:
        bad = os.path.join(d, "bad.cfg")
        open(bad, "w").write(text)
        last = expect_failure(d, ["--fmk=ONNX", f"--modelFile={good}", f"--outputFile={out}",
                                  f"--configFile={bad}", "--trainModel=true"], RET_PARAM_INVALID,
                              f"bad config: {what}")
        if key:
            check(key in last, f"bad config: {what}: the message names '{key}'")
    expect_failure(d, ["--fmk=ONNX", f"--modelFile={good}", f"--outputFile={out}", f"--configFile={d}/nope.cfg"],
                   RET_PARAM_INVALID, "missing config file")
    expect_failure(d, ["--fmk=ONNX", f"--modelFile={good}", f"--outputFile={d}/no/such/dir/out"], None,
                   "unwritable output directory")
    finish()


if __name__ == "__main__":
    main()
