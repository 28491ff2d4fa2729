/* metrics: see metrics.h.  Prometheus text exposition format 0.0.4
   (prometheus.io/docs/instrumenting/exposition_formats). */
#include "lib/metrics/metrics.h"
#include "lib/core/xalloc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>

/* --- the counter slots ------------------------------------------------ */

/* Methods with their own label value; any other counts as "other". */
static const char *const methods[] = {"spf",   "dkim",     "dmarc",  "iprev", "dnsbl",
                                      "dnswl", "greylist", "nullmx", "arc",   "other"};
#define N_METHODS (sizeof(methods) / sizeof(methods[0]))
#define N_ACTIONS (FL_ACTION_REJECT + 1)
#define N_FAULTS  (FL_FAULT_RECEIVER + 1)
#define N_RESULTS (FL_RES_SKIPPED + 1)

/* Stage histogram: upper bounds in microseconds and as label text. */
static const long long stage_bounds_us[] = {500,    1000,    5000,    10000,    50000,   100000,
                                            500000, 1000000, 5000000, 10000000, 30000000};
static const char *const stage_bounds_le[] = {"0.0005", "0.001", "0.005", "0.01",
                                              "0.05",   "0.1",   "0.5",   "1",
                                              "5",      "10",    "30"};
#define N_BOUNDS  (sizeof(stage_bounds_us) / sizeof(stage_bounds_us[0]))
#define N_BUCKETS (N_BOUNDS + 1) /* the last one: +Inf */
static const char *const stage_names[FL_METRICS_STAGES] = {
    "connect", "helo", "mail", "rcpt", "data", "header", "eoh", "body", "eom", "abort", "close"};

/* Greylisting decisions: one slot per (decision, reason) row. */
enum {
    GL_PASS_KNOWN,
    GL_PASS_RETRY,
    GL_DEFER_FIRST_SEEN,
    GL_DEFER_TOO_EARLY,
    GL_STORE_LMDB,
    GL_STORE_REDIS,
    GL_STORE_NONE, /* no store open */
    GL_EXEMPT,     /* + enum fl_greylist_exemption */
    GL_SLOTS = GL_EXEMPT + FL_GREYLIST_EX_ADMIN_ALLOWED + 1,
};

enum {
    SLOT_MSG = 0,
    SLOT_CHECK = SLOT_MSG + N_ACTIONS * N_FAULTS,
    SLOT_STAGE = SLOT_CHECK + N_METHODS * N_RESULTS * N_FAULTS,
    /* per stage: N_BUCKETS bucket counts (not cumulative), then the sum in us */
    SLOT_GREYLIST = SLOT_STAGE + FL_METRICS_STAGES * (N_BUCKETS + 1),
    SLOT_RELOAD = SLOT_GREYLIST + GL_SLOTS, /* + 0 ok, + 1 failed */
    SLOTS = SLOT_RELOAD + 2,
};

#define CACHE_LINE 64
/* Slots per shard, rounded up to whole cache lines. */
#define STRIDE                                                                              \
    ((SLOTS * sizeof(unsigned long long) + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE /        \
     sizeof(unsigned long long))

struct fl_metrics {
    unsigned int nshards; /* a power of two */
    unsigned long long *v; /* nshards * STRIDE, cache-line aligned */
};

struct fl_metrics *fl_metrics_create(unsigned int nshards)
{
    if (nshards == 0) {
        int n = get_nprocs_conf();
        nshards = n > 0 ? (unsigned int)n : 1;
    }
    if (nshards > 256)
        nshards = 256;
    unsigned int p = 1;
    while (p < nshards)
        p <<= 1;
    struct fl_metrics *m = fl_calloc(1, sizeof(*m));
    m->nshards = p;
    size_t bytes = (size_t)p * STRIDE * sizeof(unsigned long long);
    m->v = aligned_alloc(CACHE_LINE, bytes);
    if (m->v == NULL)
        abort(); /* as fl_malloc: out of memory at startup */
    memset(m->v, 0, bytes);
    return m;
}

void fl_metrics_destroy(struct fl_metrics **m)
{
    if (m == NULL || *m == NULL)
        return;
    free((*m)->v);
    free(*m);
    *m = NULL;
}

/* The counters of the CPU we run on: threads on different CPUs never
   write the same cache line.  A thread may migrate before it adds, so
   the adds are still atomic (relaxed: no ordering is needed). */
static unsigned long long *my_shard(struct fl_metrics *m)
{
    int cpu = sched_getcpu();
    unsigned int shard = cpu < 0 ? 0 : (unsigned int)cpu & (m->nshards - 1);
    return &m->v[(size_t)shard * STRIDE];
}

static void add(unsigned long long *shard, size_t slot, unsigned long long n)
{
    __atomic_fetch_add(&shard[slot], n, __ATOMIC_RELAXED);
}

static unsigned long long sum(const struct fl_metrics *m, size_t slot)
{
    unsigned long long total = 0;
    for (unsigned int s = 0; s < m->nshards; s++)
        total += __atomic_load_n(&m->v[(size_t)s * STRIDE + slot], __ATOMIC_RELAXED);
    return total;
}

static size_t method_index(const char *method)
{
    for (size_t i = 0; method != NULL && i < N_METHODS - 1; i++)
        if (strcmp(methods[i], method) == 0)
            return i;
    return N_METHODS - 1;
}

void fl_metrics_message(struct fl_metrics *m, const struct fl_verdict *v,
                        const struct fl_result *results, size_t n)
{
    if (m == NULL)
        return;
    unsigned long long *shard = my_shard(m);
    if ((unsigned)v->action < N_ACTIONS && (unsigned)v->fault < N_FAULTS)
        add(shard, SLOT_MSG + (size_t)v->action * N_FAULTS + v->fault, 1);
    for (size_t i = 0; i < n; i++) {
        const struct fl_result *r = &results[i];
        if ((unsigned)r->result >= N_RESULTS || (unsigned)r->fault >= N_FAULTS)
            continue;
        size_t k = (method_index(r->method) * N_RESULTS + r->result) * N_FAULTS + r->fault;
        add(shard, SLOT_CHECK + k, 1);
    }
}

void fl_metrics_stage(struct fl_metrics *m, enum fl_metrics_stage stage, long long us)
{
    if (m == NULL || (unsigned)stage >= FL_METRICS_STAGES)
        return;
    if (us < 0)
        us = 0;
    size_t b = 0;
    while (b < N_BOUNDS && us > stage_bounds_us[b])
        b++;
    size_t base = SLOT_STAGE + (size_t)stage * (N_BUCKETS + 1);
    unsigned long long *shard = my_shard(m);
    add(shard, base + b, 1);
    add(shard, base + N_BUCKETS, (unsigned long long)us);
}

void fl_metrics_greylist(struct fl_metrics *m, const struct fl_greylist_decision *d)
{
    if (m == NULL)
        return;
    size_t slot;
    switch (d->outcome) {
    case FL_GREYLIST_PASS:
        slot = d->retry_accepted ? GL_PASS_RETRY : GL_PASS_KNOWN;
        break;
    case FL_GREYLIST_DEFER:
        slot = d->reason_code != NULL && strstr(d->reason_code, "too_early") != NULL
                   ? GL_DEFER_TOO_EARLY
                   : GL_DEFER_FIRST_SEEN;
        break;
    case FL_GREYLIST_EXEMPT:
        if (d->exemption == FL_GREYLIST_EX_DISABLED ||
            (unsigned)d->exemption > FL_GREYLIST_EX_ADMIN_ALLOWED)
            return;
        slot = GL_EXEMPT + (size_t)d->exemption;
        break;
    case FL_GREYLIST_STORE_ERROR:
        slot = strcmp(d->store, "lmdb") == 0    ? GL_STORE_LMDB
               : strcmp(d->store, "redis") == 0 ? GL_STORE_REDIS
                                                : GL_STORE_NONE;
        break;
    default:
        return;
    }
    add(my_shard(m), SLOT_GREYLIST + slot, 1);
}

void fl_metrics_reload(struct fl_metrics *m, bool ok)
{
    if (m != NULL)
        add(my_shard(m), SLOT_RELOAD + (ok ? 0 : 1), 1);
}

/* --- exposition ------------------------------------------------------- */

static void family(struct fl_buf *out, const char *name, const char *type, const char *help)
{
    fl_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: backslash, double quote and line feed are escaped. */
static void label_value(struct fl_buf *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            fl_buf_putc(out, '\\');
        if (*s == '\n') {
            fl_buf_puts(out, "\\n");
            continue;
        }
        fl_buf_putc(out, *s);
    }
}

/* Microseconds as seconds, exactly: "0.000123". */
static void put_us_as_seconds(struct fl_buf *out, unsigned long long us)
{
    fl_buf_printf(out, "%llu.%06llu", us / 1000000, us % 1000000);
}

/* Milliseconds as seconds without trailing zeros: 5 -> "0.005", 1000 -> "1". */
static void put_ms_as_seconds(struct fl_buf *out, long ms)
{
    if (ms % 1000 == 0) {
        fl_buf_printf(out, "%ld", ms / 1000);
        return;
    }
    char frac[8];
    snprintf(frac, sizeof(frac), "%03ld", ms % 1000);
    for (size_t n = strlen(frac); n > 0 && frac[n - 1] == '0'; n--)
        frac[n - 1] = '\0';
    fl_buf_printf(out, "%ld.%s", ms / 1000, frac);
}

static void expose_messages(const struct fl_metrics *m, struct fl_buf *out)
{
    family(out, "faultline_messages_total", "counter",
           "Messages decided (one per verdict record), by action and by whose side must act.");
    for (size_t a = 0; a < N_ACTIONS; a++)
        for (size_t f = 0; f < N_FAULTS; f++)
            fl_buf_printf(out, "faultline_messages_total{action=\"%s\",fault=\"%s\"} %llu\n",
                          fl_action_name((enum fl_action)a), fl_fault_name((enum fl_fault)f),
                          sum(m, SLOT_MSG + a * N_FAULTS + f));
    family(out, "faultline_check_results_total", "counter",
           "Check results recorded in verdicts (DKIM: one per signature), by method, result "
           "and fault. Only combinations seen so far are listed.");
    for (size_t i = 0; i < N_METHODS; i++)
        for (size_t r = 0; r < N_RESULTS; r++)
            for (size_t f = 0; f < N_FAULTS; f++) {
                unsigned long long c = sum(m, SLOT_CHECK + (i * N_RESULTS + r) * N_FAULTS + f);
                if (c > 0)
                    fl_buf_printf(out,
                                  "faultline_check_results_total{method=\"%s\",result=\"%s\","
                                  "fault=\"%s\"} %llu\n",
                                  methods[i], fl_res_name((enum fl_res)r),
                                  fl_fault_name((enum fl_fault)f), c);
            }
}

static void expose_stages(const struct fl_metrics *m, struct fl_buf *out)
{
    const char *name = "faultline_smtp_stage_duration_seconds";
    family(out, name, "histogram",
           "Time the milter held the MTA in the callback of each SMTP stage.");
    for (size_t s = 0; s < FL_METRICS_STAGES; s++) {
        size_t base = SLOT_STAGE + s * (N_BUCKETS + 1);
        unsigned long long cum = 0;
        for (size_t b = 0; b < N_BUCKETS; b++) {
            cum += sum(m, base + b);
            fl_buf_printf(out, "%s_bucket{stage=\"%s\",le=\"%s\"} %llu\n", name, stage_names[s],
                          b < N_BOUNDS ? stage_bounds_le[b] : "+Inf", cum);
        }
        fl_buf_printf(out, "%s_sum{stage=\"%s\"} ", name, stage_names[s]);
        put_us_as_seconds(out, sum(m, base + N_BUCKETS));
        fl_buf_printf(out, "\n%s_count{stage=\"%s\"} %llu\n", name, stage_names[s], cum);
    }
}

static void expose_greylist(const struct fl_metrics *m, struct fl_buf *out)
{
    static const struct {
        size_t slot;
        const char *decision, *reason;
    } rows[] = {
        {GL_PASS_KNOWN, "pass", "known"},
        {GL_PASS_RETRY, "pass", "retry_accepted"},
        {GL_DEFER_FIRST_SEEN, "defer", "first_seen"},
        {GL_DEFER_TOO_EARLY, "defer", "too_early"},
        {GL_STORE_LMDB, "store_error", "lmdb"},
        {GL_STORE_REDIS, "store_error", "redis"},
        {GL_STORE_NONE, "store_error", "not_open"},
    };
    family(out, "faultline_greylist_decisions_total", "counter",
           "Greylisting decisions (one per recipient), by decision and reason: the exemption "
           "for exempt, the store for store_error. Exemptions are listed once seen.");
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        fl_buf_printf(out,
                      "faultline_greylist_decisions_total{decision=\"%s\",reason=\"%s\"} %llu\n",
                      rows[i].decision, rows[i].reason, sum(m, SLOT_GREYLIST + rows[i].slot));
    for (int ex = FL_GREYLIST_EX_NONE; ex <= FL_GREYLIST_EX_ADMIN_ALLOWED; ex++) {
        unsigned long long c = sum(m, SLOT_GREYLIST + GL_EXEMPT + (size_t)ex);
        if (c > 0)
            fl_buf_printf(out,
                          "faultline_greylist_decisions_total{decision=\"exempt\",reason=\"%s\"} "
                          "%llu\n",
                          fl_greylist_exemption_name((enum fl_greylist_exemption)ex), c);
    }
    family(out, "faultline_greylist_store_errors_total", "counter",
           "Greylisting decisions the store failed (the message was accepted: fail-open).");
    fl_buf_printf(out, "faultline_greylist_store_errors_total %llu\n",
                  sum(m, SLOT_GREYLIST + GL_STORE_LMDB) + sum(m, SLOT_GREYLIST + GL_STORE_REDIS) +
                      sum(m, SLOT_GREYLIST + GL_STORE_NONE));
}

static void expose_dns(const struct fl_dns_stats *st, struct fl_buf *out)
{
    family(out, "faultline_dns_queries_total", "counter", "DNS queries started.");
    fl_buf_printf(out, "faultline_dns_queries_total %lu\n", st->queries);
    family(out, "faultline_dns_answers_total", "counter",
           "DNS answers by status (TIMEOUT: none before the deadline; LOCAL: not asked).");
    for (int i = FL_DNS_OK; i <= FL_DNS_LOCAL; i++)
        fl_buf_printf(out, "faultline_dns_answers_total{status=\"%s\"} %lu\n",
                      fl_dns_status_name((enum fl_dns_status)i), st->status[i]);
    family(out, "faultline_dns_fast_answers_total", "counter",
           "DNS answers in under 1 ms: served from the resolver's cache.");
    fl_buf_printf(out, "faultline_dns_fast_answers_total %lu\n", st->answered_fast);
    const char *name = "faultline_dns_duration_seconds";
    family(out, name, "histogram", "Time to a DNS answer (whole milliseconds).");
    unsigned long cum = 0;
    for (int b = 0; b < FL_DNS_LATENCY_BUCKETS; b++) {
        cum += st->latency[b];
        fl_buf_printf(out, "%s_bucket{le=\"", name);
        if (b < FL_DNS_LATENCY_BUCKETS - 1)
            put_ms_as_seconds(out, fl_dns_latency_bounds[b]);
        else
            fl_buf_puts(out, "+Inf");
        fl_buf_printf(out, "\"} %lu\n", cum);
    }
    fl_buf_printf(out, "%s_sum ", name);
    put_us_as_seconds(out, (unsigned long long)st->latency_ms_sum * 1000);
    fl_buf_printf(out, "\n%s_count %lu\n", name, cum);
}

static void list_labels(struct fl_buf *out, const struct fl_dnsbl_list_stats *l)
{
    fl_buf_puts(out, "{list=\"");
    label_value(out, l->zone);
    fl_buf_printf(out, "\",kind=\"%s\"", l->domain_list ? "domain" : "ip");
}

static void expose_lists(const struct fl_metrics_env *env, struct fl_buf *out)
{
    family(out, "faultline_dnsbl_queries_total", "counter",
           "Queries asked of each DNS list since the lists were last built (a reload starts "
           "them again at 0).");
    for (size_t i = 0; i < env->nlists; i++) {
        fl_buf_puts(out, "faultline_dnsbl_queries_total");
        list_labels(out, &env->lists[i]);
        fl_buf_printf(out, "} %lu\n", env->lists[i].queries);
    }
    family(out, "faultline_dnsbl_answers_total", "counter",
           "Answers of each DNS list: listed, not_listed, error_code (the list refuses us or "
           "answered outside 127/8), timeout, failure (SERVFAIL, bogus, malformed).");
    for (size_t i = 0; i < env->nlists; i++) {
        const struct fl_dnsbl_list_stats *l = &env->lists[i];
        const struct {
            const char *answer;
            unsigned long n;
        } rows[] = {{"listed", l->listed},           {"not_listed", l->not_listed},
                    {"error_code", l->error_codes}, {"timeout", l->timeouts},
                    {"failure", l->failures}};
        for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
            fl_buf_puts(out, "faultline_dnsbl_answers_total");
            list_labels(out, l);
            fl_buf_printf(out, ",answer=\"%s\"} %lu\n", rows[r].answer, rows[r].n);
        }
    }
    family(out, "faultline_dnsbl_list_disabled", "gauge",
           "1 while the health probe has disabled the list (it lists everything or nothing).");
    for (size_t i = 0; i < env->nlists; i++) {
        fl_buf_puts(out, "faultline_dnsbl_list_disabled");
        list_labels(out, &env->lists[i]);
        fl_buf_printf(out, "} %d\n", env->lists[i].disabled ? 1 : 0);
    }
}

void fl_metrics_expose(const struct fl_metrics *m, const struct fl_metrics_env *env,
                       struct fl_buf *out)
{
    family(out, "faultline_build_info", "gauge", "The running faultline's version.");
    fl_buf_puts(out, "faultline_build_info{version=\"");
    label_value(out, env->version ? env->version : "");
    fl_buf_puts(out, "\"} 1\n");
    family(out, "faultline_start_time_seconds", "gauge",
           "When the daemon started, in seconds since the epoch.");
    fl_buf_printf(out, "faultline_start_time_seconds %lld\n", env->start_time);
    family(out, "faultline_sessions_in_flight", "gauge", "Milter sessions open now.");
    fl_buf_printf(out, "faultline_sessions_in_flight %lld\n", env->sessions);
    family(out, "faultline_config_reloads_total", "counter",
           "Configuration reloads (SIGHUP): ok = swapped in, failed = refused, the running "
           "configuration kept.");
    fl_buf_printf(out, "faultline_config_reloads_total{result=\"ok\"} %llu\n",
                  sum(m, SLOT_RELOAD));
    fl_buf_printf(out, "faultline_config_reloads_total{result=\"failed\"} %llu\n",
                  sum(m, SLOT_RELOAD + 1));
    expose_messages(m, out);
    expose_stages(m, out);
    expose_greylist(m, out);
    if (env->dns != NULL)
        expose_dns(env->dns, out);
    expose_lists(env, out);
}

/* --- the listen address ------------------------------------------------- */

int fl_metrics_parse_listen(const char *value, struct sockaddr_storage *addr_r,
                            socklen_t *len_r, struct fl_buf *err)
{
    static const char *const want =
        "expected IPv4:PORT or [IPv6]:PORT with a numeric address (127.0.0.1:9795, [::1]:9795)";
    char host[64];
    const char *colon;
    bool v6 = value[0] == '[';
    if (v6) {
        const char *close = strchr(value, ']');
        if (close == NULL || close[1] != ':') {
            fl_buf_puts(err, want);
            return -1;
        }
        colon = close + 1;
        value++;
    } else {
        colon = strrchr(value, ':');
    }
    if (colon == NULL || (size_t)(colon - value) - v6 >= sizeof(host)) {
        fl_buf_puts(err, want);
        return -1;
    }
    size_t hlen = (size_t)(colon - value) - v6;
    memcpy(host, value, hlen);
    host[hlen] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || port < 0 || port > 65535) {
        fl_buf_puts(err, "the port must be a number 0..65535 (0: any free port)");
        return -1;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t len;
    if (v6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
            fl_buf_puts(err, want);
            return -1;
        }
        len = sizeof(*sin6);
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
            fl_buf_puts(err, want);
            return -1;
        }
        len = sizeof(*sin);
    }
    if (addr_r != NULL)
        *addr_r = ss;
    if (len_r != NULL)
        *len_r = len;
    return 0;
}
