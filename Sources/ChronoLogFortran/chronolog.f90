!> chronolog.f90 — the Fortran interface of ChronoLog-Swift: `use chronolog`.
!>
!> A module over ISO_C_BINDING that wraps every call of chronolog.h (the C interface, whose
!> comments say what each call does, its codes and whether it is collective). Functions return
!> ChronoLog's codes (CL_SUCCESS, CL_ERR_*), the same integers as chronolog.h; the test suite
!> fails if the two drift apart. Communicators are INTEGER handles (`use mpi`); with `use mpi_f08`
!> pass `comm%MPI_VAL`. Timestamps and client ids are INTEGER(c_int64_t) (nanoseconds since the
!> epoch fit). Names (chronicles, stories, attribute keys and values) have trailing blanks
!> removed, as Fortran pads them; event records are passed as given (every byte of `record`).
!>
!> Built with mpifort into libchronolog_fortran.so (with chronolog_fortran.c) and installed with
!> chronolog.mod by scripts/install.sh; `mpifort app.f90 $(pkg-config --cflags --libs
!> chronolog-fortran)` builds an application. The .mod file is for the gfortran that built it.
module chronolog
    use, intrinsic :: iso_c_binding
    implicit none
    private

    ! ---- Return codes: chronolog.h's CL_* (tied to it by the test suite) ----
    integer(c_int), parameter, public :: CL_SUCCESS = 0
    integer(c_int), parameter, public :: CL_ERR_UNKNOWN = -1
    integer(c_int), parameter, public :: CL_ERR_INVALID_ARG = -2
    integer(c_int), parameter, public :: CL_ERR_NOT_EXIST = -3
    integer(c_int), parameter, public :: CL_ERR_ACQUIRED = -4
    integer(c_int), parameter, public :: CL_ERR_NOT_ACQUIRED = -5
    integer(c_int), parameter, public :: CL_ERR_CHRONICLE_EXISTS = -6
    integer(c_int), parameter, public :: CL_ERR_NO_KEEPERS = -7
    integer(c_int), parameter, public :: CL_ERR_NO_CONNECTION = -8
    integer(c_int), parameter, public :: CL_ERR_NOT_AUTHORIZED = -9
    integer(c_int), parameter, public :: CL_ERR_NO_PLAYERS = -10
    integer(c_int), parameter, public :: CL_ERR_NOT_READER_MODE = -11
    integer(c_int), parameter, public :: CL_ERR_QUERY_TIMED_OUT = -12
    integer(c_int), parameter, public :: CL_ERR_PROTOCOL_VERSION_MISMATCH = -13
    integer(c_int), parameter, public :: CL_ERR_PARTIAL_RESULT = -18

    !> Client modes for chronolog_connect.
    integer(c_int), parameter, public :: CHRONOLOG_WRITER = 0
    integer(c_int), parameter, public :: CHRONOLOG_READER = 1

    !> A connected client (chronolog_client *).
    type, public :: chronolog_client
        type(c_ptr) :: ptr = c_null_ptr
    end type
    !> An acquired story (chronolog_story *).
    type, public :: chronolog_story
        type(c_ptr) :: ptr = c_null_ptr
    end type
    !> A replay handing out batches (chronolog_cursor *).
    type, public :: chronolog_cursor
        type(c_ptr) :: ptr = c_null_ptr
    end type

    !> One replayed event (chronolog_event); chronolog_event_record / chronolog_event_bytes copy
    !> its record out. `data` is valid as in C: during the callback, or until the next
    !> chronolog_replay_next / chronolog_replay_close.
    type, bind(C), public :: chronolog_event
        integer(c_int64_t) :: time
        integer(c_int64_t) :: client_id
        integer(c_int32_t) :: index
        integer(c_int32_t) :: reserved
        type(c_ptr) :: data
        integer(c_size_t) :: length
    end type

    !> The replay callback: `integer(c_int) function f(event, user) bind(C)`; return 0 to go on,
    !> anything else to stop the replay.
    abstract interface
        function chronolog_event_fn(event, user) bind(C) result(rc)
            import :: chronolog_event, c_ptr, c_int
            type(chronolog_event), intent(in) :: event
            type(c_ptr), value :: user
            integer(c_int) :: rc
        end function
    end interface
    public :: chronolog_event_fn

    !> The listing callback of chronolog_show_chronicles / chronolog_show_stories:
    !> `integer(c_int) function f(name, length, user) bind(C)`; `chronolog_name_text(name, length)`
    !> copies the name out. Return 0 to go on, anything else to stop the listing.
    abstract interface
        function chronolog_name_fn(name, length, user) bind(C) result(rc)
            import :: c_ptr, c_size_t, c_int
            type(c_ptr), value :: name
            integer(c_size_t), value :: length
            type(c_ptr), value :: user
            integer(c_int) :: rc
        end function
    end interface
    public :: chronolog_name_fn

    !> chronolog_log_event / chronolog_log for a character record or an integer(c_int8_t) array.
    interface chronolog_log_event
        module procedure log_event_text, log_event_bytes
    end interface
    interface chronolog_log
        module procedure log_text, log_bytes
    end interface

    public :: chronolog_join, chronolog_init, chronolog_finalize
    public :: chronolog_attach
    public :: chronolog_connect, chronolog_disconnect, chronolog_client_reachable, chronolog_client_id
    public :: chronolog_create_chronicle, chronolog_destroy_chronicle
    public :: chronolog_acquire_story, chronolog_release_story, chronolog_destroy_story
    public :: chronolog_show_chronicles, chronolog_show_stories, chronolog_name_text
    public :: chronolog_log_event, chronolog_log, chronolog_flush
    public :: chronolog_replay, chronolog_replay_last, chronolog_replay_open, chronolog_replay_next, chronolog_replay_close
    public :: chronolog_event_record, chronolog_event_bytes
    public :: chronolog_code_name, chronolog_strerror

    ! ---- The C calls (chronolog.h; join and init through chronolog_fortran.c for MPI handles) ----
    interface
        function c_join(config_path, app_comm) bind(C, name="chronolog_fortran_join") result(rc)
            import :: c_ptr, c_int
            type(c_ptr), value :: config_path
            integer(c_int), intent(out) :: app_comm
            integer(c_int) :: rc
        end function
        function c_init(comm, config_path, app_comm, is_client) bind(C, name="chronolog_fortran_init") result(rc)
            import :: c_ptr, c_int
            integer(c_int), value :: comm
            type(c_ptr), value :: config_path
            integer(c_int), intent(out) :: app_comm, is_client
            integer(c_int) :: rc
        end function
        function c_finalize() bind(C, name="chronolog_finalize") result(rc)
            import :: c_int
            integer(c_int) :: rc
        end function
        function c_attach(run_dir, portal_port) bind(C, name="chronolog_attach") result(rc)
            import :: c_ptr, c_int
            type(c_ptr), value :: run_dir
            integer(c_int), value :: portal_port
            integer(c_int) :: rc
        end function
        function c_connect(mode, client) bind(C, name="chronolog_connect") result(rc)
            import :: c_ptr, c_int
            integer(c_int), value :: mode
            type(c_ptr), intent(out) :: client
            integer(c_int) :: rc
        end function
        function c_disconnect(client) bind(C, name="chronolog_disconnect") result(rc)
            import :: c_ptr, c_int
            type(c_ptr), value :: client
            integer(c_int) :: rc
        end function
        function c_client_reachable(client) bind(C, name="chronolog_client_reachable") result(rc)
            import :: c_ptr, c_int
            type(c_ptr), value :: client
            integer(c_int) :: rc
        end function
        function c_client_id(client) bind(C, name="chronolog_client_id") result(id)
            import :: c_ptr, c_int64_t
            type(c_ptr), value :: client
            integer(c_int64_t) :: id
        end function
        function c_create_chronicle(client, name, keys, values, count, flags) &
                bind(C, name="chronolog_create_chronicle") result(rc)
            import :: c_ptr, c_int, c_char, c_size_t, c_int32_t
            type(c_ptr), value :: client, keys, values
            character(kind=c_char), intent(in) :: name(*)
            integer(c_size_t), value :: count
            integer(c_int32_t), value :: flags
            integer(c_int) :: rc
        end function
        function c_destroy_chronicle(client, name) bind(C, name="chronolog_destroy_chronicle") result(rc)
            import :: c_ptr, c_int, c_char
            type(c_ptr), value :: client
            character(kind=c_char), intent(in) :: name(*)
            integer(c_int) :: rc
        end function
        function c_acquire_story(client, chronicle, story_name, keys, values, count, flags, story) &
                bind(C, name="chronolog_acquire_story") result(rc)
            import :: c_ptr, c_int, c_char, c_size_t, c_int32_t
            type(c_ptr), value :: client, keys, values
            character(kind=c_char), intent(in) :: chronicle(*), story_name(*)
            integer(c_size_t), value :: count
            integer(c_int32_t), value :: flags
            type(c_ptr), intent(out) :: story
            integer(c_int) :: rc
        end function
        function c_release_story(client, chronicle, story_name) bind(C, name="chronolog_release_story") result(rc)
            import :: c_ptr, c_int, c_char
            type(c_ptr), value :: client
            character(kind=c_char), intent(in) :: chronicle(*), story_name(*)
            integer(c_int) :: rc
        end function
        function c_destroy_story(client, chronicle, story_name) bind(C, name="chronolog_destroy_story") result(rc)
            import :: c_ptr, c_int, c_char
            type(c_ptr), value :: client
            character(kind=c_char), intent(in) :: chronicle(*), story_name(*)
            integer(c_int) :: rc
        end function
        function c_log_event(story, data, length) bind(C, name="chronolog_log_event") result(time)
            import :: c_ptr, c_size_t, c_int64_t
            type(c_ptr), value :: story, data
            integer(c_size_t), value :: length
            integer(c_int64_t) :: time
        end function
        function c_log(story, data, length, time) bind(C, name="chronolog_log") result(rc)
            import :: c_ptr, c_size_t, c_int64_t, c_int
            type(c_ptr), value :: story, data
            integer(c_size_t), value :: length
            integer(c_int64_t), intent(out) :: time
            integer(c_int) :: rc
        end function
        function c_flush(story, durable, durable_events) bind(C, name="chronolog_flush") result(rc)
            import :: c_ptr, c_int, c_int64_t
            type(c_ptr), value :: story
            integer(c_int), value :: durable
            integer(c_int64_t), intent(out) :: durable_events
            integer(c_int) :: rc
        end function
        function c_show_chronicles(client, fn, user) bind(C, name="chronolog_show_chronicles") result(rc)
            import :: c_ptr, c_int, c_funptr
            type(c_ptr), value :: client, user
            type(c_funptr), value :: fn
            integer(c_int) :: rc
        end function
        function c_show_stories(client, chronicle, fn, user) bind(C, name="chronolog_show_stories") result(rc)
            import :: c_ptr, c_int, c_char, c_funptr
            type(c_ptr), value :: client, user
            character(kind=c_char), intent(in) :: chronicle(*)
            type(c_funptr), value :: fn
            integer(c_int) :: rc
        end function
        function c_replay(client, chronicle, story_name, start_time, end_time, fn, user) bind(C, name="chronolog_replay") result(rc)
            import :: c_ptr, c_int, c_char, c_int64_t, c_funptr
            type(c_ptr), value :: client, user
            character(kind=c_char), intent(in) :: chronicle(*), story_name(*)
            integer(c_int64_t), value :: start_time, end_time
            type(c_funptr), value :: fn
            integer(c_int) :: rc
        end function
        function c_replay_last(client, chronicle, story_name, count, fn, user, complete_before) &
                bind(C, name="chronolog_replay_last") result(rc)
            import :: c_ptr, c_int, c_char, c_int64_t, c_funptr
            type(c_ptr), value :: client, user
            character(kind=c_char), intent(in) :: chronicle(*), story_name(*)
            integer(c_int64_t), value :: count
            type(c_funptr), value :: fn
            integer(c_int64_t), intent(out) :: complete_before
            integer(c_int) :: rc
        end function
        function c_replay_open(client, chronicle, story_name, start_time, end_time, cursor) &
                bind(C, name="chronolog_replay_open") result(rc)
            import :: c_ptr, c_int, c_char, c_int64_t
            type(c_ptr), value :: client
            character(kind=c_char), intent(in) :: chronicle(*), story_name(*)
            integer(c_int64_t), value :: start_time, end_time
            type(c_ptr), intent(out) :: cursor
            integer(c_int) :: rc
        end function
        function c_replay_next(cursor, events, capacity, count) bind(C, name="chronolog_replay_next") result(rc)
            import :: c_ptr, c_int, c_size_t
            type(c_ptr), value :: cursor, events
            integer(c_size_t), value :: capacity
            integer(c_size_t), intent(out) :: count
            integer(c_int) :: rc
        end function
        function c_replay_close(cursor) bind(C, name="chronolog_replay_close") result(rc)
            import :: c_ptr, c_int
            type(c_ptr), value :: cursor
            integer(c_int) :: rc
        end function
        function c_code_name(code) bind(C, name="chronolog_code_name") result(name)
            import :: c_ptr, c_int
            integer(c_int), value :: code
            type(c_ptr) :: name
        end function
        function c_strerror(code) bind(C, name="chronolog_strerror") result(text)
            import :: c_ptr, c_int
            integer(c_int), value :: code
            type(c_ptr) :: text
        end function
        function c_strlen(s) bind(C, name="strlen") result(n)
            import :: c_ptr, c_size_t
            type(c_ptr), value :: s
            integer(c_size_t) :: n
        end function
    end interface

    !> A NUL-terminated copy of a name (trailing blanks removed), kept while a call needs it.
    type :: c_string
        character(kind=c_char, len=:), allocatable :: text
    end type

    !> NUL-terminated copies of attribute keys and values and the pointer arrays C reads.
    type :: c_attributes
        type(c_string), allocatable :: keys(:), values(:)
        type(c_ptr), allocatable :: key_ptrs(:), value_ptrs(:)
        integer(c_size_t) :: count = 0
    end type

contains

    ! ---- Helpers ----

    !> `text` without trailing blanks, NUL-terminated.
    pure function cstr(text) result(s)
        character(len=*), intent(in) :: text
        character(kind=c_char, len=:), allocatable :: s
        s = trim(text) // c_null_char
    end function

    !> The attributes `keys(i) = values(i)` as C arrays; CL_ERR_INVALID_ARG in `rc` when only one
    !> of them is given or their sizes differ.
    subroutine make_attributes(keys, values, a, rc)
        character(len=*), intent(in), optional :: keys(:), values(:)
        type(c_attributes), target, intent(out) :: a
        integer(c_int), intent(out) :: rc
        integer :: i, n
        rc = CL_SUCCESS
        if (present(keys) .neqv. present(values)) then
            rc = CL_ERR_INVALID_ARG
            return
        end if
        if (.not. present(keys)) return
        if (size(keys) /= size(values)) then
            rc = CL_ERR_INVALID_ARG
            return
        end if
        n = size(keys)
        allocate (a%keys(n), a%values(n), a%key_ptrs(max(n, 1)), a%value_ptrs(max(n, 1)))
        do i = 1, n
            a%keys(i)%text = cstr(keys(i))
            a%values(i)%text = cstr(values(i))
            a%key_ptrs(i) = c_loc(a%keys(i)%text)
            a%value_ptrs(i) = c_loc(a%values(i)%text)
        end do
        a%count = int(n, c_size_t)
    end subroutine

    !> The C pointer arrays of `a` (NULL when there are no attributes).
    subroutine attribute_pointers(a, keys, values)
        type(c_attributes), target, intent(in) :: a
        type(c_ptr), intent(out) :: keys, values
        keys = c_null_ptr
        values = c_null_ptr
        if (a%count == 0) return
        keys = c_loc(a%key_ptrs)
        values = c_loc(a%value_ptrs)
    end subroutine

    !> A Fortran copy of a NUL-terminated C string of static storage.
    function fstr(p) result(text)
        type(c_ptr), intent(in) :: p
        character(len=:), allocatable :: text
        character(kind=c_char), pointer :: chars(:)
        integer :: i, n
        if (.not. c_associated(p)) then
            text = ""
            return
        end if
        n = int(c_strlen(p))
        call c_f_pointer(p, chars, [n])
        allocate (character(len=n) :: text)
        do i = 1, n
            text(i:i) = chars(i)
        end do
    end function

    ! ---- Job ----

    !> chronolog_join: joins the job as an application rank (MPMD); `app_comm` receives the
    !> application's communicator (freed by chronolog_finalize). Collective over MPI_COMM_WORLD.
    function chronolog_join(app_comm, config_path) result(rc)
        integer, intent(out) :: app_comm
        character(len=*), intent(in), optional :: config_path
        integer(c_int) :: rc
        character(kind=c_char, len=:), allocatable, target :: path
        integer(c_int) :: comm
        if (present(config_path)) then
            path = cstr(config_path)
            rc = c_join(c_loc(path), comm)
        else
            rc = c_join(c_null_ptr, comm)
        end if
        app_comm = int(comm)
    end function

    !> chronolog_attach: joins a running service (jobs/chronolog-service.sh) from a program that is
    !> not part of its job. `run_dir` names the service's run directory; without it, the
    !> configuration's attach.runDirectory, else the default of the portal port (0: 5555).
    !> Returns CL_SUCCESS, CL_ERR_NO_CONNECTION (no service there), CL_ERR_NOT_AUTHORIZED (token
    !> refused) or CL_ERR_INVALID_ARG (already joined or attached). See chronolog.h.
    function chronolog_attach(run_dir, portal_port) result(rc)
        character(len=*), intent(in), optional :: run_dir
        integer, intent(in), optional :: portal_port
        integer(c_int) :: rc
        character(kind=c_char, len=:), allocatable, target :: dir
        integer(c_int) :: port
        port = 0
        if (present(portal_port)) port = int(portal_port, c_int)
        if (present(run_dir)) then
            dir = cstr(run_dir)
            rc = c_attach(c_loc(dir), port)
        else
            rc = c_attach(c_null_ptr, port)
        end if
    end function

    !> chronolog_init: embedded mode, the service made of some of `comm`'s ranks. Returns with
    !> `is_client` true and `app_comm` the clients' communicator on client ranks; on service ranks
    !> after the clients finalized, `is_client` false. Collective over `comm` (MPI_COMM_WORLD or
    !> any intracommunicator: the job is made of its ranks alone). MPI must be initialised
    !> (MPI_Init_thread with MPI_THREAD_MULTIPLE) before.
    function chronolog_init(comm, app_comm, is_client, config_path) result(rc)
        integer, intent(in) :: comm
        integer, intent(out) :: app_comm
        logical, intent(out) :: is_client
        character(len=*), intent(in), optional :: config_path
        integer(c_int) :: rc
        character(kind=c_char, len=:), allocatable, target :: path
        integer(c_int) :: app, client
        client = 0
        if (present(config_path)) then
            path = cstr(config_path)
            rc = c_init(int(comm, c_int), c_loc(path), app, client)
        else
            rc = c_init(int(comm, c_int), c_null_ptr, app, client)
        end if
        app_comm = int(app)
        is_client = client /= 0
    end function

    !> chronolog_finalize: leaves the job (disconnects what is still connected). Collective over
    !> the job's ranks (MPI_COMM_WORLD, or chronolog_init's `comm`).
    function chronolog_finalize() result(rc)
        integer(c_int) :: rc
        rc = c_finalize()
    end function

    ! ---- Clients ----

    !> chronolog_connect: a new client in `mode` (CHRONOLOG_WRITER or CHRONOLOG_READER).
    function chronolog_connect(mode, client) result(rc)
        integer(c_int), intent(in) :: mode
        type(chronolog_client), intent(out) :: client
        integer(c_int) :: rc
        rc = c_connect(mode, client%ptr)
    end function

    !> chronolog_disconnect: flushes and releases the client's stories, closes its session.
    function chronolog_disconnect(client) result(rc)
        type(chronolog_client), intent(in) :: client
        integer(c_int) :: rc
        rc = c_disconnect(client%ptr)
    end function

    !> chronolog_client_reachable: CL_SUCCESS while the client still reaches the service;
    !> CL_ERR_NO_CONNECTION once disconnected, finalized, or dropped by an attach gateway.
    function chronolog_client_reachable(client) result(rc)
        type(chronolog_client), intent(in) :: client
        integer(c_int) :: rc
        rc = c_client_reachable(client%ptr)
    end function

    !> chronolog_client_id: the client's id (its events' client_id), 0 if not connected.
    function chronolog_client_id(client) result(id)
        type(chronolog_client), intent(in) :: client
        integer(c_int64_t) :: id
        id = c_client_id(client%ptr)
    end function

    !> chronolog_create_chronicle, with optional attributes `keys(i) = values(i)`.
    function chronolog_create_chronicle(client, name, keys, values) result(rc)
        type(chronolog_client), intent(in) :: client
        character(len=*), intent(in) :: name
        character(len=*), intent(in), optional :: keys(:), values(:)
        integer(c_int) :: rc
        type(c_attributes), target :: a
        type(c_ptr) :: k, v
        call make_attributes(keys, values, a, rc)
        if (rc /= CL_SUCCESS) return
        call attribute_pointers(a, k, v)
        rc = c_create_chronicle(client%ptr, cstr(name), k, v, a%count, 0_c_int32_t)
    end function

    !> chronolog_destroy_chronicle.
    function chronolog_destroy_chronicle(client, name) result(rc)
        type(chronolog_client), intent(in) :: client
        character(len=*), intent(in) :: name
        integer(c_int) :: rc
        rc = c_destroy_chronicle(client%ptr, cstr(name))
    end function

    !> chronolog_acquire_story (creating it if needed), with optional attributes.
    function chronolog_acquire_story(client, chronicle, story_name, story, keys, values) result(rc)
        type(chronolog_client), intent(in) :: client
        character(len=*), intent(in) :: chronicle, story_name
        type(chronolog_story), intent(out) :: story
        character(len=*), intent(in), optional :: keys(:), values(:)
        integer(c_int) :: rc
        type(c_attributes), target :: a
        type(c_ptr) :: k, v
        call make_attributes(keys, values, a, rc)
        if (rc /= CL_SUCCESS) return
        call attribute_pointers(a, k, v)
        rc = c_acquire_story(client%ptr, cstr(chronicle), cstr(story_name), k, v, a%count, 0_c_int32_t, story%ptr)
    end function

    !> chronolog_release_story: ships the story's events, waits until its keeper holds them, releases it.
    function chronolog_release_story(client, chronicle, story_name) result(rc)
        type(chronolog_client), intent(in) :: client
        character(len=*), intent(in) :: chronicle, story_name
        integer(c_int) :: rc
        rc = c_release_story(client%ptr, cstr(chronicle), cstr(story_name))
    end function

    !> chronolog_destroy_story.
    function chronolog_destroy_story(client, chronicle, story_name) result(rc)
        type(chronolog_client), intent(in) :: client
        character(len=*), intent(in) :: chronicle, story_name
        integer(c_int) :: rc
        rc = c_destroy_story(client%ptr, cstr(chronicle), cstr(story_name))
    end function

    ! ---- Events ----

    !> chronolog_log_event: logs every character of `record`; the timestamp, 0 on failure.
    function log_event_text(story, record) result(time)
        type(chronolog_story), intent(in) :: story
        character(len=*), intent(in), target :: record
        integer(c_int64_t) :: time
        time = c_log_event(story%ptr, c_loc(record), int(len(record), c_size_t))
    end function

    !> chronolog_log_event: logs the bytes of `record`; the timestamp, 0 on failure.
    function log_event_bytes(story, record) result(time)
        type(chronolog_story), intent(in) :: story
        integer(c_int8_t), intent(in), target, contiguous :: record(:)
        integer(c_int64_t) :: time
        time = c_log_event(story%ptr, c_loc(record), int(size(record), c_size_t))
    end function

    !> chronolog_log: chronolog_log_event returning a code; `time` receives the timestamp.
    function log_text(story, record, time) result(rc)
        type(chronolog_story), intent(in) :: story
        character(len=*), intent(in), target :: record
        integer(c_int64_t), intent(out), optional :: time
        integer(c_int) :: rc
        integer(c_int64_t) :: t
        rc = c_log(story%ptr, c_loc(record), int(len(record), c_size_t), t)
        if (present(time)) time = t
    end function

    !> chronolog_log for a byte record.
    function log_bytes(story, record, time) result(rc)
        type(chronolog_story), intent(in) :: story
        integer(c_int8_t), intent(in), target, contiguous :: record(:)
        integer(c_int64_t), intent(out), optional :: time
        integer(c_int) :: rc
        integer(c_int64_t) :: t
        rc = c_log(story%ptr, c_loc(record), int(size(record), c_size_t), t)
        if (present(time)) time = t
    end function

    !> chronolog_flush: waits until the keeper holds every event logged before; with `durable`
    !> true, until they are in the HDF5 archive (`durable_events`: this client's durable events).
    function chronolog_flush(story, durable, durable_events) result(rc)
        type(chronolog_story), intent(in) :: story
        logical, intent(in), optional :: durable
        integer(c_int64_t), intent(out), optional :: durable_events
        integer(c_int) :: rc
        integer(c_int) :: flag
        integer(c_int64_t) :: n
        flag = 0
        if (present(durable)) then
            if (durable) flag = 1
        end if
        n = 0
        rc = c_flush(story%ptr, flag, n)
        if (present(durable_events)) durable_events = n
    end function

    ! ---- Listing ----

    !> chronolog_show_chronicles: calls `fn` once per chronicle name, in byte-wise order; `user` is
    !> passed to `fn` (c_null_ptr if absent).
    function chronolog_show_chronicles(client, fn, user) result(rc)
        type(chronolog_client), intent(in) :: client
        procedure(chronolog_name_fn) :: fn
        type(c_ptr), intent(in), optional :: user
        integer(c_int) :: rc
        type(c_ptr) :: u
        u = c_null_ptr
        if (present(user)) u = user
        rc = c_show_chronicles(client%ptr, c_funloc(fn), u)
    end function

    !> chronolog_show_stories: calls `fn` once per story name of `chronicle`, in byte-wise order.
    function chronolog_show_stories(client, chronicle, fn, user) result(rc)
        type(chronolog_client), intent(in) :: client
        character(len=*), intent(in) :: chronicle
        procedure(chronolog_name_fn) :: fn
        type(c_ptr), intent(in), optional :: user
        integer(c_int) :: rc
        type(c_ptr) :: u
        u = c_null_ptr
        if (present(user)) u = user
        rc = c_show_stories(client%ptr, cstr(chronicle), c_funloc(fn), u)
    end function

    !> A copy of the name a chronolog_name_fn receives.
    function chronolog_name_text(name, length) result(text)
        type(c_ptr), intent(in) :: name
        integer(c_size_t), intent(in) :: length
        character(len=:), allocatable :: text
        character(kind=c_char), pointer :: chars(:)
        integer :: i, n
        n = int(length)
        allocate (character(len=n) :: text)
        if (n == 0) return
        call c_f_pointer(name, chars, [n])
        do i = 1, n
            text(i:i) = chars(i)
        end do
    end function

    ! ---- Replay (the client must be connected with CHRONOLOG_READER) ----

    !> chronolog_replay: calls `fn` once per event of [start_time, end_time), in event order; `user` is
    !> passed to `fn` (c_null_ptr if absent).
    function chronolog_replay(client, chronicle, story_name, start_time, end_time, fn, user) result(rc)
        type(chronolog_client), intent(in) :: client
        character(len=*), intent(in) :: chronicle, story_name
        integer(c_int64_t), intent(in) :: start_time, end_time
        procedure(chronolog_event_fn) :: fn
        type(c_ptr), intent(in), optional :: user
        integer(c_int) :: rc
        type(c_ptr) :: u
        u = c_null_ptr
        if (present(user)) u = user
        rc = c_replay(client%ptr, cstr(chronicle), cstr(story_name), start_time, end_time, c_funloc(fn), u)
    end function

    !> chronolog_replay_last: calls `fn` once per event of the story's last `count` events, in event
    !> order ("last N": the keepers' memory, the archive for the rest); `complete_before` receives the
    !> time before which a recorded story's events are complete (0 once it is no longer recorded).
    function chronolog_replay_last(client, chronicle, story_name, count, fn, user, complete_before) result(rc)
        type(chronolog_client), intent(in) :: client
        character(len=*), intent(in) :: chronicle, story_name
        integer(c_int64_t), intent(in) :: count
        procedure(chronolog_event_fn) :: fn
        type(c_ptr), intent(in), optional :: user
        integer(c_int64_t), intent(out), optional :: complete_before
        integer(c_int) :: rc
        type(c_ptr) :: u
        integer(c_int64_t) :: before
        u = c_null_ptr
        if (present(user)) u = user
        rc = c_replay_last(client%ptr, cstr(chronicle), cstr(story_name), count, c_funloc(fn), u, before)
        if (present(complete_before)) complete_before = before
    end function

    !> chronolog_replay_open: starts a replay of [start_time, end_time) read in batches.
    function chronolog_replay_open(client, chronicle, story_name, start_time, end_time, cursor) result(rc)
        type(chronolog_client), intent(in) :: client
        character(len=*), intent(in) :: chronicle, story_name
        integer(c_int64_t), intent(in) :: start_time, end_time
        type(chronolog_cursor), intent(out) :: cursor
        integer(c_int) :: rc
        rc = c_replay_open(client%ptr, cstr(chronicle), cstr(story_name), start_time, end_time, cursor%ptr)
    end function

    !> chronolog_replay_next: the next events, up to size(events); `count` receives how many
    !> (0 once the replay is over).
    function chronolog_replay_next(cursor, events, count) result(rc)
        type(chronolog_cursor), intent(in) :: cursor
        type(chronolog_event), intent(inout), target, contiguous :: events(:)
        integer, intent(out) :: count
        integer(c_int) :: rc
        integer(c_size_t) :: n
        n = 0
        if (size(events) == 0) then
            rc = c_replay_next(cursor%ptr, c_null_ptr, 0_c_size_t, n)
        else
            rc = c_replay_next(cursor%ptr, c_loc(events), int(size(events), c_size_t), n)
        end if
        count = int(n)
    end function

    !> chronolog_replay_close: stops the replay and releases its events.
    function chronolog_replay_close(cursor) result(rc)
        type(chronolog_cursor), intent(in) :: cursor
        integer(c_int) :: rc
        rc = c_replay_close(cursor%ptr)
    end function

    !> A copy of a replayed event's record as text.
    function chronolog_event_record(event) result(text)
        type(chronolog_event), intent(in) :: event
        character(len=:), allocatable :: text
        character(kind=c_char), pointer :: chars(:)
        integer :: i, n
        n = int(event%length)
        allocate (character(len=n) :: text)
        if (n == 0) return
        call c_f_pointer(event%data, chars, [n])
        do i = 1, n
            text(i:i) = chars(i)
        end do
    end function

    !> A copy of a replayed event's record as bytes.
    function chronolog_event_bytes(event) result(bytes)
        type(chronolog_event), intent(in) :: event
        integer(c_int8_t), allocatable :: bytes(:)
        integer(c_int8_t), pointer :: p(:)
        allocate (bytes(event%length))
        if (event%length == 0) return
        call c_f_pointer(event%data, p, [event%length])
        bytes = p
    end function

    ! ---- Codes ----

    !> ChronoLog's name of a code ("CL_ERR_NOT_EXIST").
    function chronolog_code_name(code) result(name)
        integer(c_int), intent(in) :: code
        character(len=:), allocatable :: name
        name = fstr(c_code_name(code))
    end function

    !> A short description of a code.
    function chronolog_strerror(code) result(text)
        integer(c_int), intent(in) :: code
        character(len=:), allocatable :: text
        text = fstr(c_strerror(code))
    end function
end module chronolog
