"""The real-model benchmark: PP-OCRv4 det, rec and the mobile cls model, fp32
and int8, nanort against onnxruntime, at 1 and 2 threads; writes a markdown
table with latency (median, min-max of interleaved runs), ratios against
onnxruntime fp32 and int8, peak RSS and load time (each measured in a fresh
process), MACs and the achieved fraction of this machine's peak as measured
by bench/peak.c.

    python bench/suite.py [--threads 1 2] [--runs 20] [--calib 32] [--out bench/results.md]
                          [--baseline NAME=path/to/libnanort.so ...]

--baseline adds another build of the C runtime (bench/libmodel.py) as
candidates "NAME fp32" / "NAME int8" on the same converted models, timed in
the same interleaved runs, and a table of this build's speedup over it:
how a change is measured on a loaded machine.

onnxruntime's int8 model is its own static QDQ quantization (quantize_static,
per-channel int8 weights, uint8 activations) of the same network calibrated
on the same rendered images; the models are opset 11/12 and that quantizer
writes an invalid model unless they are first upgraded to opset 13, which
this script does.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))
import ppocr  # noqa: E402
from assets import PPOCR_MODELS, ppocr_model  # noqa: E402

import nanort  # noqa: E402
from nanort.runtime.api.bench import measure_process  # noqa: E402
from nanort.runtime.benchmark import Timing, block_for, interleaved  # noqa: E402

console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)

CANDIDATES = ("nanort fp32", "nanort int8", "onnxruntime fp32", "onnxruntime int8")


def measure_peak(threads: int, workdir: Path) -> dict[tuple[str, int], float]:
    """{(test, threads): G multiply-adds/s} from bench/peak.c."""
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        console.print("[yellow]no C compiler: % of peak left out[/]")
        return {}
    exe = workdir / "peak"
    subprocess.run([cc, "-O3", "-pthread", str(HERE / "peak.c"), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe), str(threads)], check=True, capture_output=True, text=True).stdout
    peaks = {}
    for line in out.splitlines():
        name, n, gops = line.split()
        peaks[(name, int(n))] = float(gops)
    return peaks


def best_peak(peaks: dict[tuple[str, int], float], kind: str, threads: int) -> float | None:
    values = [v for (name, n), v in peaks.items() if name.startswith(kind) and n == threads]
    return max(values) if values else None


MAC_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")


def count_macs(model: onnx.ModelProto, shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of Conv / ConvTranspose / Gemm / MatMul at this
    input shape, with every operand's shape taken from an onnxruntime run
    (static shape inference leaves some of these models' MatMul shapes open)."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    weights = {i.name: list(i.dims) for i in model.graph.initializer}
    nodes = [n for n in model.graph.node if n.op_type in MAC_OPS]
    probe = {t for n in nodes for t in (n.input[0], n.input[1], n.output[0]) if t not in weights}
    known = {o.name for o in model.graph.output}
    model.graph.output.extend(onnx.helper.make_empty_tensor_value_info(t) for t in sorted(probe - known))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    shapes = dict(weights)
    shapes.update({n: list(v.shape) for n, v in zip(names, sess.run(None, {"x": np.zeros(shape, np.float32)}))})
    macs = 0
    for n in nodes:
        x, w, y = shapes[n.input[0]], shapes[n.input[1]], shapes[n.output[0]]
        if n.op_type == "Conv":  # each output sums Cin/g * kh * kw products
            macs += int(np.prod(y)) * int(np.prod(w[1:]))
        elif n.op_type == "ConvTranspose":  # every input pixel meets every weight of its group
            macs += int(np.prod(x)) * int(np.prod(w[1:]))
        else:  # each output sums K products
            trans_a = any(at.name == "transA" and at.i for at in n.attribute)
            macs += int(np.prod(y)) * (x[-2] if trans_a else x[-1])
    return macs


@dataclass
class Row:
    model: str
    threads: int
    name: str
    timing: Timing
    rss_mb: float
    load_ms: float


def prepare_models(kind: str, shape, calib_n: int, workdir: Path) -> dict[str, tuple[str, Path]]:
    """{candidate: (runtime, file)}; the int8 models calibrated on the same images."""
    src = ppocr_model(kind)
    calib = [ppocr_input(kind, seed) for seed in range(1000, 1000 + calib_n)]
    fp32, int8 = workdir / f"{kind}.nrt", workdir / f"{kind}-int8.nrt"
    ort_q = workdir / f"{kind}-ort-int8.onnx"
    console.print(f"{kind}: converting fp32, int8 (calibration: {calib_n} rendered images), onnxruntime int8 QDQ")
    nanort.convert(src, fp32, input_shapes={"x": list(shape)})
    nanort.convert(src, int8, input_shapes={"x": list(shape)}, quantize="int8",
                   calibration=[{"x": x} for x in calib])
    ppocr.ort_int8(src, ort_q, calib, shape)
    return {"nanort fp32": ("nanort", fp32), "nanort int8": ("nanort", int8),
            "onnxruntime fp32": ("onnxruntime", src), "onnxruntime int8": ("onnxruntime", ort_q)}


def ppocr_input(kind: str, seed: int) -> np.ndarray:
    if kind == "det":
        return ppocr.det_sample(seed)[0]
    if kind == "rec":
        return ppocr.rec_sample(seed)[0]
    return ppocr.cls_sample(seed)[0]


def runner(runtime: str, path: Path, threads: int, baselines: dict[str, str]):
    if runtime == "nanort":
        return nanort.Model(path, threads=threads)
    if runtime in baselines:
        from libmodel import LibModel

        return LibModel(baselines[runtime], path, threads)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def bench_model(kind: str, models: dict[str, tuple[str, Path]], threads: int, runs: int,
                workdir: Path, baselines: dict[str, str]) -> list[Row]:
    x = ppocr_input(kind, 0)
    sessions = {name: runner(rt, path, threads, baselines) for name, (rt, path) in models.items()}
    calls = {name: (lambda s=s: s.run(None, {"x": x})) for name, s in sessions.items()}
    timings = interleaved(calls, runs=runs, warmup=3, block=block_for(threads))
    feeds = workdir / f"{kind}-feeds.npz"
    np.savez(feeds, x=x)
    rows = []
    for name, (rt, path) in models.items():
        info = measure_process(rt, str(path), threads, feeds, "auto") if rt not in baselines else \
            {"peak_rss_mb": float("nan"), "load_ms": float("nan")}
        rows.append(Row(kind, threads, name, timings[name], info["peak_rss_mb"], info["load_ms"]))
    return rows


def with_baselines(models: dict[str, tuple[str, Path]], baselines: dict[str, str]) -> dict[str, tuple[str, Path]]:
    """The nanort models once more for each baseline build."""
    out = dict(models)
    for name in baselines:
        for precision in ("fp32", "int8"):
            out[f"{name} {precision}"] = (name, models[f"nanort {precision}"][1])
    return out


def baseline_markdown(rows: list[Row], baselines: dict[str, str], runs: int) -> str:
    by = {(r.model, r.threads, r.name): r.timing for r in rows}
    lines = ["", f"This build against other builds of the runtime on the same models (median of {runs} interleaved "
             "runs; speedup = the other build's median / this build's):", "",
             "| model | threads | precision | build | this build ms | its ms | speedup |",
             "|---|---|---|---|---|---|---|"]
    for (model, threads, name), t in by.items():
        if not name.startswith("nanort "):
            continue
        precision = name.split()[1]
        for base in baselines:
            other = by[(model, threads, f"{base} {precision}")]
            lines.append(f"| {model} | {threads} | {precision} | {base} | {t.median_ms:.2f} | {other.median_ms:.2f} | "
                         f"{t.ratio(other):.3f}x |")
    return "\n".join(lines) + "\n"


def node_times(path: Path, threads: int, x: np.ndarray, runs: int) -> dict[str, tuple[str, float]]:
    """{node name: (op, mean ms per run)} from the runtime's per-node profile."""
    with nanort.Model(path, threads=threads) as model:
        model.run({"x": x})
        model.set_profiling(True)
        for _ in range(runs):
            model.run({"x": x})
        return {p["name"]: (p["op"], p["ms"] / runs) for p in model.profile() if p["calls"]}


def conv_scaling(kind: str, models: dict[str, tuple[str, Path]], threads: int, runs: int, top: int = 4
                 ) -> list[tuple[str, str, str, float, float]]:
    """The `top` slowest convolutions of each nanort model at 1 and `threads` threads:
    (model, candidate, node, ms at 1 thread, ms at `threads`)."""
    x = ppocr_input(kind, 0)
    out = []
    for name, (rt, path) in models.items():
        if rt != "nanort":
            continue
        one, many = node_times(path, 1, x, runs), node_times(path, threads, x, runs)
        convs = sorted((ms, node) for node, (op, ms) in one.items() if op.startswith("Conv"))[::-1][:top]
        out += [(kind, name, node, ms, many[node][1]) for ms, node in convs]
    return out


def scaling_markdown(scaling: list[tuple[str, str, str, float, float]], threads: int) -> str:
    lines = ["", f"Thread scaling of the slowest convolutions (per-node profile, mean of the runs; 1 vs {threads} "
             "threads):", "", f"| model | runtime | node | ms, 1 thread | ms, {threads} threads | speedup |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {kind} | {name} | {node} | {one:.3f} | {many:.3f} | {one / many:.2f}x |"
              for kind, name, node, one, many in scaling]
    return "\n".join(lines) + "\n"


def markdown(rows: list[Row], macs: dict[str, int], peaks: dict, sizes: dict[tuple[str, str], float],
             runs: int, calib_n: int) -> str:
    by = {(r.model, r.threads, r.name): r for r in rows}
    lines = [
        f"Median of {runs} interleaved runs (min-max in brackets; at 2 threads alternating in blocks of 5 runs, "
        f"each after an untimed run that absorbs the other runtime's spinning worker threads); "
        f"ratios are onnxruntime's median / this row's "
        f"(> 1: faster than onnxruntime). Peak RSS and load time (file to first result) in fresh processes. "
        f"int8 models calibrated on the same {calib_n} rendered images; onnxruntime int8 = its quantize_static QDQ "
        f"model after upgrading to opset 13 (its quantizer writes an invalid model from opset 11/12). "
        f"% of peak = MACs / latency / (bench/peak.c's best rate for that precision and thread count).",
        "",
        "| model | threads | runtime | MB | median ms (min-max) | vs ORT fp32 | vs ORT int8 | peak RSS MB | "
        "load ms | GMAC | GMAC/s | % of peak |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        t = r.timing
        ref32 = by[(r.model, r.threads, "onnxruntime fp32")].timing
        ref8 = by[(r.model, r.threads, "onnxruntime int8")].timing
        gmac = macs[r.model] / 1e9
        rate = gmac / (t.median_ms / 1e3)
        peak = best_peak(peaks, "int8" if "int8" in r.name else "fp32", r.threads)
        pct = f"{100 * rate / peak:.1f}" if peak else "-"
        lines.append(
            f"| {r.model} | {r.threads} | {r.name} | {sizes[(r.model, r.name)]:.2f} | {t.median_ms:.2f} "
            f"({t.min_ms:.2f}-{t.max_ms:.2f}) | {t.ratio(ref32):.2f}x | {t.ratio(ref8):.2f}x | {r.rss_mb:.0f} | "
            f"{r.load_ms:.1f} | {gmac:.2f} | {rate:.1f} | {pct} |")
    if peaks:
        lines += ["", "Peak (bench/peak.c, G multiply-adds/s): " + ", ".join(
            f"{name} x{n}: {v:.0f}" for (name, n), v in sorted(peaks.items()))]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--runs", type=int, default=20, help="timed runs of each candidate (interleaved)")
    ap.add_argument("--calib", type=int, default=32, help="calibration images for the int8 models")
    ap.add_argument("--models", nargs="+", choices=list(PPOCR_MODELS), default=list(PPOCR_MODELS))
    ap.add_argument("--out", default=str(HERE / "results.md"), help="markdown file to write")
    ap.add_argument("--tflite", action="store_true",
                    help="add the TFLite table: nanort against TFLite on the models that ship as .tflite "
                         "(PP-OCR does not; see bench/tflite_suite.py)")
    ap.add_argument("--baseline", action="append", default=[], metavar="NAME=LIB",
                    help="another build's libnanort.so to time on the same models (repeatable)")
    args = ap.parse_args()
    baselines = dict(b.split("=", 1) for b in args.baseline)
    workdir = Path(tempfile.mkdtemp(prefix="nanort-suite-"))
    try:
        peaks = measure_peak(max(args.threads), workdir)
        rows, macs, sizes, scaling = [], {}, {}, []
        for kind in args.models:
            shape = PPOCR_MODELS[kind][1]
            macs[kind] = count_macs(onnx.load(str(ppocr_model(kind))), shape)
            models = with_baselines(prepare_models(kind, shape, args.calib, workdir), baselines)
            sizes.update({(kind, name): p.stat().st_size / 1e6 for name, (_, p) in models.items()})
            for threads in args.threads:
                console.print(f"{kind}: timing at {threads} thread(s)")
                rows += bench_model(kind, models, threads, args.runs, workdir, baselines)
            if max(args.threads) > 1:
                scaling += conv_scaling(kind, models, max(args.threads), args.runs)
        text = markdown(rows, macs, peaks, sizes, args.runs, args.calib)
        if scaling:
            text += scaling_markdown(scaling, max(args.threads))
        if baselines:
            text += baseline_markdown(rows, baselines, args.runs)
        if args.tflite:
            import tflite_suite

            for threads in args.threads:
                rows = [tflite_suite.bench_one(name, threads, args.runs, workdir) for name in tflite_suite.TEST_MODELS]
                text += "\n" + tflite_suite.markdown(rows, threads, args.runs)
        Path(args.out).write_text(text)
        show(rows, macs)
        console.print(f"wrote {args.out}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def show(rows: list[Row], macs: dict[str, int]) -> None:
    table = Table(title="PP-OCR: nanort vs onnxruntime")
    for col in ("model", "threads", "runtime", "median ms", "vs ORT fp32", "vs ORT int8", "RSS MB", "load ms"):
        table.add_column(col, justify="left" if col in ("model", "runtime") else "right")
    by = {(r.model, r.threads, r.name): r.timing for r in rows}
    for r in rows:
        t = r.timing
        table.add_row(r.model, str(r.threads), r.name, f"{t.median_ms:.2f}",
                      f"{t.ratio(by[(r.model, r.threads, 'onnxruntime fp32')]):.2f}x",
                      f"{t.ratio(by[(r.model, r.threads, 'onnxruntime int8')]):.2f}x", f"{r.rss_mb:.0f}",
                      f"{r.load_ms:.1f}")
    console.print(table)


if __name__ == "__main__":
    main()
