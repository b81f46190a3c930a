/* The short-rows gather of nrt_strided_copy_ref as a template: a 2-D element
 * copy whose output rows hold at most 4 elements (an NCHW -> NHWC image
 * input: rows of 3 channels) would spend most of its time in the generic
 * loop's per-row bookkeeping; here a row is a fixed-length copy and the next
 * row's input is one stride further. movement_ref.c instantiates it for the
 * reference; kernels/x86/xx_short_rows_avx2.c compiles the same loops for
 * AVX2, where GCC vectorizes the interleave (baseline x86-64 has no byte
 * shuffle for it: 5x slower on a 3 x 48 x 192 int8 image). Any level copies
 * the same elements. */
#ifndef NRT_MOVEMENT_SHORT_ROWS_H
#define NRT_MOVEMENT_SHORT_ROWS_H

#include "movement_ref.h"

/* ATTR: function attributes (a target); T: the element type (by size). */
#define NRT_SHORT_ROWS(ATTR, NAME, T)                                                                  \
    ATTR static void NAME(const nrt_strided* s, const T* in, T* out, size_t begin, size_t end) {       \
        int64_t len = s->dims[1], step = s->strides[1], s0 = s->strides[0];                            \
        const T* src = in + s->offset + (int64_t)begin * s0;                                           \
        T* dst = out + begin * (size_t)len;                                                            \
        size_t n = end - begin;                                                                        \
        switch (len) {                                                                                 \
        case 1:                                                                                        \
            for (size_t r = 0; r < n; r++) dst[r] = src[(int64_t)r * s0];                              \
            return;                                                                                    \
        case 2:                                                                                        \
            for (size_t r = 0; r < n; r++) {                                                           \
                const T* p = src + (int64_t)r * s0;                                                    \
                dst[2 * r] = p[0];                                                                     \
                dst[2 * r + 1] = p[step];                                                              \
            }                                                                                          \
            return;                                                                                    \
        case 3:                                                                                        \
            for (size_t r = 0; r < n; r++) {                                                           \
                const T* p = src + (int64_t)r * s0;                                                    \
                dst[3 * r] = p[0];                                                                     \
                dst[3 * r + 1] = p[step];                                                              \
                dst[3 * r + 2] = p[2 * step];                                                          \
            }                                                                                          \
            return;                                                                                    \
        default:                                                                                       \
            for (size_t r = 0; r < n; r++, dst += len)                                                 \
                for (int64_t j = 0; j < len; j++) dst[j] = src[(int64_t)r * s0 + j * step];            \
        }                                                                                              \
    }

/* The entry point over the element sizes: NAME(s, in, out, begin, end). */
#define NRT_SHORT_ROWS_ENTRY(ATTR, NAME)                                                               \
    NRT_SHORT_ROWS(ATTR, NAME##_1, uint8_t)                                                            \
    NRT_SHORT_ROWS(ATTR, NAME##_2, uint16_t)                                                           \
    NRT_SHORT_ROWS(ATTR, NAME##_4, uint32_t)                                                           \
    NRT_SHORT_ROWS(ATTR, NAME##_8, uint64_t)                                                           \
    ATTR void NAME(const nrt_strided* s, const void* in, void* out, size_t begin, size_t end) {        \
        switch (s->esize) {                                                                            \
        case 1: NAME##_1(s, in, out, begin, end); return;                                              \
        case 2: NAME##_2(s, in, out, begin, end); return;                                              \
        case 4: NAME##_4(s, in, out, begin, end); return;                                              \
        default: NAME##_8(s, in, out, begin, end); return;                                             \
        }                                                                                              \
    }

#endif
