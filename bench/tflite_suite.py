"""nanort against TensorFlow Lite (ai-edge-litert, XNNPACK) on the real
.tflite models of the test set: does each convert, how closely it agrees
with TFLite on a real photo, and latency of both, interleaved in one
process at the same thread count.

    python bench/tflite_suite.py [--threads 1] [--runs 20] [--out bench/tflite_results.md]

Precision is what each side runs: the .tflite's own (fp32, fp16 weights
widened to fp32 by nanort, or int8); nanort runs the converted file as is.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from tflite_assets import TEST_MODELS, photo_input  # noqa: E402

import nanort  # noqa: E402
from nanort import peers  # noqa: E402
from nanort.runtime.benchmark import block_for, interleaved  # noqa: E402

COLUMNS = ("model", "precision", "converts", "agreement", "TFLite ms", "nanort ms", "ratio")


def bench_one(name: str, threads: int, runs: int, workdir: Path) -> list[str]:
    getter, value_range = TEST_MODELS[name]
    path = getter()
    precision = peers.tflite_precision(path)
    try:
        nanort.convert(path, workdir / f"{name}.nrt")
    except nanort.Error as e:
        return [name, precision, f"no: {e}", "", "", "", ""]
    from ai_edge_litert.interpreter import Interpreter

    details = Interpreter(model_path=str(path)).get_input_details()
    feeds = {d["name"]: photo_input(d["shape"], d["dtype"], value_range) for d in details}
    tflite = peers.tflite_runner(str(path), threads, feeds)
    with nanort.Model(workdir / f"{name}.nrt", threads=threads) as model:
        agreement = peers.agreement(tflite(), model.run(feeds))
        t = interleaved({"tflite": tflite, "nanort": lambda: model.run(feeds)}, runs=runs, warmup=3,
                        block=block_for(threads))
    return [name, precision, "yes", agreement, f"{t['tflite'].median_ms:.2f}", f"{t['nanort'].median_ms:.2f}",
            f"{t['nanort'].ratio(t['tflite']):.2f}x"]


def markdown(rows: list[list[str]], threads: int, runs: int) -> str:
    lines = [f"# nanort vs TFLite (XNNPACK), {threads} thread(s), median of {runs} interleaved runs", "",
             "ratio = TFLite median / nanort median (> 1: nanort faster); agreement = nanort vs TFLite on "
             "Grace Hopper's portrait (float: max |difference| / output range; int8: elements within 1 step).", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--models", nargs="+", choices=list(TEST_MODELS), default=list(TEST_MODELS))
    ap.add_argument("--out", help="markdown file to write")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="nanort-tflite-") as tmp:
        rows = []
        for name in args.models:
            rows.append(bench_one(name, args.threads, args.runs, Path(tmp)))
            print(" | ".join(rows[-1]), flush=True)
    text = markdown(rows, args.threads, args.runs)
    if args.out:
        Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
