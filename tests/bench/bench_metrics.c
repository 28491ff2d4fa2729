/* bench_metrics: what counting costs on the message path, and what a
   scrape costs.  One "message" is what the daemon counts per message: a
   verdict with 4 results (fl_metrics_message) and 9 stage timings
   (fl_metrics_stage).  Measured with 1, 2 and 8 threads counting at once,
   against the same counts under one process-wide mutex (what a naive
   counter would do).  Then the time to build the exposition.  Not a
   test: it prints figures.  Run: tests/bench/bench_metrics */
#include "lib/core/buf.h"
#include "lib/metrics/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MESSAGES 200000

static pthread_mutex_t naive_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long long naive[512];

struct job {
    struct fl_metrics *m;
    int naive;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *count(void *arg)
{
    const struct job *j = arg;
    struct fl_verdict v = {.action = FL_ACTION_ACCEPT, .fault = FL_FAULT_NONE};
    struct fl_result r[4];
    memset(r, 0, sizeof(r));
    const char *methods[] = {"spf", "dkim", "dmarc", "iprev"};
    for (int i = 0; i < 4; i++) {
        r[i].method = (char *)methods[i];
        r[i].result = FL_RES_PASS;
    }
    for (int n = 0; n < MESSAGES; n++) {
        if (j->naive) {
            for (int k = 0; k < 13; k++) {
                pthread_mutex_lock(&naive_lock);
                naive[(n + k) & 511]++;
                pthread_mutex_unlock(&naive_lock);
            }
            continue;
        }
        fl_metrics_message(j->m, &v, r, 4);
        for (int s = 0; s < 9; s++)
            fl_metrics_stage(j->m, (enum fl_metrics_stage)s, 120 + n % 1000);
    }
    return NULL;
}

static double run(int threads, int use_naive)
{
    struct fl_metrics *m = fl_metrics_create(0);
    struct job j = {m, use_naive};
    pthread_t t[8];
    double t0 = now_s();
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, count, &j);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    double el = now_s() - t0;
    fl_metrics_destroy(&m);
    return el * 1e9 / ((double)MESSAGES * threads); /* ns per message, wall */
}

int main(void)
{
    printf("counting one message (4 results + 9 stage timings), ns per message (wall):\n");
    printf("%-8s %14s %18s\n", "threads", "sharded", "one mutex");
    for (int threads = 1; threads <= 8; threads *= 2) {
        if (threads == 4)
            continue;
        printf("%-8d %14.0f %18.0f\n", threads, run(threads, 0), run(threads, 1));
    }
    struct fl_metrics *m = fl_metrics_create(0);
    struct fl_dns_stats dns;
    memset(&dns, 0, sizeof(dns));
    struct fl_dnsbl_list_stats lists[10];
    memset(lists, 0, sizeof(lists));
    for (int i = 0; i < 10; i++)
        lists[i].zone = "zen.example";
    struct fl_metrics_env env = {.version = "x", .dns = &dns, .lists = lists, .nlists = 10};
    int rounds = 2000;
    size_t bytes = 0;
    double t0 = now_s();
    for (int i = 0; i < rounds; i++) {
        struct fl_buf out;
        fl_buf_init(&out);
        fl_metrics_expose(m, &env, &out);
        bytes = out.len;
        fl_buf_free(&out);
    }
    printf("exposition with 10 DNS lists: %.1f us, %zu bytes\n",
           (now_s() - t0) * 1e6 / rounds, bytes);
    fl_metrics_destroy(&m);
    return 0;
}
