/* int8 microkernel tables: the interface between the ISA-independent drivers
 * (kernels/conv.c, gemm.c: packing, indirection, tiling, threads) and the
 * per-ISA int8 microkernels (kernels/scalar/, kernels/x86/, kernels/arm/);
 * dispatch.c says which level uses which.
 *
 * Results: BIT-EXACT with the reference kernels on every level. Every kernel
 * computes kernels/requant.h's accumulator modulo 2^32 (SIMD integer adds
 * wrap, so any summation order gives the same int32) and then the same IEEE
 * single steps in the same order: cvtdq2ps, mulps by the channel's
 * multiplier, maxps / minps with [lo, hi], cvtps2dq under the default
 * rounding mode (round half to even), + zero point, narrow (the value is
 * already inside [-128, 127], so saturation never changes it). No FMA may
 * fuse the multiply into anything (build flag -ffp-contract=off).
 *
 * The GEMM and depthwise families are gemm.h's and dwconv.h's (their int8
 * formats: nrt_gemm_format_qs8_qc8w, nrt_gemm_format_qs8_matmul, nrt_dwconv_format_qs8_qc8w);
 * here: the output side of a requantization, the depthwise weight layouts,
 * the elementwise families, ConvTranspose's convt tables and the dynamic
 * FullyConnected. Packing happens once, at load, into the op's parameters
 * (the bytes count in model->packed_weight_bytes): tile shapes and x_offset
 * are the running ISA's, so a file stays portable. */

#ifndef NRT_QS8_KERNELS_H
#define NRT_QS8_KERNELS_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dwconv.h"
#include "gemm.h"
#include "isa.h"
#include "ref/binary_ref.h"

/* Output of a requantization in the form kernels use: the clamp [lo, hi] =
 * [qmin - z_y, qmax - z_y] as floats (applied before rounding, requant.h),
 * then + z_y.
 *
 * int_clamp: the caller knows every scaled value acc * m lies within
 * +-2^30 (NRT_QS8_INT_CLAMP_BOUND). Then rounding first and clamping the
 * integer after gives the same codes (the bounds are integers, rounding is
 * monotonic), and a kernel may let the saturating narrowing clamp to int8 and
 * bytewise min / max to [qmin, qmax]: cheaper than the float clamp, which
 * matters where K is small and requantization is much of a tile's work. */
typedef struct nrt_qs8_requant {
    float lo, hi;
    int32_t zero_point;
    bool int_clamp;
} nrt_qs8_requant;

#define NRT_QS8_INT_CLAMP_BOUND 0x1p30

static inline nrt_qs8_requant nrt_qs8_requant_make(int32_t zero_point, int32_t qmin, int32_t qmax) {
    nrt_qs8_requant r = {(float)(qmin - zero_point), (float)(qmax - zero_point), zero_point, false};
    return r;
}

/* One scaled value through the output side, in the kernels' order: clamp to
 * [lo, hi] (max, then min), round half to even, + zero point. */
static inline int8_t nrt_qs8_requant_value(float v, const nrt_qs8_requant* rq) {
    v = v < rq->lo ? rq->lo : v;
    v = v > rq->hi ? rq->hi : v;
    return (int8_t)((int32_t)rintf(v) + rq->zero_point);
}

/* ---- depthwise weight layouts (nrt_dwconv_table.layout) ----
 *
 * An int8 depthwise tile (dwconv.h, nrt_dwconv_format_qs8_qc8w) holds its weights as
 *   NRT_QS8_DW_INT8:    int8
 *   NRT_QS8_DW_INT16:   int16 (sign-extended)
 *   NRT_QS8_DW_TAP_PAIRS: for a dot product of 4 bytes per int32 lane on inputs read as
 *                      x + 128 (unsigned; vpdpbusd), whose lanes hold two taps of two adjacent
 *                      channels (x_a[c], x_b[c], x_a[c+1], x_b[c+1]), as unpacking two taps'
 *                      rows bytewise gives: the taps in pairs (2q, 2q+1), an odd count's last
 *                      one paired with a zero-weight tap; per pair 4 vectors of cw / 4 lanes,
 *                      vector k's lane i (L = i / 4, j = i % 4) for channel
 *                      c = 16L + 8(k / 2) + 2j + k % 2 holding the bytes (w_a[c], w_b[c], 0, 0)
 *                      for even k, (0, 0, w_a[c], w_b[c]) for odd k (2 bytes per weight; cw a
 *                      multiple of 16). bias[] and m[] of such a tile are in slot order
 *                      s = k * cw / 4 + i, and the bias holds -128 x the channel's weights
 *                      (exact modulo 2^32), which cancels the inputs' offset.
 *   NRT_QS8_DW_SDOT_TAP_PAIRS: NRT_QS8_DW_TAP_PAIRS for a signed x signed dot product (SDOT):
 *                      the inputs read as they are, the bias without the -128 x weights.
 *   NRT_QS8_DW_INT16_TAP_PAIRS: for a 16-bit pair multiply-add (vpmaddwd) on inputs widened
 *                      to int16 whose lanes hold two taps of one channel (x_a[c], x_b[c]), as
 *                      unpacking two taps' widened rows by 16-bit lanes gives: the taps paired
 *                      as in NRT_QS8_DW_TAP_PAIRS; per pair 2 vectors of cw / 2 lanes, vector
 *                      h's lane i (L = i / 4, j = i % 4) for channel c = 8L + 4h + j holding
 *                      the int16 pair (w_a[c], w_b[c]) (2 bytes per weight; cw a multiple of
 *                      8); bias[] and m[] in slot order s = h * cw / 2 + i. */
enum {
    NRT_QS8_DW_INT8 = 1,
    NRT_QS8_DW_INT16 = 2,
    NRT_QS8_DW_TAP_PAIRS = 0x202,
    NRT_QS8_DW_INT16_TAP_PAIRS = 0x302,
    NRT_QS8_DW_SDOT_TAP_PAIRS = 0x402,
};
/* Bytes per packed depthwise weight of a layout. */
static inline size_t nrt_qs8_dw_weight_bytes(uint32_t layout) { return layout & 0xFF; }

/* ---- vector kernels: elementwise, table, pooling ----
 *
 * vadd / vmul: exactly nrt_add_qs8_ref / nrt_mul_qs8_ref (same signature, an
 *   nrt_binary_fn; k->params is an nrt_qs8_binary; modes NRT_BIN_VV / VS / SV).
 * lut:  y[i] = table[x[i] + 128] (256 entries).
 * f32_lut: the same with a float32 table and output (a DequantizeLinear and a
 *   float unary op as one lookup).
 * gavgpool: y[c] = requant(sum_{p < rows} (x[p * stride + c] - zx), m) for
 *   c < channels (GlobalAveragePool; m = nrt_avgpool_multiplier(count)).
 * avgpool: one output pixel of AveragePool: acc[c] = sum over the `taps`
 *   pointers ind[t] (taps inside the input only) of (x - zx), requantized with m.
 * maxpool: one output pixel of MaxPool: y[c] = clamp(max over ind[t][c],
 *   qmin, qmax) (taps inside the input only; taps == 0 gives -128 clamped). */
typedef void (*nrt_qs8_lut_ukernel)(size_t n, const int8_t* x, const int8_t* table, int8_t* y);
typedef void (*nrt_qs8_f32_lut_ukernel)(size_t n, const int8_t* x, const float* table, float* y);
typedef void (*nrt_qs8_gavgpool_ukernel)(size_t rows, size_t channels, const int8_t* x, size_t stride, int32_t zx,
                                        float m, const nrt_qs8_requant* rq, int8_t* y);
typedef void (*nrt_qs8_avgpool_ukernel)(size_t channels, size_t taps, const int8_t* const* ind, int32_t zx, float m,
                                       const nrt_qs8_requant* rq, int8_t* y);
typedef void (*nrt_qs8_maxpool_ukernel)(size_t channels, size_t taps, const int8_t* const* ind, int32_t qmin,
                                       int32_t qmax, int8_t* y);

/* Rescale (Concat inputs, nearest Resize): y[i] = requant((float)(x[i] - zx) * m)
 * as nrt_rescale_qs8_ref computes it (requant.h), n values; x == y allowed. */
typedef void (*nrt_qs8_rescale_ukernel)(size_t n, const int8_t* x, int32_t zx, float m, const nrt_qs8_requant* rq,
                                       int8_t* y);

/* QuantizeLinear of float32 to int8 with one scale: y[i] = the contract's
 * clamp(rint(x / s) + z) (IEEE division, NaN -> z), as nrt_quantize_ref.
 *
 * A division per value is the x86 kernels' bottleneck (a model's float input
 * is megabytes), so they multiply by r = 1 / s instead where that provably
 * rounds the same: t = x * r and the quotient d = fl(x / s) each carry at
 * most ~2^-24 relative error, so |t - d| < 2^-13 wherever |t| < 512, and
 * rint(t) == rint(d) unless t lies within 2^-12 of a half-integer (those
 * rare vectors redo their lanes with the division). Past 512 both clamp.
 * nrt_qs8_reciprocal_exact says for which scales r itself is precise enough. */
typedef void (*nrt_qs8_quantize_ukernel)(size_t n, const float* x, float s, int32_t z, int8_t* y);

/* 1 / s is a normal float with full precision, far from overflow. */
static inline bool nrt_qs8_reciprocal_exact(float s) { return s >= 0x1p-64f && s <= 0x1p64f; }
#define NRT_QS8_NEAR_HALF (0.5f - 0x1p-12f) /* |t - rint(t)| from here on: divide */

/* DequantizeLinear of int8 with one scale and a zero point in [-128, 127]:
 * y[i] = (float)(x[i] - z) * s, as nrt_dequantize_ref. */
typedef void (*nrt_qs8_dequantize_ukernel)(size_t n, const int8_t* x, float s, int32_t z, float* y);

/* Softmax of int8 (requant.h's integer-only rule, exactly nrt_softmax_qs8_ref):
 * `cols` columns of a slice viewed as [n, inner], column c's n values at
 * x[i * inner + c] and y[i * inner + c] (the caller offsets x and y to its
 * first column; inner == 1 is one contiguous row, cols then 1). table: the
 * 256 uint32 T[d]. n <= NRT_QS8_SOFTMAX_MAX_N, so a column's sum S of at most
 * n values <= 65536 fits in uint32.
 *
 * The quotient (e * 256 + S / 2) / S (both < 2^33) is floor(N * r + 2^-40)
 * in double with r = 1 / (double)S: N * r differs from N / S by at most
 * 257 * 2^-52 < 2^-43 (two roundings), a non-integer N / S lies at least
 * 1 / S >= 2^-33 below the next integer, so adding 2^-40 lifts an exact
 * integer that rounded down without reaching the next one. */
typedef void (*nrt_qs8_vsoftmax_ukernel)(size_t n, size_t inner, size_t cols, const int8_t* x, const uint32_t* table,
                                        int8_t* y);
#define NRT_QS8_SOFTMAX_MAX_N 65535
#define NRT_QS8_SOFTMAX_LIFT 0x1p-40

/* One output value from e = T[max - x] and the column's sum. */
static inline int8_t nrt_qs8_softmax_value(uint32_t e, uint32_t sum, double r) {
    double q = (double)(e * 256u + sum / 2u) * r + NRT_QS8_SOFTMAX_LIFT;
    return (int8_t)(q >= 255.0 ? 127 : (int32_t)q - 128);
}

/* One column by the rule above, in scalar code (kernels' tails). */
static inline void nrt_qs8_softmax_column(size_t n, size_t inner, const int8_t* x, const uint32_t* table, int8_t* y) {
    int32_t mx = -128;
    for (size_t i = 0; i < n; i++) mx = x[i * inner] > mx ? x[i * inner] : mx;
    uint32_t sum = 0;
    for (size_t i = 0; i < n; i++) sum += table[mx - x[i * inner]];
    double r = 1.0 / (double)sum;
    for (size_t i = 0; i < n; i++) y[i * inner] = nrt_qs8_softmax_value(table[mx - x[i * inner]], sum, r);
}

/* ---- MatMul of two int8 activations (requant.h: acc = sum_k (a - za)(b - zb),
 * no bias, one multiplier m) ----
 *
 * A GEMM (gemm.h) whose B changes with every run, packed per product at run
 * time in nrt_gemm_format_qs8_matmul's layout; the output side of its calls: */
typedef struct nrt_qs8_matmul_params {
    int32_t za; /* A's zero point (B's is packed away) */
    float m;
    nrt_qs8_requant rq;
} nrt_qs8_matmul_params;

/* ---- dynamic-quantization FullyConnected (kernels/ref/qs8_ref.h, nrt_dyn_fc:
 * float x rows quantized at run time to q / row_scale / row_zero, int8 W
 * [N, K], float y) ----
 *
 * W is packed once at load (pack, into packed_bytes(N, K) bytes) in the
 * kernel's own layout; run computes the rectangle [m0, m1) x [n0, n1) of y
 * from the quantized rows, bit for bit as nrt_dynamic_fc_ref (the integer
 * dot products modulo 2^32, then the same float operations in the same
 * order; fused activations through nrt_activation_apply). */
struct nrt_dyn_fc;
typedef struct nrt_qd8_fc_table {
    const char* name;
    nrt_isa isa;
    size_t (*packed_bytes)(size_t N, size_t K);
    void (*pack)(size_t N, size_t K, const int8_t* w, void* packed);
    void (*run)(const struct nrt_dyn_fc* g, const void* packed, int64_t m0, int64_t m1, int64_t n0, int64_t n1);
    /* step 1, rows [m0, m1), bit for bit as nrt_dynamic_quantize_rows_ref; NULL: that one */
    void (*quantize_rows)(const struct nrt_dyn_fc* g, int64_t m0, int64_t m1);
} nrt_qd8_fc_table;

/* ---- dynamic-quantization FullyConnected with group-wise int4 W
 * (kernels/ref/qd8_qb4w_ref.h, nrt_dyn_fc_qb4w) ----
 *
 * As nrt_qd8_fc_table, for int4 W [N, K] (packed two per byte) in groups of
 * `group` k: pack once at load, run bit for bit as nrt_dynamic_fc_qb4w_ref
 * (int32 group sums, then the same float operations in the same order);
 * pack may copy the group scales [N, ceil(K / group)] beside the weights.
 * supports(group) says whether the kernel handles that group size. */
struct nrt_dyn_fc_qb4w;
typedef struct nrt_qd8_qb4w_fc_table {
    const char* name;
    nrt_isa isa;
    bool (*supports)(size_t group);
    size_t (*packed_bytes)(size_t N, size_t K, size_t group);
    void (*pack)(size_t N, size_t K, size_t group, const uint8_t* w, const float* group_scale, void* packed);
    void (*run)(const struct nrt_dyn_fc_qb4w* g, const void* packed, int64_t m0, int64_t m1, int64_t n0, int64_t n1);
} nrt_qd8_qb4w_fc_table;

/* ---- ConvTranspose with kernel == stride and few outputs per input pixel ----
 *
 * An upsampling ConvTranspose (conv.h TRANSPOSE) gives each input pixel
 * n = kh x kw x C_out outputs. With n small (2 x 2 x 1 in OCR detection
 * heads) a GEMM wastes most of a vector on each pixel; this kernel puts
 * P = lanes / n pixels in one vector of int32 lanes (n must divide lanes),
 * lane l = ky * (P * cols) + p * cols + j for pixel p, kernel row ky and
 * column j = kx * C_out + c of that kernel row (cols = kw x C_out), so one
 * requantization serves P pixels and each kernel row's outputs of the P
 * pixels are P * cols consecutive bytes of its output row.
 *
 * Packed (once per ConvTranspose), columns taken per lane as above, K in
 * blocks of kr (4 bytes per lane and block either way):
 *   int32  bias[lanes]            B[c] - z_x * sum_ci W - x_offset * sum_ci W  (mod 2^32)
 *   kr 4:  int8  w[ceil(kc / 4)][lanes][4]    W[ci][ky][kx][c], 0 past kc
 *          (the GEMM panel layout of a c4 table with nr = lanes, above)
 *   kr 2:  int16 w[ceil(kc / 2)][lanes][2]    the same weights sign-extended,
 *          for kernels multiplying int16 pairs (AVX2 vpmaddwd)
 *   float  m[lanes]
 *
 * run: npix consecutive input pixels, pixel p's kc channels at x + p * kc
 * (read exactly); kernel row ky of pixel p written at
 * y + ky * y_row + p * cols (exactly npix * cols bytes per kernel row).
 * Used when P * ceil(kc / kr) * 4 <= max_bytes (the pixels of one vector are
 * held in registers or a small buffer).
 *
 * wide (optional): the same call for n a multiple of `lanes`, at most
 * wide_max, with cols a multiple of `lanes` (every vector of columns inside
 * one kernel row); packed as one GEMM panel of n columns in their natural
 * order (ky, kx, c): int32 bias[n], int8 w[ceil(kc / 4)][n][4], float m[n].
 * Other shapes take the GEMM. */
typedef void (*nrt_qs8_convt_ukernel)(size_t npix, size_t kc, size_t n, size_t kh, const int8_t* x, const void* w,
                                     int8_t* y, size_t y_row, const nrt_qs8_requant* rq);

typedef struct nrt_qs8_convt_table {
    const char* name;
    nrt_isa isa;
    uint32_t lanes;     /* int32 lanes per vector: n divides it */
    uint32_t kr;        /* 4 (int8 blocks) or 2 (int16 pairs) */
    uint32_t max_bytes; /* bound on P * ceil(kc / kr) * 4 */
    int32_t x_offset;   /* as a GEMM table's */
    nrt_qs8_convt_ukernel run;
    const char* wide_name;
    uint32_t wide_max; /* n at most this for `wide` (NULL: none) */
    nrt_qs8_convt_ukernel wide;
} nrt_qs8_convt_table;

/* Packs a convt table's lanes (above) from ConvTranspose weights wdims
 * [C_in, KH, KW, C_out] with the unfolded bias (NULL: 0), multipliers m[C_out]
 * and the input zero point; false when out of memory. */
bool nrt_qs8_convt_pack_lanes(const nrt_qs8_convt_table* ct, const int64_t* wdims, const int8_t* w, const int32_t* bias,
                             const float* m, int32_t zx, void* packed);

/* Bytes of P pixels' blocks (run's bound) and of the packed weights. */
static inline size_t nrt_qs8_convt_block_bytes(const nrt_qs8_convt_table* t, size_t kc) {
    return (kc + t->kr - 1) / t->kr * 4;
}
static inline size_t nrt_qs8_convt_packed_bytes(const nrt_qs8_convt_table* t, size_t kc) {
    return (size_t)t->lanes * (2 * sizeof(int32_t) + nrt_qs8_convt_block_bytes(t, kc));
}

#endif
