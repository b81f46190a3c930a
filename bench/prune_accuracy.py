"""Pruning on the PP-OCR models: sparsity x method x pattern -> file size,
latency and task accuracy against fp32, every setting int8 (static, mse) on
the same rendered-text calibration images and evaluated on held-out ones
(bench/quant_accuracy.py's metrics: det IoU of the binarized text map with
fp32's, rec character accuracy).

    python bench/prune_accuracy.py [--models det,rec] [--calib 32] [--eval 50]
        [--sparsities 0.3,0.5,0.7] [--methods magnitude,wanda,sparsegpt]
        [--patterns unstructured,1x4,2:4,channel] [--runs 15] [--isa auto]
        [--report prune.html] [--markdown prune.md]
    python bench/prune_accuracy.py --already-pruned [--models det,rec]

Latency: nanort at 1 thread, each pruned model interleaved with the dense
int8 one (speedup > 1: faster), medians of --runs runs. Which kernels run
is the runtime's choice per layer (ops/sparse_weights.h, a cost model of
the measured kernels): int8 1x1 convs whose weights are 1x4-block sparse run
on the level's sparse kernel (qs8-qc8w-spmm-*) where it is faster,
unstructured and N:M sparsity keep most 1x4 blocks (2:4 all of them), so
they gain little or nothing (the file is smaller), and channel pruning, which
removes whole channels, is faster on the dense kernels. N:M patterns have their own sparsity (2:4 = 50 %).
--report writes an HTML page with the table and a plot (accuracy vs file
size per method and pattern, an SVG); --markdown the table as Markdown.
"""

from __future__ import annotations

import argparse
import html
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from assets import PPOCR_MODELS, ppocr_model  # noqa: E402
from quant_accuracy import evaluate, runner, samples  # noqa: E402

import nanort  # noqa: E402
from nanort.converter.prune.patterns import Pattern  # noqa: E402
from nanort.runtime.benchmark import interleaved  # noqa: E402

console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
METRIC = {"det": "IoU vs fp32", "rec": "char acc"}


@dataclass
class Row:
    model: str
    method: str
    pattern: str
    sparsity: float
    mb: float
    size_ratio: float    # file size / the dense int8 file's
    metric: float
    fp32_metric: float
    median_ms: float
    speedup: float       # dense int8 median / this one's
    seconds: float       # conversion time

    @property
    def label(self) -> str:
        return "dense int8" if self.method == "-" else f"{self.method} {self.pattern}"


def settings(args) -> list[tuple[str, str, float]]:
    out = []
    for pattern in args.patterns.split(","):
        fixed = Pattern.parse(pattern).fixed_sparsity
        for sparsity in ([fixed] if fixed is not None else [float(s) for s in args.sparsities.split(",")]):
            out += [(method, pattern, sparsity) for method in args.methods.split(",")]
    return out


def convert(kind: str, calib: list, dst: Path, method: str | None, pattern: str, sparsity: float):
    options = {} if method is None else {"prune": sparsity, "prune_method": method, "prune_pattern": pattern}
    return nanort.convert(ppocr_model(kind), dst, input_shapes={"x": list(PPOCR_MODELS[kind][1])}, quantize="int8",
                          calibration=[{"x": x} for x in calib], **options)


def measure(kind: str, args, tmp: Path) -> list[Row]:
    calib = [s[0] for s in samples(kind, range(10_000, 10_000 + args.calib))]
    data = samples(kind, range(args.eval))
    fp = ort.InferenceSession(str(ppocr_model(kind)), providers=["CPUExecutionProvider"])
    r_fp = evaluate(kind, runner(fp), data)
    ref_maps = r_fp.pop("_maps", None)
    fp32_metric = r_fp.get(METRIC[kind], 1.0)
    x = {"x": data[0][0]}
    base_path = tmp / f"{kind}_dense.nrt"
    console.print(f"{kind}: dense int8 ...")
    base_report = convert(kind, calib, base_path, None, "", 0.0)
    rows = []
    with nanort.Model(base_path, isa=args.isa) as base:
        base_metric = evaluate(kind, runner(base), data, ref_maps)[METRIC[kind]]
        base_ms = interleaved({"dense": lambda: base.run(x)}, runs=args.runs)["dense"].median_ms
        rows.append(Row(kind, "-", "-", 0.0, base_path.stat().st_size / 1e6, 1.0, base_metric, fp32_metric, base_ms,
                        1.0, base_report.quantization.seconds))
        for method, pattern, sparsity in settings(args):
            console.print(f"{kind}: {method} {pattern} {sparsity:.0%} ...")
            path = tmp / f"{kind}_{method}_{pattern.replace(':', '-')}_{sparsity}.nrt"
            report = convert(kind, calib, path, method, pattern, sparsity)
            with nanort.Model(path, isa=args.isa) as m:
                metric = evaluate(kind, runner(m), data, ref_maps)[METRIC[kind]]
                t = interleaved({"dense": lambda: base.run(x), "pruned": lambda m=m: m.run(x)}, runs=args.runs)
            rows.append(Row(kind, method, pattern, sparsity, path.stat().st_size / 1e6,
                            path.stat().st_size / base_path.stat().st_size, metric, fp32_metric,
                            t["pruned"].median_ms, t["dense"].median_ms / t["pruned"].median_ms,
                            report.pruning.seconds))
            path.unlink()
    return rows


def magnitude_pruned_onnx(kind: str, dst: Path, sparsity: float = 0.8) -> Path:
    """The model with `sparsity` of every 1x1 conv's weights zeroed in 1x4 blocks (4 consecutive input
    channels of one output channel: the int8 kernels' K blocks) by the blocks' magnitude, as pruning in
    training would leave it."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(ppocr_model(kind)))
    pointwise = {n.input[1] for n in model.graph.node if n.op_type == "Conv"
                 and all(a.name != "group" or a.i == 1 for a in n.attribute)}
    # weights are initializers or (PP-OCR's export) Constant nodes
    tensors = [(t.name, t) for t in model.graph.initializer]
    tensors += [(n.output[0], a.t) for n in model.graph.node if n.op_type == "Constant" for a in n.attribute
                if a.name == "value"]
    for name, tensor in tensors:
        w = numpy_helper.to_array(tensor)
        if name in pointwise and w.ndim == 4 and w.shape[2:] == (1, 1) and w.shape[1] % 4 == 0:
            blocks = w.reshape(w.shape[0], -1, 4).copy()
            norms = np.abs(blocks).sum(axis=2)
            blocks[norms <= np.quantile(norms, sparsity)] = 0
            tensor.CopyFrom(numpy_helper.from_array(blocks.reshape(w.shape), tensor.name))
    onnx.save(model, str(dst))
    return dst


def already_pruned(kind: str, args, tmp: Path) -> list[str]:
    """Table lines: the magnitude-pruned model converted with no flag against the dense int8 one."""
    src = magnitude_pruned_onnx(kind, tmp / f"{kind}_pruned.onnx")
    calib = [{"x": s[0]} for s in samples(kind, range(10_000, 10_000 + args.calib))]
    shape = {"x": list(PPOCR_MODELS[kind][1])}
    dense, pruned = tmp / f"{kind}_dense.nrt", tmp / f"{kind}_pruned.nrt"
    nanort.convert(ppocr_model(kind), dense, input_shapes=shape, quantize="int8", calibration=calib)
    nanort.convert(src, pruned, input_shapes=shape, quantize="int8", calibration=calib)  # no pruning flag
    x = {"x": samples(kind, range(1))[0][0]}
    lines = []
    for isa in ("ref", args.isa):
        with nanort.Model(dense, isa=isa) as d, nanort.Model(pruned, isa=isa) as p:
            t = interleaved({"dense": lambda d=d: d.run(x), "pruned": lambda p=p: p.run(x)}, runs=args.runs)
        lines.append(f"| {kind} | {isa} | {dense.stat().st_size / 1e6:.2f} | {pruned.stat().st_size / 1e6:.2f} | "
                     f"{pruned.stat().st_size / dense.stat().st_size:.2f} | {t['dense'].median_ms:.1f} | "
                     f"{t['pruned'].median_ms:.1f} | {t['dense'].median_ms / t['pruned'].median_ms:.2f}x |")
    return lines


def show(rows: list[Row]) -> None:
    t = Table(title="pruned int8 PP-OCR: file size, latency (1 thread, vs dense int8 interleaved), accuracy vs fp32")
    for col in ("model", "method", "pattern", "sparsity", "MB", "size vs dense", "ms", "speedup", "metric",
                "int8", "fp32", "prune s"):
        t.add_column(col, justify="left" if col in ("model", "method", "pattern", "metric") else "right")
    for r in rows:
        t.add_row(r.model, r.method, r.pattern, f"{r.sparsity:.0%}", f"{r.mb:.2f}", f"{r.size_ratio:.2f}",
                  f"{r.median_ms:.1f}", f"{r.speedup:.2f}x", METRIC[r.model], f"{r.metric:.4f}",
                  f"{r.fp32_metric:.4f}", f"{r.seconds:.0f}")
    console.print(t)


def markdown(rows: list[Row], args) -> str:
    lines = [f"Calibration {args.calib} images, evaluation {args.eval} held-out images, latency median of "
             f"{args.runs} interleaved runs at 1 thread (kernel level: {args.isa}).", "",
             "| model | method | pattern | sparsity | MB | size vs dense int8 | ms | speedup | metric | int8 | fp32 |",
             "|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|"]
    for r in rows:
        lines.append(f"| {r.model} | {r.method} | {r.pattern} | {r.sparsity:.0%} | {r.mb:.2f} | {r.size_ratio:.2f} | "
                     f"{r.median_ms:.1f} | {r.speedup:.2f}x | {METRIC[r.model]} | {r.metric:.4f} | "
                     f"{r.fp32_metric:.4f} |")
    return "\n".join(lines) + "\n"


COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
          "#17becf", "#393b79", "#637939"]


def svg_plot(rows: list[Row], model: str, width: int = 560, height: int = 360) -> str:
    """Accuracy against file size, one line per method and pattern (points: sparsities), dense int8 a star."""
    pts = [r for r in rows if r.model == model]
    xs = [r.mb for r in pts]
    ys = [r.metric for r in pts] + [pts[0].fp32_metric]
    x0, x1 = 0.0, max(xs) * 1.05
    y0, y1 = min(ys) - 0.02, min(1.0, max(ys) + 0.01)
    left, right, top, bottom = 60, 170, 30, 45

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * (width - left - right)

    def py(y: float) -> float:
        return height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
           f'font-size="11"><text x="{left}" y="18" font-size="13">{model}: {METRIC[model]} vs file size (int8)</text>',
           f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="black"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="black"/>',
           f'<text x="{(left + width - right) / 2}" y="{height - 10}" text-anchor="middle">file MB</text>']
    for i in range(5):
        xv, yv = x0 + (x1 - x0) * i / 4, y0 + (y1 - y0) * i / 4
        out.append(f'<text x="{px(xv):.0f}" y="{height - bottom + 14}" text-anchor="middle">{xv:.2f}</text>')
        out.append(f'<text x="{left - 6}" y="{py(yv) + 4:.0f}" text-anchor="end">{yv:.3f}</text>')
    out.append(f'<line x1="{left}" y1="{py(pts[0].fp32_metric):.1f}" x2="{width - right}" '
               f'y2="{py(pts[0].fp32_metric):.1f}" stroke="gray" stroke-dasharray="4 3"/>')
    out.append(f'<text x="{width - right + 4}" y="{py(pts[0].fp32_metric) + 4:.0f}">fp32</text>')
    labels = sorted({r.label for r in pts if r.method != "-"})
    for i, label in enumerate(labels):
        series = sorted((r for r in pts if r.label == label), key=lambda r: r.mb)
        color = COLORS[i % len(COLORS)]
        path = " ".join(f"{px(r.mb):.1f},{py(r.metric):.1f}" for r in series)
        out.append(f'<polyline points="{path}" fill="none" stroke="{color}"/>')
        for r in series:
            out.append(f'<circle cx="{px(r.mb):.1f}" cy="{py(r.metric):.1f}" r="3" fill="{color}">'
                       f'<title>{html.escape(label)} {r.sparsity:.0%}: {r.metric:.4f}, {r.mb:.2f} MB, '
                       f'{r.speedup:.2f}x</title></circle>')
        out.append(f'<rect x="{width - right + 8}" y="{top + 14 * i}" width="10" height="10" fill="{color}"/>'
                   f'<text x="{width - right + 22}" y="{top + 14 * i + 9}">{html.escape(label)}</text>')
    base = pts[0]
    out.append(f'<text x="{px(base.mb):.1f}" y="{py(base.metric) + 5:.1f}" text-anchor="middle" font-size="16">'
               f'*<title>dense int8: {base.metric:.4f}, {base.mb:.2f} MB</title></text>')
    return "\n".join(out + ["</svg>"])


def write_report(path: str, rows: list[Row], args) -> None:
    plots = "".join(svg_plot(rows, m) for m in sorted({r.model for r in rows}))
    table = ["<table><tr>" + "".join(f"<th>{c}</th>" for c in ("model", "method", "pattern", "sparsity", "MB",
                                                                 "size vs dense", "ms", "speedup", "metric",
                                                                 "int8", "fp32")) + "</tr>"]
    for r in rows:
        table.append("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in (
            r.model, r.method, r.pattern, f"{r.sparsity:.0%}", f"{r.mb:.2f}", f"{r.size_ratio:.2f}",
            f"{r.median_ms:.1f}", f"{r.speedup:.2f}x", METRIC[r.model], f"{r.metric:.4f}", f"{r.fp32_metric:.4f}"))
            + "</tr>")
    Path(path).write_text(
        "<!doctype html><meta charset='utf-8'><title>nanort pruning</title><style>body{font-family:sans-serif}"
        "td,th{padding:2px 8px;text-align:right}</style><h1>Pruned int8 PP-OCR</h1>"
        f"<p>{html.escape(markdown(rows, args).splitlines()[0])}</p>{plots}{''.join(table)}</table>")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="det,rec")
    ap.add_argument("--calib", type=int, default=32, help="calibration samples (pruning and int8)")
    ap.add_argument("--eval", type=int, default=50, help="held-out evaluation samples")
    ap.add_argument("--sparsities", default="0.3,0.5,0.7")
    ap.add_argument("--methods", default="magnitude,wanda,sparsegpt")
    ap.add_argument("--patterns", default="unstructured,1x4,2:4,channel")
    ap.add_argument("--runs", type=int, default=15, help="timed runs of each model")
    ap.add_argument("--isa", default="auto", choices=["auto", "ref", "avx2", "avx512", "neon", "dotprod"])
    ap.add_argument("--report", metavar="FILE.html")
    ap.add_argument("--markdown", metavar="FILE.md")
    ap.add_argument("--already-pruned", action="store_true",
                    help="only: 80 %% of the 1x1 convs' weights zeroed in 1x4 blocks in the ONNX model, converted "
                         "with no flag, against the dense int8 model (file size, latency)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nanort-prune-"))
    if args.already_pruned:
        lines = ["| model | level | dense int8 MB | pruned int8 MB | size | dense ms | pruned ms | speedup |",
                 "|---|---|---:|---:|---:|---:|---:|---:|"]
        for kind in args.models.split(","):
            lines += already_pruned(kind, args, tmp)
        console.print("\n".join(lines))
        return
    rows = []
    for kind in args.models.split(","):
        rows += measure(kind, args, tmp)
        show(rows)
    if args.markdown:
        Path(args.markdown).write_text(markdown(rows, args))
    if args.report:
        write_report(args.report, rows, args)


if __name__ == "__main__":
    main()
