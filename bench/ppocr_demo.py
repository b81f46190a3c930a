"""The main job: convert the three PP-OCR models (from the rapidocr-onnxruntime
wheel on PyPI) to .nrt, run them on rendered text with nanort and with
onnxruntime, and print their agreement and single-thread latency.

    python bench/ppocr_demo.py [--runs 20] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import ppocr  # noqa: E402
from assets import PPOCR_MODELS, ppocr_model  # noqa: E402

import nanort  # noqa: E402
from nanort.runtime.benchmark import interleaved  # noqa: E402

console = Console(highlight=False, width=None if sys.stdout.isatty() else 140)


def sample_input(kind: str) -> np.ndarray:
    if kind == "det":
        return ppocr.det_input()
    if kind == "rec":
        return ppocr.rec_input("nanort runs PP-OCR on device")
    return ppocr.cls_input("Hello world 0123456789")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=20, help="timed runs per runtime (interleaved)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None, help="folder for the .nrt files (default: a temporary one)")
    args = ap.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="nanort-demo-"))
    out.mkdir(parents=True, exist_ok=True)

    table = Table(title=f"PP-OCR: nanort vs onnxruntime fp32, {args.threads} thread(s), "
                        f"median of {args.runs} interleaved runs")
    for col in ("model", "input", "onnx MB", "nrt MB", "max |err| / range", "onnxruntime ms", "nanort ms",
                "speedup"):
        table.add_column(col, justify="right" if col not in ("model", "input") else "left")
    for kind, (_, shape) in PPOCR_MODELS.items():
        src = ppocr_model(kind)
        dst = out / f"{kind}.nrt"
        console.print(f"converting {src.name} ...")
        nanort.convert(src, dst, input_shapes={"x": list(shape)})
        x = sample_input(kind)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = args.threads
        ref = ort.InferenceSession(str(src), opts, providers=["CPUExecutionProvider"])
        model = nanort.Model(dst, threads=args.threads)
        want = ref.run(None, {"x": x})[0]
        got = model.run(None, {"x": x})[0]
        err = float(np.abs(got - want).max()) / (float(want.max() - want.min()) or 1.0)
        feeds = {"x": x}
        t = interleaved({"ort": lambda r=ref, f=feeds: r.run(None, f),
                         "nanort": lambda m=model, f=feeds: m.run(None, f)}, runs=args.runs)
        table.add_row(kind, "x".join(map(str, shape)), f"{src.stat().st_size / 1e6:.2f}",
                      f"{dst.stat().st_size / 1e6:.2f}", f"{err:.1e}", f"{t['ort'].median_ms:.2f}",
                      f"{t['nanort'].median_ms:.2f}", f"{t['nanort'].ratio(t['ort']):.2f}x")
        if kind == "rec":
            chars = ppocr.rec_characters(model.metadata)  # the .nrt keeps the ONNX model's metadata
            console.print(f"  rec reads: nanort {ppocr.ctc_decode(got[0], chars)!r}, "
                          f"onnxruntime {ppocr.ctc_decode(want[0], chars)!r}")
        model.close()
    console.print(table)
    console.print(f".nrt files in {out}")


if __name__ == "__main__":
    main()
