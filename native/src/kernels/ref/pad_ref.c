#include "pad_ref.h"

#include <string.h>

#include "nanort.h"

static bool all_zero_bytes(const uint8_t* value, size_t elem) {
    for (size_t i = 0; i < elem; i++)
        if (value[i]) return false;
    return true;
}

/* n copies of value: one memset for zero bytes (the usual padding), else
 * one copy, then doubling copies of what is written (a few memcpy calls
 * instead of one per element). */
static void fill(uint8_t* y, const uint8_t* value, size_t elem, int64_t n) {
    if (n <= 0) return;
    size_t total = (size_t)n * elem, done = elem;
    if (all_zero_bytes(value, elem)) {
        memset(y, 0, total);
        return;
    }
    memcpy(y, value, elem);
    while (done < total) {
        size_t chunk = done < total - done ? done : total - done;
        memcpy(y + done, y, chunk);
        done += chunk;
    }
}

/* y row = x row gathered through lmap (the constant where lmap < 0), skipping
 * the copied run. memcpy of a constant size compiles to one load/store and
 * keeps the byte buffers free of type-punning. */
#define GATHER(SIZE)                                                                                  \
    for (int64_t o = 0; o < out_len; o++) {                                                           \
        if (o == p->run_out && run_end > 0) {                                                         \
            o = run_end - 1;                                                                          \
            continue;                                                                                 \
        }                                                                                             \
        memcpy(yr + o * (SIZE), lmap[o] < 0 ? p->value : xr + lmap[o] * (SIZE), (SIZE));              \
    }

static void gather_row(const nrt_pad_plan* p, const uint8_t* xr, uint8_t* yr) {
    int64_t out_len = p->out_dims[p->rank - 1];
    const int64_t* lmap = p->map[p->rank - 1];
    int64_t run_end = p->run_len > 0 ? p->run_out + p->run_len : 0;
    if (run_end > 0) memcpy(yr + (size_t)p->run_out * p->elem, xr + (size_t)p->run_src * p->elem,
                            (size_t)p->run_len * p->elem);
    if (p->edges_constant && run_end == 0) {
        fill(yr, p->value, p->elem, out_len);
        return;
    }
    if (p->edges_constant) {
        fill(yr, p->value, p->elem, p->run_out);
        fill(yr + (size_t)run_end * p->elem, p->value, p->elem, out_len - run_end);
        return;
    }
    switch (p->elem) {
    case 1: GATHER(1) break;
    case 2: GATHER(2) break;
    case 4: GATHER(4) break;
    case 8: GATHER(8) break;
    default: GATHER((int64_t)p->elem) break;
    }
}

/* Source offset (elements) of the rows at idx over axes [0, upto); -1 when
 * one of them maps to the constant. */
static int64_t source_of(const nrt_pad_plan* p, const int64_t* idx, const int64_t* stride, int upto) {
    int64_t src = 0;
    for (int a = 0; a < upto; a++) {
        int64_t m = p->map[a][idx[a]];
        if (m < 0) return -1;
        src += m * stride[a];
    }
    return src;
}

/* Rows are walked with an odometer over the leading axes (no division per
 * row). Nearest upsampling repeats source rows and whole source lines (the
 * rows of one step of axis rank-3); a repeat is one copy of what was just
 * written instead of a gather. */
void nrt_pad_ref(const nrt_pad_plan* p, const uint8_t* x, uint8_t* y, int64_t row_begin, int64_t row_end) {
    if (row_begin >= row_end) return;
    int last = p->rank - 1, line_axis = last - 1;
    size_t elem = p->elem, row_bytes = (size_t)p->out_dims[last] * elem;
    int64_t idx[NRT_MAX_RANK], stride[NRT_MAX_RANK];
    int64_t rem = row_begin, s = p->in_dims[last];
    for (int a = last - 1; a >= 0; a--) {
        idx[a] = rem % p->out_dims[a];
        rem /= p->out_dims[a];
        stride[a] = s;
        s *= p->in_dims[a];
    }
    int64_t line_rows = line_axis > 0 ? p->out_dims[line_axis] : 0, prev_line = -1, prev_src = -1;
    for (int64_t row = row_begin; row < row_end;) {
        uint8_t* yr = y + (size_t)row * row_bytes;
        if (line_rows && idx[line_axis] == 0) {
            int64_t line = source_of(p, idx, stride, line_axis);
            if (line >= 0 && line == prev_line && row - line_rows >= row_begin && row + line_rows <= row_end) {
                memcpy(yr, yr - (size_t)line_rows * row_bytes, (size_t)line_rows * row_bytes);
                row += line_rows;
                for (int a = line_axis - 1; a >= 0 && ++idx[a] == p->out_dims[a]; a--) idx[a] = 0;
                continue;
            }
            prev_line = line;
        }
        int64_t src = source_of(p, idx, stride, last);
        if (src < 0) fill(yr, p->value, elem, p->out_dims[last]);
        else if (src == prev_src) memcpy(yr, yr - row_bytes, row_bytes);
        else gather_row(p, x + (size_t)src * elem, yr);
        prev_src = src;
        row++;
        for (int a = last - 1; a >= 0 && ++idx[a] == p->out_dims[a]; a--) idx[a] = 0;
    }
}
