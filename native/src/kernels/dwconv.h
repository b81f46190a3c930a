/* Depthwise convolution microkernels of every element type (one input
 * channel per output channel, NHWC), vectorized over channels, and their
 * packed weights; conv.h drives them.
 *
 * Weights are packed per tile of `cw` channels (the last tile zero-padded):
 * the format's bias, then the taps (t = ky * KW + kx) of cw weights each,
 * then the format's per-channel trailer (dwconv_pack.c).
 *
 * run:  `npix` output pixels, every channel: pixel p's taps are the pointers
 *       ind[p * taps + t] (into the input at the pixel's channel 0, or the
 *       padding buffer), output pixel p at y + p * y_stride.
 * row:  (optional; NULL runs every pixel through `run`) `npix` pixels whose
 *       taps all lie inside the input, on weights packed for kh x kw taps:
 *       kernel row r, column kx of pixel p is read at rows[r] + p * xs +
 *       kx * ts (channel 0), output pixel p written at y + p * channels. The
 *       driver gives it the interior of each output row and builds pointers
 *       only for the few pixels at the left / right edges.
 * Strides are in elements; params as the GEMM's of the same format (gemm.h). */
#ifndef NRT_DWCONV_H
#define NRT_DWCONV_H

#include <stddef.h>
#include <stdint.h>

#include "isa.h"

typedef void (*nrt_dwconv_ukernel)(size_t channels, size_t npix, size_t taps, const void* const* ind, const void* w,
                                   void* y, size_t y_stride, const void* params);
typedef void (*nrt_dwconv_row_ukernel)(size_t channels, size_t npix, size_t kh, size_t kw, const void* const* rows,
                                       size_t xs, size_t ts, const void* w, void* y, const void* params);

typedef struct nrt_dwconv_table nrt_dwconv_table;

/* What a packing routine reads: weights [channels][kh][kw]; only kernel rows
 * [ky0, ky1) are packed, the others read the padding (an output row whose
 * top or bottom kernel rows lie outside the input) and `zero` x their weights
 * folds into the bias (exact modulo 2^32 for int8; float32's padding is 0). */
typedef struct nrt_dwconv_weights {
    size_t channels, kh, kw, ky0, ky1;
    const void* w;
    const void* bias;    /* per channel, the format's bias type; NULL: 0 */
    const float* scales; /* per channel (qs8: requantization multipliers) */
    int32_t zero;        /* the padding's value (qs8: x's zero point) */
} nrt_dwconv_weights;

typedef struct nrt_dwconv_format {
    const char* name;
    uint8_t x_bytes, y_bytes;    /* element sizes of the input and the output */
    uint8_t w_bytes, bias_bytes; /* of the weights and bias a packing routine reads */
    size_t (*tile_bytes)(const nrt_dwconv_table* t, size_t taps);
    void (*pack)(const nrt_dwconv_table* t, const nrt_dwconv_weights* w, void* packed);
} nrt_dwconv_format;

struct nrt_dwconv_table {
    const char* name;
    nrt_isa isa;
    uint32_t cw;
    uint32_t layout; /* qs8: how a tile holds its weights (NRT_QS8_DW_*, qs8_kernels.h); 0 for float32 */
    const nrt_dwconv_format* format;
    nrt_dwconv_ukernel run;
    nrt_dwconv_row_ukernel row; /* NULL: none */
};

/* float32: tile = float bias[cw], float w[taps][cw]; params nrt_activation. */
extern const nrt_dwconv_format nrt_dwconv_format_f32;
/* int8: tile = int32 bias[cw] (folded B[c], requant.h; no x offset: the
 * kernels multiply signed values), w[taps][cw] in the table's layout, float
 * m[cw]; params nrt_qs8_requant. */
extern const nrt_dwconv_format nrt_dwconv_format_qs8_qc8w;

static inline size_t nrt_dwconv_tile_bytes(const nrt_dwconv_table* t, size_t taps) {
    return t->format->tile_bytes(t, taps);
}

/* Bytes for `channels` channels of `taps` taps: ceil(channels / cw) tiles. */
static inline size_t nrt_dwconv_packed_bytes(const nrt_dwconv_table* t, size_t channels, size_t taps) {
    return (channels + t->cw - 1) / t->cw * nrt_dwconv_tile_bytes(t, taps);
}

#endif
