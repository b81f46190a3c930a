/* qd8-f32-qb4w-fc-4x16c8-avx512vnni: the dynamic-quantization FullyConnected
 * on group-wise int4 W (qs8_kernels.h, nrt_qd8_qb4w_fc_table): up to 4
 * quantized rows x 16 columns per tile, 8 k per 64-byte load.
 *
 * W stays 4-bit in memory (kernels/qb4w_pack.h); a load's low nibbles are
 * one [16 columns][4 k] tile and its high nibbles the next, sign-extended to
 * int8 by a byte-shuffle table lookup. vpdpbusd multiplies unsigned by signed
 * bytes, so a row's q enters as u = q + 128 (q ^ 0x80) and each group's sum
 * is corrected by (128 + z) * wsum[n]: sum (q - z) w = sum u w - (128 + z)
 * sum w, exact in int32 (|sum| < 255 * 8 * group). Then, group by group, the
 * reference's float operations in its order: acc + (float)isum * (s * scale). */
#include <math.h>

#include "../qb4w_pack.h"
#include "qs8_requant_x86.h"

#define MR 4
#define NR 16

static bool supports(size_t group) { return group % 8 == 0; }

static size_t packed_bytes(size_t N, size_t K, size_t group) { return nrt_qb4w_packed_bytes(NR, N, K, group); }

static void pack(size_t N, size_t K, size_t group, const uint8_t* w, const float* group_scale, void* packed) {
    nrt_qb4w_pack(NR, N, K, group, w, group_scale, packed);
}

/* Rows [i, i + R) x the columns of `m` in the panel at col0. */
NRT_ISA_INLINE(AVX512) void tile(const nrt_dyn_fc_qb4w* g, const uint8_t* panel, int64_t i, const int R,
                                int64_t col0, __mmask16 m) {
    size_t K = (size_t)g->K, group = (size_t)g->group, groups = nrt_qb4w_groups(K, group);
    const __m512i lut = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1));
    const __m512i nibble = _mm512_set1_epi8(15);
    const int8_t* qr[MR];
    __m512i offset_z[MR];
    __m512 s[MR], acc[MR];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        qr[r] = g->q + (size_t)(i + r) * K;
        offset_z[r] = _mm512_set1_epi32(128 + g->row_zero[i + r]);
        s[r] = _mm512_set1_ps(g->row_scale[i + r]);
        acc[r] = _mm512_setzero_ps();
    }
    for (size_t gi = 0; gi < groups; gi++) {
        __m512 scale = _mm512_loadu_ps(panel);
        __m512i wsum = _mm512_loadu_si512(panel + NR * sizeof(float));
        const uint8_t* blk = panel + NR * (sizeof(float) + sizeof(int32_t));
        size_t nb = nrt_qb4w_blocks(K, group, gi), k = gi * group;
        __m512i isum[MR];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) isum[r] = _mm512_setzero_si512();
        for (size_t b = 0; b < nb; b++, blk += NR * 4, k += 8) {
            __m512i v = _mm512_loadu_si512(blk);
            __m512i lo = _mm512_shuffle_epi8(lut, _mm512_and_si512(v, nibble));
            __m512i hi = _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(v, 4), nibble));
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) {
                __m512i ua = _mm512_set1_epi32((int32_t)(nrt_qb4w_row4(qr[r], k, K) ^ 0x80808080u));
                __m512i ub = _mm512_set1_epi32((int32_t)(nrt_qb4w_row4(qr[r], k + 4, K) ^ 0x80808080u));
                isum[r] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(isum[r], ua, lo), ub, hi);
            }
        }
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            __m512i exact = _mm512_sub_epi32(isum[r], _mm512_mullo_epi32(offset_z[r], wsum));
            acc[r] = _mm512_add_ps(acc[r], _mm512_mul_ps(_mm512_cvtepi32_ps(exact), _mm512_mul_ps(s[r], scale)));
        }
        panel = blk;
    }
    __m512 bias = g->bias ? _mm512_maskz_loadu_ps(m, g->bias + col0) : _mm512_setzero_ps();
    for (int r = 0; r < R; r++) {
        float* y = g->y + (i + r) * g->N + col0;
        __m512 v = g->bias ? _mm512_add_ps(acc[r], bias) : acc[r];
        if (isnan(g->row_scale[i + r])) v = _mm512_set1_ps(NAN);
        _mm512_mask_storeu_ps(y, m, v);
        if (g->act.kind != NRT_ACT_NONE && !isnan(g->row_scale[i + r]))
            for (int j = 0; j < NR; j++)
                if (m >> j & 1) y[j] = nrt_activation_apply(&g->act, y[j]);
    }
}

NRT_ISA_TARGET(AVX512) static void run(const nrt_dyn_fc_qb4w* g, const void* packed, int64_t m0, int64_t m1,
                                       int64_t n0, int64_t n1) {
    size_t pb = nrt_qb4w_panel_bytes(NR, (size_t)g->K, (size_t)g->group);
    for (int64_t i = m0; i < m1; i += MR) {
        int rows = m1 - i < MR ? (int)(m1 - i) : MR;
        for (int64_t p = n0 / NR; p * NR < n1; p++) {
            int64_t col0 = p * NR, c0 = n0 > col0 ? n0 - col0 : 0, c1 = n1 - col0 < NR ? n1 - col0 : NR;
            __mmask16 m = (__mmask16)(((1u << c1) - 1u) & ~((1u << c0) - 1u));
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

const nrt_qd8_qb4w_fc_table nrt_qd8_f32_qb4w_fc_4x16c8_avx512vnni = {
    .name = "qd8-f32-qb4w-fc-4x16c8-avx512vnni", .isa = NRT_ISA_AVX512, .supports = supports,
    .packed_bytes = packed_bytes, .pack = pack, .run = run,
};
