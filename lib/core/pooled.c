/* pooled: see pooled.h.  The job's state is shared by the session thread
   and a worker; a reference count (2 while queued) lets either let go
   first, and the result is moved out only once. */
#include "lib/core/pooled.h"
#include "lib/core/xalloc.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct fl_pooled {
    pthread_mutex_t lock;
    int refs;
    void (*work)(void *, struct fl_result *);
    void *ctx;
    void (*ctx_free)(void *);
    struct fl_result result;
    bool has_result, taken;
    struct fl_job *job; /* NULL: the pool was full, run at finish */
};

static void unref(struct fl_pooled *p)
{
    pthread_mutex_lock(&p->lock);
    bool last = --p->refs == 0;
    pthread_mutex_unlock(&p->lock);
    if (!last)
        return;
    if (p->has_result && !p->taken)
        fl_result_clear(&p->result);
    if (p->ctx_free)
        p->ctx_free(p->ctx);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static void run(void *arg)
{
    struct fl_pooled *p = arg;
    struct fl_result r;
    memset(&r, 0, sizeof(r));
    p->work(p->ctx, &r);
    pthread_mutex_lock(&p->lock);
    p->result = r;
    p->has_result = true;
    pthread_mutex_unlock(&p->lock);
}

static void done(void *arg)
{
    unref(arg);
}

struct fl_pooled *fl_pooled_start(struct fl_pool *pool,
                                  void (*work)(void *ctx, struct fl_result *out), void *ctx,
                                  void (*ctx_free)(void *ctx))
{
    struct fl_pooled *p = fl_calloc(1, sizeof(*p));
    pthread_mutex_init(&p->lock, NULL);
    p->refs = 2;
    p->work = work;
    p->ctx = ctx;
    p->ctx_free = ctx_free;
    p->job = pool ? fl_pool_submit(pool, run, done, p) : NULL;
    if (p->job == NULL)
        p->refs = 1; /* no worker holds it */
    return p;
}

struct fl_pooled *fl_pooled_start_quick(struct fl_pool *pool,
                                        void (*work)(void *ctx, struct fl_result *out),
                                        bool (*quick)(void *ctx, struct fl_result *out),
                                        void *ctx, void (*ctx_free)(void *ctx))
{
    struct fl_result r;
    memset(&r, 0, sizeof(r));
    if (!quick(ctx, &r))
        return fl_pooled_start(pool, work, ctx, ctx_free);
    struct fl_pooled *p = fl_calloc(1, sizeof(*p));
    pthread_mutex_init(&p->lock, NULL);
    p->refs = 1;
    p->work = work;
    p->ctx = ctx;
    p->ctx_free = ctx_free;
    p->result = r;
    p->has_result = true;
    return p;
}

/* Makes sure the work is done or running: runs it here if the pool was
   full at start or no worker took it yet.  Returns 0 if a worker has it
   and it did not finish by deadline_ms. */
static int join(struct fl_pooled *p, long long deadline_ms)
{
    pthread_mutex_lock(&p->lock);
    bool has = p->has_result;
    pthread_mutex_unlock(&p->lock);
    if (has)
        return 1;
    if (p->job == NULL || fl_job_claim(p->job)) {
        run(p);
        return 1;
    }
    return fl_job_wait(p->job, deadline_ms);
}

int fl_pooled_finish(struct fl_pooled *p, long long deadline_ms, struct fl_result *out)
{
    if (!join(p, deadline_ms))
        return 0;
    pthread_mutex_lock(&p->lock);
    int ok = p->has_result && !p->taken;
    if (ok) {
        *out = p->result;
        p->taken = true;
    }
    pthread_mutex_unlock(&p->lock);
    return ok;
}

const struct fl_result *fl_pooled_peek(struct fl_pooled *p, long long deadline_ms)
{
    if (!join(p, deadline_ms))
        return NULL;
    pthread_mutex_lock(&p->lock);
    const struct fl_result *r = p->has_result && !p->taken ? &p->result : NULL;
    pthread_mutex_unlock(&p->lock);
    return r;
}

void fl_pooled_free(struct fl_pooled **pp)
{
    struct fl_pooled *p = *pp;
    if (p == NULL)
        return;
    *pp = NULL;
    fl_job_release(&p->job);
    unref(p);
}
