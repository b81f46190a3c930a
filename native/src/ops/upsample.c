#include "upsample.h"

#include <string.h>

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

/* Pixels of a few dozen bytes: constant-size moves (overlapping at the end)
 * instead of a memcpy call per pixel. */
static inline void copy_pixel(uint8_t* dst, const uint8_t* src, size_t n) {
    if (n >= 16 && n <= 64) {
        for (size_t i = 0; i + 16 <= n; i += 16) memcpy(dst + i, src + i, 16);
        memcpy(dst + n - 16, src + n - 16, 16);
    } else {
        memcpy(dst, src, n);
    }
}

void nrt_upsample_bytes(const uint8_t* src, size_t pixel, int64_t fw, size_t b0, size_t b1, uint8_t* dst) {
    while (b0 < b1) {
        size_t x = b0 / pixel, off = b0 % pixel, n = pixel - off < b1 - b0 ? pixel - off : b1 - b0;
        copy_pixel(dst, src + (x / (size_t)fw) * pixel + off, n);
        dst += n;
        b0 += n;
    }
}
