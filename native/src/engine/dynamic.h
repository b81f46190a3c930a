/* Data-dependent shapes: ops whose output shapes depend on input values
 * (NonZero, NonMaxSuppression, Loop, an If whose branches disagree) and the
 * nodes downstream of them.
 *
 * An op's prepare calls nrt_defer_shape for such an output; its eval then
 * calls nrt_set_dynamic_shape, which sets the shape and gives the tensor
 * memory that lives until the next invoke. Nodes that read a dynamic tensor,
 * or whose prepare needs a value computed at invoke (a Reshape's shape, a
 * Slice's starts), are "late": the engine prepares each one during invoke,
 * right before it runs, when all its inputs are known. Everything else is
 * prepared and planned once, as before. */
#ifndef NRT_DYNAMIC_H
#define NRT_DYNAMIC_H

#include "op.h"

/* In prepare: output t gets its shape (rank `rank`) and memory during eval. */
void nrt_defer_shape(nrt_ctx* ctx, nrt_tensor* t, int rank);
/* In eval: the shape of a deferred output; allocates its memory. */
nrt_status nrt_set_dynamic_shape(nrt_ctx* ctx, nrt_tensor* t, int rank, const int64_t* dims);
/* In prepare: the value of t (an input that decides output shapes) is known
 * only at invoke. Returns an error; the engine then prepares the node during
 * invoke, when every input is known. */
nrt_status nrt_value_at_invoke(nrt_ctx* ctx, const nrt_tensor* t, const char* role);
/* Memory valid until the model's next invoke or prepare (64-byte aligned). */
void* nrt_dynamic_alloc(nrt_model* m, size_t bytes);

/* Engine: for propagate (prepare.c). True when node n must be prepared at invoke. */
bool nrt_is_late(const nrt_model* m, const nrt_node* n);
void nrt_mark_late(nrt_model* m, nrt_node* n);
/* Engine: for invoke: prepares a late node and gives its outputs memory. */
nrt_status nrt_prepare_late(nrt_ctx* ctx);
/* Engine: frees the memory of dynamic tensors. */
void nrt_dynamic_reset(nrt_model* m);

#endif
