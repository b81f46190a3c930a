"""Calibration samples (feed dicts) from the sources a user has at hand:
a folder of images with preprocessing options, .npy / .npz files (or a folder
of them), a Python iterable of feed dicts, or random data (with a warning)."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nanort.runtime.errors import ConversionError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}

Feeds = dict[str, np.ndarray]


@dataclass
class ImagePreprocess:
    """How images become input tensors: resize to (width, height) (default:
    the model input's static H, W), scale to [0, 1], subtract mean, divide by
    std (per channel, in the given channel order), NCHW or NHWC, batch of 1."""

    size: tuple[int, int] | None = None
    mean: Sequence[float] = (0.0, 0.0, 0.0)
    std: Sequence[float] = (1.0, 1.0, 1.0)
    scale: float = 1.0 / 255.0
    channel_order: str = "rgb"
    layout: str = "nchw"

    def __call__(self, path: Path, model_shape: Sequence) -> np.ndarray:
        try:
            from PIL import Image
        except ModuleNotFoundError:
            raise ConversionError("calibrating on images needs Pillow: pip install 'nanort[images]'") from None
        for what, values in (("mean", self.mean), ("std", self.std)):
            if len(values) not in (1, 3):
                raise ConversionError(f"{what} has {len(values)} values ({', '.join(map(str, values))}); "
                                      "images have 3 channels (RGB): give 3 values, or 1 for all")
        with Image.open(path) as im:
            img = im.convert("RGB")
        size = self.size or self._size_from(model_shape)
        if size is not None:
            img = img.resize(size, Image.BILINEAR)
        x = np.asarray(img, np.float32) * self.scale
        if self.channel_order == "bgr":
            x = x[:, :, ::-1]
        x = (x - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        if self.layout == "nchw":
            x = x.transpose(2, 0, 1)
        return np.ascontiguousarray(x[None], np.float32)

    def _size_from(self, shape: Sequence) -> tuple[int, int] | None:
        if len(shape) != 4:
            return None
        h, w = (shape[2], shape[3]) if self.layout == "nchw" else (shape[1], shape[2])
        return (w, h) if isinstance(w, int) and isinstance(h, int) else None


class CalibrationSource:
    """A re-iterable sequence of feed dicts for a model's inputs."""

    def __init__(self, samples: Iterable[Feeds] | None, count: int, description: str):
        self._samples = samples
        self.count = count
        self.description = description

    def __iter__(self) -> Iterator[Feeds]:
        return iter(self._samples)

    def __len__(self) -> int:
        return self.count


def from_spec(data: str | Path | Iterable[Mapping[str, np.ndarray]] | None,
              inputs: Sequence[tuple[str, tuple, np.dtype]], *, limit: int | None = None,
              preprocess: ImagePreprocess | None = None, seed: int = 0) -> CalibrationSource:
    """Calibration samples from a path, an iterable of feeds, or None (random)."""
    if data is None:
        return _random(inputs, limit or 8, seed)
    if isinstance(data, (str, Path)):
        return _from_path(Path(data), inputs, limit, preprocess or ImagePreprocess())
    samples = []
    for i, feeds in enumerate(data):
        if limit is not None and i >= limit:
            break
        samples.append(_check_feeds(dict(feeds), inputs, f"sample {i}"))
    if not samples:
        raise ConversionError("calibration data is empty")
    return CalibrationSource(samples, len(samples), f"{len(samples)} samples from Python")


def _check_feeds(feeds: dict, inputs: Sequence[tuple[str, tuple, np.dtype]], where: str) -> Feeds:
    names = [n for n, _, _ in inputs]
    missing = [n for n in names if n not in feeds]
    if missing:
        raise ConversionError(f"calibration {where} lacks input {missing[0]!r} (inputs: {', '.join(names)})")
    out = {}
    for name, shape, dtype in inputs:
        arr = np.asarray(feeds[name])
        if arr.ndim != len(shape) or any(isinstance(d, int) and d != g for d, g in zip(shape, arr.shape)):
            raise ConversionError(f"calibration {where}: input {name!r} has shape {arr.shape}, "
                                  f"the model takes {list(shape)}")
        out[name] = np.require(arr.astype(dtype, copy=False), requirements="C")  # keeps rank 0 (ascontiguousarray
        # would make a scalar input 1-D)
    return out


def _from_path(path: Path, inputs, limit: int | None, preprocess: ImagePreprocess) -> CalibrationSource:
    if not path.exists():
        raise ConversionError(f"calibration data {path} does not exist")
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    arrays = [p for p in files if p.suffix.lower() in (".npy", ".npz")]
    if images:
        if len(inputs) != 1:
            raise ConversionError("image calibration data needs a single-input model; use .npz files otherwise")
        name, shape, _ = inputs[0]
        images = images[:limit] if limit else images

        def gen() -> Iterator[Feeds]:
            for p in images:
                yield _check_feeds({name: preprocess(p, shape)}, inputs, p.name)

        return CalibrationSource(_Reiterable(gen), len(images), f"{len(images)} images from {path}")
    if arrays:
        samples: list[Feeds] = []
        for p in arrays:
            samples += _samples_from_array_file(p, inputs)
        samples = samples[:limit] if limit else samples
        if not samples:
            raise ConversionError(f"no samples in {path}")
        return CalibrationSource(samples, len(samples), f"{len(samples)} samples from {path}")
    raise ConversionError(f"{path}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) or .npy/.npz files")


def _samples_from_array_file(p: Path, inputs) -> list[Feeds]:
    """A .npy holds one input's samples stacked on a new axis 0, or on the
    batch axis of a batch-1 model, or one sample; a .npz holds one array per
    input name, stacked likewise (the first input's array decides how)."""
    if p.suffix == ".npy":
        if len(inputs) != 1:
            raise ConversionError(f"{p}: .npy calibration files need a single-input model; use .npz")
        arrays = {inputs[0][0]: np.load(p, allow_pickle=False)}
    else:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    out = []
    name, shape, _ = inputs[0]
    layout = _stacking(arrays[name], shape) if name in arrays else "one"
    n = arrays[name].shape[0] if layout != "one" else 1
    for i in range(n):
        feeds = {k: (v if layout == "one" else v[i] if layout == "new axis" else v[i:i + 1])
                 for k, v in arrays.items()}
        out.append(_check_feeds(feeds, inputs, f"{p.name}[{i}]"))
    return out


def _stacking(arr: np.ndarray, shape: Sequence) -> str:
    """How samples are stacked in an array for an input of `shape`: "new
    axis" (one more dimension), "batch" (a model taking batch 1 given N > 1
    samples on that axis), or "one" (a single sample)."""
    if arr.ndim == len(shape) + 1:
        return "new axis"
    if arr.ndim == len(shape) >= 1 and shape[0] == 1 and arr.shape[0] > 1 and all(
            not isinstance(d, int) or d == g for d, g in zip(shape[1:], arr.shape[1:])):
        return "batch"
    return "one"


def _random(inputs, count: int, seed: int) -> CalibrationSource:
    warnings.warn("calibrating on RANDOM data: int8 ranges will not match real inputs and accuracy will suffer; "
                  "pass real samples (--calibration DIR)", stacklevel=3)
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(count):
        feeds = {}
        for name, shape, dtype in inputs:
            if not all(isinstance(d, int) for d in shape):
                raise ConversionError(f"random calibration needs static input shapes; {name!r} is {list(shape)}")
            feeds[name] = rng.standard_normal(shape).astype(dtype)
        samples.append(feeds)
    return CalibrationSource(samples, count, f"{count} RANDOM samples")


class _Reiterable:
    def __init__(self, factory):
        self.factory = factory

    def __iter__(self):
        return self.factory()
