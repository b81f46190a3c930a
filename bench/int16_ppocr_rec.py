"""PP-OCR rec with 16-bit activations on every Conv / FullyConnected layer (16x8: int16
activations, int8 weights) beside fp32 and int8: character accuracy on held-out rendered
text lines and latency, timed in one process with interleaved runs (median, min-max).

    python bench/int16_ppocr_rec.py [--calib 32] [--eval 50] [--runs 20] [--isa avx512] [--threads 1]

int8 and 16x8 are converted with --quantize int8 on the same calibration lines and without
the accuracy fixer (fix_accuracy=False), 16x8 naming every Conv / FullyConnected of the
fp32 conversion in int16_activations (--int16 on the command line)."""

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
    paths = {"fp32": tmp / "fp32.nrt", "int8": tmp / "int8.nrt", "16x8": tmp / "16x8.nrt"}
    nanort.convert(src, paths["fp32"], input_shapes={"x": shape})
    with nanort.Model(paths["fp32"]) as m:  # the layers as the converter names them (after its graph passes)
        layers = [op["name"] for op in m.profile() if op["op"] in ("Conv", "FullyConnected")]
    nanort.convert(src, paths["int8"], input_shapes={"x": shape}, quantize="int8", calibration=calib,
                   fix_accuracy=False)
    nanort.convert(src, paths["16x8"], input_shapes={"x": shape}, quantize="int8", calibration=calib,
                   fix_accuracy=False, int16_activations=layers)
    models = {k: nanort.Model(p, isa=args.isa, threads=args.threads) for k, p in paths.items()}
    try:
        acc = {}
        for k, m in models.items():
            preds = [ppocr.ctc_decode(m.run(None, {"x": x})[0][0], chars) for x, _ in data]
            acc[k] = float(np.mean([ppocr.char_accuracy(p, t) for p, (_, t) in zip(preds, data)]))
        feeds = {"x": data[0][0]}
        t = interleaved({k: (lambda m=m: m.run(None, feeds)) for k, m in models.items()}, runs=args.runs)
        level = models["fp32"].isa
    finally:
        for m in models.values():
            m.close()
    table = Table(title=f"PP-OCR rec {shape}, {args.threads} thread(s), level {level}, "
                        f"{len(layers)} Conv / FC layers in 16x8; median (min-max) ms of {args.runs} interleaved runs")
    for col in ("precision", "char accuracy", "latency ms", "vs fp32"):
        table.add_column(col, justify="left" if col == "precision" else "right")
    for k in models:
        table.add_row(k, f"{acc[k]:.4f}", f"{t[k].median_ms:.2f} ({t[k].min_ms:.2f}-{t[k].max_ms:.2f})",
                      f"{t[k].median_ms / t['fp32'].median_ms:.2f}x")
    console.print(table)


if __name__ == "__main__":
    main()
