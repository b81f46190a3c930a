/* How kernels and drivers run work on several threads without knowing the
 * engine: the caller hands them this (the engine's thread pool, or a serial
 * one in a test), as XNNPACK's microkernels get a pthreadpool. */
#ifndef NRT_THREADS_H
#define NRT_THREADS_H

#include <stddef.h>

/* Computes items [begin, end) of a job. */
typedef void (*nrt_task_fn)(void* arg, size_t begin, size_t end);

typedef struct nrt_threads {
    /* Runs fn over [0, n) split into contiguous ranges; `grain` is the
     * smallest range worth giving a thread. */
    void (*parallel_for)(void* pool, size_t n, size_t grain, nrt_task_fn fn, void* arg);
    void* pool;
    int count; /* threads that may run ranges at once */
} nrt_threads;

static inline void nrt_threads_run(const nrt_threads* t, size_t n, size_t grain, nrt_task_fn fn, void* arg) {
    t->parallel_for(t->pool, n, grain, fn, arg);
}

#endif
