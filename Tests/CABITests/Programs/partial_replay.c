/* CL_ERR_PARTIAL_RESULT from C, run MPMD beside the service in two jobs over one archive:
 *   partial_replay write       each rank logs e0..e4, a durable flush (one archive round), e5..e9
 *   partial_replay read        (after the test damaged the first index row of each story) both
 *                              chronolog_replay and the cursor deliver e5..e9 and return -18
 *   partial_replay read-tail   (after the test made the catalog record 12 events per story) both
 *                              deliver e0..e9 and return -18 (the writer's tail is missing)
 * Prints CHECK/FAIL lines and "CHECKS passed=N failed=M" per rank. */
#include <chronolog.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>

static int passed, failed;

static void expect(int ok, const char *what, int got) {
    if (ok) {
        passed++;
        printf("CHECK %s\n", what);
    } else {
        failed++;
        printf("FAIL %s: got %d (%s)\n", what, got, chronolog_code_name(got));
    }
}

typedef struct {
    int count;
    int in_order;
    int first;
} Seen;

/* Event i of the intact rows must read "e<first + i>". */
static void see(Seen *s, const chronolog_event *e) {
    char want[16];
    snprintf(want, sizeof want, "e%d", s->first + s->count);
    if (e->length != strlen(want) || memcmp(e->data, want, e->length) != 0) s->in_order = 0;
    s->count++;
}

static int on_event(const chronolog_event *e, void *user) {
    see(user, e);
    return 0;
}

static void write_story(chronolog_client *client, const char *story_name) {
    chronolog_story *story = NULL;
    int rc = chronolog_acquire_story(client, "partial", story_name, NULL, NULL, 0, 0, &story);
    expect(rc == CL_SUCCESS, "acquire", rc);
    char record[16];
    for (int i = 0; i < 10; i++) {
        snprintf(record, sizeof record, "e%d", i);
        expect(chronolog_log_event(story, record, strlen(record)) != 0, "log_event", 0);
        if (i == 4) {
            rc = chronolog_flush(story, 1, NULL);
            expect(rc == CL_SUCCESS, "durable flush between the two rounds", rc);
        }
    }
    rc = chronolog_release_story(client, "partial", story_name);
    expect(rc == CL_SUCCESS, "release", rc);
}

static void read_story(chronolog_client *client, const char *story_name, int first) {
    Seen s = {0, 1, first};
    int rc = chronolog_replay(client, "partial", story_name, 0, UINT64_MAX, on_event, &s);
    expect(rc == CL_ERR_PARTIAL_RESULT, "chronolog_replay returns CL_ERR_PARTIAL_RESULT", rc);
    expect(s.count == 10 - first && s.in_order, "chronolog_replay delivered the archived events", s.count);

    chronolog_cursor *cursor = NULL;
    rc = chronolog_replay_open(client, "partial", story_name, 0, UINT64_MAX, &cursor);
    expect(rc == CL_SUCCESS, "replay_open", rc);
    Seen t = {0, 1, first};
    chronolog_event batch[3];
    size_t n = 0;
    while ((rc = chronolog_replay_next(cursor, batch, 3, &n)) == CL_SUCCESS && n > 0) {
        for (size_t i = 0; i < n; i++) see(&t, &batch[i]);
    }
    expect(rc == CL_ERR_PARTIAL_RESULT && n == 0, "the cursor's last call returns CL_ERR_PARTIAL_RESULT", rc);
    expect(t.count == 10 - first && t.in_order, "the cursor handed out the archived events", t.count);
    chronolog_replay_close(cursor);
}

int main(int argc, char **argv) {
    int writing = argc > 1 && strcmp(argv[1], "write") == 0;
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm app;
    if (chronolog_join(NULL, &app) != CL_SUCCESS) return 1;
    int rank;
    MPI_Comm_rank(app, &rank);
    chronolog_client *client = NULL;
    int rc = chronolog_connect(writing ? CHRONOLOG_WRITER : CHRONOLOG_READER, &client);
    expect(rc == CL_SUCCESS, "connect", rc);
    char story_name[32];
    snprintf(story_name, sizeof story_name, "s-%d", rank);
    if (writing) {
        if (rank == 0) expect(chronolog_create_chronicle(client, "partial", NULL, NULL, 0, 0) == CL_SUCCESS, "create", 0);
        MPI_Barrier(app);
        write_story(client, story_name);
    } else {
        read_story(client, story_name, strcmp(argv[1], "read-tail") == 0 ? 0 : 5);
    }
    rc = chronolog_disconnect(client);
    expect(rc == CL_SUCCESS, "disconnect", rc);
    printf("CHECKS passed=%d failed=%d\n", passed, failed);
    fflush(stdout);
    chronolog_finalize();
    MPI_Finalize();
    return failed == 0 ? 0 : 1;
}
