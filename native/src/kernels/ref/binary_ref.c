#include "binary_ref.h"

#include <math.h>
#include <stdint.h>

#include "../dtype.h"
#include "../f16.h"
#include "elementwise_ref.h"

/* One kernel: the three operand modes as separate loops so each vectorizes.
 * `b` is read even where EXPR ignores it (Square), hence the (void). */
#define KERNEL(NAME, TA, TB, TY, EXPR)                                                                     \
    static void NAME(const nrt_binary_kernel* k, const void* pa, const void* pb, void* py, size_t n,     \
                     int mode) {                                                                          \
        const TA* A = pa;                                                                                 \
        const TB* B = pb;                                                                                 \
        TY* Y = py;                                                                                       \
        (void)k;                                                                                          \
        if (mode == NRT_BIN_VV) {                                                                         \
            for (size_t i = 0; i < n; i++) {                                                              \
                TA a = A[i];                                                                              \
                TB b = B[i];                                                                              \
                (void)b;                                                                                  \
                Y[i] = (TY)(EXPR);                                                                        \
            }                                                                                             \
        } else if (mode == NRT_BIN_VS) {                                                                  \
            const TB b = B[0];                                                                            \
            (void)b;                                                                                      \
            for (size_t i = 0; i < n; i++) {                                                              \
                TA a = A[i];                                                                              \
                Y[i] = (TY)(EXPR);                                                                        \
            }                                                                                             \
        } else {                                                                                          \
            const TA a = A[0];                                                                            \
            for (size_t i = 0; i < n; i++) {                                                              \
                TB b = B[i];                                                                              \
                (void)b;                                                                                  \
                Y[i] = (TY)(EXPR);                                                                        \
            }                                                                                             \
        }                                                                                                 \
    }

#define CMP_KERNELS(S, T)                                                                                  \
    KERNEL(eq_##S, T, T, uint8_t, a == b)                                                                 \
    KERNEL(gt_##S, T, T, uint8_t, a > b)                                                                  \
    KERNEL(ge_##S, T, T, uint8_t, a >= b)                                                                 \
    KERNEL(lt_##S, T, T, uint8_t, a < b)                                                                  \
    KERNEL(le_##S, T, T, uint8_t, a <= b)

/* ---- floats ---- */

/* numpy.mod: the result takes the divisor's sign; an exact zero too. */
static inline float floormod_f32(float a, float b) {
    float r = fmodf(a, b);
    if (r != 0.0f) return (r < 0.0f) != (b < 0.0f) ? r + b : r;
    return copysignf(0.0f, b);
}

static inline double floormod_f64(double a, double b) {
    double r = fmod(a, b);
    if (r != 0.0) return (r < 0.0) != (b < 0.0) ? r + b : r;
    return copysign(0.0, b);
}

/* Pow(x, 0.5) as a square root, keeping pow's results at -0 (+0) and -inf (+inf). */
#define SQRT_POW(SQRT, T, a) ((a) == -(T)INFINITY ? (T)INFINITY : SQRT(a) + (T)0)

#define FLOAT_KERNELS(S, T, POW, FMOD, SQRT)                                                               \
    KERNEL(add_##S, T, T, T, a + b)                                                                       \
    KERNEL(sub_##S, T, T, T, a - b)                                                                       \
    KERNEL(mul_##S, T, T, T, a * b)                                                                       \
    KERNEL(div_##S, T, T, T, a / b)                                                                       \
    KERNEL(pow_##S, T, T, T, POW(a, b))                                                                   \
    KERNEL(square_##S, T, T, T, a * a)                                                                    \
    KERNEL(sqrt_##S, T, T, T, SQRT_POW(SQRT, T, a))                                                       \
    KERNEL(min_##S, T, T, T, (a < b || isnan(a)) ? a : b)                                                 \
    KERNEL(max_##S, T, T, T, (a > b || isnan(a)) ? a : b)                                                 \
    KERNEL(fmod_##S, T, T, T, FMOD(a, b))                                                                 \
    KERNEL(mod_##S, T, T, T, floormod_##S(a, b))                                                          \
    KERNEL(prelu_##S, T, T, T, a > 0 ? a : a * b)                                                         \
    CMP_KERNELS(S, T)

FLOAT_KERNELS(f32, float, powf, fmodf, sqrtf)
FLOAT_KERNELS(f64, double, pow, fmod, sqrt)
KERNEL(cube_f32, float, float, float, (float)((double)a * (double)a * (double)a))

/* ---- integers ----
 * Wrapping arithmetic goes through the unsigned type UA (at least
 * unsigned int, so small types do not promote to a signed int that could
 * overflow); the conversion back keeps the low bits. */

#define SIGNED_HELPERS(S, T, UA)                                                                           \
    static inline T div_op_##S(T a, T b) {                                                                \
        if (b == 0) return 0;                                                                             \
        if (b == -1) return (T)(0u - (UA)a); /* INT_MIN / -1 wraps */                                     \
        return (T)(a / b);                                                                                \
    }                                                                                                     \
    static inline T fmod_op_##S(T a, T b) { return (b == 0 || b == -1) ? 0 : (T)(a % b); }               \
    static inline T mod_op_##S(T a, T b) {                                                                \
        T r = fmod_op_##S(a, b);                                                                          \
        return (r != 0 && ((r < 0) != (b < 0))) ? (T)(r + b) : r;                                         \
    }

#define UNSIGNED_HELPERS(S, T, UA)                                                                         \
    static inline T div_op_##S(T a, T b) { return b == 0 ? 0 : (T)(a / b); }                              \
    static inline T fmod_op_##S(T a, T b) { return b == 0 ? 0 : (T)(a % b); }                             \
    static inline T mod_op_##S(T a, T b) { return fmod_op_##S(a, b); }

#define INT_KERNELS(S, T, UA)                                                                              \
    KERNEL(add_##S, T, T, T, (UA)a + (UA)b)                                                               \
    KERNEL(sub_##S, T, T, T, (UA)a - (UA)b)                                                               \
    KERNEL(mul_##S, T, T, T, (UA)a * (UA)b)                                                               \
    KERNEL(div_##S, T, T, T, div_op_##S(a, b))                                                            \
    KERNEL(fmod_##S, T, T, T, fmod_op_##S(a, b))                                                          \
    KERNEL(mod_##S, T, T, T, mod_op_##S(a, b))                                                            \
    KERNEL(min_##S, T, T, T, a < b ? a : b)                                                               \
    KERNEL(max_##S, T, T, T, a > b ? a : b)                                                               \
    KERNEL(prelu_##S, T, T, T, a > 0 ? a : (T)((UA)a * (UA)b))                                            \
    CMP_KERNELS(S, T)

SIGNED_HELPERS(i8, int8_t, uint32_t)
SIGNED_HELPERS(i16, int16_t, uint32_t)
SIGNED_HELPERS(i32, int32_t, uint32_t)
SIGNED_HELPERS(i64, int64_t, uint64_t)
UNSIGNED_HELPERS(u8, uint8_t, uint32_t)
INT_KERNELS(i8, int8_t, uint32_t)
INT_KERNELS(i16, int16_t, uint32_t)
INT_KERNELS(i32, int32_t, uint32_t)
INT_KERNELS(i64, int64_t, uint64_t)
INT_KERNELS(u8, uint8_t, uint32_t)

/* ---- bool (one byte, any nonzero value is true) and uint8 shifts ---- */
KERNEL(and_b8, uint8_t, uint8_t, uint8_t, (a != 0) & (b != 0))
KERNEL(or_b8, uint8_t, uint8_t, uint8_t, (a != 0) | (b != 0))
KERNEL(xor_b8, uint8_t, uint8_t, uint8_t, (a != 0) ^ (b != 0))
KERNEL(eq_b8, uint8_t, uint8_t, uint8_t, (a != 0) == (b != 0))
KERNEL(shl_u8, uint8_t, uint8_t, uint8_t, b < 8 ? (uint8_t)((unsigned)a << b) : 0)
KERNEL(shr_u8, uint8_t, uint8_t, uint8_t, b < 8 ? (uint8_t)(a >> b) : 0)

/* ---- Pow with integer operands or mixed types (rare: per-element type switch) ---- */

static bool is_float(nrt_dtype t) { return t == NRT_FLOAT32 || t == NRT_FLOAT64; }

static bool is_int(nrt_dtype t) {
    return t == NRT_INT8 || t == NRT_UINT8 || t == NRT_INT16 || t == NRT_INT32 || t == NRT_INT64;
}

static double load_f(const void* p, size_t i, nrt_dtype t) {
    switch (t) {
    case NRT_FLOAT32: return ((const float*)p)[i];
    case NRT_FLOAT64: return ((const double*)p)[i];
    case NRT_INT8: return ((const int8_t*)p)[i];
    case NRT_UINT8: return ((const uint8_t*)p)[i];
    case NRT_INT16: return ((const int16_t*)p)[i];
    case NRT_INT32: return ((const int32_t*)p)[i];
    default: return (double)((const int64_t*)p)[i];
    }
}

static int64_t load_i(const void* p, size_t i, nrt_dtype t) {
    switch (t) {
    case NRT_INT8: return ((const int8_t*)p)[i];
    case NRT_UINT8: return ((const uint8_t*)p)[i];
    case NRT_INT16: return ((const int16_t*)p)[i];
    case NRT_INT32: return ((const int32_t*)p)[i];
    default: return ((const int64_t*)p)[i];
    }
}

/* Keeps the low bits of v (two's complement wrap-around). */
static void store_i(void* p, size_t i, nrt_dtype t, int64_t v) {
    switch (t) {
    case NRT_INT8: ((int8_t*)p)[i] = (int8_t)v; break;
    case NRT_UINT8: ((uint8_t*)p)[i] = (uint8_t)v; break;
    case NRT_INT16: ((int16_t*)p)[i] = (int16_t)v; break;
    case NRT_INT32: ((int32_t*)p)[i] = (int32_t)v; break;
    default: ((int64_t*)p)[i] = v; break;
    }
}

/* Exact power modulo 2^64 by repeated squaring; negative exponents truncate 1/x^n. */
static int64_t ipow(int64_t base, int64_t e) {
    if (e < 0) return base == 1 ? 1 : (base == -1 ? ((e & 1) ? -1 : 1) : 0);
    uint64_t r = 1, b = (uint64_t)base;
    for (; e; e >>= 1) {
        if (e & 1) r *= b;
        b *= b;
    }
    return (int64_t)r;
}

static void pow_mixed(const nrt_binary_kernel* k, const void* a, const void* b, void* y, size_t n, int mode) {
    nrt_dtype ta = k->a_type, tb = k->b_type;
    int64_t lo = 0, hi = 0;
    if (is_int(ta)) nrt_dtype_range(ta, &lo, &hi);
    for (size_t i = 0; i < n; i++) {
        size_t ia = mode == NRT_BIN_SV ? 0 : i, ib = mode == NRT_BIN_VS ? 0 : i;
        if (ta == NRT_FLOAT32) {
            ((float*)y)[i] = (float)pow(load_f(a, ia, ta), load_f(b, ib, tb));
        } else if (ta == NRT_FLOAT64) {
            ((double*)y)[i] = pow(load_f(a, ia, ta), load_f(b, ib, tb));
        } else if (is_float(tb)) {
            store_i(y, i, ta, nrt_f64_to_int_sat(pow(load_f(a, ia, ta), load_f(b, ib, tb)), lo, hi));
        } else {
            store_i(y, i, ta, ipow(load_i(a, ia, ta), load_i(b, ib, tb)));
        }
    }
}

/* ---- selection ---- */

#define NUMERIC_TABLE(OP)                                                                                  \
    {                                                                                                     \
        [NRT_FLOAT32] = OP##_f32, [NRT_FLOAT64] = OP##_f64, [NRT_INT8] = OP##_i8, [NRT_UINT8] = OP##_u8,  \
        [NRT_INT16] = OP##_i16, [NRT_INT32] = OP##_i32, [NRT_INT64] = OP##_i64,                           \
    }

static const nrt_binary_fn add_tab[NRT_DTYPE_COUNT] = NUMERIC_TABLE(add);
static const nrt_binary_fn sub_tab[NRT_DTYPE_COUNT] = NUMERIC_TABLE(sub);
static const nrt_binary_fn mul_tab[NRT_DTYPE_COUNT] = NUMERIC_TABLE(mul);
static const nrt_binary_fn div_tab[NRT_DTYPE_COUNT] = NUMERIC_TABLE(div);
static const nrt_binary_fn min_tab[NRT_DTYPE_COUNT] = NUMERIC_TABLE(min);
static const nrt_binary_fn max_tab[NRT_DTYPE_COUNT] = NUMERIC_TABLE(max);
static const nrt_binary_fn mod_tab[NRT_DTYPE_COUNT] = NUMERIC_TABLE(mod);
static const nrt_binary_fn fmod_tab[NRT_DTYPE_COUNT] = NUMERIC_TABLE(fmod);
static const nrt_binary_fn prelu_tab[NRT_DTYPE_COUNT] = NUMERIC_TABLE(prelu);
static const nrt_binary_fn gt_tab[NRT_DTYPE_COUNT] = NUMERIC_TABLE(gt);
static const nrt_binary_fn ge_tab[NRT_DTYPE_COUNT] = NUMERIC_TABLE(ge);
static const nrt_binary_fn lt_tab[NRT_DTYPE_COUNT] = NUMERIC_TABLE(lt);
static const nrt_binary_fn le_tab[NRT_DTYPE_COUNT] = NUMERIC_TABLE(le);
static const nrt_binary_fn eq_tab[NRT_DTYPE_COUNT] = {
    [NRT_FLOAT32] = eq_f32, [NRT_FLOAT64] = eq_f64, [NRT_INT8] = eq_i8, [NRT_UINT8] = eq_u8,
    [NRT_INT16] = eq_i16,   [NRT_INT32] = eq_i32,   [NRT_INT64] = eq_i64, [NRT_BOOL] = eq_b8,
};
static const nrt_binary_fn pow_tab[NRT_DTYPE_COUNT] = {
    [NRT_FLOAT32] = pow_f32, [NRT_FLOAT64] = pow_f64, [NRT_INT8] = pow_mixed, [NRT_UINT8] = pow_mixed,
    [NRT_INT16] = pow_mixed, [NRT_INT32] = pow_mixed, [NRT_INT64] = pow_mixed,
};
static const nrt_binary_fn and_tab[NRT_DTYPE_COUNT] = {[NRT_BOOL] = and_b8};
static const nrt_binary_fn or_tab[NRT_DTYPE_COUNT] = {[NRT_BOOL] = or_b8};
static const nrt_binary_fn xor_tab[NRT_DTYPE_COUNT] = {[NRT_BOOL] = xor_b8};
static const nrt_binary_fn shl_tab[NRT_DTYPE_COUNT] = {[NRT_UINT8] = shl_u8};
static const nrt_binary_fn shr_tab[NRT_DTYPE_COUNT] = {[NRT_UINT8] = shr_u8};

static const nrt_binary_fn* table_for(nrt_binary_op op, unsigned variant, bool* cmp) {
    *cmp = false;
    switch (op) {
    case NRT_BINARY_Add: return add_tab;
    case NRT_BINARY_Sub: return sub_tab;
    case NRT_BINARY_Mul: return mul_tab;
    case NRT_BINARY_Div: return div_tab;
    case NRT_BINARY_Pow: return pow_tab;
    case NRT_BINARY_Min: return min_tab;
    case NRT_BINARY_Max: return max_tab;
    case NRT_BINARY_Mod: return (variant & NRT_BIN_FMOD) ? fmod_tab : mod_tab;
    case NRT_BINARY_PRelu: return prelu_tab;
    case NRT_BINARY_And: return and_tab;
    case NRT_BINARY_Or: return or_tab;
    case NRT_BINARY_Xor: return xor_tab;
    case NRT_BINARY_BitShift: return (variant & NRT_BIN_SHIFT_LEFT) ? shl_tab : shr_tab;
    default: break;
    }
    *cmp = true;
    switch (op) {
    case NRT_BINARY_Equal: return eq_tab;
    case NRT_BINARY_Greater: return gt_tab;
    case NRT_BINARY_GreaterOrEqual: return ge_tab;
    case NRT_BINARY_Less: return lt_tab;
    case NRT_BINARY_LessOrEqual: return le_tab;
    default: return NULL;
    }
}

/* Pow with differing operand types: float or integer base, float or integer exponent. */
static bool pow_mixed_ok(nrt_dtype a, nrt_dtype b) {
    return (is_float(a) || is_int(a)) && (is_float(b) || is_int(b));
}

bool nrt_binary_ref_select(nrt_binary_op op, unsigned variant, nrt_dtype a, nrt_dtype b, nrt_binary_kernel* k) {
    *k = (nrt_binary_kernel){NULL, a, b, a, false, NULL};
    if ((unsigned)a >= NRT_DTYPE_COUNT || (unsigned)b >= NRT_DTYPE_COUNT) return false;
    if (op == NRT_BINARY_Pow && a != b) {
        if (!pow_mixed_ok(a, b)) return false;
        k->fn = pow_mixed;
        return true;
    }
    bool cmp;
    const nrt_binary_fn* tab = table_for(op, variant, &cmp);
    if (!tab || a != b) return false;
    if (cmp) k->y_type = NRT_BOOL;
    nrt_dtype t = a;
    if (a == NRT_FLOAT16) { /* float16 goes through the float32 kernel where that one exists */
        t = NRT_FLOAT32;
        k->via_f32 = tab != and_tab && tab != or_tab && tab != xor_tab && tab != shl_tab && tab != shr_tab;
        if (!k->via_f32) return false;
    }
    k->fn = tab[t];
    if (op == NRT_BINARY_Pow && (variant & NRT_BIN_SQUARE) && is_float(t))
        k->fn = t == NRT_FLOAT32 ? square_f32 : square_f64;
    if (op == NRT_BINARY_Pow && (variant & NRT_BIN_SQRT) && is_float(t))
        k->fn = t == NRT_FLOAT32 ? sqrt_f32 : sqrt_f64;
    if (op == NRT_BINARY_Pow && (variant & NRT_BIN_CUBE) && t == NRT_FLOAT32) k->fn = cube_f32;
    return k->fn != NULL;
}

/* float16: widen a block of each operand to float32, run the float32 kernel,
 * round the result back (or store the bools directly). */
#define F16_BLOCK 256

static void run_via_f32(const nrt_binary_kernel* k, const uint16_t* a, const uint16_t* b, void* y, size_t n,
                        int mode) {
    float fa[F16_BLOCK], fb[F16_BLOCK], fy[F16_BLOCK];
    bool to_bool = k->y_type == NRT_BOOL;
    for (size_t s = 0; s < n; s += F16_BLOCK) {
        size_t m = n - s < F16_BLOCK ? n - s : F16_BLOCK;
        if (mode == NRT_BIN_SV) fa[0] = nrt_f16_to_f32(a[0]);
        else for (size_t i = 0; i < m; i++) fa[i] = nrt_f16_to_f32(a[s + i]);
        if (mode == NRT_BIN_VS) fb[0] = nrt_f16_to_f32(b[0]);
        else for (size_t i = 0; i < m; i++) fb[i] = nrt_f16_to_f32(b[s + i]);
        if (to_bool) {
            k->fn(k, fa, fb, (uint8_t*)y + s, m, mode);
        } else {
            k->fn(k, fa, fb, fy, m, mode);
            for (size_t i = 0; i < m; i++) ((uint16_t*)y)[s + i] = nrt_f32_to_f16(fy[i]);
        }
    }
}

void nrt_binary_ref_run(const nrt_binary_kernel* k, const void* a, const void* b, void* y, size_t n, int mode) {
    if (k->via_f32) run_via_f32(k, a, b, y, n, mode);
    else k->fn(k, a, b, y, n, mode);
}
