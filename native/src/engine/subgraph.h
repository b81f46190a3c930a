/* Subgraphs: the bodies of If / Loop / Scan are further graphs of the file,
 * each loaded as a child model that shares its parent's file mapping,
 * options, kernel level and thread pool, and has its own tensors, arena and
 * plan. The op that owns a child sets the child's input shapes, prepares it,
 * copies input values in, invokes it and reads its outputs.
 *
 * Loading is bounded: at most NRT_MAX_SUBGRAPH_DEPTH levels of nesting and
 * NRT_MAX_LOADED_ITEMS tensors + operators over the main graph and every
 * subgraph it loads (a graph used by several ops is loaded once per use). */
#ifndef NRT_SUBGRAPH_H
#define NRT_SUBGRAPH_H

#include "op.h"

#define NRT_MAX_SUBGRAPH_DEPTH 16
#define NRT_MAX_LOADED_ITEMS 2000000

/* In parse: loads graph `index` of the file as a child of ctx->model. */
nrt_status nrt_subgraph_load(nrt_ctx* ctx, uint32_t index, nrt_model** out);
/* Child input i: dtype check and shape; static_data non-NULL makes it a value
 * known before invoke (used in place, must outlive the child's next prepare). */
nrt_status nrt_subgraph_shape_input(nrt_ctx* ctx, nrt_model* child, int i, const nrt_tensor* like,
                                    const void* static_data);
/* True when child input i's current shape equals like's. */
bool nrt_subgraph_input_fits(const nrt_model* child, int i, const nrt_tensor* like);
nrt_status nrt_subgraph_prepare(nrt_ctx* ctx, nrt_model* child);
/* Copies the value of child input i in (nothing for a static input). */
void nrt_subgraph_copy_input(nrt_model* child, int i, const void* data);
nrt_status nrt_subgraph_invoke(nrt_ctx* ctx, nrt_model* child);
static inline nrt_tensor* nrt_subgraph_input(nrt_model* child, int i) { return &child->tensors[child->inputs[i]]; }
static inline nrt_tensor* nrt_subgraph_output(nrt_model* child, int i) { return &child->tensors[child->outputs[i]]; }
/* Engine (nrt_unload): frees the children of m. */
void nrt_subgraph_free_all(nrt_model* m);

#endif
