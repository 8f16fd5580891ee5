/*
 * stalled_sender.c — an attached client whose MPI stops making progress in the middle of a large
 * message, run by AttachTests: it connects to the gateway of a running service as chronolog_attach
 * does (lookup of the run directory's service name, MPI_Comm_connect, the hello with the token),
 * then starts sending a 4 MiB message on a relayed tag (over TCP's eager limit: its data flows only
 * while this process calls MPI) and sleeps without calling MPI again. A gateway that waited for the
 * message's data would stop serving everyone else.
 *
 *   OMPI_MCA_pmix_server_uri=file:RUN_DIR/ompi-server.uri stalled_sender RUN_DIR SECONDS
 */
#define _POSIX_C_SOURCE 200809L
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void read_line(const char *dir, const char *name, char *out, size_t size) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (f == NULL || fgets(out, (int)size, f) == NULL) { fprintf(stderr, "cannot read %s\n", path); exit(2); }
    fclose(f);
    out[strcspn(out, "\n")] = 0;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: stalled_sender RUN_DIR SECONDS\n"); return 2; }
    char service[256], token[256], port[MPI_MAX_PORT_NAME];
    read_line(argv[1], "service-name", service, sizeof service);
    read_line(argv[1], "token", token, sizeof token);
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm gateway;
    if (MPI_Lookup_name(service, MPI_INFO_NULL, port) != MPI_SUCCESS
        || MPI_Comm_connect(port, MPI_INFO_NULL, 0, MPI_COMM_SELF, &gateway) != MPI_SUCCESS) {
        fprintf(stderr, "cannot connect to %s\n", service);
        return 1;
    }
    MPI_Send(token, (int)strlen(token), MPI_BYTE, 0, 31, gateway);  /* the hello */
    MPI_Status status;
    int count = 0;
    MPI_Probe(0, 31, gateway, &status);
    MPI_Get_count(&status, MPI_BYTE, &count);
    char *answer = malloc((size_t)count + 1);
    MPI_Recv(answer, count, MPI_BYTE, 0, 31, gateway, MPI_STATUS_IGNORE);
    size_t big = 4u << 20;
    char *data = calloc(big, 1);
    MPI_Request request;
    MPI_Isend(data, (int)big, MPI_BYTE, 0, 1 * 32 + 13, gateway, &request);  /* to rank 1 (a keeper), tag events */
    printf("stalled\n");
    fflush(stdout);
    struct timespec d = {atol(argv[2]), 0};
    nanosleep(&d, NULL);
    return 0;
}
