/* A C rank that logs until SIGTERM, with SIGTERM left at its default: the library drains it
 * (chronolog.h, chronolog_finalize). Prints "LOGGING" once it has logged, then never returns.
 *   sigterm_logger join    MPMD beside chronolog-job
 *   sigterm_logger init    embedded: chronolog_init on MPI_COMM_WORLD (service ranks serve)
 *   sigterm_logger after   MPMD: logs 1000 events, calls chronolog_finalize, prints "FINALIZED", then
 *                          waits for ever (SIGTERM must end it as by default) */
#include <chronolog.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int provided, rank, is_client = 1;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm app = MPI_COMM_NULL;
    int embedded = argc > 1 && strcmp(argv[1], "init") == 0;
    int after = argc > 1 && strcmp(argv[1], "after") == 0;
    int rc = embedded ? chronolog_init(MPI_COMM_WORLD, NULL, &app, &is_client) : chronolog_join(NULL, &app);
    if (rc != CL_SUCCESS) {
        printf("FAIL rank %d: %d\n", rank, rc);
    } else if (is_client) {
        chronolog_client *client = NULL;
        chronolog_story *story = NULL;
        chronolog_connect(CHRONOLOG_WRITER, &client);
        chronolog_create_chronicle(client, "term", NULL, NULL, 0, 0);
        if (chronolog_acquire_story(client, "term", embedded ? "embedded" : "mpmd", NULL, NULL, 0, 0, &story) != 0) {
            printf("FAIL rank %d: acquire\n", rank);
            return 1;
        }
        char record[64];
        for (long i = 0; after && i < 1000; i++) {
            int n = snprintf(record, sizeof record, "rank %d event %ld", rank, i);
            chronolog_log_event(story, record, (size_t)n);
        }
        if (after) {
            int rc_finalize = chronolog_finalize();
            printf("FINALIZED %d\n", rc_finalize);
            fflush(stdout);
            for (;;) pause();
        }
        for (long i = 0;; i++) {
            int n = snprintf(record, sizeof record, "rank %d event %ld", rank, i);
            chronolog_log_event(story, record, (size_t)n);
            if (i == 1000) {
                printf("LOGGING\n");
                fflush(stdout);
            }
        }
    }
    chronolog_finalize();
    MPI_Finalize();
    return 0;
}
