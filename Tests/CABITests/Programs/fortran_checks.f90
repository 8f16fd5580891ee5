! Every call of the Fortran module (`use chronolog`), checked from Fortran. Run MPMD beside the
! service:  mpirun -n 4 chronolog-job --workload none : -n 2 ./fortran_checks
! Prints CHECK/FAIL lines and "CHECKS passed=N failed=M"; stops with 1 if a check failed.
! The code constants are checked against the library's names for them (chronolog_code_name,
! which names codes from the Swift table), so a constant that drifts fails here too.
module fortran_checks_support
    use chronolog
    use, intrinsic :: iso_c_binding
    implicit none
    integer :: passed = 0, failed = 0

    !> What the replay callback saw.
    type :: seen_events
        integer :: count = 0
        integer :: stop_after = 0
        integer(c_int64_t) :: last_time = 0
        logical :: ordered = .true.
        character(len=16) :: first = ''
    end type

    !> What the listing callback saw.
    type :: seen_names
        integer :: count = 0
        character(len=64) :: first = ''
    end type

contains

    subroutine expect(name, ok)
        character(len=*), intent(in) :: name
        logical, intent(in) :: ok
        if (ok) then
            passed = passed + 1
            print '(2a)', 'CHECK ', name
        else
            failed = failed + 1
            print '(2a)', 'FAIL ', name
        end if
    end subroutine

    subroutine expect_rc(name, got, want)
        character(len=*), intent(in) :: name
        integer(c_int), intent(in) :: got, want
        if (got == want) then
            passed = passed + 1
            print '(4a)', 'CHECK ', name, ' -> ', chronolog_code_name(got)
        else
            failed = failed + 1
            print '(4a,i0,3a)', 'FAIL ', name, ': got ', chronolog_code_name(got), got, ', want ', chronolog_code_name(want)
        end if
    end subroutine

    !> The replay callback: counts events, keeps the first record, stops after `stop_after`.
    integer(c_int) function on_event(event, user) bind(C)
        type(chronolog_event), intent(in) :: event
        type(c_ptr), value :: user
        type(seen_events), pointer :: seen
        call c_f_pointer(user, seen)
        if (seen%count == 0) seen%first = chronolog_event_record(event)
        if (event%time < seen%last_time) seen%ordered = .false.
        seen%last_time = event%time
        seen%count = seen%count + 1
        on_event = 0
        if (seen%stop_after > 0 .and. seen%count >= seen%stop_after) on_event = 1
    end function

    !> The listing callback: counts names, keeps the first.
    integer(c_int) function on_name(name, length, user) bind(C)
        type(c_ptr), value :: name
        integer(c_size_t), value :: length
        type(c_ptr), value :: user
        type(seen_names), pointer :: seen
        call c_f_pointer(user, seen)
        if (seen%count == 0) seen%first = chronolog_name_text(name, length)
        seen%count = seen%count + 1
        on_name = 0
    end function

    !> Each constant is the code the library names after it.
    subroutine code_constants()
        call named(CL_SUCCESS, 'CL_SUCCESS')
        call named(CL_ERR_UNKNOWN, 'CL_ERR_UNKNOWN')
        call named(CL_ERR_INVALID_ARG, 'CL_ERR_INVALID_ARG')
        call named(CL_ERR_NOT_EXIST, 'CL_ERR_NOT_EXIST')
        call named(CL_ERR_ACQUIRED, 'CL_ERR_ACQUIRED')
        call named(CL_ERR_NOT_ACQUIRED, 'CL_ERR_NOT_ACQUIRED')
        call named(CL_ERR_CHRONICLE_EXISTS, 'CL_ERR_CHRONICLE_EXISTS')
        call named(CL_ERR_NO_KEEPERS, 'CL_ERR_NO_KEEPERS')
        call named(CL_ERR_NO_CONNECTION, 'CL_ERR_NO_CONNECTION')
        call named(CL_ERR_NOT_AUTHORIZED, 'CL_ERR_NOT_AUTHORIZED')
        call named(CL_ERR_NO_PLAYERS, 'CL_ERR_NO_PLAYERS')
        call named(CL_ERR_NOT_READER_MODE, 'CL_ERR_NOT_READER_MODE')
        call named(CL_ERR_QUERY_TIMED_OUT, 'CL_ERR_QUERY_TIMED_OUT')
        call named(CL_ERR_PROTOCOL_VERSION_MISMATCH, 'CL_ERR_PROTOCOL_VERSION_MISMATCH')
        call named(CL_ERR_PARTIAL_RESULT, 'CL_ERR_PARTIAL_RESULT')
        call expect('strerror describes a code', len(chronolog_strerror(CL_ERR_NOT_EXIST)) > 0)
    contains
        subroutine named(code, name)
            integer(c_int), intent(in) :: code
            character(len=*), intent(in) :: name
            call expect('code '//name//' is named '//chronolog_code_name(code), chronolog_code_name(code) == name)
        end subroutine
    end subroutine

    subroutine before_join()
        type(chronolog_client) :: c
        type(chronolog_story) :: s
        integer(c_int64_t) :: t
        call expect_rc('connect before join', chronolog_connect(CHRONOLOG_WRITER, c), CL_ERR_NO_CONNECTION)
        call expect_rc('finalize before join', chronolog_finalize(), CL_ERR_NO_CONNECTION)
        call expect_rc('log before join', chronolog_log(s, 'x', t), CL_ERR_NO_CONNECTION)
        call expect('log_event before join gives 0', chronolog_log_event(s, 'x') == 0)
    end subroutine

    subroutine chronicles(w, chron)
        type(chronolog_client), intent(in) :: w
        character(len=*), intent(in) :: chron
        call expect_rc('create: keys without values', chronolog_create_chronicle(w, chron, keys=['owner']), CL_ERR_INVALID_ARG)
        call expect_rc('create: 2 keys, 1 value', chronolog_create_chronicle(w, chron, ['owner', 'lang '], ['x']), &
                       CL_ERR_INVALID_ARG)
        call expect_rc('create: name with /', chronolog_create_chronicle(w, 'a/b'), CL_ERR_INVALID_ARG)
        call expect_rc('create: empty name', chronolog_create_chronicle(w, '   '), CL_ERR_INVALID_ARG)
        call expect_rc('create with attributes (padded names)', &
                       chronolog_create_chronicle(w, chron//'   ', ['owner   ', 'language'], ['fortran', 'F2018  ']), CL_SUCCESS)
        call expect_rc('create: exists', chronolog_create_chronicle(w, chron), CL_ERR_CHRONICLE_EXISTS)
        call expect_rc('destroy: missing chronicle', chronolog_destroy_chronicle(w, 'no-such-chronicle'), CL_ERR_NOT_EXIST)
    end subroutine

    subroutine events(w, chron, s)
        type(chronolog_client), intent(in) :: w
        character(len=*), intent(in) :: chron
        type(chronolog_story), intent(out) :: s
        type(chronolog_story) :: again
        integer(c_int64_t) :: t, t2, durable
        character(len=:), allocatable :: big
        call expect_rc('acquire: missing chronicle', chronolog_acquire_story(w, 'no-such-chronicle', 's', s), CL_ERR_NOT_EXIST)
        call expect_rc('acquire', chronolog_acquire_story(w, chron, 'events', s, ['unit'], ['none']), CL_SUCCESS)
        call expect_rc('acquire twice', chronolog_acquire_story(w, chron, 'events', again), CL_SUCCESS)
        call expect('acquire twice gives the same handle', c_associated(s%ptr, again%ptr))
        call expect_rc('log text', chronolog_log(s, 'hello', t), CL_SUCCESS)
        call expect('log gives a timestamp', t > 0)
        call expect_rc('log bytes', chronolog_log(s, [1_c_int8_t, 2_c_int8_t, 3_c_int8_t]), CL_SUCCESS)
        t2 = chronolog_log_event(s, '')
        call expect('log_event of an empty record gives a later timestamp', t2 >= t)
        big = repeat('b', 65537)
        call expect_rc('log: one byte over story.maxEventBytes', chronolog_log(s, big), CL_ERR_INVALID_ARG)
        call expect('log_event: over story.maxEventBytes gives 0', chronolog_log_event(s, big) == 0)
        call expect_rc('flush', chronolog_flush(s), CL_SUCCESS)
        call expect_rc('durable flush', chronolog_flush(s, durable=.true., durable_events=durable), CL_SUCCESS)
        call expect('durable flush counts the 3 accepted events', durable == 3)
        call expect_rc('destroy story: acquired', chronolog_destroy_story(w, chron, 'events'), CL_ERR_ACQUIRED)
        call expect_rc('destroy chronicle: a story acquired', chronolog_destroy_chronicle(w, chron), CL_ERR_ACQUIRED)
    end subroutine

    subroutine callback_replays(w, r, chron)
        type(chronolog_client), intent(in) :: w, r
        character(len=*), intent(in) :: chron
        type(seen_events), target :: seen, one, last
        type(seen_names), target :: names, listed
        integer(c_int64_t), parameter :: forever = huge(0_c_int64_t)
        integer(c_int64_t) :: before
        call expect_rc('replay: writer-only client', &
                       chronolog_replay(w, chron, 'events', 0_c_int64_t, forever, on_event, c_loc(seen)), CL_ERR_NOT_READER_MODE)
        call expect_rc('replay', chronolog_replay(r, chron, 'events', 0_c_int64_t, forever, on_event, c_loc(seen)), CL_SUCCESS)
        call expect('replay sees the 3 events in time order, hello first', &
                    seen%count == 3 .and. seen%ordered .and. seen%first == 'hello')
        one%stop_after = 1
        call expect_rc('replay stopped by the callback', chronolog_replay(r, chron, 'events', 0_c_int64_t, forever, on_event, &
                                                                          c_loc(one)), CL_SUCCESS)
        call expect('the callback ran once', one%count == 1)
        call expect_rc('replay: missing story', chronolog_replay(r, chron, 'no-such-story', 0_c_int64_t, forever, on_event, &
                                                                 c_loc(one)), CL_ERR_NOT_EXIST)
        call expect_rc('replay_last', chronolog_replay_last(r, chron, 'events', 2_c_int64_t, on_event, c_loc(last), before), &
                       CL_SUCCESS)
        call expect('replay_last gives the last 2 events (the bytes, then the empty record), in order, complete', &
                    last%count == 2 .and. last%ordered .and. last%first(1:1) == achar(1) .and. last%last_time < before)
        call expect_rc('show stories', chronolog_show_stories(w, chron, on_name, c_loc(names)), CL_SUCCESS)
        call expect('show stories: the one story, events', names%count == 1 .and. names%first == 'events')
        call expect_rc('show chronicles', chronolog_show_chronicles(w, on_name, c_loc(listed)), CL_SUCCESS)
        call expect('show chronicles: at least this one', listed%count >= 1)
    end subroutine

    subroutine cursor_replays(r, chron)
        type(chronolog_client), intent(in) :: r
        character(len=*), intent(in) :: chron
        type(chronolog_cursor) :: cur
        type(chronolog_event) :: batch(2)
        integer :: n
        integer(c_int64_t), parameter :: forever = huge(0_c_int64_t)
        call expect_rc('cursor: open', chronolog_replay_open(r, chron, 'events', 0_c_int64_t, forever, cur), CL_SUCCESS)
        call expect_rc('cursor: capacity 0', chronolog_replay_next(cur, batch(1:0), n), CL_ERR_INVALID_ARG)
        call expect_rc('cursor: first batch', chronolog_replay_next(cur, batch, n), CL_SUCCESS)
        call expect('cursor: 2 events, hello then bytes 1 2 3', n == 2 .and. chronolog_event_record(batch(1)) == 'hello' &
                    .and. all_equal(chronolog_event_bytes(batch(2)), [1_c_int8_t, 2_c_int8_t, 3_c_int8_t]))
        call expect_rc('cursor: second batch', chronolog_replay_next(cur, batch, n), CL_SUCCESS)
        call expect('cursor: the empty record last', n == 1 .and. batch(1)%length == 0 .and. chronolog_event_record(batch(1)) == '')
        call expect_rc('cursor: end', chronolog_replay_next(cur, batch, n), CL_SUCCESS)
        call expect('cursor: 0 at the end', n == 0)
        call expect_rc('cursor: close', chronolog_replay_close(cur), CL_SUCCESS)
        call expect_rc('cursor: next after close', chronolog_replay_next(cur, batch, n), CL_ERR_INVALID_ARG)
        call expect_rc('cursor: close twice', chronolog_replay_close(cur), CL_SUCCESS)
    end subroutine

    logical function all_equal(a, b)
        integer(c_int8_t), intent(in) :: a(:), b(:)
        all_equal = size(a) == size(b)
        if (all_equal) all_equal = all(a == b)
    end function

    subroutine releases(w, chron, s)
        type(chronolog_client), intent(in) :: w
        character(len=*), intent(in) :: chron
        type(chronolog_story), intent(in) :: s
        call expect_rc('release', chronolog_release_story(w, chron, 'events'), CL_SUCCESS)
        call expect_rc('release twice', chronolog_release_story(w, chron, 'events'), CL_ERR_NOT_ACQUIRED)
        call expect_rc('log after release', chronolog_log(s, 'late'), CL_ERR_NOT_ACQUIRED)
        call expect_rc('destroy story', chronolog_destroy_story(w, chron, 'events'), CL_SUCCESS)
        call expect_rc('destroy chronicle', chronolog_destroy_chronicle(w, chron), CL_SUCCESS)
        call expect_rc('reachable', chronolog_client_reachable(w), CL_SUCCESS)
        call expect_rc('disconnect', chronolog_disconnect(w), CL_SUCCESS)
        call expect_rc('disconnect twice', chronolog_disconnect(w), CL_ERR_NO_CONNECTION)
        call expect_rc('reachable after disconnect', chronolog_client_reachable(w), CL_ERR_NO_CONNECTION)
        call expect('a disconnected client has id 0', chronolog_client_id(w) == 0)
    end subroutine
end module fortran_checks_support

program fortran_checks
    use mpi
    use chronolog
    use fortran_checks_support
    use, intrinsic :: iso_c_binding
    implicit none
    integer :: provided, ierr, app, rank, size, one, total
    type(chronolog_client) :: w, r, x
    type(chronolog_story) :: s
    character(len=32) :: chron

    call MPI_Init_thread(MPI_THREAD_MULTIPLE, provided, ierr)
    call code_constants()
    call before_join()
    call expect_rc('join', chronolog_join(app), CL_SUCCESS)
    call MPI_Comm_rank(app, rank, ierr)
    call MPI_Comm_size(app, size, ierr)
    one = 1
    call MPI_Allreduce(one, total, 1, MPI_INTEGER, MPI_SUM, app, ierr)
    call expect('app_comm holds the application ranks only', total == size .and. size == 2)
    call expect_rc('join twice', chronolog_join(app), CL_ERR_INVALID_ARG)
    call expect_rc('connect writer', chronolog_connect(CHRONOLOG_WRITER, w), CL_SUCCESS)
    call expect_rc('connect reader', chronolog_connect(CHRONOLOG_READER, r), CL_SUCCESS)
    call expect_rc('connect: unknown mode', chronolog_connect(7_c_int, x), CL_ERR_INVALID_ARG)
    call expect('a connected client has an id', chronolog_client_id(w) > 0)
    write (chron, '(a,i0)') 'fortran-', rank
    call chronicles(w, trim(chron))
    call events(w, trim(chron), s)
    call callback_replays(w, r, trim(chron))
    call cursor_replays(r, trim(chron))
    call releases(w, trim(chron), s)
    ! r stays connected: chronolog_finalize disconnects it.
    call expect_rc('finalize', chronolog_finalize(), CL_SUCCESS)
    call expect_rc('finalize twice', chronolog_finalize(), CL_ERR_NO_CONNECTION)
    call expect_rc('connect after finalize', chronolog_connect(CHRONOLOG_WRITER, w), CL_ERR_NO_CONNECTION)
    print '(a,i0,a,i0)', 'CHECKS passed=', passed, ' failed=', failed
    call MPI_Finalize(ierr)
    if (failed > 0) error stop 1
end program fortran_checks
