#include "select_ref.h"

#include <stdlib.h>
#include <string.h>

#include "../../engine/op.h"

double nrt_select_key(const void* x, nrt_dtype dtype, int64_t i) {
    switch (dtype) {
    case NRT_FLOAT32: return ((const float*)x)[i];
    case NRT_FLOAT64: return ((const double*)x)[i];
    case NRT_FLOAT16: return nrt_f16_to_f32(((const uint16_t*)x)[i]);
    case NRT_INT8: return ((const int8_t*)x)[i];
    case NRT_UINT8: return ((const uint8_t*)x)[i];
    case NRT_INT16: return ((const int16_t*)x)[i];
    case NRT_INT32: return ((const int32_t*)x)[i];
    case NRT_INT64: return (double)((const int64_t*)x)[i];
    case NRT_BOOL: return ((const uint8_t*)x)[i] != 0;
    default: return 0;
    }
}

/* Largest first; equal keys: lower index first. */
static int by_key_desc(const void* a, const void* b) {
    const nrt_ranked *x = a, *y = b;
    if (x->key != y->key) return x->key > y->key ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

static int by_key_asc(const void* a, const void* b) {
    const nrt_ranked *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

void nrt_topk_ref(const void* x, nrt_dtype dtype, size_t esize, int64_t outer, int64_t n, int64_t inner, int64_t k,
                  bool largest, void* values, int64_t* indices, nrt_ranked* work) {
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = o * n * inner + i;
            for (int64_t j = 0; j < n; j++) work[j] = (nrt_ranked){nrt_select_key(x, dtype, base + j * inner), j};
            qsort(work, (size_t)n, sizeof *work, largest ? by_key_desc : by_key_asc);
            for (int64_t j = 0; j < k; j++) {
                int64_t dst = o * k * inner + j * inner + i;
                memcpy((uint8_t*)values + (size_t)dst * esize,
                       (const uint8_t*)x + (size_t)(base + work[j].index * inner) * esize, esize);
                indices[dst] = work[j].index;
            }
        }
    }
}

/* Corners (x_min, y_min, x_max, y_max) of a box in either ONNX encoding. */
static void box_corners(const float* b, bool center_point_box, float* c) {
    if (center_point_box) {
        float hw = b[2] / 2, hh = b[3] / 2;
        c[0] = b[0] - hw, c[1] = b[1] - hh, c[2] = b[0] + hw, c[3] = b[1] + hh;
    } else { /* [y1, x1, y2, x2], either corner order */
        c[0] = b[1] < b[3] ? b[1] : b[3], c[2] = b[1] < b[3] ? b[3] : b[1];
        c[1] = b[0] < b[2] ? b[0] : b[2], c[3] = b[0] < b[2] ? b[2] : b[0];
    }
}

static bool suppresses(const float* a, const float* b, bool center_point_box, float iou_threshold) {
    float ca[4], cb[4];
    box_corners(a, center_point_box, ca);
    box_corners(b, center_point_box, cb);
    float ix0 = ca[0] > cb[0] ? ca[0] : cb[0], ix1 = ca[2] < cb[2] ? ca[2] : cb[2];
    float iy0 = ca[1] > cb[1] ? ca[1] : cb[1], iy1 = ca[3] < cb[3] ? ca[3] : cb[3];
    if (ix1 <= ix0 || iy1 <= iy0) return false;
    float inter = (ix1 - ix0) * (iy1 - iy0);
    float area_a = (ca[2] - ca[0]) * (ca[3] - ca[1]), area_b = (cb[2] - cb[0]) * (cb[3] - cb[1]);
    float uni = area_a + area_b - inter;
    if (inter <= 0 || area_a <= 0 || area_b <= 0 || uni <= 0) return false;
    return inter / uni > iou_threshold;
}

int64_t nrt_nms_ref(const float* boxes, const float* scores, int64_t n, bool center_point_box, int64_t max_out,
                    float iou_threshold, bool has_score_threshold, float score_threshold, nrt_ranked* work,
                    int64_t* selected) {
    int64_t candidates = 0, count = 0;
    for (int64_t j = 0; j < n; j++)
        if (!has_score_threshold || scores[j] > score_threshold) work[candidates++] = (nrt_ranked){scores[j], j};
    qsort(work, (size_t)candidates, sizeof *work, by_key_desc);
    for (int64_t c = 0; c < candidates && count < max_out; c++) {
        const float* box = boxes + 4 * work[c].index;
        bool keep = true;
        for (int64_t s = 0; keep && s < count; s++)
            keep = !suppresses(box, boxes + 4 * selected[s], center_point_box, iou_threshold);
        if (keep) selected[count++] = work[c].index;
    }
    return count;
}

static bool is_nonzero(const void* x, nrt_dtype dtype, int64_t i) {
    switch (dtype) {
    case NRT_FLOAT32: return ((const float*)x)[i] != 0.0f;
    case NRT_FLOAT64: return ((const double*)x)[i] != 0.0;
    case NRT_FLOAT16: return (((const uint16_t*)x)[i] & 0x7fff) != 0;
    case NRT_INT16: return ((const int16_t*)x)[i] != 0;
    case NRT_INT32: return ((const int32_t*)x)[i] != 0;
    case NRT_INT64: return ((const int64_t*)x)[i] != 0;
    default: return ((const uint8_t*)x)[i] != 0; /* int8, uint8, bool */
    }
}

int64_t nrt_nonzero_ref(const void* x, nrt_dtype dtype, int rank, const int64_t* dims, int64_t count, int64_t* out) {
    int64_t numel = 1, found = 0, coord[NRT_MAX_RANK] = {0};
    for (int d = 0; d < rank; d++) numel *= dims[d];
    for (int64_t i = 0; i < numel; i++) {
        if (is_nonzero(x, dtype, i)) {
            for (int d = 0; out && d < rank; d++) out[d * count + found] = coord[d];
            found++;
        }
        for (int d = rank - 1; d >= 0 && ++coord[d] == dims[d]; d--) coord[d] = 0; /* next coordinate */
    }
    return found;
}
