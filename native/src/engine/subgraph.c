/* Subgraphs as child models: see subgraph.h. */
#include "subgraph.h"

#include <stdlib.h>
#include <string.h>

#include "../kernels/dtype.h"

nrt_status nrt_subgraph_load(nrt_ctx* ctx, uint32_t index, nrt_model** out) {
    nrt_model* m = ctx->model;
    *out = NULL;
    if (index == 0) /* (other cycles end at the depth limit) */
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "subgraph index 0 names the main graph");
    if (m->depth + 1 > NRT_MAX_SUBGRAPH_DEPTH)
        return nrt_op_fail(ctx, NRT_ERR_LIMIT, "subgraphs nest deeper than %d levels", NRT_MAX_SUBGRAPH_DEPTH);
    nrt_model** grown = realloc(m->children, sizeof *grown * (size_t)(m->num_children + 1));
    nrt_model* child = calloc(1, sizeof *child);
    if (grown) m->children = grown;
    if (!grown || !child) {
        free(child);
        return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    }
    m->children[m->num_children++] = child; /* owned from here on, whatever the load gives */
    atomic_flag_clear(&child->busy);
    child->opts = m->opts;
    child->isa = m->isa;
    child->kernels = m->kernels;
    child->map = m->map;
    child->map_size = m->map_size;
    child->map_kind = 0; /* the parent's mapping: never unmapped through the child */
    child->fb = m->fb;
    child->pool = m->pool;
    child->graph_index = (int)index;
    child->depth = m->depth + 1;
    child->root = m->root ? m->root : m;
    child->scanned = m->scanned; /* one count of the file's bytes read, however often a graph is named */
    nrt_status st = nrt_load(child);
    m->scanned = child->scanned;
    if (st != NRT_OK && strstr(child->error, "subgraph ")) { /* nested: the innermost message says it all */
        nrt_set_error(m, "%s", child->error);
        return st;
    }
    if (st != NRT_OK) return nrt_op_fail(ctx, st, "subgraph %u: %s", index, child->error);
    *out = child;
    return NRT_OK;
}

nrt_status nrt_subgraph_shape_input(nrt_ctx* ctx, nrt_model* child, int i, const nrt_tensor* like,
                                    const void* static_data) {
    nrt_tensor* t = nrt_subgraph_input(child, i);
    if (t->dtype != like->dtype)
        return nrt_op_fail(ctx, NRT_ERR_DTYPE, "subgraph input %s is %s, given %s (%s)", t->name,
                           nrt_dtype_name(t->dtype), like->name, nrt_dtype_name(like->dtype));
    if (t->decl_rank != like->rank)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "subgraph input %s has rank %d, given %s of rank %d", t->name,
                           t->decl_rank, like->name, like->rank);
    for (int d = 0; d < like->rank; d++)
        if (t->decl_dims[d] >= 0 && t->decl_dims[d] != like->dims[d])
            return nrt_op_fail(ctx, NRT_ERR_SHAPE, "subgraph input %s: dimension %d must be %lld, given %lld",
                               t->name, d, (long long)t->decl_dims[d], (long long)like->dims[d]);
    t->rank = like->rank;
    for (int d = 0; d < NRT_MAX_RANK; d++) t->dims[d] = like->dims[d];
    t->shape_known = true;
    t->static_input = static_data != NULL;
    t->kind = static_data ? NRT_TENSOR_STATIC : NRT_TENSOR_ACTIVATION;
    t->data = (void*)static_data;
    child->prepared = false;
    return NRT_OK;
}

bool nrt_subgraph_input_fits(const nrt_model* child, int i, const nrt_tensor* like) {
    const nrt_tensor* t = &child->tensors[child->inputs[i]];
    if (!t->shape_known || t->rank != like->rank) return false;
    for (int d = 0; d < t->rank; d++)
        if (t->dims[d] != like->dims[d]) return false;
    return true;
}

nrt_status nrt_subgraph_prepare(nrt_ctx* ctx, nrt_model* child) {
    child->pool = ctx->model->pool; /* (the parent's pool changes with its thread count) */
    child->opts.num_threads = ctx->model->opts.num_threads;
    nrt_status st = nrt_prepare(child);
    return st == NRT_OK ? st : nrt_op_fail(ctx, st, "subgraph %d: %s", child->graph_index, child->error);
}

void nrt_subgraph_copy_input(nrt_model* child, int i, const void* data) {
    nrt_tensor* t = nrt_subgraph_input(child, i);
    if (!t->static_input && t->nbytes && t->data != data) memmove(t->data, data, t->nbytes);
}

nrt_status nrt_subgraph_invoke(nrt_ctx* ctx, nrt_model* child) {
    child->pool = ctx->model->pool;
    nrt_status st = nrt_invoke(child);
    return st == NRT_OK ? st : nrt_op_fail(ctx, st, "subgraph %d: %s", child->graph_index, child->error);
}

void nrt_subgraph_free_all(nrt_model* m) {
    for (int i = 0; i < m->num_children; i++) {
        nrt_model* child = m->children[i];
        nrt_unload(child);
        nrt_mem_free(child, child->arena);
        free(child);
    }
    free(m->children);
    m->children = NULL;
    m->num_children = 0;
}
