/* libFuzzer target: an untrusted .nrt file and untrusted inputs.
 *
 * The fuzz input is a model file followed by a tail that drives the run:
 *
 *   [ model bytes ][ tail: L bytes ][ L (1 byte) ]
 *
 * tail[0..7] pick the sizes of dynamic input dimensions (1..4), the rest of
 * the tail is cycled to fill the inputs' bytes (so integer inputs such as
 * Gather indices take hostile values too). An input with L = 0 is a bare
 * model file (uses a fixed fill). Each model is loaded, resized, prepared and
 * invoked twice: with the tail's shapes, then with dynamic dims of 1 (first
 * axis) and 32 (others: big enough for real CNNs' kernels), on two threads
 * when L is odd, which also runs the re-prepare paths. Any status is fine;
 * crashes, sanitizer reports, leaks and hangs are bugs.
 *
 * Memory is bounded by the options below. Compute is bounded as an app would
 * bound it: a watchdog thread cancels an invoke still running after
 * INVOKE_BUDGET_MS (nrt_model_cancel, so that is fuzzed too): a valid small
 * file can ask for minutes of work (a long chain of convolutions), which is
 * not a defect; an operator that never returns still is (libFuzzer's
 * -timeout).
 *
 * Build: clang -fsanitize=fuzzer,address,undefined (tests/test_fuzz.py).
 * Reproduce: ./fuzz_model crash-file
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "nanort.h"

/* Small activation and memory budgets: hostile shapes fail with
 * NRT_ERR_LIMIT instead of making every execution slow (and anything the
 * runtime allocates outside its accounting shows as a blow-up past the
 * fuzzer's -rss_limit_mb / -malloc_limit_mb). */
#define FUZZ_ARENA_BYTES (8u << 20)
#define FUZZ_MEMORY_BYTES (64u << 20)
#define INVOKE_BUDGET_MS 500

/* The watchdog: one thread for the whole run, armed around each invoke. */
static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watch_cond = PTHREAD_COND_INITIALIZER;
static nrt_model* watched;
static struct timespec watch_deadline;

static void* watchdog(void* arg) {
    (void)arg;
    pthread_mutex_lock(&watch_lock);
    for (;;) {
        while (!watched) pthread_cond_wait(&watch_cond, &watch_lock);
        if (pthread_cond_timedwait(&watch_cond, &watch_lock, &watch_deadline) == ETIMEDOUT && watched) {
            nrt_model_cancel(watched); /* (under the lock: the model is not freed meanwhile) */
            watched = NULL;
        }
    }
    return NULL;
}

static void start_watchdog(void) {
    pthread_t thread;
    if (pthread_create(&thread, NULL, watchdog, NULL) == 0) pthread_detach(thread);
}

static nrt_status invoke_within_budget(nrt_model* m) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, start_watchdog);
    pthread_mutex_lock(&watch_lock);
    clock_gettime(CLOCK_REALTIME, &watch_deadline);
    watch_deadline.tv_sec += INVOKE_BUDGET_MS / 1000;
    watch_deadline.tv_nsec += (long)(INVOKE_BUDGET_MS % 1000) * 1000000L;
    if (watch_deadline.tv_nsec >= 1000000000L) {
        watch_deadline.tv_sec++;
        watch_deadline.tv_nsec -= 1000000000L;
    }
    watched = m;
    pthread_cond_signal(&watch_cond);
    pthread_mutex_unlock(&watch_lock);
    nrt_status st = nrt_model_invoke(m);
    pthread_mutex_lock(&watch_lock);
    watched = NULL;
    pthread_cond_signal(&watch_cond);
    pthread_mutex_unlock(&watch_lock);
    return st;
}

static void fill(uint8_t* dst, size_t n, const uint8_t* pattern, size_t plen, size_t* cursor) {
    static const uint8_t fixed[] = {0x00, 0x00, 0x80, 0x3f, 0x01, 0x00, 0x00, 0x00, 0xff, 0x00, 0x00, 0xc0};
    if (plen == 0) {
        pattern = fixed;
        plen = sizeof fixed;
    }
    for (size_t i = 0; i < n; i++) dst[i] = pattern[(*cursor + i) % plen];
    *cursor += n;
}

static void run_once(nrt_model* m, const uint8_t* dims_src, size_t ndims_src, const uint8_t* pattern, size_t plen) {
    int ni = nrt_model_num_inputs(m);
    size_t dyn = 0;
    for (int i = 0; i < ni; i++) {
        nrt_tensor_info info;
        if (nrt_model_input_info(m, i, &info) != NRT_OK) return;
        int64_t dims[NRT_MAX_RANK];
        for (int d = 0; d < info.rank; d++) {
            if (info.declared_dims[d] >= 0) {
                dims[d] = info.declared_dims[d];
            } else {
                dims[d] = ndims_src ? 1 + dims_src[dyn % ndims_src] % 4 : (d == 0 ? 1 : 32);
                dyn++;
            }
        }
        if (nrt_model_resize_input(m, i, info.rank, dims) != NRT_OK) return;
    }
    if (nrt_model_prepare(m) != NRT_OK) return;
    size_t cursor = 0;
    for (int i = 0; i < ni; i++) {
        nrt_tensor_info info;
        uint8_t* p = nrt_model_input_data(m, i);
        if (nrt_model_input_info(m, i, &info) != NRT_OK || (!p && info.bytes)) return;
        if (p) fill(p, info.bytes, pattern, plen, &cursor);
    }
    if (invoke_within_budget(m) != NRT_OK) return;
    /* Read every output byte: a wrong size would show as an ASan report. */
    volatile uint8_t sink = 0;
    for (int i = 0; i < nrt_model_num_outputs(m); i++) {
        nrt_tensor_info info;
        const uint8_t* p = nrt_model_output_data(m, i);
        if (nrt_model_output_info(m, i, &info) != NRT_OK || !p) continue;
        for (size_t k = 0; k < info.bytes; k++) sink ^= p[k];
    }
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    size_t tail = data[size - 1];
    if (tail > size - 1) tail = size - 1;
    size_t model_size = size - 1 - tail;
    const uint8_t* t = data + model_size;
    size_t ndims = tail < 8 ? tail : 8;

    nrt_options opts;
    nrt_options_init(&opts);
    opts.max_arena_bytes = FUZZ_ARENA_BYTES;
    opts.max_memory_bytes = FUZZ_MEMORY_BYTES;
    opts.isa = NRT_ISA_AUTO;
    nrt_model* m = NULL;
    if (nrt_model_create(&opts, &m) != NRT_OK) {
        nrt_model_free(m);
        return 0;
    }
    if (nrt_model_load_buffer(m, data, model_size, 1) == NRT_OK) {
        run_once(m, t, ndims, t + ndims, tail - ndims);
        /* With an odd tail, the bigger shapes run on two threads: kernels
         * split their work, so the partition arithmetic is fuzzed too (not
         * always: starting a thread costs more than a small model's run). */
        if (tail & 1) nrt_model_set_num_threads(m, 2);
        run_once(m, NULL, 0, t + ndims, tail - ndims);
        /* A second invoke on the same shapes reuses the prepared plan. */
        invoke_within_budget(m);
    }
    (void)nrt_model_error(m);
    nrt_model_free(m);
    return 0;
}
