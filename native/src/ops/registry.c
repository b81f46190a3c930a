/* The op table: one entry per OpType the runtime implements. */
#include "../engine/op.h"
#include "registry.h"

#define X(NAME) [NRT_FB_OpType_##NAME] = &nrt_op_##NAME,
static const nrt_op_def* const op_table[] = {NRT_OPS(X)};
#undef X

const nrt_op_def* nrt_op_lookup(unsigned op_type) {
    return op_type < sizeof op_table / sizeof *op_table ? op_table[op_type] : NULL;
}

/* The ops that apply a Lut as they write (nrt_fuse_lut_fn). */
bool nrt_conv_fuse_lut(nrt_ctx* ctx, const int8_t* table, int y);
static const nrt_fuse_lut_fn fuse_lut_table[] = {[NRT_FB_OpType_Conv] = nrt_conv_fuse_lut};

nrt_fuse_lut_fn nrt_op_fuse_lut(unsigned op_type) {
    return op_type < sizeof fuse_lut_table / sizeof *fuse_lut_table ? fuse_lut_table[op_type] : NULL;
}

/* The ops whose parts may live inside the joined tensor (nrt_op_parts_contiguous). */
bool nrt_blocks_contiguous(const nrt_node* node, size_t* offsets);
bool nrt_slice_contiguous(const nrt_node* node, size_t* offsets);

bool nrt_op_parts_contiguous(const nrt_node* node, size_t* offsets) {
    switch (node->op) {
    case NRT_FB_OpType_Concat:
    case NRT_FB_OpType_Split: return nrt_blocks_contiguous(node, offsets);
    case NRT_FB_OpType_Slice: return nrt_slice_contiguous(node, offsets);
    case NRT_FB_OpType_Reshape: /* the same bytes under another shape: a view */
    case NRT_FB_OpType_Flatten:
    case NRT_FB_OpType_Squeeze:
    case NRT_FB_OpType_Unsqueeze: offsets[0] = 0; return true;
    default: return false;
    }
}
