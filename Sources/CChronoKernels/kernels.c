#include "CChronoKernels.h"

#include <string.h>

#define CHECKSUM_K1 0x9E3779B97F4A7C15ULL
#define CHECKSUM_K2 0xBF58476D1CE4E5B9ULL

/* Eight words per step in a vector of eight lanes: with AVX-512DQ one multiply instruction per
   step, with AVX2 or SSE2 the compiler splits it. Lane j of step s holds word 8s + j, so the
   lanes' sums add up to the same value as one word at a time. Inlined into one function per
   instruction set below, each compiled for its own target. */
typedef uint64_t chrono_u64x8 __attribute__((vector_size(64)));

static inline __attribute__((always_inline)) uint64_t word_sum_body(const void *bytes, size_t words, uint64_t first) {
    const unsigned char *p = (const unsigned char *)bytes;
    const uint64_t k1 = CHECKSUM_K1;
    const uint64_t s0 = first * k1;
    chrono_u64x8 sums = {0, 0, 0, 0, 0, 0, 0, 0};
    chrono_u64x8 salt = {s0, s0 + k1, s0 + 2 * k1, s0 + 3 * k1, s0 + 4 * k1, s0 + 5 * k1, s0 + 6 * k1, s0 + 7 * k1};
    const chrono_u64x8 step = {8 * k1, 8 * k1, 8 * k1, 8 * k1, 8 * k1, 8 * k1, 8 * k1, 8 * k1};
    size_t i = 0;
    for (; i + 8 <= words; i += 8) {
        chrono_u64x8 w;
        memcpy(&w, p + i * 8, sizeof w); /* unaligned load; the layout is little-endian (x86, arm64) */
        chrono_u64x8 x = (w ^ salt) * CHECKSUM_K2;
        x ^= x >> 31;
        sums += x;
        salt += step;
    }
    uint64_t sum = 0;
    for (int lane = 0; lane < 8; lane++) sum += sums[lane];
    for (; i < words; i++) {
        uint64_t w;
        memcpy(&w, p + i * 8, sizeof w);
        uint64_t x = (w ^ ((first + i) * k1)) * CHECKSUM_K2;
        x ^= x >> 31;
        sum += x;
    }
    return sum;
}

static uint64_t word_sum_plain(const void *bytes, size_t words) { return word_sum_body(bytes, words, 0); }
static uint64_t word_sum_from_plain(const void *bytes, size_t words, uint64_t first) { return word_sum_body(bytes, words, first); }

#if defined(__x86_64__) && defined(__linux__)
#define CHRONO_X86_CLONES 1
__attribute__((target("avx2"))) static uint64_t word_sum_avx2(const void *bytes, size_t words) {
    return word_sum_body(bytes, words, 0);
}
__attribute__((target("avx512f,avx512dq"))) static uint64_t word_sum_avx512(const void *bytes, size_t words) {
    return word_sum_body(bytes, words, 0);
}
__attribute__((target("avx2"))) static uint64_t word_sum_from_avx2(const void *bytes, size_t words, uint64_t first) {
    return word_sum_body(bytes, words, first);
}
__attribute__((target("avx512f,avx512dq"))) static uint64_t word_sum_from_avx512(const void *bytes, size_t words, uint64_t first) {
    return word_sum_body(bytes, words, first);
}
#endif

/* Static helpers only: the indirect-function resolver below runs before relocations are done. */
static int variant_supported(int variant) {
    switch (variant) {
    case CHRONO_CHECKSUM_PLAIN: return 1;
#ifdef CHRONO_X86_CLONES
    case CHRONO_CHECKSUM_AVX2: __builtin_cpu_init(); return __builtin_cpu_supports("avx2") ? 1 : 0;
    case CHRONO_CHECKSUM_AVX512: __builtin_cpu_init(); return __builtin_cpu_supports("avx512dq") ? 1 : 0;
#endif
    default: return 0;
    }
}

static int best_variant(void) {
    if (variant_supported(CHRONO_CHECKSUM_AVX512)) return CHRONO_CHECKSUM_AVX512;
    if (variant_supported(CHRONO_CHECKSUM_AVX2)) return CHRONO_CHECKSUM_AVX2;
    return CHRONO_CHECKSUM_PLAIN;
}

int chrono_checksum_variant_supported(int variant) { return variant_supported(variant); }

int chrono_checksum_best_variant(void) { return best_variant(); }

uint64_t chrono_checksum_word_sum_variant(int variant, const void *bytes, size_t words) {
    if (!variant_supported(variant)) return 0;
    switch (variant) {
#ifdef CHRONO_X86_CLONES
    case CHRONO_CHECKSUM_AVX2: return word_sum_avx2(bytes, words);
    case CHRONO_CHECKSUM_AVX512: return word_sum_avx512(bytes, words);
#endif
    default: return word_sum_plain(bytes, words);
    }
}

#ifdef CHRONO_X86_CLONES
/* Chosen once, when the library loads (a GNU indirect function, as target_clones does). */
static uint64_t (*resolve_word_sum(void))(const void *, size_t) {
    switch (best_variant()) {
    case CHRONO_CHECKSUM_AVX512: return word_sum_avx512;
    case CHRONO_CHECKSUM_AVX2: return word_sum_avx2;
    default: return word_sum_plain;
    }
}
uint64_t chrono_checksum_word_sum(const void *bytes, size_t words) __attribute__((ifunc("resolve_word_sum")));
static uint64_t (*resolve_word_sum_from(void))(const void *, size_t, uint64_t) {
    switch (best_variant()) {
    case CHRONO_CHECKSUM_AVX512: return word_sum_from_avx512;
    case CHRONO_CHECKSUM_AVX2: return word_sum_from_avx2;
    default: return word_sum_from_plain;
    }
}
uint64_t chrono_checksum_word_sum_from(const void *bytes, size_t words, uint64_t first) __attribute__((ifunc("resolve_word_sum_from")));
#else
uint64_t chrono_checksum_word_sum(const void *bytes, size_t words) { return word_sum_plain(bytes, words); }
uint64_t chrono_checksum_word_sum_from(const void *bytes, size_t words, uint64_t first) { return word_sum_from_plain(bytes, words, first); }
#endif
