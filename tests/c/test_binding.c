/* Zero-copy inputs and outputs (nrt_model_bind_input / _output) and what a
 * file says about itself (format version, metadata, dimension names), on
 * real model files (argv, made by the converter): a bound run gives the
 * unbound run's bytes, reads the caller's input without writing it, writes
 * the caller's output buffer, and refuses wrong sizes, misaligned memory
 * and stale bindings with a message. Prints one line per failed check;
 * exit status = failures. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nanort.h"

static int failures = 0;
#define CHECK(cond, ...)                                              \
    do {                                                              \
        if (!(cond)) {                                                \
            failures++;                                               \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);               \
            printf(__VA_ARGS__);                                      \
            printf("\n");                                             \
        }                                                             \
    } while (0)

#define MAX_IO 16

/* Deterministic inputs: small values valid for every dtype (finite floats,
 * in-range indices and nonzero divisors 1..4, bools 0/1; float16 stays 0). */
static void fill_input(const nrt_tensor_info* info, void* dst, unsigned seed) {
    size_t elem = nrt_dtype_size(info->dtype), n = elem ? info->bytes / elem : 0;
    memset(dst, 0, info->bytes);
    for (size_t i = 0; i < n; i++) {
        unsigned v = (unsigned)((i * 13 + seed) % 4 + 1);
        switch (info->dtype) {
        case NRT_FLOAT32: ((float*)dst)[i] = (float)((i * 7 + seed) % 23) * 0.125f - 1.25f; break;
        case NRT_FLOAT64: ((double*)dst)[i] = (double)((i * 7 + seed) % 23) * 0.125 - 1.25; break;
        case NRT_INT8: case NRT_UINT8: ((unsigned char*)dst)[i] = (unsigned char)v; break;
        case NRT_BOOL: ((unsigned char*)dst)[i] = (unsigned char)(v % 2); break;
        case NRT_INT16: ((int16_t*)dst)[i] = (int16_t)v; break;
        case NRT_INT32: ((int32_t*)dst)[i] = (int32_t)v; break;
        case NRT_INT64: ((int64_t*)dst)[i] = (int64_t)v; break;
        default: break;
        }
    }
}

typedef struct run_result {
    int num_outputs;
    size_t bytes[MAX_IO];
    unsigned char* data[MAX_IO];
} run_result;

static void free_result(run_result* r) {
    for (int i = 0; i < r->num_outputs; i++) free(r->data[i]);
}

static nrt_model* load(const char* path) {
    nrt_model* m = NULL;
    if (nrt_model_create(NULL, &m) != NRT_OK || nrt_model_load_file(m, path) != NRT_OK) {
        CHECK(0, "load %s: %s", path, m ? nrt_model_error(m) : "no handle");
        nrt_model_free(m);
        return NULL;
    }
    /* dynamic dimensions get 2 */
    for (int i = 0; i < nrt_model_num_inputs(m); i++) {
        nrt_tensor_info info;
        nrt_model_input_info(m, i, &info);
        int64_t dims[NRT_MAX_RANK];
        for (int d = 0; d < info.rank; d++) dims[d] = info.declared_dims[d] < 0 ? 2 : info.declared_dims[d];
        CHECK(nrt_model_resize_input(m, i, info.rank, dims) == NRT_OK, "resize: %s", nrt_model_error(m));
    }
    CHECK(nrt_model_prepare(m) == NRT_OK, "prepare %s: %s", path, nrt_model_error(m));
    return m;
}

/* The reference: inputs copied into the runtime's memory, outputs read from it. */
static run_result run_unbound(nrt_model* m) {
    run_result r = {nrt_model_num_outputs(m), {0}, {0}};
    for (int i = 0; i < nrt_model_num_inputs(m); i++) {
        nrt_tensor_info info;
        nrt_model_input_info(m, i, &info);
        fill_input(&info, nrt_model_input_data(m, i), (unsigned)i);
    }
    CHECK(nrt_model_invoke(m) == NRT_OK, "unbound invoke: %s", nrt_model_error(m));
    for (int i = 0; i < r.num_outputs; i++) {
        nrt_tensor_info info;
        nrt_model_output_info(m, i, &info);
        r.bytes[i] = info.bytes;
        r.data[i] = malloc(info.bytes ? info.bytes : 1);
        if (info.bytes) memcpy(r.data[i], nrt_model_output_data(m, i), info.bytes);
    }
    return r;
}

static void test_bound_run(const char* path) {
    nrt_model* m = load(path);
    if (!m) return;
    int ni = nrt_model_num_inputs(m), no = nrt_model_num_outputs(m);
    if (ni > MAX_IO || no > MAX_IO) {
        nrt_model_free(m);
        return;
    }
    run_result want = run_unbound(m);

    /* caller memory 8 bytes into a malloc block: aligned for every element type, not to 64 bytes */
    unsigned char *in[MAX_IO], *in_copy[MAX_IO], *out[MAX_IO];
    nrt_tensor_info info;
    for (int i = 0; i < ni; i++) {
        nrt_model_input_info(m, i, &info);
        in[i] = malloc(info.bytes + 64);
        fill_input(&info, in[i] + 8, (unsigned)i);
        in_copy[i] = malloc(info.bytes + 1);
        memcpy(in_copy[i], in[i] + 8, info.bytes);
        CHECK(nrt_model_bind_input(m, i, in[i] + 8, info.bytes) == NRT_OK, "bind input %d: %s", i,
              nrt_model_error(m));
    }
    for (int i = 0; i < no; i++) {
        out[i] = malloc(want.bytes[i] + 64);
        memset(out[i], 0xA5, want.bytes[i] + 64);
        nrt_status st = nrt_model_bind_output(m, i, out[i] + 8, want.bytes[i]);
        if (st == NRT_ERR_INVALID_ARGUMENT && strstr(nrt_model_error(m), "bind it as an input")) continue;
        /* an output sized during invoke cannot be bound: it stays the runtime's */
        if (st == NRT_ERR_SHAPE && strstr(nrt_model_error(m), "sized during invoke")) continue;
        CHECK(st == NRT_OK, "bind output %d: %s", i, nrt_model_error(m));
    }
    for (int run = 0; run < 2; run++) {
        CHECK(nrt_model_invoke(m) == NRT_OK, "bound invoke: %s", nrt_model_error(m));
        for (int i = 0; i < no; i++) {
            CHECK(nrt_model_output_data(m, i) != NULL, "output %d data", i);
            CHECK(!memcmp(nrt_model_output_data(m, i), want.data[i], want.bytes[i]),
                  "%s: bound output %d differs from the unbound run (run %d)", path, i, run);
        }
        for (int i = 0; i < ni; i++) {
            nrt_model_input_info(m, i, &info);
            CHECK(!memcmp(in[i] + 8, in_copy[i], info.bytes), "%s: invoke wrote into bound input %d", path, i);
            CHECK(nrt_model_input_data(m, i) == in[i] + 8, "input_data returns the bound memory");
        }
    }
    for (int i = 0; i < no; i++) {
        nrt_tensor_info oi;
        nrt_model_output_info(m, i, &oi);
        if (nrt_model_output_data(m, i) != out[i] + 8) continue; /* the output is an input */
        CHECK(!memcmp(out[i] + 8, want.data[i], want.bytes[i]), "%s: output %d not in the caller's buffer", path, i);
        CHECK(out[i][7] == 0xA5 && out[i][8 + want.bytes[i]] == 0xA5, "%s: output %d wrote outside its buffer", path,
              i);
    }
    /* rebinding another pointer of the same size: used by the next invoke */
    if (ni > 0) {
        nrt_model_input_info(m, 0, &info);
        unsigned char* other = malloc(info.bytes + 64);
        memcpy(other, in[0] + 8, info.bytes);
        memset(in[0] + 8, 0, info.bytes); /* the old binding must not be read any more */
        CHECK(nrt_model_bind_input(m, 0, other, info.bytes) == NRT_OK, "rebind: %s", nrt_model_error(m));
        CHECK(nrt_model_invoke(m) == NRT_OK, "invoke after rebind: %s", nrt_model_error(m));
        for (int i = 0; i < no; i++)
            CHECK(!memcmp(nrt_model_output_data(m, i), want.data[i], want.bytes[i]),
                  "%s: output %d after rebinding differs", path, i);
        memcpy(in[0] + 8, other, info.bytes);
        CHECK(nrt_model_bind_input(m, 0, in[0] + 8, info.bytes) == NRT_OK, "rebind back");
        free(other);
        /* wrong size and misalignment are refused */
        CHECK(nrt_model_bind_input(m, 0, in[0] + 8, info.bytes + 1) == NRT_ERR_SHAPE, "bind with the wrong size");
        CHECK(strstr(nrt_model_error(m), "bytes at its current shape") != NULL, "size message: %s",
              nrt_model_error(m));
        size_t elem = nrt_dtype_size(info.dtype);
        if (elem > 1)
            CHECK(nrt_model_bind_input(m, 0, in[0] + 9, info.bytes) == NRT_ERR_INVALID_ARGUMENT &&
                  strstr(nrt_model_error(m), "aligned"), "misaligned binding: %s", nrt_model_error(m));
        /* unbinding: the runtime's own memory again */
        CHECK(nrt_model_bind_input(m, 0, NULL, 0) == NRT_OK, "unbind");
        CHECK(nrt_model_prepare(m) == NRT_OK, "prepare after unbind: %s", nrt_model_error(m));
        CHECK(nrt_model_input_data(m, 0) != in[0] + 8, "unbound input uses runtime memory");
        fill_input(&info, nrt_model_input_data(m, 0), 0);
        CHECK(nrt_model_invoke(m) == NRT_OK, "invoke after unbind: %s", nrt_model_error(m));
        for (int i = 0; i < no; i++)
            CHECK(!memcmp(nrt_model_output_data(m, i), want.data[i], want.bytes[i]),
                  "%s: output %d after unbinding differs", path, i);
        /* a resize that changes the size invalidates the binding until bound again */
        int64_t dims[NRT_MAX_RANK];
        int dynamic = -1;
        for (int d = 0; d < info.rank; d++) {
            dims[d] = info.dims[d];
            if (info.declared_dims[d] < 0 && dynamic < 0) dynamic = d;
        }
        if (dynamic >= 0 && ni == 1) { /* (one input: the new size cannot clash with another's) */
            CHECK(nrt_model_bind_input(m, 0, in[0] + 8, info.bytes) == NRT_OK, "bind again");
            dims[dynamic] += 1;
            CHECK(nrt_model_resize_input(m, 0, info.rank, dims) == NRT_OK, "resize: %s", nrt_model_error(m));
            nrt_status st = nrt_model_invoke(m);
            CHECK(st == NRT_ERR_SHAPE && strstr(nrt_model_error(m), "bind it again"),
                  "stale binding after resize: %s / %s", nrt_status_name(st), nrt_model_error(m));
        }
    }
    CHECK(nrt_model_bind_input(m, ni, NULL, 0) == NRT_ERR_INVALID_ARGUMENT, "bind input out of range");
    CHECK(nrt_model_bind_output(m, -1, NULL, 0) == NRT_ERR_INVALID_ARGUMENT, "bind output out of range");
    nrt_model_free(m);
    for (int i = 0; i < ni; i++) {
        free(in[i]);
        free(in_copy[i]);
    }
    for (int i = 0; i < no; i++) free(out[i]);
    free_result(&want);
}

static void test_description(const char* path) {
    nrt_model* m = NULL;
    CHECK(nrt_model_format_version(NULL) == 0 && nrt_model_num_metadata(NULL) == 0, "NULL model");
    if (nrt_model_create(NULL, &m) != NRT_OK) return;
    CHECK(nrt_model_format_version(m) == 0, "no version before load");
    if (nrt_model_load_file(m, path) != NRT_OK) {
        nrt_model_free(m);
        return;
    }
    uint32_t version = nrt_model_format_version(m);
    CHECK(version >= 1 && version <= NRT_FORMAT_VERSION, "format version %u", version);
    int n = nrt_model_num_metadata(m);
    const char *key, *value;
    for (int i = 0; i < n; i++) {
        CHECK(nrt_model_metadata(m, i, &key, &value) == NRT_OK && key && value, "metadata %d", i);
        const char* found = nrt_model_metadata_value(m, key);
        CHECK(found && !strcmp(found, value), "lookup of metadata key %s", key);
    }
    CHECK(nrt_model_metadata(m, n, &key, &value) == NRT_ERR_INVALID_ARGUMENT, "metadata index out of range");
    CHECK(nrt_model_metadata(m, 0, NULL, &value) == NRT_ERR_INVALID_ARGUMENT, "metadata with NULL key");
    CHECK(nrt_model_metadata_value(m, "no such key in any model") == NULL, "missing key");
    CHECK(nrt_model_metadata_value(m, NULL) == NULL, "NULL key");
    nrt_tensor_info info;
    for (int i = 0; i < nrt_model_num_inputs(m); i++) {
        nrt_model_input_info(m, i, &info);
        for (int d = 0; d < NRT_MAX_RANK; d++) {
            CHECK(info.dim_names[d] != NULL, "dim name %d is NULL", d);
            if (d < info.rank && info.declared_dims[d] >= 0 && info.dim_names[d])
                CHECK(info.dim_names[d][0] == 0, "static dimension %d has a name (%s)", d, info.dim_names[d]);
        }
    }
    nrt_model_free(m);
}

/* argv: model files; "--describe" prints each one's version, metadata keys and input dimension names. */
int main(int argc, char** argv) {
    int describe = argc > 1 && !strcmp(argv[1], "--describe");
    for (int i = 1 + describe; i < argc; i++) {
        test_description(argv[i]);
        test_bound_run(argv[i]);
        if (!describe) continue;
        nrt_model* m = NULL;
        if (nrt_model_create(NULL, &m) == NRT_OK && nrt_model_load_file(m, argv[i]) == NRT_OK) {
            printf("version %u\n", nrt_model_format_version(m));
            for (int k = 0; k < nrt_model_num_metadata(m); k++) {
                const char *key, *value;
                nrt_model_metadata(m, k, &key, &value);
                printf("metadata %s: %zu bytes\n", key, strlen(value));
            }
            nrt_tensor_info info;
            nrt_model_input_info(m, 0, &info);
            for (int d = 0; d < info.rank; d++) printf("input dim %d: %s\n", d, info.dim_names[d]);
        }
        nrt_model_free(m);
    }
    printf("%s: %d failure(s)\n", argv[0], failures);
    return failures ? 1 : 0;
}
