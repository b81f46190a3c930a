"""Per-layer quantization report: for every tensor the int8 graph computes,
its SQNR against the float32 graph on held-out samples, its scale and
zero point, and the share of calibration values its range clips. The HTML
page (--report) leads with the end-to-end verdict (accuracy.py) and the
accuracy fixer's changes, then the per-layer sensitivity and detail."""

from __future__ import annotations

import html
import math
import os
from dataclasses import dataclass

import numpy as np

from ..ir import Graph
from .calibrate import run_all_tensors
from .observers import TensorStats
from .quantize import QuantResult, sqnr_db


@dataclass
class LayerRow:
    node: str
    op: str
    tensor: str
    precision: str
    scale: float | None
    zero_point: int | None
    clipped: float | None
    sqnr_db: float | None
    note: str = ""


def layer_rows(fp_graph: Graph, q_graph: Graph, result: QuantResult, stats: dict[str, TensorStats],
               samples: list[dict[str, np.ndarray]], observer: str, percentile: float) -> list[LayerRow]:
    int8_outputs = {o: n for n in q_graph.nodes for o in n.outputs
                    if o and q_graph.tensors[o].dtype == np.int8 and o in fp_graph.tensors}
    ref_vals: dict[str, list[np.ndarray]] = {}
    q_vals: dict[str, list[np.ndarray]] = {}
    for feeds in samples:
        for k, v in run_all_tensors(fp_graph, feeds, set(int8_outputs)).items():
            ref_vals.setdefault(k, []).append(v)
        for k, v in run_all_tensors(q_graph, feeds, set(int8_outputs)).items():
            q_vals.setdefault(k, []).append(v)
    float_reason = {name: reason for name, _, reason in result.float_nodes}
    rows = []
    for node in fp_graph.nodes:
        out = node.outputs[0] if node.outputs else ""
        if node.name in float_reason:
            rows.append(LayerRow(node.name, node.op, out, "fp32", None, None, None, None, float_reason[node.name]))
            continue
        if out not in int8_outputs or out not in ref_vals or out not in q_vals:
            continue
        scale, zp = result.params[out]
        ref = np.concatenate([r.reshape(-1) for r in ref_vals[out]])
        if out in result.active:  # read only by functions flat outside this range: differences there are moot
            ref = np.clip(ref, *result.active[out])
        deq = np.concatenate([(q.astype(np.float32).reshape(-1) - zp) * scale for q in q_vals[out]])
        st = stats.get(out)
        clipped = None
        if st is not None and st.count:  # calibration values beyond half a step outside the int8 grid
            lo, hi = scale * (-128 - zp) - scale / 2, scale * (127 - zp) + scale / 2
            if out in result.active:  # (its readers are flat beyond the narrowed range)
                lo, hi = min(lo, result.active[out][0]), max(hi, result.active[out][1])
            clipped = st.clipped_fraction(lo, hi)
        rows.append(LayerRow(node.name, node.op, out, "int8", scale, zp, clipped, sqnr_db(ref, deq)))
    return rows


def text_table(rows: list[LayerRow], limit: int | None = None) -> str:
    lines = [f"{'layer':40} {'op':18} {'prec':5} {'SQNR dB':>8} {'scale':>10} {'zp':>5} {'clipped':>8}  note"]
    for r in rows[:limit]:
        lines.append(f"{r.node[:40]:40} {r.op[:18]:18} {r.precision:5} "
                     f"{_num(r.sqnr_db, '.1f'):>8} {_num(r.scale, '.3g'):>10} {_num(r.zero_point, 'd'):>5} "
                     f"{_pct(r.clipped):>8}  {r.note}")
    return "\n".join(lines)


def _num(v, fmt: str) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    return format(v, fmt)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.3f}%"


def dynamic_rows(graph: Graph, result: QuantResult) -> list[LayerRow]:
    """--quantize dynamic: which layers got int8 weights (activations are quantized per row at run time)."""
    done = set(result.int8_nodes)
    reasons = {name: why for name, _, why in result.float_nodes}
    return [LayerRow(n.name, n.op, n.outputs[0] if n.outputs else "",
                     "int8 weights" if n.name in done else "fp32", None, None, None, None,
                     "" if n.name in done else reasons.get(n.name, "")) for n in graph.nodes
            if n.name in done or n.op in ("FullyConnected", "MatMul", "Conv")]


def sort_by_contribution(rows: list[LayerRow], added: dict[str, float]) -> list[LayerRow]:
    """Layers adding the most noise of their own (beyond their inputs') first, fp32 layers last."""
    return sorted(rows, key=lambda r: (r.sqnr_db is None, -added.get(r.node, 0.0)))


THRESHOLD_DB = 20.0
EXPLAIN = (f"Each bar is one quantized layer's output against the same tensor of the fp32 model on held-out samples "
           f"(SQNR: signal power over error power, in dB), sorted by the error the layer adds beyond its inputs'. "
           f"Error accumulates along the network, so deep layers sit lower even when the outputs keep the task; "
           f"the dashed line at {THRESHOLD_DB:g} dB (error power 1 % of the signal) is a guide, not a verdict: the "
           f"verdict above, measured on the graph outputs, is. Grey: kept in fp32.")


def write_html(path: str, rows: list[LayerRow], title: str, verdict: list[str], summary: list[str],
               sensitivity: list | None = None) -> None:
    q = [r for r in rows if r.sqnr_db is not None]
    missed = bool(verdict) and verdict[0].startswith("MISSES")
    left, width, bar_h = 300, 900, 14
    height = bar_h * max(len(rows), 1) + 60
    finite = [r.sqnr_db for r in q if not math.isinf(r.sqnr_db)]
    top = max(finite + [40.0])
    span = width - left - 40

    def x_of(db: float) -> float:
        return left + span * max(0.0, min(db, top)) / top

    svg = [f'<svg width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg" font-size="10">',
           f'<text x="{left}" y="12">SQNR (dB) of each layer\'s output vs fp32</text>']
    axis_y = 20 + bar_h * max(len(rows), 1) + 4
    svg.append(f'<line x1="{left}" y1="{axis_y}" x2="{left + span}" y2="{axis_y}" stroke="#000"/>')
    for db in range(0, int(top) + 1, 10):
        svg.append(f'<line x1="{x_of(db):.1f}" y1="{axis_y}" x2="{x_of(db):.1f}" y2="{axis_y + 4}" stroke="#000"/>'
                   f'<text x="{x_of(db) - 6:.1f}" y="{axis_y + 15}">{db}</text>')
    svg.append(f'<text x="{left + span / 2 - 20:.1f}" y="{axis_y + 28}">SQNR, dB</text>')
    svg.append(f'<line x1="{x_of(THRESHOLD_DB):.1f}" y1="16" x2="{x_of(THRESHOLD_DB):.1f}" y2="{axis_y}" '
               'stroke="#888" stroke-dasharray="4,3"/>')
    for i, r in enumerate(rows):
        y = 20 + i * bar_h
        svg.append(f'<text x="0" y="{y + 10}">{html.escape(r.node[:45])}</text>')
        if r.sqnr_db is None:
            svg.append(f'<rect x="{left}" y="{y}" width="{span}" height="{bar_h - 3}" fill="#ddd"/>')
            continue
        w = max(1.0, x_of(r.sqnr_db) - left)
        color = "#d33" if missed and r.sqnr_db < THRESHOLD_DB else "#48a"
        svg.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h - 3}" fill="{color}"/>')
        svg.append(f'<text x="{left + w + 3:.1f}" y="{y + 10}">{_num(r.sqnr_db, ".1f")}</text>')
    svg.append("</svg>")
    cells = "".join(
        f"<tr><td>{html.escape(r.node)}</td><td>{r.op}</td><td>{r.precision}</td><td>{_num(r.sqnr_db, '.1f')}</td>"
        f"<td>{_num(r.scale, '.4g')}</td><td>{_num(r.zero_point, 'd')}</td><td>{_pct(r.clipped)}</td>"
        f"<td>{html.escape(r.note)}</td></tr>" for r in rows)
    sens = ""
    if sensitivity:
        sens = ("<h2>Per-layer sensitivity</h2><p>Output deficit (worst output's error over its allowed error; "
                "at most 1 meets the target) with only this layer kept in fp32, and with only this layer "
                "quantized.</p><table><tr><th>layer</th><th>op</th><th>only this fp32</th>"
                "<th>only this quantized</th></tr>" + "".join(
                    f"<tr><td>{html.escape(s.node)}</td><td>{s.op}</td><td>{s.only_float:.3g}</td>"
                    f"<td>{s.only_quantized:.3g}</td></tr>" for s in sensitivity) + "</table>")
    items = "".join(f"<li>{html.escape(s)}</li>" for s in verdict[1:])
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif}} td,th{{padding:2px 8px;font-size:12px}}
tr:nth-child(even){{background:#f4f4f4}} .miss{{color:#b00}} .met{{color:#070}}</style>
</head><body><h1>{html.escape(title)}</h1>
<h2 class="{'miss' if missed else 'met'}">{html.escape(verdict[0]) if verdict else ''}</h2><ul>{items}</ul>
<ul>{''.join(f'<li>{html.escape(s)}</li>' for s in summary)}</ul>
{sens}
<h2>Per-layer detail</h2><p>{html.escape(EXPLAIN)}</p>
{''.join(svg)}
<table><tr><th>layer</th><th>op</th><th>precision</th><th>SQNR dB</th><th>scale</th><th>zero point</th>
<th>clipped</th><th>note</th></tr>{cells}</table></body></html>"""
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(page)
    os.replace(tmp, path)
