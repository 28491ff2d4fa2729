/* check_metrics: unit tests for lib/metrics.

   - Golden exposition of a known state (tests/metrics/metrics.golden): every
     family, label and value of the Prometheus text format is pinned.
     `make update-golden` rewrites the file (FL_UPDATE_GOLDEN=1).
   - Counting from many threads at once loses nothing (the shards sum to
     the exact total), with one shard and with many.
   - Histogram bucket edges: a time equal to a bound falls in that bucket
     (Prometheus le is "less or equal").
   - Greylisting decisions map to their (decision, reason) row; the
     "greylisting off" exemption is not counted.
   - metrics_listen parsing: good and bad addresses.
   - Every counting call accepts NULL (metrics off).

   Run by `make check`. */
#include "lib/core/buf.h"
#include "lib/metrics/metrics.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* The value of the sample whose line starts with "series " in text, or -1. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    }
    return -1;
}

static void expose(const struct fl_metrics *m, struct fl_buf *out)
{
    struct fl_metrics_env env = {.version = "test", .start_time = 1, .sessions = 0};
    fl_buf_init(out);
    fl_metrics_expose(m, &env, out);
}

static void result(struct fl_result *r, const char *method, enum fl_res res, enum fl_fault f)
{
    memset(r, 0, sizeof(*r));
    r->method = (char *)method;
    r->result = res;
    r->fault = f;
}

/* --- golden exposition ------------------------------------------------------ */

/* A known state: what a few messages, greylisting decisions, reloads and
   the DNS layer and two DNS lists would leave behind. */
static void known_state(struct fl_metrics *m)
{
    struct fl_verdict accept = {.action = FL_ACTION_ACCEPT, .fault = FL_FAULT_NONE};
    struct fl_verdict reject = {.action = FL_ACTION_REJECT, .fault = FL_FAULT_SENDER};
    struct fl_verdict defer = {.action = FL_ACTION_TEMPFAIL, .fault = FL_FAULT_RECEIVER};
    struct fl_result r[4];
    result(&r[0], "spf", FL_RES_PASS, FL_FAULT_NONE);
    result(&r[1], "dkim", FL_RES_PASS, FL_FAULT_NONE);
    result(&r[2], "dkim", FL_RES_FAIL, FL_FAULT_SENDER);
    result(&r[3], "x-new-method", FL_RES_NONE, FL_FAULT_NONE);
    fl_metrics_message(m, &accept, r, 4);
    fl_metrics_message(m, &accept, r, 2);
    result(&r[0], "dnsbl", FL_RES_FAIL, FL_FAULT_SENDER);
    fl_metrics_message(m, &reject, r, 1);
    result(&r[0], "spf", FL_RES_TEMPERROR, FL_FAULT_RECEIVER);
    fl_metrics_message(m, &defer, r, 1);

    fl_metrics_stage(m, FL_METRICS_STAGE_CONNECT, 120);
    fl_metrics_stage(m, FL_METRICS_STAGE_CONNECT, 500);  /* on the 0.0005 bound */
    fl_metrics_stage(m, FL_METRICS_STAGE_CONNECT, 501);  /* just above it */
    fl_metrics_stage(m, FL_METRICS_STAGE_EOM, 2500000);  /* 2.5 s */
    fl_metrics_stage(m, FL_METRICS_STAGE_EOM, 45000000); /* past the last bound */
    fl_metrics_stage(m, FL_METRICS_STAGE_RCPT, -5);      /* a clock step: 0 */

    struct fl_greylist_decision d;
    memset(&d, 0, sizeof(d));
    d.outcome = FL_GREYLIST_DEFER;
    d.reason_code = "greylist.first_seen";
    fl_metrics_greylist(m, &d);
    fl_metrics_greylist(m, &d);
    d.reason_code = "greylist.too_early";
    fl_metrics_greylist(m, &d);
    d.outcome = FL_GREYLIST_PASS;
    d.retry_accepted = true;
    fl_metrics_greylist(m, &d);
    d.outcome = FL_GREYLIST_EXEMPT;
    d.exemption = FL_GREYLIST_EX_DNSWL;
    fl_metrics_greylist(m, &d);
    d.outcome = FL_GREYLIST_STORE_ERROR;
    strcpy(d.store, "redis");
    fl_metrics_greylist(m, &d);

    fl_metrics_reload(m, true);
    fl_metrics_reload(m, true);
    fl_metrics_reload(m, false);
}

static void known_env(struct fl_metrics_env *env, struct fl_dns_stats *dns,
                      struct fl_dnsbl_list_stats lists[2])
{
    memset(dns, 0, sizeof(*dns));
    dns->queries = 12;
    dns->answered_fast = 4;
    dns->status[FL_DNS_OK] = 7;
    dns->status[FL_DNS_NXDOMAIN] = 3;
    dns->status[FL_DNS_TIMEOUT] = 1;
    dns->latency[0] = 4; /* < 1 ms */
    dns->latency[2] = 5; /* 5..9 ms */
    dns->latency[FL_DNS_LATENCY_BUCKETS - 1] = 2; /* 5 s and more */
    dns->latency_ms_sum = 10037;
    memset(lists, 0, 2 * sizeof(lists[0]));
    lists[0] = (struct fl_dnsbl_list_stats){.zone = "zen.example", .queries = 5, .listed = 2,
                                            .not_listed = 2, .error_codes = 1};
    lists[1] = (struct fl_dnsbl_list_stats){.zone = "dbl\"odd\\zone.example",
                                            .domain_list = true, .disabled = true,
                                            .queries = 3, .timeouts = 2, .failures = 1};
    *env = (struct fl_metrics_env){.version = "1.2.3",
                                   .start_time = 1796169600,
                                   .sessions = 3,
                                   .dns = dns,
                                   .lists = lists,
                                   .nlists = 2};
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    struct fl_buf b;
    fl_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fl_buf_append(&b, chunk, n);
    fclose(f);
    char *text = fl_buf_steal(&b);
    fl_buf_free(&b);
    return text;
}

START_TEST(test_golden_exposition)
{
    struct fl_metrics *m = fl_metrics_create(4);
    known_state(m);
    struct fl_metrics_env env;
    struct fl_dns_stats dns;
    struct fl_dnsbl_list_stats lists[2];
    known_env(&env, &dns, lists);
    struct fl_buf out;
    fl_buf_init(&out);
    fl_metrics_expose(m, &env, &out);
    fl_metrics_destroy(&m);
    ck_assert_ptr_null(m);

    const char *top = getenv("top_srcdir");
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/metrics/metrics.golden", top ? top : ".");
    if (getenv("FL_UPDATE_GOLDEN") != NULL) {
        FILE *f = fopen(path, "w");
        ck_assert_msg(f != NULL, "cannot write %s", path);
        fputs(out.data, f);
        fclose(f);
    }
    char *want = read_file(path);
    ck_assert_msg(want != NULL, "cannot read %s", path);
    if (strcmp(want, out.data) != 0) {
        /* show the first differing line */
        const char *g = out.data, *w = want;
        int line = 1;
        while (*g && *g == *w) {
            line += *g == '\n';
            g++;
            w++;
        }
        while (g > out.data && g[-1] != '\n')
            g--;
        while (w > want && w[-1] != '\n')
            w--;
        ck_abort_msg("exposition differs from %s at line %d:\n got: %.120s\nwant: %.120s\n"
                     "(FL_UPDATE_GOLDEN=1 or `make update-golden` rewrites it)",
                     path, line, g, w);
    }
    free(want);
    fl_buf_free(&out);
}
END_TEST

/* --- counting from many threads --------------------------------------------- */

#define THREADS 8
#define PER_THREAD 20000

static void *hammer(void *arg)
{
    struct fl_metrics *m = arg;
    struct fl_verdict v = {.action = FL_ACTION_REJECT, .fault = FL_FAULT_SENDER};
    struct fl_result r;
    result(&r, "spf", FL_RES_FAIL, FL_FAULT_SENDER);
    for (int i = 0; i < PER_THREAD; i++) {
        fl_metrics_message(m, &v, &r, 1);
        fl_metrics_stage(m, FL_METRICS_STAGE_EOM, 3);
    }
    return NULL;
}

START_TEST(test_threads_lose_nothing)
{
    static const unsigned int shard_counts[] = {1, 3, 0};
    struct fl_metrics *m = fl_metrics_create(shard_counts[_i]);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, hammer, m), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    struct fl_buf out;
    expose(m, &out);
    double want = THREADS * PER_THREAD;
    double got = sample(out.data, "faultline_messages_total{action=\"reject\",fault=\"sender\"}");
    ck_assert_msg(got == want, "%u shards: messages got %.0f, want %.0f", shard_counts[_i], got,
                  want);
    got = sample(out.data,
                 "faultline_check_results_total{method=\"spf\",result=\"fail\",fault=\"sender\"}");
    ck_assert_msg(got == want, "check results got %.0f, want %.0f", got, want);
    got = sample(out.data, "faultline_smtp_stage_duration_seconds_count{stage=\"eom\"}");
    ck_assert_msg(got == want, "eom count got %.0f, want %.0f", got, want);
    got = sample(out.data, "faultline_smtp_stage_duration_seconds_sum{stage=\"eom\"}");
    ck_assert_msg(got > want * 3e-6 - 1e-9 && got < want * 3e-6 + 1e-9, "eom sum got %f", got);
    fl_buf_free(&out);
    fl_metrics_destroy(&m);
}
END_TEST

/* --- histogram edges -------------------------------------------------------- */

static const struct {
    const char *label;
    long long us;
    const char *le; /* the smallest bucket that counts it */
    const char *below; /* the bucket just under it (0 there), or NULL */
} edge_rows[] = {
    {"0 us is in the first bucket", 0, "0.0005", NULL},
    {"exactly 0.5 ms is in le=0.0005", 500, "0.0005", NULL},
    {"0.501 ms is in le=0.001, not le=0.0005", 501, "0.001", "0.0005"},
    {"exactly 1 s is in le=1", 1000000, "1", "0.5"},
    {"31 s is only in +Inf", 31000000, "+Inf", "30"},
};

START_TEST(test_histogram_edges)
{
    struct fl_metrics *m = fl_metrics_create(1);
    fl_metrics_stage(m, FL_METRICS_STAGE_HELO, edge_rows[_i].us);
    struct fl_buf out;
    expose(m, &out);
    char series[128];
    snprintf(series, sizeof(series),
             "faultline_smtp_stage_duration_seconds_bucket{stage=\"helo\",le=\"%s\"}",
             edge_rows[_i].le);
    ck_assert_msg(sample(out.data, series) == 1, "%s: %s is %.0f, want 1", edge_rows[_i].label,
                  series, sample(out.data, series));
    if (edge_rows[_i].below != NULL) {
        snprintf(series, sizeof(series),
                 "faultline_smtp_stage_duration_seconds_bucket{stage=\"helo\",le=\"%s\"}",
                 edge_rows[_i].below);
        ck_assert_msg(sample(out.data, series) == 0, "%s: %s is %.0f, want 0",
                      edge_rows[_i].label, series, sample(out.data, series));
    }
    fl_buf_free(&out);
    fl_metrics_destroy(&m);
}
END_TEST

/* --- greylisting decisions ---------------------------------------------------- */

static const struct {
    const char *label;
    enum fl_greylist_outcome outcome;
    enum fl_greylist_exemption exemption;
    const char *reason_code;
    bool retry_accepted;
    const char *store;
    const char *want; /* the series counted; NULL: none */
} greylist_rows[] = {
    {"a known triplet passes as known", FL_GREYLIST_PASS, 0, NULL, false, "lmdb",
     "{decision=\"pass\",reason=\"known\"}"},
    {"an accepted retry passes as retry_accepted", FL_GREYLIST_PASS, 0, NULL, true, "lmdb",
     "{decision=\"pass\",reason=\"retry_accepted\"}"},
    {"a new triplet is deferred as first_seen", FL_GREYLIST_DEFER, 0, "greylist.first_seen",
     false, "lmdb", "{decision=\"defer\",reason=\"first_seen\"}"},
    {"a retry inside the delay is deferred as too_early", FL_GREYLIST_DEFER, 0,
     "greylist.too_early", false, "lmdb", "{decision=\"defer\",reason=\"too_early\"}"},
    {"an LMDB failure is a store error of lmdb", FL_GREYLIST_STORE_ERROR, 0,
     "greylist.store_down", false, "lmdb", "{decision=\"store_error\",reason=\"lmdb\"}"},
    {"a store that never opened is a store error not_open", FL_GREYLIST_STORE_ERROR, 0,
     "greylist.store_down", false, "", "{decision=\"store_error\",reason=\"not_open\"}"},
    {"greylisting off is not a decision", FL_GREYLIST_EXEMPT, FL_GREYLIST_EX_DISABLED, NULL,
     false, "", NULL},
};

START_TEST(test_greylist_rows)
{
    struct fl_metrics *m = fl_metrics_create(2);
    struct fl_greylist_decision d;
    memset(&d, 0, sizeof(d));
    d.outcome = greylist_rows[_i].outcome;
    d.exemption = greylist_rows[_i].exemption;
    d.reason_code = greylist_rows[_i].reason_code;
    d.retry_accepted = greylist_rows[_i].retry_accepted;
    strcpy(d.store, greylist_rows[_i].store);
    fl_metrics_greylist(m, &d);
    struct fl_buf out;
    expose(m, &out);
    /* exactly one row counts 1 (or none), every other row 0 */
    int ones = 0;
    const char *prefix = "faultline_greylist_decisions_total{";
    for (const char *p = out.data; (p = strstr(p, prefix)) != NULL; p++) {
        const char *sp = strchr(p, ' ');
        if (strtod(sp + 1, NULL) == 0)
            continue;
        ones++;
        ck_assert_msg(greylist_rows[_i].want != NULL &&
                          strncmp(p + strlen(prefix) - 1, greylist_rows[_i].want,
                                  strlen(greylist_rows[_i].want)) == 0,
                      "%s: counted %.*s", greylist_rows[_i].label, (int)(sp - p), p);
    }
    ck_assert_msg(ones == (greylist_rows[_i].want ? 1 : 0), "%s: %d rows counted",
                  greylist_rows[_i].label, ones);
    double errors = sample(out.data, "faultline_greylist_store_errors_total");
    ck_assert_msg(errors == (greylist_rows[_i].outcome == FL_GREYLIST_STORE_ERROR),
                  "%s: store errors %.0f", greylist_rows[_i].label, errors);
    fl_buf_free(&out);
    fl_metrics_destroy(&m);
}
END_TEST

/* --- metrics_listen ------------------------------------------------------------ */

static const struct {
    const char *label;
    const char *value;
    int want_family; /* 0: refused */
    unsigned int want_port;
} listen_rows[] = {
    {"IPv4 and port", "127.0.0.1:9795", AF_INET, 9795},
    {"IPv6 in brackets", "[::1]:9795", AF_INET6, 9795},
    {"port 0 picks a free port", "127.0.0.1:0", AF_INET, 0},
    {"any address", "0.0.0.0:9100", AF_INET, 9100},
    {"a host name is refused (no DNS at start)", "localhost:9795", 0, 0},
    {"IPv6 without brackets is refused", "::1:9795", 0, 0},
    {"a missing port is refused", "127.0.0.1", 0, 0},
    {"an empty port is refused", "127.0.0.1:", 0, 0},
    {"a port above 65535 is refused", "127.0.0.1:65536", 0, 0},
    {"a negative port is refused", "127.0.0.1:-1", 0, 0},
    {"trailing garbage is refused", "127.0.0.1:80x", 0, 0},
    {"an unclosed bracket is refused", "[::1:9795", 0, 0},
    {"an over-long host is refused",
     "[1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc:dddd:eeee]:1", 0, 0},
};

START_TEST(test_parse_listen)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    struct fl_buf why;
    fl_buf_init(&why);
    int rc = fl_metrics_parse_listen(listen_rows[_i].value, &ss, &len, &why);
    if (listen_rows[_i].want_family == 0) {
        ck_assert_msg(rc == -1 && why.len > 0, "%s: %s accepted", listen_rows[_i].label,
                      listen_rows[_i].value);
        fl_buf_free(&why);
        return;
    }
    ck_assert_msg(rc == 0, "%s: refused: %s", listen_rows[_i].label, why.data);
    fl_buf_free(&why);
    ck_assert_int_eq(ss.ss_family, listen_rows[_i].want_family);
    unsigned int port = ss.ss_family == AF_INET
                            ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                            : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    ck_assert_msg(port == listen_rows[_i].want_port, "%s: port %u", listen_rows[_i].label, port);
    ck_assert_uint_eq(len, ss.ss_family == AF_INET ? sizeof(struct sockaddr_in)
                                                   : sizeof(struct sockaddr_in6));
}
END_TEST

START_TEST(test_null_metrics_is_a_no_op)
{
    struct fl_verdict v = {0};
    struct fl_greylist_decision d;
    memset(&d, 0, sizeof(d));
    fl_metrics_message(NULL, &v, NULL, 0);
    fl_metrics_stage(NULL, FL_METRICS_STAGE_EOM, 1);
    fl_metrics_greylist(NULL, &d);
    fl_metrics_reload(NULL, true);
    fl_metrics_destroy(NULL);
    struct fl_metrics *m = NULL;
    fl_metrics_destroy(&m);
    ck_assert_ptr_null(m);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("exposition");
    tcase_add_test(tc, test_golden_exposition);
    tcase_add_loop_test(tc, test_histogram_edges, 0, (int)NELEMS(edge_rows));
    tcase_add_loop_test(tc, test_greylist_rows, 0, (int)NELEMS(greylist_rows));
    suite_add_tcase(s, tc);
    tc = tcase_create("counting");
    tcase_add_loop_test(tc, test_threads_lose_nothing, 0, 3);
    tcase_add_test(tc, test_null_metrics_is_a_no_op);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    tc = tcase_create("listen");
    tcase_add_loop_test(tc, test_parse_listen, 0, (int)NELEMS(listen_rows));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(metrics_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
