"""test_mindir_export: ONNX -> .ms (--trainModel=true) -> `tod train` -> MINDIR export (mindir_export,
through `tod export --format MINDIR` when the CLI has it, else a small driver over the C API) ->
`converter_lite --fmk=MINDIR` -> .ms gives the trained model's outputs; `protoc --decode` with
mind_ir.proto reads every MINDIR written, and the file follows MindSpore's conventions
(producer MindSpore, REF:: primitives, `<graph>:<param>` weights, NCHW/KCHW)."""
import os

import numpy as np
import torch
import torch.nn as nn

import mindirlib as ML
from todtest import BUILD, CONVERTER, SOURCE, TOD, WORK, check, close, finish, run, tod_run, workdir

D = workdir("mindir_export")
pb2 = ML.load_pb2(D)


def driver():
    exe = os.path.join(D, "mindir_export_tool")
    src = os.path.join(SOURCE, "tests", "tools", "mindir_export_tool.c")
    lib = os.path.join(BUILD, "libtod.a")
    r = run(["cc", "-std=c11", "-D_POSIX_C_SOURCE=200809L", f"-I{SOURCE}/src", f"-I{SOURCE}/include", src, lib, "-lm",
             "-lpthread", "-o", exe])
    if r.returncode != 0:  # a sanitizer build's library needs the sanitizer runtime
        r = run(["cc", "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-fsanitize=address,undefined", f"-I{SOURCE}/src",
                 f"-I{SOURCE}/include", src, lib, "-lm", "-lpthread", "-o", exe])
    return exe if r.returncode == 0 else None


def export(ms, out, exe):
    r = run([TOD, "export", ms, "--format", "MINDIR", "-o", out])
    if r.returncode == 0 and os.path.exists(out):
        return True, "tod export"
    if exe is None:
        return False, r.stderr
    r2 = run([exe, ms, out])
    return r2.returncode == 0, "C API driver" + (": " + r2.stderr.strip() if r2.returncode else "")


def lenet():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def main():
    exe = driver()
    batch = 8
    model = lenet().eval()
    onnx_path = os.path.join(D, "lenet.onnx")
    torch.onnx.export(model, torch.randn(batch, 1, 32, 32), onnx_path, opset_version=13, input_names=["input"],
                      output_names=["logits"], do_constant_folding=False)
    cfg = os.path.join(D, "train.cfg")
    with open(cfg, "w") as f:
        f.write("[train]\nloss=softmax_cross_entropy\noptimizer=momentum\nlearning_rate=0.05\nmomentum=0.9\n")
    base = os.path.join(D, "lenet_train")
    r = run([CONVERTER, "--fmk=ONNX", f"--modelFile={onnx_path}", f"--outputFile={base}", "--trainModel=true",
             f"--configFile={cfg}"])
    check(r.returncode == 0, f"ONNX LeNet converts with --trainModel=true {r.stderr.strip()}")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch * 3, 1, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, batch * 3).astype(np.int64)
    xp, yp = os.path.join(D, "x.npy"), os.path.join(D, "y.npy")
    np.save(xp, x)
    np.save(yp, y)
    trained = os.path.join(D, "trained.ms")
    r = run([TOD, "train", base + ".ms", "--input", xp, "--label", yp, "--batch", str(batch), "--steps", "3",
             "--no-shuffle", "--save", trained])
    check(r.returncode == 0, f"tod train runs {r.stderr.strip()[-300:]}")
    if r.returncode != 0:
        return
    mindir = os.path.join(D, "trained.mindir")
    ok, how = export(trained, mindir, exe)
    check(ok, f"the trained model exports to MINDIR ({how})")
    if not ok:
        return
    ok, text = ML.protoc_decode(mindir)
    check(ok, "protoc --decode reads the exported MINDIR")
    m = pb2.ModelProto()
    with open(mindir, "rb") as f:
        m.ParseFromString(f.read())
    gname = m.graph.name
    names = [p.name for p in m.graph.parameter]
    convw = [p for p in m.graph.parameter if len(p.dims) == 4]
    check(m.producer_name == "MindSpore" and all(n.startswith(gname + ":") for n in names) and names,
          f"MindSpore naming: producer and <graph>:<param> weights ({names[:3]})")
    check(all(n.op_type.startswith("REF::") or n.op_type == "Constant" for n in m.graph.node)
          and all(n.name == n.output[0] for n in m.graph.node), "nodes are REF:: primitives or Constants, name = output")
    check(len(convw) == 2 and list(convw[0].dims)[1] == 1 and list(convw[1].dims)[1] == 6,
          f"conv weights are KCHW ({[list(p.dims) for p in convw]})")
    back = os.path.join(D, "back")
    r = run([CONVERTER, "--fmk=MINDIR", f"--modelFile={mindir}", f"--outputFile={back}"])
    check(r.returncode == 0, f"converter_lite --fmk=MINDIR reads the export back {(r.stdout + r.stderr).strip()[-300:]}")
    if r.returncode != 0:
        return
    xt = rng.standard_normal((batch, 1, 32, 32)).astype(np.float32)
    # the trained model's inference outputs: an inference-only export of the trained model
    infer = os.path.join(D, "trained_infer.ms")
    r = run([TOD, "export", trained, "--format", "MS", "--inference-only", "-o", infer])
    if r.returncode != 0:
        infer = trained
    (ref,) = tod_run(infer, [xt])
    (got,) = tod_run(back + ".ms", [xt])
    good, msg = close(got, ref, 1e-5)
    check(good, f"ONNX -> .ms -> train -> MINDIR -> .ms gives the trained model's outputs ({msg})")
    # the hand-assembled training graph's inference part exports and re-imports too
    b = ML.Builder(pb2)
    w = ML.lenet_weights(3)
    ML.lenet_train_graph(b, w, 4, 0.01, 0.9)
    tsrc = os.path.join(D, "tos.mindir")
    b.save(tsrc)
    r = run([CONVERTER, "--fmk=MINDIR", f"--modelFile={tsrc}", f"--outputFile={os.path.join(D, 'tos')}", "--trainModel=true"])
    check(r.returncode == 0, "TrainOneStepCell MindIR converts")
    ok, how = export(os.path.join(D, "tos.ms"), os.path.join(D, "tos_back.mindir"), exe)
    check(ok and ML.protoc_decode(os.path.join(D, "tos_back.mindir"))[0], f"its training .ms exports to MINDIR ({how})")
    r = run([CONVERTER, "--fmk=MINDIR", f"--modelFile={os.path.join(D, 'tos_back.mindir')}", f"--outputFile={os.path.join(D, 'tos_back')}"])
    check(r.returncode == 0, f"and converts back {r.stdout.strip()[-200:]}")
    if r.returncode == 0:
        xs = rng.standard_normal((4, 1, 32, 32)).astype(np.float32)
        (a,) = tod_run(os.path.join(D, "tos_back.ms"), [xs])
        ref = ML.torch_lenet({k: torch.from_numpy(v) for k, v in w.items()}, torch.from_numpy(xs)).numpy()
        good, msg = close(a, ref, 1e-4)
        check(good, f"round trip of the MindIR training graph's inference part matches PyTorch ({msg})")


main()
finish()
