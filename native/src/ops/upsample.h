/* Nearest-neighbour upsampling fused into an op's reads (Concat, and the
 * int8 / float Add, Sub, Mul): the option `upsample` holds two factors per
 * input, for axes 1 and 2 of a 4-D tensor (NHWC's H and W). The op sees
 * input k as its upsampled view, view[n][y][x][c] = in[n][y / fh][x / fw][c],
 * which is what a nearest Resize computes for integer factors with the
 * coordinate modes the converter accepts (converter/passes/upsample.py):
 * the Resize's pass over the large tensor disappears. The factors come from
 * the file, so they are checked before any read depends on them. */
#ifndef NRT_UPSAMPLE_H
#define NRT_UPSAMPLE_H

#include "../engine/op.h"

#define NRT_UPSAMPLE_MAX_INPUTS 32
#define NRT_UPSAMPLE_MAX_FACTOR 4096

typedef struct nrt_upsample {
    bool any;                                /* some input has a factor > 1 */
    int32_t f[NRT_UPSAMPLE_MAX_INPUTS][2];   /* [k] = {fh, fw}; all 1 when the option is absent */
} nrt_upsample;

/* Reads and checks the option at `slot` (parse): absent, or two factors in
 * [1, NRT_UPSAMPLE_MAX_FACTOR] for each of the node's inputs. */
nrt_status nrt_upsample_parse(nrt_ctx* ctx, int slot, nrt_upsample* u);
/* The dims the op sees for input k (prepare): a 4-D input's axes 1 and 2
 * times its factors, overflow-checked; other inputs as they are. */
nrt_status nrt_upsample_view(nrt_ctx* ctx, const nrt_upsample* u, int k, const nrt_tensor* t, int64_t* dims);

static inline bool nrt_upsampled(const nrt_upsample* u, int k) {
    return k < NRT_UPSAMPLE_MAX_INPUTS && (u->f[k][0] > 1 || u->f[k][1] > 1);
}

/* `count` source pixels of `pixel` bytes from `src`, each written fw
 * times, to consecutive output pixels `stride` bytes apart from dst
 * (no byte written is read: a pixel's bytes stay in registers). */
void nrt_upsample_pixels(const uint8_t* restrict src, size_t pixel, size_t count, int64_t fw, uint8_t* restrict dst,
                         size_t stride);
/* Bytes [b0, b1) of one upsampled row, packed into dst: byte b is byte
 * b % pixel of source pixel (b / pixel) / fw of `src`. */
void nrt_upsample_bytes(const uint8_t* src, size_t pixel, int64_t fw, size_t b0, size_t b1, uint8_t* dst);

#endif
