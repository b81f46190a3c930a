"""What 16-bit activations cost: one layer as fp32, int8 and 16x8 (int16 activations, int8
weights) on each kernel level of this CPU, timed in one process with interleaved runs
(median, min, max), with the 16x8 layer's agreement with fp32 next to int8's.

    python bench/int16_layers.py [--runs 30] [--isa avx512,avx2,ref] [--layer depthwise]

Layers (NCHW ONNX, converted with --quantize int8 on random calibration data): a 1x1 conv
(the GEMM read in place), a 3x3 conv (indirect GEMM), 3x3 and 5x5 depthwise convs (the
depthwise tables, kernels/dwconv.h) and a FullyConnected. The 16x8 column
includes its Quantize / Dequantize steps (its neighbours are float here)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from rich.console import Console
from rich.table import Table

import nanort
from nanort.runtime.benchmark import interleaved
from nanort.runtime.model import cpu_levels

LAYERS = {  # name: (input shape, weight shape, conv attributes or None for Gemm)
    "conv 1x1 64->128 @ 40x80": ((1, 64, 40, 80), (128, 64, 1, 1), {}),
    "conv 3x3 64->64 @ 40x80": ((1, 64, 40, 80), (64, 64, 3, 3), {"pads": [1, 1, 1, 1]}),
    "depthwise 3x3 128 @ 40x80": ((1, 128, 40, 80), (128, 1, 3, 3), {"pads": [1, 1, 1, 1], "group": 128}),
    "depthwise 5x5 s2 240 @ 24x80": ((1, 240, 24, 80), (240, 1, 5, 5),
                                     {"pads": [2, 2, 2, 2], "strides": [2, 2], "group": 240}),
    "fully connected 80x480->120": ((80, 480), (480, 120), None),
}


def layer_model(x_shape, w_shape, attrs) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    w = rng.normal(0, 1 / np.sqrt(np.prod(w_shape[1:]) if attrs is not None else w_shape[0]), w_shape)
    n_out = w_shape[0] if attrs is not None else w_shape[1]
    inits = [numpy_helper.from_array(w.astype(np.float32), "w"),
             numpy_helper.from_array(rng.normal(0, 0.1, n_out).astype(np.float32), "b")]
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], **attrs) if attrs is not None else \
        helper.make_node("Gemm", ["x", "w", "b"], ["y"])
    g = helper.make_graph([node], "layer", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--isa", default=",".join(reversed(cpu_levels())), help="kernel levels to time")
    ap.add_argument("--layer", default="", help="only the layers whose name contains this")
    args = ap.parse_args()
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 180)
    tmp = Path(tempfile.mkdtemp(prefix="nanort-16x8-"))
    table = Table(title=f"one layer, 1 thread, median (min-max) ms of {args.runs} interleaved runs")
    for col in ("layer", "level", "fp32", "int8", "16x8", "16x8 / int8", "max |err| / range: int8", "16x8"):
        table.add_column(col, justify="left" if col in ("layer", "level") else "right")
    rng = np.random.default_rng(1)
    for name, (x_shape, w_shape, attrs) in LAYERS.items():
        if args.layer not in name:
            continue
        src = tmp / "layer.onnx"
        onnx.save(layer_model(x_shape, w_shape, attrs), src)
        calib = [{"x": rng.normal(0, 1, x_shape).astype(np.float32)} for _ in range(8)]
        paths = {"fp32": tmp / "fp32.nrt", "int8": tmp / "int8.nrt", "16x8": tmp / "16x8.nrt"}
        nanort.convert(src, paths["fp32"])
        # int8: auto_fallback=False, as a lone layer is otherwise kept in fp32 (too small to pay for its
        # Quantize); 16x8 with it, as without it the float input and output get int8 glue too
        nanort.convert(src, paths["int8"], quantize="int8", calibration=calib, fix_accuracy=False,
                       auto_fallback=False)
        nanort.convert(src, paths["16x8"], quantize="int8", calibration=calib, fix_accuracy=False,
                       int16_activations=["y"])
        feeds = calib[0]
        for isa in args.isa.split(","):
            models = {k: nanort.Model(p, isa=isa) for k, p in paths.items()}
            try:
                outs = {k: m.run(feeds)["y"] for k, m in models.items()}
                span = float(outs["fp32"].max() - outs["fp32"].min())
                err = {k: float(np.abs(outs[k] - outs["fp32"]).max()) / span for k in ("int8", "16x8")}
                t = interleaved({k: (lambda m=m, f=feeds: m.run(f)) for k, m in models.items()}, runs=args.runs)
            finally:
                for m in models.values():
                    m.close()
            cell = {k: f"{v.median_ms:.3f} ({v.min_ms:.3f}-{v.max_ms:.3f})" for k, v in t.items()}
            table.add_row(name, isa, cell["fp32"], cell["int8"], cell["16x8"],
                          f"{t['16x8'].median_ms / t['int8'].median_ms:.2f}x", f"{err['int8']:.2e}",
                          f"{err['16x8']:.2e}")
    console.print(table)


if __name__ == "__main__":
    main()
