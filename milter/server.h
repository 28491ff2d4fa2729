/* server: process-wide state of the daemon -- the current configuration
   snapshot (swapped atomically on SIGHUP), the worker pool, the verdict
   log and the count of sessions in flight (for a bounded drain on
   SIGTERM).  Thread-safe. */
#ifndef FL_MILTER_SERVER_H
#define FL_MILTER_SERVER_H

#include <pthread.h>
#include <stdbool.h>

#include "lib/arc/arc_keys.h"
#include "lib/core/config.h"
#include "lib/dns/dns.h"
#include "lib/dkim/dkim.h"
#include "lib/greylist/greylist.h"
#include "lib/lists/dnsbl.h"
#include "lib/metrics/metrics.h"
#include "lib/core/pool.h"
#include "milter/idle.h"
#include "milter/metrics_milter.h"

struct fl_metrics_http;

/* A pointer published to readers that hold it only briefly (server.c). */
struct fl_published {
    void *ptr;
    unsigned long readers; /* in the read section now */
};

/* The daemon's state: with the signal pipe (main.c) the only mutable
   globals of the process.  The fields after metrics_http belong to
   server.c, which alone reads and writes them. */
struct fl_server {
    bool foreground;
    const char *config_path; /* NULL: embedded defaults */
    struct fl_pool *pool;
    struct fl_dns *dns;
    struct fl_dkim_ctx *dkim;
    struct fl_arc_keys *arc_keys; /* decoded ARC sealer keys, shared */
    struct fl_greylist *greylist; /* NULL: greylisting off or its store failed */
    struct fl_metrics *metrics;   /* NULL: metrics_listen empty (nothing counted) */
    struct fl_metrics_http *metrics_http; /* the endpoint serving them, or NULL */

    pthread_mutex_t writer_lock;     /* reload, reopen */
    struct fl_published current;     /* struct snapshot * */
    struct fl_published verdict_log; /* struct verdict_log * */
    pthread_mutex_t session_lock;    /* idle waiters */
    pthread_cond_t session_idle;
    int sessions;         /* atomic */
    unsigned long served; /* atomic: sessions begun, for the idle trim */
    /* the main thread's periodic work (fl_server_periodic) */
    long long next_sweep, next_probe, next_stats;
    unsigned long trimmed_at; /* served + threads ended at the last idle trim */
    bool stats_warned;        /* stats_file could not be written (warned once) */
    struct fl_idle idle;      /* silent sessions (idle.c) */
    struct fl_metrics_milter timed; /* the timed callback table (metrics_milter.c) */
};

extern struct fl_server fl_srv;

/* Installs cfg (takes the reference) as the current snapshot, with the
   DNS lists built from it (takes that reference too; NULL allowed). */
void fl_server_set_config(struct fl_config *cfg);
void fl_server_set_snapshot(struct fl_config *cfg, struct fl_dnsbl_lists *lists);
/* Builds the DNS lists of cfg.  Returns 0, or -1 with the errors logged. */
int fl_server_build_lists(const struct fl_config *cfg, struct fl_dnsbl_lists **lists_r);
/* A new reference to the DNS lists of the current snapshot. */
struct fl_dnsbl_lists *fl_server_dnsbl_lists(void);
/* Returns a new reference to the current snapshot (fl_config_unref it). */
struct fl_config *fl_server_config(void);

/* Re-reads the configuration file.  Returns 0 and swaps it in, or -1 and
   logs every error, keeping the running configuration. */
int fl_server_reload(void);

/* Applies the log settings of cfg (target auto/stderr/facility, level). */
void fl_server_apply_log(const struct fl_config *cfg);

/* Opens (or reopens, e.g. after log rotation) the verdict log of cfg.
   Returns 0, or -1 with the reason logged (the old file stays open). */
int fl_server_open_verdict_log(const struct fl_config *cfg);
/* Appends one line (a JSON record) to the verdict log, if one is open. */
void fl_server_write_verdict(const char *line);
/* Hands the verdict log file to uid/gid (before privileges are dropped). */
void fl_server_chown_verdict_log(unsigned int uid, unsigned int gid);

/* Frees the process-wide state (pool, resolver, configuration, verdict
   log) at a clean stop, when no session is in flight any more. */
void fl_server_teardown(void);

/* Stack size of libmilter's session threads, malloc arenas, and how often
   the main thread looks for an idle moment to return freed memory. */
#define FL_SESSION_STACK (512 * 1024)
#define FL_MALLOC_ARENAS 4
#define FL_TRIM_INTERVAL_MS 2000
/* Sets the session threads' stack size and the malloc arenas; call before
   libmilter and the worker pool start threads. */
void fl_server_tune_memory(void);

/* Periodic work of the main thread (greylist sweep, DNS list probe, idle
   memory trim).  threads_ended: kept worker threads ended so far
   (fl_workers_ended); the heap is trimmed again, while no session is open,
   when it has changed.  Returns the milliseconds until it is due again. */
long long fl_server_periodic(unsigned long threads_ended);

void fl_server_session_begin(void);
void fl_server_session_end(void);
/* Waits until no session is in flight or timeout_ms passed; returns the
   number still in flight. */
int fl_server_wait_idle(long long timeout_ms);
/* The number of sessions in flight now. */
int fl_server_sessions(void);


#endif
