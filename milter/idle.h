/* idle: closes milter sessions the MTA has left silent for longer than
   session_idle_timeout.  Debian's libmilter is built with its worker pool
   (_FFR_WORKERS_POOL): a session waiting for its next command sits with the
   pool manager, which looks for timed-out sessions only every 600 s, so
   smfi_settimeout alone would hold a stalled MTA connection (descriptor,
   session slot, message state) up to ten minutes past its timeout.  The
   daemon's main loop calls fl_idle_reap about once a second; it shuts the
   socket of every session that is not inside one of our callbacks and has
   been silent too long, and libmilter then ends the session as if the MTA
   had closed it (abort and close callbacks run).  Thread-safe: one lock,
   taken at session start and end and by the reaper, never per command. */
#ifndef FL_MILTER_IDLE_H
#define FL_MILTER_IDLE_H

#include <libmilter/mfapi.h>

#include <pthread.h>

struct fl_idle_slot;

/* The reaper's state, one per daemon (fl_srv.idle). */
struct fl_idle {
    pthread_mutex_t lock; /* the list of sessions */
    struct fl_idle_slot *head;
    int timeout_s; /* set before libmilter's threads start */
    int warned;    /* the session socket could not be found (warned once) */
};
#define FL_IDLE_INIT {.lock = PTHREAD_MUTEX_INITIALIZER}

/* Sets the timeout, in whole seconds as given to smfi_settimeout, before
   libmilter starts (it recognises libmilter's session context); 0 turns
   the reaper off. */
void fl_idle_init(struct fl_idle *idle, int timeout_s);
/* Registers the session of ctx with the daemon's reaper (fl_srv.idle:
   libmilter's callbacks have no other way to it).  Returns a slot, or NULL
   when the reaper is off or the session's socket cannot be found (then
   only libmilter's own timeout applies; logged once). */
struct fl_idle_slot *fl_idle_register(SMFICTX *ctx);
/* Unregisters; accepts NULL and sets *slot NULL.  Must run before
   libmilter closes the socket (xxfi_close does). */
void fl_idle_unregister(struct fl_idle_slot **slot);
/* Brackets each callback: a session inside a callback is never reaped;
   leaving stamps the time the MTA's silence starts from. Accept NULL. */
void fl_idle_enter(struct fl_idle_slot *slot);
void fl_idle_leave(struct fl_idle_slot *slot);
/* Shuts the sockets of sessions silent for longer than the timeout.
   Returns how many it closed. */
int fl_idle_reap(struct fl_idle *idle);

#endif
