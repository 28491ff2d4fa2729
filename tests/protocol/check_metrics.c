/* check_metrics: the Prometheus endpoint of the real daemon.  Messages go
   through the milter socket (a DNS-listed client, a greylisted one and
   its retry, an error-coded list answer); /metrics is scraped over HTTP
   and parsed by an independent parser (python3-prometheus-client, via
   tests/protocol/metrics_scrape.py, which also checks the histogram
   rules), and the counters are compared with the verdict records the
   daemon wrote and with what the test did: messages by action and fault,
   check results by method/result/fault, stage and DNS histograms, per-list
   DNSBL answers, greylisting decisions, sessions in flight, reloads.  Also:
   other paths and methods, the endpoint off by default, an address in use
   stops the daemon with a clear error. */
#include "tests/harness/dns_server.h"
#include "lib/core/clock.h"
#include "tests/protocol/session.h"

#include <arpa/inet.h>
#include <check.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *simple = "From: a@txt.dns.example\nSubject: s\nMessage-ID: <m@x>\n\nbody\n";

/* Runs cmd and returns its standard output (malloc'd); *status_r gets
   the exit status. */
static char *run(const char *cmd, int *status_r)
{
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    size_t n;
    while ((n = fread(out + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 4096)
            out = realloc(out, cap *= 2);
    }
    out[len] = '\0';
    int st = pclose(p);
    *status_r = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

static const char *script(void)
{
    static char path[1024];
    const char *top = getenv("top_srcdir");
    const char *py = getenv("PYTHON3");
    snprintf(path, sizeof(path), "%s %s/tests/protocol/metrics_scrape.py", py ? py : "python3",
             top ? top : ".");
    return path;
}

/* Scrapes url (or reads a file) through the independent parser; fails
   the test unless it parses.  Returns the samples, one a line. */
static char *scrape(const char *url)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "%s %s", script(), url);
    int status;
    char *out = run(cmd, &status);
    ck_assert_msg(status == 0, "the parser refused the exposition of %s (see stderr)", url);
    return out;
}

/* The value of the sample "name{labels}" (labels sorted, as the script
   prints them), or -1 when absent. */
static double value(const char *samples, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = samples; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return -1;
}

/* Sum of every sample whose line starts with prefix. */
static double total(const char *samples, const char *prefix)
{
    double sum = 0;
    size_t n = strlen(prefix);
    for (const char *p = samples; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, prefix, n) == 0)
            sum += strtod(strchr(p, ' ') + 1, NULL);
    return sum;
}

/* Starts a daemon with the endpoint on a free port; *url_r gets its base. */
static void start(struct fl_daemon *d, const char *extra, char *url, size_t urllen)
{
    char conf[2048];
    fl_daemon_prepare(d, NULL, NULL);
    snprintf(conf, sizeof(conf), "metrics_listen = 127.0.0.1:0\n%s", extra ? extra : "");
    fl_daemon_write_conf(d, NULL, conf, true);
    ck_assert(fl_daemon_start(d) == 0);
    ck_assert(fl_daemon_wait_log(d, "metrics endpoint listening on http://", 30000));
    char *log = fl_daemon_read(d->log);
    const char *p = strstr(log, "listening on http://");
    ck_assert_ptr_nonnull(p);
    p += strlen("listening on ");
    size_t n = (size_t)(strstr(p, "/metrics") - p);
    snprintf(url, urllen, "%.*s", (int)n, p);
    free(log);
}

static void stop(struct fl_daemon *d)
{
    ck_assert_int_eq(fl_daemon_stop(d), 0);
    fl_daemon_cleanup(d);
}

/* Waits (up to 10 s: valgrind is slow) until series has want, scraping again; returns the
   last samples. */
static char *scrape_until(const char *url, const char *series, double want)
{
    char full[512];
    snprintf(full, sizeof(full), "%s/metrics", url);
    char *s = NULL;
    for (int i = 0; i < 100; i++) {
        free(s);
        s = scrape(full);
        if (value(s, series) == want)
            break;
        usleep(100 * 1000);
    }
    return s;
}

static void one(struct fl_daemon *d, const char *ip, const char *qid)
{
    struct fl_test_env env = {.client_ip = ip, .queue_id = qid};
    struct fl_mc_session s;
    fl_test_run(d, &env, simple, &s);
    fl_mc_session_clear(&s);
}

/* The verdict records' counts must equal the counters, series by series. */
static void compare_with_records(struct fl_daemon *d, const char *samples, int want_records)
{
    char *text = fl_daemon_read(d->verdicts);
    int records = 0, results = 0;
    char series[512];
    json_t *seen = json_object(); /* series -> count */
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *v = json_loads(line, 0, NULL);
        ck_assert_msg(v != NULL, "verdict record is not JSON: %s", line);
        records++;
        snprintf(series, sizeof(series), "faultline_messages_total{action=%s,fault=%s}",
                 json_string_value(json_object_get(v, "action")),
                 json_string_value(json_object_get(v, "fault")));
        json_object_set_new(seen, series,
                            json_integer(json_integer_value(json_object_get(seen, series)) + 1));
        json_t *checks = json_object_get(v, "checks");
        for (size_t i = 0; i < json_array_size(checks); i++) {
            json_t *c = json_array_get(checks, i);
            snprintf(series, sizeof(series),
                     "faultline_check_results_total{fault=%s,method=%s,result=%s}",
                     json_string_value(json_object_get(c, "fault")),
                     json_string_value(json_object_get(c, "method")),
                     json_string_value(json_object_get(c, "result")));
            json_object_set_new(
                seen, series, json_integer(json_integer_value(json_object_get(seen, series)) + 1));
            results++;
        }
        json_decref(v);
    }
    free(text);
    ck_assert_int_eq(records, want_records);
    const char *key;
    json_t *count;
    json_object_foreach(seen, key, count)
    {
        double got = value(samples, key);
        ck_assert_msg(got == (double)json_integer_value(count), "%s: metrics %.0f, records %lld",
                      key, got, (long long)json_integer_value(count));
    }
    /* and nothing more was counted than the records hold */
    ck_assert_msg(total(samples, "faultline_messages_total{") == records,
                  "messages: metrics %.0f, records %d", total(samples, "faultline_messages_total{"),
                  records);
    ck_assert_msg(total(samples, "faultline_check_results_total{") == results,
                  "check results: metrics %.0f, records %d",
                  total(samples, "faultline_check_results_total{"), results);
    json_decref(seen);
}

START_TEST(counters_match_what_went_through_the_milter)
{
    struct fl_daemon d;
    char url[256], extra[1024];
    fl_daemon_prepare(&d, NULL, NULL);
    snprintf(extra, sizeof(extra),
             "dnsbl_sites = zen.dnsbl.example\ngreylist_enable = yes\n"
             "greylist_lmdb_dir = %s/greylist\ngreylist_delay = 1s\n",
             d.dir);
    start(&d, extra, url, sizeof(url));
    one(&d, "192.0.2.7", "4QLISTED");   /* DNS-listed: 554 at RCPT */
    one(&d, "192.0.2.2", "4QGREY1");    /* greylisted: 451 at RCPT */
    usleep(1200 * 1000);                /* the greylist delay is 1 s */
    one(&d, "192.0.2.2", "4QGREY2");    /* the retry: accepted */
    one(&d, "192.0.2.21", "4QERRCODE"); /* the list answers an error code; same /24: known */
    ck_assert(fl_daemon_wait_log(&d, "4QERRCODE: verdict", 3000));
    char *s = scrape_until(url, "faultline_sessions_in_flight{}", 0);

    compare_with_records(&d, s, 4);
    ck_assert_msg(value(s, "faultline_messages_total{action=reject,fault=sender}") == 1, "%s", s);
    ck_assert(value(s, "faultline_messages_total{action=tempfail,fault=none}") == 1);
    ck_assert(value(s, "faultline_messages_total{action=accept,fault=none}") +
                  value(s, "faultline_messages_total{action=accept,fault=receiver}") ==
              2);
    ck_assert(value(s, "faultline_check_results_total{fault=sender,method=dnsbl,result=fail}") == 1);
    ck_assert(value(s, "faultline_greylist_decisions_total{decision=defer,reason=first_seen}") ==
              1);
    ck_assert(value(s, "faultline_greylist_decisions_total{decision=pass,reason=retry_accepted}") ==
              1);
    ck_assert(value(s, "faultline_greylist_decisions_total{decision=pass,reason=known}") == 1);
    ck_assert(value(s, "faultline_greylist_store_errors_total{}") == 0);
    /* the DNS lists' own counters, read at scrape time */
    ck_assert(value(s, "faultline_dnsbl_queries_total{kind=ip,list=zen.dnsbl.example}") == 4); /* one per session */
    ck_assert(value(s, "faultline_dnsbl_answers_total{answer=listed,kind=ip,list=zen.dnsbl.example}") ==
              1);
    ck_assert(value(s, "faultline_dnsbl_answers_total{answer=error_code,kind=ip,"
                       "list=zen.dnsbl.example}") == 1);
    ck_assert(value(s, "faultline_dnsbl_list_disabled{kind=ip,list=zen.dnsbl.example}") == 0);
    /* one connect per session; eom for the two that got there */
    ck_assert(value(s, "faultline_smtp_stage_duration_seconds_count{stage=connect}") == 4);
    /* libmilter calls close for every connection, also the harness's
       readiness probe that never got as far as connect */
    ck_assert_msg(value(s, "faultline_smtp_stage_duration_seconds_count{stage=close}") >= 4,
                  "close count %.0f",
                  value(s, "faultline_smtp_stage_duration_seconds_count{stage=close}"));
    ck_assert_msg(value(s, "faultline_smtp_stage_duration_seconds_count{stage=eom}") == 2,
                  "eom count %.0f",
                  value(s, "faultline_smtp_stage_duration_seconds_count{stage=eom}"));
    ck_assert(value(s, "faultline_smtp_stage_duration_seconds_count{stage=rcpt}") == 4);
    /* the resolver's counters: every answer is in the histogram */
    double queries = value(s, "faultline_dns_queries_total{}");
    double answers = total(s, "faultline_dns_answers_total{");
    ck_assert_msg(queries >= 4 && answers >= 4, "dns queries %.0f answers %.0f", queries, answers);
    ck_assert(value(s, "faultline_dns_duration_seconds_count{}") == answers);
    ck_assert(value(s, "faultline_sessions_in_flight{}") == 0);
    ck_assert(value(s, "faultline_config_reloads_total{result=ok}") == 0);
    free(s);
    stop(&d);
}
END_TEST

START_TEST(sessions_in_flight_and_reloads)
{
    struct fl_daemon d;
    char url[256];
    start(&d, NULL, url, sizeof(url));
    /* a session held open at connect */
    struct fl_mc *mc = fl_mc_create(NULL);
    const char *err;
    ck_assert_msg(fl_mc_open(mc, d.socket, &err) == 0, "open: %s", err);
    struct fl_mc_reply r = {0};
    ck_assert_msg(fl_mc_connect(mc, "client.example", '4', 41000, "192.0.2.9", &r, &err) == 0,
                  "connect: %s", err);
    fl_mc_reply_clear(&r);
    char *s = scrape_until(url, "faultline_sessions_in_flight{}", 1);
    ck_assert_msg(value(s, "faultline_sessions_in_flight{}") == 1, "in flight %.0f",
                  value(s, "faultline_sessions_in_flight{}"));
    free(s);
    fl_mc_destroy(&mc);
    s = scrape_until(url, "faultline_sessions_in_flight{}", 0);
    ck_assert(value(s, "faultline_sessions_in_flight{}") == 0);
    free(s);

    /* a valid reload, then one refused (unknown key) */
    fl_daemon_signal(&d, SIGHUP);
    ck_assert(fl_daemon_wait_log(&d, "configuration reloaded", 5000));
    s = scrape_until(url, "faultline_config_reloads_total{result=ok}", 1);
    ck_assert(value(s, "faultline_config_reloads_total{result=ok}") == 1);
    ck_assert(value(s, "faultline_config_reloads_total{result=failed}") == 0);
    free(s);
    fl_daemon_write_conf(&d, NULL, "metrics_listen = 127.0.0.1:0\nno_such_key = 1\n", true);
    fl_daemon_signal(&d, SIGHUP);
    ck_assert(fl_daemon_wait_log(&d, "keeping the running configuration", 5000));
    s = scrape_until(url, "faultline_config_reloads_total{result=failed}", 1);
    ck_assert(value(s, "faultline_config_reloads_total{result=ok}") == 1);
    ck_assert(value(s, "faultline_config_reloads_total{result=failed}") == 1);
    free(s);
    stop(&d);
}
END_TEST

START_TEST(other_paths_and_methods_are_refused)
{
    struct fl_daemon d;
    char url[256], cmd[2048];
    start(&d, NULL, url, sizeof(url));
    snprintf(cmd, sizeof(cmd), "%s --probe %s", script(), url);
    int status;
    char *out = run(cmd, &status);
    ck_assert_int_eq(status, 0);
    ck_assert_msg(strstr(out, "GET /nope 404\n") && strstr(out, "POST /metrics 405\n") &&
                      strstr(out, "HEAD /metrics 200\n") &&
                      strstr(out, "Content-Type text/plain; version=0.0.4; charset=utf-8\n"),
                  "%s", out);
    free(out);
    stop(&d);
}
END_TEST

START_TEST(off_by_default)
{
    struct fl_daemon d;
    fl_daemon_prepare(&d, NULL, NULL);
    ck_assert(fl_daemon_start(&d) == 0);
    one(&d, "192.0.2.2", "4QOFF");
    ck_assert(fl_daemon_wait_log(&d, "4QOFF: verdict", 3000));
    char *log = fl_daemon_read(d.log);
    ck_assert_msg(strstr(log, "metrics") == NULL, "metrics mentioned with the default config:\n%s",
                  log);
    free(log);
    stop(&d);
}
END_TEST

START_TEST(address_in_use_stops_the_daemon_naming_it)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    ck_assert(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 && listen(fd, 1) == 0);
    socklen_t len = sizeof(sin);
    getsockname(fd, (struct sockaddr *)&sin, &len);
    struct fl_daemon d;
    char extra[128], want[160];
    snprintf(extra, sizeof(extra), "metrics_listen = 127.0.0.1:%u\n", ntohs(sin.sin_port));
    snprintf(want, sizeof(want), "metrics_listen 127.0.0.1:%u: cannot listen: Address already in use",
             ntohs(sin.sin_port));
    fl_daemon_prepare(&d, NULL, extra);
    fl_daemon_start(&d); /* the milter socket may accept before the endpoint fails */
    ck_assert(fl_daemon_wait_log(&d, want, 30000));
    for (int i = 0; i < 600 && fl_daemon_alive(&d); i++)
        usleep(50 * 1000);
    ck_assert_msg(!fl_daemon_alive(&d), "the daemon runs without its endpoint");
    ck_assert_int_ne(fl_daemon_stop(&d), 0);
    fl_daemon_cleanup(&d);
    close(fd);
}
END_TEST

/* A client that sends half a request and stalls does not hold up a
   scrape: the server thread serves the connections side by side. */
START_TEST(a_stalled_client_does_not_block_a_scrape)
{
    struct fl_daemon d;
    char url[256], full[300];
    start(&d, NULL, url, sizeof(url));
    unsigned int port = (unsigned int)atoi(strrchr(url, ':') + 1);
    int stalled[4];
    for (int i = 0; i < 4; i++) {
        stalled[i] = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
        ck_assert(connect(stalled[i], (struct sockaddr *)&sin, sizeof(sin)) == 0);
        ck_assert(write(stalled[i], "GET /metr", 9) == 9);
    }
    snprintf(full, sizeof(full), "%s/metrics", url);
    long long t0 = fl_monotonic_ms();
    char *s = scrape(full);
    long long took = fl_monotonic_ms() - t0;
    ck_assert(value(s, "faultline_sessions_in_flight{}") == 0);
    ck_assert_msg(took < 5000, "the scrape waited %lld ms behind stalled clients", took);
    free(s);
    for (int i = 0; i < 4; i++)
        close(stalled[i]);
    stop(&d);
}
END_TEST

/* The golden exposition of the unit test, read by the independent parser:
   escaped label values come back as they were. */
START_TEST(golden_exposition_parses)
{
    const char *top = getenv("top_srcdir");
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/metrics/metrics.golden", top ? top : ".");
    char *s = scrape(path);
    ck_assert(value(s, "faultline_dnsbl_queries_total{kind=domain,list=dbl\"odd\\zone.example}") ==
              3);
    ck_assert(value(s, "faultline_smtp_stage_duration_seconds_bucket{le=0.0005,stage=connect}") ==
              2);
    ck_assert(value(s, "faultline_smtp_stage_duration_seconds_sum{stage=eom}") == 47.5);
    ck_assert(value(s, "faultline_dns_duration_seconds_bucket{le=0.01}") == 9);
    free(s);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("endpoint");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, counters_match_what_went_through_the_milter);
    tcase_add_test(tc, sessions_in_flight_and_reloads);
    tcase_add_test(tc, other_paths_and_methods_are_refused);
    tcase_add_test(tc, off_by_default);
    tcase_add_test(tc, address_in_use_stops_the_daemon_naming_it);
    tcase_add_test(tc, a_stalled_client_does_not_block_a_scrape);
    tcase_add_test(tc, golden_exposition_parses);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fl_test_main(metrics_suite(), NULL);
}
