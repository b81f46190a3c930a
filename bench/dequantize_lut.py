"""PP-OCR det int8 with and without converter/passes/dequantize_lut.py: the per-node time of the
DequantizeLinear -> float unary pairs the pass turns into one int8 -> float32 table lookup.

    python bench/dequantize_lut.py [--runs 25] [--isa avx512vbmi] [--calibration 4]

Converts the model twice (same calibration pages), then runs the two files interleaved in one
process with profiling on and prints, per level, the median milliseconds of the nodes that differ
(the chain's DequantizeLinear + unary op, the fused file's Lut) and whether the outputs are
bit-identical.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

import nanort
from nanort.converter.passes import dequantize_lut
from nanort.runtime.model import cpu_levels

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import ppocr  # noqa: E402
from assets import ppocr_model  # noqa: E402


def convert_both(work: Path, pages: int) -> dict[str, Path]:
    calibration = [{"x": ppocr.det_sample(seed)[0]} for seed in range(1000, 1000 + pages)]
    kw = dict(input_shapes={"x": [1, 3, 640, 640]}, quantize="int8", calibration=calibration, force=True)
    paths = {"fused": work / "det-int8-fused.nrt", "chain": work / "det-int8-chain.nrt"}
    nanort.convert(ppocr_model("det"), paths["fused"], **kw)
    fuse = dequantize_lut.fuse_dequantize_unary
    dequantize_lut.fuse_dequantize_unary = lambda graph: None
    try:
        nanort.convert(ppocr_model("det"), paths["chain"], **kw)
    finally:
        dequantize_lut.fuse_dequantize_unary = fuse
    return paths


def ran(model: nanort.Model) -> dict[str, tuple[str, float]]:
    return {p["name"]: (p["op"], p["ms"]) for p in model.profile() if p["calls"]}


def measure(paths: dict[str, Path], isa: str, runs: int) -> str:
    x = ppocr.det_input()
    models = {k: nanort.Model(p, isa=isa) for k, p in paths.items()}
    times: dict[str, list[float]] = {k: [] for k in models}
    outs = {}
    for _ in range(runs):
        profiles = {}
        for k, m in models.items():
            m.set_profiling(True)
            outs[k] = m.run(None, {"x": x})[0]
            profiles[k] = ran(m)
        luts = {n for n, (op, _) in profiles["fused"].items()
                if op == "Lut" and profiles["chain"].get(n, ("Lut",))[0] in dequantize_lut.FLOAT_UNARY}
        dequantize = set(profiles["chain"]) - set(profiles["fused"])
        times["chain"].append(sum(profiles["chain"][n][1] for n in luts | dequantize))
        times["fused"].append(sum(profiles["fused"][n][1] for n in luts))
    for m in models.values():
        m.close()
    chain, fused = np.median(times["chain"]), np.median(times["fused"])
    same = np.array_equal(outs["chain"].view(np.uint32), outs["fused"].view(np.uint32))
    return (f"{isa:>11}: {len(luts)} pair(s); chain (DequantizeLinear + unary) {chain:.3f} ms, "
            f"fused (Lut) {fused:.3f} ms, {chain / fused:.2f}x; outputs bit-identical: {same}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=25)
    ap.add_argument("--isa", action="append", help="kernel level (repeatable; default: every level here)")
    ap.add_argument("--calibration", type=int, default=4, help="calibration pages")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = convert_both(Path(tmp), args.calibration)
        print(f"PP-OCR det int8 1x3x640x640, 1 thread, medians of {args.runs} interleaved runs")
        for isa in args.isa or cpu_levels():
            print(measure(paths, isa, args.runs))


if __name__ == "__main__":
    main()
