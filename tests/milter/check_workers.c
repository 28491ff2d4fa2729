/* check_workers: unit tests for milter/workers, the kept threads under
   libmilter's worker pool.

   Here the "object whose threads are kept" is this test program itself
   (fl_workers_init with one of its functions), so the routines below play
   libmilter's workers.  A routine that returned leaves its thread parked
   and the next one runs on that same thread (same kernel thread id, the
   process's thread count unchanged, over a thousand sessions); a worker
   detaching itself, as libmilter's does, gets 0; concurrent creators get
   every routine run exactly once; no more than max_idle threads park and a
   parked thread ends after idle_ms; threads with attributes, routines of
   another object, and everything before fl_workers_init are ordinary
   joinable threads.  Run by `make check`. */
#include "milter/workers.h"

#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Threads of this process now (/proc/self/status). */
static int threads_now(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    ck_assert_ptr_nonnull(f);
    char line[256];
    int n = -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    fclose(f);
    return n;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits up to 5 s for fl_workers_idle() == n. */
static void wait_idle(size_t n)
{
    for (int i = 0; i < 5000 && fl_workers_idle() != n; i++)
        sleep_ms(1);
    ck_assert_uint_eq(fl_workers_idle(), n);
}

struct job {
    pid_t tid;        /* the kernel thread that ran it */
    int detach_rc;    /* its pthread_detach(pthread_self()) */
    int ran;          /* atomic */
    pthread_barrier_t *hold; /* waited on before returning, when set */
};

/* A libmilter-like worker: detaches itself, does its work, returns. */
static void *worker(void *arg)
{
    struct job *j = arg;
    j->detach_rc = pthread_detach(pthread_self());
    j->tid = (pid_t)syscall(SYS_gettid);
    if (j->hold != NULL)
        pthread_barrier_wait(j->hold);
    __atomic_add_fetch(&j->ran, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void run_and_park(struct job *j)
{
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, worker, j), 0);
    for (int i = 0; i < 5000 && __atomic_load_n(&j->ran, __ATOMIC_ACQUIRE) == 0; i++)
        sleep_ms(1);
    ck_assert_int_eq(j->ran, 1);
    wait_idle(1);
}

START_TEST(the_next_routine_runs_on_the_parked_thread)
{
    ck_assert_int_eq(fl_workers_init((const void *)worker, 4, 10000), 0);
    int before = threads_now();
    struct job a = {0}, b = {0};
    run_and_park(&a);
    ck_assert_int_eq(threads_now(), before + 1);
    run_and_park(&b);
    ck_assert_int_eq(b.tid, a.tid);
    ck_assert_int_eq(threads_now(), before + 1);
    ck_assert_int_eq(a.detach_rc, 0);
    ck_assert_int_eq(b.detach_rc, 0);
    ck_assert_uint_eq(fl_workers_ended(), 0);
}
END_TEST

START_TEST(a_thousand_sessions_one_thread)
{
    ck_assert_int_eq(fl_workers_init((const void *)worker, 4, 10000), 0);
    int before = threads_now();
    struct job first = {0};
    run_and_park(&first);
    for (int i = 0; i < 1000; i++) {
        struct job j = {0};
        run_and_park(&j);
        ck_assert_int_eq(j.tid, first.tid);
        ck_assert_int_eq(j.detach_rc, 0);
    }
    ck_assert_int_eq(threads_now(), before + 1);
}
END_TEST

struct creator {
    struct job *jobs;
    int n;
};

static void *create_many(void *arg)
{
    struct creator *c = arg;
    for (int i = 0; i < c->n; i++) {
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, worker, &c->jobs[i]), 0);
    }
    return NULL;
}

START_TEST(concurrent_creators_run_every_routine_once)
{
    enum { CREATORS = 4, EACH = 500 };
    ck_assert_int_eq(fl_workers_init((const void *)worker, 8, 10000), 0);
    int before = threads_now();
    static struct job jobs[CREATORS * EACH];
    struct creator c[CREATORS];
    pthread_t ct[CREATORS];
    pthread_attr_t joinable; /* attributes: an ordinary thread */
    pthread_attr_init(&joinable);
    for (int i = 0; i < CREATORS; i++) {
        c[i].jobs = &jobs[i * EACH];
        c[i].n = EACH;
        ck_assert_int_eq(pthread_create(&ct[i], &joinable, create_many, &c[i]), 0);
    }
    for (int i = 0; i < CREATORS; i++)
        ck_assert_int_eq(pthread_join(ct[i], NULL), 0);
    pthread_attr_destroy(&joinable);
    for (int i = 0; i < CREATORS * EACH; i++) {
        for (int w = 0; w < 5000 && __atomic_load_n(&jobs[i].ran, __ATOMIC_ACQUIRE) == 0; w++)
            sleep_ms(1);
        ck_assert_int_eq(jobs[i].ran, 1);
        ck_assert_int_eq(jobs[i].detach_rc, 0);
    }
    sleep_ms(50);
    ck_assert_uint_le(fl_workers_idle(), 8);
    ck_assert_int_le(threads_now(), before + 8);
}
END_TEST

START_TEST(at_most_max_idle_park_and_they_end_after_idle_ms)
{
    enum { RUNNING = 16, MAX_IDLE = 8 };
    ck_assert_int_eq(fl_workers_init((const void *)worker, MAX_IDLE, 300), 0);
    int before = threads_now();
    pthread_barrier_t hold;
    pthread_barrier_init(&hold, NULL, RUNNING + 1);
    struct job jobs[RUNNING];
    memset(jobs, 0, sizeof(jobs));
    for (int i = 0; i < RUNNING; i++) {
        jobs[i].hold = &hold;
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, worker, &jobs[i]), 0);
    }
    pthread_barrier_wait(&hold); /* all sixteen run at once */
    wait_idle(MAX_IDLE);
    for (int i = 0; i < 5000 && fl_workers_ended() < RUNNING - MAX_IDLE; i++)
        sleep_ms(1);
    ck_assert_uint_eq(fl_workers_ended(), RUNNING - MAX_IDLE);
    /* the parked ones end once unused for idle_ms */
    wait_idle(0);
    for (int i = 0; i < 5000 && threads_now() != before; i++)
        sleep_ms(1);
    ck_assert_int_eq(threads_now(), before);
    ck_assert_uint_eq(fl_workers_ended(), RUNNING);
    pthread_barrier_destroy(&hold);
}
END_TEST

static void *plain(void *arg)
{
    *(int *)arg = 1;
    return arg;
}

/* An ordinary thread's routine: waits on the barrier, then counts. */
static void *held(void *arg)
{
    struct job *j = arg;
    pthread_barrier_wait(j->hold);
    __atomic_add_fetch(&j->ran, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* A joinable ordinary thread: join returns its value; nothing parks. */
static void assert_ordinary(const pthread_attr_t *attr)
{
    int done = 0;
    pthread_t t;
    void *rv = NULL;
    ck_assert_int_eq(pthread_create(&t, attr, plain, &done), 0);
    ck_assert_int_eq(pthread_join(t, &rv), 0);
    ck_assert_ptr_eq(rv, &done);
    ck_assert_int_eq(done, 1);
    ck_assert_uint_eq(fl_workers_idle(), 0);
}

START_TEST(other_threads_are_ordinary)
{
    assert_ordinary(NULL); /* before fl_workers_init */
    /* routines of another object (libc's) are the kept ones: ours are not
       (looked up, not &getpid: that may be a stub in this executable) */
    void *in_libc = dlsym(RTLD_NEXT, "getpid");
    ck_assert_ptr_nonnull(in_libc);
    ck_assert_int_eq(fl_workers_init(in_libc, 4, 10000), 0);
    assert_ordinary(NULL);
    /* ours, but with attributes */
    ck_assert_int_eq(fl_workers_init((const void *)worker, 4, 10000), 0);
    pthread_attr_t joinable;
    pthread_attr_init(&joinable);
    assert_ordinary(&joinable);
    pthread_attr_destroy(&joinable);
    /* detaching another thread is the real call: twice is EINVAL (while
       it still runs: a thread that ended may not be named again) */
    pthread_barrier_t hold;
    pthread_barrier_init(&hold, NULL, 2);
    struct job j = {.hold = &hold};
    pthread_t t;
    pthread_attr_init(&joinable);
    ck_assert_int_eq(pthread_create(&t, &joinable, held, &j), 0);
    pthread_attr_destroy(&joinable);
    ck_assert_int_eq(pthread_detach(t), 0);
    ck_assert_int_eq(pthread_detach(t), EINVAL);
    pthread_barrier_wait(&hold);
    for (int i = 0; i < 5000 && __atomic_load_n(&j.ran, __ATOMIC_ACQUIRE) == 0; i++)
        sleep_ms(1);
    ck_assert_int_eq(j.ran, 1);
    sleep_ms(20); /* let it end before the barrier goes */
    pthread_barrier_destroy(&hold);
}
END_TEST

START_TEST(an_address_in_no_object_is_refused)
{
    int on_stack = 0;
    ck_assert_int_eq(fl_workers_init(&on_stack, 4, 10000), -1);
    assert_ordinary(NULL);
}
END_TEST

static Suite *workers_suite(void)
{
    Suite *s = suite_create("workers");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, the_next_routine_runs_on_the_parked_thread);
    tcase_add_test(tc, a_thousand_sessions_one_thread);
    tcase_add_test(tc, concurrent_creators_run_every_routine_once);
    tcase_add_test(tc, at_most_max_idle_park_and_they_end_after_idle_ms);
    tcase_add_test(tc, other_threads_are_ordinary);
    tcase_add_test(tc, an_address_in_no_object_is_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(workers_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
