/* metrics: the daemon's counters for Prometheus, and their exposition in
   the Prometheus text format (version 0.0.4).
   Counting takes no lock: the counters are split into per-CPU shards
   (sched_getcpu), each on its own cache lines, and bumped with relaxed
   atomic adds; a scrape sums the shards.  A count may show up one scrape
   late, never be lost.  Counters kept elsewhere are not counted twice:
   the DNS layer's (lib/dns/dns.c) and the DNS lists' (lib/dnsbl*.c) are read
   at scrape time and handed in through struct fl_metrics_env.
   Every fl_metrics_* counting call accepts m == NULL and then does
   nothing: metrics off costs a test and a branch.
   Thread-safety: counting and fl_metrics_expose may run in any thread at
   the same time; create and destroy may not. */
#ifndef FL_LIB_METRICS_H
#define FL_LIB_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "lib/core/buf.h"
#include "lib/dns/dns.h"
#include "lib/lists/dnsbl.h"
#include "lib/greylist/greylist.h"
#include "lib/core/result.h"
#include "lib/core/verdict.h"

/* The SMTP stages whose milter callbacks are timed. */
enum fl_metrics_stage {
    FL_METRICS_STAGE_CONNECT,
    FL_METRICS_STAGE_HELO,
    FL_METRICS_STAGE_MAIL,
    FL_METRICS_STAGE_RCPT,
    FL_METRICS_STAGE_DATA,
    FL_METRICS_STAGE_HEADER,
    FL_METRICS_STAGE_EOH,
    FL_METRICS_STAGE_BODY,
    FL_METRICS_STAGE_EOM,
    FL_METRICS_STAGE_ABORT,
    FL_METRICS_STAGE_CLOSE,
};
#define FL_METRICS_STAGES (FL_METRICS_STAGE_CLOSE + 1)

struct fl_metrics;

/* Creates the counters, all 0, with nshards shards (0: one per CPU,
   rounded up to a power of two).  Never NULL. */
struct fl_metrics *fl_metrics_create(unsigned int nshards);
/* Accepts NULL; sets *m NULL. */
void fl_metrics_destroy(struct fl_metrics **m);

/* One message's verdict and every result recorded with it (DKIM: one per
   signature); called once per verdict record. */
void fl_metrics_message(struct fl_metrics *m, const struct fl_verdict *v,
                        const struct fl_result *results, size_t n);
/* Time spent in the callback of one SMTP stage, in microseconds. */
void fl_metrics_stage(struct fl_metrics *m, enum fl_metrics_stage stage, long long us);
/* One greylisting decision (per recipient).  The "greylisting off"
   exemption is not counted. */
void fl_metrics_greylist(struct fl_metrics *m, const struct fl_greylist_decision *d);
/* One configuration reload, valid (ok) or refused. */
void fl_metrics_reload(struct fl_metrics *m, bool ok);

/* What the exposition reads from outside this module. */
struct fl_metrics_env {
    const char *version;   /* faultline_build_info{version=} */
    long long start_time;  /* unix seconds the daemon started */
    long long sessions;    /* milter sessions in flight */
    const struct fl_dns_stats *dns; /* NULL: no resolver */
    const struct fl_dnsbl_list_stats *lists; /* of the current DNS lists */
    size_t nlists;
};

/* Appends the exposition of m and env in the Prometheus text format
   0.0.4 (Content-Type "text/plain; version=0.0.4; charset=utf-8"). */
void fl_metrics_expose(const struct fl_metrics *m, const struct fl_metrics_env *env,
                       struct fl_buf *out);
#define FL_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Parses a metrics_listen value, "IPv4:PORT" or "[IPv6]:PORT" (numeric
   address, PORT 0..65535; 0 picks a free port).  Returns 0 and fills
   *addr_r / *len_r (either may be NULL: only checks), or -1 with
   the reason appended to err. */
int fl_metrics_parse_listen(const char *value, struct sockaddr_storage *addr_r,
                            socklen_t *len_r, struct fl_buf *err);

#endif
