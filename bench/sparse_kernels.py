"""Sparse weights against dense ones, kernel by kernel: one int8 (or float32)
1x1 Conv / FullyConnected on shapes from real models, its weights pruned in
1x4 blocks (the int8 kernels' K blocks) to 0 / 50 / 75 / 90 %, run dense
(NANORT_SPARSE=dense: expanded at load, the level's dense kernels) and on the
sparse kernels (NANORT_SPARSE=sparse), interleaved in one process at 1
thread, input and output bound in place (Model.bind_input / bind_output:
the runs time the layer, not copies of its input); medians and the speedup
of sparse over dense, per kernel level.
int8 runs the level's qs8_spmm table (kernels/gemm.h: AVX2, AVX-512 VNNI,
NEON and dotprod have their own; the reference level runs the scalar one),
float32 the reference block-CSR kernel; the numbers set the cost model in
ops/sparse_weights.c. Results: bench/sparse_results.md.

    python bench/sparse_kernels.py [--levels ref,avx2,avx512] [--runs 15] [--dtype int8|float32]
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
from rich.console import Console
from rich.table import Table

import nanort
from nanort.converter.ir import Graph, Node, QuantParams
from nanort.converter.serialize import serialize
from nanort.runtime.benchmark import interleaved

console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
RNG = np.random.default_rng(3)
SHAPES = {  # name: (op, input shape (NHWC / [M, K]), output channels)
    "1x1 96->24 @160x160": ("Conv", (1, 160, 160, 96), 24),
    "1x1 256->256 @28x28": ("Conv", (1, 28, 28, 256), 256),
    "FC 1024->1000": ("FullyConnected", (1, 1024), 1000),
}


def graph(op: str, x_shape: tuple[int, ...], cout: int, sparsity: float, dtype: str) -> bytes:
    k = x_shape[-1]
    w = RNG.standard_normal((cout, k // 4, 4))
    w *= RNG.random((cout, k // 4, 1)) >= sparsity
    w_shape = (cout, 1, 1, k) if op == "Conv" else (cout, k)
    y_shape = x_shape[:-1] + (cout,)
    g = Graph()
    attrs = {"kernel_shape": [1, 1], "strides": [1, 1], "dilations": [1, 1], "pads": [0, 0, 0, 0], "group": 1} \
        if op == "Conv" else {}
    if dtype == "float32":
        g.add_tensor("x", np.float32, x_shape)
        g.add_tensor("w", np.float32, w_shape, w.reshape(w_shape).astype(np.float32))
        g.add_tensor("b", np.float32, (cout,), RNG.standard_normal(cout).astype(np.float32))
        g.add_tensor("y", np.float32, y_shape)
    else:
        scale = np.maximum(np.abs(w).reshape(cout, -1).max(axis=1), 1e-3) / 127  # (rows pruned entirely: any)
        g.add_tensor("x", np.int8, x_shape).quant = QuantParams(0.05, 3)
        wt = g.add_tensor("w", np.int8, w_shape, np.rint(w.reshape(cout, -1) / scale[:, None]).astype(np.int8)
                          .reshape(w_shape))
        wt.quant = QuantParams(scale.astype(np.float32), np.zeros(cout, np.int64), 0)
        g.add_tensor("b", np.int32, (cout,), RNG.integers(-1000, 1000, cout).astype(np.int32))
        g.add_tensor("y", np.int8, y_shape).quant = QuantParams(0.05 * np.sqrt(k), -2)
    g.nodes.append(Node(op, ["x", "w", "b"], ["y"], attrs, "layer"))
    g.inputs, g.outputs = ["x"], ["y"]
    return serialize(g)


def model(data: bytes, isa: str, mode: str) -> nanort.Model:
    os.environ["NANORT_SPARSE"] = mode  # read when the model is loaded
    try:
        return nanort.Model(data, isa=isa, check_finite=False)
    finally:
        del os.environ["NANORT_SPARSE"]


def bind(m: nanort.Model, x: np.ndarray) -> np.ndarray:
    """Zero-copy input and output, so that a run times the layer, not copies of its 2.4 MB input."""
    m.bind_input("x", x)
    y = np.empty(m.outputs[0].shape, m.outputs[0].dtype)
    m.bind_output("y", y)
    return y


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--levels", default="avx2,avx512")
    ap.add_argument("--sparsities", default="0,0.5,0.75,0.9")
    ap.add_argument("--dtype", default="int8", choices=["int8", "float32"])
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    t = Table(title=f"{args.dtype} sparse (1x4 blocks) vs dense kernel of the same level, both {args.dtype}, "
                    f"1 thread, median of {args.runs} interleaved runs")
    for col in ("shape", "level", "sparsity", "dense ms", "sparse ms", "sparse speedup", "same output"):
        t.add_column(col, justify="left" if col in ("shape", "level") else "right")
    for name, (op, x_shape, cout) in SHAPES.items():
        x = (RNG.integers(-128, 128, x_shape).astype(np.int8) if args.dtype == "int8"
             else RNG.standard_normal(x_shape).astype(np.float32))
        for isa in args.levels.split(","):
            for sparsity in (float(s) for s in args.sparsities.split(",")):
                data = graph(op, x_shape, cout, sparsity, args.dtype)
                with model(data, isa, "dense") as dense, model(data, isa, "sparse") as sparse:
                    outputs = [bind(m, x) for m in (dense, sparse)]
                    dense.run(), sparse.run()
                    same = np.array_equal(*outputs)
                    r = interleaved({"dense": dense.run, "sparse": sparse.run}, runs=args.runs)
                t.add_row(name, isa, f"{sparsity:.0%}", f"{r['dense'].median_ms:.3f}", f"{r['sparse'].median_ms:.3f}",
                          f"{r['dense'].median_ms / r['sparse'].median_ms:.2f}x", "yes" if same else "no (float)")
    console.print(t)


if __name__ == "__main__":
    main()
