#include "sparse_gemm_ref.h"

#include "../requant.h"
#include "conv_ref.h"

/* acc[r] += the kept products of row n of W with rows[r] of A, r < count. */
static void dot_s8(const nrt_bcsr* w, int64_t n, const int8_t* const* rows, int count, uint32_t* acc) {
    const int8_t* values = w->values;
    int64_t block_row = n / w->bn, row_in_block = n % w->bn;
    for (int32_t b = w->indptr[block_row]; b < w->indptr[block_row + 1]; b++) {
        const int8_t* v = values + ((int64_t)b * w->bn + row_in_block) * w->bk;
        int64_t k0 = (int64_t)w->col[b] * w->bk;
        for (int32_t k = 0; k < w->bk; k++) {
            int32_t wv = v[k];
            for (int r = 0; r < count; r++) acc[r] += (uint32_t)(rows[r][k0 + k] * wv);
        }
    }
}

/* Rows of A handled together: each kept weight is loaded once for all of them. */
#define ROWS 8

void nrt_sparse_gemm_s8_ref(const nrt_s8_sparse_gemm* g, int64_t m0, int64_t m1) {
    const nrt_bcsr* w = g->w;
    for (int64_t i0 = m0; i0 < m1; i0 += ROWS) {
        int count = m1 - i0 < ROWS ? (int)(m1 - i0) : ROWS;
        const int8_t* rows[ROWS];
        for (int r = 0; r < count; r++) rows[r] = g->a + (i0 + r) * g->lda;
        for (int64_t n = 0; n < w->rows; n++) {
            uint32_t acc[ROWS];
            for (int r = 0; r < count; r++) acc[r] = g->bias ? (uint32_t)g->bias[n] : 0u;
            if (count == ROWS) dot_s8(w, n, rows, ROWS, acc); /* (a constant count: the loop unrolls) */
            else dot_s8(w, n, rows, count, acc);
            for (int r = 0; r < count; r++)
                g->c[(i0 + r) * g->ldc + n] =
                    nrt_requantize((int32_t)acc[r], g->m[n], g->out.zero_point, g->out.qmin, g->out.qmax);
        }
    }
}

/* out[r] = the kept products of row n of W with rows[r] of A, r < count, each
 * row's sum in ascending k, or in eight lanes (k < the lane end) combined
 * pairwise and then the tail, as the dense reference sums. */
static void dots_f32(const nrt_f32_sparse_gemm* g, int64_t n, const float* const* rows, int count, float* out) {
    const nrt_bcsr* w = g->w;
    const float* values = w->values;
    int64_t block_row = n / w->bn, row_in_block = n % w->bn;
    int64_t lane_end = g->lanes ? w->cols - w->cols % g->lanes : 0;
    float lanes[ROWS][8] = {{0}}, v[ROWS] = {0};
    for (int pass = g->lanes ? 0 : 1; pass < 2; pass++) { /* lanes: k < lane_end first, then the tail */
        for (int32_t b = w->indptr[block_row]; b < w->indptr[block_row + 1]; b++) {
            const float* wv = values + ((int64_t)b * w->bn + row_in_block) * w->bk;
            int64_t k0 = (int64_t)w->col[b] * w->bk;
            for (int32_t k = 0; k < w->bk; k++) {
                int64_t kk = k0 + k;
                bool in_lanes = kk < lane_end;
                if (pass == 0 && in_lanes)
                    for (int r = 0; r < count; r++) lanes[r][kk & 7] += rows[r][kk] * wv[k];
                else if (pass == 1 && !in_lanes)
                    for (int r = 0; r < count; r++) v[r] += rows[r][kk] * wv[k];
            }
        }
        if (pass == 0)
            for (int r = 0; r < count; r++) {
                const float* s = lanes[r];
                v[r] = ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
            }
    }
    for (int r = 0; r < count; r++) out[r] = v[r];
}

void nrt_sparse_gemm_f32_ref(const nrt_f32_sparse_gemm* g, int64_t m0, int64_t m1) {
    for (int64_t i0 = m0; i0 < m1; i0 += ROWS) {
        int count = m1 - i0 < ROWS ? (int)(m1 - i0) : ROWS;
        const float* rows[ROWS];
        float out[ROWS];
        for (int r = 0; r < count; r++) rows[r] = g->a + (i0 + r) * g->lda;
        for (int64_t n = 0; n < g->w->rows; n++) {
            if (count == ROWS) dots_f32(g, n, rows, ROWS, out);
            else dots_f32(g, n, rows, count, out);
            for (int r = 0; r < count; r++) g->c[(i0 + r) * g->ldc + n] = out[r];
        }
        for (int r = 0; r < count; r++) nrt_bias_act_f32(g->c + (i0 + r) * g->ldc, 1, g->w->rows, g->bias, &g->act);
    }
}
