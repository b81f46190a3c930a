/* Reference float32 kernels for 2-D convolution on NHWC activations.
 *
 * Conv: x [N, IH, IW, C_in], weights OHWI [C_out, KH, KW, C_in/group],
 * repacked once by nrt_conv_pack_f32 so the innermost loop runs over
 * contiguous output channels (vectorizes without reassociating sums):
 *   depthwise-like (C_in/group == 1, group > 1): [KH][KW][C_out]
 *   otherwise:                                   [group][KH][KW][C_in/group][C_out/group]
 * Every output is  sum over (kh, kw, ic) in that order, in float32, then
 * + bias, then the fused activation (nrt_activation_apply). Taps that fall
 * in the padding add nothing: they are skipped, or (columns of the generic
 * path) read a row of zeros, which differs only in the sign of a zero sum
 * and for non-finite weights.
 *
 * ConvTranspose: x NHWC, weights [C_in, KH, KW, C_out/group] (IHWO), computed
 * as a gather per output row: each output adds, for every tap (kh, kw) that
 * reaches it in that order, the sum over the group's input channels, then
 * + bias, then the activation. The weights are used in the layout
 * nrt_conv_transpose_layout picks, which also fixes the order of the
 * input-channel sum:
 *   PLAIN (as stored, IHWO): sequential over ic, vectorized over outputs;
 *   DOT (few outputs per group, many inputs): packed [group][KH][KW][C_out/g][C_in/g],
 *     a 4-lane dot product over ic (see dot4 in conv_ref.c);
 *   DEPTHWISE (one input and one output per group): packed [KH][KW][C]. */
#ifndef NRT_CONV_REF_H
#define NRT_CONV_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../activation.h"

typedef struct nrt_conv2d_geom {
    int64_t n, ih, iw, cin;
    int64_t oh, ow, cout;
    int64_t kh, kw;
    int64_t sh, sw, dh, dw;
    int64_t pad_t, pad_l;   /* may be negative for ConvTranspose (output_shape) */
    int64_t group;
} nrt_conv2d_geom;

/* Which packed layout nrt_conv_pack_f32 produces for these shapes. */
static inline bool nrt_conv_is_depthwise(int64_t cin_per_group, int64_t group) {
    return cin_per_group == 1 && group > 1;
}

/* A 1x1, stride-1, unpadded, ungrouped conv: a GEMM over pixels. */
static inline bool nrt_conv_is_pointwise(const nrt_conv2d_geom* g) {
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pad_t == 0 && g->pad_l == 0 &&
           g->group == 1 && g->oh == g->ih && g->ow == g->iw;
}

/* w: OHWI [cout][kh][kw][cin_per_group] -> packed (see above). */
void nrt_conv_pack_f32(const float* w, int64_t cout, int64_t kh, int64_t kw, int64_t cin_per_group, int64_t group,
                       float* packed);

/* Output rows [row_begin, row_end) of the N * OH rows. `zeros` holds at
 * least cin / group zero floats (the padding row). bias may be NULL. */
void nrt_conv2d_f32_ref(const nrt_conv2d_geom* g, const float* x, const float* packed_w, const float* bias,
                        const nrt_activation* act, const float* zeros, float* y, int64_t row_begin, int64_t row_end);

/* Pointwise conv as a GEMM: pixels [m_begin, m_end) of N * H * W. */
void nrt_conv1x1_f32_ref(const nrt_conv2d_geom* g, const float* x, const float* packed_w, const float* bias,
                         const nrt_activation* act, float* y, int64_t m_begin, int64_t m_end);

enum { NRT_CONVT_PLAIN = 0, NRT_CONVT_DOT = 1, NRT_CONVT_DEPTHWISE = 2 };
int nrt_conv_transpose_layout(int64_t cin_per_group, int64_t cout_per_group, int64_t group);
/* w IHWO -> the layout above (not called for PLAIN). */
void nrt_conv_transpose_pack_f32(const float* w, int64_t cin, int64_t kh, int64_t kw, int64_t cout_per_group,
                                 int64_t group, float* packed);

/* ConvTranspose output rows [row_begin, row_end) of N * OH; w in the layout
 * nrt_conv_transpose_layout gives. */
void nrt_conv_transpose2d_f32_ref(const nrt_conv2d_geom* g, const float* x, const float* w, const float* bias,
                                  const nrt_activation* act, float* y, int64_t row_begin, int64_t row_end);

/* y[i] = act(y[i] + bias[i % c]) over n pixels of c channels (bias may be NULL). */
void nrt_bias_act_f32(float* y, int64_t pixels, int64_t c, const float* bias, const nrt_activation* act);

#endif
