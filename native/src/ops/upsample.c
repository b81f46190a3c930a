#include "upsample.h"

#include <string.h>

#include "movement_util.h"

nrt_status nrt_upsample_parse(nrt_ctx* ctx, int slot, nrt_upsample* u) {
    int64_t v[2 * NRT_UPSAMPLE_MAX_INPUTS];
    int count, n = ctx->node->num_inputs;
    nrt_status st = nrt_opt_ints(ctx, slot, "upsample", v, 2 * NRT_UPSAMPLE_MAX_INPUTS, &count);
    if (st) return st;
    u->any = false;
    for (int k = 0; k < NRT_UPSAMPLE_MAX_INPUTS; k++) u->f[k][0] = u->f[k][1] = 1;
    if (count == 0) return NRT_OK;
    if (count != 2 * n)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "upsample has %d factors for %d inputs (two per input)", count,
                           n);
    for (int i = 0; i < count; i++) {
        if (v[i] < 1 || v[i] > NRT_UPSAMPLE_MAX_FACTOR)
            return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "upsample factor %lld is outside [1, %d]",
                               (long long)v[i], NRT_UPSAMPLE_MAX_FACTOR);
        u->f[i / 2][i % 2] = (int32_t)v[i];
        u->any |= v[i] > 1;
    }
    return NRT_OK;
}

nrt_status nrt_upsample_view(nrt_ctx* ctx, const nrt_upsample* u, int k, const nrt_tensor* t, int64_t* dims) {
    memcpy(dims, t->dims, sizeof *dims * (size_t)t->rank);
    if (!nrt_upsampled(u, k)) return NRT_OK;
    if (t->rank != 4)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "input %s is upsampled but has rank %d (4 expected)", t->name,
                           t->rank);
    for (int a = 0; a < 2; a++)
        if (__builtin_mul_overflow(t->dims[1 + a], (int64_t)u->f[k][a], &dims[1 + a]) || dims[1 + a] > INT32_MAX)
            return nrt_op_fail(ctx, NRT_ERR_LIMIT, "upsampled axis %d of input %s is too large", 1 + a, t->name);
    return NRT_OK;
}

/* The common pixel sizes as constants: each copy compiles to a few vector
 * moves (a channel concat of NHWC maps copies a few dozen bytes per pixel
 * and input, where a general copy's size tests cost more than the move). */
#define REPLICATE(NB)                                                                \
    for (size_t i = 0; i < count; i++, src += (NB))                                   \
        for (int64_t r = 0; r < fw; r++, dst += stride) memcpy(dst, src, (NB))

void nrt_upsample_pixels(const uint8_t* restrict src, size_t pixel, size_t count, int64_t fw, uint8_t* restrict dst,
                         size_t stride) {
    switch (pixel) {
    case 8: REPLICATE(8); break;
    case 16: REPLICATE(16); break;
    case 24: REPLICATE(24); break;
    case 32: REPLICATE(32); break;
    case 48: REPLICATE(48); break;
    case 64: REPLICATE(64); break;
    case 96: REPLICATE(96); break;
    case 128: REPLICATE(128); break;
    default:
        for (size_t i = 0; i < count; i++, src += pixel)
            for (int64_t r = 0; r < fw; r++, dst += stride) nrt_mv_copy_short(dst, src, pixel);
    }
}

void nrt_upsample_bytes(const uint8_t* src, size_t pixel, int64_t fw, size_t b0, size_t b1, uint8_t* dst) {
    size_t x = b0 / pixel, off = b0 % pixel, r = x % (size_t)fw;
    src += x / (size_t)fw * pixel;
    while (b0 < b1) { /* pixel by pixel (the first may start inside), no division per pixel */
        size_t n = pixel - off < b1 - b0 ? pixel - off : b1 - b0;
        nrt_mv_copy_short(dst, src + off, n);
        dst += n;
        b0 += n;
        off = 0;
        if (++r == (size_t)fw) {
            r = 0;
            src += pixel;
        }
    }
}
