"""The .ms writer and reader against an independent reference, flatc with MindSpore Lite's schema.

1. tests/tools/ms_write_sample writes a sample graph (tests/unit/ms_sample.h) with ms_write_file
   and dumps the IR it wrote as JSON; flatc decodes the .ms and every field must match (plus a
   few values checked literally here, and 64-byte alignment of the weight bytes in the file).
2. Each real MindSpore Lite fixture is read by ms_read (dumped as JSON by the same tool) and
   decoded by flatc; both must agree on every tensor, node, attribute and data byte.
"""
import json
import os
import re
import struct
import subprocess
import sys

SOURCE = os.environ.get("TOD_SOURCE", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD = os.environ.get("TOD_BUILD", os.path.join(SOURCE, "build"))
SHARED = os.environ.get("TOD_SHARED", os.path.join(SOURCE, "..", "shared"))
WORK = os.path.join(os.environ.get("TOD_WORK", os.path.join(BUILD, "testwork")), "ms_flatc")
os.makedirs(WORK, exist_ok=True)
SCHEMA_DIR = os.path.join(SHARED, "formats", "ms-schema")
TOOL = os.path.join(BUILD, "tests", "ms_write_sample")

failures = 0
checks = 0


def check(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print("FAIL " + what, flush=True)
    return cond


# --- schema facts from the .fbs files (enum values, field types and defaults) ----------------
def strip_comments(text):
    return re.sub(r"//[^\n]*", "", re.sub(r"/\*.*?\*/", "", text, flags=re.S))


def parse_schema():
    enums, tables = {}, {}
    for name in ("ops_types.fbs", "ops.fbs", "model.fbs"):
        text = strip_comments(open(os.path.join(SCHEMA_DIR, name)).read())
        for m in re.finditer(r"\benum\s+(\w+)\s*:\s*\w+\s*\{([^}]*)\}", text):
            vals, nxt = {}, 0
            for item in m.group(2).split(","):
                item = item.strip()
                if not item:
                    continue
                if "=" in item:
                    k, v = (s.strip() for s in item.split("="))
                    nxt = int(v)
                else:
                    k = item
                vals[k] = nxt
                nxt += 1
            enums[m.group(1)] = vals
        for m in re.finditer(r"\btable\s+(\w+)\s*\{([^}]*)\}", text):
            fields = {}
            for decl in m.group(2).split(";"):
                fm = re.match(r"\s*(\w+)\s*:\s*([\w\[\]]+)\s*(?:=\s*([^;(]+?))?\s*(\(.*\))?\s*$", decl)
                if fm:
                    fields[fm.group(1)] = (fm.group(2), fm.group(3))
            tables[m.group(1)] = fields
    return enums, tables


ENUMS, TABLES = parse_schema()


def enum_value(type_name, v):
    """flatc prints enum values by name (or as a number when unnamed)."""
    if isinstance(v, str) and type_name in ENUMS:
        return ENUMS[type_name][v]
    return v


def scalar_default(type_name, dflt):
    if dflt is None:
        return False if type_name == "bool" else 0
    dflt = dflt.strip()
    if dflt in ("true", "false"):
        return dflt == "true"
    if type_name in ENUMS and dflt in ENUMS[type_name]:
        return ENUMS[type_name][dflt]
    return float(dflt) if ("." in dflt or "e" in dflt) else int(dflt)


def flatc_json(ms_path):
    out = os.path.join(WORK, "flatc")
    os.makedirs(out, exist_ok=True)
    r = subprocess.run(["flatc", "--json", "--raw-binary", "--strict-json", "--defaults-json", "-o", out,
                        os.path.join(SCHEMA_DIR, "model.fbs"), "--", ms_path], capture_output=True, text=True)
    base = os.path.splitext(os.path.basename(ms_path))[0]
    path = os.path.join(out, base + ".json")
    if not check(r.returncode == 0 and os.path.exists(path), f"flatc decodes {ms_path}: {r.stderr[-300:]}"):
        return None
    with open(path) as f:
        return json.load(f)


def run_tool(*args):
    r = subprocess.run([TOOL, *args], capture_output=True, text=True)
    check(r.returncode == 0, f"ms_write_sample {' '.join(args)}: {r.stderr.strip()}")
    return r.returncode == 0


def close(a, b, rel=1e-6):
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) == bool(b)
    return a == b or abs(a - b) <= rel * max(abs(a), abs(b), 1e-30)


def attr_equal(type_name, ir_val, fj_val):
    if type_name.startswith("["):
        return isinstance(fj_val, list) and len(fj_val) == len(ir_val) and all(
            close(x, y) for x, y in zip(ir_val, fj_val))
    if type_name == "Vec2D":
        rows = [r.get("data", []) for r in (fj_val or {}).get("data", [])]
        return rows == ir_val
    if type_name == "string":
        return fj_val == ir_val
    return close(ir_val, enum_value(type_name, fj_val), 1e-6)


def compare(ir, fj, label):
    """ir: the tool's JSON of an IR graph; fj: flatc's JSON of the .ms file."""
    check(fj.get("name", "") == ir["name"], f"{label}: name")
    if ir["version"]:
        check(fj.get("version", "") == ir["version"], f"{label}: version")
    else:  # the writer's default version string
        check(re.fullmatch(r"tod \S+ \(MindSpore Lite schema\)", fj.get("version", "")), f"{label}: version")
    check(fj.get("fmkType", 0) == ir["fmk_type"], f"{label}: fmkType")
    check(fj.get("inputIndex", []) == ir["inputs"], f"{label}: inputIndex")
    check(fj.get("outputIndex", []) == ir["outputs"], f"{label}: outputIndex")
    ft, it = fj.get("allTensors", []), ir["tensors"]
    check(len(ft) == len(it), f"{label}: tensor count {len(ft)} vs {len(it)}")
    for i, (f, t) in enumerate(zip(ft, it)):
        w = f"{label}: tensor {i} ({t['name']})"
        check(f.get("name", "") == t["name"], w + " name")
        check(f.get("dataType", 0) == t["dtype"], w + " dataType")
        check(f.get("dims", []) == t["dims"], w + f" dims {f.get('dims')} vs {t['dims']}")
        check(enum_value("Format", f.get("format", 0)) == t["format"], w + " format")
        check(enum_value("WeightQuantCompressType", f.get("weightQuantCompressType", 0)) == t["compress"],
              w + " weightQuantCompressType")
        is_const = f.get("nodeType", 0) == 0 and "data" in f
        if i in ir["inputs"]:
            check(t["kind"] == 1, w + " kind INPUT")
        else:
            check(t["kind"] == (2 if is_const else 0), w + " kind")
        if t["kind"] == 2:
            check(f.get("data") == t["data"], w + " data bytes")
        qf = f.get("quantParams", [])
        check(len(qf) == len(t["quant"]), w + " quantParams count")
        for q, p in zip(qf, t["quant"]):
            check(close(q["scale"], p["scale"], 1e-12) and q["zeroPoint"] == p["zero_point"]
                  and close(q["min"], p["min"], 1e-12) and close(q["max"], p["max"], 1e-12)
                  and q["numBits"] == p["num_bits"] and q["inited"] == p["inited"], w + " quantParam")
        cf = f.get("quantClusters", [])
        check(len(cf) == len(t["clusters"]) and all(close(a, b) for a, b in zip(cf, t["clusters"])),
              w + " quantClusters")
    fn, inodes = fj.get("nodes", []), ir["nodes"]
    check(len(fn) == len(inodes), f"{label}: node count")
    for i, (f, n) in enumerate(zip(fn, inodes)):
        w = f"{label}: node {i} ({n['name']})"
        prim = f.get("primitive", {})
        check(prim.get("value_type") == n["op"], w + f" type {prim.get('value_type')} vs {n['op']}")
        ins = list(n["in"])
        while ins and ins[-1] == -1:
            ins.pop()
        check(f.get("inputIndex", []) == ins, w + " inputIndex")
        check(f.get("outputIndex", []) == n["out"], w + " outputIndex")
        check(enum_value("QuantType", f.get("quantType", 0)) == n["quant_type"], w + " quantType")
        fields = TABLES.get(n["op"], {})
        value = prim.get("value", {}) or {}
        for key, v in n["attrs"].items():
            check(key in fields, w + f" attr {key} is a field")
            if key in fields:
                check(attr_equal(fields[key][0], v, value.get(key)), w + f" attr {key}: {v} vs {value.get(key)}")
        for key, fv in value.items():
            if key in n["attrs"] or key not in fields:
                continue
            ftype, dflt = fields[key]
            # absent from the IR: flatc must be showing the schema default (never a stored vector)
            ok = not isinstance(fv, (list, dict)) and close(enum_value(ftype, fv), scalar_default(ftype, dflt))
            check(ok, w + f" field {key}={fv} missing from the IR")


def main():
    if not check(os.path.exists(TOOL), f"tool {TOOL} built"):
        sys.exit(1)
    # 1. writer
    ms, irj = os.path.join(WORK, "sample.ms"), os.path.join(WORK, "sample_ir.json")
    if run_tool("sample", ms, irj):
        ir = json.load(open(irj))
        fj = flatc_json(ms)
        if fj:
            compare(ir, fj, "sample")
            nodes = {n["name"]: n for n in fj["nodes"]}
            conv = nodes["conv"]["primitive"]["value"]
            check(conv["kernel_size"] == [3, 3] and conv["activation_type"] == "RELU"
                  and conv["pad_mode"] == "VALID" and conv["format"] == "NHWC", "sample: conv attrs literal")
            pad = nodes["pad"]["primitive"]["value"]
            check([r["data"] for r in pad["paddings"]["data"]] == [[0, 0], [1, 1], [1, 1], [0, 0]]
                  and pad["constant_value"] == 1.5, "sample: PadFusion Vec2D paddings")
            check(nodes["fc"]["inputIndex"] == [8, 6] and nodes["fc"]["quantType"] == "QUANT_WEIGHT",
                  "sample: trailing absent input dropped")
            check(nodes["d2s"]["primitive"]["value"]["mode"] == "DCR", "sample: string attr")
            check(nodes["tarr"]["primitive"]["value"]["element_shape"] == [-1, 3], "sample: [int] attr")
            check(nodes["prior"]["primitive"]["value"]["aspect_ratios"] == [1.0, 2.0, 0.5], "sample: [float] attr")
            tens = {t["name"]: t for t in fj["allTensors"]}
            w = tens["conv.weight"]
            expect = list(struct.pack("<108f", *[i * 0.01 - 0.5 for i in range(108)]))
            # the writer stores float32 values computed in C; compare after float32 rounding
            check(w["dims"] == [4, 3, 3, 3] and w["format"] == "KHWC" and w["dataType"] == 43
                  and w["nodeType"] == 0 and len(w["data"]) == 432, "sample: conv weight tensor")
            got = struct.unpack("<108f", bytes(w["data"]))
            check(all(abs(a - b) < 1e-6 for a, b in zip(got, struct.unpack("<108f", bytes(expect)))),
                  "sample: conv weight values")
            q = tens["fc.weight"]["quantParams"]
            check(len(q) == 10 and close(q[2]["scale"], 0.03, 1e-12) and q[2]["zeroPoint"] == -3
                  and q[2]["narrowRange"] is False and q[3]["numBits"] == 8 and q[0]["numBits"] == 4,
                  "sample: quantParams")
            check(tens["x"]["nodeType"] == 0 and tens["conv_out"]["nodeType"] == 2, "sample: nodeType")
            check(fj["subGraph"][0]["nodeIndices"] == list(range(len(fj["nodes"]))), "sample: subgraph")
            # weights start 64-byte aligned in the file: find each constant's bytes
            blob = open(ms, "rb").read()
            for name, t in tens.items():
                data = bytes(t.get("data", []))
                if len(data) >= 16:
                    pos = [m.start() for m in re.finditer(re.escape(data), blob)]
                    check(any(p % 64 == 0 for p in pos), f"sample: {name} data 64-byte aligned at {pos}")
    # 2. reader, on the real MindSpore Lite files
    fixtures = os.path.join(SHARED, "fixtures", "mindspore")
    for name in sorted(os.listdir(fixtures)):
        if not name.endswith(".ms"):
            continue
        path = os.path.join(fixtures, name)
        out = os.path.join(WORK, name + ".ir.json")
        if run_tool("dump", path, out):
            fj = flatc_json(path)
            if fj:
                compare(json.load(open(out)), fj, name)
    if failures:
        print(f"{failures} check(s) failed")
        sys.exit(1)
    print(f"test_ms_flatc: all {checks} checks passed")


main()
