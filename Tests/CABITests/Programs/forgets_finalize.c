/* A client rank that ends with MPI_Finalize alone: no release, no disconnect, no
 * chronolog_finalize. MPI_Finalize leaves the job for it first (chronolog.h), so the job ends and
 * every event it logged is archived.
 *   forgets_finalize join N   MPMD beside chronolog-job: chronolog_join, then N events
 *   forgets_finalize init N   embedded: chronolog_init on MPI_COMM_WORLD, N events per client rank
 * Prints "LOGGED <n>" per client rank once it logged, "AFTER <rc>" after MPI_Finalize with the code
 * a chronolog_finalize then gives (CL_ERR_NO_CONNECTION: already left), "FAIL ..." otherwise. */
#include <chronolog.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    int embedded = strcmp(argv[1], "init") == 0;
    int events = atoi(argv[2]);
    int provided, rank, is_client = 1;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm app = MPI_COMM_NULL;
    int rc = embedded ? chronolog_init(MPI_COMM_WORLD, NULL, &app, &is_client) : chronolog_join(NULL, &app);
    if (rc != CL_SUCCESS) {
        printf("FAIL rank %d: %s gave %d\n", rank, argv[1], rc);
    } else if (is_client) {
        chronolog_client *client = NULL;
        chronolog_story *story = NULL;
        int a = chronolog_connect(CHRONOLOG_WRITER, &client);
        int b = chronolog_create_chronicle(client, "forgot", NULL, NULL, 0, 0);
        int c = chronolog_acquire_story(client, "forgot", "s", NULL, NULL, 0, 0, &story);
        int logged = 0;
        char record[64];
        for (int i = 0; i < events && !a && !c; i++) {
            int n = snprintf(record, sizeof record, "rank %d event %d", rank, i);
            if (chronolog_log_event(story, record, (size_t)n) != 0) logged++;
        }
        if (a || (b && b != CL_ERR_CHRONICLE_EXISTS) || c || logged != events) {
            printf("FAIL rank %d: connect %d create %d acquire %d logged %d\n", rank, a, b, c, logged);
        } else {
            printf("LOGGED %d\n", logged);
        }
    }
    fflush(stdout);
    MPI_Finalize();
    if (is_client) printf("AFTER %d\n", chronolog_finalize());
    return 0;
}
