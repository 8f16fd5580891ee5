/*
 * chronolog_fortran.c — the two calls of chronolog.h that take MPI communicators, for the Fortran
 * module (chronolog.f90): Fortran passes MPI handles as INTEGERs (MPI_Fint), C takes MPI_Comm;
 * MPI_Comm_f2c / MPI_Comm_c2f convert them whatever the MPI implementation. Built with mpicc into
 * libchronolog_fortran.so by scripts/install.sh. Not part of the C interface.
 */
#include <chronolog.h>
#include <mpi.h>

/* chronolog_join with a Fortran communicator handle for app_comm (MPI_COMM_NULL's if refused). */
int chronolog_fortran_join(const char *config_path, MPI_Fint *app_comm) {
    MPI_Comm app = MPI_COMM_NULL;
    int rc = chronolog_join(config_path, &app);
    if (app_comm) *app_comm = rc == CL_SUCCESS ? MPI_Comm_c2f(app) : MPI_Comm_c2f(MPI_COMM_NULL);
    return rc;
}

/* chronolog_init with Fortran communicator handles. Before MPI_Init, MPI_Comm_f2c cannot be
 * called: a Fortran program has always initialised MPI (Fortran's MPI_COMM_WORLD is a constant
 * only MPI_Init gives meaning to), so an uninitialised MPI gets CL_ERR_INVALID_ARG here. */
int chronolog_fortran_init(MPI_Fint comm, const char *config_path, MPI_Fint *app_comm, int *is_client) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) return CL_ERR_INVALID_ARG;
    MPI_Comm app = MPI_COMM_NULL;
    int rc = chronolog_init(MPI_Comm_f2c(comm), config_path, &app, is_client);
    if (app_comm) *app_comm = MPI_Comm_c2f(rc == CL_SUCCESS ? app : MPI_COMM_NULL);
    return rc;
}
