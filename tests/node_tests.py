"""Runs ONNX backend node test cases through nanort (convert -> run) and
compares with the outputs the test case ships (computed by ONNX's reference
implementation), with the tolerances ONNX's own backend runner uses."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

import nanort
from nanort.converter import convert_graph
from nanort.converter.serialize import serialize

RTOL, ATOL = 1e-3, 1e-7
# Cases whose outputs are loose by nature get ONNX's own looser tolerance.
LOOSE = {"test_erf": 1e-4}


@dataclass
class CaseResult:
    name: str
    status: str  # "pass", "fail", "unsupported" (an UnsupportedError), "refused" (another ConversionError)
    message: str = ""


def _load_tensors(files: list[str]) -> list[np.ndarray] | None:
    out = []
    for f in files:
        proto = onnx.TensorProto()
        try:
            proto.ParseFromString(Path(f).read_bytes())
            out.append(numpy_helper.to_array(proto))
        except Exception:
            return None  # sequences / optionals: not tensors
    return out


def run_case(case_dir: Path) -> CaseResult:
    name = case_dir.name
    try:
        model = onnx.load(str(case_dir / "model.onnx"))
    except Exception as e:
        return CaseResult(name, "unsupported", f"cannot load: {e}")
    data_sets = sorted(glob.glob(str(case_dir / "test_data_set_*")))
    try:
        graph = convert_graph(model)
        blob = serialize(graph)
        m = nanort.Model(blob, check_finite=False)
    except nanort.UnsupportedError as e:
        return CaseResult(name, "unsupported", str(e))
    except nanort.ConversionError as e:
        return CaseResult(name, "refused", f"conversion: {e}")
    with m:
        for ds in data_sets:
            inputs = _load_tensors(sorted(glob.glob(os.path.join(ds, "input_*.pb")),
                                          key=lambda p: int(p.rsplit("_", 1)[1][:-3])))
            expected = _load_tensors(sorted(glob.glob(os.path.join(ds, "output_*.pb")),
                                            key=lambda p: int(p.rsplit("_", 1)[1][:-3])))
            if inputs is None or expected is None:
                return CaseResult(name, "unsupported", "non-tensor inputs or outputs")
            feed_names = [i.name for i in model.graph.input
                          if i.name not in {x.name for x in model.graph.initializer}]
            feeds = dict(zip(feed_names, inputs))
            try:
                got = m.run(None, feeds)
            except nanort.UnsupportedError as e:
                return CaseResult(name, "unsupported", str(e))
            except nanort.Error as e:
                return CaseResult(name, "fail", f"{type(e).__name__}: {e}")
            for k, (g, e) in enumerate(zip(got, expected)):
                problem = compare(g, e, LOOSE.get(name, RTOL))
                if problem:
                    return CaseResult(name, "fail", f"output {k}: {problem}")
    return CaseResult(name, "pass")


def compare(got: np.ndarray, want: np.ndarray, rtol: float) -> str:
    if got.shape != want.shape:
        return f"shape {got.shape} != expected {want.shape}"
    if got.dtype != want.dtype:
        return f"dtype {got.dtype} != expected {want.dtype}"
    if want.dtype.kind in "fc":
        if not np.allclose(got, want, rtol=rtol, atol=ATOL, equal_nan=True):
            diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
            return f"max abs diff {np.nanmax(diff):.3g} (rtol {rtol})"
    elif not np.array_equal(got, want):
        return f"{int((got != want).sum())} of {want.size} values differ"
    return ""


def all_cases(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if (p / "model.onnx").exists())
