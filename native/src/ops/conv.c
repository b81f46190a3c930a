/* Conv and ConvTranspose, float32, 2-D on NHWC activations.
 *
 * Conv: x [N, H, W, C_in], W OHWI [C_out, KH, KW, C_in/group], bias [C_out].
 * ConvTranspose: W [C_in, KH, KW, C_out/group].
 * A constant W is repacked once at load when the kernel wants another layout
 * (kernels/ref/conv_ref.h explains them); a W computed at run time is
 * repacked into scratch on each run.
 * auto_pad, output_shape and output_padding are resolved in prepare from the
 * actual input size, following ONNX.
 * int8 (kernels/requant.h): a quantized int8 x with constant int8 weights
 * (per-channel scales along axis 0 for Conv, axis 3 for ConvTranspose) and an
 * int32 bias (folded for Conv, unfolded for ConvTranspose) gives a quantized
 * int8 y; a fused Relu / Clip narrows the output clamp. An int8 Conv on the
 * level's kernels also takes over a Lut that alone reads its output (the
 * engine's fuse_lut): the driver applies the table to each tile it writes
 * and the conv writes the Lut's output. A float32 Conv on the level's kernels
 * (or float32 sparse weights) likewise takes over the Add that alone reads
 * its output, with a shortcut read in place, and the PRelu that alone reads
 * its (or that Add's) output (the engine's fuse_residuals and fuse_prelus;
 * kernels/conv.h nrt_conv_post).
 * A float32 x with int8 weights is the dynamic int8 Conv (conv_dynamic.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/packed.h"
#include "../kernels/conv.h"
#include "../kernels/dispatch.h"
#include "../kernels/dtype.h"
#include "../kernels/ref/conv_ref.h"
#include "conv_dynamic.h"
#include "qs16.h"
#include "quant_common.h"
#include "sparse_weights.h"
#include "spatial_common.h"

typedef struct conv_params {
    nrt_window2d win;
    int64_t group;
    nrt_activation act;
    int64_t out_pad[2], out_shape[2];
    int n_out_shape;
    bool packed;        /* w holds the constant float32 weights, packed for the reference kernels */
    nrt_conv_plan plan; /* kind != NONE: w holds the weights packed for the level's kernels (kernels/conv.h) */
    bool int_clamp;     /* int8: every acc * m is within NRT_QS8_INT_CLAMP_BOUND (nrt_qs8_requant) */
    const void* w;      /* packed at load, shared with every op packing them alike (engine/packed.h) */
    /* A 1x1 conv on sparse weights (ops/sparse_weights.h): int8 on the level's sparse GEMM table, w
     * holding them packed for it; float32 on the reference kernel, csr[] holding this op's block-CSR
     * copy (not shared: counted with the parameters). */
    const nrt_gemm_table* spmm;
    bool sparse_f32;
    nrt_bcsr sparse;
    float csr[];
} conv_params;

typedef struct conv_state {
    nrt_conv2d_geom g;
    size_t packed_offset;               /* float32, reference kernels: weights repacked in scratch */
    bool int8;                          /* q: the int8 constants; extra[]: m[cout], then packed weights */
    nrt_qs8_conv q;
    nrt_conv_dw_rows rows;              /* depthwise row variants (kernels/conv.h), at rows_offset in extra[] */
    const int8_t* lut;                  /* a fused Lut's table (NULL: none), whose output is tensor lut_out */
    int lut_out;
    bool post;                          /* a fused Add and / or PRelu (post_ops), writing tensor post_out */
    int post_out, residual_in;          /* residual_in: the Add's shortcut, -1: none */
    nrt_conv_post post_ops;             /* (its r, act and slope are set at eval) */
    const float* slope;                 /* a fused PRelu's [C_out] slopes, repeated in scratch at
                                           slope_offset for post_ops.slope_rows rows */
    size_t slope_offset;
    nrt_activation residual_act;
    size_t rows_offset;
    _Alignas(8) uint8_t extra[];
} conv_state;

/* ---- load ---- */

/* The weights are packed at load when they are a float32 4-D constant whose
 * leading dim (Conv: outputs, ConvTranspose: inputs) splits into the groups,
 * and the kernel wants them packed. */
static bool packable(const nrt_tensor* w, int64_t group, bool transpose) {
    if (!(w && w->kind == NRT_TENSOR_CONSTANT && w->dtype == NRT_FLOAT32 && w->rank == 4 && w->dims[0] % group == 0))
        return false;
    return !transpose || nrt_conv_transpose_layout(w->dims[0] / group, w->dims[3], group) != NRT_CONVT_PLAIN;
}

static bool is_padded(const conv_params* o) {
    const nrt_window2d* win = &o->win;
    return win->pads[0] || win->pads[1] || win->pads[2] || win->pads[3] || o->out_pad[0] || o->out_pad[1] ||
           o->n_out_shape || (win->auto_pad != NRT_FB_AutoPad_NOTSET && win->auto_pad != NRT_FB_AutoPad_VALID);
}

static nrt_conv_desc conv_desc(const conv_params* o, const nrt_tensor* w, bool transpose) {
    const nrt_window2d* win = &o->win;
    return (nrt_conv_desc){transpose, w->dims, o->group, {win->stride[0], win->stride[1]},
                           {win->dilation[0], win->dilation[1]}, is_padded(o)};
}

/* The level's conv kernels for float32 or int8 tensors. */
static nrt_conv_kernels conv_kernels(nrt_ctx* ctx, bool int8) {
    const nrt_kernels* k = nrt_kernels_of(ctx);
    if (int8) return (nrt_conv_kernels){k->qs8_gemm, k->qs8_dwconv, k->qs8_convt};
    return (nrt_conv_kernels){k->f32_gemm, k->f32_dwconv, NULL};
}

/* float32 on the level's kernels: constant weights and bias. */
static bool plan_f32(nrt_ctx* ctx, const conv_params* o, bool transpose, nrt_conv_plan* plan) {
    const nrt_tensor *w = nrt_in(ctx, 1), *b = nrt_in(ctx, 2);
    if (!w || w->kind != NRT_TENSOR_CONSTANT || w->dtype != NRT_FLOAT32 || w->rank != 4) return false;
    int64_t cout = transpose ? w->dims[3] * o->group : w->dims[0];
    if (b && !(b->kind == NRT_TENSOR_CONSTANT && b->dtype == NRT_FLOAT32 && b->rank == 1 && b->dims[0] == cout))
        return false;
    nrt_conv_desc d = conv_desc(o, w, transpose);
    nrt_conv_kernels k = conv_kernels(ctx, false);
    return nrt_conv_plan_init(&k, &d, plan);
}

/* int8 on the level's kernels: a quantized x and y, constant int8 weights
 * with their multipliers known now, a constant int32 bias. */
static bool plan_s8(nrt_ctx* ctx, const conv_params* o, bool transpose, nrt_conv_plan* plan) {
    const nrt_tensor *x = nrt_in(ctx, 0), *w = nrt_in(ctx, 1), *b = nrt_in(ctx, 2), *y = nrt_out(ctx, 0);
    if (!x || !w || !y || w->kind != NRT_TENSOR_CONSTANT || w->dtype != NRT_INT8 || w->rank != 4 ||
        w->dims[0] < 1 || w->dims[1] < 1 || w->dims[2] < 1 || w->dims[3] < 1)
        return false;
    int64_t cout = transpose ? w->dims[3] : w->dims[0];
    if (b && !(b->kind == NRT_TENSOR_CONSTANT && b->dtype == NRT_INT32 && nrt_numel(b) == cout)) return false;
    if (!nrt_is_qs8(x) || !nrt_is_qs8(y)) return false;
    if (o->act.kind != NRT_ACT_NONE && o->act.kind != NRT_ACT_RELU && o->act.kind != NRT_ACT_CLIP) return false;
    nrt_conv_desc d = conv_desc(o, w, transpose);
    nrt_conv_kernels k = conv_kernels(ctx, true);
    return nrt_conv_plan_init(&k, &d, plan);
}

static int32_t x_zero_point(const nrt_tensor* x) { return x->quant.zero_point ? (int32_t)x->quant.zero_point[0] : 0; }

/* Whether every scaled accumulator |acc * m| stays within
 * NRT_QS8_INT_CLAMP_BOUND, so kernels may clamp after rounding (nrt_qs8_requant):
 * |acc| <= |bias| + 255 * sum |w| over the channel's weights (|x - z_x| <= 255),
 * the true sum, which the wrapping accumulator then holds exactly. */
static bool requant_bounded(nrt_model* model, const nrt_tensor* w, const nrt_tensor* b, const float* m,
                            bool transpose) {
    size_t cout = (size_t)w->dims[transpose ? 3 : 0], n = (size_t)nrt_numel(w);
    double* sum = nrt_mem_alloc(model, (cout ? cout : 1) * sizeof *sum);
    if (!sum) return false;
    const int8_t* wd = w->data;
    for (size_t i = 0; i < n; i++) sum[transpose ? i % cout : i / (n / cout)] += abs(wd[i]);
    bool ok = true;
    for (size_t c = 0; c < cout && ok; c++) {
        double bias = b ? fabs((double)((const int32_t*)b->data)[c]) : 0.0;
        ok = fabs((double)m[c]) * (bias + 255.0 * sum[c]) < NRT_QS8_INT_CLAMP_BOUND; /* (false for NaN) */
    }
    nrt_mem_free(model, sum);
    return ok;
}

/* What a conv's packed weights depend on (engine/packed.h): the layout
 * (tag), the constants, the group, the kernels chosen and, for int8, the
 * activations' scales folded into the multipliers and x's zero point (the
 * padding value and ConvTranspose's bias fold). */
enum { PACK_PLAN = 1, PACK_SPMM, PACK_F32_REF };

static nrt_pack_key pack_key(nrt_ctx* ctx, int tag, const conv_params* p, bool transpose) {
    const nrt_node* n = ctx->node;
    const nrt_tensor* w = nrt_in(ctx, 1);
    nrt_pack_key k = {{(uint64_t)tag << 1 | transpose, (uint64_t)n->inputs[1],
                       (uint64_t)(n->num_inputs > 2 ? n->inputs[2] : -1), (uint64_t)p->group}};
    const nrt_conv_plan* q = &p->plan;
    if (tag == PACK_PLAN) {
        k.v[4] = (uint64_t)q->kind | (uint64_t)q->convt_wide << 8 | (uint64_t)q->merged_rows << 9;
        k.v[5] = (uint64_t)(uintptr_t)q->gemm;
        k.v[6] = (uint64_t)(uintptr_t)q->dw;
        k.v[7] = (uint64_t)(uintptr_t)q->convt;
        k.v[8] = q->packed_bytes;
        k.v[9] = q->group_bytes;
    } else if (tag == PACK_SPMM) {
        k.v[5] = (uint64_t)(uintptr_t)p->spmm;
    }
    if (tag != PACK_F32_REF && w->dtype == NRT_INT8) {
        const nrt_tensor *x = nrt_in(ctx, 0), *y = nrt_out(ctx, 0);
        k.v[10] = nrt_pack_key_f32(x->quant.scale[0]) | (uint64_t)(uint32_t)x_zero_point(x) << 32;
        k.v[11] = nrt_pack_key_f32(y->quant.scale[0]);
    }
    return k;
}

/* The int8 multipliers of this conv (counted memory, freed by the caller
 * with nrt_mem_free), NULL when unknown, out of range or out of memory. */
static float* s8_multipliers(nrt_ctx* ctx, bool transpose) {
    const nrt_tensor *x = nrt_in(ctx, 0), *w = nrt_in(ctx, 1), *y = nrt_out(ctx, 0);
    int axis = transpose ? 3 : 0;
    float* m = nrt_mem_alloc(ctx->model, (size_t)w->dims[axis] * sizeof(float));
    if (m && nrt_qs8_static_multipliers(x, w, axis, y, w->dims[axis], m)) return m;
    nrt_mem_free(ctx->model, m);
    return NULL;
}

/* Packs the weights into dst as the tag says; *int_clamp: requant_bounded
 * for int8. False when the int8 multipliers are not known or not in range
 * (prepare then reports why, or runs the reference) or memory runs out. */
static bool pack_into(nrt_ctx* ctx, int tag, const conv_params* p, bool transpose, void* dst, bool* int_clamp) {
    const nrt_tensor *x = nrt_in(ctx, 0), *w = nrt_in(ctx, 1), *b = nrt_in(ctx, 2);
    const int64_t* dims = w->dims;
    if (tag == PACK_F32_REF) {
        if (transpose) nrt_conv_transpose_pack_f32(w->data, dims[0], dims[1], dims[2], dims[3], p->group, dst);
        else nrt_conv_pack_f32(w->data, dims[0], dims[1], dims[2], dims[3], p->group, dst);
        return true;
    }
    bool int8 = w->dtype == NRT_INT8;
    float* m = int8 ? s8_multipliers(ctx, transpose) : NULL;
    if (int8 && !m) return false;
    bool ok = true;
    if (tag == PACK_SPMM) {
        size_t cout = (size_t)dims[0], cin = (size_t)dims[3];
        nrt_gemm_weights a = {cout, cin, 1, w->data, cin, 0, 1, b ? b->data : NULL, m, 0, 0};
        nrt_gemm_pack(p->spmm, &a, dst);
    } else {
        nrt_conv_desc d = conv_desc(p, w, transpose);
        nrt_conv_weights cw = {w->data, b ? b->data : NULL, m, int8 ? x_zero_point(x) : 0};
        ok = nrt_conv_pack(&p->plan, &d, &cw, dst);
    }
    *int_clamp = ok && int8 && requant_bounded(ctx->model, w, b, m, transpose);
    nrt_mem_free(ctx->model, m);
    return ok;
}

/* Points p->w at the weights packed as the tag says, packing them into
 * shared memory unless an op packed them alike already. NRT_OK with p->w
 * NULL: they could not be packed (pack_into); the caller drops the plan. */
static nrt_status pack_weights(nrt_ctx* ctx, conv_params* p, bool transpose, int tag, size_t bytes) {
    nrt_pack_key key = pack_key(ctx, tag, p, transpose);
    uint64_t info = 0;
    if ((p->w = nrt_packed_find(ctx->model, &key, &info))) {
        p->int_clamp = info != 0;
        return NRT_OK;
    }
    void* dst = nrt_packed_alloc(ctx->model, bytes);
    if (!dst) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    bool int_clamp = false;
    if (!pack_into(ctx, tag, p, transpose, dst, &int_clamp)) {
        nrt_mem_free(ctx->model, dst);
        return nrt_mem_refused(ctx->model) ? nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory") : NRT_OK;
    }
    if (!nrt_packed_add(ctx->model, &key, dst, bytes, int_clamp))
        return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    p->w = dst;
    p->int_clamp = int_clamp;
    return NRT_OK;
}

/* The weights of a parsed conv: packed (and shared) for the level's plan,
 * the sparse GEMM table or the reference kernels, or a block-CSR copy. */
static nrt_status parse_weights(nrt_ctx* ctx, conv_params* p, bool transpose, size_t spmm_bytes) {
    nrt_tensor* w = nrt_in(ctx, 1);
    nrt_status st = NRT_OK;
    if (p->spmm) {
        if ((st = pack_weights(ctx, p, transpose, PACK_SPMM, spmm_bytes))) return st;
        if (!p->w) /* (the multipliers were known: sparse_s8_table) */
            return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
        nrt_sparse_claim(w);
    } else if (p->sparse_f32) {
        nrt_sparse_f32_build(ctx, w, p->csr, &p->sparse);
    } else if (p->plan.kind) {
        st = pack_weights(ctx, p, transpose, PACK_PLAN, p->plan.packed_bytes);
        if (!p->w) p->plan = (nrt_conv_plan){0};
    } else if (p->packed) {
        st = pack_weights(ctx, p, transpose, PACK_F32_REF, w->nbytes);
    }
    return st;
}

/* A 1x1 ungrouped unpadded Conv on sparse weights (ops/sparse_weights.h). */
static bool sparse_pointwise(nrt_ctx* ctx, const conv_params* o, bool transpose) {
    const nrt_tensor *x = nrt_in(ctx, 0), *w = nrt_in(ctx, 1);
    return !transpose && x && w && w->sparse && w->rank == 4 && w->dims[1] == 1 && w->dims[2] == 1 &&
           o->group == 1 && !is_padded(o);
}

/* The level's int8 sparse GEMM table (and the bytes of the weights packed for
 * it) when it should run this conv: as plan_s8, with multipliers known now. */
static const nrt_gemm_table* sparse_s8_table(nrt_ctx* ctx, const conv_params* o, bool transpose, size_t* bytes) {
    const nrt_tensor *x = nrt_in(ctx, 0), *w = nrt_in(ctx, 1), *b = nrt_in(ctx, 2), *y = nrt_out(ctx, 0);
    if (!sparse_pointwise(ctx, o, transpose) || w->dtype != NRT_INT8 || !y || !nrt_is_qs8(x) || !nrt_is_qs8(y))
        return NULL;
    if (b && !(b->kind == NRT_TENSOR_CONSTANT && b->dtype == NRT_INT32 && nrt_numel(b) == w->dims[0])) return NULL;
    if (o->act.kind != NRT_ACT_NONE && o->act.kind != NRT_ACT_RELU &&
        !(o->act.kind == NRT_ACT_CLIP && o->act.alpha <= o->act.beta))
        return NULL;
    int64_t pixels = x->rank == 4 && x->dims[1] > 0 && x->dims[2] > 0 ? x->dims[1] * x->dims[2] : 1 << 16;
    const nrt_gemm_table* t = nrt_sparse_qs8_table(ctx, w, w->dims[3], pixels);
    float* m = t ? s8_multipliers(ctx, false) : NULL;
    if (m) {
        nrt_gemm_weights a = {(size_t)w->dims[0], (size_t)w->dims[3], 1, w->data, (size_t)w->dims[3], 0, 1,
                              b ? b->data : NULL, m, 0, 0};
        *bytes = nrt_gemm_weights_bytes(t, &a);
    } else {
        t = NULL;
    }
    nrt_mem_free(ctx->model, m);
    return t;
}

static size_t sparse_f32_bytes(nrt_ctx* ctx, const conv_params* o, bool transpose) {
    const nrt_tensor* x = nrt_in(ctx, 0);
    return sparse_pointwise(ctx, o, transpose) && x->dtype == NRT_FLOAT32 ? nrt_sparse_f32_bytes(ctx, nrt_in(ctx, 1))
                                                                          : 0;
}

static nrt_status conv_parse_common(nrt_ctx* ctx, bool transpose) {
    conv_params o = {0};
    int32_t group;
    nrt_status st = nrt_opt_i32(ctx, NRT_FB_ConvOptions_group, 1, &group);
    if (st != NRT_OK) return st;
    if (group < 1) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "group = %d must be positive", group);
    o.group = group;
    if ((st = nrt_window2d_parse(ctx, NRT_FB_ConvOptions_kernel_shape, NRT_FB_ConvOptions_strides,
                                 NRT_FB_ConvOptions_dilations, NRT_FB_ConvOptions_pads, NRT_FB_ConvOptions_auto_pad,
                                 &o.win)) ||
        (st = nrt_opt_activation(ctx, NRT_FB_ConvOptions_activation, &o.act)) ||
        (st = nrt_spatial_opt(ctx, NRT_FB_ConvOptions_output_padding, "output_padding", 2, 0, o.out_pad, NULL)) ||
        (st = nrt_spatial_opt(ctx, NRT_FB_ConvOptions_output_shape, "output_shape", 2, 1, o.out_shape,
                              &o.n_out_shape)))
        return st;
    if (!transpose && (o.out_pad[0] || o.out_pad[1] || o.n_out_shape))
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "output_padding / output_shape apply to ConvTranspose only");
    nrt_tensor* w = nrt_in(ctx, 1);
    size_t spmm_bytes = 0, f32_bytes = 0;
    const nrt_gemm_table* spmm = sparse_s8_table(ctx, &o, transpose, &spmm_bytes);
    if (!spmm) f32_bytes = sparse_f32_bytes(ctx, &o, transpose);
    bool sparse = spmm || f32_bytes;
    bool planned = !sparse && (plan_f32(ctx, &o, transpose, &o.plan) || plan_s8(ctx, &o, transpose, &o.plan));
    o.packed = !planned && !sparse && packable(w, group, transpose);
    o.spmm = spmm;
    o.sparse_f32 = f32_bytes != 0;
    conv_params* p = nrt_alloc_params(ctx, sizeof *p + f32_bytes);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    *p = o;
    return parse_weights(ctx, p, transpose, spmm_bytes);
}

static nrt_status conv_parse(nrt_ctx* ctx) {
    if (nrt_conv_is_dynamic(nrt_in(ctx, 0), nrt_in(ctx, 1))) return nrt_conv_dynamic_parse(ctx);
    return nrt_is_qs16(nrt_in(ctx, 0)) ? nrt_conv_qs16_parse(ctx) : conv_parse_common(ctx, false);
}
static nrt_status conv_transpose_parse(nrt_ctx* ctx) { return conv_parse_common(ctx, true); }

/* ---- prepare ---- */

/* int8: constant int8 weights and an int32 bias (their parameters are
 * checked with the output's in finish_int8). */
static nrt_status check_int8(nrt_ctx* ctx, const nrt_tensor* w, const nrt_tensor* b) {
    nrt_status st;
    if ((st = nrt_expect_dtype(ctx, w, NRT_INT8, "weights")) ||
        (b && (st = nrt_expect_dtype(ctx, b, NRT_INT32, "bias"))))
        return st;
    if (!nrt_is_static(w))
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "int8 weights %s must be constant", w->name);
    return NRT_OK;
}

/* Checks x, W, bias types and that x and W are 4-D with a non-empty W. */
static nrt_status check_tensors(nrt_ctx* ctx, const nrt_tensor* x, const nrt_tensor* w, const nrt_tensor* b) {
    nrt_status st;
    if (nrt_is_qs8(x)) {
        if ((st = check_int8(ctx, w, b))) return st;
    } else if (x->dtype != NRT_FLOAT32) {
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "input %s is %s; only float32 is supported", x->name,
                           nrt_dtype_name(x->dtype));
    } else if ((st = nrt_expect_dtype(ctx, w, NRT_FLOAT32, "weights")) ||
               (b && (st = nrt_expect_dtype(ctx, b, NRT_FLOAT32, "bias")))) {
        return st;
    }
    if (x->rank != 4 || w->rank != 4)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED,
                           "input %s (rank %d) and weights %s (rank %d) must be 4-D: only 2-D convolution is "
                           "supported", x->name, x->rank, w->name, w->rank);
    if (w->dims[1] < 1 || w->dims[2] < 1 || w->dims[3] < 1 || w->dims[0] < 1)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "weights %s have an empty dimension", w->name);
    return NRT_OK;
}

static nrt_status check_bias(nrt_ctx* ctx, const nrt_tensor* b, int64_t cout) {
    if (b && (b->rank != 1 || b->dims[0] != cout))
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "bias %s must have shape [%lld]", b->name, (long long)cout);
    return NRT_OK;
}

static nrt_status check_kernel(nrt_ctx* ctx, const conv_params* p, const nrt_tensor* w) {
    if (p->win.kernel[0] && (p->win.kernel[0] != w->dims[1] || p->win.kernel[1] != w->dims[2]))
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "kernel_shape [%lld, %lld] does not match weights %s (%lld x %lld)",
                           (long long)p->win.kernel[0], (long long)p->win.kernel[1], w->name,
                           (long long)w->dims[1], (long long)w->dims[2]);
    return NRT_OK;
}

static void axis_init(nrt_axis_geom* a, const nrt_window2d* win, int i, int64_t in, int64_t kernel) {
    *a = (nrt_axis_geom){in, 0, kernel, win->stride[i], win->dilation[i], win->pads[i], win->pads[i + 2]};
}

/* Packs the depthwise row variants of this shape (kernels/conv.h) into extra[]. */
static void pack_rows(nrt_ctx* ctx, conv_state* s, const float* m) {
    const conv_params* p = ctx->node->params;
    const nrt_tensor *w = nrt_in(ctx, 1), *b = nrt_in(ctx, 2);
    uintptr_t at = ((uintptr_t)s->extra + s->rows_offset + NRT_PACK_ALIGN - 1) & ~(uintptr_t)(NRT_PACK_ALIGN - 1);
    nrt_conv_weights cw = {w->data, b ? b->data : NULL, m, s->int8 ? s->q.zx : 0};
    nrt_conv_dw_rows_pack(&p->plan, &s->g, &cw, &s->rows, (void*)at);
}

/* The int8 constants: multipliers s_x s_w[c] / s_y, the output clamp, and
 * depthwise Conv weights repacked [KH][KW][Cout] for contiguous channel loops. */
static nrt_status finish_int8(nrt_ctx* ctx, conv_state* s, bool transpose) {
    const conv_params* p = ctx->node->params;
    const nrt_tensor *x = nrt_in(ctx, 0), *w = nrt_in(ctx, 1), *y = nrt_out(ctx, 0);
    const nrt_conv2d_geom* g = &s->g;
    nrt_qs8 qx, qy;
    float* m = (float*)s->extra;
    nrt_status st;
    if ((st = nrt_qs8_params(ctx, x, "input", &qx)) || (st = nrt_qs8_params(ctx, y, "output", &qy)) ||
        (st = nrt_qs8_output(ctx, &p->act, &qy, &s->q.out)) ||
        (st = nrt_qs8_weight_multipliers(ctx, w, transpose ? 3 : 0, g->cout, qx.scale, qy.scale, m)))
        return st;
    s->int8 = true;
    s->q.zx = qx.zero_point;
    s->q.m = m;
    s->q.dw_packed = !transpose && nrt_conv_is_depthwise(g->cin / g->group, g->group);
    if (s->q.dw_packed) {
        int8_t* packed = (int8_t*)(m + g->cout);
        nrt_conv_dw_pack_qs8(w->data, g->cout, g->kh, g->kw, packed);
        s->q.w = packed;
    }
    if (s->rows.count) pack_rows(ctx, s, m);
    return NRT_OK;
}

static nrt_status finish_prepare(nrt_ctx* ctx, const nrt_conv2d_geom* g, size_t scratch_floats_packed) {
    const conv_params* p = ctx->node->params;
    int64_t dims[4] = {g->n, g->oh, g->ow, g->cout};
    nrt_status st = nrt_set_shape(ctx, nrt_out(ctx, 0), 4, dims);
    if (st != NRT_OK) return st;
    bool int8 = nrt_is_qs8(nrt_in(ctx, 0));
    size_t extra = int8 ? (size_t)g->cout * sizeof(float) + (size_t)nrt_numel(nrt_in(ctx, 1)) : 0;
    nrt_conv_dw_rows rows;
    size_t rows_bytes = nrt_conv_dw_rows_plan(&p->plan, g, &rows), rows_offset = extra;
    if (rows_bytes) extra += rows_bytes + NRT_PACK_ALIGN;
    conv_state* s = nrt_alloc_state(ctx, sizeof *s + extra);
    if (!s) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    s->g = *g;
    s->rows = rows;
    s->rows_offset = rows_offset;
    if (int8) {
        ctx->node->scratch_bytes = p->plan.kind ? (size_t)g->cin : 0; /* the z_x padding buffer */
        return finish_int8(ctx, s, ctx->node->op == NRT_FB_OpType_ConvTranspose);
    }
    if (s->rows.count) pack_rows(ctx, s, NULL);
    size_t zeros = (size_t)g->cin * sizeof(float); /* the padding: C_in zeros (the reference reads C_in / group) */
    s->packed_offset = (zeros + 63) / 64 * 64;
    ctx->node->scratch_bytes = s->packed_offset + scratch_floats_packed * sizeof(float);
    return NRT_OK;
}

static nrt_status conv_prepare(nrt_ctx* ctx) {
    if (nrt_is_qs16(nrt_in(ctx, 0))) return nrt_conv_qs16_prepare(ctx);
    if (nrt_conv_is_dynamic(nrt_in(ctx, 0), nrt_in(ctx, 1))) return nrt_conv_dynamic_prepare(ctx);
    const conv_params* p = ctx->node->params;
    nrt_tensor *x = nrt_in(ctx, 0), *w = nrt_in(ctx, 1), *b = nrt_in(ctx, 2);
    if (!x || !w) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "input and weights are required");
    nrt_status st;
    if ((st = check_tensors(ctx, x, w, b)) || (st = check_kernel(ctx, p, w))) return st;
    int64_t cin = x->dims[3], cout = w->dims[0], cig = w->dims[3];
    if (cin % p->group != 0 || cin / p->group != cig || cout % p->group != 0)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE,
                           "input %s has %lld channels and weights %s [%lld, %lld, %lld, %lld]: with group = %lld, "
                           "channels must be group x %lld and output channels a multiple of group",
                           x->name, (long long)cin, w->name, (long long)cout, (long long)w->dims[1],
                           (long long)w->dims[2], (long long)cig, (long long)p->group, (long long)cig);
    if ((st = check_bias(ctx, b, cout))) return st;
    nrt_axis_geom ay, ax;
    axis_init(&ay, &p->win, 0, x->dims[1], w->dims[1]);
    axis_init(&ax, &p->win, 1, x->dims[2], w->dims[2]);
    if ((st = nrt_axis_resolve(ctx, "height", p->win.auto_pad, false, &ay)) ||
        (st = nrt_axis_resolve(ctx, "width", p->win.auto_pad, false, &ax)))
        return st;
    nrt_conv2d_geom g = {x->dims[0], ay.in, ax.in, cin, ay.out, ax.out, cout, ay.kernel, ax.kernel,
                         ay.stride, ax.stride, ay.dilation, ax.dilation, ay.pad_begin, ax.pad_begin, p->group};
    return finish_prepare(ctx, &g, p->packed || p->plan.kind || p->spmm || p->sparse_f32 ? 0 : (size_t)nrt_numel(w));
}

/* ONNX's `a // 2` for a possibly negative total padding. */
static int64_t floor_half(int64_t a) { return a >= 0 ? a / 2 : -((-a + 1) / 2); }

/* One axis of ConvTranspose: output size and leading pad, from
 * output_shape (which wins), auto_pad SAME_*, or the explicit pads. */
static nrt_status convt_axis(nrt_ctx* ctx, const conv_params* p, int i, int64_t in, int64_t k, int64_t* out,
                             int64_t* pad_begin) {
    const nrt_window2d* win = &p->win;
    int64_t s = win->stride[i], eff = (k - 1) * win->dilation[i] + 1, natural = s * (in - 1) + p->out_pad[i] + eff;
    bool same = win->auto_pad == NRT_FB_AutoPad_SAME_UPPER || win->auto_pad == NRT_FB_AutoPad_SAME_LOWER;
    if (p->n_out_shape || same) {
        *out = p->n_out_shape ? p->out_shape[i] : in * s;
        int64_t total = natural - *out;
        *pad_begin = win->auto_pad == NRT_FB_AutoPad_SAME_UPPER ? floor_half(total) : total - floor_half(total);
    } else {
        bool valid = win->auto_pad == NRT_FB_AutoPad_VALID;
        int64_t pb = valid ? 0 : win->pads[i], pe = valid ? 0 : win->pads[i + 2];
        *out = natural - pb - pe;
        *pad_begin = pb;
    }
    if (*out < 1)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "output %s would be %lld (input %lld, kernel %lld, stride %lld)",
                           i == 0 ? "height" : "width", (long long)*out, (long long)in, (long long)k, (long long)s);
    return NRT_OK;
}

static nrt_status conv_transpose_prepare(nrt_ctx* ctx) {
    const conv_params* p = ctx->node->params;
    nrt_tensor *x = nrt_in(ctx, 0), *w = nrt_in(ctx, 1), *b = nrt_in(ctx, 2);
    if (!x || !w) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "input and weights are required");
    nrt_status st;
    if ((st = check_tensors(ctx, x, w, b)) || (st = check_kernel(ctx, p, w))) return st;
    int64_t cin = x->dims[3], cout;
    if (w->dims[0] != cin || cin % p->group != 0 || !nrt_mul_overflow_ok(w->dims[3], p->group, &cout))
        return nrt_op_fail(ctx, NRT_ERR_SHAPE,
                           "input %s has %lld channels but weights %s are [%lld, %lld, %lld, %lld] with group = %lld",
                           x->name, (long long)cin, w->name, (long long)w->dims[0], (long long)w->dims[1],
                           (long long)w->dims[2], (long long)w->dims[3], (long long)p->group);
    if ((st = check_bias(ctx, b, cout))) return st;
    int64_t oh, ow, pad_t, pad_l;
    if ((st = convt_axis(ctx, p, 0, x->dims[1], w->dims[1], &oh, &pad_t)) ||
        (st = convt_axis(ctx, p, 1, x->dims[2], w->dims[2], &ow, &pad_l)))
        return st;
    nrt_conv2d_geom g = {x->dims[0], x->dims[1], x->dims[2], cin, oh, ow, cout, w->dims[1], w->dims[2],
                         p->win.stride[0], p->win.stride[1], p->win.dilation[0], p->win.dilation[1],
                         pad_t, pad_l, p->group};
    if (p->plan.kind && (oh != x->dims[1] * g.sh || ow != x->dims[2] * g.sw || pad_t || pad_l))
        return nrt_op_fail(ctx, NRT_ERR_INTERNAL, "upsampling kernel chosen for a geometry it does not cover");
    bool repack = !p->packed && !p->plan.kind && !nrt_is_qs8(x) &&
                  nrt_conv_transpose_layout(cin / p->group, w->dims[3], p->group) != NRT_CONVT_PLAIN;
    return finish_prepare(ctx, &g, repack ? (size_t)nrt_numel(w) : 0);
}

/* ---- eval ---- */

typedef struct conv_job {
    const nrt_conv2d_geom* g;
    const float *x, *w, *bias, *zeros;
    const nrt_activation* act;
    float* y;
} conv_job;

static void conv_rows(void* arg, size_t begin, size_t end) {
    const conv_job* j = arg;
    nrt_conv2d_f32_ref(j->g, j->x, j->w, j->bias, j->act, j->zeros, j->y, (int64_t)begin, (int64_t)end);
}

static void conv_pixels(void* arg, size_t begin, size_t end) {
    const conv_job* j = arg;
    nrt_conv1x1_f32_ref(j->g, j->x, j->w, j->bias, j->act, j->y, (int64_t)begin, (int64_t)end);
}

static void conv_transpose_rows(void* arg, size_t begin, size_t end) {
    const conv_job* j = arg;
    nrt_conv_transpose2d_f32_ref(j->g, j->x, j->w, j->bias, j->act, j->y, (int64_t)begin, (int64_t)end);
}

static conv_job make_job(nrt_ctx* ctx, const conv_state* s) {
    const conv_params* p = ctx->node->params;
    nrt_tensor* b = nrt_in(ctx, 2);
    conv_job job = {&s->g, nrt_in(ctx, 0)->data, nrt_in(ctx, 1)->data, b ? b->data : NULL, NULL, &p->act,
                    nrt_out(ctx, 0)->data};
    return job;
}

typedef struct conv_s8_job {
    const nrt_conv2d_geom* g;
    nrt_qs8_conv q;
} conv_s8_job;

static void conv_s8_rows(void* arg, size_t begin, size_t end) {
    const conv_s8_job* j = arg;
    nrt_conv2d_qs8_ref(j->g, &j->q, (int64_t)begin, (int64_t)end);
}

static void conv_transpose_s8_rows(void* arg, size_t begin, size_t end) {
    const conv_s8_job* j = arg;
    nrt_conv_transpose2d_qs8_ref(j->g, &j->q, (int64_t)begin, (int64_t)end);
}

static nrt_status eval_int8(nrt_ctx* ctx, const conv_state* s, nrt_task_fn rows) {
    const conv_params* p = ctx->node->params;
    nrt_tensor* b = nrt_in(ctx, 2);
    if (p->plan.kind && s->q.out.qmin <= s->q.out.qmax) { /* (a Clip with min > max: the reference's order) */
        int8_t* zbuf = ctx->node->scratch;
        memset(zbuf, (int)s->q.zx, (size_t)s->g.cin);
        nrt_qs8_requant rq = nrt_qs8_requant_make(s->q.out.zero_point, s->q.out.qmin, s->q.out.qmax);
        rq.int_clamp = p->int_clamp;
        nrt_threads threads = nrt_threads_of(ctx);
        nrt_conv_lut lut = {nrt_kernels_of(ctx)->qs8_lut, s->lut};
        void* y = s->lut ? ctx->model->tensors[s->lut_out].data : nrt_out(ctx, 0)->data;
        nrt_conv_run_lut(&threads, &p->plan, &s->g, nrt_in(ctx, 0)->data, p->w, &s->rows, zbuf, &rq,
                         s->lut ? &lut : NULL, y);
        return NRT_OK;
    }
    conv_s8_job job = {&s->g, s->q};
    job.q.x = nrt_in(ctx, 0)->data;
    job.q.y = nrt_out(ctx, 0)->data;
    job.q.bias = b ? b->data : NULL;
    if (!s->q.dw_packed) job.q.w = nrt_in(ctx, 1)->data;
    if (s->g.n == 0 || s->g.oh == 0 || s->g.ow == 0 || s->g.cout == 0) return NRT_OK;
    nrt_parallel_for(ctx, (size_t)(s->g.n * s->g.oh), 1, rows, &job);
    return NRT_OK;
}

/* A 1x1 conv on int8 sparse weights: the GEMM driver on the sparse table,
 * over every pixel at stride 1, else per output row (pixels stride apart). */
static nrt_status eval_sparse_s8(nrt_ctx* ctx, const conv_params* p, const conv_state* s) {
    const nrt_conv2d_geom* g = &s->g;
    if (s->q.out.qmin > s->q.out.qmax)
        return nrt_op_fail(ctx, NRT_ERR_INTERNAL, "sparse kernel chosen for an empty output range");
    nrt_qs8_requant rq = nrt_qs8_requant_make(s->q.out.zero_point, s->q.out.qmin, s->q.out.qmax);
    rq.int_clamp = p->int_clamp;
    nrt_threads threads = nrt_threads_of(ctx);
    const int8_t* x = nrt_in(ctx, 0)->data;
    int8_t* y = nrt_out(ctx, 0)->data;
    size_t cin = (size_t)g->cin, cout = (size_t)g->cout;
    if (g->sh == 1 && g->sw == 1) {
        nrt_gemm_args a = {(size_t)(g->n * g->oh * g->ow), cout, cin, 1, x, cin, NULL, p->w, 0, y, cout,
                           &rq};
        nrt_gemm_run(&threads, p->spmm, &a);
        return NRT_OK;
    }
    for (int64_t row = 0; row < g->n * g->oh; row++) {
        int64_t n = row / g->oh, oy = row % g->oh;
        nrt_gemm_args a = {(size_t)g->ow, cout, cin, 1, x + (n * g->ih + oy * g->sh) * g->iw * g->cin,
                           (size_t)g->sw * cin, NULL, p->w, 0, y + row * g->ow * g->cout, cout, &rq};
        nrt_gemm_run(&threads, p->spmm, &a);
    }
    return NRT_OK;
}

/* A 1x1 conv on float32 sparse weights: each output row is a product of the
 * input pixels it reads (stride apart) with W (kernels/ref/sparse_gemm_ref.h). */
typedef struct conv_sparse_job {
    const nrt_conv2d_geom* g;
    const conv_params* p;
    const float* x;
    const float* bias;
    const nrt_conv_post* post; /* NULL: none */
    float* y;
} conv_sparse_job;

static void conv_sparse_rows(void* arg, size_t begin, size_t end) {
    const conv_sparse_job* j = arg;
    const nrt_conv2d_geom* g = j->g;
    for (size_t row = begin; row < end; row++) {
        int64_t n = (int64_t)row / g->oh, oy = (int64_t)row % g->oh;
        int64_t in = (n * g->ih + oy * g->sh) * g->iw * g->cin, out = (int64_t)row * g->ow * g->cout;
        nrt_f32_sparse_gemm f = {&j->p->sparse, j->x + in, g->sw * g->cin, j->y + out, g->cout, j->bias, j->p->act};
        nrt_sparse_gemm_f32_ref(&f, 0, g->ow);
        if (j->post)
            nrt_conv_post_rows(j->post, j->y, (size_t)g->cout, row * (size_t)g->ow, (size_t)g->ow, 0,
                                   (size_t)g->cout);
    }
}

/* The fused post-ops with this run's shortcut, and the tensor the conv writes. */
static float* post_output(nrt_ctx* ctx, const conv_state* s, nrt_conv_post* post) {
    if (!s->post) return nrt_out(ctx, 0)->data;
    *post = s->post_ops;
    post->r = s->residual_in >= 0 ? ctx->model->tensors[s->residual_in].data : NULL;
    post->act = &s->residual_act;
    if (s->slope) {
        float* rows = (float*)((uint8_t*)ctx->node->scratch + s->slope_offset);
        size_t cout = (size_t)s->g.cout;
        for (size_t r = 0; r < post->slope_rows; r++) memcpy(rows + r * cout, s->slope, cout * sizeof(float));
        post->slope = rows;
    }
    return ctx->model->tensors[s->post_out].data;
}

static nrt_status eval_sparse_f32(nrt_ctx* ctx, const conv_params* p, const conv_state* s) {
    const nrt_tensor* b = nrt_in(ctx, 2);
    nrt_conv_post post;
    float* y = post_output(ctx, s, &post);
    conv_sparse_job j = {&s->g, p, nrt_in(ctx, 0)->data, b ? b->data : NULL, s->post ? &post : NULL, y};
    if (s->g.n == 0 || s->g.oh == 0 || s->g.ow == 0 || s->g.cout == 0) return NRT_OK;
    nrt_parallel_for(ctx, (size_t)(s->g.n * s->g.oh), 1, conv_sparse_rows, &j);
    return NRT_OK;
}

static nrt_status conv_eval(nrt_ctx* ctx) {
    if (nrt_is_qs16(nrt_in(ctx, 0))) return nrt_conv_qs16_eval(ctx);
    if (nrt_conv_is_dynamic(nrt_in(ctx, 0), nrt_in(ctx, 1))) return nrt_conv_dynamic_eval(ctx);
    const conv_params* p = ctx->node->params;
    const conv_state* s = ctx->node->state;
    const nrt_conv2d_geom* g = &s->g;
    if (p->spmm) return eval_sparse_s8(ctx, p, s);
    if (p->sparse_f32) return eval_sparse_f32(ctx, p, s);
    if (s->int8) return eval_int8(ctx, s, conv_s8_rows);
    uint8_t* scratch = ctx->node->scratch;
    conv_job job = make_job(ctx, s);
    float* zeros = (float*)scratch;
    memset(zeros, 0, (size_t)g->cin * sizeof(float));
    job.zeros = zeros;
    if (p->plan.kind) {
        nrt_threads threads = nrt_threads_of(ctx);
        nrt_conv_post post;
        float* y = post_output(ctx, s, &post);
        nrt_conv_run_post(&threads, &p->plan, g, job.x, p->w, &s->rows, zeros, &p->act, s->post ? &post : NULL, y);
        return NRT_OK;
    }
    if (p->packed) {
        job.w = p->w;
    } else {
        float* packed = (float*)(scratch + s->packed_offset);
        nrt_conv_pack_f32(job.w, g->cout, g->kh, g->kw, g->cin / g->group, g->group, packed);
        job.w = packed;
    }
    if (g->n == 0 || g->oh == 0 || g->ow == 0 || g->cout == 0) return NRT_OK;
    if (nrt_conv_is_pointwise(g)) {
        size_t pixels = (size_t)(g->n * g->oh * g->ow);
        size_t grain = (size_t)(1 + 65536 / (g->cin * g->cout + 1));
        nrt_parallel_for(ctx, pixels, grain < 4 ? 4 : grain, conv_pixels, &job);
    } else {
        nrt_parallel_for(ctx, (size_t)(g->n * g->oh), 1, conv_rows, &job);
    }
    return NRT_OK;
}

static nrt_status conv_transpose_eval(nrt_ctx* ctx) {
    const conv_params* p = ctx->node->params;
    const conv_state* s = ctx->node->state;
    const nrt_conv2d_geom* g = &s->g;
    if (s->int8) return eval_int8(ctx, s, conv_transpose_s8_rows);
    conv_job job = make_job(ctx, s);
    if (p->plan.kind) {
        nrt_threads threads = nrt_threads_of(ctx);
        nrt_conv_run(&threads, &p->plan, g, job.x, p->w, NULL, NULL, &p->act, job.y);
        return NRT_OK;
    }
    if (p->packed) {
        job.w = p->w;
    } else if (nrt_conv_transpose_layout(g->cin / g->group, g->cout / g->group, g->group) != NRT_CONVT_PLAIN) {
        float* packed = (float*)((uint8_t*)ctx->node->scratch + s->packed_offset);
        nrt_conv_transpose_pack_f32(job.w, g->cin, g->kh, g->kw, g->cout / g->group, g->group, packed);
        job.w = packed;
    }
    if (s->g.n == 0 || s->g.cout == 0) return NRT_OK;
    nrt_parallel_for(ctx, (size_t)(s->g.n * s->g.oh), 1, conv_transpose_rows, &job);
    return NRT_OK;
}

/* An int8 conv on the level's GEMM or depthwise kernels applies a Lut's table
 * as it writes (kernels/conv.h, nrt_conv_lut). */
bool nrt_conv_fuse_lut(nrt_ctx* ctx, const int8_t* table, int y) {
    if (nrt_conv_is_dynamic(nrt_in(ctx, 0), nrt_in(ctx, 1))) return false; /* (float output; other state) */
    const conv_params* p = ctx->node->params;
    conv_state* s = ctx->node->state;
    bool kernels = p->plan.kind == NRT_CONV_GEMM || p->plan.kind == NRT_CONV_DEPTHWISE;
    if (!s || !s->int8 || !kernels || s->q.out.qmin > s->q.out.qmax) return false;
    s->lut = table;
    s->lut_out = y;
    return true;
}

/* Whether a float32 Conv can take over post-ops: no activation of its own,
 * on the level's GEMM or depthwise kernels or on sparse weights (the dynamic
 * int8 Conv's params and state are its own: it takes over none). */
static conv_state* post_capable(nrt_ctx* ctx) {
    if (nrt_conv_is_dynamic(nrt_in(ctx, 0), nrt_in(ctx, 1))) return NULL;
    const conv_params* p = ctx->node->params;
    conv_state* s = ctx->node->state;
    bool kernels = p->plan.kind == NRT_CONV_GEMM || p->plan.kind == NRT_CONV_DEPTHWISE || p->sparse_f32;
    if (!s || s->int8 || s->lut || !kernels || p->spmm || p->act.kind != NRT_ACT_NONE) return NULL;
    if (!s->post) s->residual_in = -1;
    return s;
}

/* Such a conv adds the shortcut r (tensor r: the output's pixels, its first
 * channels) and applies act as it writes (kernels/conv.h, nrt_conv_post),
 * writing tensor y. Before any PRelu. */
bool nrt_conv_fuse_residual(nrt_ctx* ctx, int r, int y, const nrt_activation* act, nrt_f32_vbinary_ukernel add,
                            nrt_f32_vact_ukernel act_run) {
    conv_state* s = post_capable(ctx);
    const nrt_tensor* t = &ctx->model->tensors[r];
    if (!s || s->post || t->dtype != NRT_FLOAT32 || t->rank != 4 || t->dims[0] != s->g.n || t->dims[1] != s->g.oh ||
        t->dims[2] != s->g.ow || t->dims[3] > s->g.cout)
        return false;
    s->post = true;
    s->post_out = y;
    s->residual_in = r;
    s->residual_act = *act;
    s->post_ops = (nrt_conv_post){.channels = (size_t)t->dims[3], .add = add, .act_run = act_run};
    return true;
}

/* Such a conv (after its fused Add, if any) applies a PRelu with one slope
 * per output channel (float32 [C_out], constant) as it writes, writing
 * tensor y. The slopes are repeated over whole rows, about PRELU_SPAN
 * values, in scratch: a few channels per pixel (the face mesh's 16 to 32)
 * would otherwise cost a kernel call per pixel. */
#define PRELU_SPAN 512
bool nrt_conv_fuse_prelu(nrt_ctx* ctx, const float* slope, int y, nrt_f32_vbinary_ukernel prelu) {
    conv_state* s = post_capable(ctx);
    if (!s || s->slope) return false;
    size_t cout = (size_t)s->g.cout, rows = cout < PRELU_SPAN ? PRELU_SPAN / cout : 1;
    s->post = true;
    s->post_out = y;
    s->slope = slope;
    s->slope_offset = (ctx->node->scratch_bytes + 63) / 64 * 64;
    ctx->node->scratch_bytes = s->slope_offset + rows * cout * sizeof(float);
    s->post_ops.slope_rows = rows;
    s->post_ops.prelu = prelu;
    return true;
}

const nrt_op_def nrt_op_Conv = {"Conv", 0, NRT_FB_OpOptions_ConvOptions, 2, 3, 1, 1,
                                conv_parse, conv_prepare, conv_eval, NULL};
const nrt_op_def nrt_op_ConvTranspose = {"ConvTranspose", 0, NRT_FB_OpOptions_ConvOptions, 2, 3, 1, 1,
                                         conv_transpose_parse, conv_transpose_prepare, conv_transpose_eval, NULL};
