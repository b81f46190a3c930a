#include "broadcast.h"

/* The first of in[0..i) whose dim at result axis `axis` is `size`. */
static const nrt_tensor* setter(const nrt_tensor* const* in, int i, int r, int axis, int64_t size) {
    for (int j = 0; j < i; j++) {
        int jd = axis - (r - in[j]->rank);
        if (jd >= 0 && in[j]->dims[jd] == size) return in[j];
    }
    return in[0];
}

nrt_status nrt_bcast_shape(nrt_ctx* ctx, int n, const nrt_tensor* const* in, int* rank, int64_t* dims) {
    int r = 0;
    for (int i = 0; i < n; i++)
        if (in[i]->rank > r) r = in[i]->rank;
    for (int d = 0; d < r; d++) dims[d] = 1;
    for (int i = 0; i < n; i++) {
        const nrt_tensor* t = in[i];
        int lead = r - t->rank;
        for (int d = 0; d < t->rank; d++) {
            int64_t have = dims[lead + d], want = t->dims[d];
            if (want == have || want == 1) continue;
            if (have != 1)
                return nrt_op_fail(ctx, NRT_ERR_SHAPE,
                                   "tensors %s and %s do not broadcast: dimension %lld vs %lld (axis %d of the "
                                   "result, dims aligned from the right)",
                                   setter(in, i, r, lead + d, have)->name, t->name, (long long)have,
                                   (long long)want, lead + d);
            dims[lead + d] = want;
        }
    }
    *rank = r;
    return NRT_OK;
}

void nrt_bcast_plan(nrt_bcast* b, int n, const nrt_tensor* const* in, int rank, const int64_t* dims) {
    int64_t cs[NRT_BCAST_MAX_IN][NRT_MAX_RANK]; /* contiguous strides, 0 where the input broadcasts */
    for (int i = 0; i < n; i++) {
        const nrt_tensor* t = in[i];
        int64_t s = 1;
        for (int d = rank - 1; d >= 0; d--) {
            int td = d - (rank - t->rank);
            int64_t size = td >= 0 ? t->dims[td] : 1;
            cs[i][d] = size == 1 ? 0 : s;
            s *= size;
        }
    }
    b->num_in = n;
    b->rank = 0;
    b->total = 1;
    for (int d = 0; d < rank; d++) {
        b->total *= dims[d];
        if (dims[d] == 1) continue;
        int r = b->rank;
        bool merge = r > 0;
        for (int i = 0; i < n && merge; i++) merge = b->strides[i][r - 1] == cs[i][d] * dims[d];
        if (merge) {
            b->dims[r - 1] *= dims[d];
            for (int i = 0; i < n; i++) b->strides[i][r - 1] = cs[i][d];
        } else {
            b->dims[r] = dims[d];
            for (int i = 0; i < n; i++) b->strides[i][r] = cs[i][d];
            b->rank++;
        }
    }
    if (b->rank == 0) { /* a single element */
        b->rank = 1;
        b->dims[0] = 1;
        for (int i = 0; i < n; i++) b->strides[i][0] = 0;
    }
}

/* Position of the walk: multi-index over the outer dims and each input's
 * offset at the start of the current row. */
typedef struct cursor {
    int64_t idx[NRT_MAX_RANK];
    int64_t base[NRT_BCAST_MAX_IN];
} cursor;

static void cursor_init(const nrt_bcast* b, int64_t row, cursor* c) {
    for (int i = 0; i < b->num_in; i++) c->base[i] = 0;
    for (int d = b->rank - 2; d >= 0; d--) {
        c->idx[d] = row % b->dims[d];
        row /= b->dims[d];
        for (int i = 0; i < b->num_in; i++) c->base[i] += c->idx[d] * b->strides[i][d];
    }
}

/* Advances by `rows` rows, which must not run past the end of dim rank-2. */
static void cursor_advance(const nrt_bcast* b, cursor* c, int64_t rows) {
    int n = b->num_in;
    for (int d = b->rank - 2; d >= 0; d--, rows = 1) {
        for (int i = 0; i < n; i++) c->base[i] += rows * b->strides[i][d];
        if ((c->idx[d] += rows) < b->dims[d]) return;
        for (int i = 0; i < n; i++) c->base[i] -= b->strides[i][d] * b->dims[d];
        c->idx[d] = 0;
    }
}

void nrt_bcast_visit_rows(const nrt_bcast* b, int64_t begin, int64_t end, int64_t max_rows, nrt_bcast_fn fn,
                          nrt_bcast_rows_fn rows_fn, void* arg) {
    int r = b->rank, n = b->num_in;
    int64_t inner = b->dims[r - 1], off[NRT_BCAST_MAX_IN];
    if (begin >= end || inner == 0) return;
    cursor c;
    cursor_init(b, begin / inner, &c);
    int64_t col = begin % inner;
    for (int64_t pos = begin; pos < end;) {
        int64_t rows = 0;
        if (rows_fn && r >= 2 && col == 0) { /* whole rows, within one run of dim rank-2 */
            rows = (end - pos) / inner;
            if (rows > b->dims[r - 2] - c.idx[r - 2]) rows = b->dims[r - 2] - c.idx[r - 2];
            if (rows > max_rows) rows = max_rows;
        }
        if (rows >= 2) {
            rows_fn(arg, c.base, pos, rows);
            pos += rows * inner;
            cursor_advance(b, &c, rows);
            continue;
        }
        int64_t count = inner - col < end - pos ? inner - col : end - pos;
        for (int i = 0; i < n; i++) off[i] = c.base[i] + col * b->strides[i][r - 1];
        fn(arg, off, pos, count);
        pos += count;
        col = 0;
        cursor_advance(b, &c, 1);
    }
}

void nrt_bcast_visit(const nrt_bcast* b, int64_t begin, int64_t end, nrt_bcast_fn fn, void* arg) {
    nrt_bcast_visit_rows(b, begin, end, 0, fn, NULL, arg);
}
