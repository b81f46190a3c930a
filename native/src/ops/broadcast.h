/* Numpy-style (multidirectional) broadcasting, shared by the binary ops and
 * Where: the output shape, and an iteration plan that merges dimensions so
 * the inner loops run over the longest possible contiguous stretches.
 *
 * The plan drops output dims of size 1 and merges neighbouring dims that every
 * input walks the same way (all contiguous across them, or all broadcast), so
 * a same-shape op becomes one run, "x + per-channel bias" two dims, and a
 * scalar operand a stride-0 input. The innermost merged dim has input strides
 * of 0 or 1: kernels see contiguous runs with some operands held constant. */
#ifndef NRT_BROADCAST_H
#define NRT_BROADCAST_H

#include "../engine/op.h"

#define NRT_BCAST_MAX_IN 3

typedef struct nrt_bcast {
    int num_in;
    int rank;                                        /* merged rank, >= 1 */
    int64_t dims[NRT_MAX_RANK];                      /* merged output dims, innermost last */
    int64_t strides[NRT_BCAST_MAX_IN][NRT_MAX_RANK]; /* element strides per input; 0 = broadcast */
    int64_t total;                                   /* output elements */
} nrt_bcast;

/* Broadcast shape of n (<= NRT_BCAST_MAX_IN) tensors; NRT_ERR_SHAPE names the
 * two tensors whose dims conflict. */
nrt_status nrt_bcast_shape(nrt_ctx* ctx, int n, const nrt_tensor* const* in, int* rank, int64_t* dims);

/* Plan for broadcasting `in` to the output shape (which must be their broadcast shape). */
void nrt_bcast_plan(nrt_bcast* b, int n, const nrt_tensor* const* in, int rank, const int64_t* dims);

/* Stride (0 or 1) of input i along the innermost merged dim. */
static inline int nrt_bcast_inner_stride(const nrt_bcast* b, int i) {
    return b->strides[i][b->rank - 1] != 0;
}

/* Called for each run of `count` consecutive output elements along the
 * innermost dim, starting at output element `out`; in_off[i] is input i's
 * element offset at the run's start. */
typedef void (*nrt_bcast_fn)(void* arg, const int64_t* in_off, int64_t out, int64_t count);

/* Visits output elements [begin, end) in order, as runs (any split of
 * [0, total) works, so parallel chunks may start mid-row). */
void nrt_bcast_visit(const nrt_bcast* b, int64_t begin, int64_t end, nrt_bcast_fn fn, void* arg);

/* Called for `rows` (>= 2) whole consecutive rows of the innermost dim,
 * starting at output element `out` (a row start); in_off as above for the
 * first row; input i advances by strides[i][rank - 2] per row. */
typedef void (*nrt_bcast_rows_fn)(void* arg, const int64_t* in_off, int64_t out, int64_t rows);

/* Like nrt_bcast_visit, but hands whole rows to rows_fn in groups of up to
 * max_rows (for short innermost dims, where a call per row costs more than the
 * row's work); partial rows still go to fn. */
void nrt_bcast_visit_rows(const nrt_bcast* b, int64_t begin, int64_t end, int64_t max_rows, nrt_bcast_fn fn,
                          nrt_bcast_rows_fn rows_fn, void* arg);

#endif
