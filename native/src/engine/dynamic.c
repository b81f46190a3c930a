/* Data-dependent shapes: see dynamic.h. */
#include "dynamic.h"

#include <stdlib.h>

struct nrt_dynamic_block {
    nrt_dynamic_block* next;
    max_align_t pad_;
};

void* nrt_dynamic_alloc(nrt_model* m, size_t bytes) {
    size_t header = (sizeof(nrt_dynamic_block) + 63) / 64 * 64;
    if (bytes > SIZE_MAX - header - 64) return NULL;
    nrt_dynamic_block* b = nrt_alloc_aligned64(header + (bytes + 63) / 64 * 64);
    if (!b) return NULL;
    b->next = m->dynamic_blocks;
    m->dynamic_blocks = b;
    return (uint8_t*)b + header;
}

void nrt_dynamic_reset(nrt_model* m) {
    while (m->dynamic_blocks) {
        nrt_dynamic_block* next = m->dynamic_blocks->next;
        free(m->dynamic_blocks);
        m->dynamic_blocks = next;
    }
    for (int i = 0; m->tensors && i < m->num_tensors; i++)
        if (m->tensors[i].dynamic) m->tensors[i].data = NULL;
}

void nrt_defer_shape(nrt_ctx* ctx, nrt_tensor* t, int rank) {
    (void)ctx;
    t->rank = rank;
    for (int d = 0; d < NRT_MAX_RANK; d++) t->dims[d] = d < rank ? 0 : 1;
    t->nbytes = 0;
    t->shape_known = true;
    t->dynamic = t->deferred = true;
}

nrt_status nrt_set_dynamic_shape(nrt_ctx* ctx, nrt_tensor* t, int rank, const int64_t* dims) {
    nrt_status st = nrt_set_shape(ctx, t, rank, dims);
    if (st != NRT_OK) return st;
    /* non-NULL even when empty, like a constant's */
    if (!(t->data = nrt_dynamic_alloc(ctx->model, t->nbytes ? t->nbytes : 1)))
        return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory for %zu bytes of %s", t->nbytes, t->name);
    t->kind = NRT_TENSOR_STATIC; /* known before any later node's (late) prepare */
    return NRT_OK;
}

nrt_status nrt_value_at_invoke(nrt_ctx* ctx, const nrt_tensor* t, const char* role) {
    ctx->node->needs_value = true;
    return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "%s %s is computed at run time", role, t->name);
}

bool nrt_is_late(const nrt_model* m, const nrt_node* n) {
    for (int k = 0; k < n->num_inputs; k++)
        if (n->inputs[k] >= 0 && m->tensors[n->inputs[k]].dynamic) return true;
    return false;
}

void nrt_mark_late(nrt_model* m, nrt_node* n) {
    n->late = true;
    for (int k = 0; k < n->num_outputs; k++) {
        nrt_tensor* t = &m->tensors[n->outputs[k]];
        t->rank = t->decl_rank;
        for (int d = 0; d < NRT_MAX_RANK; d++) t->dims[d] = d < t->decl_rank && t->decl_dims[d] >= 0 ? t->decl_dims[d] : 0;
        t->nbytes = 0;
        t->shape_known = true;
        t->dynamic = true;
    }
}

nrt_status nrt_prepare_late(nrt_ctx* ctx) {
    nrt_model* m = ctx->model;
    nrt_node* n = ctx->node;
    for (int k = 0; k < n->num_outputs; k++) {
        nrt_tensor* t = &m->tensors[n->outputs[k]];
        t->deferred = false;
        t->shape_known = false;
    }
    n->scratch_bytes = 0;
    /* Every input has been computed by now: the op may read any of them as
     * a known value (kind restored after, for the arena's bookkeeping). */
    uint8_t kinds[64];
    int marked = n->num_inputs < 64 ? n->num_inputs : 64;
    for (int k = 0; k < marked; k++) {
        nrt_tensor* t = n->inputs[k] >= 0 ? &m->tensors[n->inputs[k]] : NULL;
        kinds[k] = t ? t->kind : 0;
        if (t && t->kind == NRT_TENSOR_ACTIVATION) t->kind = NRT_TENSOR_STATIC;
    }
    nrt_status st = n->def->prepare(ctx);
    for (int k = marked - 1; k >= 0; k--) /* (backwards: an input read twice gets its first saved kind) */
        if (n->inputs[k] >= 0) m->tensors[n->inputs[k]].kind = kinds[k];
    if (st != NRT_OK) return st;
    for (int k = 0; k < n->num_outputs; k++) {
        nrt_tensor* t = &m->tensors[n->outputs[k]];
        if (!t->shape_known) return nrt_op_fail(ctx, NRT_ERR_INTERNAL, "output %d has no shape after prepare", k);
        t->dynamic = true;
        if (!t->deferred && (st = nrt_set_dynamic_shape(ctx, t, t->rank, t->dims)) != NRT_OK) return st;
    }
    if (n->scratch_bytes && !(n->scratch = nrt_dynamic_alloc(m, n->scratch_bytes)))
        return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory for %zu bytes of scratch", n->scratch_bytes);
    return NRT_OK;
}
