/* Reference kernels for elementwise binary ops (Add ... BitShift, PRelu).
 *
 * A kernel computes y[i] = a[i] OP b[i] over one contiguous run; `mode` says
 * which operand is a vector and which one is a single value repeated (the
 * innermost dimension of a broadcast). The op layer (ops/binary.c) walks the
 * broadcast and calls the kernel once per run.
 *
 * Semantics (ONNX, as the onnx reference implementation computes them):
 *  - integer Add/Sub/Mul/PRelu wrap around (two's complement), never C overflow;
 *  - integer Div truncates toward zero; Mod with fmod=0 takes the divisor's sign
 *    (Python %), fmod=1 the dividend's (C %); INT_MIN / -1 wraps to INT_MIN and
 *    INT_MIN % -1 is 0. A zero divisor gives 0 here; the op rejects it first;
 *  - float Mod with fmod=0 is floor-mod (numpy.mod), fmod=1 is C fmod;
 *  - Min/Max propagate NaN (numpy.minimum / maximum);
 *  - integer Pow: exact power modulo 2^bits (repeated squaring); a negative
 *    exponent gives 1/x^n truncated (1 for x=1, +-1 for x=-1, else 0, also 0 for x=0);
 *    integer base with float exponent: pow() in double, then converted to the base
 *    type like Cast does (truncate, saturate, NaN -> 0);
 *    float base with integer exponent: pow() in double, rounded to the base type;
 *  - BitShift (uint8): a shift by 8 or more gives 0;
 *  - PRelu: a > 0 ? a : a * slope;
 *  - float16 operands are widened to float32, computed, and rounded back to
 *    nearest even (exactly what computing in float16 would give for + - * /).
 */
#ifndef NRT_BINARY_REF_H
#define NRT_BINARY_REF_H

#include <stdbool.h>
#include <stddef.h>

#include "nanort.h"

enum {
    NRT_BIN_VV = 0, /* a[i], b[i] */
    NRT_BIN_VS = 1, /* a[i], b[0] */
    NRT_BIN_SV = 2, /* a[0], b[i] */
};

typedef struct nrt_binary_kernel nrt_binary_kernel;
typedef void (*nrt_binary_fn)(const nrt_binary_kernel* k, const void* a, const void* b, void* y, size_t n, int mode);

struct nrt_binary_kernel {
    nrt_binary_fn fn;
    nrt_dtype a_type, b_type, y_type;
    bool via_f32; /* float16 operands: fn is the float32 kernel, run() converts blocks */
    const void* params; /* constants of the kernel (quantized int8 Add/Sub/Mul: nrt_qs8_binary) */
};

/* The binary ops, by their ONNX names (ops/binary.c maps the file's op
 * types onto them). */
#define NRT_BINARY_OPS(X)                                                                                         \
    X(Add) X(Sub) X(Mul) X(Div) X(Pow) X(Min) X(Max) X(Mod) X(PRelu) X(And) X(Or) X(Xor) X(BitShift) X(Equal)    \
    X(Greater) X(GreaterOrEqual) X(Less) X(LessOrEqual)

#define NRT_BINARY_ENUM(name) NRT_BINARY_##name,
typedef enum nrt_binary_op { NRT_BINARY_OPS(NRT_BINARY_ENUM) } nrt_binary_op;
#undef NRT_BINARY_ENUM

/* Variant flags for nrt_binary_ref_select. */
#define NRT_BIN_FMOD 1        /* Mod: C fmod semantics */
#define NRT_BIN_SHIFT_LEFT 2  /* BitShift: left */
#define NRT_BIN_SQUARE 4      /* Pow whose exponent is a single 2: a * a (exact, as pow is) */
#define NRT_BIN_SQRT 8        /* Pow whose exponent is a single 0.5: sqrt, but +0 at -0 and +inf at
                                 -inf as C pow and onnxruntime give (numpy gives -0 and NaN) */
#define NRT_BIN_CUBE 16       /* float32 Pow whose exponent is a single 3 (GPT-2's tanh Gelu): a * a * a
                                 in double, rounded once to float (within pow's own 1 ulp) */

/* Picks the kernel for `op` on operand types a, b; false when the
 * combination is not implemented. Sets k->y_type to the result type. */
bool nrt_binary_ref_select(nrt_binary_op op, unsigned variant, nrt_dtype a, nrt_dtype b, nrt_binary_kernel* k);
void nrt_binary_ref_run(const nrt_binary_kernel* k, const void* a, const void* b, void* y, size_t n, int mode);

#endif
