#include "dtype.h"

#include <string.h>

const nrt_dtype_traits nrt_dtype_table[NRT_DTYPE_COUNT] = {
    [NRT_FLOAT32] = {"float32", 32, true, true, 0, 0},
    [NRT_FLOAT16] = {"float16", 16, true, true, 0, 0},
    [NRT_FLOAT64] = {"float64", 64, true, true, 0, 0},
    [NRT_INT8] = {"int8", 8, false, true, INT8_MIN, INT8_MAX},
    [NRT_UINT8] = {"uint8", 8, false, false, 0, UINT8_MAX},
    [NRT_INT16] = {"int16", 16, false, true, INT16_MIN, INT16_MAX},
    [NRT_INT32] = {"int32", 32, false, true, INT32_MIN, INT32_MAX},
    [NRT_INT64] = {"int64", 64, false, true, INT64_MIN, INT64_MAX},
    [NRT_BOOL] = {"bool", 8, false, false, 0, 1},
    [NRT_INT4] = {"int4", 4, false, true, -8, 7},
};

bool nrt_dtype_bytes(nrt_dtype dtype, int64_t n, uint64_t* bytes) {
    if ((unsigned)dtype >= NRT_DTYPE_COUNT || n < 0) return false;
    unsigned bits = nrt_dtype_table[dtype].bits;
    if (bits < 8) {
        *bytes = ((uint64_t)n * bits + 7) / 8;
        return true;
    }
    int64_t b;
    if (!nrt_mul_overflow_ok(n, bits / 8, &b)) return false;
    *bytes = (uint64_t)b;
    return true;
}

void nrt_dtype_range(nrt_dtype dtype, int64_t* lo, int64_t* hi) {
    *lo = nrt_dtype_table[dtype].min;
    *hi = nrt_dtype_table[dtype].max;
}

bool nrt_is_finite(const void* p, nrt_dtype dtype) {
    uint16_t h;
    uint32_t f;
    uint64_t d;
    switch (dtype) {
    case NRT_FLOAT16: memcpy(&h, p, 2); return (h & 0x7c00u) != 0x7c00u;
    case NRT_FLOAT32: memcpy(&f, p, 4); return (f & 0x7f800000u) != 0x7f800000u;
    case NRT_FLOAT64: memcpy(&d, p, 8); return (d & 0x7ff0000000000000u) != 0x7ff0000000000000u;
    default: return true;
    }
}

const char* nrt_dtype_name(nrt_dtype dtype) {
    return (unsigned)dtype < NRT_DTYPE_COUNT ? nrt_dtype_table[dtype].name : "invalid";
}

size_t nrt_dtype_size(nrt_dtype dtype) {
    return (unsigned)dtype < NRT_DTYPE_COUNT ? (nrt_dtype_table[dtype].bits + 7u) / 8u : 0;
}

/* Block of elements copied and checked between early exits: the inner loop
 * has no branch, so it vectorizes. */
#define FINITE_BLOCK 4096

/* An element is non-finite when its exponent bits are all ones. */
#define COPY_FINITE(T, EXP)                                                   \
    static int copy_finite_##T(T* dst, const T* src, size_t count) {          \
        for (size_t i0 = 0; i0 < count; i0 += FINITE_BLOCK) {                 \
            size_t n = count - i0 < FINITE_BLOCK ? count - i0 : FINITE_BLOCK; \
            T bad = 0;                                                        \
            for (size_t i = 0; i < n; i++) {                                  \
                T v = src[i0 + i];                                            \
                dst[i0 + i] = v;                                              \
                bad |= (T)((v & EXP) == EXP);                                 \
            }                                                                 \
            if (bad) {                                                        \
                memcpy(dst + i0 + n, src + i0 + n, (count - i0 - n) * sizeof(T)); \
                return 0;                                                     \
            }                                                                 \
        }                                                                     \
        return 1;                                                             \
    }
COPY_FINITE(uint16_t, (uint16_t)0x7c00u)
COPY_FINITE(uint32_t, 0x7f800000u)
COPY_FINITE(uint64_t, 0x7ff0000000000000u)

int nrt_copy_finite(void* dst, const void* src, size_t count, nrt_dtype dtype) {
    switch (dtype) {
    case NRT_FLOAT16: return copy_finite_uint16_t(dst, src, count);
    case NRT_FLOAT32: return copy_finite_uint32_t(dst, src, count);
    case NRT_FLOAT64: return copy_finite_uint64_t(dst, src, count);
    default: {
        uint64_t bytes;
        if (count && nrt_dtype_bytes(dtype, (int64_t)count, &bytes)) memcpy(dst, src, (size_t)bytes);
        return 1;
    }
    }
}
