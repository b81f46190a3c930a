/* Runs each model (argv) at every kernel level this CPU supports and
 * compares with the reference level on the same inputs: int8/integer
 * outputs must be bit-identical, float outputs within a relative tolerance
 * (float kernels may sum in a different order). Models after the argument
 * --exact compare every output byte for byte: quantized models, whose float
 * outputs are dequantized int8 codes (the int8 kernels are bit-exact, and
 * the float ops left in them are single IEEE operations per element).
 * Prints the levels it ran; exit status = failures. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nanort.h"

#define FLOAT_RTOL 1e-3

static int failures = 0;
#define MAX_LEVELS 64
static int exercised[MAX_LEVELS]; /* models run at each level (printed at the end for the test drivers) */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t next_random(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static void fill(void* data, const nrt_tensor_info* info) {
    size_t n = info->bytes / (nrt_dtype_size(info->dtype) ? nrt_dtype_size(info->dtype) : 1);
    if (info->dtype == NRT_FLOAT32) {
        float* f = data;
        for (size_t i = 0; i < n; i++) f[i] = (float)(next_random() % 2001) / 500.0f - 2.0f;
    } else {
        unsigned char* b = data;
        for (size_t i = 0; i < info->bytes; i++) b[i] = (unsigned char)next_random();
    }
}

/* Loads and prepares `path` at `isa`, with dynamic dims set to 1 (or 7 for the last). */
static nrt_model* open_at(const char* path, int isa) {
    nrt_options o;
    nrt_options_init(&o);
    o.isa = isa;
    nrt_model* m = NULL;
    if (nrt_model_create(&o, &m) != NRT_OK || nrt_model_load_file(m, path) != NRT_OK) {
        printf("FAIL %s at %s: %s\n", path, nrt_isa_name((nrt_isa)isa), m ? nrt_model_error(m) : "create");
        failures++;
        nrt_model_free(m);
        return NULL;
    }
    for (int i = 0; i < nrt_model_num_inputs(m); i++) {
        nrt_tensor_info info;
        nrt_model_input_info(m, i, &info);
        int64_t dims[NRT_MAX_RANK];
        for (int d = 0; d < info.rank; d++)
            dims[d] = info.declared_dims[d] >= 0 ? info.declared_dims[d] : (d == info.rank - 1 ? 7 : 1);
        nrt_model_resize_input(m, i, info.rank, dims);
    }
    if (nrt_model_prepare(m) != NRT_OK) {
        printf("FAIL %s at %s: prepare: %s\n", path, nrt_isa_name((nrt_isa)isa), nrt_model_error(m));
        failures++;
        nrt_model_free(m);
        return NULL;
    }
    return m;
}

static void compare(const char* path, int isa, int out, const nrt_tensor_info* info, const void* want,
                    const void* got, int exact) {
    if (info->dtype == NRT_FLOAT32 && !exact) {
        const float *a = want, *b = got;
        for (size_t i = 0; i < info->bytes / 4; i++) {
            double tol = FLOAT_RTOL * (fabs((double)a[i]) + 1.0);
            if (!(fabs((double)a[i] - (double)b[i]) <= tol) && !(isnan(a[i]) && isnan(b[i]))) {
                printf("FAIL %s at %s: output %d[%zu] = %.9g, reference %.9g\n", path, nrt_isa_name((nrt_isa)isa),
                       out, i, (double)b[i], (double)a[i]);
                failures++;
                return;
            }
        }
    } else if (memcmp(want, got, info->bytes) != 0) {
        size_t i = 0;
        while (((const unsigned char*)want)[i] == ((const unsigned char*)got)[i]) i++;
        printf("FAIL %s at %s: output %d differs from the reference at byte %zu (%s, must be bit-exact)\n", path,
               nrt_isa_name((nrt_isa)isa), out, i, nrt_dtype_name(info->dtype));
        failures++;
    }
}

static void check_model(const char* path, int exact) {
    nrt_model* ref = open_at(path, 0); /* level 0: the reference */
    if (!ref) return;
    int levels = 0;
    for (int isa = 1; isa < nrt_isa_count(); isa++) {
        nrt_options o;
        nrt_options_init(&o);
        o.isa = isa;
        nrt_model* probe = NULL;
        nrt_status st = nrt_model_create(&o, &probe);
        nrt_model_free(probe);
        if (st != NRT_OK) continue; /* this CPU lacks the level */
        nrt_model* m = open_at(path, isa);
        if (!m) continue;
        levels++;
        exercised[isa]++;
        for (int round = 0; round < 3; round++) {
            for (int i = 0; i < nrt_model_num_inputs(ref); i++) {
                nrt_tensor_info info;
                nrt_model_input_info(ref, i, &info);
                fill(nrt_model_input_data(ref, i), &info);
                memcpy(nrt_model_input_data(m, i), nrt_model_input_data(ref, i), info.bytes);
            }
            if (nrt_model_invoke(ref) != NRT_OK || nrt_model_invoke(m) != NRT_OK) {
                printf("FAIL %s: invoke: %s / %s\n", path, nrt_model_error(ref), nrt_model_error(m));
                failures++;
                break;
            }
            for (int k = 0; k < nrt_model_num_outputs(ref); k++) {
                nrt_tensor_info info;
                nrt_model_output_info(ref, k, &info);
                compare(path, isa, k, &info, nrt_model_output_data(ref, k), nrt_model_output_data(m, k), exact);
            }
        }
        nrt_model_free(m);
    }
    printf("%s: compared %d level(s) against ref\n", path, levels);
    nrt_model_free(ref);
}

int main(int argc, char** argv) {
    if (nrt_isa_count() > MAX_LEVELS) {
        printf("FAIL: %d kernel levels, this test counts at most %d\n", nrt_isa_count(), MAX_LEVELS);
        return 1;
    }
    printf("best level on this CPU: %s\n", nrt_isa_name(nrt_cpu_best_isa()));
    /* the level a model gets by default: the best one, or NANORT_ISA's when set */
    nrt_options o;
    nrt_options_init(&o);
    nrt_model* probe = NULL;
    if (nrt_model_create(&o, &probe) == NRT_OK) printf("default level: %s\n", nrt_isa_name(nrt_model_isa(probe)));
    else printf("default level refused: %s\n", probe ? nrt_model_error(probe) : "out of memory");
    nrt_model_free(probe);
    int exact = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--exact")) exact = 1;
        else check_model(argv[i], exact);
    }
    printf("levels exercised:");
    for (int isa = 1; isa < nrt_isa_count(); isa++)
        if (exercised[isa]) printf(" %s(%d models)", nrt_isa_name((nrt_isa)isa), exercised[isa]);
    printf("\n");
    printf("%d failure(s)\n", failures);
    return failures ? 1 : 0;
}
