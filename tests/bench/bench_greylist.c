/* bench_greylist: benchmark of the greylist decision on both stores.
   For LMDB (in a temp dir, each greylist_lmdb_sync mode) and Redis (a
   private redis-server on loopback, tests/harness/redis_server.c) it reports
   decisions/s and the latency one RCPT sees (median and 99th percentile),
   for misses (a new triplet: deferral, three records written) and hits (a
   known triplet: accepted, its lifetime refreshed), on one thread and on
   several.  Not a test: it prints figures.
   Run from the build tree: tests/bench/bench_greylist [DECISIONS] */
#include "lib/core/clock.h"
#include "lib/core/config.h"
#include "lib/greylist/greylist.h"
#include "lib/core/log.h"
#include "tests/harness/redis_server.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define THREADS 8

static time_t bench_now;

static time_t bench_clock(void *ctx)
{
    (void)ctx;
    return __atomic_load_n(&bench_now, __ATOMIC_RELAXED);
}

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static struct fl_config *load(const char *dir, const char *settings)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/bench.conf", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    fprintf(f,
            "greylist_enable = yes\ngreylist_lmdb_dir = %s/store\n"
            "greylist_lmdb_map_size = 1G\ngreylist_auto_allow = 0\n%s\n",
            dir, settings);
    fclose(f);
    struct fl_config *cfg;
    struct fl_buf err;
    fl_buf_init(&err);
    if (fl_config_load(path, &cfg, &err) < 0) {
        fprintf(stderr, "%s", err.data);
        exit(1);
    }
    fl_buf_free(&err);
    return cfg;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

struct run {
    struct fl_greylist *gl;
    const struct fl_config *cfg;
    int first, count; /* triplet numbers */
    int want;         /* 0 defer, 1 pass */
    long long *lat;   /* per decision, us */
    int errors;
};

static void *run_decisions(void *arg)
{
    struct run *r = arg;
    for (int i = 0; i < r->count; i++) {
        char sender[64];
        snprintf(sender, sizeof(sender), "sender%c%c%c%c@example.org",
                 'a' + (r->first + i) % 26, 'a' + (r->first + i) / 26 % 26,
                 'a' + (r->first + i) / 676 % 26, 'a' + (r->first + i) / 17576 % 26);
        struct fl_greylist_query q = {
            .client_ip = "192.0.2.10", .sender = sender, .rcpt = "rcpt@example.net"};
        struct fl_greylist_decision d;
        long long t0 = now_us();
        int rc = fl_greylist_decide(r->gl, r->cfg, &q, &d);
        r->lat[i] = now_us() - t0;
        if (rc != r->want)
            r->errors++;
    }
    return NULL;
}

/* n decisions over triplets [0, n) on nthreads threads; prints a line. */
static void measure(const char *store, const char *what, struct fl_greylist *gl,
                    const struct fl_config *cfg, int n, int nthreads, int want)
{
    long long *lat = calloc((size_t)n, sizeof(*lat));
    struct run runs[THREADS];
    pthread_t tid[THREADS];
    int per = n / nthreads;
    long long t0 = now_us();
    for (int t = 0; t < nthreads; t++) {
        runs[t] =
            (struct run){gl, cfg, t * per, per, want, lat + (size_t)t * (size_t)per, 0};
        pthread_create(&tid[t], NULL, run_decisions, &runs[t]);
    }
    int errors = 0;
    for (int t = 0; t < nthreads; t++) {
        pthread_join(tid[t], NULL);
        errors += runs[t].errors;
    }
    double secs = (double)(now_us() - t0) / 1e6;
    int done = per * nthreads;
    qsort(lat, (size_t)done, sizeof(*lat), cmp_ll);
    printf(
        "%-16s %-5s %2d thread%s %9.0f decisions/s   median %6lld us   p99 %6lld us%s\n",
        store, what, nthreads, nthreads == 1 ? " " : "s", done / secs, lat[done / 2],
        lat[done * 99 / 100], errors ? "   (unexpected outcomes!)" : "");
    free(lat);
}

static void bench_store(const char *label, const struct fl_config *cfg, int n)
{
    struct fl_greylist *gl;
    struct fl_buf err;
    fl_buf_init(&err);
    struct fl_clock clock = {bench_clock, NULL};
    if (fl_greylist_open(cfg, &clock, 0, &gl, &err) < 0) {
        fprintf(stderr, "%s\n", err.data);
        exit(1);
    }
    fl_buf_free(&err);
    bench_now = 1767225600;
    measure(label, "miss", gl, cfg, n, 1, 0); /* triplets 0..n first seen */
    __atomic_store_n(&bench_now, bench_now + 600, __ATOMIC_RELAXED);
    measure(label, "retry", gl, cfg, n, 1, 1); /* their retries accepted */
    measure(label, "hit", gl, cfg, n, 1, 1);   /* known triplets */
    measure(label, "hit", gl, cfg, n, THREADS, 1);
    __atomic_store_n(&bench_now, bench_now + 60 * 86400,
                     __ATOMIC_RELAXED); /* all expired */
    measure(label, "miss", gl, cfg, n, THREADS, 0);
    fl_greylist_close(&gl);
}

static void remove_tree(const char *dir)
{
    DIR *dh = opendir(dir);
    if (dh == NULL)
        return;
    struct dirent *e;
    char path[1024];
    while ((e = readdir(dh)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= sizeof(path))
            continue;
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            remove_tree(path);
        else
            unlink(path);
    }
    closedir(dh);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 20000;
    if (n < THREADS * 10)
        n = THREADS * 10;
    n -= n % THREADS;
    fl_log_open("bench_greylist", "stderr", FL_LOG_ERROR);
    char dir[] = "/tmp/fl-bench-gl-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    printf("greylist decisions, %d per run; LMDB in %s\n", n, dir);
    static const char *const modes[] = {"full", "meta", "none"};
    for (size_t m = 0; m < 3; m++) {
        char settings[128], label[32];
        snprintf(settings, sizeof(settings), "greylist_lmdb_sync = %s", modes[m]);
        snprintf(label, sizeof(label), "lmdb sync=%s", modes[m]);
        struct fl_config *cfg = load(dir, settings);
        bench_store(label, cfg, n);
        fl_config_unref(&cfg);
        char store[600];
        snprintf(store, sizeof(store), "%s/store", dir);
        remove_tree(store);
    }
    struct fl_redisd redisd;
    if (!fl_redisd_available() || fl_redisd_start(&redisd) < 0) {
        printf("redis: redis-server not available, skipped\n");
    } else {
        char settings[512];
        snprintf(settings, sizeof(settings),
                 "greylist_store = redis\ngreylist_redis_server = %s\n"
                 "greylist_redis_pool_size = %d",
                 redisd.addr, THREADS);
        struct fl_config *cfg = load(dir, settings);
        bench_store("redis tcp", cfg, n);
        fl_config_unref(&cfg);
        snprintf(settings, sizeof(settings),
                 "greylist_store = redis\ngreylist_redis_server = unix:%s\n"
                 "greylist_redis_pool_size = %d\ngreylist_redis_prefix = u:",
                 redisd.socket, THREADS);
        cfg = load(dir, settings);
        bench_store("redis unix", cfg, n);
        fl_config_unref(&cfg);
        fl_redisd_stop(&redisd);
    }
    remove_tree(dir);
    return 0;
}
