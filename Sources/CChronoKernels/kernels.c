#include "CChronoKernels.h"

#include <string.h>

#define CHECKSUM_K1 0x9E3779B97F4A7C15ULL
#define CHECKSUM_K2 0xBF58476D1CE4E5B9ULL

/* Eight words per step in a vector of eight lanes: with AVX-512DQ one multiply instruction per
   step, with AVX2 or SSE2 the compiler splits it. Lane j of step s holds word 8s + j, so the
   lanes' sums add up to the same value as one word at a time. */
typedef uint64_t chrono_u64x8 __attribute__((vector_size(64)));

#if defined(__x86_64__) && defined(__linux__)
__attribute__((target_clones("avx512dq", "avx2", "default")))
#endif
uint64_t chrono_checksum_word_sum(const void *bytes, size_t words) {
    const unsigned char *p = (const unsigned char *)bytes;
    const uint64_t k1 = CHECKSUM_K1;
    chrono_u64x8 sums = {0, 0, 0, 0, 0, 0, 0, 0};
    chrono_u64x8 salt = {0, k1, 2 * k1, 3 * k1, 4 * k1, 5 * k1, 6 * k1, 7 * k1};
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
        uint64_t x = (w ^ (i * k1)) * CHECKSUM_K2;
        x ^= x >> 31;
        sum += x;
    }
    return sum;
}
