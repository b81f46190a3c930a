/* Reference int8 kernels: the definition of every quantized op's result.
 * The arithmetic is kernels/requant.h's, step for step; tests/int8_reference.py
 * models it independently in numpy and the tests compare bit for bit.
 * Optimized kernels (x86/, arm/) must give the same bytes. */
#ifndef NRT_QS8_REF_H
#define NRT_QS8_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../activation.h"
#include "binary_ref.h"
#include "conv_ref.h"
#include "pool_ref.h"

/* Output side of a requantization: zero point and the clamp [qmin, qmax]. */
typedef struct nrt_qs8_out {
    int32_t zero_point, qmin, qmax;
} nrt_qs8_out;

/* ---- elementwise ---- */

/* Add / Sub / Mul of quantized operands (nrt_binary_kernel.params points here).
 * Add/Sub: v = ma * (a - za) + mb * (b - zb) (mb negated for Sub);
 * Mul:     v = ma * ((a - za) * (b - zb)). */
typedef struct nrt_qs8_binary {
    int32_t za, zb;
    float ma, mb;
    nrt_qs8_out out;
} nrt_qs8_binary;

/* nrt_binary_fn kernels (modes NRT_BIN_VV / VS / SV) */
void nrt_add_qs8_ref(const nrt_binary_kernel* k, const void* a, const void* b, void* y, size_t n, int mode);
void nrt_mul_qs8_ref(const nrt_binary_kernel* k, const void* a, const void* b, void* y, size_t n, int mode);

/* Rescale: y = requant((x - zx) * m); a copy when m == 1 and zx == zy with no clamp. */
void nrt_rescale_qs8_ref(const int8_t* x, int8_t* y, size_t n, int32_t zx, float m, const nrt_qs8_out* out);

/* f[i] = (float)(x[i] - zx): an int8 tensor in float (Resize's linear passes). */
void nrt_qs8_to_f32_ref(const int8_t* x, size_t n, int32_t zx, float* f);
/* y[i] = requant(f[i] * m): back to int8. */
void nrt_f32_to_qs8_ref(const float* f, size_t n, float m, const nrt_qs8_out* out, int8_t* y);

/* y = clamp(x, qmin, qmax) (an int8 max pool's / movement op's fused Relu). */
void nrt_clamp_qs8_ref(int8_t* y, size_t n, int32_t qmin, int32_t qmax);

/* ---- convolution ---- */

/* Conv: x NHWC, w OHWI [Cout, KH, KW, Cin/group] (or, when dw_packed, the
 * depthwise weights repacked [KH][KW][Cout]), folded int32 bias (or NULL),
 * per-channel multipliers m[Cout]; padding taps read zx.
 * ConvTranspose: w [Cin, KH, KW, Cout/group], unfolded bias, and
 * acc = bias + sum over the taps that reach the output of (x - zx) * w. */
typedef struct nrt_qs8_conv {
    const int8_t* x;
    const int8_t* w;
    const int32_t* bias;
    const float* m;
    int8_t* y;
    int32_t zx;
    nrt_qs8_out out;
    bool dw_packed;
} nrt_qs8_conv;

/* OHWI depthwise weights [Cout, KH, KW, 1] -> [KH][KW][Cout]. */
void nrt_conv_dw_pack_qs8(const int8_t* w, int64_t cout, int64_t kh, int64_t kw, int8_t* packed);
/* Output rows [row_begin, row_end) of N * OH. */
void nrt_conv2d_qs8_ref(const nrt_conv2d_geom* g, const nrt_qs8_conv* c, int64_t row_begin, int64_t row_end);
void nrt_conv_transpose2d_qs8_ref(const nrt_conv2d_geom* g, const nrt_qs8_conv* c, int64_t row_begin,
                                 int64_t row_end);

/* ---- pooling ---- */

/* AveragePool: acc = sum of (x - zx) over the taps inside the input; m(count) =
 * s_x / (s_y * count), formed in double per window, with the float op's count
 * (count_include_pad); a window with no tap (count 0, acc 0) uses count 1.
 * Output rows [row_begin, row_end) of N * OH. */
typedef struct nrt_qs8_pool {
    const int8_t* x;
    int8_t* y;
    float s_x, s_y;
    int32_t zx;
    nrt_qs8_out out;
} nrt_qs8_pool;

void nrt_avgpool2d_qs8_ref(const nrt_pool2d_geom* g, const nrt_qs8_pool* p, int64_t row_begin, int64_t row_end);
/* Global pools: x [N, HW, C] -> y [N, C], batches [n_begin, n_end). */
void nrt_global_avgpool_qs8_ref(const nrt_qs8_pool* p, int64_t hw, int64_t c, int64_t n_begin, int64_t n_end);
void nrt_global_maxpool_qs8_ref(const int8_t* x, int64_t hw, int64_t c, int8_t* y, int64_t n_begin, int64_t n_end);

/* The contract's AvgPool multiplier for a window of `count` taps. */
static inline float nrt_avgpool_multiplier(float s_x, float s_y, int64_t count) {
    return (float)((double)s_x / ((double)s_y * (double)(count > 0 ? count : 1)));
}

/* ---- matrix products ---- */

/* FullyConnected: c[m, n] = requant(bias[n] + sum_k a[m, k] * b[n, k], m[n]) (b = W [N, K],
 *   folded int32 bias or NULL, per-channel multipliers m[N]).
 * MatMul: c[m, n] = requant(sum_k (a[m, k] - za) * (b[k, n] - zb), m[0]) (b [K, N]).
 * Both compute the rectangle [m0, m1) x [n0, n1). */
typedef struct nrt_qs8_gemm {
    int64_t M, N, K;
    const int8_t* a;
    int64_t lda;
    const int8_t* b;
    int64_t ldb;
    int8_t* c;
    int64_t ldc;
    const int32_t* bias;
    const float* m;
    int32_t za, zb;
    nrt_qs8_out out;
} nrt_qs8_gemm;

void nrt_fc_qs8_ref(const nrt_qs8_gemm* g, int64_t m0, int64_t m1, int64_t n0, int64_t n1);
void nrt_matmul_qs8_ref(const nrt_qs8_gemm* g, int64_t m0, int64_t m1, int64_t n0, int64_t n1);

/* Dynamic-quantization FullyConnected (requant.h): float x [M, K] rows
 * quantized at run time, int8 W [N, K] with scales w_scale (N, or 1 when
 * !per_channel), float bias or NULL, float y [M, N], fused activation. */
typedef struct nrt_dyn_fc {
    int64_t M, N, K;
    const float* x;
    const int8_t* w;
    const float* w_scale;
    bool per_channel;
    const float* bias;
    float* y;
    nrt_activation act;
    int8_t* q;        /* scratch [M, K]: the quantized rows */
    float* row_scale; /* scratch [M]: s per row, NaN for a row that cannot be quantized */
    int32_t* row_zero; /* scratch [M] */
} nrt_dyn_fc;

/* Step 1, rows [m0, m1): quantize x into q / row_scale / row_zero. */
void nrt_dynamic_quantize_rows_ref(const nrt_dyn_fc* g, int64_t m0, int64_t m1);
/* Step 2, the rectangle [m0, m1) x [n0, n1) of y. */
void nrt_dynamic_fc_ref(const nrt_dyn_fc* g, int64_t m0, int64_t m1, int64_t n0, int64_t n1);

/* ---- softmax ---- */

/* table[d] = rint(65536 exp(-s_x d)), d = 0..255 (requant.h). */
void nrt_softmax_s8_table(float s_x, uint32_t* table);
/* x viewed as [outer, n, inner]; slices [o0, o1) of the outer dimension. */
void nrt_softmax_qs8_ref(const uint32_t* table, const int8_t* x, int8_t* y, int64_t o0, int64_t o1, int64_t n,
                        int64_t inner);

#endif
