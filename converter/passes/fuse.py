"""Pattern fusions: the decomposed forms exporters write for common
functions become the runtime's single ops (HardSwish, SiLU, GELU,
LayerNormalization), constant-weight MatMul becomes FullyConnected, and an
activation that follows a Conv / FullyConnected / MatMul / Add is fused into
it so its output is written once."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nanort.schema.ActivationKind import ActivationKind

from ..ir import Graph, Node
from .patterns import Matcher, is_scalar, other_input, scalar


def _replace(graph: Graph, first: Node, removed: list[Node], new: Node) -> None:
    """Puts `new` where `first` was and deletes `removed` (which includes `first`)."""
    graph.nodes[graph.nodes.index(first)] = new
    for n in removed:
        if n is not first and n in graph.nodes:
            graph.nodes.remove(n)


def _hardswish_root(m: Matcher, g: Graph, node: Node) -> tuple[str, list[Node]] | None:
    """x * clip(x + 3, 0, 6) / 6 in the orders exporters write it."""
    def relu6_of_x_plus_3(name: str) -> tuple[str, list[Node]] | None:
        clip = m.prod(name, "Clip")
        if clip is None or clip.attrs.get("min") != 0.0 or clip.attrs.get("max") != 6.0 or len(clip.inputs) > 1:
            return None
        add = m.prod(clip.inputs[0], "Add")
        if add is None:
            return None
        for x, c in (add.inputs, add.inputs[::-1]):
            if is_scalar(g, c, 3.0):
                return x, [add, clip]
        return None

    def mul_x_clip(name: str) -> tuple[str, list[Node]] | None:
        mul = m.prod(name, "Mul")
        if mul is None:
            return None
        for a, b in (mul.inputs, mul.inputs[::-1]):
            hit = relu6_of_x_plus_3(b)
            if hit and hit[0] == a:
                return a, hit[1] + [mul]
        return None

    # (x * relu6(x + 3)) / 6   or   (x * relu6(x + 3)) * (1/6)
    if (node.op == "Div" and is_scalar(g, node.inputs[1], 6.0)) or (
            node.op == "Mul" and any(is_scalar(g, i, 1 / 6) for i in node.inputs)):
        inner = node.inputs[0] if node.op == "Div" or is_scalar(g, node.inputs[1], 1 / 6) else node.inputs[1]
        hit = mul_x_clip(inner)
        if hit:
            return hit[0], hit[1] + [node]
    # x * (relu6(x + 3) / 6)   or   x * hardsigmoid(x; 1/6, 1/2)
    if node.op == "Mul":
        for x, other in (node.inputs, node.inputs[::-1]):
            hs = m.prod(other, "HardSigmoid")
            if hs and hs.inputs[0] == x and math.isclose(hs.attrs.get("alpha", 0.2), 1 / 6, rel_tol=1e-5) \
                    and hs.attrs.get("beta", 0.5) == 0.5:
                return x, [hs, node]
            div = m.prod(other, "Div")
            if div and is_scalar(g, div.inputs[1], 6.0):
                hit = relu6_of_x_plus_3(div.inputs[0])
                if hit and hit[0] == x:
                    return x, hit[1] + [div, node]
    return None


def _silu_root(m: Matcher, node: Node) -> tuple[str, list[Node]] | None:
    if node.op != "Mul":
        return None
    for x, other in (node.inputs, node.inputs[::-1]):
        sig = m.prod(other, "Sigmoid")
        if sig and sig.inputs[0] == x:
            return x, [sig, node]
    return None


def _gelu_root(m: Matcher, g: Graph, node: Node) -> tuple[str, list[Node]] | None:
    """0.5 * x * (1 + erf(x / sqrt(2))), the forms PyTorch / HF exports write."""
    def erf_part(name: str) -> tuple[str, list[Node]] | None:
        add = m.prod(name, "Add")
        if add is None:
            return None
        erf_out = other_input(add, add.inputs[0]) if is_scalar(g, add.inputs[0], 1.0) else (
            add.inputs[0] if is_scalar(g, add.inputs[1], 1.0) else None)
        erf = m.prod(erf_out, "Erf") if erf_out else None
        if erf is None:
            return None
        scale = m.prod(erf.inputs[0], ("Div", "Mul"))
        if scale is None:
            return None
        x, c = scale.inputs
        ok = is_scalar(g, c, math.sqrt(2), 1e-4) if scale.op == "Div" else is_scalar(g, c, 1 / math.sqrt(2), 1e-4)
        return (x, [scale, erf, add]) if ok else None

    if node.op != "Mul":
        return None
    # (x * erfpart) * 0.5
    for inner, half in (node.inputs, node.inputs[::-1]):
        if not is_scalar(g, half, 0.5):
            continue
        mul = m.prod(inner, "Mul")
        if mul is None:
            continue
        for x, e in (mul.inputs, mul.inputs[::-1]):
            hit = erf_part(e)
            if hit and hit[0] == x:
                return x, hit[1] + [mul, node]
    # (x * 0.5) * erfpart   or   x * (0.5 * erfpart)
    for a, b in (node.inputs, node.inputs[::-1]):
        hit = erf_part(b)
        if hit is None:
            continue
        half = m.prod(a, "Mul")
        if half and any(is_scalar(g, i, 0.5) for i in half.inputs):
            x = half.inputs[0] if is_scalar(g, half.inputs[1], 0.5) else half.inputs[1]
            if x == hit[0]:
                return x, hit[1] + [half, node]
    return None


def _layernorm_root(m: Matcher, g: Graph, node: Node) -> tuple[list[str], dict, list[Node]] | None:
    """ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div (+ Mul gamma, Add beta) over the last axes."""
    if node.op != "Div":
        return None
    sub = m.prod(node.inputs[0], "Sub")
    sqrt = m.prod(node.inputs[1], "Sqrt")
    if sub is None or sqrt is None:
        return None
    mean = m.prod(sub.inputs[1], "ReduceMean")
    add = m.prod(sqrt.inputs[0], "Add")
    if mean is None or add is None or mean.inputs[0] != sub.inputs[0]:
        return None
    var_name, eps_name = (add.inputs if g.const(add.inputs[1]) is not None else add.inputs[::-1])
    eps = scalar(g, eps_name)
    var = m.prod(var_name, "ReduceMean")
    pow_ = m.prod(var.inputs[0], "Pow") if var else None
    if eps is None or var is None or pow_ is None or pow_.inputs[0] != sub.outputs[0] \
            or not is_scalar(g, pow_.inputs[1], 2.0):
        return None
    x = sub.inputs[0]
    rank = g.tensors[x].rank
    axes = mean.attrs.get("axes")
    if rank is None or not axes or var.attrs.get("axes") != axes or not mean.attrs.get("keepdims", True) \
            or not var.attrs.get("keepdims", True):
        return None
    norm = sorted(a % rank for a in axes)
    if norm != list(range(rank - len(norm), rank)):
        return None
    removed = [mean, sub, pow_, var, add, sqrt, node]
    feature_shape = g.tensors[x].shape[rank - len(norm):]
    if not all(isinstance(d, int) for d in feature_shape):
        return None
    gamma, beta, out = None, None, node.outputs[0]
    mul = m.only_consumer(out)
    if mul and mul.op == "Mul":
        c = other_input(mul, out)
        if c and g.const(c) is not None and g.tensors[mul.outputs[0]].shape == g.tensors[out].shape:
            gamma, out = c, mul.outputs[0]
            removed.append(mul)
            addb = m.only_consumer(out)
            if addb and addb.op == "Add":
                c = other_input(addb, out)
                if c and g.const(c) is not None and g.tensors[addb.outputs[0]].shape == g.tensors[out].shape:
                    beta, out = c, addb.outputs[0]
                    removed.append(addb)
    if any(len(m.consumers.get(n.outputs[0], [])) > 1 for n in (mean, pow_, var, add, sqrt)) or \
            len(m.consumers.get(sub.outputs[0], [])) != 2:
        return None
    size = int(np.prod(feature_shape))
    gamma_v = np.ones(size, np.float32) if gamma is None else np.broadcast_to(g.const(gamma), feature_shape)
    beta_v = np.zeros(size, np.float32) if beta is None else np.broadcast_to(g.const(beta), feature_shape)
    inputs = [x, g.add_const(np.array(gamma_v, np.float32).reshape(feature_shape), "ln_gamma"),
              g.add_const(np.array(beta_v, np.float32).reshape(feature_shape), "ln_beta")]
    return inputs, {"axis": rank - len(norm), "epsilon": float(eps), "out": out}, removed


def fuse_patterns(graph: Graph) -> None:
    m = Matcher(graph)
    changed = True
    while changed:
        changed = False
        for node in list(graph.nodes):
            if node not in graph.nodes:
                continue
            fused = None
            for op, root in (("HardSwish", _hardswish_root(m, graph, node)), ("Silu", _silu_root(m, node)),
                             ("Gelu", _gelu_root(m, graph, node))):
                if root and _internal_only(m, root[1], node):
                    fused = Node(op, [root[0]], [node.outputs[0]], {}, node.name)
                    _replace(graph, root[1][0], root[1], fused)
                    break
            if fused is None:
                ln = _layernorm_root(m, graph, node)
                if ln:
                    inputs, attrs, removed = ln
                    out = attrs.pop("out")
                    fused = Node("LayerNormalization", inputs, [out], attrs, node.name)
                    _replace(graph, removed[0], removed, fused)
            if fused is not None:
                m.refresh()
                changed = True


def _smaller_broadcast(x_shape: tuple, s_shape: tuple) -> bool:
    """s broadcasts to x's shape without enlarging it and has fewer elements (a per-channel vector)."""
    if len(s_shape) > len(x_shape):
        return False
    tail = x_shape[len(x_shape) - len(s_shape):]
    fits = all(d == 1 or d == xd for d, xd in zip(s_shape, tail, strict=True))
    return fits and (len(s_shape) < len(x_shape) or any(d == 1 and xd != 1 for d, xd in zip(s_shape, tail)))


def fold_residual_scale(graph: Graph) -> None:
    """x + x * s -> x * (s + 1) for a small s (per channel: the squeeze-excite
    residual x + x * hardsigmoid(...) of PP-OCRv4 det's neck): one pass over
    the full-size tensor instead of two, and in int8 one requantization fewer
    (s + 1 joins s's lookup table)."""
    m = Matcher(graph)
    for add in list(graph.iter_nodes("Add")):
        if len(add.inputs) != 2 or add.attrs:
            continue
        for x, scaled in (add.inputs, add.inputs[::-1]):
            mul = m.prod(scaled, "Mul")
            s = other_input(mul, x) if mul is not None and not mul.attrs else None
            if s is None or s == x or m.only_consumer(scaled) is not add:
                continue
            tx, ts, ty = graph.tensors.get(x), graph.tensors.get(s), graph.tensors[add.outputs[0]]
            if tx is None or ts is None or tx.shape is None or ts.shape is None or tx.dtype.kind != "f":
                continue
            if tx.shape != ty.shape or ts.dtype != tx.dtype or not _smaller_broadcast(tx.shape, ts.shape):
                continue
            s1 = graph.fresh_name(f"{s}_plus_one")
            graph.add_tensor(s1, ts.dtype, ts.shape)
            graph.nodes.insert(graph.nodes.index(mul),
                               Node("Add", [s, graph.add_const(np.ones((), ts.dtype), "one")], [s1], {},
                                    f"{add.name}/scale_plus_one"))
            mul.inputs, mul.outputs = [x, s1], [add.outputs[0]]
            graph.nodes.remove(add)
            m.refresh()
            break


def _internal_only(m: Matcher, nodes: list[Node], last: Node) -> bool:
    """Every intermediate result of the pattern is used only inside it."""
    inside = {id(n) for n in nodes}
    for n in nodes:
        if n is last:
            continue
        for o in n.outputs:
            if o in m.graph_outputs or any(id(c) not in inside for c in m.consumers.get(o, [])):
                return False
    return True


def fully_connected_from_matmul(graph: Graph, matmul: Node, bias: np.ndarray | None = None,
                                output: str | None = None) -> Node | None:
    """A FullyConnected node equivalent to `matmul` (+ `bias` per column), or
    None when B is not a constant 2-D matrix. The caller replaces the MatMul
    (and the Add it folded) with the returned node; `output` defaults to the
    MatMul's output."""
    b = graph.const(matmul.inputs[1])
    if b is None or b.ndim != 2 or b.dtype != np.float32:
        return None
    n = b.shape[1]
    inputs = [matmul.inputs[0], graph.add_const(np.ascontiguousarray(b.T), f"{matmul.name}/W")]
    if bias is not None:
        bias = np.asarray(bias, np.float32)
        if bias.size not in (1, n) or (bias.ndim > 1 and bias.shape[:-1] != (1,) * (bias.ndim - 1)):
            return None
        inputs.append(graph.add_const(np.ascontiguousarray(np.broadcast_to(bias.reshape(-1), (n,))),
                                      f"{matmul.name}/bias"))
    attrs: dict[str, Any] = {"keep_dims": True}
    if "activation" in matmul.attrs:
        attrs["activation"] = matmul.attrs["activation"]
    return Node("FullyConnected", inputs, [output or matmul.outputs[0]], attrs, matmul.name)


def matmul_to_fully_connected(graph: Graph) -> None:
    """MatMul(x, B const [K, N]) (+ Add of a per-column constant) -> FullyConnected(x, B^T, bias)."""
    m = Matcher(graph)
    for node in list(graph.nodes):
        x = graph.tensors[node.inputs[0]] if node.op == "MatMul" else None
        if x is None or x.rank is None or x.rank < 2:
            continue
        out, bias, add = node.outputs[0], None, m.only_consumer(node.outputs[0])
        if add is not None and add.op == "Add" and "activation" not in node.attrs:
            other = other_input(add, out)
            value = graph.const(other) if other else None
            if value is not None and graph.tensors[add.outputs[0]].shape == graph.tensors[out].shape:
                bias, out = value, add.outputs[0]
        fc = fully_connected_from_matmul(graph, node, bias, out)
        if fc is None and bias is not None:
            bias, out, fc = None, node.outputs[0], fully_connected_from_matmul(graph, node, None)
        if fc is None:
            continue
        if bias is not None:
            graph.nodes.remove(add)
        graph.nodes[graph.nodes.index(node)] = fc
        m.refresh()


ACTIVATIONS = {
    "Relu": lambda n: (ActivationKind.RELU, 0.0, 0.0),
    "LeakyRelu": lambda n: (ActivationKind.LEAKY_RELU, n.attrs.get("alpha", 0.01), 0.0),
    "HardSigmoid": lambda n: (ActivationKind.HARD_SIGMOID, n.attrs.get("alpha", 0.2), n.attrs.get("beta", 0.5)),
    "HardSwish": lambda n: (ActivationKind.HARD_SWISH, 0.0, 0.0),
    "Sigmoid": lambda n: (ActivationKind.SIGMOID, 0.0, 0.0),
    "Silu": lambda n: (ActivationKind.SILU, 0.0, 0.0),
    "Tanh": lambda n: (ActivationKind.TANH, 0.0, 0.0),
    "Gelu": lambda n: None if n.attrs.get("approximate_tanh") else (ActivationKind.GELU, 0.0, 0.0),
    "Clip": lambda n: None if len(n.inputs) > 1 else (
        ActivationKind.CLIP, n.attrs.get("min", -np.inf), n.attrs.get("max", np.inf)),
}
FUSE_INTO = {"Conv", "ConvTranspose", "FullyConnected", "MatMul", "Add"}


def fuse_activations(graph: Graph, only_clamps: bool = False) -> None:
    m = Matcher(graph)
    allowed = {"Relu", "Clip"} if only_clamps else set(ACTIVATIONS)
    for node in list(graph.nodes):
        if node.op not in FUSE_INTO or "activation" in node.attrs:
            continue
        out = node.outputs[0]
        if graph.tensors[out].dtype != np.float32:
            continue
        act = m.only_consumer(out)
        if act is None or act.op not in allowed or act.inputs[0] != out:
            continue
        params = ACTIVATIONS[act.op](act)
        if params is None:
            continue
        node.attrs["activation"] = params
        node.outputs = [act.outputs[0]]
        graph.nodes.remove(act)
        m.refresh()
