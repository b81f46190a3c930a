"""End-to-end accuracy of a quantized graph: each graph output against the
float32 graph's on held-out calibration samples, and the targets it must meet.

Calibration data is split automatically: every HOLDOUT_EVERY-th sample (at
most HOLDOUT_MAX) is held out of the range statistics and used only to judge
the result, so the verdict is not measured on the data the ranges were fitted
to. Each output gets SQNR and cosine against fp32, plus a task-aware
agreement where its kind is recognizable from the fp32 values:

  probabilities  non-negative values summing to 1 along one axis (Softmax):
                 top-1 agreement of that axis' argmax, over every other index
                 (a CTC recognizer's time steps, a detector's anchors...)
                 where fp32 decides: its top two differ by at least TIE_MARGIN
                 (a near-tie flips under any perturbation and decides nothing:
                 PP-OCR rec's blank / character boundaries); the agreement on
                 every row is reported too;
  map            a 4-D map with values in [0, 1] (segmentation, text
                 detection): IoU of the maps thresholded at 0.5;
  values         anything else (boxes, landmarks, embeddings, logits): the
                 cosine, and where the last axis is a short record (at most
                 FIELD_MAX fields: box x, y, w, h, score...) the worst cosine
                 of one field over all records, so a field with small values
                 next to large ones (offsets next to pixel coordinates) counts.

Default targets (DEFAULT_TARGETS) are the task metric's bound per kind;
`--accuracy-target [OUTPUT:]METRIC=VALUE` replaces them."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from nanort.runtime.errors import ConversionError

from .calibration_data import CalibrationSource, Feeds

HOLDOUT_EVERY = 8   # every 8th calibration sample is held out (fewer ranges samples cost accuracy: PP-OCR rec's
HOLDOUT_MAX = 16    # character accuracy fell 1 point holding out every 5th of 32), up to this many
HOLDOUT_MIN_SAMPLES = HOLDOUT_EVERY  # fewer samples: all calibrate, and the verdict is measured on them (said so)
FIELD_MAX = 16
MAP_THRESHOLD = 0.5
TIE_MARGIN = 0.1
METRICS = ("cosine", "sqnr", "top1", "iou")


@dataclass(frozen=True)
class Target:
    metric: str
    value: float
    output: str | None = None  # None: every output whose kind has this metric

    def __str__(self) -> str:
        bound = f"{self.value:g} dB" if self.metric == "sqnr" else (
            f"{self.value:.1%}" if self.metric in ("top1", "iou") else f"{self.value:g}")
        return f"{self.metric} >= {bound}"


# the bound per output kind that kept each model family's task metric in bench/quant_families.py
DEFAULT_TARGETS = {"probabilities": Target("top1", 0.99), "map": Target("iou", 0.97),
                   "values": Target("cosine", 0.99)}
KIND_METRIC = {"probabilities": "top1", "map": "iou", "values": "cosine"}


def parse_target(text: str) -> Target:
    """'[OUTPUT:]METRIC=VALUE' (cosine=0.995, logits:top1=0.98, sqnr=30)."""
    m = re.fullmatch(r"(?:(.+):)?(\w+)=([0-9.eE+-]+)", text.strip())
    if not m or m.group(2) not in METRICS:
        raise ConversionError(f"accuracy target {text!r}: expected [OUTPUT:]METRIC=VALUE with METRIC one of "
                              f"{', '.join(METRICS)} (e.g. cosine=0.995)")
    try:
        value = float(m.group(3))
    except ValueError:
        raise ConversionError(f"accuracy target {text!r}: {m.group(3)!r} is not a number") from None
    if m.group(2) != "sqnr" and not 0 < value <= 1:
        raise ConversionError(f"accuracy target {text!r}: {m.group(2)} is a fraction in (0, 1]")
    return Target(m.group(2), value, m.group(1))


class Subset(CalibrationSource):
    """The samples of a source whose index `keep` accepts, without materializing them."""

    def __init__(self, source: CalibrationSource, keep, count: int, description: str):
        super().__init__(None, count, description)
        self.source, self.keep = source, keep

    def __iter__(self) -> Iterator[Feeds]:
        return (feeds for i, feeds in enumerate(self.source) if self.keep(i))


def split_holdout(data: CalibrationSource) -> tuple[CalibrationSource, list[Feeds], bool]:
    """(calibration samples, held-out samples, whether they are disjoint)."""
    n = len(data)
    if n < HOLDOUT_MIN_SAMPLES:
        return data, list(data), False
    held = set(range(HOLDOUT_EVERY - 1, n, HOLDOUT_EVERY)[:HOLDOUT_MAX])
    calib = Subset(data, lambda i: i not in held, n - len(held),
                   f"{data.description}: {n - len(held)} for ranges, {len(held)} held out")
    return calib, [feeds for i, feeds in enumerate(data) if i in held], True


# ------------------------------------------------------------------ metrics --
def output_kind(ref: np.ndarray) -> tuple[str, int | None]:
    """(kind, probability axis) of an output from its fp32 values (all held-out samples
    stacked on a new axis 0)."""
    if ref.size == 0 or not np.issubdtype(ref.dtype, np.floating):
        return "values", None
    lo, hi = float(ref.min()), float(ref.max())
    if lo >= 0 and hi <= 1 + 1e-6:
        for axis in range(ref.ndim - 1, 0, -1):
            if ref.shape[axis] > 1 and np.allclose(ref.sum(axis=axis), 1.0, atol=2e-3):
                return "probabilities", axis
        spatial = [d for d in ref.shape[1:] if d > 1]
        if ref.ndim == 5 and len(spatial) >= 2:  # (samples, N, C, H, W) or (samples, N, H, W, C)
            return "map", None
    return "values", None


def sqnr_db(ref: np.ndarray, approx: np.ndarray) -> float:
    noise = float(np.sum((ref.astype(np.float64) - approx) ** 2))
    signal = float(np.sum(ref.astype(np.float64) ** 2))
    return math.inf if noise == 0 else 10 * math.log10(max(signal, 1e-30) / noise)


def cosine(ref: np.ndarray, approx: np.ndarray) -> float:
    a, b = ref.astype(np.float64).reshape(-1), approx.astype(np.float64).reshape(-1)
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0 or nb == 0:
        return 1.0 if na == nb else 0.0
    return float(np.dot(a, b) / (na * nb))


def field_cosine(ref: np.ndarray, approx: np.ndarray) -> tuple[float, int | None]:
    """Whole-tensor cosine, or for records of at most FIELD_MAX fields on the last axis the
    worst field's cosine (and which field)."""
    whole = cosine(ref, approx)
    if ref.ndim < 3 or not 1 < ref.shape[-1] <= FIELD_MAX or ref.size // ref.shape[-1] < 2:
        return whole, None
    per = [cosine(ref[..., k], approx[..., k]) for k in range(ref.shape[-1])]
    worst = int(np.argmin(per))
    return min(per[worst], whole), worst


@dataclass
class OutputAccuracy:
    name: str
    kind: str
    sqnr_db: float
    cosine: float
    worst_field: int | None = None
    top1: float | None = None      # on the rows fp32 decides (TIE_MARGIN)
    top1_all: float | None = None  # on every row
    iou: float | None = None
    targets: list[Target] = field(default_factory=list)

    def value(self, metric: str) -> float | None:
        return {"cosine": self.cosine, "sqnr": self.sqnr_db, "top1": self.top1, "iou": self.iou}[metric]

    def misses(self) -> list[Target]:
        return [t for t in self.targets if self.value(t.metric) is None or self.value(t.metric) < t.value]

    def deficit(self) -> float:
        """How far from meeting its targets: the worst error / allowed error (<= 1: met)."""
        worst = 0.0
        for t in self.targets:
            v = self.value(t.metric)
            if v is None:
                continue
            if t.metric == "sqnr":
                err, allowed = 10 ** (-v / 10), 10 ** (-t.value / 10)
            else:
                err, allowed = 1 - v, 1 - t.value
            worst = max(worst, err / max(allowed, 1e-12))
        return worst

    def text(self) -> str:
        parts = [f"SQNR {self.sqnr_db:.1f} dB" if math.isfinite(self.sqnr_db) else "exact",
                 f"cosine {self.cosine:.4f}" + (f" (worst field #{self.worst_field})"
                                                if self.worst_field is not None else "")]
        if self.top1 is not None:
            parts.append(f"top-1 agreement {self.top1:.2%} where fp32 decides ({self.top1_all:.2%} on all)")
        if self.iou is not None:
            parts.append(f"map IoU {self.iou:.2%} at {MAP_THRESHOLD}")
        return ", ".join(parts)


def measure(name: str, ref: np.ndarray, approx: np.ndarray, targets: Sequence[Target]) -> OutputAccuracy:
    """ref / approx: the output on every held-out sample, stacked on axis 0."""
    kind, axis = output_kind(ref)
    cos, worst = field_cosine(ref, approx) if kind == "values" else (cosine(ref, approx), None)
    acc = OutputAccuracy(name, kind, sqnr_db(ref, approx), cos, worst)
    if kind == "probabilities":
        same = ref.argmax(axis=axis) == approx.argmax(axis=axis)
        top2 = np.sort(ref, axis=axis)
        decided = np.take(top2, -1, axis=axis) - np.take(top2, -2, axis=axis) >= TIE_MARGIN
        acc.top1_all = float(np.mean(same))
        acc.top1 = float(np.mean(same[decided])) if decided.any() else 1.0
    if kind == "map":
        a, b = ref > MAP_THRESHOLD, approx > MAP_THRESHOLD
        union = int((a | b).sum())
        acc.iou = float((a & b).sum() / union) if union else 1.0
    mine = [t for t in targets if t.output == name]
    shared = [t for t in targets if t.output is None and acc.value(t.metric) is not None]
    acc.targets = mine or shared or [DEFAULT_TARGETS[kind]]
    return acc


def check_target_outputs(targets: Sequence[Target], outputs: Sequence[str]) -> None:
    for t in targets:
        if t.output is not None and t.output not in outputs:
            raise ConversionError(f"accuracy target {t.output}:{t.metric}: the model has no output {t.output!r} "
                                  f"(outputs: {', '.join(outputs)})")


@dataclass
class Verdict:
    """Each output's agreement with fp32 on the held-out samples."""

    outputs: list[OutputAccuracy]
    samples: int
    held_out: bool  # False: too few samples to hold any out; measured on the calibration samples

    @property
    def met(self) -> bool:
        return all(not o.misses() for o in self.outputs)

    def deficit(self) -> float:
        return max((o.deficit() for o in self.outputs), default=0.0)

    def lines(self) -> list[str]:
        where = (f"{self.samples} held-out samples" if self.held_out
                 else f"{self.samples} calibration samples (too few to hold any out)")
        out = [f"{'meets' if self.met else 'MISSES'} the accuracy target on {where}"]
        for o in self.outputs:
            status = "ok" if not o.misses() else "MISSED"
            out.append(f"{o.name} ({o.kind}): {o.text()}; target {', '.join(map(str, o.targets))}: {status}")
        return out


def run_outputs(model_bytes: bytes, samples: Sequence[Feeds], threads: int = 1) -> dict[str, np.ndarray]:
    """Every graph output on every sample, stacked on a new axis 0."""
    from nanort.runtime.model import Model

    got: dict[str, list[np.ndarray]] = {}
    with Model(model_bytes, threads=threads, check_finite=False) as model:
        for feeds in samples:
            for k, v in model.run(feeds).items():
                got.setdefault(k, []).append(np.asarray(v, np.float32))
    return {k: np.stack(v) for k, v in got.items()}


def verdict(reference: dict[str, np.ndarray], approx: dict[str, np.ndarray], targets: Sequence[Target],
            samples: int, held_out: bool) -> Verdict:
    return Verdict([measure(k, reference[k], approx[k], targets) for k in reference], samples, held_out)
