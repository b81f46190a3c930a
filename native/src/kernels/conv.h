/* The one Conv / ConvTranspose driver, for every element type: it sees the
 * microkernel tables (gemm.h, dwconv.h, and int8's convt table), byte
 * pointers and element sizes, never the element type itself. Weight
 * packing, indirection (indirection.h), tiling and threads.
 *
 * Algorithms, chosen once at load from the weights' shape (the plan is kept
 * with the packed weights):
 *   DEPTHWISE  group == C_in == C_out (one input channel per output channel):
 *              the dwconv kernels, vectorized over channels. Each output
 *              row's interior (every tap inside the input) goes to the
 *              table's row kernel, which finds the taps at fixed strides from
 *              one pointer per kernel row; the edge pixels (and everything on
 *              tables without one) get one tap pointer per (output pixel,
 *              tap), padding taps pointing at the padding buffer. An output
 *              row whose top or bottom kernel rows lie in the padding runs
 *              only the rows inside, on weights packed for them per input
 *              shape ("row variants", nrt_conv_dw_rows_*), the skipped taps'
 *              padding x W folded into the bias: small feature maps with 5x5
 *              kernels spend most taps in the padding otherwise.
 *   GEMM       any other conv, per group: output pixels x output channels,
 *              K = taps x input channels of the group. A 1x1 stride-1
 *              unpadded ungrouped conv reads the input rows in place (gemm);
 *              every other one goes through an indirection buffer (igemm:
 *              one pointer per pixel and tap, the padding buffer in the
 *              padding), built per tile of MR pixels: no im2col copy. With
 *              few input channels (the RGB first layer) and undilated
 *              columns, the kw taps of a kernel row are kw x C_in contiguous
 *              elements of the input, so each kernel row is one K block of the
 *              indirection ("merged rows": kh blocks of kw x C_in instead of
 *              kh x kw blocks of C_in, e.g. 3 x 9 bytes instead of 9 x 3).
 *   TRANSPOSE  ConvTranspose with kernel == stride, no padding or dilation,
 *              group 1 (upsampling layers): every output pixel receives
 *              exactly one tap. For kernel row ky, the kw x C_out outputs of
 *              consecutive input pixels are consecutive in output row
 *              iy * stride + ky: one GEMM per kernel row with N = kw x C_out
 *              writes them in place. When all kh x kw x C_out columns fit one
 *              panel (an upsampling to one channel: 2 x 2 x 1), one GEMM
 *              covers every kernel row through a buffer ("merged rows" too).
 *              Before both, with an int8 convt table (qs8_kernels.h): when
 *              kh x kw x C_out divides its vector, several pixels share each
 *              vector, one call per input row writing every kernel row in
 *              place; when it is whole vectors per kernel row, at most the
 *              table's wide_max, its wide kernel takes each pixel against all
 *              kernel rows at once. An int8 ConvTranspose's input zero point
 *              folds into the packed bias (every output gets one tap).
 * Other geometries (other ConvTransposes, more than NRT_CONV_MAX_TAPS taps,
 * depthwise with a channel multiplier) are left to the reference kernels. */
#ifndef NRT_CONV_H
#define NRT_CONV_H

#include <stdbool.h>

#include "dwconv.h"
#include "f32_kernels.h"
#include "gemm.h"
#include "ref/conv_ref.h"
#include "qs8_kernels.h"
#include "threads.h"

#define NRT_CONV_MAX_TAPS 128
/* Merged rows: C_in below this, kw x C_in at most NRT_CONV_ROWS_MAX_K
 * elements and kh at most NRT_CONV_ROWS_MAX_KH (the edge copies live on the
 * stack). */
#define NRT_CONV_ROWS_CHANNELS 16
#define NRT_CONV_ROWS_MAX_K 64
#define NRT_CONV_ROWS_MAX_KH 16

/* The kernels a conv of one element type may use (an op picks them from its
 * level's table by its tensors' types); convt only for int8. */
typedef struct nrt_conv_kernels {
    const nrt_gemm_table* gemm;
    const nrt_dwconv_table* dw;
    const nrt_qs8_convt_table* convt;
} nrt_conv_kernels;

/* The static facts a plan depends on. wdims: Conv OHWI [C_out, KH, KW, C_in/g];
 * ConvTranspose [C_in, KH, KW, C_out/g]. */
typedef struct nrt_conv_desc {
    bool transpose;
    const int64_t* wdims;
    int64_t group;
    int64_t stride[2], dilation[2];
    bool padded; /* any explicit pad, auto_pad SAME, output_padding or output_shape */
} nrt_conv_desc;

enum { NRT_CONV_NONE = 0, NRT_CONV_GEMM, NRT_CONV_DEPTHWISE, NRT_CONV_TRANSPOSE };

typedef struct nrt_conv_plan {
    int kind;
    const nrt_gemm_table* gemm;
    const nrt_dwconv_table* dw;
    const nrt_qs8_convt_table* convt; /* TRANSPOSE through a convt table (else the GEMM's): */
    bool convt_wide;                 /* its `wide` kernel, else its `run` */
    bool merged_rows;    /* GEMM: one K block per kernel row (packed as kh blocks of kw x C_in);
                            TRANSPOSE: one panel for every kernel row (columns (ky, kx, c)) */
    size_t group_bytes;  /* GEMM: packed bytes per group; TRANSPOSE: per kernel row */
    size_t packed_bytes; /* total */
} nrt_conv_plan;

/* False (kind NONE) when the kernels have nothing for this conv. */
bool nrt_conv_plan_init(const nrt_conv_kernels* k, const nrt_conv_desc* d, nrt_conv_plan* plan);

/* The constant weights (layout of the desc's wdims), bias (NULL: 0) and
 * per-output-channel scales of the format (int8: multipliers), and the
 * padding's value (int8: x's zero point; 0 for float32). */
typedef struct nrt_conv_weights {
    const void* w;
    const void* bias;
    const float* scales;
    int32_t zero;
} nrt_conv_weights;

/* Packs them into `packed` (NRT_PACK_ALIGN-aligned, plan->packed_bytes);
 * false when out of memory. */
bool nrt_conv_pack(const nrt_conv_plan* plan, const nrt_conv_desc* d, const nrt_conv_weights* w, void* packed);

#define NRT_CONV_DW_MAX_VARIANTS 8

/* Depthwise row variants of one input shape (see DEPTHWISE above). */
typedef struct nrt_conv_dw_rows {
    int count;
    int64_t ky0[NRT_CONV_DW_MAX_VARIANTS], ky1[NRT_CONV_DW_MAX_VARIANTS];
    size_t offset[NRT_CONV_DW_MAX_VARIANTS]; /* bytes into the variants' memory */
    const uint8_t* packed;                   /* set by nrt_conv_dw_rows_pack */
} nrt_conv_dw_rows;

/* Plans the variants of a DEPTHWISE plan for geometry g; returns the bytes
 * they need (0: none worth having; r->count 0). */
size_t nrt_conv_dw_rows_plan(const nrt_conv_plan* plan, const nrt_conv2d_geom* g, nrt_conv_dw_rows* r);

/* Packs them into `mem` (NRT_PACK_ALIGN-aligned) from the constant weights. */
void nrt_conv_dw_rows_pack(const nrt_conv_plan* plan, const nrt_conv2d_geom* g, const nrt_conv_weights* w,
                           nrt_conv_dw_rows* r, void* mem);

/* y = conv(x) with the output side `params` (the tables' format's), for the
 * whole output; `pad` holds >= C_in elements of the padding's value; rows:
 * depthwise row variants or NULL. */
void nrt_conv_run(const nrt_threads* threads, const nrt_conv_plan* plan, const nrt_conv2d_geom* g, const void* x,
                  const void* packed, const nrt_conv_dw_rows* rows, const void* pad, const void* params, void* y);

/* An int8 table applied to every output value right after the microkernel
 * wrote it (a fused Lut: y = table[y + 128]): per task, on the rows x
 * columns it wrote while they are in cache, so the result is the Lut's on
 * the conv's bytes exactly. GEMM and DEPTHWISE plans of int8 only. */
typedef struct nrt_conv_lut {
    nrt_qs8_lut_ukernel run;
    const int8_t* table;
} nrt_conv_lut;

/* nrt_conv_run with `lut` applied to the output (NULL: none). */
void nrt_conv_run_lut(const nrt_threads* threads, const nrt_conv_plan* plan, const nrt_conv2d_geom* g, const void* x,
                      const void* packed, const nrt_conv_dw_rows* rows, const void* pad, const void* params,
                      const nrt_conv_lut* lut, void* y);

/* What a float32 conv applies to its output right after the microkernel
 * wrote it (a fused Add and / or PRelu, engine/prepare.c): per task, on the
 * rows x columns it wrote while they are in cache,
 *   y = act(y + r) on the first `channels` output channels, act(y) on the
 *       rest (r zero-padded in channels: BlazeFace's blocks pad the shortcut
 *       so), when r is not NULL;
 *   then y = prelu(y, slope[channel]) when slope is not NULL.
 * The kernels are the unfused ops' own, so the result is theirs. The conv's
 * own activation must be none. GEMM and DEPTHWISE plans of float32. */
typedef struct nrt_conv_post {
    const float* r;  /* [pixels, channels], or NULL */
    size_t channels; /* <= C_out */
    nrt_f32_vbinary_ukernel add;
    nrt_f32_vact_ukernel act_run;
    const nrt_activation* act;
    const float* slope;  /* [slope_rows, C_out]: the slopes repeated (one call covers that many
                            whole rows), or NULL */
    size_t slope_rows;
    nrt_f32_vbinary_ukernel prelu;
} nrt_conv_post;

/* The post-ops on output rows (pixels) [m0, m0 + mr), channels [c0, c1) of y [pixels, cout]. */
void nrt_conv_post_rows(const nrt_conv_post* post, float* y, size_t cout, size_t m0, size_t mr, size_t c0,
                        size_t c1);

/* nrt_conv_run with `post` applied to the output. */
void nrt_conv_run_post(const nrt_threads* threads, const nrt_conv_plan* plan, const nrt_conv2d_geom* g,
                       const void* x, const void* packed, const nrt_conv_dw_rows* rows, const void* pad,
                       const void* params, const nrt_conv_post* post, void* y);

#endif
