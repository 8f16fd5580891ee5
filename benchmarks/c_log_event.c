/*
 * chronolog_log_event from C: each application rank logs EVENTS events of SIZE bytes (256 by
 * default) to its own story as fast as it can; every 16th call is timed (CLOCK_MONOTONIC).
 * Prints p50/p99/p99.9 of the timed calls (max over ranks), the timer's own cost, the logging
 * rate (events/s over all ranks, until the last log_event returned) and the rate until every
 * event was flushed to the keepers. Run MPMD (benchmarks/c-log-event.sh does):
 *   mpirun -n 4 chronolog-job --workload none : -n 2 ./c_log_event [events] [size]
 */
#define _POSIX_C_SOURCE 200809L
#include <chronolog.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EVERY 16

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int by_value(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t percentile(const uint64_t *sorted, size_t n, double p) {
    size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

int main(int argc, char **argv) {
    long events = argc > 1 ? atol(argv[1]) : 2000000, size = argc > 2 ? atol(argv[2]) : 256;
    int provided = 0, rank = 0, ranks = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm app;
    if (chronolog_join(NULL, &app) != CL_SUCCESS) return 1;
    MPI_Comm_rank(app, &rank);
    MPI_Comm_size(app, &ranks);
    chronolog_client *client;
    chronolog_story *story;
    char name[32];
    snprintf(name, sizeof name, "writer-%d", rank);
    if (chronolog_connect(CHRONOLOG_WRITER, &client) != CL_SUCCESS) return 1;
    if (rank == 0) chronolog_create_chronicle(client, "bench-c", NULL, NULL, 0, 0);
    MPI_Barrier(app);
    if (chronolog_acquire_story(client, "bench-c", name, NULL, NULL, 0, 0, &story) != CL_SUCCESS) return 1;
    char *record = malloc((size_t)size);
    memset(record, 0x5A, (size_t)size);
    size_t samples = (size_t)(events / EVERY) + 1, n = 0;
    uint64_t *lat = malloc(samples * sizeof *lat), timer = UINT64_MAX;
    for (int i = 0; i < 1000; i++) {
        uint64_t a = now_ns(), b = now_ns();
        if (b - a < timer) timer = b - a;
    }
    long failed = 0;
    MPI_Barrier(app);
    uint64_t start = now_ns();
    for (long i = 0; i < events; i++) {
        if (i % EVERY == 0) {
            uint64_t t0 = now_ns();
            if (chronolog_log_event(story, record, (size_t)size) == 0) failed++;
            lat[n++] = now_ns() - t0;
        } else if (chronolog_log_event(story, record, (size_t)size) == 0) {
            failed++;
        }
    }
    uint64_t logged = now_ns() - start;
    chronolog_flush(story, 0, NULL);
    uint64_t flushed = now_ns() - start;
    qsort(lat, n, sizeof *lat, by_value);
    uint64_t mine[6] = {percentile(lat, n, 50), percentile(lat, n, 99), percentile(lat, n, 99.9), logged, flushed,
                        (uint64_t)failed}, worst[6];
    MPI_Reduce(mine, worst, 6, MPI_UINT64_T, MPI_MAX, 0, app);
    if (rank == 0) {
        double total = (double)events * ranks;
        printf("BENCH c_log_event: %d writer ranks x %ld events of %ld B\n", ranks, events, size);
        printf("  chronolog_log_event p50 %llu ns, p99 %llu ns, p99.9 %llu ns (max over ranks; timer itself %llu ns)\n",
               (unsigned long long)worst[0], (unsigned long long)worst[1], (unsigned long long)worst[2],
               (unsigned long long)timer);
        printf("  logging %.2f M events/s, until flushed %.2f M events/s, failed %llu\n", total / (double)worst[3] * 1e3,
               total / (double)worst[4] * 1e3, (unsigned long long)worst[5]);
        fflush(stdout);
    }
    chronolog_release_story(client, "bench-c", name);
    chronolog_disconnect(client);
    chronolog_finalize();
    MPI_Finalize();
    free(lat);
    free(record);
    return 0;
}
