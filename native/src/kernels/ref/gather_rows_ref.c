/* Reference kernel of the dequantizing int8 row gather (gather_rows_ref.h). */
#include "gather_rows_ref.h"

#include "qd8_qb4w_ref.h"

void nrt_gather_rows_s8_f32_ref(const nrt_gather_rows_s8* g, size_t begin, size_t end) {
    for (size_t k = begin; k < end; k++) {
        size_t r = (size_t)g->idx[k], q = g->per_row ? r : 0;
        float s = g->scale[q];
        int32_t z = g->zero ? (int32_t)g->zero[q] : 0;
        const int8_t* src = g->table + r * g->row_len;
        float* dst = g->y + k * g->row_len;
        for (size_t j = 0; j < g->row_len; j++) dst[j] = (float)((int32_t)src[j] - z) * s;
    }
}

void nrt_gather_rows_qb4w_f32_ref(const nrt_gather_rows_qb4w* g, size_t begin, size_t end) {
    size_t groups = (g->row_len + g->group - 1) / g->group;
    for (size_t k = begin; k < end; k++) {
        size_t r = (size_t)g->idx[k];
        const float* s = g->scale + r * groups;
        float* dst = g->y + k * g->row_len;
        for (size_t j = 0; j < g->row_len; j++)
            dst[j] = (float)nrt_int4_at(g->table, (int64_t)(r * g->row_len + j)) * s[j / g->group];
    }
}
