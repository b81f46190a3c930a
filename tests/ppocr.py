"""Real inputs for the PP-OCR models: text rendered with Pillow's built-in
font, preprocessed the way rapidocr does (x / 255 - 0.5) / 0.5 in NCHW, and
CTC decoding of the recognizer's output with the dictionary the model carries
in its metadata."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

LINES = [
    "nanort runs PP-OCR on device",
    "Invoice 2026-11-23 total 4,250.00",
    "The quick brown fox jumps over",
    "ONNX to .nrt in one command",
    "int8 VNNI dotprod NEON AVX-512",
    "Hello world 0123456789",
]


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def render_line(text: str, height: int = 48, seed: int = 0) -> Image.Image:
    """One line of dark text on a light background, cropped to its width."""
    rng = np.random.default_rng(seed)
    font = _font(int(height * 0.7))
    left, top, right, bottom = font.getbbox(text)
    img = Image.new("RGB", (right - left + 16, height), tuple(int(v) for v in rng.integers(215, 256, 3)))
    ImageDraw.Draw(img).text((8 - left, (height - (bottom - top)) // 2 - top), text,
                             fill=tuple(int(v) for v in rng.integers(0, 60, 3)), font=font)
    return img


def render_page(width: int = 640, height: int = 640, seed: int = 0) -> Image.Image:
    """A page with several lines of text at different sizes and places."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (width, height), (245, 244, 240))
    draw = ImageDraw.Draw(img)
    y = 20
    for text in LINES:
        size = int(rng.integers(22, 40))
        draw.text((int(rng.integers(10, 60)), y), text, fill=(20, 20, 30), font=_font(size))
        y += size + int(rng.integers(30, 60))
        if y > height - 50:
            break
    return img


def normalize(img: Image.Image) -> np.ndarray:
    """HWC uint8 RGB -> CHW float32 in [-1, 1] (rapidocr's mean 0.5 / std 0.5)."""
    x = np.asarray(img, np.float32)[:, :, ::-1] / 255.0  # rapidocr reads BGR with OpenCV
    return ((x - 0.5) / 0.5).transpose(2, 0, 1).copy()


def det_input(width: int = 640, height: int = 640, seed: int = 0) -> np.ndarray:
    return normalize(render_page(width, height, seed))[None]


def rec_input(text: str, width: int = 320, height: int = 48, seed: int = 0) -> np.ndarray:
    """Resized to the height keeping aspect, zero-padded on the right to `width`."""
    img = render_line(text, height, seed)
    w = min(width, int(np.ceil(img.width * height / img.height)))
    x = normalize(img.resize((w, height), Image.BILINEAR))
    out = np.zeros((3, height, width), np.float32)
    out[:, :, :w] = x
    return out[None]


def cls_input(text: str, width: int = 192, height: int = 48, seed: int = 0, rotate: bool = False) -> np.ndarray:
    img = render_line(text, height, seed)
    if rotate:
        img = img.rotate(180)
    w = min(width, int(np.ceil(img.width * height / img.height)))
    x = normalize(img.resize((w, height), Image.BILINEAR))
    out = np.zeros((3, height, width), np.float32)
    out[:, :, :w] = x
    return out[None]


def rec_characters(metadata: dict[str, str]) -> list[str]:
    """blank + the model's dictionary + space, as rapidocr builds it."""
    return ["blank"] + metadata["character"].splitlines() + [" "]


def ctc_decode(probs: np.ndarray, characters: list[str]) -> str:
    """Greedy CTC decoding of one [T, C] probability matrix."""
    idx = probs.argmax(-1)
    keep = np.ones_like(idx, bool)
    keep[1:] = idx[1:] != idx[:-1]
    keep &= idx != 0
    return "".join(characters[i] for i in idx[keep])
