/* An MPMD application that forgets to join the job: it initialises MPI, waits, and leaves. */
#include <mpi.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    sleep(argc > 1 ? (unsigned)atoi(argv[1]) : 12);
    MPI_Finalize();
    return 0;
}
