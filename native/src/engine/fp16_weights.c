#include "fp16_weights.h"

#include <string.h>

#include "../kernels/f16.h"
#include "memory.h"
#include "sparse.h"
#include "nanort_schema.h"

/* Whether input k of node n is a weight slot of a float32 op: the constant
 * operand of a Conv / ConvTranspose / FullyConnected (input 1) or of a MatMul
 * (either input, the other being a float32 activation). */
static bool is_f32_weight_slot(const nrt_model* m, const nrt_node* n, int k) {
    int other;
    switch (n->op) {
    case NRT_FB_OpType_Conv:
    case NRT_FB_OpType_ConvTranspose:
    case NRT_FB_OpType_FullyConnected:
        if (k != 1) return false;
        other = 0;
        break;
    case NRT_FB_OpType_MatMul:
        if (k > 1) return false;
        other = 1 - k;
        break;
    default:
        return false;
    }
    return other < n->num_inputs && n->inputs[other] >= 0 && m->tensors[n->inputs[other]].dtype == NRT_FLOAT32;
}

static nrt_status widen(nrt_model* m, nrt_tensor* t) {
    size_t count = t->nbytes / 2, bytes = count * 4;
    if (bytes > m->opts.max_arena_bytes || m->packed_weight_bytes > m->opts.max_arena_bytes - bytes)
        return nrt_fail(m, NRT_ERR_LIMIT, "tensor %s: widening float16 weights to %zu bytes exceeds the memory limit",
                        t->name ? t->name : "?", bytes);
    float* wide = nrt_mem_alloc_block(m, bytes); /* (counted; freed with the tensor: nrt_sparse_free) */
    if (!wide)
        return nrt_mem_status(m, nrt_fail(m, NRT_ERR_OUT_OF_MEMORY, "tensor %s: out of memory widening float16 weights",
                                          t->name ? t->name : "?"));
    const uint8_t* half = t->data;
    for (size_t i = 0; i < count; i++) {
        uint16_t h;
        memcpy(&h, half + 2 * i, 2);
        wide[i] = nrt_f16_to_f32(h);
    }
    /* A sparse weight's float16 dense copy goes once widened, and so does its
     * sparse record, whose kept values are float16: the float32 sparse kernels
     * would read them as float32 (and pay only at the reference level). */
    if (t->sparse) {
        m->packed_weight_bytes -= t->nbytes;
        nrt_sparse_free(m, t);
    }
    t->owned_data = wide;
    t->data = wide;
    t->nbytes = bytes;
    t->dtype = NRT_FLOAT32;
    m->packed_weight_bytes += bytes;
    return NRT_OK;
}

nrt_status nrt_widen_fp16_weights(nrt_model* m) {
    /* per tensor: readers, and readers that read it as a float32 weight */
    int* counts = calloc((size_t)(m->num_tensors ? m->num_tensors : 1) * 2, sizeof *counts);
    if (!counts) return nrt_fail(m, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < m->num_nodes; i++) {
        const nrt_node* n = &m->nodes[i];
        for (int k = 0; k < n->num_inputs; k++) {
            if (n->inputs[k] < 0) continue;
            counts[2 * n->inputs[k]]++;
            if (is_f32_weight_slot(m, n, k)) counts[2 * n->inputs[k] + 1]++;
        }
    }
    nrt_status st = NRT_OK;
    for (int i = 0; i < m->num_tensors && st == NRT_OK; i++) {
        nrt_tensor* t = &m->tensors[i];
        if (t->kind != NRT_TENSOR_CONSTANT || t->dtype != NRT_FLOAT16 || t->is_output ||
            counts[2 * i] == 0 || counts[2 * i + 1] != counts[2 * i])
            continue;
        st = widen(m, t);
    }
    free(counts);
    return st;
}
