/* int8 matrix products (FullyConnected, MatMul, dynamic FullyConnected) and
 * the integer-only Softmax, as kernels/requant.h defines them. Accumulators
 * are uint32 so the contract's modulo-2^32 sums are plain C. */
#include <math.h>
#include <string.h>

#include "../requant.h"
#include "qs8_ref.h"

void nrt_fc_qs8_ref(const nrt_qs8_gemm* g, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    for (int64_t i = m0; i < m1; i++) {
        const int8_t* a = g->a + i * g->lda;
        int8_t* c = g->c + i * g->ldc;
        for (int64_t n = n0; n < n1; n++) {
            const int8_t* w = g->b + n * g->ldb;
            uint32_t acc = g->bias ? (uint32_t)g->bias[n] : 0u;
            for (int64_t k = 0; k < g->K; k++) acc += (uint32_t)(a[k] * w[k]);
            c[n] = nrt_requantize((int32_t)acc, g->m[n], g->out.zero_point, g->out.qmin, g->out.qmax);
        }
    }
}

#define NBLOCK 256 /* output columns accumulated at once (a stack row) */

void nrt_matmul_qs8_ref(const nrt_qs8_gemm* g, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    uint32_t acc[NBLOCK];
    for (int64_t i = m0; i < m1; i++) {
        const int8_t* a = g->a + i * g->lda;
        for (int64_t nb = n0; nb < n1; nb += NBLOCK) {
            int64_t len = n1 - nb < NBLOCK ? n1 - nb : NBLOCK;
            memset(acc, 0, sizeof acc);
            for (int64_t k = 0; k < g->K; k++) {
                int32_t da = a[k] - g->za;
                const int8_t* b = g->b + k * g->ldb + nb;
                for (int64_t j = 0; j < len; j++) acc[j] += (uint32_t)(da * (b[j] - g->zb));
            }
            int8_t* c = g->c + i * g->ldc + nb;
            for (int64_t j = 0; j < len; j++)
                c[j] = nrt_requantize((int32_t)acc[j], g->m[0], g->out.zero_point, g->out.qmin, g->out.qmax);
        }
    }
}

/* ---- dynamic FullyConnected ---- */

static void quantize_row(const float* x, int64_t K, int8_t* q, float* scale, int32_t* zero) {
    float lo = 0.0f, hi = 0.0f;
    bool finite = true;
    for (int64_t k = 0; k < K; k++) {
        finite &= isfinite(x[k]);
        lo = x[k] < lo ? x[k] : lo;
        hi = x[k] > hi ? x[k] : hi;
    }
    float span = hi - lo;
    if (!finite || !isfinite(span)) { /* the contract: NaN outputs */
        *scale = NAN;
        *zero = 0;
        memset(q, 0, (size_t)K);
        return;
    }
    float s = span / 255.0f;
    int32_t z = 0;
    if (s == 0.0f) {
        s = 1.0f;
    } else {
        float zf = rintf(-128.0f - lo / s);
        z = (int32_t)(zf < -128.0f ? -128.0f : (zf > 127.0f ? 127.0f : zf));
    }
    float inv = 1.0f / s; /* (requant.h: a multiply per value, the division only where 1 / s overflows) */
    bool multiply = isfinite(inv);
    for (int64_t k = 0; k < K; k++) {
        float v = rintf(multiply ? x[k] * inv : x[k] / s) + (float)z; /* exact: |rint(x / s)| <= 256 here */
        q[k] = (int8_t)(v < -128.0f ? -128.0f : (v > 127.0f ? 127.0f : v));
    }
    *scale = s;
    *zero = z;
}

void nrt_dynamic_quantize_rows_ref(const nrt_dyn_fc* g, int64_t m0, int64_t m1) {
    for (int64_t i = m0; i < m1; i++)
        quantize_row(g->x + i * g->K, g->K, g->q + i * g->K, g->row_scale + i, g->row_zero + i);
}

void nrt_dynamic_fc_ref(const nrt_dyn_fc* g, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    for (int64_t i = m0; i < m1; i++) {
        const int8_t* q = g->q + i * g->K;
        float s = g->row_scale[i], *y = g->y + i * g->N;
        int32_t z = g->row_zero[i];
        if (isnan(s)) {
            for (int64_t n = n0; n < n1; n++) y[n] = NAN;
            continue;
        }
        for (int64_t n = n0; n < n1; n++) {
            const int8_t* w = g->w + n * g->K;
            uint32_t acc = 0;
            for (int64_t k = 0; k < g->K; k++) acc += (uint32_t)((q[k] - z) * w[k]);
            float ms = s * g->w_scale[g->per_channel ? n : 0];
            float v = (float)(int32_t)acc * ms;
            if (g->bias) v = v + g->bias[n];
            y[n] = nrt_activation_apply(&g->act, v);
        }
    }
}

/* ---- Softmax ---- */

void nrt_softmax_s8_table(float s_x, uint32_t* table) {
    for (int d = 0; d < 256; d++) table[d] = (uint32_t)rint(65536.0 * exp(-(double)s_x * (double)d));
}

void nrt_softmax_qs8_ref(const uint32_t* table, const int8_t* x, int8_t* y, int64_t o0, int64_t o1, int64_t n,
                        int64_t inner) {
    for (int64_t o = o0; o < o1; o++) {
        for (int64_t c = 0; c < inner; c++) {
            const int8_t* xs = x + o * n * inner + c;
            int8_t* ys = y + o * n * inner + c;
            int32_t mx = -128;
            for (int64_t i = 0; i < n; i++) mx = xs[i * inner] > mx ? xs[i * inner] : mx;
            uint64_t sum = 0;
            for (int64_t i = 0; i < n; i++) sum += table[mx - xs[i * inner]];
            for (int64_t i = 0; i < n; i++) {
                uint64_t v = ((uint64_t)table[mx - xs[i * inner]] * 256u + sum / 2u) / sum;
                ys[i * inner] = (int8_t)(v > 255u ? 127 : (int64_t)v - 128);
            }
        }
    }
}
