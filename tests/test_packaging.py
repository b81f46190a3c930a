"""Import names live under `nanort` only; the package exposes the API the README promises."""

import subprocess
import sys

import nanort


def test_public_api():
    for name in ("Model", "convert", "Error", "ConversionError", "UnsupportedOpError", "InvalidModelError",
                 "ShapeError", "DTypeError", "TensorInfo"):
        assert hasattr(nanort, name), name
    assert issubclass(nanort.UnsupportedOpError, nanort.Error)


def test_no_bare_top_level_modules(tmp_path):
    """Outside the source tree (where cwd would shadow), only `nanort` is installed."""
    code = "import importlib.util as u; print([b for b in ('converter', 'runtime', 'schema', 'api') if u.find_spec(b)])"
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "[]", f"importable at top level: {r.stdout.strip()}"


def test_subpackages():
    import nanort.converter
    import nanort.runtime
    import nanort.schema.Model  # noqa: F401

    assert nanort.converter.convert is nanort.convert


def test_running_a_model_does_not_import_the_converter(tmp_path):
    code = "import sys, nanort; print('onnx' in sys.modules, 'nanort.converter' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert r.stdout.split() == ["False", "False"]


def test_c_runtime_reports_its_cpu_level():
    from nanort.runtime._nanort_c import ffi, lib
    from nanort.runtime.model import ISAS, cpu_levels

    name = ffi.string(lib.nrt_isa_name(lib.nrt_cpu_best_isa())).decode()
    assert name in ISAS and name == cpu_levels()[-1]
    assert list(ISAS)[:2] == ["auto", "ref"]  # level 0 is the reference
