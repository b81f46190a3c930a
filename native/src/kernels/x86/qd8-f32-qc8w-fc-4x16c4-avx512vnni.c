/* qd8-f32-qc8w-fc-4x16c4-avx512vnni: the dynamic-quantization
 * FullyConnected (qs8_kernels.h, nrt_qd8_fc_table): up to 4 quantized rows x
 * 16 columns per tile, K in groups of 4 for vpdpbusd.
 *
 * vpdpbusd multiplies unsigned by signed bytes, so a row's q (int8, zero
 * point z) enters as u = q + 128 (q ^ 0x80) and the tile subtracts
 * (128 + z) * colsum[n] afterwards: sum (q - z) w = sum u w - (128 + z) sum w,
 * all modulo 2^32 (vpdpbusd and vpmulld wrap), which is the reference's
 * accumulator. Packed W, per panel of 16 columns: int32 colsum[16], then
 * ceil(K / 4) groups of [16 columns][4 k] int8, zero past K and N. */
#include <math.h>

#include "../ref/qs8_ref.h"
#include "qs8_requant_x86.h"

#define MR 4
#define NR 16

static size_t groups(size_t K) { return (K + 3) / 4; }
static size_t panel_bytes(size_t K) { return NR * sizeof(int32_t) + groups(K) * NR * 4; }

static size_t packed_bytes(size_t N, size_t K) { return (N + NR - 1) / NR * panel_bytes(K); }

static void pack(size_t N, size_t K, const int8_t* w, void* packed) {
    uint8_t* p = packed;
    for (size_t n0 = 0; n0 < N; n0 += NR, p += panel_bytes(K)) {
        uint32_t sums[NR] = {0};
        int8_t* g = (int8_t*)(p + NR * sizeof(int32_t));
        memset(g, 0, groups(K) * NR * 4);
        for (size_t j = 0; j < NR && n0 + j < N; j++)
            for (size_t k = 0; k < K; k++) {
                int8_t v = w[(n0 + j) * K + k];
                g[k / 4 * NR * 4 + j * 4 + k % 4] = v;
                sums[j] += (uint32_t)(int32_t)v;
            }
        memcpy(p, sums, sizeof sums);
    }
}

/* Bytes 4 gi .. 4 gi + 3 of a quantized row as u = q + 128: a whole group,
 * or (tail) the last K % 4 bytes, the rest any value (W is 0 there). */
NRT_ISA_INLINE(AVX512) int32_t group_u8(const int8_t* q, size_t gi) {
    uint32_t v;
    memcpy(&v, q + 4 * gi, 4);
    return (int32_t)(v ^ 0x80808080u);
}

NRT_ISA_INLINE(AVX512) int32_t tail_u8(const int8_t* q, size_t gi, size_t rem) {
    uint32_t v = 0;
    for (size_t b = 0; b < rem; b++) v |= (uint32_t)(uint8_t)q[4 * gi + b] << (8 * b);
    return (int32_t)(v ^ 0x80808080u);
}

/* Columns col0 + j for the lanes j of `m`, rows [i, i + rows). */
NRT_ISA_INLINE(AVX512) void tile(const nrt_dyn_fc* g, const uint8_t* panel, int64_t i, int rows, int64_t col0,
                                __mmask16 m) {
    size_t K = (size_t)g->K, G = groups(K);
    const int8_t* qr[MR];
    __m512i acc[MR];
    for (int r = 0; r < MR; r++) {
        qr[r] = g->q + (size_t)(i + (r < rows ? r : rows - 1)) * K;
        acc[r] = _mm512_setzero_si512();
    }
    const uint8_t* wg = panel + NR * sizeof(int32_t);
    size_t full = K / 4;
    for (size_t gi = 0; gi < full; gi++) {
        __m512i wv = _mm512_loadu_si512(wg + gi * NR * 4);
#pragma GCC unroll 4
        for (int r = 0; r < MR; r++)
            acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_set1_epi32(group_u8(qr[r], gi)), wv);
    }
    if (full < G) {
        __m512i wv = _mm512_loadu_si512(wg + full * NR * 4);
#pragma GCC unroll 4
        for (int r = 0; r < MR; r++)
            acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_set1_epi32(tail_u8(qr[r], full, K % 4)), wv);
    }
    __m512i colsum = _mm512_loadu_si512(panel);
    __m512 ws = g->per_channel ? _mm512_maskz_loadu_ps(m, g->w_scale + col0) : _mm512_set1_ps(g->w_scale[0]);
    __m512 b = g->bias ? _mm512_maskz_loadu_ps(m, g->bias + col0) : _mm512_setzero_ps();
    for (int r = 0; r < rows; r++) {
        int64_t row = i + r;
        float s = g->row_scale[row], *y = g->y + row * g->N + col0;
        if (isnan(s)) {
            _mm512_mask_storeu_ps(y, m, _mm512_set1_ps(NAN));
            continue;
        }
        __m512i a = _mm512_sub_epi32(acc[r], _mm512_mullo_epi32(_mm512_set1_epi32(128 + g->row_zero[row]), colsum));
        __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(a), _mm512_mul_ps(_mm512_set1_ps(s), ws));
        if (g->bias) v = _mm512_add_ps(v, b);
        _mm512_mask_storeu_ps(y, m, v);
        if (g->act.kind != NRT_ACT_NONE)
            for (int j = 0; j < NR; j++)
                if (m >> j & 1) y[j] = nrt_activation_apply(&g->act, y[j]);
    }
}

NRT_ISA_TARGET(AVX512) static void run(const nrt_dyn_fc* g, const void* packed, int64_t m0, int64_t m1, int64_t n0,
                               int64_t n1) {
    size_t pb = panel_bytes((size_t)g->K);
    for (int64_t i = m0; i < m1; i += MR) {
        int rows = m1 - i < MR ? (int)(m1 - i) : MR;
        for (int64_t p = n0 / NR; p * NR < n1; p++) {
            int64_t col0 = p * NR, c0 = n0 > col0 ? n0 - col0 : 0, c1 = n1 - col0 < NR ? n1 - col0 : NR;
            __mmask16 m = (__mmask16)(((1u << c1) - 1u) & ~((1u << c0) - 1u));
            tile(g, (const uint8_t*)packed + (size_t)p * pb, i, rows, col0, m);
        }
    }
}

const nrt_qd8_fc_table nrt_qd8_f32_qc8w_fc_4x16c4_avx512vnni = {
    "qd8-f32-qc8w-fc-4x16c4-avx512vnni", NRT_ISA_AVX512, packed_bytes, pack, run,
};
