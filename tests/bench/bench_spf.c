/* bench_spf: benchmark of lib/spf against the hermetic test DNS server
   (tests/spf/spf.example.zone).  Reports SPF evaluations/s with a warm
   cache (one thread, and one thread per CPU), and the latency of a
   typical include-heavy record (five includes: six TXT lookups one after
   another) with 20 ms injected on every DNS answer and a cold cache.
   Not a test: it prints figures.  Run from the build tree:
     top_srcdir=SRC tests/bench/bench_spf */
#include "lib/core/clock.h"
#include "lib/core/config.h"
#include "lib/dns/dns.h"
#include "lib/spf/spf.h"
#include "tests/harness/dns_server.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct fl_dnsd dnsd;
static struct fl_config *cfg;

static struct fl_config *load_config(void)
{
    char path[] = "/tmp/fl-bench-spf-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "dns_forwarders = %s\ndns_timeout = 5s\ndns_probe_domain = spf.example\n",
            dnsd.addr);
    fclose(f);
    struct fl_config *c;
    struct fl_buf err;
    fl_buf_init(&err);
    if (fl_config_load(path, &c, &err) < 0) {
        fprintf(stderr, "%s", err.data);
        exit(1);
    }
    unlink(path);
    fl_buf_free(&err);
    return c;
}

static struct fl_dns *resolver(void)
{
    struct fl_dns *dns;
    struct fl_buf why;
    fl_buf_init(&why);
    if (fl_dns_create(cfg, &dns, &why) < 0) {
        fprintf(stderr, "fl_dns_create: %s\n", why.data);
        exit(1);
    }
    fl_buf_free(&why);
    return dns;
}

/* One evaluation; exits if the result is not the expected pass. */
static void evaluate(struct fl_dns *dns, const char *from)
{
    struct fl_spf_request req = {"192.0.2.7", "mail.spf.example", from};
    struct fl_result r;
    fl_spf_check(dns, cfg, &req, FL_SPF_MAILFROM, fl_monotonic_ms() + 10000, &r, NULL);
    if (r.result != FL_RES_PASS) {
        fprintf(stderr, "%s: unexpected %s: %s\n", from, fl_res_name(r.result),
                r.detail ? r.detail : "");
        exit(1);
    }
    fl_result_clear(&r);
}

struct job {
    struct fl_dns *dns;
    const char *from;
    int n;
};

static void *worker(void *arg)
{
    struct job *j = arg;
    for (int i = 0; i < j->n; i++)
        evaluate(j->dns, j->from);
    return NULL;
}

/* Evaluations/s with threads threads sharing one warm resolver. */
static double throughput(struct fl_dns *dns, const char *from, int threads,
                         int per_thread)
{
    pthread_t t[64];
    struct job j = {dns, from, per_thread};
    long long t0 = fl_monotonic_ms();
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, worker, &j);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    long long ms = fl_monotonic_ms() - t0;
    return ms > 0 ? (double)threads * per_thread * 1000.0 / (double)ms : 0;
}

int main(void)
{
    char zone[512];
    const char *top = getenv("top_srcdir");
    snprintf(zone, sizeof(zone), "%s/tests/spf/spf.example.zone",
             top && *top ? top : ".");
    if (fl_dnsd_start(&dnsd, zone, NULL) < 0)
        return 1;
    cfg = load_config();
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = cpus < 1 ? 1 : cpus > 64 ? 64 : (int)cpus;
    printf("lib/spf benchmark against the test DNS server (%s)\n", dnsd.addr);

    struct fl_dns *dns = resolver();
    evaluate(dns, "a@pass.spf.example"); /* warm the cache */
    evaluate(dns, "a@heavy.spf.example");
    double one = throughput(dns, "a@pass.spf.example", 1, 20000);
    double one_n = throughput(dns, "a@pass.spf.example", threads, 20000);
    printf("warm cache, 1 lookup (ip4 record):  %8.0f evaluations/s on 1 thread, "
           "%8.0f on %d threads\n",
           one, one_n, threads);
    double heavy = throughput(dns, "a@heavy.spf.example", 1, 10000);
    double heavy_n = throughput(dns, "a@heavy.spf.example", threads, 10000);
    printf("warm cache, 6 lookups (5 includes): %8.0f evaluations/s on 1 thread, "
           "%8.0f on %d threads\n",
           heavy, heavy_n, threads);
    fl_dns_destroy(&dns);

    fl_dnsd_set_faults(&dnsd, "heavy.spf.example ANY delay 20\n"
                              "*.heavy.spf.example ANY delay 20\n");
    const int rounds = 5;
    long long total = 0, best = -1, worst = 0;
    for (int r = 0; r < rounds; r++) {
        /* a fresh resolver: a cold cache, no retry timers learnt before */
        struct fl_dns *fresh = resolver();
        long long t0 = fl_monotonic_ms();
        evaluate(fresh, "a@heavy.spf.example");
        long long ms = fl_monotonic_ms() - t0;
        fl_dns_destroy(&fresh);
        total += ms;
        best = best < 0 || ms < best ? ms : best;
        worst = ms > worst ? ms : worst;
    }
    printf("cold cache, 5 includes, 20 ms per DNS answer: %lld ms per evaluation "
           "(mean of %d; min %lld, max %lld; 6 lookups in sequence: at least 120 ms)\n",
           total / rounds, rounds, best, worst);
    fl_config_unref(&cfg);
    fl_dnsd_stop(&dnsd);
    return 0;
}
