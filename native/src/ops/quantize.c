/* Quantization ops: QuantizeLinear (float32 -> int8 / uint8 / int16 / int32),
 * DequantizeLinear (back to float32), DynamicQuantizeLinear (ONNX: uint8 with
 * run-time scale and zero point) and Lut (int8 -> int8 through a 256-entry
 * table, int16 -> int16 through a 65536-entry one). Arithmetic: kernels/requant.h and kernels/ref/quant_ref.h.
 *
 * QuantizeLinear / DequantizeLinear take their scale and zero point from
 * inputs 1 and 2 when present (ONNX: per tensor, per axis, or blocked along
 * the axis), else from the integer tensor's QuantParams (per tensor or per
 * axis) -- the form the converter's int8 graphs use. */
#include <math.h>
#include <string.h>

#include "../kernels/dtype.h"
#include "../engine/op.h"
#include "../kernels/ref/qs16_ref.h"
#include "../kernels/ref/quant_ref.h"
#include "../kernels/dispatch.h"
#include "../kernels/requant.h"

typedef struct qdq_params {
    int32_t axis, block_size;
} qdq_params;

typedef struct qdq_state {
    nrt_qlayout l;
    int64_t count; /* scales (and zero points) */
} qdq_state;

/* QuantizeLinear from int8 / int16 codes to int8 / int16 codes (ref/qs16_ref.h). */
typedef struct requantize_state {
    float m;
    int32_t zx, zy, lo, hi;
} requantize_state;

static bool code_type(nrt_dtype t) { return t == NRT_INT8 || t == NRT_INT16; }

/* x and y int8 / int16, one scale each from QuantParams, no scale inputs. */
static nrt_status requantize_prepare(nrt_ctx* ctx) {
    nrt_tensor *x = nrt_in(ctx, 0), *y = nrt_out(ctx, 0);
    if (nrt_in(ctx, 1) || !code_type(y->dtype))
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "QuantizeLinear of the integer tensor %s needs an int8 or int16 "
                           "output with its own quantization parameters (no scale input)", x->name);
    const nrt_quant *qx = &x->quant, *qy = &y->quant;
    if (qx->count != 1 || qy->count != 1 || qx->block_size > 0 || qy->block_size > 0)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "QuantizeLinear from %s to %s needs one scale on each", x->name,
                           y->name);
    requantize_state* st = nrt_alloc_state(ctx, sizeof *st);
    if (!st) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    st->zx = qx->zero_point ? (int32_t)qx->zero_point[0] : 0;
    st->zy = qy->zero_point ? (int32_t)qy->zero_point[0] : 0;
    st->lo = y->dtype == NRT_INT8 ? -128 : -32768;
    st->hi = y->dtype == NRT_INT8 ? 127 : 32767;
    if (st->zx < (x->dtype == NRT_INT8 ? -128 : -32768) || st->zx > (x->dtype == NRT_INT8 ? 127 : 32767) ||
        st->zy < st->lo || st->zy > st->hi)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "zero point of %s or %s is outside its type's range", x->name,
                           y->name);
    st->m = nrt_requant_multiplier(qx->scale[0], 1.0, qy->scale[0]);
    if (!nrt_requant_multiplier_ok(st->m))
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "rescaling %s to %s: multiplier %g out of range (|m| <= 2^64)",
                           x->name, y->name, (double)st->m);
    return nrt_set_shape_like(ctx, y, x);
}

typedef struct requantize_task {
    const requantize_state* st;
    const void* x;
    void* y;
    int x_size, y_size;
} requantize_task;

static void requantize_range(void* arg, size_t begin, size_t end) {
    const requantize_task* t = arg;
    const requantize_state* s = t->st;
    nrt_requantize_codes_ref(end - begin, (const char*)t->x + begin * (size_t)t->x_size, t->x_size, s->zx, s->m, s->zy,
                             s->lo, s->hi, (char*)t->y + begin * (size_t)t->y_size, t->y_size);
}

static nrt_status requantize_eval(nrt_ctx* ctx) {
    const nrt_tensor *x = nrt_in(ctx, 0), *y = nrt_out(ctx, 0);
    requantize_task t = {ctx->node->state, x->data, y->data, (int)nrt_dtype_size(x->dtype),
                         (int)nrt_dtype_size(y->dtype)};
    nrt_parallel_for(ctx, (size_t)nrt_numel(x), 16384, requantize_range, &t);
    return NRT_OK;
}

static bool requantizes(const nrt_tensor* x) { return x && code_type(x->dtype) && x->quant.count > 0; }

/* Scales given as a tensor must be finite and positive, as QuantParams
 * scales are (loader.c): checked at load when constant, at prepare when
 * computed there, else on every run (`st` is the status for a bad one). */
static nrt_status check_scales(nrt_ctx* ctx, const nrt_tensor* s, nrt_status st) {
    if (s->dtype != NRT_FLOAT32) return NRT_OK; /* (prepare refuses other types) */
    const float* v = s->data;
    for (int64_t i = 0, n = nrt_numel(s); i < n; i++)
        if (!(isfinite(v[i]) && v[i] > 0.0f))
            return nrt_op_fail(ctx, st, "scale %s[%lld] = %g is not a finite positive number", s->name, (long long)i,
                               (double)v[i]);
    return NRT_OK;
}

static nrt_status qdq_parse(nrt_ctx* ctx) {
    qdq_params* p = nrt_alloc_params(ctx, sizeof *p);
    if (!p) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    uint8_t saturate;
    nrt_status st;
    if ((st = nrt_opt_i32(ctx, NRT_FB_QuantizeOptions_axis, 1, &p->axis)) ||
        (st = nrt_opt_i32(ctx, NRT_FB_QuantizeOptions_block_size, 0, &p->block_size)) ||
        (st = nrt_opt_u8(ctx, NRT_FB_QuantizeOptions_saturate, 1, &saturate)))
        return st;
    if (p->block_size < 0)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "block_size %d is negative", (int)p->block_size);
    const nrt_tensor* scale = nrt_in(ctx, 1);
    return scale && scale->kind == NRT_TENSOR_CONSTANT ? check_scales(ctx, scale, NRT_ERR_INVALID_MODEL) : NRT_OK;
}

static bool quant_type(nrt_dtype t) {
    return t == NRT_INT8 || t == NRT_UINT8 || t == NRT_INT16 || t == NRT_INT32;
}

/* x viewed as [outer][axis][inner] around axis `a`. */
static void split_at(const nrt_tensor* x, int a, nrt_qlayout* l) {
    l->outer = l->axis = l->inner = 1;
    for (int d = 0; d < x->rank; d++) {
        if (d < a) l->outer *= x->dims[d];
        else if (d == a) l->axis = x->dims[d];
        else l->inner *= x->dims[d];
    }
}

static void per_tensor(const nrt_tensor* x, nrt_qlayout* l) {
    *l = (nrt_qlayout){1, 1, nrt_numel(x), 0, true};
}

/* Scale / zero point given as inputs (ONNX form). */
static nrt_status layout_from_inputs(nrt_ctx* ctx, const nrt_tensor* x, const nrt_tensor* s, const nrt_tensor* z,
                                     const nrt_tensor* q, qdq_state* st) {
    const qdq_params* p = ctx->node->params;
    if (s->dtype != NRT_FLOAT32)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "scale %s is %s; only float32 scales are supported", s->name,
                           nrt_dtype_name(s->dtype));
    if (z && z->dtype != q->dtype)
        return nrt_op_fail(ctx, NRT_ERR_DTYPE, "zero point %s is %s but %s is %s", z->name, nrt_dtype_name(z->dtype),
                           q->name, nrt_dtype_name(q->dtype));
    if (z && (z->rank != s->rank || memcmp(z->dims, s->dims, sizeof *s->dims * (size_t)s->rank) != 0))
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "zero point %s and scale %s differ in shape", z->name, s->name);
    st->count = nrt_numel(s);
    if (st->count == 1 && p->block_size == 0) {
        per_tensor(x, &st->l);
        return NRT_OK;
    }
    int a;
    nrt_status e = nrt_axis(ctx, p->axis, x->rank, &a);
    if (e) return e;
    split_at(x, a, &st->l);
    if (p->block_size == 0) {
        if (s->rank != 1 || s->dims[0] != x->dims[a])
            return nrt_op_fail(ctx, NRT_ERR_SHAPE, "scale %s must hold 1 or %lld values (axis %d of %s)", s->name,
                               (long long)x->dims[a], a, x->name);
        return NRT_OK;
    }
    st->l.block = p->block_size;
    bool ok = s->rank == x->rank;
    for (int d = 0; ok && d < x->rank; d++)
        ok = s->dims[d] == (d == a ? (x->dims[d] + p->block_size - 1) / p->block_size : x->dims[d]);
    if (!ok)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE,
                           "scale %s does not fit blocks of %d along axis %d of %s (same shape with "
                           "ceil(dim / block) on the axis expected)", s->name, (int)p->block_size, a, x->name);
    return NRT_OK;
}

/* Scale / zero point from the integer tensor's QuantParams. */
static nrt_status layout_from_quant(nrt_ctx* ctx, const nrt_tensor* x, const nrt_tensor* q, qdq_state* st) {
    const nrt_quant* qp = &q->quant;
    if (qp->count == 0)
        return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "no scale: neither a scale input nor quantization "
                           "parameters on %s", q->name);
    if (qp->block_size > 0)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "%s has block quantization parameters", q->name);
    st->count = qp->count;
    if (qp->count == 1) {
        per_tensor(x, &st->l);
        return NRT_OK;
    }
    if (qp->axis < 0 || qp->axis >= x->rank || x->dims[qp->axis] != (int64_t)qp->count)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "%s has %u scales along axis %d, which does not match its shape",
                           q->name, qp->count, qp->axis);
    split_at(x, qp->axis, &st->l);
    return NRT_OK;
}

/* Shared by Quantize (x float, y integer) and Dequantize (x integer, y float). */
static nrt_status qdq_prepare(nrt_ctx* ctx, bool quantize) {
    nrt_tensor *x = nrt_in(ctx, 0), *s = nrt_in(ctx, 1), *z = nrt_in(ctx, 2), *y = nrt_out(ctx, 0);
    if (!x) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "input 0 is missing");
    nrt_tensor *f = quantize ? x : y, *q = quantize ? y : x;
    if (f->dtype != NRT_FLOAT32)
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "%s is %s; only float32 is supported", f->name,
                           nrt_dtype_name(f->dtype));
    if (!quant_type(q->dtype))
        return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "%s is %s; int8, uint8, int16 and int32 are supported", q->name,
                           nrt_dtype_name(q->dtype));
    if (z && !s) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "a zero point input without a scale input");
    qdq_state* st = nrt_alloc_state(ctx, sizeof *st);
    if (!st) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
    nrt_status e = s ? layout_from_inputs(ctx, x, s, z, q, st) : layout_from_quant(ctx, x, q, st);
    if (e == NRT_OK && s && s->kind == NRT_TENSOR_STATIC) e = check_scales(ctx, s, NRT_ERR_INVALID_MODEL);
    if (e) return e;
    ctx->node->scratch_bytes = (size_t)st->count * (sizeof(float) + sizeof(int32_t));
    return nrt_set_shape_like(ctx, y, x);
}

static nrt_status quantize_prepare(nrt_ctx* ctx) {
    return requantizes(nrt_in(ctx, 0)) ? requantize_prepare(ctx) : qdq_prepare(ctx, true);
}
static nrt_status dequantize_prepare(nrt_ctx* ctx) { return qdq_prepare(ctx, false); }

/* Scales and int32 zero points into scratch, from inputs or QuantParams. */
static void gather_params(nrt_ctx* ctx, const nrt_tensor* q, int64_t count, float* s, int32_t* z) {
    const nrt_tensor *si = nrt_in(ctx, 1), *zi = nrt_in(ctx, 2);
    for (int64_t i = 0; i < count; i++) {
        if (si) {
            s[i] = ((const float*)si->data)[i];
            if (!zi) z[i] = 0;
            else if (zi->dtype == NRT_INT8) z[i] = ((const int8_t*)zi->data)[i];
            else if (zi->dtype == NRT_UINT8) z[i] = ((const uint8_t*)zi->data)[i];
            else if (zi->dtype == NRT_INT16) z[i] = ((const int16_t*)zi->data)[i];
            else z[i] = ((const int32_t*)zi->data)[i];
        } else {
            s[i] = q->quant.scale[i];
            z[i] = q->quant.zero_point ? (int32_t)q->quant.zero_point[i] : 0;
        }
    }
}

typedef struct qdq_task {
    nrt_qjob job;
    bool quantize;
    nrt_qs8_quantize_ukernel fast; /* per-tensor float32 -> int8: the level's kernel (qs8_kernels.h) */
    nrt_qs8_dequantize_ukernel fast_dq; /* per-tensor int8 -> float32 */
    nrt_qs16_quantize_ukernel fast16;   /* per-tensor float32 <-> int16 with zero point 0 (qs16_kernels.h) */
    nrt_qs16_dequantize_ukernel fast16_dq;
} qdq_task;

static void qdq_range(void* arg, size_t begin, size_t end) {
    const qdq_task* t = arg;
    if (t->fast16) {
        t->fast16(end - begin, (const float*)t->job.src + begin, t->job.s[0], (int16_t*)t->job.dst + begin);
        return;
    }
    if (t->fast16_dq) {
        t->fast16_dq(end - begin, (const int16_t*)t->job.src + begin, t->job.s[0], (float*)t->job.dst + begin);
        return;
    }
    if (t->fast_dq) {
        t->fast_dq(end - begin, (const int8_t*)t->job.src + begin, t->job.s[0], t->job.z[0], (float*)t->job.dst + begin);
        return;
    }
    if (t->fast) {
        t->fast(end - begin, (const float*)t->job.src + begin, t->job.s[0], t->job.z[0], (int8_t*)t->job.dst + begin);
        return;
    }
    if (t->quantize) nrt_quantize_ref(&t->job, (int64_t)begin, (int64_t)end);
    else nrt_dequantize_ref(&t->job, (int64_t)begin, (int64_t)end);
}

static nrt_status qdq_eval(nrt_ctx* ctx, bool quantize) {
    const qdq_state* st = ctx->node->state;
    nrt_tensor *x = nrt_in(ctx, 0), *y = nrt_out(ctx, 0);
    const nrt_tensor* q = quantize ? y : x;
    float* s = ctx->node->scratch;
    int32_t* z = (int32_t*)(s + st->count);
    const nrt_tensor* scale = nrt_in(ctx, 1);
    nrt_status e = scale && !nrt_is_static(scale) ? check_scales(ctx, scale, NRT_ERR_INVALID_ARGUMENT) : NRT_OK;
    if (e) return e;
    gather_params(ctx, q, st->count, s, z);
    qdq_task t = {{st->l, q->dtype, s, z, x->data, y->data}, quantize, NULL, NULL, NULL, NULL};
    bool int16_z0 = st->l.per_tensor && q->dtype == NRT_INT16 && z[0] == 0;
    if (int16_z0 && quantize && x->dtype == NRT_FLOAT32) t.fast16 = nrt_kernels_of(ctx)->qs16_quantize;
    if (int16_z0 && !quantize && y->dtype == NRT_FLOAT32) t.fast16_dq = nrt_kernels_of(ctx)->qs16_dequantize;
    if (quantize && st->l.per_tensor && q->dtype == NRT_INT8 && x->dtype == NRT_FLOAT32)
        t.fast = nrt_kernels_of(ctx)->qs8_quantize;
    if (!quantize && st->l.per_tensor && q->dtype == NRT_INT8 && y->dtype == NRT_FLOAT32 && z[0] >= -128 && z[0] <= 127)
        t.fast_dq = nrt_kernels_of(ctx)->qs8_dequantize;
    nrt_parallel_for(ctx, (size_t)nrt_numel(x), 16384, qdq_range, &t);
    return NRT_OK;
}

static nrt_status quantize_eval(nrt_ctx* ctx) {
    return requantizes(nrt_in(ctx, 0)) ? requantize_eval(ctx) : qdq_eval(ctx, true);
}
static nrt_status dequantize_eval(nrt_ctx* ctx) { return qdq_eval(ctx, false); }

const nrt_op_def nrt_op_QuantizeLinear = {"QuantizeLinear", 0, NRT_FB_OpOptions_QuantizeOptions, 1, 3, 1, 1,
                                          qdq_parse, quantize_prepare, quantize_eval, NULL};
const nrt_op_def nrt_op_DequantizeLinear = {"DequantizeLinear", 0, NRT_FB_OpOptions_QuantizeOptions, 1, 3, 1, 1,
                                            qdq_parse, dequantize_prepare, dequantize_eval, NULL};

/* ---- DynamicQuantizeLinear: y uint8, y_scale float32 scalar, y_zero_point uint8 scalar ---- */

static nrt_status dynq_prepare(nrt_ctx* ctx) {
    nrt_tensor *x = nrt_in(ctx, 0), *y = nrt_out(ctx, 0), *s = nrt_out(ctx, 1), *z = nrt_out(ctx, 2);
    if (!x) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "input 0 is missing");
    nrt_status st;
    if ((st = nrt_expect_dtype(ctx, x, NRT_FLOAT32, "input")) || (st = nrt_expect_dtype(ctx, y, NRT_UINT8, "output")) ||
        (st = nrt_expect_dtype(ctx, s, NRT_FLOAT32, "scale output")) ||
        (st = nrt_expect_dtype(ctx, z, NRT_UINT8, "zero point output")))
        return st;
    if ((st = nrt_set_shape_like(ctx, y, x)) || (st = nrt_set_shape(ctx, s, 0, NULL))) return st;
    return nrt_set_shape(ctx, z, 0, NULL);
}

typedef struct dynq_task {
    const float* x;
    uint8_t* y;
    float scale;
    int32_t zero_point;
    nrt_qs8_quantize_ukernel quantize; /* the level's int8 quantizer */
} dynq_task;

/* uint8 with zero point z is int8 with z - 128, plus 128: the level's int8
 * quantizer (requant.h's Quantize), then the sign bit flipped. */
static void dynq_range(void* arg, size_t begin, size_t end) {
    const dynq_task* t = arg;
    int8_t* y = (int8_t*)t->y + begin;
    t->quantize(end - begin, t->x + begin, t->scale, t->zero_point - 128, y);
    for (size_t i = 0; i < end - begin; i++) t->y[begin + i] ^= 0x80;
}

static nrt_status dynq_eval(nrt_ctx* ctx) {
    nrt_tensor *x = nrt_in(ctx, 0), *y = nrt_out(ctx, 0);
    float* scale = nrt_out(ctx, 1)->data;
    uint8_t* zp = nrt_out(ctx, 2)->data;
    int64_t n = nrt_numel(x);
    nrt_dynamic_quantize_params(x->data, n, scale, zp);
    dynq_task t = {x->data, y->data, *scale, *zp, nrt_kernels_of(ctx)->qs8_quantize};
    nrt_parallel_for(ctx, (size_t)n, 16384, dynq_range, &t);
    return NRT_OK;
}

const nrt_op_def nrt_op_DynamicQuantizeLinear = {"DynamicQuantizeLinear", 0, 0, 1, 1, 3, 3,
                                                 NULL, dynq_prepare, dynq_eval, NULL};

/* ---- Lut: y = table[x + 128] for int8 x, table[x] for uint8 x ----
 * The table (and y) are int8 or uint8: uint8 x / y are the model inputs and
 * outputs of a converter run with input_dtype / output_dtype "uint8", whose
 * Luts shift between the two codes. A uint8 x reuses the int8 kernels
 * through a permuted copy of the table (its bytes read as int8 codes).
 * An int8 x with a float32 table gives float32 y: a DequantizeLinear and a
 * float unary op as one lookup (converter/passes/dequantize_lut.py), whose
 * table the runtime computes at load with those two ops' own kernels. */

static bool byte_type(nrt_dtype t) { return t == NRT_INT8 || t == NRT_UINT8; }

/* int16 x: a 65536-entry int16 table, y = table[x + 32768] (ref/qs16_ref.h). */
static nrt_status lut16_prepare(nrt_ctx* ctx, nrt_tensor* x, const nrt_tensor* table, nrt_tensor* y) {
    if (table->dtype != NRT_INT16)
        return nrt_op_fail(ctx, NRT_ERR_DTYPE, "input %s is int16 and table %s is %s; an int16 input needs an int16 "
                           "table", x->name, table->name, nrt_dtype_name(table->dtype));
    nrt_status st = nrt_expect_dtype(ctx, y, NRT_INT16, "output");
    if (st) return st;
    if (nrt_numel(table) != 65536)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "table %s has %lld entries; an int16 table has 65536", table->name,
                           (long long)nrt_numel(table));
    return nrt_set_shape_like(ctx, y, x);
}

static nrt_status lut_prepare(nrt_ctx* ctx) {
    nrt_tensor *x = nrt_in(ctx, 0), *table = nrt_in(ctx, 1), *y = nrt_out(ctx, 0);
    if (!x || !table) return nrt_op_fail(ctx, NRT_ERR_INVALID_MODEL, "input and table are required");
    if (x->dtype == NRT_INT16) return lut16_prepare(ctx, x, table, y);
    if (table->dtype == NRT_FLOAT32 && x->dtype != NRT_INT8)
        return nrt_op_fail(ctx, NRT_ERR_DTYPE, "input %s is %s; a float32 table (%s) needs an int8 input", x->name,
                           nrt_dtype_name(x->dtype), table->name);
    if (!byte_type(x->dtype) || !(byte_type(table->dtype) || table->dtype == NRT_FLOAT32))
        return nrt_op_fail(ctx, NRT_ERR_DTYPE, "input %s is %s and table %s is %s; both must be int8 or uint8 "
                           "(or the table float32, or the input int16)", x->name,
                           nrt_dtype_name(x->dtype), table->name, nrt_dtype_name(table->dtype));
    nrt_status st = nrt_expect_dtype(ctx, y, table->dtype, "output");
    if (st) return st;
    if (nrt_numel(table) != 256)
        return nrt_op_fail(ctx, NRT_ERR_SHAPE, "table %s has %lld entries; a Lut's table has 256", table->name,
                           (long long)nrt_numel(table));
    if (x->dtype == NRT_UINT8) {
        if (!nrt_is_static(table))
            return nrt_op_fail(ctx, NRT_ERR_UNSUPPORTED, "the table of a uint8 input must be a constant");
        int8_t* by_int8_code = nrt_alloc_state(ctx, 256);
        if (!by_int8_code) return nrt_op_fail(ctx, NRT_ERR_OUT_OF_MEMORY, "out of memory");
        /* byte u read as int8 indexes u ^ 0x80 (= (int8)u + 128) */
        for (int i = 0; i < 256; i++) by_int8_code[i] = ((const int8_t*)table->data)[i ^ 0x80];
    }
    return nrt_set_shape_like(ctx, y, x);
}

typedef struct lut_task {
    const int8_t *x, *table;
    int8_t* y;
    nrt_qs8_lut_ukernel lut; /* the level's table kernel (qs8_kernels.h) */
} lut_task;

static void lut_range(void* arg, size_t begin, size_t end) {
    const lut_task* t = arg;
    t->lut(end - begin, t->x + begin, t->table, t->y + begin);
}

typedef struct lut16_task {
    const int16_t *x, *table;
    int16_t* y;
} lut16_task;

static void lut16_range(void* arg, size_t begin, size_t end) {
    const lut16_task* t = arg;
    nrt_lut_qs16_ref(end - begin, t->x + begin, t->table, t->y + begin);
}

typedef struct f32_lut_task {
    const int8_t* x;
    const float* table;
    float* y;
    nrt_qs8_f32_lut_ukernel lut;
} f32_lut_task;

static void f32_lut_range(void* arg, size_t begin, size_t end) {
    const f32_lut_task* t = arg;
    t->lut(end - begin, t->x + begin, t->table, t->y + begin);
}

static nrt_status lut_eval(nrt_ctx* ctx) {
    if (nrt_in(ctx, 0)->dtype == NRT_INT16) { /* (scalar loads are what a gather would do: no vector kernel) */
        lut16_task t = {nrt_in(ctx, 0)->data, nrt_in(ctx, 1)->data, nrt_out(ctx, 0)->data};
        nrt_parallel_for(ctx, (size_t)nrt_numel(nrt_in(ctx, 0)), 65536, lut16_range, &t);
        return NRT_OK;
    }
    if (nrt_in(ctx, 1)->dtype == NRT_FLOAT32) {
        f32_lut_task t = {nrt_in(ctx, 0)->data, nrt_in(ctx, 1)->data, nrt_out(ctx, 0)->data,
                          nrt_kernels_of(ctx)->qs8_f32_lut};
        nrt_parallel_for(ctx, (size_t)nrt_numel(nrt_in(ctx, 0)), 16384, f32_lut_range, &t);
        return NRT_OK;
    }
    const int8_t* table = ctx->node->state ? ctx->node->state : nrt_in(ctx, 1)->data; /* uint8 x: permuted */
    lut_task t = {nrt_in(ctx, 0)->data, table, nrt_out(ctx, 0)->data, nrt_kernels_of(ctx)->qs8_lut};
    nrt_parallel_for(ctx, (size_t)nrt_numel(nrt_in(ctx, 0)), 65536, lut_range, &t);
    return NRT_OK;
}

const nrt_op_def nrt_op_Lut = {"Lut", 0, 0, 2, 2, 1, 1, NULL, lut_prepare, lut_eval, NULL};
