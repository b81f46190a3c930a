#include "softmax_ref.h"

#include <math.h>
#include <string.h>

#include "exp_ref.h"

#define BLOCK 64 /* inner columns processed together when inner > 1 */

/* Sum in double, element i in lane i % 4, lanes added (l0 + l1) + (l2 + l3). */
static double sum4(const float* y, int64_t n) {
    double l[4] = {0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++) l[k] += y[i + k];
    for (; i < n; i++) l[i & 3] += y[i];
    return (l[0] + l[1]) + (l[2] + l[3]);
}

/* Max of n > 0 values, in 8 independent lanes (vectorizes). */
static float row_max(const float* x, int64_t n) {
    float m[8];
    for (int j = 0; j < 8; j++) m[j] = x[0];
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) m[j] = x[i + j] > m[j] ? x[i + j] : m[j];
    for (; i < n; i++) m[0] = x[i] > m[0] ? x[i] : m[0];
    for (int j = 1; j < 8; j++) m[0] = m[j] > m[0] ? m[j] : m[0];
    return m[0];
}

static void hardmax_row(const float* x, float* y, int64_t n) {
    int64_t arg = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[arg]) arg = i;
    memset(y, 0, sizeof(float) * (size_t)n);
    y[arg] = 1.0f;
}

/* One contiguous row of n values (inner == 1). */
static void row(nrt_softmax_kind kind, const float* x, float* y, int64_t n) {
    if (n == 0) return;
    if (kind == NRT_HARDMAX) {
        hardmax_row(x, y, n);
        return;
    }
    float mx = row_max(x, n);
    for (int64_t i = 0; i < n; i++) y[i] = nrt_exp_f32(x[i] - mx);
    double sum = sum4(y, n);
    if (kind == NRT_SOFTMAX) {
        float inv = (float)(1.0 / sum);
        for (int64_t i = 0; i < n; i++) y[i] *= inv;
    } else {
        float ls = (float)log(sum);
        for (int64_t i = 0; i < n; i++) y[i] = (x[i] - mx) - ls;
    }
}

/* `w` columns (w <= BLOCK) of an [n, inner] slab, rows `inner` apart; each
 * column's sum runs in increasing row order. */
static void columns(nrt_softmax_kind kind, const float* x, float* y, int64_t n, int64_t inner, int w) {
    float mx[BLOCK];
    int64_t arg[BLOCK] = {0};
    double sum[BLOCK] = {0};
    if (n == 0) return;
    memcpy(mx, x, sizeof(float) * (size_t)w);
    for (int64_t r = 1; r < n; r++)
        for (int j = 0; j < w; j++)
            if (x[r * inner + j] > mx[j]) {
                mx[j] = x[r * inner + j];
                arg[j] = r;
            }
    if (kind == NRT_HARDMAX) {
        for (int64_t r = 0; r < n; r++)
            for (int j = 0; j < w; j++) y[r * inner + j] = arg[j] == r ? 1.0f : 0.0f;
        return;
    }
    for (int64_t r = 0; r < n; r++) {
        for (int j = 0; j < w; j++) y[r * inner + j] = nrt_exp_f32(x[r * inner + j] - mx[j]);
        for (int j = 0; j < w; j++) sum[j] += y[r * inner + j];
    }
    float f[BLOCK];
    for (int j = 0; j < w; j++) f[j] = kind == NRT_SOFTMAX ? (float)(1.0 / sum[j]) : (float)log(sum[j]);
    for (int64_t r = 0; r < n; r++)
        for (int j = 0; j < w; j++)
            y[r * inner + j] = kind == NRT_SOFTMAX ? y[r * inner + j] * f[j] : (x[r * inner + j] - mx[j]) - f[j];
}

void nrt_softmax_f32_ref(nrt_softmax_kind kind, const float* x, float* y, int64_t o0, int64_t o1, int64_t n,
                         int64_t inner) {
    for (int64_t o = o0; o < o1; o++) {
        const float* xs = x + o * n * inner;
        float* ys = y + o * n * inner;
        if (inner == 1) {
            row(kind, xs, ys, n);
            continue;
        }
        for (int64_t c = 0; c < inner; c += BLOCK) {
            int w = inner - c < BLOCK ? (int)(inner - c) : BLOCK;
            columns(kind, xs + c, ys + c, n, inner, w);
        }
    }
}
