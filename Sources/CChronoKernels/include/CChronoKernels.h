/*
 * CChronoKernels: the few per-byte loops that Swift cannot vectorise for every CPU of a cluster.
 * Plain C, no system libraries; each function is compiled for several instruction sets and the
 * best one the running CPU has is chosen when the library loads (GCC/Clang target_clones).
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

#endif
