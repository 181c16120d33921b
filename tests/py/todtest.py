"""Shared helpers of tod's end-to-end tests: where the built tools are, how to call them, and
the independent references (PyTorch, flatc). Every test file is a plain script run by CTest
with /usr/bin/python3; it prints one line per check and exits non-zero on the first failure."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

SOURCE = os.environ.get("TOD_SOURCE", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD = os.environ.get("TOD_BUILD", os.path.join(SOURCE, "build"))
SHARED = os.environ.get("TOD_SHARED", os.path.join(SOURCE, "..", "shared"))
WORK = os.environ.get("TOD_WORK", os.path.join(BUILD, "testwork"))
os.makedirs(WORK, exist_ok=True)

# The device's runtime tools (tod, benchmark, benchmark_train) may come from a cross build run
# under an emulator (scripts/test_arm.sh): TOD_RUNTIME_BUILD holds them, TOD_EXEC_WRAPPER (e.g.
# "qemu-aarch64 -L /usr/aarch64-linux-gnu") runs them. converter_lite and the other helpers are
# always the build machine's, from TOD_BUILD: the .ms file is the contract between the two.
RUNTIME_BUILD = os.environ.get("TOD_RUNTIME_BUILD") or BUILD
EXEC_WRAPPER = os.environ.get("TOD_EXEC_WRAPPER", "").split()
CONVERTER = os.path.join(BUILD, "converter_lite")
TOD = os.path.join(RUNTIME_BUILD, "tod")
BENCHMARK = os.path.join(RUNTIME_BUILD, "benchmark")
BENCHMARK_TRAIN = os.path.join(RUNTIME_BUILD, "benchmark_train")
RUNTIME_TOOLS = (TOD, BENCHMARK, BENCHMARK_TRAIN)
SCHEMA = os.path.join(SHARED, "formats", "ms-schema", "model.fbs")

_failures = 0


def check(cond, what):
    global _failures
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        _failures += 1


def finish():
    if _failures:
        print(f"{_failures} check(s) failed")
        sys.exit(1)
    print("all checks passed")


def workdir(name):
    d = os.path.join(WORK, name)
    os.makedirs(d, exist_ok=True)
    return d


def run(cmd, **kw):
    if EXEC_WRAPPER and cmd and cmd[0] in RUNTIME_TOOLS:
        cmd = [*EXEC_WRAPPER, *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def selected(names):
    """The names TOD_TEST_ONLY (comma-separated) keeps, all when unset: emulated runs pick the
    small models of a test."""
    only = os.environ.get("TOD_TEST_ONLY")
    return [n for n in names if not only or n in only.split(",")]


def convert(onnx_path, out_base, *extra):
    """Runs converter_lite; returns (returncode, stdout lines)."""
    r = run([CONVERTER, "--fmk=ONNX", f"--modelFile={onnx_path}", f"--outputFile={out_base}", *extra])
    lines = [l for l in r.stdout.splitlines() if l.strip()]
    return r.returncode, lines, r.stderr


def tod_run(ms_path, inputs, n_outputs=1, threads=None):
    """Runs `tod run` on numpy inputs; returns the list of output arrays."""
    d = tempfile.mkdtemp(dir=WORK)
    cmd = [TOD, "run", ms_path]
    for i, x in enumerate(inputs):
        p = os.path.join(d, f"in{i}.npy")
        np.save(p, x)
        cmd += ["--input", p]
    outs = [os.path.join(d, f"out{i}.npy") for i in range(n_outputs)]
    for p in outs:
        cmd += ["--output", p]
    if threads:
        cmd += [f"--numThreads={threads}"]
    r = run(cmd)
    if r.returncode != 0:
        raise RuntimeError(f"tod run failed: {r.stderr.strip()}")
    return [np.load(p) for p in outs]


def flatc_json(ms_path):
    """Decodes a .ms file with flatc and the MindSpore Lite schema (the independent reader)."""
    d = tempfile.mkdtemp(dir=WORK)
    r = run(["flatc", "--json", "--raw-binary", "--strict-json", "--defaults-json", "-o", d, SCHEMA, "--", ms_path])
    if r.returncode != 0:
        return None, r.stderr
    base = os.path.splitext(os.path.basename(ms_path))[0]
    with open(os.path.join(d, base + ".json")) as f:
        return json.load(f), ""


def close(y, ref, tol=1e-4):
    """The issue's criterion: |y - ref| <= tol * max(1, max|ref|) everywhere, same shape."""
    if y.shape != ref.shape:
        return False, f"shape {y.shape} != {ref.shape}"
    bound = tol * max(1.0, float(np.abs(ref).max()) if ref.size else 1.0)
    err = float(np.abs(y.astype(np.float64) - ref.astype(np.float64)).max()) if ref.size else 0.0
    return err <= bound, f"max err {err:.3g} (bound {bound:.3g})"
