/* Reference Pad for any element type. The op resolves each axis into an
 * index map (output index -> source index, or -1 for the constant); the
 * kernel walks output rows (every axis but the last) and copies the last
 * axis' interior as one run. */
#ifndef NRT_PAD_REF_H
#define NRT_PAD_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct nrt_pad_plan {
    int rank;                      /* >= 1 */
    size_t elem;                   /* bytes per element */
    const int64_t* in_dims;
    const int64_t* out_dims;
    const int64_t* const* map;     /* map[axis][out index] = source index or -1 */
    int64_t run_out, run_src, run_len; /* last axis: out[run_out + i] = in[run_src + i] */
    const uint8_t* value;          /* the constant, elem bytes */
    bool edges_constant;           /* last axis: every index outside the run maps to the constant
                                      (constant-mode padding): the edges are filled, not gathered */
} nrt_pad_plan;

/* Output rows [row_begin, row_end) of prod(out_dims[0 .. rank-2]). */
void nrt_pad_ref(const nrt_pad_plan* p, const uint8_t* x, uint8_t* y, int64_t row_begin, int64_t row_end);

#endif
