/* The public C API: argument checks, the busy guard, and handle state. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../kernels/isa.h"
#include "../kernels/dtype.h"
#include "model.h"
#include "op.h"
#include "threadpool.h"

enum { MAP_NONE = 0, MAP_MMAP = 1, MAP_COPY = 2, MAP_BORROWED = 3 };

const char* nrt_version(void) { return "0.1.0"; }

const char* nrt_status_name(nrt_status st) {
    static const char* const names[] = {
        "OK", "INVALID_ARGUMENT", "IO", "INVALID_MODEL", "UNSUPPORTED", "SHAPE",
        "DTYPE", "OUT_OF_MEMORY", "LIMIT", "STATE", "BUSY", "INTERNAL", "CANCELLED",
    };
    return (unsigned)st < sizeof names / sizeof *names ? names[st] : "UNKNOWN";
}

void nrt_set_error(nrt_model* m, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->error, sizeof m->error, fmt, ap);
    va_end(ap);
}

nrt_status nrt_fail(nrt_model* m, nrt_status st, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->error, sizeof m->error, fmt, ap);
    va_end(ap);
    return st;
}

void nrt_options_init(nrt_options* o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->num_threads = 1;
    o->isa = NRT_ISA_AUTO;
    o->max_rank = NRT_MAX_RANK;
    o->max_arena_bytes = (uint64_t)512 << 20;
    o->max_file_bytes = (uint64_t)2 << 30;
    o->max_memory_bytes = (uint64_t)1 << 30;
    o->max_operators = 100000;
}

/* "ref, avx2, ..., auto": the names NANORT_ISA accepts. */
static void level_names(char* buf, size_t size) {
    size_t used = 0;
    for (int i = 0; i <= NRT_ISA_COUNT && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "",
                                 nrt_isa_name(i < NRT_ISA_COUNT ? (nrt_isa)i : NRT_ISA_AUTO));
}

static nrt_status resolve_isa(nrt_model* m, int requested) {
    uint32_t features = nrt_cpu_features();
    if (requested == NRT_ISA_AUTO) {
        const char* env = getenv("NANORT_ISA");
        requested = nrt_isa_from_name(env);
        if (requested == NRT_ISA_UNKNOWN) {
            char names[256];
            level_names(names, sizeof names);
            return nrt_fail(m, NRT_ERR_INVALID_ARGUMENT, "NANORT_ISA=%s is not one of %s", env, names);
        }
    }
    if (requested == NRT_ISA_AUTO) {
        m->isa = (nrt_isa)nrt_isa_best(features);
        return NRT_OK;
    }
    if (requested < 0 || requested >= NRT_ISA_COUNT)
        return nrt_fail(m, NRT_ERR_INVALID_ARGUMENT, "isa %d is not a valid kernel level", requested);
    if (!nrt_isa_supported(requested, features))
        return nrt_fail(m, NRT_ERR_UNSUPPORTED, "this CPU cannot run %s kernels (best: %s)",
                        nrt_isa_name((nrt_isa)requested), nrt_isa_name((nrt_isa)nrt_isa_best(features)));
    m->isa = (nrt_isa)requested;
    return NRT_OK;
}

nrt_status nrt_model_create(const nrt_options* options, nrt_model** out) {
    if (!out) return NRT_ERR_INVALID_ARGUMENT;
    *out = NULL;
    nrt_options o;
    if (options) o = *options; else nrt_options_init(&o);
    if (o.num_threads < 1 || o.num_threads > 256 || o.max_rank < 1 || o.max_rank > NRT_MAX_RANK ||
        o.max_operators < 1)
        return NRT_ERR_INVALID_ARGUMENT;
    nrt_model* m = calloc(1, sizeof *m);
    if (!m) return NRT_ERR_OUT_OF_MEMORY;
    atomic_flag_clear(&m->busy);
    atomic_init(&m->cancel_requested, false);
    m->opts = o;
    m->map_fd = -1;
    m->mem.limit = o.max_memory_bytes > SIZE_MAX ? SIZE_MAX : (size_t)o.max_memory_bytes;
    nrt_status st = resolve_isa(m, o.isa);
    if (st == NRT_OK) nrt_kernels_resolve(m->isa, &m->kernels);
    if (st == NRT_OK && !(m->pool = nrt_threadpool_create(o.num_threads))) st = NRT_ERR_OUT_OF_MEMORY;
    *out = m; /* returned even on failure so the caller can read the message */
    return st;
}

static void unmap(nrt_model* m) {
    if (m->map_kind == MAP_MMAP) munmap(m->map, m->map_size);
    else if (m->map_kind == MAP_COPY) free(m->map);
    if (m->map_fd >= 0) close(m->map_fd);
    m->map_fd = -1;
    m->map = NULL;
    m->map_size = 0;
    m->map_kind = MAP_NONE;
    m->fb = (nrt_fb){0};
}

void nrt_model_free(nrt_model* m) {
    if (!m) return;
    nrt_unload(m);
    unmap(m);
    nrt_threadpool_free(m->pool);
    nrt_mem_free(m, m->arena);
    free(m);
}

const char* nrt_model_error(const nrt_model* m) { return m ? m->error : "no model handle"; }

/* Guards every call that touches model state against concurrent use. */
#define ENTER(m)                                                                         \
    do {                                                                                 \
        if (!(m)) return NRT_ERR_INVALID_ARGUMENT;                                       \
        if (atomic_flag_test_and_set(&(m)->busy))                                        \
            return NRT_ERR_BUSY; /* message not set: another thread owns the handle */  \
    } while (0)
/* `st` is often the call itself (LEAVE(m, nrt_invoke(m))): evaluate it
 * before the flag is released, or the work runs unguarded. */
#define LEAVE(m, st)                          \
    do {                                      \
        nrt_status leave_status_ = (st);      \
        atomic_flag_clear(&(m)->busy);        \
        return leave_status_;                 \
    } while (0)

static nrt_status finish_load(nrt_model* m) {
    m->fb = (nrt_fb){m->map, m->map_size, NULL};
    nrt_status st = nrt_load(m);
    if (st != NRT_OK) {
        nrt_unload(m);
        unmap(m);
    }
    return st;
}

/* Reads the whole file into 64-byte aligned memory (copy_model_file). */
static nrt_status read_file(nrt_model* m, int fd, size_t size, const char* path) {
    uint8_t* p = nrt_alloc_aligned64((size + 63) / 64 * 64);
    if (!p) return nrt_fail(m, NRT_ERR_OUT_OF_MEMORY, "out of memory reading %s (%zu bytes)", path, size);
    for (size_t done = 0; done < size;) {
        ssize_t got = read(fd, p + done, size - done);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            free(p);
            return nrt_fail(m, NRT_ERR_IO, "cannot read %s: %s", path, got < 0 ? strerror(errno) : "file shrank");
        }
        done += (size_t)got;
    }
    m->map = p;
    m->map_kind = MAP_COPY;
    return NRT_OK;
}

nrt_status nrt_model_load_file(nrt_model* m, const char* path) {
    ENTER(m);
    if (!path) LEAVE(m, nrt_fail(m, NRT_ERR_INVALID_ARGUMENT, "path is NULL"));
    if (m->map_kind != MAP_NONE) LEAVE(m, nrt_fail(m, NRT_ERR_STATE, "a model is already loaded in this handle"));
    /* O_NONBLOCK: opening a FIFO for reading would wait for a writer forever;
     * the regular-file check below comes after the open (no race with a
     * rename), and mmap / read of a regular file ignore the flag. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) LEAVE(m, nrt_fail(m, NRT_ERR_IO, "cannot open %s: %s", path, strerror(errno)));
    struct stat sb;
    nrt_status st = NRT_OK;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
        st = nrt_fail(m, NRT_ERR_IO, "%s is not a regular file", path);
    else if ((uint64_t)sb.st_size > m->opts.max_file_bytes || (uint64_t)sb.st_size > UINT32_MAX)
        st = nrt_fail(m, NRT_ERR_LIMIT, "%s is %lld bytes, over the %llu-byte limit", path, (long long)sb.st_size,
                      (unsigned long long)m->opts.max_file_bytes);
    else if (sb.st_size < 8)
        st = nrt_fail(m, NRT_ERR_INVALID_MODEL, "not a nanort model: %s is %lld bytes", path, (long long)sb.st_size);
    else if (m->opts.copy_model_file)
        st = read_file(m, fd, (size_t)sb.st_size, path);
    if (st != NRT_OK || m->opts.copy_model_file) {
        close(fd);
        if (st != NRT_OK) LEAVE(m, st);
    } else {
        void* p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            close(fd);
            LEAVE(m, nrt_fail(m, NRT_ERR_IO, "cannot map %s: %s", path, strerror(errno)));
        }
        m->map = p;
        m->map_kind = MAP_MMAP;
        m->map_fd = fd; /* kept to notice truncation (file_intact) */
    }
    m->map_size = (size_t)sb.st_size;
    LEAVE(m, finish_load(m));
}

/* A mapped file that shrank since load would fault (SIGBUS) where its
 * pages are gone: refuse to run on it. */
static nrt_status file_intact(nrt_model* m) {
    struct stat sb;
    if (m->map_kind != MAP_MMAP || (fstat(m->map_fd, &sb) == 0 && (uint64_t)sb.st_size >= m->map_size))
        return NRT_OK;
    return nrt_fail(m, NRT_ERR_IO, "the model file was truncated or replaced in place after load (it had %zu "
                    "bytes); load it again, or load with copy_model_file so the model does not depend on the file",
                    m->map_size);
}

nrt_status nrt_model_load_buffer(nrt_model* m, const void* data, size_t size, int copy) {
    ENTER(m);
    if (!data && size) LEAVE(m, nrt_fail(m, NRT_ERR_INVALID_ARGUMENT, "data is NULL"));
    if (m->map_kind != MAP_NONE) LEAVE(m, nrt_fail(m, NRT_ERR_STATE, "a model is already loaded in this handle"));
    if (size > m->opts.max_file_bytes || size > UINT32_MAX)
        LEAVE(m, nrt_fail(m, NRT_ERR_LIMIT, "model of %zu bytes is over the size limit", size));
    if (size < 8) LEAVE(m, nrt_fail(m, NRT_ERR_INVALID_MODEL, "not a nanort model: buffer is %zu bytes", size));
    if (copy || ((uintptr_t)data % 64) != 0) {
        /* Weights must be 64-byte aligned in memory for in-place use. */
        void* p = nrt_alloc_aligned64((size + 63) / 64 * 64);
        if (!p) LEAVE(m, nrt_fail(m, NRT_ERR_OUT_OF_MEMORY, "out of memory copying the model"));
        memcpy(p, data, size);
        m->map = p;
        m->map_kind = MAP_COPY;
    } else {
        m->map = (void*)data;
        m->map_kind = MAP_BORROWED;
    }
    m->map_size = size;
    LEAVE(m, finish_load(m));
}

nrt_status nrt_model_set_num_threads(nrt_model* m, int n) {
    ENTER(m);
    if (n < 1 || n > 256) LEAVE(m, nrt_fail(m, NRT_ERR_INVALID_ARGUMENT, "num_threads %d is not in 1..256", n));
    if (nrt_threadpool_size(m->pool) != n) {
        nrt_threadpool* p = nrt_threadpool_create(n);
        if (!p) LEAVE(m, nrt_fail(m, NRT_ERR_OUT_OF_MEMORY, "cannot start %d threads", n));
        nrt_threadpool_free(m->pool);
        m->pool = p;
        m->opts.num_threads = n;
        m->prepared = false; /* kernels may split work differently */
    }
    LEAVE(m, NRT_OK);
}

nrt_isa nrt_model_isa(const nrt_model* m) { return m ? m->isa : NRT_ISA_REF; }

int nrt_model_num_inputs(const nrt_model* m) { return m ? m->num_inputs : 0; }
int nrt_model_num_outputs(const nrt_model* m) { return m ? m->num_outputs : 0; }

static void fill_info(const nrt_tensor* t, nrt_tensor_info* info) {
    memset(info, 0, sizeof *info);
    info->name = t->name == t->index_label ? "" : t->name; /* (the file's names only) */
    info->dtype = t->dtype;
    info->rank = t->shape_known ? t->rank : t->decl_rank;
    for (int d = 0; d < NRT_MAX_RANK; d++) {
        info->declared_dims[d] = d < t->decl_rank ? t->decl_dims[d] : 0;
        info->dims[d] = d < info->rank ? (t->shape_known ? t->dims[d] : t->decl_dims[d]) : 0;
    }
    info->bytes = t->shape_known ? t->nbytes : 0;
    info->quant_count = t->quant.count;
    info->quant_scale = t->quant.scale;
    info->quant_zero_point = t->quant.zero_point;
    info->quant_axis = t->quant.axis;
    for (int d = 0; d < NRT_MAX_RANK; d++) {
        const char* name = NULL;
        if ((uint32_t)d < t->dim_names.len && d < t->decl_rank) nrt_fb_vec_string(&t->dim_names, (uint32_t)d, &name);
        info->dim_names[d] = name ? name : "";
    }
}

static nrt_status io_info(nrt_model* m, int index, nrt_tensor_info* info, bool input) {
    if (!m || !info) return NRT_ERR_INVALID_ARGUMENT;
    int n = input ? m->num_inputs : m->num_outputs;
    if (index < 0 || index >= n) {
        /* an info call needs no guard, but the message buffer does */
        if (!atomic_flag_test_and_set(&m->busy)) {
            nrt_fail(m, NRT_ERR_INVALID_ARGUMENT, "%s index %d is out of range (model has %d)",
                     input ? "input" : "output", index, n);
            atomic_flag_clear(&m->busy);
        }
        return NRT_ERR_INVALID_ARGUMENT;
    }
    fill_info(&m->tensors[(input ? m->inputs : m->outputs)[index]], info);
    return NRT_OK;
}

nrt_status nrt_model_input_info(nrt_model* m, int i, nrt_tensor_info* info) { return io_info(m, i, info, true); }
nrt_status nrt_model_output_info(nrt_model* m, int i, nrt_tensor_info* info) { return io_info(m, i, info, false); }

static int find_io(const nrt_model* m, const char* name, const int32_t* list, int n) {
    for (int i = 0; m && name && i < n; i++) {
        const char* tn = m->tensors[list[i]].name;
        if (tn && !strcmp(tn, name)) return i;
    }
    return -1;
}

int nrt_model_input_index(const nrt_model* m, const char* name) {
    return m ? find_io(m, name, m->inputs, m->num_inputs) : -1;
}
int nrt_model_output_index(const nrt_model* m, const char* name) {
    return m ? find_io(m, name, m->outputs, m->num_outputs) : -1;
}

nrt_status nrt_model_resize_input(nrt_model* m, int index, int rank, const int64_t* dims) {
    ENTER(m);
    if (!m->loaded) LEAVE(m, nrt_fail(m, NRT_ERR_STATE, "no model loaded"));
    if (index < 0 || index >= m->num_inputs)
        LEAVE(m, nrt_fail(m, NRT_ERR_INVALID_ARGUMENT, "input index %d is out of range (model has %d)", index,
                          m->num_inputs));
    nrt_tensor* t = &m->tensors[m->inputs[index]];
    if (rank != t->decl_rank || (rank > 0 && !dims))
        LEAVE(m, nrt_fail(m, NRT_ERR_SHAPE, "input %s has rank %d, got a shape of rank %d", t->name, t->decl_rank,
                          rank));
    for (int d = 0; d < rank; d++) {
        if (dims[d] < 0)
            LEAVE(m, nrt_fail(m, NRT_ERR_SHAPE, "input %s: dimension %d is %lld", t->name, d, (long long)dims[d]));
        if (t->decl_dims[d] >= 0 && dims[d] != t->decl_dims[d])
            LEAVE(m, nrt_fail(m, NRT_ERR_SHAPE, "input %s: dimension %d must be %lld (static in the model), got %lld",
                              t->name, d, (long long)t->decl_dims[d], (long long)dims[d]));
    }
    bool same = t->shape_known && t->rank == rank;
    for (int d = 0; same && d < rank; d++) same = t->dims[d] == dims[d];
    if (!same) {
        t->rank = rank;
        for (int d = 0; d < NRT_MAX_RANK; d++) t->dims[d] = d < rank ? dims[d] : 1;
        t->shape_known = true;
        m->prepared = false;
    }
    LEAVE(m, NRT_OK);
}

nrt_status nrt_model_prepare(nrt_model* m) {
    ENTER(m);
    if (!m->loaded) LEAVE(m, nrt_fail(m, NRT_ERR_STATE, "no model loaded"));
    nrt_status st = file_intact(m);
    if (st != NRT_OK) LEAVE(m, st);
    LEAVE(m, m->prepared ? NRT_OK : nrt_prepare(m));
}

void* nrt_model_input_data(nrt_model* m, int index) {
    if (!m || !m->prepared || index < 0 || index >= m->num_inputs) return NULL;
    return m->tensors[m->inputs[index]].data;
}

const void* nrt_model_output_data(nrt_model* m, int index) {
    if (!m || !m->prepared || index < 0 || index >= m->num_outputs) return NULL;
    const nrt_tensor* t = &m->tensors[m->outputs[index]];
    return t->bound ? t->bound : t->data;
}

static nrt_status set_input(nrt_model* m, int index, const nrt_dtype* dtype, const void* data, size_t bytes,
                            int flags) {
    if (!m->prepared) return nrt_fail(m, NRT_ERR_STATE, "prepare the model before setting inputs");
    if (index < 0 || index >= m->num_inputs)
        return nrt_fail(m, NRT_ERR_INVALID_ARGUMENT, "input index %d is out of range (model has %d)", index,
                        m->num_inputs);
    nrt_tensor* t = &m->tensors[m->inputs[index]];
    if (dtype && *dtype != t->dtype)
        return nrt_fail(m, NRT_ERR_DTYPE, "input %s is %s, got %s data", t->name, nrt_dtype_name(t->dtype),
                        nrt_dtype_name(*dtype));
    if (t->bound) /* (its memory is the caller's, bound read-only) */
        return nrt_fail(m, NRT_ERR_STATE, "input %s is bound (nrt_model_bind_input): write the bound memory, or "
                        "unbind it before setting the input", t->name);
    if (bytes != t->nbytes)
        return nrt_fail(m, NRT_ERR_SHAPE, "input %s takes %zu bytes, got %zu", t->name, t->nbytes, bytes);
    if (!bytes) return NRT_OK;
    if (!data) return nrt_fail(m, NRT_ERR_INVALID_ARGUMENT, "input data is NULL");
    if (!(flags & NRT_INPUT_CHECK_FINITE) || !nrt_dtype_table[t->dtype].is_float) {
        memmove(t->data, data, bytes);
        return NRT_OK;
    }
    size_t count = (size_t)nrt_numel(t), esize = nrt_dtype_size(t->dtype);
    if (nrt_copy_finite(t->data, data, count, t->dtype)) return NRT_OK;
    size_t first = 0;
    for (const uint8_t* p = data; first < count && nrt_is_finite(p + first * esize, t->dtype); first++) {}
    return nrt_fail(m, NRT_ERR_INVALID_ARGUMENT, "input %s holds NaN or Inf (first at element %zu of %zu)", t->name,
                    first, count);
}

nrt_status nrt_model_set_input(nrt_model* m, int index, const void* data, size_t bytes) {
    ENTER(m);
    LEAVE(m, set_input(m, index, NULL, data, bytes, 0));
}

nrt_status nrt_model_set_input_checked(nrt_model* m, int index, nrt_dtype dtype, const void* data, size_t bytes,
                                       int flags) {
    ENTER(m);
    LEAVE(m, set_input(m, index, &dtype, data, bytes, flags));
}

nrt_status nrt_model_invoke(nrt_model* m) {
    ENTER(m);
    atomic_store(&m->cancel_requested, false);
    if (!m->loaded) LEAVE(m, nrt_fail(m, NRT_ERR_STATE, "no model loaded"));
    nrt_status st = file_intact(m);
    if (st == NRT_OK && !m->prepared) st = nrt_prepare(m);
    LEAVE(m, st == NRT_OK ? nrt_invoke(m) : st);
}

void nrt_model_cancel(nrt_model* m) {
    if (m) atomic_store(&m->cancel_requested, true);
}

size_t nrt_model_arena_bytes(const nrt_model* m) { return m ? m->arena_bytes : 0; }
size_t nrt_model_packed_weight_bytes(const nrt_model* m) { return m ? m->packed_weight_bytes : 0; }
size_t nrt_model_memory_bytes(const nrt_model* m) { return m ? m->mem.used : 0; }
int nrt_model_num_tensors(const nrt_model* m) { return m ? m->num_tensors : 0; }

nrt_status nrt_model_tensor_info(nrt_model* m, int index, nrt_tensor_info* info) {
    if (!m || !info) return NRT_ERR_INVALID_ARGUMENT;
    if (index < 0 || index >= m->num_tensors) {
        if (!atomic_flag_test_and_set(&m->busy)) { /* as in io_info */
            nrt_fail(m, NRT_ERR_INVALID_ARGUMENT, "tensor index %d is out of range (model has %d)", index,
                     m->num_tensors);
            atomic_flag_clear(&m->busy);
        }
        return NRT_ERR_INVALID_ARGUMENT;
    }
    fill_info(&m->tensors[index], info);
    return NRT_OK;
}

const void* nrt_model_tensor_data(nrt_model* m, int index) {
    if (!m || index < 0 || index >= m->num_tensors) return NULL;
    nrt_tensor* t = &m->tensors[index];
    if (t->kind == NRT_TENSOR_ACTIVATION && !m->prepared) return NULL;
    return t->data;
}

nrt_status nrt_model_set_profiling(nrt_model* m, int enable) {
    ENTER(m);
    m->profiling = enable != 0;
    for (int i = 0; i < m->num_nodes; i++) m->nodes[i].profile_calls = m->nodes[i].profile_ns = 0;
    LEAVE(m, NRT_OK);
}

int nrt_model_num_nodes(const nrt_model* m) { return m ? m->num_nodes : 0; }

nrt_status nrt_model_node_profile(const nrt_model* m, int index, nrt_node_profile* out) {
    if (!m || !out || index < 0 || index >= m->num_nodes) return NRT_ERR_INVALID_ARGUMENT;
    const nrt_node* n = &m->nodes[index];
    *out = (nrt_node_profile){n->def->name, n->name ? n->name : "", n->profile_calls, n->profile_ns};
    return NRT_OK;
}

uint32_t nrt_model_format_version(const nrt_model* m) { return m ? m->format_version : 0; }

int nrt_model_num_metadata(const nrt_model* m) { return m ? (int)m->metadata.len : 0; }

/* Entries were verified at load: the table and both strings are readable. */
static void metadata_entry(const nrt_model* m, uint32_t i, const char** key, const char** value) {
    nrt_fb_table t;
    *key = *value = NULL;
    if (nrt_fb_vec_table(&m->metadata, i, &t)) {
        nrt_fb_string(&t, NRT_FB_Metadata_key, key);
        nrt_fb_string(&t, NRT_FB_Metadata_value, value);
    }
    if (!*key) *key = "";
    if (!*value) *value = "";
}

nrt_status nrt_model_metadata(const nrt_model* m, int index, const char** key, const char** value) {
    if (!m || !key || !value || index < 0 || (uint32_t)index >= m->metadata.len) return NRT_ERR_INVALID_ARGUMENT;
    metadata_entry(m, (uint32_t)index, key, value);
    return NRT_OK;
}

const char* nrt_model_metadata_value(const nrt_model* m, const char* key) {
    for (uint32_t i = 0; m && key && i < m->metadata.len; i++) {
        const char *k, *v;
        metadata_entry(m, i, &k, &v);
        if (!strcmp(k, key)) return v;
    }
    return NULL;
}

static nrt_status bind_io(nrt_model* m, int index, void* data, size_t bytes, bool input) {
    ENTER(m);
    const char* what = input ? "input" : "output";
    if (!m->loaded) LEAVE(m, nrt_fail(m, NRT_ERR_STATE, "no model loaded"));
    int n = input ? m->num_inputs : m->num_outputs;
    if (index < 0 || index >= n)
        LEAVE(m, nrt_fail(m, NRT_ERR_INVALID_ARGUMENT, "%s index %d is out of range (model has %d)", what, index, n));
    nrt_tensor* t = &m->tensors[(input ? m->inputs : m->outputs)[index]];
    if (!input && t->is_input)
        LEAVE(m, nrt_fail(m, NRT_ERR_INVALID_ARGUMENT, "output %s is the input %s itself: bind it as an input",
                          t->name, t->name));
    size_t align = nrt_dtype_size(t->dtype);
    if (data && align > 1 && (uintptr_t)data % align != 0)
        LEAVE(m, nrt_fail(m, NRT_ERR_INVALID_ARGUMENT, "memory bound to %s %s must be aligned to %zu bytes (its %s "
                          "elements)", what, t->name, align, nrt_dtype_name(t->dtype)));
    if (data && t->dynamic) /* known since the last prepare; check_bindings catches the rest */
        LEAVE(m, nrt_fail(m, NRT_ERR_SHAPE, "output %s is sized during invoke (its shape depends on values): it "
                          "cannot be bound; read nrt_model_output_data after invoke", t->name));
    if (data && m->prepared && bytes != t->nbytes)
        LEAVE(m, nrt_fail(m, NRT_ERR_SHAPE, "%s %s takes %zu bytes at its current shape, got %zu", what, t->name,
                          t->nbytes, bytes));
    bool was_bound = t->bound != NULL;
    t->bound = data;
    t->bound_bytes = data ? bytes : 0;
    if (was_bound != (data != NULL)) m->prepared = false; /* the arena plan changes */
    else if (data && m->prepared && t->kind == NRT_TENSOR_ACTIVATION) t->data = data;
    LEAVE(m, NRT_OK);
}

nrt_status nrt_model_bind_input(nrt_model* m, int index, const void* data, size_t bytes) {
    /* invoke only reads inputs: the pointer is stored without const but never written through */
    return bind_io(m, index, (void*)(uintptr_t)data, bytes, true);
}

nrt_status nrt_model_bind_output(nrt_model* m, int index, void* data, size_t bytes) {
    return bind_io(m, index, data, bytes, false);
}
