"""Einsum, lowered to Transpose / Reshape / MatMul / ReduceSum / Mul.

Operands are folded left to right. For two operands the letters split into
batch (both operands and the output), contracted (both, not the output) and
kept (one operand): each operand is transposed to [batch, kept, contracted]
(the second to [batch, contracted, kept]), its kept and contracted letters
are merged into one axis each, one batched MatMul multiplies them, and the
result is split and transposed into the output's order. Letters only one
operand has and the output lacks are summed first. Without contracted
letters the product is a broadcasting Mul. Reshapes need the sizes of the
letters they merge (static, or one unknown); repeated letters within one
operand (diagonals) are not supported.
"""

from __future__ import annotations

import math
import string

import numpy as np

from ..ir import Shape
from . import ImportContext, register

Dims = dict[str, "int | str | None"]


def _parse(ctx: ImportContext, ranks: list[int | None]) -> tuple[list[str], str]:
    equation = str(ctx.attr("equation")).replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) != ctx.num_inputs:
        ctx.unsupported(f"equation {equation!r} names {len(terms)} operands, the node has {ctx.num_inputs}")
    spare = [c for c in string.ascii_uppercase + string.ascii_lowercase if c not in equation]
    widest = 0
    for i, t in enumerate(terms):
        if "..." in t:
            if ranks[i] is None:
                ctx.unsupported("an ellipsis needs the operand's rank")
            widest = max(widest, ranks[i] - (len(t) - 3))
    ell = "".join(spare[:widest])
    for i, t in enumerate(terms):
        if "..." in t:
            n = ranks[i] - (len(t) - 3)
            terms[i] = t.replace("...", ell[widest - n:])
    if not arrow:  # implicit output: letters used once, sorted, after the ellipsis
        counts = {c: "".join(terms).count(c) for c in "".join(terms)}
        rhs = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    rhs = rhs.replace("...", ell)
    for t in terms + [rhs]:
        if len(set(t)) != len(t):
            ctx.unsupported(f"repeated letters in {t!r} (a diagonal) are not supported")
    return terms, rhs


class _Lowering:
    def __init__(self, ctx: ImportContext):
        self.ctx = ctx
        self.dims: Dims = {}

    def learn(self, name: str, term: str) -> None:
        shape = self.ctx.shape(name)
        if shape is None or len(shape) != len(term):
            self.ctx.unsupported(f"operand {name!r} needs a known rank of {len(term)}")
        for c, d in zip(term, shape):
            known = self.dims.get(c)
            if isinstance(known, int) and isinstance(d, int) and d != known and 1 not in (d, known):
                self.ctx.unsupported(f"letter {c!r} has sizes {self.dims[c]} and {d}")
            if c not in self.dims or (isinstance(d, int) and d != 1):
                self.dims[c] = d

    def shape(self, term: str) -> Shape:
        return tuple(self.dims[c] for c in term)

    def temp(self, hint: str, term: str) -> str:
        return self.ctx.temp(hint, np.float32, self.shape(term))

    def transpose(self, x: str, term: str, order: str) -> str:
        if term == order:
            return x
        out = self.temp("transposed", order)
        self.ctx.emit("Transpose", [x], [out], perm=[term.index(c) for c in order])
        return out

    def reduce(self, x: str, term: str, keep: str) -> tuple[str, str]:
        gone = [i for i, c in enumerate(term) if c not in keep]
        if not gone:
            return x, term
        left = "".join(c for c in term if c in keep)
        out = self.temp("summed", left)
        self.ctx.emit("ReduceSum", [x], [out], axes=gone, keepdims=False)
        return out, left

    def group(self, letters: str) -> int | str | None:
        sizes = [self.dims[c] for c in letters]
        return math.prod(sizes) if all(isinstance(s, int) for s in sizes) else (sizes[0] if len(sizes) == 1 else None)

    def reshape(self, x: str, lead: int, groups: list[str], shape: Shape) -> str:
        """x ([lead batch dims] + dims of the letters of each group) -> [lead] + one dim per group."""
        target = [0] * lead
        unknown = 0
        for g in groups:
            size = self.group(g)
            if isinstance(size, int):
                target.append(size)
            else:
                unknown += 1
                target.append(-1)
        if unknown > 1:
            self.ctx.unsupported("merging letters of unknown size into more than one axis")
        out = self.ctx.temp("merged", np.float32, shape)
        self.ctx.emit("Reshape", [x, self.ctx.add_const(np.array(target, np.int64), "shape")], [out], allowzero=False)
        return out

    def product(self, a: str, ta: str, b: str, tb: str, tout: str) -> tuple[str, str]:
        """a (letters ta) times b (letters tb), keeping the letters of tout; returns (tensor, its letters)."""
        a, ta = self.reduce(a, ta, tb + tout)
        b, tb = self.reduce(b, tb, ta + tout)
        batch = "".join(c for c in tout if c in ta and c in tb)
        contract = "".join(c for c in ta if c in tb and c not in tout)
        a_keep = "".join(c for c in ta if c not in tb)
        b_keep = "".join(c for c in tb if c not in ta)
        if not contract:
            order = batch + a_keep + b_keep
            a2 = self.unsqueezed(self.transpose(a, ta, batch + a_keep), batch + a_keep, order)
            b2 = self.unsqueezed(self.transpose(b, tb, batch + b_keep), batch + b_keep, order)
            out = self.temp("product", order)
            self.ctx.emit("Mul", [a2, b2], [out])
            return out, order
        lead = len(batch)
        a2 = self.transpose(a, ta, batch + a_keep + contract)
        b2 = self.transpose(b, tb, batch + contract + b_keep)
        m, k, n = self.group(a_keep) if a_keep else 1, self.group(contract), self.group(b_keep) if b_keep else 1
        bshape = self.shape(batch)
        if len(a_keep) != 1 or len(contract) != 1:
            a2 = self.reshape(a2, lead, [a_keep, contract], bshape + (m, k))
        if len(b_keep) != 1 or len(contract) != 1:
            b2 = self.reshape(b2, lead, [contract, b_keep], bshape + (k, n))
        out = self.ctx.temp("matmul", np.float32, bshape + (m, n))
        self.ctx.emit("MatMul", [a2, b2], [out])
        order = batch + a_keep + b_keep
        if len(a_keep) != 1 or len(b_keep) != 1:
            out = self.reshape(out, lead, list(a_keep) + list(b_keep), self.shape(order))
        return out, order

    def unsqueezed(self, x: str, term: str, order: str) -> str:
        """x with size-1 axes where `order` has letters x lacks."""
        axes = [i for i, c in enumerate(order) if c not in term]
        if not axes:
            return x
        out = self.ctx.temp("unsqueezed", np.float32, tuple(self.dims[c] if c in term else 1 for c in order))
        self.ctx.emit("Unsqueeze", [x], [out], axes=axes)
        return out


@register("Einsum")
def einsum(ctx: ImportContext) -> None:
    for i in range(ctx.num_inputs):
        if ctx.dtype(i) != np.float32:
            ctx.unsupported(f"input {i} has type {ctx.dtype(i)}; only float32 is supported")
    terms, rhs = _parse(ctx, [ctx.rank(i) for i in range(ctx.num_inputs)])
    low = _Lowering(ctx)
    for i, t in enumerate(terms):
        low.learn(ctx.input(i), t)
    x, tx = ctx.input(0), terms[0]
    for i in range(1, len(terms)):
        later = "".join(terms[i + 1:]) + rhs
        keep = "".join(dict.fromkeys(c for c in tx + terms[i] if c in later))
        x, tx = low.product(x, tx, ctx.input(i), terms[i], keep)
    x, tx = low.reduce(x, tx, rhs)
    x = low.transpose(x, tx, rhs)
    ctx.emit("Identity", [x], [ctx.output(0)])
