"""The runtimes with the least Python around them: nanort's run() on
inputs and outputs bound once (zero-copy: bind_input / bind_output) and
no NaN / Inf check of the inputs, against TFLite's Interpreter.invoke (XNNPACK, 1 thread, inputs set once)
on the real .tflite models of the test set, in blocks
of 5 runs interleaved in one process, timed in the thread's CPU time (a
loaded machine's waits for a core do not count). Prints the min and
median block per run and their ratios; agreement and the wrappers'
costs are bench/tflite_suite.py's.

    python bench/tflite_invoke.py [--blocks 10] [--models NAME ...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from tflite_assets import TEST_MODELS, photo_input  # noqa: E402

import nanort  # noqa: E402

BLOCK = 5


def block_ms(run: Callable[[], object]) -> float:
    run()  # (untimed: the other runtime ran last)
    start = time.thread_time_ns()
    for _ in range(BLOCK):
        run()
    return (time.thread_time_ns() - start) / BLOCK / 1e6


def compare(name: str, blocks: int, workdir: Path) -> str:
    from ai_edge_litert.interpreter import Interpreter

    getter, value_range = TEST_MODELS[name]
    path = getter()
    it = Interpreter(model_path=str(path), num_threads=1)
    it.allocate_tensors()
    feeds = {d["name"]: photo_input(d["shape"], d["dtype"], value_range) for d in it.get_input_details()}
    for d in it.get_input_details():
        it.set_tensor(d["index"], feeds[d["name"]])
    nanort.convert(path, workdir / f"{name}.nrt")
    with nanort.Model(workdir / f"{name}.nrt", check_finite=False) as model:  # (TFLite checks nothing either)
        outputs = model.run(feeds)
        for input_name, value in feeds.items():
            model.bind_input(input_name, value)
        for output_name, value in outputs.items():
            model.bind_output(output_name, np.empty_like(value))
        times: dict[str, list[float]] = {"tflite": [], "nanort": []}
        for _ in range(blocks):
            times["tflite"].append(block_ms(it.invoke))
            times["nanort"].append(block_ms(model.run))
    lo = {k: min(v) for k, v in times.items()}
    mid = {k: statistics.median(v) for k, v in times.items()}
    return (f"| {name} | {lo['tflite']:.3f} | {mid['tflite']:.3f} | {lo['nanort']:.3f} | {mid['nanort']:.3f} | "
            f"{lo['tflite'] / lo['nanort']:.2f}x | {mid['tflite'] / mid['nanort']:.2f}x |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--blocks", type=int, default=10)
    ap.add_argument("--models", nargs="+", choices=list(TEST_MODELS), default=list(TEST_MODELS))
    args = ap.parse_args()
    print(f"bound I/O run vs invoke, 1 thread, ms of thread CPU time per run over {args.blocks} blocks of {BLOCK} "
          "(ratio = TFLite / nanort)\n")
    print("| model | TFLite min | TFLite median | nanort min | nanort median | ratio (min) | ratio (median) |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="nanort-invoke-") as tmp:
        for name in args.models:
            print(compare(name, args.blocks, Path(tmp)), flush=True)


if __name__ == "__main__":
    main()
