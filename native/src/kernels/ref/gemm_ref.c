#include "gemm_ref.h"

#include <string.h>


/* Rows of A handled together (each B / W element loaded once for all of
 * them) and MatMul's column block (the accumulators stay in L1). */
#define ROWS 4
#define COLS 128
#define LANES 8

void nrt_activation_f32_ref(const nrt_activation* act, float* x, int64_t n) {
    switch (act->kind) {
    case NRT_ACT_NONE: return;
    case NRT_ACT_RELU:
        for (int64_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
        return;
    case NRT_ACT_CLIP: {
        float lo = act->alpha, hi = act->beta;
        for (int64_t i = 0; i < n; i++) x[i] = x[i] < lo ? lo : (x[i] > hi ? hi : x[i]);
        return;
    }
    default:
        for (int64_t i = 0; i < n; i++) x[i] = nrt_activation_apply(act, x[i]);
    }
}

/* Bias and activation on a finished row segment [n0, n0 + n). */
static void finish_row(const nrt_gemm_f32* g, float* c, int64_t n0, int64_t n) {
    if (g->bias)
        for (int64_t j = 0; j < n; j++) c[j] += g->bias[n0 + j];
    nrt_activation_f32_ref(&g->act, c, n);
}

/* MatMul: up to ROWS rows x up to COLS columns. For each k, the row of B
 * is scaled by a[r][k] and added to the accumulators: the j loop is
 * contiguous in B and C and vectorizes. */
static void matmul_block(const nrt_gemm_f32* g, int64_t m, int rows, int64_t n0, int cols) {
    float acc[ROWS][COLS];
    memset(acc, 0, sizeof acc);
    const float* a = g->a + m * g->lda;
    for (int64_t k = 0; k < g->K; k++) {
        const float* b = g->b + k * g->ldb + n0;
        for (int r = 0; r < rows; r++) {
            float av = a[r * g->lda + k];
            float* s = acc[r];
            for (int j = 0; j < cols; j++) s[j] += av * b[j];
        }
    }
    for (int r = 0; r < rows; r++) {
        float* c = g->c + (m + r) * g->ldc + n0;
        memcpy(c, acc[r], sizeof(float) * (size_t)cols);
        finish_row(g, c, n0, cols);
    }
}

void nrt_matmul_f32_ref(const nrt_gemm_f32* g, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    for (int64_t m = m0; m < m1; m += ROWS) {
        int rows = m1 - m < ROWS ? (int)(m1 - m) : ROWS;
        for (int64_t n = n0; n < n1; n += COLS) {
            int cols = n1 - n < COLS ? (int)(n1 - n) : COLS;
            matmul_block(g, m, rows, n, cols);
        }
    }
}

/* Dot products of ROWS rows of A with one row of W over contiguous K, in
 * the documented lane order (each W element is loaded once for all rows). */
static void fc_dots(const float* const a[ROWS], const float* w, int64_t K, float out[ROWS]) {
    float s[ROWS][LANES];
    memset(s, 0, sizeof s);
    int64_t k = 0, k8 = K - K % LANES;
    for (; k < k8; k += LANES)
        for (int r = 0; r < ROWS; r++)
            for (int j = 0; j < LANES; j++) s[r][j] += a[r][k + j] * w[k + j];
    for (int r = 0; r < ROWS; r++) {
        float v = ((s[r][0] + s[r][4]) + (s[r][2] + s[r][6])) + ((s[r][1] + s[r][5]) + (s[r][3] + s[r][7]));
        for (int64_t t = k8; t < K; t++) v += a[r][t] * w[t];
        out[r] = v;
    }
}

/* The same lane order for a single row (M = 1 products, row tails). */
static float fc_dot(const float* a, const float* w, int64_t K) {
    float s[LANES] = {0};
    int64_t k = 0, k8 = K - K % LANES;
    for (; k < k8; k += LANES)
        for (int j = 0; j < LANES; j++) s[j] += a[k + j] * w[k + j];
    float v = ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
    for (; k < K; k++) v += a[k] * w[k];
    return v;
}

void nrt_fc_f32_ref(const nrt_gemm_f32* g, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    for (int64_t m = m0; m < m1; m += ROWS) {
        int rows = m1 - m < ROWS ? (int)(m1 - m) : ROWS;
        const float* a[ROWS];
        for (int r = 0; r < rows; r++) a[r] = g->a + (m + r) * g->lda;
        for (int64_t n = n0; n < n1; n++) {
            const float* w = g->b + n * g->ldb;
            if (rows == ROWS) {
                float out[ROWS];
                fc_dots(a, w, g->K, out);
                for (int r = 0; r < ROWS; r++) g->c[(m + r) * g->ldc + n] = out[r];
            } else {
                for (int r = 0; r < rows; r++) g->c[(m + r) * g->ldc + n] = fc_dot(a[r], w, g->K);
            }
        }
        for (int r = 0; r < rows; r++) finish_row(g, g->c + (m + r) * g->ldc + n0, n0, n1 - n0);
    }
}
