/* The packed int4 weight layout the optimized qd8-f32-qb4w-fc kernels share
 * (qs8_kernels.h, nrt_qd8_qb4w_fc_table), for a panel width NR and a group
 * size that is a multiple of 8.
 *
 * Per panel of NR output columns, per group g of k (in order):
 *     float   scale[NR]   group scales (the kernel multiplies by them directly)
 *     int32   wsum[NR]    sum of the group's int4 weights per column (the
 *                         correction for a zero point or a +128 offset)
 *     blocks of 8 k:  NR * 4 bytes; byte c * 4 + j holds w[c, k + j] in its
 *                     low nibble and w[c, k + 4 + j] in its high nibble
 * Columns past N and k past K are zero (scale, sum and weights), so a block
 * unpacks to two [NR columns][4 k] int8 tiles, the operand layout of
 * vpdpbusd / vpmaddubsw / SDOT with a row's 4 bytes broadcast. */
#ifndef NRT_QB4W_PACK_H
#define NRT_QB4W_PACK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ref/qd8_qb4w_ref.h"

static inline size_t nrt_qb4w_groups(size_t K, size_t group) { return (K + group - 1) / group; }

/* Blocks of 8 k in group gi (the last may be short). */
static inline size_t nrt_qb4w_blocks(size_t K, size_t group, size_t gi) {
    size_t k0 = gi * group, len = K - k0 < group ? K - k0 : group;
    return (len + 7) / 8;
}

static inline size_t nrt_qb4w_group_bytes(size_t NR, size_t K, size_t group, size_t gi) {
    return NR * (sizeof(float) + sizeof(int32_t)) + nrt_qb4w_blocks(K, group, gi) * NR * 4;
}

static inline size_t nrt_qb4w_panel_bytes(size_t NR, size_t K, size_t group) {
    size_t groups = nrt_qb4w_groups(K, group), b = 0;
    for (size_t gi = 0; gi < groups; gi++) b += nrt_qb4w_group_bytes(NR, K, group, gi);
    return b;
}

static inline size_t nrt_qb4w_packed_bytes(size_t NR, size_t N, size_t K, size_t group) {
    return (N + NR - 1) / NR * nrt_qb4w_panel_bytes(NR, K, group);
}

static inline void nrt_qb4w_pack(size_t NR, size_t N, size_t K, size_t group, const uint8_t* w,
                                 const float* group_scale, void* packed) {
    size_t groups = nrt_qb4w_groups(K, group);
    uint8_t* p = packed;
    memset(p, 0, nrt_qb4w_packed_bytes(NR, N, K, group));
    for (size_t n0 = 0; n0 < N; n0 += NR)
        for (size_t gi = 0; gi < groups; gi++) {
            float* scale = (float*)(void*)p;
            int32_t* wsum = (int32_t*)(void*)(p + NR * sizeof(float));
            uint8_t* blocks = p + NR * (sizeof(float) + sizeof(int32_t));
            size_t k0 = gi * group, k1 = k0 + group < K ? k0 + group : K;
            for (size_t c = 0; c < NR && n0 + c < N; c++) {
                size_t n = n0 + c;
                scale[c] = group_scale[n * groups + gi];
                for (size_t k = k0; k < k1; k++) {
                    int32_t v = nrt_int4_at(w, (int64_t)(n * K + k));
                    size_t b = (k - k0) / 8, j = (k - k0) % 8;
                    wsum[c] += v;
                    blocks[b * NR * 4 + c * 4 + j % 4] |= (uint8_t)((v & 15) << (j < 4 ? 0 : 4));
                }
            }
            p += nrt_qb4w_group_bytes(NR, K, group, gi);
        }
}

/* The 4 bytes of a quantized row at k (any alignment); past K (a block's
 * padding, where W is 0) zeros, and nothing past the row is read. */
static inline uint32_t nrt_qb4w_row4(const int8_t* q, size_t k, size_t K) {
    uint32_t v = 0;
    if (k + 4 <= K) {
        memcpy(&v, q + k, 4);
        return v;
    }
    for (size_t b = 0; k + b < K; b++) v |= (uint32_t)(uint8_t)q[k + b] << (8 * b);
    return v;
}

#endif
