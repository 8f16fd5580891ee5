/*
 * chronolog.h — the C interface of ChronoLog-Swift (libchronolog).
 *
 * C99, usable from C++. An MPI application logs events in-process into the ChronoLog-Swift
 * service of its own MPI job, launched MPMD:
 *
 *     mpirun -n 4 chronolog-job --workload none : -n 8 ./app
 *
 * The application calls MPI_Init_thread(MPI_THREAD_MULTIPLE) (or lets chronolog_join start
 * MPI), then chronolog_join, which returns the communicator of the application's own ranks (use
 * it instead of MPI_COMM_WORLD, which also holds the service ranks). Or, embedded, the
 * application runs alone (`mpirun -n N ./app`) and chronolog_init makes the service out of some
 * of its ranks. Calls mirror ChronoLog's
 * client: connect, create a chronicle, acquire a story, log events, flush, replay, release,
 * disconnect. chronolog_finalize ends the rank's part in the job.
 *
 * Return codes are ChronoLog's integers (CL_SUCCESS, CL_ERR_*), the same table as the Swift API
 * (ReturnCode). Functions returning int return one of them.
 *
 * Threads: after chronolog_join, any thread may call any function except chronolog_join,
 * chronolog_init and chronolog_finalize, which the thread that calls MPI collectives calls, while no other call of
 * this library runs.
 *
 * Handles (chronolog_client, chronolog_story, chronolog_cursor) are opaque. They stay safe to
 * pass until chronolog_finalize, even after disconnect, release or close (calls on them then
 * return the documented code); chronolog_finalize frees them all.
 */
#ifndef CHRONOLOG_H
#define CHRONOLOG_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Return codes (ChronoLog's; the test suite ties them to the Swift table) ---- */

/** Success. */
#define CL_SUCCESS (0)
/** An error without a more specific code (an archive write failed, the job ended with a loss). */
#define CL_ERR_UNKNOWN (-1)
/** Invalid argument: a NULL pointer, a name breaking the rules or not UTF-8, an event longer than
 *  story.maxEventBytes, an unknown client mode, chronolog_join called twice. */
#define CL_ERR_INVALID_ARG (-2)
/** The chronicle or story does not exist. */
#define CL_ERR_NOT_EXIST (-3)
/** The story (or a story of the chronicle) is acquired. */
#define CL_ERR_ACQUIRED (-4)
/** The story is not acquired by this client (also: a story handle used after release). */
#define CL_ERR_NOT_ACQUIRED (-5)
/** The chronicle already exists. */
#define CL_ERR_CHRONICLE_EXISTS (-6)
/** No recording group (keepers) is available; also: the job has no ChronoLog service. */
#define CL_ERR_NO_KEEPERS (-7)
/** Not connected: a call before chronolog_join, after chronolog_finalize, on a disconnected
 *  client, or the service did not answer in time. */
#define CL_ERR_NO_CONNECTION (-8)
/** Not authorized. */
#define CL_ERR_NOT_AUTHORIZED (-9)
/** No player is available to replay the story. */
#define CL_ERR_NO_PLAYERS (-10)
/** A replay through a client connected without CHRONOLOG_READER. */
#define CL_ERR_NOT_READER_MODE (-11)
/** The replay query timed out. */
#define CL_ERR_QUERY_TIMED_OUT (-12)
/** The service speaks another protocol version. */
#define CL_ERR_PROTOCOL_VERSION_MISMATCH (-13)
/** A replay delivered every event it could read, and some events of the range could not be read
 *  (a damaged archive row, the tail a killed writer left uncommitted). ChronoLog 3.2's code. */
#define CL_ERR_PARTIAL_RESULT (-18)

/* ---- Types ---- */

/** A connected client (ChronoLog's Client). Opaque. */
typedef struct chronolog_client chronolog_client;
/** An acquired story (ChronoLog's StoryHandle). Opaque. */
typedef struct chronolog_story chronolog_story;
/** A replay handing out events in batches. Opaque. */
typedef struct chronolog_cursor chronolog_cursor;

/** Client modes for chronolog_connect. */
#define CHRONOLOG_WRITER (0)
/** Writer and reader: the client may also replay stories. */
#define CHRONOLOG_READER (1)

/** One event of a replay. `data` points to `length` record bytes, valid only during the callback
 *  (chronolog_replay) or until the next chronolog_replay_next / chronolog_replay_close. */
typedef struct chronolog_event {
    /** Timestamp: nanoseconds since the epoch, in the job's (visor's) time. */
    uint64_t time;
    /** The id of the client that logged it. */
    uint64_t client_id;
    /** Per client and story: 0, 1, 2, ... in logging order, going on after a release and
     *  re-acquire, and in a story destroyed and made again (the archive hides the earlier
     *  incarnation's events by these indexes). */
    uint32_t index;
    /** Always 0. */
    uint32_t reserved;
    /** The record bytes. */
    const void *data;
    /** The number of record bytes. */
    size_t length;
} chronolog_event;

/** Called once per replayed event, in event order (time, client id, index). Return 0 to go on,
 *  anything else to stop the replay early. */
typedef int (*chronolog_event_fn)(const chronolog_event *event, void *user);

/* ---- Job ---- */

/**
 * Joins the ChronoLog-Swift service of this MPI job as an application rank.
 *
 * Collective over MPI_COMM_WORLD: every rank of the job calls it once (the service ranks, which
 * run chronolog-job, join on their own). Initialises MPI with MPI_THREAD_MULTIPLE if the
 * application has not; an application that initialised MPI must have asked for
 * MPI_THREAD_MULTIPLE.
 *
 * @param config_path  a JSON configuration file, or NULL for $CHRONOLOG_CONFIG or the defaults;
 *                     CHRONOLOG_<KEY> environment variables apply on top. Must describe the same
 *                     deployment as the service's.
 * @param app_comm     receives the communicator of this application's ranks (in an MPMD launch:
 *                     the ranks running the same executable), or NULL if not wanted. Valid until
 *                     chronolog_finalize, which frees it; do not free it yourself.
 * @return CL_SUCCESS;
 *         CL_ERR_INVALID_ARG if already joined or finalized (not collective then), or if on any
 *         application rank the configuration is invalid or MPI was initialised below
 *         MPI_THREAD_MULTIPLE (every application rank then returns the same code, the rank's
 *         part in the job is over and the service ends with status 1; a message goes to stderr);
 *         CL_ERR_NO_KEEPERS if the job cannot be laid out (no service ranks, too few ranks);
 *         CL_ERR_UNKNOWN on every rank when the service cannot use its archive directory (the
 *         message names it). After either, chronolog_join may be called again while MPI runs.
 */
int chronolog_join(const char *config_path, MPI_Comm *app_comm);

/**
 * Embedded mode (Damaris-style): makes the ChronoLog-Swift service out of the application's own
 * ranks, so the application runs alone: `mpirun -n N ./app`. Call it instead of chronolog_join.
 *
 * Collective over `comm`: MPI_COMM_WORLD, or any intracommunicator of the application (say one
 * half of MPI_COMM_WORLD; the other ranks take no part and may compute meanwhile). The job is
 * made of `comm`'s ranks alone, numbered as in `comm`, laid out as chronolog-job lays out its
 * own: rank 0 is the visor and on each node, in rank order, the first ranks are its keepers,
 * grapher and player (deployment.* of the configuration); the other ranks are clients. Initialises MPI (MPI_THREAD_MULTIPLE) if nobody did.
 *
 * On a client rank it returns at once with *is_client = 1 and *app_comm = the communicator of the
 * client ranks of `comm` (use it instead of `comm`); the rank is joined as after chronolog_join and
 * calls chronolog_finalize at the end. On a service rank it serves until every client rank has
 * called chronolog_finalize, then returns with *is_client = 0 and *app_comm = MPI_COMM_NULL; that
 * rank's part is over (chronolog_finalize there returns CL_ERR_NO_CONNECTION).
 *
 * @param comm         the ranks to make the job of (MPI_COMM_WORLD before MPI is initialised).
 * @param config_path  as for chronolog_join.
 * @param app_comm     receives the clients' communicator (freed by chronolog_finalize), or NULL.
 * @param is_client    receives 1 on client ranks, 0 on service ranks.
 * @return CL_SUCCESS; CL_ERR_INVALID_ARG (not collective then: NULL is_client, comm is
 *         MPI_COMM_NULL or an intercommunicator, MPI is not initialised and comm is not
 *         MPI_COMM_WORLD, already joined or finalized; collective: on any rank an invalid
 *         configuration or MPI below MPI_THREAD_MULTIPLE, as for chronolog_join);
 *         CL_ERR_NO_KEEPERS when `comm` is too small for the service and one client (a message on
 *         stderr names the smallest size that works; chronolog_init may then be called again,
 *         with another communicator); CL_ERR_UNKNOWN on a service rank when the job ended with a
 *         failure (events lost), or on every rank when the service cannot use its archive
 *         directory (the message names it).
 */
int chronolog_init(MPI_Comm comm, const char *config_path, MPI_Comm *app_comm, int *is_client);

/**
 * Attaches this process, started on its own (`./app`, or its own `mpirun --ompi-server
 * file:URI`), to a running service (jobs/chronolog-service.sh; docs/ATTACH.md). Call it instead of
 * chronolog_join; then chronolog_connect and every other call work as in-job, with the same codes,
 * and chronolog_finalize detaches. Not collective: each process attaches on its own.
 *
 * Initialises MPI (MPI_THREAD_MULTIPLE) if the application has not, pointing it at the run
 * directory's ompi-server first; an application that initialised MPI itself must run under
 * `mpirun --ompi-server file:RUN_DIR/ompi-server.uri` and at MPI_THREAD_MULTIPLE.
 *
 * @param run_dir      the service's run directory, or NULL for attach.runDirectory of the
 *                     configuration (CHRONOLOG_ATTACH_RUN_DIRECTORY), else
 *                     /tmp/chronolog-<uid>/service-<portal_port>.
 * @param portal_port  the port of the default run directory; 0 or less: 5555.
 * @return CL_SUCCESS; CL_ERR_NO_CONNECTION within a second when the run directory is missing or
 *         stale (its ompi-server does not answer), or when the service does not answer within
 *         attach.connectTimeoutMs; CL_ERR_NOT_AUTHORIZED when the token (the run directory's
 *         `token`, else `token.read`; attach.tokenFile names another) is refused;
 *         CL_ERR_INVALID_ARG if already joined, attached or finalized, for an invalid
 *         configuration, or MPI below MPI_THREAD_MULTIPLE.
 *         When the service stops while the process is attached, its gateway says so: every later
 *         call returns CL_ERR_NO_CONNECTION at once (a story's log_event 0), and so does
 *         chronolog_finalize (which still releases everything of this process).
 */
int chronolog_attach(const char *run_dir, int portal_port);

/**
 * Leaves the job: disconnects every client still connected (flushing and releasing its
 * stories), closes open cursors, tells the service this rank is done, and frees every handle
 * and the application communicator. Finalises MPI if chronolog_join initialised it.
 *
 * Collective over the job's ranks: MPI_COMM_WORLD, or the `comm` of chronolog_init (the service
 * ranks take part on their own); returns once every rank of the job has left. Call it before
 * MPI_Finalize; a rank that calls MPI_Finalize still joined or attached leaves there first, as
 * this call would (MPI_Finalize runs it first, from an attribute of MPI_COMM_SELF), and an
 * attached process that exits without either is detached, and the MPI chronolog_attach started
 * finalised, at exit. Where the program left SIGTERM's default, SIGTERM (scancel, a signalled
 * mpirun) makes the library leave the job as this call would, from a thread of its own and without
 * MPI_Finalize, then end the process of SIGTERM; a program with its own SIGTERM handler should call
 * chronolog_finalize itself.
 *
 * @return CL_SUCCESS; CL_ERR_NO_CONNECTION before chronolog_join or after chronolog_finalize
 *         (not collective then); CL_ERR_UNKNOWN if the job ended with a failure (events lost,
 *         a rank failed).
 */
int chronolog_finalize(void);

/* ---- Clients (not collective) ---- */

/**
 * Creates a client and connects it to the service (measures its clock offset to the visor).
 * Each call makes an independent client.
 *
 * @param mode    CHRONOLOG_WRITER or CHRONOLOG_READER (writer and reader).
 * @param client  receives the client.
 * @return CL_SUCCESS; CL_ERR_INVALID_ARG (NULL client, unknown mode); CL_ERR_NO_CONNECTION
 *         (not joined, finalized, the visor does not answer); CL_ERR_PROTOCOL_VERSION_MISMATCH.
 */
int chronolog_connect(int mode, chronolog_client **client);

/**
 * Disconnects a client: flushes and releases every story it holds, then closes its session.
 * The handle stays safe to pass (calls return CL_ERR_NO_CONNECTION).
 *
 * @return CL_SUCCESS; CL_ERR_INVALID_ARG (NULL); CL_ERR_NO_CONNECTION (not connected, not
 *         joined, or a keeper stalled while flushing).
 */
int chronolog_disconnect(chronolog_client *client);

/**
 * Whether a connected client still reaches the service, without a round trip: not disconnected,
 * the rank not finalized, and for an attached process no goodbye from the service's gateway (the
 * service stopped, or dropped the process after attach.leaseMs without a sign of it, e.g. while it
 * was stopped). Every other call of such a client returns CL_ERR_NO_CONNECTION too.
 *
 * @return CL_SUCCESS; CL_ERR_INVALID_ARG (NULL); CL_ERR_NO_CONNECTION.
 */
int chronolog_client_reachable(chronolog_client *client);

/**
 * The id the visor gave the client at connect (the client_id of its events), or 0 for NULL or
 * a disconnected client.
 */
uint64_t chronolog_client_id(const chronolog_client *client);

/**
 * Creates a chronicle with attributes (kept and returned by the service).
 *
 * @param name    the chronicle's name (UTF-8; the name rules of ChronoLog-Swift apply).
 * @param keys, values  `count` attribute keys and values (UTF-8); may be NULL when count is 0.
 * @param flags   ChronoLog's creation flags: any value is accepted and kept with the chronicle
 *                (ChronoLog's examples pass 1); none changes what the call does.
 * @return CL_SUCCESS; CL_ERR_INVALID_ARG (NULL, bad or non-UTF-8 name or attribute);
 *         CL_ERR_CHRONICLE_EXISTS; CL_ERR_NO_CONNECTION.
 */
int chronolog_create_chronicle(chronolog_client *client, const char *name, const char *const *keys,
                               const char *const *values, size_t count, uint32_t flags);

/**
 * Destroys a chronicle and its stories.
 *
 * @return CL_SUCCESS; CL_ERR_INVALID_ARG; CL_ERR_NOT_EXIST; CL_ERR_ACQUIRED (a story of it is
 *         acquired); CL_ERR_NO_CONNECTION.
 */
int chronolog_destroy_chronicle(chronolog_client *client, const char *name);

/**
 * Acquires a story (creating it if needed). Acquiring a story the client holds already gives
 * the same handle.
 *
 * @param keys, values, count  the story's attributes, as for chronolog_create_chronicle.
 * @param flags   ChronoLog's flags: any value is accepted; none changes what the call does.
 * @param story   receives the handle.
 * @return CL_SUCCESS; CL_ERR_INVALID_ARG; CL_ERR_NOT_EXIST (no such chronicle);
 *         CL_ERR_NO_KEEPERS; CL_ERR_NO_CONNECTION.
 */
int chronolog_acquire_story(chronolog_client *client, const char *chronicle, const char *story_name,
                            const char *const *keys, const char *const *values, size_t count, uint32_t flags,
                            chronolog_story **story);

/**
 * Releases a story the client holds: ships its buffered events, waits until its keeper holds
 * them, then tells the service. The story is recorded until its last holder releases it. Its
 * handle stays safe to pass (calls return CL_ERR_NOT_ACQUIRED).
 *
 * @return CL_SUCCESS; CL_ERR_INVALID_ARG; CL_ERR_NOT_ACQUIRED (this client does not hold it);
 *         CL_ERR_NO_CONNECTION.
 */
int chronolog_release_story(chronolog_client *client, const char *chronicle, const char *story_name);

/**
 * Destroys a story.
 *
 * @return CL_SUCCESS; CL_ERR_INVALID_ARG; CL_ERR_NOT_EXIST; CL_ERR_ACQUIRED;
 *         CL_ERR_NO_CONNECTION.
 */
int chronolog_destroy_story(chronolog_client *client, const char *chronicle, const char *story_name);

/** Called once per name by chronolog_show_chronicles and chronolog_show_stories, in byte-wise
 *  order of the UTF-8 names: `name` points to `length` bytes followed by a NUL, valid only during
 *  the call. Return 0 to go on, anything else to stop the listing. */
typedef int (*chronolog_name_fn)(const char *name, size_t length, void *user);

/**
 * Lists the names of every chronicle (ChronoLog's ShowChronicles), calling `fn` once per name.
 *
 * @return CL_SUCCESS (also when `fn` stopped the listing); CL_ERR_INVALID_ARG (NULL client or
 *         fn); CL_ERR_NO_CONNECTION.
 */
int chronolog_show_chronicles(chronolog_client *client, chronolog_name_fn fn, void *user);

/**
 * Lists the names of a chronicle's stories (ChronoLog's ShowStories), calling `fn` once per name.
 * Destroyed stories are not listed.
 *
 * @return CL_SUCCESS (also when `fn` stopped the listing); CL_ERR_INVALID_ARG (NULL, bad name);
 *         CL_ERR_NOT_EXIST (no such chronicle); CL_ERR_NO_CONNECTION.
 */
int chronolog_show_stories(chronolog_client *client, const char *chronicle, chronolog_name_fn fn, void *user);

/* ---- Events (not collective; any thread, any number of threads per story) ---- */

/**
 * Logs one event whose record is the `length` bytes at `data` (copied; `data` may be NULL when
 * `length` is 0: an empty record is stored like any other). Buffered and batched: no message per
 * event. Waits only when the story's keeper is behind (back-pressure, nothing is dropped).
 *
 * @return the event's timestamp (ns, job time); 0 on failure: NULL story or data, a record
 *         longer than story.maxEventBytes, a released story, not joined, the keeper unreachable.
 *         chronolog_log gives the code.
 */
uint64_t chronolog_log_event(chronolog_story *story, const void *data, size_t length);

/**
 * chronolog_log_event returning a code.
 *
 * @param time  receives the timestamp; may be NULL.
 * @return CL_SUCCESS; CL_ERR_INVALID_ARG (NULL story, NULL data with length > 0, record longer
 *         than story.maxEventBytes); CL_ERR_NOT_ACQUIRED (released or disconnected);
 *         CL_ERR_NO_CONNECTION (not joined, finalized, keeper unreachable).
 */
int chronolog_log(chronolog_story *story, const void *data, size_t length, uint64_t *time);

/**
 * Ships the events buffered so far and waits until the keeper holds every event logged before
 * the call. With `durable` non-zero, waits until they are in the HDF5 archive and flushed to the
 * file (they survive the job being killed right after; waits for the next archive round).
 *
 * @param durable_events  with `durable`, receives the number of this client's events of the
 *                        story that are durable; may be NULL.
 * @return CL_SUCCESS; CL_ERR_INVALID_ARG (NULL story); CL_ERR_NOT_ACQUIRED (released);
 *         CL_ERR_UNKNOWN (durable: an archive write failed for some); CL_ERR_NO_CONNECTION.
 */
int chronolog_flush(chronolog_story *story, int durable, uint64_t *durable_events);

/* ---- Replay (not collective; the client must be connected with CHRONOLOG_READER) ---- */

/**
 * Replays every event of a story with start <= time < end, in event order, calling `fn` once
 * per event. Sees events not archived yet (as soon as their batch reached a keeper). The story
 * need not be acquired. An empty range returns CL_SUCCESS at once.
 *
 * @return CL_SUCCESS (also when `fn` stopped the replay); CL_ERR_PARTIAL_RESULT after `fn` saw
 *         every event that could be read, when some could not (a damaged archive row);
 *         CL_ERR_INVALID_ARG (NULL, bad name); CL_ERR_NOT_READER_MODE; CL_ERR_NOT_EXIST;
 *         CL_ERR_NO_PLAYERS; CL_ERR_QUERY_TIMED_OUT; CL_ERR_NO_CONNECTION.
 */
int chronolog_replay(chronolog_client *client, const char *chronicle, const char *story_name, uint64_t start,
                     uint64_t end, chronolog_event_fn fn, void *user);

/**
 * The last `count` events of a story (ChronoLog 3.1's "last N"), in event order, calling `fn` once
 * per event: served from the keepers' memory where they still hold them, from the archive for the
 * rest. While the story is recorded, the last of the events that are complete (no event can still
 * arrive before them; *complete_before receives that time, from which a follower goes on); a
 * story no longer recorded gives its last `count` events. `count` 0 returns CL_SUCCESS at once.
 *
 * @param complete_before  receives the time before which the story's events are complete (0 when
 *                         the story is no longer recorded: everything is final); may be NULL.
 * @return as chronolog_replay; CL_ERR_INVALID_ARG also for a count above UINT32_MAX.
 */
int chronolog_replay_last(chronolog_client *client, const char *chronicle, const char *story_name, uint64_t count,
                          chronolog_event_fn fn, void *user, uint64_t *complete_before);

/**
 * Starts a replay of [start, end) handed out in batches by chronolog_replay_next. The query runs
 * on a thread of its own, at most two pieces ahead of the caller (bounded memory).
 *
 * @param cursor  receives the cursor; close it with chronolog_replay_close.
 * @return CL_SUCCESS; CL_ERR_INVALID_ARG (NULL, bad name); CL_ERR_NOT_READER_MODE;
 *         CL_ERR_NO_CONNECTION. Errors of the query itself come from chronolog_replay_next.
 */
int chronolog_replay_open(chronolog_client *client, const char *chronicle, const char *story_name, uint64_t start,
                          uint64_t end, chronolog_cursor **cursor);

/**
 * Hands out the next events of a replay, in event order: up to `capacity` of them into
 * `events`. Their `data` stays valid until the next call on this cursor or its close.
 *
 * @param count  receives how many were written; 0 (with CL_SUCCESS) once the replay is over, or 0
 *               with CL_ERR_PARTIAL_RESULT when it is over and some events could not be read.
 * @return CL_SUCCESS; CL_ERR_INVALID_ARG (NULL, capacity 0, a closed cursor); the query's error
 *         (CL_ERR_NOT_EXIST, CL_ERR_NO_PLAYERS, CL_ERR_QUERY_TIMED_OUT, CL_ERR_NO_CONNECTION).
 */
int chronolog_replay_next(chronolog_cursor *cursor, chronolog_event *events, size_t capacity, size_t *count);

/**
 * Stops a replay (cancelling the query if it still runs) and releases its events. The cursor
 * stays safe to pass (chronolog_replay_next returns CL_ERR_INVALID_ARG); closing twice is
 * CL_SUCCESS.
 *
 * @return CL_SUCCESS; CL_ERR_INVALID_ARG (NULL).
 */
int chronolog_replay_close(chronolog_cursor *cursor);

/* ---- Codes ---- */

/** ChronoLog's name of a code ("CL_ERR_NOT_EXIST"); "CL_ERR_UNKNOWN" for an unknown integer.
 *  Static storage; never NULL. */
const char *chronolog_code_name(int code);

/** A short description of a code ("chronicle or story does not exist"). Static storage. */
const char *chronolog_strerror(int code);

#ifdef __cplusplus
}
#endif

#endif /* CHRONOLOG_H */
