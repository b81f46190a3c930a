/* Where an int8 depthwise kernel reads its input taps, shared by the AVX2 and
 * AVX-512 VNNI depthwise kernels (the two ISAs differ only in tile width). */
#ifndef NRT_QS8_DWCONV_SRC_H
#define NRT_QS8_DWCONV_SRC_H

#include <stddef.h>
#include <stdint.h>

/* Where the taps of pixel p0 + p are: ind != NULL: tap t at
 * ind[(p0 + p) * taps + t], seen as kh = taps kernel rows of kw = 1 column;
 * else kernel row r's column kx at rows[r] + (p0 + p) * xs + kx * ts. */
typedef struct dw_src {
    const int8_t* const* ind;
    const int8_t* const* rows;
    size_t taps, kh, kw, xs, ts, p0;
} dw_src;

/* Pixel p's pointer at column 0 of kernel row r. (Plain C: it inlines into
 * either ISA's target-specific kernels.) */
__attribute__((always_inline)) static inline const int8_t* row_ptr(const dw_src* s, size_t p, size_t r) {
    p += s->p0;
    return s->ind ? s->ind[p * s->taps + r] : s->rows[r] + p * s->xs;
}

#endif
