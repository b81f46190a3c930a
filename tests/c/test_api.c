/* The public C API on a real model file (argv[1], made by the converter) and
 * on misuse: every call returns a status, none crashes, messages name the
 * problem. Prints one line per failed check; exit status = failures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nanort.h"
#include "test_util.h"

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

static nrt_model* new_model(void) {
    nrt_model* m = NULL;
    nrt_status st = nrt_model_create(NULL, &m);
    CHECK(st == NRT_OK && m, "create: %s", nrt_status_name(st));
    return m;
}

static void test_misuse(void) {
    CHECK(nrt_model_create(NULL, NULL) == NRT_ERR_INVALID_ARGUMENT, "create(NULL out)");
    nrt_options bad;
    nrt_options_init(&bad);
    bad.num_threads = 0;
    nrt_model* m = NULL;
    CHECK(nrt_model_create(&bad, &m) == NRT_ERR_INVALID_ARGUMENT && !m, "create with 0 threads");
    CHECK(nrt_model_invoke(NULL) == NRT_ERR_INVALID_ARGUMENT, "invoke(NULL)");
    nrt_model_free(NULL);

    m = new_model();
    CHECK(nrt_model_invoke(m) == NRT_ERR_STATE, "invoke before load");
    CHECK(nrt_model_load_file(m, "/nonexistent/model.nrt") == NRT_ERR_IO, "missing file");
    CHECK(strstr(nrt_model_error(m), "/nonexistent/model.nrt") != NULL, "message names the file: %s",
          nrt_model_error(m));
    CHECK(nrt_model_load_file(m, "/") == NRT_ERR_IO, "directory");
    static const unsigned char tiny[8] = {0x18, 0, 0, 0, 'T', 'F', 'L', '3'};
    CHECK(nrt_model_load_buffer(m, tiny, sizeof tiny, 1) == NRT_ERR_INVALID_MODEL, "8-byte TFLite header");
    CHECK(nrt_model_load_buffer(m, tiny, 0, 1) == NRT_ERR_INVALID_MODEL, "empty buffer");
    CHECK(nrt_model_input_data(m, 0) == NULL, "input data without a model");
    nrt_model_free(m);
}

static void test_model(const char* path) {
    size_t size = 0;
    unsigned char* bytes = read_file(path, &size);
    CHECK(bytes != NULL, "cannot read %s", path);
    if (!bytes) return;

    nrt_model* m = new_model();
    nrt_status st = nrt_model_load_file(m, path);
    CHECK(st == NRT_OK, "load %s: %s", path, nrt_model_error(m));
    CHECK(nrt_model_load_file(m, path) == NRT_ERR_STATE, "second load into the same handle");
    CHECK(nrt_model_num_inputs(m) >= 1 && nrt_model_num_outputs(m) >= 1, "I/O counts");
    nrt_tensor_info info;
    CHECK(nrt_model_input_info(m, 99, &info) == NRT_ERR_INVALID_ARGUMENT, "input index out of range");
    CHECK(nrt_model_input_info(m, 0, &info) == NRT_OK, "input info");
    int64_t dims[NRT_MAX_RANK];
    for (int d = 0; d < info.rank; d++) dims[d] = info.declared_dims[d] < 0 ? 2 : info.declared_dims[d];
    CHECK(nrt_model_resize_input(m, 0, info.rank + 1, dims) == NRT_ERR_SHAPE, "resize with the wrong rank");
    CHECK(nrt_model_resize_input(m, 0, info.rank, dims) == NRT_OK, "resize: %s", nrt_model_error(m));
    CHECK(nrt_model_prepare(m) == NRT_OK, "prepare: %s", nrt_model_error(m));
    nrt_model_input_info(m, 0, &info);
    CHECK(nrt_model_set_input(m, 0, NULL, info.bytes + 1) == NRT_ERR_SHAPE, "set_input with the wrong size");
    float* in = nrt_model_input_data(m, 0);
    CHECK(in != NULL, "input data");
    if (in && info.dtype == NRT_FLOAT32)
        for (size_t i = 0; i < info.bytes / 4; i++) in[i] = (float)(i % 7) * 0.25f - 0.5f;
    for (int run = 0; run < 3; run++) CHECK(nrt_model_invoke(m) == NRT_OK, "invoke: %s", nrt_model_error(m));
    CHECK(nrt_model_output_data(m, 0) != NULL, "output data");
    CHECK(nrt_model_arena_bytes(m) > 0, "arena planned");
    nrt_model_free(m);

    /* in-place buffer (64-byte aligned) and copied buffer give the same model */
    unsigned char* aligned = aligned_alloc(64, (size + 63) / 64 * 64);
    memcpy(aligned, bytes, size);
    m = new_model();
    CHECK(nrt_model_load_buffer(m, aligned, size, 0) == NRT_OK, "load in place: %s", nrt_model_error(m));
    nrt_model_free(m);
    free(aligned);

    /* truncated copies must fail verification cleanly */
    for (size_t cut = 0; cut < size; cut += size / 64 + 1) {
        m = new_model();
        st = nrt_model_load_buffer(m, bytes, cut, 1);
        CHECK(st == NRT_ERR_INVALID_MODEL, "truncated to %zu bytes: status %s", cut, nrt_status_name(st));
        nrt_model_free(m);
    }
    free(bytes);
}

int main(int argc, char** argv) {
    test_misuse();
    for (int i = 1; i < argc; i++) test_model(argv[i]);
    printf("%s: %d failure(s)\n", argv[0], failures);
    return failures ? 1 : 0;
}
