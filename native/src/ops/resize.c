/* Resize, any rank (ONNX opset 11+ semantics; the converter maps opset 10
 * and Upsample onto it). Inputs: x, roi?, scales?, sizes? (absent or empty
 * = not given); roi, scales and sizes must be static.
 *
 * Which axis an entry of roi / scales / sizes belongs to: with `axes`, entry
 * i is stored axis axes[i]; otherwise stored axis j takes entry perm[j]
 * (perm empty = identity), so an NHWC tensor can use NCHW-ordered vectors.
 *
 * nearest works on every element type (a gather); linear and cubic on
 * float32, as separable passes (shrinking axes first, which keeps the
 * intermediates no larger than the input or output).
 * Quantized int8 (kernels/requant.h): nearest gathers and rescales when the
 * output's parameters differ; linear / cubic run the same float passes on
 * (x - z_x) and requantize the result with s_x / s_y. */
#include <string.h>

#include "../engine/dynamic.h"
#include "../kernels/dtype.h"
#include "../engine/op.h"
#include "../kernels/ref/pad_ref.h"
#include "../kernels/ref/resize_ref.h"
#include "../kernels/dispatch.h"
#include "quant_common.h"

_Static_assert(NRT_RESIZE_CUBIC == NRT_FB_ResizeMode_CUBIC && NRT_RESIZE_LINEAR == NRT_FB_ResizeMode_LINEAR &&
                   NRT_COORD_ASYMMETRIC == NRT_FB_CoordinateTransform_ASYMMETRIC &&
                   NRT_COORD_PYTORCH_HALF_PIXEL == NRT_FB_CoordinateTransform_PYTORCH_HALF_PIXEL &&
                   NRT_COORD_ALIGN_CORNERS == NRT_FB_CoordinateTransform_ALIGN_CORNERS &&
                   NRT_COORD_TF_CROP_AND_RESIZE == NRT_FB_CoordinateTransform_TF_CROP_AND_RESIZE &&
                   NRT_COORD_HALF_PIXEL_SYMMETRIC == NRT_FB_CoordinateTransform_HALF_PIXEL_SYMMETRIC &&
                   NRT_COORD_TF_HALF_PIXEL_FOR_NN == NRT_FB_CoordinateTransform_TF_HALF_PIXEL_FOR_NN &&
                   NRT_NEAREST_ROUND_PREFER_CEIL == NRT_FB_NearestMode_ROUND_PREFER_CEIL &&
                   NRT_NEAREST_FLOOR == NRT_FB_NearestMode_FLOOR && NRT_NEAREST_CEIL == NRT_FB_NearestMode_CEIL,
               "Resize's kernel enums differ from the schema's");

typedef struct resize_params {
    nrt_resize_method m;
    uint8_t keep_aspect;
    float extrapolation_value;
    int naxes, nperm;
    int64_t axes[NRT_MAX_RANK], perm[NRT_MAX_RANK];
} resize_params;

typedef struct resize_pass_plan {
    int axis;
    int64_t outer;
    nrt_resize_pass k;
} resize_pass_plan;

typedef struct resize_state {
    int64_t in_dims[NRT_MAX_RANK], out_dims[NRT_MAX_RANK];
    const int64_t* map[NRT_MAX_RANK];  /* nearest: per-axis index maps */
    nrt_pad_plan gather;               /* nearest */
    int npass;                         /* linear / cubic */
    resize_pass_plan pass[NRT_MAX_RANK];
    size_t buf_floats;                 /* each of the two scratch buffers */
    bool int8, rescale;                /* int8; nearest with differing parameters */
    int32_t zx;
    float m;                           /* s_x / s_y */
    nrt_qs8_out out;
    int64_t data[];                    /* maps, or tap indices then weights and flags */
} resize_state;

static nrt_status resize_parse(nrt_ctx* ctx) {
    resize_params* p = nrt_alloc_params(ctx, sizeof *p);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    uint8_t exclude, antialias;
    nrt_status st;
    if ((st = nrt_opt_u8(ctx, NRT_FB_ResizeOptions_mode, 0, &p->m.mode)) ||
        (st = nrt_opt_u8(ctx, NRT_FB_ResizeOptions_coordinate_transform, 0, &p->m.coord)) ||
        (st = nrt_opt_u8(ctx, NRT_FB_ResizeOptions_nearest_mode, 0, &p->m.nearest)) ||
        (st = nrt_opt_f32(ctx, NRT_FB_ResizeOptions_cubic_coeff_a, -0.75f, &p->m.cubic_a)) ||
        (st = nrt_opt_u8(ctx, NRT_FB_ResizeOptions_exclude_outside, 0, &exclude)) ||
        (st = nrt_opt_f32(ctx, NRT_FB_ResizeOptions_extrapolation_value, 0.0f, &p->extrapolation_value)) ||
        (st = nrt_opt_u8(ctx, NRT_FB_ResizeOptions_keep_aspect_ratio, 0, &p->keep_aspect)) ||
        (st = nrt_opt_ints(ctx, NRT_FB_ResizeOptions_axes, "axes", p->axes, NRT_MAX_RANK, &p->naxes)) ||
        (st = nrt_opt_u8(ctx, NRT_FB_ResizeOptions_antialias, 0, &antialias)) ||
        (st = nrt_opt_ints(ctx, NRT_FB_ResizeOptions_perm, "perm", p->perm, NRT_MAX_RANK, &p->nperm)))
        return st;
    p->m.exclude_outside = exclude;
    p->m.antialias = antialias && p->m.mode != NRT_RESIZE_NEAREST; /* ONNX: no effect on nearest */
    if (p->m.mode > NRT_RESIZE_CUBIC || p->m.coord > NRT_COORD_TF_HALF_PIXEL_FOR_NN ||
        p->m.nearest > NRT_NEAREST_CEIL || p->keep_aspect > NRT_FB_KeepAspectRatio_NOT_SMALLER)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "unknown mode, coordinate transform, nearest mode or "
                           "keep_aspect_ratio_policy value");
    if (!isfinite(p->m.cubic_a)) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "cubic_coeff_a is not finite");
    if (p->naxes && p->nperm) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "axes and perm cannot both be set");
    return NRT_OK;
}

/* ---- prepare: which entry of roi / scales / sizes each stored axis uses ---- */

static nrt_status axis_entries(nrt_ctx* ctx, const resize_params* p, int rank, int* entry, int* count) {
    for (int j = 0; j < rank; j++) entry[j] = -1;
    nrt_status st;
    if (p->naxes) {
        for (int i = 0; i < p->naxes; i++) {
            int a;
            if ((st = nrt_axis(ctx, p->axes[i], rank, &a))) return st;
            if (entry[a] >= 0) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "axis %d is repeated in axes", a);
            entry[a] = i;
        }
        *count = p->naxes;
        return NRT_OK;
    }
    if (p->nperm && p->nperm != rank)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "perm has %d entries for a rank-%d input", p->nperm, rank);
    bool seen[NRT_MAX_RANK] = {false};
    for (int j = 0; j < rank; j++) {
        int64_t e = p->nperm ? p->perm[j] : j;
        if (e < 0 || e >= rank || seen[e]) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "perm is not a permutation");
        seen[e] = true;
        entry[j] = (int)e;
    }
    *count = rank;
    return NRT_OK;
}

static bool given(const nrt_tensor* t) { return t && nrt_numel(t) > 0; }

/* A static float vector (float32/float64/float16) of exactly `want` values. */
static nrt_status read_floats(nrt_ctx* ctx, const nrt_tensor* t, const char* role, int want, double* out) {
    if (!nrt_is_static(t)) return nrt_value_at_invoke(ctx, t, role);
    if (nrt_numel(t) != want)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "%s %s has %lld values, expected %d", role, t->name,
                           (long long)nrt_numel(t), want);
    for (int i = 0; i < want; i++) {
        switch (t->dtype) {
        case NRT_FLOAT32: out[i] = ((const float*)t->data)[i]; break;
        case NRT_FLOAT64: out[i] = ((const double*)t->data)[i]; break;
        case NRT_FLOAT16: out[i] = nrt_f16_to_f32(((const uint16_t*)t->data)[i]); break;
        default: return nrt_op_fail(ctx, NRT_ERR_DTYPE, "%s %s is %s, expected float", role, t->name,
                                    nrt_dtype_name(t->dtype));
        }
    }
    return NRT_OK;
}

/* Output length and scale of every stored axis, from scales or sizes. */
static nrt_status resolve_axes(nrt_ctx* ctx, const resize_params* p, const nrt_tensor* x, const int* entry, int k,
                               nrt_resize_axis* ax) {
    const nrt_tensor *roi = nrt_in(ctx, 1), *scales = nrt_in(ctx, 2), *sizes = nrt_in(ctx, 3);
    double v[2 * NRT_MAX_RANK], r[2 * NRT_MAX_RANK];
    int64_t n[NRT_MAX_RANK];
    int count;
    nrt_status st;
    if (given(scales) == given(sizes))
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "exactly one of scales and sizes must be given");
    bool crop = p->m.coord == NRT_COORD_TF_CROP_AND_RESIZE;
    if (crop && !given(roi)) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "tf_crop_and_resize needs roi");
    if (crop && (st = read_floats(ctx, roi, "roi", 2 * k, r))) return st;
    if (given(scales) && (st = read_floats(ctx, scales, "scales", k, v))) return st;
    if (given(sizes)) {
        if ((st = nrt_read_static_ints(ctx, sizes, "sizes", n, NRT_MAX_RANK, &count))) return st;
        if (count != k) return nrt_op_fail(ctx, NRT_ERR_SHAPE, "sizes has %d values, expected %d", count, k);
    }
    double common = 0.0; /* keep_aspect_ratio_policy's single scale */
    for (int j = 0; j < x->rank; j++) {
        int e = entry[j];
        int64_t in = x->dims[j];
        ax[j] = (nrt_resize_axis){in, in, 1.0, crop && e >= 0 ? r[e] : 0.0, crop && e >= 0 ? r[k + e] : 1.0};
        if (e < 0) continue;
        if (given(scales)) {
            if (!(v[e] > 0.0) || !isfinite(v[e]))
                return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "scale %g of axis %d must be positive", v[e], j);
            ax[j].scale = v[e];
            double o = floor((double)in * v[e]);
            if (o > 9.0e15) return nrt_op_fail(ctx, NRT_ERR_LIMIT, "axis %d would be too large", j);
            ax[j].out = (int64_t)o;
            continue;
        }
        if (n[e] < 0 || (in == 0 && n[e] > 0))
            return nrt_op_fail(ctx, NRT_ERR_SHAPE, "cannot resize axis %d from %lld to %lld", j, (long long)in,
                               (long long)n[e]);
        ax[j].out = n[e];
        ax[j].scale = in ? (double)n[e] / (double)in : 1.0;
        if (p->keep_aspect == NRT_FB_KeepAspectRatio_NOT_LARGER && (common == 0.0 || ax[j].scale < common))
            common = ax[j].scale;
        if (p->keep_aspect == NRT_FB_KeepAspectRatio_NOT_SMALLER && ax[j].scale > common) common = ax[j].scale;
    }
    if (given(sizes) && p->keep_aspect != NRT_FB_KeepAspectRatio_STRETCH)
        for (int j = 0; j < x->rank; j++)
            if (entry[j] >= 0) {
                double o = common * (double)ax[j].in + 0.5; /* ONNX: round half up */
                if (o > 9.0e15) return nrt_op_fail(ctx, NRT_ERR_LIMIT, "axis %d would be too large", j);
                ax[j].scale = common;
                ax[j].out = (int64_t)o;
            }
    return NRT_OK;
}

/* As ONNX's reference: an axis with scale ~1, the same length and the
 * whole roi is left as it is. */
static bool is_identity(const nrt_resize_axis* a) {
    return fabs(a->scale - 1.0) <= 1e-9 && a->out == a->in && fabs(a->roi_start) <= 1e-9 &&
           fabs(a->roi_end - 1.0) <= 1e-9;
}

static nrt_status plan_nearest(nrt_ctx* ctx, const resize_params* p, const nrt_tensor* x, const nrt_resize_axis* ax) {
    size_t total = 0;
    for (int j = 0; j < x->rank; j++) total += (size_t)ax[j].out;
    resize_state* s = nrt_alloc_state(ctx, sizeof *s + total * sizeof(int64_t));
    if (!s) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    int64_t* m = s->data;
    for (int j = 0; j < x->rank; j++) {
        if (is_identity(&ax[j]))
            for (int64_t o = 0; o < ax[j].out; o++) m[o] = o;
        else
            nrt_resize_nearest_map(&p->m, &ax[j], m);
        s->map[j] = m;
        s->in_dims[j] = ax[j].in;
        s->out_dims[j] = ax[j].out;
        m += ax[j].out;
    }
    const nrt_resize_axis* last = &ax[x->rank - 1];
    uint64_t elem;
    nrt_dtype_bytes(x->dtype, 1, &elem);
    s->gather = (nrt_pad_plan){x->rank, (size_t)elem, s->in_dims, s->out_dims, s->map, 0, 0,
                               is_identity(last) ? last->out : 0, NULL, false};
    return NRT_OK;
}

/* Order of the linear / cubic passes: shrinking axes first. */
static int order_passes(const nrt_resize_axis* ax, int rank, int* order) {
    int n = 0;
    for (int j = 0; j < rank; j++)
        if (!is_identity(&ax[j])) order[n++] = j;
    for (int i = 1; i < n; i++) /* insertion sort by out / in */
        for (int k = i; k > 0; k--) {
            const nrt_resize_axis *a = &ax[order[k - 1]], *b = &ax[order[k]];
            if ((double)a->out * (double)b->in <= (double)b->out * (double)a->in) break;
            int t = order[k];
            order[k] = order[k - 1];
            order[k - 1] = t;
        }
    return n;
}

static nrt_status plan_passes(nrt_ctx* ctx, const resize_params* p, const nrt_tensor* x, const nrt_resize_axis* ax) {
    int order[NRT_MAX_RANK], taps[NRT_MAX_RANK];
    int n = order_passes(ax, x->rank, order);
    size_t bytes = 0;
    for (int i = 0; i < n; i++) {
        const nrt_resize_axis* a = &ax[order[i]];
        if (!(taps[i] = nrt_resize_taps(&p->m, a->scale, NRT_RESIZE_MAX_TAPS)))
            return nrt_op_fail(ctx, NRT_ERR_LIMIT, "antialiased scale %g of axis %d needs too many taps", a->scale,
                               order[i]);
        bytes += (size_t)a->out * ((size_t)taps[i] * (sizeof(int64_t) + sizeof(float)) + 1) + 16;
    }
    resize_state* s = nrt_alloc_state(ctx, sizeof *s + bytes);
    if (!s) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    uint8_t* mem = (uint8_t*)s->data;
    int64_t cur[NRT_MAX_RANK];
    for (int j = 0; j < x->rank; j++) cur[j] = x->dims[j];
    for (int i = 0; i < n; i++) {
        int j = order[i];
        const nrt_resize_axis* a = &ax[j];
        resize_pass_plan* pp = &s->pass[i];
        int64_t* idx = (int64_t*)mem;
        float* w = (float*)(idx + a->out * taps[i]);
        uint8_t* extrap = (uint8_t*)(w + a->out * taps[i]);
        mem = extrap + (a->out + 7) / 8 * 8;
        mem += (8 - (uintptr_t)mem % 8) % 8; /* the next pass' int64 indices */
        nrt_resize_axis_coeffs(&p->m, a, taps[i], idx, w, extrap);
        pp->axis = j;
        pp->outer = 1;
        int64_t inner = 1;
        for (int d = 0; d < j; d++) pp->outer *= cur[d];
        for (int d = j + 1; d < x->rank; d++) inner *= cur[d];
        pp->k = (nrt_resize_pass){cur[j], a->out, inner, taps[i], idx, w, extrap, p->extrapolation_value};
        cur[j] = a->out;
        if (i < n - 1) {
            size_t size = (size_t)(pp->outer * a->out * inner);
            if (size > s->buf_floats) s->buf_floats = size;
        }
    }
    s->npass = n;
    ctx->node->scratch_bytes = 2 * ((s->buf_floats * sizeof(float) + 63) / 64 * 64);
    return NRT_OK;
}

/* Buffer size of the float scratch (64-byte multiples). */
static size_t aligned_floats(size_t n) { return (n * sizeof(float) + 63) / 64 * 64; }

/* int8: the rescale constants; linear / cubic also need (x - z_x) in float
 * (a third buffer after the two pass buffers) and the last pass' float output. */
static nrt_status prepare_int8(nrt_ctx* ctx, const nrt_tensor* x, const nrt_tensor* y) {
    resize_state* s = ctx->node->state;
    nrt_qs8 qx, qy;
    nrt_status st;
    if ((st = nrt_qs8_params(ctx, x, "input", &qx)) || (st = nrt_qs8_params(ctx, y, "output", &qy)) ||
        (st = nrt_qs8_multiplier(ctx, qx.scale, qy.scale, "s_x / s_y", &s->m)))
        return st;
    s->int8 = true;
    s->zx = qx.zero_point;
    s->out = (nrt_qs8_out){qy.zero_point, -128, 127};
    s->rescale = qx.scale != qy.scale || qx.zero_point != qy.zero_point;
    if (((const resize_params*)ctx->node->params)->m.mode != NRT_RESIZE_NEAREST) {
        if ((size_t)nrt_numel(y) > s->buf_floats) s->buf_floats = (size_t)nrt_numel(y);
        ctx->node->scratch_bytes = 2 * aligned_floats(s->buf_floats) + aligned_floats((size_t)nrt_numel(x));
    } else if (s->rescale && nrt_numel(x) < nrt_numel(y)) {
        ctx->node->scratch_bytes = (size_t)nrt_numel(x); /* x rescaled before the gather (eval_nearest) */
    }
    return NRT_OK;
}

static nrt_status resize_prepare(nrt_ctx* ctx) {
    const resize_params* p = ctx->node->params;
    nrt_tensor *x = nrt_in(ctx, 0), *y = nrt_out(ctx, 0);
    nrt_status st = nrt_expect_same_dtype(ctx, x, y);
    if (st != NRT_OK) return st;
    bool nearest = p->m.mode == NRT_RESIZE_NEAREST;
    bool crop = p->m.coord == NRT_COORD_TF_CROP_AND_RESIZE;
    if (nrt_is_qs8(x) && crop)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "input %s is quantized int8; tf_crop_and_resize has no int8 form",
                           x->name);
    if (x->dtype != NRT_FLOAT32 && !nrt_is_qs8(x) && (!nearest || crop || x->dtype == NRT_INT4))
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "input %s is %s; this mode supports float32 only", x->name,
                           nrt_dtype_name(x->dtype));
    if (x->rank < 1) return nrt_op_fail(ctx, NRT_ERR_SHAPE, "input %s is a scalar", x->name);
    int entry[NRT_MAX_RANK], k = 0;
    nrt_resize_axis ax[NRT_MAX_RANK];
    if ((st = axis_entries(ctx, p, x->rank, entry, &k)) || (st = resolve_axes(ctx, p, x, entry, k, ax))) return st;
    int64_t out[NRT_MAX_RANK];
    for (int j = 0; j < x->rank; j++) out[j] = ax[j].out;
    if ((st = nrt_set_shape(ctx, y, x->rank, out))) return st;
    /* Empty output: eval returns at once, and the per-axis tables (sized by
     * each axis, unbounded when another axis is 0) are not needed. */
    if (nrt_numel(y) == 0)
        return nrt_alloc_state(ctx, sizeof(resize_state)) ? NRT_OK
                                                           : nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    if ((st = nearest ? plan_nearest(ctx, p, x, ax) : plan_passes(ctx, p, x, ax))) return st;
    return nrt_is_qs8(x) ? prepare_int8(ctx, x, y) : NRT_OK;
}

/* ---- eval ---- */

typedef struct resize_job {
    const nrt_pad_plan* gather;
    const nrt_resize_pass* pass;
    const void* x;
    void* y;
} resize_job;

static void gather_rows(void* arg, size_t begin, size_t end) {
    const resize_job* j = arg;
    nrt_pad_ref(j->gather, j->x, j->y, (int64_t)begin, (int64_t)end);
}

static void pass_items(void* arg, size_t begin, size_t end) {
    const resize_job* j = arg;
    nrt_resize_pass_f32_ref(j->pass, j->x, j->y, (int64_t)begin, (int64_t)end);
}

/* int8 element-wise steps, over element ranges. */
typedef struct int8_job {
    const resize_state* s;
    const void* src;
    void* dst;
    nrt_qs8_rescale_ukernel fast; /* rescale: the level's kernel (qs8_kernels.h) */
} int8_job;

static void to_float(void* arg, size_t begin, size_t end) {
    const int8_job* j = arg;
    nrt_qs8_to_f32_ref((const int8_t*)j->src + begin, end - begin, j->s->zx, (float*)j->dst + begin);
}

static void to_int8(void* arg, size_t begin, size_t end) {
    const int8_job* j = arg;
    nrt_f32_to_qs8_ref((const float*)j->src + begin, end - begin, j->s->m, &j->s->out, (int8_t*)j->dst + begin);
}

static void rescale(void* arg, size_t begin, size_t end) {
    const int8_job* j = arg;
    int8_t* y = (int8_t*)j->dst + begin;
    nrt_qs8_rescale_ukernel fast = j->fast;
    nrt_qs8_requant rq = nrt_qs8_requant_make(j->s->out.zero_point, j->s->out.qmin, j->s->out.qmax);
    if (rq.lo <= rq.hi) fast(end - begin, y, j->s->zx, j->s->m, &rq, y);
    else nrt_rescale_qs8_ref(y, y, end - begin, j->s->zx, j->s->m, &j->s->out); /* a Clip with min > max */
}

static void eval_nearest(nrt_ctx* ctx, const resize_state* s, const nrt_tensor* x, nrt_tensor* y) {
    const resize_params* p = ctx->node->params;
    nrt_pad_plan plan = s->gather;
    plan.value = (const uint8_t*)&p->extrapolation_value; /* used by float32 only */
    int64_t row_len = y->dims[y->rank - 1];
    resize_job job = {&plan, NULL, x->data, y->data};
    bool before = s->int8 && s->rescale && nrt_numel(x) < nrt_numel(y);
    if (before) { /* pointwise, and every output is some input code: rescale the smaller tensor first */
        int8_job r = {s, NULL, ctx->node->scratch, nrt_kernels_of(ctx)->qs8_rescale};
        memcpy(ctx->node->scratch, x->data, (size_t)nrt_numel(x));
        nrt_parallel_for(ctx, (size_t)nrt_numel(x), 16384, rescale, &r);
        job.x = ctx->node->scratch;
    }
    nrt_parallel_for(ctx, (size_t)(nrt_numel(y) / row_len), 1 + 16384 / (size_t)row_len, gather_rows, &job);
    if (s->int8 && s->rescale && !before) { /* pointwise, so after the gather */
        int8_job r = {s, NULL, y->data, nrt_kernels_of(ctx)->qs8_rescale};
        nrt_parallel_for(ctx, (size_t)nrt_numel(y), 16384, rescale, &r);
    }
}

static nrt_status resize_eval(nrt_ctx* ctx) {
    const resize_params* p = ctx->node->params;
    const resize_state* s = ctx->node->state;
    nrt_tensor *x = nrt_in(ctx, 0), *y = nrt_out(ctx, 0);
    if (nrt_numel(y) == 0) return NRT_OK;
    if (p->m.mode == NRT_RESIZE_NEAREST) {
        eval_nearest(ctx, s, x, y);
        return NRT_OK;
    }
    if (s->npass == 0 && !s->int8) {
        memcpy(y->data, x->data, x->nbytes);
        return NRT_OK;
    }
    /* No scratch when one float pass writes y directly (and no pointer arithmetic on NULL then). */
    uint8_t* scratch = ctx->node->scratch;
    float* buf[2] = {NULL, NULL};
    if (scratch) {
        buf[0] = (float*)scratch;
        buf[1] = (float*)(scratch + aligned_floats(s->buf_floats));
    }
    const float* src = x->data;
    if (s->int8) { /* (x - z_x) in float; every pass then writes a float buffer */
        float* f = (float*)(scratch + 2 * aligned_floats(s->buf_floats));
        int8_job j = {s, x->data, f, NULL};
        nrt_parallel_for(ctx, (size_t)nrt_numel(x), 16384, to_float, &j);
        src = f;
    }
    for (int i = 0; i < s->npass; i++) {
        float* dst = i == s->npass - 1 && !s->int8 ? y->data : buf[i % 2];
        const resize_pass_plan* pp = &s->pass[i];
        resize_job job = {NULL, &pp->k, src, dst};
        nrt_parallel_for(ctx, (size_t)(pp->outer * pp->k.out_len), 1 + 16384 / (size_t)(pp->k.inner * pp->k.taps),
                         pass_items, &job);
        src = dst;
    }
    if (s->int8) {
        int8_job j = {s, src, y->data, NULL};
        nrt_parallel_for(ctx, (size_t)nrt_numel(y), 16384, to_int8, &j);
    }
    return NRT_OK;
}

const nrt_op_def nrt_op_Resize = {"Resize", 0, NRT_FB_OpOptions_ResizeOptions, 1, 4, 1, 1,
                                  resize_parse, resize_prepare, resize_eval, NULL};
