"""Per-node profile of a .nrt model that holds up on a loaded machine: each
node's MINIMUM over rounds of a few profiled runs (load from other processes
only adds time, so the minimum is the node's own cost; `nanort bench
--profile` gives means), with the G multiply-adds/s of every Conv and
ConvTranspose and a short shape description.

    python bench/node_profile.py model.nrt [--input x=image.npy] [--rounds 15] [--top 40] [--isa auto]

Inputs not given are random (nanort bench's). Compare two builds by running
this once per build on the same model and inputs: nodes the change does not
touch should come out equal, which shows how far the minima can be trusted.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import nanort
from nanort.runtime.api.bench import make_inputs
from nanort.schema.Model import ModelT
from nanort.schema.OpType import OpType

RUNS_PER_ROUND = 2


def shape_str(shape) -> str:
    return "x".join(str(int(d)) for d in shape[1:]) if shape is not None else "-"


def describe(path: Path) -> dict[str, tuple[int, str]]:
    """{node name: (multiply-adds, description)} from the file's NHWC shapes."""
    graph = ModelT.InitFromPackedBuf(bytearray(path.read_bytes()), 0).graphs[0]
    out = {}
    for node in graph.operators:
        name = node.name.decode("utf-8", "replace") if node.name else ""
        ins = [graph.tensors[i].shape if i >= 0 else None for i in node.inputs]
        y = graph.tensors[node.outputs[0]].shape
        macs, text = 0, " ".join(shape_str(s) for s in ins) + " -> " + shape_str(y)
        if node.op in (OpType.Conv, OpType.ConvTranspose) and ins[1] is not None:
            o, w = node.options, [int(d) for d in ins[1]]  # OHWI; a ConvTranspose's is IHWO
            transpose = node.op == OpType.ConvTranspose
            macs = int(np.prod(ins[0] if transpose else y)) * w[1] * w[2] * w[3]
            kind = "convT" if transpose else "dw" if o.group > 1 and w[3] == 1 else "conv"
            text = f"{kind} {w[1]}x{w[2]} s{o.strides[0]} {int(ins[0][3])}->{int(y[3])} @{int(y[1])}x{int(y[2])}"
        out[name] = (macs, text)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", type=Path)
    ap.add_argument("--input", action="append", default=[], metavar="NAME=FILE.npy")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--isa", default="auto")
    args = ap.parse_args()
    info = describe(args.model)
    with nanort.Model(args.model, threads=args.threads, isa=args.isa) as model:
        feeds = make_inputs(model, {})
        for item in args.input:
            name, _, file = item.partition("=")
            feeds[name] = np.load(file)
        model.run(feeds)
        best: dict[str, dict] = {}
        for _ in range(args.rounds):
            model.set_profiling(True)
            for _ in range(RUNS_PER_ROUND):
                model.run(feeds)
            for p in model.profile():
                ms = p["ms"] / RUNS_PER_ROUND
                if p["calls"] and (p["name"] not in best or ms < best[p["name"]]["ms"]):
                    best[p["name"]] = dict(p, ms=ms)
    total = sum(p["ms"] for p in best.values())
    print(f"sum of per-node minima over {args.rounds} rounds of {RUNS_PER_ROUND} runs: {total:.3f} ms")
    for p in sorted(best.values(), key=lambda p: -p["ms"])[:args.top]:
        macs, text = info.get(p["name"], (0, ""))
        rate = f"{macs / p['ms'] / 1e6:7.1f} GMAC/s" if macs else ""
        print(f"{p['name']:28s} {p['op']:16s} {p['ms']:7.3f} {100 * p['ms'] / total:5.1f}%  {rate:15s} {text}")


if __name__ == "__main__":
    main()
