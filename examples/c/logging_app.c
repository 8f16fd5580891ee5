/*
 * logging_app.c — an MPI application that computes with its own communicator while logging
 * events into the ChronoLog-Swift service of its job, through libchronolog (chronolog.h).
 *
 * Build (from the package root, after `swift build`):
 *   B=$(swift build --show-bin-path)
 *   mpicc -std=c99 -I Sources/CChronoLog/include examples/c/logging_app.c -o logging_app \
 *         -L $B -lChronoLog -Wl,-rpath,$B
 * Run MPMD, the service on 4 ranks and the application on 2:
 *   mpirun -n 4 $B/chronolog-job --workload none : -n 2 ./logging_app [steps]
 * or embedded, the service made of the application's own ranks (4 of 6 here; 2 compute):
 *   mpirun -n 6 ./logging_app --embedded [steps]
 * or embedded in a part of the job: MPI_COMM_WORLD is split in two, all but the last 2 ranks make
 * a job of their own (4 serve, 2 compute and log here), the last 2 compute without logging:
 *   mpirun -n 8 ./logging_app --embedded-split [steps]
 *
 * Each step, every rank contributes (rank + 1) * (step + 1) to an MPI_Allreduce over the
 * application's communicator and checks the sum, (step + 1) * n * (n + 1) / 2 for n ranks (a
 * service rank in the communicator would break it), then logs the event "step=<step> sum=<sum>"
 * to its story "rank-<rank>" of the chronicle "simulation". At the end it flushes durably (the
 * events are then in the HDF5 archive), prints what it logged and leaves the job.
 * Output lines: ALLREDUCE ok|wrong, LOGGED <chronicle> <story> <client id> <events>, DURABLE <n>;
 * with --embedded-split also UNLOGGED ok|wrong (the last ranks' sums) and WORLD ok at the end.
 */
#include <chronolog.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(call)                                                                                   \
    do {                                                                                              \
        int rc_ = (call);                                                                             \
        if (rc_ != CL_SUCCESS) {                                                                      \
            fprintf(stderr, "logging_app: %s failed: %s (%d)\n", #call, chronolog_code_name(rc_), rc_); \
            return rc_;                                                                               \
        }                                                                                             \
    } while (0)

/* Logs `steps` steps of the computation to `story` (none if NULL); returns the number of wrong
 * sums or a code. */
static int compute_and_log(MPI_Comm app, chronolog_story *story, int steps) {
    int rank = 0, size = 0, wrong = 0;
    MPI_Comm_rank(app, &rank);
    MPI_Comm_size(app, &size);
    for (int step = 0; step < steps; step++) {
        long mine = (long)(rank + 1) * (step + 1), sum = 0;
        MPI_Allreduce(&mine, &sum, 1, MPI_LONG, MPI_SUM, app);
        if (sum != (long)(step + 1) * size * (size + 1) / 2) wrong++;
        char record[64];
        int length = snprintf(record, sizeof record, "step=%d sum=%ld", step, sum);
        if (story && chronolog_log_event(story, record, (size_t)length) == 0) {
            uint64_t ignored;
            return chronolog_log(story, record, (size_t)length, &ignored); /* says why */
        }
    }
    return wrong;
}

static int run(MPI_Comm app, int steps) {
    int rank = 0;
    MPI_Comm_rank(app, &rank);
    chronolog_client *client = NULL;
    CHECK(chronolog_connect(CHRONOLOG_WRITER, &client));
    if (rank == 0) {
        const char *keys[] = {"application"}, *values[] = {"logging_app.c"};
        int rc = chronolog_create_chronicle(client, "simulation", keys, values, 1, 0);
        if (rc != CL_SUCCESS && rc != CL_ERR_CHRONICLE_EXISTS) CHECK(rc);
    }
    MPI_Barrier(app); /* the chronicle exists before anyone acquires */
    char name[32];
    snprintf(name, sizeof name, "rank-%d", rank);
    chronolog_story *story = NULL;
    CHECK(chronolog_acquire_story(client, "simulation", name, NULL, NULL, 0, 0, &story));
    int wrong = compute_and_log(app, story, steps);
    if (wrong < 0) CHECK(wrong);
    printf("ALLREDUCE %s rank=%d steps=%d\n", wrong == 0 ? "ok" : "wrong", rank, steps);
    uint64_t durable = 0;
    CHECK(chronolog_flush(story, 1, &durable));
    printf("LOGGED\tsimulation\t%s\t%llu\t%d\n", name, (unsigned long long)chronolog_client_id(client), steps);
    printf("DURABLE %llu\n", (unsigned long long)durable);
    fflush(stdout);
    CHECK(chronolog_release_story(client, "simulation", name));
    CHECK(chronolog_disconnect(client));
    return wrong == 0 ? CL_SUCCESS : CL_ERR_UNKNOWN;
}

/* --embedded-split: the last ranks of MPI_COMM_WORLD compute over their own ranks, no logging. */
static int compute_unlogged(MPI_Comm part, int steps) {
    int rank = 0, wrong = compute_and_log(part, NULL, steps);
    MPI_Comm_rank(part, &rank);
    printf("UNLOGGED %s rank=%d steps=%d\n", wrong == 0 ? "ok" : "wrong", rank, steps);
    return wrong == 0 ? CL_SUCCESS : CL_ERR_UNKNOWN;
}

/* The logging part: joins (embedded over `comm`, or MPMD), computes and logs, leaves. */
static int logged(MPI_Comm comm, int embedded, int steps) {
    MPI_Comm app;
    int is_client = 1;
    /* Collective over `comm` (chronolog_join: MPI_COMM_WORLD). Embedded, service ranks return when
     * the clients are done. */
    int rc = embedded ? chronolog_init(comm, NULL, &app, &is_client) : chronolog_join(NULL, &app);
    if (rc != CL_SUCCESS || !is_client) {
        if (rc != CL_SUCCESS) fprintf(stderr, "logging_app: joining: %s\n", chronolog_strerror(rc));
        return rc;
    }
    int status = run(app, steps);
    int left = chronolog_finalize(); /* collective; frees `app` */
    return status == CL_SUCCESS ? left : status;
}

int main(int argc, char **argv) {
    int split = argc > 1 && strcmp(argv[1], "--embedded-split") == 0;
    int embedded = split || (argc > 1 && strcmp(argv[1], "--embedded") == 0);
    int steps = argc > 1 + embedded ? atoi(argv[1 + embedded]) : 200, provided = 0, rank = 0, size = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm comm = MPI_COMM_WORLD;
    int first = 1;
    if (split) {
        first = rank < size - 2;
        MPI_Comm_split(MPI_COMM_WORLD, first ? 0 : 1, rank, &comm);
    }
    int status = first ? logged(comm, embedded, steps) : compute_unlogged(comm, steps);
    if (split) {
        MPI_Comm_free(&comm);
        MPI_Barrier(MPI_COMM_WORLD); /* both parts are still there and done */
        if (rank == 0) printf("WORLD ok\n");
    }
    MPI_Finalize();
    return status == CL_SUCCESS ? 0 : 1;
}
