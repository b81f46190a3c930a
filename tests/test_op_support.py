"""`nanort ops`: the supported-operator listing comes from the converter's
importer registry and from running the runtime itself."""

from __future__ import annotations

import subprocess
import sys

from nanort.converter import op_support


def test_runtime_probe_finds_types_and_int8_kernels():
    ops = {o.op: o for o in op_support.runtime_ops()}
    assert ops["Add"].how == "probed" and ops["Add"].int8 and "int64" in ops["Add"].dtypes
    assert ops["Sqrt"].dtypes == ["float32"] and not ops["Sqrt"].int8  # (int8 models use a Lut for it)
    assert ops["And"].dtypes == ["bool"]
    for op in ("If", "Loop", "Scan", "TopK", "NonMaxSuppression", "Conv"):
        assert op in ops


def test_cli_lists_onnx_and_contrib_ops():
    r = subprocess.run([sys.executable, "-m", "nanort.cli", "ops"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for name in ("Einsum", "NonMaxSuppression", "If", "com.microsoft:Attention", "com.microsoft:MatMulNBits"):
        assert name in r.stdout
    listed = r.stdout.split("expanded into the function body ONNX defines for them")[1].split("runtime operators")[0]
    expanded = {name.strip() for name in listed.split(":", 1)[1].replace("\n", " ").split(",")}
    assert {"Attention", "RMSNormalization", "SoftmaxCrossEntropyLoss"} <= expanded
    assert "LayerNormalization" not in expanded  # (it has an importer)
