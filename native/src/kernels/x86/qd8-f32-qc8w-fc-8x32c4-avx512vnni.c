/* qd8-f32-qc8w-fc-8x32c4-avx512vnni: the dynamic-quantization
 * FullyConnected (qs8_kernels.h, nrt_qd8_fc_table): up to 8 quantized rows x
 * 32 columns per tile (16 accumulators), K in groups of 4 for vpdpbusd.
 *
 * vpdpbusd multiplies unsigned by signed bytes. Here the weights are the
 * unsigned operand, stored as u = w + 128 (w ^ 0x80), and a row's int8 q
 * (zero point z) is broadcast straight from memory as the signed one, so the
 * inner loop is loads and dot products only:
 *   sum (q - z) w = sum u q - 128 sum q - z sum w
 * with sum q per row (rowsum, once per row block) and sum w per column
 * (colsum, packed), all modulo 2^32 (vpdpbusd and vpmulld wrap), which is
 * the reference's accumulator. Packed W, per panel of 32 columns: int32
 * colsum[32], then ceil(K / 4) groups of [32 columns][4 k] u8, 0x80 (w = 0)
 * past K and N; a K remainder of q enters as zeros, so padding adds nothing.
 *
 * Row blocks of 8, then 4, 2, 1 (a decode step's single row does not pay
 * for eight). */
#include <math.h>

#include "../ref/qs8_ref.h"
#include "qs8_requant_x86.h"

#define NR 32

static size_t groups(size_t K) { return (K + 3) / 4; }
static size_t panel_bytes(size_t K) { return NR * sizeof(int32_t) + groups(K) * NR * 4; }

static size_t packed_bytes(size_t N, size_t K) { return (N + NR - 1) / NR * panel_bytes(K); }

/* Whole groups of 4 k move as one uint32 (the dynamic MatMul packs its B on
 * every run); the K remainder keeps its 0x80 padding. */
static void pack(size_t N, size_t K, const int8_t* w, void* packed) {
    uint8_t* p = packed;
    size_t full = K / 4;
    for (size_t n0 = 0; n0 < N; n0 += NR, p += panel_bytes(K)) {
        uint32_t sums[NR] = {0};
        uint8_t* g = p + NR * sizeof(int32_t);
        memset(g, 0x80, groups(K) * NR * 4);
        for (size_t j = 0; j < NR && n0 + j < N; j++) {
            const int8_t* wj = w + (n0 + j) * K;
            for (size_t k = 0; k < K; k++) sums[j] += (uint32_t)(int32_t)wj[k];
            for (size_t gi = 0; gi < full; gi++) {
                uint32_t four;
                memcpy(&four, wj + 4 * gi, 4);
                four ^= 0x80808080u;
                memcpy(g + gi * NR * 4 + j * 4, &four, 4);
            }
            for (size_t k = 4 * full; k < K; k++) g[full * NR * 4 + j * 4 + k % 4] = (uint8_t)wj[k] ^ 0x80u;
        }
        memcpy(p, sums, sizeof sums);
    }
}

/* sum q over a row, modulo 2^32 */
NRT_ISA_INLINE(AVX512) uint32_t row_sum(const int8_t* q, size_t K) {
    __m512i acc = _mm512_setzero_si512();
    size_t k = 0;
    for (; k + 64 <= K; k += 64) {
        __m512i v = _mm512_loadu_si512(q + k);
        acc = _mm512_dpbusd_epi32(acc, _mm512_set1_epi8(1), v);
    }
    uint32_t s = (uint32_t)_mm512_reduce_add_epi32(acc);
    for (; k < K; k++) s += (uint32_t)(int32_t)q[k];
    return s;
}

/* The epilogue of one row: the reference's float operations in its order. */
NRT_ISA_INLINE(AVX512) void store_row(const nrt_dyn_fc* g, int64_t row, uint32_t rowsum, __m512i acc, __m512i colsum,
                                      int64_t col0, __mmask16 m) {
    float s = g->row_scale[row], *y = g->y + row * g->N + col0;
    if (isnan(s)) {
        _mm512_mask_storeu_ps(y, m, _mm512_set1_ps(NAN));
        return;
    }
    __m512i zero_terms = _mm512_add_epi32(_mm512_set1_epi32((int32_t)(128u * rowsum)),
                                          _mm512_mullo_epi32(_mm512_set1_epi32(g->row_zero[row]), colsum));
    __m512i a = _mm512_sub_epi32(acc, zero_terms);
    __m512 ws = g->per_channel ? _mm512_maskz_loadu_ps(m, g->w_scale + col0) : _mm512_set1_ps(g->w_scale[0]);
    __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(a), _mm512_mul_ps(_mm512_set1_ps(s), ws));
    if (g->bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, g->bias + col0));
    _mm512_mask_storeu_ps(y, m, v);
    if (g->act.kind != NRT_ACT_NONE)
        for (int j = 0; j < 16; j++)
            if (m >> j & 1) y[j] = nrt_activation_apply(&g->act, y[j]);
}

/* Rows [i, i + MR) x the panel's columns col0 + j for the lanes j of m_lo
 * (first 16) and m_hi (next 16). MR is a constant at every call. */
NRT_ISA_INLINE(AVX512) void tile(const nrt_dyn_fc* g, const uint8_t* panel, const uint32_t* rowsum, int64_t i,
                                 const int MR, int64_t col0, __mmask16 m_lo, __mmask16 m_hi) {
    size_t K = (size_t)g->K, full = K / 4, rem = K % 4;
    const int8_t* qr[8];
    __m512i lo[8], hi[8];
    for (int r = 0; r < MR; r++) {
        qr[r] = g->q + (size_t)(i + r) * K;
        lo[r] = hi[r] = _mm512_setzero_si512();
    }
    const uint8_t* wg = panel + NR * sizeof(int32_t);
    for (size_t gi = 0; gi < full; gi++, wg += NR * 4) {
        __m512i w_lo = _mm512_loadu_si512(wg), w_hi = _mm512_loadu_si512(wg + 64);
        for (int r = 0; r < MR; r++) {
            __m512i q = _mm512_set1_epi32(nrt_qs8_load4(qr[r] + 4 * gi));
            lo[r] = _mm512_dpbusd_epi32(lo[r], w_lo, q);
            hi[r] = _mm512_dpbusd_epi32(hi[r], w_hi, q);
        }
    }
    if (rem) {
        __m512i w_lo = _mm512_loadu_si512(wg), w_hi = _mm512_loadu_si512(wg + 64);
        for (int r = 0; r < MR; r++) {
            __m512i q = _mm512_set1_epi32(nrt_qs8_load_partial(qr[r] + 4 * full, rem));
            lo[r] = _mm512_dpbusd_epi32(lo[r], w_lo, q);
            hi[r] = _mm512_dpbusd_epi32(hi[r], w_hi, q);
        }
    }
    __m512i cs_lo = _mm512_loadu_si512(panel), cs_hi = _mm512_loadu_si512(panel + 64);
    for (int r = 0; r < MR; r++) {
        store_row(g, i + r, rowsum[r], lo[r], cs_lo, col0, m_lo);
        if (m_hi) store_row(g, i + r, rowsum[r], hi[r], cs_hi, col0 + 16, m_hi);
    }
}

NRT_ISA_INLINE(AVX512) void row_block(const nrt_dyn_fc* g, const void* packed, int64_t i, const int MR, int64_t n0,
                                      int64_t n1) {
    size_t pb = panel_bytes((size_t)g->K);
    uint32_t rowsum[8];
    for (int r = 0; r < MR; r++) rowsum[r] = row_sum(g->q + (size_t)(i + r) * (size_t)g->K, (size_t)g->K);
    for (int64_t p = n0 / NR; p * NR < n1; p++) {
        int64_t col0 = p * NR, c0 = n0 > col0 ? n0 - col0 : 0, c1 = n1 - col0 < NR ? n1 - col0 : NR;
        uint32_t mask = (uint32_t)(((1ull << c1) - 1u) & ~((1ull << c0) - 1u));
        tile(g, (const uint8_t*)packed + (size_t)p * pb, rowsum, i, MR, col0, (__mmask16)mask,
             (__mmask16)(mask >> 16));
    }
}

NRT_ISA_TARGET(AVX512) static void run(const nrt_dyn_fc* g, const void* packed, int64_t m0, int64_t m1, int64_t n0,
                                       int64_t n1) {
    int64_t i = m0;
    for (; m1 - i >= 8; i += 8) row_block(g, packed, i, 8, n0, n1);
    if (m1 - i >= 4) row_block(g, packed, i, 4, n0, n1), i += 4;
    if (m1 - i >= 2) row_block(g, packed, i, 2, n0, n1), i += 2;
    if (m1 - i >= 1) row_block(g, packed, i, 1, n0, n1);
}

void nrt_f32_qd8_convert_avx512(const nrt_dyn_fc* g, int64_t m0, int64_t m1); /* f32-qd8-convert-avx512.c */

const nrt_qd8_fc_table nrt_qd8_f32_qc8w_fc_8x32c4_avx512vnni = {
    "qd8-f32-qc8w-fc-8x32c4-avx512vnni", NRT_ISA_AVX512, packed_bytes, pack, run, nrt_f32_qd8_convert_avx512,
};
