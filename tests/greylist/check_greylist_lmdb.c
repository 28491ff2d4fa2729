/* check_greylist_lmdb: the LMDB greylist store under the conditions a
   daemon meets -- several processes on one store, a process killed in the
   middle of its writes, a full map, a sweep over many records.

   - Two processes (fork) decide at once on one store: a triplet both
     decide on is first seen exactly once, and each sees the other's
     entries.
   - A child writing in a loop is killed with SIGKILL: every decision it
     reported as done is in the store, and the store takes writes after it
     (LMDB's robust writer mutex is recovered).
   - A tiny map fills: the decision is a store error (fail-open) naming
     greylist_lmdb_map_size, logged as greylist.store_down; another
     process opening the store with a larger map size grows it for the
     running one, nothing lost; expiring old entries makes room too.
   - The sweep removes exactly the expired records, batch after batch.
   Children open the store themselves after fork() (LMDB's rule) and
   report through pipes.  The fake clock is used throughout.  Run by
   `make check`. */
#include "lib/greylist/greylist.h"
#include "lib/core/log.h"
#include "tests/greylist/greylist_fixture.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SHARED 150    /* triplets both processes decide on */
#define OWN    SHARED /* triplets each process decides on alone (interleaved) */

static void write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(90);
        p += w;
        n -= (size_t)w;
    }
}

static bool read_all(int fd, void *buf, size_t n)
{
    char *p = buf;
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        p += r;
        n -= (size_t)r;
    }
    return true;
}

struct child_report {
    int first_seen;   /* shared triplets this child saw first */
    int own_errors;   /* own triplets not deferred as first seen */
    int other_passed; /* the other child's triplets accepted on retry */
    int store_errors;
};

/* One process of the two-process test: opens the store, decides its own
   and the shared triplets, waits at the barrier, then retries the other
   process's triplets after the delay. */
static void two_proc_child(struct gl_fixture *f, int me, int report_fd, int go_fd)
{
    struct child_report rep = {0};
    fl_greylist_open(f->cfg, &f->clock, 0, &f->gl, NULL);
    if (f->gl == NULL)
        _exit(91);
    struct fl_greylist_decision d;
    char sender[64];
    for (int i = 0; i < SHARED + OWN; i++) {
        /* Interleave shared and own triplets so both processes write at once. */
        bool shared = i % 2 == 0;
        int n = i / 2;
        if (shared)
            snprintf(sender, sizeof(sender), "shared%d@example.org", n);
        else
            snprintf(sender, sizeof(sender), "p%dx%d@example.org", me, n);
        int rc = glf_decide(f, "192.0.2.1", sender, "r@example.net", &d);
        if (rc < 0)
            rep.store_errors++;
        else if (shared)
            rep.first_seen +=
                strcmp(d.reason_code ? d.reason_code : "", "greylist.first_seen") == 0;
        else
            rep.own_errors +=
                strcmp(d.reason_code ? d.reason_code : "", "greylist.first_seen") != 0;
    }
    write_all(report_fd, "r", 1);
    char go;
    if (!read_all(go_fd, &go, 1))
        _exit(92);
    f->now += 300;
    for (int n = 0; n < OWN; n++) {
        snprintf(sender, sizeof(sender), "p%dx%d@example.org", 1 - me, n);
        if (glf_decide(f, "192.0.2.1", sender, "r@example.net", &d) == 1 &&
            d.outcome == FL_GREYLIST_PASS)
            rep.other_passed++;
    }
    write_all(report_fd, &rep, sizeof(rep));
    fl_greylist_close(&f->gl);
    _exit(0);
}

START_TEST(test_two_processes_share_the_store)
{
    struct gl_fixture f;
    memset(&f, 0, sizeof(f));
    f.now = GLF_T0;
    glf_config(&f, "greylist_auto_allow = 0");
    f.clock.now = glf_clock_now;
    f.clock.ctx = &f.now;
    int report[2][2], go[2][2];
    pid_t pid[2];
    for (int k = 0; k < 2; k++) {
        ck_assert(pipe(report[k]) == 0 && pipe(go[k]) == 0);
        pid[k] = fork();
        ck_assert(pid[k] >= 0);
        if (pid[k] == 0) {
            close(report[k][0]);
            close(go[k][1]);
            two_proc_child(&f, k, report[k][1], go[k][0]);
        }
        close(report[k][1]);
        close(go[k][0]);
    }
    char r;
    for (int k = 0; k < 2; k++)
        ck_assert_msg(read_all(report[k][0], &r, 1), "child %d died before the barrier",
                      k);
    for (int k = 0; k < 2; k++)
        write_all(go[k][1], "g", 1);
    struct child_report rep[2];
    for (int k = 0; k < 2; k++) {
        ck_assert_msg(read_all(report[k][0], &rep[k], sizeof(rep[k])), "child %d died",
                      k);
        int status;
        waitpid(pid[k], &status, 0);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "child %d: status %d", k, status);
        ck_assert_msg(rep[k].store_errors == 0, "child %d: %d store errors", k,
                      rep[k].store_errors);
        ck_assert_msg(rep[k].own_errors == 0, "child %d: %d own triplets not first seen",
                      k, rep[k].own_errors);
        ck_assert_msg(rep[k].other_passed == OWN,
                      "child %d sees %d of the other process's %d triplets", k,
                      rep[k].other_passed, OWN);
    }
    ck_assert_msg(rep[0].first_seen + rep[1].first_seen == SHARED,
                  "shared triplets first seen %d + %d times, want %d in all (once each)",
                  rep[0].first_seen, rep[1].first_seen, SHARED);
    glf_teardown(&f);
}
END_TEST

START_TEST(test_kill_during_writes_loses_nothing_committed)
{
    struct gl_fixture f;
    memset(&f, 0, sizeof(f));
    f.now = GLF_T0;
    glf_config(&f, "greylist_lmdb_sync = full\ngreylist_auto_allow = 0");
    f.clock.now = glf_clock_now;
    f.clock.ctx = &f.now;
    int done[2];
    ck_assert(pipe(done) == 0);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        close(done[0]);
        fl_greylist_open(f.cfg, &f.clock, 0, &f.gl, NULL);
        if (f.gl == NULL)
            _exit(91);
        struct fl_greylist_decision d;
        for (int i = 0;; i++) {
            char sender[64];
            snprintf(sender, sizeof(sender), "k%d@example.org", i);
            if (glf_decide(&f, "192.0.2.1", sender, "r@example.net", &d) == 0)
                write_all(done[1], &i, sizeof(i)); /* committed */
        }
    }
    close(done[1]);
    int seen = 0, i;
    while (seen < 200 && read_all(done[0], &i, sizeof(i)))
        seen++;
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    ck_assert_msg(WIFSIGNALED(status), "the writer was not killed (status %d)", status);
    while (read_all(done[0], &i, sizeof(i)))
        seen++; /* reported before it died */
    close(done[0]);
    ck_assert_msg(seen >= 200, "the writer reported only %d decisions", seen);

    glf_open(&f);
    f.now += 300;
    struct fl_greylist_decision d;
    for (int k = 0; k < seen; k++) {
        char sender[64];
        snprintf(sender, sizeof(sender), "k%d@example.org", k);
        int rc = glf_decide(&f, "192.0.2.1", sender, "r@example.net", &d);
        ck_assert_msg(rc == 1 && d.retry_accepted,
                      "decision %d of %d reported committed by the killed writer is lost "
                      "(got %s %s)",
                      k, seen, fl_greylist_outcome_name(d.outcome), d.error);
    }
    glf_teardown(&f);
}
END_TEST

START_TEST(test_full_map_fails_open_with_a_clear_error)
{
    struct gl_fixture f;
    glf_setup(&f, "greylist_lmdb_map_size = 32k");
    struct fl_greylist_decision d;
    struct glf_capture cap;
    glf_capture_start(&cap, &f);
    int i, rc = 0;
    for (i = 0; i < 5000 && rc >= 0; i++) {
        char sender[64];
        snprintf(sender, sizeof(sender), "fill%d@example.org", i);
        rc = glf_decide(&f, "192.0.2.1", sender, "r@example.net", &d);
    }
    char *log = glf_capture_end(&cap);
    ck_assert_msg(rc < 0, "a 32k map did not fill after %d triplets", i);
    ck_assert_msg(d.outcome == FL_GREYLIST_STORE_ERROR &&
                      strcmp(d.reason_code, "greylist.store_down") == 0,
                  "full map: got %s", fl_greylist_outcome_name(d.outcome));
    ck_assert_msg(strstr(d.error, "is full") && strstr(d.error, "greylist_lmdb_map_size"),
                  "the error does not say the map is full and which setting: %s",
                  d.error);
    ck_assert_msg(strstr(log, "greylist result=temperror reason=greylist.store_down "
                              "fault=receiver store=lmdb action=accept") != NULL,
                  "log line missing; log was: %s", log);
    free(log);
    struct fl_result r;
    fl_greylist_result(&d, &r);
    ck_assert_msg(r.action == FL_ACTION_ACCEPT && r.fault == FL_FAULT_RECEIVER,
                  "a full store must fail open");
    fl_result_clear(&r);
    /* The remedy the error names, with the daemon still running: another
       process (faultlinectl) opens the store with a larger
       greylist_lmdb_map_size, and this process's next decision grows its
       map and works, with nothing lost. */
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        struct gl_fixture g = f;
        g.cfg = NULL;
        g.gl = NULL;
        snprintf(g.conf, sizeof(g.conf), "%s/bigger.conf", f.dir);
        glf_config(&g, "greylist_lmdb_map_size = 1M");
        struct fl_buf e;
        fl_buf_init(&e);
        int orc = fl_greylist_open(g.cfg, NULL, FL_GREYLIST_OPEN_EXISTING, &g.gl, &e);
        fl_greylist_close(&g.gl);
        fl_config_unref(&g.cfg);
        fl_buf_free(&e);
        _exit(orc == 0 ? 0 : 1);
    }
    int status;
    waitpid(pid, &status, 0);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "the bigger open failed");
    rc = glf_decide(&f, "192.0.2.1", "after@example.org", "r@example.net", &d);
    ck_assert_msg(rc == 0, "after another process raised the map size: got %s (%s)",
                  fl_greylist_outcome_name(d.outcome), d.error);
    f.now += 300;
    rc = glf_decide(&f, "192.0.2.1", "fill0@example.org", "r@example.net", &d);
    ck_assert_msg(rc == 1 && d.retry_accepted,
                  "an entry written before the map filled is lost");
    glf_teardown(&f);
}
END_TEST

START_TEST(test_larger_recorded_map_size_is_adopted)
{
    /* A store once opened with 1M records that size; a process configured
       with 32k maps less, and on MDB_MAP_FULL adopts the recorded size
       instead of failing. */
    struct gl_fixture f;
    glf_setup(&f, "greylist_lmdb_map_size = 1M");
    fl_greylist_close(&f.gl);
    glf_config(&f, "greylist_lmdb_map_size = 32k");
    glf_open(&f);
    struct fl_greylist_decision d;
    for (int i = 0; i < 500; i++) {
        char sender[64];
        snprintf(sender, sizeof(sender), "grow%d@example.org", i);
        int rc = glf_decide(&f, "192.0.2.1", sender, "r@example.net", &d);
        ck_assert_msg(rc == 0, "triplet %d: got %s (%s)", i,
                      fl_greylist_outcome_name(d.outcome), d.error);
    }
    glf_teardown(&f);
}
END_TEST

START_TEST(test_expire_makes_room_in_a_full_map)
{
    struct gl_fixture f;
    glf_setup(&f, "greylist_lmdb_map_size = 256k");
    struct fl_greylist_decision d;
    struct glf_capture cap;
    glf_capture_start(&cap, &f);
    int i, rc = 0;
    for (i = 0; i < 50000 && rc >= 0; i++) {
        char sender[64];
        snprintf(sender, sizeof(sender), "fill%d@example.org", i);
        rc = glf_decide(&f, "192.0.2.1", sender, "r@example.net", &d);
    }
    char *log = glf_capture_end(&cap);
    ck_assert_msg(rc < 0, "a 256k map did not fill after %d triplets", i);
    ck_assert_msg(strstr(log, "reason=greylist.store_down") != NULL, "log: %s", log);
    free(log);
    f.now += 3 * DAY;
    size_t removed = 0;
    struct fl_buf err;
    fl_buf_init(&err);
    ck_assert_msg(fl_greylist_expire(f.gl, &removed, &err) == 0, "expire: %s", err.data);
    fl_buf_free(&err);
    ck_assert_msg(removed > 0, "expire removed nothing");
    rc = glf_decide(&f, "192.0.2.1", "after@example.org", "r@example.net", &d);
    ck_assert_msg(rc == 0, "after expire: got %s (%s), want a deferral",
                  fl_greylist_outcome_name(d.outcome), d.error);
    glf_teardown(&f);
}
END_TEST

START_TEST(test_sweep_in_batches)
{
    struct gl_fixture f;
    glf_setup(&f, "greylist_lmdb_sync = none");
    struct fl_greylist_decision d;
    char sender[64];
    for (int i = 0; i < 1200; i++) {
        snprintf(sender, sizeof(sender), "old%d@example.org", i);
        ck_assert(glf_decide(&f, "192.0.2.1", sender, "r@example.net", &d) == 0);
    }
    f.now += 3 * DAY + 1;
    for (int i = 0; i < 300; i++) {
        snprintf(sender, sizeof(sender), "new%d@example.org", i);
        ck_assert(glf_decide(&f, "192.0.2.1", sender, "r@example.net", &d) == 0);
    }
    size_t removed = 0;
    struct fl_buf err;
    fl_buf_init(&err);
    ck_assert_msg(fl_greylist_sweep(f.gl, &removed, &err) == 0, "sweep: %s", err.data);
    /* 1200 triplets and their 1200 pairs, in several batches of 500. */
    ck_assert_msg(removed == 2400, "sweep removed %zu, want 2400", removed);
    struct fl_greylist_stats st;
    ck_assert(fl_greylist_stats(f.gl, &st, &err) == 0);
    ck_assert_msg(st.triplets == 300 && st.pending == 300 && st.pairs == 300,
                  "left: %zu triplets (%zu pending), %zu pairs; want 300 each",
                  st.triplets, st.pending, st.pairs);
    fl_buf_free(&err);
    glf_teardown(&f);
}
END_TEST

START_TEST(test_missing_store_is_not_created_on_request)
{
    struct gl_fixture f;
    memset(&f, 0, sizeof(f));
    glf_config(&f, NULL);
    struct fl_buf err;
    fl_buf_init(&err);
    ck_assert_msg(fl_greylist_open(f.cfg, NULL, FL_GREYLIST_OPEN_EXISTING, &f.gl, &err) <
                      0,
                  "opened a store that does not exist");
    ck_assert_msg(strstr(err.data, "no store at") != NULL, "error: %s", err.data);
    fl_buf_free(&err);
    glf_teardown(&f);
}
END_TEST

START_TEST(test_second_open_in_one_process_is_refused)
{
    /* Two environments on one LMDB file in one process would drop each
       other's locks on close: the second open fails instead, and works
       again once the first is closed. */
    struct gl_fixture f;
    glf_setup(&f, NULL);
    struct fl_greylist *again = NULL;
    struct fl_buf err;
    fl_buf_init(&err);
    ck_assert_msg(fl_greylist_open(f.cfg, NULL, 0, &again, &err) < 0,
                  "the store was opened twice in one process");
    ck_assert_msg(strstr(err.data, "already open in this process") != NULL, "error: %s",
                  err.data);
    fl_greylist_close(&f.gl);
    fl_buf_reset(&err);
    ck_assert_msg(fl_greylist_open(f.cfg, NULL, 0, &again, &err) == 0,
                  "reopen after close: %s", err.data);
    fl_greylist_close(&again);
    fl_buf_free(&err);
    glf_teardown(&f);
}
END_TEST

static Suite *lmdb_suite(void)
{
    Suite *s = suite_create("greylist_lmdb");
    TCase *tc = tcase_create("lmdb");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_two_processes_share_the_store);
    tcase_add_test(tc, test_kill_during_writes_loses_nothing_committed);
    tcase_add_test(tc, test_full_map_fails_open_with_a_clear_error);
    tcase_add_test(tc, test_larger_recorded_map_size_is_adopted);
    tcase_add_test(tc, test_expire_makes_room_in_a_full_map);
    tcase_add_test(tc, test_sweep_in_batches);
    tcase_add_test(tc, test_missing_store_is_not_created_on_request);
    tcase_add_test(tc, test_second_open_in_one_process_is_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    fl_log_open("check_greylist_lmdb", "stderr", FL_LOG_WARN);
    SRunner *sr = srunner_create(lmdb_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
