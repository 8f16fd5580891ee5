! logging_app.f90 — the Fortran twin of examples/c/logging_app.c: an MPI application computing with
! its own communicator (an MPI_Allreduce per step) while logging through the `chronolog` module.
!
! Build against an installed prefix (scripts/install.sh --prefix DIR):
!   export PKG_CONFIG_PATH=DIR/lib/pkgconfig
!   mpifort logging_app.f90 -o logging_app_f $(pkg-config --cflags --libs chronolog-fortran)
! Run MPMD:  mpirun -n 4 DIR/bin/chronolog-job --workload none : -n 2 ./logging_app_f [steps]
! Embedded:  mpirun -n 6 ./logging_app_f --embedded [steps]   (4 of the 6 ranks serve)
! Same records and output lines as the C example (step=<i> sum=<s>; ALLREDUCE, LOGGED, DURABLE).
program logging_app
    use mpi
    use chronolog
    use, intrinsic :: iso_c_binding, only: c_int, c_int64_t
    use, intrinsic :: iso_fortran_env, only: output_unit, error_unit
    implicit none
    integer :: provided, ierr, app, steps, status
    integer(c_int) :: rc, left
    logical :: embedded, is_client

    call arguments(embedded, steps)
    call MPI_Init_thread(MPI_THREAD_MULTIPLE, provided, ierr)
    ! Both collective over MPI_COMM_WORLD. Embedded, service ranks return when the clients are done.
    is_client = .true.
    if (embedded) then
        rc = chronolog_init(MPI_COMM_WORLD, app, is_client)
    else
        rc = chronolog_join(app)
    end if
    if (rc /= CL_SUCCESS .or. .not. is_client) then
        if (rc /= CL_SUCCESS) write (error_unit, '(2a)') 'logging_app: joining: ', chronolog_strerror(rc)
        call MPI_Finalize(ierr)
        if (rc /= CL_SUCCESS) error stop 1
        stop
    end if
    status = run(app, steps)
    left = chronolog_finalize() ! collective; frees `app`
    call MPI_Finalize(ierr)
    if (status /= CL_SUCCESS .or. left /= CL_SUCCESS) error stop 1

contains

    !> `--embedded` and the number of steps (default 200) from the command line.
    subroutine arguments(embedded, steps)
        logical, intent(out) :: embedded
        integer, intent(out) :: steps
        character(len=32) :: arg
        integer :: next
        embedded = .false.
        steps = 200
        next = 1
        if (command_argument_count() >= 1) then
            call get_command_argument(1, arg)
            embedded = trim(arg) == '--embedded'
            if (embedded) next = 2
        end if
        if (command_argument_count() >= next) then
            call get_command_argument(next, arg)
            read (arg, *) steps
        end if
    end subroutine

    !> Writes `call failed: NAME (code)` to stderr when `rc` is not CL_SUCCESS; true if it was.
    logical function ok(call, rc)
        character(len=*), intent(in) :: call
        integer(c_int), intent(in) :: rc
        ok = rc == CL_SUCCESS
        if (.not. ok) write (error_unit, '(5a,i0,a)') 'logging_app: ', call, ' failed: ', chronolog_code_name(rc), ' (', rc, ')'
    end function

    !> Logs `steps` steps of the computation to `story`; the number of wrong sums, or a code.
    integer function compute_and_log(app, story, steps) result(wrong)
        integer, intent(in) :: app, steps
        type(chronolog_story), intent(in) :: story
        integer :: rank, n, step, ierr
        integer(c_int64_t) :: mine, sum, time
        character(len=64) :: record
        call MPI_Comm_rank(app, rank, ierr)
        call MPI_Comm_size(app, n, ierr)
        wrong = 0
        do step = 0, steps - 1
            mine = int(rank + 1, c_int64_t) * (step + 1)
            call MPI_Allreduce(mine, sum, 1, MPI_INTEGER8, MPI_SUM, app, ierr)
            if (sum /= int(step + 1, c_int64_t) * n * (n + 1) / 2) wrong = wrong + 1
            write (record, '(a,i0,a,i0)') 'step=', step, ' sum=', sum
            if (chronolog_log_event(story, trim(record)) == 0) then
                wrong = chronolog_log(story, trim(record), time) ! says why
                return
            end if
        end do
    end function

    !> Connects, logs the computation to its story "rank-<rank>" of "simulation", flushes durably.
    integer function run(app, steps) result(status)
        integer, intent(in) :: app, steps
        type(chronolog_client) :: client
        type(chronolog_story) :: story
        character(len=32) :: name
        integer :: rank, ierr, wrong
        integer(c_int) :: rc
        integer(c_int64_t) :: durable
        call MPI_Comm_rank(app, rank, ierr)
        status = chronolog_connect(CHRONOLOG_WRITER, client)
        if (.not. ok('chronolog_connect', status)) return
        if (rank == 0) then
            rc = chronolog_create_chronicle(client, 'simulation', ['application'], ['logging_app.f90'])
            if (rc == CL_ERR_CHRONICLE_EXISTS) rc = CL_SUCCESS
            status = rc
            if (.not. ok('chronolog_create_chronicle', status)) return
        end if
        call MPI_Barrier(app, ierr) ! the chronicle exists before anyone acquires
        write (name, '(a,i0)') 'rank-', rank
        status = chronolog_acquire_story(client, 'simulation', name, story)
        if (.not. ok('chronolog_acquire_story', status)) return
        wrong = compute_and_log(app, story, steps)
        status = int(min(wrong, 0), c_int)
        if (.not. ok('chronolog_log', status)) return
        write (output_unit, '(3a,i0,a,i0)') 'ALLREDUCE ', trim(merge('ok   ', 'wrong', wrong == 0)), ' rank=', rank, &
            ' steps=', steps
        status = chronolog_flush(story, durable=.true., durable_events=durable)
        if (.not. ok('chronolog_flush', status)) return
        write (output_unit, '(6a,i0,a,i0)') 'LOGGED', achar(9), 'simulation', achar(9), trim(name), achar(9), &
            chronolog_client_id(client), achar(9), steps
        write (output_unit, '(a,i0)') 'DURABLE ', durable
        flush (output_unit)
        status = chronolog_release_story(client, 'simulation', name)
        if (.not. ok('chronolog_release_story', status)) return
        status = chronolog_disconnect(client)
        if (.not. ok('chronolog_disconnect', status)) return
        if (wrong /= 0) status = CL_ERR_UNKNOWN
    end function
end program logging_app
