/* GridSample of float32 NCHW images, 2-D (rank 4; the grid [N, H_out,
 * W_out, 2] holds (x, y) points, -1 .. 1 across the image) or 3-D (rank 5,
 * NCDHW; (x, y, z) points): linear, nearest or (2-D only) cubic; zeros,
 * border or reflection padding; align_corners. The image stays NCHW (the
 * layout pass gives it plain inputs). Output rows are shared among the
 * model's threads. */
#include "../engine/op.h"
#include "../kernels/ref/grid_sample_ref.h"

#include <string.h>

typedef struct grid_sample_params {
    uint8_t mode, padding; /* NRT_FB_GridSampleMode_*, NRT_FB_GridSamplePadding_* */
    bool align_corners;
} grid_sample_params;

static nrt_status grid_sample_parse(nrt_ctx* ctx) {
    grid_sample_params* p = nrt_alloc_params(ctx, sizeof *p);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    uint8_t align;
    nrt_status st;
    if ((st = nrt_opt_u8(ctx, NRT_FB_GridSampleOptions_mode, NRT_FB_GridSampleMode_LINEAR, &p->mode)) ||
        (st = nrt_opt_u8(ctx, NRT_FB_GridSampleOptions_padding_mode, NRT_FB_GridSamplePadding_ZEROS, &p->padding)) ||
        (st = nrt_opt_u8(ctx, NRT_FB_GridSampleOptions_align_corners, 0, &align)))
        return st;
    if (p->mode > NRT_FB_GridSampleMode_CUBIC || p->padding > NRT_FB_GridSamplePadding_REFLECTION)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "unknown GridSample mode %u or padding %u", p->mode,
                           p->padding);
    p->align_corners = align != 0;
    return NRT_OK;
}

static nrt_status grid_sample_prepare(nrt_ctx* ctx) {
    const grid_sample_params* p = ctx->node->params;
    nrt_tensor *x = nrt_in(ctx, 0), *grid = nrt_in(ctx, 1), *y = nrt_out(ctx, 0);
    nrt_status st;
    if (!x || !grid) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "GridSample needs an image and a grid");
    if ((st = nrt_expect_dtype(ctx, x, NRT_FLOAT32, "image")) ||
        (st = nrt_expect_dtype(ctx, grid, NRT_FLOAT32, "grid")) ||
        (st = nrt_expect_dtype(ctx, y, NRT_FLOAT32, "output")))
        return st;
    int spatial = x->rank - 2;
    if (spatial != 2 && spatial != 3)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "GridSample of rank-%d image %s: 2-D and 3-D images (rank 4 or "
                           "5, NCHW) are supported", x->rank, x->name);
    if (spatial == 3 && p->mode == NRT_FB_GridSampleMode_CUBIC)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "GridSample of 3-D image %s: cubic mode is for 2-D images "
                           "(linear and nearest sample 3-D ones)", x->name);
    if (grid->rank != x->rank || grid->dims[0] != x->dims[0] || grid->dims[x->rank - 1] != spatial)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "grid %s must be [%lld, %sH_out, W_out, %d] for image %s", grid->name,
                           (long long)x->dims[0], spatial == 3 ? "D_out, " : "", spatial, x->name);
    int64_t dims[5] = {x->dims[0], x->dims[1]};
    for (int d = 1; d <= spatial; d++) dims[1 + d] = grid->dims[d];
    return nrt_set_shape(ctx, y, x->rank, dims);
}

static void grid_sample_range(void* arg, size_t begin, size_t end) { nrt_grid_sample_f32_ref(arg, begin, end); }

static nrt_status grid_sample_eval(nrt_ctx* ctx) {
    const grid_sample_params* p = ctx->node->params;
    nrt_tensor *x = nrt_in(ctx, 0), *grid = nrt_in(ctx, 1), *y = nrt_out(ctx, 0);
    if (!y->nbytes) return NRT_OK;
    int spatial = x->rank - 2;
    nrt_grid_sample_f32 g = {x->data, grid->data, y->data, (size_t)x->dims[1], spatial, {1, 1, 1}, {1, 1, 1},
                             (nrt_grid_mode)p->mode, (nrt_grid_padding)p->padding, p->align_corners};
    for (int d = 0; d < spatial; d++) { /* right-aligned: depth stays 1 for 2-D images */
        g.size[3 - spatial + d] = x->dims[2 + d];
        g.out_size[3 - spatial + d] = y->dims[2 + d];
    }
    if (g.size[0] * g.size[1] * g.size[2] == 0) { /* nothing to sample: every point is padding */
        memset(y->data, 0, y->nbytes);
        return NRT_OK;
    }
    size_t rows = (size_t)(x->dims[0] * g.out_size[0] * g.out_size[1]);
    size_t work = (size_t)x->dims[1] * (size_t)g.out_size[2]; /* outputs of one row */
    nrt_parallel_for(ctx, rows, work >= 4096 ? 1 : 4096 / (work ? work : 1), grid_sample_range, &g);
    return NRT_OK;
}

const nrt_op_def nrt_op_GridSample = {"GridSample", 0, NRT_FB_OpOptions_GridSampleOptions, 2, 2, 1, 1,
                                      grid_sample_parse, grid_sample_prepare, grid_sample_eval, NULL};
