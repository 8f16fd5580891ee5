/*
 * Every return code reachable from C, checked from C. Run MPMD beside the service:
 *   mpirun -n 4 chronolog-job --workload none : -n 2 ./abi_checks
 * Prints CHECK/FAIL lines and "CHECKS passed=N failed=M"; exits 1 if a check failed.
 * With --single (MPI below MPI_THREAD_MULTIPLE) or --bad-config (an unreadable configuration
 * file), checks that chronolog_join refuses on every application rank (and the job still ends).
 */
#include <chronolog.h>
#include <mpi.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;

static void expect(const char *name, int ok, int line) {
    if (ok) {
        passed++;
        printf("CHECK %s\n", name);
    } else {
        failed++;
        printf("FAIL %s (line %d)\n", name, line);
    }
    fflush(stdout);
}

static void expect_rc(const char *name, int got, int want, int line) {
    if (got == want) {
        passed++;
        printf("CHECK %s -> %s\n", name, chronolog_code_name(got));
    } else {
        failed++;
        printf("FAIL %s: got %d (%s), want %d (%s) (line %d)\n", name, got, chronolog_code_name(got), want,
               chronolog_code_name(want), line);
    }
    fflush(stdout);
}

#define EXPECT(name, cond) expect(name, (cond), __LINE__)
#define EXPECT_RC(name, call, want) expect_rc(name, (call), (want), __LINE__)

struct seen {
    int count;
    int stop_after;
    uint64_t last_time;
    int ordered;
    char first[16];
};

static int on_event(const chronolog_event *e, void *user) {
    struct seen *s = user;
    if (s->count == 0 && e->length < sizeof s->first) {
        memcpy(s->first, e->data, e->length);
        s->first[e->length] = 0;
    }
    if (e->time < s->last_time) s->ordered = 0;
    s->last_time = e->time;
    s->count++;
    return s->stop_after && s->count >= s->stop_after;
}

/* A join every application rank must refuse: MPI below MPI_THREAD_MULTIPLE, or an unreadable
 * configuration file. */
static int refused_join(int argc, char **argv, int thread_level, const char *config) {
    int provided = 0;
    MPI_Init_thread(&argc, &argv, thread_level, &provided);
    MPI_Comm app = MPI_COMM_NULL;
    EXPECT_RC("join is refused", chronolog_join(config, &app), CL_ERR_INVALID_ARG);
    EXPECT("app_comm untouched", app == MPI_COMM_NULL);
    EXPECT_RC("connect after a refused join", chronolog_connect(CHRONOLOG_WRITER, &(chronolog_client *){0}),
              CL_ERR_NO_CONNECTION);
    EXPECT_RC("join after a refused join", chronolog_join(NULL, &app), CL_ERR_INVALID_ARG);
    printf("CHECKS passed=%d failed=%d\n", passed, failed);
    MPI_Finalize();
    return failed ? 1 : 0;
}

static void before_join(void) {
    chronolog_client *c = NULL;
    EXPECT_RC("connect before join", chronolog_connect(CHRONOLOG_WRITER, &c), CL_ERR_NO_CONNECTION);
    EXPECT_RC("finalize before join", chronolog_finalize(), CL_ERR_NO_CONNECTION);
    EXPECT_RC("log before join", chronolog_log(NULL, "x", 1, NULL), CL_ERR_NO_CONNECTION);
    EXPECT("log_event before join gives 0", chronolog_log_event(NULL, "x", 1) == 0);
    EXPECT_RC("disconnect before join", chronolog_disconnect(NULL), CL_ERR_NO_CONNECTION);
    MPI_Comm app;
    int is_client = 7;
    EXPECT_RC("init before MPI_Init: comm is not MPI_COMM_WORLD", chronolog_init(MPI_COMM_SELF, NULL, &app, &is_client),
              CL_ERR_INVALID_ARG);
    EXPECT_RC("init: NULL is_client", chronolog_init(MPI_COMM_WORLD, NULL, &app, NULL), CL_ERR_INVALID_ARG);
}

static void names_and_chronicles(chronolog_client *w, const char *chron) {
    EXPECT_RC("create: NULL client", chronolog_create_chronicle(NULL, chron, NULL, NULL, 0, 0), CL_ERR_INVALID_ARG);
    EXPECT_RC("create: NULL name", chronolog_create_chronicle(w, NULL, NULL, NULL, 0, 0), CL_ERR_INVALID_ARG);
    EXPECT_RC("create: empty name", chronolog_create_chronicle(w, "", NULL, NULL, 0, 0), CL_ERR_INVALID_ARG);
    EXPECT_RC("create: name with '/'", chronolog_create_chronicle(w, "a/b", NULL, NULL, 0, 0), CL_ERR_INVALID_ARG);
    EXPECT_RC("create: name '..'", chronolog_create_chronicle(w, "..", NULL, NULL, 0, 0), CL_ERR_INVALID_ARG);
    EXPECT_RC("create: name not UTF-8", chronolog_create_chronicle(w, "bad\xff\xfe", NULL, NULL, 0, 0), CL_ERR_INVALID_ARG);
    EXPECT_RC("create: attributes NULL with count 2", chronolog_create_chronicle(w, chron, NULL, NULL, 2, 0),
              CL_ERR_INVALID_ARG);
    const char *bad_keys[] = {"owner", "\xc3\x28"}, *values[] = {"c-abi", "x"};
    EXPECT_RC("create: attribute key not UTF-8", chronolog_create_chronicle(w, chron, bad_keys, values, 2, 0),
              CL_ERR_INVALID_ARG);
    const char *null_value[] = {"owner", NULL};
    EXPECT_RC("create: NULL attribute value", chronolog_create_chronicle(w, chron, bad_keys, null_value, 2, 0),
              CL_ERR_INVALID_ARG);
    /* Attributes the visor could not decode are refused by the client: -2, nothing sent. */
    char *long_value = malloc(70000);
    memset(long_value, 'v', 69999);
    long_value[69999] = 0;
    const char *long_key[] = {"k"}, *long_values[] = {long_value};
    EXPECT_RC("create: an attribute value over 64 KiB", chronolog_create_chronicle(w, chron, long_key, long_values, 1, 0),
              CL_ERR_INVALID_ARG);
    chronolog_story *none = NULL;
    EXPECT_RC("acquire: an attribute value over 64 KiB",
              chronolog_acquire_story(w, "no-such-chronicle", "s", long_key, long_values, 1, 0, &none), CL_ERR_INVALID_ARG);
    free(long_value);
    const char *keys[] = {"owner", "language"}, *vals[] = {"c-abi", "C99"};
    EXPECT_RC("create with attributes", chronolog_create_chronicle(w, chron, keys, vals, 2, 0), CL_SUCCESS);
    EXPECT_RC("create: exists", chronolog_create_chronicle(w, chron, NULL, NULL, 0, 0), CL_ERR_CHRONICLE_EXISTS);
    EXPECT_RC("destroy: missing chronicle", chronolog_destroy_chronicle(w, "no-such-chronicle"), CL_ERR_NOT_EXIST);
    EXPECT_RC("destroy: NULL name", chronolog_destroy_chronicle(w, NULL), CL_ERR_INVALID_ARG);
}

static chronolog_story *stories_and_events(chronolog_client *w, const char *chron) {
    chronolog_story *s = NULL, *again = NULL;
    EXPECT_RC("acquire: missing chronicle", chronolog_acquire_story(w, "no-such-chronicle", "s", NULL, NULL, 0, 0, &s),
              CL_ERR_NOT_EXIST);
    EXPECT_RC("acquire: NULL out", chronolog_acquire_story(w, chron, "events", NULL, NULL, 0, 0, NULL), CL_ERR_INVALID_ARG);
    EXPECT_RC("acquire: story name not UTF-8", chronolog_acquire_story(w, chron, "\x80", NULL, NULL, 0, 0, &s),
              CL_ERR_INVALID_ARG);
    EXPECT_RC("acquire: NULL chronicle", chronolog_acquire_story(w, NULL, "events", NULL, NULL, 0, 0, &s), CL_ERR_INVALID_ARG);
    const char *k[] = {"unit"}, *v[] = {"none"};
    EXPECT_RC("acquire", chronolog_acquire_story(w, chron, "events", k, v, 1, 0, &s), CL_SUCCESS);
    EXPECT_RC("acquire twice", chronolog_acquire_story(w, chron, "events", NULL, NULL, 0, 0, &again), CL_SUCCESS);
    EXPECT("acquire twice gives the same handle", s == again && s != NULL);

    uint64_t t = 0, t2 = 0;
    EXPECT_RC("log", chronolog_log(s, "hello", 5, &t), CL_SUCCESS);
    EXPECT("log gives a timestamp", t > 0);
    t2 = chronolog_log_event(s, "x", 1);
    EXPECT("log_event gives a later timestamp", t2 >= t);
    EXPECT_RC("log: NULL story", chronolog_log(NULL, "x", 1, &t), CL_ERR_INVALID_ARG);
    EXPECT("log_event: NULL story gives 0", chronolog_log_event(NULL, "x", 1) == 0);
    EXPECT_RC("log: NULL data with a length", chronolog_log(s, NULL, 3, &t), CL_ERR_INVALID_ARG);
    EXPECT_RC("log: empty record, NULL data", chronolog_log(s, NULL, 0, NULL), CL_SUCCESS);
    char *big = calloc(65537, 1);
    EXPECT_RC("log: one byte over story.maxEventBytes", chronolog_log(s, big, 65537, &t), CL_ERR_INVALID_ARG);
    EXPECT("log_event: over story.maxEventBytes gives 0", chronolog_log_event(s, big, 65537) == 0);
    EXPECT_RC("log: exactly story.maxEventBytes", chronolog_log(s, big, 65536, &t), CL_SUCCESS);
    EXPECT_RC("log: length SIZE_MAX", chronolog_log(s, big, SIZE_MAX, &t), CL_ERR_INVALID_ARG);
    free(big);
    EXPECT_RC("flush", chronolog_flush(s, 0, NULL), CL_SUCCESS);
    uint64_t durable = 0;
    EXPECT_RC("durable flush", chronolog_flush(s, 1, &durable), CL_SUCCESS);
    EXPECT("durable flush counts the 4 accepted events", durable == 4);
    EXPECT_RC("flush: NULL story", chronolog_flush(NULL, 0, NULL), CL_ERR_INVALID_ARG);
    EXPECT_RC("destroy story: acquired", chronolog_destroy_story(w, chron, "events"), CL_ERR_ACQUIRED);
    EXPECT_RC("destroy chronicle: a story acquired", chronolog_destroy_chronicle(w, chron), CL_ERR_ACQUIRED);
    return s;
}

struct names {
    int count, stop_after, sorted, found;
    const char *want;
    char last[256];
};

static int on_name(const char *name, size_t length, void *user) {
    struct names *n = user;
    if (length != strlen(name) || length >= sizeof n->last) n->sorted = 0;
    if (n->count > 0 && strcmp(n->last, name) >= 0) n->sorted = 0;
    snprintf(n->last, sizeof n->last, "%s", name);
    if (strcmp(name, n->want) == 0) n->found = 1;
    n->count++;
    return n->stop_after && n->count >= n->stop_after;
}

/* ChronoLog's ShowChronicles / ShowStories: a callback per name, sorted; the story "events" is held. */
static void listing(chronolog_client *w, const char *chron) {
    struct names all = {0, 0, 1, 0, chron, ""};
    EXPECT_RC("show chronicles", chronolog_show_chronicles(w, on_name, &all), CL_SUCCESS);
    EXPECT("show chronicles lists this rank's chronicle, sorted", all.found && all.sorted && all.count >= 1);
    struct names one = {0, 1, 1, 0, "", ""};
    EXPECT_RC("show chronicles stopped by the callback", chronolog_show_chronicles(w, on_name, &one), CL_SUCCESS);
    EXPECT("show chronicles: the callback ran once", one.count == 1);
    EXPECT_RC("show chronicles: NULL callback", chronolog_show_chronicles(w, NULL, NULL), CL_ERR_INVALID_ARG);
    EXPECT_RC("show chronicles: NULL client", chronolog_show_chronicles(NULL, on_name, &all), CL_ERR_INVALID_ARG);
    struct names stories = {0, 0, 1, 0, "events", ""};
    EXPECT_RC("show stories", chronolog_show_stories(w, chron, on_name, &stories), CL_SUCCESS);
    EXPECT("show stories: just 'events'", stories.count == 1 && stories.found);
    EXPECT_RC("show stories: missing chronicle", chronolog_show_stories(w, "no-such-chronicle", on_name, &stories),
              CL_ERR_NOT_EXIST);
    EXPECT_RC("show stories: bad name", chronolog_show_stories(w, "a/b", on_name, &stories), CL_ERR_INVALID_ARG);
    EXPECT_RC("show stories: NULL chronicle", chronolog_show_stories(w, NULL, on_name, &stories), CL_ERR_INVALID_ARG);
}

static void replays(chronolog_client *w, chronolog_client *r, const char *chron) {
    struct seen seen = {0, 0, 0, 1, ""};
    EXPECT_RC("replay: writer-only client", chronolog_replay(w, chron, "events", 0, UINT64_MAX, on_event, &seen),
              CL_ERR_NOT_READER_MODE);
    EXPECT_RC("replay: NULL callback", chronolog_replay(r, chron, "events", 0, UINT64_MAX, NULL, NULL), CL_ERR_INVALID_ARG);
    EXPECT_RC("replay: NULL client", chronolog_replay(NULL, chron, "events", 0, UINT64_MAX, on_event, &seen),
              CL_ERR_INVALID_ARG);
    EXPECT_RC("replay", chronolog_replay(r, chron, "events", 0, UINT64_MAX, on_event, &seen), CL_SUCCESS);
    EXPECT("replay sees the 4 events in time order, 'hello' first",
           seen.count == 4 && seen.ordered && strcmp(seen.first, "hello") == 0);
    struct seen one = {0, 1, 0, 1, ""};
    EXPECT_RC("replay stopped by the callback", chronolog_replay(r, chron, "events", 0, UINT64_MAX, on_event, &one), CL_SUCCESS);
    EXPECT("the callback ran once", one.count == 1);
    struct seen none = {0, 0, 0, 1, ""};
    EXPECT_RC("replay: empty range", chronolog_replay(r, chron, "events", 7, 7, on_event, &none), CL_SUCCESS);
    EXPECT("empty range: no event", none.count == 0);
    EXPECT_RC("replay: missing story", chronolog_replay(r, chron, "no-such-story", 0, UINT64_MAX, on_event, &none),
              CL_ERR_NOT_EXIST);

    /* "Last N": the story is still acquired; its 4 events are durable, so complete. */
    struct seen last = {0, 0, 0, 1, "unset"};
    uint64_t complete_before = 0;
    EXPECT_RC("replay_last: writer-only client", chronolog_replay_last(w, chron, "events", 2, on_event, &last, NULL),
              CL_ERR_NOT_READER_MODE);
    EXPECT_RC("replay_last: NULL callback", chronolog_replay_last(r, chron, "events", 2, NULL, NULL, NULL), CL_ERR_INVALID_ARG);
    EXPECT_RC("replay_last: count above UINT32_MAX",
              chronolog_replay_last(r, chron, "events", (uint64_t)UINT32_MAX + 1, on_event, &last, NULL), CL_ERR_INVALID_ARG);
    EXPECT_RC("replay_last: missing story", chronolog_replay_last(r, chron, "no-such-story", 2, on_event, &last, NULL),
              CL_ERR_NOT_EXIST);
    EXPECT_RC("replay_last", chronolog_replay_last(r, chron, "events", 2, on_event, &last, &complete_before), CL_SUCCESS);
    EXPECT("replay_last gives the last 2 events (the empty record, then the largest), in order, before complete_before",
           last.count == 2 && last.ordered && strcmp(last.first, "") == 0 && last.last_time < complete_before);
    struct seen zero = {0, 0, 0, 1, ""};
    EXPECT_RC("replay_last: count 0", chronolog_replay_last(r, chron, "events", 0, on_event, &zero, NULL), CL_SUCCESS);
    EXPECT("count 0: no event", zero.count == 0);

    chronolog_cursor *cur = NULL;
    EXPECT_RC("cursor: writer-only client", chronolog_replay_open(w, chron, "events", 0, UINT64_MAX, &cur),
              CL_ERR_NOT_READER_MODE);
    EXPECT_RC("cursor: NULL out", chronolog_replay_open(r, chron, "events", 0, UINT64_MAX, NULL), CL_ERR_INVALID_ARG);
    EXPECT_RC("cursor: open", chronolog_replay_open(r, chron, "events", 0, UINT64_MAX, &cur), CL_SUCCESS);
    chronolog_event batch[3];
    size_t n = 99;
    EXPECT_RC("cursor: capacity 0", chronolog_replay_next(cur, batch, 0, &n), CL_ERR_INVALID_ARG);
    EXPECT_RC("cursor: first batch", chronolog_replay_next(cur, batch, 3, &n), CL_SUCCESS);
    EXPECT("cursor: 3 events, 'hello' first",
           n == 3 && batch[0].length == 5 && memcmp(batch[0].data, "hello", 5) == 0 && batch[1].time >= batch[0].time);
    EXPECT_RC("cursor: second batch", chronolog_replay_next(cur, batch, 3, &n), CL_SUCCESS);
    EXPECT("cursor: the last event, 65536 bytes", n == 1 && batch[0].length == 65536);
    EXPECT_RC("cursor: end", chronolog_replay_next(cur, batch, 3, &n), CL_SUCCESS);
    EXPECT("cursor: 0 at the end", n == 0);
    EXPECT_RC("cursor: close", chronolog_replay_close(cur), CL_SUCCESS);
    EXPECT_RC("cursor: next after close", chronolog_replay_next(cur, batch, 3, &n), CL_ERR_INVALID_ARG);
    EXPECT_RC("cursor: close twice", chronolog_replay_close(cur), CL_SUCCESS);
    EXPECT_RC("cursor: missing story", chronolog_replay_open(r, chron, "no-such-story", 0, UINT64_MAX, &cur), CL_SUCCESS);
    EXPECT_RC("cursor: missing story fails at next", chronolog_replay_next(cur, batch, 3, &n), CL_ERR_NOT_EXIST);
    /* left open on purpose: chronolog_finalize closes it */
}

#define THREADS 4
#define PER_THREAD 2000

struct logger {
    chronolog_story *story;
    int failures;
};

static void *log_from_thread(void *arg) {
    struct logger *l = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        char record[32];
        int n = snprintf(record, sizeof record, "thread event %d", i);
        if (chronolog_log_event(l->story, record, (size_t)n) == 0) l->failures++;
    }
    return NULL;
}

/* Any thread may log: THREADS threads log to one story at once, and a replay sees every event. */
static void threads(chronolog_client *w, chronolog_client *r, const char *chron) {
    chronolog_story *s = NULL;
    EXPECT_RC("threads: acquire", chronolog_acquire_story(w, chron, "threads", NULL, NULL, 0, 0, &s), CL_SUCCESS);
    pthread_t t[THREADS];
    struct logger l[THREADS];
    for (int i = 0; i < THREADS; i++) {
        l[i] = (struct logger){s, 0};
        pthread_create(&t[i], NULL, log_from_thread, &l[i]);
    }
    int failures = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        failures += l[i].failures;
    }
    EXPECT("threads: every log_event returned a timestamp", failures == 0);
    EXPECT_RC("threads: flush", chronolog_flush(s, 0, NULL), CL_SUCCESS);
    struct seen all = {0, 0, 0, 1, ""};
    EXPECT_RC("threads: replay", chronolog_replay(r, chron, "threads", 0, UINT64_MAX, on_event, &all), CL_SUCCESS);
    EXPECT("threads: the replay holds every event, in time order", all.count == THREADS * PER_THREAD && all.ordered);
    EXPECT_RC("threads: release", chronolog_release_story(w, chron, "threads"), CL_SUCCESS);
}

static void release_and_destroy(chronolog_client *w, chronolog_story *s, const char *chron) {
    uint64_t t = 0;
    EXPECT_RC("release: NULL story name", chronolog_release_story(w, chron, NULL), CL_ERR_INVALID_ARG);
    EXPECT_RC("release: empty story name (ChronoLog: -2)", chronolog_release_story(w, chron, ""), CL_ERR_INVALID_ARG);
    EXPECT_RC("release: empty chronicle name", chronolog_release_story(w, "", "events"), CL_ERR_INVALID_ARG);
    EXPECT_RC("release", chronolog_release_story(w, chron, "events"), CL_SUCCESS);
    EXPECT_RC("release again: not acquired", chronolog_release_story(w, chron, "events"), CL_ERR_NOT_ACQUIRED);
    EXPECT_RC("log after release", chronolog_log(s, "x", 1, &t), CL_ERR_NOT_ACQUIRED);
    EXPECT("log_event after release gives 0", chronolog_log_event(s, "x", 1) == 0);
    EXPECT_RC("flush after release", chronolog_flush(s, 0, NULL), CL_ERR_NOT_ACQUIRED);
    EXPECT_RC("destroy story", chronolog_destroy_story(w, chron, "events"), CL_SUCCESS);
    EXPECT_RC("destroy story again: missing", chronolog_destroy_story(w, chron, "events"), CL_ERR_NOT_EXIST);
    EXPECT_RC("destroy story 'threads'", chronolog_destroy_story(w, chron, "threads"), CL_SUCCESS);
    EXPECT_RC("destroy chronicle", chronolog_destroy_chronicle(w, chron), CL_SUCCESS);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--single") == 0) return refused_join(argc, argv, MPI_THREAD_SINGLE, NULL);
    if (argc > 1 && strcmp(argv[1], "--bad-config") == 0)
        return refused_join(argc, argv, MPI_THREAD_MULTIPLE, "/nonexistent/chronolog.json");
    before_join();
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm app = MPI_COMM_NULL;
    int not_client = 7;
    EXPECT_RC("init: MPI_COMM_NULL", chronolog_init(MPI_COMM_NULL, NULL, &app, &not_client), CL_ERR_INVALID_ARG);
    EXPECT_RC("join", chronolog_join(NULL, &app), CL_SUCCESS);
    EXPECT_RC("join twice", chronolog_join(NULL, &app), CL_ERR_INVALID_ARG);
    int is_client = 7;
    EXPECT_RC("init after join", chronolog_init(MPI_COMM_WORLD, NULL, &app, &is_client), CL_ERR_INVALID_ARG);
    int rank = 0, size = 0, world = 0, total = 0;
    MPI_Comm_rank(app, &rank);
    MPI_Comm_size(app, &size);
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    MPI_Allreduce(&rank, &total, 1, MPI_INT, MPI_SUM, app);
    EXPECT("app_comm holds only the application's ranks", size < world && total == size * (size - 1) / 2);

    chronolog_client *w = NULL, *r = NULL;
    EXPECT_RC("connect: NULL out", chronolog_connect(CHRONOLOG_WRITER, NULL), CL_ERR_INVALID_ARG);
    EXPECT_RC("connect: unknown mode", chronolog_connect(7, &w), CL_ERR_INVALID_ARG);
    EXPECT_RC("connect writer", chronolog_connect(CHRONOLOG_WRITER, &w), CL_SUCCESS);
    EXPECT_RC("connect reader", chronolog_connect(CHRONOLOG_READER, &r), CL_SUCCESS);
    EXPECT("client ids differ", chronolog_client_id(w) != chronolog_client_id(r) && chronolog_client_id(NULL) == 0);

    char chron[64];
    snprintf(chron, sizeof chron, "c-abi-rank-%d", rank);
    names_and_chronicles(w, chron);
    chronolog_story *s = stories_and_events(w, chron);
    listing(w, chron);
    replays(w, r, chron);
    threads(w, r, chron);
    release_and_destroy(w, s, chron);

    EXPECT_RC("disconnect", chronolog_disconnect(w), CL_SUCCESS);
    EXPECT_RC("disconnect twice", chronolog_disconnect(w), CL_ERR_NO_CONNECTION);
    EXPECT_RC("create after disconnect", chronolog_create_chronicle(w, chron, NULL, NULL, 0, 0), CL_ERR_NO_CONNECTION);
    EXPECT_RC("create after disconnect, empty name: names are checked first, as in ChronoLog",
              chronolog_create_chronicle(w, "", NULL, NULL, 0, 0), CL_ERR_INVALID_ARG);
    EXPECT_RC("show chronicles after disconnect", chronolog_show_chronicles(w, on_name, &(struct names){0, 0, 1, 0, "", ""}),
              CL_ERR_NO_CONNECTION);
    EXPECT("client id after disconnect is 0", chronolog_client_id(w) == 0);
    EXPECT_RC("disconnect: NULL", chronolog_disconnect(NULL), CL_ERR_INVALID_ARG);
    EXPECT("code names come from the table",
           strcmp(chronolog_code_name(CL_ERR_NOT_EXIST), "CL_ERR_NOT_EXIST") == 0 &&
               strcmp(chronolog_code_name(42), "CL_ERR_UNKNOWN") == 0 && strlen(chronolog_strerror(CL_ERR_ACQUIRED)) > 0);

    /* The reader stays connected, holding a story with events: finalize flushes and releases it. */
    chronolog_story *kept = NULL;
    EXPECT_RC("reader creates its chronicle", chronolog_create_chronicle(r, chron, NULL, NULL, 0, 0), CL_SUCCESS);
    EXPECT_RC("reader acquires", chronolog_acquire_story(r, chron, "kept", NULL, NULL, 0, 0, &kept), CL_SUCCESS);
    for (int i = 0; i < 10; i++) EXPECT("reader logs", chronolog_log_event(kept, "kept", 4) != 0);
    chronolog_cursor *open_cursor = NULL;
    EXPECT_RC("a cursor left open", chronolog_replay_open(r, chron, "kept", 0, UINT64_MAX, &open_cursor), CL_SUCCESS);

    EXPECT_RC("finalize", chronolog_finalize(), CL_SUCCESS);
    EXPECT_RC("finalize twice", chronolog_finalize(), CL_ERR_NO_CONNECTION);
    EXPECT_RC("join after finalize", chronolog_join(NULL, &app), CL_ERR_INVALID_ARG);
    EXPECT_RC("connect after finalize", chronolog_connect(CHRONOLOG_WRITER, &w), CL_ERR_NO_CONNECTION);
    EXPECT_RC("log after finalize", chronolog_log(kept, "x", 1, NULL), CL_ERR_NO_CONNECTION);
    EXPECT("log_event after finalize gives 0", chronolog_log_event(kept, "x", 1) == 0);
    chronolog_event e;
    size_t n = 0;
    EXPECT_RC("cursor after finalize", chronolog_replay_next(open_cursor, &e, 1, &n), CL_ERR_NO_CONNECTION);
    EXPECT_RC("disconnect after finalize", chronolog_disconnect(r), CL_ERR_NO_CONNECTION);
    printf("CHECKS passed=%d failed=%d\n", passed, failed);
    MPI_Finalize();
    return failed ? 1 : 0;
}
