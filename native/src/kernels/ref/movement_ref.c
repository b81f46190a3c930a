#include "movement_ref.h"

#include <string.h>

#include "../requant.h"
#include "movement_short_rows.h"

enum { MODE_NONE, MODE_RUN, MODE_FILL, MODE_BANDED, MODE_ELEMENT };

/* The transposing loop copies bands of BAND output columns (input rows):
 * it sweeps the input's contiguous dim reading BAND rows side by side, which
 * the prefetcher follows, and writes BAND contiguous elements per output
 * row. 8 rows stay clear of L1 set conflicts even when the row stride is a
 * multiple of 4 KiB (measured on 2-D float32 transposes: 16 rows were 3x
 * slower with such a stride; 8 rows stayed within 40% of the best band size
 * on every shape tried). */
#define BAND 8

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

void nrt_strided_plan(nrt_strided* s) {
    int n = 0;
    s->mode = MODE_NONE;
    s->units = 0;
    /* Empty output: nothing to copy. Checked before merging dims: the other
     * dims' product is bounded by the output size only when none is 0. */
    for (int d = 0; d < s->rank; d++)
        if (s->dims[d] == 0) return;
    for (int d = 0; d < s->rank; d++) {
        if (s->dims[d] == 1) continue; /* its stride never moves the offset */
        /* Merge into the previous dim when the two walk the input as one. */
        int64_t span;
        if (n > 0 && !__builtin_mul_overflow(s->strides[d], s->dims[d], &span) && s->strides[n - 1] == span) {
            s->dims[n - 1] *= s->dims[d];
            s->strides[n - 1] = s->strides[d];
            continue;
        }
        s->dims[n] = s->dims[d];
        s->strides[n] = s->strides[d];
        n++;
    }
    if (n == 0) { /* a single element */
        s->dims[0] = 1;
        s->strides[0] = 1;
        n = 1;
    }
    s->rank = n;
    int last = n - 1;
    int64_t len = s->dims[last], rows = 1;
    for (int d = 0; d < last; d++) rows *= s->dims[d];
    s->units = (size_t)rows;
    s->unit_bytes = (size_t)len * s->esize;
    if (s->strides[last] == 1) {
        s->mode = MODE_RUN;
    } else if (s->strides[last] == 0) {
        s->mode = MODE_FILL;
    } else {
        s->mode = MODE_ELEMENT;
        s->contig_dim = -1;
        for (int d = 0; d < last; d++)
            if (s->strides[d] == 1 && s->dims[d] >= 4 && len >= 4) s->contig_dim = d;
        if (s->contig_dim >= 0) {
            int b = s->contig_dim;
            s->mode = MODE_BANDED;
            s->bands = ceil_div(len, BAND);
            s->units = (size_t)(rows / s->dims[b] * s->bands);
            s->unit_bytes = (size_t)s->dims[b] * BAND * s->esize;
        }
    }
}

NRT_SHORT_ROWS_ENTRY(, nrt_strided_short_rows_ref)

bool nrt_strided_short_rows(const nrt_strided* s) {
    return s->rank == 2 && s->mode == MODE_ELEMENT && s->dims[1] <= 4;
}

/* Input offset of row `row` (the output's dims except the last), and the
 * per-dim counters to continue from it. */
static int64_t row_start(const nrt_strided* s, size_t row, int64_t* idx) {
    int64_t off = s->offset;
    for (int d = s->rank - 2; d >= 0; d--) {
        idx[d] = (int64_t)(row % (size_t)s->dims[d]);
        row /= (size_t)s->dims[d];
        off += idx[d] * s->strides[d];
    }
    return off;
}

static int64_t next_row(const nrt_strided* s, int64_t* idx, int64_t off) {
    for (int d = s->rank - 2; d >= 0; d--) {
        off += s->strides[d];
        if (++idx[d] < s->dims[d]) break;
        off -= s->strides[d] * s->dims[d];
        idx[d] = 0;
    }
    return off;
}

/* Per element size: the element loop, the fill and one band (short rows:
 * movement_short_rows.h). */
#define STRIDED_TYPED(T)                                                                                 \
    static void rows_##T(const nrt_strided* s, const T* in, T* out, size_t begin, size_t end) {          \
        int64_t idx[NRT_STRIDED_MAX_RANK], len = s->dims[s->rank - 1], step = s->strides[s->rank - 1];   \
        if (nrt_strided_short_rows(s)) {                                                                 \
            nrt_strided_short_rows_ref(s, in, out, begin, end);                                          \
            return;                                                                                      \
        }                                                                                                \
        int64_t off = row_start(s, begin, idx);                                                          \
        for (size_t r = begin; r < end; r++) {                                                           \
            T* dst = out + r * (size_t)len;                                                              \
            const T* src = in + off;                                                                     \
            if (s->mode == MODE_FILL) {                                                                  \
                T v = *src;                                                                              \
                for (int64_t j = 0; j < len; j++) dst[j] = v;                                            \
            } else {                                                                                     \
                for (int64_t j = 0; j < len; j++) dst[j] = src[j * step];                                \
            }                                                                                            \
            off = next_row(s, idx, off);                                                                 \
        }                                                                                                \
    }                                                                                                    \
    static void band_##T(const T* in, int64_t step, T* out, int64_t ostride, int64_t n, int64_t jn) {   \
        for (int64_t i = 0; i < n; i++)                                                                  \
            for (int64_t j = 0; j < jn; j++) out[i * ostride + j] = in[i + j * step];                    \
    }

STRIDED_TYPED(uint8_t)
STRIDED_TYPED(uint16_t)
STRIDED_TYPED(uint32_t)
STRIDED_TYPED(uint64_t)

static void run_rows(const nrt_strided* s, const uint8_t* in, uint8_t* out, size_t begin, size_t end) {
    int64_t idx[NRT_STRIDED_MAX_RANK];
    int64_t off = row_start(s, begin, idx);
    size_t bytes = s->unit_bytes;
    for (size_t r = begin; r < end; r++) {
        memcpy(out + r * bytes, in + (size_t)off * s->esize, bytes);
        off = next_row(s, idx, off);
    }
}

/* Banded mode: unit = (position in the dims other than contig_dim and the
 * last, band of BAND indices along the last dim). */
static void banded_units(const nrt_strided* s, const uint8_t* in, uint8_t* out, size_t begin, size_t end) {
    int b = s->contig_dim, last = s->rank - 1;
    int64_t ostride[NRT_STRIDED_MAX_RANK], len = s->dims[last], step = s->strides[last], n = s->dims[b];
    ostride[last] = 1;
    for (int d = last - 1; d >= 0; d--) ostride[d] = ostride[d + 1] * s->dims[d + 1];
    for (size_t u = begin; u < end; u++) {
        int64_t j0 = (int64_t)(u % (size_t)s->bands) * BAND, jn = len - j0 < BAND ? len - j0 : BAND;
        size_t q = u / (size_t)s->bands;
        int64_t in_off = s->offset + j0 * step, out_off = j0;
        for (int d = last - 1; d >= 0; d--) {
            if (d == b) continue;
            int64_t i = (int64_t)(q % (size_t)s->dims[d]);
            q /= (size_t)s->dims[d];
            in_off += i * s->strides[d];
            out_off += i * ostride[d];
        }
        const uint8_t* src = in + (size_t)in_off * s->esize;
        uint8_t* dst = out + (size_t)out_off * s->esize;
        switch (s->esize) {
        case 1: band_uint8_t(src, step, dst, ostride[b], n, jn); break;
        case 2: band_uint16_t((const uint16_t*)src, step, (uint16_t*)dst, ostride[b], n, jn); break;
        case 4: band_uint32_t((const uint32_t*)src, step, (uint32_t*)dst, ostride[b], n, jn); break;
        default: band_uint64_t((const uint64_t*)src, step, (uint64_t*)dst, ostride[b], n, jn); break;
        }
    }
}

void nrt_strided_copy_ref(const nrt_strided* s, const void* in, void* out, size_t begin, size_t end) {
    if (begin >= end) return;
    switch (s->mode) {
    case MODE_RUN: run_rows(s, in, out, begin, end); return;
    case MODE_BANDED: banded_units(s, in, out, begin, end); return;
    case MODE_FILL:
    case MODE_ELEMENT:
        switch (s->esize) {
        case 1: rows_uint8_t(s, in, out, begin, end); return;
        case 2: rows_uint16_t(s, in, out, begin, end); return;
        case 4: rows_uint32_t(s, in, out, begin, end); return;
        default: rows_uint64_t(s, in, out, begin, end); return;
        }
    default: return;
    }
}

static void rescale_int8(const int8_t* x, int8_t* y, size_t n, const nrt_int8_rescale* r) {
    for (size_t i = 0; i < n; i++) y[i] = nrt_requantize_float((float)(x[i] - r->zx) * r->m, r->zy, -128, 127);
}

void nrt_concat_ref(const void* const* ins, const size_t* block_bytes, int n, const nrt_int8_rescale* rescale,
                    void* out, size_t row_bytes, size_t row_begin, size_t row_end) {
    for (size_t r = row_begin; r < row_end; r++) {
        uint8_t* dst = (uint8_t*)out + r * row_bytes;
        for (int k = 0; k < n; k++) {
            const uint8_t* src = (const uint8_t*)ins[k] + r * block_bytes[k];
            if (!block_bytes[k]) continue;
            if (!rescale || rescale[k].copy) memcpy(dst, src, block_bytes[k]);
            else rescale_int8((const int8_t*)src, (int8_t*)dst, block_bytes[k], &rescale[k]);
            dst += block_bytes[k];
        }
    }
}

void nrt_split_ref(const void* in, size_t row_bytes, void* const* outs, const size_t* block_bytes, int n,
                   size_t row_begin, size_t row_end) {
    for (size_t r = row_begin; r < row_end; r++) {
        const uint8_t* src = (const uint8_t*)in + r * row_bytes;
        for (int k = 0; k < n; k++) {
            if (!block_bytes[k]) continue;
            memcpy((uint8_t*)outs[k] + r * block_bytes[k], src, block_bytes[k]);
            src += block_bytes[k];
        }
    }
}

int64_t nrt_gather_indices_ref(const void* indices, bool is_int64, size_t n, int64_t dim, int64_t* out) {
    for (size_t i = 0; i < n; i++) {
        int64_t v = is_int64 ? ((const int64_t*)indices)[i] : ((const int32_t*)indices)[i];
        if (v < -dim || v >= dim) return (int64_t)i;
        out[i] = v < 0 ? v + dim : v;
    }
    return -1;
}

/* Copies one element or run of `bytes`; constant sizes become single moves. */
static inline void copy_bytes(uint8_t* dst, const uint8_t* src, size_t bytes) {
    switch (bytes) {
    case 1: *dst = *src; break;
    case 2: memcpy(dst, src, 2); break;
    case 4: memcpy(dst, src, 4); break;
    case 8: memcpy(dst, src, 8); break;
    default: memcpy(dst, src, bytes); break;
    }
}

void nrt_gather_ref(const void* data, const int64_t* idx, size_t nidx, int64_t dim, size_t inner_bytes, void* out,
                    size_t begin, size_t end) {
    const uint8_t* src = data;
    uint8_t* dst = out;
    for (size_t u = begin; u < end; u++) {
        size_t o = u / nidx, k = u % nidx;
        copy_bytes(dst + u * inner_bytes, src + (o * (size_t)dim + (size_t)idx[k]) * inner_bytes, inner_bytes);
    }
}

int64_t nrt_gather_elements_ref(const void* data, const int64_t* data_dims, const void* indices, bool is_int64,
                                const int64_t* out_dims, int rank, int axis, size_t esize, void* out) {
    int64_t dstride[NRT_STRIDED_MAX_RANK], idx[NRT_STRIDED_MAX_RANK] = {0}, n = 1;
    dstride[rank - 1] = 1;
    for (int d = rank - 2; d >= 0; d--) dstride[d] = dstride[d + 1] * data_dims[d + 1];
    for (int d = 0; d < rank; d++) n *= out_dims[d];
    int64_t dim = data_dims[axis], base = 0; /* data offset of idx, without the axis term */
    for (int64_t i = 0; i < n; i++) {
        int64_t v = is_int64 ? ((const int64_t*)indices)[i] : ((const int32_t*)indices)[i];
        if (v < -dim || v >= dim) return i;
        if (v < 0) v += dim;
        copy_bytes((uint8_t*)out + (size_t)i * esize, (const uint8_t*)data + (size_t)(base + v * dstride[axis]) * esize,
                   esize);
        for (int d = rank - 1; d >= 0; d--) {
            if (d != axis) base += dstride[d];
            if (++idx[d] < out_dims[d]) break;
            if (d != axis) base -= dstride[d] * out_dims[d];
            idx[d] = 0;
        }
    }
    return -1;
}

void nrt_fill_ref(void* out, const void* value, size_t esize, size_t n) {
    uint8_t* dst = out;
    const uint8_t* v = value;
    bool zero = true;
    for (size_t b = 0; b < esize; b++) zero &= v[b] == 0;
    if (zero) {
        memset(dst, 0, n * esize);
        return;
    }
    for (size_t i = 0; i < n; i++) copy_bytes(dst + i * esize, v, esize);
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

void nrt_trilu_ref(const void* in, void* out, size_t esize, size_t batch, int64_t rows, int64_t cols, int64_t k,
                   bool upper) {
    /* Beyond +-(rows + cols) every element is kept or every one dropped;
     * clamping first keeps i + k from overflowing. */
    k = clamp64(k, -(rows + cols + 1), rows + cols + 1);
    size_t row_bytes = (size_t)cols * esize;
    for (size_t m = 0; m < batch; m++) {
        for (int64_t i = 0; i < rows; i++) {
            size_t r = m * (size_t)rows + (size_t)i;
            const uint8_t* src = (const uint8_t*)in + r * row_bytes;
            uint8_t* dst = (uint8_t*)out + r * row_bytes;
            /* kept columns [lo, hi) */
            int64_t lo = upper ? clamp64(i + k, 0, cols) : 0, hi = upper ? cols : clamp64(i + k + 1, 0, cols);
            memset(dst, 0, (size_t)lo * esize);
            memcpy(dst + (size_t)lo * esize, src + (size_t)lo * esize, (size_t)(hi - lo) * esize);
            memset(dst + (size_t)hi * esize, 0, (size_t)(cols - hi) * esize);
        }
    }
}

void nrt_onehot_ref(const int64_t* idx, size_t outer, size_t inner, int64_t depth, const void* off, const void* on,
                    size_t esize, void* out) {
    nrt_fill_ref(out, off, esize, outer * (size_t)depth * inner);
    for (size_t o = 0; o < outer; o++) {
        for (size_t i = 0; i < inner; i++) {
            int64_t v = idx[o * inner + i];
            if (v < 0) v += depth;
            if (v < 0 || v >= depth) continue; /* out of range: all off, as ONNX specifies */
            copy_bytes((uint8_t*)out + ((o * (size_t)depth + (size_t)v) * inner + i) * esize, on, esize);
        }
    }
}
