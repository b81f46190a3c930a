"""TensorFlow Lite import: `nanort.convert("model.tflite")` reads TFLite's
FlatBuffers file and maps it onto the IR, then runs the same passes, layout
and serializer as the ONNX path.

The .nrt keeps the .tflite's interface: input and output tensor names
(what TFLite's Interpreter reports), NHWC shapes and types (a uint8 input
stays uint8), and its signature's key and names in the file's signature.
Float16 weights (DEQUANTIZE of fp16 constants) are read as float32 and
stored as float16 again where they stay exactly those values (converter/
fp16_weights.py); sparse weights are densified on reading and stored sparse
again (with float16 values where they were). A model whose activations are int8 / uint8
converts to nanort's int8 path with the model's own scales and zero points.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from nanort.runtime.errors import ConversionError

from ..ir import Graph
from ..passes import PassOptions, run_passes
from .frontend import has_fp16_weights, import_model, is_pre_quantized
from .reader import Model, is_tflite, read

__all__ = ["Model", "convert_graph", "has_fp16_weights", "import_model", "is_pre_quantized", "is_tflite", "read"]


def convert_graph(model: Model, input_shapes: Mapping[str, Sequence[int]] | None = None,
                  progress: Callable[[str, int, int], None] | None = None,
                  fuse_only_clamps: bool = False) -> Graph:
    """TFLite model -> optimized float IR graph (no file written)."""
    if input_shapes:
        raise ConversionError("input shapes cannot be changed for a .tflite model: it converts at the shapes "
                              "its file gives")
    graph = import_model(model, (lambda i, n: progress("importing", i, n)) if progress else None)
    run_passes(graph, PassOptions(nhwc_io=False, fuse_only_clamps=fuse_only_clamps),
               (lambda msg: progress(msg, 0, 0)) if progress else None)
    return graph
