/* server: see server.h. */
#include "milter/server.h"
#include "milter/metrics_http.h"
#include "lib/clock.h"
#include "lib/log.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct fl_server fl_srv;

static pthread_mutex_t cfg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fl_config *current;
static struct fl_dnsbl_lists *current_lists;

static pthread_mutex_t verdict_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *verdict_fp;
static char *verdict_path;

static pthread_mutex_t session_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t session_idle = PTHREAD_COND_INITIALIZER;
static int sessions;

void fl_server_set_snapshot(struct fl_config *cfg, struct fl_dnsbl_lists *lists)
{
    pthread_mutex_lock(&cfg_lock);
    struct fl_config *old = current;
    struct fl_dnsbl_lists *old_lists = current_lists;
    current = cfg;
    current_lists = lists;
    pthread_mutex_unlock(&cfg_lock);
    fl_config_unref(&old);
    fl_dnsbl_lists_unref(&old_lists);
}

void fl_server_set_config(struct fl_config *cfg)
{
    fl_server_set_snapshot(cfg, NULL);
}

int fl_server_build_lists(const struct fl_config *cfg, struct fl_dnsbl_lists **lists_r)
{
    struct fl_buf errors;
    fl_buf_init(&errors);
    int rc = fl_dnsbl_lists_create(cfg, lists_r, &errors);
    if (rc < 0)
        fl_error("DNS lists: %s", errors.data);
    fl_buf_free(&errors);
    return rc;
}

struct fl_dnsbl_lists *fl_server_dnsbl_lists(void)
{
    pthread_mutex_lock(&cfg_lock);
    struct fl_dnsbl_lists *l = current_lists ? fl_dnsbl_lists_ref(current_lists) : NULL;
    pthread_mutex_unlock(&cfg_lock);
    return l;
}

struct fl_config *fl_server_config(void)
{
    pthread_mutex_lock(&cfg_lock);
    struct fl_config *cfg = fl_config_ref(current);
    pthread_mutex_unlock(&cfg_lock);
    return cfg;
}

void fl_server_apply_log(const struct fl_config *cfg)
{
    const char *target = cfg->log;
    if (strcmp(target, "auto") == 0)
        target = fl_srv.foreground ? "stderr" : "mail";
    fl_log_open("faultline", target, (enum fl_log_level)cfg->log_level);
}

int fl_server_reload(void)
{
    struct fl_config *cfg;
    struct fl_buf errors;
    fl_buf_init(&errors);
    if (fl_config_load(fl_srv.config_path, &cfg, &errors) < 0) {
        char *save, *line = strtok_r(errors.data, "\n", &save);
        for (; line; line = strtok_r(NULL, "\n", &save))
            fl_error("reload: %s", line);
        fl_error("reload: configuration has errors; keeping the running configuration");
        fl_buf_free(&errors);
        return -1;
    }
    struct fl_dnsbl_lists *lists;
    if (fl_server_build_lists(cfg, &lists) < 0) {
        fl_error("reload: keeping the running configuration");
        fl_config_unref(&cfg);
        fl_buf_free(&errors);
        return -1;
    }
    struct fl_config *old = fl_server_config();
    fl_buf_reset(&errors);
    fl_config_restart_changes(old, cfg, &errors);
    char *save, *line = strtok_r(errors.data, "\n", &save);
    for (; line; line = strtok_r(NULL, "\n", &save))
        fl_warn("reload: %s", line);
    fl_buf_free(&errors);
    fl_server_apply_log(cfg);
    fl_server_open_verdict_log(cfg);
    if (cfg->greylist_enable && __atomic_load_n(&fl_srv.greylist, __ATOMIC_ACQUIRE) == NULL) {
        /* greylisting switched on by this reload: open its store now */
        struct fl_greylist *gl = NULL;
        struct fl_buf err;
        fl_buf_init(&err);
        if (fl_greylist_open(cfg, NULL, 0, &gl, &err) < 0)
            fl_error("reload: greylist store: %s; greylisting fails open (accepts)", err.data);
        else
            __atomic_store_n(&fl_srv.greylist, gl, __ATOMIC_RELEASE);
        fl_buf_free(&err);
    }
    fl_server_set_snapshot(cfg, lists);
    fl_info("configuration reloaded from %s", fl_srv.config_path ? fl_srv.config_path
                                                                  : "(embedded defaults)");
    fl_config_unref(&old);
    return 0;
}

int fl_server_open_verdict_log(const struct fl_config *cfg)
{
    FILE *fp = NULL;
    const char *path = cfg->verdict_log;
    if (strcmp(path, "-") == 0) {
        fp = stdout;
    } else if (*path != '\0') {
        fp = fopen(path, "a");
        if (fp == NULL) {
            fl_error("verdict_log %s: cannot open: %s; keeping the previous one", path,
                     strerror(errno));
            return -1;
        }
    }
    if (fp != NULL)
        setvbuf(fp, NULL, _IOLBF, 0);
    pthread_mutex_lock(&verdict_lock);
    if (verdict_fp != NULL && verdict_fp != stdout)
        fclose(verdict_fp);
    verdict_fp = fp;
    free(verdict_path);
    verdict_path = *path ? strdup(path) : NULL;
    pthread_mutex_unlock(&verdict_lock);
    return 0;
}

void fl_server_chown_verdict_log(unsigned int uid, unsigned int gid)
{
    pthread_mutex_lock(&verdict_lock);
    if (verdict_fp != NULL && verdict_fp != stdout && fchown(fileno(verdict_fp), uid, gid) < 0)
        fl_warn("verdict_log %s: cannot change owner: %s", verdict_path, strerror(errno));
    pthread_mutex_unlock(&verdict_lock);
}

void fl_server_write_verdict(const char *line)
{
    pthread_mutex_lock(&verdict_lock);
    if (verdict_fp != NULL) {
        if (fprintf(verdict_fp, "%s\n", line) < 0 || fflush(verdict_fp) != 0)
            fl_error("verdict_log %s: write failed: %s", verdict_path ? verdict_path : "-",
                     strerror(errno));
    }
    pthread_mutex_unlock(&verdict_lock);
}

void fl_server_session_begin(void)
{
    pthread_mutex_lock(&session_lock);
    sessions++;
    pthread_mutex_unlock(&session_lock);
}

void fl_server_session_end(void)
{
    pthread_mutex_lock(&session_lock);
    if (--sessions == 0)
        pthread_cond_broadcast(&session_idle);
    pthread_mutex_unlock(&session_lock);
}

int fl_server_wait_idle(long long timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&session_lock);
    while (sessions > 0)
        if (pthread_cond_timedwait(&session_idle, &session_lock, &ts) == ETIMEDOUT)
            break;
    int left = sessions;
    pthread_mutex_unlock(&session_lock);
    return left;
}

void fl_server_teardown(void)
{
    fl_metrics_http_stop(&fl_srv.metrics_http); /* it reads what follows */
    fl_pool_destroy(&fl_srv.pool);
    fl_greylist_close(&fl_srv.greylist);
    fl_dkim_ctx_destroy(&fl_srv.dkim);
    fl_dns_destroy(&fl_srv.dns);
    pthread_mutex_lock(&verdict_lock);
    if (verdict_fp != NULL && verdict_fp != stdout)
        fclose(verdict_fp);
    verdict_fp = NULL;
    free(verdict_path);
    verdict_path = NULL;
    pthread_mutex_unlock(&verdict_lock);
    fl_server_set_config(NULL);
}

int fl_server_sessions(void)
{
    pthread_mutex_lock(&session_lock);
    int n = sessions;
    pthread_mutex_unlock(&session_lock);
    return n;
}

/* Rewrites stats_file (atomically: a temp file renamed over it). */
static void write_stats(const struct fl_config *cfg)
{
    static bool warned;
    if (*cfg->stats_file == '\0')
        return;
    json_t *o = json_object();
    json_object_set_new(o, "time", json_integer((json_int_t)time(NULL)));
    json_object_set_new(o, "pid", json_integer((json_int_t)getpid()));
    pthread_mutex_lock(&session_lock);
    json_object_set_new(o, "sessions", json_integer(sessions));
    pthread_mutex_unlock(&session_lock);
    if (fl_srv.dns != NULL) {
        struct fl_dns_stats st;
        fl_dns_stats(fl_srv.dns, &st);
        json_t *d = json_object();
        json_object_set_new(d, "queries", json_integer((json_int_t)st.queries));
        json_object_set_new(d, "answered_fast", json_integer((json_int_t)st.answered_fast));
        json_t *status = json_object();
        for (int i = FL_DNS_OK; i <= FL_DNS_LOCAL; i++)
            json_object_set_new(status, fl_dns_status_name((enum fl_dns_status)i),
                                json_integer((json_int_t)st.status[i]));
        json_object_set_new(d, "status", status);
        json_t *lat = json_array();
        for (int i = 0; i < FL_DNS_LATENCY_BUCKETS; i++) {
            json_t *b = json_object();
            if (i < FL_DNS_LATENCY_BUCKETS - 1)
                json_object_set_new(b, "below_ms", json_integer(fl_dns_latency_bounds[i]));
            json_object_set_new(b, "count", json_integer((json_int_t)st.latency[i]));
            json_array_append_new(lat, b);
        }
        json_object_set_new(d, "latency", lat);
        json_object_set_new(o, "dns", d);
    }
    struct fl_dnsbl_lists *lists = fl_server_dnsbl_lists();
    json_t *arr = json_array();
    if (lists != NULL) {
        struct fl_dnsbl_list_stats ls[128];
        size_t n = fl_dnsbl_stats(lists, ls, 128);
        for (size_t i = 0; i < n && i < 128; i++) {
            json_t *l = json_object();
            json_object_set_new(l, "zone", json_string(ls[i].zone));
            json_object_set_new(l, "domain_list", json_boolean(ls[i].domain_list));
            json_object_set_new(l, "disabled", json_boolean(ls[i].disabled));
            json_object_set_new(l, "queries", json_integer((json_int_t)ls[i].queries));
            json_object_set_new(l, "listed", json_integer((json_int_t)ls[i].listed));
            json_object_set_new(l, "not_listed", json_integer((json_int_t)ls[i].not_listed));
            json_object_set_new(l, "error_codes", json_integer((json_int_t)ls[i].error_codes));
            json_object_set_new(l, "timeouts", json_integer((json_int_t)ls[i].timeouts));
            json_object_set_new(l, "failures", json_integer((json_int_t)ls[i].failures));
            json_array_append_new(arr, l);
        }
    }
    fl_dnsbl_lists_unref(&lists);
    json_object_set_new(o, "dnsbl", arr);
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", cfg->stats_file);
    if (json_dump_file(o, tmp, JSON_COMPACT) != 0 || rename(tmp, cfg->stats_file) != 0) {
        if (!warned)
            fl_warn("stats_file %s: cannot write it: %s", cfg->stats_file, strerror(errno));
        warned = true;
        unlink(tmp);
    }
    json_decref(o);
}

long long fl_server_periodic(void)
{
    static long long next_sweep, next_probe, next_stats;
    struct fl_config *cfg = fl_server_config();
    long long now = fl_monotonic_ms(), wait = -1;
    if (*cfg->stats_file) {
        if (now >= next_stats) {
            write_stats(cfg);
            next_stats = now + cfg->stats_interval;
        }
        wait = next_stats - now;
    }
    if (fl_srv.greylist != NULL) {
        if (now >= next_sweep) {
            size_t removed = 0;
            struct fl_buf err;
            fl_buf_init(&err);
            if (fl_greylist_sweep(fl_srv.greylist, &removed, &err) < 0)
                fl_error("greylist sweep: %s", err.data);
            else if (removed > 0)
                fl_info("greylist sweep: removed %zu expired entries", removed);
            fl_buf_free(&err);
            next_sweep = now + cfg->greylist_sweep_interval;
        }
        long long w = next_sweep - now;
        wait = wait < 0 || w < wait ? w : wait;
    }
    if (cfg->dnsbl_probe_interval > 0 && fl_srv.dns != NULL) {
        if (now >= next_probe) {
            struct fl_dnsbl_lists *lists = fl_server_dnsbl_lists();
            struct fl_dnsbl_list_health health[64];
            if (lists != NULL)
                fl_dnsbl_probe_lists(lists, fl_srv.dns, now + cfg->dns_timeout, health, 64);
            fl_dnsbl_lists_unref(&lists);
            next_probe = now + cfg->dnsbl_probe_interval;
        }
        long long w = next_probe - now;
        wait = wait < 0 || w < wait ? w : wait;
    }
    fl_config_unref(&cfg);
    return wait;
}
