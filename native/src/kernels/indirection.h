/* Indirection for the conv driver (conv.h), for every element type: one
 * pointer per (output pixel, tap) into the input, or at the padding buffer,
 * built over byte pointers and an element size (XNNPACK's indirection.c
 * serves every type the same way). */
#ifndef NRT_INDIRECTION_H
#define NRT_INDIRECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ref/conv_ref.h"

#define NRT_CONV_MAX_TAPS 128

/* What the pointers are built from, once per run. */
typedef struct nrt_indirection {
    const nrt_conv2d_geom* g;
    const uint8_t* x;   /* the input, NHWC */
    const uint8_t* pad; /* >= C_in elements of the padding's value */
    size_t es;          /* bytes per element */
    ptrdiff_t tap_offset[NRT_CONV_MAX_TAPS]; /* tap t's bytes from its window's corner pixel */
} nrt_indirection;

/* A Conv's geometry (not a ConvTranspose's: its taps are not windows). */
void nrt_indirection_init(nrt_indirection* s, const nrt_conv2d_geom* g, const void* x, const void* pad, size_t es);

/* Kernel taps [*k0, *k1) of a window starting at `start` (dilation d) that
 * lie inside [0, n). */
void nrt_window_inside(int64_t start, int64_t kernel, int64_t d, int64_t n, int64_t* k0, int64_t* k1);

/* GEMM: tap pointers of output pixels [m0, m0 + mr) for group grp,
 * ind[t * MR + r]; rows past mr repeat the last one. */
void nrt_indirection_gemm(const nrt_indirection* s, size_t MR, size_t m0, size_t mr, size_t grp, const void** ind);

/* Merged rows (ungrouped, undilated columns): one pointer per (pixel, kernel
 * row) at the kw x C_in elements under it, ind[ky * MR + r]; rows crossing
 * the left / right edge or in the padding get a copy in `edge` (MR x kh x
 * kw x C_in elements) with the padding's value filled in. Returns the
 * elements the GEMM may read per pointer: kw x C_in, or that rounded up to
 * whole K blocks of kr when every pointer is into the input and the
 * elements past the run (the next pixel's, met by the panel's zero weights)
 * are still inside it: no K remainder per kernel row. */
size_t nrt_indirection_rows(const nrt_indirection* s, size_t MR, size_t kr, size_t m0, size_t mr, const void** ind,
                            uint8_t* edge);

/* Depthwise: tap pointers of output pixels [ox0, ox0 + np) of output row
 * `row` (of N x OH) over kernel rows [ky0, ky1), ind[p * taps + t]; `all_rows`
 * when those are all kh rows (then pixels inside the input take the fixed
 * tap offsets). */
void nrt_indirection_dw(const nrt_indirection* s, size_t row, int64_t ky0, int64_t ky1, bool all_rows, int64_t ox0,
                        int64_t np, const void** ind);

/* Output columns [*ox0, *ox1) whose taps all lie inside the input's columns. */
void nrt_interior_columns(const nrt_conv2d_geom* g, int64_t* ox0, int64_t* ox1);

#endif
