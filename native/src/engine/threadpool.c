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

struct nrt_threadpool {
    int size;
    pthread_t* threads;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    atomic_uint_fast64_t generation;
    atomic_int busy_workers;
    atomic_size_t next_chunk;
    bool stop;
    /* the current job */
    nrt_range_fn fn;
    void* arg;
    size_t n, chunk, num_chunks;
};

static void run_chunks(nrt_threadpool* p) {
    for (;;) {
        size_t c = atomic_fetch_add_explicit(&p->next_chunk, 1, memory_order_relaxed);
        if (c >= p->num_chunks) return;
        size_t begin = c * p->chunk, end = begin + p->chunk;
        p->fn(p->arg, begin, end < p->n ? end : p->n);
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
            while ((gen = atomic_load(&p->generation)) == seen && !p->stop) pthread_cond_wait(&p->wake, &p->mu);
            bool stop = p->stop;
            pthread_mutex_unlock(&p->mu);
            if (stop) return NULL;
        }
        seen = gen;
        run_chunks(p);
        if (atomic_fetch_sub_explicit(&p->busy_workers, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
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
    atomic_init(&p->busy_workers, 0);
    atomic_init(&p->next_chunk, 0);
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
    p->fn = fn;
    p->arg = arg;
    p->n = n;
    p->chunk = (n + chunks - 1) / chunks;
    p->num_chunks = (n + p->chunk - 1) / p->chunk;
    atomic_store_explicit(&p->next_chunk, 0, memory_order_relaxed);
    atomic_store_explicit(&p->busy_workers, p->size - 1, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    run_chunks(p);
    for (int i = 0; i < SPIN_POLLS && atomic_load_explicit(&p->busy_workers, memory_order_acquire) > 0; i++) CPU_RELAX();
    if (atomic_load_explicit(&p->busy_workers, memory_order_acquire) > 0) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->busy_workers) > 0) pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}
