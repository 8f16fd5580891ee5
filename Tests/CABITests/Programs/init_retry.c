/* chronolog_init refused, then tried again: on MPI_COMM_SELF (too small for the service and a
 * client) every rank gets CL_ERR_NO_KEEPERS; MPI still runs, so the same ranks then make a job of
 * MPI_COMM_WORLD, and its client logs. Prints "RETRY ok" per client rank, "FAIL ..." otherwise. */
#include <chronolog.h>
#include <mpi.h>
#include <stdio.h>

int main(int argc, char **argv) {
    int provided, rank;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm app = MPI_COMM_NULL;
    int is_client = -1;
    int rc = chronolog_init(MPI_COMM_SELF, NULL, &app, &is_client);
    if (rc != CL_ERR_NO_KEEPERS) printf("FAIL rank %d: init on MPI_COMM_SELF gave %d\n", rank, rc);
    rc = chronolog_init(MPI_COMM_WORLD, NULL, &app, &is_client);
    if (rc != CL_SUCCESS) {
        printf("FAIL rank %d: init again on MPI_COMM_WORLD gave %d\n", rank, rc);
    } else if (is_client) {
        chronolog_client *client = NULL;
        chronolog_story *story = NULL;
        int a = chronolog_connect(CHRONOLOG_WRITER, &client);
        int b = chronolog_create_chronicle(client, "retry", NULL, NULL, 0, 0);
        int c = chronolog_acquire_story(client, "retry", "s", NULL, NULL, 0, 0, &story);
        int logged = chronolog_log_event(story, "after a retry", 13) != 0;
        int d = chronolog_finalize();
        if (a || (b && b != CL_ERR_CHRONICLE_EXISTS) || c || !logged || d) {
            printf("FAIL rank %d: connect %d create %d acquire %d logged %d finalize %d\n", rank, a, b, c, logged, d);
        } else {
            printf("RETRY ok rank %d\n", rank);
        }
    }
    fflush(stdout);
    MPI_Finalize();
    return 0;
}
