#include "threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ __volatile__("yield")
#else
#define CPU_RELAX() ((void)0)
#endif

/* Workers spin this many polls for the next job before sleeping: parallel
 * regions come in quick succession during an invoke, and a condition-variable
 * wake-up costs tens of microseconds. */
#define SPIN_POLLS 20000

/* A job is split into chunks that threads claim one at a time from `claim`,
 * a single atomic word: job number << 32 | chunk count << 16 | next chunk.
 * Claiming with a compare-and-swap on the whole word means a worker can only
 * take a chunk of the job it read, and the caller waits only for chunks that
 * were claimed (`pending` counts the unfinished ones), never for a worker
 * that has not woken up yet: on a loaded machine (more runnable threads than
 * cores) the caller simply does the work itself instead of waiting a
 * scheduler time slice for a descheduled worker. */
#define MAX_CHUNKS 0xffffu

struct nrt_threadpool {
    int size;
    pthread_t* threads;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    atomic_uint_fast64_t generation; /* bumped per job: wakes sleeping workers */
    atomic_uint_fast64_t claim;
    atomic_size_t pending;
    atomic_int sleepers; /* workers in (or about to enter) the condition wait */
    bool stop;
    /* the current job: written before `claim` is published, stable until pending reaches 0 */
    nrt_range_fn fn;
    void* arg;
    size_t n, chunk;
};

static void finish_chunk(nrt_threadpool* p) {
    if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->mu);
    }
}

/* Claims and runs chunks of the published job until none is left. */
static void run_chunks(nrt_threadpool* p, bool caller) {
    for (;;) {
        uint64_t c = atomic_load_explicit(&p->claim, memory_order_acquire);
        size_t index = (size_t)(c & 0xffffu), count = (size_t)((c >> 16) & 0xffffu);
        if (index >= count) return;
        if (!atomic_compare_exchange_weak_explicit(&p->claim, &c, c + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        size_t begin = index * p->chunk, end = begin + p->chunk;
        p->fn(p->arg, begin, end < p->n ? end : p->n);
        if (caller) atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel);
        else finish_chunk(p);
    }
}

static void* worker_main(void* arg) {
    nrt_threadpool* p = arg;
    uint64_t seen = 0;
    for (;;) {
        uint64_t gen = atomic_load_explicit(&p->generation, memory_order_acquire);
        for (int i = 0; gen == seen && i < SPIN_POLLS; i++) {
            CPU_RELAX();
            gen = atomic_load_explicit(&p->generation, memory_order_acquire);
        }
        if (gen == seen) {
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1); /* before reading generation: see nrt_threadpool_run */
            while ((gen = atomic_load(&p->generation)) == seen && !p->stop) pthread_cond_wait(&p->wake, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            bool stop = p->stop;
            pthread_mutex_unlock(&p->mu);
            if (stop) return NULL;
        }
        seen = gen;
        run_chunks(p, false);
    }
}

nrt_threadpool* nrt_threadpool_create(int num_threads) {
    if (num_threads < 1) return NULL;
    nrt_threadpool* p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->size = 1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->generation, 0);
    atomic_init(&p->claim, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->sleepers, 0);
    if (num_threads > 1) {
        p->threads = calloc((size_t)num_threads - 1, sizeof(pthread_t));
        if (!p->threads) { nrt_threadpool_free(p); return NULL; }
        for (int i = 0; i < num_threads - 1; i++) {
            if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) { nrt_threadpool_free(p); return NULL; }
            p->size++;
        }
    }
    return p;
}

void nrt_threadpool_free(nrt_threadpool* p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->size - 1; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p);
}

int nrt_threadpool_size(const nrt_threadpool* p) { return p ? p->size : 1; }

void nrt_threadpool_run(nrt_threadpool* p, size_t n, size_t grain, nrt_range_fn fn, void* arg) {
    if (n == 0) return;
    if (grain == 0) grain = 1;
    size_t max_chunks = n / grain;
    if (!p || p->size == 1 || max_chunks < 2) {
        fn(arg, 0, n);
        return;
    }
    /* A few chunks per thread balances uneven progress (a busy core). */
    size_t want = (size_t)p->size * 4;
    size_t chunks = max_chunks < want ? max_chunks : want;
    if (chunks > MAX_CHUNKS) chunks = MAX_CHUNKS;
    p->fn = fn;
    p->arg = arg;
    p->n = n;
    p->chunk = (n + chunks - 1) / chunks;
    size_t count = (n + p->chunk - 1) / p->chunk;
    atomic_store_explicit(&p->pending, count, memory_order_relaxed);
    uint64_t gen = atomic_load_explicit(&p->generation, memory_order_relaxed) + 1;
    atomic_store_explicit(&p->claim, (gen & 0xffffffffu) << 32 | (uint64_t)count << 16, memory_order_release);
    /* Spinning workers see the new generation by themselves; the mutex and
     * broadcast are needed only when one sleeps. Both sides write, then read
     * the other's word (sequentially consistent): a worker that missed the new
     * generation counted itself in `sleepers` before, so we see it and take
     * the mutex, which it holds until it is waiting on the condition. */
    atomic_store(&p->generation, gen);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }
    run_chunks(p, true);
    /* Only chunks that workers claimed can still be running. */
    for (int i = 0; i < SPIN_POLLS && atomic_load_explicit(&p->pending, memory_order_acquire) > 0; i++) CPU_RELAX();
    if (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->pending) > 0) pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}
