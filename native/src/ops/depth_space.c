/* DepthToSpace (DCR / CRD) and SpaceToDepth on 4-D NHWC tensors of any
 * element type (kernels/ref/depth_space_ref.h gives the element mapping). */
#include "../kernels/dtype.h"
#include "../engine/op.h"
#include "../kernels/ref/depth_space_ref.h"
#include "movement_util.h"

typedef struct depth_space_params {
    int64_t block;
    bool crd;
} depth_space_params;

static nrt_status depth_space_parse(nrt_ctx* ctx) {
    depth_space_params* p = nrt_alloc_params(ctx, sizeof *p);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    int32_t block;
    uint8_t mode;
    nrt_status st;
    if ((st = nrt_opt_i32(ctx, NRT_FB_DepthSpaceOptions_block_size, 0, &block)) ||
        (st = nrt_opt_u8(ctx, NRT_FB_DepthSpaceOptions_mode, 0, &mode)))
        return st;
    if (block < 1 || block > 65536)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "blocksize = %d must be in [1, 65536]", block);
    if (mode > NRT_FB_DepthSpaceMode_CRD) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "unknown mode %u", mode);
    if (mode == NRT_FB_DepthSpaceMode_CRD && ctx->node->op == NRT_FB_OpType_SpaceToDepth)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "SpaceToDepth has no CRD mode");
    p->block = block;
    p->crd = mode == NRT_FB_DepthSpaceMode_CRD;
    return NRT_OK;
}

static nrt_status depth_space_prepare(nrt_ctx* ctx) {
    const depth_space_params* p = ctx->node->params;
    nrt_tensor *x = nrt_in(ctx, 0), *y = nrt_out(ctx, 0);
    nrt_status st = nrt_expect_same_dtype(ctx, x, y);
    if (st == NRT_OK) st = nrt_mv_expect_same_quant(ctx, x, y); /* quantized values are copied */
    if (st != NRT_OK) return st;
    if (x->dtype == NRT_INT4) return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "int4 tensors are not supported");
    if (x->rank != 4)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "input %s has rank %d; only 4-D is supported", x->name, x->rank);
    int64_t b = p->block, bb = b * b, dims[4] = {x->dims[0], 0, 0, 0};
    if (ctx->node->op == NRT_FB_OpType_DepthToSpace) {
        if (x->dims[3] % bb != 0)
            return nrt_op_fail(ctx, NRT_ERR_SHAPE, "input %s has %lld channels, not a multiple of blocksize^2 = %lld",
                               x->name, (long long)x->dims[3], (long long)bb);
        if (!nrt_mul_overflow_ok(x->dims[1], b, &dims[1]) || !nrt_mul_overflow_ok(x->dims[2], b, &dims[2]))
            return nrt_op_fail(ctx, NRT_ERR_LIMIT, "output size overflows");
        dims[3] = x->dims[3] / bb;
    } else {
        if (x->dims[1] % b != 0 || x->dims[2] % b != 0)
            return nrt_op_fail(ctx, NRT_ERR_SHAPE, "input %s: height %lld and width %lld must be multiples of "
                               "blocksize %lld", x->name, (long long)x->dims[1], (long long)x->dims[2], (long long)b);
        dims[1] = x->dims[1] / b;
        dims[2] = x->dims[2] / b;
        if (!nrt_mul_overflow_ok(x->dims[3], bb, &dims[3])) return nrt_op_fail(ctx, NRT_ERR_LIMIT, "output size overflows");
    }
    return nrt_set_shape(ctx, y, 4, dims);
}

typedef struct ds_job {
    const depth_space_params* p;
    const nrt_tensor *x, *y;
    bool to_space;
} ds_job;

static void ds_rows(void* arg, size_t begin, size_t end) {
    const ds_job* j = arg;
    const nrt_tensor* x = j->x;
    size_t elem = x->nbytes / (size_t)nrt_numel(x);
    if (j->to_space)
        nrt_depth_to_space_ref(x->data, j->y->data, elem, x->dims[1], x->dims[2], x->dims[3], j->p->block, j->p->crd,
                               (int64_t)begin, (int64_t)end);
    else
        nrt_space_to_depth_ref(x->data, j->y->data, elem, x->dims[1], x->dims[2], x->dims[3], j->p->block,
                               (int64_t)begin, (int64_t)end);
}

static nrt_status depth_space_eval(nrt_ctx* ctx) {
    ds_job job = {ctx->node->params, nrt_in(ctx, 0), nrt_out(ctx, 0), ctx->node->op == NRT_FB_OpType_DepthToSpace};
    if (nrt_numel(job.y) == 0) return NRT_OK;
    nrt_parallel_for(ctx, (size_t)(job.y->dims[0] * job.y->dims[1]), 1, ds_rows, &job);
    return NRT_OK;
}

const nrt_op_def nrt_op_DepthToSpace = {"DepthToSpace", 0, NRT_FB_OpOptions_DepthSpaceOptions, 1, 1, 1, 1,
                                        depth_space_parse, depth_space_prepare, depth_space_eval, NULL};
const nrt_op_def nrt_op_SpaceToDepth = {"SpaceToDepth", 0, NRT_FB_OpOptions_DepthSpaceOptions, 1, 1, 1, 1,
                                        depth_space_parse, depth_space_prepare, depth_space_eval, NULL};
