/* Elementwise binary ops with numpy broadcasting: Add Sub Mul Div Pow Min Max
 * Mod, the comparisons (bool output), And Or Xor (bool), BitShift (uint8) and
 * PRelu (slope broadcast to x's shape). Semantics and dtypes: see
 * kernels/ref/binary_ref.h. A fused activation applies to float32 results. */
#include <string.h>

#include "../kernels/dtype.h"
#include "../kernels/dispatch.h"
#include "../kernels/ref/binary_ref.h"
#include "../kernels/ref/qs16_ref.h"
#include "broadcast.h"
#include "movement_util.h"
#include "qs16.h"
#include "quant_common.h"
#include "upsample.h"

typedef struct binary_params {
    nrt_activation act;
    unsigned variant; /* NRT_BIN_FMOD, NRT_BIN_SHIFT_LEFT */
    nrt_upsample up;  /* operands read upsampled (upsample.h) */
} binary_params;

typedef struct binary_state {
    nrt_bcast plan;
    nrt_binary_kernel kernel;
    int mode;        /* NRT_BIN_*: which operand the innermost dim holds constant */
    bool check_zero; /* integer Div / Mod: a zero divisor is an error */
    bool scalar_pow; /* float Pow with a single exponent: see pow_variant */
    bool int8;       /* quantized int8 Add / Sub / Mul: kernel.params = &q */
    nrt_qs8_binary q;
    bool int16;      /* 16-bit Add / Sub / Mul: kernel.params = &q16 */
    nrt_qs16_binary q16;
    nrt_f32_vbinary_ukernel vfast; /* float32 arithmetic: the level's vector kernel (else NULL: reference) */
    nrt_f32_vact_ukernel vact;     /* the level's activation kernel */
    nrt_qs8_lut_ukernel lut;        /* int8 with one single-value operand: y = table[x] (see eval_int8_lut) */
    int lut_vector;                /* which operand (0 / 1) runs through the table */
    int64_t height, width, pixel;  /* upsampled operands: the output's H, W and elements per pixel */
} binary_state;

static nrt_status binary_parse(nrt_ctx* ctx) {
    binary_params* p = nrt_alloc_params(ctx, sizeof *p);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    uint8_t fmod, left;
    nrt_status st;
    if ((st = nrt_opt_activation(ctx, NRT_FB_BinaryOptions_activation, &p->act)) ||
        (st = nrt_opt_u8(ctx, NRT_FB_BinaryOptions_fmod, 0, &fmod)) ||
        (st = nrt_opt_u8(ctx, NRT_FB_BinaryOptions_shift_left, 0, &left)) ||
        (st = nrt_upsample_parse(ctx, NRT_FB_BinaryOptions_upsample, &p->up)))
        return st;
    unsigned op = ctx->node->op;
    if (p->up.any && op != NRT_FB_OpType_Add && op != NRT_FB_OpType_Sub && op != NRT_FB_OpType_Mul)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "upsample is an Add, Sub or Mul option");
    p->variant = (fmod ? NRT_BIN_FMOD : 0u) | (left ? NRT_BIN_SHIFT_LEFT : 0u);
    return NRT_OK;
}

static bool is_int(nrt_dtype t) { return !nrt_dtype_table[t].is_float && t != NRT_BOOL && t != NRT_INT4; }

/* Pow with one float exponent of 2 or 0.5 (variances, norms) has exact fast
 * kernels, and of 3 (float32) one within pow's accuracy; the exponent may be
 * computed at run time, so eval looks. */
static unsigned pow_variant(const nrt_tensor* e) {
    double v;
    switch (e->dtype) {
    case NRT_FLOAT32: v = *(const float*)e->data; break;
    case NRT_FLOAT64: v = *(const double*)e->data; break;
    default: v = nrt_f16_to_f32(*(const uint16_t*)e->data); break;
    }
    return v == 2.0 ? NRT_BIN_SQUARE : v == 0.5 ? NRT_BIN_SQRT : v == 3.0 ? NRT_BIN_CUBE : 0u;
}

/* Quantized int8 Add / Sub / Mul (kernels/requant.h); the fused Relu / Clip
 * becomes the output clamp. */
static nrt_status pick_int8(nrt_ctx* ctx, const nrt_tensor* a, const nrt_tensor* b, const nrt_tensor* y,
                            binary_state* s) {
    const binary_params* p = ctx->node->params;
    unsigned op = ctx->node->op;
    if (op != NRT_FB_OpType_Add && op != NRT_FB_OpType_Sub && op != NRT_FB_OpType_Mul)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "no int8 kernel for quantized operands (Add, Sub, Mul have one)");
    nrt_qs8 qa, qb, qy;
    nrt_status st;
    if ((st = nrt_qs8_params(ctx, a, "input", &qa)) || (st = nrt_qs8_params(ctx, b, "input", &qb)) ||
        (st = nrt_qs8_params(ctx, y, "output", &qy)) || (st = nrt_qs8_output(ctx, &p->act, &qy, &s->q.out)))
        return st;
    s->q.za = qa.zero_point;
    s->q.zb = qb.zero_point;
    if (op == NRT_FB_OpType_Mul) {
        s->q.mb = 0.0f;
        st = nrt_qs8_multiplier(ctx, (double)qa.scale * (double)qb.scale, qy.scale, "s_a * s_b / s_y", &s->q.ma);
    } else {
        double sb = op == NRT_FB_OpType_Sub ? -(double)qb.scale : (double)qb.scale;
        if (!(st = nrt_qs8_multiplier(ctx, qa.scale, qy.scale, "s_a / s_y", &s->q.ma)))
            st = nrt_qs8_multiplier(ctx, sb, qy.scale, "s_b / s_y", &s->q.mb);
    }
    s->kernel = (nrt_binary_kernel){op == NRT_FB_OpType_Mul ? nrt_mul_qs8_ref : nrt_add_qs8_ref, NRT_INT8, NRT_INT8,
                                    NRT_INT8, false, &s->q};
    const nrt_kernels* k = nrt_kernels_of(ctx);
    if (s->q.out.qmin <= s->q.out.qmax) s->kernel.fn = op == NRT_FB_OpType_Mul ? k->qs8_vmul : k->qs8_vadd;
    s->int8 = true;
    return st;
}

/* 16-bit Add / Sub / Mul (ref/qs16_ref.h): int16 operands and result, one
 * scale each, zero point 0; the fused Relu / Clip becomes the output clamp. */
static nrt_status pick_int16(nrt_ctx* ctx, const nrt_tensor* a, const nrt_tensor* b, const nrt_tensor* y,
                             binary_state* s) {
    const binary_params* p = ctx->node->params;
    unsigned op = ctx->node->op;
    if (op != NRT_FB_OpType_Add && op != NRT_FB_OpType_Sub && op != NRT_FB_OpType_Mul)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "no 16-bit kernel for quantized operands (Add, Sub, Mul have one)");
    if (p->up.any) return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "16-bit operands cannot be read upsampled");
    float sa, sb, sy;
    nrt_status st;
    if ((st = nrt_qs16_scale(ctx, a, "input", &sa)) || (st = nrt_qs16_scale(ctx, b, "input", &sb)) ||
        (st = nrt_qs16_scale(ctx, y, "output", &sy)) || (st = nrt_qs16_output(ctx, &p->act, sy, &s->q16.out)))
        return st;
    if (op == NRT_FB_OpType_Mul) {
        s->q16.mb = 0.0f;
        st = nrt_qs8_multiplier(ctx, (double)sa * (double)sb, sy, "s_a * s_b / s_y", &s->q16.ma);
    } else if (!(st = nrt_qs8_multiplier(ctx, sa, sy, "s_a / s_y", &s->q16.ma))) {
        st = nrt_qs8_multiplier(ctx, op == NRT_FB_OpType_Sub ? -(double)sb : (double)sb, sy, "s_b / s_y", &s->q16.mb);
    }
    const nrt_kernels* k = nrt_kernels_of(ctx);
    s->kernel = (nrt_binary_kernel){op == NRT_FB_OpType_Mul ? k->qs16_vmul : k->qs16_vadd, NRT_INT16, NRT_INT16,
                                    NRT_INT16, false, &s->q16};
    s->int16 = true;
    return st;
}

/* float32 Add / Sub / Mul / Div / Min / Max / PRelu: the level's vector kernels. */
static void pick_fast(nrt_ctx* ctx, const nrt_tensor* a, const nrt_tensor* b, binary_state* s) {
    const nrt_kernels* k = nrt_kernels_of(ctx);
    int vop = -1;
    switch (ctx->node->op) {
    case NRT_FB_OpType_Add: vop = NRT_F32_VADD; break;
    case NRT_FB_OpType_Sub: vop = NRT_F32_VSUB; break;
    case NRT_FB_OpType_Mul: vop = NRT_F32_VMUL; break;
    case NRT_FB_OpType_Div: vop = NRT_F32_VDIV; break;
    case NRT_FB_OpType_Min: vop = NRT_F32_VMIN; break;
    case NRT_FB_OpType_Max: vop = NRT_F32_VMAX; break;
    case NRT_FB_OpType_PRelu: vop = NRT_F32_VPRELU; break;
    default: break;
    }
    s->vfast = vop >= 0 && a->dtype == NRT_FLOAT32 && b->dtype == NRT_FLOAT32 ? k->f32_vbinary[vop] : NULL;
    s->vact = k->f32_vact;
}

/* The reference kernel's name for the op (every op of this file has one). */
static nrt_binary_op kernel_op(unsigned op) {
    switch (op) {
#define NRT_BINARY_CASE(name) \
    case NRT_FB_OpType_##name: return NRT_BINARY_##name;
        NRT_BINARY_OPS(NRT_BINARY_CASE)
#undef NRT_BINARY_CASE
    default: return NRT_BINARY_Add;
    }
}

static nrt_status pick_kernel(nrt_ctx* ctx, const nrt_tensor* a, const nrt_tensor* b, const nrt_tensor* y,
                              binary_state* s) {
    const binary_params* p = ctx->node->params;
    unsigned op = ctx->node->op;
    if (nrt_is_qs16(a) || nrt_is_qs16(b) || nrt_is_qs16(y)) return pick_int16(ctx, a, b, y, s);
    if (nrt_is_qs8(a) || nrt_is_qs8(b) || nrt_is_qs8(y)) return pick_int8(ctx, a, b, y, s);
    if (!nrt_binary_ref_select(kernel_op(op), p->variant, a->dtype, b->dtype, &s->kernel)) {
        if (a->dtype != b->dtype && op != NRT_FB_OpType_Pow) return nrt_expect_same_dtype(ctx, a, b);
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "not implemented for inputs %s (%s) and %s (%s)", a->name,
                           nrt_dtype_name(a->dtype), b->name, nrt_dtype_name(b->dtype));
    }
    nrt_status st = nrt_expect_dtype(ctx, y, s->kernel.y_type, "output");
    if (st) return st;
    if (p->act.kind != NRT_ACT_NONE && y->dtype != NRT_FLOAT32)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "a fused activation needs a float32 result; %s is %s", y->name,
                           nrt_dtype_name(y->dtype));
    s->check_zero = (op == NRT_FB_OpType_Div || op == NRT_FB_OpType_Mod) && is_int(b->dtype);
    s->scalar_pow = op == NRT_FB_OpType_Pow && a->dtype == b->dtype && nrt_dtype_table[b->dtype].is_float &&
                    nrt_numel(b) == 1;
    pick_fast(ctx, a, b, s);
    return NRT_OK;
}

/* Upsampled operands: both views have the output's 4-D shape (no other
 * broadcasting), walked by image rows in eval (eval_upsampled). */
static nrt_status prepare_upsampled(nrt_ctx* ctx, const nrt_tensor* a, const nrt_tensor* b, nrt_tensor* y,
                                    binary_state* s) {
    const binary_params* p = ctx->node->params;
    int64_t va[NRT_MAX_RANK] = {0}, vb[NRT_MAX_RANK] = {0};
    nrt_status st;
    if ((st = nrt_upsample_view(ctx, &p->up, 0, a, va)) || (st = nrt_upsample_view(ctx, &p->up, 1, b, vb))) return st;
    if (a->rank != 4 || b->rank != 4 || memcmp(va, vb, sizeof va) != 0) {
        char da[96], db[96];
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "upsampled operands %s %s and %s %s must have one 4-D shape",
                           a->name, nrt_mv_dims_str(a->rank, va, da, sizeof da), b->name,
                           nrt_mv_dims_str(b->rank, vb, db, sizeof db));
    }
    if ((st = nrt_set_shape(ctx, y, 4, va))) return st;
    s->plan.total = nrt_numel(y);
    s->height = va[1];
    s->width = va[2];
    s->pixel = va[3];
    return NRT_OK;
}

static nrt_status binary_prepare(nrt_ctx* ctx) {
    const binary_params* p = ctx->node->params;
    nrt_tensor *a = nrt_in(ctx, 0), *b = nrt_in(ctx, 1), *y = nrt_out(ctx, 0);
    if (!a || !b) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "both inputs are required");
    binary_state* s = nrt_alloc_state(ctx, sizeof *s);
    if (!s) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    nrt_status st = pick_kernel(ctx, a, b, y, s);
    if (st) return st;
    if (p->up.any) return prepare_upsampled(ctx, a, b, y, s);
    const nrt_tensor* ins[2] = {a, b};
    int rank;
    int64_t dims[NRT_MAX_RANK];
    if ((st = nrt_bcast_shape(ctx, 2, ins, &rank, dims))) return st;
    if (ctx->node->op == NRT_FB_OpType_PRelu &&
        (rank != a->rank || memcmp(dims, a->dims, sizeof *dims * (size_t)rank) != 0))
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "slope %s does not broadcast to the shape of input %s", b->name,
                           a->name);
    if ((st = nrt_set_shape(ctx, y, rank, dims))) return st;
    nrt_bcast_plan(&s->plan, 2, ins, rank, dims);
    /* a table lookup beats the arithmetic only when the level vectorizes it */
    nrt_qs8_lut_ukernel lut = nrt_kernels_of(ctx)->qs8_lut;
    if (s->int8 && lut != nrt_kernels_of_level(NRT_ISA_REF)->qs8_lut && (nrt_numel(b) == 1 || nrt_numel(a) == 1)) {
        s->lut_vector = nrt_numel(b) == 1 ? 0 : 1;
        if (nrt_numel(ins[s->lut_vector]) == s->plan.total) s->lut = lut;
    }
    int sa = nrt_bcast_inner_stride(&s->plan, 0), sb = nrt_bcast_inner_stride(&s->plan, 1);
    s->mode = !sb ? NRT_BIN_VS : (!sa ? NRT_BIN_SV : NRT_BIN_VV);
    return NRT_OK;
}

/* Short rows (x[N, 3] + b[3], boxes, grids) are handled in blocks of whole
 * rows: operands that are not contiguous over the block are gathered into
 * contiguous buffers, so one kernel call covers many rows. So are longer rows
 * when an operand repeats one row (x[N, C] * scale[C]: squeeze-excite, per
 * channel bias): the buffer holds the row repeated, copied once per task, and
 * a call covers a block instead of one row. */
#define SHORT_ROW 64
#define BLOCK_BYTES 4096 /* per gather buffer */

typedef struct binary_job {
    const binary_state* s;
    nrt_binary_kernel kernel;
    const nrt_activation* act;
    const uint8_t *a, *b;
    uint8_t* y;
    size_t ea, eb, ey; /* element sizes */
} binary_job;

/* What one thread's walk needs: the job, and gather buffers for short rows. */
typedef struct binary_walk {
    const binary_job* j;
    int64_t cached_off[2], cached_rows[2]; /* a buffer holding a repeated row (stride 0 across rows) is
                                              reused while it covers the same rows */
    _Alignas(64) uint8_t buf[2][BLOCK_BYTES];
} binary_walk;

static void run_kernel(const binary_job* j, const void* a, const void* b, void* y, size_t n, int mode) {
    if (j->s->vfast) j->s->vfast(n, a, b, y, mode);
    else nrt_binary_ref_run(&j->kernel, a, b, y, n, mode);
}

static void binary_run(void* arg, const int64_t* off, int64_t out, int64_t count) {
    const binary_job* j = ((const binary_walk*)arg)->j;
    void* y = j->y + (size_t)out * j->ey;
    run_kernel(j, j->a + (size_t)off[0] * j->ea, j->b + (size_t)off[1] * j->eb, y, (size_t)count, j->s->mode);
    if (j->act->kind != NRT_ACT_NONE) j->s->vact(j->act, y, y, (size_t)count);
}

#define GATHER(T)                                                                                          \
    do {                                                                                                  \
        const T* from = (const T*)base;                                                                   \
        T* to = (T*)buf;                                                                                  \
        for (int64_t r = 0; r < rows; r++, from += so)                                                    \
            for (int64_t k = 0; k < inner; k++) *to++ = from[k * si];                                     \
    } while (0)

/* Operand i over `rows` whole rows as a contiguous run (or one value: *scalar). */
static const void* block_operand(binary_walk* w, int i, const uint8_t* src, size_t esize, int64_t off,
                                 int64_t rows, bool* scalar) {
    const nrt_bcast* p = &w->j->s->plan;
    int64_t inner = p->dims[p->rank - 1], so = p->strides[i][p->rank - 2], si = p->strides[i][p->rank - 1];
    const uint8_t* base = src + (size_t)off * esize;
    uint8_t* buf = w->buf[i];
    *scalar = so == 0 && si == 0;
    if (*scalar || (si == 1 && so == inner)) return base;
    if (so == 0 && w->cached_off[i] == off && w->cached_rows[i] >= rows) return buf;
    switch (esize) {
    case 1: GATHER(uint8_t); break;
    case 2: GATHER(uint16_t); break;
    case 4: GATHER(uint32_t); break;
    default: GATHER(uint64_t); break;
    }
    w->cached_off[i] = so == 0 ? off : -1;
    w->cached_rows[i] = rows;
    return buf;
}

static void binary_rows(void* arg, const int64_t* off, int64_t out, int64_t rows) {
    binary_walk* w = arg;
    const binary_job* j = w->j;
    bool as, bs;
    const void* a = block_operand(w, 0, j->a, j->ea, off[0], rows, &as);
    const void* b = block_operand(w, 1, j->b, j->eb, off[1], rows, &bs);
    int64_t n = rows * j->s->plan.dims[j->s->plan.rank - 1];
    void* y = j->y + (size_t)out * j->ey;
    /* Never both scalar: a kept (size > 1) dim has a nonzero stride in some input. */
    run_kernel(j, a, b, y, (size_t)n, bs ? NRT_BIN_VS : (as ? NRT_BIN_SV : NRT_BIN_VV));
    if (j->act->kind != NRT_ACT_NONE) j->s->vact(j->act, y, y, (size_t)n);
}

/* Whole rows per kernel call (0: a call per row), see SHORT_ROW. */
static int64_t block_rows(const binary_job* j) {
    const nrt_bcast* p = &j->s->plan;
    if (p->rank < 2) return 0;
    int64_t inner = p->dims[p->rank - 1];
    int64_t fit = (int64_t)(BLOCK_BYTES / (j->ea > j->eb ? j->ea : j->eb)) / inner;
    bool repeated = false;
    for (int i = 0; i < 2; i++) repeated |= p->strides[i][p->rank - 2] == 0 && p->strides[i][p->rank - 1] == 1;
    return (inner < SHORT_ROW || repeated) && fit >= 2 ? fit : 0;
}

static void binary_task(void* arg, size_t begin, size_t end) {
    binary_walk w = {.j = arg, .cached_off = {-1, -1}};
    int64_t rows = block_rows(w.j);
    nrt_bcast_visit_rows(&w.j->s->plan, (int64_t)begin, (int64_t)end, rows, binary_run, rows ? binary_rows : NULL,
                         &w);
}

/* ---- upsampled operands: output image rows (n, y), each a W x pixel run ---- */

typedef struct upsampled_job {
    const binary_job* j;
    const nrt_upsample* up;
} upsampled_job;

/* Operand i's source row for output image row r (its row y / fh). */
static const uint8_t* source_row(const binary_job* j, const nrt_upsample* up, int i, size_t r) {
    const binary_state* s = j->s;
    int64_t fh = up->f[i][0], fw = up->f[i][1], n = (int64_t)r / s->height, y = (int64_t)r % s->height;
    size_t elems = (size_t)((n * (s->height / fh) + y / fh) * (s->width / fw) * s->pixel);
    return (i ? j->b : j->a) + elems * (i ? j->eb : j->ea);
}

/* Operand i's elements [e0, e0 + n) of output row r: in place, or (upsampled)
 * expanded into buf. Pieces that start on a source pixel and hold whole
 * ones are expanded by pixels (the common case), others byte by byte. */
static const void* row_piece(const binary_job* j, const nrt_upsample* up, int i, size_t r, size_t e0, size_t n,
                             uint8_t* buf) {
    size_t esize = i ? j->eb : j->ea, pixel = (size_t)j->s->pixel * esize;
    int64_t fw = up->f[i][1];
    const uint8_t* src = source_row(j, up, i, r);
    if (!nrt_upsampled(up, i)) return src + e0 * esize;
    size_t span = (size_t)fw * pixel, b0 = e0 * esize, b1 = (e0 + n) * esize;
    if (b0 % span == 0 && (b1 - b0) % span == 0)
        nrt_upsample_pixels(src + b0 / (size_t)fw, pixel, (b1 - b0) / span, fw, buf, pixel);
    else
        nrt_upsample_bytes(src, pixel, fw, b0, b1, buf);
    return buf;
}

/* Output rows from r on (before end) whose upsampled operands read the
 * same source rows as row r: y / fh is the same for each. */
static size_t same_source_rows(const binary_job* j, const nrt_upsample* up, size_t r, size_t end) {
    size_t g = r + 1;
    while (g < end && (!nrt_upsampled(up, 0) || source_row(j, up, 0, g) == source_row(j, up, 0, r)) &&
           (!nrt_upsampled(up, 1) || source_row(j, up, 1, g) == source_row(j, up, 1, r)))
        g++;
    return g;
}

/* Rows in pieces of about BLOCK_BYTES (whole groups of fw output pixels
 * where they fit): an upsampled operand's piece is expanded into a buffer
 * (in L1) once for the fh output rows that repeat it, the other operand is
 * read in place; then the same kernel call as a plain row of the op. */
static void upsampled_rows(void* arg, size_t begin, size_t end) {
    const upsampled_job* u = arg;
    const binary_job* j = u->j;
    const binary_state* s = j->s;
    size_t row = (size_t)(s->width * s->pixel), esize = j->ea > j->eb ? j->ea : j->eb;
    size_t group = (size_t)s->pixel * (size_t)(u->up->f[0][1] > u->up->f[1][1] ? u->up->f[0][1] : u->up->f[1][1]);
    size_t piece = BLOCK_BYTES / esize;
    if (group <= piece) piece -= piece % group;
    _Alignas(64) uint8_t buf[2][BLOCK_BYTES];
    for (size_t r = begin, g; r < end; r = g) {
        g = same_source_rows(j, u->up, r, end);
        for (size_t e0 = 0; e0 < row; e0 += piece) {
            size_t n = row - e0 < piece ? row - e0 : piece;
            for (size_t k = r; k < g; k++) {
                const void* a = k == r || !nrt_upsampled(u->up, 0) ? row_piece(j, u->up, 0, k, e0, n, buf[0]) : buf[0];
                const void* b = k == r || !nrt_upsampled(u->up, 1) ? row_piece(j, u->up, 1, k, e0, n, buf[1]) : buf[1];
                void* y = j->y + (k * row + e0) * j->ey;
                run_kernel(j, a, b, y, n, NRT_BIN_VV);
                if (j->act->kind != NRT_ACT_NONE) s->vact(j->act, y, y, n);
            }
        }
    }
}

static bool has_zero(const nrt_tensor* t) {
    int64_t n = nrt_numel(t);
    switch (nrt_dtype_size(t->dtype)) {
    case 1: return memchr(t->data, 0, (size_t)n) != NULL;
    case 2:
        for (int64_t i = 0; i < n; i++)
            if (((const uint16_t*)t->data)[i] == 0) return true;
        return false;
    case 4:
        for (int64_t i = 0; i < n; i++)
            if (((const uint32_t*)t->data)[i] == 0) return true;
        return false;
    default:
        for (int64_t i = 0; i < n; i++)
            if (((const uint64_t*)t->data)[i] == 0) return true;
        return false;
    }
}

typedef struct lut_job {
    nrt_qs8_lut_ukernel lut;
    const int8_t* x;
    const int8_t* table;
    int8_t* y;
} lut_job;

static void lut_range(void* arg, size_t begin, size_t end) {
    const lut_job* j = arg;
    j->lut(end - begin, j->x + begin, j->table, j->y + begin);
}

/* An int8 op with a single-value operand is a function of the other
 * operand's code: its 256 results, computed by the op's own kernel (the same
 * arithmetic, so the same bytes), become a table for the level's Lut kernel. */
static void eval_int8_lut(nrt_ctx* ctx, const binary_state* s, const nrt_tensor* a, const nrt_tensor* b,
                          nrt_tensor* y) {
    int8_t codes[256], table[256];
    for (int i = 0; i < 256; i++) codes[i] = (int8_t)(i - 128);
    if (s->lut_vector == 0) s->kernel.fn(&s->kernel, codes, b->data, table, 256, NRT_BIN_VS);
    else s->kernel.fn(&s->kernel, a->data, codes, table, 256, NRT_BIN_SV);
    lut_job j = {s->lut, s->lut_vector == 0 ? a->data : b->data, table, y->data};
    nrt_parallel_for(ctx, (size_t)s->plan.total, 65536, lut_range, &j);
}

static nrt_status binary_eval(nrt_ctx* ctx) {
    const binary_params* p = ctx->node->params;
    const binary_state* s = ctx->node->state;
    nrt_tensor *a = nrt_in(ctx, 0), *b = nrt_in(ctx, 1), *y = nrt_out(ctx, 0);
    if (s->plan.total == 0) return NRT_OK;
    if (s->lut) {
        eval_int8_lut(ctx, s, a, b, y);
        return NRT_OK;
    }
    if (s->check_zero && has_zero(b))
        return nrt_op_fail(ctx, NRT_ERR_INVALID_ARGUMENT, "integer division by zero: divisor %s holds a 0", b->name);
    static const nrt_activation no_activation = {NRT_ACT_NONE, 0.0f, 0.0f}; /* int8 / int16: in the clamp */
    binary_job job = {s, s->kernel, s->int8 || s->int16 ? &no_activation : &p->act, a->data, b->data, y->data,
                      nrt_dtype_size(a->dtype), nrt_dtype_size(b->dtype), nrt_dtype_size(y->dtype)};
    unsigned pv = s->scalar_pow ? pow_variant(b) : 0u;
    if (pv) nrt_binary_ref_select(NRT_BINARY_Pow, pv, a->dtype, b->dtype, &job.kernel);
    /* Pow, float16 and mixed-type kernels cost far more per element. */
    bool heavy = (ctx->node->op == NRT_FB_OpType_Pow && !pv) || s->kernel.via_f32;
    if (p->up.any) {
        upsampled_job u = {&job, &p->up};
        size_t row = (size_t)(s->width * s->pixel);
        nrt_parallel_for(ctx, (size_t)(s->plan.total / (int64_t)row), 1 + 16384 / row, upsampled_rows, &u);
        return NRT_OK;
    }
    nrt_parallel_for(ctx, (size_t)s->plan.total, heavy ? 2048 : 16384, binary_task, &job);
    return NRT_OK;
}

/* A float32 Add of two operands of the output's shape on the level's vector
 * kernel (engine/prepare.c fuse_residual): its activation and kernels. */
bool nrt_add_f32_kernels(const nrt_node* node, nrt_activation* act, nrt_f32_vbinary_ukernel* add,
                         nrt_f32_vact_ukernel* act_run) {
    const binary_params* p = node->params;
    const binary_state* s = node->state;
    if (node->op != NRT_FB_OpType_Add || !s || p->up.any || s->int8 || !s->vfast || s->mode != NRT_BIN_VV)
        return false;
    *act = p->act;
    *add = s->vfast;
    *act_run = s->vact;
    return true;
}

#define BINARY_OP(NAME)                                                                                     \
    const nrt_op_def nrt_op_##NAME = {#NAME, 0, NRT_FB_OpOptions_BinaryOptions, 2, 2, 1, 1,               \
                                      binary_parse, binary_prepare, binary_eval, NULL};
NRT_BINARY_OPS(BINARY_OP)
