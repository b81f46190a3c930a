#include "sparse_gemm_ref.h"

/* Rows of A handled together: each kept weight is loaded once for all of them. */
#define ROWS 8

/* acc[r] += the kept products of row n of W with rows[r] of A, in ascending k. */
static void dots_f32(const nrt_bcsr* w, int64_t n, const float* const* rows, int count, float* acc) {
    const float* values = w->values;
    int64_t block_row = n / w->bn, row_in_block = n % w->bn;
    for (int32_t b = w->indptr[block_row]; b < w->indptr[block_row + 1]; b++) {
        const float* wv = values + ((int64_t)b * w->bn + row_in_block) * w->bk;
        int64_t k0 = (int64_t)w->col[b] * w->bk;
        for (int32_t k = 0; k < w->bk; k++)
            for (int r = 0; r < count; r++) acc[r] += rows[r][k0 + k] * wv[k];
    }
}

void nrt_sparse_gemm_f32_ref(const nrt_f32_sparse_gemm* g, int64_t m0, int64_t m1) {
    for (int64_t i0 = m0; i0 < m1; i0 += ROWS) {
        int count = m1 - i0 < ROWS ? (int)(m1 - i0) : ROWS;
        const float* rows[ROWS];
        for (int r = 0; r < count; r++) rows[r] = g->a + (i0 + r) * g->lda;
        for (int64_t n = 0; n < g->w->rows; n++) {
            float acc[ROWS];
            for (int r = 0; r < count; r++) acc[r] = g->bias ? g->bias[n] : 0.0f;
            if (count == ROWS) dots_f32(g->w, n, rows, ROWS, acc); /* (a constant count: the loop unrolls) */
            else dots_f32(g->w, n, rows, count, acc);
            for (int r = 0; r < count; r++) g->c[(i0 + r) * g->ldc + n] = nrt_activation_apply(&g->act, acc[r]);
        }
    }
}
