/* nanort-run: load a .nrt model, feed it random or .npy inputs, and print
 * the outputs' summary, the latency over N runs and a per-operator profile.
 * The native counterpart of `nanort bench` for devices without Python
 * (built by CMake for the host, and statically for aarch64 / Android).
 *
 *   nanort-run model.nrt [--input NAME=file.npy] [--shape NAME=1,3,640,640]
 *              [--runs N] [--warmup N] [--threads N] [--isa LEVEL]
 *              [--seed S] [--profile] [--output-dir DIR]
 *
 * Random inputs come from a fixed generator (the same bytes on every
 * machine for a seed), so two builds' outputs can be compared byte for
 * byte: each output's FNV-1a checksum is printed and --output-dir writes
 * it as .npy. Exit status: 0 on success, 1 on a runtime error, 2 on bad
 * arguments or files. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "nanort.h"

#define MAX_INPUTS 64

typedef struct input_spec {
    const char* name;
    const char* npy_path; /* NULL: random */
    int rank;             /* -1: no --shape */
    int64_t dims[NRT_MAX_RANK];
} input_spec;

typedef struct options {
    const char* model;
    const char* output_dir;
    input_spec inputs[MAX_INPUTS];
    int num_specs;
    int runs, warmup, threads;
    nrt_isa isa;
    uint64_t seed;
    int profile;
} options;

/* A loaded .npy array. */
typedef struct npy_array {
    nrt_dtype dtype;
    int rank;
    int64_t dims[NRT_MAX_RANK];
    void* data;
    size_t bytes;
} npy_array;

static int usage_error(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("nanort-run: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n", stderr);
    va_end(ap);
    return 2;
}

/* The library's kernel levels, as " ref, avx2, ..., auto". */
static void print_levels(FILE* f) {
    for (int k = 0; k < nrt_isa_count(); k++) fprintf(f, " %s,", nrt_isa_name((nrt_isa)k));
    fputs(" auto", f);
}

static void usage(FILE* f) {
    fprintf(f,
            "usage: nanort-run MODEL.nrt [options]\n"
            "  --input NAME=FILE.npy   feed this input from a .npy file (others: random)\n"
            "  --shape NAME=D1,D2,...  shape of a random input with dynamic dimensions\n"
            "  --runs N                timed runs (default 10)\n"
            "  --warmup N              untimed runs first (default 2)\n"
            "  --threads N             worker threads (default 1)\n"
            "  --isa LEVEL             a kernel level (default auto: the CPU's best):");
    print_levels(f);
    fprintf(f,
            "\n"
            "  --seed S                random-input seed (default 1)\n"
            "  --profile               per-operator time over the timed runs\n"
            "  --output-dir DIR        write each output as DIR/NAME.npy\n");
}

/* ---- numbers --------------------------------------------------------- */

static int parse_int(const char* s, long lo, long hi, long* out) {
    char* end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

static int parse_dims(const char* s, int64_t* dims, int* rank) {
    *rank = 0;
    while (*s) {
        char* end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || end == s || v < 0 || *rank == NRT_MAX_RANK) return 0;
        dims[(*rank)++] = v;
        if (*end == ',') end++;
        else if (*end) return 0;
        s = end;
    }
    return 1;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* splitmix64: the same sequence on every machine for a seed. */
static uint64_t next_random(uint64_t* state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t fnv1a64(const void* data, size_t n) {
    const unsigned char* p = data;
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001B3ull;
    return h;
}

/* ---- .npy (format 1.0-3.0, little-endian, C order) ------------------- */

static const struct {
    const char* descr;
    nrt_dtype dtype;
} npy_types[] = {
    {"<f4", NRT_FLOAT32}, {"<f2", NRT_FLOAT16}, {"<f8", NRT_FLOAT64}, {"|i1", NRT_INT8},  {"|u1", NRT_UINT8},
    {"<i2", NRT_INT16},   {"<i4", NRT_INT32},   {"<i8", NRT_INT64},   {"|b1", NRT_BOOL},
};

static const char* npy_descr(nrt_dtype t) {
    for (size_t i = 0; i < sizeof npy_types / sizeof *npy_types; i++)
        if (npy_types[i].dtype == t) return npy_types[i].descr;
    return NULL;
}

/* Value of `key` in the header dict: the text after "'key':" */
static const char* npy_field(const char* header, const char* key) {
    char quoted[32];
    snprintf(quoted, sizeof quoted, "'%s':", key);
    const char* p = strstr(header, quoted);
    if (!p) return NULL;
    p += strlen(quoted);
    while (*p == ' ') p++;
    return p;
}

static int npy_parse_header(const char* header, npy_array* a, const char** why) {
    const char* descr = npy_field(header, "descr");
    const char* order = npy_field(header, "fortran_order");
    const char* shape = npy_field(header, "shape");
    if (!descr || !order || !shape || *descr != '\'' || *shape != '(') return *why = "malformed header", 0;
    int known = 0;
    for (size_t i = 0; i < sizeof npy_types / sizeof *npy_types; i++) {
        size_t n = strlen(npy_types[i].descr);
        if (!strncmp(descr + 1, npy_types[i].descr, n) && descr[1 + n] == '\'') {
            a->dtype = npy_types[i].dtype;
            known = 1;
        }
    }
    if (!known) return *why = "unsupported dtype (little-endian float16/32/64, int8/16/32/64, uint8, bool)", 0;
    if (strncmp(order, "False", 5) != 0) return *why = "Fortran-ordered arrays are not supported", 0;
    a->rank = 0;
    const char* p = shape + 1;
    while (*p && *p != ')') {
        char* end;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 0 || a->rank == NRT_MAX_RANK) return *why = "malformed or too long shape", 0;
        a->dims[a->rank++] = v;
        p = end;
        while (*p == ',' || *p == ' ') p++;
    }
    return 1;
}

static int npy_read(const char* path, npy_array* a) {
    FILE* f = fopen(path, "rb");
    if (!f) return usage_error("cannot open %s: %s", path, strerror(errno));
    unsigned char magic[10];
    const char* why = NULL;
    char* header = NULL;
    memset(a, 0, sizeof *a);
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, "\x93NUMPY", 6) != 0) why = "not a .npy file";
    size_t header_len = 0;
    if (!why) {
        int wide = magic[6] >= 2; /* versions 2 and 3: 4-byte header length */
        unsigned char len[4] = {0};
        if (fread(len, 1, wide ? 4 : 2, f) != (wide ? 4u : 2u)) why = "truncated header";
        header_len = (size_t)len[0] | (size_t)len[1] << 8 | (size_t)len[2] << 16 | (size_t)len[3] << 24;
        if (!why && header_len > 65536) why = "header too long";
    }
    if (!why && !(header = calloc(1, header_len + 1))) why = "out of memory";
    if (!why && fread(header, 1, header_len, f) != header_len) why = "truncated header";
    if (!why) npy_parse_header(header, a, &why);
    if (!why) {
        size_t count = 1;
        for (int d = 0; d < a->rank; d++) {
            if (a->dims[d] && count > SIZE_MAX / (size_t)a->dims[d]) why = "shape too large";
            count *= (size_t)a->dims[d];
        }
        a->bytes = count * nrt_dtype_size(a->dtype);
    }
    if (!why && !(a->data = malloc(a->bytes ? a->bytes : 1))) why = "out of memory";
    if (!why && fread(a->data, 1, a->bytes, f) != a->bytes) why = "fewer data bytes than its shape needs";
    free(header);
    fclose(f);
    if (why) {
        free(a->data);
        a->data = NULL;
        return usage_error("%s: %s", path, why);
    }
    return 0;
}

static int npy_write(const char* path, const nrt_tensor_info* info, const void* data) {
    char dict[256];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", npy_descr(info->dtype));
    for (int d = 0; d < info->rank; d++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%lld,%s", (long long)info->dims[d],
                      d + 1 < info->rank ? " " : "");
    n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
    size_t total = 10 + (size_t)n + 1, padded = (total + 63) / 64 * 64; /* header ends in '\n', 64-aligned */
    FILE* f = fopen(path, "wb");
    if (!f) return usage_error("cannot write %s: %s", path, strerror(errno));
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)((padded - 10) & 0xFF),
                             (unsigned char)((padded - 10) >> 8)};
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(dict, 1, (size_t)n, f) == (size_t)n;
    for (size_t i = total; ok && i < padded; i++) ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF && fwrite(data, 1, info->bytes, f) == info->bytes;
    if (fclose(f) != 0) ok = 0;
    if (!ok) return usage_error("cannot write %s", path);
    return 0;
}

/* ---- arguments --------------------------------------------------------- */

static input_spec* spec_for(options* o, const char* name, size_t name_len) {
    for (int i = 0; i < o->num_specs; i++)
        if (strlen(o->inputs[i].name) == name_len && !strncmp(o->inputs[i].name, name, name_len)) return &o->inputs[i];
    if (o->num_specs == MAX_INPUTS) return NULL;
    input_spec* s = &o->inputs[o->num_specs++];
    char* copy = malloc(name_len + 1);
    if (!copy) return NULL;
    memcpy(copy, name, name_len);
    copy[name_len] = 0;
    *s = (input_spec){copy, NULL, -1, {0}};
    return s;
}

static int parse_args(int argc, char** argv, options* o) {
    *o = (options){.runs = 10, .warmup = 2, .threads = 1, .isa = NRT_ISA_AUTO, .seed = 1};
    for (int i = 1; i < argc; i++) {
        const char* a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        }
        if (!strcmp(a, "--profile")) {
            o->profile = 1;
            continue;
        }
        if (a[0] != '-') {
            if (o->model) return usage_error("one model only (got %s and %s)", o->model, a);
            o->model = a;
            continue;
        }
        static const char* const valued[] = {"--runs", "--warmup", "--threads", "--seed", "--isa",
                                             "--output-dir", "--input", "--shape"};
        int known = 0;
        for (size_t k = 0; k < sizeof valued / sizeof *valued; k++) known |= !strcmp(a, valued[k]);
        if (!known) return usage_error("unknown option %s (see --help)", a);
        if (i + 1 >= argc) return usage_error("%s needs a value", a);
        const char* v = argv[++i];
        long n;
        if (!strcmp(a, "--runs") || !strcmp(a, "--warmup") || !strcmp(a, "--threads")) {
            int is_threads = !strcmp(a, "--threads");
            if (!parse_int(v, is_threads ? 1 : (a[2] == 'r' ? 1 : 0), is_threads ? 256 : 1000000, &n))
                return usage_error("%s %s: expected a number in range", a, v);
            *(a[2] == 'r' ? &o->runs : a[2] == 'w' ? &o->warmup : &o->threads) = (int)n;
        } else if (!strcmp(a, "--seed")) {
            if (!parse_int(v, 0, 2147483647L, &n)) return usage_error("--seed %s: expected a number", v);
            o->seed = (uint64_t)n;
        } else if (!strcmp(a, "--isa")) {
            o->isa = (nrt_isa)nrt_isa_from_name(v);
            if (o->isa == NRT_ISA_UNKNOWN) {
                fprintf(stderr, "nanort-run: --isa %s: one of", v);
                print_levels(stderr);
                fputs("\n", stderr);
                return 2;
            }
        } else if (!strcmp(a, "--output-dir")) {
            o->output_dir = v;
        } else { /* --input, --shape */
            const char* eq = strchr(v, '=');
            if (!eq || eq == v) return usage_error("%s %s: expected NAME=%s", a, v, a[2] == 'i' ? "FILE.npy" : "D1,D2");
            input_spec* s = spec_for(o, v, (size_t)(eq - v));
            if (!s) return usage_error("too many inputs");
            if (a[2] == 'i') s->npy_path = eq + 1;
            else if (!parse_dims(eq + 1, s->dims, &s->rank)) return usage_error("--shape %s: expected NAME=D1,D2,...", v);
        }
    }
    if (!o->model) {
        usage(stderr);
        return 2;
    }
    return 0;
}

/* ---- the run ------------------------------------------------------------ */

static int fail(nrt_model* m, const char* what) {
    fprintf(stderr, "nanort-run: %s: %s\n", what, m ? nrt_model_error(m) : "cannot create a model");
    return 1;
}

static void fill_random(const nrt_tensor_info* info, void* data, uint64_t* state) {
    size_t elem = nrt_dtype_size(info->dtype), n = elem ? info->bytes / elem : 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t r = next_random(state);
        switch (info->dtype) {
        case NRT_FLOAT32: ((float*)data)[i] = (float)(r >> 40) / 8388608.0f - 1.0f; break; /* [-1, 1) */
        case NRT_FLOAT64: ((double*)data)[i] = (double)(r >> 11) / 4503599627370496.0 - 1.0; break;
        case NRT_INT8: case NRT_UINT8: ((uint8_t*)data)[i] = (uint8_t)r; break;
        case NRT_BOOL: ((uint8_t*)data)[i] = (uint8_t)(r & 1); break;
        default: memset((uint8_t*)data + i * elem, 0, elem); break; /* indices, counts, float16: zeros */
        }
    }
}

static void print_shape(const nrt_tensor_info* info) {
    printf("[");
    for (int d = 0; d < info->rank; d++) printf("%s%lld", d ? "," : "", (long long)info->dims[d]);
    printf("]");
}

/* Shapes and inputs: .npy files give both; --shape or declared dims give random ones. */
static int set_inputs(nrt_model* m, const options* o, npy_array* arrays) {
    for (int s = 0; s < o->num_specs; s++)
        if (nrt_model_input_index(m, o->inputs[s].name) < 0)
            return usage_error("the model has no input %s", o->inputs[s].name);
    uint64_t state = o->seed;
    int n = nrt_model_num_inputs(m);
    for (int i = 0; i < n; i++) {
        nrt_tensor_info info;
        nrt_model_input_info(m, i, &info);
        const input_spec* spec = NULL;
        for (int s = 0; s < o->num_specs; s++)
            if (!strcmp(o->inputs[s].name, info.name)) spec = &o->inputs[s];
        if (spec && spec->npy_path) {
            if (npy_read(spec->npy_path, &arrays[i])) return 2;
            if (arrays[i].dtype != info.dtype)
                return usage_error("%s holds %s, input %s takes %s", spec->npy_path, nrt_dtype_name(arrays[i].dtype),
                                   info.name, nrt_dtype_name(info.dtype));
            if (nrt_model_resize_input(m, i, arrays[i].rank, arrays[i].dims) != NRT_OK) return fail(m, spec->npy_path);
            continue;
        }
        if (spec && spec->rank >= 0) {
            if (nrt_model_resize_input(m, i, spec->rank, spec->dims) != NRT_OK) return fail(m, "--shape");
            continue;
        }
        for (int d = 0; d < info.rank; d++)
            if (info.declared_dims[d] < 0)
                return usage_error("input %s has dynamic dimension %d%s%s: give --shape %s=... or --input %s=FILE.npy",
                                   info.name, d, info.dim_names[d][0] ? " " : "", info.dim_names[d], info.name,
                                   info.name);
    }
    if (nrt_model_prepare(m) != NRT_OK) return fail(m, "prepare");
    for (int i = 0; i < n; i++) {
        nrt_tensor_info info;
        nrt_model_input_info(m, i, &info);
        printf("input  %-16s %-8s ", info.name, nrt_dtype_name(info.dtype));
        print_shape(&info);
        if (arrays[i].data) {
            if (nrt_model_set_input(m, i, arrays[i].data, arrays[i].bytes) != NRT_OK) return fail(m, "input");
            printf("  from .npy\n");
        } else {
            fill_random(&info, nrt_model_input_data(m, i), &state);
            printf("  random (seed %llu)\n", (unsigned long long)o->seed);
        }
    }
    return 0;
}

static int by_double(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

/* Element i as a double (summary statistics). */
static double element(const void* data, nrt_dtype t, size_t i) {
    switch (t) {
    case NRT_FLOAT32: return ((const float*)data)[i];
    case NRT_FLOAT64: return ((const double*)data)[i];
    case NRT_INT8: return ((const int8_t*)data)[i];
    case NRT_UINT8: case NRT_BOOL: return ((const uint8_t*)data)[i];
    case NRT_INT16: return ((const int16_t*)data)[i];
    case NRT_INT32: return ((const int32_t*)data)[i];
    case NRT_INT64: return (double)((const int64_t*)data)[i];
    default: return 0;
    }
}

static int report_outputs(nrt_model* m, const options* o) {
    for (int i = 0; i < nrt_model_num_outputs(m); i++) {
        nrt_tensor_info info;
        nrt_model_output_info(m, i, &info);
        const void* data = nrt_model_output_data(m, i);
        size_t elem = nrt_dtype_size(info.dtype), n = elem && info.dtype != NRT_FLOAT16 ? info.bytes / elem : 0;
        double lo = INFINITY, hi = -INFINITY, sum = 0;
        for (size_t k = 0; k < n; k++) {
            double v = element(data, info.dtype, k);
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
            sum += v;
        }
        printf("output %-16s %-8s ", info.name, nrt_dtype_name(info.dtype));
        print_shape(&info);
        if (n) printf("  min %.6g max %.6g mean %.6g", lo, hi, sum / (double)n);
        printf("  fnv1a64 %016llx\n", (unsigned long long)fnv1a64(data, info.bytes));
        if (o->output_dir) {
            char path[4096], safe[256];
            size_t k = 0;
            for (const char* c = info.name; *c && k + 1 < sizeof safe; c++)
                safe[k++] = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                            *c == '.' || *c == '-' ? *c : '_';
            safe[k] = 0;
            snprintf(path, sizeof path, "%s/%s.npy", o->output_dir, safe);
            if (!npy_descr(info.dtype)) continue;
            if (npy_write(path, &info, data)) return 2;
        }
    }
    return 0;
}

typedef struct op_total {
    const char* op;
    uint64_t ns;
    int nodes;
} op_total;

static int by_time(const void* a, const void* b) {
    const op_total *x = a, *y = b;
    return (x->ns < y->ns) - (x->ns > y->ns);
}

static void report_profile(nrt_model* m, int runs) {
    int n = nrt_model_num_nodes(m), count = 0;
    op_total* totals = calloc((size_t)(n ? n : 1), sizeof *totals);
    if (!totals) return;
    uint64_t all = 0;
    for (int i = 0; i < n; i++) {
        nrt_node_profile p;
        if (nrt_model_node_profile(m, i, &p) != NRT_OK) continue;
        int k = 0;
        while (k < count && strcmp(totals[k].op, p.op_type)) k++;
        if (k == count) totals[count++] = (op_total){p.op_type, 0, 0};
        totals[k].ns += p.total_ns;
        totals[k].nodes++;
        all += p.total_ns;
    }
    qsort(totals, (size_t)count, sizeof *totals, by_time);
    printf("per-operator profile (ms per run, %d runs):\n", runs);
    for (int k = 0; k < count; k++)
        printf("  %-24s %4d node(s) %10.3f ms %6.1f%%\n", totals[k].op, totals[k].nodes,
               (double)totals[k].ns / 1e6 / runs, all ? 100.0 * (double)totals[k].ns / (double)all : 0.0);
    free(totals);
}

static int run(const options* o) {
    nrt_options opts;
    nrt_options_init(&opts);
    opts.num_threads = o->threads;
    opts.isa = o->isa;
    nrt_model* m = NULL;
    double t0 = now_ms();
    if (nrt_model_create(&opts, &m) != NRT_OK) {
        int rc = fail(m, "options");
        nrt_model_free(m);
        return rc;
    }
    int rc = 0;
    npy_array arrays[MAX_INPUTS];
    memset(arrays, 0, sizeof arrays);
    if (nrt_model_load_file(m, o->model) != NRT_OK) rc = fail(m, "load");
    double load_ms = now_ms() - t0;
    if (!rc && nrt_model_num_inputs(m) > MAX_INPUTS) rc = usage_error("more than %d inputs", MAX_INPUTS);
    if (!rc) {
        printf("model  %s (format %u), kernel level %s, %d thread(s), load %.2f ms\n", o->model,
               nrt_model_format_version(m), nrt_isa_name(nrt_model_isa(m)), o->threads, load_ms);
        rc = set_inputs(m, o, arrays);
    }
    /* Inputs are set once: invoke may reuse their memory, so keep a copy to restore before each run. */
    size_t total = 0;
    for (int i = 0; !rc && i < nrt_model_num_inputs(m); i++) {
        nrt_tensor_info info;
        nrt_model_input_info(m, i, &info);
        if (!arrays[i].data) {
            free(arrays[i].data);
            arrays[i].data = malloc(info.bytes ? info.bytes : 1);
            if (!arrays[i].data) rc = usage_error("out of memory");
            else memcpy(arrays[i].data, nrt_model_input_data(m, i), info.bytes);
            arrays[i].bytes = info.bytes;
        }
        total += info.bytes;
    }
    double* times = calloc((size_t)o->runs, sizeof *times);
    if (!rc && !times) rc = usage_error("out of memory");
    for (int r = 0; !rc && r < o->warmup + o->runs; r++) {
        if (r == o->warmup && o->profile) nrt_model_set_profiling(m, 1);
        for (int i = 0; !rc && i < nrt_model_num_inputs(m); i++)
            if (nrt_model_set_input(m, i, arrays[i].data, arrays[i].bytes) != NRT_OK) rc = fail(m, "input");
        double start = now_ms();
        if (!rc && nrt_model_invoke(m) != NRT_OK) rc = fail(m, "invoke");
        if (r >= o->warmup) times[r - o->warmup] = now_ms() - start;
    }
    if (!rc) {
        qsort(times, (size_t)o->runs, sizeof *times, by_double);
        double median = o->runs % 2 ? times[o->runs / 2] : (times[o->runs / 2 - 1] + times[o->runs / 2]) / 2;
        printf("latency  median %.3f ms  min %.3f ms  max %.3f ms  (%d runs after %d warm-up; arena %.2f MB, "
               "inputs %.2f MB)\n", median, times[0], times[o->runs - 1], o->runs, o->warmup,
               (double)nrt_model_arena_bytes(m) / 1e6, (double)total / 1e6);
        rc = report_outputs(m, o);
        if (o->profile) report_profile(m, o->runs);
    }
    free(times);
    for (int i = 0; i < MAX_INPUTS; i++) free(arrays[i].data);
    nrt_model_free(m);
    return rc;
}

int main(int argc, char** argv) {
    options o;
    int rc = parse_args(argc, argv, &o);
    if (rc == 0) {
        if (o.output_dir && mkdir(o.output_dir, 0777) != 0 && errno != EEXIST)
            rc = usage_error("cannot create %s: %s", o.output_dir, strerror(errno));
        else
            rc = run(&o);
    }
    for (int i = 0; i < o.num_specs; i++) free((char*)o.inputs[i].name);
    return rc;
}
