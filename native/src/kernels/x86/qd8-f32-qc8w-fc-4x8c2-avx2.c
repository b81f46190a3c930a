/* qd8-f32-qc8w-fc-4x8c2-avx2: the dynamic-quantization FullyConnected
 * (qs8_kernels.h, nrt_qd8_fc_table) on AVX2: up to 4 quantized rows x 8
 * columns per tile, K in pairs for vpmaddwd.
 *
 * A row's pair (q[k] - z, q[k+1] - z) is broadcast as two int16 in one
 * int32 lane and vpmaddwd adds both products to each column's lane: exact
 * (|q - z| <= 255, |w| <= 128), accumulated with wrapping adds like the
 * reference. Packed W, per panel of 8 columns: ceil(K / 2) pairs of
 * [8 columns][2 k] int16, zero past K and N. */
#include <math.h>

#include "../ref/qs8_ref.h"
#include "qs8_requant_x86.h"

#define MR 4
#define NR 8

static size_t pairs(size_t K) { return (K + 1) / 2; }
static size_t panel_bytes(size_t K) { return pairs(K) * NR * 2 * sizeof(int16_t); }

static size_t packed_bytes(size_t N, size_t K) { return (N + NR - 1) / NR * panel_bytes(K); }

static void pack(size_t N, size_t K, const int8_t* w, void* packed) {
    uint8_t* p = packed;
    for (size_t n0 = 0; n0 < N; n0 += NR, p += panel_bytes(K)) {
        int16_t* g = (int16_t*)(void*)p;
        memset(g, 0, panel_bytes(K));
        for (size_t j = 0; j < NR && n0 + j < N; j++)
            for (size_t k = 0; k < K; k++) g[k / 2 * NR * 2 + j * 2 + k % 2] = w[(n0 + j) * K + k];
    }
}

NRT_ISA_INLINE(AVX2) int32_t pair(const int8_t* q, size_t k, size_t K, int32_t z) {
    int32_t lo = q[k] - z, hi = k + 1 < K ? q[k + 1] - z : 0;
    return (int32_t)((uint32_t)(uint16_t)(int16_t)lo | (uint32_t)(uint16_t)(int16_t)hi << 16);
}

/* Columns col0 + j for the lanes j of `m` (all ones / zeros per lane), rows [i, i + rows). */
NRT_ISA_INLINE(AVX2) void tile(const nrt_dyn_fc* g, const int16_t* panel, int64_t i, int rows, int64_t col0,
                             __m256i m) {
    size_t K = (size_t)g->K;
    const int8_t* qr[MR];
    int32_t z[MR];
    __m256i acc[MR];
    for (int r = 0; r < MR; r++) {
        int64_t row = i + (r < rows ? r : rows - 1);
        qr[r] = g->q + (size_t)row * K;
        z[r] = g->row_zero[row];
        acc[r] = _mm256_setzero_si256();
    }
    for (size_t k = 0; k < K; k += 2, panel += NR * 2) {
        __m256i wv = _mm256_loadu_si256((const __m256i*)(const void*)panel);
#pragma GCC unroll 4
        for (int r = 0; r < MR; r++)
            acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(_mm256_set1_epi32(pair(qr[r], k, K, z[r])), wv));
    }
    __m256 ws = g->per_channel ? _mm256_maskload_ps(g->w_scale + col0, m) : _mm256_set1_ps(g->w_scale[0]);
    __m256 b = g->bias ? _mm256_maskload_ps(g->bias + col0, m) : _mm256_setzero_ps();
    for (int r = 0; r < rows; r++) {
        int64_t row = i + r;
        float s = g->row_scale[row], *y = g->y + row * g->N + col0;
        if (isnan(s)) {
            _mm256_maskstore_ps(y, m, _mm256_set1_ps(NAN));
            continue;
        }
        __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(acc[r]), _mm256_mul_ps(_mm256_set1_ps(s), ws));
        if (g->bias) v = _mm256_add_ps(v, b);
        _mm256_maskstore_ps(y, m, v);
        if (g->act.kind != NRT_ACT_NONE)
            for (int j = 0; j < NR; j++)
                if (_mm256_movemask_ps(_mm256_castsi256_ps(m)) >> j & 1) y[j] = nrt_activation_apply(&g->act, y[j]);
    }
}

NRT_ISA_TARGET(AVX2) static void run(const nrt_dyn_fc* g, const void* packed, int64_t m0, int64_t m1, int64_t n0,
                                     int64_t n1) {
    size_t pb = panel_bytes((size_t)g->K);
    __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int64_t i = m0; i < m1; i += MR) {
        int rows = m1 - i < MR ? (int)(m1 - i) : MR;
        for (int64_t p = n0 / NR; p * NR < n1; p++) {
            int64_t col0 = p * NR, c0 = n0 > col0 ? n0 - col0 : 0, c1 = n1 - col0 < NR ? n1 - col0 : NR;
            __m256i m = _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)c0), lane),
                                            _mm256_cmpgt_epi32(_mm256_set1_epi32((int)c1), lane));
            tile(g, (const int16_t*)(const void*)((const uint8_t*)packed + (size_t)p * pb), i, rows, col0, m);
        }
    }
}

void nrt_f32_qd8_convert_avx2(const nrt_dyn_fc* g, int64_t m0, int64_t m1); /* f32-qd8-convert-avx2.c */

const nrt_qd8_fc_table nrt_qd8_f32_qc8w_fc_4x8c2_avx2 = {
    "qd8-f32-qc8w-fc-4x8c2-avx2", NRT_ISA_AVX2, packed_bytes, pack, run, nrt_f32_qd8_convert_avx2,
};
