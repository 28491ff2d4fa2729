/* workers: libmilter's worker threads, kept instead of ended.

   libmilter's worker pool (Debian builds it with _FFR_WORKERS_POOL) starts
   a thread whenever a session has a command to serve and no worker is
   idle, and a worker ends as soon as two others are idle.  Under a steady
   load that is a thread created and ended for every third or fourth
   message: clone(2), a fresh stack, a cold malloc cache, and at the end
   the stack handed back with madvise(2), whose TLB shootdown interrupts
   every other CPU.

   This module interposes pthread_create(3) and pthread_detach(3).  A
   thread that libmilter starts (its start routine lies in libmilter, no
   attributes) runs on a kept thread when one is parked: the routine runs,
   and when it returns the thread parks (up to max_idle threads, each for
   at most idle_ms) instead of ending.  libmilter detaches each worker from
   the worker itself; a kept thread is detached already, so that call
   answers 0.  Every other thread of the process (the resolver's, the
   pools', libmicrohttpd's) is created and ended as before.

   libmilter's own bookkeeping is unchanged: it counts a worker from its
   start routine's start to its return, so it still sees a worker end and
   a new one start; only the operating-system thread under them is kept. */
#ifndef FL_MILTER_WORKERS_H
#define FL_MILTER_WORKERS_H

#include <stddef.h>

enum {
    FL_WORKERS_MAX_IDLE = 64,   /* parked threads kept at most */
    FL_WORKERS_IDLE_MS = 10000, /* a parked thread ends after this long unused */
};

/* Starts keeping the threads whose start routine lies in the shared object
   (or executable) that contains `object_symbol` (the daemon passes
   smfi_main).  Until it is called every thread is created as usual.
   Returns 0, or -1 when the object cannot be found (nothing is kept). */
int fl_workers_init(const void *object_symbol, unsigned max_idle, unsigned idle_ms);

/* Threads parked now (tests, metrics). */
size_t fl_workers_idle(void);
/* Kept threads that have ended so far: the memory their malloc caches held
   is free from then on (the daemon trims the heap again). */
unsigned long fl_workers_ended(void);

#endif
