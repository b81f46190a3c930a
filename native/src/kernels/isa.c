/* CPU feature detection and the level table of isa.h. */
#include "isa.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

typedef struct isa_level {
    const char* name;
    uint32_t requires;
    int fallback;
} isa_level;

#define NRT_ISA_TABLE_ROW(id, name, requires, fallback) [NRT_ISA_##id] = {name, requires, NRT_ISA_##fallback},
static const isa_level levels[NRT_ISA_COUNT] = {NRT_ISA_LEVELS(NRT_ISA_TABLE_ROW)};
#undef NRT_ISA_TABLE_ROW

#if defined(__x86_64__) || defined(__i386__)
static uint32_t x86_features(void) {
    __builtin_cpu_init();
    /* __builtin_cpu_supports also checks that the OS saves the vector state */
    uint32_t f = 0;
    if (__builtin_cpu_supports("avx2")) f |= NRT_CPU_AVX2;
    if (__builtin_cpu_supports("fma")) f |= NRT_CPU_FMA;
    if (__builtin_cpu_supports("avx512f")) f |= NRT_CPU_AVX512F;
    if (__builtin_cpu_supports("avx512bw")) f |= NRT_CPU_AVX512BW;
    if (__builtin_cpu_supports("avx512vl")) f |= NRT_CPU_AVX512VL;
    if (__builtin_cpu_supports("avx512dq")) f |= NRT_CPU_AVX512DQ;
    if (__builtin_cpu_supports("avx512vnni")) f |= NRT_CPU_AVX512VNNI;
    if (__builtin_cpu_supports("avx512vbmi")) f |= NRT_CPU_AVX512VBMI;
    /* AVX-VNNI (CPUID leaf 7, subleaf 1, EAX bit 4; not every compiler's
     * __builtin_cpu_supports knows it); the OS state check is AVX2's */
    unsigned a, b, c, d;
    if ((f & NRT_CPU_AVX2) && __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 4))) f |= NRT_CPU_AVXVNNI;
    return f;
}
#endif

#if defined(__aarch64__) && defined(__linux__)
/* Linux's HWCAP bits (asm/hwcap.h), spelled here for older C libraries. */
#define HWCAP_ASIMDHP_BIT (1ul << 10)
#define HWCAP_ASIMDDP_BIT (1ul << 20)
#define HWCAP_SVE_BIT (1ul << 22)
#define HWCAP2_SVE2_BIT (1ul << 1)
#define HWCAP2_I8MM_BIT (1ul << 13)

static uint32_t arm_features(void) {
    unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
    uint32_t f = NRT_CPU_NEON; /* Advanced SIMD is mandatory on AArch64 */
    if (hw & HWCAP_ASIMDDP_BIT) f |= NRT_CPU_DOTPROD;
    if (hw & HWCAP_ASIMDHP_BIT) f |= NRT_CPU_FP16;
    if (hw & HWCAP_SVE_BIT) f |= NRT_CPU_SVE;
    if (hw2 & HWCAP2_SVE2_BIT) f |= NRT_CPU_SVE2;
    if (hw2 & HWCAP2_I8MM_BIT) f |= NRT_CPU_I8MM;
    return f;
}
#endif

uint32_t nrt_cpu_features(void) {
#if defined(__x86_64__) || defined(__i386__)
    return x86_features();
#elif defined(__aarch64__) && defined(__linux__)
    return arm_features();
#elif defined(__aarch64__)
    return NRT_CPU_NEON;
#else
    return 0;
#endif
}

bool nrt_isa_supported(int isa, uint32_t features) {
    return isa >= 0 && isa < NRT_ISA_COUNT && (levels[isa].requires & ~features) == 0;
}

int nrt_isa_fallback(int isa) { return isa > 0 && isa < NRT_ISA_COUNT ? levels[isa].fallback : NRT_ISA_REF; }

int nrt_isa_best(uint32_t features) {
    int best = NRT_ISA_REF;
    for (int isa = 0; isa < NRT_ISA_COUNT; isa++)
        if (nrt_isa_supported(isa, features)) best = isa;
    return best;
}

/* ---- public API (nanort.h) ---- */

int nrt_isa_count(void) { return NRT_ISA_COUNT; }

const char* nrt_isa_name(nrt_isa isa) {
    if (isa == NRT_ISA_AUTO) return "auto";
    return (unsigned)isa < NRT_ISA_COUNT ? levels[isa].name : "invalid";
}

int nrt_isa_from_name(const char* name) {
    if (!name || !*name || !strcmp(name, "auto")) return NRT_ISA_AUTO;
    for (int i = 0; i < NRT_ISA_COUNT; i++)
        if (!strcmp(name, levels[i].name)) return i;
    return NRT_ISA_UNKNOWN;
}

nrt_isa nrt_cpu_best_isa(void) { return (nrt_isa)nrt_isa_best(nrt_cpu_features()); }

int nrt_cpu_supports_isa(nrt_isa isa) { return nrt_isa_supported(isa, nrt_cpu_features()); }
