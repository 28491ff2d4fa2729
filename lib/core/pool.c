/* pool: see pool.h.  One mutex guards the queue and every job's state; jobs
   are reference-counted (queue/worker + caller) so either side may let go
   first. */
#include "lib/core/pool.h"
#include "lib/core/clock.h"
#include "lib/core/xalloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_CANCELLED };

struct fl_job {
    void (*run)(void *);
    void (*done)(void *);
    void *arg;
    enum job_state state;
    int refs;
    struct fl_pool *pool;
    struct fl_job *next;
};

struct fl_pool {
    pthread_mutex_t lock;
    pthread_cond_t work;     /* a job was queued, or stopping */
    pthread_cond_t finished; /* a job finished */
    struct fl_job *head, *tail;
    size_t queued, max_queue;
    bool stopping;
    pthread_t *threads;
    unsigned int nthreads;
    size_t handles; /* job handles not yet released */
    bool destroyed; /* fl_pool_destroy ran; the last release frees */
};

static void pool_free(struct fl_pool *pool)
{
    pthread_cond_destroy(&pool->work);
    pthread_cond_destroy(&pool->finished);
    pthread_mutex_destroy(&pool->lock);
    free(pool);
}

static void job_unref_locked(struct fl_job *job)
{
    if (--job->refs == 0)
        free(job);
}

static void *worker(void *p)
{
    struct fl_pool *pool = p;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (pool->head == NULL && !pool->stopping)
            pthread_cond_wait(&pool->work, &pool->lock);
        struct fl_job *job = pool->head;
        if (job == NULL)
            break; /* stopping and drained */
        pool->head = job->next;
        if (pool->head == NULL)
            pool->tail = NULL;
        pool->queued--;
        bool cancelled = job->state == JOB_CANCELLED;
        job->state = cancelled ? JOB_CANCELLED : JOB_RUNNING;
        pthread_mutex_unlock(&pool->lock);
        if (!cancelled)
            job->run(job->arg);
        if (job->done)
            job->done(job->arg);
        pthread_mutex_lock(&pool->lock);
        if (!cancelled)
            job->state = JOB_DONE;
        pthread_cond_broadcast(&pool->finished);
        job_unref_locked(job);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

struct fl_pool *fl_pool_create(unsigned int nthreads, size_t max_queue)
{
    struct fl_pool *pool = fl_calloc(1, sizeof(*pool));
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->work, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&pool->finished, &ca);
    pthread_condattr_destroy(&ca);
    pool->max_queue = max_queue;
    pool->nthreads = nthreads ? nthreads : 1;
    pool->threads = fl_calloc(pool->nthreads, sizeof(*pool->threads));
    for (unsigned int i = 0; i < pool->nthreads; i++)
        if (pthread_create(&pool->threads[i], NULL, worker, pool) != 0)
            abort(); /* at startup only: cannot run without workers */
    return pool;
}

struct fl_job *fl_pool_submit(struct fl_pool *pool, void (*run)(void *arg),
                              void (*done)(void *arg), void *arg)
{
    pthread_mutex_lock(&pool->lock);
    if (pool->queued >= pool->max_queue || pool->stopping) {
        pthread_mutex_unlock(&pool->lock);
        return NULL;
    }
    struct fl_job *job = fl_calloc(1, sizeof(*job));
    job->run = run;
    job->done = done;
    job->arg = arg;
    job->state = JOB_QUEUED;
    job->refs = 2;
    job->pool = pool;
    if (pool->tail)
        pool->tail->next = job;
    else
        pool->head = job;
    pool->tail = job;
    pool->queued++;
    pool->handles++;
    pthread_cond_signal(&pool->work);
    pthread_mutex_unlock(&pool->lock);
    return job;
}

int fl_job_wait(struct fl_job *job, long long deadline_ms)
{
    struct fl_pool *pool = job->pool;
    struct timespec ts = {deadline_ms / 1000, (deadline_ms % 1000) * 1000000L};
    int rc = 1;
    pthread_mutex_lock(&pool->lock);
    while (job->state != JOB_DONE) {
        if (fl_monotonic_ms() >= deadline_ms ||
            pthread_cond_timedwait(&pool->finished, &pool->lock, &ts) == ETIMEDOUT) {
            rc = job->state == JOB_DONE;
            break;
        }
    }
    pthread_mutex_unlock(&pool->lock);
    return rc;
}

int fl_job_claim(struct fl_job *job)
{
    struct fl_pool *pool = job->pool;
    pthread_mutex_lock(&pool->lock);
    int taken = job->state == JOB_QUEUED;
    if (taken)
        job->state = JOB_CANCELLED;
    pthread_mutex_unlock(&pool->lock);
    return taken;
}

void fl_job_release(struct fl_job **jobp)
{
    struct fl_job *job = *jobp;
    if (job == NULL)
        return;
    *jobp = NULL;
    struct fl_pool *pool = job->pool;
    pthread_mutex_lock(&pool->lock);
    if (job->state == JOB_QUEUED)
        job->state = JOB_CANCELLED;
    job_unref_locked(job);
    bool last = --pool->handles == 0 && pool->destroyed;
    pthread_mutex_unlock(&pool->lock);
    if (last)
        pool_free(pool); /* destroyed while this handle was held */
}

size_t fl_pool_queued(struct fl_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    size_t n = pool->queued;
    pthread_mutex_unlock(&pool->lock);
    return n;
}

void fl_pool_destroy(struct fl_pool **poolp)
{
    struct fl_pool *pool = *poolp;
    if (pool == NULL)
        return;
    *poolp = NULL;
    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->work);
    pthread_mutex_unlock(&pool->lock);
    for (unsigned int i = 0; i < pool->nthreads; i++)
        pthread_join(pool->threads[i], NULL);
    free(pool->threads);
    pool->threads = NULL;
    /* Handles still held keep the pool's lock alive until released. */
    pthread_mutex_lock(&pool->lock);
    pool->destroyed = true;
    bool now = pool->handles == 0;
    pthread_mutex_unlock(&pool->lock);
    if (now)
        pool_free(pool);
}
