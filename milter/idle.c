/* idle: see idle.h. */
#include "milter/idle.h"
#include "milter/readahead.h"
#include "milter/server.h"
#include "lib/core/clock.h"
#include "lib/core/log.h"
#include "lib/core/xalloc.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

struct fl_idle_slot {
    int fd;
    int busy;             /* inside a callback (atomic) */
    long long last;       /* monotonic ms the session last left a callback (atomic) */
    bool reaped;          /* its socket was shut down (under owner->lock) */
    struct fl_idle *owner;
    struct fl_idle_slot *prev, *next;
};

void fl_idle_init(struct fl_idle *idle, int timeout_s)
{
    idle->timeout_s = timeout_s;
}

/* The start of libmilter's private session context (libmilter.h, struct
   smfi_str, unchanged since 8.14): its thread id, socket and timeout.  Read only
   after checking that the timeout is ours and the descriptor one that
   libmilter accepted (readahead.c knows them: no system call), so a
   different layout is detected, not trusted. */
struct smfi_str_prefix {
    pthread_t ctx_id; /* sthread_t */
    int ctx_sd;
    int ctx_dbg;
    time_t ctx_timeout;
};

static int session_fd(SMFICTX *ctx, int timeout_s)
{
    const struct smfi_str_prefix *p = (const struct smfi_str_prefix *)(const void *)ctx;
    if (p->ctx_timeout != (time_t)timeout_s || !fl_readahead_accepted(p->ctx_sd))
        return -1;
    return p->ctx_sd;
}

struct fl_idle_slot *fl_idle_register(SMFICTX *ctx)
{
    struct fl_idle *idle = &fl_srv.idle;
    if (idle->timeout_s <= 0)
        return NULL;
    int fd = session_fd(ctx, idle->timeout_s);
    if (fd < 0) {
        if (!__atomic_exchange_n(&idle->warned, 1, __ATOMIC_RELAXED))
            fl_warn("session_idle_timeout: cannot find the session socket in this libmilter; "
                    "only libmilter's own (coarse) timeout applies");
        return NULL;
    }
    struct fl_idle_slot *s = fl_calloc(1, sizeof(*s));
    s->fd = fd;
    s->busy = 1; /* registered from inside a callback */
    s->last = fl_monotonic_ms();
    s->owner = idle;
    pthread_mutex_lock(&idle->lock);
    s->next = idle->head;
    if (idle->head != NULL)
        idle->head->prev = s;
    idle->head = s;
    pthread_mutex_unlock(&idle->lock);
    return s;
}

void fl_idle_unregister(struct fl_idle_slot **slotp)
{
    struct fl_idle_slot *s = *slotp;
    if (s == NULL)
        return;
    *slotp = NULL;
    struct fl_idle *idle = s->owner;
    pthread_mutex_lock(&idle->lock);
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        idle->head = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    pthread_mutex_unlock(&idle->lock);
    free(s);
}

void fl_idle_enter(struct fl_idle_slot *s)
{
    if (s != NULL)
        __atomic_store_n(&s->busy, 1, __ATOMIC_RELAXED);
}

void fl_idle_leave(struct fl_idle_slot *s)
{
    if (s == NULL)
        return;
    __atomic_store_n(&s->last, fl_monotonic_ms(), __ATOMIC_RELAXED);
    __atomic_store_n(&s->busy, 0, __ATOMIC_RELEASE);
}

int fl_idle_reap(struct fl_idle *idle)
{
    long long timeout_ms = idle->timeout_s * 1000LL;
    long long now = fl_monotonic_ms();
    int n = 0;
    pthread_mutex_lock(&idle->lock);
    for (struct fl_idle_slot *s = idle->head; s != NULL; s = s->next) {
        if (s->reaped || __atomic_load_n(&s->busy, __ATOMIC_ACQUIRE))
            continue;
        long long silent = now - __atomic_load_n(&s->last, __ATOMIC_RELAXED);
        if (silent <= timeout_ms)
            continue;
        /* The slot is registered until xxfi_close, which runs before
           libmilter closes the descriptor: fd is still this session's. */
        shutdown(s->fd, SHUT_RDWR);
        s->reaped = true;
        n++;
        fl_info("closing a milter session the MTA left silent for %lld ms "
                "(session_idle_timeout)",
                silent);
    }
    pthread_mutex_unlock(&idle->lock);
    return n;
}
