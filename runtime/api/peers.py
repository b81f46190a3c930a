"""The runtimes `nanort bench --vs` compares against, behind one interface:
onnxruntime for an .onnx model, TensorFlow Lite (ai-edge-litert's
Interpreter, XNNPACK on) for a .tflite one. Each says which precision it
runs, and `agreement` measures how close two runtimes' outputs are, so a
speed ratio is never shown without the correctness beside it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

import nanort
from nanort.runtime import nrt_file

Runner = Callable[[], dict[str, np.ndarray]]


DYNAMIC = "int8 weights, fp32 activations"


def nanort_precision(model_path: str | Path) -> str:
    f = nrt_file.read(model_path)
    fp16 = any(t.dtype == "float16" and t.constant_bytes for t in f.tensors)
    int8 = any(t.dtype == "int8" and t.constant_bytes for t in f.tensors)  # (onnxruntime's dynamic int8, converted)
    return {"int8-static": "int8", "dynamic": DYNAMIC}.get(
        f.quant_scheme, "fp32 (fp16 weights)" if fp16 else DYNAMIC if int8 else "fp32")


def onnx_precision(onnx_path: str | Path) -> str:
    import onnx

    ops = {n.op_type for n in onnx.load(str(onnx_path), load_external_data=False).graph.node}
    if ops & {"DynamicQuantizeLinear", "DynamicQuantizeLSTM", "DynamicQuantizeMatMul", "MatMulIntegerToFloat"}:
        return DYNAMIC  # (quantize_dynamic's output)
    return "int8 (QDQ)" if ops & {"QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul"} else "fp32"


def tflite_precision(tflite_path: str | Path) -> str:
    from nanort.converter import tflite

    model = tflite.read(tflite_path)
    if tflite.is_pre_quantized(model):
        return "int8"
    fp16 = any(t.is_const and t.type_name == "FLOAT16" for t in model.tensors)
    return "fp32 (fp16 weights)" if fp16 else "fp32"


def onnxruntime_runner(onnx_path: str, threads: int, feeds: dict[str, np.ndarray]) -> Runner:
    try:
        import onnxruntime as ort
    except ImportError:
        raise nanort.InvalidArgumentError("--vs MODEL.onnx needs onnxruntime (pip install onnxruntime)") from None
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(onnx_path, opts, providers=["CPUExecutionProvider"])
    missing = {i.name for i in sess.get_inputs()} - set(feeds)
    if missing:
        raise nanort.InvalidArgumentError(f"the ONNX model's inputs {sorted(missing)} are not the .nrt model's")
    names = [o.name for o in sess.get_outputs()]
    return lambda: dict(zip(names, sess.run(None, feeds)))


def tflite_runner(tflite_path: str, threads: int, feeds: dict[str, np.ndarray]) -> Runner:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise nanort.InvalidArgumentError("--vs MODEL.tflite needs ai-edge-litert (pip install ai-edge-litert)") \
            from None
    try:
        it = Interpreter(model_path=tflite_path, num_threads=threads)
        it.allocate_tensors()
    except (ValueError, RuntimeError) as e:
        raise nanort.InvalidArgumentError(f"TFLite cannot load {tflite_path}: {str(e).splitlines()[0]}") from None
    inputs = it.get_input_details()
    missing = {d["name"] for d in inputs} - set(feeds)
    if missing:
        raise nanort.InvalidArgumentError(f"the TFLite model's inputs {sorted(missing)} are not the .nrt model's")
    outputs = it.get_output_details()

    def run() -> dict[str, np.ndarray]:
        for d in inputs:
            it.set_tensor(d["index"], feeds[d["name"]])
        it.invoke()
        return {d["name"]: it.get_tensor(d["index"]) for d in outputs}
    return run


def peer_for(path: str) -> tuple[str, Callable[[str, int, dict], Runner], Callable[[str], str]]:
    """(display name, runner factory, precision) of the runtime that runs `path`."""
    from nanort.converter import tflite

    if tflite.is_tflite(path):
        return "tflite (xnnpack)", tflite_runner, tflite_precision
    return "onnxruntime", onnxruntime_runner, onnx_precision


def agreement(reference: dict[str, np.ndarray], result: dict[str, np.ndarray]) -> str:
    """The worst output's agreement: float outputs as max |difference| over the output's range,
    integer (quantized) ones as the share of elements within 1 step."""
    worst_float, worst_int, compared = 0.0, 1.0, 0
    for name, ref in reference.items():
        got = result.get(name)
        if got is None or got.shape != ref.shape:
            return f"output {name!r} missing or of another shape"
        compared += 1
        if ref.dtype.kind == "f":
            span = max(float(np.ptp(ref)), float(np.abs(ref).max()), 1e-12) if ref.size else 1.0
            worst_float = max(worst_float, float(np.abs(ref.astype(np.float64) - got).max(initial=0)) / span)
        else:
            within = np.abs(ref.astype(np.int64) - got.astype(np.int64)) <= 1
            worst_int = min(worst_int, float(within.mean()) if within.size else 1.0)
    if not compared:
        return "no common outputs"
    parts = []
    if any(r.dtype.kind == "f" for r in reference.values()):
        parts.append(f"max err {worst_float:.1e} of range")
    if any(r.dtype.kind != "f" for r in reference.values()):
        parts.append(f"{worst_int:.1%} within 1 step")
    return ", ".join(parts)
