"""The runtime is valgrind-clean (issue 10): `tod run` of LeNet-5 (2 threads) and one `tod train`
step under `valgrind --error-exitcode=9 --leak-check=full`, with outputs equal to PyTorch's LeNet
built from the ONNX file's weights. Skipped when valgrind is missing, and in a sanitizer build
(valgrind cannot run ASan binaries)."""
import os
import shutil
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(__file__))
from todtest import BUILD, CONVERTER, SOURCE, TOD, check, finish, run, workdir  # noqa: E402

with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
    sanitized = "TOD_SANITIZE:BOOL=ON" in f.read()
if sanitized or not shutil.which("valgrind"):
    print("skipped: " + ("sanitizer build" if sanitized else "valgrind not installed"))
    sys.exit(0)

W = workdir("valgrind")
LENET = os.path.join(SOURCE, "models", "lenet5.onnx")
VG = ["valgrind", "--error-exitcode=9", "--leak-check=full", "--errors-for-leak-kinds=definite,indirect,possible",
      "--show-leak-kinds=definite,indirect,possible", "--track-origins=yes", "-q"]

check(run([CONVERTER, "--fmk=ONNX", f"--modelFile={LENET}", f"--outputFile={W}/lenet"]).returncode == 0, "convert")
check(run([CONVERTER, "--fmk=ONNX", f"--modelFile={LENET}", f"--outputFile={W}/lenet_train",
           "--trainModel=true"]).returncode == 0, "convert --trainModel=true")
rng = np.random.default_rng(5)
x = rng.standard_normal((4, 1, 28, 28)).astype(np.float32)
np.save(f"{W}/x.npy", x)
np.save(f"{W}/y.npy", np.array([1, 5, 0, 9], np.int32))

r = run([*VG, TOD, "run", f"{W}/lenet.ms", "--input", f"{W}/x.npy", "--output", f"{W}/out.npy", "--numThreads=2"],
        timeout=600)
check(r.returncode == 0, f"valgrind tod run: exit {r.returncode} {r.stderr.strip()[-1500:]}")
w = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in onnx.load(LENET).graph.initializer}
with torch.no_grad():
    h = F.max_pool2d(F.relu(F.conv2d(torch.from_numpy(x), w["0.weight"], w["0.bias"], padding=2)), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, w["3.weight"], w["3.bias"])), 2).flatten(1)
    h = F.relu(F.linear(F.relu(F.linear(h, w["7.weight"], w["7.bias"])), w["9.weight"], w["9.bias"]))
    ref = F.linear(h, w["11.weight"], w["11.bias"]).numpy()
if r.returncode == 0:
    y = np.load(f"{W}/out.npy")
    err = float(np.abs(y - ref).max())
    check(y.shape == ref.shape and err <= 1e-4 * max(1.0, float(np.abs(ref).max())),
          f"output under valgrind matches PyTorch (max err {err:.3g})")

# one training step with a checkpoint, then a resume from it (checkpoint reader and writer)
r = run([*VG, TOD, "train", f"{W}/lenet_train.ms", "--input", f"{W}/x.npy", "--label", f"{W}/y.npy", "--batch", "4",
         "--steps", "1", "--numThreads=2", "--save-checkpoint-steps", "1", "--directory", f"{W}/ck", "--prefix", "v",
         "--loss-log", f"{W}/loss.npy"], timeout=900)
check(r.returncode == 0, f"valgrind tod train (1 step, checkpoint): exit {r.returncode} {r.stderr.strip()[-1500:]}")
if r.returncode == 0:
    loss = float(np.load(f"{W}/loss.npy").ravel()[0])
    ref_loss = float(F.cross_entropy(torch.from_numpy(ref), torch.tensor([1, 5, 0, 9]).long()))
    check(abs(loss - ref_loss) <= 1e-4 * max(1.0, abs(ref_loss)),
          f"first training loss under valgrind equals PyTorch's cross-entropy ({loss:.6f} vs {ref_loss:.6f})")
ck = os.path.join(W, "ck", "v-1_1.ckpt")
r = run([*VG, TOD, "train", f"{W}/lenet_train.ms", "--input", f"{W}/x.npy", "--label", f"{W}/y.npy", "--batch", "4",
         "--steps", "2", "--numThreads=1", "--resume", ck], timeout=900)
check(r.returncode == 0 and "resumed" in r.stdout, f"valgrind tod train --resume: exit {r.returncode} "
      f"{r.stderr.strip()[-1500:]}")
finish()
