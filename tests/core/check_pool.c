/* check_pool: unit tests for lib/pool, the bounded worker pool.

   Jobs run and fl_job_wait reports it; jobs submitted from several threads
   each run exactly once; a full queue refuses work; a wait with a deadline
   returns on time while the job is still busy; releasing a queued job
   cancels it (done() only); fl_pool_destroy runs what is queued.

   Jobs are held back with gates (a mutex and condition variable the test
   opens), not with long sleeps, so the tests are fast and deterministic;
   the only sleeps are a few milliseconds to make a job "slow".
   Run by `make check`. */
#include "lib/core/clock.h"
#include "lib/core/pool.h"

#include <check.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* --- a job that counts its calls, optionally held at a gate --------------- */

struct gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool open;
    int waiting; /* jobs blocked at the gate */
};

static void gate_init(struct gate *g)
{
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->cond, NULL);
    g->open = false;
    g->waiting = 0;
}

static void gate_pass(struct gate *g)
{
    pthread_mutex_lock(&g->lock);
    g->waiting++;
    pthread_cond_broadcast(&g->cond);
    while (!g->open)
        pthread_cond_wait(&g->cond, &g->lock);
    g->waiting--;
    pthread_mutex_unlock(&g->lock);
}

static void gate_open(struct gate *g)
{
    pthread_mutex_lock(&g->lock);
    g->open = true;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

/* Waits (bounded) until n jobs are blocked at the gate. */
static bool gate_wait_for(struct gate *g, int n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 5;
    pthread_mutex_lock(&g->lock);
    int rc = 0;
    while (g->waiting < n && rc == 0)
        rc = pthread_cond_timedwait(&g->cond, &g->lock, &ts);
    bool ok = g->waiting >= n;
    pthread_mutex_unlock(&g->lock);
    return ok;
}

static void gate_destroy(struct gate *g)
{
    pthread_cond_destroy(&g->cond);
    pthread_mutex_destroy(&g->lock);
}

struct counted {
    int runs;          /* atomic */
    int dones;         /* atomic */
    struct gate *gate; /* NULL: run at once */
    long sleep_ms;
};

static void counted_run(void *arg)
{
    struct counted *c = arg;
    if (c->gate)
        gate_pass(c->gate);
    if (c->sleep_ms)
        sleep_ms(c->sleep_ms);
    __atomic_add_fetch(&c->runs, 1, __ATOMIC_SEQ_CST);
}

static void counted_done(void *arg)
{
    struct counted *c = arg;
    __atomic_add_fetch(&c->dones, 1, __ATOMIC_SEQ_CST);
}

static int load(const int *p)
{
    return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

/* --- tests ------------------------------------------------------------------- */

struct run_row {
    const char *label;
    unsigned int nthreads;
    size_t max_queue;
    int njobs;
    bool with_done;
};

/* clang-format off */
static const struct run_row run_rows[] = {
    {"one job on one thread runs and wait returns 1", 1, 4, 1, true},
    {"several jobs on one thread all run", 1, 16, 16, true},
    {"several jobs on four threads all run", 4, 64, 64, true},
    {"a job without done() runs", 2, 8, 8, false},
    {"zero threads still means one worker", 0, 4, 3, true},
};
/* clang-format on */

START_TEST(test_jobs_run)
{
    const struct run_row *row = &run_rows[_i];
    struct fl_pool *pool = fl_pool_create(row->nthreads, row->max_queue);
    struct counted c[64];
    struct fl_job *jobs[64];
    memset(c, 0, sizeof(c));
    for (int i = 0; i < row->njobs; i++) {
        jobs[i] = fl_pool_submit(pool, counted_run, row->with_done ? counted_done : NULL,
                                 &c[i]);
        ck_assert_msg(jobs[i] != NULL, "%s: job %d: submit returned NULL", row->label, i);
    }
    long long deadline = fl_monotonic_ms() + 5000;
    for (int i = 0; i < row->njobs; i++) {
        int got = fl_job_wait(jobs[i], deadline);
        ck_assert_msg(got == 1, "%s: job %d: wait returned %d, want 1", row->label, i,
                      got);
        ck_assert_msg(load(&c[i].runs) == 1, "%s: job %d: ran %d times, want 1",
                      row->label, i, load(&c[i].runs));
        ck_assert_msg(load(&c[i].dones) == (row->with_done ? 1 : 0),
                      "%s: job %d: done called %d times, want %d", row->label, i,
                      load(&c[i].dones), row->with_done ? 1 : 0);
        /* Waiting again on a finished job answers at once. */
        got = fl_job_wait(jobs[i], 0);
        ck_assert_msg(got == 1, "%s: job %d: second wait returned %d, want 1", row->label,
                      i, got);
        fl_job_release(&jobs[i]);
        ck_assert_msg(jobs[i] == NULL, "%s: release did not clear the handle",
                      row->label);
    }
    ck_assert_msg(fl_pool_queued(pool) == 0, "%s: %zu jobs still queued, want 0",
                  row->label, fl_pool_queued(pool));
    fl_pool_destroy(&pool);
    ck_assert_msg(pool == NULL, "%s: destroy did not clear the pointer", row->label);
}
END_TEST

START_TEST(test_null_handles)
{
    struct fl_job *job = NULL;
    fl_job_release(&job); /* accepts NULL */
    struct fl_pool *pool = NULL;
    fl_pool_destroy(&pool); /* accepts NULL */
    ck_assert_msg(job == NULL && pool == NULL, "NULL handles: left non-NULL");
}
END_TEST

/* Many submitters -------------------------------------------------------- */

#define SUBMITTERS 4
#define JOBS_EACH  250

struct submitter {
    struct fl_pool *pool;
    struct counted *c; /* JOBS_EACH of them */
    int refused;
};

static void *submit_many(void *arg)
{
    struct submitter *s = arg;
    struct fl_job *jobs[JOBS_EACH];
    for (int i = 0; i < JOBS_EACH; i++) {
        jobs[i] = fl_pool_submit(s->pool, counted_run, counted_done, &s->c[i]);
        if (jobs[i] == NULL)
            s->refused++;
    }
    long long deadline = fl_monotonic_ms() + 10000;
    for (int i = 0; i < JOBS_EACH; i++) {
        if (jobs[i] != NULL && fl_job_wait(jobs[i], deadline) != 1)
            s->refused += 1000; /* reported by the main thread */
        fl_job_release(&jobs[i]);
    }
    return NULL;
}

START_TEST(test_many_threads_each_job_once)
{
    struct fl_pool *pool = fl_pool_create(4, SUBMITTERS * JOBS_EACH);
    struct submitter subs[SUBMITTERS];
    pthread_t threads[SUBMITTERS];
    for (int t = 0; t < SUBMITTERS; t++) {
        subs[t].pool = pool;
        subs[t].c = calloc(JOBS_EACH, sizeof(struct counted));
        subs[t].refused = 0;
        ck_assert_int_eq(pthread_create(&threads[t], NULL, submit_many, &subs[t]), 0);
    }
    for (int t = 0; t < SUBMITTERS; t++)
        pthread_join(threads[t], NULL);
    fl_pool_destroy(&pool);
    int total = 0;
    for (int t = 0; t < SUBMITTERS; t++) {
        ck_assert_msg(subs[t].refused == 0,
                      "submitter %d: %d refused submits, %d waits timed out (want none)",
                      t, subs[t].refused % 1000, subs[t].refused / 1000);
        for (int i = 0; i < JOBS_EACH; i++) {
            ck_assert_msg(
                subs[t].c[i].runs == 1 && subs[t].c[i].dones == 1,
                "submitter %d job %d: ran %d times, done %d times, want 1 and 1", t, i,
                subs[t].c[i].runs, subs[t].c[i].dones);
            total += subs[t].c[i].runs;
        }
        free(subs[t].c);
    }
    ck_assert_msg(total == SUBMITTERS * JOBS_EACH, "jobs run: got %d, want %d", total,
                  SUBMITTERS * JOBS_EACH);
}
END_TEST

/* Queue limits ------------------------------------------------------------ */

struct full_row {
    const char *label;
    unsigned int nthreads;
    size_t max_queue;
};

/* clang-format off */
static const struct full_row full_rows[] = {
    {"one busy worker and a queue of 2 refuses the third waiting job", 1, 2},
    {"two busy workers and a queue of 1 refuses the second waiting job", 2, 1},
};
/* clang-format on */

START_TEST(test_queue_full_refuses)
{
    const struct full_row *row = &full_rows[_i];
    struct gate gate;
    gate_init(&gate);
    /* max_queue counts waiting jobs only; the blockers are taken off the
       queue by the workers before the queue is filled. */
    struct fl_pool *pool = fl_pool_create(row->nthreads, row->max_queue);
    struct counted blockers[4], waiting[4], refused;
    struct fl_job *bjobs[4], *wjobs[4];
    memset(blockers, 0, sizeof(blockers));
    memset(waiting, 0, sizeof(waiting));
    memset(&refused, 0, sizeof(refused));
    for (unsigned int i = 0; i < row->nthreads; i++) {
        blockers[i].gate = &gate;
        bjobs[i] = fl_pool_submit(pool, counted_run, counted_done, &blockers[i]);
        ck_assert_msg(bjobs[i] != NULL, "%s: blocker %u refused", row->label, i);
        /* Submit one at a time so the queue never holds two blockers. */
        ck_assert_msg(gate_wait_for(&gate, (int)i + 1), "%s: worker %u did not start",
                      row->label, i);
    }
    const size_t fill = row->max_queue;
    for (size_t i = 0; i < fill; i++) {
        wjobs[i] = fl_pool_submit(pool, counted_run, counted_done, &waiting[i]);
        ck_assert_msg(wjobs[i] != NULL, "%s: waiting job %zu refused below the limit",
                      row->label, i);
    }
    ck_assert_msg(fl_pool_queued(pool) == fill, "%s: queued: got %zu, want %zu",
                  row->label, fl_pool_queued(pool), fill);
    struct fl_job *extra = fl_pool_submit(pool, counted_run, counted_done, &refused);
    ck_assert_msg(extra == NULL, "%s: submit to a full queue: got a job, want NULL",
                  row->label);
    ck_assert_msg(fl_pool_queued(pool) == fill,
                  "%s: queued after refusal: got %zu, want %zu", row->label,
                  fl_pool_queued(pool), fill);

    gate_open(&gate);
    long long deadline = fl_monotonic_ms() + 5000;
    for (unsigned int i = 0; i < row->nthreads; i++) {
        ck_assert_int_eq(fl_job_wait(bjobs[i], deadline), 1);
        fl_job_release(&bjobs[i]);
    }
    for (size_t i = 0; i < fill; i++) {
        ck_assert_int_eq(fl_job_wait(wjobs[i], deadline), 1);
        fl_job_release(&wjobs[i]);
        ck_assert_msg(waiting[i].runs == 1, "%s: waiting job %zu ran %d times",
                      row->label, i, waiting[i].runs);
    }
    /* A slot is free again. */
    extra = fl_pool_submit(pool, counted_run, counted_done, &refused);
    ck_assert_msg(extra != NULL, "%s: submit after the queue drained: got NULL",
                  row->label);
    ck_assert_int_eq(fl_job_wait(extra, deadline), 1);
    fl_job_release(&extra);
    ck_assert_msg(
        refused.runs == 1 && refused.dones == 1,
        "%s: the refused job's arg was touched before it was accepted: runs %d dones %d",
        row->label, refused.runs, refused.dones);
    fl_pool_destroy(&pool);
    gate_destroy(&gate);
}
END_TEST

START_TEST(test_queue_zero_refuses_all)
{
    struct fl_pool *pool = fl_pool_create(1, 0);
    struct counted c;
    memset(&c, 0, sizeof(c));
    struct fl_job *job = fl_pool_submit(pool, counted_run, counted_done, &c);
    ck_assert_msg(job == NULL, "max_queue 0: submit: got a job, want NULL");
    fl_pool_destroy(&pool);
    ck_assert_msg(c.runs == 0 && c.dones == 0,
                  "max_queue 0: a refused job's run/done were called (%d, %d)", c.runs,
                  c.dones);
}
END_TEST

/* Deadlines ------------------------------------------------------------------ */

struct deadline_row {
    const char *label;
    long long offset_ms; /* deadline relative to now */
};

/* clang-format off */
static const struct deadline_row deadline_rows[] = {
    {"a deadline already past returns 0 at once", -1000},
    {"a deadline of now returns 0 at once", 0},
    {"a deadline 20 ms ahead returns 0 after about 20 ms", 20},
};
/* clang-format on */

START_TEST(test_wait_deadline)
{
    const struct deadline_row *row = &deadline_rows[_i];
    struct gate gate;
    gate_init(&gate);
    struct fl_pool *pool = fl_pool_create(1, 4);
    struct counted slow;
    memset(&slow, 0, sizeof(slow));
    slow.gate = &gate;
    struct fl_job *job = fl_pool_submit(pool, counted_run, counted_done, &slow);
    ck_assert_msg(job != NULL, "%s: submit refused", row->label);
    ck_assert_msg(gate_wait_for(&gate, 1), "%s: the job did not start", row->label);

    long long start = fl_monotonic_ms();
    long long deadline = start + row->offset_ms;
    int got = fl_job_wait(job, deadline);
    long long end = fl_monotonic_ms();
    long long wanted_end = deadline > start ? deadline : start;
    ck_assert_msg(got == 0, "%s: wait returned %d, want 0 (the job is still running)",
                  row->label, got);
    ck_assert_msg(end >= wanted_end, "%s: returned %lld ms before the deadline",
                  row->label, wanted_end - end);
    ck_assert_msg(end < wanted_end + 50,
                  "%s: returned %lld ms after the deadline, want < 50", row->label,
                  end - wanted_end);

    /* Still running: the caller gives up the handle, the job finishes on its
       own and done() is still called once. */
    fl_job_release(&job);
    gate_open(&gate);
    fl_pool_destroy(&pool);
    ck_assert_msg(slow.runs == 1 && slow.dones == 1,
                  "%s: after release and destroy: runs %d dones %d, want 1 and 1",
                  row->label, slow.runs, slow.dones);
    gate_destroy(&gate);
}
END_TEST

START_TEST(test_wait_slow_job_completes)
{
    /* A job that takes a few ms finishes well inside a generous deadline,
       and wait returns as soon as it did (not at the deadline). */
    struct fl_pool *pool = fl_pool_create(1, 4);
    struct counted slow;
    memset(&slow, 0, sizeof(slow));
    slow.sleep_ms = 5;
    long long start = fl_monotonic_ms();
    struct fl_job *job = fl_pool_submit(pool, counted_run, counted_done, &slow);
    int got = fl_job_wait(job, start + 5000);
    long long took = fl_monotonic_ms() - start;
    ck_assert_msg(got == 1, "a 5 ms job: wait returned %d, want 1", got);
    ck_assert_msg(took >= 5 && took < 1000, "a 5 ms job: wait took %lld ms, want 5..1000",
                  took);
    fl_job_release(&job);
    fl_pool_destroy(&pool);
}
END_TEST

/* Cancellation --------------------------------------------------------------- */

START_TEST(test_release_queued_cancels)
{
    struct gate gate;
    gate_init(&gate);
    struct fl_pool *pool = fl_pool_create(1, 8);
    struct counted blocker, cancelled, after;
    memset(&blocker, 0, sizeof(blocker));
    memset(&cancelled, 0, sizeof(cancelled));
    memset(&after, 0, sizeof(after));
    blocker.gate = &gate;
    struct fl_job *b = fl_pool_submit(pool, counted_run, counted_done, &blocker);
    ck_assert_msg(gate_wait_for(&gate, 1), "the blocker did not start");
    struct fl_job *c = fl_pool_submit(pool, counted_run, counted_done, &cancelled);
    struct fl_job *a = fl_pool_submit(pool, counted_run, counted_done, &after);
    ck_assert_msg(c != NULL && a != NULL, "submits refused");
    ck_assert_msg(fl_pool_queued(pool) == 2, "queued: got %zu, want 2",
                  fl_pool_queued(pool));
    fl_job_release(&c);
    ck_assert_msg(c == NULL, "release did not clear the handle");
    gate_open(&gate);
    long long deadline = fl_monotonic_ms() + 5000;
    ck_assert_int_eq(fl_job_wait(b, deadline), 1);
    ck_assert_int_eq(fl_job_wait(a, deadline), 1);
    fl_job_release(&b);
    fl_job_release(&a);
    fl_pool_destroy(&pool);
    ck_assert_msg(cancelled.runs == 0,
                  "a job released while queued: run called %d times, want 0",
                  cancelled.runs);
    ck_assert_msg(cancelled.dones == 1,
                  "a job released while queued: done called %d times, want 1",
                  cancelled.dones);
    ck_assert_msg(
        after.runs == 1 && after.dones == 1,
        "the job queued after the cancelled one: runs %d dones %d, want 1 and 1",
        after.runs, after.dones);
    gate_destroy(&gate);
}
END_TEST

/* A session whose job is still queued behind a busy worker takes it back
   and runs it itself (no head-of-line blocking); a job a worker holds
   cannot be claimed, and a claimed job is never run by a worker. */
START_TEST(test_claim_queued_job)
{
    struct gate gate;
    gate_init(&gate);
    struct fl_pool *pool = fl_pool_create(1, 8);
    struct counted blocker, claimed;
    memset(&blocker, 0, sizeof(blocker));
    memset(&claimed, 0, sizeof(claimed));
    blocker.gate = &gate;
    struct fl_job *b = fl_pool_submit(pool, counted_run, counted_done, &blocker);
    ck_assert_msg(gate_wait_for(&gate, 1), "the blocker did not start");
    struct fl_job *c = fl_pool_submit(pool, counted_run, counted_done, &claimed);
    ck_assert_msg(c != NULL, "submit refused");
    ck_assert_msg(fl_job_claim(b) == 0, "a running job was claimed");
    ck_assert_msg(fl_job_claim(c) == 1, "a queued job behind a busy worker was not claimed");
    counted_run(&claimed); /* the claimer runs it */
    gate_open(&gate);
    ck_assert_int_eq(fl_job_wait(b, fl_monotonic_ms() + 5000), 1);
    fl_job_release(&b);
    fl_job_release(&c);
    fl_pool_destroy(&pool);
    ck_assert_msg(claimed.runs == 1, "a claimed job: run %d times, want 1 (by the claimer)",
                  claimed.runs);
    ck_assert_msg(claimed.dones == 1, "a claimed job: done called %d times, want 1",
                  claimed.dones);
    gate_destroy(&gate);
}
END_TEST

/* Destroy -------------------------------------------------------------------- */

START_TEST(test_destroy_waits_for_running_and_cancelled)
{
    /* Handles released before destroy: the running job finishes, the queued
       (cancelled) ones get done() -- all before destroy returns. */
    struct gate gate;
    gate_init(&gate);
    struct fl_pool *pool = fl_pool_create(1, 8);
    struct counted running, queued[3];
    memset(&running, 0, sizeof(running));
    memset(queued, 0, sizeof(queued));
    running.gate = &gate;
    running.sleep_ms = 5;
    struct fl_job *r = fl_pool_submit(pool, counted_run, counted_done, &running);
    ck_assert_msg(gate_wait_for(&gate, 1), "the running job did not start");
    for (int i = 0; i < 3; i++) {
        struct fl_job *q = fl_pool_submit(pool, counted_run, counted_done, &queued[i]);
        ck_assert_msg(q != NULL, "queued job %d refused", i);
        fl_job_release(&q);
    }
    fl_job_release(&r);
    gate_open(&gate);
    fl_pool_destroy(&pool);
    ck_assert_msg(running.runs == 1 && running.dones == 1,
                  "the running job after destroy: runs %d dones %d, want 1 and 1",
                  running.runs, running.dones);
    for (int i = 0; i < 3; i++)
        ck_assert_msg(
            queued[i].runs == 0 && queued[i].dones == 1,
            "released queued job %d after destroy: runs %d dones %d, want 0 and 1", i,
            queued[i].runs, queued[i].dones);
    gate_destroy(&gate);
}
END_TEST

START_TEST(test_destroy_drains_queue)
{
    /* pool.h: destroy "stops the workers after the queued jobs ran".  Jobs
       still held by their callers are queued behind a slow one when destroy
       is called: every one of them runs, and the handles can still be
       released afterwards (a session that timed out may release late). */
    struct fl_pool *pool = fl_pool_create(2, 32);
    struct counted c[16];
    struct fl_job *jobs[16];
    memset(c, 0, sizeof(c));
    for (int i = 0; i < 16; i++) {
        c[i].sleep_ms = i < 2 ? 5 : 0;
        jobs[i] = fl_pool_submit(pool, counted_run, counted_done, &c[i]);
        ck_assert_msg(jobs[i] != NULL, "job %d refused", i);
    }
    fl_pool_destroy(&pool);
    for (int i = 0; i < 16; i++)
        ck_assert_msg(c[i].runs == 1 && c[i].dones == 1,
                      "job %d after destroy: runs %d dones %d, want 1 and 1", i,
                      c[i].runs, c[i].dones);
    for (int i = 0; i < 16; i++)
        fl_job_release(&jobs[i]);
}
END_TEST

START_TEST(test_done_frees_arg_after_early_release)
{
    /* The documented use of done(): free the argument even when the caller
       stopped waiting. */
    struct fl_pool *pool = fl_pool_create(2, 8);
    struct counted *heap = calloc(1, sizeof(*heap));
    struct fl_job *job = fl_pool_submit(pool, counted_run, free, heap);
    ck_assert_msg(job != NULL, "submit refused");
    /* Give up at once: the job may not have started; either way free() runs
       exactly once (valgrind would report a leak or a double free). */
    fl_job_release(&job);
    fl_pool_destroy(&pool);
}
END_TEST

/* --- main ------------------------------------------------------------------- */

static Suite *pool_suite(void)
{
    Suite *s = suite_create("pool");

    TCase *tc = tcase_create("run");
    tcase_add_loop_test(tc, test_jobs_run, 0, (int)NELEMS(run_rows));
    tcase_add_test(tc, test_null_handles);
    tcase_add_test(tc, test_many_threads_each_job_once);
    suite_add_tcase(s, tc);

    tc = tcase_create("queue");
    tcase_add_loop_test(tc, test_queue_full_refuses, 0, (int)NELEMS(full_rows));
    tcase_add_test(tc, test_queue_zero_refuses_all);
    suite_add_tcase(s, tc);

    tc = tcase_create("deadline");
    tcase_add_loop_test(tc, test_wait_deadline, 0, (int)NELEMS(deadline_rows));
    tcase_add_test(tc, test_wait_slow_job_completes);
    suite_add_tcase(s, tc);

    tc = tcase_create("cancel_and_destroy");
    tcase_add_test(tc, test_release_queued_cancels);
    tcase_add_test(tc, test_claim_queued_job);
    tcase_add_test(tc, test_destroy_waits_for_running_and_cancelled);
    tcase_add_test(tc, test_destroy_drains_queue);
    tcase_add_test(tc, test_done_frees_arg_after_early_release);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pool_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
