/* check_greylist_redis: the Redis greylist store against a real
   redis-server on a free loopback port (tests/harness/redis_server.c).

   - Two clients (two handles, as two MX hosts would have) share state: a
     retry through the other one is accepted.
   - Many threads decide on the same triplets at once: each is first seen
     exactly once and every deferral reports that one first-seen time
     (WATCH/MULTI/EXEC keeps them from overwriting each other).
   - Keys carry TTLs (expiry plus a day), so Redis forgets them by itself.
   - Redis killed mid-test: decisions fail open with greylist.store_down
     (logged); restarted on the same port, decisions work again.
   - A server that stops answering (SIGSTOP) costs at most about
     greylist_redis_timeout per decision.
   - A unix socket works like TCP.
   Skipped (exit 77) when redis-server is not installed.  Run by
   `make check`. */
#include "lib/core/clock.h"
#include "lib/greylist/greylist.h"
#include "lib/core/log.h"
#include "tests/harness/redis_server.h"
#include "tests/greylist/greylist_fixture.h"

#include <check.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct fl_redisd redisd;

/* Configuration for the test server (and extra settings); the store is
   opened on the fixture's fake clock. */
static void redis_setup(struct gl_fixture *f, const char *server, const char *extra)
{
    char text[1024];
    bool sets_timeout = extra != NULL && strstr(extra, "greylist_redis_timeout") != NULL;
    snprintf(text, sizeof(text),
             "greylist_store = redis\ngreylist_redis_server = %s\n%s%s",
             server ? server : redisd.addr,
             sets_timeout ? "" : "greylist_redis_timeout = 300ms\n", extra ? extra : "");
    glf_setup(f, text);
}

static void start_server(void)
{
    ck_assert_msg(fl_redisd_start(&redisd) == 0, "cannot start redis-server");
}

START_TEST(test_two_clients_share_state)
{
    start_server();
    struct gl_fixture a, b;
    redis_setup(&a, NULL, NULL);
    redis_setup(&b, NULL, NULL);
    struct fl_greylist_decision d;
    ck_assert_msg(
        glf_decide(&a, "192.0.2.1", "s@example.org", "r@example.net", &d) == 0 &&
            strcmp(d.reason_code, "greylist.first_seen") == 0,
        "MX a, first attempt: got %s %s", fl_greylist_outcome_name(d.outcome), d.error);
    b.now = a.now + 100;
    ck_assert_msg(
        glf_decide(&b, "192.0.2.2", "s@example.org", "r@example.net", &d) == 0 &&
            strcmp(d.reason_code, "greylist.too_early") == 0 && d.retry_after == 200,
        "MX b, retry after 100 s: got %s", fl_greylist_outcome_name(d.outcome));
    b.now = a.now + 300;
    ck_assert_msg(
        glf_decide(&b, "192.0.2.3", "s@example.org", "r@example.net", &d) == 1 &&
            d.retry_accepted,
        "MX b, retry after the delay: got %s", fl_greylist_outcome_name(d.outcome));
    a.now += 400;
    ck_assert_msg(glf_decide(&a, "192.0.2.1", "s@example.org", "r@example.net", &d) ==
                          1 &&
                      d.outcome == FL_GREYLIST_PASS && !d.retry_accepted,
                  "MX a, later: got %s", fl_greylist_outcome_name(d.outcome));
    glf_teardown(&a);
    glf_teardown(&b);
    fl_redisd_stop(&redisd);
}
END_TEST

START_TEST(test_keys_carry_ttls)
{
    start_server();
    struct gl_fixture f;
    redis_setup(&f, NULL, "greylist_redis_prefix = t1:");
    struct fl_greylist_decision d;
    glf_decide(&f, "192.0.2.1", "s@example.org", "r@example.net", &d);
    redisContext *c = redisConnect("127.0.0.1", redisd.port);
    ck_assert(c != NULL && c->err == 0);
    redisReply *r =
        redisCommand(c, "TTL %s", "t1:t 192.0.2.0/24 s@example.org r@example.net");
    long long want = 2 * DAY + FL_GREYLIST_KEEP_EXPIRED;
    ck_assert_msg(r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer > want - 10 &&
                      r->integer <= want,
                  "TTL of a pending triplet: got %lld, want about %lld",
                  r ? r->integer : -99, want);
    freeReplyObject(r);
    glf_teardown(&f);
    redisFree(c);
    fl_redisd_stop(&redisd);
}
END_TEST

START_TEST(test_unix_socket)
{
    start_server();
    char server[400];
    snprintf(server, sizeof(server), "unix:%s", redisd.socket);
    struct gl_fixture f;
    redis_setup(&f, server, NULL);
    struct fl_greylist_decision d;
    int rc = glf_decide(&f, "192.0.2.1", "s@example.org", "r@example.net", &d);
    ck_assert_msg(rc == 0, "over %s: got %s (%s)", server,
                  fl_greylist_outcome_name(d.outcome), d.error);
    glf_teardown(&f);
    fl_redisd_stop(&redisd);
}
END_TEST

/* --- concurrency ------------------------------------------------------------------ */

#define THREADS  16
#define TRIPLETS 40

static _Thread_local time_t thread_now;

static time_t thread_clock(void *ctx)
{
    (void)ctx;
    return thread_now;
}

struct worker {
    struct gl_fixture *f;
    int index;
    int first_seen[TRIPLETS];  /* 1 if this thread saw triplet i first */
    time_t reported[TRIPLETS]; /* first-seen time its decision reported */
    int errors;
};

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    /* Each thread has its own clock, a second apart: a lost update would
       show as two first-seen times. */
    thread_now = GLF_T0 + w->index;
    for (int i = 0; i < TRIPLETS; i++) {
        char sender[64];
        snprintf(sender, sizeof(sender), "s%d@example.org", i);
        struct fl_greylist_decision d;
        int rc = glf_decide(w->f, "192.0.2.1", sender, "r@example.net", &d);
        if (rc != 0) {
            w->errors++;
            continue;
        }
        w->first_seen[i] = strcmp(d.reason_code, "greylist.first_seen") == 0;
        w->reported[i] = d.first_seen;
    }
    return NULL;
}

START_TEST(test_concurrent_first_seen_keeps_one_time)
{
    start_server();
    struct gl_fixture f;
    redis_setup(&f, NULL, "greylist_redis_pool_size = 6\ngreylist_redis_timeout = 5s");
    fl_greylist_close(&f.gl);
    struct fl_buf err;
    fl_buf_init(&err);
    struct fl_clock clock = {thread_clock, NULL};
    ck_assert(fl_greylist_open(f.cfg, &clock, 0, &f.gl, &err) == 0);
    fl_buf_free(&err);
    struct worker w[THREADS];
    pthread_t tid[THREADS];
    memset(w, 0, sizeof(w));
    for (int t = 0; t < THREADS; t++) {
        w[t].f = &f;
        w[t].index = t;
        ck_assert(pthread_create(&tid[t], NULL, worker_run, &w[t]) == 0);
    }
    for (int t = 0; t < THREADS; t++)
        pthread_join(tid[t], NULL);
    for (int i = 0; i < TRIPLETS; i++) {
        int firsts = 0;
        time_t first = 0;
        for (int t = 0; t < THREADS; t++) {
            ck_assert_msg(w[t].errors == 0, "thread %d: %d store errors", t, w[t].errors);
            if (w[t].first_seen[i]) {
                firsts++;
                first = w[t].reported[i];
            }
        }
        ck_assert_msg(firsts == 1, "triplet %d was first seen by %d threads, want 1", i,
                      firsts);
        for (int t = 0; t < THREADS; t++)
            ck_assert_msg(w[t].reported[i] == first,
                          "triplet %d: thread %d reports first seen at %lld, the first "
                          "decision stored %lld",
                          i, t, (long long)w[t].reported[i], (long long)first);
    }
    glf_teardown(&f);
    fl_redisd_stop(&redisd);
}
END_TEST

/* --- failures ----------------------------------------------------------------------- */

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

START_TEST(test_killed_redis_fails_open_then_recovers)
{
    start_server();
    struct gl_fixture f;
    redis_setup(&f, NULL, NULL);
    struct fl_greylist_decision d;
    ck_assert(glf_decide(&f, "192.0.2.1", "s@example.org", "r@example.net", &d) == 0);
    fl_redisd_kill(&redisd);
    struct glf_capture cap;
    glf_capture_start(&cap, &f);
    int rc = glf_decide(&f, "192.0.2.1", "t@example.org", "r@example.net", &d);
    char *log = glf_capture_end(&cap);
    ck_assert_msg(rc == -1 && d.outcome == FL_GREYLIST_STORE_ERROR &&
                      strcmp(d.reason_code, "greylist.store_down") == 0,
                  "with Redis killed: got %s, want store_error",
                  fl_greylist_outcome_name(d.outcome));
    ck_assert_msg(strstr(log, "reason=greylist.store_down fault=receiver store=redis "
                              "action=accept") != NULL,
                  "log line missing; log was: %s", log);
    free(log);
    struct fl_result r;
    fl_greylist_result(&d, &r);
    ck_assert_msg(r.action == FL_ACTION_ACCEPT && r.fault == FL_FAULT_RECEIVER &&
                      r.result == FL_RES_TEMPERROR,
                  "store down must fail open with fault=receiver");
    fl_result_clear(&r);
    /* While it is down, decisions fail fast (backoff), never hang. */
    long long t0 = fl_monotonic_ms();
    for (int i = 0; i < 20; i++) {
        glf_capture_start(&cap, &f);
        glf_decide(&f, "192.0.2.1", "t@example.org", "r@example.net", &d);
        free(glf_capture_end(&cap));
    }
    ck_assert_msg(fl_monotonic_ms() - t0 < 2000,
                  "20 decisions against a dead Redis took %lld ms",
                  fl_monotonic_ms() - t0);
    ck_assert_msg(fl_redisd_restart(&redisd) == 0, "cannot restart redis-server");
    /* Waits out the reconnect backoff (at most 5 s). */
    rc = -1;
    for (int waited = 0; rc < 0 && waited < 10000; waited += 20) {
        glf_capture_start(&cap, &f);
        rc = glf_decide(&f, "192.0.2.1", "u@example.org", "r@example.net", &d);
        free(glf_capture_end(&cap));
        if (rc < 0)
            pause_ms(20);
    }
    ck_assert_msg(rc == 0 && strcmp(d.reason_code, "greylist.first_seen") == 0,
                  "after the restart: got %s (%s)", fl_greylist_outcome_name(d.outcome),
                  d.error);
    glf_teardown(&f);
    fl_redisd_stop(&redisd);
}
END_TEST

START_TEST(test_unresponsive_redis_is_bounded_by_the_timeout)
{
    start_server();
    struct gl_fixture f;
    redis_setup(&f, NULL, "greylist_redis_timeout = 200ms");
    struct fl_greylist_decision d;
    ck_assert(glf_decide(&f, "192.0.2.1", "s@example.org", "r@example.net", &d) == 0);
    kill(redisd.pid, SIGSTOP);
    struct glf_capture cap;
    glf_capture_start(&cap, &f);
    long long t0 = fl_monotonic_ms();
    int rc = glf_decide(&f, "192.0.2.1", "t@example.org", "r@example.net", &d);
    long long took = fl_monotonic_ms() - t0;
    free(glf_capture_end(&cap));
    kill(redisd.pid, SIGCONT);
    ck_assert_msg(rc == -1, "a stopped Redis answered?");
    /* The pooled connection times out (200 ms), then one new connection
       is tried and times out too: about 400 ms. */
    ck_assert_msg(took < 1500, "the decision took %lld ms with a 200 ms timeout", took);
    glf_teardown(&f);
    fl_redisd_stop(&redisd);
}
END_TEST

static Suite *redis_suite(void)
{
    Suite *s = suite_create("greylist_redis");
    TCase *tc = tcase_create("redis");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_two_clients_share_state);
    tcase_add_test(tc, test_keys_carry_ttls);
    tcase_add_test(tc, test_unix_socket);
    tcase_add_test(tc, test_concurrent_first_seen_keeps_one_time);
    tcase_add_test(tc, test_killed_redis_fails_open_then_recovers);
    tcase_add_test(tc, test_unresponsive_redis_is_bounded_by_the_timeout);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (!fl_redisd_available()) {
        printf("redis-server not installed: skipped\n");
        return 77;
    }
    fl_log_open("check_greylist_redis", "stderr", FL_LOG_WARN);
    SRunner *sr = srunner_create(redis_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
