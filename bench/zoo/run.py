"""Converts every zoo model (fp32 and int8), checks it against onnxruntime
fp32 on the same inputs and times both at one thread, interleaved, in one
process. Writes one table (bench/zoo/results.md) and, with --profile, the
slowest op types of the models where nanort fp32 is slower than
onnxruntime (bench/zoo/profiles.md).

    .venv/bin/python bench/zoo/run.py [--only NAME ...] [--runs N] [--profile] [--no-time]

Columns: fp32 error = max |nanort - onnxruntime| over the output's range
(max - min of onnxruntime's output), the worst output; int8 cos = cosine
similarity of the int8 model's first output with onnxruntime fp32's (int8
calibrated on 8 inputs of the model's input distribution); MACs of Conv /
ConvTranspose / MatMul / Gemm / LSTM / GRU at the zoo's input shapes;
latency ratios = onnxruntime fp32 median / nanort median (> 1: nanort faster).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import models as zoo  # noqa: E402

import nanort  # noqa: E402
from nanort.runtime.benchmark import interleaved  # noqa: E402

CALIBRATION = 8


def ort_session(path: str, threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


@dataclass
class Row:
    name: str
    source: str
    converts: str = ""
    fp32_error: float | None = None
    int8: str = ""
    int8_cos: float | None = None
    onnx_mb: float = 0.0
    nrt_mb: float | None = None
    int8_mb: float | None = None
    gmacs: float | None = None
    ort_ms: float | None = None
    fp32_ms: float | None = None
    int8_ms: float | None = None
    note: str = ""


def relative_error(got: dict[str, np.ndarray], want: list[np.ndarray]) -> float:
    worst = 0.0
    for g, w in zip(got.values(), want):
        if g.shape != w.shape:
            return math.inf
        if not w.size:
            continue
        w64, g64 = w.astype(np.float64), g.astype(np.float64)
        span = float(w64.max() - w64.min()) or max(float(np.abs(w64).max()), 1e-12)
        worst = max(worst, float(np.abs(g64 - w64).max()) / span)
    return worst


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    den = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / den) if den else float(np.array_equal(a, b))


def macs(path: Path, shapes: dict[str, tuple[int, ...]], frozen: dict) -> float | None:
    """Multiply-accumulates of the heavy ops at these input shapes (ONNX shape inference after folding)."""
    from nanort.converter import contrib_ops, onnx_loader

    model = onnx.load(str(path))
    contrib_ops.rewrite(model)
    try:
        if frozen:
            onnx_loader.freeze_inputs(model, frozen)
        onnx_loader.set_input_shapes(model, {k: list(v) for k, v in shapes.items() if k not in frozen})
        model = onnx_loader.simplify(model)
    except Exception:
        return None
    dims = {}
    g = model.graph
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        if vi.type.tensor_type.HasField("shape"):
            dims[vi.name] = [d.dim_value if d.HasField("dim_value") else 0 for d in vi.type.tensor_type.shape.dim]
    for init in g.initializer:
        dims[init.name] = list(init.dims)
    total = 0
    for n in g.node:
        def shape(i, n=n):
            return dims.get(n.input[i], []) if i < len(n.input) else []
        out = dims.get(n.output[0], []) if n.output else []
        if n.op_type == "Conv" and len(shape(1)) >= 3:
            total += math.prod(out) * math.prod(shape(1)[1:])
        elif n.op_type == "ConvTranspose" and len(shape(1)) >= 3:
            total += math.prod(shape(0)) * math.prod(shape(1)[1:])
        elif n.op_type in ("MatMul", "Gemm") and shape(0):
            k = shape(0)[-1] if not (n.op_type == "Gemm" and any(a.name == "transA" and a.i for a in n.attribute)) \
                else shape(0)[0]
            total += math.prod(out) * k
        elif n.op_type in ("LSTM", "GRU") and shape(1) and shape(2) and shape(0):
            steps = shape(0)[0] * shape(0)[1]
            total += steps * math.prod(shape(1)) + steps * math.prod(shape(2))
    return total / 1e9


def run_model(m: zoo.ZooModel, out_dir: Path, runs: int, timing: bool) -> Row:
    path = m.locate()
    row = Row(m.name, m.source, onnx_mb=path.stat().st_size / 1e6, note=m.note)
    feeds = m.feeds(0)
    sess = ort_session(str(path), 1)
    ort_in = {i.name for i in sess.get_inputs()}
    want = sess.run(None, {k: v for k, v in feeds.items() if k in ort_in})
    nrt_feeds = {k: v for k, v in feeds.items() if k not in m.input_values}
    f32, i8 = out_dir / f"{m.name}.nrt", out_dir / f"{m.name}-int8.nrt"
    kw = dict(input_shapes=m.input_shapes or None, input_values=m.input_values or None)
    try:
        report = nanort.convert(path, f32, **kw)
        row.converts = "yes"
    except nanort.Error as e:
        row.converts = f"no: {str(e)[:160]}"
        return row
    row.nrt_mb = f32.stat().st_size / 1e6
    fp32 = nanort.Model(f32)
    row.fp32_error = relative_error(fp32.run(nrt_feeds), want)
    try:
        calibration = [{k: v for k, v in m.feeds(s).items() if k not in m.input_values}
                       for s in range(1, CALIBRATION + 1)]
        if report.quantization is not None:  # already quantized (QDQ / QLinear): converted with its own scales
            i8.write_bytes(f32.read_bytes())
            row.note = (row.note + " " if row.note else "") + "pre-quantized: its own int8 in both columns"
        else:
            nanort.convert(path, i8, quantize="int8", calibration=calibration, **kw)
        int8 = nanort.Model(i8)
        row.int8_cos = cosine(next(iter(int8.run(nrt_feeds).values())), want[0])
        row.int8_mb = i8.stat().st_size / 1e6
        row.int8 = "yes"
    except nanort.Error as e:
        int8 = None
        row.int8 = f"no: {str(e)[:120]}"
    row.gmacs = macs(path, {k: v.shape for k, v in feeds.items()}, m.input_values)
    if timing:
        ort_feeds = {k: v for k, v in feeds.items() if k in ort_in}
        candidates = {"ort": lambda: sess.run(None, ort_feeds), "fp32": lambda: fp32.run(nrt_feeds)}
        if int8 is not None:
            candidates["int8"] = lambda: int8.run(nrt_feeds)
        t = interleaved(candidates, runs=runs, warmup=2)
        row.ort_ms, row.fp32_ms = t["ort"].median_ms, t["fp32"].median_ms
        row.int8_ms = t["int8"].median_ms if "int8" in t else None
    return row


def _fmt(v, spec: str, none: str = "-") -> str:
    return none if v is None else format(v, spec)


def table(rows: list[Row]) -> str:
    head = ("| model | source | converts | fp32 err (of range) | int8 cos | MB onnx / fp32 / int8 | GMACs "
            "| ms ort fp32 / nanort fp32 / int8 | fp32 speedup | int8 speedup (vs ort fp32, vs nanort fp32) |")
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        fp32_x = r.ort_ms / r.fp32_ms if r.ort_ms and r.fp32_ms else None
        int8_x = r.ort_ms / r.int8_ms if r.ort_ms and r.int8_ms else None
        int8_vs = r.fp32_ms / r.int8_ms if r.fp32_ms and r.int8_ms else None
        lines.append(
            f"| {r.name} | {r.source} | {r.converts} | {_fmt(r.fp32_error, '.1e')} | "
            f"{_fmt(r.int8_cos, '.4f', r.int8 or '-')} | {r.onnx_mb:.1f} / {_fmt(r.nrt_mb, '.1f')} / "
            f"{_fmt(r.int8_mb, '.1f')} | {_fmt(r.gmacs, '.2f')} | {_fmt(r.ort_ms, '.2f')} / "
            f"{_fmt(r.fp32_ms, '.2f')} / {_fmt(r.int8_ms, '.2f')} | {_fmt(fp32_x, '.2f')}x | "
            f"{_fmt(int8_x, '.2f')}x, {_fmt(int8_vs, '.2f')}x |")
    return "\n".join(lines)


def profiles(rows: list[Row], out_dir: Path, runs: int) -> str:
    from nanort.bench import profile

    parts = ["# Where nanort fp32 time goes on the zoo models slower than onnxruntime fp32", "",
             "1 thread; ms per run by op type (top 6), from `nanort bench --profile`'s profiler.", ""]
    for r in rows:
        if not (r.ort_ms and r.fp32_ms and r.fp32_ms > r.ort_ms):
            continue
        m = zoo.by_name(r.name)
        shapes = {k: list(v.shape) for k, v in m.feeds(0).items() if k not in m.input_values}
        _, types = profile(str(out_dir / f"{r.name}.nrt"), 1, "auto", shapes, runs)
        total = sum(ms for _, _, ms in types)
        parts.append(f"## {r.name}: nanort fp32 {r.fp32_ms:.2f} ms vs onnxruntime {r.ort_ms:.2f} ms "
                     f"({r.fp32_ms / r.ort_ms:.2f}x slower)")
        parts.append("")
        parts.append("| op | nodes | ms | share |")
        parts.append("|---|---|---|---|")
        for op, count, ms in types[:6]:
            parts.append(f"| {op} | {count} | {ms:.3f} | {ms / total:.0%} |")
        parts.append("")
    return "\n".join(parts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--no-time", action="store_true", help="conversion and agreement only")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--out", default=str(HERE / "results.md"))
    args = ap.parse_args()
    out_dir = zoo.cache_dir() / "nrt"
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for m in zoo.MODELS:
        if args.only and m.name not in args.only:
            continue
        t0 = time.perf_counter()
        try:
            row = run_model(m, out_dir, args.runs, not args.no_time)
        except Exception as e:
            traceback.print_exc()
            row = Row(m.name, m.source, converts=f"error: {type(e).__name__}: {str(e)[:120]}")
        rows.append(row)
        print(f"{m.name}: {row.converts[:60]} err {_fmt(row.fp32_error, '.1e')} int8 {_fmt(row.int8_cos, '.4f')} "
              f"ort {_fmt(row.ort_ms, '.2f')} fp32 {_fmt(row.fp32_ms, '.2f')} int8 {_fmt(row.int8_ms, '.2f')} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    # --only updates those rows of the last full run's
    saved = zoo.cache_dir() / "results.json"
    if args.only and saved.exists():
        earlier = {r["name"]: Row(**r) for r in json.loads(saved.read_text())}
        earlier.update({r.name: r for r in rows})
        rows = [earlier[m.name] for m in zoo.MODELS if m.name in earlier]
    saved.write_text(json.dumps([asdict(r) for r in rows], indent=1))
    text = ["# nanort model zoo vs onnxruntime", "", __doc__.split("\n\n")[2].strip(), "",
            f"onnxruntime {__import__('onnxruntime').__version__}, 1 thread, {args.runs} interleaved runs "
            f"(load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; on a shared machine "
            "the ratios are what carries over).", "",
            table(rows), ""]
    Path(args.out).write_text("\n".join(text))
    print(table(rows))
    if args.profile:
        (HERE / "profiles.md").write_text(profiles(rows, out_dir, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
