/* Dynamic-quantization FullyConnected with group-wise int4 weights (the
 * definition every level follows bit for bit; tests model it in numpy).
 *
 * x rows are quantized at run time exactly as the int8 dynamic
 * FullyConnected does (nrt_dynamic_quantize_rows_ref: q, row_scale s,
 * row_zero z). W [N, K] is int4, two values per byte, low nibble first, in
 * the flat row-major order of the tensor; its scales are per output channel
 * and group of `group` consecutive k: group_scale [N, ceil(K / group)].
 * For each row i and column n:
 *     acc = 0.0f
 *     for each group g:  isum = sum_{k in g} (q[i,k] - z) * w[n,k]   (int32)
 *                        acc = acc + (float)isum * (s * group_scale[n,g])
 *     y = act(acc + bias[n])        (no bias: y = act(acc))
 * in float32, in that order; a row whose s is NaN gives NaN. */
#ifndef NRT_QD8_QB4W_REF_H
#define NRT_QD8_QB4W_REF_H

#include <stdint.h>

#include "../activation.h"

typedef struct nrt_dyn_fc_qb4w {
    int64_t M, N, K, group;
    const int8_t* q;          /* [M, K] quantized rows */
    const float* row_scale;   /* [M] */
    const int32_t* row_zero;  /* [M] */
    const uint8_t* w;         /* int4 [N, K], packed */
    const float* group_scale; /* [N, ceil(K / group)] */
    const float* bias;        /* [N] or NULL */
    float* y;                 /* [M, N] */
    nrt_activation act;
} nrt_dyn_fc_qb4w;

/* w[i] of a flat int4 array, sign-extended. */
static inline int32_t nrt_int4_at(const uint8_t* w, int64_t i) {
    int32_t v = (i & 1) ? w[i >> 1] >> 4 : w[i >> 1] & 15;
    return v - ((v & 8) << 1);
}

/* The rectangle [m0, m1) x [n0, n1) of y. */
void nrt_dynamic_fc_qb4w_ref(const nrt_dyn_fc_qb4w* g, int64_t m0, int64_t m1, int64_t n0, int64_t n1);

#endif
