#include "packed.h"

#include <string.h>

/* An open-addressing hash table of the packings (operators are many and
 * each looks its packing up once at load). */
typedef struct packed_entry {
    nrt_pack_key key;
    void* data; /* NULL: empty slot */
    uint64_t info;
} packed_entry;

struct nrt_packed_weights {
    packed_entry* slots;
    size_t capacity, count; /* capacity: a power of two */
};

static uint64_t key_hash(const nrt_pack_key* k) {
    uint64_t h = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 12; i++) {
        h ^= k->v[i];
        h *= 0xff51afd7ed558ccdu;
        h ^= h >> 32;
    }
    return h;
}

static packed_entry* slot_for(packed_entry* slots, size_t capacity, const nrt_pack_key* key) {
    for (size_t i = key_hash(key) & (capacity - 1);; i = (i + 1) & (capacity - 1))
        if (!slots[i].data || memcmp(&slots[i].key, key, sizeof *key) == 0) return &slots[i];
}

const void* nrt_packed_find(nrt_model* m, const nrt_pack_key* key, uint64_t* info) {
    if (!m->packed || !m->packed->count) return NULL;
    const packed_entry* e = slot_for(m->packed->slots, m->packed->capacity, key);
    if (!e->data) return NULL;
    *info = e->info;
    return e->data;
}

void* nrt_packed_alloc(nrt_model* m, size_t bytes) { return nrt_mem_alloc_block(m, bytes ? bytes : 1); }

/* Keeps the table at most half full. */
static bool reserve(nrt_model* m) {
    nrt_packed_weights* t = m->packed;
    if (!t && !(t = m->packed = nrt_mem_alloc(m, sizeof *t))) return false;
    if (2 * (t->count + 1) <= t->capacity) return true;
    size_t capacity = t->capacity ? 2 * t->capacity : 16;
    packed_entry* slots = nrt_mem_alloc(m, capacity * sizeof *slots);
    if (!slots) return false;
    for (size_t i = 0; i < t->capacity; i++)
        if (t->slots[i].data) *slot_for(slots, capacity, &t->slots[i].key) = t->slots[i];
    nrt_mem_free(m, t->slots);
    t->slots = slots;
    t->capacity = capacity;
    return true;
}

bool nrt_packed_add(nrt_model* m, const nrt_pack_key* key, void* data, size_t bytes, uint64_t info) {
    if (!reserve(m)) {
        nrt_mem_free(m, data);
        return false;
    }
    *slot_for(m->packed->slots, m->packed->capacity, key) = (packed_entry){*key, data, info};
    m->packed->count++;
    m->packed_weight_bytes += bytes;
    return true;
}

void nrt_packed_free_all(nrt_model* m) {
    nrt_packed_weights* t = m->packed;
    for (size_t i = 0; t && i < t->capacity; i++) nrt_mem_free(m, t->slots[i].data);
    if (t) nrt_mem_free(m, t->slots);
    nrt_mem_free(m, t);
    m->packed = NULL;
    m->packed_weight_bytes = 0;
}
