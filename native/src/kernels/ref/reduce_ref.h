/* Reference reductions (ReduceSum ... ReduceLogSumExp, ArgMax / ArgMin).
 *
 * A reduction is described by a plan: the input's dims with size-1 dims
 * dropped and neighbours of the same kind (reduced / kept) merged, e.g.
 * NHWC [1, H, W, C] over axes {1, 2} -> [H*W (reduced), C (kept)]. The
 * input is read once in memory order; every contiguous run of the innermost
 * merged dim either folds into one accumulator (inner dim reduced) or adds
 * elementwise into a row of accumulators (inner dim kept, vectorizes).
 *
 * Accuracy: float sums (Sum, Mean, L1, L2, SumSquare, LogSum, LogSumExp)
 * accumulate in double (LogSumExp: exp(x - max) with nrt_exp_f32 from
 * exp_ref.h, max found first): a reduced run keeps 4 double partial sums (element
 * i goes to lane i % 4, lanes added as (s0+s1)+(s2+s3)), and each run's
 * total is added to its accumulator in memory order. Prod accumulates in
 * double; Max / Min are exact (NaN propagates). Integer Sum / Prod wrap
 * around in 64 bits and are then narrowed, like numpy. */
#ifndef NRT_REDUCE_REF_H
#define NRT_REDUCE_REF_H

#include <stdbool.h>
#include <stdint.h>

#include "nanort.h"

typedef struct nrt_reduce_plan {
    int nd;                               /* merged dims, >= 1 */
    int64_t dims[NRT_MAX_RANK];
    int64_t in_stride[NRT_MAX_RANK];      /* elements */
    int64_t acc_stride[NRT_MAX_RANK];     /* 0 for reduced dims */
    bool reduced[NRT_MAX_RANK];
} nrt_reduce_plan;

/* What the float sum accumulates: x, |x|, x^2, or exp(x - shift[out]). */
typedef enum nrt_reduce_term { NRT_TERM_X, NRT_TERM_ABS, NRT_TERM_SQUARE, NRT_TERM_EXP } nrt_reduce_term;

/* acc[out] += term(x) over the plan (shift: per-output values, for EXP). */
void nrt_reduce_sum_f32_ref(const nrt_reduce_plan* p, const float* x, double* acc, nrt_reduce_term term,
                            const float* shift);
void nrt_reduce_prod_f32_ref(const nrt_reduce_plan* p, const float* x, double* acc);
/* acc[out] = max / min(acc[out], x) */
void nrt_reduce_minmax_f32_ref(const nrt_reduce_plan* p, const float* x, float* acc, bool is_max);

typedef enum nrt_reduce_int_op { NRT_RINT_SUM, NRT_RINT_PROD, NRT_RINT_MAX, NRT_RINT_MIN } nrt_reduce_int_op;
/* Integers (int8, uint8, bool, int16, int32, int64) into int64 accumulators. */
void nrt_reduce_int_ref(const nrt_reduce_plan* p, const void* x, nrt_dtype dtype, int64_t* acc,
                        nrt_reduce_int_op op);

/* ArgMax / ArgMin over the middle dim of [outer, n, inner], for outer
 * slices [o0, o1). Ties pick the first index, or the last with
 * select_last. Types: float32, int8, uint8, int16, int32, int64, bool. */
void nrt_argminmax_ref(const void* x, nrt_dtype dtype, int64_t* y, int64_t o0, int64_t o1, int64_t n,
                       int64_t inner, bool is_max, bool select_last);

#endif
