/* dns: the one DNS layer of faultline, on libunbound.
   One resolver per process (thread-safe, caching, DNSSEC-capable).  A
   check *starts* a query and gets a handle, and *waits* for it only when
   it needs the answer, so the queries of one message run at the same
   time.  Every answer carries a closed status, the rcode, the parsed
   records, the TTL, the DNSSEC state, the elapsed time and, when the
   resolver sent one, the RFC 8914 Extended DNS Error -- attribution
   (sender's or receiver's fault) is computed from these fields, never from
   message strings.  A query never outlives its deadline: past it the
   answer is TIMEOUT and the caller moves on.
   Thread-safety: fl_dns_* may be called from any thread; one query handle
   belongs to one thread. */
#ifndef FL_LIB_DNS_H
#define FL_LIB_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/core/buf.h"
#include "lib/core/config.h"
#include "lib/core/result.h"

/* Record types faultline asks for. */
#define FL_DNS_A     1
#define FL_DNS_NS    2
#define FL_DNS_CNAME 5
#define FL_DNS_SOA   6
#define FL_DNS_PTR   12
#define FL_DNS_MX    15
#define FL_DNS_TXT   16
#define FL_DNS_AAAA  28

enum fl_dns_status {
    FL_DNS_OK,        /* records of the type asked for */
    FL_DNS_NODATA,    /* the name exists, no records of that type */
    FL_DNS_NXDOMAIN,  /* the name does not exist */
    FL_DNS_SERVFAIL,  /* the resolver could not get an answer */
    FL_DNS_TIMEOUT,   /* no answer before the deadline */
    FL_DNS_BOGUS,     /* DNSSEC validation failed */
    FL_DNS_MALFORMED, /* an answer came but could not be parsed */
    FL_DNS_LOCAL,     /* not asked: invalid name, or our resolver failed */
};

enum fl_dnssec {
    FL_DNSSEC_INSECURE,
    FL_DNSSEC_SECURE,
    FL_DNSSEC_BOGUS,
};

struct fl_dns_record {
    uint16_t type;
    uint32_t ttl;
    uint16_t pref; /* MX preference */
    /* A/AAAA: the address in text form; PTR/CNAME/MX/NS: the target name
       without the trailing dot; TXT: the character-strings of one record
       joined without separators (RFC 7208 3.3, RFC 6376 3.6.2.2). */
    char *data;
    size_t len;        /* of data (TXT may hold NUL bytes) */
    unsigned char addr[16]; /* A/AAAA in network order */
};

struct fl_dns_answer {
    char *qname;
    uint16_t qtype;
    enum fl_dns_status status;
    int rcode;              /* DNS rcode as received (-1: none) */
    struct fl_dns_record *records; /* of qtype only, CNAMEs followed */
    size_t count;
    char *canonname;        /* target of the CNAME chain, or NULL */
    uint32_t ttl;           /* smallest TTL of the answer */
    enum fl_dnssec dnssec;
    long elapsed_ms;
    bool deadline_cut;      /* TIMEOUT by the caller's deadline, before dns_timeout */
    int ede_code;           /* RFC 8914 info-code, or -1 */
    char *ede_text;         /* its EXTRA-TEXT, or NULL */
    const char *why;        /* static explanation for non-OK statuses */
    bool tcp_refused;       /* truncated over UDP, and TCP refused */
    char *nameserver;       /* the server that did so, when known */
    unsigned char *packet;  /* the answer as a DNS message (for libopendkim) */
    size_t packet_len;
};

struct fl_dns;
struct fl_dns_query;

/* Creates the resolver from cfg (dns_forwarders, dns_timeout,
   dns_trust_anchor_file, dns_cache_size).  Returns 0, or -1 with
   the reason appended to err. */
int fl_dns_create(const struct fl_config *cfg, struct fl_dns **dns_r, struct fl_buf *err);
/* Cancels pending queries and frees the resolver.  Accepts NULL. */
void fl_dns_destroy(struct fl_dns **dns);

/* Starts a query for name/qtype.  deadline_ms (monotonic, see clock.h; 0
   for none) bounds it together with dns_timeout.  Never fails: problems
   show up as the answer's status.  Free with fl_dns_query_free. */
struct fl_dns_query *fl_dns_start(struct fl_dns *dns, const char *name, uint16_t qtype,
                                  long long deadline_ms);
/* Waits until the answer is in or the query's deadline passed (then the
   status is TIMEOUT).  The answer belongs to the query. */
const struct fl_dns_answer *fl_dns_wait(struct fl_dns_query *q);
/* Like fl_dns_wait, but gives up at until_ms (monotonic) if that comes
   before the query's deadline: returns NULL then, and the query goes on. */
const struct fl_dns_answer *fl_dns_wait_until(struct fl_dns_query *q, long long until_ms);
/* True once the answer is in (never blocks). */
bool fl_dns_ready(struct fl_dns_query *q);
/* Cancels if still pending, frees.  Accepts NULL; sets *q NULL. */
void fl_dns_query_free(struct fl_dns_query **q);

/* Cache-only mode for the calling thread, to run a synchronous evaluation
   (libspf2) from cached answers: between begin and end, a query the front
   cache cannot answer ends at once as LOCAL without being sent, and
   fl_dns_fault cannot ask the probe; both count as misses.  end returns
   the number of misses (0: every answer came from the cache). */
void fl_dns_cache_only_begin(void);
unsigned int fl_dns_cache_only_end(void);

/* Whose side failed when a lookup in DNS the sender controls got no
   usable answer -- the one place every check asks (DESIGN.md "Attribution").
   seen: the failed answer, or NULL when the check has no single one (a
   libspf2 evaluation).  A TIMEOUT the caller's own deadline caused
   (deadline_cut) is ours: our budget ran out, nothing is asked.  Otherwise
   the resolver probe decides: a random name under dns_probe_domain, which
   no cache can answer, within dns_probe_timeout (never the message's
   remaining time); any real answer (NXDOMAIN included) means our resolver
   works and the sender's name servers failed (FL_FAULT_SENDER), no answer
   means ours did (FL_FAULT_RECEIVER).  That finding is cached for
   dns_probe_cache.  For 5 s after a background probe found our resolver
   back from an outage the answer is ours: libunbound still answers
   SERVFAIL for the names that failed meanwhile.  A probe that cannot run
   (cache-only mode) is unknown: FL_FAULT_RECEIVER for this lookup, nothing
   cached. */
enum fl_fault fl_dns_fault(struct fl_dns *dns, const struct fl_dns_answer *seen);
/* The probe alone: 1 our resolver works, 0 it does not, -1 unknown (could
   not ask).  Cached as fl_dns_fault says. */
int fl_dns_probe(struct fl_dns *dns);

/* Appends a one-line account of a failed answer for verdict details:
   "SERVFAIL for x.example/TXT (EDE 22: no reachable authority)", with the
   name server that refused TCP when known.  Sender-controlled text in the
   EDE is sanitised. */
void fl_dns_describe(const struct fl_dns_answer *a, struct fl_buf *out);

const char *fl_dns_status_name(enum fl_dns_status status);
const char *fl_dnssec_name(enum fl_dnssec state);
const char *fl_dns_type_name(uint16_t type);

#define FL_DNS_LATENCY_BUCKETS 9
/* Upper bounds in ms of the latency histogram buckets (last: above). */
extern const long fl_dns_latency_bounds[FL_DNS_LATENCY_BUCKETS - 1];

struct fl_dns_stats {
    unsigned long queries;
    unsigned long answered_fast; /* under 1 ms: served from cache */
    unsigned long status[FL_DNS_LOCAL + 1];
    unsigned long latency[FL_DNS_LATENCY_BUCKETS];
    unsigned long latency_ms_sum; /* of every answer's elapsed_ms */
};

void fl_dns_stats(struct fl_dns *dns, struct fl_dns_stats *out);

#endif
