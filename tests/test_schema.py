"""The generated schema code (Python package and C header) matches nanort.fbs."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_generated_code_is_current():
    r = subprocess.run([sys.executable, str(ROOT / "schemas" / "generate.py"), "--check"], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr or r.stdout


def test_c_header_slots_match_python_reader():
    """Spot-check: a vtable slot in the C header is where the Python reader looks."""
    import re

    from nanort.schema import Operator

    header = (ROOT / "native" / "src" / "engine" / "nanort_schema.h").read_text()
    slot = int(re.search(r"#define NRT_FB_Operator_options (\d+)", header).group(1))
    src = Path(Operator.__file__).read_text()
    m = re.search(r"def Options\(self\):\n\s+o = .*Offset\((\d+)\)", src)
    assert 4 + 2 * slot == int(m.group(1))
