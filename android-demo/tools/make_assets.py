"""The demo app's assets: PP-OCR det and rec (rapidocr-onnxruntime's PP-OCRv4
models, downloaded from PyPI into ~/.cache/nanort) converted to int8 .nrt
files, calibrated on rendered text, and a sample page with the text it
shows (sample.txt, read by the tests).

    python android-demo/tools/make_assets.py OUT_DIR

det takes uint8 codes (input_dtype="uint8": the app maps camera / bitmap
bytes to them with one 256-entry table) at 640 x 640; rec keeps float32
input and its dynamic width (long lines are read at their own width). The
recognizer's character list stays in the .nrt metadata, where the app reads
it. Outputs are reused while the converter, runtime and this script are
unchanged (a stamp of their sources)."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

import ppocr  # noqa: E402
from assets import ppocr_model  # noqa: E402

import nanort  # noqa: E402

SAMPLE_LINES = ["nanort runs PP-OCR on device", "Invoice 2026-11-23 total 4,250.00", "The quick brown fox jumps over",
                "ONNX to .nrt in one command", "Hello world 0123456789"]
DET_CALIBRATION, REC_CALIBRATION = 8, 16


def _stamp() -> str:
    h = hashlib.sha256()
    for folder in ("converter", "runtime", "schemas"):
        for p in sorted((ROOT / folder).rglob("*.py")):
            h.update(p.read_bytes())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()


def sample_page(path: Path) -> None:
    """Dark lines on a light page, 720 x 540, at several sizes."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (720, 540), (244, 242, 236))
    draw = ImageDraw.Draw(img)
    y = 40
    for i, text in enumerate(SAMPLE_LINES):
        size = (30, 34, 28, 32, 30)[i]
        draw.text((36 + 14 * i, y), text, fill=(24, 24, 36), font=ppocr._font(size))
        y += size + 56
    img.save(path)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    stamp = out.with_name(out.name + ".stamp")  # (beside the folder: aapt packs every file in it)
    if stamp.exists() and stamp.read_text() == _stamp() and all((out / f).exists() for f in ("det.nrt", "rec.nrt")):
        print("   models up to date")
    else:
        det_cal = [{"x": ppocr.det_sample(20_000 + s)[0]} for s in range(DET_CALIBRATION)]
        r = nanort.convert(ppocr_model("det"), out / "det.nrt", input_shapes={"x": [1, 3, 640, 640]},
                           quantize="int8", calibration=det_cal, input_dtype="uint8")
        print(f"   det.nrt: {r.output_bytes / 1e6:.2f} MB (from {r.source_bytes / 1e6:.2f} MB ONNX)")
        rec_cal = [{"x": ppocr.text_line_sample(20_000 + s)[0]} for s in range(REC_CALIBRATION)]
        r = nanort.convert(ppocr_model("rec"), out / "rec.nrt", quantize="int8", calibration=rec_cal)
        print(f"   rec.nrt: {r.output_bytes / 1e6:.2f} MB (from {r.source_bytes / 1e6:.2f} MB ONNX)")
        stamp.write_text(_stamp())
    sample_page(out / "sample.png")
    (out / "sample.txt").write_text("\n".join(SAMPLE_LINES) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
