"""Where nanort and TFLite part ways on a real .tflite model: every
intermediate tensor both runtimes name alike (TFLite with
experimental_preserve_all_tensors, nanort with preserve_intermediates),
in nanort's order, with its max |difference| / range; then how far
TFLite's own kernel sets (XNNPACK, optimized builtin, reference) differ
from each other and from nanort on the outputs, the scale float rounding
alone reaches on this model.

    python bench/tflite_divergence.py pose_landmark_full [--min 1e-5]

A jump at one tensor names the op to look at; errors that grow gradually
through a deep stack of convs, while TFLite's kernel sets differ among
themselves by as much, are float rounding amplified by the model.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from tflite_assets import TEST_MODELS, photo_input  # noqa: E402

import nanort  # noqa: E402


def tflite_run(path: Path, feeds: dict, **options) -> tuple[dict, dict]:
    """(every tensor TFLite keeps, by name; the outputs)."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path), num_threads=1, **options)
    it.allocate_tensors()
    for d in it.get_input_details():
        it.set_tensor(d["index"], feeds[d["name"]])
    it.invoke()
    kept = {}
    if options.get("experimental_preserve_all_tensors"):
        for d in it.get_tensor_details():
            try:
                kept[d["name"]] = it.get_tensor(d["index"])
            except ValueError:  # (a tensor without data: an optional input)
                pass
    return kept, {d["name"]: it.get_tensor(d["index"]).astype(np.float64) for d in it.get_output_details()}


def relative(a: np.ndarray, b: np.ndarray) -> float:
    span = max(float(np.ptp(b)), float(np.abs(b).max())) or 1.0
    return float(np.abs(a.astype(np.float64) - b).max()) / span


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", choices=list(TEST_MODELS))
    ap.add_argument("--min", type=float, default=0.0, help="list only tensors differing by at least this much")
    args = ap.parse_args()
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    getter, value_range = TEST_MODELS[args.model]
    path = getter()
    feeds = {d["name"]: photo_input(d["shape"], d["dtype"], value_range)
             for d in Interpreter(model_path=str(path)).get_input_details()}
    kept, outputs = tflite_run(path, feeds, experimental_preserve_all_tensors=True)
    with tempfile.TemporaryDirectory(prefix="nanort-divergence-") as tmp:
        nanort.convert(path, Path(tmp) / "m.nrt")
        with nanort.Model(Path(tmp) / "m.nrt", preserve_intermediates=True) as model:
            got = model.run(feeds)
            print("max |nanort - TFLite| / range of each tensor both name, in nanort's order:")
            for index, info in enumerate(model.tensor_infos()):
                ref = kept.get(info.name)
                value = model.tensor_value(index) if ref is not None else None
                if value is None or value.shape != ref.shape or ref.dtype.kind != "f":
                    continue
                err = relative(value, ref)
                if err >= args.min:
                    print(f"  {err:9.2e}  {info.name}  {tuple(ref.shape)}")
    sets = {"xnnpack": outputs}
    for label, resolver in (("builtin", OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES),
                            ("reference", OpResolverType.BUILTIN_REF)):
        sets[label] = tflite_run(path, feeds, experimental_op_resolver_type=resolver)[1]
    sets["nanort"] = got
    print("outputs, max |a - b| / range of b (the worst output):")
    for a, b in itertools.combinations(sets, 2):
        print(f"  {a:9s} vs {b:9s} {max(relative(sets[a][n], sets[b][n]) for n in outputs):9.2e}")


if __name__ == "__main__":
    main()
