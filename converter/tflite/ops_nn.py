"""Convolutions, pooling, fully connected, transpose convolution, resize,
depth/space and MEAN: TFLite's NHWC ops in the IR's NCHW form (weights
transposed at import: OHWI -> OIHW, depthwise [1, H, W, C*M] -> [C*M, 1, H, W],
transpose-conv OHWI -> IOHW), wrapped in the free Transposes of to_nchw."""

from __future__ import annotations

import struct

import numpy as np
import tflite

from nanort.schema.AutoPad import AutoPad
from nanort.schema.CoordinateTransform import CoordinateTransform
from nanort.schema.DepthSpaceMode import DepthSpaceMode
from nanort.schema.NearestMode import NearestMode
from nanort.schema.ResizeMode import ResizeMode

from ..ir import QuantParams
from . import activation
from .context import OpContext, register

PADDING = {tflite.Padding.SAME: AutoPad.SAME_UPPER, tflite.Padding.VALID: AutoPad.VALID}


def _auto_pad(ctx: OpContext, padding: int) -> int:
    if padding not in PADDING:
        ctx.unsupported(f"padding {padding}")
    return PADDING[padding]


def _weights(ctx: OpContext, i: int, axes: list[int], hint: str) -> str:
    """Constant weights input i with axes permuted (their per-channel quantization axis follows)."""
    src = ctx.input(i)
    t = ctx.graph.tensors[src]
    if t.data is None:
        ctx.unsupported(f"weights (input {i}) must be constant")
    if t.data.ndim != len(axes):
        ctx.unsupported(f"weights (input {i}) have shape {list(t.data.shape)}")
    name = ctx.add_const(np.ascontiguousarray(np.transpose(t.data, axes)), hint)
    q = t.quant
    if q is not None:
        axis = None if q.axis is None else axes.index(q.axis)
        ctx.graph.tensors[name].quant = QuantParams(q.scale, q.zero_point, axis)
    return name


def _nhwc_op(ctx: OpContext, op: str, x: str, others: list[str], **attrs) -> None:
    """out = act(op(x, *others)) computed in NCHW between the two free Transposes."""
    kind = activation.fused_activation(ctx)
    out = ctx.output(0)
    y = ctx.nchw_temp("nchw_out", out)
    raw = activation.raw_result(ctx, y, kind)
    while others and not others[-1]:
        others = others[:-1]
    ctx.emit(op, [ctx.to_nchw(x)] + others, [raw], **attrs)
    activation.finish(ctx, raw, y, kind)
    ctx.from_nchw(y, out)


@register("CONV_2D")
def conv_2d(ctx: OpContext) -> None:
    o = ctx.options
    x = ctx.input(0)
    w = ctx.tensor(1)
    in_channels = ctx.shape(x)[3]
    if len(w.shape) != 4 or w.shape[3] == 0 or in_channels % w.shape[3]:
        ctx.unsupported(f"weights of shape {list(w.shape)} do not fit input channels {in_channels}")
    _nhwc_op(ctx, "Conv", x, [_weights(ctx, 1, [0, 3, 1, 2], "w_oihw"), ctx.input(2)],
             strides=[o.StrideH(), o.StrideW()], dilations=[o.DilationHFactor(), o.DilationWFactor()],
             pads=[0, 0, 0, 0], auto_pad=_auto_pad(ctx, o.Padding()), group=in_channels // w.shape[3])


@register("DEPTHWISE_CONV_2D")
def depthwise_conv_2d(ctx: OpContext) -> None:
    o = ctx.options
    x = ctx.input(0)
    channels = ctx.shape(x)[3]
    w = ctx.tensor(1)
    if len(w.shape) != 4 or w.shape[0] != 1 or channels == 0 or w.shape[3] % channels:
        ctx.unsupported(f"weights of shape {list(w.shape)} do not fit input channels {channels}")
    _nhwc_op(ctx, "Conv", x, [_weights(ctx, 1, [3, 0, 1, 2], "w_dw"), ctx.input(2)],
             strides=[o.StrideH(), o.StrideW()], dilations=[o.DilationHFactor(), o.DilationWFactor()],
             pads=[0, 0, 0, 0], auto_pad=_auto_pad(ctx, o.Padding()), group=channels)


def _pool(ctx: OpContext, op: str) -> None:
    o = ctx.options
    _nhwc_op(ctx, op, ctx.input(0), [], kernel_shape=[o.FilterHeight(), o.FilterWidth()],
             strides=[o.StrideH(), o.StrideW()], dilations=[1, 1], pads=[0, 0, 0, 0],
             auto_pad=_auto_pad(ctx, o.Padding()), ceil_mode=False,
             **({"count_include_pad": False} if op == "AveragePool" else {}))


@register("AVERAGE_POOL_2D")
def average_pool(ctx: OpContext) -> None:
    _pool(ctx, "AveragePool")


@register("MAX_POOL_2D")
def max_pool(ctx: OpContext) -> None:
    _pool(ctx, "MaxPool")


def _transpose_conv(ctx: OpContext, x_i: int, w_i: int, bias_i: int, padding: int, strides: list[int]) -> None:
    """Output size from the output tensor; TFLite pads like the convolution it inverts (SAME: the
    odd padding element at the end)."""
    x = ctx.input(x_i)
    out = ctx.output(0)
    (_, h, w_, _), (_, oh, ow, _) = ctx.shape(x), ctx.shape(out)
    wt = ctx.tensor(w_i)
    if len(wt.shape) != 4:
        ctx.unsupported(f"weights of shape {list(wt.shape)}")
    kernel = wt.shape[1:3]
    pads, out_pad = [0, 0, 0, 0], [0, 0]
    for k, (size, out_size) in enumerate(((h, oh), (w_, ow))):
        full = (size - 1) * strides[k] + kernel[k]
        if padding == tflite.Padding.VALID or full <= out_size:
            out_pad[k] = out_size - full
        else:
            total = full - out_size
            pads[k], pads[k + 2] = total // 2, total - total // 2
        if out_pad[k] < 0 or (out_pad[k] and out_pad[k] >= strides[k]):
            ctx.unsupported(f"output size {out_size} does not follow from input size {size}")
    kind = activation.fused_activation(ctx)
    y = ctx.nchw_temp("nchw_out", out)
    raw = activation.raw_result(ctx, y, kind)
    inputs = [ctx.to_nchw(x), _weights(ctx, w_i, [3, 0, 1, 2], "w_iohw")]
    if ctx.has_input(bias_i):
        inputs.append(ctx.input(bias_i))
    ctx.emit("ConvTranspose", inputs, [raw], strides=list(strides), dilations=[1, 1], pads=pads,
             auto_pad=AutoPad.NOTSET, group=1, output_padding=out_pad)
    activation.finish(ctx, raw, y, kind)
    ctx.from_nchw(y, out)


@register("TRANSPOSE_CONV")
def transpose_conv(ctx: OpContext) -> None:
    """Inputs: output shape, weights [O, H, W, I], x, bias?"""
    o = ctx.options
    _transpose_conv(ctx, 2, 1, 3, o.Padding(), [o.StrideH(), o.StrideW()])


TFLITE_PADDING = {1: tflite.Padding.SAME, 2: tflite.Padding.VALID}  # TfLitePadding (C enum) of custom options


@register("CUSTOM:Convolution2DTransposeBias")
def convolution_2d_transpose_bias(ctx: OpContext) -> None:
    """MediaPipe's transpose convolution with bias: inputs x, weights [O, H, W, I], bias; its
    custom options are a TfLiteTransposeConvParams struct (padding, stride_width, stride_height)."""
    raw = ctx.op.custom_options
    if len(raw) < 12:
        ctx.unsupported(f"custom options of {len(raw)} bytes (expected a 12-byte parameter struct)")
    padding, stride_w, stride_h = struct.unpack_from("<iii", raw)
    if padding not in TFLITE_PADDING or stride_w < 1 or stride_h < 1:
        ctx.unsupported(f"padding {padding}, strides {stride_h}x{stride_w}")
    _transpose_conv(ctx, 0, 1, 2, TFLITE_PADDING[padding], [stride_h, stride_w])


@register("FULLY_CONNECTED")
def fully_connected(ctx: OpContext) -> None:
    """TFLite flattens the input to [-1, K] (K: the weights' row length); keep_num_dims keeps
    the input's leading dims instead."""
    o = ctx.options
    if o is not None and o.WeightsFormat() != tflite.FullyConnectedOptionsWeightsFormat.DEFAULT:
        ctx.unsupported("shuffled weights formats are not supported")
    x = ctx.input(0)
    w = ctx.tensor(1)
    if len(w.shape) != 2:
        ctx.unsupported(f"weights of shape {list(w.shape)}")
    if ctx.const(1) is None:
        ctx.unsupported("weights must be constant")
    k = w.shape[1]
    keep = bool(o.KeepNumDims()) if o is not None else False
    shape = ctx.shape(x)
    if shape[-1] != k or (not keep and len(shape) != 2):
        if keep:
            ctx.unsupported(f"keep_num_dims with input {list(shape)} and weights {list(w.shape)}")
        rows = int(np.prod(shape)) // k if k else 0
        flat = ctx.temp("rows", x, [rows, k])
        ctx.emit("Reshape", [x, ctx.add_const(np.array([rows, k], np.int64), "rows_shape")], [flat])
        x = flat
    kind = activation.fused_activation(ctx)
    out = ctx.output(0)
    raw = activation.raw_result(ctx, out, kind)
    inputs = [x, ctx.input(1)] + ([ctx.input(2)] if ctx.has_input(2) else [])
    ctx.emit("FullyConnected", inputs, [raw], keep_dims=True)
    activation.finish(ctx, raw, out, kind)


@register("MEAN")
def mean(ctx: OpContext) -> None:
    """MEAN over H and W of a 4-D tensor is a global average pool (which has int8 kernels)."""
    axes = sorted(int(a) % max(len(ctx.tensor(0).shape), 1) for a in ctx.require_const(1, "axes").reshape(-1))
    keep = bool(ctx.options.KeepDims()) if ctx.options is not None else False
    x, out = ctx.input(0), ctx.output(0)
    if len(ctx.shape(x)) == 4 and axes == [1, 2]:
        pooled_shape = list(ctx.shape(x))
        pooled_shape[1:3] = [1, 1]
        pooled = out if keep else ctx.temp("pooled", out, pooled_shape)
        y = ctx.nchw_temp("nchw_out", pooled)
        ctx.emit("GlobalAveragePool", [ctx.to_nchw(x)], [y])
        ctx.from_nchw(y, pooled)
        if not keep:
            ctx.emit("Reshape", [pooled, ctx.add_const(np.array(ctx.shape(out), np.int64), "shape")], [out])
        return
    ctx.emit("ReduceMean", [x], [out], axes=axes, keepdims=keep)


def _resize(ctx: OpContext, mode: int) -> None:
    o = ctx.options
    align, half = (bool(o.AlignCorners()), bool(o.HalfPixelCenters())) if o is not None else (False, False)
    x, out = ctx.input(0), ctx.output(0)
    if len(ctx.shape(x)) != 4:
        ctx.unsupported(f"input of shape {list(ctx.shape(x))} (4-D NHWC only)")
    if align and half:
        ctx.unsupported("align_corners together with half_pixel_centers")
    if mode == ResizeMode.LINEAR:
        coord = CoordinateTransform.ALIGN_CORNERS if align else \
            CoordinateTransform.HALF_PIXEL if half else CoordinateTransform.ASYMMETRIC
        nearest = NearestMode.FLOOR
    else:  # TFLite: floor(x * scale), floor((x + 0.5) * scale) or round(x * scale) with aligned corners
        coord = CoordinateTransform.ALIGN_CORNERS if align else \
            CoordinateTransform.TF_HALF_PIXEL_FOR_NN if half else CoordinateTransform.ASYMMETRIC
        nearest = NearestMode.ROUND_PREFER_CEIL if align else NearestMode.FLOOR
    sizes = ctx.add_const(np.array(ctx.shape(out), np.int64), "sizes")
    ctx.emit("Resize", [x, "", "", sizes], [out], mode=mode, coordinate_transform=coord, nearest_mode=nearest)


@register("RESIZE_BILINEAR")
def resize_bilinear(ctx: OpContext) -> None:
    _resize(ctx, ResizeMode.LINEAR)


@register("RESIZE_NEAREST_NEIGHBOR")
def resize_nearest(ctx: OpContext) -> None:
    _resize(ctx, ResizeMode.NEAREST)


def _depth_space(ctx: OpContext, op: str) -> None:
    block = int(ctx.options.BlockSize()) if ctx.options is not None else 0
    if block < 1:
        ctx.unsupported(f"block size {block}")
    out = ctx.output(0)
    y = ctx.nchw_temp("nchw_out", out)
    ctx.emit(op, [ctx.to_nchw(ctx.input(0))], [y], block_size=block, mode=DepthSpaceMode.DCR)
    ctx.from_nchw(y, out)


@register("DEPTH_TO_SPACE")
def depth_to_space(ctx: OpContext) -> None:
    _depth_space(ctx, "DepthToSpace")


@register("SPACE_TO_DEPTH")
def space_to_depth(ctx: OpContext) -> None:
    _depth_space(ctx, "SpaceToDepth")
