/*
 * nanort: on-device inference runtime for .nrt models. Public C API.
 *
 * Usage:
 *   nrt_options opts; nrt_options_init(&opts); opts.num_threads = 2;
 *   nrt_model* m; if (nrt_model_create(&opts, &m) != NRT_OK) ...;
 *   if (nrt_model_load_file(m, "model.nrt") != NRT_OK) puts(nrt_model_error(m));
 *   memcpy(nrt_model_input_data(m, 0), image, bytes);   (after prepare)
 *   nrt_model_invoke(m);  ... nrt_model_output_data(m, 0) ...
 *   nrt_model_free(m);
 *
 * Every function returns a status; on failure the handle keeps a message
 * naming what is wrong (nrt_model_error). The runtime never aborts, exits or
 * prints, whatever file or input it is given.
 *
 * Threads: a model may be used from any thread, but by one at a time; a
 * second concurrent call on the same model returns NRT_ERR_BUSY. Separate
 * models are independent and may run concurrently.
 */
#ifndef NANORT_H
#define NANORT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define NRT_API __declspec(dllexport)
#else
#define NRT_API __attribute__((visibility("default")))
#endif

#define NRT_VERSION_MAJOR 0
#define NRT_VERSION_MINOR 1
#define NRT_VERSION_PATCH 0
#define NRT_MAX_RANK 8
/* Newest .nrt file-format version this runtime reads (it reads 1 up to this). */
#define NRT_FORMAT_VERSION 2

typedef enum nrt_status {
    NRT_OK = 0,
    NRT_ERR_INVALID_ARGUMENT = 1, /* bad argument to an API call */
    NRT_ERR_IO = 2,               /* file cannot be opened / read / mapped */
    NRT_ERR_INVALID_MODEL = 3,    /* the model file fails verification */
    NRT_ERR_UNSUPPORTED = 4,      /* valid, but uses something this build lacks */
    NRT_ERR_SHAPE = 5,            /* shapes do not fit together */
    NRT_ERR_DTYPE = 6,            /* wrong element type */
    NRT_ERR_OUT_OF_MEMORY = 7,
    NRT_ERR_LIMIT = 8,            /* a resource limit in nrt_options is exceeded */
    NRT_ERR_STATE = 9,            /* call out of order (e.g. invoke before load) */
    NRT_ERR_BUSY = 10,            /* another thread is using this model */
    NRT_ERR_INTERNAL = 11,
    NRT_ERR_CANCELLED = 12,       /* invoke stopped by nrt_model_cancel */
} nrt_status;

typedef enum nrt_dtype {
    NRT_FLOAT32 = 0,
    NRT_FLOAT16 = 1,
    NRT_FLOAT64 = 2,
    NRT_INT8 = 3,
    NRT_UINT8 = 4,
    NRT_INT16 = 5,
    NRT_INT32 = 6,
    NRT_INT64 = 7,
    NRT_BOOL = 8,
    NRT_INT4 = 9,
} nrt_dtype;

/* Kernel levels: the sets of CPU features the kernels are compiled for,
 * numbered 0 .. nrt_isa_count() - 1. Level 0 is the portable reference C,
 * the definition of every result; the others are named "avx2", "avx512",
 * "neon", "dotprod" ... (nrt_isa_name, nrt_isa_from_name). NRT_ISA_AUTO
 * picks the best level this CPU runs; forcing one it lacks is an error. */
typedef enum nrt_isa {
    NRT_ISA_UNKNOWN = -2, /* nrt_isa_from_name: no level has that name */
    NRT_ISA_AUTO = -1,
} nrt_isa;

/* Resource limits: nrt_options_init sets defaults a phone app can live
 * with (README, "Untrusted models and inputs"); raise them for big models. */
typedef struct nrt_options {
    int num_threads;          /* >= 1 */
    int isa;                  /* nrt_isa; NRT_ISA_AUTO by default */
    int max_rank;             /* tensors of higher rank are rejected */
    uint64_t max_arena_bytes; /* activation memory: the arena and the tensors
                                 computed at prepare (default 512 MiB) */
    uint64_t max_file_bytes;  /* model size limit (default 2 GiB) */
    int preserve_intermediates; /* give every tensor its own memory so all
                                   can be read after invoke (calibration, debugging) */
    uint64_t max_memory_bytes; /* everything the runtime allocates for the model
                                  beyond the file: its tables, packed weights,
                                  op state, activations (default 1 GiB). Loading
                                  may also use at most 16 x the file's size + 64 MiB */
    int max_operators;        /* operators a model may have (default 100000) */
    int copy_model_file;      /* nonzero: nrt_model_load_file reads the file into
                                 memory instead of mapping it, so the model no
                                 longer depends on it (a mapped file must not be
                                 truncated or rewritten in place while in use) */
} nrt_options;

typedef struct nrt_tensor_info {
    const char* name;
    nrt_dtype dtype;
    int rank;
    int64_t dims[NRT_MAX_RANK];  /* current shape; -1 where not yet known */
    int64_t declared_dims[NRT_MAX_RANK]; /* from the file; -1 = dynamic */
    size_t bytes;                /* current size in bytes */
    /* quantization: count 0 = not quantized; 1 = per tensor; else per channel */
    uint32_t quant_count;
    const float* quant_scale;
    const int64_t* quant_zero_point;
    int quant_axis;
    /* Symbolic name of each declared dimension ("batch", "height"), "" where
     * the file gives none (every static dimension). Points into the model. */
    const char* dim_names[NRT_MAX_RANK];
} nrt_tensor_info;

typedef struct nrt_model nrt_model;

NRT_API const char* nrt_version(void);
NRT_API const char* nrt_status_name(nrt_status status);
NRT_API int nrt_isa_count(void);
/* "auto" for NRT_ISA_AUTO, "invalid" for a number that is not a level. */
NRT_API const char* nrt_isa_name(nrt_isa isa);
/* The level named `name`; NRT_ISA_AUTO for NULL, "" or "auto"; else NRT_ISA_UNKNOWN. */
NRT_API int nrt_isa_from_name(const char* name);
NRT_API const char* nrt_dtype_name(nrt_dtype dtype);
NRT_API size_t nrt_dtype_size(nrt_dtype dtype);
/* Best kernel level this CPU supports. */
NRT_API nrt_isa nrt_cpu_best_isa(void);
/* 1 when this CPU has every feature level `isa` needs. */
NRT_API int nrt_cpu_supports_isa(nrt_isa isa);

NRT_API void nrt_options_init(nrt_options* options);

NRT_API nrt_status nrt_model_create(const nrt_options* options, nrt_model** out_model);
NRT_API void nrt_model_free(nrt_model* model);
NRT_API const char* nrt_model_error(const nrt_model* model);

/* Load: memory-maps the file (weights are used in place), or reads it with
 * options.copy_model_file. A mapped file is checked not to have shrunk before
 * every prepare and invoke (NRT_ERR_IO); truncating it while an invoke runs
 * is outside what a mapping survives (SIGBUS), so write model files by
 * rename (as nanort's converter does) or set copy_model_file. A path that
 * is not a regular file (FIFO, device, folder) is refused without blocking. */
NRT_API nrt_status nrt_model_load_file(nrt_model* model, const char* path);
/* Load from memory. copy = 0 uses the buffer in place: it must stay valid
 * and unchanged until the model is freed. */
NRT_API nrt_status nrt_model_load_buffer(nrt_model* model, const void* data, size_t size, int copy);

NRT_API nrt_status nrt_model_set_num_threads(nrt_model* model, int num_threads);
NRT_API nrt_isa nrt_model_isa(const nrt_model* model);

NRT_API int nrt_model_num_inputs(const nrt_model* model);
NRT_API int nrt_model_num_outputs(const nrt_model* model);
NRT_API nrt_status nrt_model_input_info(nrt_model* model, int index, nrt_tensor_info* info);
NRT_API nrt_status nrt_model_output_info(nrt_model* model, int index, nrt_tensor_info* info);
NRT_API int nrt_model_input_index(const nrt_model* model, const char* name);
NRT_API int nrt_model_output_index(const nrt_model* model, const char* name);

/* Sets the shape an input will have; the next prepare/invoke propagates it. */
NRT_API nrt_status nrt_model_resize_input(nrt_model* model, int index, int rank, const int64_t* dims);
/* Propagates shapes, plans memory, chooses kernels. Invoke calls it when needed. */
NRT_API nrt_status nrt_model_prepare(nrt_model* model);

/* Input/output memory, valid after a successful prepare until the next
 * resize / prepare / free. Invoke may reuse input memory for intermediate
 * tensors once the input is consumed: set every input before each invoke. */
NRT_API void* nrt_model_input_data(nrt_model* model, int index);
NRT_API const void* nrt_model_output_data(nrt_model* model, int index);
NRT_API nrt_status nrt_model_set_input(nrt_model* model, int index, const void* data, size_t bytes);
/* nrt_model_set_input that also checks the caller's element type: the one
 * path bindings copy inputs through. With NRT_INPUT_CHECK_FINITE, a float
 * input holding NaN or Inf is refused (NRT_ERR_INVALID_ARGUMENT naming the
 * first such element) in the same pass as the copy. */
#define NRT_INPUT_CHECK_FINITE 1
NRT_API nrt_status nrt_model_set_input_checked(nrt_model* model, int index, nrt_dtype dtype, const void* data,
                                               size_t bytes, int flags);
/* Copies `count` elements of `dtype` from src to dst (which must not
 * overlap) and returns 1 when every one is finite, 0 when a float element is
 * NaN or infinite (all are copied either way): one pass for bindings that
 * refuse non-finite inputs. Integer and bool elements count as finite. */
NRT_API int nrt_copy_finite(void* dst, const void* src, size_t count, nrt_dtype dtype);
NRT_API nrt_status nrt_model_invoke(nrt_model* model);
/* Asks the invoke running on another thread to stop: it returns
 * NRT_ERR_CANCELLED before its next operator (an operator already running
 * finishes first). Callable from any thread at any time, including during
 * invoke (it does not wait for the model); a request made while no invoke
 * runs is dropped when the next one starts. The model stays usable. */
NRT_API void nrt_model_cancel(nrt_model* model);

/* Activation arena size chosen by the planner (bytes), after prepare. */
NRT_API size_t nrt_model_arena_bytes(const nrt_model* model);
/* Memory taken by weights packed at load (bytes), beyond the mapped file. */
NRT_API size_t nrt_model_packed_weight_bytes(const nrt_model* model);
/* Everything the runtime has allocated for this model now (bytes, the
 * figure checked against options.max_memory_bytes). */
NRT_API size_t nrt_model_memory_bytes(const nrt_model* model);

/* Every tensor of the graph, for inspection. Data of intermediate tensors is
 * meaningful after invoke only with options.preserve_intermediates. */
NRT_API int nrt_model_num_tensors(const nrt_model* model);
NRT_API nrt_status nrt_model_tensor_info(nrt_model* model, int index, nrt_tensor_info* info);
NRT_API const void* nrt_model_tensor_data(nrt_model* model, int index);

/* Per-operator timing (for finding where time goes). While enabled, invoke
 * adds each operator's wall time to its counters. */
typedef struct nrt_node_profile {
    const char* op_type;
    const char* name;
    uint64_t calls;
    uint64_t total_ns;
} nrt_node_profile;

NRT_API nrt_status nrt_model_set_profiling(nrt_model* model, int enable);
NRT_API int nrt_model_num_nodes(const nrt_model* model);
NRT_API nrt_status nrt_model_node_profile(const nrt_model* model, int index, nrt_node_profile* out);

/* ---- What the file says about itself ---------------------------------- */

/* File-format version of the loaded model (1..NRT_FORMAT_VERSION), 0 when
 * none is loaded. */
NRT_API uint32_t nrt_model_format_version(const nrt_model* model);
/* Key / value strings the converter stored (the source model's metadata,
 * e.g. PP-OCR's "character" list). The strings point into the model and
 * stay valid until it is freed; a missing key or value reads as "". */
NRT_API int nrt_model_num_metadata(const nrt_model* model);
NRT_API nrt_status nrt_model_metadata(const nrt_model* model, int index, const char** key, const char** value);
/* The value stored under `key`, NULL when there is none. */
NRT_API const char* nrt_model_metadata_value(const nrt_model* model, const char* key);

/* ---- Zero-copy inputs and outputs -------------------------------------- */

/* Binds caller memory to an input: invoke reads the input there, in place,
 * instead of from the runtime's own input memory (which it no longer
 * allocates). The memory must hold `bytes` = the input's size at its
 * current shape, be aligned to its element size, and stay valid and
 * unchanged while invoke runs; invoke never writes to it (nor does
 * nrt_model_set_input: NRT_ERR_STATE while bound). Binding another
 * pointer of the same size is cheap (no re-plan); data = NULL unbinds.
 * A binding lasts until unbound or the model is freed; resizing an input
 * or output to another size makes the next prepare/invoke fail with
 * NRT_ERR_SHAPE until the tensor is bound again (or unbound). Before the
 * first prepare, sizes are checked at prepare. */
NRT_API nrt_status nrt_model_bind_input(nrt_model* model, int index, const void* data, size_t bytes);
/* Binds caller memory to an output: invoke writes the output there. Same
 * rules as nrt_model_bind_input; nrt_model_output_data then returns `data`. */
NRT_API nrt_status nrt_model_bind_output(nrt_model* model, int index, void* data, size_t bytes);

#ifdef __cplusplus
}
#endif
#endif /* NANORT_H */
