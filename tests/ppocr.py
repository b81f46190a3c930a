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


FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/share/fonts/TTF")
FONT_FILES = ("DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf", "DejaVuSans-Bold.ttf",
              "DejaVuSansCondensed.ttf", "DejaVuSerif-Italic.ttf")


def real_fonts() -> list[str]:
    """TrueType fonts installed on the system (DejaVu), else [] (Pillow's bundled font is used)."""
    import os

    return [os.path.join(d, f) for d in FONT_DIRS for f in FONT_FILES if os.path.exists(os.path.join(d, f))]


def _font_from(fonts: list[str], index: int, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(fonts[index % len(fonts)], size) if fonts else _font(size)


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


# ------------------------------------------------- synthetic labelled data --
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.,:-/()%"


def random_text(rng: np.random.Generator, min_len: int = 4, max_len: int = 18) -> str:
    """Words of random letters/digits separated by single spaces."""
    n = int(rng.integers(min_len, max_len + 1))
    chars = [ALPHABET[i] for i in rng.integers(0, len(ALPHABET), n)]
    for i in range(2, n - 2):
        if rng.random() < 0.15 and chars[i - 1] != " ":
            chars[i] = " "
    return "".join(chars).strip()


def rec_sample(seed: int) -> tuple[np.ndarray, str]:
    rng = np.random.default_rng(seed)
    text = random_text(rng, 4, 14)
    return rec_input(text, seed=seed), text


def cls_sample(seed: int) -> tuple[np.ndarray, int]:
    """A text line, upright (label 0) or rotated 180 degrees (label 1)."""
    rng = np.random.default_rng(seed)
    label = int(rng.integers(0, 2))
    return cls_input(random_text(rng, 6, 16), seed=seed, rotate=bool(label)), label


def det_sample(seed: int, width: int = 640, height: int = 640) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """A page of random text lines and each line's box (left, top, right, bottom)."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (width, height), tuple(int(v) for v in rng.integers(200, 256, 3)))
    draw = ImageDraw.Draw(img)
    boxes = []
    y = int(rng.integers(5, 30))
    while y < height - 40:
        size = int(rng.integers(16, 44))
        font = _font(size)
        text = random_text(rng, 5, 24)
        x0 = int(rng.integers(5, width // 3))
        left, top, right, bottom = draw.textbbox((x0, y), text, font=font)
        draw.text((x0, y), text, fill=tuple(int(v) for v in rng.integers(0, 80, 3)), font=font)
        boxes.append((max(left, 0), max(top, 0), min(right, width), min(bottom, height)))
        y = bottom + int(rng.integers(12, 50))
    return normalize(img)[None], boxes


def det_scores(prob: np.ndarray, boxes: list[tuple[int, int, int, int]], thresh: float = 0.3,
               cover: float = 0.2) -> tuple[float, float]:
    """(line recall, pixel precision) of a DB probability map: a line counts as
    found when `cover` of its box is above `thresh` (DB maps are shrunk text
    kernels); precision is the share of text pixels that fall inside a box."""
    text = prob > thresh
    inside = np.zeros_like(text)
    found = 0
    for left, top, right, bottom in boxes:
        inside[top:bottom, left:right] = True
        region = text[top:bottom, left:right]
        found += region.size > 0 and region.mean() >= cover
    return found / max(len(boxes), 1), float((text & inside).sum() / max(text.sum(), 1))


def edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def char_accuracy(pred: str, truth: str) -> float:
    """1 - normalized edit distance, the usual OCR character accuracy."""
    return 1.0 - edit_distance(pred, truth) / max(len(truth), len(pred), 1)


# --------------------------------------------------- text lines of words --
WORDS = """the of and to in is for on that with as by at from this be are or it was an have not
which you all new more one about can will other has their also any time only may information
page search free home first people price business online contact service order report year
data system world school number please product help customer account total invoice payment
delivery address street city office date amount balance card bank shipping tax receipt station
train ticket platform morning evening window garden kitchen doctor hospital market coffee
water paper letter summer winter north south east west river mountain green yellow orange
purple silver golden quick brown lazy jumps over simple device model network camera screen
battery power energy light sound music video image photo travel hotel airport flight gate
Monday Tuesday Friday January March August October December London Paris Berlin Tokyo Madrid
Total Name Phone Email Room Floor Open Closed Exit Entrance Sale Discount Menu Table Chair""".split()


def word_text(rng: np.random.Generator) -> str:
    """2-4 dictionary words mixed with numbers (amounts, dates, codes), varied case."""
    parts = []
    for _ in range(int(rng.integers(2, 5))):
        r = rng.random()
        if r < 0.18:
            parts.append(f"{int(rng.integers(1, 10_000)):,}.{int(rng.integers(0, 100)):02d}")
        elif r < 0.26:
            y, mo, d = int(rng.integers(1990, 2031)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
            parts.append(f"{y}-{mo:02d}-{d:02d}")
        elif r < 0.32:
            parts.append(str(int(rng.integers(0, 1000))))
        else:
            w = WORDS[int(rng.integers(0, len(WORDS)))]
            parts.append(w.upper() if rng.random() < 0.1 else w.capitalize() if rng.random() < 0.3 else w)
    return " ".join(parts)


def text_line_sample(seed: int, width: int = 320, height: int = 48) -> tuple[np.ndarray, str]:
    """A line of words and numbers in a real TrueType font (DejaVu when installed), rendered at a
    random size (text 18..40 px, so resizing to the model's 48 px blurs or sharpens it), as the
    recognizer's input, with its text."""
    rng = np.random.default_rng(seed)
    text = word_text(rng)
    fonts = real_fonts()
    render_h = int(rng.integers(26, 58))
    font = _font_from(fonts, int(rng.integers(0, 1 << 16)), int(render_h * rng.uniform(0.62, 0.78)))
    left, top, right, bottom = font.getbbox(text)
    pad = int(rng.integers(4, 14))
    img = Image.new("RGB", (right - left + 2 * pad, render_h), tuple(int(v) for v in rng.integers(200, 256, 3)))
    ImageDraw.Draw(img).text((pad - left, (render_h - (bottom - top)) // 2 - top), text,
                             fill=tuple(int(v) for v in rng.integers(0, 70, 3)), font=font)
    w = min(width, int(np.ceil(img.width * height / img.height)))
    x = normalize(img.resize((w, height), Image.BILINEAR))
    out = np.zeros((3, height, width), np.float32)
    out[:, :, :w] = x
    return out[None], text


# ------------------------------------------- onnxruntime's own int8 (peer) --
def ort_int8(src, dst, calib: list[np.ndarray], shape) -> float:
    """onnxruntime's static QDQ quantizer as its docs recommend: pre-process,
    per-channel int8 weights, uint8 activations, MinMax, calibrated on `calib`
    (inputs of the model's input "x"). The PP-OCR models are opset 11/12 and the
    quantizer writes per-channel DequantizeLinear with an axis (opset 13), which
    onnxruntime refuses to load, so the model is upgraded to opset 13 first.
    Returns the seconds quantization took."""
    import time
    from pathlib import Path

    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(calib)

        def get_next(self):
            x = next(self.it, None)
            return None if x is None else {"x": x}

    dst = Path(dst)
    m = onnx.load(str(src))
    for i in m.graph.input:
        for d, v in zip(i.type.tensor_type.shape.dim, shape):
            d.Clear()
            d.dim_value = v
    m = onnx.version_converter.convert_version(m, 13)
    up, pre = dst.with_suffix(".opset13.onnx"), dst.with_suffix(".pre.onnx")
    onnx.save(m, str(up))
    start = time.perf_counter()
    quant_pre_process(str(up), str(pre), skip_symbolic_shape=True)
    quantize_static(str(pre), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8)
    return time.perf_counter() - start
