/* workers: see workers.h. */
#include "milter/workers.h"
#include "milter/interpose.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

typedef void *(*start_fn)(void *);

struct kept {
    pthread_cond_t wake;
    start_fn fn; /* the next routine to run; NULL while parked */
    void *arg;
    pthread_t tid;
    struct kept *next; /* in the parked stack */
};

static int (*real_create)(pthread_t *, const pthread_attr_t *, start_fn, void *);
static int (*real_detach)(pthread_t);
static pthread_once_t resolved = PTHREAD_ONCE_INIT;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct kept *parked; /* most recently parked first: its stack and cache are warm */
static size_t nparked;
static unsigned long nended; /* kept threads that ended (atomic) */
static const void *object_base; /* NULL: keep nothing (atomic) */
static unsigned max_idle, idle_ms;

static __thread struct kept *self;

static void resolve(void)
{
    real_create = (int (*)(pthread_t *, const pthread_attr_t *, start_fn,
                           void *))fl_interpose_next("pthread_create");
    real_detach = (int (*)(pthread_t))fl_interpose_next("pthread_detach");
    if (real_create == NULL || real_detach == NULL)
        abort(); /* no libc under us: nothing can work */
}

int fl_workers_init(const void *object_symbol, unsigned max_idle_threads, unsigned idle_timeout_ms)
{
    Dl_info info;
    pthread_once(&resolved, resolve);
    if (dladdr(object_symbol, &info) == 0 || info.dli_fbase == NULL)
        return -1;
    pthread_mutex_lock(&lock);
    max_idle = max_idle_threads;
    idle_ms = idle_timeout_ms;
    pthread_mutex_unlock(&lock);
    __atomic_store_n(&object_base, info.dli_fbase, __ATOMIC_RELEASE);
    return 0;
}

size_t fl_workers_idle(void)
{
    pthread_mutex_lock(&lock);
    size_t n = nparked;
    pthread_mutex_unlock(&lock);
    return n;
}

unsigned long fl_workers_ended(void)
{
    return __atomic_load_n(&nended, __ATOMIC_ACQUIRE);
}

static bool keeps(const pthread_attr_t *attr, start_fn fn)
{
    const void *base = __atomic_load_n(&object_base, __ATOMIC_ACQUIRE);
    Dl_info info;
    /* ISO C has no function-to-object pointer conversion; POSIX (dladdr)
       requires it to work. */
    const void *addr = *(const void **)&fn;
    return base != NULL && attr == NULL && dladdr(addr, &info) != 0 && info.dli_fbase == base;
}

static void unlink_parked(struct kept *k)
{
    for (struct kept **p = &parked; *p != NULL; p = &(*p)->next)
        if (*p == k) {
            *p = k->next;
            nparked--;
            return;
        }
}

/* Parks k after its routine returned; true when it has a new one to run,
   false when it should end (enough parked already, or unused too long). */
static bool park(struct kept *k)
{
    pthread_mutex_lock(&lock);
    if (nparked >= max_idle) {
        pthread_mutex_unlock(&lock);
        return false;
    }
    k->fn = NULL;
    k->tid = pthread_self();
    k->next = parked;
    parked = k;
    nparked++;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += idle_ms / 1000;
    until.tv_nsec += (long)(idle_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    while (k->fn == NULL)
        if (pthread_cond_timedwait(&k->wake, &lock, &until) == ETIMEDOUT && k->fn == NULL) {
            unlink_parked(k);
            pthread_mutex_unlock(&lock);
            return false;
        }
    pthread_mutex_unlock(&lock);
    return true;
}

static void *kept_main(void *arg)
{
    struct kept *k = arg;
    self = k;
    do
        k->fn(k->arg);
    while (park(k));
    self = NULL;
    pthread_cond_destroy(&k->wake);
    free(k);
    __atomic_add_fetch(&nended, 1, __ATOMIC_RELEASE);
    return NULL;
}

int pthread_create(pthread_t *thread, const pthread_attr_t *attr, start_fn fn, void *arg)
{
    pthread_once(&resolved, resolve);
    if (!keeps(attr, fn))
        return real_create(thread, attr, fn, arg);
    pthread_mutex_lock(&lock);
    struct kept *k = parked;
    if (k != NULL) {
        parked = k->next;
        nparked--;
        k->fn = fn;
        k->arg = arg;
        *thread = k->tid;
        pthread_cond_signal(&k->wake);
        pthread_mutex_unlock(&lock);
        return 0;
    }
    pthread_mutex_unlock(&lock);

    /* malloc, not xalloc: out of memory is an error pthread_create can
       report, and libmilter handles it. */
    k = calloc(1, sizeof(*k));
    if (k == NULL)
        return EAGAIN;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&k->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0) {
        free(k);
        return rc;
    }
    k->fn = fn;
    k->arg = arg;
    pthread_attr_t detached;
    pthread_attr_init(&detached);
    pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
    rc = real_create(thread, &detached, kept_main, k);
    pthread_attr_destroy(&detached);
    if (rc != 0) {
        pthread_cond_destroy(&k->wake);
        free(k);
    }
    return rc;
}

int pthread_detach(pthread_t thread)
{
    pthread_once(&resolved, resolve);
    /* A kept thread was created detached; libmilter's worker detaching
       itself must not see EINVAL (it would drop its session). */
    if (self != NULL && pthread_equal(thread, pthread_self()))
        return 0;
    return real_detach(thread);
}
