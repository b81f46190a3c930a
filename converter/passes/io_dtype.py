"""Integer model inputs and outputs (convert's input_dtype / output_dtype).

An int8 model quantizes each float input once (QuantizeLinear) and
dequantizes each output at the end. With input_dtype "int8" the caller
passes those int8 codes directly (the input carries the scale and zero
point); with "uint8" it passes uint8 codes (zero point + 128: camera frames
and other byte data), which a Lut shifts to the int8 codes inside. Outputs
likewise: "int8" hands out the last int8 tensor, "uint8" its codes + 128.
The arithmetic is unchanged: an integer input q gives the results of the
float input scale * (q - zero_point), bit for bit.
"""

from __future__ import annotations

import numpy as np

from nanort.runtime.errors import ConversionError

from ..ir import Graph, Node, QuantParams

IO_DTYPES = ("float32", "int8", "uint8")

# index = the input byte as the Lut reads it (int8 code + 128, or uint8 value)
_UINT8_TO_INT8 = (np.arange(256) - 128).astype(np.int8)   # u -> u - 128
_INT8_TO_UINT8 = np.arange(256).astype(np.uint8)          # c (at index c + 128) -> c + 128


def check_io_dtypes(input_dtype: str, output_dtype: str) -> None:
    for what, dtype in (("input_dtype", input_dtype), ("output_dtype", output_dtype)):
        if dtype not in IO_DTYPES:
            raise ConversionError(f"{what} must be one of {', '.join(IO_DTYPES)}, got {dtype!r}")


def set_io_dtypes(graph: Graph, input_dtype: str = "float32", output_dtype: str = "float32") -> None:
    check_io_dtypes(input_dtype, output_dtype)
    if input_dtype != "float32":
        for name in graph.inputs:
            if graph.tensors[name].dtype == np.float32:
                _integer_input(graph, name, np.dtype(input_dtype))
    if output_dtype != "float32":
        for k, name in enumerate(graph.outputs):
            if graph.tensors[name].dtype == np.float32:
                _integer_output(graph, k, name, np.dtype(output_dtype))
    graph.remove_unused()


def _per_tensor(graph: Graph, name: str) -> QuantParams | None:
    t = graph.tensors.get(name)
    if t is None or t.dtype != np.int8 or t.quant is None or t.quant.scale.size != 1:
        return None
    return t.quant


def _integer_input(graph: Graph, name: str, dtype: np.dtype) -> None:
    readers = graph.consumers().get(name, [])
    quantizers = [n for n in readers if n.op == "QuantizeLinear" and len(n.inputs) == 1
                  and _per_tensor(graph, n.outputs[0]) is not None]
    others = [n for n in readers if n not in quantizers]
    if not readers or others or len(quantizers) != 1:
        why = (f"{others[0].op} node {others[0].name!r} reads it in float32" if others
               else "no int8 layer reads it" if not quantizers else "it is quantized more than once")
        raise ConversionError(f"input {name!r} cannot be {dtype}: {why}; an integer input needs --quantize int8 "
                              f"and an int8 first layer (or keep this input float32)")
    node = quantizers[0]
    q = node.outputs[0]
    params = graph.tensors[q].quant
    x = graph.tensors[name]
    x.dtype = dtype
    if dtype == np.int8:
        x.quant = QuantParams(params.scale.copy(), params.zero_point.copy())
        graph.nodes.remove(node)
        graph.replace_input(q, name)
        return
    x.quant = QuantParams(params.scale.copy(), params.zero_point + 128)
    table = graph.add_const(_UINT8_TO_INT8, f"{name}_to_int8")
    graph.nodes[graph.nodes.index(node)] = Node("Lut", [name, table], [q], {}, f"{name}/to_int8")


def _integer_output(graph: Graph, k: int, name: str, dtype: np.dtype) -> None:
    producer = graph.producers().get(name)
    if producer is None or producer.op != "DequantizeLinear" or len(producer.inputs) != 1 or \
            _per_tensor(graph, producer.inputs[0]) is None:
        op = f"{producer.op} node {producer.name!r}" if producer is not None else "no node"
        raise ConversionError(f"output {name!r} cannot be {dtype}: {op} computes it in float32 (it has no int8 "
                              f"producer to hand out; keep this output float32)")
    q = producer.inputs[0]
    params = graph.tensors[q].quant
    y = graph.tensors[name]
    y.dtype = dtype
    if dtype == np.int8:  # the int8 tensor itself, under the output's name
        y.quant = QuantParams(params.scale.copy(), params.zero_point.copy())
        graph.nodes.remove(producer)
        del graph.tensors[q]
        for n in graph.nodes:
            n.inputs = [name if i == q else i for i in n.inputs]
            n.outputs = [name if o == q else o for o in n.outputs]
        return
    y.quant = QuantParams(params.scale.copy(), params.zero_point + 128)
    table = graph.add_const(_INT8_TO_UINT8, f"{name}_to_uint8")
    graph.nodes[graph.nodes.index(producer)] = Node("Lut", [q, table], [name], {}, f"{name}/to_uint8")

