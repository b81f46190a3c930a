"""Small models that exercise every kernel family, for comparing kernel
levels (x86 tiers natively, NEON / dotprod under qemu): a conv net with
strides, groups, depthwise and 1x1 convolutions, an MLP, and their int8
versions, and shapes_net: many shapes of each kernel family."""

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


def long_k_net() -> onnx.ModelProto:
    """Layers whose K crosses the 16x8 kernels' int32 block (256 products): a FullyConnected
    with K = 600, a 1x1 conv over 300 channels, a 3x3 conv over 40 (K = 360)."""
    inputs = [helper.make_tensor_value_info("f", TensorProto.FLOAT, [3, 600]),
              helper.make_tensor_value_info("c", TensorProto.FLOAT, [1, 300, 5, 7])]
    inits = [_w("wf", 600, 37, scale=0.05), _w("bf", 37), _w("w1", 40, 300, 1, 1, scale=0.06), _w("b1", 40),
             _w("w3", 19, 40, 3, 3, scale=0.05), _w("b3", 19)]
    nodes = [helper.make_node("Gemm", ["f", "wf", "bf"], ["yf"]),
             helper.make_node("Conv", ["c", "w1", "b1"], ["h1"], kernel_shape=[1, 1]),
             helper.make_node("Conv", ["h1", "w3", "b3"], ["y3"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])]
    g = helper.make_graph(nodes, "long_k_net", inputs,
                          [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in ("yf", "y3")], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def int4_net() -> onnx.ModelProto:
    """FullyConnected layers for the int4 kernels: K below, above and not a multiple
    of the group or of 8, N tails of every panel width."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 45])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    inits = [_w("w1", 45, 70), _w("b1", 70), _w("w2", 70, 23), _w("w3", 23, 133), _w("w4", 133, 9)]
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["m1"]), helper.make_node("Add", ["m1", "b1"], ["a1"]),
             helper.make_node("Tanh", ["a1"], ["t1"]), helper.make_node("MatMul", ["t1", "w2"], ["m2"]),
             helper.make_node("MatMul", ["m2", "w3"], ["m3"]), helper.make_node("MatMul", ["m3", "w4"], ["y"])]
    g = helper.make_graph(nodes, "int4_net", [x], [y], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


# Conv shapes for shapes_net: (N, C_in, H, W), C_out, (kh, kw), attrs, activation op (or None).
# Odd sizes, channel counts that are not multiples of any vector width (and
# below 4), padding (wider than the input too), stride 2, dilation, groups,
# depthwise (with a channel multiplier too), 1x1, batch > 1, fused
# activations; every tile tail of the GEMM / depthwise kernels.
SHAPE_CONVS = [
    ((1, 16, 7, 9), 24, (1, 1), {}, None),                                  # 1x1: direct GEMM
    ((2, 33, 5, 3), 40, (1, 1), {}, "Relu"),                                # batch 2, odd channels
    ((1, 100, 3, 11), 17, (1, 1), {}, None),                                # long K, narrow N tail
    ((1, 8, 9, 9), 70, (1, 1), dict(strides=[2, 2]), None),                 # 1x1 stride 2: indirect
    ((1, 3, 17, 15), 16, (3, 3), dict(strides=[2, 2], pads=[1, 1, 1, 1]), "Relu"),  # RGB first layer
    ((2, 5, 9, 11), 7, (3, 3), dict(pads=[1, 1, 1, 1]), "HardSwish"),
    ((1, 9, 13, 12), 33, (3, 3), dict(dilations=[2, 2], pads=[2, 2, 2, 2]), None),
    ((1, 6, 10, 9), 5, (3, 2), dict(strides=[2, 1], pads=[0, 1, 2, 0]), None),  # asymmetric everything
    ((1, 7, 8, 8), 9, (5, 5), dict(auto_pad="SAME_UPPER"), "Sigmoid"),
    ((1, 8, 6, 6), 12, (3, 3), dict(group=2, pads=[1, 1, 1, 1]), None),      # grouped
    ((1, 12, 7, 5), 8, (1, 3), dict(group=4, pads=[0, 1, 0, 1]), "LeakyRelu"),
    ((1, 2, 3, 3), 3, (3, 3), dict(pads=[4, 4, 4, 4]), None),               # padding wider than the input
    ((1, 16, 10, 12), 16, (3, 3), dict(group=16, pads=[1, 1, 1, 1]), "Clip"),  # depthwise
    ((2, 19, 7, 11), 19, (5, 5), dict(group=19, strides=[2, 2], pads=[2, 2, 2, 2]), None),
    ((1, 33, 12, 12), 33, (3, 3), dict(group=33, dilations=[2, 3], pads=[2, 3, 1, 2]), "Tanh"),
    ((1, 3, 5, 6), 3, (3, 3), dict(group=3, pads=[1, 1, 1, 1]), None),      # fewer channels than a vector
    ((1, 8, 1, 1), 8, (3, 3), dict(group=8, pads=[1, 1, 1, 1]), None),      # every tap but one in the padding
    ((1, 13, 9, 20), 13, (3, 3), dict(group=13), "HardSigmoid"),            # long interior runs, no padding
    ((1, 6, 8, 8), 12, (3, 3), dict(group=6, pads=[1, 1, 1, 1]), None),     # channel multiplier 2
]


def _act(kind: str, x: str, y: str) -> list[onnx.NodeProto]:
    if kind == "Clip":
        return [helper.make_node("Clip", [x, "clip_lo", "clip_hi"], [y])]
    attrs = {"LeakyRelu": dict(alpha=0.1), "HardSigmoid": dict(alpha=0.25, beta=0.4)}.get(kind, {})
    return [helper.make_node(kind, [x], [y], **attrs)]


def shapes_net() -> onnx.ModelProto:
    """Independent branches, one per SHAPE_CONVS entry, plus an upsampling
    ConvTranspose, FullyConnected with odd sizes, elementwise ops in every
    broadcast mode and global pooling: each level runs every tail of its
    kernels (and, quantized, of the int8 ones)."""
    inputs, outputs, nodes = [], [], []
    inits = [numpy_helper.from_array(np.array(0.0, np.float32), "clip_lo"),
             numpy_helper.from_array(np.array(1.5, np.float32), "clip_hi")]
    for i, (xs, cout, k, attrs, act) in enumerate(SHAPE_CONVS):
        g = attrs.get("group", 1)
        inputs.append(helper.make_tensor_value_info(f"x{i}", TensorProto.FLOAT, list(xs)))
        inits += [_w(f"w{i}", cout, xs[1] // g, *k, scale=1.0 / np.sqrt(xs[1] // g * k[0] * k[1])),
                  _w(f"b{i}", cout)]
        out = f"c{i}" if act else f"y{i}"
        nodes.append(helper.make_node("Conv", [f"x{i}", f"w{i}", f"b{i}"], [out], kernel_shape=list(k), **attrs))
        if act:
            nodes += _act(act, out, f"y{i}")
        outputs.append(f"y{i}")
    # ConvTranspose, kernel == stride (the upsampling GEMM path)
    inputs.append(helper.make_tensor_value_info("t", TensorProto.FLOAT, [1, 8, 5, 6]))
    inits += [_w("wt", 8, 6, 2, 2, scale=0.35), _w("bt", 6)]
    nodes.append(helper.make_node("ConvTranspose", ["t", "wt", "bt"], ["yt"], kernel_shape=[2, 2], strides=[2, 2]))
    outputs.append("yt")
    # FullyConnected (Gemm) with odd M / N / K, batch of 5 rows
    inputs.append(helper.make_tensor_value_info("f", TensorProto.FLOAT, [5, 45]))
    inits += [_w("wf", 45, 29, scale=0.15), _w("bf", 29)]
    nodes += [helper.make_node("Gemm", ["f", "wf", "bf"], ["gf"]), helper.make_node("Relu", ["gf"], ["yf"])]
    outputs.append("yf")
    # elementwise in every broadcast mode, then global average pooling
    inputs.append(helper.make_tensor_value_info("e", TensorProto.FLOAT, [1, 13, 5, 7]))
    inits += [_w("ec", 13, 1, 1), _w("er", 7), numpy_helper.from_array(np.array(1.5, np.float32), "es")]
    nodes += [helper.make_node("Add", ["e", "ec"], ["e1"]), helper.make_node("Mul", ["e1", "e"], ["e2"]),
              helper.make_node("Sub", ["es", "e2"], ["e3"]), helper.make_node("Max", ["e3", "er"], ["e4"]),
              helper.make_node("Min", ["e4", "es"], ["e5"]), helper.make_node("Div", ["e5", "es"], ["ye"]),
              helper.make_node("GlobalAveragePool", ["e"], ["yg"]),
              # windowed pooling (padding, stride 2) and a Concat of differently scaled inputs (rescale)
              helper.make_node("AveragePool", ["e2"], ["ya"], kernel_shape=[3, 3], strides=[2, 2],
                               pads=[1, 1, 1, 1]),
              helper.make_node("MaxPool", ["e1"], ["ym"], kernel_shape=[3, 2], pads=[1, 0, 1, 1]),
              helper.make_node("Concat", ["e1", "e3", "e"], ["yc"], axis=1)]
    outputs += ["ye", "yg", "ya", "ym", "yc"]
    # MatMul of two activations, batch 2, odd sizes
    inputs += [helper.make_tensor_value_info("p", TensorProto.FLOAT, [2, 5, 13]),
               helper.make_tensor_value_info("q", TensorProto.FLOAT, [2, 13, 11])]
    nodes.append(helper.make_node("MatMul", ["p", "q"], ["yp"]))
    outputs.append("yp")
    g = helper.make_graph(nodes, "shapes_net", inputs,
                          [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def calibration(model: onnx.ModelProto, n: int = 8) -> list[dict[str, np.ndarray]]:
    def sample(i):
        shape = [d.dim_value or 5 for d in i.type.tensor_type.shape.dim]
        return RNG.uniform(-2, 2, shape).astype(np.float32)
    return [{i.name: sample(i) for i in model.graph.input} for _ in range(n)]


def write_all(folder: Path, int8: bool = True) -> list[Path]:
    """Converts every level model (fp32, and int8 and int4 where the runtime has them) into `folder`."""
    paths = []
    for name, make in (("conv_net", conv_net), ("mlp", mlp), ("shapes_net", shapes_net)):
        src = folder / f"{name}.onnx"
        onnx.save(make(), src)
        paths.append(folder / f"{name}.nrt")
        nanort.convert(src, paths[-1])
        if int8:
            paths.append(folder / f"{name}_int8.nrt")
            nanort.convert(src, paths[-1], quantize="int8", calibration=calibration(make()),
                           auto_fallback=False)  # every quantizable op in int8: the kernels under test
    for name, make in (("shapes_net", shapes_net), ("long_k_net", long_k_net)) if int8 else ():
        # every node with 16-bit activations where it has 16-bit kernels (the 16x8 layers, Add / Sub / Mul
        # on int16 operands, int16 tables)
        src = folder / f"{name}.onnx"
        model = make()
        onnx.save(model, src)
        layers = [n.output[0] for n in model.graph.node]
        paths.append(folder / f"{name}_16x8_int8.nrt")
        nanort.convert(src, paths[-1], quantize="int8", calibration=calibration(model), auto_fallback=False,
                       int16_activations=layers)
    if int8:  # group-wise int4 weights (integer sums: compared byte for byte too)
        src = folder / "int4_net.onnx"
        onnx.save(int4_net(), src)
        for group in (32, 128):
            paths.append(folder / f"int4_net_g{group}_int4.nrt")
            nanort.convert(src, paths[-1], weights="int4", int4_group=group, int4_method="rtn")
    return paths


def level_args(paths: list[Path]) -> list[str]:
    """test_levels' arguments: float models, then --exact and the int8 ones
    (compared byte for byte, see tests/c/test_levels.c)."""
    exact = [str(p) for p in paths if p.stem.endswith(("_int8", "_int4"))]
    return [str(p) for p in paths if str(p) not in exact] + (["--exact", *exact] if exact else [])
