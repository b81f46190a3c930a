/* The arena planner, O(n log n) in the number of items n.
 *
 * Greedy by size, as TFLite's and ExecuTorch's planners: largest first, each
 * item goes into the lowest gap among the placed items whose lifetimes
 * overlap its own. Those are found in a treap of the placed items ordered by
 * first use that knows the latest last use below each node, so an item costs
 * O(log n) plus the number of items it overlaps. That number is small in
 * real graphs (the tensors alive at once), but a graph can keep thousands
 * alive together; when the overlaps seen exceed a budget linear in n, the
 * planner starts over in graph order instead: at each step the items whose
 * last use has passed give their bytes back and the items that start there
 * take the lowest free range that fits, largest first, with the free ranges
 * in a treap ordered by offset that knows the largest range below each node.
 * (In graph order, arenas of real models come out 15-20 % larger: it is the
 * fallback, not the rule.) */
#include "planner.h"

#include <stdint.h>
#include <stdlib.h>

#include "memory.h"
#include "model.h"

#define ALIGN 64
/* Overlaps the greedy pass may look at: OVERLAP_BUDGET_PER_ITEM per item plus a constant. */
#define OVERLAP_BUDGET_PER_ITEM 24
#define OVERLAP_BUDGET_BASE 500000

static size_t align_up(size_t x) { return (x + ALIGN - 1) / ALIGN * ALIGN; }

/* An empty tensor still gets a (64-byte) place: every item's range is non-empty. */
static size_t item_bytes(const nrt_plan_item* it) { return align_up(it->size ? it->size : 1); }

/* ---- a treap of (key, value) nodes that knows the largest value below each node ---- */

typedef struct treap_node {
    uint64_t key;
    size_t value, max_value;
    uint32_t priority;
    int left, right; /* -1: none */
} treap_node;

typedef struct treap {
    treap_node* node;
    int* spare; /* node indices not in use */
    int spare_count;
    int root;
    uint32_t counter;
} treap;

static size_t max_below(const treap* t, int i) { return i < 0 ? 0 : t->node[i].max_value; }

static void update(treap* t, int i) {
    treap_node* n = &t->node[i];
    size_t l = max_below(t, n->left), r = max_below(t, n->right);
    n->max_value = n->value > l ? n->value : l;
    if (r > n->max_value) n->max_value = r;
}

/* Splits i into the nodes with key < key and the rest. */
static void split(treap* t, int i, uint64_t key, int* lo, int* hi) {
    if (i < 0) {
        *lo = *hi = -1;
    } else if (t->node[i].key < key) {
        split(t, t->node[i].right, key, &t->node[i].right, hi);
        *lo = i;
        update(t, i);
    } else {
        split(t, t->node[i].left, key, lo, &t->node[i].left);
        *hi = i;
        update(t, i);
    }
}

/* Joins two treaps, every key in a below every key in b. */
static int merge(treap* t, int a, int b) {
    if (a < 0) return b;
    if (b < 0) return a;
    if (t->node[a].priority > t->node[b].priority) {
        t->node[a].right = merge(t, t->node[a].right, b);
        update(t, a);
        return a;
    }
    t->node[b].left = merge(t, a, t->node[b].left);
    update(t, b);
    return b;
}

static int new_node(treap* t, uint64_t key, size_t value) {
    int i = t->spare[--t->spare_count];
    uint32_t h = ++t->counter * 0x9e3779b9u; /* priorities: a hash of a counter (murmur3's finalizer) */
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    t->node[i] = (treap_node){key, value, value, h, -1, -1};
    return i;
}

static void insert(treap* t, uint64_t key, size_t value) {
    int lo, hi;
    split(t, t->root, key, &lo, &hi);
    t->root = merge(t, merge(t, lo, new_node(t, key, value)), hi);
}

/* Detaches the node with the largest key from i into *last (-1: i is empty); returns the rest. */
static int pop_last(treap* t, int i, int* last) {
    if (i < 0) {
        *last = -1;
        return -1;
    }
    if (t->node[i].right >= 0) {
        t->node[i].right = pop_last(t, t->node[i].right, last);
        update(t, i);
        return i;
    }
    int rest = t->node[i].left;
    *last = i;
    t->node[i].left = -1;
    update(t, i);
    return rest;
}

static int pop_first(treap* t, int i, int* first) {
    if (i < 0) {
        *first = -1;
        return -1;
    }
    if (t->node[i].left >= 0) {
        t->node[i].left = pop_first(t, t->node[i].left, first);
        update(t, i);
        return i;
    }
    int rest = t->node[i].right;
    *first = i;
    t->node[i].right = -1;
    update(t, i);
    return rest;
}

static bool treap_init(nrt_model* m, treap* t, size_t capacity) {
    *t = (treap){nrt_mem_alloc(m, sizeof *t->node * capacity), nrt_mem_alloc(m, sizeof *t->spare * capacity),
                 (int)capacity, -1, 0};
    for (size_t i = 0; t->spare && i < capacity; i++) t->spare[i] = (int)i;
    return t->node && t->spare;
}

static void treap_free(nrt_model* m, treap* t) {
    nrt_mem_free(m, t->node);
    nrt_mem_free(m, t->spare);
}

/* ---- greedy by size ---- */

/* Placed items: key (first use, index), value last use + 1 (0 = none below). */
static uint64_t interval_key(const nrt_plan_item* items, const nrt_plan_item* it) {
    return (uint64_t)(uint32_t)it->first << 32 | (uint64_t)(it - items);
}

typedef struct overlap_search {
    nrt_plan_item* items;
    int first, last;       /* the lifetime looked for */
    nrt_plan_item** found; /* the placed items overlapping it (at most n) */
    size_t count;
    size_t work, budget;   /* overlaps found so far, for all items; work may not exceed budget */
} overlap_search;

/* Adds the placed items of subtree i whose lifetimes overlap [first, last]; false when over budget. */
static bool overlapping(const treap* t, int i, overlap_search* s) {
    if (i < 0 || t->node[i].max_value < (size_t)s->first + 1) return true;
    const treap_node* n = &t->node[i];
    if (!overlapping(t, n->left, s)) return false;
    if ((int)(n->key >> 32) > s->last) return true;
    if (n->value >= (size_t)s->first + 1) {
        if (++s->work > s->budget) return false;
        s->found[s->count++] = &s->items[n->key & 0xffffffffu];
    }
    return overlapping(t, n->right, s);
}

static int by_size_desc(const void* a, const void* b) {
    const nrt_plan_item* x = *(nrt_plan_item* const*)a;
    const nrt_plan_item* y = *(nrt_plan_item* const*)b;
    if (x->size != y->size) return x->size < y->size ? 1 : -1;
    if (x->first != y->first) return x->first < y->first ? -1 : 1;
    return x < y ? -1 : (x > y);
}

static int by_offset(const void* a, const void* b) {
    const nrt_plan_item* x = *(nrt_plan_item* const*)a;
    const nrt_plan_item* y = *(nrt_plan_item* const*)b;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

/* False when the overlap budget ran out (the caller then plans in graph order). */
static bool plan_by_size(nrt_plan_item* items, size_t n, nrt_plan_item** order, treap* placed,
                         nrt_plan_item** found, size_t* total) {
    overlap_search s = {items, 0, 0, found, 0, 0, OVERLAP_BUDGET_PER_ITEM * n + OVERLAP_BUDGET_BASE};
    for (size_t i = 0; i < n; i++) order[i] = &items[i];
    qsort(order, n, sizeof *order, by_size_desc);
    for (size_t i = 0; i < n; i++) {
        nrt_plan_item* it = order[i];
        s.first = it->first;
        s.last = it->last;
        s.count = 0;
        if (!overlapping(placed, placed->root, &s)) return false;
        nrt_plan_item** live = found;
        size_t nlive = s.count;
        qsort(live, nlive, sizeof *live, by_offset);
        size_t need = item_bytes(it), candidate = 0;
        for (size_t j = 0; j < nlive; j++) {
            if (live[j]->offset >= candidate + need) break;
            size_t end = live[j]->offset + item_bytes(live[j]);
            if (end > candidate) candidate = end;
        }
        it->offset = candidate;
        if (candidate + need > *total) *total = candidate + need;
        insert(placed, interval_key(items, it), (size_t)it->last + 1);
    }
    return true;
}

/* ---- in graph order (the fallback) ---- */

/* Returns [offset, +size) to the free ranges (key offset, value size), merged with those it touches. */
static void give_back(treap* f, size_t offset, size_t size) {
    int lo, hi, prev, next;
    split(f, f->root, offset, &lo, &hi);
    lo = pop_last(f, lo, &prev);
    if (prev >= 0 && f->node[prev].key + f->node[prev].value == offset) {
        offset = f->node[prev].key;
        size += f->node[prev].value;
        f->spare[f->spare_count++] = prev;
    } else if (prev >= 0) {
        lo = merge(f, lo, prev);
    }
    hi = pop_first(f, hi, &next);
    if (next >= 0 && offset + size == f->node[next].key) {
        size = f->node[next].value == SIZE_MAX ? SIZE_MAX : size + f->node[next].value;
        f->spare[f->spare_count++] = next;
    } else if (next >= 0) {
        hi = merge(f, next, hi);
    }
    f->root = merge(f, merge(f, lo, new_node(f, offset, size)), hi);
}

/* Takes `need` bytes from the start of the lowest free range that fits
 * (there is one: the range past everything used is unbounded). */
static size_t take(treap* f, size_t need) {
    int i = f->root;
    for (;;) {
        const treap_node* n = &f->node[i];
        if (max_below(f, n->left) >= need) i = n->left;
        else if (n->value >= need) break;
        else i = n->right;
    }
    size_t offset = f->node[i].key, size = f->node[i].value;
    int lo, mid, hi;
    split(f, f->root, offset, &lo, &mid);
    split(f, mid, offset + 1, &mid, &hi);
    f->spare[f->spare_count++] = mid;
    if (size != need) hi = merge(f, new_node(f, offset + need, size == SIZE_MAX ? SIZE_MAX : size - need), hi);
    f->root = merge(f, lo, hi);
    return offset;
}

static int by_start(const void* a, const void* b) {
    const nrt_plan_item* x = *(nrt_plan_item* const*)a;
    const nrt_plan_item* y = *(nrt_plan_item* const*)b;
    if (x->first != y->first) return x->first < y->first ? -1 : 1;
    if (x->size != y->size) return x->size > y->size ? -1 : 1;
    return x < y ? -1 : (x > y);
}

static int by_end(const void* a, const void* b) {
    const nrt_plan_item* x = *(nrt_plan_item* const*)a;
    const nrt_plan_item* y = *(nrt_plan_item* const*)b;
    if (x->last != y->last) return x->last < y->last ? -1 : 1;
    return x < y ? -1 : (x > y);
}

static size_t plan_in_graph_order(nrt_plan_item* items, size_t n, nrt_plan_item** starts, nrt_plan_item** ends,
                                  treap* free_ranges) {
    size_t total = 0, e = 0;
    free_ranges->root = new_node(free_ranges, 0, SIZE_MAX);
    for (size_t i = 0; i < n; i++) starts[i] = ends[i] = &items[i];
    qsort(starts, n, sizeof *starts, by_start);
    qsort(ends, n, sizeof *ends, by_end);
    for (size_t s = 0; s < n; s++) {
        nrt_plan_item* it = starts[s];
        for (; e < n && ends[e]->last < it->first; e++) give_back(free_ranges, ends[e]->offset, item_bytes(ends[e]));
        size_t need = item_bytes(it);
        it->offset = take(free_ranges, need);
        if (it->offset + need > total) total = it->offset + need;
    }
    return total;
}

size_t nrt_plan_arena(nrt_model* m, nrt_plan_item* items, size_t n, bool separate) {
    size_t total = 0;
    if (separate) {
        for (size_t i = 0; i < n; i++) {
            items[i].offset = total;
            total += align_up(items[i].size);
        }
        return total;
    }
    if (n == 0) return 0;
    nrt_plan_item** order = nrt_mem_alloc(m, sizeof *order * n);
    nrt_plan_item** found = nrt_mem_alloc(m, sizeof *found * n);
    treap t;
    bool ok = order && found && treap_init(m, &t, n + 2);
    if (ok && !plan_by_size(items, n, order, &t, found, &total)) { /* over the overlap budget */
        treap_free(m, &t);
        total = 0;
        ok = treap_init(m, &t, n + 2);
        if (ok) total = plan_in_graph_order(items, n, order, found, &t);
    }
    if (order && found) treap_free(m, &t);
    if (!ok) total = (size_t)-1;
    nrt_mem_free(m, order);
    nrt_mem_free(m, found);
    return total;
}
