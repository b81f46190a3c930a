"""Rewrites an optimized float32 IR graph (after layout) into an int8 graph
following native/src/kernels/requant.h.

Each node is either int8 or float32. An int8 node reads int8 tensors: a
float tensor it needs is quantized once (QuantizeLinear) and shared; a float
node that reads an int8 tensor gets a dequantized copy (DequantizeLinear).
Graph inputs and outputs stay float32.

Accuracy rules applied to every model:
  * runs of elementwise functions (HardSwish -> Mul by a constant -> Add a
    constant...) whose intermediates have no other reader are one Lut: one
    rounding instead of one per step;
  * a tensor read only by saturating functions gets int8 levels only where
    its readers' results change (HardSwish's input below -3 is all 0);
  * activation ranges come from the observer (MSE by default), weights are
    symmetric per output channel with scales that keep the int32 bias
    representable.

What stays float32, and why (all reported):
  * ops without an int8 kernel;
  * nodes named with keep_float;
  * "mixed-range" tensors: a few values far outside the bulk, or two
    populations far apart (attention masks, pixel box coordinates next to
    0..1 scores) would take nearly all int8 levels, so neither their producer
    nor their readers are quantized;
  * Concat of inputs whose ranges differ by more than mixed_range_ratio;
  * probability tails (Softmax / Sigmoid / ... that produce a graph output),
    which decoding steps read at full precision; a FullyConnected producing an
    output or a tail's input keeps float activations with int8 weights (the
    dynamic kernel);
  * nodes in opts.force_float: measured collapses and int8 islands that do
    not pay for their Quantize/Dequantize (quantize_graph decides these from
    the per-layer report, see collapsed_layers and islands).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from nanort.schema.ActivationKind import ActivationKind
from nanort.schema.CoordinateTransform import CoordinateTransform

from ..ir import Graph, Node, QuantParams
from . import tables
from .concat_slices import output_slices
from .observers import TensorStats, int8_params

MOVEMENT = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Slice", "Split", "MaxPool",
            "GlobalMaxPool", "DepthToSpace", "SpaceToDepth", "Identity"}
RESCALING = {"Add", "Sub", "Mul", "Concat", "AveragePool", "GlobalAveragePool", "MatMul", "Resize"}
TAILS = {"Softmax", "LogSoftmax", "Sigmoid", "HardSigmoid", "Tanh"}
PROBABILITIES = {"Softmax", "Sigmoid", "HardSigmoid"}
CLAMP_ACTIVATIONS = {ActivationKind.NONE, ActivationKind.RELU, ActivationKind.CLIP}
SCALAR_ARITH = {"Add", "Sub", "Mul", "Div"}
DYNAMIC_CANDIDATES = {"FullyConnected", "MatMul", "Conv", "ConvTranspose"}  # multiply-accumulate layers
INT16_REASON = "16-bit activations (int16 x int8)"
KEPT_FLOAT = "kept in fp32 as asked"
INT16_BIAS_BITS = 47  # the runtime's bound on a 16x8 bias (kernels/qs16_kernels.h)
INT16_MAX_TAPS = 128  # the conv driver's (kernels/conv.h)
INT16_LAYERS = {"Conv", "FullyConnected"}  # 16x8 kernels (int16 x int8 weights)
INT16_ARITH = {"Add", "Sub", "Mul"}        # int16 operands (ref/qs16_ref.h)


@dataclass
class QuantOptions:
    observer: str = "mse"
    percentile: float = 99.99
    per_channel: bool = True
    keep_float: list[str] = field(default_factory=list)
    mixed_range_ratio: float = 64.0
    force_float: dict[str, str] = field(default_factory=dict)  # node -> reason (islands, measured error)
    range_rules: bool = True  # False: probability tails and mixed-range tensors go int8 too
    # tensor -> (observer, percentile) replacing the global choice for that tensor (the accuracy fixer's
    # "better scale" step)
    range_override: dict[str, tuple[str, float]] = field(default_factory=dict)
    # (node, float weights, per-output-channel scales) -> int8 weights or None (nearest): rounding that
    # minimizes the layer's output error (adaround.py)
    weight_rounding: Callable[[Node, np.ndarray, np.ndarray], np.ndarray | None] | None = None
    slice_scales: bool = False  # concatenations read only by outputs keep each part's scale (concat_slices.py)
    # node -> reason: nodes with 16-bit activations (int16_capable: Conv / FullyConnected as int16 x int8,
    # kernels/requant.h's 16x8 rule; Add / Sub / Mul and elementwise functions on int16 codes), reading the
    # int16 codes of a 16-bit producer or a Quantize of their float input, their result dequantized for
    # float and int8 readers
    int16_nodes: dict[str, str] = field(default_factory=dict)


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
        self.dont_care: dict[str, tuple[float, float]] = {}  # tensor -> range outside which readers are flat
        self.notes: list[str] = []
        self.int8_tables: set[str] = set()              # Gathers reading an int8 embedding table
        self.int16_copy: dict[str, str] = {}            # float result of a 16-bit layer -> its int16 codes
        self.quantized16: dict[str, str] = {}           # float tensor -> its Quantize to int16
        self.int16_who: dict[str, str] = {}             # node -> who asked for its 16 bits
        self._merge_unary_chains()
        self.producer = graph.producers()
        self.consumers = graph.consumers()
        self.slices = output_slices(graph, MOVEMENT, TAILS, self.span) \
            if opts.slice_scales and opts.range_rules else {}

    # -- elementwise chains ---------------------------------------------------
    def scalar_operand(self, node: Node) -> tuple[int, float] | None:
        """(index of the activation, constant) for Add/Sub/Mul/Div of an activation and a
        one-element float constant that does not broadcast the activation, else None."""
        if node.op not in SCALAR_ARITH or len(node.inputs) != 2 or node.attrs.get("activation", (0,))[0]:
            return None
        for k in (0, 1):
            c, x = self.g.const(node.inputs[1 - k]), node.inputs[k]
            t = self.g.tensors[x]
            if c is None or c.size != 1 or c.dtype != np.float32 or t.is_const or not self.is_float(x):
                continue
            if t.shape is None or t.shape != self.g.tensors[node.outputs[0]].shape:
                continue
            if node.op == "Div" and (k == 1 or c.reshape(-1)[0] == 0):
                return None
            return k, float(c.reshape(-1)[0])
        return None

    def unary_step(self, node: Node) -> bool:
        """True for nodes that map one activation elementwise through a fixed function."""
        if node.op in SCALAR_ARITH:
            return self.scalar_operand(node) is not None
        if node.op not in tables.FUNCTIONS and node.op not in tables.PARTIAL:
            return False
        if node.op == "Clip" and (node.input(1) or node.input(2)):
            return False
        x = node.inputs[0]
        return len([i for i in node.inputs if i]) == 1 and not self.g.tensors[x].is_const and self.is_float(x)

    def _merge_unary_chains(self) -> None:
        """Runs of elementwise functions (HardSwish -> Mul by a constant -> Add a constant,
        as PP-LCNet's learnable affine blocks do) whose intermediate results have no other
        reader become one UnaryChain node: in int8 that is a single 256-entry table, one
        rounding instead of one per step (and one pass over memory instead of three)."""
        consumers = self.g.consumers()
        outputs = set(self.g.outputs)
        merged: list[Node] = []
        taken: set[int] = set()
        for node in self.g.nodes:
            if id(node) in taken:
                continue
            chain = [node]
            while self.unary_step(chain[-1]):
                out = chain[-1].outputs[0]
                readers = consumers.get(out, [])
                if out in outputs or len(readers) != 1 or not self.unary_step(readers[0]):
                    break
                chain.append(readers[0])
            if len(chain) < 2 and not (node.op in SCALAR_ARITH and self.unary_step(node)):
                merged.append(node)  # (a lone arithmetic step with a constant is a table too: exact
                continue             # f(x) per int8 code, no rounded constant, no second rescale)
            taken.update(id(n) for n in chain[1:])
            first = chain[0]
            x = first.inputs[self.scalar_operand(first)[0]] if first.op in SCALAR_ARITH else first.inputs[0]
            merged.append(Node("UnaryChain", [x], [chain[-1].outputs[0]], {"steps": chain},
                               chain[0].name if len(chain) == 1 else f"{chain[0].name}..{chain[-1].name}"))
        self.g.nodes = merged

    def step_function(self, node: Node):
        """float64 -> float64 for one unary step, or None where undefined on its input range."""
        if node.op in SCALAR_ARITH:
            k, c = self.scalar_operand(node)
            return {"Add": lambda x: x + c, "Mul": lambda x: x * c, "Div": lambda x: x / c,
                    "Sub": (lambda x: x - c) if k == 0 else (lambda x: c - x)}[node.op]
        return tables.function_for(node.op, node.attrs, self.range_of(node.inputs[0]))

    def unary_function(self, node: Node):
        """The elementwise function a Lut-able node or chain computes, else None."""
        steps = node.attrs["steps"] if node.op == "UnaryChain" else [node]
        if node.op != "UnaryChain" and (node.op in SCALAR_ARITH or not self.unary_step(node)):
            return None
        fns = [self.step_function(n) for n in steps]
        if any(f is None for f in fns):
            return None
        # a pre-quantized model rounds and saturates the steps' annotated results (not the last's:
        # the table's own output grid does that)
        grids = [self.params_for(n.outputs[0]) if self.given(n.outputs[0]) else None for n in steps[:-1]] + [None]

        def composed(x: np.ndarray) -> np.ndarray:
            for f, grid in zip(fns, grids):
                x = f(x)
                if grid is not None:
                    x = (np.clip(np.rint(x / grid[0]) + grid[1], -128, 127) - grid[1]) * grid[0]
            return x
        return composed

    def active_range(self, name: str, lo: float, hi: float) -> tuple[float, float]:
        """Narrows [lo, hi] to where the tensor's readers can tell values apart: a
        tensor read only by saturating functions (HardSwish is 0 below -3, HardSigmoid
        flat outside [-3, 3], Sigmoid within a quarter of an output step of 0 / 1) needs
        no int8 levels where every reader's result stays constant. Float readers see the
        same results too (the clipped values map to the same outputs)."""
        readers = self.consumers.get(name, [])
        if not readers or name in self.g.outputs or hi - lo <= 0:
            return lo, hi
        grid = np.linspace(lo, hi, 4097)
        new_lo, new_hi = hi, lo
        for r in readers:
            f = self.unary_function(r)
            if f is None:
                return lo, hi
            with np.errstate(all="ignore"):
                y = f(grid)
            if not np.all(np.isfinite(y)):
                return lo, hi
            tol = (float(y.max()) - float(y.min())) / 255.0 / 4.0
            moving_lo = np.nonzero(np.abs(y - y[0]) > tol)[0]
            moving_hi = np.nonzero(np.abs(y - y[-1]) > tol)[0]
            if moving_lo.size == 0:  # constant over the whole range
                continue
            new_lo = min(new_lo, float(grid[max(moving_lo[0] - 1, 0)]))
            new_hi = max(new_hi, float(grid[min(moving_hi[-1] + 1, grid.size - 1)]))
        if new_lo >= new_hi:
            return lo, hi
        if new_lo > lo or new_hi < hi:
            self.dont_care[name] = (new_lo, new_hi)
        return new_lo, new_hi

    # -- ranges -------------------------------------------------------------
    def range_of(self, name: str) -> tuple[float, float]:
        st = self.stats.get(name)
        if st is None or st.count == 0:
            return 0.0, 0.0
        return st.range(*self.opts.range_override.get(name, (self.opts.observer, self.opts.percentile)))

    def span(self, name: str) -> float:
        lo, hi = self.range_of(name)
        return hi - lo

    def mixed_range(self, name: str) -> bool:
        st = self.stats.get(name)
        if st is None or st.count == 0:
            return False
        lo, hi = st.range("percentile", 99.9)
        bulk = max(hi - lo, 1e-12)
        if (st.max - st.min) / bulk > self.opts.mixed_range_ratio:
            return True  # rare values far outside the bulk
        producer = self.producer.get(name)
        if producer is not None and self.members(producer)[-1].op in PROBABILITIES:
            return False  # probabilities and gates: a few near 1, most near 0; 1/256 steps are their usual int8 form
        return split_populations(st, self.opts.mixed_range_ratio)

    def params_for(self, name: str) -> tuple[float, int]:
        given = self.g.tensors[name].quant
        if given is not None and given.scale.size == 1:  # from a pre-quantized model
            return float(given.scale[0]), int(given.zero_point[0])
        st = self.stats.get(name)
        if (st is None or st.count == 0) and self.moved_from(name) is not None:
            return self.params_for(self.moved_from(name))
        return int8_params(*self.active_range(name, *self.range_of(name)))

    def moved_from(self, name: str) -> str | None:
        """The input of the data-movement op producing `name` (a layout Transpose the converter
        inserted after a QDQ-annotated tensor has the same values, so the same parameters)."""
        p = self.producer.get(name)
        return p.inputs[0] if p is not None and p.op in MOVEMENT and p.inputs and p.inputs[0] != name else None

    def has_params(self, name: str) -> bool:
        t = self.g.tensors[name]
        if (t.quant is not None and t.quant.scale.size == 1) or (name in self.stats and self.stats[name].count > 0):
            return True
        src = self.moved_from(name)
        return src is not None and self.has_params(src)

    def is_float(self, name: str) -> bool:
        """float32 in the source graph (an activation already rewritten to int8 counts: it was float)."""
        return self.g.tensors[name].dtype == np.float32 or name in self.is_int8

    # -- decisions ----------------------------------------------------------
    def members(self, node: Node) -> list[Node]:
        return node.attrs["steps"] if node.op == "UnaryChain" else [node]

    def reaches_output(self, name: str) -> bool:
        """True when `name` is a graph output or reaches one only through data movement."""
        if name in self.g.outputs:
            return True
        readers = self.consumers.get(name, [])
        return bool(readers) and all(r.op in MOVEMENT and r.inputs[0] == name and
                                     all(self.reaches_output(o) for o in r.outputs if o) for r in readers)

    def decide(self, node: Node) -> Decision:
        members = self.members(node)
        for m in members:
            if m.name in self.opts.keep_float or any(o in self.opts.keep_float for o in m.outputs):
                return Decision(False, KEPT_FLOAT)
            if m.name in self.opts.force_float:
                return Decision(False, self.opts.force_float[m.name])
        acts = [i for i in node.inputs if i and not self.g.tensors[i].is_const]
        if any(not self.is_float(i) for i in acts[:1]):
            return Decision(False, "not a float32 op")
        missing = [t for t in acts + node.outputs if t and self.g.tensors[t].dtype == np.float32
                   and not self.has_params(t)]
        if missing:
            return Decision(False, f"no calibration data or given scale for {missing[0]}")
        if not self.opts.range_rules:
            return Decision(*self.capable(node))
        for m in members:
            if m.name in self.slices:
                return Decision(False, self.slices[m.name])
        if members[-1].op in TAILS and any(self.reaches_output(o) for o in node.outputs):
            return Decision(False, "probability tail feeding a graph output")
        if node.op == "FullyConnected" and self.feeds_tail(node.outputs[0]):
            return Decision(False, "feeds the output / a probability tail: fp32 activations (int8 weights)")
        for t in acts + node.outputs:
            if t in self.stats and self.g.tensors[t].quant is None and self.mixed_range(t):
                st = self.stats[t]
                what = "two populations far apart" if split_populations(st) else "bulk much narrower"
                return Decision(False, f"mixed-range tensor {t} ({st.min:.3g}..{st.max:.3g}, {what})")
        ok, why = self.capable(node)
        return Decision(ok, why)

    def feeds_tail(self, name: str) -> bool:
        """The result is a graph output or read only by probability tails that produce one:
        decoding reads it at full precision."""
        if self.reaches_output(name):
            return True
        readers = self.consumers.get(name, [])
        return bool(readers) and all(self.members(r)[-1].op in TAILS and
                                     all(self.reaches_output(o) for o in r.outputs) for r in readers)

    def capable(self, node: Node) -> tuple[bool, str]:
        op, g = node.op, self.g
        act = node.attrs.get("activation", (0, 0, 0))[0]
        if op in ("Conv", "FullyConnected", "ConvTranspose"):
            if g.const(node.inputs[1]) is None:
                return False, "weights are not constant"
            if g.tensors[node.inputs[1]].dtype != np.float32:  # (onnxruntime's dynamic Conv / MatMul, as given)
                return False, "int8 weights of a dynamic int8 op: x quantized at run time"
            if op == "ConvTranspose" and node.attrs.get("group", 1) != 1:
                return False, "grouped ConvTranspose has no int8 kernel"
            return (act in CLAMP_ACTIVATIONS), "fused activation has no int8 form"
        if op in ("Add", "Sub", "Mul", "MatMul"):
            if any(not self.is_float(i) for i in node.inputs):
                return False, "non-float operand"
            if any(g.tensors[i].is_const and not np.isfinite(g.const(i)).all() for i in node.inputs):
                return False, "constant operand holds inf or NaN (an attention mask's fill value)"
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
        if op == "UnaryChain":
            return self.unary_function(node) is not None, "a step is not defined on its input's range"
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
        src = self.int16_copy.get(name, name)  # a 16-bit result: its codes rescaled, no float round trip
        self.out.append(Node("QuantizeLinear", [src], [q], {}, f"{name}/quantize"))
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

    def given(self, name: str) -> bool:
        """A float activation that a pre-quantized (QDQ) model quantizes: its per-tensor
        Quantize/Dequantize pair was folded into an annotation."""
        t = self.g.tensors[name]
        return t.data is None and t.dtype == np.float32 and t.quant is not None and t.quant.scale.size == 1

    def fake_quantized(self, name: str) -> str:
        """A float node computes an annotated tensor: the model's QuantizeLinear still rounds
        and saturates it (onnxruntime's pre-processing even drops a Clip(0, 6) whose bounds a
        uint8 range [0, 6] enforces). The node now writes a float temporary, quantized into
        `name`, which becomes int8; float readers get a dequantized copy. Returns the
        temporary's name."""
        t = self.g.tensors[name]
        f = self.g.fresh_name(f"{name}_float")
        self.g.add_tensor(f, np.float32, t.shape).perm = t.perm
        params = self.params_for(name)
        self.out.append(Node("QuantizeLinear", [f], [name], {}, f"{name}/quantize"))
        self.make_int8(name, params)
        return f

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
    def weights(self, node: Node, axis: int, min_scale: np.ndarray | None = None,
                rounding: bool = True) -> tuple[str, np.ndarray]:
        """int8 weights, symmetric per output channel. min_scale (per channel) keeps the
        int32 bias b / (s_x s_w) representable: a dead channel (weights near 0, a real
        bias) would otherwise get a tiny scale and a saturated bias. rounding=False: nearest
        (the weight-rounding technique fits int8 inputs)."""
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
        scale = np.where(absmax > 0, absmax / 127.0, 1.0)
        if min_scale is not None:
            scale = np.maximum(scale, min_scale if self.opts.per_channel else min_scale.max())
        scale = bfloat16_ceil(scale)
        shape = [1] * w.ndim
        shape[axis] = -1
        q = self.opts.weight_rounding(node, w, scale) if rounding and self.opts.weight_rounding and axis == 0 \
            else None
        if q is None:
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
        channels = self.g.tensors[node.inputs[1]].shape[axis]
        b = self.g.const(node.input(2))
        b = np.zeros(channels, np.float64) if b is None else b.astype(np.float64).reshape(-1)
        wname, s_w = self.weights(node, axis, np.abs(b) / (np.float64(s_x) * 2.0 ** 30))
        wq = self.g.const(wname).astype(np.int64)
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
        """One 256-entry table for a nonlinear op or a chain of elementwise steps. The
        output range is the function's range over the input's int8 grid, narrowed to
        what the calibration data reaches (the observer's range)."""
        x = node.inputs[0]
        s_x, z_x = self.params[x]
        fn = self.unary_function(node)
        with np.errstate(all="ignore"):
            y = fn(tables.input_grid(s_x, z_x))
        lo, hi = float(np.nanmin(y)), float(np.nanmax(y))
        out = node.outputs[0]
        obs_lo, obs_hi = self.active_range(out, *self.range_of(out))
        if max(lo, obs_lo) < min(hi, obs_hi):
            lo, hi = max(lo, obs_lo), min(hi, obs_hi)
        params = self.params_for(out) if self.given(out) else int8_params(lo, hi)  # a QDQ model's own
        with np.errstate(all="ignore"):
            table = tables.table(fn, s_x, z_x, *params)
        self.make_int8(out, params)
        return Node("Lut", [x, self.g.add_const(table, f"{node.name}_table")], [out], {}, node.name)

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
        if node.op in tables.FUNCTIONS or node.op in tables.PARTIAL or node.op == "UnaryChain":
            return self.lut(node)
        self.finish_node(node)
        return node

    def int16_codes(self, name: str) -> str:
        """The int16 codes (symmetric, min/max range: 32767 levels need no clipping) of a float
        activation: a 16-bit producer's own, else one shared Quantize of its float value (of its
        codes where it is an int8 tensor: no float round trip)."""
        if name in self.int16_copy:
            return self.int16_copy[name]
        if name not in self.quantized16:
            g = self.g
            x = name  # an int8 tensor's codes are rescaled to int16 directly (requant.h's Rescale)
            xq = g.fresh_name(f"{name}_q16")
            g.add_tensor(xq, np.int16, g.tensors[x].shape).quant = QuantParams(int16_scale(self.stats[name]), 0)
            g.tensors[xq].perm = g.tensors[x].perm
            self.out.append(Node("QuantizeLinear", [x], [xq], {}, f"{name}/quantize16"))
            self.quantized16[name] = xq
        return self.quantized16[name]

    def const16(self, name: str) -> str:
        """A constant float operand as symmetric int16 codes of its own."""
        c = self.g.const(name).astype(np.float64)
        span = float(np.abs(c).max(initial=0.0))
        scale = float(np.float32(span / 32767.0)) if span > 0 else 1.0
        q = self.g.add_const(np.clip(np.rint(c / scale), -32767, 32767).astype(np.int16), f"{name}_q16")
        self.g.tensors[q].quant = QuantParams(scale, 0)
        return q

    def conv16(self, node: Node) -> None:
        """Conv / FullyConnected: int8 weights per output channel, an int64 bias at s_x * s_w."""
        g = self.g
        xq = self.int16_codes(node.inputs[0])
        s_x = float(g.tensors[xq].quant.scale[0])
        channels = g.tensors[node.inputs[1]].shape[0]
        b = g.const(node.input(2))
        b = np.zeros(channels, np.float64) if b is None else b.astype(np.float64).reshape(-1)
        wname, s_w = self.weights(node, 0, np.abs(b) / (np.float64(s_x) * 2.0 ** INT16_BIAS_BITS), rounding=False)
        bias = np.rint(b / (np.float64(s_x) * s_w.astype(np.float64))).astype(np.int64)
        node.inputs = [xq, wname, g.add_const(bias, f"{node.name}_bq16")]

    def rewrite_int16(self, node: Node) -> None:
        """A node with 16-bit activations (int16_capable): a Conv / FullyConnected as 16x8, an
        Add / Sub / Mul on int16 operands, an elementwise function (or chain) as a 65536-entry
        int16 table. Its int16 result is dequantized into the float output that float and int8
        readers see (as a fp32 node's); 16-bit readers take the codes (int16_codes)."""
        g = self.g
        y = node.outputs[0]
        yq = g.fresh_name(f"{y}_q16")
        g.add_tensor(yq, np.int16, g.tensors[y].shape).quant = QuantParams(int16_scale(self.stats[y]), 0)
        g.tensors[yq].perm = g.tensors[y].perm
        if node.op in INT16_LAYERS:
            self.conv16(node)
        elif node.op in INT16_ARITH:
            node.inputs = [self.const16(i) if g.tensors[i].is_const else self.int16_codes(i) for i in node.inputs]
        else:
            fn = self.unary_function(node)
            x = node.inputs[0]
            xq = self.int16_codes(x)
            table = tables.table16(fn, float(g.tensors[xq].quant.scale[0]), float(g.tensors[yq].quant.scale[0]))
            node = Node("Lut", [xq, g.add_const(table, f"{node.name}_table16")], [y], {}, node.name)
        node.outputs = [yq]
        self.out.append(node)
        self.out.append(Node("DequantizeLinear", [yq], [y], {}, f"{y}/dequantize16"))
        self.int16_copy[y] = yq

    def int16_ok(self, node: Node) -> bool:
        """A node (or elementwise chain) the runtime can run with 16-bit activations."""
        if node.op == "UnaryChain" or (node.op not in INT16_LAYERS | INT16_ARITH and self.unary_step(node)):
            return (len(node.outputs) == 1 and node.inputs[0] in self.stats and node.outputs[0] in self.stats
                    and self.unary_function(node) is not None)
        return int16_capable(self.g, node, self.stats, self.is_float)

    def _drop_unread_dequantize(self) -> None:
        """A 16-bit result read only by 16-bit layers needs no float copy."""
        read = {i for n in self.g.nodes for i in n.inputs} | set(self.g.outputs)
        self.g.nodes = [n for n in self.g.nodes if not (n.op == "DequantizeLinear" and n.outputs[0] in
                                                         self.int16_copy and n.outputs[0] not in read)]

    def run(self) -> None:
        for node in self.g.nodes:
            d = self.decide(node)
            asked = [self.opts.int16_nodes[m.name] for m in self.members(node) if m.name in self.opts.int16_nodes]
            if asked and d.reason != KEPT_FLOAT and self.int16_ok(node):
                d = Decision(False, INT16_REASON)
                self.int16_who.update({m.name: asked[0] for m in self.members(node)})
            for m in self.members(node):
                self.decisions[m.name] = d
            if d.int8:
                self.out.append(self.rewrite_int8(node))
                continue
            if d.reason == INT16_REASON:
                self.rewrite_int16(node)
                continue
            for m in self.members(node):
                mixed = bool(m.inputs) and self.mixed_range(m.inputs[0])
                m.inputs = [self.as_float(i) for i in m.inputs]
                if m.op == "FullyConnected" and d.reason != KEPT_FLOAT and not mixed and \
                        dynamic_fc_weights(self.g, m, self.opts.per_channel):
                    self.notes.append(f"{m.name}: fp32 activations with int8 weights (dynamic FullyConnected)")
                if d.reason != KEPT_FLOAT and int8_embedding(self.g, m, self.opts.per_channel):
                    self.int8_tables.add(m.name)  # (float output: not an int8 node, not a fallback either)
                    self.notes.append(f"{m.name}: int8 embedding table, rows dequantized as they are gathered")
                self.out.append(m)
                for k, o in enumerate(m.outputs):
                    if o and self.given(o):
                        m.outputs[k] = self.fake_quantized(o)
        self.g.nodes = self.out
        self._drop_unread_dequantize()
        self._resize_into_concat()
        self._float_outputs()

    def _resize_into_concat(self) -> None:
        """A nearest Resize read only by an int8 Concat takes the Concat's output parameters: it rescales
        its input before the gather, at the smaller size, and the Concat then copies the upsampled bytes
        instead of rescaling them (one rounding instead of two, and the FPN concat of a detector's neck
        stops rescaling 3 of its 4 full-size inputs)."""
        producer, consumers = self.g.producers(), self.g.consumers()
        for node in self.g.nodes:
            if node.op != "Concat" or node.outputs[0] not in self.is_int8:
                continue
            for i in node.inputs:
                p = producer.get(i)
                if p is None or p.op != "Resize" or p.attrs.get("mode", 0) != 0 or i not in self.is_int8:
                    continue
                if [id(c) for c in consumers.get(i, [])] == [id(node)] and i not in self.g.outputs:
                    self.make_int8(i, self.params[node.outputs[0]])

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


def split_populations(st: TensorStats, ratio: float = 64.0) -> bool:
    """Two populations far apart (an additive -10000 attention mask on part of the scores,
    filler values next to data): one empty stretch of the histogram covers nearly all of
    the range, and the population holding most values spans less than 1/ratio of the whole
    range, so a single int8 scale would leave it a few levels."""
    occupied = np.nonzero(st.hist > 0)[0]
    if occupied.size < 2:
        return False
    gaps = np.diff(occupied)
    k = int(np.argmax(gaps))
    span = occupied[-1] - occupied[0] + 1
    if gaps[k] < 0.9 * span:
        return False
    sides = occupied[:k + 1], occupied[k + 1:]
    mass = [st.hist[side].sum() for side in sides]
    bulk = sides[int(np.argmax(mass))]
    return (bulk[-1] - bulk[0] + 1) * ratio <= span and min(mass) >= 1e-4 * st.hist.sum()




def int16_scale(st: TensorStats) -> float:
    """Symmetric int16 scale holding the observed range."""
    span = max(abs(float(st.min)), abs(float(st.max)))
    return span / 32767.0 if span > 0 else 1.0


def int16_capable(graph: Graph, node: Node, stats: dict[str, TensorStats],
                  is_float: Callable[[str], bool] | None = None) -> bool:
    """The runtime has 16-bit kernels for this node, and its activations are calibrated: a Conv
    (not transposed, at most INT16_MAX_TAPS taps) or FullyConnected with constant weights (16x8),
    an Add / Sub / Mul of activations or finite constants, both with a fused activation the
    output clamp can hold, or an elementwise function defined on the input's range (a table).
    is_float: whether an operand was float32 in the source graph (default: its dtype now)."""
    if len(node.outputs) != 1 or node.outputs[0] not in stats:
        return False
    act = node.attrs.get("activation", (0, 0, 0))[0]
    if node.op in INT16_LAYERS:
        w = graph.const(node.inputs[1])
        if w is None or act not in CLAMP_ACTIVATIONS:
            return False
        if node.op == "Conv" and (w.ndim != 4 or w.shape[1] * w.shape[2] > INT16_MAX_TAPS):
            return False
        return node.inputs[0] in stats
    if node.op in INT16_ARITH:
        if act not in CLAMP_ACTIVATIONS or len(node.inputs) != 2 or node.attrs.get("upsample"):
            return False
        for i in node.inputs:
            c, t = graph.const(i), graph.tensors[i]
            if not (is_float(i) if is_float else t.dtype == np.float32):
                return False
            if (c is None and i not in stats) or (c is not None and not np.isfinite(c).all()):
                return False
        return True
    if len([i for i in node.inputs if i]) != 1 or node.inputs[0] not in stats or graph.tensors[node.inputs[0]].is_const:
        return False
    st = stats[node.inputs[0]]
    return tables.function_for(node.op, node.attrs, (float(st.min), float(st.max))) is not None


@dataclass
class QuantResult:
    int8_nodes: list[str]
    float_nodes: list[tuple[str, str, str]]  # (node, op, reason)
    notes: list[str]
    params: dict[str, tuple[float, int]]
    active: dict[str, tuple[float, float]] = field(default_factory=dict)  # ranges narrowed for flat readers
    int16_nodes: list[tuple[str, str, str]] = field(default_factory=list)  # (node, op, who asked)


def bfloat16_ceil(scale: np.ndarray) -> np.ndarray:
    """Positive scales rounded up to bfloat16 values, as float32. The file
    stores such scales in 2 bytes (serialize.py); rounding up keeps every
    weight inside [-127, 127], with a step at most 2^-7 (0.8 %) coarser."""
    bits = np.asarray(scale, np.float32).view(np.uint32)
    up = ((bits & 0xFFFF) != 0).astype(np.uint32) << 16
    return ((bits & np.uint32(0xFFFF0000)) + up).view(np.float32)


def quantize_int8(graph: Graph, stats: dict[str, TensorStats], opts: QuantOptions) -> QuantResult:
    ops = {n.name: n.op for n in graph.nodes}
    q = _Quantizer(graph, stats, opts)
    q.run()
    floats = [(name, ops[name], d.reason) for name, d in q.decisions.items()
              if not d.int8 and name not in q.int8_tables and d.reason != INT16_REASON]
    int16 = [(name, ops[name], q.int16_who[name]) for name, d in q.decisions.items() if d.reason == INT16_REASON]
    q.notes += [f"{name}: 16-bit activations{' with int8 weights' if op in INT16_LAYERS else ''} ({who})"
                for name, op, who in int16]
    return QuantResult([n for n, d in q.decisions.items() if d.int8], floats, q.notes, q.params, q.dont_care, int16)


def int8_rows(graph: Graph, w: np.ndarray, name: str, per_channel: bool = True) -> str:
    """A constant [rows, K] float matrix as int8, symmetric per row (or per tensor): the
    weights of a dynamic FullyConnected, an embedding table. Equal matrices give equal
    bytes and scales, so a tied embedding and output projection share one stored copy."""
    absmax = np.abs(w).max(axis=1) if per_channel else np.full(w.shape[0], np.abs(w).max())
    scale = bfloat16_ceil(np.where(absmax > 0, absmax / 127.0, 1.0))
    q = np.clip(np.rint(w / scale[:, None]), -127, 127).astype(np.int8)
    new = graph.add_const(q, name)
    graph.tensors[new].quant = QuantParams(scale if per_channel else scale[:1],
                                           np.zeros(len(scale) if per_channel else 1, np.int64),
                                           0 if per_channel else None)
    return new


def dynamic_fc_weights(graph: Graph, node: Node, per_channel: bool = True) -> bool:
    """Stores a FullyConnected's constant float weights as int8 (symmetric, per output
    channel): the runtime then quantizes x per row at run time (float in, float out)."""
    w = graph.const(node.input(1))
    if w is None or w.dtype != np.float32 or w.ndim != 2:
        return False
    node.inputs[1] = int8_rows(graph, w, f"{node.name}_wq", per_channel)
    return True


EMBEDDING_MIN_ELEMENTS = 4096  # smaller float tables stay float (a few KB; nothing to gain)


def int8_embedding(graph: Graph, node: Node, per_channel: bool = True) -> bool:
    """Stores the constant float table of a Gather along axis 0 with run-time indices (an
    embedding lookup) as int8 rows; the runtime dequantizes the rows it picks (float out)."""
    if node.op != "Gather" or node.attrs.get("axis", 0) != 0 or len(node.inputs) < 2:
        return False
    table = graph.const(node.inputs[0])
    if table is None or table.dtype != np.float32 or table.ndim != 2 or table.size < EMBEDDING_MIN_ELEMENTS \
            or graph.tensors[node.inputs[1]].is_const:
        return False
    node.inputs[0] = int8_rows(graph, table, f"{node.name}_table_q", per_channel)
    return True


def quantize_dynamic(graph: Graph, per_channel: bool = True) -> QuantResult:
    """Weights of FullyConnected (and constant-B MatMul turned FullyConnected)
    to int8, activations float and quantized per row at run time; embedding tables
    (Gather of a constant along axis 0) to int8 rows, dequantized as gathered."""
    done, floats = [], []
    for node in graph.nodes:
        if node.op == "FullyConnected" and dynamic_fc_weights(graph, node, per_channel):
            done.append(node.name)
        elif int8_embedding(graph, node, per_channel):
            done.append(node.name)
        elif node.op in DYNAMIC_CANDIDATES:  # (elementwise and data movement are fp32 here by design: no fallback)
            floats.append((node.name, node.op, "weights are not constant" if node.op == "FullyConnected"
                           else "no dynamic int8 kernel (static --quantize int8 has one)"))
    return QuantResult(done, floats, [], {})


def sqnr_db(reference: np.ndarray, approx: np.ndarray) -> float:
    noise = float(np.sum((reference.astype(np.float64) - approx.astype(np.float64)) ** 2))
    signal = float(np.sum(reference.astype(np.float64) ** 2))
    if noise == 0:
        return math.inf
    return 10 * math.log10(max(signal, 1e-30) / noise)
