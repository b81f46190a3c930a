/* Memory accounting: every byte the runtime allocates for a model beyond the
 * model file goes through these functions and is counted, so that one figure
 * can be checked against the options:
 *
 *   - while loading (the loader's tables, op parameters, packed weights), the
 *     load budget: NRT_LOAD_BYTES_PER_FILE_BYTE times the file's size plus
 *     NRT_LOAD_SLACK_BYTES, at most max_memory_bytes. FlatBuffers lets many
 *     references share one table or vector, so a small file could otherwise
 *     describe gigabytes of in-memory graph;
 *   - after loading, everything together (the above, op state, tensors
 *     computed at prepare, the arena) against max_memory_bytes; the arena and
 *     the tensors computed at prepare also against max_arena_bytes
 *     (prepare.c).
 *
 * An allocation over the limit fails like an allocation the system refuses;
 * the engine then reports it as NRT_ERR_LIMIT (nrt_mem_status). */
#ifndef NRT_MEMORY_H
#define NRT_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nanort.h"

#define NRT_LOAD_BYTES_PER_FILE_BYTE 16
#define NRT_LOAD_SLACK_BYTES ((size_t)64 << 20)

typedef struct nrt_memory {
    size_t used;     /* bytes allocated now */
    size_t limit;    /* used may not exceed it */
    size_t refused;  /* the size of an allocation refused for the limit, until nrt_mem_status reports it (0: none) */
} nrt_memory;

typedef struct nrt_model nrt_model;

/* Counted memory, NULL when over the limit or out of memory:
 * nrt_mem_alloc zeroed and 16-byte aligned (parameters, state, tables),
 * nrt_mem_alloc_block 64-byte aligned and not zeroed (arena, tensor data,
 * packed weights: pages untouched until used). */
void* nrt_mem_alloc(nrt_model* m, size_t bytes);
void* nrt_mem_alloc_block(nrt_model* m, size_t bytes);
/* Frees what nrt_mem_alloc* returned (NULL is fine). */
void nrt_mem_free(nrt_model* m, void* p);

/* The status for a failed allocation: NRT_ERR_LIMIT with a message naming
 * the limit when the accounting refused it (the message then replaces the
 * caller's), else `st` unchanged. */
nrt_status nrt_mem_status(nrt_model* m, nrt_status st);

/* Whether an allocation was refused for the limit and not yet reported;
 * clearing forgets it. A subgraph's model shares its root's accounting. */
bool nrt_mem_refused(nrt_model* m);
void nrt_mem_clear_refused(nrt_model* m);

#endif
