/* pool: the bounded worker pool that runs CPU-bound and blocking check
   work (DESIGN.md "Bounded threads").  A fixed number of threads and a
   bounded queue: when the queue is full, submit says so and the caller
   decides (run inline or yield temperror) instead of growing without bound.
   Callers wait for a job with a deadline, so a slow job never holds a
   session past its budget.  Thread-safe. */
#ifndef FL_LIB_POOL_H
#define FL_LIB_POOL_H

#include <stddef.h>

struct fl_pool;
struct fl_job;

/* Starts nthreads workers; at most max_queue jobs wait at once. */
struct fl_pool *fl_pool_create(unsigned int nthreads, size_t max_queue);

/* Queues run(arg).  done(arg), if not NULL, is called exactly once after
   run -- or instead of it, if the job was released before it started -- so
   arg can be freed even when the caller stopped waiting.  Returns a handle
   (release it with fl_job_release), or NULL if the queue is full. */
struct fl_job *fl_pool_submit(struct fl_pool *pool, void (*run)(void *arg),
                              void (*done)(void *arg), void *arg);

/* Waits until the job has run or the monotonic clock (fl_monotonic_ms)
   reaches deadline_ms.  Returns 1 if it ran, 0 on timeout. */
int fl_job_wait(struct fl_job *job, long long deadline_ms);
/* Takes a job that no worker has started off the queue, so the caller can
   run it itself (a worker will skip it).  Returns 1 if taken, 0 if a
   worker has it (running or done). */
int fl_job_claim(struct fl_job *job);

/* Gives up the handle.  A job not yet started is cancelled (only done()
   runs); a running job finishes on its own.  Accepts NULL; sets *job NULL. */
void fl_job_release(struct fl_job **job);

/* Jobs waiting in the queue now (for statistics and tests). */
size_t fl_pool_queued(struct fl_pool *pool);

/* Stops the workers after the queued jobs ran; sets *pool NULL. */
void fl_pool_destroy(struct fl_pool **pool);

#endif
