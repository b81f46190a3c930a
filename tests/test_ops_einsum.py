"""Einsum (lowered to Transpose / Reshape / MatMul / ReduceSum / Mul) against
onnxruntime. (The ONNX node tests for Einsum are float64, which nanort's
MatMul does not take.)"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import nanort

CASES = [
    ("bhid,bhjd->bhij", [(2, 3, 5, 4), (2, 3, 6, 4)]),  # attention scores
    ("bhij,bhjd->bhid", [(2, 3, 5, 6), (2, 3, 6, 4)]),  # attention context
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ij->ji", [(3, 4)]),
    ("ijk->j", [(3, 4, 5)]),
    ("bi,bi->b", [(3, 4), (3, 4)]),
    ("i,j->ij", [(3,), (4,)]),
    ("abc,cd->abd", [(2, 3, 4), (4, 5)]),
    ("...ij,...jk", [(2, 3, 4), (2, 4, 5)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("abcd,cde->abe", [(2, 3, 4, 5), (4, 5, 6)]),
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
]


@pytest.mark.parametrize("equation, shapes", CASES, ids=[c[0] for c in CASES])
def test_einsum_matches_onnxruntime(tmp_path, equation, shapes):
    names = [f"x{i}" for i in range(len(shapes))]
    model = helper.make_model(helper.make_graph(
        [helper.make_node("Einsum", names, ["y"], equation=equation)], "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in zip(names, shapes)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]), opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(model, tmp_path / "e.onnx")
    rng = np.random.default_rng(0)
    feeds = {n: rng.standard_normal(s).astype(np.float32) for n, s in zip(names, shapes)}
    want = ort.InferenceSession(str(tmp_path / "e.onnx"), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    nanort.convert(tmp_path / "e.onnx", tmp_path / "e.nrt")
    with nanort.Model(tmp_path / "e.nrt") as m:
        got = m.run(feeds)["y"]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_einsum_diagonal_is_refused_by_name(tmp_path):
    model = helper.make_model(helper.make_graph(
        [helper.make_node("Einsum", ["x"], ["y"], equation="ii->i", name="diag")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, (3, 3))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]), opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(model, tmp_path / "e.onnx")
    with pytest.raises(nanort.UnsupportedOpError, match=r"Einsum x1 \(node 'diag' \(repeated letters"):
        nanort.convert(tmp_path / "e.onnx", tmp_path / "e.nrt")
