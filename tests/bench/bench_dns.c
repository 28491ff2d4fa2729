/* bench_dns: benchmark of lib/dns against the hermetic test DNS server.
   Reports lookups/s for cache hits and for misses, and the latency one
   message sees when its lookups run concurrently versus one after another
   with a 50 ms delay injected on every answer.  Not a test: it prints
   figures.  Run from the build tree: top_srcdir=SRC tests/bench/bench_dns */
#include "lib/core/clock.h"
#include "lib/core/config.h"
#include "lib/dns/dns.h"
#include "tests/harness/dns_server.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct fl_dnsd dnsd;

static struct fl_dns *resolver(void)
{
    char path[] = "/tmp/fl-bench-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "dns_forwarders = %s\ndns_timeout = 5s\ndns_cache_size = 64M\n", dnsd.addr);
    fclose(f);
    struct fl_config *cfg;
    struct fl_buf err;
    fl_buf_init(&err);
    if (fl_config_load(path, &cfg, &err) < 0) {
        fprintf(stderr, "%s", err.data);
        exit(1);
    }
    unlink(path);
    fl_buf_free(&err);
    struct fl_dns *dns;
    struct fl_buf why;
    fl_buf_init(&why);
    if (fl_dns_create(cfg, &dns, &why) < 0) {
        fprintf(stderr, "fl_dns_create: %s\n", why.data);
        exit(1);
    }
    fl_buf_free(&why);
    fl_config_unref(&cfg);
    return dns;
}

/* Runs n lookups, window at a time in flight; returns lookups/s.  With
   distinct, name i is "<prefix><i>.dns.example", else prefix itself. */
static double run(struct fl_dns *dns, int n, int window, const char *prefix, int distinct)
{
    struct fl_dns_query **q = calloc((size_t)window, sizeof(*q));
    long long t0 = fl_monotonic_ms();
    int failures = 0;
    for (int done = 0; done < n; done += window) {
        int k = n - done < window ? n - done : window;
        for (int i = 0; i < k; i++) {
            char name[128];
            if (distinct)
                snprintf(name, sizeof(name), "%s%d.dns.example", prefix, done + i);
            else
                snprintf(name, sizeof(name), "%s", prefix);
            q[i] = fl_dns_start(dns, name, FL_DNS_A, 0);
        }
        for (int i = 0; i < k; i++) {
            const struct fl_dns_answer *a = fl_dns_wait(q[i]);
            if (a->status == FL_DNS_TIMEOUT || a->status == FL_DNS_SERVFAIL)
                failures++;
            fl_dns_query_free(&q[i]);
        }
    }
    long long ms = fl_monotonic_ms() - t0;
    free(q);
    if (failures)
        fprintf(stderr, "  (%d lookups failed)\n", failures);
    return ms > 0 ? n * 1000.0 / (double)ms : 0;
}

static long long message_latency(struct fl_dns *dns, bool concurrent, int lookups, int round)
{
    struct fl_dns_query *q[16];
    long long t0 = fl_monotonic_ms();
    for (int i = 0; i < lookups; i++) {
        char name[64];
        snprintf(name, sizeof(name), "r%d-%d-%d.slow.dns.example", round, concurrent, i);
        q[i] = fl_dns_start(dns, name, FL_DNS_A, 0);
        if (!concurrent) {
            fl_dns_wait(q[i]);
            fl_dns_query_free(&q[i]);
        }
    }
    for (int i = 0; concurrent && i < lookups; i++) {
        fl_dns_wait(q[i]);
        fl_dns_query_free(&q[i]);
    }
    return fl_monotonic_ms() - t0;
}

int main(void)
{
    if (fl_dnsd_start(&dnsd, NULL, "*.slow.dns.example ANY delay 50\n") < 0)
        return 1;
    struct fl_dns *dns = resolver();
    printf("lib/dns benchmark against the test DNS server (%s)\n", dnsd.addr);

    run(dns, 1, 1, "host.dns.example", 0); /* warm the cache */
    double hit1 = run(dns, 200000, 1, "host.dns.example", 0);
    double hit64 = run(dns, 200000, 64, "host.dns.example", 0);
    printf("cache hit:   %10.0f lookups/s one at a time, %10.0f with 64 in flight\n", hit1,
           hit64);
    double miss1 = run(dns, 2000, 1, "miss", 1);
    struct fl_dns *dns2 = resolver();
    double miss64 = run(dns2, 20000, 64, "wide", 1);
    fl_dns_destroy(&dns2);
    printf("cache miss:  %10.0f lookups/s one at a time, %10.0f with 64 in flight\n", miss1,
           miss64);

    const int lookups = 6; /* SPF, DKIM key, DMARC, 2 DNSBLs, PTR: a typical message */
    long long seq = 0, con = 0;
    const int rounds = 5;
    for (int r = 0; r < rounds; r++) {
        /* a fresh resolver each round: no retry timers learnt from before */
        struct fl_dns *fresh = resolver();
        seq += message_latency(fresh, false, lookups, r);
        con += message_latency(fresh, true, lookups, r);
        fl_dns_destroy(&fresh);
    }
    printf("one message, %d lookups each delayed 50 ms: %lld ms one after another, %lld ms "
           "concurrently (mean of %d)\n",
           lookups, seq / rounds, con / rounds, rounds);
    fl_dns_destroy(&dns);
    fl_dnsd_stop(&dnsd);
    return 0;
}
