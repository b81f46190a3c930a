/* If, Loop, Scan: ops that run subgraphs (engine/subgraph.h) of the file.
 *
 * If prepares both branches for its inputs' shapes: when its condition is
 * known before invoke, or both branches give the same output shapes, its
 * outputs have static shapes; otherwise they are deferred to invoke
 * (engine/dynamic.h). Loop and Scan outputs are always deferred: the trip
 * count, the loop-carried shapes and the scan lengths are run-time data.
 * Loop and Scan re-prepare their body only when its input shapes change. */
#include <stdlib.h>
#include <string.h>

#include "../kernels/dtype.h"
#include "../engine/dynamic.h"
#include "../engine/subgraph.h"

#define MAX_SCAN 64

typedef struct cf_params {
    nrt_model* body[2];        /* If: then, else; Loop / Scan: body */
    int num_captures, num_scan_inputs;
    int64_t in_axes[MAX_SCAN], in_reverse[MAX_SCAN], out_axes[MAX_SCAN], out_reverse[MAX_SCAN];
} cf_params;

typedef struct if_state {
    bool ready[2];             /* the branch prepared for the current input shapes */
} if_state;

/* Loads the graphs listed in the options and reads the capture count. */
static nrt_status cf_parse_common(nrt_ctx* ctx, int num_graphs, int first_required, cf_params** out) {
    cf_params* p = nrt_alloc_params(ctx, sizeof *p);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    int64_t graphs[2];
    int count = 0;
    int32_t captures, scans;
    nrt_status st;
    if ((st = nrt_opt_ints(ctx, NRT_FB_ControlFlowOptions_graphs, "graphs", graphs, 2, &count)) ||
        (st = nrt_opt_i32(ctx, NRT_FB_ControlFlowOptions_num_captures, 0, &captures)) ||
        (st = nrt_opt_i32(ctx, NRT_FB_ControlFlowOptions_num_scan_inputs, 0, &scans)))
        return st;
    if (count != num_graphs)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "names %d subgraphs, expects %d", count, num_graphs);
    if (captures < 0 || captures > nrt_num_in(ctx) || scans < 0 || scans > MAX_SCAN)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "bad capture / scan input counts (%d, %d)", captures, scans);
    for (int k = first_required; k < nrt_num_in(ctx); k++)
        if (!nrt_in(ctx, k)) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "input %d is required but omitted", k);
    p->num_captures = captures;
    p->num_scan_inputs = scans;
    for (int g = 0; g < count; g++) {
        if (graphs[g] < 0) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "subgraph index %lld", (long long)graphs[g]);
        if ((st = nrt_subgraph_load(ctx, (uint32_t)graphs[g], &p->body[g])) != NRT_OK) return st;
    }
    *out = p;
    return NRT_OK;
}

/* The body's input and output counts, and the dtypes of its outputs that become the op's outputs. */
static nrt_status check_body(nrt_ctx* ctx, const nrt_model* body, int inputs, int outputs, int first_out) {
    if (body->num_inputs != inputs || body->num_outputs != outputs)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "subgraph %d has %d inputs / %d outputs, expects %d / %d",
                           body->graph_index, body->num_inputs, body->num_outputs, inputs, outputs);
    for (int k = 0; k < nrt_num_out(ctx); k++) {
        const nrt_tensor* src = &body->tensors[body->outputs[first_out + k]];
        const nrt_tensor* dst = nrt_out(ctx, k);
        if (src->dtype != dst->dtype)
            return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "output %s is %s, its subgraph gives %s", dst->name,
                               nrt_dtype_name(dst->dtype), nrt_dtype_name(src->dtype));
    }
    return NRT_OK;
}

static const void* static_value(const nrt_tensor* t) { return nrt_is_static(t) ? t->data : NULL; }

static bool same_shape(const nrt_tensor* a, const nrt_tensor* b) {
    if (a->rank != b->rank) return false;
    for (int d = 0; d < a->rank; d++)
        if (a->dims[d] != b->dims[d]) return false;
    return true;
}

/* ------------------------------------------------------------------ If -- */

static nrt_status if_parse(nrt_ctx* ctx) {
    cf_params* p = NULL;
    nrt_status st = cf_parse_common(ctx, 2, 0, &p);
    if (st != NRT_OK) return st;
    if (p->num_captures != nrt_num_in(ctx) - 1)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "%d captures for %d inputs after the condition",
                           p->num_captures, nrt_num_in(ctx) - 1);
    for (int b = 0; b < 2; b++)
        if ((st = check_body(ctx, p->body[b], p->num_captures, nrt_num_out(ctx), 0)) != NRT_OK) return st;
    return NRT_OK;
}

static nrt_status if_prepare_branch(nrt_ctx* ctx, nrt_model* branch) {
    for (int i = 0; i < branch->num_inputs; i++) {
        const nrt_tensor* src = nrt_in(ctx, 1 + i);
        nrt_status st = nrt_subgraph_shape_input(ctx, branch, i, src, static_value(src));
        if (st != NRT_OK) return st;
    }
    return nrt_subgraph_prepare(ctx, branch);
}

static nrt_status if_prepare(nrt_ctx* ctx) {
    const cf_params* p = ctx->node->params;
    nrt_tensor* cond = nrt_in(ctx, 0);
    nrt_status st;
    if ((st = nrt_expect_dtype(ctx, cond, NRT_BOOL, "condition"))) return st;
    if (nrt_numel(cond) != 1)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "condition %s holds %lld values, needs one", cond->name,
                           (long long)nrt_numel(cond));
    if_state* s = nrt_alloc_state(ctx, sizeof *s);
    if (!s) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    int known = nrt_is_static(cond) ? (*(const bool*)cond->data ? 0 : 1) : -1;
    for (int b = 0; b < 2; b++) {
        if (known >= 0 && b != known) continue;
        st = if_prepare_branch(ctx, p->body[b]);
        if (st != NRT_OK && known >= 0) return st; /* the branch that runs cannot: a real error */
        s->ready[b] = st == NRT_OK;
    }
    /* Output shapes: the branch known to run, or both when they agree; else known at invoke. */
    const nrt_model* first = p->body[known >= 0 ? known : 0];
    bool agree = known >= 0 || (s->ready[0] && s->ready[1]);
    for (int k = 0; agree && k < nrt_num_out(ctx); k++)
        agree = same_shape(nrt_subgraph_output(p->body[0], k), nrt_subgraph_output(p->body[1], k));
    for (int k = 0; k < nrt_num_out(ctx); k++) {
        nrt_tensor* out = nrt_out(ctx, k);
        if (!agree) {
            nrt_defer_shape(ctx, out, out->decl_rank);
        } else if ((st = nrt_set_shape_like(ctx, out, &first->tensors[first->outputs[k]])) != NRT_OK) {
            return st;
        }
    }
    return NRT_OK;
}

static nrt_status if_eval(nrt_ctx* ctx) {
    const cf_params* p = ctx->node->params;
    if_state* s = ctx->node->state;
    int b = *(const bool*)nrt_in(ctx, 0)->data ? 0 : 1;
    nrt_model* branch = p->body[b];
    nrt_status st;
    if (!s->ready[b] && (st = if_prepare_branch(ctx, branch)) != NRT_OK) return st;
    for (int i = 0; i < branch->num_inputs; i++) nrt_subgraph_copy_input(branch, i, nrt_in(ctx, 1 + i)->data);
    if ((st = nrt_subgraph_invoke(ctx, branch)) != NRT_OK) return st;
    for (int k = 0; k < nrt_num_out(ctx); k++) {
        nrt_tensor *out = nrt_out(ctx, k), *src = nrt_subgraph_output(branch, k);
        if (out->deferred && (st = nrt_set_dynamic_shape(ctx, out, src->rank, src->dims)) != NRT_OK) return st;
        if (src->nbytes) memcpy(out->data, src->data, src->nbytes);
    }
    return NRT_OK;
}

const nrt_op_def nrt_op_If = {"If", 0, NRT_FB_OpOptions_ControlFlowOptions, 1, -1, 1, -1,
                              if_parse, if_prepare, if_eval, NULL};

/* -------------------------------------------------- Loop and Scan: values -- */

/* A value carried from one iteration to the next, in memory the op owns
 * (the body's input and output memory moves when it is re-prepared). */
typedef struct carried {
    nrt_tensor t;              /* dtype, shape, nbytes, data */
    size_t capacity;
} carried;

static nrt_status carried_set(nrt_ctx* ctx, carried* c, const nrt_tensor* src) {
    if (src->nbytes > c->capacity) {
        void* grown = realloc(c->capacity ? c->t.data : NULL, src->nbytes);
        if (!grown) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory for a loop-carried value");
        c->t.data = grown;
        c->capacity = src->nbytes;
    }
    c->t.dtype = src->dtype;
    c->t.rank = src->rank;
    memcpy(c->t.dims, src->dims, sizeof c->t.dims);
    c->t.nbytes = src->nbytes;
    c->t.name = src->name;
    if (src->nbytes) memcpy(c->t.data, src->data, src->nbytes);
    return NRT_OK;
}

static void carried_free(carried* c, int n) {
    for (int i = 0; c && i < n; i++)
        if (c[i].capacity) free(c[i].t.data);
    free(c);
}

/* Gives the body its input shapes (re-preparing it when one changed) and values. */
static nrt_status run_body(nrt_ctx* ctx, nrt_model* body, const nrt_tensor* const* inputs, const bool* fixed) {
    nrt_status st;
    bool fits = body->prepared;
    for (int i = 0; fits && i < body->num_inputs; i++) fits = nrt_subgraph_input_fits(body, i, inputs[i]);
    if (!fits) {
        for (int i = 0; i < body->num_inputs; i++)
            if ((st = nrt_subgraph_shape_input(ctx, body, i, inputs[i], fixed[i] ? inputs[i]->data : NULL)))
                return st;
        if ((st = nrt_subgraph_prepare(ctx, body)) != NRT_OK) return st;
    }
    for (int i = 0; i < body->num_inputs; i++) nrt_subgraph_copy_input(body, i, inputs[i]->data);
    return nrt_subgraph_invoke(ctx, body);
}

/* Scan outputs: each iteration's slice goes to position `pos` along `axis`
 * of the output (shape: the slice's with the scan length inserted at axis). */
static nrt_status scan_output_put(nrt_ctx* ctx, nrt_tensor* out, const nrt_tensor* slice, int axis, int64_t length,
                                  int64_t pos, bool first) {
    nrt_status st;
    if (axis < 0 || axis > slice->rank)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "scan output axis %d out of range for rank %d", axis, slice->rank + 1);
    if (first) {
        int64_t dims[NRT_MAX_RANK];
        if (slice->rank + 1 > NRT_MAX_RANK)
            return nrt_op_fail(ctx, NRT_ERR_LIMIT, "scan output %s would exceed rank %d", out->name, NRT_MAX_RANK);
        for (int d = 0, s = 0; d <= slice->rank; d++) dims[d] = d == axis ? length : slice->dims[s++];
        if ((st = nrt_set_dynamic_shape(ctx, out, slice->rank + 1, dims)) != NRT_OK) return st;
    } else {
        for (int d = 0, s = 0; d < out->rank; d++)
            if (d != axis && out->dims[d] != slice->dims[s++])
                return nrt_op_fail(ctx, NRT_ERR_SHAPE, "scan output %s changes shape between iterations", out->name);
    }
    int64_t outer = 1;
    for (int d = 0; d < axis; d++) outer *= slice->dims[d];
    size_t inner = outer ? slice->nbytes / (size_t)outer : 0;
    for (int64_t o = 0; o < outer; o++)
        memcpy((uint8_t*)out->data + ((size_t)(o * length + pos)) * inner, (const uint8_t*)slice->data + o * inner,
               inner);
    return NRT_OK;
}

/* ---------------------------------------------------------------- Loop -- */

static nrt_status loop_parse(nrt_ctx* ctx) {
    cf_params* p = NULL;
    if (nrt_num_in(ctx) < 2) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "has %d inputs, needs 2", nrt_num_in(ctx));
    nrt_status st = cf_parse_common(ctx, 1, 2, &p);
    if (st != NRT_OK) return st;
    int carried_count = nrt_num_in(ctx) - 2 - p->num_captures;
    int scans = nrt_num_out(ctx) - carried_count;
    if (carried_count < 0 || scans < 0)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "%d inputs and %d outputs do not fit %d captures",
                           nrt_num_in(ctx), nrt_num_out(ctx), p->num_captures);
    return check_body(ctx, p->body[0], nrt_num_in(ctx), 1 + nrt_num_out(ctx), 1);
}

static nrt_status loop_prepare(nrt_ctx* ctx) {
    nrt_tensor *trip = nrt_in(ctx, 0), *cond = nrt_in(ctx, 1);
    nrt_status st;
    if (trip && ((st = nrt_expect_dtype(ctx, trip, NRT_INT64, "trip count")) || nrt_numel(trip) != 1))
        return st ? st : nrt_op_fail(ctx, NRT_ERR_SHAPE, "trip count %s must hold one value", trip->name);
    if (cond && ((st = nrt_expect_dtype(ctx, cond, NRT_BOOL, "condition")) || nrt_numel(cond) != 1))
        return st ? st : nrt_op_fail(ctx, NRT_ERR_SHAPE, "condition %s must hold one value", cond->name);
    for (int k = 0; k < nrt_num_out(ctx); k++) nrt_defer_shape(ctx, nrt_out(ctx, k), nrt_out(ctx, k)->decl_rank);
    return NRT_OK;
}

static nrt_status loop_eval(nrt_ctx* ctx) {
    const cf_params* p = ctx->node->params;
    nrt_model* body = p->body[0];
    nrt_tensor *trip = nrt_in(ctx, 0), *cond_in = nrt_in(ctx, 1);
    int n_in = nrt_num_in(ctx), n_carried = n_in - 2 - p->num_captures, n_scan = nrt_num_out(ctx) - n_carried;
    int64_t trips = trip ? *(const int64_t*)trip->data : INT64_MAX, iteration = 0;
    bool cond = cond_in ? *(const bool*)cond_in->data : true;
    carried* state = calloc((size_t)n_carried + 1, sizeof *state);
    const nrt_tensor** inputs = calloc((size_t)n_in, sizeof *inputs);
    bool* fixed = calloc((size_t)n_in, sizeof *fixed);
    nrt_status st = NRT_OK;
    if (!state || !inputs || !fixed) st = nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    /* The iteration number and condition as rank-0 tensors the body reads. */
    nrt_tensor iter_t = {.name = "iteration", .dtype = NRT_INT64, .nbytes = 8, .data = &iteration};
    nrt_tensor cond_t = {.name = "condition", .dtype = NRT_BOOL, .nbytes = 1, .data = &cond};
    for (int j = 0; st == NRT_OK && j < n_carried; j++) st = carried_set(ctx, &state[j], nrt_in(ctx, 2 + j));
    /* Scan outputs grow by one slice per iteration: gathered here, copied out at the end. */
    carried* scans = st == NRT_OK ? calloc((size_t)n_scan + 1, sizeof *scans) : NULL;
    if (st == NRT_OK && !scans) st = nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    for (; st == NRT_OK && iteration < trips && cond; iteration++) {
        inputs[0] = &iter_t;
        inputs[1] = &cond_t;
        for (int j = 0; j < n_carried; j++) inputs[2 + j] = &state[j].t;
        for (int c = 0; c < p->num_captures; c++) {
            inputs[2 + n_carried + c] = nrt_in(ctx, 2 + n_carried + c);
            fixed[2 + n_carried + c] = nrt_is_static(inputs[2 + n_carried + c]);
        }
        if ((st = run_body(ctx, body, inputs, fixed)) != NRT_OK) break;
        cond = *(const bool*)nrt_subgraph_output(body, 0)->data;
        for (int j = 0; st == NRT_OK && j < n_carried; j++) st = carried_set(ctx, &state[j], nrt_subgraph_output(body, 1 + j));
        for (int k = 0; st == NRT_OK && k < n_scan; k++) {
            const nrt_tensor* slice = nrt_subgraph_output(body, 1 + n_carried + k);
            carried* acc = &scans[k];
            if (iteration > 0 && (slice->rank != acc->t.rank || slice->nbytes != acc->t.nbytes))
                st = nrt_op_fail(ctx, NRT_ERR_SHAPE, "scan output %s changes shape between iterations", slice->name);
            size_t need = (size_t)(iteration + 1) * slice->nbytes;
            if (st == NRT_OK && need > (size_t)ctx->model->opts.max_arena_bytes)
                st = nrt_op_fail(ctx, NRT_ERR_LIMIT, "scan output %s grows over the memory limit", slice->name);
            if (st == NRT_OK && need > acc->capacity) {
                size_t cap = need > 2 * acc->capacity ? need : 2 * acc->capacity;
                void* grown = realloc(acc->capacity ? acc->t.data : NULL, cap);
                if (!grown) st = nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory for scan output");
                else acc->t.data = grown, acc->capacity = cap;
            }
            if (st != NRT_OK) break;
            acc->t.rank = slice->rank;
            memcpy(acc->t.dims, slice->dims, sizeof acc->t.dims);
            acc->t.nbytes = slice->nbytes;
            if (slice->nbytes) memcpy((uint8_t*)acc->t.data + (size_t)iteration * slice->nbytes, slice->data, slice->nbytes);
        }
    }
    for (int j = 0; st == NRT_OK && j < n_carried; j++) {
        nrt_tensor* out = nrt_out(ctx, j);
        if ((st = nrt_set_dynamic_shape(ctx, out, state[j].t.rank, state[j].t.dims)) == NRT_OK && out->nbytes)
            memcpy(out->data, state[j].t.data, out->nbytes);
    }
    for (int k = 0; st == NRT_OK && k < n_scan; k++) {
        nrt_tensor* out = nrt_out(ctx, n_carried + k);
        int64_t dims[NRT_MAX_RANK] = {iteration};
        int rank = iteration ? scans[k].t.rank + 1 : (out->decl_rank > 0 ? out->decl_rank : 1);
        if (rank > NRT_MAX_RANK) {
            st = nrt_op_fail(ctx, NRT_ERR_LIMIT, "scan output %s would exceed rank %d", out->name, NRT_MAX_RANK);
            break;
        }
        for (int d = 1; d < rank; d++) dims[d] = iteration ? scans[k].t.dims[d - 1] : 0;
        if ((st = nrt_set_dynamic_shape(ctx, out, rank, dims)) == NRT_OK && out->nbytes)
            memcpy(out->data, scans[k].t.data, out->nbytes);
    }
    carried_free(state, n_carried);
    carried_free(scans, n_scan);
    free(inputs);
    free(fixed);
    return st;
}

/* (M and cond, inputs 0 and 1, are both optional: at least two inputs, checked in parse) */
const nrt_op_def nrt_op_Loop = {"Loop", 0, NRT_FB_OpOptions_ControlFlowOptions, 0, -1, 1, -1,
                                loop_parse, loop_prepare, loop_eval, NULL};

/* ---------------------------------------------------------------- Scan -- */

static nrt_status scan_parse(nrt_ctx* ctx) {
    cf_params* p = NULL;
    nrt_status st = cf_parse_common(ctx, 1, 0, &p);
    if (st != NRT_OK) return st;
    int n_state = nrt_num_in(ctx) - p->num_scan_inputs - p->num_captures;
    int n_scan_out = nrt_num_out(ctx) - n_state;
    if (n_state < 0 || n_scan_out < 0 || n_scan_out > MAX_SCAN || p->num_scan_inputs < 1)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "%d inputs / %d outputs do not fit %d scan inputs, %d captures",
                           nrt_num_in(ctx), nrt_num_out(ctx), p->num_scan_inputs, p->num_captures);
    int64_t* lists[4] = {p->in_axes, p->in_reverse, p->out_axes, p->out_reverse};
    static const int slots[4] = {NRT_FB_ControlFlowOptions_scan_input_axes,
                                 NRT_FB_ControlFlowOptions_scan_input_directions,
                                 NRT_FB_ControlFlowOptions_scan_output_axes,
                                 NRT_FB_ControlFlowOptions_scan_output_directions};
    const int wants[4] = {p->num_scan_inputs, p->num_scan_inputs, n_scan_out, n_scan_out};
    for (int l = 0; l < 4; l++) {
        int count = 0;
        if ((st = nrt_opt_ints(ctx, slots[l], "scan axes", lists[l], MAX_SCAN, &count))) return st;
        if (count != 0 && count != wants[l])
            return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "scan axes / directions list has %d entries, expects %d",
                               count, wants[l]);
    }
    return check_body(ctx, p->body[0], nrt_num_in(ctx), nrt_num_out(ctx), 0);
}

static nrt_status scan_prepare(nrt_ctx* ctx) {
    const cf_params* p = ctx->node->params;
    int n_state = nrt_num_in(ctx) - p->num_scan_inputs - p->num_captures;
    int64_t length = -1;
    for (int s = 0; s < p->num_scan_inputs; s++) {
        const nrt_tensor* x = nrt_in(ctx, n_state + s);
        int axis;
        nrt_status st = nrt_axis(ctx, p->in_axes[s], x->rank, &axis);
        if (st != NRT_OK) return st;
        if (x->rank < 1 || (length >= 0 && x->dims[axis] != length))
            return nrt_op_fail(ctx, NRT_ERR_SHAPE, "scan inputs differ in length along their scan axes");
        length = x->dims[axis];
    }
    for (int k = 0; k < nrt_num_out(ctx); k++) nrt_defer_shape(ctx, nrt_out(ctx, k), nrt_out(ctx, k)->decl_rank);
    return NRT_OK;
}

/* Slice `pos` of x along axis into dst (x's shape without the axis). */
static void scan_input_take(const nrt_tensor* x, int axis, int64_t pos, nrt_tensor* dst) {
    int64_t outer = 1;
    for (int d = 0; d < axis; d++) outer *= x->dims[d];
    int64_t length = x->dims[axis];
    size_t inner = length && outer ? x->nbytes / (size_t)(outer * length) : 0;
    for (int64_t o = 0; o < outer; o++)
        memcpy((uint8_t*)dst->data + (size_t)o * inner, (const uint8_t*)x->data + (size_t)(o * length + pos) * inner,
               inner);
}

static nrt_status scan_eval(nrt_ctx* ctx) {
    const cf_params* p = ctx->node->params;
    nrt_model* body = p->body[0];
    int n_in = nrt_num_in(ctx), n_state = n_in - p->num_scan_inputs - p->num_captures;
    int n_scan_out = nrt_num_out(ctx) - n_state;
    carried* state = calloc((size_t)n_state + 1, sizeof *state);
    carried* slices = calloc((size_t)p->num_scan_inputs, sizeof *slices);
    const nrt_tensor** inputs = calloc((size_t)n_in, sizeof *inputs);
    bool* fixed = calloc((size_t)n_in, sizeof *fixed);
    int axes[MAX_SCAN];
    nrt_status st = NRT_OK;
    if (!state || !slices || !inputs || !fixed) st = nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    int64_t length = 0;
    for (int s = 0; st == NRT_OK && s < p->num_scan_inputs; s++) {
        const nrt_tensor* x = nrt_in(ctx, n_state + s);
        if ((st = nrt_axis(ctx, p->in_axes[s], x->rank, &axes[s])) != NRT_OK) break;
        length = x->dims[axes[s]];
        nrt_tensor* t = &slices[s].t;
        t->name = x->name;
        t->dtype = x->dtype;
        t->rank = x->rank - 1;
        for (int d = 0, o = 0; d < x->rank; d++)
            if (d != axes[s]) t->dims[o++] = x->dims[d];
        t->nbytes = length ? x->nbytes / (size_t)length : 0;
        if (!(t->data = malloc(t->nbytes ? t->nbytes : 1))) st = nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
        else slices[s].capacity = t->nbytes ? t->nbytes : 1;
    }
    for (int j = 0; st == NRT_OK && j < n_state; j++) st = carried_set(ctx, &state[j], nrt_in(ctx, j));
    for (int64_t i = 0; st == NRT_OK && i < length; i++) {
        for (int j = 0; j < n_state; j++) inputs[j] = &state[j].t;
        for (int s = 0; s < p->num_scan_inputs; s++) {
            scan_input_take(nrt_in(ctx, n_state + s), axes[s], p->in_reverse[s] ? length - 1 - i : i, &slices[s].t);
            inputs[n_state + s] = &slices[s].t;
        }
        for (int c = 0; c < p->num_captures; c++) {
            int at = n_state + p->num_scan_inputs + c;
            inputs[at] = nrt_in(ctx, at);
            fixed[at] = nrt_is_static(inputs[at]);
        }
        if ((st = run_body(ctx, body, inputs, fixed)) != NRT_OK) break;
        for (int j = 0; st == NRT_OK && j < n_state; j++) st = carried_set(ctx, &state[j], nrt_subgraph_output(body, j));
        for (int k = 0; st == NRT_OK && k < n_scan_out; k++) {
            const nrt_tensor* slice = nrt_subgraph_output(body, n_state + k);
            int axis = (int)(p->out_axes[k] < 0 ? p->out_axes[k] + slice->rank + 1 : p->out_axes[k]);
            st = scan_output_put(ctx, nrt_out(ctx, n_state + k), slice, axis, length,
                                 p->out_reverse[k] ? length - 1 - i : i, i == 0);
        }
    }
    for (int j = 0; st == NRT_OK && j < n_state; j++) {
        nrt_tensor* out = nrt_out(ctx, j);
        if ((st = nrt_set_dynamic_shape(ctx, out, state[j].t.rank, state[j].t.dims)) == NRT_OK && out->nbytes)
            memcpy(out->data, state[j].t.data, out->nbytes);
    }
    for (int k = 0; st == NRT_OK && length == 0 && k < n_scan_out; k++) {
        nrt_tensor* out = nrt_out(ctx, n_state + k);
        int64_t dims[NRT_MAX_RANK] = {0};
        st = nrt_set_dynamic_shape(ctx, out, out->decl_rank > 0 ? out->decl_rank : 1, dims);
    }
    carried_free(state, n_state);
    carried_free(slices, p->num_scan_inputs);
    free(inputs);
    free(fixed);
    return st;
}

const nrt_op_def nrt_op_Scan = {"Scan", 0, NRT_FB_OpOptions_ControlFlowOptions, 1, -1, 1, -1,
                                scan_parse, scan_prepare, scan_eval, NULL};
