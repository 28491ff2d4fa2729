/* bench_arc: what ARC costs (issue 19 item 5).  The same message -- the
   three-hop chain dkimpy seals (tests/arc/make_vectors.py): one DKIM
   signature and three ARC sets, RSA-2048 -- is sent N times through the
   real daemon with arc_enable = no and = yes, and the daemon's CPU time
   (user + system, /proc/PID/stat) per message is compared; keys come
   from the warm lib/dns cache (a warm-up round first).  The same message
   stripped of its ARC fields also goes through the arc_enable = yes
   daemon (what the three sets cost, their header fields included).
   Logging at info level, as in production; both daemons run at once and
   the three cases get alternating batches of 25 messages, so a busy
   machine weighs on them alike (the load average is printed with the
   figures).  Also the lib/arc verification alone (fl_arc_new ..
   fl_arc_eom) per message.  Not a test: it prints figures.
   Run from the build tree: top_srcdir=SRC tests/bench/bench_arc [N] */
#include "lib/arc/arc.h"
#include "lib/arc/arc_keys.h"
#include "lib/core/clock.h"
#include "lib/core/config.h"
#include "lib/dns/dns.h"
#include "tests/dkim/corpus.h"
#include "tests/harness/dns_server.h"
#include "tests/protocol/daemon.h"
#include "tests/protocol/session.h"
#include "tests/harness/test_util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static char vectors[PATH_MAX];

/* The daemon's CPU seconds so far. */
static double cpu_of(pid_t pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long utime = 0, stime = 0;
    /* fields after the comm: state(3) ... utime(14) stime(15) */
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) !=
            2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* One session (fl_test_run without Check). */
static void send_one(struct fl_daemon *d, const char *text)
{
    struct fl_mc_message *msg;
    const char *err;
    if (fl_mc_message_parse(text, strlen(text), &msg, &err) != 0) {
        fprintf(stderr, "bench_arc: parse: %s\n", err);
        exit(1);
    }
    struct fl_mc *mc = fl_mc_create(NULL);
    const char *rcpts[] = {"rcpt@example.net", NULL};
    struct fl_mc_envelope e = {.client_addr = "192.0.2.2", .client_port = 41000,
                               .helo = "host.dns.example",
                               .sender = "list-bounces@lists.arc.example", .rcpts = rcpts,
                               .queue_id = "4QBENCH"};
    struct fl_mc_session s;
    memset(&s, 0, sizeof(s));
    if (fl_mc_run_session(mc, d->socket, &e, msg, &s, &err) != 0) {
        fprintf(stderr, "bench_arc: session failed: %s\n", err);
        exit(1);
    }
    fl_mc_session_clear(&s);
    fl_mc_destroy(&mc);
    fl_mc_message_free(&msg);
}

static void daemon_open(struct fl_daemon *d, bool arc)
{
    fl_daemon_prepare(d, NULL, NULL);
    char conf[2048];
    snprintf(conf, sizeof(conf),
             "socket = %s\nuser =\nlog = stderr\nlog_level = info\n"
             "authserv_id = mx.faultline.example\nverdict_log = %s\npidfile = %s\n"
             "%sarc_enable = %s\n",
             d->socket, d->verdicts, d->pidfile, fl_daemon_dns_conf(), arc ? "yes" : "no");
    fl_daemon_write_conf(d, NULL, conf, false);
    if (fl_daemon_start(d) != 0)
        exit(1);
}

/* msg without its ARC-Seal, ARC-Message-Signature and
   ARC-Authentication-Results fields (folded lines included). */
static char *strip_arc(const char *msg)
{
    size_t len = strlen(msg);
    char *out = malloc(len + 1), *o = out;
    const char *p = msg, *body = strstr(msg, "\r\n\r\n");
    bool skip = false;
    while (p < body + 2) {
        const char *eol = strstr(p, "\r\n") + 2;
        if (*p != ' ' && *p != '\t')
            skip = strncasecmp(p, "ARC-", 4) == 0;
        if (!skip) {
            memcpy(o, p, (size_t)(eol - p));
            o += eol - p;
        }
        p = eol;
    }
    strcpy(o, p);
    return out;
}

/* Both daemons run at once and get alternating batches, so a busy
   machine weighs on both alike; returns the CPU seconds per message of
   the message through arc_enable = no (cpu_r[0]) and = yes (cpu_r[1]),
   and of the message without its ARC sets through arc_enable = yes
   (cpu_r[2]). */
static void daemon_cpu_per_msg(const char *msg, int n, double cpu_r[3])
{
    struct fl_daemon d[2];
    char *bare = strip_arc(msg);
    daemon_open(&d[0], false);
    daemon_open(&d[1], true);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 20; i++) /* warm the caches */
            send_one(&d[k], msg);
    double total[3] = {0, 0, 0};
    int batch = 25, sent = 0;
    while (sent < n) {
        for (int k = 0; k < 3; k++) {
            struct fl_daemon *dk = &d[k == 0 ? 0 : 1];
            double c0 = cpu_of(dk->pid);
            for (int i = 0; i < batch; i++)
                send_one(dk, k == 2 ? bare : msg);
            total[k] += cpu_of(dk->pid) - c0;
        }
        sent += batch;
    }
    for (int k = 0; k < 3; k++)
        cpu_r[k] = total[k] / sent;
    for (int k = 0; k < 2; k++) {
        fl_daemon_stop(&d[k]);
        fl_daemon_cleanup(&d[k]);
    }
    free(bare);
}

/* The load average, for the figures' context. */
static void print_load(const char *when)
{
    double l[3];
    if (getloadavg(l, 3) == 3)
        printf("load average %s: %.2f %.2f %.2f\n", when, l[0], l[1], l[2]);
}

static void header_cb(void *arg, const char *name, const char *value)
{
    fl_arc_header(arg, name, value);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 500;
    struct fl_dnsd dnsd;
    if (fl_test_corpus_make("tests/arc/make_vectors.py", vectors, sizeof(vectors)) != 0)
        return 1;
    char zones[PATH_MAX + 96];
    snprintf(zones, sizeof(zones), "dns.example.zone example.zone 2.0.192.in-addr.arpa.zone %s/zones",
             vectors);
    if (fl_dnsd_start(&dnsd, zones, NULL) != 0)
        return 1;
    fl_daemon_use_dns(dnsd.addr);
    size_t len;
    char *msg = fl_dkim_corpus_read(vectors, "three_hop", &len);

    /* lib/arc alone */
    char path[] = "/tmp/fl-bench-arc-XXXXXX";
    FILE *f = fdopen(mkstemp(path), "w");
    fprintf(f, "%s", fl_daemon_dns_conf());
    fclose(f);
    struct fl_config *cfg;
    struct fl_buf errors;
    fl_buf_init(&errors);
    struct fl_dns *dns;
    struct fl_buf why;
    fl_buf_init(&why);
    if (fl_config_load(path, &cfg, &errors) != 0 || fl_dns_create(cfg, &dns, &why) != 0)
        return 1;
    fl_buf_free(&why);
    unlink(path);
    struct fl_arc_keys *keys = fl_arc_keys_new(); /* the daemon's, one per process */
    long long t0 = 0;
    int iters = 0;
    struct timespec c0, c1;
    for (int round = 0; round < 2; round++) {
        t0 = fl_monotonic_ms();
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
        iters = 0;
        do {
            struct fl_arc *a = fl_arc_new(dns, keys, 0, 0);
            size_t body = fl_test_headers(msg, len, header_cb, a);
            fl_arc_eoh(a);
            fl_arc_body(a, (const unsigned char *)msg + body, len - body);
            struct fl_result r;
            fl_arc_eom(a, NULL, &r);
            if (r.result != FL_RES_PASS) {
                fprintf(stderr, "bench_arc: arc=%s %s\n", fl_res_name(r.result), r.reason);
                return 1;
            }
            fl_result_clear(&r);
            fl_arc_free(&a);
            iters++;
        } while (fl_monotonic_ms() - t0 < 1500);
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    double lib_us = (double)(fl_monotonic_ms() - t0) * 1000.0 / iters;
    double cpu_us = ((double)(c1.tv_sec - c0.tv_sec) * 1e6 +
                     (double)(c1.tv_nsec - c0.tv_nsec) / 1e3) / iters;
    printf("lib/arc: three ARC sets (6 RSA-2048 verifications), %zu-byte message: "
           "%.0f us wall, %.0f us CPU (all threads) per message (%d messages)\n",
           len, lib_us, cpu_us, iters);
    fl_dns_destroy(&dns);
    fl_arc_keys_free(&keys);
    fl_config_unref(&cfg);

    if (n <= 0) { /* bench_arc 0: the library figure only */
        free(msg);
        fl_dnsd_stop(&dnsd);
        fl_dkim_corpus_remove(vectors);
        return 0;
    }
    double cpu[3];
    print_load("before");
    daemon_cpu_per_msg(msg, n, cpu);
    print_load("after");
    printf("daemon CPU per message, %d messages: arc_enable=no %.0f us, arc_enable=yes %.0f us: "
           "%+.1f%%\n",
           n, cpu[0] * 1e6, cpu[1] * 1e6, (cpu[1] - cpu[0]) / cpu[0] * 100.0);
    printf("the same message without its ARC sets, arc_enable=yes: %.0f us (the sets cost "
           "%+.1f%%)\n",
           cpu[2] * 1e6, (cpu[1] - cpu[2]) / cpu[2] * 100.0);
    free(msg);
    fl_dnsd_stop(&dnsd);
    fl_dkim_corpus_remove(vectors);
    return 0;
}
