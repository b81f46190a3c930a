#include "pad_ref.h"

#include <string.h>

static void fill(uint8_t* y, const uint8_t* value, size_t elem, int64_t n) {
    for (int64_t i = 0; i < n; i++) memcpy(y + (size_t)i * elem, value, elem);
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

void nrt_pad_ref(const nrt_pad_plan* p, const uint8_t* x, uint8_t* y, int64_t row_begin, int64_t row_end) {
    int last = p->rank - 1;
    int64_t out_len = p->out_dims[last], in_len = p->in_dims[last];
    size_t elem = p->elem;
    const int64_t* lmap = p->map[last];
    for (int64_t row = row_begin; row < row_end; row++) {
        uint8_t* yr = y + (size_t)(row * out_len) * elem;
        /* source row: the index maps of the leading axes, innermost first */
        int64_t rem = row, src = 0, stride = in_len;
        int constant = 0;
        for (int a = last - 1; a >= 0; a--) {
            int64_t o = rem % p->out_dims[a], s = p->map[a][o];
            rem /= p->out_dims[a];
            if (s < 0) constant = 1;
            src += s * stride;
            stride *= p->in_dims[a];
        }
        if (constant) {
            fill(yr, p->value, elem, out_len);
            continue;
        }
        const uint8_t* xr = x + (size_t)src * elem;
        int64_t run_end = p->run_len > 0 ? p->run_out + p->run_len : 0;
        if (run_end > 0) memcpy(yr + (size_t)p->run_out * elem, xr + (size_t)p->run_src * elem, (size_t)p->run_len * elem);
        switch (elem) {
        case 1: GATHER(1) break;
        case 2: GATHER(2) break;
        case 4: GATHER(4) break;
        case 8: GATHER(8) break;
        default: GATHER((int64_t)elem) break;
        }
    }
}
