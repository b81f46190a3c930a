#include "reduce_ref.h"

#include <math.h>

#include "exp_ref.h"

/* A contiguous run: `len` inputs at x offset xo; accumulators at ao. */
typedef void (*run_fn)(const void* arg, int64_t xo, int64_t ao, int64_t len, bool reduced);

/* Visits the plan's innermost runs in memory order (odometer over the
 * outer merged dims). */
static void walk(const nrt_reduce_plan* p, run_fn fn, const void* arg) {
    int last = p->nd - 1;
    int64_t idx[NRT_MAX_RANK] = {0}, xo = 0, ao = 0, outer = 1;
    for (int d = 0; d < last; d++) outer *= p->dims[d];
    if (p->dims[last] == 0) return;
    for (int64_t o = 0; o < outer; o++) {
        fn(arg, xo, ao, p->dims[last], p->reduced[last]);
        for (int d = last - 1; d >= 0; d--) {
            xo += p->in_stride[d];
            ao += p->acc_stride[d];
            if (++idx[d] < p->dims[d]) break;
            xo -= idx[d] * p->in_stride[d];
            ao -= idx[d] * p->acc_stride[d];
            idx[d] = 0;
        }
    }
}

/* ---- float sums ---- */
typedef struct sum_arg {
    const float* x;
    double* acc;
    nrt_reduce_term term;
    const float* shift;
} sum_arg;

/* TERM is an expression of the float `v` (and `sh`, the EXP shift). */
#define SUM_RUN(TERM)                                                                                 \
    do {                                                                                              \
        if (reduced) {                                                                                \
            double l[4] = {0, 0, 0, 0};                                                               \
            float sh = a->shift ? a->shift[ao] : 0.0f;                                                \
            (void)sh;                                                                                 \
            int64_t i = 0;                                                                            \
            for (; i + 4 <= len; i += 4)                                                              \
                for (int k = 0; k < 4; k++) {                                                         \
                    float v = x[i + k];                                                               \
                    l[k] += (TERM);                                                                   \
                }                                                                                     \
            for (; i < len; i++) {                                                                    \
                float v = x[i];                                                                       \
                l[i & 3] += (TERM);                                                                   \
            }                                                                                         \
            acc[0] += (l[0] + l[1]) + (l[2] + l[3]);                                                  \
        } else {                                                                                      \
            for (int64_t i = 0; i < len; i++) {                                                       \
                float v = x[i], sh = a->shift ? a->shift[ao + i] : 0.0f;                              \
                (void)sh;                                                                             \
                acc[i] += (TERM);                                                                     \
            }                                                                                         \
        }                                                                                             \
    } while (0)

static void sum_run(const void* arg, int64_t xo, int64_t ao, int64_t len, bool reduced) {
    const sum_arg* a = arg;
    const float* x = a->x + xo;
    double* acc = a->acc + ao;
    switch (a->term) {
    case NRT_TERM_X: SUM_RUN((double)v); break;
    case NRT_TERM_ABS: SUM_RUN(fabs((double)v)); break;
    case NRT_TERM_SQUARE: SUM_RUN((double)v * (double)v); break;
    case NRT_TERM_EXP: SUM_RUN((double)nrt_exp_f32(v - sh)); break;
    }
}

void nrt_reduce_sum_f32_ref(const nrt_reduce_plan* p, const float* x, double* acc, nrt_reduce_term term,
                            const float* shift) {
    sum_arg a = {x, acc, term, shift};
    walk(p, sum_run, &a);
}

/* ---- float product ---- */
typedef struct prod_arg {
    const float* x;
    double* acc;
} prod_arg;

static void prod_run(const void* arg, int64_t xo, int64_t ao, int64_t len, bool reduced) {
    const prod_arg* a = arg;
    const float* x = a->x + xo;
    double* acc = a->acc + ao;
    if (reduced) {
        double p = 1.0;
        for (int64_t i = 0; i < len; i++) p *= x[i];
        acc[0] *= p;
    } else {
        for (int64_t i = 0; i < len; i++) acc[i] *= x[i];
    }
}

void nrt_reduce_prod_f32_ref(const nrt_reduce_plan* p, const float* x, double* acc) {
    prod_arg a = {x, acc};
    walk(p, prod_run, &a);
}

/* ---- float max / min ---- */
typedef struct minmax_arg {
    const float* x;
    float* acc;
    bool is_max;
} minmax_arg;

/* NaN wins: once m is NaN no comparison replaces it. */
#define PICK_MAX(m, v) (((v) > (m) || (v) != (v)) ? (v) : (m))
#define PICK_MIN(m, v) (((v) < (m) || (v) != (v)) ? (v) : (m))

#define MINMAX_RUN(PICK)                                                                              \
    do {                                                                                              \
        if (reduced) {                                                                                \
            float m = acc[0];                                                                         \
            for (int64_t i = 0; i < len; i++) m = PICK(m, x[i]);                                      \
            acc[0] = m;                                                                               \
        } else {                                                                                      \
            for (int64_t i = 0; i < len; i++) acc[i] = PICK(acc[i], x[i]);                            \
        }                                                                                             \
    } while (0)

static void minmax_run(const void* arg, int64_t xo, int64_t ao, int64_t len, bool reduced) {
    const minmax_arg* a = arg;
    const float* x = a->x + xo;
    float* acc = a->acc + ao;
    if (a->is_max) MINMAX_RUN(PICK_MAX);
    else MINMAX_RUN(PICK_MIN);
}

void nrt_reduce_minmax_f32_ref(const nrt_reduce_plan* p, const float* x, float* acc, bool is_max) {
    minmax_arg a = {x, acc, is_max};
    walk(p, minmax_run, &a);
}

/* ---- integers ---- */
typedef struct int_arg {
    const void* x;
    nrt_dtype dtype;
    int64_t* acc;
    nrt_reduce_int_op op;
} int_arg;

/* Sum / Prod in uint64: wraps instead of overflowing (undefined in int64). */
static inline int64_t int_combine(nrt_reduce_int_op op, int64_t a, int64_t v) {
    switch (op) {
    case NRT_RINT_SUM: return (int64_t)((uint64_t)a + (uint64_t)v);
    case NRT_RINT_PROD: return (int64_t)((uint64_t)a * (uint64_t)v);
    case NRT_RINT_MAX: return v > a ? v : a;
    default: return v < a ? v : a;
    }
}

#define INT_RUN(T)                                                                                    \
    do {                                                                                              \
        const T* x = (const T*)a->x + xo;                                                             \
        if (reduced) {                                                                                \
            int64_t m = acc[0];                                                                       \
            for (int64_t i = 0; i < len; i++) m = int_combine(a->op, m, (int64_t)x[i]);               \
            acc[0] = m;                                                                               \
        } else {                                                                                      \
            for (int64_t i = 0; i < len; i++) acc[i] = int_combine(a->op, acc[i], (int64_t)x[i]);     \
        }                                                                                             \
    } while (0)

static void int_run(const void* arg, int64_t xo, int64_t ao, int64_t len, bool reduced) {
    const int_arg* a = arg;
    int64_t* acc = a->acc + ao;
    switch (a->dtype) {
    case NRT_INT8: INT_RUN(int8_t); break;
    case NRT_UINT8:
    case NRT_BOOL: INT_RUN(uint8_t); break;
    case NRT_INT16: INT_RUN(int16_t); break;
    case NRT_INT32: INT_RUN(int32_t); break;
    default: INT_RUN(int64_t); break;
    }
}

void nrt_reduce_int_ref(const nrt_reduce_plan* p, const void* x, nrt_dtype dtype, int64_t* acc,
                        nrt_reduce_int_op op) {
    int_arg a = {x, dtype, acc, op};
    walk(p, int_run, &a);
}

/* ---- ArgMax / ArgMin ---- */
#define ARG_BLOCK 64

/* Better: strictly better, or equal when the last index is wanted. */
#define ARG_LOOP(T)                                                                                   \
    do {                                                                                              \
        const T* base = (const T*)x;                                                                  \
        for (int64_t o = o0; o < o1; o++)                                                             \
            for (int64_t c = 0; c < inner; c += ARG_BLOCK) {                                          \
                int w = inner - c < ARG_BLOCK ? (int)(inner - c) : ARG_BLOCK;                         \
                const T* xs = base + o * n * inner + c;                                               \
                T best[ARG_BLOCK];                                                                    \
                int64_t* ys = y + o * inner + c;                                                      \
                for (int j = 0; j < w; j++) {                                                         \
                    best[j] = xs[j];                                                                  \
                    ys[j] = 0;                                                                        \
                }                                                                                     \
                for (int64_t r = 1; r < n; r++)                                                       \
                    for (int j = 0; j < w; j++) {                                                     \
                        T v = xs[r * inner + j];                                                      \
                        bool better = is_max ? (select_last ? v >= best[j] : v > best[j])             \
                                             : (select_last ? v <= best[j] : v < best[j]);            \
                        if (better) {                                                                 \
                            best[j] = v;                                                              \
                            ys[j] = r;                                                                \
                        }                                                                             \
                    }                                                                                 \
            }                                                                                         \
    } while (0)

void nrt_argminmax_ref(const void* x, nrt_dtype dtype, int64_t* y, int64_t o0, int64_t o1, int64_t n,
                       int64_t inner, bool is_max, bool select_last) {
    switch (dtype) {
    case NRT_FLOAT32: ARG_LOOP(float); break;
    case NRT_INT8: ARG_LOOP(int8_t); break;
    case NRT_UINT8:
    case NRT_BOOL: ARG_LOOP(uint8_t); break;
    case NRT_INT16: ARG_LOOP(int16_t); break;
    case NRT_INT32: ARG_LOOP(int32_t); break;
    default: ARG_LOOP(int64_t); break;
    }
}
