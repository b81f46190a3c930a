"""NHWC layout: the runtime's convolutions, pools and depth/space ops work on
channels-last tensors (what int8 dot-product kernels want), while importers
emit the source model's NCHW semantics. This pass gives every tensor a
physical permutation and rewrites the graph so each op sees what it needs:

* NHWC ops get NHWC inputs (their weights are permuted at convert time);
* layout-agnostic ops (elementwise, broadcasting, axis ops) follow their
  input's permutation, with axis attributes and constant operands remapped;
* every other op gets plain (logical-order) inputs, through a Transpose
  inserted once per tensor.

Graph inputs and outputs keep the source layout unless nhwc_io is set.
Tensor.perm[j] is the logical axis that physical axis j holds.
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph, Node, QuantParams, Tensor
from ..schema_map import OPTIONS_TABLE

NHWC = (0, 2, 3, 1)
NHWC_OPS = {"Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
            "DepthToSpace", "SpaceToDepth"}
ELEMENTWISE = {op for op, table in OPTIONS_TABLE.items() if table == "UnaryOptions"} | {
    "Clip", "Cast", "Lut"}
BROADCAST = {op for op, table in OPTIONS_TABLE.items() if table == "BinaryOptions"} | {"Where"}
# ops with one `axis` attribute (logical) that the pass can remap
SINGLE_AXIS = {"Softmax", "LogSoftmax", "Hardmax", "CumSum", "CumProd", "LpNormalization", "BatchNormalization",
               "InstanceNormalization"}
REDUCE = {op for op, table in OPTIONS_TABLE.items() if table == "ReduceOptions"}


def _identity(rank: int) -> tuple[int, ...]:
    return tuple(range(rank))


def _inverse(p: tuple[int, ...]) -> tuple[int, ...]:
    inv = [0] * len(p)
    for j, a in enumerate(p):
        inv[a] = j
    return tuple(inv)


def _permuted_quant(t: Tensor, target: tuple[int, ...]) -> QuantParams | None:
    """A constant's quantization annotation after its axes are permuted."""
    q = t.quant
    if q is None or q.axis is None:
        return q
    return QuantParams(q.scale, q.zero_point, target.index(q.axis))


class _Layout:
    """Shapes stay logical while the pass runs; `finish` makes them physical."""

    def __init__(self, graph: Graph):
        self.g = graph
        self.converted: dict[tuple[str, tuple[int, ...] | None], str] = {}
        self.out: list[Node] = []

    def perm_of(self, name: str) -> tuple[int, ...] | None:
        return self.g.tensors[name].perm if name else None

    def set_perm(self, name: str, p: tuple[int, ...] | None) -> None:
        self.g.tensors[name].perm = None if p is None or p == _identity(len(p)) else tuple(p)

    def as_perm(self, name: str, target: tuple[int, ...] | None) -> str:
        """A tensor holding `name`'s values with physical permutation `target`."""
        if not name:
            return name
        t = self.g.tensors[name]
        src = t.perm
        tgt = None if target is None or target == _identity(len(target)) else tuple(target)
        if src == tgt:
            return name
        key = (name, tgt)
        if key not in self.converted:
            rank = len(tgt or src)
            inv = _inverse(src or _identity(rank))
            phys = [inv[a] for a in (tgt or _identity(rank))]
            if t.is_const:
                new = self.g.add_const(np.transpose(t.data, phys), f"{name}_perm")
                self.g.tensors[new].shape = t.shape
                self.g.tensors[new].quant = _permuted_quant(t, tgt or _identity(rank))
            else:
                new = self.g.fresh_name(f"{name}_perm")
                self.g.add_tensor(new, t.dtype, t.shape)
                self.out.append(Node("Transpose", [name], [new], {"perm": phys}, f"{name}/to_layout"))
            self.set_perm(new, tgt)
            self.converted[key] = new
        return self.converted[key]

    def plain(self, name: str) -> str:
        return self.as_perm(name, None)

    def output_like(self, node: Node, p: tuple[int, ...] | None) -> None:
        for o in node.outputs:
            if o:
                self.set_perm(o, p)

    # -- per-op rules -------------------------------------------------------
    def visit(self, node: Node) -> None:
        op = node.op
        if op in NHWC_OPS:
            self.nhwc_op(node)
        elif op in ELEMENTWISE:
            p = self.perm_of(node.inputs[0])
            node.inputs = [node.inputs[0]] + [self.plain(i) for i in node.inputs[1:]]
            self.out.append(node)
            self.output_like(node, p)
        elif op in BROADCAST:
            self.broadcast(node)
        elif op == "DynamicQuantizeLinear" or (op in ("QuantizeLinear", "DequantizeLinear") and self.per_tensor(node)):
            self.per_tensor_quantization(node)
        elif op in SINGLE_AXIS and not (op in ("CumSum", "CumProd") and len(node.inputs) > 1):
            self.single_axis(node)  # (a run-time axis counts in logical terms: those get plain inputs below)
        elif op in REDUCE:
            self.reduce(node)
        elif op == "Concat":
            self.concat(node)
        elif op == "Split":
            p = self.perm_of(node.inputs[0])
            if p is not None:
                node.attrs["axis"] = p.index(self._norm_axis(node.attrs.get("axis", 0), len(p)))
            node.inputs = [node.inputs[0]] + [self.plain(i) for i in node.inputs[1:]]
            self.out.append(node)
            self.output_like(node, p)
        elif op == "Transpose":
            self.transpose(node)
        elif op == "Shape":
            p = self.perm_of(node.inputs[0])
            if p is not None:
                node.attrs["perm"] = list(p)
            self.out.append(node)
            self.output_like(node, None)
        elif op == "Slice":
            self.slice(node)
        elif op == "Pad":
            self.pad(node)
        elif op == "Resize":
            self.resize(node)
        else:
            node.inputs = [self.plain(i) for i in node.inputs]
            self.out.append(node)
            self.output_like(node, None)

    @staticmethod
    def _norm_axis(axis: int, rank: int) -> int:
        return axis + rank if axis < 0 else axis

    def nhwc_op(self, node: Node) -> None:
        x = self.g.tensors[node.inputs[0]]
        if x.rank != 4:
            raise ValueError(f"{node.op} node {node.name!r}: the runtime implements it for 4-D tensors only")
        ins = [self.as_perm(node.inputs[0], NHWC)]
        if node.op in ("Conv", "ConvTranspose"):
            ins.append(self.as_perm(node.inputs[1], NHWC))  # OIHW -> OHWI, IOHW -> IHWO
            ins += [self.plain(i) for i in node.inputs[2:]]
        else:
            ins += [self.plain(i) for i in node.inputs[1:]]
        node.inputs = ins
        self.out.append(node)
        self.output_like(node, NHWC)

    def broadcast(self, node: Node) -> None:
        out_rank = self.g.tensors[node.outputs[0]].rank
        target = None
        for i in node.inputs:
            p = self.perm_of(i) if i else None
            if p is not None and len(p) == out_rank:
                target = p
                break
        if target is None:
            node.inputs = [self.plain(i) for i in node.inputs]
        else:
            node.inputs = [self.aligned(i, target) for i in node.inputs]
        self.out.append(node)
        self.output_like(node, target)

    def aligned(self, name: str, target: tuple[int, ...]) -> str:
        """`name` broadcast-compatible with tensors of physical permutation `target`."""
        if not name:
            return name
        t = self.g.tensors[name]
        rank = len(target)
        if t.rank == rank or t.rank is None:
            return self.as_perm(name, target)
        src = self.plain(name)
        st = self.g.tensors[src]
        missing = rank - (st.rank or 0)
        if st.is_const:
            data = st.data.reshape((1,) * missing + st.data.shape)
            new = self.g.add_const(np.transpose(data, target), f"{name}_bcast")
            self.g.tensors[new].shape = data.shape
            self.set_perm(new, target)
            return new
        # non-constant lower-rank operand: unsqueeze to full rank, then permute
        shape = None if st.shape is None else (1,) * missing + tuple(st.shape)
        up = self.g.fresh_name(f"{name}_rank{rank}")
        self.g.add_tensor(up, st.dtype, shape)
        axes = self.g.add_const(np.arange(missing, dtype=np.int64), f"{name}_axes")
        self.out.append(Node("Unsqueeze", [src, axes], [up], {}, f"{name}/unsqueeze"))
        return self.as_perm(up, target)

    def single_axis(self, node: Node) -> None:
        p = self.perm_of(node.inputs[0])
        if p is not None:
            default = 1 if node.op in ("BatchNormalization", "InstanceNormalization") else -1
            node.attrs["axis"] = p.index(self._norm_axis(node.attrs.get("axis", default), len(p)))
        node.inputs = [node.inputs[0]] + [self.plain(i) for i in node.inputs[1:]]
        self.out.append(node)
        self.output_like(node, p)

    def per_tensor(self, node: Node) -> bool:
        """A Quantize / Dequantize with one scale and zero point: elementwise in any layout."""
        return all(self.g.tensors[i].shape is not None and int(np.prod(self.g.tensors[i].shape)) == 1
                   for i in node.inputs[1:] if i)

    def per_tensor_quantization(self, node: Node) -> None:
        """Output 0 keeps input 0's layout (the range of DynamicQuantizeLinear is the whole
        tensor's in any order); scales and zero points are plain."""
        p = self.perm_of(node.inputs[0])
        node.inputs = [node.inputs[0]] + [self.plain(i) for i in node.inputs[1:]]
        self.out.append(node)
        self.set_perm(node.outputs[0], p)
        for o in node.outputs[1:]:
            if o:
                self.set_perm(o, None)

    def reduce(self, node: Node) -> None:
        if len(node.inputs) > 1:  # axes computed at run time name the logical layout's axes
            node.inputs[0] = self.plain(node.inputs[0])
        p = self.perm_of(node.inputs[0])
        node.inputs = [node.inputs[0]] + [self.plain(i) for i in node.inputs[1:]]
        self.out.append(node)
        if p is None:
            self.output_like(node, None)
            return
        rank = len(p)
        if node.op in ("ArgMax", "ArgMin"):
            axes = [self._norm_axis(node.attrs.get("axes", [0])[0], rank)]
        else:
            axes = [self._norm_axis(a, rank) for a in node.attrs.get("axes", [])]
            if not axes:
                axes = [] if node.attrs.get("noop_with_empty_axes") else list(range(rank))
        node.attrs["axes"] = sorted(p.index(a) for a in axes) if node.op not in ("ArgMax", "ArgMin") \
            else [p.index(axes[0])]
        if node.attrs.get("keepdims", True):
            self.output_like(node, p)
            return
        remaining = [a for a in p if a not in axes]
        order = sorted(remaining)
        self.output_like(node, tuple(order.index(a) for a in remaining))

    def concat(self, node: Node) -> None:
        out_rank = self.g.tensors[node.outputs[0]].rank
        target = next((self.perm_of(i) for i in node.inputs if self.perm_of(i) is not None), None)
        if target is not None and len(target) == out_rank:
            node.inputs = [self.as_perm(i, target) for i in node.inputs]
            node.attrs["axis"] = target.index(self._norm_axis(node.attrs.get("axis", 0), out_rank))
        else:
            target = None
            node.inputs = [self.plain(i) for i in node.inputs]
        self.out.append(node)
        self.output_like(node, target)

    def transpose(self, node: Node) -> None:
        p = self.perm_of(node.inputs[0])
        if p is None:
            if node.attrs.get("perm") and _inverse(tuple(node.attrs["perm"])) == NHWC:
                # NHWC -> NCHW of a plain tensor (before a TensorFlow model's convolutions): the
                # bytes are already in the runtime's NHWC order, so nothing moves.
                node.op, node.attrs = "Identity", {}
                self.out.append(node)
                self.output_like(node, NHWC)
                return
            self.out.append(node)
            self.output_like(node, None)
            return
        rank = len(p)
        q = node.attrs.get("perm") or list(reversed(range(rank)))
        inv = _inverse(p)
        phys = [inv[a] for a in q]
        node.attrs["perm"] = phys
        if phys == list(range(rank)):
            node.op, node.attrs = "Identity", {}
        self.out.append(node)
        self.output_like(node, None)

    def _const_input(self, node: Node, i: int) -> np.ndarray | None:
        return self.g.const(node.input(i))

    def slice(self, node: Node) -> None:
        p = self.perm_of(node.inputs[0])
        starts = self._const_input(node, 1)
        axes = self._const_input(node, 3)
        if p is None or starts is None or (node.input(3) and axes is None):
            node.inputs = [self.plain(i) for i in node.inputs]
            self.out.append(node)
            self.output_like(node, None)
            return
        rank = len(p)
        if axes is None:
            axes = np.arange(len(starts), dtype=np.int64)
        phys_axes = np.array([p.index(self._norm_axis(int(a), rank)) for a in axes], dtype=np.int64)
        ins = list(node.inputs) + [""] * (5 - len(node.inputs))
        ins[3] = self.g.add_const(phys_axes, f"{node.name}_axes")
        node.inputs = [ins[0]] + [self.plain(i) for i in ins[1:]]
        while node.inputs and node.inputs[-1] == "":
            node.inputs.pop()
        self.out.append(node)
        self.output_like(node, p)

    def pad(self, node: Node) -> None:
        p = self.perm_of(node.inputs[0])
        pads = self._const_input(node, 1)
        if p is None or pads is None or node.input(3):
            node.inputs = [self.plain(i) for i in node.inputs]
            self.out.append(node)
            self.output_like(node, None)
            return
        rank = len(p)
        pads = pads.reshape(2, rank)
        node.inputs = [node.inputs[0], self.g.add_const(pads[:, list(p)].reshape(-1).astype(np.int64),
                                                        f"{node.name}_pads")] + \
            [self.plain(i) for i in node.inputs[2:]]
        self.out.append(node)
        self.output_like(node, p)

    def resize(self, node: Node) -> None:
        p = self.perm_of(node.inputs[0])
        if p is None:
            node.inputs = [node.inputs[0]] + [self.plain(i) for i in node.inputs[1:]]
            self.out.append(node)
            self.output_like(node, None)
            return
        if node.attrs.get("axes"):
            node.attrs["axes"] = [p.index(self._norm_axis(a, len(p))) for a in node.attrs["axes"]]
            # per-axis vectors follow the (remapped) axes order: nothing else to permute
            node.inputs = [node.inputs[0]] + [self.plain(i) for i in node.inputs[1:]]
        else:
            ins = [node.inputs[0]]
            # With any vector computed at run time the runtime reorders them all
            # through `perm`, so none may be permuted here.
            dynamic = any(name and self.g.const(name) is None for name in node.inputs[1:])
            for k in range(1, len(node.inputs)):
                name = node.inputs[k]
                value = self.g.const(name)
                if dynamic or not name or value is None or value.size == 0:
                    ins.append(self.plain(name))
                    continue
                if k == 1:  # roi: [starts..., ends...]
                    value = value.reshape(2, -1)[:, list(p)].reshape(-1)
                else:
                    value = value[list(p)]
                ins.append(self.g.add_const(value, f"{node.name}_in{k}"))
            if dynamic:
                node.attrs["perm"] = list(p)
            node.inputs = ins
        self.out.append(node)
        self.output_like(node, p)


def _keep_output_layout(graph: Graph, lay: _Layout, nhwc_io: bool) -> None:
    """Graph outputs in the source layout (NHWC for 4-D ones with nhwc_io)."""
    for k, name in enumerate(graph.outputs):
        t = graph.tensors[name]
        want = NHWC if nhwc_io and t.perm == NHWC else None
        if t.perm == want or t.is_const:
            continue
        internal = graph.fresh_name(f"{name}_internal")
        for n in graph.nodes:
            n.outputs = [internal if o == name else o for o in n.outputs]
            n.inputs = [internal if i == name else i for i in n.inputs]
        del graph.tensors[name]
        t.name = internal
        graph.tensors[internal] = t
        lay.out = graph.nodes
        converted = lay.as_perm(internal, want)
        graph.nodes[-1].outputs = [name]
        graph.tensors[name] = graph.tensors.pop(converted)
        graph.tensors[name].name = name
        graph.outputs[k] = name


def _make_shapes_physical(graph: Graph) -> None:
    for t in graph.tensors.values():
        if t.perm is not None and t.shape is not None and len(t.shape) == len(t.perm):
            t.shape = tuple(t.shape[a] for a in t.perm)


def run(graph: Graph, nhwc_io: bool = False) -> None:
    if not any(n.op in NHWC_OPS for n in graph.nodes):
        return
    lay = _Layout(graph)
    for name in graph.inputs:
        if nhwc_io and graph.tensors[name].rank == 4:
            lay.set_perm(name, NHWC)
    for node in graph.nodes:
        lay.visit(node)
    graph.nodes = lay.out
    _keep_output_layout(graph, lay, nhwc_io)
    _make_shapes_physical(graph)
