"""ONNX backend conformance floor: runs tests/conformance/run_onnx_backend.py over ONNX's own
backend test suite (Debian libonnx-testdata) and fails when fewer cases pass than the floor
recorded in tests/conformance/floor.txt."""
import json
import os
import subprocess
import sys

from todtest import BUILD, SOURCE, WORK, check, finish

DATA = "/usr/share/libonnx-testdata/data"


def floor():
    with open(os.path.join(SOURCE, "tests", "conformance", "floor.txt")) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                return int(line)
    raise ValueError("floor.txt holds no number")


def main():
    if not os.path.isdir(DATA):
        print(f"SKIP: {DATA} missing (install libonnx-testdata)")
        return
    summary = os.path.join(WORK, "onnx_backend_summary.json")
    runner = os.path.join(SOURCE, "tests", "conformance", "run_onnx_backend.py")
    r = subprocess.run([sys.executable, runner, "--build", BUILD, "--jobs", "2", "--quiet",
                        "--work", os.path.join(WORK, "conformance"), "--summary", summary],
                       capture_output=True, text=True, timeout=900)
    print(r.stdout[-6000:])
    check(r.returncode == 0, f"runner exits 0 (got {r.returncode}) {r.stderr.strip()[-500:]}")
    if r.returncode != 0:
        finish()
        return
    with open(summary) as f:
        s = json.load(f)
    lo = floor()
    check(s["total"] >= 1000, f"runner saw {s['total']} cases")
    check(s["passed"] >= lo, f"{s['passed']}/{s['total']} cases pass, floor {lo}")
    crashes = [c["suite"] + "/" + c["case"] for c in s["cases"] if "crashed" in c["reason"]]
    check(not crashes, f"no converter/runtime crashes ({', '.join(crashes[:10])})")
    finish()


if __name__ == "__main__":
    main()
