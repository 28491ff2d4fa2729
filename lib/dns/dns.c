/* dns: see dns.h.  libunbound runs in threaded async mode; one dispatcher
   thread polls ub_fd() and calls ub_process(), whose callbacks fill in the
   answers and wake their waiter (each query has its own lock and condition:
   an answer wakes the one thread that waits for it).  A query is
   reference-counted (caller + pending callback) so either side can let go
   first.  In front of libunbound, lib/dns_cache answers repeated questions
   in the caller's thread.  Once the probe found our resolver down, queries
   are not sent at all (status LOCAL) until a probe in the background finds
   it working again. */
#include "lib/dns/dns.h"
#include "lib/core/clock.h"
#include "lib/core/domain.h"
#include "lib/dns/dns_cache.h"
#include "lib/dns/dns_diag.h"
#include "lib/dns/dns_parse.h"
#include "lib/core/sanitize.h"
#include "lib/core/xalloc.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unbound.h>
#include <unistd.h>

const long fl_dns_latency_bounds[FL_DNS_LATENCY_BUCKETS - 1] = {1, 5, 10, 50, 100, 500, 1000,
                                                                5000};

struct fl_dns {
    struct ub_ctx *ctx;
    pthread_t thread;
    int wake[2];
    bool stopping;
    long long timeout_ms;
    struct fl_dns_stats stats; /* atomic counters */
    struct fl_dns_cache *cache;
    pthread_condattr_t condattr; /* CLOCK_MONOTONIC */
    pthread_mutex_t probe_lock; /* one probe at a time */
    char *probe_domain;
    long long probe_cache_ms;
    long long probe_timeout_ms; /* the probe's own budget */
    long long probe_until; /* atomic: the verdict holds until then */
    int probe_ok;          /* atomic; 1 before the first probe */
    bool reprobing;        /* atomic: a background probe is out */
    long long reprobe_deadline; /* under probe_lock */
    int reprobe_id;             /* under probe_lock */
    unsigned int probe_seq;
    long long outage_tail_until; /* atomic: see set_probe */
    char *diag_forwarder; /* where failures are diagnosed, or NULL */
};

struct fl_dns_query {
    struct fl_dns *dns;
    pthread_mutex_t lock; /* the fields below */
    pthread_cond_t cond;  /* the answer is in */
    int async_id;
    bool pending; /* libunbound may still call back */
    bool done;    /* answer final */
    bool diagnosed;
    int refs;
    long long start_ms, deadline_ms;
    struct fl_dns_answer ans;
};

static const char *const status_names[] = {"OK",      "NODATA", "NXDOMAIN",  "SERVFAIL",
                                           "TIMEOUT", "BOGUS",  "MALFORMED", "LOCAL"};

const char *fl_dns_status_name(enum fl_dns_status status)
{
    return (size_t)status < sizeof(status_names) / sizeof(status_names[0]) ? status_names[status]
                                                                          : "?";
}

const char *fl_dnssec_name(enum fl_dnssec state)
{
    return state == FL_DNSSEC_SECURE ? "secure" : state == FL_DNSSEC_BOGUS ? "bogus" : "insecure";
}

const char *fl_dns_type_name(uint16_t type)
{
    switch (type) {
    case FL_DNS_A:
        return "A";
    case FL_DNS_NS:
        return "NS";
    case FL_DNS_CNAME:
        return "CNAME";
    case FL_DNS_SOA:
        return "SOA";
    case FL_DNS_PTR:
        return "PTR";
    case FL_DNS_MX:
        return "MX";
    case FL_DNS_TXT:
        return "TXT";
    case FL_DNS_AAAA:
        return "AAAA";
    }
    return "TYPE?";
}

void fl_dns_describe(const struct fl_dns_answer *a, struct fl_buf *out)
{
    fl_buf_printf(out, "%s for %s/%s", fl_dns_status_name(a->status), a->qname,
                  fl_dns_type_name(a->qtype));
    if (a->tcp_refused)
        fl_buf_printf(out, " (name server %s answers only over TCP and refuses TCP)",
                      a->nameserver ? a->nameserver : "?");
    if (a->ede_code >= 0) {
        fl_buf_printf(out, " (EDE %d", a->ede_code);
        if (a->ede_text) {
            fl_buf_puts(out, ": ");
            fl_sanitize_ascii(out, a->ede_text, 120);
        }
        fl_buf_putc(out, ')');
    }
}

static void count(unsigned long *counter)
{
    __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

static void count_answer(struct fl_dns *dns, const struct fl_dns_answer *a)
{
    count(&dns->stats.status[a->status]);
    if (a->elapsed_ms < 1 && a->status != FL_DNS_LOCAL)
        count(&dns->stats.answered_fast);
    size_t b = 0;
    while (b < FL_DNS_LATENCY_BUCKETS - 1 && a->elapsed_ms >= fl_dns_latency_bounds[b])
        b++;
    count(&dns->stats.latency[b]);
    __atomic_fetch_add(&dns->stats.latency_ms_sum,
                       a->elapsed_ms > 0 ? (unsigned long)a->elapsed_ms : 0, __ATOMIC_RELAXED);
}

static void query_unref_locked(struct fl_dns_query *q, bool *free_r)
{
    *free_r = --q->refs == 0;
}

static void query_destroy(struct fl_dns_query *q)
{
    fl_dns_answer_clear(&q->ans);
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

static void on_result(void *arg, int err, struct ub_result *result)
{
    struct fl_dns_query *q = arg;
    struct fl_dns *dns = q->dns;
    struct fl_dns_answer parsed;
    memset(&parsed, 0, sizeof(parsed));
    fl_dns_parse_result(&parsed, q->ans.qname, q->ans.qtype, err, result);
    if (result != NULL)
        ub_resolve_free(result);
    fl_dns_cache_put(dns->cache, &parsed, fl_monotonic_ms());
    bool do_free;
    pthread_mutex_lock(&q->lock);
    q->pending = false;
    if (!q->done) {
        char *qname = q->ans.qname;
        q->ans = parsed;
        q->ans.qname = qname;
        free(parsed.qname);
        q->ans.elapsed_ms = (long)(fl_monotonic_ms() - q->start_ms);
        q->done = true;
        count_answer(dns, &q->ans);
        pthread_cond_signal(&q->cond);
    } else {
        fl_dns_answer_clear(&parsed); /* the waiter gave up already */
    }
    query_unref_locked(q, &do_free);
    pthread_mutex_unlock(&q->lock);
    if (do_free)
        query_destroy(q);
}

static void *dispatcher(void *arg)
{
    struct fl_dns *dns = arg;
    struct pollfd pfd[2] = {{.fd = ub_fd(dns->ctx), .events = POLLIN},
                            {.fd = dns->wake[0], .events = POLLIN}};
    while (!__atomic_load_n(&dns->stopping, __ATOMIC_ACQUIRE)) {
        if (poll(pfd, 2, -1) < 0 && errno != EINTR)
            break;
        if (pfd[0].revents & POLLIN)
            ub_process(dns->ctx);
    }
    return NULL;
}

/* Sets one option unless an earlier one failed (rc < 0): the error is
   appended once, for the first failure.  Returns the new rc. */
static int set_opt(struct ub_ctx *ctx, const char *opt, const char *val, int rc,
                   struct fl_buf *err)
{
    if (rc == 0 && ub_ctx_set_option(ctx, opt, val) != 0) {
        fl_buf_puts(err, "libunbound rejected an option");
        return -1;
    }
    return rc;
}

int fl_dns_create(const struct fl_config *cfg, struct fl_dns **dns_r, struct fl_buf *err)
{
    struct ub_ctx *ctx = ub_ctx_create();
    if (ctx == NULL) {
        fl_buf_puts(err, "cannot create the libunbound context");
        return -1;
    }
    char num[32];
    snprintf(num, sizeof(num), "%lld", cfg->dns_cache_size);
    char num2[32];
    snprintf(num2, sizeof(num2), "%lld", cfg->dns_cache_size * 2);
    int rc = 0;
    rc = set_opt(ctx, "msg-cache-size:", num, rc, err);
    rc = set_opt(ctx, "rrset-cache-size:", num2, rc, err);
    /* RFC 8914 codes in our answers (e.g. DNSSEC bogus). */
    rc = set_opt(ctx, "ede:", "yes", rc, err);
    /* A forwarder that timed out once must not be written off for the
       infra-cache lifetime: every later query would fail at once. */
    rc = set_opt(ctx, "infra-keep-probing:", "yes", rc, err);
    /* ... and a bad minute is forgotten after one (default: 15 minutes). */
    rc = set_opt(ctx, "infra-host-ttl:", "60", rc, err);
    /* libunbound's default allows about 16 queries in flight for the whole
       process: far too few for the DNS lists of many connections. */
    rc = set_opt(ctx, "outgoing-range:", "4096", rc, err);
    rc = set_opt(ctx, "num-queries-per-thread:", "2048", rc, err);
    if (cfg->dns_forwarders.count > 0) {
        /* Forwarders on loopback (a local unbound, or the test server). */
        rc = set_opt(ctx, "do-not-query-localhost:", "no", rc, err);
        /* The forwarder answers for the documentation ranges (RFC 5737,
           RFC 3849) and test. (RFC 6761) too: libunbound would otherwise
           answer them from built-in empty zones without asking it. */
        /* ... and the private reverse zones (RFC 1918): an internal
           client's PTR is the forwarder's business. */
        rc = set_opt(ctx, "unblock-lan-zones:", "yes", rc, err);
        rc = set_opt(ctx, "insecure-lan-zones:", "yes", rc, err);
        static const char *const ask_forwarder[] = {
            "2.0.192.in-addr.arpa", "100.51.198.in-addr.arpa", "113.0.203.in-addr.arpa",
            "8.b.d.0.1.0.0.2.ip6.arpa", "test"};
        for (size_t i = 0; i < sizeof(ask_forwarder) / sizeof(ask_forwarder[0]); i++) {
            char zone[64];
            /* "nodefault" is ignored when set through ub_ctx_set_option;
               an empty transparent zone has the same effect. */
            snprintf(zone, sizeof(zone), "%s transparent", ask_forwarder[i]);
            rc = set_opt(ctx, "local-zone:", zone, rc, err);
        }
        for (size_t i = 0; i < cfg->dns_forwarders.count && rc == 0; i++) {
            if (ub_ctx_set_fwd(ctx, cfg->dns_forwarders.items[i]) != 0) {
                fl_buf_puts(err, "libunbound rejected a forwarder address");
                rc = -1;
            }
        }
    }
    if (rc == 0 && *cfg->dns_trust_anchor_file &&
        ub_ctx_add_ta_file(ctx, cfg->dns_trust_anchor_file) != 0) {
        fl_buf_puts(err, "cannot read the DNSSEC trust anchor file");
        rc = -1;
    }
    if (rc == 0 && ub_ctx_async(ctx, 1) != 0) {
        fl_buf_puts(err, "libunbound cannot run in threaded mode");
        rc = -1;
    }
    if (rc != 0) {
        ub_ctx_delete(ctx);
        return -1;
    }
    struct fl_dns *dns = fl_calloc(1, sizeof(*dns));
    dns->ctx = ctx;
    dns->timeout_ms = cfg->dns_timeout;
    dns->probe_domain = fl_strdup(cfg->dns_probe_domain);
    dns->probe_cache_ms = cfg->dns_probe_cache;
    dns->probe_timeout_ms = cfg->dns_probe_timeout;
    if (cfg->dns_forwarders.count > 0)
        dns->diag_forwarder = fl_strdup(cfg->dns_forwarders.items[0]);
    dns->probe_ok = 1;
    /* a quarter of the budget in front, the rest for libunbound's caches */
    dns->cache = fl_dns_cache_new((size_t)cfg->dns_cache_size / 4);
    pthread_mutex_init(&dns->probe_lock, NULL);
    pthread_condattr_init(&dns->condattr);
    pthread_condattr_setclock(&dns->condattr, CLOCK_MONOTONIC);
    if (pipe(dns->wake) < 0 || pthread_create(&dns->thread, NULL, dispatcher, dns) != 0) {
        fl_buf_puts(err, "cannot start the DNS dispatcher thread");
        fl_dns_cache_free(&dns->cache);
        ub_ctx_delete(ctx);
        free(dns->probe_domain);
        free(dns);
        return -1;
    }
    *dns_r = dns;
    return 0;
}

void fl_dns_destroy(struct fl_dns **dnsp)
{
    struct fl_dns *dns = *dnsp;
    if (dns == NULL)
        return;
    *dnsp = NULL;
    __atomic_store_n(&dns->stopping, true, __ATOMIC_RELEASE);
    if (write(dns->wake[1], "x", 1) < 0) {
        /* the thread also wakes on the next answer */
    }
    pthread_join(dns->thread, NULL);
    /* Callbacks of queries still pending are dropped with the context;
       their handles were released by their owners (or leak by contract). */
    ub_ctx_delete(dns->ctx);
    close(dns->wake[0]);
    close(dns->wake[1]);
    fl_dns_cache_free(&dns->cache);
    pthread_condattr_destroy(&dns->condattr);
    pthread_mutex_destroy(&dns->probe_lock);
    free(dns->probe_domain);
    free(dns->diag_forwarder);
    free(dns);
}

/* A name libunbound would refuse or that cannot exist in the DNS
   (RFC 1035 2.3.4: labels of 1..63 octets, 255 octets in all). */
static const char *invalid_name(const char *name)
{
    size_t n = strlen(name);
    if (n > 0 && name[n - 1] == '.')
        n--;
    switch (fl_domain_check(name, n, FL_DOMAIN_EMPTY_LAST)) {
    case FL_DOMAIN_OK:
        return NULL;
    case FL_DOMAIN_EMPTY:
        return "empty domain name";
    case FL_DOMAIN_TOO_LONG:
        return "domain name longer than 253 characters";
    case FL_DOMAIN_EMPTY_LABEL:
        return "empty label in domain name";
    default: /* FL_DOMAIN_LONG_LABEL: the only other one without flags */
        return "label longer than 63 characters";
    }
}

static void finish_locally(struct fl_dns_query *q, enum fl_dns_status status, const char *why)
{
    q->ans.status = status;
    q->ans.why = why;
    q->ans.elapsed_ms = (long)(fl_monotonic_ms() - q->start_ms);
    q->done = true;
    count_answer(q->dns, &q->ans);
}

static bool resolver_known_down(struct fl_dns *dns);

static __thread bool cache_only;
static __thread unsigned int cache_only_misses;

void fl_dns_cache_only_begin(void)
{
    cache_only = true;
    cache_only_misses = 0;
}

unsigned int fl_dns_cache_only_end(void)
{
    cache_only = false;
    return cache_only_misses;
}

static struct fl_dns_query *query_new(struct fl_dns *dns, const char *name, uint16_t qtype,
                                      long long deadline_ms)
{
    struct fl_dns_query *q = fl_calloc(1, sizeof(*q));
    q->dns = dns;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->cond, &dns->condattr);
    q->refs = 1;
    q->start_ms = fl_monotonic_ms();
    q->deadline_ms = q->start_ms + dns->timeout_ms;
    if (deadline_ms > 0 && deadline_ms < q->deadline_ms) {
        q->deadline_ms = deadline_ms;
        q->ans.deadline_cut = true; /* read only when it ends as a TIMEOUT */
    }
    q->ans.qname = fl_strdup(name);
    q->ans.qtype = qtype;
    q->ans.rcode = -1;
    q->ans.ede_code = -1;
    count(&dns->stats.queries);
    return q;
}

/* Hands q to libunbound. */
static void query_send(struct fl_dns_query *q)
{
    pthread_mutex_lock(&q->lock);
    q->refs++;
    q->pending = true;
    pthread_mutex_unlock(&q->lock);
    int err = ub_resolve_async(q->dns->ctx, q->ans.qname, q->ans.qtype, 1, q, on_result,
                               &q->async_id);
    if (err != 0) {
        pthread_mutex_lock(&q->lock);
        q->refs--;
        q->pending = false;
        pthread_mutex_unlock(&q->lock);
        finish_locally(q, FL_DNS_LOCAL, "our resolver could not start the query");
    }
}

struct fl_dns_query *fl_dns_start(struct fl_dns *dns, const char *name, uint16_t qtype,
                                  long long deadline_ms)
{
    struct fl_dns_query *q = query_new(dns, name, qtype, deadline_ms);
    const char *why = invalid_name(name);
    if (why != NULL) {
        finish_locally(q, FL_DNS_LOCAL, why);
        return q;
    }
    if (q->deadline_ms <= q->start_ms) {
        finish_locally(q, FL_DNS_TIMEOUT, "no time left before the deadline");
        return q;
    }
    struct fl_dns_answer hit;
    if (fl_dns_cache_get(dns->cache, name, qtype, q->start_ms, &hit)) {
        fl_dns_answer_clear(&q->ans);
        q->ans = hit;
        q->done = true;
        q->diagnosed = true; /* a cached failure was diagnosed before */
        count_answer(dns, &q->ans);
        return q;
    }
    if (cache_only) {
        cache_only_misses++;
        q->ans.status = FL_DNS_LOCAL;
        q->ans.why = "not asked: not in the cache";
        q->done = true;
        return q;
    }
    if (resolver_known_down(dns)) {
        finish_locally(q, FL_DNS_LOCAL, "not asked: our resolver is down (the probe failed)");
        return q;
    }
    query_send(q);
    return q;
}

bool fl_dns_ready(struct fl_dns_query *q)
{
    pthread_mutex_lock(&q->lock);
    bool done = q->done;
    pthread_mutex_unlock(&q->lock);
    return done;
}

const struct fl_dns_answer *fl_dns_wait_until(struct fl_dns_query *q, long long until_ms)
{
    struct fl_dns *dns = q->dns;
    bool bounded = until_ms > 0 && until_ms < q->deadline_ms;
    long long limit = bounded ? until_ms : q->deadline_ms;
    struct timespec ts = {limit / 1000, (limit % 1000) * 1000000L};
    const struct fl_dns_answer *a = &q->ans;
    pthread_mutex_lock(&q->lock);
    while (!q->done) {
        if (fl_monotonic_ms() < limit &&
            pthread_cond_timedwait(&q->cond, &q->lock, &ts) != ETIMEDOUT)
            continue;
        if (q->done)
            break;
        if (bounded) {
            a = NULL; /* the caller's limit, not the query's */
            break;
        }
        q->done = true;
        q->ans.status = FL_DNS_TIMEOUT;
        q->ans.why = "no answer before the deadline";
        q->ans.elapsed_ms = (long)(fl_monotonic_ms() - q->start_ms);
        count_answer(dns, &q->ans);
    }
    bool diagnose = a != NULL && a->status == FL_DNS_SERVFAIL && !q->diagnosed &&
                    dns->diag_forwarder != NULL;
    q->diagnosed = true;
    pthread_mutex_unlock(&q->lock);
    /* The answer is final and only this thread reads it now. */
    if (diagnose) {
        fl_dns_diagnose(dns->diag_forwarder, &q->ans, q->deadline_ms);
        /* the failure, with what the diagnosis learnt, for the next
           messages: a name whose servers fail is not asked (and
           diagnosed) again for every message of a burst */
        fl_dns_cache_put_failure(dns->cache, &q->ans, fl_monotonic_ms());
    }
    return a;
}

const struct fl_dns_answer *fl_dns_wait(struct fl_dns_query *q)
{
    return fl_dns_wait_until(q, 0);
}

void fl_dns_query_free(struct fl_dns_query **qp)
{
    struct fl_dns_query *q = *qp;
    if (q == NULL)
        return;
    *qp = NULL;
    struct fl_dns *dns = q->dns;
    pthread_mutex_lock(&q->lock);
    bool pending = q->pending;
    int id = q->async_id;
    q->done = true; /* a late callback discards its result */
    bool do_free;
    query_unref_locked(q, &do_free);
    pthread_mutex_unlock(&q->lock);
    /* A cancelled query is never called back, so its reference is ours to
       drop; if the cancel fails the callback is running or due, and drops
       it itself. */
    if (pending && ub_cancel(dns->ctx, id) == 0) {
        pthread_mutex_lock(&q->lock);
        q->pending = false;
        query_unref_locked(q, &do_free);
        pthread_mutex_unlock(&q->lock);
    }
    if (do_free)
        query_destroy(q);
}

/* A fresh random name under the probe domain: no cache can answer it,
   only a working resolver path.  Called with probe_lock held. */
static void probe_name(struct fl_dns *dns, long long now, char *name, size_t size)
{
    unsigned int r = (unsigned int)now * 2654435761u ^ (++dns->probe_seq * 40503u);
    snprintf(name, size, "fl-probe-%08x.%s", r, dns->probe_domain);
}

static bool probe_answered(int err, const struct ub_result *result)
{
    return err == 0 && result != NULL &&
           (result->rcode == 0 /* NOERROR: data or NODATA */ || result->rcode == 3);
}

/* libunbound caches a lookup that failed as SERVFAIL for 5 s (NORR_TTL
   in its iterator): a name that failed while our resolver was down goes on
   failing for up to that long after it answers again. */
#define UNBOUND_FAILURE_TTL_MS 5000

static void set_probe(struct fl_dns *dns, int ok)
{
    long long now = fl_monotonic_ms();
    if (ok && !__atomic_load_n(&dns->probe_ok, __ATOMIC_ACQUIRE)) {
        /* back after an outage: until the failures cached during it have
           expired, a failure is ours (fl_dns_probe says so), not the
           sender's; the front cache forgets them at once */
        __atomic_store_n(&dns->outage_tail_until, now + UNBOUND_FAILURE_TTL_MS,
                         __ATOMIC_RELEASE);
        fl_dns_cache_clear(dns->cache);
    }
    __atomic_store_n(&dns->probe_ok, ok, __ATOMIC_RELEASE);
    __atomic_store_n(&dns->probe_until, now + dns->probe_cache_ms, __ATOMIC_RELEASE);
}

/* The background probe of a resolver found down: its answer ends the
   outage at once; no answer keeps it (the next stale check asks again). */
static void on_reprobe(void *arg, int err, struct ub_result *result)
{
    struct fl_dns *dns = arg;
    bool ok = probe_answered(err, result);
    if (result != NULL)
        ub_resolve_free(result);
    set_probe(dns, ok);
    __atomic_store_n(&dns->reprobing, false, __ATOMIC_RELEASE);
}

/* Starts a background probe unless one is out.  One that got no answer
   within dns_timeout is given up and replaced at once (the verdict stays
   stale, so a silent resolver is asked again every dns_timeout and its
   return is seen within that). */
static void reprobe(struct fl_dns *dns)
{
    if (pthread_mutex_trylock(&dns->probe_lock) != 0)
        return; /* a probe runs */
    long long now = fl_monotonic_ms();
    if (__atomic_load_n(&dns->reprobing, __ATOMIC_ACQUIRE)) {
        if (now < dns->reprobe_deadline || ub_cancel(dns->ctx, dns->reprobe_id) != 0) {
            pthread_mutex_unlock(&dns->probe_lock);
            return;
        }
    }
    char name[300];
    probe_name(dns, now, name, sizeof(name));
    __atomic_store_n(&dns->reprobing, true, __ATOMIC_RELEASE);
    dns->reprobe_deadline = now + dns->timeout_ms;
    if (ub_resolve_async(dns->ctx, name, FL_DNS_A, 1, dns, on_reprobe, &dns->reprobe_id) != 0)
        __atomic_store_n(&dns->reprobing, false, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&dns->probe_lock);
}

/* True while the last probe found our resolver down.  Past the probe's
   cache time the verdict stands until a background probe gets an answer,
   so no message waits for a resolver known to be down. */
static bool resolver_known_down(struct fl_dns *dns)
{
    if (__atomic_load_n(&dns->probe_ok, __ATOMIC_ACQUIRE))
        return false;
    if (fl_monotonic_ms() >= __atomic_load_n(&dns->probe_until, __ATOMIC_ACQUIRE))
        reprobe(dns);
    return !__atomic_load_n(&dns->probe_ok, __ATOMIC_ACQUIRE);
}

int fl_dns_probe(struct fl_dns *dns)
{
    if (cache_only) {
        cache_only_misses++;
        return -1;
    }
    long long now = fl_monotonic_ms();
    if (now < __atomic_load_n(&dns->outage_tail_until, __ATOMIC_ACQUIRE))
        return 0; /* the failure may be one cached while we were down */
    if (now < __atomic_load_n(&dns->probe_until, __ATOMIC_ACQUIRE))
        return __atomic_load_n(&dns->probe_ok, __ATOMIC_ACQUIRE);
    if (resolver_known_down(dns))
        return 0; /* stale, but a background probe decides */
    pthread_mutex_lock(&dns->probe_lock);
    now = fl_monotonic_ms();
    if (now < __atomic_load_n(&dns->probe_until, __ATOMIC_ACQUIRE)) {
        int ok = __atomic_load_n(&dns->probe_ok, __ATOMIC_ACQUIRE);
        pthread_mutex_unlock(&dns->probe_lock);
        return ok;
    }
    char name[300];
    probe_name(dns, now, name, sizeof(name));
    /* not through the front cache or the down check: ask libunbound, with
       the probe's own budget */
    struct fl_dns_query *q = query_new(dns, name, FL_DNS_A, now + dns->probe_timeout_ms);
    query_send(q);
    const struct fl_dns_answer *a = fl_dns_wait(q);
    int ok = a->status == FL_DNS_OK || a->status == FL_DNS_NODATA ||
             a->status == FL_DNS_NXDOMAIN;
    fl_dns_query_free(&q);
    set_probe(dns, ok);
    pthread_mutex_unlock(&dns->probe_lock);
    return ok;
}

enum fl_fault fl_dns_fault(struct fl_dns *dns, const struct fl_dns_answer *seen)
{
    if (seen != NULL && seen->status == FL_DNS_TIMEOUT && seen->deadline_cut)
        return FL_FAULT_RECEIVER; /* our message budget ran out first */
    return dns != NULL && fl_dns_probe(dns) == 1 ? FL_FAULT_SENDER : FL_FAULT_RECEIVER;
}

void fl_dns_stats(struct fl_dns *dns, struct fl_dns_stats *out)
{
    const unsigned long *from = (const unsigned long *)&dns->stats;
    unsigned long *to = (unsigned long *)out;
    for (size_t i = 0; i < sizeof(*out) / sizeof(unsigned long); i++)
        to[i] = __atomic_load_n(&from[i], __ATOMIC_RELAXED);
}
