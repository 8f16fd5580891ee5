/* An LD_PRELOAD shim for IORBenchTests: every pread of more than 4 KiB from a file whose path
 * contains $FLIP_MATCH comes back with one byte changed near the middle of what was read, as a
 * failing disk or file system could give it. Reads of other files are untouched. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int matches(int fd) {
    const char *match = getenv("FLIP_MATCH");
    char link[64], path[4096];
    if (match == NULL || *match == '\0') return 0;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n < 0) return 0;
    path[n] = '\0';
    return strstr(path, match) != NULL;
}

static ssize_t flipped(int fd, void *buffer, ssize_t got) {
    if (got > 4096 && matches(fd)) ((unsigned char *)buffer)[got / 2 + 40] ^= 0x5a;
    return got;
}

ssize_t pread(int fd, void *buffer, size_t count, off_t offset) {
    static ssize_t (*real)(int, void *, size_t, off_t);
    if (real == NULL) real = (ssize_t (*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT, "pread");
    return flipped(fd, buffer, real(fd, buffer, count, offset));
}

ssize_t pread64(int fd, void *buffer, size_t count, off_t offset) {
    static ssize_t (*real)(int, void *, size_t, off_t);
    if (real == NULL) real = (ssize_t (*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT, "pread64");
    return flipped(fd, buffer, real(fd, buffer, count, offset));
}
