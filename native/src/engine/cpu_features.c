/* Which kernel level this CPU can run. */
#include <string.h>

#include "nanort.h"

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#endif

nrt_isa nrt_cpu_best_isa(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni"))
        return NRT_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return NRT_ISA_AVX2;
    return NRT_ISA_REF;
#elif defined(__aarch64__) && defined(__linux__)
    unsigned long hw = getauxval(AT_HWCAP);
    if (hw & HWCAP_ASIMDDP) return NRT_ISA_DOTPROD;
    return NRT_ISA_NEON; /* Advanced SIMD is mandatory on AArch64 */
#elif defined(__aarch64__)
    return NRT_ISA_NEON;
#else
    return NRT_ISA_REF;
#endif
}

/* Levels form one ladder per architecture: a CPU that runs a level runs
 * every lower level of its ladder. */
int nrt_cpu_supports_isa(nrt_isa isa) {
    nrt_isa best = nrt_cpu_best_isa();
    switch (isa) {
    case NRT_ISA_REF: return 1;
    case NRT_ISA_AVX2:
    case NRT_ISA_AVX512: return (best == NRT_ISA_AVX2 || best == NRT_ISA_AVX512) && isa <= best;
    case NRT_ISA_NEON:
    case NRT_ISA_DOTPROD: return (best == NRT_ISA_NEON || best == NRT_ISA_DOTPROD) && isa <= best;
    default: return 0;
    }
}

static const char* const isa_names[NRT_ISA_COUNT] = {"ref", "avx2", "avx512", "neon", "dotprod"};

const char* nrt_isa_name(nrt_isa isa) {
    if (isa == NRT_ISA_AUTO) return "auto";
    return (unsigned)isa < NRT_ISA_COUNT ? isa_names[isa] : "invalid";
}

int nrt_isa_from_name(const char* name) {
    if (!name || !strcmp(name, "auto") || !*name) return NRT_ISA_AUTO;
    for (int i = 0; i < NRT_ISA_COUNT; i++)
        if (!strcmp(name, isa_names[i])) return i;
    return -2;
}
