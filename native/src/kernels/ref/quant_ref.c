#include "quant_ref.h"

#include <math.h>
#include <stdbool.h>

static void qrange(nrt_dtype t, double* lo, double* hi) {
    switch (t) {
    case NRT_INT8: *lo = -128.0, *hi = 127.0; break;
    case NRT_UINT8: *lo = 0.0, *hi = 255.0; break;
    case NRT_INT16: *lo = -32768.0, *hi = 32767.0; break;
    default: *lo = -2147483648.0, *hi = 2147483647.0; break;
    }
}

/* Row r of outer * axis: where its scales start and whether they advance per
 * element (blocked) or stay (per axis / per tensor). */
static int64_t row_params(const nrt_qlayout* l, int64_t r, int64_t* step) {
    if (l->per_tensor) {
        *step = 0;
        return 0;
    }
    int64_t o = r / l->axis, a = r % l->axis;
    if (l->block <= 0) {
        *step = 0;
        return a;
    }
    int64_t blocks = (l->axis + l->block - 1) / l->block;
    *step = 1;
    return (o * blocks + a / l->block) * l->inner;
}

/* Visits the part of each row of `inner` elements that [begin, end) covers:
 * row r, elements [i0, i1) of it. */
#define FOR_ROW_PARTS(J, BEGIN, END, BODY)                                                            \
    do {                                                                                              \
        int64_t inner_ = (J)->l.inner;                                                                \
        for (int64_t e_ = (BEGIN); e_ < (END);) {                                                     \
            int64_t r = e_ / inner_, i0 = e_ - r * inner_, i1 = (END) - r * inner_;                   \
            if (i1 > inner_) i1 = inner_;                                                             \
            int64_t step, k = row_params(&(J)->l, r, &step);                                          \
            BODY;                                                                                     \
            e_ = r * inner_ + i1;                                                                     \
        }                                                                                             \
    } while (0)

#define QUANT_ROW(T)                                                                                  \
    do {                                                                                              \
        const float* x = (const float*)j->src + r * inner_;                                           \
        T* y = (T*)j->dst + r * inner_;                                                                \
        for (int64_t i = i0; i < i1; i++)                                                             \
            y[i] = (T)nrt_quantize_value(x[i], j->s[k + i * step], j->z[k + i * step], lo, hi);       \
    } while (0)

/* The same rule in float for 8/16-bit results (vectorizes): clamping rint(x / s)
 * to [lo - z, hi - z] and adding z equals clamping rint(x / s) + z to [lo, hi]
 * (every bound is an integer far below 2^24); NaN becomes 0, so z. */
static inline int32_t quantize_small(float x, float s, int32_t z, float lo, float hi) {
    float v = rintf(x / s), a = lo - (float)z, b = hi - (float)z;
    v = v != v ? 0.0f : (v < a ? a : (v > b ? b : v));
    return (int32_t)v + z;
}

#define QUANT_ROW_SMALL(T)                                                                            \
    do {                                                                                              \
        const float* x = (const float*)j->src + r * inner_;                                           \
        T* y = (T*)j->dst + r * inner_;                                                                \
        if (step == 0) { /* one scale for the run: hoisted so the loop vectorizes */                  \
            float s0 = j->s[k];                                                                       \
            int32_t z0 = j->z[k];                                                                     \
            for (int64_t i = i0; i < i1; i++) y[i] = (T)quantize_small(x[i], s0, z0, (float)lo, (float)hi); \
        } else {                                                                                      \
            for (int64_t i = i0; i < i1; i++)                                                         \
                y[i] = (T)quantize_small(x[i], j->s[k + i], j->z[k + i], (float)lo, (float)hi);       \
        }                                                                                             \
    } while (0)

void nrt_quantize_ref(const nrt_qjob* j, int64_t begin, int64_t end) {
    double lo, hi;
    qrange(j->qtype, &lo, &hi);
    switch (j->qtype) {
    case NRT_INT8: FOR_ROW_PARTS(j, begin, end, QUANT_ROW_SMALL(int8_t)); break;
    case NRT_UINT8: FOR_ROW_PARTS(j, begin, end, QUANT_ROW_SMALL(uint8_t)); break;
    case NRT_INT16: FOR_ROW_PARTS(j, begin, end, QUANT_ROW_SMALL(int16_t)); break;
    default: FOR_ROW_PARTS(j, begin, end, QUANT_ROW(int32_t)); break;
    }
}

#define DEQUANT_ROW(T)                                                                                \
    do {                                                                                              \
        const T* q = (const T*)j->src + r * inner_;                                                   \
        float* y = (float*)j->dst + r * inner_;                                                        \
        for (int64_t i = i0; i < i1; i++)                                                             \
            y[i] = (float)((int64_t)q[i] - j->z[k + i * step]) * j->s[k + i * step];                  \
    } while (0)

void nrt_dequantize_ref(const nrt_qjob* j, int64_t begin, int64_t end) {
    switch (j->qtype) {
    case NRT_INT8: FOR_ROW_PARTS(j, begin, end, DEQUANT_ROW(int8_t)); break;
    case NRT_UINT8: FOR_ROW_PARTS(j, begin, end, DEQUANT_ROW(uint8_t)); break;
    case NRT_INT16: FOR_ROW_PARTS(j, begin, end, DEQUANT_ROW(int16_t)); break;
    default: FOR_ROW_PARTS(j, begin, end, DEQUANT_ROW(int32_t)); break;
    }
}

/* ONNX's DynamicQuantizeLinear: range [min(0, min x), max(0, max x)] (NaN
 * ignored), scale = range / 255 (1 for an empty range), zero point =
 * rint(clamp(-min / scale, 0, 255)); all in float32 like its reference. */
/* Running min / max in LANES independent lanes; `v < lo ? v : lo` skips NaN
 * as fminf does. Written as a select of the bits by the comparison's mask,
 * which gcc vectorizes (its float `?:` stays scalar: a compare and branch per
 * value, which made this scan cost as much as the dynamic Conv's product). */
#define LANES 16

typedef union float_bits {
    float f;
    uint32_t u;
} float_bits;

static inline float select_bits(bool take_a, float a, float b) {
    float_bits x = {a}, y = {b};
    uint32_t mask = 0u - (uint32_t)take_a;
    x.u = (x.u & mask) | (y.u & ~mask);
    return x.f;
}

void nrt_dynamic_quantize_params(const float* x, int64_t n, float* scale, uint8_t* zero_point) {
    float lanes_lo[LANES] = {0}, lanes_hi[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) {
            float v = x[i + l];
            lanes_lo[l] = select_bits(v < lanes_lo[l], v, lanes_lo[l]);
            lanes_hi[l] = select_bits(v > lanes_hi[l], v, lanes_hi[l]);
        }
    float lo = 0.0f, hi = 0.0f;
    for (int l = 0; l < LANES; l++) {
        lo = fminf(lo, lanes_lo[l]);
        hi = fmaxf(hi, lanes_hi[l]);
    }
    for (; i < n; i++) {
        lo = fminf(lo, x[i]);
        hi = fmaxf(hi, x[i]);
    }
    float s = (hi == lo ? 1.0f : hi - lo) / 255.0f;
    float zp = 0.0f - lo / s;
    zp = !(zp >= 0.0f) ? 0.0f : (zp > 255.0f ? 255.0f : zp); /* NaN (inf / inf) -> 0 */
    *scale = s;
    *zero_point = (uint8_t)rintf(zp);
}

void nrt_lut_qs8_ref(const int8_t* x, const int8_t* table, int8_t* y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = table[(int)x[i] + 128];
}
