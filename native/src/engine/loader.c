/* Load = verify the whole file once and build the in-memory graph.
 *
 * Nothing from the file is trusted: every offset, length, index, enum value,
 * shape and quantization parameter is checked here (or by the op's parse)
 * before any later stage uses it, so prepare/invoke can rely on a
 * structurally valid graph. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/dtype.h"
#include "../kernels/f16.h"
#include "op.h"
#include "fp16_weights.h"
#include "sparse.h"
#include "subgraph.h"
#include "packed.h"

/* Constant buffers smaller than this may be 16- instead of 64-byte aligned
 * (converter/serialize.py: SMALL_BUFFER). */
#define NRT_SMALL_BUFFER 1024

typedef struct loader {
    nrt_model* m;
    nrt_fb_vec buffers;
    uint64_t scan_budget; /* bytes of the file the loader may read, counting each reference */
} loader;

/* A file's tables and vectors may be shared by any number of references,
 * each of which the loader checks: its reading is bounded like its memory
 * (memory.h), or a small file could keep it busy for hours. */
static nrt_status check_scanned(const loader* L) {
    if (L->m->scanned <= L->scan_budget) return NRT_OK;
    return nrt_fail(L->m, NRT_ERR_LIMIT,
                    "the file's references read %llu bytes while loading, over the limit of %llu for a %zu-byte "
                    "file (tables or vectors shared by very many references)",
                    (unsigned long long)L->m->scanned, (unsigned long long)L->scan_budget, L->m->map_size);
}

static const char* tensor_label(const nrt_tensor* t) { return t->name ? t->name : "(unnamed)"; }

static bool strings_ok(const nrt_fb_table* t, const int* slots, int n) {
    for (int i = 0; i < n; i++) {
        const char* s;
        if (!nrt_fb_string(t, slots[i], &s)) return false;
    }
    return true;
}

static bool string_vector_ok(const nrt_fb_table* t, int slot) {
    nrt_fb_vec v;
    const char* s;
    if (!nrt_fb_vector(t, slot, 4, &v)) return false;
    *t->fb->scanned += 4ull * v.len;
    for (uint32_t i = 0; i < v.len; i++)
        if (!nrt_fb_vec_string(&v, i, &s)) return false;
    return true;
}

/* The scales as floats: in place from the file, or widened from bfloat16
 * (exact: a bfloat16 is the upper half of a float32) or IEEE half (exact
 * too) into owned memory. At most one of the three vectors is non-empty. */
static nrt_status load_scales(nrt_model* m, nrt_tensor* t, const nrt_fb_vec* f32, const nrt_fb_vec* bf16,
                              const nrt_fb_vec* f16, const float** out) {
    if ((f32->len != 0) + (bf16->len != 0) + (f16->len != 0) > 1)
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "tensor %s: scales given both as %s and as %s", tensor_label(t),
                        f32->len ? "float32" : "bfloat16", f16->len ? "float16" : "bfloat16");
    const nrt_fb_vec* narrow = bf16->len ? bf16 : f16;
    if (narrow->len == 0) {
        *out = f32->len ? nrt_fb_vec_data(f32) : NULL;
        return NRT_OK;
    }
    if (!(t->owned_scale = nrt_mem_alloc(m, sizeof(float) * narrow->len)))
        return nrt_mem_status(m, nrt_fail(m, NRT_ERR_OUT_OF_MEMORY, "out of memory"));
    const uint8_t* src = nrt_fb_vec_data(narrow);
    for (uint32_t i = 0; i < narrow->len; i++) {
        uint16_t h;
        memcpy(&h, src + 2u * i, 2);
        if (narrow == f16) {
            t->owned_scale[i] = nrt_f16_to_f32(h);
            continue;
        }
        uint32_t bits = (uint32_t)h << 16;
        memcpy(&t->owned_scale[i], &bits, 4);
    }
    *out = t->owned_scale;
    return NRT_OK;
}

static nrt_status load_quant(loader* L, nrt_tensor* t, int index, const nrt_fb_table* q) {
    nrt_model* m = L->m;
    nrt_fb_vec scale, scale_bf16, scale_f16, zp;
    int32_t axis, block_axis, block_size;
    if (!nrt_fb_vector(q, NRT_FB_QuantParams_scale, 4, &scale) ||
        !nrt_fb_vector(q, NRT_FB_QuantParams_scale_bf16, 2, &scale_bf16) ||
        !nrt_fb_vector(q, NRT_FB_QuantParams_scale_f16, 2, &scale_f16) ||
        !nrt_fb_vector(q, NRT_FB_QuantParams_zero_point, 8, &zp) ||
        !nrt_fb_i32(q, NRT_FB_QuantParams_axis, -1, &axis) ||
        !nrt_fb_i32(q, NRT_FB_QuantParams_block_axis, -1, &block_axis) ||
        !nrt_fb_i32(q, NRT_FB_QuantParams_block_size, 0, &block_size))
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "tensor %s (#%d): corrupt quantization parameters",
                        tensor_label(t), index);
    const float* s = NULL;
    nrt_status st = load_scales(m, t, &scale, &scale_bf16, &scale_f16, &s);
    if (st != NRT_OK) return st;
    if (!s) return NRT_OK;
    uint32_t count = scale.len + scale_bf16.len + scale_f16.len; /* two of them are empty */
    m->scanned += 4ull * count + 8ull * zp.len;  /* (the loops below; tensors may share one table) */
    if (zp.len != 0 && zp.len != count)
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "tensor %s: %u zero points for %u scales",
                        tensor_label(t), zp.len, count);
    if (axis < -1 || axis >= t->decl_rank || (count > 1 && axis < 0))
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "tensor %s: quantization axis %d out of range for rank %d",
                        tensor_label(t), axis, t->decl_rank);
    if (block_size < 0 || (block_size > 0 && (block_axis < 0 || block_axis >= t->decl_rank)))
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "tensor %s: bad block quantization (axis %d, size %d)",
                        tensor_label(t), block_axis, block_size);
    if (count > 1 && t->decl_dims[axis] >= 0) {
        int64_t want = t->decl_dims[axis];
        if (block_size > 0 && t->decl_dims[block_axis] >= 0)
            want *= (t->decl_dims[block_axis] + block_size - 1) / block_size;
        if (want != (int64_t)count)
            return nrt_fail(m, NRT_ERR_INVALID_MODEL, "tensor %s: %u scales but %lld channels on axis %d",
                            tensor_label(t), count, (long long)want, axis);
    }
    for (uint32_t i = 0; i < count; i++)
        if (!(isfinite(s[i]) && s[i] > 0.0f))
            return nrt_fail(m, NRT_ERR_INVALID_MODEL, "tensor %s: scale[%u] = %g is not a finite positive number",
                            tensor_label(t), i, (double)s[i]);
    int64_t lo, hi;
    nrt_dtype_range(t->dtype, &lo, &hi);
    const int64_t* z = zp.len ? nrt_fb_vec_data(&zp) : NULL;
    for (uint32_t i = 0; z && i < zp.len; i++)
        if (z[i] < lo || z[i] > hi)
            return nrt_fail(m, NRT_ERR_INVALID_MODEL, "tensor %s: zero_point[%u] = %lld outside the range of %s",
                            tensor_label(t), i, (long long)z[i], nrt_dtype_name(t->dtype));
    t->quant = (nrt_quant){count, s, z, axis, block_axis, block_size};
    return NRT_OK;
}

/* A constant's bytes at [offset, +size) of the file; size NULL: implied by
 * its type and shape (Tensor.data_offset). */
static nrt_status load_constant(loader* L, nrt_tensor* t, uint64_t offset, const uint64_t* given_size) {
    nrt_model* m = L->m;
    /* nonzero: as in nrt_set_shape, an empty constant's other dims must fit
     * the file too (ops compute partial products of them). */
    int64_t n = 1, nonzero = 1;
    for (int d = 0; d < t->decl_rank; d++) {
        int64_t dim = t->decl_dims[d];
        if (dim < 0)
            return nrt_fail(m, NRT_ERR_INVALID_MODEL, "constant tensor %s has a dynamic dimension", tensor_label(t));
        if (!nrt_mul_overflow_ok(n, dim, &n) || (dim && !nrt_mul_overflow_ok(nonzero, dim, &nonzero)) ||
            nonzero > (int64_t)m->map_size * 8)
            return nrt_fail(m, NRT_ERR_INVALID_MODEL, "constant tensor %s: element count overflows or exceeds the file",
                            tensor_label(t));
    }
    uint64_t want = 0;
    bool counted = nrt_dtype_bytes(t->dtype, n, &want);
    uint64_t size = given_size ? *given_size : want;
    if (!counted || want != size)
        return nrt_fail(m, NRT_ERR_INVALID_MODEL,
                        "constant tensor %s: buffer holds %llu bytes but %s x %lld elements need %llu",
                        tensor_label(t), (unsigned long long)size, nrt_dtype_name(t->dtype), (long long)n,
                        (unsigned long long)want);
    /* The alignment kernels may rely on when reading weights in place:
     * 64 bytes from NRT_SMALL_BUFFER bytes up, 16 below (every element type
     * and a 128-bit vector). */
    uint64_t align = size >= NRT_SMALL_BUFFER ? 64 : 16;
    if (size > 0 && (offset > m->map_size || size > m->map_size - offset || offset % align != 0))
        return nrt_fail(m, NRT_ERR_INVALID_MODEL,
                        "constant tensor %s: buffer [%llu, +%llu) is outside the %zu-byte file or not %llu-byte aligned",
                        tensor_label(t), (unsigned long long)offset, (unsigned long long)size, m->map_size,
                        (unsigned long long)align);
    t->kind = NRT_TENSOR_CONSTANT;
    t->data = size ? (uint8_t*)m->map + offset : (void*)m; /* non-NULL for empty tensors */
    t->nbytes = (size_t)size;
    t->rank = t->decl_rank;
    memcpy(t->dims, t->decl_dims, sizeof t->dims);
    t->shape_known = true;
    return NRT_OK;
}

static nrt_status load_buffer(loader* L, nrt_tensor* t, uint32_t buffer_index) {
    nrt_fb_table b;
    uint64_t offset, size;
    if (buffer_index >= L->buffers.len || !nrt_fb_vec_table(&L->buffers, buffer_index, &b) ||
        !nrt_fb_u64(&b, NRT_FB_Buffer_offset, 0, &offset) || !nrt_fb_u64(&b, NRT_FB_Buffer_size, 0, &size))
        return nrt_fail(L->m, NRT_ERR_INVALID_MODEL, "tensor %s: buffer index %u is invalid (%u buffers)",
                        tensor_label(t), buffer_index, L->buffers.len);
    return load_constant(L, t, offset, &size);
}

static nrt_status load_tensor(loader* L, int index, const nrt_fb_table* ft) {
    nrt_model* m = L->m;
    nrt_tensor* t = &m->tensors[index];
    t->producer = -1;
    t->quant.axis = -1;
    t->first_rows_quantizer = t->last_rows_quantizer = -1;
    nrt_fb_vec shape, dim_names;
    uint8_t type, layout;
    uint32_t buffer;
    uint64_t data_offset;
    nrt_fb_table q, sp;
    bool has_q, has_sp;
    if (!nrt_fb_string(ft, NRT_FB_Tensor_name, &t->name) || !nrt_fb_u8(ft, NRT_FB_Tensor_type, 0, &type) ||
        !nrt_fb_vector(ft, NRT_FB_Tensor_shape, 8, &shape) ||
        !nrt_fb_vector(ft, NRT_FB_Tensor_dim_names, 4, &dim_names) ||
        !nrt_fb_u32(ft, NRT_FB_Tensor_buffer, 0, &buffer) ||
        !nrt_fb_table_field(ft, NRT_FB_Tensor_quant, &q, &has_q) ||
        !nrt_fb_table_field(ft, NRT_FB_Tensor_sparsity, &sp, &has_sp) ||
        !nrt_fb_u8(ft, NRT_FB_Tensor_weight_layout, 0, &layout) ||
        !nrt_fb_u64(ft, NRT_FB_Tensor_data_offset, 0, &data_offset))
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "tensor #%d: corrupt table", index);
    if (!t->name) {
        snprintf(t->index_label, sizeof t->index_label, "#%d", index);
        t->name = t->index_label;
    }
    if (type >= NRT_DTYPE_COUNT)
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "tensor %s: unknown data type %u", tensor_label(t), type);
    t->dtype = (nrt_dtype)type;
    if (shape.len > (uint32_t)m->opts.max_rank)
        return nrt_fail(m, NRT_ERR_LIMIT, "tensor %s: rank %u exceeds the limit of %d", tensor_label(t),
                        shape.len, m->opts.max_rank);
    t->decl_rank = (int)shape.len;
    for (int d = 0; d < NRT_MAX_RANK; d++) t->decl_dims[d] = d < t->decl_rank ? nrt_fb_vec_i64(&shape, (uint32_t)d) : 1;
    /* Declared dims: -1 (dynamic) or >= 0, and the known ones (other than 0,
     * as in nrt_set_shape) of an activation must fit the activation memory
     * limit (a constant's must fit the file: load_constant). */
    int64_t known = 1;
    uint64_t known_bytes = 0;
    for (int d = 0; d < t->decl_rank; d++) {
        int64_t dim = t->decl_dims[d];
        if (dim < -1)
            return nrt_fail(m, NRT_ERR_INVALID_MODEL, "tensor %s: dimension %d is %lld", tensor_label(t), d,
                            (long long)dim);
        if (dim > 0 && !nrt_mul_overflow_ok(known, dim, &known))
            return nrt_fail(m, NRT_ERR_INVALID_MODEL, "tensor %s: element count of the declared shape overflows",
                            tensor_label(t));
    }
    if (buffer != 0 && data_offset != 0)
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "tensor %s has both a buffer and a data offset", tensor_label(t));
    bool constant = buffer != 0 || data_offset != 0;
    if (!constant && (!nrt_dtype_bytes(t->dtype, known, &known_bytes) || known_bytes > m->opts.max_arena_bytes))
        return nrt_fail(m, NRT_ERR_LIMIT, "tensor %s: declared shape needs %lld elements of %s, over the memory limit",
                        tensor_label(t), (long long)known, nrt_dtype_name(t->dtype));
    static const int tensor_strings[] = {NRT_FB_Tensor_packing};
    nrt_fb_vec perm;
    if (!string_vector_ok(ft, NRT_FB_Tensor_dim_names) || !strings_ok(ft, tensor_strings, 1) ||
        !nrt_fb_vector(ft, NRT_FB_Tensor_logical_perm, 4, &perm))
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "tensor %s: corrupt dim_names, packing or logical_perm",
                        tensor_label(t));
    t->dim_names = dim_names;
    if (layout != NRT_FB_WeightLayout_PLAIN)
        return nrt_fail(m, NRT_ERR_UNSUPPORTED, "tensor %s: packed weight layout %u is not supported by this runtime",
                        tensor_label(t), layout);
    if (has_sp) { /* sparse.c: verifies the table; a sparse constant is loaded there */
        nrt_status st = nrt_sparse_load(m, t, &sp, &L->buffers, buffer, data_offset);
        if (st != NRT_OK) return st;
    }
    if (constant && !t->sparse) {
        nrt_status st = buffer ? load_buffer(L, t, buffer) : load_constant(L, t, data_offset, NULL);
        if (st != NRT_OK) return st;
    }
    return has_q ? load_quant(L, t, index, &q) : NRT_OK;
}

static nrt_status load_index_vector(nrt_model* m, const nrt_fb_table* t, int slot, const char* what,
                                    const char* owner, bool allow_omitted, int32_t** out, int* count) {
    nrt_fb_vec v;
    if (!nrt_fb_vector(t, slot, 4, &v))
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "%s: corrupt %s list", owner, what);
    if (v.len > 4096) return nrt_fail(m, NRT_ERR_LIMIT, "%s: %u %s exceed the limit of 4096", owner, v.len, what);
    *out = nrt_mem_alloc(m, sizeof(int32_t) * (v.len ? v.len : 1));
    if (!*out) return nrt_mem_status(m, nrt_fail(m, NRT_ERR_OUT_OF_MEMORY, "out of memory"));
    *count = (int)v.len;
    for (uint32_t i = 0; i < v.len; i++) {
        int32_t x = nrt_fb_vec_i32(&v, i);
        if (x >= m->num_tensors || x < -1 || (x == -1 && !allow_omitted))
            return nrt_fail(m, NRT_ERR_INVALID_MODEL, "%s: %s[%u] = %d is not a tensor index (graph has %d tensors)",
                            owner, what, i, x, m->num_tensors);
        (*out)[i] = x;
    }
    return NRT_OK;
}

static nrt_status load_node(loader* L, int index, const nrt_fb_table* ft) {
    nrt_model* m = L->m;
    nrt_node* n = &m->nodes[index];
    uint16_t op;
    char owner[160];
    if (!nrt_fb_u16(ft, NRT_FB_Operator_op, 0, &op) || !nrt_fb_string(ft, NRT_FB_Operator_name, &n->name) ||
        !nrt_fb_u8(ft, NRT_FB_Operator_options_type, 0, &n->options_type))
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "operator #%d: corrupt table", index);
    n->op = op;
    n->def = nrt_op_lookup(op);
    snprintf(owner, sizeof owner, "operator #%d '%s' (%s)", index, n->name ? n->name : "",
             n->def ? n->def->name : "?");
    if (!n->def)
        return nrt_fail(m, NRT_ERR_UNSUPPORTED, "%s: op type %u is not supported by this runtime", owner, op);
    nrt_status st = load_index_vector(m, ft, NRT_FB_Operator_inputs, "inputs", owner, true, &n->inputs, &n->num_inputs);
    if (st == NRT_OK)
        st = load_index_vector(m, ft, NRT_FB_Operator_outputs, "outputs", owner, false, &n->outputs, &n->num_outputs);
    if (st != NRT_OK) return st;
    const nrt_op_def* d = n->def;
    if (n->num_inputs < d->min_inputs || (d->max_inputs >= 0 && n->num_inputs > d->max_inputs))
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "%s: has %d inputs, expects %d..%d", owner, n->num_inputs,
                        d->min_inputs, d->max_inputs);
    if (n->num_outputs < d->min_outputs || (d->max_outputs >= 0 && n->num_outputs > d->max_outputs))
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "%s: has %d outputs, expects %d..%d", owner, n->num_outputs,
                        d->min_outputs, d->max_outputs);
    /* The 'omitted' index -1 only for optional inputs: every op's required
     * inputs come first (TFLite's CVE-2020-15211 was -1 accepted anywhere). */
    for (int k = 0; k < d->min_inputs && k < n->num_inputs; k++)
        if (n->inputs[k] < 0)
            return nrt_fail(m, NRT_ERR_INVALID_MODEL, "%s: input %d is required but omitted (index -1)", owner, k);
    if (n->options_type != 0 && n->options_type != d->options_type)
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "%s: options of type %u do not belong to this op", owner,
                        n->options_type);
    bool present = false;
    if (n->options_type != 0 && !nrt_fb_table_field(ft, NRT_FB_Operator_options, &n->options, &present))
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "%s: corrupt options table", owner);
    if (!present) {
        /* An empty table: every field reads as its schema default. */
        n->options = (nrt_fb_table){.fb = &m->fb};
    }
    return NRT_OK;
}

static nrt_status parse_node(nrt_model* m, int index) {
    nrt_node* n = &m->nodes[index];
    if (!n->def->parse) return NRT_OK;
    nrt_ctx ctx = {m, n, index};
    nrt_status st = n->def->parse(&ctx);
    return st == NRT_OK ? NRT_OK : nrt_mem_status(m, st);
}

/* Every tensor written once, read only after it is written (which also
 * rules out cycles), graph outputs produced. */
static nrt_status check_graph(nrt_model* m) {
    for (int i = 0; i < m->num_inputs; i++) {
        nrt_tensor* t = &m->tensors[m->inputs[i]];
        if (t->kind == NRT_TENSOR_CONSTANT || t->is_input)
            return nrt_fail(m, NRT_ERR_INVALID_MODEL, "graph input %s is a constant or listed twice", tensor_label(t));
        t->is_input = true;
    }
    for (int i = 0; i < m->num_nodes; i++) {
        nrt_node* n = &m->nodes[i];
        for (int k = 0; k < n->num_inputs; k++) {
            if (n->inputs[k] < 0) continue;
            nrt_tensor* t = &m->tensors[n->inputs[k]];
            if (t->kind != NRT_TENSOR_CONSTANT && !t->is_input && t->producer < 0)
                return nrt_fail(m, NRT_ERR_INVALID_MODEL,
                                "operator #%d '%s' (%s) reads tensor %s before any operator writes it "
                                "(operators out of order, or a cycle)",
                                i, n->name ? n->name : "", n->def->name, tensor_label(t));
        }
        for (int k = 0; k < n->num_outputs; k++) {
            nrt_tensor* t = &m->tensors[n->outputs[k]];
            if (t->kind == NRT_TENSOR_CONSTANT || t->is_input || t->producer >= 0)
                return nrt_fail(m, NRT_ERR_INVALID_MODEL,
                                "operator #%d '%s' (%s) writes tensor %s, which is a constant, an input, "
                                "or already written",
                                i, n->name ? n->name : "", n->def->name, tensor_label(t));
            t->producer = i;
        }
    }
    for (int i = 0; i < m->num_outputs; i++) {
        nrt_tensor* t = &m->tensors[m->outputs[i]];
        if (t->kind != NRT_TENSOR_CONSTANT && !t->is_input && t->producer < 0)
            return nrt_fail(m, NRT_ERR_INVALID_MODEL, "graph output %s is never produced", tensor_label(t));
        t->is_output = true;
    }
    return NRT_OK;
}

static nrt_status load_graph(loader* L, const nrt_fb_table* g) {
    nrt_model* m = L->m;
    nrt_fb_vec tensors, ops;
    if (!nrt_fb_vector(g, NRT_FB_Graph_tensors, 4, &tensors) || !nrt_fb_vector(g, NRT_FB_Graph_operators, 4, &ops))
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "graph: corrupt tensor or operator list");
    if (ops.len > (uint32_t)m->opts.max_operators)
        return nrt_fail(m, NRT_ERR_LIMIT, "graph: %u operators exceed the limit of %d (nrt_options.max_operators)",
                        ops.len, m->opts.max_operators);
    if (tensors.len > 1000000)
        return nrt_fail(m, NRT_ERR_LIMIT, "graph: %u tensors exceed the limit of 1000000", tensors.len);
    nrt_model* root = m->root ? m->root : m;
    root->loaded_items += (size_t)tensors.len + ops.len;
    if (root->loaded_items > NRT_MAX_LOADED_ITEMS)
        return nrt_fail(m, NRT_ERR_LIMIT, "the graph and its subgraphs hold over %d tensors and operators",
                        NRT_MAX_LOADED_ITEMS);
    m->tensors = nrt_mem_alloc(m, sizeof(nrt_tensor) * (tensors.len ? tensors.len : 1));
    m->nodes = nrt_mem_alloc(m, sizeof(nrt_node) * (ops.len ? ops.len : 1));
    if (!m->tensors || !m->nodes) return nrt_mem_status(m, nrt_fail(m, NRT_ERR_OUT_OF_MEMORY, "out of memory"));
    m->num_tensors = (int)tensors.len;
    m->num_nodes = (int)ops.len;
    for (uint32_t i = 0; i < tensors.len; i++) {
        nrt_fb_table t;
        if (!nrt_fb_vec_table(&tensors, i, &t)) return nrt_fail(m, NRT_ERR_INVALID_MODEL, "tensor #%u: corrupt", i);
        nrt_status st = load_tensor(L, (int)i, &t);
        if (st == NRT_OK) st = check_scanned(L);
        if (st != NRT_OK) return st;
    }
    nrt_status st = load_index_vector(m, g, NRT_FB_Graph_inputs, "inputs", "graph", false, &m->inputs, &m->num_inputs);
    if (st == NRT_OK)
        st = load_index_vector(m, g, NRT_FB_Graph_outputs, "outputs", "graph", false, &m->outputs, &m->num_outputs);
    if (st != NRT_OK) return st;
    for (uint32_t i = 0; i < ops.len; i++) {
        nrt_fb_table t;
        if (!nrt_fb_vec_table(&ops, i, &t)) return nrt_fail(m, NRT_ERR_INVALID_MODEL, "operator #%u: corrupt", i);
        st = load_node(L, (int)i, &t);
        if (st == NRT_OK) st = check_scanned(L);
        if (st != NRT_OK) return st;
    }
    /* The graph checked and float16 weights widened before any op parses
     * (parsing packs weights). */
    if ((st = check_graph(m)) != NRT_OK || (st = nrt_widen_fp16_weights(m)) != NRT_OK) return st;
    for (int i = 0; i < m->num_nodes; i++)
        if ((st = parse_node(m, i)) != NRT_OK) return st;
    nrt_sparse_release_claimed(m);
    return NRT_OK;
}

/* Tables the runtime does not use still get verified: a file either is
 * well-formed throughout or is rejected. */
static nrt_status verify_descriptive_tables(const loader* L, const nrt_fb_table* root) {
    nrt_model* m = L->m;
    static const int model_strings[] = {NRT_FB_Model_producer, NRT_FB_Model_producer_version,
                                        NRT_FB_Model_source_sha256};
    if (!strings_ok(root, model_strings, 3)) return nrt_fail(m, NRT_ERR_INVALID_MODEL, "corrupt producer strings");
    nrt_fb_vec list;
    nrt_fb_table t, e;
    if (!nrt_fb_vector(root, NRT_FB_Model_metadata, 4, &list))
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "corrupt metadata list");
    static const int meta_strings[] = {NRT_FB_Metadata_key, NRT_FB_Metadata_value};
    for (uint32_t i = 0; i < list.len; i++) {
        if (!nrt_fb_vec_table(&list, i, &t) || !strings_ok(&t, meta_strings, 2))
            return nrt_fail(m, NRT_ERR_INVALID_MODEL, "metadata entry #%u is corrupt", i);
        nrt_status st = check_scanned(L);
        if (st != NRT_OK) return st;
    }
    m->metadata = list;
    if (!nrt_fb_vector(root, NRT_FB_Model_signatures, 4, &list))
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "corrupt signature list");
    for (uint32_t i = 0; i < list.len; i++) {
        static const int sig_strings[] = {NRT_FB_Signature_key};
        static const int io_slots[] = {NRT_FB_Signature_inputs, NRT_FB_Signature_outputs};
        if (!nrt_fb_vec_table(&list, i, &t) || !strings_ok(&t, sig_strings, 1))
            return nrt_fail(m, NRT_ERR_INVALID_MODEL, "signature #%u is corrupt", i);
        for (int k = 0; k < 2; k++) {
            nrt_fb_vec io;
            if (!nrt_fb_vector(&t, io_slots[k], 4, &io))
                return nrt_fail(m, NRT_ERR_INVALID_MODEL, "signature #%u is corrupt", i);
            m->scanned += 4ull * io.len;
            nrt_status st = check_scanned(L);
            if (st != NRT_OK) return st;
            for (uint32_t j = 0; j < io.len; j++) {
                static const int entry_strings[] = {NRT_FB_SignatureTensor_name};
                int32_t tensor;
                if (!nrt_fb_vec_table(&io, j, &e) || !strings_ok(&e, entry_strings, 1) ||
                    !nrt_fb_i32(&e, NRT_FB_SignatureTensor_tensor, 0, &tensor) || tensor < 0 ||
                    tensor >= m->num_tensors)
                    return nrt_fail(m, NRT_ERR_INVALID_MODEL, "signature #%u entry #%u is corrupt or names no tensor",
                                    i, j);
                if ((st = check_scanned(L)) != NRT_OK) return st;
            }
        }
    }
    bool present;
    static const int recipe_strings[] = {NRT_FB_QuantizationRecipe_scheme, NRT_FB_QuantizationRecipe_calibration_method,
                                         NRT_FB_QuantizationRecipe_summary};
    if (!nrt_fb_table_field(root, NRT_FB_Model_quantization, &t, &present) ||
        (present && (!strings_ok(&t, recipe_strings, 3) || !string_vector_ok(&t, NRT_FB_QuantizationRecipe_float_nodes))))
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "corrupt quantization recipe");
    return NRT_OK;
}

/* The load budget (memory.h): for reading the file and for the memory
 * loading allocates (which then stays within max_memory_bytes). */
static uint64_t load_budget(const nrt_model* m) {
    return (uint64_t)m->map_size * NRT_LOAD_BYTES_PER_FILE_BYTE + NRT_LOAD_SLACK_BYTES;
}

static size_t clamp_size(uint64_t v) { return v > SIZE_MAX ? SIZE_MAX : (size_t)v; }

nrt_status nrt_load(nrt_model* m) {
    loader L = {.m = m, .scan_budget = load_budget(m)};
    nrt_fb_table root, g;
    m->fb.scanned = &m->scanned;
    if (m->depth == 0) { /* (a subgraph loads within its root's load, under its budgets: subgraph.c) */
        m->scanned = 0;
        nrt_mem_clear_refused(m);
        uint64_t limit = L.scan_budget < m->opts.max_memory_bytes ? L.scan_budget : m->opts.max_memory_bytes;
        m->mem.limit = clamp_size(limit);
    }
    if (m->fb.size < 8)
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "not a nanort model: file is %zu bytes", m->fb.size);
    if (!nrt_fb_root(&m->fb, NRT_FB_FILE_IDENTIFIER, &root))
        return nrt_fail(m, NRT_ERR_INVALID_MODEL,
                        "not a nanort model: no '" NRT_FB_FILE_IDENTIFIER "' identifier or corrupt root table");
    uint32_t version;
    nrt_fb_vec graphs;
    if (!nrt_fb_u32(&root, NRT_FB_Model_format_version, 0, &version) ||
        !nrt_fb_vector(&root, NRT_FB_Model_graphs, 4, &graphs) ||
        !nrt_fb_vector(&root, NRT_FB_Model_buffers, 4, &L.buffers))
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "corrupt model table");
    if (version == 0 || version > NRT_FORMAT_VERSION)
        return nrt_fail(m, NRT_ERR_UNSUPPORTED, "format version %u is not supported (this runtime reads 1..%d)",
                        version, NRT_FORMAT_VERSION);
    m->format_version = version;
    if (graphs.len == 0 || !nrt_fb_vec_table(&graphs, 0, &g))
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "model has no graph");
    if (m->graph_index != 0 &&
        ((uint32_t)m->graph_index >= graphs.len || !nrt_fb_vec_table(&graphs, (uint32_t)m->graph_index, &g)))
        return nrt_fail(m, NRT_ERR_INVALID_MODEL, "subgraph index %d is not a graph of the model (%u graphs)",
                        m->graph_index, graphs.len);
    nrt_status st = load_graph(&L, &g);
    if (st == NRT_OK && m->depth == 0) st = verify_descriptive_tables(&L, &root);
    if (m->depth == 0) m->mem.limit = clamp_size(m->opts.max_memory_bytes);
    if (st == NRT_OK) m->loaded = true;
    return st;
}

void nrt_unload(nrt_model* m) {
    nrt_release_prepared(m);
    nrt_subgraph_free_all(m);
    if (m->depth == 0) m->loaded_items = 0;
    for (int i = 0; m->tensors && i < m->num_tensors; i++) {
        nrt_mem_free(m, m->tensors[i].owned_scale);
        nrt_sparse_free(m, &m->tensors[i]);
    }
    for (int i = 0; m->nodes && i < m->num_nodes; i++) {
        nrt_mem_free(m, m->nodes[i].inputs);
        nrt_mem_free(m, m->nodes[i].outputs);
        nrt_mem_free(m, m->nodes[i].params);
    }
    nrt_packed_free_all(m);
    nrt_mem_free(m, m->nodes);
    nrt_mem_free(m, m->tensors);
    nrt_mem_free(m, m->inputs);
    nrt_mem_free(m, m->outputs);
    m->nodes = NULL;
    m->tensors = NULL;
    m->inputs = m->outputs = NULL;
    m->num_nodes = m->num_tensors = m->num_inputs = m->num_outputs = 0;
    m->loaded = false;
    m->format_version = 0;
    m->metadata = (nrt_fb_vec){0};
}
