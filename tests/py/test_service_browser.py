"""The `tod serve` web page in headless Chromium (tests/browser/service_e2e.js, playwright-core):
token login, create from a template, 成功 in the list, the log, English toggle, batch delete with
the confirmation. Screenshots go to $TOD_WORK/screenshots."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from todtest import SOURCE, WORK, check, finish  # noqa: E402
from servicetest import Server, export_tiny_onnx, fresh_dir  # noqa: E402

script = os.path.join(SOURCE, "tests", "browser", "service_e2e.js")
check(os.path.exists("/usr/bin/chromium"), "Debian chromium is installed (scripts/setup.sh)")
check(os.path.isdir(os.path.join(SOURCE, "node_modules", "playwright-core")), "npm playwright-core is installed")

work = fresh_dir("service_browser")
root = os.path.join(work, "root")
os.makedirs(os.path.join(root, "models", "lenet"))
export_tiny_onnx(os.path.join(root, "models", "lenet", "lenet.onnx"))
os.makedirs(os.path.join(root, "models", "broken"))
with open(os.path.join(root, "models", "broken", "broken.onnx"), "wb") as f:
    f.write(b"\x08\x07garbage")
shots = os.path.join(WORK, "screenshots")
shutil.rmtree(shots, ignore_errors=True)
os.makedirs(shots)

srv = Server(os.path.join(work, "data"), root, log_name="service_browser").start()
try:
    st, t, _ = srv.call("POST", "/api/v1/tasks", {"name": "broken_model", "template_id": "onnx-arm-inference",
                                                  "input_dir": "models/broken", "output_dir": "out/broken"})
    check(st == 201, "a failing task created through the API")
    srv.wait_final([t["id"]], 30)
    r = subprocess.run(["node", script], capture_output=True, text=True, timeout=240, cwd=SOURCE,
                       env=dict(os.environ, TOD_URL=srv.base, TOD_TOKEN_VALUE=srv.token, TOD_SHOTS=shots,
                                TOD_INPUT_DIR="models/lenet", TOD_PROFILE=os.path.join(work, "chromium-profile")))
    for line in r.stdout.splitlines():
        print("  browser: " + line)
    if r.stderr.strip():
        print("  browser stderr: " + r.stderr.strip()[-2000:])
    check(r.returncode == 0, "the browser flow passed")
    st, j, _ = srv.call("GET", "/api/v1/tasks")
    check(st == 200 and j["total"] == 0, f"the page's batch delete removed both tasks on the server ({j.get('total')})")
    check(os.path.exists(os.path.join(root, "out", "browser", "lenet.ms")), "the page's task wrote out/browser/lenet.ms")
    names = sorted(os.listdir(shots))
    check(len([n for n in names if n.endswith(".png")]) >= 8, f"screenshots saved in {shots}: {names}")
finally:
    check(srv.stop() == 0, "server stopped with exit 0")
finish()
