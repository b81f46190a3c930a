/* Where a depthwise microkernel reads its input taps (dwconv.h), shared by
 * the kernels of every ISA and element type: `run` gets one pointer per
 * (pixel, tap), `row` one per kernel row at fixed strides. */
#ifndef NRT_DWCONV_SRC_H
#define NRT_DWCONV_SRC_H

#include <stddef.h>
#include <stdint.h>

/* The taps of pixel p0 + p: ind != NULL: tap t at ind[(p0 + p) * taps + t],
 * seen as kh = taps kernel rows of kw = 1 column; else kernel row r's column
 * kx at rows[r] + (p0 + p) * xs + kx * ts (in elements). */
typedef struct nrt_dw_src {
    const void* const* ind;
    const void* const* rows;
    size_t taps, kh, kw, xs, ts, p0;
} nrt_dw_src;

static inline nrt_dw_src nrt_dw_src_taps(const void* const* ind, size_t taps) {
    return (nrt_dw_src){ind, NULL, taps, taps, 1, 0, 0, 0};
}

static inline nrt_dw_src nrt_dw_src_rows(const void* const* rows, size_t kh, size_t kw, size_t xs, size_t ts) {
    return (nrt_dw_src){NULL, rows, kh * kw, kh, kw, xs, ts, 0};
}

/* Pixel p's pointer at column 0 of kernel row r, for elements of es bytes.
 * (Plain C: it inlines into any ISA's target-specific kernels.) */
__attribute__((always_inline)) static inline const void* nrt_dw_row(const nrt_dw_src* s, size_t p, size_t r,
                                                                    size_t es) {
    p += s->p0;
    return s->ind ? s->ind[p * s->taps + r] : (const uint8_t*)s->rows[r] + p * s->xs * es;
}

#endif
