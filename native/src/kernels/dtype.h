/* Element types: one traits table instead of switches everywhere. */
#ifndef NRT_DTYPE_H
#define NRT_DTYPE_H

#include <stdbool.h>
#include <stdint.h>

#include "nanort.h"

#define NRT_DTYPE_COUNT 10

typedef struct nrt_dtype_traits {
    const char* name;
    uint8_t bits;         /* storage bits per element */
    bool is_float;
    bool is_signed;
    int64_t min, max;     /* integer range (0/0 for floats) */
} nrt_dtype_traits;

extern const nrt_dtype_traits nrt_dtype_table[NRT_DTYPE_COUNT];

/* Bytes for n elements (int4: two per byte), false on overflow. */
bool nrt_dtype_bytes(nrt_dtype dtype, int64_t n, uint64_t* bytes);
void nrt_dtype_range(nrt_dtype dtype, int64_t* lo, int64_t* hi);
/* Whether the element at p is finite (integer and bool elements always are). */
bool nrt_is_finite(const void* p, nrt_dtype dtype);

static inline bool nrt_mul_overflow_ok(int64_t a, int64_t b, int64_t* out) {
    return !__builtin_mul_overflow(a, b, out);
}

#endif
