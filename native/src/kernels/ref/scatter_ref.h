/* Reference kernels for the ops that address data by index tuples or by
 * per-element indices: ScatterElements, ScatterND, GatherND. The indices
 * reach them checked and normalized (nrt_gather_indices_ref,
 * nrt_index_tuples_ref), so nothing here reads or writes out of bounds. */
#ifndef NRT_SCATTER_REF_H
#define NRT_SCATTER_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* dst[i] = combine(dst[i], src[i]) for i < n (the reduction of a scatter). */
typedef void (*nrt_combine_fn)(void* dst, const void* src, size_t n);

/* Kinds of element a reduction is written for. */
typedef enum { NRT_COMBINE_F32, NRT_COMBINE_F64, NRT_COMBINE_I32, NRT_COMBINE_I64 } nrt_combine_type;

/* The combine for `reduction` (NRT_FB_ScatterReduction_ADD, MUL, MIN, MAX:
 * 1..4) on elements of `type`; NULL for anything else. Integer sums and
 * products wrap around. */
nrt_combine_fn nrt_scatter_combine_ref(int reduction, nrt_combine_type type);

/* Element offsets of index tuples: indices holds n tuples of k coordinates
 * into dims[0..k) (strides: the element stride of each of those dims);
 * out[t] = sum(coordinate * stride), negative coordinates counted from the
 * end. Returns -1, or the flat position in indices of the first coordinate
 * outside [-dim, dim) (out is then incomplete). */
int64_t nrt_index_tuples_ref(const void* indices, bool is_int64, size_t n, int k, const int64_t* dims,
                             const int64_t* strides, int64_t* out);

/* GatherND: out[u] (a slice of `slice_bytes`) = the slice at byte offset
 * offsets[u] * esize of data, for units u in [begin, end). */
void nrt_gather_slices_ref(const void* data, const int64_t* offsets, size_t esize, size_t slice_bytes, void* out,
                           size_t begin, size_t end);

/* ScatterND into out (already a copy of data): slice t of updates (`slice`
 * elements of esize bytes) lands at element offsets[t], in order, replacing
 * (combine NULL) or combined with what is there. */
void nrt_scatter_slices_ref(void* out, const int64_t* offsets, size_t n, const void* updates, size_t slice,
                            size_t esize, nrt_combine_fn combine);

/* ScatterElements into out (already a copy of data, dims data_dims) along
 * `axis`: updates[i] (dims upd_dims, of `rank`) lands where i does, with its
 * `axis` coordinate replaced by idx[i] (normalized), in order. */
void nrt_scatter_elements_ref(void* out, const int64_t* data_dims, const void* updates, const int64_t* idx,
                              const int64_t* upd_dims, int rank, int axis, size_t esize, nrt_combine_fn combine);

#endif
