"""Standard ONNX operators that nanort has no importer for, but that ONNX
defines as a function of other operators (Attention, RMSNormalization,
SoftmaxCrossEntropyLoss, NegativeLogLikelihoodLoss, RotaryEmbedding, ...),
are replaced by that function's body before import, recursively.

Each such node gets the body its schema defines for the model's opset (a
context-dependent body is built for the node's attributes and input types,
omitted optional inputs included), made a model-local function of its own;
ONNX's inliner then replaces the node by it, binding attributes, renaming
the body's values uniquely and mapping omitted inputs and outputs. The
schema's attribute defaults are written into the node first (the inliner
drops a body's reference to an attribute the node omits). Ops with an
importer are left alone (their kernel beats their body); a node whose body
cannot be built stays as it is, to be reported with the other unsupported
ops.
"""

from __future__ import annotations

from collections.abc import Iterator

import onnx
import onnx.inliner
from onnx import defs, helper

from .control_flow import subgraphs
from .importers import FOLDED_ONLY, IMPORTERS, op_key

# Bodies made of ops that are functions in turn nest this deep at most.
MAX_NESTING = 8
# The (model-local) domain of the functions made here; they are all inlined.
DOMAIN = "nanort.function_expansion"


def expand_functions(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with every expandable node replaced by its function body: a new model, or
    `model` itself (not copied: weights can be large) when nothing expands."""
    opsets = {("" if i.domain == "ai.onnx" else i.domain): i.version for i in model.opset_import}
    if not _function_schemas(model, opsets):
        return model
    result = onnx.ModelProto()
    result.CopyFrom(model)
    for _ in range(MAX_NESTING):
        calls = _make_calls(result, _function_schemas(result, opsets))
        if not calls:
            break
        result.opset_import.append(helper.make_opsetid(DOMAIN, 1))
        result.functions.extend(calls)
        try:
            inlined = onnx.inliner.inline_selected_functions(result, [(DOMAIN, f.name) for f in calls])
        except Exception:  # (the inliner asserts on what it cannot inline; the nodes stay unsupported)
            return model
        imports = [i for i in inlined.opset_import if i.domain != DOMAIN]
        del inlined.opset_import[:]
        inlined.opset_import.extend(imports)
        result = inlined
    return result


def expandable_ops() -> list[str]:
    """The ops (named as onnx_ops names them) converted through their function body, at the
    opsets whose schema defines one."""
    out = set()
    for schema in defs.get_all_schemas_with_history():
        if schema.deprecated or not (list(schema.function_opset_versions)
                                     or list(schema.context_dependent_function_opset_versions)):
            continue
        key = op_key(helper.make_node(schema.name, [], [], domain=schema.domain))
        if key not in IMPORTERS and key not in FOLDED_ONLY:
            out.add(key)
    return sorted(out)


def _nodes(g: onnx.GraphProto) -> Iterator[onnx.NodeProto]:
    for n in g.node:
        yield n
        for sub in subgraphs(n):
            yield from _nodes(sub)


FunctionSchemas = dict[tuple[str, str], tuple[defs.OpSchema, int]]


def _function_schemas(model: onnx.ModelProto, opsets: dict[str, int]) -> FunctionSchemas:
    """(domain, op type) of the graph's and its subgraphs' expandable ops -> their schema and body version."""
    out: dict = {}
    for n in _nodes(model.graph):
        if (n.domain, n.op_type) not in out:
            out[(n.domain, n.op_type)] = _function_schema(n, opsets)
    return {k: v for k, v in out.items() if v is not None}


def _make_calls(model: onnx.ModelProto, schemas: FunctionSchemas) -> list[onnx.FunctionProto]:
    """Turns every expandable node into a call of a local function holding its body; returns those functions."""
    if not schemas:
        return []
    types = _value_types(model)
    calls = []
    for n in _nodes(model.graph):
        found = schemas.get((n.domain, n.op_type))
        if found is None:
            continue
        schema, version = found
        _write_defaults(n, schema)
        body = _body(n, schema, version, types)
        if body is None:
            continue
        body.domain, body.name = DOMAIN, f"{n.op_type}.{len(calls)}"
        _read_at_model_opsets(body, model)
        n.domain, n.op_type = body.domain, body.name
        calls.append(body)
    return calls


def _read_at_model_opsets(body: onnx.FunctionProto, model: onnx.ModelProto) -> None:
    """The body's ops are read at the model's opset of their domain (the inliner takes one
    version per domain; the body's own is the newest not above the model's, so only an op
    that changed meaning between the two would read differently); a domain only the body
    uses is imported into the model."""
    own = {i.domain: i.version for i in body.opset_import}
    imported = {i.domain for i in model.opset_import}
    model.opset_import.extend(helper.make_opsetid(d, v) for d, v in own.items() if d not in imported)
    del body.opset_import[:]
    body.opset_import.extend(i for i in model.opset_import if i.domain != DOMAIN)


def _function_schema(node: onnx.NodeProto, opsets: dict[str, int]) -> tuple[defs.OpSchema, int] | None:
    """The schema of an op without importer and the newest version of its function body
    that the model's opset admits, or None."""
    key = op_key(node)
    domain = "" if node.domain == "ai.onnx" else node.domain
    if key in IMPORTERS or key in FOLDED_ONLY or domain not in opsets:
        return None
    try:
        schema = defs.get_schema(node.op_type, opsets[domain], domain)
    except defs.SchemaError:
        return None
    versions = [v for v in list(schema.function_opset_versions) + list(schema.context_dependent_function_opset_versions)
                if v <= opsets[domain]]
    return (schema, max(versions)) if versions else None


def _write_defaults(node: onnx.NodeProto, schema: defs.OpSchema) -> None:
    given = {a.name for a in node.attribute}
    node.attribute.extend(a.default_value for a in schema.attributes.values()
                          if a.default_value.name and a.name not in given)


def _body(node: onnx.NodeProto, schema: defs.OpSchema, version: int, types: dict[str, onnx.TypeProto]
          ) -> onnx.FunctionProto | None:
    body = onnx.FunctionProto()
    if version in schema.function_opset_versions:
        body.ParseFromString(schema.get_function_with_opset_version(version))
        return body
    if any(name and name not in types for name in node.input):
        return None  # (a context-dependent body needs every present input's type)
    input_types = [types[name].SerializeToString() if name else b"" for name in node.input]
    try:
        built = schema.get_context_dependent_function_with_opset_version(version, node.SerializeToString(),
                                                                         input_types)
    except Exception:  # (the builder refuses inputs it has no body for)
        return None
    body.ParseFromString(built)
    return body if body.node else None


def _value_types(model: onnx.ModelProto) -> dict[str, onnx.TypeProto]:
    """The inferred type of every value of the graph and its subgraphs (names are unique across them)."""
    try:
        typed = onnx.shape_inference.infer_shapes(model)
    except Exception:  # (context-dependent bodies then cannot be built; the nodes stay unsupported)
        typed = model
    types = {i.name: helper.make_tensor_type_proto(i.data_type, i.dims) for i in typed.graph.initializer}

    def collect(g: onnx.GraphProto) -> None:
        for vi in list(g.input) + list(g.value_info) + list(g.output):
            kind = vi.type.WhichOneof("value")
            if kind and (kind != "tensor_type" or vi.type.tensor_type.elem_type):
                types.setdefault(vi.name, vi.type)
        for n in g.node:
            for sub in subgraphs(n):
                collect(sub)

    collect(typed.graph)
    return types
