/* TopK, NonMaxSuppression, NonZero (kernels: kernels/ref/select_ref.c).
 * TopK's output shape follows from k (a constant, or a value computed at
 * invoke: the engine then prepares the node during invoke). The other two
 * have data-dependent output shapes (engine/dynamic.h). */
#include <stdlib.h>
#include <string.h>

#include "../engine/dynamic.h"
#include "../kernels/ref/select_ref.h"

/* ---------------------------------------------------------------- TopK -- */

typedef struct topk_params {
    int32_t axis;
    bool largest;
} topk_params;

typedef struct topk_state {
    int axis;
    int64_t k;
} topk_state;

static nrt_status topk_parse(nrt_ctx* ctx) {
    topk_params* p = nrt_alloc_params(ctx, sizeof *p);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    uint8_t largest;
    nrt_status st;
    if ((st = nrt_opt_i32(ctx, NRT_FB_TopKOptions_axis, -1, &p->axis)) ||
        (st = nrt_opt_u8(ctx, NRT_FB_TopKOptions_largest, 1, &largest)))
        return st;
    p->largest = largest != 0; /* (sorted = 0 allows any order: sorted is one) */
    return NRT_OK;
}

static bool orderable(nrt_dtype t) { return t != NRT_BOOL && t != NRT_INT4; }

static nrt_status topk_prepare(nrt_ctx* ctx) {
    const topk_params* p = ctx->node->params;
    nrt_tensor *x = nrt_in(ctx, 0), *values = nrt_out(ctx, 0), *indices = nrt_out(ctx, 1);
    nrt_status st;
    if (!orderable(x->dtype) || x->quant.count)
        return nrt_op_fail(ctx, NRT_ERR_DTYPE, "input %s of type %s cannot be ordered", x->name,
                           nrt_dtype_name(x->dtype));
    int axis;
    int64_t k;
    int count;
    if ((st = nrt_axis(ctx, p->axis, x->rank, &axis)) ||
        (st = nrt_read_static_ints(ctx, nrt_in(ctx, 1), "k", &k, 1, &count)))
        return st;
    if (count != 1 || k < 0 || k > x->dims[axis])
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "k = %lld, but axis %d has %lld elements", (long long)k, axis,
                           (long long)x->dims[axis]);
    if ((st = nrt_expect_dtype(ctx, values, x->dtype, "values")) || (st = nrt_expect_dtype(ctx, indices, NRT_INT64, "indices")))
        return st;
    int64_t dims[NRT_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    dims[axis] = k;
    if ((st = nrt_set_shape(ctx, values, x->rank, dims)) || (st = nrt_set_shape(ctx, indices, x->rank, dims)))
        return st;
    topk_state* s = nrt_alloc_state(ctx, sizeof *s);
    if (!s) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    *s = (topk_state){axis, k};
    ctx->node->scratch_bytes = sizeof(nrt_ranked) * (size_t)(x->dims[axis] ? x->dims[axis] : 1);
    return NRT_OK;
}

static nrt_status topk_eval(nrt_ctx* ctx) {
    const topk_params* p = ctx->node->params;
    const topk_state* s = ctx->node->state;
    nrt_tensor *x = nrt_in(ctx, 0), *values = nrt_out(ctx, 0), *indices = nrt_out(ctx, 1);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < s->axis; d++) outer *= x->dims[d];
    for (int d = s->axis + 1; d < x->rank; d++) inner *= x->dims[d];
    if (!values->nbytes) return NRT_OK;
    nrt_topk_ref(x->data, x->dtype, nrt_dtype_size(x->dtype), outer, x->dims[s->axis], inner, s->k, p->largest,
                 values->data, indices->data, ctx->node->scratch);
    return NRT_OK;
}

const nrt_op_def nrt_op_TopK = {"TopK", 0, NRT_FB_OpOptions_TopKOptions, 2, 2, 2, 2,
                                topk_parse, topk_prepare, topk_eval, NULL};

/* --------------------------------------------------- NonMaxSuppression -- */

typedef struct nms_params {
    bool center_point_box;
} nms_params;

static nrt_status nms_parse(nrt_ctx* ctx) {
    nms_params* p = nrt_alloc_params(ctx, sizeof *p);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    uint8_t center;
    nrt_status st = nrt_opt_u8(ctx, NRT_FB_NmsOptions_center_point_box, 0, &center);
    p->center_point_box = center != 0;
    return st;
}

static nrt_status nms_prepare(nrt_ctx* ctx) {
    nrt_tensor *boxes = nrt_in(ctx, 0), *scores = nrt_in(ctx, 1), *out = nrt_out(ctx, 0);
    nrt_status st;
    if ((st = nrt_expect_dtype(ctx, boxes, NRT_FLOAT32, "boxes")) ||
        (st = nrt_expect_dtype(ctx, scores, NRT_FLOAT32, "scores")) ||
        (st = nrt_expect_dtype(ctx, out, NRT_INT64, "selected indices")))
        return st;
    if (boxes->rank != 3 || boxes->dims[2] != 4 || scores->rank != 3 || scores->dims[0] != boxes->dims[0] ||
        scores->dims[2] != boxes->dims[1])
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "boxes must be [batch, n, 4] and scores [batch, classes, n]");
    static const nrt_dtype kinds[3] = {NRT_INT64, NRT_FLOAT32, NRT_FLOAT32};
    static const char* const roles[3] = {"max_output_boxes_per_class", "iou_threshold", "score_threshold"};
    for (int i = 2; i < 5; i++) {
        const nrt_tensor* t = nrt_in(ctx, i);
        if (t && ((st = nrt_expect_dtype(ctx, t, kinds[i - 2], roles[i - 2])) || nrt_numel(t) != 1))
            return st ? st : nrt_op_fail(ctx, NRT_ERR_SHAPE, "%s %s must hold one value", roles[i - 2], t->name);
    }
    nrt_defer_shape(ctx, out, 2);
    return NRT_OK;
}

static nrt_status nms_eval(nrt_ctx* ctx) {
    const nms_params* p = ctx->node->params;
    nrt_tensor *boxes = nrt_in(ctx, 0), *scores = nrt_in(ctx, 1), *out = nrt_out(ctx, 0);
    const nrt_tensor *max_t = nrt_in(ctx, 2), *iou_t = nrt_in(ctx, 3), *score_t = nrt_in(ctx, 4);
    int64_t batches = boxes->dims[0], n = boxes->dims[1], classes = scores->dims[1];
    int64_t max_out = max_t ? *(const int64_t*)max_t->data : 0;
    if (max_out < 0) max_out = 0;
    if (max_out > n) max_out = n;
    float iou = iou_t ? *(const float*)iou_t->data : 0.0f, score = score_t ? *(const float*)score_t->data : 0.0f;
    size_t total = (size_t)(batches * classes * max_out);
    nrt_ranked* work = malloc(sizeof *work * (size_t)(n ? n : 1));
    int64_t* picked = malloc(sizeof *picked * (size_t)(max_out ? max_out : 1));
    int64_t* triples = malloc(sizeof *triples * 3 * (total ? total : 1));
    nrt_status st = NRT_OK;
    if (!work || !picked || !triples) st = nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    int64_t count = 0;
    for (int64_t b = 0; st == NRT_OK && b < batches; b++) {
        for (int64_t c = 0; c < classes; c++) {
            int64_t k = nrt_nms_ref((const float*)boxes->data + b * n * 4, (const float*)scores->data + (b * classes + c) * n,
                                    n, p->center_point_box, max_out, iou, score_t != NULL, score, work, picked);
            for (int64_t j = 0; j < k; j++, count++) {
                triples[3 * count] = b;
                triples[3 * count + 1] = c;
                triples[3 * count + 2] = picked[j];
            }
        }
    }
    int64_t dims[2] = {count, 3};
    if (st == NRT_OK && (st = nrt_set_dynamic_shape(ctx, out, 2, dims)) == NRT_OK && count)
        memcpy(out->data, triples, out->nbytes);
    free(work);
    free(picked);
    free(triples);
    return st;
}

const nrt_op_def nrt_op_NonMaxSuppression = {"NonMaxSuppression", 0, NRT_FB_OpOptions_NmsOptions, 2, 5, 1, 1,
                                             nms_parse, nms_prepare, nms_eval, NULL};

/* ------------------------------------------------------------- NonZero -- */

static nrt_status nonzero_prepare(nrt_ctx* ctx) {
    nrt_tensor *x = nrt_in(ctx, 0), *out = nrt_out(ctx, 0);
    nrt_status st = nrt_expect_dtype(ctx, out, NRT_INT64, "output");
    if (st != NRT_OK) return st;
    if (x->dtype == NRT_INT4 || x->quant.count)
        return nrt_op_fail(ctx, NRT_ERR_DTYPE, "input %s of type %s is not supported", x->name, nrt_dtype_name(x->dtype));
    nrt_defer_shape(ctx, out, 2);
    return NRT_OK;
}

static nrt_status nonzero_eval(nrt_ctx* ctx) {
    nrt_tensor *x = nrt_in(ctx, 0), *out = nrt_out(ctx, 0);
    int64_t count = nrt_nonzero_ref(x->data, x->dtype, x->rank, x->dims, 0, NULL);
    int64_t dims[2] = {x->rank, count};
    nrt_status st = nrt_set_dynamic_shape(ctx, out, 2, dims);
    if (st == NRT_OK && out->nbytes) nrt_nonzero_ref(x->data, x->dtype, x->rank, x->dims, count, out->data);
    return st;
}

const nrt_op_def nrt_op_NonZero = {"NonZero", 0, 0, 1, 1, 1, 1, NULL, nonzero_prepare, nonzero_eval, NULL};
