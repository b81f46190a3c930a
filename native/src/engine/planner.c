#include "planner.h"

#include <stdint.h>
#include <stdlib.h>

#define ALIGN 64

static size_t align_up(size_t x) { return (x + ALIGN - 1) / ALIGN * ALIGN; }

static int by_size_desc(const void* a, const void* b) {
    const nrt_plan_item* x = *(nrt_plan_item* const*)a;
    const nrt_plan_item* y = *(nrt_plan_item* const*)b;
    if (x->size != y->size) return x->size < y->size ? 1 : -1;
    return x->first - y->first;
}

static int by_offset(const void* a, const void* b) {
    const nrt_plan_item* x = *(nrt_plan_item* const*)a;
    const nrt_plan_item* y = *(nrt_plan_item* const*)b;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

size_t nrt_plan_arena(nrt_plan_item* items, size_t n, bool separate) {
    size_t total = 0;
    if (separate) {
        for (size_t i = 0; i < n; i++) {
            items[i].offset = total;
            total += align_up(items[i].size);
        }
        return total;
    }
    nrt_plan_item** order = malloc(sizeof *order * (n ? n : 1));
    nrt_plan_item** live = malloc(sizeof *live * (n ? n : 1));
    if (!order || !live) {
        free(order);
        free(live);
        return (size_t)-1;
    }
    for (size_t i = 0; i < n; i++) order[i] = &items[i];
    qsort(order, n, sizeof *order, by_size_desc);
    /* Largest first: each item goes into the lowest gap between the already
     * placed items whose lifetimes overlap its own. */
    for (size_t i = 0; i < n; i++) {
        nrt_plan_item* it = order[i];
        size_t nlive = 0;
        for (size_t j = 0; j < i; j++)
            if (order[j]->first <= it->last && it->first <= order[j]->last) live[nlive++] = order[j];
        qsort(live, nlive, sizeof *live, by_offset);
        size_t need = align_up(it->size), candidate = 0;
        for (size_t j = 0; j < nlive; j++) {
            if (live[j]->offset >= candidate + need) break;
            size_t end = live[j]->offset + align_up(live[j]->size);
            if (end > candidate) candidate = end;
        }
        it->offset = candidate;
        if (candidate + need > total) total = candidate + need;
    }
    free(order);
    free(live);
    return total;
}
