/* Gather of int8 rows dequantized to float32: the embedding lookup of an int8
 * table (one scale and zero point per row, or one for the whole table).
 *   y[k, j] = (float)(table[idx[k], j] - z) * s     (s, z: row idx[k]'s, or the table's)
 * the Dequantize arithmetic of quant_ref.h (q - z exact in int32, one float
 * multiply), so a tied output projection can share the same int8 table. */
#ifndef NRT_GATHER_ROWS_REF_H
#define NRT_GATHER_ROWS_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct nrt_gather_rows_s8 {
    const int8_t* table;      /* [rows, row_len] */
    size_t row_len;
    const int64_t* idx;       /* normalized row indices, in [0, rows) */
    const float* scale;       /* per row (per_row) or one */
    const int64_t* zero;      /* like scale, or NULL (all 0) */
    bool per_row;
    float* y;                 /* [nidx, row_len] */
} nrt_gather_rows_s8;

/* Output rows [begin, end). */
void nrt_gather_rows_s8_f32_ref(const nrt_gather_rows_s8* g, size_t begin, size_t end);

/* Gather of group-wise int4 rows dequantized to float32: the embedding lookup
 * of a table stored as int4 FullyConnected weights (qd8_qb4w_ref.h: two per
 * byte, low nibble first, one scale per row and group of `group` columns), so
 * a tied output projection and its embedding share one int4 copy.
 *   y[k, j] = (float)table[idx[k], j] * scale[idx[k], j / group] */
typedef struct nrt_gather_rows_qb4w {
    const uint8_t* table;     /* int4 [rows, row_len], packed */
    size_t row_len, group;
    const int64_t* idx;       /* normalized row indices, in [0, rows) */
    const float* scale;       /* [rows, ceil(row_len / group)] */
    float* y;                 /* [nidx, row_len] */
} nrt_gather_rows_qb4w;

void nrt_gather_rows_qb4w_f32_ref(const nrt_gather_rows_qb4w* g, size_t begin, size_t end);

#endif
