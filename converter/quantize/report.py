"""Per-layer quantization report: for every tensor the int8 graph computes,
its SQNR against the float32 graph on calibration samples, its scale and
zero point, and the share of calibration values its range clips. Printed by
the CLI and written as an HTML page with a per-layer plot (--report)."""

from __future__ import annotations

import html
import math
from collections.abc import Callable
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
               samples: list[dict[str, np.ndarray]], observer: str, percentile: float,
               progress: Callable[[int, int], None] | None = None) -> list[LayerRow]:
    int8_outputs = {o: n for n in q_graph.nodes for o in n.outputs
                    if o and q_graph.tensors[o].dtype == np.int8 and o in fp_graph.tensors}
    ref_vals: dict[str, list[np.ndarray]] = {}
    q_vals: dict[str, list[np.ndarray]] = {}
    for i, feeds in enumerate(samples):
        for k, v in run_all_tensors(fp_graph, feeds, set(int8_outputs)).items():
            ref_vals.setdefault(k, []).append(v)
        for k, v in run_all_tensors(q_graph, feeds, set(int8_outputs)).items():
            q_vals.setdefault(k, []).append(v)
        if progress:
            progress(i + 1, len(samples))
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


def write_html(path: str, rows: list[LayerRow], title: str, summary: list[str]) -> None:
    q = [r for r in rows if r.sqnr_db is not None]
    width, bar_h = 900, 14
    height = bar_h * max(len(rows), 1) + 40
    finite = [r.sqnr_db for r in q if not math.isinf(r.sqnr_db)]
    top = max(finite + [40.0])
    svg = [f'<svg width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg" font-size="10">',
           '<text x="300" y="12">SQNR (dB) per layer vs float32; grey = kept in fp32; red below 20 dB</text>']
    for i, r in enumerate(rows):
        y = 20 + i * bar_h
        svg.append(f'<text x="0" y="{y + 10}">{html.escape(r.node[:45])}</text>')
        if r.sqnr_db is None:
            svg.append(f'<rect x="300" y="{y}" width="{width - 310}" height="{bar_h - 3}" fill="#ddd"/>')
            continue
        v = min(r.sqnr_db, top)
        w = max(1.0, (width - 310) * v / top)
        color = "#d33" if r.sqnr_db < 20 else "#3a7"
        svg.append(f'<rect x="300" y="{y}" width="{w:.1f}" height="{bar_h - 3}" fill="{color}"/>')
        svg.append(f'<text x="{300 + w + 3:.1f}" y="{y + 10}">{_num(r.sqnr_db, ".1f")}</text>')
    svg.append("</svg>")
    cells = "".join(
        f"<tr><td>{html.escape(r.node)}</td><td>{r.op}</td><td>{r.precision}</td><td>{_num(r.sqnr_db, '.1f')}</td>"
        f"<td>{_num(r.scale, '.4g')}</td><td>{_num(r.zero_point, 'd')}</td><td>{_pct(r.clipped)}</td>"
        f"<td>{html.escape(r.note)}</td></tr>" for r in rows)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif}} td,th{{padding:2px 8px;font-size:12px}}
tr:nth-child(even){{background:#f4f4f4}}</style>
</head><body><h1>{html.escape(title)}</h1><ul>{''.join(f'<li>{html.escape(s)}</li>' for s in summary)}</ul>
{''.join(svg)}
<table><tr><th>layer</th><th>op</th><th>precision</th><th>SQNR dB</th><th>scale</th><th>zero point</th>
<th>clipped</th><th>note</th></tr>{cells}</table></body></html>"""
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)
