#!/usr/bin/python3
"""Conformance runner over ONNX's own backend test suite (Debian libonnx-testdata).

Every case (a directory with model.onnx and test_data_set_*/{input,output}_*.pb) goes through
the built converter_lite (--fmk=ONNX) and `tod run`; outputs are compared as ONNX's backend
runner does: numpy assert_allclose with rtol 1e-3, atol 1e-7 (NaN equal NaN), exact shapes and
exact dtypes. Prints one line per case (PASS / FAIL / ERROR + reason), then totals per suite and
per operator, and writes a JSON summary.

Usage: run_onnx_backend.py [--build DIR] [--data DIR] [--jobs N] [--summary FILE]
                           [--filter SUBSTR] [--quiet]
Environment defaults: TOD_BUILD (build dir holding converter_lite and tod), TOD_WORK (scratch).
Exit status 0 whenever the run itself worked (pass counts are judged by the caller).
"""
import argparse
import collections
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import numpy_helper

SUITES = ["node", "pytorch-converted", "pytorch-operator", "simple"]
DEFAULT_DATA = "/usr/share/libonnx-testdata/data"
RTOL, ATOL = 1e-3, 1e-7
STEP_TIMEOUT = 60

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("TOD_SOURCE", os.path.abspath(os.path.join(HERE, "..", "..")))

_cfg = {}


def load_pb(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def case_ops(model_path):
    """Operator types of a case (top-level graph), in order of first appearance."""
    try:
        m = onnx.load(model_path, load_external_data=False)
    except Exception:  # noqa: BLE001 - a broken model is reported by the converter
        return [], 0
    ops = []
    for n in m.graph.node:
        name = n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}"
        if name not in ops:
            ops.append(name)
    opset = 0
    for o in m.opset_import:
        if o.domain in ("", "ai.onnx"):
            opset = o.version
    return ops, opset


def compare(ref, out):
    """None when out matches ref as ONNX's backend test requires, else the reason."""
    if out.dtype != ref.dtype:
        return f"dtype {out.dtype} != expected {ref.dtype}"
    if out.shape != ref.shape:
        return f"shape {out.shape} != expected {ref.shape}"
    if ref.dtype == object:
        return None if np.array_equal(ref, out) else "values differ"
    if ref.dtype == np.bool_ or np.issubdtype(ref.dtype, np.integer):
        bad = np.count_nonzero(ref != out)
        return None if bad == 0 else f"{bad}/{ref.size} values differ"
    r = ref.astype(np.float64)
    o = out.astype(np.float64)
    both_nan = np.isnan(r) & np.isnan(o)
    same_inf = np.isinf(r) & (r == o)
    with np.errstate(invalid="ignore"):
        ok = (np.abs(o - r) <= ATOL + RTOL * np.abs(r)) | both_nan | same_inf
    if ok.all():
        return None
    bad = int(np.count_nonzero(~ok))
    with np.errstate(invalid="ignore"):
        err = np.nanmax(np.abs(o - r)[~ok]) if bad else 0.0
    return f"{bad}/{ref.size} values off (max abs err {err:.3g})"


def short(text, n=220):
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


def run_case(job):
    suite, name, case_dir = job
    converter, tod, work = _cfg["converter"], _cfg["tod"], _cfg["work"]
    ops, opset = case_ops(os.path.join(case_dir, "model.onnx"))
    res = {"suite": suite, "case": name, "ops": ops, "opset": opset}
    t0 = time.time()
    d = tempfile.mkdtemp(prefix=f"{suite}_{name}_"[:60], dir=work)
    try:
        res.update(_run_case(case_dir, converter, tod, d))
    except Exception as e:  # noqa: BLE001 - the runner never dies on a case
        res.update(status="ERROR", reason=short(f"runner: {type(e).__name__}: {e}"))
    finally:
        shutil.rmtree(d, ignore_errors=True)
    res["seconds"] = round(time.time() - t0, 3)
    return res


def _run_case(case_dir, converter, tod, d):
    sets = sorted(x for x in os.listdir(case_dir) if x.startswith("test_data_set_"))
    if not sets:
        return {"status": "ERROR", "reason": "no test_data_set"}
    base = os.path.join(d, "model")
    try:
        r = subprocess.run([converter, "--fmk=ONNX", f"--modelFile={os.path.join(case_dir, 'model.onnx')}",
                            f"--outputFile={base}"], capture_output=True, text=True, timeout=STEP_TIMEOUT)
    except subprocess.TimeoutExpired:
        return {"status": "ERROR", "reason": "convert: timeout"}
    if r.returncode != 0 or not os.path.exists(base + ".ms"):
        lines = [l for l in (r.stdout + "\n" + r.stderr).splitlines() if l.strip()]
        msg = next((l for l in reversed(lines) if "CONVERT RESULT" in l), lines[-1] if lines else "")
        if r.returncode < 0:
            msg = f"converter crashed (signal {-r.returncode}) {msg}"
        return {"status": "ERROR", "reason": short("convert: " + msg)}
    for s in sets:
        sd = os.path.join(case_dir, s)
        ins = sorted((x for x in os.listdir(sd) if x.startswith("input_")), key=lambda x: int(x[6:-3]))
        outs = sorted((x for x in os.listdir(sd) if x.startswith("output_")), key=lambda x: int(x[7:-3]))
        cmd = [tod, "run", base + ".ms", "--numThreads=1"]
        for i, x in enumerate(ins):
            try:
                a = load_pb(os.path.join(sd, x))
            except Exception as e:  # noqa: BLE001 - sequence/optional inputs
                return {"status": "ERROR", "reason": short(f"input {x}: cannot read as a tensor ({e})")}
            if a.dtype == object:
                return {"status": "ERROR", "reason": "input: string tensors are not supported"}
            p = os.path.join(d, f"in{i}.npy")
            np.save(p, np.ascontiguousarray(a))
            cmd += ["--input", p]
        refs = []
        for i, x in enumerate(outs):
            try:
                refs.append(load_pb(os.path.join(sd, x)))
            except Exception as e:  # noqa: BLE001
                return {"status": "ERROR", "reason": short(f"output {x}: cannot read as a tensor ({e})")}
            cmd += ["--output", os.path.join(d, f"out{i}.npy")]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=STEP_TIMEOUT)
        except subprocess.TimeoutExpired:
            return {"status": "ERROR", "reason": f"run ({s}): timeout"}
        if r.returncode != 0:
            msg = (r.stderr.strip() or r.stdout.strip()).splitlines()
            why = msg[-1] if msg else ""
            if r.returncode < 0:
                why = f"tod crashed (signal {-r.returncode}) {why}"
            return {"status": "ERROR", "reason": short(f"run ({s}): {why}")}
        for i, ref in enumerate(refs):
            try:
                out = np.load(os.path.join(d, f"out{i}.npy"))
            except Exception as e:  # noqa: BLE001
                return {"status": "ERROR", "reason": short(f"output {i} ({s}): unreadable ({e})")}
            why = compare(ref, out)
            if why:
                return {"status": "FAIL", "reason": short(f"output {i} ({s}): {why}")}
    return {"status": "PASS", "reason": ""}


def _init(cfg):
    _cfg.update(cfg)


def collect(data, flt):
    jobs = []
    for suite in SUITES:
        sd = os.path.join(data, suite)
        if not os.path.isdir(sd):
            continue
        for name in sorted(os.listdir(sd)):
            cd = os.path.join(sd, name)
            if not os.path.isfile(os.path.join(cd, "model.onnx")):
                continue
            if flt and not any(f in f"{suite}/{name}" for f in flt):
                continue
            jobs.append((suite, name, cd))
    return jobs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.environ.get("TOD_BUILD", os.path.join(SOURCE, "build")))
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--work", default=None)
    ap.add_argument("--summary", default=None, help="JSON summary path (default WORK/onnx_backend_summary.json)")
    ap.add_argument("--filter", action="append", default=[], help="only cases whose suite/name contains this")
    ap.add_argument("--quiet", action="store_true", help="print only non-passing cases and totals")
    args = ap.parse_args()

    converter = os.path.join(args.build, "converter_lite")
    tod = os.path.join(args.build, "tod")
    for p in (converter, tod):
        if not os.access(p, os.X_OK):
            print(f"missing executable {p}", file=sys.stderr)
            return 2
    if not os.path.isdir(args.data):
        print(f"missing ONNX test data {args.data} (Debian package libonnx-testdata)", file=sys.stderr)
        return 2
    work = args.work or os.path.join(os.environ.get("TOD_WORK", os.path.join(args.build, "testwork")), "conformance")
    os.makedirs(work, exist_ok=True)
    summary_path = args.summary or os.path.join(work, "..", "onnx_backend_summary.json")

    jobs = collect(args.data, args.filter)
    cfg = {"converter": converter, "tod": tod, "work": work}
    t0 = time.time()
    results = []
    with multiprocessing.Pool(max(1, args.jobs), initializer=_init, initargs=(cfg,)) as pool:
        for res in pool.imap(run_case, jobs, chunksize=4):
            results.append(res)
            if not args.quiet or res["status"] != "PASS":
                line = f"{res['status']:5s} {res['suite']}/{res['case']}"
                if res["reason"]:
                    line += f": {res['reason']}"
                print(line, flush=True)
    elapsed = time.time() - t0

    per_suite = collections.OrderedDict((s, collections.Counter()) for s in SUITES)
    per_op = collections.defaultdict(collections.Counter)
    for r in results:
        per_suite[r["suite"]][r["status"]] += 1
        for op in r["ops"] or ["(none)"]:
            per_op[op][r["status"]] += 1
    total = collections.Counter(r["status"] for r in results)

    def fmt(c):
        n = sum(c.values())
        return f"{c['PASS']:4d}/{n:<4d} pass  {c['FAIL']:4d} fail  {c['ERROR']:4d} error"

    print("\nper operator (cases containing the operator):")
    for op in sorted(per_op, key=lambda o: (-sum(per_op[o].values()), o)):
        print(f"  {op:32s} {fmt(per_op[op])}")
    print("\nper suite:")
    for s, c in per_suite.items():
        if sum(c.values()):
            print(f"  {s:32s} {fmt(c)}")
    print(f"\nTOTAL {total['PASS']}/{len(results)} passed, {total['FAIL']} failed, "
          f"{total['ERROR']} errors in {elapsed:.1f}s")

    summary = {
        "total": len(results), "passed": total["PASS"], "failed": total["FAIL"], "errors": total["ERROR"],
        "seconds": round(elapsed, 1),
        "suites": {s: dict(c) for s, c in per_suite.items()},
        "operators": {o: dict(c) for o, c in sorted(per_op.items())},
        "cases": results,
    }
    os.makedirs(os.path.dirname(os.path.abspath(summary_path)), exist_ok=True)
    with open(summary_path, "w") as f:
        json.dump(summary, f, indent=1)
    print(f"summary: {os.path.abspath(summary_path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
