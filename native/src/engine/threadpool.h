/* A small persistent thread pool: the calling thread plus n-1 workers that
 * sleep between parallel regions. One pool per model (no global state). */
#ifndef NRT_THREADPOOL_H
#define NRT_THREADPOOL_H

#include <stddef.h>

typedef void (*nrt_range_fn)(void* arg, size_t begin, size_t end);
typedef struct nrt_threadpool nrt_threadpool;

/* NULL on failure. num_threads counts the caller. */
nrt_threadpool* nrt_threadpool_create(int num_threads);
void nrt_threadpool_free(nrt_threadpool* pool);
int nrt_threadpool_size(const nrt_threadpool* pool);
/* Calls fn on chunks of [0, n) of at least `grain` items, in parallel; returns when all are done. */
void nrt_threadpool_run(nrt_threadpool* pool, size_t n, size_t grain, nrt_range_fn fn, void* arg);

#endif
