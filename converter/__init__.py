"""nanort.converter: ONNX model -> .nrt file.

    report = nanort.convert("model.onnx", "model.nrt", input_shapes={"x": [1, 3, 640, 640]})
    print(report.summary())
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nanort.runtime.errors import ConversionError

from . import onnx_loader
from .frontend import import_model
from .ir import Graph
from .passes import PassOptions, run_passes
from .serialize import serialize, write_atomic

__all__ = ["ConversionReport", "convert", "convert_graph"]

ProgressFn = Callable[[str, int, int], None]


@dataclass
class ConversionReport:
    source: str
    output: str
    source_bytes: int
    output_bytes: int
    op_histogram: dict[str, int]
    source_op_histogram: dict[str, int]
    parameters: int
    inputs: list[tuple[str, tuple]]
    outputs: list[tuple[str, tuple]]
    float_fallbacks: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [
            f"{self.source} -> {self.output}",
            f"  size: {self.source_bytes / 1e6:.2f} MB -> {self.output_bytes / 1e6:.2f} MB",
            f"  parameters: {self.parameters:,}",
            "  inputs:  " + ", ".join(f"{n}{list(s)}" for n, s in self.inputs),
            "  outputs: " + ", ".join(f"{n}{list(s)}" for n, s in self.outputs),
            "  ops: " + ", ".join(f"{k} x{v}" for k, v in self.op_histogram.items()),
        ]
        if self.float_fallbacks:
            lines.append("  fp32 fallbacks: " + ", ".join(self.float_fallbacks))
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _parameter_count(graph: Graph) -> int:
    """Weights: float and int8 constants (int64 shape constants are not parameters)."""
    return sum(t.data.size for t in graph.tensors.values()
               if t.data is not None and (t.data.dtype.kind == "f" or t.data.dtype == np.int8))


def convert_graph(model, input_shapes: Mapping[str, Sequence[int]] | None = None, nhwc_io: bool = False,
                  progress: ProgressFn | None = None) -> Graph:
    """ONNX ModelProto -> optimized IR graph (no file written)."""
    if input_shapes:
        onnx_loader.set_input_shapes(model, input_shapes)
    model = onnx_loader.simplify(model, (lambda msg: progress(msg, 0, 0)) if progress else None)
    graph = import_model(model, (lambda i, n: progress("importing", i, n)) if progress else None)
    run_passes(graph, PassOptions(nhwc_io=nhwc_io), (lambda msg: progress(msg, 0, 0)) if progress else None)
    return graph


def convert(src: str | os.PathLike, dst: str | os.PathLike | None = None, *,
            input_shapes: Mapping[str, Sequence[int]] | None = None, nhwc_io: bool = False,
            progress: ProgressFn | None = None) -> ConversionReport:
    """Converts an ONNX file to a .nrt file and returns what was done.

    input_shapes fixes dynamic input dimensions (others stay dynamic);
    nhwc_io makes 4-D inputs/outputs of conv nets NHWC instead of the model's
    NCHW. Raises ConversionError (UnsupportedOpError for unsupported ops); on
    error no output file is left behind.
    """
    src = Path(src)
    dst = Path(dst) if dst is not None else src.with_suffix(".nrt")
    model = onnx_loader.load(src)
    source_hist: dict[str, int] = {}
    for n in model.graph.node:
        source_hist[n.op_type] = source_hist.get(n.op_type, 0) + 1
    try:
        graph = convert_graph(model, input_shapes, nhwc_io, progress)
        if progress:
            progress("writing", 0, 0)
        data = serialize(graph, {
            "producer_version": _version(),
            "source_sha256": hashlib.sha256(src.read_bytes()).hexdigest(),
        })
    except ConversionError:
        raise
    except RecursionError as e:
        raise ConversionError(f"model graph too deep to convert: {e}") from None
    write_atomic(dst, data)
    return ConversionReport(
        source=str(src), output=str(dst), source_bytes=src.stat().st_size, output_bytes=len(data),
        op_histogram=graph.op_histogram(), source_op_histogram=source_hist,
        parameters=_parameter_count(graph),
        inputs=[(n, graph.tensors[n].shape) for n in graph.inputs],
        outputs=[(n, graph.tensors[n].shape) for n in graph.outputs],
    )


def _version() -> str:
    from nanort import __version__

    return __version__
