/* Float32 Conv / ConvTranspose on NHWC over the ISA's microkernels
 * (f32_kernels.h). ISA-independent: packing, tiling, indirection, threads.
 *
 * Which algorithm, decided once at load from the weights' shape and the
 * options (ops/conv.c keeps the plan with the packed weights):
 *   DEPTHWISE  one input and one output channel per group: the dwconv
 *              kernels, vectorized over channels, interior pixels in runs;
 *   GEMM       any other Conv: per group, output pixels x output channels,
 *              K = taps x input channels. A 1x1 stride-1 unpadded conv reads
 *              the input rows directly; every other conv goes through an
 *              indirection buffer (one pointer per pixel and tap, built per
 *              tile of rows, a zero row in the padding: XNNPACK's IGEMM),
 *              which covers stride, dilation, padding and the 3-channel first
 *              layer without an im2col copy;
 *   TRANSPOSE  ConvTranspose with kernel == stride, no padding or dilation,
 *              group 1 (upsampling layers): each input pixel feeds a disjoint
 *              kh x kw block of outputs. For kernel row ky, the kw x C_out
 *              outputs of consecutive input pixels are consecutive in output
 *              row (iy * stride + ky): one GEMM per kernel row with
 *              N = kw x C_out writes them in place.
 * A GEMM conv with few input channels (the RGB first layer) takes the kw taps
 * of a kernel row as one contiguous K block (they are adjacent pixels in
 * NHWC), so the microkernel runs kh loops of kw x C_in instead of kh x kw
 * loops of C_in.
 * Anything else (other ConvTranspose geometries, runtime weights or bias,
 * more than NRT_F32_CONV_MAX_TAPS taps) stays on the reference kernels. */
#ifndef NRT_F32_CONV_H
#define NRT_F32_CONV_H

#include <stdbool.h>

#include "dispatch.h"
#include "threads.h"
#include "ref/conv_ref.h"

#define NRT_F32_CONV_MAX_TAPS 128
/* Ungrouped convs with fewer input channels than this (and kw x C_in <=
 * NRT_F32_ROWS_MAX_K) take one indirection entry per kernel row. */
#define NRT_F32_ROWS_CHANNELS 16
#define NRT_F32_ROWS_MAX_K 256

enum { NRT_F32_CONV_NONE = 0, NRT_F32_CONV_DEPTHWISE, NRT_F32_CONV_GEMM, NRT_F32_CONV_TRANSPOSE };

typedef struct nrt_f32_conv_plan {
    int kind;
    const nrt_f32_gemm_table* gemm;
    const nrt_f32_dwconv_table* dw;
    size_t group_floats;  /* packed floats per group (GEMM) or per kernel row (TRANSPOSE) */
    size_t packed_floats; /* total */
} nrt_f32_conv_plan;

/* The static facts a plan depends on. wdims: Conv OHWI [C_out, KH, KW, C_in/g];
 * ConvTranspose [C_in, KH, KW, C_out/g]. */
typedef struct nrt_f32_conv_desc {
    bool transpose;
    const int64_t* wdims;
    int64_t group;
    int64_t stride[2], dilation[2];
    bool padded;          /* any explicit pad, auto_pad SAME, output_padding or output_shape */
} nrt_f32_conv_desc;

/* False (plan->kind NONE) when the kernels `k` have nothing for this conv. */
bool nrt_f32_conv_plan_init(const nrt_kernels* k, const nrt_f32_conv_desc* d, nrt_f32_conv_plan* plan);

/* Packs constant weights w (layout of d->wdims) and bias (NULL = zeros). */
void nrt_f32_conv_pack(const nrt_f32_conv_plan* plan, const nrt_f32_conv_desc* d, const float* w, const float* bias,
                       float* packed);

/* y = act(conv(x) + bias) for the whole output; `zeros` holds >= C_in / group
 * zero floats (the padding row of the indirection). */
void nrt_f32_conv_run(const nrt_threads* threads, const nrt_f32_conv_plan* plan, const nrt_conv2d_geom* g, const float* x,
                      const float* packed, const float* zeros, const nrt_activation* act, float* y);

#endif
