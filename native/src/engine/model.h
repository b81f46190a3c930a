/* The runtime's in-memory model: tensors, nodes, and the state that
 * load / prepare / invoke share. Ops see it through op.h. */
#ifndef NRT_MODEL_H
#define NRT_MODEL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../kernels/dispatch.h"
#include "fb.h"
#include "memory.h"
#include "nanort.h"

typedef struct nrt_threadpool nrt_threadpool;
typedef struct nrt_op_def nrt_op_def;

typedef enum nrt_tensor_kind {
    NRT_TENSOR_ACTIVATION = 0, /* lives in the arena */
    NRT_TENSOR_CONSTANT = 1,   /* weights: points into the model file */
    NRT_TENSOR_STATIC = 2,     /* computed during prepare from shapes (Shape, ...) */
} nrt_tensor_kind;

typedef struct nrt_quant {
    uint32_t count;            /* 0 = not quantized */
    const float* scale;        /* count entries, in the model file or (bfloat16 in the file) owned_scale */
    const int64_t* zero_point; /* count entries or NULL (all zero) */
    int axis;                  /* -1 = per tensor */
    int block_axis;
    int block_size;
} nrt_quant;

typedef struct nrt_tensor {
    const char* name;                /* never NULL once loaded: see index_label */
    char index_label[16];            /* "#12": the name of a tensor the file leaves unnamed (converters
                                        drop constants' made-up names), so every error can name it */
    nrt_dtype dtype;
    uint8_t kind;                    /* nrt_tensor_kind */
    int rank;
    int64_t dims[NRT_MAX_RANK];      /* current shape (valid after prepare) */
    int decl_rank;
    int64_t decl_dims[NRT_MAX_RANK]; /* shape in the file; -1 = dynamic */
    size_t nbytes;                   /* current size */
    void* data;
    nrt_quant quant;
    float* owned_scale;              /* scales widened from bfloat16 at load, freed at unload */
    int producer;                    /* node index, -1 for inputs/constants */
    int last_use;                    /* last node reading it (planning) */
    bool is_input, is_output;
    bool shape_known;                /* set by prepare */
    struct nrt_sparse* sparse;       /* a sparse constant's record (engine/sparse.h), else NULL */
    void* owned_data;                /* its dense copy (data), freed at unload */
    int sparse_claims;               /* readers that run a sparse kernel on it */
    /* Data-dependent shapes (engine/dynamic.c): `dynamic` tensors live in
     * memory allocated during invoke (not the arena); a `deferred` one gets
     * its shape from its producer's eval. `static_input`: a subgraph input
     * whose value is known before invoke (engine/subgraph.c). */
    bool dynamic, deferred, static_input;
    nrt_fb_vec dim_names;            /* symbolic names of dynamic declared dims ("" or absent = none) */
    bool elided;                     /* never written: a Conv took over the node that alone reads it (a Lut,
                                        residual Add or PRelu) and writes that node's output instead, or
                                        reads a zero-channel Pad's input in place of it (engine/prepare.c);
                                        no memory */
    void* bound;                     /* caller memory bound to this input / output (nrt_model_bind_*), or NULL */
    size_t bound_bytes;
    /* A Concat input or a Split / Slice / Reshape output placed inside the joined tensor
     * (engine/prepare.c plan_in_place): that tensor's index, else -1, and its
     * byte offset there. */
    int in_place_of;
    size_t in_place_offset;
    /* The first and last FullyConnected that quantize this float tensor's rows at run time
     * (ops/matmul.c: the first quantizes them once for the others), -1: none. Set as the
     * ops parse, so no prepare searches the graph for them. */
    int first_rows_quantizer, last_rows_quantizer;
} nrt_tensor;

typedef struct nrt_node {
    uint16_t op;
    const nrt_op_def* def;
    const char* name;
    int num_inputs, num_outputs;
    int32_t* inputs;           /* -1 = omitted optional input */
    int32_t* outputs;
    nrt_fb_table options;      /* valid when options_type != 0 */
    uint8_t options_type;
    void* params;              /* parsed options (op-owned layout, freed by engine) */
    void* state;               /* prepare-time state (freed by engine; def->release first) */
    size_t scratch_bytes;      /* per-invoke temporary memory, set by prepare */
    void* scratch;             /* 64-byte aligned, valid during eval */
    bool static_eval;          /* evaluated during prepare */
    bool late;                 /* prepared during invoke: reads a dynamic tensor (engine/dynamic.c) */
    bool needs_value;          /* its prepare asked for a value known only at invoke */
    bool fused;                /* computed by another node, fused_into (a Lut or a residual Add fused into a
                                  Conv, engine/prepare.c): not evaluated */
    int fused_into;
    uint64_t profile_calls, profile_ns;
} nrt_node;

typedef struct nrt_static_block nrt_static_block;
typedef struct nrt_dynamic_block nrt_dynamic_block;
typedef struct nrt_packed_weights nrt_packed_weights;

struct nrt_model {
    nrt_options opts;
    nrt_isa isa;
    nrt_kernels kernels;       /* the level's kernel table, resolved (kernels/dispatch.h) */
    char error[512];
    atomic_flag busy;
    atomic_bool cancel_requested;
    nrt_memory mem;            /* memory.h: every allocation for this model */

    /* file */
    void* map;                 /* mmap'ed or owned copy */
    size_t map_size;
    int map_kind;              /* 0 none, 1 mmap, 2 malloc'ed copy, 3 caller's buffer */
    int map_fd;                /* the mapped file, kept open to notice truncation; -1 otherwise */
    nrt_fb fb;
    uint64_t scanned;          /* bytes of the file read while loading (fb.c counts strings) */
    uint32_t format_version;
    nrt_fb_vec metadata;       /* Metadata tables (key / value strings), verified at load */

    int num_tensors, num_nodes, num_inputs, num_outputs;
    nrt_tensor* tensors;
    nrt_node* nodes;
    int32_t* inputs;
    int32_t* outputs;

    /* prepare */
    bool loaded, prepared;
    void* arena;
    size_t arena_bytes, arena_capacity;
    nrt_static_block* static_blocks; /* storage of NRT_TENSOR_STATIC tensors */
    size_t static_bytes;             /* their total size (counted with the arena) */
    nrt_packed_weights* packed;      /* weights packed at load, shared by the ops using them */
    size_t packed_weight_bytes;
    nrt_threadpool* pool;
    bool profiling;
    uint64_t invokes;          /* invokes begun: tells an op whether a value it kept is this invoke's */

    /* data-dependent shapes and subgraphs (engine/dynamic.c, engine/subgraph.c) */
    nrt_dynamic_block* dynamic_blocks; /* memory of dynamic tensors, freed at the next invoke */
    int graph_index;           /* which of the file's graphs this model runs (0: the main one) */
    int depth;                 /* subgraph nesting: 0 for the main graph */
    nrt_model* root;           /* the main graph's model (itself for the main graph) */
    size_t loaded_items;       /* root only: tensors + operators loaded over all subgraphs */
    nrt_model** children;      /* subgraph models this one owns */
    int num_children;
};

/* 64-byte aligned memory, freed with free(): posix_memalign, which bionic
 * has from Android 4.1 (aligned_alloc only from Android 9). */
static inline void* nrt_alloc_aligned64(size_t bytes) {
    void* p = NULL;
    return posix_memalign(&p, 64, bytes ? bytes : 64) == 0 ? p : NULL;
}

void nrt_set_error(nrt_model* m, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
nrt_status nrt_fail(nrt_model* m, nrt_status st, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

nrt_status nrt_load(nrt_model* m);          /* verify + build tensors/nodes from m->fb */
void nrt_unload(nrt_model* m);
nrt_status nrt_prepare(nrt_model* m);
nrt_status nrt_invoke(nrt_model* m);
void nrt_release_prepared(nrt_model* m);

#endif
