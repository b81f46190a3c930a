"""The `nanort` command: convert, inspect, run."""

from __future__ import annotations

import argparse
import re
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

import nanort
from nanort.runtime import nrt_file
from nanort.runtime.model import ISAS

# Piped output (logs, CI) gets wide tables instead of rich's 80-column default.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True, highlight=False)


SWITCH = {"auto": None, "on": True, "off": False}  # a technique's setting: None lets the accuracy fixer decide


def _shape_arg(text: str) -> tuple[str, list[int]]:
    name, sep, dims = text.rpartition(":")
    if not sep or not name or not re.fullmatch(r"\d+(,\d+)*", dims):
        raise argparse.ArgumentTypeError(f"expected NAME:D1,D2,... (e.g. x:1,3,640,640), got {text!r}")
    return name, [int(d) for d in dims.split(",")]


def _size_arg(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d+)x(\d+)", text)
    if not m:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def _floats_arg(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _fmt_shape(shape: Sequence | None) -> str:
    """[1,3,h,w]: as plain text (in rich tables and prints, escaped: named dims look like markup)."""
    if shape is None:
        return "[rank unknown]"
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def _one_line_warnings(console: Console, command: str):
    """Shows warnings as one line (`nanort convert: warning: ...`), not as a source line."""
    def show(message, category, filename, lineno, file=None, line=None) -> None:
        console.print(Text(f"nanort {command}: warning: {message}"), soft_wrap=True)
    return show


# ---------------------------------------------------------------- convert --
def _value_arg(text: str) -> tuple[str, object]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (a number, comma-separated numbers or a .npy "
                                         f"file), got {text!r}")
    if value.endswith(".npy"):
        try:
            return name, np.load(value, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise argparse.ArgumentTypeError(f"cannot read {value}: {e}") from None
    try:
        numbers = [float(v) if any(c in v for c in ".eEn") else int(v) for v in value.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name}={value}: expected numbers or a .npy file") from None
    return name, numbers[0] if len(numbers) == 1 else numbers


def cmd_convert(args: argparse.Namespace) -> int:
    import warnings

    from nanort.converter import ConversionWarning

    shapes = dict(args.input_shape or [])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConversionWarning)
        result = _convert(args, shapes)
    for w in caught:
        err.print(f"warning: {w.message}", markup=False)
    if not args.quiet:
        _print_report(result)
    return 0


def _convert(args: argparse.Namespace, shapes: dict):
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=True, disable=args.quiet) as progress, \
            warnings.catch_warnings():
        warnings.showwarning = _one_line_warnings(progress.console, "convert")
        task = progress.add_task("loading", total=None)
        stage = ["loading"]

        def report(msg: str, done: int, total: int) -> None:
            if msg != stage[0]:  # a new stage: its own count and clock
                stage[0] = msg
                progress.reset(task, description=escape(msg), total=total or None, completed=done)
            else:
                progress.update(task, completed=done, total=total or None)

        preprocess = None
        if args.quantize == "int8" or args.calibration is not None:
            from nanort.converter import ImagePreprocess

            preprocess = ImagePreprocess(size=args.size, mean=args.mean, std=args.std, scale=args.scale,
                                         channel_order=args.channel_order, layout=args.layout)
        result = nanort.convert(
            args.model, args.output, input_shapes=shapes, nhwc_io=args.nhwc_io, quantize=args.quantize,
            calibration=args.calibration, calibration_method=args.calibration_method, percentile=args.percentile,
            calibration_limit=args.calibration_limit, preprocess=preprocess, per_channel=not args.per_tensor,
            keep_float=args.keep_float or (), auto_float=args.auto_float, accuracy_target=args.accuracy_target or (),
            int16_activations=args.int16 or (),
            bias_correction=args.bias_correction, adaround=SWITCH[args.adaround],
            equalization=args.equalization, slice_scales=not args.no_slice_scales,
            report=args.report, input_dtype=args.input_dtype, output_dtype=args.output_dtype, force=args.force,
            threads=args.threads, progress=report, input_values=dict(args.input_value or []), strict=args.strict,
            **_prune_kwargs(args), **_weights_kwargs(args))
    return result


# pruning options of convert (converter/prune)
def _low_rank_arg(text: str) -> float | int:
    try:
        return int(text) if re.fullmatch(r"\d+", text) else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an energy in (0, 1) or an integer rank, got {text!r}") from None


def _add_prune_args(c: argparse.ArgumentParser) -> None:
    g = c.add_argument_group("pruning (before quantization, on the calibration data)")
    g.add_argument("--prune", type=float, metavar="SPARSITY", help="fraction of weights (or channels) to remove, "
                   "0..0.95; first/last layers and depthwise convs stay dense")
    g.add_argument("--prune-method", default="sparsegpt", choices=["magnitude", "wanda", "sparsegpt"],
                   help="sparsegpt (default): layer-wise reconstruction with the inputs' inverse Hessian")
    g.add_argument("--prune-pattern", default="unstructured", metavar="PATTERN",
                   help="unstructured (default), N:M (2:4, 4:8), block / RxC (1x4, 4x1), channel")
    g.add_argument("--prune-scope", default="layer", choices=["layer", "global"],
                   help="the same sparsity in every layer (default), or one threshold over all layers")
    g.add_argument("--prune-exclude", nargs="*", metavar="NODE",
                   help="nodes to leave dense instead of the first and last layer (none given: prune all)")
    g.add_argument("--low-rank", type=_low_rank_arg, metavar="ENERGY|RANK",
                   help="factorize FullyConnected / 1x1 convs in two where that saves MACs: keep ENERGY (0..1) of "
                        "the whitened spectrum, or cap the rank at RANK")


def _prune_kwargs(args: argparse.Namespace) -> dict:
    return {"prune": args.prune, "prune_method": args.prune_method, "prune_pattern": args.prune_pattern,
            "prune_scope": args.prune_scope, "prune_exclude": args.prune_exclude, "low_rank": args.low_rank}


def _add_weights_args(c: argparse.ArgumentParser) -> None:
    g = c.add_argument_group("weight-only formats (activations stay float32)")
    g.add_argument("--weights", choices=["fp16", "int4"],  # (converter.WEIGHT_FORMATS; not imported here: startup)
                   help="fp16: the float weights of Conv/Gemm/MatMul as IEEE half (half the file), widened to fp32 "
                   "at load; int4: FullyConnected / MatMul / Gemm weights as group-wise int4 with fp16 scales "
                   "(activations quantized per row at run time); the rest of the graph stays fp32")
    g.add_argument("--int4-group", type=int, default=128, choices=[32, 64, 128], help="k per int4 scale (128)")
    g.add_argument("--int4-method", default="gptq", choices=["gptq", "rtn"],
                   help="gptq (default, needs --calibration): error-compensating rounding; rtn: round to nearest")


def _weights_kwargs(args: argparse.Namespace) -> dict:
    return {"weights": args.weights, "int4_group": args.int4_group, "int4_method": args.int4_method}


def _print_report(r) -> None:
    out.print(f"[bold]{escape(r.source)}[/] -> [bold]{escape(r.output)}[/]")
    if r.quantization is not None:  # the end-to-end verdict first: does the model still work?
        for k, line in enumerate(r.quantization.verdict_lines()):
            out.print(f"[bold]accuracy: {escape(line)}[/]" if k == 0 else Text(f"  {line}"))
    t = Table(show_header=False, box=None, pad_edge=False)
    kind = "tflite" if r.source.lower().endswith(".tflite") else "onnx"
    t.add_row("file size", f"{r.source_bytes / 1e6:.2f} MB ({kind}) -> {r.output_bytes / 1e6:.2f} MB (nrt), "
              f"{r.output_bytes / max(r.source_bytes, 1):.0%}")
    t.add_row("parameters", f"{r.parameters:,}")
    t.add_row("inputs", Text(", ".join(f"{n} {_fmt_shape(s)}" for n, s in r.inputs)))
    t.add_row("outputs", Text(", ".join(f"{n} {_fmt_shape(s)}" for n, s in r.outputs)))
    t.add_row("ops", f"{sum(r.source_op_histogram.values())} {kind} nodes -> {sum(r.op_histogram.values())} nanort ops")
    t.add_row("fp32 fallbacks", Text(", ".join(r.float_fallbacks) if r.float_fallbacks else "none"))
    out.print(t)
    ops = Table(title="ops by type", title_justify="left")
    ops.add_column("op")
    ops.add_column("count", justify="right")
    for op, n in r.op_histogram.items():
        ops.add_row(op, str(n))
    out.print(ops)
    for note in r.notes:
        out.print(Text(f"note: {note}"))
    if r.pruning is not None:
        out.print(f"pruning in {r.pruning.seconds:.1f} s on {r.pruning.samples} samples "
                  "(rel.err: the layer's output error on them):")
        out.print(r.pruning.table())
    q = r.quantization
    if q is not None and q.rows:
        out.print(Text(f"calibration: {q.description} in {q.seconds:.1f} s ({q.cpu_seconds:.1f} s processor time)"))
        worst = [row for row in q.rows if row.sqnr_db is not None][:12]  # (sorted by added error)
        from nanort.converter.quantize.report import text_table

        out.print("layers adding the most error (full table: --report FILE.html):")
        out.print(Text(text_table(worst)))


# ---------------------------------------------------------------- inspect --
def cmd_inspect(args: argparse.Namespace) -> int:
    with nanort.Model(args.model) as model:  # verifies the file
        arena = _planned_arena(model)
        isa, packed = model.isa, model.packed_weight_bytes
        f = nrt_file.read(args.model)
    out.print(f"[bold]{escape(f.path)}[/]: {f.size / 1e6:.2f} MB, format v{f.format_version}, "
              f"made by {escape(f.producer)} {escape(f.producer_version)}")
    if f.source_sha256:
        out.print(f"source model sha256: {f.source_sha256}")
    sig = Table(title="signature", title_justify="left")
    for col in ("", "name", "dtype", "shape", "quantization"):
        sig.add_column(col)
    for kind, idx in [("input", i) for i in f.inputs] + [("output", o) for o in f.outputs]:
        t = f.tensors[idx]
        sig.add_row(kind, Text(t.name), t.dtype, Text(_fmt_shape(t.shape)), _quant_text(t))
    out.print(sig)
    hist = Table(title=f"ops ({len(f.ops)})", title_justify="left")
    hist.add_column("op")
    hist.add_column("count", justify="right")
    for op, n in f.op_histogram().items():
        hist.add_row(op, str(n))
    out.print(hist)
    consts = [t for t in f.tensors if t.constant_bytes]
    out.print(f"tensors: {len(f.tensors)} ({len(consts)} constant, {f.weight_bytes / 1e6:.2f} MB of weights)")
    _print_sparsity(f)
    out.print(f"planned activation arena: {arena}")
    out.print(f"kernel level on this CPU: {isa}; weights repacked for it at load: {packed / 1e6:.2f} MB"
              " (mapped from the file in place otherwise)")
    out.print(f"quantization: {f.quant_scheme or 'float32'}"
              + (f", calibration {f.calibration_method} on {f.calibration_samples} samples"
                 if f.calibration_method else ""))
    if f.float_nodes:
        out.print(Text("kept in fp32: " + ", ".join(f.float_nodes)))
    if f.metadata:
        meta = Table(title="metadata", title_justify="left")
        meta.add_column("key")
        meta.add_column("value")
        for k, v in f.metadata.items():
            one_line = v.replace("\n", "\\n")
            meta.add_row(Text(k), Text(one_line if len(one_line) <= 60 else one_line[:57] + f"... ({len(v)} chars)"))
        out.print(meta)
    if args.tensors:
        tt = Table(title="tensors", title_justify="left")
        for col in ("#", "name", "dtype", "shape", "bytes", "quantization"):
            tt.add_column(col)
        readers: dict[int, str] = {}  # unnamed constants (the converter's own) shown by their first reader
        for op in f.ops:
            for k, i in enumerate(op.inputs):
                readers.setdefault(i, Text(f"({op.name} input {k})", style="dim"))
        for t in f.tensors:
            tt.add_row(str(t.index), Text(t.name) if t.name else readers.get(t.index, ""), t.dtype,
                       Text(_fmt_shape(t.shape)), str(t.constant_bytes) if t.constant_bytes else "", _quant_text(t))
        out.print(tt)
    return 0


def _print_sparsity(f: nrt_file.NrtFile) -> None:
    """Sparse weights per layer (their first reader) and the bytes saved against dense storage."""
    sparse = [t for t in f.tensors if t.sparse is not None]
    if not sparse:
        return
    readers: dict[int, str] = {}
    for op in f.ops:
        for i in op.inputs:
            readers.setdefault(i, f"{op.name} ({op.op})")
    st = Table(title=f"sparse weights ({len(sparse)})", title_justify="left")
    for col in ("layer", "format", "block", "kept", "stored KB", "dense KB", "saved"):
        st.add_column(col, justify="left" if col in ("layer", "format", "block") else "right")
    for t in sparse:
        sp = t.sparse
        st.add_row(readers.get(t.index, t.name), sp.format, "x".join(map(str, sp.block_shape)), f"{sp.density:.1%}",
                   f"{sp.stored_bytes / 1e3:.1f}", f"{sp.dense_bytes / 1e3:.1f}",
                   f"{1 - sp.stored_bytes / max(sp.dense_bytes, 1):.0%}")
    out.print(st)
    stored = sum(t.sparse.stored_bytes for t in sparse)
    dense = sum(t.sparse.dense_bytes for t in sparse)
    out.print(f"sparse storage: {stored / 1e6:.3f} MB instead of {dense / 1e6:.3f} MB dense "
              f"({(dense - stored) / 1e6:.3f} MB saved)")


def _planned_arena(model: nanort.Model) -> str:
    if any(d is None for t in model.inputs for d in t.shape):
        return "depends on the input shape (dynamic dimensions)"
    feeds = {t.name: np.zeros([d for d in t.shape], t.dtype) for t in model.inputs}
    model.run(feeds)
    return f"{model.arena_bytes / 1e6:.2f} MB"


def _quant_text(t: nrt_file.TensorEntry) -> str:
    if t.scale is None:
        return ""
    if t.scale.size == 1:
        return f"scale {t.scale[0]:.6g}, zero point {int(t.zero_point[0])}"
    return f"per-channel (axis {t.quant_axis}, {t.scale.size} scales {t.scale.min():.3g}..{t.scale.max():.3g})"


# -------------------------------------------------------------------- run --
def _load_npy(path: str) -> np.ndarray:
    """An array from a .npy file; one line naming the problem otherwise."""
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as e:
        raise nanort.InvalidArgumentError(f"cannot read {path}: {e.strerror}") from None
    if magic != b"\x93NUMPY":
        raise nanort.InvalidArgumentError(f"{path} is not a .npy file (write inputs with numpy.save)")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as e:
        raise nanort.InvalidArgumentError(f"cannot read {path}: {e}") from None


def cmd_run(args: argparse.Namespace) -> int:
    with nanort.Model(args.model, threads=args.threads, isa=args.isa) as model:
        feeds = {}
        for item in args.input:
            name, sep, path = item.partition("=")
            if not sep:
                if len(model.inputs) != 1:
                    raise nanort.InvalidArgumentError(
                        f"--input {item!r}: the model has {len(model.inputs)} inputs; use NAME=FILE.npy")
                name, path = model.inputs[0].name, item
            feeds[name] = _load_npy(path)
        results = model.run(feeds)
    outdir = Path(args.output_dir)
    outdir.mkdir(parents=True, exist_ok=True)
    for name, value in results.items():
        path = outdir / (re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".npy")
        np.save(path, value)
        out.print(Text(f"{name}: {value.dtype} {_fmt_shape(value.shape)} -> {path}"))
    return 0


# -------------------------------------------------------------------- ops --
def cmd_ops(args: argparse.Namespace) -> int:
    from nanort.converter import function_expansion, op_support

    onnx_ops = op_support.onnx_ops()
    out.print(f"[bold]ONNX operators the converter takes[/] ({len(onnx_ops)}; other domains as domain:Op):")
    out.print(", ".join(onnx_ops))
    out.print("[bold]and expanded into the function body ONNX defines for them[/] (at the opsets that define one; "
              "converts where the body's operators do):")
    out.print(", ".join(function_expansion.expandable_ops()))
    t = Table(title="runtime operators (an ONNX op may become several, or fold away at convert time)",
              title_justify="left")
    for col in ("op", "element types", "int8 kernel", "how known"):
        t.add_column(col)
    for op in op_support.runtime_ops():
        t.add_row(op.op, ", ".join(op.dtypes) or "-", "yes" if op.int8 else "", op.how)
    out.print(t)
    out.print("probed: run on every element type by this build; declared: what its kernels are written for. "
              "In int8 models nonlinear activations become 256-entry tables (Lut) or fuse into the int8 op before.")
    return 0


# ------------------------------------------------------------------ bench --
def cmd_bench(args: argparse.Namespace) -> int:
    import tempfile

    from nanort.bench import run_bench

    with tempfile.TemporaryDirectory() as tmp, \
            err.status(escape(f"timing {args.model}" + (f" and {args.vs}" if args.vs else "") +
                              f": {args.warmup} warm-up and {args.runs} timed runs each"
                              + ("" if args.no_memory else ", then memory in fresh processes"))):
        results = run_bench(args.model, args.vs, args.threads, args.runs, args.warmup, args.isa,
                            dict(args.input_shape or []), not args.no_memory, Path(tmp))
    t = Table(title=escape(f"{args.model}: {args.threads} thread(s), {results[0].timing.runs} interleaved runs"))
    for col in ("runtime", "precision", "median ms", "min ms", "max ms", "nanort speedup", "agreement",
                "peak RSS MB", "load ms"):
        t.add_column(col, justify="left" if col in ("runtime", "precision", "agreement") else "right")
    base = results[0].timing
    for r in results:
        t.add_row(r.name, r.precision, f"{r.timing.median_ms:.3f}", f"{r.timing.min_ms:.3f}",
                  f"{r.timing.max_ms:.3f}", "" if r.name == "nanort" else f"{base.ratio(r.timing):.2f}x",
                  r.agreement,
                  "-" if r.peak_rss_mb is None else f"{r.peak_rss_mb:.1f}",
                  "-" if r.load_ms is None else f"{r.load_ms:.1f}")
    out.print(t)
    out.print("agreement: with nanort's outputs on the same inputs (float: max |difference| / output range; "
              "quantized: elements within 1 step); peak RSS: whole process incl. the Python interpreter, each "
              "runtime in its own fresh process; load: from the runtime imported to the first result")
    if args.profile:
        from nanort.bench import profile

        with err.status("timing every operator"):
            nodes, types = profile(args.model, args.threads, args.isa, dict(args.input_shape or []), args.runs)
        total = sum(ms for _, _, ms in types)
        pt = Table(title=f"time by op type (sum {total:.3f} ms per run)", title_justify="left")
        for col in ("op", "nodes", "ms", "share"):
            pt.add_column(col, justify="left" if col == "op" else "right")
        for op, count, ms in types:
            pt.add_row(op, str(count), f"{ms:.3f}", f"{ms / total:.1%}")
        out.print(pt)
        nt = Table(title=f"slowest {args.profile} nodes", title_justify="left")
        for col in ("node", "op", "ms"):
            nt.add_column(col, justify="right" if col == "ms" else "left")
        for p in nodes[:args.profile]:
            nt.add_row(Text(p["name"]), p["op"], f"{p['ms']:.3f}")
        out.print(nt)
    return 0


# ------------------------------------------------------------------- main --
EXAMPLES = {
    "nanort": """examples:
  nanort convert model.onnx                          # -> model.nrt (fp32)
  nanort convert model.onnx -o model-int8.nrt --quantize int8 --calibration images/
  nanort inspect model.nrt
  nanort run model.nrt --input x=image.npy --output-dir out/
  nanort bench model.nrt --vs model.onnx --threads 2
  python -m nanort inspect model.nrt                 # the same commands without the script on PATH""",
    "convert": """examples:
  nanort convert model.onnx                          # -> model.nrt
  nanort convert model.onnx -o out/ --input-shape x:1,3,640,640
  nanort convert model.onnx -o model-int8.nrt --quantize int8 --calibration images/ --size 640x640 \\
      --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225 --report report.html
  nanort convert model.onnx -o model-int8.nrt --quantize int8 --calibration samples.npz
  nanort convert model.onnx --quantize dynamic       # int8 weights, no calibration

The output is written only once the runtime accepts it; the source model and
existing files that are not .nrt models are never overwritten (--force
replaces the latter).""",
    "inspect": """examples:
  nanort inspect model.nrt
  nanort inspect model.nrt --tensors""",
    "run": """examples:
  nanort run model.nrt --input image.npy             # single-input model
  nanort run model.nrt --input x=image.npy --input mask=mask.npy --output-dir out/

Inputs are .npy files (numpy.save); each output is written to OUTPUT_DIR/<name>.npy.""",
    "ops": """examples:
  nanort ops                                         # every operator, its element types and int8 kernels
""",
    "bench": """examples:
  nanort bench model.nrt
  nanort bench model.nrt --vs model.onnx --threads 2 --profile
  nanort bench model.nrt --input-shape x:1,3,48,320 --isa avx2""",
}


def _subparser(sub, name: str, **kw) -> argparse.ArgumentParser:
    return sub.add_parser(name, epilog=EXAMPLES[name], formatter_class=argparse.RawDescriptionHelpFormatter, **kw)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nanort", description="Convert ONNX models to .nrt and run them.",
                                epilog=EXAMPLES["nanort"], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"nanort {nanort.__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = _subparser(sub, "convert", help="convert an ONNX or TFLite model to .nrt",
                   description="Convert an ONNX or TensorFlow Lite model to a .nrt file and print a summary.")
    c.add_argument("model", help="source .onnx file (external data files are read from its folder) or .tflite file")
    c.add_argument("-o", "--output", help="output .nrt file, or a folder for MODEL.nrt in it "
                                          "(default: the model path with .nrt)")
    c.add_argument("--force", action="store_true", help="replace an existing output file that is not a .nrt model")
    c.add_argument("--input-shape", action="append", type=_shape_arg, metavar="NAME:D1,D2,...",
                   help="fix an input's shape (repeatable); other dynamic dims stay dynamic")
    c.add_argument("--input-value", action="append", type=_value_arg, metavar="NAME=VALUE",
                   help="freeze an input to a value (number, N1,N2,... or FILE.npy) and fold what depends on it")
    c.add_argument("--strict", action="store_true",
                   help="refuse declared shapes/types that contradict inference (default: drop them, warn)")
    c.add_argument("--nhwc-io", action="store_true", help="take/give 4-D conv-net inputs/outputs as NHWC")
    c.add_argument("--input-dtype", choices=["float32", "int8", "uint8"], default="float32",
                   help="int8 model: take inputs as int8 or uint8 codes of the first layer's quantization "
                        "(e.g. camera bytes) instead of float32")
    c.add_argument("--output-dtype", choices=["float32", "int8", "uint8"], default="float32",
                   help="int8 model: give outputs as int8 or uint8 codes instead of float32")
    q = c.add_argument_group("quantization")
    q.add_argument("--quantize", choices=["int8", "dynamic"],
                   help="int8: calibrated static int8; dynamic: int8 weights, activations quantized at run time")
    q.add_argument("--calibration", metavar="DATA",
                   help="folder of images, or .npy/.npz file(s); without it int8 calibrates on random data (warned)")
    q.add_argument("--calibration-method", default="mse", choices=["minmax", "percentile", "mse", "entropy"],
                   help="activation ranges: mse (default: least expected squared error), percentile, minmax, entropy")
    q.add_argument("--percentile", type=float, default=99.99, help="for --calibration-method percentile")
    q.add_argument("--calibration-limit", type=int, metavar="N", help="use at most N calibration samples")
    q.add_argument("--size", type=_size_arg, metavar="WxH", help="resize calibration images (default: model input)")
    q.add_argument("--mean", type=_floats_arg, default=(0.0, 0.0, 0.0), metavar="M1,M2,M3",
                   help="per-channel mean subtracted after scaling to [0,1]")
    q.add_argument("--std", type=_floats_arg, default=(1.0, 1.0, 1.0), metavar="S1,S2,S3")
    q.add_argument("--scale", type=float, default=1 / 255, help="pixel scale before mean/std (default 1/255)")
    q.add_argument("--channel-order", choices=["rgb", "bgr"], default="rgb")
    q.add_argument("--layout", choices=["nchw", "nhwc"], default="nchw", help="calibration tensor layout")
    q.add_argument("--per-tensor", action="store_true", help="per-tensor instead of per-channel weight scales")
    q.add_argument("--keep-float", nargs="+", metavar="NODE", help="nodes to keep in fp32")
    q.add_argument("--int16", nargs="+", metavar="NODE",
                   help="nodes to run with 16-bit activations (Conv / FullyConnected with int8 weights, TFLite's 16x8; "
                        "Add / Sub / Mul; elementwise functions); '*' for every node that has a 16-bit form")
    q.add_argument("--auto-float", type=int, default=0, metavar="N",
                   help="keep the N layers that add the most quantization error in fp32")
    q.add_argument("--accuracy-target", action="append", metavar="[OUTPUT:]METRIC=VALUE",
                   help="end-to-end target per output, METRIC one of cosine, sqnr, top1, iou (repeatable; default: "
                        "top1=0.99 for probabilities, iou=0.97 for [0,1] maps, cosine=0.99 otherwise); layers "
                        "are fixed until it holds on held-out calibration samples")
    q.add_argument("--adaround", choices=SWITCH, default="auto",
                   help="round weights to minimize each layer's output error on calibration data (auto: where the "
                        "accuracy target is missed and it helps)")
    q.add_argument("--bias-correction", action="store_true", help="fold each layer's mean int8 error into its bias")
    q.add_argument("--equalization", action="store_true",
                   help="cross-layer equalization: rescale channels between consecutive layers (Relu/PRelu paths)")
    q.add_argument("--no-slice-scales", action="store_true",
                   help="one int8 scale for a concatenation into an output (default: each part keeps its own)")
    q.add_argument("--report", metavar="FILE.html", help="write the quantization report (verdict, per-layer error)")
    q.add_argument("--threads", type=int, default=1, help="threads for calibration runs")
    _add_prune_args(c)
    _add_weights_args(c)
    c.add_argument("-q", "--quiet", action="store_true", help="no progress display or summary")
    c.set_defaults(func=cmd_convert)

    i = _subparser(sub, "inspect", help="show a .nrt model's signature, ops and metadata",
                   description="Verify a .nrt file and show what it contains.")
    i.add_argument("model")
    i.add_argument("--tensors", action="store_true", help="list every tensor")
    i.set_defaults(func=cmd_inspect)

    r = _subparser(sub, "run", help="run a .nrt model on .npy inputs",
                   description="Run a .nrt model on inputs from .npy files and save the outputs as .npy.")
    r.add_argument("model")
    r.add_argument("--input", action="append", required=True, metavar="NAME=FILE.npy",
                   help="an input (repeatable); NAME= may be left out for single-input models")
    r.add_argument("--output-dir", default=".", help="where to write <output name>.npy (default: .)")
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--isa", default="auto", choices=list(ISAS))
    r.set_defaults(func=cmd_run)

    o = _subparser(sub, "ops", help="list the supported operators, their element types and int8 kernels")
    o.set_defaults(func=cmd_ops)

    b = _subparser(sub, "bench", help="measure latency (and memory) against onnxruntime or TFLite",
                   description="Median/min/max latency over interleaved runs of nanort and, with --vs, "
                                   "onnxruntime (.onnx) or TFLite with XNNPACK (.tflite) on the same random "
                                   "inputs in one process, each side's precision and their outputs' agreement "
                                   "(with several "
                                   "threads in blocks of 5 runs, each led by an untimed run: the other "
                                   "runtime's workers spin on after its run); peak RSS and load time of each "
                                   "in separate processes.")
    b.add_argument("model", help=".nrt model")
    b.add_argument("--vs", metavar="MODEL", help="compare with this .onnx model under onnxruntime or this "
                   ".tflite model under TFLite (ai-edge-litert, XNNPACK)")
    b.add_argument("--threads", type=int, default=1)
    b.add_argument("--runs", type=int, default=30, help="timed runs of each (default 30)")
    b.add_argument("--warmup", type=int, default=3)
    b.add_argument("--isa", default="auto", choices=list(ISAS))
    b.add_argument("--input-shape", action="append", type=_shape_arg, metavar="NAME:D1,D2,...",
                   help="shape for inputs with dynamic dims")
    b.add_argument("--no-memory", action="store_true", help="skip the peak-RSS / load-time subprocesses")
    b.add_argument("--profile", type=int, nargs="?", const=15, default=0, metavar="N",
                   help="also time every operator and list the N slowest nodes (default 15)")
    b.set_defaults(func=cmd_bench)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except nanort.Error as e:
        print(f"nanort {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
