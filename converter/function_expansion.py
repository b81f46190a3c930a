"""Standard ONNX operators that nanort has no importer for, but that ONNX
defines as a function of other operators (Attention, RMSNormalization,
SoftmaxCrossEntropyLoss, NegativeLogLikelihoodLoss, RotaryEmbedding, ...),
are replaced by that function's body before import, recursively.

ONNX's own inliner does the replacement: it binds the node's attributes
(the schema's defaults are written into the node first: the inliner drops a
body's reference to an attribute the node omits), renames the body's values
uniquely, maps omitted optional inputs and outputs, and looks into subgraphs.
Context-dependent bodies are built for the node's input types, so every
value gets its inferred type first. Ops with an importer are left alone
(their kernel beats their body), and an op whose body cannot be built here
stays as it is, to be reported with the other unsupported ops.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import onnx
import onnx.inliner
from onnx import defs, helper

from .control_flow import subgraphs
from .importers import FOLDED_ONLY, IMPORTERS, op_key

# Bodies made of ops that are functions in turn nest this deep at most.
MAX_NESTING = 8
# onnx < 1.19's inliner expands model-local functions only.
INLINES_SCHEMA_FUNCTIONS = "inline_schema_functions" in inspect.signature(
    onnx.inliner.inline_selected_functions).parameters

FunctionId = tuple[str, str]  # (domain, op type), as the inliner names functions


def expand_functions(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with every expandable op replaced by its function body (a new model; `model` is unchanged)."""
    if not INLINES_SCHEMA_FUNCTIONS:
        return model
    declared = list(model.graph.value_info)
    opsets = _opsets(model)
    cannot: set[FunctionId] = set()
    expanded = False
    for _ in range(MAX_NESTING):
        wanted = _expandable(model, opsets, cannot)
        if not wanted:
            break
        for function_id in sorted(wanted):
            try:
                result = onnx.inliner.inline_selected_functions(_with_defaults(_typed(model), function_id, opsets),
                                                                [function_id], inline_schema_functions=True)
            except Exception:  # (the inliner asserts on what it cannot build: a type it cannot know, ...)
                cannot.add(function_id)
                continue
            if function_id in _function_ids(result.graph):  # no body for this opset
                cannot.add(function_id)
                continue
            model, expanded = result, True
    if expanded:  # (the inferred types served the inliner; import infers its own)
        del model.graph.value_info[:]
        model.graph.value_info.extend(declared)
    return model


def _nodes(g: onnx.GraphProto) -> Iterator[onnx.NodeProto]:
    for n in g.node:
        yield n
        for sub in subgraphs(n):
            yield from _nodes(sub)


def _function_ids(g: onnx.GraphProto) -> set[FunctionId]:
    return {(n.domain, n.op_type) for n in _nodes(g)}


def _opsets(model: onnx.ModelProto) -> dict[str, int]:
    opsets = {i.domain or "": i.version for i in model.opset_import}
    opsets.setdefault("ai.onnx", opsets.get("", 1))
    return opsets


def _expandable(model: onnx.ModelProto, opsets: dict[str, int], cannot: set[FunctionId]) -> set[FunctionId]:
    """Ops of the graph (and its subgraphs) without an importer whose schema, at the model's
    opset of their domain, defines a function body."""
    out = set()
    for domain, op_type in _function_ids(model.graph) - cannot:
        key = op_key(helper.make_node(op_type, [], [], domain=domain))
        if key not in IMPORTERS and key not in FOLDED_ONLY and domain in opsets \
                and _has_function_body(op_type, domain, opsets[domain]):
            out.add((domain, op_type))
    return out


def _has_function_body(op_type: str, domain: str, opset: int) -> bool:
    try:
        schema = defs.get_schema(op_type, opset, domain)
    except defs.SchemaError:
        return False
    versions = list(schema.function_opset_versions) + list(schema.context_dependent_function_opset_versions)
    return any(v <= opset for v in versions)


def _typed(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with every value's type stated (the inliner reads the types of a
    context-dependent function's inputs from value_info, initializers included)."""
    try:
        typed = onnx.shape_inference.infer_shapes(model)
    except Exception:  # (the inliner then refuses what needs a type nobody could infer)
        typed = onnx.ModelProto()
        typed.CopyFrom(model)
    g = typed.graph
    known = {vi.name for vi in list(g.value_info) + list(g.input) + list(g.output)}
    g.value_info.extend(helper.make_tensor_value_info(i.name, i.data_type, i.dims)
                        for i in g.initializer if i.name not in known)
    return typed


def _with_defaults(model: onnx.ModelProto, function_id: FunctionId, opsets: dict[str, int]) -> onnx.ModelProto:
    """The model with the schema's default written into every node of function_id that omits an attribute."""
    domain, op_type = function_id
    defaults = [a.default_value for a in defs.get_schema(op_type, opsets[domain], domain).attributes.values()
                if a.default_value.name]
    for n in _nodes(model.graph):
        if (n.domain, n.op_type) == function_id:
            given = {a.name for a in n.attribute}
            n.attribute.extend(d for d in defaults if d.name not in given)
    return model
