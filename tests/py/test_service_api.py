"""`tod serve` over HTTP (shared/formats/service-api.md): templates, create/list/filter/detail/log,
single and batch delete, every refusal, isolation of crashing/hanging/greedy conversions, token
handling, then a load test (200 tasks, 20 clients, 2 workers) and a SIGKILL + restart."""
import json
import os
import shutil
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from todtest import check, finish  # noqa: E402
from servicetest import Server, export_tiny_onnx, fresh_dir, write_wrapper  # noqa: E402

T0 = time.time()
work = fresh_dir("service_api")
root = os.path.join(work, "root")
os.makedirs(root)
outside = os.path.join(work, "outside")
os.makedirs(outside)

# --- model directories under --root ---
model = os.path.join(work, "tiny.onnx")
export_tiny_onnx(model)


def model_dir(rel, files=("tiny.onnx",)):
    d = os.path.join(root, rel)
    os.makedirs(d, exist_ok=True)
    for f in files:
        shutil.copy(model, os.path.join(d, f))
    return rel


model_dir("ok")
with open(os.path.join(root, "ok", "README.txt"), "w") as f:
    f.write("not a model; ignored\n")
os.makedirs(os.path.join(root, "empty"))
model_dir("two", ("a.onnx", "b.onnx"))
model_dir("mixed", ("a.onnx", "b.mindir"))
os.makedirs(os.path.join(root, "garbage"))
with open(os.path.join(root, "garbage", "bad.onnx"), "wb") as f:
    f.write(b"this is not a protobuf \xff\xff\xff")
model_dir("slow1")
model_dir("slow2")
model_dir("hang")
model_dir("crash")
model_dir("later")
shutil.copy(model, os.path.join(outside, "tiny.onnx"))
os.symlink(outside, os.path.join(root, "escape"))                     # a directory symlink leaving root
os.makedirs(os.path.join(root, "linkfile"))
os.symlink(os.path.join(outside, "tiny.onnx"), os.path.join(root, "linkfile", "tiny.onnx"))
os.symlink(os.path.join(root, "ok"), os.path.join(root, "inner"))     # a symlink staying inside is fine
os.symlink("/nonexistent/dir", os.path.join(root, "dangling"))

wrapper = write_wrapper(os.path.join(work, "conv.sh"), """case "$*" in
  *"/slow"*) sleep 2 ;;
  *"/hang/"*) sleep 600 ;;
  *"/crash/"*) kill -SEGV $$ ;;
esac
exec "@REAL@" "$@\"""")
data = os.path.join(work, "data")
srv = Server(data, root, workers=2, extra=["--converter", wrapper, "--timeout", "4"], log_name="service_api").start()
check(srv.printed_token is not None and len(srv.printed_token) >= 32, "first start prints 'access token: TOKEN'")

# --- access ---
st, j, _ = srv.call("GET", "/api/v1/health", token=None)
check(st == 200 and j == {"status": "ok"}, "health answers without a token")
st, j, _ = srv.call("GET", "/api/v1/templates", token=None)
check(st == 401 and j["error"]["code"] == "unauthorized", "no token: 401 unauthorized")
st, j, _ = srv.call("GET", "/api/v1/tasks", token="wrong" + srv.token)
check(st == 401 and j["error"]["code"] == "unauthorized", "wrong token: 401")
st, j, _ = srv.call("GET", "/api/v1/tasks", token=None, headers={"Authorization": "Basic " + srv.token})
check(st == 401, "a non-Bearer Authorization: 401")
st, page, hdrs = srv.call("GET", "/", token=None)
check(st == 200 and hdrs.get("Content-Type", "").startswith("text/html") and "<html" in page.lower(),
      "GET / serves the web page")
with open(os.path.join(data, "tod.db"), "rb") as f:
    check(srv.token.encode() not in f.read(), "the token is not stored in clear")

# --- templates ---
st, j, _ = srv.call("GET", "/api/v1/templates")
tpls = j["templates"]
check(st == 200 and len(tpls) >= 6, f"templates listed ({len(tpls)})")
keys = {"id", "name", "description", "framework", "format", "chip", "target", "options"}
check(all(keys <= set(t) for t in tpls), "every template has the contract's fields")
check({t["format"] for t in tpls} >= {".onnx", ".mindir"} and {t["chip"] for t in tpls} == {"ARM", "x86"}
      and {t["target"] for t in tpls} == {"inference", "training"}, "ONNX/MINDIR, ARM/x86, inference/training")
check(all({"name", "type", "default", "allowed"} <= set(o) for t in tpls for o in t["options"]),
      "every option has name, type, default, allowed")
st, j, _ = srv.call("GET", "/api/v1/templates?chip=ARM")
check(st == 200 and j["templates"] and all(t["chip"] == "ARM" for t in j["templates"]), "filter chip=ARM")
st, j, _ = srv.call("GET", "/api/v1/templates?framework=MINDIR")
check(j["templates"] and all(t["framework"] == "MINDIR" for t in j["templates"]), "filter framework=MINDIR")
st, j, _ = srv.call("GET", "/api/v1/templates?format=.onnx&chip=x86")
check(j["templates"] and all(t["format"] == ".onnx" and t["chip"] == "x86" for t in j["templates"]),
      "filters combine (format=.onnx, chip=x86)")
st, j, _ = srv.call("GET", "/api/v1/templates?q=TRAINING")
check(j["templates"] and all(t["target"] == "training" for t in j["templates"]), "text search q=TRAINING")
st, j, _ = srv.call("GET", "/api/v1/templates?q=nothing-matches-this")
check(st == 200 and j["templates"] == [], "a search matching nothing: empty list")
for q in ("chip=GPU", "framework=caffe", "format=.pb", "colour=red"):
    st, j, _ = srv.call("GET", "/api/v1/templates?" + q)
    check(st == 400 and j["error"]["code"] == "invalid_argument", f"templates?{q}: 400")

# --- create and run ---
TPL = "onnx-x86-inference"


def create(name, input_dir, output_dir=None, tpl=TPL, **kw):
    body = {"name": name, "description": kw.pop("description", "d"), "template_id": tpl, "input_dir": input_dir,
            "output_dir": output_dir or ("out/" + name), "options": kw.pop("options", {})}
    body.update(kw)
    return srv.call("POST", "/api/v1/tasks", body)


st, t, hdrs = create("lenet_1", "ok", options={"input_format": "NHWC"}, description="第一个任务")
check(st == 201, f"create: 201 ({st} {t})")
task_keys = {"id", "name", "description", "template_id", "input_dir", "output_dir", "options", "state",
             "created_at", "started_at", "finished_at", "output_files", "error", "attempts", "worker"}
check(task_keys <= set(t), "TASK has every field of the contract")
check(isinstance(t["id"], str) and t["state"] in ("initializing", "running"), "a new task is initializing")
check(t["options"] == {"input_format": "NHWC", "weight_quant_bits": 0}, "options are resolved with defaults")
check(t["created_at"].endswith("Z") and "T" in t["created_at"], "times are RFC 3339 UTC")
ok_id = t["id"]
done = srv.wait_final([ok_id], 30)[ok_id]
check(done["state"] == "succeeded", f"the conversion succeeds ({done['state']}, {done['error']})")
check(done["attempts"] == 1 and done["worker"] and ":" in done["worker"], "attempts 1, worker HOST:PID")
check(done["started_at"] and done["finished_at"] and done["finished_at"] >= done["started_at"], "timings kept")
check(done["output_files"] == ["out/lenet_1/tiny.ms"], f"output_files {done['output_files']}")
ms_path = os.path.join(root, "out", "lenet_1", "tiny.ms")
with open(ms_path, "rb") as f:
    check(f.read(8)[4:8] == b"MSL2", "the output is a .ms flatbuffer (MSL2)")
st, j, _ = srv.call("GET", f"/api/v1/tasks/{ok_id}")
check(st == 200 and j["id"] == ok_id and j["description"] == "第一个任务", "detail by id (Chinese description kept)")
st, log, hdrs = srv.call("GET", f"/api/v1/tasks/{ok_id}/log")
check(st == 200 and hdrs.get("Content-Type", "").startswith("text/plain") and "CONVERT RESULT SUCCESS:0" in log
      and "--inputDataFormat=NHWC" in log, "log: the converter's output and flags")

st, t, _ = create("模型转换_中文", "inner", output_dir="out//./zh/")
check(st == 201 and t["output_dir"] == "out/zh", f"Chinese name, a symlink inside root, path normalised ({st})")
zh_id = t["id"]
st, t, _ = create("x" * 64, "ok")
check(st == 201, "a 64-character name is accepted")
n64_id = t["id"]

# a failing conversion
st, t, _ = create("garbage", "garbage")
check(st == 201, "garbage .onnx accepted at creation (it is one .onnx file)")
bad_id = t["id"]
fin = srv.wait_final([bad_id, zh_id, n64_id], 30)
check(fin[bad_id]["state"] == "failed" and "CONVERT RESULT FAILED" in (fin[bad_id]["error"] or ""),
      f"garbage model: failed, error {fin[bad_id]['error']!r}")
st, log, _ = srv.call("GET", f"/api/v1/tasks/{bad_id}/log")
check("CONVERT RESULT FAILED" in log, "the failed task's log shows the converter's FAILED line")
check(fin[zh_id]["state"] == "succeeded" and fin[n64_id]["state"] == "succeeded", "the other tasks succeed")

# --- refusals at creation ---
def refused(what, status, body=None, raw=None, contains=None, code="invalid_argument"):
    st, j, _ = srv.call("POST", "/api/v1/tasks", body, raw=raw)
    msg = j["error"]["message"] if isinstance(j, dict) and "error" in j else ""
    ok = st == status and isinstance(j, dict) and j["error"]["code"] == code
    if contains:
        ok = ok and contains.lower() in msg.lower()
    check(ok, f"refused: {what} -> {st} {msg!r}")


def body(**kw):
    b = {"name": "n1", "description": "", "template_id": TPL, "input_dir": "ok", "output_dir": "out/r", "options": {}}
    b.update(kw)
    return {k: v for k, v in b.items() if v is not None}


refused("empty name", 400, body(name=""), contains="name")
refused("65-character name", 400, body(name="y" * 65), contains="name")
refused("name with a space", 400, body(name="a b"), contains="name")
refused("name with '/'", 400, body(name="a/b"), contains="name")
refused("name with '!'", 400, body(name="名字!"), contains="name")
refused("name not a string", 400, body(name=5), contains="name")
refused("missing name", 400, body(name=None), contains="name")
refused("missing template_id", 400, body(template_id=None), contains="template_id")
refused("unknown template", 400, body(template_id="caffe-gpu"), contains="unknown template")
refused("MINDIR template on an .onnx directory", 400, body(template_id="mindir-arm-inference"), contains="missing")
refused("input directory without a model", 400, body(input_dir="empty"), contains="missing")
refused("input directory with two models", 400, body(input_dir="two"), contains="extra")
refused("input directory with another model format", 400, body(input_dir="mixed"), contains="extra")
refused("input_dir with ..", 400, body(input_dir="ok/../ok"), contains="..")
refused("input_dir climbing out", 400, body(input_dir="../outside"), contains="..")
refused("absolute input_dir", 400, body(input_dir=outside), contains="absolute")
refused("absolute input_dir inside root", 400, body(input_dir=os.path.join(root, "ok")), contains="absolute")
refused("input_dir symlink leaving root", 400, body(input_dir="escape"), contains="root")
refused("model file symlink leaving root", 400, body(input_dir="linkfile"), contains="root")
refused("input_dir missing", 400, body(input_dir="nope"), contains="does not exist")
refused("input_dir is a file", 400, body(input_dir="ok/tiny.onnx"), contains="not a directory")
refused("output_dir with ..", 400, body(output_dir="out/../../x"), contains="..")
refused("absolute output_dir", 400, body(output_dir="/tmp/x"), contains="absolute")
refused("output_dir through a symlink leaving root", 400, body(output_dir="escape/new/dir"), contains="root")
refused("output_dir through a dangling symlink", 400, body(output_dir="dangling/x"), contains="symlink")
refused("output_dir is a file", 400, body(output_dir="ok/README.txt"), contains="not a directory")
refused("unknown field", 400, body(priority=1), contains="unknown field")
refused("unknown option", 400, body(options={"turbo": True}), contains="turbo")
refused("option value not allowed", 400, body(options={"input_format": "NCWH"}), contains="input_format")
refused("option out of range", 400, body(options={"weight_quant_bits": 17}), contains="weight_quant_bits")
refused("option not an integer", 400, body(options={"weight_quant_bits": 2.5}), contains="weight_quant_bits")
refused("options not an object", 400, body(options=[1]), contains="options")
refused("description too long", 400, body(description="长" * 257), contains="description")
refused("body not JSON", 400, raw=b"{name: 1", contains="JSON")
refused("body a JSON array", 400, raw=b"[]", contains="object")
refused("empty body", 400, raw=b"")
big = json.dumps(body(description="x" * (1 << 20))).encode()
refused("body over 1 MiB", 413, raw=big, code="too_large")
st, j, _ = srv.call("POST", "/api/v1/tasks", body(), raw=b"x" * ((1 << 20) + 1))
check(st == 413 and j["error"]["code"] == "too_large", "1 MiB + 1 byte: 413 too_large")
st, j, _ = srv.call("POST", "/api/v1/tasks", body(), token=None, raw=big)
check(st == 401, "a large body without a token: 401")

# --- list, filter, pages ---
st, j, _ = srv.call("GET", "/api/v1/tasks")
check(st == 200 and j["total"] == 4 and len(j["tasks"]) == 4, f"list: total 4 ({j.get('total')})")
ids = [t["id"] for t in j["tasks"]]
check(ids == sorted(ids, key=int, reverse=True), "newest first")
st, j, _ = srv.call("GET", "/api/v1/tasks?state=failed")
check([t["id"] for t in j["tasks"]] == [bad_id] and j["total"] == 1, "filter state=failed")
st, j, _ = srv.call("GET", "/api/v1/tasks?state=succeeded")
check(j["total"] == 3 and all(t["state"] == "succeeded" for t in j["tasks"]), "filter state=succeeded")
st, j, _ = srv.call("GET", "/api/v1/tasks?q=" + "LENET")
check([t["id"] for t in j["tasks"]] == [ok_id], "search q (case-insensitive) in names")
st, j, _ = srv.call("GET", "/api/v1/tasks?q=%E4%B8%AD%E6%96%87")
check([t["id"] for t in j["tasks"]] == [zh_id], "search q in Chinese")
st, j, _ = srv.call("GET", "/api/v1/tasks?page=2&page_size=3")
check(j["total"] == 4 and len(j["tasks"]) == 1 and j["tasks"][0]["id"] == ids[3], "page 2 of size 3")
for q in ("state=done", "page=0", "page=x", "page_size=0", "page_size=100000", "sort=name"):
    st, j, _ = srv.call("GET", "/api/v1/tasks?" + q)
    check(st == 400 and j["error"]["code"] == "invalid_argument", f"tasks?{q}: 400")
st, j, _ = srv.call("GET", "/api/v1/tasks/999999")
check(st == 404 and j["error"]["code"] == "not_found", "unknown task: 404")
st, j, _ = srv.call("GET", "/api/v1/tasks/abc/log")
check(st == 404 and j["error"]["code"] == "not_found", "log of an unknown task: 404")
st, j, _ = srv.call("GET", "/api/v1/nothing")
check(st == 404 and j["error"]["code"] == "not_found", "unknown endpoint: 404")
st, j, hdrs = srv.call("PUT", f"/api/v1/tasks/{ok_id}", {})
check(st == 405 and "DELETE" in hdrs.get("Allow", ""), "wrong method: 405 with Allow")

# --- delete, conflicts, batch delete; crash, hang and timeout isolation ---
st, s1, _ = create("slow_1", "slow1")
st2, s2, _ = create("slow_2", "slow2")
time.sleep(0.8)
st3, s3, _ = create("queued", "later")
check(st == st2 == st3 == 201, "slow tasks created")
st, j, _ = srv.call("GET", f"/api/v1/tasks/{s1['id']}")
check(j["state"] == "running", f"a slow task is running ({j['state']})")
st, j, _ = srv.call("GET", f"/api/v1/tasks/{s3['id']}")
check(j["state"] == "initializing", f"with both workers busy the third waits in initializing ({j['state']})")
st, j, _ = srv.call("DELETE", f"/api/v1/tasks/{s1['id']}")
check(st == 409 and j["error"]["code"] == "conflict" and "running" in j["error"]["message"],
      "delete a running task: 409 conflict")
st, j, _ = srv.call("DELETE", f"/api/v1/tasks/{s3['id']}")
check(st == 409 and j["error"]["code"] == "conflict" and "initializing" in j["error"]["message"],
      "delete an initializing task: 409 conflict")
st, j, _ = srv.call("POST", "/api/v1/tasks/batch-delete",
                    {"ids": [n64_id, s1["id"], s3["id"], "999999", bad_id, n64_id]})
check(st == 200 and sorted(j["deleted"]) == sorted([n64_id, bad_id]), f"batch delete deletes the finished ({j})")
ref = {r["id"]: r for r in j.get("refused", [])}
check(set(ref) == {s1["id"], s3["id"], "999999"} and ref[s1["id"]]["code"] == "conflict"
      and ref[s3["id"]]["code"] == "conflict" and ref["999999"]["code"] == "not_found"
      and all(r["message"] for r in ref.values()), "batch delete reports each refusal with code and message")
st, j, _ = srv.call("GET", f"/api/v1/tasks/{bad_id}")
check(st == 404, "a batch-deleted task is gone")
for b, what in (({"ids": []}, "empty ids"), ({"ids": "1"}, "ids not an array"), ({"ids": [1]}, "a numeric id"),
                ({"ids": ["1"], "all": True}, "an extra field"), ({}, "no ids")):
    st, j, _ = srv.call("POST", "/api/v1/tasks/batch-delete", b)
    check(st == 400 and j["error"]["code"] == "invalid_argument", f"batch delete with {what}: 400")

st, h, _ = create("hang", "hang")
st2, c, _ = create("crash", "crash")
fin = srv.wait_final([s1["id"], s2["id"], s3["id"], h["id"], c["id"]], 60)
check(fin[s1["id"]]["state"] == fin[s2["id"]]["state"] == fin[s3["id"]]["state"] == "succeeded",
      "slow and queued tasks succeed")
check(fin[h["id"]]["state"] == "failed" and "timed out" in fin[h["id"]]["error"],
      f"a hanging conversion is killed at the timeout and fails alone ({fin[h['id']]['error']})")
check(fin[c["id"]]["state"] == "failed" and "signal 11" in fin[c["id"]]["error"],
      f"a crashing conversion fails alone ({fin[c['id']]['error']})")
st, j, _ = srv.call("DELETE", f"/api/v1/tasks/{s1['id']}")
check(st == 204, "delete a finished task: 204")
st, j, _ = srv.call("GET", f"/api/v1/tasks/{s1['id']}")
check(st == 404, "deleted task: 404")
st, j, _ = srv.call("DELETE", f"/api/v1/tasks/{s1['id']}")
check(st == 404 and j["error"]["code"] == "not_found", "delete it again: 404")
check(os.path.exists(os.path.join(root, "out", "slow_1", "tiny.ms")), "deleting a task keeps its output files")
st, j, _ = srv.call("GET", "/api/v1/health")
check(st == 200, "the server is healthy after crashes and timeouts")

# --- a second server cannot share the data directory; token persists; TOD_TOKEN ---
try:
    Server(data, root, log_name="service_api_second").start(timeout=10)
    check(False, "a second server on the same data directory is refused")
except RuntimeError as e:
    check("another tod serve" in str(e), "a second server on the same data directory is refused")
token = srv.token
rc = srv.stop()
check(rc == 0, f"SIGTERM: exit 0 ({rc})")
srv = Server(data, root, extra=["--converter", wrapper], log_name="service_api").start()
srv.token = token
check(srv.printed_token is None, "a restart prints no token")
st, j, _ = srv.call("GET", "/api/v1/tasks")
check(st == 200 and j["total"] == 6, f"the old token works after a restart; tasks persisted ({j.get('total')})")
check(srv.stop() == 0, "stopped")
srv = Server(data, root, token="env-token-0123456789", log_name="service_api").start()
check(srv.printed_token is None, "TOD_TOKEN: nothing printed")
st, _, _ = srv.call("GET", "/api/v1/tasks")
check(st == 200, "TOD_TOKEN is the token")
st, _, _ = srv.call("GET", "/api/v1/tasks", token=token)
check(st == 401, "the replaced token no longer works")
check(srv.stop() == 0, "stopped")

# --- memory limit: a conversion that wants more address space than allowed fails alone ---
hog = write_wrapper(os.path.join(work, "hog.sh"),
                    'exec /usr/bin/python3 -c "b = bytearray(2 << 30); print(len(b))"')
srv = Server(fresh_dir("service_api_mem"), root, extra=["--converter", hog, "--mem-limit", "512"],
             log_name="service_api_mem").start()
st, t, _ = create("hog", "ok")
fin = srv.wait_final([t["id"]], 60)[t["id"]]
st, log, _ = srv.call("GET", f"/api/v1/tasks/{t['id']}/log")
check(fin["state"] == "failed" and "MemoryError" in log, f"--mem-limit: the greedy conversion fails ({fin['error']})")
check(srv.stop() == 0, "stopped")
print(f"functional part took {time.time() - T0:.1f} s")

# --- load: 200 tasks from 20 concurrent clients, 2 workers ---
T1 = time.time()
ldata = fresh_dir("service_load_data")
lroot = fresh_dir("service_load_root")
os.makedirs(os.path.join(lroot, "models", "tiny"))
shutil.copy(model, os.path.join(lroot, "models", "tiny", "tiny.onnx"))
srv = Server(ldata, lroot, workers=2, log_name="service_load").start()   # converter_lite next to tod


def load(server, prefix, clients, per_client, results, errors):
    def client(k):
        for i in range(per_client):
            name = f"{prefix}_{k}_{i}"
            try:
                st, t, _ = server.call("POST", "/api/v1/tasks", {
                    "name": name, "template_id": TPL, "input_dir": "models/tiny",
                    "output_dir": f"out/{name}"})
                if st == 201:
                    results.append((name, t["id"]))
                else:
                    errors.append((name, st, t))
            except Exception as e:  # a refused connection after SIGKILL ends this client
                errors.append((name, "exception", str(e)))
                return

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    return threads


results, errors = [], []
for t in load(srv, "load", 20, 10, results, errors):
    t.join(120)
check(len(results) == 200 and not errors, f"200 tasks created by 20 clients ({len(results)}, errors {errors[:3]})")
ids = [i for _, i in results]
check(len(set(ids)) == 200, "200 distinct ids")
fin = srv.wait_final(ids, 180)
check(len(fin) == 200 and set(fin) == set(ids), f"the list holds exactly the 200 tasks ({len(fin)})")
check(all(fin[i]["state"] == "succeeded" for i in ids),
      f"all 200 succeeded ({sum(fin[i]['state'] == 'succeeded' for i in ids)})")
check(all(fin[i]["attempts"] == 1 for i in ids), "each converted exactly once (attempts 1)")
check(sorted(t["name"] for t in fin.values()) == sorted(n for n, _ in results), "names match, none duplicated")
check(all(os.path.exists(os.path.join(lroot, "out", n, "tiny.ms")) for n, _ in results), "200 .ms files written")
check(srv.stop() == 0, "stopped")
print(f"load part took {time.time() - T1:.1f} s")

# --- SIGKILL mid-run, restart on the same data directory ---
T2 = time.time()
slow = write_wrapper(os.path.join(work, "slow.sh"), 'sleep 0.15\nexec "@REAL@" "$@"')
load_token = srv.token
srv = Server(ldata, lroot, workers=2, extra=["--converter", slow], log_name="service_kill").start()
srv.token = load_token
results2, errors2 = [], []
for t in load(srv, "kill", 20, 5, results2, errors2):
    t.join(120)
check(len(results2) == 100, f"100 more tasks created ({len(results2)})")
deadline = time.time() + 60
while time.time() < deadline:
    st, j, _ = srv.call("GET", "/api/v1/tasks?state=succeeded&page_size=1")
    if j["total"] >= 200 + 10:
        break
    time.sleep(0.05)
st, j, _ = srv.call("GET", "/api/v1/tasks?state=running&page_size=10")
running_before = [t["id"] for t in j["tasks"]]
srv.kill()  # SIGKILL
check(len(running_before) >= 1, f"killed with {len(running_before)} task(s) running")
srv = Server(ldata, lroot, workers=2, extra=["--converter", slow], log_name="service_kill").start()
srv.token = load_token
ids2 = [i for _, i in results2]
fin = srv.wait_final(ids + ids2, 180)
check(len(fin) == 300 and set(fin) == set(ids + ids2), f"after the restart the list holds all 300 tasks ({len(fin)})")
check(all(fin[i]["state"] in ("succeeded", "failed") for i in ids + ids2), "every task reached a final state")
check(all(fin[i]["state"] == "succeeded" for i in ids2), "the interrupted run's tasks all succeeded")
# (a task listed as running just before the kill may still have finished in between, so the
# re-queued set is compared loosely with running_before)
requeued = [i for i in ids2 if fin[i]["attempts"] == 2]
check(1 <= len(requeued) <= 2 and set(requeued) & set(running_before),
      f"the tasks running at the kill were re-queued (attempts 2: {requeued}, running: {running_before})")
check(all(fin[i]["attempts"] <= 2 for i in ids2), "no task claimed more than twice")
logs = [srv.call("GET", f"/api/v1/tasks/{i}/log")[1] for i in requeued]
check(logs and all("re-queued" in log and "CONVERT RESULT SUCCESS:0" in log for log in logs),
      "the re-queued tasks' logs tell the story")
check("re-queued" in srv.stderr_text(), "the restart reports re-queued tasks")
check(srv.stop() == 0, "stopped")
print(f"kill/restart part took {time.time() - T2:.1f} s; total {time.time() - T0:.1f} s")
finish()
