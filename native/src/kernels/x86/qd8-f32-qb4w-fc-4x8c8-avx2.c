/* qd8-f32-qb4w-fc-4x8c8-avx2: the dynamic-quantization FullyConnected on
 * group-wise int4 W (qs8_kernels.h, nrt_qd8_qb4w_fc_table) on AVX2: up to 4
 * quantized rows x 8 columns per tile, 8 k per 32-byte load.
 *
 * As qd8-f32-qb4w-fc-4x16c8-avx512vnni (4-bit W in memory, kernels/
 * qb4w_pack.h; nibbles sign-extended by a byte-shuffle lookup; rows as
 * u = q + 128 with a per-group (128 + z) * wsum correction), with vpdpbusd
 * spelled vpmaddubsw + vpmaddwd: u * w pairs summed to int16 (at most
 * 2 * 255 * 8 per pair, two tiles' pairs added: 8160, no saturation), then
 * to int32 by a multiply-add with ones. All sums exact, so the group sums
 * are the reference's; then its float operations in its order. */
#include <math.h>

#include "../qb4w_pack.h"
#include "qs8_requant_x86.h"

#define MR 4
#define NR 8

static bool supports(size_t group) { return group % 8 == 0; }

static size_t packed_bytes(size_t N, size_t K, size_t group) { return nrt_qb4w_packed_bytes(NR, N, K, group); }

static void pack(size_t N, size_t K, size_t group, const uint8_t* w, const float* group_scale, void* packed) {
    nrt_qb4w_pack(NR, N, K, group, w, group_scale, packed);
}

/* Rows [i, i + R) x the columns of lane mask `m` in the panel at col0. */
NRT_ISA_INLINE(AVX2) void tile(const nrt_dyn_fc_qb4w* g, const uint8_t* panel, int64_t i, const int R,
                              int64_t col0, __m256i m) {
    size_t K = (size_t)g->K, group = (size_t)g->group, groups = nrt_qb4w_groups(K, group);
    const __m256i lut = _mm256_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5,
                                         6, 7, -8, -7, -6, -5, -4, -3, -2, -1);
    const __m256i nibble = _mm256_set1_epi8(15), ones = _mm256_set1_epi16(1);
    const int8_t* qr[MR];
    __m256i offset_z[MR];
    __m256 s[MR], acc[MR];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        qr[r] = g->q + (size_t)(i + r) * K;
        offset_z[r] = _mm256_set1_epi32(128 + g->row_zero[i + r]);
        s[r] = _mm256_set1_ps(g->row_scale[i + r]);
        acc[r] = _mm256_setzero_ps();
    }
    for (size_t gi = 0; gi < groups; gi++) {
        __m256 scale = _mm256_loadu_ps((const float*)(const void*)panel);
        __m256i wsum = _mm256_loadu_si256((const __m256i*)(const void*)(panel + NR * sizeof(float)));
        const uint8_t* blk = panel + NR * (sizeof(float) + sizeof(int32_t));
        size_t nb = nrt_qb4w_blocks(K, group, gi), k = gi * group;
        __m256i isum[MR];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) isum[r] = _mm256_setzero_si256();
        for (size_t b = 0; b < nb; b++, blk += NR * 4, k += 8) {
            __m256i v = _mm256_loadu_si256((const __m256i*)(const void*)blk);
            __m256i lo = _mm256_shuffle_epi8(lut, _mm256_and_si256(v, nibble));
            __m256i hi = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble));
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) {
                __m256i ua = _mm256_set1_epi32((int32_t)(nrt_qb4w_row4(qr[r], k, K) ^ 0x80808080u));
                __m256i ub = _mm256_set1_epi32((int32_t)(nrt_qb4w_row4(qr[r], k + 4, K) ^ 0x80808080u));
                __m256i pairs = _mm256_add_epi16(_mm256_maddubs_epi16(ua, lo), _mm256_maddubs_epi16(ub, hi));
                isum[r] = _mm256_add_epi32(isum[r], _mm256_madd_epi16(pairs, ones));
            }
        }
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            __m256i exact = _mm256_sub_epi32(isum[r], _mm256_mullo_epi32(offset_z[r], wsum));
            acc[r] = _mm256_add_ps(acc[r], _mm256_mul_ps(_mm256_cvtepi32_ps(exact), _mm256_mul_ps(s[r], scale)));
        }
        panel = blk;
    }
    __m256 bias = g->bias ? _mm256_maskload_ps(g->bias + col0, m) : _mm256_setzero_ps();
    int lanes = _mm256_movemask_ps(_mm256_castsi256_ps(m));
    for (int r = 0; r < R; r++) {
        float* y = g->y + (i + r) * g->N + col0;
        __m256 v = g->bias ? _mm256_add_ps(acc[r], bias) : acc[r];
        if (isnan(g->row_scale[i + r])) v = _mm256_set1_ps(NAN);
        _mm256_maskstore_ps(y, m, v);
        if (g->act.kind != NRT_ACT_NONE && !isnan(g->row_scale[i + r]))
            for (int j = 0; j < NR; j++)
                if (lanes >> j & 1) y[j] = nrt_activation_apply(&g->act, y[j]);
    }
}

NRT_ISA_TARGET(AVX2) static void run(const nrt_dyn_fc_qb4w* g, const void* packed, int64_t m0, int64_t m1,
                                     int64_t n0, int64_t n1) {
    size_t pb = nrt_qb4w_panel_bytes(NR, (size_t)g->K, (size_t)g->group);
    __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int64_t i = m0; i < m1; i += MR) {
        int rows = m1 - i < MR ? (int)(m1 - i) : MR;
        for (int64_t p = n0 / NR; p * NR < n1; p++) {
            int64_t col0 = p * NR, c0 = n0 > col0 ? n0 - col0 : 0, c1 = n1 - col0 < NR ? n1 - col0 : NR;
            __m256i m = _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)c0), lane),
                                            _mm256_cmpgt_epi32(_mm256_set1_epi32((int)c1), lane));
            const uint8_t* panel = (const uint8_t*)packed + (size_t)p * pb;
            switch (rows) { /* constant row counts: one row (a decode step) does one row's work */
            case 1: tile(g, panel, i, 1, col0, m); break;
            case 2: tile(g, panel, i, 2, col0, m); break;
            case 3: tile(g, panel, i, 3, col0, m); break;
            default: tile(g, panel, i, MR, col0, m); break;
            }
        }
    }
}

const nrt_qd8_qb4w_fc_table nrt_qd8_f32_qb4w_fc_4x8c8_avx2 = {
    .name = "qd8-f32-qb4w-fc-4x8c8-avx2", .isa = NRT_ISA_AVX2, .supports = supports,
    .packed_bytes = packed_bytes, .pack = pack, .run = run,
};
