"""Rewrites an optimized float32 IR graph (after layout) into an int8 graph
following native/src/kernels/requant.h.

Each node is either int8 or float32. An int8 node reads int8 tensors: a
float tensor it needs is quantized once (QuantizeLinear) and shared; a float
node that reads an int8 tensor gets a dequantized copy (DequantizeLinear).
Graph inputs and outputs stay float32.

What stays float32, and why (all reported):
  * ops without an int8 kernel;
  * nodes named with keep_float;
  * "mixed-range" tensors: a few values far outside the bulk (attention masks,
    pixel box coordinates concatenated with 0..1 scores) would take nearly all
    int8 levels, so neither their producer nor their readers are quantized;
  * Concat of inputs whose ranges differ by more than mixed_range_ratio;
  * probability tails (Softmax / Sigmoid / ... that produce a graph output),
    which decoding steps read at full precision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from nanort.schema.ActivationKind import ActivationKind
from nanort.schema.CoordinateTransform import CoordinateTransform

from ..ir import Graph, Node, QuantParams
from . import tables
from .observers import TensorStats, int8_params

MOVEMENT = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Slice", "Split", "MaxPool",
            "GlobalMaxPool", "DepthToSpace", "SpaceToDepth", "Identity"}
RESCALING = {"Add", "Sub", "Mul", "Concat", "AveragePool", "GlobalAveragePool", "MatMul", "Resize"}
TAILS = {"Softmax", "LogSoftmax", "Sigmoid", "HardSigmoid", "Tanh"}
CLAMP_ACTIVATIONS = {ActivationKind.NONE, ActivationKind.RELU, ActivationKind.CLIP}


@dataclass
class QuantOptions:
    observer: str = "percentile"
    percentile: float = 99.99
    per_channel: bool = True
    keep_float: list[str] = field(default_factory=list)
    mixed_range_ratio: float = 64.0


@dataclass
class Decision:
    int8: bool
    reason: str = ""


class _Quantizer:
    def __init__(self, graph: Graph, stats: dict[str, TensorStats], opts: QuantOptions):
        self.g = graph
        self.stats = stats
        self.opts = opts
        self.params: dict[str, tuple[float, int]] = {}   # int8 tensor -> (scale, zero point)
        self.quantized: dict[str, str] = {}             # float tensor -> its int8 copy
        self.dequantized: dict[str, str] = {}           # int8 tensor -> its float copy
        self.is_int8: set[str] = set()                  # tensors that now hold int8
        self.out: list[Node] = []
        self.decisions: dict[str, Decision] = {}
        self.notes: list[str] = []
        self.producer = graph.producers()
        self.consumers = graph.consumers()

    # -- ranges -------------------------------------------------------------
    def range_of(self, name: str) -> tuple[float, float]:
        st = self.stats.get(name)
        if st is None or st.count == 0:
            return 0.0, 0.0
        return st.range(self.opts.observer, self.opts.percentile)

    def mixed_range(self, name: str) -> bool:
        st = self.stats.get(name)
        if st is None or st.count == 0:
            return False
        lo, hi = st.range("percentile", 99.9)
        bulk = max(hi - lo, 1e-12)
        return (st.max - st.min) / bulk > self.opts.mixed_range_ratio

    def params_for(self, name: str) -> tuple[float, int]:
        given = self.g.tensors[name].quant
        if given is not None and given.scale.size == 1:  # from a pre-quantized model
            return float(given.scale[0]), int(given.zero_point[0])
        return int8_params(*self.range_of(name))

    def has_params(self, name: str) -> bool:
        t = self.g.tensors[name]
        return (t.quant is not None and t.quant.scale.size == 1) or (
            name in self.stats and self.stats[name].count > 0)

    def is_float(self, name: str) -> bool:
        """float32 in the source graph (an activation already rewritten to int8 counts: it was float)."""
        return self.g.tensors[name].dtype == np.float32 or name in self.is_int8

    # -- decisions ----------------------------------------------------------
    def decide(self, node: Node) -> Decision:
        if node.name in self.opts.keep_float or any(o in self.opts.keep_float for o in node.outputs):
            return Decision(False, "kept in fp32 as asked")
        acts = [i for i in node.inputs if i and not self.g.tensors[i].is_const]
        if any(not self.is_float(i) for i in acts[:1]):
            return Decision(False, "not a float32 op")
        missing = [t for t in acts + node.outputs if t and self.g.tensors[t].dtype == np.float32
                   and not self.has_params(t)]
        if missing:
            return Decision(False, f"no calibration data or given scale for {missing[0]}")
        for t in acts + node.outputs:
            if t in self.stats and self.g.tensors[t].quant is None and self.mixed_range(t):
                st = self.stats[t]
                return Decision(False, f"mixed-range tensor {t} ({st.min:.3g}..{st.max:.3g}, bulk much narrower)")
        if node.op in TAILS and any(o in self.g.outputs for o in node.outputs):
            return Decision(False, "probability tail feeding a graph output")
        ok, why = self.capable(node)
        return Decision(ok, why)

    def capable(self, node: Node) -> tuple[bool, str]:
        op, g = node.op, self.g
        act = node.attrs.get("activation", (0, 0, 0))[0]
        if op in ("Conv", "FullyConnected", "ConvTranspose"):
            if g.const(node.inputs[1]) is None:
                return False, "weights are not constant"
            if op == "ConvTranspose" and node.attrs.get("group", 1) != 1:
                return False, "grouped ConvTranspose has no int8 kernel"
            return (act in CLAMP_ACTIVATIONS), "fused activation has no int8 form"
        if op in ("Add", "Sub", "Mul", "MatMul"):
            if any(not self.is_float(i) for i in node.inputs):
                return False, "non-float operand"
            if op == "MatMul" and any(g.tensors[i].is_const for i in node.inputs):
                return False, "constant MatMul operand (FullyConnected covers that)"
            return (act in CLAMP_ACTIVATIONS), "fused activation has no int8 form"
        if op == "Concat":
            spans = [max(abs(v) for v in self.range_of(i)) for i in node.inputs if not g.tensors[i].is_const]
            if any(g.tensors[i].is_const for i in node.inputs):
                return False, "constant Concat input"
            if spans and min(spans) > 0 and max(spans) / min(spans) > self.opts.mixed_range_ratio:
                return False, "Concat of inputs with very different ranges"
            return True, ""
        if op == "Resize":
            if node.attrs.get("coordinate_transform", 0) == CoordinateTransform.TF_CROP_AND_RESIZE:
                return False, "tf_crop_and_resize has no int8 form (extrapolation)"
            return node.attrs.get("mode", 0) in (0, 1), "cubic Resize has no int8 kernel"
        if op == "Pad":
            value = g.const(node.input(2))
            return node.attrs.get("mode", 0) == 0 and (value is None or not value.any()), \
                "Pad with a non-zero value or non-constant mode"
        if op == "Softmax":
            return True, ""
        if op in ("AveragePool", "GlobalAveragePool") or op in MOVEMENT:
            return True, ""
        if op == "Clip" and (node.input(1) or node.input(2)):
            return False, "Clip bounds computed at run time (a Lut needs them at convert time)"
        if op in tables.FUNCTIONS or op in tables.PARTIAL:
            fn = tables.function_for(op, node.attrs, self.range_of(node.inputs[0]))
            return fn is not None, f"{op} is not defined on the input's range"
        return False, f"no int8 kernel for {op}"

    # -- tensors ------------------------------------------------------------
    def as_int8(self, name: str) -> str:
        """The int8 version of an activation (constants and non-float tensors pass through)."""
        if not name or name in self.is_int8:
            return name
        t = self.g.tensors[name]
        if t.is_const or t.dtype != np.float32:
            return name
        if name in self.quantized:
            return self.quantized[name]
        scale, zp = self.params_for(name)
        q = self.g.fresh_name(f"{name}_q")
        self.g.add_tensor(q, np.int8, t.shape).quant = QuantParams(scale, zp)
        self.g.tensors[q].perm = t.perm
        self.out.append(Node("QuantizeLinear", [name], [q], {}, f"{name}/quantize"))
        self.params[q] = (scale, zp)
        self.is_int8.add(q)
        self.quantized[name] = q
        return q

    def as_float(self, name: str) -> str:
        if not name or name not in self.is_int8:
            return name
        if name not in self.dequantized:
            t = self.g.tensors[name]
            f = self.g.fresh_name(f"{name}_f")
            self.g.add_tensor(f, np.float32, t.shape).perm = t.perm
            self.out.append(Node("DequantizeLinear", [name], [f], {}, f"{name}/dequantize"))
            self.dequantized[name] = f
        return self.dequantized[name]

    def make_int8(self, name: str, params: tuple[float, int]) -> None:
        t = self.g.tensors[name]
        t.dtype = np.dtype(np.int8)
        t.quant = QuantParams(params[0], params[1])
        self.params[name] = params
        self.is_int8.add(name)

    def const_int8(self, name: str) -> str:
        """A float constant operand as per-tensor int8."""
        v = self.g.const(name).astype(np.float32)
        scale, zp = int8_params(float(min(v.min(), 0)), float(max(v.max(), 0)))
        q = np.clip(np.rint(v / scale) + zp, -128, 127).astype(np.int8)
        new = self.g.add_const(q, f"{name}_q")
        self.g.tensors[new].quant = QuantParams(scale, zp)
        self.g.tensors[new].perm = self.g.tensors[name].perm
        self.params[new] = (scale, zp)
        return new

    # -- per-op rewrites ----------------------------------------------------
    def weights(self, node: Node, axis: int) -> tuple[str, np.ndarray]:
        wt = self.g.tensors[node.inputs[1]]
        w = wt.data.astype(np.float32)
        given = wt.quant
        if given is not None and not given.zero_point.any() and (given.scale.size == 1 or given.axis == axis):
            scale = np.broadcast_to(given.scale, (w.shape[axis],)).astype(np.float32)  # the model's own scales
            per_channel = given.scale.size > 1
            shape = [1] * w.ndim
            shape[axis] = -1
            q = np.clip(np.rint(w / scale.reshape(shape)), -128, 127).astype(np.int8)
            name = self.g.add_const(q, f"{node.name}_wq")
            self.g.tensors[name].quant = QuantParams(scale if per_channel else scale[:1],
                                                     np.zeros(scale.size if per_channel else 1, np.int64),
                                                     axis if per_channel else None)
            return name, scale
        if self.opts.per_channel:
            other = tuple(a for a in range(w.ndim) if a != axis)
            absmax = np.abs(w).max(axis=other)
        else:
            absmax = np.full(w.shape[axis], np.abs(w).max())
        scale = np.where(absmax > 0, absmax / 127.0, 1.0).astype(np.float32)
        shape = [1] * w.ndim
        shape[axis] = -1
        q = np.clip(np.rint(w / scale.reshape(shape)), -127, 127).astype(np.int8)
        name = self.g.add_const(q, f"{node.name}_wq")
        self.g.tensors[name].quant = QuantParams(scale, np.zeros_like(scale, np.int64),
                                                 axis if self.opts.per_channel else None)
        if not self.opts.per_channel:
            self.g.tensors[name].quant = QuantParams(scale[:1], [0])
        return name, scale

    def conv_like(self, node: Node) -> None:
        x = node.inputs[0]
        s_x, z_x = self.params[x]
        axis = 3 if node.op == "ConvTranspose" else 0
        wname, s_w = self.weights(node, axis)
        wq = self.g.const(wname).astype(np.int64)
        channels = wq.shape[axis]
        b = self.g.const(node.input(2))
        b = np.zeros(channels, np.float64) if b is None else b.astype(np.float64).reshape(-1)
        bias = np.rint(b / (np.float64(s_x) * s_w.astype(np.float64)))
        if node.op != "ConvTranspose":  # fold the input zero point (requant.h)
            bias -= z_x * np.moveaxis(wq, axis, 0).reshape(channels, -1).sum(axis=1)
        if np.abs(bias).max(initial=0) > 2 ** 31 - 1:
            self.notes.append(f"{node.name}: bias saturated to int32")
        bias_q = np.clip(bias, -(2 ** 31), 2 ** 31 - 1).astype(np.int32)
        bname = self.g.add_const(bias_q, f"{node.name}_bq")
        node.inputs = [x, wname, bname]

    def finish_node(self, node: Node) -> None:
        """Sets the int8 output tensors' parameters."""
        op = node.op
        first = node.inputs[0] if node.inputs else ""
        for o in node.outputs:
            if not o:
                continue
            if op in MOVEMENT or op == "Pad":
                params = self.params[first]
            elif op == "Softmax":
                params = (1.0 / 256.0, -128)
            else:
                params = self.params_for(o)
            self.make_int8(o, params)

    def lut(self, node: Node) -> Node:
        x = node.inputs[0]
        s_x, z_x = self.params[x]
        fn = tables.function_for(node.op, node.attrs, self.range_of(x))
        y = fn(tables.input_grid(s_x, z_x))
        lo, hi = float(np.nanmin(y)), float(np.nanmax(y))
        obs_lo, obs_hi = self.range_of(node.outputs[0])
        if (hi - lo) > 4 * max(obs_hi - obs_lo, 1e-12):  # unbounded f (Exp): trust the data
            lo, hi = max(lo, obs_lo), min(hi, obs_hi)
        params = int8_params(lo, hi)
        table = tables.table(fn, s_x, z_x, *params)
        self.make_int8(node.outputs[0], params)
        return Node("Lut", [x, self.g.add_const(table, f"{node.name}_table")], node.outputs, {}, node.name)

    def rewrite_int8(self, node: Node) -> Node:
        g = self.g
        if node.op in ("Add", "Sub", "Mul"):
            node.inputs = [self.const_int8(i) if g.tensors[i].is_const else self.as_int8(i) for i in node.inputs]
        elif node.op in ("Concat", "MatMul"):
            node.inputs = [self.as_int8(i) for i in node.inputs]
        else:  # only the data input is int8; shapes, scales, weights stay as they are
            node.inputs = [self.as_int8(node.inputs[0])] + node.inputs[1:]
        if node.op in ("Conv", "FullyConnected", "ConvTranspose"):
            self.conv_like(node)
        if node.op in tables.FUNCTIONS or node.op in tables.PARTIAL:
            return self.lut(node)
        self.finish_node(node)
        return node

    def run(self) -> None:
        for node in self.g.nodes:
            d = self.decide(node)
            self.decisions[node.name] = d
            if d.int8:
                node = self.rewrite_int8(node)
            else:
                node.inputs = [self.as_float(i) for i in node.inputs]
            self.out.append(node)
        self.g.nodes = self.out
        self._float_outputs()

    def _float_outputs(self) -> None:
        for k, name in enumerate(self.g.outputs):
            if name not in self.is_int8:
                continue
            internal = self.g.fresh_name(f"{name}_q")
            t = self.g.tensors.pop(name)
            t.name = internal
            self.g.tensors[internal] = t
            for n in self.g.nodes:
                n.outputs = [internal if o == name else o for o in n.outputs]
                n.inputs = [internal if i == name else i for i in n.inputs]
            self.is_int8.add(internal)
            self.g.add_tensor(name, np.float32, t.shape).perm = t.perm
            self.g.nodes.append(Node("DequantizeLinear", [internal], [name], {}, f"{name}/dequantize"))
            self.g.outputs[k] = name


@dataclass
class QuantResult:
    int8_nodes: list[str]
    float_nodes: list[tuple[str, str, str]]  # (node, op, reason)
    notes: list[str]
    params: dict[str, tuple[float, int]]


def quantize_int8(graph: Graph, stats: dict[str, TensorStats], opts: QuantOptions) -> QuantResult:
    ops = {n.name: n.op for n in graph.nodes}
    q = _Quantizer(graph, stats, opts)
    q.run()
    floats = [(name, ops[name], d.reason) for name, d in q.decisions.items() if not d.int8]
    return QuantResult([n for n, d in q.decisions.items() if d.int8], floats, q.notes, q.params)


def quantize_dynamic(graph: Graph, per_channel: bool = True) -> QuantResult:
    """Weights of FullyConnected (and constant-B MatMul turned FullyConnected)
    to int8; activations stay float and are quantized per row at run time."""
    done, floats = [], []
    for node in graph.nodes:
        w = graph.const(node.input(1)) if node.op == "FullyConnected" else None
        if w is None or w.dtype != np.float32:
            floats.append((node.name, node.op, "no dynamic int8 kernel" if node.op != "FullyConnected"
                           else "weights are not constant"))
            continue
        absmax = np.abs(w).max(axis=1) if per_channel else np.full(w.shape[0], np.abs(w).max())
        scale = np.where(absmax > 0, absmax / 127.0, 1.0).astype(np.float32)
        q = np.clip(np.rint(w / scale[:, None]), -127, 127).astype(np.int8)
        name = graph.add_const(q, f"{node.name}_wq")
        graph.tensors[name].quant = QuantParams(scale if per_channel else scale[:1],
                                                np.zeros(len(scale) if per_channel else 1, np.int64),
                                                0 if per_channel else None)
        node.inputs[1] = name
        done.append(node.name)
    return QuantResult(done, floats, [], {})


def sqnr_db(reference: np.ndarray, approx: np.ndarray) -> float:
    noise = float(np.sum((reference.astype(np.float64) - approx.astype(np.float64)) ** 2))
    signal = float(np.sum(reference.astype(np.float64) ** 2))
    if noise == 0:
        return math.inf
    return 10 * math.log10(max(signal, 1e-30) / noise)
