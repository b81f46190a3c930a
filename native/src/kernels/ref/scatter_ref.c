#include "scatter_ref.h"

#include "movement_ref.h"

#include <string.h>

/* One combine per (reduction, type): U is the type the arithmetic is done in
 * (unsigned for integer sums and products, so that overflow wraps). */
#define COMBINE(NAME, T, U, EXPR)                                   \
    static void NAME(void* dst, const void* src, size_t n) {       \
        T* d = dst;                                                 \
        const T* s = src;                                           \
        for (size_t i = 0; i < n; i++) {                            \
            T a = d[i], b = s[i];                                   \
            d[i] = (T)(EXPR);                                       \
        }                                                           \
    }
#define COMBINE_ALL(SUFFIX, T, U)                                        \
    COMBINE(add_##SUFFIX, T, U, (U)((U)a + (U)b))                        \
    COMBINE(mul_##SUFFIX, T, U, (U)((U)a * (U)b))                        \
    COMBINE(min_##SUFFIX, T, U, b < a ? b : a)                           \
    COMBINE(max_##SUFFIX, T, U, b > a ? b : a)

COMBINE_ALL(f32, float, float)
COMBINE_ALL(f64, double, double)
COMBINE_ALL(i32, int32_t, uint32_t)
COMBINE_ALL(i64, int64_t, uint64_t)

nrt_combine_fn nrt_scatter_combine_ref(int reduction, nrt_combine_type type) {
    static const nrt_combine_fn table[4][4] = {
        [NRT_COMBINE_F32] = {add_f32, mul_f32, min_f32, max_f32},
        [NRT_COMBINE_F64] = {add_f64, mul_f64, min_f64, max_f64},
        [NRT_COMBINE_I32] = {add_i32, mul_i32, min_i32, max_i32},
        [NRT_COMBINE_I64] = {add_i64, mul_i64, min_i64, max_i64},
    };
    if (reduction < 1 || reduction > 4 || (unsigned)type > NRT_COMBINE_I64) return NULL;
    return table[type][reduction - 1];
}

int64_t nrt_index_tuples_ref(const void* indices, bool is_int64, size_t n, int k, const int64_t* dims,
                             const int64_t* strides, int64_t* out) {
    for (size_t t = 0; t < n; t++) {
        int64_t offset = 0;
        for (int c = 0; c < k; c++) {
            size_t pos = t * (size_t)k + (size_t)c;
            int64_t v = is_int64 ? ((const int64_t*)indices)[pos] : ((const int32_t*)indices)[pos];
            if (v < -dims[c] || v >= dims[c]) return (int64_t)pos;
            offset += (v < 0 ? v + dims[c] : v) * strides[c];
        }
        out[t] = offset;
    }
    return -1;
}

void nrt_gather_slices_ref(const void* data, const int64_t* offsets, size_t esize, size_t slice_bytes, void* out,
                           size_t begin, size_t end) {
    for (size_t u = begin; u < end; u++)
        memcpy((uint8_t*)out + u * slice_bytes, (const uint8_t*)data + (size_t)offsets[u] * esize, slice_bytes);
}

void nrt_scatter_slices_ref(void* out, const int64_t* offsets, size_t n, const void* updates, size_t slice,
                            size_t esize, nrt_combine_fn combine) {
    for (size_t t = 0; t < n; t++) {
        uint8_t* dst = (uint8_t*)out + (size_t)offsets[t] * esize;
        const uint8_t* src = (const uint8_t*)updates + t * slice * esize;
        if (combine) combine(dst, src, slice);
        else memcpy(dst, src, slice * esize);
    }
}

void nrt_scatter_elements_ref(void* out, const int64_t* data_dims, const void* updates, const int64_t* idx,
                              const int64_t* upd_dims, int rank, int axis, size_t esize, nrt_combine_fn combine) {
    int64_t stride[NRT_STRIDED_MAX_RANK], pos[NRT_STRIDED_MAX_RANK] = {0}, n = 1;
    int64_t base = 0; /* the out offset of pos, without the axis term */
    stride[rank - 1] = 1;
    for (int d = rank - 2; d >= 0; d--) stride[d] = stride[d + 1] * data_dims[d + 1];
    for (int d = 0; d < rank; d++) n *= upd_dims[d];
    for (int64_t i = 0; i < n; i++) {
        uint8_t* dst = (uint8_t*)out + (size_t)(base + idx[i] * stride[axis]) * esize;
        const uint8_t* src = (const uint8_t*)updates + (size_t)i * esize;
        if (combine) combine(dst, src, 1);
        else memcpy(dst, src, esize);
        for (int d = rank - 1; d >= 0; d--) {
            if (d != axis) base += stride[d];
            if (++pos[d] < upd_dims[d]) break;
            if (d != axis) base -= stride[d] * upd_dims[d];
            pos[d] = 0;
        }
    }
}
