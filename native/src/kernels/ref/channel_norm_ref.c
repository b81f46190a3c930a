#include "channel_norm_ref.h"

#include <math.h>
#include <string.h>

void nrt_batchnorm_coeffs_f32(const float* scale, const float* bias, const float* mean, const float* var, float eps,
                              int64_t c, float* a, float* b) {
    for (int64_t i = 0; i < c; i++) {
        a[i] = scale[i] / sqrtf(var[i] + eps);
        b[i] = bias[i] - mean[i] * a[i];
    }
}

void nrt_batchnorm_f32_ref(const float* x, const float* a, const float* b, int64_t c, int64_t inner, float* y,
                           int64_t begin, int64_t end) {
    if (inner == 1) { /* channels last: rows of c */
        for (int64_t r = begin; r < end; r++) {
            const float* restrict xp = x + r * c;
            float* restrict yp = y + r * c;
            for (int64_t i = 0; i < c; i++) yp[i] = xp[i] * a[i] + b[i];
        }
        return;
    }
    for (int64_t r = begin; r < end; r++) {
        const float* restrict xp = x + r * inner;
        float* restrict yp = y + r * inner;
        float av = a[r % c], bv = b[r % c];
        for (int64_t i = 0; i < inner; i++) yp[i] = xp[i] * av + bv;
    }
}

/* Sums over [mid][chunk][inner] of x - shift (or its square) per channel of the chunk. */
static void chunk_sums(const nrt_instnorm_geom* g, const float* x, int64_t c0, int64_t nc, const double* shift,
                       int square, double* out) {
    for (int64_t k = 0; k < nc; k++) out[k] = 0.0;
    for (int64_t m = 0; m < g->mid; m++)
        for (int64_t k = 0; k < nc; k++) {
            const float* xp = x + (m * g->c + c0 + k) * g->inner;
            double s = 0.0, sh = shift ? shift[k] : 0.0;
            for (int64_t i = 0; i < g->inner; i++) {
                double d = (double)xp[i] - sh;
                s += square ? d * d : d;
            }
            out[k] += s;
        }
}

void nrt_instnorm_f32_ref(const nrt_instnorm_geom* g, const float* x, const float* scale, const float* bias, float* y,
                          int64_t begin, int64_t end) {
    int64_t chunks = (g->c + NRT_INSTNORM_CHUNK - 1) / NRT_INSTNORM_CHUNK;
    double count = (double)(g->mid * g->inner);
    for (int64_t item = begin; item < end; item++) {
        int64_t n = item / chunks, c0 = item % chunks * NRT_INSTNORM_CHUNK;
        int64_t nc = g->c - c0 < NRT_INSTNORM_CHUNK ? g->c - c0 : NRT_INSTNORM_CHUNK;
        const float* xn = x + n * g->mid * g->c * g->inner;
        float* yn = y + n * g->mid * g->c * g->inner;
        double mean[NRT_INSTNORM_CHUNK], var[NRT_INSTNORM_CHUNK];
        float a[NRT_INSTNORM_CHUNK], mf[NRT_INSTNORM_CHUNK];
        chunk_sums(g, xn, c0, nc, NULL, 0, mean);
        for (int64_t k = 0; k < nc; k++) mean[k] = count > 0 ? mean[k] / count : 0.0;
        chunk_sums(g, xn, c0, nc, mean, 1, var);
        for (int64_t k = 0; k < nc; k++) {
            double v = count > 0 ? var[k] / count : 0.0;
            a[k] = (float)((double)scale[c0 + k] / sqrt(v + (double)g->eps));
            mf[k] = (float)mean[k];
        }
        for (int64_t m = 0; m < g->mid; m++)
            for (int64_t k = 0; k < nc; k++) {
                int64_t off = (m * g->c + c0 + k) * g->inner;
                float bk = bias[c0 + k];
                for (int64_t i = 0; i < g->inner; i++) yn[off + i] = (xn[off + i] - mf[k]) * a[k] + bk;
            }
    }
}

void nrt_lpnorm_f32_ref(const float* x, int64_t len, int64_t inner, int p, float* y, int64_t begin, int64_t end) {
    for (int64_t v = begin; v < end; v++) {
        int64_t o = v / inner, i = v % inner;
        const float* xp = x + o * len * inner + i;
        float* yp = y + o * len * inner + i;
        double s = 0.0;
        for (int64_t k = 0; k < len; k++) {
            double e = xp[k * inner];
            s += p == 1 ? fabs(e) : e * e;
        }
        double norm = p == 1 ? s : sqrt(s);
        for (int64_t k = 0; k < len; k++) yp[k * inner] = norm == 0.0 ? 0.0f : (float)(xp[k * inner] / norm);
    }
}
