"""`tod serve --db postgres://...`: two servers (two processes, as on two hosts) share one real
PostgreSQL server on loopback and a shared --root. 100 tasks created through both are each
converted exactly once (claimed with FOR UPDATE SKIP LOCKED); then one server is SIGKILLed
mid-run and the other re-queues its silent tasks after the lease and finishes them."""
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from todtest import check, finish  # noqa: E402
from servicetest import Server, export_tiny_onnx, fresh_dir, write_wrapper  # noqa: E402

bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
check(bool(bins), "Debian postgresql is installed (scripts/setup.sh)")
if not bins:
    finish()
pgbin = os.path.dirname(bins[-1])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


as_root = os.geteuid() == 0
pgdir = tempfile.mkdtemp(prefix="tod-pg-")
os.chmod(pgdir, 0o755)
if as_root:  # postgres refuses to run as root: run it as the postgres system user
    shutil.chown(pgdir, "postgres", "postgres")
prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
port = free_port()
r = subprocess.run(prefix + [os.path.join(pgbin, "initdb"), "-D", os.path.join(pgdir, "db"), "-U", "postgres",
                             "--auth=trust", "-E", "UTF8", "--no-sync"], capture_output=True, text=True)
check(r.returncode == 0, "initdb " + r.stderr[-300:])
pg = subprocess.Popen(prefix + [os.path.join(pgbin, "postgres"), "-D", os.path.join(pgdir, "db"), "-h", "127.0.0.1",
                                "-p", str(port), "-k", pgdir, "-c", "fsync=off", "-c", "max_connections=50"],
                      stdout=subprocess.DEVNULL, stderr=open(os.path.join(pgdir, "pg.log"), "w"))
servers = []
try:
    for _ in range(100):
        if subprocess.run([os.path.join(pgbin, "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                          capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    r = subprocess.run([os.path.join(pgbin, "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "tod"],
                       capture_output=True, text=True)
    check(r.returncode == 0, "PostgreSQL on 127.0.0.1 with database tod " + r.stderr[-300:])
    url = f"postgres://postgres@127.0.0.1:{port}/tod"

    work = fresh_dir("service_pg")
    root = os.path.join(work, "root")
    os.makedirs(os.path.join(root, "models", "tiny"))
    export_tiny_onnx(os.path.join(root, "models", "tiny", "tiny.onnx"))
    calls = os.path.join(work, "calls.log")
    # counts conversions: one line per converter run, then the real converter
    counting = write_wrapper(os.path.join(work, "count.sh"), f'echo "$*" >> {calls}\nexec "@REAL@" "$@"')
    token = "pg-shared-token-0123456789"
    a = Server(os.path.join(work, "data_a"), root, workers=2, token=token, log_name="service_pg_a",
               extra=["--db", url, "--converter", counting]).start()
    servers.append(a)
    b = Server(os.path.join(work, "data_b"), root, workers=2, token=token, log_name="service_pg_b",
               extra=["--db", url, "--converter", counting]).start()
    servers.append(b)
    st, j, _ = a.call("GET", "/api/v1/templates")
    check(st == 200 and len(j["templates"]) >= 6, "server A answers with the shared token")

    def create_many(prefix, n, clients):
        out, errs = [], []

        def client(k):
            srv = (a, b)[k % 2]
            for i in range(n // clients):
                name = f"{prefix}_{k}_{i}"
                try:
                    st, t, _ = srv.call("POST", "/api/v1/tasks", {"name": name, "template_id": "onnx-arm-inference",
                                                                  "input_dir": "models/tiny", "output_dir": "out/" + name})
                    (out if st == 201 else errs).append((name, t["id"] if st == 201 else (st, t)))
                except Exception as e:
                    errs.append((name, str(e)))
                    return
        ths = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
        for t in ths:
            t.start()
        for t in ths:
            t.join(120)
        return out, errs

    made, errs = create_many("pg", 100, 10)
    check(len(made) == 100 and not errs, f"100 tasks created through both servers ({len(made)}, {errs[:2]})")
    ids = [i for _, i in made]
    check(len(set(ids)) == 100, "100 distinct ids from one sequence")
    fin = b.wait_final(ids, 180)
    check(all(fin[i]["state"] == "succeeded" for i in ids),
          f"all 100 succeeded ({sum(fin[i]['state'] == 'succeeded' for i in ids)})")
    check(all(fin[i]["attempts"] == 1 for i in ids), "each claimed exactly once (attempts 1)")
    with open(calls) as f:
        runs = [line.split("--outputFile=")[1].strip() for line in f if line.strip()]
    check(len(runs) == 100 and len(set(runs)) == 100, f"the converter ran exactly 100 times, once per task ({len(runs)})")
    pids = {fin[i]["worker"].rsplit(":", 1)[1] for i in ids}
    check(pids == {str(a.proc.pid), str(b.proc.pid)}, f"both servers converted ({pids})")
    st, j, _ = a.call("GET", f"/api/v1/tasks/{ids[0]}")
    check(st == 200 and j["state"] == "succeeded", "A sees the task B may have run (one database)")
    st, j, _ = a.call("POST", "/api/v1/tasks/batch-delete", {"ids": ids[:10]})
    check(st == 200 and len(j["deleted"]) == 10, "batch delete through A")
    st, j, _ = b.call("GET", f"/api/v1/tasks/{ids[0]}")
    check(st == 404, "B sees the deletion")
    check(a.stop() == 0 and b.stop() == 0, "both servers stop with exit 0")

    # SIGKILL one server mid-run: the other re-queues its tasks once their lease expires
    slow = write_wrapper(os.path.join(work, "slow.sh"), 'sleep 1\nexec "@REAL@" "$@"')
    a = Server(os.path.join(work, "data_a"), root, workers=2, token=token, log_name="service_pg_a",
               extra=["--db", url, "--converter", slow, "--lease", "5"]).start()
    b = Server(os.path.join(work, "data_b"), root, workers=2, token=token, log_name="service_pg_b",
               extra=["--db", url, "--converter", slow, "--lease", "5"]).start()
    servers[:] = [a, b]
    made2, _ = create_many("pgkill", 12, 2)
    ids2 = [i for _, i in made2]
    time.sleep(1.5)
    st, j, _ = b.call("GET", "/api/v1/tasks?state=running&page_size=50")
    a_running = [t["id"] for t in j["tasks"] if t["worker"].endswith(":" + str(a.proc.pid))]
    a.kill()
    check(len(a_running) >= 1, f"A killed while running {a_running}")
    fin = b.wait_final(ids2, 90)
    check(all(fin[i]["state"] == "succeeded" for i in ids2), "B finished every task, A's included")
    # A may finish (or claim) a task between the listing and the kill: compare loosely
    requeued = [i for i in ids2 if fin[i]["attempts"] == 2]
    check(requeued and set(requeued) & set(a_running)
          and all(fin[i]["worker"].endswith(":" + str(b.proc.pid)) for i in requeued),
          f"A's running tasks were re-queued after the lease and converted by B ({requeued})")
    check(all(fin[i]["attempts"] <= 2 for i in ids2), "no task claimed more than twice")
    logs = [b.call("GET", f"/api/v1/tasks/{i}/log")[1] for i in requeued]
    check(logs and all("went silent; re-queued" in log for log in logs), "the logs say why the tasks ran twice")
    check(b.stop() == 0, "B stops with exit 0")
finally:
    for s in servers:
        s.kill()
    pg.terminate()
    try:
        pg.wait(30)
    except subprocess.TimeoutExpired:
        pg.kill()
    shutil.rmtree(pgdir, ignore_errors=True)
finish()
