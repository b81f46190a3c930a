"""nanort.converter: ONNX or TensorFlow Lite model -> .nrt file.

    report = nanort.convert("model.onnx", "model.nrt", input_shapes={"x": [1, 3, 640, 640]})
    print(report.summary())
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nanort.runtime.errors import ConversionError, UnsupportedOpError

from . import contrib_ops, fp16_weights, function_expansion, onnx_loader, tflite
from .frontend import import_model
from .importers import UnsupportedNodes
from .ir import Graph
from .output_file import check_size, destination, runtime_accepts, write_verified
from .passes import PassOptions, dequantize_lut, io_dtype, run_passes
from .passes import upsample as upsample_pass
from .prune import PruneOutcome, PruneSpec, prune_graph
from .quantize import (
    ImagePreprocess,
    QuantizationOutcome,
    QuantizeSpec,
    Target,
    has_given_params,
    parse_target,
    quantize_graph,
)
from .quantize.calibration_data import from_spec
from .quantize.int4 import quantize_weights_int4
from .serialize import serialize

__all__ = ["ConversionReport", "ConversionWarning", "ImagePreprocess", "QuantizeSpec", "convert", "convert_graph"]

ProgressFn = Callable[[str, int, int], None]


class ConversionWarning(UserWarning):
    """Something the converter repaired in the source model (lenient import)."""


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
    warnings: list[str] = field(default_factory=list)
    quantization: QuantizationOutcome | None = None
    pruning: PruneOutcome | None = None

    def summary(self) -> str:
        lines = [
            f"{self.source} -> {self.output}",
            f"  size: {self.source_bytes / 1e6:.2f} MB -> {self.output_bytes / 1e6:.2f} MB",
            f"  parameters: {self.parameters:,}",
            "  inputs:  " + ", ".join(f"{n}{_shape_text(s)}" for n, s in self.inputs),
            "  outputs: " + ", ".join(f"{n}{_shape_text(s)}" for n, s in self.outputs),
            "  ops: " + ", ".join(f"{k} x{v}" for k, v in self.op_histogram.items()),
        ]
        if self.float_fallbacks:
            lines.append("  fp32 fallbacks: " + ", ".join(self.float_fallbacks))
        if self.pruning is not None:
            lines.append(f"  pruning: {self.pruning.summary_json()}")
        lines += [f"  warning: {w}" for w in self.warnings]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _shape_text(shape) -> str:
    return "[rank unknown]" if shape is None else str(list(shape))


def _parameter_count(graph: Graph) -> int:
    """Weights: float and int8 constants (int64 shape constants are not parameters)."""
    return sum(t.data.size for t in graph.tensors.values()
               if t.data is not None and (t.data.dtype.kind == "f" or t.data.dtype == np.int8))


def convert_graph(model, input_shapes: Mapping[str, Sequence[int]] | None = None, nhwc_io: bool = False,
                  progress: ProgressFn | None = None, fuse_only_clamps: bool = False,
                  input_values: Mapping[str, object] | None = None, strict: bool = False,
                  warn: Callable[[str], None] | None = None) -> Graph:
    """ONNX ModelProto -> optimized float IR graph (no file written)."""
    onnx_loader.check_opset(model)
    onnx_loader.check_op_names(model)
    contrib_ops.rewrite(model)
    if input_shapes:
        onnx_loader.set_input_shapes(model, input_shapes)
    if input_values:
        onnx_loader.freeze_inputs(model, input_values)
    model = function_expansion.expand_functions(model)  # (ops without importer that ONNX defines as functions)
    unknown = UnsupportedNodes(onnx_loader.default_opset(model))
    unknown.add_unknown(model.graph.node)
    try:
        model = onnx_loader.simplify(model, (lambda msg: progress(msg, 0, 0)) if progress else None, strict, warn)
    except ConversionError as e:
        if unknown:  # the real limit, whatever folding tripped over on the way
            raise UnsupportedOpError(f"{unknown.message()}; before import: {e}") from None
        raise
    graph = import_model(model, (lambda i, n: progress("importing", i, n)) if progress else None)
    run_passes(graph, PassOptions(nhwc_io=nhwc_io, fuse_only_clamps=fuse_only_clamps),
               (lambda msg: progress(msg, 0, 0)) if progress else None)
    return graph


WEIGHT_FORMATS = ("fp16", "int4")  # weight-only formats: fp16_weights.py, quantize/int4.py


def convert(src: str | os.PathLike, dst: str | os.PathLike | None = None, *,
            input_shapes: Mapping[str, Sequence[int]] | None = None, nhwc_io: bool = False,
            quantize: str | None = None, calibration=None, calibration_method: str = "mse",
            percentile: float = 99.99, calibration_limit: int | None = None,
            preprocess: ImagePreprocess | None = None, per_channel: bool = True,
            keep_float: Sequence[str] = (), auto_float: int = 0, auto_fallback: bool = True,
            int16_activations: Sequence[str] = (), accuracy_target: Sequence[str | Target] = (),
            fix_accuracy: bool = True,
            bias_correction: bool = False, equalization: bool = False, adaround: bool | None = None,
            slice_scales: bool = True,
            report: str | os.PathLike | None = None, input_dtype: str = "float32", output_dtype: str = "float32",
            prune: float | None = None, prune_method: str = "sparsegpt", prune_pattern: str = "unstructured",
            prune_scope: str = "layer", prune_exclude: Sequence[str] | None = None,
            low_rank: float | int | None = None, weights: str | None = None, int4_group: int = 128,
            int4_method: str = "gptq", force: bool = False,
            threads: int = 1, progress: ProgressFn | None = None,
            input_values: Mapping[str, object] | None = None, strict: bool = False) -> ConversionReport:
    """Converts an ONNX or TensorFlow Lite file to a .nrt file and returns what was done.

    input_shapes fixes dynamic input dimensions (others stay dynamic);
    nhwc_io makes 4-D inputs/outputs of conv nets NHWC instead of the model's
    NCHW. quantize="int8" calibrates on `calibration` (a folder of images with
    `preprocess`, .npy/.npz files, or an iterable of feed dicts; None = random,
    with a warning) using `calibration_method` (minmax, percentile, mse,
    entropy); quantize="dynamic" stores int8 weights and quantizes activations
    per row at run time. keep_float names nodes to keep in fp32; auto_float=N
    keeps the N most error-adding layers in fp32; int16_activations names nodes to
    run with 16-bit activations (Conv / FullyConnected with int8 weights, TFLite's
    16x8; Add / Sub / Mul; elementwise functions; ["*"]: every node with a 16-bit
    form; the accuracy fixer picks them itself where that meets the target); auto_fallback=False turns off
    the automatic fp32 fallbacks (probability tails, mixed-range tensors, layers
    whose measured error collapses, int8 islands too small to pay for their
    Quantize/Dequantize). int8 measures every output against fp32 on
    calibration samples held out of the ranges and, where an output misses its
    target (accuracy_target: "[OUTPUT:]METRIC=VALUE" strings or Targets, the
    defaults per output kind otherwise; see quantize/accuracy.py), fixes the
    most sensitive layers (a better scale, 16-bit activations, then fp32) unless fix_accuracy is
    False; bias_correction folds each int8 layer's mean output error into its
    bias; equalization rescales the channels between consecutive layers so one
    int8 scale fits them all (cross-layer equalization); adaround rounds
    each layer's int8 weights to minimize its output error on calibration
    data (None, the default, lets the accuracy fixer switch it on where the
    target is missed and it helps); slice_scales (on by
    default) gives each part of a concatenation that only graph outputs read
    its own int8 scale; report writes an HTML page leading with that verdict.
    input_dtype / output_dtype "int8" or "uint8" (int8 models) make the float
    inputs / outputs integer codes of their quantization (passes/io_dtype.py),
    e.g. camera bytes straight into the first layer.
    prune / prune_method / prune_pattern / prune_scope / prune_exclude and
    low_rank prune and factorize the float32 weights on the calibration
    samples before quantizing (converter/prune: e.g. prune=0.5,
    prune_method="sparsegpt", prune_pattern="2:4"; low_rank=0.95 keeps 95 % of
    the whitened spectrum, an int caps the rank). Weights full of zeros are
    stored sparse whenever that is smaller, with or without pruning.
    weights="fp16" stores the float weights of Conv / Gemm / MatMul as IEEE
    half (half their bytes; widened to float32 at load, converter/
    fp16_weights.py); a TFLite model's own fp16 weights stay fp16 without it.
    weights="int4" stores the constant weights of FullyConnected / MatMul / Gemm as
    group-wise int4 (int4_group k per fp16 scale: 32, 64 or 128), rounded by GPTQ on
    the calibration samples (int4_method="gptq", the default) or to nearest ("rtn");
    activations stay float32 and are quantized per row at run time.
    input_values freezes inputs of an ONNX model to values (a number, a list or
    an array) and folds what depends on them (an `If` on a sample rate, say).
    Declared shapes or types that contradict shape inference are dropped and
    re-inferred with a warning (`warnings.warn`, and a line in the report)
    unless strict=True.
    The destination is checked first (output_file.destination): never the
    source, a folder means <folder>/<name>.nrt, an existing file that is not
    a .nrt model is replaced only with force=True. The file is written only
    once the runtime's verifier accepts it.
    Raises ConversionError (UnsupportedOpError for unsupported ops, all of a
    model's listed in one error); on error no output file is left behind.
    """
    src = Path(src)
    io_dtype.check_io_dtypes(input_dtype, output_dtype)
    if weights is not None and weights not in WEIGHT_FORMATS:
        raise ConversionError(f"weights={weights!r} is not a weight format; choose one of {', '.join(WEIGHT_FORMATS)}")
    dst = destination(src, dst, force)
    warned: list[str] = []
    if tflite.is_tflite(src):
        if input_values:
            raise ConversionError("input_values (--input-value) applies to ONNX models")
        source = tflite.read(src)
        source_hist, pre_quantized = source.op_histogram(), tflite.is_pre_quantized(source)
        source_fp16 = tflite.has_fp16_weights(source)

        def build(fuse_only_clamps: bool) -> Graph:
            return tflite.convert_graph(source, input_shapes, progress, fuse_only_clamps)
    else:
        model = onnx_loader.load(src)
        source_hist = {}
        for n in model.graph.node:
            source_hist[n.op_type] = source_hist.get(n.op_type, 0) + 1
        contrib_ops.rewrite(model)  # (onnxruntime's com.microsoft ops as standard ones: QLinear* become QDQ)
        source_fp16 = False
        pre_quantized = _has_qdq(model)

        def build(fuse_only_clamps: bool) -> Graph:
            return convert_graph(model, input_shapes, nhwc_io, progress, fuse_only_clamps,
                                 input_values=input_values, strict=strict, warn=warned.append)
    outcome = None
    try:
        if quantize is None and pre_quantized:
            quantize = "int8"  # keep what quantization-aware training learned
        prune_spec = PruneSpec(prune, prune_method, prune_pattern, prune_scope, prune_exclude, low_rank)
        prunes = prune_spec.prunes or low_rank is not None
        _check_quantize_options(quantize, calibration, report, keep_float, auto_float,
                                prunes or weights == "int4", int16_activations)
        graph = build(quantize == "int8")
        for w in warned:
            warnings.warn(w, ConversionWarning, stacklevel=2)
        pruning = None
        if prunes:
            prune_spec.validate()
            calibration = from_spec(calibration, [(n, graph.tensors[n].shape, graph.tensors[n].dtype)
                                                  for n in graph.inputs],
                                    limit=calibration_limit, preprocess=preprocess)  # (int8 reuses them)
            pruning = prune_graph(graph, prune_spec, calibration, progress)
            graph.metadata["nanort.pruning"] = pruning.summary_json()
        int4 = None
        if weights == "int4":
            if quantize:
                raise ValueError("--weights int4 is a float32-activation format: leave out --quantize")
            if calibration is not None and pruning is None:
                calibration = from_spec(calibration, [(n, graph.tensors[n].shape, graph.tensors[n].dtype)
                                                      for n in graph.inputs],
                                        limit=calibration_limit, preprocess=preprocess)
            int4 = quantize_weights_int4(graph, int4_group, int4_method, calibration, progress=progress)
            graph.metadata["nanort.int4"] = int4.table()
        if quantize == "int8" and calibration is None and has_given_params(graph):
            calibration_method = "given"
        info = {"producer_version": _version(), "source_sha256": hashlib.sha256(src.read_bytes()).hexdigest()}
        if quantize:
            observer = "mse" if calibration_method == "given" else calibration_method  # (for any tensor without)
            spec = QuantizeSpec(quantize, calibration, observer, percentile, per_channel,
                                calibration_limit, preprocess, list(keep_float), auto_float,
                                int16=list(int16_activations), auto_fallback=auto_fallback, threads=threads,
                                accuracy_targets=[t if isinstance(t, Target) else parse_target(t)
                                                  for t in accuracy_target],
                                fix_accuracy=fix_accuracy, bias_correction=bias_correction,
                                equalization=equalization, adaround=adaround,
                                # (an integer output hands out one int8 tensor: one scale for the whole)
                                slice_scales=slice_scales and output_dtype == "float32")
            outcome = quantize_graph(graph, spec, progress)
            graph = outcome.graph
            info.update(scheme=f"{quantize}" if quantize == "dynamic" else "int8-static",
                        calibration_method=calibration_method if quantize == "int8" else "",
                        calibration_samples=outcome.samples, float_nodes=outcome.float_nodes_text(),
                        quant_summary=outcome.summary_json())
            if report:
                outcome.write_html(report, f"nanort {quantize} report: {src.name}")
        if weights == "fp16" or source_fp16:  # (the source's own fp16 weights: exactly those values)
            fp16_weights.store_fp16(graph, lossless=weights is None)
        upsample_pass.fuse_upsample(graph)  # on the final graph: int8 parameters are known
        io_dtype.set_io_dtypes(graph, input_dtype, output_dtype)
        dequantize_lut.fuse_dequantize_unary(graph)  # int8 -> float unary: one table at load
        if progress:
            progress("writing", 0, 0)
        data = serialize(graph, info)
    except ConversionError:
        raise
    except ValueError as e:  # bad option values
        raise ConversionError(str(e)) from None
    except RecursionError as e:
        raise ConversionError(f"model graph too deep to convert: {e}") from None
    check_size(data)
    write_verified(dst, data, runtime_accepts)
    return ConversionReport(
        source=str(src), output=str(dst), source_bytes=src.stat().st_size, output_bytes=len(data),
        op_histogram=graph.op_histogram(), source_op_histogram=source_hist,
        parameters=_parameter_count(graph),
        inputs=[(n, graph.tensors[n].shape) for n in graph.inputs],
        outputs=[(n, graph.tensors[n].shape) for n in graph.outputs],
        float_fallbacks=outcome.float_nodes_text() if outcome else [],
        notes=(outcome.result.notes if outcome else []) + ([int4.table()] if int4 else []),
        warnings=warned,
        quantization=outcome,
        pruning=pruning,
    )


def _check_quantize_options(quantize: str | None, calibration, report, keep_float: Sequence[str],
                            auto_float: int, calibrates_weights: bool, int16_activations: Sequence[str] = ()) -> None:
    """Options that would do nothing are refused: calibration needs quantization, pruning or int4
    weights (calibrates_weights), report
    quantization (static int8, or dynamic for its accuracy verdict), keep_float and auto_float static int8."""
    for name, given, modes in (("calibration", calibration is not None and not calibrates_weights, ("int8", "dynamic")),
                               ("report", bool(report), ("int8", "dynamic")),
                               ("keep_float", bool(keep_float), ("int8",)),
                               ("int16_activations", bool(int16_activations), ("int8",)),
                               ("auto_float", bool(auto_float), ("int8",))):
        if given and quantize not in modes:
            raise ConversionError(f"{name} applies to {' or '.join(modes)} quantization only; add quantize='int8' "
                                  "(--quantize int8) or leave it out")


def _has_qdq(model) -> bool:
    """Statically quantized: Q / DQ nodes or QLinear ops. A DequantizeLinear of what
    DynamicQuantizeLinear computed at run time is dynamic quantization; one of a
    constant, or of rows gathered from one (a quantized embedding table), quantizes
    weights only: neither gives activation scales."""
    ops = {"QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul"}
    g = model.graph
    constants = {i.name for i in g.initializer} | {o for n in g.node if n.op_type == "Constant" for o in n.output}
    not_activations = {o for n in g.node if n.op_type == "DynamicQuantizeLinear" for o in n.output} | constants | {
        n.output[0] for n in g.node if n.op_type == "Gather" and n.input[0] in constants}
    return any(n.op_type in ops and not (n.op_type == "DequantizeLinear" and n.input[0] in not_activations)
               for n in g.node)


def _version() -> str:
    from nanort import __version__

    return __version__
