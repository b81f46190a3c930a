"""PP-OCR rec in int8 with and without the accuracy fixer, and with 16-bit activations
everywhere they have kernels, beside fp32: character accuracy on held-out rendered text lines
and latency, timed in one process with interleaved runs (median, min-max).

    python bench/int16_ppocr_rec.py [--calib 32] [--eval 50] [--runs 20] [--isa avx512] [--threads 1]

Every quantized column is converted with --quantize int8 on the same calibration lines:
  int8            no accuracy fixer (fix_accuracy=False);
  int8+fixer      the default (the fixer meets the target by itself), its 16-bit step
                  able to move Conv / FullyConnected and the elementwise ops (Add / Sub / Mul,
                  elementwise functions as int16 tables) to 16 bits;
  fixer, 16x8 layers only   the same with the 16-bit step limited to Conv / FullyConnected
                  (what the fixer could do before the 16-bit elementwise ops);
  16x8 layers     no fixer, int16_activations naming every Conv / FullyConnected of the fp32
                  conversion;
  16-bit all      no fixer, int16_activations=["*"]: every node with a 16-bit form (the
                  elementwise ops and functions too).
The fixer's steps are printed under the table."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import ppocr  # noqa: E402
from assets import PPOCR_MODELS, ppocr_model  # noqa: E402

import nanort  # noqa: E402
import nanort.converter.quantize as quantize  # noqa: E402
from nanort.runtime.benchmark import interleaved  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calib", type=int, default=32, help="calibration lines")
    ap.add_argument("--eval", type=int, default=50, help="held-out lines for the character accuracy")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--isa", default="auto", help="kernel level (default: the best this CPU has)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    src = ppocr_model("rec")
    shape = list(PPOCR_MODELS["rec"][1])
    model = onnx.load(str(src))
    chars = ppocr.rec_characters({p.key: p.value for p in model.metadata_props})
    calib = [{"x": ppocr.text_line_sample(s)[0]} for s in range(10_000, 10_000 + args.calib)]
    data = [ppocr.text_line_sample(s) for s in range(args.eval)]
    tmp = Path(tempfile.mkdtemp(prefix="nanort-16x8-rec-"))
    columns = ("fp32", "int8", "int8+fixer", "fixer, 16x8 layers only", "16x8 layers", "16-bit all")
    paths = {k: tmp / f"{i}.nrt" for i, k in enumerate(columns)}
    nanort.convert(src, paths["fp32"], input_shapes={"x": shape})
    with nanort.Model(paths["fp32"]) as m:  # the nodes as the converter names them (after its graph passes)
        nodes = [(op["name"], op["op"]) for op in m.profile()]
    layers = [n for n, op in nodes if op in ("Conv", "FullyConnected")]
    elementwise = [n for n, op in nodes if op in ("Add", "Sub", "Mul")]

    def int8(key: str, **kw):
        return nanort.convert(src, paths[key], input_shapes={"x": shape}, quantize="int8", calibration=calib, **kw)
    steps = {}
    int8("int8", fix_accuracy=False)
    steps["int8+fixer"] = int8("int8+fixer").quantization
    capable = quantize.int16_capable
    quantize.int16_capable = lambda g, n, st: n.op in ("Conv", "FullyConnected") and capable(g, n, st)
    try:
        steps["fixer, 16x8 layers only"] = int8("fixer, 16x8 layers only").quantization
    finally:
        quantize.int16_capable = capable
    int8("16x8 layers", fix_accuracy=False, int16_activations=layers)
    int8("16-bit all", fix_accuracy=False, int16_activations=["*"])
    models = {k: nanort.Model(p, isa=args.isa, threads=args.threads) for k, p in paths.items()}
    try:
        acc, preds = {}, {}
        for k, m in models.items():
            preds[k] = [ppocr.ctc_decode(m.run(None, {"x": x})[0][0], chars) for x, _ in data]
            acc[k] = float(np.mean([ppocr.char_accuracy(p, t) for p, (_, t) in zip(preds[k], data)]))
        agree = {k: float(np.mean([ppocr.char_accuracy(p, f) for p, f in zip(preds[k], preds["fp32"])]))
                 for k in models}  # fp32's own text as the truth: the quantization's loss alone
        feeds = {"x": data[0][0]}
        t = interleaved({k: (lambda m=m: m.run(None, feeds)) for k, m in models.items()}, runs=args.runs)
        level = models["fp32"].isa
    finally:
        for m in models.values():
            m.close()
    table = Table(title=f"PP-OCR rec {shape}, {args.threads} thread(s), level {level}, {len(layers)} Conv / FC, "
                        f"{len(elementwise)} Add / Sub / Mul; median (min-max) ms of {args.runs} interleaved runs")
    for col in ("precision", "char accuracy", "vs fp32 (points)", "vs fp32's text", "latency ms", "vs fp32",
                "vs int8"):
        table.add_column(col, justify="left" if col == "precision" else "right")
    for k in models:
        table.add_row(k, f"{acc[k]:.4f}", f"{100 * (acc[k] - acc['fp32']):+.2f}", f"{agree[k]:.4f}",
                      f"{t[k].median_ms:.2f} ({t[k].min_ms:.2f}-{t[k].max_ms:.2f})",
                      f"{t[k].median_ms / t['fp32'].median_ms:.2f}x", f"{t[k].median_ms / t['int8'].median_ms:.2f}x")
    console.print(table)
    for k, q in steps.items():
        console.print(f"{k}: " + " | ".join(q.verdict_lines()))


if __name__ == "__main__":
    main()
