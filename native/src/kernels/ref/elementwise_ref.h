/* Reference kernels for Where, Clip and Cast.
 *
 * Cast semantics (ONNX leaves float -> integer out of range undefined; nanort
 * defines it so no input can reach C undefined behaviour):
 *  - float -> integer: truncate toward zero, saturate to the target range,
 *    NaN -> 0 (e.g. 1e10f -> int32 gives 2147483647, -1.5f -> uint8 gives 0);
 *  - integer -> narrower integer: wrap around (keep the low bits), as numpy does;
 *  - anything -> bool: value != 0 (NaN -> true); bool -> anything: 0 or 1;
 *  - float32 -> float16: round to nearest even, overflow -> inf;
 *    float64 -> float16 rounds through float32 (as onnxruntime does);
 *  - int64 -> float32/float16: nearest float32 (then float16).
 */
#ifndef NRT_ELEMENTWISE_REF_H
#define NRT_ELEMENTWISE_REF_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nanort.h"

/* d truncated toward zero and clamped to [lo, hi]; NaN -> 0. lo and hi are
 * integer type limits (lo a power of two or 0, so (double)lo is exact; (double)hi
 * may round up to a power of two, where d >= it saturates correctly). */
static inline int64_t nrt_f64_to_int_sat(double d, int64_t lo, int64_t hi) {
    if (isnan(d)) return 0;
    if (d <= (double)lo) return lo;
    if (d >= (double)hi) return hi;
    return (int64_t)d;
}

/* Where: out[i] = c[i*sc] ? x[i*sx] : y[i*sy], for elements of `elem_size`
 * bytes (1, 2, 4 or 8); strides are 0 (broadcast) or 1. */
void nrt_where_ref(size_t elem_size, const uint8_t* c, const void* x, const void* y, void* out, size_t n, int sc,
                   int sx, int sy);

/* Clip bounds: float types use flo/fhi, integer types ilo/ihi (within the
 * type's range). y = min(max(x, lo), hi): NaN stays NaN; lo > hi gives hi. */
typedef struct nrt_clip_bounds {
    double flo, fhi;
    int64_t ilo, ihi;
} nrt_clip_bounds;

bool nrt_clip_supported(nrt_dtype t);
void nrt_clip_ref(nrt_dtype t, const nrt_clip_bounds* b, const void* x, void* y, size_t n);

/* Cast between float32/16/64, int8/16/32/64, uint8 and bool. */
bool nrt_cast_supported(nrt_dtype from, nrt_dtype to);
void nrt_cast_ref(nrt_dtype from, const void* x, nrt_dtype to, void* y, size_t n);

#endif
