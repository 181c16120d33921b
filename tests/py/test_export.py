"""test_export_formats: `tod export MODEL.ms [--ckpt C.ckpt] --format MS|MINDIR|ONNX|AIR`.

- ONNX (opset 13) of LeNet-5 and resnet18 inference models and of a LeNet trained on device (weights
  from a checkpoint) passes onnx.checker.check_model, keeps the source's input/output names and NCHW
  shapes, and converted back with converter_lite answers as the original .ms within 1e-5;
- MS with --ckpt: the inference-only export equals `tod train --save --inference-only` of the run
  that wrote the checkpoint; the training export still trains;
- AIR is refused with -7 naming Ascend's toolchain; MINDIR (when its issue has landed) converts back
  with converter_lite --fmk=MINDIR to the same outputs, or is refused with -7."""
import glob
import os

import numpy as np
import onnx
import torch
import torch.nn as nn
import torchvision

from todtest import CONVERTER, TOD, check, close, convert, finish, run, tod_run, workdir


def lenet():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def resnet18():
    torch.manual_seed(0)
    m = torchvision.models.resnet18(weights=None, num_classes=10)
    g = torch.Generator().manual_seed(1)
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            with torch.no_grad():
                mod.running_mean.copy_(torch.rand(mod.num_features, generator=g) * 0.2 - 0.1)
                mod.running_var.copy_(torch.rand(mod.num_features, generator=g) * 0.5 + 0.75)
    return m


def onnx_round_trip(d, tag, ms, x, ref_ms=None):
    """tod export ONNX -> checker -> converter_lite -> tod run; compared with ref_ms (default ms)."""
    out = os.path.join(d, tag + ".onnx")
    r = run([TOD, "export", ms, "--format", "ONNX", "-o", out] + (["--ckpt", ref_ms[1]] if isinstance(ref_ms, tuple) else []))
    check(r.returncode == 0, f"{tag}: tod export --format ONNX ({r.stderr.strip()})")
    if r.returncode != 0:
        return
    m = onnx.load(out)
    try:
        onnx.checker.check_model(m)
        ok, why = True, ""
    except Exception as e:  # noqa: BLE001 - the checker's message is the report
        ok, why = False, str(e)[:200]
    opset = [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")]
    check(ok and opset == [13], f"{tag}: onnx.checker.check_model passes, opset {opset} {why}")
    ins = [(i.name, [dd.dim_value or dd.dim_param for dd in i.type.tensor_type.shape.dim]) for i in m.graph.input]
    check(ins and ins[0][0] == "input" and ins[0][1][1:] == list(x.shape[1:]) and [o.name for o in m.graph.output] == ["logits"],
          f"{tag}: NCHW input and output names of the source {ins}")
    back = os.path.join(d, tag + "_back")
    rc, lines, err = convert(out, back)
    check(rc == 0, f"{tag}: converter_lite reads the exported ONNX ({lines[-1] if lines else err})")
    if rc != 0:
        return
    ref = tod_run(ref_ms[0] if isinstance(ref_ms, tuple) else (ref_ms or ms), [x])[0]
    y = tod_run(back + ".ms", [x])[0]
    ok, msg = close(y, ref, 1e-5)
    check(ok, f"{tag}: round trip answers as the original within 1e-5 ({msg})")


def test_inference_models(d):
    rng = np.random.default_rng(0)
    for tag, make, shape in (("lenet", lenet, (2, 1, 32, 32)), ("resnet18", resnet18, (2, 3, 64, 64))):
        src = os.path.join(d, tag + "_src.onnx")
        torch.onnx.export(make().eval(), torch.randn(*shape), src, opset_version=13, input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
        base = os.path.join(d, tag)
        rc, lines, err = convert(src, base)
        check(rc == 0, f"{tag}: converts ({lines[-1] if lines else err})")
        x = rng.standard_normal(shape).astype(np.float32)
        onnx_round_trip(d, tag, base + ".ms", x)


def test_trained_model(d):
    src = os.path.join(d, "lenet_t.onnx")
    torch.onnx.export(lenet().eval(), torch.randn(8, 1, 32, 32), src, opset_version=13, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    cfg = os.path.join(d, "train.cfg")
    with open(cfg, "w") as f:
        f.write("[train]\nloss=softmax_cross_entropy\noptimizer=momentum\nlearning_rate=0.01\n")
    train_ms = os.path.join(d, "lenet_train")
    r = run([CONVERTER, "--fmk=ONNX", f"--modelFile={src}", f"--outputFile={train_ms}", "--trainModel=true",
             f"--configFile={cfg}"])
    check(r.returncode == 0, "trained: training model converts")
    train_ms += ".ms"
    rng = np.random.default_rng(1)
    xs = os.path.join(d, "x.npy")
    np.save(xs, rng.standard_normal((32, 1, 32, 32)).astype(np.float32))
    np.save(os.path.join(d, "y.npy"), rng.integers(0, 10, 32).astype(np.int64))
    cd = os.path.join(d, "ck")
    for f in glob.glob(os.path.join(cd, "*")):
        os.remove(f)
    saved = os.path.join(d, "trained_infer.ms")
    r = run([TOD, "train", train_ms, "--input", xs, "--label", os.path.join(d, "y.npy"), "--batch", "8", "--steps", "6",
             "--directory", cd, "--prefix", "e", "--save", saved, "--inference-only"])
    ck = os.path.join(cd, "e-2_2.ckpt")
    check(r.returncode == 0 and os.path.exists(ck), f"trained: 6 steps with checkpoints ({r.stderr.strip()})")
    x = rng.standard_normal((4, 1, 32, 32)).astype(np.float32)
    exp = os.path.join(d, "exported_infer.ms")
    r = run([TOD, "export", train_ms, "--ckpt", ck, "--format", "MS", "--inference-only", "-o", exp])
    check(r.returncode == 0, f"trained: tod export --ckpt --format MS --inference-only ({r.stderr.strip()})")
    if r.returncode == 0:
        a, b = tod_run(exp, [x])[0], tod_run(saved, [x])[0]
        check(np.array_equal(a, b), "trained: model + checkpoint exports the same weights as the run that saved it")
    full = os.path.join(d, "exported_train.ms")
    r = run([TOD, "export", train_ms, "--ckpt", ck, "--format", "MS", "-o", full])
    r2 = run([TOD, "train", full, "--input", xs, "--label", os.path.join(d, "y.npy"), "--batch", "8", "--steps", "1"])
    check(r.returncode == 0 and r2.returncode == 0, f"trained: the training export trains on ({r2.stderr.strip()})")
    onnx_round_trip(d, "lenet_trained", train_ms, x, ref_ms=(exp, ck))
    # Untrained weights differ: the checkpoint's weights are what the ONNX file carries.
    untrained = os.path.join(d, "untrained.onnx")
    run([TOD, "export", train_ms, "--format", "ONNX", "-o", untrained])
    w1 = {t.name: t.raw_data for t in onnx.load(untrained).graph.initializer}
    w2 = {t.name: t.raw_data for t in onnx.load(os.path.join(d, "lenet_trained.onnx")).graph.initializer}
    check("0.weight" in w1 and w1["0.weight"] != w2.get("0.weight"), "trained: --ckpt weights replace the model's")


def test_other_formats(d):
    ms = os.path.join(d, "lenet.ms")
    r = run([TOD, "export", ms, "--format", "AIR", "-o", os.path.join(d, "m.air")])
    check(r.returncode != 0 and "-7" in r.stderr and "Ascend" in r.stderr and not os.path.exists(os.path.join(d, "m.air")),
          f"AIR refused with -7: {r.stderr.strip()}")
    out = os.path.join(d, "m.mindir")
    r = run([TOD, "export", ms, "--format", "MINDIR", "-o", out])
    check((r.returncode == 0 and os.path.getsize(out) > 0) or (r.returncode != 0 and "-7" in r.stderr),
          f"MINDIR exports or is refused with -7 until it lands: {r.stderr.strip() or 'exported'}")
    if r.returncode == 0:
        back = os.path.join(d, "m_back")
        rr = run([CONVERTER, "--fmk=MINDIR", f"--modelFile={out}", f"--outputFile={back}"])
        x = np.random.default_rng(3).standard_normal((1, 1, 32, 32)).astype(np.float32)
        ok, msg = close(tod_run(back + ".ms", [x])[0], tod_run(ms, [x])[0], 1e-5) if rr.returncode == 0 else (False, rr.stdout[-200:])
        check(ok, f"MINDIR converts back with converter_lite --fmk=MINDIR to the same outputs ({msg})")
    r = run([TOD, "export", ms, "--format", "TFLITE", "-o", out])
    check(r.returncode != 0 and "-600" in r.stderr, "an unknown format is refused with -600")
    r = run([TOD, "export", ms, "--format", "MS", "--ckpt", os.path.join(d, "ck", "e-2_2.ckpt"), "-o", out])
    check(r.returncode != 0 and "-7" in r.stderr, f"a checkpoint cannot load into an inference model: {r.stderr.strip()[:120]}")
    r = run([TOD, "export", ms, "--format", "MS", "-o", os.path.join(d, "copy.ms")])
    x = np.random.default_rng(2).standard_normal((1, 1, 32, 32)).astype(np.float32)
    check(r.returncode == 0 and np.array_equal(tod_run(os.path.join(d, "copy.ms"), [x])[0], tod_run(ms, [x])[0]),
          "MS export of an inference model answers the same")


def main():
    d = workdir("export")
    test_inference_models(d)
    test_trained_model(d)
    test_other_formats(d)
    finish()


if __name__ == "__main__":
    main()
