"""Small models that exercise every kernel family, for comparing kernel
levels (x86 tiers natively, NEON / dotprod under qemu): a conv net with
strides, groups, depthwise and 1x1 convolutions, an MLP, and their int8
versions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import nanort

RNG = np.random.default_rng(7)


def _w(name: str, *shape: int, scale: float = 0.3) -> onnx.TensorProto:
    return numpy_helper.from_array((RNG.standard_normal(shape) * scale).astype(np.float32), name)


def conv_net() -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 19, 23])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    inits = [_w("w1", 16, 3, 3, 3), _w("b1", 16), _w("w2", 16, 1, 3, 3), _w("w3", 24, 16, 1, 1),
             _w("w4", 24, 6, 3, 3), _w("w5", 10, 24, 1, 1), _w("b5", 10)]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], group=16, pads=[1, 1, 1, 1]),
        helper.make_node("HardSwish", ["c2"], ["h2"]),
        helper.make_node("Conv", ["h2", "w3"], ["c3"]),
        helper.make_node("Conv", ["c3", "w4"], ["c4"], group=4, pads=[1, 1, 1, 1], dilations=[1, 1]),
        helper.make_node("Add", ["c3", "c4"], ["a4"]),
        helper.make_node("MaxPool", ["a4"], ["p4"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p4", "w5", "b5"], ["c5"]),
        helper.make_node("GlobalAveragePool", ["c5"], ["g5"]),
        helper.make_node("Flatten", ["g5"], ["f5"]),
        helper.make_node("Softmax", ["f5"], ["y"], axis=1),
    ]
    g = helper.make_graph(nodes, "conv_net", [x], [y], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def mlp() -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 37])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    inits = [_w("w1", 37, 64), _w("b1", 64), _w("w2", 64, 19), _w("b2", 19)]
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["m1"]), helper.make_node("Add", ["m1", "b1"], ["a1"]),
             helper.make_node("Sigmoid", ["a1"], ["s1"]), helper.make_node("MatMul", ["s1", "w2"], ["m2"]),
             helper.make_node("Add", ["m2", "b2"], ["y"])]
    g = helper.make_graph(nodes, "mlp", [x], [y], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def calibration(model: onnx.ModelProto, n: int = 8) -> list[dict[str, np.ndarray]]:
    i = model.graph.input[0]
    shape = [d.dim_value or 5 for d in i.type.tensor_type.shape.dim]
    return [{i.name: RNG.uniform(-2, 2, shape).astype(np.float32)} for _ in range(n)]


def write_all(folder: Path, int8: bool = True) -> list[Path]:
    """Converts every level model (fp32, and int8 where the runtime has it) into `folder`."""
    paths = []
    for name, make in (("conv_net", conv_net), ("mlp", mlp)):
        src = folder / f"{name}.onnx"
        onnx.save(make(), src)
        paths.append(folder / f"{name}.nrt")
        nanort.convert(src, paths[-1])
        if int8:
            paths.append(folder / f"{name}_int8.nrt")
            nanort.convert(src, paths[-1], quantize="int8", calibration=calibration(make()))
    return paths
