/*
 * attach_client.c — a program started on its own that attaches to a running ChronoLog-Swift
 * service (jobs/chronolog-service.sh) through chronolog_attach, run by AttachTests.
 *
 *   attach_client RUN_DIR write CHRONICLE STORY N   attach, create, acquire, log N events, release, replay them
 *   attach_client RUN_DIR expect CODE                attach and expect chronolog_attach to return CODE
 *   attach_client RUN_DIR readonly CHRONICLE STORY   attach (read-only token): replay works, create/acquire give -9
 *   attach_client RUN_DIR hold CHRONICLE STORY       attach, acquire, log forever (to be SIGKILLed)
 *   attach_client RUN_DIR trickle CHRONICLE STORY N MS   log N events "trickle i", one every MS ms, then release
 *   attach_client RUN_DIR last CHRONICLE STORY N     log N events (durable), then 20 last-10 queries while holding the
 *                                                   story: each must be "attached event N-10" … "N-1"; prints "last_ok=K"
 *   attach_client RUN_DIR linger CHRONICLE STORY S   log, print "lingering", sleep S s (the service stops meanwhile), then
 *                                                   print the codes of chronolog_client_reachable, acquiring the held
 *                                                   story again, flush, release, disconnect and finalize
 *   attach_client RUN_DIR forget CHRONICLE STORY N   log N events and return from main: no flush, release, disconnect
 *                                                   nor finalize (the exit detaches)
 *
 * RUN_DIR "-" joins an MPMD job instead (chronolog_join), for comparison.
 * Prints "attach_ms=..." and, for write, "events_per_s=..."; exits 0 when every check held.
 */
#define _POSIX_C_SOURCE 200809L
#include <chronolog.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int failures = 0;
#define EXPECT(what, got, want) do { long g_ = (long)(got), w_ = (long)(want); \
    if (g_ != w_) { fprintf(stderr, "FAIL %s: got %ld, want %ld\n", what, g_, w_); failures++; } } while (0)

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int count_events(const chronolog_event *e, void *user) {
    (void)e;
    (*(long *)user)++;
    return 0;
}

/* Collects up to 16 records of a last-N answer. */
struct last_answer { long n; char records[16][64]; };

static int collect_record(const chronolog_event *e, void *user) {
    struct last_answer *a = user;
    if (a->n < 16) snprintf(a->records[a->n], sizeof a->records[0], "%.*s", (int)e->length, (const char *)e->data);
    a->n++;
    return 0;
}

/* Whether a last-10 answer holds exactly "attached event n-10" … "n-1". */
static int is_last_ten(const struct last_answer *a, long n) {
    if (a->n != 10) return 0;
    char want[64];
    for (long i = 0; i < 10; i++) {
        snprintf(want, sizeof want, "attached event %ld", n - 10 + i);
        if (strcmp(a->records[i], want) != 0) return 0;
    }
    return 1;
}

/* Logs n events to a story it keeps holding, then asks 20 times for its last 10 once they are complete. */
static void last_queries(chronolog_client *c, chronolog_story *s, const char *chronicle, const char *story, long n) {
    char record[64];
    for (long i = 0; i < n; i++) {
        snprintf(record, sizeof record, "attached event %ld", i);
        chronolog_log_event(s, record, strlen(record));
    }
    EXPECT("flush (durable)", chronolog_flush(s, 1, NULL), CL_SUCCESS);
    struct last_answer a = {0};
    for (int tries = 0; tries < 2000 && !is_last_ten(&a, n); tries++) {
        a.n = 0;
        EXPECT("replay_last", chronolog_replay_last(c, chronicle, story, 10, collect_record, &a, NULL), CL_SUCCESS);
        struct timespec d = {0, 5000000};
        if (!is_last_ten(&a, n)) nanosleep(&d, NULL);
    }
    long ok = 0;
    for (int q = 0; q < 20; q++) {
        a.n = 0;
        EXPECT("replay_last", chronolog_replay_last(c, chronicle, story, 10, collect_record, &a, NULL), CL_SUCCESS);
        ok += is_last_ten(&a, n);
    }
    printf("last_ok=%ld\n", ok);
    EXPECT("20 last-10 answers", ok, 20);
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: attach_client RUN_DIR MODE ...\n"); return 2; }
    const char *dir = argv[1], *mode = argv[2];
    double t0 = now_s();
    /* "-": join the job MPMD instead (the same program in-job, to compare). */
    int rc = strcmp(dir, "-") == 0 ? chronolog_join(NULL, NULL) : chronolog_attach(dir, 0);
    printf("attach_ms=%.2f rc=%d\n", (now_s() - t0) * 1e3, rc);
    fflush(stdout);
    if (strcmp(mode, "expect") == 0) {
        EXPECT("chronolog_attach", rc, atoi(argv[3]));
        EXPECT("connect after a failed attach", chronolog_connect(CHRONOLOG_WRITER, &(chronolog_client *){0}),
               rc == 0 ? CL_SUCCESS : CL_ERR_NO_CONNECTION);
        if (rc == 0) chronolog_finalize();
        return failures ? 1 : 0;
    }
    EXPECT("chronolog_attach", rc, CL_SUCCESS);
    if (rc != 0) return 1;
    const char *chronicle = argv[3], *story = argv[4];
    chronolog_client *c = NULL;
    EXPECT("connect", chronolog_connect(CHRONOLOG_READER, &c), CL_SUCCESS);
    if (strcmp(mode, "readonly") == 0) {
        long n = 0;
        EXPECT("replay (read-only)", chronolog_replay(c, chronicle, story, 0, UINT64_MAX, count_events, &n), CL_SUCCESS);
        printf("replayed=%ld\n", n);
        EXPECT("create (read-only)", chronolog_create_chronicle(c, "ro_chronicle", NULL, NULL, 0, 0), CL_ERR_NOT_AUTHORIZED);
        chronolog_story *s = NULL;
        EXPECT("acquire (read-only)", chronolog_acquire_story(c, chronicle, story, NULL, NULL, 0, 0, &s), CL_ERR_NOT_AUTHORIZED);
        EXPECT("disconnect", chronolog_disconnect(c), CL_SUCCESS);
        EXPECT("finalize", chronolog_finalize(), CL_SUCCESS);
        return failures ? 1 : 0;
    }
    int created = chronolog_create_chronicle(c, chronicle, NULL, NULL, 0, 0);
    if (created != CL_SUCCESS && created != CL_ERR_CHRONICLE_EXISTS) EXPECT("create", created, CL_SUCCESS);
    chronolog_story *s = NULL;
    EXPECT("acquire", chronolog_acquire_story(c, chronicle, story, NULL, NULL, 0, 0, &s), CL_SUCCESS);
    char record[64];
    if (strcmp(mode, "hold") == 0) {
        for (long i = 0;; i++) {
            snprintf(record, sizeof record, "held event %ld", i);
            chronolog_log_event(s, record, strlen(record));
            if (i == 100) { printf("logging\n"); fflush(stdout); }
            if (i % 1000 == 999) { struct timespec d = {0, 1000000}; nanosleep(&d, NULL); }
        }
    }
    long n = atol(argv[5]);
    if (strcmp(mode, "linger") == 0) {
        chronolog_log_event(s, "before", 6);
        EXPECT("flush before", chronolog_flush(s, 0, NULL), CL_SUCCESS);
        printf("lingering\n");
        fflush(stdout);
        struct timespec d = {atol(argv[5]), 0};
        nanosleep(&d, NULL);
        chronolog_log_event(s, "after", 5);
        chronolog_story *again = NULL;
        int reach = chronolog_client_reachable(c);
        int acquire = chronolog_acquire_story(c, chronicle, story, NULL, NULL, 0, 0, &again);
        printf("after_stop reachable=%d acquire=%d\n", reach, acquire);
        int f = chronolog_flush(s, 0, NULL);
        int r = chronolog_release_story(c, chronicle, story);
        int x = chronolog_disconnect(c);
        printf("after_stop flush=%d release=%d disconnect=%d\n", f, r, x);
        fflush(stdout);
        printf("finalize=%d\n", chronolog_finalize());
        return 0;
    }
    if (strcmp(mode, "last") == 0) {
        last_queries(c, s, chronicle, story, n);
        EXPECT("release", chronolog_release_story(c, chronicle, story), CL_SUCCESS);
        EXPECT("disconnect", chronolog_disconnect(c), CL_SUCCESS);
        EXPECT("finalize", chronolog_finalize(), CL_SUCCESS);
        return failures ? 1 : 0;
    }
    if (strcmp(mode, "forget") == 0) {
        for (long i = 0; i < n; i++) {
            snprintf(record, sizeof record, "forgotten %ld", i);
            if (chronolog_log_event(s, record, strlen(record)) == 0) { EXPECT("log_event", 0, 1); break; }
        }
        printf("forgetting\n");
        return failures ? 1 : 0;
    }
    if (strcmp(mode, "trickle") == 0) {
        struct timespec d = {0, atol(argv[6]) * 1000000L};
        for (long i = 0; i < n; i++) {
            snprintf(record, sizeof record, "trickle %ld", i);
            if (chronolog_log_event(s, record, strlen(record)) == 0) EXPECT("log_event", 0, 1);
            nanosleep(&d, NULL);
        }
        EXPECT("release", chronolog_release_story(c, chronicle, story), CL_SUCCESS);
        EXPECT("disconnect", chronolog_disconnect(c), CL_SUCCESS);
        EXPECT("finalize", chronolog_finalize(), CL_SUCCESS);
        return failures ? 1 : 0;
    }
    double w0 = now_s();
    for (long i = 0; i < n; i++) {
        snprintf(record, sizeof record, "attached event %ld", i);
        if (chronolog_log_event(s, record, strlen(record)) == 0) { EXPECT("log_event", 0, 1); break; }
    }
    EXPECT("flush", chronolog_flush(s, 0, NULL), CL_SUCCESS);
    double w1 = now_s();
    printf("events_per_s=%.0f\n", n / (w1 - w0));
    EXPECT("release", chronolog_release_story(c, chronicle, story), CL_SUCCESS);
    EXPECT("release twice", chronolog_release_story(c, chronicle, story), CL_ERR_NOT_ACQUIRED);
    long got = 0;
    EXPECT("replay", chronolog_replay(c, chronicle, story, 0, UINT64_MAX, count_events, &got), CL_SUCCESS);
    printf("replayed=%ld\n", got);
    EXPECT("create again", chronolog_create_chronicle(c, chronicle, NULL, NULL, 0, 0), CL_ERR_CHRONICLE_EXISTS);
    EXPECT("disconnect", chronolog_disconnect(c), CL_SUCCESS);
    EXPECT("finalize", chronolog_finalize(), CL_SUCCESS);
    return failures ? 1 : 0;
}
