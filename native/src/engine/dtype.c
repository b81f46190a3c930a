#include "dtype.h"

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

const char* nrt_dtype_name(nrt_dtype dtype) {
    return (unsigned)dtype < NRT_DTYPE_COUNT ? nrt_dtype_table[dtype].name : "invalid";
}

size_t nrt_dtype_size(nrt_dtype dtype) {
    return (unsigned)dtype < NRT_DTYPE_COUNT ? (nrt_dtype_table[dtype].bits + 7u) / 8u : 0;
}
