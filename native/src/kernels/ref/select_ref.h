/* Reference kernels for selection: TopK, NonMaxSuppression, NonZero.
 * Keys are read as doubles (exact for every float type and for integers up
 * to 2^53); ties keep the lower index first, as ONNX specifies. */
#ifndef NRT_SELECT_REF_H
#define NRT_SELECT_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nanort.h"

typedef struct nrt_ranked {
    double key;
    int64_t index;
} nrt_ranked;

/* Element i of x (of type dtype) as a double; f16 included. */
double nrt_select_key(const void* x, nrt_dtype dtype, int64_t i);

/* TopK along the middle axis of x viewed as [outer, n, inner]: the k largest
 * (or smallest) of each line, sorted, with their indices. `work` holds n entries. */
void nrt_topk_ref(const void* x, nrt_dtype dtype, size_t esize, int64_t outer, int64_t n, int64_t inner, int64_t k,
                  bool largest, void* values, int64_t* indices, nrt_ranked* work);

/* NonMaxSuppression of one batch and class: boxes [n, 4], scores [n]; writes
 * the selected box indices (at most max_out) to `selected`, returns their count.
 * `work` holds n entries. */
int64_t nrt_nms_ref(const float* boxes, const float* scores, int64_t n, bool center_point_box, int64_t max_out,
                    float iou_threshold, bool has_score_threshold, float score_threshold, nrt_ranked* work,
                    int64_t* selected);

/* NonZero: how many elements are nonzero; with `out` ([rank, count]), their
 * coordinates in row-major order. */
int64_t nrt_nonzero_ref(const void* x, nrt_dtype dtype, int rank, const int64_t* dims, int64_t count, int64_t* out);

#endif
