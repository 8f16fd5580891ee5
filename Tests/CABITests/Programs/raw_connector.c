/*
 * raw_connector.c — a program that connects to a running service's gateway with plain MPI, as any
 * MPI program could (lookup of the run directory's service name, MPI_Comm_connect), without
 * chronolog_attach's turn (docs/ATTACH.md "Run directory, tokens, deadlines"). Run by AttachTests
 * as several ranks of one mpirun: their connects to the one port cross in Open MPI 4.1 and leave
 * the gateway's accept waiting inside MPI's progress engine; the service must still stop on SIGTERM.
 *
 *   mpirun --ompi-server file:RUN_DIR/ompi-server.uri -n 3 raw_connector RUN_DIR
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: raw_connector RUN_DIR\n"); return 2; }
    char path[4096], service[256], port[MPI_MAX_PORT_NAME];
    snprintf(path, sizeof path, "%s/service-name", argv[1]);
    FILE *f = fopen(path, "r");
    if (f == NULL || fgets(service, sizeof service, f) == NULL) { fprintf(stderr, "cannot read %s\n", path); return 2; }
    fclose(f);
    service[strcspn(service, "\n")] = 0;
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm gateway;
    int rc = MPI_Lookup_name(service, MPI_INFO_NULL, port);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_connect(port, MPI_INFO_NULL, 0, MPI_COMM_SELF, &gateway);
    printf("raw connect rc=%d\n", rc);
    fflush(stdout);
    return 0;  /* no MPI_Finalize: a connect that did not return is abandoned with the process */
}
