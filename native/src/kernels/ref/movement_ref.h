/* Reference kernels for data movement. They move elements of any type by
 * their byte size (1, 2, 4 or 8 bytes): what they compute is independent of
 * the element type, so one kernel serves every dtype. */
#ifndef NRT_MOVEMENT_REF_H
#define NRT_MOVEMENT_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Enough for Tile, which views a rank-8 output as 16 dims (repeat, dim). */
#define NRT_STRIDED_MAX_RANK 16

/* A strided view copied into a contiguous output:
 *   out[i_0, ..., i_{n-1}] = in[offset + sum_d i_d * strides[d]]
 * Transpose (permuted strides), Slice (offset, steps, negative strides),
 * Expand (stride 0 on broadcast dims) and Tile (a (repeat, dim) pair per
 * axis, the repeat with stride 0) are all this copy.
 *
 * Fill dims / strides / offset / esize, then call nrt_strided_plan, which
 * drops unit dims, merges dims that are contiguous in both tensors and picks
 * the loop: whole runs with memcpy when the innermost dim is contiguous in
 * the input, a fill when it is broadcast, bands of a few output columns
 * swept along the input's contiguous dim when that dim moved (a transpose:
 * contiguous reads and writes of short runs), else an element loop. The
 * work is split into `units` over the thread pool (threads.h). */
typedef struct nrt_strided {
    int rank;
    size_t esize;                              /* 1, 2, 4 or 8 */
    int64_t dims[NRT_STRIDED_MAX_RANK];        /* output dims */
    int64_t strides[NRT_STRIDED_MAX_RANK];     /* input element strides, any sign */
    int64_t offset;                            /* input element offset of out[0, ..., 0] */
    /* set by nrt_strided_plan */
    int mode;
    int contig_dim;                            /* dim whose input stride is 1 (banded mode) */
    int64_t bands;                             /* bands along the last dim (banded mode) */
    size_t units;                              /* work units (0: nothing to copy) */
    size_t unit_bytes;                         /* approximate bytes per unit (parallel grain) */
} nrt_strided;

void nrt_strided_plan(nrt_strided* s);
void nrt_strided_copy_ref(const nrt_strided* s, const void* in, void* out, size_t unit_begin, size_t unit_end);
/* Whether a planned copy is a gather of rows of at most 4 elements (see
 * movement_short_rows.h), which nrt_strided_short_rows_ref (or an ISA's
 * version, nrt_strided_short_rows_for) copies. */
bool nrt_strided_short_rows(const nrt_strided* s);
void nrt_strided_short_rows_ref(const nrt_strided* s, const void* in, void* out, size_t unit_begin,
                                size_t unit_end);
typedef void (*nrt_strided_fn)(const nrt_strided* s, const void* in, void* out, size_t unit_begin, size_t unit_end);

/* How Concat brings an int8 input to the output's quantization
 * (requant.h): y = requantize((float)(x - zx) * m, zy), or a copy. */
typedef struct nrt_int8_rescale {
    bool copy;
    float m;
    int32_t zx, zy;
} nrt_int8_rescale;

/* Concat: for each of `outer` rows, the inputs' blocks one after another.
 * Split: the inverse. block_bytes[k] is input (output) k's bytes per row.
 * rescale: NULL (every block copied) or one entry per int8 input. */
void nrt_concat_ref(const void* const* ins, const size_t* block_bytes, int n, const nrt_int8_rescale* rescale,
                    void* out, size_t row_bytes, size_t row_begin, size_t row_end);
void nrt_split_ref(const void* in, size_t row_bytes, void* const* outs, const size_t* block_bytes, int n,
                   size_t row_begin, size_t row_end);

/* Normalizes Gather indices (int32 or int64; negative ones count from the
 * end) into [0, dim). Returns -1, or the position of the first index outside
 * [-dim, dim). */
int64_t nrt_gather_indices_ref(const void* indices, bool is_int64, size_t n, int64_t dim, int64_t* out);

/* Gather: out[o, k, :] = data[o, idx[k], :] for o < outer, k < nidx, rows of
 * `inner_bytes`; units are (o, k) pairs. */
void nrt_gather_ref(const void* data, const int64_t* idx, size_t nidx, int64_t dim, size_t inner_bytes, void* out,
                    size_t unit_begin, size_t unit_end);

/* GatherElements along `axis` for tensors of `rank`: out has the indices'
 * dims. Returns -1, or the position of the first out-of-range index (the
 * output is then incomplete). */
int64_t nrt_gather_elements_ref(const void* data, const int64_t* data_dims, const void* indices, bool is_int64,
                                const int64_t* out_dims, int rank, int axis, size_t esize, void* out);

/* Fills n elements of esize bytes with the element at `value`. */
void nrt_fill_ref(void* out, const void* value, size_t esize, size_t n);

/* Trilu on `batch` matrices of rows x cols: keeps elements with
 * j - i >= k (upper) or j - i <= k (lower), zeroes the rest. */
void nrt_trilu_ref(const void* in, void* out, size_t esize, size_t batch, int64_t rows, int64_t cols, int64_t k,
                   bool upper);

/* OneHot: out[o, d, i] = idx[o, i] == d (after adding depth to negative
 * indices) ? on : off, for o < outer, d < depth, i < inner. `idx` are the
 * indices already converted to int64. */
void nrt_onehot_ref(const int64_t* idx, size_t outer, size_t inner, int64_t depth, const void* off, const void* on,
                    size_t esize, void* out);

#endif
