#include "scan_ref.h"

/* CumSum and CumProd: one scan, parameterized by how two elements combine
 * (COMBINE) and what an exclusive scan starts from (IDENTITY). T: element
 * type, U: the type the arithmetic is done in (unsigned for integers, so
 * that overflow wraps instead of being undefined). Each outer slice walks the
 * axis one [inner] row at a time, so the inner loop runs over contiguous
 * memory and vectorizes. */
#define ADD(U, a, b) ((U)(a) + (U)(b))
#define MUL(U, a, b) ((U)(a) * (U)(b))
#define CUMULATE(NAME, T, U, COMBINE, IDENTITY)                                                       \
    void NAME(const T* x, T* y, size_t dim, size_t inner, bool exclusive, bool reverse, size_t begin, \
              size_t end) {                                                                           \
        for (size_t o = begin; o < end; o++) {                                                        \
            const T* xs = x + o * dim * inner;                                                        \
            T* ys = y + o * dim * inner;                                                              \
            for (size_t s = 0; s < dim; s++) {                                                        \
                size_t k = reverse ? dim - 1 - s : s, p = reverse ? k + 1 : k - 1; /* p: previous */  \
                T* yr = ys + k * inner;                                                               \
                if (s == 0) {                                                                         \
                    for (size_t i = 0; i < inner; i++) yr[i] = exclusive ? (T)(IDENTITY) : xs[k * inner + i]; \
                    continue;                                                                         \
                }                                                                                     \
                const T* yp = ys + p * inner;                                                         \
                const T* xr = xs + (exclusive ? p : k) * inner;                                       \
                for (size_t i = 0; i < inner; i++) yr[i] = (T)(U)COMBINE(U, yp[i], xr[i]);            \
            }                                                                                         \
        }                                                                                             \
    }

CUMULATE(nrt_cumsum_f32_ref, float, float, ADD, 0)
CUMULATE(nrt_cumsum_f64_ref, double, double, ADD, 0)
CUMULATE(nrt_cumsum_i32_ref, int32_t, uint32_t, ADD, 0)
CUMULATE(nrt_cumsum_i64_ref, int64_t, uint64_t, ADD, 0)
CUMULATE(nrt_cumprod_f32_ref, float, float, MUL, 1)
CUMULATE(nrt_cumprod_f64_ref, double, double, MUL, 1)
CUMULATE(nrt_cumprod_i32_ref, int32_t, uint32_t, MUL, 1)
CUMULATE(nrt_cumprod_i64_ref, int64_t, uint64_t, MUL, 1)

#define RANGE(NAME, T, U)                                              \
    void NAME(T start, T delta, T* y, size_t n) {                      \
        U v = (U)start;                                                \
        for (size_t i = 0; i < n; i++) {                               \
            y[i] = (T)v;                                               \
            v = (U)(v + (U)delta);                                     \
        }                                                              \
    }

RANGE(nrt_range_f32_ref, float, float)
RANGE(nrt_range_f64_ref, double, double)
RANGE(nrt_range_i16_ref, int16_t, uint16_t)
RANGE(nrt_range_i32_ref, int32_t, uint32_t)
RANGE(nrt_range_i64_ref, int64_t, uint64_t)
