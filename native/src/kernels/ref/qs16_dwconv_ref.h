/* 16x8 depthwise conv (group == C_in == C_out), portable C for every level:
 * the channel loops are plain int32 multiply-adds the compiler vectorizes.
 * Exact: at most NRT_CONV_MAX_TAPS products of |x * w| <= 2^22 per channel
 * (< 2^30 in int32), then + the int64 bias and qs16_kernels.h's
 * requantization, so every level gives the same int16 values. */
#ifndef NRT_QS16_DWCONV_REF_H
#define NRT_QS16_DWCONV_REF_H

#include "../qs16_kernels.h"
#include "conv_ref.h"

typedef struct nrt_qs16_dwconv {
    const nrt_conv2d_geom* g;
    const int16_t* x;
    const int16_t* w;     /* [kh][kw][C] */
    const int64_t* bias;  /* [C] or NULL */
    const float* m;       /* [C] */
    nrt_qs16_requant rq;
    int16_t* y;
} nrt_qs16_dwconv;

/* w OHWI [C][kh][kw][1] -> [kh][kw][C]. */
void nrt_qs16_dwconv_pack(const int8_t* w, int64_t channels, int64_t taps, int16_t* packed);

/* Output rows [row_begin, row_end) of the N * OH rows. */
void nrt_qs16_dwconv_ref(const nrt_qs16_dwconv* d, int64_t row_begin, int64_t row_end);

#endif
