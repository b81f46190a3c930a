#include "memory.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

/* Each block starts with a header of `align` bytes whose last 16 hold the
 * block's size and alignment. */
typedef struct block_tail {
    size_t bytes, align;
} block_tail;

/* A subgraph's memory counts against its root model's limits: the file
 * may name one subgraph from many nodes, each loading a copy of it. */
static nrt_memory* account(nrt_model* m) { return m->root ? &m->root->mem : &m->mem; }

static void* counted_alloc(nrt_model* m, size_t bytes, size_t align, bool zero) {
    nrt_memory* a = account(m);
    size_t total = (bytes + align - 1) / align * align + align;
    if (total < bytes || total > a->limit || a->used > a->limit - total) {
        a->refused = bytes ? bytes : 1;
        return NULL;
    }
    void* raw = NULL; /* (posix_memalign, not aligned_alloc: see nrt_alloc_aligned64) */
    if (posix_memalign(&raw, align, total) != 0) return NULL;
    uint8_t* base = raw;
    if (zero) memset(base, 0, total);
    uint8_t* p = base + align;
    block_tail tail = {total, align};
    memcpy(p - sizeof tail, &tail, sizeof tail);
    a->used += total;
    return p;
}

void* nrt_mem_alloc(nrt_model* m, size_t bytes) { return counted_alloc(m, bytes, sizeof(block_tail), true); }
void* nrt_mem_alloc_block(nrt_model* m, size_t bytes) { return counted_alloc(m, bytes, 64, false); }

void nrt_mem_free(nrt_model* m, void* p) {
    if (!p) return;
    block_tail tail;
    memcpy(&tail, (uint8_t*)p - sizeof tail, sizeof tail);
    account(m)->used -= tail.bytes;
    free((uint8_t*)p - tail.align);
}

bool nrt_mem_refused(nrt_model* m) { return account(m)->refused != 0; }

void nrt_mem_clear_refused(nrt_model* m) { account(m)->refused = 0; }

nrt_status nrt_mem_status(nrt_model* m, nrt_status st) {
    nrt_memory* a = account(m);
    if (!a->refused) return st;
    /* Keep what the caller said up to its "out of memory" (it names the operator). */
    char where[256] = "";
    const char* oom = strstr(m->error, "out of memory");
    if (oom && oom > m->error) snprintf(where, sizeof where, "%.*s", (int)(oom - m->error), m->error);
    if (a->limit < m->opts.max_memory_bytes)
        nrt_set_error(m, "%s%zu more bytes would exceed the load budget of %zu bytes (16 x the file's size + 64 MiB, "
                      "%zu in use): the file describes far more in-memory structure than its size (tables or "
                      "vectors shared by many references?)", where, a->refused, a->limit, a->used);
    else
        nrt_set_error(m, "%s%zu more bytes would exceed the memory limit of %zu bytes (%zu in use); raise "
                      "nrt_options.max_memory_bytes if the model needs it", where, a->refused, a->limit,
                      a->used);
    a->refused = 0;
    return NRT_ERR_LIMIT;
}
