#include "elementwise_ref.h"

#include <string.h>

#include "../dtype.h"
#include "../f16.h"

/* ---- Where ---- */

/* One loop per element size; called with literal strides so each of the
 * eight stride combinations compiles to its own (vectorizable) loop. Both
 * values are read before the select so it needs no branch. */
#define WHERE_FN(T)                                                                                        \
    static inline __attribute__((always_inline)) void where_##T(const uint8_t* c, const T* x, const T* y,  \
                                                                T* o, size_t n, size_t sc, size_t sx,     \
                                                                size_t sy) {                              \
        for (size_t i = 0; i < n; i++) {                                                                  \
            T xv = x[i * sx], yv = y[i * sy];                                                             \
            o[i] = c[i * sc] ? xv : yv;                                                                   \
        }                                                                                                 \
    }                                                                                                     \
    static void where_strided_##T(const uint8_t* c, const T* x, const T* y, T* o, size_t n, int strides) { \
        switch (strides) {                                                                                \
        case 0: where_##T(c, x, y, o, n, 0, 0, 0); break;                                                 \
        case 1: where_##T(c, x, y, o, n, 0, 0, 1); break;                                                 \
        case 2: where_##T(c, x, y, o, n, 0, 1, 0); break;                                                 \
        case 3: where_##T(c, x, y, o, n, 0, 1, 1); break;                                                 \
        case 4: where_##T(c, x, y, o, n, 1, 0, 0); break;                                                 \
        case 5: where_##T(c, x, y, o, n, 1, 0, 1); break;                                                 \
        case 6: where_##T(c, x, y, o, n, 1, 1, 0); break;                                                 \
        default: where_##T(c, x, y, o, n, 1, 1, 1); break;                                                \
        }                                                                                                 \
    }

WHERE_FN(uint8_t)
WHERE_FN(uint16_t)
WHERE_FN(uint32_t)
WHERE_FN(uint64_t)

void nrt_where_ref(size_t elem_size, const uint8_t* c, const void* x, const void* y, void* out, size_t n, int sc,
                   int sx, int sy) {
    int strides = (sc != 0) * 4 + (sx != 0) * 2 + (sy != 0);
    switch (elem_size) {
    case 1: where_strided_uint8_t(c, x, y, out, n, strides); break;
    case 2: where_strided_uint16_t(c, x, y, out, n, strides); break;
    case 4: where_strided_uint32_t(c, x, y, out, n, strides); break;
    default: where_strided_uint64_t(c, x, y, out, n, strides); break;
    }
}

/* ---- Clip ---- */

bool nrt_clip_supported(nrt_dtype t) { return (unsigned)t < NRT_BOOL; }

#define CLAMP_LOOP(T, LO, HI)                                                                              \
    do {                                                                                                  \
        const T* X = x;                                                                                   \
        T* Y = y;                                                                                         \
        const T lo = (T)(LO), hi = (T)(HI);                                                               \
        for (size_t i = 0; i < n; i++) {                                                                  \
            T v = X[i];                                                                                   \
            v = v < lo ? lo : v;                                                                          \
            Y[i] = v > hi ? hi : v;                                                                       \
        }                                                                                                 \
    } while (0)

static void clip_f16(const nrt_clip_bounds* b, const uint16_t* x, uint16_t* y, size_t n) {
    const float lo = (float)b->flo, hi = (float)b->fhi;
    for (size_t i = 0; i < n; i++) {
        float v = nrt_f16_to_f32(x[i]);
        v = v < lo ? lo : v;
        y[i] = nrt_f32_to_f16(v > hi ? hi : v);
    }
}

void nrt_clip_ref(nrt_dtype t, const nrt_clip_bounds* b, const void* x, void* y, size_t n) {
    switch (t) {
    case NRT_FLOAT32: CLAMP_LOOP(float, b->flo, b->fhi); break;
    case NRT_FLOAT64: CLAMP_LOOP(double, b->flo, b->fhi); break;
    case NRT_FLOAT16: clip_f16(b, x, y, n); break;
    case NRT_INT8: CLAMP_LOOP(int8_t, b->ilo, b->ihi); break;
    case NRT_UINT8: CLAMP_LOOP(uint8_t, b->ilo, b->ihi); break;
    case NRT_INT16: CLAMP_LOOP(int16_t, b->ilo, b->ihi); break;
    case NRT_INT32: CLAMP_LOOP(int32_t, b->ilo, b->ihi); break;
    case NRT_INT64: CLAMP_LOOP(int64_t, b->ilo, b->ihi); break;
    default: break;
    }
}

/* ---- Cast ----
 * Two steps over blocks: the source widens to double (float sources) or to
 * int64 (integer and bool sources), exactly; the destination then converts
 * from that with the rules in the header. */

#define CAST_BLOCK 256

bool nrt_cast_supported(nrt_dtype from, nrt_dtype to) { return (unsigned)from <= NRT_BOOL && (unsigned)to <= NRT_BOOL; }

#define LOAD(T, DST)                                                                                       \
    do {                                                                                                  \
        const T* X = x;                                                                                   \
        for (size_t i = 0; i < n; i++) DST[i] = X[i];                                                     \
    } while (0)

/* Returns true when the values went to f (floats), false for v (integers). */
static bool load_block(nrt_dtype t, const void* x, size_t n, double* f, int64_t* v) {
    switch (t) {
    case NRT_FLOAT32: LOAD(float, f); return true;
    case NRT_FLOAT64: LOAD(double, f); return true;
    case NRT_FLOAT16:
        for (size_t i = 0; i < n; i++) f[i] = nrt_f16_to_f32(((const uint16_t*)x)[i]);
        return true;
    case NRT_INT8: LOAD(int8_t, v); return false;
    case NRT_UINT8: LOAD(uint8_t, v); return false;
    case NRT_INT16: LOAD(int16_t, v); return false;
    case NRT_INT32: LOAD(int32_t, v); return false;
    case NRT_INT64: LOAD(int64_t, v); return false;
    default: /* bool: any nonzero byte is true */
        for (size_t i = 0; i < n; i++) v[i] = ((const uint8_t*)x)[i] != 0;
        return false;
    }
}

#define STORE(T, EXPR)                                                                                     \
    do {                                                                                                  \
        T* Y = y;                                                                                         \
        for (size_t i = 0; i < n; i++) Y[i] = (T)(EXPR);                                                  \
    } while (0)

#define STORE_SAT(T, LO, HI) STORE(T, nrt_f64_to_int_sat(f[i], LO, HI))

static void store_from_f(nrt_dtype t, const double* f, void* y, size_t n) {
    switch (t) {
    case NRT_FLOAT32: STORE(float, f[i]); break;
    case NRT_FLOAT64: STORE(double, f[i]); break;
    case NRT_FLOAT16: STORE(uint16_t, nrt_f32_to_f16((float)f[i])); break;
    case NRT_INT8: STORE_SAT(int8_t, INT8_MIN, INT8_MAX); break;
    case NRT_UINT8: STORE_SAT(uint8_t, 0, UINT8_MAX); break;
    case NRT_INT16: STORE_SAT(int16_t, INT16_MIN, INT16_MAX); break;
    case NRT_INT32: STORE_SAT(int32_t, INT32_MIN, INT32_MAX); break;
    case NRT_INT64: STORE_SAT(int64_t, INT64_MIN, INT64_MAX); break;
    default: STORE(uint8_t, f[i] != 0.0); break;
    }
}

/* Integer targets keep the low bits (gcc and clang define the conversion as modular). */
static void store_from_i(nrt_dtype t, const int64_t* v, void* y, size_t n) {
    switch (t) {
    case NRT_FLOAT32: STORE(float, v[i]); break;
    case NRT_FLOAT64: STORE(double, v[i]); break;
    case NRT_FLOAT16: STORE(uint16_t, nrt_f32_to_f16((float)v[i])); break;
    case NRT_INT8: STORE(int8_t, v[i]); break;
    case NRT_UINT8: STORE(uint8_t, v[i]); break;
    case NRT_INT16: STORE(int16_t, v[i]); break;
    case NRT_INT32: STORE(int32_t, v[i]); break;
    case NRT_INT64: STORE(int64_t, v[i]); break;
    default: STORE(uint8_t, v[i] != 0); break;
    }
}

void nrt_cast_ref(nrt_dtype from, const void* x, nrt_dtype to, void* y, size_t n) {
    size_t in_size = nrt_dtype_size(from), out_size = nrt_dtype_size(to);
    if (from == to && from != NRT_BOOL) {
        memcpy(y, x, n * in_size);
        return;
    }
    if (from == NRT_FLOAT32 && to == NRT_FLOAT16) { /* common in fp16 models: no detour through double */
        for (size_t i = 0; i < n; i++) ((uint16_t*)y)[i] = nrt_f32_to_f16(((const float*)x)[i]);
        return;
    }
    if (from == NRT_FLOAT16 && to == NRT_FLOAT32) {
        for (size_t i = 0; i < n; i++) ((float*)y)[i] = nrt_f16_to_f32(((const uint16_t*)x)[i]);
        return;
    }
    double f[CAST_BLOCK];
    int64_t v[CAST_BLOCK];
    for (size_t s = 0; s < n; s += CAST_BLOCK) {
        size_t m = n - s < CAST_BLOCK ? n - s : CAST_BLOCK;
        const void* xs = (const uint8_t*)x + s * in_size;
        void* ys = (uint8_t*)y + s * out_size;
        if (load_block(from, xs, m, f, v)) store_from_f(to, f, ys, m);
        else store_from_i(to, v, ys, m);
    }
}
