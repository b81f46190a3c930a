/* Repeated load / resize / prepare / invoke / free cycles on the model files
 * given on the command line, with random inputs and random sizes for dynamic
 * dims: run under ASan + LSan (tests/test_sanitizers.py) it shows that no
 * cycle leaks or touches memory it should not, whatever the statuses.
 *
 *   test_cycles [-n CYCLES] [-s SEED] model.nrt...
 *
 * Prints a summary per model; exit status = failed checks. A failed call is
 * fine (random shapes may not fit a model) as long as it returns a known
 * status with a message; the models must run at least once in all. */
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

static uint64_t rng_state = 88172645463325252ull;
static uint32_t rnd(void) { /* xorshift64 */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

/* A status is a known code, and a failure leaves a message. */
static nrt_status checked(nrt_model* m, nrt_status st, const char* what) {
    CHECK((unsigned)st <= NRT_ERR_INTERNAL, "%s: unknown status %d", what, (int)st);
    CHECK(st != NRT_ERR_INTERNAL, "%s: internal error: %s", what, nrt_model_error(m));
    CHECK(st == NRT_OK || nrt_model_error(m)[0] != '\0', "%s failed (%s) without a message", what,
          nrt_status_name(st));
    return st;
}

static void fill_input(void* p, const nrt_tensor_info* info) {
    size_t n = info->bytes / (nrt_dtype_size(info->dtype) ? nrt_dtype_size(info->dtype) : 1);
    int mode = rnd() % 4; /* 0-2: plausible values, 3: random bytes */
    for (size_t i = 0; i < n; i++) {
        uint32_t r = rnd();
        switch (mode == 3 ? NRT_INT8 : info->dtype) {
        case NRT_FLOAT32: ((float*)p)[i] = (float)(r % 2001) / 500.0f - 2.0f; break;
        case NRT_FLOAT64: ((double*)p)[i] = (double)(r % 2001) / 500.0 - 2.0; break;
        case NRT_INT64: ((int64_t*)p)[i] = (int64_t)(r % 4); break;
        case NRT_INT32: ((int32_t*)p)[i] = (int32_t)(r % 4); break;
        case NRT_BOOL: ((uint8_t*)p)[i] = (uint8_t)(r & 1); break;
        default: break;
        }
    }
    if (mode == 3 || info->dtype == NRT_FLOAT16 || info->dtype == NRT_INT8 || info->dtype == NRT_UINT8 ||
        info->dtype == NRT_INT16)
        for (size_t i = 0; i < info->bytes; i++) ((uint8_t*)p)[i] = (uint8_t)rnd();
}

/* Dynamic dims get random sizes; a third of the rounds keep the previous. */
static void resize_inputs(nrt_model* m) {
    static const int64_t sizes[] = {1, 2, 3, 5, 8, 32};
    for (int i = 0; i < nrt_model_num_inputs(m); i++) {
        nrt_tensor_info info;
        if (checked(m, nrt_model_input_info(m, i, &info), "input_info") != NRT_OK) return;
        int64_t dims[NRT_MAX_RANK];
        for (int d = 0; d < info.rank; d++)
            dims[d] = info.declared_dims[d] >= 0 ? info.declared_dims[d] : sizes[rnd() % 6];
        checked(m, nrt_model_resize_input(m, i, info.rank, dims), "resize_input");
    }
}

static int round_trip(nrt_model* m) {
    if (rnd() % 3) resize_inputs(m);
    if (checked(m, nrt_model_prepare(m), "prepare") != NRT_OK) return 0;
    for (int i = 0; i < nrt_model_num_inputs(m); i++) {
        nrt_tensor_info info;
        checked(m, nrt_model_input_info(m, i, &info), "input_info");
        void* p = nrt_model_input_data(m, i);
        CHECK(p != NULL || info.bytes == 0, "input %d has no memory after prepare", i);
        if (p) fill_input(p, &info);
    }
    if (rnd() % 8 == 0) checked(m, nrt_model_set_num_threads(m, 1 + (int)(rnd() % 3)), "set_num_threads");
    if (rnd() % 8 == 0) checked(m, nrt_model_set_profiling(m, (int)(rnd() % 2)), "set_profiling");
    if (checked(m, nrt_model_invoke(m), "invoke") != NRT_OK) return 0;
    for (int i = 0; i < nrt_model_num_outputs(m); i++) {
        nrt_tensor_info info;
        checked(m, nrt_model_output_info(m, i, &info), "output_info");
        const uint8_t* p = nrt_model_output_data(m, i);
        /* read every byte (ASan checks the size is right) */
        volatile uint8_t sink = 0;
        for (size_t k = 0; p && k < info.bytes; k++) sink ^= p[k];
        (void)sink;
        CHECK(p != NULL || info.bytes == 0, "output %d has no memory after invoke", i);
    }
    return 1;
}

static int cycle(const char* path, const unsigned char* bytes, size_t size) {
    nrt_options opts;
    nrt_options_init(&opts);
    opts.num_threads = 1 + (int)(rnd() % 2);
    opts.preserve_intermediates = rnd() % 4 == 0;
    nrt_model* m = NULL;
    nrt_status st = nrt_model_create(&opts, &m);
    CHECK(st == NRT_OK, "create: %s", nrt_status_name(st));
    if (st != NRT_OK) {
        nrt_model_free(m);
        return 0;
    }
    switch (rnd() % 3) {
    case 0: st = nrt_model_load_file(m, path); break;
    case 1: st = nrt_model_load_buffer(m, bytes, size, 1); break;
    default: st = nrt_model_load_buffer(m, bytes, size, 0); break; /* in place (copied if unaligned) */
    }
    CHECK(st == NRT_OK, "load %s: %s", path, nrt_model_error(m));
    int ok = 0;
    int rounds = st == NRT_OK ? 1 + (int)(rnd() % 4) : 0;
    for (int r = 0; r < rounds; r++) ok += round_trip(m);
    if (rnd() % 4 == 0) { /* tensor inspection after use */
        nrt_tensor_info info;
        for (int i = 0; i < nrt_model_num_tensors(m); i++) {
            checked(m, nrt_model_tensor_info(m, i, &info), "tensor_info");
            (void)nrt_model_tensor_data(m, i);
        }
    }
    nrt_model_free(m);
    return ok;
}

int main(int argc, char** argv) {
    int cycles = 40, first = 1;
    while (first + 1 < argc && argv[first][0] == '-') {
        if (!strcmp(argv[first], "-n")) cycles = atoi(argv[first + 1]);
        else if (!strcmp(argv[first], "-s")) rng_state ^= (uint64_t)strtoull(argv[first + 1], NULL, 10) * 2654435761u;
        first += 2;
    }
    int total_ok = 0;
    for (int i = first; i < argc; i++) {
        size_t size = 0;
        unsigned char* raw = read_file(argv[i], &size);
        CHECK(raw != NULL, "cannot read %s", argv[i]);
        if (!raw) continue;
        /* a 64-byte aligned copy, so load_buffer(copy = 0) really works in place */
        unsigned char* bytes = aligned_alloc(64, (size + 63) / 64 * 64);
        memcpy(bytes, raw, size);
        free(raw);
        int ok = 0;
        for (int c = 0; c < cycles; c++) ok += cycle(argv[i], bytes, size);
        printf("%s: %d cycles, %d successful invokes\n", argv[i], cycles, ok);
        total_ok += ok;
        free(bytes);
    }
    CHECK(total_ok > 0, "no invoke succeeded on any model (give .nrt models)");
    printf("%s: %d failure(s)\n", argv[0], failures);
    return failures ? 1 : 0;
}
