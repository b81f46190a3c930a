/* Arena memory planner: places every activation tensor and per-node scratch
 * buffer at an offset in one arena so that buffers whose lifetimes overlap
 * never share bytes, keeping the arena small, in O(n log n) (planner.c). */
#ifndef NRT_PLANNER_H
#define NRT_PLANNER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct nrt_plan_item {
    size_t size;
    int first, last;   /* node indices of the first and last use, inclusive */
    size_t offset;     /* result */
} nrt_plan_item;

typedef struct nrt_model nrt_model;

/* Assigns offsets (64-byte aligned); returns the arena size, or (size_t)-1 on
 * allocation failure (memory counted for m). `separate` gives every item its
 * own bytes. */
size_t nrt_plan_arena(nrt_model* m, nrt_plan_item* items, size_t n, bool separate);

#endif
