/* Reference pooling kernels on NHWC tensors: each output pixel reduces the
 * taps of its window that lie inside the input, channel by channel (the
 * innermost loop runs over contiguous channels).
 *
 * MaxPool: the largest tap (NaN taps are ignored, as in ONNX's reference);
 * a window with no tap inside the input gives the type's lowest value.
 * AveragePool: the float32 sum of the taps in (kh, kw) order divided by the
 * number of taps inside the input, or with count_include_pad by the number
 * of taps inside the padded input. */
#ifndef NRT_POOL_REF_H
#define NRT_POOL_REF_H

#include <stdbool.h>
#include <stdint.h>

typedef struct nrt_pool2d_geom {
    int64_t n, ih, iw, c;
    int64_t oh, ow;
    int64_t kh, kw, sh, sw, dh, dw;
    int64_t pad_t, pad_l, pad_b, pad_r;
    bool count_include_pad;
} nrt_pool2d_geom;

/* Output rows [row_begin, row_end) of N * OH. */
void nrt_maxpool2d_f32_ref(const nrt_pool2d_geom* g, const float* x, float* y, int64_t row_begin, int64_t row_end);
void nrt_maxpool2d_qs8_ref(const nrt_pool2d_geom* g, const int8_t* x, int8_t* y, int64_t row_begin, int64_t row_end);
void nrt_maxpool2d_u8_ref(const nrt_pool2d_geom* g, const uint8_t* x, uint8_t* y, int64_t row_begin,
                          int64_t row_end);
void nrt_avgpool2d_f32_ref(const nrt_pool2d_geom* g, const float* x, float* y, int64_t row_begin, int64_t row_end);

/* GlobalMaxPool: x [N, H*W, C] -> y [N, C], for batches [n_begin, n_end)
 * (GlobalAveragePool: the f32_vsum_rows kernels). */
void nrt_global_maxpool_f32_ref(const float* x, int64_t hw, int64_t c, float* y, int64_t n_begin, int64_t n_end);

#endif
