/*
 * CChronoKernels: the few per-byte loops that Swift cannot vectorise for every CPU of a cluster.
 * Plain C, no system libraries; each function is compiled for several instruction sets and the
 * best one the running CPU has is chosen when the library loads (a GNU indirect function); each
 * variant can also be called explicitly, so every one is tested on any CPU that can run it.
 */
#ifndef CCHRONOKERNELS_H
#define CCHRONOKERNELS_H

#include <stddef.h>
#include <stdint.h>

/*
 * The word sum of the archive checksum (ArchiveChecksum in ChronoArchive): for the `words`
 * little-endian u64 words at `bytes` (any alignment), Σ x[i] mod 2^64 where
 * x[i] = (w[i] ^ (i * K1)) * K2, then x[i] ^= x[i] >> 31.
 */
uint64_t chrono_checksum_word_sum(const void *bytes, size_t words);
/*
 * The same sum for words that continue a longer stream: word j of `bytes` counts as word
 * `first + j` (x[first + j] above), so the sums of consecutive parts add up to the whole's.
 */
uint64_t chrono_checksum_word_sum_from(const void *bytes, size_t words, uint64_t first);

/* The compiled variants of the word sum, to call (and test) each one explicitly. */
enum {
    CHRONO_CHECKSUM_PLAIN = 0,  /* the baseline instruction set (SSE2 on x86-64) */
    CHRONO_CHECKSUM_AVX2 = 1,   /* x86-64 Linux only */
    CHRONO_CHECKSUM_AVX512 = 2, /* AVX-512DQ, x86-64 Linux only */
    CHRONO_CHECKSUM_VARIANTS = 3
};

/* 1 when `variant` is compiled in and the running CPU can execute it, else 0. */
int chrono_checksum_variant_supported(int variant);

/* The word sum computed by `variant`; 0 (and nothing executed) when it is not supported. */
uint64_t chrono_checksum_word_sum_variant(int variant, const void *bytes, size_t words);

/* The variant chrono_checksum_word_sum uses on this CPU (the best supported one). */
int chrono_checksum_best_variant(void);

#endif
