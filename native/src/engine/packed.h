/* Weights packed at load, shared: a FlatBuffers file can give one constant
 * to any number of operators, and each way of packing it is done and stored
 * once (counted in nrt_model_packed_weight_bytes once).
 *
 * An op names a packing by a key: its own tag for the layout and kernel, the
 * tensor indices of the constants it packs, and every other value the packed
 * bytes depend on (group, the kernel table, int8 scales), unused words 0. */
#ifndef NRT_PACKED_H
#define NRT_PACKED_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

typedef struct nrt_pack_key {
    uint64_t v[12];
} nrt_pack_key;

/* The bits of a float, for keys. */
static inline uint64_t nrt_pack_key_f32(float f) {
    uint32_t u;
    __builtin_memcpy(&u, &f, 4);
    return u;
}

/* The packing stored under key (and the op's word about it in *info), or
 * NULL when no op packed it yet. */
const void* nrt_packed_find(nrt_model* m, const nrt_pack_key* key, uint64_t* info);

/* Room for a new packing (64-byte aligned, counted by memory.h); the op
 * packs into it and hands it to nrt_packed_add, or frees it with
 * nrt_mem_free when packing fails. NULL when over the limit or out of memory. */
void* nrt_packed_alloc(nrt_model* m, size_t bytes);

/* Stores a packing under key; false (and data freed) when out of memory. */
bool nrt_packed_add(nrt_model* m, const nrt_pack_key* key, void* data, size_t bytes, uint64_t info);

/* At unload. */
void nrt_packed_free_all(nrt_model* m);

#endif
