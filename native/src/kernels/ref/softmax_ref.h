/* Reference Softmax / LogSoftmax / Hardmax over one axis of a tensor viewed
 * as [outer, n, inner] (float32).
 *
 * Numerics: the row maximum is subtracted before exp (stable for any
 * magnitude); exp is nrt_exp_f32 (exp_ref.h); the sum of the exponentials
 * is accumulated in double (a row: 4 lanes, element i in lane i % 4, added
 * (l0 + l1) + (l2 + l3); strided columns: in increasing row order).
 * Softmax multiplies each exp by (float)(1 / sum);
 * LogSoftmax gives (x - max) - log(sum). Hardmax marks the first maximum. */
#ifndef NRT_SOFTMAX_REF_H
#define NRT_SOFTMAX_REF_H

#include <stdint.h>

typedef enum nrt_softmax_kind { NRT_SOFTMAX = 0, NRT_LOG_SOFTMAX = 1, NRT_HARDMAX = 2 } nrt_softmax_kind;

/* Slices [o0, o1) of the outer dimension; `inner` columns are handled in
 * blocks so the inner loops stay contiguous. */
void nrt_softmax_f32_ref(nrt_softmax_kind kind, const float* x, float* y, int64_t o0, int64_t o1, int64_t n,
                         int64_t inner);

#endif
