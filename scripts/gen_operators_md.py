#!/usr/bin/python3
"""Generates docs/operators.md from the code's operator tables: the ONNX importer's dispatch
tables (src/import/onnx_ops.c ops[], onnx_ops_ext.c ext_ops[], onnx_ops_nn.c nn_ops[],
onnx_ops_dyn.c dyn_ops[]), the Custom node types (src/ir/custom_ops.c) and the kernel registry
(src/runtime/kernels/registry.c). For each ONNX operator it lists the IR primitives its
translator emits (IR_OP_* named in the table row or in the translator's body) and the opset
conditions the translator tests (c->opset comparisons).

Usage: gen_operators_md.py [--check]   (--check: exit 1 when docs/operators.md is stale)
"""
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
IMPORT = os.path.join(ROOT, "src", "import")


def read(*p):
    with open(os.path.join(ROOT, *p)) as f:
        return f.read()


def functions(src):
    """name -> body of every top-level C function (brace matching from its signature)."""
    out = {}
    for m in re.finditer(r"^(?:static\s+)?tod_status\s+(\w+)\s*\([^;{]*\)\s*\{", src, re.M):
        depth, i = 1, m.end()
        while depth and i < len(src):
            depth += {"{": 1, "}": -1}.get(src[i], 0)
            i += 1
        out[m.group(1)] = src[m.start():i]
    return out


def table(src, name):
    m = re.search(r"\b%s\[\]\s*=\s*\{(.*?)\n\};" % re.escape(name), src, re.S)
    return m.group(1) if m else ""


def closure(fns, name, seen=None):
    """IR_OP_* and opset tests in fn name and the file-local helpers it calls."""
    seen = seen if seen is not None else set()
    if name in seen or name not in fns:
        return set(), set()
    seen.add(name)
    body = fns[name]
    ops = set(re.findall(r"IR_OP_(\w+)", body))
    opsets = set(re.sub(r"\s+", " ", x).replace("c->opset", "opset") for x in re.findall(r"c->opset\s*[<>=!]+\s*\d+", body))
    for callee in re.findall(r"\b(\w+)\s*\(", body):
        if callee != name and callee in fns:
            o, s = closure(fns, callee, seen)
            ops |= o
            opsets |= s
    return ops, opsets


def main():
    entries = {}  # onnx op -> (primitives set, opset notes set, source)

    def add(op, prims, opsets, where):
        p, s, w = entries.setdefault(op, (set(), set(), set()))
        p |= prims
        s |= opsets
        w.add(where)

    kinds = {"K_UNARY", "K_ACT", "K_BINARY", "K_VARIADIC", "K_COMPARE", "K_POOL", "K_GPOOL",
             "K_SOFTMAX", "K_REDUCE", "K_SQUEEZE", "K_FN"}
    ops_src = read("src", "import", "onnx_ops.c")
    fns = functions(ops_src)
    helper_of = {"K_UNARY": "unary", "K_BINARY": "binary", "K_VARIADIC": "variadic",
                 "K_COMPARE": "compare", "K_POOL": "pool", "K_GPOOL": "global_pool",
                 "K_SOFTMAX": "softmax", "K_REDUCE": "reduce", "K_SQUEEZE": "squeeze",
                 "K_ACT": "activation"}
    for row in re.finditer(r'\{"(\w+)",\s*(K_\w+),\s*([\w]+),\s*(\w+)\}', table(ops_src, "ops")):
        op, kind, arg, fn = row.groups()
        prims, opsets = set(), set()
        if kind in kinds and arg.startswith("IR_OP_"):
            prims.add(arg[6:])
        if kind == "K_ACT":
            prims.add("Activation")
        if kind == "K_REDUCE":
            prims.add("ReduceFusion")
        h = fn if kind == "K_FN" else helper_of.get(kind)
        if h:
            o, s = closure(fns, h)
            opsets |= s
            if kind == "K_FN" or not prims:
                prims |= o
        add(op, prims, opsets, "onnx_ops.c")

    for fname, tname in (("onnx_ops_ext.c", "ext_ops"), ("onnx_ops_nn.c", "nn_ops")):
        src = read("src", "import", fname)
        fns = functions(src)
        for row in re.finditer(r'\{"(\w+)",\s*(\w+)\}', table(src, tname)):
            op, fn = row.groups()
            o, s = closure(fns, fn)
            add(op, o, s, fname)

    dyn = read("src", "import", "onnx_ops_dyn.c")
    dfns = functions(dyn)
    for row in re.finditer(r'\{"(\w+)",\s*\d+,\s*(\d+),\s*(\w+)\}', table(dyn, "dyn_ops")):
        op, since, arg = row.groups()
        prims = {arg[6:]} if arg.startswith("IR_OP_") else set()
        if op.startswith("Reduce"):
            prims.add("ReduceFusion")
        if op == "Slice":
            prims.add("StridedSlice")
        if op == "Split":
            prims.add("Split")
        add(op, prims, {f"non-constant value input from opset {since}"}, "onnx_ops_dyn.c")
    del dfns

    for op in ("Constant", "Identity"):
        add(op, set(), set(), "onnx.c")
    add("Dropout", set(), {"inference: removed"}, "onnx.c")

    custom_src = read("src", "ir", "custom_ops.c")
    customs = re.findall(r'\[CUSTOM_\w+\]\s*=\s*\{"(\w+)",\s*(\d+),\s*"([^"]*)"\}', custom_src)
    custom_names = {c[0] for c in customs}

    reg = read("src", "runtime", "kernels", "registry.c")
    kernels = set(re.findall(r"\[IR_OP_(\w+)\]\s*=", reg))
    cm = re.search(r"ONNX_MIN_OPSET\s+(\d+)", read("src", "import", "onnx.c") + read("src", "import", "onnx_internal.h") + read("src", "import", "onnx.h"))
    cx = re.search(r"ONNX_MAX_OPSET\s+(\d+)", read("src", "import", "onnx.c") + read("src", "import", "onnx_internal.h") + read("src", "import", "onnx.h"))

    lines = ["# Supported ONNX operators", "",
             "Generated by `scripts/gen_operators_md.py` from the importer's dispatch tables, the Custom",
             "node types and the kernel registry; do not edit by hand. Semantics of each primitive:",
             "`docs/ops.md`.", ""]
    if cm and cx:
        lines += [f"Models with default-domain opsets {cm.group(1)}..{cx.group(1)} are read. Opset notes list the",
                  "opset conditions a translator tests (older forms read with their legacy attributes).", ""]
    lines += ["| ONNX operator | tod IR primitives (MindSpore Lite) | opset notes | kernels |",
              "| --- | --- | --- | --- |"]
    for op in sorted(entries, key=str.lower):
        prims, opsets, where = entries[op]
        prims = {p for p in prims if p not in ("COUNT", "NONE")}
        shown = []
        for p in sorted(prims):
            shown.append(f"Custom `{op}`" if p == "Custom" and op in custom_names else p)
        missing = sorted(p for p in prims if p not in kernels and p != "Custom")
        if not prims:
            kern = "none needed (removed or folded)"
        elif missing:
            kern = "missing: " + ", ".join(missing)
        else:
            kern = "yes"
        notes = "; ".join(sorted(opsets)) or "all"
        lines.append(f"| {op} | {', '.join(shown) or '—'} | {notes} | {kern} |")
    lines += ["", "## Custom node types", "",
              "ONNX operators without a MindSpore Lite primitive are stored as `Custom` nodes: `type` is the",
              "ONNX operator name, the data inputs come first and the ONNX attributes follow as one float64",
              "constant input `attrs`, in this order:", "",
              "| type | data inputs | attrs |", "| --- | --- | --- |"]
    for name, nd, attrs in customs:
        lines.append(f"| {name} | {nd} | {attrs or '—'} |")
    text = "\n".join(lines) + "\n"
    path = os.path.join(ROOT, "docs", "operators.md")
    if "--check" in sys.argv:
        with open(path) as f:
            return 0 if f.read() == text else 1
    with open(path, "w") as f:
        f.write(text)
    print(f"wrote {path}: {len(entries)} ONNX operators")
    return 0


if __name__ == "__main__":
    sys.exit(main())
