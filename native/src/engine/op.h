/* What an operator implementation sees of the engine.
 *
 * An op is a nrt_op_def: `parse` reads and checks its options once at load,
 * `prepare` checks input dtypes/shapes and sets output shapes (and asks for
 * scratch memory or builds per-shape state), `eval` computes. All three get
 * the node through nrt_ctx and report problems with nrt_op_fail, which
 * prefixes the op type and node name to the message.
 */
#ifndef NRT_OP_H
#define NRT_OP_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "../kernels/activation.h"
#include "../kernels/f16.h"
#include "../kernels/f32_kernels.h"
#include "../kernels/threads.h"
#include "model.h"

typedef struct nrt_ctx {
    nrt_model* model;
    nrt_node* node;
    int node_index;
} nrt_ctx;

/* nrt_op_def.flags */
#define NRT_OP_SHAPE_ONLY 1  /* reads only its inputs' shapes (Shape, Size): always evaluated in prepare */

struct nrt_op_def {
    const char* name;
    uint8_t flags;
    uint8_t options_type;      /* NRT_FB_OpOptions_*; 0 = takes no options */
    int8_t min_inputs, max_inputs;   /* max -1 = any number */
    int8_t min_outputs, max_outputs;
    nrt_status (*parse)(nrt_ctx* ctx);    /* optional */
    nrt_status (*prepare)(nrt_ctx* ctx);
    nrt_status (*eval)(nrt_ctx* ctx);
    void (*release)(nrt_node* node);      /* optional: frees what state points to */
};

/* After prepare: an op that can take over the int8 Lut that alone reads its
 * output 0 (y = table[x + 128]) writes tensor `y` from then on instead of
 * that output, or returns false (the Lut then runs). */
typedef bool (*nrt_fuse_lut_fn)(nrt_ctx* ctx, const int8_t* table, int y);
/* The op type's, or NULL (ops/registry.c). */
nrt_fuse_lut_fn nrt_op_fuse_lut(unsigned op_type);

/* After prepare, the pieces of a fused residual Add or PRelu
 * (engine/prepare.c fuse_residuals, fuse_prelus): a float32 Conv that can
 * add a shortcut r (its first channels) and apply act, or then apply a PRelu
 * of per-channel slopes, as it writes, writing tensor y from then on (or
 * returns false); a float32 Add of equal shapes on the level's vector kernel
 * (its activation and kernels, else false); a Pad that only appends zeros to
 * the last axis (ops/conv.c, binary.c, pad.c). */
bool nrt_conv_fuse_residual(nrt_ctx* ctx, int r, int y, const nrt_activation* act, nrt_f32_vbinary_ukernel add,
                            nrt_f32_vact_ukernel act_run);
bool nrt_conv_fuse_prelu(nrt_ctx* ctx, const float* slope, int y, nrt_f32_vbinary_ukernel prelu);
bool nrt_add_f32_kernels(const nrt_node* node, nrt_activation* act, nrt_f32_vbinary_ukernel* add,
                         nrt_f32_vact_ukernel* act_run);
bool nrt_pad_is_zero_tail(const nrt_model* m, const nrt_node* node);

/* After prepare, for a Concat, Split or Slice: when each part (Concat input,
 * Split / Slice output) is one contiguous block of the joined tensor (the
 * axis is the outermost one longer than 1, no part is rescaled or upsampled,
 * the slice has step 1), writes part k's byte offset in the joined tensor to
 * offsets[k] and returns true; the same for Reshape, Flatten, Squeeze and
 * Unsqueeze (one part, at offset 0); false for every other node. The planner may
 * then place the parts there; the op skips the parts it finds in place
 * (ops/registry.c). */
bool nrt_op_parts_contiguous(const nrt_node* node, size_t* offsets);

/* The kernels of the model's level (kernels/dispatch.h). */
static inline const nrt_kernels* nrt_kernels_of(const nrt_ctx* ctx) { return &ctx->model->kernels; }

/* The op table, indexed by NRT_FB_OpType_* (NULL = not built in). */
const nrt_op_def* nrt_op_lookup(unsigned op_type);

/* ---- errors ---- */
nrt_status nrt_op_fail(nrt_ctx* ctx, nrt_status st, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- tensors ---- */
/* Input i, or NULL when omitted (-1) or absent. */
nrt_tensor* nrt_in(nrt_ctx* ctx, int i);
nrt_tensor* nrt_out(nrt_ctx* ctx, int i);
static inline int nrt_num_in(const nrt_ctx* ctx) { return ctx->node->num_inputs; }
static inline int nrt_num_out(const nrt_ctx* ctx) { return ctx->node->num_outputs; }

int64_t nrt_numel(const nrt_tensor* t);
/* Checks rank/dims, computes the byte size without overflow. */
nrt_status nrt_set_shape(nrt_ctx* ctx, nrt_tensor* t, int rank, const int64_t* dims);
static inline nrt_status nrt_set_shape_like(nrt_ctx* ctx, nrt_tensor* t, const nrt_tensor* like) {
    return nrt_set_shape(ctx, t, like->rank, like->dims);
}
nrt_status nrt_expect_dtype(nrt_ctx* ctx, const nrt_tensor* t, nrt_dtype dtype, const char* role);
nrt_status nrt_expect_same_dtype(nrt_ctx* ctx, const nrt_tensor* a, const nrt_tensor* b);
/* Values known before invoke: constants and tensors computed in prepare. */
static inline bool nrt_is_static(const nrt_tensor* t) { return t->kind != NRT_TENSOR_ACTIVATION; }
/* Reads a static int32/int64 tensor of at most `max` values (shape inputs). */
nrt_status nrt_read_static_ints(nrt_ctx* ctx, const nrt_tensor* t, const char* role, int64_t* out, int max, int* count);
/* Reads a static float (or integer) scalar. */
nrt_status nrt_read_static_float(nrt_ctx* ctx, const nrt_tensor* t, const char* role, double* out);
/* Normalizes a possibly negative axis for a tensor of `rank`. */
nrt_status nrt_axis(nrt_ctx* ctx, int64_t axis, int rank, int* out);

/* ---- options (read in parse) ---- */
/* Reads an int vector option (at most max entries). */
nrt_status nrt_opt_ints(nrt_ctx* ctx, int slot, const char* what, int64_t* out, int max, int* count);
nrt_status nrt_opt_i32(nrt_ctx* ctx, int slot, int32_t dflt, int32_t* out);
nrt_status nrt_opt_u8(nrt_ctx* ctx, int slot, uint8_t dflt, uint8_t* out);
nrt_status nrt_opt_f32(nrt_ctx* ctx, int slot, float dflt, float* out);
nrt_status nrt_opt_bytes(nrt_ctx* ctx, int slot, const uint8_t** data, uint32_t* len);
/* Fused activation struct at `slot` (absent = NONE). */
nrt_status nrt_opt_activation(nrt_ctx* ctx, int slot, nrt_activation* out);
/* Allocates node->params (zeroed); freed by the engine. */
void* nrt_alloc_params(nrt_ctx* ctx, size_t size);
/* Allocates node->state (zeroed), replacing any previous state. */
void* nrt_alloc_state(nrt_ctx* ctx, size_t size);

/* ---- threads ---- */
/* Runs fn over [0, n) split into contiguous ranges, on the model's threads.
 * `grain` is the smallest range worth giving a thread. */
void nrt_parallel_for(nrt_ctx* ctx, size_t n, size_t grain, nrt_task_fn fn, void* arg);
int nrt_num_threads(const nrt_ctx* ctx);
/* The model's threads as kernels and drivers take them. */
nrt_threads nrt_threads_of(const nrt_ctx* ctx);

#endif
