"""int8 accuracy on the PP-OCR models: fp32 vs nanort int8 vs onnxruntime's
own static int8 quantizer, calibrated on the same rendered-text images and
evaluated on held-out ones (labels known by construction).

    python bench/quant_accuracy.py [--calib 100] [--eval 100] [--method mse] [--without-16x8]

Metrics: rec = character accuracy (1 - normalized edit distance) and exact
lines, on lines of dictionary words and numbers in a real TrueType font at
varied sizes (tests/ppocr.py text_line_sample); cls = orientation accuracy;
det = text-line recall, pixel precision, and IoU of the binarized
probability map with the fp32 model's. Calibration time is wall time with
the processor time in brackets.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import ppocr  # noqa: E402
from assets import PPOCR_MODELS, ppocr_model  # noqa: E402
from ppocr import ort_int8  # noqa: E402

import nanort  # noqa: E402

console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def samples(kind: str, seeds: range) -> list:
    if kind == "det":
        return [ppocr.det_sample(s) for s in seeds]
    if kind == "rec":
        return [ppocr.text_line_sample(s) for s in seeds]  # words and numbers in a real font
    return [ppocr.cls_sample(s) for s in seeds]


def runner(session):
    """x -> first output, for an onnxruntime session or a nanort Model."""
    return lambda x: session.run(None, {"x": x})[0]


def evaluate(kind: str, run, data: list, reference_maps: list | None = None) -> dict:
    if kind == "rec":
        meta = {p.key: p.value for p in onnx.load(str(ppocr_model("rec"))).metadata_props}
        chars = ppocr.rec_characters(meta)
        preds = [ppocr.ctc_decode(run(x)[0], chars) for x, _ in data]
        return {"char acc": np.mean([ppocr.char_accuracy(p, t) for p, (_, t) in zip(preds, data)]),
                "exact lines": np.mean([p == t for p, (_, t) in zip(preds, data)])}
    if kind == "cls":
        return {"accuracy": np.mean([run(x)[0].argmax() == label for x, label in data])}
    maps = [run(x)[0, 0] for x, _ in data]
    scores = np.array([ppocr.det_scores(p, boxes) for p, (_, boxes) in zip(maps, data)])
    out = {"line recall": scores[:, 0].mean(), "pixel precision": scores[:, 1].mean()}
    if reference_maps is not None:
        ious = [((a > 0.3) & (b > 0.3)).sum() / max(((a > 0.3) | (b > 0.3)).sum(), 1)
                for a, b in zip(maps, reference_maps)]
        out["IoU vs fp32"] = float(np.mean(ious))
    out["_maps"] = maps
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calib", type=int, default=100, help="calibration samples per model")
    ap.add_argument("--eval", type=int, default=100, help="held-out evaluation samples per model")
    ap.add_argument("--method", default="mse", choices=["minmax", "percentile", "mse", "entropy"])
    ap.add_argument("--models", default="det,rec,cls")
    ap.add_argument("--without-16x8", action="store_true",
                    help="the accuracy fixer without its 16-bit activation step (to measure what that step gives)")
    args = ap.parse_args()
    if args.without_16x8:
        import nanort.converter.quantize as quantize

        quantize.int16_capable = lambda *_: False
    tmp = Path(tempfile.mkdtemp(prefix="nanort-quant-"))
    table = Table(title=f"int8 accuracy: calibration {args.calib} images, evaluation {args.eval} held-out images")
    for col in ("model", "metric", "fp32 (onnxruntime)", "nanort int8", "onnxruntime int8 QDQ"):
        table.add_column(col, justify="left" if col in ("model", "metric") else "right")
    sizes = Table(title="files and calibration time")
    for col in ("model", "onnx fp32 MB", "nanort int8 MB", "ort int8 MB", "nanort calib s (cpu)", "ort quantize s"):
        sizes.add_column(col, justify="left" if col == "model" else "right")
    for kind in args.models.split(","):
        src = ppocr_model(kind)
        shape = PPOCR_MODELS[kind][1]
        calib = [s[0] for s in samples(kind, range(10_000, 10_000 + args.calib))]
        data = samples(kind, range(args.eval))
        console.print(f"{kind}: quantizing with nanort ({args.method}) ...")
        q_path = tmp / f"{kind}_int8.nrt"
        report = nanort.convert(src, q_path, input_shapes={"x": list(shape)}, quantize="int8",
                                calibration=[{"x": x} for x in calib], calibration_method=args.method)
        console.print(f"{kind}: quantizing with onnxruntime ...")
        ort_path = tmp / f"{kind}_ort_int8.onnx"
        ort_seconds = ort_int8(src, ort_path, calib, shape)
        fp = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"])
        oq = ort.InferenceSession(str(ort_path), providers=["CPUExecutionProvider"])
        with nanort.Model(q_path) as nq:
            r_fp = evaluate(kind, runner(fp), data)
            ref_maps = r_fp.pop("_maps", None)
            r_nq = evaluate(kind, runner(nq), data, ref_maps)
            r_oq = evaluate(kind, runner(oq), data, ref_maps)
        r_nq.pop("_maps", None)
        r_oq.pop("_maps", None)
        for metric in r_nq:
            table.add_row(kind, metric, f"{r_fp.get(metric, 1.0):.4f}", f"{r_nq[metric]:.4f}", f"{r_oq[metric]:.4f}")
        sizes.add_row(kind, f"{src.stat().st_size / 1e6:.2f}", f"{q_path.stat().st_size / 1e6:.2f}",
                      f"{ort_path.stat().st_size / 1e6:.2f}",
                      f"{report.quantization.seconds:.1f} ({report.quantization.cpu_seconds:.1f})",
                      f"{ort_seconds:.1f}")
        if report.float_fallbacks:
            console.print(f"{kind}: kept in fp32: " + "; ".join(report.float_fallbacks))
        console.print(f"{kind}: " + "\n  ".join(report.quantization.verdict_lines()))
    console.print(table)
    console.print(sizes)


if __name__ == "__main__":
    main()
