/* bench_dnsbl: the latency lib/dnsbl adds to one connection -- start the
   queries of every list at connect, finish (wait and score) -- with 3 and
   10 IP lists, TXT fetched or not, against the hermetic test DNS server.
   Cold: every connection is a new client address (every answer a cache
   miss); warm: the same address again (every answer from the cache).
   "+20 ms" injects a 20 ms delay on every list answer, a typical round
   trip to a list's servers: the lists are asked in parallel, so it costs
   one delay, not one per list.  Not a test: it prints figures.
   Run from the build tree: top_srcdir=SRC tests/bench/bench_dnsbl */
#include "lib/core/clock.h"
#include "lib/core/config.h"
#include "lib/dns/dns.h"
#include "lib/lists/dnsbl.h"
#include "tests/harness/dns_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct fl_dnsd dnsd;

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

static void setup(int nlists, bool txt, struct fl_config **cfg_r, struct fl_dns **dns_r,
                  struct fl_dnsbl_lists **lists_r)
{
    char path[] = "/tmp/fl-bench-dnsbl-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fprintf(f,
            "dns_forwarders = %s\ndns_timeout = 5s\ndns_cache_size = "
            "64M\ndnsbl_fetch_txt = %s\ndnsbl_sites =",
            dnsd.addr, txt ? "yes" : "no");
    for (int i = 0; i < nlists; i++)
        fprintf(f, " b%d.dnsbl.example", i);
    fprintf(f, "\n");
    fclose(f);
    struct fl_buf err;
    fl_buf_init(&err);
    struct fl_buf why;
    fl_buf_init(&why);
    if (fl_config_load(path, cfg_r, &err) < 0 ||
        fl_dnsbl_lists_create(*cfg_r, lists_r, &err) < 0) {
        fprintf(stderr, "%s", err.data);
        exit(1);
    }
    unlink(path);
    fl_buf_free(&err);
    if (fl_dns_create(*cfg_r, dns_r, &why) < 0) {
        fprintf(stderr, "fl_dns_create: %s\n", why.data);
        exit(1);
    }
    fl_buf_free(&why);
}

/* Runs n connections one after another; prints mean, p50, p99 in ms. */
static void run(const char *label, int nlists, bool txt, bool warm, int n)
{
    struct fl_config *cfg;
    struct fl_dns *dns;
    struct fl_dnsbl_lists *lists;
    setup(nlists, txt, &cfg, &dns, &lists);
    static unsigned int next_client = 1;
    double *us = calloc((size_t)n, sizeof(*us));
    int failed = 0;
    for (int i = -1; i < n; i++) {
        char ip[32];
        unsigned int c = warm ? 0 : next_client++;
        snprintf(ip, sizeof(ip), "10.%u.%u.%u", (c >> 16) & 0xff, (c >> 8) & 0xff,
                 c & 0xff);
        double t0 = now_us();
        struct fl_dnsbl *bl = fl_dnsbl_start(lists, dns, ip, fl_monotonic_ms() + 5000);
        const struct fl_dnsbl_outcome *o = fl_dnsbl_finish(bl, 0);
        for (size_t k = 0; k < o->nchecks; k++)
            failed += o->checks[k].status != FL_DNSBL_NOT_LISTED;
        fl_dnsbl_free(&bl);
        if (i >= 0) /* the first one warms the cache or the resolver */
            us[i] = now_us() - t0;
    }
    qsort(us, (size_t)n, sizeof(*us), cmp_double);
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += us[i];
    printf("%-8s %2d lists  txt %-3s  %-4s  %8.3f ms mean  %8.3f p50  %8.3f p99  (%d "
           "conns%s)\n",
           label, nlists, txt ? "yes" : "no", warm ? "warm" : "cold", sum / n / 1000.0,
           us[n / 2] / 1000.0, us[n * 99 / 100] / 1000.0, n,
           failed ? ", SOME FAILED" : "");
    free(us);
    fl_dnsbl_lists_unref(&lists);
    fl_dns_destroy(&dns);
    fl_config_unref(&cfg);
}

int main(void)
{
    if (fl_dnsd_start(&dnsd, "dnsbl.example.zone", NULL) < 0)
        return 1;
    printf(
        "lib/dnsbl: latency added per connection (start at connect + finish), test DNS "
        "server %s\n",
        dnsd.addr);
    static const int nlists[] = {3, 10};
    for (size_t k = 0; k < 2; k++) {
        for (int txt = 1; txt >= 0; txt--) {
            run("local", nlists[k], txt, false, 500);
            run("local", nlists[k], txt, true, 5000);
        }
    }
    fl_dnsd_set_faults(&dnsd, "*.dnsbl.example ANY delay 20\n");
    for (size_t k = 0; k < 2; k++)
        for (int txt = 1; txt >= 0; txt--)
            run("+20 ms", nlists[k], txt, false, 100);
    fl_dnsd_stop(&dnsd);
    return 0;
}
