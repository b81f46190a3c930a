#include "sparse_gemm_ref.h"

#include "../requant.h"
#include "conv_ref.h"

void nrt_sparse_gemm_s8_ref(const nrt_s8_sparse_gemm* g, int64_t m0, int64_t m1) {
    const nrt_bcsr* w = g->w;
    const int8_t* values = w->values;
    for (int64_t i = m0; i < m1; i++) {
        const int8_t* a = g->a + i * g->lda;
        int8_t* c = g->c + i * g->ldc;
        for (int64_t n = 0; n < w->rows; n++) {
            int64_t r = n / w->bn, row_in_block = n % w->bn;
            uint32_t acc = g->bias ? (uint32_t)g->bias[n] : 0u;
            for (int32_t b = w->indptr[r]; b < w->indptr[r + 1]; b++) {
                const int8_t* v = values + ((int64_t)b * w->bn + row_in_block) * w->bk;
                const int8_t* x = a + (int64_t)w->col[b] * w->bk;
                for (int32_t k = 0; k < w->bk; k++) acc += (uint32_t)(x[k] * v[k]);
            }
            c[n] = nrt_requantize((int32_t)acc, g->m[n], g->out.zero_point, g->out.qmin, g->out.qmax);
        }
    }
}

/* One output: the kept products of row n in ascending k, or in eight lanes. */
static float dot_f32(const nrt_f32_sparse_gemm* g, const float* a, int64_t n) {
    const nrt_bcsr* w = g->w;
    const float* values = w->values;
    int64_t r = n / w->bn, row_in_block = n % w->bn;
    int64_t lane_end = g->lanes ? w->cols - w->cols % g->lanes : 0;
    float lanes[8] = {0}, v = 0.0f;
    for (int pass = g->lanes ? 0 : 1; pass < 2; pass++) { /* lanes: k < lane_end first, then the tail */
        for (int32_t b = w->indptr[r]; b < w->indptr[r + 1]; b++) {
            const float* wv = values + ((int64_t)b * w->bn + row_in_block) * w->bk;
            int64_t k0 = (int64_t)w->col[b] * w->bk;
            for (int32_t k = 0; k < w->bk; k++) {
                bool in_lanes = k0 + k < lane_end;
                if (pass == 0 && in_lanes) lanes[(k0 + k) % g->lanes] += a[k0 + k] * wv[k];
                else if (pass == 1 && !in_lanes) v += a[k0 + k] * wv[k];
            }
        }
        if (pass == 0) v = ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
    }
    return v;
}

void nrt_sparse_gemm_f32_ref(const nrt_f32_sparse_gemm* g, int64_t m0, int64_t m1) {
    for (int64_t i = m0; i < m1; i++) {
        float* c = g->c + i * g->ldc;
        for (int64_t n = 0; n < g->w->rows; n++) c[n] = dot_f32(g, g->a + i * g->lda, n);
        nrt_bias_act_f32(c, 1, g->w->rows, g->bias, &g->act);
    }
}
