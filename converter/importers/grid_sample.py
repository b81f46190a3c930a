"""GridSample (opsets 16 and 20; opset 20 renamed bilinear / bicubic to
linear / cubic). The runtime samples 2-D and 3-D images (rank-4 NCHW and
rank-5 NCDHW inputs); the image keeps its NCHW layout.
"""

from __future__ import annotations

from nanort.schema.GridSampleMode import GridSampleMode
from nanort.schema.GridSamplePadding import GridSamplePadding

from . import ImportContext, register

MODES = {"linear": GridSampleMode.LINEAR, "bilinear": GridSampleMode.LINEAR, "nearest": GridSampleMode.NEAREST,
         "cubic": GridSampleMode.CUBIC, "bicubic": GridSampleMode.CUBIC}
PADDINGS = {"zeros": GridSamplePadding.ZEROS, "border": GridSamplePadding.BORDER,
            "reflection": GridSamplePadding.REFLECTION}


@register("GridSample")
def grid_sample(ctx: ImportContext) -> None:
    rank = ctx.rank(0)
    if rank is not None and rank not in (4, 5):
        ctx.unsupported(f"a rank-{rank} input (2-D and 3-D images, rank-4 and rank-5 NCHW inputs, are sampled)")
    if ctx.dtype(0) is not None and ctx.dtype(0) != "float32":
        ctx.unsupported(f"{ctx.dtype(0)} images (float32 is supported)")
    mode = ctx.attr("mode", "linear" if ctx.opset >= 20 else "bilinear")
    padding = ctx.attr("padding_mode", "zeros")
    if mode not in MODES:
        ctx.unsupported(f"mode={mode!r}")
    if padding not in PADDINGS:
        ctx.unsupported(f"padding_mode={padding!r}")
    if rank == 5 and MODES[mode] == GridSampleMode.CUBIC:
        ctx.unsupported("cubic mode of a 3-D image (linear and nearest are supported; onnxruntime and PyTorch "
                        "sample 3-D images with those two only)")
    ctx.emit("GridSample", [ctx.input(0), ctx.input(1)], [ctx.output(0)], mode=MODES[mode],
             padding_mode=PADDINGS[padding], align_corners=bool(ctx.attr("align_corners", 0)))
