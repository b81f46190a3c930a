/* The op table: one entry per OpType the runtime implements. */
#include "../engine/op.h"
#include "registry.h"

#define X(NAME) [NRT_FB_OpType_##NAME] = &nrt_op_##NAME,
static const nrt_op_def* const op_table[] = {NRT_OPS(X)};
#undef X

const nrt_op_def* nrt_op_lookup(unsigned op_type) {
    return op_type < sizeof op_table / sizeof *op_table ? op_table[op_type] : NULL;
}
