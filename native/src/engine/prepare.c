/* Prepare: propagate shapes through the graph, evaluate the shape arithmetic
 * that dynamic models carry (Shape -> Gather -> Concat -> Reshape ...) once,
 * plan the activation arena, and point every tensor at its memory. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dynamic.h"
#include "op.h"
#include "planner.h"

/* Outputs up to this size whose inputs are all known before invoke are
 * computed during prepare (shape tensors); larger ones run at invoke. */
#define STATIC_EVAL_MAX_BYTES 65536

struct nrt_static_block {
    nrt_static_block* next;
};

#define STATIC_HEADER ((sizeof(nrt_static_block) + 63) / 64 * 64)

/* Memory of a tensor computed at prepare: activation memory like the arena,
 * so counted against max_arena_bytes with it (plan). */
static nrt_status static_alloc(nrt_model* m, size_t bytes, void** out) {
    size_t size = STATIC_HEADER + (bytes + 63) / 64 * 64;
    if (size < bytes || m->static_bytes + size > m->opts.max_arena_bytes)
        return nrt_fail(m, NRT_ERR_LIMIT, "tensors computed at prepare need over %llu bytes, the activation "
                        "memory limit (nrt_options.max_arena_bytes)", (unsigned long long)m->opts.max_arena_bytes);
    nrt_static_block* b = nrt_mem_alloc_block(m, size);
    if (!b) return nrt_mem_status(m, nrt_fail(m, NRT_ERR_OUT_OF_MEMORY, "out of memory"));
    b->next = m->static_blocks;
    m->static_blocks = b;
    m->static_bytes += size;
    *out = (uint8_t*)b + STATIC_HEADER;
    return NRT_OK;
}

void nrt_release_prepared(nrt_model* m) {
    for (int i = 0; m->nodes && i < m->num_nodes; i++) {
        nrt_node* n = &m->nodes[i];
        if (n->state && n->def->release) n->def->release(n);
        nrt_mem_free(m, n->state);
        n->state = NULL;
        n->scratch_bytes = 0;
        n->scratch = NULL;
        n->static_eval = n->late = n->fused = false;
    }
    for (int i = 0; m->tensors && i < m->num_tensors; i++) m->tensors[i].elided = false;
    nrt_dynamic_reset(m);
    while (m->static_blocks) {
        nrt_static_block* next = m->static_blocks->next;
        nrt_mem_free(m, m->static_blocks);
        m->static_blocks = next;
    }
    m->static_bytes = 0;
    m->prepared = false;
}

static nrt_status reset_shapes(nrt_model* m) {
    for (int i = 0; i < m->num_tensors; i++) {
        nrt_tensor* t = &m->tensors[i];
        if (t->kind == NRT_TENSOR_STATIC && !t->static_input) t->kind = NRT_TENSOR_ACTIVATION;
        if (t->kind == NRT_TENSOR_ACTIVATION && !t->is_input) {
            t->shape_known = false;
            t->data = NULL;
            t->dynamic = t->deferred = false;
        }
    }
    for (int i = 0; i < m->num_inputs; i++) {
        nrt_tensor* t = &m->tensors[m->inputs[i]];
        if (!t->shape_known) {
            for (int d = 0; d < t->decl_rank; d++)
                if (t->decl_dims[d] < 0)
                    return nrt_fail(m, NRT_ERR_SHAPE,
                                    "input %s has dynamic dimension %d: set its shape (resize the input) first",
                                    t->name, d);
            t->rank = t->decl_rank;
            memcpy(t->dims, t->decl_dims, sizeof t->dims);
            t->shape_known = true;
        }
        nrt_ctx ctx = {m, NULL, -1};
        nrt_status st = nrt_set_shape(&ctx, t, t->rank, t->dims);
        if (st != NRT_OK) return st;
    }
    return NRT_OK;
}

static bool can_eval_statically(nrt_model* m, nrt_node* n) {
    if (n->def->flags & NRT_OP_SHAPE_ONLY) return true;
    size_t bytes = 0;
    for (int k = 0; k < n->num_inputs; k++)
        if (n->inputs[k] >= 0 && !nrt_is_static(&m->tensors[n->inputs[k]])) return false;
    for (int k = 0; k < n->num_outputs; k++) {
        const nrt_tensor* t = &m->tensors[n->outputs[k]];
        bytes += t->nbytes;
        if (t->is_output && t->nbytes > 1024) return false;
    }
    return bytes <= STATIC_EVAL_MAX_BYTES;
}

static nrt_status eval_statically(nrt_model* m, nrt_ctx* ctx) {
    nrt_node* n = ctx->node;
    nrt_status st;
    for (int k = 0; k < n->num_outputs; k++) {
        nrt_tensor* t = &m->tensors[n->outputs[k]];
        if ((st = static_alloc(m, t->nbytes, &t->data)) != NRT_OK) return st;
        t->kind = NRT_TENSOR_STATIC;
    }
    if (n->scratch_bytes && (st = static_alloc(m, n->scratch_bytes, &n->scratch)) != NRT_OK) return st;
    n->static_eval = true;
    return n->def->eval(ctx);
}

static nrt_status propagate(nrt_model* m) {
    for (int i = 0; i < m->num_nodes; i++) {
        nrt_node* n = &m->nodes[i];
        nrt_ctx ctx = {m, n, i};
        if (nrt_is_late(m, n)) {
            nrt_mark_late(m, n);
            continue;
        }
        n->needs_value = false;
        nrt_status st = n->def->prepare(&ctx);
        if (st != NRT_OK && n->needs_value) { /* a shape from values computed at invoke */
            nrt_mark_late(m, n);
            continue;
        }
        if (st != NRT_OK) return nrt_mem_status(m, st);
        bool deferred = false;
        for (int k = 0; k < n->num_outputs; k++) {
            if (!m->tensors[n->outputs[k]].shape_known)
                return nrt_op_fail(&ctx, NRT_ERR_INTERNAL, "output %d has no shape after prepare", k);
            deferred |= m->tensors[n->outputs[k]].deferred;
        }
        if (!deferred && can_eval_statically(m, n) && (st = eval_statically(m, &ctx)) != NRT_OK) return st;
    }
    return NRT_OK;
}

/* A Lut whose int8 input is written by an op that can apply the table as it
 * writes (fuse_lut) and read by nothing else: that op writes the Lut's output
 * and the input is never materialized (nrt_fuse_lut_fn). Not across late or
 * statically evaluated nodes. */
static void fuse_luts(nrt_model* m, const int* readers) {
    for (int i = 0; i < m->num_nodes; i++) {
        nrt_node* lut = &m->nodes[i];
        if (lut->op != NRT_FB_OpType_Lut || lut->static_eval || lut->late || lut->num_inputs != 2 ||
            lut->inputs[0] < 0 || lut->inputs[1] < 0)
            continue;
        nrt_tensor *x = &m->tensors[lut->inputs[0]], *table = &m->tensors[lut->inputs[1]];
        nrt_tensor* y = &m->tensors[lut->outputs[0]];
        if (x->dtype != NRT_INT8 || table->dtype != NRT_INT8 || y->dtype != NRT_INT8 || !nrt_is_static(table) ||
            x->kind != NRT_TENSOR_ACTIVATION || x->producer < 0 || x->is_output || x->bound || x->dynamic ||
            readers[lut->inputs[0]] != 1 || y->dynamic)
            continue;
        nrt_node* p = &m->nodes[x->producer];
        nrt_fuse_lut_fn fuse = nrt_op_fuse_lut(p->op);
        if (!fuse || p->static_eval || p->late || p->outputs[0] != lut->inputs[0]) continue;
        nrt_ctx ctx = {m, p, x->producer};
        if (fuse(&ctx, table->data, lut->outputs[0])) {
            lut->fused = true;
            lut->fused_into = x->producer;
            x->elided = true;
        }
    }
}

/* A tensor only node `reader` reads, that its producer may write elsewhere
 * (no caller, graph output or invoke-time size holds on to it). */
static bool private_result(const nrt_model* m, const int* readers, int t) {
    const nrt_tensor* x = &m->tensors[t];
    return x->kind == NRT_TENSOR_ACTIVATION && x->producer >= 0 && !x->is_output && !x->bound && !x->dynamic &&
           readers[t] == 1 && !m->nodes[x->producer].static_eval && !m->nodes[x->producer].late &&
           !m->nodes[x->producer].fused;
}

/* The shortcut a residual Add's other operand gives node `conv`: `other`
 * itself, or, when other is a zero-channel Pad's output read by nothing
 * else, that Pad's input (*pad: the Pad node, else -1); -1 when the conv
 * cannot read it (it is written after the conv runs). */
static int shortcut_of(const nrt_model* m, const int* readers, int other, int conv, int* pad) {
    *pad = -1;
    const nrt_tensor* o = &m->tensors[other];
    if (private_result(m, readers, other) && nrt_pad_is_zero_tail(m, &m->nodes[o->producer])) {
        *pad = o->producer;
        other = m->nodes[o->producer].inputs[0];
    }
    int producer = m->tensors[other].producer;
    return producer < conv ? other : -1;
}

/* A float32 Add of a Conv's output (read by nothing else) and a shortcut of
 * its shape, or of its pixels and first channels zero-padded by a Pad read
 * by nothing else (BlazeFace's blocks): the Conv adds the shortcut and
 * applies the Add's activation as it writes the Add's output
 * (nrt_conv_fuse_residual); the Conv's output and the Pad's are never
 * materialized, the Pad and Add never run. */
static void fuse_residuals(nrt_model* m, const int* readers) {
    for (int i = 0; i < m->num_nodes; i++) {
        nrt_node* add = &m->nodes[i];
        nrt_activation act;
        nrt_f32_vbinary_ukernel vadd;
        nrt_f32_vact_ukernel vact;
        if (add->op != NRT_FB_OpType_Add || add->static_eval || add->late || add->fused || add->num_inputs != 2 ||
            add->inputs[0] < 0 || add->inputs[1] < 0 || add->inputs[0] == add->inputs[1] ||
            m->tensors[add->outputs[0]].dynamic || !nrt_add_f32_kernels(add, &act, &vadd, &vact))
            continue;
        for (int k = 0; k < 2; k++) {
            int x = add->inputs[k], pad, conv = m->tensors[x].producer;
            if (!private_result(m, readers, x) || m->nodes[conv].op != NRT_FB_OpType_Conv ||
                m->nodes[conv].outputs[0] != x)
                continue;
            int r = shortcut_of(m, readers, add->inputs[1 - k], conv, &pad);
            nrt_ctx ctx = {m, &m->nodes[conv], conv};
            if (r < 0 || !nrt_conv_fuse_residual(&ctx, r, add->outputs[0], &act, vadd, vact)) continue;
            add->fused = true;
            add->fused_into = conv;
            m->tensors[x].elided = true;
            if (pad >= 0) {
                m->nodes[pad].fused = true;
                m->nodes[pad].fused_into = conv;
                m->tensors[add->inputs[1 - k]].elided = true;
            }
            break;
        }
    }
}

/* Whether tensor t is a float32 vector of one value per channel of c
 * (shape [..., 1, C] or [C]). */
static bool per_channel(const nrt_tensor* t, int64_t c) {
    if (t->dtype != NRT_FLOAT32 || t->rank < 1 || t->dims[t->rank - 1] != c) return false;
    for (int a = 0; a < t->rank - 1; a++)
        if (t->dims[a] != 1) return false;
    return true;
}

/* A float32 PRelu with constant per-channel slopes whose input a Conv
 * writes (its own output, or the output of the Add fused into it) and
 * nothing else reads: the Conv applies it as it writes the PRelu's output
 * (nrt_conv_fuse_prelu). */
static void fuse_prelus(nrt_model* m, const int* readers) {
    nrt_f32_vbinary_ukernel prelu = m->kernels.f32_vbinary ? m->kernels.f32_vbinary[NRT_F32_VPRELU] : NULL;
    if (!prelu) return;
    for (int i = 0; i < m->num_nodes; i++) {
        nrt_node* n = &m->nodes[i];
        if (n->op != NRT_FB_OpType_PRelu || n->static_eval || n->late || n->fused || n->num_inputs != 2 ||
            n->inputs[0] < 0 || n->inputs[1] < 0)
            continue;
        nrt_tensor *x = &m->tensors[n->inputs[0]], *slope = &m->tensors[n->inputs[1]];
        nrt_tensor* y = &m->tensors[n->outputs[0]];
        if (x->kind != NRT_TENSOR_ACTIVATION || x->producer < 0 || x->is_output || x->bound || x->dynamic ||
            readers[n->inputs[0]] != 1 || y->dynamic || y->dtype != NRT_FLOAT32 || x->dtype != NRT_FLOAT32 ||
            x->rank < 1 || !nrt_is_static(slope) || !per_channel(slope, x->dims[x->rank - 1]))
            continue;
        nrt_node* p = &m->nodes[x->producer];
        int host = p->fused ? p->fused_into : x->producer;
        nrt_node* conv = &m->nodes[host];
        if (p->static_eval || p->late || conv->op != NRT_FB_OpType_Conv || p->outputs[0] != n->inputs[0]) continue;
        nrt_ctx ctx = {m, conv, host};
        if (nrt_conv_fuse_prelu(&ctx, slope->data, n->outputs[0], prelu)) {
            n->fused = true;
            n->fused_into = host;
            x->elided = true;
        }
    }
}

/* Luts, residual Adds and PRelus taken over by the node writing their input,
 * from one count of every tensor's readers (no fusion changes what a node
 * reads). Not with preserve_intermediates: every value stays readable. */
static void fuse_into_producers(nrt_model* m) {
    if (m->opts.preserve_intermediates) return;
    int* readers = calloc((size_t)m->num_tensors + 1, sizeof *readers);
    if (!readers) return; /* no fusion: every node runs */
    for (int i = 0; i < m->num_nodes; i++)
        for (int k = 0; k < m->nodes[i].num_inputs; k++)
            if (m->nodes[i].inputs[k] >= 0) readers[m->nodes[i].inputs[k]]++;
    fuse_luts(m, readers);
    fuse_residuals(m, readers);
    fuse_prelus(m, readers);
    free(readers);
}

/* Bound inputs / outputs (nrt_model_bind_*) must still fit their caller
 * memory; an output sized during invoke has no size to bind to. */
static nrt_status check_bindings(nrt_model* m) {
    for (int i = 0; i < m->num_tensors; i++) {
        const nrt_tensor* t = &m->tensors[i];
        if (t->bound && t->dynamic)
            return nrt_fail(m, NRT_ERR_SHAPE, "output %s is sized during invoke (its shape depends on values): it "
                            "cannot be bound; unbind it and read nrt_model_output_data after invoke", t->name);
        if (t->bound && t->bound_bytes != t->nbytes)
            return nrt_fail(m, NRT_ERR_SHAPE, "%s %s is bound to %zu bytes but its shape now needs %zu: bind it "
                            "again (or unbind it)", t->is_input ? "input" : "output", t->name, t->bound_bytes,
                            t->nbytes);
    }
    return NRT_OK;
}

/* An arena tensor whose bytes may be shared (plan_in_place): not the
 * caller's, nor an input (a subgraph's inputs are pointed at its parent's
 * tensors), nor sized during invoke. */
static bool can_share_bytes(const nrt_tensor* t) {
    return t->kind == NRT_TENSOR_ACTIVATION && !t->dynamic && !t->elided && !t->bound && !t->is_input;
}

/* The tensor whose bytes t lives in, and t's offset there. */
static int in_place_root(const nrt_model* m, int t, size_t* offset) {
    *offset = 0;
    while (m->tensors[t].in_place_of >= 0) {
        *offset += m->tensors[t].in_place_offset;
        t = m->tensors[t].in_place_of;
    }
    return t;
}

/* Concat inputs and Split / Slice / Reshape-like outputs that are
 * contiguous blocks of the joined tensor (nrt_op_parts_contiguous) are
 * placed inside it: their producers write the Concat's output directly, the
 * others' outputs are views of their input, and the op copies nothing. A
 * tensor takes one place only (the first node that claims it; a second
 * Concat reading it copies it); graph outputs keep their own bytes. */
static void plan_in_place(nrt_model* m) {
    for (int i = 0; i < m->num_tensors; i++) m->tensors[i].in_place_of = -1;
    if (m->opts.preserve_intermediates) return;
    for (int i = 0; i < m->num_nodes; i++) {
        nrt_node* n = &m->nodes[i];
        bool concat = n->op == NRT_FB_OpType_Concat; /* else the parts are the outputs */
        if (n->static_eval || n->late || n->fused || n->num_inputs < 1 || n->num_outputs < 1) continue;
        int joined = concat ? n->outputs[0] : n->inputs[0], count = concat ? n->num_inputs : n->num_outputs;
        const int32_t* parts = concat ? n->inputs : n->outputs;
        size_t* offsets = malloc(sizeof *offsets * (size_t)(count + 1)); /* NULL: the op copies its parts */
        if (offsets && joined >= 0 && can_share_bytes(&m->tensors[joined]) && nrt_op_parts_contiguous(n, offsets)) {
            for (int k = 0; k < count; k++) {
                int p = parts[k];
                bool taken = p < 0; /* repeated, or joined lives in p (no cycles) */
                for (int j = 0; j < k; j++) taken |= parts[j] == p;
                for (int t = joined; t >= 0 && !taken; t = m->tensors[t].in_place_of) taken = t == p;
                if (taken) continue;
                nrt_tensor* t = &m->tensors[p];
                if (!can_share_bytes(t) || t->is_output || t->in_place_of >= 0) continue;
                t->in_place_of = joined;
                t->in_place_offset = offsets[k];
            }
        }
        free(offsets);
    }
}

static nrt_status plan(nrt_model* m) {
    int nt = m->num_tensors, nn = m->num_nodes;
    for (int i = 0; i < nt; i++) m->tensors[i].last_use = -1;
    for (int i = 0; i < nn; i++) {
        nrt_node* n = &m->nodes[i];
        if (n->static_eval) continue;
        int at = n->fused ? n->fused_into : i; /* a fused node's inputs are read when its host runs */
        for (int k = 0; k < n->num_inputs; k++)
            if (n->inputs[k] >= 0 && m->tensors[n->inputs[k]].last_use < at) m->tensors[n->inputs[k]].last_use = at;
    }
    plan_in_place(m);
    nrt_plan_item* items = nrt_mem_alloc(m, sizeof *items * (size_t)(nt + nn + 1));
    int* owner = nrt_mem_alloc(m, sizeof *owner * (size_t)(nt + nn + 1)); /* tensor index, or -(node + 1) */
    int* span = nrt_mem_alloc(m, sizeof *span * (size_t)(2 * nt + 1));    /* each tensor's first and last node */
    if (!items || !owner || !span) {
        nrt_mem_free(m, items);
        nrt_mem_free(m, owner);
        nrt_mem_free(m, span);
        return nrt_mem_status(m, nrt_fail(m, NRT_ERR_OUT_OF_MEMORY, "out of memory"));
    }
    for (int i = 0; i < nt; i++) {
        const nrt_tensor* t = &m->tensors[i];
        int first = t->is_input ? 0 : t->producer;
        if (first >= 0 && m->nodes[first].fused) /* written by the node it is fused into */
            first = m->nodes[first].fused_into;
        span[2 * i] = first;
        span[2 * i + 1] = t->is_output ? nn : (t->last_use > first ? t->last_use : first);
    }
    for (int i = 0; i < nt; i++) { /* a placed tensor's life is its joined tensor's */
        size_t unused;
        int root = in_place_root(m, i, &unused);
        if (root == i) continue;
        if (span[2 * i] < span[2 * root]) span[2 * root] = span[2 * i];
        if (span[2 * i + 1] > span[2 * root + 1]) span[2 * root + 1] = span[2 * i + 1];
    }
    size_t count = 0;
    for (int i = 0; i < nt; i++) {
        nrt_tensor* t = &m->tensors[i];
        /* (a tensor no operator writes, and so none reads (loader.c), needs no memory) */
        if (t->kind != NRT_TENSOR_ACTIVATION || t->dynamic || t->elided || t->in_place_of >= 0 ||
            (!t->is_input && t->producer < 0))
            continue;
        if (t->bound) { /* in the caller's memory, outside the arena */
            t->data = t->bound;
            continue;
        }
        items[count] = (nrt_plan_item){t->nbytes, span[2 * i], span[2 * i + 1], 0};
        owner[count++] = i;
    }
    nrt_mem_free(m, span);
    for (int i = 0; i < nn; i++) {
        if (m->nodes[i].static_eval || m->nodes[i].late || !m->nodes[i].scratch_bytes) continue;
        items[count] = (nrt_plan_item){m->nodes[i].scratch_bytes, i, i, 0};
        owner[count++] = -(i + 1);
    }
    size_t total = nrt_plan_arena(m, items, count, m->opts.preserve_intermediates != 0);
    nrt_status st = NRT_OK;
    if (total == (size_t)-1) {
        st = nrt_mem_status(m, nrt_fail(m, NRT_ERR_OUT_OF_MEMORY, "out of memory planning the arena"));
    } else if (total > m->opts.max_arena_bytes || m->static_bytes > m->opts.max_arena_bytes - total) {
        st = nrt_fail(m, NRT_ERR_LIMIT, "activations need %zu bytes (arena) + %zu (computed at prepare), over the "
                      "%llu-byte limit (nrt_options.max_arena_bytes)", total, m->static_bytes,
                      (unsigned long long)m->opts.max_arena_bytes);
    } else if (total > m->arena_capacity || !m->arena) {
        nrt_mem_free(m, m->arena);
        m->arena_capacity = 0;
        if (!(m->arena = nrt_mem_alloc_block(m, total ? total : 64)))
            st = nrt_mem_status(m, nrt_fail(m, NRT_ERR_OUT_OF_MEMORY, "cannot allocate a %zu-byte arena", total));
        else
            m->arena_capacity = total;
    }
    if (st == NRT_OK) {
        m->arena_bytes = total;
        for (size_t i = 0; i < count; i++) {
            void* p = (uint8_t*)m->arena + items[i].offset;
            if (owner[i] >= 0) m->tensors[owner[i]].data = p;
            else m->nodes[-owner[i] - 1].scratch = p;
        }
        for (int i = 0; i < nt; i++) {
            size_t offset;
            int root = in_place_root(m, i, &offset);
            if (root != i) m->tensors[i].data = (uint8_t*)m->tensors[root].data + offset;
        }
    }
    nrt_mem_free(m, items);
    nrt_mem_free(m, owner);
    return st;
}

nrt_status nrt_prepare(nrt_model* m) {
    nrt_release_prepared(m);
    nrt_mem_clear_refused(m);
    nrt_status st = reset_shapes(m);
    if (st == NRT_OK) st = propagate(m);
    if (st == NRT_OK) fuse_into_producers(m);
    if (st == NRT_OK) st = check_bindings(m);
    if (st == NRT_OK) st = plan(m);
    if (st != NRT_OK) {
        nrt_release_prepared(m);
        return st;
    }
    m->prepared = true;
    return NRT_OK;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

nrt_status nrt_invoke(nrt_model* m) {
    nrt_model* root = m->root ? m->root : m; /* (a cancel reaches a Loop's body, which runs here) */
    nrt_dynamic_reset(m);
    m->invokes++;
    for (int i = 0; i < m->num_nodes; i++) {
        nrt_node* n = &m->nodes[i];
        if (n->static_eval || n->fused) continue;
        if (atomic_load_explicit(&root->cancel_requested, memory_order_relaxed))
            return nrt_fail(m, NRT_ERR_CANCELLED, "invoke cancelled before operator #%d '%s' (%s)", i,
                            n->name ? n->name : "", n->def->name);
        nrt_ctx ctx = {m, n, i};
        uint64_t start = m->profiling ? now_ns() : 0;
        nrt_status st = n->late ? nrt_prepare_late(&ctx) : NRT_OK;
        if (st == NRT_OK) st = n->def->eval(&ctx);
        if (m->profiling) {
            n->profile_ns += now_ns() - start;
            n->profile_calls++;
        }
        if (st != NRT_OK) return st;
    }
    /* A bound output that is not an arena tensor (a constant, or computed
     * once at prepare) is copied into the caller's memory. */
    for (int i = 0; i < m->num_outputs; i++) {
        nrt_tensor* t = &m->tensors[m->outputs[i]];
        if (t->bound && t->data != t->bound && t->nbytes) memcpy(t->bound, t->data, t->nbytes);
    }
    return NRT_OK;
}
