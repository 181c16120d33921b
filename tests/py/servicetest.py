"""Helpers of the `tod serve` tests: start and stop a server on loopback, call its API with
urllib, build tiny ONNX models with PyTorch. Imported by test_service_*.py (not a test itself)."""
import atexit
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

from todtest import BUILD, TOD, WORK

CONVERTER = os.path.join(BUILD, "converter_lite")


def fresh_dir(name):
    d = os.path.join(WORK, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def export_tiny_onnx(path, channels=4):
    """A tiny conv net (Conv, Relu, MaxPool, Flatten, Gemm) exported at opset 13."""
    import torch
    import torch.nn as nn

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, channels, 3)
            self.pool = nn.MaxPool2d(2)
            self.fc = nn.Linear(channels * 3 * 3, 10)

        def forward(self, x):
            return self.fc(torch.flatten(self.pool(torch.relu(self.conv(x))), 1))

    torch.manual_seed(0)
    torch.onnx.export(Tiny().eval(), torch.randn(1, 1, 8, 8), path, opset_version=13)


def write_wrapper(path, body):
    """A shell script standing in for converter_lite (slow, hanging or crashing conversions)."""
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body.replace("@REAL@", CONVERTER) + "\n")
    os.chmod(path, 0o755)
    return path


_started = []


@atexit.register
def _kill_leftovers():
    """A test that dies on an exception still stops every server it started."""
    for s in _started:
        s.kill()


class Server:
    def __init__(self, data, root, workers=2, extra=(), token=None, log_name="server"):
        self.data, self.root, self.workers, self.extra = data, root, workers, list(extra)
        self.env = dict(os.environ)
        self.env.pop("TOD_TOKEN", None)
        if token:
            self.env["TOD_TOKEN"] = token
        self.token = token
        self.printed_token = None
        self.log_path = os.path.join(WORK, log_name + ".stderr")
        self.proc = None
        self.lines = []

    def start(self, timeout=30):
        cmd = [TOD, "serve", "--listen", "127.0.0.1:0", "--data", self.data, "--root", self.root,
               "--workers", str(self.workers), *self.extra]
        self.errf = open(self.log_path, "a")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.errf, text=True, env=self.env)
        _started.append(self)
        self.port = None
        ready = threading.Event()

        def reader():
            for line in self.proc.stdout:
                self.lines.append(line.rstrip("\n"))
                if line.startswith("access token: "):
                    self.printed_token = line.split(": ", 1)[1].strip()
                if line.startswith("listening on http://"):
                    self.port = int(line.strip().rsplit(":", 1)[1])
                    ready.set()
            ready.set()

        threading.Thread(target=reader, daemon=True).start()
        if not ready.wait(timeout) or self.port is None:
            self.kill()
            raise RuntimeError("tod serve did not start: " + open(self.log_path).read()[-2000:])
        if self.printed_token:
            self.token = self.printed_token
        return self

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def call(self, method, path, body=None, token="default", raw=None, headers=None, timeout=30):
        """Returns (status, parsed JSON or text or None, headers)."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.base + path, data=data, method=method)
        tok = self.token if token == "default" else token
        if tok:
            req.add_header("Authorization", "Bearer " + tok)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                status, payload, hdrs = r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            status, payload, hdrs = e.code, e.read(), e.headers
        ctype = hdrs.get("Content-Type", "")
        if ctype.startswith("application/json"):
            return status, json.loads(payload), hdrs
        return status, payload.decode("utf-8", "replace") if payload else None, hdrs

    def wait_final(self, ids, timeout=120):
        """Polls until every task in ids is succeeded or failed; returns {id: task}."""
        deadline = time.time() + timeout
        want = set(ids)
        while time.time() < deadline:
            seen = {}
            page = 1
            while True:
                st, j, _ = self.call("GET", f"/api/v1/tasks?page_size=500&page={page}")
                if st != 200:
                    raise RuntimeError(f"list failed: {st} {j}")
                for t in j["tasks"]:
                    seen[t["id"]] = t
                if page * 500 >= j["total"]:
                    break
                page += 1
            if all(i in seen and seen[i]["state"] in ("succeeded", "failed") for i in want):
                return seen
            time.sleep(0.2)
        raise RuntimeError("tasks did not finish in time")

    def stop(self, timeout=60):
        """SIGTERM, wait; returns the exit code."""
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None
        finally:
            self.errf.close()

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
        if hasattr(self, "errf") and not self.errf.closed:
            self.errf.close()

    def stderr_text(self):
        with open(self.log_path) as f:
            return f.read()
