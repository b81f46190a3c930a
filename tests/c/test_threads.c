/* Threads and one model: a call that overlaps another thread's call on the
 * same handle returns NRT_ERR_BUSY and changes nothing; separate handles run
 * concurrently and give the single-threaded results.
 *
 *   test_threads model.nrt...   (float32 input 0; dynamic dims are sized so
 *                                that an invoke takes a while)
 *
 * Exit status = failed checks. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nanort.h"

static atomic_int failures = 0;
#define CHECK(cond, ...)                                              \
    do {                                                              \
        if (!(cond)) {                                                \
            atomic_fetch_add(&failures, 1);                           \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);               \
            printf(__VA_ARGS__);                                      \
            printf("\n");                                             \
        }                                                             \
    } while (0)

#define TARGET_ELEMENTS (1 << 18)

typedef struct shape {
    int rank;
    int64_t dims[NRT_MAX_RANK];
} shape;

/* Loads `path`, sizes input 0's dynamic dims (all inputs: the same rule) and
 * prepares; NULL when the model does not suit this test. */
static nrt_model* open_model(const char* path, int threads) {
    nrt_options o;
    nrt_options_init(&o);
    o.num_threads = threads;
    nrt_model* m = NULL;
    if (nrt_model_create(&o, &m) != NRT_OK || nrt_model_load_file(m, path) != NRT_OK) {
        CHECK(0, "load %s: %s", path, m ? nrt_model_error(m) : "no handle");
        nrt_model_free(m);
        return NULL;
    }
    for (int i = 0; i < nrt_model_num_inputs(m); i++) {
        nrt_tensor_info info;
        nrt_model_input_info(m, i, &info);
        int64_t known = 1, ndyn = 0;
        for (int d = 0; d < info.rank; d++)
            if (info.declared_dims[d] >= 0) known *= info.declared_dims[d] ? info.declared_dims[d] : 1;
            else ndyn++;
        shape s = {info.rank, {0}};
        for (int d = 0; d < info.rank; d++) {
            s.dims[d] = info.declared_dims[d];
            if (s.dims[d] < 0) s.dims[d] = ndyn == 1 ? (TARGET_ELEMENTS / known > 1 ? TARGET_ELEMENTS / known : 1) : 16;
        }
        if (nrt_model_resize_input(m, i, s.rank, s.dims) != NRT_OK || info.dtype != NRT_FLOAT32) {
            nrt_model_free(m);
            return NULL;
        }
    }
    if (nrt_model_prepare(m) != NRT_OK) {
        nrt_model_free(m);
        return NULL;
    }
    return m;
}

static void fill(nrt_model* m, int seed, float* buf, size_t n) {
    for (size_t i = 0; i < n; i++) buf[i] = (float)((i * 7 + (size_t)seed * 13) % 17) * 0.125f - 1.0f;
    (void)m;
}

static size_t in_bytes(nrt_model* m) {
    nrt_tensor_info info;
    nrt_model_input_info(m, 0, &info);
    return info.bytes;
}

static size_t out_bytes(nrt_model* m) {
    nrt_tensor_info info;
    nrt_model_output_info(m, 0, &info);
    return info.bytes;
}

/* ---- one model, two threads ---- */

typedef struct shared {
    nrt_model* m;
    const float* input;
    size_t in_bytes, out_bytes;
    const uint8_t* want;
    atomic_int started, stop;
    atomic_int ok, busy;
} shared;

/* Sets the input and invokes, and tries other calls meanwhile: each call
 * returns OK or BUSY. (Outputs are checked after the threads: an invoke may
 * run on an input the other thread's invoke already reused as scratch, the
 * documented reason to keep one model to one thread.) */
static void* hammer(void* arg) {
    shared* s = arg;
    atomic_fetch_add(&s->started, 1);
    while (atomic_load(&s->started) < 2) { /* start together */ }
    for (int it = 0; it < 400 && !atomic_load(&s->stop); it++) {
        nrt_status st = nrt_model_set_input(s->m, 0, s->input, s->in_bytes);
        if (st == NRT_OK) st = nrt_model_invoke(s->m);
        if (st == NRT_ERR_BUSY) {
            atomic_fetch_add(&s->busy, 1);
            continue;
        }
        CHECK(st == NRT_OK, "invoke: %s (%s)", nrt_status_name(st), nrt_model_error(s->m));
        atomic_fetch_add(&s->ok, 1);
        /* Other calls while the other thread may be inside invoke: BUSY or OK. */
        int64_t dims[NRT_MAX_RANK];
        nrt_tensor_info info;
        nrt_model_input_info(s->m, 0, &info);
        memcpy(dims, info.dims, sizeof dims);
        st = nrt_model_resize_input(s->m, 0, info.rank, dims); /* same shape: no re-prepare */
        CHECK(st == NRT_OK || st == NRT_ERR_BUSY, "resize during use: %s", nrt_status_name(st));
        st = nrt_model_prepare(s->m);
        CHECK(st == NRT_OK || st == NRT_ERR_BUSY, "prepare during use: %s", nrt_status_name(st));
        st = nrt_model_set_profiling(s->m, 0);
        CHECK(st == NRT_OK || st == NRT_ERR_BUSY, "set_profiling during use: %s", nrt_status_name(st));
        if (atomic_load(&s->busy) > 20 && atomic_load(&s->ok) > 20) break;
    }
    return NULL;
}

static void test_one_model_two_threads(const char* path) {
    nrt_model* m = open_model(path, 1);
    if (!m) return;
    size_t ib = in_bytes(m), ob = out_bytes(m);
    float* input = malloc(ib ? ib : 1);
    uint8_t* want = malloc(ob ? ob : 1);
    fill(m, 1, input, ib / 4);
    CHECK(nrt_model_set_input(m, 0, input, ib) == NRT_OK && nrt_model_invoke(m) == NRT_OK, "reference run: %s",
          nrt_model_error(m));
    memcpy(want, nrt_model_output_data(m, 0), ob);

    shared s = {.m = m, .input = input, .in_bytes = ib, .out_bytes = ob, .want = want};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, hammer, &s);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    /* after the threads: the model is intact and gives the reference (the
     * input is set again: invoke may reuse input memory for intermediates) */
    CHECK(nrt_model_set_input(m, 0, input, ib) == NRT_OK && nrt_model_invoke(m) == NRT_OK,
          "invoke after the threads: %s", nrt_model_error(m));
    CHECK(!memcmp(nrt_model_output_data(m, 0), want, ob), "%s: output changed after concurrent use", path);
    printf("%s: one model, two threads: %d invokes, %d BUSY\n", path, atomic_load(&s.ok), atomic_load(&s.busy));
    CHECK(atomic_load(&s.busy) > 0, "%s: overlapping calls never saw NRT_ERR_BUSY", path);
    CHECK(atomic_load(&s.ok) > 0, "%s: no invoke got through", path);
    nrt_model_free(m);
    free(input);
    free(want);
}

/* ---- one model per thread ---- */

typedef struct own {
    const char* path;
    int seed;
    uint8_t* out; /* the last output */
    size_t out_bytes;
} own;

static void* own_model(void* arg) {
    own* o = arg;
    nrt_model* m = open_model(o->path, 2);
    if (!m) return NULL;
    size_t ib = in_bytes(m);
    float* input = malloc(ib ? ib : 1);
    fill(m, o->seed, input, ib / 4);
    for (int it = 0; it < 10; it++) {
        nrt_status st = nrt_model_set_input(m, 0, input, ib);
        if (st == NRT_OK) st = nrt_model_invoke(m);
        CHECK(st == NRT_OK, "own model invoke: %s", nrt_model_error(m));
    }
    o->out_bytes = out_bytes(m);
    o->out = malloc(o->out_bytes ? o->out_bytes : 1);
    memcpy(o->out, nrt_model_output_data(m, 0), o->out_bytes);
    free(input);
    nrt_model_free(m);
    return NULL;
}

static void test_model_per_thread(const char* path) {
    enum { N = 4 };
    own o[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        o[i] = (own){path, i + 1, NULL, 0};
        pthread_create(&t[i], NULL, own_model, &o[i]);
    }
    for (int i = 0; i < N; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < N; i++) {
        if (!o[i].out) continue;
        nrt_model* m = open_model(path, 1); /* single-threaded reference */
        if (!m) break;
        size_t ib = in_bytes(m);
        float* input = malloc(ib ? ib : 1);
        fill(m, o[i].seed, input, ib / 4);
        CHECK(nrt_model_set_input(m, 0, input, ib) == NRT_OK && nrt_model_invoke(m) == NRT_OK, "reference");
        CHECK(o[i].out_bytes == out_bytes(m) && !memcmp(o[i].out, nrt_model_output_data(m, 0), o[i].out_bytes),
              "%s: thread %d's own model gave a different result", path, i);
        free(input);
        nrt_model_free(m);
        free(o[i].out);
    }
    printf("%s: %d threads, one model each: done\n", path, N);
}

int main(int argc, char** argv) {
    int used = 0;
    for (int i = 1; i < argc; i++) {
        nrt_model* probe = open_model(argv[i], 1);
        if (!probe) continue; /* not float32 input, or shapes that do not fit */
        nrt_model_free(probe);
        used++;
        test_one_model_two_threads(argv[i]);
        test_model_per_thread(argv[i]);
    }
    CHECK(used > 0, "no model suited the thread tests (give .nrt models with one float32 input)");
    printf("%s: %d failure(s)\n", argv[0], atomic_load(&failures));
    return atomic_load(&failures) ? 1 : 0;
}
