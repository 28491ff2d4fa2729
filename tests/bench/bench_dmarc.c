/* bench_dmarc: the cost DMARC adds to one message -- fl_dmarc_eoh (From
   parsing, starting the tree walk) plus fl_dmarc_eom (waiting, alignment,
   policy) -- and the DNS queries a tree walk costs for typical From
   domains, against the hermetic test DNS server (tests/dns/zones/
   dmarc.example.zone, rfc9989.example.zone).
   cold: a new resolver for every message (every answer a cache miss; the
         resolver's creation is not timed);
   new:  one resolver, a new author subdomain per message (its own names
         miss, the parents' answers are cached) -- the usual case;
   warm: the same author again (every answer from the cache);
   +20 ms: a 20 ms delay on every answer, a typical round trip: the walk's
         queries overlap, so a walk costs about one round trip, not one
         per query.
   Not a test: it prints figures.
   Run from the build tree: top_srcdir=SRC tests/bench/bench_dmarc */
#include "lib/core/clock.h"
#include "lib/core/config.h"
#include "lib/dmarc/dmarc.h"
#include "lib/dns/dns.h"
#include "tests/harness/dns_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct fl_dnsd dnsd;
static struct fl_config *cfg;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static struct fl_dns *new_dns(void)
{
    struct fl_dns *dns;
    struct fl_buf why;
    fl_buf_init(&why);
    if (fl_dns_create(cfg, &dns, &why) < 0) {
        fprintf(stderr, "bench_dmarc: %s\n", why.data);
        exit(1);
    }
    fl_buf_free(&why);
    return dns;
}

/* One message from author; returns microseconds in DMARC, and the
   result and queries. */
static double message(struct fl_dns *dns, const char *author, const char *dkim_d,
                      enum fl_res *res_r, unsigned int *queries_r)
{
    char from[300];
    snprintf(from, sizeof(from), "Someone <someone@%s>", author);
    struct fl_dkim_signature sig = {dkim_d, "s1", "", "rsa-sha256", FL_RES_PASS, true, NULL};
    struct fl_result spf, out;
    fl_result_init(&spf, "spf", FL_RES_PASS);
    struct fl_dmarc_inputs in = {&spf, "bounces.example.net", &sig, dkim_d ? 1 : 0, NULL};
    double t0 = now_us();
    struct fl_dmarc *d = fl_dmarc_new(dns, cfg, fl_monotonic_ms() + 5000);
    fl_dmarc_from_header(d, from);
    fl_dmarc_eoh(d);
    fl_dmarc_eom(d, &in, &out);
    double us = now_us() - t0;
    *res_r = out.result;
    *queries_r = fl_dmarc_report(d)->dns_queries;
    fl_result_clear(&out);
    fl_result_clear(&spf);
    fl_dmarc_free(&d);
    return us;
}

enum mode { COLD, NEW, WARM };

static void run(const char *label, enum mode mode, int n)
{
    double *us = calloc((size_t)n, sizeof(double));
    double sum = 0;
    unsigned int queries = 0;
    int failed = 0;
    struct fl_dns *dns = mode == COLD ? NULL : new_dns();
    if (mode == WARM) { /* fill the cache */
        enum fl_res res;
        message(dns, "mail.reject.dmarc.example", "reject.dmarc.example", &res, &queries);
    }
    for (int i = 0; i < n; i++) {
        char author[128];
        if (mode == WARM)
            snprintf(author, sizeof(author), "mail.reject.dmarc.example");
        else
            snprintf(author, sizeof(author), "m%d.reject.dmarc.example", i);
        if (mode == COLD)
            dns = new_dns();
        enum fl_res res;
        us[i] = message(dns, author, "reject.dmarc.example", &res, &queries);
        sum += us[i];
        failed += res != FL_RES_PASS;
        if (mode == COLD)
            fl_dns_destroy(&dns);
    }
    qsort(us, (size_t)n, sizeof(double), cmp_double);
    static const char *const names[] = {"cold", "new", "warm"};
    printf("%-7s %-4s  %8.3f ms mean  %8.3f p50  %8.3f p99  (%d messages, %u queries "
           "each%s)\n",
           label, names[mode], sum / n / 1000.0, us[n / 2] / 1000.0, us[n * 99 / 100] / 1000.0,
           n, queries, failed ? ", SOME FAILED" : "");
    free(us);
    fl_dns_destroy(&dns);
}

static void count(const char *what, const char *author, const char *dkim_d)
{
    struct fl_dns *dns = new_dns();
    enum fl_res res;
    unsigned int queries;
    message(dns, author, dkim_d, &res, &queries);
    printf("  %-58s %-40s %2u queries  dmarc=%s\n", what, author, queries, fl_res_name(res));
    fl_dns_destroy(&dns);
}

int main(void)
{
    if (fl_dnsd_start(&dnsd, "dmarc.example.zone rfc9989.example.zone",
                      "_dmarc.example TXT nxdomain\n") < 0)
        return 1;
    char path[] = "/tmp/fl-bench-dmarc-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "dns_forwarders = %s\ndns_timeout = 5s\ndns_cache_size = 64M\n"
               "dns_probe_domain = dmarc.example\n", dnsd.addr);
    fclose(f);
    struct fl_buf err;
    fl_buf_init(&err);
    if (fl_config_load(path, &cfg, &err) < 0) {
        fprintf(stderr, "%s", err.data);
        return 1;
    }
    unlink(path);
    fl_buf_free(&err);

    printf("lib/dmarc: cost per message (eoh + eom), author m<N>.reject.dmarc.example, DKIM "
           "d=reject.dmarc.example (relaxed), test DNS server %s\n", dnsd.addr);
    run("local", COLD, 200);
    run("local", NEW, 2000);
    run("local", WARM, 20000);
    fl_dnsd_set_faults(&dnsd, "_dmarc.example TXT nxdomain\n*.dmarc.example ANY delay 20\n");
    run("+20 ms", COLD, 50);
    run("+20 ms", NEW, 100);
    fl_dnsd_set_faults(&dnsd, "_dmarc.example TXT nxdomain\n");

    printf("\nDNS queries per message (tree walk + author existence + identifier walks), "
           "fresh cache:\n");
    count("From example.com, record there, DKIM d= itself", "rfc9989.example",
          "rfc9989.example");
    count("From example.com, DKIM d=signing.example.com (relaxed)", "rfc9989.example",
          "signing.rfc9989.example");
    count("From news.example.com, record at example.com", "child.rfc9989.example",
          "rfc9989.example");
    count("From a.b.c.example.com (5 labels)", "a.b.c.rfc9989.example", "rfc9989.example");
    count("From a 11-label domain (walk capped at 8)", "a.b.c.d.e.f.g.h.deep.dmarc.example",
          "deep.dmarc.example");
    count("From a domain without DMARC", "nodmarc.dmarc.example", NULL);
    fl_config_unref(&cfg);
    fl_dnsd_stop(&dnsd);
    return 0;
}
